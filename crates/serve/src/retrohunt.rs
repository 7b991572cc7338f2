//! Retro-hunt: new or updated rules run over the events already stored,
//! in a time range — the rule written on Monday from a CERT-FR bulletin
//! finds what happened last Thursday.
//!
//! The same stages as live detection: the log read again (a one-off
//! reader, released after), each request's events read by `vigie-source`
//! as the worker reads them, judged by an engine compiled by
//! [`vigie_hunt::compile_engine`] from the rules given. Each run is kept
//! under `retrohunts/<id>/` (the rules as given, the detections, a
//! summary): what was searched, when, and what it found stays on record.
//!
//! Bounded in time and memory ([`Limits`]): a region's year of archive
//! may hold millions of matches and take hours to read. The detections
//! are written to `detections.jsonl` as they are found and only the first
//! [`Limits::max_kept`] are held for the HTTP answer (the rest counted
//! and said); a run stops at its time budget, or when its client goes
//! away, and its summary says so with the position to continue from —
//! a partial answer never passes for a whole one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vigie_store::EventLog;

use crate::worker::{Judging, StoredDetection, TenantOff};

pub mod http;
pub mod reader;
pub mod runs;
pub mod scan;

pub use scan::{Budget, Scanned, Stopped, RECEIPT_MARGIN_SECS};

/// The consumer names of retro-hunts (one process's own readers).
pub const CONSUMER_PREFIX: &str = "retrohunt-";

/// `[retrohunt]` of the configuration file: what bounds a run.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A run's time budget when the request gives none, and the most a
    /// request may ask (seconds; default 600). Why a default this short:
    /// `POST /api/v1/retrohunt` answers when the run ends, and clients
    /// and proxies give up long before an hour; a longer run is asked
    /// with a larger `max_seconds` after raising this, or continued
    /// with `from_position`.
    pub max_seconds: f64,
    /// Detections held for the answer of `POST /api/v1/retrohunt`
    /// (default 10,000): every one is in the run's `detections.jsonl`,
    /// the answer holds the first ones and says how many it left out.
    pub max_kept: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_seconds: 600.0,
            max_kept: 10_000,
        }
    }
}

/// What a retro-hunt is asked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// One or more Sigma rules (YAML documents).
    #[serde(default)]
    pub rules: String,
    /// Or the rule files as the user has them, each with its name (`vigie
    /// retrohunt --rules DIR` sends them so): a refused rule is then named
    /// `FILE#DOCUMENT` as `vigie rules check` names it, not by its place
    /// in a concatenation. Not with `rules`.
    #[serde(default)]
    pub rule_files: Vec<RuleFile>,
    /// Events from this time on (their own time, UTC), if given.
    pub from: Option<DateTime<Utc>>,
    /// Events up to this time, if given.
    pub to: Option<DateTime<Utc>>,
    /// The rules turned off (for every tenant, or by the commune for
    /// itself) judge too. By default they do not: a rule a commune turned
    /// off gives it no retro-hunt detection, as it gives it no live one
    /// — a retro-hunt asked with the rule set in force must not bring
    /// back what the commune decided to silence. An analyst checking
    /// what a switched-off rule would have found says so here.
    #[serde(default)]
    pub include_disabled: bool,
    /// The time budget (seconds, at most [`Limits::max_seconds`], which
    /// is also the default).
    #[serde(default)]
    pub max_seconds: Option<f64>,
    /// Read from this log position on: a stopped run's
    /// `reached_position`, to continue it.
    #[serde(default)]
    pub from_position: Option<u64>,
}

/// One rule file of a [`Request`]: the name the user knows it by (not a
/// path on the server: it only names refusals) and its text.
#[derive(Debug, Clone, Deserialize)]
pub struct RuleFile {
    pub name: String,
    pub text: String,
}

/// A rule that could not be loaded, with its reason.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub rule: String,
    pub reason: String,
}

