//! Which clock wrote a file's times: per-file detection and correction of
//! zone offsets.
//!
//! # Why
//!
//! Collectors do not all write instants. NXLog's `EventTime` is the
//! collector's *local* time without an offset; some pipelines write local
//! time followed by a `Z` (OTRF's lab exports do, some even on a 12-hour
//! clock without AM/PM); an RFC 3164 syslog header is the sender's local
//! time. Read as UTC, every event of such a file is hours off while
//! claiming to be exact — a timeline that is confidently wrong.
//!
//! # How
//!
//! Readers describe each record's time with a [`Stamp`]: the value chosen
//! for the event, whether it can be taken as written (`trusted`: Windows'
//! `SystemTime` as evtx_dump, Winlogbeat or Velociraptor render it), and,
//! when the record also carries a trustworthy reading of the same instant,
//! a [`Check`] pairing the doubtful reading with it (Sysmon's `UtcTime`, a
//! Linux Sysmon `SystemTime` under a syslog header: *exact* references;
//! Logstash's `@timestamp`, written seconds after the event: an *ingest*
//! reference).
//!
//! For every computer of the file the differences (doubtful − reference)
//! are put in quarter-hour bins. A difference counts only if it falls
//! between 5 s before and 60 s after a whole quarter-hour (exact
//! references: a busy Sysmon writes its record up to half a minute after
//! its `UtcTime`) or is a whole quarter-hour minus at most 5 minutes of
//! ingestion delay (ingest references); others count as outliers. Sysmon
//! network and DNS events, whose `UtcTime` is the connection's or query's
//! start rather than the record's time, are not used at all. A computer's
//! offset is the bin holding most of its checks (at least 5, and a
//! majority of all its checks), exact references first. Other bins with
//! at least 1 % of the checks are kept too: a file that spans noon on a
//! 12-hour clock, or a daylight-saving change, has two offsets; each
//! record then takes its own check's offset, else the one that puts it
//! nearest to a reference time of its computer (exports group records by
//! channel, so file order is no guide), else, when that does not decide,
//! that of its nearest checked neighbour in file order. A computer with no
//! checks of its own takes the offset every other computer of the file
//! agrees on, if they all agree (one collector wrote them all), and the
//! note says so.
//!
//! Records whose time needs correcting are held back until the offsets
//! are known — the whole file, or its first [`HOLD_LIMIT`] records, after
//! which the offsets found so far are kept for the rest (memory stays
//! bounded; the note says so). Records that need no correction and come
//! before the first doubtful one are not held.
//!
//! A record whose computer has too few checks for an offset of its own
//! but which carries its own tight exact check (a lone Sysmon event with
//! its `UtcTime`) is placed by that check: it is the record's own instant.
//!
//! Events that arrive one by one (a live stream: NXLog `om_tcp` sends one
//! line at a time) are read as many tiny "files", each with too little
//! evidence. A [`ClockMemory`] (`ReadOptions::clock_memory`, kept by
//! `vigie serve` per commune) carries the offset learned for a computer
//! from one read to the next: a later record of that computer without a
//! reference takes it, and the note says so.
//!
//! Offset-less times without any reference nor learned offset are read in
//! the zone the user gave (`ReadOptions::input_zone`), else as UTC, and a
//! note states the assumption; read as UTC, such an event is marked
//! [`Event::time_uncertain`] (never silently shifted, never dropped). Every correction and every disagreement between a trusted
//! time and its reference is stated in the file's notes.

use std::collections::{BTreeMap, HashMap};

use vigie_event::{Event, Timestamp};
use vigie_lang::Zone;

use crate::time::When;

