//! Scope facts on real EVTX samples (evtx-attack-samples, "Lateral
//! Movement"), read with vigie-source. The expected facts were checked by
//! reading the events themselves (see the comments).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigie_scope::*;

mod common;
use common::corpus;

fn lm(corpus: &Path, name: &str) -> PathBuf {
    corpus
        .join("evtx-attack-samples/Lateral Movement")
        .join(name)
}

fn read(path: &Path) -> Vec<vigie_event::Event> {
    let (events, report) = vigie_source::read_all(path);
    assert!(!events.is_empty(), "{}: {report:?}", path.display());
    events
}

/// Scope of some files with no detection at all: raw-event facts only.
fn raw_scope(corpus: &Path, names: &[&str]) -> Scope {
    let mut o = Observer::new(Arc::new(Assets::default()));
    for n in names {
        for e in read(&lm(corpus, n)) {
            o.observe(&e, &[]);
        }
    }
    o.finish(&[], Lang::En)
}

fn has_link(s: &Scope, from: &str, to: &str, account: &str, method: LinkMethod) -> bool {
    s.links.iter().any(|l| {
        l.from == from && l.to == to && l.account.as_deref() == Some(account) && l.method == method
    })
}

#[test]
fn psexec_clones_are_recognised_on_the_target() {
    let Some(c) = corpus() else { return };
    // RemCom: 5145 ADMIN$\System32\RemComSvc.exe from 10.0.2.16 as IEUser.
    let s = raw_scope(&c, &["LM_REMCOM_5145_TargetHost.evtx"]);
    assert!(
        has_link(&s, "10.0.2.16", "PC01", "ieuser", LinkMethod::Psexec),
        "{:#?}",
        s.links
    );
    // Renamed PsExec: ADMIN$\blabla.exe and pipes blabla-NLLT108334-37048-stdin...
    let s = raw_scope(&c, &["LM_renamed_psexecsvc_5145.evtx"]);
    let l = s
        .links
        .iter()
        .find(|l| l.method == LinkMethod::Psexec)
        .expect("psexec link");
    assert_eq!(
        (l.from.as_str(), l.to.as_str(), l.account.as_deref()),
        ("10.0.2.16", "IEWIN7", Some("ieuser"))
    );
    assert!(l.evidence.iter().any(|e| e.summary.contains("blabla")));
    assert!(
        has_link(
            &s,
            "10.0.2.16",
            "IEWIN7",
            "ieuser",
            LinkMethod::RemoteService
        ),
        "svcctl pipe"
    );
}

#[test]
fn remote_task_wmi_and_explicit_credentials() {
    let Some(c) = corpus() else { return };
    // ATSVC: IPC$\atsvc + ADMIN$\Temp\CYAlyNSS.tmp from 10.0.2.17, task \CYAlyNSS.
    let s = raw_scope(&c, &["LM_ScheduledTask_ATSVC_target_host.evtx"]);
    assert!(has_link(
        &s,
        "10.0.2.17",
        "WIN-77LTAPHIQ1R",
        "administrator",
        LinkMethod::RemoteTask
    ));
    assert!(has_link(
        &s,
        "10.0.2.17",
        "WIN-77LTAPHIQ1R",
        "administrator",
        LinkMethod::SmbAdminShare
    ));
    let task = s
        .scheduled_tasks
        .iter()
        .find(|t| t.name == "\\CYAlyNSS")
        .expect("task");
    assert_eq!(
        task.command.as_deref(),
        Some("cmd.exe /C tasklist > %windir%\\Temp\\CYAlyNSS.tmp 2>&1")
    );
    assert_eq!(task.action, "created");
    // WMI: WmiPrvSE.exe (4688) spawns calc.exe right after a type-3 logon of
    // Administrator from 10.0.2.17, which logons name as workstation PC01.
    let s = raw_scope(&c, &["LM_WMI_4624_4688_TargetHost.evtx"]);
    let wmi = s
        .links
        .iter()
        .find(|l| l.method == LinkMethod::Wmi)
        .expect("wmi link");
    assert_eq!(wmi.to, "WIN-77LTAPHIQ1R");
    assert_eq!(wmi.account.as_deref(), Some("administrator"));
    assert_eq!(wmi.from_address.as_deref(), Some("10.0.2.17"));
    // 4648 on PC01: user01 used administrator's credentials for WIN-77LTAPHIQ1R.
    let s = raw_scope(&c, &["LM_WMIC_4648_rpcss.evtx"]);
    let l = s
        .links
        .iter()
        .find(|l| l.method == LinkMethod::ExplicitCreds)
        .expect("4648 link");
    assert_eq!(
        (
            l.from.as_str(),
            l.to.as_str(),
            l.account.as_deref(),
            l.count
        ),
        ("PC01", "WIN-77LTAPHIQ1R", Some("administrator"), 3)
    );
    // Remote task update: type-3 logon from workstation 04246W-WIN10.
    let s = raw_scope(&c, &["remote task update 4624 4702 same logonid.evtx"]);
    let l = s
        .links
        .iter()
        .find(|l| l.to == "01566S-WIN16-IR")
        .expect("logon link");
    assert_eq!(l.from, "04246W-WIN10");
    assert_eq!(l.from_address.as_deref(), Some("172.16.66.142"));
    assert_eq!(l.account.as_deref(), Some("a-jbrown"));
    let t = s
        .scheduled_tasks
        .iter()
        .find(|t| t.name == "\\LMST")
        .expect("4702");
    assert_eq!(t.action, "updated");
    assert_eq!(
        t.command.as_deref(),
        Some("cmd.exe /c echo testing > c:\\users\\public\\out.txt")
    );
}

