//! The detection worker: the log's events through the same stages as
//! `hunt` (read by `vigie-source`, judged by the engine `hunt` compiles),
//! detections made durable, then the log position committed.
//!
//! Why this order: a worker killed between the two gets the same events
//! again, and writes the same detections under the same deterministic ids
//! ([`vigie_store::ids`]), which [`Detections`] keeps once.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use vigie_detect::Match;

use vigie_store::{Delivery, DetectionDoc, DetectionStore, EventLog, Position};

pub use crate::mask::{mask, TenantOff};

use crate::health::Health;
use crate::index::EventIndex;
use crate::live::{received_at, LiveScope};

mod detections;
mod judge;

pub use detections::{
    correlation_detection, document, Detections, FileDetections, StoredDetection,
};
pub use judge::{judge, judge_masked, Current, Judging, Problem, Progress, Seen, TenantCounts};

/// The consumer name of the detection worker in the log.
pub const CONSUMER: &str = "detect";

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
        "vigie serve: rebuilding the live scope from the events already judged (the log's kept events up to position {upto})"
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
                    observed(&live, &health, d, e, m, Received::Stamped);
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

/// The consumer that reads the log again when the live scope is rebuilt
/// after retention; it never commits (released once done).
pub const REBUILD: &str = "scope-rebuild";

