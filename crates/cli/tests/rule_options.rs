//! Rule options as a user gets them wrong or right, through the binary
//! (issue 18.1, rules side; 18.7; 19): a `--rules` path that does not
//! exist or holds no rule, a bad `--status` or `--min-level`, a
//! placeholders file, and `vigie rules check` listing every failure kind
//! and the filter migration warning.

use std::path::Path;
use std::process::{Command, Output};

const RULE: &str = "title: Whoami Execution\nid: 5d2a9b8e-1111-4c3b-9a55-0a1b2c3d4e5f\nstatus: test\nlevel: medium\nlogsource: {product: windows, category: process_creation}\ndetection:\n    selection:\n        Image|endswith: '\\whoami.exe'\n    condition: selection\n";

const EVENT: &str = r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"TimeCreated":{"#attributes":{"SystemTime":"2026-01-10T02:31:00.000000Z"}},"EventRecordID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"PC-01.ccpab.local"},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","User":"MAIRIE\\adm_jean","CommandLine":"x"}}}"##;

fn vigie(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn fixtures() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::create_dir_all(d.join("rules")).unwrap();
    std::fs::create_dir_all(d.join("empty")).unwrap();
    std::fs::create_dir_all(d.join("logs")).unwrap();
    std::fs::write(d.join("rules/whoami.yml"), RULE).unwrap();
    std::fs::write(d.join("README.md"), "# Notes\n\nNothing here.\n").unwrap();
    std::fs::write(d.join("logs/events.jsonl"), format!("{EVENT}\n")).unwrap();
    t
}

/// Each mistake: exit 2, the path or value named, and the hunt did not
/// run (no "detections" exit 1 with the built-in pack).
#[test]
fn rules_paths_that_cannot_serve_are_usage_errors() {
    let t = fixtures();
    let d = t.path();
    for (path, needle) in [
        (
            "/nonexistent/sigma",
            "--rules /nonexistent/sigma: no such file or directory",
        ),
        ("README.md", "--rules README.md: holds no Sigma rule"),
        ("/etc/passwd", "--rules /etc/passwd: holds no Sigma rule"),
        (
            "empty",
            "--rules empty: holds no Sigma rule (no .yml or .yaml file in it)",
        ),
        ("/dev/zero", "--rules /dev/zero: not a file or directory"),
    ] {
        for quiet in [true, false] {
            let mut args = vec!["hunt", "logs", "--rules", path];
            if quiet {
                args.push("-q");
            }
            let o = vigie(&args, d);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(2), "{path}: {out}\n{err}");
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
        let o = vigie(&["rules", "check", "--rules", path], d);
        assert_eq!(o.status.code(), Some(2), "{path}");
        assert!(text(&o).1.contains(needle), "{}", text(&o).1);
    }
    // Two bad paths: both named.
    let o = vigie(&["hunt", "logs", "--rules", "empty", "--rules", "nope"], d);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("empty: holds no Sigma rule") && err.contains("nope: no such file"),
        "{err}"
    );
    // A good path beside the built-in pack: the hunt runs.
    let o = vigie(&["hunt", "logs", "--rules", "rules", "-q"], d);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
}

