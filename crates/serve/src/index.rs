//! Where a search can skip: for each block of [`BLOCK`] log positions,
//! each tenant's time span and hosts, kept by the worker as it judges the
//! events (live, and when it replays the log after a start).
//!
//! Why: the log is in arrival order, not in event time, so a search of
//! one host over one hour read the whole week from its start and stopped
//! at its time budget. With the spans, it reads only the blocks its
//! period and host can be in. A block is skipped only when every one of
//! its positions was judged here (a set bit per position: a position
//! judged twice, as in a replay, counts once), so what the index does not
//! know is always read — it speeds a search up, it never changes what a
//! search finds.
//!
//! Why host names are numbered once for the whole index: a block kept
//! each host's three names as strings, so the index grew by about 2 MiB
//! per million events (every block of a week names the same hundred
//! hosts). A block now keeps the numbers of the names it saw, and a name
//! is stored once, so what grows with events is a few bytes per block
//! and a host's number in each block it appears in. The table of names
//! is bounded ([`MAX_NAMES`]): past it, a block that sees a name not
//! numbered is marked as holding any host (read by every host search),
//! never as holding none. A block wholly judged drops its bitmap.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Mutex;

use vigie_event::{Event, Timestamp};

/// Log positions per block.
pub const BLOCK: u64 = 1 << 14;
const WORDS: usize = (BLOCK / 64) as usize;

/// Most host names the index numbers (lower-cased full and short names,
/// and the names as written, counted apart): a commune has hundreds;
/// what sends more (one name per event, by mistake or on purpose) gets
/// blocks read by every host search, not an unbounded table.
pub const MAX_NAMES: usize = 1 << 16;

/// The longest computer name numbered (see [`Names::of`]).
const NAME_BYTES: usize = 255;

/// One tenant's events of a block.
#[derive(Debug, Default)]
struct Span {
    /// The earliest and latest event times (events without one are in
    /// no time range: not counted).
    times: Option<(Timestamp, Timestamp)>,
    /// The numbers of the host names seen (lower-cased, full and short:
    /// what a search asks), sorted.
    hosts: Vec<u32>,
    /// A name was seen that the full table could not number: the block
    /// may hold any host.
    any_host: bool,
}

#[derive(Debug)]
struct Block {
    /// A bit per position judged; `None` once all are (most blocks).
    judged: Option<Box<[u64; WORDS]>>,
    judged_count: u64,
    tenants: HashMap<String, Span>,
}

impl Default for Block {
    fn default() -> Self {
        Block {
            judged: Some(Box::new([0; WORDS])),
            judged_count: 0,
            tenants: HashMap::new(),
        }
    }
}

impl Block {
    /// Whether its first `n` positions were all judged (the last block of
    /// the log is read up to where the search ends).
    fn all_judged(&self, n: u64) -> bool {
        let Some(judged) = &self.judged else {
            return true;
        };
        if n == BLOCK {
            return self.judged_count == BLOCK;
        }
        let (full, rest) = ((n / 64) as usize, n % 64);
        judged[..full].iter().all(|w| *w == u64::MAX)
            && (rest == 0 || judged[full] & ((1u64 << rest) - 1) == (1u64 << rest) - 1)
    }
}

/// What a search asks, as far as the index can tell.
pub struct Wanted<'a> {
    pub tenant: &'a str,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Host names as `vigie search` matches them (the full name or its
    /// first label, any case); empty: any host.
    pub hosts: &'a [String],
}

/// Host names numbered once for every block.
#[derive(Debug, Default)]
struct Names {
    /// Lower-cased full or short name → its number.
    lower: HashMap<Box<str>, u32>,
    /// A computer name as written → the numbers of its lower-cased full
    /// and short names, so that an event of a host already seen (the
    /// common case) is placed without allocating.
    written: HashMap<Box<str>, [u32; 2]>,
}

