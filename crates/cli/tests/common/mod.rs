//! Helpers shared by the command-line tests: running the binary, and
//! writing small log fixtures (flat JSON Lines, as NXLog and Winlogbeat
//! flatteners write Windows events).

#![allow(dead_code)]

pub mod alerts;
pub mod console;
pub mod serve;
pub mod server;

use std::path::Path;
use std::process::{Command, Output};

/// Writes a configuration file holding a secret (an alert webhook's URL,
/// a password) as an administrator must: mode 0600 — `vigie serve`
/// refuses it readable by others.
pub fn write_private(path: &Path, text: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Runs `vigie` in `dir`, in an English locale (tests that check French
/// say so).
pub fn vigie(args: &[&str], dir: &Path) -> Output {
    vigie_env(args, dir, &[("LC_ALL", "C.UTF-8")])
}

/// Runs `vigie` with extra environment variables.
pub fn vigie_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
    c.args(args).current_dir(dir);
    for k in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Both streams, for assertion messages.
pub fn both(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

/// A rule firing on `whoami.exe` process creations.
pub const WHOAMI_RULE: &str = r#"
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

/// A Sysmon process creation (evtx_dump JSON layout), one line.
pub fn sysmon1(record: u64, time: &str, image: &str) -> String {
    sysmon1_on(record, time, image, "PC-01.ccpab.local")
}

/// [`sysmon1`] on a given computer (a JSON string value, escaped here).
pub fn sysmon1_on(record: u64, time: &str, image: &str, computer: &str) -> String {
    let computer = serde_json::to_string(computer).unwrap();
    format!(
        r##"{{"Event":{{"System":{{"Provider":{{"#attributes":{{"Name":"Microsoft-Windows-Sysmon"}}}},"EventID":1,"TimeCreated":{{"#attributes":{{"SystemTime":"{time}"}}}},"EventRecordID":{record},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":{computer}}},"EventData":{{"Image":"{image}","CommandLine":"x","User":"CCPAB\\presta.maint","ParentImage":"C:\\Windows\\explorer.exe"}}}}}}"##
    )
}

/// A Windows Security event in the flat layout, one line.
pub fn security(time: &str, event_id: u32, computer: &str, fields: &[(&str, &str)]) -> String {
    let mut m = serde_json::Map::new();
    m.insert("@timestamp".into(), time.into());
    m.insert("Channel".into(), "Security".into());
    m.insert(
        "Provider_Name".into(),
        "Microsoft-Windows-Security-Auditing".into(),
    );
    m.insert("EventID".into(), event_id.into());
    m.insert("Computer".into(), computer.into());
    for (k, v) in fields {
        m.insert((*k).into(), (*v).into());
    }
    serde_json::Value::Object(m).to_string()
}

/// JSON Lines rows of a file.
pub fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The files directly in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Hex SHA-256 of a file.
pub fn sha256(path: &Path) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(std::fs::read(path).unwrap());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `whoami.yml` and `logs/a.jsonl` (the given lines) in `dir`.
pub fn whoami_case(dir: &Path, lines: &[String]) {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("whoami.yml"), WHOAMI_RULE).unwrap();
    std::fs::write(dir.join("logs/a.jsonl"), lines.join("\n") + "\n").unwrap();
}

/// `vigie hunt PATH` with the whoami rule alone, then `extra`.
pub fn whoami_hunt(dir: &Path, path: &str, extra: &[&str]) -> Output {
    let mut a = vec![
        "hunt",
        path,
        "--no-builtin",
        "--no-sigmahq",
        "--rules",
        "whoami.yml",
    ];
    a.extend(extra);
    vigie(&a, dir)
}

/// The audit log of a data directory as JSON Lines (from its `state.db`,
/// as `vigie audit verify` and the export read it).
pub fn audit_text(data: &Path) -> String {
    use vigie_console::audit::AuditLog;
    let log = vigie_state::SqliteAudit::open(data).unwrap();
    String::from_utf8(log.read().unwrap()).unwrap()
}

/// The crisis journal of a data directory, each record as the former
/// `crisis.jsonl` line (`{"tenant": …, "record": …}`), in order.
pub fn crisis_lines(data: &Path) -> Vec<serde_json::Value> {
    let c = rusqlite::Connection::open(data.join("state.db")).unwrap();
    let mut st = c
        .prepare("SELECT tenant, doc FROM crisis_records ORDER BY seq")
        .unwrap();
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap();
    rows.map(|r| {
        let (tenant, doc) = r.unwrap();
        serde_json::json!({"tenant": tenant, "record": serde_json::from_str::<serde_json::Value>(&doc).unwrap()})
    })
    .collect()
}
