//! Process creations kept compact for parent chains (interned names,
//! hashed keys): every process creation of a run is kept.
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
    /// No process creation and no name kept.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.names.len() == 0
    }
    /// Process creations kept and names interned.
    pub fn held(&self) -> (usize, usize) {
        let reused: usize = self.reused.values().map(Vec::len).sum();
        (self.nodes.len() + reused, self.names.len())
    }
    pub fn host_id(&self, host: &str) -> Option<u32> {
        self.names.id(host)
    }
    pub(super) fn insert(&mut self, host: u32, key: u64, n: ProcNode) {
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
        for ((h, k), n) in o.nodes {
            self.insert(remap[h as usize], k, fix(n));
        }
        for ((h, k), v) in o.reused {
            for n in v {
                self.insert(remap[h as usize], k, fix(n));
            }
        }
    }
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
