//! The console's rules, sources and audit pages through the binary, with
//! the demo's logs sent as a shipper sends them:
//!
//! - `/api/v1/rules` lists the rules in force; an administrator turns one
//!   off with a reason (a read token cannot; no reason is refused); the
//!   same kind of event sent again fires nothing of that rule while
//!   another rule still fires; turned on again, it fires again; both acts
//!   are in the audit log with who and why;
//! - `/rules`, `/sources` and `/audit` answer a signed-in administrator
//!   with their content; `/audit` is refused to a `viewer`.

mod common;

use std::time::{Duration, Instant};

use common::console::*;
use serde_json::Value;

/// The detections stored whose record id is in `records`, waiting until
/// `expected` of them are there (or the time is up: then what is there).
fn detections_of(base: &str, read: &str, records: &[u64], expected: usize) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let all = http(
            base,
            "GET",
            "/api/v1/detections?limit=10000",
            &[("Authorization", read)],
            None,
        )
        .json();
        let found: Vec<Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| {
                x["record_id"]
                    .as_u64()
                    .is_some_and(|r| records.contains(&r))
            })
            .cloned()
            .collect();
        if found.len() >= expected || Instant::now() > until {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn switch(base: &str, auth: &str, rule: &str, body: &str) -> Resp {
    http(
        base,
        "POST",
        &format!("/api/v1/rules/{rule}/switch"),
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    )
}

fn send(base: &str, ingest: &str, lines: &[String]) {
    let body = lines.join("\n") + "\n";
    let r = http(
        base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", ingest)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.json()["accepted"], lines.len(), "{}", r.body);
}

#[test]
fn a_rule_turned_off_fires_no_more_and_again_once_turned_on() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_server(tmp.path());
    let base = demo.server.base.clone();

    let rules = http(
        &base,
        "GET",
        "/api/v1/rules",
        &[("Authorization", &demo.read)],
        None,
    );
    assert_eq!(rules.status, 200, "{}", rules.body);
    let rules = rules.json();
    let in_force = rules["in_force"].as_u64().unwrap();
    assert!(in_force > 100, "{in_force} rules in force");
    assert_eq!(rules["rules"].as_array().unwrap().len() as u64, in_force);
    assert!(rules["disabled"].as_array().unwrap().is_empty());

    // Two rules that fired on the demo's events, on one host.
    let all = http(
        &base,
        "GET",
        "/api/v1/detections?limit=10000",
        &[("Authorization", &demo.read)],
        None,
    )
    .json();
    let all = all.as_array().unwrap();
    let single = |d: &&Value| d["kind"] == "detection" && d["rule_id"].is_string();
    let off = all.iter().find(single).expect("a detection").clone();
    let other = all
        .iter()
        .filter(single)
        .find(|d| d["rule_id"] != off["rule_id"] && d["computer"] == off["computer"])
        .expect("another rule on that host")
        .clone();
    let rule = off["rule_id"].as_str().unwrap().to_string();
    assert!(
        rules["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == rule.as_str()),
        "the rule that fired is listed in force"
    );

    // Who may, and with what.
    assert_eq!(
        switch(
            &base,
            &demo.read,
            &rule,
            r#"{"enabled":false,"reason":"bruit"}"#
        )
        .status,
        403
    );
    let r = switch(
        &base,
        &demo.admin,
        &rule,
        r#"{"enabled":false,"reason":"  "}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        switch(
            &base,
            &demo.admin,
            "no-such-rule",
            r#"{"enabled":false,"reason":"x"}"#
        )
        .status,
        404
    );
    let reason = "Bruit de la sauvegarde nocturne, vu avec le prestataire";
    let r = switch(
        &base,
        &demo.admin,
        &rule,
        &serde_json::json!({"enabled": false, "reason": reason}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["changed"], true);
    let rules = http(
        &base,
        "GET",
        "/api/v1/rules",
        &[("Authorization", &demo.read)],
        None,
    )
    .json();
    assert_eq!(rules["disabled"][0]["rule"], rule.as_str());
    assert_eq!(rules["disabled"][0]["reason"], reason);
    assert_eq!(rules["in_force"].as_u64().unwrap(), in_force - 1);

    // The same kinds of event again: only the other rule fires.
    send(
        &base,
        &demo.ingest,
        &[
            again(&base, &demo.read, &off, 910_001),
            again(&base, &demo.read, &other, 910_002),
        ],
    );
    let new = detections_of(&base, &demo.read, &[910_001, 910_002], 2);
    let rules_fired: Vec<&str> = new.iter().filter_map(|d| d["rule_id"].as_str()).collect();
    assert!(
        rules_fired.contains(&other["rule_id"].as_str().unwrap()),
        "{rules_fired:?}"
    );
    assert!(
        !rules_fired.contains(&rule.as_str()),
        "a rule turned off fired: {rules_fired:?}"
    );

    // Turned on again: it fires again.
    let r = switch(
        &base,
        &demo.admin,
        &rule,
        r#"{"enabled":true,"reason":"sauvegarde déplacée"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    send(
        &base,
        &demo.ingest,
        &[again(&base, &demo.read, &off, 910_003)],
    );
    let new = detections_of(&base, &demo.read, &[910_003], 1);
    assert!(new.iter().any(|d| d["rule_id"] == rule.as_str()), "{new:?}");

    // Audited with who and why.
    let audit = http(
        &base,
        "GET",
        "/api/v1/audit",
        &[("Authorization", &demo.admin)],
        None,
    );
    let lines: Vec<Value> = audit
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let off_line = lines
        .iter()
        .find(|l| l["action"] == "rule_disable")
        .expect("rule_disable audited");
    assert!(off_line["target"].as_str().unwrap().contains(reason));
    assert!(!off_line["who"].as_str().unwrap().is_empty());
    assert!(lines.iter().any(|l| l["action"] == "rule_enable"));

    // The pages, for a person signed in.
    let anne = signed_in(&base, ANNE, ANNE_PW, &code(&demo.anne));
    let page = |p: &Person, path: &str| {
        http(
            &base,
            "GET",
            path,
            &[("Cookie", &p.cookie), ("Accept", "text/html")],
            None,
        )
    };
    let r = page(&anne, "/rules?q=ransom");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"rules-summary\""));
    // The count in force is the sum of its parts.
    let summary = &r.body[r.body.find("id=\"rules-summary\"").unwrap()..];
    let summary = &summary[summary.find("<p>").unwrap()..];
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .take(3)
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(
        numbers[0],
        numbers[1] + numbers[2],
        "{}",
        &summary[..300.min(summary.len())]
    );
    assert!(
        r.body.contains("Ransom Note With a French Name Created"),
        "the search finds the demo's rule"
    );
    assert!(r.body.contains("Désactivées") || r.body.contains("rules-in-force"));
    let r = page(&anne, "/sources");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"channels\""), "{}", r.body);
    assert!(
        r.body
            .to_lowercase()
            .contains(&off["computer"].as_str().unwrap().to_lowercase()),
        "the demo's host is listed among the sources"
    );
    let r = page(&anne, "/audit");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"audit-chain\""));
    assert!(r.body.contains("rule_disable"));
    assert!(
        r.body.contains("tone-green\" id=\"audit-chain\""),
        "the chain holds"
    );

    add_user(&demo.data, VERA, "viewer", VERA_PW);
    let vera = signed_in(&base, VERA, VERA_PW, "");
    assert_eq!(page(&vera, "/audit").status, 403);
    assert_eq!(page(&vera, "/rules").status, 200);
    assert!(
        !page(&vera, "/rules").body.contains("/switch\""),
        "a viewer gets no form to turn a rule off"
    );
}

