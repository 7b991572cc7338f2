//! JSON readers: JSON Lines, JSON arrays and concatenated (pretty-printed)
//! objects — the three shapes Windows-event JSON comes in (`evtx_dump`
//! writes concatenated pretty objects, SigmaHQ's `regression_data` holds
//! single pretty objects or several concatenated, exporters write arrays
//! or JSON Lines).
//!
//! Error recovery is per shape. JSON Lines: a bad line is reported with
//! its number and reading goes on at the next line. Concatenated objects:
//! values are delimited by a brace/string scanner first and parsed after,
//! so a malformed object is skipped as a whole; an object that never
//! closes (a truncated file) is reported and reading resumes at the next
//! line that starts with `{`. Arrays: elements are delimited the same way.
//!
//! Speed: evtx_dump documents (`{"Event": …}`) go through the streaming
//! flattener shared with the EVTX reader (about 200,000 events per
//! CPU-second on the attack-samples records rendered as JSON Lines, twice
//! the generic path; `BENCH_ONLY=Jsonl cargo run --release -p
//! vigie-source --example evtx_bench`); other layouts are parsed to a
//! `serde_json::Value` and flattened by [`crate::flatten`].

use std::sync::Arc;

use memchr::memchr;
use serde_json::Value as J;
use vigie_event::{Event, Locator, Origin};

use crate::layout::convert;
use crate::stream::{flatten_json_bytes, NameCache};
use crate::{Place, Sink, SourceError};

