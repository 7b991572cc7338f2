//! `run`: the whole hunt, from paths to detections, file reports and scope.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use vigie_detect::{
    CorrelationMatch, Engine, LoadOptions, LoadReport, Match, MatchedField, RuleSet,
};
use vigie_event::{Event, Locator, Origin, Timestamp};
use vigie_lang::{Lang, Zone};
use vigie_scope::{Assets, Observer, Scope};
use vigie_source::{Batch, FileReport, InputError, ReadOptions};

use crate::evidence::{accounts, key_fields, EventDetail};
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
    /// Keep the event behind each detection ([`Detection::event`]): its
    /// fields as JSON and its key columns, for the timeline and the
    /// report. Off when only the terminal summary is wanted.
    pub event_details: bool,
    /// The language of what the scope says (its answer and reasons).
    pub lang: Lang,
    /// Indicator sources (`--ioc`: files, directories, `http(s)://`
    /// URLs), matched on every event beside the rules.
    pub ioc: Vec<String>,
    /// The zone of the times in what the scope says (`--timezone`), so
    /// that its answer gives the start time the terminal and the report
    /// give; its timestamps stay UTC.
    pub zone: Zone,
}

impl Default for HuntConfig {
    /// Nothing to read, no rules (parse only), default reading, scope and
    /// event details on, English.
    fn default() -> Self {
        HuntConfig {
            inputs: Vec::new(),
            rules: Vec::new(),
            load: LoadOptions::default(),
            read: ReadOptions::default(),
            scope: true,
            assets: None,
            event_details: true,
            lang: Lang::En,
            ioc: Vec::new(),
            zone: Zone::Utc,
        }
    }
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
    #[error("{0}")]
    NoRules(String),
    /// A `--rules` path that does not exist or holds no Sigma rule.
    #[error("--rules {0}")]
    RulePath(vigie_detect::RulePathError),
    /// Files were found but not one event could be read from them: never
    /// an "all clear".
    #[error("no event could be read: {0}")]
    NothingRead(String),
    /// `reason` names the file already (and the place in it).
    #[error("{reason}")]
    Assets { path: PathBuf, reason: String },
    /// An `--ioc` source that cannot be read at all.
    #[error(transparent)]
    Indicators(#[from] crate::indicators::IndicatorsError),
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
    /// The indicators matched (`--ioc`), when some were given.
    pub indicators: Option<crate::indicators::IndicatorsReport>,
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

/// What of the inputs was not read whole (exit codes 3 and 4: never an
/// "all clear" over evidence that was only partly read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadProblems {
    /// Records known to exist that could not be read.
    pub records_skipped: u64,
    /// Damaged parts and read errors in files of a log format.
    pub errors: usize,
    /// Non-empty files that were not read: no log format recognised, or
    /// unreadable (the reason is among their errors).
    pub not_logs: usize,
    /// Paths that could not be opened or walked.
    pub input_errors: usize,
}

impl ReadProblems {
    /// Whether anything was not read.
    pub fn any(&self) -> bool {
        self.records_skipped > 0 || self.errors > 0 || self.not_logs > 0 || self.input_errors > 0
    }
}

impl HuntOutcome {
    /// What was not read whole.
    pub fn read_problems(&self) -> ReadProblems {
        ReadProblems::of(&self.files, &self.input_errors)
    }
}

impl ReadProblems {
    /// What of `files` and the given paths was not read whole. Empty
    /// files count as read: there was nothing to lose.
    pub fn of(files: &[FileReport], input_errors: &[InputError]) -> ReadProblems {
        let mut p = ReadProblems {
            input_errors: input_errors.iter().filter(|e| e.loses_evidence()).count(),
            ..Default::default()
        };
        for f in files {
            p.records_skipped += f.records_skipped;
            if f.format.is_some() {
                p.errors += f.errors.len();
            } else if f.size > 0 || f.errors.iter().any(|e| e.message.starts_with("cannot")) {
                // Not empty, or not readable at all ("cannot open/read").
                p.not_logs += 1;
            }
        }
        p
    }
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

/// The rules of `config`, loaded and compiled as `hunt` compiles them,
/// with the load report: for the other driver of the same stages
/// (`vigie serve`), so that both judge events with one engine.
pub fn compile_engine(config: &HuntConfig) -> Result<(Option<Engine>, LoadReport), HuntError> {
    let c = compile_rules(config)?;
    Ok((c.engine, c.report))
}

/// [`compile_engine`], with the SigmaHQ snapshot the rules came from (the
/// console's page of the rules in force says which).
pub fn compile_engine_with_snapshot(
    config: &HuntConfig,
) -> Result<
    (
        Option<Engine>,
        LoadReport,
        Option<vigie_rules::sigmahq::SnapshotStatus>,
    ),
    HuntError,
> {
    let c = compile_rules(config)?;
    Ok((c.engine, c.report, c.sigmahq))
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
        return Err(HuntError::NoRules(no_rules_reason(config, &report)));
    }
    Ok(Compiled {
        digest: engine.digest(),
        engine: Some(engine),
        report,
        compiled,
        sigmahq,
    })
}

/// Why there is nothing to read: the paths given, or why they could not
/// be opened (escaped and bounded: they may carry anything).
pub(crate) fn no_input(inputs: &[PathBuf], input_errors: &[InputError]) -> String {
    if input_errors.is_empty() {
        format!(
            "no file found under {}",
            inputs
                .iter()
                .map(|p| crate::safe::escape(&p.display().to_string()).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        input_errors
            .iter()
            .map(|e| crate::safe::bounded(&e.to_string(), 300))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Why no rule is left to match, in words that name the cause.
fn no_rules_reason(config: &HuntConfig, report: &LoadReport) -> String {
    let mut why = format!("no rule could be loaded from {} rule file(s)", report.files);
    if report.deselected > 0 {
        let mut by = Vec::new();
        if let Some(l) = config.load.min_level {
            by.push(format!("--min-level {}", crate::timeline::level_name(l)));
        }
        if let Some(st) = &config.load.statuses {
            by.push(format!("--status {}", st.join(",")));
        }
        why.push_str(&format!(
            ": {} left out by {}",
            report.deselected,
            by.join(" and ")
        ));
    }
    if !report.failures.is_empty() {
        why.push_str(&format!(
            "; {} not loaded (`vigie rules check` lists each with its reason)",
            report.failures.len()
        ));
    }
    why
}

/// What one correlated event brings: its time, host and accounts (to name
/// the events behind a correlation), and its matches.
struct CorrItem {
    time: Timestamp,
    computer: Option<Box<str>>,
    accounts: Vec<Box<str>>,
    matches: Vec<Match>,
}

/// Matches produced by one batch, kept in read order for determinism.
struct BatchOut {
    file: usize,
    seq: u64,
    detections: Vec<Detection>,
    /// Events for the correlator; only filled when the rule set has
    /// correlation rules.
    for_correlation: Vec<CorrItem>,
    events: u64,
}

/// Reads and compiles the indicators on a pool of threads of its own (as
/// many as the readers'), so that neither its work nor its heap is the
/// readers' (see [`run`]).
fn load_indicators(
    sources: &[String],
) -> Result<
    Option<(
        Arc<vigie_intel::Matcher>,
        crate::indicators::IndicatorsReport,
    )>,
    crate::indicators::IndicatorsError,
> {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("vigie-ioc-{i}"))
        .build()
    {
        Ok(pool) => pool.install(|| crate::indicators::load(sources)),
        Err(_) => crate::indicators::load(sources),
    }
}

/// Runs the hunt.
pub fn run(config: &HuntConfig, progress: &dyn Progress) -> Result<HuntOutcome, HuntError> {
    // Loading and compiling the rules (~0.5 s for SigmaHQ's 3,000) and
    // walking and sizing the inputs (8,000 files: tens of milliseconds of
    // system calls) do not depend on each other: they run side by side.
    //
    // Indicators (100,000 of them: ~0.25 s of CPU) load beside the rules,
    // not after them, and on threads of their own rather than the pool
    // that reads the events: what they allocate and free then stays in
    // those threads' heaps (glibc gives each thread an arena), instead of
    // leaving the readers' heaps fragmented for the whole pass (measured:
    // the event pass's allocator cost grew by about as much as the import
    // itself when it ran on the readers' threads).
    let (rules_phase, (inputs, input_errors, sizes)) = rayon::join(
        || {
            let started = Instant::now();
            let (compiled, indicators) = std::thread::scope(|scope| {
                let loading = (!config.ioc.is_empty()).then(|| {
                    std::thread::Builder::new()
                        .name("vigie-ioc".into())
                        .spawn_scoped(scope, || load_indicators(&config.ioc))
                });
                let compiled = compile_rules(config);
                let indicators = match loading {
                    None => Ok(None),
                    Some(Ok(thread)) => thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    // No thread to be had: read here, after the rules.
                    Some(Err(_)) => crate::indicators::load(&config.ioc),
                };
                (compiled, indicators)
            });
            (compiled, indicators, started.elapsed())
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
        let why = no_input(&config.inputs, &input_errors);
        return Err(HuntError::NoInput(why));
    }

    let assets = match &config.assets {
        Some(p) => Arc::new(Assets::load(p).map_err(|e| HuntError::Assets {
            path: p.clone(),
            reason: e.to_string(),
        })?),
        None => Arc::new(Assets::default()),
    };

    let (compiled, indicators, rules_time) = rules_phase;
    let (matcher, indicators) = indicators?.unzip();
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
                Detectors {
                    engine: engine.as_ref(),
                    indicators: matcher.as_deref(),
                },
                correlating,
                config,
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
            // An archive gives one report per member (vigie_source::archive).
            let reports = vigie_source::read_input(path, &config.read, &on_batch);
            progress.file_done(sizes[file]);
            reports
        })
        .flatten_iter()
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

    if events == 0 {
        return Err(HuntError::NothingRead(nothing_read(&files, &input_errors)));
    }

    let mut detections: Vec<Detection> = Vec::new();
    let mut for_correlation: Vec<CorrItem> = Vec::new();
    for o in outs {
        detections.extend(o.detections);
        for_correlation.extend(o.for_correlation);
    }

    let correlations = match &engine {
        Some(engine) => {
            let (fired, items) = correlate(engine, for_correlation);
            detections.extend(correlation_detections(
                engine,
                &fired,
                &items,
                config.event_details,
            ));
            fired
        }
        None => Vec::new(),
    };

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
                merged.finish_in(&correlations, config.lang, config.zone)
            })
        },
    );

    // 100,000 indicators take tens of milliseconds to free, for nothing
    // at the end of a hunt: freed beside what follows (the outputs), on a
    // thread the process does not wait for.
    if let Some(m) = matcher {
        std::thread::spawn(move || drop(m));
    }
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
        indicators,
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

