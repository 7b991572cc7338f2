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
    let opens = open_counts(&s, &picker.communes).await;
    for (name, open) in picker.communes.iter().zip(opens) {
        let events = s.live.events(name);
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
                    Open::Count(n) => n.to_string(),
                    // Not analysed yet (nothing received, or the scope
                    // being rebuilt): no count is not zero.
                    Open::NotYet => "—".to_string(),
                    // Its triage could not be read: said for this
                    // commune, the others' counts still shown.
                    Open::Unavailable => format!(
                        "<span class=\"unavailable\">{}</span>",
                        tr!(lang, "indisponible", "unavailable")
                    ),
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
            "Choisissez une commune : les pages de la console montrent ensuite la sienne, jusqu'à un autre choix. « — » : rien d'analysé pour l'instant (ce n'est pas une absence d'incident). « indisponible » : ses incidents n'ont pas pu être lus à l'instant (la base ne répond pas) ; rechargez la page.",
            "Choose a commune: the console's pages then show its own, until another choice. “—”: nothing analysed yet (which is not the absence of incidents). “unavailable”: its incidents could not be read just now (the database does not answer); reload the page."
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

/// How many communes' triage the landing page reads at once. One after
/// another, 50 communes were 50 round trips to PostgreSQL in a row; all
/// at once, a CSIRT of 200 would take 200 of the pool's connections for
/// one page. Eight keeps the page's time near that of the slowest few
/// without starving the other requests of connections.
const READS_AT_ONCE: usize = 8;

/// How long one commune's triage may take before it is said
/// unavailable: a commune whose read hangs does not hold the page.
const READ_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// A commune's open incidents, as the landing page says them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// Not resolved nor false positives, as of its last analysis.
    Count(usize),
    /// Not analysed yet: no count, which is not zero.
    NotYet,
    /// Its triage could not be read (the store failed or was too slow).
    Unavailable,
}

/// The open incidents of each of `communes`, in their order, read
/// [`READS_AT_ONCE`] at a time; one that fails is [`Open::Unavailable`]
/// for that commune only.
async fn open_counts(s: &Shared, communes: &[String]) -> Vec<Open> {
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(READS_AT_ONCE));
    let mut reads = tokio::task::JoinSet::new();
    for (i, name) in communes.iter().enumerate() {
        let (s, gate, name) = (s.clone(), gate.clone(), name.clone());
        reads.spawn(async move {
            let Ok(_turn) = gate.acquire_owned().await else {
                return (i, Open::Unavailable);
            };
            let open = match tokio::time::timeout(READ_BOUND, open_incidents(&s, &name)).await {
                Ok(open) => open,
                Err(_) => {
                    eprintln!(
                        "vigie serve: landing page: the triage of {name} not read within {}s: said unavailable",
                        READ_BOUND.as_secs()
                    );
                    Open::Unavailable
                }
            };
            (i, open)
        });
    }
    // A read that never answers (its task failed) stays unavailable.
    let mut out = vec![Open::Unavailable; communes.len()];
    while let Some(done) = reads.join_next().await {
        match done {
            Ok((i, open)) => out[i] = open,
            Err(e) => eprintln!("vigie serve: landing page: a commune's read failed: {e}"),
        }
    }
    out
}

/// The incidents of `tenant` not resolved nor false positives, as of its
/// last analysis.
async fn open_incidents(s: &Shared, tenant: &str) -> Open {
    let Some((_, a)) = s.live.last_answer(tenant) else {
        return Open::NotYet;
    };
    let states = match s.triage.entries(tenant).await {
        Ok(entries) => vigie_store::triage::fold(&entries),
        Err(e) => {
            eprintln!("vigie serve: landing page: the triage of {tenant} unreadable: {e}");
            return Open::Unavailable;
        }
    };
    Open::Count(
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
