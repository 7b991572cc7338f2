//! The plumbing every handler shares: who is calling ([`Caller`],
//! [`ReadTenant`]), body slots (memory bounded whatever the number of
//! senders), tokens as shippers present them, gzip bodies within limits,
//! and the errors answered.

use crate::{elastic, AppState, NodeRole, Shared};

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

/// A query string read as `T`, or 400 with the error as JSON like every
/// other refusal of the API (axum's own rejection is plain text, which a
/// script parsing `{"error": …}` cannot read): `?limit=abc` names the
/// parameter and what was wrong with it.
pub(crate) struct Query<T>(pub(crate) T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Response> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Query(q.0))
            .map_err(|e| error(StatusCode::BAD_REQUEST, &e.body_text()))
    }
}

/// Counts lines or documents refused from a request whose good ones were
/// stored, and says it on stderr (tenant, route, the first reason), at
/// most once a minute with the total so far.
pub(crate) fn note_refused(s: &AppState, tenant: &str, route: &str, n: usize, first: &str) {
    if n == 0 {
        return;
    }
    let total = s.refused.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
    let now = chrono::Utc::now().timestamp();
    let said = s.refused_said.load(Ordering::Relaxed);
    if now - said >= 60
        && s.refused_said
            .compare_exchange(said, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        eprintln!(
            "vigie serve: {route} of tenant {tenant}: {n} refused in one request, not stored (first: {first}); {total} refused since start (events_refused)"
        );
    }
}

