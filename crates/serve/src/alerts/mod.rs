//! Alerts: a new incident, or one that grows, is sent where the
//! technician is at 2 a.m. — a webhook (JSON), the form every chat and
//! paging tool (Mattermost, Rocket.Chat, Teams, ntfy, a script) takes.
//!
//! Why per incident and not per detection: an intrusion gives hundreds
//! of detections; one message per incident, then one per change at most
//! every [`UPDATE_EVERY`], tells what matters without drowning it.
//! Nothing is silently capped: updates held back are counted and the
//! count goes in the next message; a failed delivery is retried, logged
//! in `alerts.jsonl` and counted in the stats.
//!
//! The webhook's URL often holds a secret (Mattermost, Teams), as does
//! an SMTP relay's: they are read from the configuration file or the
//! environment, never from the command line, and never printed.
//!
//! Each destination ([`sinks`]: webhook, e-mail, syslog/CEF) keeps its
//! own account of what it was told: a relay down does not make the
//! webhook say an incident twice, and it is told when it is back.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::health::Health;
use crate::live::LiveScope;

pub mod sinks;
pub use sinks::Sink;

/// How often the live scope is looked at for new or grown incidents.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);
/// At most one update per incident in this time (a new incident is
/// always sent at once).
pub const UPDATE_EVERY: Duration = Duration::from_secs(300);

/// One line of `alerts.jsonl`: what was sent (or tried), when, to say
/// it again after a restart only if it changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub time: String,
    /// The destination (`webhook`, `email`, `syslog`); lines written
    /// before there were several are the webhook's.
    #[serde(default = "webhook")]
    pub sink: String,
    pub tenant: String,
    pub live_id: String,
    pub kind: String,
    pub severity: String,
    pub detections: u64,
    pub hosts: usize,
    pub delivered: bool,
    #[serde(default)]
    pub error: Option<String>,
}

fn webhook() -> String {
    "webhook".into()
}

/// What was last delivered for an incident.
#[derive(Debug, Clone, Default)]
struct Sent {
    severity: String,
    detections: u64,
    hosts: usize,
    at: Option<Instant>,
    /// Changes not sent yet because of [`UPDATE_EVERY`], and the last
    /// one seen (so that one change is counted once).
    held: u64,
    last_seen: (u64, usize, String),
}

/// Counts for `/api/v1/stats`.
#[derive(Debug, Default)]
pub struct AlertStats {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub held: AtomicU64,
}

pub struct Alerting {
    sinks: Vec<Box<dyn Sink>>,
    /// Per destination, same order.
    state: Vec<Mutex<SinkState>>,
    /// Held while a line of `alerts.jsonl` is written.
    writing: Mutex<()>,
    log: PathBuf,
    /// Per (sink, tenant, live id).
    sent: Mutex<HashMap<(String, String, String), Sent>>,
    /// Channels already said silent (sink, tenant, host, channel).
    silent: Mutex<std::collections::HashSet<String>>,
    pub stats: AlertStats,
}

impl Alerting {
    /// `sinks`: where alerts go; `data`: where `alerts.jsonl` is kept
    /// (read back so that a restart does not send again what was
    /// delivered).
    pub fn new(sinks: Vec<Box<dyn Sink>>, data: &std::path::Path) -> Alerting {
        let log = data.join("alerts.jsonl");
        let mut sent = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&log) {
            for r in text
                .lines()
                .filter_map(|l| serde_json::from_str::<Record>(l).ok())
                .filter(|r| r.delivered)
            {
                sent.insert(
                    (r.sink, r.tenant, r.live_id),
                    Sent {
                        severity: r.severity,
                        detections: r.detections,
                        hosts: r.hosts,
                        at: None,
                        held: 0,
                        last_seen: Default::default(),
                    },
                );
            }
        }
        Alerting {
            state: sinks
                .iter()
                .map(|_| Mutex::new(SinkState::default()))
                .collect(),
            writing: Mutex::new(()),
            sinks,
            log,
            sent: Mutex::new(sent),
            silent: Mutex::new(Default::default()),
            stats: AlertStats::default(),
        }
    }

    fn record(&self, r: &Record) {
        let mut line = serde_json::to_string(r).unwrap_or_default();
        line.push('\n');
        // The destinations' loops record side by side: one line, one
        // write, one at a time (two `writeln!`s interleaved their pieces).
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|_| f.sync_data()));
        if let Err(e) = written {
            eprintln!("vigie serve: {}: {e}", self.log.display());
        }
    }
}

