//! The store's contract, checked against a real nats-server with
//! JetStream (started privately by each test; skipped without one outside
//! CI), and what the regional deployment adds to it: workers sharing one
//! durable consumer, a dead worker's events handed to the others, an
//! outage refused rather than lost.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use vigie_bus::{JetStreamLog, Options, StreamLimits};
use vigie_store::{conformance, EventLog, IngestBatch, Position};
use vigie_testkit::servers::Nats;

fn batch(tenant: &str, n: std::ops::Range<u32>) -> IngestBatch {
    IngestBatch {
        tenant: tenant.into(),
        source: "http".into(),
        received: 1_767_225_600_000_000,
        events: n.map(|i| format!("{{\"n\":{i}}}").into_bytes()).collect(),
    }
}

fn short(ack_wait: Duration) -> Options {
    Options {
        ack_wait,
        timeout: Duration::from_secs(2),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_log_meets_the_contract() {
    let Some(nats) = Nats::start() else { return };
    let log = JetStreamLog::new(&nats.url(), Options::default());
    conformance::event_log(&log).await;
}

/// A retro-hunt's start by time: read by sequence, a one-off consumer
/// moved to where a period's events begin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_log_finds_where_a_time_begins_and_starts_a_reader_there() {
    let Some(nats) = Nats::start() else { return };
    let opts = Options {
        local: vec!["retrohunt-".into()],
        ..Options::default()
    };
    let log = JetStreamLog::new(&nats.url(), opts);
    conformance::received_since(&log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_log_resumes_after_a_restart() {
    let Some(nats) = Nats::start() else { return };
    let url = nats.url();
    conformance::event_log_restart(|| JetStreamLog::new(&url, Options::default())).await;
}

/// The stream gets the configuration's retention when it is made, and
/// again when a node with another configuration connects; the rest of
/// the stream's settings stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streams_limits_are_the_configurations_retention() {
    let Some(nats) = Nats::start() else { return };
    let day = 86_400;
    let limits = |max_age_secs, max_bytes| Options {
        limits: StreamLimits {
            max_age_secs,
            max_bytes,
        },
        ..Options::default()
    };
    let log = JetStreamLog::new(&nats.url(), limits(Some(90 * day), Some(1 << 30)));
    log.append(batch("default", 0..3)).await.unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let info = |js: async_nats::jetstream::Context| async move {
        js.get_stream("VIGIE_EVENTS")
            .await
            .unwrap()
            .get_info()
            .await
            .unwrap()
    };
    let i = info(js.clone()).await;
    assert_eq!(i.config.max_age, Duration::from_secs(90 * day));
    assert_eq!(i.config.max_bytes, 1 << 30);
    assert_eq!(
        i.config.retention,
        async_nats::jetstream::stream::RetentionPolicy::Limits
    );
    // An operator's own setting, which Vigie never touches.
    let mut edited = i.config.clone();
    edited.max_messages_per_subject = 1_000_000;
    js.update_stream(edited).await.unwrap();
    // Another node told 30 days only: the age follows, the size and the
    // operator's setting stay, and so do the events.
    let other = JetStreamLog::new(&nats.url(), limits(Some(30 * day), None));
    assert_eq!(other.records().await.unwrap(), 3);
    let i = info(js.clone()).await;
    assert_eq!(i.config.max_age, Duration::from_secs(30 * day));
    assert_eq!(i.config.max_bytes, 1 << 30);
    assert_eq!(i.config.max_messages_per_subject, 1_000_000);
    assert_eq!(i.state.messages, 3);
    // "0": no limit of that kind.
    let unlimited = JetStreamLog::new(&nats.url(), limits(None, Some(0)));
    assert_eq!(unlimited.records().await.unwrap(), 3);
    let i = info(js.clone()).await;
    assert_eq!(
        (i.config.max_age, i.config.max_bytes),
        (Duration::from_secs(30 * day), -1)
    );
    // A node told nothing leaves every limit as it is.
    let silent = JetStreamLog::new(&nats.url(), Options::default());
    assert_eq!(silent.records().await.unwrap(), 3);
    let i = info(js.clone()).await;
    assert_eq!(
        (i.config.max_age, i.config.max_bytes),
        (Duration::from_secs(30 * day), -1)
    );
    // A size the server's store cannot hold: refused, and said why.
    let huge = JetStreamLog::new(&nats.url(), limits(None, Some(1 << 50)));
    let e = huge.records().await.unwrap_err().to_string();
    assert!(e.contains("max_file_store"), "{e}");
}

/// A request bigger than the client's in-flight publish limit (5,000)
/// is stored whole, in order, and answered: it used to wait for ever
/// (every publish sent before any ack was awaited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_of_twelve_thousand_events_is_stored_whole() {
    let Some(nats) = Nats::start() else { return };
    let log = JetStreamLog::new(&nats.url(), Options::default());
    let appended = tokio::time::timeout(
        Duration::from_secs(60),
        log.append(batch("default", 0..12_000)),
    )
    .await
    .expect("the append answers")
    .unwrap();
    assert_eq!((appended.first, appended.count), (Position(0), 12_000));
    let again = log.append(batch("default", 12_000..12_010)).await.unwrap();
    assert_eq!((again.first, again.count), (Position(12_000), 10));
    assert_eq!(log.records().await.unwrap(), 12_010);
    let first = log.consume("detect", 3, Duration::ZERO).await.unwrap();
    let events: Vec<&[u8]> = first.iter().map(|d| d.event.as_slice()).collect();
    assert_eq!(events, [&b"{\"n\":0}"[..], b"{\"n\":1}", b"{\"n\":2}"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_one_consumer_each_event_to_one() {
    let Some(nats) = Nats::start() else { return };
    let ingest = JetStreamLog::new(&nats.url(), Options::default());
    let a = JetStreamLog::new(&nats.url(), Options::default());
    let b = JetStreamLog::new(&nats.url(), Options::default());
    let appended = ingest.append(batch("mairie-a", 0..300)).await.unwrap();
    assert_eq!((appended.first, appended.count), (Position(0), 300));
    let mut seen = BTreeSet::new();
    let mut by_a = 0;
    let mut by_b = 0;
    for round in 0..100 {
        let (ga, gb) = tokio::join!(
            a.consume("detect", 16, Duration::ZERO),
            b.consume("detect", 16, Duration::ZERO)
        );
        let (ga, gb) = (ga.unwrap(), gb.unwrap());
        if ga.is_empty() && gb.is_empty() {
            break;
        }
        assert!(round < 99, "never drained");
        by_a += ga.len();
        by_b += gb.len();
        for d in ga.iter().chain(&gb) {
            assert!(seen.insert(d.position.0), "{} given twice", d.position.0);
            assert_eq!(d.tenant, "mairie-a");
        }
        if let Some(last) = ga.last() {
            a.commit("detect", last.position).await.unwrap();
        }
        if let Some(last) = gb.last() {
            b.commit("detect", last.position).await.unwrap();
        }
    }
    assert_eq!(seen.len(), 300);
    assert!(by_a > 0 && by_b > 0, "both worked: {by_a} / {by_b}");
    assert_eq!(
        ingest.committed("detect").await.unwrap(),
        Some(Position(299))
    );
}

/// A worker that takes `n` events of the `detect` consumer and is killed:
/// its runtime (its connection, its tasks) ends at once; it never
/// acknowledges nor lets go (no clean stop).
fn a_worker_takes_and_dies(url: &str, wait: Duration, n: usize) {
    let url = url.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dead = JetStreamLog::new(&url, short(wait));
            let taken = dead.consume("detect", n, Duration::ZERO).await.unwrap();
            assert_eq!(taken.len(), n);
            std::mem::forget(dead);
        });
        drop(rt);
    })
    .join()
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_events_go_to_another_after_the_ack_wait() {
    let Some(nats) = Nats::start() else { return };
    let wait = Duration::from_secs(1);
    let ingest = JetStreamLog::new(&nats.url(), short(wait));
    ingest.append(batch("default", 0..10)).await.unwrap();
    a_worker_takes_and_dies(&nats.url(), wait, 4);
    let alive = JetStreamLog::new(&nats.url(), short(wait));
    let started = Instant::now();
    let mut got = BTreeSet::new();
    while got.len() < 10 && started.elapsed() < Duration::from_secs(10) {
        for d in alive
            .consume("detect", 100, Duration::from_millis(200))
            .await
            .unwrap()
        {
            got.insert(d.position.0);
            alive.commit("detect", d.position).await.unwrap();
        }
    }
    assert_eq!(got, (0..10).collect(), "every event, the dead one's too");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(alive.committed("detect").await.unwrap(), Some(Position(9)));
}

/// The detection worker reads its next batch before the previous one is
/// committed: committing a batch acknowledges exactly its events, not
/// one given since that lies below them (a dead worker's, redelivered)
/// and is not judged yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_committed_acknowledges_its_events_and_no_later_one_below_them() {
    batch_commit(false).await;
}

