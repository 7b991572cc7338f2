//! Containment inside `vigie serve` (issue 17's live part): each tenant's
//! proposals come from its live scope's plan (`vigie_respond::plan`, the
//! same as `vigie actions`), are kept with their trails in
//! `state.db` (`vigie_state::SqliteProposals`; PostgreSQL
//! with `--db`, `vigie_db::PgProposals`, shared by every api node), and move
//! through the pure state machine (`vigie_respond::Record::apply`):
//! requested by a person, approved by a second one (`admin` or `crisis`,
//! never the requester), executed — through LDAP where a directory is
//! configured and the action is an account's, by hand from the commands
//! shown otherwise — rolled back, its notice published.
//!
//! Every step is a line of the console's audit log (refusals too) and an
//! entry of the crisis log (main courante, in the crisis journal), with
//! who and when. An isolation executed sets the services its impact
//! simulation names to their simulated status on the crisis cell's board
//! (a status change by the executor, audited); the notice for residents
//! is prepared, never published until the `communication` role (or an
//! admin) publishes it.
//!
//! - [`page`]: the console's page `/actions`;
//! - [`execute`]: the directory (LDAP) behind `execute` and `rollback`.

pub(crate) mod execute;
pub(crate) mod page;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vigie_communicate::{LogEntry, LogKind, Override};
use vigie_console::audit::{Action, Outcome};
use vigie_console::{Principal, Role};
use vigie_lang::{tr, Lang};
use vigie_respond::commands::{fortigate, powershell};
use vigie_respond::store::ProposalStore;
use vigie_respond::{Actor, Record, Refusal, State as Stage, Step, StoreError};

use crate::{error, unavailable, ReadTenant, Shared};

/// Who reads the proposals (`communication` sees only the notices to
/// publish: the rest names hosts and accounts).
pub const READERS: &[Role] = &Role::ALL;
/// Who asks for an action to be carried out (the first pair of eyes).
pub const REQUESTERS: &[Role] = &[Role::Admin, Role::Analyst, Role::Crisis];
/// Who approves or rejects (the second pair of eyes).
pub const APPROVERS: &[Role] = &[Role::Admin, Role::Crisis];
/// Who carries out, marks done by hand, rolls back.
pub const EXECUTORS: &[Role] = &[Role::Admin, Role::Analyst];
/// Who publishes an executed action's notice for residents.
pub const PUBLISHERS: &[Role] = &[Role::Admin, Role::Communication];

/// Longest reason or note accepted (characters).
const MAX_REASON: usize = 2_000;

/// `[respond]` of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondConfig {
    /// Addresses isolated hosts keep talking to (the responders'
    /// workstations): without them the isolation commands are not
    /// generated (an isolation that also cuts the responder cannot be
    /// undone remotely).
    #[serde(default)]
    pub responders: Vec<IpAddr>,
    /// The Active Directory Vigie acts on (`[respond.directory]`).
    pub directory: Option<DirectoryConfig>,
}

/// `[respond.directory]`: where account actions are carried out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// `ldaps://dc01.example.local`, or `ldap://…` with `starttls = true`.
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// The bind identity: a DN or `user@domain`.
    pub bind: String,
    /// The directory's CA (PEM); the system's roots without it.
    pub ca_file: Option<PathBuf>,
    /// The search base; the directory's `defaultNamingContext` without it.
    pub base_dn: Option<String>,
    /// The bind password: the first line of this file (readable by the
    /// service only) …
    pub password_file: Option<PathBuf>,
    /// … or this environment variable. Never on the command line.
    pub password_env: Option<String>,
}

/// The proposals' store, and what executes them.
pub(crate) struct Respond {
    /// `state.db` in the data directory, or PostgreSQL with
    /// `--db` (every api node then sees and steps the same proposals).
    pub(crate) store: std::sync::Arc<dyn ProposalStore>,
    pub(crate) config: RespondConfig,
    /// One execution or rollback at a time: the state is checked, the
    /// directory changed, the outcome recorded, without another step in
    /// between.
    acting: tokio::sync::Mutex<()>,
}

