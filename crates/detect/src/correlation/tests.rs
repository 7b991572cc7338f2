//! Unit tests of correlation parsing and evaluation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use vigie_event::{Timestamp, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::*;
use crate::{CorrelationMatch, LogSource, Match, RuleKind, RuleMeta};

// ---------------------------------------------------------------- helpers

fn load(text: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(text).expect("test YAML is valid YAML")
}

fn parse(text: &str) -> Result<CorrelationRule, String> {
    let docs = load(text);
    parse_correlation(&docs[0], Path::new("t.yml"))
}

/// Asserts that parsing fails with a message containing `needle`.
#[track_caller]
fn parse_err(text: &str, needle: &str) {
    match parse(text) {
        Ok(r) => panic!("expected an error containing {needle:?}, parsed {r:?}"),
        Err(e) => assert!(
            e.contains(needle),
            "error {e:?} does not contain {needle:?}"
        ),
    }
}

fn det(id: &str, name: &str) -> Arc<RuleMeta> {
    Arc::new(RuleMeta {
        id: Some(id.to_string()),
        name: Some(name.to_string()),
        title: format!("detection {name}"),
        kind: RuleKind::Detection,
        level: None,
        status: None,
        description: None,
        author: None,
        tags: Vec::new(),
        references: Vec::new(),
        falsepositives: Vec::new(),
        logsource: LogSource::default(),
        path: PathBuf::from("det.yml"),
    })
}

fn m(rule: &Arc<RuleMeta>, vals: &[(&str, &str)]) -> Match {
    Match {
        rule: rule.clone(),
        matched: Vec::new(),
        correlation_values: vals
            .iter()
            .map(|(k, v)| (Arc::<str>::from(*k), Value::from(*v)))
            .collect(),
        generate: false,
    }
}

fn mv(rule: &Arc<RuleMeta>, vals: Vec<(&str, Value)>) -> Match {
    Match {
        rule: rule.clone(),
        matched: Vec::new(),
        correlation_values: vals
            .into_iter()
            .map(|(k, v)| (Arc::<str>::from(k), v))
            .collect(),
        generate: false,
    }
}

fn base() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap()
}

fn t(secs: i64) -> Timestamp {
    base() + TimeDelta::seconds(secs)
}

fn t_ms(ms: i64) -> Timestamp {
    base() + TimeDelta::milliseconds(ms)
}

/// Builds a state from correlation documents (multi-document text).
fn state_cfg(
    text: &str,
    dets: &[Arc<RuleMeta>],
    cfg: CorrelationConfig,
) -> (CorrelationState, Vec<CorrelationProblem>) {
    let corrs = load(text)
        .iter()
        .map(|d| {
            let r = parse_correlation(d, Path::new("c.yml")).expect("test rule parses");
            (Arc::new(r.to_rule_meta(Path::new("c.yml"))), r)
        })
        .collect();
    CorrelationState::new(corrs, dets, cfg)
}

fn state(text: &str, dets: &[Arc<RuleMeta>]) -> CorrelationState {
    let (s, problems) = state_cfg(text, dets, CorrelationConfig::default());
    assert!(problems.is_empty(), "unexpected problems {problems:?}");
    s
}

/// Observes every input in the given order, then finishes.
fn run(s: &mut CorrelationState, inputs: &[(Timestamp, Vec<Match>)]) -> Vec<CorrelationMatch> {
    let mut out = Vec::new();
    for (time, ms) in inputs {
        out.extend(s.observe(*time, ms));
    }
    out.extend(s.finish());
    out
}

fn titles(out: &[CorrelationMatch]) -> Vec<&str> {
    out.iter().map(|c| c.rule.title.as_str()).collect()
}

/// A tiny deterministic PRNG (xorshift64*) so tests need no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["sigma-specification"])
}

// ---------------------------------------------------------------- parsing

