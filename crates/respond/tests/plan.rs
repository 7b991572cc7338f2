//! The demo's plan: its order, its simulated impact checked against the
//! assets file, the four-eyes lifecycle through the store conformance
//! suite, and the service board after execution.

mod common;

use std::collections::BTreeSet;

use common::{demo, noon};
use vigie_communicate::Status;
use vigie_lang::Lang;
use vigie_respond::lifecycle::isolated_hosts;
use vigie_respond::store::conformance;
use vigie_respond::{
    impact, plan, Actor, MemoryProposalStore, Phase, Record, Refusal, Role, State, Step,
};
use vigie_scope::{Action, ActionKind};

#[test]
fn the_plan_follows_the_sequence_perimeter_backups_accounts_hosts() {
    let d = demo();
    let p = plan(&d.scope, &d.assets, noon(), Lang::Fr);
    assert_eq!(
        p.proposals.len(),
        d.scope.containment.len(),
        "one proposal per action"
    );
    let phases: Vec<Phase> = p.proposals.iter().map(|x| x.phase).collect();
    let mut sorted = phases.clone();
    sorted.sort();
    assert_eq!(phases, sorted, "phases in order");
    let first = &p.proposals[0];
    assert_eq!(
        first.kind,
        ActionKind::RevokeRemoteAccess,
        "the VPN account first"
    );
    assert_eq!(first.target, "presta.maint");
    // The backup server is protected before accounts and other hosts.
    let bkp = p
        .proposals
        .iter()
        .find(|x| x.target == "SRV-BKP01")
        .unwrap();
    assert_eq!(bkp.phase, Phase::Backups);
    let krbtgt = p
        .proposals
        .iter()
        .position(|x| x.kind == ActionKind::ResetKrbtgt)
        .unwrap();
    let last_account = p
        .proposals
        .iter()
        .rposition(|x| x.phase == Phase::Accounts)
        .unwrap();
    assert_eq!(krbtgt, last_account, "krbtgt last among accounts");
    // Orders are 1..n, ids unique and stable.
    let orders: Vec<u32> = p.proposals.iter().map(|x| x.order).collect();
    assert_eq!(orders, (1..=p.proposals.len() as u32).collect::<Vec<_>>());
    let ids: BTreeSet<&str> = p.proposals.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids.len(), p.proposals.len());
    let again = plan(&d.scope, &d.assets, noon(), Lang::En);
    assert_eq!(
        p.proposals.iter().map(|x| &x.id).collect::<Vec<_>>(),
        again.proposals.iter().map(|x| &x.id).collect::<Vec<_>>(),
        "ids do not depend on the language"
    );
    for x in &p.proposals {
        assert!(!x.evidence.is_empty(), "{} has evidence", x.target);
        assert!(!x.undo.is_empty(), "{} says how to undo", x.target);
        assert!(!x.guidance.is_empty());
        let needs = x.impact.touches_account || !x.impact.hosts_cut.is_empty();
        assert_eq!(x.four_eyes, needs, "{} {:?}", x.target, x.kind);
    }
    let block = p
        .proposals
        .iter()
        .find(|x| x.kind == ActionKind::BlockAddress)
        .unwrap();
    assert!(
        !block.four_eyes,
        "blocking the attacker's address cuts nothing of ours"
    );
    let svc = p
        .proposals
        .iter()
        .find(|x| x.target == "svc_sauvegarde")
        .unwrap();
    assert_eq!(svc.groups, vec!["Admins du domaine".to_string()]);
    assert!(
        !p.proposals
            .iter()
            .find(|x| x.kind == ActionKind::ResetKrbtgt)
            .unwrap()
            .reversible
    );
}

