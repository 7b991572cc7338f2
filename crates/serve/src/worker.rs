//! The detection worker: the log's events through the same stages as
//! `hunt` (read by `vigie-source`, judged by the engine `hunt` compiles),
//! detections made durable, then the log position committed.
//!
//! Why this order: a worker killed between the two gets the same events
//! again, and writes the same detections under the same deterministic ids
//! ([`vigie_store::ids`]), which [`Detections`] keeps once.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use vigie_detect::Match;
use vigie_hunt::Detectors;

pub use crate::mask::{mask, TenantOff};
use vigie_store::ids::{detection_id, EventIdentity};
use vigie_store::{Delivery, DetectionDoc, DetectionStore, EventLog, Position, StoreError};

use crate::health::Health;
use crate::index::EventIndex;
use crate::live::LiveScope;

/// The consumer name of the detection worker in the log.
pub const CONSUMER: &str = "detect";

/// One detection, as stored and served.
#[derive(Debug, Clone, Serialize)]
pub struct StoredDetection {
    pub id: String,
    /// `detection` (a rule), `ioc` (an indicator of `--ioc`) or
    /// `correlation` (a correlation rule over several events), as in
    /// `hunt`'s timeline.
    pub kind: &'static str,
    pub tenant: String,
    pub rule_id: String,
    pub rule_title: String,
    pub level: serde_json::Value,
    pub tags: Vec<String>,
    pub time: Option<String>,
    pub computer: Option<String>,
    pub channel: Option<String>,
    pub event_id: Option<u32>,
    pub record_id: Option<u64>,
    /// The source that sent the event, and its place in the log (none
    /// for a correlation, which stands for several events).
    pub source: String,
    pub position: Option<u64>,
    /// When the event was received (durable) and when it was judged
    /// (UTC, µs): the delay from receipt to detection, per detection.
    pub received: Option<String>,
    pub detected: String,
    /// The event as it arrived.
    pub event: serde_json::Value,
    /// Why it matched: each selection's field and the value that matched
    /// (the console shows them beside the raw event).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<vigie_detect::MatchedField>,
    /// `time` is a local time without its zone read as UTC (nothing gave
    /// its offset: see [`vigie_event::Event::time_uncertain`]); it may be
    /// hours off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub time_uncertain: bool,
    /// Found by a retro-hunt (its id) over events stored before the
    /// indicators arrived, not as the event came in: `time` is still the
    /// event's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrohunt: Option<String>,
}

/// The detections, kept in `detections.jsonl` (appended and synced),
/// each id once.
pub struct Detections {
    path: PathBuf,
    file: Mutex<File>,
    ids: Mutex<HashSet<String>>,
    count: AtomicU64,
    by_tenant: Mutex<std::collections::HashMap<String, u64>>,
}