impl Respond {
    /// `state` is the embedded `state.db` (none with `--db`).
    pub(crate) fn open(
        state: Option<std::sync::Arc<vigie_state::Db>>,
        db: Option<&str>,
        config: RespondConfig,
    ) -> Result<Respond, StoreError> {
        let store: std::sync::Arc<dyn ProposalStore> = match (db, state) {
            (Some(url), _) => std::sync::Arc::new(vigie_db::PgProposals::new(url)),
            (None, Some(state)) => std::sync::Arc::new(vigie_state::SqliteProposals::new(state)),
            (None, None) => {
                return Err(StoreError::Backend(
                    "no state to keep the proposals in (neither --db nor state.db)".into(),
                ))
            }
        };
        if let Some(d) = &config.directory {
            eprintln!(
                "vigie serve: account actions executed in the directory {}",
                d.url
            );
        }
        Ok(Respond {
            store,
            config,
            acting: tokio::sync::Mutex::new(()),
        })
    }
}

/// How long a claim holds a proposal (the directory's time limit, and
/// as long again to keep the outcome): a node that died holding one
/// frees it then.
const CLAIM_SECS: i64 = 120;

/// This process, as a claim names it.
fn node() -> &'static str {
    static NODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NODE.get_or_init(|| format!("{:08x} (pid {})", rand::random::<u32>(), std::process::id()))
}

/// A claim on a proposal, let go when dropped (whatever the way out of
/// the step).
struct Claim {
    store: std::sync::Arc<dyn ProposalStore>,
    tenant: String,
    id: String,
    holder: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let (store, tenant, id, holder) = (
            self.store.clone(),
            std::mem::take(&mut self.tenant),
            std::mem::take(&mut self.id),
            std::mem::take(&mut self.holder),
        );
        let unclaim = async move {
            if let Err(e) = store.unclaim(&tenant, &id, &holder).await {
                eprintln!(
                    "vigie serve: containment proposal {tenant}/{id}: its claim could not be let go ({e}); it expires in {CLAIM_SECS} s"
                );
            }
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            // Let go before the answer leaves: the next step asked (a
            // rollback right after) finds the proposal free.
            tokio::task::block_in_place(|| rt.block_on(unclaim));
        } else {
            rt.spawn(unclaim);
        }
    }
}

/// Every route of this module: `ROUTES` lists them one by one (with who
/// may reach each); the router asks here for their handlers.
pub(crate) fn handles(path: &str) -> bool {
    path == "/actions" || path == "/api/v1/crisis-log" || path.starts_with("/api/v1/actions")
}

/// The handler of one of [`handles`]' paths.
pub(crate) fn route(path: &str) -> MethodRouter<Shared> {
    use axum::routing::{get, post};
    match path.rsplit('/').next().unwrap_or_default() {
        "actions" if path == "/actions" => get(page::page),
        "crisis-log" => get(crisis_log),
        "actions" => get(list),
        step if Kind::from_path(step).is_some() => post(act),
        other => unreachable!("no containment route {other}"),
    }
}

/// The person or token taking a step, as the state machine knows them.
/// A token reaches a step only with scope `admin`.
pub(crate) fn actor(p: &Principal) -> Actor {
    match p {
        Principal::Person { session, .. } => Actor::new(&session.user, session.role),
        Principal::Token { scope, .. } => Actor::new(
            &p.who(),
            if scope == "admin" {
                Role::Admin
            } else {
                Role::Viewer
            },
        ),
    }
}