/// How a reader sees the time of one record (see the module doc).
#[derive(Debug, Clone, Default)]
pub(crate) struct Stamp {
    /// The value chosen for the event, and the field it came from.
    pub time: Option<When>,
    pub field: &'static str,
    /// `time` is taken as written: it is a zone-bearing value that the
    /// collector computed from the event's own UTC clock.
    pub trusted: bool,
    /// A doubtful reading of the record's instant beside a trustworthy one.
    pub check: Option<Check>,
    /// A zone-bearing value to use when `time` is offset-less, no zone was
    /// given and the file holds too little evidence to find its offset
    /// (Logstash's `@timestamp`: the ingestion time, seconds late).
    pub fallback: Option<(Timestamp, &'static str)>,
}

impl Stamp {
    /// A time taken as written.
    pub fn trusted(time: Option<Timestamp>, field: &'static str) -> Stamp {
        Stamp {
            time: time.map(When::Utc),
            field,
            trusted: true,
            ..Stamp::default()
        }
    }
}

/// Two readings of one instant (see [`Stamp::check`]).
#[derive(Debug, Clone)]
pub(crate) struct Check {
    /// The doubtful reading, and where it was read.
    pub seen: When,
    pub seen_field: &'static str,
    /// The trustworthy reading, and where it was read.
    pub truth: Timestamp,
    pub truth_field: &'static str,
    /// `truth` is the instant itself (Sysmon `UtcTime`, `SystemTime`);
    /// else an ingestion time, later by a few seconds or minutes.
    pub exact: bool,
}

mod memory;
pub use memory::{ClockMemory, MEMORY_HOSTS};

/// Records held at most before offsets are decided (see the module doc).
/// Held records cost about as much memory as their JSON text, twice at
/// most: 100,000 OTRF records are ~150 MB.
pub(crate) const HOLD_LIMIT: usize = 100_000;
/// Checks a computer needs before its offset is believed.
const MIN_CHECKS: u32 = 5;
const QUARTER_MS: i64 = 15 * 60 * 1000;
/// How far an exact check may be from a whole quarter-hour: whole-second
/// readings (`EventTime`, a syslog header) against millisecond references
/// a few seconds either way, and up to a minute later, because a busy
/// Sysmon writes its record (the doubtful time) well after its `UtcTime`
/// (OTRF's recordings show lags of 30 s).
const EXACT_EARLY_MS: i64 = 5_000;
const EXACT_LATE_MS: i64 = 60_000;
/// Ingestion delay allowed for ingest checks (the reference is later).
const INGEST_DELAY_MS: i64 = 5 * 60 * 1000;

#[derive(Default)]
struct Bins {
    tight: BTreeMap<i32, u32>,
    loose: u32,
}

impl Bins {
    /// The offsets this evidence supports, main first, with the main
    /// offset's support and the number of checks.
    fn decide(&self) -> Option<(Vec<i32>, u32, u32)> {
        let tight: u32 = self.tight.values().sum();
        let total = tight + self.loose;
        if tight < MIN_CHECKS {
            return None;
        }
        let (&main, &support) = self.tight.iter().max_by_key(|(b, n)| (**n, -b.abs()))?;
        if support * 2 < total {
            return None;
        }
        let minor = MIN_CHECKS.max(tight / 100);
        let mut others: Vec<(i32, u32)> = self
            .tight
            .iter()
            .filter(|(b, n)| **b != main && **n >= minor)
            .map(|(b, n)| (*b, *n))
            .collect();
        others.sort_by_key(|(b, n)| (std::cmp::Reverse(*n), *b));
        let mut modes = vec![main];
        modes.extend(others.into_iter().map(|(b, _)| b));
        Some((modes, support, total))
    }
}

#[derive(Clone, PartialEq)]
struct Offsets {
    /// Quarter-hours (doubtful − reference), main first.
    modes: Vec<i32>,
    support: u32,
    total: u32,
    truth_field: &'static str,
}

#[derive(Default)]
struct Host {
    name: String,
    exact: Bins,
    ingest: Bins,
    exact_field: Option<&'static str>,
    ingest_field: Option<&'static str>,
    /// Checks of trusted records against their own time (conflicts).
    conflict: Bins,
    conflict_fields: Option<(&'static str, &'static str)>,
    decision: Option<Offsets>,
    /// Bin of the last exact check of a doubtful record (streaming after
    /// the hold limit).
    last_bin: Option<i32>,
    /// Instants (ms) of the exact references that agreed with a bin,
    /// sorted when offsets are decided: they place records of computers
    /// with several offsets.
    truths: Vec<i64>,
    corrected: u64,
    by_consensus: bool,
    /// Records placed by their own check alone (too few for an offset),
    /// and by the offset remembered from earlier reads, with that offset.
    by_own: u64,
    by_memory: u64,
    remembered: Option<i32>,
    doubtful_fields: Vec<&'static str>,
    naive: bool,
}

struct Held {
    ev: Event,
    /// `None`: the record's time is final (trusted, or not resolvable).
    doubt: Option<Doubt>,
}

struct Doubt {
    host: usize,
    t0: Timestamp,
    field: &'static str,
    naive: bool,
    fallback: Option<(Timestamp, &'static str)>,
    /// The bin of this record's own exact check, if tight.
    own_bin: Option<i32>,
}

/// The per-file offset detector (see the module doc).
pub(crate) struct Clock {
    zone: Option<Zone>,
    hosts: Vec<Host>,
    host_ix: HashMap<String, usize>,
    held: Vec<Held>,
    holding: bool,
    frozen: bool,
    capped: bool,
    consensus: Option<Offsets>,
    /// Offset-less times read in the input zone, by field.
    naive_read: BTreeMap<&'static str, u64>,
    /// Zone-labelled doubtful times nothing could check, by field.
    unchecked: BTreeMap<&'static str, u64>,
    /// Records that took their fallback, by (field, fallback field).
    fell_back: BTreeMap<(&'static str, &'static str), u64>,
    memory: Option<ClockMemory>,
}

impl Clock {
    /// `zone`: the zone of offset-less times, when the user gave one.
    pub fn new(zone: Option<Zone>) -> Clock {
        Clock {
            zone,
            hosts: Vec::new(),
            host_ix: HashMap::new(),
            held: Vec::new(),
            holding: false,
            frozen: false,
            capped: false,
            consensus: None,
            naive_read: BTreeMap::new(),
            unchecked: BTreeMap::new(),
            fell_back: BTreeMap::new(),
            memory: None,
        }
    }

