//! Process creations kept compact for parent chains (interned names,
//! hashed keys): every process creation of a run is kept — by `hunt`;
//! `vigie serve` forgets those older than its horizon ([`ProcStore::forget`]).
use super::*;

/// One process creation (Sysmon 1 / 4688) for parent chains, compact:
/// names are interned, keys hashed (every process creation of a hunt is
/// kept, so each byte here counts a million times).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcNode {
    pub time: Option<Timestamp>,
    pub image: u32,
    pub parent: Option<u64>,
    pub parent_image: Option<u32>,
}

/// Process creations by (host, process key), with an interner for host
/// and image names.
#[derive(Debug, Default, Clone)]
pub(crate) struct ProcStore {
    names: Interner,
    nodes: HashMap<(u32, u64), ProcNode>,
    /// Further creations under an already used key (4688 pid reuse).
    reused: HashMap<(u32, u64), Vec<ProcNode>>,
    /// Per (host, log): the first and the newest creation time seen. The
    /// horizon is measured on each log's own clock (see
    /// [`ProcStore::forget`]).
    clocks: HashMap<(u32, bool), (Timestamp, Timestamp)>,
    /// Per (host, log): the latest horizon line below which creations
    /// were forgotten. A parent not found there may be one of them.
    forgotten: HashMap<(u32, bool), Timestamp>,
    /// Creations dated after the clock's ceiling (the future, for the
    /// server that received them), with that ceiling: never below their
    /// log's line, they are forgotten by receipt age instead
    /// ([`ProcStore::forget_future`]).
    future: Vec<(u32, u64, Timestamp)>,
}

/// What a horizon pass keeps whatever its age: keys the pass never forgets
/// whole (a detected process's own and its lineage's, an undecided orphan's
/// parent), and under those keys the creations their lookups find (by
/// host, key and time): a reused key's oldest creations go, never these
/// nor any creation after them ([`ProcStore::forget_reused_below_line`]).
#[derive(Debug, Default)]
pub(crate) struct Pinned {
    pub keys: HashSet<(u32, u64)>,
    pub creations: HashSet<(u32, u64, Option<Timestamp>)>,
}

/// Which log a process key comes from: `true` for 4688 process ids (top
/// bit set, [`pid_key`]), `false` for Sysmon GUIDs. A parent is always
/// looked up in its child's log (the keys never meet).
pub(crate) fn log_of(key: u64) -> bool {
    key >> 63 == 1
}

/// String interner without an allocation per name: names are stored back
/// to back in one buffer and found by hash (a hunt interns an image path
/// for every process creation, and frees them all at the end).
#[derive(Debug, Default, Clone)]
struct Interner {
    text: String,
    /// (start, end) of each name in `text`.
    spans: Vec<(usize, usize)>,
    /// Hash of a name → its id (the last interned with that hash).
    by_hash: HashMap<u64, u32>,
    /// Per id, the previous id with the same hash (collisions), or `NONE`.
    same_hash: Vec<u32>,
    hasher: std::collections::hash_map::RandomState,
}

impl Interner {
    const NONE: u32 = u32::MAX;

    pub(super) fn find(&self, h: u64, s: &str) -> Option<u32> {
        let mut i = *self.by_hash.get(&h)?;
        while i != Self::NONE {
            if self.get(i) == s {
                return Some(i);
            }
            i = self.same_hash[i as usize];
        }
        None
    }
    pub(super) fn id(&self, s: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        self.find(self.hasher.hash_one(s), s)
    }
    pub(super) fn intern(&mut self, s: &str) -> u32 {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(s);
        if let Some(i) = self.find(h, s) {
            return i;
        }
        let i = self.spans.len() as u32;
        let start = self.text.len();
        self.text.push_str(s);
        self.spans.push((start, self.text.len()));
        self.same_hash
            .push(self.by_hash.insert(h, i).unwrap_or(Self::NONE));
        i
    }
    pub(super) fn get(&self, i: u32) -> &str {
        let (a, b) = self.spans[i as usize];
        &self.text[a..b]
    }
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }
}

