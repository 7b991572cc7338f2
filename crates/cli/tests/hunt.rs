//! `vigie hunt` and `vigie rules check` as a user runs them, on fixtures
//! written by the tests: output formats, manifest, bad input, rules report,
//! exit codes.

mod common;

use std::path::Path;

use common::{sysmon1, vigie, WHOAMI_RULE};
use serde_json::Value;

const RULE: &str = WHOAMI_RULE;

const BROKEN_RULE: &str = r#"
title: Broken
id: 5d2a9b8e-2222-4c3b-9a55-0a1b2c3d4e5f
logsource: {product: windows}
detection:
    selection:
        Image|nosuchmodifier: 'x'
    condition: selection
"#;

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
    assert_eq!(
        out.status.code(),
        Some(4),
        "detections, one line not read → exit 4: {stdout}"
    );
    assert!(stdout.contains("Read 5 events from 2 files"), "{stdout}");
    assert!(stdout.contains("(1 record skipped, 1 error)"), "{stdout}");
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
    assert!(out.stderr.is_empty(), "and nothing went wrong");
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
    assert_eq!(
        out.status.code(),
        Some(3),
        "nothing found, one line not read: {stdout}"
    );
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

/// A Linux server over rsyslog, attacked in plain sight (an sshd brute
/// force, a root logon, a UID 0 account, auditd stopped, `base64 -d | sh`
/// under sudo): with the default rules, nothing fires, and the verdict
/// says that Linux syslog is not what they watch — "0 detections" is
/// never an all-clear there. With SigmaHQ's Linux rules given, they fire.
#[test]
fn linux_syslog_without_linux_rules_is_said_not_watched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut log = String::new();
    for i in 0..30 {
        log.push_str(&format!(
            "<38>Dec  6 17:{:02}:{:02} srv-lin01 sshd[{}]: Failed password for root from 198.51.100.9 port {} ssh2\n",
            47 + i * 5 / 60,
            (i * 5) % 60,
            1000 + i,
            40000 + i
        ));
    }
    log.push_str("<38>Dec  6 17:50:47 srv-lin01 sshd[2000]: Accepted password for root from 198.51.100.9 port 41000 ssh2\n");
    log.push_str("<86>Dec  6 17:50:47 srv-lin01 sudo:     root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/base64 -d /tmp/x | sh\n");
    log.push_str("<30>Dec  6 17:50:47 srv-lin01 systemd[1]: Stopped auditd.service - Security Auditing Service.\n");
    log.push_str("<85>Dec  6 17:50:47 srv-lin01 useradd[3000]: new user: name=backdoor, UID=0, GID=0, home=/root, shell=/bin/bash\n");
    std::fs::write(dir.join("auth.log"), log).unwrap();
    let out = vigie(&["hunt", "auth.log", "-o", "t.jsonl"], dir);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("syslog of SRV-LIN01: Vigie's default rules watch Windows logs"),
        "{said}"
    );
    assert!(
        said.contains("0 detections there is no all-clear"),
        "{said}"
    );

    let Some(corpus) = std::env::var_os("VIGIE_CORPUS") else {
        return;
    };
    let linux = Path::new(&corpus).join("sigma/rules/linux/builtin");
    let out = vigie(
        &[
            "hunt",
            "auth.log",
            "-o",
            "t2.jsonl",
            "--rules",
            linux.to_str().unwrap(),
        ],
        dir,
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("Privileged User Has Been Created"), "{said}");
}
