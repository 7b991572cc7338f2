//! Property-based fuzzing of the rule loader and of event evaluation.
//!
//! Why: rules come from users (`--rules`) and events from damaged or
//! hostile logs, so neither may crash the engine or vanish silently. The
//! properties checked:
//!
//! * any text given to `load_str` returns; every YAML document in it is
//!   accounted for (loaded, deselected, or reported as a failure with a
//!   reason), so a bad rule is never silently lost;
//! * any rule that loads compiles or is reported, never panics;
//! * any event (random names, unicode, huge strings, numbers, lists,
//!   nulls) evaluates without panic against the real SigmaHQ rules and
//!   against random rules, and the literal prefilter and the logsource
//!   index only ever skip rules that could not match (`evaluate` equals
//!   `evaluate_unfiltered` and is a subset of `evaluate_everything`).
//!
//! 1,024 cases per property keep the whole file under ~30 s in release
//! (`cargo test --release -p vigie-detect --test fuzz`; 128 cases in debug
//! builds, see [`cases`]); raise them with `PROPTEST_CASES` for a longer
//! run. A coverage-guided libFuzzer target with the same properties lives
//! in `crates/detect/fuzz` (`cargo +nightly fuzz run load_and_eval`).

mod common;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use vigie_detect::{load_paths, load_str, Engine, LoadOptions, Match};
use vigie_event::{Event, Locator, Origin, Value};

// ---------------------------------------------------------------- rules

const FIELDS: &[&str] = &[
    "Image",
    "CommandLine",
    "ParentImage",
    "TargetFilename",
    "EventID",
    "User",
    "LogonType",
    "IpAddress",
    "Hashes",
    "ScriptBlockText",
    "Details",
    "TargetObject",
    "DestinationPort",
    "Provider_Name",
    "Channel",
    "Weird Field",
    "a.b.c",
    "Événementÿ",
];

const MODIFIERS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "all",
    "re",
    "i",
    "m",
    "s",
    "base64",
    "base64offset",
    "wide",
    "utf16le",
    "utf16be",
    "utf16",
    "windash",
    "cidr",
    "lt",
    "lte",
    "gt",
    "gte",
    "exists",
    "cased",
    "fieldref",
    "expand",
    "neq",
    "hour",
    "bogus",
];

const CATEGORIES: &[&str] = &[
    "process_creation",
    "file_event",
    "registry_set",
    "network_connection",
    "ps_script",
    "nonexistent",
];

/// A scalar as written in YAML (quoted strings with wildcards and
/// escapes, numbers, booleans, null, regex-looking text).
fn yaml_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 .:/\\\\*?-]{0,16}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
        "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).expect("string")),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("''".to_string()),
        Just("'*'".to_string()),
        Just("'\\\\*'".to_string()),
        Just("'(a|b'".to_string()),
        Just("'10.0.0.0/8'".to_string()),
        Just("'%placeholder%'".to_string()),
    ]
}

/// One `field|mod|mod: value(s)` line of a selection.
fn detection_item() -> impl Strategy<Value = String> {
    (
        prop::sample::select(FIELDS),
        prop_oneof![
            4 => Just(Vec::new()),
            4 => prop::sample::select(&["contains", "startswith", "endswith"][..])
                .prop_map(|m| vec![m]),
            1 => Just(vec!["contains", "all"]),
            2 => prop::collection::vec(prop::sample::select(MODIFIERS), 1..3),
        ],
        prop::collection::vec(yaml_scalar(), 1..4),
        any::<bool>(),
    )
        .prop_map(|(f, mods, vals, list)| {
            let mut key = f.to_string();
            for m in mods {
                key.push('|');
                key.push_str(m);
            }
            let key = serde_json::to_string(&key).expect("key");
            if list || vals.len() > 1 {
                let mut s = format!("        {key}:\n");
                for v in vals {
                    s.push_str(&format!("            - {v}\n"));
                }
                s
            } else {
                format!("        {key}: {}\n", vals[0])
            }
        })
}

