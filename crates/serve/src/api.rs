//! The REST API's own routes: ingest (JSON Lines), detections, the live
//! scope and its incidents, sources, retro-hunt, stats.

use crate::{
    body_bytes, error, json_object, not_ingesting, rebuilding, unavailable, worker, Caller,
    ReadTenant, Shared,
};

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::http::Query;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use vigie_store::IngestBatch;

/// JSON Lines checked: the events kept, the count and first reasons of
/// those refused.
pub(crate) struct Checked {
    events: Vec<Vec<u8>>,
    rejected: Vec<serde_json::Value>,
    rejected_count: usize,
}

pub(crate) fn check_lines(bytes: &[u8], max_line: usize) -> Checked {
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

pub(crate) async fn ingest(
    State(s): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = not_ingesting(&s) {
        return refused;
    }
    if let Some(why) = crate::http::encoding_refused(&headers) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &why);
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
            tenant: caller.tenant.clone(),
            source: "http".into(),
            received: chrono::Utc::now().timestamp_micros(),
            events,
        };
        let appended = s.log.append(batch).await;
        crate::append_outcome(&s, &appended);
        if let Err(e) = appended {
            return unavailable(&format!("{}: {e}", crate::NOT_ACKNOWLEDGED));
        }
    }
    if let Some(first) = rejected.first() {
        let first = format!(
            "line {}: {}",
            first["line"],
            first["reason"].as_str().unwrap_or("")
        );
        crate::note_refused(
            &s,
            &caller.tenant,
            "POST /api/v1/ingest",
            rejected_count,
            &first,
        );
    }
    Json(json!({
        "accepted": accepted,
        "rejected": rejected_count,
        "errors": rejected,
    }))
    .into_response()
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    limit: Option<usize>,
}

/// What this server received of `tenant`: `Some(true)` some event (or
/// a detection kept), `Some(false)` nothing, `None` not known now (the
/// live scope is being rebuilt, or the store cannot be read).
async fn received(s: &Shared, tenant: &str) -> Option<bool> {
    if s.live.tenants().iter().any(|t| t == tenant) || s.progress.of(tenant).processed > 0 {
        return Some(true);
    }
    let stored = s.detections.count(tenant).await.ok()?;
    if stored > 0 {
        return Some(true);
    }
    s.live.rebuilt.load(Ordering::Acquire).then_some(false)
}

/// The header an answer about a tenant that sent nothing carries (its
/// body keeps its shape for scripts: `[]`, zeros): `X-Vigie-Received:
/// nothing` — an empty list is then "nothing received", not "no attack".
pub(crate) const RECEIVED_HEADER: &str = "x-vigie-received";

/// For another commune asked by name (`?tenant=`) that never sent
/// anything: 404 naming it, as `/api/v1/incidents` answers — a misspelt
/// commune is not a quiet one. For the caller's own commune that sent
/// nothing (or one it is assigned): `Ok(true)`, said by
/// [`RECEIVED_HEADER`].
async fn nothing_received(s: &Shared, caller: &Caller, tenant: &str) -> Result<bool, Response> {
    match received(s, tenant).await {
        // A commune the caller is assigned is its own: known, quiet.
        Some(false) if tenant != caller.tenant && !caller.assigned.iter().any(|a| a == tenant) => Err(error(
            StatusCode::NOT_FOUND,
            &format!(
                "no event of tenant {tenant:?} received: no such commune on this server (check its name)"
            ),
        )),
        Some(false) => Ok(true),
        _ => Ok(false),
    }
}

fn mark_nothing_received(mut r: Response, nothing: bool) -> Response {
    if nothing {
        r.headers_mut().insert(
            RECEIVED_HEADER,
            axum::http::HeaderValue::from_static("nothing"),
        );
    }
    r
}

