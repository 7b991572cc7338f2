//! Events already judged, to tell a shipper's copy from a new event.
//!
//! At-least-once shippers (Winlogbeat after a restart, NXLog after a lost
//! acknowledgement) send some events again. The copy stays in the log, as
//! sent; it is not judged nor observed a second time, so the scope does not
//! count it twice.
//!
//! Why a window and not every event: a copy follows its original by
//! seconds to minutes (a batch sent again after a timeout, a registry
//! position saved a little late), never by weeks, and a set of every event
//! ever judged is the one part of a long-running server's memory that
//! grows with each event. The hashes are kept in two generations of a
//! fixed size: when the newer fills, the older is dropped. A copy is
//! recognised when its original is among the last [`GENERATION`] to
//! 2 × [`GENERATION`] events judged (1.8 to 3.7 million: 90 s at 20,000
//! events/s, 15 min at 2,000/s); memory stays at most two tables of 2²¹
//! buckets (about 37 MiB), whatever the run's length. The window is the
//! server's, not each tenant's: on a node taking many communes, a fast
//! sender shortens it for all (a copy sent later than the window is
//! judged again; its detections are still stored once per id).

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::Mutex;

/// Hashes per generation: what a table of 2²¹ buckets holds at its load
/// limit (7/8), so that a generation never grows past 2²¹ buckets.
pub const GENERATION: usize = (1 << 21) / 8 * 7;

/// The keys are already keyed hashes: the table uses them as they are.
#[derive(Default)]
struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; kept total for any other caller.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Table = HashSet<u64, BuildHasherDefault<AsIs>>;

#[derive(Default)]
struct Generations {
    newer: Table,
    older: Table,
}

/// Events judged lately, by (tenant, computer, channel, record id, bytes),
/// as 64-bit hashes keyed per process (a sender cannot aim a collision).
#[derive(Default)]
pub struct Seen {
    keys: std::collections::hash_map::RandomState,
    generation: usize,
    tables: Mutex<Generations>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen").field("held", &self.held()).finish()
    }
}

impl Seen {
    /// A window of `generation` hashes per generation (tests use a small
    /// one; the server [`GENERATION`]).
    pub fn with_generation(generation: usize) -> Seen {
        Seen {
            generation: generation.max(1),
            ..Seen::default()
        }
    }

