//! Replays the test sidecar of every built-in rule through the real engine.
//!
//! Layout: `rules/vigie/<area>/<rule>.yml` has `rules/vigie/<area>/<rule>.test.yml`:
//!
//! ```yaml
//! rule: <id or name>        # optional: which document to check (default: the file's first)
//! defaults: {Channel: Security, ...}   # merged into every event below
//! match:    [ {field: value, ...}, ... ]   # each event alone must fire the rule
//! no_match: [ {...}, ... ]                 # each event alone must not fire it
//! sequences:                               # events fed in time order to a fresh correlator
//!   - name: ...
//!     expect: 1                            # exact number of firings of the rule
//!     events: [ {_time: '2026-01-03T02:10:00Z', ...}, ... ]
//! ```
//!
//! Keys starting with `_` are not fields: `_time` (RFC 3339, UTC), `_note`
//! (free text), `_repeat: N` with `_step: 5s` (the event is emitted N times,
//! `_step` apart, with `{i}` in string values replaced by 0..N-1).
//! A test file may hold several YAML documents, each with its own `rule`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use vigie_detect::{Engine, LoadOptions};
use vigie_event::{Event, Locator, Origin, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn pack_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/vigie"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn files() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut all = Vec::new();
    walk(&pack_dir(), &mut all);
    let yml = |p: &PathBuf| p.extension().is_some_and(|e| e == "yml" || e == "yaml");
    let rules = all
        .iter()
        .filter(|p| yml(p) && vigie_rules::is_rule_file(p))
        .cloned()
        .collect();
    let tests = all
        .iter()
        .filter(|p| yml(p) && !vigie_rules::is_rule_file(p))
        .cloned()
        .collect();
    (rules, tests)
}

