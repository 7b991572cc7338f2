//! Mutation harness (issue 19): valid EVTX, JSON Lines, pretty JSON,
//! Windows event XML, syslog/FortiGate and gzip inputs, mutated by
//! proptest (bytes overwritten, inserted, deleted, ranges zeroed or
//! duplicated, truncation), are fed to the reader. The properties: no
//! panic; the report counts what was handed over (`records_read` equals
//! the events returned); the events stay bounded by the input (no format
//! gives more than one event per input byte, gzip aside, and gzip is
//! bounded by its inflate limit).
//!
//! `VIGIE_FUZZ_CASES` sets the number of cases (default 256, what CI
//! runs), `VIGIE_FUZZ_SECONDS` a time limit. Long run, recorded in
//! `docs/hostile-input.md`: `VIGIE_FUZZ_CASES=5000000
//! VIGIE_FUZZ_SECONDS=1500 cargo test --release -p vigie-source --test
//! fuzz -- --nocapture`: 785,615 mutated inputs in 20 minutes, no
//! panic, peak 69 MiB (5 December 2026).

use std::io::Write;
use std::time::Instant;

use proptest::prelude::*;
use vigie_source::{read_bytes, ReadOptions};

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// The valid inputs mutations start from. An EVTX of the corpus when
/// it is there (the smallest with two chunks or more).
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let jsonl = (0..20)
        .map(|i| {
            format!(
                "{{\"EventID\":4624,\"Computer\":\"WS{i}\",\"TimeCreated\":\"2026-01-09T10:00:{i:02}Z\",\"TargetUserName\":\"u\"}}\n"
            )
        })
        .collect::<String>();
    let pretty = "{\n  \"Event\": {\n    \"System\": {\"EventID\": 4688, \"Computer\": \"DC1\", \"TimeCreated\": {\"#attributes\": {\"SystemTime\": \"2026-01-09T10:00:00Z\"}}},\n    \"EventData\": {\"CommandLine\": \"whoami\"}\n  }\n}\n".repeat(5);
    let xml = "<Events><Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Security-Auditing'/><EventID>4624</EventID><TimeCreated SystemTime='2026-01-09T10:00:00.000Z'/><Computer>DC1</Computer></System><EventData><Data Name='TargetUserName'>a</Data><!-- c --><![CDATA[x]]></EventData></Event></Events>\n".repeat(4);
    let syslog = "<13>Jan  9 02:10:03 host app[12]: hello\n<14>1 2026-01-09T02:10:03Z host app 12 - - msg\ndate=2026-01-09 time=10:00:00 devname=\"FGT\" tz=\"+0100\" srcip=1.2.3.4\n".repeat(6);
    let mut v: Vec<(&str, Vec<u8>)> = vec![
        ("jsonl", jsonl.clone().into_bytes()),
        ("json", pretty.into_bytes()),
        ("xml", xml.into_bytes()),
        ("syslog", syslog.into_bytes()),
        ("gzip", gz(jsonl.as_bytes())),
    ];
    if let Some(c) = vigie_testkit::corpus(&["evtx-attack-samples"]) {
        let mut best: Option<(u64, std::path::PathBuf)> = None;
        let mut stack = vec![c.join("evtx-attack-samples")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "evtx") {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    if len >= 4096 + 2 * 65536 && best.as_ref().is_none_or(|(l, _)| len < *l) {
                        best = Some((len, p));
                    }
                }
            }
        }
        if let Some(b) = best.and_then(|(_, p)| std::fs::read(p).ok()) {
            v.push(("gzip", gz(&b)));
            v.push(("evtx", b));
        }
    }
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(f64, u8),
    Insert(f64, Vec<u8>),
    Delete(f64, usize),
    Zero(f64, usize),
    Duplicate(f64, usize),
    Truncate(f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0f64..1.0;
    prop_oneof![
        4 => (at.clone(), any::<u8>()).prop_map(|(a, b)| Mutation::Set(a, b)),
        2 => (at.clone(), prop::collection::vec(any::<u8>(), 1..64)).prop_map(|(a, b)| Mutation::Insert(a, b)),
        2 => (at.clone(), 1usize..4096).prop_map(|(a, n)| Mutation::Delete(a, n)),
        2 => (at.clone(), 1usize..70_000).prop_map(|(a, n)| Mutation::Zero(a, n)),
        1 => (at.clone(), 1usize..4096).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        1 => at.prop_map(Mutation::Truncate),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    let pos = |f: f64, len: usize| ((f * len as f64) as usize).min(len);
    match m {
        Mutation::Set(f, x) => {
            if !b.is_empty() {
                let i = pos(*f, b.len() - 1);
                b[i] = *x;
            }
        }
        Mutation::Insert(f, xs) => {
            let i = pos(*f, b.len());
            b.splice(i..i, xs.iter().copied());
        }
        Mutation::Delete(f, n) => {
            let i = pos(*f, b.len());
            let j = (i + n).min(b.len());
            b.drain(i..j);
        }
        Mutation::Zero(f, n) => {
            let i = pos(*f, b.len());
            let j = (i + n).min(b.len());
            b[i..j].fill(0);
        }
        Mutation::Duplicate(f, n) => {
            let i = pos(*f, b.len());
            let j = (i + n).min(b.len());
            let copy = b[i..j].to_vec();
            b.splice(j..j, copy);
        }
        Mutation::Truncate(f) => {
            let i = pos(*f, b.len());
            b.truncate(i);
        }
    }
}

#[test]
fn mutated_inputs_never_panic_and_stay_bounded() {
    let seeds = seeds();
    let cases: u32 = std::env::var("VIGIE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    // `VIGIE_FUZZ_SECONDS`: stop feeding inputs after this long (the
    // remaining cases are generated but not read).
    let deadline = std::env::var("VIGIE_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_secs);
    let started = Instant::now();
    let count = std::sync::atomic::AtomicU64::new(0);
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(seed in 0..seeds.len(), muts in prop::collection::vec(mutation(), 1..8))| {
        if deadline.is_some_and(|d| started.elapsed() > d) {
            return Ok(());
        }
        let (kind, base) = &seeds[seed];
        let mut b = base.clone();
        for m in &muts {
            apply(&mut b, m);
        }
        let opts = ReadOptions { syslog_year: Some(2026), ..ReadOptions::default() };
        let (events, report) = read_bytes(kind, &b, &opts);
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        prop_assert_eq!(events.len() as u64, report.records_read);
        let bound = if b.starts_with(&[0x1f, 0x8b]) {
            vigie_source::gzip::inflate_limit(b.len() as u64)
        } else {
            b.len() as u64 + 1
        };
        prop_assert!(report.records_read <= bound, "{} events from {} bytes", report.records_read, b.len());
        for e in &events {
            if let Some(t) = e.timestamp {
                use chrono::Datelike;
                prop_assert!((1970..=2100).contains(&t.year()), "time {t} kept");
            }
        }
    });
    println!(
        "fuzz: {} mutated inputs from {} seeds in {:.1?}",
        count.into_inner(),
        seeds.len(),
        started.elapsed()
    );
}
