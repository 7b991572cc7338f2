//! The page: sections in reading order, from the plain-words answer down
//! to every detection. Pure function of (scope, detection rows, options).
//!
//! One module per question the reader asks: [`answer`] (what happened,
//! what to do now), [`attack`] (how it went), [`entities`] (what was
//! touched), [`evidence`] (what it rests on); [`kit`] holds the shared
//! building blocks (cells, tables, words for the scope's enums).

use std::fmt::Write as _;

use vigie_scope::Scope;

use crate::html::escape;
use crate::style;
use crate::text::Voice;
use crate::verdict;
use crate::{DetectionRow, Options};

use answer::answer;
use attack::{attack_steps, graph_section, progression_section, tactic_rows, timeline_section};
use entities::*;
use evidence::*;
use kit::csp_hash;

const JS: &str = include_str!("../report.js");

/// Section ids, in page order (stable: tests, links and docs use them).
pub const SECTIONS: [&str; 13] = [
    "answer",
    "progression",
    "timeline",
    "graph",
    "hosts",
    "accounts",
    "services",
    "zones",
    "data",
    "containment",
    "coverage",
    "detections",
    "artifacts",
];

mod answer;
mod attack;
mod entities;
mod evidence;
mod kit;

/// The report's stylesheet: the shared theme, then the report's own rules.
fn css() -> String {
    format!("{}\n{}", style::THEME_CSS, style::REPORT_CSS)
}

/// The sections named by `ids` (ids of [`SECTIONS`], shown in that
/// order), without the page around them: the console shows an incident
/// with the report's own sections, words and look.
pub(crate) fn sections(
    scope: &Scope,
    alerts: &[DetectionRow],
    opts: &Options,
    ids: &[&str],
) -> String {
    let t = &Voice::new(opts.lang, opts.zone);
    let steps = attack_steps(scope);
    let rows = tactic_rows(&steps, scope.entry_point.as_ref(), t);
    let max = opts.max_table_rows;
    let mut body = String::with_capacity(64 * 1024);
    for id in SECTIONS.iter().filter(|s| ids.contains(s)) {
        match *id {
            "answer" => answer(&mut body, scope, &verdict::assess(scope, None, t), t),
            "progression" => progression_section(&mut body, scope, &rows, t, max),
            "timeline" => timeline_section(&mut body, &steps, &rows, alerts, t),
            "graph" => graph_section(&mut body, scope, t, max),
            "hosts" => hosts_section(&mut body, scope, t, max),
            "accounts" => accounts_section(&mut body, scope, t, max),
            "services" => services_section(&mut body, scope, t, max),
            "zones" => zones_section(&mut body, scope, t, max),
            "data" => data_section(&mut body, scope, t, max),
            "containment" => containment_section(&mut body, scope, t, max),
            "coverage" => coverage_section(&mut body, scope, t, max),
            "detections" => {
                detections_section(&mut body, scope, alerts, t, opts.max_detection_rows, max)
            }
            _ => artifacts_section(&mut body, scope, t, max),
        }
    }
    body
}

pub(crate) fn render(scope: &Scope, alerts: &[DetectionRow], opts: &Options) -> String {
    let t = &Voice::new(opts.lang, opts.zone);
    let steps = attack_steps(scope);
    let rows = tactic_rows(&steps, scope.entry_point.as_ref(), t);
    let verdict = verdict::assess(scope, None, t);
    let max = opts.max_table_rows;

    let mut body = String::with_capacity(256 * 1024);
    answer(&mut body, scope, &verdict, t);
    progression_section(&mut body, scope, &rows, t, max);
    timeline_section(&mut body, &steps, &rows, alerts, t);
    graph_section(&mut body, scope, t, max);
    hosts_section(&mut body, scope, t, max);
    accounts_section(&mut body, scope, t, max);
    services_section(&mut body, scope, t, max);
    zones_section(&mut body, scope, t, max);
    data_section(&mut body, scope, t, max);
    containment_section(&mut body, scope, t, max);
    coverage_section(&mut body, scope, t, max);
    detections_section(&mut body, scope, alerts, t, opts.max_detection_rows, max);
    artifacts_section(&mut body, scope, t, max);

    let title = match &opts.organisation {
        Some(o) => format!("{} — {}", t.title, o),
        None => t.title.to_string(),
    };
    let css = css();
    let mut out = String::with_capacity(body.len() + css.len() + JS.len() + 4096);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {js}; style-src {css_hash}; img-src data:; base-uri 'none'; form-action 'none'"><meta name="generator" content="Vigie {ver}"><title>{title}</title><style>{css}</style></head><body>"#,
        lang = t.lang.code(),
        js = csp_hash(JS),
        css_hash = csp_hash(&css),
        ver = env!("CARGO_PKG_VERSION"),
        title = escape(&title),
    );
    let _ = write!(
        out,
        r##"<a class="skip" href="#answer">{}</a><header class="top"><div class="wrap"><div><h1>{}</h1>"##,
        escape(t.skip_to_answer),
        escape(t.title)
    );
    if let Some(o) = &opts.organisation {
        let _ = write!(out, r#"<div class="org">{}</div>"#, escape(o));
    }
    out.push_str(r#"</div><div class="meta">"#);
    if let Some(p) = &scope.observed {
        let _ = write!(
            out,
            "{} {} → {}<br>",
            escape(&t.label(t.c_period)),
            kit::time_html(t, Some(p.first)),
            kit::time_html(t, Some(p.last))
        );
    }
    if let Some(g) = &opts.generated_at {
        let _ = write!(
            out,
            "{} · {}<br>",
            escape(t.generated),
            kit::time_html(t, Some(*g))
        );
    }
    let _ = write!(out, "{}</div></div></header>", escape(&t.times_note()));
    let _ = write!(
        out,
        r#"<div class="confidential"><div class="wrap">{}</div></div>"#,
        escape(t.confidential)
    );
    let _ = write!(
        out,
        r#"<nav class="toc" aria-label="{}"><ul>"#,
        escape(t.sections)
    );
    for (id, label) in [
        ("answer", t.s_answer),
        ("progression", t.s_progression),
        ("timeline", t.s_timeline),
        ("graph", t.s_graph),
        ("hosts", t.s_hosts),
        ("accounts", t.s_accounts),
        ("services", t.s_services),
        ("zones", t.s_zones),
        ("data", t.s_data),
        ("containment", t.s_containment),
        ("coverage", t.s_coverage),
        ("detections", t.s_detections),
        ("artifacts", t.artifacts_title),
    ] {
        let _ = write!(out, r##"<li><a href="#{id}">{}</a></li>"##, escape(label));
    }
    out.push_str(r#"</ul></nav><main class="wrap">"#);
    out.push_str(&body);
    let _ = write!(
        out,
        r#"</main><footer class="bottom"><div class="wrap">{} {} · {} {} · {}</div></footer><script>{JS}</script></body></html>"#,
        escape(t.generated),
        env!("CARGO_PKG_VERSION"),
        escape(t.scope_schema),
        escape(&scope.schema_version),
        escape(&t.times_note())
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hash_is_base64_sha256() {
        // printf '' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            csp_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }
}
