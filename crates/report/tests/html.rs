//! The report's HTML, checked without a browser: sections present, the
//! scenario's key facts shown, no network reference, and no injection
//! from attacker-controlled strings anywhere in the scope.

mod common;

use std::collections::BTreeSet;

use vigie_report::{render_html, render_html_with, Options, SECTIONS};

/// Every tag the report may contain. Anything else in the output was
/// injected.
const ALLOWED_TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "header", "div", "h1", "h2",
    "h3", "nav", "ul", "ol", "li", "a", "main", "section", "p", "span", "strong", "dl", "dt", "dd",
    "time", "table", "thead", "tbody", "tr", "th", "td", "code", "br", "input", "label", "select",
    "option", "footer", "script", "svg", "defs", "marker", "path", "g", "rect", "text", "line",
    "circle",
];

/// Every attribute the report may set.
const ALLOWED_ATTRS: &[&str] = &[
    "lang",
    "charset",
    "name",
    "content",
    "http-equiv",
    "class",
    "id",
    "href",
    "datetime",
    "title",
    "data-sort",
    "data-level",
    "data-zone",
    "data-host",
    "data-label",
    "data-tactic",
    "data-assessment",
    "scope",
    "tabindex",
    "hidden",
    "type",
    "placeholder",
    "aria-label",
    "value",
    "selected",
    "xmlns",
    "viewbox",
    "width",
    "height",
    "role",
    "font-family",
    "refx",
    "refy",
    "markerwidth",
    "markerheight",
    "orient",
    "d",
    "fill",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "marker-end",
    "x",
    "y",
    "rx",
    "font-size",
    "font-weight",
    "text-anchor",
    "fill-opacity",
    "x1",
    "x2",
    "y1",
    "y2",
    "cx",
    "cy",
    "r",
];

/// Tags and attribute names in `html`, as a browser's tokenizer would see
/// them (enough of it for generated markup: double-quoted attributes).
fn tags_and_attrs(html: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut tags = BTreeSet::new();
    let mut attrs = BTreeSet::new();
    let b = html.as_bytes();
    let mut i = 0;
    // Skip the raw-text bodies of <style> and <script> (ours, constant).
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        if i < b.len() && b[i] == b'/' {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let tag = html[start..i].to_ascii_lowercase();
        if tag.starts_with('!') {
            // <!DOCTYPE html>: no attributes.
            while i < b.len() && b[i] != b'>' {
                i += 1;
            }
            tags.insert(tag);
            continue;
        }
        // Attributes until '>'.
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                break;
            }
            let a = i;
            while i < b.len() && b[i] != b'=' && b[i] != b'>' && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            attrs.insert(html[a..i].to_ascii_lowercase());
            if i < b.len() && b[i] == b'=' {
                i += 1;
                if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                    let q = b[i];
                    i += 1;
                    while i < b.len() && b[i] != q {
                        i += 1;
                    }
                    i += 1;
                } else {
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                }
            }
        }
        if tag == "style" || tag == "script" {
            let close = format!("</{tag}>");
            match html[i..].find(&close) {
                Some(off) => i += off + close.len(),
                None => i = b.len(),
            }
        }
        tags.insert(tag);
    }
    (tags, attrs)
}

