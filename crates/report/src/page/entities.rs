//! What was touched: machines, accounts, services, zones, data, and
//! what to do about them.

use std::fmt::Write as _;

use vigie_scope::Scope;

use super::kit::*;
use crate::html::escape;
use crate::origin_text;
use crate::text::Voice;
use crate::tone::Tone;

pub(super) fn hosts_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
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
            let (alerts, total) = level_counts_html(t, &h.detections);
            let mut name = name_html(&h.name);
            if h.isolated {
                let _ = write!(name, " {}", pill(Tone::Grey, t.isolated_zone));
            }
            let tone = host_tone(h);
            tb.row(vec![
                Cell {
                    class: "strong",
                    sort: Some(h.name.clone()),
                    ..c(name)
                },
                ct(h.zone.as_deref().unwrap_or("—")),
                ct(&h
                    .role
                    .as_deref()
                    .map(|r| role_word(t, r))
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
                wide(c(lines(&h.compromise_reasons, 3))),
            ]);
        }
        tb.render(out, t, scope.hosts.len());
    }
    out.push_str("</section>");
}

pub(super) fn accounts_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
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
                wide(c(lines(&why, 3))),
            ]);
        }
        tb.render(out, t, scope.accounts.len());
    }
    out.push_str("</section>");
}

pub(super) fn services_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
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
        for s in scope.services.iter().take(max) {
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
                wide(ct(&s.reason)),
            ]);
        }
        tb.render(out, t, scope.services.len());
    }
    out.push_str("</section>");
}

pub(super) fn zones_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
    open_section(out, "zones", t.s_zones, t.i_zones);
    if scope.zones.is_empty() {
        empty(out, t.none);
    } else {
        out.push_str(r#"<div class="zones">"#);
        for z in scope.zones.iter().take(max) {
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
                r#"</span></h3><div class="status">{}</div><p>{}</p><p class="small"><strong>{}</strong> {}</p>"#,
                escape(reach_word(t, z.status)),
                escape(&z.reason),
                escape(&t.label(t.zone_hosts)),
                list(&z.hosts, 8)
            );
            if !z.coverage.is_empty() {
                let _ = write!(
                    out,
                    r#"<p class="small"><strong>{}</strong></p><ul>"#,
                    escape(&t.label(t.zone_coverage))
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
                    r#"<p class="small"><strong>{}</strong></p><ul>"#,
                    escape(&t.label(t.zone_evidence))
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
        more_rows(out, t, scope.zones.len().saturating_sub(max));
    }
    out.push_str("</section>");
}

pub(super) fn data_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
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
        for d in scope.data_exposure.iter().take(max) {
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
                (true, Some(s)) => pill(Tone::Red, &sensitivity_word(t, s)),
                (true, None) => pill(Tone::Red, t.yes),
                (false, Some(s)) => escape(&sensitivity_word(t, s)),
                (false, None) => escape(t.no),
            };
            tb.row(vec![
                ctime(t, d.first),
                c(what),
                c(name_html(d.host.as_deref().unwrap_or("—"))),
                wide(c(desc)),
                c(list(&d.destinations, 4)),
                Cell {
                    html: d
                        .bytes_out
                        .map(|b| t.lang.bytes(b))
                        .unwrap_or_else(|| "—".into()),
                    sort: Some(d.bytes_out.unwrap_or(0).to_string()),
                    class: "num",
                },
                c(personal),
            ]);
        }
        tb.render(out, t, scope.data_exposure.len());
    }
    out.push_str("</section>");
}

pub(super) fn containment_section(out: &mut String, scope: &Scope, t: &Voice, max: usize) {
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
        for a in actions.into_iter().take(max) {
            let attrs = if a.priority <= 3 {
                r#" class="prio""#.to_string()
            } else {
                String::new()
            };
            tb.row_attrs(
                attrs,
                vec![
                    cnum(t, a.priority as u64),
                    Cell {
                        class: "strong",
                        ..ct(&action_word(t, a.kind))
                    },
                    c(format!("<code>{}</code>", escape(&a.target))),
                    wide(ct(&a.reason)),
                ],
            );
        }
        tb.render(out, t, scope.containment.len());
    }
    out.push_str("</section>");
}
