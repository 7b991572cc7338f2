//! The streaming half of the scope stage: an [`Observer`] sees every event
//! (with the detections it raised) and keeps only compact facts: coverage
//! counters, aggregated links, process nodes, and the few events that matter
//! (service installs, cleared logs, account creations...).
//!
//! Why this shape: `vigie hunt` reads millions of events on several
//! threads; the scope must add little to that. Each worker owns an
//! observer (no locking), the hot path for an uninteresting event is a
//! coverage update plus a `match` on the event id, and observers are merged
//! at the end. Everything kept is either aggregated with commutative
//! operations (counts, min/max, sets) or a list sorted at the end, so the
//! merged result never depends on thread scheduling.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use vigie_detect::{Match, RuleMeta};
use vigie_event::{Event, Locator, Timestamp, Value};

use crate::model::{Assets, Evidence, LinkMethod, RunInfo};
use crate::names::{account_key, address_key, basename, builtin_kind, host_key};
use crate::say::enc;

/// How many evidence items an aggregate keeps (the earliest ones).
pub(crate) const TOP_EVIDENCE: usize = 10;

/// Total order on evidence (time, source, locator, summary) so that
/// "the K earliest" is the same whatever the order events arrived in.
pub(crate) fn ev_key(e: &Evidence) -> (Option<Timestamp>, &str, u8, u64, &str) {
    let (k, n) = loc_key(&e.locator);
    (e.time, &e.source, k, n, &e.summary)
}

/// Inserts `e` keeping the `TOP_EVIDENCE` earliest, sorted, no duplicates.
pub(crate) fn push_top(v: &mut Vec<Evidence>, e: Evidence) {
    let pos = v.binary_search_by(|x| ev_key(x).cmp(&ev_key(&e)));
    if let Err(p) = pos {
        if p < TOP_EVIDENCE {
            v.insert(p, e);
            v.truncate(TOP_EVIDENCE);
        }
    }
}

/// Could the evidence of `e` be among the `TOP_EVIDENCE` earliest of `v`
/// (sorted by [`ev_key`])? Lets callers skip building evidence that would
/// be dropped. It compares the whole (time, source, locator) prefix of
/// the order, not the time alone, and never the count alone: a test on
/// time only ("strictly earlier than the last kept") or on the count
/// ("while fewer than K are kept") keeps the *first-seen* of equal or
/// later items, and which worker saw which copy of an event first depends
/// on thread scheduling. On an equal prefix the summary decides, in
/// [`push_top`].
pub(crate) fn may_be_top(v: &[Evidence], e: &Event) -> bool {
    v.len() < TOP_EVIDENCE
        || v.last().is_some_and(|l| {
            (e.timestamp, &*e.origin.source, loc_key(&e.origin.locator))
                <= (l.time, l.source.as_str(), loc_key(&l.locator))
        })
}

/// [`push_top`] of a borrowed item, cloned only when it is kept: when
/// thousands of items compete for `TOP_EVIDENCE` places, most are not.
pub(crate) fn push_top_ref(v: &mut Vec<Evidence>, e: &Evidence) {
    if v.len() >= TOP_EVIDENCE && v.last().is_some_and(|l| ev_key(e) >= ev_key(l)) {
        return;
    }
    let pos = v.binary_search_by(|x| ev_key(x).cmp(&ev_key(e)));
    if let Err(p) = pos {
        if p < TOP_EVIDENCE {
            v.insert(p, e.clone());
            v.truncate(TOP_EVIDENCE);
        }
    }
}

pub(crate) fn merge_top(a: &mut Vec<Evidence>, b: Vec<Evidence>) {
    for e in b {
        push_top(a, e);
    }
}

fn min_t(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
fn max_t(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Minute index of a timestamp (for silences and for pairing events).
pub(crate) fn minute(t: Timestamp) -> i64 {
    t.timestamp().div_euclid(60)
}

/// Builds the evidence pointer of an event.
pub(crate) fn evidence(e: &Event, summary: String) -> Evidence {
    Evidence {
        time: e.timestamp,
        source: e.origin.source.to_string(),
        locator: e.origin.locator.clone(),
        host: e.computer.as_deref().and_then(host_key),
        event_id: e.event_id,
        rule_id: None,
        rule_title: None,
        level: None,
        summary,
    }
}

fn s<'a>(e: &'a Event, name: &str) -> Option<&'a str> {
    match e.get(name)? {
        Value::Str(s) => {
            let t = s.trim();
            (!t.is_empty() && t != "-").then_some(t)
        }
        _ => None,
    }
}

fn text(e: &Event, name: &str) -> Option<String> {
    match e.get(name)? {
        Value::Null => None,
        v => {
            let t = v.to_text();
            let t = t.trim();
            (!t.is_empty() && t != "-").then(|| t.to_string())
        }
    }
}

/// A user account of interest (not built-in, not a machine).
pub(crate) fn user(raw: Option<&str>) -> Option<(String, Option<String>)> {
    let (n, d) = account_key(raw?)?;
    if builtin_kind(&n).is_some() {
        return None;
    }
    // Virtual identities (IIS application pools, service SIDs, DWM/UMFD).
    if d.as_deref().is_some_and(|d| {
        let d = d.to_ascii_lowercase();
        matches!(
            d.as_str(),
            "iis apppool"
                | "nt service"
                | "window manager"
                | "font driver host"
                | "nt authority"
                | "autorite nt"
        )
    }) {
        return None;
    }
    Some((n, d))
}

fn user_with_domain(e: &Event, name: &str, domain: &str) -> Option<(String, Option<String>)> {
    let (n, d) = user(s(e, name))?;
    Some((n, d.or_else(|| s(e, domain).map(str::to_string))))
}

// --- accumulators -----------------------------------------------------------

#[derive(Debug, Default, Clone)]
pub(crate) struct CovAcc {
    pub fqdns: BTreeSet<String>,
    pub events: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Runs of consecutive record ids, in arrival order (merged at the end).
    pub runs: Vec<(u64, u64)>,
    /// Minutes with at least one event (deduplicated at the end).
    pub minutes: Vec<i64>,
}

impl CovAcc {
    fn add(&mut self, t: Option<Timestamp>, rec: Option<u64>) {
        self.events += 1;
        if let Some(t) = t {
            self.first = min_t(self.first, Some(t));
            self.last = max_t(self.last, Some(t));
            let m = minute(t);
            if self.minutes.last() != Some(&m) {
                self.minutes.push(m);
            }
        }
        if let Some(r) = rec {
            match self.runs.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(r) => *end = r,
                Some((start, end)) if r >= *start && r <= *end => {}
                _ => self.runs.push((r, r)),
            }
        }
    }
    fn merge(&mut self, o: CovAcc) {
        self.fqdns.extend(o.fqdns);
        self.events += o.events;
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        self.runs.extend(o.runs);
        self.minutes.extend(o.minutes);
    }
}

/// Key of a link aggregate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct LinkKey {
    /// Source host key, or address when no host name was logged.
    pub from: String,
    pub to: String,
    pub account: Option<String>,
    pub method: LinkMethod,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct LinkAcc {
    pub from_address: BTreeSet<String>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub count: u64,
    pub minutes: Vec<i64>,
    pub evidence: Vec<Evidence>,
}

impl LinkAcc {
    fn merge(&mut self, o: LinkAcc) {
        self.from_address.extend(o.from_address);
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        self.count += o.count;
        self.minutes.extend(o.minutes);
        merge_top(&mut self.evidence, o.evidence);
    }
}

/// A generic aggregate: count, first/last, earliest evidence.
#[derive(Debug, Default, Clone)]
pub(crate) struct Agg {
    pub count: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub sum: u64,
    pub tags: BTreeSet<String>,
    pub evidence: Vec<Evidence>,
}

