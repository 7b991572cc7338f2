//! How long opening the embedded log takes once it holds gigabytes: every
//! segment is checked at open (sealed ones by walking their frame headers,
//! the last one scanned whole), so this is the price of the gap check.
//!
//! `VIGIE_BENCH_LOG_GIB` (default 2) sets the log's size; two shapes are
//! measured: large batches (200 events of 500 bytes, what an agent
//! shipping JSON Lines sends) and the worst case, one 300-byte event per
//! batch (a syslog message at a time). The logs are written straight from
//! the documented frame layout, without an `fsync` per batch, under the
//! system's temporary directory, and removed afterwards.
//!
//! `cargo bench -p vigie-store --bench open`

use std::io::Write;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use vigie_store::embedded::{FileLog, SEGMENT_BYTES};

#[path = "../tests/common/mod.rs"]
mod common;

/// Writes a log of about `bytes` bytes in `SEGMENT_BYTES` segments, each
/// batch `per_batch` events of `event_len` bytes; its record count.
fn fill(data: &Path, bytes: u64, per_batch: usize, event_len: usize) -> u64 {
    let events = data.join("events");
    std::fs::create_dir_all(&events).unwrap();
    let event = vec![b'x'; event_len];
    let batch: Vec<&[u8]> = vec![event.as_slice(); per_batch];
    let (mut written, mut next) = (0u64, 0u64);
    while written < bytes {
        let path = events.join(format!("{next:020}.seg"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        let mut size = 0u64;
        loop {
            let f = common::frame(size, next, &batch);
            if size > 0 && size + f.len() as u64 > SEGMENT_BYTES {
                break;
            }
            out.write_all(&f).unwrap();
            size += f.len() as u64;
            next += per_batch as u64;
        }
        out.flush().unwrap();
        written += size;
    }
    next
}

fn open(c: &mut Criterion) {
    let gib: u64 = std::env::var("VIGIE_BENCH_LOG_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let mut group = c.benchmark_group("open");
    group.sample_size(10);
    for (name, per_batch, event_len) in [("large_batches", 200, 500), ("one_event_batches", 1, 300)]
    {
        let dir = tempfile::tempdir().unwrap();
        let records = fill(dir.path(), gib << 30, per_batch, event_len);
        group.bench_function(format!("{gib}_gib_{name}"), |b| {
            b.iter(|| {
                let (_, recovery) = FileLog::open(dir.path(), SEGMENT_BYTES).unwrap();
                assert_eq!(recovery.records, records);
                assert_eq!(recovery.truncated_bytes, 0);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, open);
criterion_main!(benches);