/// The same through the archive's wrapper (`--archive` on a node that
/// detects): it must commit as the stream does, not up to the largest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_committed_through_the_archive_acknowledges_its_events_only() {
    batch_commit(true).await;
}

async fn batch_commit(archived: bool) {
    let Some(nats) = Nats::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wait = Duration::from_secs(1);
    let ingest = JetStreamLog::new(&nats.url(), short(wait));
    ingest.append(batch("default", 0..10)).await.unwrap();
    a_worker_takes_and_dies(&nats.url(), wait, 4);
    let stream = JetStreamLog::new(&nats.url(), short(wait));
    let alive: std::sync::Arc<dyn EventLog> = if archived {
        let policy = vigie_store::archive::ArchivePolicy {
            max_age: None,
            max_bytes: 1 << 30,
        };
        let archive = vigie_store::archive::Archive::open(dir.path(), policy, 4096)
            .await
            .unwrap();
        std::sync::Arc::new(vigie_store::archive::ArchivedLog::new(
            std::sync::Arc::new(stream),
            std::sync::Arc::new(archive),
            vec!["retrohunt-".into()],
        ))
    } else {
        std::sync::Arc::new(stream)
    };
    let first = alive
        .consume("detect", 100, Duration::from_millis(200))
        .await
        .unwrap();
    let first: Vec<Position> = first.iter().map(|d| d.position).collect();
    assert_eq!(first, (4..10).map(Position).collect::<Vec<_>>());
    // The dead worker's events, given again after the ack wait.
    let started = Instant::now();
    let mut again = Vec::new();
    while again.len() < 4 && started.elapsed() < Duration::from_secs(10) {
        again.extend(
            alive
                .consume("detect", 100, Duration::from_millis(200))
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.position),
        );
    }
    again.sort();
    assert_eq!(again, (0..4).map(Position).collect::<Vec<_>>());
    alive.commit_batch("detect", &first).await.unwrap();
    assert_eq!(
        alive.committed("detect").await.unwrap(),
        None,
        "the events given again are not acknowledged with the earlier batch"
    );
    alive.commit_batch("detect", &again).await.unwrap();
    assert_eq!(alive.committed("detect").await.unwrap(), Some(Position(9)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_refused_and_nothing_acknowledged_is_lost() {
    let Some(mut nats) = Nats::start() else {
        return;
    };
    let log = JetStreamLog::new(&nats.url(), short(Duration::from_secs(30)));
    log.append(batch("default", 0..5)).await.unwrap();
    nats.stop();
    let refused = log.append(batch("default", 5..6)).await;
    assert!(refused.is_err(), "appended while the server is down");
    nats.resume();
    // The client reconnects by itself; appends work again.
    let started = Instant::now();
    let again = loop {
        match log.append(batch("default", 6..7)).await {
            Ok(a) => break a,
            Err(e) if started.elapsed() < Duration::from_secs(15) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no append after the server came back: {e}"),
        }
    };
    assert_eq!(again.count, 1);
    let got = log.consume("detect", 100, Duration::ZERO).await.unwrap();
    let events: Vec<String> = got
        .iter()
        .map(|d| String::from_utf8(d.event.clone()).unwrap())
        .collect();
    // The five acknowledged before the outage, then what came after it
    // (the refused one may or may not have been stored: never acknowledged,
    // the shipper sends it again).
    assert_eq!(
        &events[..5],
        (0..5).map(|i| format!("{{\"n\":{i}}}")).collect::<Vec<_>>()
    );
    assert_eq!(events.last().unwrap(), "{\"n\":6}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_at_start_is_an_error_then_a_connection() {
    let Some(mut nats) = Nats::start() else {
        return;
    };
    nats.stop();
    let log = JetStreamLog::new(&nats.url(), short(Duration::from_secs(30)));
    assert!(log.records().await.is_err());
    nats.resume();
    assert_eq!(log.records().await.unwrap(), 0);
}

/// A living worker slower than the ack wait keeps its events (it says it
/// is at work on them): no other worker judges them meanwhile, and its
/// commit is the only one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_living_worker_keeps_its_events_past_the_ack_wait() {
    let Some(nats) = Nats::start() else { return };
    let wait = Duration::from_secs(1);
    let ingest = JetStreamLog::new(&nats.url(), short(wait));
    ingest.append(batch("default", 0..10)).await.unwrap();
    let slow = JetStreamLog::new(&nats.url(), short(wait));
    let other = JetStreamLog::new(&nats.url(), short(wait));
    let taken = slow.consume("detect", 100, Duration::ZERO).await.unwrap();
    assert_eq!(taken.len(), 10);
    // Three ack waits of judging: the other worker is given nothing.
    let until = Instant::now() + 3 * wait;
    while Instant::now() < until {
        let got = other
            .consume("detect", 100, Duration::from_millis(200))
            .await
            .unwrap();
        assert!(got.is_empty(), "handed out again: {got:?}");
    }
    slow.commit("detect", Position(9)).await.unwrap();
    assert_eq!(other.committed("detect").await.unwrap(), Some(Position(9)));
    let after = other
        .consume("detect", 100, Duration::from_millis(1500))
        .await
        .unwrap();
    assert!(after.is_empty(), "{after:?}");
}

/// Past `max_hold`, a worker that is still alive but stuck lets its
/// events go to the others after the ack wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_worker_lets_go_after_max_hold() {
    let Some(nats) = Nats::start() else { return };
    let wait = Duration::from_secs(1);
    let stuck_opts = Options {
        max_hold: Duration::from_millis(500),
        ..short(wait)
    };
    let ingest = JetStreamLog::new(&nats.url(), short(wait));
    ingest.append(batch("default", 0..10)).await.unwrap();
    let stuck = JetStreamLog::new(&nats.url(), stuck_opts);
    let other = JetStreamLog::new(&nats.url(), short(wait));
    assert_eq!(
        stuck
            .consume("detect", 100, Duration::ZERO)
            .await
            .unwrap()
            .len(),
        10
    );
    let until = Instant::now() + Duration::from_secs(10);
    let mut got = BTreeSet::new();
    while got.len() < 10 && Instant::now() < until {
        for d in other
            .consume("detect", 100, Duration::from_millis(200))
            .await
            .unwrap()
        {
            got.insert(d.position.0);
        }
    }
    assert_eq!(got, (0..10).collect());
}
