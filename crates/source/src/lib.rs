//! Vigie's log sources: files in, [`Event`]s out.
//!
//! # Formats
//!
//! The format of a file is decided from its **content**, never from its
//! name (a `.log` may hold JSON, an export may have no extension):
//!
//! | first bytes | [`Format`] | reader |
//! |---|---|---|
//! | `ElfFile\0` | [`Format::Evtx`] | Windows event log, chunks parsed in parallel ([`evtx`] module) |
//! | `1f 8b` | [`Format::Gzip`] | decompressed in memory, then sniffed again |
//! | `[` or `{` spanning lines | [`Format::Json`] | a JSON array, or one or more (pretty-printed) objects |
//! | `{` closing on its line | [`Format::JsonLines`] | one JSON value per line |
//! | `<?xml`, `<Events>`, `<Event …>` | [`Format::Xml`] | Windows event XML (Event Viewer, `wevtutil qe /f:xml`) |
//! | `<PRI>`, a syslog date, `date=` | [`Format::Syslog`] | RFC 3164 / RFC 5424 syslog, FortiGate key=value |
//!
//! UTF-16 text with a byte-order mark (Windows PowerShell exports) is
//! converted to UTF-8 first. ZIP and 7z archives are read like
//! directories by [`read_input`] (see [`archive`]). Anything else (other
//! archives, binaries, YAML…) is reported as skipped, with the reason
//! ([`sniff`]).
//! JSON objects are flattened according to their layout, recognised per
//! record (evtx_dump, Velociraptor, Winlogbeat 6/7/8, NXLog and Logstash,
//! Splunk exports, PowerShell `Get-WinEvent`, generic): see [`layout`] and
//! `docs/layouts.md`. Syslog field names and time rules, Sysmon for Linux
//! included: see [`syslog`]. EVTX damage handling and the conversion
//! measurements: see [`evtx`].
//!
//! # Times
//!
//! Every event time is UTC. Where a collector wrote local time — without
//! a zone (NXLog's `EventTime`, RFC 3164 headers) or labelled UTC — and
//! the file also carries a trustworthy UTC reading (Sysmon's `UtcTime`,
//! Logstash's `@timestamp`), the offset is found per file and per
//! computer and corrected; otherwise offset-less times are read in
//! [`ReadOptions::input_zone`]. Each correction and assumption is stated
//! in [`FileReport::notes`]: see [`clock`].
//!
//! # Memory
//!
//! A file is read into memory whole (EVTX needs random access to its
//! chunks, and its SHA-256 is taken from the same bytes); gzip content is
//! decompressed into memory. Events are handed over in batches, so a
//! caller that does not keep them holds one file's bytes plus the batches
//! in flight.
//!
//! # Calling it
//!
//! ```no_run
//! use vigie_source::{collect_inputs, read_file, ReadOptions};
//! let (files, input_errors) = collect_inputs(&["logs/".into()]);
//! let opts = ReadOptions::default();
//! for f in &files {
//!     let report = read_file(f, &opts, &|batch| {
//!         // may run on several threads at once; order by batch.seq
//!         let _ = batch.events.len();
//!     });
//!     println!("{}: {} read, {} skipped", f.display(), report.records_read, report.records_skipped);
//! }
//! ```
//!
//! [`read_bytes`] reads content already in memory (tests, HTTP
//! ingestion); [`read_all`] collects a file's events in order (tests).
//!
//! # Errors
//!
//! Nothing here panics on bad input (the EVTX parser runs under
//! `catch_unwind` per chunk, as a last resort). A damaged record, chunk or
//! line is counted in [`FileReport::records_skipped`] (when it is known to
//! be a record) and described in [`FileReport::errors`] with its
//! [`Place`]; everything else in the file is still read. Facts that are not
//! errors (a dirty EVTX, the year assumed for syslog) are in
//! [`FileReport::notes`].

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vigie_event::{Event, Timestamp};

pub mod archive;
pub mod clock;
pub mod evtx;
pub mod flatten;
pub mod gzip;
mod json;
pub use json::{odd_bytes_as_cp1252, text_as_read, value_as_read};
pub mod layout;
mod stream;
pub mod syslog;
mod time;
mod xml;

pub use time::{parse_timestamp, parse_when, When};
pub use vigie_lang::Zone;

/// A file format, as detected from content by [`sniff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Windows XML event log (binary `.evtx`).
    Evtx,
    /// One JSON value (normally an object) per line.
    JsonLines,
    /// A JSON array of objects, or concatenated JSON objects (pretty
    /// printed or not), as `evtx_dump -o json` writes.
    Json,
    /// Syslog text (RFC 3164, RFC 5424, with or without header) including
    /// FortiGate `key=value` logs.
    Syslog,
    /// Windows event XML (Event Viewer "Save as XML", `wevtutil qe
    /// /f:xml`).
    Xml,
    /// Gzip-compressed content of the inner format.
    Gzip(Box<Format>),
    /// A ZIP archive, read like a directory ([`archive`]).
    Zip,
    /// A 7-Zip archive, read like a directory ([`archive`]).
    #[serde(rename = "7z")]
    SevenZip,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Evtx => f.write_str("evtx"),
            Format::JsonLines => f.write_str("jsonl"),
            Format::Json => f.write_str("json"),
            Format::Syslog => f.write_str("syslog"),
            Format::Xml => f.write_str("xml"),
            Format::Gzip(inner) => write!(f, "gzip+{inner}"),
            Format::Zip => f.write_str("zip"),
            Format::SevenZip => f.write_str("7z"),
        }
    }
}

