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
//!
//! The horizon: what grows with every event — the process creations kept
//! for parent chains, the matches kept for the correlator — is forgotten
//! once older than the horizon (`--scope-horizon`, 48 h of event time by
//! default), so that memory follows the activity of a span of time, not
//! how long the server has run. Process creations: see
//! [`vigie_scope::Observer::forget_older_than`] (each log on its own
//! clock; a detected process's lineage stays). Correlation inputs: those
//! older than the newest one less the longest correlation timespan and
//! the horizon are fed, in time order, to a correlator kept per tenant,
//! whose firings are kept; each answer finishes a copy of it over the
//! newer inputs. The sequence of inputs is the one a single run over all
//! of them sorted would see, so the correlations are `hunt`'s — unless an
//! input arrives more than the horizon after newer ones: it is then
//! counted, said, and correlated only if the correlator can still place
//! it. What was forgotten is counted (`vigie_scope_evicted_total`); the
//! events stay in the store (search, retro-hunt).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use vigie_detect::{CorrelationMatch, Correlator, Engine, Match};
use vigie_event::{Event, Timestamp};
use vigie_scope::{Assets, Lang, Observer, Scope, Zone};

/// What one tenant's events have given since the last answer began, and
/// what its answers keep.
///
/// Why two observers: the analysis consumes an observer, so an answer
/// works on a copy of everything observed. Copying under the lock the
/// detection worker takes for every event held the worker for as long as
/// the copy took, on a large scope many times per minute. The worker now
/// only ever writes `fresh`; an answer merges it into the tenant's
/// [`Settled`] observer (seconds of events: a moment) and copies that
/// outside the worker's lock — the process creations, most of it, shared
/// and not copied. Observers merge in any order with the same result
/// (`hunt` merges one per thread), and `fresh` names parents from the
/// settled creations ([`Observer::follow`]), so the answer is the one a
/// single observer would give.
struct Tenant {
    fresh: Observer,
    /// Slim matches of timed events, for the correlator (since the last
    /// answer began, as `fresh`).
    fresh_correlation: Vec<(Timestamp, Vec<Match>)>,
    /// Events observed in all (settled and fresh).
    observed: u64,
    /// The last answer and the number of events it covers.
    answered: Option<(u64, Answer)>,
    /// Every incident seen, by its live id.
    known: Vec<Known>,
    /// Detections came late (a retro-hunt) since the last answer: the
    /// next one is derived again, though no event was added.
    stale: bool,
}

/// What a tenant's answers have merged: every event observed before the
/// last answer began.
struct Settled {
    observer: Observer,
    /// Correlation inputs not yet given to `correlator`.
    for_correlation: Vec<(Timestamp, Vec<Match>)>,
    /// The correlator fed, in time order, every input older than
    /// `settled_before` (with a horizon).
    correlator: Option<Correlator>,
    /// What it fired.
    fired: Vec<CorrelationMatch>,
    settled_before: Option<Timestamp>,
    /// The newest correlation input's time.
    newest: Option<Timestamp>,
}

impl Settled {
    fn new(assets: Arc<Assets>) -> Settled {
        Settled {
            observer: Observer::new(assets),
            for_correlation: Vec::new(),
            correlator: None,
            fired: Vec::new(),
            settled_before: None,
            newest: None,
        }
    }
}

/// Counts of what the horizon forgot (every tenant's), by kind.
#[derive(Default)]
struct Evicted {
    process_creations: AtomicU64,
    orphan_processes: AtomicU64,
    correlation_events: AtomicU64,
    /// Correlation inputs that came later than the horizon after newer
    /// ones and could not be placed: not correlated.
    correlation_late: AtomicU64,
}

/// A fresh observer holding this many events is merged and passed
/// through the horizon without waiting for an answer (a restart's
/// rebuild observes every stored event before the first answer).
const SETTLE_EVERY: u64 = 1 << 18;

