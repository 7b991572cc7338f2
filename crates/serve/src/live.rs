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
use vigie_store::live::{AlertJournal, IncidentIds};

mod outage;
use outage::Outages;

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
    /// Events observed dated more than [`FUTURE_TOLERANCE`] after their
    /// receipt (see [`LiveScope::observe`]).
    future: u64,
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
    /// Events dated more than [`FUTURE_TOLERANCE`] after their receipt
    /// (not forgotten: they only do not move the horizon).
    future: AtomicU64,
}

/// How far ahead of the server's clock an event's time may be and still
/// move the horizon's clocks (hosts' clocks drift; shippers batch).
///
/// Why a ceiling at all: the horizon's lines are measured from the newest
/// event time seen (each log's for process creations, the commune's for
/// correlation inputs), and that only grows. One event dated in the
/// future — a host with a wrong clock, RFC 3164 syslog's guessed year at
/// New Year, any holder of an ingest token — would put every real event
/// below the line until real time caught up: process chains forgotten,
/// correlation inputs settled at once and those arriving a minute behind
/// others dropped as late. Such an event is kept, judged and shown with
/// its own time; it only does not move the clocks (and is counted).
/// `hunt` has no "now" (it reads old files) and sets no ceiling.
pub const FUTURE_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

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
    let mut kept: Vec<vigie_state::KnownIncident> = std::mem::take(known)
        .into_iter()
        .map(|k| (k.id, k.entities))
        .collect();
    let named = name_kept(scope, &mut kept, tenant_prefix);
    *known = kept
        .into_iter()
        .map(|(id, entities)| Known { id, entities })
        .collect();
    named
}

/// [`name_incidents`] on the incidents as a store keeps them (what
/// [`vigie_store::live::IncidentIds::name`] hands over under the tenant's
/// lock).
pub fn name_kept(
    scope: &Scope,
    known: &mut Vec<vigie_state::KnownIncident>,
    tenant_prefix: &str,
) -> Vec<String> {
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
    let incidents: Vec<_> = scope
        .incidents
        .iter()
        .map(|i| (entities(i), i.first.timestamp_millis()))
        .collect();
    name_sets(&incidents, known, tenant_prefix)
}

