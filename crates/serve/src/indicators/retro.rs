//! The retro-hunt of indicators that arrived: the stored events of every
//! tenant judged with the new indicators only, as a run of its own.
//!
//! Why not under the retro-hunts' lock: a scan of a region's year of
//! archive holding it would answer every analyst's retro-hunt "busy" for
//! hours. These runs have their own queue (one at a time), the same time
//! budget as any retro-hunt (`[retrohunt] max_seconds`), and hand each
//! batch's detections on as they are found: nothing grows with the
//! range.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use vigie_intel::{MatchOptions, Matcher};

use super::{Job, RetroRun};
use crate::retrohunt::scan::{self, FoundEvent, Sink};
use crate::retrohunt::{keep_summary, runs, Budget, FileSink, RetroError};
use crate::worker::{StoredDetection, TenantOff};
use crate::Shared;

/// Runs the queued retro-hunts one at a time, for as long as the server
/// runs.
pub(crate) async fn retro_hunts(s: Shared, mut rx: tokio::sync::mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = rx.recv().await {
        // Not while the live scope is rebuilt: its findings would be
        // added to part of the events.
        while s.config.role == crate::NodeRole::All
            && !s.live.rebuilt.load(std::sync::atomic::Ordering::Acquire)
        {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        // Not while the live scope is rebuilt after retention either: its
        // late detections would miss the scope that replaces it. Taken
        // before the run is recorded: a run waiting is not said running.
        let late = s.live.late.lock().await;
        let (id, source, n) = (job.id.clone(), job.source.clone(), job.indicators.len());
        let started = chrono::Utc::now();
        let clock = std::time::Instant::now();
        let mut run = RetroRun {
            id: id.clone(),
            source,
            indicators: n,
            state: "running",
            started: Some(started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ..RetroRun::default()
        };
        s.intel.record(run.clone());
        let dir = s.config.data.join("retrohunts").join(&run.id);
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| keep_summary(&dir, &run)) {
            eprintln!("vigie serve: retro-hunt {id}: {e}");
        }
        let outcome = retro_one(&s, job).await;
        drop(late);
        match outcome {
            Ok(done) => {
                run.state = if done.scanned.stopped.is_some() {
                    "stopped"
                } else {
                    "done"
                };
                run.complete = Some(done.scanned.stopped.is_none());
                run.stopped = done.scanned.stopped;
                run.reached_position = done.scanned.stopped.map(|_| done.scanned.read_upto);
                run.events_in_log = Some(done.scanned.end);
                run.events_read = Some(done.scanned.read_upto);
                run.detections = Some(done.found);
                run.new_detections = Some(done.new);
                let (read, found, new) = (done.scanned.read_upto, done.found, done.new);
                match done.scanned.stopped {
                    None => eprintln!(
                        "vigie serve: retro-hunt {id} of {n} new indicator(s): {read} event(s) read, {found} detection(s) ({new} new)"
                    ),
                    Some(why) => eprintln!(
                        "vigie serve: retro-hunt {id} of {n} new indicator(s) NOT COMPLETE ({why:?}): stopped at position {read} of {}; {found} detection(s) ({new} new) up to there",
                        done.scanned.end
                    ),
                }
            }
            Err((e, read)) => {
                run.state = "failed";
                run.complete = Some(false);
                run.events_read = Some(read);
                run.error = Some(e.clone());
                eprintln!("vigie serve: retro-hunt {id}: {e}");
            }
        }
        run.seconds = Some(clock.elapsed().as_secs_f64());
        if let Err(e) = keep_summary(&dir, &run) {
            eprintln!("vigie serve: retro-hunt {}: {e}", run.id);
        }
        s.intel.record(run);
    }
}

/// What one run did.
struct Done {
    scanned: scan::Scanned,
    found: usize,
    new: usize,
}

/// Each batch's detections, marked with the run: written to the run's
/// `detections.jsonl`, stored (the event's own time kept), and the events
/// of a batch that brought new ones given to the live scope.
struct Stored<'a> {
    s: &'a Shared,
    job: String,
    file: FileSink,
    new: usize,
}

#[async_trait]
impl Sink for Stored<'_> {
    async fn take(
        &mut self,
        mut found: Vec<StoredDetection>,
        events: Vec<FoundEvent>,
    ) -> Result<(), RetroError> {
        if found.is_empty() {
            return Ok(());
        }
        for d in &mut found {
            d.retrohunt = Some(self.job.clone());
        }
        self.file.write(&found).await?;
        let docs = found
            .iter()
            .map(crate::worker::document)
            .collect::<Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        let new = self.s.detections.put(docs).await?;
        self.new += new;
        if new > 0 {
            let live = self.s.live.clone();
            let _ = tokio::task::spawn_blocking(move || {
                for (tenant, event, matches) in &events {
                    live.observe_late(tenant, event, matches);
                }
            })
            .await;
        }
        Ok(())
    }
}

/// One retro-hunt within the time budget; on error, why and how far it
/// read.
async fn retro_one(s: &Shared, job: Job) -> Result<Done, (String, u64)> {
    let indicators = job.indicators;
    let matcher = tokio::task::spawn_blocking(move || {
        Matcher::compile(indicators, MatchOptions::default()).0
    })
    .await
    .map_err(|e| (e.to_string(), 0))?;
    let judging = Arc::new(crate::worker::Judging {
        engine: Arc::new(None),
        indicators: Some(Arc::new(matcher)),
        read: s.config.hunt.read.clone(),
    });
    let dir = s.config.data.join("retrohunts").join(&job.id);
    let file = FileSink::create(&dir, 0).map_err(|e| (format!("{}: {e}", dir.display()), 0))?;
    let budget = Budget::seconds(s.config.retrohunt.max_seconds);
    let _live = s.retrohunts.start(
        &job.id,
        None,
        runs::Live {
            read: budget.read.clone(),
            detections: file.count.clone(),
            cancel: budget.cancel.clone(),
            started: std::time::Instant::now(),
        },
    );
    let mut sink = Stored {
        s,
        job: job.id.clone(),
        file,
        new: 0,
    };
    let scope = scan::Scope {
        keep_events: true,
        ..scan::Scope::default()
    };
    let scanned = scan::scan(
        &s.log,
        judging,
        &TenantOff::new(),
        &scope,
        &budget,
        &mut sink,
    )
    .await
    .map_err(|e| (e.to_string(), budget.read.load(Ordering::Acquire)))?;
    Ok(Done {
        scanned,
        found: sink.file.count.load(Ordering::Acquire) as usize,
        new: sink.new,
    })
}