#[test]
fn bad_status_and_level_values_name_the_valid_ones() {
    let t = fixtures();
    let d = t.path();
    let o = vigie(&["hunt", "logs", "--status", "stabl"], d);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("'stabl'"), "{err}");
    for v in [
        "stable",
        "test",
        "experimental",
        "deprecated",
        "unsupported",
    ] {
        assert!(err.contains(v), "{v} not in {err}");
    }
    let o = vigie(&["rules", "check", "--min-level", "hihg"], d);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("'hihg'") && err.contains("critical"), "{err}");
    // Case does not matter for statuses (as in rules).
    let o = vigie(
        &[
            "rules",
            "check",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules",
            "--status",
            "TEST",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
}

#[test]
fn placeholders_file_makes_placeholder_rules_load() {
    let t = fixtures();
    let d = t.path();
    let rule = "title: Admin tool outside admin workstations\nid: 5d2a9b8e-3333-4c3b-9a55-0a1b2c3d4e5f\nlogsource: {product: windows, category: process_creation}\ndetection:\n    selection:\n        Image|endswith: '\\whoami.exe'\n    filter_admin:\n        User|expand: '%Administrators%'\n    condition: selection and not filter_admin\n";
    std::fs::write(d.join("rules/admins.yml"), rule).unwrap();
    let o = vigie(
        &[
            "rules",
            "check",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules",
        ],
        d,
    );
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("1 not loaded (1 placeholder)"), "{out}");
    assert!(
        out.contains("unresolved placeholder '%Administrators%'"),
        "{out}"
    );
    std::fs::write(d.join("values.yml"), "Administrators: ['*\\adm_*']\n").unwrap();
    let o = vigie(
        &[
            "rules",
            "check",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules",
            "--placeholders",
            "values.yml",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // In a hunt: the admin's whoami is not reported by the placeholder
    // rule, the plain whoami rule still fires.
    let o = vigie(
        &[
            "hunt",
            "logs",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules",
            "--placeholders",
            "values.yml",
            "-o",
            "t.jsonl",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let timeline = std::fs::read_to_string(d.join("t.jsonl")).unwrap();
    assert!(timeline.contains("Whoami Execution"), "{timeline}");
    assert!(!timeline.contains("Admin tool outside"), "{timeline}");
    // A broken placeholders file: usage error naming it.
    std::fs::write(d.join("bad.yml"), "Administrators: {x: 1}\n").unwrap();
    let o = vigie(&["hunt", "logs", "--placeholders", "bad.yml"], d);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--placeholders") && err.contains("values are text or numbers"),
        "{err}"
    );
}

#[test]
fn rules_check_lists_every_failure_kind_and_the_filter_warning() {
    let t = fixtures();
    let d = t.path();
    let r = d.join("rules");
    std::fs::write(r.join("deep.yml"), format!("{}x\n", "- ".repeat(20_000))).unwrap();
    std::fs::write(
        r.join("nots.yml"),
        format!(
            "title: Nots\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    A: b\n  condition: '{}sel'\n",
            "not ".repeat(100_000)
        ),
    )
    .unwrap();
    std::fs::write(r.join("copy.yml"), RULE).unwrap();
    std::fs::write(r.join("notes.yml"), "on: push\n").unwrap();
    std::fs::write(
        r.join("filter.yml"),
        "title: Old-style filter\nlogsource: {product: windows, category: process_creation}\nfilter:\n  rules: any\n  selection:\n    User|startswith: 'adm_'\n  condition: selection\n",
    )
    .unwrap();
    let o = vigie(
        &[
            "rules",
            "check",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules",
        ],
        d,
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.contains("4 not loaded (1 duplicate, 1 not_a_rule, 2 too_deep)"),
        "{out}"
    );
    assert!(
        out.contains("deep.yml#0: YAML nested deeper than 64 levels"),
        "{out}"
    );
    assert!(
        out.contains("duplicate rule id '5d2a9b8e-1111-4c3b-9a55-0a1b2c3d4e5f'"),
        "{out}"
    );
    assert!(out.contains("warning: ") && out.contains("filter.yml#0 (Old-style filter): filter condition 'selection' does not start with 'not'"), "{out}");
    // No line as long as the 400 KB condition.
    assert!(out.lines().all(|l| l.len() < 1_000), "a long line");
    let o = vigie(
        &[
            "rules",
            "check",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            "rules",
            "--json",
        ],
        d,
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = json["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"too_deep") && kinds.contains(&"duplicate"),
        "{kinds:?}"
    );
    assert_eq!(json["warnings"].as_array().unwrap().len(), 1);
}
