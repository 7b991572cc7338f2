//! The crisis cell inside `vigie serve`: the service board derived from
//! the live scope (`vigie-communicate`'s board, the one implementation:
//! `vigie status board|export` give the same statuses for the same
//! scope), the statuses the cell sets by hand, the notices published for
//! residents, and the public status page.
//!
//! Every change is a record of the crisis journal
//! ([`vigie_store::crisis::CrisisJournal`]: append-only, synced before it
//! is answered, so it survives a restart) with who and when, and a line
//! of the console's audit log. The board and the notices of a tenant are
//! folded from its records each time they are asked for: the history is
//! the record, never overwritten.
//!
//! - [`public`]: `/status` (open: the one page without login), its Atom
//!   feed and its history page;
//! - [`pages`]: the console's pages of the crisis cell (`/crisis`, the
//!   board and its form; `/crisis/notices`, the notices and theirs);
//! - [`drafts`]: the notification drafts and the deadlines board
//!   (`/crisis/drafts`), HTML or Markdown, from the live scope.
//!
//! Who may do what (issue 13's roles): the board is read by every role
//! that reads (not `communication`: it shows hosts); statuses are set by
//! `crisis` and `admin`; notices are published by `communication`,
//! `crisis` ("edits service status and notices") and `admin`.

pub(crate) mod drafts;
pub(crate) mod pages;
pub(crate) mod public;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::http::Query;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use vigie_communicate::{
    BoardInput, KnownAt, Notice, Notices, Override, OverrideLog, Phase, ServiceBoard, Status,
    Template, Update,
};
use vigie_console::audit::{Action, Outcome};
use vigie_console::{Principal, Role};
use vigie_lang::Lang;
use vigie_scope::{LocalText, LocalTextBoth, Observer, Scope};
use vigie_store::crisis::{CrisisJournal, Record as Stored};

use crate::{error, unavailable, ReadTenant, Shared};

/// Who sets a service's status by hand.
pub const STATUS_SETTERS: &[Role] = &[Role::Admin, Role::Crisis];
/// Who publishes notices for residents.
pub const PUBLISHERS: &[Role] = &[Role::Admin, Role::Crisis, Role::Communication];
/// Who reads the notification drafts (they name hosts, accounts and
/// evidence): the crisis cell and administrators.
pub const DRAFTERS: &[Role] = &[Role::Admin, Role::Crisis];
/// Who reads the board (it names hosts: not `communication`).
pub const BOARD_READERS: &[Role] = &[Role::Admin, Role::Analyst, Role::Crisis, Role::Viewer];
/// Who reads the notices (they are public anyway).
pub const NOTICE_READERS: &[Role] = &Role::ALL;

/// Longest reason, title and text accepted (characters).
const MAX_REASON: usize = 2_000;
const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 5_000;

/// The crisis cell's state in the server: its journal, and when the
/// server started (the time of derived statuses while nothing was
/// received).
pub(crate) struct Cell {
    pub(crate) journal: Arc<dyn CrisisJournal>,
    started: vigie_event::Timestamp,
    /// Orders read-check-append of the journal (two notices racing for
    /// one new id, two changes of one service).
    writing: tokio::sync::Mutex<()>,
}

impl Cell {
    pub(crate) fn new(journal: Arc<dyn CrisisJournal>) -> Cell {
        Cell {
            journal,
            started: chrono::Utc::now(),
            writing: tokio::sync::Mutex::new(()),
        }
    }
}

/// One record of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Record {
    /// A status set by a person (none: back to the derived status).
    Status { change: Override },
    /// An update of a notice; the first of an incident gives its title.
    Notice {
        incident: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<LocalText>,
        #[serde(default)]
        services: Vec<String>,
        update: Update,
    },
    /// An entry of the crisis log (main courante): a containment step
    /// (actions.rs), with who and when.
    Log { entry: vigie_communicate::LogEntry },
}