/// Where in a file a problem was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Place {
    /// The file as a whole (unreadable, unknown format, bad header).
    File,
    /// A 1-based line of a text or JSON file.
    Line(u64),
    /// A 0-based element of a JSON array.
    Index(u64),
    /// A byte offset (e.g. where a gzip stream breaks off).
    Offset(u64),
    /// A 0-based EVTX chunk.
    Chunk(u64),
    /// An EVTX record: its chunk and, when it could be read, its id.
    Record {
        chunk: Option<u64>,
        record_id: Option<u64>,
    },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File => f.write_str("file"),
            Place::Line(n) => write!(f, "line {n}"),
            Place::Index(i) => write!(f, "element {i}"),
            Place::Offset(o) => write!(f, "offset {o}"),
            Place::Chunk(c) => write!(f, "chunk {c}"),
            Place::Record { chunk, record_id } => {
                match record_id {
                    Some(r) => write!(f, "record {r}")?,
                    None => f.write_str("record ?")?,
                }
                if let Some(c) = chunk {
                    write!(f, " (chunk {c})")?;
                }
                Ok(())
            }
        }
    }
}

/// A problem met while reading a file, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{place}: {message}")]
pub struct SourceError {
    pub place: Place,
    pub message: String,
}

impl SourceError {
    pub fn new(place: Place, message: impl Into<String>) -> Self {
        SourceError {
            place,
            message: message.into(),
        }
    }
}

/// A path given on the command line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct InputError {
    pub path: PathBuf,
    pub message: String,
}

impl InputError {
    /// Whether evidence may be missing because of this error. A
    /// directory reached a second time (a symbolic link loop, or two
    /// links to one place) loses nothing: it was walked once, and is
    /// reported for the record only.
    pub fn loses_evidence(&self) -> bool {
        !self.message.starts_with(ALREADY_WALKED)
    }
}

const ALREADY_WALKED: &str = "directory already walked";

/// Reading options.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// Year for syslog timestamps that have none (RFC 3164 `Jan  9
    /// 02:10:03`). `None`: derived from the file's modification time (see
    /// [`syslog`]); for [`read_bytes`], from the current date.
    pub syslog_year: Option<i32>,
    /// The instant before which year-less timestamps must lie (see
    /// [`syslog`]): `None` in [`read_file`] means the file's modification
    /// time, in [`read_bytes`] the current time.
    pub reference_time: Option<Timestamp>,
    /// The zone of times written without one (NXLog's `EventTime`, RFC
    /// 3164 syslog headers, FortiGate `date`/`time` without `tz`), with its
    /// daylight-saving rules. `None` (the default): such times are read as
    /// UTC, and each file's notes say so. Either way, a file whose records
    /// also carry a trustworthy UTC reading has its actual offset detected
    /// and corrected (see [`clock`]). The CLI's `--input-timezone`.
    pub input_zone: Option<Zone>,
    /// Offsets learned per computer carried from one read to the next
    /// ([`clock::ClockMemory`]): `vigie serve` reads a live stream request
    /// by request, often one event each, too little for an offset; its
    /// computers keep the offset their earlier events showed. `None` (the
    /// default): each file on its own.
    pub clock_memory: Option<clock::ClockMemory>,
    /// Events per [`Batch`] for line-based formats. EVTX gives one batch
    /// per chunk whatever this says.
    pub batch_size: usize,
    /// EVTX: also carve records from the slack space of chunks (deleted
    /// or overwritten records). Off by default: such records may be stale.
    pub recover_records: bool,
    /// Read FIFOs, character/block devices and sockets given as inputs
    /// (at most [`SPECIAL_MAX_BYTES`]). Off by default: such a file may
    /// block forever (a FIFO without writer) or never end (`/dev/zero`).
    /// The CLI's `--allow-special`.
    pub allow_special: bool,
    /// Compute [`FileReport::sha256`] (default true). Hashing runs beside
    /// parsing, but it is not free: with SHA-NI about 1.7 GB/s, i.e. ~20%
    /// of the CPU of a `read_file` pass over EVTX-ATTACK-SAMPLES, whose
    /// files are mostly empty preallocated chunks. Off only for
    /// benchmarks or re-reads of already-hashed evidence.
    pub sha256: bool,
    /// How far a ZIP or 7z archive may make the reader go ([`archive`]).
    pub archive: archive::ArchiveLimits,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            syslog_year: None,
            reference_time: None,
            input_zone: None,
            clock_memory: None,
            batch_size: 1024,
            recover_records: false,
            allow_special: false,
            sha256: true,
            archive: archive::ArchiveLimits::default(),
        }
    }
}