/// The plan of `tenant`'s live scope, proposed (new proposals added as
/// Vigie's, those already there refreshed with their state and trail
/// kept); the ids the plan holds now.
pub(crate) async fn refresh(s: &Shared, tenant: &str) -> Result<BTreeSet<String>, Response> {
    let scope = crate::crisis::scope_of(s, tenant, true).await?;
    let assets = s.live.assets_of(tenant).clone();
    let lang = s.config.hunt.lang;
    let now = chrono::Utc::now();
    // The simulated statuses are those at the end of the events observed,
    // as `vigie actions` computes them from a scope file.
    let as_of = scope.observed.map(|p| p.last).unwrap_or(now);
    let plan =
        tokio::task::spawn_blocking(move || vigie_respond::plan(&scope, &assets, as_of, lang))
            .await
            .map_err(|_| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the plan could not be made",
                )
            })?;
    let ids = plan.proposals.iter().map(|p| p.id.clone()).collect();
    s.actions
        .store
        .propose(tenant, plan.proposals, &Actor::system(), now)
        .await
        .map_err(|e| unavailable(&format!("the proposals cannot be kept now: {e}")))?;
    Ok(ids)
}

/// How Vigie can carry a proposal out itself: `Some("ldap")` for an
/// account's action when a directory is configured; `None`: by hand.
/// The directory of `[respond.directory]` is the deployment's own (the
/// tenant `default`'s): a commune of a regional deployment has its own
/// Active Directory, which Vigie does not know — its actions are carried
/// out by hand, never in another organisation's directory.
pub(crate) fn executable(s: &Shared, tenant: &str, r: &Record) -> Option<&'static str> {
    use vigie_scope::ActionKind::*;
    (s.actions.config.directory.is_some()
        && tenant == "default"
        && matches!(r.proposal.kind, DisableAccount | DeleteAccount))
    .then_some("ldap")
}

/// Whether the execution in force was through the directory (its
/// rollback then goes through it too).
fn executed_by_ldap(r: &Record) -> bool {
    r.trail
        .iter()
        .rev()
        .find(|e| e.what == "execute")
        .is_some_and(|e| e.detail.starts_with("ldap:"))
}

/// The commands to copy: PowerShell and FortiGate, each with its rollback
/// (`null` where the language has nothing to do, `refused` with why when
/// a value cannot be put in a command safely).
pub(crate) fn commands(s: &Shared, r: &Record) -> Value {
    let lang = s.config.hunt.lang;
    let opts = powershell::Options {
        responders: s.actions.config.responders.clone(),
    };
    let one = |c: Result<Option<vigie_respond::commands::Commands>, _>| match c {
        Ok(Some(c)) => json!({"apply": c.apply, "rollback": c.rollback}),
        Ok(None) => Value::Null,
        Err(e) => json!({"refused": format!("{e}")}),
    };
    json!({
        "powershell": one(powershell::commands(&r.proposal, &opts, lang)),
        "fortigate": one(fortigate::commands(&r.proposal, lang)),
    })
}

/// The notice for residents an executed action prepares: what its
/// impact simulation says the public page would show (public services
/// only). `None` when it stops no public service.
pub(crate) fn notice_draft(r: &Record, lang: Lang) -> Option<String> {
    let lines: Vec<&str> = r
        .proposal
        .impact
        .services
        .iter()
        .filter(|x| !x.internal)
        .filter_map(|x| x.status_page.as_deref())
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(tr!(
        lang,
        "Par mesure de protection, une partie du système informatique a été isolée du réseau. Services concernés : {}.",
        "As a protective measure, part of the information system has been cut off from the network. Services affected: {}.",
        lines.join(" ; ")
    ))
}

/// One proposal as the API gives it: the proposal's fields, its state,
/// trail, whether its notice was published, whether the plan still holds
/// it, how it can be executed, the commands, the notice prepared.
fn view(s: &Shared, tenant: &str, r: &Record, in_plan: bool) -> Value {
    let mut v = serde_json::to_value(&r.proposal).unwrap_or_default();
    if let Value::Object(o) = &mut v {
        o.insert("state".into(), json!(r.state));
        o.insert("trail".into(), json!(r.trail));
        o.insert("published".into(), json!(r.published));
        o.insert("in_plan".into(), json!(in_plan));
        o.insert(
            "execution".into(),
            json!(executable(s, tenant, r).unwrap_or("by_hand")),
        );
        o.insert("commands".into(), commands(s, r));
        o.insert(
            "notice_draft".into(),
            json!(notice_draft(r, s.config.hunt.lang)),
        );
    }
    v
}

