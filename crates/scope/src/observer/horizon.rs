//! The live scope's horizon: what `vigie serve` forgets of old activity so
//! that its observer holds what a span of event time brings, not
//! everything since it started.
//!
//! Why: `hunt` reads a bounded set of files and ends; `serve` observes a
//! commune for months. Most of what an observer keeps is aggregated by
//! host, account, address or rule and stays small; the process creations
//! kept for parent chains are one per process started (245,830 in the
//! demo's week), and the creations whose parent image was not logged
//! (old 4688 layouts) one per such process. Those are forgotten once
//! older than the horizon on their own log's clock, unless something
//! shown still needs them (see [`ProcStore::forget`]). The events stay in
//! the store: a search or a retro-hunt still sees them. `hunt` never
//! calls this.
use super::*;

/// What a pass of the horizon forgot, by kind of fact.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    /// Process creations kept for parent chains.
    pub process_creations: u64,
    /// Process creations whose parent image was not logged, decided at
    /// the horizon (a remote execution is kept as one).
    pub orphan_processes: u64,
}

/// Passes are made when the process creations held grew by a quarter
/// since the last one (and by at least this many): each pass walks every
/// creation held, so the cost per creation stays constant.
const PASS_MIN_GROWTH: usize = 4096;

impl Observer {
    /// Process creations dated after `ceiling` are kept with their own
    /// time but do not move their log's clock, the one the horizon is
    /// measured on; `None` (the default): every creation does.
    ///
    /// Why: `vigie serve` receives events as they happen, and a creation
    /// dated in the future (a host's clock wrong, a forged event) would
    /// set the clock there: every real creation of that log would then
    /// be older than the horizon and forgotten at each pass (parent
    /// chains cut, creations without a logged parent image decided before
    /// their parent arrives), until real time caught up. `serve` sets
    /// the receipt time plus a tolerance here before each event; `hunt`
    /// reads files of any age, has no "now", and sets nothing.
    pub fn set_clock_ceiling(&mut self, ceiling: Option<Timestamp>) {
        self.clock_ceiling = ceiling;
    }

    /// Whether enough process creations came since the last pass of the
    /// horizon for another to be worth its walk.
    pub fn horizon_due(&self) -> bool {
        let (held, _) = self.procs.held();
        held + self.orphans.len()
            >= self.held_after_pass + (self.held_after_pass / 4).max(PASS_MIN_GROWTH)
    }

    /// Forgets the process creations (and the creations without a logged
    /// parent image) older than `horizon` on their log's clock, keeping
    /// the lineage of every process of interest — the detected ones and
    /// the data-moving tools: their own creation and their ancestors'. A
    /// creation without a logged parent image older than the horizon is
    /// decided now, as the analysis would decide it at the end: a remote
    /// execution is kept as one.
    pub fn forget_older_than(&mut self, horizon: chrono::TimeDelta) -> Forgotten {
        let mut forgotten = Forgotten::default();
        // Creations without a logged parent image, past the line.
        let orphans = std::mem::take(&mut self.orphans);
        for o in orphans {
            let past = self.procs.host_id(&o.host).is_some_and(|hid| {
                match (o.evidence.time, self.procs.line(hid, o.parent_key, horizon)) {
                    (Some(t), Some((line, _))) => t < line,
                    (None, Some((_, ran))) => ran,
                    (_, None) => false,
                }
            });
            if !past {
                self.orphans.push(o);
                continue;
            }
            forgotten.orphan_processes += 1;
            if let Some(r) = orphan_remote(&self.procs, o) {
                self.remote_exec.push(r);
            }
        }
        // The keys never forgotten whole, and under them the very
        // creations a lookup finds (see `ProcStore::forget`).
        let mut pinned = Pinned::default();
        for p in &self.interesting {
            let Some(hid) = self.procs.host_id(&p.host) else {
                continue;
            };
            if let Some(k) = p.key {
                pinned.keys.insert((hid, k));
                if let Some(n) = self.procs.lookup(hid, k, p.time) {
                    pinned.creations.insert((hid, k, n.time));
                }
            }
            // The walk of `parent_chain`: what it will find stays.
            let (mut key, mut t) = (p.parent_key, p.time);
            for _ in 0..12 {
                let Some(k) = key else { break };
                let Some(n) = self.procs.lookup(hid, k, t) else {
                    break;
                };
                pinned.keys.insert((hid, k));
                pinned.creations.insert((hid, k, n.time));
                key = n.parent;
                t = n.time;
            }
        }
        for o in &self.orphans {
            if let Some(hid) = self.procs.host_id(&o.host) {
                pinned.keys.insert((hid, o.parent_key));
                if let Some(n) = self.procs.lookup(hid, o.parent_key, o.evidence.time) {
                    pinned.creations.insert((hid, o.parent_key, n.time));
                }
            }
        }
        forgotten.process_creations = Arc::make_mut(&mut self.procs).forget(horizon, &pinned);
        self.held_after_pass = self.procs.held().0 + self.orphans.len();
        forgotten
    }
}

impl Observer {
    /// Forgets the process creations dated in the future (past the clock
    /// ceiling when observed, [`Observer::set_clock_ceiling`]) observed
    /// with a ceiling before `before` — received more than the horizon
    /// ago, for `vigie serve` — except a process of interest's own, and
    /// returns how many.
    ///
    /// Why: the horizon's line never reaches them (they do not move their
    /// log's clock), so a host sending a year ahead would otherwise have
    /// every creation kept for as long as the server runs. `hunt` never
    /// calls this (it sets no ceiling: nothing is in the future).
    pub fn forget_future_received_before(&mut self, before: Timestamp) -> u64 {
        if self.procs.future_is_empty() {
            return 0;
        }
        let mut pinned: HashSet<(u32, u64)> = HashSet::new();
        for p in &self.interesting {
            if let (Some(hid), Some(k)) = (self.procs.host_id(&p.host), p.key) {
                pinned.insert((hid, k));
            }
        }
        Arc::make_mut(&mut self.procs).forget_future(before, &pinned)
    }
}

/// The remote execution a process whose parent image was not logged was,
/// when its parent (looked up among the creations held) is the host
/// process of one.
pub(crate) fn orphan_remote(procs: &ProcStore, p: Orphan) -> Option<RemoteExec> {
    let hid = procs.host_id(&p.host)?;
    let parent = procs.lookup(hid, p.parent_key, p.evidence.time)?;
    let pb = basename(procs.name(parent.image));
    let m = remote_method(&pb)?;
    let mut evidence = p.evidence;
    evidence.summary = remote_summary(&p.image, &pb, m, &p.host);
    Some(RemoteExec {
        host: p.host,
        time: evidence.time,
        user: p.user,
        method: m,
        evidence,
    })
}
