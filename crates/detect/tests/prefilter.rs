//! The literal prefilter and the logsource index must never change what
//! matches: evaluating with the prefilter gives exactly the matches of
//! evaluating every rule the index selects, on real events (SigmaHQ
//! regression data and EVTX attack samples) and on case-mangled copies of
//! them (the prefilter is case-insensitive like the matchers), and on
//! random rules and events over field names that resolve to one another
//! (`ThreatName` and `Threat Name`).

mod common;

use std::path::Path;

use proptest::prelude::*;
use vigie_detect::{load_paths, Engine, LoadOptions, Match};
use vigie_event::{Event, Value};

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_with_ext(&p, ext, out);
            } else if p.extension().and_then(|x| x.to_str()) == Some(ext) {
                out.push(p);
            }
        }
    }
}

fn mangle(e: &Event, f: fn(&str) -> String) -> Event {
    let mut m = e.clone();
    for (_, v) in m.fields.iter_mut() {
        if let Value::Str(s) = v {
            *v = Value::from(f(s));
        }
    }
    m
}

/// A Sysmon process creation (event 1) with these fields.
fn process_creation(fields: &[(&str, &str)]) -> Event {
    let mut e = Event::new(vigie_event::Origin {
        source: "t".into(),
        locator: vigie_event::Locator::None,
    });
    e.channel = Some("Microsoft-Windows-Sysmon/Operational".into());
    e.event_id = Some(1);
    e.push("EventID", 1i64);
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e
}

/// The engine of these rules, every one of which must load and compile.
fn engine_of(yaml: &str) -> Engine {
    let (set, report) =
        vigie_detect::load_str(yaml, Path::new("rules.yml"), &LoadOptions::default());
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let (engine, failures) = Engine::compile(set);
    assert!(failures.is_empty(), "{failures:?}");
    engine
}

fn ids(v: &[Match]) -> Vec<String> {
    v.iter().map(|m| m.rule.title.clone()).collect()
}

/// The titles of the rules matching `e`, with the prefilter and without
/// it (every rule the logsource index selects).
fn fast_and_full(engine: &Engine, e: &Event) -> (Vec<String>, Vec<String>) {
    let (mut fast, mut full) = (Vec::new(), Vec::new());
    engine.evaluate(e, &mut fast);
    engine.evaluate_unfiltered(e, &mut full);
    (ids(&fast), ids(&full))
}

#[test]
fn prefilter_never_drops_a_match() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (set, _) = load_paths(&common::rule_dirs(&corpus), &LoadOptions::default());
    let (engine, _) = Engine::compile(set);
    let mut events = Vec::new();
    let mut jsons = Vec::new();
    files_with_ext(&corpus.join("sigma/regression_data"), "json", &mut jsons);
    jsons.sort();
    for j in &jsons {
        events.extend(vigie_source::read_all(j).0);
    }
    let mut evtx = Vec::new();
    files_with_ext(&corpus.join("evtx-attack-samples"), "evtx", &mut evtx);
    evtx.sort();
    for f in evtx.iter().step_by(3) {
        events.extend(vigie_source::read_all(f).0.into_iter().take(15));
    }
    assert!(events.len() > 500, "only {} events", events.len());
    let (mut total, mut checked) = (0usize, 0usize);
    for e in &events {
        for v in [
            e.clone(),
            mangle(e, |s| s.to_uppercase()),
            mangle(e, |s| s.to_ascii_lowercase()),
        ] {
            let (a, b) = fast_and_full(&engine, &v);
            assert_eq!(a, b, "prefilter changed the result on {:?}", v.origin);
            total += a.len();
            checked += 1;
        }
    }
    println!("{checked} events checked, {total} matches");
    assert!(
        total > 100,
        "too few matches ({total}) for the check to mean anything"
    );
}