#[test]
fn every_section_is_present_once_in_order() {
    let html = render_html(&common::ccpab_scope(), &common::ccpab_detections());
    let mut last = 0;
    for id in SECTIONS {
        let needle = format!(r#"id="{id}""#);
        assert_eq!(html.matches(&needle).count(), 1, "section #{id}");
        let pos = html.find(&needle).unwrap();
        assert!(pos > last, "#{id} out of order");
        last = pos;
    }
}

#[test]
fn the_answer_comes_first_in_plain_words() {
    let scope = common::ccpab_scope();
    let html = render_html(&scope, &[]);
    let answer =
        &html[html.find(r#"id="answer""#).unwrap()..html.find(r#"id="progression""#).unwrap()];
    assert!(answer.contains("Attack confirmed"));
    assert!(answer.contains("tone-red"));
    assert!(answer.contains(&scope.answer.headline.replace('\'', "&#39;")));
    // Four things to isolate, in order.
    let acts: Vec<usize> = scope
        .answer
        .isolate_now
        .iter()
        .map(|a| answer.find(a.as_str()).expect(a))
        .collect();
    assert!(acts.windows(2).all(|w| w[0] < w[1]));
    // Key figures: compromised machines (8 servers + 24 PCs + AQUA-CAISSE01 = 33? count from the scope).
    let n = scope
        .hosts
        .iter()
        .filter(|h| h.compromised == vigie_scope::Compromise::Yes)
        .count();
    assert!(answer.contains(&format!(
        r#"<div class="n">{n}</div><div class="l">machines compromised"#
    )));
    // The limits of the analysis are said where the answer is read.
    assert!(answer.contains("<strong>Not analysed</strong>"));
    for c in &scope.caveats {
        assert!(answer.contains(&c.replace('\'', "&#39;")), "{c}");
    }
    // GDPR: special-category data went out.
    assert!(answer.contains("GDPR Art. 33"));
    // TES-01's zone is stated as not reached, in green.
    assert!(
        answer.contains(r#"<span class="pill tone-green">isolated (State): Not reached</span>"#)
    );
}

#[test]
fn isolated_zone_is_visible_as_not_reached_in_the_graph_and_zones() {
    let html = render_html(&common::ccpab_scope(), &[]);
    let graph = &html[html.find(r#"id="graph""#).unwrap()..html.find(r#"id="hosts""#).unwrap()];
    assert!(graph.contains(r#"data-zone="isolated (State)""#));
    assert!(graph.contains(r#"<g class="node tone-green" data-host="TES-01">"#));
    assert!(graph.contains(">not reached</text>"));
    // Attacker side, entry edge, PsExec fan-out, the GPO folded.
    assert!(graph.contains(r#"data-host="203.0.113.45""#));
    assert!(graph.contains("← VPN · presta.maint"));
    assert!(graph.contains("← PsExec · svc_sauvegarde"));
    assert!(graph.contains("← Remote task · svc_sauvegarde"));
    assert!(
        graph.contains(">+20 more</text>"),
        "24 workstations folded into 4 + 1 box"
    );
    let zones = &html[html.find(r#"id="zones""#).unwrap()..html.find(r#"id="data""#).unwrap()];
    assert!(zones.contains(r#"<div class="zone tone-green" data-zone="isolated (State)">"#));
    assert!(zones.contains("records 1–48,000, no gap"));
}

#[test]
fn progression_follows_the_kill_chain_with_first_times() {
    let html = render_html(&common::ccpab_scope(), &[]);
    let p =
        &html[html.find(r#"id="progression""#).unwrap()..html.find(r#"id="timeline""#).unwrap()];
    assert_eq!(
        p.matches(r#"class="tactic seen""#).count(),
        13,
        "13 of 15 tactics seen"
    );
    let order = [
        "Initial access",
        "Execution",
        "Persistence",
        "Privilege escalation",
        "Defense evasion",
        "Defense impairment",
        "Credential access",
        "Discovery",
        "Lateral movement",
        "Collection",
        "Command and control",
        "Exfiltration",
        "Impact",
    ];
    let table = &p[p.find("<table").unwrap()..];
    let pos: Vec<usize> = order
        .iter()
        .map(|t| {
            table
                .find(&format!(
                    r#"<td class="strong" data-label="Stage (tactic)">{t}</td>"#
                ))
                .expect(t)
        })
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "kill-chain order");
    assert!(table.contains("T1003.001 LSASS Memory"));
    // The low-severity admin noise (INC-2) is not part of the attack's progression.
    assert!(!table.contains("Use of net.exe by an administrator"));
}

#[test]
fn timeline_bins_every_alert() {
    let rows = common::ccpab_detections();
    let html = render_html(&common::ccpab_scope(), &rows);
    let t = &html[html.find(r#"id="timeline""#).unwrap()..html.find(r#"id="graph""#).unwrap()];
    // Sum of the bar tooltips' counts equals the number of alerts.
    let mut total = 0u64;
    for part in t.split("<title>").skip(1) {
        let title = &part[..part.find("</title>").unwrap()];
        if let Some(rest) = title.split(" — ").nth(1) {
            if let Some(n) = rest.split(' ').next().and_then(|n| n.parse::<u64>().ok()) {
                total += n;
            }
        }
    }
    assert_eq!(total, rows.len() as u64);
    assert_eq!(
        t.matches(r#"<g class="step">"#).count(),
        13,
        "one marker per tactic seen"
    );
    // Without per-alert rows the chart falls back to the steps, and says so.
    let html = render_html(&common::ccpab_scope(), &[]);
    assert!(html.contains("Per-detection times were not provided"));
}

#[test]
fn detections_table_is_capped_keeping_the_most_severe() {
    let rows = common::ccpab_detections();
    let opts = Options {
        max_detection_rows: 100,
        ..Options::default()
    };
    let html = render_html_with(&common::ccpab_scope(), &rows, &opts);
    let table = &html[html.find(r#"id="det-table""#).unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr data-level=").count(), 100);
    // All 33 critical alerts survive the cap.
    let critical = rows
        .iter()
        .filter(|r| r.level == Some(vigie_detect::Level::Critical))
        .count();
    assert_eq!(table.matches(r#"<tr data-level="4">"#).count(), critical);
    let hidden = rows.len() - 100;
    assert!(hidden > 1000);
    let shown = format!("+{},{:03} more rows", hidden / 1000, hidden % 1000);
    assert!(html.contains(&shown), "{shown}");
}

#[test]
fn self_contained_no_network_reference() {
    let html = render_html(&common::ccpab_scope(), &common::ccpab_detections());
    for bad in ["http://", "https://", "//cdn", "@import", "url(", " src="] {
        let hits: Vec<_> = html
            .match_indices(bad)
            .map(|(i, _)| &html[i.saturating_sub(40)..(i + 40).min(html.len())])
            .collect();
        // The only URL allowed is the SVG namespace, which is not fetched.
        // and references to the SVG's own marker (`url(#arrow…)`).
        let hits: Vec<_> = hits
            .into_iter()
            .filter(|h| !h.contains("http://www.w3.org/2000/svg") && !h.contains("url(#arrow"))
            .collect();
        assert!(hits.is_empty(), "{bad}: {hits:?}");
    }
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn output_is_deterministic() {
    let a = render_html(&common::ccpab_scope(), &common::ccpab_detections());
    let b = render_html(&common::ccpab_scope(), &common::ccpab_detections());
    assert_eq!(a, b);
}

#[test]
fn hostile_strings_cannot_inject_markup() {
    let html = render_html(&common::hostile_scope(), &common::hostile_detections());
    let (tags, attrs) = tags_and_attrs(&html);
    let bad_tags: Vec<_> = tags
        .iter()
        .filter(|t| !ALLOWED_TAGS.contains(&t.as_str()))
        .collect();
    let bad_attrs: Vec<_> = attrs
        .iter()
        .filter(|a| !ALLOWED_ATTRS.contains(&a.as_str()))
        .collect();
    assert!(bad_tags.is_empty(), "injected tags: {bad_tags:?}");
    assert!(bad_attrs.is_empty(), "injected attributes: {bad_attrs:?}");
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(html.matches("</script>").count(), 1);
    assert_eq!(html.matches("</style>").count(), 1);
    assert_eq!(
        html.matches("<title>").count(),
        html.matches("</title>").count()
    );
    // The payloads are shown, as text, made visible.
    assert!(
        html.contains("&lt;script&gt;document.documentElement.setAttribute(&#39;data-pwned&#39;")
    );
    assert!(html.contains("[U+202E]fdp.exe"));
    assert!(html.contains("\u{2400}\u{241b}[31m"));
    // The checker itself sees injection when there is one.
    let (tags, attrs) = tags_and_attrs(r#"<p>x<img src=x onerror="y"></p>"#);
    assert!(tags.contains("img") && attrs.contains("onerror"));
}
