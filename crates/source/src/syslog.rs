//! Syslog text: RFC 5424, RFC 3164 (BSD), the "high precision" variant
//! rsyslog writes (`2026-01-09T02:10:03.123+01:00 host app[pid]: msg`),
//! and FortiGate `key=value` logs with or without a syslog header.
//!
//! # Fields
//!
//! Header parts become `facility`, `severity` (integers, from `<PRI>`),
//! `hostname`, `appname`, `procid`, `msgid` and `message` (the payload as
//! written, kept for keyword search and as evidence). RFC 5424 structured
//! data gives `<SD-ID>.<param>` fields. A payload of `key=value` pairs
//! (FortiGate) gives one field per key under the key's own name — the
//! names SigmaHQ's FortiGate rules use (`action`, `user`, `remip`,
//! `logid`, …) — with quoted values unquoted; values stay strings
//! (`logid="0101039426"` keeps its leading zero; numeric comparisons
//! parse text anyway).
//!
//! # Envelope
//!
//! * channel: `syslog`;
//! * provider: the app-name (tag), or `fortigate` for FortiGate lines
//!   (a `logid` together with `devname`, `devid` or `type`);
//! * computer: FortiGate `devname`, else the header hostname;
//! * event id: none;
//! * timestamp, in order of preference: FortiGate `eventtime` (epoch in
//!   s/ms/µs/ns), FortiGate `date`+`time`(+`tz`), the header timestamp.
//!
//! # Sysmon for Linux
//!
//! Sysmon for Linux logs each event as Windows event XML in the message of
//! a syslog line from `sysmon` (`Nov 18 14:33:22 host sysmon:
//! <Event><System><Provider Name="Linux-Sysmon" …`; Sysinternals'
//! SysmonForLinux README: "logs to /var/log/syslog"). Such a payload is
//! read as event XML ([`crate::xml`]): fields under their Sigma names
//! (`Image`, `CommandLine`, `DestinationIp`…), the envelope from `System`
//! (channel `Linux-Sysmon/Operational`, provider `Linux-Sysmon`, the
//! event id, the computer), and the time from `SystemTime` (UTC) rather
//! than the header. The header keeps `hostname`/`appname`/`procid`; the
//! XML text itself is not kept a second time as `message`. Its header
//! time, beside the exact `SystemTime`, tells the zone of that host's
//! syslog clock, which corrects the header times of its other lines in
//! the same file (see [`crate::clock`]). A payload cut at the relay's
//! message size limit is reported and kept as text.
//!
//! # Year-less and zone-less timestamps
//!
//! RFC 3164 timestamps (`Jan  9 02:10:03`) have no year. The year is
//! [`ReadOptions::syslog_year`] when given (a CLI option); otherwise it is
//! taken from a reference instant — the file's modification time in
//! [`crate::read_file`], the current time in [`crate::read_bytes`] — as
//! the latest year that does not put the line more than a day after the
//! reference (a log cannot be written after its file was last modified;
//! so a December line in a file modified in January belongs to the
//! previous year). Times without a zone (RFC 3164, FortiGate without
//! `tz`) are read in [`ReadOptions::input_zone`] (default: UTC, stated in
//! the notes) unless the file shows their offset (see [`crate::clock`]).
//! The assumed year is stated in the report's notes.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use memchr::memchr;
use vigie_event::{Event, Locator, Origin, Value};

use crate::clock::{Check, Stamp};
use crate::flatten::{flatten_windows, name};
use crate::time::{parse_when, When};
use crate::{Place, ReadOptions, Sink, SourceError};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Whether text starts like a syslog or FortiGate line (used by sniffing).
pub(crate) fn looks_like_syslog(b: &[u8]) -> bool {
    let line = &b[..memchr(b'\n', b).unwrap_or(b.len())];
    let Ok(line) = std::str::from_utf8(line) else {
        // A prefix cut inside a UTF-8 sequence: judge on the valid part.
        let valid = std::str::from_utf8(line)
            .err()
            .map_or(0, |e| e.valid_up_to());
        return valid > 16 && looks_like_syslog(&line[..valid]);
    };
    let line = line.trim_end_matches('\r');
    if let Some(rest) = strip_pri(line).map(|(_, r)| r) {
        return !rest.is_empty();
    }
    bsd_time(line).is_some() || iso_prefix(line).is_some() || is_forti(line)
}

