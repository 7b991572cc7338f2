//! Retention beyond the event log: the detections and the retro-hunts'
//! results are bounded by the same age (`--retention-days`).
//!
//! Why: the event log alone was bounded. After 64,600 detections a
//! tester's `state.db` was 132 MB and `retrohunts/` 96 MB beside a 0.6 MB
//! event log — the disk grew with what was found, without a limit. Every
//! ten minutes, the detections judged before the retention's age are
//! removed (their events went with the log's segments), and the
//! retro-hunt runs older than it too, except the [`KEPT_RUNS`] latest (a
//! run's record of what was searched stays while it may still be read).
//! What was removed is counted (`/api/v1/stats`, `/metrics`) and said.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::{Config, Shared};

/// The latest retro-hunt runs kept whatever their age.
pub const KEPT_RUNS: usize = 20;

/// What retention removed besides the event log, since start.
#[derive(Debug, Default)]
pub(crate) struct Removed {
    pub(crate) detections: AtomicU64,
    pub(crate) retrohunts: AtomicU64,
    /// Detections the store cannot remove (a regional database: its own
    /// administration bounds it): said once.
    said_unsupported: std::sync::atomic::AtomicBool,
}

/// Said at start when nothing bounds the disk: no age and no size.
pub(crate) fn warn_if_unbounded(config: &Config) {
    if config.retention.max_age.is_none() && config.retention.max_bytes.is_none() {
        eprintln!(
            "vigie serve: warning: --retention-days 0 and --retention-gb 0: the event log, the detections and the retro-hunts' results are kept without limit; the disk under {} will fill",
            config.data.display()
        );
    }
}

/// Every ten minutes, removes what is older than the retention's age
/// (nothing without one).
pub(crate) async fn keep_bounded(s: Shared) {
    let Some(age) = s.config.retention.max_age else {
        return;
    };
    loop {
        once(&s, age).await;
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
}

/// One pass: the detections, then the retro-hunt runs.
pub(crate) async fn once(s: &Shared, age: Duration) {
    let Ok(age) = chrono::Duration::from_std(age) else {
        return;
    };
    let before = (chrono::Utc::now() - age).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    match s.detections.remove_detected_before(&before).await {
        Ok(Some(n)) => {
            s.removed.detections.fetch_add(n, Ordering::Relaxed);
            if n > 0 {
                eprintln!(
                    "vigie serve: retention: {n} detection(s) judged before {before} removed"
                );
            }
        }
        Ok(None) => {
            if !s.removed.said_unsupported.swap(true, Ordering::Relaxed) {
                eprintln!("vigie serve: retention: the detection store keeps its detections (its database's own administration bounds it)");
            }
        }
        Err(e) => eprintln!("vigie serve: retention: detections: {e}"),
    }
    let dir = s.config.data.join("retrohunts");
    let runs = s.retrohunts.clone();
    let cutoff = SystemTime::now().checked_sub(age.to_std().unwrap_or_default());
    let removed =
        tokio::task::spawn_blocking(move || old_runs(&dir, cutoff, &|id| runs.is_running(id)))
            .await
            .unwrap_or_default();
    if removed > 0 {
        s.removed.retrohunts.fetch_add(removed, Ordering::Relaxed);
        eprintln!("vigie serve: retention: {removed} retro-hunt run(s) older than the retention removed (the {KEPT_RUNS} latest kept)");
    }
}

/// Removes the runs under `dir` last written before `cutoff`, but the
/// [`KEPT_RUNS`] latest and those running; how many.
fn old_runs(dir: &Path, cutoff: Option<SystemTime>, running: &dyn Fn(&str) -> bool) -> u64 {
    let Some(cutoff) = cutoff else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    // Run ids begin with their start time: sorted, newest first.
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut n = 0;
    for id in ids.into_iter().skip(KEPT_RUNS) {
        let path = dir.join(&id);
        let written = std::fs::metadata(path.join("summary.json"))
            .or_else(|_| std::fs::metadata(&path))
            .and_then(|m| m.modified());
        if running(&id) || !written.is_ok_and(|t| t < cutoff) {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => n += 1,
            Err(e) => eprintln!("vigie serve: retention: {}: {e}", path.display()),
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_runs_and_the_young_ones_stay() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..(KEPT_RUNS + 5) {
            let d = tmp
                .path()
                .join(format!("20260101T0000{i:02}Z-0000000{}", i % 10));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("summary.json"), "{}").unwrap();
        }
        // Written now: younger than a cutoff an hour ago, all kept.
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        assert_eq!(old_runs(tmp.path(), Some(hour_ago), &|_| false), 0);
        // Older than a cutoff in the future: all but the latest 20, and
        // the one running.
        let later = SystemTime::now() + Duration::from_secs(3600);
        let oldest = "20260101T000000Z-00000000";
        assert_eq!(old_runs(tmp.path(), Some(later), &|id| id == oldest), 4);
        let left = std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(left, KEPT_RUNS + 1);
        assert!(tmp.path().join(oldest).exists());
    }
}
