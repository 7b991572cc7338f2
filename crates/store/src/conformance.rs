//! The behaviour every [`EventLog`] must have, as functions any backend's
//! tests call (the embedded one here, NATS JetStream in the regional
//! deployment): one definition of the contract, checked everywhere.

use std::time::Duration;

use crate::{DetectionDoc, DetectionStore, EventLog, IngestBatch, Position};

fn batch(tenant: &str, events: &[&str]) -> IngestBatch {
    IngestBatch {
        tenant: tenant.into(),
        source: "conformance".into(),
        received: 1_767_225_600_000_000,
        events: events.iter().map(|e| e.as_bytes().to_vec()).collect(),
    }
}

/// Checks `log`, which must be empty: positions without gaps, delivery in
/// order and whole, per consumer, waiting for appends, commits.
pub async fn event_log(log: &dyn EventLog) {
    assert_eq!(log.records().await.unwrap(), 0, "starts empty");
    let a = log
        .append(batch("default", &["{\"n\":0}", "{\"n\":1}"]))
        .await
        .unwrap();
    assert_eq!((a.first, a.count), (Position(0), 2));
    let b = log.append(batch("mairie-b", &["{\"n\":2}"])).await.unwrap();
    assert_eq!((b.first, b.count), (Position(2), 1));
    let empty = log.append(batch("default", &[])).await.unwrap();
    assert_eq!(empty.count, 0);
    assert_eq!(log.records().await.unwrap(), 3);

    // Delivered in order, whole, with tenant and source; at most `max`.
    let got = log.consume("w1", 2, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].position, Position(0));
    assert_eq!(got[0].event, b"{\"n\":0}");
    assert_eq!(got[0].tenant, "default");
    assert_eq!(got[0].source, "conformance");
    assert_eq!(got[0].received, 1_767_225_600_000_000);
    let got = log.consume("w1", 10, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].position, got[0].tenant.as_str()),
        (Position(2), "mairie-b")
    );
    // Nothing more: an empty answer after the wait.
    let none = log
        .consume("w1", 10, Duration::from_millis(50))
        .await
        .unwrap();
    assert!(none.is_empty());

    // Another consumer starts from the beginning.
    let other = log.consume("w2", 10, Duration::ZERO).await.unwrap();
    assert_eq!(other.len(), 3);

    // Commits are kept per consumer; past the end is refused.
    assert_eq!(log.committed("w1").await.unwrap(), None);
    log.commit("w1", Position(1)).await.unwrap();
    assert_eq!(log.committed("w1").await.unwrap(), Some(Position(1)));
    assert_eq!(log.committed("w2").await.unwrap(), None);
    assert!(log.commit("w1", Position(3)).await.is_err());
    assert!(log.commit("../escape", Position(0)).await.is_err());

    // A consumer waiting is woken by an append.
    let (got, _) = tokio::join!(log.consume("w1", 10, Duration::from_secs(10)), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        log.append(batch("default", &["{\"n\":3}"])).await.unwrap()
    });
    let got = got.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].position, Position(3));
}