impl Detections {
    pub fn open(data: &Path) -> std::io::Result<Detections> {
        let path = data.join("detections.jsonl");
        let mut ids = HashSet::new();
        let mut by_tenant: std::collections::HashMap<String, u64> = Default::default();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.lines() {
                // A line cut by a crash before its sync is not a stored
                // detection: its event is delivered again and it is
                // written whole.
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                    if let Some(id) = v["id"].as_str() {
                        if ids.insert(id.to_string()) {
                            let t = v["tenant"].as_str().unwrap_or_default().to_string();
                            *by_tenant.entry(t).or_default() += 1;
                        }
                    }
                }
            }
            if !text.is_empty() && !text.ends_with('\n') {
                let f = OpenOptions::new().append(true).open(&path)?;
                f.set_len(text.rfind('\n').map_or(0, |i| i as u64 + 1))?;
                f.sync_all()?;
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Detections {
            count: AtomicU64::new(ids.len() as u64),
            path,
            file: Mutex::new(file),
            ids: Mutex::new(ids),
            by_tenant: Mutex::new(by_tenant),
        })
    }

    /// Appends those not yet stored; durable on return.
    pub fn put(&self, detections: Vec<StoredDetection>) -> std::io::Result<usize> {
        let docs = detections
            .iter()
            .map(document)
            .collect::<Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        self.put_docs(docs)
    }

    /// Appends the documents whose id is not stored yet; durable on return.
    pub fn put_docs(&self, detections: Vec<DetectionDoc>) -> std::io::Result<usize> {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = Vec::new();
        let mut added: Vec<String> = Vec::new();
        let mut tenants = Vec::new();
        for d in detections {
            if ids.contains(&d.id) || added.contains(&d.id) {
                continue;
            }
            bytes.extend_from_slice(&d.json);
            bytes.push(b'\n');
            added.push(d.id);
            tenants.push(d.tenant);
        }
        if added.is_empty() {
            return Ok(0);
        }
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let before = f.metadata()?.len();
        if let Err(e) = f.write_all(&bytes).and_then(|_| f.sync_data()) {
            // A part written would be a fragment glued to the next line:
            // cut back to the last whole line (the batch is retried).
            if let Err(cut) = f.set_len(before).and_then(|_| f.sync_data()) {
                return Err(std::io::Error::other(format!(
                    "{e}; and the partial write could not be cut ({cut}): {} needs repair",
                    self.path.display()
                )));
            }
            return Err(e);
        }
        let n = added.len();
        ids.extend(added);
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        let mut by = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        for t in tenants {
            *by.entry(t).or_default() += 1;
        }
        Ok(n)
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Detections stored for `tenant`.
    pub fn count_of(&self, tenant: &str) -> u64 {
        let by = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        by.get(tenant).copied().unwrap_or(0)
    }

    /// The stored line of detection `id` of `tenant`: lines are found by
    /// their id's text before any is parsed (a page of one detection reads
    /// the file once, parsing one line).
    pub fn get(&self, tenant: &str, id: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let needle = format!("\"id\":{}", serde_json::to_string(id).ok()?);
        text.lines()
            .filter(|l| l.contains(&needle))
            .find(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .is_ok_and(|v| v["id"] == id && v["tenant"] == tenant)
            })
            .map(str::to_string)
    }

    /// The latest `limit` stored lines of `tenant`, as written, in the
    /// order stored (the newest last): what arrives now is never hidden
    /// behind what came first.
    fn latest_lines(&self, tenant: &str, limit: usize) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Of<'a> {
            #[serde(borrow)]
            tenant: Option<std::borrow::Cow<'a, str>>,
        }
        if limit == 0 {
            return Vec::new();
        }
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut latest = std::collections::VecDeque::with_capacity(limit.min(10_000));
        for line in text.lines().filter(|l| {
            serde_json::from_str::<Of>(l).is_ok_and(|d| d.tenant.as_deref() == Some(tenant))
        }) {
            if latest.len() == limit {
                latest.pop_front();
            }
            latest.push_back(line.to_string());
        }
        latest.into()
    }
}

/// A detection as the store keeps it: its JSON document.
pub fn document(d: &StoredDetection) -> serde_json::Result<DetectionDoc> {
    Ok(DetectionDoc {
        id: d.id.clone(),
        tenant: d.tenant.clone(),
        json: serde_json::to_vec(d)?,
    })
}

/// The embedded detection store: `detections.jsonl` in the data directory.
pub struct FileDetections(pub Arc<Detections>);