/// The client's address (unspecified when the server was not started
/// with connection information, as in unit tests).
pub(crate) fn client(
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
) -> std::net::IpAddr {
    ci.map(|e| e.0 .0.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
}

/// `/`: the console's page for a person signed in, the Elasticsearch
/// handshake for a shipper's token.
pub(crate) async fn root(
    principal: Option<axum::Extension<vigie_console::Principal>>,
    headers: HeaderMap,
    Query(q): Query<vigie_console::web::LangQuery>,
) -> Response {
    match principal {
        // A session reading several communes that chose none: the
        // deployment's landing page (see [`ReadTenant`]).
        Some(axum::Extension(vigie_console::Principal::Person { session, .. }))
            if session.picker.as_ref().is_some_and(|p| p.chosen.is_none()) =>
        {
            crate::communes::to_landing("/")
        }
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
    /// The deployment's administrator (an `admin` token or account of no
    /// commune): changes what every commune shares (rules for all).
    pub(crate) admin: bool,
    /// Reads every commune (`?tenant=`) and the whole deployment's
    /// figures: the deployment's `admin` tokens, and the CSIRT's own
    /// accounts (no `--tenant`) whatever their reading role — a CSIRT
    /// analyst follows every commune it serves. Tokens of `read` scope
    /// stay bound to their tenant (a script reads one commune).
    pub(crate) reads_all: bool,
    /// The communes a CSIRT's account is assigned (`vigie user add
    /// --tenant A --tenant B`): it reads those and no other — not its own
    /// `default` tenant's, not the deployment's figures. Empty: no such
    /// restriction (the caller reads its own tenant, or every one with
    /// `reads_all`).
    pub(crate) assigned: Vec<String>,
    /// The commune chosen in the console's selector (its cookie), for a
    /// session that reads several; checked when the caller was made (a
    /// choice it may not read is no choice). `?tenant=` wins over it.
    /// Never a token's: a script names the commune it reads.
    pub(crate) chosen: Option<String>,
}

impl Caller {
    /// Whether the caller may read `tenant`'s data. This, and
    /// [`Caller::reads`] built on it, is where a commune is refused
    /// (every read route goes through [`ReadTenant`]), never a template.
    pub(crate) fn may_read(&self, tenant: &str) -> bool {
        if !self.assigned.is_empty() {
            return self.assigned.iter().any(|t| t == tenant);
        }
        self.reads_all || tenant == self.tenant
    }

    /// Whether the caller reads more than one commune (the console then
    /// shows the commune selector).
    pub(crate) fn several(&self) -> bool {
        self.reads_all || !self.assigned.is_empty()
    }

    /// The tenant a read asks for (`?tenant=`, else the commune chosen in
    /// the console, else the caller's own); `Err` (403) when the caller
    /// may not read it, or (an account assigned several communes) when
    /// none was named: its own `default` tenant is none of its communes.
    pub(crate) fn reads(&self, asked: Option<&str>) -> Result<String, Box<Response>> {
        match asked.or(self.chosen.as_deref()) {
            Some(t) if !self.may_read(t) && !self.assigned.is_empty() => Err(Box::new(error(
                StatusCode::FORBIDDEN,
                &format!(
                    "this account or token reads the communes {} only",
                    self.assigned.join(", ")
                ),
            ))),
            Some(t) if !self.may_read(t) => Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "this token reads its own tenant only",
            ))),
            Some(t) => Ok(t.to_string()),
            None if !self.assigned.is_empty() => Err(Box::new(error(
                StatusCode::FORBIDDEN,
                &format!(
                    "this account or token reads the communes {}: name one with ?tenant= (or choose it in the console)",
                    self.assigned.join(", ")
                ),
            ))),
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
///
/// A slot is held for `body_read` ([`BODY_READ`] by default) at most while the body arrives (a
/// sender trickling bytes would hold it for ever), and one tenant holds
/// [`crate::TENANT_BODIES`] at most: a slow or hostile shipper of one
/// commune can slow its own commune's ingest, never stop every other's.
pub(crate) async fn body_slot(
    State(s): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Requests without a caller (`POST /login`, the only open one with
    // a body) never take an ingest slot: small bodies, their own slots
    // and a short deadline, so a login trickled byte by byte neither
    // locks every login out nor stops any commune's ingest.
    if req.extensions().get::<Caller>().is_none() {
        return anonymous_body(&s, req, next).await;
    }
    // The tenant's share first, then one of the slots, both within
    // SLOT_WAIT.
    let share = {
        let caller = req.extensions().get::<Caller>();
        let (key, permits) = match caller {
            Some(c) => (c.tenant.clone(), crate::TENANT_BODIES),
            None => (String::new(), 1),
        };
        let mut shares = s.bodies_by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        shares
            .entry(key)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(permits)))
            .clone()
    };
    let waited = tokio::time::Instant::now();
    let Ok(Ok(_share)) = tokio::time::timeout(SLOT_WAIT, share.acquire_owned()).await else {
        return busy(&s);
    };
    let left = SLOT_WAIT.saturating_sub(waited.elapsed());
    let slot = tokio::time::timeout(left, s.bodies.clone().acquire_owned()).await;
    match slot {
        Ok(Ok(slot)) => {
            let resp = match read_body(&s, req, s.config.max_body, s.config.body_read).await {
                Ok(req) => next.run(req).await,
                Err(refused) => refused,
            };
            drop(slot);
            resp
        }
        Ok(Err(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(_) => busy(&s),
    }
}

/// Bodies of requests without a caller read at once, each within
/// [`ANONYMOUS_BODY_READ`] and [`ANONYMOUS_MAX_BODY`].
pub const ANONYMOUS_BODIES: usize = 16;
/// A login form is a few hundred bytes.
pub const ANONYMOUS_MAX_BODY: usize = 64 << 10;
/// A login form arrives in one packet.
pub const ANONYMOUS_BODY_READ: std::time::Duration = std::time::Duration::from_secs(10);

/// Of the [`ANONYMOUS_BODIES`], those one remote address may hold at
/// once: a login form is one request; more at once from one address is
/// a trickle meant to hold the others out (said busy at once, 429).
pub const ANONYMOUS_PER_ADDRESS: usize = 4;

/// One address's hold on an anonymous body slot, given back when dropped
/// (the count removed at zero: the map holds only addresses with a body
/// being read, never every address seen).
struct AddressHold {
    by: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    ip: std::net::IpAddr,
}

impl AddressHold {
    fn take(
        by: &Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
        ip: std::net::IpAddr,
    ) -> Option<AddressHold> {
        let mut m = by.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= ANONYMOUS_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(AddressHold { by: by.clone(), ip })
    }
}

impl Drop for AddressHold {
    fn drop(&mut self) {
        let mut m = self.by.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// [`body_slot`] for requests without a caller: one of
/// [`ANONYMOUS_BODIES`] slots of their own, [`ANONYMOUS_PER_ADDRESS`] at
/// most per remote address.
async fn anonymous_body(
    s: &Shared,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let _hold = match ip {
        Some(ip) => match AddressHold::take(&s.anonymous_by_address, ip) {
            Some(h) => Some(h),
            None => return busy(s),
        },
        None => None,
    };
    let Ok(Ok(_slot)) =
        tokio::time::timeout(SLOT_WAIT, s.anonymous_bodies.clone().acquire_owned()).await
    else {
        return busy(s);
    };
    match read_body(s, req, ANONYMOUS_MAX_BODY, ANONYMOUS_BODY_READ).await {
        Ok(req) => next.run(req).await,
        Err(refused) => refused,
    }
}

/// The request with its body read whole, `limit` bytes and `deadline`
/// at most; or the answer: 413 past the limit, 400 for a broken body,
/// 503 with Retry-After past the deadline (what every shipper retries —
/// Logstash drops a request answered 408), counted in
/// `requests_too_slow`.
async fn read_body(
    s: &AppState,
    req: axum::extract::Request,
    limit: usize,
    deadline: std::time::Duration,
) -> Result<axum::extract::Request, Response> {
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(bytes),
        )),
        Ok(Err(e)) => {
            // axum's error names the limit it met ("length limit
            // exceeded"); any other is the sender's body (reset, bad
            // chunking).
            let status = if e.to_string().contains("length limit") {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            Err(error(
                status,
                &format!("the body could not be read whole: {e}"),
            ))
        }
        Err(_) => {
            s.slow_bodies.fetch_add(1, Ordering::Relaxed);
            Err(unavailable(&format!(
                "the body did not arrive within {} s: nothing was kept, send it again",
                deadline.as_secs()
            )))
        }
    }
}

/// How long a body may take to arrive once it holds a slot: a Beat's
/// gzip request of 1,600 events (a few hundred KB) takes seconds on a
/// commune's slowest uplink; the largest body allowed (32 MiB) about
/// four minutes at 1 Mbit/s — such a sender should send smaller bodies
/// (or the operator raise `[limits] body_read_secs`).
pub const BODY_READ: std::time::Duration = std::time::Duration::from_secs(60);

fn busy(s: &AppState) -> Response {
    s.busy.fetch_add(1, Ordering::Relaxed);
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        "busy: send again in a few seconds",
    );
    resp.headers_mut()
        .insert("Retry-After", "5".parse().expect("header"));
    elastic::product(resp)
}

/// The token a request presents: `Bearer`, the password of basic auth, or
/// an Elasticsearch `ApiKey` (base64 of `id:key`, the key being the token).
pub(crate) fn presented(h: &HeaderMap) -> Option<String> {
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

/// What a 503 of the ingest says: the append failed or timed out, so the
/// events are not acknowledged — but a timed-out publish to JetStream may
/// still have been stored ("not stored" would be wrong then). Sending
/// again is right either way: a copy of an event with a record id is not
/// judged twice (`events_duplicate`), though `events_stored` counts it.
pub(crate) const NOT_ACKNOWLEDGED: &str = "not acknowledged (perhaps stored, perhaps not): send again — a copy of an event with a record id is recognised and not judged twice";

/// Says on stderr when appends to the event log start failing (NATS
/// away, a full disk) and when they succeed again: an ingest node
/// answering 503 to every shipper must say why in its own log.
pub(crate) fn append_outcome<T, E: std::fmt::Display>(s: &AppState, r: &Result<T, E>) {
    match r {
        Err(e) if !s.log_down.swap(true, Ordering::Relaxed) => eprintln!(
            "vigie serve: the event log refuses events: {e}; ingest answers 503 (shippers keep them and send again) until it takes them"
        ),
        Ok(_) if s.log_down.swap(false, Ordering::Relaxed) => {
            eprintln!("vigie serve: the event log takes events again")
        }
        _ => {}
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

/// What a client is told when `tenant`'s incidents could not be named
/// (the ids' store out of reach): 503, and nothing of the store's error —
/// its place and text are the server's log's (said once per outage).
pub(crate) const NAMING_UNAVAILABLE: &str =
    "the incidents' live ids cannot be read now: no incident is named until they can; try again in a moment";

/// [`NAMING_UNAVAILABLE`] when `tenant`'s last naming failed.
pub(crate) fn naming_unavailable(s: &AppState, tenant: &str) -> Option<Response> {
    s.live
        .naming_failed_for(tenant)
        .then(|| unavailable(NAMING_UNAVAILABLE))
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

/// How long `/healthz` waits for the bus or the database: a load
/// balancer's check gives up after a few seconds, and one that does not
/// answer in time is down for what it checks.
pub const HEALTH_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether the bus, then the database, failed at the last `/healthz`:
/// the reason said on stderr once per streak (and its end), not at every
/// check of the load balancer. One server per process.
/// How long a component's health answer is reused (see [`probe`]).
const HEALTH_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Per component (bus, database), its last health answer and when.
#[allow(clippy::type_complexity)]
static HEALTH_LAST: [tokio::sync::Mutex<Option<(std::time::Instant, Option<String>)>>; 2] = [
    tokio::sync::Mutex::const_new(None),
    tokio::sync::Mutex::const_new(None),
];

static HEALTH_DOWN: [std::sync::atomic::AtomicBool; 2] = [
    std::sync::atomic::AtomicBool::new(false),
    std::sync::atomic::AtomicBool::new(false),
];

/// One component of `/healthz`: `None` when it answered within
/// [`HEALTH_WAIT`] (or is not `needed`), else its name; a failure's
/// reason said on stderr at the start of a streak.
async fn probe(
    needed: bool,
    which: usize,
    what: &str,
    check: impl std::future::Future<Output = vigie_store::Result<()>>,
) -> Option<String> {
    if !needed {
        return None;
    }
    // One check per component a second, whatever the number of callers
    // (the route is open: a flood of health checks must not become a
    // flood of round trips to NATS and PostgreSQL); the callers meanwhile
    // wait for the one in flight and share its answer.
    let mut last = HEALTH_LAST[which].lock().await;
    let failed = match &*last {
        Some((at, failed)) if at.elapsed() < HEALTH_FRESH => failed.clone(),
        _ => {
            let failed = match tokio::time::timeout(HEALTH_WAIT, check).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!("no answer within {} s", HEALTH_WAIT.as_secs())),
            };
            *last = Some((std::time::Instant::now(), failed.clone()));
            failed
        }
    };
    drop(last);
    let was = HEALTH_DOWN[which].swap(failed.is_some(), Ordering::Relaxed);
    match &failed {
        Some(e) if !was => eprintln!("vigie serve: /healthz answers 503: {what} down: {e}"),
        None if was => eprintln!("vigie serve: /healthz: {what} answers again"),
        _ => {}
    }
    failed.map(|_| what.to_string())
}

/// `/healthz`: 200 `ok` once serving and what this node's role needs
/// answers — ingest: the bus (an event it takes is acknowledged only once
/// JetStream stored it); detect: the bus and the database; api: the
/// database; all: both. Else 503 (`Retry-After: 5`) naming what is down,
/// so that a load balancer stops sending events to an ingest node that
/// could only refuse them. The route is open (no token): the answer
/// names the component, never its address nor its error (those are on
/// the server's stderr). The embedded default needs neither: 200 once
/// serving, as before.
pub(crate) async fn healthz(State(s): State<Shared>) -> Response {
    use NodeRole::{All, Api, Detect, Ingest};
    let role = s.config.role;
    let bus = s.config.bus.is_some() && matches!(role, All | Ingest | Detect);
    let db = s.config.db.is_some() && matches!(role, All | Detect | Api);
    let log = s.log.clone();
    let store = s.detections.clone();
    let (bus_down, db_down) = tokio::join!(
        probe(bus, 0, "the event stream (NATS JetStream)", async move {
            log.records().await.map(|_| ())
        }),
        probe(db, 1, "the database (PostgreSQL)", async move {
            store.reachable().await
        }),
    );
    let down: Vec<String> = bus_down.into_iter().chain(db_down).collect();
    if down.is_empty() {
        return "ok\n".into_response();
    }
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "unavailable: {} cannot be reached; this node (--role {}) needs it\n",
            down.join(" and "),
            role.key()
        ),
    )
        .into_response();
    r.headers_mut()
        .insert("retry-after", axum::http::HeaderValue::from_static("5"));
    r
}

/// Why a body's `Content-Encoding` cannot be read, if it cannot: gzip
/// (or `x-gzip`) and none (`identity`) are; anything else (`deflate`,
/// `br`, `zstd`, a list) is answered 415 naming it. Read as it is, a
/// compressed body was refused line by line as "not JSON" (or, worse,
/// taken for a few odd lines): the sender's mistake must read as one.
pub(crate) fn encoding_refused(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("content-encoding")?;
    // A value that is not visible ASCII names no encoding read here:
    // refused too, not taken for none.
    let read = v.to_str().is_ok_and(|text| {
        ["gzip", "x-gzip", "identity", ""]
            .iter()
            .any(|ok| text.trim().eq_ignore_ascii_case(ok))
    });
    if read {
        return None;
    }
    let shown: String = String::from_utf8_lossy(v.as_bytes())
        .chars()
        .take(64)
        .collect();
    Some(format!(
        "Content-Encoding {shown:?} is not read here: send the body as it is or with gzip"
    ))
}

/// Reads a body, inflating gzip within the limit.
pub(crate) fn body_bytes(headers: &HeaderMap, body: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip")
        });
    if !gzip {
        return Ok(body.to_vec());
    }
    // Sized from the gzip trailer (ISIZE: the last member's length modulo
    // 2³²): a shipper's request is usually one member, and growing the
    // buffer by doubling copied it several times per request. A hint
    // only, written by the sender: capped by `max` and by 64 times the
    // body (events inflate 10 to 30 times), so a forged trailer on a
    // small body reserves little, and a body without gzip's magic bytes
    // reserves nothing ahead.
    let hint = body
        .len()
        .checked_sub(4)
        .filter(|_| body.starts_with(&[0x1f, 0x8b]))
        .map(|at| u32::from_le_bytes(body[at..].try_into().expect("4 bytes")) as usize)
        .unwrap_or(0);
    let mut out = Vec::with_capacity(hint.min(max).min(body.len().saturating_mul(64)) + 1);
    let mut d = flate2::read::MultiGzDecoder::new(body).take(max as u64 + 1);
    d.read_to_end(&mut out)
        .map_err(|e| format!("the gzip body cannot be read: {e}"))?;
    if out.len() > max {
        return Err(format!("the body inflates past {max} bytes"));
    }
    Ok(out)
}

