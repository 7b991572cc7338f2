//! The literal prefilter and the logsource index must never change what
//! matches: evaluating with the prefilter gives exactly the matches of
//! evaluating every rule the index selects, on real events (SigmaHQ
//! regression data and EVTX attack samples) and on case-mangled copies of
//! them (the prefilter is case-insensitive like the matchers).

mod common;

use std::path::Path;

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

fn ids(v: &[Match]) -> Vec<String> {
    v.iter().map(|m| m.rule.title.clone()).collect()
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
            let (mut a, mut b) = (Vec::new(), Vec::new());
            engine.evaluate(&v, &mut a);
            engine.evaluate_unfiltered(&v, &mut b);
            assert_eq!(
                ids(&a),
                ids(&b),
                "prefilter changed the result on {:?}",
                v.origin
            );
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
