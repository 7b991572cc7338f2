//! The SQLite state against the same conformance checks as the former
//! files and PostgreSQL, what survives a reopen, two writers on one
//! `state.db` (the server and a command), and the import of a data
//! directory written by the former file stores.

use std::sync::{Arc, OnceLock};

use chrono::{TimeZone, Utc};
use vigie_console::audit::{verify_bytes, Action, AuditLog, Outcome};
use vigie_respond::store::{conformance as proposals_conformance, ProposalStore};
use vigie_respond::Proposal;
use vigie_state::{Db, SqliteAudit, SqliteCrisis, SqliteDetections, SqliteProposals, SqliteTriage};
use vigie_store::conformance;
use vigie_store::crisis::CrisisJournal;
use vigie_store::triage::{Change, Entry, Status, Target, TargetKind, TriageStore};
use vigie_store::{DetectionDoc, DetectionStore};

/// The demo's plan: its proposals (some need four eyes), made once.
fn sample() -> Vec<Proposal> {
    static PLAN: OnceLock<Vec<Proposal>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let g = vigie_scenario::generate(
            &vigie_scenario::ScenarioConfig::default(),
            &dir.path().join("scenario"),
        )
        .unwrap();
        let hunt = vigie_hunt::HuntConfig {
            inputs: vec![g.logs_dir.clone()],
            rules: vec![vigie_hunt::RuleSource::Builtin],
            scope: true,
            assets: Some(g.assets.clone()),
            lang: vigie_lang::Lang::Fr,
            ..Default::default()
        };
        let outcome = vigie_hunt::run(&hunt, &vigie_hunt::Quiet).unwrap();
        let assets = vigie_scope::Assets::load(&g.assets).unwrap();
        let noon = Utc.with_ymd_and_hms(2026, 1, 17, 11, 0, 0).unwrap();
        vigie_respond::plan(&outcome.scope.unwrap(), &assets, noon, vigie_lang::Lang::Fr).proposals
    })
    .clone()
}

fn doc(id: &str, tenant: &str) -> DetectionDoc {
    DetectionDoc {
        id: id.into(),
        tenant: tenant.into(),
        json: format!("{{\"id\":\"{id}\",\"tenant\":\"{tenant}\"}}").into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_meet_the_contract_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteDetections::new(Db::open(dir.path()).unwrap());
    conformance::detection_store(&store).await;
    let (all, a) = (
        store.count_all().await.unwrap(),
        store.latest("mairie-a", 10).await.unwrap(),
    );
    drop(store);
    let again = SqliteDetections::new(Db::open(dir.path()).unwrap());
    assert_eq!(again.count_all().await.unwrap(), all);
    assert_eq!(again.latest("mairie-a", 10).await.unwrap(), a);
    // Kept once across the reopen too.
    assert_eq!(again.put(vec![doc("a1", "mairie-a")]).await.unwrap(), 0);
    assert_eq!(again.put(vec![doc("a9", "mairie-a")]).await.unwrap(), 1);
    // Not UTF-8: refused, nothing of the batch kept.
    let bad = DetectionDoc {
        id: "bad".into(),
        tenant: "mairie-a".into(),
        json: vec![0xff, 0xfe],
    };
    assert!(again.put(vec![doc("a10", "mairie-a"), bad]).await.is_err());
    assert!(again.get("mairie-a", "a10").await.unwrap().is_none());
    // The file is the owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("state.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_meets_the_contract_and_two_connections_see_one_triage() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteTriage::new(Db::open(dir.path()).unwrap());
    conformance::triage_store(&a).await;
    let b = SqliteTriage::new(Db::open(dir.path()).unwrap());
    assert_eq!(
        b.entries("mairie-a").await.unwrap(),
        a.entries("mairie-a").await.unwrap()
    );
    b.record(Entry {
        time: "2026-12-05T12:00:00Z".into(),
        who: "bob".into(),
        tenant: "mairie-a".into(),
        target: Target {
            kind: TargetKind::Detection,
            id: "d-9".into(),
        },
        change: Change::Status {
            status: Status::Resolved,
        },
    })
    .await
    .unwrap();
    let seen = a.entries("mairie-a").await.unwrap();
    assert_eq!(seen.last().unwrap().who, "bob");
    assert_eq!(a.filters().await.unwrap(), b.filters().await.unwrap());
    assert_eq!(
        a.rule_switches().await.unwrap(),
        b.rule_switches().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crisis_journal_meets_the_contract_and_a_stale_append_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteCrisis::new(Db::open(dir.path()).unwrap());
    conformance::crisis_journal(&a).await;
    let b = SqliteCrisis::new(Db::open(dir.path()).unwrap());
    let rec = |n: u32| vigie_store::crisis::Record {
        tenant: "quimper".into(),
        json: format!("{{\"n\":{n}}}").into_bytes(),
    };
    // Both read 2 records; the first to append wins, the other is told.
    assert!(a.append_after(rec(10), 2).await.unwrap());
    assert!(!b.append_after(rec(11), 2).await.unwrap());
    assert_eq!(b.records("quimper").await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_meet_the_contract_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteProposals::new(Db::open(dir.path()).unwrap());
    proposals_conformance::proposal_store(&a, sample()).await;
    let before = a.list("a").await.unwrap();
    assert!(!before.is_empty());
    drop(a);
    let b = SqliteProposals::new(Db::open(dir.path()).unwrap());
    assert_eq!(b.list("a").await.unwrap(), before);
}

/// Two connections (the server and `vigie user …`) auditing at once from
/// several threads each: one chain, every line in it.
#[test]
fn the_audit_log_is_one_chain_across_writers() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(SqliteAudit::open(dir.path()).unwrap());
    let b = Arc::new(SqliteAudit::open(dir.path()).unwrap());
    assert!(a.read().unwrap().is_empty());
    std::thread::scope(|s| {
        for (node, log) in [("a", &a), ("b", &b), ("a", &a), ("b", &b)] {
            s.spawn(move || {
                for i in 0..10 {
                    log.append(
                        &format!("token:{node}"),
                        "10.0.0.1",
                        Action::Login,
                        &format!("{node}-{i} é \u{0}"),
                        Outcome::Success,
                    )
                    .unwrap();
                }
            });
        }
    });
    let text = a.read().unwrap();
    assert_eq!(verify_bytes(&text), Ok(40));
    assert_eq!(b.read().unwrap(), text);
    assert!(a.place().ends_with("state.db (audit_log)"), "{}", a.place());
}

#[test]
fn a_state_db_of_a_newer_vigie_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path()).unwrap());
    let c = rusqlite_connection(&dir.path().join("state.db"));
    c.execute("INSERT INTO vigie_migrations (version) VALUES (999)", [])
        .unwrap();
    drop(c);
    let e = Db::open(dir.path()).err().unwrap().to_string();
    assert!(e.contains("newer Vigie"), "{e}");
}

fn rusqlite_connection(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}
