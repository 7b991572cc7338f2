//! What the live scope forgets when retention removes events from the
//! log: what it kept one per event of those events.
//!
//! Why: the horizon bounds what old *activity* leaves (process creations,
//! correlation inputs), but a detection and the other facts kept one per
//! event stayed for as long as the server ran — measured, 1,331
//! detections with their facts were 4 MiB of heap — while retention
//! had removed their events from the log and their detections from
//! `state.db`: the memory grew with what was found since the start,
//! whatever `--retention-days` said, and incidents stayed whose evidence
//! no longer existed. Now each pass of retention that removes segments
//! for their age has every commune's scope forget, of the events below
//! them (not of young ones removed to meet the size limit: a flood must
//! not take the incident under way off the console), their detections, the correlations they fired, their
//! correlation inputs and their other per-event facts (processes of
//! interest, services, tasks, files, cleared logs, VPN sessions, remote
//! executions, behaviours), counted (`vigie_scope_evicted_total{kind=
//! "removed_…"}`) and said in the scope's caveats. By position, that is
//! by receipt, as the log removes them: a backlog of old logs imported
//! today stays as long as its events do.
//!
//! What is not forgotten: the aggregates keyed by an entity (logons and
//! links between hosts, accounts, addresses, domains, coverage) keep
//! their counts, first times and earliest evidence, which may be of
//! removed events, until a restart (which rebuilds the scope from the
//! log as it is). The scope can then show activity older than the log
//! holds, and group it otherwise than a restart would; the caveat says
//! so. Subtracting an event from an aggregate needs the event.

use super::*;
use vigie_event::Locator;
use vigie_scope::RemovedFacts;

/// The log position an event was read at, if it was read from the log.
pub(super) fn position(event: &Event) -> Option<u64> {
    match event.origin.locator {
        Locator::Position(p) => Some(p),
        _ => None,
    }
}

/// The time and log position of the inputs fed to a correlator lately,
/// in time order: a firing's position is the newest of those in its
/// span (`first` to `last`).
///
/// Why the span's and not the input that made it fire: a window is
/// judged when a later input moves the correlator's clock past it (with
/// its lateness), so what fires it is often an input of another group,
/// received later — kept while the firing's own events are removed. The
/// newest position of the span leans the other way: an input of another
/// group in the span keeps the firing, never forgets one whose events
/// are still there.
#[derive(Clone, Default)]
pub(super) struct Fed(std::collections::VecDeque<(Timestamp, Option<u64>)>);

impl Fed {
    /// Adds an input in its place: at the end but for a late one; one
    /// later than any window still open (the correlator drops it) is not
    /// kept.
    pub(super) fn push(&mut self, time: Timestamp, position: Option<u64>) {
        if self
            .0
            .back()
            .is_some_and(|(t, _)| time < *t - chrono::TimeDelta::minutes(10))
        {
            return;
        }
        if self.0.back().is_none_or(|(t, _)| *t <= time) {
            self.0.push_back((time, position));
        } else {
            let at = self.0.partition_point(|(t, _)| *t <= time);
            self.0.insert(at, (time, position));
        }
    }

    /// The newest position of the inputs in `m`'s span; `None` when none
    /// is held (or none was read from the log): never forgotten.
    pub(super) fn position(&self, m: &CorrelationMatch) -> Option<u64> {
        let from = self.0.partition_point(|(t, _)| *t < m.first);
        self.0
            .range(from..)
            .take_while(|(t, _)| *t <= m.last)
            .filter_map(|(_, p)| *p)
            .max()
    }

    /// Drops the inputs older than the newest less twice `span` and ten
    /// minutes: a window still to fire spans at most `span` and is judged
    /// at most the correlator's lateness (a minute) after it closes; a
    /// correlation of correlations spans its own and its parts'.
    pub(super) fn keep_recent(&mut self, span: chrono::TimeDelta) {
        let Some(&(newest, _)) = self.0.back() else {
            return;
        };
        let keep = span
            .checked_mul(2)
            .and_then(|s| s.checked_add(&chrono::TimeDelta::minutes(10)))
            .and_then(|s| newest.checked_sub_signed(s));
        let Some(line) = keep else {
            return;
        };
        while self.0.front().is_some_and(|(t, _)| *t < line) {
            self.0.pop_front();
        }
    }
}

/// What one pass forgot, every commune's.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    /// Detections (fired correlations among them) and other facts.
    pub facts: RemovedFacts,
    /// Correlation inputs not yet settled.
    pub correlation_inputs: u64,
}

impl Forgotten {
    /// Whether nothing was forgotten.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty() && self.correlation_inputs == 0
    }
}

