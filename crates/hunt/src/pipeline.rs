//! `run`: the whole hunt, from paths to detections, file reports and scope.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use vigie_detect::{
    CorrelationMatch, Engine, LoadOptions, LoadReport, Match, MatchedField, RuleSet,
};
use vigie_event::{Event, Locator, Origin, Timestamp};
use vigie_scope::{Assets, Observer, Scope};
use vigie_source::{Batch, FileReport, InputError, ReadOptions};

use crate::timeline::{Detection, DetectionKind};

/// Where rules come from.
#[derive(Debug, Clone)]
pub enum RuleSource {
    /// Vigie's built-in pack (used by default).
    Builtin,
    /// The vetted SigmaHQ snapshot, embedded or installed by `vigie rules
    /// update` (used by default; `--no-sigmahq` leaves it out).
    SigmaHq,
    /// A rule file or directory (`--rules PATH`).
    Path(PathBuf),
}

/// Everything `vigie hunt` was asked to do.
#[derive(Debug, Clone)]
pub struct HuntConfig {
    /// Files and directories to read (recursively).
    pub inputs: Vec<PathBuf>,
    /// Rule sources, in order. Empty means parse only (`--no-rules`).
    pub rules: Vec<RuleSource>,
    /// Rule selection (`--min-level`, `--status`).
    pub load: LoadOptions,
    /// Reading options (syslog year, batch size, ...).
    pub read: ReadOptions,
    /// Compute the scope (entities, incidents, coverage).
    pub scope: bool,
    /// The organisation's assets file, if any.
    pub assets: Option<PathBuf>,
    /// Language of the scope's sentences (answers, reasons, evidence).
    pub lang: vigie_lang::Lang,
}

/// What the scope's verdict must know of the run: which rules ran, and
/// which input was not (fully) read.
fn run_info(
    config: &HuntConfig,
    rules_compiled: usize,
    files: &[FileReport],
    input_errors: &[InputError],
) -> vigie_scope::RunInfo {
    let logs = files.iter().filter(|f| f.format.is_some());
    vigie_scope::RunInfo {
        rules: Some(rules_compiled as u64),
        rule_sets: config
            .rules
            .iter()
            .map(|r| match r {
                RuleSource::Builtin => "Vigie pack".to_string(),
                RuleSource::SigmaHq => "SigmaHQ snapshot".to_string(),
                RuleSource::Path(p) => p.display().to_string(),
            })
            .collect(),
        files: Some(logs.clone().count() as u64),
        files_not_fully_read: Some(
            (logs
                .clone()
                .filter(|f| !f.errors.is_empty() || f.records_skipped > 0)
                .count()
                + input_errors.len()) as u64,
        ),
        records_skipped: Some(logs.map(|f| f.records_skipped).sum()),
    }
}

/// Progress reporting, called from worker threads.
pub trait Progress: Sync {
    /// Before reading: how many files and bytes there are.
    fn start(&self, _files: usize, _bytes: u64) {}
    /// One file is fully read.
    fn file_done(&self, _bytes: u64) {}
    /// All reading is done; what follows (correlation, scope) is quick.
    fn finish(&self) {}
}

/// No progress output (scripts, tests, non-TTY).
pub struct Quiet;
impl Progress for Quiet {}

/// A failure that stops the hunt before it starts.
#[derive(Debug, thiserror::Error)]
pub enum HuntError {
    #[error("no input to read: {0}")]
    NoInput(String),
    #[error("no rule could be loaded ({0} failed); see the rules report")]
    NoRules(usize),
    /// A `--rules` path that does not exist or holds no Sigma rule.
    #[error("--rules {0}")]
    RulePath(vigie_detect::RulePathError),
    #[error("assets file {path}: {reason}")]
    Assets { path: PathBuf, reason: String },
}

/// What a hunt found and read.
pub struct HuntOutcome {
    /// Detections and correlations in timeline order.
    pub detections: Vec<Detection>,
    /// One report per input file, in input order.
    pub files: Vec<FileReport>,
    /// Paths that could not be opened or walked.
    pub input_errors: Vec<InputError>,
    /// The rules report (loaded counts, every rule not loaded and why);
    /// compile failures are merged into its `failures`.
    pub rules: LoadReport,
    /// Number of rules compiled into the engine.
    pub rules_compiled: usize,
    /// The compiled engine (`None` when parsing only). Handed back rather
    /// than dropped inside [`run`]: freeing its automata and rule tables
    /// costs ~0.07 s of CPU on 3,000 rules, which a process about to exit
    /// can skip.
    pub engine: Option<Engine>,
    /// Digest of the compiled rule set (empty when no rules).
    pub rule_digest: String,
    /// The SigmaHQ snapshot used (or why none was), when the run asked
    /// for it.
    pub sigmahq: Option<vigie_rules::sigmahq::SnapshotStatus>,
    /// Events read across all files.
    pub events: u64,
    /// Time span of the events read.
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// The scope, when asked for.
    pub scope: Option<Scope>,
    /// The organisation's assets (empty when no assets file was given).
    pub assets: Arc<Assets>,
    /// Wall time of rule loading and compiling, of the reading + matching
    /// phase, and of correlation + scope.
    pub rules_time: Duration,
    pub read_time: Duration,
    pub post_time: Duration,
}

