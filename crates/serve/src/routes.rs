//! Who may reach what: every route in one table ([`ROUTES`]), from which
//! the router is built and which the tests enumerate — nothing is served
//! that is not in it, nothing is open that the table does not say.

use crate::{
    accounts, actions, admin, auth, body_slot, client, communes, crisis, detections, elastic,
    healthz, incidents, indicators, ingest, metrics, openapi, pages, root, rules, scope, search,
    sources, stats, system, taxii, triage, Shared,
};
pub use axum::http::Method;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::http::Query;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::tokens::Scope;

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Open: `/healthz` (no data in it) and the login page (the way in).
    Open,
    /// Any valid token or session (who am I, sign out, the API's description).
    Anyone,
    /// A token of this scope, or a session whose role grants it
    /// ([`auth::role_grants`]).
    Needs(Scope),
    /// `/`: the Elasticsearch handshake for an ingest token, the console
    /// for a session that reads; a browser without either goes to `/login`.
    Root,
    /// A page of the console: as `Needs(Read)`, and a browser without a
    /// session goes to `/login`.
    Page,
    /// The deployment's administration (audit log, metrics, rules, tokens,
    /// indicator sources — what every commune shares): a token of scope
    /// `admin` of the tenant `default`, or a session of role `admin` not
    /// bound to a commune. A commune's administrator administers its
    /// commune, not the region's.
    Deployment,
    /// What every commune shares, changed by an analyst (indicators
    /// uploaded: matched and retro-hunted for every commune): as
    /// [`Access::Triage`], from a token of the tenant `default` or an
    /// account not bound to a commune only.
    SharedTriage,
    /// Triage (status, assignee, comment, false-positive filters): an
    /// `admin` token, or a session of role `admin` or `analyst`.
    Triage,
    /// A token of this scope, or a session of one of these roles (the
    /// crisis cell's routes: see [`crisis`]); a browser without a session
    /// asking for a page goes to `/login`.
    Roles(Scope, &'static [vigie_console::Role]),
}

/// What the shippers' routes need: a token of scope `ingest`.
pub(crate) const INGEST: Access = Access::Needs(Scope::Ingest);

