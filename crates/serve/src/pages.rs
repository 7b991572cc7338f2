//! The console's pages of the live incident: the incidents (the answer
//! at the top, as in the report), one incident (its progression,
//! timeline, hosts, accounts, services, detections), one detection (the
//! raw event read back from the event log by its position, the matched
//! fields), and the false-positive filters.
//!
//! Built here from the live scope, the detection store and the event
//! log; framed and worded by `vigie_console::pages` and the report's own
//! sections (`vigie_report::render_sections`), French by default, times
//! in Europe/Paris with UTC on hover.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use crate::http::Query;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use vigie_console::pages::{self as ui, Table};
use vigie_console::{Principal, Session};
use vigie_lang::{glossary, tr, Lang};
use vigie_report::html::escape;
use vigie_scope::Scope;
use vigie_store::triage::{fold, State as TriageState, Target, TargetKind};

use crate::{error, ReadTenant, Shared};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    pub(crate) lang: Option<String>,
}

/// A person signed in reading a page, in the language asked for (`?lang=`,
/// else the browser's): what every page of the console starts from. Pages
/// are for sessions; a token reads the API (400). Taken after
/// [`ReadTenant`] in a handler's arguments: a tenant that may not be read
/// is refused (403) before anything else is said.
pub(crate) struct Reader {
    pub(crate) session: Session,
    pub(crate) lang: Lang,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Reader {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Response> {
        let session = match parts.extensions.get::<Principal>() {
            Some(Principal::Person { session, .. }) => session.clone(),
            Some(Principal::Token { .. }) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "the console's pages are for people signed in; a token reads /api/v1/…",
                ))
            }
            None => return Err(error(StatusCode::UNAUTHORIZED, "a session is needed")),
        };
        let asked = axum::extract::Query::<PageQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.lang);
        Ok(Reader {
            lang: vigie_console::web::lang_of(asked.as_deref(), &parts.headers),
            session,
        })
    }
}

/// The stored detections of `tenant` (the latest 10,000), parsed.
pub(crate) async fn stored(s: &Shared, tenant: &str) -> Result<Vec<Value>, Response> {
    match s.detections.latest(tenant, 10_000).await {
        Ok(docs) => Ok(docs
            .iter()
            .filter_map(|d| serde_json::from_slice(d).ok())
            .collect()),
        Err(e) => Err(crate::unavailable(&format!(
            "detections unreadable now: {e}"
        ))),
    }
}

/// Where each detection and incident of `tenant` stands now.
///
/// Unreadable: 503, never every target shown "new" (a technician would
/// take an incident someone is handling for one nobody looked at).
pub(crate) async fn triage_states(
    s: &Shared,
    tenant: &str,
) -> Result<BTreeMap<Target, TriageState>, Response> {
    match s.triage.entries(tenant).await {
        Ok(entries) => Ok(fold(&entries)),
        Err(e) => {
            eprintln!("vigie serve: triage unreadable: {e}");
            Err(crate::unavailable(
                "the triage cannot be read now: retry in a moment",
            ))
        }
    }
}

fn target(kind: TargetKind, id: &str) -> Target {
    Target {
        kind,
        id: id.to_string(),
    }
}

pub(crate) fn status_of(
    states: &BTreeMap<Target, TriageState>,
    kind: TargetKind,
    id: &str,
) -> &'static str {
    states
        .get(&target(kind, id))
        .map_or("new", |s| s.status.key())
}

/// The report's options for the console: its language, Paris times.
fn report_options(lang: Lang) -> vigie_report::Options {
    vigie_report::Options {
        lang,
        zone: ui::zone(),
        ..Default::default()
    }
}

/// The short upper-case host name the scope uses (`SRV-RDS01`) of a
/// computer name as logged (`SRV-RDS01.ccpab.local`).
fn short_host(computer: &str) -> String {
    computer
        .split('.')
        .next()
        .unwrap_or(computer)
        .to_uppercase()
}