/// Events read from one file, in file order. `seq` orders the batches of
/// one file: it grows in file order but may have gaps (EVTX uses the chunk
/// index, and a chunk without readable records sends no batch).
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub seq: u64,
    pub events: Vec<Event>,
}

/// What reading one file gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    pub path: PathBuf,
    /// `None` when the format could not be recognised (or the file read).
    pub format: Option<Format>,
    /// SHA-256 of the file bytes as stored (compressed, if gzip), hex.
    /// Empty if the file could not be read (or hashing was turned off).
    pub sha256: String,
    /// Size in bytes, as stored.
    pub size: u64,
    /// Events produced.
    pub records_read: u64,
    /// Records/lines known to exist that could not be read.
    pub records_skipped: u64,
    /// Earliest and latest event timestamps (not file order).
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub errors: Vec<SourceError>,
    /// Facts worth knowing that are not errors (an EVTX file marked
    /// dirty, the year assumed for year-less syslog timestamps).
    pub notes: Vec<String>,
    /// JSON lines read with their bytes outside UTF-8 taken as
    /// Windows-1252 (also said in `notes`).
    #[serde(default)]
    pub records_not_utf8: u64,
}

/// What became of one input file: the one word a person and a script
/// need before the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Every record read (an empty file too: nothing was lost).
    Read,
    /// A log format, but records skipped or damaged parts (the counts and
    /// reasons are in [`FileReport::records_skipped`] and
    /// [`FileReport::errors`]).
    PartlyRead,
    /// Nothing read: the operating system's reason (cannot open or read,
    /// not a regular file), or content that is no log format; the reason
    /// is the report's first error.
    NotRead,
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fate::Read => "read",
            Fate::PartlyRead => "partly read",
            Fate::NotRead => "not read",
        })
    }
}

impl FileReport {
    /// What became of the file (see [`Fate`]).
    pub fn fate(&self) -> Fate {
        if self.format.is_none() {
            if self.size == 0
                && self
                    .errors
                    .iter()
                    .all(|e| e.message.starts_with("empty file"))
            {
                Fate::Read
            } else {
                Fate::NotRead
            }
        } else if self.records_skipped > 0 || !self.errors.is_empty() {
            Fate::PartlyRead
        } else {
            Fate::Read
        }
    }

    /// An empty report for `path` (benchmarks and custom readers).
    #[doc(hidden)]
    pub fn empty(path: impl AsRef<Path>) -> Self {
        Self::new(path.as_ref())
    }

    fn new(path: &Path) -> Self {
        FileReport {
            path: path.to_path_buf(),
            format: None,
            sha256: String::new(),
            size: 0,
            records_read: 0,
            records_skipped: 0,
            first: None,
            last: None,
            errors: Vec::new(),
            notes: Vec::new(),
            records_not_utf8: 0,
        }
    }

    /// Adds the counters of a part of the file (an EVTX chunk).
    fn absorb(&mut self, s: &Sink<'_>) {
        self.records_read += s.read;
        self.records_skipped += s.skipped;
        self.records_not_utf8 += s.not_utf8_lines;
        self.first = min_opt(self.first, s.first);
        self.last = max_opt(self.last, s.last);
    }
}

