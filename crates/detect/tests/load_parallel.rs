//! `load_paths` parses files in parallel; what it returns must not depend
//! on that: the same rules in the same order, the same report with its
//! failures in the same order, and the same engine digest as loading the
//! files one by one in sorted path order.

mod common;

use std::path::{Path, PathBuf};

use vigie_detect::{load_paths, Engine, LoadOptions, LoadReport, RuleSet};

/// Every rule file under `dir` (hidden directories skipped, as the loader
/// does).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for e in entries {
        let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if e.is_dir() {
            if !name.starts_with('.') {
                walk(&e, out);
            }
        } else if name.ends_with(".yml") || name.ends_with(".yaml") {
            out.push(e);
        }
    }
}

/// The reference: one `load_paths` call per file (one file is loaded on
/// one thread), merged in sorted path order.
fn one_by_one(roots: &[PathBuf], opts: &LoadOptions) -> (RuleSet, LoadReport) {
    let mut files = Vec::new();
    for r in roots {
        walk(r, &mut files);
    }
    files.sort();
    files.dedup();
    let mut set = RuleSet::default();
    let mut report = LoadReport::default();
    for f in &files {
        let (s, r) = load_paths(std::slice::from_ref(f), opts);
        set.extend(s);
        report.merge(r);
    }
    (set, report)
}

/// A directory of broken files beside good ones, so that the order of
/// failures is checked too (the SigmaHQ rules themselves all parse).
fn broken_rules() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigie-load-parallel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).expect("temp dir");
    let good =
        "title: Good {n}\nlogsource: {product: windows}\ndetection:\n  s: {A: b}\n  condition: s\n";
    for n in 0..40 {
        let path = dir.join(format!("good{n:02}.yml"));
        std::fs::write(path, good.replace("{n}", &n.to_string())).expect("write");
    }
    std::fs::write(dir.join("a_not_utf8.yml"), b"title: \xff\xfe\n").expect("write");
    std::fs::write(dir.join("b_list.yml"), "- a\n- b\n").expect("write");
    std::fs::write(dir.join("c_yaml_error.yml"), "title: [unclosed\n").expect("write");
    std::fs::write(
        dir.join("sub/d_no_detection.yaml"),
        "title: No detection\nlogsource: {product: windows}\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("sub/e_mixed.yml"),
        format!(
            "{}---\ntitle: [broken\n---\n{}",
            good.replace("{n}", "x"),
            good.replace("{n}", "y")
        ),
    )
    .expect("write");
    dir
}

#[test]
fn parallel_load_equals_one_by_one() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let broken = broken_rules();
    let mut roots = common::rule_dirs(&corpus);
    roots.push(broken.clone());
    let opts = LoadOptions::default();

    let (set, report) = load_paths(&roots, &opts);
    let (ref_set, ref_report) = one_by_one(&roots, &opts);
    let _ = std::fs::remove_dir_all(&broken);

    assert!(report.files > 3000, "{} files", report.files);
    assert!(
        report.failures.len() >= 5,
        "the broken files are reported: {:?}",
        report.failures
    );
    assert_eq!(report, ref_report);
    assert_eq!(set.len(), ref_set.len());
    assert_eq!(set.metas(), ref_set.metas());
    let (engine, fails) = Engine::compile(set);
    let (ref_engine, ref_fails) = Engine::compile(ref_set);
    assert_eq!(fails, ref_fails);
    assert_eq!(engine.digest(), ref_engine.digest());
}