/// The live scope's answer, or the page that says why there is none
/// (rebuilding, nothing received: never "no attack").
async fn answer_or_page(
    s: &Shared,
    tenant: &str,
    session: &Session,
    lang: Lang,
    path: &str,
    title: &str,
) -> Result<crate::live::Answer, Response> {
    let why = if !s.live.rebuilt.load(std::sync::atomic::Ordering::Acquire) {
        tr!(
            lang,
            "La portée est en cours de reconstruction à partir des événements conservés (après un démarrage) : rechargez dans un instant.",
            "The scope is being rebuilt from the stored events (after a start): reload in a moment."
        )
    } else {
        let live = s.live.clone();
        let t = tenant.to_string();
        let a = tokio::task::spawn_blocking(move || live.answer(&t))
            .await
            .ok()
            .flatten();
        match a {
            Some(a) => return Ok(a),
            // The ids' store out of reach: said, never "nothing received"
            // (the store's error is the server's log's, not the page's).
            None if s.live.naming_failed_for(tenant) => {
                let why = tr!(
                    lang,
                    "Les identifiants des incidents ne peuvent pas être lus pour l'instant : aucun incident n'est nommé tant qu'ils ne le peuvent pas. Rechargez dans un instant.",
                    "The incidents' live ids cannot be read now: no incident is named until they can. Reload in a moment."
                );
                let mut page = ui::frame(
                    session,
                    lang,
                    path,
                    title,
                    &format!(
                        "<p class=\"note\" role=\"status\" id=\"no-scope\">{}</p>",
                        escape(&why)
                    ),
                    None,
                );
                *page.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                return Err(page);
            }
            None => tr!(
                lang,
                "Aucun événement reçu pour l'instant : rien n'a pu être analysé (ce n'est pas une absence d'attaque). Vérifiez que les sources envoient leurs journaux.",
                "No event received yet: nothing could be analysed (which is not the absence of an attack). Check that the sources send their logs."
            ),
        }
    };
    Err(ui::frame(
        session,
        lang,
        path,
        title,
        &format!(
            "<p class=\"note\" role=\"status\" id=\"no-scope\">{}</p>",
            escape(&why)
        ),
        None,
    ))
}

