//! Inputs: directory walking, gzip, sniffing by content, batches.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use vigie_source::{
    collect_inputs, read_all, read_bytes, read_file, sniff, Format, Place, ReadOptions,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn gzip_is_detected_by_content_and_read_like_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["evtx_dump.jsonl", "pretty_concat.json", "fortigate.log"] {
        let plain = std::fs::read(fixture(name)).unwrap();
        let gz = gzip(&plain);
        // No telling extension: content decides.
        let path = dir.path().join(format!("{name}.bak"));
        std::fs::write(&path, &gz).unwrap();
        let inner = sniff(&fixture(name)).unwrap();
        assert_eq!(sniff(&path).unwrap(), Format::Gzip(Box::new(inner.clone())));
        let (a, ra) = read_all(&fixture(name));
        let (b, rb) = read_all(&path);
        assert_eq!(rb.format, Some(Format::Gzip(Box::new(inner))));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.fields, y.fields);
            assert_eq!(x.origin.locator, y.origin.locator);
        }
        assert_eq!(ra.records_skipped, rb.records_skipped);
        // The hash and size are those of the stored (compressed) bytes.
        assert_eq!(rb.sha256, hex(&gz));
        assert_eq!(rb.size, gz.len() as u64);
        assert_eq!(ra.sha256, hex(&plain));
    }
}

#[test]
fn gzip_evtx_from_the_corpus() {
    let corpus = std::env::var_os("VIGIE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpus"
            ))
        });
    let f = corpus
        .join("evtx-attack-samples/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx");
    if !f.exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("corpus not found at {}", corpus.display());
        }
        println!("skipped: corpus not found at {}", corpus.display());
        return;
    }
    let plain = std::fs::read(&f).unwrap();
    let (a, _) = read_bytes("a.evtx", &plain, &ReadOptions::default());
    let (b, rb) = read_bytes("a.evtx.gz", &gzip(&plain), &ReadOptions::default());
    assert_eq!(rb.format, Some(Format::Gzip(Box::new(Format::Evtx))));
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| x.fields == y.fields));
}

#[test]
fn truncated_gzip_keeps_what_was_decompressed() {
    let plain = std::fs::read(fixture("fortigate.log")).unwrap();
    let big: Vec<u8> = plain.repeat(200);
    let gz = gzip(&big);
    let cut = &gz[..gz.len() * 2 / 3];
    let (events, report) = read_bytes("cut.log.gz", cut, &ReadOptions::default());
    assert!(events.len() > 100, "only {} events", events.len());
    assert!(events.len() < 600);
    assert!(report
        .errors
        .iter()
        .any(|e| matches!(e.place, Place::Offset(_)) && e.message.contains("gzip")));
    // Every complete line before the cut is a full FortiGate event.
    let complete = &events[..events.len() - 1];
    assert!(complete
        .iter()
        .all(|e| e.get("action").is_some() && e.timestamp.is_some()));
}

#[test]
fn directories_are_walked_sorted_and_missing_paths_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("b/sub")).unwrap();
    std::fs::create_dir_all(d.join("a")).unwrap();
    for f in ["b/sub/z.log", "b/y.json", "a/x.evtx", "c.txt"] {
        std::fs::write(d.join(f), b"x").unwrap();
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.join("b"), d.join("a/loop")).unwrap();
    let missing = d.join("nope");
    let (files, errors) = collect_inputs(&[d.join("b"), d.to_path_buf(), missing.clone()]);
    let rel: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(d).unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(rel, ["a/x.evtx", "b/sub/z.log", "b/y.json", "c.txt"]);
    // `b` given, then again inside `d`, then through the `a/loop` link:
    // walked once, the other two reported as losing nothing.
    let losing: Vec<_> = errors.iter().filter(|e| e.loses_evidence()).collect();
    assert_eq!(losing.len(), 1, "{errors:?}");
    assert_eq!(losing[0].path, missing);
    #[cfg(unix)]
    assert_eq!(errors.len(), 3, "{errors:?}");
}

#[test]
fn unreadable_file_gives_a_report_not_a_panic() {
    let report = read_file(
        Path::new("/nonexistent/file.evtx"),
        &ReadOptions::default(),
        &|_| {},
    );
    assert_eq!(report.format, None);
    assert_eq!(report.errors[0].place, Place::File);
    // The operating system's reason, not "no log format".
    assert!(
        report.errors[0].message.contains("cannot access")
            && report.errors[0].message.contains("No such file"),
        "{:?}",
        report.errors
    );
}

#[test]
fn batches_respect_batch_size_and_order() {
    let line = br#"{"EventID": 1, "Channel": "c", "n": 0}"#;
    let mut data = Vec::new();
    for i in 0..25 {
        data.extend_from_slice(&line[..line.len() - 2]);
        data.extend_from_slice(format!("{i}}}\n").as_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.jsonl");
    std::fs::write(&path, &data).unwrap();
    let opts = ReadOptions {
        batch_size: 10,
        ..Default::default()
    };
    let batches = Mutex::new(Vec::new());
    let report = read_file(&path, &opts, &|b| batches.lock().unwrap().push(b));
    let batches = batches.into_inner().unwrap();
    let sizes: Vec<usize> = batches.iter().map(|b| b.events.len()).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let seqs: Vec<u64> = batches.iter().map(|b| b.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    let n: Vec<i64> = batches
        .iter()
        .flat_map(|b| &b.events)
        .map(|e| e.get("n").unwrap().as_i64().unwrap())
        .collect();
    assert_eq!(n, (0..25).collect::<Vec<_>>());
    assert_eq!(report.records_read, 25);
    assert_eq!(report.sha256, hex(&data));
}

#[test]
fn utf16_exports_are_read() {
    let text = std::fs::read_to_string(fixture("ecs.jsonl")).unwrap();
    let mut b = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    let (a, _) = read_all(&fixture("ecs.jsonl"));
    let (got, report) = read_bytes("ps.json", &b, &ReadOptions::default());
    assert_eq!(report.format, Some(Format::JsonLines));
    assert!(report.notes.iter().any(|n| n.contains("UTF-16")));
    assert_eq!(got.len(), a.len());
    assert!(got.iter().zip(&a).all(|(x, y)| x.fields == y.fields));
}

#[test]
fn archives_are_named_in_the_skip_reason() {
    let (_, report) = read_bytes(
        "c.zip",
        b"PK\x03\x04\x14\x00\x00\x00",
        &ReadOptions::default(),
    );
    assert!(
        report.errors[0].message.contains("zip archive"),
        "{:?}",
        report.errors
    );
    assert_eq!(report.format, None);
}