/// What the `communication` role sees of an action: its notice to
/// publish, once executed — no host, account or evidence.
fn public_view(s: &Shared, r: &Record) -> Option<Value> {
    let draft = notice_draft(r, s.config.hunt.lang)?;
    (r.state == Stage::Executed).then(|| {
        json!({
            "id": r.proposal.id,
            "order": r.proposal.order,
            "state": r.state,
            "published": r.published,
            "notice_draft": draft,
        })
    })
}

/// The proposals of the tenant, refreshed from its live scope.
pub(crate) async fn records(
    s: &Shared,
    tenant: &str,
) -> Result<(Vec<Record>, BTreeSet<String>), Response> {
    let in_plan = refresh(s, tenant).await?;
    let list = s
        .actions
        .store
        .list(tenant)
        .await
        .map_err(|e| unavailable(&format!("the proposals cannot be read now: {e}")))?;
    Ok((list, in_plan))
}

/// `GET /api/v1/actions`: every proposal in the sequence's order.
async fn list(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ReadTenant(tenant): ReadTenant,
) -> Response {
    let (list, in_plan) = match records(&s, &tenant).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = actor(&p);
    let actions: Vec<Value> = if who.role == Role::Communication {
        list.iter().filter_map(|r| public_view(&s, r)).collect()
    } else {
        list.iter()
            .map(|r| view(&s, &tenant, r, in_plan.contains(&r.proposal.id)))
            .collect()
    };
    Json(json!({
        "tenant": tenant,
        "lang": s.config.hunt.lang,
        "directory": s.actions.config.directory.is_some(),
        "actions": actions,
    }))
    .into_response()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LogQuery {
    format: Option<String>,
    lang: Option<String>,
}

/// `GET /api/v1/crisis-log[?format=json|csv|md][&lang=en]`: the crisis
/// log (main courante) `vigie serve` keeps — every containment step with
/// who and when — as `vigie crisis-log export` writes it offline (CSV
/// with the UTC time first; Markdown in the server's zone), or JSON.
async fn crisis_log(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    crate::http::Query(q): crate::http::Query<LogQuery>,
) -> Response {
    let kept = match crate::crisis::kept(&s, &tenant).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let mut log = vigie_communicate::CrisisLog::default();
    for e in kept.log {
        log.push(e);
    }
    let lang = match q.lang.as_deref() {
        Some("en") => Lang::En,
        Some("fr") => Lang::Fr,
        _ => s.config.hunt.lang,
    };
    let (body, kind) = match q.format.as_deref() {
        None | Some("json") => {
            return Json(json!({ "tenant": tenant, "entries": log.in_order() })).into_response()
        }
        Some("csv") => (log.render_csv(), "text/csv; charset=utf-8"),
        Some("md") => (
            log.render_markdown(lang, s.config.hunt.zone),
            "text/markdown; charset=utf-8",
        ),
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("format {other:?}: json, csv or md"),
            )
        }
    };
    crate::crisis::with_headers(
        body,
        kind,
        "default-src 'none'; frame-ancestors 'none'",
        "no-store",
    )
}

