//! `vigie serve`: the live driver of the pipeline.
//!
//! ```text
//! POST /api/v1/ingest ──► JSON checked per line ──► EventLog.append (durable) ──► 200 + counts
//!                                                        │
//!         detection worker: consume ──► vigie-source ──► the engine hunt compiles ──► detections (durable) ──► commit
//! ```
//!
//! `hunt` and `serve` are two drivers of the same stages: the worker reads
//! each event with `vigie-source` and judges it with
//! [`vigie_hunt::Detectors`], compiled by [`vigie_hunt::compile_engine`]
//! from the same rule sources. This first slice serves JSON Lines over
//! HTTP with token authentication; the other listeners, the live scope,
//! retro-hunt and the console come next (docs/serve.md).

pub mod actions;
mod admin;
pub mod alerts;
mod archive;
mod auth;
pub mod crisis;
pub mod elastic;
pub mod file;
pub mod health;
pub mod index;
pub mod indicators;
pub mod live;
pub mod mask;
mod openapi;
pub mod pages;
pub mod retrohunt;
mod rules;
pub mod search;
mod seen;
pub mod syslog;
mod system;
mod taxii;
pub mod tls;
pub mod tokens;
pub mod triage;
pub mod worker;

/// The HTTP method of a route in [`ROUTES`].
pub use axum::http::Method;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use vigie_store::embedded::FileLog;
use vigie_store::{DetectionStore, EventLog, IngestBatch};

use tokens::{Scope, TokenStore};

/// Everything `vigie serve` is told.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where everything is kept (`--data`).
    pub data: PathBuf,
    /// HTTP listener (`--listen`), loopback by default.
    pub listen: SocketAddr,
    /// The rules, as `hunt` takes them.
    pub hunt: vigie_hunt::HuntConfig,
    /// Largest request body, compressed or not (bytes).
    pub max_body: usize,
    /// Largest body once decompressed (bytes).
    pub max_inflated: usize,
    /// Largest line of JSON Lines, or syslog message (bytes).
    pub max_line: usize,
    /// Syslog over UDP (`--syslog-udp`), off unless given.
    pub syslog_udp: Option<SocketAddr>,
    /// Syslog over TCP (`--syslog-tcp`), off unless given.
    pub syslog_tcp: Option<SocketAddr>,
    /// JSON Lines over TCP (`--ndjson-tcp`: NXLog `om_tcp`, OpenWEC), off
    /// unless given.
    pub ndjson_tcp: Option<SocketAddr>,
    /// HTTPS for the HTTP listener (`--tls`, `--tls-cert`/`--tls-key`,
    /// `--no-tls`).
    pub tls: tls::Tls,
    /// Syslog over TLS (`--syslog-tls`, RFC 5425), off unless given.
    pub syslog_tls: Option<SocketAddr>,
    /// JSON Lines over TLS (`--ndjson-tls`: NXLog `om_ssl`), off unless
    /// given.
    pub ndjson_tls: Option<SocketAddr>,
    /// The certificate of the TLS listeners: `--tls-cert`/`--tls-key`
    /// when given (even with `--no-tls`, which is about HTTP), else the
    /// self-signed one under `data/tls/`.
    pub listener_tls: tls::Tls,
    /// Senders on the TLS listeners must show a certificate signed by
    /// this CA (`--tls-client-ca`, PEM).
    pub tls_client_ca: Option<PathBuf>,
    /// Client certificates revoked by that CA (`--tls-client-crl`, PEM
    /// CRLs): refused at the handshake. Read again on SIGHUP.
    pub tls_client_crl: Option<PathBuf>,
    /// Which commune each certified sender sends for (`[tls_senders]`:
    /// certificate name = tenant); empty: all `default`'s.
    pub tls_senders: std::collections::BTreeMap<String, String>,
    /// How long and how much of the event log is kept.
    pub retention: vigie_store::embedded::Retention,
    /// The JetStream stream's limits: only those given
    /// (`--retention-days`/`--retention-gb` or their keys); a limit not
    /// given stays the operator's (the embedded log's defaults would not
    /// fit a region).
    pub stream_limits: vigie_bus::StreamLimits,
    /// A channel that sent nothing for this long is silent (seconds).
    pub silence_secs: u64,
    /// Where alerts are sent (a webhook URL: from the configuration file
    /// or `VIGIE_ALERT_WEBHOOK`, never the command line), off unless given.
    pub alert_webhook: Option<String>,
    /// The SMTP relay alerts are mailed through (`smtp://` or `smtps://`,
    /// credentials in the URL: configuration file or `VIGIE_ALERT_SMTP`
    /// only), off unless given.
    pub alert_smtp: Option<String>,
    /// The sender of alert mails (`--alert-email-from`).
    pub alert_email_from: Option<String>,
    /// Who receives alert mails (`--alert-email-to`, repeatable).
    pub alert_email_to: Vec<String>,
    /// Alerts forwarded as syslog with CEF (`--alert-syslog
    /// udp://HOST:PORT` or `tcp://HOST:PORT`), off unless given.
    pub alert_syslog: Option<String>,
    /// The regional event log: NATS JetStream at this URL (`--bus
    /// nats://HOST:PORT`) instead of the embedded one in `data`.
    pub bus: Option<String>,
    /// The stream's archive (`--archive DIR`, api or all node with
    /// `bus`): events kept after the stream removed them.
    pub archive: Option<PathBuf>,
    /// How long and how much the archive keeps (`--archive-days`,
    /// `--archive-gb`).
    pub archive_policy: vigie_store::archive::ArchivePolicy,
    /// How long an event given to a detection worker of `bus` stays its
    /// own before another gets it (`--bus-ack-wait`, seconds): how long a
    /// dead worker's events wait.
    pub bus_ack_wait: u64,
    /// The regional detection store: PostgreSQL at this URL (`--db
    /// postgres://USER@HOST:PORT/DB`) instead of `data/detections.jsonl`.
    pub db: Option<String>,
    /// What this process does (`--role`, default `all`).
    pub role: NodeRole,
    /// Containment (`[respond]`: the responders' addresses, the directory).
    pub respond: actions::RespondConfig,
    /// Indicator feeds polled (`--ioc-feed`, `ioc_feeds`), with their
    /// credentials (never printed: see [`indicators::feeds::Feed`]).
    pub ioc_feeds: Vec<indicators::feeds::Feed>,
    /// How often they are polled (`--ioc-poll`, default 1 h).
    pub ioc_poll: std::time::Duration,
}

/// What one `vigie serve` process does in a deployment (`--role`). Not
/// a person's role (that is `vigie_access::Role`): a node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Everything: one commune's server.
    #[default]
    All,
    /// Takes events (HTTP, syslog, NDJSON) and appends them to the log.
    Ingest,
    /// Judges the log's events and stores the detections (several share
    /// the log's `detect` consumer).
    Detect,
    /// Answers reads from the detection store.
    Api,
}

impl NodeRole {
    const ALL: [NodeRole; 4] = [
        NodeRole::All,
        NodeRole::Ingest,
        NodeRole::Detect,
        NodeRole::Api,
    ];

