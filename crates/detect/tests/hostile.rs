//! Hostile and broken rule files (issue 19): each class gives one listed
//! failure with a clear, bounded message, the good rule beside it still
//! loads and matches, and memory and time stay bounded.
//!
//! Every case is built at test time (nothing large is committed) and runs
//! in a child process of this test binary under `ulimit -v` (1 GiB of
//! address space) and `ulimit -t` (120 s of CPU): before the limits of
//! `yaml.rs`, `load.rs` and `compile.rs`, the alias bomb grew to 8 GB, the
//! 100 MB file to 5.7 GB, and the deep nestings overflowed the stack: any
//! of these kills the child and fails the test. Nothing here measures
//! speed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use vigie_detect::{
    load_paths, load_rule_paths, Engine, FailureKind, LoadOptions, LoadReport, Match, RuleFailure,
    RulePathProblem,
};
use vigie_event::{Event, Locator, Origin};

/// Address space a child may use, in KiB (`ulimit -v`).
const CHILD_ADDRESS_SPACE_KIB: u64 = 1 << 20;
/// CPU seconds a child may use (`ulimit -t`).
const CHILD_CPU_SECONDS: u64 = 120;
/// Longest failure reason accepted (the loader caps them at 600
/// characters, plus the size note).
const MAX_REASON: usize = 700;

const GOOD: &str = "title: Good rule\nid: 0c0ffee0-0000-4000-8000-000000000001\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\nlevel: high\n";

/// Runs the case `name` in a child process under the limits, or, in
/// that child, runs `body`.
fn bounded(name: &str, body: fn()) {
    if std::env::var("VIGIE_HOSTILE_CASE").as_deref() == Ok(name) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {CHILD_ADDRESS_SPACE_KIB} && ulimit -t {CHILD_CPU_SECONDS} && exec \"$0\" \"$@\""
        ))
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("VIGIE_HOSTILE_CASE", name)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("spawn the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "case {name} failed under {CHILD_ADDRESS_SPACE_KIB} KiB / {CHILD_CPU_SECONDS} s ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
}

/// A temporary directory holding the good rule (removed when dropped).
fn dir(name: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix(&format!("vigie-hostile-{name}-"))
        .tempdir()
        .unwrap();
    std::fs::write(d.path().join("good.yml"), GOOD).unwrap();
    d
}

struct Loaded {
    report: LoadReport,
    failures: Vec<RuleFailure>,
    engine: Engine,
}

fn load(d: &Path) -> Loaded {
    let (set, report) = load_paths(&[d], &LoadOptions::default());
    let (engine, compile) = Engine::compile(set);
    let mut failures = report.failures.clone();
    failures.extend(compile);
    Loaded {
        report,
        failures,
        engine,
    }
}

fn whoami() -> Event {
    let mut e = Event::new(Origin {
        source: Arc::from("test"),
        locator: Locator::None,
    });
    e.channel = Some("Microsoft-Windows-Sysmon/Operational".into());
    e.event_id = Some(1);
    e.push("EventID", 1i64);
    e.push("Image", "C:\\Windows\\System32\\whoami.exe");
    e
}

/// The good rule compiled and fires once on its event.
fn good_rule_still_works(l: &Loaded) {
    let titles: Vec<&str> = l.engine.rules().iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, ["Good rule"], "{:#?}", l.failures);
    let mut out: Vec<Match> = Vec::new();
    l.engine.evaluate(&whoami(), &mut out);
    assert_eq!(out.len(), 1);
}

/// Exactly one failure, of `kind`, naming `file`, saying `needle`, short.
fn one_failure<'a>(l: &'a Loaded, kind: FailureKind, file: &str, needle: &str) -> &'a RuleFailure {
    assert_eq!(l.failures.len(), 1, "{:#?}", l.failures);
    let f = &l.failures[0];
    assert_eq!(f.kind, kind, "{f:#?}");
    assert!(f.path.ends_with(file), "{f:#?}");
    assert!(
        f.reason.contains(needle),
        "{needle:?} not in {:?}",
        f.reason
    );
    assert!(
        f.reason.chars().count() <= MAX_REASON,
        "{} chars",
        f.reason.chars().count()
    );
    assert!(!f.reason.chars().any(char::is_control), "{:?}", f.reason);
    f
}

fn rule_with(detection: &str) -> String {
    format!("title: Hostile\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n{detection}level: low\n")
}

#[test]
fn condition_with_100000_nested_nots() {
    bounded("condition_with_100000_nested_nots", || {
        let t = dir("nots");
        let d = t.path().to_path_buf();
        let cond = format!("{}sel", "not ".repeat(100_000));
        let text = rule_with(&format!("  sel:\n    Image: x\n  condition: '{cond}'\n"));
        std::fs::write(d.join("nots.yml"), text).unwrap();
        let l = load(&d);
        let f = one_failure(
            &l,
            FailureKind::TooDeep,
            "nots.yml",
            "deeper than 64 levels",
        );
        // The 400 KB condition is quoted cut, with its size.
        assert!(f.reason.contains("…' (400,003 bytes)"), "{}", f.reason);
        good_rule_still_works(&l);
    });
}

