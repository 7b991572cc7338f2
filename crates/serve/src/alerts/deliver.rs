//! The delivery loop: each destination looked at every [`LOOK_EVERY`],
//! told what changed in each incident (one message per change at most
//! every [`UPDATE_EVERY`]), and a failing destination tried again less
//! often (up to [`BACKOFF_MAX`]) and said once per streak.

use super::*;

/// The message for one incident.
pub(super) fn message(
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
            "[Vigie] {}{live_id} ({}): {}",
            super::commune(tenant),
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
pub(super) struct SinkState {
    failures: u64,
    retry_at: Option<Instant>,
}

/// The longest wait between two tries of a failing destination.
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

impl Alerting {
    /// Whether destination `i` may be tried now.
    pub(super) fn due(&self, i: usize) -> bool {
        let st = self.state[i].lock().unwrap_or_else(|e| e.into_inner());
        st.retry_at.is_none_or(|t| Instant::now() >= t)
    }

    /// Notes a delivery's outcome; whether this one is to be said (the
    /// first failure of a streak; the first success after one).
    pub(super) fn outcome(&self, i: usize, ok: bool, what: &str) -> bool {
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

/// One look for destination `i`: the messages due, sent in order; stops
/// at the first failure (the destination is then left alone for a
/// while). Whether every delivery went through.
pub(super) fn look(live: &LiveScope, a: &Alerting, i: usize, sink: &dyn Sink) -> bool {
    for tenant in live.tenants() {
        let Some(answer) = live.answer(&tenant) else {
            continue;
        };
        // Two parts of one incident (a reading behind the naming kept:
        // see `live::name_sets`) share its id: told once, as a whole.
        let mut told = std::collections::HashSet::new();
        let parts_of = |id: &str| -> Vec<&vigie_scope::model::Incident> {
            answer
                .scope
                .incidents
                .iter()
                .zip(answer.live_ids.iter())
                .filter(|(_, l)| *l == id)
                .map(|(inc, _)| inc)
                .collect()
        };
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
            let mut inc = merged::whole(&parts_of(live_id)).unwrap_or_else(|| inc.clone());
            inc.summary = live_named(&inc.summary, &answer.scope.incidents, &answer.live_ids);
            if !tell(a, i, sink, &tenant, live_id, &inc, &headline) {
                return false;
            }
        }
        for (from, into) in answer.merged.iter() {
            // What the incident it is part of now holds, said with the
            // merge: whoever follows it knows at once how large it is
            // (over every part sharing its id).
            if !tell_merged(a, i, sink, &tenant, from, into, &parts_of(into)) {
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
