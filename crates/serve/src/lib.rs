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
//! from the same rule sources.
//!
//! Where to look: `config.rs` (what `serve` is told), `start/` (stores,
//! worker, listeners and background tasks started), `routes.rs` (every
//! route and who may reach it), `http.rs` (what handlers share), `api.rs`
//! (the REST API's own routes); the listeners ([`syslog`], [`elastic`]),
//! the worker ([`worker`]), the live scope ([`live`]) and each console
//! feature (triage, crisis, actions, indicators, …) in their own modules.
//! docs/serve.md is the user's side of it.

mod accounts;
pub mod actions;
mod admin;
pub mod alerts;
mod api;
mod archive;
mod auth;
mod communes;
mod config;
pub mod crisis;
pub mod elastic;
pub mod file;
pub mod health;
mod http;
pub mod index;
pub mod indicators;
mod jsoncheck;
pub mod live;
pub mod mask;
mod merged;
mod metrics;
mod openapi;
pub mod pages;
pub mod private;
mod retention;
pub mod retrohunt;
mod routes;
mod rules;
pub mod search;
mod seen;
mod start;
pub mod syslog;
mod system;
mod taxii;
pub mod tls;
pub mod tokens;
pub mod triage;
pub mod worker;

/// The HTTP method of a route in [`ROUTES`].
pub use axum::http::Method;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use vigie_store::{DetectionStore, EventLog};

use tokens::TokenStore;

pub use auth::role_grants;
pub use config::{Config, NodeRole, DEFAULT_ARCHIVE, DEFAULT_RETENTION};
pub use http::SLOT_WAIT;
pub use routes::{Access, ROUTES};
pub use start::serve;

pub(crate) use api::*;
pub(crate) use http::*;
pub(crate) use metrics::*;
pub(crate) use routes::*;

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
    pub(crate) retrohunting: tokio::sync::Mutex<()>,
    /// The retro-hunts running, for their progress.
    pub(crate) retrohunts: Arc<retrohunt::runs::Runs>,
    /// What retention removed besides the event log.
    pub(crate) removed: retention::Removed,
    /// The indicators held: `--ioc` and the uploaded sources.
    pub(crate) intel: Arc<indicators::Intel>,
    syslog: Arc<syslog::SyslogStats>,
    /// Requests told 429 because every body slot stayed taken.
    busy: AtomicU64,
    /// Lines of `/api/v1/ingest` and documents of `_bulk` refused (not
    /// JSON, too long, an unsupported action): each told to its sender in
    /// the answer, counted here so that the server's own figures show it
    /// too — a Beat drops an item answered 400 and only logs it on its side.
    refused: AtomicU64,
    /// When a refusal was last said on stderr (seconds), so that a sender
    /// refused at every request fills no disk: one line a minute at most.
    refused_said: std::sync::atomic::AtomicI64,
    /// The last append to the event log failed: said once when it starts
    /// failing and once when it takes events again, not at every request.
    log_down: std::sync::atomic::AtomicBool,
    /// Body slots held per tenant: one commune takes at most
    /// [`TENANT_BODIES`] of the [`BODIES_AT_ONCE`], so a slow or hostile
    /// shipper of one commune cannot stop every other's ingest.
    /// (One semaphore per tenant that sent a body: as many as the
    /// tenants of the tokens and accounts, bounded by them.)
    pub(crate) bodies_by_tenant:
        std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// Bodies that did not arrive within `body_read` (cut, 503).
    slow_bodies: AtomicU64,
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
    /// Bodies of requests without a caller (`POST /login`), apart from
    /// `bodies` ([`http::ANONYMOUS_BODIES`]).
    pub(crate) anonymous_bodies: Arc<tokio::sync::Semaphore>,
    /// Bodies without a caller being read, per remote address (at most
    /// [`http::ANONYMOUS_PER_ADDRESS`] each): one address trickling
    /// logins cannot take all of [`http::ANONYMOUS_BODIES`].
    pub(crate) anonymous_by_address:
        Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

/// Request bodies inflated and checked at the same time, at most.
pub const BODIES_AT_ONCE: usize = 4;
/// Of which one tenant holds at most this many (one always left for the
/// others).
pub const TENANT_BODIES: usize = BODIES_AT_ONCE - 1;

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
