//! Rough single-thread throughput of the engine on real events.
//!
//! `cargo run --release -p vigie-detect --example throughput -- <rules dir>... -- <event files or dirs>...`
//! Defaults: the SigmaHQ Windows rules and the EVTX attack samples of the
//! shared corpus. Prints load/compile times and events/s with and without
//! the literal prefilter.

use std::path::PathBuf;
use std::time::Instant;

use vigie_detect::{load_paths, Engine, EvalCounters, LoadOptions};

/// CPU time of this thread (ns), from /proc: wall time is meaningless on a
/// loaded shared machine.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let corpus = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    let (rules, inputs): (Vec<PathBuf>, Vec<PathBuf>) = match args.iter().position(|a| a == "--") {
        Some(i) => (
            args[..i].iter().map(PathBuf::from).collect(),
            args[i + 1..].iter().map(PathBuf::from).collect(),
        ),
        None => (
            vec![
                corpus.join("sigma/rules/windows"),
                corpus.join("sigma/rules-emerging-threats"),
                corpus.join("sigma/rules-threat-hunting"),
            ],
            vec![corpus.join("evtx-attack-samples")],
        ),
    };
    let t = Instant::now();
    let (set, report) = load_paths(&rules, &LoadOptions::default());
    let load = t.elapsed();
    let t = Instant::now();
    let c0 = cpu_ns();
    let (engine, fails) = Engine::compile(set);
    let compile = t.elapsed();
    if let (Some(a), Some(b)) = (c0, cpu_ns()) {
        println!("compile CPU time: {:.3} s", (b - a) as f64 / 1e9);
    }
    println!(
        "rules: {} detection loaded, {} load failures, {} compile failures; load {:?}, compile {:?}",
        report.detection,
        report.failures.len(),
        fails.len(),
        load,
        compile
    );
    println!("{:?}", engine.stats());
    let (files, _) = vigie_source::collect_inputs(&inputs);
    let mut events = Vec::new();
    for f in files {
        let (ev, _) = vigie_source::read_all(&f);
        events.extend(ev);
    }
    println!("events: {}", events.len());
    let mut out = Vec::new();
    let passes: usize = std::env::var("PASSES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(2);
    // /proc CPU times tick every few ms and a pass takes ~60 ms: report
    // the whole of passes 1.. as well (pass 0 warms caches).
    let (mut total_cpu, mut total_events) = (0u64, 0usize);
    // COLD_KB=n: between events, touch n KB of a 64 MB buffer (one byte per
    // cache line), as parsing the next event does in a real hunt: the
    // engine's tables are then as cold as they are there. The touching is
    // timed too; compare runs with the same COLD_KB.
    let cold_kb: usize = std::env::var("COLD_KB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut cold = vec![0u8; if cold_kb > 0 { 64 << 20 } else { 0 }];
    let mut cold_at = 0usize;
    for pass in 0..passes {
        let mut c = EvalCounters::default();
        let cpu0 = cpu_ns();
        let t = Instant::now();
        for e in &events {
            out.clear();
            engine.evaluate_counted(e, &mut out, &mut c);
            for _ in 0..cold_kb * 16 {
                cold[cold_at] = cold[cold_at].wrapping_add(1);
                cold_at = (cold_at + 64) % cold.len();
            }
        }
        let dt = t.elapsed();
        if let (Some(a), Some(b)) = (cpu0, cpu_ns()) {
            if pass > 0 {
                total_cpu += b - a;
                total_events += events.len();
            }
            println!(
                "prefiltered (pass {pass}): {:.0} events/s of CPU time",
                events.len() as f64 / ((b - a) as f64 / 1e9)
            );
        }
        println!(
            "prefiltered (pass {pass}): {:.0} events/s wall; per event: {:.1} indexed, {:.2} evaluated; {} matches",
            events.len() as f64 / dt.as_secs_f64(),
            c.indexed as f64 / c.events.max(1) as f64,
            c.evaluated as f64 / c.events.max(1) as f64,
            c.matches
        );
    }
    if total_cpu > 0 {
        println!(
            "prefiltered (passes 1..{passes}): {:.0} events/s of CPU time",
            total_events as f64 / (total_cpu as f64 / 1e9)
        );
    }
    if std::env::var_os("PROFILE_RULES").is_some() {
        let mut counts: std::collections::HashMap<String, (usize, usize)> = Default::default();
        let mut groups: std::collections::HashMap<(Option<String>, Option<u32>), usize> =
            Default::default();
        for e in &events {
            *groups
                .entry((e.channel.as_deref().map(String::from), e.event_id))
                .or_default() += 1;
            out.clear();
            engine.evaluate(e, &mut out);
            for r in engine.selected_rules(e) {
                let c = counts.entry(r.title.clone()).or_default();
                c.0 += 1;
                if out.iter().any(|m| m.rule.title == r.title) {
                    c.1 += 1;
                }
            }
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
        for (t, (n, m)) in v.iter().take(60) {
            println!("{n:6} evaluated {m:6} matched  {t}");
        }
        let mut g: Vec<_> = groups.into_iter().collect();
        g.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        for (k, n) in g.iter().take(12) {
            println!("{n:6} events {k:?}");
        }
    }
    if std::env::var_os("NO_UNFILTERED").is_some() {
        return;
    }
    let t = Instant::now();
    let mut n = 0;
    for e in &events {
        out.clear();
        engine.evaluate_unfiltered(e, &mut out);
        n += out.len();
    }
    let dt = t.elapsed();
    println!(
        "unfiltered: {:.0} events/s; {n} matches",
        events.len() as f64 / dt.as_secs_f64()
    );
}
