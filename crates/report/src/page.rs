//! The page: sections in reading order, from the plain-words answer down
//! to every alert. Pure function of (scope, alert rows, options).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use vigie_detect::Level;
use vigie_event::Timestamp;
use vigie_scope::{
    AccountKind, ActionKind, AddressKind, Compromise, Confidence, ExposureActivity, Host,
    LevelCounts, LinkMethod, ProgressionStep, Scope, Sensitivity, ServiceState, ZoneReach,
};

use crate::graph::{self, Edge, Graph, Lane, Node};
use crate::html::{escape, escape_truncated};
use crate::progression::{self, TacticSeen, TACTICS};
use crate::text::Strings;
use crate::timeline::{self, Step, LEVEL_NAMES};
use crate::tone::Tone;
use crate::{origin_text, DetectionRow, Options};

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

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

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

fn level_rank(l: Option<Level>) -> usize {
    match l {
        None | Some(Level::Informational) => 0,
        Some(Level::Low) => 1,
        Some(Level::Medium) => 2,
        Some(Level::High) => 3,
        Some(Level::Critical) => 4,
    }
}

fn level_badge(l: Option<Level>) -> String {
    let r = level_rank(l);
    let name = if l.is_none() { "—" } else { LEVEL_NAMES[r] };
    format!(r#"<span class="lvl lvl-{r}">{name}</span>"#)
}

fn pill(tone: Tone, text: &str) -> String {
    format!(
        r#"<span class="pill {}">{}</span>"#,
        tone.class(),
        escape(text)
    )
}

fn compromise_tone(c: Compromise) -> Tone {
    match c {
        Compromise::Yes => Tone::Red,
        Compromise::Suspected => Tone::Amber,
        Compromise::No => Tone::Green,
    }
}

fn compromise_word(t: &Strings, c: Compromise) -> &'static str {
    t.compromise[match c {
        Compromise::No => 0,
        Compromise::Suspected => 1,
        Compromise::Yes => 2,
    }]
}

/// A host with no event of its own is "unknown", never "no sign".
fn host_tone(h: &Host) -> Tone {
    match h.compromised {
        Compromise::No if h.events == 0 => Tone::Grey,
        c => compromise_tone(c),
    }
}

fn host_word(t: &Strings, h: &Host) -> &'static str {
    match h.compromised {
        Compromise::No if h.events == 0 => t.g_legend_grey,
        c => compromise_word(t, c),
    }
}

fn reach_tone(r: ZoneReach) -> Tone {
    match r {
        ZoneReach::Reached => Tone::Red,
        ZoneReach::NotReached => Tone::Green,
        ZoneReach::Unknown => Tone::Grey,
    }
}

fn reach_word(t: &Strings, r: ZoneReach) -> &'static str {
    t.reach[match r {
        ZoneReach::Reached => 0,
        ZoneReach::NotReached => 1,
        ZoneReach::Unknown => 2,
    }]
}

fn service_tone(s: ServiceState) -> Tone {
    match s {
        ServiceState::Affected => Tone::Red,
        ServiceState::Degraded => Tone::Amber,
        ServiceState::Unaffected => Tone::Green,
        ServiceState::Unknown => Tone::Grey,
    }
}

fn service_word(t: &Strings, s: ServiceState) -> &'static str {
    t.service_state[match s {
        ServiceState::Affected => 0,
        ServiceState::Degraded => 1,
        ServiceState::Unaffected => 2,
        ServiceState::Unknown => 3,
    }]
}

fn confidence_word(t: &Strings, c: Confidence) -> &'static str {
    t.confidence[match c {
        Confidence::Low => 0,
        Confidence::Medium => 1,
        Confidence::High => 2,
    }]
}

fn link_index(m: LinkMethod) -> usize {
    match m {
        LinkMethod::Rdp => 0,
        LinkMethod::Psexec => 1,
        LinkMethod::SmbAdminShare => 2,
        LinkMethod::LogonType3 => 3,
        LinkMethod::ExplicitCreds => 4,
        LinkMethod::Vpn => 5,
        LinkMethod::Winrm => 6,
        LinkMethod::Wmi => 7,
        LinkMethod::RemoteTask => 8,
        LinkMethod::RemoteService => 9,
        LinkMethod::Dcom => 10,
    }
}

fn action_word(t: &Strings, a: ActionKind) -> &'static str {
    t.action[match a {
        ActionKind::RevokeRemoteAccess => 0,
        ActionKind::DisableAccount => 1,
        ActionKind::DeleteAccount => 2,
        ActionKind::ResetPassword => 3,
        ActionKind::IsolateHost => 4,
        ActionKind::BlockAddress => 5,
        ActionKind::BlockDomain => 6,
        ActionKind::RemoveService => 7,
        ActionKind::ResetKrbtgt => 8,
        ActionKind::CollectLogs => 9,
    }]
}

fn exposure_word(t: &Strings, a: ExposureActivity) -> &'static str {
    t.exposure[match a {
        ExposureActivity::Archive => 0,
        ExposureActivity::Copy => 1,
        ExposureActivity::Upload => 2,
        ExposureActivity::ShareAccess => 3,
        ExposureActivity::Transfer => 4,
    }]
}

fn account_kind_word(t: &Strings, k: AccountKind) -> &'static str {
    t.account_kind[match k {
        AccountKind::Admin => 0,
        AccountKind::Service => 1,
        AccountKind::Provider => 2,
        AccountKind::User => 3,
        AccountKind::Machine => 4,
        AccountKind::Builtin => 5,
        AccountKind::Unknown => 6,
    }]
}

fn sensitivity_word(t: &Strings, s: Sensitivity) -> &'static str {
    t.sensitivity[match s {
        Sensitivity::Public => 0,
        Sensitivity::Internal => 1,
        Sensitivity::Confidential => 2,
        Sensitivity::Personal => 3,
        Sensitivity::SpecialCategory => 4,
    }]
}

/// `domain_controller` → `domain controller`.
fn humanise(s: &str) -> String {
    s.replace('_', " ")
}

fn time_html(t: &Strings, ts: Option<Timestamp>) -> String {
    match ts {
        Some(ts) => format!(
            r#"<time datetime="{}" title="{}">{}</time>"#,
            ts.to_rfc3339(),
            escape(&t.long_time(&ts)),
            escape(&t.short_time(&ts))
        ),
        None => "—".to_string(),
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Escaped, comma-separated, at most `max` items then "+N".
fn list(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "—".to_string();
    }
    let mut out = items
        .iter()
        .take(max)
        .map(|s| escape(s))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        let _ = write!(out, r#" <span class="small">+{}</span>"#, items.len() - max);
    }
    out
}

/// Services of a host; `*` (every service, e.g. a domain controller) in words.
fn services_list(t: &Strings, services: &[String]) -> String {
    let words: Vec<String> = services
        .iter()
        .map(|s| {
            if s == "*" {
                t.all_services.to_string()
            } else {
                s.clone()
            }
        })
        .collect();
    list(&words, 4)
}

/// Escaped, one per line (reasons are sentences: commas would blur them).
fn lines(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "—".to_string();
    }
    let mut out = items
        .iter()
        .take(max)
        .map(|s| escape(s))
        .collect::<Vec<_>>()
        .join("<br>");
    if items.len() > max {
        let _ = write!(
            out,
            r#"<br><span class="small">+{}</span>"#,
            items.len() - max
        );
    }
    out
}

