//! Timestamp parsing shared by every reader.
//!
//! Logs write instants in many ways; every reader converts them to UTC
//! here. [`parse_when`] keeps apart what a text *states* (an offset or a
//! `Z`: [`When::Utc`]) from what it leaves open (no zone at all:
//! [`When::Naive`]), because an offset-less time is only an instant once
//! the zone it was written in is known ([`resolve`]): NXLog's `EventTime`
//! is the collector's local time, RFC 3164 syslog headers the sender's.
//! Which zone, and whether a `Z` can be believed, is decided per file by
//! [`crate::clock`]. [`parse_timestamp`] is the short form that takes an
//! offset-less time as UTC, which is right for the values Windows and
//! Sysmon document as UTC (`SystemTime`, `UtcTime`).

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use vigie_event::Timestamp;
use vigie_lang::Zone;

/// Times are clamped at parse time to years 1..=9999, so that no later
/// arithmetic (zone offsets, year inference, the scope's spans) can
/// overflow chrono's range (±262,143 years): a time beyond is read as no
/// time, counted here per thread (a file is parsed on one thread) and
/// reported by the reader ([`crate::Sink`]), which also applies the
/// narrower plausible range [`PLAUSIBLE_YEARS`].
pub const PARSE_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Event times outside these years are kept as no time (the raw value
/// stays in the event's fields) and reported: no Windows, syslog or
/// collector clock writes them, and one such time would stretch every
/// span and chart of the run.
pub const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1970..=2100;

thread_local! {
    static REJECTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many times were rejected at parse on this thread so far.
pub(crate) fn rejected() -> u64 {
    REJECTED.with(|c| c.get())
}

/// `n` if its year is in [`PARSE_YEARS`] (else counted, `None`).
pub(crate) fn sane_naive(n: NaiveDateTime) -> Option<NaiveDateTime> {
    use chrono::Datelike;
    if PARSE_YEARS.contains(&n.year()) {
        Some(n)
    } else {
        REJECTED.with(|c| c.set(c.get() + 1));
        None
    }
}

/// `t` if its year is in [`PARSE_YEARS`] (else counted, `None`).
pub(crate) fn sane(t: Timestamp) -> Option<Timestamp> {
    sane_naive(t.naive_utc()).map(|_| t)
}

/// A time as written: an instant, or a wall-clock time whose zone the
/// text does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The text stated its offset (`Z`, `+02:00`, ` UTC`), or was an
    /// epoch number.
    Utc(Timestamp),
    /// No zone in the text (`2020-08-06 11:56:04`).
    Naive(NaiveDateTime),
}

impl When {
    /// The instant, reading a naive time in `zone` (UTC when `None`).
    pub fn resolve(self, zone: Option<Zone>) -> Option<Timestamp> {
        match self {
            When::Utc(t) => Some(t),
            When::Naive(n) => resolve(n, zone),
        }
    }
}

/// A wall-clock time in `zone` as an instant, with the zone's
/// daylight-saving rules. In the hour repeated when clocks go back the
/// earlier instant is taken; a time in the hour skipped when they go
/// forward (which no clock showed) is read with the offset in force just
/// before the change, as most log tools do.
pub fn resolve(n: NaiveDateTime, zone: Option<Zone>) -> Option<Timestamp> {
    match zone {
        None | Some(Zone::Utc) => Some(Utc.from_utc_datetime(&n)),
        Some(Zone::Iana(tz)) => match tz.from_local_datetime(&n) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
            LocalResult::None => {
                let before = n - chrono::Duration::hours(3);
                let off = tz.offset_from_local_datetime(&before).earliest()?;
                let fixed = chrono::Offset::fix(&off);
                fixed
                    .from_local_datetime(&n)
                    .single()
                    .map(|t| t.with_timezone(&Utc))
            }
        },
    }
}

/// Parses a time the way [`parse_timestamp`] does, but keeps whether the
/// text stated its zone. Numbers in text are not epochs here (a JSON
/// number is: see [`from_epoch`]).
pub fn parse_when(s: &str) -> Option<When> {
    match parse_when_unchecked(s)? {
        When::Utc(t) => sane(t).map(When::Utc),
        When::Naive(n) => sane_naive(n).map(When::Naive),
    }
}

fn parse_when_unchecked(s: &str) -> Option<When> {
    let s = s.trim();
    if s.len() < 10 || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(When::Utc(t.with_timezone(&Utc)));
    }
    // Normalise the date/time separator so one set of patterns suffices.
    let owned;
    let s = if s.as_bytes().get(10) == Some(&b' ') {
        owned = format!("{}T{}", &s[..10], &s[11..]);
        owned.as_str()
    } else {
        s
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(When::Utc(t.with_timezone(&Utc)));
    }
    let (s, stated) = match s.strip_suffix(" UTC").or_else(|| s.strip_suffix('Z')) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f %z"] {
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(s, fmt) {
            return Some(When::Utc(t.with_timezone(&Utc)));
        }
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
        .or_else(|| {
            (s.len() == 10)
                .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .flatten()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(if stated {
        When::Utc(Utc.from_utc_datetime(&naive))
    } else {
        When::Naive(naive)
    })
}

/// Parses the timestamp layouts found in Windows, ECS and generic JSON logs:
/// RFC 3339 (`2025-11-27T07:40:10.165324Z`, `...+01:00`), the same with a
/// space instead of `T`, with `+0100` offsets, and offset-less times
/// (taken as UTC: use [`parse_when`] where the zone is in doubt).
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    parse_when(s).and_then(|w| w.resolve(None))
}

