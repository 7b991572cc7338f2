//! Sigma interoperability (issue 18.7): filters as pySigma and rsigma
//! apply them, placeholders from a pySigma-style file, correlations
//! without `group-by`. Real SigmaHQ rules on the EVTX attack samples
//! where the corpus is present.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::TimeZone;
use vigie_detect::{
    load_paths, load_str, Engine, EngineConfig, FailureKind, LoadOptions, Match, Placeholders,
    RuleSet,
};
use vigie_event::{Event, Locator, Origin};

fn events(corpus: &Path) -> Vec<Event> {
    let mut files = Vec::new();
    walk(&corpus.join("evtx-attack-samples"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in &files {
        out.extend(vigie_source::read_all(f).0);
    }
    assert!(out.len() > 8_000, "{} events", out.len());
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            out.push(p);
        }
    }
}

/// (rule id, computer) of every match, one entry per match.
fn matches(engine: &Engine, events: &[Event]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut m: Vec<Match> = Vec::new();
    for e in events {
        m.clear();
        engine.evaluate(e, &mut m);
        let computer = e
            .get("Computer")
            .map(|v| v.to_text().into_owned())
            .unwrap_or_default();
        for x in &m {
            out.push((x.rule.id.clone().unwrap_or_default(), computer.clone()));
        }
    }
    out
}

const LOCAL_ACCOUNTS_DISCOVERY: &str = "502b42de-4306-40b4-9596-6f590c81f073";

/// A filter written for pySigma or rsigma (`condition: not selection`)
/// suppresses what it describes, on real events, and nothing else; one
/// written as the specification's example (`condition: selection`) keeps
/// only what it describes.
#[test]
fn pysigma_style_filter_suppresses_what_it_should() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let rules = corpus.join("sigma/rules/windows/process_creation");
    let events = events(&corpus);
    let with = |filter: &str| -> Vec<(String, String)> {
        let (mut set, rep) = load_paths(&[&rules], &LoadOptions::default());
        assert!(rep.failures.is_empty(), "{:#?}", rep.failures);
        let (f, frep) = load_str(filter, Path::new("filter.yml"), &LoadOptions::default());
        assert_eq!(frep.filter, 1, "{frep:#?}");
        set.extend(f);
        let (engine, _) = Engine::compile(set);
        matches(&engine, &events)
    };
    let (set, _) = load_paths(&[&rules], &LoadOptions::default());
    let base = matches(&Engine::compile(set).0, &events);
    let of_rule = |m: &[(String, String)]| -> Vec<String> {
        m.iter()
            .filter(|(id, _)| id == LOCAL_ACCOUNTS_DISCOVERY)
            .map(|(_, c)| c.clone())
            .collect()
    };
    let computers: BTreeSet<String> = of_rule(&base).into_iter().collect();
    assert!(
        computers.len() >= 3,
        "the rule fires on several hosts: {computers:?}"
    );
    assert!(computers.contains("MSEDGEWIN10"), "{computers:?}");

    // The admin workstation inventories accounts every day: a pySigma
    // filter for that rule drops exactly its matches there.
    let drop = format!(
        "title: Account inventory on the admin workstation\nlogsource:\n  category: process_creation\n  product: windows\nfilter:\n  rules:\n    - {LOCAL_ACCOUNTS_DISCOVERY}\n  selection:\n    Computer: MSEDGEWIN10\n  condition: not selection\n"
    );
    let filtered = with(&drop);
    let kept = of_rule(&filtered);
    let expected: Vec<String> = of_rule(&base)
        .into_iter()
        .filter(|c| c != "MSEDGEWIN10")
        .collect();
    assert_eq!(kept, expected);
    assert!(kept.len() < of_rule(&base).len() && !kept.is_empty());
    // Other rules are untouched.
    let others = |m: &[(String, String)]| {
        m.iter()
            .filter(|(id, _)| id != LOCAL_ACCOUNTS_DISCOVERY)
            .count()
    };
    assert_eq!(others(&filtered), others(&base));

    // `condition: selection`: the rule now fires only there.
    let keep = drop.replace("condition: not selection", "condition: selection");
    let only = of_rule(&with(&keep));
    assert!(
        !only.is_empty() && only.iter().all(|c| c == "MSEDGEWIN10"),
        "{only:?}"
    );
    assert_eq!(only.len() + kept.len(), of_rule(&base).len());

    // `rules: any`: every process_creation rule, none elsewhere.
    let any = drop.replace(
        &format!("  rules:\n    - {LOCAL_ACCOUNTS_DISCOVERY}\n"),
        "  rules: any\n",
    );
    let all = with(&any);
    assert!(all.iter().all(|(_, c)| c != "MSEDGEWIN10"));
    let elsewhere = |m: &[(String, String)]| m.iter().filter(|(_, c)| c != "MSEDGEWIN10").count();
    assert_eq!(elsewhere(&all), elsewhere(&base));
    assert!(all.len() < base.len());
}

