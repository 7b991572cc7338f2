//! The live scope made again from the events the log still holds, once
//! retention removed some: the scope a restart would give, without one.
//!
//! Why: the scope keeps what every event it observed gave — a detection,
//! the accounts, hosts and links it adds to — so its memory grows with
//! what was found until a restart, whatever the retention of the events
//! (about 3 KiB of heap per detection, measured). Forgetting the removed
//! events' facts one by one was tried and taken out: the aggregates keyed
//! by entity (links, accounts, coverage) kept the removed week, and the
//! incident they had held together split into parts paged as new
//! (docs/benchmarks.md, "Retention and the live scope"). A rebuild
//! observes again exactly what a restart would.
//!
//! How, without stopping the detection worker: a second scope (the
//! shadow) is fed by the rebuild's reader every event of the log below
//! `from` — the log's durable end when the rebuild began, read under the
//! shadow's lock — and by the worker every event at or past `from` it
//! observes meanwhile ([`LiveScope::observe_at`]). No event at or past
//! `from` was durable when the line was drawn, so none was observed
//! before the shadow was there: each event reaches the shadow once. Once
//! the reader reaches `from`, the shadow's observers take the live ones'
//! place between two events ([`LiveScope::finish_rebuild`]); the
//! tenants' live ids go on (named from their store, or carried over when
//! kept in memory), so an incident keeps its id.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use vigie_detect::Match;
use vigie_event::Event;

use super::LiveScope;

/// A rebuild under way: the scope being made, and the first position the
/// worker feeds it (the reader feeds those below).
pub(super) struct Shadow {
    from: u64,
    scope: Arc<LiveScope>,
}

/// Ends a rebuild that did not finish (an error, a panic) when dropped:
/// the shadow goes, the live scope stays as it was, and the position
/// retention must keep is released.
pub struct Abandon<'a> {
    live: &'a LiveScope,
    reading: &'a std::sync::atomic::AtomicU64,
    done: bool,
}

impl<'a> Abandon<'a> {
    pub fn new(live: &'a LiveScope, reading: &'a std::sync::atomic::AtomicU64) -> Self {
        Abandon {
            live,
            reading,
            done: false,
        }
    }

    /// The rebuild finished: nothing to abandon.
    pub fn done(mut self) {
        self.done = true;
    }
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.live.abandon_rebuild();
        }
        self.reading.store(u64::MAX, Ordering::Release);
    }
}

/// The log's stamp of receipt (µs since the epoch) as a time; now when it
/// cannot be one, and never later than now (a stamp is the receiving
/// node's clock).
pub fn received_at(micros: i64) -> vigie_event::Timestamp {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(micros)
        .filter(|t| *t > chrono::DateTime::UNIX_EPOCH)
        .map_or(now, |t| t.min(now))
}

/// What a rebuild replaced: the detections the live scope held before
/// and after (every tenant's), for what is said of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rebuilt {
    pub detections_before: usize,
    pub detections_after: usize,
}

impl LiveScope {
    /// An empty scope with this one's settings (assets, rules, language,
    /// zone, horizon), naming nothing: the live one names.
    fn blank(&self) -> LiveScope {
        LiveScope {
            assets: self.assets.clone(),
            tenant_assets: self.tenant_assets.clone(),
            others: self.others.clone(),
            lang: self.lang,
            zone: self.zone,
            engine: self.engine.clone(),
            correlating: self.correlating,
            tenants: Default::default(),
            settled: Default::default(),
            ids: None,
            naming: Default::default(),
            naming_failed: Default::default(),
            outage: Default::default(),
            rebuilt: std::sync::atomic::AtomicBool::new(true),
            horizon: self.horizon,
            held_after_receipt: self.held_after_receipt,
            evicted: Default::default(),
            shadow: std::sync::RwLock::new(None),
            generation: Default::default(),
            late: tokio::sync::Mutex::new(()),
            rebuilds: Default::default(),
            quiet: true,
        }
    }

    /// Observes the event at `position` of the log, received at
    /// `received` (µs since the epoch; the detection worker's path): into
    /// the live scope, and into a rebuild's when one is under way and the
    /// position is its to take.
    pub fn observe_at(
        &self,
        position: u64,
        received: i64,
        tenant: &str,
        event: &Event,
        matches: &[Match],
    ) {
        let received = received_at(received);
        let shadow = self.shadow.read().unwrap_or_else(|e| e.into_inner());
        self.observe_received(tenant, event, matches, received);
        if let Some(s) = shadow.as_ref().filter(|s| position >= s.from) {
            s.scope.observe_received(tenant, event, matches, received);
        }
    }

    /// Begins a rebuild: `end` (the log's durable end) is read under the
    /// lock every observed event takes, and the events below it are the
    /// caller's to feed to the scope returned. `None` when one is already
    /// under way.
    pub fn begin_rebuild(&self, end: impl FnOnce() -> u64) -> Option<(Arc<LiveScope>, u64)> {
        let mut shadow = self.shadow.write().unwrap_or_else(|e| e.into_inner());
        if shadow.is_some() {
            return None;
        }
        let from = end();
        let scope = Arc::new(self.blank());
        *shadow = Some(Shadow {
            from,
            scope: scope.clone(),
        });
        Some((scope, from))
    }

    /// Ends a rebuild whose reader fed every event below its line: its
    /// observers replace the live ones, between two events. A tenant keeps
    /// its live ids, its last answer (given until the next is derived) and
    /// its count of late changes; a tenant none of whose events is left
    /// goes, as after a restart.
    pub fn finish_rebuild(&self) -> Option<Rebuilt> {
        let before = self.held_detections();
        let mut shadow = self.shadow.write().unwrap_or_else(|e| e.into_inner());
        let made = shadow.take()?.scope;
        // The same order as every other taker: `settled`, then `tenants`.
        let (old_settled, old_tenants) = {
            let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
            let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let new_settled =
                std::mem::take(&mut *made.settled.lock().unwrap_or_else(|e| e.into_inner()));
            let mut new_tenants =
                std::mem::take(&mut *made.tenants.lock().unwrap_or_else(|e| e.into_inner()));
            for (name, t) in new_tenants.iter_mut() {
                if let Some(old) = tenants.get_mut(name) {
                    t.known = std::mem::take(&mut old.known);
                    t.changes = old.changes;
                    t.answered_changes = old.answered_changes;
                    // Given until the next is derived, of the generation
                    // before (see `Tenant::answered_in`).
                    t.answered = old.answered.take();
                    t.answered_in = old.answered_in;
                }
            }
            self.generation.fetch_add(1, Ordering::AcqRel);
            (
                std::mem::replace(&mut *settled, new_settled),
                std::mem::replace(&mut *tenants, new_tenants),
            )
        };
        drop(shadow);
        // What the old observers held is freed outside every lock.
        drop((old_settled, old_tenants));
        self.rebuilds.fetch_add(1, Ordering::Relaxed);
        Some(Rebuilt {
            detections_before: before,
            detections_after: self.held_detections(),
        })
    }

    /// Drops a rebuild that could not read the log to its line: the live
    /// scope stays as it was.
    pub fn abandon_rebuild(&self) {
        self.shadow
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// The detections every tenant's scope holds.
    fn held_detections(&self) -> usize {
        self.held()
            .into_iter()
            .find(|(k, _)| *k == "detections")
            .map_or(0, |(_, n)| n)
    }
}
