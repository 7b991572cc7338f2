//! Measures EVTX → Event throughput for each conversion strategy.
//!
//! `cargo run --release -p vigie-source --example evtx_bench -- [DIR] [THREADS]`
//! DIR defaults to the corpus' evtx-attack-samples; THREADS to 1.
//! Files are loaded in memory first so that only parsing is timed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use vigie_source::evtx::{read_evtx_with, Strategy};
use vigie_source::{collect_inputs, ReadOptions};

fn main() {
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
        let mut best = f64::MAX;
        let mut records = 0;
        for _ in 0..3 {
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
        }
        println!(
            "{strategy:?}: {records} records in {best:.3}s = {:.0} events/s, {:.1} MiB/s",
            records as f64 / best,
            bytes as f64 / 1048576.0 / best
        );
    }
}
