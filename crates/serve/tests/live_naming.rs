//! The live scope naming its incidents in PostgreSQL (`--db`), the
//! database gone then back: real PostgreSQL, private to the test (skipped
//! without it outside CI).
//!
//! A failed naming is the tenant's own — another commune's scope is not
//! refused for it, nor cleared by another's success — and while the
//! database is away a naming is tried after a backoff only: the next
//! tenant is answered at once, not after the connection's timeout.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_event::{Event, Locator, Origin};
use vigie_scope::{Assets, Lang, Zone};
use vigie_serve::live::LiveScope;
use vigie_testkit::servers::Postgres;

fn event(line: u64) -> Event {
    let mut e = Event::new(Origin {
        source: "live_naming".into(),
        locator: Locator::Line(line),
    });
    e.computer = Some("PC-ACCUEIL".into());
    e
}

#[test]
fn a_naming_failure_is_the_tenants_own_and_ends_with_the_outage() {
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    let ids = Arc::new(vigie_db::PgIncidentIds::new(&pg.url()).unwrap());
    let live = LiveScope::new(
        Arc::new(Assets::default()),
        Arc::new(None),
        Lang::Fr,
        Zone::Utc,
        Some(ids),
    )
    .unwrap();
    live.rebuilt.store(true, Ordering::Release);
    let (a, b) = ("mairie-a", "mairie-b");
    for t in [a, b] {
        live.observe(t, &event(1), &[]);
        assert!(live.answer(t).is_some(), "{t} named");
        assert!(!live.naming_failed_for(t));
    }

    pg.stop();
    for t in [a, b] {
        live.observe(t, &event(2), &[]);
    }
    assert!(live.answer(a).is_none(), "no answer without its ids");
    assert!(live.naming_failed_for(a));
    assert!(
        !live.naming_failed_for(b),
        "{b} asked nothing: not its failure"
    );
    // Within the backoff: not tried, answered at once.
    let asked = Instant::now();
    assert!(live.answer(b).is_none());
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    assert!(live.naming_failed_for(b));
    // A tenant that sent nothing has nothing to name: not a failure.
    assert!(live.answer("mairie-c").is_none());
    assert!(!live.naming_failed_for("mairie-c"));

    pg.resume();
    let until = Instant::now() + Duration::from_secs(60);
    while live.answer(a).is_none() {
        assert!(Instant::now() < until, "{a} never named again");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!live.naming_failed_for(a));
    assert!(
        live.naming_failed_for(b),
        "{b}'s flag is cleared by its own naming only"
    );
    assert!(live.answer(b).is_some());
    assert!(!live.naming_failed_for(b));
}

/// Runs `sql` in the test's database, as an operator (or a damaged disk)
/// would change it: not through Vigie.
fn psql(pg: &Postgres, sql: &str) {
    let out = std::process::Command::new("psql")
        .args([pg.url().as_str(), "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("psql (PostgreSQL's client) runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One commune's row of live ids damaged (its JSON replaced by garbage):
/// that commune's scope is refused (503) until the row is repaired, and
/// the other commune's is answered all along — at once, every time, not
/// held back by the first's backoff (a tenant's failure is not the
/// store's outage).
#[test]
fn one_communes_damaged_ids_hold_back_that_commune_only() {
    use vigie_store::live::IncidentIds;
    let Some(pg) = Postgres::start() else {
        return;
    };
    let ids = Arc::new(vigie_db::PgIncidentIds::new(&pg.url()).unwrap());
    let (a, b) = ("mairie-a", "mairie-b");
    // a's incident L1, as an earlier naming kept it.
    let kept = ids
        .name(
            a,
            Box::new(|known| {
                known.push(("L1".into(), ["host:pc-accueil".to_string()].into()));
                vec!["L1".into()]
            }),
        )
        .unwrap();
    assert_eq!(kept, ["L1"]);
    psql(
        &pg,
        "UPDATE live_incidents SET entities = '{\"not\": json' WHERE tenant = 'mairie-a'",
    );
    let live = LiveScope::new(
        Arc::new(Assets::default()),
        Arc::new(None),
        Lang::Fr,
        Zone::Utc,
        Some(ids),
    )
    .unwrap();
    live.rebuilt.store(true, Ordering::Release);
    for t in [a, b] {
        live.observe(t, &event(1), &[]);
    }
    assert!(live.answer(a).is_none(), "{a}'s ids cannot be read");
    assert!(live.naming_failed_for(a));
    // b, asked right after and again as events arrive: answered, at once
    // — a's backoff is a's.
    for n in 2..6 {
        live.observe(b, &event(n), &[]);
        let asked = Instant::now();
        assert!(live.answer(b).is_some(), "{b} answered ({n})");
        assert!(asked.elapsed() < Duration::from_secs(2));
        assert!(!live.naming_failed_for(b));
        // a still refused (tried after its backoff, or held by it).
        live.observe(a, &event(n), &[]);
        assert!(live.answer(a).is_none());
        assert!(live.naming_failed_for(a));
    }
    // Repaired: a is named again once its backoff has run.
    psql(
        &pg,
        "UPDATE live_incidents SET entities = '[\"host:pc-accueil\"]' WHERE tenant = 'mairie-a'",
    );
    let until = Instant::now() + Duration::from_secs(60);
    while live.answer(a).is_none() {
        assert!(Instant::now() < until, "{a} never named again");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!live.naming_failed_for(a));
}