#[test]
fn services_installed_with_lolbin_images_are_suspicious() {
    let Some(c) = corpus() else { return };
    let s = raw_scope(&c, &["LM_Remote_Service02_7045.evtx"]);
    let names: BTreeMap<&str, bool> = s
        .services_installed
        .iter()
        .map(|x| (x.name.as_str(), x.suspicious))
        .collect();
    assert_eq!(names.get("spoolfool"), Some(&true), "ImagePath cmd.exe");
    assert_eq!(names.get("spoolsv"), Some(&true));
    assert_eq!(names.len(), 3);
}

/// Coverage (record-id gaps and cleared logs) checked against an
/// independent computation over every Lateral Movement sample.
#[test]
fn coverage_gaps_and_cleared_logs_match_the_raw_records() {
    let Some(c) = corpus() else { return };
    let dir = c.join("evtx-attack-samples/Lateral Movement");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "evtx"));
    files.sort();
    assert!(files.len() >= 40);
    let mut total_cleared = 0;
    for f in &files {
        let events = read(f);
        let mut o = Observer::new(Arc::new(Assets::default()));
        let mut ids: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
        let mut cleared = 0;
        for e in &events {
            o.observe(e, &[]);
            let host = names::host_key(e.computer.as_deref().unwrap()).unwrap();
            ids.entry((host, e.channel.as_deref().unwrap().to_string()))
                .or_default()
                .insert(e.record_id.unwrap());
            let ch = e.channel.as_deref().unwrap();
            if (e.event_id == Some(1102) && ch == "Security")
                || (e.event_id == Some(104) && ch == "System")
            {
                cleared += 1;
            }
        }
        let s = o.finish(&[], Lang::En);
        assert_eq!(s.coverage.channels.len(), ids.len(), "{}", f.display());
        for ch in &s.coverage.channels {
            let set = &ids[&(ch.host.clone(), ch.channel.clone())];
            let v: Vec<u64> = set.iter().copied().collect();
            let gaps: Vec<RecordGap> = v
                .windows(2)
                .filter(|w| w[1] > w[0] + 1)
                .map(|w| RecordGap {
                    after: w[0],
                    before: w[1],
                    missing: w[1] - w[0] - 1,
                })
                .collect();
            assert_eq!(ch.record_gaps, gaps, "{} {}", f.display(), ch.channel);
            assert_eq!(ch.first_record, v.first().copied());
            assert_eq!(ch.last_record, v.last().copied());
        }
        let found: usize = s.coverage.channels.iter().map(|c| c.cleared.len()).sum();
        assert_eq!(found, cleared, "{}", f.display());
        total_cleared += cleared;
    }
    assert!(
        total_cleared >= 5,
        "the set contains cleared logs ({total_cleared})"
    );
    // A concrete one: LM_REMCOM_5145_TargetHost has 30 records in 237285..=237989.
    let s = raw_scope(&c, &["LM_REMCOM_5145_TargetHost.evtx"]);
    let ch = &s.coverage.channels[0];
    assert_eq!(
        (ch.host.as_str(), ch.channel.as_str(), ch.events),
        ("PC01", "Security", 30)
    );
    assert_eq!(
        (ch.first_record, ch.last_record),
        (Some(237285), Some(237989))
    );
    assert_eq!(ch.record_gaps.len(), 6);
    // LM_5145_Remote_FileCopy: 869 consecutive records, no gap.
    let s = raw_scope(&c, &["LM_5145_Remote_FileCopy.evtx"]);
    assert!(s.coverage.channels[0].record_gaps.is_empty());
    assert_eq!(s.coverage.channels[0].events, 869);
    // LM_WMIC_4648_rpcss starts with 1102 by user01.
    let s = raw_scope(&c, &["LM_WMIC_4648_rpcss.evtx"]);
    let cl = &s.coverage.channels[0].cleared;
    assert_eq!(cl.len(), 1);
    assert_eq!(cl[0].account.as_deref(), Some("user01"));
    assert_eq!(cl[0].evidence.event_id, Some(1102));
    assert_eq!(
        cl[0].time.unwrap().to_rfc3339(),
        "2019-03-18T11:27:00.438449400+00:00"
    );
}

