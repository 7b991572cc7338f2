//! End-to-end properties of the generated scenario (small scale).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use vigie_scenario::{generate, GeneratedScenario, Scale, ScenarioConfig};

fn small(dir: &Path) -> GeneratedScenario {
    generate(&ScenarioConfig::default(), dir).expect("generation succeeds")
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_same_bytes_and_other_seed_differs() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    small(a.path());
    small(b.path());
    let fa = files_under(a.path());
    let fb = files_under(b.path());
    let rel = |root: &Path, v: &[PathBuf]| {
        v.iter()
            .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
            .collect::<Vec<_>>()
    };
    assert_eq!(rel(a.path(), &fa), rel(b.path(), &fb));
    assert!(
        fa.len() > 50,
        "expected one file per host and channel, got {}",
        fa.len()
    );
    for (x, y) in fa.iter().zip(&fb) {
        assert!(
            fs::read(x).unwrap() == fs::read(y).unwrap(),
            "{} differs between two runs",
            x.display()
        );
    }
    // Another seed changes the noise (and so the files).
    generate(
        &ScenarioConfig {
            seed: 7,
            ..ScenarioConfig::default()
        },
        c.path(),
    )
    .unwrap();
    let sec = |root: &Path| fs::read(root.join("logs/DC01/Security.jsonl")).unwrap();
    assert_ne!(sec(a.path()), sec(c.path()));
}