/// What a tenant's records say: the overrides, the notices and the
/// crisis log's entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kept {
    /// Whose records these are (the board reads its assets file).
    pub(crate) tenant: String,
    pub(crate) overrides: OverrideLog,
    pub(crate) notices: Notices,
    pub(crate) log: Vec<vigie_communicate::LogEntry>,
}

/// Folds the records of one tenant, in their order. A record that cannot
/// be read is an error, never skipped: a status or notice dropped unsaid
/// would make the page say something nobody decided.
fn fold(records: &[Vec<u8>]) -> Result<Kept, String> {
    let mut k = Kept::default();
    for (i, r) in records.iter().enumerate() {
        let rec: Record = serde_json::from_slice(r)
            .map_err(|e| format!("record {} of the crisis journal: {e}", i + 1))?;
        match rec {
            Record::Status { change } => k.overrides.push(change),
            Record::Log { entry } => k.log.push(entry),
            Record::Notice {
                incident,
                title,
                services,
                update,
            } => {
                let n = match k.notices.incidents.iter_mut().find(|n| n.id == incident) {
                    Some(n) => n,
                    None => {
                        k.notices.incidents.push(Notice {
                            id: incident.clone(),
                            title: title
                                .clone()
                                .unwrap_or_else(|| LocalText::Same(incident.clone())),
                            started: update.at,
                            resolved: None,
                            services: Vec::new(),
                            updates: Vec::new(),
                        });
                        k.notices.incidents.last_mut().expect("pushed")
                    }
                };
                for s in services.into_iter().chain(update.service.clone()) {
                    if !n.services.contains(&s) {
                        n.services.push(s);
                    }
                }
                n.resolved = match update.phase {
                    Phase::Resolved => Some(update.at),
                    _ => None,
                };
                n.updates.push(update);
            }
        }
    }
    Ok(k)
}

/// The records of `tenant`, folded; 503 when the journal cannot be read.
pub(crate) async fn kept(s: &Shared, tenant: &str) -> Result<Kept, Response> {
    let records = s
        .crisis
        .journal
        .records(tenant)
        .await
        .map_err(|e| unavailable(&format!("the crisis journal cannot be read now: {e}")))?;
    let mut k = fold(&records).map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    k.tenant = tenant.to_string();
    Ok(k)
}

/// The scope a board is derived from: the live scope's answer (`fresh`:
/// computed now if events arrived since; otherwise the last one kept, so
/// that the open page never starts an analysis), or, before any event of
/// the tenant, the scope of nothing observed — every service *unknown*,
/// never *operational*. A scope that cannot be answered now (its
/// incidents' naming failed) is a 503, not the scope of nothing observed.
pub(crate) async fn scope_of(
    s: &Shared,
    tenant: &str,
    fresh: bool,
) -> Result<Arc<Scope>, Response> {
    if !s.live.rebuilt.load(std::sync::atomic::Ordering::Acquire) {
        return Err(unavailable(
            "the live scope is being rebuilt from the stored events (after a start): the statuses would be wrong; ask again shortly",
        ));
    }
    let last = (!fresh)
        .then(|| s.live.last_answer(tenant))
        .flatten()
        .map(|(_, a)| a.scope);
    if let Some(scope) = last {
        return Ok(scope);
    }
    let (live, t) = (s.live.clone(), tenant.to_string());
    let (lang, zone) = (s.config.hunt.lang, s.config.hunt.zone);
    tokio::task::spawn_blocking(move || match live.scope(&t) {
        Some(scope) => Some(scope),
        None if live.naming_failed_for(&t) => None,
        None => Some(Arc::new(
            Observer::new(live.assets_of(&t).clone()).finish_in(&[], lang, zone),
        )),
    })
    .await
    .map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the scope could not be derived",
        )
    })?
    .ok_or_else(|| unavailable(crate::http::NAMING_UNAVAILABLE))
}

/// The scope ([`scope_of`]) and the records ([`kept`]) of `tenant`.
pub(crate) async fn current(
    s: &Shared,
    tenant: &str,
    fresh: bool,
) -> Result<(Arc<Scope>, Kept), Response> {
    Ok((scope_of(s, tenant, fresh).await?, kept(s, tenant).await?))
}