    /// The key, as in `--role` and the configuration file.
    pub fn key(self) -> &'static str {
        match self {
            NodeRole::All => "all",
            NodeRole::Ingest => "ingest",
            NodeRole::Detect => "detect",
            NodeRole::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<NodeRole> {
        NodeRole::ALL.into_iter().find(|r| r.key() == s)
    }

    /// Takes events.
    pub fn ingests(self) -> bool {
        matches!(self, NodeRole::All | NodeRole::Ingest)
    }

    /// Runs the detection worker.
    pub fn detects(self) -> bool {
        matches!(self, NodeRole::All | NodeRole::Detect)
    }
}

impl Config {
    pub fn new(data: PathBuf) -> Config {
        Config {
            data,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            hunt: vigie_hunt::HuntConfig::default(),
            max_body: 32 << 20,
            max_inflated: 256 << 20,
            max_line: 1 << 20,
            syslog_udp: None,
            syslog_tcp: None,
            ndjson_tcp: None,
            alert_webhook: None,
            alert_smtp: None,
            alert_email_from: None,
            alert_email_to: Vec::new(),
            alert_syslog: None,
            silence_secs: health::SILENCE_SECS,
            tls: tls::Tls::Off,
            syslog_tls: None,
            ndjson_tls: None,
            listener_tls: tls::Tls::SelfSigned,
            tls_client_ca: None,
            tls_client_crl: None,
            tls_senders: Default::default(),
            retention: DEFAULT_RETENTION,
            stream_limits: vigie_bus::StreamLimits {
                max_age_secs: None,
                max_bytes: None,
            },
            bus: None,
            archive: None,
            archive_policy: DEFAULT_ARCHIVE,
            bus_ack_wait: 60,
            db: None,
            role: NodeRole::All,
            respond: actions::RespondConfig::default(),
            ioc_feeds: Vec::new(),
            ioc_poll: std::time::Duration::from_secs(3600),
        }
    }
}

/// The event log keeps 90 days and at most 20 GiB by default: a week of
/// a commune of 20,000 residents (the demo's week scale) is about 1.5 GB,
/// so a quarter fits; the disk is never filled without bound.
pub const DEFAULT_RETENTION: vigie_store::embedded::Retention = vigie_store::embedded::Retention {
    max_age: Some(std::time::Duration::from_secs(90 * 24 * 3600)),
    max_bytes: Some(20 << 30),
};

/// The archive keeps a year and at most 500 GiB by default (a region's
/// year of events, compressed about tenfold, is a few TB at 100,000
/// events/s: the operator sizes it, the default never fills a disk
/// unseen).
pub const DEFAULT_ARCHIVE: vigie_store::archive::ArchivePolicy =
    vigie_store::archive::ArchivePolicy {
        max_age: Some(std::time::Duration::from_secs(365 * 24 * 3600)),
        max_bytes: 500 << 30,
    };

/// Applies the retention policy at start and every ten minutes, never
/// removing events the detection worker has not judged.
async fn retain(
    log: FileLog,
    policy: vigie_store::embedded::Retention,
    live: Arc<live::LiveScope>,
    index: Option<Arc<index::EventIndex>>,
) {
    // Not while the live scope is rebuilt: its reader must not lose the
    // segment it is in.
    while !live.rebuilt.load(Ordering::Acquire) {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    loop {
        let keep_from = match log.committed(worker::CONSUMER).await {
            Ok(Some(p)) => p.0 + 1,
            Ok(None) => 0,
            Err(e) => {
                eprintln!("vigie serve: retention: {e}");
                0
            }
        };
        let l = log.clone();
        match tokio::task::spawn_blocking(move || l.retain(&policy, keep_from)).await {
            Ok(Ok(r)) => {
                // The index keeps nothing of what the log no longer holds.
                if let Some(ix) = &index {
                    ix.forget_below(r.oldest_kept);
                }
                if r.segments > 0 {
                    eprintln!(
                        "vigie serve: retention: {} segment(s), {} bytes removed; events kept from position {}",
                        r.segments, r.bytes, r.oldest_kept
                    );
                }
                if r.over_limit {
                    eprintln!(
                        "vigie serve: retention: the event log ({} bytes) is over its limit with events not judged yet: kept",
                        r.bytes_kept
                    );
                }
            }
            Ok(Err(e)) => eprintln!("vigie serve: retention: {e}"),
            Err(e) => eprintln!("vigie serve: retention: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
}

/// Re-derives each tenant's scope every few seconds when new events
/// were observed, so that the stats' incident count, the console and the
/// alerts follow the events without anyone asking first.
///
/// At most a third of the time goes to it: after an analysis that took
/// `d`, the next waits `max(5 s, 2·d)` — on a large scope under a heavy
/// ingest, detection keeps the machine.
async fn keep_scope_current(live: Arc<live::LiveScope>) {
    let mut wait = std::time::Duration::from_secs(5);
    loop {
        tokio::time::sleep(wait).await;
        if !live.rebuilt.load(Ordering::Acquire) {
            continue;
        }
        let l = live.clone();
        let started = std::time::Instant::now();
        let _ = tokio::task::spawn_blocking(move || {
            for tenant in l.tenants() {
                l.answer(&tenant);
            }
            give_back_free_memory();
        })
        .await;
        wait = std::time::Duration::from_secs(5).max(started.elapsed() * 2);
    }
}

/// Returns the allocator's free pages to the system.
///
/// Why: each answer copies the scope's facts and derives a scope from
/// them, then frees it all; glibc keeps what was freed inside its arenas
/// (only the top of a heap is given back by itself), so the resident size
/// climbed with every answer's garbage to far above what was in use (at
/// the end of a week replayed: 153 MiB free held for 104 MiB in use).
/// `malloc_trim` walks the arenas and gives whole free pages back; after
/// an answer, when most of the garbage was just freed.
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

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

pub use auth::role_grants;

/// What the shippers' routes need: a token of scope `ingest`.
const INGEST: Access = Access::Needs(Scope::Ingest);

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
    // The console's pages of the incident and its triage (pages.rs,
    // triage.rs).
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
];

pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) log: Arc<dyn EventLog>,
    /// `tokens.jsonl`, or PostgreSQL with `--db` (every node the same).
    pub(crate) tokens: Arc<dyn TokenStore>,
    detections: Arc<dyn DetectionStore>,
    progress: Arc<worker::Progress>,
    live: Arc<live::LiveScope>,
    health: Arc<health::Health>,
    alerting: Option<Arc<alerts::Alerting>>,
    /// The stream's archive (`--archive`), for its figures.
    archive: Option<Arc<vigie_store::archive::Archive>>,
    /// Held while a retro-hunt runs (one at a time: it reads the whole log).
    retrohunting: tokio::sync::Mutex<()>,
    /// The indicators held: `--ioc` and the uploaded sources.
    pub(crate) intel: Arc<indicators::Intel>,
    syslog: Arc<syslog::SyslogStats>,
    /// Requests told 429 because every body slot stayed taken.
    busy: AtomicU64,
    /// The console (accounts, sessions, audit log).
    pub(crate) console: Arc<vigie_console::Console>,
    /// The judging in force (swapped when a false-positive filter
    /// changes the rules).
    pub(crate) judging: Arc<worker::Current>,
    /// Triage: status, assignee, comments, false-positive filters.
    pub(crate) triage: Arc<dyn vigie_store::triage::TriageStore>,
    /// Held while the rules change (one rebuild at a time).
    pub(crate) rules_change: tokio::sync::Mutex<()>,
    /// What the last compilation of the rules said (swapped with the
    /// engine).
    pub(crate) rules: std::sync::RwLock<Arc<rules::Loaded>>,
    /// Held while an event search reads the log (one at a time).
    pub(crate) searching: tokio::sync::Mutex<()>,
    /// Each block of the log's time span and hosts per tenant, for the
    /// search (embedded log only).
    pub(crate) index: Option<Arc<index::EventIndex>>,
    /// The crisis cell's journal (statuses set by hand, notices).
    pub(crate) crisis: crisis::Cell,
    /// Containment: the proposals and what executes them.
    pub(crate) actions: actions::Respond,
    /// Bodies being inflated and checked at once: each may take
    /// `max_inflated` bytes, so their number is what bounds memory.
    pub(crate) bodies: Arc<tokio::sync::Semaphore>,
}

/// Request bodies inflated and checked at the same time, at most.
pub const BODIES_AT_ONCE: usize = 4;

pub(crate) type Shared = Arc<AppState>;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Store(#[from] vigie_store::StoreError),
    #[error("{0}")]
    Rules(#[from] vigie_hunt::HuntError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Tokens(String),
    #[error("{0}")]
    Indicators(String),
    #[error("{0}")]
    Config(String),
}

/// The embedded state of `data` (`state.db`), the former files imported
/// into it first (what was imported, and any damaged line, said).
fn open_state(data: &std::path::Path) -> Result<Arc<vigie_state::Db>, ServeError> {
    let imported = vigie_state::import(data)?;
    for line in imported.lines() {
        eprintln!("vigie serve: {line}");
    }
    let db = vigie_state::Db::open(data)?;
    eprintln!("vigie serve: state in {}", db.place());
    Ok(db)
}

/// Opens the store, compiles the rules, starts the worker and serves
/// until the process ends. `on_ready` is told the URL listened on
/// (`http://` or `https://`).
pub async fn serve(config: Config, on_ready: impl FnOnce(&str)) -> Result<(), ServeError> {
    // SIGHUP is taken first: its default would end the process, and a
    // `systemctl reload` (a certificate renewed) may come while the rules
    // compile; one that arrives before it is read waits for it.
    #[cfg(unix)]
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    // Without `--db`, the state is `state.db` in `data`: a data
    // directory of an earlier Vigie (JSON Lines files) is imported first,
    // before anything reads or writes the state.
    let state = match &config.db {
        Some(_) => None,
        None => Some(open_state(&config.data)?),
    };
    // With `--db`, the tokens are the database's: one set for every node.
    let (tokens, imported) =
        tokens::open_store(&config.data, config.db.as_deref()).map_err(ServeError::Tokens)?;
    eprintln!("vigie serve: data in {}", config.data.display());
    if config.role == NodeRole::Api && config.db.is_none() {
        return Err(ServeError::Config(
            "--role api answers reads from PostgreSQL: give --db postgres://USER@HOST:PORT/DB"
                .into(),
        ));
    }
    if config.role != NodeRole::All && config.bus.is_none() {
        return Err(ServeError::Config(format!(
            "--role {} is a part of a regional deployment: give --bus nats://HOST:PORT (the embedded log is one process's)",
            config.role.key()
        )));
    }
    if config.archive.is_some()
        && (config.bus.is_none() || !matches!(config.role, NodeRole::Api | NodeRole::All))
    {
        return Err(ServeError::Config(
            "--archive keeps the events of a regional stream for the retro-hunts, searches and detection pages of an api node: give it with --bus on --role api (or all); the embedded log keeps its own events".into(),
        ));
    }
    // The embedded log in `data`, or the regional one on NATS JetStream.
    let (file_log, log, archive): (Option<FileLog>, Arc<dyn EventLog>, _) = match &config.bus {
        Some(url) => {
            eprintln!(
                "vigie serve: event log on NATS JetStream at {url} (role {})",
                config.role.key()
            );
            let opts = vigie_bus::Options {
                local: vec![
                    worker::REPLAY.into(),
                    worker::OBSERVER.into(),
                    retrohunt::CONSUMER_PREFIX.into(),
                ],
                ack_wait: std::time::Duration::from_secs(config.bus_ack_wait.max(1)),
                limits: config.stream_limits,
                ..vigie_bus::Options::default()
            };
            let stream: Arc<dyn EventLog> = Arc::new(vigie_bus::JetStreamLog::new(url, opts));
            let (log, archive) = archive::open(&config, stream).await?;
            (None, log, archive)
        }
        None => {
            let (log, recovery) =
                FileLog::open(&config.data, vigie_store::embedded::SEGMENT_BYTES)?;
            if recovery.truncated_bytes > 0 {
                eprintln!(
                    "vigie serve: event log: a torn last batch ({} bytes at offset {} of the last segment, never acknowledged) was cut",
                    recovery.truncated_bytes,
                    recovery.truncated_at.unwrap_or_default()
                );
            }
            (Some(log.clone()), Arc::new(log), None)
        }
    };
    // The state people change (triage, crisis journal, proposals): in the
    // data directory, or in PostgreSQL with `--db`, where every api node
    // reads and writes the same.
    let triage: Arc<dyn vigie_store::triage::TriageStore> = match &config.db {
        Some(url) => {
            let db = vigie_db::PgTriage::new(url);
            eprintln!(
                "vigie serve: triage, crisis journal and containment proposals in {}",
                db.place()
            );
            Arc::new(db)
        }
        None => Arc::new(vigie_state::SqliteTriage::new(
            state.clone().expect("opened without --db"),
        )),
    };
    // With the console's false-positive filters applied and the rules
    // turned off left out.
    let (engine, loaded) = rules::compile(&config.data, config.hunt.clone(), &*triage)
        .await
        .map_err(ServeError::Config)?;
    if !loaded.report.failures.is_empty() {
        eprintln!(
            "vigie serve: {} rule(s) not loaded (see `vigie rules check` or /rules)",
            loaded.report.failures.len()
        );
    }
    let detections: Arc<dyn DetectionStore> = match &config.db {
        Some(url) => {
            let db = vigie_db::PgDetections::new(url);
            eprintln!("vigie serve: detections in {}", db.place());
            Arc::new(db)
        }
        // A connection of their own: the worker's writes and the
        // console's reads of the rest of the state do not wait for each
        // other (WAL).
        None => Arc::new(vigie_state::SqliteDetections::new(vigie_state::Db::open(
            &config.data,
        )?)),
    };
    let (assets, tenant_assets) = load_assets(config.hunt.assets.as_deref())?;
    // With `--db`, the uploaded indicators are PostgreSQL's (every node
    // matches the same), read before the first event is judged.
    let shared_indicators = match &config.db {
        Some(url) => {
            let db = Arc::new(vigie_db::PgIndicators::new(url));
            let (version, sources) = db.all().await?;
            Some(indicators::SharedSources {
                db,
                version,
                sources,
            })
        }
        None => None,
    };
    let (intel, retro_queue) = {
        let (embedded, ioc) = (state.clone(), config.hunt.ioc.clone());
        let feeds: Vec<String> = config
            .ioc_feeds
            .iter()
            .map(indicators::feeds::Feed::name)
            .collect();
        tokio::task::spawn_blocking(move || {
            let (intel, queue) =
                indicators::Intel::open(embedded, &ioc, &feeds, shared_indicators)?;
            let matcher = intel.compile_now();
            Ok::<_, String>((Arc::new(intel), queue, matcher))
        })
        .await
        .map_err(|e| ServeError::Indicators(e.to_string()))?
        .map(|(intel, queue, matcher)| ((intel, matcher), queue))
        .map_err(ServeError::Indicators)?
    };
    let (intel, indicators) = intel;
    if let Some(report) = intel.fixed_report() {
        eprintln!(
            "vigie serve: {} indicator(s) of --ioc matched on every event ({} left out)",
            report.imported,
            report.left_out()
        );
    }
    let engine = Arc::new(engine);
    let judging = Arc::new(worker::Current::new(Arc::new(worker::Judging {
        engine: engine.clone(),
        indicators,
        read: config.hunt.read.clone(),
    })));
    judging.set_off(loaded.tenant_off());
    let sinks = alert_sinks(&config)?;
    // The live ids and the alerting's journal, kept across a restart (an
    // ingest node derives no incident and alerts from nothing).
    let node_state = (config.role != NodeRole::Ingest || !sinks.is_empty())
        .then(|| live::node_state(&config.data, state.as_ref()))
        .transpose()?;
    let live = live::LiveScope::new(
        assets,
        engine.clone(),
        config.hunt.lang,
        config.hunt.zone,
        node_state
            .clone()
            .map(|db| Arc::new(vigie_state::SqliteIncidentIds::new(db))),
    )?;
    let live = Arc::new(match tenant_assets {
        Some(by_tenant) => live.with_tenant_assets(by_tenant),
        None => live,
    });
    let health = Arc::new(health::Health::new(config.silence_secs));
    let alerting = match node_state.filter(|_| !sinks.is_empty()) {
        Some(db) => {
            let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
            eprintln!("vigie serve: alerts to: {}", names.join(", "));
            let kept = Arc::new(vigie_state::SqliteAlerts::new(db));
            Some(Arc::new(alerts::Alerting::new(sinks, kept)?))
        }
        None => None,
    };
    if let Some(a) = &alerting {
        tokio::spawn(alerts::run(live.clone(), health.clone(), a.clone()));
    }
    tokio::spawn(keep_scope_current(live.clone()));
    // Where a search can skip (the embedded log only: a JetStream
    // consumer is not moved by position).
    let index = file_log
        .is_some()
        .then(|| Arc::new(index::EventIndex::default()));
    if let Some(file_log) = file_log {
        tokio::spawn(retain(
            file_log,
            config.retention,
            live.clone(),
            index.clone(),
        ));
    }
    let progress = Arc::new(worker::Progress::default());
    // The duplicates' window, taken whole before the first event is judged
    // and before the server answers ([`worker::Seen::reserved`]).
    // Only where events are judged (an ingest node judges none).
    let seen = Arc::new(if config.role.detects() || config.role == NodeRole::Api {
        tokio::task::spawn_blocking(worker::Seen::reserved)
            .await
            .unwrap_or_default()
    } else {
        worker::Seen::default()
    });
    if config.role.detects() {
        tokio::spawn(worker::run(
            log.clone(),
            judging.clone(),
            detections.clone(),
            progress.clone(),
            live.clone(),
            health.clone(),
            config.role == NodeRole::All,
            index.clone(),
            seen.clone(),
        ));
    }
    if config.role == NodeRole::Api {
        tokio::spawn(worker::observe_stream(
            log.clone(),
            judging.clone(),
            live.clone(),
            health.clone(),
            seen,
        ));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Io {
            what: format!("listen on {}", config.listen),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Io {
        what: "listener address".into(),
        source,
    })?;
    let syslog_stats = Arc::new(syslog::SyslogStats::default());
    if let Some(addr) = config.syslog_udp.filter(|_| config.role.ingests()) {
        let (at, task) = syslog::udp(addr, log.clone(), syslog_stats.clone())
            .await
            .map_err(|source| ServeError::Io {
                what: format!("syslog UDP on {addr}"),
                source,
            })?;
        eprintln!("vigie serve: syslog UDP on {at}");
        tokio::spawn(task);
    }
    let acceptor = match (config.syslog_tls, config.ndjson_tls) {
        (None, None) => None,
        _ if !config.role.ingests() => None,
        _ => Some(Arc::new(tls::Senders::new(
            listener_acceptor(&config, true)?.0,
            config.tls_senders.clone(),
        ))),
    };
    for (addr, source, said, tls) in [
        (config.syslog_tcp, "syslog-tcp", "syslog TCP", None),
        (config.ndjson_tcp, "ndjson-tcp", "NDJSON TCP", None),
        (
            config.syslog_tls,
            "syslog-tls",
            "syslog TLS",
            acceptor.clone(),
        ),
        (
            config.ndjson_tls,
            "ndjson-tls",
            "NDJSON TLS",
            acceptor.clone(),
        ),
    ] {
        let Some(addr) = addr.filter(|_| config.role.ingests()) else {
            continue;
        };
        let (at, task) = syslog::tcp(
            addr,
            log.clone(),
            syslog_stats.clone(),
            config.max_line,
            source,
            tls,
        )
        .await
        .map_err(|source| ServeError::Io {
            what: format!("{said} on {addr}"),
            source,
        })?;
        eprintln!("vigie serve: {said} on {at}");
        tokio::spawn(task);
    }
    let max_body = config.max_body;
    let console = vigie_console::Console::new(&config.data);
    // With `--db`, the audit log is the database's: one chain for every
    // api node.
    let console = Arc::new(match &config.db {
        Some(url) => {
            let io = |source| ServeError::Io {
                what: "the console's database runtime".into(),
                source,
            };
            console
                .with_audit_log(Arc::new(vigie_db::PgAudit::new(url).map_err(io)?))
                .with_accounts(
                    Arc::new(vigie_db::PgUsers::new(url).map_err(io)?),
                    Arc::new(vigie_db::PgSessions::new(url).map_err(io)?),
                )
                .with_throttle(Arc::new(vigie_db::PgThrottle::new(url).map_err(io)?))
        }
        None => {
            let state = state.clone().expect("opened without --db");
            console
                .with_audit_log(Arc::new(vigie_state::SqliteAudit::new(state.clone())))
                .with_accounts(
                    Arc::new(vigie_state::SqliteUsers::new(state.clone())),
                    Arc::new(vigie_state::SqliteSessions::new(state)),
                )
        }
    });
    let journal: Arc<dyn vigie_store::crisis::CrisisJournal> = match &config.db {
        Some(url) => Arc::new(vigie_db::PgCrisis::new(url)),
        None => Arc::new(vigie_state::SqliteCrisis::new(
            state.clone().expect("opened without --db"),
        )),
    };
    let respond =
        actions::Respond::open(state.clone(), config.db.as_deref(), config.respond.clone())
            .map_err(|e| ServeError::Config(e.to_string()))?;
    let state = Arc::new(AppState {
        actions: respond,
        console: console.clone(),
        judging,
        triage,
        rules_change: tokio::sync::Mutex::new(()),
        rules: std::sync::RwLock::new(Arc::new(loaded)),
        searching: tokio::sync::Mutex::new(()),
        index,
        crisis: crisis::Cell::new(journal),
        config,
        log,
        tokens: tokens.clone(),
        detections,
        progress,
        live,
        health,
        alerting,
        retrohunting: tokio::sync::Mutex::new(()),
        archive,
        intel,
        syslog: syslog_stats,
        busy: AtomicU64::new(0),
        bodies: Arc::new(tokio::sync::Semaphore::new(BODIES_AT_ONCE)),
    });
    let https_names = {
        let mut names = vec!["localhost".to_string()];
        if !addr.ip().is_unspecified() {
            names.push(addr.ip().to_string());
        }
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            names.push(h.trim().to_string());
        }
        names
    };
    let tls = tls::prepare(&state.config.tls, &state.config.data, https_names.clone()).map_err(
        |source| ServeError::Io {
            what: "TLS certificate".into(),
            source,
        },
    )?;
    admin::said_at_start(&state, imported).await;
    tokio::spawn(indicators::retro_hunts(state.clone(), retro_queue));
    if state.intel.is_shared() {
        tokio::spawn(indicators::follow_shared(state.clone()));
    }
    if state.config.db.is_some() {
        tokio::spawn(rules::follow_shared(state.clone()));
    }
    if !state.config.ioc_feeds.is_empty() && state.config.role.detects() {
        tokio::spawn(indicators::feeds::run(
            state.clone(),
            state.config.ioc_feeds.clone(),
            state.config.ioc_poll,
        ));
    }
    let gate = auth::Gate { tokens, console };
    let app = router(state.clone(), gate).layer(DefaultBodyLimit::max(max_body));
    let io = |source| ServeError::Io {
        what: "serve".into(),
        source,
    };
    let https = match &tls {
        None => None,
        Some(ready) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(&ready.cert, &ready.key)
                .await
                .map_err(|source| ServeError::Io {
                    what: format!(
                        "TLS certificate {} or key {}",
                        ready.cert.display(),
                        ready.key.display()
                    ),
                    source,
                })?,
        ),
    };
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(
        hangup,
        state.clone(),
        https.clone(),
        https_names,
        acceptor,
    ));
    match (tls, https) {
        (None, _) | (_, None) => {
            on_ready(&format!("http://{addr}"));
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .map_err(io)
        }
        (Some(ready), Some(rustls)) => {
            eprintln!(
                "vigie serve: TLS certificate {} ({}), SHA-256 {}",
                ready.cert.display(),
                if ready.made {
                    "made now, self-signed"
                } else {
                    "in use"
                },
                tls::colons(&ready.fingerprint)
            );
            let std_listener = listener.into_std().map_err(io)?;
            let server = axum_server::from_tcp_rustls(std_listener, rustls).map_err(io)?;
            on_ready(&format!("https://{addr}"));
            server
                .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .map_err(io)
        }
    }
}

/// `--assets FILE`: every tenant's; `--assets DIR`: one file per commune,
/// `DIR/<tenant>.yml` (or `.yaml`), `default.yml` for the tenant
/// `default` (a commune without a file of its own has none: never
/// another's). Every file is read at start: one that cannot be read
/// stops `serve` with its name and the reason.
#[allow(clippy::type_complexity)]
fn load_assets(
    path: Option<&std::path::Path>,
) -> Result<
    (
        Arc<vigie_scope::Assets>,
        Option<std::collections::BTreeMap<String, Arc<vigie_scope::Assets>>>,
    ),
    ServeError,
> {
    let load = |p: &std::path::Path| {
        vigie_scope::Assets::load(p)
            .map(Arc::new)
            .map_err(|e| ServeError::Io {
                what: format!("--assets {}", p.display()),
                source: std::io::Error::other(e.to_string()),
            })
    };
    let Some(path) = path else {
        return Ok((Arc::new(vigie_scope::Assets::default()), None));
    };
    if !path.is_dir() {
        return Ok((load(path)?, None));
    }
    let io = |source| ServeError::Io {
        what: format!("--assets {}", path.display()),
        source,
    };
    let mut by_tenant = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        let is_yaml = p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
        let Some(tenant) = p.file_stem().and_then(|s| s.to_str()).filter(|_| is_yaml) else {
            continue;
        };
        if by_tenant.insert(tenant.to_string(), load(&p)?).is_some() {
            return Err(ServeError::Config(format!(
                "--assets {}: two files for the tenant {tenant:?} (.yml and .yaml)",
                path.display()
            )));
        }
    }
    let default = by_tenant
        .remove("default")
        .unwrap_or_else(|| Arc::new(vigie_scope::Assets::default()));
    eprintln!(
        "vigie serve: assets per commune from {}: {}",
        path.display(),
        std::iter::once("default")
            .chain(by_tenant.keys().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((default, Some(by_tenant)))
}

/// Where alerts go, from the configuration (each checked at start: a
/// mistyped address is an error now, not a silent 2 a.m.).
fn alert_sinks(config: &Config) -> Result<Vec<Box<dyn alerts::Sink>>, ServeError> {
    let mut sinks: Vec<Box<dyn alerts::Sink>> = Vec::new();
    if let Some(url) = &config.alert_webhook {
        sinks.push(Box::new(alerts::sinks::Webhook { url: url.clone() }));
    }
    if let Some(relay) = &config.alert_smtp {
        let from = config
            .alert_email_from
            .as_deref()
            .unwrap_or("vigie@localhost");
        let mail = alerts::sinks::Email::new(relay, from, &config.alert_email_to, config.hunt.lang)
            .map_err(ServeError::Config)?;
        sinks.push(Box::new(mail));
    } else if !config.alert_email_to.is_empty() {
        return Err(ServeError::Config(
            "alert_email_to without alert_smtp (in the --config file or VIGIE_ALERT_SMTP): no relay to send through".into(),
        ));
    }
    if let Some(url) = &config.alert_syslog {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        sinks.push(Box::new(
            alerts::sinks::Syslog::parse(url, host).map_err(ServeError::Config)?,
        ));
    }
    Ok(sinks)
}

/// The TLS of the syslog and NDJSON listeners, said at start: the
/// certificate's fingerprint (senders pin it), and whether senders must
/// show a client certificate.
fn listener_acceptor(config: &Config, say: bool) -> Result<(tls::Listening, String), ServeError> {
    let mut names = vec!["localhost".to_string()];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(h.trim().to_string());
    }
    for addr in [config.syslog_tls, config.ndjson_tls].into_iter().flatten() {
        if !addr.ip().is_unspecified() {
            names.push(addr.ip().to_string());
        }
    }
    let io = |source| ServeError::Io {
        what: "TLS of the TCP listeners".into(),
        source,
    };
    let ready = tls::prepare(&config.listener_tls, &config.data, names)
        .map_err(io)?
        .ok_or_else(|| io(std::io::Error::other("no certificate")))?;
    let acceptor = tls::acceptor(
        &ready,
        config.tls_client_ca.as_deref(),
        config.tls_client_crl.as_deref(),
    )
    .map_err(io)?;
    if !say {
        return Ok((acceptor, ready.fingerprint));
    }
    eprintln!(
        "vigie serve: TLS listeners' certificate {}, SHA-256 {}",
        ready.cert.display(),
        tls::colons(&ready.fingerprint)
    );
    match &config.tls_client_ca {
        Some(ca) => eprintln!(
            "vigie serve: TLS listeners: senders must show a certificate signed by {}",
            ca.display()
        ),
        None => eprintln!(
            "vigie serve: TLS listeners: no --tls-client-ca, any sender reaching them may send (encrypted, not authenticated)"
        ),
    }
    if let Some(crl) = &config.tls_client_crl {
        eprintln!(
            "vigie serve: TLS listeners: certificates revoked by {} are refused",
            crl.display()
        );
    }
    if !config.tls_senders.is_empty() {
        eprintln!(
            "vigie serve: TLS listeners: {} sender(s) named in tls_senders, each filed under its commune; any other refused",
            config.tls_senders.len()
        );
    }
    Ok((acceptor, ready.fingerprint))
}

/// SIGHUP: the certificates are read again, as nginx and rsyslog do on
/// it — a renewed certificate (certbot's deploy hook, the CSIRT's PKI),
/// a new client CA, a new revocation list — without a restart that would
/// drop the senders' connections. New connections get the new ones; a
/// connected sender whose certificate no longer passes (revoked) is cut
/// before its next message. A file that cannot be read leaves the
/// previous certificate in use, and says why; each reload is audited.
#[cfg(unix)]
async fn reload_on_hangup(
    hangup: std::io::Result<tokio::signal::unix::Signal>,
    state: Shared,
    https: Option<axum_server::tls_rustls::RustlsConfig>,
    https_names: Vec<String>,
    senders: Option<Arc<tls::Senders>>,
) {
    let Ok(mut hup) = hangup else {
        eprintln!("vigie serve: SIGHUP cannot be listened to: certificates are read at start only");
        return;
    };
    while hup.recv().await.is_some() {
        let mut said = Vec::new();
        let mut failed = false;
        if let Some(https) = &https {
            let ready = tls::prepare(&state.config.tls, &state.config.data, https_names.clone());
            let done = match ready {
                Ok(Some(r)) => https
                    .reload_from_pem_file(&r.cert, &r.key)
                    .await
                    .map(|()| r.fingerprint)
                    .map_err(|e| format!("{} or {}: {e}", r.cert.display(), r.key.display())),
                Ok(None) => Err("no certificate".into()),
                Err(e) => Err(e.to_string()),
            };
            match done {
                Ok(fp) => said.push(format!("HTTPS certificate SHA-256 {}", tls::colons(&fp))),
                Err(e) => {
                    failed = true;
                    said.push(format!(
                        "HTTPS certificate not read again, the previous one stays: {e}"
                    ))
                }
            }
        }
        if let Some(senders) = &senders {
            match listener_acceptor(&state.config, false) {
                Ok((listening, fp)) => {
                    senders.replace(listening);
                    said.push(format!(
                        "TLS listeners' certificate SHA-256 {}{}{}",
                        tls::colons(&fp),
                        if state.config.tls_client_ca.is_some() {
                            ", client CA"
                        } else {
                            ""
                        },
                        if state.config.tls_client_crl.is_some() {
                            ", revocation list"
                        } else {
                            ""
                        },
                    ))
                }
                Err(e) => {
                    failed = true;
                    said.push(format!(
                        "TLS listeners' certificates not read again, the previous ones stay: {e}"
                    ))
                }
            }
        }
        if said.is_empty() {
            said.push("no TLS in use, nothing to read again".into());
        }
        let said = said.join("; ");
        eprintln!("vigie serve: SIGHUP: {said}");
        let outcome = if failed {
            vigie_console::audit::Outcome::Failure
        } else {
            vigie_console::audit::Outcome::Success
        };
        // Through the console's audit log: with --db, the deployment's
        // one chain, not this node's file.
        let console = state.console.clone();
        let appended = tokio::task::spawn_blocking(move || {
            console.audit(
                "system",
                "SIGHUP",
                vigie_console::audit::Action::CertificatesReload,
                &said,
                outcome,
            )
        })
        .await;
        if appended.is_err() {
            eprintln!("vigie serve: SIGHUP: the audit log could not be written");
        }
    }
}

fn router(state: Shared, gate: auth::Gate) -> Router {
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
            (_, "/healthz") => get(healthz),
            (_, "/api/v1/ingest") => post(ingest),
            (_, "/api/v1/detections") => get(detections),
            (_, "/api/v1/stats") => get(stats),
            (_, "/metrics") => get(metrics),
            (_, "/api/v1/scope") => get(scope),
            (_, "/api/v1/incidents") => get(incidents),
            (_, "/api/v1/sources") => get(sources),
            (_, "/api/v1/retrohunt") => post(retrohunt),
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

/// The client's address (unspecified when the server was not started
/// with connection information, as in unit tests).
fn client(ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>) -> std::net::IpAddr {
    ci.map(|e| e.0 .0.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
}

/// `/`: the console's page for a person signed in, the Elasticsearch
/// handshake for a shipper's token.
async fn root(
    principal: Option<axum::Extension<vigie_console::Principal>>,
    headers: HeaderMap,
    Query(q): Query<vigie_console::web::LangQuery>,
) -> Response {
    match principal {
        Some(axum::Extension(vigie_console::Principal::Person { session, .. })) => {
            vigie_console::web::console_page(
                &session,
                vigie_console::web::lang_of(q.lang.as_deref(), &headers),
            )
        }
        _ => elastic::root().await,
    }
}

/// Who sent a request, as its token says: its events are kept under
/// the token's tenant.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) tenant: String,
    /// An admin token sees every tenant; others only their own.
    pub(crate) admin: bool,
}

impl Caller {
    /// The tenant a read asks for (`?tenant=`, else the token's own);
    /// `Err` (403) when it is another's and the token is not an admin's.
    fn reads(&self, asked: Option<&str>) -> Result<String, Box<Response>> {
        match asked {
            Some(t) if t != self.tenant && !self.admin => Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "this token reads its own tenant only",
            ))),
            Some(t) => Ok(t.to_string()),
            None => Ok(self.tenant.clone()),
        }
    }
}