/// [`name_kept`] on each incident's entities and first time (ms).
///
/// The oldest incidents choose first: a host's incident of Monday keeps
/// its id when the one of Thursday on the same host grows larger (by
/// detections the larger chose first, and took the older's id).
///
/// A reading older than the naming kept (an api node behind the other on
/// the stream) may hold as two incidents what the other already merged:
/// a part whose hosts and accounts all belong to an incident already
/// named this time, and that shares none with the parts already given
/// its id, is given that id — adopted, never split off under a new id
/// (and paged for). Two incidents of the scope that share a host or an
/// account were kept apart by the scope itself (by time: the same host
/// attacked again days later): never one id. A part with a host or
/// account the kept naming never saw with the others is named anew.
pub fn name_sets(
    incidents: &[(std::collections::BTreeSet<String>, i64)],
    known: &mut Vec<vigie_state::KnownIncident>,
    tenant_prefix: &str,
) -> Vec<String> {
    let mut used = vec![false; known.len()];
    // Per known incident, the entities of the incidents given its id in
    // this naming.
    let mut given: Vec<std::collections::BTreeSet<String>> = vec![Default::default(); known.len()];
    // Per known incident, what it held before this naming.
    let mut before: Vec<std::collections::BTreeSet<String>> =
        known.iter().map(|k| k.1.clone()).collect();
    let mut order: Vec<usize> = (0..incidents.len()).collect();
    order.sort_by_key(|&i| (incidents[i].1, i));
    let mut named = vec![String::new(); incidents.len()];
    for i in order {
        let (e, first) = (&incidents[i].0, incidents[i].1);
        let first_mark = format!("{FIRST_AT}{first}");
        // The id first given to an incident of this first time, before
        // the one sharing most: two incidents of one host kept apart by
        // time that grow over each other's hosts keep their ids.
        let best = known
            .iter()
            .enumerate()
            .filter(|(k, kn)| !used[*k] && !retired(&kn.1))
            .map(|(k, kn)| {
                let shared = kn.1.intersection(e).count();
                (kn.1.contains(&first_mark) && shared > 0, shared, k)
            })
            .filter(|(_, shared, _)| *shared > 0)
            .max_by_key(|(same_first, shared, k)| (*same_first, *shared, std::cmp::Reverse(*k)));
        if let Some((_, _, k)) = best {
            used[k] = true;
            given[k].extend(e.iter().cloned());
            known[k].1.extend(e.iter().cloned());
            named[i] = known[k].0.clone();
            continue;
        }
        // A part of an incident the kept naming already holds whole (a
        // reader behind the one that merged it): its id, nothing kept.
        let whole = known
            .iter()
            .enumerate()
            .filter(|(k, kn)| {
                !e.is_empty() && !retired(&kn.1) && e.is_subset(&kn.1) && given[*k].is_disjoint(e)
            })
            .max_by_key(|(k, kn)| (kn.1.len(), std::cmp::Reverse(*k)))
            .map(|(k, _)| k);
        if let Some(k) = whole {
            given[k].extend(e.iter().cloned());
            named[i] = known[k].0.clone();
            continue;
        }
        let id = format!("{tenant_prefix}{}", known.len() + 1);
        let mut kept = e.clone();
        kept.insert(first_mark);
        known.push((id.clone(), kept));
        used.push(true);
        before.push(Default::default());
        given.push(e.clone());
        named[i] = id;
    }
    // A known incident no incident took, whose hosts and accounts one
    // incident now holds under another id — and holds only since this
    // naming (some of them are new to that id) — was merged into it:
    // retired, so that a later incident sharing an account with it is not
    // given its id (that incident would be compared with the merged one's
    // last page, and never paged as new). Without anything new to the
    // taker, this reading is only behind the one that named `k` (an api
    // node that has not yet seen `k`'s incident): `k` is kept.
    for k in 0..known.len() {
        let own: std::collections::BTreeSet<&String> =
            known[k].1.iter().filter(|e| !is_mark(e)).collect();
        if used[k] || retired(&known[k].1) || own.is_empty() {
            continue;
        }
        let into = (0..known.len()).find(|&j| {
            j != k
                && !given[j].is_empty()
                && own.iter().all(|e| given[j].contains(*e))
                && own.iter().any(|e| !before[j].contains(*e))
        });
        if let Some(j) = into {
            let mark = format!("{MERGED_INTO}{}", known[j].0);
            known[k].1.insert(mark);
        }
    }
    named
}

/// The mark of a live id retired by a merge, among its entities (never
/// an incident's own: theirs are `host:` and `account:`).
const MERGED_INTO: &str = "merged-into:";

fn retired(entities: &std::collections::BTreeSet<String>) -> bool {
    entities.iter().any(|e| e.starts_with(MERGED_INTO))
}

/// The mark of the first time (ms) of the incident a live id was made
/// for, among its entities: kept when the id is made, never changed (an
/// id kept before it has none, and is matched by what it shares only).
const FIRST_AT: &str = "first-at:";

/// A mark kept among a live id's entities, not a host or an account.
fn is_mark(e: &str) -> bool {
    e.starts_with(MERGED_INTO) || e.starts_with(FIRST_AT)
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
    /// Where the live ids are kept (`state.db`, or PostgreSQL with
    /// `--db`, shared by the api nodes), so that they survive a restart
    /// and every node gives an incident the same one; `None`: in memory
    /// only (each tenant's `Tenant::known`).
    ids: Option<Arc<dyn IncidentIds>>,
    /// Per tenant, taken while its incidents are named and the answer
    /// kept: two answers of a tenant name in turn (never an older naming
    /// kept over a newer one), without holding the worker's lock during
    /// the store's call — and without one tenant waiting for another's.
    naming: Mutex<BTreeMap<String, Arc<Mutex<()>>>>,
    /// The tenants whose last naming failed (the store out of reach),
    /// until one of theirs succeeds: their scope's routes say so (503)
    /// rather than answer with ids another node may give to other
    /// incidents. Per tenant: one commune's failure is never another's.
    naming_failed: Mutex<std::collections::BTreeSet<String>>,
    /// The store of the ids out of reach, or a tenant's namings failing,
    /// since when: said once (and its end), and tried again after a
    /// backoff only — not every request paying the connection's timeout
    /// meanwhile (see [`Outages`]).
    outage: Mutex<Outages>,
    /// Set once the events stored before this start are observed again
    /// (see [`crate::worker::run`]): until then the scope is partial, and
    /// nothing is alerted from it.
    pub rebuilt: std::sync::atomic::AtomicBool,
    /// How far back in event time process creations and correlation
    /// inputs are kept; `None`: everything (as `hunt`).
    horizon: Option<chrono::TimeDelta>,
    /// Correlation inputs held before any is settled past the horizon
    /// ([`CORRELATION_HELD`]).
    correlation_held: usize,
    evicted: Evicted,
}

