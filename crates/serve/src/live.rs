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
//! the horizon, *and* received more than the horizon ago, are fed, in
//! time order, to a correlator kept per tenant, whose firings are kept;
//! each answer finishes a copy of it over the newer inputs. The sequence
//! of inputs is the one a single run over all of them sorted would see,
//! so the correlations are `hunt`'s — unless an input arrives more than
//! the horizon after newer ones were received: it is then counted, said,
//! and correlated only if the correlator can still place it. Why the
//! receipt too: a backlog sent host by host on the day the shippers are
//! installed spans days of event time in minutes of receipt; measured on
//! event time alone, the second host's inputs would all be late. Inputs
//! dated in the future (past [`FUTURE_TOLERANCE`]) never reach the line:
//! they are held the horizon after their receipt, then forgotten and
//! counted. What was forgotten is counted (`vigie_scope_evicted_total`)
//! and said in the scope's caveats; the events stay in the store (search,
//! retro-hunt).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use vigie_detect::{CorrelationMatch, Correlator, Engine, Match};
use vigie_event::{Event, Timestamp};
use vigie_scope::{Assets, Lang, Observer, Scope, Zone};
use vigie_store::live::IncidentIds;

mod naming;
mod outage;
mod rebuild;
mod stores;
use naming::merges;
pub use naming::{name_incidents, name_kept, name_sets, name_spans, Known};
use outage::Outages;
pub use rebuild::{received_at, Abandon, Rebuilt};
pub use stores::{live_stores, LiveStores};

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
    fresh_correlation: Vec<Input>,
    /// Events observed in all (settled and fresh).
    observed: u64,
    /// The last answer and the number of events it covers.
    answered: Option<(u64, Answer)>,
    /// Every incident seen, by its live id.
    known: Vec<Known>,
    /// Detections that came late (a retro-hunt), counted: an answer is
    /// derived again when this moved past what its predecessor covered,
    /// though no event was added.
    changes: u64,
    /// The changes the last answer covers (counted when it began: late
    /// detections observed while it was derived are not covered).
    ///
    /// Why not a flag cleared by the answer: an answer takes seconds on a
    /// large scope, and a flag set meanwhile was cleared when it was
    /// stored — the late detections then shown by no answer until the
    /// next event.
    answered_changes: u64,
    /// The rebuild generation the last answer was derived in (see
    /// [`LiveScope::generation`]): one of an older generation is given
    /// until the next is derived, never taken as current.
    answered_in: u64,
    /// Events observed dated more than [`FUTURE_TOLERANCE`] after their
    /// receipt (see [`LiveScope::observe`]).
    future: u64,
}

/// What a tenant's answers have merged: every event observed before the
/// last answer began.
struct Settled {
    observer: Observer,
    /// Correlation inputs not yet given to `correlator`.
    for_correlation: Vec<Input>,
    /// The correlator fed, in time order, every input older than
    /// `settled_before` (with a horizon).
    correlator: Option<Correlator>,
    /// What it fired.
    fired: Vec<CorrelationMatch>,
    settled_before: Option<Timestamp>,
    /// The newest correlation input's time.
    newest: Option<Timestamp>,
    /// What the horizon forgot of this tenant: said in its scope.
    forgot: Forgot,
}

/// What the horizon forgot of one tenant, said in the caveats of its
/// scope (see [`Forgot::caveat`]): what is forgotten must never read as
/// "absent".
#[derive(Default, Clone, Copy)]
struct Forgot {
    process_creations: u64,
    correlation_late: u64,
    correlation_future: u64,
    future_process_creations: u64,
}

