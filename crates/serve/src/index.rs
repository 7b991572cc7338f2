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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Mutex;

use vigie_event::{Event, Timestamp};

/// Log positions per block.
pub const BLOCK: u64 = 1 << 14;
const WORDS: usize = (BLOCK / 64) as usize;

/// One tenant's events of a block.
#[derive(Debug, Default)]
struct Span {
    /// The earliest and latest event times (events without one are in
    /// no time range: not counted).
    times: Option<(Timestamp, Timestamp)>,
    /// Computer names lower-cased and their short names (what a search
    /// asks, lower-cased), and as written.
    hosts: HashSet<String>,
}

#[derive(Debug)]
struct Block {
    judged: Box<[u64; WORDS]>,
    judged_count: u64,
    tenants: HashMap<String, Span>,
}

impl Default for Block {
    fn default() -> Self {
        Block {
            judged: Box::new([0; WORDS]),
            judged_count: 0,
            tenants: HashMap::new(),
        }
    }
}

impl Block {
    /// Whether its first `n` positions were all judged (the last block of
    /// the log is read up to where the search ends).
    fn all_judged(&self, n: u64) -> bool {
        if n == BLOCK {
            return self.judged_count == BLOCK;
        }
        let (full, rest) = ((n / 64) as usize, n % 64);
        self.judged[..full].iter().all(|w| *w == u64::MAX)
            && (rest == 0 || self.judged[full] & ((1u64 << rest) - 1) == (1u64 << rest) - 1)
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

#[derive(Debug, Default)]
pub struct EventIndex {
    blocks: Mutex<BTreeMap<u64, Block>>,
}

impl EventIndex {
    /// Position `position` was judged (whatever it held: an event, an
    /// unreadable line, a duplicate).
    pub fn judged(&self, positions: impl IntoIterator<Item = u64>) {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        for p in positions {
            let b = blocks.entry(p / BLOCK).or_default();
            let i = (p % BLOCK) as usize;
            let (word, bit) = (i / 64, 1u64 << (i % 64));
            if b.judged[word] & bit == 0 {
                b.judged[word] |= bit;
                b.judged_count += 1;
            }
        }
    }

    /// The event at `position` of `tenant`, judged.
    pub fn saw(&self, tenant: &str, position: u64, e: &Event) {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
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
            // The name as written is kept too, so that the next event of
            // the host (the common case) is found without allocating.
            if !span.hosts.contains(c) {
                let full = c.to_ascii_lowercase();
                let short = full.split('.').next().unwrap_or(&full).to_string();
                span.hosts.insert(short);
                span.hosts.insert(full);
                span.hosts.insert(c.to_string());
            }
        }
    }

    /// Forgets the blocks wholly below `position` (removed from the log by
    /// retention): the index is bounded by the log it describes.
    pub fn forget_below(&self, position: u64) {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        *blocks = blocks.split_off(&(position / BLOCK));
    }

    /// The ranges of positions below `end` a search for `w` must read,
    /// in order: every block not wholly judged here, and those whose span
    /// for the tenant meets the period and the hosts.
    pub fn to_read(&self, w: &Wanted, end: u64) -> Vec<Range<u64>> {
        if w.from.is_none() && w.to.is_none() && w.hosts.is_empty() {
            return std::iter::once(0..end).collect();
        }
        let hosts: Vec<String> = w.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
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
                        in_time && (hosts.is_empty() || hosts.iter().any(|h| s.hosts.contains(h)))
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
            ix.blocks.lock().unwrap().keys().collect::<Vec<_>>(),
            [&1, &2]
        );
        ix.judged(0..BLOCK);
        // A position judged twice counts once.
        ix.judged(0..10);
        assert_eq!(ask(Some(500), None, &[], "default"), one(BLOCK..end));
    }
}
