//! The answer as a whole: one consistent story, in the run's language,
//! never falsely reassuring, and never a panic whatever the timestamps.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::*;
use vigie_detect::Level;
use vigie_event::{Event, Locator, Origin};
use vigie_scope::*;

fn run_in(b: &B, lang: Lang) -> Scope {
    let mut o = Observer::new(assets());
    for (e, m) in &b.events {
        o.observe(e, m);
    }
    o.finish(&[], lang)
}

/// Every evidence summary of a scope.
fn summaries(s: &Scope) -> Vec<String> {
    let v = serde_json::to_value(s).unwrap();
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(serde_json::Value::String(s)), true) =
                    (m.get("summary"), m.contains_key("locator"))
                {
                    out.push(s.clone());
                }
                m.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&v, &mut out);
    out
}

#[test]
fn french_answers_read_as_french() {
    let s = run_in(&scenario(true), Lang::Fr);
    assert_eq!(s.lang, Lang::Fr);
    let a = &s.answer;
    assert!(
        a.headline.starts_with("Rançongiciel opéré par un humain, avec vol de données (double extorsion) (confiance élevée). Début : 2026-11-14 02:10 UTC (VPN)."),
        "{}",
        a.headline
    );
    assert!(
        a.entry
            .starts_with("Entrée : connexion VPN sur FW01 avec le compte presta.maint"),
        "{}",
        a.entry
    );
    assert!(
        a.data_exposure.contains("RGPD") && a.data_exposure.contains("CNIL"),
        "{}",
        a.data_exposure
    );
    assert!(
        a.extent.starts_with("Postes et serveurs compromis"),
        "{}",
        a.extent
    );
    assert!(
        a.isolated_systems.contains("Non atteinte"),
        "{}",
        a.isolated_systems
    );
    for act in &s.containment {
        assert!(
            !act.undo.is_empty() && !act.undo.contains(" the "),
            "{act:?}"
        );
    }
    assert!(s.nature[0]
        .confidence_reason
        .contains("preuves indépendantes"));
    // Evidence summaries are written in French too, none left coded.
    let sums = summaries(&s);
    assert!(sums
        .iter()
        .any(|x| x.contains("ouverture de session de type 10 sur SRV-RDS01")));
    assert!(
        sums.iter()
            .all(|x| !x.contains('\u{1}') && !x.contains('\u{1f}')),
        "coded summary left"
    );
    assert!(
        sums.iter()
            .all(|x| !x.contains(" logon type ") && !x.contains(" installed on ")),
        "{:?}",
        sums.iter()
            .filter(|x| x.contains(" on "))
            .take(5)
            .collect::<Vec<_>>()
    );
    // Keys and enumeration values stay English.
    let json = s.to_json();
    assert!(json.contains("\"verdict\": \"attack\"") && json.contains("\"kind\": \"ransomware\""));
    // The same analysis in English differs only in words.
    let en = run_in(&scenario(true), Lang::En);
    assert_eq!(en.hosts.len(), s.hosts.len());
    assert_eq!(en.containment.len(), s.containment.len());
    assert_eq!(en.attack_period, s.attack_period);
}

#[test]
fn one_start_time_and_one_count() {
    let s = run(&scenario(true));
    let inc = &s.incidents[0];
    let start = s.attack_period.unwrap().first;
    assert_eq!(inc.first, start);
    assert_eq!(s.entry_point.as_ref().unwrap().time, Some(start));
    let shown = start.format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(s.answer.headline.contains(&shown), "{}", s.answer.headline);
    // No other time of the incident's start appears in the headline.
    assert_eq!(
        s.answer.headline.matches(" UTC").count(),
        1,
        "{}",
        s.answer.headline
    );
    // The detections count includes correlations (the timeline's rows).
    assert_eq!(
        s.detections.total,
        s.detections.rules.iter().map(|r| r.count).sum::<u64>()
            + s.detections.correlations.len() as u64
    );
}

#[test]
fn nothing_read_is_never_all_clear() {
    let s = Observer::new(Arc::new(Assets::default())).finish(&[], Lang::En);
    assert_eq!(s.assessment.verdict, Verdict::NothingFoundWithGaps);
    assert!(s
        .assessment
        .not_analysed
        .iter()
        .any(|g| g == "no event was read"));
    assert!(
        s.answer.headline.contains("not an all-clear"),
        "{}",
        s.answer.headline
    );
    // A run that says no rule ran: a gap too.
    let mut b = B::new();
    background(&mut b, true);
    let mut o = Observer::new(assets()).with_run_info(RunInfo {
        rules: Some(0),
        ..RunInfo::default()
    });
    for (e, m) in &b.events {
        o.observe(e, m);
    }
    let s = o.finish(&[], Lang::En);
    assert!(s
        .assessment
        .not_analysed
        .iter()
        .any(|g| g == "no detection rule was run"));
    assert_ne!(s.assessment.verdict, Verdict::NothingFound);
}