#[test]
fn yaml_sequence_20000_levels_deep() {
    bounded("yaml_sequence_20000_levels_deep", || {
        let t = dir("deep-yaml");
        let d = t.path().to_path_buf();
        // Block and flow nesting, inside a rule.
        let block = format!("title: Deep\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    Image:\n{}x\n  condition: sel\n", "      - ".repeat(20_000));
        std::fs::write(d.join("deep.yml"), block).unwrap();
        let l = load(&d);
        one_failure(
            &l,
            FailureKind::TooDeep,
            "deep.yml",
            "YAML nested deeper than 64 levels",
        );
        good_rule_still_works(&l);
        std::fs::write(
            d.join("deep.yml"),
            format!("{}x{}", "- ".repeat(20_000), ""),
        )
        .unwrap();
        let l = load(&d);
        one_failure(&l, FailureKind::TooDeep, "deep.yml", "deeper than 64");
        good_rule_still_works(&l);
    });
}

#[test]
fn yaml_alias_bomb_of_1_kb() {
    bounded("yaml_alias_bomb_of_1_kb", || {
        let t = dir("bomb");
        let d = t.path().to_path_buf();
        // Each anchor a list of nine aliases of the previous one: 9^12
        // values once expanded (~8 GB with yaml-rust2's own loader).
        let mut text = String::from(
            "title: Bomb\nlogsource: {product: windows}\na0: &a0 [x, x, x, x, x, x, x, x, x]\n",
        );
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        text.push_str("detection:\n  sel:\n    Image: *a11\n  condition: sel\n");
        assert!(text.len() < 1100, "{}", text.len());
        std::fs::write(d.join("bomb.yml"), text).unwrap();
        let l = load(&d);
        one_failure(&l, FailureKind::AliasExpansion, "bomb.yml", "alias bomb");
        good_rule_still_works(&l);
    });
}

#[test]
fn rule_file_of_100_mb() {
    bounded("rule_file_of_100_mb", || {
        let t = dir("huge");
        let d = t.path().to_path_buf();
        // Sparse: refused by its size, never read.
        let f = std::fs::File::create(d.join("huge.yml")).unwrap();
        f.set_len(100 << 20).unwrap();
        drop(f);
        let l = load(&d);
        one_failure(
            &l,
            FailureKind::TooLarge,
            "huge.yml",
            "104,857,600 bytes, more than the 16 MiB",
        );
        good_rule_still_works(&l);
        // Real text just over the limit (many small rules), and a file
        // that stays under it but holds over a million YAML values.
        std::fs::remove_file(d.join("huge.yml")).unwrap();
        let many = GOOD
            .replace("0c0ffee0", "0c0ffee1")
            .repeat((16 << 20) / GOOD.len() + 1);
        std::fs::write(d.join("huge.yml"), many).unwrap();
        let l = load(&d);
        one_failure(&l, FailureKind::TooLarge, "huge.yml", "16 MiB");
        let wide = format!(
            "title: Wide\nlogsource: {{product: windows}}\nl: [{}]\n",
            "a,".repeat(1_100_000)
        );
        std::fs::write(d.join("huge.yml"), wide).unwrap();
        let l = load(&d);
        one_failure(
            &l,
            FailureKind::TooLarge,
            "huge.yml",
            "more than 1,000,000 values",
        );
        good_rule_still_works(&l);
    });
}

#[test]
fn regex_of_1_mb_and_regexes_too_big_once_compiled() {
    bounded("regex_of_1_mb_and_regexes_too_big_once_compiled", || {
        let t = dir("regex");
        let d = t.path().to_path_buf();
        let big = "a".repeat(1 << 20);
        std::fs::write(
            d.join("bigre.yml"),
            rule_with(&format!(
                "  sel:\n    CommandLine|re: '{big}'\n  condition: sel\n"
            )),
        )
        .unwrap();
        let l = load(&d);
        let f = one_failure(
            &l,
            FailureKind::TooLarge,
            "bigre.yml",
            "longer than the 32 KiB",
        );
        assert!(f.reason.contains("(1,048,576 bytes)"), "{}", f.reason);
        good_rule_still_works(&l);
        // Short, but enormous once compiled.
        std::fs::write(
            d.join("bigre.yml"),
            rule_with("  sel:\n    CommandLine|re: '(((a{100}){100}){100})'\n  condition: sel\n"),
        )
        .unwrap();
        let l = load(&d);
        one_failure(&l, FailureKind::TooLarge, "bigre.yml", "exceeds size limit");
        good_rule_still_works(&l);
    });
}