impl Agg {
    fn add(&mut self, t: Option<Timestamp>, ev: Option<Evidence>) {
        self.count += 1;
        self.first = min_t(self.first, t);
        self.last = max_t(self.last, t);
        if let Some(ev) = ev {
            push_top(&mut self.evidence, ev);
        }
    }
    pub(crate) fn merge(&mut self, o: Agg) {
        self.count += o.count;
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        self.sum += o.sum;
        self.tags.extend(o.tags);
        merge_top(&mut self.evidence, o.evidence);
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct AccountAcc {
    pub domains: BTreeSet<String>,
    pub hosts: BTreeSet<String>,
    pub addresses: BTreeSet<String>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Earliest 4672 (special privileges at logon).
    pub privileged: Vec<Evidence>,
    /// 4720 creations.
    pub created: Vec<Evidence>,
    /// Accounts that created it (4720 `SubjectUserName`).
    pub created_by: BTreeSet<String>,
    /// Groups added to, with evidence.
    pub groups: BTreeMap<String, Vec<Evidence>>,
}

impl AccountAcc {
    fn seen(&mut self, t: Option<Timestamp>, dom: Option<String>) {
        self.first = min_t(self.first, t);
        self.last = max_t(self.last, t);
        if let Some(d) = dom {
            self.domains.insert(d);
        }
    }
    fn merge(&mut self, o: AccountAcc) {
        self.domains.extend(o.domains);
        self.hosts.extend(o.hosts);
        self.addresses.extend(o.addresses);
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        merge_top(&mut self.privileged, o.privileged);
        merge_top(&mut self.created, o.created);
        self.created_by.extend(o.created_by);
        for (g, ev) in o.groups {
            merge_top(self.groups.entry(g).or_default(), ev);
        }
    }
}

/// A detection, with the entities of its event. Compact, because a hunt
/// keeps every detection (tens of thousands) and the analysis goes over
/// them many times: strings shared with the event, the other rules that
/// matched it and the rule itself are `Arc`s (no allocation per
/// detection), and the evidence pointer is built ([`Det::evidence`]) only
/// for the few detections a scope shows.
#[derive(Debug, Clone)]
pub(crate) struct Det {
    pub time: Option<Timestamp>,
    pub host: Arc<str>,
    pub rule: Arc<RuleMeta>,
    pub accounts: Arc<[String]>,
    pub addresses: Arc<[String]>,
    /// Where the event was read (the evidence's source and locator).
    pub source: Arc<str>,
    pub locator: Locator,
    pub event_id: Option<u32>,
    /// The event named its host: the evidence's `host` is `host`.
    pub named_host: bool,
    /// The evidence summary, when not the one of a rule match
    /// ("{rule title} on {host}").
    pub summary: Option<Box<str>>,
    /// Synthesised by the scope (cleared log), not a rule match.
    pub builtin: bool,
}

impl Det {
    /// The evidence pointer of this detection. Its rule fields are the
    /// detection's rule.
    pub fn evidence(&self) -> Evidence {
        Evidence {
            time: self.time,
            source: self.source.to_string(),
            locator: self.locator.clone(),
            host: self.named_host.then(|| self.host.to_string()),
            event_id: self.event_id,
            rule_id: self.rule.id.clone(),
            rule_title: Some(self.rule.title.clone()),
            level: self.rule.level,
            summary: match &self.summary {
                Some(s) => s.to_string(),
                None => crate::say::det(&self.rule.title, &self.host),
            },
        }
    }

    /// The bytes of the evidence summary, without building it.
    fn summary_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let custom: &[u8] = self.summary.as_deref().map(str::as_bytes).unwrap_or(b"");
        let coded = self
            .summary
            .is_none()
            .then(|| crate::say::det_bytes(&self.rule.title, &self.host));
        custom.iter().copied().chain(coded.into_iter().flatten())
    }

    /// (time, source, locator): which event this is.
    pub fn event_key(&self) -> (Option<Timestamp>, &str, (u8, u64)) {
        (self.time, &self.source, loc_key(&self.locator))
    }

    /// Evidence order ([`ev_key`]) between this detection's evidence and `e`.
    pub fn cmp_evidence(&self, e: &Evidence) -> std::cmp::Ordering {
        self.event_key()
            .cmp(&(e.time, e.source.as_str(), loc_key(&e.locator)))
            .then_with(|| self.summary_bytes().cmp(e.summary.bytes()))
    }

    /// Evidence order between two detections' evidence.
    pub fn cmp_evidence_det(&self, o: &Det) -> std::cmp::Ordering {
        self.event_key()
            .cmp(&o.event_key())
            .then_with(|| self.summary_bytes().cmp(o.summary_bytes()))
    }
}

/// Locator as an ordered, hashable pair (the encoding of [`ev_key`]).
pub(crate) fn loc_key(l: &Locator) -> (u8, u64) {
    l.key()
}

/// [`push_top`] of a detection's evidence, built only when it is kept.
pub(crate) fn push_top_det(v: &mut Vec<Evidence>, d: &Det) {
    // Full and not before the last: the common case when detections come
    // in order, settled with one comparison.
    if v.len() >= TOP_EVIDENCE && v.last().is_some_and(|l| d.cmp_evidence(l).is_ge()) {
        return;
    }
    let pos = v.binary_search_by(|x| d.cmp_evidence(x).reverse());
    if let Err(p) = pos {
        if p < TOP_EVIDENCE {
            v.insert(p, d.evidence());
            v.truncate(TOP_EVIDENCE);
        }
    }
}

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

