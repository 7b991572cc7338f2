//! The report on a scope produced by the real scope stage (not a
//! hand-built one): a few Windows events, two of them matched by rules,
//! one carrying a hostile command line, go through `vigie_scope::Observer`
//! and the resulting scope is rendered.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use vigie_detect::{Level, LogSource, Match, MatchedField, RuleKind, RuleMeta};
use vigie_event::{Event, Locator, Origin, Timestamp};
use vigie_report::{render_html, DetectionRow, SECTIONS};
use vigie_scope::{Assets, Observer, Scope};

fn at(h: u32, m: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 13, h, m, 0).unwrap()
}

fn event(
    host: &str,
    channel: &str,
    id: u32,
    record: u64,
    time: Timestamp,
    fields: &[(&str, &str)],
) -> Event {
    let mut e = Event::new(Origin {
        source: Arc::from(format!("{host}-{id}.evtx")),
        locator: Locator::Record(record),
    });
    e.timestamp = Some(time);
    e.computer = Some(format!("{host}.ccpab.local").into());
    e.channel = Some(channel.into());
    e.event_id = Some(id);
    e.record_id = Some(record);
    e.push("EventID", id as i64);
    e.push("Channel", channel);
    e.push("Computer", format!("{host}.ccpab.local"));
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e
}

fn rule(title: &str, level: Level, tags: &[&str]) -> Arc<RuleMeta> {
    Arc::new(RuleMeta {
        id: Some(format!("{:08x}-0000-4000-8000-000000000000", title.len())),
        name: None,
        title: title.into(),
        kind: RuleKind::Detection,
        level: Some(level),
        status: Some("test".into()),
        description: None,
        author: None,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        references: vec![],
        falsepositives: vec![],
        logsource: LogSource {
            product: Some("windows".into()),
            category: Some("process_creation".into()),
            service: None,
        },
        path: PathBuf::from("rules/test.yml"),
    })
}

fn matched(rule: Arc<RuleMeta>, field: &str, value: &str) -> Match {
    Match {
        rule,
        matched: vec![MatchedField {
            selection: "selection".into(),
            field: Some(field.into()),
            value: value.into(),
        }],
        correlation_values: vec![],
        generate: true,
    }
}

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
const HOSTILE_CMD: &str = r#"rclone.exe copy D:\Partages\CIAS mega:x "</code><script>document.documentElement.setAttribute('data-pwned','1')</script>""#;

fn scope_and_rows() -> (Scope, Vec<DetectionRow>) {
    let mut obs = Observer::new(Arc::new(Assets::default()));
    let mut rows = Vec::new();
    // Ordinary activity.
    for (i, h) in [7, 8, 9, 10].into_iter().enumerate() {
        let e = event(
            "SRV-FIC01",
            "Security",
            4624,
            100 + i as u64,
            at(h, 5),
            &[
                ("TargetUserName", "marie.dupont"),
                ("LogonType", "3"),
                ("IpAddress", "10.10.2.15"),
            ],
        );
        obs.observe(&e, &[]);
    }
    // Two detections, one with an attacker-controlled command line.
    let rclone = rule(
        "PUA - Rclone Execution",
        Level::High,
        &["attack.exfiltration", "attack.t1567.002"],
    );
    let e = event(
        "SRV-FIC01",
        SYSMON,
        1,
        900,
        at(22, 40),
        &[
            ("Image", r"C:\ProgramData\rclone.exe"),
            ("CommandLine", HOSTILE_CMD),
            ("User", r"CCPAB\svc_sauvegarde"),
            ("ProcessId", "912"),
            ("ParentImage", r"C:\Windows\System32\cmd.exe"),
        ],
    );
    let m = matched(rclone, "CommandLine", HOSTILE_CMD);
    obs.observe(&e, std::slice::from_ref(&m));
    rows.push(DetectionRow {
        account: Some("svc_sauvegarde".into()),
        ..DetectionRow::from_rule(
            &m.rule,
            e.timestamp,
            e.computer.as_deref(),
            format!("CommandLine={HOSTILE_CMD}"),
            e.origin.to_string(),
        )
    });
    let vss = rule(
        "Shadow Copies Deletion Using Operating Systems Utilities",
        Level::Critical,
        &["attack.impact", "attack.t1490"],
    );
    let cmd = "vssadmin delete shadows /all /quiet";
    let e = event(
        "SRV-FIC01",
        SYSMON,
        1,
        901,
        at(23, 59),
        &[
            ("Image", r"C:\Windows\System32\vssadmin.exe"),
            ("CommandLine", cmd),
            ("User", "NT AUTHORITY\\SYSTEM"),
        ],
    );
    let m = matched(vss, "CommandLine", cmd);
    obs.observe(&e, std::slice::from_ref(&m));
    rows.push(DetectionRow {
        time: e.timestamp,
        level: m.rule.level,
        rule_title: m.rule.title.clone(),
        computer: Some("srv-fic01.ccpab.local".into()),
        details: format!("CommandLine={cmd}"),
        source: e.origin.to_string(),
        ..DetectionRow::default()
    });
    (obs.finish(&[], vigie_scope::Lang::En), rows)
}

