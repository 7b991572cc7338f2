//! The API tokens in PostgreSQL against the same contract as
//! `tokens.jsonl` (`vigie_serve::tokens::conformance`): two nodes on one
//! database, a token made on one opening the other, a revocation on one
//! refused on the other within the bound. Real PostgreSQL, private to
//! the test (skipped without it outside CI).

use std::time::{Duration, Instant};

use vigie_serve::tokens::{conformance, DbTokens, Scope, TokenStore, POLL};
use vigie_testkit::servers::Postgres;

#[test]
fn postgres_tokens_meet_the_contract_across_two_nodes() {
    let Some(pg) = Postgres::start() else { return };
    let a = DbTokens::open(&pg.url()).unwrap();
    let b = DbTokens::open(&pg.url()).unwrap();
    // The bound a revocation takes to reach the other node, and a margin
    // for a loaded machine.
    conformance::token_store(&a, &b, POLL + Duration::from_secs(2));
}

#[test]
fn a_node_cut_from_the_database_keeps_answering_the_tokens_it_holds() {
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    let a = DbTokens::open(&pg.url()).unwrap();
    let t = a.create("shipper", Scope::Ingest, "default").unwrap();
    assert!(a.check(&t).is_some());
    pg.stop();
    // Past a poll: the database was asked and failed; the token held is
    // still answered, at once (a request never waits for the database).
    std::thread::sleep(POLL * 2);
    let started = Instant::now();
    assert!(a.check(&t).is_some());
    assert!(a.check("vgt_unknown").is_none());
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert!(
        a.create("other", Scope::Read, "default").is_err(),
        "said, not pretended"
    );
    pg.resume();
}

#[test]
fn a_nodes_tokens_file_is_imported_once_and_never_undoes_a_revocation() {
    let Some(pg) = Postgres::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kept =
        vigie_serve::tokens::create(dir.path(), "winlogbeat", Scope::Ingest, "default").unwrap();
    let gone = vigie_serve::tokens::create(dir.path(), "old", Scope::Read, "default").unwrap();
    let file = vigie_serve::tokens::FileTokens::open(dir.path()).unwrap();
    let gone_id = file.check(&gone).unwrap().id().to_string();
    file.revoke(&gone_id, "anne").unwrap();

    let a = DbTokens::open(&pg.url()).unwrap();
    assert_eq!(a.import(dir.path()).unwrap(), 2);
    assert!(a.check(&kept).is_some(), "the file's token opens");
    assert!(
        a.check(&gone).is_none(),
        "revoked in the file, revoked here"
    );
    assert_eq!(a.import(dir.path()).unwrap(), 0, "once");
    // Revoked in the database: importing the file again does not undo it.
    let id = a.check(&kept).unwrap().id().to_string();
    a.revoke(&id, "bob").unwrap();
    let b = DbTokens::open(&pg.url()).unwrap();
    assert_eq!(b.import(dir.path()).unwrap(), 0);
    assert!(b.check(&kept).is_none());
    assert!(a.list().unwrap().iter().all(|r| r.revoked.is_some()));
    assert!(
        a.import(&dir.path().join("none")).unwrap() == 0,
        "no file: nothing"
    );
}