/// How long a request waits for a body slot before being told to come
/// back (429): shippers (Beats, Fluent Bit, Vector, Logstash) retry on
/// 429 with backoff, keeping the events on their side meanwhile.
pub const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Holds one of [`BODIES_AT_ONCE`] slots while the request's body is
/// read, inflated and checked: the body is only read from the socket
/// once a slot is held, so memory is bounded by the number of slots
/// whatever the number of senders (the others wait in their TCP
/// buffers, then get 429).
async fn body_slot(
    State(s): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let slot = tokio::time::timeout(SLOT_WAIT, s.bodies.clone().acquire_owned()).await;
    match slot {
        Ok(Ok(slot)) => {
            let resp = next.run(req).await;
            drop(slot);
            resp
        }
        Ok(Err(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(_) => {
            s.busy.fetch_add(1, Ordering::Relaxed);
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "busy: send again in a few seconds",
            );
            resp.headers_mut()
                .insert("Retry-After", "5".parse().expect("header"));
            elastic::product(resp)
        }
    }
}

/// The token a request presents: `Bearer`, the password of basic auth, or
/// an Elasticsearch `ApiKey` (base64 of `id:key`, the key being the token).
fn presented(h: &HeaderMap) -> Option<String> {
    let v = h.get("authorization")?.to_str().ok()?.trim();
    let (kind, rest) = v.split_once(' ')?;
    let rest = rest.trim();
    match kind.to_ascii_lowercase().as_str() {
        "bearer" => Some(rest.to_string()),
        "basic" | "apikey" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()?;
            let s = String::from_utf8(decoded).ok()?;
            Some(s.split_once(':').map_or(s.clone(), |(_, p)| p.to_string()))
        }
        _ => None,
    }
}

