//! Time arithmetic that never panics.
//!
//! Why: timestamps come from the logs, and a damaged or hostile one sits
//! at chrono's limits (year ±262,143): `t - Duration::hours(24)` then
//! overflows and `DateTime`'s operators panic, losing the whole run. Every
//! window the analysis computes goes through these saturating forms.

use chrono::{DateTime, Duration, Utc};
use vigie_event::Timestamp;

/// `t - d`, or the earliest representable time.
pub(crate) fn minus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `t + d`, or the latest representable time.
pub(crate) fn plus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(crate) fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

pub(crate) fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_at_the_limits_saturate() {
        let lo = DateTime::<Utc>::MIN_UTC;
        let hi = DateTime::<Utc>::MAX_UTC;
        assert_eq!(minus(lo, hours(24)), lo);
        assert_eq!(plus(hi, hours(24)), hi);
        // Spans between the limits fit in a Duration (no overflow there).
        assert!(hi.signed_duration_since(lo) > Duration::zero());
    }
}
