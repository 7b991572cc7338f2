//! The incidents page: the list of the tenant's incidents (the answer at
//! the top, as in the report), and the fragment its script reloads while
//! the technician watches it.
//!
//! Apart from one incident's page because it answers another question —
//! "what is going on?" rather than "what happened here?" — and is the
//! only page that refreshes itself.

use super::*;

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
    let answer = vigie_report::render_sections(&a.scope, &[], &report_options(lang), &["answer"]);
    // One name per incident: the live id its link and its alerts carry
    // (« voir INC-2 » beside a table of L2, L3 named another).
    let mut body = crate::alerts::live_named(&answer, &a.scope.incidents, &a.live_ids);
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