/// What was tried when nothing could be read: each file's fate, a few
/// named (their reasons quoted short), and the paths that could not be
/// opened.
fn nothing_read(files: &[FileReport], input_errors: &[InputError]) -> String {
    const SHOWN: usize = 5;
    let mut parts = Vec::new();
    let recognised = files.iter().filter(|f| f.format.is_some()).count();
    parts.push(format!(
        "{} file(s) tried, {} in a log format but holding no readable event",
        files.len(),
        recognised
    ));
    for f in files.iter().take(SHOWN) {
        let why = match (&f.format, f.errors.first()) {
            (_, Some(e)) => crate::safe::bounded(&e.to_string(), 160),
            (Some(fmt), None) => format!("{fmt}, no event"),
            (None, None) => "not read".to_string(),
        };
        parts.push(format!(
            "{}: {}",
            crate::safe::escape(&f.path.display().to_string()),
            why
        ));
    }
    if files.len() > SHOWN {
        parts.push(format!("… and {} more file(s)", files.len() - SHOWN));
    }
    for e in input_errors.iter().take(SHOWN) {
        parts.push(crate::safe::escape(&e.to_string()).into_owned());
    }
    parts.join("; ")
}

/// What judges each event: the compiled rules and the indicators.
#[derive(Clone, Copy)]
pub struct Detectors<'a> {
    pub engine: Option<&'a Engine>,
    pub indicators: Option<&'a vigie_intel::Matcher>,
}