    /// Carries offsets learned per computer across reads (see
    /// [`ClockMemory`]).
    pub fn with_memory(mut self, memory: Option<ClockMemory>) -> Clock {
        self.memory = memory;
        self
    }

    fn host(&mut self, computer: Option<&str>) -> usize {
        let name = computer.unwrap_or("");
        // Computer names are case-insensitive (NetBIOS, DNS).
        let key = name.to_ascii_lowercase();
        if let Some(&i) = self.host_ix.get(&key) {
            return i;
        }
        self.hosts.push(Host {
            name: name.to_string(),
            ..Host::default()
        });
        self.host_ix.insert(key, self.hosts.len() - 1);
        self.hosts.len() - 1
    }

    /// Takes one record: `Some(event)` with its final time when it can go
    /// on now, `None` when it is held (then see [`Clock::must_release`]).
    pub fn admit(&mut self, mut ev: Event, stamp: Stamp) -> Option<Event> {
        let zone = self.zone;
        let t0 = stamp.time.and_then(|w| w.resolve(zone));
        let naive = matches!(stamp.time, Some(When::Naive(_)));
        let doubtful = !stamp.trusted && t0.is_some();
        let h = (doubtful || stamp.check.is_some()).then(|| self.host(ev.computer.as_deref()));
        let mut own_bin = None;
        if let (Some(c), Some(h)) = (&stamp.check, h) {
            if let Some(seen) = c.seen.resolve(zone) {
                let diff = (seen - c.truth).num_milliseconds();
                let bin = diff.div_euclid(QUARTER_MS)
                    + i64::from(diff.rem_euclid(QUARTER_MS) * 2 >= QUARTER_MS);
                let rest = diff - bin * QUARTER_MS;
                let tight = if c.exact {
                    (-EXACT_EARLY_MS..=EXACT_LATE_MS).contains(&rest)
                } else {
                    (-INGEST_DELAY_MS..=10_000).contains(&rest)
                };
                let bin = bin.clamp(-10_000, 10_000) as i32;
                let host = &mut self.hosts[h];
                // A trusted record checked against its own time: a
                // disagreement is reported, never corrected.
                let conflict = stamp.trusted && Some(c.seen) == stamp.time;
                let bins = if conflict {
                    host.conflict_fields = Some((c.seen_field, c.truth_field));
                    &mut host.conflict
                } else if c.exact {
                    host.exact_field = Some(c.truth_field);
                    &mut host.exact
                } else {
                    host.ingest_field = Some(c.truth_field);
                    &mut host.ingest
                };
                if tight {
                    *bins.tight.entry(bin).or_default() += 1;
                } else {
                    bins.loose += 1;
                }
                if tight && c.exact && !conflict && !self.frozen {
                    host.truths.push(c.truth.timestamp_millis());
                }
                if tight && c.exact && doubtful {
                    own_bin = Some(bin);
                    host.last_bin = Some(bin);
                }
            }
        }
        let (Some(h), Some(t0), true) = (h, t0, doubtful) else {
            ev.timestamp = t0.or(stamp.fallback.map(|f| f.0));
            if self.holding {
                self.held.push(Held { ev, doubt: None });
                return None;
            }
            return Some(ev);
        };
        let host = &mut self.hosts[h];
        if !host.doubtful_fields.contains(&stamp.field) {
            host.doubtful_fields.push(stamp.field);
        }
        host.naive |= naive;
        let doubt = Doubt {
            host: h,
            t0,
            field: stamp.field,
            naive,
            fallback: stamp.fallback,
            own_bin,
        };
        if self.frozen {
            let bin = own_bin.or(self.hosts[h].last_bin);
            let (t, uncertain) = self.place(&doubt, bin);
            ev.timestamp = Some(t);
            ev.time_uncertain = uncertain;
            return Some(ev);
        }
        self.holding = true;
        self.held.push(Held {
            ev,
            doubt: Some(doubt),
        });
        None
    }