pub(crate) fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
pub(crate) fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Collects events into batches and counts them. Readers push events
/// here; batches go to the caller's callback as they fill up.
pub(crate) struct Sink<'a> {
    on_batch: &'a (dyn Fn(Batch) + Sync),
    events: Vec<Event>,
    seq: u64,
    batch_size: usize,
    pub read: u64,
    pub skipped: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// The zone detector of text formats (see [`clock`]); `None` for EVTX.
    clock: Option<clock::Clock>,
    /// Times outside [`time::PLAUSIBLE_YEARS`] dropped from events, and
    /// where the first was.
    out_of_range: (u64, Option<vigie_event::Locator>),
    /// [`time::rejected`] when this sink was made.
    rejected_before: u64,
    /// Lines read with bytes outside UTF-8 taken as Windows-1252, and the
    /// first of them (said in the file's notes).
    not_utf8: (u64, u64),
    /// A JSON document file read so as a whole.
    not_utf8_file: bool,
    /// Lines counted in `not_utf8` once said (for the file's report).
    pub not_utf8_lines: u64,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(on_batch: &'a (dyn Fn(Batch) + Sync), seq: u64, batch_size: usize) -> Self {
        Sink {
            on_batch,
            events: Vec::new(),
            seq,
            batch_size: batch_size.max(1),
            read: 0,
            skipped: 0,
            first: None,
            last: None,
            clock: None,
            out_of_range: (0, None),
            rejected_before: time::rejected(),
            not_utf8: (0, 0),
            not_utf8_file: false,
            not_utf8_lines: 0,
        }
    }

    /// Puts records with doubtful times through a [`clock::Clock`] reading
    /// offset-less times in `zone`.
    pub(crate) fn with_clock(
        mut self,
        zone: Option<Zone>,
        memory: Option<clock::ClockMemory>,
    ) -> Self {
        self.clock = Some(clock::Clock::new(zone).with_memory(memory));
        self
    }

    /// Pushes an event whose time is described by `stamp` (see
    /// [`clock`]): it may be held until the file's offsets are known.
    pub(crate) fn push_stamped(&mut self, mut ev: Event, stamp: clock::Stamp) {
        let Some(c) = self.clock.as_mut() else {
            ev.timestamp = stamp
                .time
                .and_then(|w| w.resolve(None))
                .or(stamp.fallback.map(|f| f.0));
            self.push(ev);
            return;
        };
        if let Some(ev) = c.admit(ev, stamp) {
            self.push(ev);
        } else if c.must_release() {
            let released = c.release();
            for ev in released {
                self.push(ev);
            }
        }
    }

    /// Counts line `line` as read with its bytes outside UTF-8 taken as
    /// Windows-1252.
    pub(crate) fn not_utf8(&mut self, line: u64) {
        if self.not_utf8.0 == 0 {
            self.not_utf8.1 = line;
        }
        self.not_utf8.0 += 1;
    }

    /// The whole file (JSON documents) read with its bytes outside UTF-8
    /// taken as Windows-1252.
    pub(crate) fn not_utf8_file(&mut self) {
        self.not_utf8_file = true;
    }

    /// Releases held events, states the clock's and the character set's
    /// findings in `notes`, and flushes.
    pub(crate) fn finish(&mut self, notes: &mut Vec<String>, errors: &mut Vec<SourceError>) {
        if let Some(mut c) = self.clock.take() {
            for ev in c.finish(notes) {
                self.push(ev);
            }
        }
        if std::mem::take(&mut self.not_utf8_file) {
            notes.push("not all in UTF-8: its bytes outside UTF-8 read as Windows-1252 — the writer's character set; write UTF-8 (Windows PowerShell 5.1: Set-Content -Encoding UTF8)".to_string());
        }
        if self.not_utf8.0 > 0 {
            let (n, first) = std::mem::take(&mut self.not_utf8);
            self.not_utf8_lines += n;
            notes.push(format!(
                "{n} line(s) not in UTF-8 (the first: line {first}): their bytes outside UTF-8 read as Windows-1252 — the sender's character set; set it to UTF-8 (NXLog: xm_charconv's convert_fields)"
            ));
        }
        self.flush();
        if let Some(e) = self.time_errors() {
            errors.push(e);
        }
    }

    /// The report of times out of range (see [`time::PLAUSIBLE_YEARS`]).
    pub(crate) fn time_errors(&mut self) -> Option<SourceError> {
        let rejected = time::rejected().saturating_sub(self.rejected_before);
        self.rejected_before = time::rejected();
        let (n, first) = std::mem::take(&mut self.out_of_range);
        let total = n + rejected;
        if total == 0 {
            return None;
        }
        let place = match first {
            Some(vigie_event::Locator::Line(l)) => Place::Line(l),
            Some(vigie_event::Locator::Index(i)) => Place::Index(i),
            Some(vigie_event::Locator::Record(r)) => Place::Record {
                chunk: None,
                record_id: Some(r),
            },
            _ => Place::File,
        };
        Some(SourceError::new(
            place,
            format!(
                "{total} time value(s) outside the years {}–{} (first here): read as no time, \
                 the events are kept with the raw value in their fields",
                time::PLAUSIBLE_YEARS.start(),
                time::PLAUSIBLE_YEARS.end()
            ),
        ))
    }

    pub(crate) fn push(&mut self, mut ev: Event) {
        if let Some(t) = ev.timestamp {
            use chrono::Datelike;
            if !time::PLAUSIBLE_YEARS.contains(&t.year()) {
                ev.timestamp = None;
                if self.out_of_range.0 == 0 {
                    self.out_of_range.1 = Some(ev.origin.locator.clone());
                }
                self.out_of_range.0 += 1;
            }
        }
        self.read += 1;
        if let Some(t) = ev.timestamp {
            self.first = min_opt(self.first, Some(t));
            self.last = max_opt(self.last, Some(t));
        }
        self.events.push(ev);
        if self.events.len() >= self.batch_size {
            self.flush();
        }
    }

    pub(crate) fn flush(&mut self) {
        if !self.events.is_empty() {
            let events = std::mem::take(&mut self.events);
            (self.on_batch)(Batch {
                seq: self.seq,
                events,
            });
            self.seq += 1;
        }
    }
}

const SNIFF_LEN: usize = 64 * 1024;