fn is_forti(line: &str) -> bool {
    line.starts_with("date=")
        || (looks_like_kv(line) && line.contains(" date=") && line.contains(" time="))
}

/// `<PRI>` at the start: (pri, rest).
fn strip_pri(line: &str) -> Option<(u8, &str)> {
    let rest = line.strip_prefix('<')?;
    let end = rest.find('>')?;
    if end == 0 || end > 3 {
        return None;
    }
    let pri: u16 = rest[..end].parse().ok()?;
    if pri > 191 {
        return None;
    }
    Some((pri as u8, &rest[end + 1..]))
}

/// RFC 3164 `Mmm dd hh:mm:ss` at the start: (month, day, time, rest).
fn bsd_time(s: &str) -> Option<(u32, u32, NaiveTime, &str)> {
    let b = s.as_bytes();
    if b.len() < 15 || b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
        return None;
    }
    // `get`: the checks above are on bytes, a multi-byte character may
    // still straddle these bounds in a line that is not a timestamp.
    let month = MONTHS.iter().position(|m| Some(*m) == s.get(..3))? as u32 + 1;
    let day: u32 = s.get(4..6)?.trim_start().parse().ok()?;
    let time = NaiveTime::parse_from_str(s.get(7..15)?, "%H:%M:%S").ok()?;
    // Some devices add fractions (`02:10:03.123`).
    let mut rest = s.get(15..)?;
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    Some((month, day, time, rest.strip_prefix(' ').unwrap_or(rest)))
}

/// An ISO 8601 timestamp token at the start: (timestamp, rest).
fn iso_prefix(s: &str) -> Option<(When, &str)> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let end = if b[10] == b'T' {
        s.find(' ').unwrap_or(s.len())
    } else {
        // `2026-01-09 02:10:03 host …`: the time is the second token.
        s[11..].find(' ').map_or(s.len(), |n| n + 11)
    };
    let t = parse_when(&s[..end])?;
    Some((t, s[end..].trim_start_matches(' ')))
}

/// Whether a payload starts with `key=`.
fn looks_like_kv(s: &str) -> bool {
    let Some(eq) = s.find('=') else { return false };
    eq > 0
        && s[..eq]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// Parses `k1=v1 k2="v 2" …`. Quoted values are unquoted (`\"` and `\\`
/// unescaped). Text that is not a pair is returned as `None`.
pub fn parse_kv(s: &str) -> Option<Vec<(&str, std::borrow::Cow<'_, str>)>> {
    use std::borrow::Cow;
    let b = s.as_bytes();
    // At most one pair per `=`: sized once (a firewall's line has 20 to 40
    // pairs, and growing the vector from empty was a visible share of
    // reading FortiGate logs); capped, so a line of `=` padding does not
    // reserve forty bytes per byte.
    let mut out = Vec::with_capacity(memchr::memchr_iter(b'=', b).count().min(128));
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' || i == ks {
            return None;
        }
        let key = &s[ks..i];
        i += 1;
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let vs = i;
            let mut escaped = false;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    escaped = true;
                    i += 1;
                }
                i += 1;
            }
            let raw = &s[vs..i.min(b.len())];
            let v = if escaped {
                Cow::Owned(raw.replace("\\\"", "\"").replace("\\\\", "\\"))
            } else {
                Cow::Borrowed(raw)
            };
            i += 1; // closing quote (or end of a truncated line)
            out.push((key, v));
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            out.push((key, Cow::Borrowed(&s[vs..i])));
        }
    }
    Some(out)
}

