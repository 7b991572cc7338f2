//! axe-core in Debian's headless Chromium, through playwright-core
//! (`tests/browser/axe.mjs`): the accessibility check of the public
//! status page, on files (`vigie status export`) or served live (`vigie
//! serve`'s `/status`).
//!
//! Without node, Chromium or `tests/browser/node_modules` a test says
//! "skipped" and passes, except under `CI=true`, where `.ci/run` installs
//! them (`apt-get install chromium nodejs npm`, `npm ci`) and their
//! absence fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the runner needs: node, Chromium and the npm packages' folder.
pub struct Tools {
    pub node: PathBuf,
    pub chromium: PathBuf,
    pub pkg: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The tools, or why not.
pub fn tools() -> Result<Tools, String> {
    let node = on_path("node").ok_or("node not found on PATH")?;
    let chromium = crate::cdp::chromium().ok_or("chromium not found (apt-get install chromium)")?;
    let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    for m in ["axe-core", "playwright-core"] {
        if !pkg.join("node_modules").join(m).is_dir() {
            return Err(format!("{m} not installed (cd tests/browser && npm ci)"));
        }
    }
    Ok(Tools {
        node,
        chromium,
        pkg,
    })
}

/// The tools; `None` (said) outside CI when they are missing; a panic
/// under `CI=true`.
pub fn tools_or_skip() -> Option<Tools> {
    match tools() {
        Ok(t) => Some(t),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{why} under CI=true: .ci/run must install it")
        }
        Err(why) => {
            println!("skipped: {why}");
            None
        }
    }
}

/// Runs `axe.mjs` on `pages` (objects with `name`, `path` or `url`,
/// `width`, `height`, and optionally `screenshot`); its report's results.
pub fn run(t: &Tools, pages: Vec<Value>, tmp: &Path) -> Vec<Value> {
    let config = tmp.join("axe.json");
    std::fs::write(
        &config,
        serde_json::json!({ "chromium": t.chromium, "pages": pages }).to_string(),
    )
    .unwrap();
    let out = tmp.join("axe.out");
    let err = tmp.join("axe.err");
    let mut child = Command::new(&t.node)
        .arg(t.pkg.join("axe.mjs"))
        .arg(&config)
        .current_dir(&t.pkg)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start node");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the axe run did not finish within 240 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(status.success(), "axe run failed ({status}):\n{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("axe output is JSON");
    report["results"].as_array().unwrap().clone()
}

/// What is wrong with one page's result, which should be in `lang`: axe
/// violations, console errors, requests other than the page itself,
/// sideways scrolling. Panics when axe ran no rule (a check that cannot
/// fail is no check).
pub fn problems(r: &Value, lang: &str) -> Vec<String> {
    let name = r["name"].as_str().unwrap_or("?");
    assert!(
        r["passes"].as_u64().unwrap_or(0) > 20,
        "{name}: axe ran no rule: {r}"
    );
    assert_eq!(r["lang"].as_str(), Some(lang), "{name}");
    let mut out = Vec::new();
    for v in r["violations"].as_array().unwrap() {
        out.push(format!(
            "{name}: {} ({}) {} {}",
            v["id"], v["impact"], v["help"], v["nodes"]
        ));
    }
    for e in r["consoleErrors"].as_array().unwrap() {
        out.push(format!("{name}: console error {e}"));
    }
    for q in r["requests"].as_array().unwrap() {
        out.push(format!("{name}: loaded {q}"));
    }
    if r["overflow"].as_i64().unwrap_or(0) > 0 {
        out.push(format!("{name}: scrolls sideways by {} px", r["overflow"]));
    }
    out
}
