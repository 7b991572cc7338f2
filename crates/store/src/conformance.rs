//! The behaviour every [`EventLog`] must have, as functions any backend's
//! tests call (the embedded one here, NATS JetStream in the regional
//! deployment): one definition of the contract, checked everywhere.

use std::time::Duration;

use crate::{DetectionDoc, DetectionStore, EventLog, IngestBatch, Position};

fn batch(tenant: &str, events: &[&str]) -> IngestBatch {
    IngestBatch {
        tenant: tenant.into(),
        source: "conformance".into(),
        received: 1_767_225_600_000_000,
        events: events.iter().map(|e| e.as_bytes().to_vec()).collect(),
    }
}

/// Checks `log`, which must be empty: positions without gaps, delivery in
/// order and whole, per consumer, waiting for appends, commits.
pub async fn event_log(log: &dyn EventLog) {
    assert_eq!(log.records().await.unwrap(), 0, "starts empty");
    let a = log
        .append(batch("default", &["{\"n\":0}", "{\"n\":1}"]))
        .await
        .unwrap();
    assert_eq!((a.first, a.count), (Position(0), 2));
    let b = log.append(batch("mairie-b", &["{\"n\":2}"])).await.unwrap();
    assert_eq!((b.first, b.count), (Position(2), 1));
    let empty = log.append(batch("default", &[])).await.unwrap();
    assert_eq!(empty.count, 0);
    assert_eq!(log.records().await.unwrap(), 3);

    // Delivered in order, whole, with tenant and source; at most `max`.
    let got = log.consume("w1", 2, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].position, Position(0));
    assert_eq!(got[0].event, b"{\"n\":0}");
    assert_eq!(got[0].tenant, "default");
    assert_eq!(got[0].source, "conformance");
    assert_eq!(got[0].received, 1_767_225_600_000_000);
    let got = log.consume("w1", 10, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].position, got[0].tenant.as_str()),
        (Position(2), "mairie-b")
    );
    // Nothing more: an empty answer after the wait.
    let none = log
        .consume("w1", 10, Duration::from_millis(50))
        .await
        .unwrap();
    assert!(none.is_empty());

    // Another consumer starts from the beginning.
    let other = log.consume("w2", 10, Duration::ZERO).await.unwrap();
    assert_eq!(other.len(), 3);

    // Commits are kept per consumer; past the end is refused.
    assert_eq!(log.committed("w1").await.unwrap(), None);
    log.commit("w1", Position(1)).await.unwrap();
    assert_eq!(log.committed("w1").await.unwrap(), Some(Position(1)));
    assert_eq!(log.committed("w2").await.unwrap(), None);
    assert!(log.commit("w1", Position(3)).await.is_err());
    assert!(log.commit("../escape", Position(0)).await.is_err());

    // A consumer waiting is woken by an append.
    let (got, _) = tokio::join!(log.consume("w1", 10, Duration::from_secs(10)), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        log.append(batch("default", &["{\"n\":3}"])).await.unwrap()
    });
    let got = got.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].position, Position(3));
}