/// The placeholders file used below: a value for every placeholder
/// SigmaHQ uses, as an organisation would write it.
const PLACEHOLDERS: &str = "
# Admin workstations and accounts
Admins_Workstations: ['ADM-*', 'PAW-*']
Administrators: ['adm_*', 'Administrateur']
Workstations: ['PC-*']
ServerSystems: ['SRV-*']
DomainControllers: ['DC01', 'DC02']
domain_controller_hostnames: ['DC01', 'DC02']
dc_machine_accounts: ['DC01$', 'DC02$']
DC-MACHINE-NAME: ['DC01$']
dc_ip_addresses: ['10.0.0.10', '10.0.0.11']
known_cdcs: ['DC01', '10.0.0.10']
internal_domains: ['mairie.local']
userdomain: ['MAIRIE']
legit_ips: ['10.0.0.0/8']
Legitimate_IP_Ranges: ['10.0.0.0/8']
Legitimate_Countries: ['FR']
UnLegitCountries: ['KP']
KNOWN_LOCATION: ['FR']
Known_Location: ['FR']
HomeTenantID: ['00000000-0000-0000-0000-000000000001']
Important_AppIds: ['00000003-0000-0000-c000-000000000000']
ApprovedUserUpn: ['it@mairie.fr']
Approved_Inviters: ['it@mairie.fr']
UnApprovedDevice: ['unknown-device']
UnApprovedIp: ['203.0.113.7']
legtimate_identifiers: ['mairie']
";

fn placeholder_rules(corpus: &Path) -> RuleSet {
    let (set, rep) = load_paths(
        &[
            corpus.join("sigma/rules-placeholder"),
            corpus.join("sigma/rules-emerging-threats/2026/Exploits/CVE-2026-54121"),
        ],
        &LoadOptions::default(),
    );
    assert!(rep.failures.is_empty(), "{:#?}", rep.failures);
    set
}

/// The 25 SigmaHQ rules with `%…%` placeholders: refused without values,
/// each naming its missing placeholder; loaded with a placeholders file.
#[test]
fn placeholder_rules_load_with_values() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let set = placeholder_rules(&corpus);
    let names = set.placeholder_names();
    let (engine, failures) = Engine::compile(set.clone());
    let refused: Vec<_> = failures
        .iter()
        .filter(|f| f.kind == FailureKind::Placeholder)
        .collect();
    println!(
        "placeholder rules: {} compiled without values, {} refused; names used: {names:?}",
        engine.rules().len(),
        refused.len()
    );
    assert_eq!(refused.len(), 25, "{failures:#?}");
    for f in &refused {
        assert!(
            f.reason.contains("unresolved placeholder '%"),
            "{}",
            f.reason
        );
        assert!(f.reason.contains("--placeholders"), "{}", f.reason);
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("placeholders.yml");
    std::fs::write(&file, PLACEHOLDERS).unwrap();
    let values = Placeholders::load(&file).unwrap();
    for n in &names {
        assert!(values.get(n).is_some(), "the test file misses {n}");
    }
    let config = EngineConfig {
        placeholders: values,
        ..EngineConfig::default()
    };
    let before = engine.rules().len();
    let (engine, failures) = Engine::compile_with(set, &config);
    let loaded = engine.rules().len() - before;
    println!("with the placeholders file: {loaded} of the 25 placeholder rules compile; failures: {failures:#?}");
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(loaded, 25);
}