/// Skips ASCII whitespace and a UTF-8 byte-order mark.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    if i == 0 && b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        i = 3;
    }
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// End (exclusive) of the JSON object or array that starts at `start`
/// (`b[start]` is `{` or `[`), or `None` if it does not close in `b`.
/// Only braces outside strings count; escapes inside strings are honoured.
pub(crate) fn value_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // Jump to the closing quote, skipping escaped characters.
                i += 1;
                loop {
                    let rel = memchr::memchr2(b'"', b'\\', &b[i..])?;
                    i += rel;
                    if b[i] == b'\\' {
                        i += 2;
                        if i > b.len() {
                            return None;
                        }
                    } else {
                        break;
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The ends of the objects and arrays that start at a line start, found
/// in **one** pass from `from` (a bracket stack): after an object that
/// never closes, the reader tries each later line starting with `{`, and
/// calling [`value_end`] at each would rescan the rest of the file every
/// time (400 KB of unclosed `{` lines took 29 s). A line start seen
/// outside strings but absent from `ends` does not close; one the scan
/// saw inside a string (a string cut by damage shifts every later quote)
/// needs a new scan from there: [`MAX_RESCANS`] at most per file, so the
/// whole stays linear.
pub(crate) struct LineEnds {
    from: usize,
    ends: std::collections::HashMap<usize, usize>,
    seen: std::collections::HashSet<usize>,
}

/// New scans allowed per file (see [`LineEnds`]).
pub(crate) const MAX_RESCANS: usize = 16;

impl LineEnds {
    pub(crate) fn scan(b: &[u8], from: usize) -> LineEnds {
        let mut ends = std::collections::HashMap::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<(usize, bool)> = Vec::new();
        let mut i = from;
        'scan: while i < b.len() {
            match b[i] {
                b'"' => {
                    i += 1;
                    loop {
                        let Some(rel) = memchr::memchr2(b'"', b'\\', &b[i..]) else {
                            break 'scan;
                        };
                        i += rel;
                        if b[i] == b'\\' {
                            i += 2;
                            if i > b.len() {
                                break 'scan;
                            }
                        } else {
                            break;
                        }
                    }
                }
                b'{' | b'[' => {
                    let line_start = i == from || (i > 0 && b[i - 1] == b'\n');
                    if line_start {
                        seen.insert(i);
                    }
                    stack.push((i, line_start));
                }
                b'}' | b']' => {
                    if let Some((open, line_start)) = stack.pop() {
                        if line_start {
                            ends.insert(open, i + 1);
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
        LineEnds { from, ends, seen }
    }

    /// The end of the value at `at` (a line start at or after `from`):
    /// `Err(())` when this scan saw `at` inside a string.
    pub(crate) fn end(&self, at: usize) -> Result<Option<usize>, ()> {
        if at < self.from || !self.seen.contains(&at) {
            return Err(());
        }
        Ok(self.ends.get(&at).copied())
    }
}

/// `Record <id>` on a line of its own at `i`, as `evtx_dump -o json`
/// writes before each record: (id, index after the line).
pub(crate) fn record_header(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let rest = b.get(i..)?.strip_prefix(b"Record ")?;
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let id = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let mut j = i + 7 + digits;
    if b.get(j) == Some(&b'\r') {
        j += 1;
    }
    match b.get(j) {
        None => Some((id, j)),
        Some(b'\n') => Some((id, j + 1)),
        _ => None,
    }
}

/// Where to resume after damage in concatenated documents: the next line
/// that starts an object or an evtx_dump `Record` line.
fn resync(b: &[u8], from: usize) -> Option<usize> {
    // Each search stops at the nearer match, so that resynchronising
    // over a whole file stays linear.
    let obj = memchr::memmem::find(&b[from..], b"\n{");
    let upto = obj.map_or(b.len(), |n| from + n + 8).min(b.len());
    let rec = memchr::memmem::find(&b[from..upto], b"\nRecord ");
    let n = match (obj, rec) {
        (Some(a), Some(r)) => a.min(r),
        (a, r) => a.or(r)?,
    };
    Some(from + n + 1)
}

/// Whether a buffer that starts (after whitespace) with `{` holds one
/// object per line: the first object closes before the first newline.
/// `complete` says whether `b` is the whole input (else a prefix).
pub(crate) fn looks_like_lines(b: &[u8], complete: bool) -> bool {
    let start = skip_ws(b, 0);
    let nl = memchr(b'\n', &b[start..]).map(|n| n + start);
    match value_end(b, start) {
        Some(end) => match nl {
            Some(nl) => end <= nl,
            None => true,
        },
        // Not closed within the sniffed prefix: a single very long line
        // is JSON Lines, a multi-line object is pretty-printed.
        None => nl.is_none() && !complete,
    }
}

/// Whether a JSON text starts with `{"Event":` (whitespace allowed):
/// the evtx_dump layout, which the streaming flattener reads about twice
/// as fast as the generic `Value` path.
fn starts_with_event_key(b: &[u8]) -> bool {
    let i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return false;
    }
    let i = skip_ws(b, i + 1);
    if !b[i..].starts_with(b"\"Event\"") {
        return false;
    }
    b.get(skip_ws(b, i + 7)) == Some(&b':')
}

/// The streaming path for evtx_dump documents: `Some(event)` when it
/// applies (an `Event` with a `System` giving an event id), `None` to
/// fall back to the generic path (which also words the errors).
fn fast_event(
    text: &[u8],
    src: &Arc<str>,
    locator: &Locator,
    names: &mut NameCache,
) -> Option<Event> {
    // The streaming flattener has no RenderingInfo rule (EVTX rendering
    // never has one); such documents take the generic path.
    if !starts_with_event_key(text) || memchr::memmem::find(text, b"\"RenderingInfo\"").is_some() {
        return None;
    }
    let mut ev = Event::new(Origin {
        source: src.clone(),
        locator: locator.clone(),
    });
    match flatten_json_bytes(text, &mut ev, names) {
        Ok(()) if ev.get("EventID").is_some() => Some(ev),
        _ => None,
    }
}

/// Emits one parsed JSON value as events (an array line gives one event
/// per object element).
fn emit(
    v: J,
    src: &Arc<str>,
    locator: Locator,
    sink: &mut Sink<'_>,
    errors: &mut Vec<SourceError>,
) {
    match v {
        J::Object(obj) => {
            let mut ev = Event::new(Origin {
                source: src.clone(),
                locator,
            });
            let stamp = convert(&obj, &mut ev);
            sink.push_stamped(ev, stamp);
        }
        J::Array(items) => {
            for item in items {
                emit(item, src, locator.clone(), sink, errors);
            }
        }
        other => {
            sink.skipped += 1;
            errors.push(SourceError::new(
                place_of(&locator),
                format!(
                    "JSON value is not an object: {}",
                    truncate(&other.to_string(), 60)
                ),
            ));
        }
    }
}

fn place_of(l: &Locator) -> Place {
    match l {
        Locator::Line(n) => Place::Line(*n),
        Locator::Index(i) => Place::Index(*i),
        Locator::Record(r) => Place::Record {
            chunk: None,
            record_id: Some(*r),
        },
        Locator::None | Locator::Position(_) => Place::File,
    }
}

pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n).collect();
        format!("{t}…")
    }
}

/// JSON Lines: one value per non-blank line.
pub(crate) fn read_lines(
    b: &[u8],
    src: &Arc<str>,
    sink: &mut Sink<'_>,
    errors: &mut Vec<SourceError>,
) {
    let mut line_no = 0u64;
    let mut pos = 0usize;
    let mut names = NameCache::default();
    while pos < b.len() {
        let end = memchr(b'\n', &b[pos..]).map_or(b.len(), |n| pos + n);
        let line = &b[pos..end];
        line_no += 1;
        pos = end + 1;
        let start = skip_ws(line, 0);
        if start >= line.len() {
            continue;
        }
        if let Some(ev) = fast_event(&line[start..], src, &Locator::Line(line_no), &mut names) {
            sink.push(ev);
            continue;
        }
        match serde_json::from_slice::<J>(&line[start..]) {
            Ok(v) => emit(v, src, Locator::Line(line_no), sink, errors),
            Err(e) => {
                // Not all UTF-8: read again with the odd bytes as
                // Windows-1252 rather than lose the event (a French
                // NXLog set to Latin-1 sends every accent so; an
                // attacker's command line with one stray byte would
                // otherwise escape every rule). Said in the notes.
                if let Some(fixed) = odd_bytes_as_cp1252(&line[start..]) {
                    let locator = Locator::Line(line_no);
                    if let Some(ev) = fast_event(&fixed, src, &locator, &mut names) {
                        sink.not_utf8(line_no);
                        sink.push(ev);
                        continue;
                    }
                    if let Ok(v) = serde_json::from_slice::<J>(&fixed) {
                        // Counted when it gives events (emit refuses
                        // other values, as before).
                        if matches!(v, J::Object(_) | J::Array(_)) {
                            sink.not_utf8(line_no);
                        }
                        emit(v, src, locator, sink, errors);
                        continue;
                    }
                }
                sink.skipped += 1;
                errors.push(SourceError::new(
                    Place::Line(line_no),
                    format!("malformed JSON line: {e}"),
                ));
            }
        }
    }
}

/// `b` with every byte that is not part of a UTF-8 sequence read as
/// Windows-1252 (the valid sequences kept as they are); `None` when `b`
/// is UTF-8 already.
///
/// Why per byte and not the whole line: a line is mostly UTF-8 (field
/// names, ASCII values) with a few bytes of another character set; read
/// whole as Windows-1252, its real UTF-8 accents would turn to `Ã©`.
pub fn odd_bytes_as_cp1252(b: &[u8]) -> Option<Vec<u8>> {
    if std::str::from_utf8(b).is_ok() {
        return None;
    }
    Some(cp1252_text(b).into_bytes())
}

/// `b` as text, read as Vigie reads it (see [`read_text`]) — what a
/// page or an answer shows of a stored line, as its event was read.
pub fn text_as_read(b: &[u8]) -> std::borrow::Cow<'_, str> {
    read_text(b).0
}

/// A stored line as JSON, read as Vigie reads it: the value when it is
/// JSON (its bytes outside UTF-8 as Windows-1252), else its text
/// ([`text_as_read`]) — what a detection, a page or a search hit shows.
pub fn value_as_read(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b)
        .ok()
        .or_else(|| odd_bytes_as_cp1252(b).and_then(|fixed| serde_json::from_slice(&fixed).ok()))
        .unwrap_or_else(|| serde_json::Value::String(text_as_read(b).into_owned()))
}

