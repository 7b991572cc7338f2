//! Reading the stored events for a retro-hunt: one reader, entered by
//! time of receipt or at a position, within a budget, each batch's
//! detections handed on as they are found.
//!
//! Why batch by batch: a retro-hunt over a region's year of archive may
//! find millions of detections. Nothing here keeps them: each batch's go
//! to a [`Sink`] (a file written as it goes, the detection store), and
//! the memory held is one batch's, whatever the range.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use vigie_store::{Delivery, EventLog, Position};

use super::reader::Reader;
use super::{RetroError, CONSUMER_PREFIX};
use crate::worker::{judge_masked, Judging, Progress, Seen, StoredDetection, TenantOff};

/// Events read at once: what one batch holds in memory.
pub const BATCH: usize = 8192;

/// How long before a range's start a retro-hunt begins to read, by time
/// of receipt: an event is received after it happens, so what was
/// received earlier than this before the start holds only older events —
/// unless a sender's clock is more than a day ahead. The margin absorbs
/// clocks a few hours wrong (a time zone misread) and ingest nodes'
/// clocks that differ. Why skip at all: a region's stream holds weeks,
/// and a retro-hunt of the last two days should not read them all.
pub const RECEIPT_MARGIN_SECS: i64 = 86_400;

/// Why a run ended before the end of what it was to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stopped {
    /// Its time budget (`max_seconds`) was spent.
    Budget,
    /// The client went away (or the run was stopped).
    Cancelled,
    /// The log gave nothing more before the end it had when the run
    /// began (its reader moved past what was removed meanwhile, or an
    /// archive and its stream disagree): what lies between was not read,
    /// and the run does not say it was.
    Short,
}

/// What bounds a run, and what it shows while it runs.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Stop once a batch ends past this (`None`: no limit; tests).
    pub deadline: Option<Instant>,
    /// Set to stop at the end of the batch being judged.
    pub cancel: Arc<AtomicBool>,
    /// Log positions read so far (the next position to read).
    pub read: Arc<AtomicU64>,
}

impl Budget {
    /// `seconds` from now.
    pub fn seconds(seconds: f64) -> Budget {
        Budget {
            deadline: Duration::try_from_secs_f64(seconds.max(0.0))
                .ok()
                .and_then(|d| Instant::now().checked_add(d)),
            cancel: Arc::default(),
            read: Arc::default(),
        }
    }

    /// No limit but cancellation.
    pub fn unbounded() -> Budget {
        Budget {
            deadline: None,
            cancel: Arc::default(),
            read: Arc::default(),
        }
    }
}

/// An event that raised something, with its tenant and matches (for the
/// live scope).
pub type FoundEvent = (String, vigie_event::Event, Vec<vigie_detect::Match>);