/// The board of `scope` with the cell's statuses applied, in `lang`.
/// Derived statuses date from the incident's first malicious signal (as
/// `vigie status` without `--known-at`), or the server's start when the
/// scope has none.
pub(crate) fn board(s: &Shared, scope: &Scope, kept: &Kept, lang: Lang) -> ServiceBoard {
    let as_of = KnownAt::resolve(None, scope)
        .map(|k| k.time)
        .or(scope.observed.map(|p| p.first))
        .unwrap_or(s.crisis.started);
    let mut b = ServiceBoard::derive(
        scope,
        s.live.assets_of(&kept.tenant),
        &BoardInput {
            as_of,
            isolated: Default::default(),
            lang,
        },
    );
    b.apply(&kept.overrides);
    b
}

/// An answer of `kind` with the headers every page of the crisis cell
/// carries: its Content-Security-Policy, `cache` (`no-store` for the
/// console, `no-cache` for the public page), no sniffing, no referrer,
/// never framed.
pub(crate) fn with_headers(
    body: String,
    kind: &'static str,
    csp: &str,
    cache: &'static str,
) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(kind));
    if let Ok(v) = header::HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    r
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LangQuery {
    lang: Option<String>,
}

fn lang_of(q: &LangQuery, default: Lang) -> Lang {
    match q.lang.as_deref() {
        Some("en") => Lang::En,
        Some("fr") => Lang::Fr,
        _ => default,
    }
}

/// `GET /api/v1/services`: every service of the assets file with its
/// derived status and why, the status in force, the override in force
/// and the whole history (who, when, why).
pub(crate) async fn list(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Query(q): Query<LangQuery>,
) -> Response {
    let (scope, kept) = match current(&s, &tenant, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let b = board(&s, &scope, &kept, lang_of(&q, s.config.hunt.lang));
    Json(json!({
        "tenant": tenant,
        "as_of": b.as_of,
        "events_observed": s.live.events(&tenant),
        "services": b.services,
    }))
    .into_response()
}

/// A form's fields or a JSON object's, by name (the console's forms and
/// scripts send the same fields).
fn fields(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    crate::triage::parse(headers, body)
}

fn text_field(m: &serde_json::Map<String, serde_json::Value>, k: &str) -> Option<String> {
    m.get(k)
        .and_then(|v| v.as_str())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The answer: back to the page (`back`, a path of this server) for a
/// form, JSON otherwise.
fn done(
    headers: &HeaderMap,
    m: &serde_json::Map<String, serde_json::Value>,
    body: serde_json::Value,
) -> Response {
    crate::triage::answer(headers, text_field(m, "back").as_deref(), body)
}

/// `POST /api/v1/services/{id}/status`: `{"status": "degraded", "reason":
/// "…"}` (JSON, or the console's form); `status` empty or `derived`
/// returns the service to the status derived from the scope. The reason
/// is required: it is what the history, the CNIL and the insurer read.
pub(crate) async fn set_status(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    ReadTenant(tenant): ReadTenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let m = match fields(&headers, &body)
        .and_then(|m| crate::triage::only_keys(&m, &["status", "reason"]).map(|()| m))
    {
        Ok(m) => m,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("a status change is {{\"status\": operational|degraded|partial_outage|major_outage|maintenance|unknown|derived, \"reason\": \"…\"}}: {e}"),
            )
        }
    };
    let status = match text_field(&m, "status").as_deref() {
        None | Some("derived") => None,
        Some(x) => match x.parse::<Status>() {
            Ok(st) => Some(st),
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("{e} (or derived)")),
        },
    };
    let Some(reason) = text_field(&m, "reason") else {
        return error(
            StatusCode::BAD_REQUEST,
            "a reason is required (it is kept in the service's history)",
        );
    };
    if reason.chars().count() > MAX_REASON {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the reason is longer than {MAX_REASON} characters"),
        );
    }
    if !vigie_communicate::board::service_names(s.live.assets_of(&tenant)).contains(&id) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no service {id:?} in the assets file"),
        );
    }
    let (who, from) = crate::triage::who_and_from(&p, ci);
    let change = Override {
        service: id.clone(),
        status,
        reason,
        author: who.clone(),
        at: chrono::Utc::now(),
    };
    let target = format!(
        "{tenant}/service:{id}={}",
        status.map_or("derived", |s| s.key())
    );
    {
        let _w = s.crisis.writing.lock().await;
        let record = Record::Status {
            change: change.clone(),
        };
        let kept = (
            who.as_str(),
            from.as_str(),
            Action::ServiceStatus,
            target.as_str(),
        );
        if let Err(r) = keep(&s, &tenant, &record, kept).await {
            return r;
        }
    }
    done(&headers, &m, json!({ "tenant": tenant, "change": change }))
}