/// An epoch number as a timestamp: seconds, or milliseconds when the value
/// is too large to be seconds before year 5000 (JSON exporters use both).
pub fn from_epoch(n: i64) -> Option<Timestamp> {
    if n.unsigned_abs() >= 100_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
    .and_then(sane)
}

/// A fractional epoch in seconds (Velociraptor writes
/// `TimeCreated.SystemTime` as `1549462715.946133`), to the microsecond.
pub fn from_epoch_f64(x: f64) -> Option<Timestamp> {
    if !x.is_finite() || x.abs() > 1e13 {
        return None;
    }
    let micros = (x * 1e6).round() as i64;
    DateTime::from_timestamp_micros(micros).and_then(sane)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(t: Option<Timestamp>) -> String {
        t.map(|t| t.to_rfc3339()).unwrap_or_default()
    }

    #[test]
    fn layouts() {
        assert_eq!(
            iso(parse_timestamp("2025-11-27T07:40:10.165324Z")),
            "2025-11-27T07:40:10.165324+00:00"
        );
        assert_eq!(
            iso(parse_timestamp("2026-01-09T02:10:03+01:00")),
            "2026-01-09T01:10:03+00:00"
        );
        assert_eq!(
            iso(parse_timestamp("2019-03-19 23:34:25.540")),
            "2019-03-19T23:34:25.540+00:00"
        );
        assert_eq!(
            iso(parse_timestamp("2026-01-09 02:10:03 +0100")),
            "2026-01-09T01:10:03+00:00"
        );
        assert_eq!(
            iso(parse_timestamp("2026-01-09T02:10:03.5+0200")),
            "2026-01-09T00:10:03.500+00:00"
        );
        assert_eq!(
            iso(parse_timestamp("2026-01-09 02:10:03 UTC")),
            "2026-01-09T02:10:03+00:00"
        );
        // Hayabusa's timeline format.
        assert_eq!(
            iso(parse_timestamp("2019-03-19 23:34:25.540 +01:00")),
            "2019-03-19T22:34:25.540+00:00"
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2026-13-45T00:00:00Z"), None);
        assert_eq!(iso(from_epoch(1_767_924_603)), "2026-01-09T02:10:03+00:00");
        assert_eq!(
            iso(from_epoch(1_767_924_603_000)),
            "2026-01-09T02:10:03+00:00"
        );
        assert_eq!(
            iso(from_epoch_f64(1_549_462_715.946_133)),
            "2019-02-06T14:18:35.946133+00:00"
        );
    }

    #[test]
    fn zone_stated_or_not() {
        let n = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        // NXLog's EventTime: no zone.
        assert_eq!(
            parse_when("2020-08-06 11:56:04"),
            Some(When::Naive(n("2020-08-06 11:56:04")))
        );
        // A Z, an offset or " UTC" state it.
        for s in [
            "2020-08-06T15:56:04Z",
            "2020-08-06 17:56:04+02:00",
            "2020-08-06 15:56:04 UTC",
            "2020-08-06 16:56:04 +0100",
        ] {
            assert_eq!(
                parse_when(s),
                Some(When::Utc(Utc.from_utc_datetime(&n("2020-08-06 15:56:04")))),
                "{s}"
            );
        }
    }

    #[test]
    fn naive_times_read_in_a_zone_with_its_daylight_saving_rules() {
        let paris: Zone = "Europe/Paris".parse().unwrap();
        let n = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let r = |s: &str| iso(resolve(n(s), Some(paris)));
        assert_eq!(r("2026-01-09 02:10:03"), "2026-01-09T01:10:03+00:00");
        assert_eq!(r("2026-07-09 02:10:03"), "2026-07-09T00:10:03+00:00");
        // 29 March 2026: 02:00 CET -> 03:00 CEST; 02:30 never existed.
        assert_eq!(r("2026-03-29 02:30:00"), "2026-03-29T01:30:00+00:00");
        // 25 October 2026: 03:00 CEST -> 02:00 CET; 02:30 happened twice.
        assert_eq!(r("2026-10-25 02:30:00"), "2026-10-25T00:30:00+00:00");
        assert_eq!(
            iso(resolve(n("2026-01-09 02:10:03"), None)),
            "2026-01-09T02:10:03+00:00"
        );
    }
}
