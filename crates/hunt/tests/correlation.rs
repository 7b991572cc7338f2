//! Correlation rules through `vigie_hunt::run`: the matches a correlation
//! counts must reach the correlator whether or not the rule is also
//! reported on its own (`generate`) and whether or not the correlation
//! groups by a field.

use std::path::Path;

use vigie_hunt::{DetectionKind, HuntConfig, Quiet, RuleSource};

const EVENTS: &str = r#"{"@timestamp":"2026-01-09T02:10:03Z","Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Computer":"PC1","Image":"C:\\evil.exe"}
{"@timestamp":"2026-01-09T02:10:05Z","Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Computer":"PC1","Image":"C:\\evil.exe"}
{"@timestamp":"2026-01-09T02:10:07Z","Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Computer":"PC2","Image":"C:\\evil.exe"}
{"@timestamp":"2026-01-09T02:10:09Z","Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Computer":"PC2","Image":"C:\\good.exe"}
"#;

const DETECTION: &str = r#"title: Evil image
id: 11111111-1111-4111-8111-111111111111
name: evil_image
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\evil.exe'
  condition: sel
level: low
"#;

/// A correlation counting `evil_image` matches, `n` or more in an hour.
fn correlation(group_by: &str, n: u32, generate: bool) -> String {
    format!(
        "title: Evil image {n} times\nid: 22222222-2222-4222-8222-222222222222\n\
         correlation:\n  type: event_count\n  rules: [evil_image]\n  group-by: {group_by}\n  \
         timespan: 1h\n  condition: {{gte: {n}}}\n  generate: {generate}\nlevel: high\n"
    )
}

/// (detections, correlations) fired by the hunt.
fn hunt(dir: &Path, correlation: &str) -> (usize, usize) {
    std::fs::write(dir.join("events.jsonl"), EVENTS).unwrap();
    std::fs::write(
        dir.join("rules.yml"),
        format!("{DETECTION}---\n{correlation}"),
    )
    .unwrap();
    let config = HuntConfig {
        inputs: vec![dir.join("events.jsonl")],
        rules: vec![RuleSource::Path(dir.join("rules.yml"))],
        load: Default::default(),
        read: Default::default(),
        scope: false,
        assets: None,
        lang: vigie_lang::Lang::En,
    };
    let outcome = vigie_hunt::run(&config, &Quiet).unwrap();
    assert_eq!(outcome.rules.correlation, 1, "{:?}", outcome.rules.failures);
    assert!(
        outcome.rules.failures.is_empty(),
        "{:?}",
        outcome.rules.failures
    );
    let count = |k| outcome.detections.iter().filter(|d| d.kind == k).count();
    (
        count(DetectionKind::Detection),
        count(DetectionKind::Correlation),
    )
}

#[test]
fn global_count_fires_with_and_without_generate() {
    let dir = tempfile::tempdir().unwrap();
    // One global group: no field value travels with the matches.
    assert_eq!(hunt(dir.path(), &correlation("[]", 3, true)), (3, 1));
    assert_eq!(hunt(dir.path(), &correlation("[]", 3, false)), (0, 1));
    assert_eq!(hunt(dir.path(), &correlation("[]", 4, true)), (3, 0));
}

#[test]
fn grouped_count_fires_per_group() {
    let dir = tempfile::tempdir().unwrap();
    // PC1 has two evil launches, PC2 one.
    assert_eq!(
        hunt(dir.path(), &correlation("[Computer]", 2, true)),
        (3, 1)
    );
    assert_eq!(
        hunt(dir.path(), &correlation("[Computer]", 2, false)),
        (0, 1)
    );
    assert_eq!(
        hunt(dir.path(), &correlation("[Computer]", 3, true)),
        (3, 0)
    );
}
