//! The report's HTML, checked without a browser: sections present, the
//! scenario's key facts shown, no network reference, and no injection
//! from attacker-controlled strings anywhere in the scope.

mod common;

use std::collections::BTreeSet;

use vigie_report::{render_html, render_html_with, Lang, Options, SECTIONS};
use vigie_scope::Scope;

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

/// Every string of `v` that holds a space (a sentence, a rule title, a
/// reason) replaced by a neutral token: what is left of the report's
/// text is its own wording, which must be all in the chosen language.
/// Names, ids and enum values have no space and are kept.
fn neutralise(v: &mut serde_json::Value) {
    match v {
        // Sentences and titles (spaces), file paths (`logs/DC01/…`).
        serde_json::Value::String(s) if s.contains([' ', '/', '\\']) => *s = "Xq".into(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(neutralise),
        serde_json::Value::Object(o) => o.values_mut().for_each(neutralise),
        _ => {}
    }
}

fn neutral<T: serde::Serialize + serde::de::DeserializeOwned>(x: &T) -> T {
    let mut v = serde_json::to_value(x).unwrap();
    neutralise(&mut v);
    serde_json::from_value(v).unwrap()
}

/// The words a reader sees: text outside tags (not the style and script),
/// and the attributes a browser shows (`title`, `aria-label`,
/// `placeholder`) or reads out (`data-label`, shown on phones).
fn visible_words(html: &str) -> Vec<String> {
    let mut text = String::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        text.push_str(&rest[..lt]);
        text.push(' ');
        let tag_end = lt + rest[lt..].find('>').unwrap();
        let tag = &rest[lt..=tag_end];
        for attr in ["title", "aria-label", "placeholder", "data-label"] {
            let key = format!(r#" {attr}=""#);
            if let Some(i) = tag.find(&key) {
                let v = &tag[i + key.len()..];
                text.push(' ');
                text.push_str(&v[..v.find('"').unwrap()]);
                text.push(' ');
            }
        }
        let lower = tag.to_ascii_lowercase();
        rest = &rest[tag_end + 1..];
        for raw in ["style", "script"] {
            if lower.starts_with(&format!("<{raw}")) {
                let close = format!("</{raw}>");
                rest = &rest[rest.find(&close).unwrap() + close.len()..];
            }
        }
    }
    text.push_str(rest);
    let text = text
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    text.split(|c: char| !c.is_alphabetic() && c != '\'')
        .flat_map(|w| w.split('\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// English words that a French report must not contain (and are not
/// French words too).
const ENGLISH: &[&str] = &[
    "the",
    "and",
    "with",
    "from",
    "which",
    "what",
    "when",
    "where",
    "how",
    "why",
    "log",
    "logs",
    "account",
    "accounts",
    "host",
    "hosts",
    "alert",
    "alerts",
    "detection",
    "detections",
    "compromised",
    "reached",
    "unknown",
    "status",
    "level",
    "rule",
    "rules",
    "details",
    "evidence",
    "priority",
    "count",
    "first",
    "last",
    "seen",
    "shown",
    "more",
    "times",
    "hover",
    "analysed",
    "attack",
    "attacker",
    "data",
    "personal",
    "period",
    "entry",
    "low",
    "medium",
    "high",
    "critical",
    "informational",
    "yes",
    "none",
    "step",
    "steps",
    "hop",
    "outside",
    "address",
    "remote",
    "access",
    "created",
    "every",
    "gdpr",
    "stage",
    "sent",
    "out",
    "isolate",
    "disable",
    "reset",
    "password",
    "block",
    "remove",
    "affected",
    "generated",
    "filter",
    "minimum",
    "network",
    "severity",
    "privileged",
    "groups",
    "added",
    "processes",
    "tasks",
    "domains",
    "command",
    "line",
    "user",
    "name",
    "domain",
    "records",
    "missing",
    "cleared",
    "coverage",
    "critical",
    "isolated",
    "confidence",
    "discovery",
    "execution",
    "movement",
    "lateral",
    "collection",
    "timeline",
    "chart",
    "per",
    "bar",
    "day",
    "days",
];

/// French words that an English report must not contain.
const FRENCH: &[&str] = &[
    "le",
    "la",
    "les",
    "des",
    "du",
    "une",
    "est",
    "pas",
    "aucun",
    "aucune",
    "compte",
    "comptes",
    "poste",
    "postes",
    "serveur",
    "serveurs",
    "journal",
    "journaux",
    "données",
    "détection",
    "détections",
    "heure",
    "heures",
    "atteinte",
    "compromis",
    "élevé",
    "moyen",
    "faible",
    "critique",
    "preuve",
    "règle",
    "règles",
    "niveau",
    "priorité",
    "première",
    "dernière",
    "fois",
    "rgpd",
    "attaque",
    "attaquant",
    "quoi",
    "pourquoi",
    "comment",
    "où",
    "état",
    "oui",
    "non",
    "inconnu",
    "chronologie",
    "déroulement",
    "parcours",
    "rançongiciel",
];

fn assert_no_words(html: &str, forbidden: &[&str], what: &str) {
    let words = visible_words(html);
    let found: BTreeSet<&str> = forbidden
        .iter()
        .copied()
        .filter(|f| words.iter().any(|w| w == f))
        .collect();
    assert!(found.is_empty(), "{what}: {found:?}");
}

#[test]
fn french_report_has_no_english_and_english_no_french() {
    let scope: vigie_scope::Scope = neutral(&common::ccpab_scope());
    let rows: Vec<vigie_report::DetectionRow> = neutral(&common::ccpab_detections());
    // Scope enum-like values that the scope writes in English and the
    // report must translate.
    assert!(scope.incidents.iter().any(|i| !i.progression.is_empty()));
    for (lang, forbidden) in [(Lang::Fr, ENGLISH), (Lang::En, FRENCH)] {
        let opts = Options {
            lang,
            zone: "Europe/Paris".parse().unwrap(),
            generated_at: Some(common::at(0, 9, 0)),
            ..Options::default()
        };
        let html = render_html_with(&scope, &rows, &opts);
        assert!(html.contains(&format!(r#"<html lang="{}">"#, lang.code())));
        assert_no_words(&html, forbidden, &format!("{lang} report"));
        // Empty and nothing-found reports too.
        // (Its sentences are the scope stage's, in the scope's language.)
        let empty: Scope = neutral(&Scope::default_for_test());
        let html = render_html_with(&empty, &[], &opts);
        assert_no_words(&html, forbidden, &format!("{lang} empty report"));
    }
    // The French words a crisis cell expects.
    let opts = Options {
        lang: Lang::Fr,
        zone: "Europe/Paris".parse().unwrap(),
        ..Options::default()
    };
    let html = render_html_with(&common::ccpab_scope(), &common::ccpab_detections(), &opts);
    for w in [
        "RGPD",
        "CNIL",
        "Postes et serveurs",
        "Comptes",
        "Rapport d&#39;incident",
    ] {
        assert!(html.contains(w), "{w}");
    }
    // Times in Paris with the year and the zone, UTC on hover.
    assert!(html.contains("2026-03-08 03:10 CET"), "entry in Paris time");
    assert!(html.contains(r#"title="2026-03-08 02:10:00 UTC""#));
}

trait EmptyScope {
    fn default_for_test() -> Self;
}
impl EmptyScope for vigie_scope::Scope {
    /// What the scope stage gives when nothing was read.
    fn default_for_test() -> Self {
        vigie_scope::Observer::new(std::sync::Arc::new(vigie_scope::Assets::default())).finish(&[], vigie_lang::Lang::En)
    }
}

#[test]
fn one_detection_dated_9999_keeps_the_report_small() {
    let scope = common::ccpab_scope();
    let mut rows = common::ccpab_detections();
    let base = render_html_with(&scope, &rows, &Options::default()).len();
    let y9999 = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 9999, 12, 31, 23, 59, 59).unwrap();
    rows.push(vigie_report::DetectionRow {
        time: Some(y9999),
        level: Some(vigie_detect::Level::High),
        rule_title: "Clock set far ahead".into(),
        ..Default::default()
    });
    let mut far = scope.clone();
    if let Some(p) = far.observed.as_mut() {
        p.last = y9999;
    }
    if let Some(p) = far.attack_period.as_mut() {
        p.last = y9999;
    }
    let html = render_html_with(&far, &rows, &Options::default());
    println!("{base} bytes, {} with a detection dated 9999", html.len());
    // Before: one SVG line per day of the span, 175 MB.
    assert!(
        html.len() < base + 20_000,
        "{} bytes against {base} without the 9999 detection",
        html.len()
    );
    assert!(
        html.contains("9999-12-31 23:59 UTC"),
        "the outlier is named"
    );
    assert!(html.contains("outside the chart"));
}

#[test]
fn huge_scopes_give_a_bounded_report_that_says_what_it_left_out() {
    let mut scope = common::ccpab_scope();
    let host = scope.hosts[0].clone();
    let link = scope.links[0].clone();
    let account = scope.accounts[0].clone();
    let rule = scope.detections.rules[0].clone();
    let long = "A".repeat(1_000_000);
    for i in 0..20_000 {
        let mut h = host.clone();
        h.name = format!("PC-{i:05}");
        if i < 3 {
            // A megabyte of reason (and of name) is cut, not copied.
            h.compromise_reasons = vec![long.clone()];
            h.name = format!("PC-{i:05}-{long}");
        }
        scope.hosts.push(h);
        let mut l = link.clone();
        l.from = format!("PC-{i:05}");
        l.to = format!("PC-{:05}", i + 1);
        scope.links.push(l);
        let mut a = account.clone();
        a.name = format!("user{i}");
        scope.accounts.push(a);
        let mut r = rule.clone();
        r.title = format!("Rule {i}");
        scope.detections.rules.push(r);
        scope.caveats.push(format!("caveat {i}"));
    }
    let mut rows = common::ccpab_detections();
    let row = rows[0].clone();
    for _ in 0..100_000 {
        rows.push(row.clone());
    }
    let html = render_html_with(&scope, &rows, &Options::default());
    println!("huge scope: {} bytes", html.len());

    // 20,000 machines, links, accounts and rules, 100,000 detections,
    // megabyte names: 3.5 MB (a bound, with room, not a target).
    assert!(html.len() < 6_000_000, "{} bytes", html.len());
    // Never silently: each capped table says how many rows it left out.
    assert!(html.contains("more rows not shown here"));
    assert!(html.matches(r#"<p class="more">"#).count() >= 5);
}