/// Appends `r` to the journal (durable when it returns) and writes the
/// audit line (who, from where, what, on what): a success, or a failure
/// when it could not be kept.
async fn keep(
    s: &Shared,
    tenant: &str,
    r: &Record,
    (who, from, action, target): (&str, &str, Action, &str),
) -> Result<(), Response> {
    let json = serde_json::to_vec(r)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    let kept = s
        .crisis
        .journal
        .append(Stored {
            tenant: tenant.to_string(),
            json,
        })
        .await;
    let outcome = match kept {
        Ok(()) => Outcome::Success,
        Err(_) => Outcome::Failure,
    };
    s.console.audit(who, from, action, target, outcome);
    kept.map_err(|e| unavailable(&format!("not kept, send again: {e}")))
}

/// [`keep`], only if the tenant's journal still holds `seen` records:
/// 409 when another node appended meanwhile (the caller's checks were on
/// what it read).
async fn keep_after(
    s: &Shared,
    tenant: &str,
    r: &Record,
    seen: usize,
    (who, from, action, target): (&str, &str, Action, &str),
) -> Result<(), Response> {
    let json = serde_json::to_vec(r)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    let kept = s
        .crisis
        .journal
        .append_after(
            Stored {
                tenant: tenant.to_string(),
                json,
            },
            seen,
        )
        .await;
    let outcome = match kept {
        Ok(true) => Outcome::Success,
        Ok(false) => Outcome::Refused,
        Err(_) => Outcome::Failure,
    };
    s.console.audit(who, from, action, target, outcome);
    match kept {
        Ok(true) => Ok(()),
        Ok(false) => Err(error(
            StatusCode::CONFLICT,
            "the notices changed meanwhile (another console): read them again and send again",
        )),
        Err(e) => Err(unavailable(&format!("not kept, send again: {e}"))),
    }
}

/// `GET /api/v1/notices`: the notices of the tenant, each update with
/// its time, phase, template or text, and author.
pub(crate) async fn notices(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    match kept(&s, &tenant).await {
        Ok(k) => {
            Json(json!({ "tenant": tenant, "incidents": k.notices.incidents })).into_response()
        }
        Err(r) => r,
    }
}

/// `POST /api/v1/notices`: an update of a notice for residents.
///
/// `{"incident"?: id (none: a new incident, which needs "title"),
/// "title"?, "template"?: postpone_non_urgent|service_alternative|
/// personal_data|service_restored, "service"?, "text"?: French text,
/// "text_en"?, "phase"?: investigating|identified|monitoring|resolved}`
/// — a template (filled in when the page is shown) or a text (published
/// as written, after the removal of internal names the page does).
pub(crate) async fn publish(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    ReadTenant(tenant): ReadTenant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let m = match fields(&headers, &body) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let (who, from) = crate::triage::who_and_from(&p, ci);
    match post_notice(&s, &tenant, &who, &from, &m).await {
        Ok((incident, update)) => done(
            &headers,
            &m,
            json!({ "tenant": tenant, "incident": incident, "update": update }),
        ),
        Err(r) => r,
    }
}

