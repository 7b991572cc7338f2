//! The behaviour every [`EventLog`] must have, as functions any backend's
//! tests call (the embedded one here, NATS JetStream in the regional
//! deployment): one definition of the contract, checked everywhere.

use std::time::Duration;

use crate::{EventLog, IngestBatch, Position};

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