/// 503 with `Retry-After`: the event log cannot take events now (a disk,
/// NATS down); nothing was acknowledged, the shipper sends again.
pub(crate) fn unavailable(message: &str) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    r
}

/// The ingestion routes of a process that does not take events (`--role
/// detect` or `api`): 421, the shipper is pointed at the wrong node.
pub(crate) fn not_ingesting(s: &AppState) -> Option<Response> {
    (!s.config.role.ingests()).then(|| {
        error(
            StatusCode::MISDIRECTED_REQUEST,
            &format!(
                "this node does not take events (--role {}): send them to an ingest node",
                s.config.role.key()
            ),
        )
    })
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Reads a body, inflating gzip within the limit.
pub(crate) fn body_bytes(headers: &HeaderMap, body: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    let mut d = flate2::read::MultiGzDecoder::new(body).take(max as u64 + 1);
    d.read_to_end(&mut out)
        .map_err(|e| format!("the gzip body cannot be read: {e}"))?;
    if out.len() > max {
        return Err(format!("the body inflates past {max} bytes"));
    }
    Ok(out)
}

/// Why `bytes` is not one JSON object, if it is not. Checked without
/// building the value (`IgnoredAny`): the worker reads it again anyway,
/// and building every document twice halved what a 2-core machine takes.
pub(crate) fn json_object(bytes: &[u8]) -> Option<String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Some(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => "not a JSON object".to_string(),
                Err(e) => format!("not JSON: {e}"),
            },
        );
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .err()
        .map(|e| format!("not JSON: {e}"))
}

