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
//! What was delivered, and which silences were said, is kept
//! ([`vigie_store::live::AlertJournal`]: `state.db`, or PostgreSQL with
//! `--db`) as soon as it is: a restart (or a `kill -9`) does not page the
//! technician again for what was already said.
//!
//! Several api nodes (`--db`) each derive the same incidents from the
//! same stream, and each would page for them. Before a message is sent,
//! the node claims it in the journal ([`AlertJournal::claim`]: the next
//! message of that incident and destination): one node wins and sends,
//! the others do not and count it (`alerts_sent_elsewhere`), learning
//! what was delivered. A claim lasts [`claim_lease`] (longer than the
//! slowest delivery, at least [`CLAIM_LEASE`]): a node that dies
//! holding one leaves the message to another node once it has expired —
//! never lost; said twice only if the node died between the delivery and
//! keeping it. Silences are claimed the same way.
//!
//! The webhook's URL often holds a secret (Mattermost, Teams), as does
//! an SMTP relay's: they are read from the configuration file or the
//! environment, never from the command line, and never printed.
//!
//! Each destination ([`sinks`]: webhook, e-mail, syslog/CEF) keeps its
//! own account of what it was told: a relay down does not make the
//! webhook say an incident twice, and it is told when it is back.
//!
//! Here: the alerting's state and its journal (what was delivered, kept
//! across restarts). Apart, by the question each answers: `deliver` (the
//! loop that tells each destination what changed), `silence` (which
//! channels fell silent), `claims` (which node says it), `merged` (an
//! incident that merged into another), [`sinks`] (how each destination
//! is written to).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use vigie_store::live::{AlertJournal, AlertKey, Claim, Delivered};

use crate::health::Health;
use crate::live::LiveScope;

mod merged;
pub mod sinks;
pub use merged::live_named;
use merged::tell_merged;
pub use sinks::Sink;

mod claims;
mod deliver;
mod silence;
pub use claims::claim_covers;
pub use claims::claim_lease;
use claims::claim_to_send;
pub use claims::lease_note;
use claims::not_delivered;
pub use claims::CLAIM_LEASE;
pub use deliver::run;
use deliver::SinkState;
pub use deliver::BACKOFF_MAX;
use silence::look_for_silence;
use silence::silence_key;
use silence::split;

/// Channels (hosts, accounts) listed in one message, at most (the rest
/// counted in `channels_left_out`, `hosts_left_out`…).
pub const CHANNELS_MAX: usize = 50;

/// How often the live scope is looked at for new or grown incidents.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);
/// At most one update per incident in this time (a new incident is
/// always sent at once).
pub const UPDATE_EVERY: Duration = Duration::from_secs(300);
/// Deliveries waiting to be kept in the journal, at most.
const UNKEPT_MAX: usize = 10_000;

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
    /// Messages delivered for the key (by every node): the claim of the
    /// next one names it.
    count: u64,
    /// Its merge into another incident was said (the last message).
    merged: bool,
}

impl Sent {
    /// What was delivered, from its journal's record (`None`: a record
    /// this version cannot read, said; its incident is then said again,
    /// never silenced).
    fn from_delivered(d: &Delivered, place: &str) -> Option<Sent> {
        let r: Record = match serde_json::from_str(&d.doc) {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "vigie serve: {place}: alert record of {} {} ({}) not read: {e}",
                    d.key.tenant, d.key.live_id, d.key.sink
                );
                return None;
            }
        };
        // When, by the journal's clock: an update waits UPDATE_EVERY
        // after the last message, whichever node sent it.
        let age = Duration::from_secs(d.age_secs.max(0) as u64);
        Some(Sent {
            severity: r.severity,
            detections: r.detections,
            hosts: r.hosts,
            at: (age < UPDATE_EVERY)
                .then(|| Instant::now().checked_sub(age))
                .flatten(),
            held: 0,
            last_seen: Default::default(),
            count: d.count,
            merged: r.kind == "incident_merged",
        })
    }
}

/// Counts for `/api/v1/stats`.
#[derive(Debug, Default)]
pub struct AlertStats {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub held: AtomicU64,
    /// Messages this node did not send because another node claimed them
    /// (it sends them, or sent them).
    pub sent_elsewhere: AtomicU64,
}

pub struct Alerting {
    sinks: Vec<Box<dyn Sink>>,
    /// Per destination, same order.
    state: Vec<Mutex<SinkState>>,
    /// The journal, the claims and the silences said (`state.db`, or
    /// PostgreSQL shared by the api nodes).
    kept: Arc<dyn AlertJournal>,
    /// This node, as its claims name it.
    node: String,
    /// How long its claims last ([`claim_lease`] of its sinks).
    lease: Duration,
    /// Whether the journal failed at the last claim (said once per
    /// streak).
    claims_failing: std::sync::atomic::AtomicBool,
    /// How long the last call keeping a delivery took (ms): what the
    /// next claim must leave room for ([`claim_covers`]).
    record_took_ms: AtomicU64,
    /// Whether the last claim won left too little of its lease (said
    /// once per streak).
    lease_short: std::sync::atomic::AtomicBool,
    /// Per (sink, tenant, live id).
    sent: Mutex<HashMap<(String, String, String), Sent>>,
    /// Deliveries whose record failed (the journal away), kept at the
    /// next looks; at most [`UNKEPT_MAX`].
    unkept: Mutex<Vec<vigie_store::live::AlertRow>>,
    /// Channels already said silent (sink, tenant, host, channel).
    silent: Mutex<std::collections::HashSet<String>>,
    /// The language of the messages' `text` (the server's `--lang`).
    lang: vigie_lang::Lang,
    pub stats: AlertStats,
}