impl Forgot {
    /// The sentence a scope gives of what its horizon forgot, or `None`
    /// when nothing was. The correlation inputs settled in time are not
    /// in it: they were correlated, as `hunt` would, before they went.
    fn caveat(&self, lang: Lang, horizon: chrono::TimeDelta) -> Option<String> {
        let h = horizon.num_hours();
        let mut parts: Vec<String> = Vec::new();
        if self.process_creations > 0 {
            parts.push(vigie_lang::tr!(
                lang,
                "{} créations de processus plus anciennes que l'horizon de {} h (une chaîne de parents qui s'y arrête le dit : parent_beyond_horizon)",
                "{} process creations older than the {} h horizon (a parent chain stopping there says so: parent_beyond_horizon)",
                self.process_creations,
                h
            ));
        }
        if self.correlation_late > 0 {
            parts.push(vigie_lang::tr!(
                lang,
                "{} événements arrivés plus de {} h après de plus récents, non corrélés",
                "{} events received more than {} h after newer ones, not correlated",
                self.correlation_late,
                h
            ));
        }
        let future = self.correlation_future + self.future_process_creations;
        if future > 0 {
            parts.push(vigie_lang::tr!(
                lang,
                "{} faits datés dans le futur, gardés {} h après leur réception",
                "{} facts dated in the future, kept {} h after their receipt",
                future,
                h
            ));
        }
        if parts.is_empty() {
            return None;
        }
        Some(vigie_lang::tr!(
            lang,
            "Périmètre en direct : oubliés par l'horizon — {}. Les événements restent dans le journal (recherche, rétro-chasse) tant que la rétention les garde ; ce qui est oublié n'est pas « absent ».",
            "Live scope: forgotten by the horizon — {}. The events stay in the log (search, retro-hunt) as long as retention keeps them; what was forgotten is not \"absent\".",
            parts.join(lang.pick(" ; ", "; "))
        ))
    }
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
            forgot: Forgot::default(),
        }
    }
}