#[test]
fn schema_test_files_parse() {
    let Some(c) = corpus() else { return };
    let dir = c.join("sigma-specification/tests/schema/correlation");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("schema test dir") {
        let path = entry.expect("dir entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let docs = load(&text);
        let r = parse_correlation(&docs[0], &path)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        assert!(!r.referenced_rules().is_empty());
        n += 1;
    }
    assert_eq!(n, 8, "the spec ships 8 correlation schema test files");
}

#[test]
fn schema_test_files_have_the_expected_content() {
    let Some(c) = corpus() else { return };
    let dir = c.join("sigma-specification/tests/schema/correlation");
    let read = |f: &str| {
        let text = std::fs::read_to_string(dir.join(f)).expect("readable");
        parse_correlation(&load(&text)[0], Path::new(f)).expect("parses")
    };
    let ec = read("event_count.yml");
    assert_eq!(ec.kind(), CorrelationType::EventCount);
    assert_eq!(ec.group_by(), ["ComputerName"]);
    assert_eq!(ec.timespan(), Duration::from_secs(3600));
    assert_eq!(
        ec.condition().unwrap().comparisons,
        vec![(CmpOp::Gte, 100.0)]
    );
    assert_eq!(ec.id(), Some("0e95725d-7320-415d-80f7-004da920fc11"));
    let vc = read("value_count.yml");
    assert_eq!(vc.value_field(), Some("User"));
    assert_eq!(vc.timespan(), Duration::from_secs(86_400));
    let to = read("temporal_ordered.yml");
    assert_eq!(to.kind(), CorrelationType::TemporalOrdered);
    assert!(to.condition().is_none());
    assert_eq!(to.referenced_rules().len(), 3);
    let vp = read("value_percentile.yml");
    assert_eq!(vp.value_field(), Some("Image"));
    assert_eq!(vp.kind(), CorrelationType::ValuePercentile);
    let vs = read("value_sum.yml");
    assert_eq!(vs.condition().unwrap().comparisons, vec![(CmpOp::Gt, 1e6)]);
}

/// Every YAML example of the specification that defines a correlation
/// parses (snippets without a title get one: they are excerpts).
#[test]
fn specification_examples_parse() {
    let Some(c) = corpus() else { return };
    let md = std::fs::read_to_string(
        c.join("sigma-specification/specification/sigma-correlation-rules-specification.md"),
    )
    .expect("spec readable");
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in md.lines() {
        if let Some(b) = cur.as_mut() {
            if line.trim_start().starts_with("```") {
                blocks.push(cur.take().unwrap_or_default());
            } else {
                b.push_str(line);
                b.push('\n');
            }
        } else if line.trim_start().starts_with("```") {
            cur = Some(String::new());
        }
    }
    let mut parsed = 0;
    let mut kinds = std::collections::HashSet::new();
    for b in blocks {
        let Ok(docs) = YamlLoader::load_from_str(&b) else {
            continue;
        };
        for d in docs {
            // skip non-correlations and excerpts showing one key
            if d["correlation"].is_badvalue() || d["correlation"]["type"].is_badvalue() {
                continue;
            }
            let text = if d["title"].is_badvalue() {
                format!("title: excerpt\n{b}")
            } else {
                b.clone()
            };
            let d = if d["title"].is_badvalue() {
                load(&text).remove(0)
            } else {
                d
            };
            let r = parse_correlation(&d, Path::new("spec.md"))
                .unwrap_or_else(|e| panic!("spec example does not parse: {e}\n{b}"));
            kinds.insert(r.kind());
            parsed += 1;
        }
    }
    // 7 type examples, rule reference and alias examples, and the two
    // correlations of the final multi-document example
    assert!(parsed >= 10, "only {parsed} examples found");
    assert_eq!(kinds.len(), 7, "every correlation type has an example");
}

const SPEC_CHAIN: &str = r#"
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
"#;

#[test]
fn accessors_expose_the_spec_chain_example() {
    let docs = load(SPEC_CHAIN);
    let outer = parse_correlation(&docs[0], Path::new("x")).unwrap();
    assert_eq!(outer.kind(), CorrelationType::TemporalOrdered);
    assert_eq!(
        outer.referenced_rules(),
        ["multiple_failed_login", "successful_login"]
    );
    assert_eq!(outer.timespan(), Duration::from_secs(600));
    assert_eq!(outer.timespan_text(), "10m");
    assert!(!outer.generate());
    assert_eq!(outer.meta().level.as_deref(), Some("high"));
    assert_eq!(outer.meta().falsepositives, ["Unlikely"]);
    assert_eq!(outer.meta().date.as_deref(), Some("2023-06-16"));
    let meta = outer.to_rule_meta(Path::new("mr_x.yml"));
    assert_eq!(meta.kind, RuleKind::Correlation);
    assert_eq!(meta.level, Some(crate::Level::High));
    assert_eq!(
        meta.author.as_deref(),
        Some("Florian Roth (Nextron Systems)")
    );
    let inner = parse_correlation(&docs[1], Path::new("x")).unwrap();
    assert_eq!(inner.name(), Some("multiple_failed_login"));
    assert_eq!(inner.fields_for_reference("failed_login"), ["User"]);
}

const ALIAS_EXAMPLE: &str = r#"
title: internal error then connection
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
"#;

#[test]
fn aliases_parse_and_resolve() {
    let r = parse(ALIAS_EXAMPLE).unwrap();
    assert_eq!(r.aliases().len(), 2);
    assert_eq!(
        r.aliases()["internal_ip"]["internal_error"],
        "destination.ip"
    );
    assert_eq!(
        r.resolve_field("internal_ip", "new_network_connection"),
        "source.ip"
    );
    assert_eq!(r.resolve_field("User", "internal_error"), "User");
    assert_eq!(
        r.fields_for_reference("internal_error"),
        ["destination.ip", "source.ip"]
    );
}

#[test]
fn ranges_conditions_and_extensions_parse() {
    let r = parse(
        "title: t\ncorrelation: {type: event_count, rules: [ab], group-by: [], timespan: 1h, condition: {gt: 100, lte: 200}}",
    )
    .unwrap();
    let c = r.condition().unwrap();
    assert_eq!(c.comparisons, vec![(CmpOp::Gt, 100.0), (CmpOp::Lte, 200.0)]);
    assert!(!c.holds(100.0) && c.holds(101.0) && c.holds(200.0) && !c.holds(201.0));
    let r = parse(
        "title: t\ncorrelation: {type: value_count, rules: [ab], group-by: [h], timespan: 2w, condition: {field: [a, b], neq: 3}}",
    )
    .unwrap();
    assert_eq!(r.value_fields(), ["a", "b"]);
    assert_eq!(r.timespan(), Duration::from_secs(14 * 86_400));
    let r = parse(
        "title: t\ncorrelation: {type: value_avg, rules: [ab], group-by: [h], timespan: 30s, condition: {field: n, gt: 2.5}}",
    )
    .unwrap();
    assert_eq!(r.condition().unwrap().comparisons, vec![(CmpOp::Gt, 2.5)]);
    let r = parse(
        "title: t\ncorrelation: {type: value_percentile, rules: [ab], group-by: [h], timespan: 1d, condition: {field: n, percentile: 95, gte: 10}}",
    )
    .unwrap();
    assert_eq!(r.condition().unwrap().percentile, Some(95.0));
    let r = parse(
        "title: t\ngenerate: true\ncorrelation: {type: temporal, rules: [ab, cd, ef], group-by: [h], timespan: 5m, condition: {gte: 2}}",
    )
    .unwrap();
    assert!(r.generate());
    let r = parse(
        "title: t\ncorrelation: {type: temporal, generate: true, rules: [ab, cd], group-by: [h], timespan: 5m}",
    )
    .unwrap();
    assert!(r.generate());
}

#[test]
fn timespans() {
    assert_eq!(parse_timespan("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_timespan("90m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_timespan("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_timespan("1d"), Ok(Duration::from_secs(86_400)));
    assert_eq!(parse_timespan("1w"), Ok(Duration::from_secs(604_800)));
    for (bad, needle) in [
        ("", "empty"),
        ("m", "number followed by"),
        ("5", "number followed by"),
        ("5H", "lowercase"),
        ("5 m", "number followed by"),
        ("-5m", "number followed by"),
        ("1.5h", "number followed by"),
        ("0s", "zero"),
        ("3M", "months and years"),
        ("1y", "months and years"),
        ("99999999999s", "longer than 10"),
        ("999999999w", "too large"),
        ("5ms", "number followed by"),
    ] {
        let e = parse_timespan(bad).expect_err(bad);
        assert!(e.contains(needle), "{bad}: {e}");
    }
}

const OK_HEAD: &str = "title: t\n";

/// One test per error path of the parser.
#[test]
fn every_parse_error_has_a_precise_message() {
    let c = |body: &str| format!("{OK_HEAD}correlation: {body}\n");
    let ec = |extra: &str| {
        c(&format!(
            "{{type: event_count, rules: [ab], group-by: [h], timespan: 1h, condition: {{gte: 2}}{extra}}}"
        ))
    };
    // the base is valid
    assert!(parse(&ec("")).is_ok());
    let cases: Vec<(String, &str)> = vec![
        ("- a\n- b".into(), "must be a YAML mapping"),
        ("correlation: {}".into(), "missing `title`"),
        ("title: ''\ncorrelation: {}".into(), "`title` is empty"),
        ("title: [a]\ncorrelation: {}".into(), "`title` must be a string"),
        (
            format!("title: {}\ncorrelation: {{}}", "x".repeat(257)),
            "more than the 256",
        ),
        (format!("{}status: beta\n", ec("")), "unknown `status: beta`"),
        (format!("{}level: severe\n", ec("")), "unknown `level: severe`"),
        (format!("{}date: 2023/06/16\n", ec("")), "not an ISO 8601 date"),
        (format!("{}modified: 2023-13-01\n", ec("")), "not an ISO 8601 date"),
        (format!("{}author: [a]\n", ec("")), "`author` must be a string"),
        (format!("{}tags: attack.t1110\n", ec("")), "`tags` must be a list"),
        (
            format!("{}references: [a, a]\n", ec("")),
            "`references` lists `a` twice",
        ),
        (
            format!("{}falsepositives: [1]\n", ec("")),
            "`falsepositives` item 1 must be a string",
        ),
        (
            format!("{}taxonomy: {}\n", ec(""), "x".repeat(257)),
            "`taxonomy` is longer",
        ),
        (
            format!("{}detection: {{sel: {{a: 1}}, condition: sel}}\n", ec("")),
            "both `correlation` and `detection`",
        ),
        (OK_HEAD.into(), "missing `correlation` section"),
        (c("5"), "`correlation` must be a mapping"),
        (ec(", groupby: [x]"), "unknown key `correlation.groupby`"),
        (
            c("{rules: [ab], group-by: [h], timespan: 1h, condition: {gte: 2}}"),
            "missing `correlation.type`",
        ),
        (
            c("{type: count, rules: [ab], group-by: [h], timespan: 1h, condition: {gte: 2}}"),
            "unknown correlation type `count`",
        ),
        (
            c("{type: [event_count], rules: [ab], group-by: [h], timespan: 1h}"),
            "`correlation.type` must be a string",
        ),
        (
            c("{type: event_count, group-by: [h], timespan: 1h, condition: {gte: 2}}"),
            "missing `correlation.rules`",
        ),
        (
            c("{type: event_count, rules: ab, group-by: [h], timespan: 1h, condition: {gte: 2}}"),
            "`correlation.rules` must be a list",
        ),
        (
            c("{type: event_count, rules: [], group-by: [h], timespan: 1h, condition: {gte: 2}}"),
            "`correlation.rules` is empty",
        ),
        (
            c("{type: event_count, rules: [a], group-by: [h], timespan: 1h, condition: {gte: 2}}"),
            "entry `a` is too short",
        ),
        (
            c("{type: event_count, rules: [ab, ab], group-by: [h], timespan: 1h, condition: {gte: 2}}"),
            "lists `ab` twice",
        ),
        (
            c("{type: event_count, rules: [{x: y}], group-by: [h], timespan: 1h, condition: {gte: 2}}"),
            "`correlation.rules` item 1 must be a string",
        ),
        (
            c("{type: temporal, rules: [ab], group-by: [h], timespan: 1h}"),
            "needs at least two rules",
        ),
        (
            c("{type: temporal_ordered, rules: [ab], group-by: [h], timespan: 1h}"),
            "`temporal_ordered` needs at least two rules",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: h, timespan: 1h, condition: {gte: 2}}"),
            "`correlation.group-by` must be a list",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h, h], timespan: 1h, condition: {gte: 2}}"),
            "`correlation.group-by` lists `h` twice",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [''], timespan: 1h, condition: {gte: 2}}"),
            "empty field name",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], condition: {gte: 2}}"),
            "missing `correlation.timespan`",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 60, condition: {gte: 2}}"),
            "has no unit",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: [1h], condition: {gte: 2}}"),
            "`correlation.timespan` must be a string",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1H, condition: {gte: 2}}"),
            "lowercase",
        ),
        (ec(", aliases: [a]"), "`correlation.aliases` must be a mapping"),
        (ec(", aliases: {ip: x}"), "`correlation.aliases.ip` must map rule names"),
        (ec(", aliases: {ip: {}}"), "`correlation.aliases.ip` maps no rule"),
        (ec(", aliases: {ip: {ab: [x]}}"), "`correlation.aliases.ip.ab` must be a field name"),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1h}"),
            "missing `correlation.condition`, required for event_count",
        ),
        (
            c("{type: value_sum, rules: [ab], group-by: [h], timespan: 1h}"),
            "missing `correlation.condition`, required for value_sum",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1h, condition: 5}"),
            "`correlation.condition` must be a mapping",
        ),
        (
            c("{type: value_count, rules: [ab], group-by: [h], timespan: 1h, condition: {field: u}}"),
            "has no comparison",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1h, condition: {ge: 2}}"),
            "unknown operator `ge`",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1h, condition: {gte: '2'}}"),
            "`correlation.condition.gte` must be a number",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1h, condition: {gte: 2.5}}"),
            "must be a non-negative integer for event_count",
        ),
        (
            c("{type: value_count, rules: [ab], group-by: [h], timespan: 1h, condition: {field: u, gte: -1}}"),
            "must be a non-negative integer for value_count",
        ),
        (
            c("{type: value_count, rules: [ab], group-by: [h], timespan: 1h, condition: {gte: 3}}"),
            "`correlation.condition.field` is required for value_count",
        ),
        (
            c("{type: value_avg, rules: [ab], group-by: [h], timespan: 1h, condition: {gte: 3}}"),
            "`correlation.condition.field` is required for value_avg",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1h, condition: {field: u, gte: 3}}"),
            "is not used by event_count",
        ),
        (
            c("{type: value_sum, rules: [ab], group-by: [h], timespan: 1h, condition: {field: [a, b], gte: 3}}"),
            "a list is only allowed for value_count",
        ),
        (
            c("{type: value_count, rules: [ab], group-by: [h], timespan: 1h, condition: {field: [a, a], gte: 3}}"),
            "`correlation.condition.field` lists `a` twice",
        ),
        (
            c("{type: value_count, rules: [ab], group-by: [h], timespan: 1h, condition: {field: 3, gte: 3}}"),
            "`correlation.condition.field` must be a field name",
        ),
        (
            c("{type: value_count, rules: [ab], group-by: [h], timespan: 1h, condition: {field: '', gte: 3}}"),
            "`correlation.condition.field` is empty",
        ),
        (
            c("{type: value_sum, rules: [ab], group-by: [h], timespan: 1h, condition: {field: n, percentile: 5, gte: 3}}"),
            "only meaningful for value_percentile",
        ),
        (
            c("{type: value_percentile, rules: [ab], group-by: [h], timespan: 1h, condition: {field: n, percentile: 101, gte: 3}}"),
            "must be between 0 and 100",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1h, condition: {gt: 10, lt: 11}}"),
            "can never hold",
        ),
        (
            c("{type: event_count, rules: [ab], group-by: [h], timespan: 1h, condition: {lt: 0}}"),
            "can never hold",
        ),
        (
            c("{type: value_avg, rules: [ab], group-by: [h], timespan: 1h, condition: {field: n, gt: 5, lt: 2}}"),
            "can never hold",
        ),
        (
            c("{type: temporal, rules: [ab, cd, ef], group-by: [h], timespan: 1h, condition: {gte: 4}}"),
            "between 0 and 3, the number of rules",
        ),
        (
            c("{type: value_percentile, rules: [ab], group-by: [h], timespan: 1h, condition: {field: i, gt: 100}}"),
            "share of events is between 0 and 100",
        ),
        (format!("{}generate: yes\n", ec("")), "`generate` must be true or false"),
        (ec(", generate: 1"), "`correlation.generate` must be true or false"),
        (
            format!("{}generate: true\n", ec(", generate: true")),
            "both at top level and in `correlation`",
        ),
    ];
    for (text, needle) in cases {
        assert!(
            YamlLoader::load_from_str(&text).is_ok(),
            "bad test YAML {text}"
        );
        parse_err(&text, needle);
    }
}

