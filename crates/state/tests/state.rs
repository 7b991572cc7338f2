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
use vigie_store::live::{AlertJournal, IncidentIds};
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

/// Retention by age: the detections judged before the cut go, with
/// their counts; the others and the other tenants' stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_judged_before_a_time_are_removed_with_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteDetections::new(Db::open(dir.path()).unwrap());
    let judged = |id: &str, tenant: &str, at: &str| DetectionDoc {
        id: id.into(),
        tenant: tenant.into(),
        json: format!("{{\"id\":\"{id}\",\"tenant\":\"{tenant}\",\"detected\":\"{at}\"}}")
            .into_bytes(),
    };
    store
        .put(vec![
            judged("o1", "a", "2026-01-01T00:00:00.000000Z"),
            judged("o2", "a", "2026-01-02T00:00:00.000000Z"),
            judged("n1", "a", "2026-03-01T00:00:00.000000Z"),
            judged("o3", "b", "2026-01-03T00:00:00.000000Z"),
            judged("n2", "b", "2026-03-02T00:00:00.000000Z"),
        ])
        .await
        .unwrap();
    let cut = "2026-02-01T00:00:00.000000Z";
    assert_eq!(store.remove_detected_before(cut).await.unwrap(), Some(3));
    assert_eq!(store.count("a").await.unwrap(), 1);
    assert_eq!(store.count("b").await.unwrap(), 1);
    assert_eq!(store.count_all().await.unwrap(), 2);
    assert!(store.get("a", "o1").await.unwrap().is_none());
    assert!(store.get("a", "n1").await.unwrap().is_some());
    // Again: nothing more.
    assert_eq!(store.remove_detected_before(cut).await.unwrap(), Some(0));
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