/// The step asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Approve,
    Reject,
    /// Carried out by Vigie (LDAP).
    Execute,
    /// Carried out by hand from the commands, marked so.
    Done,
    RollBack,
    Publish,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Request,
        Kind::Approve,
        Kind::Reject,
        Kind::Execute,
        Kind::Done,
        Kind::RollBack,
        Kind::Publish,
    ];

    fn from_path(last: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.path() == last)
    }

    pub(crate) fn path(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Approve => "approve",
            Kind::Reject => "reject",
            Kind::Execute => "execute",
            Kind::Done => "done",
            Kind::RollBack => "rollback",
            Kind::Publish => "publish",
        }
    }

    fn audit(self) -> Action {
        match self {
            Kind::Request => Action::ActionRequest,
            Kind::Approve => Action::ActionApprove,
            Kind::Reject => Action::ActionReject,
            Kind::Execute | Kind::Done => Action::ActionExecute,
            Kind::RollBack => Action::ActionRollBack,
            Kind::Publish => Action::ActionPublish,
        }
    }

    /// The crisis log's words for a step taken.
    fn said(self, lang: Lang) -> &'static str {
        match self {
            Kind::Request => lang.pick("demandée", "requested"),
            Kind::Approve => lang.pick("approuvée (double validation)", "approved (four-eyes)"),
            Kind::Reject => lang.pick("refusée", "rejected"),
            Kind::Execute => lang.pick("exécutée", "executed"),
            Kind::Done => lang.pick("faite à la main", "done by hand"),
            Kind::RollBack => lang.pick("annulée (retour arrière)", "rolled back"),
            Kind::Publish => {
                lang.pick("avis aux habitants publié", "notice to residents published")
            }
        }
    }
}

/// The HTTP answer to a refusal of the state machine: 403 for who may
/// not (a role, one's own request), 409 for what cannot be done now.
fn refused(e: &Refusal) -> Response {
    let code = match e {
        Refusal::WrongRole { .. } | Refusal::SelfApproval { .. } | Refusal::NoAuthor => {
            StatusCode::FORBIDDEN
        }
        _ => StatusCode::CONFLICT,
    };
    let mut r = error(code, &e.to_string());
    r.extensions_mut().insert(e.clone());
    r
}

fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k)
        .and_then(|v| v.as_str())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `POST /api/v1/actions/{id}/{step}`: `{"reason"?: "…", "note"?: "…"}`
/// (JSON, or the console's form with `csrf` and `back`).
///
/// Why a task: the claim on the proposal, the directory's change and
/// the outcome kept belong to the work, not to the request. Run in the
/// request's future, a client gone while the directory answered dropped
/// the claim (another api node could execute the action again) while
/// the directory's task went on, and its outcome was never recorded. The
/// step runs to its end on a task of its own, which holds the claim; the
/// request only waits for its answer.
// An axum handler: each argument is an extractor.
#[allow(clippy::too_many_arguments)]
async fn act(
    State(s): State<Shared>,
    principal: axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    tenant: ReadTenant,
    id: Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let work = act_to_the_end(State(s), principal, ci, tenant, id, uri, headers, body);
    match tokio::spawn(work).await {
        Ok(r) => r,
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the step stopped without an answer: {e}"),
        ),
    }
}

