//! End to end: `vigie demo` at the small scale, its scope checked against
//! the scenario's ground truth (written by the generator, independently of
//! the analysis).

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

fn names(v: &Value, key: &str, want: &str) -> BTreeSet<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["compromised"] == want)
        .map(|x| short(x["name"].as_str().unwrap()))
        .collect()
}

fn short(s: &str) -> String {
    s.split('.').next().unwrap().to_ascii_uppercase()
}

fn account(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Precision and recall of `found` against `truth`.
fn pr(found: &BTreeSet<String>, truth: &BTreeSet<String>) -> (f64, f64) {
    let tp = found.intersection(truth).count() as f64;
    (
        tp / found.len().max(1) as f64,
        tp / truth.len().max(1) as f64,
    )
}

#[test]
fn demo_answers_like_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["demo", "--quiet", "--lang", "en", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("report.html"), "{stdout}");

    let read = |p: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.path().join(p)).unwrap()).unwrap()
    };
    let scope = read("scope.json");
    let truth = read("scenario/ground-truth.json");

    // Nature: ransomware with data theft.
    let natures: Vec<&str> = scope["nature"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(natures.first(), Some(&"ransomware"), "{natures:?}");
    assert!(natures.contains(&"data_theft"), "{natures:?}");

    // Entry point: the provider's VPN account, from the attacker's address.
    let entry = &scope["entry_point"];
    assert_eq!(
        entry["account"].as_str().map(account),
        Some(account(truth["entry_point"]["account"].as_str().unwrap()))
    );
    assert_eq!(entry["source_address"], truth["entry_point"]["source_ip"]);

    // Compromised hosts and accounts: precision and recall ≥ 95 %.
    let true_hosts: BTreeSet<String> = ["compromised_hosts", "gpo_reached_hosts"]
        .iter()
        .flat_map(|k| {
            truth[*k]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| short(h.as_str().unwrap()))
        })
        .collect();
    let (p, r) = pr(&names(&scope, "hosts", "yes"), &true_hosts);
    assert!(p >= 0.95 && r >= 0.95, "hosts: precision {p}, recall {r}");
    let true_accounts: BTreeSet<String> = truth["compromised_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| account(a.as_str().unwrap()))
        .collect();
    let found_accounts: BTreeSet<String> = scope["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["compromised"] == "yes")
        .map(|a| account(a["name"].as_str().unwrap()))
        .collect();
    let (p, r) = pr(&found_accounts, &true_accounts);
    assert!(
        p >= 0.95 && r >= 0.95,
        "accounts: precision {p}, recall {r}: found {found_accounts:?}, true {true_accounts:?}"
    );

    // Exfiltrated data: the CIAS share, probably out, personal data.
    let share = truth["exfiltration"]["share"].as_str().unwrap();
    assert!(
        scope["data_exposure"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["store"] == share
                && d["probable_exfiltration"] == true
                && d["personal_data"] == true),
        "no probable exfiltration of {share}"
    );

    // Services: social action affected.
    let services = scope["services"].as_array().unwrap();
    assert!(
        services
            .iter()
            .any(|s| s["status"] != "unaffected" && s["status"] != "unknown"),
        "{services:?}"
    );

    // The isolated State station: not reached, with coverage as evidence.
    let tes = truth["isolated"]["host"].as_str().unwrap();
    let zone = scope["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| {
            z["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| short(h.as_str().unwrap()) == short(tes))
        })
        .expect("a zone holds the isolated host");
    assert_eq!(zone["status"], "not_reached", "{zone}");
    assert!(
        !zone["coverage"].as_array().unwrap().is_empty(),
        "not reached without coverage evidence: {zone}"
    );

    one_answer_in_terminal_scope_and_report(&stdout, &scope, dir.path());
}

/// The terminal, the scope and the report give one count, one start time
/// and the same host names (issue 11, item 7).
fn one_answer_in_terminal_scope_and_report(stdout: &str, scope: &Value, dir: &std::path::Path) {
    // The scope's total counts every timeline row, correlations included.
    let total = scope["detections"]["total"].as_u64().unwrap();
    let correlations = scope["detections"]["correlations"]
        .as_array()
        .unwrap()
        .len() as u64;
    let single = total - correlations;
    let rows = std::fs::read_to_string(dir.join("timeline.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(rows, total, "the timeline has one row per detection");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Detections: "))
        .expect(stdout);
    assert!(
        line.starts_with(&format!("Detections: {} (", thousands(total)))
            && line.ends_with(&format!(
                ": {} single-event and {correlations} correlations",
                thousands(single)
            )),
        "terminal {line:?}, scope {single} + {correlations}"
    );
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        text_of(&report).contains(&format!("{total} detections")),
        "the report counts {total} detections too"
    );
    // One start time: the entry point or the first malicious signal,
    // whichever is earlier, in the terminal and in the report.
    let time = |v: &Value| -> Option<chrono::DateTime<chrono::Utc>> { v.as_str()?.parse().ok() };
    let first = [
        time(&scope["attack_period"]["first"]),
        time(&scope["entry_point"]["time"]),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap();
    let shown = first.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let period = stdout
        .lines()
        .find(|l| l.starts_with("Attack period: "))
        .expect(stdout);
    assert!(
        period.starts_with(&format!("Attack period: {shown}")),
        "{period} vs {shown}"
    );
    let report_times: Vec<chrono::DateTime<chrono::Utc>> = report
        .split("datetime=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter_map(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .collect();
    assert!(
        report_times.contains(&first),
        "the report shows the attack's start {first}"
    );
    // Host names: the scope's, and no "-" host.
    let hosts: BTreeSet<&str> = scope["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    let top: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Top hosts:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert!(!top.is_empty(), "{stdout}");
    for h in top {
        assert!(hosts.contains(h), "terminal host {h} is a scope host");
    }
}

/// `12345` as the English terminal writes it: `12,345`.
fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The visible text of an HTML page, tags dropped, blanks collapsed.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn two_demos_in_one_directory_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["demo", "--quiet", "--lang", "en", "--dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let scope: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("scope.json")).unwrap()).unwrap();
    assert!(scope["detections"]["total"].as_u64().unwrap() > 0);
}