#[async_trait::async_trait]
impl DetectionStore for FileDetections {
    async fn put(&self, detections: Vec<DetectionDoc>) -> vigie_store::Result<usize> {
        let file = self.0.clone();
        let what = || format!("{}", file.path.display());
        let put = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || file.put_docs(detections))
        };
        match put.await {
            Ok(r) => r.map_err(|source| StoreError::Io {
                what: what(),
                source,
            }),
            Err(e) => Err(StoreError::Io {
                what: what(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    async fn count(&self, tenant: &str) -> vigie_store::Result<u64> {
        Ok(self.0.count_of(tenant))
    }

    async fn count_all(&self) -> vigie_store::Result<u64> {
        Ok(self.0.count())
    }

    async fn get(&self, tenant: &str, id: &str) -> vigie_store::Result<Option<Vec<u8>>> {
        let (file, tenant, id) = (self.0.clone(), tenant.to_string(), id.to_string());
        tokio::task::spawn_blocking(move || file.get(&tenant, &id).map(String::into_bytes))
            .await
            .map_err(|e| StoreError::Io {
                what: format!("{}", self.0.path.display()),
                source: std::io::Error::other(e.to_string()),
            })
    }

    async fn latest(&self, tenant: &str, limit: usize) -> vigie_store::Result<Vec<Vec<u8>>> {
        let (file, tenant) = (self.0.clone(), tenant.to_string());
        let listed = tokio::task::spawn_blocking(move || file.latest_lines(&tenant, limit))
            .await
            .map_err(|e| StoreError::Io {
                what: format!("{}", self.0.path.display()),
                source: std::io::Error::other(e.to_string()),
            })?;
        Ok(listed.into_iter().map(String::into_bytes).collect())
    }
}

/// What judges an event: the engine `hunt` compiles, the indicators
/// `hunt --ioc` loads, and how events are read (`--input-timezone`).
pub struct Judging {
    pub engine: Arc<Option<vigie_detect::Engine>>,
    pub indicators: Option<Arc<vigie_intel::Matcher>>,
    pub read: vigie_source::ReadOptions,
}

/// The judging in force, replaced whole when the rules change (a
/// false-positive filter made in the console): each batch is judged by
/// one engine from start to end, and the next batch by the new one,
/// without a restart. With it, the rules each commune turned off for its
/// own events ([`TenantOff`]).
pub struct Current(
    std::sync::RwLock<Arc<Judging>>,
    std::sync::RwLock<Arc<TenantOff>>,
);

impl Current {
    pub fn new(judging: Arc<Judging>) -> Current {
        Current(
            std::sync::RwLock::new(judging),
            std::sync::RwLock::new(Arc::default()),
        )
    }

    pub fn get(&self) -> Arc<Judging> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, judging: Arc<Judging>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = judging;
    }

    /// The communes' own switches in force.
    pub fn off(&self) -> Arc<TenantOff> {
        self.1.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_off(&self, off: Arc<TenantOff>) {
        *self.1.write().unwrap_or_else(|e| e.into_inner()) = off;
    }
}

impl Judging {
    pub fn detectors(&self) -> Detectors<'_> {
        Detectors {
            engine: self.engine.as_ref().as_ref(),
            indicators: self.indicators.as_deref(),
        }
    }
}

pub use crate::seen::Seen;

/// What the worker has done, for `/api/v1/stats`.
#[derive(Debug, Default)]
pub struct Progress {
    /// Events judged.
    pub processed: AtomicU64,
    /// Events stored that could not be read as an event.
    pub unreadable: AtomicU64,
    /// Events sent again (same tenant, computer, channel and record id),
    /// kept in the log but not judged twice.
    pub duplicates: AtomicU64,
    /// Events whose judging failed (a defect of Vigie: said, counted,
    /// the others carry on).
    pub failed: AtomicU64,
    /// Events whose time is a local time read as UTC for want of its
    /// zone (see [`vigie_event::Event::time_uncertain`]).
    pub time_uncertain: AtomicU64,
    recent: Mutex<std::collections::VecDeque<Problem>>,
    /// The same counts per tenant (a token sees its own tenant's only).
    by_tenant: Mutex<std::collections::HashMap<String, TenantCounts>>,
}

/// What the worker did with one tenant's events (since start).
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct TenantCounts {
    pub processed: u64,
    pub unreadable: u64,
    pub failed: u64,
    pub duplicate: u64,
    pub time_uncertain: u64,
}

/// One event that could not be read or judged, with its place in the log.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub position: u64,
    pub tenant: String,
    pub source: String,
    pub reason: String,
}

/// Problems kept for `/api/v1/stats` (the latest; the counts are whole).
const RECENT: usize = 50;

impl Progress {
    fn count(&self, tenant: &str, f: impl FnOnce(&mut TenantCounts)) {
        let mut m = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        match m.get_mut(tenant) {
            Some(c) => f(c),
            None => f(m.entry(tenant.to_string()).or_default()),
        }
    }

    /// The counts of `tenant`.
    pub fn of(&self, tenant: &str) -> TenantCounts {
        let m = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        m.get(tenant).copied().unwrap_or_default()
    }

    fn problem(&self, p: Problem, failed: bool) {
        let counter = if failed {
            &self.failed
        } else {
            &self.unreadable
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.count(&p.tenant, |c| {
            if failed {
                c.failed += 1
            } else {
                c.unreadable += 1
            }
        });
        let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() == RECENT {
            r.pop_front();
        }
        r.push_back(p);
    }

    /// The latest problems, oldest first (of `tenant` only, if given).
    pub fn recent(&self, tenant: Option<&str>) -> Vec<Problem> {
        let r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        r.iter()
            .filter(|p| tenant.is_none_or(|t| p.tenant == t))
            .cloned()
            .collect()
    }
}

/// Whether a source's events are JSON documents, one per line (HTTP
/// ingestion and `_bulk` check it before storing): those of one request
/// are read together. Anything else (syslog) is read message by
/// message: a message may hold a newline, and one UDP batch mixes
/// senders of different formats.
fn json_lines(source: &str) -> bool {
    // A TLS sender is named after its certificate: `ndjson-tls/NAME`.
    let kind = source.split_once('/').map_or(source, |(kind, _)| kind);
    matches!(
        kind,
        "http" | "elasticsearch-bulk" | "ndjson-tcp" | "ndjson-tls"
    )
}

/// The detections of delivered events.
///
/// Events are read together per request (same tenant, source and time of
/// receipt, in log order), as `hunt` reads a file: the readers infer per
/// file which clock wrote offset-less times (NXLog's `EventTime` is the
/// collector's local time) from the references other records carry
/// (Sysmon's `UtcTime`, Logstash's `@timestamp`). Read one by one, such
/// events would be hours off while claiming to be UTC.
pub fn judge(
    judging: &Judging,
    deliveries: &[Delivery],
    seen: &Seen,
    progress: &Progress,
    observe: &(dyn Fn(&Delivery, &vigie_event::Event, &[Match]) + Sync),
) -> Vec<StoredDetection> {
    judge_masked(
        judging,
        &TenantOff::new(),
        deliveries,
        seen,
        progress,
        observe,
    )
}

/// [`judge`], each event's rule matches without those its commune
/// turned off ([`TenantOff`]): what the detection worker and the live
/// scope do.
pub fn judge_masked(
    judging: &Judging,
    off: &TenantOff,
    deliveries: &[Delivery],
    seen: &Seen,
    progress: &Progress,
    observe: &(dyn Fn(&Delivery, &vigie_event::Event, &[Match]) + Sync),
) -> Vec<StoredDetection> {
    use rayon::prelude::*;
    let mut groups = Vec::new();
    let mut start = 0;
    while start < deliveries.len() {
        let d0 = &deliveries[start];
        let end = if json_lines(&d0.source) {
            deliveries[start..]
                .iter()
                .position(|d| {
                    d.tenant != d0.tenant || d.source != d0.source || d.received != d0.received
                })
                .map_or(deliveries.len(), |i| start + i)
        } else {
            start + 1
        };
        groups.push(&deliveries[start..end]);
        start = end;
    }
    // Requests are judged in parallel, as `hunt` judges files: the
    // scope's observer does not depend on their order, nor do detections
    // (deterministic ids) or correlations (run in time order later).
    groups
        .par_iter()
        .flat_map_iter(|group| {
            // A defect met on one request's events must not stop the
            // others nor the worker: said, counted, the position moves on.
            let mut found = Vec::new();
            progress.count(&group[0].tenant, |c| c.processed += group.len() as u64);
            let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                judge_request(judging, off, group, seen, progress, observe, &mut found)
            }));
            if judged.is_err() {
                found.clear();
                for d in group.iter() {
                    progress.problem(
                        Problem {
                            position: d.position.0,
                            tenant: d.tenant.clone(),
                            source: d.source.clone(),
                            reason:
                                "judging this event failed (a defect of Vigie: please report it)"
                                    .into(),
                        },
                        true,
                    );
                }
                eprintln!(
                    "vigie serve: judging events {}..={} failed; counted in /api/v1/stats, the others go on",
                    group[0].position.0,
                    group[group.len() - 1].position.0
                );
            }
            found
        })
        .collect()
}

