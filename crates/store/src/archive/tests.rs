//! The archive against an embedded log standing for the stream (whose
//! retention removes segments as JetStream's limits remove messages).

use super::*;
use crate::embedded::Retention;

const DAY: i64 = MICROS_PER_DAY;

fn batch(n: u64, received: i64) -> IngestBatch {
    IngestBatch {
        tenant: if n.is_multiple_of(2) {
            "default"
        } else {
            "mairie-b"
        }
        .into(),
        source: "t".into(),
        received,
        events: (0..5)
            .map(|i| format!("{{\"n\":{}}}", n * 5 + i).into_bytes())
            .collect(),
    }
}

fn policy() -> ArchivePolicy {
    ArchivePolicy {
        max_age: None,
        max_bytes: 1 << 30,
    }
}

/// What the stream holds now, given to the archive as its consumer
/// takes it.
async fn archive_all(stream: &FileLog, archive: &Archive) -> Taken {
    let mut all = Taken::default();
    loop {
        let got = stream
            .consume(archive.consumer(), 7, Duration::ZERO)
            .await
            .unwrap();
        let Some(last) = got.last().map(|d| d.position) else {
            return all;
        };
        let t = archive.take(stream, got).await.unwrap();
        stream.commit(archive.consumer(), last).await.unwrap();
        all.archived += t.archived;
        all.again += t.again;
        all.lost += t.lost;
    }
}

async fn read_all(log: &dyn EventLog, consumer: &str) -> Vec<Delivery> {
    let mut out = Vec::new();
    loop {
        let got = log.consume(consumer, 6, Duration::ZERO).await.unwrap();
        if got.is_empty() {
            break;
        }
        out.extend(got);
    }
    log.release(consumer).await.unwrap();
    out
}

/// Events that left the stream are read from the archive, the rest
/// from the stream, each position once, as it arrived; a seek lands
/// in either; the raw event of an old position is read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_and_the_stream_meet_exactly() {
    let (s, a) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (stream, _) = FileLog::open(s.path(), 300).unwrap();
    let archive = Arc::new(Archive::open(a.path(), policy(), 4096).await.unwrap());
    for n in 0..30 {
        stream.append(batch(n, 1_000 + n as i64)).await.unwrap();
    }
    let t = archive_all(&stream, &archive).await;
    assert_eq!((t.archived, t.lost), (150, 0));
    // Given again (a restart before the commit): held once.
    let again = archive
        .take(
            &stream,
            vec![stream.read_at(Position(42)).await.unwrap().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!((again.archived, again.again), (0, 1));
    // The stream's retention removes its oldest segments; what
    // arrives after is in the stream only.
    let r = stream
        .retain(
            &Retention {
                max_age: None,
                max_bytes: Some(600),
            },
            u64::MAX,
        )
        .await_sync();
    assert!(r.oldest_kept > 50, "{r:?}");
    assert!(stream.read_at(Position(0)).await.unwrap().is_none());
    for n in 30..40 {
        stream.append(batch(n, 1_000 + n as i64)).await.unwrap();
    }
    let log = ArchivedLog::new(
        Arc::new(stream.clone()),
        archive.clone(),
        vec!["retrohunt-".into()],
    );
    let all = read_all(&log, "retrohunt-1").await;
    let positions: Vec<u64> = all.iter().map(|d| d.position.0).collect();
    assert_eq!(positions, (0..200).collect::<Vec<_>>());
    for d in &all {
        assert_eq!(d.event, format!("{{\"n\":{}}}", d.position.0).into_bytes());
        assert_eq!(d.received, 1_000 + (d.position.0 / 5) as i64);
    }
    // Only the readers named: the workers' consumers are the stream's.
    let worker = read_all(&log, "detect").await;
    assert_eq!(worker.first().map(|d| d.position.0), Some(r.oldest_kept));
    // A seek into the archive, and one past it.
    for from in [37u64, 170] {
        assert!(log.seek("retrohunt-2", Position(from)).await.unwrap());
        let got = read_all(&log, "retrohunt-2").await;
        let positions: Vec<u64> = got.iter().map(|d| d.position.0).collect();
        assert_eq!(positions, (from..200).collect::<Vec<_>>(), "from {from}");
    }
    let old = log.read_at(Position(3)).await.unwrap().unwrap();
    assert_eq!(old.event, b"{\"n\":3}".to_vec());
    assert_eq!(log.received_since(1_008).await.unwrap(), Some(Position(40)));
    assert_eq!(
        log.received_since(1_035).await.unwrap(),
        Some(Position(175))
    );
    // One writer per directory.
    let second = Archive::open(a.path(), policy(), 4096).await;
    assert!(second.is_err_and(|e| e.to_string().contains("another process")));
}

/// Positions the stream removed before the archive read them are
/// counted as lost and start a new partition; the reader passes over
/// the hole, never giving another event in its place. Opened again,
/// the archive goes on where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_is_counted_and_the_archive_goes_on() {
    let (s, a) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (stream, _) = FileLog::open(s.path(), 300).unwrap();
    let archive = Archive::open(a.path(), policy(), 4096).await.unwrap();
    for n in 0..4 {
        stream.append(batch(n, 1_000)).await.unwrap();
    }
    archive_all(&stream, &archive).await;
    for n in 4..30 {
        stream.append(batch(n, 1_000)).await.unwrap();
    }
    let r = stream
        .retain(
            &Retention {
                max_age: None,
                max_bytes: Some(600),
            },
            u64::MAX,
        )
        .await_sync();
    // The archive's consumer was given 0..20 already; JetStream's
    // gives the oldest kept next, as the embedded log's reader made
    // again does: the hole shows to `take`.
    stream.release(archive.consumer()).await.unwrap();
    let t = archive_all(&stream, &archive).await;
    assert_eq!(t.lost, r.oldest_kept - 20, "{t:?} {r:?}");
    assert_eq!(t.archived, 150 - r.oldest_kept);
    let end = archive.end().await.unwrap();
    drop(archive);
    let archive = Arc::new(Archive::open(a.path(), policy(), 4096).await.unwrap());
    assert_eq!(archive.end().await.unwrap(), end);
    let log = ArchivedLog::new(Arc::new(stream), archive, vec!["retrohunt-".into()]);
    let got = read_all(&log, "retrohunt-x").await;
    let positions: Vec<u64> = got.iter().map(|d| d.position.0).collect();
    let want: Vec<u64> = (0..20).chain(r.oldest_kept..150).collect();
    assert_eq!(positions, want);
}