#[test]
fn every_line_is_an_evtx_dump_record_numbered_without_gaps() {
    let d = tempfile::tempdir().unwrap();
    let g = small(d.path());
    assert!(
        g.events > 20_000 && g.events < 100_000,
        "small scale has a few tens of thousands events: {}",
        g.events
    );
    for f in g.files.iter().filter(|f| f.channel != "fortigate") {
        let text = fs::read_to_string(&f.path).unwrap();
        let mut prev: Option<u64> = None;
        let mut prev_time = String::new();
        let mut n = 0;
        for line in text.lines() {
            n += 1;
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{n}: {e}", f.path.display()));
            let sys = &v["Event"]["System"];
            assert_eq!(sys["Channel"], f.channel.as_str());
            assert!(sys["Provider"]["#attributes"]["Name"].is_string());
            assert!(sys["EventID"].is_u64());
            let computer = sys["Computer"].as_str().unwrap();
            assert!(
                computer.starts_with(&f.host),
                "{computer} in {}",
                f.path.display()
            );
            let rec = sys["EventRecordID"].as_u64().unwrap();
            if let Some(p) = prev {
                assert_eq!(
                    rec,
                    p + 1,
                    "{}:{n}: record ids are contiguous",
                    f.path.display()
                );
            }
            prev = Some(rec);
            let time = sys["TimeCreated"]["#attributes"]["SystemTime"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(time.len() == 27 && time.ends_with('Z'), "{time}");
            assert!(
                time >= prev_time,
                "{}:{n}: time goes backwards",
                f.path.display()
            );
            prev_time = time;
            assert!(v["Event"]["EventData"].is_object() || v["Event"]["UserData"].is_object());
        }
        assert_eq!(n as u64, f.events);
    }
}

#[test]
fn ground_truth_points_at_the_events_it_describes() {
    let d = tempfile::tempdir().unwrap();
    let g = small(d.path());
    let gt = &g.ground_truth;
    // The file on disk is the returned value.
    let on_disk: vigie_scenario::GroundTruth =
        serde_json::from_slice(&fs::read(&g.ground_truth_path).unwrap()).unwrap();
    assert_eq!(&on_disk, gt);
    assert_eq!(gt.steps.len(), 13);
    assert_eq!(gt.entry_point.account, "presta.maint");
    assert_eq!(gt.entry_point.source_ip, "203.0.113.45");
    assert_eq!(
        gt.compromised_hosts,
        [
            "DC01",
            "SRV-APP01",
            "SRV-BKP01",
            "SRV-FIC01",
            "SRV-RDS01",
            "SRV-SOC01"
        ]
    );
    assert!(gt.gpo_reached_hosts.iter().any(|h| h == "AQUA-CAISSE01"));
    assert!(!gt.gpo_reached_hosts.iter().any(|h| h == "TES-01"));
    assert_eq!(gt.exfiltration.share, "CIAS");
    assert!(
        gt.exfiltration.bytes_sent >= 140_000_000_000
            && gt.exfiltration.bytes_sent <= 160_000_000_000
    );

    let mut cache: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &gt.steps {
        assert!(!s.events.is_empty(), "step {} has events", s.number);
        for e in &s.events {
            assert_ne!(e.host, "TES-01", "TES-01 is never reached");
            let lines = cache.entry(e.file.clone()).or_insert_with(|| {
                fs::read_to_string(d.path().join(&e.file))
                    .unwrap()
                    .lines()
                    .map(String::from)
                    .collect()
            });
            let line = &lines[(e.line - 1) as usize];
            if e.channel == "fortigate" {
                assert!(line.contains("devname=\"FW01\""), "{line}");
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let sys = &v["Event"]["System"];
            assert_eq!(
                sys["EventRecordID"].as_u64(),
                e.record_id,
                "{}:{}",
                e.file,
                e.line
            );
            assert_eq!(sys["EventID"].as_u64().map(|x| x as u32), e.event_id);
            assert_eq!(sys["Channel"], e.channel.as_str());
            assert!(sys["TimeCreated"]["#attributes"]["SystemTime"]
                .as_str()
                .unwrap()
                .starts_with(&e.time[..19]));
        }
    }
    // Step 1 shows the VPN failures then the tunnel, and the DC's 4625s.
    let s1 = &gt.steps[0];
    assert!(
        s1.events
            .iter()
            .filter(|e| e.channel == "fortigate")
            .count()
            >= 4
    );
    assert!(s1.event_ids.contains(&4625) && s1.event_ids.contains(&4768));
    let fw = fs::read_to_string(d.path().join("logs/FW01/fortigate.log")).unwrap();
    assert!(fw.contains("action=\"ssl-login-fail\" tunneltype=\"ssl-web\" tunnelid=0 remip=203.0.113.45 user=\"presta.maint\""));
    assert!(fw.contains("tunnelip=10.212.134.11 user=\"presta.maint\""));
    // Step 12 clears the Security log on the servers: 1102 then numbering goes on.
    assert!(gt.steps[11].event_ids.contains(&1102) && gt.steps[11].event_ids.contains(&104));
}

#[test]
fn tes01_is_observed_all_week_and_never_involved() {
    let d = tempfile::tempdir().unwrap();
    let g = small(d.path());
    let iso = &g.ground_truth.isolated;
    assert!(!iso.reached);
    assert!(iso.coverage.iter().any(|c| c.channel == "Security"));
    for c in &iso.coverage {
        // First event on the first day, last on the last day of the period.
        assert!(c.first.as_str() < "2026-01-10T12:00:00Z", "{c:?}");
        assert!(c.last.as_str() > "2026-01-16T00:00:00Z", "{c:?}");
    }
    // No other host's log mentions TES-01 or its address.
    for f in g.files.iter().filter(|f| f.host != "TES-01") {
        let text = fs::read_to_string(&f.path).unwrap();
        assert!(
            !text.contains("TES-01") && !text.contains("172.31.200.10"),
            "{} mentions TES-01",
            f.path.display()
        );
    }
}

#[test]
fn assets_file_is_read_by_the_scope_stage() {
    let d = tempfile::tempdir().unwrap();
    let g = small(d.path());
    let assets =
        vigie_scope::Assets::load(&g.assets).expect("assets.yml parses as vigie_scope::Assets");
    assert_eq!(assets.hosts.len(), 21);
    assert!(assets
        .zones
        .iter()
        .any(|z| z.name == "state-id" && z.isolated));
    assert!(assets
        .hosts
        .iter()
        .any(|h| h.name == "TES-01" && h.zone.as_deref() == Some("state-id")));
    assert_eq!(assets.networks.vpn_pools, ["10.212.134.0/24"]);
}

#[test]
fn week_scale_has_every_host() {
    let org = vigie_scenario::org::Org::build(Scale::Week);
    let pcs = org.pcs().count();
    assert!((170..=190).contains(&pcs), "{pcs} PCs");
    assert!(org.hosts.len() > 190);
    let small = vigie_scenario::org::Org::build(Scale::Small);
    assert_eq!(small.hosts.len(), 21);
}

#[test]
fn refuses_to_overwrite_foreign_logs() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("logs/keep")).unwrap();
    fs::write(d.path().join("logs/keep/x.txt"), "mine").unwrap();
    let err = generate(&ScenarioConfig::default(), d.path()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(
        fs::read_to_string(d.path().join("logs/keep/x.txt")).unwrap(),
        "mine"
    );
}