/// The scope now, with the live id of each of its incidents (same order).
#[derive(Clone)]
pub struct Answer {
    pub scope: Arc<Scope>,
    pub live_ids: Arc<Vec<String>>,
    /// The correlations the scope was derived with.
    pub correlations: Arc<Vec<CorrelationMatch>>,
}

/// An incident already seen: its live id and the entities it had.
///
/// Why live ids: the scope numbers its incidents by severity (`INC-1` is
/// the main one), so a number changes when another incident grows. A
/// console, an alert and a ticket need a name that stays: an incident
/// keeps its live id as it grows (it shares a host or an account with
/// what it was); when two merge, the merged one keeps the older id.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Known {
    pub id: String,
    pub entities: std::collections::BTreeSet<String>,
}

/// Names each incident of `scope` with a live id: the known incident
/// sharing most of its hosts and accounts (the oldest on a tie), each
/// known id used once; otherwise a new one. Pure: `known` is updated.
pub fn name_incidents(scope: &Scope, known: &mut Vec<Known>, tenant_prefix: &str) -> Vec<String> {
    let entities = |i: &vigie_scope::model::Incident| -> std::collections::BTreeSet<String> {
        i.hosts
            .iter()
            .map(|h| format!("host:{}", h.name.to_ascii_lowercase()))
            .chain(
                i.accounts
                    .iter()
                    .map(|a| format!("account:{}", a.name.to_ascii_lowercase())),
            )
            .collect()
    };
    let mut used = vec![false; known.len()];
    // The largest incidents choose first: a merge keeps the older id for
    // the whole, not for a fragment.
    let mut order: Vec<usize> = (0..scope.incidents.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(scope.incidents[i].detections));
    let mut named = vec![String::new(); scope.incidents.len()];
    for i in order {
        let e = entities(&scope.incidents[i]);
        let best = known
            .iter()
            .enumerate()
            .filter(|(k, _)| !used[*k])
            .map(|(k, kn)| (kn.entities.intersection(&e).count(), k))
            .filter(|(shared, _)| *shared > 0)
            .max_by_key(|(shared, k)| (*shared, std::cmp::Reverse(*k)));
        match best {
            Some((_, k)) => {
                used[k] = true;
                known[k].entities.extend(e);
                named[i] = known[k].id.clone();
            }
            None => {
                let id = format!("{tenant_prefix}{}", known.len() + 1);
                known.push(Known {
                    id: id.clone(),
                    entities: e,
                });
                used.push(true);
                named[i] = id;
            }
        }
    }
    named
}

/// The live scope of every tenant.
pub struct LiveScope {
    assets: Arc<Assets>,
    /// Communes with an assets file of their own (`--assets DIR`).
    tenant_assets: BTreeMap<String, Arc<Assets>>,
    /// With `--assets DIR`, what a commune without a file of its own
    /// reads: nothing (another's hosts and services would be shown on its
    /// board and its public page as its own). `None`: `assets`, every
    /// tenant's (`--assets FILE`).
    others: Option<Arc<Assets>>,
    lang: Lang,
    zone: Zone,
    engine: Arc<Option<Engine>>,
    correlating: bool,
    tenants: Mutex<BTreeMap<String, Tenant>>,
    /// Taken before `tenants` (never after it), by answers only.
    settled: Mutex<BTreeMap<String, Settled>>,
    /// Known incidents of tenants not observed yet since the start.
    known: Mutex<BTreeMap<String, Vec<Known>>>,
    /// Where the live ids are kept (`state.db`), so that they survive a
    /// restart; `None`: in memory only.
    ids: Option<Arc<vigie_state::SqliteIncidentIds>>,
    /// Set once the events stored before this start are observed again
    /// (see [`crate::worker::run`]): until then the scope is partial, and
    /// nothing is alerted from it.
    pub rebuilt: std::sync::atomic::AtomicBool,
    /// How far back in event time process creations and correlation
    /// inputs are kept; `None`: everything (as `hunt`).
    horizon: Option<chrono::TimeDelta>,
    evicted: Evicted,
}