fn level_counts_html(c: &LevelCounts) -> (String, u64) {
    let total = c.informational + c.low + c.medium + c.high + c.critical + c.unset;
    let mut parts = Vec::new();
    for (n, rank) in [(c.critical, 4), (c.high, 3), (c.medium, 2)] {
        if n > 0 {
            parts.push(format!(
                r#"<span class="cnt lvl-{rank}" title="{n} {}">{n}</span>"#,
                LEVEL_NAMES[rank]
            ));
        }
    }
    let low = c.low + c.informational + c.unset;
    if low > 0 {
        parts.push(format!(r#"<span class="small">+{low}</span>"#));
    }
    if parts.is_empty() {
        ("—".into(), 0)
    } else {
        (parts.join(" "), total)
    }
}

/// A table cell: HTML content and an optional sort key.
struct Cell {
    html: String,
    sort: Option<String>,
    class: &'static str,
}

fn c(html: String) -> Cell {
    Cell {
        html,
        sort: None,
        class: "",
    }
}
fn ct(text: &str) -> Cell {
    c(escape(text))
}
fn ctime(t: &Strings, ts: Option<Timestamp>) -> Cell {
    Cell {
        html: time_html(t, ts),
        sort: Some(ts.map(|t| t.to_rfc3339()).unwrap_or_default()),
        class: "time",
    }
}
fn cnum(n: u64) -> Cell {
    Cell {
        html: thousands(n),
        sort: Some(n.to_string()),
        class: "num",
    }
}

struct Table<'a> {
    id: Option<&'a str>,
    head: Vec<(&'a str, bool)>,
    rows: Vec<(String, Vec<Cell>)>,
}

impl<'a> Table<'a> {
    fn new(head: &[(&'a str, bool)]) -> Self {
        Table {
            id: None,
            head: head.to_vec(),
            rows: Vec::new(),
        }
    }
    fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push((String::new(), cells));
    }
    fn row_attrs(&mut self, attrs: String, cells: Vec<Cell>) {
        self.rows.push((attrs, cells));
    }
    fn render(&self, out: &mut String) {
        out.push_str(r#"<div class="tablewrap"><table class="sortable""#);
        if let Some(id) = self.id {
            let _ = write!(out, r#" id="{id}""#);
        }
        out.push_str("><thead><tr>");
        for (h, num) in &self.head {
            let _ = write!(
                out,
                "<th{}>{}</th>",
                if *num { r#" class="num""# } else { "" },
                escape(h)
            );
        }
        out.push_str("</tr></thead><tbody>");
        for (attrs, cells) in &self.rows {
            let _ = write!(out, "<tr{attrs}>");
            for cell in cells {
                out.push_str("<td");
                if !cell.class.is_empty() {
                    let _ = write!(out, r#" class="{}""#, cell.class);
                }
                if let Some(k) = &cell.sort {
                    let _ = write!(out, r#" data-sort="{}""#, escape(k));
                }
                let _ = write!(out, ">{}</td>", cell.html);
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
    }
}

fn more_rows(out: &mut String, t: &Strings, hidden: usize) {
    if hidden > 0 {
        let _ = write!(
            out,
            r#"<p class="more">+{} {}</p>"#,
            thousands(hidden as u64),
            escape(t.more_rows)
        );
    }
}

fn open_section(out: &mut String, id: &str, title: &str, intro: &str) {
    let _ = write!(
        out,
        r#"<section class="card" id="{id}"><h2>{}</h2>"#,
        escape(title)
    );
    if !intro.is_empty() {
        let _ = write!(out, r#"<p class="intro">{}</p>"#, escape(intro));
    }
}

fn empty(out: &mut String, text: &str) {
    let _ = write!(out, r#"<p class="empty">{}</p>"#, escape(text));
}

fn csp_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

// ---------------------------------------------------------------------------
// Derived views
// ---------------------------------------------------------------------------

/// The incidents that make up the attack: high or critical ones, or all
/// when none is (so a low-grade intrusion is still described).
fn attack_steps(scope: &Scope) -> Vec<&ProgressionStep> {
    let serious: Vec<_> = scope
        .incidents
        .iter()
        .filter(|i| i.severity >= Level::High)
        .collect();
    let incidents = if serious.is_empty() {
        scope.incidents.iter().collect()
    } else {
        serious
    };
    let mut steps: Vec<&ProgressionStep> = incidents
        .iter()
        .flat_map(|i| i.progression.iter())
        .collect();
    steps.sort_by(|a, b| a.first.cmp(&b.first).then(a.rule_title.cmp(&b.rule_title)));
    steps
}

/// One row per tactic (as the scope names it), first time, techniques,
/// rules and hosts; in kill-chain order.
struct TacticRow {
    seen: TacticSeen,
    rules: Vec<String>,
    level: Option<Level>,
    /// Marker number on the timeline (order of first appearance).
    number: usize,
}

fn tactic_rows(steps: &[&ProgressionStep]) -> Vec<TacticRow> {
    let mut by: Vec<TacticRow> = Vec::new();
    for s in steps {
        let key = s.tactic_id.clone().unwrap_or_else(|| s.tactic.clone());
        let idx = by.iter().position(|r| {
            progression::tactic_index(&r.seen.tactic)
                .zip(progression::tactic_index(&key))
                .map_or(r.seen.tactic == key, |(a, b)| a == b)
        });
        let row = match idx {
            Some(i) => &mut by[i],
            None => {
                by.push(TacticRow {
                    seen: TacticSeen {
                        tactic: key,
                        first: None,
                        techniques: Vec::new(),
                        hosts: Vec::new(),
                    },
                    rules: Vec::new(),
                    level: None,
                    number: 0,
                });
                by.last_mut().expect("just pushed")
            }
        };
        row.seen.first = Some(row.seen.first.map_or(s.first, |f| f.min(s.first)));
        let tech = match (&s.technique_id, &s.technique) {
            (Some(id), Some(name)) => format!("{id} {name}"),
            (Some(id), None) => id.clone(),
            (None, Some(name)) => name.clone(),
            (None, None) => String::new(),
        };
        if !tech.is_empty() && !row.seen.techniques.contains(&tech) {
            row.seen.techniques.push(tech);
        }
        if !row.rules.contains(&s.rule_title) {
            row.rules.push(s.rule_title.clone());
        }
        for h in &s.hosts {
            if !row.seen.hosts.contains(h) {
                row.seen.hosts.push(h.clone());
            }
        }
        row.level = row.level.max(s.level);
    }
    // Number by time of first appearance, then order by kill chain.
    let mut order: Vec<usize> = (0..by.len()).collect();
    order.sort_by_key(|&i| by[i].seen.first);
    for (n, i) in order.into_iter().enumerate() {
        by[i].number = n + 1;
    }
    by.sort_by_key(|r| {
        (
            progression::tactic_index(&r.seen.tactic).unwrap_or(usize::MAX),
            r.seen.first,
        )
    });
    by
}

fn tactic_name(raw: &str) -> String {
    progression::tactic_index(raw)
        .map(|i| TACTICS[i].2.to_string())
        .unwrap_or_else(|| raw.to_string())
}

// ---------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------

fn answer(out: &mut String, scope: &Scope, t: &Strings) {
    let a = &scope.answer;
    let hosts_yes = scope
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Yes)
        .count();
    let hosts_sus = scope
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Suspected)
        .count();
    let acc_yes = scope
        .accounts
        .iter()
        .filter(|h| h.compromised == Compromise::Yes)
        .count();
    let acc_sus = scope
        .accounts
        .iter()
        .filter(|h| h.compromised == Compromise::Suspected)
        .count();
    let (tone, verdict) = if hosts_yes + acc_yes > 0 {
        (Tone::Red, t.v_confirmed)
    } else if hosts_sus + acc_sus > 0 {
        (Tone::Amber, t.v_suspected)
    } else {
        (Tone::Green, t.v_clear)
    };
    let _ = write!(
        out,
        r#"<section class="card answer {}" id="answer"><h2>{}</h2><div class="verdict"><span class="badge">{}</span>"#,
        tone.class(),
        escape(t.s_answer),
        escape(verdict)
    );
    if let Some(p) = &scope.attack_period {
        let _ = write!(
            out,
            r#"<span class="period">{}: {} → {}</span>"#,
            escape(t.v_period),
            time_html(t, Some(p.first)),
            time_html(t, Some(p.last))
        );
    }
    out.push_str("</div>");
    if !a.headline.is_empty() {
        let _ = write!(out, r#"<p class="headline">{}</p>"#, escape(&a.headline));
    }
    // Key figures.
    let svc_hit = scope
        .services
        .iter()
        .filter(|s| matches!(s.status, ServiceState::Affected | ServiceState::Degraded))
        .count();
    let d = &scope.detections;
    let kpi = |out: &mut String, tone: Tone, n: String, label: &str, sub: String| {
        let _ = write!(
            out,
            r#"<div class="kpi {}"><div class="n">{}</div><div class="l">{}</div><div class="s">{}</div></div>"#,
            tone.class(),
            n,
            escape(label),
            sub
        );
    };
    out.push_str(r#"<div class="kpis">"#);
    let pick = |n: usize| if n > 0 { Tone::Red } else { Tone::Green };
    kpi(
        out,
        pick(hosts_yes),
        hosts_yes.to_string(),
        t.a_hosts,
        if hosts_sus > 0 {
            format!("+{hosts_sus} {}", escape(&t.compromise[1].to_lowercase()))
        } else {
            String::new()
        },
    );
    kpi(
        out,
        pick(acc_yes),
        acc_yes.to_string(),
        t.a_accounts,
        if acc_sus > 0 {
            format!("+{acc_sus} {}", escape(&t.compromise[1].to_lowercase()))
        } else {
            String::new()
        },
    );
    kpi(
        out,
        if svc_hit > 0 {
            Tone::Red
        } else if scope.services.is_empty() {
            Tone::Grey
        } else {
            Tone::Green
        },
        svc_hit.to_string(),
        t.a_services_down,
        format!("/ {}", scope.services.len()),
    );
    kpi(
        out,
        Tone::Grey,
        thousands(d.total),
        t.a_detections,
        format!(
            "{} critical · {} high",
            thousands(d.by_level.critical),
            thousands(d.by_level.high)
        ),
    );
    out.push_str("</div>");

    out.push_str(r#"<div class="answer-grid"><dl class="facts">"#);
    let fact = |out: &mut String, k: &str, v: &str, extra: String| {
        if v.is_empty() && extra.is_empty() {
            return;
        }
        let _ = write!(out, "<dt>{}</dt><dd>{}{}</dd>", escape(k), escape(v), extra);
    };
    let chips = if scope.nature.is_empty() {
        String::new()
    } else {
        let mut s = String::from(r#"<div class="chips">"#);
        for n in &scope.nature {
            let tone = match n.confidence {
                Confidence::High => Tone::Red,
                Confidence::Medium => Tone::Amber,
                Confidence::Low => Tone::Grey,
            };
            s.push_str(&pill(
                tone,
                &format!("{} · {}", n.label, confidence_word(t, n.confidence)),
            ));
        }
        s.push_str("</div>");
        s
    };
    fact(out, t.a_what, &a.nature, chips);
    fact(out, t.a_entry, &a.entry, String::new());
    fact(out, t.a_extent, &a.extent, String::new());
    let zones = if scope.zones.is_empty() {
        String::new()
    } else {
        let mut s = String::from(r#"<div class="chips">"#);
        for z in &scope.zones {
            s.push_str(&pill(
                reach_tone(z.status),
                &format!("{}: {}", z.zone, reach_word(t, z.status)),
            ));
        }
        s.push_str("</div>");
        s
    };
    fact(out, t.a_isolated, &a.isolated_systems, zones);
    fact(out, t.a_data, &a.data_exposure, String::new());
    out.push_str("</dl>");
    // Act now.
    let mut acts: Vec<String> = a.isolate_now.clone();
    if acts.is_empty() {
        let mut actions: Vec<_> = scope.containment.iter().collect();
        actions.sort_by_key(|a| a.priority);
        acts = actions
            .iter()
            .take(6)
            .map(|a| format!("{} — {}", action_word(t, a.kind), a.target))
            .collect();
    }
    let _ = write!(
        out,
        r#"<div class="actnow"><h3>{}</h3>"#,
        escape(t.a_act_now)
    );
    if acts.is_empty() {
        empty(out, t.nothing_to_do);
    } else {
        out.push_str("<ol>");
        for a in &acts {
            let _ = write!(out, "<li>{}</li>", escape(a));
        }
        out.push_str("</ol>");
        if !scope.containment.is_empty() {
            let _ = write!(
                out,
                r##"<p class="small"><a href="#containment">{} →</a></p>"##,
                escape(t.act_more)
            );
        }
    }
    out.push_str("</div></div>");
    if scope
        .data_exposure
        .iter()
        .any(|d| d.personal_data && d.probable_exfiltration)
    {
        let _ = write!(out, r#"<p class="note red">{}</p>"#, escape(t.gdpr));
    }
    // The answer is only as good as the logs: say so where it is read.
    if !scope.caveats.is_empty() {
        let _ = write!(
            out,
            r##"<p class="small limits">{} {} — <a href="#coverage">{}</a></p>"##,
            scope.caveats.len(),
            escape(t.caveats_short),
            escape(t.s_coverage)
        );
    }
    out.push_str("</section>");
}

fn progression_section(out: &mut String, scope: &Scope, rows: &[TacticRow], t: &Strings) {
    open_section(out, "progression", t.s_progression, t.i_progression);
    if let Some(e) = &scope.entry_point {
        let _ = write!(
            out,
            r#"<div class="entry"><div class="d"><strong>{}:</strong> {} <span class="pill tone-grey">{}</span></div>"#,
            escape(t.entry_card),
            escape(&e.description),
            escape(confidence_word(t, e.confidence))
        );
        let kv = |out: &mut String, k: &str, v: String| {
            let _ = write!(
                out,
                r#"<div><div class="k">{}</div><div class="v">{}</div></div>"#,
                escape(k),
                v
            );
        };
        kv(out, t.c_time, time_html(t, e.time));
        kv(out, t.c_host, escape(e.host.as_deref().unwrap_or("—")));
        kv(
            out,
            t.c_account,
            escape(e.account.as_deref().unwrap_or("—")),
        );
        let src = match (&e.source_address, e.source_kind) {
            (Some(a), Some(k)) => format!("{a} ({})", humanise(&format!("{k:?}").to_lowercase())),
            (Some(a), None) => a.clone(),
            _ => format!("— · {}", humanise(&e.method)),
        };
        kv(out, t.e_source, escape(&src));
        out.push_str("</div>");
    }
    let seen: Vec<TacticSeen> = rows.iter().map(|r| r.seen.clone()).collect();
    let _ = write!(
        out,
        r#"<div class="chart">{}</div>"#,
        progression::render_svg(&seen, t)
    );
    if rows.is_empty() {
        empty(out, t.p_empty);
    } else {
        let mut tb = Table::new(&[
            ("#", true),
            (t.p_tactic, false),
            (t.p_first, false),
            (t.c_level, false),
            (t.p_techniques, false),
            (t.p_where, false),
        ]);
        for r in rows {
            tb.row(vec![
                cnum(r.number as u64),
                Cell {
                    class: "strong",
                    ..ct(&tactic_name(&r.seen.tactic))
                },
                ctime(t, r.seen.first),
                Cell {
                    sort: Some(level_rank(r.level).to_string()),
                    ..c(level_badge(r.level))
                },
                // The rules behind a stage are in its tooltip (and in the
                // detections section): the table stays short enough for
                // the first screen.
                c(format!(
                    r#"<span title="{}: {}">{}</span>"#,
                    escape(t.c_rules),
                    escape(&r.rules.join("; ")),
                    list(&r.seen.techniques, 6)
                )),
                c(list(&r.seen.hosts, 4)),
            ]);
        }
        tb.render(out);
    }
    out.push_str("</section>");
}

fn timeline_section(
    out: &mut String,
    steps: &[&ProgressionStep],
    rows: &[TacticRow],
    alerts: &[DetectionRow],
    t: &Strings,
) {
    open_section(out, "timeline", t.s_timeline, t.i_timeline);
    let mut points: Vec<(Timestamp, usize, u64)> = alerts
        .iter()
        .filter_map(|a| a.time.map(|tm| (tm, level_rank(a.level), 1)))
        .collect();
    let fallback = points.is_empty() && !steps.is_empty();
    if fallback {
        points = steps
            .iter()
            .map(|s| (s.first, level_rank(s.level), s.count.max(1)))
            .collect();
    }
    let mut markers: Vec<Step> = rows
        .iter()
        .filter_map(|r| {
            let first = r.seen.first?;
            let mut label = tactic_name(&r.seen.tactic);
            if let Some(rule) = r.rules.first() {
                let _ = write!(label, " — {rule}");
            }
            if !r.seen.hosts.is_empty() {
                let _ = write!(
                    label,
                    " ({})",
                    r.seen
                        .hosts
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Some(Step {
                number: r.number,
                time: first,
                label,
            })
        })
        .collect();
    markers.sort_by_key(|m| m.number);
    out.push_str(r#"<div class="legend">"#);
    for rank in (0..timeline::LEVELS).rev() {
        let _ = write!(
            out,
            r#"<span><span class="sw l{rank}"></span>{}</span>"#,
            LEVEL_NAMES[rank]
        );
    }
    let _ = write!(
        out,
        r#"<span><span class="sw tone-red"></span>{}</span></div>"#,
        escape(t.t_steps)
    );
    let _ = write!(
        out,
        r#"<div class="chart">{}</div>"#,
        timeline::render(&points, &markers, t)
    );
    if fallback {
        let _ = write!(
            out,
            r#"<p class="small">{}</p>"#,
            escape(t.timeline_fallback)
        );
    }
    if !markers.is_empty() {
        out.push_str(r#"<ol class="steps">"#);
        for m in &markers {
            let _ = write!(
                out,
                r#"<li><span class="num">{}</span><span>{} · {}</span></li>"#,
                m.number,
                time_html(t, Some(m.time)),
                escape(&m.label)
            );
        }
        out.push_str("</ol>");
    }
    out.push_str("</section>");
}

fn graph_model(scope: &Scope, t: &Strings) -> Graph {
    let host_index: BTreeMap<String, usize> = scope
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.name.to_uppercase(), i))
        .collect();
    let find = |name: &str| host_index.get(&name.to_uppercase()).copied();
    let links: Vec<_> = scope.links.iter().filter(|l| l.malicious).collect();

    let mut nodes: Vec<Node> = Vec::new();
    let add_host = |nodes: &mut Vec<Node>, h: &Host| {
        if nodes.iter().any(|n| n.id.eq_ignore_ascii_case(&h.name)) {
            return;
        }
        let detail = h
            .role
            .as_deref()
            .map(humanise)
            .or_else(|| h.zone.clone())
            .unwrap_or_default();
        nodes.push(Node {
            id: h.name.clone(),
            label: h.name.clone(),
            detail: format!(
                "{detail}{}{}",
                if detail.is_empty() { "" } else { " · " },
                host_word(t, h)
            ),
            lane: h.zone.clone().unwrap_or_default(),
            tone: host_tone(h),
            first_seen: h.first_malicious,
        });
    };
    for h in &scope.hosts {
        if h.compromised != Compromise::No || h.isolated {
            add_host(&mut nodes, h);
        }
    }
    for z in &scope.zones {
        for name in &z.hosts {
            match find(name) {
                Some(i) => add_host(&mut nodes, &scope.hosts[i]),
                None if !nodes.iter().any(|n| n.id.eq_ignore_ascii_case(name)) => {
                    nodes.push(Node {
                        id: name.clone(),
                        label: name.clone(),
                        detail: reach_word(t, z.status).to_string(),
                        lane: z.zone.clone(),
                        tone: match z.status {
                            ZoneReach::NotReached => Tone::Green,
                            _ => Tone::Grey,
                        },
                        first_seen: None,
                    })
                }
                None => {}
            }
        }
    }
    let outside = "\u{0}outside";
    let add_endpoint = |nodes: &mut Vec<Node>, name: &str, kind: Option<AddressKind>| {
        if nodes.iter().any(|n| n.id.eq_ignore_ascii_case(name)) {
            return;
        }
        match find(name) {
            Some(i) => add_host(nodes, &scope.hosts[i]),
            None => {
                let (tone, detail) = match kind {
                    Some(AddressKind::External) => (Tone::External, "public address"),
                    Some(AddressKind::Vpn) => (Tone::External, "VPN address"),
                    Some(AddressKind::Internal) => (Tone::Grey, "internal address"),
                    _ => (Tone::Grey, t.unknown),
                };
                nodes.push(Node {
                    id: name.to_string(),
                    label: name.to_string(),
                    detail: detail.to_string(),
                    lane: outside.to_string(),
                    tone,
                    first_seen: None,
                });
            }
        }
    };
    let mut edges = Vec::new();
    for l in &links {
        add_endpoint(&mut nodes, &l.from, Some(l.from_kind));
        add_endpoint(&mut nodes, &l.to, None);
        edges.push(Edge {
            from: nodes
                .iter()
                .find(|n| n.id.eq_ignore_ascii_case(&l.from))
                .map(|n| n.id.clone())
                .unwrap_or_default(),
            to: nodes
                .iter()
                .find(|n| n.id.eq_ignore_ascii_case(&l.to))
                .map(|n| n.id.clone())
                .unwrap_or_default(),
            method: t.link_short[link_index(l.method)].to_string(),
            account: l.account.clone(),
            first: Some(l.first),
            count: l.count,
        });
    }
    // The way in: from the attacker's address to the first machine, when
    // no link already starts there.
    if let Some(e) = &scope.entry_point {
        if let (Some(src), Some(host)) = (&e.source_address, &e.host) {
            let known = links.iter().any(|l| {
                l.from.eq_ignore_ascii_case(src)
                    || l.from_address
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(src))
            });
            if !known {
                add_endpoint(&mut nodes, src, e.source_kind);
                add_endpoint(&mut nodes, host, None);
                let id = |n: &str| {
                    nodes
                        .iter()
                        .find(|x| x.id.eq_ignore_ascii_case(n))
                        .map(|x| x.id.clone())
                        .unwrap_or_default()
                };
                edges.push(Edge {
                    from: id(src),
                    to: id(host),
                    method: e.method.to_uppercase(),
                    account: e.account.clone(),
                    first: e.time,
                    count: 1,
                });
            }
        }
    }
    // Lanes: outside first, then zones with a statement, then the others
    // in the order their hosts appear, then hosts without a zone.
    let mut lanes: Vec<Lane> = Vec::new();
    if nodes.iter().any(|n| n.lane == outside) {
        lanes.push(Lane {
            id: outside.to_string(),
            title: t.lane_outside.to_string(),
            status: t.lane_outside_status.to_string(),
            tone: Tone::External,
            note: String::new(),
        });
    }
    let mut zone_names: Vec<String> = Vec::new();
    for n in &nodes {
        if n.lane != outside && !n.lane.is_empty() && !zone_names.contains(&n.lane) {
            zone_names.push(n.lane.clone());
        }
    }
    let mut ordered: Vec<String> = scope
        .zones
        .iter()
        .map(|z| z.zone.clone())
        .filter(|z| zone_names.contains(z))
        .collect();
    // Zones with a statement keep the scope's order, but isolated ones go last (below the action).
    ordered.sort_by_key(|z| {
        scope
            .zones
            .iter()
            .find(|s| &s.zone == z)
            .is_some_and(|s| s.isolated)
    });
    let mut rest: Vec<String> = zone_names
        .iter()
        .filter(|z| !ordered.contains(z))
        .cloned()
        .collect();
    let isolated_tail: Vec<String> = ordered
        .iter()
        .filter(|z| scope.zones.iter().any(|s| &s.zone == *z && s.isolated))
        .cloned()
        .collect();
    ordered.retain(|z| !isolated_tail.contains(z));
    ordered.append(&mut rest);
    ordered.extend(isolated_tail);
    for z in ordered {
        let lane = match scope.zones.iter().find(|s| s.zone == z) {
            Some(s) => Lane {
                id: z.clone(),
                title: z.clone(),
                status: reach_word(t, s.status).to_lowercase(),
                tone: reach_tone(s.status),
                note: s.reason.clone(),
            },
            None => {
                let tone = nodes
                    .iter()
                    .filter(|n| n.lane == z)
                    .fold(Tone::Green, |a, n| a.worst(n.tone));
                let status = match tone {
                    Tone::Red => t.lane_reached.to_string(),
                    Tone::Amber => t.compromise[1].to_lowercase(),
                    _ => String::new(),
                };
                Lane {
                    id: z.clone(),
                    title: z.clone(),
                    status,
                    tone,
                    note: String::new(),
                }
            }
        };
        lanes.push(lane);
    }
    if nodes.iter().any(|n| n.lane.is_empty()) {
        lanes.push(Lane {
            id: String::new(),
            title: t.lane_no_zone.to_string(),
            status: String::new(),
            tone: Tone::Grey,
            note: String::new(),
        });
    }
    Graph {
        lanes,
        nodes,
        edges,
    }
}

fn graph_section(out: &mut String, scope: &Scope, t: &Strings) {
    open_section(out, "graph", t.s_graph, t.i_graph);
    let g = graph_model(scope, t);
    if g.nodes.is_empty() {
        empty(out, t.g_empty);
        out.push_str("</section>");
        return;
    }
    out.push_str(r#"<div class="legend">"#);
    for (tone, label) in [
        (Tone::Red, t.g_legend_red),
        (Tone::Amber, t.g_legend_amber),
        (Tone::Green, t.g_legend_green),
        (Tone::Grey, t.g_legend_grey),
        (Tone::External, t.g_legend_ext),
    ] {
        let _ = write!(
            out,
            r#"<span><span class="sw {}"></span>{}</span>"#,
            tone.class(),
            escape(label)
        );
    }
    out.push_str("</div>");
    let _ = write!(out, r#"<div class="chart">{}</div>"#, graph::render(&g, t));
    if g.edges.is_empty() {
        empty(out, t.g_empty);
    }
    let links: Vec<_> = scope.links.iter().filter(|l| l.malicious).collect();
    if !links.is_empty() {
        let _ = write!(out, "<h3>{}</h3>", escape(t.links_table));
        let mut tb = Table::new(&[
            (t.c_first, false),
            (t.c_from, false),
            (t.c_to, false),
            (t.c_method, false),
            (t.c_account, false),
            (t.c_last, false),
            (t.c_count, true),
            (t.c_evidence, false),
        ]);
        for l in links {
            let from = match &l.from_address {
                Some(a) if !a.eq_ignore_ascii_case(&l.from) => format!("{} ({a})", l.from),
                _ => l.from.clone(),
            };
            tb.row(vec![
                ctime(t, Some(l.first)),
                Cell {
                    class: "strong nowrap",
                    ..ct(&from)
                },
                Cell {
                    class: "strong nowrap",
                    ..ct(&l.to)
                },
                ct(t.link_long[link_index(l.method)]),
                ct(l.account.as_deref().unwrap_or("—")),
                ctime(t, Some(l.last)),
                cnum(l.count),
                c(l.evidence
                    .first()
                    .map(|e| format!("<code>{}</code>", escape(&origin_text(e))))
                    .unwrap_or_default()),
            ]);
        }
        tb.render(out);
    }
    out.push_str("</section>");
}

fn hosts_section(out: &mut String, scope: &Scope, t: &Strings, max: usize) {
    open_section(out, "hosts", t.s_hosts, t.i_hosts);
    if scope.hosts.is_empty() {
        empty(out, t.none);
    } else {
        let mut tb = Table::new(&[
            (t.c_host, false),
            (t.c_zone, false),
            (t.c_role, false),
            (t.c_state, false),
            (t.c_first_sign, false),
            (t.c_last_sign, false),
            (t.a_detections, true),
            (t.c_services, false),
            (t.c_why, false),
        ]);
        for h in scope.hosts.iter().take(max) {
            let (alerts, total) = level_counts_html(&h.detections);
            let mut name = escape(&h.name);
            if h.isolated {
                let _ = write!(name, " {}", pill(Tone::Grey, t.isolated_zone));
            }
            let tone = host_tone(h);
            tb.row(vec![
                Cell {
                    class: "strong nowrap",
                    sort: Some(h.name.clone()),
                    ..c(name)
                },
                ct(h.zone.as_deref().unwrap_or("—")),
                ct(&h
                    .role
                    .as_deref()
                    .map(humanise)
                    .unwrap_or_else(|| "—".into())),
                Cell {
                    sort: Some((10 - tone.severity()).to_string()),
                    ..c(pill(tone, host_word(t, h)))
                },
                ctime(t, h.first_malicious),
                ctime(t, h.last_malicious),
                Cell {
                    sort: Some(total.to_string()),
                    class: "num nowrap",
                    ..c(alerts)
                },
                c(services_list(t, &h.services)),
                c(lines(&h.compromise_reasons, 3)),
            ]);
        }
        tb.render(out);
        more_rows(out, t, scope.hosts.len().saturating_sub(max));
    }
    out.push_str("</section>");
}

fn accounts_section(out: &mut String, scope: &Scope, t: &Strings, max: usize) {
    open_section(out, "accounts", t.s_accounts, t.i_accounts);
    if scope.accounts.is_empty() {
        empty(out, t.none);
    } else {
        let mut tb = Table::new(&[
            (t.c_account, false),
            (t.c_kind, false),
            (t.c_privileged, false),
            (t.c_state, false),
            (t.c_first_sign, false),
            (t.c_last_sign, false),
            (t.c_hosts, false),
            (t.c_groups, false),
            (t.c_why, false),
        ]);
        for a in scope.accounts.iter().take(max) {
            let mut name = escape(&a.name);
            if a.created_during_attack {
                let _ = write!(name, " {}", pill(Tone::Red, t.new_account));
            }
            let tone = compromise_tone(a.compromised);
            let mut why = a.compromise_reasons.clone();
            if let Some(p) = &a.privileged_reason {
                why.push(p.clone());
            }
            tb.row(vec![
                Cell {
                    class: "strong",
                    sort: Some(a.name.clone()),
                    ..c(name)
                },
                ct(account_kind_word(t, a.kind)),
                ct(if a.privileged { t.yes } else { t.no }),
                Cell {
                    sort: Some((10 - tone.severity()).to_string()),
                    ..c(pill(tone, compromise_word(t, a.compromised)))
                },
                ctime(t, a.first_malicious),
                ctime(t, a.last_malicious),
                c(list(&a.hosts, 4)),
                c(list(&a.added_to_groups, 3)),
                c(lines(&why, 3)),
            ]);
        }
        tb.render(out);
        more_rows(out, t, scope.accounts.len().saturating_sub(max));
    }
    out.push_str("</section>");
}

fn services_section(out: &mut String, scope: &Scope, t: &Strings) {
    open_section(out, "services", t.s_services, t.i_services);
    if scope.services.is_empty() {
        empty(out, t.none);
    } else {
        let mut tb = Table::new(&[
            (t.c_service, false),
            (t.c_state, false),
            (t.c_depends, false),
            (t.c_why, false),
        ]);
        for s in &scope.services {
            let mut name = format!("<strong>{}</strong>", escape(&s.service));
            if let Some(d) = &s.description {
                let _ = write!(name, r#"<br><span class="small">{}</span>"#, escape(d));
            }
            let tone = service_tone(s.status);
            tb.row(vec![
                Cell {
                    sort: Some(s.service.clone()),
                    ..c(name)
                },
                Cell {
                    sort: Some((10 - tone.severity()).to_string()),
                    ..c(pill(tone, service_word(t, s.status)))
                },
                c(list(&s.hosts, 6)),
                ct(&s.reason),
            ]);
        }
        tb.render(out);
    }
    out.push_str("</section>");
}

fn zones_section(out: &mut String, scope: &Scope, t: &Strings) {
    open_section(out, "zones", t.s_zones, t.i_zones);
    if scope.zones.is_empty() {
        empty(out, t.none);
    } else {
        out.push_str(r#"<div class="zones">"#);
        for z in &scope.zones {
            let tone = reach_tone(z.status);
            let _ = write!(
                out,
                r#"<div class="zone {}" data-zone="{}"><h3><span>{}</span><span class="tags">"#,
                tone.class(),
                escape(&z.zone),
                escape(&z.zone)
            );
            if z.critical {
                out.push_str(&pill(Tone::Grey, t.critical_zone));
            }
            if z.isolated {
                out.push_str(&pill(Tone::Grey, t.isolated_zone));
            }
            let _ = write!(
                out,
                r#"</span></h3><div class="status">{}</div><p>{}</p><p class="small"><strong>{}:</strong> {}</p>"#,
                escape(reach_word(t, z.status)),
                escape(&z.reason),
                escape(t.zone_hosts),
                list(&z.hosts, 8)
            );
            if !z.coverage.is_empty() {
                let _ = write!(
                    out,
                    r#"<p class="small"><strong>{}:</strong></p><ul>"#,
                    escape(t.zone_coverage)
                );
                for cov in z.coverage.iter().take(6) {
                    let _ = write!(out, "<li>{}</li>", escape(cov));
                }
                if z.coverage.len() > 6 {
                    let _ = write!(out, "<li>+{}</li>", z.coverage.len() - 6);
                }
                out.push_str("</ul>");
            }
            if !z.evidence.is_empty() {
                let _ = write!(
                    out,
                    r#"<p class="small"><strong>{}:</strong></p><ul>"#,
                    escape(t.zone_evidence)
                );
                for e in z.evidence.iter().take(4) {
                    let _ = write!(
                        out,
                        "<li>{} {} — <code>{}</code></li>",
                        time_html(t, e.time),
                        escape(&e.summary),
                        escape(&origin_text(e))
                    );
                }
                out.push_str("</ul>");
            }
            out.push_str("</div>");
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
}

fn data_section(out: &mut String, scope: &Scope, t: &Strings) {
    open_section(out, "data", t.s_data, t.i_data);
    if scope
        .data_exposure
        .iter()
        .any(|d| d.personal_data && d.probable_exfiltration)
    {
        let _ = write!(out, r#"<p class="note red">{}</p>"#, escape(t.gdpr));
    }
    if scope.data_exposure.is_empty() {
        empty(out, t.no_data_exposure);
    } else {
        let mut tb = Table::new(&[
            (t.c_first, false),
            (t.c_what, false),
            (t.c_host, false),
            (t.c_details, false),
            (t.c_destinations, false),
            (t.c_bytes_out, true),
            (t.c_personal, false),
        ]);
        for d in &scope.data_exposure {
            let mut what = escape(exposure_word(t, d.activity));
            if let Some(s) = &d.store {
                let _ = write!(what, " · <strong>{}</strong>", escape(s));
            }
            if d.probable_exfiltration {
                let _ = write!(what, " {}", pill(Tone::Red, t.probable_exfiltration));
            }
            let mut desc = escape(&d.description);
            if let Some(tool) = &d.tool {
                let _ = write!(desc, r#" <span class="small">({})</span>"#, escape(tool));
            }
            let personal = match (d.personal_data, d.sensitivity) {
                (true, Some(s)) => pill(Tone::Red, sensitivity_word(t, s)),
                (true, None) => pill(Tone::Red, t.yes),
                (false, Some(s)) => escape(sensitivity_word(t, s)),
                (false, None) => escape(t.no),
            };
            tb.row(vec![
                ctime(t, d.first),
                c(what),
                Cell {
                    class: "nowrap",
                    ..ct(d.host.as_deref().unwrap_or("—"))
                },
                c(desc),
                c(list(&d.destinations, 4)),
                Cell {
                    html: d.bytes_out.map(bytes).unwrap_or_else(|| "—".into()),
                    sort: Some(d.bytes_out.unwrap_or(0).to_string()),
                    class: "num",
                },
                c(personal),
            ]);
        }
        tb.render(out);
    }
    out.push_str("</section>");
}

fn containment_section(out: &mut String, scope: &Scope, t: &Strings) {
    open_section(out, "containment", t.s_containment, t.i_containment);
    if scope.containment.is_empty() {
        empty(out, t.nothing_to_do);
    } else {
        let mut actions: Vec<_> = scope.containment.iter().collect();
        actions.sort_by_key(|a| a.priority);
        let mut tb = Table::new(&[
            (t.c_priority, true),
            (t.c_action, false),
            (t.c_target, false),
            (t.c_why, false),
        ]);
        for a in actions {
            let attrs = if a.priority <= 3 {
                r#" class="prio""#.to_string()
            } else {
                String::new()
            };
            tb.row_attrs(
                attrs,
                vec![
                    cnum(a.priority as u64),
                    Cell {
                        class: "strong",
                        ..ct(action_word(t, a.kind))
                    },
                    c(format!("<code>{}</code>", escape(&a.target))),
                    ct(&a.reason),
                ],
            );
        }
        tb.render(out);
    }
    out.push_str("</section>");
}

fn coverage_section(out: &mut String, scope: &Scope, t: &Strings, max: usize) {
    open_section(out, "coverage", t.s_coverage, t.i_coverage);
    if !scope.caveats.is_empty() {
        let _ = write!(
            out,
            r#"<div class="note"><strong>{}</strong><ul>"#,
            escape(t.caveats)
        );
        for c in &scope.caveats {
            let _ = write!(out, "<li>{}</li>", escape(c));
        }
        out.push_str("</ul></div>");
    }
    if let Some(p) = &scope.observed {
        let _ = write!(
            out,
            r#"<p class="small">{}: {} → {}</p>"#,
            escape(t.c_period),
            time_html(t, Some(p.first)),
            time_html(t, Some(p.last))
        );
    }
    let chans = &scope.coverage.channels;
    if chans.is_empty() {
        empty(out, t.none);
    } else {
        let mut tb = Table::new(&[
            (t.c_host, false),
            (t.c_source, false),
            (t.c_first, false),
            (t.c_last, false),
            (t.c_events, true),
            (t.c_gaps, false),
        ]);
        for ch in chans.iter().take(max) {
            let mut gaps = Vec::new();
            let mut worst = Tone::Green;
            for cl in &ch.cleared {
                worst = worst.worst(Tone::Red);
                gaps.push(pill(
                    Tone::Red,
                    &format!(
                        "{} {}{}",
                        t.cleared,
                        cl.time.map(|x| t.short_time(&x)).unwrap_or_default(),
                        cl.account
                            .as_deref()
                            .map(|a| format!(" · {a}"))
                            .unwrap_or_default()
                    ),
                ));
            }
            let missing: u64 = ch.record_gaps.iter().map(|g| g.missing).sum();
            if missing > 0 {
                worst = worst.worst(Tone::Amber);
                gaps.push(pill(
                    Tone::Amber,
                    &format!("{} {}", thousands(missing), t.record_gap),
                ));
            }
            if let Some(longest) = ch.silences.iter().max_by_key(|s| s.seconds) {
                worst = worst.worst(Tone::Amber);
                gaps.push(pill(
                    Tone::Amber,
                    &format!(
                        "{}× {} ({} → {})",
                        ch.silences.len(),
                        t.silence,
                        t.short_time(&longest.from),
                        t.short_time(&longest.to)
                    ),
                ));
            }
            let gaps_html = if gaps.is_empty() {
                pill(Tone::Green, t.none)
            } else {
                gaps.join(" ")
            };
            tb.row(vec![
                Cell {
                    class: "strong",
                    ..ct(&ch.host)
                },
                ct(&ch.channel),
                ctime(t, ch.first),
                ctime(t, ch.last),
                cnum(ch.events),
                Cell {
                    sort: Some((10 - worst.severity()).to_string()),
                    ..c(gaps_html)
                },
            ]);
        }
        tb.render(out);
        more_rows(out, t, chans.len().saturating_sub(max));
    }
    out.push_str("</section>");
}

fn detections_section(
    out: &mut String,
    scope: &Scope,
    alerts: &[DetectionRow],
    t: &Strings,
    max: usize,
) {
    open_section(out, "detections", t.s_detections, t.i_detections);
    if !scope.incidents.is_empty() {
        let _ = write!(out, "<h3>{}</h3>", escape(t.incidents_title));
        let mut tb = Table::new(&[
            (t.c_incident, false),
            (t.c_severity, false),
            (t.c_first, false),
            (t.c_last, false),
            (t.c_hosts, false),
            (t.c_accounts, false),
            (t.a_detections, true),
            (t.p_tactic, false),
        ]);
        for i in &scope.incidents {
            let hosts: Vec<String> = i.hosts.iter().map(|h| h.name.clone()).collect();
            let accounts: Vec<String> = i.accounts.iter().map(|h| h.name.clone()).collect();
            let tactics: Vec<String> = i.tactics.iter().map(|x| tactic_name(x)).collect();
            tb.row(vec![
                Cell {
                    class: "strong",
                    ..ct(&i.id)
                },
                Cell {
                    sort: Some(level_rank(Some(i.severity)).to_string()),
                    ..c(level_badge(Some(i.severity)))
                },
                ctime(t, Some(i.first)),
                ctime(t, Some(i.last)),
                c(list(&hosts, 5)),
                c(list(&accounts, 4)),
                cnum(i.detections),
                c(list(&tactics, 5)),
            ]);
        }
        tb.render(out);
    }
    let rules = &scope.detections.rules;
    if !rules.is_empty() {
        let _ = write!(out, "<h3>{}</h3>", escape(t.rules_title));
        let mut tb = Table::new(&[
            (t.c_rule, false),
            (t.c_level, false),
            (t.c_count, true),
            (t.c_hosts, false),
            (t.c_first, false),
            (t.c_last, false),
            (t.c_tactics, false),
        ]);
        for r in rules {
            let tags: Vec<String> = r
                .tags
                .iter()
                .filter_map(|x| x.strip_prefix("attack."))
                .map(|x| x.to_string())
                .collect();
            tb.row(vec![
                Cell {
                    class: "strong",
                    ..ct(&r.title)
                },
                Cell {
                    sort: Some(level_rank(r.level).to_string()),
                    ..c(level_badge(r.level))
                },
                cnum(r.count),
                c(list(&r.hosts, 5)),
                ctime(t, r.first),
                ctime(t, r.last),
                c(list(&tags, 4)),
            ]);
        }
        tb.render(out);
    }
    if !scope.detections.correlations.is_empty() {
        let mut tb = Table::new(&[
            (t.c_rule, false),
            (t.c_level, false),
            (t.c_first, false),
            (t.c_last, false),
            (t.c_details, false),
        ]);
        for cr in &scope.detections.correlations {
            let group: Vec<String> = cr.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
            tb.row(vec![
                Cell {
                    class: "strong",
                    ..ct(&cr.title)
                },
                Cell {
                    sort: Some(level_rank(cr.level).to_string()),
                    ..c(level_badge(cr.level))
                },
                ctime(t, Some(cr.first)),
                ctime(t, Some(cr.last)),
                c(format!("{} · {}", list(&group, 4), cr.value)),
            ]);
        }
        tb.render(out);
    }
    if !alerts.is_empty() {
        // Most severe first, then time, so the cap drops noise, not signal.
        let mut shown: Vec<&DetectionRow> = alerts.iter().collect();
        shown.sort_by(|a, b| {
            level_rank(b.level)
                .cmp(&level_rank(a.level))
                .then(a.time.cmp(&b.time))
        });
        shown.truncate(max);
        shown.sort_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then(level_rank(b.level).cmp(&level_rank(a.level)))
        });
        // On paper the per-rule table above is the summary; thousands of
        // alert rows would bury it, so the full list is screen-only.
        let _ = write!(
            out,
            r#"<p class="printonly small">{}</p><div class="noprint"><h3>{}</h3>"#,
            escape(t.print_rows_note),
            escape(t.rows_title)
        );
        let _ = write!(
            out,
            r#"<div class="filters" hidden><input id="det-filter" type="search" placeholder="{}" aria-label="{}"><label>{} <select id="det-level">"#,
            escape(t.filter_placeholder),
            escape(t.filter_placeholder),
            escape(t.filter_min_level)
        );
        for (rank, name) in LEVEL_NAMES.iter().enumerate() {
            let _ = write!(
                out,
                r#"<option value="{rank}"{}>{name}</option>"#,
                if rank == 0 { " selected" } else { "" },
            );
        }
        let _ = write!(
            out,
            r#"</select></label><span><span id="det-count">{}</span> {}</span></div>"#,
            shown.len(),
            escape(t.shown)
        );
        let mut tb = Table::new(&[
            (t.c_time, false),
            (t.c_level, false),
            (t.c_rule, false),
            (t.c_host, false),
            (t.c_account, false),
            (t.c_details, false),
            (t.c_evidence, false),
        ]);
        tb.id = Some("det-table");
        for a in shown {
            let rank = level_rank(a.level);
            tb.row_attrs(
                format!(r#" data-level="{rank}""#),
                vec![
                    ctime(t, a.time),
                    Cell {
                        sort: Some(rank.to_string()),
                        ..c(level_badge(a.level))
                    },
                    ct(&a.rule_title),
                    ct(a.computer.as_deref().unwrap_or("—")),
                    ct(a.account.as_deref().unwrap_or("—")),
                    c(format!(
                        "<code>{}</code>",
                        escape_truncated(&a.details, 400)
                    )),
                    c(format!(
                        r#"<code class="small">{}</code>"#,
                        escape_truncated(&a.source, 120)
                    )),
                ],
            );
        }
        tb.render(out);
        more_rows(out, t, alerts.len().saturating_sub(max));
        out.push_str("</div>");
    } else if rules.is_empty() && scope.incidents.is_empty() {
        empty(out, t.none);
    }
    out.push_str("</section>");
}

fn artifacts_section(out: &mut String, scope: &Scope, t: &Strings, max: usize) {
    open_section(out, "artifacts", t.artifacts_title, "");
    if scope.processes.is_empty()
        && scope.services_installed.is_empty()
        && scope.scheduled_tasks.is_empty()
        && scope.domains.is_empty()
    {
        empty(out, t.none);
    }
    if !scope.processes.is_empty() {
        let _ = write!(out, "<h3>{}</h3>", escape(t.processes));
        let mut tb = Table::new(&[
            (t.c_time, false),
            (t.c_host, false),
            (t.c_user, false),
            (t.c_command, false),
            (t.c_parent, false),
            (t.c_rules, false),
        ]);
        for p in scope.processes.iter().take(max) {
            let cmd = p.command_line.as_deref().unwrap_or(&p.image);
            tb.row(vec![
                ctime(t, p.time),
                Cell {
                    class: "strong",
                    ..ct(&p.host)
                },
                ct(p.user.as_deref().unwrap_or("—")),
                c(format!("<code>{}</code>", escape_truncated(cmd, 400))),
                c(format!(
                    "<code>{}</code>",
                    escape_truncated(&p.parent_chain.join(" ← "), 200)
                )),
                c(list(&p.rules, 3)),
            ]);
        }
        tb.render(out);
        more_rows(out, t, scope.processes.len().saturating_sub(max));
    }
    if !scope.services_installed.is_empty() {
        let _ = write!(out, "<h3>{}</h3>", escape(t.services_installed));
        let mut tb = Table::new(&[
            (t.c_time, false),
            (t.c_host, false),
            (t.c_name, false),
            (t.c_command, false),
            (t.c_account, false),
            (t.c_state, false),
        ]);
        for s in scope.services_installed.iter().take(max) {
            tb.row(vec![
                ctime(t, s.time),
                Cell {
                    class: "strong",
                    ..ct(&s.host)
                },
                ct(&s.name),
                c(format!(
                    "<code>{}</code>",
                    escape_truncated(s.image_path.as_deref().unwrap_or("—"), 300)
                )),
                ct(s.account.as_deref().unwrap_or("—")),
                c(if s.suspicious {
                    pill(Tone::Red, t.compromise[1])
                } else {
                    "—".into()
                }),
            ]);
        }
        tb.render(out);
    }
    if !scope.scheduled_tasks.is_empty() {
        let _ = write!(out, "<h3>{}</h3>", escape(t.tasks));
        let mut tb = Table::new(&[
            (t.c_time, false),
            (t.c_host, false),
            (t.c_name, false),
            (t.c_command, false),
            (t.c_account, false),
        ]);
        for s in scope.scheduled_tasks.iter().take(max) {
            tb.row(vec![
                ctime(t, s.time),
                Cell {
                    class: "strong",
                    ..ct(&s.host)
                },
                ct(&s.name),
                c(format!(
                    "<code>{}</code>",
                    escape_truncated(s.command.as_deref().unwrap_or("—"), 300)
                )),
                ct(s.account.as_deref().unwrap_or("—")),
            ]);
        }
        tb.render(out);
        more_rows(out, t, scope.scheduled_tasks.len().saturating_sub(max));
    }
    if !scope.domains.is_empty() {
        let _ = write!(out, "<h3>{}</h3>", escape(t.domains));
        let mut tb = Table::new(&[
            (t.c_domain, false),
            (t.c_hosts, false),
            (t.c_first, false),
            (t.c_count, true),
            (t.c_why, false),
        ]);
        for d in scope.domains.iter().take(max) {
            tb.row(vec![
                c(format!("<code>{}</code>", escape(&d.domain))),
                c(list(&d.hosts, 4)),
                ctime(t, d.first),
                cnum(d.count),
                c(list(&d.reasons, 3)),
            ]);
        }
        tb.render(out);
    }
    out.push_str("</section>");
}

// ---------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------

pub(crate) fn render(scope: &Scope, alerts: &[DetectionRow], opts: &Options) -> String {
    let t = opts.strings;
    let steps = attack_steps(scope);
    let rows = tactic_rows(&steps);

    let mut body = String::with_capacity(256 * 1024);
    answer(&mut body, scope, t);
    progression_section(&mut body, scope, &rows, t);
    timeline_section(&mut body, &steps, &rows, alerts, t);
    graph_section(&mut body, scope, t);
    hosts_section(&mut body, scope, t, opts.max_table_rows);
    accounts_section(&mut body, scope, t, opts.max_table_rows);
    services_section(&mut body, scope, t);
    zones_section(&mut body, scope, t);
    data_section(&mut body, scope, t);
    containment_section(&mut body, scope, t);
    coverage_section(&mut body, scope, t, opts.max_table_rows);
    detections_section(&mut body, scope, alerts, t, opts.max_detection_rows);
    artifacts_section(&mut body, scope, t, opts.max_table_rows);

    let title = match &opts.organisation {
        Some(o) => format!("{} — {}", t.title, o),
        None => t.title.to_string(),
    };
    let mut out = String::with_capacity(body.len() + CSS.len() + JS.len() + 4096);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {js}; style-src {css}; img-src data:; base-uri 'none'; form-action 'none'"><meta name="generator" content="Vigie {ver}"><title>{title}</title><style>{CSS}</style></head><body>"#,
        lang = t.lang,
        js = csp_hash(JS),
        css = csp_hash(CSS),
        ver = env!("CARGO_PKG_VERSION"),
        title = escape(&title),
    );
    let _ = write!(
        out,
        r#"<header class="top"><div class="wrap"><div><h1>{}</h1>"#,
        escape(t.title)
    );
    if let Some(o) = &opts.organisation {
        let _ = write!(out, r#"<div class="org">{}</div>"#, escape(o));
    }
    out.push_str(r#"</div><div class="meta">"#);
    if let Some(p) = &scope.observed {
        let _ = write!(
            out,
            "{}: {} → {}<br>",
            escape(t.c_period),
            escape(&t.short_time(&p.first)),
            escape(&t.short_time(&p.last))
        );
    }
    if let Some(g) = &opts.generated_at {
        let _ = write!(
            out,
            "{} · {}<br>",
            escape(t.generated),
            escape(&t.long_time(g))
        );
    }
    let _ = write!(out, "{}</div></div></header>", escape(t.all_times_utc));
    let _ = write!(
        out,
        r#"<div class="confidential"><div class="wrap">{}</div></div>"#,
        escape(t.confidential)
    );
    out.push_str(r#"<nav class="toc" aria-label="sections"><ul>"#);
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
        r#"</main><footer class="bottom"><div class="wrap">{} {} · scope schema {} · {}</div></footer><script>{JS}</script></body></html>"#,
        escape(t.generated),
        env!("CARGO_PKG_VERSION"),
        escape(&scope.schema_version),
        escape(t.all_times_utc)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(150_000_000_000), "150.0 GB");
    }

    #[test]
    fn csp_hash_is_base64_sha256() {
        // printf '' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            csp_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }
}