#[test]
fn error_messages_name_the_file() {
    let docs = load("title: t\ncorrelation: {type: nope}");
    let e = parse_correlation(&docs[0], Path::new("rules/mr_x.yml")).unwrap_err();
    assert!(e.starts_with("rules/mr_x.yml: "), "{e}");
}

// ---------------------------------------------------------------- runtime

const EC3: &str = "title: burst\ncorrelation: {type: event_count, rules: [failed], group-by: [User], timespan: 60s, condition: {gte: 3}}";

#[test]
fn event_count_fires_once_with_group_times_and_value() {
    let f = det("id-f", "failed");
    let mut s = state(EC3, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[
            (t(0), vec![m(&f, &[("User", "alice")])]),
            (t(10), vec![m(&f, &[("User", "alice")])]),
            (t(20), vec![m(&f, &[("User", "alice")])]),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].group,
        vec![("User".to_string(), "alice".to_string())]
    );
    assert_eq!(out[0].first, t(0));
    assert_eq!(out[0].last, t(20));
    assert_eq!(out[0].value, 3.0);
    assert_eq!(out[0].rule.title, "burst");
    assert_eq!(s.stats().fired, 1);
    assert_eq!(s.stats().processed, 3);
}

/// `group-by` is optional in the Sigma 2.1 JSON schema: without it,
/// every event is in one global group, for every correlation type.
#[test]
fn correlations_without_group_by_use_one_global_group() {
    let (a, b) = (det("ia", "cmd_a"), det("ib", "cmd_b"));
    let dets = [a.clone(), b.clone()];
    let cases = [
        (
            "{type: event_count, rules: [cmd_a], timespan: 60s, condition: {gte: 3}}",
            3.0,
        ),
        (
            "{type: value_count, rules: [cmd_a], timespan: 60s, condition: {field: User, gte: 2}}",
            2.0,
        ),
        (
            "{type: temporal, rules: [cmd_a, cmd_b], timespan: 60s}",
            2.0,
        ),
        (
            "{type: temporal_ordered, rules: [cmd_a, cmd_b], timespan: 60s}",
            2.0,
        ),
    ];
    for (corr, value) in cases {
        let text = format!("title: global\ncorrelation: {corr}");
        let rule = parse(&text).unwrap_or_else(|e| panic!("{corr}: {e}"));
        assert!(rule.group_by().is_empty());
        let mut s = state(&text, &dets);
        // Different users and hosts: with no group-by they add up.
        let out = run(
            &mut s,
            &[
                (t(0), vec![m(&a, &[("User", "alice"), ("Computer", "pc1")])]),
                (t(10), vec![m(&a, &[("User", "bob"), ("Computer", "pc2")])]),
                (
                    t(20),
                    vec![m(&b, &[("User", "carol"), ("Computer", "pc3")])],
                ),
                (t(30), vec![m(&a, &[("User", "dave"), ("Computer", "pc4")])]),
            ],
        );
        assert_eq!(out.len(), 1, "{corr}: {out:?}");
        assert!(out[0].group.is_empty(), "{corr}: {:?}", out[0].group);
        assert_eq!(out[0].value, value, "{corr}");
        // Outside the window: nothing.
        let mut s = state(&text, &dets);
        let out = run(
            &mut s,
            &[
                (t(0), vec![m(&a, &[("User", "alice")])]),
                (t(100), vec![m(&b, &[("User", "bob")])]),
                (t(200), vec![m(&a, &[("User", "carol")])]),
            ],
        );
        assert!(out.is_empty(), "{corr}: {out:?}");
    }
}