/// The message for one incident.
fn message(
    kind: &str,
    tenant: &str,
    live_id: &str,
    inc: &vigie_scope::model::Incident,
    headline: &str,
    held: u64,
) -> Value {
    json!({
        "source": "vigie",
        "kind": kind,
        "tenant": tenant,
        "incident": {
            "live_id": live_id,
            "severity": inc.severity,
            "nature": inc.nature,
            "first": inc.first,
            "last": inc.last,
            "detections": inc.detections,
            "hosts": inc.hosts.iter().map(|h| &h.name).collect::<Vec<_>>(),
            "accounts": inc.accounts.iter().map(|a| &a.name).collect::<Vec<_>>(),
            "summary": inc.summary,
        },
        "headline": headline,
        // Updates held back since the last message (never dropped
        // unsaid).
        "updates_held": held,
        // Chat tools (Mattermost, Rocket.Chat, Slack-compatible) show
        // `text`.
        "text": format!("[Vigie] {tenant} {live_id} ({}): {}", serde_json::to_value(inc.severity).unwrap_or_default().as_str().unwrap_or(""), inc.summary),
    })
}

/// Looks at every tenant's live scope each [`LOOK_EVERY`] and sends what
/// is new; runs for ever.
pub async fn run(live: Arc<LiveScope>, health: Arc<Health>, alerting: Arc<Alerting>) {
    // One loop per destination: a relay that hangs (10 s per try) must
    // not hold the webhook's or the SIEM's messages back.
    let mut loops = Vec::new();
    for i in 0..alerting.sinks.len() {
        let (live, health, alerting) = (live.clone(), health.clone(), alerting.clone());
        loops.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOOK_EVERY).await;
                if !alerting.due(i) {
                    continue;
                }
                let (live, health, alerting) = (live.clone(), health.clone(), alerting.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    // A scope and health being rebuilt after a restart
                    // are partial: nothing from them.
                    if live.rebuilt.load(Ordering::Acquire) {
                        let sink = alerting.sinks[i].as_ref();
                        if look(&live, &alerting, i, sink) {
                            look_for_silence(&health, &alerting, i, sink);
                        }
                    }
                })
                .await;
            }
        }));
    }
    for l in loops {
        let _ = l.await;
    }
}

/// How a destination is doing: after a failure it is left alone for a
/// while (5 s, doubling up to [`BACKOFF_MAX`]), and only the first failure
/// of a streak and the recovery are said — a relay down all night is one
/// line, not one per incident every 5 s.
#[derive(Debug, Default)]
struct SinkState {
    failures: u64,
    retry_at: Option<Instant>,
}

/// The longest wait between two tries of a failing destination.
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

impl Alerting {
    /// Whether destination `i` may be tried now.
    fn due(&self, i: usize) -> bool {
        let st = self.state[i].lock().unwrap_or_else(|e| e.into_inner());
        st.retry_at.is_none_or(|t| Instant::now() >= t)
    }

    /// Notes a delivery's outcome; whether this one is to be said (the
    /// first failure of a streak; the first success after one).
    fn outcome(&self, i: usize, ok: bool, what: &str) -> bool {
        let mut st = self.state[i].lock().unwrap_or_else(|e| e.into_inner());
        let name = self.sinks[i].name();
        if ok {
            let was = st.failures;
            *st = SinkState::default();
            if was > 0 {
                eprintln!(
                    "vigie serve: alerts to {name} delivered again after {was} failed attempt(s)"
                );
            }
            return was > 0;
        }
        st.failures += 1;
        let wait = Duration::from_secs(5u64.saturating_mul(1 << (st.failures - 1).min(20)))
            .min(BACKOFF_MAX);
        st.retry_at = Some(Instant::now() + wait);
        if st.failures == 1 {
            eprintln!(
                "vigie serve: {what} not delivered ({name}): tried again in {} s, then less often (counted in alerts_failed)",
                wait.as_secs()
            );
        }
        st.failures == 1
    }
}

/// Channels that fell silent: said once each (in one message per tenant,
/// sink and look, however many), again only after they sent something
/// and fell silent anew.
fn look_for_silence(health: &Health, a: &Alerting, i: usize, sink: &dyn Sink) {
    let now = chrono::Utc::now().timestamp_micros();
    for tenant in health.tenants() {
        let h = health.of(&tenant, now);
        let mut newly = Vec::new();
        {
            let mut silent = a.silent.lock().unwrap_or_else(|e| e.into_inner());
            for c in &h.channels {
                let key = format!(
                    "{}\u{1f}{tenant}\u{1f}{}\u{1f}{}",
                    sink.name(),
                    c.host,
                    c.channel
                );
                if !c.silent {
                    silent.remove(&key);
                } else if !silent.contains(&key) {
                    newly.push((key, c));
                }
            }
        }
        if newly.is_empty() {
            continue;
        }
        let names: Vec<String> = newly
            .iter()
            .map(|(_, c)| format!("{} ({})", c.host, c.channel))
            .collect();
        let body = json!({
            "source": "vigie",
            "kind": "sources_silent",
            "tenant": tenant,
            "silence_threshold_secs": h.silence_threshold_secs,
            "channels": newly.iter().map(|(_, c)| c).collect::<Vec<_>>(),
            "text": format!(
                "[Vigie] {tenant}: nothing received for {} min from {} — logging stopped?",
                h.silence_threshold_secs / 60,
                sinks::capped(&names, 20).join(", ")
            ),
        });
        match sink.send(&body) {
            Ok(()) => {
                a.stats.delivered.fetch_add(1, Ordering::Relaxed);
                a.outcome(i, true, "");
                let mut silent = a.silent.lock().unwrap_or_else(|e| e.into_inner());
                silent.extend(newly.into_iter().map(|(k, _)| k));
            }
            Err(e) => {
                a.stats.failed.fetch_add(1, Ordering::Relaxed);
                a.outcome(i, false, &format!("silence alert of {tenant}: {e}"));
                return;
            }
        }
    }
}