/// The step itself, from the claim to the outcome kept ([`act`]).
#[allow(clippy::too_many_arguments)]
async fn act_to_the_end(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    ReadTenant(tenant): ReadTenant,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(kind) = uri.path().rsplit('/').next().and_then(Kind::from_path) else {
        return error(StatusCode::NOT_FOUND, "no such step");
    };
    let m: Map<String, Value> = if body.is_empty() {
        Map::new()
    } else {
        match crate::triage::parse(&headers, &body) {
            Ok(m) => m,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("a step is {{\"reason\"?: \"…\", \"note\"?: \"…\"}}: {e}"),
                )
            }
        }
    };
    let reason = text(&m, "reason").or_else(|| text(&m, "note"));
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON)
    {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the reason is longer than {MAX_REASON} characters"),
        );
    }
    if kind == Kind::Reject && reason.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "a reason is required to reject an action (it is kept in its trail)",
        );
    }
    let (who, from) = crate::triage::who_and_from(&p, ci);
    let by = actor(&p);
    let store = &s.actions.store;
    // Held from the read of the record to the outcome kept: a second
    // execution waits, then sees the first one's outcome.
    let _acting = match kind {
        Kind::Execute | Kind::Done | Kind::RollBack => Some(s.actions.acting.lock().await),
        _ => None,
    };
    // And across api nodes: claimed in the store before the record is
    // read, let go once the outcome is kept (another node's step is then
    // in the record read here).
    let _claim = match kind {
        Kind::Execute | Kind::Done | Kind::RollBack => {
            let holder = format!(
                "{who} on api node {} since {}",
                node(),
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            match store.claim(&tenant, &id, &holder, CLAIM_SECS).await {
                Ok(None) => Some(Claim {
                    store: store.clone(),
                    tenant: tenant.clone(),
                    id: id.clone(),
                    holder,
                }),
                Ok(Some(other)) => {
                    s.console.audit(
                        &who,
                        &from,
                        kind.audit(),
                        &format!("{tenant}/action:{id} =claimed by {other}"),
                        Outcome::Refused,
                    );
                    return error(
                        StatusCode::CONFLICT,
                        &tr!(
                            s.config.hunt.lang,
                            "Cette action est en cours sur un autre nœud ({}) : son résultat sera dans son historique ; relisez-la dans un instant.",
                            "This action is being carried out on another node ({}): its outcome will be in its trail; read it again in a moment.",
                            other
                        ),
                    );
                }
                Err(e) => return unavailable(&format!("the proposals cannot be claimed now: {e}")),
            }
        }
        _ => None,
    };
    // An id of a plan not asked for yet: the plan is made now.
    let found = match store.get(&tenant, &id).await {
        Ok(Some(r)) => Some(r),
        Ok(None) => {
            if let Err(r) = refresh(&s, &tenant).await {
                return r;
            }
            store.get(&tenant, &id).await.ok().flatten()
        }
        Err(e) => return unavailable(&format!("the proposals cannot be read now: {e}")),
    };
    let Some(record) = found else {
        return error(StatusCode::NOT_FOUND, &format!("no action {id:?}"));
    };
    let target = format!(
        "{tenant}/action:{id} ({} {})",
        vigie_respond::proposal::kind_key(record.proposal.kind),
        record.proposal.target
    );
    let audit = |outcome: Outcome, what: &str| {
        s.console.audit(
            &who,
            &from,
            kind.audit(),
            &format!("{target}{what}"),
            outcome,
        );
    };
    let lang = s.config.hunt.lang;
    let now = chrono::Utc::now();
    // The step as the state machine will take it; for what touches the
    // directory, checked before the directory is touched.
    let step = match kind {
        Kind::Request => Step::Request {
            reason: reason.clone().unwrap_or_default(),
        },
        Kind::Approve => Step::Approve,
        Kind::Reject => Step::Reject {
            reason: reason.clone().unwrap_or_default(),
        },
        Kind::Publish => Step::Publish,
        Kind::Done => Step::Execute {
            how: match &reason {
                Some(n) => format!("by hand: {n}"),
                None => "by hand".to_string(),
            },
        },
        Kind::Execute => {
            if executable(&s, &tenant, &record).is_none() {
                audit(Outcome::Refused, " =no_executor");
                return error(
                    StatusCode::CONFLICT,
                    &tr!(
                        lang,
                        "Vigie ne peut pas exécuter cette action elle-même ({}) : passez les commandes indiquées (PowerShell ou FortiGate, avec leur retour arrière), puis marquez-la « faite à la main » (POST /api/v1/actions/{}/done).",
                        "Vigie cannot carry this action out itself ({}): run the commands given (PowerShell or FortiGate, with their rollback), then mark it done by hand (POST /api/v1/actions/{}/done).",
                        match (
                            vigie_respond::proposal::touches_account(record.proposal.kind),
                            s.actions.config.directory.is_some(),
                        ) {
                            (true, false) => lang.pick("aucun annuaire configuré", "no directory configured"),
                            (true, true) => lang.pick(
                                "dans l'annuaire, Vigie désactive des comptes ; le reste se fait à la main",
                                "in the directory Vigie disables accounts; the rest is done by hand",
                            ),
                            (false, _) => lang.pick(
                                "ni les postes ni le pare-feu ne sont pilotés par Vigie",
                                "Vigie drives neither hosts nor the firewall",
                            ),
                        },
                        id
                    ),
                );
            }
            Step::Execute { how: "ldap".into() }
        }
        Kind::RollBack => Step::RollBack {
            how: if executed_by_ldap(&record) {
                "ldap".into()
            } else {
                match &reason {
                    Some(n) => format!("by hand: {n}"),
                    None => "by hand".to_string(),
                }
            },
        },
    };
    if let Err(e) = record.apply(&step, &by, now) {
        audit(Outcome::Refused, &format!(" ={}", step.key()));
        return refused(&e);
    }
    if kind == Kind::Publish && notice_draft(&record, lang).is_none() {
        audit(Outcome::Refused, " =publish");
        return error(
            StatusCode::CONFLICT,
            "nothing to publish: this action stops no public service",
        );
    }
    // Carried out in the directory, when that is how.
    let via_ldap = kind == Kind::Execute || (kind == Kind::RollBack && executed_by_ldap(&record));
    let step = match via_ldap {
        true => {
            let Some(dir) = s.actions.config.directory.clone() else {
                audit(Outcome::Refused, " =no_directory");
                return error(
                    StatusCode::CONFLICT,
                    "this action was executed through the directory; no directory is configured now to undo it: configure [respond.directory], or undo it by hand",
                );
            };
            let undo = kind == Kind::RollBack;
            match execute::run(dir, record.proposal.clone(), undo).await {
                Ok(how) if undo => Step::RollBack { how },
                Ok(how) => Step::Execute { how },
                Err(e) => {
                    // Never said done when it failed: the failure is the
                    // step recorded.
                    let failed = Step::Fail {
                        how: "ldap".into(),
                        error: e.clone(),
                    };
                    let r = store.apply(&tenant, &id, failed, &by, now).await;
                    audit(Outcome::Failure, &format!(" ={}: {e}", step.key()));
                    let entry = log_entry(&record, kind, &who, now, Some(&e), lang);
                    if let Err(le) = crate::crisis::log(&s, &tenant, entry).await {
                        eprintln!("vigie serve: crisis log: {le}");
                    }
                    let mut resp = (
                        StatusCode::BAD_GATEWAY,
                        Json(json!({
                            "error": tr!(lang, "l'annuaire a refusé ou n'a pas répondu : {}", "the directory refused or did not answer: {}", e),
                            "action": r.ok().map(|r| view(&s, &tenant, &r, true)),
                        })),
                    )
                        .into_response();
                    resp.headers_mut().insert(
                        axum::http::header::CACHE_CONTROL,
                        axum::http::HeaderValue::from_static("no-store"),
                    );
                    return resp;
                }
            }
        }
        false => step,
    };
    let after = match store.apply(&tenant, &id, step, &by, now).await {
        Ok(r) => r,
        Err(StoreError::Refused(e)) => {
            audit(Outcome::Refused, "");
            return refused(&e);
        }
        Err(StoreError::NotFound(_)) => {
            return error(StatusCode::NOT_FOUND, &format!("no action {id:?}"))
        }
        Err(e) => {
            audit(Outcome::Failure, "");
            return unavailable(&format!("not kept, send again: {e}"));
        }
    };
    audit(
        Outcome::Success,
        &format!(" ={}", after.trail.last().map_or("", |e| e.what.as_str())),
    );
    let entry = log_entry(&after, kind, &who, now, None, lang);
    if let Err(e) = crate::crisis::log(&s, &tenant, entry).await {
        eprintln!("vigie serve: crisis log: {e}");
    }
    if let Err(r) = consequences(&s, &tenant, &after, kind, &who, &from).await {
        return r;
    }
    crate::triage::answer(
        &headers,
        text(&m, "back").as_deref(),
        json!({ "tenant": tenant, "action": view(&s, &tenant, &after, true) }),
    )
}