/// PC01 → WIN-77LTAPHIQ1R (March 2019): logs cleared on PC01, pass-the-hash,
/// explicit credentials for administrator, then WMI, svcctl and ATSVC
/// execution on the target. Run through the real Sigma engine and SigmaHQ.
#[test]
fn pc01_story_with_sigmahq_rules() {
    let Some(c) = corpus() else { return };
    let (rules, _) = vigie_detect::load_paths(
        &[c.join("sigma/rules/windows")],
        &vigie_detect::LoadOptions::default(),
    );
    let (engine, _) = vigie_detect::Engine::compile(rules);
    let files = [
        "LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx",
        "LM_WMIC_4648_rpcss.evtx",
        "LM_WMI_4624_4688_TargetHost.evtx",
        "LM_ScheduledTask_ATSVC_target_host.evtx",
        "LM_5145_Remote_FileCopy.evtx",
        "LM_Remote_Service01_5145_svcctl.evtx",
    ];
    // Two observers fed alternately, merged: as the hunt's threads do.
    let mut obs = [
        Observer::new(Arc::new(Assets::default())),
        Observer::new(Arc::new(Assets::default())),
    ];
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        for e in read(&lm(&c, f)) {
            out.clear();
            engine.evaluate(&e, &mut out);
            obs[i % 2].observe(&e, &out);
        }
    }
    let [mut a, b] = obs;
    a.merge(b);
    let s = a.finish(&[], Lang::En);

    assert_eq!(s.incidents.len(), 1, "{:#?}", s.incidents);
    let inc = &s.incidents[0];
    let hosts: Vec<&str> = inc.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(hosts, vec!["PC01", "WIN-77LTAPHIQ1R"]);
    let accts: BTreeSet<&str> = inc.accounts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(accts, BTreeSet::from(["administrator", "user01"]));
    assert!(inc.tactics.contains(&"Lateral Movement".to_string()));
    let kinds: Vec<NatureKind> = s.nature.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds.first(),
        Some(&NatureKind::LateralMovement),
        "{kinds:?}"
    );
    assert!(kinds.contains(&NatureKind::DefenceEvasion));
    for m in [
        LinkMethod::ExplicitCreds,
        LinkMethod::Wmi,
        LinkMethod::RemoteTask,
        LinkMethod::RemoteService,
    ] {
        let l = s
            .links
            .iter()
            .find(|l| l.method == m && l.to == "WIN-77LTAPHIQ1R")
            .unwrap_or_else(|| panic!("no {m:?} link"));
        assert_eq!(l.from, "PC01", "{m:?}");
        assert_eq!(l.account.as_deref(), Some("administrator"));
        assert!(l.malicious);
    }
    // The earliest malicious act is the Security log cleared on PC01 by
    // user01 (its first record); how PC01 itself was reached is not logged.
    let e = s.entry_point.as_ref().unwrap();
    assert_eq!(e.method, "first_detection");
    assert_eq!(e.host.as_deref(), Some("PC01"));
    assert_eq!(e.account.as_deref(), Some("user01"));
    assert_eq!(e.confidence, Confidence::Low);
    assert!(e.evidence[0]
        .source
        .ends_with("LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx"));
    assert_eq!(e.evidence[0].event_id, Some(1102));
    assert_eq!(
        e.evidence[0].rule_title.as_deref(),
        Some("Security Eventlog Cleared")
    );
    for h in ["PC01", "WIN-77LTAPHIQ1R"] {
        assert_eq!(
            s.hosts.iter().find(|x| x.name == h).unwrap().compromised,
            Compromise::Yes
        );
    }
    let cleared: Vec<(&str, Option<&str>)> = s
        .coverage
        .channels
        .iter()
        .flat_map(|c| {
            c.cleared
                .iter()
                .map(move |x| (c.host.as_str(), x.account.as_deref()))
        })
        .collect();
    assert_eq!(
        cleared,
        vec![
            ("PC01", Some("user01")),
            ("PC01", Some("user01")),
            ("WIN-77LTAPHIQ1R", Some("administrator"))
        ]
    );
    assert_eq!(s.containment[0].kind, ActionKind::DisableAccount);
    assert_eq!(s.containment[0].target, "user01");
    // Round trip on a real scope too.
    assert_eq!(Scope::from_json(&s.to_json()).unwrap(), s);
}