/// JSON Lines checked: the events kept, the count and first reasons of
/// those refused.
struct Checked {
    events: Vec<Vec<u8>>,
    rejected: Vec<serde_json::Value>,
    rejected_count: usize,
}

fn check_lines(bytes: &[u8], max_line: usize) -> Checked {
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    let mut rejected_count = 0usize;
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let why = if line.len() > max_line {
            Some(format!("line of {} bytes (at most {max_line})", line.len()))
        } else {
            json_object(line)
        };
        match why {
            None => events.push(line.to_vec()),
            Some(reason) => {
                rejected_count += 1;
                if rejected.len() < 100 {
                    rejected.push(json!({ "line": i + 1, "reason": reason }));
                }
            }
        }
    }
    Checked {
        events,
        rejected,
        rejected_count,
    }
}

async fn ingest(
    State(s): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = not_ingesting(&s) {
        return refused;
    }
    // Inflating and parsing take CPU: off the threads serving requests.
    let (max_inflated, max_line) = (s.config.max_inflated, s.config.max_line);
    let checked = tokio::task::spawn_blocking(move || {
        body_bytes(&headers, &body, max_inflated).map(|b| check_lines(&b, max_line))
    })
    .await;
    let Checked {
        events,
        rejected,
        rejected_count,
    } = match checked {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return error(StatusCode::BAD_REQUEST, &e),
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the body could not be checked",
            )
        }
    };
    let accepted = events.len();
    if accepted > 0 {
        let batch = IngestBatch {
            tenant: caller.tenant,
            source: "http".into(),
            received: chrono::Utc::now().timestamp_micros(),
            events,
        };
        if let Err(e) = s.log.append(batch).await {
            return unavailable(&format!("not stored, send again: {e}"));
        }
    }
    Json(json!({
        "accepted": accepted,
        "rejected": rejected_count,
        "errors": rejected,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

/// The detections of the caller's tenant (`?tenant=` for an admin token).
async fn detections(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Query(q): Query<ListQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let (store, live, of) = (s.detections.clone(), s.live.clone(), tenant.clone());
    let listed = tokio::task::spawn_blocking(move || {
        let tenant = of;
        // The correlations of the live scope's answer: computed over
        // every match kept, in time order, as `hunt` computes them (kept
        // as they stand now, not as they stood on partial data). Not
        // while the live scope is rebuilt: they would be partial. They
        // take their place within `limit`, the latest stored detections
        // the rest.
        let ready = live.rebuilt.load(Ordering::Acquire);
        ready
            .then(|| live.answer(&tenant))
            .flatten()
            .map(|a| {
                a.correlations
                    .iter()
                    .rev()
                    .take(limit)
                    .map(|c| {
                        serde_json::to_value(worker::correlation_detection(&tenant, c))
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<serde_json::Value>>()
            })
            .unwrap_or_default()
    })
    .await;
    let Ok(correlations) = listed else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "detections unreadable");
    };
    match store.latest(&tenant, limit - correlations.len()).await {
        Ok(docs) => {
            let mut list: Vec<serde_json::Value> = docs
                .iter()
                .filter_map(|d| serde_json::from_slice(d).ok())
                .collect();
            list.extend(correlations);
            Json(list).into_response()
        }
        Err(e) => unavailable(&format!("detections unreadable now: {e}")),
    }
}

/// The counters in Prometheus' text format (version 0.0.4), for a
/// `scrape_config` with `authorization: { credentials: TOKEN }`.
async fn metrics(State(s): State<Shared>) -> Response {
    let stored = s.log.records().await.unwrap_or(0);
    let p = &s.progress;
    let counters: [(&str, &str, u64); 12] = [
        ("events_stored", "Events kept in the event log.", stored),
        (
            "events_processed",
            "Events judged since start.",
            p.processed.load(Ordering::Relaxed),
        ),
        (
            "events_unreadable",
            "Events kept but in no format Vigie reads.",
            p.unreadable.load(Ordering::Relaxed),
        ),
        (
            "events_failed",
            "Events whose judging failed (a defect).",
            p.failed.load(Ordering::Relaxed),
        ),
        (
            "events_duplicate",
            "Events sent again, not judged twice.",
            p.duplicates.load(Ordering::Relaxed),
        ),
        (
            "detections",
            "Detections stored.",
            s.detections.count_all().await.unwrap_or(0),
        ),
        (
            "requests_busy",
            "Requests told 429 (no body slot).",
            s.busy.load(Ordering::Relaxed),
        ),
        (
            "syslog_refused",
            "Syslog messages refused (too long).",
            s.syslog.refused.load(Ordering::Relaxed),
        ),
        (
            "syslog_lost",
            "Syslog messages not stored (log failure).",
            s.syslog.lost.load(Ordering::Relaxed),
        ),
        (
            "syslog_connections_refused",
            "Syslog TCP connections refused (too many).",
            s.syslog.connections_refused.load(Ordering::Relaxed),
        ),
        (
            "tls_refused",
            "TLS connections refused on the TCP listeners (no or unknown client certificate, failed handshake).",
            s.syslog.tls_refused.load(Ordering::Relaxed),
        ),
        (
            "tenants",
            "Tenants whose events were received.",
            s.live.tenants().len() as u64,
        ),
    ];
    let mut text = String::new();
    for (name, help, value) in counters {
        let (kind, suffix) = if name == "tenants" {
            ("gauge", "")
        } else {
            ("counter", "_total")
        };
        text.push_str(&format!(
            "# HELP vigie_{name}{suffix} {help}\n# TYPE vigie_{name}{suffix} {kind}\nvigie_{name}{suffix} {value}\n"
        ));
    }
    // The allocator's heap: in use, and held free (fragmentation: what
    // the resident size keeps beyond what is in use).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallinfo2` only reads the allocator's counters.
        let m = unsafe { libc::mallinfo2() };
        let mapped = m.hblkhd;
        for (name, help, value) in [
            (
                "heap_in_use_bytes",
                "Bytes of the heap in use (malloc).",
                m.uordblks + mapped,
            ),
            (
                "heap_free_bytes",
                "Bytes the heap holds free (malloc): fragmentation.",
                m.fordblks,
            ),
        ] {
            text.push_str(&format!(
                "# HELP vigie_{name} {help}\n# TYPE vigie_{name} gauge\nvigie_{name} {value}\n"
            ));
        }
    }
    // What the live scope holds (every tenant's): the part of the memory
    // that grows with what is observed.
    // Off the async threads: it waits for an answer being merged.
    let live = s.live.clone();
    let held = tokio::task::spawn_blocking(move || live.held())
        .await
        .unwrap_or_default();
    if !held.is_empty() {
        text.push_str("# HELP vigie_scope_facts Facts the live scope holds, by kind (every tenant's).\n# TYPE vigie_scope_facts gauge\n");
        for (kind, n) in held {
            text.push_str(&format!("vigie_scope_facts{{kind=\"{kind}\"}} {n}\n"));
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[derive(Deserialize)]
struct TenantQuery {
    tenant: Option<String>,
}

/// The tenant a request reads: `?tenant=` (another's: an admin's only),
/// else the caller's own; 403 otherwise.
pub(crate) struct ReadTenant(pub(crate) String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ReadTenant {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Response> {
        let Some(caller) = parts.extensions.get::<Caller>().cloned() else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "a token or a session is needed",
            ));
        };
        let asked = Query::<TenantQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.tenant);
        caller
            .reads(asked.as_deref())
            .map(ReadTenant)
            .map_err(|r| *r)
    }
}

/// 503 while the live scope is rebuilt from the log after a start: an
/// answer from part of the events would be wrong, and its incidents would
/// get live ids that do not last.
fn rebuilding(s: &Shared) -> Option<Response> {
    if s.live.rebuilt.load(Ordering::Acquire) {
        return None;
    }
    if matches!(s.config.role, NodeRole::Detect | NodeRole::Ingest) {
        // A detect node sees part of each commune's events: no scope of
        // its own (it would be wrong); the api node keeps it.
        return Some(error(
            StatusCode::MISDIRECTED_REQUEST,
            &format!(
                "this node (--role {}) keeps no live scope: ask an api node",
                s.config.role.key()
            ),
        ));
    }
    let mut resp = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the live scope is being rebuilt from the stored events (after a start): ask again shortly",
    );
    resp.headers_mut()
        .insert("Retry-After", "5".parse().expect("header"));
    Some(resp)
}

/// The live scope of the caller's tenant (blocking analysis off the
/// async threads); `None` when none of its events was observed.
async fn live_scope(s: &Shared, tenant: String) -> Option<Arc<vigie_scope::Scope>> {
    let live = s.live.clone();
    tokio::task::spawn_blocking(move || live.scope(&tenant))
        .await
        .ok()
        .flatten()
}

/// The scope now, as `vigie hunt --scope FILE` writes it (so what reads
/// one reads the other: `vigie actions --scope`, the report).
async fn scope(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    if let Some(r) = rebuilding(&s) {
        return r;
    }
    match live_scope(&s, tenant.clone()).await {
        Some(scope) => Json(scope.as_ref()).into_response(),
        // Nothing received is not "no attack": said as such.
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no event of tenant {tenant:?} received yet: no scope to give"),
        ),
    }
}