/// A partition per day of receipt; retention removes the oldest by
/// size and by age, never the one being written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_whole_days_oldest_first() {
    let (s, a) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (stream, _) = FileLog::open(s.path(), 1 << 20).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    // Four days: 40, 30, 2 and 0 days ago, two batches each.
    for (k, ago) in [40i64, 30, 2, 0].into_iter().enumerate() {
        for b in 0..2 {
            let t = (now - ago * DAY).div_euclid(DAY) * DAY + b;
            stream
                .append(batch(k as u64 * 2 + b as u64, t))
                .await
                .unwrap();
        }
    }
    let archive = Archive::open(
        a.path(),
        ArchivePolicy {
            max_age: Some(Duration::from_secs(10 * 86_400)),
            max_bytes: 1 << 30,
        },
        4096,
    )
    .await
    .unwrap();
    archive_all(&stream, &archive).await;
    let parts = || fs::read_dir(a.path().join("parts")).unwrap().count();
    assert_eq!(parts(), 4);
    let r = archive.retain().await.unwrap();
    assert_eq!(r.partitions, 2, "{r:?}");
    assert_eq!(archive.first(), Some(20));
    // By size: everything but the partition being written.
    drop(archive);
    let archive = Archive::open(
        a.path(),
        ArchivePolicy {
            max_age: None,
            max_bytes: 1,
        },
        4096,
    )
    .await
    .unwrap();
    let r = archive.retain().await.unwrap();
    assert_eq!(r.partitions, 1);
    assert!(r.over_limit);
    assert_eq!(archive.first(), Some(30));
    assert!(Archive::open(
        tempfile::tempdir().unwrap().path(),
        ArchivePolicy {
            max_age: None,
            max_bytes: 0
        },
        4096
    )
    .await
    .is_err());
}

