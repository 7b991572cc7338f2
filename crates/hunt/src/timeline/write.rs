//! Writing a timeline fast: rows formatted in parallel chunks, written in
//! order, with bytes exactly those of serialising [`Detection::row`] one
//! row after the other (checked by `tests/timeline.rs`).

use std::io::{self, Write};
use std::sync::Mutex;

use rayon::prelude::*;

use super::{
    kind_name, level_name, other_fields, timestamp_desc, Detection, RowText, TimelineFormat,
    CSV_COLUMNS, NO_EVENT,
};
use crate::safe::{csv_cell, CsvValues};

/// How a CSV timeline is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field separator: `,` (RFC 4180), `;` for French Excel, which reads
    /// `,` as the decimal mark and puts a whole row in one column.
    pub delimiter: u8,
    /// Start with a UTF-8 byte-order mark: without it Excel reads the file
    /// as Windows-1252 and breaks every accent.
    pub bom: bool,
    /// Escaping and formula neutralisation of cells.
    pub values: CsvValues,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            bom: false,
            values: CsvValues::Safe,
        }
    }
}

impl CsvOptions {
    /// What French Excel opens as columns, with accents: `;` and a BOM.
    pub fn excel_fr() -> Self {
        CsvOptions {
            delimiter: b';',
            bom: true,
            values: CsvValues::Safe,
        }
    }

    fn writer(&self, buf: Vec<u8>) -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .from_writer(buf)
    }
}

/// Rows formatted together by one task.
const CHUNK_ROWS: usize = 1024;

/// Chunks formatted per window, at most: two per thread, for at most
/// [`WINDOW_THREADS`] threads.
///
/// Why a cap: two windows are alive at once (one written while the next
/// is formatted) at ~3 MB a chunk (rows carry their event), so without it
/// a 64-core server would hold ~770 MB of formatted rows; with it, at
/// most ~100 MB. Formatting is far faster than writing, so more threads
/// would not help anyway; two chunks per thread keep both busy.
const WINDOW_CHUNKS_PER_THREAD: usize = 2;
const WINDOW_THREADS: usize = 8;

/// Writes the detections (already in timeline order) in `format`, CSV
/// with the default options.
pub fn write<W: Write + Send>(
    out: W,
    format: TimelineFormat,
    detections: &[Detection],
) -> io::Result<()> {
    write_with(out, format, &CsvOptions::default(), detections)
}

/// Writes the detections (already in timeline order) in `format`.
///
/// Rows are formatted in chunks on the rayon pool (a timeline can have
/// tens of thousands of rows, 50 MB of JSON) and the chunks are written in
/// order, a bounded window at a time so memory stays small: the bytes are
/// exactly those of formatting the rows one after the other.
pub fn write_with<W: Write + Send>(
    mut out: W,
    format: TimelineFormat,
    csv: &CsvOptions,
    detections: &[Detection],
) -> io::Result<()> {
    if format == TimelineFormat::Csv {
        if csv.bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        let mut header = csv.writer(Vec::new());
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
                // ~2.5 kB a row with its event on SigmaHQ's Windows rules:
                // room enough that a fresh buffer rarely grows (and is
                // copied).
                let buf = reused.unwrap_or_else(|| Vec::with_capacity(rows.len() * 3072));
                format_rows(format, csv, rows, buf)
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
    csv: &CsvOptions,
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
            let mut w = csv.writer(buf);
            let mut nums = [String::new(), String::new(), String::new()];
            let mut tags = String::new();
            let mut others = String::new();
            let mode = csv.values;
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
                other_fields(d, &mut others);
                // Cells one by one: escaping borrows when nothing needs it.
                let safe = |w: &mut csv::Writer<Vec<u8>>, s: &str| {
                    w.write_field(csv_cell(s, mode).as_bytes())
                };
                w.write_field(&nums[0])?;
                w.write_field(&text.datetime)?;
                w.write_field(timestamp_desc(d.kind))?;
                safe(&mut w, &text.message)?;
                safe(&mut w, d.computer.as_deref().unwrap_or(""))?;
                safe(&mut w, d.channel.as_deref().unwrap_or(""))?;
                w.write_field(&nums[1])?;
                w.write_field(&nums[2])?;
                safe(&mut w, d.rule.id.as_deref().unwrap_or(""))?;
                safe(&mut w, &d.rule.title)?;
                w.write_field(level_name(d.level()))?;
                safe(&mut w, &tags)?;
                safe(&mut w, &d.origin.source)?;
                w.write_field(&text.locator)?;
                w.write_field(kind_name(d.kind))?;
                safe(&mut w, &text.details)?;
                for i in 0..crate::evidence::KEY_COLUMNS.len() {
                    safe(&mut w, d.key(i))?;
                }
                safe(&mut w, &others)?;
                w.write_record(None::<&[u8]>)?;
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
    for (i, name) in crate::evidence::KEY_COLUMNS.iter().enumerate() {
        buf.extend_from_slice(b",\"");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\":");
        string(buf, d.key(i))?;
    }
    buf.extend_from_slice(b",\"event\":");
    let json = d.event.as_deref().map(|e| &*e.json).unwrap_or(NO_EVENT);
    buf.extend_from_slice(json.as_bytes());
    buf.extend_from_slice(b"}\n");
    Ok(())
}
