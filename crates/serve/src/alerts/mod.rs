//! Alerts: a new incident, or one that grows, is sent where the
//! technician is at 2 a.m. — a webhook (JSON), the form every chat and
//! paging tool (Mattermost, Rocket.Chat, Teams, ntfy, a script) takes.
//!
//! Why per incident and not per detection: an intrusion gives hundreds
//! of detections; one message per incident, then one per change at most
//! every [`UPDATE_EVERY`], tells what matters without drowning it.
//! Nothing is silently capped: updates held back are counted and the
//! count goes in the next message; a failed delivery is retried, kept
//! in the alerting's journal (`alert_records` of `state.db`) and counted
//! in the stats.
//!
//! What was delivered, and which silences were said, is kept in
//! `state.db` ([`vigie_state::SqliteAlerts`]) as soon as it is: a
//! restart (or a `kill -9`) does not page the technician again for what
//! was already said.
//!
//! The webhook's URL often holds a secret (Mattermost, Teams), as does
//! an SMTP relay's: they are read from the configuration file or the
//! environment, never from the command line, and never printed.
//!
//! Each destination ([`sinks`]: webhook, e-mail, syslog/CEF) keeps its
//! own account of what it was told: a relay down does not make the
//! webhook say an incident twice, and it is told when it is back.

use std::collections::HashMap;
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

/// One message of the alerting's journal (`alert_records` of
/// `state.db`; formerly a line of `alerts.jsonl`): what was sent (or
/// tried), when, to say it again after a restart only if it changed.
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
    /// The journal and the silences said, in `state.db`.
    kept: Arc<vigie_state::SqliteAlerts>,
    /// Per (sink, tenant, live id).
    sent: Mutex<HashMap<(String, String, String), Sent>>,
    /// Channels already said silent (sink, tenant, host, channel).
    silent: Mutex<std::collections::HashSet<String>>,
    pub stats: AlertStats,
}

impl Alerting {
    /// `sinks`: where alerts go; `kept`: the journal, read back so that a
    /// restart does not send again what was delivered nor say again a
    /// silence already said. Blocking.
    pub fn new(
        sinks: Vec<Box<dyn Sink>>,
        kept: Arc<vigie_state::SqliteAlerts>,
    ) -> Result<Alerting, vigie_store::StoreError> {
        let mut sent = HashMap::new();
        for row in kept.last_delivered()? {
            // A record this version cannot read (written by a later one,
            // or edited by hand) is said and not taken: its incident is
            // then said again, never silenced.
            let r: Record = match serde_json::from_str(&row.doc) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!(
                        "vigie serve: {}: alert record of {} {} ({}) not read: {e}",
                        kept.place(),
                        row.tenant,
                        row.live_id,
                        row.sink
                    );
                    continue;
                }
            };
            sent.insert(
                (row.sink, row.tenant, row.live_id),
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
        let silent = kept
            .silences()?
            .into_iter()
            .map(|[sink, tenant, host, channel]| silence_key(&sink, &tenant, &host, &channel))
            .collect();
        Ok(Alerting {
            state: sinks
                .iter()
                .map(|_| Mutex::new(SinkState::default()))
                .collect(),
            sinks,
            kept,
            sent: Mutex::new(sent),
            silent: Mutex::new(silent),
            stats: AlertStats::default(),
        })
    }

    /// Keeps `r` in the journal (synced); a failure is said, the
    /// delivery stands.
    fn record(&self, r: &Record) {
        let row = vigie_state::AlertRow {
            sink: r.sink.clone(),
            tenant: r.tenant.clone(),
            live_id: r.live_id.clone(),
            delivered: r.delivered,
            doc: serde_json::to_string(r).unwrap_or_default(),
        };
        if let Err(e) = self.kept.append(&row) {
            eprintln!(
                "vigie serve: alert {} {} ({}) not kept: {e} (it may be sent again after a restart)",
                r.tenant, r.live_id, r.sink
            );
        }
    }

    /// Keeps the silences said and those ended; a failure is said.
    fn silences_changed(&self, said: &[String], ended: &[String]) {
        let split = |keys: &[String]| -> Vec<[String; 4]> {
            keys.iter()
                .filter_map(|k| {
                    let mut p = k.split('\u{1f}').map(str::to_string);
                    Some([p.next()?, p.next()?, p.next()?, p.next()?])
                })
                .collect()
        };
        if let Err(e) = self.kept.silences_changed(&split(said), &split(ended)) {
            eprintln!(
                "vigie serve: silences said not kept: {e} (they may be said again after a restart)"
            );
        }
    }
}

/// A silence's key: (sink, tenant, host, channel).
fn silence_key(sink: &str, tenant: &str, host: &str, channel: &str) -> String {
    format!("{sink}\u{1f}{tenant}\u{1f}{host}\u{1f}{channel}")
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
        let mut ended = Vec::new();
        {
            let mut silent = a.silent.lock().unwrap_or_else(|e| e.into_inner());
            for c in &h.channels {
                let key = silence_key(sink.name(), &tenant, &c.host, &c.channel);
                if !c.silent {
                    if silent.remove(&key) {
                        ended.push(key);
                    }
                } else if !silent.contains(&key) {
                    newly.push((key, c));
                }
            }
        }
        a.silences_changed(&[], &ended);
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
                let said: Vec<String> = newly.into_iter().map(|(k, _)| k).collect();
                a.silences_changed(&said, &[]);
                let mut silent = a.silent.lock().unwrap_or_else(|e| e.into_inner());
                silent.extend(said);
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
            // kept in the journal) for the first failure of a streak.
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

    /// The destinations' loops record side by side: every record kept
    /// whole, and what was delivered read back by the next start.
    #[test]
    fn records_written_side_by_side_are_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let kept = || {
            Arc::new(vigie_state::SqliteAlerts::new(
                vigie_state::Db::open(dir.path()).unwrap(),
            ))
        };
        let a = Arc::new(Alerting::new(Vec::new(), kept()).unwrap());
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
        a.silences_changed(
            &[silence_key("webhook", "default", "dc01", "Security")],
            &[],
        );
        let journal = kept().journal().unwrap();
        assert_eq!(journal.len(), 800);
        for r in &journal {
            serde_json::from_str::<Record>(&r.doc).unwrap_or_else(|e| panic!("{e}: {}", r.doc));
        }
        drop(a);
        let again = Alerting::new(Vec::new(), kept()).unwrap();
        let sent = again.sent.lock().unwrap();
        // The delivered ones (even i), per sink and incident.
        assert_eq!(sent.len(), 8 * 50);
        assert_eq!(
            sent[&(
                "sink-3".to_string(),
                "mairie-de-benodet".repeat(20),
                "L42".to_string()
            )]
                .detections,
            42
        );
        assert!(!sent.contains_key(&(
            "sink-3".to_string(),
            "mairie-de-benodet".repeat(20),
            "L43".to_string()
        )));
        assert!(again
            .silent
            .lock()
            .unwrap()
            .contains(&silence_key("webhook", "default", "dc01", "Security")));
    }
}