/// The edges of a switch: the last rule in force is not turned off for
/// every tenant (409, said, nothing kept: the server would detect
/// nothing); a commune does not turn on for itself a rule the deployment
/// turned off, even by lifting its own switch of it (409, never
/// `changed: true` while the rule stays off).
#[test]
fn the_last_rule_stays_and_a_commune_cannot_lift_the_deployments_switch() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    std::fs::write(tmp.path().join("whoami.yml"), common::WHOAMI_RULE).unwrap();
    let notepad = common::WHOAMI_RULE
        .replace("5d2a9b8e-1111", "5d2a9b8e-2222")
        .replace("Whoami", "Notepad")
        .replace("whoami.exe", "notepad.exe");
    std::fs::write(tmp.path().join("notepad.yml"), notepad).unwrap();
    let server = start_with(
        &data,
        &[
            "--no-builtin".as_ref(),
            "--no-sigmahq".as_ref(),
            "--rules".as_ref(),
            tmp.path().join("whoami.yml").as_os_str(),
            "--rules".as_ref(),
            tmp.path().join("notepad.yml").as_os_str(),
        ],
    );
    let base = &server.base;
    let (whoami, notepad) = (
        "5d2a9b8e-1111-4c3b-9a55-0a1b2c3d4e5f",
        "5d2a9b8e-2222-4c3b-9a55-0a1b2c3d4e5f",
    );
    let r = switch(
        base,
        &admin,
        notepad,
        r#"{"enabled":false,"reason":"bruit"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // The last one in force: refused, and still in force.
    let r = switch(
        base,
        &admin,
        whoami,
        r#"{"enabled":false,"reason":"bruit"}"#,
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("only rule in force"), "{}", r.body);
    let rules = get_json(base, "/api/v1/rules", &admin);
    assert_eq!(rules["in_force"], 1, "{rules}");
    assert_eq!(rules["disabled"].as_array().unwrap().len(), 1, "{rules}");
    // For one commune it may be turned off (the others still judge).
    let r = switch(
        base,
        &admin,
        whoami,
        r#"{"enabled":false,"reason":"inventaire","tenant":"mairie-b"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A commune's own switch of a rule off for everyone: kept; lifting it
    // does not turn the rule on for the commune: 409, as turning it on.
    let r = switch(
        base,
        &admin,
        notepad,
        r#"{"enabled":false,"reason":"aussi","tenant":"mairie-b"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for tenant in ["mairie-b", "mairie-c"] {
        let r = switch(
            base,
            &admin,
            notepad,
            &serde_json::json!({"enabled": true, "reason": "besoin", "tenant": tenant}).to_string(),
        );
        assert_eq!(r.status, 409, "{tenant}: {}", r.body);
        assert!(r.body.contains("cannot turn it on"), "{}", r.body);
    }
}