/// Every route, in one place: the router is built from it and the tests
/// enumerate it (nothing open but `/healthz` and the login page).
pub const ROUTES: &[(Method, &str, Access)] = &[
    (Method::GET, "/healthz", Access::Open),
    // The console's way in and out (vigie-console).
    (Method::GET, "/login", Access::Open),
    (Method::POST, "/login", Access::Open),
    (Method::POST, "/logout", Access::Anyone),
    (Method::GET, "/api/v1/me", Access::Anyone),
    (Method::GET, "/api/v1/audit", Access::Deployment),
    (Method::GET, "/api/v1/openapi.json", Access::Anyone),
    (Method::POST, "/api/v1/ingest", INGEST),
    (
        Method::GET,
        "/api/v1/detections",
        Access::Needs(Scope::Read),
    ),
    (Method::GET, "/api/v1/stats", Access::Needs(Scope::Read)),
    (Method::GET, "/metrics", Access::Deployment),
    (Method::GET, "/api/v1/scope", Access::Needs(Scope::Read)),
    (Method::GET, "/api/v1/incidents", Access::Needs(Scope::Read)),
    (Method::GET, "/api/v1/sources", Access::Needs(Scope::Read)),
    // The console's pages of the incident and its triage (pages/,
    // triage.rs).
    (Method::GET, "/communes", Access::Page),
    (Method::GET, "/communes/choose", Access::Page),
    (Method::GET, "/incidents", Access::Page),
    (Method::GET, "/incidents/table", Access::Page),
    (Method::GET, "/incidents/{id}", Access::Page),
    (Method::GET, "/detections/{id}", Access::Page),
    (Method::GET, "/filters", Access::Page),
    (Method::GET, "/rules", Access::Page),
    (Method::GET, "/api/v1/rules", Access::Needs(Scope::Read)),
    // Every tenant's rules for the deployment's administrators, its own
    // for a commune's (rules::switch).
    (
        Method::POST,
        "/api/v1/rules/{rule}/switch",
        Access::Needs(Scope::Admin),
    ),
    (Method::POST, "/api/v1/rules/update", Access::Deployment),
    (Method::GET, "/sources", Access::Page),
    (Method::GET, "/audit", Access::Deployment),
    (
        Method::GET,
        "/api/v1/detections/{id}",
        Access::Needs(Scope::Read),
    ),
    (Method::GET, "/api/v1/triage", Access::Needs(Scope::Read)),
    (Method::POST, "/api/v1/triage", Access::Triage),
    (Method::GET, "/api/v1/filters", Access::Needs(Scope::Read)),
    (Method::POST, "/api/v1/filters/{id}", Access::Triage),
    (Method::POST, "/api/v1/filters/{id}/remove", Access::Triage),
    (Method::GET, "/search", Access::Page),
    (Method::GET, "/api/v1/search", Access::Needs(Scope::Read)),
    (Method::GET, "/api/v1/searches", Access::Needs(Scope::Read)),
    (Method::POST, "/api/v1/searches", Access::Triage),
    (Method::POST, "/api/v1/searches/{id}/remove", Access::Triage),
    (Method::GET, "/accounts", Access::Deployment),
    (Method::GET, "/api/v1/accounts", Access::Deployment),
    (Method::POST, "/api/v1/accounts/{name}", Access::Deployment),
    (Method::GET, "/tokens", Access::Deployment),
    (Method::GET, "/api/v1/tokens", Access::Deployment),
    (
        Method::POST,
        "/api/v1/tokens/{id}/revoke",
        Access::Deployment,
    ),
    (
        Method::POST,
        "/api/v1/retrohunt",
        Access::Needs(Scope::Admin),
    ),
    (
        Method::GET,
        "/api/v1/retrohunts",
        Access::Needs(Scope::Read),
    ),
    (
        Method::GET,
        "/api/v1/retrohunts/{id}",
        Access::Needs(Scope::Read),
    ),
    // Containment (actions/): the live scope's plan, the four-eyes steps,
    // execution through the directory or by hand, the console's page.
    (
        Method::GET,
        "/api/v1/actions",
        Access::Roles(Scope::Read, actions::READERS),
    ),
    (
        Method::POST,
        "/api/v1/actions/{id}/request",
        Access::Roles(Scope::Admin, actions::REQUESTERS),
    ),
    (
        Method::POST,
        "/api/v1/actions/{id}/approve",
        Access::Roles(Scope::Admin, actions::APPROVERS),
    ),
    (
        Method::POST,
        "/api/v1/actions/{id}/reject",
        Access::Roles(Scope::Admin, actions::APPROVERS),
    ),
    (
        Method::POST,
        "/api/v1/actions/{id}/execute",
        Access::Roles(Scope::Admin, actions::EXECUTORS),
    ),
    (
        Method::POST,
        "/api/v1/actions/{id}/done",
        Access::Roles(Scope::Admin, actions::EXECUTORS),
    ),
    (
        Method::POST,
        "/api/v1/actions/{id}/rollback",
        Access::Roles(Scope::Admin, actions::EXECUTORS),
    ),
    (
        Method::POST,
        "/api/v1/actions/{id}/publish",
        Access::Roles(Scope::Admin, actions::PUBLISHERS),
    ),
    (
        Method::GET,
        "/actions",
        Access::Roles(Scope::Read, actions::READERS),
    ),
    // Indicators live (indicators.rs): uploaded by an analyst or an
    // administrator, listed to readers, removed by an administrator.
    (
        Method::GET,
        "/api/v1/indicators",
        Access::Needs(Scope::Read),
    ),
    (Method::POST, "/api/v1/indicators", Access::SharedTriage),
    (
        Method::DELETE,
        "/api/v1/indicators/{source}",
        Access::Deployment,
    ),
    // The live incident as FortiGate external threat feeds.
    (
        Method::GET,
        "/api/v1/blocklist/{list}",
        Access::Needs(Scope::Read),
    ),
    // TAXII 2.1, read-only (taxii.rs): discovery, an API root per tenant,
    // its collections (the live incident, the indicators held).
    (Method::GET, "/taxii2/", Access::Needs(Scope::Read)),
    (Method::GET, "/taxii2/{root}/", Access::Needs(Scope::Read)),
    (
        Method::GET,
        "/taxii2/{root}/collections/",
        Access::Needs(Scope::Read),
    ),
    (
        Method::GET,
        "/taxii2/{root}/collections/{id}/",
        Access::Needs(Scope::Read),
    ),
    (
        Method::GET,
        "/taxii2/{root}/collections/{id}/objects/",
        Access::Needs(Scope::Read),
    ),
    (
        Method::GET,
        "/taxii2/{root}/collections/{id}/objects/{object}/",
        Access::Needs(Scope::Read),
    ),
    (
        Method::GET,
        "/taxii2/{root}/collections/{id}/objects/{object}/versions/",
        Access::Needs(Scope::Read),
    ),
    (
        Method::GET,
        "/taxii2/{root}/collections/{id}/manifest/",
        Access::Needs(Scope::Read),
    ),
    (
        Method::GET,
        "/api/v1/crisis-log",
        Access::Roles(Scope::Read, crisis::BOARD_READERS),
    ),
    // The crisis cell (crisis/): the board, statuses set by hand, notices
    // for residents, the console's pages of it, and the public status
    // page — the one page open without login.
    (
        Method::GET,
        "/api/v1/services",
        Access::Roles(Scope::Read, crisis::BOARD_READERS),
    ),
    (
        Method::POST,
        "/api/v1/services/{id}/status",
        Access::Roles(Scope::Admin, crisis::STATUS_SETTERS),
    ),
    (
        Method::GET,
        "/api/v1/notices",
        Access::Roles(Scope::Read, crisis::NOTICE_READERS),
    ),
    (
        Method::POST,
        "/api/v1/notices",
        Access::Roles(Scope::Admin, crisis::PUBLISHERS),
    ),
    (
        Method::GET,
        "/crisis",
        Access::Roles(Scope::Read, crisis::BOARD_READERS),
    ),
    (
        Method::GET,
        "/crisis/notices",
        Access::Roles(Scope::Read, crisis::PUBLISHERS),
    ),
    (
        Method::GET,
        "/crisis/drafts",
        Access::Roles(Scope::Read, crisis::DRAFTERS),
    ),
    (
        Method::GET,
        "/crisis/drafts/{kind}",
        Access::Roles(Scope::Read, crisis::DRAFTERS),
    ),
    (Method::GET, "/status", Access::Open),
    (Method::GET, "/status/feed.atom", Access::Open),
    (Method::GET, "/status/history", Access::Open),
    (Method::GET, "/status/{tenant}", Access::Open),
    (Method::GET, "/status/{tenant}/feed.atom", Access::Open),
    (Method::GET, "/status/{tenant}/history", Access::Open),
    // The Elasticsearch API as Winlogbeat, Filebeat, Fluent Bit, Vector
    // and Logstash use it to send (elastic.rs).
    (Method::GET, "/", Access::Root),
    (Method::GET, "/_license", INGEST),
    (Method::POST, "/_bulk", INGEST),
    (Method::POST, "/{index}/_bulk", INGEST),
    // What shippers call before sending (templates, ILM, health), each
    // answered so that they go on to send (elastic.rs).
    (Method::GET, "/_xpack", INGEST),
    (Method::GET, "/_cluster/health", INGEST),
    (Method::GET, "/_nodes", INGEST),
    (Method::GET, "/_index_template/{name}", INGEST),
    (Method::PUT, "/_index_template/{name}", INGEST),
    (Method::GET, "/_template/{name}", INGEST),
    (Method::PUT, "/_template/{name}", INGEST),
    (Method::GET, "/_ilm/policy/{name}", INGEST),
    (Method::PUT, "/_ilm/policy/{name}", INGEST),
    // Filebeat's modules: the processors they need, then their ingest
    // pipelines (looked for, else installed) at start-up.
    (Method::GET, "/_nodes/ingest", INGEST),
    (Method::GET, "/_ingest/pipeline/{id}", INGEST),
    (Method::PUT, "/_ingest/pipeline/{id}", INGEST),
];

