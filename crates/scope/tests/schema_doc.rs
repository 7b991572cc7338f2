//! Guards docs/scope-schema.md: every field the JSON scope contains must be
//! documented, top-level fields in the top-level table.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use vigie_detect::{Level, LogSource, Match, RuleKind, RuleMeta};
use vigie_event::{Event, Locator, Origin};
use vigie_scope::*;

const DOC: &str = include_str!("../../../docs/scope-schema.md");

/// Field names of the table rows (`| `name` | type | meaning |`) of the
/// section starting at `heading` (up to the next `## `), or of the whole
/// document when `heading` is `None`.
fn documented(heading: Option<&str>) -> BTreeSet<String> {
    let text = match heading {
        Some(h) => {
            let start = DOC.find(h).unwrap_or_else(|| panic!("no section {h}"));
            let rest = &DOC[start + h.len()..];
            &rest[..rest.find("\n## ").unwrap_or(rest.len())]
        }
        None => DOC,
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name.to_string()))
        .collect()
}

fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

/// A scope with every list non-empty enough to show nested fields.
fn sample() -> Scope {
    let assets = Assets::from_str(
        "zones: [{name: z, isolated: true}]\nhosts: [{name: H1, zone: z, services: [s]}]\n",
    )
    .unwrap();
    let mut o = Observer::new(Arc::new(assets));
    let rule = Arc::new(RuleMeta {
        id: Some("r".into()),
        name: None,
        title: "T".into(),
        kind: RuleKind::Detection,
        level: Some(Level::High),
        status: None,
        description: None,
        author: None,
        tags: vec!["attack.t1021.002".into()],
        references: vec![],
        falsepositives: vec![],
        logsource: LogSource::default(),
        path: "r.yml".into(),
    });
    let mut e = Event::new(Origin {
        source: Arc::from("a.evtx"),
        locator: Locator::Record(1),
    });
    e.timestamp = Some(chrono::Utc::now());
    e.computer = Some("H2".into());
    e.channel = Some("Security".into());
    e.event_id = Some(4624);
    e.record_id = Some(1);
    e.push("TargetUserName", "bob");
    e.push("LogonType", "10");
    e.push("IpAddress", "198.51.100.7");
    let m = Match {
        rule,
        matched: vec![],
        correlation_values: vec![],
        generate: true,
    };
    o.observe(&e, &[m]);
    o.finish(&[], Lang::En)
}

#[test]
fn every_top_level_field_is_documented() {
    let v = serde_json::to_value(sample()).unwrap();
    let top: BTreeSet<String> = v.as_object().unwrap().keys().cloned().collect();
    let doc = documented(Some("## Scope (top level)"));
    let missing: Vec<_> = top.difference(&doc).collect();
    assert!(
        missing.is_empty(),
        "top-level Scope fields not documented in docs/scope-schema.md: {missing:?}"
    );
    let stale: Vec<_> = doc.difference(&top).collect();
    assert!(
        stale.is_empty(),
        "documented top-level fields that Scope does not have: {stale:?}"
    );
}

#[test]
fn every_nested_field_seen_is_documented() {
    let mut all = BTreeSet::new();
    keys(&serde_json::to_value(sample()).unwrap(), &mut all);
    keys(
        &serde_json::to_value(common::run(&common::scenario(true))).unwrap(),
        &mut all,
    );
    assert!(
        all.len() > 120,
        "the scenario fills most of the schema ({})",
        all.len()
    );
    let doc = documented(None);
    let missing: Vec<_> = all
        .iter()
        .filter(|k| !doc.contains(*k) && !["kind", "at"].contains(&k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "fields not documented in docs/scope-schema.md: {missing:?}"
    );
}
