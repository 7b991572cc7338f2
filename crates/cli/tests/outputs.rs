//! Outputs never destroy evidence: refused before any work when they would
//! overwrite or land inside an input, or collide, or cannot be written;
//! written whole; one failing output does not lose the others; every
//! output hashed in the manifest. Also the export options: CSV dialects,
//! raw cells, the ATT&CK Navigator layer.

mod common;

use std::path::Path;

use common::{
    both, jsonl, listing, sha256, stderr, sysmon1, sysmon1_on, vigie, whoami_case, whoami_hunt,
};

fn setup(dir: &Path) {
    let lines = [
        sysmon1(
            1,
            "2026-01-10T02:30:00Z",
            r"C:\\Windows\\System32\\whoami.exe",
        ),
        sysmon1_on(
            2,
            "2026-01-10T02:31:00Z",
            r"C:\\Windows\\System32\\whoami.exe",
            "=HYPERLINK(\"http://evil.example/x\",\"open\")",
        ),
        sysmon1_on(
            3,
            "2026-01-10T02:32:00Z",
            r"C:\\Windows\\System32\\whoami.exe",
            "PC-\u{1b}]52;c;ZXZpbA==\u{7}\r\n\t02",
        ),
    ];
    whoami_case(dir, &lines);
}

fn hunt(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut a = vec!["-q"];
    a.extend(extra);
    whoami_hunt(dir, "logs", &a)
}

#[test]
fn outputs_that_would_touch_evidence_are_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let before = sha256(&dir.join("logs/a.jsonl"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // The input itself, by its path and by another spelling of it.
        (vec!["-o", "logs/a.jsonl"], "would be overwritten"),
        (
            vec!["--scope", "logs/../logs/a.jsonl"],
            "would be overwritten",
        ),
        (vec!["--manifest", "logs/a.jsonl"], "would be overwritten"),
        // Inside an input directory, existing or not yet.
        (vec!["-o", "logs/t.jsonl"], "inside the input directory"),
        (
            vec!["--report", "logs/new/r.html"],
            "inside the input directory",
        ),
        // Two outputs, one file.
        (vec!["-o", "x.jsonl", "--report", "x.jsonl"], "same file"),
        (
            vec!["-o", "t.jsonl", "--manifest", "./t.jsonl"],
            "same file",
        ),
        (
            vec!["--scope", "s.json", "--navigator", "s.json"],
            "same file",
        ),
        // Cannot be written.
        (vec!["-o", "/proc/vigie-test/t.jsonl"], "cannot write"),
        (vec!["-o", "logs"], "not a regular file"),
    ];
    for (extra, why) in cases {
        let out = hunt(dir, &extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", both(&out));
        let err = stderr(&out);
        assert!(err.contains(why), "{extra:?}: {err}");
        assert!(err.contains("nothing was done"), "{err}");
        assert_eq!(sha256(&dir.join("logs/a.jsonl")), before, "{extra:?}");
        assert_eq!(listing(&dir.join("logs")), ["a.jsonl"], "{extra:?}");
        assert_eq!(
            listing(dir),
            ["logs", "whoami.yml"],
            "{extra:?}: nothing written"
        );
    }
    // The input given as a file, the output the same file: refused too.
    let out = vigie(&["hunt", "logs/a.jsonl", "-o", "logs/a.jsonl", "-q"], dir);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(sha256(&dir.join("logs/a.jsonl")), before);
}

#[test]
fn one_failing_output_does_not_lose_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    // A file size limit (RLIMIT_FSIZE, which binds root too) that the
    // small timeline, scope and manifest fit under (32 KiB: `ulimit -f`
    // counts 512-byte blocks) and the report does not: the
    // report fails while it is written, after every check passed.
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec {} hunt logs --no-builtin --no-sigmahq --rules whoami.yml -q -o t.jsonl --report r.html --scope s.json",
        env!("CARGO_BIN_EXE_vigie")
    );
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .current_dir(dir)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let err = stderr(&out);
    assert!(err.contains("report r.html not written"), "{err}");
    assert!(!dir.join("r.html").exists(), "no partial report");
    let rows = jsonl(&dir.join("t.jsonl"));
    assert!(!rows.is_empty(), "the timeline was written");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("t.jsonl.manifest.json")).unwrap()).unwrap();
    let kinds: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["timeline", "scope"], "written, and hashed");
    assert!(dir.join("s.json").exists());
    assert!(
        listing(dir).iter().all(|f| !f.ends_with(".tmp")),
        "no temporary file left: {:?}",
        listing(dir)
    );
}

#[test]
fn the_manifest_hashes_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let out = hunt(
        dir,
        &[
            "-o",
            "out/t.csv",
            "--report",
            "out/r.html",
            "--scope",
            "out/s.json",
            "--navigator",
            "out/layer.json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/t.csv.manifest.json")).unwrap())
            .unwrap();
    let outputs = m["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 4, "{outputs:?}");
    for o in outputs {
        let p = dir.join(o["path"].as_str().unwrap());
        assert_eq!(o["sha256"], sha256(&p), "{o}");
        assert_eq!(o["size"], std::fs::metadata(&p).unwrap().len(), "{o}");
    }
}

#[test]
fn two_hunts_writing_one_output_leave_one_whole_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args([
                "hunt",
                "logs",
                "--no-builtin",
                "--no-sigmahq",
                "--rules",
                "whoami.yml",
                "-q",
                "-o",
                "t.jsonl",
                "--scope",
                "s.json",
            ])
            .current_dir(dir)
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().code() == Some(1) && b.wait().unwrap().code() == Some(1));
    assert_eq!(jsonl(&dir.join("t.jsonl")).len(), 3, "one whole timeline");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("t.jsonl.manifest.json")).unwrap()).unwrap();
    for o in m["outputs"].as_array().unwrap() {
        assert_eq!(
            o["sha256"],
            sha256(&dir.join(o["path"].as_str().unwrap())),
            "timeline, scope and manifest come from one run"
        );
    }
}