fn condition() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(&[
            "sel0",
            "1 of sel*",
            "all of them",
            "sel0 and not 1 of sel1*",
            "not sel0",
            "1 of them",
        ][..]).prop_map(str::to_string),
        1 => prop::sample::select(&[
            "sel0 and not sel1",
            "sel0 or (sel1 and not sel2)",
            "sel0 |",
            "missing",
            "((sel0)",
            "keywords",
        ][..]).prop_map(str::to_string),
        1 => "[a-z0-9 ()|*]{0,20}",
    ]
}

/// A whole rule document: mostly well-formed structure with random
/// content, sometimes broken in a structural place.
fn rule_doc() -> impl Strategy<Value = String> {
    (
        "[A-Za-z0-9 ]{0,20}",
        prop::sample::select(CATEGORIES),
        prop::collection::vec(prop::collection::vec(detection_item(), 1..4), 1..4),
        condition(),
        prop::option::of(prop::collection::vec("[a-z]{1,8}", 1..3)),
        prop::sample::select(&["low", "medium", "high", "critical", "high", "bogus"][..]),
        0u8..20,
    )
        .prop_map(|(title, cat, sels, cond, keywords, level, breakage)| {
            let mut s = format!(
                "title: '{title}'\nlogsource:\n    product: windows\n    category: {cat}\ndetection:\n"
            );
            for (i, items) in sels.iter().enumerate() {
                s.push_str(&format!("    sel{i}:\n"));
                for it in items {
                    s.push_str(it);
                }
            }
            if let Some(k) = keywords {
                s.push_str("    keywords:\n");
                for w in k {
                    s.push_str(&format!("        - '{w}'\n"));
                }
            }
            match breakage {
                0 => {} // no condition at all
                1 => s.push_str("    condition:\n        - sel0\n        - sel1\n"),
                _ => s.push_str(&format!("    condition: '{}'\n", cond.replace('\'', "''"))),
            }
            s.push_str(&format!("level: {level}\n"));
            s
        })
}

/// Random text: must never crash the loader.
fn garbage_doc() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        "[a-z:{}\\[\\]'\"|>\\- \n]{0,200}",
        Just("title: x\ndetection: [1, 2]\n".to_string()),
        Just("title: x\nlogsource: 5\ndetection:\n  sel: {a: 1}\n  condition: sel\n".to_string()),
        Just("- a\n- b\n".to_string()),
        Just("title: x\naction: global\n".to_string()),
        Just("title: c\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 5x\n  condition: {gte: 2}\n".to_string()),
        Just("title: f\nfilter:\n  rules: [a]\n  selection: {User: x}\n  condition: selection\nlogsource: {product: windows}\n".to_string()),
        Just("&a [*a]".to_string()),
    ]
}

/// YAML documents, as the loader must see them: the expected number of
/// documents a loader has to account for, or `None` when the text is
/// ambiguous (a piece that itself holds document markers).
fn expected_documents(pieces: &[String]) -> Option<usize> {
    let mut n = 0;
    for p in pieces {
        if p.lines()
            .any(|l| l.starts_with("---") || l.starts_with("...") || l.starts_with('%'))
        {
            return None;
        }
        match yaml_rust2::YamlLoader::load_from_str(p) {
            Ok(docs) if docs.len() > 1 => return None,
            Ok(docs) => {
                n += docs
                    .iter()
                    .filter(|d| !matches!(d, yaml_rust2::Yaml::Null))
                    .count()
            }
            Err(_) => n += 1,
        }
    }
    Some(n)
}

// ------------------------------------------------------ hostile shapes

/// The largest hostile piece built (bytes): several limits are crossed
/// well below it, and it keeps a case fast.
const HOSTILE_BYTES: usize = 3 << 20;

