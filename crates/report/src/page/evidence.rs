//! What the answer rests on: log coverage, detections and technical
//! traces.

use std::collections::HashMap;
use std::fmt::Write as _;

use vigie_scope::Scope;

use super::kit::*;
use crate::html::{escape, escape_truncated};
use crate::progression::tactic_name;
use crate::text::Voice;
use crate::timeline::LEVEL_NAMES;
use crate::tone::Tone;
use crate::DetectionRow;

/// The scope's names for the machines detection rows name: rows carry
/// what the log says (`SRV-RDS01.ccpab.local`), the scope and the rest of
/// the report say `SRV-RDS01`; one name per machine everywhere.
fn host_names(scope: &Scope) -> HashMap<String, &str> {
    let mut m = HashMap::new();
    for h in &scope.hosts {
        for n in std::iter::once(&h.name).chain(&h.fqdns) {
            m.entry(n.to_uppercase()).or_insert(h.name.as_str());
        }
    }
    m
}

fn host_name(names: &HashMap<String, &str>, computer: Option<&str>) -> String {
    match computer.filter(|c| !c.is_empty()) {
        None => "—".into(),
        Some(c) => names
            .get(&c.to_uppercase())
            .map_or_else(|| c.to_string(), |n| n.to_string()),
    }
}

/// A Sigma ATT&CK tag as the reader should see it: a tactic by its name
/// (`attack.lateral-movement` → "Mouvement latéral"), a technique by its
/// id (`attack.t1021.002` → `T1021.002`); other tags are not ATT&CK.
fn attack_tag(tag: &str, t: &Voice) -> Option<String> {
    let x = tag.strip_prefix("attack.")?;
    if crate::progression::tactic_index(x).is_some() {
        return Some(tactic_name(x, t));
    }
    Some(x.to_uppercase())
}

pub(super) fn coverage_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
    open_section(out, "coverage", t.s_coverage, t.i_coverage);
    if !scope.caveats.is_empty() {
        let _ = write!(
            out,
            r#"<div class="note"><strong>{}</strong><ul>"#,
            escape(t.caveats)
        );
        for c in scope.caveats.iter().take(max) {
            let _ = write!(out, "<li>{}</li>", escape_truncated(c, CELL_CHARS * 2));
        }
        out.push_str("</ul></div>");
        more_rows(out, t, scope.caveats.len().saturating_sub(max));
    }
    if let Some(p) = &scope.observed {
        let _ = write!(
            out,
            r#"<p class="small">{} {} → {}</p>"#,
            escape(&t.label(t.c_period)),
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
                    &format!("{} {}", t.number(missing), t.record_gap),
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
                cnum(t, ch.events),
                Cell {
                    sort: Some((10 - worst.severity()).to_string()),
                    ..c(gaps_html)
                },
            ]);
        }
        tb.render(out, t, chans.len());
    }
    out.push_str("</section>");
}

pub(super) fn detections_section(
    out: &mut String,
    scope: &Scope,
    alerts: &[DetectionRow],
    t: &Voice,
    max: usize,
    max_table: usize,
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
        for i in scope.incidents.iter().take(max_table) {
            let hosts: Vec<String> = i.hosts.iter().map(|h| h.name.clone()).collect();
            let accounts: Vec<String> = i.accounts.iter().map(|h| h.name.clone()).collect();
            let tactics: Vec<String> = i.tactics.iter().map(|x| tactic_name(x, t)).collect();
            tb.row(vec![
                Cell {
                    class: "strong",
                    ..ct(&i.id)
                },
                Cell {
                    sort: Some(level_rank(Some(i.severity)).to_string()),
                    ..c(level_badge(t, Some(i.severity)))
                },
                ctime(t, Some(i.first)),
                ctime(t, Some(i.last)),
                c(list(&hosts, 5)),
                c(list(&accounts, 4)),
                cnum(t, i.detections),
                c(list(&tactics, 5)),
            ]);
        }
        tb.render(out, t, scope.incidents.len());
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
        for r in rules.iter().take(max_table) {
            let tags: Vec<String> = r.tags.iter().filter_map(|x| attack_tag(x, t)).collect();
            tb.row(vec![
                Cell {
                    class: "strong",
                    ..ct(&r.title)
                },
                Cell {
                    sort: Some(level_rank(r.level).to_string()),
                    ..c(level_badge(t, r.level))
                },
                cnum(t, r.count),
                c(list(&r.hosts, 5)),
                ctime(t, r.first),
                ctime(t, r.last),
                c(list(&tags, 4)),
            ]);
        }
        tb.render(out, t, rules.len());
    }
    if !scope.detections.correlations.is_empty() {
        let _ = write!(out, "<h3>{}</h3>", escape(t.correlations_title));
        let mut tb = Table::new(&[
            (t.c_rule, false),
            (t.c_level, false),
            (t.c_first, false),
            (t.c_last, false),
            (t.c_details, false),
        ]);
        for cr in scope.detections.correlations.iter().take(max_table) {
            let group: Vec<String> = cr.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
            tb.row(vec![
                Cell {
                    class: "strong",
                    ..ct(&cr.title)
                },
                Cell {
                    sort: Some(level_rank(cr.level).to_string()),
                    ..c(level_badge(t, cr.level))
                },
                ctime(t, Some(cr.first)),
                ctime(t, Some(cr.last)),
                c(format!("{} · {}", list(&group, 4), cr.value)),
            ]);
        }
        tb.render(out, t, scope.detections.correlations.len());
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
                r#"<option value="{rank}"{}>{}</option>"#,
                if rank == 0 { " selected" } else { "" },
                escape(t.term(name))
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
        let names = host_names(scope);
        for a in shown {
            let rank = level_rank(a.level);
            tb.row_attrs(
                format!(r#" data-level="{rank}""#),
                vec![
                    ctime(t, a.time),
                    Cell {
                        sort: Some(rank.to_string()),
                        ..c(level_badge(t, a.level))
                    },
                    ct(&a.rule_title),
                    c(name_html(&host_name(&names, a.computer.as_deref()))),
                    ct(a.account.as_deref().unwrap_or("—")),
                    wide(c(format!(
                        "<code>{}</code>",
                        escape_truncated(&a.details, 400)
                    ))),
                    c(format!(
                        r#"<code class="small">{}</code>"#,
                        escape_truncated(&a.source, 120)
                    )),
                ],
            );
        }
        tb.render(out, t, alerts.len());
        out.push_str("</div>");
    } else if rules.is_empty() && scope.incidents.is_empty() {
        empty(out, t.none);
    }
    out.push_str("</section>");
}

pub(super) fn artifacts_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
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
                wide(c(format!("<code>{}</code>", escape_truncated(cmd, 400)))),
                c(if p.parent_beyond_horizon {
                    format!(
                        "<code>{}</code> ← … <em>({})</em>",
                        escape_truncated(&p.parent_chain.join(" ← "), 200),
                        escape(t.parent_beyond_horizon)
                    )
                } else {
                    format!(
                        "<code>{}</code>",
                        escape_truncated(&p.parent_chain.join(" ← "), 200)
                    )
                }),
                c(list(&p.rules, 3)),
            ]);
        }
        tb.render(out, t, scope.processes.len());
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
        tb.render(out, t, scope.services_installed.len());
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
        tb.render(out, t, scope.scheduled_tasks.len());
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
                cnum(t, d.count),
                c(list(
                    &d.reasons
                        .iter()
                        .map(|r| role_word(t, r))
                        .collect::<Vec<_>>(),
                    3,
                )),
            ]);
        }
        tb.render(out, t, scope.domains.len());
    }
    out.push_str("</section>");
}