/// How much the scope adds to a hunt: every evtx-attack-samples file read,
/// matched against SigmaHQ's Windows rules and observed (run in release:
/// `cargo test --release -p vigie-scope --test corpus -- --ignored --nocapture`).
#[test]
#[ignore]
fn scope_share_of_hunt_time() {
    use std::time::{Duration, Instant};
    let Some(c) = corpus() else { return };
    let (rules, _) = vigie_detect::load_paths(
        &[c.join("sigma/rules/windows")],
        &vigie_detect::LoadOptions::default(),
    );
    let (engine, _) = vigie_detect::Engine::compile(rules);
    let mut files = Vec::new();
    let mut stack = vec![c.join("evtx-attack-samples")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "evtx") {
                files.push(p);
            }
        }
    }
    files.sort();
    let (mut read, mut matching, mut observing) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut o = Observer::new(Arc::new(Assets::default()));
    let mut n = 0usize;
    let mut out = Vec::new();
    for f in &files {
        let t = Instant::now();
        let (events, _) = vigie_source::read_all(f);
        read += t.elapsed();
        n += events.len();
        for e in &events {
            out.clear();
            let t = Instant::now();
            engine.evaluate(e, &mut out);
            let t2 = Instant::now();
            o.observe(e, &out);
            matching += t2 - t;
            observing += t2.elapsed();
        }
    }
    let t = Instant::now();
    let s = o.finish(&[], Lang::En);
    let fin = t.elapsed();
    println!(
        "{} files, {n} events: read {read:?}, match {matching:?}, scope observe {observing:?} + finish {fin:?} \
         ({:.1}% of read+match); {} incidents, {} links",
        files.len(),
        100.0 * (observing + fin).as_secs_f64() / (read + matching).as_secs_f64(),
        s.incidents.len(),
        s.links.len()
    );
}