impl ProcStore {
    pub fn intern(&mut self, s: &str) -> u32 {
        self.names.intern(s)
    }
    pub fn name(&self, i: u32) -> &str {
        self.names.get(i)
    }
    /// No creation dated in the future held.
    pub fn future_is_empty(&self) -> bool {
        self.future.is_empty()
    }
    /// No process creation and no name kept.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.names.len() == 0
    }
    /// Process creations kept and names interned.
    pub fn held(&self) -> (usize, usize) {
        let reused: usize = self.reused.values().map(Vec::len).sum();
        (self.nodes.len() + reused, self.names.len())
    }
    /// Names interned by `other` that this store interned too.
    pub fn shared_names(&self, other: &ProcStore) -> usize {
        (0..other.names.len() as u32)
            .filter(|&i| self.names.id(other.names.get(i)).is_some())
            .count()
    }
    pub fn host_id(&self, host: &str) -> Option<u32> {
        self.names.id(host)
    }
    /// Keeps a creation; its time moves its log's clock unless it is
    /// after `ceiling` (see [`Observer::set_clock_ceiling`]): the creation
    /// is kept with its own time all the same.
    pub(super) fn insert(&mut self, host: u32, key: u64, n: ProcNode, ceiling: Option<Timestamp>) {
        if let (Some(t), Some(c)) = (n.time, ceiling) {
            if t > c {
                self.future.push((host, key, c));
            }
        }
        if let Some(t) = n.time.filter(|t| ceiling.is_none_or(|c| *t <= c)) {
            self.clocks
                .entry((host, log_of(key)))
                .and_modify(|(first, last)| {
                    *first = (*first).min(t);
                    *last = (*last).max(t);
                })
                .or_insert((t, t));
        }
        self.put(host, key, n);
    }

    /// Keeps a creation without moving its log's clock.
    fn put(&mut self, host: u32, key: u64, n: ProcNode) {
        match self.nodes.entry((host, key)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(n);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.reused.entry((host, key)).or_default().push(n)
            }
        }
    }
    /// The latest creation under `key` on `host` not after `before`. Ties
    /// (same time) go to the greatest image *name*, then parent key and
    /// parent image name, never to interned ids or to which creation was
    /// stored first: both depend on the order observers were filled and
    /// merged.
    pub fn lookup(&self, host: u32, key: u64, before: Option<Timestamp>) -> Option<ProcNode> {
        let first = self.nodes.get(&(host, key)).into_iter();
        let more = self.reused.get(&(host, key)).into_iter().flatten();
        first
            .chain(more)
            .filter(|n| match (n.time, before) {
                (Some(a), Some(b)) => a <= b,
                _ => true,
            })
            .max_by(|a, b| {
                a.time
                    .cmp(&b.time)
                    .then_with(|| self.name(a.image).cmp(self.name(b.image)))
                    .then_with(|| a.parent.cmp(&b.parent))
                    .then_with(|| {
                        let pa = a.parent_image.map(|i| self.name(i));
                        pa.cmp(&b.parent_image.map(|i| self.name(i)))
                    })
            })
            .copied()
    }
    pub(super) fn merge(&mut self, o: ProcStore) {
        let remap: Vec<u32> = (0..o.names.len() as u32)
            .map(|i| self.intern(o.names.get(i)))
            .collect();
        let fix = |n: ProcNode| ProcNode {
            time: n.time,
            image: remap[n.image as usize],
            parent: n.parent,
            parent_image: n.parent_image.map(|p| remap[p as usize]),
        };
        // The clocks are `o`'s own (below), not its creations' times: a
        // creation that did not move `o`'s clock must not move this one's.
        for ((h, k), n) in o.nodes {
            self.put(remap[h as usize], k, fix(n));
        }
        for ((h, k), v) in o.reused {
            for n in v {
                self.put(remap[h as usize], k, fix(n));
            }
        }
        for ((h, log), (first, last)) in o.clocks {
            self.clocks
                .entry((remap[h as usize], log))
                .and_modify(|(f, l)| {
                    *f = (*f).min(first);
                    *l = (*l).max(last);
                })
                .or_insert((first, last));
        }
        for ((h, log), t) in o.forgotten {
            let e = self.forgotten.entry((remap[h as usize], log)).or_insert(t);
            *e = (*e).max(t);
        }
        self.future.extend(
            o.future
                .into_iter()
                .map(|(h, k, c)| (remap[h as usize], k, c)),
        );
    }

    /// Forgets the creations dated in the future whose ceiling (their
    /// receipt plus the tolerance) is before `before`, unless `pinned`
    /// names them, and returns how many. Why by receipt: such a creation
    /// is never older than its log's line (it does not move the clock it
    /// would be measured on), so without this it would be kept forever.
    pub fn forget_future(&mut self, before: Timestamp, pinned: &HashSet<(u32, u64)>) -> u64 {
        if self.future.is_empty() {
            return 0;
        }
        let (old, young): (Vec<_>, Vec<_>) = std::mem::take(&mut self.future)
            .into_iter()
            .partition(|(h, k, c)| *c < before && !pinned.contains(&(*h, *k)));
        self.future = young;
        let mut count = 0u64;
        for (h, k, c) in old {
            // Only the creations under the key dated past that ceiling
            // (a reused 4688 id may hold real ones beside them).
            let future = |n: &ProcNode| n.time.is_some_and(|t| t > c);
            let mut more = self.reused.remove(&(h, k)).unwrap_or_default();
            let before_len = more.len();
            more.retain(|n| !future(n));
            count += (before_len - more.len()) as u64;
            if self.nodes.get(&(h, k)).is_some_and(future) {
                self.nodes.remove(&(h, k));
                count += 1;
                if !more.is_empty() {
                    let first = more.remove(0);
                    self.nodes.insert((h, k), first);
                }
            }
            if !more.is_empty() {
                self.reused.insert((h, k), more);
            }
        }
        count
    }

    /// The horizon's line in the log of `key` on `host` (its newest
    /// creation less `horizon`), and whether the log has run longer than
    /// the horizon; `None` before its first timed creation.
    pub fn line(
        &self,
        host: u32,
        key: u64,
        horizon: chrono::TimeDelta,
    ) -> Option<(Timestamp, bool)> {
        line_of(&self.clocks, host, key, horizon)
    }

    /// Whether creations were forgotten in the log of `key` on `host`: a
    /// parent not found there may be one of them (older than the horizon),
    /// not a process whose creation was never logged.
    pub fn forgot_in(&self, host: u32, key: u64) -> bool {
        self.forgotten.contains_key(&(host, log_of(key)))
    }

    /// Forgets the process creations older than `horizon` on their own
    /// log's clock (its newest creation), and returns how many.
    ///
    /// A creation is kept while it, or one of its children, was created
    /// within the horizon (explorer.exe starting programs all week stays),
    /// and when `pinned` names its key (the ancestors of a detected process:
    /// incidents show its chain). The creations under a reused key (4688
    /// process ids) go together or not at all: forgetting the newest of
    /// them would make a lookup find an older one, a wrong parent — but
    /// under a key still held, the oldest ones no lookup within the horizon
    /// finds go ([`ProcStore::forget_reused_below_line`]).
    /// Untimed creations go once their log has run longer than the
    /// horizon (they cannot be placed on it).
    ///
    /// Why each log's own clock, not the newest event of the commune: a
    /// log arrives in its own order — a laptop back after a week sends its
    /// backlog, Winlogbeat keeps a bookmark per channel, a host's clock may
    /// be wrong — and measured against the newest event anywhere, a late
    /// log's creations would be forgotten as they arrive, before their
    /// children name them.
    pub fn forget(&mut self, horizon: chrono::TimeDelta, pinned: &Pinned) -> u64 {
        let (whole, creations) = (&pinned.keys, &pinned.creations);
        let line = |clocks: &HashMap<(u32, bool), (Timestamp, Timestamp)>, h: u32, key: u64| {
            line_of(clocks, h, key, horizon)
        };
        // The newest child of each (host, parent key) older than its line
        // would not keep it: only children within the horizon are counted,
        // each parent key with its earliest such child.
        let mut recent_parent: HashMap<(u32, u64), Timestamp> = HashMap::new();
        let all = self.nodes.iter().chain(
            self.reused
                .iter()
                .flat_map(|(k, v)| v.iter().map(move |n| (k, n))),
        );
        for (&(h, k), n) in all {
            if let (Some(p), Some(t)) = (n.parent, n.time) {
                if line(&self.clocks, h, k).is_some_and(|(l, _)| t >= l) {
                    let e = recent_parent.entry((h, p)).or_insert(t);
                    *e = (*e).min(t);
                }
            }
        }
        let old = |n: &ProcNode, line: Option<(Timestamp, bool)>| match (n.time, line) {
            (Some(t), Some((l, _))) => t < l,
            (None, Some((_, ran))) => ran,
            (_, None) => false,
        };
        let mut gone: Vec<(u32, u64)> = Vec::new();
        for (&(h, k), n) in &self.nodes {
            if whole.contains(&(h, k)) || recent_parent.contains_key(&(h, k)) {
                continue;
            }
            let l = line(&self.clocks, h, k);
            let more = self.reused.get(&(h, k)).into_iter().flatten();
            if old(n, l) && more.clone().all(|m| old(m, l)) {
                gone.push((h, k));
            }
        }
        let mut count = 0u64;
        for key in gone {
            if self.nodes.remove(&key).is_some() {
                count += 1;
            }
            count += self.reused.remove(&key).map_or(0, |v| v.len() as u64);
            if let Some((l, _)) = line(&self.clocks, key.0, key.1) {
                let e = self.forgotten.entry((key.0, log_of(key.1))).or_insert(l);
                *e = (*e).max(l);
            }
        }
        count += self.forget_reused_below_line(horizon, creations, &recent_parent);
        // Given back once the table is mostly empty (after the first pass
        // of a long rebuild); in a steady state the same room is used again.
        if self.nodes.capacity() > 4 * self.nodes.len() + 1024 {
            self.nodes.shrink_to(2 * self.nodes.len());
        }
        if self.reused.capacity() > 4 * self.reused.len() + 1024 {
            self.reused.shrink_to(2 * self.reused.len());
        }
        count
    }

    /// Under a key still held (a recent creation or child keeps it), forgets
    /// the creations older than every one that must stay, and returns how
    /// many.
    ///
    /// Why: Windows gives process ids out again all the time, so on a host
    /// logging 4688 a key is reused every few hours; kept whole while its
    /// newest creation is recent, it held every creation ever made under
    /// that id for as long as the server ran (memory growing with events,
    /// not with the horizon). A lookup takes the latest creation not after
    /// the child, so a child within the horizon names a creation within it
    /// or the newest one below the line — and that one only when the child
    /// is dated before the key's next creation. What stays: the creations
    /// from that one (or from the next creation, when no child within the
    /// horizon names it) on. Only the *oldest* creations ever go, never one
    /// between two kept ones, so a lookup finds the creation it found
    /// before or none (said `parent_beyond_horizon`), never an older, wrong
    /// one: a key stops here at its oldest pinned creation (a detected
    /// process's lineage, an undecided orphan's parent), and a key with an
    /// untimed creation (which every lookup can find) is left whole. The
    /// next creation is taken among those that moved the log's clock: one
    /// dated in the future is no sign the holder below the line has ended.
    fn forget_reused_below_line(
        &mut self,
        horizon: chrono::TimeDelta,
        pinned: &HashSet<(u32, u64, Option<Timestamp>)>,
        recent_parent: &HashMap<(u32, u64), Timestamp>,
    ) -> u64 {
        let mut count = 0u64;
        let mut emptied: Vec<(u32, u64)> = Vec::new();
        let ProcStore {
            nodes,
            reused,
            clocks,
            forgotten,
            ..
        } = self;
        for (&(h, k), more) in reused.iter_mut() {
            let Some(&(_, last)) = clocks.get(&(h, log_of(k))) else {
                continue;
            };
            let Some((l, _)) = line_of(clocks, h, k, horizon) else {
                continue;
            };
            let first = nodes.get(&(h, k)).copied();
            let all = || first.iter().chain(more.iter());
            if all().any(|n| n.time.is_none()) {
                continue;
            }
            let times = || all().filter_map(|n| n.time);
            let Some(below) = times().filter(|t| *t < l).max() else {
                continue;
            };
            let next = times().filter(|t| *t >= l && *t <= last).min();
            let named = match (next, recent_parent.get(&(h, k))) {
                (None, _) => true,
                (Some(n), Some(child)) => *child < n,
                (Some(_), None) => false,
            };
            let mut cut = match next {
                Some(n) if !named => n,
                _ => below,
            };
            if let Some(p) = all()
                .filter(|n| pinned.contains(&(h, k, n.time)))
                .filter_map(|n| n.time)
                .min()
            {
                cut = cut.min(p);
            }
            let older = |n: &ProcNode| n.time.is_some_and(|t| t < cut);
            let before = more.len();
            more.retain(|n| !older(n));
            let mut removed = (before - more.len()) as u64;
            if first.as_ref().is_some_and(older) {
                nodes.remove(&(h, k));
                removed += 1;
                if !more.is_empty() {
                    nodes.insert((h, k), more.remove(0));
                }
            }
            if more.is_empty() {
                emptied.push((h, k));
            }
            if removed > 0 {
                let e = forgotten.entry((h, log_of(k))).or_insert(l);
                *e = (*e).max(l);
            }
            count += removed;
        }
        for key in emptied {
            reused.remove(&key);
        }
        count
    }
}

fn line_of(
    clocks: &HashMap<(u32, bool), (Timestamp, Timestamp)>,
    host: u32,
    key: u64,
    horizon: chrono::TimeDelta,
) -> Option<(Timestamp, bool)> {
    let (first, last) = clocks.get(&(host, log_of(key)))?;
    let line = last.checked_sub_signed(horizon)?;
    Some((line, line > *first))
}

/// Process key of a Sysmon ProcessGuid (case-insensitive hash, top bit 0).
pub(crate) fn guid_key(g: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for b in g.trim().bytes() {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.finish() >> 1
}

/// Process key of a 4688 process id (top bit 1: never equals a GUID key).
pub(crate) fn pid_key(p: i64) -> u64 {
    (p as u64 & !(1 << 63)) | (1 << 63)
}