/// The crisis log's entry of a step: `Action p-… (disable the account
/// presta.maint): executed — detail`.
fn log_entry(
    r: &Record,
    kind: Kind,
    who: &str,
    at: vigie_event::Timestamp,
    failed: Option<&str>,
    lang: Lang,
) -> LogEntry {
    let p = &r.proposal;
    let key = vigie_respond::proposal::kind_key(p.kind);
    let what = vigie_lang::glossary::term(lang, &key);
    let detail = r
        .trail
        .last()
        .map(|e| e.detail.clone())
        .filter(|d| !d.is_empty());
    let text = match failed {
        Some(e) => tr!(
            lang,
            "Mesure {} ({} {}) : l'exécution a échoué — {}",
            "Action {} ({} {}): execution failed — {}",
            p.id,
            what,
            p.target,
            e
        ),
        None => {
            let mut t = tr!(
                lang,
                "Mesure {} ({} {}) : {}",
                "Action {} ({} {}): {}",
                p.id,
                what,
                p.target,
                kind.said(lang)
            );
            if let Some(d) = detail {
                t.push_str(&format!(" — {d}"));
            }
            t
        }
    };
    LogEntry {
        at,
        kind: match kind {
            Kind::Approve | Kind::Reject => LogKind::Decision,
            Kind::Publish => LogKind::Communication,
            _ => LogKind::Action,
        },
        author: who.to_string(),
        text,
        refs: vec![format!("action:{}", p.id)],
    }
}

