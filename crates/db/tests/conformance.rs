//! The detection store's contract, checked against a real PostgreSQL
//! cluster (started privately by each test; skipped without PostgreSQL
//! outside CI).

use vigie_db::PgDetections;
use vigie_store::{conformance, DetectionDoc, DetectionStore};
use vigie_testkit::servers::Postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_detections_meet_the_contract() {
    let Some(pg) = Postgres::start() else { return };
    let store = PgDetections::new(&pg.url());
    conformance::detection_store(&store).await;
    // Two stores on one database (two workers): migrations once, the
    // same rows.
    let other = PgDetections::new(&pg.url());
    assert_eq!(
        other.count_all().await.unwrap(),
        store.count_all().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_an_error_then_the_store_goes_on() {
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    let store = PgDetections::new(&pg.url());
    let doc = |id: &str| DetectionDoc {
        id: id.into(),
        tenant: "default".into(),
        json: format!("{{\"id\":\"{id}\"}}").into_bytes(),
    };
    assert_eq!(store.put(vec![doc("1")]).await.unwrap(), 1);
    pg.stop();
    assert!(store.put(vec![doc("2")]).await.is_err());
    pg.resume();
    // The lost connection is made again by the next call.
    let mut tries = 0;
    let n = loop {
        match store.put(vec![doc("2")]).await {
            Ok(n) => break n,
            Err(e) if tries < 20 => {
                let _ = e;
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => panic!("PostgreSQL back, the store not: {e}"),
        }
    };
    assert_eq!(n, 1);
    assert_eq!(store.count("default").await.unwrap(), 2);
}
