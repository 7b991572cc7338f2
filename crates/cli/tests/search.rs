//! `vigie search` and `vigie show` through the binary.

mod common;

use std::path::Path;

use common::{both, security, stderr, stdout, vigie};
use serde_json::Value;

fn setup(dir: &Path) {
    std::fs::create_dir_all(dir.join("logs/dc")).unwrap();
    let dc = [
        security(
            "2026-01-10T02:00:00Z",
            4625,
            "DC01.ccpab.local",
            &[("TargetUserName", "alice"), ("IpAddress", "203.0.113.45")],
        ),
        security(
            "2026-01-10T02:01:00Z",
            4625,
            "DC01.ccpab.local",
            &[("TargetUserName", "adm.tech01"), ("IpAddress", "10.0.0.5")],
        ),
        security(
            "2026-01-10T02:02:00Z",
            4624,
            "DC01.ccpab.local",
            &[
                ("TargetUserName", "adm.tech01"),
                ("IpAddress", "203.0.113.45"),
            ],
        ),
        security(
            "2026-01-11T09:00:00Z",
            4688,
            "DC01.ccpab.local",
            &[
                ("NewProcessName", r"C:\Windows\System32\net.exe"),
                ("CommandLine", "net group \"Admins du domaine\" /domain"),
            ],
        ),
    ];
    std::fs::write(dir.join("logs/dc/security.jsonl"), dc.join("\n") + "\n").unwrap();
    let pc = [security(
        "2026-01-10T02:03:00Z",
        4625,
        "PC-07",
        &[("TargetUserName", "ALICE"), ("IpAddress", "203.0.113.45")],
    )];
    std::fs::write(dir.join("logs/pc.jsonl"), pc.join("\n") + "\n").unwrap();
    // An empty file loses nothing: the exit codes stay 0 and 1.
    std::fs::write(dir.join("logs/empty.log"), "").unwrap();
}

/// (exit code, matching rows).
fn search(dir: &Path, args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut a = vec!["search", "logs", "-q"];
    a.extend(args);
    let out = vigie(&a, dir);
    let rows = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", both(&out))))
        .collect();
    (out.status.code(), rows)
}

