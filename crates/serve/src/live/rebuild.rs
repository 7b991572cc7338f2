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
//! shadow's lock — in the log's order, with the stamps of their receipt,
//! as a restart's replay feeds it. The events the worker observes
//! meanwhile at or past `from` ([`LiveScope::observe_at`]) go to the live
//! scope and to a third one, the tail, that holds them apart, unsettled:
//! fed into the shadow as they come, they would move the clocks (a host's
//! log, a commune's newest correlation input) that the old events still to
//! be read are measured by. No event at or past `from` was durable when
//! the line was drawn, so none was observed before the tail was there;
//! the reader takes every event below it, and the swap waits until the
//! worker has done the same (see [`crate::worker::rebuild`]): each event
//! reaches the new scope once. Then the shadow is passed through the
//! horizon with the reading's clocks alone, the tail's observers become
//! its fresh ones, and the whole takes the live one's place between two
//! events ([`LiveScope::finish_rebuild`]); the tenants' live ids go on
//! (named from their store, or carried over when kept in memory), so an
//! incident keeps its id.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use vigie_detect::Match;
use vigie_event::Event;

use super::LiveScope;

/// A rebuild under way: the scope being made (fed by the reader every
/// position below `from`), and the tail (fed by the worker every position
/// at or past it).
pub(super) struct Shadow {
    from: u64,
    scope: Arc<LiveScope>,
    /// What the worker observes meanwhile (positions at or past `from`),
    /// merged into `scope` once the reader is done.
    tail: Arc<LiveScope>,
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
            tail: false,
        }
    }

    /// Observes the event at `position` of the log, taken as received at
    /// `received` (the detection worker's path): into the live scope, and
    /// into a rebuild's tail when one is under way and the position is
    /// past its line.
    pub fn observe_at(
        &self,
        position: u64,
        received: vigie_event::Timestamp,
        tenant: &str,
        event: &Event,
        matches: &[Match],
    ) {
        let shadow = self.shadow.read().unwrap_or_else(|e| e.into_inner());
        self.observe_received(tenant, event, matches, received);
        if let Some(s) = shadow.as_ref().filter(|s| position >= s.from) {
            s.tail.observe_received(tenant, event, matches, received);
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
        let tail = Arc::new(LiveScope {
            tail: true,
            ..self.blank()
        });
        *shadow = Some(Shadow {
            from,
            scope: scope.clone(),
            tail,
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
        // Passed through the horizon before the worker is held: nothing
        // writes to it any more (its reader is done; the worker writes to
        // the tail).
        let made = self
            .shadow
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()?
            .scope
            .clone();
        made.settle_all();
        let mut shadow = self.shadow.write().unwrap_or_else(|e| e.into_inner());
        let Shadow {
            scope: made, tail, ..
        } = shadow.take()?;
        made.take_tail(&tail);
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

    /// Merges every tenant's fresh observer into its settled one and
    /// passes it through the horizon (a rebuild's scope, read to its
    /// line, with the clocks of its reading alone).
    fn settle_all(&self) {
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let now = chrono::Utc::now();
        for (name, t) in tenants.iter_mut() {
            let s = settled
                .entry(name.clone())
                .or_insert_with(|| super::Settled::new(self.assets_of(name).clone()));
            self.merge_fresh(name, s, t, now);
        }
    }

    /// Adds to this scope (a rebuild's, settled to its line) what `tail`
    /// observed meanwhile: the tail's observers become the fresh ones
    /// (merged at the next answer, as events observed since the last).
    /// Moves only: done while the worker waits.
    fn take_tail(&self, tail: &LiveScope) {
        let taken = std::mem::take(&mut *tail.tenants.lock().unwrap_or_else(|e| e.into_inner()));
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        for (name, mut late) in taken {
            let s = settled
                .entry(name.clone())
                .or_insert_with(|| super::Settled::new(self.assets_of(&name).clone()));
            let t = tenants
                .entry(name.clone())
                .or_insert_with(|| self.new_tenant(&name));
            t.fresh = std::mem::replace(
                &mut late.fresh,
                vigie_scope::Observer::new(self.assets_of(&name).clone()),
            );
            t.fresh.follow(&s.observer);
            t.fresh_correlation = std::mem::take(&mut late.fresh_correlation);
            t.observed += late.observed;
            t.future += late.future;
        }
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

#[cfg(test)]
mod tests {
    use super::super::horizon_tests::{as_served as live, engine, failed_logon as failed, fired};
    use super::*;

    /// The log read again while events arrive: the events retention kept
    /// read by the rebuild (received ten days ago, not in time order), the
    /// new ones observed by the worker meanwhile, before the reading is
    /// done, and a pass of the horizon in the middle of the reading. The
    /// scope swapped in is the one a single reading of the log gives —
    /// the event retention removed gone, every other once, the
    /// correlations of both accounts (none of bob's inputs late: the live
    /// events do not move the line the old ones are settled by).
    #[test]
    fn a_rebuild_while_events_arrive_is_one_reading_of_the_log() {
        let engine = engine();
        let e = engine.as_ref().as_ref().unwrap();
        let long_ago =
            received_at((chrono::Utc::now() - chrono::TimeDelta::days(10)).timestamp_micros());
        let removed = failed(e, 9, 1, "dave");
        let old: Vec<_> = [(0, 3), (1, 6), (2, 0)]
            .iter()
            .map(|(n, m)| failed(e, *n, *m, "bob"))
            .collect();
        let new: Vec<_> = [(3, 20), (4, 23), (5, 26)]
            .iter()
            .map(|(n, m)| failed(e, *n, 10 * 24 * 60 + m, "carol"))
            .collect();
        let scope = live(&engine);
        scope.observe_at(0, long_ago, "default", &removed.0, &removed.1);
        for (p, (ev, m)) in old.iter().enumerate() {
            scope.observe_at(1 + p as u64, long_ago, "default", ev, m);
        }
        assert_eq!(fired(&scope.answer("default").unwrap()).len(), 1);
        // Retention removed position 0; the line is the log's end, 4.
        let (shadow, from) = scope.begin_rebuild(|| 4).unwrap();
        assert_eq!(from, 4);
        assert!(scope.begin_rebuild(|| 4).is_none(), "one at a time");
        // The worker first (live events, received now), then the reader,
        // with a pass of the horizon after its first two events.
        for (p, (ev, m)) in new.iter().enumerate() {
            scope.observe_at(4 + p as u64, chrono::Utc::now(), "default", ev, m);
        }
        for (i, (ev, m)) in old.iter().enumerate() {
            shadow.observe_received("default", ev, m, long_ago);
            if i == 1 {
                shadow.settle("default", chrono::Utc::now());
            }
        }
        scope.finish_rebuild().unwrap();
        assert_eq!(scope.events("default"), 6, "every event kept, once");
        assert_eq!(scope.rebuilds.load(Ordering::Relaxed), 1);
        let a = scope.answer("default").unwrap();
        // One reading of the same log, in its order.
        let once = live(&engine);
        for (p, (ev, m)) in old.iter().chain(&new).enumerate() {
            let r = if p < 3 { long_ago } else { chrono::Utc::now() };
            once.observe_at(p as u64, r, "default", ev, m);
        }
        let b = once.answer("default").unwrap();
        assert_eq!(fired(&a).len(), 2, "{:?}", fired(&a));
        assert_eq!(fired(&a), fired(&b));
        assert_eq!(scope.held(), once.held());
        assert!(
            a.scope.caveats.iter().all(|c| !c.contains("late")),
            "{:?}",
            a.scope.caveats
        );
    }
}