/// What a step changes beyond the proposal: an isolation executed (or
/// done by hand) sets the services its impact names to their simulated
/// status, by its executor; rolled back, they return to their derived
/// status; a notice published reaches the public page.
async fn consequences(
    s: &Shared,
    tenant: &str,
    r: &Record,
    kind: Kind,
    who: &str,
    from: &str,
) -> Result<(), Response> {
    let lang = s.config.hunt.lang;
    let p = &r.proposal;
    match kind {
        Kind::Execute | Kind::Done | Kind::RollBack if !p.impact.hosts_cut.is_empty() => {
            let undo = kind == Kind::RollBack;
            for x in &p.impact.services {
                let change = Override {
                    service: x.service.clone(),
                    status: (!undo).then_some(x.after),
                    reason: if undo {
                        tr!(
                            lang,
                            "mesure {} annulée par {}",
                            "action {} rolled back by {}",
                            p.id,
                            who
                        )
                    } else {
                        tr!(
                            lang,
                            "mesure {} exécutée par {}",
                            "action {} executed by {}",
                            p.id,
                            who
                        )
                    },
                    author: who.to_string(),
                    at: chrono::Utc::now(),
                };
                crate::crisis::set_by_action(s, tenant, change, from).await?;
            }
            Ok(())
        }
        Kind::Publish => {
            let Some(draft) = notice_draft(r, lang) else {
                return Ok(());
            };
            let kept = crate::crisis::kept(s, tenant).await?;
            let mut m = Map::new();
            // The notice in progress, or a new one.
            match kept
                .notices
                .incidents
                .iter()
                .rev()
                .find(|n| n.resolved.is_none())
            {
                Some(n) => {
                    m.insert("incident".into(), json!(n.id));
                }
                None => {
                    m.insert(
                        "title".into(),
                        json!(lang.pick(
                            "Cyberattaque : mesures de protection",
                            "Cyberattack: protective measures"
                        )),
                    );
                }
            }
            m.insert("text".into(), json!(draft));
            m.insert("phase".into(), json!("identified"));
            crate::crisis::post_notice(s, tenant, who, from, &m).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}
