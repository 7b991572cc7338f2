//! Direct execution against a real Active Directory: a Samba AD domain
//! controller provisioned by the test in a temporary directory, started as
//! a child process listening on loopback only (LDAP 389 with StartTLS,
//! LDAPS 636, a certificate made for the test), and the demo's plan run
//! through it: approval, LDAP execution, read back, rollback, audit trail.
//!
//! Needs `samba`, `samba-ad-provision`, `openssl` and root (ports 389 and
//! 636): skipped with a message outside CI, a failure under `CI=true`
//! (`.ci/run` installs them).

mod common;

use std::io::Cursor;

use common::samba::{password, start_dc, wait_listening, ADDR};
use common::{demo, noon};
use vigie_lang::Lang;
use vigie_respond::ldap::{self, Directory, Secret};
use vigie_respond::store::ProposalStore;
use vigie_respond::{plan, Actor, MemoryProposalStore, Role, State, Step, StoreError};
use vigie_scope::ActionKind;

#[tokio::test(flavor = "current_thread")]
async fn the_demo_plan_disables_the_attackers_accounts_through_ldap_after_approval() {
    let Some(mut dc) = start_dc() else { return };
    let d = demo();
    let p = plan(&d.scope, &d.assets, noon(), Lang::Fr);
    let accounts: Vec<_> = p
        .proposals
        .iter()
        .filter(|x| {
            matches!(
                x.kind,
                ActionKind::DisableAccount | ActionKind::DeleteAccount
            )
        })
        .cloned()
        .collect();
    assert!(accounts.len() >= 3, "{accounts:?}");
    assert!(accounts.iter().any(|x| x.target == "presta.maint"));

    // The directory as the attacker left it: the accounts exist, enabled,
    // and the backdoor account sits in the group it was added to.
    let populated_in = dc.populate(&accounts);
    wait_listening(&mut dc);
    println!(
        "Samba AD DC: provisioned in {:.1} s, accounts and groups added in {:.1} s",
        dc.provisioned_in.as_secs_f64(),
        populated_in.as_secs_f64()
    );

    let ldaps = dc.target(&format!("ldaps://{ADDR}"), false);
    let mut dir = Directory::connect(&ldaps, &password())
        .await
        .expect("LDAPS bind");
    for a in &accounts {
        let e = dir
            .account(&a.target)
            .await
            .unwrap()
            .expect("account exists");
        assert!(!e.disabled(), "{} starts enabled", a.target);
    }
    let backdoor = accounts
        .iter()
        .find(|a| !a.groups.is_empty())
        .expect("an account with groups");
    let e = dir.account(&backdoor.target).await.unwrap().unwrap();
    assert_eq!(
        e.member_of.len(),
        backdoor.groups.len(),
        "{:?}",
        e.member_of
    );

    // Proposed by Vigie's run, refused before approval, approved by the
    // crisis cell, executed by the technician.
    let store = MemoryProposalStore::new();
    let vigie = Actor::new("tech.alice", Role::Analyst);
    let crisis = Actor::new("dgs.bob", Role::Crisis);
    let at = |m: i64| noon() + chrono::Duration::minutes(m);
    store
        .propose("default", p.proposals.clone(), &vigie, at(0))
        .await
        .unwrap();
    let first = &accounts[0];
    let refused = store
        .apply(
            "default",
            &first.id,
            Step::Execute { how: "ldap".into() },
            &vigie,
            at(1),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    assert!(!dir
        .account(&first.target)
        .await
        .unwrap()
        .unwrap()
        .disabled());

    for a in &accounts {
        store
            .apply("default", &a.id, Step::Approve, &crisis, at(2))
            .await
            .unwrap();
        let how = ldap::execute(&mut dir, a)
            .await
            .expect("disabled through LDAP");
        store
            .apply("default", &a.id, Step::Execute { how }, &vigie, at(3))
            .await
            .unwrap();
    }
    dir.close().await.unwrap();

    // Read back on a new connection (StartTLS this time): disabled, and
    // out of the attacker's group.
    let starttls = dc.target(&format!("ldap://{ADDR}"), true);
    let mut check = Directory::connect(&starttls, &password())
        .await
        .expect("StartTLS bind");
    for a in &accounts {
        let e = check.account(&a.target).await.unwrap().unwrap();
        assert!(e.disabled(), "{} disabled in the directory", a.target);
        assert_eq!(e.user_account_control & 0x2, 0x2);
    }
    let e = check.account(&backdoor.target).await.unwrap().unwrap();
    assert!(e.member_of.is_empty(), "removed from {:?}", e.member_of);

    // Rollback: one step, audited, re-enables.
    for a in &accounts {
        let how = ldap::roll_back(&mut check, a).await.expect("re-enabled");
        let r = store
            .apply("default", &a.id, Step::RollBack { how }, &vigie, at(4))
            .await
            .unwrap();
        assert_eq!(r.state, State::RolledBack);
        let e = check.account(&a.target).await.unwrap().unwrap();
        assert!(!e.disabled(), "{} enabled again", a.target);
        let trail: Vec<(&str, &str)> = r
            .trail
            .iter()
            .map(|e| (e.what.as_str(), e.author.as_str()))
            .collect();
        assert_eq!(
            trail,
            vec![
                ("proposed", "tech.alice"),
                ("approve", "dgs.bob"),
                ("execute", "tech.alice"),
                ("roll_back", "tech.alice"),
            ],
            "{}",
            a.target
        );
        assert!(
            r.trail[2].detail.contains("userAccountControl"),
            "{}",
            r.trail[2].detail
        );
    }

    // A name that is an LDAP filter matches nothing, not everyone.
    assert!(check.account("*").await.unwrap().is_none());
    assert!(check
        .account("x)(sAMAccountName=*")
        .await
        .unwrap()
        .is_none());
    check.close().await.unwrap();

    // Never a bind in clear; never a server the CA does not vouch for.
    let clear = dc.target(&format!("ldap://{ADDR}"), false);
    assert!(Directory::connect(&clear, &password()).await.is_err());
    let mut wrong_ca = dc.target(&format!("ldaps://{ADDR}"), false);
    wrong_ca.ca_file = None;
    assert!(
        Directory::connect(&wrong_ca, &password()).await.is_err(),
        "the test's self-signed certificate is not in the system's roots"
    );
    let bad = Secret::from_reader(Cursor::new("wrong\n")).unwrap();
    assert!(Directory::connect(&ldaps, &bad).await.is_err());
    assert_eq!(format!("{bad:?}"), "Secret(***)");
}
