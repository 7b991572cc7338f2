//! The console of a CSIRT's analyst reading several communes: the
//! commune selector's choice ([`choose`], kept in a cookie) and the
//! deployment's landing page ([`landing`]): every commune the analyst
//! reads with its figures — events received, open incidents, last event —
//! rather than the `default` tenant's page, which on a regional node
//! receives nothing and would say "no event received" for the region.
//!
//! What may be read is decided by [`crate::Caller`] from the account at
//! every request; the choice is only which of those communes the pages
//! show, so a cookie naming another commune changes nothing.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigie_console::pages::{self as ui, Table, CHOOSE_PATH, LANDING_PATH};
use vigie_console::sessions::ABSOLUTE_SECONDS;
use vigie_console::web::COMMUNE_COOKIE;
use vigie_lang::tr;
use vigie_report::html::escape;
use vigie_store::triage::TargetKind;

use crate::http::Query;
use crate::pages::Reader;
use crate::{error, Caller, Shared};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChoiceQuery {
    tenant: Option<String>,
    next: Option<String>,
}

/// Where a page asked with no commune chosen sends the session: the
/// landing page, which comes back to `next` once a commune is chosen.
pub(crate) fn to_landing(next: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("{LANDING_PATH}?next={next}"))],
    )
        .into_response()
}

/// A page of this console to come back to: a path of this server only
/// (`/…`, not `//host` nor `/\host`, which browsers take as another
/// host), else the incidents.
fn local(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/incidents",
    }
}

/// A commune named in the query that the caller may not read: 403, as
/// every route answers for another's commune.
fn refused(caller: &Caller, asked: Option<&str>) -> Option<Response> {
    let t = asked.filter(|t| !t.is_empty())?;
    caller.reads(Some(t)).err().map(|r| *r)
}

/// `GET /communes/choose?tenant=NAME&next=PATH`: keeps the choice (a
/// cookie of the session's length) and goes back to `next`; an empty
/// `tenant` forgets it (the landing page). A commune the caller may not
/// read is refused (403), and an account of one commune has nothing to
/// choose (403).
pub(crate) async fn choose(
    axum::Extension(caller): axum::Extension<Caller>,
    Reader { session, .. }: Reader,
    Query(q): Query<ChoiceQuery>,
) -> Response {
    if let Some(r) = refused(&caller, q.tenant.as_deref()) {
        return r;
    }
    if !caller.several() || session.picker.is_none() {
        return error(
            StatusCode::FORBIDDEN,
            "an account of one commune reads that commune: there is nothing to choose",
        );
    }
    let (cookie, to) = match q.tenant.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => (
            format!(
                "{COMMUNE_COOKIE}={t}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={ABSOLUTE_SECONDS}"
            ),
            local(q.next.as_deref()).to_string(),
        ),
        None => (
            format!("{COMMUNE_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"),
            LANDING_PATH.to_string(),
        ),
    };
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /communes`: each commune the session reads, with its events
/// received, its open incidents and its last event, each a link that
/// chooses it. An account of one commune is sent to its incidents.
pub(crate) async fn landing(
    State(s): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    Reader { session, lang }: Reader,
    Query(q): Query<ChoiceQuery>,
) -> Response {
    if let Some(r) = refused(&caller, q.tenant.as_deref()) {
        return r;
    }
    let Some(picker) = session.picker.clone() else {
        return (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, ui::with_lang("/incidents", lang))],
        )
            .into_response();
    };
    let next = local(q.next.as_deref()).to_string();
    let heads = [
        tr!(lang, "Commune", "Commune"),
        tr!(lang, "Événements reçus", "Events received"),
        tr!(lang, "Incidents ouverts", "Open incidents"),
        tr!(lang, "Dernier événement reçu", "Last event received"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("communes", &heads);
    let now = chrono::Utc::now().timestamp_micros();
    for name in &picker.communes {
        let events = s.live.events(name);
        let open = open_incidents(&s, name).await;
        let last = s
            .health
            .of(name, now)
            .senders
            .iter()
            .map(|x| x.last_received.clone())
            .max();
        let link = format!(
            "{CHOOSE_PATH}?tenant={}&next={}",
            enc(name),
            enc(&ui::with_lang(&next, lang))
        );
        t.row(
            "commune",
            &[
                format!(
                    "<a href=\"{}\" data-tenant=\"{n}\">{n}</a>",
                    escape(&link),
                    n = escape(name)
                ),
                if events == 0 {
                    tr!(lang, "aucun reçu", "none received")
                } else {
                    events.to_string()
                },
                match open {
                    Some(n) => n.to_string(),
                    // Not analysed yet (nothing received, or the scope
                    // being rebuilt): no count is not zero.
                    None => "—".to_string(),
                },
                ui::time(last.as_deref()),
            ],
        );
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"intro\">{}</p>",
        escape(&tr!(
            lang,
            "Choisissez une commune : les pages de la console montrent ensuite la sienne, jusqu'à un autre choix. « — » : rien d'analysé pour l'instant (ce n'est pas une absence d'incident).",
            "Choose a commune: the console's pages then show its own, until another choice. “—”: nothing analysed yet (which is not the absence of incidents)."
        ))
    );
    if picker.communes.is_empty() {
        let _ = write!(
            body,
            "<p class=\"note\" role=\"status\" id=\"no-commune\">{}</p>",
            tr!(
                lang,
                "Aucune commune n'a encore envoyé d'événement.",
                "No commune has sent an event yet."
            )
        );
    } else {
        body.push_str(&t.html());
    }
    // The selector of this page goes back to `next` once a commune is
    // chosen.
    let path = ui::with_lang(&format!("{LANDING_PATH}?next={}", enc(&next)), lang);
    let title = tr!(lang, "Communes", "Communes");
    ui::frame(&session, lang, &path, &title, &body, None)
}

/// The incidents of `tenant` not resolved nor false positives, as of its
/// last analysis; `None` before its first one.
async fn open_incidents(s: &Shared, tenant: &str) -> Option<usize> {
    let (_, a) = s.live.last_answer(tenant)?;
    let states = crate::pages::triage_states(s, tenant).await;
    Some(
        a.live_ids
            .iter()
            .filter(|id| {
                matches!(
                    crate::pages::status_of(&states, TargetKind::Incident, id),
                    "new" | "acknowledged"
                )
            })
            .count(),
    )
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::local;

    #[test]
    fn only_a_page_of_this_server_is_come_back_to() {
        assert_eq!(local(Some("/incidents/x?lang=en")), "/incidents/x?lang=en");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "",
        ] {
            assert_eq!(local(Some(bad)), "/incidents", "{bad:?}");
        }
        assert_eq!(local(None), "/incidents");
    }
}