/// The incidents of the scope now.
async fn incidents(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    if let Some(r) = rebuilding(&s) {
        return r;
    }
    let live = s.live.clone();
    let t = tenant.clone();
    let answer = tokio::task::spawn_blocking(move || live.answer(&t))
        .await
        .ok()
        .flatten();
    match answer {
        // Each with its live id, which stays as the incident grows.
        Some(a) => {
            let list: Vec<serde_json::Value> = a
                .scope
                .incidents
                .iter()
                .zip(a.live_ids.iter())
                .map(|(i, id)| {
                    let mut v = serde_json::to_value(i).unwrap_or_default();
                    v["live_id"] = json!(id);
                    v
                })
                .collect();
            Json(list).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no event of tenant {tenant:?} received yet: no incident to give"),
        ),
    }
}

/// The sources' health: per sender and per host and channel, what
/// arrived and when, which are silent; with the scope's event-time view
/// of the same channels (gaps, record-id holes, cleared logs).
async fn sources(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    let health = s.health.of(&tenant, chrono::Utc::now().timestamp_micros());
    let coverage = match rebuilding(&s) {
        Some(_) => None,
        None => live_scope(&s, tenant).await,
    }
    .map(|scope| scope.coverage.clone());
    Json(json!({
        "silence_threshold_secs": health.silence_threshold_secs,
        "senders": health.senders,
        "channels": health.channels,
        "coverage": coverage,
    }))
    .into_response()
}