/// One correlation input held: an event's time, when it was received,
/// and its slim matches.
#[derive(Clone)]
struct Input {
    time: Timestamp,
    /// The server's clock when it was observed: an input is held at least
    /// the horizon after it (see [`LiveScope::settle_correlations`]).
    received: Timestamp,
    matches: Vec<Match>,
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
    /// Correlation inputs dated in the future, held the horizon after
    /// their receipt and then forgotten without being correlated.
    correlation_future: AtomicU64,
    /// Process creations dated in the future, forgotten the horizon after
    /// their receipt.
    future_process_creations: AtomicU64,
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
    /// Live ids retired by a merge, each with the id it went into: the
    /// alerts say so rather than let an incident vanish unsaid.
    pub merged: Arc<Vec<(String, String)>>,
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
    /// How long after its receipt a correlation input is held whatever
    /// its time (the horizon; tests shorten it).
    held_after_receipt: Option<chrono::TimeDelta>,
    evicted: Evicted,
    /// A rebuild under way (see [`rebuild`]): the scope it is made into,
    /// and the tail the worker feeds meanwhile. Taken (read) around every
    /// event observed, so that the swap (write) falls between two events.
    shadow: std::sync::RwLock<Option<rebuild::Shadow>>,
    /// Moved by each rebuild's swap: an answer derived from the scope
    /// before it is given, not kept.
    generation: AtomicU64,
    /// Held by whatever adds late detections (an indicators' retro-hunt)
    /// and by a rebuild: a late detection never falls between the
    /// rebuild's reading of its event and the swap.
    pub late: tokio::sync::Mutex<()>,
    /// Rebuilds done since the start (`vigie_scope_rebuilds_total`).
    pub rebuilds: AtomicU64,
    /// A rebuild's scope: says nothing on stderr (what it meets again was
    /// said when first met).
    quiet: bool,
    /// A rebuild's tail (the events received while the log is read
    /// again): holds them in its fresh observers, never settled — passed
    /// through the horizon with the rebuilt scope, once its reading is
    /// done, not before (live events would move the clocks the reading's
    /// old events are measured by).
    tail: bool,
}

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
            held_after_receipt: None,
            evicted: Evicted::default(),
            shadow: std::sync::RwLock::new(None),
            generation: AtomicU64::new(0),
            late: tokio::sync::Mutex::new(()),
            rebuilds: AtomicU64::new(0),
            quiet: false,
            tail: false,
        })
    }

    /// Keeps process creations and correlation inputs for `horizon` of
    /// event time (see the module's documentation).
    pub fn with_horizon(mut self, horizon: std::time::Duration) -> Self {
        self.horizon = chrono::TimeDelta::from_std(horizon).ok();
        self
    }

    /// Holds a correlation input `d` after its receipt whatever its time
    /// (the horizon by default; tests: zero, to see the horizon at work
    /// on events observed a moment ago).
    pub fn with_held_after_receipt(mut self, d: chrono::TimeDelta) -> Self {
        self.held_after_receipt = Some(d);
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
            (
                "correlation_future",
                e.correlation_future.load(Ordering::Relaxed),
            ),
            (
                "future_process_creations",
                e.future_process_creations.load(Ordering::Relaxed),
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

    /// Observes one judged event of `tenant` (the streaming half),
    /// received now.
    pub fn observe(&self, tenant: &str, event: &Event, matches: &[Match]) {
        self.observe_received(tenant, event, matches, chrono::Utc::now());
    }

    /// [`LiveScope::observe`] of an event received at `now` (the log's
    /// stamp): an event read again from the log (a restart's replay, a
    /// rebuild) keeps its own receipt, so that what is held for the
    /// horizon after its receipt is not held again from the replay on.
    pub fn observe_received(&self, tenant: &str, event: &Event, matches: &[Match], now: Timestamp) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = match tenants.get_mut(tenant) {
            Some(t) => t,
            None => tenants
                .entry(tenant.to_string())
                .or_insert_with(|| self.new_tenant(tenant)),
        };
        // An event dated past its receipt and the tolerance keeps its
        // time but does not move the horizon (see FUTURE_TOLERANCE).
        let ceiling = now + FUTURE_TOLERANCE;
        if let Some(time) = event.timestamp.filter(|t| *t > ceiling) {
            t.future += 1;
            self.evicted.future.fetch_add(1, Ordering::Relaxed);
            if t.future == 1 && !self.quiet {
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
            t.fresh_correlation.push(Input {
                time,
                received: now,
                matches: vigie_hunt::pipeline::for_correlator(matches),
            });
        }
        if self.horizon.is_some() && !self.tail && t.fresh.events() >= SETTLE_EVERY {
            drop(tenants);
            self.settle(tenant, now);
        }
    }

    /// A tenant that has observed nothing yet.
    fn new_tenant(&self, tenant: &str) -> Tenant {
        Tenant {
            fresh: Observer::new(self.assets_of(tenant).clone()),
            fresh_correlation: Vec::new(),
            observed: 0,
            answered: None,
            changes: 0,
            answered_changes: 0,
            answered_in: self.generation.load(Ordering::Acquire),
            known: Vec::new(),
            future: 0,
        }
    }

    /// Merges the fresh observer of `tenant` into its settled one and
    /// passes it through the horizon, without an answer.
    ///
    /// `now`: the receipt of the event that made it due — the wall clock
    /// live, the log's stamp when the log is read again (a replay, a
    /// rebuild), so that inputs received together (a backlog sent host by
    /// host) are held together as they were live.
    fn settle(&self, tenant: &str, now: Timestamp) {
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let s = settled
            .entry(tenant.to_string())
            .or_insert_with(|| Settled::new(self.assets_of(tenant).clone()));
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = tenants.get_mut(tenant) {
            self.merge_fresh(tenant, s, t, now);
        }
    }

    /// Moves what `t` observed since into `s`, passes it through the
    /// horizon, and has the next fresh observer follow it. Under both
    /// locks: the worker waits (seconds of events merged; a pass of the
    /// horizon only when the creations held grew by a quarter).
    fn merge_fresh(&self, tenant: &str, s: &mut Settled, t: &mut Tenant, now: Timestamp) {
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
            let e = &self.evicted;
            if s.observer.horizon_due() {
                let f = s.observer.forget_older_than(horizon);
                e.process_creations
                    .fetch_add(f.process_creations, Ordering::Relaxed);
                e.orphan_processes
                    .fetch_add(f.orphan_processes, Ordering::Relaxed);
                s.forgot.process_creations += f.process_creations;
            }
            // Creations dated in the future never fall below their log's
            // line: they go the horizon after their receipt.
            let hold = self.held_after_receipt.unwrap_or(horizon);
            if let Some(before) = now.checked_sub_signed(hold) {
                let n = s.observer.forget_future_received_before(before);
                e.future_process_creations.fetch_add(n, Ordering::Relaxed);
                s.forgot.future_process_creations += n;
            }
            self.settle_correlations(s, horizon, now);
        }
        t.fresh.follow(&s.observer);
    }

    /// Feeds the correlation inputs older than the newest one less the
    /// longest correlation timespan and the horizon, and received more
    /// than the horizon ago, in time order, to the tenant's kept
    /// correlator, and keeps what it fires; forgets (counts) the inputs
    /// dated in the future once received more than the horizon ago.
    ///
    /// Why the receipt as well as the event time: inputs must reach the
    /// correlator in time order, and what arrives out of order arrives
    /// soon after the rest in *receipt* time (a backlog sent host by host
    /// spans days of events in minutes), not in event time. So the line
    /// stops below the oldest input received within the horizon: nothing
    /// is fed past an input that may still have company coming. Memory:
    /// what a horizon of receipt brings, plus a horizon of event time.
    fn settle_correlations(&self, s: &mut Settled, horizon: chrono::TimeDelta, now: Timestamp) {
        let Some(engine) = self.engine.as_ref().as_ref().filter(|_| self.correlating) else {
            return;
        };
        let hold = self.held_after_receipt.unwrap_or(horizon);
        let Some(received_line) = now.checked_sub_signed(hold) else {
            return;
        };
        // Inputs dated past now and the tolerance do not move the line
        // (see FUTURE_TOLERANCE): they wait, held, for real time to reach
        // them — the hold after their receipt at most, then they are
        // forgotten (fed, they would put every real input behind them).
        let ceiling = now + FUTURE_TOLERANCE;
        let before = s.for_correlation.len();
        s.for_correlation
            .retain(|i| i.time <= ceiling || i.received >= received_line);
        let future = before - s.for_correlation.len();
        if future > 0 {
            self.evicted
                .correlation_future
                .fetch_add(future as u64, Ordering::Relaxed);
            s.forgot.correlation_future += future as u64;
        }
        if future > 0 && !self.quiet {
            eprintln!(
                "vigie serve: {future} correlation input(s) dated more than {} min ahead of their receipt were held {} h after it and are forgotten, not correlated (the events and their detections are kept; vigie_scope_evicted_total{{kind=\"correlation_future\"}})",
                FUTURE_TOLERANCE.num_minutes(),
                hold.num_hours()
            );
        }
        s.newest = s
            .for_correlation
            .iter()
            .map(|i| i.time)
            .filter(|t| *t <= ceiling)
            .chain(s.newest)
            .max();
        let correlator = s.correlator.get_or_insert_with(|| engine.correlator());
        let span = chrono::TimeDelta::from_std(correlator.longest_timespan())
            .unwrap_or(chrono::TimeDelta::MAX);
        let Some(by_time) = s
            .newest
            .and_then(|n| n.checked_sub_signed(span))
            .and_then(|n| n.checked_sub_signed(horizon))
        else {
            return;
        };
        // Below the oldest input received within the hold, whatever its
        // time: it may be the start of a backlog.
        let young = s
            .for_correlation
            .iter()
            .filter(|i| i.received >= received_line)
            .map(|i| i.time)
            .min();
        let line = young.map_or(by_time, |y| y.min(by_time));
        if !s.for_correlation.iter().any(|i| i.time < line) {
            return;
        }
        s.for_correlation.sort_by_key(|i| i.time);
        let older = s.for_correlation.partition_point(|i| i.time < line);
        let late_before = correlator.stats().dropped_late;
        for i in s.for_correlation.drain(..older) {
            s.fired.extend(correlator.observe(i.time, &i.matches));
        }
        // Given back once mostly drained (a rebuild's first pass).
        if s.for_correlation.capacity() > 4 * s.for_correlation.len() + 1024 {
            s.for_correlation.shrink_to(2 * s.for_correlation.len());
        }
        let late = correlator.stats().dropped_late - late_before;
        s.settled_before = Some(s.settled_before.map_or(line, |b| b.max(line)));
        let e = &self.evicted;
        e.correlation_events
            .fetch_add(older as u64, Ordering::Relaxed);
        if late > 0 {
            e.correlation_late.fetch_add(late, Ordering::Relaxed);
            s.forgot.correlation_late += late;
        }
        if late > 0 && !self.quiet {
            eprintln!(
                "vigie serve: {late} event(s) with correlation inputs came more than the scope's horizon after newer ones: not correlated (the events and their detections are kept)"
            );
        }
    }

    /// Takes detections raised later on an event already observed (a
    /// retro-hunt's): the scope's signals grow, the event is not counted
    /// twice, and the next answer is derived again.
    ///
    /// A detection the scope already holds is not taken again: a rebuild
    /// judges the stored events with the indicators in force, which a
    /// retro-hunt queued before it then reports as new.
    pub fn observe_late(&self, tenant: &str, event: &Event, matches: &[Match]) {
        let settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = tenants.get_mut(tenant) {
            let held = settled.get(tenant).map(|s| &s.observer);
            let new: Vec<Match> = matches
                .iter()
                .filter(|m| !t.fresh.holds(event, m) && !held.is_some_and(|o| o.holds(event, m)))
                .cloned()
                .collect();
            if new.iter().any(|m| m.generate) {
                t.fresh.observe_late(event, &new);
                t.changes += 1;
            }
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
        let (events, changes) = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let t = tenants.get_mut(tenant)?;
            let current = t.answered_in == self.generation.load(Ordering::Acquire);
            if let Some((n, a)) = t.answered.as_ref().filter(|_| current) {
                if *n == t.observed && t.answered_changes == t.changes {
                    return Some(a.clone());
                }
            }
            self.merge_fresh(tenant, s, t, chrono::Utc::now());
            (t.observed, t.changes)
        };
        // Read under `settled`, which a rebuild's swap takes too.
        let generation = self.generation.load(Ordering::Acquire);
        let (observer, mut items) = (s.observer.clone(), s.for_correlation.clone());
        let (kept, fired) = (s.correlator.clone(), s.fired.clone());
        let forgot = s.forgot;
        drop(settled);
        let correlations = Arc::new(self.correlations(kept, fired, &mut items));
        let mut scope = observer.finish_in(&correlations, self.lang, self.zone);
        if let Some(c) = self.horizon.and_then(|h| forgot.caveat(self.lang, h)) {
            scope.caveats.push(c);
        }
        let scope = Arc::new(scope);
        let lock = self
            .naming
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.to_string())
            .or_default()
            .clone();
        let _naming = lock.lock().unwrap_or_else(|e| e.into_inner());
        // A rebuild replaced the scope this answer was derived from: named
        // now, it would name the whole scope of before after the parts
        // of the new one (an id retired, another made) — derived again.
        if self.generation.load(Ordering::Acquire) != generation {
            drop((_naming, scope, correlations));
            return self.answer(tenant);
        }
        let newer = |t: &Tenant| match &t.answered {
            // A newer answer was stored meanwhile: it stands.
            Some((n, a))
                if t.answered_in == generation
                    && (*n > events || (*n == events && t.answered_changes >= changes)) =>
            {
                Some(a.clone())
            }
            _ => None,
        };
        let merged: Arc<Mutex<Vec<(String, String)>>> = Default::default();
        let live_ids = match &self.ids {
            None => {
                let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
                let t = tenants.get_mut(tenant)?;
                if let Some(a) = newer(t) {
                    return Some(a);
                }
                let named = name_incidents(&scope, &mut t.known, "L");
                let known: Vec<vigie_state::KnownIncident> = t
                    .known
                    .iter()
                    .map(|k| (k.id.clone(), k.entities.clone()))
                    .collect();
                *merged.lock().unwrap_or_else(|e| e.into_inner()) = merges(&known);
                named
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
                let seen = merged.clone();
                match store.name(
                    tenant,
                    Box::new(move |known| {
                        let ids = name_kept(&named, known, "L");
                        *seen.lock().unwrap_or_else(|e| e.into_inner()) = merges(known);
                        ids
                    }),
                ) {
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
        let merged = std::mem::take(&mut *merged.lock().unwrap_or_else(|e| e.into_inner()));
        let answer = Answer {
            scope,
            live_ids: Arc::new(live_ids),
            correlations,
            merged: Arc::new(merged),
        };
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            // Derived from the scope a rebuild replaced: given, not kept
            // (its count of events is not the new scope's).
            return Some(answer);
        }
        let t = tenants.get_mut(tenant)?;
        t.answered = Some((events, answer.clone()));
        t.answered_changes = changes;
        t.answered_in = generation;
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
        items: &mut [Input],
    ) -> Vec<CorrelationMatch> {
        let Some(engine) = self.engine.as_ref().as_ref() else {
            return Vec::new();
        };
        if !self.correlating {
            return Vec::new();
        }
        items.sort_by_key(|i| i.time);
        let mut correlator = kept.unwrap_or_else(|| engine.correlator());
        for i in items.iter() {
            fired.extend(correlator.observe(i.time, &i.matches));
        }
        fired.extend(correlator.finish());
        fired
    }
}

#[cfg(test)]
mod horizon_tests;
