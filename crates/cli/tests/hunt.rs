//! `vigie hunt` and `vigie rules check` as a user runs them, on fixtures
//! written by the tests: output formats, manifest, bad input, rules report,
//! exit codes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const RULE: &str = r#"
title: Whoami Execution
id: 5d2a9b8e-1111-4c3b-9a55-0a1b2c3d4e5f
status: test
level: medium
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
"#;

const BROKEN_RULE: &str = r#"
title: Broken
id: 5d2a9b8e-2222-4c3b-9a55-0a1b2c3d4e5f
logsource: {product: windows}
detection:
    selection:
        Image|nosuchmodifier: 'x'
    condition: selection
"#;

fn sysmon1(record: u64, time: &str, image: &str) -> String {
    format!(
        r##"{{"Event":{{"System":{{"Provider":{{"#attributes":{{"Name":"Microsoft-Windows-Sysmon"}}}},"EventID":1,"TimeCreated":{{"#attributes":{{"SystemTime":"{time}"}}}},"EventRecordID":{record},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"PC-01.ccpab.local"}},"EventData":{{"Image":"{image}","CommandLine":"x"}}}}}}"##
    )
}

fn vigie(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn fixtures(dir: &Path) {
    std::fs::create_dir_all(dir.join("logs/sub")).unwrap();
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/whoami.yml"), RULE).unwrap();
    std::fs::write(dir.join("rules/broken.yml"), BROKEN_RULE).unwrap();
    // Out of order on purpose: the timeline must come out sorted.
    let lines = [
        sysmon1(
            2,
            "2026-01-10T02:31:00.000000Z",
            r"C:\\Windows\\System32\\whoami.exe",
        ),
        sysmon1(
            1,
            "2026-01-10T02:30:00.000000Z",
            r"C:\\Windows\\System32\\whoami.exe",
        ),
        sysmon1(
            3,
            "2026-01-10T02:32:00.000000Z",
            r"C:\\Windows\\System32\\notepad.exe",
        ),
    ];
    std::fs::write(dir.join("logs/a.jsonl"), lines.join("\n") + "\n").unwrap();
    // A truncated line between two good ones: reported, the rest kept.
    let bad = format!(
        "{}\n{}\n{}\n",
        sysmon1(
            10,
            "2026-01-10T03:00:00.000000Z",
            r"C:\\Windows\\System32\\whoami.exe"
        ),
        &sysmon1(11, "2026-01-10T03:01:00.000000Z", "x")[..60],
        sysmon1(
            12,
            "2026-01-10T03:02:00.000000Z",
            r"C:\\Windows\\System32\\whoami.exe"
        ),
    );
    std::fs::write(dir.join("logs/sub/truncated.jsonl"), bad).unwrap();
}

#[test]
fn hunt_writes_a_sorted_timesketch_timeline_and_a_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let out = vigie(
        &[
            "hunt",
            "logs",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules",
            "-o",
            "t.jsonl",
        ],
        dir,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "detections → exit 1: {stdout}");
    assert!(stdout.contains("Read 5 events from 2 files"), "{stdout}");
    assert!(stdout.contains("1 errors"), "{stdout}");
    assert!(stdout.contains("1 not loaded"), "{stdout}");

    let rows: Vec<Value> = std::fs::read_to_string(dir.join("t.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    for key in [
        "timestamp",
        "computer",
        "channel",
        "event_id",
        "record_id",
        "rule_id",
        "rule_title",
        "level",
        "tags",
        "source_file",
        "datetime",
        "timestamp_desc",
        "message",
    ] {
        assert!(rows.iter().all(|r| r.get(key).is_some()), "missing {key}");
    }
    let records: Vec<u64> = rows
        .iter()
        .map(|r| r["record_id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        records,
        [1, 2, 10, 12],
        "sorted by time, truncated line skipped"
    );
    assert_eq!(rows[0]["datetime"], "2026-01-10T02:30:00.000000Z");
    assert_eq!(rows[0]["timestamp"], 1_768_012_200_000_000i64);
    assert_eq!(rows[0]["rule_title"], "Whoami Execution");
    assert_eq!(rows[0]["level"], "medium");
    assert_eq!(rows[0]["tags"][1], "attack.t1033");
    assert_eq!(rows[0]["event_id"], 1);

    let m: Value =
        serde_json::from_slice(&std::fs::read(dir.join("t.jsonl.manifest.json")).unwrap()).unwrap();
    assert_eq!(m["events"], 5);
    assert_eq!(m["rules"]["not_loaded"], 1);
    assert_eq!(m["rules"]["compiled"], 1);
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2);
    let trunc = inputs
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("truncated.jsonl"))
        .unwrap();
    assert_eq!(trunc["records_read"], 2);
    assert_eq!(trunc["records_skipped"], 1);
    assert_eq!(trunc["errors"], 1);
    assert_eq!(trunc["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(trunc["first"], "2026-01-10T03:00:00Z");
}

#[test]
fn csv_timeline_has_the_same_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let out = vigie(
        &[
            "hunt",
            "logs/a.jsonl",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules/whoami.yml",
            "-o",
            "t.csv",
            "--format",
            "csv",
            "-q",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "quiet prints nothing");
    let text = std::fs::read_to_string(dir.join("t.csv")).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("timestamp,datetime,timestamp_desc,message,computer,channel,event_id,record_id,rule_id,rule_title,level,tags,source_file"));
    assert_eq!(lines.count(), 2);
}

#[test]
fn exit_codes_for_nothing_found_and_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    // Nothing detected → 0.
    std::fs::write(
        dir.join("clean.jsonl"),
        sysmon1(1, "2026-01-10T02:30:00Z", "notepad.exe") + "\n",
    )
    .unwrap();
    let out = vigie(
        &[
            "hunt",
            "clean.jsonl",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules/whoami.yml",
            "-q",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0));
    // Missing input → 2 with a clear message.
    let out = vigie(&["hunt", "nope/", "-q"], dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    // No loadable rule → 2.
    let out = vigie(
        &[
            "hunt",
            "logs",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules/broken.yml",
            "-q",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(2));
    // Bad flag → clap's usage error (2).
    let out = vigie(&["hunt", "logs", "--min-level", "huge"], dir);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rules_check_lists_every_rule_not_loaded_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let out = vigie(
        &[
            "rules",
            "check",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules",
        ],
        dir,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("1 detection"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("not loaded:"))
        .expect(&stdout);
    assert!(
        line.contains("broken.yml") && line.contains("nosuchmodifier"),
        "{line}"
    );
    // The built-in pack loads whole.
    let out = vigie(&["rules", "check"], dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn parse_only_reads_everything_and_reports_no_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let out = vigie(&["hunt", "logs", "--no-rules"], dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Read 5 events") && stdout.contains("Rules: none"),
        "{stdout}"
    );
}

#[test]
fn the_manifest_carries_what_was_assumed_about_an_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // RFC 3164 carries no year: the one assumed is a note of the input.
    std::fs::write(
        dir.join("auth.log"),
        "<38>Jan 10 02:10:03 srv01 sshd[411]: Failed password for root from 203.0.113.45 port 4711 ssh2\n",
    )
    .unwrap();
    let out = vigie(
        &[
            "hunt",
            "auth.log",
            "--no-rules",
            "-q",
            "--manifest",
            "m.json",
        ],
        dir,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&std::fs::read(dir.join("m.json")).unwrap()).unwrap();
    let input = &m["inputs"][0];
    assert_eq!(input["records_read"], 1);
    let notes = input["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains("year")),
        "{notes:?}"
    );
}