#[test]
fn condition_of_200_kb() {
    bounded("condition_of_200_kb", || {
        let t = dir("longcond");
        let d = t.path().to_path_buf();
        let cond = format!("{}(sel", "sel and ".repeat(25_000));
        std::fs::write(
            d.join("long.yml"),
            rule_with(&format!("  sel:\n    Image: x\n  condition: '{cond}'\n")),
        )
        .unwrap();
        let l = load(&d);
        let f = one_failure(&l, FailureKind::Invalid, "long.yml", "missing ')'");
        assert!(f.reason.contains("…' (200,004 bytes)"), "{}", f.reason);
        // An unknown identifier at its end: named, not the condition.
        let cond = format!("{}missing", "sel and ".repeat(25_000));
        std::fs::write(
            d.join("long.yml"),
            rule_with(&format!("  sel:\n    Image: x\n  condition: '{cond}'\n")),
        )
        .unwrap();
        let l = load(&d);
        one_failure(
            &l,
            FailureKind::Invalid,
            "long.yml",
            "unknown search identifier 'missing'",
        );
        good_rule_still_works(&l);
    });
}

#[test]
fn modifiers_that_multiply_values() {
    bounded("modifiers_that_multiply_values", || {
        let t = dir("multiply");
        let d = t.path().to_path_buf();
        // 40,000 values with three dashes each: 125 windash forms each
        // would be 5 million patterns.
        let mut text = rule_with("  sel:\n    CommandLine|windash|contains:\n");
        text = text.replace("level: low\n", "");
        for i in 0..40_000 {
            text.push_str(&format!("      - ' -a{i} -b -c'\n"));
        }
        text.push_str("  condition: sel\nlevel: low\n");
        std::fs::write(d.join("windash.yml"), text).unwrap();
        let l = load(&d);
        one_failure(
            &l,
            FailureKind::TooLarge,
            "windash.yml",
            "more than 100,000 values",
        );
        good_rule_still_works(&l);
    });
}

#[cfg(unix)]
#[test]
fn symlink_loops_load_each_rule_once() {
    bounded("symlink_loops_load_each_rule_once", || {
        let t = dir("loops");
        let d = t.path().to_path_buf();
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        std::os::unix::fs::symlink(&d, d.join("sub/deeper/to-root")).unwrap();
        std::os::unix::fs::symlink(d.join("sub"), d.join("sub/deeper/to-sub")).unwrap();
        std::os::unix::fs::symlink(d.join("good.yml"), d.join("sub/alias.yml")).unwrap();
        let l = load(&d);
        assert!(l.failures.is_empty(), "{:#?}", l.failures);
        assert_eq!(l.report.files, 1, "{:#?}", l.report);
        good_rule_still_works(&l);
        // The same rules given through several paths: read once.
        let (set, report) = load_rule_paths(
            &[
                d.clone(),
                d.join("sub/deeper/to-root"),
                d.join("sub/alias.yml"),
            ],
            &LoadOptions::default(),
        )
        .expect("every path holds the rule");
        assert_eq!((report.files, set.len()), (1, 1), "{report:#?}");
    });
}

#[cfg(unix)]
#[test]
fn special_files_are_not_read() {
    bounded("special_files_are_not_read", || {
        let t = dir("fifo");
        let d = t.path().to_path_buf();
        let ok = Command::new("mkfifo")
            .arg(d.join("pipe.yml"))
            .status()
            .unwrap();
        assert!(ok.success());
        let l = load(&d);
        one_failure(
            &l,
            FailureKind::Unreadable,
            "pipe.yml",
            "not a regular file",
        );
        good_rule_still_works(&l);
        let e = load_rule_paths(&[d.join("pipe.yml")], &LoadOptions::default()).unwrap_err();
        assert_eq!(e.problems[0].1, RulePathProblem::Special);
        let e = load_rule_paths(&[Path::new("/dev/zero")], &LoadOptions::default()).unwrap_err();
        assert_eq!(e.problems[0].1, RulePathProblem::Special);
    });
}

#[test]
fn binary_and_duplicate_files() {
    bounded("binary_and_duplicate_files", || {
        let t = dir("binary");
        let d = t.path().to_path_buf();
        std::fs::write(
            d.join("blob.yml"),
            [0xffu8, 0xfe, 0, 1, 2, 0x80].repeat(1000),
        )
        .unwrap();
        let l = load(&d);
        one_failure(&l, FailureKind::Unreadable, "blob.yml", "not valid UTF-8");
        good_rule_still_works(&l);
        std::fs::remove_file(d.join("blob.yml")).unwrap();
        std::fs::write(d.join("copy.yml"), GOOD).unwrap();
        let l = load(&d);
        let f = one_failure(&l, FailureKind::Duplicate, "good.yml", "duplicate rule id");
        assert!(f.reason.contains("copy.yml#0"), "{}", f.reason);
        let mut out = Vec::new();
        l.engine.evaluate(&whoami(), &mut out);
        assert_eq!(out.len(), 1, "one row per event, not one per copy");
    });
}