/// Case-insensitive patterns with non-ASCII letters have no ASCII literal
/// to require; the prefilter requires "some non-ASCII byte" instead, which
/// is only sound when the pattern's lower-case form keeps a non-ASCII
/// character. The Kelvin sign lower-cases to an ASCII `k`: such a pattern
/// must stay a candidate for plain ASCII values.
#[test]
fn non_ascii_patterns_are_prefiltered_soundly() {
    let rules = r#"
title: Homoglyph
id: 00000000-0000-4000-8000-0000000000a1
logsource: {product: windows, category: process_creation}
detection:
    selection: {CommandLine|contains: ['Ѕ', 'АДМИН']}
    condition: selection
level: low
---
title: Kelvin
id: 00000000-0000-4000-8000-0000000000a2
logsource: {product: windows, category: process_creation}
detection:
    selection: {CommandLine|contains: 'K-temp'}
    condition: selection
level: low
---
title: Circled M and emoji
id: 00000000-0000-4000-8000-0000000000a3
logsource: {product: windows, category: process_creation}
detection:
    selection: {CommandLine|contains: ['Ⓜ', '🦆', '🦉']}
    condition: selection
level: low
"#;
    let engine = engine_of(rules);
    let event = |cmd: &str| process_creation(&[("CommandLine", cmd)]);
    for (cmd, expected) in [
        ("net user ѕvc /add", vec!["Homoglyph"]),
        ("runas /user:админ cmd", vec!["Homoglyph"]),
        ("set k-TEMP=1", vec!["Kelvin"]),
        ("echo ⓜ", vec!["Circled M and emoji"]),
        ("echo 🦉", vec!["Circled M and emoji"]),
        ("plain ascii command", vec![]),
        ("café au lait", vec![]),
    ] {
        let e = event(cmd);
        let (fast, full) = fast_and_full(&engine, &e);
        assert_eq!(fast, full, "{cmd}");
        assert_eq!(fast, expected, "{cmd}");
    }
}

