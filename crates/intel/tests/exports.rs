//! Exports checked by the reference tools (OASIS STIX validator, PyMISP),
//! and read back by Vigie's own import: every shared observable comes back
//! as an indicator that matches it, and nothing else.

mod common;

use std::collections::BTreeSet;

use vigie_intel::export::{blocklist, misp, stix};
use vigie_intel::{import_bytes, import_path, MatchOptions, Matcher, Tlp};
use vigie_lang::Lang;

fn write(dir: &std::path::Path, files: &[(String, String)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

/// Every observable of the findings, as the matcher normalises it.
fn shared_values() -> BTreeSet<String> {
    let f = common::findings();
    let mut v: BTreeSet<String> = f.addresses.iter().map(|a| a.value.clone()).collect();
    v.extend(f.domains.iter().map(|d| d.value.clone()));
    for t in &f.tools {
        v.extend(t.hashes.values().cloned());
    }
    v
}

fn imported_values(i: &vigie_intel::Imported) -> BTreeSet<String> {
    i.indicators
        .iter()
        .flat_map(|i| {
            i.condition
                .any
                .iter()
                .flatten()
                .map(|t| t.test.value_text())
        })
        .collect()
}

#[test]
fn stix_bundle_is_strictly_valid_and_reads_back() {
    let f = common::findings();
    for tlp in Tlp::ALL {
        let b = stix::bundle(&f, tlp, Lang::Fr);
        assert_eq!(
            b,
            stix::bundle(&f, tlp, Lang::Fr),
            "the same findings give the same bundle"
        );
        let back = import_bytes(serde_json::to_string(&b).unwrap().as_bytes(), "bundle.json");
        assert!(back.problems.is_empty(), "{:?}", back.problems);
        assert_eq!(imported_values(&back), shared_values());
        assert!(back.indicators.iter().all(|i| i.tlp == Some(tlp)));
        assert!(back
            .indicators
            .iter()
            .all(|i| i.source.name == f.organisation));
        assert!(
            back.other_objects.contains_key("incident")
                && back.other_objects.contains_key("sighting")
        );
    }
    let Some(py) = common::python(&["stix2validator"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for tlp in [Tlp::Amber, Tlp::Clear, Tlp::AmberStrict] {
        let path = dir.path().join(format!("{}.json", tlp.name()));
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&stix::bundle(&f, tlp, Lang::En)).unwrap(),
        )
        .unwrap();
        let out = common::run_python(
            &py,
            "validate_stix.py",
            &[path.to_str().unwrap(), tlp.name()],
        );
        let counts: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(counts["indicator"], 6, "{counts}");
        assert_eq!(counts["incident"], 1);
        assert_eq!(counts["sighting"], 6);
        assert_eq!(counts["attack-pattern"], 1);
        assert_eq!(counts["tool"], 2);
        assert_eq!(counts["ipv6-addr"], 1);
    }
}

#[test]
fn misp_event_and_feed_are_what_pymisp_expects_and_read_back() {
    let f = common::findings();
    let event = misp::event(&f, Tlp::Green, false, Lang::Fr);
    let text = serde_json::to_string_pretty(&event).unwrap();
    let back = import_bytes(text.as_bytes(), "event.json");
    assert_eq!(imported_values(&back), shared_values());
    assert!(back.indicators.iter().all(|i| i.tlp == Some(Tlp::Green)));
    // Not for detection (to_ids off): the summary text and the file names.
    assert_eq!(back.problem_count(), 3, "{:?}", back.problems);
    assert!(
        !text.contains("target-user"),
        "accounts are named only when asked"
    );
    let with_accounts = misp::event(&f, Tlp::Green, true, Lang::Fr).to_string();
    assert!(with_accounts.contains("target-user"));

    let dir = tempfile::tempdir().unwrap();
    let feed_dir = dir.path().join("feed");
    write(&feed_dir, &misp::feed(&event));
    let from_feed = import_path(&feed_dir).unwrap();
    assert_eq!(imported_values(&from_feed), shared_values());
    assert_eq!(
        from_feed.files, 1,
        "manifest.json and hashes.csv are the feed's index"
    );

    let Some(py) = common::python(&["pymisp"]) else {
        return;
    };
    let path = dir.path().join("event.json");
    std::fs::write(&path, &text).unwrap();
    let out = common::run_python(
        &py,
        "check_misp.py",
        &[path.to_str().unwrap(), "green", feed_dir.to_str().unwrap()],
    );
    let counts: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(counts["objects"], 2, "{counts}");
}

#[test]
fn blocklists_hold_entries_only_and_read_back() {
    let f = common::findings();
    let files = blocklist::files(&f, Tlp::Amber, Lang::Fr);
    let get = |n: &str| {
        files
            .iter()
            .find(|(name, _)| name == n)
            .map(|x| x.1.clone())
            .unwrap()
    };
    assert_eq!(
        get("addresses.txt"),
        "203.0.113.45\n2001:db8::66\n203.0.113.131\n"
    );
    assert_eq!(get("domains.txt"), "relay-4f7c21a8.net.anydesk.com\n");
    assert_eq!(
        get("hashes.txt"),
        format!("{} rclone.exe\n", "ab".repeat(32))
    );
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &files);
    let back = import_path(dir.path()).unwrap();
    assert!(back.problems.is_empty(), "{:?}", back.problems);
    assert_eq!(imported_values(&back), shared_values());
    // The same values from four files are one entry each in the matcher.
    let (m, report) = Matcher::compile(back.indicators, MatchOptions::default());
    assert_eq!(report.entries, shared_values().len(), "{report:?}");
    assert!(m.len() > report.entries);
    let csv_only = import_bytes(get("blocklist.csv").as_bytes(), "blocklist.csv");
    assert!(csv_only
        .indicators
        .iter()
        .all(|i| i.tlp == Some(Tlp::Amber) && i.source.name == f.organisation));
}

#[test]
fn navigator_layer_of_the_incident() {
    let l = common::findings().layer(Lang::Fr);
    let json = serde_json::to_value(&l).unwrap();
    assert_eq!(json["domain"], "enterprise-attack");
    assert_eq!(json["techniques"][0]["techniqueID"], "T1021.001");
    assert_eq!(json["techniques"][0]["score"], 4);
    assert!(json["name"].as_str().unwrap().contains("INC-1"));
}