/// The services each isolated demo host stops, checked against the
/// assets file: every service the file lists on the host, and for a host
/// every service needs (`*`), every service except the passport station on
/// its isolated line.
#[test]
fn isolating_each_demo_host_names_the_services_it_stops() {
    let d = demo();
    let p = plan(&d.scope, &d.assets, noon(), Lang::Fr);
    let all: BTreeSet<String> = vigie_communicate::board::service_names(&d.assets)
        .into_iter()
        .collect();
    let isolations: Vec<_> = p
        .proposals
        .iter()
        .filter(|x| x.kind == ActionKind::IsolateHost)
        .collect();
    assert!(isolations.len() >= 10, "{}", isolations.len());
    for x in &isolations {
        let named: BTreeSet<String> = x
            .impact
            .services
            .iter()
            .map(|s| s.service.clone())
            .collect();
        let asset = d
            .assets
            .hosts
            .iter()
            .find(|h| vigie_scope::names::wildcard(&h.name, &x.target));
        let expected: BTreeSet<String> = match asset {
            Some(h) if h.services.iter().any(|s| s == "*") => all
                .iter()
                .filter(|s| *s != "passports-id-cards")
                .cloned()
                .collect(),
            Some(h) => h.services.iter().cloned().collect(),
            None => BTreeSet::new(),
        };
        assert_eq!(named, expected, "isolating {}", x.target);
        assert_eq!(x.impact.cuts_service, !expected.is_empty());
        for s in &x.impact.services {
            assert!(s.after.is_down(), "{}: {:?}", s.service, s.after);
            assert_eq!(s.status_page.is_some(), !s.internal);
        }
    }
    let get = |h: &str| {
        let x = isolations.iter().find(|x| x.target == h).unwrap();
        x.impact
            .services
            .iter()
            .map(|s| s.service.as_str())
            .collect::<BTreeSet<_>>()
    };
    // Isolating the file server stops the CIAS (social-action).
    assert_eq!(
        get("SRV-FIC01"),
        ["civil-registry", "social-action", "finance-payroll"].into()
    );
    assert_eq!(get("SRV-APP01"), ["finance-payroll", "pool"].into());
    assert_eq!(get("SRV-BKP01"), ["backups"].into());
    let cias = isolations
        .iter()
        .find(|x| x.target == "SRV-FIC01")
        .unwrap()
        .impact
        .services
        .iter()
        .find(|s| s.service == "social-action")
        .unwrap();
    assert_eq!(cias.dependants_count, Some(3_400));
    // What the public page would say: the public name and the status word.
    let page = cias.status_page.as_deref().unwrap();
    assert!(
        page.ends_with(Status::MajorOutage.label(Lang::Fr)),
        "{page}"
    );
    assert!(
        !page.contains("SRV-"),
        "no internal name on the public line: {page}"
    );
    assert!(x_summary_names(&isolations, "SRV-FIC01").contains("social-action"));
    // The plan's isolations together stop every service but the passports.
    let together: BTreeSet<&str> = p
        .all_isolations
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    assert!(!together.contains("passports-id-cards"));
    assert!(together.contains("social-action") && together.contains("pool"));
}

fn x_summary_names(isolations: &[&vigie_respond::Proposal], host: &str) -> String {
    isolations
        .iter()
        .find(|x| x.target == host)
        .unwrap()
        .impact
        .summary
        .clone()
}

/// A host that is up and clear goes down when isolated: the simulation
/// says so before, and the board says so after execution.
#[test]
fn isolating_a_clear_host_is_simulated_then_shown_on_the_board_once_executed() {
    let d = demo();
    let mut scope = d.scope.clone();
    scope.containment.push(Action {
        priority: 99,
        kind: ActionKind::IsolateHost,
        target: "TES-01".into(),
        reason: "test".into(),
        evidence: d.scope.containment[0].evidence.clone(),
        undo: "reconnect".into(),
    });
    let p = plan(&scope, &d.assets, noon(), Lang::En);
    let tes = p.proposals.iter().find(|x| x.target == "TES-01").unwrap();
    assert_eq!(tes.impact.services.len(), 1);
    let s = &tes.impact.services[0];
    assert_eq!(s.service, "passports-id-cards");
    assert_eq!(s.before, Status::Operational);
    assert_eq!(s.after, Status::MajorOutage);
    assert!(
        tes.impact.summary.contains("becomes"),
        "{}",
        tes.impact.summary
    );

    // Proposed, approved by someone else, executed: the board takes it down.
    let tech = Actor::new("tech", Role::Analyst);
    let dgs = Actor::new("dgs", Role::Crisis);
    let r = Record::propose(tes.clone(), &tech, noon()).unwrap();
    let before = isolated_hosts([&r]);
    assert!(before.is_empty());
    let r = r.apply(&Step::Approve, &dgs, noon()).unwrap();
    let r = r
        .apply(
            &Step::Execute {
                how: "by hand".into(),
            },
            &tech,
            noon(),
        )
        .unwrap();
    let cut = isolated_hosts([&r]);
    let b = impact::board(&scope, &d.assets, cut, noon(), Lang::En);
    assert_eq!(
        b.get("passports-id-cards").unwrap().status,
        Status::MajorOutage
    );
    let r = r
        .apply(
            &Step::RollBack {
                how: "by hand".into(),
            },
            &tech,
            noon(),
        )
        .unwrap();
    let b = impact::board(&scope, &d.assets, isolated_hosts([&r]), noon(), Lang::En);
    assert_eq!(
        b.get("passports-id-cards").unwrap().status,
        Status::Operational
    );
}