#[test]
fn csv_for_french_excel_and_safe_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let out = hunt(dir, &["-o", "t.csv", "--csv-dialect", "excel-fr"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let bytes = std::fs::read(dir.join("t.csv")).unwrap();
    assert!(bytes.starts_with("\u{feff}timestamp;datetime;".as_bytes()));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    // The formula is text; control characters are visible escapes.
    assert!(rows
        .iter()
        .any(|x| &x[4] == "'=HYPERLINK(\"http://evil.example/x\",\"open\")"));
    assert!(rows
        .iter()
        .any(|x| &x[4] == "PC-\\x1b]52;c;ZXZpbA==\\x07\\r\\n\\t02"));
    assert!(
        !text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\t'),
        "no raw control character in any cell"
    );
    // --csv-raw: values exactly as read.
    let out = hunt(dir, &["-o", "raw.csv", "--csv-raw"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let mut r = csv::Reader::from_path(dir.join("raw.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(rows.iter().any(|x| x[4].starts_with("=HYPERLINK")));
    assert!(rows.iter().any(|x| x[4].contains('\u{1b}')));
    // JSON Lines escape control characters themselves and keep values.
    let out = hunt(dir, &["-o", "t.jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(dir.join("t.jsonl")).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'));
    assert!(jsonl(&dir.join("t.jsonl"))
        .iter()
        .any(|r| r["computer"] == "PC-\u{1b}]52;c;ZXZpbA==\u{7}\r\n\t02"));
}

/// Checks a layer against the ATT&CK Navigator layer format 4.5 as its
/// specification documents it (layers/spec/v4.5/layerformat.md): required
/// fields, types, enumerations and the constraints it states.
fn check_layer_v4_5(l: &serde_json::Value) {
    let o = l.as_object().expect("a layer is an object");
    assert!(o["name"].is_string(), "name: required string");
    assert!(
        ["enterprise-attack", "mobile-attack", "ics-attack"]
            .contains(&o["domain"].as_str().unwrap()),
        "domain"
    );
    let v = &o["versions"];
    assert_eq!(v["layer"], "4.5");
    let nav: Vec<u32> = v["navigator"]
        .as_str()
        .unwrap()
        .split('.')
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(nav >= vec![4, 9, 0], "navigator must be at least 4.9.0");
    if let Some(d) = o.get("description") {
        assert!(d.is_string());
    }
    if let Some(s) = o.get("sorting") {
        assert!((0..=3).contains(&s.as_u64().unwrap()));
    }
    if let Some(lay) = o.get("layout") {
        if let Some(x) = lay.get("layout") {
            assert!(["side", "flat", "mini"].contains(&x.as_str().unwrap()));
        }
        if let Some(x) = lay.get("expandedSubtechniques") {
            assert!(["none", "all", "annotated"].contains(&x.as_str().unwrap()));
        }
        for b in ["showID", "showName"] {
            if let Some(x) = lay.get(b) {
                assert!(x.is_boolean(), "{b}");
            }
        }
    }
    if let Some(h) = o.get("hideDisabled") {
        assert!(h.is_boolean());
    }
    let g = &o["gradient"];
    assert!(g["colors"].as_array().unwrap().len() >= 2);
    for c in g["colors"].as_array().unwrap() {
        let c = c.as_str().unwrap();
        assert!(
            c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit()),
            "{c}"
        );
    }
    assert!(g["maxValue"].as_f64().unwrap() > g["minValue"].as_f64().unwrap());
    let known = [
        "techniqueID",
        "tactic",
        "comment",
        "enabled",
        "score",
        "color",
        "metadata",
        "links",
        "showSubtechniques",
    ];
    for t in o["techniques"].as_array().unwrap() {
        for k in t.as_object().unwrap().keys() {
            assert!(
                known.contains(&k.as_str()),
                "unknown technique property {k}"
            );
        }
        let id = t["techniqueID"].as_str().unwrap();
        let (main, sub) = id.split_once('.').map_or((id, None), |(a, b)| (a, Some(b)));
        assert!(
            main.len() == 5
                && main.starts_with('T')
                && main[1..].chars().all(|c| c.is_ascii_digit())
                && sub.is_none_or(|s| s.len() == 3 && s.chars().all(|c| c.is_ascii_digit())),
            "{id}"
        );
        assert!(t["score"].is_number() && t["comment"].is_string());
        assert!(t["enabled"].is_boolean() && t["showSubtechniques"].is_boolean());
        for m in t["metadata"].as_array().unwrap() {
            assert!(m["name"].is_string() && m["value"].is_string());
        }
    }
    for m in o["metadata"].as_array().unwrap() {
        assert!(m["name"].is_string() && m["value"].is_string());
    }
}

#[test]
fn the_attack_navigator_layer_follows_format_4_5() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let out = hunt(dir, &["--navigator", "layer.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let l: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("layer.json")).unwrap()).unwrap();
    check_layer_v4_5(&l);
    let t = l["techniques"].as_array().unwrap();
    assert_eq!(t.len(), 1, "the rule's one technique tag: {t:?}");
    assert_eq!(t[0]["techniqueID"], "T1033");
    assert_eq!(t[0]["score"], 3);
    assert!(t[0]["comment"]
        .as_str()
        .unwrap()
        .contains("Whoami Execution (3)"));
    // The validator rejects what the format forbids.
    let mut bad = l.clone();
    bad["techniques"][0]["techniqueID"] = "T10".into();
    assert!(std::panic::catch_unwind(|| check_layer_v4_5(&bad)).is_err());
}