/// One request's events (JSON documents, one line each: ingestion
/// splits on newlines) read as one file whose line `n` is delivery
/// `n - 1`; or one syslog message alone.
fn judge_request(
    judging: &Judging,
    off: &TenantOff,
    group: &[Delivery],
    seen: &Seen,
    progress: &Progress,
    observe: &(dyn Fn(&Delivery, &vigie_event::Event, &[Match]) + Sync),
    out: &mut Vec<StoredDetection>,
) {
    let received = chrono::DateTime::from_timestamp_micros(group[0].received);
    let opts = vigie_source::ReadOptions {
        // Year-less syslog times lie before their receipt.
        reference_time: received,
        sha256: false,
        // Offsets learned per computer of this commune (a live stream is
        // read a request at a time).
        clock_memory: judging
            .read
            .clock_memory
            .as_ref()
            .map(|m| m.scoped(&group[0].tenant)),
        ..judging.read.clone()
    };
    let detectors = judging.detectors();
    // Evidence names the event by its place in the log, where it is kept
    // as it arrived: `serve:TENANT/SOURCE#position=N`.
    let name = format!("serve:{}/{}", group[0].tenant, group[0].source);
    let mut text = Vec::with_capacity(group.iter().map(|d| d.event.len() + 1).sum());
    for d in group {
        text.extend_from_slice(&d.event);
        text.push(b'\n');
    }
    let (mut events, report) = vigie_source::read_bytes(&name, &text, &opts);
    let unread = |d: &Delivery, reason: String| {
        progress.problem(
            Problem {
                position: d.position.0,
                tenant: d.tenant.clone(),
                source: d.source.clone(),
                reason,
            },
            false,
        )
    };
    if group.len() == 1 && events.is_empty() {
        let reason = report
            .errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_else(|| "not a log format Vigie reads".into());
        unread(&group[0], reason);
    } else {
        for e in &report.errors {
            match e.place {
                vigie_source::Place::Line(n) => {
                    if let Some(d) = (n as usize).checked_sub(1).and_then(|i| group.get(i)) {
                        unread(d, e.message.clone());
                    }
                }
                _ => {
                    for d in group {
                        unread(d, e.message.clone());
                    }
                }
            }
        }
    }
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let received_at = received.map(stamp);
    let detected_at = stamp(chrono::Utc::now());
    let mut matches: Vec<Match> = Vec::new();
    for event in &mut events {
        let d = if group.len() == 1 {
            &group[0]
        } else {
            let vigie_event::Locator::Line(n) = event.origin.locator else {
                continue;
            };
            let Some(d) = (n as usize).checked_sub(1).and_then(|i| group.get(i)) else {
                continue;
            };
            d
        };
        event.origin.locator = vigie_event::Locator::Position(d.position.0);
        let event = &*event;
        if !seen.first_time(&d.tenant, event, &d.event) {
            progress.duplicates.fetch_add(1, Ordering::Relaxed);
            progress.count(&d.tenant, |c| c.duplicate += 1);
            continue;
        }
        if event.time_uncertain {
            progress.time_uncertain.fetch_add(1, Ordering::Relaxed);
            progress.count(&d.tenant, |c| c.time_uncertain += 1);
        }
        matches.clear();
        let from_rules = detectors.evaluate(event, &mut matches);
        let from_rules = if matches.is_empty() {
            from_rules
        } else {
            mask(off, &d.tenant, &mut matches, from_rules)
        };
        observe(d, event, &matches);
        if !matches.iter().any(|m| m.generate) {
            continue;
        }
        // JSON as an object; anything else (a syslog message) as its text.
        let raw: serde_json::Value = serde_json::from_slice(&d.event).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&d.event).into_owned())
        });
        for (i, m) in matches.iter().enumerate().filter(|(_, m)| m.generate) {
            let rule_id = m.rule.id.clone().unwrap_or_else(|| m.rule.title.clone());
            let identity = match (&event.computer, &event.channel, event.record_id) {
                (Some(c), Some(ch), Some(r)) => EventIdentity::Record {
                    computer: c,
                    channel: ch,
                    record_id: r,
                },
                _ => EventIdentity::Content(&d.event),
            };
            out.push(StoredDetection {
                id: detection_id(&d.tenant, &rule_id, identity),
                kind: if i >= from_rules { "ioc" } else { "detection" },
                tenant: d.tenant.clone(),
                rule_id,
                rule_title: m.rule.title.clone(),
                level: serde_json::to_value(m.rule.level).unwrap_or_default(),
                tags: m.rule.tags.clone(),
                time: event
                    .timestamp
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                computer: event.computer.as_deref().map(str::to_string),
                channel: event.channel.as_deref().map(str::to_string),
                event_id: event.event_id,
                record_id: event.record_id,
                source: d.source.clone(),
                position: Some(d.position.0),
                received: received_at.clone(),
                detected: detected_at.clone(),
                event: raw.clone(),
                matched: m.matched.clone(),
                time_uncertain: event.time_uncertain,
                retrohunt: None,
            });
        }
    }
}