#[test]
fn event_count_negative_when_spread_beyond_the_window() {
    let f = det("id-f", "failed");
    let mut s = state(EC3, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[
            (t(0), vec![m(&f, &[("User", "alice")])]),
            (t(40), vec![m(&f, &[("User", "alice")])]),
            (t(61), vec![m(&f, &[("User", "alice")])]),
            (t(101), vec![m(&f, &[("User", "alice")])]),
        ],
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn window_edges_are_inclusive_of_exactly_timespan() {
    let two = "title: two\ncorrelation: {type: event_count, rules: [failed], group-by: [], timespan: 60s, condition: {gte: 2}}";
    let f = det("id-f", "failed");
    // exactly 60 s apart: inside
    let mut s = state(two, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[(t(0), vec![m(&f, &[])]), (t(60), vec![m(&f, &[])])],
    );
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].first, out[0].last), (t(0), t(60)));
    // 60.001 s apart: outside
    let mut s = state(two, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[(t(0), vec![m(&f, &[])]), (t_ms(60_001), vec![m(&f, &[])])],
    );
    assert!(out.is_empty());
}

#[test]
fn windows_slide_across_bucket_boundaries() {
    // 10:00:50 and 10:01:10 are in different minute buckets; a sliding
    // 60 s window holds both.
    let two = "title: two\ncorrelation: {type: event_count, rules: [failed], group-by: [], timespan: 1m, condition: {gte: 2}}";
    let f = det("id-f", "failed");
    let mut s = state(two, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[(t(50), vec![m(&f, &[])]), (t(70), vec![m(&f, &[])])],
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn firing_resets_the_group() {
    let f = det("id-f", "failed");
    let mut s = state(EC3, std::slice::from_ref(&f));
    let inputs: Vec<_> = (0..7)
        .map(|i| (t(i), vec![m(&f, &[("User", "alice")])]))
        .collect();
    let out = run(&mut s, &inputs);
    // 7 events, gte 3, reset after each firing: fires at events 3 and 6
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].first, out[0].last), (t(0), t(2)));
    assert_eq!((out[1].first, out[1].last), (t(3), t(5)));
}

#[test]
fn group_by_separates_states() {
    let f = det("id-f", "failed");
    let mut s = state(EC3, std::slice::from_ref(&f));
    let mut inputs = Vec::new();
    for i in 0..2 {
        inputs.push((t(i * 2), vec![m(&f, &[("User", "alice")])]));
        inputs.push((t(i * 2 + 1), vec![m(&f, &[("User", "bob")])]));
    }
    let out = run(&mut s, &inputs);
    assert!(out.is_empty(), "2 + 2 events in separate groups: {out:?}");
    let mut s = state(EC3, std::slice::from_ref(&f));
    inputs.push((t(9), vec![m(&f, &[("User", "bob")])]));
    let out = run(&mut s, &inputs);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].group, vec![("User".into(), "bob".into())]);
}

#[test]
fn missing_or_null_group_field_does_not_participate_and_is_counted() {
    let f = det("id-f", "failed");
    let mut s = state(EC3, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[
            (t(0), vec![m(&f, &[("User", "alice")])]),
            (t(1), vec![m(&f, &[])]),
            (t(2), vec![mv(&f, vec![("User", Value::Null)])]),
            (t(3), vec![m(&f, &[("User", "alice")])]),
        ],
    );
    assert!(out.is_empty());
    assert_eq!(s.stats().missing_group_field, 2);
}