/// RFC 5424 structured data at the start of `s`: (params, rest).
#[allow(clippy::type_complexity)]
fn structured_data(s: &str) -> Option<(Vec<(String, String)>, &str)> {
    if let Some(rest) = s.strip_prefix('-') {
        return Some((Vec::new(), rest.strip_prefix(' ').unwrap_or(rest)));
    }
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && b[i] == b'[' {
        i += 1;
        let id_start = i;
        while i < b.len() && b[i] != b' ' && b[i] != b']' {
            i += 1;
        }
        let id = &s[id_start..i];
        loop {
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if i >= b.len() {
                return None;
            }
            if b[i] == b']' {
                i += 1;
                break;
            }
            let ks = i;
            while i < b.len() && b[i] != b'=' {
                i += 1;
            }
            let key = &s[ks..i];
            if i + 1 >= b.len() || b[i + 1] != b'"' {
                return None;
            }
            i += 2;
            let mut v = String::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() && matches!(b[i + 1], b'"' | b'\\' | b']') {
                    i += 1;
                }
                let ch = s[i..].chars().next()?;
                v.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
            out.push((format!("{id}.{key}"), v));
        }
    }
    if out.is_empty() && i == 0 {
        return None;
    }
    let rest = &s[i.min(s.len())..];
    Some((out, rest.strip_prefix(' ').unwrap_or(rest)))
}

/// Year inference for year-less timestamps (see the module doc).
struct YearRule {
    fixed: Option<i32>,
    /// The reference instant as a wall-clock time (the day of tolerance
    /// covers any zone).
    reference: NaiveDateTime,
    used: Option<i32>,
}

impl YearRule {
    fn resolve(&mut self, month: u32, day: u32, time: NaiveTime) -> Option<NaiveDateTime> {
        let mk =
            |y: i32| NaiveDate::from_ymd_opt(y, month, day).map(|d| NaiveDateTime::new(d, time));
        let t = match self.fixed {
            Some(y) => mk(y)?,
            None => {
                let y = self.reference.year();
                match mk(y) {
                    Some(t)
                        if self
                            .reference
                            .checked_add_signed(Duration::days(1))
                            .is_none_or(|r| t <= r) =>
                    {
                        t
                    }
                    // In the future of the reference, or 29 February of a
                    // common year: the previous year (or the one before).
                    _ => mk(y - 1).or_else(|| mk(y - 4))?,
                }
            }
        };
        let t = crate::time::sane_naive(t)?;
        if self.used.is_none() {
            self.used = Some(t.year());
        }
        Some(t)
    }
}

pub(crate) fn read_syslog(
    b: &[u8],
    src: &Arc<str>,
    opts: &ReadOptions,
    sink: &mut Sink<'_>,
    errors: &mut Vec<SourceError>,
    notes: &mut Vec<String>,
) {
    let reference = opts.reference_time.unwrap_or_else(Utc::now);
    let mut years = YearRule {
        fixed: opts.syslog_year,
        reference: reference.naive_utc(),
        used: None,
    };
    let mut headerless = (0u64, 0u64);
    let mut line_no = 0u64;
    let mut pos = 0;
    while pos < b.len() {
        let end = memchr(b'\n', &b[pos..]).map_or(b.len(), |n| pos + n);
        let raw = &b[pos..end];
        pos = end + 1;
        line_no += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(|c| c.is_ascii_whitespace()) {
            continue;
        }
        if memchr(0, raw).is_some() {
            sink.skipped += 1;
            errors.push(SourceError::new(
                Place::Line(line_no),
                "binary data (NUL bytes) in a syslog line; line skipped",
            ));
            continue;
        }
        // Not all UTF-8: the odd bytes read as Windows-1252, as JSON lines
        // are (a sender set to Latin-1 — every accent of a French name one
        // byte — would otherwise lose them to U+FFFD), counted and said.
        // UTF-8 cut inside its last character keeps U+FFFD there, not
        // counted (see `read_text`).
        let (text, cp1252) = crate::json::read_text(raw);
        if cp1252 {
            sink.not_utf8(line_no);
        }
        let mut ev = Event::new(Origin {
            source: src.clone(),
            locator: Locator::Line(line_no),
        });
        let line = parse_line(&text, &mut ev, &mut years);
        if !line.recognised {
            if headerless.0 == 0 {
                headerless.1 = line_no;
            }
            headerless.0 += 1;
        }
        if let Some(e) = line.xml_error {
            errors.push(SourceError::new(
                Place::Line(line_no),
                format!("Sysmon event XML truncated or malformed ({e}); line kept as text"),
            ));
        }
        sink.push_stamped(ev, line.stamp);
    }
    if headerless.0 > 0 {
        notes.push(format!(
            "{} line(s) without a recognisable syslog header kept as message-only events (first at line {})",
            headerless.0, headerless.1
        ));
    }
    if let (None, Some(y)) = (opts.syslog_year, years.used) {
        notes.push(format!(
            "year-less syslog timestamps placed in {y} (or the year before when later than {}): \
             reference = file modification time; set the year explicitly if this is wrong",
            reference.format("%Y-%m-%d")
        ));
    }
}

