//! Collections as they arrive (issue 18, point 4): ZIP and 7z archives,
//! nested, in the Velociraptor and KAPE layouts, read by `vigie hunt`,
//! `search` and `show` like directories, through the binary. Every
//! archive is built at test time from corpus EVTX samples, and each must
//! give the same detections as the extracted files.

mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::Path;

use common::{both, jsonl, stderr, vigie};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Corpus samples that fire default rules (a service installation, a UAC
/// bypass, a DSRM password change).
const SAMPLES: &[&str] = &[
    "Privilege Escalation/System_7045_namedpipe_privesc.evtx",
    "Privilege Escalation/sysmon_1_7_11_sysprep_uacbypass.evtx",
    "Credential Access/4794_DSRM_password_change_t1098.evtx",
];

/// (file name, bytes) of the samples, or `None` without the corpus.
fn samples() -> Option<Vec<(String, Vec<u8>)>> {
    let corpus = vigie_testkit::corpus(&["evtx-attack-samples"])?;
    Some(
        SAMPLES
            .iter()
            .map(|s| {
                let p = corpus.join("evtx-attack-samples").join(s);
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect(),
    )
}

fn zip_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A solid 7z (LZMA2), as DFIR-ORC writes them.
fn sevenz_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    use sevenz_rust2::{ArchiveEntry, ArchiveWriter, SourceReader};
    let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    let entries = members
        .iter()
        .map(|(n, _)| ArchiveEntry::new_file(n))
        .collect();
    let readers = members
        .iter()
        .map(|(_, b)| SourceReader::new(Cursor::new(b.clone())))
        .collect();
    w.push_archive_entries(entries, readers).unwrap();
    w.finish().unwrap().into_inner()
}

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hunts `input` (relative to `dir`) into `name.jsonl`: exit code, rows,
/// manifest, stderr.
fn hunt(dir: &Path, input: &str, name: &str) -> (Option<i32>, Vec<Value>, Value, String) {
    let out_file = format!("{name}.jsonl");
    let out = vigie(&["hunt", input, "-o", &out_file, "-q"], dir);
    let rows = jsonl(&dir.join(&out_file));
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{out_file}.manifest.json")))
            .unwrap_or_else(|e| panic!("{e}\n{}", both(&out))),
    )
    .unwrap();
    (out.status.code(), rows, manifest, stderr(&out))
}

/// What a detection is, wherever its file was: rule, time, record, host.
fn detections(rows: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        let key = format!(
            "{} {} {} {}",
            r["rule_id"], r["timestamp"], r["record_id"], r["computer"]
        );
        *m.entry(key).or_insert(0) += 1;
    }
    m
}

/// A temp dir with the samples extracted in `plain/`, and the detections
/// of a hunt of that directory.
fn baseline(samples: &[(String, Vec<u8>)]) -> (tempfile::TempDir, BTreeMap<String, usize>) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("plain")).unwrap();
    for (n, b) in samples {
        std::fs::write(tmp.path().join("plain").join(n), b).unwrap();
    }
    let (code, rows, _, err) = hunt(tmp.path(), "plain", "plain");
    assert_eq!(code, Some(1), "{err}");
    let d = detections(&rows);
    assert!(d.len() >= 3, "the samples fire: {d:?}");
    (tmp, d)
}

fn input<'a>(manifest: &'a Value, path: &str) -> &'a Value {
    manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in the manifest: {manifest:#}"))
}

fn sources(rows: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = rows
        .iter()
        .filter_map(|r| r["source_file"].as_str().map(String::from))
        .collect();
    s.sort();
    s.dedup();
    s
}