/// Publishes the notice update `m` asks for (the fields of
/// `POST /api/v1/notices`), checked as `--updates` files are, kept and
/// audited: its incident and the update. Also the way a containment
/// action's notice, once the `communication` role publishes it, reaches
/// the public page (actions.rs).
pub(crate) async fn post_notice(
    s: &Shared,
    tenant: &str,
    who: &str,
    from: &str,
    m: &serde_json::Map<String, serde_json::Value>,
) -> Result<(String, Update), Response> {
    let _w = s.crisis.writing.lock().await;
    let mut records = s
        .crisis
        .journal
        .records(tenant)
        .await
        .map_err(|e| unavailable(&format!("the crisis journal cannot be read now: {e}")))?;
    let mut kept = fold(&records).map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    // The board of the check below reads this tenant's assets file.
    kept.tenant = tenant.to_string();
    let record = notice_record(m, &kept, who, chrono::Utc::now()).map_err(|(c, e)| error(c, &e))?;
    let Record::Notice { incident, .. } = &record else {
        unreachable!("a notice record")
    };
    let incident = incident.clone();
    // The same checks as `vigie status export --updates`, on the notices
    // as they would be: services that exist, a template with what it
    // needs.
    records.push(serde_json::to_vec(&record).unwrap_or_default());
    let after = fold(&records).map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let scope = scope_of(s, tenant, false).await?;
    let b = board(s, &scope, &kept, s.config.hunt.lang);
    if let Some(pr) = after.notices.problems(&b).first() {
        return Err(error(StatusCode::BAD_REQUEST, pr));
    }
    let target = format!("{tenant}/notice:{incident}");
    // After the records read, or not at all: another api node publishing
    // at once may have taken the same new id.
    keep_after(
        s,
        tenant,
        &record,
        records.len() - 1,
        (who, from, Action::NoticePublish, &target),
    )
    .await?;
    let Record::Notice { update, .. } = record else {
        unreachable!("a notice record")
    };
    Ok((incident, update))
}

/// Sets a service's status on behalf of a containment action (actions.rs:
/// an isolation executed, or rolled back with `status: None`), kept in
/// the journal and audited as a status change by its author.
pub(crate) async fn set_by_action(
    s: &Shared,
    tenant: &str,
    change: Override,
    from: &str,
) -> Result<(), Response> {
    let _w = s.crisis.writing.lock().await;
    let target = format!(
        "{tenant}/service:{}={}",
        change.service,
        change.status.map_or("derived", |s| s.key())
    );
    let who = change.author.clone();
    let record = Record::Status { change };
    keep(
        s,
        tenant,
        &record,
        (&who, from, Action::ServiceStatus, &target),
    )
    .await
}

/// Appends an entry to the tenant's crisis log (main courante), durable
/// when it returns. Not audited here: the step it records is.
pub(crate) async fn log(
    s: &Shared,
    tenant: &str,
    entry: vigie_communicate::LogEntry,
) -> Result<(), String> {
    let json = serde_json::to_vec(&Record::Log { entry }).map_err(|e| e.to_string())?;
    let _w = s.crisis.writing.lock().await;
    s.crisis
        .journal
        .append(Stored {
            tenant: tenant.to_string(),
            json,
        })
        .await
        .map_err(|e| e.to_string())
}