/// Loads the rules of `config`, reporting every failure. The paths are
/// read together, so a file reached through several of them is read
/// once; a path that does not exist or holds no Sigma rule is an error.
pub fn load_rules(
    config: &HuntConfig,
) -> Result<(RuleSet, LoadReport), vigie_detect::RulePathError> {
    load_rules_with_snapshot(config).map(|(set, report, _)| (set, report))
}

/// [`load_rules`], with the status of the SigmaHQ snapshot when the
/// configuration asks for it. The `--rules` paths are read together, so a
/// file reached through several of them is read once; a path that does
/// not exist or holds no Sigma rule is an error. A rule given with
/// `--rules` that is also in the snapshot is loaded once, from `--rules`.
pub fn load_rules_with_snapshot(
    config: &HuntConfig,
) -> Result<
    (
        RuleSet,
        LoadReport,
        Option<vigie_rules::sigmahq::SnapshotStatus>,
    ),
    vigie_detect::RulePathError,
> {
    let mut set = RuleSet::default();
    let mut report = LoadReport::default();
    if config
        .rules
        .iter()
        .any(|s| matches!(s, RuleSource::Builtin))
    {
        let (s, r) = vigie_rules::builtin_rule_set(&config.load);
        set.extend(s);
        report.merge(r);
    }
    let paths: Vec<&PathBuf> = config
        .rules
        .iter()
        .filter_map(|s| match s {
            RuleSource::Path(p) => Some(p),
            RuleSource::Builtin | RuleSource::SigmaHq => None,
        })
        .collect();
    // Read before the snapshot: their ids are taken out of it.
    let given = if paths.is_empty() {
        None
    } else {
        Some(vigie_detect::load_rule_paths(&paths, &config.load)?)
    };
    let mut snapshot = None;
    if config
        .rules
        .iter()
        .any(|s| matches!(s, RuleSource::SigmaHq))
    {
        let ids: std::collections::HashSet<String> = given
            .iter()
            .flat_map(|(s, _)| s.metas())
            .filter_map(|m| m.id.map(|id| id.to_ascii_lowercase()))
            .collect();
        let installed = vigie_rules::sigmahq::installed_dir();
        let (s, r, status) =
            vigie_rules::sigmahq::rule_set(&config.load, installed.as_deref(), &ids);
        set.extend(s);
        report.merge(r);
        snapshot = Some(status);
    }
    if let Some((s, r)) = given {
        set.extend(s);
        report.merge(r);
    }
    Ok((set, report, snapshot))
}

/// The rules phase's result.
struct Compiled {
    engine: Option<Engine>,
    report: LoadReport,
    compiled: usize,
    digest: String,
    sigmahq: Option<vigie_rules::sigmahq::SnapshotStatus>,
}

/// Loads and compiles the rules (nothing when parsing only); compile
/// failures are merged into the report.
fn compile_rules(config: &HuntConfig) -> Result<Compiled, HuntError> {
    if config.rules.is_empty() {
        return Ok(Compiled {
            engine: None,
            report: LoadReport::default(),
            compiled: 0,
            digest: String::new(),
            sigmahq: None,
        });
    }
    let (set, mut report, sigmahq) =
        load_rules_with_snapshot(config).map_err(HuntError::RulePath)?;
    let (engine, failures) = Engine::compile_with(set, &config.load.engine_config());
    report.failures.extend(failures);
    let compiled = engine.rules().len();
    if compiled == 0 {
        return Err(HuntError::NoRules(report.failures.len()));
    }
    Ok(Compiled {
        digest: engine.digest(),
        engine: Some(engine),
        report,
        compiled,
        sigmahq,
    })
}

/// Matches produced by one batch, kept in read order for determinism.
struct BatchOut {
    file: usize,
    seq: u64,
    detections: Vec<Detection>,
    /// (event time, matches of that event) for the correlator; only
    /// filled when the rule set has correlation rules.
    for_correlation: Vec<(Timestamp, Vec<Match>)>,
    events: u64,
}