/// `b` as text, and whether bytes outside UTF-8 were read as
/// Windows-1252: UTF-8 as it is; UTF-8 cut inside its last character (a
/// datagram's or a relay's size limit: what comes before already holds
/// UTF-8 beyond ASCII) with that character lost (U+FFFD); anything else
/// with its bytes outside UTF-8 as Windows-1252.
///
/// Why the cut needs UTF-8 before it: `é`, `è`, `à`, `ô` in Windows-1252
/// are all bytes that begin a UTF-8 sequence, so a Latin-1 line ending in
/// "refusé" looks like UTF-8 cut short; only a line that already showed
/// UTF-8 is taken as cut.
pub(crate) fn read_text(b: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    match std::str::from_utf8(b) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), false),
        Err(e) if e.error_len().is_none() && b[..e.valid_up_to()].iter().any(|c| !c.is_ascii()) => {
            (String::from_utf8_lossy(b), false)
        }
        Err(_) => (std::borrow::Cow::Owned(cp1252_text(b)), true),
    }
}

/// The valid UTF-8 of `b` kept, every other byte as Windows-1252.
fn cp1252_text(b: &[u8]) -> String {
    // Bytes 0x80–0xFF as Windows-1252, decoded once by encoding_rs (an
    // invalid byte is never ASCII: 0x00–0x7F are valid UTF-8).
    static HIGH: std::sync::OnceLock<[char; 128]> = std::sync::OnceLock::new();
    let high = HIGH.get_or_init(|| {
        std::array::from_fn(|i| {
            let byte = [0x80 + i as u8];
            let (c, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
            c.chars().next().unwrap_or('\u{FFFD}')
        })
    });
    let mut out = String::with_capacity(b.len() + 16);
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for &byte in chunk.invalid() {
            out.push(high[usize::from(byte.wrapping_sub(0x80) & 0x7F)]);
        }
    }
    out
}