impl Names {
    /// The numbers of `computer`'s full and short names; `None` when the
    /// table is full and one of them is new.
    fn of(&mut self, computer: &str) -> Option<[u32; 2]> {
        if let Some(ids) = self.written.get(computer) {
            return Some(*ids);
        }
        // A name longer than any DNS name (253 bytes) is hostile or
        // damaged: never numbered (the table would keep it whole, up to
        // a line's size, 65,536 times); its block is read by every host
        // search, as for a full table.
        if computer.len() > NAME_BYTES {
            return None;
        }
        let full = computer.to_ascii_lowercase();
        let short = full.split('.').next().unwrap_or(&full).to_string();
        let ids = [self.number(full)?, self.number(short)?];
        if self.written.len() < MAX_NAMES {
            self.written.insert(computer.into(), ids);
        }
        Some(ids)
    }

    fn number(&mut self, name: String) -> Option<u32> {
        if let Some(n) = self.lower.get(name.as_str()) {
            return Some(*n);
        }
        if self.lower.len() >= MAX_NAMES {
            return None;
        }
        let n = self.lower.len() as u32;
        self.lower.insert(name.into_boxed_str(), n);
        Some(n)
    }
}

#[derive(Debug, Default)]
struct Inner {
    blocks: BTreeMap<u64, Block>,
    names: Names,
}

#[derive(Debug, Default)]
pub struct EventIndex {
    inner: Mutex<Inner>,
}

impl EventIndex {
    /// Position `position` was judged (whatever it held: an event, an
    /// unreadable line, a duplicate).
    pub fn judged(&self, positions: impl IntoIterator<Item = u64>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for p in positions {
            let b = inner.blocks.entry(p / BLOCK).or_default();
            let Some(judged) = &mut b.judged else {
                continue;
            };
            let i = (p % BLOCK) as usize;
            let (word, bit) = (i / 64, 1u64 << (i % 64));
            if judged[word] & bit == 0 {
                judged[word] |= bit;
                b.judged_count += 1;
                if b.judged_count == BLOCK {
                    b.judged = None;
                }
            }
        }
    }