/// Why `bytes` is not one JSON object, if it is not. Checked without
/// building the value: the worker reads it again anyway, and building
/// every document twice halved what a 2-core machine takes. The one-pass
/// check ([`crate::jsoncheck`]) answers for the good documents; serde's
/// walk (`IgnoredAny`) only for those it refuses, for its message.
pub(crate) fn json_object(bytes: &[u8]) -> Option<String> {
    if crate::jsoncheck::is_object(bytes) {
        return None;
    }
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

#[derive(Deserialize)]
pub(crate) struct TenantQuery {
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
        let named = axum::extract::Query::<TenantQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.tenant);
        // A session reading several communes that has chosen none, on a
        // page: the deployment's landing page (each commune and its
        // figures), not the `default` tenant's page — on a regional node
        // that one receives nothing, and "no event received" would read
        // as "all quiet everywhere".
        if named.is_none()
            && caller.chosen.is_none()
            && caller.several()
            && parts.method == Method::GET
            && !parts.uri.path().starts_with("/api/")
            && parts
                .extensions
                .get::<vigie_console::Principal>()
                .is_some_and(|p| {
                    matches!(p, vigie_console::Principal::Person { session, .. } if session.picker.is_some())
                })
        {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            return Err(crate::communes::to_landing(&next));
        }
        let changes = !matches!(parts.method, Method::GET | Method::HEAD);
        // The commune chosen (a cookie) is where pages are read, never
        // where a change goes: chosen in another tab after this page was
        // drawn, it would move a triage or an approval to another
        // commune's incident of the same id. A change names its commune
        // (every console form carries the one it was drawn for); one that
        // does not while another commune is chosen is refused, not
        // applied to the caller's own.
        if changes && named.is_none() {
            if let Some(chosen) = caller.chosen.as_deref().filter(|c| *c != caller.tenant) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "this change does not name its commune (?tenant=) while {chosen} is chosen: nothing changed"
                    ),
                ));
            }
        }
        let asked = if changes {
            named
        } else {
            named.or_else(|| caller.chosen.clone())
        };
        // Reading every commune is not changing it: a request that changes
        // another commune's data (containment, notices, triage, services'
        // statuses, searches saved, retro-hunts) is the deployment's
        // administrators' only — a CSIRT analyst reads every commune, acts
        // on none but through them.
        if changes && !caller.admin && asked.as_deref().is_some_and(|t| t != caller.tenant) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "changing another commune's data is for the deployment's administrators only",
            ));
        }
        caller
            .reads(asked.as_deref())
            .map(ReadTenant)
            .map_err(|r| *r)
    }
}

/// 503 while the live scope is rebuilt from the log after a start: an
/// answer from part of the events would be wrong, and its incidents would
/// get live ids that do not last.
pub(crate) fn rebuilding(s: &Shared) -> Option<Response> {
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