/// `GET /incidents`: the answer at the top, then every incident.
pub(crate) async fn incidents(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Reader { ref session, lang }: Reader,
) -> Response {
    let path = ui::with_lang("/incidents", lang);
    let title = tr!(lang, "Incidents", "Incidents");
    let a = match answer_or_page(&s, &tenant, session, lang, &path, &title).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let states = match triage_states(&s, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let mut body = vigie_report::render_sections(&a.scope, &[], &report_options(lang), &["answer"]);
    body.push_str(&incidents_table(&a, &states, lang));
    ui::frame(
        session,
        lang,
        &path,
        &title,
        &body,
        Some(&live_script(lang)),
    )
}

/// The incidents as a table (also what the live updates replace).
fn incidents_table(
    a: &crate::live::Answer,
    states: &BTreeMap<Target, TriageState>,
    lang: Lang,
) -> String {
    let heads = [
        tr!(lang, "Incident", "Incident"),
        tr!(lang, "Gravité", "Severity"),
        tr!(lang, "Nature", "Nature"),
        tr!(lang, "Début", "Start"),
        tr!(lang, "Dernière activité", "Last activity"),
        tr!(lang, "Machines", "Hosts"),
        tr!(lang, "Comptes", "Accounts"),
        tr!(lang, "Détections", "Detections"),
        tr!(lang, "Statut", "Status"),
        tr!(lang, "Attribué à", "Assigned to"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("incidents", &heads);
    for (inc, id) in a.scope.incidents.iter().zip(a.live_ids.iter()) {
        let state = states.get(&target(TargetKind::Incident, id));
        let natures: Vec<String> = inc
            .nature
            .iter()
            .map(|n| {
                let key = serde_json::to_value(n)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                glossary::term(lang, &key).to_string()
            })
            .collect();
        let level = serde_json::to_value(inc.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        t.row(
            "incident",
            &[
                format!(
                    "<a href=\"{}\">{}</a><br><span class=\"small\">{}</span>",
                    escape(&ui::with_lang(&format!("/incidents/{id}"), lang)),
                    escape(id),
                    escape(&inc.summary)
                ),
                ui::level(lang, level.as_deref()),
                escape(&natures.join(", ")),
                ui::time_of(inc.first),
                ui::time_of(inc.last),
                inc.hosts.len().to_string(),
                inc.accounts.len().to_string(),
                inc.detections.to_string(),
                ui::status(lang, state.map_or("new", |s| s.status.key())),
                escape(state.and_then(|s| s.assignee.as_deref()).unwrap_or("—")),
            ],
        );
    }
    if a.scope.incidents.is_empty() {
        return format!(
            "<section class=\"card\" id=\"incidents-card\"><h2>{}</h2><p class=\"empty\">{}</p></section>",
            tr!(lang, "Incidents", "Incidents"),
            tr!(lang, "Aucun incident dans les événements reçus (voir la couverture des journaux avant d'en conclure quoi que ce soit).", "No incident in the events received (see the logs' coverage before concluding anything).")
        );
    }
    format!(
        "<section class=\"card\" id=\"incidents-card\"><h2>{}</h2><p class=\"intro\" id=\"incidents-as-of\">{}</p>{}</section>",
        tr!(lang, "Incidents", "Incidents"),
        escape(&tr!(lang, "{} incident(s), le plus grave en premier.", "{} incident(s), the most severe first.", a.scope.incidents.len())),
        t.html()
    )
}

/// The live updates of the incidents page: polls the table with its
/// ETag every 10 s, replaces it when it changed (no reload).
fn live_script(lang: Lang) -> String {
    format!(
        "(() => {{
  let etag = null;
  const path = '/incidents/table' + location.search;
  async function poll() {{
    try {{
      const r = await fetch(path, {{credentials: 'same-origin', headers: etag ? {{'If-None-Match': etag}} : {{}}}});
      if (r.status === 200) {{
        const fresh = r.headers.get('ETag');
        if (etag !== null && fresh !== etag) {{
          const html = await r.text();
          const card = document.getElementById('incidents-card');
          if (card) {{ card.outerHTML = html; document.getElementById('live').textContent = {updated}; }}
        }}
        etag = fresh;
      }}
    }} catch (e) {{}}
  }}
  const note = document.createElement('p');
  note.id = 'live'; note.className = 'small'; note.setAttribute('role', 'status');
  note.textContent = {watching};
  document.getElementById('main').appendChild(note);
  poll();
  setInterval(poll, 10000);
}})();",
        updated = serde_json::to_string(&tr!(lang, "Mis à jour à l'instant.", "Updated just now.")).unwrap_or_default(),
        watching = serde_json::to_string(&tr!(lang, "Cette page se met à jour d'elle-même.", "This page updates itself.")).unwrap_or_default(),
    )
}

/// `GET /incidents/table`: the incidents' table alone, with an ETag of
/// its content (304 when unchanged): what the page polls.
pub(crate) async fn incidents_fragment(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = vigie_console::web::lang_of(q.lang.as_deref(), &headers);
    if !s.live.rebuilt.load(std::sync::atomic::Ordering::Acquire) {
        return crate::unavailable("the live scope is being rebuilt");
    }
    let live = s.live.clone();
    let t = tenant.clone();
    let Some(a) = tokio::task::spawn_blocking(move || live.answer(&t))
        .await
        .ok()
        .flatten()
    else {
        if let Some(r) = crate::naming_unavailable(&s, &tenant) {
            return r;
        }
        return error(StatusCode::NOT_FOUND, "no event received yet");
    };
    let states = match triage_states(&s, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let html = incidents_table(&a, &states, lang);
    let etag = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(html.as_bytes());
        format!("\"{}\"", &hex(&d)[..32])
    };
    let unchanged = headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let mut r = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response()
    };
    let h = r.headers_mut();
    h.insert(axum::http::header::ETAG, etag.parse().expect("hex"));
    h.insert(
        axum::http::header::CACHE_CONTROL,
        "no-cache".parse().expect("header"),
    );
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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
fn most_severe<'a>(list: &[&'a Value], max: usize) -> Vec<&'a Value> {
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
                &format!("no incident {id} in the live scope"),
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
fn triage_card(
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

/// The stored detection `id` of `tenant`.
pub(crate) async fn find_detection(
    s: &Shared,
    tenant: &str,
    id: &str,
) -> Result<Option<Value>, Response> {
    match s.detections.get(tenant, id).await {
        Ok(Some(d)) => Ok(serde_json::from_slice(&d).ok()),
        // A correlation is computed by the live scope, not stored.
        Ok(None) => Ok(crate::api::live_correlation(s, tenant, id).await),
        Err(e) => Err(crate::unavailable(&format!(
            "detections unreadable now: {e}"
        ))),
    }
}

/// The raw event of a detection read back from the event log by its
/// position: `(text, read back)`; the stored copy when the log no longer
/// holds it (said on the page).
pub(crate) async fn raw_event(s: &Shared, d: &Value) -> (String, bool) {
    if let Some(p) = d["position"].as_u64() {
        if let Ok(Some(delivery)) = s.log.read_at(vigie_store::Position(p)).await {
            // The same tenant, source and time of receipt: a log made
            // again (a stream recreated, its sequences from 1) must not
            // show another event as this detection's evidence.
            let received = chrono::DateTime::from_timestamp_micros(delivery.received)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
            let same = delivery.tenant == d["tenant"].as_str().unwrap_or_default()
                && delivery.source == d["source"].as_str().unwrap_or_default()
                && d["received"]
                    .as_str()
                    .is_none_or(|r| received.as_deref() == Some(r));
            if same {
                let text = match serde_json::from_slice::<Value>(&delivery.event) {
                    Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
                    Err(_) => String::from_utf8_lossy(&delivery.event).into_owned(),
                };
                return (text, true);
            }
        }
    }
    (
        serde_json::to_string_pretty(&d["event"]).unwrap_or_default(),
        false,
    )
}

/// `GET /detections/{id}`: one detection, its raw event, why it matched.
pub(crate) async fn detection(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Reader { ref session, lang }: Reader,
    Path(id): Path<String>,
) -> Response {
    let path = ui::with_lang(&format!("/detections/{id}"), lang);
    let d = match find_detection(&s, &tenant, &id).await {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no detection {id}")),
        Err(r) => return r,
    };
    let (raw, from_log) = raw_event(&s, &d).await;
    let states = match triage_states(&s, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let state = states.get(&target(TargetKind::Detection, &id));
    let title = d["rule_title"].as_str().unwrap_or("—").to_string();
    let mut body = String::new();
    let fact = |body: &mut String, k: String, v: String| {
        let _ = write!(body, "<dt>{k}</dt><dd>{v}</dd>");
    };
    body.push_str("<section class=\"card\" id=\"detection\"><dl class=\"facts\">");
    fact(
        &mut body,
        tr!(lang, "Niveau", "Level"),
        ui::level(lang, d["level"].as_str()),
    );
    fact(
        &mut body,
        tr!(lang, "Heure de l'événement", "Event time"),
        ui::time(d["time"].as_str()),
    );
    fact(
        &mut body,
        tr!(lang, "Machine", "Host"),
        escape(d["computer"].as_str().unwrap_or("—")),
    );
    fact(
        &mut body,
        tr!(lang, "Journal", "Channel"),
        escape(d["channel"].as_str().unwrap_or("—")),
    );
    fact(
        &mut body,
        tr!(lang, "Événement (ID, enregistrement)", "Event (ID, record)"),
        format!(
            "{} · {}",
            d["event_id"].as_u64().map_or("—".into(), |v| v.to_string()),
            d["record_id"]
                .as_u64()
                .map_or("—".into(), |v| v.to_string())
        ),
    );
    fact(
        &mut body,
        tr!(lang, "Règle", "Rule"),
        format!(
            "{} <code>{}</code>",
            escape(&title),
            escape(d["rule_id"].as_str().unwrap_or(""))
        ),
    );
    if let Some(run) = d["retrohunt"].as_str() {
        // Found later, over stored events, by indicators that arrived
        // after them: said, so that nobody reads it as a live alert.
        fact(
            &mut body,
            tr!(lang, "Trouvée par", "Found by"),
            format!(
                "<span id=\"retrohunt\">{} <code>{}</code></span>",
                tr!(
                    lang,
                    "une recherche rétrospective (indicateurs arrivés après l'événement)",
                    "a retro-hunt (indicators that arrived after the event)"
                ),
                escape(run)
            ),
        );
    }
    let tags: Vec<&str> = d["tags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    fact(
        &mut body,
        tr!(lang, "Étiquettes", "Tags"),
        escape(&tags.join(", ")),
    );
    fact(
        &mut body,
        tr!(
            lang,
            "Source, position dans le journal des événements",
            "Source, position in the event log"
        ),
        format!(
            "{} · <code id=\"position\">{}</code>",
            escape(d["source"].as_str().unwrap_or("—")),
            d["position"].as_u64().map_or("—".into(), |v| v.to_string())
        ),
    );
    fact(
        &mut body,
        tr!(lang, "Reçu", "Received"),
        ui::time(d["received"].as_str()),
    );
    fact(
        &mut body,
        tr!(lang, "Détecté", "Detected"),
        ui::time(d["detected"].as_str()),
    );
    fact(
        &mut body,
        tr!(lang, "Statut", "Status"),
        ui::status(lang, state.map_or("new", |s| s.status.key())),
    );
    body.push_str("</dl></section>");

    // Why it matched.
    let matched = d["matched"].as_array().cloned().unwrap_or_default();
    let heads = [
        tr!(lang, "Sélection", "Selection"),
        tr!(lang, "Champ", "Field"),
        tr!(lang, "Valeur", "Value"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("matched", &heads);
    for m in &matched {
        t.row(
            "matched",
            &[
                escape(m["selection"].as_str().unwrap_or("")),
                escape(
                    m["field"]
                        .as_str()
                        .unwrap_or(&tr!(lang, "(mot-clé)", "(keyword)")),
                ),
                format!(
                    "<mark class=\"matched\">{}</mark>",
                    escape(m["value"].as_str().unwrap_or(""))
                ),
            ],
        );
    }
    let _ = write!(
        body,
        "<section class=\"card\" id=\"why\"><h2>{}</h2>{}</section>",
        tr!(
            lang,
            "Champs qui ont déclenché la règle",
            "Fields that matched the rule"
        ),
        if matched.is_empty() {
            format!("<p class=\"empty\">{}</p>", tr!(lang, "Non enregistrés pour cette détection (indicateur, corrélation, ou détection antérieure à cette version).", "Not recorded for this detection (an indicator, a correlation, or a detection older than this version)."))
        } else {
            t.html()
        }
    );
    let _ = write!(
        body,
        "<section class=\"card\" id=\"raw\"><h2>{}</h2><p class=\"intro\">{}</p><pre class=\"raw\" id=\"raw-event\" tabindex=\"0\">{}</pre></section>",
        tr!(lang, "Événement brut", "Raw event"),
        if from_log {
            tr!(lang, "Relu dans le journal des événements à sa position, tel qu'il est arrivé.", "Read back from the event log at its position, as it arrived.")
        } else {
            tr!(lang, "Le journal des événements ne le contient plus (durée de conservation) : copie gardée avec la détection.", "The event log no longer holds it (retention): the copy kept with the detection.")
        },
        escape(&raw)
    );
    body.push_str(&triage_card(
        lang,
        session,
        &tenant,
        "detection",
        &id,
        state,
        &path,
    ));
    ui::frame(session, lang, &path, &title, &body, None)
}

/// `GET /api/v1/detections/{id}`: one detection with its raw event read
/// back from the log (`raw_event`, `raw_event_from_log`).
pub(crate) async fn detection_json(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Path(id): Path<String>,
) -> Response {
    let mut d = match find_detection(&s, &tenant, &id).await {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no detection {id}")),
        Err(r) => return r,
    };
    let (raw, from_log) = raw_event(&s, &d).await;
    d["raw_event"] = Value::String(raw);
    d["raw_event_from_log"] = Value::Bool(from_log);
    let states = match triage_states(&s, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    d["triage"] =
        serde_json::to_value(states.get(&target(TargetKind::Detection, &id))).unwrap_or_default();
    axum::Json(d).into_response()
}

/// `GET /filters`: the false-positive filters, each version, editable.
pub(crate) async fn filters(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Reader { ref session, lang }: Reader,
) -> Response {
    let path = ui::with_lang("/filters", lang);
    let title = tr!(lang, "Filtres de faux positifs", "False-positive filters");
    let list = match s.triage.filters().await {
        Ok(l) => l
            .into_iter()
            .filter(|f| f.tenant == tenant)
            .collect::<Vec<_>>(),
        Err(e) => return crate::unavailable(&format!("filters unreadable now: {e}")),
    };
    let can_edit = crate::triage::may_triage(session.role);
    let mut body = format!(
        "<p class=\"intro\">{}</p>",
        tr!(lang, "Chaque faux positif marqué crée un filtre Sigma (pySigma, rsigma) appliqué aux nouveaux événements dès son enregistrement. Chaque modification garde la version précédente.", "Each false positive marked makes a Sigma filter (pySigma, rsigma) applied to new events as soon as it is saved. Each edit keeps the previous version.")
    );
    if list.is_empty() {
        let _ = write!(
            body,
            "<p class=\"empty\">{}</p>",
            tr!(lang, "Aucun filtre.", "No filter.")
        );
    }
    for f in list.iter().rev() {
        let active = f.active();
        let _ = write!(
            body,
            "<section class=\"card filter\" id=\"filter-{id}\" data-filter=\"{id}\"><h2><code>{id}</code> {state}</h2>",
            id = escape(&f.id),
            state = if active.is_some() {
                format!("<span class=\"pill tone-green\">{}</span>", tr!(lang, "appliqué", "applied"))
            } else {
                format!("<span class=\"pill tone-grey\">{}</span>", tr!(lang, "retiré", "removed"))
            }
        );
        if let Some(r) = &f.removed {
            let _ = write!(
                body,
                "<p>{} {} — {}</p>",
                tr!(lang, "Retiré par", "Removed by"),
                escape(&r.who),
                ui::time(Some(&r.time))
            );
        }
        for v in f.versions.iter().rev() {
            let _ = write!(
                body,
                "<details{open}><summary>{} {} — {} — {}</summary><pre class=\"raw\">{}</pre></details>",
                tr!(lang, "Version", "Version"),
                v.version,
                escape(&v.who),
                ui::time(Some(&v.time)),
                escape(&v.yaml),
                open = if Some(v) == active { " open" } else { "" },
            );
        }
        if let (Some(v), true) = (active, can_edit) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/api/v1/filters/{id}{of}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{back}\"><label for=\"yaml-{id}\">{edit}</label><textarea class=\"yaml\" id=\"yaml-{id}\" name=\"yaml\" spellcheck=\"false\">{yaml}</textarea><div class=\"actions\"><button type=\"submit\">{save}</button></div></form><form method=\"post\" action=\"/api/v1/filters/{id}/remove{of}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{back}\"><div class=\"actions\"><button type=\"submit\" class=\"danger\">{remove}</button></div></form>",
                id = escape(&f.id),
                // The commune drawn for, never one chosen since.
                of = escape(&format!(
                    "?tenant={}",
                    form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>()
                )),
                csrf = session.csrf,
                back = escape(&path),
                edit = tr!(lang, "Modifier (nouvelle version)", "Edit (new version)"),
                yaml = escape(&v.yaml),
                save = tr!(lang, "Enregistrer la nouvelle version", "Save the new version"),
                remove = tr!(lang, "Retirer ce filtre", "Remove this filter"),
            );
        }
        body.push_str("</section>");
    }
    ui::frame(session, lang, &path, &title, &body, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_severe_are_kept_and_shown_in_time_order() {
        let d = |t: &str, l: &str| serde_json::json!({"time": t, "level": l});
        let all = [
            d("3", "low"),
            d("1", "high"),
            d("2", "critical"),
            d("0", "low"),
        ];
        let refs: Vec<&Value> = all.iter().collect();
        let kept = most_severe(&refs, 3);
        let times: Vec<&str> = kept.iter().map(|v| v["time"].as_str().unwrap()).collect();
        assert_eq!(times, ["0", "1", "2"]);
        assert_eq!(most_severe(&refs, 10).len(), 4);
    }

    #[test]
    fn host_names_as_the_scope_writes_them() {
        assert_eq!(short_host("srv-rds01.ccpab.local"), "SRV-RDS01");
        assert_eq!(short_host("DC01"), "DC01");
    }
}