/// The detections of the caller's tenant (`?tenant=` for an admin token).
pub(crate) async fn detections(
    State(s): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    ReadTenant(tenant): ReadTenant,
    Query(q): Query<ListQuery>,
) -> Response {
    let nothing = match nothing_received(&s, &caller, &tenant).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let (store, live, of) = (s.detections.clone(), s.live.clone(), tenant.clone());
    let listed = tokio::task::spawn_blocking(move || {
        let tenant = of;
        // The correlations of the live scope's answer: computed over
        // every match kept, in time order, as `hunt` computes them (kept
        // as they stand now, not as they stood on partial data). Not
        // while the live scope is rebuilt: they would be partial. Apart
        // from `limit`'s stored detections (at most `limit` of them, the
        // latest): counted within it, a small `limit` gave correlations
        // only and no detection (issue 16).
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
    match store.latest(&tenant, limit).await {
        Ok(docs) => {
            let mut list: Vec<serde_json::Value> = docs
                .iter()
                .filter_map(|d| serde_json::from_slice(d).ok())
                .collect();
            list.extend(correlations);
            let empty = list.is_empty();
            mark_nothing_received(Json(list).into_response(), nothing && empty)
        }
        Err(e) => unavailable(&format!("detections unreadable now: {e}")),
    }
}

/// The correlation of the live scope's answer with this id, as
/// `GET /api/v1/detections` lists it: its id is one a client follows
/// (`/api/v1/detections/{id}`, `/detections/{id}`), though it is
/// computed, not stored. `None` while the live scope is rebuilt.
pub(crate) async fn live_correlation(
    s: &Shared,
    tenant: &str,
    id: &str,
) -> Option<serde_json::Value> {
    let (live, tenant, id) = (s.live.clone(), tenant.to_string(), id.to_string());
    tokio::task::spawn_blocking(move || {
        if !live.rebuilt.load(Ordering::Acquire) {
            return None;
        }
        let answer = live.answer(&tenant)?;
        answer.correlations.iter().find_map(|c| {
            let d = worker::correlation_detection(&tenant, c);
            (d.id == id).then(|| serde_json::to_value(d).unwrap_or_default())
        })
    })
    .await
    .ok()
    .flatten()
}

/// The live scope of the caller's tenant (blocking analysis off the
/// async threads); `None` when none of its events was observed.
pub(crate) async fn live_scope(s: &Shared, tenant: String) -> Option<Arc<vigie_scope::Scope>> {
    let live = s.live.clone();
    tokio::task::spawn_blocking(move || live.scope(&tenant))
        .await
        .ok()
        .flatten()
}

/// The scope now, as `vigie hunt --scope FILE` writes it (so what reads
/// one reads the other: `vigie actions --scope`, the report).
pub(crate) async fn scope(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    if let Some(r) = rebuilding(&s) {
        return r;
    }
    match live_scope(&s, tenant.clone()).await {
        Some(scope) => Json(scope.as_ref()).into_response(),
        // The naming failed just now: said (503), not taken for nothing.
        None if s.live.naming_failed_for(&tenant) => unavailable(crate::http::NAMING_UNAVAILABLE),
        // Nothing received is not "no attack": said as such.
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no event of tenant {tenant:?} received yet: no scope to give"),
        ),
    }
}

/// The incidents of the scope now.
pub(crate) async fn incidents(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
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
        None if s.live.naming_failed_for(&tenant) => unavailable(crate::http::NAMING_UNAVAILABLE),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no event of tenant {tenant:?} received yet: no incident to give"),
        ),
    }
}

/// The sources' health: per sender and per host and channel, what
/// arrived and when, which are silent; with the scope's event-time view
/// of the same channels (gaps, record-id holes, cleared logs).
pub(crate) async fn sources(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
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
        "untracked_events": health.untracked_events,
        "coverage": coverage,
    }))
    .into_response()
}

/// The figures of the caller's tenant; an admin token asking for no
/// tenant in particular gets the server's as well (a token of one
/// commune never sees another's counts).
pub(crate) async fn stats(
    State(s): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    ReadTenant(tenant): ReadTenant,
    raw: axum::extract::RawQuery,
) -> Response {
    let nothing = match nothing_received(&s, &caller, &tenant).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    // The last answer of the live scope (stats are polled: they never
    // start an analysis), with the events it covers; null before the
    // first one — nothing analysed is no count.
    let (incidents, incidents_as_of) = match s.live.last_answer(&tenant) {
        Some((events, a)) => (Some(a.scope.incidents.len()), Some(events)),
        None => (None, None),
    };
    let mine = s.progress.of(&tenant);
    let future_hosts = s.health.future_hosts(Some(&tenant), FUTURE_HOSTS_LISTED);
    let mut out = json!({
        "tenant": tenant,
        "events_processed": mine.processed,
        // Stored but not readable as an event (said, with their place in
        // the log, in `unreadable_recent`), or whose judging failed.
        "events_unreadable": mine.unreadable,
        "events_failed": mine.failed,
        "events_duplicate": mine.duplicate,
        // Local times without a zone read as UTC (no zone given, nothing
        // in the event nor its computer's earlier events gave the offset):
        // their detections say `time_uncertain`.
        "events_time_uncertain": mine.time_uncertain,
        // JSON events and syslog lines not all in UTF-8: read with those bytes as
        // Windows-1252 (a sender's character set to set to UTF-8).
        "events_not_utf8": mine.not_utf8,
        "unreadable_recent": s.progress.recent(Some(&tenant)),
        // Null when the detection store cannot be read now: no count is
        // not zero.
        "detections": s.detections.count(&tenant).await.ok(),
        "events_observed": s.live.events(&tenant),
        // Dated more than 5 min after their receipt: kept, but kept from
        // moving the live scope's horizon (a host's clock to check).
        "events_future": s.live.future_events(Some(&tenant)),
        // The hosts that send them (the latest first, at most 50): the
        // clocks to fix, rather than a count nobody can act on.
        "events_future_hosts": future_hosts.0,
        "events_future_hosts_left_out": future_hosts.1,
        "incidents": incidents,
        "incidents_as_of_events": incidents_as_of,
        // Of the whole server: an admin's only.
        "events_stored": null,
    });
    let whole = caller.reads_all && !raw.0.as_deref().unwrap_or("").contains("tenant=");
    if whole {
        let server = server_stats(&s, caller.admin).await;
        if let (Some(o), serde_json::Value::Object(sv)) = (out.as_object_mut(), server) {
            o.extend(sv);
            o.extend(deployment_scope(&s));
        }
    }
    not_measured_here(&mut out, s.config.role);
    // The whole server's: nothing received when its log holds nothing.
    let nothing = if whole {
        out["events_stored"].as_u64() == Some(0)
    } else {
        nothing
    };
    mark_nothing_received(Json(out).into_response(), nothing)
}