    /// The server's window, its two tables allocated and written once
    /// now, at their full size.
    ///
    /// Why: the window is bounded, but grown as it fills it added its
    /// ~37 MiB to the resident size over the first 1.8–3.7 million events
    /// — hours to days — so a server's memory climbed for that long
    /// before it was flat. Taken at the start, what the window costs is
    /// seen at once and never changes.
    pub fn reserved() -> Seen {
        let seen = Seen::default();
        {
            let mut t = seen.tables.lock().unwrap_or_else(|e| e.into_inner());
            let Generations { newer, older } = &mut *t;
            for table in [newer, older] {
                *table = Table::with_capacity_and_hasher(GENERATION, Default::default());
                // Every bucket written once (the pages taken now), then
                // emptied: `clear` keeps the allocation. Not in debug
                // builds, where 3.7 million inserts take seconds.
                let touch = if cfg!(debug_assertions) {
                    0
                } else {
                    GENERATION as u64
                };
                for k in 0..touch {
                    table.insert(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                }
                table.clear();
            }
        }
        seen
    }

    fn generation(&self) -> usize {
        if self.generation == 0 {
            GENERATION
        } else {
            self.generation
        }
    }

    /// Whether this is the first time the event is seen in the window.
    /// Events without a record id always are — nothing identifies a copy
    /// of them — but for a syslog line carrying a sub-second timestamp
    /// ([`precisely_stamped`]): the same bytes again are a shipper's copy
    /// (a restarted forwarder sending its FortiGate lines again counted
    /// « 3 tentatives » as 6). Two real identical messages within one
    /// second exist; within one nanosecond, one microsecond or one
    /// millisecond of the same device's clock they are the same message.
    ///
    /// A copy is the same record *and the same bytes*: an event that only
    /// shares the record id (a forged one sent ahead, a log cleared and
    /// refilled) is judged — dropping it would let anyone who can send
    /// blind detection by pre-sending record ids.
    pub fn first_time(&self, tenant: &str, event: &vigie_event::Event, raw: &[u8]) -> bool {
        let (Some(c), Some(ch), Some(r)) = (&event.computer, &event.channel, event.record_id)
        else {
            if event.record_id.is_none() && precisely_stamped(raw) {
                return self.first_hash(self.keys.hash_one((tenant, u8::MAX, raw)));
            }
            return true;
        };
        let mut h = self.keys.build_hasher();
        tenant.hash(&mut h);
        // Case folded as hashed, through a buffer on the stack: no
        // allocation per event, and a few writes rather than one per byte
        // (a hasher call per byte was most of what this check cost).
        let mut buf = [0u8; 64];
        for part in [c.as_bytes(), &[0], ch.as_bytes()] {
            for chunk in part.chunks(buf.len()) {
                for (d, s) in buf.iter_mut().zip(chunk) {
                    *d = s.to_ascii_lowercase();
                }
                h.write(&buf[..chunk.len()]);
            }
        }
        (r, raw).hash(&mut h);
        self.first_hash(h.finish())
    }

    fn first_hash(&self, h: u64) -> bool {
        let limit = self.generation();
        let mut t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if t.older.contains(&h) {
            return false;
        }
        if !t.newer.insert(h) {
            return false;
        }
        if t.newer.len() >= limit {
            // The older generation's table is reused for the next one:
            // no allocation in the steady state.
            let Generations { newer, older } = &mut *t;
            std::mem::swap(newer, older);
            newer.clear();
        }
        true
    }

    /// Hashes held now (at most two generations).
    pub fn held(&self) -> usize {
        let t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        t.newer.len() + t.older.len()
    }
}

/// Whether a syslog line carries a timestamp finer than the second, which
/// makes it its own identity: FortiGate's `eventtime=` (milli-, micro- or
/// nanoseconds since 1970: 13 digits or more), or an RFC 5424 header whose
/// TIMESTAMP has a fraction (`<PRI>1 2026-01-17T08:30:00.123456+01:00`).
pub fn precisely_stamped(raw: &[u8]) -> bool {
    // RFC 5424: `<PRI>1 ` then the timestamp; its seconds at 17..19, then
    // a `.` and a digit.
    if raw.first() == Some(&b'<') {
        if let Some(end) = raw.iter().take(5).position(|&b| b == b'>') {
            let rest = &raw[end + 1..];
            if let Some(ts) = rest.strip_prefix(b"1 ") {
                let stamp_end = ts.iter().position(|&b| b == b' ').unwrap_or(ts.len());
                let stamp = &ts[..stamp_end];
                if stamp.len() > 21
                    && stamp[10] == b'T'
                    && stamp[19] == b'.'
                    && stamp[20].is_ascii_digit()
                {
                    return true;
                }
            }
        }
    }
    const KEY: &[u8] = b"eventtime=";
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&raw[from..], KEY) {
        let start = from + at;
        // A key of its own, not the end of another (`xeventtime=`).
        let own = start == 0 || matches!(raw[start - 1], b' ' | b',' | b';' | b'\t');
        let digits = raw[start + KEY.len()..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if own && digits >= 13 {
            return true;
        }
        from = start + KEY.len();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(record: u64) -> vigie_event::Event {
        let mut e = vigie_event::Event::new(vigie_event::Origin {
            source: "test".into(),
            locator: vigie_event::Locator::Position(record),
        });
        e.computer = Some("PC-01.mairie.local".into());
        e.channel = Some("Security".into());
        e.record_id = Some(record);
        e
    }

    #[test]
    fn a_syslog_line_with_a_sub_second_time_is_its_own_identity() {
        let forti = b"<189>date=2026-01-17 time=08:30:00 devname=\"FW01\" eventtime=1768635000123456789 tz=\"+0100\" action=\"tunnel-up\"";
        let rfc5424 = b"<134>1 2026-01-17T08:30:00.123456+01:00 FW01 - - - - msg";
        let plain = b"<13>Jan 17 08:30:00 fw01 sshd: Failed password";
        let seconds = b"<134>1 2026-01-17T08:30:00+01:00 FW01 - - - - msg";
        assert!(precisely_stamped(forti) && precisely_stamped(rfc5424));
        assert!(!precisely_stamped(plain) && !precisely_stamped(seconds));
        assert!(!precisely_stamped(b"xeventtime=1768635000123456789"));
        assert!(!precisely_stamped(b"eventtime=1768635000"), "seconds only");
        let seen = Seen::with_generation(100);
        let none = vigie_event::Event::new(vigie_event::Origin {
            source: "syslog".into(),
            locator: vigie_event::Locator::Position(0),
        });
        // Sent again: a copy. Another tenant's: its own.
        assert!(seen.first_time("t", &none, forti));
        assert!(!seen.first_time("t", &none, forti));
        assert!(seen.first_time("u", &none, forti));
        assert!(seen.first_time("t", &none, rfc5424));
        assert!(!seen.first_time("t", &none, rfc5424));
        // Two identical lines within the same second: both kept.
        assert!(seen.first_time("t", &none, plain));
        assert!(seen.first_time("t", &none, plain));
    }

    #[test]
    fn a_copy_within_the_window_is_known_and_the_window_is_bounded() {
        let seen = Seen::with_generation(100);
        for r in 0..1_000u64 {
            let e = event(r);
            assert!(seen.first_time("t", &e, b"x"), "record {r} is new");
            // Sent again right away (a batch retried): a copy.
            assert!(!seen.first_time("t", &e, b"x"));
            // Never more than two generations held.
            assert!(seen.held() <= 200, "held {}", seen.held());
        }
        // The last hundred are still known: a late copy of them is one.
        for r in 900..1_000u64 {
            assert!(!seen.first_time("t", &event(r), b"x"), "record {r}");
        }
        // One from far back has left the window: judged again (said in
        // the module's doc; a shipper does not resend from that far).
        assert!(seen.first_time("t", &event(3), b"x"));
    }

    #[test]
    fn the_reserved_window_starts_empty_and_knows_copies() {
        let seen = Seen::reserved();
        assert_eq!(seen.held(), 0);
        let e = event(7);
        assert!(seen.first_time("default", &e, b"raw"));
        assert!(!seen.first_time("default", &e, b"raw"));
        assert_eq!(seen.held(), 1);
    }

    #[test]
    fn same_record_other_bytes_or_tenant_is_not_a_copy() {
        let seen = Seen::with_generation(100);
        let e = event(7);
        assert!(seen.first_time("t", &e, b"original"));
        assert!(seen.first_time("t", &e, b"forged"));
        assert!(seen.first_time("u", &e, b"original"));
        // Case of the computer name does not make another event.
        let mut upper = event(7);
        upper.computer = Some("pc-01.MAIRIE.local".into());
        assert!(!seen.first_time("t", &upper, b"original"));
        // Without a record id, nothing identifies a copy.
        let mut bare = event(8);
        bare.record_id = None;
        assert!(seen.first_time("t", &bare, b"y"));
        assert!(seen.first_time("t", &bare, b"y"));
    }
}