/// A reader in a partition retention removes finishes and lets go
/// without making it again: retention goes on removing (an empty
/// unsealed partition made by a reader stopped it for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_never_makes_a_removed_partition_again() {
    let (s, a) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (stream, _) = FileLog::open(s.path(), 1 << 20).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    // Three days: 40, 30 and 0 days ago.
    for (k, ago) in [40i64, 30, 0].into_iter().enumerate() {
        let t = (now - ago * DAY).div_euclid(DAY) * DAY;
        for b in 0..2 {
            stream
                .append(batch(k as u64 * 2 + b as u64, t + b as i64))
                .await
                .unwrap();
        }
    }
    let archive = Arc::new(
        Archive::open(
            a.path(),
            ArchivePolicy {
                max_age: Some(Duration::from_secs(10 * 86_400)),
                max_bytes: 1 << 30,
            },
            4096,
        )
        .await
        .unwrap(),
    );
    archive_all(&stream, &archive).await;
    let log = ArchivedLog::new(
        Arc::new(stream.clone()),
        archive.clone(),
        vec!["retrohunt-".into()],
    );
    // One reader in the oldest partition, one moved there by a seek.
    let got = log.consume("retrohunt-a", 3, Duration::ZERO).await.unwrap();
    assert_eq!(got.first().map(|d| d.position.0), Some(0));
    assert!(log.seek("retrohunt-b", Position(12)).await.unwrap());
    assert_eq!(
        log.consume("retrohunt-b", 1, Duration::ZERO)
            .await
            .unwrap()
            .first()
            .map(|d| d.position.0),
        Some(12)
    );
    let r = archive.retain().await.unwrap();
    assert_eq!(r.partitions, 2, "{r:?}");
    assert_eq!(archive.first(), Some(20));
    // They read on (past what was removed) and let go.
    let rest = read_all(&log, "retrohunt-a").await;
    assert!(rest.iter().all(|d| d.position.0 >= 20), "{rest:?}");
    log.release("retrohunt-b").await.unwrap();
    assert!(log.seek("retrohunt-c", Position(1)).await.unwrap());
    assert!(log.seek("retrohunt-c", Position(25)).await.unwrap());
    log.release("retrohunt-c").await.unwrap();
    assert!(archive.read_at(Position(3)).await.unwrap().is_none());
    assert_eq!(log.received_since(0).await.unwrap(), Some(Position(20)));
    let parts = || fs::read_dir(a.path().join("parts")).unwrap().count();
    assert_eq!(parts(), 1, "a removed partition made again");
    assert_eq!(archive.first(), Some(20));
    // An empty unsealed partition left before the newest (as readers
    // made before) no longer stops retention: sealed, and removed.
    archive.create_part(0).unwrap();
    assert_eq!(parts(), 2);
    let r = archive.retain().await.unwrap();
    assert_eq!(r.partitions, 1, "{r:?}");
    assert_eq!(parts(), 1);
    assert_eq!(archive.first(), Some(20));
}

/// A stream deleted and made again starts its positions over: its
/// events are refused (nothing written, the error saying why and how
/// many), never taken as held already; one delivered again is still.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_made_again_is_refused_not_dropped() {
    let (s, a) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (stream, _) = FileLog::open(s.path(), 1 << 20).unwrap();
    let archive = Archive::open(a.path(), policy(), 4096).await.unwrap();
    for n in 0..6 {
        stream.append(batch(n, 1_000)).await.unwrap();
    }
    archive_all(&stream, &archive).await;
    let again = vec![stream.read_at(Position(29)).await.unwrap().unwrap()];
    assert_eq!(archive.take(&stream, again).await.unwrap().again, 1);
    let s2 = tempfile::tempdir().unwrap();
    let (made_again, _) = FileLog::open(s2.path(), 1 << 20).unwrap();
    for n in 0..2 {
        made_again.append(batch(n + 100, 2_000)).await.unwrap();
    }
    let got = made_again
        .consume(archive.consumer(), 100, Duration::ZERO)
        .await
        .unwrap();
    let err = archive
        .take(&made_again, got)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("made again"), "{err}");
    assert!(err.contains("10 of 10 delivered events"), "{err}");
    assert_eq!(archive.end().await.unwrap(), 30);
    assert_eq!(
        archive.read_at(Position(3)).await.unwrap().unwrap().event,
        b"{\"n\":3}".to_vec()
    );
}

/// An event stamped in the future (an ingest node's clock wrong) does
/// not make its day the current one (the partition would never end),
/// and the span retention ages by is believed no later than the
/// archive's clock (plus an hour); the event keeps its own time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_of_receipt_in_the_future_is_not_believed() {
    let (s, a) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (stream, _) = FileLog::open(s.path(), 1 << 20).unwrap();
    let archive = Archive::open(a.path(), policy(), 4096).await.unwrap();
    let now = now_micros();
    let future = now + 100 * DAY;
    stream.append(batch(0, now - 40 * DAY)).await.unwrap();
    stream.append(batch(1, future)).await.unwrap();
    archive_all(&stream, &archive).await;
    assert_eq!(
        archive
            .read_at(Position(5))
            .await
            .unwrap()
            .unwrap()
            .received,
        future
    );
    archive.seal(5).await.unwrap();
    let span = read_span(&a.path().join("parts").join(part_name(5)).join("span"))
        .unwrap()
        .unwrap();
    assert!(
        span.last_received <= now_micros() + FUTURE_MARGIN_MICROS,
        "{span:?}"
    );
    let today = day(now_micros() + FUTURE_MARGIN_MICROS);
    assert!(archive.day.lock().unwrap().is_some_and(|d| d <= today));
}

trait AwaitSync {
    fn await_sync(self) -> crate::embedded::Retained;
}
impl AwaitSync for Result<crate::embedded::Retained> {
    fn await_sync(self) -> crate::embedded::Retained {
        self.unwrap()
    }
}