/// A rule's requirement has two clauses when it can: a common image
/// literal alone would make the rule a candidate for every process under
/// `\Windows\`; the command-line fragments of the same selection must be
/// required too. Across an `or`, clauses join (one of the branches must
/// hold), so an event meeting only the other branch is still a candidate.
#[test]
fn requirements_keep_a_second_clause() {
    let rules = r#"
title: Traversal
id: 00000000-0000-4000-8000-0000000000b1
logsource: {product: windows, category: process_creation}
detection:
    selection_1:
        Image|contains: '\Windows\'
        CommandLine|contains: ['\..\Windows\', '\..\..\']
    selection_2:
        CommandLine|contains: '.exe\..\'
    condition: 1 of selection_*
level: low
"#;
    let engine = engine_of(rules);
    let event =
        |image: &str, cmd: &str| process_creation(&[("Image", image), ("CommandLine", cmd)]);
    let sys = r"C:\Windows\System32\cmd.exe";
    for (image, cmd, candidate, matched) in [
        // The image literal alone: not a candidate any more.
        (sys, "cmd /c dir", false, false),
        // Both clauses of the first branch.
        (sys, r"cmd /c C:\x\..\Windows\a.exe", true, true),
        // The command-line clause alone (image elsewhere): a candidate
        // through the second branch's literal set joined into it.
        (r"C:\Tools\x.exe", r"x.exe\..\..\y", true, true),
        (r"C:\Tools\x.exe", r"x.exe\..\y", true, true),
        (r"C:\Tools\x.exe", "x.exe y", false, false),
    ] {
        let e = event(image, cmd);
        let selected = !engine.selected_rules(&e).is_empty();
        assert_eq!(selected, candidate, "{image} {cmd}");
        let (fast, full) = fast_and_full(&engine, &e);
        assert_eq!(fast, full, "{image} {cmd}");
        assert_eq!(!fast.is_empty(), matched, "{image} {cmd}");
    }
}

/// The prefilter remembers, per thread, the last value each field
/// automaton scanned and the rules it marked. Two engines used in turn on
/// one thread (a test suite, `vigie serve` with several rule sets) must
/// not read each other's memo: automaton numbers mean different fields in
/// each, and a stale "this value marks nothing" would drop a detection.
#[test]
fn engines_in_turn_do_not_share_memos() {
    let rule = |id: u8, field: &str, lit: &str| {
        format!(
            "title: R{id}\nid: 00000000-0000-4000-8000-0000000000c{id}\n\
             logsource: {{product: windows, category: process_creation}}\n\
             detection:\n    selection: {{{field}|contains: '{lit}'}}\n    condition: selection\nlevel: low\n"
        )
    };
    // Field automata are numbered by field name: A's automaton 0 is
    // CommandLine, B's is Company.
    let a = engine_of(&rule(1, "CommandLine", "zzz"));
    let b = engine_of(&format!(
        "{}---\n{}",
        rule(2, "Company", "acme"),
        rule(3, "CommandLine", "bad")
    ));
    let event =
        |company: &str, cmd: &str| process_creation(&[("Company", company), ("CommandLine", cmd)]);
    for (company, cmd, in_a, in_b) in [
        ("Acme", "acme", vec![], vec!["R2"]),
        ("Acme", "acme", vec![], vec!["R2"]),
        ("Other", "zzz bad", vec!["R1"], vec!["R3"]),
        ("Acme", "acme", vec![], vec!["R2"]),
    ] {
        let e = event(company, cmd);
        for (engine, expected) in [(&a, &in_a), (&b, &in_b)] {
            let mut out = Vec::new();
            engine.evaluate(&e, &mut out);
            let mut titles: Vec<String> = out.iter().map(|m| m.rule.title.clone()).collect();
            titles.sort();
            assert_eq!(&titles, expected, "{company} {cmd}");
        }
    }
}

/// A field named with a space (`Threat Name` in Defender events) is read
/// by rules that test `Threat Name` and by rules that test `ThreatName`.
/// When both kinds of rule are loaded, the value must be scanned for the
/// literals of both: scanning it only with its exact name's automaton
/// dropped the `ThreatName` rule.
#[test]
fn spaced_field_is_scanned_under_both_names() {
    let rules = r#"
title: Spaceless
id: 00000000-0000-4000-8000-0000000000c1
logsource: {product: windows, category: process_creation}
detection:
    selection:
        ParentImage|contains: 'mimikatz'
    condition: selection
level: high
---
title: Spaced
id: 00000000-0000-4000-8000-0000000000c2
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Parent Image|contains: 'rubeus'
    condition: selection
level: high
"#;
    let engine = engine_of(rules);
    for (parent, expected) in [
        (r"C:\t\mimikatz.exe", vec!["Spaceless"]),
        (r"C:\t\Rubeus.exe", vec!["Spaced"]),
        (r"C:\t\mimikatz-rubeus.exe", vec!["Spaceless", "Spaced"]),
        (r"C:\Windows\explorer.exe", vec![]),
    ] {
        let e = process_creation(&[("Parent Image", parent)]);
        let (fast, full) = fast_and_full(&engine, &e);
        assert_eq!(full, expected, "{parent}: full evaluation");
        assert_eq!(fast, expected, "{parent}: with the prefilter");
    }
}

/// Field names that look each other up: Sigma's `ThreatName` also reads
/// an event's `Threat Name` (and `Th reatName`), and each is also a name
/// of its own.
const SPACED_NAMES: &[&str] = &["ThreatName", "Threat Name", "Th reatName", "Threat"];

/// One rule testing one of [`SPACED_NAMES`] with a short literal.
fn spaced_name_rule() -> impl Strategy<Value = String> {
    (
        prop::sample::select(SPACED_NAMES),
        prop::sample::select(&["", "|contains", "|startswith", "|endswith"][..]),
        "[ab]{1,3}",
    )
        .prop_map(|(field, modifier, value)| format!("{field}{modifier}: '{value}'"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random rules and events over names that resolve to one another:
    /// the prefilter selects every rule that matches, whichever names the
    /// rules and the event use.
    #[test]
    fn prefilter_follows_every_name_a_field_answers_to(
        tests in prop::collection::vec(spaced_name_rule(), 1..5),
        fields in prop::collection::vec((prop::sample::select(SPACED_NAMES), "[ab]{0,5}"), 1..4),
    ) {
        let rules: Vec<String> = tests
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "title: R{i}\nid: 00000000-0000-4000-8000-{i:012}\n\
                     logsource: {{product: windows, category: process_creation}}\n\
                     detection:\n    selection:\n        {t}\n    condition: selection\n"
                )
            })
            .collect();
        let engine = engine_of(&rules.join("---\n"));
        let e = process_creation(
            &fields.iter().map(|(n, v)| (*n, v.as_str())).collect::<Vec<_>>(),
        );
        let (fast, full) = fast_and_full(&engine, &e);
        prop_assert_eq!(fast, full, "rules {:?} event {:?}", tests, fields);
    }
}