/// What a retro-hunt did and found (its `summary.json`, written when it
/// starts and again when it ends).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub tenant: String,
    /// `running`, `done` (read to the end), `stopped` (`stopped` says
    /// why) or `failed` (`error` says why).
    pub state: &'static str,
    /// Whether every position it was to read was read: `false` while it
    /// runs and when it stopped early or failed.
    pub complete: bool,
    /// Why it ended early: `budget` (its `max_seconds` spent) or
    /// `cancelled` (its client went away).
    pub stopped: Option<Stopped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub started: String,
    pub seconds: f64,
    /// The time budget it ran under.
    pub max_seconds: f64,
    pub rules_loaded: usize,
    pub rules_refused: Vec<Refused>,
    /// Of the rules given, those whose detections were left out: turned
    /// off for every tenant or by this commune (empty with
    /// `include_disabled`).
    pub rules_switched_off: Vec<String>,
    pub include_disabled: bool,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The position it was asked to start from (a continued run).
    pub from_position: Option<u64>,
    /// Log positions not read: `[0, events_skipped)`, received more than
    /// a day ([`RECEIPT_MARGIN_SECS`]) before `from` (so older than the
    /// range; events without a time among them not judged), or before
    /// `from_position`.
    pub events_skipped: u64,
    /// Log positions read: `[events_skipped, events_read)`.
    pub events_read: u64,
    /// The log's end when it began: what it was to read up to.
    pub events_in_log: u64,
    /// Of the tenant's events, those in the range judged.
    pub events_in_range: u64,
    /// Events without a time: judged whatever the range (a range cannot
    /// leave them out without saying so; they are counted here).
    pub events_without_time: u64,
    /// Positions in `[events_skipped, events_read)` that neither the log
    /// nor its archive held any more (removed by retention before they
    /// were read, or before an archive took them): not judged, said.
    pub events_not_kept: u64,
    /// When stopped: the position to continue from (`from_position` of
    /// the next request; everything before it was read).
    pub reached_position: Option<u64>,
    /// When stopped: when the last event read was received (the log is
    /// in order of receipt).
    pub reached_received: Option<String>,
    /// Detections found, all in `kept_in/detections.jsonl`.
    pub detections: u64,
    /// Of them, those in the answer (the first ones).
    pub detections_kept: usize,
    /// Whether the answer holds fewer than were found.
    pub detections_truncated: bool,
    /// Where the run is kept.
    pub kept_in: PathBuf,
}

