//! What opening and reading the embedded log do with damage and holes, on
//! real files: a torn last frame is cut whole and said (whatever its
//! events contain, whichever of its pages reached the disk), damage before
//! frames of the log refuses with its offset, a missing segment refuses
//! with the missing positions, and a reader never skips.
//!
//! Look-alike frames are built here from the documented layout
//! (`embedded::frame`), independently of the writer: a control shows that
//! the same bytes, at the offset and position they were made for, are
//! taken for evidence, so the cut is due to the offset and position
//! checks and not to a broken look-alike.

use std::path::Path;
use std::time::Duration;

use vigie_store::embedded::FileLog;
use vigie_store::{EventLog, IngestBatch, Position, StoreError};

mod common;
use common::{frame, noise, SOURCE};

fn batch(events: Vec<Vec<u8>>) -> IngestBatch {
    IngestBatch {
        tenant: "default".into(),
        source: SOURCE.into(),
        received: 0,
        events,
    }
}

fn one(line: &str) -> IngestBatch {
    batch(vec![line.as_bytes().to_vec()])
}

/// An old-style `VGR1` record (length, CRC-32 of the payload, payload).
fn old_record(payload: &[u8]) -> Vec<u8> {
    let mut out = b"VGR1".to_vec();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Where the first event of a one-event frame at `offset` starts.
fn event_offset(offset: u64) -> u64 {
    offset + 28 + 2 + 7 + 2 + SOURCE.len() as u64 + 8 + 4
}

const SEG0: &str = "events/00000000000000000000.seg";

/// A log of three one-event batches; its segment's bytes.
async fn three(dir: &Path) -> Vec<u8> {
    let (log, _) = FileLog::open(dir, 64 << 20).unwrap();
    for i in 0..3 {
        log.append(one(&format!("{{\"n\":{i}}}"))).await.unwrap();
    }
    std::fs::read(dir.join(SEG0)).unwrap()
}

async fn all(log: &FileLog, consumer: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let got = log.consume(consumer, 1000, Duration::ZERO).await.unwrap();
        if got.is_empty() {
            return out;
        }
        for d in got {
            assert_eq!(d.position, Position(out.len() as u64));
            out.push(d.event);
        }
    }
}

