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
    // Imported once: the file is renamed (a token deleted from the
    // database must not come back at the next start).
    assert!(!dir.path().join("tokens.jsonl").exists());
    let renamed: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tokens.jsonl.imported-")
        })
        .collect();
    assert_eq!(renamed.len(), 1, "{renamed:?}");
    assert_eq!(a.import(dir.path()).unwrap(), 0, "once");
    // Revoked in the database: the same file put back and imported again
    // does not undo it.
    let id = a.check(&kept).unwrap().id().to_string();
    a.revoke(&id, "bob").unwrap();
    std::fs::rename(&renamed[0], dir.path().join("tokens.jsonl")).unwrap();
    let b = DbTokens::open(&pg.url()).unwrap();
    assert_eq!(b.import(dir.path()).unwrap(), 0);
    assert!(b.check(&kept).is_none());
    assert!(a.list().unwrap().iter().all(|r| r.revoked.is_some()));
    assert!(
        a.import(&dir.path().join("none")).unwrap() == 0,
        "no file: nothing"
    );
}

/// Whether `check` turns `None` within the bound (a node's follower sees
/// the change).
fn refused_within(node: &DbTokens, token: &str, bound: Duration) -> bool {
    let until = Instant::now() + bound;
    while Instant::now() < until {
        if node.check(token).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_token_revoked_or_deleted_in_the_database_by_hand_is_refused_by_every_node() {
    let Some(pg) = Postgres::start() else { return };
    let a = DbTokens::open(&pg.url()).unwrap();
    let revoked = a.create("firewall", Scope::Ingest, "default").unwrap();
    let deleted = a.create("old-shipper", Scope::Ingest, "default").unwrap();
    assert!(a.check(&revoked).is_some() && a.check(&deleted).is_some());
    let psql = |sql: &str| {
        let out = std::process::Command::new("psql")
            .args([pg.url().as_str(), "-v", "ON_ERROR_STOP=1", "-qc", sql])
            .output()
            .expect("psql (PostgreSQL's client) runs");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // An operator repairing the table, not through Vigie: the trigger
    // moves the version the nodes follow.
    psql("UPDATE api_tokens SET revoked_time = '2026-12-06T04:00:00Z', revoked_by = 'dba' WHERE name = 'firewall'");
    assert!(refused_within(&a, &revoked, POLL + Duration::from_secs(2)));
    psql("DELETE FROM api_tokens WHERE name = 'old-shipper'");
    assert!(refused_within(&a, &deleted, POLL + Duration::from_secs(2)));
    // A version gone back (a database restored from a backup) is taken
    // too: what it holds is the truth.
    let kept = a.create("kept", Scope::Read, "default").unwrap();
    // One transaction: the node never sees the trigger's own move.
    psql("DELETE FROM api_tokens WHERE name = 'kept'; UPDATE api_token_version SET version = 0");
    assert!(refused_within(&a, &kept, POLL + Duration::from_secs(2)));
}