/// The record of a notice asked for, checked against what is kept.
fn notice_record(
    m: &serde_json::Map<String, serde_json::Value>,
    kept: &Kept,
    who: &str,
    now: vigie_event::Timestamp,
) -> Result<Record, (StatusCode, String)> {
    let bad = |e: String| (StatusCode::BAD_REQUEST, e);
    let template = match text_field(m, "template") {
        None => None,
        Some(t) => Some(Template::parse(&t).ok_or_else(|| {
            bad(format!(
                "unknown template {t:?} ({})",
                Template::ALL.map(|t| t.key()).join(", ")
            ))
        })?),
    };
    let (fr, en) = (text_field(m, "text"), text_field(m, "text_en"));
    if [&fr, &en]
        .iter()
        .any(|t| t.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT))
    {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a text is longer than {MAX_TEXT} characters"),
        ));
    }
    let text = match (fr, en) {
        (Some(fr), en) => Some(LocalText::Both(LocalTextBoth { fr, en })),
        (None, Some(_)) => return Err(bad("the French text comes first: give text".into())),
        (None, None) => None,
    };
    match (&template, &text) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "a template or a text, not both (the console fills the text from the template for you to edit)".into(),
            ))
        }
        (None, None) => return Err(bad("a template or a text is needed".into())),
        _ => {}
    }
    let service = text_field(m, "service");
    let phase = match text_field(m, "phase") {
        None => None,
        Some(p) => Some(Phase::parse(&p).ok_or_else(|| {
            bad(format!(
                "unknown phase {p:?} ({})",
                Phase::ALL.map(|p| p.key()).join(", ")
            ))
        })?),
    };
    let (incident, title) = match text_field(m, "incident") {
        Some(id) => {
            let Some(n) = kept.notices.incidents.iter().find(|n| n.id == id) else {
                return Err((StatusCode::NOT_FOUND, format!("no notice {id:?}")));
            };
            (n.id.clone(), None)
        }
        None => {
            let Some(title) = text_field(m, "title") else {
                return Err(bad(
                    "a new notice needs a title (or give incident: the id of one published)".into(),
                ));
            };
            if title.chars().count() > MAX_TITLE {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the title is longer than {MAX_TITLE} characters"),
                ));
            }
            let n = kept.notices.incidents.len() + 1;
            let id = format!("incident-{}-{n}", now.format("%Y%m%d"));
            let title = LocalText::Both(LocalTextBoth {
                fr: title,
                en: text_field(m, "title_en"),
            });
            (id, Some(title))
        }
    };
    let current = kept
        .notices
        .incidents
        .iter()
        .find(|n| n.id == incident)
        .map(|n| n.phase());
    Ok(Record::Notice {
        incident,
        title,
        services: Vec::new(),
        update: Update {
            at: now,
            phase: phase.or(current).unwrap_or_default(),
            template,
            service,
            text,
            author: Some(who.to_string()),
        },
    })
}

/// The tenants a public page may be asked for: `default`, and those
/// that sent events or have records.
pub(crate) async fn known_tenant(s: &Shared, tenant: &str) -> bool {
    tenant == "default"
        || s.live.tenants().iter().any(|t| t == tenant)
        || s.crisis
            .journal
            .tenants()
            .await
            .is_ok_and(|t| t.iter().any(|t| t == tenant))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(incident: &str, title: Option<&str>, phase: Phase, text: &str) -> Vec<u8> {
        serde_json::to_vec(&Record::Notice {
            incident: incident.into(),
            title: title.map(|t| LocalText::Same(t.into())),
            services: vec![],
            update: Update {
                at: chrono::Utc::now(),
                phase,
                template: None,
                service: None,
                text: Some(LocalText::Same(text.into())),
                author: Some("c".into()),
            },
        })
        .unwrap()
    }

    #[test]
    fn notices_fold_in_order_and_a_bad_record_is_an_error() {
        let k = fold(&[
            notice("a", Some("Cyberattaque"), Phase::Investigating, "un"),
            notice("a", None, Phase::Resolved, "deux"),
            notice("b", Some("Autre"), Phase::Monitoring, "trois"),
        ])
        .unwrap();
        assert_eq!(k.notices.incidents.len(), 2);
        let a = &k.notices.incidents[0];
        assert_eq!(a.title.fr(), "Cyberattaque");
        assert_eq!(a.updates.len(), 2);
        assert!(a.resolved.is_some());
        assert_eq!(k.notices.incidents[1].phase(), Phase::Monitoring);
        assert!(fold(&[b"{\"kind\":\"what\"}".to_vec()])
            .unwrap_err()
            .contains("record 1"));
    }
}