#[test]
fn the_state_machine_refuses_with_reasons() {
    let d = demo();
    let p = plan(&d.scope, &d.assets, noon(), Lang::En);
    let guarded = p
        .proposals
        .iter()
        .find(|x| x.kind == ActionKind::DisableAccount)
        .unwrap();
    let krbtgt = p
        .proposals
        .iter()
        .find(|x| x.kind == ActionKind::ResetKrbtgt)
        .unwrap();
    let tech = Actor::new("tech", Role::Analyst);
    let admin = Actor::new("admin", Role::Admin);
    let viewer = Actor::new("v", Role::Viewer);
    let comms = Actor::new("c", Role::Communication);
    assert!(matches!(
        Record::propose(guarded.clone(), &viewer, noon()),
        Err(Refusal::WrongRole { .. })
    ));
    let r = Record::propose(guarded.clone(), &tech, noon()).unwrap();
    let exec = Step::Execute { how: "ldap".into() };
    assert_eq!(r.apply(&exec, &tech, noon()), Err(Refusal::NotApproved));
    assert!(matches!(
        r.apply(&Step::Approve, &tech, noon()),
        Err(Refusal::WrongRole { .. })
    ));
    assert!(matches!(
        r.apply(&Step::Approve, &comms, noon()),
        Err(Refusal::WrongRole { .. })
    ));
    // The same person with another role is still the same person.
    let tech_admin = Actor::new("TECH", Role::Admin);
    assert!(matches!(
        r.apply(&Step::Approve, &tech_admin, noon()),
        Err(Refusal::SelfApproval { .. })
    ));
    assert!(matches!(
        r.apply(&Step::RollBack { how: "x".into() }, &tech, noon()),
        Err(Refusal::WrongState { .. })
    ));
    assert_eq!(
        r.apply(&Step::Publish, &comms, noon()),
        Err(Refusal::NothingToPublish)
    );
    let a = r.apply(&Step::Approve, &admin, noon()).unwrap();
    assert!(matches!(
        a.apply(&Step::Approve, &admin, noon()),
        Err(Refusal::WrongState { .. })
    ));
    assert!(matches!(
        a.apply(&exec, &comms, noon()),
        Err(Refusal::WrongRole { .. })
    ));
    // A failure can be retried under the same approval.
    let f = a
        .apply(
            &Step::Fail {
                how: "ldap".into(),
                error: "timeout".into(),
            },
            &tech,
            noon(),
        )
        .unwrap();
    assert_eq!(f.state, State::Failed);
    let e = f.apply(&exec, &tech, noon()).unwrap();
    assert_eq!(e.state, State::Executed);
    let rj = r
        .apply(
            &Step::Reject {
                reason: "not now".into(),
            },
            &admin,
            noon(),
        )
        .unwrap();
    assert!(matches!(
        rj.apply(&exec, &tech, noon()),
        Err(Refusal::WrongState { .. })
    ));
    // An irreversible action executes but refuses a rollback.
    let k = Record::propose(krbtgt.clone(), &tech, noon())
        .unwrap()
        .apply(&Step::Approve, &admin, noon())
        .unwrap()
        .apply(&exec, &tech, noon())
        .unwrap();
    assert!(matches!(
        k.apply(&Step::RollBack { how: "x".into() }, &tech, noon()),
        Err(Refusal::Irreversible { .. })
    ));
    // Every refusal reads as a sentence.
    assert!(Refusal::NotApproved.to_string().contains("approved"));
}