/// A placeholder rule matches by its values: the admin logon rule
/// (4672 of an account that is not an admin workstation's).
#[test]
fn placeholder_values_are_matched_as_sigma_text() {
    let rule = "title: Admin logon\nid: 0c0ffee0-0000-4000-8000-0000000000a1\nlogsource:\n  product: windows\n  service: security\ndetection:\n  selection:\n    EventID: 4672\n  filter_main_valid_account:\n    SubjectUserName|expand: '%Admins_Workstations%'\n  condition: selection and not 1 of filter_main_*\n";
    let (set, _) = load_str(rule, Path::new("r.yml"), &LoadOptions::default());
    let config = EngineConfig {
        placeholders: Placeholders::parse("Admins_Workstations: ['ADM-*', PAW01]\n").unwrap(),
        ..EngineConfig::default()
    };
    let (engine, failures) = Engine::compile_with(set, &config);
    assert!(failures.is_empty(), "{failures:#?}");
    let logon = |user: &str| {
        let mut e = Event::new(Origin {
            source: Arc::from("t"),
            locator: Locator::None,
        });
        e.channel = Some("Security".into());
        e.event_id = Some(4672);
        e.push("EventID", 4672i64);
        e.push("SubjectUserName", user);
        let mut out = Vec::new();
        engine.evaluate(&e, &mut out);
        out.len()
    };
    assert_eq!(logon("adm-jean"), 0, "wildcard value, case-insensitive");
    assert_eq!(logon("PAW01"), 0);
    assert_eq!(logon("PAW012"), 1, "a value without wildcard is exact");
    assert_eq!(logon("jean"), 1);
}

/// A correlation without `group-by`, loaded from YAML as a user writes
/// it, fires over events of different hosts and users (one global group).
#[test]
fn correlation_without_group_by_fires() {
    let text = "title: Failed logon\nname: failed_logon\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\nlevel: low\n---\ntitle: Password spraying across the network\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  timespan: 5m\n  condition:\n    gte: 4\nlevel: high\n";
    let (set, rep) = load_str(text, Path::new("spray.yml"), &LoadOptions::default());
    assert!(rep.failures.is_empty(), "{:#?}", rep.failures);
    assert_eq!(rep.correlation, 1);
    let (engine, failures) = Engine::compile(set);
    assert!(failures.is_empty(), "{failures:#?}");
    let mut corr = engine.correlator();
    let t0 = chrono::Utc.with_ymd_and_hms(2024, 1, 10, 3, 0, 0).unwrap();
    let mut fired = Vec::new();
    for (i, (host, user)) in [
        ("PC-1", "alice"),
        ("PC-2", "bob"),
        ("SRV-1", "carol"),
        ("PC-3", "dave"),
    ]
    .iter()
    .enumerate()
    {
        let mut e = Event::new(Origin {
            source: Arc::from("t"),
            locator: Locator::None,
        });
        e.channel = Some("Security".into());
        e.event_id = Some(4625);
        e.timestamp = Some(t0 + chrono::Duration::seconds(30 * i as i64));
        e.push("EventID", 4625i64);
        e.push("Computer", *host);
        e.push("TargetUserName", *user);
        let mut m = Vec::new();
        engine.evaluate(&e, &mut m);
        assert_eq!(m.len(), 1);
        fired.extend(corr.observe(e.timestamp.unwrap(), &m));
    }
    fired.extend(corr.finish());
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0].rule.title, "Password spraying across the network");
    assert!(fired[0].group.is_empty());
    assert_eq!(fired[0].value, 4.0);
}