#[test]
fn a_real_scope_renders_with_every_section_and_no_injection() {
    let (scope, rows) = scope_and_rows();
    // The scope stage saw the attack on SRV-FIC01.
    assert!(scope.hosts.iter().any(|h| h.name == "SRV-FIC01"));
    assert_eq!(scope.detections.total, 2);
    let html = render_html(&scope, &rows);
    if let Ok(dir) = std::env::var("VIGIE_KEEP_REPORT") {
        std::fs::write(std::path::Path::new(&dir).join("pipeline.html"), &html).unwrap();
    }
    for id in SECTIONS {
        assert!(html.contains(&format!(r#"id="{id}""#)), "#{id}");
    }
    // The hostile command line is shown, escaped, and never as markup.
    assert!(html.contains("&lt;/code&gt;&lt;script&gt;document.documentElement"));
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("Shadow Copies Deletion Using Operating Systems Utilities"));
    // Round trip through the JSON contract (`--scope FILE.json`) gives the same page.
    let back = Scope::from_json(&scope.to_json()).unwrap();
    assert_eq!(render_html(&back, &rows), html);
}

#[test]
fn an_empty_scope_still_renders_and_says_so() {
    let scope = Observer::new(Arc::new(Assets::default())).finish(&[], vigie_scope::Lang::En);
    let html = render_html(&scope, &[]);
    for id in SECTIONS {
        assert!(html.contains(&format!(r#"id="{id}""#)), "#{id}");
    }
    // Nothing read is not "no attack": a grey banner that says so, never
    // the green one.
    assert!(html.contains("Nothing could be analysed"));
    assert!(html.contains(r#"data-assessment="nothing_found_with_gaps""#));
    assert!(!html.contains("No sign of attack in the logs analysed"));
    assert!(!html.contains(r#"class="card answer tone-green""#));
    assert!(html.contains("No timed detections to chart."));
    assert!(html.contains("No ATT&amp;CK technique was identified."));
}

/// Ordinary activity fully read, nothing detected: the one case where the
/// banner is green. The same activity with a cleared log is not.
#[test]
fn green_only_when_coverage_supports_it() {
    let mut obs = Observer::new(Arc::new(Assets::default()));
    for (i, h) in [7, 8, 9, 10].into_iter().enumerate() {
        let e = event(
            "SRV-FIC01",
            "Security",
            4624,
            100 + i as u64,
            at(h, 5),
            &[("TargetUserName", "marie.dupont"), ("LogonType", "3")],
        );
        obs.observe(&e, &[]);
    }
    let scope = obs.finish(&[], vigie_lang::Lang::En);
    let html = render_html(&scope, &[]);
    if scope.caveats.is_empty() {
        assert!(
            html.contains(r#"data-assessment="nothing_found""#),
            "{:?}",
            scope.caveats
        );
        assert!(html.contains("No sign of attack in the logs analysed"));
        assert!(html.contains(r#"class="card answer tone-green""#));
    } else {
        // The scope stage itself named a limit: never green then.
        assert!(html.contains(r#"data-assessment="nothing_found_with_gaps""#));
    }
    let mut gap = scope.clone();
    gap.coverage.channels[0]
        .record_gaps
        .push(vigie_scope::RecordGap {
            after: 101,
            before: 140,
            missing: 38,
        });
    let html = render_html(&gap, &[]);
    assert!(html.contains(r#"data-assessment="nothing_found_with_gaps""#));
    assert!(html.contains("Incomplete logs: 0 cleared, 1 with missing records."));
    assert!(!html.contains(r#"class="card answer tone-green""#));
}