#[test]
fn a_proposal_of_vigie_is_requested_by_one_person_and_approved_by_another() {
    let d = demo();
    let p = plan(&d.scope, &d.assets, noon(), Lang::En);
    let guarded = p
        .proposals
        .iter()
        .find(|x| x.kind == ActionKind::DisableAccount)
        .unwrap();
    let alan = Actor::new("alan", Role::Analyst);
    let claire = Actor::new("Claire", Role::Crisis);
    let anne = Actor::new("anne", Role::Admin);
    let r = Record::propose(guarded.clone(), &Actor::system(), noon()).unwrap();
    assert!(r.by_system());
    // Nobody approves what no person asked for: Vigie is no pair of eyes.
    assert_eq!(
        r.apply(&Step::Approve, &claire, noon()),
        Err(Refusal::NotRequested)
    );
    let viewer = Actor::new("v", Role::Viewer);
    let ask = Step::Request {
        reason: "compte de la porte dérobée".into(),
    };
    assert!(matches!(
        r.apply(&ask, &viewer, noon()),
        Err(Refusal::WrongRole { .. })
    ));
    // An admin who requests cannot approve their own request either.
    let by_anne = r.apply(&ask, &anne, noon()).unwrap();
    assert_eq!(by_anne.state, State::Requested);
    assert!(matches!(
        by_anne.apply(&Step::Approve, &Actor::new(" ANNE ", Role::Admin), noon()),
        Err(Refusal::SelfApproval { .. })
    ));
    let exec = Step::Execute { how: "ldap".into() };
    assert_eq!(
        by_anne.apply(&exec, &anne, noon()),
        Err(Refusal::NotApproved)
    );
    let q = r.apply(&ask, &alan, noon()).unwrap();
    assert!(matches!(
        q.apply(&ask, &anne, noon()),
        Err(Refusal::WrongState { .. })
    ));
    let a = q.apply(&Step::Approve, &claire, noon()).unwrap();
    assert_eq!(a.state, State::Approved);
    let e = a.apply(&exec, &alan, noon()).unwrap();
    let trail: Vec<(&str, &str)> = e
        .trail
        .iter()
        .map(|x| (x.what.as_str(), x.author.as_str()))
        .collect();
    assert_eq!(
        trail,
        vec![
            ("proposed", "vigie"),
            ("request", "alan"),
            ("approve", "Claire"),
            ("execute", "alan")
        ]
    );
    assert_eq!(e.trail[1].detail, "compte de la porte dérobée");
    // A request can be rejected as a proposal can.
    let rj = q
        .apply(
            &Step::Reject {
                reason: "non".into(),
            },
            &claire,
            noon(),
        )
        .unwrap();
    assert_eq!(rj.state, State::Rejected);
}

#[tokio::test(flavor = "current_thread")]
async fn the_memory_store_passes_the_conformance_suite() {
    let d = demo();
    let p = plan(&d.scope, &d.assets, noon(), Lang::Fr);
    let store = MemoryProposalStore::new();
    conformance::proposal_store(&store, p.proposals).await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_file_store_passes_the_conformance_suite_and_keeps_trails_across_a_reopen() {
    use std::io::Write;
    use vigie_respond::journal::{FileProposalStore, FILE};
    use vigie_respond::store::ProposalStore;
    let d = demo();
    let p = plan(&d.scope, &d.assets, noon(), Lang::Fr);
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (store, opened) = FileProposalStore::open(dir.path()).unwrap();
        assert_eq!(opened.lines, 0);
        conformance::proposal_store(&store, p.proposals.clone()).await;
        store.list("a").await.unwrap()
    };
    // A crash in the middle of a line: never acknowledged, cut and said.
    let path = dir.path().join(FILE);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(br#"{"tenant":"a","record":{"proposal":"#)
        .unwrap();
    drop(f);
    let (store, opened) = FileProposalStore::open(dir.path()).unwrap();
    assert!(opened.torn > 0);
    assert!(opened.lines > before.len());
    let after = store.list("a").await.unwrap();
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        // The trail and state as acknowledged (the refreshed reason was
        // kept in memory only, and written with a later step).
        assert_eq!(a.trail, b.trail, "{}", a.proposal.id);
        assert_eq!(a.state, b.state);
    }
    // Damage before acknowledged lines stops the open, file untouched.
    let text = std::fs::read(&path).unwrap();
    let mut damaged = b"garbage\n".to_vec();
    damaged.extend_from_slice(&text);
    std::fs::write(&path, &damaged).unwrap();
    let e = FileProposalStore::open(dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("line 1"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), damaged);
}