/// Checks that what `open` gives back after a restart holds every record
/// and resumes each consumer after its committed position. `open` opens
/// the same log each time it is called.
pub async fn event_log_restart<L: EventLog>(open: impl Fn() -> L) {
    {
        let log = open();
        for i in 0..5 {
            let line = format!("{{\"n\":{i}}}");
            log.append(batch("default", &[&line])).await.unwrap();
        }
        let got = log.consume("w", 3, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 3);
        log.commit("w", got[2].position).await.unwrap();
        // Delivered but not committed: given again after the restart.
        assert_eq!(log.consume("w", 1, Duration::ZERO).await.unwrap().len(), 1);
    }
    let log = open();
    assert_eq!(log.records().await.unwrap(), 5);
    let got = log.consume("w", 10, Duration::ZERO).await.unwrap();
    let positions: Vec<u64> = got.iter().map(|d| d.position.0).collect();
    assert_eq!(positions, [3, 4], "resumes after the commit");
    assert_eq!(got[0].event, b"{\"n\":3}");
    let fresh = log.consume("new", 10, Duration::ZERO).await.unwrap();
    assert_eq!(fresh.len(), 5);
    // Released, a reader starts again after its committed position.
    log.release("new").await.unwrap();
    assert_eq!(
        log.consume("new", 10, Duration::ZERO).await.unwrap().len(),
        5
    );
    log.release("w").await.unwrap();
    let again = log.consume("w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(again.first().map(|d| d.position.0), Some(3));
}

fn doc(id: &str, tenant: &str, n: u32) -> DetectionDoc {
    DetectionDoc {
        id: id.into(),
        tenant: tenant.into(),
        json: format!("{{\"id\":\"{id}\",\"tenant\":\"{tenant}\",\"n\":{n}}}").into_bytes(),
    }
}

/// Checks `store`, which must be empty (documents carry their `tenant`
/// too, as Vigie's do): each id kept once (a batch given
/// again, an id twice in one batch), reads of one tenant only, the latest
/// in the order kept.
pub async fn detection_store(store: &dyn DetectionStore) {
    assert_eq!(store.count_all().await.unwrap(), 0, "starts empty");
    let first = vec![
        doc("a1", "mairie-a", 1),
        doc("a2", "mairie-a", 2),
        doc("b1", "mairie-b", 1),
    ];
    assert_eq!(store.put(first.clone()).await.unwrap(), 3);
    // Redelivered: nothing new.
    assert_eq!(store.put(first).await.unwrap(), 0);
    // Twice in one batch, and one already kept: one new.
    let again = vec![
        doc("a3", "mairie-a", 3),
        doc("a3", "mairie-a", 3),
        doc("a1", "mairie-a", 1),
    ];
    assert_eq!(store.put(again).await.unwrap(), 1);
    assert_eq!(store.put(Vec::new()).await.unwrap(), 0);
    assert_eq!(store.count("mairie-a").await.unwrap(), 3);
    assert_eq!(store.count("mairie-b").await.unwrap(), 1);
    assert_eq!(store.count("mairie-c").await.unwrap(), 0);
    assert_eq!(store.count_all().await.unwrap(), 4);
    let text = |docs: Vec<Vec<u8>>| -> Vec<String> {
        docs.into_iter()
            .map(|d| String::from_utf8(d).unwrap())
            .collect()
    };
    let latest = text(store.latest("mairie-a", 2).await.unwrap());
    assert_eq!(latest.len(), 2);
    assert!(
        latest[0].contains("\"a2\"") && latest[1].contains("\"a3\""),
        "{latest:?}"
    );
    let b = text(store.latest("mairie-b", 10).await.unwrap());
    assert_eq!(b.len(), 1);
    assert!(b[0].contains("\"b1\""));
    assert!(store.latest("mairie-c", 10).await.unwrap().is_empty());
    assert!(store.latest("mairie-a", 0).await.unwrap().is_empty());
    // One detection by its id, only in its own tenant.
    let one = store
        .get("mairie-a", "a2")
        .await
        .unwrap()
        .map(|d| text(vec![d]));
    assert!(one.is_some_and(|d| d[0].contains("\"a2\"")));
    assert!(store.get("mairie-b", "a2").await.unwrap().is_none());
    assert!(store.get("mairie-a", "zz").await.unwrap().is_none());
    // A document with any text in it is kept as it is.
    let odd = DetectionDoc {
        id: "odd".into(),
        tenant: "mairie-b".into(),
        json: br#"{"id":"odd","tenant":"mairie-b","cmd":"a\u0000b \u00e9 \ud83d\ude00"}"#.to_vec(),
    };
    assert_eq!(store.put(vec![odd.clone()]).await.unwrap(), 1);
    let back = store.latest("mairie-b", 1).await.unwrap();
    assert_eq!(back, vec![odd.json]);
}

fn change(
    tenant: &str,
    id: &str,
    who: &str,
    change: crate::triage::Change,
) -> crate::triage::Entry {
    use crate::triage::{Entry, Target, TargetKind};
    Entry {
        time: "2026-12-05T10:00:00Z".into(),
        who: who.into(),
        tenant: tenant.into(),
        target: Target {
            kind: TargetKind::Detection,
            id: id.into(),
        },
        change,
    }
}

/// Checks `store`, which must be empty: changes kept in order per tenant
/// (another tenant's never read), filter versions numbered 1, 2, … and
/// all kept, a removed filter kept and never given a new version, saved
/// searches replaced by id and removed per tenant, rule switches in
/// order.
pub async fn triage_store(store: &dyn crate::triage::TriageStore) {
    use crate::triage::{
        disabled_rules, fold, Change, FilterVersion, Removal, RuleSwitch, SavedSearch,
        SearchRemoval, Status, TargetKind,
    };
    assert!(
        store.entries("mairie-a").await.unwrap().is_empty(),
        "starts empty"
    );
    let assign = Change::Assign {
        assignee: Some("vera".into()),
    };
    store
        .record(change("mairie-a", "d1", "anne", assign))
        .await
        .unwrap();
    store
        .record(change(
            "mairie-b",
            "d1",
            "bob",
            Change::Status {
                status: Status::Resolved,
            },
        ))
        .await
        .unwrap();
    store
        .record(change(
            "mairie-a",
            "d1",
            "vera",
            Change::Status {
                status: Status::FalsePositive,
            },
        ))
        .await
        .unwrap();
    store
        .record(change(
            "mairie-a",
            "d1",
            "vera",
            Change::Comment {
                text: "script d'administration \u{0} é".into(),
            },
        ))
        .await
        .unwrap();
    let a = store.entries("mairie-a").await.unwrap();
    assert_eq!(a.len(), 3, "{a:?}");
    assert!(a.iter().all(|e| e.tenant == "mairie-a"));
    let states = fold(&a);
    let s = states.values().next().unwrap();
    assert_eq!(s.target.kind, TargetKind::Detection);
    assert_eq!(s.status, Status::FalsePositive);
    assert_eq!(s.assignee.as_deref(), Some("vera"));
    assert_eq!(
        s.history[2].change,
        Change::Comment {
            text: "script d'administration \u{0} é".into()
        },
        "read back whole"
    );
    let b = fold(&store.entries("mairie-b").await.unwrap());
    assert_eq!(b.values().next().unwrap().status, Status::Resolved);
    assert!(store.entries("mairie-c").await.unwrap().is_empty());

    // Filters: numbered by the store, every version kept.
    let v = FilterVersion {
        filter: "f1".into(),
        version: 0,
        time: "2026-12-05T10:00:00Z".into(),
        who: "vera".into(),
        tenant: "mairie-a".into(),
        yaml: "title: a".into(),
        from: None,
    };
    assert_eq!(store.put_filter(v.clone()).await.unwrap().version, 1);
    let v2 = FilterVersion {
        yaml: "title: b".into(),
        version: 7,
        ..v.clone()
    };
    assert_eq!(store.put_filter(v2).await.unwrap().version, 2);
    let other = FilterVersion {
        filter: "f0".into(),
        tenant: "mairie-b".into(),
        ..v.clone()
    };
    assert_eq!(store.put_filter(other).await.unwrap().version, 1);
    let fs = store.filters().await.unwrap();
    let ids: Vec<&str> = fs.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["f0", "f1"]);
    assert_eq!(fs[1].tenant, "mairie-a");
    assert_eq!(fs[1].versions.len(), 2);
    assert_eq!(fs[1].active().unwrap().yaml, "title: b");
    assert!(store
        .remove_filter(Removal {
            filter: "nope".into(),
            time: "t".into(),
            who: "anne".into(),
        })
        .await
        .is_err());
    let removal = Removal {
        filter: "f1".into(),
        time: "2026-12-05T11:00:00Z".into(),
        who: "anne".into(),
    };
    store.remove_filter(removal.clone()).await.unwrap();
    // Removed twice: the first removal is the one said.
    store
        .remove_filter(Removal {
            who: "bob".into(),
            ..removal.clone()
        })
        .await
        .unwrap();
    let fs = store.filters().await.unwrap();
    assert!(fs[1].active().is_none());
    assert_eq!(fs[1].removed.as_ref(), Some(&removal));
    assert_eq!(fs[1].versions.len(), 2, "versions kept after removal");
    assert!(fs[0].active().is_some());
    assert!(
        store.put_filter(v).await.is_err(),
        "a removed filter stays removed"
    );

    // Saved searches: per tenant, replaced by id (moved last), removed.
    let saved = |id: &str, tenant: &str, name: &str| SavedSearch {
        id: id.into(),
        tenant: tenant.into(),
        name: name.into(),
        query: "EventID:4625".into(),
        from: None,
        to: None,
        host: Some("DC01".into()),
        who: "anne".into(),
        time: "t".into(),
    };
    store
        .save_search(saved("s1", "mairie-a", "échecs"))
        .await
        .unwrap();
    store
        .save_search(saved("s2", "mairie-a", "RDP"))
        .await
        .unwrap();
    store
        .save_search(saved("s1", "mairie-b", "autre commune"))
        .await
        .unwrap();
    store
        .save_search(saved("s1", "mairie-a", "échecs de connexion"))
        .await
        .unwrap();
    assert_eq!(
        store.searches("mairie-a").await.unwrap(),
        vec![
            saved("s2", "mairie-a", "RDP"),
            saved("s1", "mairie-a", "échecs de connexion")
        ]
    );
    let gone = SearchRemoval {
        id: "s1".into(),
        tenant: "mairie-a".into(),
        who: "anne".into(),
        time: "t".into(),
    };
    assert!(store.remove_search(gone.clone()).await.unwrap());
    assert!(!store.remove_search(gone).await.unwrap());
    assert_eq!(store.searches("mairie-a").await.unwrap().len(), 1);
    assert_eq!(
        store.searches("mairie-b").await.unwrap(),
        vec![saved("s1", "mairie-b", "autre commune")],
        "another tenant's search of the same id stays"
    );

    // Rule switches: for every tenant or one commune's, in order; the
    // last one of a rule (for its tenants) decides.
    let s = |rule: &str, enabled: bool| RuleSwitch {
        rule: rule.into(),
        title: format!("title of {rule}"),
        enabled,
        reason: "noisy on the backup server".into(),
        who: "anne".into(),
        time: "2026-12-05T10:00:00Z".into(),
        tenant: None,
    };
    let of = |rule: &str, enabled: bool, tenant: &str| RuleSwitch {
        tenant: Some(tenant.into()),
        ..s(rule, enabled)
    };
    store.switch_rule(s("r1", false)).await.unwrap();
    store.switch_rule(s("r2", false)).await.unwrap();
    store
        .switch_rule(of("r3", false, "mairie-b"))
        .await
        .unwrap();
    store
        .switch_rule(of("r1", false, "mairie-a"))
        .await
        .unwrap();
    store.switch_rule(s("r1", true)).await.unwrap();
    store
        .switch_rule(of("r4", false, "mairie-b"))
        .await
        .unwrap();
    store.switch_rule(of("r4", true, "mairie-b")).await.unwrap();
    let all = store.rule_switches().await.unwrap();
    assert_eq!(
        all,
        vec![
            s("r1", false),
            s("r2", false),
            of("r3", false, "mairie-b"),
            of("r1", false, "mairie-a"),
            s("r1", true),
            of("r4", false, "mairie-b"),
            of("r4", true, "mairie-b"),
        ]
    );
    let off = disabled_rules(&all);
    assert_eq!(off.keys().collect::<Vec<_>>(), ["r2"], "every tenant's");
    let by = crate::triage::disabled_by_tenant(&all);
    assert_eq!(by.keys().collect::<Vec<_>>(), ["mairie-a", "mairie-b"]);
    assert_eq!(
        by["mairie-a"].keys().collect::<Vec<_>>(),
        ["r1"],
        "turned on for every tenant, still off for the commune that chose so"
    );
    assert_eq!(by["mairie-b"].keys().collect::<Vec<_>>(), ["r3"]);
}

