//! How the attack went: the ATT&CK progression, the timeline chart and
//! the lateral-movement graph.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use vigie_detect::Level;
use vigie_event::Timestamp;
use vigie_scope::{AddressKind, Compromise, EntryPoint, Host, ProgressionStep, Scope, ZoneReach};

use super::kit::*;
use crate::graph::{self, Edge, Graph, Lane, Node};
use crate::html::escape;
use crate::progression::{self, tactic_name, TacticSeen};
use crate::text::Voice;
use crate::timeline::{self, Step, LEVEL_NAMES};
use crate::tone::Tone;
use crate::{origin_text, DetectionRow};

// ---------------------------------------------------------------------------
// Derived views
// ---------------------------------------------------------------------------

/// The incidents that make up the attack: high or critical ones, or all
/// when none is (so a low-grade intrusion is still described).
pub(super) fn attack_steps(scope: &Scope) -> Vec<&ProgressionStep> {
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
pub(super) struct TacticRow {
    seen: TacticSeen,
    rules: Vec<String>,
    level: Option<Level>,
    /// Marker number on the timeline (order of first appearance).
    number: usize,
}

/// The entry point as the Initial Access stage, when the incidents'
/// rules did not tag one: a high-confidence VPN entry must never sit
/// beside "Initial Access: not seen".
fn entry_row(e: &EntryPoint, t: &Voice) -> TacticRow {
    TacticRow {
        seen: TacticSeen {
            tactic: "initial-access".into(),
            first: e.time,
            techniques: vec![entry_method(t, &e.method)],
            hosts: e.host.iter().cloned().collect(),
        },
        rules: vec![e.description.clone()],
        level: None,
        number: 0,
    }
}

/// `vpn` → `VPN`, `rdp` → `RDP`, `network_logon` → `network logon`.
pub(super) fn entry_method(t: &Voice, method: &str) -> String {
    match method {
        "vpn" | "rdp" | "smb" | "wmi" => method.to_uppercase(),
        "winrm" => "WinRM".into(),
        "psexec" => "PsExec".into(),
        m => role_word(t, m),
    }
}

pub(super) fn tactic_rows(
    steps: &[&ProgressionStep],
    entry: Option<&EntryPoint>,
    t: &Voice,
) -> Vec<TacticRow> {
    let mut by: Vec<TacticRow> = Vec::new();
    if let Some(e) = entry {
        let tagged = steps.iter().any(|s| {
            progression::tactic_index(s.tactic_id.as_deref().unwrap_or(&s.tactic)) == Some(2)
        });
        if !tagged {
            by.push(entry_row(e, t));
        }
    }
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

// ---------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------

pub(super) fn progression_section(
    out: &mut String,
    scope: &Scope,
    rows: &[TacticRow],
    t: &Voice,
    max: usize,
) {
    open_section(out, "progression", t.s_progression, t.i_progression);
    if let Some(e) = &scope.entry_point {
        let _ = write!(
            out,
            r#"<div class="entry"><div class="d"><strong>{}</strong> {} <span class="pill tone-grey">{}</span></div>"#,
            escape(&t.label(t.entry_card)),
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
            (Some(a), Some(k)) => format!("{a} ({})", address_kind_word(t, k)),
            (Some(a), None) => a.clone(),
            _ => format!("— · {}", entry_method(t, &e.method)),
        };
        kv(out, t.e_source, escape(&src));
        out.push_str("</div>");
    }
    let seen: Vec<TacticSeen> = rows.iter().map(|r| r.seen.clone()).collect();
    out.push_str(&progression::render_strip(&seen, t));
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
        for r in rows.iter().take(max) {
            tb.row(vec![
                cnum(t, r.number as u64),
                Cell {
                    class: "strong",
                    ..ct(&tactic_name(&r.seen.tactic, t))
                },
                ctime(t, r.seen.first),
                Cell {
                    sort: Some(level_rank(r.level).to_string()),
                    ..c(level_badge(t, r.level))
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
        tb.render(out, t, rows.len());
    }
    out.push_str("</section>");
}

pub(super) fn timeline_section(
    out: &mut String,
    steps: &[&ProgressionStep],
    rows: &[TacticRow],
    alerts: &[DetectionRow],
    t: &Voice,
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
            let mut label = tactic_name(&r.seen.tactic, t);
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
            escape(t.term(LEVEL_NAMES[rank]))
        );
    }
    let _ = write!(
        out,
        r#"<span><span class="sw tone-red"></span>{}</span></div>"#,
        escape(t.t_steps)
    );
    let _ = write!(
        out,
        r#"<div class="chart" tabindex="0" role="region" aria-label="{}">{}</div>"#,
        escape(t.s_timeline),
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

/// The graph's nodes with a case-insensitive index by id: a scope with
/// tens of thousands of hosts must not take quadratic time to draw.
#[derive(Default)]
struct Nodes {
    list: Vec<Node>,
    index: std::collections::HashMap<String, usize>,
}

impl Nodes {
    fn has(&self, id: &str) -> bool {
        self.index.contains_key(&id.to_uppercase())
    }
    /// The id as first added (`DC01` for `dc01`), or empty.
    fn id(&self, id: &str) -> String {
        self.index
            .get(&id.to_uppercase())
            .map(|&i| self.list[i].id.clone())
            .unwrap_or_default()
    }
    fn push(&mut self, n: Node) {
        self.index
            .entry(n.id.to_uppercase())
            .or_insert(self.list.len());
        self.list.push(n);
    }
    fn iter(&self) -> std::slice::Iter<'_, Node> {
        self.list.iter()
    }
}

pub(super) fn graph_model(scope: &Scope, t: &Voice) -> Graph {
    let host_index: BTreeMap<String, usize> = scope
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.name.to_uppercase(), i))
        .collect();
    let find = |name: &str| host_index.get(&name.to_uppercase()).copied();
    let links: Vec<_> = scope.links.iter().filter(|l| l.malicious).collect();

    let mut nodes = Nodes::default();
    let add_host = |nodes: &mut Nodes, h: &Host| {
        if nodes.has(&h.name) {
            return;
        }
        let detail = h
            .role
            .as_deref()
            .map(|r| role_word(t, r))
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
                None if !nodes.has(name) => nodes.push(Node {
                    id: name.clone(),
                    label: name.clone(),
                    detail: reach_word(t, z.status).to_string(),
                    lane: z.zone.clone(),
                    tone: match z.status {
                        ZoneReach::NotReached => Tone::Green,
                        _ => Tone::Grey,
                    },
                    first_seen: None,
                }),
                None => {}
            }
        }
    }
    let outside = "\u{0}outside";
    let add_endpoint = |nodes: &mut Nodes, name: &str, kind: Option<AddressKind>| {
        if nodes.has(name) {
            return;
        }
        match find(name) {
            Some(i) => add_host(nodes, &scope.hosts[i]),
            None => {
                let (tone, detail) = match kind {
                    Some(AddressKind::External) => (Tone::External, t.g_public_address),
                    Some(AddressKind::Vpn) => (Tone::External, t.g_vpn_address),
                    Some(AddressKind::Internal) => (Tone::Grey, t.g_internal_address),
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
            from: nodes.id(&l.from),
            to: nodes.id(&l.to),
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
                edges.push(Edge {
                    from: nodes.id(src),
                    to: nodes.id(host),
                    method: entry_method(t, &e.method),
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
    for n in nodes.iter() {
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
        nodes: nodes.list,
        edges,
    }
}

pub(super) fn graph_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
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
    // Focusable: on a phone the drawing scrolls inside its box, and the
    // keyboard must be able to scroll it too.
    let _ = write!(
        out,
        r#"<div class="chart" tabindex="0" role="region" aria-label="{}">{}</div>"#,
        escape(t.s_graph),
        graph::render(&g, t)
    );
    if g.edges.is_empty() {
        empty(out, t.g_empty);
    }
    let links: Vec<_> = scope.links.iter().filter(|l| l.malicious).collect();
    let links_total = links.len();
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
        for l in links.into_iter().take(max) {
            let from = match &l.from_address {
                Some(a) if !a.eq_ignore_ascii_case(&l.from) => format!("{} ({a})", l.from),
                _ => l.from.clone(),
            };
            tb.row(vec![
                ctime(t, Some(l.first)),
                cname(&from),
                cname(&l.to),
                ct(t.link_long[link_index(l.method)]),
                ct(l.account.as_deref().unwrap_or("—")),
                ctime(t, Some(l.last)),
                cnum(t, l.count),
                c(l.evidence
                    .first()
                    .map(|e| format!("<code>{}</code>", escape(&origin_text(e))))
                    .unwrap_or_default()),
            ]);
        }
        tb.render(out, t, links_total);
    }
    out.push_str("</section>");
}