/// The consumer that rebuilds the live scope at start; it never commits,
/// so each start reads the log again from its beginning.
pub const REPLAY: &str = "scope-replay";

/// Rebuilds the live scope from the events judged before this start (up
/// to the detection worker's committed position): read again, judged
/// again, observed — their detections are already stored. Said on stderr
/// with its size, since it takes the time of a `hunt` over the log.
async fn replay(
    log: &dyn EventLog,
    judging: &Arc<Judging>,
    off: &Arc<TenantOff>,
    seen: &Arc<Seen>,
    live: &Arc<LiveScope>,
    health: &Arc<Health>,
    index: &Option<Arc<EventIndex>>,
) -> bool {
    let upto = match log.committed(CONSUMER).await {
        Ok(Some(p)) => p.0,
        Ok(None) => return true,
        Err(e) => {
            eprintln!("vigie serve: the live scope cannot be rebuilt: {e}");
            return false;
        }
    };
    eprintln!(
        "vigie serve: rebuilding the live scope from the {} events already judged",
        upto + 1
    );
    let started = std::time::Instant::now();
    loop {
        let batch = match log.consume(REPLAY, 8192, Duration::from_millis(100)).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("vigie serve: the live scope cannot be rebuilt: {e}");
                return false;
            }
        };
        let mut batch: Vec<Delivery> = batch.into_iter().filter(|d| d.position.0 <= upto).collect();
        let done = batch.is_empty() || batch.last().is_some_and(|d| d.position.0 >= upto);
        if !batch.is_empty() {
            let (judging, seen, live) = (judging.clone(), seen.clone(), live.clone());
            let (health, index, off) = (health.clone(), index.clone(), off.clone());
            let _ = tokio::task::spawn_blocking(move || {
                // Problems were counted the first time; not twice.
                let quiet = Progress::default();
                judge_masked(&judging, &off, &batch, &seen, &quiet, &|d, e, m| {
                    observed(&live, &health, d, e, m);
                    if let Some(ix) = &index {
                        ix.saw(&d.tenant, d.position.0, e);
                    }
                });
                if let Some(ix) = &index {
                    ix.judged(batch.iter().map(|d| d.position.0));
                }
                batch.clear();
            })
            .await;
        }
        if done {
            break;
        }
    }
    eprintln!(
        "vigie serve: live scope rebuilt in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    true
}