impl LiveScope {
    /// `ids`: where live ids are kept (`state.db`), read here; `None`
    /// keeps them in memory only. Blocking.
    pub fn new(
        assets: Arc<Assets>,
        engine: Arc<Option<Engine>>,
        lang: Lang,
        zone: Zone,
        ids: Option<Arc<vigie_state::SqliteIncidentIds>>,
    ) -> Result<Self, vigie_store::StoreError> {
        let known = match &ids {
            Some(store) => store
                .all()?
                .into_iter()
                .map(|(tenant, known)| {
                    let known = known
                        .into_iter()
                        .map(|(id, entities)| Known { id, entities })
                        .collect();
                    (tenant, known)
                })
                .collect(),
            None => BTreeMap::new(),
        };
        let correlating = engine
            .as_ref()
            .as_ref()
            .is_some_and(|e| e.stats().correlation_rules > 0);
        Ok(LiveScope {
            assets,
            tenant_assets: BTreeMap::new(),
            others: None,
            lang,
            zone,
            engine,
            correlating,
            tenants: Mutex::new(BTreeMap::new()),
            settled: Mutex::new(BTreeMap::new()),
            known: Mutex::new(known),
            ids,
            rebuilt: std::sync::atomic::AtomicBool::new(false),
            horizon: None,
            evicted: Evicted::default(),
        })
    }

    /// Keeps process creations and correlation inputs for `horizon` of
    /// event time (see the module's documentation).
    pub fn with_horizon(mut self, horizon: std::time::Duration) -> Self {
        self.horizon = chrono::TimeDelta::from_std(horizon).ok();
        self
    }

    /// What the horizon forgot since the start, by kind (every tenant's).
    pub fn evicted(&self) -> Vec<(&'static str, u64)> {
        let e = &self.evicted;
        vec![
            (
                "process_creations",
                e.process_creations.load(Ordering::Relaxed),
            ),
            (
                "orphan_processes",
                e.orphan_processes.load(Ordering::Relaxed),
            ),
            (
                "correlation_events",
                e.correlation_events.load(Ordering::Relaxed),
            ),
            (
                "correlation_late",
                e.correlation_late.load(Ordering::Relaxed),
            ),
        ]
    }

    /// The assets file the scope reads (the crisis cell's board too).
    pub fn assets(&self) -> &Arc<Assets> {
        &self.assets
    }

    /// Gives communes their own assets files (hosts, services, accounts
    /// differ from one to the next): the one given to [`LiveScope::new`]
    /// is then the tenant `default`'s only, and a commune without a file
    /// of its own has none (empty: roles inferred, no service).
    pub fn with_tenant_assets(mut self, by_tenant: BTreeMap<String, Arc<Assets>>) -> Self {
        self.tenant_assets = by_tenant;
        self.others = Some(Arc::new(Assets::default()));
        self
    }

    /// The assets file of `tenant`.
    pub fn assets_of(&self, tenant: &str) -> &Arc<Assets> {
        if let Some(a) = self.tenant_assets.get(tenant) {
            return a;
        }
        match &self.others {
            Some(none) if tenant != "default" => none,
            _ => &self.assets,
        }
    }