    /// Whether the held records must be released now (memory bound).
    pub fn must_release(&self) -> bool {
        self.held.len() >= HOLD_LIMIT
    }

    /// Decides the offsets from the evidence so far, and gives back every
    /// held record, in file order, with its final time. Later records are
    /// placed as they come, with the same offsets.
    pub fn release(&mut self) -> Vec<Event> {
        if !self.frozen {
            self.decide();
            self.frozen = true;
            self.capped = self.held.len() >= HOLD_LIMIT;
        }
        let held = std::mem::take(&mut self.held);
        self.holding = false;
        // The nearest checked neighbour of the same computer, in file
        // order, for files with several offsets: the previous one and the
        // next one, the closer wins.
        let n = held.len();
        let mut prev: Vec<Option<(usize, i32)>> = vec![None; n];
        let mut last: HashMap<usize, (usize, i32)> = HashMap::new();
        for (i, r) in held.iter().enumerate() {
            if let Some(d) = &r.doubt {
                prev[i] = last.get(&d.host).copied();
                if let Some(b) = d.own_bin {
                    last.insert(d.host, (i, b));
                }
            }
        }
        let mut next: Vec<Option<(usize, i32)>> = vec![None; n];
        last.clear();
        for (i, r) in held.iter().enumerate().rev() {
            if let Some(d) = &r.doubt {
                next[i] = last.get(&d.host).copied();
                if let Some(b) = d.own_bin {
                    last.insert(d.host, (i, b));
                }
            }
        }
        let mut out = Vec::with_capacity(n);
        for (i, r) in held.into_iter().enumerate() {
            let Held { mut ev, doubt } = r;
            if let Some(d) = doubt {
                let near = match (prev[i], next[i]) {
                    (Some((a, ba)), Some((b, bb))) => Some(if i - a <= b - i { ba } else { bb }),
                    (p, q) => p.or(q).map(|x| x.1),
                };
                let (t, uncertain) = self.place(&d, d.own_bin.or(near));
                ev.timestamp = Some(t);
                ev.time_uncertain = uncertain;
            }
            out.push(ev);
        }
        out
    }

    fn decide(&mut self) {
        for host in &mut self.hosts {
            host.truths.sort_unstable();
            let exact = host.exact.decide().map(|d| (d, host.exact_field));
            let any = exact.or_else(|| host.ingest.decide().map(|d| (d, host.ingest_field)));
            host.decision = any.map(|((modes, support, total), f)| Offsets {
                modes,
                support,
                total,
                truth_field: f.unwrap_or("a reference time"),
            });
        }
        if let Some(mem) = &self.memory {
            for host in &self.hosts {
                match &host.decision {
                    // One offset: the computer's clock now. Several (a
                    // 12-hour clock, a daylight-saving change): none is
                    // safe to carry over.
                    Some(o) if o.modes.len() == 1 => mem.set(&host.name, o.modes[0]),
                    _ => {}
                }
            }
        }
        let mut decided = self.hosts.iter().filter_map(|h| h.decision.as_ref());
        if let Some(first) = decided.next() {
            if decided.all(|d| d.modes == first.modes) {
                self.consensus = Some(first.clone());
            }
        }
    }

