//! Claims, feed leases, the login throttle, account locks and sessions
//! go by PostgreSQL's clock,
//! not the node's: nodes whose clocks differ agree on what has expired.
//! Each check passes a node clock far from the database's (1970, or
//! centuries ahead) and sees the database's decide (skipped without
//! PostgreSQL outside CI).

use std::net::{IpAddr, Ipv4Addr};

use vigie_console::accounts::{SessionStore, UserStore};
use vigie_console::sessions::{LoginThrottle, ABSOLUTE_SECONDS, IDLE_SECONDS, IP_FAILURES};
use vigie_console::users::{self, LOCK_SECONDS, MAX_FAILURES};
use vigie_console::Role;
use vigie_db::{FeedLease, FeedPolled, PgIndicators, PgSessions, PgThrottle, PgUsers};
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
        assert!(!b.ip_blocked(ip, AHEAD).unwrap());
        a.ip_failed(ip, 0);
    }
    assert!(b.ip_blocked(ip, AHEAD).unwrap());
    assert!(a.ip_blocked(ip, 0).unwrap());
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
    assert!(b.unknown_locked("personne", AHEAD).unwrap());
    assert!(!b.unknown_locked("quelqu'un", 0).unwrap());
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

/// Runs SQL on the test's database: to move a lock's or a session's
/// times back by the database's own clock (what a node's `now` cannot
/// do any more).
fn sql(url: &str, statement: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(statement).await.unwrap();
    });
}

#[test]
fn account_locks_end_by_the_databases_clock() {
    let Some(pg) = Postgres::start() else { return };
    let (a, b) = (
        PgUsers::new(&pg.url()).unwrap(),
        PgUsers::new(&pg.url()).unwrap(),
    );
    let (fred, _) = users::new_user("fred", Role::Analyst, "a long password", false, None).unwrap();
    a.add(fred).unwrap();
    // Locked by node A, whose clock says 1970: the lock's end is given in
    // A's frame.
    let mut until = None;
    for _ in 0..MAX_FAILURES {
        until = a.failed("fred", 0).unwrap();
    }
    assert_eq!(until, Some(LOCK_SECONDS), "in the caller's frame");
    // Node B, centuries ahead, does not see it ended: its clock does not
    // cut the lock; a right password on B is not taken.
    let fred = b.get("fred").unwrap().unwrap();
    assert!(b.locked(&fred, AHEAD).unwrap());
    assert!(!b.succeeded("fred", None, AHEAD).unwrap(), "locked");
    assert!(a.locked(&fred, 0).unwrap());
    // Ended by the database's clock (moved back there): A, in 1970, does
    // not lengthen it.
    sql(
        &pg.url(),
        "UPDATE console_users SET locked_until = floor(extract(epoch FROM now()))::bigint - 1",
    );
    let fred = a.get("fred").unwrap().unwrap();
    assert!(!a.locked(&fred, 0).unwrap());
    assert!(a.succeeded("fred", None, 0).unwrap(), "no longer locked");
}

#[test]
fn sessions_end_by_the_databases_clock() {
    let Some(pg) = Postgres::start() else { return };
    let users = PgUsers::new(&pg.url()).unwrap();
    let (eve, _) = users::new_user("eve", Role::Analyst, "a long password", false, None).unwrap();
    users.add(eve).unwrap();
    let (a, b) = (
        PgSessions::new(&pg.url()).unwrap(),
        PgSessions::new(&pg.url()).unwrap(),
    );
    // Opened on A (1970), used on B (centuries ahead): B's clock does not
    // cut it; its times are given in B's frame.
    let (id, _) = a.open("eve", Role::Analyst, None, 0).unwrap();
    let s = b.touch(&id, AHEAD).unwrap().expect("alive on B");
    assert!((AHEAD - 5..=AHEAD).contains(&s.last), "{}", s.last);
    assert!((AHEAD - 5..=AHEAD).contains(&s.created), "{}", s.created);
    // Idle too long by the database's clock: A, in 1970, does not
    // lengthen it.
    sql(
        &pg.url(),
        &format!("UPDATE console_sessions SET last = last - {IDLE_SECONDS}"),
    );
    assert!(a.touch(&id, 0).unwrap().is_none(), "idle too long");
    assert!(b.touch(&id, AHEAD).unwrap().is_none(), "ended");
    // The absolute end, the same: used a moment ago, opened too long ago.
    let (id, _) = b.open("eve", Role::Analyst, None, AHEAD).unwrap();
    assert!(a.touch(&id, 0).unwrap().is_some());
    sql(
        &pg.url(),
        &format!("UPDATE console_sessions SET created = created - {ABSOLUTE_SECONDS}"),
    );
    assert!(a.touch(&id, 0).unwrap().is_none(), "past its absolute end");
    // A session opened by a node far behind is not ended at once by the
    // next opening on a node far ahead (ended ones are swept by the
    // database's clock).
    let (id, _) = a.open("eve", Role::Analyst, None, 0).unwrap();
    b.open("eve", Role::Analyst, None, AHEAD).unwrap();
    assert!(b.touch(&id, AHEAD).unwrap().is_some());
}
