//! The tasks `serve` starts beside answering requests: retention applied
//! every ten minutes, the live scope kept current, free memory given back
//! to the system.
//!
//! Apart from [`serve`] because each runs for the life of the process on
//! its own schedule: none decides anything about start-up.

use super::*;

/// Applies the retention policy at start and every ten minutes, never
/// removing events the detection worker has not judged.
pub(crate) async fn retain(
    log: FileLog,
    policy: vigie_store::embedded::Retention,
    live: Arc<live::LiveScope>,
    index: Option<Arc<index::EventIndex>>,
) {
    // Not while the live scope is rebuilt: its reader must not lose the
    // segment it is in.
    while !live.rebuilt.load(Ordering::Acquire) {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    loop {
        let keep_from = match log.committed(worker::CONSUMER).await {
            Ok(Some(p)) => p.0 + 1,
            Ok(None) => 0,
            Err(e) => {
                eprintln!("vigie serve: retention: {e}");
                0
            }
        };
        let l = log.clone();
        match tokio::task::spawn_blocking(move || l.retain(&policy, keep_from)).await {
            Ok(Ok(r)) => {
                // The index keeps nothing of what the log no longer holds.
                if let Some(ix) = &index {
                    ix.forget_below(r.oldest_kept);
                }
                if r.segments > 0 {
                    eprintln!(
                        "vigie serve: retention: {} segment(s), {} bytes removed; events kept from position {}",
                        r.segments, r.bytes, r.oldest_kept
                    );
                }
                if r.over_limit {
                    eprintln!(
                        "vigie serve: retention: the event log ({} bytes) is over its limit with events not judged yet: kept",
                        r.bytes_kept
                    );
                }
            }
            Ok(Err(e)) => eprintln!("vigie serve: retention: {e}"),
            Err(e) => eprintln!("vigie serve: retention: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
}

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