/// Opens after the last frame was damaged by `damage`: it must be cut
/// whole, said, and the log must go on.
async fn opens_cut(dir: &Path, good: &[u8], whole: &[u8], damage: impl Fn(&mut Vec<u8>)) {
    let seg = dir.join(SEG0);
    let mut bytes = whole.to_vec();
    damage(&mut bytes);
    std::fs::write(&seg, &bytes).unwrap();
    let (log, recovery) = FileLog::open(dir, 64 << 20).unwrap();
    assert_eq!(recovery.records, 3);
    assert_eq!(recovery.truncated_at, Some(good.len() as u64));
    assert_eq!(recovery.truncated_bytes, (bytes.len() - good.len()) as u64);
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        good,
        "cut back to the good frames"
    );
    log.append(one("{\"n\":3}")).await.unwrap();
    let events = all(&log, "check").await;
    assert_eq!(events.len(), 4);
    assert_eq!(events[3], b"{\"n\":3}");
    drop(log);
    std::fs::write(&seg, good).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_frame_is_cut_whatever_look_alikes_its_events_hold() {
    let dir = tempfile::tempdir().unwrap();
    let good = three(dir.path()).await;
    let at = good.len() as u64;
    // What a remote sender could put in one event: an old-style record,
    // a frame made for another offset, a frame made for this very offset
    // but a position that is not after the damaged frame's.
    let mut event = b"{\"msg\":\"".to_vec();
    event.extend_from_slice(&old_record(
        b"\x07\x00default\x04\x00test\0\0\0\0\0\0\0\0{}",
    ));
    event.extend_from_slice(&frame(0, 4, &[b"{\"forged\":1}"]));
    let here = event_offset(at) + event.len() as u64;
    event.extend_from_slice(&frame(here, 3, &[b"{\"forged\":2}"]));
    event.extend_from_slice(b"\"}");
    let whole = {
        let (log, _) = FileLog::open(dir.path(), 64 << 20).unwrap();
        log.append(batch(vec![event.clone()])).await.unwrap();
        std::fs::read(dir.path().join(SEG0)).unwrap()
    };
    // The crash, three ways: the frame cut short, its header never
    // written, one byte of its body wrong (header intact).
    opens_cut(dir.path(), &good, &whole, |b| b.truncate(b.len() - 3)).await;
    opens_cut(dir.path(), &good, &whole, |b| {
        b[at as usize..at as usize + 28].fill(0)
    })
    .await;
    opens_cut(dir.path(), &good, &whole, |b| {
        let last = b.len() - 1;
        b[last] ^= 0xff
    })
    .await;

    // Control: a frame at its own offset with a later position, after
    // damaged bytes, is taken for a frame of the log, so the cut above is
    // the offset and position checks at work. (Frames are compressed: an
    // event's bytes do not land at an offset its sender can know; the
    // control's frame is put there by hand.)
    let seg = dir.path().join(SEG0);
    let mut bytes = good.clone();
    bytes.extend_from_slice(&[0u8; 100]);
    let here = bytes.len() as u64;
    bytes.extend_from_slice(&frame(here, 4, &[b"{\"forged\":3}"]));
    std::fs::write(&seg, &bytes).unwrap();
    match FileLog::open(dir.path(), 64 << 20) {
        Err(StoreError::Damaged { offset, .. }) => assert_eq!(offset, at),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("the control frame was not recognised"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_frame_whose_later_pages_reached_the_disk_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let good = three(dir.path()).await;
    let at = good.len();
    // A batch of 40 events over 12 KiB compressed: its first 4 KiB page lost, the
    // later ones written, as the kernel may leave an unsynced batch.
    let whole = {
        let (log, _) = FileLog::open(dir.path(), 64 << 20).unwrap();
        let events = (0..40)
            .map(|i| format!("{{\"i\":{i},\"pad\":\"{}\"}}", noise(i, 1000)).into_bytes())
            .collect();
        log.append(batch(events)).await.unwrap();
        std::fs::read(dir.path().join(SEG0)).unwrap()
    };
    assert!(whole.len() - at > 3 * 4096);
    opens_cut(dir.path(), &good, &whole, |b| b[at..at + 4096].fill(0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_before_frames_of_the_log_refuses_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let good = three(dir.path()).await;
    let seg = dir.path().join(SEG0);
    // Frame 1 of 0..3 starts where frame 0 ends; frames are equal in size
    // here (one event of the same length each).
    let second = good.len() / 3;
    for flip in [second + 5, second + 40] {
        let mut damaged = good.clone();
        damaged[flip] ^= 0xff;
        std::fs::write(&seg, &damaged).unwrap();
        match FileLog::open(dir.path(), 64 << 20) {
            Err(e @ StoreError::Damaged { offset, .. }) => {
                assert_eq!(offset, second as u64, "byte {flip}");
                assert!(e.to_string().contains(&format!("byte {second}")), "{e}");
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened over damaged evidence (byte {flip})"),
        }
        assert_eq!(std::fs::read(&seg).unwrap(), damaged, "left as it was");
    }
}

/// A log of 12 one-event batches over several 200-byte segments; the
/// segments' first positions.
async fn segmented(dir: &Path) -> Vec<u64> {
    let (log, _) = FileLog::open(dir, 200).unwrap();
    for i in 0..12 {
        log.append(one(&format!("{{\"n\":{i},\"pad\":\"{}\"}}", noise(i, 100))))
            .await
            .unwrap();
    }
    let mut firsts: Vec<u64> = std::fs::read_dir(dir.join("events"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".seg").map(|n| n.parse().unwrap())
        })
        .collect();
    firsts.sort();
    assert!(firsts.len() >= 4, "{firsts:?}");
    firsts
}

fn aside(dir: &Path, first: u64) {
    let seg = dir.join(format!("events/{first:020}.seg"));
    std::fs::rename(&seg, seg.with_extension("seg.aside")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_moved_aside_stops_the_open_naming_the_missing_positions() {
    // The first, one in the middle, the newest, the two newest.
    for moved in [vec![0], vec![1], vec![11], vec![10, 11]] {
        let dir = tempfile::tempdir().unwrap();
        let firsts = segmented(dir.path()).await;
        assert_eq!(firsts.len(), 12, "one batch per segment: {firsts:?}");
        for &m in &moved {
            aside(dir.path(), firsts[m]);
        }
        let from = firsts[moved[0]];
        let (to, said_to) = match firsts.get(moved[moved.len() - 1] + 1) {
            Some(next) => (Some(next - 1), format!("to {}", next - 1)),
            None => (None, "and after".to_string()),
        };
        match FileLog::open(dir.path(), 200) {
            Err(e @ StoreError::Missing { first, last, .. }) => {
                assert_eq!((first, last), (from, to), "{moved:?}");
                let said = e.to_string();
                assert!(
                    said.contains(&format!("positions {from} {said_to}")),
                    "{said}"
                );
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened with segments {moved:?} moved aside"),
        }
    }
}

/// The segment being written deleted under the running service: appends
/// stop (they would be acknowledged into a file no one will read).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_segment_deleted_stops_appends() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = FileLog::open(dir.path(), 64 << 20).unwrap();
    log.append(one("{\"n\":0}")).await.unwrap();
    std::fs::remove_file(dir.path().join(SEG0)).unwrap();
    for _ in 0..2 {
        match log.append(one("{\"n\":1}")).await {
            Err(e @ StoreError::MustReopen(_)) => {
                assert!(e.to_string().contains("deleted"), "{e}")
            }
            Err(e) => panic!("{e}"),
            Ok(a) => panic!("acknowledged into a deleted file at {:?}", a.first),
        }
    }
    assert_eq!(log.records().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_stops_at_a_missing_segment_and_never_skips() {
    let dir = tempfile::tempdir().unwrap();
    let firsts = segmented(dir.path()).await;
    let (log, _) = FileLog::open(dir.path(), 200).unwrap();
    // Moved aside while the service runs.
    aside(dir.path(), firsts[2]);
    let mut seen = Vec::new();
    let err = loop {
        match log.consume("w", 1000, Duration::ZERO).await {
            Ok(got) => {
                assert!(!got.is_empty(), "stalled silently at {}", seen.len());
                seen.extend(got.iter().map(|d| d.position.0));
            }
            Err(e) => break e,
        }
    };
    let want: Vec<u64> = (0..firsts[2]).collect();
    assert_eq!(seen, want, "everything before the hole, nothing after it");
    match err {
        StoreError::Missing { first, last, .. } => {
            assert_eq!((first, last), (firsts[2], Some(firsts[3] - 1)))
        }
        e => panic!("{e}"),
    }
    // A consumer whose commit is past a hole is not concerned by it; one
    // that must go through it stops there.
    log.commit("late", Position(firsts[3] + 1)).await.unwrap();
    drop(log);
    std::fs::rename(
        dir.path()
            .join(format!("events/{:020}.seg.aside", firsts[2])),
        dir.path().join(format!("events/{:020}.seg", firsts[2])),
    )
    .unwrap();
    let (log, _) = FileLog::open(dir.path(), 200).unwrap();
    aside(dir.path(), firsts[1]);
    let got = log.consume("late", 1000, Duration::ZERO).await.unwrap();
    assert_eq!(
        got[0].position,
        Position(firsts[3] + 2),
        "starts after its commit"
    );
    assert!(
        matches!(
            log.consume("fresh", 1000, Duration::ZERO).await,
            Ok(ref g) if g.len() as u64 == firsts[1]
        ),
        "a fresh consumer gets the first segment"
    );
    assert!(matches!(
        log.consume("fresh", 1000, Duration::ZERO).await,
        Err(StoreError::Missing { .. })
    ));
}