pub(crate) fn router(state: Shared, gate: auth::Gate) -> Router {
    let gate = Arc::new(gate);
    let console = gate.console.clone();
    let mut app = Router::new();
    for (method, path, access) in ROUTES {
        let c = console.clone();
        let handler = match (method.clone(), *path) {
            (Method::GET, "/login") => get(
                move |headers: HeaderMap, Query(q): Query<vigie_console::web::LangQuery>| {
                    vigie_console::web::login_get(c, headers, q)
                },
            ),
            (Method::POST, "/login") => post(
                move |ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
                      headers: HeaderMap,
                      axum::Form(form): axum::Form<vigie_console::web::LoginForm>| {
                    vigie_console::web::login_post(c, client(ci), headers, form)
                },
            ),
            (_, "/logout") => post(
                move |ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
                      axum::Extension(p): axum::Extension<vigie_console::Principal>,
                      headers: HeaderMap| {
                    vigie_console::web::logout(c, client(ci), p, headers)
                },
            ),
            (_, "/api/v1/me") => get(
                |axum::Extension(p): axum::Extension<vigie_console::Principal>,
                 headers: HeaderMap,
                 Query(q): Query<vigie_console::web::LangQuery>| async move {
                    vigie_console::web::me(&p, vigie_console::web::lang_of(q.lang.as_deref(), &headers))
                },
            ),
            (_, "/api/v1/audit") => get(
                move |ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
                      axum::Extension(p): axum::Extension<vigie_console::Principal>| {
                    vigie_console::web::audit_export(c, client(ci), p)
                },
            ),
            (_, "/api/v1/openapi.json") => get(|| async { Json(openapi::document()) }),
            (_, "/communes") => get(communes::landing),
            (_, "/communes/choose") => get(communes::choose),
            (_, "/incidents") => get(pages::incidents),
            (_, "/incidents/table") => get(pages::incidents_fragment),
            (_, "/incidents/{id}") => get(pages::incident),
            (_, "/detections/{id}") => get(pages::detection),
            (_, "/filters") => get(pages::filters),
            (_, "/rules") => get(rules::page),
            (_, "/api/v1/rules") => get(rules::api),
            (_, "/api/v1/rules/{rule}/switch") => post(rules::switch),
            (_, "/api/v1/rules/update") => post(rules::update),
            (_, "/sources") => get(system::sources),
            (_, "/audit") => get(system::audit),
            (_, "/api/v1/detections/{id}") => get(pages::detection_json),
            (Method::GET, "/api/v1/triage") => get(triage::list),
            (Method::POST, "/api/v1/triage") => post(triage::post),
            (_, "/api/v1/filters") => get(triage::filters),
            (_, "/api/v1/filters/{id}") => post(triage::edit),
            (_, "/api/v1/filters/{id}/remove") => post(triage::remove),
            (_, "/search") => get(search::page),
            (_, "/api/v1/search") => get(search::api),
            (Method::GET, "/api/v1/searches") => get(search::saved),
            (Method::POST, "/api/v1/searches") => post(search::save),
            (_, "/api/v1/searches/{id}/remove") => post(search::remove),
            (_, "/accounts") => get(accounts::page),
            (_, "/api/v1/accounts") => get(accounts::list),
            (_, "/api/v1/accounts/{name}") => post(accounts::change),
            (_, "/tokens") => get(admin::page),
            (_, "/api/v1/tokens") => get(admin::list),
            (_, "/api/v1/tokens/{id}/revoke") => post(admin::revoke),
            (Method::GET, "/api/v1/services") => get(crisis::list),
            (_, "/api/v1/services/{id}/status") => post(crisis::set_status),
            (Method::GET, "/api/v1/notices") => get(crisis::notices),
            (Method::POST, "/api/v1/notices") => post(crisis::publish),
            (_, "/crisis") => get(crisis::pages::board_page),
            (_, "/crisis/notices") => get(crisis::pages::notices_page),
            (_, "/crisis/drafts") => get(crisis::drafts::list),
            (_, "/crisis/drafts/{kind}") => get(crisis::drafts::one),
            (_, "/status") => get(crisis::public::default_page),
            (_, "/status/feed.atom") => get(crisis::public::default_feed),
            (_, "/status/history") => get(crisis::public::default_history),
            (_, "/status/{tenant}") => get(crisis::public::tenant_page),
            (_, "/status/{tenant}/feed.atom") => get(crisis::public::tenant_feed),
            (_, "/status/{tenant}/history") => get(crisis::public::tenant_history),
            (_, p) if actions::handles(p) => actions::route(p),
            (Method::PUT, _) => axum::routing::put(elastic::acknowledged),
            (_, "/_xpack") => get(elastic::xpack),
            (_, "/_cluster/health") => get(elastic::health),
            (_, "/_nodes") => get(elastic::nodes),
            (_, "/_index_template/{name}") => get(elastic::index_template),
            (_, "/_template/{name}") => get(elastic::legacy_template),
            (_, "/_ilm/policy/{name}") => get(elastic::ilm_policy),
            (_, "/_nodes/ingest") => get(elastic::ingest_nodes),
            (_, "/_ingest/pipeline/{id}") => get(elastic::ingest_pipeline),
            (_, "/healthz") => get(healthz),
            (_, "/api/v1/ingest") => post(ingest),
            (_, "/api/v1/detections") => get(detections),
            (_, "/api/v1/stats") => get(stats),
            (_, "/metrics") => get(metrics),
            (_, "/api/v1/scope") => get(scope),
            (_, "/api/v1/incidents") => get(incidents),
            (_, "/api/v1/sources") => get(sources),
            (_, "/api/v1/retrohunt") => post(crate::retrohunt::http::post),
            (_, "/api/v1/retrohunts") => get(crate::retrohunt::runs::list),
            (_, "/api/v1/retrohunts/{id}") => get(crate::retrohunt::runs::get),
            (Method::GET, "/api/v1/indicators") => get(indicators::list),
            (Method::POST, "/api/v1/indicators") => post(indicators::upload),
            (_, "/api/v1/indicators/{source}") => axum::routing::delete(indicators::remove),
            (_, "/api/v1/blocklist/{list}") => get(indicators::blocklist),
            (Method::GET, p) if p.starts_with(taxii::BASE) => get(taxii::get),
            (_, "/") => get(root),
            (_, "/_license") => get(elastic::license),
            (_, "/_bulk" | "/{index}/_bulk") => post(elastic::bulk),
            (m, other) => unreachable!("route {m} {other} without a handler"),
        };
        // Bodies are read inside a slot (layered before the token check,
        // so only authenticated requests wait for one).
        let handler = if *method == Method::POST && *path != "/api/v1/retrohunt" {
            handler.route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                body_slot,
            ))
        } else {
            handler
        };
        let handler = match *access {
            Access::Open => handler,
            access => {
                let gate = gate.clone();
                handler.route_layer(axum::middleware::from_fn(
                    move |req: axum::extract::Request, next: axum::middleware::Next| {
                        auth::check(gate.clone(), access, req, next)
                    },
                ))
            }
        };
        app = app.route(path, handler);
    }
    app.with_state(state)
}