fn users(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            r["event"]["TargetUserName"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[test]
fn queries_find_what_they_say() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    // field:value, case-insensitive, AND; file order (paths sorted).
    let (code, rows) = search(dir, &["--query", "EventID:4625 TargetUserName:alice"]);
    assert_eq!(code, Some(0));
    assert_eq!(users(&rows), ["alice", "ALICE"]);
    let r = &rows[0];
    assert_eq!(r["computer"], "DC01.ccpab.local");
    assert_eq!(r["event_id"], 4625);
    assert_eq!(r["datetime"], "2026-01-10T02:00:00.000000Z");
    assert_eq!(r["source_locator"], "line=1");
    assert!(r["source_file"]
        .as_str()
        .unwrap()
        .ends_with("security.jsonl"));
    // Wildcards, negation, keywords, quoted values, modifiers.
    let (_, rows) = search(dir, &["--query", "TargetUserName:adm* -EventID:4624"]);
    assert_eq!(users(&rows), ["adm.tech01"]);
    assert_eq!(rows[0]["event_id"], 4625);
    let (_, rows) = search(dir, &["--query", "203.0.113.45"]);
    assert_eq!(rows.len(), 3, "keyword anywhere");
    let (_, rows) = search(dir, &["--query", r#"CommandLine:"*Admins du domaine*""#]);
    assert_eq!(rows.len(), 1);
    let (_, rows) = search(dir, &["--query", r#"NewProcessName|endswith:\net.exe"#]);
    assert_eq!(rows.len(), 1);
    let (_, rows) = search(dir, &["--query", "-IpAddress:203.0.113.45"]);
    assert_eq!(rows.len(), 2, "only negations: everything but");
    // Nothing matched: exit 1, like grep.
    let (code, rows) = search(dir, &["--query", "TargetUserName:bob"]);
    assert_eq!((code, rows.len()), (Some(1), 0));
}

#[test]
fn filters_limits_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let (_, rows) = search(
        dir,
        &[
            "--from",
            "2026-01-10T02:01:00Z",
            "--to",
            "2026-01-10T02:02:00Z",
        ],
    );
    assert_eq!(rows.len(), 2, "inclusive bounds");
    let (_, rows) = search(dir, &["--from", "2026-01-11"]);
    assert_eq!(rows.len(), 1);
    let (_, rows) = search(dir, &["--to", "2026-01-10"]);
    assert_eq!(rows.len(), 4, "a date as --to takes the whole day");
    // Times without a zone are in --timezone: 03:01 in Paris is 02:01 UTC.
    let (_, rows) = search(
        dir,
        &[
            "--from",
            "2026-01-10 03:01",
            "--timezone",
            "Europe/Paris",
            "--query",
            "EventID:4625",
        ],
    );
    assert_eq!(users(&rows), ["adm.tech01", "ALICE"]);
    let (_, rows) = search(dir, &["--host", "dc01", "--query", "EventID:4625"]);
    assert_eq!(users(&rows), ["alice", "adm.tech01"]);
    let (_, rows) = search(dir, &["--limit", "2"]);
    assert_eq!(rows.len(), 2);
    let out = vigie(
        &["search", "logs", "--query", "EventID:4625", "--count"],
        dir,
    );
    assert_eq!(stdout(&out).trim(), "3", "{}", both(&out));
    // Mistakes are named.
    for (args, named) in [
        (vec!["--query", "Image|nosuch:x"], "nosuch"),
        (vec!["--query", "\"open"], "not closed"),
        (vec!["--from", "yesterday"], "yesterday"),
        (
            vec!["--from", "2026-01-11", "--to", "2026-01-10"],
            "--from is after --to",
        ),
    ] {
        let mut a = vec!["search", "logs"];
        a.extend(args);
        let out = vigie(&a, dir);
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
        assert!(stderr(&out).contains(named), "{}", both(&out));
    }
}

#[test]
fn show_prints_the_event_behind_a_timeline_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    std::fs::write(
        dir.join("rule.yml"),
        "title: Net Group\nid: 9f1c4c1e-0000-4000-8000-000000000001\nlevel: high\n\
         logsource: {product: windows, service: security}\n\
         detection:\n  sel:\n    CommandLine|contains: 'net group'\n  condition: sel\n",
    )
    .unwrap();
    let out = vigie(
        &[
            "hunt",
            "logs",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rule.yml",
            "-q",
            "-o",
            "t.jsonl",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let row: Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("t.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let reference = format!(
        "{}#{}",
        row["source_file"].as_str().unwrap(),
        row["source_locator"].as_str().unwrap()
    );
    let out = vigie(
        &["show", &reference, "--manifest", "t.jsonl.manifest.json"],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let shown: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown["event"], row["event"], "the same event as the row's");
    assert!(stderr(&out).contains("matches the manifest"));
    // Two-argument form and the report's FILE:LINE form.
    let out = vigie(
        &[
            "show",
            row["source_file"].as_str().unwrap(),
            "line=4",
            "--compact",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
    let out = vigie(
        &[
            "show",
            &format!("{}:4", row["source_file"].as_str().unwrap()),
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    // No such event.
    let out = vigie(
        &[
            "show",
            &format!("{}#line=99", row["source_file"].as_str().unwrap()),
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no event at line=99"),
        "{}",
        both(&out)
    );
    // Evidence changed since the hunt: refused.
    let f = dir.join(row["source_file"].as_str().unwrap());
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push('\n');
    std::fs::write(&f, text).unwrap();
    let out = vigie(
        &["show", &reference, "--manifest", "t.jsonl.manifest.json"],
        dir,
    );
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("changed since the hunt"),
        "{}",
        both(&out)
    );
    assert!(stdout(&out).is_empty());
}
