//! One incident by its live id — also once it was merged into another.
//!
//! Why a merged id still answers: a live id was given out (in an alert,
//! a ticket, yesterday's link in a technician's mail). When its incident
//! is merged into another (`merged-into:L1` among the ids kept, see
//! `live/naming.rs`) the id leaves the scope; answering "not found" would
//! leave the technician holding the link lost, or reassured. So the API
//! and the console say what it became: `merged_into` and the incident it
//! is part of now, and the console keeps the merged id's own triage
//! readable (who looked at it, what they wrote).
//!
//! Why a 200 that says so rather than a redirect (301/308): `curl -L`,
//! Python's `requests` and most HTTP clients follow a redirect silently,
//! and a script would then read L1's object believing it is L2's; a 200
//! whose body carries `merged_into` is read the same way by every client,
//! and a script that checks one key knows.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vigie_console::pages as ui;
use vigie_console::Session;
use vigie_lang::{tr, Lang};
use vigie_report::html::escape;
use vigie_store::triage::{State as TriageState, Target, TargetKind};

use crate::live::Answer;
use crate::{error, rebuilding, unavailable, ReadTenant, Shared};

/// Where a live id stands in an answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Where {
    /// An incident of the answer (its index).
    Live(usize),
    /// Merged: the ids it went through, the last one `into` — the id it
    /// is part of now — and that incident's index when the answer holds
    /// it.
    Merged {
        into: String,
        through: Vec<String>,
        at: Option<usize>,
    },
    /// Never given, or no longer in the scope (its events removed by
    /// retention).
    Unknown,
}

/// Where `id` stands in `a`: an incident of the scope, merged (followed
/// to the id it is part of now: L3 into L2, L2 into L1 gives L1), or
/// unknown.
pub(crate) fn where_is(a: &Answer, id: &str) -> Where {
    locate(&a.live_ids, &a.merged, id)
}

/// [`where_is`] on an answer's live ids and merges.
fn locate(live_ids: &[String], merged: &[(String, String)], id: &str) -> Where {
    if let Some(i) = live_ids.iter().position(|l| l == id) {
        return Where::Live(i);
    }
    let into_of = |x: &str| {
        merged
            .iter()
            .find(|(from, _)| from == x)
            .map(|(_, into)| into.clone())
    };
    let Some(mut into) = into_of(id) else {
        return Where::Unknown;
    };
    let mut through = Vec::new();
    // Each step retires an id into another; bounded by their number (a
    // cycle, which naming never makes, ends it too).
    for _ in 0..merged.len() {
        match into_of(&into) {
            Some(next) if next != id && !through.contains(&next) => {
                through.push(std::mem::replace(&mut into, next));
            }
            _ => break,
        }
    }
    let at = live_ids.iter().position(|l| *l == into);
    Where::Merged { into, through, at }
}

/// The ids merged into `id` (directly), for the incident's own answer.
fn merged_from(merged: &[(String, String)], id: &str) -> Vec<String> {
    merged
        .iter()
        .filter(|(_, into)| into == id)
        .map(|(from, _)| from.clone())
        .collect()
}

/// An incident of `a` as the API gives it: the scope's object with its
/// live id and the ids merged into it.
fn incident_json(a: &Answer, i: usize) -> Value {
    let id = &a.live_ids[i];
    let mut v = serde_json::to_value(&a.scope.incidents[i]).unwrap_or_default();
    v["live_id"] = json!(id);
    v["merged_into"] = Value::Null;
    v["merged_from"] = json!(merged_from(&a.merged, id));
    v
}

/// `GET /api/v1/incidents/{id}`: the incident; for a merged id, 200 with
/// `{"live_id": id, "merged_into": INTO, "merged_through": […],
/// "incident": INTO's object}`; 404 for an id the scope does not know.
pub(crate) async fn api(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = rebuilding(&s) {
        return r;
    }
    let live = s.live.clone();
    let t = tenant.clone();
    let answer = tokio::task::spawn_blocking(move || live.answer(&t))
        .await
        .ok()
        .flatten();
    let a = match answer {
        Some(a) => a,
        None if s.live.naming_failed_for(&tenant) => {
            return unavailable(crate::http::NAMING_UNAVAILABLE)
        }
        None => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("no event of tenant {tenant:?} received yet: no incident {id}"),
            )
        }
    };
    match where_is(&a, &id) {
        Where::Live(i) => Json(incident_json(&a, i)).into_response(),
        Where::Merged { into, through, at } => Json(json!({
            "live_id": id,
            "merged_into": into,
            "merged_through": through,
            "incident": at.map(|i| incident_json(&a, i)),
        }))
        .into_response(),
        Where::Unknown => error(
            StatusCode::NOT_FOUND,
            &format!("no incident {id} in the live scope of tenant {tenant:?}"),
        ),
    }
}