/// A data directory written by the former file stores (their own code
/// paths), imported: every store answers as the files did, the audit
/// chain verifies byte for byte, a damaged line is named and counted
/// and the others kept, the files renamed and never imported twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_the_former_files_is_imported_losing_nothing() {
    use vigie_respond::journal::FileProposalStore;
    use vigie_store::crisis::FileJournal;
    use vigie_store::triage::FileTriage;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // The former stores, filled by the same suites.
    let triage = FileTriage::open(data).unwrap();
    conformance::triage_store(&triage).await;
    let (journal, _) = FileJournal::open(data).unwrap();
    conformance::crisis_journal(&journal).await;
    let (proposals, _) = FileProposalStore::open(data).unwrap();
    proposals_conformance::proposal_store(&proposals, sample()).await;
    for i in 0..5 {
        vigie_console::audit::append(
            data,
            "cli:root",
            "local",
            Action::UserAdd,
            &format!("agent-{i}"),
            Outcome::Success,
        )
        .unwrap();
    }
    let audit_bytes = std::fs::read(data.join("audit.jsonl")).unwrap();
    // The accounts as the former version kept them (its own writer).
    let (vera, _) = vigie_console::users::new_user(
        "vera",
        vigie_console::Role::Admin,
        "correct horse battery",
        false,
        None,
    )
    .unwrap();
    {
        use vigie_console::accounts::UserStore;
        vigie_console::accounts::FileUsers::new(data)
            .add(vera.clone())
            .unwrap();
    }
    // Detections as the former worker wrote them, with a damaged line
    // before others and a torn last line (never acknowledged).
    std::fs::write(
        data.join("detections.jsonl"),
        concat!(
            "{\"id\":\"d1\",\"tenant\":\"default\",\"rule_id\":\"r\"}\n",
            "{\"id\":\"d2\",\"tenant\":\"mairie-a\"}\n",
            "{\"id\":\"d3\",\"tenant\":\n",
            "\n",
            "{\"id\":\"d4\",\"tenant\":\"default\"}\n",
            "{\"id\":\"d1\",\"tenant\":\"default\",\"rule_id\":\"r\"}\n",
            "{\"id\":\"d5\",\"ten",
        ),
    )
    .unwrap();
    // The live ids and the alerting's journal as the former server
    // wrote them (`incidents.json` whole; `alerts.jsonl` a line per
    // message, the first before there were several destinations, and a
    // damaged one).
    std::fs::write(
        data.join("incidents.json"),
        r#"{"default":[{"id":"L1","entities":["account:alice","host:pc1"]},{"id":"L2","entities":["host:dc01"]}],"mairie-a":[{"id":"L1","entities":["host:srv"]}]}"#,
    )
    .unwrap();
    let alert = |sink: &str, id: &str, delivered: bool| {
        format!(
            r#"{{"time":"2026-12-01T10:00:00Z",{sink}"tenant":"default","live_id":"{id}","kind":"incident_new","severity":"high","detections":3,"hosts":1,"delivered":{delivered},"error":null}}"#
        )
    };
    std::fs::write(
        data.join("alerts.jsonl"),
        format!(
            "{}\n{}\n{{broken\n{}\n",
            alert("", "L1", true),
            alert(r#""sink":"email","#, "L1", false),
            alert(r#""sink":"email","#, "L2", true),
        ),
    )
    .unwrap();
    // Uploaded indicator sources as the former server kept them (bytes
    // and description), one without its bytes, a leftover temporary file.
    let ind = data.join("indicators");
    std::fs::create_dir_all(&ind).unwrap();
    std::fs::write(ind.join("cert-fr.src"), b"203.0.113.7\n").unwrap();
    std::fs::write(
        ind.join("cert-fr.json"),
        r#"{"name":"cert-fr","imported":1}"#,
    )
    .unwrap();
    std::fs::write(ind.join("orphan.json"), r#"{"name":"orphan"}"#).unwrap();
    std::fs::write(ind.join("cert-fr.tmp"), b"half").unwrap();
    let imported = vigie_state::import(data).unwrap();
    let said = imported.lines().join("\n");
    let det = imported
        .files
        .iter()
        .find(|f| f.name == "detections.jsonl")
        .unwrap();
    assert_eq!((det.lines, det.damaged), (4, 1), "{said}");
    assert!(
        det.said[0].contains("detections.jsonl line 3: not a detection"),
        "{said}"
    );
    assert!(det.torn > 0, "{said}");
    assert!(said.contains("torn last line"), "{said}");
    for f in &imported.files {
        assert!(!f.already);
        if !["detections.jsonl", "alerts.jsonl", "indicators"].contains(&f.name) {
            assert_eq!(f.damaged, 0, "{said}");
        }
        let to = f.renamed.as_ref().unwrap();
        assert!(to.exists(), "{}", to.display());
        assert!(!data.join(f.name).exists());
    }
    assert_eq!(imported.files.len(), 9);
    assert!(
        said.contains(
            "indicators: 1 source(s) imported into state.db, 1 damaged source(s) left out"
        ),
        "{said}"
    );
    assert!(said.contains("orphan.src"), "{said}");
    // The directory renamed whole: the source that did not read is in it.
    let moved = imported
        .files
        .iter()
        .find(|f| f.name == "indicators")
        .unwrap();
    assert!(moved
        .renamed
        .as_ref()
        .unwrap()
        .join("orphan.json")
        .is_file());
    assert!(
        said.contains("alerts.jsonl: 3 line(s) imported into state.db, 1 damaged line(s) left out"),
        "{said}"
    );
    assert!(
        said.contains("alerts.jsonl line 3: not an alert record"),
        "{said}"
    );
    assert!(
        said.contains("incidents.json: 3 line(s) imported"),
        "{said}"
    );
    {
        use vigie_console::accounts::UserStore;
        let users = vigie_state::SqliteUsers::open(data).unwrap();
        let got = users.list().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (&got[0].name, &got[0].password, &got[0].totp, got[0].role),
            (&vera.name, &vera.password, &vera.totp, vera.role)
        );
    }

    // Every store answers as the file did.
    let st = Db::open(data).unwrap();
    let detections = SqliteDetections::new(st.clone());
    assert_eq!(detections.count_all().await.unwrap(), 3, "d1 kept once");
    assert_eq!(detections.count("default").await.unwrap(), 2);
    assert!(detections.get("mairie-a", "d2").await.unwrap().is_some());
    let sql_triage = SqliteTriage::new(st.clone());
    for t in ["default", "mairie-a", "mairie-b", "mairie-c"] {
        assert_eq!(
            sql_triage.entries(t).await.unwrap(),
            triage.entries(t).await.unwrap()
        );
        assert_eq!(
            sql_triage.searches(t).await.unwrap(),
            triage.searches(t).await.unwrap()
        );
    }
    assert_eq!(
        sql_triage.filters().await.unwrap(),
        triage.filters().await.unwrap()
    );
    assert_eq!(
        sql_triage.rule_switches().await.unwrap(),
        triage.rule_switches().await.unwrap()
    );
    let sql_crisis = SqliteCrisis::new(st.clone());
    assert_eq!(
        sql_crisis.tenants().await.unwrap(),
        journal.tenants().await.unwrap()
    );
    for t in journal.tenants().await.unwrap() {
        assert_eq!(
            sql_crisis.records(&t).await.unwrap(),
            journal.records(&t).await.unwrap()
        );
    }
    let sql_proposals = SqliteProposals::new(st.clone());
    for t in ["a", "b"] {
        let (file, sql) = (
            proposals.list(t).await.unwrap(),
            sql_proposals.list(t).await.unwrap(),
        );
        assert_eq!(file.len(), sql.len());
        for (f, s) in file.iter().zip(&sql) {
            // The trail and state as acknowledged (a refreshed content is
            // the file store's memory only until the next step).
            assert_eq!((&f.trail, &f.state), (&s.trail, &s.state));
        }
    }
    let ids = vigie_state::SqliteIncidentIds::new(st.clone())
        .all()
        .unwrap();
    let set = |e: &[&str]| {
        e.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        ids["default"],
        vec![
            ("L1".to_string(), set(&["account:alice", "host:pc1"])),
            ("L2".to_string(), set(&["host:dc01"]))
        ]
    );
    assert_eq!(
        ids["mairie-a"],
        vec![("L1".to_string(), set(&["host:srv"]))]
    );
    let alerts = vigie_state::SqliteAlerts::new(st.clone());
    assert_eq!(alerts.journal().unwrap().len(), 3);
    let mut delivered: Vec<(String, String)> = alerts
        .last_delivered()
        .unwrap()
        .into_iter()
        .map(|r| (r.key.sink, r.key.live_id))
        .collect();
    delivered.sort();
    assert_eq!(
        delivered,
        [
            ("email".into(), "L2".into()),
            ("webhook".into(), "L1".into())
        ]
    );
    let (version, sources) = vigie_state::SqliteIndicators::new(st.clone())
        .all()
        .unwrap();
    assert_eq!(version, 1);
    assert_eq!(
        sources,
        [vigie_state::IndicatorSource {
            name: "cert-fr".into(),
            info: r#"{"name":"cert-fr","imported":1}"#.into(),
            src: b"203.0.113.7\n".to_vec(),
        }]
    );
    let audit = SqliteAudit::new(st.clone());
    assert_eq!(audit.read().unwrap(), audit_bytes);
    assert_eq!(verify_bytes(&audit.read().unwrap()), Ok(5));
    // The chain goes on from the imported lines.
    audit
        .append("admin", "local", Action::Login, "", Outcome::Success)
        .unwrap();
    assert_eq!(verify_bytes(&audit.read().unwrap()), Ok(6));

    // A start stopped after the commit, before the renames: the file is
    // still under its name; recognised, renamed, not imported twice.
    let kept = imported
        .files
        .iter()
        .find(|f| f.name == "crisis.jsonl")
        .unwrap()
        .renamed
        .clone()
        .unwrap();
    std::fs::copy(&kept, data.join("crisis.jsonl")).unwrap();
    let before = sql_crisis.records("default").await.unwrap();
    let again = vigie_state::import(data).unwrap();
    assert_eq!(again.files.len(), 1);
    assert!(again.files[0].already, "{:?}", again.lines());
    assert!(!data.join("crisis.jsonl").exists());
    assert_eq!(sql_crisis.records("default").await.unwrap(), before);
    // Nothing left to import: nothing done.
    assert!(vigie_state::import(data).unwrap().files.is_empty());
}

/// The accounts and sessions meet the console's contract; a session
/// opened by one connection (the server before a restart) is valid on
/// another (after it), and an account removed takes its sessions.
#[test]
fn accounts_and_sessions_meet_the_contract_and_survive_a_restart() {
    use vigie_console::accounts::{conformance as accounts, SessionStore, UserStore};
    use vigie_state::{SqliteSessions, SqliteUsers};
    let dir = tempfile::tempdir().unwrap();
    let users = SqliteUsers::open(dir.path()).unwrap();
    accounts::user_store(&users, true);
    let a = SqliteSessions::new(Db::open(dir.path()).unwrap());
    let b = SqliteSessions::new(Db::open(dir.path()).unwrap());
    accounts::session_store(&users, &a, &b, true);
    let (u, _) = vigie_console::users::new_user(
        "eve",
        vigie_console::Role::Analyst,
        "a long password",
        false,
        None,
    )
    .unwrap();
    users.add(u).unwrap();
    let now = 2_000_000;
    let (id, _) = a
        .open("eve", vigie_console::Role::Analyst, None, now)
        .unwrap();
    drop(a);
    let after = SqliteSessions::new(Db::open(dir.path()).unwrap());
    assert!(after.touch(&id, now + 1).unwrap().is_some());
    users.remove("eve").unwrap();
    assert!(after.touch(&id, now + 2).unwrap().is_none());
}

/// Tokens: created, read back with the version that moved, revoked once
/// (the first revocation stands), imported without doubling, and a row
/// changed by hand moves the version too (the server's poll sees it).
#[test]
fn tokens_are_kept_by_hash_and_every_change_moves_the_version() {
    use vigie_state::{SqliteTokens, TokenRow};
    let dir = tempfile::tempdir().unwrap();
    let t = SqliteTokens::open(dir.path()).unwrap();
    assert_eq!(t.all().unwrap(), (0, vec![]));
    let row = |sha: &str| TokenRow {
        sha256: sha.into(),
        name: "winlogbeat".into(),
        scope: "ingest".into(),
        tenant: "default".into(),
        created: "2026-12-05T10:00:00Z".into(),
        revoked: None,
    };
    let v1 = t.create(&row("aaaaaaaaaaaa0001")).unwrap();
    assert!(v1 > 0);
    assert!(t.create(&row("aaaaaaaaaaaa0001")).is_err(), "one hash once");
    let r = t
        .revoke("aaaaaaaaaaaa", "cli:root", "2026-12-05T11:00:00Z")
        .unwrap();
    assert_eq!(
        r.unwrap().revoked,
        Some(("2026-12-05T11:00:00Z".into(), "cli:root".into()))
    );
    let again = t
        .revoke("aaaaaaaaaaaa", "other", "2026-12-06T00:00:00Z")
        .unwrap();
    assert_eq!(again.unwrap().revoked.unwrap().1, "cli:root");
    assert!(t.revoke("bbbbbbbbbbbb", "x", "y").unwrap().is_none());
    let mut revoked = row("cccccccccccc0003");
    revoked.revoked = Some(("t".into(), "by".into()));
    assert_eq!(
        t.import(&[row("aaaaaaaaaaaa0001"), revoked.clone()])
            .unwrap(),
        1
    );
    assert_eq!(t.import(&[revoked]).unwrap(), 0);
    let (v, all) = t.all().unwrap();
    assert_eq!(all.len(), 2);
    let c = rusqlite_connection(&dir.path().join("state.db"));
    c.execute(
        "DELETE FROM api_tokens WHERE sha256 = 'cccccccccccc0003'",
        [],
    )
    .unwrap();
    assert!(t.version().unwrap() > v);
}

/// The live ids and the alerting's journal: kept at each call (another
/// connection, as the next start, reads them at once), a tenant's ids
/// replaced whole, the last delivery per incident and sink read back,
/// silences said and ended; a node with `--db` imports only its own
/// former files, and a damaged `incidents.json` is left where it is.
#[test]
fn live_ids_and_alerts_are_kept_at_each_call() {
    use std::collections::BTreeSet;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let ids = vigie_state::SqliteIncidentIds::new(Db::open(data).unwrap());
    let e = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    ids.keep("default", &[("L1".into(), e(&["host:pc1"]))])
        .unwrap();
    ids.keep(
        "default",
        &[
            ("L1".into(), e(&["host:pc1", "account:bob"])),
            ("L2".into(), e(&["host:dc01"])),
        ],
    )
    .unwrap();
    ids.keep("mairie-b", &[("L1".into(), e(&["host:x"]))])
        .unwrap();
    // Read by another connection, without closing the first (a kill -9
    // closes nothing).
    let other = vigie_state::SqliteIncidentIds::new(Db::open(data).unwrap());
    let all = other.all().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all["default"],
        vec![
            ("L1".to_string(), e(&["account:bob", "host:pc1"])),
            ("L2".to_string(), e(&["host:dc01"]))
        ]
    );
    let alerts = vigie_state::SqliteAlerts::new(Db::open(data).unwrap());
    let row = |sink: &str, id: &str, delivered: bool, n: u32| vigie_state::AlertRow {
        sink: sink.into(),
        tenant: "default".into(),
        live_id: id.into(),
        delivered,
        doc: format!("{{\"n\":{n}}}"),
    };
    alerts.append(&row("webhook", "L1", true, 1)).unwrap();
    alerts.append(&row("webhook", "L1", true, 2)).unwrap();
    alerts.append(&row("webhook", "L1", false, 3)).unwrap();
    alerts.append(&row("email", "L1", false, 4)).unwrap();
    let k = |s: &str| [s, "default", "dc01", "Security"].map(str::to_string);
    alerts
        .silences_changed(&[k("webhook"), k("email")], &[])
        .unwrap();
    alerts
        .silences_changed(&[k("webhook")], &[k("email")])
        .unwrap();
    let again = vigie_state::SqliteAlerts::new(Db::open(data).unwrap());
    let last = again.last_delivered().unwrap();
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!((last[0].count, last[0].doc.as_str()), (2, "{\"n\":2}"));
    assert_eq!(again.journal().unwrap().len(), 4);
    assert_eq!(again.silences().unwrap(), vec![k("webhook")]);

    // A node with --db: its own former files only.
    let node = tempfile::tempdir().unwrap();
    let n = node.path();
    std::fs::write(
        n.join("detections.jsonl"),
        "{\"id\":\"d1\",\"tenant\":\"default\"}\n",
    )
    .unwrap();
    std::fs::write(n.join("incidents.json"), "{\"default\":[{\"id\":\"L1\",").unwrap();
    std::fs::write(
        n.join("alerts.jsonl"),
        format!(
            "{}\n",
            r#"{"tenant":"default","live_id":"L1","delivered":true}"#
        ),
    )
    .unwrap();
    let imported = vigie_state::import_only(n, &vigie_state::import::NODE_FILES).unwrap();
    let said = imported.lines().join("\n");
    assert!(n.join("detections.jsonl").is_file(), "not the node's: left");
    assert!(n.join("incidents.json").is_file(), "damaged: left");
    assert!(!n.join("alerts.jsonl").exists());
    assert!(
        said.contains("incidents.json: NOT imported, left as it is"),
        "{said}"
    );
    assert!(said.contains("its incidents get new live ids"), "{said}");
    let st = Db::open(n).unwrap();
    assert_eq!(
        vigie_state::SqliteAlerts::new(st.clone())
            .last_delivered()
            .unwrap()
            .len(),
        1
    );
    // Repaired, imported at the next start; a tenant already named in
    // state.db keeps its ids.
    vigie_state::SqliteIncidentIds::new(st.clone())
        .keep("mairie-a", &[("L1".into(), e(&["host:new"]))])
        .unwrap();
    std::fs::write(
        n.join("incidents.json"),
        r#"{"default":[{"id":"L7","entities":["host:a"]}],"mairie-a":[{"id":"L1","entities":["host:old"]}]}"#,
    )
    .unwrap();
    let imported = vigie_state::import_only(n, &vigie_state::import::NODE_FILES).unwrap();
    let said = imported.lines().join("\n");
    assert!(
        said.contains("incidents.json: 1 line(s) imported"),
        "{said}"
    );
    assert!(
        said.contains("\"mairie-a\" are already named in state.db"),
        "{said}"
    );
    let all = vigie_state::SqliteIncidentIds::new(st).all().unwrap();
    assert_eq!(all["default"], vec![("L7".to_string(), e(&["host:a"]))]);
    assert_eq!(all["mairie-a"], vec![("L1".to_string(), e(&["host:new"]))]);
}