/// Checks `journal`, which must be empty: records read back whole, in
/// the order appended, per tenant; what is not JSON refused; the tenants
/// with records, sorted.
pub async fn crisis_journal(journal: &dyn crate::crisis::CrisisJournal) {
    use crate::crisis::Record;
    let rec = |tenant: &str, json: &str| Record {
        tenant: tenant.into(),
        json: json.as_bytes().to_vec(),
    };
    assert!(journal.tenants().await.unwrap().is_empty(), "starts empty");
    journal.append(rec("quimper", r#"{"n":1}"#)).await.unwrap();
    journal.append(rec("default", r#"{"n":2}"#)).await.unwrap();
    journal
        .append(rec("default", r#"{"n": 3, "s": "é\n\u0000"}"#))
        .await
        .unwrap();
    assert!(journal.append(rec("default", "not json")).await.is_err());
    let text = |v: Vec<Vec<u8>>| -> Vec<String> {
        v.into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect()
    };
    assert_eq!(
        text(journal.records("default").await.unwrap()),
        vec![r#"{"n":2}"#, r#"{"n":3,"s":"é\n\u0000"}"#]
    );
    assert_eq!(
        text(journal.records("quimper").await.unwrap()),
        vec![r#"{"n":1}"#]
    );
    assert!(journal.records("brest").await.unwrap().is_empty());
    assert_eq!(journal.tenants().await.unwrap(), vec!["default", "quimper"]);
    // Appended after what was read: kept.
    assert!(journal
        .append_after(rec("quimper", r#"{"n":4}"#), 1)
        .await
        .unwrap());
    assert_eq!(journal.records("quimper").await.unwrap().len(), 2);
}

/// [`EventLog::received_since`] and [`EventLog::seek`]: three batches
/// received at three times; the first position of each is found by its
/// time, and a one-off reader moved there reads from it. Run on a fresh
/// log by each backend that reads by position.
pub async fn received_since(log: &dyn EventLog) {
    let base = 1_767_225_600_000_000i64;
    let mut firsts = Vec::new();
    for (i, received) in [base, base + 60_000_000, base + 120_000_000]
        .into_iter()
        .enumerate()
    {
        let appended = log
            .append(IngestBatch {
                tenant: "t".into(),
                source: "s".into(),
                received,
                events: vec![format!("{{\"n\":{i}}}").into_bytes(); 3],
            })
            .await
            .unwrap();
        firsts.push(appended.first);
    }
    let since = |at| async move { log.received_since(at).await.unwrap().unwrap() };
    assert_eq!(since(base - 1).await, firsts[0]);
    assert_eq!(since(base).await, firsts[0]);
    assert_eq!(since(base + 1).await, firsts[1]);
    assert_eq!(since(base + 60_000_000).await, firsts[1]);
    assert_eq!(since(base + 90_000_000).await, firsts[2]);
    assert_eq!(since(base + 200_000_000).await, Position(firsts[2].0 + 3));
    let consumer = "retrohunt-conformance";
    assert!(log.seek(consumer, firsts[1]).await.unwrap());
    let got = log
        .consume(consumer, 100, std::time::Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(got.len(), 6, "from the second batch on: {got:?}");
    assert_eq!(got[0].position, firsts[1]);
    assert_eq!(got[0].received, base + 60_000_000);
    log.release(consumer).await.unwrap();
}

/// The incidents' live ids ([`crate::live::IncidentIds`]): `a` and `b`
/// are two views of one empty store (two nodes on one database; two
/// connections to one `state.db`). What one names the other reads before
/// naming; two naming one tenant at once agree on every id; tenants stay
/// apart; an import never replaces a tenant's ids.
pub fn incident_ids(a: &dyn crate::live::IncidentIds, b: &dyn crate::live::IncidentIds) {
    use crate::live::KnownIncident;
    use std::collections::BTreeSet;
    let set = |e: &[&str]| e.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // Names `entity`: the incident holding it, or a new one numbered after
    // those kept (as the live scope numbers them).
    fn find_or_add(known: &mut Vec<KnownIncident>, entity: &str) -> Vec<String> {
        if let Some((id, _)) = known.iter().find(|(_, e)| e.contains(entity)) {
            return vec![id.clone()];
        }
        let id = format!("L{}", known.len() + 1);
        known.push((id.clone(), [entity.to_string()].into()));
        vec![id]
    }
    assert!(a.all().unwrap().is_empty(), "starts empty");
    let got = a
        .name("default", Box::new(|k| find_or_add(k, "host:pc1")))
        .unwrap();
    assert_eq!(got, ["L1"]);
    // The other node reads it before naming: its new incident is L2, and
    // the one already named keeps L1.
    let got = b
        .name(
            "default",
            Box::new(|k| {
                let mut ids = find_or_add(k, "host:pc1");
                ids.extend(find_or_add(k, "host:dc01"));
                k[0].1.insert("account:alice".into());
                ids
            }),
        )
        .unwrap();
    assert_eq!(got, ["L1", "L2"]);
    assert_eq!(
        a.all().unwrap()["default"],
        vec![
            ("L1".to_string(), set(&["account:alice", "host:pc1"])),
            ("L2".to_string(), set(&["host:dc01"]))
        ]
    );
    // A naming that changes nothing keeps what was there.
    let got = a
        .name("default", Box::new(|k| find_or_add(k, "host:dc01")))
        .unwrap();
    assert_eq!(got, ["L2"]);
    assert_eq!(b.all().unwrap()["default"].len(), 2);
    // Another tenant starts from nothing.
    let got = b
        .name("mairie-b", Box::new(|k| find_or_add(k, "host:dc01")))
        .unwrap();
    assert_eq!(got, ["L1"]);

    // Two nodes naming one tenant's incidents at once, 20 each, the same
    // entities in opposite orders: every entity gets one id, both nodes
    // were given the same one, the ids are L1..L20 without a gap.
    let entities: Vec<String> = (0..20).map(|i| format!("host:pc{i:02}")).collect();
    let run = |store: &dyn crate::live::IncidentIds, reversed: bool| {
        let mut order = entities.clone();
        if reversed {
            order.reverse();
        }
        order
            .into_iter()
            .map(|e| {
                let ent = e.clone();
                let id = store
                    .name("race", Box::new(move |k| find_or_add(k, &ent)))
                    .unwrap();
                (e, id[0].clone())
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (on_a, on_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| run(a, false));
        let tb = s.spawn(|| run(b, true));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert_eq!(on_a, on_b, "both nodes gave each incident the same id");
    let kept = a.all().unwrap().remove("race").unwrap();
    assert_eq!(kept.len(), 20);
    for (i, (id, e)) in kept.iter().enumerate() {
        assert_eq!(id, &format!("L{}", i + 1));
        assert_eq!(e.len(), 1);
        assert_eq!(&on_a[e.iter().next().unwrap()], id);
    }

    // An import: a tenant already named keeps its ids; another is taken.
    assert!(!a
        .import("default", &[("L9".into(), set(&["host:x"]))])
        .unwrap());
    assert!(a
        .import("mairie-c", &[("L7".into(), set(&["host:a"]))])
        .unwrap());
    let all = b.all().unwrap();
    assert_eq!(all["default"].len(), 2);
    assert_eq!(all["mairie-c"], vec![("L7".to_string(), set(&["host:a"]))]);
    // Named after an import: numbered after what was imported.
    let got = b
        .name("mairie-c", Box::new(|k| find_or_add(k, "host:b")))
        .unwrap();
    assert_eq!(got, ["L2"]);
}

/// The alerting's journal and claims ([`crate::live::AlertJournal`]): `a`
/// and `b` are two views of one empty store. One node wins a message's
/// claim, the other is told who holds it or what was delivered; a claim
/// let go or expired (its node died) is taken by the other; of many
/// claiming at once, one wins; silences are said once.
pub fn alert_journal(a: &dyn crate::live::AlertJournal, b: &dyn crate::live::AlertJournal) {
    use crate::live::{AlertKey, AlertRow, Claim};
    let key = |tenant: &str, id: &str| AlertKey {
        sink: "webhook".into(),
        tenant: tenant.into(),
        live_id: id.into(),
    };
    let row = |k: &AlertKey, delivered: bool, n: u32| AlertRow {
        sink: k.sink.clone(),
        tenant: k.tenant.clone(),
        live_id: k.live_id.clone(),
        delivered,
        doc: format!("{{\"n\":{n}}}"),
    };
    assert!(a.last_delivered().unwrap().is_empty(), "starts empty");
    let k = key("default", "L1");
    assert_eq!(a.claim(&k, 0, "node-a", 60).unwrap(), Claim::Won);
    match b.claim(&k, 0, "node-b", 60).unwrap() {
        Claim::Lost { last: None, holder } => assert_eq!(holder.as_deref(), Some("node-a")),
        other => panic!("held by node-a: {other:?}"),
    }
    assert_eq!(a.delivered(&row(&k, true, 1), "node-a").unwrap(), 1);
    // The other node, knowing of no delivery, is told of this one.
    match b.claim(&k, 0, "node-b", 60).unwrap() {
        Claim::Lost {
            last: Some(d),
            holder: None,
        } => {
            assert_eq!((d.count, d.doc.as_str()), (1, "{\"n\":1}"));
            assert!((0..=5).contains(&d.age_secs), "{}", d.age_secs);
        }
        other => panic!("delivered once: {other:?}"),
    }
    // Knowing it, it wins the next message; let go (not delivered), the
    // first node takes it.
    assert_eq!(b.claim(&k, 1, "node-b", 60).unwrap(), Claim::Won);
    assert!(matches!(
        a.claim(&k, 1, "node-a", 60).unwrap(),
        Claim::Lost { .. }
    ));
    b.append(&row(&k, false, 2)).unwrap();
    // Another node's release takes nothing from the holder.
    a.release(&k, "node-a").unwrap();
    match a.claim(&k, 1, "node-a", 60).unwrap() {
        Claim::Lost { holder, .. } => assert_eq!(holder.as_deref(), Some("node-b")),
        other => panic!("still node-b's: {other:?}"),
    }
    b.release(&k, "node-b").unwrap();
    assert_eq!(
        a.claim(&k, 1, "node-a", 60).unwrap(),
        Claim::Won,
        "let go: the next claimer wins at once, not after the lease"
    );
    match b.claim(&k, 1, "node-b", 60).unwrap() {
        Claim::Lost { holder, .. } => assert_eq!(holder.as_deref(), Some("node-a")),
        other => panic!("node-a's now: {other:?}"),
    }
    a.release(&k, "node-a").unwrap();
    // A node dying with its claim (a lease already over, as if it died a
    // while ago): the other takes it over and delivers.
    assert_eq!(a.claim(&k, 1, "node-a", -1).unwrap(), Claim::Won);
    assert_eq!(b.claim(&k, 1, "node-b", 60).unwrap(), Claim::Won);
    assert_eq!(b.delivered(&row(&k, true, 3), "node-b").unwrap(), 2);
    // The dead node's late release takes nothing from anyone.
    a.release(&k, "node-a").unwrap();
    let last = a.last_delivered().unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(
        (&last[0].key, last[0].count, last[0].doc.as_str()),
        (&k, 2, "{\"n\":3}")
    );
    // The journal: every message, failures too, in order.
    let journal = b.journal().unwrap();
    let docs: Vec<(&str, bool)> = journal
        .iter()
        .map(|r| (r.doc.as_str(), r.delivered))
        .collect();
    assert_eq!(
        docs,
        [
            ("{\"n\":1}", true),
            ("{\"n\":2}", false),
            ("{\"n\":3}", true)
        ]
    );
    // Keys are apart: another tenant's L1 is its own.
    assert_eq!(
        a.claim(&key("mairie-b", "L1"), 0, "node-a", 60).unwrap(),
        Claim::Won
    );
    // A node restarted after a `kill -9` in its delivery finds its own
    // claim live: its own (one process per data directory), taken again at
    // once; another node is still refused it.
    let mine = key("default", "L3");
    assert_eq!(a.claim(&mine, 0, "node-a", 60).unwrap(), Claim::Won);
    assert_eq!(
        b.claim(&mine, 0, "node-a", 60).unwrap(),
        Claim::Won,
        "a node's own live claim is taken again by it"
    );
    match b.claim(&mine, 0, "node-b", 60).unwrap() {
        Claim::Lost { holder, .. } => assert_eq!(holder.as_deref(), Some("node-a")),
        other => panic!("node-a's: {other:?}"),
    }
    a.release(&mine, "node-a").unwrap();
    // Many claiming one message at once: one wins.
    let race = key("default", "L2");
    let won = std::thread::scope(|s| {
        let ts: Vec<_> = (0..8)
            .map(|i| {
                let (store, race) = (if i % 2 == 0 { a } else { b }, &race);
                s.spawn(move || store.claim(race, 0, &format!("node-{i}"), 60).unwrap())
            })
            .collect();
        ts.into_iter()
            .map(|t| t.join().unwrap())
            .filter(|c| *c == Claim::Won)
            .count()
    });
    assert_eq!(won, 1, "one claim of eight won");

    // Silences: claimed by one node, said once; one let go is the other's.
    let s = |sink: &str, host: &str| [sink, "default", host, "Security"].map(str::to_string);
    let (s1, s2, s3, s4) = (
        s("webhook", "dc01"),
        s("webhook", "pc1"),
        s("email", "dc01"),
        s("webhook", "srv"),
    );
    assert_eq!(
        a.claim_silences(&[s1.clone(), s2.clone()], "node-a", 60)
            .unwrap(),
        [true, true]
    );
    assert_eq!(
        b.claim_silences(&[s1.clone(), s2.clone(), s3.clone()], "node-b", 60)
            .unwrap(),
        [false, false, true]
    );
    a.silences_changed(std::slice::from_ref(&s1), &[]).unwrap();
    a.release_silences(std::slice::from_ref(&s2), "node-a")
        .unwrap();
    // Only those said are silences (a claim is not).
    assert_eq!(b.silences().unwrap(), vec![s1.clone()]);
    assert_eq!(
        b.claim_silences(&[s1.clone(), s2.clone()], "node-b", 60)
            .unwrap(),
        [false, true]
    );
    assert_eq!(
        a.claim_silences(std::slice::from_ref(&s4), "node-a", -1)
            .unwrap(),
        [true]
    );
    assert_eq!(
        b.claim_silences(std::slice::from_ref(&s4), "node-b", 60)
            .unwrap(),
        [true],
        "an expired claim is taken over"
    );
    b.silences_changed(
        &[s2.clone(), s3.clone(), s4.clone()],
        std::slice::from_ref(&s1),
    )
    .unwrap();
    let mut said = a.silences().unwrap();
    said.sort();
    let mut want = vec![s2, s3, s4];
    want.sort();
    assert_eq!(said, want);
    // Ended, a channel falling silent again is said again.
    assert_eq!(
        a.claim_silences(std::slice::from_ref(&s1), "node-a", 60)
            .unwrap(),
        [true]
    );
}