/// What [`parse_line`] found.
struct Line {
    /// A header was recognised (else the line is a message-only event).
    recognised: bool,
    stamp: Stamp,
    /// A Sysmon XML payload that could not be read.
    xml_error: Option<String>,
}

/// Parses one line into `ev`.
fn parse_line(line: &str, ev: &mut Event, years: &mut YearRule) -> Line {
    let mut recognised = false;
    let mut rest = line;
    let mut header_time = None;
    let mut hostname: Option<&str> = None;
    let mut app: Option<&str> = None;
    if let Some((pri, r)) = strip_pri(rest) {
        recognised = true;
        ev.push(name("facility"), Value::Int((pri >> 3) as i64));
        ev.push(name("severity"), Value::Int((pri & 7) as i64));
        rest = r;
        // RFC 5424: a version number right after PRI.
        let v_end = rest.find(' ').unwrap_or(0);
        if v_end > 0 && v_end <= 2 && rest[..v_end].bytes().all(|c| c.is_ascii_digit()) {
            let mut parts = rest[v_end + 1..].splitn(6, ' ');
            let ts = parts.next().unwrap_or("-");
            let host = parts.next().unwrap_or("-");
            let appname = parts.next().unwrap_or("-");
            let procid = parts.next().unwrap_or("-");
            let msgid = parts.next().unwrap_or("-");
            let after = parts.next().unwrap_or("");
            header_time = if ts == "-" { None } else { parse_when(ts) };
            let nil = |s: &str| (s != "-" && !s.is_empty()).then(|| s.to_string());
            hostname = (host != "-").then_some(host);
            app = (appname != "-").then_some(appname);
            if let Some(h) = nil(host) {
                ev.push(name("hostname"), h);
            }
            if let Some(a) = nil(appname) {
                ev.push(name("appname"), a);
            }
            if let Some(p) = nil(procid) {
                ev.push(name("procid"), p);
            }
            if let Some(m) = nil(msgid) {
                ev.push(name("msgid"), m);
            }
            let msg = match structured_data(after) {
                Some((sd, msg)) => {
                    for (k, v) in sd {
                        ev.push(name(&k), v);
                    }
                    msg
                }
                None => after,
            };
            let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
            let (stamp, xml_error) = finish(ev, msg, header_time, hostname, app);
            return Line {
                recognised: true,
                stamp,
                xml_error,
            };
        }
    }
    // RFC 3164-style header (or none, for bare FortiGate lines).
    if let Some((month, day, time, r)) = bsd_time(rest) {
        recognised = true;
        header_time = years.resolve(month, day, time).map(When::Naive);
        rest = r;
        (hostname, app, rest) = host_and_tag(rest, ev);
    } else if let Some((t, r)) = iso_prefix(rest) {
        recognised = true;
        header_time = Some(t);
        rest = r;
        (hostname, app, rest) = host_and_tag(rest, ev);
    }
    if !recognised && is_forti(rest) {
        recognised = true;
    }
    let (stamp, xml_error) = finish(ev, rest, header_time, hostname, app);
    Line {
        recognised,
        stamp,
        xml_error,
    }
}

