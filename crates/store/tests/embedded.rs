//! The embedded event log against the shared conformance checks, across
//! segment rotation and restarts, and under `kill -9` of a real process
//! that is appending.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vigie_store::embedded::{FileLog, Recovery};
use vigie_store::{conformance, EventLog, IngestBatch, Position, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_one_segment_and_with_many() {
    for segment_bytes in [64 << 20, 60] {
        let dir = tempfile::tempdir().unwrap();
        let (log, recovery) = FileLog::open(dir.path(), segment_bytes).unwrap();
        assert_eq!(
            recovery,
            Recovery {
                segments: 1,
                ..Recovery::default()
            }
        );
        conformance::event_log(&log).await;
        let segments = std::fs::read_dir(dir.path().join("events"))
            .unwrap()
            .count();
        if segment_bytes == 60 {
            assert!(segments > 2, "{segments} segments");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_a_time_begins_across_frames_and_segments() {
    for segment_bytes in [64 << 20, 60] {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), segment_bytes).unwrap();
        conformance::received_since(&log).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_after_commits() {
    for segment_bytes in [64 << 20, 60] {
        let dir = tempfile::tempdir().unwrap();
        conformance::event_log_restart(|| FileLog::open(dir.path(), segment_bytes).unwrap().0)
            .await;
    }
}

fn one(line: &str) -> IngestBatch {
    IngestBatch {
        tenant: "default".into(),
        source: "test".into(),
        received: 0,
        events: vec![line.as_bytes().to_vec()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_cut_and_said_damage_before_good_records_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, _) = FileLog::open(dir.path(), 64 << 20).unwrap();
        for i in 0..3 {
            log.append(one(&format!("{{\"n\":{i}}}"))).await.unwrap();
        }
    }
    let seg = dir.path().join("events/00000000000000000000.seg");
    let good = std::fs::read(&seg).unwrap();
    // A batch cut short by the crash: never acknowledged.
    let mut torn = good.clone();
    torn.extend_from_slice(b"VGF2\x40\x00\x00\x00partial");
    std::fs::write(&seg, &torn).unwrap();
    let (log, recovery) = FileLog::open(dir.path(), 64 << 20).unwrap();
    assert_eq!(recovery.records, 3);
    assert_eq!(recovery.truncated_bytes, 15);
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        good,
        "cut back to the good records"
    );
    assert_eq!(log.records().await.unwrap(), 3);
    drop(log);
    // A flipped byte in the first frame's header, intact frames after it:
    // the log is acknowledged evidence, it is not cut.
    let mut damaged = good.clone();
    damaged[14] ^= 0xff;
    std::fs::write(&seg, &damaged).unwrap();
    match FileLog::open(dir.path(), 64 << 20) {
        Err(StoreError::Damaged { offset, .. }) => assert_eq!(offset, 0),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened over damaged evidence"),
    }
    assert_eq!(std::fs::read(&seg).unwrap(), damaged, "left as it was");
}

/// Run as a child by [`kill_9_while_appending_loses_nothing_acknowledged`]:
/// appends batches for ever and prints each acknowledgement.
#[test]
fn appending_child() {
    let Ok(dir) = std::env::var("VIGIE_STORE_CHILD_DIR") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (log, _) = FileLog::open(Path::new(&dir), 1 << 16).unwrap();
        let start = log.records().await.unwrap();
        for b in start.. {
            let events = (0..50)
                .map(|i| {
                    // Padding that does not compress (frames are
                    // compressed): segments still fill and rotate.
                    let pad: String = (0..25u64)
                        .map(|k| {
                            let x = (b * 50 + i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                                ^ k.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                            format!("{:08x}", x.wrapping_mul(0x94D0_49BB_1331_11EB) >> 32)
                        })
                        .collect();
                    format!("{{\"batch\":{b},\"i\":{i},\"pad\":\"{pad}\"}}")
                })
                .map(String::into_bytes)
                .collect();
            let a = log
                .append(IngestBatch {
                    tenant: "default".into(),
                    source: "child".into(),
                    received: b as i64,
                    events,
                })
                .await
                .unwrap();
            println!("acked {} {} {b}", a.first.0, a.count);
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_appending_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    // (first position, count, batch number) of each acknowledgement.
    let mut acked: Vec<(u64, u64, u64)> = Vec::new();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "appending_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("VIGIE_STORE_CHILD_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let target = 40 * (round + 1);
        while acked.len() < target {
            let line = lines.next().expect("child output").unwrap();
            if let Some(rest) = line.strip_prefix("acked ") {
                let f: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap()).collect();
                acked.push((f[0], f[1], f[2]));
            }
        }
        // SIGKILL, mid-append most likely: the child is in a tight loop.
        child.kill().unwrap();
        child.wait().unwrap();
        let (log, recovery) = FileLog::open(dir.path(), 1 << 16).unwrap();
        let held = log.records().await.unwrap();
        let (last, n, _) = *acked.last().unwrap();
        assert!(
            held >= last + n,
            "round {round}: {held} held, {} acknowledged ({recovery:?})",
            last + n
        );
        // Every record, in order, without gaps.
        let mut records: Vec<(u64, u64)> = Vec::new();
        loop {
            let got = log
                .consume(&format!("check{round}"), 4096, Duration::ZERO)
                .await
                .unwrap();
            if got.is_empty() {
                break;
            }
            for d in got {
                assert_eq!(d.position, Position(records.len() as u64));
                let v: serde_json::Value = serde_json::from_slice(&d.event).unwrap();
                records.push((v["batch"].as_u64().unwrap(), v["i"].as_u64().unwrap()));
            }
        }
        assert_eq!(records.len() as u64, held);
        // Every acknowledged batch is where its acknowledgement said,
        // whole, and only there.
        for &(first, n, b) in &acked {
            let at = &records[first as usize..(first + n) as usize];
            let want: Vec<(u64, u64)> = (0..n).map(|i| (b, i)).collect();
            assert_eq!(at, want.as_slice(), "batch {b} at {first}");
            let starts = records.iter().filter(|r| **r == (b, 0)).count();
            assert_eq!(starts, 1, "batch {b} stored {starts} times");
        }
        assert!(
            std::fs::read_dir(dir.path().join("events"))
                .unwrap()
                .count()
                > 1,
            "segments rotated"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_delivery_is_bounded_in_bytes_not_only_in_events() {
    use vigie_store::embedded::MAX_DELIVERY_BYTES;
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = FileLog::open(dir.path(), 64 << 20).unwrap();
    let big = vec![b'x'; MAX_DELIVERY_BYTES * 5 / 8];
    for _ in 0..3 {
        log.append(IngestBatch {
            tenant: "default".into(),
            source: "test".into(),
            received: 0,
            events: vec![big.clone()],
        })
        .await
        .unwrap();
    }
    let sizes = |v: Vec<vigie_store::Delivery>| v.iter().map(|d| d.event.len()).sum::<usize>();
    let first = log.consume("w", 1000, Duration::ZERO).await.unwrap();
    assert_eq!(first.len(), 2, "stops once past the byte bound");
    assert!(sizes(first) < 2 * MAX_DELIVERY_BYTES);
    let rest = log.consume("w", 1000, Duration::ZERO).await.unwrap();
    assert_eq!(rest.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_off_reader_moved_to_a_position_reads_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = FileLog::open(dir.path(), 1 << 12).unwrap();
    for b in 0..10u64 {
        log.append(IngestBatch {
            tenant: "default".into(),
            source: "test".into(),
            received: 0,
            events: (0..10)
                .map(|i| format!("{{\"n\":{}}}", b * 10 + i).into_bytes())
                .collect(),
        })
        .await
        .unwrap();
    }
    let got = log.consume("search-1", 5, Duration::ZERO).await.unwrap();
    assert_eq!(got[0].position, Position(0));
    // Forward across segments, then back: the next read starts there.
    assert!(log.seek("search-1", Position(73)).await.unwrap());
    let got = log.consume("search-1", 5, Duration::ZERO).await.unwrap();
    assert_eq!(got[0].position, Position(73));
    assert_eq!(got[0].event, b"{\"n\":73}");
    assert!(log.seek("search-1", Position(12)).await.unwrap());
    let got = log.consume("search-1", 1, Duration::ZERO).await.unwrap();
    assert_eq!(got[0].position, Position(12));
    // Its committed position is not moved.
    assert_eq!(log.committed("search-1").await.unwrap(), None);
}