/// Indicator sources: replaced by name, each change moving the version,
/// a removal of what is not there changing nothing; kept across a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicator_sources_are_kept_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(vigie_state::SqliteIndicators::new(
        Db::open(dir.path()).unwrap(),
    ));
    let src = |name: &str, bytes: &[u8]| vigie_state::IndicatorSource {
        name: name.into(),
        info: format!("{{\"name\":\"{name}\"}}"),
        src: bytes.to_vec(),
    };
    assert_eq!(store.put(src("a", b"1.2.3.4\n")).await.unwrap(), 1);
    assert_eq!(store.put(src("b", &[0, 159, 146, 150])).await.unwrap(), 2);
    assert_eq!(store.put(src("a", b"5.6.7.8\n")).await.unwrap(), 3);
    assert_eq!(store.remove("zz").await.unwrap(), None);
    assert_eq!(store.remove("b").await.unwrap(), Some(4));
    assert_eq!(
        store.src("a").await.unwrap().as_deref(),
        Some(&b"5.6.7.8\n"[..])
    );
    assert_eq!(store.src("b").await.unwrap(), None);
    drop(store);
    let again = vigie_state::SqliteIndicators::new(Db::open(dir.path()).unwrap());
    let (version, all) = again.all().unwrap();
    assert_eq!(version, 4);
    assert_eq!(all, [src("a", b"5.6.7.8\n")]);
}