/// Checks that `archive` (written as `file` in the baseline's dir) gives
/// the plain directory's detections, each from the member at
/// `prefix + sample name`, and that the manifest hashes each member.
fn same_as_plain(
    samples: &[(String, Vec<u8>)],
    file: &str,
    stored_prefix: &str,
    shown_prefix: &str,
    store: impl Fn(&[(String, Vec<u8>)]) -> Vec<u8>,
) -> Value {
    let (tmp, plain) = baseline(samples);
    let stored: Vec<(String, Vec<u8>)> = samples
        .iter()
        .map(|(n, b)| (format!("{stored_prefix}{n}"), b.clone()))
        .collect();
    let bytes = store(&stored);
    std::fs::write(tmp.path().join(file), &bytes).unwrap();
    let (code, rows, manifest, err) = hunt(tmp.path(), file, "arch");
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        detections(&rows),
        plain,
        "{file} gives the plain files' detections"
    );
    for s in sources(&rows) {
        assert!(
            s.starts_with(&format!("{file}!/{shown_prefix}")),
            "{s} names its member"
        );
    }
    let top = input(&manifest, file);
    assert_eq!(top["sha256"], sha256(&bytes));
    assert_eq!(top["size"], bytes.len() as u64);
    for (n, b) in samples {
        let m = input(&manifest, &format!("{file}!/{shown_prefix}{n}"));
        assert_eq!(m["sha256"], sha256(b), "{n}: the member's own hash");
        assert_eq!(m["size"], b.len() as u64);
        assert_eq!(m["format"], "evtx");
        assert_eq!(m["archive"], file);
    }
    manifest
}

#[test]
fn zip_and_7z_give_the_detections_of_the_extracted_files() {
    let Some(s) = samples() else { return };
    same_as_plain(&s, "collecte.zip", "logs/DC01/", "logs/DC01/", zip_of);
    let m = same_as_plain(&s, "ORC_Server_DC01.7z", "Event/", "Event/", sevenz_of);
    assert_eq!(input(&m, "ORC_Server_DC01.7z")["format"], "7z");
}