/// Runs the hunt.
pub fn run(config: &HuntConfig, progress: &dyn Progress) -> Result<HuntOutcome, HuntError> {
    // Loading and compiling the rules (~0.5 s for SigmaHQ's 3,000) and
    // walking and sizing the inputs (8,000 files: tens of milliseconds of
    // system calls) do not depend on each other: they run side by side.
    let (rules_phase, (inputs, input_errors, sizes)) = rayon::join(
        || {
            let started = Instant::now();
            let compiled = compile_rules(config);
            (compiled, started.elapsed())
        },
        || {
            let (inputs, input_errors) = vigie_source::collect_inputs(&config.inputs);
            let sizes: Vec<u64> = inputs
                .iter()
                .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
                .collect();
            (inputs, input_errors, sizes)
        },
    );
    if inputs.is_empty() {
        let why = if input_errors.is_empty() {
            "no file found under the given paths".to_string()
        } else {
            input_errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(HuntError::NoInput(why));
    }

    let assets = match &config.assets {
        Some(p) => Arc::new(Assets::load(p).map_err(|e| HuntError::Assets {
            path: p.clone(),
            reason: e.to_string(),
        })?),
        None => Arc::new(Assets::default()),
    };

    let (compiled, rules_time) = rules_phase;
    let Compiled {
        engine,
        report: rules,
        compiled: rules_compiled,
        digest: rule_digest,
        sigmahq,
    } = compiled?;
    // Matches are kept for the correlator only when there is one to feed:
    // a SigmaHQ Windows rule set has no correlation rule.
    let correlating = engine
        .as_ref()
        .is_some_and(|e| e.stats().correlation_rules > 0);
    progress.start(inputs.len(), sizes.iter().sum());

    let started = Instant::now();
    let outs: Mutex<Vec<BatchOut>> = Mutex::new(Vec::new());
    let observers: Vec<Mutex<Option<Observer>>> = (0..=rayon::current_num_threads())
        .map(|_| Mutex::new(None))
        .collect();

    // Batches wait, per thread, until MATCH_GROUP events are ready, then
    // are matched one after the other: see MATCH_GROUP.
    let pending: Vec<Mutex<Pending>> = (0..=rayon::current_num_threads())
        .map(|_| Mutex::new(Pending::default()))
        .collect();
    let match_group = |group: Vec<(usize, Batch)>| {
        for (file, batch) in group {
            let out = process_batch(
                file,
                batch,
                engine.as_ref(),
                correlating,
                config.scope,
                &observers,
                &assets,
            );
            outs.lock().unwrap_or_else(|e| e.into_inner()).push(out);
        }
    };
    let files: Vec<FileReport> = inputs
        .par_iter()
        .enumerate()
        .map(|(file, path)| {
            let on_batch = |batch: Batch| {
                let slot = thread_slot(pending.len());
                let group = {
                    let mut p = pending[slot].lock().unwrap_or_else(|e| e.into_inner());
                    p.events += batch.events.len();
                    p.batches.push((file, batch));
                    (p.events >= MATCH_GROUP).then(|| {
                        p.events = 0;
                        std::mem::take(&mut p.batches)
                    })
                };
                if let Some(group) = group {
                    match_group(group);
                }
            };
            let report = vigie_source::read_file(path, &config.read, &on_batch);
            progress.file_done(sizes[file]);
            report
        })
        .collect();
    pending
        .into_par_iter()
        .map(|p| p.into_inner().unwrap_or_else(|e| e.into_inner()).batches)
        .for_each(match_group);
    progress.finish();
    let read_time = started.elapsed();

    let post_started = Instant::now();
    let mut outs = outs.into_inner().unwrap_or_else(|e| e.into_inner());
    outs.sort_by_key(|o| (o.file, o.seq));
    let events = outs.iter().map(|o| o.events).sum();

    let mut detections: Vec<Detection> = Vec::new();
    let mut for_correlation: Vec<(Timestamp, Vec<Match>)> = Vec::new();
    for o in outs {
        detections.extend(o.detections);
        for_correlation.extend(o.for_correlation);
    }

    let correlations = match &engine {
        Some(engine) => correlate(engine, for_correlation),
        None => Vec::new(),
    };
    detections.extend(correlations.iter().map(correlation_detection));

    // Putting the timeline in order and building the scope do not depend
    // on each other: side by side.
    let ((), scope) = rayon::join(
        || detections.sort_by(|a, b| a.sort_key().cmp(&b.sort_key())),
        || {
            config.scope.then(|| {
                let mut merged = Observer::new(assets.clone());
                for slot in observers {
                    if let Some(o) = slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
                        merged.merge(o);
                    }
                }
                merged.set_run_info(run_info(config, rules_compiled, &files, &input_errors));
                merged.finish(&correlations, config.lang)
            })
        },
    );

    let first = files.iter().filter_map(|f| f.first).min();
    let last = files.iter().filter_map(|f| f.last).max();
    Ok(HuntOutcome {
        detections,
        files,
        input_errors,
        rules,
        rules_compiled,
        engine,
        rule_digest,
        sigmahq,
        events,
        first,
        last,
        scope,
        assets,
        rules_time,
        read_time,
        post_time: post_started.elapsed(),
    })
}