/// A JSON array of objects, or one or more concatenated JSON documents.
pub(crate) fn read_documents(
    b: &[u8],
    src: &Arc<str>,
    sink: &mut Sink<'_>,
    errors: &mut Vec<SourceError>,
) {
    // Not all UTF-8 (Windows PowerShell 5.1's `Set-Content` writes
    // Windows-1252): read with those bytes as Windows-1252, said in the
    // notes. Newlines are untouched, so line numbers hold.
    let fixed;
    let b = match odd_bytes_as_cp1252(b) {
        Some(f) => {
            sink.not_utf8_file();
            fixed = f;
            &fixed[..]
        }
        None => b,
    };
    let mut line = 1u64;
    let mut counted = 0usize; // bytes up to which `line` is counted
    let line_at = |pos: usize, line: &mut u64, counted: &mut usize| {
        if pos > *counted {
            *line += memchr::memchr_iter(b'\n', &b[*counted..pos]).count() as u64;
            *counted = pos;
        }
        *line
    };
    let mut names = NameCache::default();
    let mut i = skip_ws(b, 0);
    let in_array = b.get(i) == Some(&b'[');
    if in_array {
        // An array: each element is delimited and parsed on its own so
        // that one bad element does not lose the others.
        let mut index = 0u64;
        i += 1;
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                i += 1;
            }
            if i >= b.len() {
                errors.push(SourceError::new(
                    Place::Line(line_at(i, &mut line, &mut counted)),
                    "JSON array is not closed (truncated file?)".to_string(),
                ));
                break;
            }
            if b[i] == b']' {
                i = skip_ws(b, i + 1);
                if i < b.len() {
                    errors.push(SourceError::new(
                        Place::Line(line_at(i, &mut line, &mut counted)),
                        "trailing data after the JSON array ignored".to_string(),
                    ));
                }
                break;
            }
            let end = if b[i] == b'{' || b[i] == b'[' {
                value_end(b, i)
            } else {
                // A scalar element: up to the next separator.
                Some(
                    b[i..]
                        .iter()
                        .position(|&c| c == b',' || c == b']')
                        .map_or(b.len(), |n| i + n),
                )
            };
            let Some(end) = end else {
                sink.skipped += 1;
                errors.push(SourceError::new(
                    Place::Index(index),
                    format!(
                        "JSON array element at line {} is not closed (truncated file?)",
                        line_at(i, &mut line, &mut counted)
                    ),
                ));
                break;
            };
            if let Some(ev) = fast_event(&b[i..end], src, &Locator::Index(index), &mut names) {
                sink.push(ev);
                index += 1;
                i = end;
                continue;
            }
            match serde_json::from_slice::<J>(&b[i..end]) {
                Ok(v) => emit(v, src, Locator::Index(index), sink, errors),
                Err(e) => {
                    sink.skipped += 1;
                    errors.push(SourceError::new(
                        Place::Index(index),
                        format!(
                            "malformed JSON array element at line {}: {e}",
                            line_at(i, &mut line, &mut counted)
                        ),
                    ));
                }
            }
            index += 1;
            i = end;
        }
        return;
    }
    // `evtx_dump -o json` precedes each record with `Record <id>`: the
    // id becomes the event's locator, as for records read from EVTX.
    let mut pending: Option<u64> = None;
    // Set once an object did not close: later ends come from one scan.
    let mut damaged: Option<LineEnds> = None;
    let mut rescans = 0usize;
    while i < b.len() {
        let at = line_at(i, &mut line, &mut counted);
        if let Some((id, next)) = record_header(b, i) {
            pending = Some(id);
            i = skip_ws(b, next);
            continue;
        }
        let locator = match pending.take() {
            Some(id) => Locator::Record(id),
            None => Locator::Line(at),
        };
        let end = match (&damaged, b[i]) {
            (Some(d), b'{') => match d.end(i) {
                Ok(end) => end,
                Err(()) if rescans < MAX_RESCANS => {
                    rescans += 1;
                    let d = LineEnds::scan(b, i);
                    let end = d.end(i).ok().flatten();
                    damaged = Some(d);
                    end
                }
                Err(()) => None,
            },
            (None, b'{') => value_end(b, i),
            _ => None,
        };
        match end {
            Some(end) => {
                if let Some(ev) = fast_event(&b[i..end], src, &locator, &mut names) {
                    sink.push(ev);
                    i = skip_ws(b, end);
                    continue;
                }
                match serde_json::from_slice::<J>(&b[i..end]) {
                    Ok(v) => emit(v, src, locator, sink, errors),
                    Err(e) => {
                        sink.skipped += 1;
                        errors.push(SourceError::new(
                            place_of(&locator),
                            format!("malformed JSON object at line {at}: {e}"),
                        ));
                        // A cut string can make the delimiter swallow the
                        // next objects: resume at the next top-level start
                        // inside the span, if there is one.
                        if let Some(n) = resync(b, i + 1).filter(|n| *n < end) {
                            i = n;
                            continue;
                        }
                    }
                }
                i = skip_ws(b, end);
            }
            None => {
                sink.skipped += 1;
                let msg = if b[i] == b'{' {
                    format!("JSON object at line {at} is not closed (truncated or damaged); resuming at the next line starting with '{{' or 'Record'")
                } else {
                    format!(
                        "unexpected data at line {at}: {:?}; resuming at the next line starting with '{{' or 'Record'",
                        truncate(&String::from_utf8_lossy(&b[i..b.len().min(i + 40)]), 40)
                    )
                };
                errors.push(SourceError::new(place_of(&locator), msg));
                if damaged.is_none() && b[i] == b'{' {
                    damaged = Some(LineEnds::scan(b, i));
                }
                match resync(b, i + 1) {
                    Some(n) => i = n,
                    None => break,
                }
            }
        }
    }
}
