//! The console's accounts and sessions in PostgreSQL against the same
//! contract as the embedded backend (`vigie_console::accounts::
//! conformance`), and what only a shared backend can do: two api nodes
//! see one set of accounts and sessions; an account removed or locked on
//! one ends its sessions on the other. Real PostgreSQL, private to the
//! test (skipped without it outside CI).

use vigie_console::accounts::{conformance, SessionStore, UserStore};
use vigie_console::users::{self, MAX_FAILURES};
use vigie_console::Role;
use vigie_db::{PgSessions, PgUsers};
use vigie_testkit::servers::Postgres;

#[test]
fn postgres_accounts_and_sessions_meet_the_contract() {
    let Some(pg) = Postgres::start() else { return };
    let users = PgUsers::new(&pg.url()).unwrap();
    conformance::user_store(&users, false);
    // Two nodes' session stores on one database.
    let a = PgSessions::new(&pg.url()).unwrap();
    let b = PgSessions::new(&pg.url()).unwrap();
    conformance::session_store(&users, &a, &b, false);
}

#[test]
fn an_account_removed_or_locked_on_one_node_ends_its_sessions_on_every_node() {
    let Some(pg) = Postgres::start() else { return };
    let (users_a, users_b) = (
        PgUsers::new(&pg.url()).unwrap(),
        PgUsers::new(&pg.url()).unwrap(),
    );
    let (on_a, on_b) = (
        PgSessions::new(&pg.url()).unwrap(),
        PgSessions::new(&pg.url()).unwrap(),
    );
    for name in ["eve", "fred"] {
        let (u, _) = users::new_user(
            name,
            Role::Analyst,
            "a long password",
            false,
            Some("mairie-a"),
        )
        .unwrap();
        users_a.add(u).unwrap();
    }
    let now = vigie_console::now();
    let (eve, _) = on_a
        .open("eve", Role::Analyst, Some("mairie-a".into()), now)
        .unwrap();
    let (fred, _) = on_a
        .open("fred", Role::Analyst, Some("mairie-a".into()), now)
        .unwrap();
    assert!(on_b.touch(&eve, now + 1).unwrap().is_some());
    // Removed on B: A's session of it is gone (its rows went with it).
    users_b.remove("eve").unwrap();
    assert!(on_a.touch(&eve, now + 2).unwrap().is_none());
    assert!(users_a.get("eve").unwrap().is_none());
    // Locked by failures counted on both nodes: its sessions end.
    for i in 0..MAX_FAILURES - 1 {
        let store: &dyn UserStore = if i % 2 == 0 { &users_a } else { &users_b };
        assert_eq!(store.failed("fred", now).unwrap(), None);
    }
    assert!(
        on_a.touch(&fred, now + 3).unwrap().is_some(),
        "not locked yet"
    );
    assert!(
        users_b.failed("fred", now).unwrap().is_some(),
        "locked at the bound"
    );
    let fred_now = users_a.get("fred").unwrap().unwrap();
    assert!(users_a.locked(&fred_now, now + 4).unwrap());
    assert!(
        on_a.touch(&fred, now + 4).unwrap().is_none(),
        "its sessions ended"
    );
    // A session is kept by the hash of its id only.
    let (id, _) = on_a.open("fred", Role::Analyst, None, now).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let kept: Vec<String> = rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.query("SELECT hash FROM console_sessions", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    assert!(!kept.is_empty());
    assert!(
        kept.iter().all(|h| h.len() == 64 && *h != id),
        "the id itself is never kept"
    );
}

/// A node older than the database (a rolling upgrade, one api node rolled
/// back) refuses it rather than read rows whose newer columns it ignores:
/// an account assigned several communes has no tenant of its own there,
/// and an older reader would take it for the deployment's (every commune).
#[test]
fn a_database_migrated_by_a_newer_vigie_is_refused_not_read() {
    let Some(pg) = Postgres::start() else { return };
    let users = PgUsers::new(&pg.url()).unwrap();
    let (u, _) = users::new_user(
        "ana",
        Role::Analyst,
        "a long password",
        false,
        Some("quimper"),
    )
    .unwrap();
    users.add(u).unwrap();
    pg.query("INSERT INTO vigie_migrations (version) VALUES (9999)");
    let later = PgUsers::new(&pg.url()).unwrap();
    let err = later.list().unwrap_err().to_string();
    assert!(
        err.contains("schema version 9999") && err.contains("newer Vigie"),
        "{err}"
    );
    // Left as it is: the newer version's row is still there.
    assert!(
        pg.query("SELECT count(*) FROM vigie_migrations WHERE version = 9999")
            .contains('1'),
        "the database was changed"
    );
}
