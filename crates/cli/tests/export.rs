//! `vigie export` on the demo's incident, through the binary: every format
//! written, checked by the reference tools (OASIS `stix2-validator
//! --strict`, PyMISP), free of personal data and internal names, and read
//! back by `vigie hunt --ioc` over the demo's logs: detections on the
//! attack's hosts, none on the others.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn vigie(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .env("LANG", "fr_FR.UTF-8")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn python_check(script: &str, args: &[&str]) {
    let Some(py) = vigie_testkit::python(&["stix2validator", "pymisp"]) else {
        return;
    };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../intel/tests/python")
        .join(script);
    let out = Command::new(py).arg(path).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Hosts of the demo named in a timeline's `kind: ioc` rows.
fn ioc_hosts(timeline: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(timeline)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["kind"] == "ioc")
        .map(|r| {
            r["computer"]
                .as_str()
                .unwrap_or("")
                .split('.')
                .next()
                .unwrap()
                .to_ascii_uppercase()
        })
        .collect()
}

#[test]
fn demo_incident_exported_checked_and_hunted_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&vigie(&["demo", "--quiet", "--dir", s(d)]));
    let scope = d.join("scope.json");
    let assets = d.join("scenario/assets.yml");
    let out = d.join("out");
    let common = ["--scope", s(&scope), "--assets", s(&assets)];
    let export = |format: &str, path: &Path, extra: &[&str]| {
        let mut args = vec!["export", format];
        args.extend(common);
        args.extend(["--out", s(path)]);
        args.extend(extra);
        ok(&vigie(&args))
    };
    let stix = out.join("incident.stix.json");
    let said = export("stix", &stix, &[]);
    assert!(said.contains("TLP:AMBER"), "{said}");
    assert!(
        said.contains("10.212.134.11"),
        "the VPN address is named as left out: {said}"
    );
    export("misp", &out.join("incident.misp.json"), &["--tlp", "green"]);
    export("misp-feed", &out.join("feed"), &["--tlp", "green"]);
    export("blocklist", &out.join("blocklist"), &[]);
    export("navigator", &out.join("layer.json"), &[]);

    // The reference tools accept them.
    python_check("validate_stix.py", &[s(&stix), "amber"]);
    python_check(
        "check_misp.py",
        &[
            s(&out.join("incident.misp.json")),
            "green",
            s(&out.join("feed")),
        ],
    );

    // What they say: the attacker's public address, the remote-access and
    // file-sharing names, the tools' digests; the techniques.
    let bundle: Value = serde_json::from_slice(&std::fs::read(&stix).unwrap()).unwrap();
    let patterns: Vec<String> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "indicator")
        .map(|o| o["pattern"].as_str().unwrap().to_string())
        .collect();
    let has = |needle: &str| patterns.iter().any(|p| p.contains(needle));
    assert!(has("203.0.113.45"), "{patterns:?}");
    assert!(has("anydesk.com") && has("mega.co.nz"), "{patterns:?}");
    assert!(has("file:hashes.'SHA-256'"), "{patterns:?}");
    let techniques: BTreeSet<&str> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "attack-pattern")
        .filter_map(|o| o["external_references"][0]["external_id"].as_str())
        .collect();
    assert!(techniques.contains("T1490"), "{techniques:?}");

    // No personal data, no internal names or addresses in anything written.
    let truth: Value =
        serde_json::from_slice(&std::fs::read(d.join("scenario/ground-truth.json")).unwrap())
            .unwrap();
    let mut everything = String::new();
    for entry in walk(&out) {
        everything.push_str(&std::fs::read_to_string(&entry).unwrap().to_lowercase());
    }
    for account in truth["compromised_accounts"].as_array().unwrap() {
        let a = account.as_str().unwrap().to_lowercase();
        assert!(!everything.contains(&a), "account {a} exported");
    }
    // Host names as whole words (a digest may hold `dc01`).
    let words: BTreeSet<&str> = everything
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .collect();
    for host in truth["gpo_reached_hosts"].as_array().unwrap() {
        let h = host.as_str().unwrap().to_lowercase();
        assert!(!words.contains(h.as_str()), "host name {h} exported");
    }
    for internal in ["10.212.134.", "\"10.0.", "ccpab.local", "\\users\\"] {
        assert!(!everything.contains(internal), "{internal} exported");
    }
    // Asked for, accounts are named.
    export(
        "misp",
        &d.join("with-accounts.json"),
        &["--include-accounts"],
    );
    assert!(std::fs::read_to_string(d.join("with-accounts.json"))
        .unwrap()
        .contains("presta.maint"));

    // Read back by `vigie hunt --ioc` over the demo's logs, with one rule
    // that matches nothing: every detection is an indicator's. Each
    // export finds the attack where the ground truth puts its
    // infrastructure (the firewall that saw the entry address, the server
    // the data left from) and nowhere else.
    let rules = d.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("never.yml"),
        "title: Never\nid: 00000000-0000-4000-8000-0000000000ff\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 999999\n  condition: sel\nlevel: low\n",
    )
    .unwrap();
    let common::server::DemoHosts {
        attack,
        gateway,
        exfil,
        ..
    } = common::server::demo_hosts(d);
    let logs = d.join("scenario/logs");
    for source in [
        out.join("incident.stix.json"),
        out.join("incident.misp.json"),
        out.join("feed"),
        out.join("blocklist"),
    ] {
        let timeline = d.join("ioc.jsonl");
        let hunt = vigie(&[
            "hunt",
            s(&logs),
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            s(&rules),
            "--ioc",
            s(&source),
            "-o",
            s(&timeline),
            "-q",
        ]);
        assert_eq!(
            hunt.status.code(),
            Some(1),
            "{source:?}: {}",
            String::from_utf8_lossy(&hunt.stderr)
        );
        let said = String::from_utf8_lossy(&hunt.stderr);
        assert!(said.contains("indicateurs"), "{said}");
        let found = ioc_hosts(&timeline);
        assert!(found.contains(&gateway), "{source:?}: {found:?}");
        assert!(found.contains(&exfil), "{source:?}: {found:?}");
        let benign: Vec<_> = found.difference(&attack).collect();
        assert!(
            benign.is_empty(),
            "{source:?}: indicators on benign hosts {benign:?}"
        );
        let rows = common_rows(&timeline);
        assert!(rows.iter().all(|r| r["kind"] == "ioc"), "{source:?}");
        // Each row names its indicator's source and carries the TLP of
        // the export (AMBER; GREEN for the MISP ones): in the blocklist
        // directory the plain lists have no label, and the CSV beside
        // them gives it.
        assert!(
            rows.iter()
                .all(|r| r["details"].as_str().unwrap().contains("source=")),
            "{source:?}: {}",
            rows[0]
        );
        let name = source.to_string_lossy();
        let tlp = if name.contains("misp") || name.ends_with("feed") {
            "tlp.green"
        } else {
            "tlp.amber"
        };
        assert!(
            rows.iter().all(|r| r["tags"].to_string().contains(tlp)),
            "{source:?}: {}",
            rows[0]
        );
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(d.join("ioc.jsonl.manifest.json")).unwrap())
                .unwrap();
        let compiled = manifest["indicators"]["compiled"].as_u64().unwrap();
        assert!(compiled > 0, "{}", manifest["indicators"]);
    }
    // An indicator source that cannot be read stops the run: exit 2.
    let missing = vigie(&["hunt", s(&logs), "--ioc", s(&d.join("nowhere.json")), "-q"]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // Inputs are never overwritten; a bad TLP is a usage error.
    let refused = vigie(&["export", "stix", "--scope", s(&scope), "--out", s(&scope)]);
    assert_eq!(refused.status.code(), Some(2));
    let bad = vigie(&[
        "export",
        "stix",
        "--scope",
        s(&scope),
        "--out",
        s(&d.join("x.json")),
        "--tlp",
        "white+",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

fn common_rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