/// Detects the format of `path` from its first bytes (decompressing a
/// gzip prefix to look inside).
pub fn sniff(path: &Path) -> Result<Format, SourceError> {
    let mut f = fs::File::open(path)
        .map_err(|e| SourceError::new(Place::File, format!("cannot open: {e}")))?;
    let mut buf = Vec::with_capacity(SNIFF_LEN);
    (&mut f)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut buf)
        .map_err(|e| SourceError::new(Place::File, format!("cannot read: {e}")))?;
    let mut complete = buf.len() < SNIFF_LEN;
    if buf.starts_with(gzip::MAGIC) {
        // A long name or comment field: read past the header (bounded).
        let mut to_read = (gzip::FIELD_MAX * 2) as u64;
        while !complete && gzip::header_len(&buf).is_err() && to_read > 0 {
            let got = (&mut f)
                .take(SNIFF_LEN as u64)
                .read_to_end(&mut buf)
                .map_err(|e| SourceError::new(Place::File, format!("cannot read: {e}")))?;
            complete = got < SNIFF_LEN;
            to_read = to_read.saturating_sub(got as u64);
        }
        let body = gzip::header_len(&buf).map_or(&buf[buf.len()..], |n| &buf[n..]);
        let mut inner = Vec::with_capacity(SNIFF_LEN);
        let mut dec = flate2::bufread::DeflateDecoder::new(body);
        // A prefix of a gzip stream decodes to a prefix of its content;
        // the "unexpected end" error at the cut is expected here.
        let _ = (&mut dec).take(SNIFF_LEN as u64).read_to_end(&mut inner);
        let inner_complete = complete && inner.len() < SNIFF_LEN;
        return sniff_bytes(&inner, inner_complete).map(|f| Format::Gzip(Box::new(f)));
    }
    sniff_bytes(&buf, complete)
}

const EVTX_MAGIC: &[u8] = b"ElfFile\0";

