//! One incident's page: its progression, timeline, hosts, accounts,
//! services and detections, with its triage card and history.
//!
//! The tables of detections (the most severe first, capped at
//! `TABLE_ROWS` with the rest counted) and the triage card are shared
//! with the detection page, which shows the same card.

use super::*;

/// The scope narrowed to one incident: its hosts, accounts, links,
/// services and entry point, so that the report's sections describe it
/// alone.
fn incident_scope(scope: &Scope, i: usize) -> Scope {
    let inc = &scope.incidents[i];
    let hosts: HashSet<&str> = inc.hosts.iter().map(|h| h.name.as_str()).collect();
    let accounts: HashSet<&str> = inc.accounts.iter().map(|a| a.name.as_str()).collect();
    let links: HashSet<&str> = inc.links.iter().map(String::as_str).collect();
    let services: HashSet<&str> = inc.services_affected.iter().map(String::as_str).collect();
    let mut s = scope.clone();
    s.incidents = vec![inc.clone()];
    s.hosts.retain(|h| hosts.contains(h.name.as_str()));
    s.accounts.retain(|a| accounts.contains(a.name.as_str()));
    s.links.retain(|l| links.contains(l.id.as_str()));
    s.services
        .retain(|sv| services.contains(sv.service.as_str()));
    s.entry_point = inc.entry_point.clone();
    s
}

/// Whether a stored detection belongs to an incident: on one of its
/// hosts, within its period.
fn in_incident(d: &Value, inc: &vigie_scope::Incident) -> bool {
    let Some(host) = d["computer"].as_str().map(short_host) else {
        return false;
    };
    let Some(t) = d["time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
    else {
        return false;
    };
    t >= inc.first && t <= inc.last && inc.hosts.iter().any(|h| h.name == host)
}

/// The report's row of a stored detection (for the timeline chart).
fn detection_row(d: &Value) -> vigie_report::DetectionRow {
    vigie_report::DetectionRow {
        time: d["time"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
        level: serde_json::from_value(d["level"].clone()).ok(),
        rule_id: d["rule_id"].as_str().map(str::to_string),
        rule_title: d["rule_title"].as_str().unwrap_or_default().to_string(),
        tags: serde_json::from_value(d["tags"].clone()).unwrap_or_default(),
        computer: d["computer"].as_str().map(str::to_string),
        account: None,
        details: String::new(),
        source: d["id"].as_str().unwrap_or_default().to_string(),
    }
}

/// Detections listed on a page, at most: a page stays light on a phone
/// at the week scale; the rest are a search or an API call away.
const TABLE_ROWS: usize = 500;

fn level_rank(d: &Value) -> u8 {
    match d["level"].as_str() {
        Some("critical") => 4,
        Some("high") => 3,
        Some("medium") => 2,
        Some("low") => 1,
        _ => 0,
    }
}

/// The `max` most severe of `list` (the earliest first among equals),
/// shown in time order.
pub(super) fn most_severe<'a>(list: &[&'a Value], max: usize) -> Vec<&'a Value> {
    let mut kept: Vec<&Value> = list.to_vec();
    if kept.len() > max {
        kept.sort_by(|a, b| {
            level_rank(b)
                .cmp(&level_rank(a))
                .then_with(|| a["time"].as_str().cmp(&b["time"].as_str()))
        });
        kept.truncate(max);
    }
    kept.sort_by(|a, b| a["time"].as_str().cmp(&b["time"].as_str()));
    kept
}

fn shown_note(lang: Lang, shown: usize, total: usize) -> String {
    if shown == total {
        tr!(
            lang,
            "{} détection(s) sur ses machines pendant sa période ; chacune mène à son événement brut.",
            "{} detection(s) on its hosts during its period; each leads to its raw event.",
            total
        )
    } else {
        tr!(
            lang,
            "{} détections sur ses machines pendant sa période ; les {} plus graves sont listées ici, chacune menant à son événement brut (les autres : recherche ou /api/v1/detections).",
            "{} detections on its hosts during its period; the {} most severe are listed here, each leading to its raw event (the others: search or /api/v1/detections).",
            total,
            shown
        )
    }
}

