//! The tasks `serve` starts beside answering requests: retention applied
//! every ten minutes (and the live scope rebuilt after it), the live scope kept current, free memory given back
//! to the system.
//!
//! Apart from [`serve`] because each runs for the life of the process on
//! its own schedule: none decides anything about start-up.

use super::*;

/// How retention is applied: its policy, how often, and with what the live
/// scope is rebuilt after it.
pub(crate) struct Retaining {
    pub(crate) policy: vigie_store::embedded::Retention,
    pub(crate) every: std::time::Duration,
    /// `None` where this process keeps no live scope.
    pub(crate) judging: Option<Arc<worker::Current>>,
    /// Told once the first pass is done: the live scope's replay at start
    /// waits for it, so that it reads only what is kept, once.
    pub(crate) first_pass: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Applies the retention policy at start and every `every` (10 minutes by
/// default), never removing events the detection worker has not judged;
/// after a pass that removed segments for their age, the live scope is
/// rebuilt from what the log keeps, at most every [`REBUILD_EVERY`], as a
/// task of its own: the passes go on meanwhile, never removing what the
/// rebuild has not read yet.
pub(crate) async fn retain(
    log: FileLog,
    live: Arc<live::LiveScope>,
    index: Option<Arc<index::EventIndex>>,
    mut r: Retaining,
) {
    // A removal for age the live scope still holds, when the last rebuild
    // ended, the one under way and the position its reader reached.
    let (mut due, mut last_rebuild) = (false, None::<std::time::Instant>);
    let mut rebuilding: Option<tokio::task::JoinHandle<bool>> = None;
    let reading = Arc::new(AtomicU64::new(u64::MAX));
    loop {
        // After the first pass, not while the live scope is rebuilt at
        // start: its reader must not lose the segment it is in.
        while r.first_pass.is_none() && !live.rebuilt.load(Ordering::Acquire) {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
        let judged = match log.committed(worker::CONSUMER).await {
            Ok(Some(p)) => p.0 + 1,
            Ok(None) => 0,
            Err(e) => {
                eprintln!("vigie serve: retention: {e}");
                0
            }
        };
        let keep_from = judged.min(reading.load(Ordering::Acquire));
        let (l, policy) = (log.clone(), r.policy);
        match tokio::task::spawn_blocking(move || l.retain(&policy, keep_from)).await {
            Ok(Ok(kept)) => {
                // The index keeps nothing of what the log no longer holds.
                if let Some(ix) = &index {
                    ix.forget_below(kept.oldest_kept);
                }
                if kept.segments > 0 {
                    eprintln!(
                        "vigie serve: retention: {} segment(s), {} bytes removed; events kept from position {}",
                        kept.segments, kept.bytes, kept.oldest_kept
                    );
                }
                if kept.over_limit {
                    let why = if keep_from < judged {
                        "events the live scope's rebuild has not read yet"
                    } else {
                        "events not judged yet"
                    };
                    eprintln!(
                        "vigie serve: retention: the event log ({} bytes) is over its limit with {why}: kept",
                        kept.bytes_kept
                    );
                }
                // Only after removals for age alone: the log's size
                // reached by a flood removes young segments, and the scope
                // keeps what they gave (the incident under way) rather
                // than forget it at once. Not after the first pass: the
                // scope is then built from what it kept.
                if r.first_pass.is_none() {
                    due = (due || kept.by_age > 0) && kept.by_age == kept.segments;
                }
            }
            Ok(Err(e)) => eprintln!("vigie serve: retention: {e}"),
            Err(e) => eprintln!("vigie serve: retention: {e}"),
        }
        if let Some(first) = r.first_pass.take() {
            let _ = first.send(());
        }
        if let Some(done) = rebuilding.take_if(|h| h.is_finished()) {
            // One that could not read the log is tried again later.
            due |= !done.await.unwrap_or(false);
            last_rebuild = Some(std::time::Instant::now());
            give_back_free_memory();
        }
        let rested = last_rebuild.is_none_or(|t| t.elapsed() >= REBUILD_EVERY);
        if let (true, true, None, Some(judging)) = (due, rested, &rebuilding, &r.judging) {
            due = false;
            // Nothing removed from here on until the reader says where it
            // is (set before the task starts: a pass meanwhile must not
            // take the segment it is about to read).
            reading.store(0, Ordering::Release);
            let (log, judging, live, reading) =
                (log.clone(), judging.clone(), live.clone(), reading.clone());
            rebuilding = Some(tokio::spawn(async move {
                let end = || log.durable();
                worker::rebuild(&log, end, &judging, &live, &reading).await
            }));
        }
        tokio::time::sleep(r.every).await;
    }
}

/// The least time between two rebuilds of the live scope after retention
/// (see [`retain`]): a rebuild reads the whole log again (the time of a
/// `hunt` over it, one core), so a log whose segments go every hour is
/// not read again every hour; what removals meanwhile gave is forgotten
/// at the next one.
pub(crate) const REBUILD_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Re-derives each tenant's scope every few seconds when new events
/// were observed, so that the stats' incident count, the console and the
/// alerts follow the events without anyone asking first.
///
/// At most a third of the time goes to it: after an analysis that took
/// `d`, the next waits `max(5 s, 2·d)` — on a large scope under a heavy
/// ingest, detection keeps the machine.
pub(crate) async fn keep_scope_current(live: Arc<live::LiveScope>) {
    let mut wait = std::time::Duration::from_secs(5);
    loop {
        tokio::time::sleep(wait).await;
        if !live.rebuilt.load(Ordering::Acquire) {
            continue;
        }
        let l = live.clone();
        let started = std::time::Instant::now();
        let _ = tokio::task::spawn_blocking(move || {
            for tenant in l.tenants() {
                l.answer(&tenant);
            }
            give_back_free_memory();
        })
        .await;
        wait = std::time::Duration::from_secs(5).max(started.elapsed() * 2);
    }
}

/// Returns the allocator's free pages to the system.
///
/// Why: each answer copies the scope's facts and derives a scope from
/// them, then frees it all; glibc keeps what was freed inside its arenas
/// (only the top of a heap is given back by itself), so the resident size
/// climbed with every answer's garbage to far above what was in use (at
/// the end of a week replayed: 153 MiB free held for 104 MiB in use).
/// `malloc_trim` walks the arenas and gives whole free pages back; after
/// an answer, when most of the garbage was just freed.
pub(crate) fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}
