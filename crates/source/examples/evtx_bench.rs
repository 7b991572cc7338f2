//! Measures EVTX → Event throughput for each conversion strategy.
//!
//! `cargo run --release -p vigie-source --example evtx_bench -- [DIR] [THREADS]`
//! DIR defaults to the corpus' evtx-attack-samples; THREADS to 1.
//! Files are loaded in memory first so that only parsing is timed.
//! `BENCH_ONLY=<Strategy>` runs one strategy; `BENCH_ONLY=ReadFile` times
//! `read_file` end to end (`BENCH_NOHASH=1`: without SHA-256);
//! `BENCH_ONLY=Jsonl` the JSON Lines reader on the corpus rendered as JSON.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use vigie_source::evtx::{read_evtx_with, Strategy};
use vigie_source::{collect_inputs, ReadOptions};

fn main() {
    if std::env::var("BENCH_ONLY").as_deref() == Ok("ReadFile") {
        return read_file_pass();
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("Jsonl") {
        return jsonl_pass();
    }
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/evtx-attack-samples"
        ))
    });
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let (files, _) = collect_inputs(&[dir]);
    let data: Vec<(Arc<str>, Vec<u8>)> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
        .map(|p| {
            (
                Arc::from(p.to_string_lossy().as_ref()),
                std::fs::read(p).unwrap(),
            )
        })
        .collect();
    let bytes: usize = data.iter().map(|(_, d)| d.len()).sum();
    println!(
        "{} files, {:.1} MiB, {threads} thread(s)",
        data.len(),
        bytes as f64 / 1048576.0
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let opts = ReadOptions::default();
    for strategy in [
        Strategy::RenderOnly,
        Strategy::JsonValue,
        Strategy::BytesValue,
        Strategy::Streaming,
    ] {
        if let Ok(only) = std::env::var("BENCH_ONLY") {
            if format!("{strategy:?}") != only {
                continue;
            }
        }
        let mut best = f64::MAX;
        let mut records = 0;
        let cpu0 = cpu_seconds();
        let mut rounds = 0u64;
        let mut total_records = 0u64;
        while rounds < 3 || cpu_seconds() - cpu0 < 2.0 {
            rounds += 1;
            let fields = AtomicU64::new(0);
            let on_batch = |b: vigie_source::Batch| {
                let n: usize = b.events.iter().map(|e| e.fields.len()).sum();
                fields.fetch_add(n as u64, Ordering::Relaxed);
            };
            let t = Instant::now();
            records = pool.install(|| {
                let mut n = 0;
                for (src, d) in &data {
                    let mut report = vigie_source::FileReport::empty(src.as_ref());
                    read_evtx_with(src, d, &opts, &on_batch, &mut report, strategy);
                    n += report.records_read;
                }
                n
            });
            best = best.min(t.elapsed().as_secs_f64());
            total_records += records;
        }
        let cpu = cpu_seconds() - cpu0;
        println!(
            "{strategy:?}: {records} records; best wall {best:.3}s = {:.0} events/s; \
             CPU: {:.0} events per CPU-second ({rounds} rounds)",
            records as f64 / best,
            total_records as f64 / cpu,
        );
    }
}

/// User + system CPU time of this process, from /proc (robust to other
/// processes loading the machine, unlike wall time).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|s| s.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// End to end, as the hunt runs it: `read_file` on every file (disk read,
/// sniffing, SHA-256, parallel chunks on the global rayon pool).
fn read_file_pass() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpus/evtx-attack-samples"
            ))
        });
    let (files, _) = collect_inputs(&[dir]);
    let opts = ReadOptions {
        sha256: std::env::var_os("BENCH_NOHASH").is_none(),
        ..Default::default()
    };
    let mut best = f64::MAX;
    let mut n = 0;
    let cpu0 = cpu_seconds();
    for _ in 0..5 {
        let events = AtomicU64::new(0);
        let t = Instant::now();
        for f in &files {
            vigie_source::read_file(f, &opts, &|b| {
                events.fetch_add(b.events.len() as u64, Ordering::Relaxed);
            });
        }
        best = best.min(t.elapsed().as_secs_f64());
        n = events.into_inner();
    }
    let cpu = cpu_seconds() - cpu0;
    println!(
        "read_file over {} files: {n} events, best wall {best:.3}s = {:.0} events/s ({} rayon threads); \
         {:.0} events per CPU-second",
        files.len(),
        n as f64 / best,
        rayon::current_num_threads(),
        5.0 * n as f64 / cpu
    );
}

/// JSON Lines in the evtx_dump layout: the corpus records rendered by the
/// `evtx` crate, one per line, read back with `read_bytes`.
fn jsonl_pass() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/evtx-attack-samples"
    ));
    let (files, _) = collect_inputs(&[dir]);
    let mut buf = Vec::new();
    for f in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
    {
        let settings = evtx::ParserSettings::new().indent(false);
        let mut p = evtx::EvtxParser::from_path(f)
            .unwrap()
            .with_configuration(settings);
        for r in p.records_json().flatten() {
            buf.extend_from_slice(r.data.as_bytes());
            buf.push(b'\n');
        }
    }
    let opts = ReadOptions::default();
    let cpu0 = cpu_seconds();
    let mut rounds = 0;
    let mut n = 0;
    while rounds < 3 || cpu_seconds() - cpu0 < 2.0 {
        rounds += 1;
        let (events, _) = vigie_source::read_bytes("x.jsonl", &buf, &opts);
        n += events.len();
    }
    let cpu = cpu_seconds() - cpu0;
    println!(
        "JSON Lines ({:.1} MiB, {} events): {:.0} events per CPU-second",
        buf.len() as f64 / 1048576.0,
        n / rounds,
        n as f64 / cpu
    );
}