    /// The final time of a doubtful record, and whether it is uncertain
    /// (an offset-less time read as UTC for want of anything better).
    /// `near`: the offset bin of the nearest checked record of its
    /// computer, for computers with several offsets.
    ///
    /// In order: its computer's offsets in this read; its own check alone;
    /// the offset remembered for its computer from earlier reads; the
    /// offset all other computers of this read agree on; its fallback;
    /// the input zone, else UTC.
    fn place(&mut self, d: &Doubt, near: Option<i32>) -> (Timestamp, bool) {
        let shift = |m: i32| d.t0 - chrono::Duration::milliseconds(m as i64 * QUARTER_MS);
        let host = &self.hosts[d.host];
        if let Some(o) = &host.decision {
            let m = choose(o, &host.truths, d, near);
            if m != 0 {
                self.hosts[d.host].corrected += 1;
            }
            return (shift(m), false);
        }
        if let Some(m) = d.own_bin {
            if let Some(mem) = &self.memory {
                mem.set(&host.name, m);
            }
            if m != 0 {
                let host = &mut self.hosts[d.host];
                host.by_own += 1;
                host.remembered = Some(m);
            }
            return (shift(m), false);
        }
        if let Some(m) = self.memory.as_ref().and_then(|mem| mem.get(&host.name)) {
            if m != 0 {
                let host = &mut self.hosts[d.host];
                host.by_memory += 1;
                host.remembered = Some(m);
            }
            return (shift(m), false);
        }
        if let Some(o) = &self.consensus {
            let m = choose(o, &host.truths, d, near);
            if m != 0 {
                let host = &mut self.hosts[d.host];
                host.corrected += 1;
                host.by_consensus = true;
            }
            return (shift(m), false);
        }
        match d.fallback {
            Some((t, f)) if d.naive && self.zone.is_none() => {
                *self.fell_back.entry((d.field, f)).or_default() += 1;
                (t, false)
            }
            _ => {
                let counter = if d.naive {
                    &mut self.naive_read
                } else {
                    &mut self.unchecked
                };
                *counter.entry(d.field).or_default() += 1;
                (d.t0, d.naive && self.zone.is_none())
            }
        }
    }