/// The live ids and the alerting's journal against the contract
/// PostgreSQL's meet too: two connections to one `state.db` as the two
/// nodes (SQLite orders the writers).
#[test]
fn live_ids_and_alert_journal_meet_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        vigie_state::SqliteIncidentIds::new(Db::open(dir.path()).unwrap()),
        vigie_state::SqliteIncidentIds::new(Db::open(dir.path()).unwrap()),
    );
    conformance::incident_ids(&a, &b);
    let (a, b) = (
        vigie_state::SqliteAlerts::new(Db::open(dir.path()).unwrap()),
        vigie_state::SqliteAlerts::new(Db::open(dir.path()).unwrap()),
    );
    conformance::alert_journal(&a, &b);
}

/// A `state.db` of the version before the claims: its journal's
/// deliveries are counted into `alert_claims` by the migration, so that a
/// start after the upgrade sends nothing again.
#[test]
fn the_journal_of_an_earlier_state_db_is_counted_at_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(vigie_state::FILE);
    // A state.db of today, its rows written, then brought back to the
    // former version's schema (0011 undone): the next open applies 0011.
    drop(Db::open(dir.path()).unwrap());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DELETE FROM alert_claims;
             INSERT INTO alert_records (sink, tenant, live_id, delivered, doc) VALUES
               ('webhook', 'default', 'L1', 1, '{\"n\":1}'),
               ('webhook', 'default', 'L1', 0, '{\"n\":2}'),
               ('webhook', 'default', 'L1', 1, '{\"n\":3}'),
               ('email', 'default', 'L1', 0, '{\"n\":4}');",
        )
        .unwrap();
        c.execute_batch(
            "ALTER TABLE alert_silences DROP COLUMN node; ALTER TABLE alert_silences DROP COLUMN until;
             DROP TABLE alert_claims; DELETE FROM vigie_migrations WHERE version = 11;",
        )
        .unwrap();
    }
    let alerts = vigie_state::SqliteAlerts::new(Db::open(dir.path()).unwrap());
    let last = alerts.last_delivered().unwrap();
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!((last[0].count, last[0].doc.as_str()), (2, "{\"n\":3}"));
    assert_eq!(last[0].key.sink, "webhook");
}