/// Where each batch's detections go, as they are found.
#[async_trait]
pub trait Sink: Send {
    /// The detections of one batch that lie in the range, and (when the
    /// scan was asked to keep them) the events that raised them.
    async fn take(
        &mut self,
        found: Vec<StoredDetection>,
        events: Vec<FoundEvent>,
    ) -> Result<(), RetroError>;
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    /// One tenant's events (every tenant's when `None`).
    pub tenant: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Read from this log position on (a run stopped before, continued:
    /// its `reached_position`).
    pub from_position: Option<u64>,
    /// Hand the events that raised something to the sink too.
    pub keep_events: bool,
}

/// What a scan of the stored events read.
#[derive(Debug, Clone, Default)]
pub struct Scanned {
    /// Log positions not read: `[0, skipped)` — received more than
    /// [`RECEIPT_MARGIN_SECS`] before the range's start (their events are
    /// older than it; events without a time among them are not judged),
    /// or before `from_position`.
    pub skipped: u64,
    /// Log positions read: `[skipped, read_upto)`. When stopped, the
    /// position to continue from.
    pub read_upto: u64,
    /// The log's end when the scan began: what it was to read up to.
    pub end: u64,
    /// Events of the tenant(s) scanned within the range.
    pub in_range: u64,
    /// Events without a time (judged whatever the range).
    pub untimed: u64,
    /// Positions in `[skipped, read_upto)` not delivered: no longer kept.
    pub not_kept: u64,
    /// Why the scan ended before `end`; `None`: read to it.
    pub stopped: Option<Stopped>,
    /// When the last event read was received (µs since the epoch).
    pub last_received: Option<i64>,
}

/// How many positions just before `found` (the first received at
/// `since` or later) the log no longer holds, when `found` itself was
/// received at `since` or later: removed by retention, they may have
/// been in the period (counted in `events_not_kept`, never as skipped).
/// The run not held is found by halving (what retention removes is a
/// prefix; a hole the archive could not fill ends where it is held).
async fn removed_before(
    log: &dyn EventLog,
    found: Position,
    since: i64,
) -> Result<u64, RetroError> {
    if found.0 == 0 || log.read_at(Position(found.0 - 1)).await?.is_some() {
        return Ok(0);
    }
    let found_received = log.read_at(found).await?.map(|d| d.received);
    if found_received.is_none_or(|r| r < since) {
        return Ok(0);
    }
    // The first of the run [lo, found) not held.
    let (mut lo, mut hi) = (0u64, found.0 - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if log.read_at(Position(mid)).await?.is_some() {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(found.0 - lo)
}

/// Reads the events stored now (what arrives meanwhile is the live
/// worker's) with a one-off reader, as the worker reads them, and judges
/// those of the scope with `judging`, each tenant without the rules of
/// `off` it turned off (its own switches). Each batch's detections go to
/// `sink` as they are found. One reader, released on every path (a
/// [`Reader`]: also when this future is dropped). Stops at the end of a
/// batch once `budget`'s time is spent or it is cancelled: at least one
/// batch is read, so a run continued from where one stopped always
/// advances.
pub async fn scan(
    log: &Arc<dyn EventLog>,
    judging: Arc<Judging>,
    off: &TenantOff,
    scope: &Scope<'_>,
    budget: &Budget,
    sink: &mut dyn Sink,
) -> Result<Scanned, RetroError> {
    let reader = Reader::new(log.clone(), CONSUMER_PREFIX);
    let outcome = read(
        log.as_ref(),
        reader.name(),
        judging,
        off,
        scope,
        budget,
        sink,
    )
    .await;
    reader.release().await;
    outcome
}

async fn read(
    log: &dyn EventLog,
    consumer: &str,
    judging: Arc<Judging>,
    off: &TenantOff,
    scope: &Scope<'_>,
    budget: &Budget,
    sink: &mut dyn Sink,
) -> Result<Scanned, RetroError> {
    let off = Arc::new(off.clone());
    let (from, to, tenant) = (scope.from, scope.to, scope.tenant);
    let end = log.records().await?;
    let mut out = Scanned {
        end,
        ..Scanned::default()
    };
    let seen = Arc::new(Seen::default());
    if let Some(f) = from {
        let since = (f - chrono::Duration::seconds(RECEIPT_MARGIN_SECS)).timestamp_micros();
        match log.received_since(since).await? {
            Some(p) if p.0 >= end => out.skipped = end,
            Some(p) if p.0 > 0 && log.seek(consumer, p).await? => {
                out.skipped = p.0;
                // When what is found is the oldest kept and was received
                // after `since`, what came before it may have been in
                // range: removed, not skipped.
                let removed = removed_before(log, p, since).await?;
                out.skipped -= removed;
                out.not_kept += removed;
            }
            _ => {}
        }
        out.read_upto = out.skipped + out.not_kept;
    }
    // A run continued: from where the one before stopped.
    let mut start = 0;
    if let Some(p) = scope.from_position.filter(|&p| p > out.read_upto) {
        let p = p.min(end);
        start = p;
        if p >= end || log.seek(consumer, Position(p)).await? {
            (out.skipped, out.not_kept, out.read_upto) = (p, 0, p);
        }
    }
    budget.read.store(out.read_upto, Ordering::Release);
    while out.read_upto < end {
        if budget.cancel.load(Ordering::Acquire) {
            out.stopped = Some(Stopped::Cancelled);
            break;
        }
        let batch = log.consume(consumer, BATCH, Duration::ZERO).await?;
        if batch.is_empty() {
            break;
        }
        // Positions are delivered in order: one jumped over is held by
        // neither the log nor its archive.
        for d in &batch {
            if d.position.0 < start {
                // The log could not seek: what precedes the position
                // asked is passed over, as skipped.
                out.skipped = out.skipped.max(d.position.0 + 1);
            } else {
                out.not_kept += d.position.0.saturating_sub(out.read_upto);
            }
            out.read_upto = out.read_upto.max(d.position.0 + 1);
        }
        out.last_received = batch.last().map(|d| d.received).or(out.last_received);
        let mine: Vec<Delivery> = batch
            .into_iter()
            .filter(|d| {
                tenant.is_none_or(|t| d.tenant == t) && d.position.0 < end && d.position.0 >= start
            })
            .collect();
        let (judging, seen, off) = (judging.clone(), seen.clone(), off.clone());
        let keep_events = scope.keep_events;
        let (got, n, u, events) = tokio::task::spawn_blocking(move || {
            let quiet = Progress::default();
            let counts = std::sync::Mutex::new((0u64, 0u64, Vec::new()));
            let got = judge_masked(&judging, &off, &mine, &seen, &quiet, &|d, e, m| {
                let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
                let inside = match e.timestamp {
                    Some(t) if from.is_some_and(|f| t < f) || to.is_some_and(|x| t > x) => false,
                    Some(_) => {
                        c.0 += 1;
                        true
                    }
                    None => {
                        c.1 += 1;
                        true
                    }
                };
                if keep_events && inside && m.iter().any(|m| m.generate) {
                    c.2.push((d.tenant.clone(), e.clone(), m.to_vec()));
                }
            });
            let (n, u, events) = counts.into_inner().unwrap_or_else(|p| p.into_inner());
            (got, n, u, events)
        })
        .await
        .map_err(|e| RetroError::Rules(e.to_string()))?;
        out.in_range += n;
        out.untimed += u;
        let found: Vec<StoredDetection> =
            got.into_iter().filter(|d| in_window(d, from, to)).collect();
        sink.take(found, events).await?;
        budget.read.store(out.read_upto, Ordering::Release);
        if out.read_upto < end {
            if budget.cancel.load(Ordering::Acquire) {
                out.stopped = Some(Stopped::Cancelled);
                break;
            }
            if budget.deadline.is_some_and(|d| Instant::now() >= d) {
                out.stopped = Some(Stopped::Budget);
                break;
            }
        }
    }
    if out.stopped.is_none() && out.read_upto < end {
        out.stopped = Some(Stopped::Short);
    }
    Ok(out)
}

/// Whether a detection's event lies in the range (an event without a time
/// is kept: leaving it out would be a silent choice).
fn in_window(d: &StoredDetection, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
    let Some(t) = d
        .time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    else {
        return true;
    };
    let t = t.with_timezone(&Utc);
    !(from.is_some_and(|f| t < f) || to.is_some_and(|x| t > x))
}

/// A sink that keeps nothing (a scan for its counts).
pub struct Discard;

#[async_trait]
impl Sink for Discard {
    async fn take(
        &mut self,
        _: Vec<StoredDetection>,
        _: Vec<FoundEvent>,
    ) -> Result<(), RetroError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_store::embedded::{FileLog, Retention};
    use vigie_store::IngestBatch;

    const DAY: i64 = 86_400_000_000;

    fn judging() -> Arc<Judging> {
        Arc::new(Judging {
            engine: Arc::new(None),
            indicators: None,
            read: Default::default(),
        })
    }

    async fn scan_all(log: &Arc<dyn EventLog>, scope: Scope<'_>, budget: &Budget) -> Scanned {
        scan(
            log,
            judging(),
            &TenantOff::new(),
            &scope,
            budget,
            &mut Discard,
        )
        .await
        .unwrap()
    }

    /// A period starting before the oldest event kept: what retention
    /// removed is counted as not kept (it may have been in the period),
    /// never as skipped; one starting after kept events skips those.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_period_older_than_the_log_counts_what_was_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), 300).unwrap();
        let t0 = Utc::now().timestamp_micros() - 100 * DAY;
        for n in 0..30i64 {
            log.append(IngestBatch {
                tenant: "default".into(),
                source: "t".into(),
                received: t0 + n * 2 * DAY,
                events: (0..5)
                    .map(|i| format!("{{\"n\":{}}}", n * 5 + i).into_bytes())
                    .collect(),
            })
            .await
            .unwrap();
        }
        let r = log
            .retain(
                &Retention {
                    max_age: None,
                    max_bytes: Some(600),
                },
                u64::MAX,
            )
            .unwrap();
        assert!(r.oldest_kept > 0 && r.oldest_kept < 150, "{r:?}");
        let log: Arc<dyn EventLog> = Arc::new(log);
        let at = |micros: i64| DateTime::<Utc>::from_timestamp_micros(micros).unwrap();
        let scope = |from| Scope {
            from: Some(from),
            ..Scope::default()
        };
        let unbounded = Budget::unbounded();
        let early = scan_all(&log, scope(at(t0 - 5 * DAY)), &unbounded).await;
        assert_eq!(
            (early.skipped, early.not_kept, early.read_upto),
            (0, r.oldest_kept, 150)
        );
        // From batch 25 on (the margin of a day before it): the kept
        // events before are skipped, nothing is missing.
        let late = scan_all(&log, scope(at(t0 + 51 * DAY)), &unbounded).await;
        assert_eq!((late.skipped, late.not_kept, late.read_upto), (125, 0, 150));
    }

    /// A spent budget stops after one batch, at a position from which a
    /// second run reads the rest: the two together read every position
    /// once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_spent_budget_stops_where_a_continued_run_begins() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), 1 << 20).unwrap();
        let n = BATCH as u64 * 2 + 10;
        log.append(IngestBatch {
            tenant: "default".into(),
            source: "t".into(),
            received: Utc::now().timestamp_micros(),
            events: (0..n)
                .map(|i| format!("{{\"n\":{i}}}").into_bytes())
                .collect(),
        })
        .await
        .unwrap();
        let log: Arc<dyn EventLog> = Arc::new(log);
        let first = scan_all(&log, Scope::default(), &Budget::seconds(0.0)).await;
        assert_eq!(first.stopped, Some(Stopped::Budget));
        assert!(first.read_upto > 0 && first.read_upto < n, "{first:?}");
        let rest = scan_all(
            &log,
            Scope {
                from_position: Some(first.read_upto),
                ..Scope::default()
            },
            &Budget::unbounded(),
        )
        .await;
        assert_eq!(rest.stopped, None);
        assert_eq!(
            (rest.skipped, rest.read_upto, rest.not_kept),
            (first.read_upto, n, 0)
        );
        assert_eq!(
            first.in_range + first.untimed + rest.in_range + rest.untimed,
            n
        );
    }
}