#[test]
fn value_count_counts_distinct_values() {
    let text = "title: spray\ncorrelation: {type: value_count, rules: [failed], group-by: [IpAddress], timespan: 5m, condition: {field: TargetUserName, gte: 3}}";
    let f = det("id-f", "failed");
    let ev = |u: &str| vec![m(&f, &[("IpAddress", "10.0.0.9"), ("TargetUserName", u)])];
    // positive: three distinct users
    let mut s = state(text, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[
            (t(0), ev("a")),
            (t(1), ev("a")),
            (t(2), ev("b")),
            (t(3), ev("c")),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 3.0);
    assert_eq!(out[0].first, t(0));
    // negative: many events, two users
    let mut s = state(text, std::slice::from_ref(&f));
    let inputs: Vec<_> = (0..10)
        .map(|i| (t(i), ev(if i % 2 == 0 { "a" } else { "b" })))
        .collect();
    assert!(run(&mut s, &inputs).is_empty());
    // missing value field: counted, not a value
    let mut s = state(text, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[
            (t(0), ev("a")),
            (t(1), ev("b")),
            (t(2), vec![m(&f, &[("IpAddress", "10.0.0.9")])]),
        ],
    );
    assert!(out.is_empty());
    assert_eq!(s.stats().missing_value_field, 1);
}

#[test]
fn value_count_over_several_fields_counts_tuples() {
    let text = "title: tuples\ncorrelation: {type: value_count, rules: [failed], group-by: [], timespan: 5m, condition: {field: [a, b], gte: 3}}";
    let f = det("id-f", "failed");
    let ev = |a: &str, b: &str| vec![m(&f, &[("a", a), ("b", b)])];
    let mut s = state(text, std::slice::from_ref(&f));
    // (1,1) (1,2) (2,1): three distinct tuples though each field has two values
    let out = run(
        &mut s,
        &[
            (t(0), ev("1", "1")),
            (t(1), ev("1", "2")),
            (t(2), ev("2", "1")),
        ],
    );
    assert_eq!(out.len(), 1);
    let mut s = state(text, std::slice::from_ref(&f));
    let out = run(
        &mut s,
        &[
            (t(0), ev("1", "1")),
            (t(1), ev("1", "2")),
            (t(2), ev("1", "2")),
        ],
    );
    assert!(out.is_empty());
}

const RECON: &str = "title: recon\ncorrelation: {type: temporal, rules: [cmd_a, cmd_b, cmd_c], group-by: [Computer], timespan: 5m}";

#[test]
fn temporal_needs_every_rule_in_any_order() {
    let (a, b, c) = (det("ia", "cmd_a"), det("ib", "cmd_b"), det("ic", "cmd_c"));
    let dets = [a.clone(), b.clone(), c.clone()];
    let h = |r: &Arc<RuleMeta>| vec![m(r, &[("Computer", "pc1")])];
    let mut s = state(RECON, &dets);
    let out = run(&mut s, &[(t(0), h(&c)), (t(10), h(&a)), (t(20), h(&b))]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 3.0);
    assert_eq!((out[0].first, out[0].last), (t(0), t(20)));
    // one rule missing
    let mut s = state(RECON, &dets);
    assert!(run(&mut s, &[(t(0), h(&c)), (t(10), h(&a)), (t(20), h(&a))]).is_empty());
    // all three, but not within 5 minutes
    let mut s = state(RECON, &dets);
    assert!(run(&mut s, &[(t(0), h(&c)), (t(10), h(&a)), (t(301), h(&b))]).is_empty());
    // first/last span the tightest set of contributing events
    let mut s = state(RECON, &dets);
    let out = run(
        &mut s,
        &[
            (t(0), h(&a)),
            (t(10), h(&b)),
            (t(20), h(&a)),
            (t(30), h(&c)),
        ],
    );
    assert_eq!((out[0].first, out[0].last), (t(10), t(30)));
    // one event matching two rules counts for both
    let mut s = state(RECON, &dets);
    let out = run(
        &mut s,
        &[
            (t(0), h(&c)),
            (
                t(5),
                vec![m(&a, &[("Computer", "pc1")]), m(&b, &[("Computer", "pc1")])],
            ),
        ],
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn temporal_with_condition_counts_distinct_rules() {
    let text = "title: two of three\ncorrelation: {type: temporal, rules: [cmd_a, cmd_b, cmd_c], group-by: [], timespan: 5m, condition: {gte: 2}}";
    let (a, b, c) = (det("ia", "cmd_a"), det("ib", "cmd_b"), det("ic", "cmd_c"));
    let mut s = state(text, &[a.clone(), b.clone(), c.clone()]);
    let out = run(
        &mut s,
        &[(t(0), vec![m(&a, &[])]), (t(1), vec![m(&a, &[])])],
    );
    assert!(out.is_empty(), "the same rule twice is one distinct rule");
    let mut s = state(text, &[a.clone(), b.clone(), det("ic", "cmd_c")]);
    let out = run(
        &mut s,
        &[(t(0), vec![m(&a, &[])]), (t(1), vec![m(&b, &[])])],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 2.0);
}

#[test]
fn temporal_ordered_requires_the_listed_order() {
    let text = "title: ordered\ncorrelation: {type: temporal_ordered, rules: [cmd_a, cmd_b, cmd_c], group-by: [Computer], timespan: 5m}";
    let (a, b, c) = (det("ia", "cmd_a"), det("ib", "cmd_b"), det("ic", "cmd_c"));
    let dets = [a.clone(), b.clone(), c.clone()];
    let h = |r: &Arc<RuleMeta>| vec![m(r, &[("Computer", "pc1")])];
    let mut s = state(text, &dets);
    // noise before, then a, b, c in order
    let out = run(
        &mut s,
        &[
            (t(0), h(&c)),
            (t(1), h(&b)),
            (t(2), h(&a)),
            (t(3), h(&b)),
            (t(4), h(&c)),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].first, t(2), "first is the chosen cmd_a");
    assert_eq!(out[0].last, t(4));
    // wrong order
    let mut s = state(text, &dets);
    assert!(run(&mut s, &[(t(0), h(&c)), (t(1), h(&b)), (t(2), h(&a))]).is_empty());
    // one event matching a and b does not make "a then b"
    let mut s = state(text, &dets);
    let both = vec![m(&a, &[("Computer", "pc1")]), m(&b, &[("Computer", "pc1")])];
    assert!(run(&mut s, &[(t(0), both), (t(1), h(&c))]).is_empty());
    // the first of the sequence fell out of the window
    let mut s = state(text, &dets);
    assert!(run(&mut s, &[(t(0), h(&a)), (t(200), h(&b)), (t(301), h(&c))]).is_empty());
}

#[test]
fn value_sum_positive_negative_and_non_numeric() {
    let text = "title: exfil\ncorrelation: {type: value_sum, rules: [web], group-by: [SourceIP], timespan: 1h, condition: {field: bytes_sent, gt: 1000}}";
    let w = det("iw", "web");
    let ev = |n: Value| {
        vec![mv(
            &w,
            vec![("SourceIP", Value::from("10.1.1.1")), ("bytes_sent", n)],
        )]
    };
    let mut s = state(text, std::slice::from_ref(&w));
    let out = run(
        &mut s,
        &[
            (t(0), ev(Value::Int(400))),
            (t(10), ev(Value::from("400"))),
            (t(20), ev(Value::Float(200.5))),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 1000.5);
    let mut s = state(text, std::slice::from_ref(&w));
    let out = run(
        &mut s,
        &[
            (t(0), ev(Value::Int(400))),
            (t(10), ev(Value::from("lots"))),
            (t(20), ev(Value::Int(600))),
        ],
    );
    assert!(out.is_empty(), "sum is exactly 1000, not > 1000");
    assert_eq!(s.stats().non_numeric_value, 1);
}

#[test]
fn value_avg_positive_and_negative() {
    let text = "title: avg\ncorrelation: {type: value_avg, rules: [web], group-by: [], timespan: 1h, condition: {field: BytesOut, gt: 500}}";
    let w = det("iw", "web");
    let ev = |n: i64| vec![mv(&w, vec![("BytesOut", Value::Int(n))])];
    let mut s = state(text, std::slice::from_ref(&w));
    // averages after each event: 100, 300, 566.67 -> fires on the third
    let out = run(
        &mut s,
        &[(t(0), ev(100)), (t(1), ev(500)), (t(2), ev(1100))],
    );
    assert_eq!(out.len(), 1);
    assert!((out[0].value - 1700.0 / 3.0).abs() < 1e-9);
    let mut s = state(text, std::slice::from_ref(&w));
    assert!(run(&mut s, &[(t(0), ev(100)), (t(1), ev(500)), (t(2), ev(900))]).is_empty());
}

#[test]
fn value_percentile_rarity() {
    let text = "title: rare process\ncorrelation: {type: value_percentile, rules: [proc], group-by: [Computer], timespan: 24h, condition: {field: Image, lte: 1}}";
    let p = det("ip", "proc");
    let ev = |img: &str| vec![m(&p, &[("Computer", "pc1"), ("Image", img)])];
    let mut inputs: Vec<_> = (0..199).map(|i| (t(i), ev("svchost.exe"))).collect();
    inputs.push((t(300), ev("mimikatz.exe")));
    let mut s = state(text, std::slice::from_ref(&p));
    let out = run(&mut s, &inputs);
    assert_eq!(out.len(), 1, "only the rare image fires: {out:?}");
    assert!((out[0].value - 0.5).abs() < 1e-9, "1 of 200 = 0.5 %");
    assert_eq!(out[0].last, t(300));
    // a value that is 2 % of events is not rare enough
    let mut inputs: Vec<_> = (0..98).map(|i| (t(i), ev("svchost.exe"))).collect();
    inputs.push((t(200), ev("cmd.exe")));
    inputs.push((t(201), ev("cmd.exe")));
    let mut s = state(text, std::slice::from_ref(&p));
    let out = run(&mut s, &inputs);
    // the first cmd.exe is 1 of 99 (1.01 %), the second 2 of 100
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn value_percentile_numeric_extension() {
    let text = "title: p90\ncorrelation: {type: value_percentile, rules: [web], group-by: [], timespan: 1h, condition: {field: ms, percentile: 90, gte: 1000}}";
    let w = det("iw", "web");
    let ev = |n: i64| vec![mv(&w, vec![("ms", Value::Int(n))])];
    let mut s = state(text, std::slice::from_ref(&w));
    // values 1..=9 then 5000: p90 of [1..9, 5000] = 9 + 0.1 * 4991 = 508.1
    let mut inputs: Vec<_> = (1..=9).map(|i| (t(i), ev(i))).collect();
    inputs.push((t(10), ev(5000)));
    assert!(run(&mut s, &inputs).is_empty());
    let mut s = state(text, std::slice::from_ref(&w));
    inputs.push((t(11), ev(5000)));
    // p90 of [1..9, 5000, 5000] = 5000
    let out = run(&mut s, &inputs);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 5000.0);
    assert_eq!(
        super::runtime::percentile_linear(&[1.0, 2.0, 3.0, 4.0], 50.0),
        2.5
    );
}

#[test]
fn upper_bounded_conditions_are_checked_when_the_window_closes() {
    let text = "title: few\ncorrelation: {type: event_count, rules: [failed], group-by: [User], timespan: 60s, condition: {lt: 3}}";
    let f = det("id-f", "failed");
    let ev = |u: &str| vec![m(&f, &[("User", u)])];
    let mut s = state(text, std::slice::from_ref(&f));
    let mut out = Vec::new();
    out.extend(s.observe(t(0), &ev("alice")));
    out.extend(s.observe(t(0), &ev("bob")));
    out.extend(s.observe(t(10), &ev("bob")));
    out.extend(s.observe(t(20), &ev("bob")));
    out.extend(s.observe(t(30), &ev("alice")));
    assert!(
        out.is_empty(),
        "nothing can be decided before the window closes"
    );
    // time passes (an event without matches); windows close at 60 s
    out.extend(s.observe(t(200), &[]));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].group, vec![("User".into(), "alice".into())]);
    assert_eq!(out[0].value, 2.0);
    assert_eq!((out[0].first, out[0].last), (t(0), t(30)));
    assert!(s.finish().is_empty());

    let text = "title: exactly\ncorrelation: {type: event_count, rules: [failed], group-by: [], timespan: 60s, condition: {eq: 2}}";
    let mut s = state(text, std::slice::from_ref(&f));
    // window 1: 0..60 holds 3 events; window 2 opens at 61 and holds 2
    let out = run(
        &mut s,
        &[
            (t(0), ev("a")),
            (t(1), ev("a")),
            (t(60), ev("a")),
            (t(61), ev("a")),
            (t(62), ev("a")),
        ],
    );
    assert_eq!(out.len(), 1, "closed at finish: {out:?}");
    assert_eq!((out[0].first, out[0].last), (t(61), t(62)));
}

#[test]
fn chaining_spec_example_failed_logins_then_success() {
    let failed = det("53ba33fd-3a50-4468-a5ef-c583635cfa92", "failed_login");
    let ok = det("4d0a2c83-c62c-4ed4-b475-c7e23a9269b8", "successful_login");
    let dets = [failed.clone(), ok.clone()];
    let f = |u: &str| vec![m(&failed, &[("User", u)])];
    let s_ = |u: &str| vec![m(&ok, &[("User", u)])];
    // 10 failures then a success: both correlations fire
    let mut s = state(SPEC_CHAIN, &dets);
    assert!(s.is_referenced(&failed) && s.is_referenced(&ok));
    assert_eq!(s.required_fields(&failed), vec![Arc::<str>::from("User")]);
    let mut inputs: Vec<_> = (0..10).map(|i| (t(i * 5), f("alice"))).collect();
    inputs.push((t(100), s_("alice")));
    let out = run(&mut s, &inputs);
    assert_eq!(
        titles(&out),
        [
            "Multiple failed logons",
            "Correlation - Multiple Failed Logins Followed by Successful Login"
        ]
    );
    assert_eq!(out[1].group, vec![("User".into(), "alice".into())]);
    assert_eq!(
        out[1].first,
        t(45),
        "the inner correlation fired at the 10th failure"
    );
    assert_eq!(out[1].last, t(100));
    // success before the failures: only the inner fires
    let mut s = state(SPEC_CHAIN, &dets);
    let mut inputs = vec![(t(0), s_("alice"))];
    inputs.extend((0..10).map(|i| (t(10 + i), f("alice"))));
    assert_eq!(titles(&run(&mut s, &inputs)), ["Multiple failed logons"]);
    // failures of bob, success of alice: no outer firing
    let mut s = state(SPEC_CHAIN, &dets);
    let mut inputs: Vec<_> = (0..10).map(|i| (t(i), f("bob"))).collect();
    inputs.push((t(20), s_("alice")));
    assert_eq!(titles(&run(&mut s, &inputs)), ["Multiple failed logons"]);
}

#[test]
fn generate_flag_decides_what_is_reported_on_its_own() {
    let failed = det("if", "failed_login");
    let ok = det("io", "successful_login");
    let lonely = det("il", "lonely");
    let s = state(SPEC_CHAIN, &[failed.clone(), ok.clone()]);
    let metas: Vec<Arc<RuleMeta>> = s.rules().cloned().collect();
    assert_eq!(
        metas[0].title, "Multiple failed logons",
        "evaluation order: inner first"
    );
    // generate defaults to false: referenced rules are not standalone
    assert!(!s.generates(&failed));
    assert!(!s.generates(&ok));
    assert!(!s.generates(&metas[0]), "intermediate correlation hidden");
    assert!(s.generates(&metas[1]), "outermost correlation reported");
    assert!(s.generates(&lonely));
    let with_generate = SPEC_CHAIN.replacen("level: high", "level: high\ngenerate: true", 1);
    let s = state(&with_generate, &[failed.clone(), ok.clone()]);
    let metas: Vec<Arc<RuleMeta>> = s.rules().cloned().collect();
    assert!(s.generates(&ok));
    assert!(s.generates(&metas[0]));
    assert!(
        !s.generates(&failed),
        "only referenced by the inner rule (generate: false)"
    );
}

#[test]
fn chaining_from_a_closing_window_uses_its_end_time() {
    let text = r#"
title: outer
correlation: {type: temporal_ordered, rules: [quiet_host, alarm], group-by: [Computer], timespan: 10m}
---
title: quiet
name: quiet_host
correlation: {type: event_count, rules: [heartbeat], group-by: [Computer], timespan: 60s, condition: {lte: 1}}
"#;
    let hb = det("ihb", "heartbeat");
    let al = det("ial", "alarm");
    let mut s = state(text, &[hb.clone(), al.clone()]);
    let out = run(
        &mut s,
        &[
            (t(0), vec![m(&hb, &[("Computer", "pc1")])]),
            (t(50), vec![m(&al, &[("Computer", "pc1")])]),
            (t(90), vec![m(&al, &[("Computer", "pc1")])]),
        ],
    );
    // the quiet window closes at 60 s: the alarm at 50 s came before it,
    // the alarm at 90 s after it
    assert_eq!(titles(&out), ["quiet", "outer"]);
    // the chained input happened when the quiet window closed
    assert_eq!(out[1].first, t(60));
    assert_eq!(out[1].last, t(90));
}

#[test]
fn aliases_join_different_fields() {
    let err = det("ie", "internal_error");
    let conn = det("ic", "new_network_connection");
    let dets = [err.clone(), conn.clone()];
    let mut s = state(ALIAS_EXAMPLE, &dets);
    assert_eq!(
        s.required_fields(&conn),
        vec![Arc::<str>::from("source.ip"), Arc::from("destination.ip")]
    );
    let e = |dst: &str, src: &str| vec![m(&err, &[("destination.ip", dst), ("source.ip", src)])];
    let c = |src: &str, dst: &str| vec![m(&conn, &[("source.ip", src), ("destination.ip", dst)])];
    // internal 10.0.0.5 answered 500 to 203.0.113.9, then 10.0.0.5 connects to it
    let out = run(
        &mut s,
        &[
            (t(0), e("10.0.0.5", "203.0.113.9")),
            (t(3), c("10.0.0.5", "203.0.113.9")),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].group,
        vec![
            ("internal_ip".into(), "10.0.0.5".into()),
            ("remote_ip".into(), "203.0.113.9".into())
        ]
    );
    // same fields, other direction: no join
    let mut s = state(ALIAS_EXAMPLE, &dets);
    let out = run(
        &mut s,
        &[
            (t(0), e("10.0.0.5", "203.0.113.9")),
            (t(3), c("203.0.113.9", "10.0.0.5")),
        ],
    );
    assert!(out.is_empty());
}

#[test]
fn alias_keys_may_name_a_rule_listed_by_id() {
    let text = "title: a\ncorrelation: {type: event_count, rules: [uuid-1, uuid-2], group-by: [ip], timespan: 1m, condition: {gte: 2}, aliases: {ip: {web_error: dst, conn: src}}}";
    let e = det("uuid-1", "web_error");
    let c = det("uuid-2", "conn");
    let mut s = state(text, &[e.clone(), c.clone()]);
    assert_eq!(s.required_fields(&e), vec![Arc::<str>::from("dst")]);
    assert_eq!(s.required_fields(&c), vec![Arc::<str>::from("src")]);
    let out = run(
        &mut s,
        &[
            (t(0), vec![m(&e, &[("dst", "10.0.0.1")])]),
            (t(1), vec![m(&c, &[("src", "10.0.0.1")])]),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].group, vec![("ip".into(), "10.0.0.1".into())]);
}

#[test]
fn references_by_id_and_unreferenced_rules() {
    let text = "title: by id\ncorrelation: {type: event_count, rules: [5638f7c0-ac70-491d-8465-2a65075e0d86], group-by: [], timespan: 1m, condition: {gte: 2}}";
    let r = det("5638f7c0-ac70-491d-8465-2a65075e0d86", "fw_block");
    let other = det("other-id", "other");
    let mut s = state(text, &[r.clone(), other.clone()]);
    assert!(s.is_referenced(&r));
    assert!(!s.is_referenced(&other));
    assert!(s.required_fields(&other).is_empty());
    let out = run(
        &mut s,
        &[
            (t(0), vec![m(&r, &[]), m(&other, &[])]),
            (t(1), vec![m(&other, &[])]),
            (t(2), vec![m(&r, &[])]),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        s.stats().processed,
        2,
        "events with only unreferenced matches are not buffered"
    );
}

#[test]
fn construction_problems_are_reported() {
    let dets = [det("ia", "cmd_a")];
    let text = r#"
title: unknown ref
correlation: {type: event_count, rules: [nope], group-by: [], timespan: 1m, condition: {gte: 2}}
---
title: self
name: me
correlation: {type: event_count, rules: [me], group-by: [], timespan: 1m, condition: {gte: 2}}
---
title: cycle one
name: c1
correlation: {type: event_count, rules: [c2], group-by: [], timespan: 1m, condition: {gte: 2}}
---
title: cycle two
name: c2
correlation: {type: temporal, rules: [c1, cmd_a], group-by: [], timespan: 1m}
---
title: depends on bad
correlation: {type: temporal, rules: [me, cmd_a], group-by: [], timespan: 1m}
---
title: bad alias
correlation: {type: event_count, rules: [cmd_a], group-by: [ip], timespan: 1m, condition: {gte: 2}, aliases: {ip: {zz: src}}}
---
title: fine
correlation: {type: event_count, rules: [cmd_a], group-by: [], timespan: 1m, condition: {gte: 2}}
"#;
    let (s, problems) = state_cfg(text, &dets, CorrelationConfig::default());
    assert_eq!(s.len(), 1);
    let reasons: Vec<(String, String)> = problems
        .iter()
        .map(|p| (p.rule.title.clone(), p.reason.clone()))
        .collect();
    let find = |title: &str| {
        reasons
            .iter()
            .find(|(t, _)| t == title)
            .map(|(_, r)| r.as_str())
            .unwrap_or_else(|| panic!("no problem for {title}: {reasons:?}"))
    };
    assert!(find("unknown ref").contains("unknown rule `nope`"));
    assert!(find("self").contains("references itself"));
    assert!(find("cycle one").contains("cycle"));
    assert!(find("cycle two").contains("cycle"));
    assert!(find("depends on bad").contains("depends on correlation `self`"));
    assert!(find("bad alias").contains("alias `ip` maps rule `zz`, which is none of the rules"));
    assert_eq!(problems.len(), 6);
}

// ------------------------------------------------- ordering and lateness

/// A mixed workload: several correlation types, groups and equal
/// timestamps.
type Inputs = Vec<(Timestamp, Vec<Match>)>;

fn mixed() -> (String, Vec<Arc<RuleMeta>>, Inputs) {
    let text = r#"
title: count
correlation: {type: event_count, rules: [ra], group-by: [User], timespan: 30s, condition: {gte: 3}}
---
title: distinct
correlation: {type: value_count, rules: [ra, rb], group-by: [Host], timespan: 40s, condition: {field: User, gte: 3}}
---
title: ordered
name: ordered
correlation: {type: temporal_ordered, rules: [ra, rb], group-by: [User], timespan: 20s}
---
title: few
correlation: {type: event_count, rules: [rb], group-by: [Host], timespan: 25s, condition: {lte: 2}}
---
title: chained
correlation: {type: event_count, rules: [ordered], group-by: [User], timespan: 120s, condition: {gte: 2}}
"#
    .to_string();
    let a = det("ida", "ra");
    let b = det("idb", "rb");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let users = ["u1", "u2", "u3", "u4"];
    let hosts = ["h1", "h2"];
    let mut inputs = Vec::new();
    let mut now = 0i64;
    for _ in 0..400 {
        now += rng.below(6) as i64; // many equal timestamps
        let u = users[rng.below(4) as usize];
        let h = hosts[rng.below(2) as usize];
        let r = if rng.below(2) == 0 { &a } else { &b };
        inputs.push((t(now), vec![m(r, &[("User", u), ("Host", h)])]));
    }
    (text, vec![a, b], inputs)
}

fn run_with_lateness(
    text: &str,
    dets: &[Arc<RuleMeta>],
    inputs: &[(Timestamp, Vec<Match>)],
    lateness: u64,
) -> (Vec<CorrelationMatch>, CorrelationStats) {
    let (mut s, p) = state_cfg(
        text,
        dets,
        CorrelationConfig {
            lateness: Duration::from_secs(lateness),
        },
    );
    assert!(p.is_empty(), "{p:?}");
    let out = run(&mut s, inputs);
    (out, s.stats())
}

#[test]
fn out_of_order_within_lateness_gives_the_sorted_result() {
    let (text, dets, sorted) = mixed();
    let (expected, st) = run_with_lateness(&text, &dets, &sorted, 0);
    assert!(
        expected.len() > 10,
        "the workload fires: {}",
        expected.len()
    );
    for title in ["count", "distinct", "ordered", "few", "chained"] {
        assert!(
            expected.iter().any(|c| c.rule.title == title),
            "{title} never fired"
        );
    }
    assert_eq!(st.dropped_late, 0);
    let lateness = 20u64;
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x1234_5678_9abc_def1));
        // arrival = event time + delay in [0, lateness]: no event arrives
        // more than `lateness` after a later-stamped one
        let mut shuffled: Vec<(i64, usize)> = sorted
            .iter()
            .enumerate()
            .map(|(i, (ts, _))| {
                let arrival_ms =
                    (*ts - base()).num_milliseconds() + rng.below(lateness * 1000 + 1) as i64;
                (arrival_ms, i)
            })
            .collect();
        shuffled.sort();
        let inputs: Vec<_> = shuffled.iter().map(|(_, i)| sorted[*i].clone()).collect();
        assert_ne!(
            inputs.iter().map(|x| x.0).collect::<Vec<_>>(),
            sorted.iter().map(|x| x.0).collect::<Vec<_>>()
        );
        let (got, st) = run_with_lateness(&text, &dets, &inputs, lateness);
        assert_eq!(st.dropped_late, 0, "seed {seed}");
        assert_eq!(got, expected, "seed {seed}");
    }
}

