//! How one delivered batch is judged: its events read per request as
//! `hunt` reads a file, each through the engine, its duplicates dropped,
//! what could not be read counted with its place ([`Progress`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use vigie_detect::Match;
use vigie_hunt::Detectors;

use vigie_store::ids::{detection_id, EventIdentity};
use vigie_store::Delivery;

use super::{mask, StoredDetection, TenantOff};

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
    /// JSON events not all in UTF-8, read with those bytes as
    /// Windows-1252 (the sender's character set to fix).
    pub not_utf8: AtomicU64,
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
    pub not_utf8: u64,
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
    if report.records_not_utf8 > 0 {
        let n = report.records_not_utf8;
        progress.not_utf8.fetch_add(n, Ordering::Relaxed);
        progress.count(&group[0].tenant, |c| c.not_utf8 += n);
    }
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
        // JSON as an object, anything else (a syslog message) as its
        // text; its bytes outside UTF-8 as Windows-1252, as the event was
        // read.
        let raw = vigie_source::value_as_read(&d.event);
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
