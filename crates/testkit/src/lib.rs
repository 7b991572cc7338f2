//! Test support shared by Vigie's crates (a dev-dependency only).
//!
//! Why one place: every crate's corpus tests follow the same rule. The
//! corpus (SigmaHQ rules and regression data, the Sigma specification, the
//! EVTX attack samples) is read from `VIGIE_CORPUS`, by default
//! `../shared/corpus` beside the workspace, and never copied into the
//! repository. Under `CI=true` a missing corpus fails the test loudly; on a
//! machine without it the test says it was skipped and passes.

pub mod axe;
pub mod cdp;
pub mod servers;

use std::path::PathBuf;

/// The shared corpus, if it holds every path of `needs` (relative to the
/// corpus root, e.g. `"sigma/regression_data"`).
///
/// `None` after printing a "skipped" line when it does not, outside CI.
///
/// # Panics
///
/// Under `CI=true` when the corpus is missing: CI has it, so a missing
/// corpus there is a broken setup, not a reason to skip.
pub fn corpus(needs: &[&str]) -> Option<PathBuf> {
    let root = std::env::var_os("VIGIE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpus"
            ))
        });
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|n| !root.join(n).exists())
        .collect();
    if missing.is_empty() {
        return Some(root);
    }
    let why = format!(
        "corpus not found at {} (missing: {})",
        root.display(),
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}; set VIGIE_CORPUS (CI=true)");
    }
    println!("skipped: {why}");
    None
}

/// A Python interpreter that can import every module of `modules` (e.g.
/// `["stix2validator", "pymisp"]`): `VIGIE_PYTHON`, else the virtual
/// environment `.ci/run` makes (`target/pyenv`), else `python3`.
///
/// `None` after printing a "skipped" line when there is none, outside CI.
///
/// # Panics
///
/// Under `CI=true` when none can import them: `.ci/run` installs them.
pub fn python(modules: &[&str]) -> Option<PathBuf> {
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("VIGIE_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(workspace.join("target/pyenv/bin/python"));
    candidates.push(PathBuf::from("python3"));
    let probe = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    for c in &candidates {
        let ok = std::process::Command::new(c)
            .args(["-c", &probe])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(c.clone());
        }
    }
    let why = format!(
        "no Python with {} (tried VIGIE_PYTHON, target/pyenv, python3; `.ci/run` installs them: pip install stix2-validator pymisp taxii2-client)",
        modules.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI=true)");
    }
    println!("skipped: {why}");
    None
}
