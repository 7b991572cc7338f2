//! The plain-words answer at the top: the verdict, key figures, the
//! facts and what to do now (the summary printed on its own pages).

use std::fmt::Write as _;

use vigie_detect::Level;
use vigie_scope::{Compromise, Confidence, Scope, ServiceState};

use super::kit::*;
use crate::html::escape;
use crate::text::Voice;
use crate::tone::Tone;
use crate::verdict::Verdict;

/// When the attack started, as one time everywhere: the entry point if
/// it is earlier than the first malicious signal (a VPN logon is not
/// itself "malicious" to a rule, yet it is where the attack began).
pub(super) fn attack_start(scope: &Scope) -> Option<vigie_event::Timestamp> {
    let first = scope.attack_period.map(|p| p.first);
    let entry = scope.entry_point.as_ref().and_then(|e| e.time);
    match (first, entry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The detections figure as the terminal prints it: every detection
/// row, single-event and correlation alike, with its critical and high
/// counts; the breakdown says how it splits.
pub(super) fn detection_figures(scope: &Scope) -> (u64, u64, u64, u64) {
    let d = &scope.detections;
    let corr = d.correlations.len() as u64;
    let level = |l: Level| d.correlations.iter().filter(|c| c.level == Some(l)).count() as u64;
    (
        d.total + corr,
        corr,
        d.by_level.critical + level(Level::Critical),
        d.by_level.high + level(Level::High),
    )
}

pub(super) fn answer(out: &mut String, scope: &Scope, verdict: &Verdict, t: &Voice) {
    let a = &scope.answer;
    let count =
        |it: &mut dyn Iterator<Item = Compromise>, c: Compromise| it.filter(|x| *x == c).count();
    let hosts_yes = count(
        &mut scope.hosts.iter().map(|h| h.compromised),
        Compromise::Yes,
    );
    let hosts_sus = count(
        &mut scope.hosts.iter().map(|h| h.compromised),
        Compromise::Suspected,
    );
    let acc_yes = count(
        &mut scope.accounts.iter().map(|h| h.compromised),
        Compromise::Yes,
    );
    let acc_sus = count(
        &mut scope.accounts.iter().map(|h| h.compromised),
        Compromise::Suspected,
    );
    let tone = verdict.assessment.tone();
    let _ = write!(
        out,
        r#"<section class="card answer {}" id="answer" data-assessment="{}"><h2>{}</h2><div class="verdict"><span class="badge">{}</span>"#,
        tone.class(),
        verdict.assessment.key(),
        escape(t.s_answer),
        escape(verdict.headline(t))
    );
    if let (Some(start), Some(p)) = (attack_start(scope), &scope.attack_period) {
        let _ = write!(
            out,
            r#"<span class="period">{} {} → {}</span>"#,
            escape(&t.label(t.v_period)),
            time_html(t, Some(start)),
            time_html(t, Some(p.last.max(start)))
        );
    }
    out.push_str("</div>");
    if !verdict.not_analysed.is_empty() {
        let _ = write!(
            out,
            r#"<div class="note notanalysed"><strong>{}</strong><ul>"#,
            escape(t.a_not_analysed)
        );
        for s in verdict.not_analysed.iter().take(8) {
            let _ = write!(out, "<li>{}</li>", escape_truncated_line(s));
        }
        if verdict.not_analysed.len() > 8 {
            let _ = write!(
                out,
                r##"<li><a href="#coverage">+{} — {}</a></li>"##,
                t.number((verdict.not_analysed.len() - 8) as u64),
                escape(t.s_coverage)
            );
        }
        out.push_str("</ul></div>");
    }
    if !a.headline.is_empty() {
        let _ = write!(out, r#"<p class="headline">{}</p>"#, escape(&a.headline));
    }
    // Key figures.
    let svc_hit = scope
        .services
        .iter()
        .filter(|s| matches!(s.status, ServiceState::Affected | ServiceState::Degraded))
        .count();
    let (total, corr, critical, high) = detection_figures(scope);
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
        t.number(hosts_yes as u64),
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
        t.number(acc_yes as u64),
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
    let mut sub = escape(&t.critical_high(critical, high));
    if corr > 0 {
        let _ = write!(
            sub,
            "<br>{}",
            escape(&t.detections_breakdown(total - corr, corr))
        );
    }
    kpi(out, Tone::Grey, t.number(total), t.a_detections, sub);
    out.push_str("</div>");

    out.push_str(r#"<div class="answer-grid"><dl class="facts">"#);
    let fact = |out: &mut String, k: &str, v: &str, extra: String| {
        if v.is_empty() && extra.is_empty() {
            return;
        }
        let _ = write!(
            out,
            "<dt>{}</dt><dd>{}{}</dd>",
            escape(k),
            escape_truncated_line(v),
            extra
        );
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
    // Nothing found: the facts are the scope's "no attack" sentences,
    // already said by the banner and the not-analysed list.
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
                &format!("{} {}", t.label(&z.zone), reach_word(t, z.status)),
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
    out.push_str("</section>");
}

/// A scope sentence, escaped and cut to a readable length.
fn escape_truncated_line(s: &str) -> String {
    crate::html::escape_truncated(s, CELL_CHARS * 2)
}
