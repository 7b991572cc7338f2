//! What the live scope forgets when retention removes events from the
//! store: the facts kept one per event, whose event is gone.
//!
//! Why: `vigie serve` keeps one observer per commune for as long as it
//! runs. Its horizon forgets the process creations of old activity, but
//! a detection, a process of interest, a service installed, a VPN session
//! are each kept with their event, and their number grows with what the
//! commune's logs hold. Retention removes old events from the log
//! (`--retention-days`, `--retention-gb`); these facts go with them, so
//! that what they hold follows the retention, not how long the server
//! has run. `hunt` never calls this.
//!
//! What is not forgotten: the aggregates keyed by an entity (logons and
//! links between hosts, accounts, addresses, domains, coverage) keep
//! their counts, first and last times and earliest evidence — which may
//! be of removed events — until a restart rebuilds the scope from the log
//! as it is: an event cannot be taken out of a count without the event.
use super::*;

/// What a pass forgot, by kind of fact.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RemovedFacts {
    /// Detections (rule matches, cleared logs) whose event is removed.
    pub detections: u64,
    /// The other facts kept one per event (processes of interest,
    /// services, scheduled tasks, files, cleared logs, VPN sessions,
    /// remote executions, behaviours, creations without a logged parent
    /// image).
    pub facts: u64,
}

impl RemovedFacts {
    /// Whether nothing was forgotten.
    pub fn is_empty(&self) -> bool {
        self.detections == 0 && self.facts == 0
    }
}

impl std::ops::AddAssign for RemovedFacts {
    fn add_assign(&mut self, o: RemovedFacts) {
        self.detections += o.detections;
        self.facts += o.facts;
    }
}

/// Keeps the items of `v` whose evidence is not `removed`; how many went.
fn keep<T>(v: &mut Vec<T>, evidence: impl Fn(&T) -> &Evidence, removed: RemovedFn) -> u64 {
    let before = v.len();
    v.retain(|x| {
        let e = evidence(x);
        !removed(&e.source, &e.locator)
    });
    (before - v.len()) as u64
}

/// Whether the event read at (source, locator) is removed.
type RemovedFn<'a> = &'a dyn Fn(&str, &Locator) -> bool;

impl Observer {
    /// Forgets the facts kept one per event whose event is `removed`
    /// (given its source and locator), and returns how many went.
    ///
    /// A process of interest forgotten no longer holds its creation and
    /// its ancestors' against the horizon: they go at its next pass.
    pub fn forget_removed(&mut self, removed: &dyn Fn(&str, &Locator) -> bool) -> RemovedFacts {
        let before = self.dets.len();
        self.dets.retain(|d| !removed(&d.source, &d.locator));
        let detections = (before - self.dets.len()) as u64;
        let mut facts = 0;
        facts += keep(&mut self.interesting, |p| &p.evidence, removed);
        facts += keep(&mut self.services, |p| &p.evidence, removed);
        facts += keep(&mut self.tasks, |p| &p.evidence, removed);
        facts += keep(&mut self.files, |p| &p.evidence, removed);
        facts += keep(&mut self.cleared, |p| &p.evidence, removed);
        facts += keep(&mut self.vpn, |p| &p.evidence, removed);
        facts += keep(&mut self.remote_exec, |p| &p.evidence, removed);
        facts += keep(&mut self.behaviours, |p| &p.evidence, removed);
        facts += keep(&mut self.orphans, |p| &p.evidence, removed);
        for v in [
            &mut self.dets as &mut dyn Shrink,
            &mut self.interesting,
            &mut self.services,
            &mut self.tasks,
            &mut self.files,
            &mut self.cleared,
            &mut self.vpn,
            &mut self.remote_exec,
            &mut self.behaviours,
            &mut self.orphans,
        ] {
            v.shrink_if_sparse();
        }
        RemovedFacts { detections, facts }
    }
}

/// A list given back to the allocator once mostly emptied: forgetting is
/// for memory, and a `Vec` keeps its capacity.
trait Shrink {
    fn shrink_if_sparse(&mut self);
}

impl<T> Shrink for Vec<T> {
    fn shrink_if_sparse(&mut self) {
        if self.capacity() > 2 * self.len() + 64 {
            self.shrink_to(self.len() + self.len() / 4);
        }
    }
}