/// The whole server's figures of an admin's `/api/v1/stats` (without
/// `?tenant=`), which `/metrics` also carries, each numeric one as a
/// metric: one list, so a counter added here reaches both.
pub(crate) async fn server_stats(s: &Shared, admin: bool) -> serde_json::Value {
    // Null when the log cannot be read now (NATS away): not 0.
    let stored = s.log.records().await.ok();
    // What the archive holds: positions [from, to) at most (a day
    // partition removed leaves a hole), null without one.
    let archive = match &s.archive {
        Some(a) => json!({
            "positions_from": a.first(),
            "positions_to": a.end().await.ok(),
        }),
        None => serde_json::Value::Null,
    };
    json!({
        "archive": archive,
        "events_stored": stored,
        "events_processed": s.progress.processed.load(Ordering::Relaxed),
        "events_unreadable": s.progress.unreadable.load(Ordering::Relaxed),
        "events_failed": s.progress.failed.load(Ordering::Relaxed),
        "events_duplicate": s.progress.duplicates.load(Ordering::Relaxed),
        "events_time_uncertain": s.progress.time_uncertain.load(Ordering::Relaxed),
        "events_not_utf8": s.progress.not_utf8.load(Ordering::Relaxed),
        "unreadable_recent": s.progress.recent(None),
        "detections": s.detections.count_all().await.ok(),
        // Events judged by every detection worker of the deployment
        // (the log's committed position), beside this process's own
        // `events_processed`.
        "events_committed": s.log.committed(worker::CONSUMER).await.ok().map(|p| p.map_or(0, |p| p.0 + 1)),
        "requests_busy": s.busy.load(Ordering::Relaxed),
        "events_refused": s.refused.load(Ordering::Relaxed),
        "requests_too_slow": s.slow_bodies.load(Ordering::Relaxed),
        "syslog_refused": s.syslog.refused.load(Ordering::Relaxed),
        "ndjson_refused": s.syslog.ndjson_refused.load(Ordering::Relaxed),
        "syslog_lost": s.syslog.lost_now(),
        "syslog_connections_refused": s.syslog.connections_refused.load(Ordering::Relaxed),
        "tcp_idle_closed": s.syslog.idle_closed.load(Ordering::Relaxed),
        "tls_refused": s.syslog.tls_refused.load(Ordering::Relaxed),
        // Removed by retention by age since start, besides the event log.
        "retention_detections_removed": s.removed.detections.load(Ordering::Relaxed),
        "retention_retrohunts_removed": s.removed.retrohunts.load(Ordering::Relaxed),
        // Null when no webhook is configured.
        "alerts_delivered": s.alerting.as_ref().map(|a| a.stats.delivered.load(Ordering::Relaxed)),
        "alerts_failed": s.alerting.as_ref().map(|a| a.stats.failed.load(Ordering::Relaxed)),
        "alerts_held": s.alerting.as_ref().map(|a| a.stats.held.load(Ordering::Relaxed)),
        // Messages left to another api node, which claimed them (--db).
        "alerts_sent_elsewhere": s.alerting.as_ref().map(|a| a.stats.sent_elsewhere.load(Ordering::Relaxed)),
        // Syslog messages sent with fields left out to fit a datagram
        // (said in their cs6): since start.
        "alerts_truncated": s.alerting.as_ref().map(|a| a.truncated()),
        // The indicator feeds polled (--ioc-feed): their addresses and
        // errors are an administrator's.
        "ioc_feeds": if admin { s.intel.feeds.json() } else { serde_json::Value::Null },
    })
}