/// Checks that what `open` gives back after a restart holds every record
/// and resumes each consumer after its committed position. `open` opens
/// the same log each time it is called.
pub async fn event_log_restart<L: EventLog>(open: impl Fn() -> L) {
    {
        let log = open();
        for i in 0..5 {
            let line = format!("{{\"n\":{i}}}");
            log.append(batch("default", &[&line])).await.unwrap();
        }
        let got = log.consume("w", 3, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 3);
        log.commit("w", got[2].position).await.unwrap();
        // Delivered but not committed: given again after the restart.
        assert_eq!(log.consume("w", 1, Duration::ZERO).await.unwrap().len(), 1);
    }
    let log = open();
    assert_eq!(log.records().await.unwrap(), 5);
    let got = log.consume("w", 10, Duration::ZERO).await.unwrap();
    let positions: Vec<u64> = got.iter().map(|d| d.position.0).collect();
    assert_eq!(positions, [3, 4], "resumes after the commit");
    assert_eq!(got[0].event, b"{\"n\":3}");
    let fresh = log.consume("new", 10, Duration::ZERO).await.unwrap();
    assert_eq!(fresh.len(), 5);
    // Released, a reader starts again after its committed position.
    log.release("new").await.unwrap();
    assert_eq!(
        log.consume("new", 10, Duration::ZERO).await.unwrap().len(),
        5
    );
    log.release("w").await.unwrap();
    let again = log.consume("w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(again.first().map(|d| d.position.0), Some(3));
}

fn doc(id: &str, tenant: &str, n: u32) -> DetectionDoc {
    DetectionDoc {
        id: id.into(),
        tenant: tenant.into(),
        json: format!("{{\"id\":\"{id}\",\"tenant\":\"{tenant}\",\"n\":{n}}}").into_bytes(),
    }
}

/// Checks `store`, which must be empty (documents carry their `tenant`
/// too, as Vigie's do): each id kept once (a batch given
/// again, an id twice in one batch), reads of one tenant only, the latest
/// in the order kept.
pub async fn detection_store(store: &dyn DetectionStore) {
    assert_eq!(store.count_all().await.unwrap(), 0, "starts empty");
    let first = vec![
        doc("a1", "mairie-a", 1),
        doc("a2", "mairie-a", 2),
        doc("b1", "mairie-b", 1),
    ];
    assert_eq!(store.put(first.clone()).await.unwrap(), 3);
    // Redelivered: nothing new.
    assert_eq!(store.put(first).await.unwrap(), 0);
    // Twice in one batch, and one already kept: one new.
    let again = vec![
        doc("a3", "mairie-a", 3),
        doc("a3", "mairie-a", 3),
        doc("a1", "mairie-a", 1),
    ];
    assert_eq!(store.put(again).await.unwrap(), 1);
    assert_eq!(store.put(Vec::new()).await.unwrap(), 0);
    assert_eq!(store.count("mairie-a").await.unwrap(), 3);
    assert_eq!(store.count("mairie-b").await.unwrap(), 1);
    assert_eq!(store.count("mairie-c").await.unwrap(), 0);
    assert_eq!(store.count_all().await.unwrap(), 4);
    let text = |docs: Vec<Vec<u8>>| -> Vec<String> {
        docs.into_iter()
            .map(|d| String::from_utf8(d).unwrap())
            .collect()
    };
    let latest = text(store.latest("mairie-a", 2).await.unwrap());
    assert_eq!(latest.len(), 2);
    assert!(
        latest[0].contains("\"a2\"") && latest[1].contains("\"a3\""),
        "{latest:?}"
    );
    let b = text(store.latest("mairie-b", 10).await.unwrap());
    assert_eq!(b.len(), 1);
    assert!(b[0].contains("\"b1\""));
    assert!(store.latest("mairie-c", 10).await.unwrap().is_empty());
    assert!(store.latest("mairie-a", 0).await.unwrap().is_empty());
    // One detection by its id, only in its own tenant.
    let one = store
        .get("mairie-a", "a2")
        .await
        .unwrap()
        .map(|d| text(vec![d]));
    assert!(one.is_some_and(|d| d[0].contains("\"a2\"")));
    assert!(store.get("mairie-b", "a2").await.unwrap().is_none());
    assert!(store.get("mairie-a", "zz").await.unwrap().is_none());
    // A document with any text in it is kept as it is.
    let odd = DetectionDoc {
        id: "odd".into(),
        tenant: "mairie-b".into(),
        json: br#"{"id":"odd","tenant":"mairie-b","cmd":"a\u0000b \u00e9 \ud83d\ude00"}"#.to_vec(),
    };
    assert_eq!(store.put(vec![odd.clone()]).await.unwrap(), 1);
    let back = store.latest("mairie-b", 1).await.unwrap();
    assert_eq!(back, vec![odd.json]);
}

/// [`EventLog::received_since`] and [`EventLog::seek`]: three batches
/// received at three times; the first position of each is found by its
/// time, and a one-off reader moved there reads from it. Run on a fresh
/// log by each backend that reads by position.
pub async fn received_since(log: &dyn EventLog) {
    let base = 1_767_225_600_000_000i64;
    let mut firsts = Vec::new();
    for (i, received) in [base, base + 60_000_000, base + 120_000_000]
        .into_iter()
        .enumerate()
    {
        let appended = log
            .append(IngestBatch {
                tenant: "t".into(),
                source: "s".into(),
                received,
                events: vec![format!("{{\"n\":{i}}}").into_bytes(); 3],
            })
            .await
            .unwrap();
        firsts.push(appended.first);
    }
    let since = |at| async move { log.received_since(at).await.unwrap().unwrap() };
    assert_eq!(since(base - 1).await, firsts[0]);
    assert_eq!(since(base).await, firsts[0]);
    assert_eq!(since(base + 1).await, firsts[1]);
    assert_eq!(since(base + 60_000_000).await, firsts[1]);
    assert_eq!(since(base + 90_000_000).await, firsts[2]);
    assert_eq!(since(base + 200_000_000).await, Position(firsts[2].0 + 3));
    let consumer = "retrohunt-conformance";
    assert!(log.seek(consumer, firsts[1]).await.unwrap());
    let got = log
        .consume(consumer, 100, std::time::Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(got.len(), 6, "from the second batch on: {got:?}");
    assert_eq!(got[0].position, firsts[1]);
    assert_eq!(got[0].received, base + 60_000_000);
    log.release(consumer).await.unwrap();
}
