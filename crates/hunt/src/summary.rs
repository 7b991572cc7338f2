//! The terminal summary of a hunt: what was read, what fired, what failed.

use std::collections::BTreeMap;
use std::fmt::Write;

use vigie_detect::Level;

use crate::pipeline::HuntOutcome;
use crate::timeline::level_name;

/// How many rows the "top" lists show.
const TOP: usize = 10;

/// Renders the summary as plain text (no colours: it is also logged).
pub fn render(o: &HuntOutcome) -> String {
    let mut s = String::new();
    // Files in no log format (a README or a licence beside the logs of a
    // collection) are skipped, not failed: listed apart from read errors.
    let (logs, not_logs): (Vec<_>, Vec<_>) = o.files.iter().partition(|f| f.format.is_some());
    let skipped: u64 = logs.iter().map(|f| f.records_skipped).sum();
    let errors: usize = logs.iter().map(|f| f.errors.len()).sum::<usize>() + o.input_errors.len();
    let _ = writeln!(
        s,
        "Read {} events from {} files ({} records skipped, {} errors) in {:.2}s",
        o.events,
        logs.len(),
        skipped,
        errors,
        o.read_time.as_secs_f64()
    );
    if !not_logs.is_empty() {
        let names: Vec<String> = not_logs
            .iter()
            .take(3)
            .map(|f| f.path.display().to_string())
            .collect();
        let _ = writeln!(
            s,
            "Skipped {} files in no log format: {}{}",
            not_logs.len(),
            names.join(", "),
            if not_logs.len() > 3 { ", …" } else { "" }
        );
    }
    if let (Some(a), Some(b)) = (o.first, o.last) {
        let _ = writeln!(
            s,
            "Time span: {} → {}",
            a.format("%Y-%m-%d %H:%M:%S UTC"),
            b.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    let _ = writeln!(
        s,
        "Time: rules {:.2}s, read and match {:.2}s, correlation and scope {:.2}s",
        o.rules_time.as_secs_f64(),
        o.read_time.as_secs_f64(),
        o.post_time.as_secs_f64()
    );
    let r = &o.rules;
    if o.rules_compiled > 0 || !r.failures.is_empty() {
        let _ = writeln!(
            s,
            "Rules: {} compiled ({} detection, {} correlation, {} filter; {} deselected), {} not loaded{}",
            o.rules_compiled,
            r.detection,
            r.correlation,
            r.filter,
            r.deselected,
            r.failures.len(),
            if r.failures.is_empty() { "" } else { " (see `vigie rules check`)" }
        );
    } else {
        let _ = writeln!(s, "Rules: none (parse only)");
    }
    if let Some(snapshot) = &o.sigmahq {
        let _ = writeln!(s, "{snapshot}");
    }

    let mut by_level: BTreeMap<Level, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<(&str, Level), usize> = BTreeMap::new();
    let mut by_host: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &o.detections {
        *by_level.entry(d.level()).or_default() += 1;
        *by_rule
            .entry((d.rule.title.as_str(), d.level()))
            .or_default() += 1;
        *by_host
            .entry(d.computer.as_deref().unwrap_or("-"))
            .or_default() += 1;
    }
    let levels: Vec<String> = by_level
        .iter()
        .rev()
        .map(|(l, n)| format!("{n} {}", level_name(*l)))
        .collect();
    let _ = writeln!(
        s,
        "Detections: {}{}",
        o.detections.len(),
        if levels.is_empty() {
            String::new()
        } else {
            format!(" ({})", levels.join(", "))
        }
    );
    if !by_rule.is_empty() {
        let _ = writeln!(s, "Top rules:");
        for ((title, level), n) in top(by_rule.into_iter()) {
            let _ = writeln!(s, "  {n:>7}  {:<13} {title}", level_name(level));
        }
        let _ = writeln!(s, "Top hosts:");
        for (host, n) in top(by_host.into_iter()) {
            let _ = writeln!(s, "  {n:>7}  {host}");
        }
    }
    let mut shown = 0;
    for f in &logs {
        for e in &f.errors {
            if shown < TOP {
                let _ = writeln!(s, "  error: {}: {e}", f.path.display());
            }
            shown += 1;
        }
    }
    for e in &o.input_errors {
        if shown < TOP {
            let _ = writeln!(s, "  error: {e}");
        }
        shown += 1;
    }
    if shown > TOP {
        let _ = writeln!(
            s,
            "  … and {} more errors (all are in the manifest)",
            shown - TOP
        );
    }
    if let Some(scope) = &o.scope {
        let _ = writeln!(s, "\n{}", scope.summary_text());
    }
    s
}

/// The `TOP` largest counts, ties broken by key (deterministic).
fn top<K: Ord>(items: impl Iterator<Item = (K, usize)>) -> Vec<(K, usize)> {
    let mut v: Vec<(K, usize)> = items.collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP);
    v
}
