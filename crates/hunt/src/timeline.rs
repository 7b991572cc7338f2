//! Detections as a timeline: one row per detection, sorted by time.
//!
//! The row layout is a public contract (scripts, Timesketch and Timeline
//! Explorer read it): the names below never change meaning. JSONL rows
//! carry Timesketch's required `datetime`, `timestamp_desc` and `message`,
//! and `timestamp` in microseconds since the Unix epoch as Timesketch
//! expects; CSV rows carry the same columns (lists joined with ` | `).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::Serialize;
use vigie_detect::{Level, MatchedField, RuleMeta};
use vigie_event::{Origin, Timestamp};

/// Whether a detection comes from a detection rule (one event) or from a
/// correlation rule (several events over a time window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectionKind {
    Detection,
    Correlation,
}

/// One detection, in memory.
#[derive(Debug, Clone)]
pub struct Detection {
    pub kind: DetectionKind,
    pub time: Option<Timestamp>,
    pub computer: Option<Box<str>>,
    pub channel: Option<Box<str>>,
    pub event_id: Option<u32>,
    pub record_id: Option<u64>,
    pub rule: Arc<RuleMeta>,
    /// The event it was found on (for correlations: the last contributing
    /// event is unknown to the correlator, so the origin names the rule).
    pub origin: Origin,
    /// Why it matched (selections and fields), or for a correlation the
    /// group-by values and the aggregated value.
    pub matched: Vec<MatchedField>,
}

impl Detection {
    /// The level used for sorting and filtering (`informational` when the
    /// rule has none).
    pub fn level(&self) -> Level {
        self.rule.level.unwrap_or(Level::Informational)
    }

    /// Deterministic timeline order: time, then where it was read, then
    /// rule id. Events without a time sort first.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.time,
            &self.origin.source,
            locator_key(&self.origin),
            self.rule.id.as_deref().unwrap_or(&self.rule.title),
            self.kind,
        )
    }
}

fn locator_key(o: &Origin) -> u64 {
    match o.locator {
        vigie_event::Locator::Record(n) | vigie_event::Locator::Line(n) => n,
        vigie_event::Locator::Index(n) => n,
        vigie_event::Locator::None => 0,
    }
}

/// Timeline output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineFormat {
    Csv,
    Jsonl,
}

/// The serialized row: the stable public names.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    /// Microseconds since the Unix epoch (Timesketch `timestamp`).
    pub timestamp: Option<i64>,
    /// ISO 8601 UTC with microseconds.
    pub datetime: String,
    pub timestamp_desc: &'static str,
    pub message: String,
    pub computer: &'a str,
    pub channel: &'a str,
    pub event_id: Option<u32>,
    pub record_id: Option<u64>,
    pub rule_id: &'a str,
    pub rule_title: &'a str,
    pub level: &'static str,
    pub tags: Vec<&'a str>,
    pub source_file: &'a str,
    /// Where in the source: `record=N`, `line=N`, `index=N` or empty.
    pub source_locator: String,
    pub kind: DetectionKind,
    /// Why it matched: `field=value` pairs.
    pub details: String,
}

pub(crate) fn level_name(l: Level) -> &'static str {
    match l {
        Level::Informational => "informational",
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
        Level::Critical => "critical",
    }
}

impl Detection {
    /// The row as written to the timeline.
    pub fn row(&self) -> Row<'_> {
        let mut text = RowText::default();
        text.fill(self);
        Row {
            timestamp: self.time.map(|t| t.timestamp_micros()),
            datetime: text.datetime,
            timestamp_desc: timestamp_desc(self.kind),
            message: text.message,
            computer: self.computer.as_deref().unwrap_or(""),
            channel: self.channel.as_deref().unwrap_or(""),
            event_id: self.event_id,
            record_id: self.record_id,
            rule_id: self.rule.id.as_deref().unwrap_or(""),
            rule_title: &self.rule.title,
            level: level_name(self.level()),
            tags: self.rule.tags.iter().map(String::as_str).collect(),
            source_file: &self.origin.source,
            source_locator: text.locator,
            kind: self.kind,
            details: text.details,
        }
    }
}

fn timestamp_desc(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::Detection => "Event Recorded",
        DetectionKind::Correlation => "Correlation Window End",
    }
}

fn kind_name(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::Detection => "detection",
        DetectionKind::Correlation => "correlation",
    }
}

/// The computed text columns of a row, in buffers reused from row to row:
/// a timeline has tens of thousands of rows, and building each one as a
/// [`Row`] costs half a dozen allocations. [`Detection::row`] fills the
/// same buffers, so both paths give the same text.
#[derive(Default)]
struct RowText {
    /// The time `datetime` was formatted for: rows are in time order and
    /// several rules often fire on one event, so it is reused as is.
    datetime_of: Option<Timestamp>,
    datetime: String,
    message: String,
    details: String,
    locator: String,
}