#[test]
fn unbounded_lateness_sorts_everything_at_finish() {
    let (text, dets, sorted) = mixed();
    let (expected, _) = run_with_lateness(&text, &dets, &sorted, 0);
    let mut reversed = sorted.clone();
    reversed.reverse();
    let (mut s, _) = state_cfg(&text, &dets, CorrelationConfig::unbounded());
    let mut out = Vec::new();
    for (time, ms) in &reversed {
        out.extend(s.observe(*time, ms));
    }
    assert!(out.is_empty(), "nothing is released before finish");
    assert_eq!(s.stats().buffered, sorted.len());
    out.extend(s.finish());
    assert_eq!(out, expected);
    assert_eq!(s.stats().dropped_late, 0);
}

#[test]
fn fresh_state_replays_identically() {
    let (text, dets, sorted) = mixed();
    let (mut s, _) = state_cfg(&text, &dets, CorrelationConfig::default());
    let mut template = s.fresh();
    let first = run(&mut s, &sorted);
    assert!(s.stats().processed > 0);
    let mut again = s.fresh();
    assert_eq!(again.stats(), CorrelationStats::default());
    assert_eq!(run(&mut again, &sorted), first);
    template.set_lateness(Duration::from_secs(5));
    assert_eq!(run(&mut template, &sorted), first);
}

