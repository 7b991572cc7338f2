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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use vigie_detect::{Match, RuleMeta};
use vigie_event::{Event, Locator, Timestamp, Value};

use crate::model::{Assets, Evidence, LinkMethod, RunInfo};
use crate::names::{account_key, address_key, basename, builtin_kind, host_key};
use crate::say::enc;

/// How many evidence items an aggregate keeps (the earliest ones).
pub(crate) const TOP_EVIDENCE: usize = 10;

/// How many evidence items an outbound connection aggregate keeps (the
/// earliest): what the zones' reach shows of each (`analysis::zones`),
/// the one reader of connections. `vigie serve` holds one aggregate per
/// host, destination and port for as long as it runs (6,520 in the
/// demo's week): ten items each were most of its live scope.
pub(crate) const CONN_EVIDENCE: usize = 3;

/// Total order on evidence (time, source, locator, summary) so that
/// "the K earliest" is the same whatever the order events arrived in.
pub(crate) fn ev_key(e: &Evidence) -> (Option<Timestamp>, &str, u8, u64, &str) {
    let (k, n) = loc_key(&e.locator);
    (e.time, &e.source, k, n, &e.summary)
}

/// Inserts `e` keeping the `TOP_EVIDENCE` earliest, sorted, no duplicates.
pub(crate) fn push_top(v: &mut Vec<Evidence>, e: Evidence) {
    push_top_n(v, e, TOP_EVIDENCE);
}

/// [`push_top`] keeping the `n` earliest.
pub(crate) fn push_top_n(v: &mut Vec<Evidence>, e: Evidence, n: usize) {
    let pos = v.binary_search_by(|x| ev_key(x).cmp(&ev_key(&e)));
    if let Err(p) = pos {
        if p < n {
            insert_top(v, p, e, n);
        }
    }
}

/// Inserts at `p` (< `n`) in a list of at most `n`, the last dropped
/// when full, growing the list by one place at a time.
///
/// Why not `Vec::insert`'s doubling: the list is at most `n` long and
/// most aggregates keep one or two items, but doubling gives four places
/// to the first and sixteen to the tenth; `vigie serve` holds thousands
/// of aggregates (one per host, destination and port) for as long as it
/// runs, and their unused places were most of the live scope's memory.
fn insert_top(v: &mut Vec<Evidence>, p: usize, e: Evidence, n: usize) {
    if v.len() >= n {
        v.truncate(n.saturating_sub(1));
    }
    if v.len() == v.capacity() {
        v.reserve_exact(1);
    }
    v.insert(p.min(v.len()), e);
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
    may_be_top_n(v, e, TOP_EVIDENCE)
}

/// [`may_be_top`] among the `n` earliest.
pub(crate) fn may_be_top_n(v: &[Evidence], e: &Event, n: usize) -> bool {
    v.len() < n
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
            insert_top(v, p, e.clone(), TOP_EVIDENCE);
        }
    }
}

pub(crate) fn merge_top(a: &mut Vec<Evidence>, b: Vec<Evidence>) {
    merge_top_n(a, b, TOP_EVIDENCE);
}