/// What follows the judging of one event: the live scope observes it,
/// the sources' health counts it.
fn observed(live: &LiveScope, health: &Health, d: &Delivery, e: &vigie_event::Event, m: &[Match]) {
    live.observe(&d.tenant, e, m);
    health.saw(
        &d.tenant,
        &d.source,
        d.received,
        e.timestamp.map(|t| t.timestamp_micros()),
        e.computer.as_deref(),
        e.channel.as_deref(),
    );
}

/// Positions already observed: every one below `floor`, and those above
/// it (few: the stream is read in order, a gap is an event handed out
/// again later). The floor starts at the first position read: a stream
/// whose oldest events its limits removed starts past 0.
#[derive(Debug, Default)]
struct Positions {
    floor: Option<u64>,
    above: std::collections::BTreeSet<u64>,
}

impl Positions {
    /// Whether `p` is new (then it is recorded).
    fn insert(&mut self, p: u64) -> bool {
        let floor = self.floor.get_or_insert(p);
        if p < *floor || !self.above.insert(p) {
            return false;
        }
        while self.above.remove(floor) {
            *floor += 1;
        }
        true
    }
}

/// The consumer of an `api` node's scope observer: one per process
/// (JetStream gives each its own consumer, see [`observe_stream`]).
pub const OBSERVER: &str = "scope-observer";

