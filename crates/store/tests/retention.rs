//! Retention: the log stays within its size and age, never losing what
//! the detection worker has not judged, and reopens after a crash in the
//! middle of a removal.

use std::time::Duration;

use vigie_store::embedded::{FileLog, Retention};
use vigie_store::{EventLog, IngestBatch, Position};

mod common;
use common::noise;

fn one(n: u64) -> IngestBatch {
    IngestBatch {
        tenant: "default".into(),
        source: "test".into(),
        received: 0,
        // Padding that does not compress: about one event per segment.
        events: vec![format!("{{\"n\":{n},\"pad\":\"{}\"}}", noise(n, 450)).into_bytes()],
    }
}

fn segment_files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_judged_segments_go_first_and_readers_start_after_them() {
    let dir = tempfile::tempdir().unwrap();
    // About one event per segment.
    let (log, _) = FileLog::open(dir.path(), 300).unwrap();
    for n in 0..20 {
        log.append(one(n)).await.unwrap();
    }
    assert_eq!(segment_files(dir.path()).len(), 20);
    let size = |d: &std::path::Path| -> u64 {
        std::fs::read_dir(d.join("events"))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
            .map(|e| e.metadata().unwrap().len())
            .sum()
    };
    let total = size(dir.path());
    let limit = Retention {
        max_bytes: Some(total / 2),
        max_age: None,
    };

    // Nothing judged yet: nothing goes, and the limit is said not met.
    let r = log.retain(&limit, 0).unwrap();
    assert_eq!(r.segments, 0);
    assert!(r.over_limit);
    assert_eq!(segment_files(dir.path()).len(), 20);

    // Judged up to position 14: the oldest go until the log is under the
    // limit, none holding position 15 or later.
    let r = log.retain(&limit, 15).unwrap();
    assert!(r.segments >= 9 && r.segments <= 15, "{r:?}");
    assert!(!r.over_limit, "{r:?}");
    assert!(size(dir.path()) <= total / 2);
    assert_eq!(r.oldest_kept, r.segments);

    // A new reader starts at the oldest kept; appends go on.
    let got = log.consume("new", 100, Duration::ZERO).await.unwrap();
    assert_eq!(
        got.first().map(|d| d.position),
        Some(Position(r.oldest_kept))
    );
    assert_eq!(got.len() as u64, 20 - r.oldest_kept);
    log.append(one(20)).await.unwrap();
    drop(log);

    // Reopened: the kept segments follow one another from the oldest kept.
    let (log, rec) = FileLog::open(dir.path(), 300).unwrap();
    assert_eq!(rec.records, 21);
    assert_eq!(log.records().await.unwrap(), 21);
    let got = log.consume("again", 100, Duration::ZERO).await.unwrap();
    assert_eq!(got.len() as u64, 21 - r.oldest_kept);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_cut_short_by_a_crash_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = FileLog::open(dir.path(), 300).unwrap();
    for n in 0..6 {
        log.append(one(n)).await.unwrap();
    }
    drop(log);
    // The mark written, the segments below it not removed yet.
    std::fs::write(dir.path().join("events/oldest-kept"), "3").unwrap();
    let (log, rec) = FileLog::open(dir.path(), 300).unwrap();
    assert_eq!(rec.records, 6);
    assert_eq!(segment_files(dir.path()).len(), 3);
    let got = log.consume("c", 100, Duration::ZERO).await.unwrap();
    assert_eq!(got.first().map(|d| d.position), Some(Position(3)));
    drop(log);
    // A kept segment removed by hand is still a hole, said.
    std::fs::remove_file(
        dir.path()
            .join("events")
            .join(&segment_files(dir.path())[1]),
    )
    .unwrap();
    let err = FileLog::open(dir.path(), 300).err().expect("a hole");
    assert!(err.to_string().contains("positions 4"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_age_the_segment_being_written_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = FileLog::open(dir.path(), 300).unwrap();
    for n in 0..4 {
        log.append(one(n)).await.unwrap();
    }
    let r = log
        .retain(
            &Retention {
                max_age: Some(Duration::ZERO),
                max_bytes: None,
            },
            u64::MAX,
        )
        .unwrap();
    // Every sealed segment is older than zero; the current one stays.
    assert_eq!(r.segments, 3);
    assert_eq!(segment_files(dir.path()).len(), 1);
    assert_eq!(log.records().await.unwrap(), 4);
}