#[test]
fn equal_timestamps_in_any_arrival_order_give_the_same_result() {
    let text = "title: d\ncorrelation: {type: value_count, rules: [ra], group-by: [], timespan: 10s, condition: {field: User, gte: 2}}";
    let a = det("ida", "ra");
    let ev = |u: &str| vec![m(&a, &[("User", u)])];
    let x = [(t(0), ev("x")), (t(0), ev("y")), (t(0), ev("z"))];
    let y = [(t(0), ev("z")), (t(0), ev("x")), (t(0), ev("y"))];
    let (ox, _) = run_with_lateness(text, std::slice::from_ref(&a), &x, 0);
    let (oy, _) = run_with_lateness(text, std::slice::from_ref(&a), &y, 0);
    assert_eq!(ox.len(), 1);
    assert_eq!(ox, oy);
    // order-sensitive: rb and ra at the same instant, in both arrival
    // orders, are processed in the same (content) order
    let text = "title: o\ncorrelation: {type: temporal_ordered, rules: [ra, rb], group-by: [], timespan: 10s}";
    let b = det("idb", "rb");
    let dets = [a.clone(), b.clone()];
    let x = [(t(5), vec![m(&a, &[])]), (t(5), vec![m(&b, &[])])];
    let y = [(t(5), vec![m(&b, &[])]), (t(5), vec![m(&a, &[])])];
    let (ox, _) = run_with_lateness(text, &dets, &x, 0);
    let (oy, _) = run_with_lateness(text, &dets, &y, 0);
    assert_eq!(ox, oy);
}

