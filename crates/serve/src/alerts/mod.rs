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

/// The shortest a claim on a message (or a silence) is a node's (see
/// [`claim_lease`]): a node dying with one delays its message by about
/// this much.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);

/// How long a claim lasts with `sinks`: longer than the slowest delivery
/// may take (its exchanges' timeouts summed: an SMTP relay's many
/// commands), with the journal's calls around it, and never under
/// [`CLAIM_LEASE`] — or `asked` (`alert_claim_lease_secs`), though never
/// under the slowest delivery plus 5 s. A claim outlived by its own
/// delivery would let a second node send the same message while the
/// first still is.
pub fn claim_lease(sinks: &[Box<dyn Sink>], asked: Option<u64>) -> Duration {
    let worst = sinks
        .iter()
        .map(|s| s.worst_send())
        .max()
        .unwrap_or_default();
    match asked {
        Some(secs) => Duration::from_secs(secs).max(worst + Duration::from_secs(5)),
        // The claim is taken before the send and ended by the delivery's
        // record: each of those calls may wait for the database (its
        // connect timeout, 10 s) too.
        None => (worst + Duration::from_secs(30)).max(CLAIM_LEASE),
    }
}

/// What start says when `alert_claim_lease_secs` asked for less than
/// the floor [`claim_lease`] keeps (the slowest delivery plus 5 s): the
/// value taken and why, never a lease shorter than a delivery in silence.
pub fn lease_note(sinks: &[Box<dyn Sink>], asked: Option<u64>) -> Option<String> {
    let asked = asked?;
    let lease = claim_lease(sinks, Some(asked));
    (lease.as_secs() > asked).then(|| {
        format!(
            "alert_claim_lease_secs = {asked} is shorter than the slowest delivery ({} s) plus 5 s: a claim lasts {} s (a shorter one could end while its message is being sent, and another node send it again)",
            lease.as_secs() - 5,
            lease.as_secs()
        )
    })
}

/// Whether a claim just won still covers its message: the lease began
/// when the database ran the claim's statement, at the latest when the
/// call returned (`took` after it was made), so `lease - took` is the
/// least that is left; the delivery (`worst_send`) and the call that
/// keeps it (as long as the last one `record_took`) must fit in it, else
/// the claim could end while the message is sent and another node send
/// it too. `Err` says why (the claim is then let go, the message tried
/// again at the next look).
pub fn claim_covers(
    lease: Duration,
    took: Duration,
    worst_send: Duration,
    record_took: Duration,
) -> Result<(), String> {
    let left = lease.saturating_sub(took);
    let needed = worst_send + record_took;
    if left >= needed {
        return Ok(());
    }
    Err(format!(
        "the claim's call took {:.1} s: of its lease of {} s, {:.1} s are left, less than the delivery ({} s at most) and the call keeping it ({:.1} s last time) may take; raise alert_claim_lease_secs if the database is this slow",
        took.as_secs_f64(),
        lease.as_secs(),
        left.as_secs_f64(),
        worst_send.as_secs(),
        record_took.as_secs_f64()
    ))
}

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

/// Silences' keys as the journal takes them.
fn split(keys: &[String]) -> Vec<[String; 4]> {
    keys.iter()
        .filter_map(|k| {
            let mut p = k.split('\u{1f}').map(str::to_string);
            Some([p.next()?, p.next()?, p.next()?, p.next()?])
        })
        .collect()
}

/// A silence's key: (sink, tenant, host, channel).
fn silence_key(sink: &str, tenant: &str, host: &str, channel: &str) -> String {
    format!("{sink}\u{1f}{tenant}\u{1f}{host}\u{1f}{channel}")
}

