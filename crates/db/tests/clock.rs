//! Claims, feed leases and the login throttle go by PostgreSQL's clock,
//! not the node's: nodes whose clocks differ agree on what has expired.
//! Each check passes a node clock far from the database's (1970, or
//! centuries ahead) and sees the database's decide (skipped without
//! PostgreSQL outside CI).

use std::net::{IpAddr, Ipv4Addr};

use vigie_console::sessions::{LoginThrottle, IP_FAILURES};
use vigie_console::users::{LOCK_SECONDS, MAX_FAILURES};
use vigie_db::{FeedLease, FeedPolled, PgIndicators, PgThrottle};
use vigie_testkit::servers::Postgres;

/// A node clock four centuries ahead.
const AHEAD: i64 = 400 * 365 * 86_400 + 1_700_000_000;

#[test]
fn the_login_throttle_counts_by_the_databases_clock() {
    let Some(pg) = Postgres::start() else { return };
    let a = PgThrottle::new(&pg.url()).unwrap();
    let b = PgThrottle::new(&pg.url()).unwrap();
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    // Node A's clock says 1970; its failures still count for node B,
    // whose clock is centuries ahead (by the nodes' clocks, they would
    // be long out of the window).
    for _ in 0..IP_FAILURES {
        assert!(!b.ip_blocked(ip, AHEAD));
        a.ip_failed(ip, 0);
    }
    assert!(b.ip_blocked(ip, AHEAD));
    assert!(a.ip_blocked(ip, 0));
    // A name that is no account: locked after MAX_FAILURES, the lock's
    // end given in the caller's own frame, and seen locked by B.
    let mut until = None;
    for _ in 0..MAX_FAILURES {
        until = a.unknown_failed("personne", 0);
    }
    let until = until.expect("locked");
    assert!(
        (LOCK_SECONDS - 5..=LOCK_SECONDS).contains(&until),
        "{until} in the caller's frame (its now: 0)"
    );
    assert!(b.unknown_locked("personne", AHEAD));
    assert!(!b.unknown_locked("quelqu'un", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_leases_are_timed_by_the_database() {
    let Some(pg) = Postgres::start() else { return };
    let a = PgIndicators::new(&pg.url());
    let b = PgIndicators::new(&pg.url());
    assert!(matches!(
        a.lease_feed("csirt", "a", 60).await.unwrap(),
        FeedLease::Taken(_)
    ));
    // Held by A: B is told how long to wait, in seconds.
    match b.lease_feed("csirt", "b", 60).await.unwrap() {
        FeedLease::NotBefore(wait) => assert!((55..=60).contains(&wait), "{wait}"),
        other => panic!("{other:?}"),
    }
    // A's poll done, the next due in 30 s: B waits for that.
    a.polled_feed("csirt", "a", &FeedPolled::default(), 30)
        .await
        .unwrap();
    match b.lease_feed("csirt", "b", 60).await.unwrap() {
        FeedLease::NotBefore(wait) => assert!((25..=30).contains(&wait), "{wait}"),
        other => panic!("{other:?}"),
    }
    // A lease of a second, ended by the database's clock: B takes it.
    assert!(matches!(
        a.lease_feed("misp", "a", 1).await.unwrap(),
        FeedLease::Taken(_)
    ));
    assert!(matches!(
        b.lease_feed("misp", "b", 60).await.unwrap(),
        FeedLease::NotBefore(_)
    ));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(matches!(
        b.lease_feed("misp", "b", 60).await.unwrap(),
        FeedLease::Taken(_)
    ));
}
