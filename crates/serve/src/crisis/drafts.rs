//! The notification drafts for the crisis cell, from the live scope:
//! `/crisis/drafts` (the deadlines board and each draft), and
//! `/crisis/drafts/{kind}` — the CNIL notification, the letter to the
//! persons concerned, the NIS2 early warning, notification and final
//! report, the complaint — as `vigie draft` writes them (the same
//! `draft::build`): HTML, editable in the browser and printable to PDF,
//! or Markdown with `?format=md`. French by default, `?lang=en`.
//!
//! The incident is dated from `?known_at=` (RFC 3339, or a Paris local
//! time), else from the scope's first malicious signal, marked "to be
//! confirmed" in the drafts as offline.

use crate::http::Query;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigie_communicate::deadlines::Applies;
use vigie_communicate::draft::{self, render, DraftOptions};
use vigie_communicate::{DraftKind, KnownAt};
use vigie_console::Principal;
use vigie_lang::{tr, Lang, Zone};
use vigie_report::html::escape as esc;

use super::{board, current};
use crate::{error, Shared};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DraftQuery {
    lang: Option<String>,
    format: Option<String>,
    known_at: Option<String>,
}

/// When the incident was known: asked, else the scope's first signal.
fn known_at(q: &DraftQuery, scope: &vigie_scope::Scope) -> Result<KnownAt, (StatusCode, String)> {
    let explicit = match q.known_at.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => Some(
            vigie_communicate::parse_time(s, Zone::paris())
                .map_err(|e| (StatusCode::BAD_REQUEST, e))?,
        ),
        None => None,
    };
    KnownAt::resolve(explicit, scope).ok_or_else(|| {
        (
            StatusCode::CONFLICT,
            "the scope has no malicious activity to date the incident from: give known_at".into(),
        )
    })
}