    /// Observes one judged event of `tenant` (the streaming half).
    pub fn observe(&self, tenant: &str, event: &Event, matches: &[Match]) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = match tenants.get_mut(tenant) {
            Some(t) => t,
            None => tenants.entry(tenant.to_string()).or_insert_with(|| Tenant {
                fresh: Observer::new(self.assets_of(tenant).clone()),
                fresh_correlation: Vec::new(),
                observed: 0,
                answered: None,
                stale: false,
                known: self
                    .known
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(tenant)
                    .unwrap_or_default(),
            }),
        };
        t.fresh.observe(event, matches);
        t.observed += 1;
        if let (true, Some(time), false) = (self.correlating, event.timestamp, matches.is_empty()) {
            t.fresh_correlation
                .push((time, vigie_hunt::pipeline::for_correlator(matches)));
        }
        if self.horizon.is_some() && t.fresh.events() >= SETTLE_EVERY {
            drop(tenants);
            self.settle(tenant);
        }
    }

    /// Merges the fresh observer of `tenant` into its settled one and
    /// passes it through the horizon, without an answer.
    fn settle(&self, tenant: &str) {
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let s = settled
            .entry(tenant.to_string())
            .or_insert_with(|| Settled::new(self.assets_of(tenant).clone()));
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = tenants.get_mut(tenant) {
            self.merge_fresh(tenant, s, t);
        }
    }

    /// Moves what `t` observed since into `s`, passes it through the
    /// horizon, and has the next fresh observer follow it. Under both
    /// locks: the worker waits (seconds of events merged; a pass of the
    /// horizon only when the creations held grew by a quarter).
    fn merge_fresh(&self, tenant: &str, s: &mut Settled, t: &mut Tenant) {
        let empty = Observer::new(self.assets_of(tenant).clone());
        let mut fresh = std::mem::replace(&mut t.fresh, empty);
        // Unfollowed first: the merge then adds to the settled process
        // creations in place (nothing else holds them but an answer still
        // being derived).
        fresh.unfollow();
        s.observer.merge(fresh);
        s.for_correlation
            .extend(std::mem::take(&mut t.fresh_correlation));
        if let Some(horizon) = self.horizon {
            if s.observer.horizon_due() {
                let f = s.observer.forget_older_than(horizon);
                let e = &self.evicted;
                e.process_creations
                    .fetch_add(f.process_creations, Ordering::Relaxed);
                e.orphan_processes
                    .fetch_add(f.orphan_processes, Ordering::Relaxed);
            }
            self.settle_correlations(s, horizon);
        }
        t.fresh.follow(&s.observer);
    }

    /// Feeds the correlation inputs older than the newest one less the
    /// longest correlation timespan and the horizon, in time order, to
    /// the tenant's kept correlator, and keeps what it fires.
    fn settle_correlations(&self, s: &mut Settled, horizon: chrono::TimeDelta) {
        let Some(engine) = self.engine.as_ref().as_ref().filter(|_| self.correlating) else {
            return;
        };
        s.newest = s
            .for_correlation
            .iter()
            .map(|(t, _)| *t)
            .chain(s.newest)
            .max();
        let correlator = s.correlator.get_or_insert_with(|| engine.correlator());
        let span = chrono::TimeDelta::from_std(correlator.longest_timespan())
            .unwrap_or(chrono::TimeDelta::MAX);
        let Some(line) = s
            .newest
            .and_then(|n| n.checked_sub_signed(span))
            .and_then(|n| n.checked_sub_signed(horizon))
        else {
            return;
        };
        if !s.for_correlation.iter().any(|(t, _)| *t < line) {
            return;
        }
        s.for_correlation.sort_by_key(|(t, _)| *t);
        let older = s.for_correlation.partition_point(|(t, _)| *t < line);
        let late_before = correlator.stats().dropped_late;
        for (t, m) in s.for_correlation.drain(..older) {
            s.fired.extend(correlator.observe(t, &m));
        }
        let late = correlator.stats().dropped_late - late_before;
        s.settled_before = Some(line);
        let e = &self.evicted;
        e.correlation_events
            .fetch_add(older as u64, Ordering::Relaxed);
        if late > 0 {
            e.correlation_late.fetch_add(late, Ordering::Relaxed);
            eprintln!(
                "vigie serve: {late} event(s) with correlation inputs came more than the scope's horizon after newer ones: not correlated (the events and their detections are kept)"
            );
        }
    }

    /// Takes detections raised later on an event already observed (a
    /// retro-hunt's): the scope's signals grow, the event is not counted
    /// twice, and the next answer is derived again.
    pub fn observe_late(&self, tenant: &str, event: &Event, matches: &[Match]) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = tenants.get_mut(tenant) {
            t.fresh.observe_late(event, matches);
            t.stale = true;
        }
    }

    /// What every tenant's live scope holds, by kind of fact (summed over
    /// tenants; a tenant's settled and fresh observers counted as merged,
    /// a key in both once): see [`Observer::held_beside`].
    /// `correlation_events` counts the events kept for the correlator.
    pub fn held(&self) -> Vec<(&'static str, usize)> {
        let settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let names: std::collections::BTreeSet<&String> =
            settled.keys().chain(tenants.keys()).collect();
        let mut sum: Vec<(&'static str, usize)> = Vec::new();
        for name in names {
            let (s, t) = (settled.get(name), tenants.get(name));
            let held = match (s, t) {
                (Some(s), Some(t)) => s.observer.held_beside(&t.fresh),
                (Some(s), None) => s.observer.held(),
                (None, Some(t)) => t.fresh.held(),
                (None, None) => continue,
            };
            let correlation = s.map_or(0, |s| s.for_correlation.len())
                + t.map_or(0, |t| t.fresh_correlation.len());
            let held = held
                .into_iter()
                .chain([("correlation_events", correlation)]);
            for (i, (k, n)) in held.enumerate() {
                match sum.get_mut(i) {
                    Some(s) => s.1 += n,
                    None => sum.push((k, n)),
                }
            }
        }
        sum
    }

    /// The tenants that sent events.
    pub fn tenants(&self) -> Vec<String> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.keys().cloned().collect()
    }

    /// Events observed for `tenant`.
    pub fn events(&self, tenant: &str) -> u64 {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(tenant).map_or(0, |t| t.observed)
    }

    /// The scope of `tenant` now (the batch half, on a copy), or `None`
    /// when nothing of it was observed. Blocking: call it off the async
    /// threads.
    pub fn scope(&self, tenant: &str) -> Option<Arc<Scope>> {
        self.answer(tenant).map(|a| a.scope)
    }

    /// The last answer computed for `tenant` and the number of events it
    /// covers, without computing one.
    pub fn last_answer(&self, tenant: &str) -> Option<(u64, Answer)> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(tenant)?.answered.clone()
    }

    /// [`LiveScope::scope`] with its incidents' live ids.
    pub fn answer(&self, tenant: &str) -> Option<Answer> {
        // `settled` first, then `tenants` (the worker's lock) while the
        // fresh observer is merged: a few seconds of events, not the copy
        // of everything. Two answers at once merge in turn.
        // A tenant that sent nothing has no scope (and gets no settled
        // observer: an admin asking for any name must not leave one).
        if !self
            .tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(tenant)
        {
            return None;
        }
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let s = settled
            .entry(tenant.to_string())
            .or_insert_with(|| Settled::new(self.assets_of(tenant).clone()));
        let events = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let t = tenants.get_mut(tenant)?;
            if let Some((n, a)) = &t.answered {
                if *n == t.observed && !t.stale {
                    return Some(a.clone());
                }
            }
            self.merge_fresh(tenant, s, t);
            t.observed
        };
        let (observer, mut items) = (s.observer.clone(), s.for_correlation.clone());
        let (kept, fired) = (s.correlator.clone(), s.fired.clone());
        drop(settled);
        let correlations = Arc::new(self.correlations(kept, fired, &mut items));
        let scope = Arc::new(observer.finish_in(&correlations, self.lang, self.zone));
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = tenants.get_mut(tenant)?;
        if let Some((n, a)) = &t.answered {
            // A newer answer was stored meanwhile: it stands.
            if *n > events || (*n == events && !t.stale) {
                return Some(a.clone());
            }
        }
        let before = (
            t.known.len(),
            t.known.iter().map(|k| k.entities.len()).sum::<usize>(),
        );
        let live_ids = Arc::new(name_incidents(&scope, &mut t.known, "L"));
        let after = (
            t.known.len(),
            t.known.iter().map(|k| k.entities.len()).sum::<usize>(),
        );
        let answer = Answer {
            scope,
            live_ids,
            correlations,
        };
        t.answered = Some((events, answer.clone()));
        t.stale = false;
        // Kept (synced) before the answer is given: an id served is an
        // id that survives a `kill -9`. Only this tenant's, in one
        // transaction, under the worker's lock as the naming was (two
        // answers never keep an older naming over a newer one).
        if before != after {
            if let Some(ids) = &self.ids {
                let rows: Vec<vigie_state::KnownIncident> = t
                    .known
                    .iter()
                    .map(|k| (k.id.clone(), k.entities.clone()))
                    .collect();
                if let Err(e) = ids.keep(tenant, &rows) {
                    eprintln!(
                        "vigie serve: the live ids of {tenant} not kept ({e}): they may change at the next start"
                    );
                }
            }
        }
        Some(answer)
    }

    /// The correlator run over the kept matches in time order (stable
    /// for equal times: arrival order), as `hunt` runs it: `kept` (what
    /// fed it before, with what it `fired`) goes on over the newer ones.
    fn correlations(
        &self,
        kept: Option<Correlator>,
        mut fired: Vec<CorrelationMatch>,
        items: &mut [(Timestamp, Vec<Match>)],
    ) -> Vec<CorrelationMatch> {
        let Some(engine) = self.engine.as_ref().as_ref() else {
            return Vec::new();
        };
        if !self.correlating {
            return Vec::new();
        }
        items.sort_by_key(|(t, _)| *t);
        let mut correlator = kept.unwrap_or_else(|| engine.correlator());
        for (t, m) in items.iter() {
            fired.extend(correlator.observe(*t, m));
        }
        fired.extend(correlator.finish());
        fired
    }
}

