//! Times through the scope, the report and the terminal, through the
//! binary: events dated at chrono's limits (year ±262,143) among ordinary
//! ones do not stop a hunt, and the start time the terminal, the report
//! and the scope's sentences give is one, in the chosen zone.

mod common;

use common::{both, jsonl, stderr, stdout, sysmon1_on, whoami_case, whoami_hunt};

const WHOAMI: &str = r"C:\\Windows\\System32\\whoami.exe";

/// A whoami process creation in the flat layout with a numeric
/// `@timestamp` (milliseconds), as some collectors write it.
fn flat_whoami(ms: i64, computer: &str) -> String {
    serde_json::json!({
        "@timestamp": ms,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "EventID": 1,
        "Computer": computer,
        "Image": r"C:\Windows\System32\whoami.exe",
        "CommandLine": "whoami /all",
        "User": r"CCPAB\presta.maint",
        "ParentImage": r"C:\Windows\explorer.exe",
    })
    .to_string()
}

#[test]
fn events_at_chronos_limits_do_not_stop_the_hunt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    const MAX_MS: i64 = 8_210_266_876_799_999;
    whoami_case(
        dir,
        &[
            sysmon1_on(1, "2026-01-10T02:30:00Z", WHOAMI, "PC-01"),
            flat_whoami(MAX_MS, "PC-MAX"),
            flat_whoami(-MAX_MS, "PC-MIN"),
            flat_whoami(MAX_MS - 1, "PC-MAX"),
            sysmon1_on(2, "+262142-12-31T23:59:59Z", WHOAMI, "PC-MAX"),
            sysmon1_on(3, "-262143-01-01T00:00:00Z", WHOAMI, "PC-MIN"),
            sysmon1_on(4, "2026-01-10T02:35:00Z", WHOAMI, "PC-01"),
        ],
    );
    for zone in [
        "UTC",
        "Europe/Paris",
        "Pacific/Kiritimati",
        "America/Los_Angeles",
    ] {
        for lang in ["fr", "en"] {
            let out = whoami_hunt(
                dir,
                "logs",
                &[
                    "--timezone",
                    zone,
                    "--lang",
                    lang,
                    "-o",
                    "t.jsonl",
                    "--report",
                    "r.html",
                    "--scope",
                    "s.json",
                    "--navigator",
                    "n.json",
                ],
            );
            let what = format!("{zone} {lang}: {}", both(&out));
            assert!(!stderr(&out).contains("panicked"), "{what}");
            // Detections, whether or not the odd dates count as a partial
            // read (exit 4).
            assert!(matches!(out.status.code(), Some(1 | 4)), "{what}");
            let rows = jsonl(&dir.join("t.jsonl"));
            let normal: Vec<&str> = rows
                .iter()
                .filter(|r| r["computer"] == "PC-01")
                .filter_map(|r| r["datetime"].as_str())
                .collect();
            assert_eq!(
                normal,
                ["2026-01-10T02:30:00.000000Z", "2026-01-10T02:35:00.000000Z"],
                "{what}"
            );
            assert!(rows.iter().any(|r| r["computer"] == "PC-MAX"), "{what}");
            let scope: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap())
                    .unwrap();
            assert!(scope["hosts"].as_array().unwrap().len() >= 3, "{what}");
            let report = std::fs::read_to_string(dir.join("r.html")).unwrap();
            assert!(
                report.contains("PC-01") && report.len() < 5_000_000,
                "{what}"
            );
            assert!(stdout(&out).contains("PC-01"), "{what}");
        }
    }
}