/// Detects a format from content. `complete` says whether `b` is all of
/// it (else a prefix, which matters to tell JSON Lines from pretty JSON).
pub fn sniff_bytes(b: &[u8], complete: bool) -> Result<Format, SourceError> {
    if b.starts_with(EVTX_MAGIC) || evtx::damaged_head(b) {
        return Ok(Format::Evtx);
    }
    if b.starts_with(gzip::MAGIC) {
        return Err(SourceError::new(
            Place::File,
            "gzip content: decompress before sniffing",
        ));
    }
    let i = json::skip_ws(b, 0);
    if i >= b.len() {
        return Err(SourceError::new(
            Place::File,
            "empty file (or only whitespace)",
        ));
    }
    if let Some((_, next)) = json::record_header(b, i) {
        // evtx_dump output: `Record <id>` then the record.
        return match b.get(json::skip_ws(b, next)) {
            Some(b'{') => Ok(Format::Json),
            Some(b'<') => Err(SourceError::new(
                Place::File,
                "unrecognized format: evtx_dump XML output, not read (use evtx_dump -o json or -o jsonl, or the .evtx itself)",
            )),
            _ => Err(SourceError::new(
                Place::File,
                "unrecognized format: a 'Record <id>' line not followed by a JSON object",
            )),
        };
    }
    match b[i] {
        b'[' => return Ok(Format::Json),
        b'{' => {
            return Ok(if json::looks_like_lines(b, complete) {
                Format::JsonLines
            } else {
                Format::Json
            })
        }
        _ => {}
    }
    if xml::looks_like_event_xml(&b[i..]) {
        return Ok(Format::Xml);
    }
    if syslog::looks_like_syslog(&b[i..]) {
        return Ok(Format::Syslog);
    }
    if let Some(f) = sniff_past_head(b, complete) {
        return Ok(f);
    }
    for (magic, what) in [
        (&b"PK\x03\x04"[..], "zip archive"),
        (&b"7z\xBC\xAF\x27\x1C"[..], "7-Zip archive"),
        (&b"Rar!"[..], "RAR archive"),
        (&b"BZh"[..], "bzip2 stream"),
        (&b"\xFD7zXZ\x00"[..], "xz stream"),
        (&b"\x28\xB5\x2F\xFD"[..], "zstd stream"),
    ] {
        if b.starts_with(magic) {
            return Err(SourceError::new(
                Place::File,
                format!("unrecognized format: {what}, not read here (ZIP and 7z are read as inputs or archive members, not inside another compression; RAR, bzip2, xz and zstd: extract them first)"),
            ));
        }
    }
    let head = &b[i..b.len().min(i + 24)];
    let shown: String = if head
        .iter()
        .any(|c| *c == 0 || (*c < 0x20 && !c.is_ascii_whitespace()))
    {
        head.iter()
            .map(|c| format!("{c:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        format!("{:?}", String::from_utf8_lossy(head))
    };
    Err(SourceError::new(
        Place::File,
        format!("unrecognized format (not EVTX, JSON, syslog or gzip); starts with {shown}"),
    ))
}

/// How far into a file whose head is not a log format [`sniff_past_head`]
/// looks for the first good line (a damaged head: a few KB of an
/// encrypted or overwritten block, a comment, a stray value).
const RESYNC_WINDOW: usize = 1 << 20;

/// A text format recognised past a damaged head: two consecutive
/// non-blank lines (within [`RESYNC_WINDOW`]) that are whole JSON
/// objects, or syslog lines, decide (one is enough when it is the last
/// line: a README quoting one JSON line stays "not a log format"); or
/// a pretty-printed JSON document starting at the first line that opens
/// one. The readers then count the lines before as bad, with their
/// numbers ([`json`] and [`syslog`] resynchronise line by line), so
/// nothing is dropped silently. Each line is looked at once: linear.
fn sniff_past_head(b: &[u8], complete: bool) -> Option<Format> {
    let window = &b[..b.len().min(RESYNC_WINDOW)];
    let mut pos = 0usize;
    let mut pending: Option<Format> = None;
    let mut tried_document = false;
    while let Some(n) = memchr::memchr(b'\n', &window[pos..]) {
        pos += n + 1;
        let line_end = memchr::memchr(b'\n', &window[pos..]).map_or(window.len(), |n| pos + n);
        let line = &window[pos..line_end];
        let i = json::skip_ws(line, 0);
        if i >= line.len() {
            continue;
        }
        let kind = if line[i] == b'{' {
            serde_json::from_slice::<serde::de::IgnoredAny>(&line[i..])
                .is_ok()
                .then_some(Format::JsonLines)
        } else if syslog::looks_like_syslog(&line[i..]) {
            Some(Format::Syslog)
        } else {
            None
        };
        if kind.is_some() && kind == pending {
            return kind;
        }
        if kind.is_none() && line[i] == b'{' && !tried_document {
            // A pretty-printed document after the damage (one try: a
            // scan to its end).
            tried_document = true;
            if json::value_end(b, pos + i).is_some() && !json::looks_like_lines(&b[pos..], complete)
            {
                return Some(Format::Json);
            }
        }
        pending = kind;
    }
    // The last line of the file, alone after the damage.
    pending.filter(|_| complete && window.len() == b.len())
}

/// Lists the files under `paths`: files as given, directories walked
/// recursively. The result is sorted and deduplicated so that runs are
/// reproducible. Symbolic links are followed, to files and to
/// directories, each directory once: a directory already walked (a link
/// loop, or two links to one place), identified by device and inode, is
/// not walked again and is reported. Missing or unreadable paths and
/// dangling links become [`InputError`]s with the operating system's
/// reason. Non-regular files (FIFOs, devices, sockets) are listed: it is
/// [`read_file`] that refuses them, with the reason, unless
/// [`ReadOptions::allow_special`]. Nothing is filtered by extension (the
/// readers decide from content).
pub fn collect_inputs(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut seen = Walked::default();
    for p in paths {
        match fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                if seen.first_visit(p, &m, &mut errors) {
                    walk(p, &mut files, &mut errors, &mut seen)
                }
            }
            Ok(_) => files.push(p.clone()),
            Err(e) => errors.push(InputError {
                path: p.clone(),
                message: format!("cannot access: {e}"),
            }),
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

/// Directories already walked, by (device, inode), with the path they
/// were first walked under (for the message).
#[derive(Default)]
struct Walked(std::collections::HashMap<(u64, u64), PathBuf>);

impl Walked {
    /// Records `dir`; false (and an [`InputError`]) when it was walked
    /// already.
    fn first_visit(&mut self, dir: &Path, m: &fs::Metadata, errors: &mut Vec<InputError>) -> bool {
        #[cfg(unix)]
        let key = {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let key = {
            let _ = m;
            return true;
        };
        #[allow(unreachable_code)]
        match self.0.get(&key) {
            Some(first) => {
                errors.push(InputError {
                    path: dir.to_path_buf(),
                    message: format!(
                        "{ALREADY_WALKED} (as {}): not walked again (a symbolic link loop, or two paths to one place); nothing lost",
                        first.display()
                    ),
                });
                false
            }
            None => {
                self.0.insert(key, dir.to_path_buf());
                true
            }
        }
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<InputError>, seen: &mut Walked) {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(InputError {
                path: dir.to_path_buf(),
                message: format!("cannot list directory: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<PathBuf> = Vec::new();
    for entry in rd {
        match entry {
            Ok(e) => entries.push(e.path()),
            Err(e) => errors.push(InputError {
                path: dir.to_path_buf(),
                message: format!("cannot read directory entry: {e}"),
            }),
        }
    }
    entries.sort();
    for p in entries {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                if seen.first_visit(&p, &m, errors) {
                    walk(&p, files, errors, seen)
                }
            }
            Ok(m) if m.file_type().is_symlink() => match fs::metadata(&p) {
                Ok(t) if t.is_dir() => {
                    if seen.first_visit(&p, &t, errors) {
                        walk(&p, files, errors, seen)
                    }
                }
                Ok(_) => files.push(p),
                Err(e) => errors.push(InputError {
                    path: p,
                    message: format!("dangling or looping symbolic link, not followed: {e}"),
                }),
            },
            // Regular files, and FIFOs, devices, sockets: read_file
            // refuses the latter with the reason.
            Ok(_) => files.push(p),
            Err(e) => errors.push(InputError {
                path: p,
                message: format!("cannot access: {e}"),
            }),
        }
    }
}

/// UTF-16 text with a byte-order mark, as UTF-8. Windows PowerShell 5.1
/// writes UTF-16LE by default (`Get-WinEvent … | ConvertTo-Json >
/// events.json`, `Out-File`), so exports made during an incident often are.
/// Unpaired surrogates become U+FFFD. `None` if `b` has no UTF-16 BOM.
fn utf16_to_utf8(b: &[u8]) -> Option<String> {
    let le = match b {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let units = b[2..].chunks_exact(2).map(|c| {
        if le {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    Some(
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

fn sha256_hex(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    let mut s = String::with_capacity(64);
    for byte in d.iter() {
        use fmt::Write;
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// Reads one file and sends its events to `on_batch`, possibly from
/// several threads at once (EVTX chunks are parsed in parallel); batches
/// carry a `seq` to restore file order. Never panics on bad content:
/// problems are in the returned report.
///
/// The file is read into memory once; its SHA-256 is computed on another
/// rayon task while it is parsed, so hashing costs no extra pass over the
/// disk and, with a free core, no wall time.
pub fn read_file(path: &Path, opts: &ReadOptions, on_batch: &(dyn Fn(Batch) + Sync)) -> FileReport {
    let mut report = FileReport::new(path);
    let bytes = match read_evidence(path, opts, &mut report) {
        Ok(b) => b,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    report.size = bytes.len() as u64;
    let opts = with_file_time(opts, path);
    let src: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    if opts.sha256 {
        let (hash, ()) = rayon::join(
            || sha256_hex(&bytes),
            || read_content(&src, &bytes, &opts, on_batch, &mut report),
        );
        report.sha256 = hash;
    } else {
        read_content(&src, &bytes, &opts, on_batch, &mut report);
    }
    report
}

/// `opts` with the file's modification time as the reference time of
/// year-less timestamps, unless one is given.
fn with_file_time(opts: &ReadOptions, path: &Path) -> ReadOptions {
    let mut opts = opts.clone();
    if opts.reference_time.is_none() {
        opts.reference_time = fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .map(chrono::DateTime::<chrono::Utc>::from);
    }
    opts
}

/// Reads one input as [`read_file`] does, an archive included: a ZIP or
/// 7z file gives one report for itself, then one per member (named
/// `archive.zip!/member`, see [`archive`]); any other file, its one
/// report. Batches of an archive's members are numbered so that sorting
/// by `seq` restores archive order.
pub fn read_input(
    path: &Path,
    opts: &ReadOptions,
    on_batch: &(dyn Fn(Batch) + Sync),
) -> Vec<FileReport> {
    // Only regular files are sniffed here: opening a FIFO could block.
    if !fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return vec![read_file(path, opts, on_batch)];
    }
    let mut head = [0u8; 8];
    let n = fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    if archive::archive_format(&head[..n]).is_none() {
        return vec![read_file(path, opts, on_batch)];
    }
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(_) => return vec![read_file(path, opts, on_batch)],
    };
    let opts = with_file_time(opts, path);
    let mut reports = archive::read_archive(&path.to_string_lossy(), &bytes, &opts, on_batch);
    if let Some(top) = reports.first_mut() {
        top.path = path.to_path_buf();
    }
    reports
}

/// What a FIFO, device or socket given with
/// [`ReadOptions::allow_special`] may give at most: `/dev/zero` never
/// ends.
pub const SPECIAL_MAX_BYTES: u64 = 256 << 20;

/// The kind of a non-regular file, for messages.
fn special_kind(m: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    let _ = m;
    "not a regular file"
}

/// The bytes of one input: a regular file whole; a FIFO, device or
/// socket only with [`ReadOptions::allow_special`], and then at most
/// [`SPECIAL_MAX_BYTES`] (reported when the limit cuts it). Errors carry
/// the operating system's reason.
fn read_evidence(
    path: &Path,
    opts: &ReadOptions,
    report: &mut FileReport,
) -> Result<Vec<u8>, SourceError> {
    let m = fs::metadata(path)
        .map_err(|e| SourceError::new(Place::File, format!("cannot access: {e}")))?;
    if m.is_dir() {
        return Err(SourceError::new(Place::File, "cannot read: is a directory"));
    }
    if m.is_file() {
        return fs::read(path)
            .map_err(|e| SourceError::new(Place::File, format!("cannot read: {e}")));
    }
    let kind = special_kind(&m);
    if !opts.allow_special {
        return Err(SourceError::new(
            Place::File,
            format!(
                "cannot read: {kind}, not a regular file: not read (it may never end or block forever; \
                 --allow-special reads up to {} MiB of it)",
                SPECIAL_MAX_BYTES >> 20
            ),
        ));
    }
    let f = fs::File::open(path)
        .map_err(|e| SourceError::new(Place::File, format!("cannot open: {e}")))?;
    let mut bytes = Vec::new();
    f.take(SPECIAL_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SourceError::new(Place::File, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > SPECIAL_MAX_BYTES {
        bytes.truncate(SPECIAL_MAX_BYTES as usize);
        report.errors.push(SourceError::new(
            Place::Offset(SPECIAL_MAX_BYTES),
            format!(
                "{kind}: reading stopped after {} MiB (--allow-special limit); the rest is not read",
                SPECIAL_MAX_BYTES >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// Reads content already in memory (tests, HTTP ingestion): all events in
/// file order, and the report. `name` is used as the events' source.
/// Year-less syslog timestamps use `opts.syslog_year` or the current year.
pub fn read_bytes(name: &str, bytes: &[u8], opts: &ReadOptions) -> (Vec<Event>, FileReport) {
    let mut report = FileReport::new(Path::new(name));
    report.size = bytes.len() as u64;
    if opts.sha256 {
        report.sha256 = sha256_hex(bytes);
    }
    let batches = Mutex::new(Vec::new());
    let collect = |b: Batch| batches.lock().unwrap_or_else(|e| e.into_inner()).push(b);
    let src: Arc<str> = Arc::from(name);
    read_content(&src, bytes, opts, &collect, &mut report);
    let mut batches = batches.into_inner().unwrap_or_else(|e| e.into_inner());
    batches.sort_by_key(|b| b.seq);
    let events = batches.into_iter().flat_map(|b| b.events).collect();
    (events, report)
}

/// [`read_file`] collecting every event, in file order (tests, small files).
pub fn read_all(path: &Path) -> (Vec<Event>, FileReport) {
    read_all_with(path, &ReadOptions::default())
}

/// [`read_all`] with options.
pub fn read_all_with(path: &Path, opts: &ReadOptions) -> (Vec<Event>, FileReport) {
    let batches = Mutex::new(Vec::new());
    let collect = |b: Batch| batches.lock().unwrap_or_else(|e| e.into_inner()).push(b);
    let report = read_file(path, opts, &collect);
    let mut batches = batches.into_inner().unwrap_or_else(|e| e.into_inner());
    batches.sort_by_key(|b| b.seq);
    (batches.into_iter().flat_map(|b| b.events).collect(), report)
}

/// Sniffs and reads `bytes` (the whole file) into `report`.
fn read_content(
    src: &Arc<str>,
    bytes: &[u8],
    opts: &ReadOptions,
    on_batch: &(dyn Fn(Batch) + Sync),
    report: &mut FileReport,
) {
    if bytes.starts_with(gzip::MAGIC) {
        let inner = gzip::inflate(bytes, &mut report.errors);
        let mut inner_report = FileReport::new(&report.path);
        read_content(src, &inner, opts, on_batch, &mut inner_report);
        report.format = inner_report.format.map(|f| Format::Gzip(Box::new(f)));
        report.records_read += inner_report.records_read;
        report.records_skipped += inner_report.records_skipped;
        report.first = inner_report.first;
        report.last = inner_report.last;
        report.errors.extend(inner_report.errors);
        report.notes.extend(inner_report.notes);
        return;
    }
    if let Some(text) = utf16_to_utf8(bytes) {
        report
            .notes
            .push("UTF-16 text (byte-order mark), read as converted to UTF-8".to_string());
        read_content(src, text.as_bytes(), opts, on_batch, report);
        return;
    }
    let format = match sniff_bytes(bytes, true) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(e);
            return;
        }
    };
    report.format = Some(format.clone());
    match format {
        Format::Evtx => evtx::read_evtx(src, bytes, opts, on_batch, report),
        Format::JsonLines | Format::Json | Format::Syslog | Format::Xml => {
            let mut sink = Sink::new(on_batch, 0, opts.batch_size)
                .with_clock(opts.input_zone, opts.clock_memory.clone());
            let mut errors = Vec::new();
            match format {
                Format::JsonLines => json::read_lines(bytes, src, &mut sink, &mut errors),
                Format::Json => json::read_documents(bytes, src, &mut sink, &mut errors),
                Format::Xml => xml::read_xml(bytes, src, &mut sink, &mut errors),
                _ => {
                    syslog::read_syslog(bytes, src, opts, &mut sink, &mut errors, &mut report.notes)
                }
            }
            sink.finish(&mut report.notes, &mut errors);
            report.absorb(&sink);
            report.errors.extend(errors);
        }
        Format::Gzip(_) | Format::Zip | Format::SevenZip => {}
    }
}
