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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vigie_store::{Delivery, EventLog, Position};

use crate::worker::{judge_masked, Judging, Progress, Seen, StoredDetection, TenantOff};

/// What a retro-hunt is asked.
/// The consumer names of retro-hunts (one process's own readers).
pub const CONSUMER_PREFIX: &str = "retrohunt-";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// One or more Sigma rules (YAML documents).
    pub rules: String,
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
}

/// A rule that could not be loaded, with its reason.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub rule: String,
    pub reason: String,
}

/// What a retro-hunt did and found.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub tenant: String,
    pub started: String,
    pub seconds: f64,
    pub rules_loaded: usize,
    pub rules_refused: Vec<Refused>,
    /// Of the rules given, those whose detections were left out: turned
    /// off for every tenant or by this commune (empty with
    /// `include_disabled`).
    pub rules_switched_off: Vec<String>,
    pub include_disabled: bool,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Log positions not read: `[0, events_skipped)`, received more than
    /// a day ([`RECEIPT_MARGIN_SECS`]) before `from` (so older than the
    /// range; events without a time among them not judged).
    pub events_skipped: u64,
    /// Log positions read: `[events_skipped, events_read)`.
    pub events_read: u64,
    /// Of the tenant's events, those in the range judged.
    pub events_in_range: u64,
    /// Events without a time: judged whatever the range (a range cannot
    /// leave them out without saying so; they are counted here).
    pub events_without_time: u64,
    /// Positions in `[events_skipped, events_read)` that neither the log
    /// nor its archive held any more (removed by retention before they
    /// were read, or before an archive took them): not judged, said.
    pub events_not_kept: u64,
    pub detections: usize,
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

/// Runs `req` over `tenant`'s stored events. Blocking parts run off the
/// async threads.
pub async fn run(
    log: &dyn EventLog,
    data: &std::path::Path,
    read: &vigie_source::ReadOptions,
    tenant: &str,
    req: Request,
    switched_off: &std::collections::HashSet<String>,
) -> Result<(Summary, Vec<StoredDetection>), RetroError> {
    let started = Utc::now();
    let clock = Instant::now();
    let id = format!(
        "{}-{:08x}",
        started.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u32>()
    );
    let dir = data.join("retrohunts").join(&id);
    std::fs::create_dir_all(&dir)?;
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, req.rules.as_bytes())?;
    let hunt = vigie_hunt::HuntConfig {
        rules: vec![vigie_hunt::pipeline::RuleSource::Path(rules)],
        ..Default::default()
    };
    let (engine, report) = tokio::task::spawn_blocking(move || vigie_hunt::compile_engine(&hunt))
        .await
        .map_err(|e| RetroError::Rules(e.to_string()))?
        .map_err(|e| RetroError::Rules(e.to_string()))?;
    let refused: Vec<Refused> = report
        .failures
        .iter()
        .map(|f| Refused {
            rule: f
                .title
                .clone()
                .or_else(|| f.id.clone())
                .unwrap_or_else(|| format!("document {}", f.document + 1)),
            reason: f.reason.clone(),
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
        read: read.clone(),
    });
    let scanned = scan_masked(log, judging, &off, Some(tenant), req.from, req.to, false).await?;
    let (skipped, read_upto) = (scanned.skipped, scanned.read_upto);
    let (in_range, untimed) = (scanned.in_range, scanned.untimed);
    let found = scanned.found;
    let summary = Summary {
        id,
        tenant: tenant.to_string(),
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        seconds: clock.elapsed().as_secs_f64(),
        rules_loaded: loaded,
        rules_refused: refused,
        rules_switched_off: left_out,
        include_disabled: req.include_disabled,
        from: req.from,
        to: req.to,
        events_skipped: skipped,
        events_read: read_upto,
        events_in_range: in_range,
        events_without_time: untimed,
        events_not_kept: scanned.not_kept,
        detections: found.len(),
        kept_in: dir.clone(),
    };
    let mut lines = Vec::new();
    for d in &found {
        serde_json::to_writer(&mut lines, d).map_err(std::io::Error::other)?;
        lines.push(b'\n');
    }
    std::fs::write(dir.join("detections.jsonl"), lines)?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec_pretty(&summary).map_err(std::io::Error::other)?,
    )?;
    Ok((summary, found))
}

/// What a scan of the stored events read and found.
pub struct Scanned {
    /// Log positions not read: `[0, skipped)`, received more than
    /// [`RECEIPT_MARGIN_SECS`] before the range's start (their events are
    /// older than it; events without a time among them are not judged).
    pub skipped: u64,
    /// Log positions read: `[skipped, read_upto)`.
    pub read_upto: u64,
    /// Events of the tenant(s) scanned within the range.
    pub in_range: u64,
    /// Events without a time (judged whatever the range).
    pub untimed: u64,
    /// Positions in `[skipped, read_upto)` not delivered: no longer kept.
    pub not_kept: u64,
    pub found: Vec<StoredDetection>,
    /// The events found, with the matches they raised, in the order of
    /// `found`'s events (for the live scope).
    pub events: Vec<(String, vigie_event::Event, Vec<vigie_detect::Match>)>,
}