/// Why a retro-hunt was not run.
#[derive(Debug, thiserror::Error)]
pub enum RetroError {
    #[error("{0}")]
    Rules(String),
    #[error("{0}")]
    Store(#[from] vigie_store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A rule loader's message in the words of an API caller: the loader
/// speaks to the command line (`--rules PATH`) and names the files the
/// server wrote the request's rules to; the caller sent `rules` or
/// `rule_files` and knows no path of the server.
fn for_the_caller(
    msg: &str,
    dir: &Path,
    names: &std::collections::HashMap<PathBuf, String>,
) -> String {
    let mut m = msg.strip_prefix("--rules ").unwrap_or(msg).to_string();
    for (path, name) in names {
        m = m.replace(&path.display().to_string(), name);
    }
    m = m.replace(&dir.join("rules.yml").display().to_string(), "rules");
    m = m.replace(&dir.join("rules").display().to_string(), "rule_files");
    m.replace(&dir.display().to_string(), "the request")
}

/// A run's id: its start, then a random part.
pub fn new_id(started: DateTime<Utc>) -> String {
    format!(
        "{}-{:08x}",
        started.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u32>()
    )
}

/// `detections.jsonl` written batch by batch (each batch whole before the
/// next is judged), the first `max_kept` held for the answer.
pub struct FileSink {
    file: Option<std::fs::File>,
    path: PathBuf,
    max_kept: usize,
    /// The first detections, for the answer.
    pub kept: Vec<StoredDetection>,
    /// Detections written (shown while the run goes on).
    pub count: Arc<AtomicU64>,
}

impl FileSink {
    pub fn create(dir: &Path, max_kept: usize) -> std::io::Result<FileSink> {
        let path = dir.join("detections.jsonl");
        Ok(FileSink {
            file: Some(std::fs::File::create(&path)?),
            path,
            max_kept,
            kept: Vec::new(),
            count: Arc::default(),
        })
    }

    /// Writes `found` (off the async threads), keeping the first ones.
    pub async fn write(&mut self, found: &[StoredDetection]) -> Result<(), RetroError> {
        if found.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for d in found {
            serde_json::to_writer(&mut lines, d).map_err(std::io::Error::other)?;
            lines.push(b'\n');
        }
        let Some(mut file) = self.file.take() else {
            return Err(std::io::Error::other(format!(
                "{}: an earlier write failed",
                self.path.display()
            ))
            .into());
        };
        let file = tokio::task::spawn_blocking(move || file.write_all(&lines).map(|()| file))
            .await
            .map_err(std::io::Error::other)?
            .map_err(|e| std::io::Error::other(format!("{}: {e}", self.path.display())))?;
        self.file = Some(file);
        self.count.fetch_add(found.len() as u64, Ordering::Release);
        let room = self.max_kept.saturating_sub(self.kept.len());
        self.kept.extend(found.iter().take(room).cloned());
        Ok(())
    }
}

#[async_trait]
impl scan::Sink for FileSink {
    async fn take(
        &mut self,
        found: Vec<StoredDetection>,
        _: Vec<scan::FoundEvent>,
    ) -> Result<(), RetroError> {
        self.write(&found).await
    }
}

/// Where a run reads and what bounds it.
pub struct Setting<'a> {
    pub log: &'a Arc<dyn EventLog>,
    pub data: &'a Path,
    pub read: &'a vigie_source::ReadOptions,
    pub limits: Limits,
    pub runs: &'a runs::Runs,
}

/// Writes a summary whole, then renames it (a reader of the run's state
/// never sees half of one).
pub fn keep_summary(dir: &Path, summary: &impl Serialize) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
    let tmp = dir.join("summary.json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, dir.join("summary.json"))
}

/// Runs `req` over `tenant`'s stored events within `budget` (its
/// deadline is set here from the request; its cancel flag is the
/// caller's). Blocking parts run off the async threads.
pub async fn run(
    at: Setting<'_>,
    tenant: &str,
    req: Request,
    switched_off: &std::collections::HashSet<String>,
    mut budget: Budget,
) -> Result<(Summary, Vec<StoredDetection>), RetroError> {
    let started = Utc::now();
    let clock = Instant::now();
    if !req.rule_files.is_empty() && !req.rules.trim().is_empty() {
        return Err(RetroError::Rules(
            "rules and rule_files: give one of them, not both".into(),
        ));
    }
    let max_seconds = match req.max_seconds {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            return Err(RetroError::Rules(format!(
                "max_seconds {s}: a number of seconds above 0 (at most {})",
                at.limits.max_seconds
            )))
        }
        Some(s) => s.min(at.limits.max_seconds),
        None => at.limits.max_seconds,
    };
    // A budget past what a clock can count is no limit (a run of a
    // century ends first).
    budget.deadline = std::time::Duration::try_from_secs_f64(max_seconds)
        .ok()
        .and_then(|d| clock.checked_add(d));
    let id = new_id(started);
    let dir = at.data.join("retrohunts").join(&id);
    std::fs::create_dir_all(&dir)?;
    // Each rule file kept apart (`rules/NNNN.yml`), so that a refusal
    // names the user's file; plain `rules` text as `rules.yml`.
    let mut names: std::collections::HashMap<std::path::PathBuf, String> =
        std::collections::HashMap::new();
    let mut sources = Vec::new();
    if req.rule_files.is_empty() {
        let rules = dir.join("rules.yml");
        std::fs::write(&rules, req.rules.as_bytes())?;
        sources.push(vigie_hunt::pipeline::RuleSource::Path(rules));
    } else {
        let kept = dir.join("rules");
        std::fs::create_dir_all(&kept)?;
        for (i, f) in req.rule_files.iter().enumerate() {
            let path = kept.join(format!("{i:04}.yml"));
            std::fs::write(&path, f.text.as_bytes())?;
            names.insert(path, f.name.clone());
        }
        // One directory, as `--rules DIR` reads it: a file without a
        // loadable rule is refused beside the others, not fatal.
        sources.push(vigie_hunt::pipeline::RuleSource::Path(kept));
    }
    let hunt = vigie_hunt::HuntConfig {
        rules: sources,
        ..Default::default()
    };
    let (engine, report) = tokio::task::spawn_blocking(move || vigie_hunt::compile_engine(&hunt))
        .await
        .map_err(|e| RetroError::Rules(e.to_string()))?
        .map_err(|e| RetroError::Rules(for_the_caller(&e.to_string(), &dir, &names)))?;
    let refused: Vec<Refused> = report
        .failures
        .iter()
        .map(|f| {
            let what = f.title.clone().or_else(|| f.id.clone());
            // `FILE#DOCUMENT (title)`, as `vigie rules check` says it.
            let rule = match (names.get(&f.path), what) {
                (Some(name), Some(t)) => format!("{name}#{} ({t})", f.document),
                (Some(name), None) => format!("{name}#{}", f.document),
                (None, Some(t)) => t,
                (None, None) => format!("rules#{}", f.document),
            };
            Refused {
                rule,
                reason: for_the_caller(&f.reason, &dir, &names),
            }
        })
        .collect();
    let loaded = engine.as_ref().map_or(0, |e| e.stats().detection_rules);
    if loaded == 0 {
        return Err(RetroError::Rules(match refused.first() {
            Some(r) => format!("no rule could be loaded: {}", r.reason),
            None => "no rule given".into(),
        }));
    }
    // The switches apply to this commune's events as the worker applies
    // them: the rule's matches left out, the rest judged as before.
    let mut off = TenantOff::new();
    let mut left_out: Vec<String> = Vec::new();
    if !req.include_disabled {
        if let Some(e) = &engine {
            left_out = e
                .rules()
                .iter()
                .filter_map(|m| m.id.as_deref().or(m.name.as_deref()))
                .filter(|k| switched_off.contains(*k))
                .map(str::to_string)
                .collect();
        }
        off.insert(tenant.to_string(), left_out.iter().cloned().collect());
    }
    let judging = Arc::new(Judging {
        engine: Arc::new(engine),
        indicators: None,
        read: crate::start::with_memory(at.read),
    });
    let mut sink = FileSink::create(&dir, at.limits.max_kept)?;
    let mut summary = Summary {
        id: id.clone(),
        tenant: tenant.to_string(),
        state: "running",
        complete: false,
        stopped: None,
        error: None,
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        seconds: 0.0,
        max_seconds,
        rules_loaded: loaded,
        rules_refused: refused,
        rules_switched_off: left_out,
        include_disabled: req.include_disabled,
        from: req.from,
        to: req.to,
        from_position: req.from_position,
        events_skipped: 0,
        events_read: 0,
        events_in_log: 0,
        events_in_range: 0,
        events_without_time: 0,
        events_not_kept: 0,
        reached_position: None,
        reached_received: None,
        detections: 0,
        detections_kept: 0,
        detections_truncated: false,
        kept_in: dir.clone(),
    };
    keep_summary(&dir, &summary)?;
    let _live = at.runs.start(
        &id,
        Some(tenant),
        runs::Live {
            read: budget.read.clone(),
            detections: sink.count.clone(),
            cancel: budget.cancel.clone(),
            started: clock,
        },
    );
    let scope = scan::Scope {
        tenant: Some(tenant),
        from: req.from,
        to: req.to,
        from_position: req.from_position,
        keep_events: false,
    };
    let scanned = scan::scan(at.log, judging, &off, &scope, &budget, &mut sink).await;
    summary.seconds = clock.elapsed().as_secs_f64();
    summary.detections = sink.count.load(Ordering::Acquire);
    let scanned = match scanned {
        Ok(s) => s,
        Err(e) => {
            // Said on record too: what was found up to the failure is in
            // the file, and the summary says it is not the whole.
            summary.state = "failed";
            summary.error = Some(e.to_string());
            summary.events_read = budget.read.load(Ordering::Acquire);
            let _ = keep_summary(&dir, &summary);
            return Err(e);
        }
    };
    summary.state = if scanned.stopped.is_some() {
        "stopped"
    } else {
        "done"
    };
    summary.complete = scanned.stopped.is_none();
    summary.stopped = scanned.stopped;
    summary.events_skipped = scanned.skipped;
    summary.events_read = scanned.read_upto;
    summary.events_in_log = scanned.end;
    summary.events_in_range = scanned.in_range;
    summary.events_without_time = scanned.untimed;
    summary.events_not_kept = scanned.not_kept;
    if scanned.stopped.is_some() {
        summary.reached_position = Some(scanned.read_upto);
        summary.reached_received = scanned
            .last_received
            .and_then(DateTime::<Utc>::from_timestamp_micros)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    }
    let kept = std::mem::take(&mut sink.kept);
    summary.detections_kept = kept.len();
    summary.detections_truncated = (kept.len() as u64) < summary.detections;
    drop(sink);
    keep_summary(&dir, &summary)?;
    Ok((summary, kept))
}