#[test]
fn kape_and_velociraptor_layouts() {
    let Some(s) = samples() else { return };
    same_as_plain(
        &s,
        "kape.zip",
        "C/Windows/System32/winevt/Logs/",
        "C/Windows/System32/winevt/Logs/",
        zip_of,
    );
    // Velociraptor's offline collector: URL-encoded upload paths, and its
    // own bookkeeping beside them, which is not read as events.
    // A `Windows.EventLogs.Evtx` result row (the source layouts' fixture).
    let row = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../source/tests/fixtures/velociraptor_evtx.json"),
    )
    .unwrap()
    .lines()
    .next()
    .unwrap()
    .to_string();
    let m = same_as_plain(
        &s,
        "Collection-WS07.zip",
        "uploads/auto/C%3A/Windows/System32/winevt/Logs/",
        "uploads/auto/C:/Windows/System32/winevt/Logs/",
        |members| {
            let mut all = members.to_vec();
            for (n, body) in [
                ("client_info.json", r#"{"Hostname":"WS07","OS":"windows"}"#),
                ("collection_context.json", r#"{"session_id":"F.1"}"#),
                (
                    "log.json",
                    r#"{"_ts":1700000000,"level":"INFO","message":"Collecting"}"#,
                ),
                ("uploads.json", r#"{"Components":["auto","C:"]}"#),
                ("uploads.json.index", "\u{1}\u{0}\u{0}"),
                ("results/Windows.EventLogs.Evtx.json", row.as_str()),
            ] {
                all.push((n.to_string(), body.as_bytes().to_vec()));
            }
            zip_of(&all)
        },
    );
    let results = input(
        &m,
        "Collection-WS07.zip!/results/Windows.EventLogs.Evtx.json",
    );
    assert_eq!(results["records_read"], 1, "{results}");
    assert_eq!(results["errors"], 0);
    let top = input(&m, "Collection-WS07.zip");
    let notes = top["notes"].to_string();
    assert!(notes.contains("Velociraptor offline collection"), "{notes}");
    assert!(
        notes.contains(
            "client_info.json, collection_context.json, log.json, uploads.json, uploads.json.index"
        ),
        "{notes}"
    );
    assert!(
        !m["inputs"]
            .to_string()
            .contains("\"Collection-WS07.zip!/log.json\""),
        "bookkeeping is not read as events"
    );
}

#[test]
fn nested_archives_and_gzip_members() {
    let Some(s) = samples() else { return };
    let (tmp, plain) = baseline(&s);
    // outer.zip holds a 7z holding a zip holding two samples; the third
    // is gzip-compressed beside it.
    let inner = zip_of(&s[..2]);
    let mid = sevenz_of(&[("host/inner.zip".to_string(), inner)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&s[2].1).unwrap();
    let outer = zip_of(&[
        ("mid.7z".to_string(), mid),
        (format!("{}.gz", s[2].0), gz.finish().unwrap()),
    ]);
    std::fs::write(tmp.path().join("outer.zip"), &outer).unwrap();
    let (code, rows, manifest, err) = hunt(tmp.path(), "outer.zip", "nested");
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(detections(&rows), plain);
    let src = sources(&rows);
    assert!(
        src.contains(&format!("outer.zip!/mid.7z!/host/inner.zip!/{}", s[0].0)),
        "{src:?}"
    );
    assert!(
        src.contains(&format!("outer.zip!/{}.gz", s[2].0)),
        "{src:?}"
    );
    assert_eq!(input(&manifest, "outer.zip!/mid.7z")["format"], "7z");
    assert_eq!(
        input(&manifest, "outer.zip!/mid.7z!/host/inner.zip")["archive"],
        "outer.zip!/mid.7z"
    );
    // `vigie search` reads them the same way.
    let out = vigie(
        &["search", "outer.zip", "--query", "EventID:4794", "-q"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let hit: Value = serde_json::from_str(common::stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(hit["source_file"], format!("outer.zip!/{}.gz", s[2].0));
}

#[test]
fn nesting_deeper_than_the_limit_is_reported() {
    let Some(s) = samples() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = zip_of(&s[1..2]);
    for level in 0..5 {
        bytes = zip_of(&[(format!("level{level}.zip"), bytes)]);
    }
    // Beside the too-deep chain, a sample that is read.
    let top = zip_of(&[("deep.zip".to_string(), bytes), s[0].clone()]);
    std::fs::write(tmp.path().join("top.zip"), &top).unwrap();
    let (code, rows, _, err) = hunt(tmp.path(), "top.zip", "deep");
    assert_eq!(code, Some(4), "detections, and something not read: {err}");
    assert!(err.contains("nested more than 4 levels"), "{err}");
    assert!(!rows.is_empty());
}

#[test]
fn a_zip_bomb_stops_at_the_limit_and_the_rest_is_read() {
    let Some(s) = samples() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // 64 MiB of zeros deflate to ~64 KiB (1,000 to 1): past the member
    // limit (100 times its compressed size, at least 16 MiB).
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    w.start_file("bomb.evtx", opts).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        w.write_all(&zeros).unwrap();
    }
    for (n, b) in &s {
        w.start_file(n.as_str(), opts).unwrap();
        w.write_all(b).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    assert!(bytes.len() < 1 << 20, "a bomb: {} bytes", bytes.len());
    std::fs::write(tmp.path().join("bomb.zip"), &bytes).unwrap();
    let (code, rows, manifest, err) = hunt(tmp.path(), "bomb.zip", "bomb");
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("bomb.zip!/bomb.evtx"),
        "the member is named: {err}"
    );
    assert!(err.contains("expansion limit"), "{err}");
    let bomb = input(&manifest, "bomb.zip!/bomb.evtx");
    assert_eq!(bomb["size"], 16u64 << 20, "read as far as the limit");
    assert!(bomb["errors"].as_u64().unwrap() >= 1);
    // The members after it are read.
    let (_, plain) = baseline(&s);
    assert_eq!(detections(&rows), plain);
}

#[test]
fn encrypted_and_damaged_members_are_reported_with_their_place() {
    let Some(s) = samples() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = zip_of(&[("secret.evtx".to_string(), s[0].1.clone()), s[1].clone()]);
    // Mark the first member encrypted (general purpose flag bit 0), in
    // its local header and in the central directory, as a ZipCrypto
    // member is.
    bytes[6] |= 1;
    let cd = bytes
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    bytes[cd + 8] |= 1;
    std::fs::write(tmp.path().join("locked.zip"), &bytes).unwrap();
    let (code, rows, manifest, err) = hunt(tmp.path(), "locked.zip", "locked");
    assert_eq!(code, Some(4), "detections, one member not read: {err}");
    assert!(err.contains("locked.zip!/secret.evtx"), "{err}");
    assert!(err.contains("encrypted member"), "{err}");
    let secret = input(&manifest, "locked.zip!/secret.evtx");
    assert_eq!(secret["errors"], 1);
    assert_eq!(
        secret["size"],
        s[0].1.len() as u64,
        "as the archive declares it"
    );
    assert_eq!(
        sources(&rows),
        vec![format!("locked.zip!/{}", s[1].0)],
        "the other member is read"
    );

    // Damage a member's data: what can be read of it is, and its report
    // says so.
    let mut bytes = zip_of(&[s[1].clone(), s[2].clone()]);
    let at = bytes
        .windows(s[2].0.len())
        .position(|w| w == s[2].0.as_bytes())
        .unwrap()
        + s[2].0.len()
        + 200;
    bytes[at] ^= 0xFF;
    std::fs::write(tmp.path().join("damaged.zip"), &bytes).unwrap();
    let (code, rows, manifest, err) = hunt(tmp.path(), "damaged.zip", "damaged");
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains(&format!("damaged.zip!/{}", s[2].0)), "{err}");
    assert!(
        input(&manifest, &format!("damaged.zip!/{}", s[2].0))["errors"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(sources(&rows).contains(&format!("damaged.zip!/{}", s[1].0)));
}

#[test]
fn show_reaches_an_event_inside_an_archive_and_checks_its_hash() {
    let Some(s) = samples() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let stored: Vec<(String, Vec<u8>)> = s
        .iter()
        .map(|(n, b)| (format!("uploads/auto/C%3A/Logs/{n}"), b.clone()))
        .collect();
    let mut with_meta = stored.clone();
    with_meta.push(("client_info.json".into(), b"{}".to_vec()));
    std::fs::write(dir.join("col.zip"), zip_of(&with_meta)).unwrap();
    let (_, rows, _, err) = hunt(dir, "col.zip", "t");
    let row = rows
        .iter()
        .find(|r| r["event_id"] == 4794)
        .unwrap_or_else(|| panic!("{err}"));
    let reference = format!(
        "{}#{}",
        row["source_file"].as_str().unwrap(),
        row["source_locator"].as_str().unwrap()
    );
    assert!(
        reference.starts_with("col.zip!/uploads/auto/C:/Logs/"),
        "{reference}"
    );
    let out = vigie(
        &[
            "show",
            &reference,
            "--manifest",
            "t.jsonl.manifest.json",
            "--compact",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let ev: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(ev["record_id"], row["record_id"]);
    assert_eq!(ev["source_file"], row["source_file"]);
    // The archive changes (a member added): show refuses.
    let mut more = with_meta;
    more.push(("extra.txt".into(), b"x".to_vec()));
    std::fs::write(dir.join("col.zip"), zip_of(&more)).unwrap();
    let out = vigie(
        &["show", &reference, "--manifest", "t.jsonl.manifest.json"],
        dir,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("col.zip changed since the hunt"),
        "{}",
        both(&out)
    );
    // A member that is not there is said so.
    let out = vigie(&["show", "col.zip!/nothing.evtx#record=1"], dir);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("no event"), "{}", both(&out));
}
