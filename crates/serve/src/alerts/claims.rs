//! Who sends a message when several api nodes derive the same incidents:
//! the claim in the journal, its lease, and what a node that lost the
//! claim, or whose delivery failed, does with it.
//!
//! Apart from the delivery loop because it answers a question of its own
//! — "is this node the one to say it?" — with rules (a lease long enough
//! for the slowest delivery and its record) that are easiest to check
//! when read together.

use super::*;

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
                // The journal call measured last is only ever measured
                // again after a send: a slow one (a network blip) kept as
                // is would refuse every claim from now on — no alert
                // again until a restart. What the database takes now is
                // this claim's own call: the next look judges by it.
                a.record_took_ms
                    .store(asked.elapsed().as_millis() as u64, Ordering::Relaxed);
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
