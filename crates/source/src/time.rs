//! Timestamp parsing shared by every reader.
//!
//! Logs write instants in many ways; every reader converts them to UTC
//! here. A time without an offset is taken as UTC, because that is what
//! Windows (`SystemTime`), Sysmon (`UtcTime`) and most JSON exporters write.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use vigie_event::Timestamp;

/// Parses the timestamp layouts found in Windows, ECS and generic JSON logs:
/// RFC 3339 (`2025-11-27T07:40:10.165324Z`, `...+01:00`), the same with a
/// space instead of `T`, with `+0100` offsets, and offset-less times
/// (taken as UTC).
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.len() < 10 || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
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
        return Some(t.with_timezone(&Utc));
    }
    let s = s.strip_suffix(" UTC").unwrap_or(s);
    let s = s.strip_suffix('Z').unwrap_or(s);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f %z"] {
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    if s.len() == 10 {
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
        }
    }
    None
}

/// An epoch number as a timestamp: seconds, or milliseconds when the value
/// is too large to be seconds before year 5000 (JSON exporters use both).
pub fn from_epoch(n: i64) -> Option<Timestamp> {
    if n.abs() >= 100_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
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
    }
}