/// The live scope of a regional deployment, on its `api` node: every
/// event of the stream read (a consumer of this process's own, not the
/// detection workers' shared one), judged and observed — nothing stored,
/// the workers store the detections. The scope's streaming half is then
/// fed every event of each tenant, as `hunt` feeds it every file; its
/// analysis (the batch half) runs on demand, as in one process.
///
/// Why not the workers' scopes: two workers share the stream event by
/// event, so each sees part of every commune; an answer from part of the
/// events would be wrong, and scopes do not add up. The price is that the
/// api node judges every event once more (one worker's CPU, see
/// docs/regional.md).
///
/// The scope answers (not 503) once the events stored at start are
/// observed.
pub async fn observe_stream(
    log: Arc<dyn EventLog>,
    judging: Arc<Current>,
    live: Arc<LiveScope>,
    health: Arc<Health>,
    seen: Arc<Seen>,
) {
    let mut done = Positions::default();
    let stored = loop {
        match log.records().await {
            Ok(n) => break n,
            Err(e) => {
                eprintln!("vigie serve: live scope: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let started = std::time::Instant::now();
    if stored == 0 {
        live.rebuilt.store(true, Ordering::Release);
    } else {
        eprintln!("vigie serve: observing the {stored} events stored, for the live scope");
    }
    loop {
        let batch = match log.consume(OBSERVER, 8192, Duration::from_secs(1)).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("vigie serve: live scope: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(last) = batch.last().map(|d| d.position) else {
            continue;
        };
        // Each event observed once: a consumer made again (NATS
        // restarted without it) starts from the stream's beginning, and
        // an event the server handed out again comes back.
        let batch: Vec<Delivery> = batch
            .into_iter()
            .filter(|d| done.insert(d.position.0))
            .collect();
        let (judging2, live2, seen2, health2) =
            (judging.get(), live.clone(), seen.clone(), health.clone());
        let off = judging.off();
        let _ = tokio::task::spawn_blocking(move || {
            // Problems are counted by the workers; not twice.
            let quiet = Progress::default();
            judge_masked(&judging2, &off, &batch, &seen2, &quiet, &|d, e, m| {
                observed(&live2, &health2, d, e, m)
            });
        })
        .await;
        // Acknowledged, so that the server does not hand it out again.
        if let Err(e) = log.commit(OBSERVER, last).await {
            eprintln!("vigie serve: live scope: {e}");
        }
        if last.0 + 1 >= stored && !live.rebuilt.swap(true, Ordering::AcqRel) {
            eprintln!(
                "vigie serve: live scope rebuilt in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Runs for ever: consume, judge, store, commit. `keeps_scope`: the live
/// scope is rebuilt at start and fed (one process judging every event);
/// not on a `detect` node of a regional deployment, which sees part of
/// the events (the `api` node keeps the scope, [`observe_stream`]).
// Each argument is one of the stages it feeds (log, judging, store,
// progress, live scope, sources health, search index, duplicates' window)
// or the node's role.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    log: Arc<dyn EventLog>,
    judging: Arc<Current>,
    detections: Arc<dyn DetectionStore>,
    progress: Arc<Progress>,
    live: Arc<LiveScope>,
    health: Arc<Health>,
    keeps_scope: bool,
    index: Option<Arc<EventIndex>>,
    seen: Arc<Seen>,
) {
    if !keeps_scope {
        // Its scope routes say where the scope is (see `rebuilding`).
    } else if replay(
        log.as_ref(),
        &judging.get(),
        &judging.off(),
        &seen,
        &live,
        &health,
        &index,
    )
    .await
    {
        live.rebuilt.store(true, Ordering::Release);
    } else {
        // Never an answer from part of the events: the scope stays
        // unavailable (503, said), detection goes on.
        eprintln!("vigie serve: the live scope is NOT available until the next start (see above)");
    }
    // Three stages at once, each batch through them in order: the next
    // batch is read (and its segments inflated) while one is judged, and
    // the one before is stored and committed meanwhile. Done one after
    // the other, the reading and the two durable writes (detections, then
    // the position) left a core idle for a third of the time; judging is
    // the only stage that uses both.
    let (to_judge, mut batches) = tokio::sync::mpsc::channel::<Vec<Delivery>>(1);
    let (to_store, mut judged) = tokio::sync::mpsc::channel::<Judged>(1);
    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            // Since when the log cannot be read (its end is said).
            let mut unreadable_since: Option<std::time::Instant> = None;
            loop {
                // A place in the queue first, then the batch: no batch is
                // held (given by the log, not acknowledged) while waiting.
                let Ok(place) = to_judge.reserve().await else {
                    return;
                };
                match log.consume(CONSUMER, BATCH, Duration::from_secs(1)).await {
                    Ok(b) => {
                        if let Some(since) = unreadable_since.take() {
                            eprintln!(
                                "vigie serve: detection worker: the event log is read again after {} s",
                                since.elapsed().as_secs()
                            );
                        }
                        if !b.is_empty() {
                            place.send(b);
                        }
                    }
                    Err(e) => {
                        unreadable_since.get_or_insert_with(std::time::Instant::now);
                        eprintln!("vigie serve: detection worker: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })
    };
    let storer = {
        let (log, progress) = (log.clone(), progress.clone());
        tokio::spawn(async move {
            while let Some(Judged { docs, positions }) = judged.recv().await {
                // Stored before the position moves; retried until it is (a
                // full disk or a database down is said every time, and
                // nothing after it is committed first).
                let mut failed = 0u64;
                let since = std::time::Instant::now();
                loop {
                    match detections.put(docs.clone()).await {
                        Ok(_) => break,
                        Err(e) => {
                            failed += 1;
                            eprintln!("vigie serve: detections not stored, retrying: {e}")
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                // The end of an outage said too: whoever read "not
                // stored" must be able to tell it is over.
                if failed > 0 {
                    eprintln!(
                        "vigie serve: detections stored again after {} s ({failed} failed tries); the worker goes on",
                        since.elapsed().as_secs()
                    );
                }
                if let Err(e) = log.commit_batch(CONSUMER, &positions).await {
                    eprintln!("vigie serve: commit: {e}");
                }
                progress
                    .processed
                    .fetch_add(positions.len() as u64, Ordering::Relaxed);
            }
        })
    };
    let (reader_ends, storer_ends) = (reader.abort_handle(), storer.abort_handle());
    watch_stage("reader", reader);
    watch_stage("storer", storer);
    while let Some(batch) = batches.recv().await {
        let positions: Vec<Position> = batch.iter().map(|d| d.position).collect();
        let (judging2, progress2, live2) = (judging.get(), progress.clone(), live.clone());
        let (seen2, health2, index2) = (seen.clone(), health.clone(), index.clone());
        let off = judging.off();
        let found = tokio::task::spawn_blocking(move || {
            let found = judge_masked(&judging2, &off, &batch, &seen2, &progress2, &|d, e, m| {
                if keeps_scope {
                    observed(&live2, &health2, d, e, m)
                }
                if let Some(ix) = &index2 {
                    ix.saw(&d.tenant, d.position.0, e);
                }
            });
            if let Some(ix) = &index2 {
                ix.judged(batch.iter().map(|d| d.position.0));
            }
            found
        })
        .await
        // judge catches what fails per request; nothing else can.
        .unwrap_or_default();
        let docs: Vec<DetectionDoc> = found
            .iter()
            .filter_map(|d| {
                document(d)
                    .inspect_err(|e| {
                        eprintln!(
                            "vigie serve: detection {} not encodable, not stored: {e}",
                            d.id
                        )
                    })
                    .ok()
            })
            .collect();
        if to_store.send(Judged { docs, positions }).await.is_err() {
            break;
        }
    }
    // Only if a stage ended, which none does but with the process.
    reader_ends.abort();
    storer_ends.abort();
}

/// Ends the process when a stage of the worker ends (a defect: none
/// returns while the process lives): a server that goes on taking events
/// while judging none would look watched and be blind. Nothing is lost —
/// what was not committed is given again after the restart its
/// supervisor (systemd `Restart=on-failure`, the container's policy) makes.
fn watch_stage(name: &'static str, stage: tokio::task::JoinHandle<()>) {
    tokio::spawn(async move {
        let why = match stage.await {
            Ok(()) => "it ended".to_string(),
            Err(e) if e.is_cancelled() => return,
            Err(e) => format!("it failed: {e}"),
        };
        eprintln!(
            "vigie serve: the detection worker's {name} stopped ({why}): stopping the server so that it is restarted (nothing acknowledged is lost)"
        );
        std::process::exit(70);
    });
}

/// Events read per batch by the detection worker: about five requests of
/// Winlogbeat (1,600 events each) judged in parallel, and what a batch
/// holds in memory bounded (four batches are in flight at most: queued,
/// judged, queued to be stored, stored).
const BATCH: usize = 8192;

/// A batch judged, on its way to be stored and committed.
struct Judged {
    docs: Vec<DetectionDoc>,
    positions: Vec<Position>,
}

/// A fired correlation as a detection: its time is the last event
/// counted (as in `hunt`'s timeline), its id deterministic from the rule,
/// the group and the window.
pub fn correlation_detection(tenant: &str, c: &vigie_detect::CorrelationMatch) -> StoredDetection {
    let rule_id = c.rule.id.clone().unwrap_or_else(|| c.rule.title.clone());
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let identity = format!("{:?}|{}", c.group, stamp(c.first));
    let computer = c
        .group
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Computer") || k.eq_ignore_ascii_case("devname"))
        .map(|(_, v)| v.clone());
    StoredDetection {
        id: detection_id(
            tenant,
            &rule_id,
            EventIdentity::Content(identity.as_bytes()),
        ),
        kind: "correlation",
        tenant: tenant.to_string(),
        rule_id,
        rule_title: c.rule.title.clone(),
        level: serde_json::to_value(c.rule.level).unwrap_or_default(),
        tags: c.rule.tags.clone(),
        time: Some(stamp(c.last)),
        computer,
        channel: None,
        event_id: None,
        record_id: None,
        source: "correlation".into(),
        position: None,
        received: None,
        detected: stamp(chrono::Utc::now()),
        event: serde_json::json!({
            "group": c.group.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "value": c.value,
            "first": stamp(c.first),
            "last": stamp(c.last),
        }),
        matched: Vec::new(),
        time_uncertain: false,
        retrohunt: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_observed_once_whatever_their_order() {
        let mut p = Positions::default();
        assert!(p.insert(0));
        assert!(p.insert(2));
        assert!(p.insert(1));
        assert!(!p.insert(1) && !p.insert(0) && !p.insert(2));
        assert_eq!((p.floor, p.above.len()), (Some(3), 0));
        assert!(p.insert(5) && !p.insert(5));
        assert!(p.insert(4) && p.insert(3));
        assert_eq!((p.floor, p.above.len()), (Some(6), 0));
        // A stream whose first events are gone: nothing kept below.
        let mut q = Positions::default();
        assert!(q.insert(1_000) && q.insert(1_001));
        assert_eq!((q.floor, q.above.len()), (Some(1_002), 0));
    }

    /// The embedded detection store keeps the contract the regional one
    /// (PostgreSQL) keeps, and keeps it across a reopening.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_file_detection_store_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileDetections(Arc::new(Detections::open(dir.path()).unwrap()));
        vigie_store::conformance::detection_store(&store).await;
        let all = store.count_all().await.unwrap();
        let again = FileDetections(Arc::new(Detections::open(dir.path()).unwrap()));
        assert_eq!(again.count_all().await.unwrap(), all);
        assert_eq!(again.count("mairie-a").await.unwrap(), 3);
    }
}