    /// The event at `position` of `tenant`, judged.
    pub fn saw(&self, tenant: &str, position: u64, e: &Event) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Inner { blocks, names } = &mut *inner;
        let b = blocks.entry(position / BLOCK).or_default();
        let span = match b.tenants.get_mut(tenant) {
            Some(s) => s,
            None => b.tenants.entry(tenant.to_string()).or_default(),
        };
        if let Some(t) = e.timestamp {
            span.times = Some(match span.times {
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
                None => (t, t),
            });
        }
        if let Some(c) = e.computer.as_deref() {
            if span.any_host {
                return;
            }
            match names.of(c) {
                Some(ids) => {
                    for id in ids {
                        if let Err(at) = span.hosts.binary_search(&id) {
                            span.hosts.insert(at, id);
                        }
                    }
                }
                None => {
                    span.any_host = true;
                    span.hosts = Vec::new();
                }
            }
        }
    }

    /// Forgets the blocks wholly below `position` (removed from the log by
    /// retention): the index is bounded by the log it describes.
    pub fn forget_below(&self, position: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.blocks = inner.blocks.split_off(&(position / BLOCK));
    }

    /// The ranges of positions below `end` a search for `w` must read,
    /// in order: every block not wholly judged here, and those whose span
    /// for the tenant meets the period and the hosts.
    pub fn to_read(&self, w: &Wanted, end: u64) -> Vec<Range<u64>> {
        if w.from.is_none() && w.to.is_none() && w.hosts.is_empty() {
            return std::iter::once(0..end).collect();
        }
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // A name never numbered is in no block (but those holding any).
        let hosts: Vec<Option<u32>> = w
            .hosts
            .iter()
            .map(|h| {
                inner
                    .names
                    .lower
                    .get(h.to_ascii_lowercase().as_str())
                    .copied()
            })
            .collect();
        let blocks = &inner.blocks;
        let mut out: Vec<Range<u64>> = Vec::new();
        let last = end.div_ceil(BLOCK);
        for k in 0..last {
            let range = k * BLOCK..((k + 1) * BLOCK).min(end);
            let read = match blocks.get(&k) {
                Some(b) if b.all_judged(range.end - range.start) => {
                    b.tenants.get(w.tenant).is_some_and(|s| {
                        let in_time = match (w.from.is_some() || w.to.is_some(), s.times) {
                            (false, _) => true,
                            (true, None) => false,
                            (true, Some((lo, hi))) => {
                                w.from.is_none_or(|f| hi >= f) && w.to.is_none_or(|t| lo <= t)
                            }
                        };
                        in_time
                            && (hosts.is_empty()
                                || s.any_host
                                || hosts
                                    .iter()
                                    .any(|h| h.is_some_and(|h| s.hosts.binary_search(&h).is_ok())))
                    })
                }
                _ => true,
            };
            if read {
                match out.last_mut() {
                    Some(r) if r.end == range.start => r.end = range.end,
                    _ => out.push(range),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    /// A computer name past a DNS name's length (hostile, or a damaged
    /// field) is never kept in the table: its block is read by every
    /// host search instead.
    #[test]
    fn a_name_longer_than_a_dns_name_is_never_numbered() {
        let mut names = super::Names::default();
        assert!(names.of(&"a".repeat(300)).is_none());
        assert!(names.lower.is_empty() && names.written.is_empty());
        assert!(names.of("DC01.ccpab.local").is_some());
        assert_eq!(names.lower.len(), 2);
    }

    use super::*;

    fn one(r: Range<u64>) -> Vec<Range<u64>> {
        std::iter::once(r).collect()
    }

    fn at(t: i64) -> Option<Timestamp> {
        chrono::DateTime::from_timestamp_micros(t)
    }

    fn event(t: i64, host: &str) -> Event {
        let mut e = Event::new(vigie_event::Origin {
            source: "test".into(),
            locator: vigie_event::Locator::None,
        });
        e.timestamp = at(t);
        e.computer = Some(host.into());
        e
    }

    #[test]
    fn only_blocks_wholly_judged_and_out_of_the_search_are_skipped() {
        let ix = EventIndex::default();
        // Block 0: DC01 at t=100..200; block 1: SRV-WEB01 at t=1000;
        // block 2 judged in part only.
        ix.judged(0..BLOCK * 2);
        ix.judged(BLOCK * 2..BLOCK * 2 + 10);
        ix.saw("default", 5, &event(100, "DC01.ccpab.local"));
        ix.saw("default", 9, &event(200, "DC01.ccpab.local"));
        ix.saw("default", BLOCK + 3, &event(1000, "SRV-WEB01"));
        let end = BLOCK * 2 + 11;
        let ask = |from: Option<i64>, to: Option<i64>, hosts: &[String], tenant: &str| {
            ix.to_read(
                &Wanted {
                    tenant,
                    from: from.and_then(at),
                    to: to.and_then(at),
                    hosts,
                },
                end,
            )
        };
        let dc = ["dc01".to_string()];
        assert_eq!(ask(None, None, &[], "default"), one(0..end));
        assert_eq!(
            ask(None, None, &dc, "default"),
            vec![0..BLOCK, BLOCK * 2..end]
        );
        assert_eq!(
            ask(Some(500), None, &[], "default"),
            one(BLOCK..end),
            "after block 0's latest"
        );
        assert_eq!(
            ask(Some(150), Some(160), &[], "default"),
            vec![0..BLOCK, BLOCK * 2..end]
        );
        assert_eq!(
            ask(
                Some(150),
                Some(160),
                &["dc01.CCPAB.local".into()],
                "default"
            ),
            vec![0..BLOCK, BLOCK * 2..end]
        );
        // Another tenant has nothing in the judged blocks.
        assert_eq!(ask(None, None, &dc, "mairie-b"), one(BLOCK * 2..end));
        // The last block, judged up to where a search ends: known too.
        assert_eq!(
            ix.to_read(
                &Wanted {
                    tenant: "default",
                    from: at(5000),
                    to: None,
                    hosts: &[],
                },
                BLOCK * 2 + 10
            ),
            Vec::<Range<u64>>::new()
        );
        assert_eq!(
            ix.to_read(
                &Wanted {
                    tenant: "default",
                    from: at(5000),
                    to: None,
                    hosts: &[],
                },
                BLOCK * 2 + 11
            ),
            one(BLOCK * 2..BLOCK * 2 + 11),
            "position 10 of block 2 not judged yet"
        );
        // Blocks the log no longer holds are forgotten (and read again,
        // as unknown, should a search ever ask for them).
        ix.forget_below(BLOCK + 5);
        assert_eq!(
            ix.inner.lock().unwrap().blocks.keys().collect::<Vec<_>>(),
            [&1, &2]
        );
        ix.judged(0..BLOCK);
        // A position judged twice counts once.
        ix.judged(0..10);
        assert_eq!(ask(Some(500), None, &[], "default"), one(BLOCK..end));
    }

    #[test]
    fn names_are_numbered_once_and_a_full_table_reads_rather_than_skips() {
        let ix = EventIndex::default();
        // Blocks 0..50 of DC01 (written two ways), block 50 of SRV-WEB01:
        // two names per host, once for all blocks.
        for k in 0..50 {
            ix.saw("default", k * BLOCK, &event(100, "DC01.ccpab.local"));
            ix.saw("default", k * BLOCK + 1, &event(100, "dc01.CCPAB.local"));
        }
        ix.saw("default", 50 * BLOCK, &event(100, "SRV-WEB01"));
        ix.judged(0..51 * BLOCK);
        {
            let inner = ix.inner.lock().unwrap();
            assert_eq!(
                inner.names.lower.len(),
                3,
                "dc01.ccpab.local, dc01, srv-web01"
            );
            let b = &inner.blocks[&7];
            assert!(b.judged.is_none(), "a block wholly judged keeps no bitmap");
            assert_eq!(b.tenants["default"].hosts.len(), 2);
        }
        let ask = |host: &str, end: u64| {
            ix.to_read(
                &Wanted {
                    tenant: "default",
                    from: None,
                    to: None,
                    hosts: &[host.to_string()],
                },
                end,
            )
        };
        assert_eq!(ask("srv-web01", 52 * BLOCK), one(50 * BLOCK..52 * BLOCK));
        assert_eq!(ask("DC01", 51 * BLOCK), one(0..50 * BLOCK));
        assert_eq!(ask("PC-42", 52 * BLOCK), one(51 * BLOCK..52 * BLOCK));
        // The table full: a block that sees a new name may hold any host.
        {
            let mut inner = ix.inner.lock().unwrap();
            for n in inner.names.lower.len()..MAX_NAMES {
                inner
                    .names
                    .lower
                    .insert(format!("filler-{n}").into(), n as u32);
            }
        }
        ix.saw("default", 51 * BLOCK, &event(100, "PC-42"));
        ix.judged(51 * BLOCK..52 * BLOCK);
        assert_eq!(ask("PC-42", 52 * BLOCK), one(51 * BLOCK..52 * BLOCK));
        assert_eq!(ask("nowhere", 52 * BLOCK), one(51 * BLOCK..52 * BLOCK));
        assert_eq!(ix.inner.lock().unwrap().names.lower.len(), MAX_NAMES);
        // Known names are still placed in blocks where no new one came.
        ix.saw("default", 52 * BLOCK, &event(100, "DC01.ccpab.local"));
        ix.judged(52 * BLOCK..53 * BLOCK);
        assert_eq!(ask("srv-web01", 53 * BLOCK), vec![50 * BLOCK..52 * BLOCK]);
    }
}