/// One look for destination `i`: the messages due, sent in order; stops
/// at the first failure (the destination is then left alone for a
/// while). Whether every delivery went through.
fn look(live: &LiveScope, a: &Alerting, i: usize, sink: &dyn Sink) -> bool {
    for tenant in live.tenants() {
        let Some(answer) = live.answer(&tenant) else {
            continue;
        };
        for (inc, live_id) in answer.scope.incidents.iter().zip(answer.live_ids.iter()) {
            if !tell(
                a,
                i,
                sink,
                &tenant,
                live_id,
                inc,
                &answer.scope.answer.headline,
            ) {
                return false;
            }
        }
    }
    true
}

/// Tells `sink` of one incident if it is new to it or grew since, at
/// most once per [`UPDATE_EVERY`] (the changes held back are counted).
// Each argument names what the message says (the destination, the
// commune, the incident and its headline).
#[allow(clippy::too_many_arguments)]
fn tell(
    a: &Alerting,
    i: usize,
    sink: &dyn Sink,
    tenant: &str,
    live_id: &str,
    inc: &vigie_scope::model::Incident,
    headline: &str,
) -> bool {
    let severity = serde_json::to_value(inc.severity)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let key = (
        sink.name().to_string(),
        tenant.to_string(),
        live_id.to_string(),
    );
    let (kind, held) = {
        let mut sent = a.sent.lock().unwrap_or_else(|e| e.into_inner());
        match sent.get_mut(&key) {
            None => ("incident_new", 0),
            Some(s) => {
                let grew = inc.detections > s.detections
                    || inc.hosts.len() > s.hosts
                    || severity != s.severity;
                if !grew {
                    return true;
                }
                if s.at.is_some_and(|t| t.elapsed() < UPDATE_EVERY) {
                    // Said later, with its count.
                    let now = (inc.detections, inc.hosts.len(), severity.clone());
                    if now != s.last_seen {
                        s.held += 1;
                        s.last_seen = now;
                        a.stats.held.fetch_add(1, Ordering::Relaxed);
                    }
                    return true;
                }
                ("incident_updated", s.held)
            }
        }
    };
    let body = message(kind, tenant, live_id, inc, headline, held);
    let outcome = sink.send(&body);
    let mut record = Record {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sink: sink.name().into(),
        tenant: tenant.into(),
        live_id: live_id.into(),
        kind: kind.into(),
        severity: severity.clone(),
        detections: inc.detections,
        hosts: inc.hosts.len(),
        delivered: outcome.is_ok(),
        error: None,
    };
    let delivered = outcome.is_ok();
    let say = a.outcome(i, delivered, &format!("alert {tenant} {live_id}"));
    match outcome {
        Ok(()) => {
            a.stats.delivered.fetch_add(1, Ordering::Relaxed);
            let mut sent = a.sent.lock().unwrap_or_else(|e| e.into_inner());
            sent.insert(
                key,
                Sent {
                    severity: severity.clone(),
                    detections: inc.detections,
                    hosts: inc.hosts.len(),
                    at: Some(Instant::now()),
                    held: 0,
                    last_seen: (inc.detections, inc.hosts.len(), severity),
                },
            );
        }
        Err(e) => {
            // Tried again once the destination is due again; said (and
            // kept in alerts.jsonl) for the first failure of a streak.
            a.stats.failed.fetch_add(1, Ordering::Relaxed);
            if say {
                eprintln!(
                    "vigie serve: alert {tenant} {live_id} ({}): {e}",
                    sink.name()
                );
            }
            record.error = Some(e);
        }
    }
    if delivered || say {
        a.record(&record);
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The destinations' loops record side by side: every line of
    /// `alerts.jsonl` stays whole.
    #[test]
    fn records_written_side_by_side_stay_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let a = Arc::new(Alerting::new(Vec::new(), dir.path()));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let a = a.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        a.record(&Record {
                            time: "2026-12-05T23:00:00Z".into(),
                            sink: format!("sink-{t}"),
                            tenant: "mairie-de-benodet".repeat(20),
                            live_id: format!("L{i}"),
                            kind: "incident_new".into(),
                            severity: "high".into(),
                            detections: i,
                            hosts: 3,
                            delivered: i % 2 == 0,
                            error: (i % 2 == 1).then(|| "the SMTP relay refused".repeat(30)),
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 800);
        for l in lines {
            serde_json::from_str::<Record>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        }
    }
}