/// Hosts sending events dated ahead of their receipt listed in
/// `/api/v1/stats` (and `/metrics`); the others counted.
pub(crate) const FUTURE_HOSTS_LISTED: usize = 50;

/// Figures a node of this role does not measure, `null` rather than its
/// own 0: an api node judges nothing and takes no event, a detect node
/// takes none, an ingest node judges none — each node's `/metrics` has
/// its own, and `events_committed` (the stream's position judged by
/// every worker) says whether the workers keep up. A 0 there would say
/// "nothing judged, nothing refused" for the whole deployment.
pub(crate) fn not_measured_here(out: &mut serde_json::Value, role: crate::NodeRole) {
    const JUDGING: [&str; 6] = [
        "events_processed",
        "events_unreadable",
        "events_failed",
        "events_duplicate",
        "events_time_uncertain",
        "events_not_utf8",
    ];
    const INGEST: [&str; 9] = [
        "requests_busy",
        "requests_too_slow",
        "events_refused",
        "syslog_refused",
        "ndjson_refused",
        "syslog_lost",
        "syslog_connections_refused",
        "tcp_idle_closed",
        "tls_refused",
    ];
    let judges = matches!(role, crate::NodeRole::All | crate::NodeRole::Detect);
    let Some(o) = out.as_object_mut() else {
        return;
    };
    let mut unknown = |keys: &[&str]| {
        for k in keys {
            if let Some(v) = o.get_mut(*k) {
                *v = serde_json::Value::Null;
            }
        }
    };
    if !judges {
        unknown(&JUDGING);
    }
    if !role.ingests() {
        unknown(&INGEST);
    }
    // The live scope is the api node's (and an `all` node's): an ingest
    // node keeps none, a detect worker only its share of the stream.
    if matches!(role, crate::NodeRole::Ingest | crate::NodeRole::Detect) {
        unknown(&[
            "events_observed",
            "events_future",
            "events_future_hosts",
            "events_future_hosts_left_out",
            "incidents",
            "incidents_not_counted",
            "incidents_as_of_events",
            "tenants",
        ]);
    }
    if !judges {
        if let Some(serde_json::Value::Array(lines)) = o.get_mut("tenants") {
            for line in lines {
                if let Some(v) = line.get_mut("events_processed") {
                    *v = serde_json::Value::Null;
                }
            }
        }
    }
}

/// The whole deployment's live scope for an admin's `/api/v1/stats`
/// without `?tenant=`: the sums over every commune that sent events and
/// each commune's own line — not the admin's own tenant's (on a regional
/// node that one sends nothing, and its `null` incidents read as "none
/// anywhere"). A commune not yet analysed keeps `null` incidents, and the
/// sum stays `null` until one was: no count is not zero.
///
/// `incidents` sums the communes analysed; `incidents_not_counted` says
/// how many that sent events it leaves out (not analysed yet): a
/// dashboard shows the sum with "N communes not counted" rather than a
/// total that reads as complete — nor a `null` that hides every count
/// while one commune of fifty waits for its first analysis.
pub(crate) fn deployment_scope(s: &Shared) -> serde_json::Map<String, serde_json::Value> {
    let mut names = s.live.tenants();
    names.sort();
    let (mut observed, mut incidents, mut as_of) = (0u64, None::<usize>, None::<u64>);
    let mut not_counted = 0u64;
    let tenants: Vec<serde_json::Value> = names
        .iter()
        .map(|name| {
            let answered = s.live.last_answer(name);
            let events = s.live.events(name);
            observed += events;
            match &answered {
                Some((at, a)) => {
                    *incidents.get_or_insert(0) += a.scope.incidents.len();
                    *as_of.get_or_insert(0) += at;
                }
                None => not_counted += 1,
            }
            json!({
                "tenant": name,
                "events_observed": events,
                "events_future": s.live.future_events(Some(name)),
                "events_processed": s.progress.of(name).processed,
                "incidents": answered.as_ref().map(|(_, a)| a.scope.incidents.len()),
            })
        })
        .collect();
    let mut o = serde_json::Map::new();
    o.insert("tenant".into(), serde_json::Value::Null);
    o.insert("events_observed".into(), observed.into());
    o.insert("events_future".into(), s.live.future_events(None).into());
    // Every commune's hosts, each line naming its tenant.
    let (hosts, left_out) = s.health.future_hosts(None, FUTURE_HOSTS_LISTED);
    o.insert("events_future_hosts".into(), json!(hosts));
    o.insert("events_future_hosts_left_out".into(), left_out.into());
    o.insert("incidents".into(), json!(incidents));
    o.insert("incidents_not_counted".into(), not_counted.into());
    o.insert("incidents_as_of_events".into(), json!(as_of));
    o.insert("tenants".into(), tenants.into());
    o
}