    fn find(&self, h: u64, s: &str) -> Option<u32> {
        let mut i = *self.by_hash.get(&h)?;
        while i != Self::NONE {
            if self.get(i) == s {
                return Some(i);
            }
            i = self.same_hash[i as usize];
        }
        None
    }
    fn id(&self, s: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        self.find(self.hasher.hash_one(s), s)
    }
    fn intern(&mut self, s: &str) -> u32 {
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
    fn get(&self, i: u32) -> &str {
        let (a, b) = self.spans[i as usize];
        &self.text[a..b]
    }
    fn len(&self) -> usize {
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
    pub fn host_id(&self, host: &str) -> Option<u32> {
        self.names.id(host)
    }
    fn insert(&mut self, host: u32, key: u64, n: ProcNode) {
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
    fn merge(&mut self, o: ProcStore) {
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

/// A process of interest (detected, or a data-moving tool).
#[derive(Debug, Clone)]
pub(crate) struct ProcRaw {
    pub host: String,
    pub time: Option<Timestamp>,
    pub pid: Option<String>,
    pub image: String,
    pub original: Option<String>,
    pub cmdline: Option<String>,
    pub user: Option<String>,
    pub parent_key: Option<u64>,
    pub parent_image: Option<String>,
    pub parent_cmdline: Option<String>,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct SvcRaw {
    pub host: String,
    pub time: Option<Timestamp>,
    pub name: String,
    pub image: Option<String>,
    pub account: Option<String>,
    /// Who installed it (4697 `SubjectUserName`).
    pub creator: Option<String>,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct TaskRaw {
    pub host: String,
    pub time: Option<Timestamp>,
    pub name: String,
    pub command: Option<String>,
    pub account: Option<String>,
    pub action: String,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct FileRaw {
    pub host: String,
    pub time: Option<Timestamp>,
    pub path: String,
    pub process: Option<String>,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct ClearedRaw {
    pub host: String,
    pub channel: String,
    pub cleared_channel: String,
    pub time: Option<Timestamp>,
    pub account: Option<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct VpnRaw {
    pub time: Option<Timestamp>,
    pub user: Option<String>,
    pub remote: Option<String>,
    pub tunnel: Option<String>,
    pub success: bool,
    pub gateway: String,
    pub evidence: Evidence,
}

/// Remote execution seen on the target (WinRM host process, WMI provider).
#[derive(Debug, Clone)]
pub(crate) struct RemoteExec {
    pub host: String,
    pub time: Option<Timestamp>,
    pub user: Option<String>,
    pub method: LinkMethod,
    pub evidence: Evidence,
}

/// A process creation without its parent's image (4688 before Windows
/// 10 logs only the parent's process id). Whether a remote-execution host
/// process started it is known only once every creation is in
/// ([`ProcStore::lookup`] on the merged store): deciding it in the
/// observer would depend on which creations that observer saw first.
#[derive(Debug, Clone)]
pub(crate) struct Orphan {
    pub host: String,
    pub parent_key: u64,
    /// Base name of the image.
    pub image: String,
    pub user: Option<String>,
    /// Its summary is written once the parent is known.
    pub evidence: Evidence,
}

/// The remote-execution method of a process started by `parent` (base
/// name of the parent image), if that parent is the host process of one.
pub(crate) fn remote_method(parent: &str) -> Option<LinkMethod> {
    match parent {
        "wsmprovhost.exe" | "winrshost.exe" => Some(LinkMethod::Winrm),
        "wmiprvse.exe" => Some(LinkMethod::Wmi),
        _ => None,
    }
}

/// Evidence summary of a remote execution.
pub(crate) fn remote_summary(image: &str, parent: &str, m: LinkMethod, host: &str) -> String {
    enc(
        "remote",
        &[image, parent, crate::text::method_code(m), host],
    )
}

#[derive(Debug, Default, Clone)]
pub(crate) struct DnsAcc {
    pub hosts: BTreeSet<String>,
    pub images: BTreeSet<String>,
    pub rules: BTreeSet<String>,
    pub agg: Agg,
}

/// Coverage being collected for one raw (computer, channel) pair.
#[derive(Debug, Clone)]
pub(crate) struct CovSlot {
    pub host: Arc<str>,
    /// The raw computer name gives a host key (else `host` is UNKNOWN).
    pub named: bool,
    pub channel: String,
    pub acc: CovAcc,
}

/// Streaming collector of scope facts; one per worker thread.
///
/// `Clone`: `vigie serve` keeps observing while it answers "what is the
/// scope now" from a copy (finishing consumes the observer).
#[derive(Clone)]
pub struct Observer {
    pub(crate) assets: Arc<Assets>,
    pub(crate) silence_threshold_secs: u64,
    pub(crate) events: u64,
    pub(crate) first: Option<Timestamp>,
    pub(crate) last: Option<Timestamp>,
    /// (host, channel) → coverage, filled from `slots` by `settle`.
    pub(crate) cov: HashMap<(String, String), CovAcc>,
    /// Raw computer → raw channel → index in `slots`: looked up with the
    /// event's own strings, so the per-event path does not allocate.
    raw: HashMap<Box<str>, HashMap<Box<str>, usize>>,
    slots: Vec<CovSlot>,
    pub(crate) dets: Vec<Det>,
    pub(crate) links: HashMap<LinkKey, LinkAcc>,
    /// (address, account, target host) → failed logons.
    pub(crate) failed: HashMap<(String, String, String), Agg>,
    /// (address, host) → times the address was seen as that host.
    /// address → host → times the address was seen as that host.
    pub(crate) addr_host: HashMap<String, HashMap<String, u64>>,
    pub(crate) procs: ProcStore,
    pub(crate) interesting: Vec<ProcRaw>,
    pub(crate) services: Vec<SvcRaw>,
    pub(crate) tasks: Vec<TaskRaw>,
    pub(crate) files: Vec<FileRaw>,
    pub(crate) dns: HashMap<String, DnsAcc>,
    pub(crate) accounts: HashMap<String, AccountAcc>,
    /// host → Kerberos service events (4768/4769) logged: it is a DC.
    pub(crate) kdc: HashMap<String, Agg>,
    /// host → firewall/VPN events logged.
    pub(crate) gateways: HashMap<String, Agg>,
    pub(crate) cleared: Vec<ClearedRaw>,
    /// (host, share, account) → accesses to ordinary shares.
    pub(crate) shares: HashMap<(String, String, String), Agg>,
    /// (source address, destination address) → bytes sent (firewall).
    pub(crate) transfers: HashMap<(String, String), Agg>,
    pub(crate) vpn: Vec<VpnRaw>,
    pub(crate) remote_exec: Vec<RemoteExec>,
    /// Process creations whose parent image was not logged: remote
    /// executions or not, decided at the end.
    pub(crate) orphans: Vec<Orphan>,
    /// Attack behaviours recognised in command lines, rules or not.
    pub(crate) behaviours: Vec<Behaviour>,
    /// (host, destination address, port) → outbound connections (Sysmon 3).
    pub(crate) conns: HashMap<(Arc<str>, std::net::IpAddr, u16), Agg>,
    /// (source address or host, account) → successful authentications
    /// (4624, 4768, 4776): did a spray or brute force succeed?
    pub(crate) auth_ok: HashMap<(String, String), Agg>,
    /// (requesting account, service account) → RC4 service tickets (4769);
    /// tags hold the client addresses and `@dc`.
    pub(crate) tgs: HashMap<(String, String), Agg>,
    /// (host, writing image) → files with ransom-note names (Sysmon 11).
    pub(crate) notes: HashMap<(String, String), NoteAcc>,
    /// What the driver knows of the run (rules, unread input).
    pub(crate) run: RunInfo,
    /// Process creations seen (Sysmon 1, 4688): without any, the logs
    /// cannot show what ran.
    pub(crate) proc_events: u64,
}

/// Files with ransom-note names written by one program on one host.
#[derive(Debug, Default, Clone)]
pub(crate) struct NoteAcc {
    /// Distinct folders (at most [`NOTE_DIRS`]).
    pub dirs: BTreeSet<String>,
    pub agg: Agg,
}

/// Folders kept per (host, program) for ransom notes: enough to tell
/// "everywhere" from "one file".
pub(crate) const NOTE_DIRS: usize = 16;

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

impl Observer {
    /// A new observer. `assets` may be `Assets::default()` (none given).
    pub fn new(assets: Arc<Assets>) -> Self {
        Observer {
            assets,
            silence_threshold_secs: 6 * 3600,
            events: 0,
            first: None,
            last: None,
            cov: HashMap::new(),
            raw: HashMap::new(),
            slots: Vec::new(),
            dets: Vec::new(),
            links: HashMap::new(),
            failed: HashMap::new(),
            addr_host: HashMap::new(),
            procs: ProcStore::default(),
            interesting: Vec::new(),
            services: Vec::new(),
            tasks: Vec::new(),
            files: Vec::new(),
            dns: HashMap::new(),
            accounts: HashMap::new(),
            kdc: HashMap::new(),
            gateways: HashMap::new(),
            cleared: Vec::new(),
            shares: HashMap::new(),
            transfers: HashMap::new(),
            vpn: Vec::new(),
            remote_exec: Vec::new(),
            orphans: Vec::new(),
            behaviours: Vec::new(),
            conns: HashMap::new(),
            auth_ok: HashMap::new(),
            tgs: HashMap::new(),
            notes: HashMap::new(),
            run: RunInfo::default(),
            proc_events: 0,
        }
    }

    /// Tells the analysis what the run knew: the rules compiled, the input
    /// not fully read. Without it the verdict cannot say which rules ran.
    pub fn with_run_info(mut self, run: RunInfo) -> Self {
        self.run = run;
        self
    }

    /// [`Observer::with_run_info`] on a borrowed observer.
    pub fn set_run_info(&mut self, run: RunInfo) {
        self.run = run;
    }

    /// Sets the gap length above which a silence in a log is reported
    /// (default 6 hours). All merged observers must use the same value.
    pub fn with_silence_threshold(mut self, secs: u64) -> Self {
        self.silence_threshold_secs = secs.max(60);
        self
    }

    /// The account accumulator, allocating its key only the first time.
    fn account(&mut self, name: &str) -> &mut AccountAcc {
        if !self.accounts.contains_key(name) {
            self.accounts
                .insert(name.to_string(), AccountAcc::default());
        }
        self.accounts.get_mut(name).expect("inserted above")
    }

    fn addr_is_host(&mut self, addr: &str, host: &str) {
        let m = match self.addr_host.get_mut(addr) {
            Some(m) => m,
            None => self.addr_host.entry(addr.to_string()).or_default(),
        };
        match m.get_mut(host) {
            Some(n) => *n += 1,
            None => {
                m.insert(host.to_string(), 1);
            }
        }
    }

    /// Number of events observed.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Observes one event and the detections it raised. Called for every
    /// event: uninteresting ones cost a coverage update and one `match`.
    pub fn observe(&mut self, e: &Event, matches: &[Match]) {
        self.events += 1;
        self.first = min_t(self.first, e.timestamp);
        self.last = max_t(self.last, e.timestamp);
        let (host, named) = self.touch_coverage(e);
        let ch = e.channel.as_deref().unwrap_or("");
        match e.event_id {
            Some(id) => self.windows(e, id, ch, &host),
            None => self.other(e, &host),
        }
        if matches.iter().any(|m| m.generate) {
            self.detections(e, matches, &host, named);
        }
    }

    /// Adds detections raised later on an event already observed (a
    /// retro-hunt with indicators that arrived after it): its signals
    /// are taken, the event is not counted again.
    pub fn observe_late(&mut self, e: &Event, matches: &[Match]) {
        if !matches.iter().any(|m| m.generate) {
            return;
        }
        let named = host_key(e.computer.as_deref().unwrap_or(""));
        let host: Arc<str> = Arc::from(named.as_deref().unwrap_or("UNKNOWN"));
        self.detections(e, matches, &host, named.is_some());
    }

    /// Updates coverage; returns the host key of the event.
    fn touch_coverage(&mut self, e: &Event) -> (Arc<str>, bool) {
        let comp = e.computer.as_deref().unwrap_or("");
        let chan = e.channel.as_deref().unwrap_or("");
        let idx = match self.raw.get(comp).and_then(|m| m.get(chan)) {
            Some(&i) => i,
            None => {
                let named = host_key(comp);
                let host = named.as_deref().unwrap_or("UNKNOWN");
                let channel = if chan.is_empty() { "(none)" } else { chan }.to_string();
                let mut acc = CovAcc::default();
                if comp.contains('.') && comp.parse::<std::net::IpAddr>().is_err() {
                    acc.fqdns.insert(comp.to_ascii_lowercase());
                }
                self.slots.push(CovSlot {
                    host: Arc::from(host),
                    named: named.is_some(),
                    channel,
                    acc,
                });
                let i = self.slots.len() - 1;
                self.raw
                    .entry(comp.into())
                    .or_default()
                    .insert(chan.into(), i);
                i
            }
        };
        let slot = &mut self.slots[idx];
        slot.acc.add(e.timestamp, e.record_id);
        (slot.host.clone(), slot.named)
    }

    /// Folds the per-raw-name slots into `cov` (keyed by canonical host).
    pub(crate) fn settle(&mut self) {
        self.raw.clear();
        for slot in self.slots.drain(..) {
            self.cov
                .entry((slot.host.to_string(), slot.channel))
                .or_default()
                .merge(slot.acc);
        }
    }

    fn windows(&mut self, e: &Event, id: u32, ch: &str, host: &Arc<str>) {
        if ch.eq_ignore_ascii_case("Security") {
            match id {
                4624 => self.logon(e, host),
                4625 => self.failed_logon(e, host),
                4648 => self.explicit_creds(e, host),
                4672 => {
                    if let Some((n, d)) =
                        user_with_domain(e, "SubjectUserName", "SubjectDomainName")
                    {
                        let ev = evidence(e, enc("priv", &[&n, host]));
                        let a = self.accounts.entry(n).or_default();
                        a.seen(e.timestamp, d);
                        push_top(&mut a.privileged, ev);
                    }
                }
                4688 => self.process(e, host, false),
                4697 => self.service(
                    e,
                    host,
                    s(e, "ServiceName"),
                    s(e, "ServiceFileName"),
                    s(e, "ServiceAccount"),
                ),
                4698 | 4702 => self.task(e, host, id),
                4720 => {
                    if let Some((n, d)) = user_with_domain(e, "TargetUserName", "TargetDomainName")
                    {
                        let by_raw = s(e, "SubjectUserName").unwrap_or("?");
                        let by = user(Some(by_raw)).map(|u| u.0);
                        let ev = evidence(
                            e,
                            enc("created", &[&n, by.as_deref().unwrap_or(by_raw), host]),
                        );
                        let a = self.accounts.entry(n).or_default();
                        a.seen(e.timestamp, d);
                        push_top(&mut a.created, ev);
                        if let Some(b) = by {
                            a.created_by.insert(b);
                        }
                    }
                }
                4728 | 4732 | 4756 => {
                    let member = s(e, "MemberName")
                        .and_then(|dn| {
                            dn.split(',')
                                .next()
                                .and_then(|cn| {
                                    cn.trim()
                                        .strip_prefix("CN=")
                                        .or(cn.trim().strip_prefix("cn="))
                                })
                                .map(|c| c.to_string())
                        })
                        .or_else(|| s(e, "MemberSid").map(str::to_string));
                    if let (Some(m), Some(g)) =
                        (member.and_then(|m| user(Some(&m))), s(e, "TargetUserName"))
                    {
                        let ev = evidence(e, enc("group", &[&id.to_string(), &m.0, g, host]));
                        let a = self.accounts.entry(m.0).or_default();
                        a.seen(e.timestamp, None);
                        push_top(a.groups.entry(g.to_string()).or_default(), ev);
                    }
                }
                4768 | 4769 => {
                    let kdc = self.kdc.entry(host.to_string()).or_default();
                    let keep = may_be_top(&kdc.evidence, e);
                    kdc.add(
                        e.timestamp,
                        keep.then(|| evidence(e, enc("kdc", &[&id.to_string(), host]))),
                    );
                    self.kerberos(e, host, id);
                }
                4771 | 4776 => self.auth_validation(e, host, id),
                5140 | 5145 => self.share(e, host, id),
                1102 => {
                    // Some collectors keep only the rendered message of
                    // 1102 (its UserData is not flattened): the account is
                    // then read from "Account Name:" there.
                    let acc = user(s(e, "SubjectUserName"))
                        .or_else(|| {
                            user(s(e, "Message").and_then(|m| message_field(m, "Account Name:")))
                        })
                        .map(|u| u.0);
                    self.cleared_log(e, host, "Security".into(), acc);
                }
                _ => {}
            }
        } else if ch == SYSMON || ch.eq_ignore_ascii_case(SYSMON) {
            match id {
                1 => self.process(e, host, true),
                3 => self.connection(e, host),
                11 => self.file_created(e, host),
                19 | 21 => {
                    // A WMI event subscription created for an account: a
                    // remote WMI execution when a network logon of that
                    // account comes with it (paired at the end).
                    let op = s(e, "Operation").unwrap_or("Created");
                    if let (true, Some((n, _))) =
                        (op.eq_ignore_ascii_case("created"), user(s(e, "User")))
                    {
                        let name = s(e, "Name").or(s(e, "Consumer")).unwrap_or("?");
                        let ev = evidence(e, enc("wmisub", &[&id.to_string(), name, &n, host]));
                        self.remote_exec.push(RemoteExec {
                            host: host.to_string(),
                            time: e.timestamp,
                            user: Some(n),
                            method: LinkMethod::Wmi,
                            evidence: ev,
                        });
                    }
                }
                22 => {
                    if let Some(q) = s(e, "QueryName") {
                        let d = self
                            .dns
                            .entry(q.trim_end_matches('.').to_ascii_lowercase())
                            .or_default();
                        d.hosts.insert(host.to_string());
                        if let Some(i) = s(e, "Image") {
                            d.images.insert(basename(i));
                        }
                        let ev = evidence(e, enc("dns", &[q, host]));
                        d.agg.add(e.timestamp, Some(ev));
                    }
                }
                _ => {}
            }
        } else if ch.eq_ignore_ascii_case("System") {
            match id {
                7045 => self.service(
                    e,
                    host,
                    s(e, "ServiceName"),
                    s(e, "ImagePath"),
                    s(e, "AccountName"),
                ),
                104 => {
                    // The cleared channel is a `Channel` field in UserData,
                    // distinct from the envelope's `Channel` (= System).
                    let env = e.channel.as_deref();
                    let cleared = e
                        .fields
                        .iter()
                        .filter(|(k, _)| &**k == "Channel")
                        .filter_map(|(_, v)| v.as_str())
                        .find(|v| Some(*v) != env)
                        .unwrap_or("unknown log")
                        .to_string();
                    let acc = user(s(e, "SubjectUserName")).map(|u| u.0);
                    self.cleared_log(e, host, cleared, acc);
                }
                _ => {}
            }
        } else if id == 1149 && ch.contains("TerminalServices-RemoteConnectionManager") {
            let who = match (s(e, "Param2"), s(e, "Param1")) {
                (Some(d), Some(u)) => Some(format!("{d}\\{u}")),
                (None, Some(u)) => Some(u.to_string()),
                _ => None,
            };
            let addr = s(e, "Param3").and_then(address_key);
            self.rdp(e, host, who.as_deref(), addr, "1149");
        } else if matches!(id, 21 | 22 | 25) && ch.contains("TerminalServices-LocalSessionManager")
        {
            let addr = s(e, "Address").and_then(address_key);
            self.rdp(e, host, s(e, "User"), addr, &id.to_string());
        }
    }

    fn logon(&mut self, e: &Event, host: &str) {
        let lt = e.get("LogonType").and_then(Value::as_i64).unwrap_or(0);
        // A computer account logging on from an address names the host
        // behind that address (`WEC$` from 172.18.38.6 is WEC).
        if let (Some(m), Some(ad)) = (
            s(e, "TargetUserName").filter(|n| n.ends_with('$')),
            s(e, "IpAddress").and_then(address_key),
        ) {
            if !is_local_addr(&ad) {
                if let Some(h) = host_key(m).filter(|h| h.parse::<std::net::IpAddr>().is_err()) {
                    self.addr_is_host(&ad, &h);
                }
            }
        }
        let Some((name, dom)) = user_with_domain(e, "TargetUserName", "TargetDomainName") else {
            return;
        };
        let addr = s(e, "IpAddress").and_then(address_key);
        let ws = s(e, "WorkstationName").and_then(host_key);
        if lt == 3 || lt == 10 {
            for src in [addr.as_deref().filter(|a| !is_local_addr(a)), ws.as_deref()]
                .into_iter()
                .flatten()
            {
                self.auth_ok(e, src, &name, host);
            }
        }
        {
            let a = self.account(&name);
            a.seen(e.timestamp, dom);
            if !a.hosts.contains(host) {
                a.hosts.insert(host.to_string());
            }
            if let Some(ad) = &addr {
                if !a.addresses.contains(ad) {
                    a.addresses.insert(ad.clone());
                }
            }
        }
        if let (Some(ad), Some(w)) = (&addr, &ws) {
            if !is_local_addr(ad) && w.parse::<std::net::IpAddr>().is_err() {
                self.addr_is_host(ad, w);
            }
        }
        let method = match lt {
            10 => LinkMethod::Rdp,
            3 => LinkMethod::LogonType3,
            _ => return,
        };
        if addr.as_deref().is_some_and(is_local_addr) {
            return;
        }
        let Some(from) = ws.as_deref().or(addr.as_deref()) else {
            return;
        };
        if from == host {
            return;
        }
        let summary = || {
            enc(
                "logon",
                &[
                    &lt.to_string(),
                    host,
                    &name,
                    addr.as_deref().unwrap_or("?"),
                    ws.as_deref().unwrap_or(""),
                ],
            )
        };
        self.link(
            e,
            from,
            host,
            Some(&name),
            method,
            addr.as_deref(),
            &summary,
        );
    }

    fn failed_logon(&mut self, e: &Event, host: &str) {
        let addr = s(e, "IpAddress")
            .and_then(address_key)
            .filter(|a| !is_local_addr(a))
            .or_else(|| s(e, "WorkstationName").and_then(host_key))
            .unwrap_or_else(|| "-".into());
        self.auth_failure(e, host, 4625, addr);
    }

    /// A failed authentication (4625 logon, 4771 Kerberos pre-auth, 4776
    /// NTLM validation) of `TargetUserName` from `src` (address or host).
    fn auth_failure(&mut self, e: &Event, host: &str, id: u32, src: String) {
        let name = account_key(s(e, "TargetUserName").unwrap_or("-"))
            .map(|a| a.0)
            .unwrap_or_else(|| "-".into());
        if name.ends_with('$') {
            return;
        }
        let agg = self
            .failed
            .entry((src, name, host.to_string()))
            .or_default();
        let keep = may_be_top(&agg.evidence, e);
        let ev = keep.then(|| {
            evidence(
                e,
                enc(
                    "authfail",
                    &[
                        &id.to_string(),
                        host,
                        s(e, "TargetUserName").unwrap_or("-"),
                        s(e, "IpAddress")
                            .or(s(e, "Workstation"))
                            .or(s(e, "WorkstationName"))
                            .unwrap_or("?"),
                    ],
                ),
            )
        });
        agg.add(e.timestamp, ev);
    }

    /// A successful authentication of `account` from `src`: whether a
    /// password spray or brute force succeeded.
    fn auth_ok(&mut self, e: &Event, src: &str, account: &str, host: &str) {
        let key = (src.to_string(), account.to_string());
        let agg = self.auth_ok.entry(key).or_default();
        let keep = may_be_top(&agg.evidence, e);
        let id = e.event_id.unwrap_or(0).to_string();
        agg.add(
            e.timestamp,
            keep.then(|| evidence(e, enc("authok", &[&id, host, account, src]))),
        );
    }

    /// 4771 (Kerberos pre-authentication) and 4776 (NTLM validation) on a
    /// domain controller: failures feed spray detection, successes its
    /// outcome.
    fn auth_validation(&mut self, e: &Event, host: &str, id: u32) {
        let status = s(e, "Status")
            .or(s(e, "FailureCode"))
            .unwrap_or("0x0")
            .to_ascii_lowercase();
        let ok = status == "0x0" || status == "0";
        let src = if id == 4771 {
            s(e, "IpAddress")
                .and_then(address_key)
                .filter(|a| !is_local_addr(a))
        } else {
            s(e, "Workstation").and_then(host_key)
        };
        let Some(src) = src else { return };
        if ok {
            if let Some((n, _)) = user(s(e, "TargetUserName")) {
                self.auth_ok(e, &src, &n, host);
            }
        } else {
            self.auth_failure(e, host, id, src);
        }
    }

    /// 4768/4769 on a domain controller: TGT successes (spray outcome) and
    /// RC4 service tickets for user accounts (Kerberoasting).
    fn kerberos(&mut self, e: &Event, host: &str, id: u32) {
        let status = s(e, "Status").unwrap_or("0x0").to_ascii_lowercase();
        if status != "0x0" && status != "0" {
            return;
        }
        let addr = s(e, "IpAddress")
            .and_then(address_key)
            .filter(|a| !is_local_addr(a));
        if id == 4768 {
            if let (Some(a), Some((n, _))) = (&addr, user(s(e, "TargetUserName"))) {
                self.auth_ok(e, a, &n, host);
            }
            return;
        }
        let enc_type = s(e, "TicketEncryptionType")
            .unwrap_or("")
            .to_ascii_lowercase();
        let rc4 = matches!(enc_type.as_str(), "0x17" | "0x18" | "23" | "24");
        if !rc4 {
            return;
        }
        let Some((svc, _)) = user(s(e, "ServiceName")) else {
            return;
        };
        if svc == "krbtgt" || svc.ends_with('$') {
            return;
        }
        let Some((req, _)) = user(s(e, "TargetUserName")) else {
            return;
        };
        if req == svc {
            return;
        }
        let agg = self.tgs.entry((req.clone(), svc.clone())).or_default();
        let keep = may_be_top(&agg.evidence, e);
        let a = addr.clone().unwrap_or_else(|| "?".into());
        agg.add(
            e.timestamp,
            keep.then(|| evidence(e, enc("tgs", &["RC4", &svc, &req, &a, host]))),
        );
        if let Some(a) = addr {
            agg.tags.insert(a);
        }
        agg.tags.insert(format!("@{host}"));
    }

    fn explicit_creds(&mut self, e: &Event, host: &str) {
        let Some((name, dom)) = user_with_domain(e, "TargetUserName", "TargetDomainName") else {
            return;
        };
        let target = s(e, "TargetServerName").and_then(host_key);
        let addr = s(e, "IpAddress").and_then(address_key);
        self.account(&name).seen(e.timestamp, dom);
        let Some(to) = target.or_else(|| addr.clone().filter(|a| !is_local_addr(a))) else {
            return;
        };
        if to == host
            || to
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
        {
            return;
        }
        let by = s(e, "SubjectUserName").unwrap_or("?");
        let summary = || enc("explicit", &[by, host, &name, &to]);
        // 4648 is logged on the source host: the source address is ours.
        self.link(
            e,
            host,
            &to,
            Some(&name),
            LinkMethod::ExplicitCreds,
            None,
            &summary,
        );
    }

    fn rdp(&mut self, e: &Event, host: &str, who: Option<&str>, addr: Option<String>, what: &str) {
        let acct = user(who);
        if let Some((n, d)) = &acct {
            let a = self.account(n);
            a.seen(e.timestamp, d.clone());
            if !a.hosts.contains(host) {
                a.hosts.insert(host.to_string());
            }
            if let Some(ad) = &addr {
                if !a.addresses.contains(ad) {
                    a.addresses.insert(ad.clone());
                }
            }
        }
        let Some(ad) = addr.filter(|a| !is_local_addr(a)) else {
            return;
        };
        let name = acct.map(|a| a.0);
        let summary = || enc("rdp", &[what, host, name.as_deref().unwrap_or("?"), &ad]);
        self.link(
            e,
            &ad,
            host,
            name.as_deref(),
            LinkMethod::Rdp,
            Some(&ad),
            &summary,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn link(
        &mut self,
        e: &Event,
        from: &str,
        to: &str,
        account: Option<&str>,
        method: LinkMethod,
        addr: Option<&str>,
        summary: &dyn Fn() -> String,
    ) {
        let acc = self
            .links
            .entry(LinkKey {
                from: from.to_string(),
                to: to.to_string(),
                account: account.map(str::to_string),
                method,
            })
            .or_default();
        acc.count += 1;
        acc.first = min_t(acc.first, e.timestamp);
        acc.last = max_t(acc.last, e.timestamp);
        if let Some(a) = addr {
            if !acc.from_address.contains(a) {
                acc.from_address.insert(a.to_string());
            }
        }
        if let Some(t) = e.timestamp {
            let m = minute(t);
            if acc.minutes.last() != Some(&m) {
                acc.minutes.push(m);
            }
        }
        if may_be_top(&acc.evidence, e) {
            push_top(&mut acc.evidence, evidence(e, summary()));
        }
    }

    fn share(&mut self, e: &Event, host: &str, id: u32) {
        let Some(share_raw) = s(e, "ShareName") else {
            return;
        };
        // Compared case-insensitively in place: one share event in ten of
        // a domain's logs, no copy needed unless it is kept.
        let share = share_raw.rsplit('\\').next().unwrap_or(share_raw);
        let is = |name: &str| share.eq_ignore_ascii_case(name);
        let addr = s(e, "IpAddress").and_then(address_key);
        let target = s(e, "RelativeTargetName").unwrap_or("");
        let tb = basename(target);
        // A computer account accessing a share from an address names the
        // host behind it.
        if let (Some(m), Some(ad)) = (s(e, "SubjectUserName").filter(|n| n.ends_with('$')), &addr) {
            if !is_local_addr(ad) {
                if let Some(h) = host_key(m).filter(|h| h.parse::<std::net::IpAddr>().is_err()) {
                    self.addr_is_host(ad, &h);
                }
            }
        }
        let Some((name, dom)) = user_with_domain(e, "SubjectUserName", "SubjectDomainName") else {
            return;
        };
        let admin_share = is("ADMIN$") || (share.len() == 2 && share.ends_with('$'));
        let method = if admin_share {
            // PsExec and clones copy their service binary to ADMIN$'s root.
            let exe_in_root = is("ADMIN$") && !target.contains('\\') && tb.ends_with(".exe");
            if is_psexec_name(&tb) || exe_in_root {
                Some(LinkMethod::Psexec)
            } else {
                Some(LinkMethod::SmbAdminShare)
            }
        } else if is("IPC$") {
            if is_psexec_name(&tb) || is_psexec_pipe(&tb) {
                Some(LinkMethod::Psexec)
            } else if tb == "svcctl" {
                Some(LinkMethod::RemoteService)
            } else if tb == "atsvc" {
                Some(LinkMethod::RemoteTask)
            } else {
                return;
            }
        } else {
            None
        };
        self.account(&name).seen(e.timestamp, dom);
        match method {
            Some(m) => {
                let Some(ad) = addr.filter(|a| !is_local_addr(a)) else {
                    return;
                };
                let summary = || enc("share", &[&id.to_string(), &name, &ad, host, share, target]);
                self.link(e, &ad, host, Some(&name), m, Some(&ad), &summary);
            }
            None => {
                let summary = || {
                    enc(
                        "share",
                        &[
                            &id.to_string(),
                            &name,
                            addr.as_deref().unwrap_or("?"),
                            host,
                            share,
                            target,
                        ],
                    )
                };
                let agg = self
                    .shares
                    .entry((host.to_string(), share.to_string(), name.clone()))
                    .or_default();
                // The evidence is built only if it can be among the kept
                // earliest (a busy share is accessed thousands of times).
                let keep = may_be_top(&agg.evidence, e);
                agg.add(e.timestamp, keep.then(|| evidence(e, summary())));
                if let Some(a) = addr {
                    agg.tags.insert(a);
                }
            }
        }
    }

    fn cleared_log(&mut self, e: &Event, host: &str, cleared: String, account: Option<String>) {
        let summary = enc(
            "cleared",
            &[
                &e.event_id.unwrap_or(0).to_string(),
                &cleared,
                host,
                account.as_deref().unwrap_or("?"),
            ],
        );
        self.cleared.push(ClearedRaw {
            host: host.to_string(),
            channel: e.channel.as_deref().unwrap_or("").to_string(),
            cleared_channel: cleared,
            time: e.timestamp,
            account,
            evidence: evidence(e, summary),
        });
    }

    fn process(&mut self, e: &Event, host: &str, sysmon: bool) {
        let (image, cmd, parent_img, key, parent_key, pid, user_f) = if sysmon {
            (
                s(e, "Image"),
                s(e, "CommandLine"),
                s(e, "ParentImage"),
                s(e, "ProcessGuid").map(guid_key),
                s(e, "ParentProcessGuid").map(guid_key),
                text(e, "ProcessId"),
                s(e, "User").map(std::borrow::Cow::Borrowed),
            )
        } else {
            (
                s(e, "NewProcessName"),
                s(e, "CommandLine"),
                s(e, "ParentProcessName"),
                e.get("NewProcessId").and_then(Value::as_i64).map(pid_key),
                e.get("ProcessId").and_then(Value::as_i64).map(pid_key),
                e.get("NewProcessId")
                    .and_then(Value::as_i64)
                    .map(|p| p.to_string()),
                s(e, "TargetUserName")
                    .filter(|u| *u != "-")
                    .or(s(e, "SubjectUserName"))
                    .map(|u| match s(e, "SubjectDomainName") {
                        Some(d) => std::borrow::Cow::Owned(format!("{d}\\{u}")),
                        None => std::borrow::Cow::Borrowed(u),
                    }),
            )
        };
        let Some(image) = image else {
            return;
        };
        self.proc_events += 1;
        let hid = self.procs.intern(host);
        let parent_logged = parent_img.is_some();
        // Old 4688 layouts have no ParentProcessName: take it from the
        // parent's own creation event when this observer saw it.
        let parent_img: Option<std::borrow::Cow<str>> = match parent_img {
            Some(p) => Some(std::borrow::Cow::Borrowed(p)),
            None => parent_key
                .and_then(|pk| self.procs.lookup(hid, pk, e.timestamp))
                .map(|n| std::borrow::Cow::Owned(self.procs.name(n.image).to_string())),
        };
        let parent_img = parent_img.as_deref();
        if let Some(k) = key {
            let image_id = self.procs.intern(image);
            let parent_image = parent_img.map(|p| self.procs.intern(p));
            self.procs.insert(
                hid,
                k,
                ProcNode {
                    time: e.timestamp,
                    image: image_id,
                    parent: parent_key,
                    parent_image,
                },
            );
        }
        let b = basename(image);
        let pb = parent_img.map(basename).unwrap_or_default();
        let acct = user(user_f.as_deref());
        if let Some((n, d)) = &acct {
            let a = self.account(n);
            a.seen(e.timestamp, d.clone());
            if !a.hosts.contains(host) {
                a.hosts.insert(host.to_string());
            }
        }
        // Only a parent image the event logged says "remote" here. One
        // looked up in this observer's process creations would depend on
        // which creations this observer was given (the parent's may be in
        // another worker's batch, or not read yet): those are decided at
        // the end, on all creations ([`Orphan`]).
        let remote = if parent_logged {
            remote_method(&pb)
        } else {
            if let Some(pk) = parent_key {
                self.orphans.push(Orphan {
                    host: host.to_string(),
                    parent_key: pk,
                    image: b.clone(),
                    user: acct.as_ref().map(|a| a.0.clone()),
                    evidence: evidence(e, String::new()),
                });
            }
            None
        };
        if let Some(m) = remote {
            self.remote_exec.push(RemoteExec {
                host: host.to_string(),
                time: e.timestamp,
                user: acct.as_ref().map(|a| a.0.clone()),
                method: m,
                evidence: evidence(e, remote_summary(&b, &pb, m, host)),
            });
        }
        // The host process of a remote session itself, started for the
        // remote account: WinRM (wsmprovhost) and DCOM (an Office
        // application or MMC started with `-Embedding`).
        if let Some((m, n)) = session_host(&b, cmd.unwrap_or("")).zip(acct.as_ref()) {
            let parent = if pb.is_empty() {
                "svchost.exe"
            } else {
                pb.as_str()
            };
            self.remote_exec.push(RemoteExec {
                host: host.to_string(),
                time: e.timestamp,
                user: Some(n.0.clone()),
                method: m,
                evidence: evidence(e, remote_summary(&b, parent, m, host)),
            });
        }
        if let Some(kind) = behaviour(&b, cmd.unwrap_or("")) {
            let summary = enc("behaviour", &[kind.code(), host, cmd.unwrap_or(image)]);
            self.behaviours.push(Behaviour {
                host: host.to_string(),
                kind,
                user: acct.as_ref().map(|a| a.0.clone()),
                evidence: evidence(e, summary),
            });
        }
        let original = s(e, "OriginalFileName").map(|o| o.to_ascii_lowercase());
        let tool = crate::exposure::tool_kind(&b, original.as_deref(), cmd.unwrap_or(""));
        if tool.is_some() {
            self.interesting.push(ProcRaw {
                host: host.to_string(),
                time: e.timestamp,
                pid,
                image: image.to_string(),
                original,
                cmdline: cmd.map(str::to_string),
                user: acct.map(|a| a.0),
                parent_key,
                parent_image: parent_img.map(str::to_string),
                parent_cmdline: s(e, "ParentCommandLine").map(str::to_string),
                rules: Vec::new(),
                evidence: evidence(e, enc("proc", &[&b, host, cmd.unwrap_or(image)])),
            });
        }
    }

    /// Sysmon 11: files whose names ransomware gives its notes, counted
    /// per folder for the program that wrote them.
    fn file_created(&mut self, e: &Event, host: &str) {
        let Some(path) = s(e, "TargetFilename") else {
            return;
        };
        let name = basename(path);
        if !ransom_note_name(&name) {
            return;
        }
        let image = s(e, "Image").map(basename).unwrap_or_default();
        let dir = path
            .rsplit_once(['\\', '/'])
            .map(|(d, _)| d.to_ascii_lowercase())
            .unwrap_or_default();
        let n = self
            .notes
            .entry((host.to_string(), image.clone()))
            .or_default();
        if n.dirs.len() < NOTE_DIRS || n.dirs.last().is_some_and(|l| dir < *l) {
            n.dirs.insert(dir);
            while n.dirs.len() > NOTE_DIRS {
                n.dirs.pop_last();
            }
        }
        let keep = may_be_top(&n.agg.evidence, e);
        n.agg.add(
            e.timestamp,
            keep.then(|| evidence(e, enc("note", &[path, &image, host]))),
        );
    }

    fn connection(&mut self, e: &Event, host: &Arc<str>) {
        let Some(dst) = s(e, "DestinationIp").and_then(|d| {
            d.trim_start_matches("::ffff:")
                .parse::<std::net::IpAddr>()
                .ok()
        }) else {
            return;
        };
        let initiated = match e.get("Initiated") {
            Some(Value::Bool(b)) => *b,
            Some(v) => v.to_text().eq_ignore_ascii_case("true"),
            None => true,
        };
        if let Some(src) = s(e, "SourceIp").and_then(address_key) {
            if !is_local_addr(&src) && initiated {
                self.addr_is_host(&src, host);
            }
        }
        if !initiated || dst.is_loopback() || dst.is_unspecified() {
            return;
        }
        let port = e
            .get("DestinationPort")
            .and_then(Value::as_i64)
            .unwrap_or(0) as u16;
        let agg = self.conns.entry((host.clone(), dst, port)).or_default();
        if may_be_top(&agg.evidence, e) {
            let img = s(e, "Image").map(basename).unwrap_or_default();
            let summary = enc("conn", &[&img, host, &dst.to_string(), &port.to_string()]);
            agg.add(e.timestamp, Some(evidence(e, summary)));
        } else {
            agg.add(e.timestamp, None);
        }
        if let Some(h) = s(e, "DestinationHostname") {
            agg.tags.insert(h.to_ascii_lowercase());
        }
    }

    fn service(
        &mut self,
        e: &Event,
        host: &str,
        name: Option<&str>,
        image: Option<&str>,
        acct: Option<&str>,
    ) {
        let Some(name) = name else {
            return;
        };
        let summary = enc(
            "svc",
            &[
                &e.event_id.unwrap_or(0).to_string(),
                name,
                host,
                image.unwrap_or("?"),
            ],
        );
        // 4697 names who installed it (for a remote installation, the
        // remote account); 7045 does not.
        let creator = if e.event_id == Some(4697) {
            user(s(e, "SubjectUserName")).map(|u| u.0)
        } else {
            None
        };
        self.services.push(SvcRaw {
            host: host.to_string(),
            time: e.timestamp,
            name: name.to_string(),
            image: image.map(str::to_string),
            account: acct.map(str::to_string),
            creator,
            rules: Vec::new(),
            evidence: evidence(e, summary),
        });
    }

    fn task(&mut self, e: &Event, host: &str, id: u32) {
        let Some(name) = s(e, "TaskName") else {
            return;
        };
        let command = s(e, "TaskContent")
            .or(s(e, "TaskContentNew"))
            .and_then(task_command);
        let account = user(s(e, "SubjectUserName")).map(|u| u.0);
        let action = if id == 4698 { "created" } else { "updated" };
        let summary = enc("task", &[&id.to_string(), name, action, host]);
        self.tasks.push(TaskRaw {
            host: host.to_string(),
            time: e.timestamp,
            name: name.to_string(),
            command,
            account,
            action: action.to_string(),
            rules: Vec::new(),
            evidence: evidence(e, summary),
        });
    }

    /// Non-Windows events: firewall traffic and VPN logs (FortiGate keys).
    fn other(&mut self, e: &Event, host: &str) {
        let remip = s(e, "remip").and_then(address_key);
        let vpn_user = s(e, "user").or(s(e, "xauthuser"));
        if let (Some(_), Some(_)) = (&remip, vpn_user) {
            let action = s(e, "action").unwrap_or("").to_ascii_lowercase();
            let desc = s(e, "logdesc").unwrap_or("").to_ascii_lowercase();
            let failed = action.contains("fail") || desc.contains("fail");
            let success = !failed
                && (action == "tunnel-up"
                    || action.contains("success")
                    || desc.contains("tunnel up"));
            if failed || success {
                let u = vpn_user.and_then(|u| user(Some(u))).map(|u| u.0);
                let tunnel = s(e, "tunnelip").or(s(e, "assignip")).and_then(address_key);
                let summary = enc(
                    "vpn",
                    &[
                        if success { "1" } else { "0" },
                        host,
                        u.as_deref().unwrap_or("?"),
                        remip.as_deref().unwrap_or("?"),
                        tunnel.as_deref().unwrap_or(""),
                    ],
                );
                if let Some(n) = &u {
                    let a = self.accounts.entry(n.clone()).or_default();
                    a.seen(e.timestamp, None);
                    if let Some(r) = &remip {
                        a.addresses.insert(r.clone());
                    }
                }
                self.gateways
                    .entry(host.to_string())
                    .or_default()
                    .add(e.timestamp, None);
                self.vpn.push(VpnRaw {
                    time: e.timestamp,
                    user: u,
                    remote: remip,
                    tunnel,
                    success,
                    gateway: host.to_string(),
                    evidence: evidence(e, summary),
                });
            }
            return;
        }
        let sent = e.get("sentbyte").and_then(Value::as_i64);
        if let (Some(sent), Some(src), Some(dst)) = (
            sent,
            s(e, "srcip").and_then(address_key),
            s(e, "dstip").and_then(address_key),
        ) {
            self.gateways
                .entry(host.to_string())
                .or_default()
                .add(e.timestamp, None);
            let agg = self
                .transfers
                .entry((src.clone(), dst.clone()))
                .or_default();
            let summary = enc("sent", &[host, &src, &sent.to_string(), &dst]);
            agg.add(e.timestamp, Some(evidence(e, summary)));
            agg.sum += sent.max(0) as u64;
            if let Some(n) = s(e, "dstname").or(s(e, "hostname")) {
                agg.tags.insert(n.to_ascii_lowercase());
            }
        }
    }

    fn detections(&mut self, e: &Event, matches: &[Match], host: &Arc<str>, named: bool) {
        let mut accounts = BTreeSet::new();
        // In group-membership events TargetUserName is the group: the
        // account is the member (MemberName is a DN: CN=name,...).
        let group_event = matches!(e.event_id, Some(4727..=4737 | 4744..=4762 | 4798 | 4799));
        for f in [
            "User",
            "SubjectUserName",
            "TargetUserName",
            "AccountName",
            "SamAccountName",
            "user",
        ] {
            if group_event && f == "TargetUserName" {
                continue;
            }
            if let Some((n, _)) = user(s(e, f)) {
                accounts.insert(n);
            }
        }
        if group_event {
            let member = s(e, "MemberName")
                .and_then(|dn| dn.split(',').next())
                .and_then(|cn| {
                    cn.trim()
                        .strip_prefix("CN=")
                        .or(cn.trim().strip_prefix("cn="))
                });
            if let Some((n, _)) = user(member) {
                accounts.insert(n);
            }
        }
        if e.event_id == Some(4769) {
            if let Some((n, _)) = user(s(e, "ServiceName")) {
                if n != "krbtgt" {
                    accounts.insert(n);
                }
            }
        }
        if e.event_id == Some(1149) {
            if let Some((n, _)) = user(s(e, "Param1")) {
                accounts.insert(n);
            }
        }
        let mut addresses = BTreeSet::new();
        for f in [
            "IpAddress",
            "SourceIp",
            "srcip",
            "remip",
            "Param3",
            "Address",
        ] {
            if let Some(a) = s(e, f).and_then(address_key) {
                if !is_local_addr(&a) {
                    addresses.insert(a);
                }
            }
        }
        let accounts: Arc<[String]> = accounts.into_iter().collect();
        let addresses: Arc<[String]> = addresses.into_iter().collect();
        let mut titles = Vec::new();
        for m in matches.iter().filter(|m| m.generate) {
            titles.push(m.rule.title.clone());
            self.dets.push(Det {
                time: e.timestamp,
                host: host.clone(),
                rule: m.rule.clone(),
                accounts: accounts.clone(),
                addresses: addresses.clone(),
                source: e.origin.source.clone(),
                locator: e.origin.locator.clone(),
                event_id: e.event_id,
                named_host: named,
                summary: None,
                builtin: false,
            });
        }
        let host: &str = host;
        let ch = e.channel.as_deref().unwrap_or("");
        let sysmon = ch.eq_ignore_ascii_case(SYSMON);
        match e.event_id {
            Some(1) if sysmon => self.interesting_process(e, host, true, &titles),
            Some(4688) => self.interesting_process(e, host, false, &titles),
            Some(7045) | Some(4697) => {
                if let Some(last) = self.services.last_mut() {
                    if last.evidence.locator == e.origin.locator
                        && *last.evidence.source == *e.origin.source
                    {
                        last.rules.extend(titles.iter().cloned());
                    }
                }
            }
            Some(4698) | Some(4702) => {
                if let Some(last) = self.tasks.last_mut() {
                    if last.evidence.locator == e.origin.locator
                        && *last.evidence.source == *e.origin.source
                    {
                        last.rules.extend(titles.iter().cloned());
                    }
                }
            }
            Some(11) | Some(23) | Some(15) | Some(2) if sysmon => {
                if let Some(p) = s(e, "TargetFilename") {
                    self.files.push(FileRaw {
                        host: host.to_string(),
                        time: e.timestamp,
                        path: p.to_string(),
                        process: s(e, "Image").map(str::to_string),
                        rules: titles.clone(),
                        evidence: evidence(e, enc("file", &[p, host])),
                    });
                }
            }
            Some(22) if sysmon => {
                if let Some(q) = s(e, "QueryName") {
                    let d = self
                        .dns
                        .entry(q.trim_end_matches('.').to_ascii_lowercase())
                        .or_default();
                    d.rules.extend(titles.iter().cloned());
                }
            }
            Some(3) if sysmon => {
                if let Some(h) = s(e, "DestinationHostname") {
                    let d = self
                        .dns
                        .entry(h.trim_end_matches('.').to_ascii_lowercase())
                        .or_default();
                    d.hosts.insert(host.to_string());
                    d.rules.extend(titles.iter().cloned());
                    let ev = evidence(e, enc("connto", &[h, host]));
                    d.agg.add(e.timestamp, Some(ev));
                }
            }
            _ => {}
        }
    }

    fn interesting_process(&mut self, e: &Event, host: &str, sysmon: bool, titles: &[String]) {
        // Already recorded as a data-moving tool by `process`: add the rules.
        if let Some(last) = self.interesting.last_mut() {
            if last.evidence.locator == e.origin.locator
                && *last.evidence.source == *e.origin.source
            {
                last.rules.extend(titles.iter().cloned());
                return;
            }
        }
        let (image, parent_key, parent_img, user_f) = if sysmon {
            (
                s(e, "Image"),
                s(e, "ParentProcessGuid").map(guid_key),
                s(e, "ParentImage"),
                s(e, "User").map(str::to_string),
            )
        } else {
            (
                s(e, "NewProcessName"),
                e.get("ProcessId").and_then(Value::as_i64).map(pid_key),
                s(e, "ParentProcessName"),
                s(e, "SubjectUserName").map(str::to_string),
            )
        };
        let Some(image) = image else {
            return;
        };
        let cmd = s(e, "CommandLine");
        self.interesting.push(ProcRaw {
            host: host.to_string(),
            time: e.timestamp,
            pid: if sysmon {
                text(e, "ProcessId")
            } else {
                text(e, "NewProcessId")
            },
            image: image.to_string(),
            original: s(e, "OriginalFileName").map(|o| o.to_ascii_lowercase()),
            cmdline: cmd.map(str::to_string),
            user: user(user_f.as_deref()).map(|u| u.0),
            parent_key,
            parent_image: parent_img.map(str::to_string),
            parent_cmdline: s(e, "ParentCommandLine").map(str::to_string),
            rules: titles.to_vec(),
            evidence: evidence(
                e,
                enc("proc", &[&basename(image), host, cmd.unwrap_or(image)]),
            ),
        });
    }

    /// Combines another observer's facts into this one. The result does
    /// not depend on the order of merges.
    pub fn merge(&mut self, o: Observer) {
        // Merge the smaller into the larger: merging re-inserts every fact
        // of `o` (every process creation, every detection...), and in a
        // hunt the first merge is into an empty observer.
        let mut o = o;
        if o.events > self.events {
            std::mem::swap(self, &mut o);
            std::mem::swap(&mut self.assets, &mut o.assets);
            std::mem::swap(
                &mut self.silence_threshold_secs,
                &mut o.silence_threshold_secs,
            );
        }
        self.events += o.events;
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        o.settle();
        self.settle();
        for (k, v) in o.cov {
            self.cov.entry(k).or_default().merge(v);
        }
        self.dets.extend(o.dets);
        for (k, v) in o.links {
            self.links.entry(k).or_default().merge(v);
        }
        for (k, v) in o.failed {
            self.failed.entry(k).or_default().merge(v);
        }
        for (a, hosts) in o.addr_host {
            let m = self.addr_host.entry(a).or_default();
            for (h, n) in hosts {
                *m.entry(h).or_default() += n;
            }
        }
        self.procs.merge(o.procs);
        self.interesting.extend(o.interesting);
        self.services.extend(o.services);
        self.tasks.extend(o.tasks);
        self.files.extend(o.files);
        for (k, v) in o.dns {
            let d = self.dns.entry(k).or_default();
            d.hosts.extend(v.hosts);
            d.images.extend(v.images);
            d.rules.extend(v.rules);
            d.agg.merge(v.agg);
        }
        for (k, v) in o.accounts {
            self.accounts.entry(k).or_default().merge(v);
        }
        for (k, v) in o.kdc {
            self.kdc.entry(k).or_default().merge(v);
        }
        for (k, v) in o.gateways {
            self.gateways.entry(k).or_default().merge(v);
        }
        self.cleared.extend(o.cleared);
        for (k, v) in o.shares {
            self.shares.entry(k).or_default().merge(v);
        }
        for (k, v) in o.transfers {
            self.transfers.entry(k).or_default().merge(v);
        }
        self.vpn.extend(o.vpn);
        self.remote_exec.extend(o.remote_exec);
        self.orphans.extend(o.orphans);
        self.behaviours.extend(o.behaviours);
        for (k, v) in o.conns {
            self.conns.entry(k).or_default().merge(v);
        }
        for (k, v) in o.auth_ok {
            self.auth_ok.entry(k).or_default().merge(v);
        }
        for (k, v) in o.tgs {
            self.tgs.entry(k).or_default().merge(v);
        }
        for (k, v) in o.notes {
            let n = self.notes.entry(k).or_default();
            n.dirs.extend(v.dirs);
            while n.dirs.len() > NOTE_DIRS {
                n.dirs.pop_last();
            }
            n.agg.merge(v.agg);
        }
        if self.run == RunInfo::default() {
            self.run = o.run;
        }
        self.proc_events += o.proc_events;
    }
}

pub(crate) fn is_local_addr(a: &str) -> bool {
    a.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback() || ip.is_unspecified())
        .unwrap_or(false)
}

/// Behaviours that are malicious whatever the rule set says: the scope
/// must name a ransomware or a credential dump even when no rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BehaviourKind {
    /// Shadow copies, backup catalog or recovery deleted/disabled.
    InhibitRecovery,
    /// LSASS memory dumped.
    LsassDump,
}

impl BehaviourKind {
    /// Code of the behaviour in coded summaries ([`crate::say`]).
    pub fn code(self) -> &'static str {
        match self {
            BehaviourKind::InhibitRecovery => "inhibit_recovery",
            BehaviourKind::LsassDump => "lsass_dump",
        }
    }
}

/// The value of `label` in a rendered Windows message
/// ("Account Name:\twardog" → "wardog").
pub(crate) fn message_field<'a>(message: &'a str, label: &str) -> Option<&'a str> {
    let at = message.find(label)? + label.len();
    let v = message[at..].lines().next()?.trim();
    (!v.is_empty() && v != "-").then_some(v)
}

/// Names ransomware gives its notes: `README.txt`, `HOW_TO_DECRYPT.html`,
/// `restore-my-files.txt`, `LISEZ-MOI.txt`… (a text or HTML file whose
/// name speaks of decrypting, restoring or a ransom). A single such file
/// is ordinary; the analysis needs them in several folders.
pub(crate) fn ransom_note_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !matches!(ext, "txt" | "html" | "htm" | "hta" | "rtf") {
        return false;
    }
    let words = [
        "decrypt",
        "ransom",
        "restore",
        "recover",
        "how_to",
        "how-to",
        "howto",
        "readme",
        "read_me",
        "read-me",
        "lisez",
        "dechiffr",
        "déchiffr",
        "rancon",
        "rançon",
        "unlock",
        "your_files",
        "your-files",
        "vos_fichiers",
        "vos-fichiers",
    ];
    words.iter().any(|w| stem.contains(w))
}

/// The host process of a remote session, started for the remote account:
/// WinRM's `wsmprovhost.exe`, and DCOM's Office applications and MMC
/// started with `-Embedding` (MMC20.Application, Excel.Application…).
pub(crate) fn session_host(base: &str, cmd: &str) -> Option<LinkMethod> {
    match base {
        "wsmprovhost.exe" => Some(LinkMethod::Winrm),
        "mmc.exe" | "excel.exe" | "winword.exe" | "powerpnt.exe" | "outlook.exe"
        | "msaccess.exe" | "visio.exe" | "mspub.exe"
            if cmd.to_ascii_lowercase().contains("-embedding") =>
        {
            Some(LinkMethod::Dcom)
        }
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    pub host: String,
    /// Its time is the evidence's.
    pub kind: BehaviourKind,
    pub user: Option<String>,
    pub evidence: Evidence,
}

/// Recognises a behaviour from a process's image name and command line.
/// The image name filters first, so most processes cost one comparison.
pub(crate) fn behaviour(base: &str, cmd: &str) -> Option<BehaviourKind> {
    let interesting = matches!(
        base,
        "vssadmin.exe"
            | "wbadmin.exe"
            | "bcdedit.exe"
            | "wmic.exe"
            | "rundll32.exe"
            | "powershell.exe"
            | "pwsh.exe"
    ) || base.starts_with("procdump");
    if !interesting {
        return None;
    }
    let c = cmd.to_ascii_lowercase();
    let recovery = (base == "vssadmin.exe" && c.contains("delete") && c.contains("shadows"))
        || (base == "vssadmin.exe" && c.contains("resize") && c.contains("shadowstorage"))
        || (base == "wbadmin.exe"
            && c.contains("delete")
            && (c.contains("catalog") || c.contains("backup") || c.contains("systemstatebackup")))
        || (base == "bcdedit.exe"
            && (c.contains("recoveryenabled no") || c.contains("ignoreallfailures")))
        || (base == "wmic.exe" && c.contains("shadowcopy") && c.contains("delete"))
        || ((base == "powershell.exe" || base == "pwsh.exe")
            && c.contains("win32_shadowcopy")
            && (c.contains("delete") || c.contains("remove-")));
    if recovery {
        return Some(BehaviourKind::InhibitRecovery);
    }
    let lsass = (base == "rundll32.exe" && c.contains("comsvcs") && c.contains("minidump"))
        || (base.starts_with("procdump") && c.contains("lsass"));
    lsass.then_some(BehaviourKind::LsassDump)
}

/// Names PsExec and its clones give their service binary or pipes.
pub(crate) fn is_psexec_name(b: &str) -> bool {
    let b = b.to_ascii_lowercase();
    [
        "psexesvc",
        "remcomsvc",
        "remcom_",
        "paexec",
        "csexecsvc",
        "rexesvc",
        "psexec",
    ]
    .iter()
    .any(|p| b.contains(p))
}

/// PsExec-style redirection pipes, renamed or not:
/// `<service>-<HOST>-<pid>-stdin|stdout|stderr`.
pub(crate) fn is_psexec_pipe(b: &str) -> bool {
    let parts: Vec<&str> = b.split('-').collect();
    parts.len() >= 4
        && matches!(*parts.last().unwrap_or(&""), "stdin" | "stdout" | "stderr")
        && parts[parts.len() - 2].chars().all(|c| c.is_ascii_digit())
}

/// The command of a scheduled task's XML (`<Command>` + `<Arguments>`).
fn task_command(xml: &str) -> Option<String> {
    let grab = |tag: &str| -> Option<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = xml.find(&open)? + open.len();
        let end = xml[start..].find(&close)? + start;
        Some(xml[start..end].trim().to_string())
    };
    let cmd = grab("Command")?;
    let full = match grab("Arguments") {
        Some(a) if !a.is_empty() => format!("{cmd} {a}"),
        _ => cmd,
    };
    Some(
        full.replace("&gt;", ">")
            .replace("&lt;", "<")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}