fn test_path(rule: &Path) -> PathBuf {
    let stem = rule.file_stem().unwrap().to_string_lossy();
    rule.with_file_name(format!("{stem}.test.yml"))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(pack_dir())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// The compiled pack, and the ids and names of all its rules (all kinds).
fn engine() -> (Engine, HashSet<String>) {
    let (set, report) = vigie_rules::builtin_rule_set(&LoadOptions::default());
    let known = set
        .metas()
        .into_iter()
        .flat_map(|m| m.id.into_iter().chain(m.name))
        .collect();
    assert!(
        report.failures.is_empty(),
        "built-in rules failed to load: {:#?}",
        report.failures
    );
    let (engine, failures) = Engine::compile(set);
    assert!(
        failures.is_empty(),
        "built-in rules failed to compile: {failures:#?}"
    );
    (engine, known)
}

#[test]
fn every_rule_file_has_a_test_file_and_every_test_file_a_rule() {
    let (rules, tests) = files();
    assert!(rules.len() >= 25, "only {} rule files", rules.len());
    let mut problems = Vec::new();
    for r in &rules {
        if !test_path(r).is_file() {
            problems.push(format!("{} has no {}", rel(r), rel(&test_path(r))));
        }
    }
    let expected: HashSet<PathBuf> = rules.iter().map(|r| test_path(r)).collect();
    for t in &tests {
        if !expected.contains(t) {
            problems.push(format!("{} tests no rule file", rel(t)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn embedded_pack_is_the_pack_on_disk() {
    let (rules, _) = files();
    let on_disk: Vec<String> = rules
        .iter()
        .map(|p| {
            format!(
                "{}{}",
                vigie_rules::BUILTIN_PREFIX,
                rel(p).replace('\\', "/")
            )
        })
        .collect();
    let embedded: Vec<String> = vigie_rules::builtin()
        .iter()
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect();
    let mut a = on_disk.clone();
    a.sort();
    assert_eq!(
        a, embedded,
        "rebuild: the embedded pack differs from rules/vigie"
    );
    for ((_, text), p) in vigie_rules::builtin().iter().zip(&rules) {
        assert_eq!(*text, std::fs::read_to_string(p).unwrap(), "{}", rel(p));
    }
}

#[test]
fn every_rule_loads_and_compiles_without_failure() {
    let (set, report) = vigie_rules::builtin_rule_set(&LoadOptions::default());
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    let (rules, _) = files();
    assert_eq!(report.files, rules.len());
    assert!(report.correlation >= 6, "{report:?}");
    assert_eq!(
        set.len(),
        report.detection + report.correlation + report.filter
    );
    let (engine, failures) = Engine::compile(set);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        engine.rules().len() >= report.detection,
        "{} compiled",
        engine.rules().len()
    );
}

/// `--min-level` and `--status` must never cut a correlation off from the
/// rules it references (base rules carry no level and their correlation's
/// status), whatever the selection.
#[test]
fn selection_keeps_correlation_chains_whole() {
    use vigie_detect::Level::*;
    let (_, all) = vigie_rules::builtin_rule_set(&LoadOptions::default());
    let mut kept_critical = 0;
    for level in [Informational, Low, Medium, High, Critical] {
        let opts = LoadOptions {
            min_level: Some(level),
            statuses: None,
            ..Default::default()
        };
        let (set, rep) = vigie_rules::builtin_rule_set(&opts);
        assert!(rep.failures.is_empty(), "{level:?}: {:#?}", rep.failures);
        assert_eq!(
            rep.detection + rep.correlation + rep.deselected,
            all.detection + all.correlation
        );
        let (_, failures) = Engine::compile(set);
        assert!(failures.is_empty(), "{level:?}: {failures:#?}");
        if level == Critical {
            assert!(rep.deselected > 0);
            kept_critical = rep.correlation;
        }
    }
    assert!(
        kept_critical >= 3,
        "critical correlations lost: {kept_critical}"
    );
    for status in ["stable", "test", "experimental"] {
        let opts = LoadOptions {
            min_level: None,
            statuses: Some(vec![status.to_string()]),
            ..Default::default()
        };
        let (set, rep) = vigie_rules::builtin_rule_set(&opts);
        assert!(rep.failures.is_empty(), "{status}: {:#?}", rep.failures);
        let (_, failures) = Engine::compile(set);
        assert!(failures.is_empty(), "{status}: {failures:#?}");
    }
}

// ---------------------------------------------------------------- metadata

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

fn is_technique(t: &str) -> bool {
    let Some(rest) = t.strip_prefix("attack.t") else {
        return false;
    };
    let (main, sub) = rest.split_once('.').unwrap_or((rest, "000"));
    main.len() == 4
        && main.bytes().all(|c| c.is_ascii_digit())
        && sub.len() == 3
        && sub.bytes().all(|c| c.is_ascii_digit())
}

#[test]
fn rule_metadata_is_complete_and_ids_are_fresh_uuids() {
    let (rules, _) = files();
    let mut problems = Vec::new();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for path in &rules {
        let file = rel(path);
        let text = std::fs::read_to_string(path).unwrap();
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (i, d) in docs.iter().enumerate() {
            let mut p = |m: String| problems.push(format!("{file} doc {i}: {m}"));
            let s = |k: &str| d[k].as_str().map(str::to_string);
            match s("id") {
                Some(id) if is_uuid_v4(&id) => {
                    if let Some(other) = ids.insert(id.clone(), file.clone()) {
                        p(format!("id {id} also used in {other}"));
                    }
                }
                other => p(format!("id {other:?} is not a lowercase UUIDv4")),
            }
            if let Some(n) = s("name") {
                if let Some(other) = names.insert(n.clone(), file.clone()) {
                    p(format!("name {n} also used in {other}"));
                }
            }
            if s("title").is_none_or(|t| t.len() < 10) {
                p("missing or too short title".into());
            }
            let is_corr = !d["correlation"].is_badvalue();
            if !is_corr && (d["logsource"].is_badvalue() || d["detection"].is_badvalue()) {
                p("detection document without logsource/detection".into());
            }
            if i > 0 {
                continue;
            }
            // The outer document carries the metadata (Sigma correlation spec).
            if !matches!(
                s("status").as_deref(),
                Some("stable" | "test" | "experimental")
            ) {
                p(format!("status {:?}", s("status")));
            }
            if s("description").is_none_or(|t| t.len() < 40) {
                p("description missing or too short".into());
            }
            if s("author").as_deref() != Some("Vigie") {
                p(format!("author {:?}", s("author")));
            }
            let date_ok = s("date")
                .is_some_and(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_ok());
            if !date_ok {
                p(format!("date {:?}", s("date")));
            }
            if !matches!(
                s("level").as_deref(),
                Some("informational" | "low" | "medium" | "high" | "critical")
            ) {
                p(format!("level {:?}", s("level")));
            }
            let list = |k: &str| -> Vec<String> {
                d[k].as_vec()
                    .map(|v| {
                        v.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            if list("references").is_empty() {
                p("no references".into());
            }
            if list("falsepositives").is_empty() {
                p("no falsepositives".into());
            }
            let tags = list("tags");
            if !tags.iter().any(|t| is_technique(t)) {
                p(format!("no ATT&CK technique tag in {tags:?}"));
            }
            if !tags.iter().any(|t| {
                t.strip_prefix("attack.")
                    .is_some_and(|x| TACTICS.contains(&x))
            }) {
                p(format!("no ATT&CK tactic tag in {tags:?}"));
            }
            for t in &tags {
                let ok = t.strip_prefix("attack.").is_some_and(|x| {
                    TACTICS.contains(&x)
                        || is_technique(t)
                        || x.starts_with('s')
                        || x.starts_with('g')
                });
                if !ok {
                    p(format!("tag {t} is not an ATT&CK tag"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------- cases

/// Parses `5s`, `6m`, `1h`.
fn step(s: &str) -> Duration {
    let (n, unit) = s.split_at(s.len() - 1);
    let n: i64 = n.parse().unwrap_or_else(|_| panic!("bad _step {s}"));
    match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        _ => panic!("bad _step unit in {s}"),
    }
}

fn value(y: &Yaml, i: Option<usize>) -> Value {
    match y {
        Yaml::Integer(n) => Value::Int(*n),
        Yaml::Real(r) => Value::Float(r.parse().unwrap()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::String(s) => match i {
            Some(i) => Value::from(s.replace("{i}", &i.to_string())),
            None => Value::from(s.as_str()),
        },
        Yaml::Array(a) => Value::List(a.iter().map(|v| value(v, i)).collect()),
        other => panic!("unsupported event value {other:?}"),
    }
}

/// Builds the events of one case map (several with `_repeat`).
fn events(
    defaults: &Yaml,
    case: &Yaml,
    source: &Arc<str>,
    index: usize,
    base: DateTime<Utc>,
) -> Vec<Event> {
    let get = |k: &str| -> Option<&Yaml> {
        let key = Yaml::String(k.into());
        case.as_hash().and_then(|h| h.get(&key))
    };
    let start = get("_time")
        .map(|t| {
            DateTime::parse_from_rfc3339(t.as_str().expect("_time is a string"))
                .unwrap_or_else(|e| panic!("bad _time {t:?}: {e}"))
                .with_timezone(&Utc)
        })
        .unwrap_or(base);
    let repeat = get("_repeat").and_then(Yaml::as_i64).map(|n| n as usize);
    let every = get("_step")
        .and_then(Yaml::as_str)
        .map(step)
        .unwrap_or(Duration::seconds(1));
    (0..repeat.unwrap_or(1))
        .map(|k| {
            let mut e = Event::new(Origin {
                source: source.clone(),
                locator: Locator::Index(index as u64),
            });
            e.timestamp = Some(start + every * k as i32);
            let mut fields: Vec<(String, Value)> = Vec::new();
            for map in [defaults, case] {
                let Some(h) = map.as_hash() else { continue };
                for (key, v) in h {
                    let key = key.as_str().expect("field names are strings").to_string();
                    if key.starts_with('_') {
                        continue;
                    }
                    let v = value(v, repeat.map(|_| k));
                    match fields.iter_mut().find(|(n, _)| *n == key) {
                        Some(slot) => slot.1 = v,
                        None => fields.push((key, v)),
                    }
                }
            }
            for (k, v) in fields {
                match k.as_str() {
                    "EventID" => e.event_id = v.as_i64().map(|n| n as u32),
                    "Channel" => e.channel = Some(v.to_text().into()),
                    "Computer" => e.computer = Some(v.to_text().into()),
                    "Provider_Name" => e.provider = Some(v.to_text().into()),
                    _ => {}
                }
                e.push(k.as_str(), v);
            }
            e
        })
        .collect()
}

fn is_target(meta: &vigie_detect::RuleMeta, target: &str) -> bool {
    meta.id.as_deref() == Some(target) || meta.name.as_deref() == Some(target)
}

/// Firings of `target` for `events` fed in time order to a fresh correlator.
fn run(engine: &Engine, target: &str, mut evs: Vec<Event>) -> usize {
    evs.sort_by_key(|e| e.timestamp);
    let mut corr = engine.correlator();
    let mut n = 0;
    let mut out = Vec::new();
    for e in &evs {
        out.clear();
        engine.evaluate(e, &mut out);
        n += out.iter().filter(|m| is_target(&m.rule, target)).count();
        let t = e.timestamp.expect("test events have a time");
        n += corr
            .observe(t, &out)
            .iter()
            .filter(|c| is_target(&c.rule, target))
            .count();
    }
    n += corr
        .finish()
        .iter()
        .filter(|c| is_target(&c.rule, target))
        .count();
    n
}

#[test]
fn every_rule_passes_its_test_cases() {
    let (engine, known) = engine();
    let (rules, _) = files();
    let base: DateTime<Utc> = "2026-01-05T10:00:00Z".parse().unwrap();
    let mut failures = Vec::new();
    let mut cases = 0usize;
    for rule in &rules {
        let tpath = test_path(rule);
        let Ok(text) = std::fs::read_to_string(&tpath) else {
            continue; // reported by every_rule_file_has_a_test_file...
        };
        let file = rel(&tpath);
        let source: Arc<str> = Arc::from(file.as_str());
        let rule_docs = YamlLoader::load_from_str(&std::fs::read_to_string(rule).unwrap()).unwrap();
        let first_id = rule_docs[0]["id"].as_str().unwrap_or_default().to_string();
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (di, doc) in docs.iter().enumerate() {
            let target = doc["rule"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(first_id.clone());
            if !known.contains(&target) {
                failures.push(format!(
                    "{file} doc {di}: rule {target} is not in the compiled pack"
                ));
                continue;
            }
            let in_file = rule_docs
                .iter()
                .any(|d| d["id"].as_str() == Some(&target) || d["name"].as_str() == Some(&target));
            if !in_file {
                failures.push(format!(
                    "{file} doc {di}: rule {target} is not defined in {}",
                    rel(rule)
                ));
            }
            let defaults = &doc["defaults"];
            let (mut pos, mut neg) = (0, 0);
            let empty = Vec::new();
            for (expect, key) in [(true, "match"), (false, "no_match")] {
                for (ci, case) in doc[key].as_vec().unwrap_or(&empty).iter().enumerate() {
                    cases += 1;
                    let evs = events(defaults, case, &source, ci, base);
                    let fired = run(&engine, &target, evs) > 0;
                    if expect {
                        pos += 1
                    } else {
                        neg += 1
                    }
                    if fired != expect {
                        failures.push(format!(
                            "{file} doc {di} {key}[{ci}]: expected {}, got {} for {case:?}",
                            if expect { "a match" } else { "no match" },
                            if fired { "a match" } else { "none" }
                        ));
                    }
                }
            }
            for seq in doc["sequences"].as_vec().unwrap_or(&empty) {
                cases += 1;
                let name = seq["name"].as_str().unwrap_or("?");
                let expect = seq["expect"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{file}: sequence {name} has no expect"))
                    as usize;
                if expect > 0 {
                    pos += 1
                } else {
                    neg += 1
                }
                let mut evs = Vec::new();
                for (ci, case) in seq["events"].as_vec().unwrap_or(&empty).iter().enumerate() {
                    evs.extend(events(defaults, case, &source, ci, base));
                }
                let got = run(&engine, &target, evs);
                if got != expect {
                    failures.push(format!(
                        "{file} doc {di} sequence '{name}': expected {expect} firing(s), got {got}"
                    ));
                }
            }
            if pos == 0 || neg == 0 {
                failures.push(format!(
                    "{file} doc {di}: needs cases that must fire ({pos}) and cases that must not ({neg})"
                ));
            }
        }
    }
    eprintln!("{cases} cases over {} rule files", rules.len());
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
