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
        .args(["demo", "--quiet", "--dir"])
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
}
