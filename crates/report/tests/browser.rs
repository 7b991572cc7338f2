//! The report in a real browser: Debian's headless Chromium opens it from
//! disk (as the crisis cell will, offline) and we check that
//! * it renders with no console message at all (script errors, CSP
//!   violations and blocked loads all log to the console),
//! * its script ran to the end (it sets `data-vigie-ready` on `<html>`)
//!   and the key sections are in the rendered DOM,
//! * a scope full of hostile strings runs no injected script,
//! * a screenshot can be taken (the docs' screenshots are taken from
//!   `vigie demo`'s real report by `docs/screenshots.sh`).
//!
//! Without Chromium the tests print "skipped" and pass, except under
//! `CI=true`, where `.ci/run` installs it and its absence is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cdp::chromium_or_skip;
use vigie_report::{write_html_with, Options, SECTIONS};

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `page` with `extra` flags; kills it after 120 s.
fn run_chromium(bin: &Path, profile: &Path, page: &Path, extra: &[String]) -> Run {
    let mut cmd = Command::new(bin);
    cmd.args(common::cdp::HEADLESS)
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null());
    std::fs::create_dir_all(profile).unwrap();
    let out_path = profile.with_extension("stdout.txt");
    let err_path = profile.with_extension("stderr.txt");
    cmd.stdout(std::fs::File::create(&out_path).unwrap());
    cmd.stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("start chromium");
    let start = Instant::now();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                let run = Run {
                    stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
                    stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
                };
                assert!(
                    status.success(),
                    "chromium failed ({status}):\n{}",
                    run.stderr
                );
                return run;
            }
            None if start.elapsed() > Duration::from_secs(120) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Console lines Chromium logged (`…:CONSOLE:…] "message", source: …`).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

fn write_report(
    dir: &Path,
    scope: &vigie_scope::Scope,
    rows: &[vigie_report::DetectionRow],
) -> PathBuf {
    let page = dir.join("report.html");
    let opts = Options {
        organisation: Some("Communauté de communes de Pen-Ar-Bed (CCPAB)".into()),
        ..Options::default()
    };
    write_html_with(&page, scope, rows, &opts).expect("write report");
    page
}