impl Alerting {
    /// `sinks`: where alerts go; `kept`: the journal, read back so that a
    /// restart does not send again what was delivered nor say again a
    /// silence already said; `node`: this node, as its claims name it.
    /// Blocking.
    pub fn new(
        sinks: Vec<Box<dyn Sink>>,
        kept: Arc<dyn AlertJournal>,
        node: String,
        lease: Duration,
    ) -> Result<Alerting, vigie_store::StoreError> {
        let mut sent = HashMap::new();
        let place = kept.place();
        for d in kept.last_delivered()? {
            if let Some(s) = Sent::from_delivered(&d, &place) {
                sent.insert((d.key.sink, d.key.tenant, d.key.live_id), s);
            }
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
            lease,
            sinks,
            kept,
            node,
            claims_failing: Default::default(),
            record_took_ms: AtomicU64::new(0),
            lease_short: Default::default(),
            sent: Mutex::new(sent),
            unkept: Mutex::new(Vec::new()),
            silent: Mutex::new(silent),
            lang: vigie_lang::Lang::default(),
            stats: AlertStats::default(),
        })
    }

    /// Messages sent with fields left out to fit their destination
    /// (a syslog datagram), every destination's.
    pub fn truncated(&self) -> u64 {
        self.sinks.iter().map(|s| s.cut()).sum()
    }

    /// The messages' `text` in `lang` (French by default).
    pub fn speaking(mut self, lang: vigie_lang::Lang) -> Alerting {
        self.lang = lang;
        self
    }

    /// A failure of the journal's claims said once per streak (and its
    /// end): nothing is sent meanwhile (two nodes could send it), and the
    /// message is tried again at the next look.
    fn claims_failed(&self, failed: Option<&str>) {
        let was = self
            .claims_failing
            .swap(failed.is_some(), Ordering::Relaxed);
        match failed {
            Some(e) if !was => eprintln!(
                "vigie serve: alerts not sent: their claims could not be taken ({e}); tried again every {} s (counted in alerts_failed)",
                LOOK_EVERY.as_secs()
            ),
            None if was => eprintln!("vigie serve: alerts' claims taken again"),
            _ => {}
        }
    }

    /// Keeps `r` in the journal (synced); a failure is said, the
    /// delivery stands. A delivery ends this node's claim on its key: the
    /// key's count after (`None`: not a delivery, or not kept).
    fn record(&self, r: &Record) -> Option<u64> {
        let row = vigie_store::live::AlertRow {
            sink: r.sink.clone(),
            tenant: r.tenant.clone(),
            live_id: r.live_id.clone(),
            delivered: r.delivered,
            doc: serde_json::to_string(r).unwrap_or_default(),
        };
        let began = Instant::now();
        let kept = if r.delivered {
            self.kept.delivered(&row, &self.node).map(Some)
        } else {
            self.kept.append(&row).map(|()| None)
        };
        self.record_took_ms
            .store(began.elapsed().as_millis() as u64, Ordering::Relaxed);
        match kept {
            Ok(n) => n,
            Err(e) if r.delivered => {
                // Kept later, at each look: until then this node holds
                // the claim, and claims nothing more for the key — the
                // message is not sent again by it, nor by another node
                // unless the journal stays away past the claim's lease.
                let mut unkept = self.unkept.lock().unwrap_or_else(|e| e.into_inner());
                if unkept.len() < UNKEPT_MAX {
                    eprintln!(
                        "vigie serve: delivery of alert {} {} ({}) not kept: {e}; kept at the next looks (until then, the incident's next message waits)",
                        r.tenant, r.live_id, r.sink
                    );
                    unkept.push(row);
                } else {
                    eprintln!(
                        "vigie serve: delivery of alert {} {} ({}) not kept: {e}; {UNKEPT_MAX} deliveries already wait to be kept: this one is not (another node may send it again once its claim expires)",
                        r.tenant, r.live_id, r.sink
                    );
                }
                None
            }
            Err(e) => {
                eprintln!(
                    "vigie serve: alert {} {} ({}) not kept: {e} (a failure: nothing is sent again for it)",
                    r.tenant, r.live_id, r.sink
                );
                None
            }
        }
    }

    /// Keeps the deliveries whose record failed, in order, until one
    /// fails again (the journal still away). Each kept ends this node's
    /// claim on its key and moves the key's count.
    fn keep_unkept(&self) {
        let rows = std::mem::take(&mut *self.unkept.lock().unwrap_or_else(|e| e.into_inner()));
        if rows.is_empty() {
            return;
        }
        let mut left = Vec::new();
        let mut kept = 0;
        for row in rows {
            if !left.is_empty() {
                left.push(row);
                continue;
            }
            match self.kept.delivered(&row, &self.node) {
                Ok(count) => {
                    kept += 1;
                    let key = (row.sink.clone(), row.tenant.clone(), row.live_id.clone());
                    let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(s) = sent.get_mut(&key) {
                        s.count = count;
                    }
                }
                Err(_) => left.push(row),
            }
        }
        if kept > 0 {
            eprintln!("vigie serve: {kept} alert deliveries kept in the journal after all");
        }
        let mut unkept = self.unkept.lock().unwrap_or_else(|e| e.into_inner());
        // Those recorded meanwhile come after.
        left.append(&mut unkept);
        *unkept = left;
    }

    /// Whether a delivery of `key` waits to be kept.
    fn waits_to_be_kept(&self, key: &(String, String, String)) -> bool {
        self.unkept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|r| r.sink == key.0 && r.tenant == key.1 && r.live_id == key.2)
    }

    /// Keeps the silences said and those ended; a failure is said.
    fn silences_changed(&self, said: &[String], ended: &[String]) {
        if let Err(e) = self.kept.silences_changed(&split(said), &split(ended)) {
            eprintln!(
                "vigie serve: silences said not kept: {e} (they may be said again after a restart)"
            );
        }
    }
}

