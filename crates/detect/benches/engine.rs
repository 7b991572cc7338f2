//! Throughput of the Sigma engine, side by side with rsigma-eval 0.23.0.
//!
//! `cargo bench -p vigie-detect --bench engine`
//!
//! The SigmaHQ Windows set (rules/windows, rules-emerging-threats,
//! rules-threat-hunting) is parsed once; the benchmark times compiling it
//! (Vigie: `Engine::compile`; rsigma-eval: `Engine::add_rules`) and then
//! evaluating every event of the EVTX attack samples, already in memory,
//! on one thread (Vigie: `Vigie events`; rsigma-eval: the same events as
//! the flat JSON objects it reads, converted beforehand).
//!
//! Why CPU time rather than wall time: the benchmark machine is shared
//! (load average far above its core count while other builds run), so
//! wall time measures the scheduler. The measurement here is the CPU time
//! of the benchmarking thread (`/proc/thread-self/schedstat`), which is
//! what "events/s per core" means. A summary at the end prints events/s
//! per core of both engines, their ratio, and the compile times.
//!
//! Without the corpus (see `VIGIE_CORPUS`) the benchmark prints why and
//! does nothing.

use std::path::PathBuf;
use std::time::Duration;

#[path = "../tests/support/mod.rs"]
mod support;
use support::{files, to_json};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BatchSize, Criterion, Throughput};
use vigie_detect::{load_paths, Engine, LoadOptions, Match};
use vigie_event::Event;

/// CPU time consumed by the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat (Linux) is needed for CPU-time measurement")
}

/// Criterion measurement: CPU time of the benchmarking thread.
struct ThreadCpu;

struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (f, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e-3, "µs")
        } else if typical < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        values.iter_mut().for_each(|v| *v *= f);
        unit
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let n = match *throughput {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => b,
            Throughput::Elements(e) => e,
        } as f64;
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v / 1e3);
        "K/s (CPU)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["sigma"])
}

/// Minimum CPU time of `passes` runs of `f`, in seconds.
fn min_cpu(passes: usize, mut f: impl FnMut()) -> f64 {
    (0..passes)
        .map(|_| {
            let t = thread_cpu_ns();
            f();
            (thread_cpu_ns() - t) as f64 / 1e9
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let Some(corpus) = corpus() else {
        return;
    };
    let dirs = [
        corpus.join("sigma/rules/windows"),
        corpus.join("sigma/rules-emerging-threats"),
        corpus.join("sigma/rules-threat-hunting"),
    ];

    // Rules, parsed once by each engine's own parser.
    let t = thread_cpu_ns();
    let (set, report) = load_paths(&dirs, &LoadOptions::default());
    let vigie_parse = (thread_cpu_ns() - t) as f64 / 1e9;
    let mut rule_files = Vec::new();
    for d in &dirs {
        files(d, &["yml", "yaml"], &mut rule_files);
    }
    let t = thread_cpu_ns();
    let rs_rules: Vec<rsigma_parser::SigmaRule> = rule_files
        .iter()
        .filter_map(|f| rsigma_parser::parse_sigma_file(f).ok())
        .flat_map(|c| c.rules)
        .collect();
    let rs_parse = (thread_cpu_ns() - t) as f64 / 1e9;

    // Events, read once.
    let mut evtx = Vec::new();
    files(&corpus.join("evtx-attack-samples"), &["evtx"], &mut evtx);
    let events: Vec<Event> = evtx
        .iter()
        .flat_map(|f| vigie_source::read_all(f).0)
        .collect();
    let json: Vec<serde_json::Value> = events.iter().map(to_json).collect();
    let n = events.len() as u64;

    let (engine, fails) = Engine::compile(set.clone());
    let mut rs = rsigma_eval::Engine::new();
    let rs_fails = rs.add_rules(rs_rules.iter()).len();
    println!(
        "rules: vigie {} compiled ({} load + {} compile failures), rsigma-eval {} compiled \
         ({} failures); events: {n} from {} EVTX files",
        engine.rules().len(),
        report.failures.len(),
        fails.len(),
        rs.rule_count(),
        rs_fails,
        evtx.len()
    );

    let mut c = Criterion::default()
        .with_measurement(ThreadCpu)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();

    let mut g = c.benchmark_group("compile");
    g.bench_function("vigie", |b| {
        b.iter_batched(
            || set.clone(),
            |s| Engine::compile(s).0,
            BatchSize::LargeInput,
        )
    });
    g.bench_function("rsigma-eval", |b| {
        b.iter(|| {
            let mut e = rsigma_eval::Engine::new();
            e.add_rules(rs_rules.iter());
            e
        })
    });
    g.finish();

    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(n));
    let mut out: Vec<Match> = Vec::new();
    g.bench_function("vigie", |b| {
        b.iter(|| {
            let mut matches = 0;
            for e in &events {
                out.clear();
                engine.evaluate(e, &mut out);
                matches += out.len();
            }
            matches
        })
    });
    g.bench_function("rsigma-eval", |b| {
        b.iter(|| {
            let mut matches = 0;
            for j in &json {
                matches += rs.evaluate(&rsigma_eval::JsonEvent::borrow(j)).len();
            }
            matches
        })
    });
    g.finish();
    c.final_summary();

    // Summary: the figures the targets are stated in.
    let v_compile = min_cpu(3, || drop(Engine::compile(set.clone())));
    let r_compile = min_cpu(3, || {
        let mut e = rsigma_eval::Engine::new();
        e.add_rules(rs_rules.iter());
    });
    let v_eval = min_cpu(5, || {
        for e in &events {
            out.clear();
            engine.evaluate(e, &mut out);
        }
    });
    let r_eval = min_cpu(3, || {
        for j in &json {
            std::hint::black_box(rs.evaluate(&rsigma_eval::JsonEvent::borrow(j)));
        }
    });
    let (v_rate, r_rate) = (n as f64 / v_eval, n as f64 / r_eval);
    println!("SUMMARY (CPU time of one thread, best of several passes)");
    println!("  parse:    vigie {vigie_parse:.3} s, rsigma-eval {rs_parse:.3} s");
    println!("  compile:  vigie {v_compile:.3} s, rsigma-eval {r_compile:.3} s");
    println!(
        "  evaluate: vigie {v_rate:.0} events/s per core, rsigma-eval {r_rate:.0} events/s per core, ratio {:.2}x",
        v_rate / r_rate
    );
}