#[test]
fn report_renders_without_console_errors_and_with_every_section() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = write_report(
        dir.path(),
        &common::ccpab_scope(),
        &common::ccpab_detections(),
    );

    let run = run_chromium(
        &bin,
        &dir.path().join("profile-dom"),
        &page,
        &["--dump-dom".into()],
    );
    let console = console_lines(&run.stderr);
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let dom = run.stdout;
    assert!(
        dom.contains(r#"data-vigie-ready="1""#),
        "the report's script did not run to the end"
    );
    for id in SECTIONS {
        assert!(
            dom.contains(&format!(r#"id="{id}""#)),
            "section #{id} missing from the DOM"
        );
    }
    // The script revealed the filter controls and counted the rows.
    assert!(
        dom.contains(r#"<div class="filters">"#),
        "filters still hidden"
    );
    let rows = common::ccpab_detections().len();
    assert!(dom.contains(&format!(
        r#"<span id="det-count">{}</span>"#,
        rows.min(2000)
    )));
    // The graph and charts are in the DOM as SVG.
    for class in ["graph", "timeline"] {
        assert!(
            dom.contains(&format!(r#"<svg class="{class}""#)),
            "{class} svg"
        );
    }
    assert!(dom.contains(r#"<ol class="killchain""#), "kill-chain strip");
}

#[test]
fn hostile_strings_run_no_script_in_the_browser() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = write_report(
        dir.path(),
        &common::hostile_scope(),
        &common::hostile_detections(),
    );
    let run = run_chromium(
        &bin,
        &dir.path().join("profile"),
        &page,
        &["--dump-dom".into()],
    );
    // Injected markup would either run (setting data-pwned) or be blocked
    // by the CSP, which logs a console message: neither may happen.
    assert!(
        !run.stdout.contains(r#"data-pwned="1""#),
        "injected script ran"
    );
    let console = console_lines(&run.stderr);
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    assert!(run.stdout.contains(r#"data-vigie-ready="1""#));
    assert!(
        !run.stdout.contains("<iframe"),
        "injected iframe in the DOM"
    );
    assert!(!run.stdout.contains("<img"), "injected img in the DOM");
}

/// Drives the report's own script (sorting, filtering) from a test script
/// added to a copy of the page, and reads the results back from the DOM.
/// The copy drops the CSP (which would block the added script); the CSP
/// itself is exercised by the other tests.
#[test]
fn sorting_and_filtering_work_in_the_browser() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rows = common::ccpab_detections();
    let scope = common::ccpab_scope();
    let page = write_report(dir.path(), &scope, &rows);
    let html = std::fs::read_to_string(&page).unwrap();
    let csp_start = html
        .find(r#"<meta http-equiv="Content-Security-Policy""#)
        .unwrap();
    let csp_end = csp_start + html[csp_start..].find('>').unwrap() + 1;
    let probe = r#"<script>(function () {
  var out = [];
  var det = document.getElementById('det-table');
  var lvl = det.tHead.rows[0].cells[1];
  lvl.click(); lvl.click();
  out.push('desc=' + det.tBodies[0].rows[0].getAttribute('data-level'));
  lvl.click();
  out.push('asc=' + det.tBodies[0].rows[0].getAttribute('data-level'));
  var f = document.getElementById('det-filter');
  f.value = 'RCLONE'; f.dispatchEvent(new Event('input'));
  out.push('rclone=' + document.getElementById('det-count').textContent);
  f.value = ''; f.dispatchEvent(new Event('input'));
  var sel = document.getElementById('det-level');
  sel.value = '4'; sel.dispatchEvent(new Event('change'));
  out.push('critical=' + document.getElementById('det-count').textContent);
  var hosts = document.querySelector('#hosts table');
  var alerts = hosts.tHead.rows[0].cells[6];
  alerts.click();
  out.push('hostsasc=' + hosts.tBodies[0].rows[0].cells[6].getAttribute('data-sort'));
  alerts.click();
  out.push('hostsdesc=' + hosts.tBodies[0].rows[0].cells[6].getAttribute('data-sort'));
  document.documentElement.setAttribute('data-probe', out.join(';'));
}());</script>"#;
    let body_end = html.rfind("</body>").unwrap();
    let probed = format!(
        "{}{}{}{}",
        &html[..csp_start],
        &html[csp_end..body_end],
        probe,
        &html[body_end..]
    );
    let probe_page = dir.path().join("probe.html");
    std::fs::write(&probe_page, probed).unwrap();
    let run = run_chromium(
        &bin,
        &dir.path().join("profile-probe"),
        &probe_page,
        &["--dump-dom".into()],
    );
    let console = console_lines(&run.stderr);
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let start = run.stdout.find(r#"data-probe=""#).expect("probe ran") + 12;
    let probe = &run.stdout[start..start + run.stdout[start..].find('"').unwrap()];
    let rclone = rows
        .iter()
        .filter(|r| {
            format!("{} {}", r.rule_title, r.details)
                .to_lowercase()
                .contains("rclone")
        })
        .count();
    let critical = rows
        .iter()
        .filter(|r| r.level == Some(vigie_detect::Level::Critical))
        .count();
    let max_alerts = scope
        .hosts
        .iter()
        .map(|h| {
            let d = &h.detections;
            d.informational + d.low + d.medium + d.high + d.critical + d.unset
        })
        .max()
        .unwrap();
    let expected = format!(
        "desc=4;asc=0;rclone={rclone};critical={critical};hostsasc=0;hostsdesc={max_alerts}"
    );
    assert_eq!(probe, expected);
    assert!(rclone > 0 && critical > 0);
}

#[test]
fn a_screenshot_can_be_taken() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = write_report(
        dir.path(),
        &common::ccpab_scope(),
        &common::ccpab_detections(),
    );
    let shot = dir.path().join("report-screenshot.png");
    let run = run_chromium(
        &bin,
        &dir.path().join("profile-shot"),
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400".into(),
        ],
    );
    let console = console_lines(&run.stderr);
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2400));
    // A blank page compresses to a few kB; the report is far richer.
    assert!(
        png.len() > 100_000,
        "screenshot suspiciously small: {} bytes",
        png.len()
    );
    if let Ok(keep) = std::env::var("VIGIE_KEEP_REPORT") {
        std::fs::copy(&page, Path::new(&keep).join("report.html")).unwrap();
        std::fs::copy(&shot, Path::new(&keep).join("report-screenshot.png")).unwrap();
    }
}