/// [`merge_top`] keeping the `n` earliest.
pub(crate) fn merge_top_n(a: &mut Vec<Evidence>, b: Vec<Evidence>, n: usize) {
    for e in b {
        push_top_n(a, e, n);
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

mod behaviour;
mod detections;
mod facts;
mod horizon;
mod logons;
mod procs;
mod windows;

pub(crate) use behaviour::*;
pub(crate) use facts::*;
pub(crate) use horizon::orphan_remote;
pub use horizon::Forgotten;
pub(crate) use procs::*;

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
    /// Shared so that a copy (a live scope's answer) does not copy every
    /// process creation: written through `Arc::make_mut`, which copies
    /// only while a copy of the observer still reads it.
    pub(crate) procs: Arc<ProcStore>,
    /// Process creations of an observer this one follows (a live scope's
    /// earlier events), read only to name a parent this one did not see
    /// (see [`Observer::follow`]); never merged, never analysed.
    earlier: Option<Arc<ProcStore>>,
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
    /// Whether connections are kept: only the reach of a critical or
    /// isolated zone reads them, so without such a zone in the assets
    /// they are not. Why: one aggregate per host, destination and port
    /// is what grows with a commune's traffic for as long as `vigie
    /// serve` runs (every new address a workstation reaches), and it
    /// would be kept for nothing.
    keeps_conns: bool,
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
    /// Process creations (and creations without a logged parent image)
    /// held after the last pass of the horizon ([`Observer::horizon_due`]).
    held_after_pass: usize,
    /// The latest time that moves a log's clock (the horizon's), if any:
    /// see [`Observer::set_clock_ceiling`].
    clock_ceiling: Option<Timestamp>,
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
        let keeps_conns = assets.zones.iter().any(|z| z.critical || z.isolated);
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
            procs: Arc::default(),
            earlier: None,
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
            keeps_conns,
            auth_ok: HashMap::new(),
            tgs: HashMap::new(),
            notes: HashMap::new(),
            run: RunInfo::default(),
            proc_events: 0,
            held_after_pass: 0,
            clock_ceiling: None,
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

    /// Reads `earlier`'s process creations (as they are now) to name the
    /// parent of a process whose creation event does not (old 4688
    /// layouts) when the parent was created before this observer started.
    ///
    /// Why: `vigie serve` observes into a fresh observer between two
    /// answers and merges it into the one that holds everything before.
    /// One observer seeing every event names those parents from its own
    /// creations; the fresh one would not without this. Replaces what it
    /// followed before; dropped by [`Observer::unfollow`].
    pub fn follow(&mut self, earlier: &Observer) {
        self.earlier = Some(earlier.procs.clone());
    }

    /// Stops reading another observer's process creations (before this
    /// one is merged into it: the merge then writes without a copy).
    pub fn unfollow(&mut self) {
        self.earlier = None;
    }

    /// Number of events observed.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// What the observer holds, by kind of fact: the items that grow as
    /// events arrive. `vigie serve` keeps an observer per tenant for as
    /// long as it runs and gives these in `/metrics`, so that what its
    /// memory holds can be seen (and bounded) without a profiler.
    pub fn held(&self) -> Vec<(&'static str, usize)> {
        let (procs, names) = self.procs.held();
        let cov = self.slots.iter().map(|s| &s.acc).chain(self.cov.values());
        let (mut runs, mut minutes) = (0, 0);
        for c in cov {
            runs += c.runs.len();
            minutes += c.minutes.len();
        }
        vec![
            ("process_creations", procs),
            ("names", names),
            ("channels", self.slots.len() + self.cov.len()),
            ("record_runs", runs),
            ("minute_runs", minutes),
            ("detections", self.dets.len()),
            ("links", self.links.len()),
            (
                "link_minutes",
                self.links.values().map(|l| l.minutes.len()).sum(),
            ),
            ("failed_logons", self.failed.len()),
            ("addresses", self.addr_host.len()),
            ("processes_of_interest", self.interesting.len()),
            ("orphan_processes", self.orphans.len()),
            ("behaviours", self.behaviours.len()),
            ("services", self.services.len()),
            ("tasks", self.tasks.len()),
            ("files", self.files.len()),
            ("domains", self.dns.len()),
            ("accounts", self.accounts.len()),
            ("connections", self.conns.len()),
            ("authentications", self.auth_ok.len()),
            ("service_tickets", self.tgs.len()),
            ("shares", self.shares.len()),
            ("transfers", self.transfers.len()),
            ("remote_executions", self.remote_exec.len()),
            ("vpn", self.vpn.len()),
        ]
    }

    /// [`Observer::held`] of this observer and `other` together, as
    /// merged: a key held by both (a host's channel, a connection, an
    /// account...) is counted once. `vigie serve` holds each tenant in a
    /// settled observer and a fresh one; summed, whatever the fresh one
    /// saw again was counted twice.
    pub fn held_beside(&self, other: &Observer) -> Vec<(&'static str, usize)> {
        fn shared<K: Eq + std::hash::Hash, V, W>(a: &HashMap<K, V>, b: &HashMap<K, W>) -> usize {
            b.keys().filter(|k| a.contains_key(*k)).count()
        }
        let channels: HashSet<(&str, &str)> = [self, other]
            .into_iter()
            .flat_map(|o| {
                o.slots
                    .iter()
                    .map(|s| (&*s.host, s.channel.as_str()))
                    .chain(o.cov.keys().map(|(h, c)| (h.as_str(), c.as_str())))
            })
            .collect();
        let link_minutes: usize = other
            .links
            .iter()
            .filter_map(|(k, theirs)| {
                let mine: HashSet<i64> = self.links.get(k)?.minutes.iter().copied().collect();
                Some(theirs.minutes.iter().filter(|m| mine.contains(m)).count())
            })
            .sum();
        let counted_twice = [
            ("names", self.procs.shared_names(&other.procs)),
            ("links", shared(&self.links, &other.links)),
            ("link_minutes", link_minutes),
            ("failed_logons", shared(&self.failed, &other.failed)),
            ("addresses", shared(&self.addr_host, &other.addr_host)),
            ("domains", shared(&self.dns, &other.dns)),
            ("accounts", shared(&self.accounts, &other.accounts)),
            ("connections", shared(&self.conns, &other.conns)),
            ("authentications", shared(&self.auth_ok, &other.auth_ok)),
            ("service_tickets", shared(&self.tgs, &other.tgs)),
            ("shares", shared(&self.shares, &other.shares)),
            ("transfers", shared(&self.transfers, &other.transfers)),
        ];
        let mut held = self.held();
        for (h, (_, n)) in held.iter_mut().zip(other.held()) {
            h.1 += n;
        }
        for h in held.iter_mut() {
            if h.0 == "channels" {
                h.1 = channels.len();
            } else if let Some((_, n)) = counted_twice.iter().find(|(k, _)| *k == h.0) {
                h.1 = h.1.saturating_sub(*n);
            }
        }
        held
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

    /// Whether this observer holds the detection `m` raised on `e` (the
    /// same rule on the event read at the same place): a late detection
    /// the scope already has is not taken twice — the live scope rebuilt
    /// with indicators that a retro-hunt then reports as new.
    pub fn holds(&self, e: &Event, m: &Match) -> bool {
        self.dets.iter().any(|d| {
            d.locator == e.origin.locator
                && *d.source == *e.origin.source
                && (Arc::ptr_eq(&d.rule, &m.rule)
                    || (d.rule.id == m.rule.id && d.rule.title == m.rule.title))
        })
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
        let join = joined_minutes(self.silence_threshold_secs);
        let slot = &mut self.slots[idx];
        slot.acc.add(e.timestamp, e.record_id, join);
        (slot.host.clone(), slot.named)
    }

    /// Folds the per-raw-name slots into `cov` (keyed by canonical host).
    pub(crate) fn settle(&mut self) {
        self.raw.clear();
        let join = joined_minutes(self.silence_threshold_secs);
        for slot in self.slots.drain(..) {
            self.cov
                .entry((slot.host.to_string(), slot.channel))
                .or_default()
                .merge(slot.acc, join);
        }
    }
}

impl Observer {
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
        let join = joined_minutes(self.silence_threshold_secs);
        for (k, v) in o.cov {
            self.cov.entry(k).or_default().merge(v, join);
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
        // Nothing to add: no write, so no copy of creations an answer's
        // copy still shares.
        if !o.procs.is_empty() {
            let theirs = Arc::try_unwrap(o.procs).unwrap_or_else(|shared| (*shared).clone());
            Arc::make_mut(&mut self.procs).merge(theirs);
        }
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
            self.conns.entry(k).or_default().merge_n(v, CONN_EVIDENCE);
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