/// Runs rules over the stored events (retrohunt.rs); one at a time.
async fn retrohunt(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    body: Bytes,
) -> Response {
    let req: retrohunt::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a retro-hunt request ({{\"rules\": YAML, \"from\"?, \"to\"?}}): {e}"),
            )
        }
    };
    let Ok(_running) = s.retrohunting.try_lock() else {
        let mut resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            "a retro-hunt is running: send again when it is done",
        );
        resp.headers_mut()
            .insert("Retry-After", "10".parse().expect("header"));
        return resp;
    };
    // The rules turned off for every tenant and by this commune, as now.
    let switched_off = match s.triage.rule_switches().await {
        Ok(sw) => rules::switched_off(&sw, &tenant),
        Err(e) => return unavailable(&format!("rule switches unreadable now: {e}")),
    };
    match retrohunt::run(
        s.log.as_ref(),
        &s.config.data,
        &s.config.hunt.read,
        &tenant,
        req,
        &switched_off,
    )
    .await
    {
        Ok((summary, found)) => {
            Json(json!({ "summary": summary, "detections": found })).into_response()
        }
        Err(retrohunt::RetroError::Rules(e)) => error(StatusCode::BAD_REQUEST, &e),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// The figures of the caller's tenant; an admin token asking for no
/// tenant in particular gets the server's as well (a token of one
/// commune never sees another's counts).
async fn stats(
    State(s): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    ReadTenant(tenant): ReadTenant,
    raw: axum::extract::RawQuery,
) -> Response {
    // The last answer of the live scope (stats are polled: they never
    // start an analysis), with the events it covers; null before the
    // first one — nothing analysed is no count.
    let (incidents, incidents_as_of) = match s.live.last_answer(&tenant) {
        Some((events, a)) => (Some(a.scope.incidents.len()), Some(events)),
        None => (None, None),
    };
    let mine = s.progress.of(&tenant);
    let mut out = json!({
        "tenant": tenant,
        "events_processed": mine.processed,
        // Stored but not readable as an event (said, with their place in
        // the log, in `unreadable_recent`), or whose judging failed.
        "events_unreadable": mine.unreadable,
        "events_failed": mine.failed,
        "events_duplicate": mine.duplicate,
        "unreadable_recent": s.progress.recent(Some(&tenant)),
        // Null when the detection store cannot be read now: no count is
        // not zero.
        "detections": s.detections.count(&tenant).await.ok(),
        "events_observed": s.live.events(&tenant),
        "incidents": incidents,
        "incidents_as_of_events": incidents_as_of,
        // Of the whole server: an admin's only.
        "events_stored": null,
    });
    let whole = caller.admin && !raw.0.as_deref().unwrap_or("").contains("tenant=");
    if whole {
        let stored = s.log.records().await.unwrap_or(0);
        // What the archive holds: positions [from, to) at most (a day
        // partition removed leaves a hole), null without one.
        let archive = match &s.archive {
            Some(a) => json!({
                "positions_from": a.first(),
                "positions_to": a.end().await.ok(),
            }),
            None => serde_json::Value::Null,
        };
        let server = json!({
            "archive": archive,
            "events_stored": stored,
            "events_processed": s.progress.processed.load(Ordering::Relaxed),
            "events_unreadable": s.progress.unreadable.load(Ordering::Relaxed),
            "events_failed": s.progress.failed.load(Ordering::Relaxed),
            "events_duplicate": s.progress.duplicates.load(Ordering::Relaxed),
            "unreadable_recent": s.progress.recent(None),
            "detections": s.detections.count_all().await.ok(),
            // Events judged by every detection worker of the deployment
            // (the log's committed position), beside this process's own
            // `events_processed`.
            "events_committed": s.log.committed(worker::CONSUMER).await.ok().map(|p| p.map_or(0, |p| p.0 + 1)),
            "requests_busy": s.busy.load(Ordering::Relaxed),
            "syslog_refused": s.syslog.refused.load(Ordering::Relaxed),
            "syslog_lost": s.syslog.lost.load(Ordering::Relaxed),
            "syslog_connections_refused": s.syslog.connections_refused.load(Ordering::Relaxed),
            "tcp_idle_closed": s.syslog.idle_closed.load(Ordering::Relaxed),
            "tls_refused": s.syslog.tls_refused.load(Ordering::Relaxed),
            // Null when no webhook is configured.
            "alerts_delivered": s.alerting.as_ref().map(|a| a.stats.delivered.load(Ordering::Relaxed)),
            "alerts_failed": s.alerting.as_ref().map(|a| a.stats.failed.load(Ordering::Relaxed)),
            "alerts_held": s.alerting.as_ref().map(|a| a.stats.held.load(Ordering::Relaxed)),
            // The indicator feeds polled (--ioc-feed).
            "ioc_feeds": s.intel.feeds.json(),
        });
        if let (Some(o), serde_json::Value::Object(sv)) = (out.as_object_mut(), server) {
            o.extend(sv);
        }
    }
    Json(out).into_response()
}