/// The console's page of a merged id: what it became, with the link, and
/// its own triage (read only: triage goes on on the incident it is part
/// of).
pub(crate) fn page(
    session: &Session,
    lang: Lang,
    path: &str,
    id: &str,
    merged: &Where,
    state: Option<&TriageState>,
) -> Response {
    let Where::Merged { into, through, at } = merged else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("incident {id} was not merged"),
        );
    };
    let present = at.is_some();
    let title = tr!(
        lang,
        "Incident {} fusionné dans {}",
        "Incident {} merged into {}",
        id,
        into
    );
    let link = escape(&ui::with_lang(&format!("/incidents/{into}"), lang));
    let mut body = format!(
        "<section class=\"card\" id=\"merged\"><h2>{}</h2><p role=\"status\"><strong>{}</strong> <a href=\"{link}\" id=\"merged-into\">{}</a></p>",
        escape(&title),
        escape(&tr!(
            lang,
            "Cet incident a été fusionné dans l'incident {} : ses détections, machines et comptes en font partie. Suivez {}.",
            "This incident was merged into incident {}: its detections, hosts and accounts are part of it. Follow {}.",
            into,
            into
        )),
        escape(&tr!(lang, "Aller à l'incident {}", "Go to incident {}", into)),
    );
    if !through.is_empty() {
        let _ = write!(
            body,
            "<p class=\"small\">{}</p>",
            escape(&tr!(
                lang,
                "Par les fusions successives : {} → {} → {}.",
                "Through successive merges: {} → {} → {}.",
                id,
                through.join(" → "),
                into
            ))
        );
    }
    if !present {
        let _ = write!(
            body,
            "<p class=\"note\">{}</p>",
            escape(&tr!(
                lang,
                "L'incident {} n'est plus dans le périmètre en direct (ses événements ont pu être retirés par la rétention).",
                "Incident {} is no longer in the live scope (its events may have been removed by retention).",
                into
            ))
        );
    }
    body.push_str("</section>");
    let _ = write!(
        body,
        "<section class=\"card\" id=\"triage-card\"><h2>{}</h2><p class=\"intro\">{}</p>{}</section>",
        escape(&tr!(lang, "Triage de {} (avant la fusion)", "Triage of {} (before the merge)", id)),
        escape(&tr!(
            lang,
            "Conservé et lisible ; le triage se poursuit sur {}.",
            "Kept and readable; triage goes on on {}.",
            into
        )),
        crate::pages::history_html(state, lang)
    );
    ui::frame(session, lang, path, &title, &body, None)
}

/// The triage target of incident `id`.
pub(crate) fn target(id: &str) -> Target {
    Target {
        kind: TargetKind::Incident,
        id: id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// L3 merged into L2, then L2 into L1: L3 answers L1, through L2.
    #[test]
    fn a_merged_id_is_followed_to_the_incident_it_is_part_of() {
        let ids = |l: &[&str]| -> Vec<String> { l.iter().map(|s| s.to_string()).collect() };
        let live = ids(&["L1", "L4"]);
        let merged: Vec<(String, String)> = [("L2", "L1"), ("L3", "L2")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(locate(&live, &merged, "L4"), Where::Live(1));
        assert_eq!(
            locate(&live, &merged, "L2"),
            Where::Merged {
                into: "L1".into(),
                through: vec![],
                at: Some(0)
            }
        );
        assert_eq!(
            locate(&live, &merged, "L3"),
            Where::Merged {
                into: "L1".into(),
                through: vec!["L2".into()],
                at: Some(0)
            }
        );
        assert_eq!(locate(&live, &merged, "L9"), Where::Unknown);
        assert_eq!(merged_from(&merged, "L1"), ["L2"]);
        // Merged into an id the scope no longer holds: said, with no
        // incident.
        assert_eq!(
            locate(&ids(&["L4"]), &merged, "L2"),
            Where::Merged {
                into: "L1".into(),
                through: vec![],
                at: None
            }
        );
    }
}