    /// Releases what is still held and states, in `notes`, every
    /// correction, disagreement and assumption (see the module doc).
    pub fn finish(&mut self, notes: &mut Vec<String>) -> Vec<Event> {
        let out = self.release();
        let zone_name = match self.zone {
            Some(z) => format!("{} (as asked)", z.name()),
            None => "UTC (no zone given)".to_string(),
        };
        for host in &self.hosts {
            let name = if host.name.is_empty() {
                "(no computer name)"
            } else {
                host.name.as_str()
            };
            let fields = host.doubtful_fields.join("/");
            let what = if host.naive {
                "local time without a zone"
            } else {
                "local time labelled UTC"
            };
            match (&host.decision, host.corrected) {
                (Some(o), n) if n > 0 => {
                    let mut note = format!(
                        "times of {name} in this file were {} ({fields} is {what}); corrected using {} over {} of {} records",
                        relative(o.modes[0]),
                        o.truth_field,
                        o.support,
                        o.total
                    );
                    if o.modes[0].abs() > 14 * 4 && o.modes.len() == 1 {
                        note.push_str(
                            " (more than any zone's offset: a 12-hour clock written without AM/PM)",
                        );
                    }
                    if o.modes.len() > 1 {
                        let others: Vec<String> =
                            o.modes[1..].iter().map(|m| relative(*m)).collect();
                        note.push_str(&format!(
                            "; also seen: {} ({}), each record placed by the nearest reference time",
                            others.join(", "),
                            cause(&o.modes)
                        ));
                    }
                    notes.push(note);
                }
                (None, n) if n > 0 && host.by_consensus => {
                    if let Some(o) = &self.consensus {
                        notes.push(format!(
                            "times of {name} ({fields}, {what}) have no reference of their own; corrected by the offset all other computers of this file show ({}, from {}), assuming one collector wrote them all",
                            relative(o.modes[0]),
                            o.truth_field
                        ));
                    }
                }
                _ => {}
            }
            if let (Some(m), true) = (host.remembered, host.by_own + host.by_memory > 0) {
                let mut how = Vec::new();
                if host.by_own > 0 {
                    how.push(format!(
                        "{} by its own reference time ({})",
                        host.by_own,
                        host.exact_field.unwrap_or("a reference time")
                    ));
                }
                if host.by_memory > 0 {
                    how.push(format!(
                        "{} by the offset learned from earlier events of this computer",
                        host.by_memory
                    ));
                }
                notes.push(format!(
                    "times of {name} ({fields} is {what}) were {}: too few records here to find the offset; corrected {}",
                    relative(m),
                    how.join(", ")
                ));
            }
            if let (Some((main, support, total)), Some((seen, truth))) = (
                host.conflict.decide().map(|(m, s, t)| (m[0], s, t)),
                host.conflict_fields,
            ) {
                if main != 0 {
                    notes.push(format!(
                        "conflicting times on {name}: {seen} is {} over {support} of {total} records; {seen} kept as written (it states its zone)",
                        relative_to(main, truth),
                    ));
                }
            }
        }
        for (field, n) in &self.naive_read {
            notes.push(format!(
                "{n} offset-less time(s) ({field}) read as {zone_name}; nothing in the file gave their zone{}",
                if self.zone.is_none() {
                    " (marked uncertain: give the zone with --input-timezone)"
                } else {
                    ""
                }
            ));
        }
        for ((field, fallback), n) in &self.fell_back {
            notes.push(format!(
                "{n} record(s) timed by {fallback} (their ingestion time, seconds late): {field} has no zone and too little evidence to find its offset (give the zone to use {field})"
            ));
        }
        for (field, n) in &self.unchecked {
            notes.push(format!(
                "{n} time(s) ({field}) taken as written (UTC): this collector sometimes writes local time as UTC, and nothing in the file could check them"
            ));
        }
        if self.capped {
            notes.push(format!(
                "time offsets decided on the first {HOLD_LIMIT} records of the file (memory bound); later records follow the same offsets"
            ));
        }
        out
    }
}

/// The offset of a doubtful record among a computer's offsets: its own
/// check's, else the one that puts it nearest to a reference instant of
/// its computer (records are seldom in time order: exports group them by
/// channel), else, when several candidates are equally near, that of its
/// nearest checked neighbour in file order.
fn choose(o: &Offsets, truths: &[i64], d: &Doubt, near: Option<i32>) -> i32 {
    if o.modes.len() == 1 {
        return o.modes[0];
    }
    if let Some(b) = d.own_bin.filter(|b| o.modes.contains(b)) {
        return b;
    }
    let distance = |m: i32| -> Option<i64> {
        let t = d.t0.timestamp_millis() - m as i64 * QUARTER_MS;
        let i = truths.partition_point(|x| *x < t);
        let after = truths.get(i).map(|x| x - t);
        let before = i.checked_sub(1).and_then(|j| truths.get(j)).map(|x| t - x);
        match (after, before) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    };
    let mut ranked: Vec<(i64, i32)> = o
        .modes
        .iter()
        .filter_map(|m| distance(*m).map(|dist| (dist, *m)))
        .collect();
    ranked.sort_unstable();
    match ranked.as_slice() {
        // Ten minutes tell two offsets apart when they are hours apart.
        [(d0, m0), (d1, _), ..] if d1 - d0 > 10 * 60 * 1000 => *m0,
        [(_, m0)] => *m0,
        _ => near.filter(|b| o.modes.contains(b)).unwrap_or(o.modes[0]),
    }
}

/// `-16` quarter-hours → "4 h behind UTC".
fn relative(bin: i32) -> String {
    relative_to(bin, "UTC")
}

/// `-16` quarter-hours → "4 h behind {what}".
fn relative_to(bin: i32, what: &str) -> String {
    if bin == 0 {
        return format!("in step with {what}");
    }
    let mins = bin.unsigned_abs() * 15;
    let span = match (mins / 60, mins % 60) {
        (h, 0) => format!("{h} h"),
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m} min"),
    };
    if bin < 0 {
        format!("{span} behind {what}")
    } else {
        format!("{span} ahead of {what}")
    }
}

/// Why a file shows several offsets.
fn cause(modes: &[i32]) -> &'static str {
    let main = modes[0];
    if modes[1..].iter().all(|m| (m - main).abs() == 48) {
        "12 hours apart: a 12-hour clock written without AM/PM"
    } else if modes[1..].iter().all(|m| (m - main).abs() == 4) {
        "1 hour apart: a daylight-saving change"
    } else {
        "several clocks"
    }
}

#[cfg(test)]
mod tests;
