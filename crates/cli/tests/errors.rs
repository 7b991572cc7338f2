//! Mistakes and partial reads through the binary: every bad value is
//! named, every exit code is the documented one, and what could not be
//! read reaches standard error even with `-q`.

mod common;

use std::path::Path;

use common::{both, security, stderr, stdout, sysmon1, vigie, whoami_case, whoami_hunt};

fn setup(dir: &Path) {
    whoami_case(
        dir,
        &[sysmon1(
            1,
            "2026-01-10T02:30:00Z",
            r"C:\\Windows\\System32\\whoami.exe",
        )],
    );
}

#[test]
fn bad_option_values_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    for (args, named) in [
        (vec!["--lang", "de"], "de"),
        (vec!["--timezone", "Europe/Pariss"], "Europe/Pariss"),
        (vec!["--syslog-year", "262142"], "262142"),
        (vec!["--status", "stabl"], "stabl"),
        (vec!["--min-level", "huge"], "huge"),
        (vec!["-o", "t.jsonl", "--format", "xml"], "xml"),
        (vec!["-o", "t.csv", "--csv-dialect", "excel-de"], "excel-de"),
    ] {
        let mut a = vec!["hunt", "logs"];
        a.extend(args.iter().copied());
        let out = vigie(&a, dir);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {}", both(&out));
        let err = stderr(&out);
        assert!(
            err.contains(named) && err.contains("invalid value"),
            "{a:?}: {err}"
        );
        assert!(
            !dir.join("t.jsonl").exists() && !dir.join("t.csv").exists(),
            "nothing written"
        );
    }
    // Options that need a timeline, and a CSV option on a JSON timeline.
    let out = vigie(&["hunt", "logs", "--format", "csv"], dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--output"), "{}", both(&out));
    let out = vigie(
        &["hunt", "logs", "-o", "t.jsonl", "--csv-dialect", "excel-fr"],
        dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("t.jsonl is written as JSON Lines"),
        "{}",
        both(&out)
    );
    // A report needs rules.
    let out = vigie(&["hunt", "logs", "--no-rules", "--report", "r.html"], dir);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(!dir.join("r.html").exists());
}

#[test]
fn the_timeline_format_follows_the_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let hunt = |args: &[&str]| {
        let mut a = vec!["-q"];
        a.extend(args);
        let out = whoami_hunt(dir, "logs", &a);
        assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    };
    hunt(&["-o", "guess.csv"]);
    let csv = std::fs::read_to_string(dir.join("guess.csv")).unwrap();
    assert!(csv.starts_with("timestamp,datetime,"), "{csv}");
    for name in ["t.ndjson", "t.json", "T.JSONL", "t.txt"] {
        hunt(&["-o", name]);
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let row: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(row["rule_title"], "Whoami Execution", "{name}");
    }
    // --format wins over the extension.
    hunt(&["-o", "forced.csv", "--format", "jsonl"]);
    let text = std::fs::read_to_string(dir.join("forced.csv")).unwrap();
    assert!(text.starts_with('{'), "{text}");
}

#[test]
fn quiet_still_reports_what_was_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    // A damaged line between two good ones.
    let good = security("2026-01-10T03:00:00Z", 4624, "DC01", &[]);
    std::fs::write(
        dir.join("logs/b.jsonl"),
        format!("{good}\n{}\n{good}\n", &good[..30]),
    )
    .unwrap();
    let out = whoami_hunt(dir, "logs", &["-q"]);
    assert_eq!(out.status.code(), Some(4), "detections + partial read");
    assert!(out.stdout.is_empty(), "{}", both(&out));
    let err = stderr(&out);
    assert!(err.contains("1 record skipped"), "{err}");
    assert!(err.contains("b.jsonl") && err.contains("line 2"), "{err}");
    // Without -q: the summary on stdout, the problems on stderr.
    let out = whoami_hunt(dir, "logs", &[]);
    assert!(stdout(&out).contains("1 record skipped"), "{}", both(&out));
    assert!(stderr(&out).contains("line 2"), "{}", both(&out));
}

#[test]
fn exit_codes_say_found_and_fully_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let clean = sysmon1(2, "2026-01-10T02:31:00Z", r"C:\\Windows\\notepad.exe") + "\n";
    std::fs::create_dir_all(dir.join("clean")).unwrap();
    std::fs::write(dir.join("clean/c.jsonl"), &clean).unwrap();
    let code = |path: &str| whoami_hunt(dir, path, &["-q"]).status.code();
    assert_eq!(code("clean"), Some(0), "nothing found, all read");
    assert_eq!(code("logs"), Some(1), "found, all read");
    // A file in no log format beside the clean one: not all read.
    std::fs::write(dir.join("clean/notes.bin"), [0u8, 1, 2, 3, 0xff]).unwrap();
    assert_eq!(code("clean"), Some(3), "nothing found, partly read");
    std::fs::write(dir.join("logs/notes.bin"), [0u8, 1, 2, 3, 0xff]).unwrap();
    assert_eq!(code("logs"), Some(4), "found, partly read");
    // An empty file loses nothing.
    std::fs::remove_file(dir.join("clean/notes.bin")).unwrap();
    std::fs::write(dir.join("clean/empty.log"), "").unwrap();
    assert_eq!(code("clean"), Some(0));
}

#[test]
fn nothing_read_is_an_error_naming_what_was_tried() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("junk")).unwrap();
    std::fs::create_dir_all(dir.join("void")).unwrap();
    std::fs::write(dir.join("junk/readme.txt"), "Collected by the provider\n").unwrap();
    std::fs::write(dir.join("junk/blob.bin"), [0u8, 159, 146, 150]).unwrap();
    for args in [
        vec!["hunt", "junk"],
        vec!["hunt", "junk", "--no-rules", "-q"],
    ] {
        let out = vigie(&args, dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", both(&out));
        let err = stderr(&out);
        assert!(err.contains("no event could be read"), "{err}");
        assert!(err.contains("2 file(s) tried"), "{err}");
        assert!(
            err.contains("readme.txt") && err.contains("unrecognized format"),
            "{err}"
        );
        assert!(!stdout(&out).contains("No attack"), "never an all clear");
    }
    let out = vigie(&["hunt", "void"], dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no file found under void"),
        "{}",
        both(&out)
    );
    let out = vigie(&["hunt", "nope/"], dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", both(&out));
}