/// A document built to trip the loader (issue 19): deep block or flow
/// nesting, alias chains that multiply, huge scalars (in values, regexes,
/// conditions, keys), deeply nested conditions, anchors in odd places.
/// Sizes are drawn on both sides of each limit.
fn hostile_doc() -> impl Strategy<Value = String> {
    let rule = |detection: String| {
        format!("title: Hostile\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n{detection}level: low\n")
    };
    prop_oneof![
        // Block nesting, inside a rule value or as the whole document.
        (1usize..5_000, any::<bool>()).prop_map(move |(n, inside)| if inside {
            rule(format!("  sel:\n    Image:\n{}x\n  condition: sel\n", "      - ".repeat(n)))
        } else {
            format!("{}x\n", "- ".repeat(n))
        }),
        // Flow nesting (the scanner stops at 255 levels itself).
        (1usize..400, prop::sample::select(&["[", "{a: "][..])).prop_map(|(n, open)| {
            let close = if open == "[" { "]" } else { "}" };
            format!("{}x{}\n", open.repeat(n), close.repeat(n))
        }),
        // Alias chains: each level `width` aliases of the previous.
        (1usize..14, 1usize..10, any::<bool>()).prop_map(move |(levels, width, in_rule)| {
            let mut s = String::from("title: Aliases\nlogsource: {product: windows}\na0: &a0 [x]\n");
            for i in 1..levels {
                let items = vec![format!("*a{}", i - 1); width].join(", ");
                s.push_str(&format!("a{i}: &a{i} [{items}]\n"));
            }
            if in_rule {
                s.push_str(&format!("detection:\n  sel:\n    Image: *a{}\n  condition: sel\n", levels - 1));
            }
            s
        }),
        // Huge scalars where messages quote them.
        (1usize..HOSTILE_BYTES, prop::sample::select(&["value", "re", "key", "condition", "title"][..]))
            .prop_map(move |(n, place)| {
                let big = "ab-".repeat(n / 3 + 1);
                match place {
                    "value" => rule(format!("  sel:\n    CommandLine|windash|contains: '{big}'\n  condition: sel\n")),
                    "re" => rule(format!("  sel:\n    CommandLine|re: '{big}('\n  condition: sel\n")),
                    "key" => rule(format!("  sel:\n    {big}|bogus: x\n  condition: sel\n")),
                    "condition" => rule(format!("  sel:\n    Image: x\n  condition: 'sel and {big}'\n")),
                    _ => format!("title: '{big}'\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    Image|nope: x\n  condition: sel\n"),
                }
            }),
        // Nested conditions.
        (1usize..3_000, prop::sample::select(&["not ", "(", "(not "][..])).prop_map(move |(n, open)| {
            let close = if open == "not " { "" } else { ")" };
            rule(format!("  sel:\n    Image: x\n  condition: '{}sel{}'\n", open.repeat(n), close.repeat(n)))
        }),
        // Many values and many modifiers that multiply them.
        (1usize..200_000).prop_map(move |n| {
            let mut s = String::from("  sel:\n    CommandLine|windash|base64offset|contains:\n");
            for i in 0..n.min(60_000) {
                s.push_str(&format!("      - ' -a{i} -b'\n"));
            }
            s.push_str("  condition: sel\n");
            rule(s)
        }),
        // Anchors on keys, merge keys, aliases to scalars.
        Just("title: &t T\nid: *t\nlogsource: {product: windows}\ndetection:\n  sel: &s {Image: x}\n  other: *s\n  <<: {condition: sel}\n  condition: other\n".to_string()),
    ]
}

// --------------------------------------------------------------- events

fn origin() -> Origin {
    Origin {
        source: Arc::from("fuzz"),
        locator: Locator::None,
    }
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        "\\PC{0,40}".prop_map(Value::from),
        "[a-zA-Z0-9\\\\:./ -]{0,60}".prop_map(Value::from),
        // Huge strings: quadratic or recursive matching would show here.
        (1usize..200_000, "[a-zA-Z\\\\/-]{1,4}")
            .prop_map(|(n, s)| Value::from(s.repeat(n / s.len().max(1) + 1))),
        Just(Value::from("C:\\Windows\\System32\\cmd.exe /c whoami")),
        Just(Value::from("powershell -enc SQBFAFgA")),
        Just(Value::from("10.1.2.3")),
        Just(Value::from("0x10")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::List)
    })
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::option::of(prop::sample::select(
            &[
                "Security",
                "Microsoft-Windows-Sysmon/Operational",
                "Microsoft-Windows-PowerShell/Operational",
                "System",
                "Application",
                "",
            ][..],
        )),
        prop::option::of(prop_oneof![
            prop::sample::select(&[1u32, 3, 4104, 4624, 4688, 7045, 11, 13][..]),
            any::<u32>()
        ]),
        prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(FIELDS).prop_map(str::to_string),
                    "\\PC{0,12}",
                ],
                value(),
            ),
            0..12,
        ),
    )
        .prop_map(|(channel, eid, fields)| {
            let mut e = Event::new(origin());
            e.channel = channel.map(Into::into);
            e.event_id = eid;
            if let Some(c) = channel {
                e.push("Channel", c);
            }
            if let Some(i) = eid {
                e.push("EventID", i as i64);
            }
            for (k, v) in fields {
                e.push(k.as_str(), v);
            }
            e
        })
}