impl Detectors<'_> {
    /// Appends the rules' matches, then the indicators' (in the same
    /// pass over the event); returns where the indicators' begin.
    pub fn evaluate(&self, event: &Event, matches: &mut Vec<Match>) -> usize {
        if let Some(engine) = self.engine {
            engine.evaluate(event, matches);
        }
        let from_rules = matches.len();
        if let Some(indicators) = self.indicators {
            indicators.evaluate(event, matches);
        }
        from_rules
    }
}

/// Matches one batch on the current thread, and feeds the scope observer
/// of this thread.
fn process_batch(
    file: usize,
    batch: Batch,
    detectors: Detectors<'_>,
    correlating: bool,
    config: &HuntConfig,
    observers: &[Mutex<Option<Observer>>],
    assets: &Arc<Assets>,
) -> BatchOut {
    let scope = config.scope;
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
        let from_rules = detectors.evaluate(event, &mut matches);
        if let Some(guard) = observer.as_mut() {
            guard
                .get_or_insert_with(|| Observer::new(assets.clone()))
                .observe(event, &matches);
        }
        if matches.is_empty() {
            continue;
        }
        // The event is kept, serialised once and shared, only when a rule
        // reports it.
        let detail = (config.event_details && matches.iter().any(|m| m.generate))
            .then(|| Arc::new(EventDetail::of(event)));
        for (i, m) in matches.iter().enumerate() {
            if m.generate {
                let mut d = event_detection(event, m, detail.clone());
                if i >= from_rules {
                    d.kind = DetectionKind::Ioc;
                }
                out.detections.push(d);
            }
        }
        // Every match of a timed event goes to the correlator (it keeps
        // those of the rules a correlation references, which cannot be
        // told from the match alone: a rule counted by a correlation
        // without group-by carries no correlation values), stripped of
        // what it does not read: the matched-field explanations.
        if let (true, Some(t)) = (correlating, event.timestamp) {
            let slim = for_correlator(&matches);
            let names = match &detail {
                Some(d) => accounts(&d.keys),
                None => accounts(&key_fields(event)),
            };
            out.for_correlation.push(CorrItem {
                time: t,
                computer: event.computer.clone(),
                accounts: names,
                matches: slim,
            });
        }
    }
    out
}