/// The `state.db` where a node keeps its live ids and its alerting's
/// journal: the embedded state's (`embedded`, opened without `--db`), or
/// with `--db` the node's own, opened here — the former
/// `incidents.json` and `alerts.jsonl` of `data` imported into it first
/// (the other former files are PostgreSQL's business and stay as they
/// are). Blocking.
pub fn node_state(
    data: &std::path::Path,
    embedded: Option<&Arc<vigie_state::Db>>,
) -> Result<Arc<vigie_state::Db>, vigie_store::StoreError> {
    if let Some(db) = embedded {
        return Ok(db.clone());
    }
    let imported = vigie_state::import_only(data, &vigie_state::import::NODE_FILES)?;
    for line in imported.lines() {
        eprintln!("vigie serve: {line}");
    }
    vigie_state::Db::open(data)
}

#[cfg(test)]
mod tests {
    //! The horizon of correlation inputs: settled into a kept correlator
    //! only once older than the newest less the longest timespan and the
    //! horizon; the correlations are then those of one run over every
    //! input (as `hunt` gives them), a burst across the line included.
    use super::*;
    use chrono::TimeZone;

    const RULES: &str = "title: Failed logon
id: 0b6f4c1e-7d5a-4b7e-9a51-2f4c8e1d0001
status: test
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4625
  condition: sel
level: low
---
title: Failed logons of one account
id: 0b6f4c1e-7d5a-4b7e-9a51-2f4c8e1d0002
status: test
correlation:
  type: event_count
  rules:
    - 0b6f4c1e-7d5a-4b7e-9a51-2f4c8e1d0001
  group-by:
    - TargetUserName
  timespan: 10m
  condition:
    gte: 3
level: high
";