/// A path that does not exist or holds no Sigma rule is refused, naming
/// it and saying what was found.
#[test]
fn rule_paths_without_rules_are_refused() {
    let t = dir("paths");
    let d = t.path().to_path_buf();
    std::fs::write(d.join("README.md"), "# Rules\n\nSee the rules.\n").unwrap();
    std::fs::create_dir_all(d.join("empty")).unwrap();
    std::fs::create_dir_all(d.join("ci")).unwrap();
    std::fs::write(d.join("ci/workflow.yml"), "on: push\njobs: {}\n").unwrap();
    let opts = LoadOptions::default();
    let cases: Vec<(PathBuf, &str)> = vec![
        (d.join("nope"), "no such file or directory"),
        (
            d.join("README.md"),
            "holds no Sigma rule (1 file read, no Sigma rule document; first problem:",
        ),
        (PathBuf::from("/etc/passwd"), "holds no Sigma rule"),
        (
            d.join("empty"),
            "holds no Sigma rule (no .yml or .yaml file in it)",
        ),
        (d.join("ci"), "not a Sigma rule"),
    ];
    for (p, needle) in &cases {
        if !p.exists() && !needle.contains("no such") {
            continue;
        }
        let e = load_rule_paths(&[p.clone(), d.clone()], &opts).unwrap_err();
        assert_eq!(e.problems.len(), 1, "{e}");
        let text = e.to_string();
        assert!(text.starts_with(&p.display().to_string()), "{text}");
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    // The directory itself holds a rule: accepted.
    let (set, _) = load_rule_paths(&[&d], &opts).unwrap();
    assert_eq!(set.len(), 1);
    // A path whose only rule fails to load still holds a rule: its
    // failure is listed, it is not a usage error.
    std::fs::write(
        d.join("empty/broken.yml"),
        rule_with("  sel:\n    Image|bogus: x\n  condition: sel\n"),
    )
    .unwrap();
    let (_, rep) = load_rule_paths(&[d.join("empty")], &opts).unwrap();
    assert_eq!(rep.failures.len(), 1, "{rep:#?}");
}

/// Conditions that are valid but wide or shaped to blow up a conversion
/// to normal form (the prefilter's literal requirements): they compile,
/// bounded, and match.
#[test]
fn wide_conditions_compile_bounded() {
    bounded("wide_conditions_compile_bounded", || {
        let t = dir("wide");
        let d = t.path().to_path_buf();
        let n = 2_000;
        let mut det = String::new();
        for i in 0..n {
            det.push_str(&format!("  s{i}:\n    CommandLine|contains: 'alpha{i}'\n  t{i}:\n    Image|endswith: 'beta{i}.exe'\n"));
        }
        // (s0 and t0) or (s1 and t1) or …: 2^2000 clauses in conjunctive
        // normal form.
        let dnf: Vec<String> = (0..n).map(|i| format!("(s{i} and t{i})")).collect();
        let cnf: Vec<String> = (0..n).map(|i| format!("(s{i} or t{i})")).collect();
        let mut text = String::new();
        for (k, cond) in [
            dnf.join(" or "),
            cnf.join(" and "),
            "1 of s* and all of t*".to_string(),
        ]
        .iter()
        .enumerate()
        {
            text.push_str(&format!(
                "---\ntitle: Wide {k}\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n{det}  condition: '{cond}'\nlevel: low\n"
            ));
        }
        std::fs::write(d.join("wide.yml"), text).unwrap();
        let l = load(&d);
        assert!(l.failures.is_empty(), "{:#?}", l.failures);
        assert_eq!(l.engine.rules().len(), 4);
        let mut e = Event::new(Origin {
            source: Arc::from("test"),
            locator: Locator::None,
        });
        e.channel = Some("Microsoft-Windows-Sysmon/Operational".into());
        e.event_id = Some(1);
        e.push("EventID", 1i64);
        e.push("CommandLine", "x alpha1234 y");
        e.push("Image", "C:\\beta1234.exe");
        let mut out = Vec::new();
        l.engine.evaluate(&e, &mut out);
        let titles: Vec<&str> = out.iter().map(|m| m.rule.title.as_str()).collect();
        assert_eq!(titles, ["Wide 0"]);
        out.clear();
        l.engine.evaluate(&whoami(), &mut out);
        let titles: Vec<&str> = out.iter().map(|m| m.rule.title.as_str()).collect();
        assert_eq!(titles, ["Good rule"]);
    });
}
