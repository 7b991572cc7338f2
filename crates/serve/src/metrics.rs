//! `/metrics`: the counters in Prometheus' text format, the heap and
//! what the live scope holds (what grows with what is observed).

use crate::Shared;

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

/// The counters in Prometheus' text format (version 0.0.4), for a
/// `scrape_config` with `authorization: { credentials: TOKEN }`.
pub(crate) async fn metrics(State(s): State<Shared>) -> Response {
    // What cannot be read now has no sample (Prometheus' "unknown"),
    // never a 0 that reads as "nothing": `vigie_store_readable` says it.
    let stored = s.log.records().await.ok();
    let detections = s.detections.count_all().await.ok();
    let readable = stored.is_some() && detections.is_some();
    let p = &s.progress;
    let known: [(&str, &str, Option<u64>); 2] = [
        ("events_stored", "Events kept in the event log.", stored),
        ("detections", "Detections stored.", detections),
    ];
    let counters: [(&str, &str, u64); 13] = [
        (
            "events_processed",
            "Events judged since start.",
            p.processed.load(Ordering::Relaxed),
        ),
        (
            "events_unreadable",
            "Events kept but in no format Vigie reads, since this start (not kept across restarts; the events themselves are).",
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
            "requests_busy",
            "Requests told 429 (no body slot).",
            s.busy.load(Ordering::Relaxed),
        ),
        (
            "requests_too_slow",
            "Request bodies that did not arrive within [limits] body_read_secs (cut, 503 with Retry-After).",
            s.slow_bodies.load(Ordering::Relaxed),
        ),
        (
            "events_refused",
            "Lines of /api/v1/ingest and _bulk documents refused (not JSON, too long, unsupported action); not stored.",
            s.refused.load(Ordering::Relaxed),
        ),
        (
            "syslog_refused",
            "Syslog messages refused (too long).",
            s.syslog.refused.load(Ordering::Relaxed),
        ),
        (
            "ndjson_refused",
            "NDJSON lines refused on the NDJSON TCP/TLS listeners (too long, or cut by a closed connection).",
            s.syslog.ndjson_refused.load(Ordering::Relaxed),
        ),
        (
            "syslog_lost",
            "Syslog messages lost: not stored (log failure), or UDP datagrams the kernel dropped on a listener's socket (receive buffer full).",
            s.syslog.lost_now(),
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
    for (name, help, value) in known {
        text.push_str(&format!(
            "# HELP vigie_{name}_total {help} No sample: the store cannot be read now.\n# TYPE vigie_{name}_total counter\n"
        ));
        if let Some(v) = value {
            text.push_str(&format!("vigie_{name}_total {v}\n"));
        }
    }
    text.push_str(&format!(
        "# HELP vigie_store_readable 1 when the event log and the detections could be read for this scrape.\n# TYPE vigie_store_readable gauge\nvigie_store_readable {}\n",
        u8::from(readable)
    ));
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
    // Every other figure of an admin's /api/v1/stats (alerting, incidents,
    // idle connections closed, retention, …): the same list, so none is
    // on one and missing from the other. A null there (not measured by
    // this node, no webhook configured, store unreadable) is a metric
    // without a sample here, never a 0.
    let mut all = crate::api::server_stats(&s, false).await;
    if let serde_json::Value::Object(o) = &mut all {
        o.extend(crate::api::deployment_scope(&s));
    }
    crate::api::not_measured_here(&mut all, s.config.role);
    let done: Vec<&str> = known
        .iter()
        .map(|k| k.0)
        .chain(counters.iter().map(|c| c.0))
        .chain(["events_future"])
        .collect();
    if let serde_json::Value::Object(o) = &all {
        for (key, value) in o {
            // Not figures: whose figures they are, and the feeds' list
            // (an administrator's, with addresses).
            if done.contains(&key.as_str()) || ["tenant", "ioc_feeds"].contains(&key.as_str()) {
                continue;
            }
            match value {
                serde_json::Value::Object(inner) => {
                    for (sub, v) in inner {
                        sample(&mut text, &format!("{key}_{sub}"), v);
                    }
                }
                v => sample(&mut text, key, v),
            }
        }
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
    // What the live scope's horizon forgot (the events stay in the store).
    text.push_str("# HELP vigie_scope_evicted_total Facts the live scope forgot, by kind (the events stay in the store): process_creations and orphan_processes older than its horizon; correlation_events: inputs settled into the correlator (not lost); correlation_late: inputs that came too late to be correlated; correlation_future and future_process_creations: dated in the future, forgotten the horizon after their receipt.\n# TYPE vigie_scope_evicted_total counter\n");
    for (kind, n) in s.live.evicted() {
        text.push_str(&format!(
            "vigie_scope_evicted_total{{kind=\"{kind}\"}} {n}\n"
        ));
    }
    text.push_str(&format!(
        "# HELP vigie_scope_rebuilds_total Times the live scope was made again from the events the log keeps, after retention removed segments for their age (what the removed events gave forgotten, as after a restart).\n# TYPE vigie_scope_rebuilds_total counter\nvigie_scope_rebuilds_total {}\n",
        s.live.rebuilds.load(std::sync::atomic::Ordering::Relaxed)
    ));
    // Dated ahead of the server's clock: kept, but kept from moving the
    // horizon (see vigie_serve::live::FUTURE_TOLERANCE).
    text.push_str(&format!(
        "# HELP vigie_events_future_total Events observed by the live scope dated more than {} min after their receipt (a host's clock wrong, or forged): kept and judged with their own time; they do not move the horizon.\n# TYPE vigie_events_future_total counter\nvigie_events_future_total {}\n",
        crate::live::FUTURE_TOLERANCE.num_minutes(),
        s.live.future_events(None)
    ));
    // And the hosts that send them (the latest 50): the clocks to fix.
    let (hosts, left_out) = s.health.future_hosts(None, crate::api::FUTURE_HOSTS_LISTED);
    text.push_str("# HELP vigie_host_events_future Events of a host dated more than 5 min after their receipt, among the events kept (its clock is ahead by about ahead_secs of the latest); the latest 50 hosts.\n# TYPE vigie_host_events_future gauge\n");
    for h in &hosts {
        text.push_str(&format!(
            "vigie_host_events_future{{tenant=\"{}\",host=\"{}\"}} {}\n",
            label(&h.tenant),
            label(&h.host),
            h.events_future
        ));
    }
    text.push_str("# HELP vigie_host_ahead_seconds How far ahead of its receipt the latest such event of the host was dated.\n# TYPE vigie_host_ahead_seconds gauge\n");
    for h in &hosts {
        text.push_str(&format!(
            "vigie_host_ahead_seconds{{tenant=\"{}\",host=\"{}\"}} {}\n",
            label(&h.tenant),
            label(&h.host),
            h.ahead_secs
        ));
    }
    text.push_str(&format!(
        "# HELP vigie_hosts_future_left_out Hosts sending events dated ahead not listed above (past 50).\n# TYPE vigie_hosts_future_left_out gauge\nvigie_hosts_future_left_out {left_out}\n"
    ));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// A Prometheus label value: `\`, `"` and line breaks escaped (host
/// names come from the events: anyone holding an ingest token writes
/// them).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\r', "")
}

/// Figures of /api/v1/stats that are states, not counts since start:
/// gauges (no `_total`).
const GAUGES: [&str; 6] = [
    "incidents",
    "incidents_not_counted",
    "incidents_as_of_events",
    "events_observed",
    "archive_positions_from",
    "archive_positions_to",
];

/// One figure of /api/v1/stats as a metric: `vigie_{key}_total` (a
/// counter) or `vigie_{key}` (a gauge, [`GAUGES`]); a null has its HELP
/// and TYPE but no sample (unknown, not 0); what is not a number (lists,
/// texts) is not a metric.
fn sample(text: &mut String, key: &str, v: &serde_json::Value) {
    if !(v.is_number() || v.is_null()) {
        return;
    }
    let (kind, name) = if GAUGES.contains(&key) {
        ("gauge", format!("vigie_{key}"))
    } else {
        ("counter", format!("vigie_{key}_total"))
    };
    text.push_str(&format!(
        "# HELP {name} The figure `{key}` of /api/v1/stats (docs/serve.md); no sample: not known on this node now.\n# TYPE {name} {kind}\n"
    ));
    if let Some(n) = v.as_u64() {
        text.push_str(&format!("{name} {n}\n"));
    } else if let Some(n) = v.as_f64() {
        text.push_str(&format!("{name} {n}\n"));
    }
}