/// The commune a message's text names, then a space: none for the
/// single-commune server's `default` (« [Vigie] default L3 » told the
/// technician of a code, not of a commune).
pub(crate) fn commune(tenant: &str) -> String {
    commune_then(tenant, " ")
}

/// The commune then `sep`, or nothing for `default`.
pub(crate) fn commune_then(tenant: &str, sep: &str) -> String {
    if tenant == "default" {
        String::new()
    } else {
        format!("{tenant}{sep}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claim whose call took most of its lease is not used: the
    /// delivery and its record would outlast it.
    #[test]
    fn a_claim_is_used_only_if_its_lease_covers_the_delivery_and_its_record() {
        let s = Duration::from_secs;
        assert!(claim_covers(s(60), s(1), s(10), s(1)).is_ok());
        let why = claim_covers(s(30), s(18), s(10), s(3)).unwrap_err();
        assert!(
            why.contains("took 18.0 s") && why.contains("12.0 s are left"),
            "{why}"
        );
        assert!(why.contains("alert_claim_lease_secs"), "{why}");
        // A call that returned after the whole lease: nothing is left.
        assert!(claim_covers(s(30), s(45), s(10), s(0)).is_err());
        // The floor asked in the configuration is said when raised.
        let sinks: Vec<Box<dyn Sink>> = vec![Box::new(sinks::Webhook {
            url: "http://127.0.0.1:9/".into(),
        })];
        assert_eq!(claim_lease(&sinks, Some(5)), s(15));
        let note = lease_note(&sinks, Some(5)).unwrap();
        assert!(note.contains("a claim lasts 15 s"), "{note}");
        assert!(lease_note(&sinks, Some(120)).is_none());
        assert!(lease_note(&sinks, None).is_none());
    }

    /// One slow journal call (a network blip) refuses the next claim —
    /// and only that one: the claim's own call is what the next look
    /// judges by, so the node alerts again (it never waits for a send
    /// that cannot happen to measure the journal again).
    #[test]
    fn one_slow_record_refuses_one_claim_not_every_one_after() {
        let dir = tempfile::tempdir().unwrap();
        let kept: Arc<dyn AlertJournal> = Arc::new(vigie_state::SqliteAlerts::new(
            vigie_state::Db::open(dir.path()).unwrap(),
        ));
        let sink = sinks::Webhook {
            url: "http://127.0.0.1:9/".into(),
        };
        let a = Alerting::new(Vec::new(), kept, "test".into(), CLAIM_LEASE).unwrap();
        let key = (
            "webhook".to_string(),
            "default".to_string(),
            "L1".to_string(),
        );
        a.record_took_ms.store(3_600_000, Ordering::Relaxed);
        assert!(matches!(claim_to_send(&a, &sink, &key, 0), Err(false)));
        assert_eq!(a.stats.failed.load(Ordering::Relaxed), 1);
        let claim = claim_to_send(&a, &sink, &key, 0);
        assert!(claim.is_ok(), "still refused after one slow record");
    }

    /// The destinations' loops record side by side: every record kept
    /// whole, and what was delivered read back by the next start.
    #[test]
    fn records_written_side_by_side_are_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let kept = || -> Arc<dyn AlertJournal> {
            Arc::new(vigie_state::SqliteAlerts::new(
                vigie_state::Db::open(dir.path()).unwrap(),
            ))
        };
        let a = Arc::new(Alerting::new(Vec::new(), kept(), "test".into(), CLAIM_LEASE).unwrap());
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
        let again = Alerting::new(Vec::new(), kept(), "test".into(), CLAIM_LEASE).unwrap();
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