/// A table of detections, each linking to its page.
fn detections_table(list: &[&Value], states: &BTreeMap<Target, TriageState>, lang: Lang) -> String {
    let heads = [
        tr!(lang, "Heure", "Time"),
        tr!(lang, "Niveau", "Level"),
        tr!(lang, "Règle", "Rule"),
        tr!(lang, "Machine", "Host"),
        tr!(lang, "Statut", "Status"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("detections", &heads);
    for d in list {
        let id = d["id"].as_str().unwrap_or_default();
        let title = d["rule_title"].as_str().unwrap_or_default();
        let mut link = if d["kind"] == "correlation" {
            escape(title)
        } else {
            format!(
                "<a href=\"{}\">{}</a>",
                escape(&ui::with_lang(&format!("/detections/{id}"), lang)),
                escape(title)
            )
        };
        if d["retrohunt"].is_string() {
            let _ = write!(
                link,
                " <span class=\"small retrohunt\">({})</span>",
                tr!(lang, "recherche rétrospective", "retro-hunt")
            );
        }
        t.row(
            "detection",
            &[
                ui::time(d["time"].as_str()),
                ui::level(lang, d["level"].as_str()),
                link,
                escape(d["computer"].as_str().unwrap_or("—")),
                ui::status(lang, status_of(states, TargetKind::Detection, id)),
            ],
        );
    }
    t.html()
}

/// `GET /incidents/{id}`: one incident.
pub(crate) async fn incident(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Reader { ref session, lang }: Reader,
    Path(id): Path<String>,
) -> Response {
    let path = ui::with_lang(&format!("/incidents/{id}"), lang);
    let title = format!("{} {id}", tr!(lang, "Incident", "Incident"));
    let a = match answer_or_page(&s, &tenant, session, lang, &path, &title).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let i = match crate::merged::where_is(&a, &id) {
        crate::merged::Where::Live(i) => i,
        // Merged: what it became, its own triage kept readable.
        merged @ crate::merged::Where::Merged { .. } => {
            let states = match triage_states(&s, &tenant).await {
                Ok(t) => t,
                Err(r) => return r,
            };
            let state = states.get(&crate::merged::target(&id));
            return crate::merged::page(session, lang, &path, &id, &merged, state);
        }
        crate::merged::Where::Unknown => {
            return error(
                StatusCode::NOT_FOUND,
                &vigie_lang::tr!(
                    lang,
                    "Aucun incident {} dans le périmètre en direct : cet identifiant n'a jamais été attribué, ou ses événements ont pu être retirés du journal par la rétention (pris en compte au redémarrage).",
                    "No incident {} in the live scope: this id was never assigned, or its events may have been removed from the log by retention (taken into account at a restart).",
                    id
                ),
            )
        }
    };
    let inc = &a.scope.incidents[i];
    let all = match stored(&s, &tenant).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mine: Vec<&Value> = all.iter().filter(|d| in_incident(d, inc)).collect();
    let rows: Vec<vigie_report::DetectionRow> = mine.iter().map(|d| detection_row(d)).collect();
    let states = match triage_states(&s, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let state = states.get(&target(TargetKind::Incident, &id));
    let sub = incident_scope(&a.scope, i);
    let shown = most_severe(&mine, TABLE_ROWS);

    let mut body = String::new();
    // What it is, and what to do now for its hosts and accounts.
    let _ = write!(
        body,
        "<section class=\"card\" id=\"incident\"><h2>{}</h2><p><strong>{}</strong></p><dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} → {}</dd><dt>{}</dt><dd>{}</dd>",
        tr!(lang, "Ce qui s'est passé", "What happened"),
        escape(&inc.summary),
        tr!(lang, "Gravité", "Severity"),
        ui::level(lang, serde_json::to_value(inc.severity).ok().as_ref().and_then(Value::as_str)),
        tr!(lang, "Période", "Period"),
        ui::time_of(inc.first),
        ui::time_of(inc.last),
        tr!(lang, "Statut", "Status"),
        ui::status(lang, state.map_or("new", |s| s.status.key())),
    );
    if let Some(e) = &inc.entry_point {
        let _ = write!(
            body,
            "<dt>{}</dt><dd>{}</dd>",
            tr!(lang, "Entrée", "Entry"),
            escape(&e.description)
        );
    }
    let reached: Vec<&str> = inc.hosts.iter().map(|h| h.name.as_str()).collect();
    let _ = write!(
        body,
        "<dt>{}</dt><dd>{}</dd></dl>",
        tr!(lang, "Ce qui est atteint", "What is reached"),
        escape(&reached.join(", "))
    );
    let actions: Vec<&vigie_scope::Action> = a
        .scope
        .containment
        .iter()
        .filter(|c| {
            reached.iter().any(|h| c.target.eq_ignore_ascii_case(h))
                || inc
                    .accounts
                    .iter()
                    .any(|x| c.target.eq_ignore_ascii_case(&x.name))
                || inc.addresses.contains(&c.target)
        })
        .collect();
    if !actions.is_empty() {
        let _ = write!(
            body,
            "<h3>{}</h3><ol>",
            tr!(lang, "Que faire maintenant", "What to do now")
        );
        for c in actions.iter().take(20) {
            let _ = write!(
                body,
                "<li><strong>{}</strong> — {}</li>",
                escape(&c.target),
                escape(&c.reason)
            );
        }
        body.push_str("</ol>");
    }
    body.push_str("</section>");
    body.push_str(&vigie_report::render_sections(
        &sub,
        &rows,
        &report_options(lang),
        &[
            "progression",
            "timeline",
            "graph",
            "hosts",
            "accounts",
            "services",
        ],
    ));
    let _ = write!(
        body,
        "<section class=\"card\" id=\"incident-detections\"><h2>{}</h2><p class=\"intro\">{}</p>{}</section>",
        tr!(lang, "Détections de l'incident", "The incident's detections"),
        escape(&shown_note(lang, shown.len(), mine.len())),
        detections_table(&shown, &states, lang)
    );
    body.push_str(&triage_card(
        lang, session, &tenant, "incident", &id, state, &path,
    ));
    ui::frame(session, lang, &path, &title, &body, None)
}

/// The history of a target's triage, oldest first.
/// The triage card of a detection or incident: its history and the form.
pub(super) fn triage_card(
    lang: Lang,
    session: &Session,
    tenant: &str,
    kind: &str,
    id: &str,
    state: Option<&TriageState>,
    path: &str,
) -> String {
    format!(
        "<section class=\"card\" id=\"triage-card\"><h2>{}</h2>{}{}</section>",
        tr!(lang, "Triage", "Triage"),
        history_html(state, lang),
        ui::triage_form(
            lang,
            session,
            tenant,
            kind,
            id,
            state.map_or("new", |s| s.status.key()),
            state.and_then(|s| s.assignee.as_deref()),
            path
        )
    )
}

pub(crate) fn history_html(state: Option<&TriageState>, lang: Lang) -> String {
    let Some(state) = state else {
        return format!(
            "<p class=\"empty\">{}</p>",
            tr!(lang, "Pas encore trié.", "Not triaged yet.")
        );
    };
    let mut out = String::from("<ol class=\"history\" id=\"history\">");
    for e in &state.history {
        let what = match &e.change {
            vigie_store::triage::Change::Status { status } => format!(
                "{} {}",
                tr!(lang, "statut :", "status:"),
                ui::status(lang, status.key())
            ),
            vigie_store::triage::Change::Assign { assignee } => format!(
                "{} {}",
                tr!(lang, "attribué à", "assigned to"),
                escape(assignee.as_deref().unwrap_or("—"))
            ),
            vigie_store::triage::Change::Comment { text } => {
                format!("« {} »", escape(text))
            }
        };
        let _ = write!(
            out,
            "<li>{} — <strong>{}</strong> — {what}</li>",
            ui::time(Some(&e.time)),
            escape(&e.who)
        );
    }
    out.push_str("</ol>");
    out
}