/// After a 3164 timestamp: `HOSTNAME TAG[PID]: MSG`, where either part may
/// be missing (a tag ends with `:`; a token containing `=` starts a
/// key=value payload).
fn host_and_tag<'a>(
    mut rest: &'a str,
    ev: &mut Event,
) -> (Option<&'a str>, Option<&'a str>, &'a str) {
    let mut hostname = None;
    let mut app = None;
    let token = |s: &'a str| s.split(' ').next().unwrap_or("");
    let t = token(rest);
    if !t.is_empty() && !t.ends_with(':') && !t.contains('=') && !t.contains('[') {
        hostname = Some(t);
        ev.push(name("hostname"), t);
        rest = rest[t.len()..].trim_start_matches(' ');
    }
    let t = token(rest);
    if let Some(tag) = t.strip_suffix(':') {
        if !tag.is_empty() && tag.len() <= 64 && !tag.contains('=') {
            let (a, pid) = match tag.find('[') {
                Some(i) if tag.ends_with(']') => (&tag[..i], Some(&tag[i + 1..tag.len() - 1])),
                _ => (tag, None),
            };
            app = Some(a);
            ev.push(name("appname"), a);
            if let Some(p) = pid {
                ev.push(name("procid"), p);
            }
            rest = rest[t.len()..].trim_start_matches(' ');
        }
    }
    (hostname, app, rest)
}

/// Adds the payload (`message`, key=value fields, or a Sysmon for Linux
/// event) and the envelope; describes the line's time.
fn finish(
    ev: &mut Event,
    msg: &str,
    header_time: Option<When>,
    hostname: Option<&str>,
    app: Option<&str>,
) -> (Stamp, Option<String>) {
    let header = |time: Option<When>| Stamp {
        time,
        field: "syslog header",
        // A header stating its offset (RFC 5424, rsyslog's RFC 3339) is
        // believed; a zone-less one is checked where the file allows.
        trusted: matches!(time, Some(When::Utc(_))),
        ..Stamp::default()
    };
    let mut xml_error = None;
    if msg.starts_with("<Event") {
        match crate::xml::first_event_json(msg) {
            Some(Ok(event)) => {
                flatten_windows(&event, ev);
                if ev.computer.is_none() {
                    ev.computer = hostname.map(Into::into);
                }
                let t = ev
                    .get("TimeCreated_SystemTime")
                    .and_then(crate::flatten::time_of);
                let mut stamp = Stamp::trusted(t, "SystemTime");
                stamp.check = match (header_time, t) {
                    (Some(seen @ When::Naive(_)), Some(truth)) => Some(Check {
                        seen,
                        seen_field: "syslog header",
                        truth,
                        truth_field: "Sysmon SystemTime",
                        exact: true,
                    }),
                    _ => None,
                };
                if stamp.time.is_none() {
                    stamp = header(header_time);
                }
                return (stamp, None);
            }
            Some(Err(e)) => xml_error = Some(e),
            None => {}
        }
    }
    ev.push(name("message"), msg);
    let mut forti = false;
    let mut kv_time = None;
    if looks_like_kv(msg) {
        if let Some(pairs) = parse_kv(msg) {
            let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| &**v);
            forti = get("logid").is_some()
                && (get("devname").is_some() || get("devid").is_some() || get("type").is_some());
            kv_time = kv_timestamp(get("eventtime"), get("date"), get("time"), get("tz"));
            if let Some(d) = get("devname") {
                ev.computer = Some(d.into());
            }
            for (k, v) in &pairs {
                ev.push(name(k), &**v);
            }
        }
    }
    if ev.computer.is_none() {
        ev.computer = hostname.map(Into::into);
    }
    ev.channel = Some("syslog".into());
    ev.provider = if forti {
        Some("fortigate".into())
    } else {
        app.map(Into::into)
    };
    let stamp = match kv_time {
        Some((t, field)) => Stamp {
            time: Some(t),
            field,
            trusted: matches!(t, When::Utc(_)),
            ..Stamp::default()
        },
        None => header(header_time),
    };
    (stamp, xml_error)
}

