//! Time arithmetic for the scenario, in integer microseconds since the Unix
//! epoch (UTC).
//!
//! Why integers and a hand-written formatter: the full-week scale renders a
//! few million timestamps, and formatting through `chrono` dominates the
//! profile; civil-date arithmetic on integers is exact and cheap.
//!
//! The story is told in local time (Europe/Paris: staff arrive at 07:30,
//! the attacker logs in at 02:10) while Windows logs carry UTC, so every
//! schedule is built in local time and converted once with [`local_to_utc`].

use chrono::{Datelike, NaiveDate};

/// Microseconds since the Unix epoch, UTC.
pub type Us = i64;

pub const SEC: Us = 1_000_000;
pub const MIN: Us = 60 * SEC;
pub const HOUR: Us = 60 * MIN;
pub const DAY: Us = 24 * HOUR;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Midnight (UTC) of a date, in microseconds.
pub fn date_us(d: NaiveDate) -> Us {
    days_from_civil(d.year() as i64, d.month(), d.day()) * DAY
}

/// The UTC offset of Europe/Paris at a UTC instant: +1 h, +2 h in summer
/// (EU rule: last Sunday of March 01:00 UTC to last Sunday of October
/// 01:00 UTC).
pub fn paris_offset(utc: Us) -> Us {
    let (y, _, _) = civil_from_days(utc.div_euclid(DAY));
    let last_sunday = |m: u32| {
        let last = days_from_civil(y, m, 31);
        // 1970-01-01 was a Thursday: weekday 0 = Monday.
        let wd = (last + 3).rem_euclid(7);
        last - (wd - 6).rem_euclid(7)
    };
    let start = last_sunday(3) * DAY + HOUR;
    let end = last_sunday(10) * DAY + HOUR;
    if utc >= start && utc < end {
        2 * HOUR
    } else {
        HOUR
    }
}

/// Converts a local (Europe/Paris) wall-clock instant to UTC.
pub fn local_to_utc(local: Us) -> Us {
    // The offset is evaluated at the approximate UTC instant; the one-hour
    // ambiguity at the change-over never matters to this scenario.
    local - paris_offset(local - HOUR)
}

/// Day of week of a local instant: 0 = Monday ... 6 = Sunday.
pub fn weekday(local: Us) -> u32 {
    (local.div_euclid(DAY) + 3).rem_euclid(7) as u32
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn push_date(out: &mut Vec<u8>, t: Us, sep: u8) -> Us {
    let days = t.div_euclid(DAY);
    let rem = t.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let y = y as u32;
    push2(out, y / 100);
    push2(out, y % 100);
    out.push(b'-');
    push2(out, m);
    out.push(b'-');
    push2(out, d);
    out.push(sep);
    let secs = (rem / SEC) as u32;
    push2(out, secs / 3600);
    out.push(b':');
    push2(out, secs / 60 % 60);
    out.push(b':');
    push2(out, secs % 60);
    rem % SEC
}

/// `2026-01-10T01:10:03.123456Z`: `System/TimeCreated/@SystemTime` as
/// `evtx_dump` renders it.
pub fn write_system_time(out: &mut Vec<u8>, t: Us) {
    let frac = push_date(out, t, b'T') as u32;
    out.push(b'.');
    let mut buf = [b'0'; 6];
    let mut f = frac;
    for i in (0..6).rev() {
        buf[i] = b'0' + (f % 10) as u8;
        f /= 10;
    }
    out.extend_from_slice(&buf);
    out.push(b'Z');
}

/// `2026-01-10 01:10:03.123`: Sysmon's `UtcTime`.
pub fn sysmon_time(t: Us) -> String {
    let mut out = Vec::with_capacity(23);
    let frac = push_date(&mut out, t, b' ') / 1000;
    out.push(b'.');
    out.push(b'0' + (frac / 100) as u8);
    out.push(b'0' + (frac / 10 % 10) as u8);
    out.push(b'0' + (frac % 10) as u8);
    String::from_utf8(out).expect("ascii")
}

/// ISO 8601 UTC with seconds only, for the ground truth.
pub fn iso(t: Us) -> String {
    let mut out = Vec::with_capacity(20);
    push_date(&mut out, t, b'T');
    out.push(b'Z');
    String::from_utf8(out).expect("ascii")
}

/// `(date, time)` of a local instant as FortiGate prints them:
/// `2026-01-10`, `02:10:03`.
pub fn local_date_time(local: Us) -> (String, String) {
    let mut out = Vec::with_capacity(19);
    push_date(&mut out, local, b' ');
    let s = String::from_utf8(out).expect("ascii");
    (s[..10].to_string(), s[11..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 1, 16), 20_469);
        for z in [-1000i64, 0, 20_469, 40_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // 2026-01-16 is a Friday.
        assert_eq!(weekday(days_from_civil(2026, 1, 16) * DAY), 4);
    }

    #[test]
    fn formats_like_evtx_dump_and_sysmon() {
        let t = days_from_civil(2026, 1, 10) * DAY + HOUR + 10 * MIN + 3 * SEC + 123_456;
        let mut out = Vec::new();
        write_system_time(&mut out, t);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-01-10T01:10:03.123456Z"
        );
        assert_eq!(sysmon_time(t), "2026-01-10 01:10:03.123");
        assert_eq!(iso(t), "2026-01-10T01:10:03Z");
    }

    #[test]
    fn paris_is_utc_plus_one_in_winter_two_in_summer() {
        let jan = days_from_civil(2026, 1, 10) * DAY + 2 * HOUR;
        assert_eq!(local_to_utc(jan), jan - HOUR);
        let jul = days_from_civil(2026, 7, 10) * DAY + 2 * HOUR;
        assert_eq!(local_to_utc(jul), jul - 2 * HOUR);
    }
}