/// All 277 samples, no rules: split across observers in two different ways
/// and merged in different orders, the scope is byte-identical; nothing
/// panics on real-world oddities (missing fields, IPv6, odd channels).
#[test]
fn whole_sample_set_is_deterministic_across_threads() {
    let Some(c) = corpus() else { return };
    let mut files = Vec::new();
    let mut stack = vec![c.join("evtx-attack-samples")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "evtx") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 250);
    let all: Vec<Vec<vigie_event::Event>> =
        files.iter().map(|f| vigie_source::read_all(f).0).collect();
    let run = |parts: usize, reverse: bool| {
        let mut obs: Vec<Observer> = (0..parts)
            .map(|_| Observer::new(Arc::new(Assets::default())))
            .collect();
        for (i, events) in all.iter().enumerate() {
            for e in events {
                obs[i % parts].observe(e, &[]);
            }
        }
        if reverse {
            obs.reverse();
        }
        let mut it = obs.into_iter();
        let mut acc = it.next().unwrap();
        for o in it {
            acc.merge(o);
        }
        acc.finish(&[], Lang::En).to_json()
    };
    let one = run(1, false);
    assert_eq!(run(3, false), one);
    assert_eq!(run(4, true), one);
    let s = Scope::from_json(&one).unwrap();
    let cleared: usize = s.coverage.channels.iter().map(|c| c.cleared.len()).sum();
    assert!(cleared >= 10, "{cleared}");
    assert!(s.links.iter().any(|l| l.method == LinkMethod::Psexec));
    assert!(s.links.iter().any(|l| l.method == LinkMethod::Rdp));
}

/// The cleared-log samples say which log was cleared and by whom: 104
/// names the log of its UserData (`System` here, the envelope's own
/// channel, once said "unknown log"); 1102 names its account. A 1102 by a
/// machine account (a script running as SYSTEM) says that account, never
/// "by ?".
#[test]
fn cleared_logs_say_which_log_and_by_whom() {
    let Some(c) = corpus() else { return };
    let dir = c.join("evtx-attack-samples/Defense Evasion");
    let cleared = |events: Vec<vigie_event::Event>| -> Vec<(String, String, String)> {
        let mut o = Observer::new(Arc::new(Assets::default()));
        for e in &events {
            o.observe(e, &[]);
        }
        let s = o.finish(&[], Lang::En);
        s.coverage
            .channels
            .iter()
            .flat_map(|ch| ch.cleared.iter())
            .map(|l| {
                (
                    l.cleared_channel.clone(),
                    l.account.clone().unwrap_or_default(),
                    l.evidence.summary.clone(),
                )
            })
            .collect()
    };
    let c104 = cleared(read(&dir.join("DE_104_system_log_cleared.evtx")));
    assert!(!c104.is_empty());
    for (channel, _, summary) in &c104 {
        assert_eq!(channel, "System", "{c104:?}");
        assert!(summary.contains("log System cleared on"), "{c104:?}");
        assert!(
            !summary.contains("unknown log") && !summary.ends_with(" by ?"),
            "{c104:?}"
        );
    }
    let c1102 = cleared(read(&dir.join("DE_1102_security_log_cleared.evtx")));
    assert!(!c1102.is_empty());
    for (channel, _, summary) in &c1102 {
        assert_eq!(channel, "Security", "{c1102:?}");
        assert!(!summary.ends_with(" by ?"), "{c1102:?}");
    }

    // A 1102 as evtx_dump renders it, cleared by the DC's machine account.
    let dc = r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Eventlog"}},"EventID":1102,"TimeCreated":{"#attributes":{"SystemTime":"2026-01-17T08:00:00.000000Z"}},"EventRecordID":99,"Channel":"Security","Computer":"DC01.ccpab.local"},"UserData":{"LogFileCleared":{"SubjectUserSid":"S-1-5-18","SubjectUserName":"DC01$","SubjectDomainName":"CCPAB","SubjectLogonId":"0x3e7"}}}}"##;
    let (events, _) = vigie_source::read_bytes(
        "clear.json",
        format!("{dc}\n").as_bytes(),
        &vigie_source::ReadOptions::default(),
    );
    let by_dc = cleared(events);
    assert_eq!(by_dc.len(), 1, "{by_dc:?}");
    let (channel, account, summary) = &by_dc[0];
    assert_eq!(channel, "Security");
    assert_eq!(account, "", "a machine account is no account of interest");
    assert!(summary.ends_with(" by DC01$ (SYSTEM)"), "{summary}");
}