/// An event's matches as the correlator reads them: every match (it keeps
/// those of the rules a correlation references, which cannot be told
/// from the match alone), stripped of the matched-field explanations.
/// `serve` keeps the same for its live scope.
pub fn for_correlator(matches: &[Match]) -> Vec<Match> {
    matches
        .iter()
        .map(|m| Match {
            rule: m.rule.clone(),
            matched: Vec::new(),
            correlation_values: m.correlation_values.clone(),
            generate: m.generate,
        })
        .collect()
}

fn event_detection(event: &Event, m: &Match, detail: Option<Arc<EventDetail>>) -> Detection {
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
        event: detail,
    }
}

/// Feeds the correlator in time order (stable for equal times: read
/// order); gives back what fired and the events in time order.
fn correlate(engine: &Engine, mut items: Vec<CorrItem>) -> (Vec<CorrelationMatch>, Vec<CorrItem>) {
    items.sort_by_key(|i| i.time);
    let mut correlator = engine.correlator();
    let mut fired = Vec::new();
    for i in &items {
        fired.extend(correlator.observe(i.time, &i.matches));
    }
    fired.extend(correlator.finish());
    (fired, items)
}

/// The timeline rows of fired correlations, each naming the hosts and
/// accounts of the events it counted: the events in its window that
/// matched a rule it counts, with its group-by values (and, for a chain,
/// the correlations it counts).
fn correlation_detections(
    engine: &Engine,
    fired: &[CorrelationMatch],
    items: &[CorrItem],
    details: bool,
) -> Vec<Detection> {
    let correlator = engine.correlator();
    let mut named: Vec<(Vec<String>, Vec<String>)> = Vec::with_capacity(fired.len());
    let mut out = Vec::with_capacity(fired.len());
    for (i, c) in fired.iter().enumerate() {
        let mut hosts: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let from = items.partition_point(|x| x.time < c.first);
        for item in items[from..].iter().take_while(|x| x.time <= c.last) {
            let counted = item.matches.iter().any(|m| {
                correlator.feeds(&m.rule, &c.rule)
                    && c.group.iter().all(|(_, v)| {
                        m.correlation_values
                            .iter()
                            .any(|(_, cv)| cv.to_text().eq_ignore_ascii_case(v))
                    })
            });
            if counted {
                hosts.extend(item.computer.as_deref().map(str::to_string));
                names.extend(item.accounts.iter().map(|a| a.to_string()));
            }
        }
        for (j, inner) in fired[..i].iter().enumerate() {
            if inner.last >= c.first
                && inner.last <= c.last
                && correlator.feeds(&inner.rule, &c.rule)
            {
                hosts.extend(named[j].0.iter().cloned());
                names.extend(named[j].1.iter().cloned());
            }
        }
        hosts.sort_by_key(|h| h.to_ascii_lowercase());
        hosts.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        // One entry per account: `CORP\alice` and `alice` are one.
        let bare = |a: &str| a.rsplit('\\').next().unwrap_or(a).to_ascii_lowercase();
        names.sort_by_key(|a| (bare(a), !a.contains('\\')));
        names.dedup_by(|a, b| bare(a) == bare(b));
        out.push(correlation_detection(c, &hosts, &names, details));
        named.push((hosts, names));
    }
    out
}

fn correlation_detection(
    c: &CorrelationMatch,
    hosts: &[String],
    names: &[String],
    details: bool,
) -> Detection {
    // The hosts of its events; failing those, a host it groups by.
    let computer = if hosts.is_empty() {
        c.group
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Computer") || k.eq_ignore_ascii_case("devname"))
            .map(|(_, v)| v.clone().into_boxed_str())
    } else {
        Some(hosts.join(", ").into_boxed_str())
    };
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
    let event = details.then(|| {
        Arc::new(crate::timeline::correlation_detail(
            &c.group, c.value, c.first, c.last, hosts, names,
        ))
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
        event,
    }
}