/// Evaluates every way the engine offers and checks the index and the
/// prefilter only skip rules that could not match.
fn check_event(engine: &Engine, ev: &Event) -> Result<(), TestCaseError> {
    let ids = |v: &[Match]| {
        let mut x: Vec<String> = v
            .iter()
            .map(|m| format!("{:?}{}", m.rule.id, m.rule.path.display()))
            .collect();
        x.sort();
        x
    };
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    engine.evaluate(ev, &mut a);
    engine.evaluate_unfiltered(ev, &mut b);
    engine.evaluate_everything(ev, &mut c);
    let (a, b, c) = (ids(&a), ids(&b), ids(&c));
    prop_assert_eq!(&a, &b, "the literal prefilter changed the result");
    prop_assert!(
        a.iter().all(|x| c.contains(x)),
        "the logsource index added a match"
    );
    Ok(())
}

fn sigmahq() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let corpus = common::corpus()?;
            let (set, _) = load_paths(
                &[
                    corpus.join("sigma/rules/windows"),
                    corpus.join("sigma/rules-emerging-threats"),
                    corpus.join("sigma/rules-threat-hunting"),
                ],
                &LoadOptions::default(),
            );
            Some(Engine::compile(set).0)
        })
        .as_ref()
}

/// Cases per property: 1,024 in release (~6 s for the file), 128 in
/// debug builds (~20x slower); `PROPTEST_CASES` overrides both.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 128 } else { 1024 })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Any text: the loader returns and accounts for every document.
    #[test]
    fn loader_accounts_for_every_document(
        pieces in prop::collection::vec(prop_oneof![3 => rule_doc(), 1 => garbage_doc()], 1..5)
    ) {
        let text = pieces.join("\n---\n");
        let (set, report) = load_str(&text, Path::new("fuzz.yml"), &LoadOptions::default());
        for f in &report.failures {
            prop_assert!(!f.reason.is_empty(), "failure without a reason: {:?}", f);
        }
        let accounted = report.detection + report.correlation + report.filter
            + report.deselected + report.failures.len();
        prop_assert_eq!(set.len() + report.failures.len() + report.deselected, accounted);
        if let Some(n) = expected_documents(&pieces) {
            prop_assert_eq!(accounted, n, "documents lost or invented:\n{}\n{:#?}", text, report);
        }
        // Whatever loaded compiles or is reported, and runs.
        let (engine, fails) = Engine::compile(set);
        for f in &fails {
            prop_assert!(!f.reason.is_empty());
        }
        // Every loaded detection rule is compiled or reported (failures
        // may also name filters and correlations).
        prop_assert!(engine.rules().len() <= report.detection);
        prop_assert!(engine.rules().len() + fails.len() >= report.detection);
        let mut ev = Event::new(origin());
        ev.channel = Some("Microsoft-Windows-Sysmon/Operational".into());
        ev.event_id = Some(1);
        ev.push("Image", "C:\\Windows\\System32\\cmd.exe");
        ev.push("CommandLine", "cmd /c whoami");
        check_event(&engine, &ev)?;
    }

    /// A hostile document between two good rules: the good rules load,
    /// the hostile one loads or is one failure with a bounded reason, and
    /// nothing panics or grows without bound (the limits cap what any of
    /// these may take; a run of the shapes at full size is in
    /// `tests/hostile.rs`, under a memory limit).
    #[test]
    fn hostile_documents_fail_alone(doc in hostile_doc()) {
        let good = |i: usize| format!("title: Good {i}\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\good{i}.exe'\n  condition: sel\n");
        let text = format!("{}\n---\n{doc}\n---\n{}", good(1), good(2));
        let (set, report) = load_str(&text, Path::new("hostile.yml"), &LoadOptions::default());
        let (engine, fails) = Engine::compile(set);
        let titles: Vec<&str> = engine.rules().iter().map(|r| r.title.as_str()).collect();
        prop_assert!(titles.contains(&"Good 1") && titles.contains(&"Good 2"), "{:?} {:#?}", titles, report.failures);
        let all: Vec<_> = report.failures.iter().chain(&fails).collect();
        prop_assert!(all.len() <= 1, "{:#?}", all);
        for f in all {
            prop_assert!(!f.reason.is_empty());
            prop_assert!(f.reason.chars().count() <= 700, "{} chars", f.reason.chars().count());
            prop_assert!(!f.reason.chars().any(char::is_control), "{:?}", f.reason);
            prop_assert!(f.title.as_ref().is_none_or(|t| t.chars().count() <= 200), "{:?}", f.title);
        }
    }

    /// Random rules against random events.
    #[test]
    fn random_rules_on_random_events(
        docs in prop::collection::vec(rule_doc(), 1..4),
        events in prop::collection::vec(event(), 1..4),
    ) {
        let (set, _) = load_str(&docs.join("\n---\n"), Path::new("fuzz.yml"), &LoadOptions::default());
        let (engine, _) = Engine::compile(set);
        for ev in &events {
            check_event(&engine, ev)?;
        }
    }

    /// Random events against the real SigmaHQ Windows rules.
    #[test]
    fn sigmahq_rules_on_random_events(ev in event()) {
        if let Some(engine) = sigmahq() {
            check_event(engine, &ev)?;
        }
    }
}

