//! Realism check: the SigmaHQ rules that real logs of each attack step
//! trigger (docs/scenario.md) must fire on the generated events of that
//! step, read back through Vigie's own source and engine. Detections on
//! benign events are false positives: counted and printed by rule, never
//! hidden.
//!
//! Needs the SigmaHQ corpus (`$VIGIE_CORPUS`, default `../shared/corpus`):
//! skipped without it, except under `CI=true` where a missing corpus fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use vigie_detect::{load_paths, Engine, LoadOptions, Match};
use vigie_event::Locator;
use vigie_scenario::{generate, ScenarioConfig};

fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["sigma/rules"])
}

/// Expected titles that cannot fire today, and why. Reported, not failed;
/// any other missing title fails the test.
const KNOWN_GAPS: &[(&str, &str)] = &[];

#[test]
fn sigmahq_rules_fire_on_each_attack_step_and_false_positives_are_counted() {
    let Some(corpus) = corpus() else { return };
    let (rules, report) = load_paths(&[corpus.join("sigma/rules")], &LoadOptions::default());
    assert!(
        report.detection > 2000,
        "SigmaHQ rules loaded: {}",
        report.detection
    );
    let (engine, _failures) = Engine::compile(rules);

    let dir = tempfile::tempdir().unwrap();
    let g = generate(&ScenarioConfig::default(), dir.path()).unwrap();
    let gt = &g.ground_truth;

    // (relative file, line) -> step
    let mut step_of: HashMap<(String, u64), u8> = HashMap::new();
    for s in &gt.steps {
        for e in &s.events {
            step_of.insert((e.file.clone(), e.line), s.number);
        }
    }

    let mut fired: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
    let mut false_positives: BTreeMap<String, u64> = BTreeMap::new();
    let mut benign_events = 0u64;
    let mut read = 0u64;
    let mut out: Vec<Match> = Vec::new();
    for f in &g.files {
        let (events, rep) = vigie_source::read_all(&f.path);
        assert_eq!(
            rep.records_skipped,
            0,
            "{}: {:?}",
            f.path.display(),
            rep.errors
        );
        assert_eq!(events.len() as u64, f.events, "{}", f.path.display());
        let rel = rel_path(dir.path(), &f.path);
        for ev in &events {
            read += 1;
            out.clear();
            engine.evaluate(ev, &mut out);
            let line = match ev.origin.locator {
                Locator::Line(n) => n,
                ref other => panic!("JSON Lines/syslog events carry line numbers, got {other:?}"),
            };
            match step_of.get(&(rel.clone(), line)) {
                Some(step) => {
                    for m in &out {
                        fired.entry(*step).or_default().insert(m.rule.title.clone());
                    }
                }
                None => {
                    benign_events += 1;
                    for m in &out {
                        let product = m.rule.logsource.product.clone().unwrap_or_default();
                        let key = if product.is_empty()
                            || product == "windows"
                            || product == "fortinet"
                            || product == "fortigate"
                        {
                            m.rule.title.clone()
                        } else {
                            format!(
                                "{} [logsource product {product}: not in this scenario]",
                                m.rule.title
                            )
                        };
                        *false_positives.entry(key).or_default() += 1;
                    }
                }
            }
        }
    }
    assert_eq!(read, g.events);

    println!(
        "SigmaHQ detections per attack step (small scale, {} events):",
        g.events
    );
    let mut missing = Vec::new();
    let mut wrongly = Vec::new();
    for s in &gt.steps {
        let got = fired.get(&s.number).cloned().unwrap_or_default();
        println!("step {:>2} {}:", s.number, s.name);
        for t in &s.sigma_titles {
            let ok = got.contains(t);
            println!("   [{}] {t}", if ok { "fires" } else { "MISSING" });
            if !ok {
                missing.push(format!("step {}: {t}", s.number));
            }
        }
        for t in &s.sigma_must_not_fire {
            let bad = got.contains(t);
            println!(
                "   [{}] (must not fire) {t}",
                if bad { "FIRES" } else { "silent" }
            );
            if bad {
                wrongly.push(format!("step {}: {t}", s.number));
            }
        }
        let extra: Vec<&String> = got.iter().filter(|t| !s.sigma_titles.contains(t)).collect();
        if !extra.is_empty() {
            println!(
                "   also: {}",
                extra
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
    }
    let total_fp: u64 = false_positives.values().sum();
    println!(
        "False positives on {benign_events} benign events: {total_fp} detections, {} rules",
        false_positives.len()
    );
    let mut by_count: Vec<(&String, &u64)> = false_positives.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (t, n) in by_count {
        println!("   {n:>6}  {t}");
    }
    assert!(
        wrongly.is_empty(),
        "rules that must stay silent fired: {wrongly:?}"
    );
    let (known, unexpected): (Vec<String>, Vec<String>) = missing
        .into_iter()
        .partition(|m| KNOWN_GAPS.iter().any(|(t, _)| m.ends_with(t)));
    for k in &known {
        let why = KNOWN_GAPS
            .iter()
            .find(|(t, _)| k.ends_with(t))
            .map(|(_, w)| *w)
            .unwrap_or("");
        println!("known gap: {k}: {why}");
    }
    assert!(
        unexpected.is_empty(),
        "expected SigmaHQ rules did not fire: {unexpected:?}"
    );
}

fn rel_path(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}
