//! The live scope: the scope's observer fed by the detection worker (its
//! streaming half), its analysis run on demand on a copy (its batch half)
//! — the same two halves `hunt` drives, per tenant.
//!
//! Why on demand and on a copy: the analysis reads everything observed
//! and consumes the observer; the worker must keep observing meanwhile.
//! An answer is computed when asked and kept until new events arrive, so
//! a console polling every few seconds costs one analysis per change.
//!
//! Correlations: the matches of every timed event are kept (slim, as
//! `hunt` keeps them) and the correlator is run over them in time order
//! when the scope is asked for. Events reach the server out of order
//! (several shippers, retries); sorting at the time of the answer gives
//! the correlations `hunt` gives on the same events.
//!
//! After a restart the observer is rebuilt by reading the log again from
//! its start (see [`crate::worker::run`]): the scope covers every stored
//! event, not only those since the start.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use vigie_detect::{CorrelationMatch, Engine, Match};
use vigie_event::{Event, Timestamp};
use vigie_scope::{Assets, Lang, Observer, Scope, Zone};

/// What one tenant's events have given so far.
struct Tenant {
    observer: Observer,
    /// Slim matches of timed events, for the correlator.
    for_correlation: Vec<(Timestamp, Vec<Match>)>,
    /// The last answer and the number of events it covers.
    answered: Option<(u64, Arc<Scope>)>,
}

/// The live scope of every tenant.
pub struct LiveScope {
    assets: Arc<Assets>,
    lang: Lang,
    zone: Zone,
    engine: Arc<Option<Engine>>,
    correlating: bool,
    tenants: Mutex<BTreeMap<String, Tenant>>,
}

impl LiveScope {
    pub fn new(assets: Arc<Assets>, engine: Arc<Option<Engine>>, lang: Lang, zone: Zone) -> Self {
        let correlating = engine
            .as_ref()
            .as_ref()
            .is_some_and(|e| e.stats().correlation_rules > 0);
        LiveScope {
            assets,
            lang,
            zone,
            engine,
            correlating,
            tenants: Mutex::new(BTreeMap::new()),
        }
    }

    /// Observes one judged event of `tenant` (the streaming half).
    pub fn observe(&self, tenant: &str, event: &Event, matches: &[Match]) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = tenants.entry(tenant.to_string()).or_insert_with(|| Tenant {
            observer: Observer::new(self.assets.clone()),
            for_correlation: Vec::new(),
            answered: None,
        });
        t.observer.observe(event, matches);
        if let (true, Some(time), false) = (self.correlating, event.timestamp, matches.is_empty()) {
            t.for_correlation
                .push((time, vigie_hunt::pipeline::for_correlator(matches)));
        }
    }

    /// The tenants that sent events.
    pub fn tenants(&self) -> Vec<String> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.keys().cloned().collect()
    }

    /// Events observed for `tenant`.
    pub fn events(&self, tenant: &str) -> u64 {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(tenant).map_or(0, |t| t.observer.events())
    }

    /// The scope of `tenant` now (the batch half, on a copy), or `None`
    /// when nothing of it was observed. Blocking: call it off the async
    /// threads.
    pub fn scope(&self, tenant: &str) -> Option<Arc<Scope>> {
        let (observer, mut items, events) = {
            let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let t = tenants.get(tenant)?;
            let events = t.observer.events();
            if let Some((n, s)) = &t.answered {
                if *n == events {
                    return Some(s.clone());
                }
            }
            (t.observer.clone(), t.for_correlation.clone(), events)
        };
        let correlations = self.correlations(&mut items);
        let scope = Arc::new(observer.finish_in(&correlations, self.lang, self.zone));
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = tenants.get_mut(tenant) {
            // Kept unless a newer answer was stored meanwhile.
            if t.answered.as_ref().is_none_or(|(n, _)| *n < events) {
                t.answered = Some((events, scope.clone()));
            }
        }
        Some(scope)
    }

    /// The correlator run over the kept matches in time order (stable
    /// for equal times: arrival order), as `hunt` runs it.
    fn correlations(&self, items: &mut [(Timestamp, Vec<Match>)]) -> Vec<CorrelationMatch> {
        let Some(engine) = self.engine.as_ref().as_ref() else {
            return Vec::new();
        };
        if !self.correlating {
            return Vec::new();
        }
        items.sort_by_key(|(t, _)| *t);
        let mut correlator = engine.correlator();
        let mut fired = Vec::new();
        for (t, m) in items.iter() {
            fired.extend(correlator.observe(*t, m));
        }
        fired.extend(correlator.finish());
        fired
    }
}