/// The rule generator is only useful if a fair share of its rules load,
/// compile and sometimes match: otherwise the properties above would
/// only ever exercise error paths.
#[test]
fn rule_generator_is_not_degenerate() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let (mut loaded, mut compiled, mut failed) = (0, 0, 0);
    let mut reasons = std::collections::BTreeMap::new();
    for _ in 0..300 {
        let doc = rule_doc().new_tree(&mut runner).expect("tree").current();
        let (set, report) = load_str(&doc, Path::new("gen.yml"), &LoadOptions::default());
        loaded += report.detection;
        failed += report.failures.len();
        let (engine, fails) = Engine::compile(set);
        compiled += engine.rules().len();
        for f in report.failures.iter().chain(&fails) {
            let key: String = f.reason.chars().take(40).collect();
            *reasons.entry(key).or_insert(0usize) += 1;
        }
    }
    println!("generated 300 rules: {loaded} loaded, {failed} load failures, {compiled} compiled");
    println!("failure reasons: {reasons:#?}");
    assert!(
        loaded >= 120 && failed >= 10,
        "loaded {loaded}, failed {failed}"
    );
    assert!(compiled >= 70, "compiled {compiled}");
}

/// Found by `loader_accounts_for_every_document`: a malformed document
/// made of a block scalar whose content starts at column 0 once swallowed
/// the next document (yaml-rust2 read `>` + `"` + `---` + the rule as one
/// scalar), and the rule of document 1 was neither loaded nor reported.
/// YAML 1.2 §9.1.2 makes `---` at column 0 a document marker that ends the
/// scalar; `load_str` now falls back to per-document parsing when the
/// whole-text parse finds fewer documents than there are markers.
#[test]
fn block_scalar_does_not_swallow_the_next_document() {
    let text = ">\n\"\n---\ntitle: T\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel0:\n        Image: x\n    condition: sel0\nlevel: low\n";
    let (_, report) = load_str(text, Path::new("fuzz.yml"), &LoadOptions::default());
    assert_eq!(
        report.detection + report.failures.len(),
        2,
        "both documents accounted for: {report:#?}"
    );
    assert_eq!(report.detection, 1, "the valid rule loads: {report:#?}");
}