/// FortiGate time: `eventtime` (epoch, precision from its length), else
/// `date` + `time` with `tz` (`+0100`, `-0800`, `+01:00`), else the same
/// without a zone.
fn kv_timestamp(
    eventtime: Option<&str>,
    date: Option<&str>,
    time: Option<&str>,
    tz: Option<&str>,
) -> Option<(When, &'static str)> {
    if let Some(n) = eventtime.and_then(|e| e.trim().parse::<i64>().ok()) {
        let t = match n.unsigned_abs() {
            x if x >= 100_000_000_000_000_000 => Some(DateTime::from_timestamp_nanos(n)),
            x if x >= 100_000_000_000_000 => DateTime::from_timestamp_micros(n),
            x if x >= 100_000_000_000 => DateTime::from_timestamp_millis(n),
            _ => DateTime::from_timestamp(n, 0),
        };
        if let Some(t) = t.and_then(crate::time::sane) {
            return Some((When::Utc(t), "FortiGate eventtime"));
        }
    }
    let (date, time) = (date?, time?);
    let naive =
        NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S").ok()?;
    let naive = crate::time::sane_naive(naive)?;
    let when = match tz.map(str::trim).and_then(parse_offset) {
        Some(offset) => When::Utc(
            naive
                .and_utc()
                .checked_sub_signed(Duration::seconds(offset as i64))?,
        ),
        None => When::Naive(naive),
    };
    Some((when, "FortiGate date/time"))
}

/// `+0100`, `-08:00`, `UTC` → seconds east of UTC.
fn parse_offset(tz: &str) -> Option<i32> {
    if tz.eq_ignore_ascii_case("utc") || tz.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, digits) = match tz.as_bytes().first()? {
        b'+' => (1, &tz[1..]),
        b'-' => (-1, &tz[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_pairs() {
        let p = parse_kv(r#"a=1 b="two words" c="q\"uote" d= e=x"#).unwrap();
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, &**v)).collect();
        assert_eq!(
            p,
            [
                ("a", "1"),
                ("b", "two words"),
                ("c", "q\"uote"),
                ("d", ""),
                ("e", "x")
            ]
        );
        assert!(parse_kv("not a pair").is_none());
    }

    #[test]
    fn multibyte_characters_at_header_offsets() {
        // 'é' straddles byte 15, where a BSD timestamp would end.
        assert!(bsd_time("Jan  9 02:10:0é rest").is_none());
        assert!(bsd_time("Jaé 9 02:10:03 h").is_none());
        assert!(bsd_time("Jan  9 02:10:03 hé").is_some());
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+0100"), Some(3600));
        assert_eq!(parse_offset("-08:00"), Some(-8 * 3600));
        assert_eq!(parse_offset("UTC"), Some(0));
        assert_eq!(parse_offset("CET"), None);
    }

    #[test]
    fn year_rule_goes_back_a_year_past_the_reference() {
        let mut y = YearRule {
            fixed: None,
            reference: NaiveDate::from_ymd_opt(2026, 1, 12)
                .unwrap()
                .and_hms_opt(8, 0, 0)
                .unwrap(),
            used: None,
        };
        let t = NaiveTime::from_hms_opt(23, 0, 0).unwrap();
        assert_eq!(y.resolve(12, 31, t).unwrap().year(), 2025);
        assert_eq!(y.resolve(1, 9, t).unwrap().year(), 2026);
        // One day of tolerance for clock skew and time zones.
        let early = NaiveTime::from_hms_opt(7, 0, 0).unwrap();
        assert_eq!(y.resolve(1, 13, early).unwrap().year(), 2026);
        assert_eq!(y.resolve(1, 13, t).unwrap().year(), 2025);
        assert_eq!(y.resolve(1, 14, t).unwrap().year(), 2025);
    }
}