/// How long before a range's start a retro-hunt begins to read, by time
/// of receipt: an event is received after it happens, so what was
/// received earlier than this before the start holds only older events —
/// unless a sender's clock is more than a day ahead. The margin absorbs
/// clocks a few hours wrong (a time zone misread) and ingest nodes'
/// clocks that differ. Why skip at all: a region's stream holds weeks,
/// and a retro-hunt of the last two days should not read them all.
pub const RECEIPT_MARGIN_SECS: i64 = 86_400;

/// Reads the events stored now (what arrives meanwhile is the live
/// worker's) with a one-off reader, as the worker reads them, and judges
/// those of `tenant` (every tenant when `None`) in the range with
/// `judging`. One reader, released after, whatever the outcome. With
/// `keep_events`, the events that raised something are kept too.
pub async fn scan(
    log: &dyn EventLog,
    judging: Arc<Judging>,
    tenant: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    keep_events: bool,
) -> Result<Scanned, RetroError> {
    scan_masked(
        log,
        judging,
        &TenantOff::new(),
        tenant,
        from,
        to,
        keep_events,
    )
    .await
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

/// [`scan`], each tenant's events judged without the rules of `off` it
/// turned off (its own switches).
pub async fn scan_masked(
    log: &dyn EventLog,
    judging: Arc<Judging>,
    off: &TenantOff,
    tenant: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    keep_events: bool,
) -> Result<Scanned, RetroError> {
    let off = Arc::new(off.clone());
    let end = log.records().await?;
    let consumer = format!("{CONSUMER_PREFIX}{:08x}", rand::random::<u32>());
    let mut out = Scanned {
        skipped: 0,
        read_upto: 0,
        in_range: 0,
        untimed: 0,
        not_kept: 0,
        found: Vec::new(),
        events: Vec::new(),
    };
    let seen = Arc::new(Seen::default());
    let outcome: Result<(), RetroError> = async {
        if let Some(f) = from {
            let since = (f - chrono::Duration::seconds(RECEIPT_MARGIN_SECS)).timestamp_micros();
            match log.received_since(since).await? {
                Some(p) if p.0 >= end => out.skipped = end,
                Some(p) if p.0 > 0 && log.seek(&consumer, p).await? => {
                    out.skipped = p.0;
                    // When what is found is the oldest kept and was
                    // received after `since`, what came before it may
                    // have been in range: removed, not skipped.
                    let removed = removed_before(log, p, since).await?;
                    out.skipped -= removed;
                    out.not_kept += removed;
                }
                _ => {}
            }
            out.read_upto = out.skipped + out.not_kept;
        }
        while out.read_upto < end {
            let batch = log.consume(&consumer, 8192, Duration::ZERO).await?;
            if batch.is_empty() {
                break;
            }
            // Positions are delivered in order: one jumped over is held
            // by neither the log nor its archive.
            for d in &batch {
                out.not_kept += d.position.0.saturating_sub(out.read_upto);
                out.read_upto = out.read_upto.max(d.position.0 + 1);
            }
            let mine: Vec<Delivery> = batch
                .into_iter()
                .filter(|d| tenant.is_none_or(|t| d.tenant == t) && d.position.0 < end)
                .collect();
            let (judging, seen, off) = (judging.clone(), seen.clone(), off.clone());
            let (got, n, u, events) = tokio::task::spawn_blocking(move || {
                let quiet = Progress::default();
                let counts = std::sync::Mutex::new((0u64, 0u64, Vec::new()));
                let got = judge_masked(&judging, &off, &mine, &seen, &quiet, &|d, e, m| {
                    let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
                    let inside = match e.timestamp {
                        Some(t) if from.is_some_and(|f| t < f) || to.is_some_and(|x| t > x) => {
                            false
                        }
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
            out.events.extend(events);
            out.found
                .extend(got.into_iter().filter(|d| in_window(d, from, to)));
        }
        Ok(())
    }
    .await;
    let _ = log.release(&consumer).await;
    outcome.map(|()| out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_store::embedded::{FileLog, Retention};
    use vigie_store::IngestBatch;

    const DAY: i64 = 86_400_000_000;

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
        let judging = || {
            Arc::new(Judging {
                engine: Arc::new(None),
                indicators: None,
                read: Default::default(),
            })
        };
        let at = |micros: i64| DateTime::<Utc>::from_timestamp_micros(micros).unwrap();
        let early = scan(&log, judging(), None, Some(at(t0 - 5 * DAY)), None, false)
            .await
            .unwrap();
        assert_eq!(
            (early.skipped, early.not_kept, early.read_upto),
            (0, r.oldest_kept, 150)
        );
        // From batch 25 on (the margin of a day before it): the kept
        // events before are skipped, nothing is missing.
        let late = scan(&log, judging(), None, Some(at(t0 + 51 * DAY)), None, false)
            .await
            .unwrap();
        assert_eq!((late.skipped, late.not_kept, late.read_upto), (125, 0, 150));
    }
}
