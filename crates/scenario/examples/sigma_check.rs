//! Runs SigmaHQ rules over a generated scenario and reports, per attack
//! step, which expected titles fire, and the false positives on benign
//! events by rule (the week-scale counterpart of `tests/sigma_realism.rs`).
//!
//! `cargo run --release -p vigie-scenario --example sigma_check -- SCENARIO_DIR RULES_DIR`

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use vigie_detect::{load_paths, Engine, LoadOptions};
use vigie_event::Locator;
use vigie_scenario::GroundTruth;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(rules)) = (
        args.next().map(PathBuf::from),
        args.next().map(PathBuf::from),
    ) else {
        eprintln!("usage: sigma_check SCENARIO_DIR RULES_DIR");
        std::process::exit(2);
    };
    let gt: GroundTruth = match std::fs::read(dir.join("ground-truth.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{}: {e}", dir.join("ground-truth.json").display());
            std::process::exit(1);
        }
    };
    let start = Instant::now();
    let (set, report) = load_paths(&[rules], &LoadOptions::default());
    let (engine, _) = Engine::compile(set);
    println!(
        "{} detection rules loaded in {:.1} s",
        report.detection,
        start.elapsed().as_secs_f64()
    );

    let mut step_of: HashMap<(String, u64), u8> = HashMap::new();
    for s in &gt.steps {
        for e in &s.events {
            step_of.insert((e.file.clone(), e.line), s.number);
        }
    }
    let (files, _) = vigie_source::collect_inputs(&[dir.join("logs")]);
    let t = Instant::now();
    type Tally = (u64, BTreeMap<u8, BTreeSet<String>>, BTreeMap<String, u64>);
    let results: Vec<Tally> = files
        .par_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(&dir)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/");
            let (events, _) = vigie_source::read_all(f);
            let mut fired: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
            let mut fp: BTreeMap<String, u64> = BTreeMap::new();
            let mut out = Vec::new();
            for ev in &events {
                out.clear();
                engine.evaluate(ev, &mut out);
                if out.is_empty() {
                    continue;
                }
                let line = match ev.origin.locator {
                    Locator::Line(n) => n,
                    _ => 0,
                };
                match step_of.get(&(rel.clone(), line)) {
                    Some(s) => fired
                        .entry(*s)
                        .or_default()
                        .extend(out.iter().map(|m| m.rule.title.clone())),
                    None => {
                        for m in &out {
                            let product = m.rule.logsource.product.clone().unwrap_or_default();
                            let key = if product.is_empty() || product == "windows" {
                                m.rule.title.clone()
                            } else {
                                format!("{} [logsource product {product}]", m.rule.title)
                            };
                            *fp.entry(key).or_default() += 1;
                        }
                    }
                }
            }
            (events.len() as u64, fired, fp)
        })
        .collect();
    let mut events = 0;
    let mut fired: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
    let mut fp: BTreeMap<String, u64> = BTreeMap::new();
    for (n, f, p) in results {
        events += n;
        for (s, t) in f {
            fired.entry(s).or_default().extend(t);
        }
        for (k, v) in p {
            *fp.entry(k).or_default() += v;
        }
    }
    println!(
        "{events} events read and evaluated in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for s in &gt.steps {
        let got = fired.get(&s.number).cloned().unwrap_or_default();
        let ok: Vec<&String> = s.sigma_titles.iter().filter(|t| got.contains(*t)).collect();
        let missing: Vec<&String> = s
            .sigma_titles
            .iter()
            .filter(|t| !got.contains(*t))
            .collect();
        let wrong: Vec<&String> = s
            .sigma_must_not_fire
            .iter()
            .filter(|t| got.contains(*t))
            .collect();
        println!(
            "step {:>2} {:<18} expected fired {}/{}{}{}",
            s.number,
            s.name,
            ok.len(),
            s.sigma_titles.len(),
            if missing.is_empty() {
                String::new()
            } else {
                format!("; missing: {missing:?}")
            },
            if wrong.is_empty() {
                String::new()
            } else {
                format!("; MUST NOT FIRE but did: {wrong:?}")
            }
        );
    }
    let mut v: Vec<(String, u64)> = fp.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!(
        "false positives on benign events: {} detections, {} rules",
        v.iter().map(|x| x.1).sum::<u64>(),
        v.len()
    );
    for (t, n) in v {
        println!("  {n:>8}  {t}");
    }
}
