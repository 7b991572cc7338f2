//! The assets file as hostile input, through the binary: a deeply nested
//! file is refused at once naming the file and the line, 20,000 problems
//! are a bounded list with their places (values clipped, control
//! characters escaped), and thousands of host patterns are matched
//! against thousands of hosts with the first matching entry winning.
//! Inputs are built at test time.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{both, stderr, sysmon1_on, whoami_case, whoami_hunt};

const WHOAMI: &str = r"C:\\Windows\\System32\\whoami.exe";

fn one_event(dir: &Path) {
    whoami_case(
        dir,
        &[sysmon1_on(1, "2026-01-10T02:30:00Z", WHOAMI, "PC-01")],
    );
}

#[test]
fn a_deeply_nested_assets_file_is_refused_with_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    one_event(dir);
    // ~195 KB of flow nesting (the parser took 21 s on it), then a block
    // sequence nested by indentation, then `- - - …` on one line.
    let flow = format!("hosts: {}{}\n", "[".repeat(97_000), "]".repeat(97_000));
    let mut block = String::from("zones:\n  - name: z\nhosts:\n");
    for i in 0..5_000 {
        block.push_str(&" ".repeat(i + 2));
        block.push_str("- \n");
    }
    let dashes = format!("{}x\n", "- ".repeat(50_000));
    for (name, text, line) in [
        ("flow.yml", flow, "line 1:"),
        ("block.yml", block, "line 66:"),
        ("dashes.yml", dashes, "line 1:"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
        let out = whoami_hunt(dir, "logs", &["--assets", name]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", both(&out));
        let err = stderr(&out);
        assert!(
            err.contains(name) && err.contains(line) && err.contains("nested more than 64"),
            "{name}: {err}"
        );
        assert!(err.len() < 400, "{name}: {} bytes of message", err.len());
    }
}

#[test]
fn twenty_thousand_problems_are_a_bounded_list_with_places() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    one_event(dir);
    let mut y = String::from("zones: [{name: core}]\nhosts:\n");
    for i in 0..20_000 {
        // A terminal escape (clear screen) and a 400-character value in
        // every entry.
        writeln!(
            y,
            "  - {{name: \"H{i}\\e[2J{}\", zone: nowhere{i}}}",
            "x".repeat(400)
        )
        .unwrap();
    }
    std::fs::write(dir.join("assets.yml"), y).unwrap();
    let out = whoami_hunt(dir, "logs", &["--assets", "assets.yml", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let err = stderr(&out);
    assert!(
        err.contains("assets.yml") && err.contains("20000 problems"),
        "{err}"
    );
    assert!(err.contains("hosts[0] 'H0\\u{1b}[2Jxxx"), "{err}");
    assert!(err.contains("zone 'nowhere19' is not in zones"), "{err}");
    assert!(!err.contains("nowhere20'"), "only 20 listed: {err}");
    assert!(err.contains("… and 19980 more"), "{err}");
    assert!(!err.contains('\u{1b}'), "control character reached stderr");
    assert!(err.len() < 5_000, "{} bytes of message", err.len());
    assert!(err.lines().all(|l| l.chars().count() < 200), "{err}");
}

#[test]
fn an_oversized_or_endless_assets_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    one_event(dir);
    let big = format!("organisation: '{}'\n", "x".repeat(17 * 1024 * 1024));
    std::fs::write(dir.join("big.yml"), big).unwrap();
    for (name, said) in [
        ("big.yml", "larger than 16 MiB"),
        ("/dev/zero", "not a regular file"),
    ] {
        let out = whoami_hunt(dir, "logs", &["--assets", name]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", both(&out));
        let err = stderr(&out);
        assert!(err.contains(name) && err.contains(said), "{name}: {err}");
    }
}

#[test]
fn thousands_of_patterns_match_thousands_of_hosts_first_entry_winning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    const HOSTS: usize = 2_000;
    let lines: Vec<String> = (0..HOSTS)
        .map(|i| {
            sysmon1_on(
                i as u64 + 1,
                &format!("2026-01-10T02:{:02}:{:02}Z", i / 60 % 60, i % 60),
                WHOAMI,
                &format!("HOST-{i:05}.ccpab.local"),
            )
        })
        .collect();
    whoami_case(dir, &lines);
    // 10,000 entries: exact names and patterns of other hosts, then an
    // exact entry (by FQDN) for HOST-00007, patterns for HOST-0001?, and
    // a catch-all last. The first matching entry wins.
    let mut y =
        String::from("zones: [{name: other}, {name: fqdn}, {name: tens}, {name: rest}]\nhosts:\n");
    for i in 0..10_000 {
        if i % 2 == 0 {
            writeln!(y, "  - {{name: 'SRV-{i:05}', zone: other}}").unwrap();
        } else {
            writeln!(y, "  - {{name: 'WS-{i:05}-*', zone: other}}").unwrap();
        }
    }
    y.push_str("  - {name: host-00007.CCPAB.local, zone: fqdn}\n");
    y.push_str("  - {name: 'HOST-0001?', zone: tens}\n");
    y.push_str("  - {name: 'HOST-*', zone: rest}\n");
    y.push_str("  - {name: 'HOST-00012', zone: other}\n");
    std::fs::write(dir.join("assets.yml"), y).unwrap();
    let out = whoami_hunt(
        dir,
        "logs",
        &["--assets", "assets.yml", "--scope", "scope.json", "-q"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let scope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scope.json")).unwrap()).unwrap();
    let hosts = scope["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), HOSTS);
    let zone = |name: &str| {
        hosts
            .iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("{name} in the scope"))["zone"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(zone("HOST-00007").as_deref(), Some("fqdn"));
    assert_eq!(zone("HOST-00012").as_deref(), Some("tens"));
    assert_eq!(zone("HOST-00019").as_deref(), Some("tens"));
    assert_eq!(zone("HOST-00020").as_deref(), Some("rest"));
    assert_eq!(zone("HOST-01999").as_deref(), Some("rest"));
}