/// Events a thread collects before matching them.
///
/// Why: the engine's tables (literal automata, compiled rules) are
/// several MB; parsing a record evicts them from the caches, so matching
/// each small batch as soon as it is parsed (most EVTX files of a triage
/// hold a few dozen records) paid cache misses for every event. Matching
/// batches in groups keeps the tables warm across a group. Outputs do not
/// depend on it: batches are sorted by (file, sequence) after reading.
const MATCH_GROUP: usize = 512;

/// Batches (with their file index) a thread has read and not matched yet.
#[derive(Default)]
struct Pending {
    batches: Vec<(usize, Batch)>,
    events: usize,
}

/// The slot of the current rayon worker in per-thread tables of `len`
/// entries (the last one for threads outside the pool).
fn thread_slot(len: usize) -> usize {
    rayon::current_thread_index()
        .unwrap_or(len - 1)
        .min(len - 1)
}

/// Matches one batch on the current thread, and feeds the scope observer
/// of this thread.
#[allow(clippy::too_many_arguments)]
fn process_batch(
    file: usize,
    batch: Batch,
    engine: Option<&Engine>,
    correlating: bool,
    scope: bool,
    observers: &[Mutex<Option<Observer>>],
    assets: &Arc<Assets>,
) -> BatchOut {
    let mut out = BatchOut {
        file,
        seq: batch.seq,
        detections: Vec::new(),
        for_correlation: Vec::new(),
        events: batch.events.len() as u64,
    };
    let mut observer = if scope {
        Some(
            observers[thread_slot(observers.len())]
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    } else {
        None
    };
    let mut matches: Vec<Match> = Vec::new();
    for event in &batch.events {
        matches.clear();
        if let Some(engine) = engine {
            engine.evaluate(event, &mut matches);
        }
        if let Some(guard) = observer.as_mut() {
            guard
                .get_or_insert_with(|| Observer::new(assets.clone()))
                .observe(event, &matches);
        }
        if matches.is_empty() {
            continue;
        }
        for m in &matches {
            if m.generate {
                out.detections.push(event_detection(event, m));
            }
        }
        // Every match of a timed event goes to the correlator (it keeps
        // those of the rules a correlation references, which cannot be
        // told from the match alone: a rule counted by a correlation
        // without group-by carries no correlation values), stripped of
        // what it does not read: the matched-field explanations.
        if let (true, Some(t)) = (correlating, event.timestamp) {
            let slim = matches
                .iter()
                .map(|m| Match {
                    rule: m.rule.clone(),
                    matched: Vec::new(),
                    correlation_values: m.correlation_values.clone(),
                    generate: m.generate,
                })
                .collect();
            out.for_correlation.push((t, slim));
        }
    }
    out
}

fn event_detection(event: &Event, m: &Match) -> Detection {
    Detection {
        kind: DetectionKind::Detection,
        time: event.timestamp,
        computer: event.computer.clone(),
        channel: event.channel.clone(),
        event_id: event.event_id,
        record_id: event.record_id,
        rule: m.rule.clone(),
        origin: event.origin.clone(),
        matched: m.matched.clone(),
    }
}

/// Feeds the correlator in time order (stable for equal times: read order).
fn correlate(engine: &Engine, mut items: Vec<(Timestamp, Vec<Match>)>) -> Vec<CorrelationMatch> {
    items.sort_by_key(|(t, _)| *t);
    let mut correlator = engine.correlator();
    let mut fired = Vec::new();
    for (t, matches) in &items {
        fired.extend(correlator.observe(*t, matches));
    }
    fired.extend(correlator.finish());
    fired
}

fn correlation_detection(c: &CorrelationMatch) -> Detection {
    let computer = c
        .group
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Computer") || k.eq_ignore_ascii_case("devname"))
        .map(|(_, v)| v.clone().into_boxed_str());
    let mut matched: Vec<MatchedField> = c
        .group
        .iter()
        .map(|(k, v)| MatchedField {
            selection: "group-by".into(),
            field: Some(k.clone()),
            value: v.clone(),
        })
        .collect();
    matched.push(MatchedField {
        selection: "aggregate".into(),
        field: Some("value".into()),
        value: format!("{}", c.value),
    });
    matched.push(MatchedField {
        selection: "window".into(),
        field: Some("first".into()),
        value: c.first.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    });
    Detection {
        kind: DetectionKind::Correlation,
        time: Some(c.last),
        computer,
        channel: None,
        event_id: None,
        record_id: None,
        rule: c.rule.clone(),
        origin: Origin {
            source: Arc::from(c.rule.path.to_string_lossy().as_ref()),
            locator: Locator::None,
        },
        matched,
    }
}
