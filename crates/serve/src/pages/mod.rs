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
//!
//! One file per page, by the question it answers: `list` (what is going
//! on?), `incident` (what happened here?), `detection` (what exactly was
//! seen?), `filters` (what is hidden, and why?). Kept here: what every
//! page starts from (the reader, the stored detections, their triage).

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

mod detection;
mod filters;
mod incident;
mod list;
pub(crate) use detection::detection;
pub(crate) use detection::detection_json;
pub(crate) use detection::find_detection;
pub(crate) use filters::filters;
pub(crate) use incident::incident;
#[cfg(test)]
use incident::most_severe;
use incident::triage_card;
pub(crate) use list::incidents;
pub(crate) use list::incidents_fragment;

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
pub(crate) async fn triage_states(s: &Shared, tenant: &str) -> BTreeMap<Target, TriageState> {
    match s.triage.entries(tenant).await {
        Ok(entries) => fold(&entries),
        Err(e) => {
            eprintln!("vigie serve: triage unreadable: {e}");
            BTreeMap::new()
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