impl LiveScope {
    /// Forgets, in every commune's live scope, what came from the events
    /// the log no longer holds: those before `oldest_kept` (retention
    /// removed them). The next answer is derived again without them.
    ///
    /// Under the worker's lock while each commune's facts are walked
    /// (milliseconds for tens of thousands; once per retention pass that
    /// removed something).
    pub fn forget_removed(&self, oldest_kept: u64) -> Forgotten {
        let gone = |p: Option<u64>| p.is_some_and(|p| p < oldest_kept);
        let removed = |_: &str, l: &Locator| matches!(*l, Locator::Position(p) if p < oldest_kept);
        let mut all = Forgotten::default();
        // `settled` first, then `tenants` (the order answers take them).
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        // Moved under the worker's lock: `observe_late` reads it there.
        let rose = self.removed_below.fetch_max(oldest_kept, Ordering::Relaxed) < oldest_kept;
        for (name, t) in tenants.iter_mut() {
            let mut facts = t.fresh.forget_removed(&removed);
            let before = t.fresh_correlation.len();
            t.fresh_correlation.retain(|i| !gone(i.position));
            let mut inputs = (before - t.fresh_correlation.len()) as u64;
            let s = settled
                .entry(name.clone())
                .or_insert_with(|| Settled::new(self.assets_of(name).clone()));
            facts += s.observer.forget_removed(&removed);
            let before = s.for_correlation.len();
            s.for_correlation.retain(|i| !gone(i.position));
            inputs += (before - s.for_correlation.len()) as u64;
            let before = s.fired.len();
            s.fired.retain(|(p, _)| !gone(*p));
            facts.detections += (before - s.fired.len()) as u64;
            // Derived again even when nothing here went: a correlation
            // the kept correlator still holds may now be of removed
            // events only (it is no longer given).
            if rose {
                t.changes += 1;
            }
            if facts.facts > 0 {
                // Creations a forgotten process of interest kept against
                // the horizon go now, not at a pass that may be days off.
                if let Some(h) = self.horizon {
                    // Unfollowed meanwhile: the pass then edits the
                    // creations in place rather than copy them all.
                    t.fresh.unfollow();
                    let f = s.observer.forget_older_than(h);
                    t.fresh.follow(&s.observer);
                    self.evicted
                        .process_creations
                        .fetch_add(f.process_creations, Ordering::Relaxed);
                    self.evicted
                        .orphan_processes
                        .fetch_add(f.orphan_processes, Ordering::Relaxed);
                    s.forgot.process_creations += f.process_creations;
                }
            }
            s.forgot.removed += facts;
            s.forgot.removed_correlation += inputs;
            all.facts += facts;
            all.correlation_inputs += inputs;
        }
        let e = &self.evicted;
        e.removed_detections
            .fetch_add(all.facts.detections, Ordering::Relaxed);
        e.removed_facts
            .fetch_add(all.facts.facts, Ordering::Relaxed);
        e.removed_correlation
            .fetch_add(all.correlation_inputs, Ordering::Relaxed);
        all
    }
}

impl Forgot {
    /// The sentence a scope gives of what it forgot with the events
    /// retention removed, or `None` when nothing was.
    pub(super) fn removed_caveat(&self, lang: Lang) -> Option<String> {
        let r = self.removed;
        if r.is_empty() && self.removed_correlation == 0 {
            return None;
        }
        Some(vigie_lang::tr!(
            lang,
            "Périmètre en direct : la rétention a retiré du journal des événements anciens, et ce qui en venait est oublié : {} détection(s) (corrélations comprises), {} autre(s) fait(s) (processus, services, tâches, sessions VPN…) et {} événement(s) qui attendaient d'être corrélés. Les agrégats (ouvertures de session, liens entre postes, comptes, couverture) gardent leurs décomptes, leurs dates de première apparition et leurs premières preuves jusqu'au prochain redémarrage : le périmètre peut encore montrer une activité que le journal ne contient plus, et des incidents qu'un redémarrage ne montrerait pas. Ce qui est oublié a bien eu lieu : son absence ici ne veut pas dire qu'il ne s'est rien passé.",
            "Live scope: retention removed old events from the log, and what came from them is forgotten: {} detection(s) (correlations included), {} other fact(s) (processes, services, tasks, VPN sessions…) and {} event(s) that awaited correlation. The aggregates (logons, links between hosts, accounts, coverage) keep their counts, first-seen times and earliest evidence until the next restart: the scope may still show activity the log no longer holds, and incidents a restart would not show. What was forgotten did happen: its absence here does not mean nothing happened.",
            r.detections,
            r.facts,
            self.removed_correlation
        ))
    }
}