/// The message for one incident.
fn message(
    lang: vigie_lang::Lang,
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
            // At most 50 each, with how many were left out (the docs'
            // promise: a message stays bounded, never cut unsaid).
            "hosts": inc.hosts.iter().take(CHANNELS_MAX).map(|h| &h.name).collect::<Vec<_>>(),
            "hosts_left_out": inc.hosts.len().saturating_sub(CHANNELS_MAX),
            "accounts": inc.accounts.iter().take(CHANNELS_MAX).map(|a| &a.name).collect::<Vec<_>>(),
            "accounts_left_out": inc.accounts.len().saturating_sub(CHANNELS_MAX),
            "summary": inc.summary,
        },
        "headline": headline,
        // Updates held back since the last message (never dropped
        // unsaid).
        "updates_held": held,
        // Chat tools (Mattermost, Rocket.Chat, Slack-compatible) show
        // `text`.
        "text": format!(
            "[Vigie] {tenant} {live_id} ({}): {}",
            vigie_lang::glossary::term(
                lang,
                serde_json::to_value(inc.severity)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("")
            ),
            inc.summary
        ),
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
                        alerting.keep_unkept();
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
        // Claimed first: one node says a channel silent. Those another
        // node said are taken as said here too; those another node is
        // saying now are looked at again at the next look.
        let keys: Vec<String> = newly.iter().map(|(k, _)| k.clone()).collect();
        let won = match a
            .kept
            .claim_silences(&split(&keys), &a.node, a.lease.as_secs() as i64)
        {
            Ok(won) => {
                a.claims_failed(None);
                won
            }
            Err(e) => {
                a.stats.failed.fetch_add(1, Ordering::Relaxed);
                a.claims_failed(Some(&e.to_string()));
                return;
            }
        };
        if won.iter().any(|w| !w) {
            let lost = newly.len() - won.iter().filter(|w| **w).count();
            a.stats
                .sent_elsewhere
                .fetch_add(lost as u64, Ordering::Relaxed);
            if let Ok(said) = a.kept.silences() {
                let mut silent = a.silent.lock().unwrap_or_else(|e| e.into_inner());
                for [s, t, h, ch] in said {
                    let k = silence_key(&s, &t, &h, &ch);
                    if keys.contains(&k) {
                        silent.insert(k);
                    }
                }
            }
        }
        let newly: Vec<_> = newly
            .into_iter()
            .zip(won)
            .filter_map(|(n, w)| w.then_some(n))
            .collect();
        if newly.is_empty() {
            continue;
        }
        // Each with how long it has been quiet: thresholds are per
        // channel (its own rhythm), not one for all.
        let names: Vec<String> = newly
            .iter()
            .map(|(_, c)| format!("{} ({}, {} min)", c.host, c.channel, c.silent_for_secs / 60))
            .collect();
        let body = json!({
            "source": "vigie",
            "kind": "sources_silent",
            "tenant": tenant,
            "silence_threshold_secs": h.silence_threshold_secs,
            // At most 50 (a chat tool or a datagram takes a bounded
            // message), with how many were left out: never cut unsaid.
            "channels": newly.iter().take(CHANNELS_MAX).map(|(_, c)| c).collect::<Vec<_>>(),
            "channels_left_out": newly.len().saturating_sub(CHANNELS_MAX),
            "text": a.lang.pick(
                format!(
                    "[Vigie] {tenant} : plus rien reçu, bien au-delà de leur rythme habituel, de {} — journalisation arrêtée ?",
                    sinks::capped(&names, 20).join(", ")
                ),
                format!(
                    "[Vigie] {tenant}: nothing received, well past their usual rhythm, from {} — logging stopped?",
                    sinks::capped(&names, 20).join(", ")
                ),
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
                // Any node may say them now.
                let keys: Vec<String> = newly.into_iter().map(|(k, _)| k).collect();
                if let Err(e) = a.kept.release_silences(&split(&keys), &a.node) {
                    eprintln!(
                        "vigie serve: claims on silences not let go ({e}): another node says them once they expire"
                    );
                }
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
        // Two parts of one incident (a reading behind the naming kept:
        // see `live::name_sets`) share its id: the first, the more
        // severe, speaks for it.
        let mut told = std::collections::HashSet::new();
        // One name per incident wherever an alert speaks: the live id
        // (the scope's `INC-n` changes as incidents grow).
        let headline = live_named(
            &answer.scope.answer.headline,
            &answer.scope.incidents,
            &answer.live_ids,
        );
        for (inc, live_id) in answer.scope.incidents.iter().zip(answer.live_ids.iter()) {
            if !told.insert(live_id.as_str()) {
                continue;
            }
            let mut inc = inc.clone();
            inc.summary = live_named(&inc.summary, &answer.scope.incidents, &answer.live_ids);
            if !tell(a, i, sink, &tenant, live_id, &inc, &headline) {
                return false;
            }
        }
        for (from, into) in answer.merged.iter() {
            if !tell_merged(a, i, sink, &tenant, from, into) {
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
    let (kind, held, after) = {
        let mut sent = a.sent.lock().unwrap_or_else(|e| e.into_inner());
        match sent.get_mut(&key) {
            None => ("incident_new", 0, 0),
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
                ("incident_updated", s.held, s.count)
            }
        }
    };
    // A delivery of it not kept yet: its claim is still this node's,
    // and the journal's count behind; the next message waits for it.
    if a.waits_to_be_kept(&key) {
        return true;
    }
    // Claimed before it is sent: of the nodes deriving this incident,
    // one sends this message.
    let claim_key = match claim_to_send(a, sink, &key, after) {
        Ok(k) => k,
        Err(done) => return done,
    };
    let body = message(a.lang, kind, tenant, live_id, inc, headline, held);
    let outcome = sink.send(&body);
    let record = Record {
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
    let say = a.outcome(i, outcome.is_ok(), &format!("alert {tenant} {live_id}"));
    match outcome {
        Ok(()) => {
            a.stats.delivered.fetch_add(1, Ordering::Relaxed);
            // Kept at once (the claim ended with it): the count is the
            // journal's, or one more than known when it could not be kept.
            let count = a.record(&record).unwrap_or(after + 1);
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
                    count,
                    merged: false,
                },
            );
            true
        }
        Err(e) => not_delivered(a, sink, &claim_key, record, e, say),
    }
}

/// Claims the message after `after` of `key` (destination, commune, live
/// id) for this node, with room left in its lease for the delivery and
/// its record ([`claim_covers`]): the claim to send under, or what the
/// look answers (`true`: another node sent it or holds it — its account
/// taken as this node's; `false`: not now, tried at the next look). One
/// place for every kind of message (new, updated, merged), so that each
/// tells its own claim from another node's alike.
pub(super) fn claim_to_send(
    a: &Alerting,
    sink: &dyn Sink,
    key: &(String, String, String),
    after: u64,
) -> Result<AlertKey, bool> {
    let (tenant, live_id) = (&key.1, &key.2);
    let claim_key = AlertKey {
        sink: key.0.clone(),
        tenant: key.1.clone(),
        live_id: key.2.clone(),
    };
    let asked = Instant::now();
    match a
        .kept
        .claim(&claim_key, after, &a.node, a.lease.as_secs() as i64)
    {
        Ok(Claim::Won) => {
            a.claims_failed(None);
            let record_took = Duration::from_millis(a.record_took_ms.load(Ordering::Relaxed));
            let covered = claim_covers(a.lease, asked.elapsed(), sink.worst_send(), record_took);
            let was = a.lease_short.swap(covered.is_err(), Ordering::Relaxed);
            if let Err(why) = covered {
                a.stats.failed.fetch_add(1, Ordering::Relaxed);
                if !was {
                    eprintln!(
                        "vigie serve: alert {tenant} {live_id} ({}) not sent now: {why}; tried again at the next look (counted in alerts_failed)",
                        sink.name()
                    );
                }
                release(a, &claim_key);
                return Err(false);
            }
            Ok(claim_key)
        }
        Ok(Claim::Lost { last, holder }) => {
            a.claims_failed(None);
            let kept = last.as_ref().map_or(0, |d| d.count);
            // A live claim of this node's own name is taken again by the
            // journal, never lost to it: one of another node only counts.
            let elsewhere = holder.as_deref().is_some_and(|h| h != a.node);
            if kept > after || elsewhere {
                a.stats.sent_elsewhere.fetch_add(1, Ordering::Relaxed);
            }
            let mut sent = a.sent.lock().unwrap_or_else(|e| e.into_inner());
            if kept > after {
                // What the other node delivered becomes this node's
                // account of the incident: the next message is the one
                // after it.
                if let Some(s) = last.and_then(|d| Sent::from_delivered(&d, &a.kept.place())) {
                    sent.insert(key.clone(), s);
                }
            } else if kept < after && holder.is_none() {
                // This node counted a delivery the journal could not
                // keep: the journal's count is the one claims go by.
                if let Some(s) = sent.get_mut(key) {
                    s.count = kept;
                }
            }
            Err(true)
        }
        Err(e) => {
            a.stats.failed.fetch_add(1, Ordering::Relaxed);
            a.claims_failed(Some(&e.to_string()));
            Err(false)
        }
    }
}

/// A message not delivered: counted; said (and kept in the journal) for
/// the first failure of a streak; its claim let go, so that any node may
/// try it again once the destination is due again. Always `false`.
pub(super) fn not_delivered(
    a: &Alerting,
    sink: &dyn Sink,
    claim_key: &AlertKey,
    mut record: Record,
    e: String,
    say: bool,
) -> bool {
    a.stats.failed.fetch_add(1, Ordering::Relaxed);
    if say {
        eprintln!(
            "vigie serve: alert {} {} ({}): {e}",
            claim_key.tenant,
            claim_key.live_id,
            sink.name()
        );
    }
    record.error = Some(e);
    if say {
        a.record(&record);
    }
    release(a, claim_key);
    false
}

/// Lets this node's claim go (it did not deliver).
fn release(a: &Alerting, claim_key: &AlertKey) {
    if let Err(e) = a.kept.release(claim_key, &a.node) {
        eprintln!(
            "vigie serve: claim on alert {} {} not let go ({e}): another node sends it once it expires",
            claim_key.tenant, claim_key.live_id
        );
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
