//! The public status page, served live: `/status` (the `default`
//! tenant) and `/status/{tenant}`, their Atom feeds (`…/feed.atom`) and
//! history pages (`…/history`). The only pages open without login.
//!
//! The same [`vigie_communicate::PublicPage`] and renderer as `vigie
//! status export`: a view type with no field that could hold a host, an
//! account or an address, and people's texts passed through the
//! redactor. French by default, English with `?lang=en`; no JavaScript.
//!
//! It shows only what people published: the statuses the crisis cell
//! set and the notices it published. A status derived from detections
//! never reaches it by itself (a false positive would tell residents of
//! an attack nobody confirmed); it stays on the board (`/crisis`), offered
//! to the cell.
//!
//! It never starts an analysis (anyone may ask for it): it reads the
//! live scope's last answer, which the server keeps current every few
//! seconds.

use crate::http::Query;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vigie_communicate::public::{PageInput, PageLinks, Served};
use vigie_communicate::{status_page, PublicPage};
use vigie_lang::Lang;

use super::{board, kept, known_tenant, scope_of, LangQuery};
use crate::Shared;

/// Which of a page's three documents.
#[derive(Clone, Copy)]
enum Doc {
    Page,
    Feed,
    History,
}

/// Where a tenant's page is: `/status` for `default`, else
/// `/status/{tenant}`.
fn base(tenant: &str) -> String {
    if tenant == "default" {
        "/status".into()
    } else {
        format!("/status/{}", urlencode(tenant))
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A short plain page for what cannot be shown (never an internal
/// detail: the reason is said in general words).
fn plain(status: StatusCode, lang: Lang, fr: &str, en: &str) -> Response {
    let mut r = (status, lang.pick(fr, en).to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    }
    r
}

async fn render(s: Shared, tenant: String, q: LangQuery, doc: Doc) -> Response {
    let lang = match q.lang.as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Fr,
    };
    if !known_tenant(&s, &tenant).await {
        return plain(
            StatusCode::NOT_FOUND,
            lang,
            "Aucune page d'état à cette adresse.\n",
            "No status page at this address.\n",
        );
    }
    let Ok(scope) = scope_of(&s, &tenant, false).await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            "La page d'état est en cours de mise à jour : revenez dans quelques instants.\n",
            "The status page is being updated: come back in a moment.\n",
        );
    };
    let Ok(kept) = kept(&s, &tenant).await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            "La page d'état ne peut pas être affichée pour l'instant : revenez dans quelques instants.\n",
            "The status page cannot be shown now: come back in a moment.\n",
        );
    };
    let b = board(&s, &scope, &kept, lang);
    let page = page(&s, &tenant, &scope, &b, &kept, lang);
    let (body, kind) = match doc {
        Doc::Page => (status_page::render_html(&page), "text/html; charset=utf-8"),
        Doc::History => (
            status_page::render_history_html(&page),
            "text/html; charset=utf-8",
        ),
        Doc::Feed => (status_page::render_atom(&page), "application/atom+xml"),
    };
    // Residents reload it: always asked again, never kept stale.
    super::with_headers(
        body,
        kind,
        &status_page::content_security_policy(),
        "no-cache",
    )
}

/// The public page of `tenant` in `lang`, as `vigie status export`
/// builds it, with its served addresses.
pub(crate) fn page(
    s: &Shared,
    tenant: &str,
    scope: &vigie_scope::Scope,
    board: &vigie_communicate::ServiceBoard,
    kept: &super::Kept,
    lang: Lang,
) -> PublicPage {
    let at = base(tenant);
    let other = match lang {
        Lang::Fr => format!("{at}?lang=en"),
        Lang::En => at.clone(),
    };
    let feed = match lang {
        Lang::Fr => format!("{at}/feed.atom"),
        Lang::En => format!("{at}/feed.atom?lang=en"),
    };
    let (mut p, removed) = PublicPage::build(&PageInput {
        scope,
        assets: s.live.assets_of(tenant),
        board,
        notices: &kept.notices,
        // Only what people published: a status derived from detections
        // stays on the crisis board, a proposal for the cell.
        published: Some(&kept.overrides),
        lang,
        zone: vigie_lang::Zone::paris(),
        now: chrono::Utc::now(),
        links: PageLinks {
            feed,
            other_lang: Some(other),
            page_url: None,
        },
    });
    // Said to the operator only, never on the page (which names nothing).
    if !removed.is_empty() {
        eprintln!(
            "vigie serve: status page of {tenant}: {} internal name(s) removed from published texts",
            removed.len()
        );
    }
    p.served = Some(Served {
        history: format!("{at}/history"),
        page: at,
    });
    p
}

pub(crate) async fn default_page(State(s): State<Shared>, Query(q): Query<LangQuery>) -> Response {
    render(s, "default".into(), q, Doc::Page).await
}

pub(crate) async fn default_feed(State(s): State<Shared>, Query(q): Query<LangQuery>) -> Response {
    render(s, "default".into(), q, Doc::Feed).await
}

pub(crate) async fn default_history(
    State(s): State<Shared>,
    Query(q): Query<LangQuery>,
) -> Response {
    render(s, "default".into(), q, Doc::History).await
}

pub(crate) async fn tenant_page(
    State(s): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    render(s, tenant, q, Doc::Page).await
}

pub(crate) async fn tenant_feed(
    State(s): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    render(s, tenant, q, Doc::Feed).await
}

pub(crate) async fn tenant_history(
    State(s): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    render(s, tenant, q, Doc::History).await
}
