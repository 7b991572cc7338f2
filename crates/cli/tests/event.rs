//! The whole event in the timeline: the JSONL `event` object, the CSV key
//! columns and `other_fields`, details beyond the matched fields, and
//! correlation rows naming the hosts and accounts of their events.

mod common;

use std::path::Path;

use common::{both, jsonl, security, vigie};

const DSRM_RULE: &str = r#"
title: DSRM Password Changed
id: 53ad8e36-f573-46bf-97e4-15ba5bf4bb51
status: test
level: high
tags: [attack.persistence, attack.t1098]
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4794
    condition: selection
"#;

const SPRAY_RULES: &str = r#"
title: Failed Logon
id: 11111111-1111-4111-8111-111111111111
name: failed_logon
level: low
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Same Account Failing on Several Hosts
id: 22222222-2222-4222-8222-222222222222
level: high
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [TargetUserName]
    timespan: 10m
    condition: {gte: 3}
    generate: true
"#;

fn fixtures(dir: &Path) {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("dsrm.yml"), DSRM_RULE).unwrap();
    std::fs::write(dir.join("spray.yml"), SPRAY_RULES).unwrap();
    let mut lines = vec![security(
        "2026-01-10T02:30:00Z",
        4794,
        "DC01.ccpab.local",
        &[
            ("SubjectUserSid", "S-1-5-21-1-2-3-500"),
            ("SubjectUserName", "admin"),
            ("SubjectDomainName", "CCPAB"),
            ("SubjectLogonId", "0x3e7"),
            ("Workstation", "PC-07"),
            ("Status", "0x0"),
        ],
    )];
    for (i, host) in ["SRV-01", "SRV-02", "SRV-02"].iter().enumerate() {
        lines.push(security(
            &format!("2026-01-10T03:0{i}:00Z"),
            4625,
            host,
            &[
                ("TargetUserName", "alice"),
                ("TargetDomainName", "CCPAB"),
                ("IpAddress", "10.0.0.66"),
                ("SubjectUserName", "-"),
            ],
        ));
    }
    std::fs::write(dir.join("logs/security.jsonl"), lines.join("\n") + "\n").unwrap();
}

fn hunt(dir: &Path, out: &str) -> Vec<serde_json::Value> {
    let o = vigie(
        &[
            "hunt",
            "logs",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "dsrm.yml",
            "--rules",
            "spray.yml",
            "-q",
            "-o",
            out,
        ],
        dir,
    );
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    if out.ends_with(".csv") {
        return Vec::new();
    }
    jsonl(&dir.join(out))
}

#[test]
fn jsonl_rows_carry_the_whole_event() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let rows = hunt(dir, "t.jsonl");
    let dsrm = rows
        .iter()
        .find(|r| r["rule_title"] == "DSRM Password Changed")
        .unwrap();
    let ev = &dsrm["event"];
    assert_eq!(ev["EventID"], 4794);
    assert_eq!(ev["SubjectUserName"], "admin");
    assert_eq!(ev["Workstation"], "PC-07");
    assert_eq!(ev["SubjectLogonId"], "0x3e7");
    assert_eq!(dsrm["user"], "CCPAB\\admin");
    assert_eq!(dsrm["source_address"], "PC-07");
    // Details: why it matched, then who and from where.
    let details = dsrm["details"].as_str().unwrap();
    assert!(details.starts_with("EventID=4794"), "{details}");
    assert!(
        details.contains("SubjectUserName=admin") && details.contains("Workstation=PC-07"),
        "{details}"
    );
    // Every row has an event object; the failed logons name their target.
    assert!(rows.iter().all(|r| r["event"].is_object()));
    let failed = rows
        .iter()
        .find(|r| r["rule_title"] == "Failed Logon")
        .unwrap();
    assert_eq!(failed["target_user"], "CCPAB\\alice");
    assert_eq!(failed["source_address"], "10.0.0.66");
    assert_eq!(failed["user"], "", "'-' is no user");
}

#[test]
fn correlation_rows_name_the_hosts_and_accounts_of_their_events() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let rows = hunt(dir, "t.jsonl");
    let c = rows
        .iter()
        .find(|r| r["kind"] == "correlation")
        .expect("the correlation fired");
    assert_eq!(c["computer"], "SRV-01, SRV-02", "{c}");
    assert_eq!(c["user"], "CCPAB\\alice", "{c}");
    assert_eq!(c["event"]["hosts"], serde_json::json!(["SRV-01", "SRV-02"]));
    assert_eq!(c["event"]["group_by"]["TargetUserName"], "alice");
    assert_eq!(c["event"]["value"], 3.0);
}

#[test]
fn csv_rows_have_the_key_columns_and_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    hunt(dir, "t.csv");
    let mut r = csv::Reader::from_path(dir.join("t.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    for col in [
        "details",
        "user",
        "target_user",
        "process",
        "command_line",
        "parent_process",
        "source_address",
        "target",
        "other_fields",
    ] {
        assert!(header.iter().any(|h| h == col), "{col} in {header:?}");
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let dsrm = rows
        .iter()
        .find(|x| &x[col("rule_title")] == "DSRM Password Changed")
        .unwrap();
    assert_eq!(&dsrm[col("user")], "CCPAB\\admin");
    let others = &dsrm[col("other_fields")];
    assert!(
        others.contains("SubjectLogonId: 0x3e7") && others.contains("Status: 0x0"),
        "{others}"
    );
    assert!(
        !others.contains("SubjectUserName") && !others.contains("Workstation"),
        "fields shown in their own columns are not repeated: {others}"
    );
}