/// `GET /crisis/drafts`: the deadlines board and the drafts.
pub(crate) async fn list(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    crate::ReadTenant(tenant): crate::ReadTenant,
    headers: HeaderMap,
    Query(q): Query<DraftQuery>,
) -> Response {
    let lang = vigie_console::web::lang_of(q.lang.as_deref(), &headers);
    let scope = match super::scope_of(&s, &tenant, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let known = match known_at(&q, &scope) {
        Ok(k) => k,
        Err((code, e)) => return error(code, &e),
    };
    let now = chrono::Utc::now();
    let deadlines =
        vigie_communicate::Deadlines::compute(&scope, s.live.assets_of(&tenant), known, now, lang);
    let l = if lang == Lang::En { "&lang=en" } else { "" };
    let at = q
        .known_at
        .as_deref()
        .map(|k| {
            format!(
                "&known_at={}",
                form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>()
            )
        })
        .unwrap_or_default();
    let mut h = String::new();
    h.push_str(&format!(
        "<p>{} {}{}</p>\n",
        lang.pick("Incident connu le", "Incident known on"),
        vigie_console::pages::time_of(known.time),
        if known.to_confirm() {
            lang.pick(
                " (premier signal malveillant des journaux : à confirmer, ou indiquez l'heure où la collectivité l'a su)",
                " (the logs' first malicious signal: to be confirmed, or give the time the organisation knew)",
            )
        } else {
            ""
        }
    ));
    h.push_str(&format!(
        "<form method=\"get\" action=\"/crisis/drafts\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><label for=\"known_at\">{}</label><input type=\"text\" id=\"known_at\" name=\"known_at\" placeholder=\"2026-01-17 08:30\" value=\"{}\"><button type=\"submit\">{}</button></form>\n",
        lang.code(),
        lang.pick("Heure où l'incident a été connu (heure de Paris)", "Time the incident was known (Paris time)"),
        esc(q.known_at.as_deref().unwrap_or("")),
        lang.pick("Recalculer", "Recompute"),
    ));
    h.push_str(&format!(
        "<h2>{}</h2>\n<table id=\"deadlines\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>\n",
        lang.pick("Échéances", "Deadlines"),
        lang.pick("Obligation", "Obligation"),
        lang.pick("Échéance", "Due"),
        lang.pick("S'applique ?", "Applies?"),
        lang.pick("Reste", "Left"),
    ));
    for d in &deadlines.items {
        let left = match d.remaining_secs {
            None => "—".to_string(),
            Some(x) if x < 0 => tr!(lang, "dépassée de {} h", "overdue by {} h", (-x) / 3600),
            Some(x) => tr!(lang, "{} h", "{} h", x / 3600),
        };
        h.push_str(&format!(
            "<tr><td>{}<br><span class=\"small\">{}</span></td><td>{}</td><td>{} <span class=\"small\">{}</span></td><td>{}</td></tr>\n",
            esc(d.kind.label(lang)),
            esc(d.kind.basis(lang)),
            d.due.map(vigie_console::pages::time_of).unwrap_or_else(|| esc(d.kind.delay(lang))),
            match d.applies {
                Applies::Yes => lang.pick("oui", "yes"),
                Applies::ToConfirm => lang.pick("à confirmer", "to be confirmed"),
                Applies::No => lang.pick("non", "no"),
            },
            esc(&d.why),
            esc(&left),
        ));
    }
    h.push_str("</tbody></table>\n");
    h.push_str(&format!(
        "<h2>{}</h2>\n<ul id=\"drafts\">\n",
        lang.pick("Brouillons", "Drafts")
    ));
    for k in DraftKind::ALL {
        h.push_str(&format!(
            "<li><a href=\"/crisis/drafts/{n}?format=html{l}{at}\">{}</a> — <a href=\"/crisis/drafts/{n}?format=md{l}{at}\">Markdown</a></li>\n",
            esc(k.label(lang)),
            n = k.name(),
        ));
    }
    h.push_str("</ul>\n");
    h.push_str(&format!(
        "<p class=\"small\">{}</p>",
        lang.pick(
            "Chaque brouillon est pré-rempli depuis le périmètre de l'incident en cours et le fichier des actifs, cite ses preuves, marque « à confirmer » ce que les journaux n'établissent pas et « à compléter » ce que seule la collectivité sait. Le HTML se modifie dans le navigateur et s'imprime en PDF.",
            "Each draft is pre-filled from the current incident's scope and the assets file, cites its evidence, marks \"to be confirmed\" what the logs do not establish and \"to be completed\" what only the organisation knows. The HTML is editable in the browser and prints to PDF."
        )
    ));
    match &p {
        Principal::Person { session, .. } => vigie_console::pages::frame(
            session,
            lang,
            &format!(
                "/crisis/drafts{}",
                if lang == Lang::En { "?lang=en" } else { "" }
            ),
            lang.pick(
                "Cellule de crise : brouillons et échéances",
                "Crisis cell: drafts and deadlines",
            ),
            &h,
            None,
        ),
        Principal::Token { .. } => error(
            StatusCode::FORBIDDEN,
            "the console's pages are for people signed in",
        ),
    }
}

/// `GET /crisis/drafts/{kind}`: the draft, HTML or Markdown.
pub(crate) async fn one(
    State(s): State<Shared>,
    crate::ReadTenant(tenant): crate::ReadTenant,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Query(q): Query<DraftQuery>,
) -> Response {
    let Some(kind) = DraftKind::parse(&kind) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "no draft {kind:?} ({})",
                DraftKind::ALL.map(|k| k.name()).join(", ")
            ),
        );
    };
    let lang = vigie_console::web::lang_of(q.lang.as_deref(), &headers);
    let (scope, kept) = match current(&s, &tenant, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let known = match known_at(&q, &scope) {
        Ok(k) => k,
        Err((code, e)) => return error(code, &e),
    };
    let b = board(&s, &scope, &kept, lang);
    let d = draft::build(
        kind,
        &scope,
        s.live.assets_of(&tenant),
        &b,
        &DraftOptions {
            lang,
            zone: Zone::paris(),
            known_at: known,
            now: chrono::Utc::now(),
            manifest: None,
            complementary: false,
        },
    );
    match q.format.as_deref() {
        Some("md") => {
            let mut r = super::with_headers(
                render::render_markdown(&d),
                "text/markdown; charset=utf-8",
                "default-src 'none'; frame-ancestors 'none'",
                "no-store",
            );
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
                "attachment; filename=\"{}.md\"",
                kind.name()
            )) {
                r.headers_mut()
                    .insert(axum::http::header::CONTENT_DISPOSITION, v);
            }
            r
        }
        None | Some("html") => super::with_headers(
            render::render_html(&d),
            "text/html; charset=utf-8",
            &render::content_security_policy(),
            "no-store",
        ),
        Some(other) => error(
            StatusCode::BAD_REQUEST,
            &format!("format {other:?}: html or md"),
        )
        .into_response(),
    }
}
