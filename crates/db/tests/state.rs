//! The regional deployment's state stores against the same conformance
//! checks as the embedded ones, on a real PostgreSQL cluster (started
//! privately by each test; skipped without PostgreSQL outside CI), and
//! what two api nodes sharing one database see of each other's changes.

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use vigie_db::{PgCrisis, PgProposals, PgTriage};
use vigie_respond::lifecycle::{Actor, Role, State, Step};
use vigie_respond::store::{conformance as proposals_conformance, ProposalStore, StoreError};
use vigie_respond::{Proposal, Refusal};
use vigie_store::conformance;
use vigie_store::crisis::{CrisisJournal, Record};
use vigie_store::triage::{Change, Entry, Status, Target, TargetKind, TriageStore};
use vigie_testkit::servers::Postgres;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_triage_meets_the_contract_and_two_nodes_see_one_triage() {
    let Some(pg) = Postgres::start() else { return };
    let a = PgTriage::new(&pg.url());
    conformance::triage_store(&a).await;
    // A second node on the same database reads what the first wrote, and
    // its own change follows in order.
    let b = PgTriage::new(&pg.url());
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
            id: "d1".into(),
        },
        change: Change::Status {
            status: Status::Acknowledged,
        },
    })
    .await
    .unwrap();
    let states = vigie_store::triage::fold(&a.entries("mairie-a").await.unwrap());
    assert_eq!(states.values().next().unwrap().status, Status::Acknowledged);
    // Filter versions made on both nodes at once: each number once.
    let version = |n: u32| vigie_store::triage::FilterVersion {
        filter: "race".into(),
        version: 0,
        time: "t".into(),
        who: format!("who{n}"),
        tenant: "mairie-a".into(),
        yaml: format!("title: {n}"),
        from: None,
    };
    let (x, y) = tokio::join!(a.put_filter(version(1)), b.put_filter(version(2)));
    let mut numbers = [x.unwrap().version, y.unwrap().version];
    numbers.sort();
    assert_eq!(numbers, [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crisis_journal_meets_the_contract_and_is_shared() {
    let Some(pg) = Postgres::start() else { return };
    let a = PgCrisis::new(&pg.url());
    conformance::crisis_journal(&a).await;
    let b = PgCrisis::new(&pg.url());
    b.append(Record {
        tenant: "default".into(),
        json: br#"{"n":4}"#.to_vec(),
    })
    .await
    .unwrap();
    let all = a.records("default").await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], br#"{"n":4}"#);
    // Two nodes read 3 records and each appends after them: one wins,
    // the other is told and appends nothing.
    let rec = |n: u32| Record {
        tenant: "default".into(),
        json: format!("{{\"n\":{n}}}").into_bytes(),
    };
    let (x, y) = tokio::join!(a.append_after(rec(5), 3), b.append_after(rec(6), 3));
    assert!(x.unwrap() != y.unwrap(), "exactly one appended");
    assert_eq!(a.records("default").await.unwrap().len(), 4);
    assert!(!a.append_after(rec(7), 3).await.unwrap(), "stale");
    assert!(a.append_after(rec(7), 4).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_proposals_meet_the_contract_and_four_eyes_hold_across_nodes() {
    let Some(pg) = Postgres::start() else { return };
    let sample = sample();
    let a = PgProposals::new(&pg.url());
    proposals_conformance::proposal_store(&a, sample.clone()).await;

    // Another tenant, proposed on node A, approved on node B by a second
    // person; the proposer approving on B is refused there too.
    let b = PgProposals::new(&pg.url());
    let at = Utc.with_ymd_and_hms(2026, 1, 17, 9, 0, 0).unwrap();
    let tech = Actor::new("tech.alice", Role::Analyst);
    let admin_self = Actor::new("tech.alice", Role::Admin);
    let crisis = Actor::new("dgs.bob", Role::Crisis);
    assert_eq!(
        a.propose("c", sample.clone(), &tech, at).await.unwrap(),
        sample.len()
    );
    // Proposed again from node B (its own plan): nothing new, nothing
    // doubled.
    assert_eq!(b.propose("c", sample.clone(), &tech, at).await.unwrap(), 0);
    let guarded = sample
        .iter()
        .find(|p| p.four_eyes && p.reversible)
        .unwrap()
        .id
        .clone();
    assert!(matches!(
        b.apply("c", &guarded, Step::Approve, &admin_self, at).await,
        Err(StoreError::Refused(Refusal::SelfApproval { .. }))
    ));
    // Two approvals at once on two nodes: one succeeds, the other sees
    // the approved record and is refused.
    let (x, y) = tokio::join!(
        a.apply("c", &guarded, Step::Approve, &crisis, at),
        b.apply("c", &guarded, Step::Approve, &crisis, at)
    );
    assert!(
        x.is_ok() != y.is_ok(),
        "exactly one approval: {x:?} / {y:?}"
    );
    let r = a.get("c", &guarded).await.unwrap().unwrap();
    assert_eq!(r.state, State::Approved);
    assert_eq!(r.trail.len(), 2);
    assert_eq!(b.get("c", &guarded).await.unwrap().unwrap(), r);
    assert!(b
        .get("a-tenant-never-used", &guarded)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicator_sources_are_shared_and_each_change_moves_the_version() {
    use vigie_db::{IndicatorSource, PgIndicators};
    let Some(pg) = Postgres::start() else { return };
    let a = PgIndicators::new(&pg.url());
    let b = PgIndicators::new(&pg.url());
    assert_eq!(b.version().await.unwrap(), 0);
    assert_eq!(b.all().await.unwrap(), (0, Vec::new()));
    let src = |name: &str, bytes: &[u8]| IndicatorSource {
        name: name.into(),
        info: format!("{{\"name\":\"{name}\"}}"),
        src: bytes.to_vec(),
    };
    // Bytes kept as received, whatever they are.
    let odd = src("csirt", b"198.51.100.9\n\x00\xff");
    assert_eq!(a.put(&odd).await.unwrap(), 1);
    assert_eq!(a.put(&src("misp", b"{}")).await.unwrap(), 2);
    assert_eq!(b.version().await.unwrap(), 2);
    let (v, all) = b.all().await.unwrap();
    assert_eq!(v, 2);
    assert_eq!(all, vec![odd.clone(), src("misp", b"{}")]);
    // Replaced by name; removed once; a removal of nothing moves nothing.
    let newer = src("csirt", b"203.0.113.7\n");
    assert_eq!(b.put(&newer).await.unwrap(), 3);
    // The version each source was kept at (what a node taking a feed's
    // lease compares with the one it holds).
    assert_eq!(a.src_version("csirt").await.unwrap(), Some(3));
    assert_eq!(a.src_version("misp").await.unwrap(), Some(2));
    assert_eq!(b.remove("misp").await.unwrap(), Some(4));
    assert_eq!(a.src_version("misp").await.unwrap(), None);
    assert_eq!(a.remove("misp").await.unwrap(), None);
    assert_eq!(a.version().await.unwrap(), 4);
    assert_eq!(a.all().await.unwrap(), (4, vec![newer]));
}

/// Two api nodes auditing at once, from several threads each: one chain,
/// every line in it, checked as the file's is.
#[test]
fn the_audit_log_is_one_chain_across_nodes() {
    use vigie_console::audit::{verify_bytes, Action, AuditLog, Outcome};
    use vigie_db::PgAudit;
    let Some(pg) = Postgres::start() else { return };
    let a = std::sync::Arc::new(PgAudit::new(&pg.url()).unwrap());
    let b = std::sync::Arc::new(PgAudit::new(&pg.url()).unwrap());
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
    assert_eq!(b.read().unwrap(), text, "both nodes read the same log");
    assert!(!a.place().contains("password"));
    // A line changed in the database breaks the chain at the next one.
    let lines: Vec<&[u8]> = text.split(|&c| c == b'\n').collect();
    let mut edited = text.clone();
    let at = lines[0].len() + 1 + 20;
    edited[at] = if edited[at] == b'x' { b'y' } else { b'x' };
    assert_eq!(verify_bytes(&edited).unwrap_err().line, 3);
}

/// A node holding the audit log's lock (one cut from the database in the
/// middle of an append, say) does not freeze the others: their append
/// fails after the bounded lock wait, with its reason, and the next one
/// after the lock is free chains as ever. Every connection of the crate
/// carries the session's bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_audit_lock_fails_an_append_in_bounded_time() {
    use vigie_console::audit::{verify_bytes, Action, AuditLog, Outcome};
    use vigie_db::PgAudit;
    let Some(pg) = Postgres::start() else { return };
    let audit = PgAudit::new(&pg.url()).unwrap();
    let append =
        |what: &str| audit.append("token:a", "10.0.0.1", Action::Login, what, Outcome::Success);
    append("first").unwrap();

    let (other, conn) = vigie_db::config(&pg.url())
        .unwrap()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    for (setting, bound) in [
        ("lock_timeout", "10s"),
        ("statement_timeout", "1min"),
        ("idle_in_transaction_session_timeout", "30s"),
    ] {
        let shown: String = other
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(shown, bound, "{setting}");
    }
    // The audit log's lock, held as a stuck node would.
    other
        .execute("SELECT pg_advisory_lock($1)", &[&0x7669_6769_6501_i64])
        .await
        .unwrap();
    let clock = std::time::Instant::now();
    let e = append("while held").unwrap_err().to_string();
    let waited = clock.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(9) && waited < std::time::Duration::from_secs(20),
        "{waited:?}"
    );
    assert!(e.contains("appending to the audit log"), "{e}");
    other
        .execute("SELECT pg_advisory_unlock($1)", &[&0x7669_6769_6501_i64])
        .await
        .unwrap();
    append("after").unwrap();
    let text = audit.read().unwrap();
    assert_eq!(
        verify_bytes(&text),
        Ok(2),
        "{}",
        String::from_utf8_lossy(&text)
    );
}

/// The live incidents' ids and the alerting's journal against the
/// contract `state.db` meets too, two nodes on one PostgreSQL: what one
/// names the other reads before naming, two naming at once agree, one
/// claim of a message wins, a dead node's claim is taken over.
#[test]
fn postgres_live_ids_and_alert_journal_meet_the_contract() {
    let Some(pg) = Postgres::start() else { return };
    let (a, b) = (
        vigie_db::PgIncidentIds::new(&pg.url()).unwrap(),
        vigie_db::PgIncidentIds::new(&pg.url()).unwrap(),
    );
    conformance::incident_ids(&a, &b);
    let (a, b) = (
        vigie_db::PgAlerts::new(&pg.url()).unwrap(),
        vigie_db::PgAlerts::new(&pg.url()).unwrap(),
    );
    conformance::alert_journal(&a, &b);
}

/// A node's `state.db` ids, journal and silences brought into
/// PostgreSQL, tenant by tenant: a tenant PostgreSQL holds nothing of is
/// taken whole (its deliveries counted there: a node starting with `--db`
/// sends nothing again); a tenant another node already named keeps what
/// PostgreSQL has — none of this node's ids nor records of it (they would
/// stand for other incidents). The same rows brought again (a start
/// interrupted before `state.db` was emptied) take nothing twice.
#[test]
fn a_nodes_live_half_is_imported_once_and_only_into_unnamed_tenants() {
    use std::collections::{BTreeMap, BTreeSet};
    use vigie_store::live::{AlertJournal, AlertRow, IncidentIds};
    let Some(pg) = Postgres::start() else { return };
    let alerts = vigie_db::PgAlerts::new(&pg.url()).unwrap();
    let ids = vigie_db::PgIncidentIds::new(&pg.url()).unwrap();
    let set = |e: &[&str]| e.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // `default` already named here by another node: its L1 is dc01.
    ids.name(
        "default",
        Box::new(move |known| {
            known.push(("L1".into(), ["host:dc01".to_string()].into()));
            vec!["L1".into()]
        }),
    )
    .unwrap();
    let row = |tenant: &str, id: &str, delivered: bool, n: u32| AlertRow {
        sink: "webhook".into(),
        tenant: tenant.into(),
        live_id: id.into(),
        delivered,
        doc: format!("{{\"n\":{n}}}"),
    };
    let mut incidents = BTreeMap::new();
    incidents.insert(
        "default".to_string(),
        vec![("L1".to_string(), set(&["host:ancien-poste"]))],
    );
    incidents.insert(
        "mairie-b".to_string(),
        vec![
            ("L1".to_string(), set(&["host:pc-b1"])),
            ("L2".to_string(), set(&["account:b.martin"])),
        ],
    );
    let journal = [
        row("mairie-b", "L1", true, 1),
        row("default", "L1", true, 2),
        row("mairie-b", "L1", false, 3),
        row("mairie-b", "L1", true, 4),
        row("mairie-b", "L2", true, 5),
    ];
    let silences = [
        ["webhook", "mairie-b", "pc-b1", "Security"].map(str::to_string),
        ["webhook", "default", "dc01", "Security"].map(str::to_string),
    ];
    let done = alerts
        .import_node("node a", &incidents, &journal, &silences)
        .unwrap();
    assert!(!done.already);
    let count = |tenant: &str, ids, records, silences| vigie_db::TenantImport {
        tenant: tenant.into(),
        ids,
        records,
        silences,
    };
    assert_eq!(done.taken, [count("mairie-b", 2, 4, 1)]);
    assert_eq!(done.skipped, [count("default", 1, 1, 1)]);
    let all = ids.all().unwrap();
    assert_eq!(
        all["default"],
        [("L1".to_string(), set(&["host:dc01"]))],
        "the tenant named here keeps its ids"
    );
    assert_eq!(all["mairie-b"], incidents["mairie-b"]);
    let mut last = alerts.last_delivered().unwrap();
    last.sort_by(|x, y| x.key.cmp(&y.key));
    let got: Vec<(&str, &str, u64, &str)> = last
        .iter()
        .map(|d| {
            (
                d.key.tenant.as_str(),
                d.key.live_id.as_str(),
                d.count,
                d.doc.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("mairie-b", "L1", 2, "{\"n\":4}"),
            ("mairie-b", "L2", 1, "{\"n\":5}")
        ],
        "default's L1 record not taken: it was another incident's"
    );
    assert_eq!(alerts.journal().unwrap().len(), 4);
    assert_eq!(alerts.silences().unwrap(), vec![silences[0].clone()]);

    // Brought again (state.db not emptied after the commit): nothing.
    let again = alerts
        .import_node("node a", &incidents, &journal, &silences)
        .unwrap();
    assert!(again.already, "{again:?}");
    assert!(again.taken.is_empty() && again.skipped.is_empty());
    assert_eq!(alerts.journal().unwrap().len(), 4, "not appended twice");
    assert_eq!(ids.all().unwrap(), all);
}