    fn engine() -> Arc<Option<Engine>> {
        let (set, report) = vigie_detect::load_str(
            RULES,
            std::path::Path::new("test.yml"),
            &vigie_detect::LoadOptions::default(),
        );
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let (engine, failures) = Engine::compile(set);
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(engine.stats().correlation_rules, 1);
        Arc::new(Some(engine))
    }

    fn scope(engine: &Arc<Option<Engine>>, horizon: Option<u64>) -> LiveScope {
        let live = LiveScope::new(
            Arc::new(Assets::default()),
            engine.clone(),
            Lang::En,
            Zone::Utc,
            None,
        )
        .unwrap();
        match horizon {
            Some(h) => live.with_horizon(std::time::Duration::from_secs(h * 3600)),
            None => live,
        }
    }

    fn at(minutes: i64) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap()
            + chrono::TimeDelta::minutes(minutes)
    }

    /// A failed logon of `user` at `at(minutes)`, judged by the engine and
    /// observed by every scope.
    fn failed(scopes: &[&LiveScope], engine: &Engine, n: u64, minutes: i64, user: &str) {
        let mut e = Event::new(vigie_event::Origin {
            source: Arc::from("test"),
            locator: vigie_event::Locator::Record(n),
        });
        e.timestamp = Some(at(minutes));
        e.computer = Some("DC01.ccpab.local".into());
        e.channel = Some("Security".into());
        e.event_id = Some(4625);
        e.record_id = Some(n);
        e.push("EventID", 4625i64);
        e.push("Channel", "Security");
        e.push("TargetUserName", user);
        let mut m = Vec::new();
        engine.evaluate(&e, &mut m);
        assert!(!m.is_empty(), "the failed logon matches");
        for s in scopes {
            s.observe("default", &e, &m);
        }
    }

    fn fired(a: &Answer) -> Vec<String> {
        a.correlations
            .iter()
            .map(|c| format!("{} {:?} {} {}", c.rule.title, c.group, c.first, c.last))
            .collect()
    }

    fn count(live: &LiveScope, kind: &str) -> u64 {
        live.evicted()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .unwrap()
            .1
    }

    #[test]
    fn correlation_inputs_go_once_final_and_a_burst_across_the_line_still_fires() {
        let engine = engine();
        let e = engine.as_ref().as_ref().unwrap();
        let (bounded, whole) = (scope(&engine, Some(48)), scope(&engine, None));
        let both = [&bounded, &whole];
        // bob fails three times in 8 minutes: one correlation, fired at
        // the third.
        failed(&both, e, 1, 0, "bob");
        failed(&both, e, 2, 4, "bob");
        failed(&both, e, 3, 8, "bob");
        let first = bounded.answer("default").unwrap();
        assert_eq!(fired(&first).len(), 1);
        // Nothing is old enough yet: every input is held.
        assert_eq!(count(&bounded, "correlation_events"), 0);
        // Two days, 10 minutes and 6 more later, carol: the line (newest
        // less the 10-minute timespan and the 48-hour horizon) falls
        // between bob's second and third failures.
        failed(&both, e, 4, 48 * 60 + 16, "carol");
        let a = bounded.answer("default").unwrap();
        assert_eq!(count(&bounded, "correlation_events"), 2);
        let held: usize = bounded
            .held()
            .into_iter()
            .find(|(k, _)| *k == "correlation_events")
            .unwrap()
            .1;
        assert_eq!(held, 2, "bob's third and carol's");
        assert_eq!(fired(&a), fired(&whole.answer("default").unwrap()));
        assert_eq!(fired(&a), fired(&first));
        // carol fails twice more: a second correlation, as without the
        // horizon; the first stays.
        failed(&both, e, 5, 48 * 60 + 17, "carol");
        failed(&both, e, 6, 48 * 60 + 18, "carol");
        let a = bounded.answer("default").unwrap();
        assert_eq!(fired(&a).len(), 2, "{:?}", fired(&a));
        assert_eq!(fired(&a), fired(&whole.answer("default").unwrap()));
        assert_eq!(count(&bounded, "correlation_late"), 0);
        // An input two days late (before what was settled): counted, not
        // correlated, nothing else changed.
        failed(&both, e, 7, 1, "dave");
        let a = bounded.answer("default").unwrap();
        assert_eq!(count(&bounded, "correlation_late"), 1);
        assert_eq!(fired(&a), fired(&whole.answer("default").unwrap()));
    }
}