/// Correlation inputs a tenant's live scope holds before the horizon
/// settles the oldest: a commune's week of the demo holds about 2,600
/// (a few hundred bytes each), so a commune's are all held and
/// correlated whatever their order; past it (a very large tenant),
/// inputs older than the horizon are settled and a later one that old is
/// counted in `correlation_late`, not correlated.
pub const CORRELATION_HELD: usize = 50_000;

impl LiveScope {
    /// `ids`: where live ids are kept, read again at each naming; `None`
    /// keeps them in memory only.
    pub fn new(
        assets: Arc<Assets>,
        engine: Arc<Option<Engine>>,
        lang: Lang,
        zone: Zone,
        ids: Option<Arc<dyn IncidentIds>>,
    ) -> Result<Self, vigie_store::StoreError> {
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
            ids,
            naming: Mutex::new(BTreeMap::new()),
            naming_failed: Mutex::new(Default::default()),
            outage: Mutex::new(Outages::default()),
            rebuilt: std::sync::atomic::AtomicBool::new(false),
            horizon: None,
            correlation_held: CORRELATION_HELD,
            evicted: Evicted::default(),
        })
    }

    /// Keeps process creations and correlation inputs for `horizon` of
    /// event time (see the module's documentation).
    pub fn with_horizon(mut self, horizon: std::time::Duration) -> Self {
        self.horizon = chrono::TimeDelta::from_std(horizon).ok();
        self
    }

    /// Settles correlation inputs past the horizon once more than `n`
    /// are held (tests: 0, to see the horizon at work on a few).
    pub fn with_correlation_held(mut self, n: usize) -> Self {
        self.correlation_held = n;
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
                known: Vec::new(),
                future: 0,
            }),
        };
        // Received now: an event dated past now and the tolerance keeps
        // its time but does not move the horizon (see FUTURE_TOLERANCE).
        let now = chrono::Utc::now();
        let ceiling = now + FUTURE_TOLERANCE;
        if let Some(time) = event.timestamp.filter(|t| *t > ceiling) {
            t.future += 1;
            self.evicted.future.fetch_add(1, Ordering::Relaxed);
            if t.future == 1 {
                eprintln!(
                    "vigie serve: {tenant}: an event of {:?} dated {time} was received at {now}, more than {} min ahead of this server's clock (the host's clock is wrong, or the event is forged): kept and judged with its own time, it does not move the live scope's horizon; such events are counted (vigie_events_future_total, events_future in /api/v1/stats), this is said once per commune",
                    event.computer.as_deref().unwrap_or("?"),
                    FUTURE_TOLERANCE.num_minutes()
                );
            }
        }
        if self.horizon.is_some() {
            t.fresh.set_clock_ceiling(Some(ceiling));
        }
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
        // Held whole while few: every input correlated as `hunt` does,
        // whatever order they came in (a backlog sent host by host on the
        // day the shippers are installed spans days).
        if s.for_correlation.len() <= self.correlation_held {
            return;
        }
        // Inputs dated past now and the tolerance do not move the line
        // (see FUTURE_TOLERANCE): they wait, held, for real time to reach
        // them, and each answer correlates them with their own time.
        let ceiling = chrono::Utc::now() + FUTURE_TOLERANCE;
        s.newest = s
            .for_correlation
            .iter()
            .map(|(t, _)| *t)
            .filter(|t| *t <= ceiling)
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

    /// The communes a CSIRT's analyst may pick in the console: those that
    /// sent events and those given an assets file (a commune set up that
    /// sends nothing yet is one to look at, not one to forget), sorted.
    pub fn communes(&self) -> Vec<String> {
        let mut all: std::collections::BTreeSet<String> = self.tenants().into_iter().collect();
        all.extend(self.tenant_assets.keys().cloned());
        all.into_iter().collect()
    }

    /// Events dated more than [`FUTURE_TOLERANCE`] after their receipt:
    /// every tenant's (`None`), or `tenant`'s.
    pub fn future_events(&self, tenant: Option<&str>) -> u64 {
        match tenant {
            None => self.evicted.future.load(Ordering::Relaxed),
            Some(t) => {
                let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
                tenants.get(t).map_or(0, |t| t.future)
            }
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
        let lock = self
            .naming
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.to_string())
            .or_default()
            .clone();
        let _naming = lock.lock().unwrap_or_else(|e| e.into_inner());
        let newer = |t: &Tenant| match &t.answered {
            // A newer answer was stored meanwhile: it stands.
            Some((n, a)) if *n > events || (*n == events && !t.stale) => Some(a.clone()),
            _ => None,
        };
        let live_ids = match &self.ids {
            None => {
                let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
                let t = tenants.get_mut(tenant)?;
                if let Some(a) = newer(t) {
                    return Some(a);
                }
                name_incidents(&scope, &mut t.known, "L")
            }
            Some(store) => {
                {
                    let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(a) = newer(tenants.get(tenant)?) {
                        return Some(a);
                    }
                }
                if !self.may_try_naming(tenant) {
                    self.naming_failed(tenant, None);
                    return None;
                }
                // Named in the store under the tenant's lock, on the ids
                // as kept now (another api node's included), and kept
                // (synced) before the answer is given: an id served is an
                // id that survives a `kill -9`, and the one every node
                // serves. Outside the worker's lock: the store's call
                // never holds the observing of events.
                let named = scope.clone();
                match store.name(tenant, Box::new(move |known| name_kept(&named, known, "L"))) {
                    Ok(ids) => {
                        self.named(tenant, store.place());
                        ids
                    }
                    Err(e) => {
                        self.naming_failed(tenant, Some(&e));
                        return None;
                    }
                }
            }
        };
        let answer = Answer {
            scope,
            live_ids: Arc::new(live_ids),
            correlations,
        };
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = tenants.get_mut(tenant)?;
        t.answered = Some((events, answer.clone()));
        t.stale = false;
        Some(answer)
    }

    /// Whether `tenant`'s incidents could not be named at its last try
    /// (their store out of reach), until one of its namings succeeds.
    /// What the client is told is generic: the store's error (its place,
    /// its text) is the server's log's only.
    pub fn naming_failed_for(&self, tenant: &str) -> bool {
        self.naming_failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(tenant)
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

/// Where a node keeps its live ids and its alerting's journal.
pub struct LiveStores {
    pub ids: Arc<dyn IncidentIds>,
    pub alerts: Arc<dyn vigie_store::live::AlertJournal>,
}

/// The stores of the live ids and of the alerting's journal: the embedded
/// state's (`embedded`, opened without `--db`), or with `--db` (`db`)
/// PostgreSQL's, shared by every api node — what the node's own
/// `state.db` held of them (and its former `incidents.json` and
/// `alerts.jsonl`) moved there first, once. Blocking.
pub fn live_stores(
    data: &std::path::Path,
    embedded: Option<&Arc<vigie_state::Db>>,
    db: Option<&str>,
) -> Result<LiveStores, vigie_store::StoreError> {
    let url = match (embedded, db) {
        (Some(st), _) => {
            return Ok(LiveStores {
                ids: Arc::new(vigie_state::SqliteIncidentIds::new(st.clone())),
                alerts: Arc::new(vigie_state::SqliteAlerts::new(st.clone())),
            })
        }
        (None, Some(url)) => url,
        (None, None) => {
            // Never: without --db the embedded state is open. A node's
            // own state.db then.
            let st = vigie_state::Db::open(data)?;
            return Ok(LiveStores {
                ids: Arc::new(vigie_state::SqliteIncidentIds::new(st.clone())),
                alerts: Arc::new(vigie_state::SqliteAlerts::new(st)),
            });
        }
    };
    let io = |what: &str, e: std::io::Error| vigie_store::StoreError::Io {
        what: what.into(),
        source: e,
    };
    let ids =
        Arc::new(vigie_db::PgIncidentIds::new(url).map_err(|e| io("the live ids' store", e))?);
    let alerts = Arc::new(vigie_db::PgAlerts::new(url).map_err(|e| io("the alerts' store", e))?);
    import_node(data, &alerts)?;
    Ok(LiveStores { ids, alerts })
}

/// Moves what a node kept of the live half in its own `state.db` (an
/// embedded node moving to `--db`, or a node of the version that kept
/// them per node) into PostgreSQL, once: per tenant, its ids, journal
/// and silences said when PostgreSQL holds nothing of the tenant; a
/// tenant already named there keeps what it has (this node's ids of it
/// would name other incidents, its records would stand for them) — each
/// said. One transaction in PostgreSQL with the marker of what was moved;
/// `state.db` emptied after it commits (a start interrupted in between
/// finds the marker: nothing taken twice). Nothing to do (and no
/// `state.db` made) when the node has neither `state.db` nor a former
/// file.
fn import_node(
    data: &std::path::Path,
    alerts: &vigie_db::PgAlerts,
) -> Result<(), vigie_store::StoreError> {
    let former = vigie_state::import::NODE_FILES
        .iter()
        .any(|f| data.join(f).is_file());
    if !former && !data.join(vigie_state::FILE).is_file() {
        return Ok(());
    }
    let imported = vigie_state::import_only(data, &vigie_state::import::NODE_FILES)?;
    for line in imported.lines() {
        eprintln!("vigie serve: {line}");
    }
    let st = vigie_state::Db::open(data)?;
    let rows = vigie_state::take_for_import(&st)?;
    if rows.incidents.is_empty() && rows.journal.is_empty() && rows.silences.is_empty() {
        return Ok(());
    }
    let (from, to) = (st.place(), AlertJournal::place(alerts));
    let done = alerts.import_node(&from, &rows.incidents, &rows.journal, &rows.silences)?;
    if done.already {
        eprintln!(
            "vigie serve: {from}: its live ids and alerts were already moved into {to} by an earlier start (stopped before they were deleted here): not taken again"
        );
    }
    for t in &done.skipped {
        eprintln!(
            "vigie serve: {from}: the live ids and alerts of {:?} not imported: {to} already holds that tenant's (another node named its incidents first); this node's {} id(s), {} alert record(s) and {} silence(s) of it would stand for other incidents, and are dropped",
            t.tenant, t.ids, t.records, t.silences
        );
    }
    for t in &done.taken {
        eprintln!(
            "vigie serve: {from}: {:?}: {} live id(s), {} alert record(s) and {} silence(s) said moved into {to}",
            t.tenant, t.ids, t.records, t.silences
        );
    }
    vigie_state::forget_live(&st)?;
    if !done.already {
        let sum = |f: fn(&vigie_db::TenantImport) -> usize| done.taken.iter().map(f).sum::<usize>();
        eprintln!(
            "vigie serve: {from}: the live ids of {} tenant(s), {} alert record(s) and {} silence(s) said moved into {to} ({} tenant(s) left out)",
            done.taken.len(),
            sum(|t| t.records),
            sum(|t| t.silences),
            done.skipped.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod naming_tests {
    use super::name_sets;
    use std::collections::BTreeSet;

    fn set(e: &[&str]) -> BTreeSet<String> {
        e.iter().map(|s| s.to_string()).collect()
    }

    /// A node behind the other on the stream sees as two incidents what
    /// the other merged into L1: both parts are L1 there, no L2 given
    /// (nor kept); a part with an entity never named is a new incident.
    #[test]
    fn a_reader_behind_adopts_a_merged_incidents_id_and_never_splits_it() {
        // The node ahead merged pc-1 and srv-2 (one account links them).
        let mut known = vec![(
            "L1".to_string(),
            set(&["host:pc-1", "host:srv-2", "account:a.martin"]),
        )];
        let kept = known.clone();
        let behind = [
            (set(&["host:pc-1", "account:a.martin"]), 100),
            (set(&["host:srv-2"]), 200),
        ];
        assert_eq!(name_sets(&behind, &mut known, "L"), ["L1", "L1"]);
        assert_eq!(known, kept, "nothing new kept");
        let other = [
            (set(&["host:pc-1", "account:a.martin"]), 100),
            (set(&["host:srv-2", "host:pc-9"]), 200),
        ];
        assert_eq!(name_sets(&other, &mut known, "L"), ["L1", "L2"]);
        assert_eq!(
            known[1],
            (
                "L2".to_string(),
                set(&["host:srv-2", "host:pc-9", "first-at:200"])
            )
        );
    }

    /// A node behind the one that named Thursday's incident (it has not
    /// consumed it yet) sees Monday's alone: Thursday's id is unused there
    /// but nothing was merged — it stays, and the node ahead gives it to
    /// Thursday's incident again (not retired, not paged anew as L3).
    #[test]
    fn a_node_behind_never_retires_an_id_it_has_not_seen_yet() {
        let mut known = Vec::new();
        let monday = (set(&["host:pc-1", "account:alice"]), 1_000);
        let thursday = (set(&["host:pc-1"]), 300_000);
        let ahead = [monday.clone(), thursday.clone()];
        assert_eq!(name_sets(&ahead, &mut known, "L"), ["L1", "L2"]);
        let behind = [monday.clone()];
        assert_eq!(name_sets(&behind, &mut known, "L"), ["L1"]);
        assert!(
            !known[1].1.iter().any(|e| e.starts_with("merged-into:")),
            "{known:?}"
        );
        assert_eq!(name_sets(&ahead, &mut known, "L"), ["L1", "L2"]);
        assert_eq!(known.len(), 2);
    }

    /// Monday's and Thursday's incidents of one host, kept apart by time,
    /// each grow over the other's hosts and accounts: Monday's now shares
    /// more with Thursday's id than with its own — ids kept all the same
    /// (each id knows the first time of the incident it was given to).
    #[test]
    fn incidents_growing_over_each_other_keep_their_ids() {
        let mut known = Vec::new();
        let monday = (set(&["host:pc-1", "account:alice"]), 1_000);
        let thursday = (set(&["host:pc-1", "host:srv-2", "account:bob"]), 300_000);
        assert_eq!(
            name_sets(&[monday, thursday.clone()], &mut known, "L"),
            ["L1", "L2"]
        );
        let monday_grown = (
            set(&["host:pc-1", "account:alice", "host:srv-2", "account:bob"]),
            1_000,
        );
        assert_eq!(
            name_sets(&[monday_grown.clone(), thursday.clone()], &mut known, "L"),
            ["L1", "L2"]
        );
        // Listed the other way round too, and again once the sets kept are
        // the same.
        assert_eq!(
            name_sets(&[thursday, monday_grown], &mut known, "L"),
            ["L2", "L1"]
        );
        assert_eq!(known.len(), 2);
    }

    /// The same host attacked again days later: the scope keeps two
    /// incidents (split by time), so two ids — the new one never takes
    /// the old one's (it would not be paged, and would show the old one's
    /// triage); and each keeps its id when the newer grows larger.
    #[test]
    fn a_host_attacked_again_is_a_new_incident_and_ids_never_swap() {
        let mut known = vec![("L1".to_string(), set(&["host:pc-1", "account:alice"]))];
        let monday = set(&["host:pc-1", "account:alice"]);
        let thursday = set(&["host:pc-1"]);
        let both = [(monday.clone(), 1_000), (thursday.clone(), 300_000)];
        assert_eq!(name_sets(&both, &mut known, "L"), ["L1", "L2"]);
        // Listed the other way round (as by severity), the same ids.
        let swapped = [(thursday.clone(), 300_000), (monday.clone(), 1_000)];
        assert_eq!(name_sets(&swapped, &mut known, "L"), ["L2", "L1"]);
        // Thursday's grows over Monday's hosts and more: ids kept.
        let grown = set(&["host:pc-1", "account:alice", "host:srv-2"]);
        let later = [(grown, 300_000), (monday, 1_000)];
        assert_eq!(name_sets(&later, &mut known, "L"), ["L2", "L1"]);
        assert_eq!(known.len(), 2);
    }

    /// Two incidents merged into one: the id left over is retired, and a
    /// new incident of an account they shared (on a host never seen) is a
    /// new one — paged as new, not as an update of the merged one.
    #[test]
    fn a_merged_id_is_retired_never_given_to_a_new_incident() {
        let mut known = Vec::new();
        let apart = [
            (set(&["host:dc01", "account:adm.tech01"]), 1_000),
            (set(&["host:srv-bkp01", "account:adm.tech01"]), 2_000),
        ];
        // Apart by time at first (the scope split them), then merged.
        assert_eq!(name_sets(&apart, &mut known, "L"), ["L1", "L2"]);
        let merged = [(
            set(&["host:dc01", "host:srv-bkp01", "account:adm.tech01"]),
            1_000,
        )];
        assert_eq!(name_sets(&merged, &mut known, "L"), ["L1"]);
        assert!(known[1].1.contains("merged-into:L1"), "{known:?}");
        let new = [
            (
                set(&["host:dc01", "host:srv-bkp01", "account:adm.tech01"]),
                1_000,
            ),
            (set(&["host:pc-urba-01", "account:adm.tech01"]), 9_000),
        ];
        assert_eq!(name_sets(&new, &mut known, "L"), ["L1", "L3"]);
    }
}

#[cfg(test)]
mod horizon_tests;