#[test]
fn too_late_inputs_are_counted_not_processed() {
    let f = det("id-f", "failed");
    let (mut s, _) = state_cfg(
        EC3,
        std::slice::from_ref(&f),
        CorrelationConfig {
            lateness: Duration::from_secs(10),
        },
    );
    let ev = || vec![m(&f, &[("User", "alice")])];
    let mut out = Vec::new();
    out.extend(s.observe(t(100), &ev()));
    out.extend(s.observe(t(95), &ev())); // 5 s late: fine
    out.extend(s.observe(t(80), &ev())); // 20 s late: dropped
    out.extend(s.observe(t(85), &[])); // no relevant match: nothing to drop
    out.extend(s.finish());
    assert!(out.is_empty(), "only two events were processed: {out:?}");
    let st = s.stats();
    assert_eq!(st.dropped_late, 1);
    assert_eq!(st.processed, 2);
    // after finish, earlier inputs are late too
    let _ = s.observe(t(99), &ev());
    assert_eq!(s.stats().dropped_late, 2);
}

#[test]
fn inputs_are_held_until_the_watermark_passes() {
    let f = det("id-f", "failed");
    let (mut s, _) = state_cfg(
        EC3,
        std::slice::from_ref(&f),
        CorrelationConfig {
            lateness: Duration::from_secs(30),
        },
    );
    let ev = || vec![m(&f, &[("User", "alice")])];
    assert!(s.observe(t(0), &ev()).is_empty());
    assert!(s.observe(t(1), &ev()).is_empty());
    assert!(s.observe(t(2), &ev()).is_empty());
    assert_eq!(s.stats().buffered, 3);
    let out = s.observe(t(40), &[]);
    assert_eq!(out.len(), 1, "released once 30 s have passed");
    assert_eq!(s.stats().buffered, 0);
}

#[test]
fn memory_is_bounded_by_the_window() {
    let f = det("id-f", "failed");
    let mut s = state(EC3, std::slice::from_ref(&f));
    // 20 000 distinct users, one event each, one per second
    for i in 0..20_000 {
        let u = format!("user{i}");
        assert!(s.observe(t(i), &[m(&f, &[("User", &u)])]).is_empty());
    }
    let st = s.stats();
    assert!(
        st.groups < 4096 + 200,
        "groups of users idle for longer than the window are freed: {}",
        st.groups
    );
    assert!(st.buffered <= 61);
}

// ------------------------------------ sliding window vs brute force

/// Reference: at each event, count the events since the last firing that
/// are within `span` before it; fire when the count reaches `n`.
fn brute_event_count(times: &[i64], span: i64, n: usize) -> Vec<(i64, i64, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..times.len() {
        let inside: Vec<i64> = times[start..=i]
            .iter()
            .copied()
            .filter(|tj| times[i] - tj <= span)
            .collect();
        if inside.len() >= n {
            out.push((inside[0], times[i], inside.len()));
            start = i + 1;
        }
    }
    out
}

fn engine_event_count(
    times: &[i64],
    span: i64,
    n: usize,
    shuffle: Option<u64>,
) -> Vec<(i64, i64, usize)> {
    let text = format!(
        "title: ec\ncorrelation: {{type: event_count, rules: [ra], group-by: [], timespan: {span}s, condition: {{gte: {n}}}}}"
    );
    let a = det("ida", "ra");
    let mut inputs: Vec<(Timestamp, Vec<Match>)> =
        times.iter().map(|x| (t(*x), vec![m(&a, &[])])).collect();
    let lateness = 5;
    if let Some(seed) = shuffle {
        let mut rng = Rng(seed);
        let mut keyed: Vec<(i64, usize)> = times
            .iter()
            .enumerate()
            .map(|(i, x)| (x * 10 + rng.below(lateness * 10 + 1) as i64, i))
            .collect();
        keyed.sort();
        inputs = keyed.iter().map(|(_, i)| inputs[*i].clone()).collect();
    }
    let (out, st) = run_with_lateness(&text, std::slice::from_ref(&a), &inputs, lateness);
    assert_eq!(st.dropped_late, 0);
    out.iter()
        .map(|c| {
            (
                (c.first - base()).num_seconds(),
                (c.last - base()).num_seconds(),
                c.value as usize,
            )
        })
        .collect()
}

/// Every non-decreasing sequence of up to 6 timestamps in 0..5 s, for
/// windows of 1..3 s and thresholds 1..3.
#[test]
fn sliding_event_count_matches_brute_force_exhaustively() {
    fn seqs(len: usize, min: i64, max: i64, cur: &mut Vec<i64>, out: &mut Vec<Vec<i64>>) {
        if cur.len() == len {
            out.push(cur.clone());
            return;
        }
        for x in min..=max {
            cur.push(x);
            seqs(len, x, max, cur, out);
            cur.pop();
        }
    }
    let mut all = Vec::new();
    for len in 1..=6 {
        seqs(len, 0, 4, &mut Vec::new(), &mut all);
    }
    let mut checked = 0;
    for times in &all {
        for span in 1..=3 {
            for n in 1..=3 {
                assert_eq!(
                    engine_event_count(times, span, n, None),
                    brute_event_count(times, span, n),
                    "times {times:?} span {span} n {n}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 4000);
}

/// Random longer sequences, fed in a shuffled order within the lateness.
#[test]
fn sliding_event_count_matches_brute_force_on_random_shuffled_input() {
    let mut rng = Rng(42);
    for case in 0..300u64 {
        let len = 1 + rng.below(60) as usize;
        let mut times: Vec<i64> = (0..len).map(|_| rng.below(200) as i64).collect();
        times.sort();
        let span = 1 + rng.below(30) as i64;
        let n = 1 + rng.below(6) as usize;
        let expected = brute_event_count(&times, span, n);
        assert_eq!(
            engine_event_count(&times, span, n, Some(case + 1)),
            expected,
            "case {case}: times {times:?} span {span} n {n}"
        );
    }
}