/// Rebuilds the live scope from the events the log holds now (see
/// [`crate::live`]'s `rebuild`): read, judged again, observed into a new
/// scope while the worker goes on, which then takes the live one's place.
/// Late detections wait meanwhile (`live.late`). Said on stderr with its
/// size and what it changed; on a read error the live scope stays as it
/// was (said).
///
/// `reading`: the position the reader reached, below which retention may
/// remove segments meanwhile (`u64::MAX` once done). For the embedded log
/// only, whose `end` (its durable end) no event past has been given
/// before, and which never gives an event twice (see
/// [`LiveScope::begin_rebuild`]).
pub async fn rebuild(
    log: &vigie_store::embedded::FileLog,
    end: impl FnOnce() -> u64,
    judging: &Current,
    live: &Arc<LiveScope>,
    reading: &std::sync::atomic::AtomicU64,
) -> bool {
    let _late = live.late.lock().await;
    reading.store(0, Ordering::Release);
    let Some((shadow, from)) = live.begin_rebuild(end) else {
        reading.store(u64::MAX, Ordering::Release);
        return false;
    };
    // Dropped without an end (a panic): the shadow goes, the live scope
    // stays, and retention goes on.
    let guard = crate::live::Abandon::new(live, reading);
    // From the log's start, whatever a rebuild that ended early left.
    if let Err(e) = log.release(REBUILD).await {
        eprintln!("vigie serve: live scope rebuild: {e}");
    }
    let started = std::time::Instant::now();
    let seen = Arc::new(Seen::default());
    let mut read = 0u64;
    let done = loop {
        let batch = match log.consume(REBUILD, 8192, Duration::ZERO).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("vigie serve: the live scope cannot be rebuilt after retention (it stays as it was until the next try): {e}");
                break false;
            }
        };
        let Some(last) = batch.last().map(|d| d.position.0) else {
            break true;
        };
        let batch: Vec<Delivery> = batch.into_iter().filter(|d| d.position.0 < from).collect();
        read += batch.len() as u64;
        if !batch.is_empty() {
            let (judging, off, seen, shadow) =
                (judging.get(), judging.off(), seen.clone(), shadow.clone());
            let _ = tokio::task::spawn_blocking(move || {
                // Problems were counted the first time; not twice.
                let quiet = Progress::default();
                judge_masked(&judging, &off, &batch, &seen, &quiet, &|d, e, m| {
                    shadow.observe_received(&d.tenant, e, m, received_at(d.received))
                });
            })
            .await;
        }
        reading.store(last + 1, Ordering::Release);
        if last + 1 >= from {
            break true;
        }
    };
    if let Err(e) = log.release(REBUILD).await {
        eprintln!("vigie serve: live scope rebuild: {e}");
    }
    if !done {
        return false;
    }
    // Every position below the line observed by the worker too (judged,
    // then committed once its detections are stored): one it was still
    // judging would otherwise reach the rebuilt scope after the swap, a
    // second time.
    let (mut said, waiting) = (false, std::time::Instant::now());
    let mut observed = from == 0;
    while !observed {
        let committed = log.committed(CONSUMER).await;
        observed = matches!(committed, Ok(Some(p)) if p.0 + 1 >= from);
        if !observed && !said && waiting.elapsed() > Duration::from_secs(30) {
            said = true;
            let at = match committed {
                Ok(p) => format!("at position {}", p.map_or(0, |p| p.0 + 1)),
                Err(e) => e.to_string(),
            };
            eprintln!(
                "vigie serve: live scope rebuild: read to position {from}, waits for the detection worker to store the detections below it ({at}); the scope stays the one before meanwhile"
            );
        }
        if !observed {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let Some(r) = tokio::task::spawn_blocking({
        let live = live.clone();
        move || live.finish_rebuild()
    })
    .await
    .ok()
    .flatten() else {
        return false;
    };
    guard.done();
    eprintln!(
        "vigie serve: retention: live scope rebuilt from the {read} events the log keeps below position {from} (and those received since) in {:.1} s: {} detections held, {} before — what the removed events gave is forgotten, as after a restart",
        started.elapsed().as_secs_f64(),
        r.detections_after,
        r.detections_before
    );
    true
}

/// When the live scope takes an event as received.
#[derive(Clone, Copy)]
enum Received {
    /// Now: an event judged as it comes (the worker, an api node reading
    /// the stream) — the clock the answers measure the horizon's holds by.
    Now,
    /// At the log's stamp: an event read again (a restart's replay), so
    /// that what is held the horizon after its receipt is not held again
    /// from the restart on.
    Stamped,
}

/// What follows the judging of one event: the live scope observes it,
/// the sources' health counts it.
fn observed(
    live: &LiveScope,
    health: &Health,
    d: &Delivery,
    e: &vigie_event::Event,
    m: &[Match],
    received: Received,
) {
    let at = match received {
        Received::Now => chrono::Utc::now(),
        Received::Stamped => received_at(d.received),
    };
    live.observe_at(d.position.0, at, &d.tenant, e, m);
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
                observed(&live2, &health2, d, e, m, Received::Now)
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
    retained: Option<tokio::sync::oneshot::Receiver<()>>,
) {
    // Retention's first pass before the replay: what it removes is not
    // read (and then forgotten by a rebuild) at every start.
    if let Some(first) = retained {
        let _ = first.await;
    }
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
    // batch is read (and its segments inflated) while batches are judged,
    // and the one before is stored and committed meanwhile. Done one after
    // the other, the reading and the two durable writes (detections, then
    // the position) left a core idle for a third of the time. Two batches
    // are judged at once ([`JUDGED_AT_ONCE`]): a batch is about five
    // requests judged in parallel, and while its last request is judged
    // the other core starts on the next batch instead of waiting; the
    // storer still takes them in log order, so no position is committed
    // before the detections of every event below it are stored.
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
                // In the order the batches were read, whatever order their
                // judging ended in. `judge` catches what fails per request;
                // nothing else can, but it would be said.
                let docs = docs.await.unwrap_or_else(|e| {
                    eprintln!("vigie serve: judging a batch failed: {e}");
                    Vec::new()
                });
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
    let judging_places = Arc::new(tokio::sync::Semaphore::new(JUDGED_AT_ONCE));
    while let Some(batch) = batches.recv().await {
        let Ok(place) = judging_places.clone().acquire_owned().await else {
            break;
        };
        let positions: Vec<Position> = batch.iter().map(|d| d.position).collect();
        let (judging2, progress2, live2) = (judging.get(), progress.clone(), live.clone());
        let (seen2, health2, index2) = (seen.clone(), health.clone(), index.clone());
        let off = judging.off();
        let docs = tokio::task::spawn_blocking(move || {
            let found = judge_masked(&judging2, &off, &batch, &seen2, &progress2, &|d, e, m| {
                if keeps_scope {
                    observed(&live2, &health2, d, e, m, Received::Now)
                }
                if let Some(ix) = &index2 {
                    ix.saw(&d.tenant, d.position.0, e);
                }
            });
            if let Some(ix) = &index2 {
                ix.judged(batch.iter().map(|d| d.position.0));
            }
            // The batch's memory is given back before its place.
            drop(batch);
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
            drop(place);
            docs
        });
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
/// holds in memory bounded (five batches are in flight at most: queued,
/// two judged, queued to be stored, stored).
const BATCH: usize = 8192;

/// Batches judged at the same time: two, one per core of the modest
/// machine `serve` is sized for, so that neither core waits for the
/// other's last request of a batch. Each holds its batch in memory while
/// judged (see [`BATCH`]).
const JUDGED_AT_ONCE: usize = 2;

/// A batch being judged (its detections, once done), on its way to be
/// stored and committed.
struct Judged {
    docs: tokio::task::JoinHandle<Vec<DetectionDoc>>,
    positions: Vec<Position>,
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