#[test]
fn complete_logs_with_nothing_found_is_nothing_found() {
    // A domain controller's Security log and process creations, no gap,
    // no signal: the one case where "nothing found" is said plainly.
    let mut b = B::new();
    let mut now = t(13, 0, 0);
    while now <= t(14, 0, 0) {
        b.ev(
            now,
            "DC01",
            SEC,
            Some(4768),
            &[("TargetUserName", "agent.a")],
        );
        b.ev(
            now,
            "DC01",
            SEC,
            Some(4688),
            &[
                ("NewProcessName", "C:\\Windows\\System32\\svchost.exe"),
                ("NewProcessId", "0x10"),
                ("SubjectUserName", "DC01$"),
            ],
        );
        b.ev(now, "TES-01", SEC, Some(4634), &[]);
        for h in ["SRV-RDS01", "SRV-FIC01", "SRV-BKP01", "SRV-WEB01"] {
            b.ev(now, h, SEC, Some(4634), &[]);
        }
        now += Duration::minutes(30);
    }
    let mut o = Observer::new(assets()).with_run_info(RunInfo {
        rules: Some(40),
        rule_sets: vec!["Vigie pack".into()],
        ..RunInfo::default()
    });
    for (e, m) in &b.events {
        o.observe(e, m);
    }
    let s = o.finish(&[], Lang::En);
    assert_eq!(
        s.assessment.verdict,
        Verdict::NothingFound,
        "{:?}",
        s.assessment.not_analysed
    );
    assert_eq!(s.answer.headline, "No attack found in these logs.");
    assert!(s
        .assessment
        .analysed
        .iter()
        .any(|a| a.contains("40 rules (Vigie pack)")));
    assert!(s
        .assessment
        .analysed
        .iter()
        .any(|a| a.contains("Security log of domain controller(s): DC01")));
}

#[test]
fn weak_isolated_signals_are_suspicious_not_an_attack() {
    let mut b = B::new();
    background(&mut b, true);
    b.ev(
        t(14, 10, 0),
        "SRV-WEB01",
        SYSMON,
        Some(1),
        &[
            ("Image", "C:\\Windows\\System32\\whoami.exe"),
            ("CommandLine", "whoami /all"),
            ("User", "CCPAB\\agent.b"),
        ],
    );
    b.matched(rule(
        "Whoami Utility Execution",
        Level::Medium,
        &["attack.discovery", "attack.t1033"],
    ));
    let s = run(&b);
    // One medium rule's tag does not make a nature, nor an attack.
    assert!(s.nature.is_empty(), "{:?}", s.nature);
    assert_eq!(s.assessment.verdict, Verdict::Suspicious);
    assert!(
        s.answer
            .headline
            .starts_with("Suspicious activity, not established as an attack"),
        "{}",
        s.answer.headline
    );
}

/// Timestamps at chrono's limits (damaged or hostile logs): the scope
/// neither panics nor loses the other events.
#[test]
fn extreme_timestamps_never_panic() {
    let limits = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        DateTime::<Utc>::MIN_UTC + Duration::minutes(1),
        DateTime::<Utc>::MAX_UTC - Duration::minutes(1),
    ];
    let mut b = scenario(true);
    let r = rule(
        "Extreme",
        Level::High,
        &["attack.lateral-movement", "attack.t1021.002"],
    );
    for (i, &ts) in limits.iter().enumerate() {
        let host = format!("EDGE-{i}");
        b.ev(
            ts,
            &host,
            SEC,
            Some(4624),
            &[
                ("TargetUserName", "presta.maint"),
                ("LogonType", "3"),
                ("IpAddress", "10.10.1.30"),
                ("WorkstationName", "SRV-RDS01"),
            ],
        );
        b.matched(r.clone());
        b.ev(
            ts,
            &host,
            SEC,
            Some(4625),
            &[("TargetUserName", "x"), ("IpAddress", "203.0.113.9")],
        );
        b.ev(
            ts,
            &host,
            SYS,
            Some(7045),
            &[("ServiceName", "PSEXESVC"), ("ImagePath", "x.exe")],
        );
        b.ev(
            ts,
            &host,
            SEC,
            Some(4720),
            &[
                ("TargetUserName", "bd"),
                ("SubjectUserName", "presta.maint"),
            ],
        );
        b.ev(
            ts,
            &host,
            SEC,
            Some(1102),
            &[("SubjectUserName", "presta.maint")],
        );
        b.ev(
            ts,
            "FW01",
            "fortigate",
            None,
            &[
                ("user", "presta.maint"),
                ("remip", "203.0.113.45"),
                ("action", "tunnel-up"),
            ],
        );
    }
    // Record ids at their limit too.
    let mut e = Event::new(Origin {
        source: Arc::from("edge.evtx"),
        locator: Locator::Record(u64::MAX),
    });
    e.timestamp = Some(DateTime::<Utc>::MAX_UTC);
    e.computer = Some("EDGE-R".into());
    e.channel = Some(SEC.into());
    e.event_id = Some(4634);
    e.record_id = Some(u64::MAX);
    b.events.push((e.clone(), vec![]));
    e.record_id = Some(u64::MAX - 2);
    b.events.push((e, vec![]));
    for lang in [Lang::En, Lang::Fr] {
        let s = run_in(&b, lang);
        assert!(!s.incidents.is_empty());
        // The real attack is still told.
        assert!(s
            .hosts
            .iter()
            .any(|h| h.name == "SRV-FIC01" && h.compromised == Compromise::Yes));
        let _ = s.to_json();
    }
}