impl RowText {
    fn fill(&mut self, d: &Detection) {
        use std::fmt::Write as _;
        self.details.clear();
        for (i, m) in d.matched.iter().enumerate() {
            if i > 0 {
                self.details.push_str(" ¦ ");
            }
            if let Some(f) = &m.field {
                self.details.push_str(f);
                self.details.push('=');
            }
            self.details.push_str(&m.value);
        }
        let computer = d.computer.as_deref().unwrap_or("");
        self.message.clear();
        // Writing to a String cannot fail.
        let _ = write!(
            self.message,
            "[{}] {} on {computer}",
            level_name(d.level()),
            d.rule.title
        );
        if !self.details.is_empty() {
            self.message.push_str(": ");
            self.message.push_str(&self.details);
        }
        if self.datetime_of != d.time || d.time.is_none() {
            self.datetime.clear();
            if let Some(t) = d.time {
                let _ = write!(self.datetime, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
            }
            self.datetime_of = d.time;
        }
        self.locator.clear();
        let _ = match d.origin.locator {
            vigie_event::Locator::Record(n) => write!(self.locator, "record={n}"),
            vigie_event::Locator::Line(n) => write!(self.locator, "line={n}"),
            vigie_event::Locator::Index(n) => write!(self.locator, "index={n}"),
            vigie_event::Locator::None => Ok(()),
        };
    }
}

/// Column order of the CSV timeline (same names as the JSONL keys).
pub const CSV_COLUMNS: [&str; 16] = [
    "timestamp",
    "datetime",
    "timestamp_desc",
    "message",
    "computer",
    "channel",
    "event_id",
    "record_id",
    "rule_id",
    "rule_title",
    "level",
    "tags",
    "source_file",
    "source_locator",
    "kind",
    "details",
];

/// Rows formatted together by one task.
const CHUNK_ROWS: usize = 1024;

/// Chunks formatted per window, at most: four per thread, for at most
/// [`WINDOW_THREADS`] threads.
///
/// Why a cap: two windows are alive at once (one written while the next
/// is formatted) at ~1.5 MB a chunk, so without it a 64-core server would
/// hold ~770 MB of formatted rows; with it, at most ~100 MB. Formatting
/// is far faster than writing, so more threads would not help anyway.
const WINDOW_CHUNKS_PER_THREAD: usize = 4;
const WINDOW_THREADS: usize = 8;

/// Writes the detections (already in timeline order) in `format`.
///
/// Rows are formatted in chunks on the rayon pool (a timeline can have
/// tens of thousands of rows, 50 MB of JSON) and the chunks are written in
/// order, a bounded window at a time so memory stays small: the bytes are
/// exactly those of formatting the rows one after the other.
pub fn write<W: Write + Send>(
    mut out: W,
    format: TimelineFormat,
    detections: &[Detection],
) -> io::Result<()> {
    if format == TimelineFormat::Csv {
        let mut header = csv::Writer::from_writer(Vec::new());
        header.write_record(CSV_COLUMNS)?;
        out.write_all(&header.into_inner().map_err(|e| e.into_error())?)?;
    }
    let threads = rayon::current_num_threads().clamp(1, WINDOW_THREADS);
    let window = CHUNK_ROWS * WINDOW_CHUNKS_PER_THREAD * threads;
    // Chunk buffers (a megabyte each) are reused from window to window:
    // allocating them afresh costs more than filling them (page faults,
    // and glibc consolidating its free lists on every large request).
    let pool: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let format_window = |group: &[Detection]| -> io::Result<Vec<Vec<u8>>> {
        group
            .par_chunks(CHUNK_ROWS)
            .map(|rows| {
                let reused = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
                // ~1.2 kB a row on SigmaHQ's Windows rules: room enough
                // that a fresh buffer rarely grows (and is copied).
                let buf = reused.unwrap_or_else(|| Vec::with_capacity(rows.len() * 1536));
                format_rows(format, rows, buf)
            })
            .collect()
    };
    let write_window = |out: &mut W, chunks: Vec<Vec<u8>>| -> io::Result<()> {
        for mut c in chunks {
            out.write_all(&c)?;
            c.clear();
            pool.lock().unwrap_or_else(|e| e.into_inner()).push(c);
        }
        Ok(())
    };
    // Each window is written while the next one is formatted.
    let mut ready: Vec<Vec<u8>> = Vec::new();
    for group in detections.chunks(window) {
        let (written, formatted) = rayon::join(
            || write_window(&mut out, std::mem::take(&mut ready)),
            || format_window(group),
        );
        written?;
        ready = formatted?;
    }
    write_window(&mut out, ready)?;
    out.flush()
}

/// Formats consecutive rows into `buf` (empty, its capacity reused).
fn format_rows(
    format: TimelineFormat,
    rows: &[Detection],
    mut buf: Vec<u8>,
) -> io::Result<Vec<u8>> {
    let mut text = RowText::default();
    match format {
        TimelineFormat::Jsonl => {
            for d in rows {
                text.fill(d);
                jsonl_row(&mut buf, d, &text)?;
            }
            Ok(buf)
        }
        TimelineFormat::Csv => {
            let mut w = csv::Writer::from_writer(buf);
            let mut nums = [String::new(), String::new(), String::new()];
            let mut tags = String::new();
            for d in rows {
                text.fill(d);
                {
                    use std::fmt::Write as _;
                    for n in nums.iter_mut() {
                        n.clear();
                    }
                    if let Some(t) = d.time {
                        let _ = write!(nums[0], "{}", t.timestamp_micros());
                    }
                    if let Some(n) = d.event_id {
                        let _ = write!(nums[1], "{n}");
                    }
                    if let Some(n) = d.record_id {
                        let _ = write!(nums[2], "{n}");
                    }
                }
                tags.clear();
                for (i, t) in d.rule.tags.iter().enumerate() {
                    if i > 0 {
                        tags.push_str(" | ");
                    }
                    tags.push_str(t);
                }
                w.write_record([
                    nums[0].as_str(),
                    &text.datetime,
                    timestamp_desc(d.kind),
                    &text.message,
                    d.computer.as_deref().unwrap_or(""),
                    d.channel.as_deref().unwrap_or(""),
                    &nums[1],
                    &nums[2],
                    d.rule.id.as_deref().unwrap_or(""),
                    &d.rule.title,
                    level_name(d.level()),
                    &tags,
                    &d.origin.source,
                    &text.locator,
                    kind_name(d.kind),
                    &text.details,
                ])?;
            }
            w.into_inner().map_err(|e| e.into_error())
        }
    }
}

/// One JSONL row, the same bytes as `serde_json::to_writer(&d.row())`
/// and a newline (checked by a test over a real hunt), written straight
/// into `buf`.
fn jsonl_row(buf: &mut Vec<u8>, d: &Detection, text: &RowText) -> io::Result<()> {
    fn string(buf: &mut Vec<u8>, s: &str) -> io::Result<()> {
        serde_json::to_writer(&mut *buf, s).map_err(io::Error::from)
    }
    fn number(buf: &mut Vec<u8>, n: Option<impl std::fmt::Display>) -> io::Result<()> {
        match n {
            Some(n) => write!(buf, "{n}"),
            None => buf.write_all(b"null"),
        }
    }
    buf.extend_from_slice(b"{\"timestamp\":");
    number(buf, d.time.map(|t| t.timestamp_micros()))?;
    buf.extend_from_slice(b",\"datetime\":");
    string(buf, &text.datetime)?;
    buf.extend_from_slice(b",\"timestamp_desc\":");
    string(buf, timestamp_desc(d.kind))?;
    buf.extend_from_slice(b",\"message\":");
    string(buf, &text.message)?;
    buf.extend_from_slice(b",\"computer\":");
    string(buf, d.computer.as_deref().unwrap_or(""))?;
    buf.extend_from_slice(b",\"channel\":");
    string(buf, d.channel.as_deref().unwrap_or(""))?;
    buf.extend_from_slice(b",\"event_id\":");
    number(buf, d.event_id)?;
    buf.extend_from_slice(b",\"record_id\":");
    number(buf, d.record_id)?;
    buf.extend_from_slice(b",\"rule_id\":");
    string(buf, d.rule.id.as_deref().unwrap_or(""))?;
    buf.extend_from_slice(b",\"rule_title\":");
    string(buf, &d.rule.title)?;
    buf.extend_from_slice(b",\"level\":");
    string(buf, level_name(d.level()))?;
    buf.extend_from_slice(b",\"tags\":[");
    for (i, t) in d.rule.tags.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        string(buf, t)?;
    }
    buf.extend_from_slice(b"],\"source_file\":");
    string(buf, &d.origin.source)?;
    buf.extend_from_slice(b",\"source_locator\":");
    string(buf, &text.locator)?;
    buf.extend_from_slice(b",\"kind\":");
    string(buf, kind_name(d.kind))?;
    buf.extend_from_slice(b",\"details\":");
    string(buf, &text.details)?;
    buf.extend_from_slice(b"}\n");
    Ok(())
}
