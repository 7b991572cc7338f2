//! EVTX reader: Windows event logs, damaged and "dirty" ones included.
//!
//! # How
//!
//! The whole file is in memory (it is hashed anyway). Chunks sit at fixed
//! offsets (4 KiB file header, then 64 KiB chunks), so each chunk is
//! located by arithmetic — not through the file header, which a log copied
//! from a live system ("dirty", not closed) may not have updated — and the
//! chunks are parsed **in parallel** on the rayon pool, one [`Batch`] per
//! chunk. Batches are numbered in record order: a log that has wrapped
//! around starts with the chunk holding the lowest record id, as Windows
//! reads it.
//!
//! Each record becomes an [`Event`] flattened as described in
//! [`crate::flatten::flatten_windows`]. Its `record_id` (and the
//! `EventRecordID` field) is the `System/EventRecordID` of the record's
//! content, as Event Viewer and SIEMs show it; its locator,
//! `Locator::Record`, is the record identifier of the record *header* in
//! the file, which is what errors can name (a record whose content cannot
//! be read has only that) and what `evtx_dump` prints. The two are equal
//! in logs written by Windows; they differ in logs saved from a filtered
//! view (e.g. some EVTX-ATTACK-SAMPLES files, numbered from 1 in the
//! file). When the content has no `TimeCreated`, the record header's
//! time is used.
//!
//! Damage is handled per chunk and per record:
//! * a chunk whose header is unreadable (zeroed, bad magic) is reported
//!   with its index; the records it held are counted as skipped when the
//!   neighbouring chunks' record ids tell how many there were;
//! * a chunk cut short (file truncated mid-chunk) is padded with zeros and
//!   its complete records are read;
//! * a record that cannot be read or rendered is reported with its chunk
//!   and, when known, its record id; the walk resumes at the next record
//!   (the `evtx` crate resynchronises on the next record magic);
//! * records missing from a chunk's id range without any other error are
//!   counted as skipped too;
//! * checksum mismatches are reported but the records are still read
//!   (the last chunk of a live copy often has stale checksums).
//!
//! # Records to events: measured
//!
//! The `evtx` crate renders a record as JSON or XML; its parsed tree is
//! private (`EvtxRecord::content` is crate-internal), so walking it is not
//! an option, and re-parsing XML would need an XML parser for no gain
//! over JSON. Three ways to get an [`Event`] from the JSON rendering were
//! measured on the 277 files of EVTX-ATTACK-SAMPLES (8,255 records),
//! release build, one rayon thread, in events per CPU-second (CPU time,
//! because the 2-core machine was shared and wall time was noise):
//! `cargo run --release -p vigie-source --example evtx_bench`, see
//! [`Strategy`]:
//!
//! | strategy | events per CPU-second |
//! |---|---|
//! | render to JSON bytes only, no event (the floor) | 329,000 |
//! | `into_json_value`, then flatten the `serde_json::Value` | 89,000 |
//! | JSON bytes → `serde_json::Value` → flatten | 79,000 |
//! | **JSON bytes → streaming flatten (chosen)** | **142,000** |
//!
//! The streaming flattener (module `stream`) deserialises the rendered
//! bytes straight into event fields, borrowing keys and interning field
//! names, so no intermediate `Map` is built and no key is allocated; it
//! gives exactly the fields of the `Value` path (checked by the tests).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use evtx::{EvtxChunkData, EvtxChunkHeader, EvtxFileHeader, HeaderFlags, ParserSettings};
use rayon::prelude::*;
use vigie_event::{Event, Locator, Origin, Timestamp};

use crate::{Batch, FileReport, Place, ReadOptions, Sink, SourceError};

const FILE_HEADER_SIZE: usize = 4096;
const CHUNK_SIZE: usize = 65536;
const CHUNK_MAGIC: &[u8] = b"ElfChnk\0";
static ZEROS: [u8; CHUNK_SIZE] = [0; CHUNK_SIZE];

/// Whether `b` is an EVTX file whose header is damaged (zeroed or
/// overwritten, as partial encryption leaves it): a chunk signature
/// `ElfChnk\0` at a chunk boundary. The reader locates chunks by
/// arithmetic, so everything after the header is still read.
pub(crate) fn damaged_head(b: &[u8]) -> bool {
    let mut at = FILE_HEADER_SIZE;
    while at + CHUNK_MAGIC.len() <= b.len() {
        if b[at..].starts_with(CHUNK_MAGIC) {
            return true;
        }
        at += CHUNK_SIZE;
    }
    false
}

/// How a parsed record becomes an [`Event`] (benchmarks compare them).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Render the record as JSON and drop it: the cost of parsing alone.
    RenderOnly,
    /// `EvtxRecord::into_json_value`, then [`crate::flatten::flatten_windows`].
    JsonValue,
    /// JSON bytes → `serde_json::Value` → `flatten_windows`.
    BytesValue,
    /// JSON bytes → the streaming flattener (the default).
    Streaming,
}

/// The full text of an error and its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// What one chunk gave.
#[derive(Default)]
struct ChunkOutcome {
    read: u64,
    skipped: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    errors: Vec<SourceError>,
    /// The chunk's record id range, if its header was readable.
    ids: Option<(u64, u64)>,
    /// Nothing read and the number of records unknown (header unreadable):
    /// estimated afterwards from the neighbouring chunks' record ids.
    lost: bool,
    /// Records carved from slack space (`recover_records`).
    recovered: u64,
    /// All zeros: preallocated space when only zeros follow, damage
    /// (a zeroed chunk) when a used chunk comes after it.
    zeroed: bool,
}

/// Field set to `true` on records carved from chunk slack space
/// ([`ReadOptions::recover_records`]): deleted, overwritten, or written
/// after a live copy's chunk header was last updated. Not a Windows name,
/// so that no rule matches it by accident.
pub const RECOVERED_FIELD: &str = "vigie.recovered";

pub(crate) fn read_evtx(
    src: &Arc<str>,
    bytes: &[u8],
    opts: &ReadOptions,
    on_batch: &(dyn Fn(Batch) + Sync),
    report: &mut FileReport,
) {
    read_evtx_with(src, bytes, opts, on_batch, report, Strategy::Streaming)
}

/// [`read_evtx`] with a chosen conversion [`Strategy`] (benchmarks).
#[doc(hidden)]
pub fn read_evtx_with(
    src: &Arc<str>,
    bytes: &[u8],
    opts: &ReadOptions,
    on_batch: &(dyn Fn(Batch) + Sync),
    report: &mut FileReport,
    strategy: Strategy,
) {
    match EvtxFileHeader::from_bytes(bytes) {
        Ok(h) => {
            if !h.validate_checksum() {
                report.errors.push(SourceError::new(
                    Place::File,
                    "file header checksum mismatch (header damaged or not flushed); chunks read anyway",
                ));
            }
            if h.flags.contains(HeaderFlags::DIRTY) {
                report.notes.push(
                    "EVTX file marked dirty (not closed cleanly, e.g. copied from a live system): \
                     every chunk present is read, whatever the header says; records written \
                     after a chunk header was last updated are only found with recover_records"
                        .to_string(),
                );
            }
        }
        Err(e) => report.errors.push(SourceError::new(
            Place::File,
            format!(
                "EVTX file header unreadable ({}); chunks read anyway",
                chain(&e)
            ),
        )),
    }
    if bytes.len() < FILE_HEADER_SIZE {
        report.errors.push(SourceError::new(
            Place::File,
            format!("file too short for an EVTX header ({} bytes)", bytes.len()),
        ));
        return;
    }
    let body = bytes.len() - FILE_HEADER_SIZE;
    let n_chunks = body.div_ceil(CHUNK_SIZE);
    if !body.is_multiple_of(CHUNK_SIZE) {
        report.errors.push(SourceError::new(
            Place::Chunk((n_chunks - 1) as u64),
            format!(
                "file truncated: last chunk has {} of {CHUNK_SIZE} bytes; its complete records are read",
                body % CHUNK_SIZE
            ),
        ));
    }
    let chunk_bytes = |i: usize| {
        let start = FILE_HEADER_SIZE + i * CHUNK_SIZE;
        &bytes[start..bytes.len().min(start + CHUNK_SIZE)]
    };
    // Record order: start at the chunk with the lowest first record id.
    let mut oldest = (u64::MAX, 0usize);
    for i in 0..n_chunks {
        let c = chunk_bytes(i);
        if c.len() >= 512 && c.starts_with(CHUNK_MAGIC) {
            if let Ok(h) = EvtxChunkHeader::from_bytes(c) {
                if h.first_event_record_id <= h.last_event_record_id
                    && h.first_event_record_id < oldest.0
                {
                    oldest = (h.first_event_record_id, i);
                }
            }
        }
    }
    let settings = Arc::new(
        ParserSettings::new()
            .num_threads(1)
            .indent(false)
            .separate_json_attributes(false)
            .validate_checksums(false)
            .recover_records(opts.recover_records),
    );
    let outcomes: Vec<ChunkOutcome> = (0..n_chunks)
        .into_par_iter()
        .map(|i| {
            let seq = ((i + n_chunks - oldest.1) % n_chunks) as u64;
            let data = chunk_bytes(i);
            // A panic in the parser must not take the whole run down:
            // it becomes a chunk error.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                read_chunk(src, i as u64, data, &settings, on_batch, seq, strategy)
            })) {
                Ok(o) => o,
                Err(p) => {
                    let msg = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_string());
                    ChunkOutcome {
                        errors: vec![SourceError::new(
                            Place::Chunk(i as u64),
                            format!("EVTX parser panicked on this chunk: {msg}"),
                        )],
                        lost: true,
                        ..Default::default()
                    }
                }
            }
        })
        .collect();
    let mut outcomes = outcomes;
    // Windows fills chunks in order and preallocates the rest with
    // zeros: a zeroed chunk with a used chunk after it was wiped
    // (partial encryption, an overwritten block), not preallocated.
    // (In a log that has wrapped around, the chunk after the gap holds
    // older records than the one before: that is not damage.)
    let damaged_zeros: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].zeroed)
        .filter(|&i| {
            let prev = outcomes[..i].iter().rev().find_map(|o| o.ids);
            let next = outcomes[i + 1..].iter().find_map(|o| o.ids);
            match (prev, next) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some((_, prev_last)), Some((next_first, _))) => next_first > prev_last,
            }
        })
        .collect();
    for i in damaged_zeros {
        let o = &mut outcomes[i];
        o.lost = true;
        o.errors.push(SourceError::new(
            Place::Chunk(i as u64),
            "chunk is all zeros but used chunks with later records follow it: damaged (wiped), \
             not preallocated; its records are lost",
        ));
    }
    // Chunks lost whole: estimate their records from the neighbours' ids.
    for (i, o) in outcomes.iter().enumerate() {
        if o.lost {
            let prev = outcomes[..i].iter().rev().find_map(|o| o.ids);
            let next = outcomes[i + 1..].iter().find_map(|o| o.ids);
            if let (Some((_, prev_last)), Some((next_first, _))) = (prev, next) {
                let gap = next_first.saturating_sub(prev_last + 1);
                // Only a plausible gap (one chunk holds at most ~2,700
                // records) that no other lost chunk shares.
                let lost_between = outcomes[..i]
                    .iter()
                    .rev()
                    .take_while(|o| o.ids.is_none())
                    .count()
                    + outcomes[i + 1..]
                        .iter()
                        .take_while(|o| o.ids.is_none())
                        .count();
                if gap > 0 && gap < 2800 && lost_between == 0 {
                    report.records_skipped += gap;
                }
            }
        }
    }
    let recovered: u64 = outcomes.iter().map(|o| o.recovered).sum();
    if recovered > 0 {
        report.notes.push(format!(
            "{recovered} record(s) carved from chunk slack space (field {RECOVERED_FIELD} = true): \
             deleted, overwritten or not yet in the chunk header; they may be stale"
        ));
    }
    for o in outcomes {
        report.records_read += o.read;
        report.records_skipped += o.skipped;
        report.first = crate::min_opt(report.first, o.first);
        report.last = crate::max_opt(report.last, o.last);
        report.errors.extend(o.errors);
    }
}

fn read_chunk(
    src: &Arc<str>,
    index: u64,
    data: &[u8],
    settings: &Arc<ParserSettings>,
    on_batch: &(dyn Fn(Batch) + Sync),
    seq: u64,
    strategy: Strategy,
) -> ChunkOutcome {
    let mut out = ChunkOutcome::default();
    if !data.starts_with(CHUNK_MAGIC) {
        // Compared against zeros with memcmp: a byte loop here was 9% of
        // the whole read on logs with many preallocated chunks.
        if data == &ZEROS[..data.len()] {
            // Preallocated, never used — unless a used chunk follows
            // (decided in `read_evtx_with`, which sees every chunk).
            out.zeroed = true;
            return out;
        }
        out.lost = true;
        out.errors.push(SourceError::new(
            Place::Chunk(index),
            format!(
                "chunk header magic missing (found {:02x?}); chunk skipped",
                &data[..data.len().min(8)]
            ),
        ));
        return out;
    }
    let mut buf = Vec::with_capacity(CHUNK_SIZE);
    buf.extend_from_slice(data);
    buf.resize(CHUNK_SIZE, 0);
    let mut chunk_data = match EvtxChunkData::new(buf, false) {
        Ok(c) => c,
        Err(e) => {
            out.lost = true;
            out.errors.push(SourceError::new(
                Place::Chunk(index),
                format!("chunk header unreadable: {}; chunk skipped", chain(&e)),
            ));
            return out;
        }
    };
    let (first_id, last_id) = (
        chunk_data.header.first_event_record_id,
        chunk_data.header.last_event_record_id,
    );
    let sane_range = first_id <= last_id && last_id - first_id < 3000;
    if sane_range {
        out.ids = Some((first_id, last_id));
    }
    if data.len() == CHUNK_SIZE {
        if !chunk_data.validate_header_checksum() {
            out.errors.push(SourceError::new(
                Place::Chunk(index),
                "chunk header checksum mismatch; records read anyway",
            ));
        } else if !chunk_data.validate_data_checksum() {
            out.errors.push(SourceError::new(
                Place::Chunk(index),
                "chunk records checksum mismatch (damaged, or written after the copy started); records read anyway",
            ));
        }
    }
    let mut chunk = match chunk_data.parse(settings.clone()) {
        Ok(c) => c,
        Err(e) => {
            // Its header says how many records are lost; if it cannot,
            // the neighbours' ids will (`lost`).
            out.ids = None;
            if sane_range {
                out.skipped += last_id - first_id + 1;
            } else {
                out.lost = true;
            }
            out.errors.push(SourceError::new(
                Place::Chunk(index),
                format!("chunk unreadable: {}; chunk skipped", chain(&e)),
            ));
            return out;
        }
    };
    let mut sink = Sink::new(on_batch, seq, usize::MAX);
    let mut record_errors = 0u64;
    let mut live_read = 0u64;
    let mut fields_hint = 24;
    let mut names = crate::stream::NameCache::default();
    for rec in chunk.iter() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                record_errors += 1;
                out.errors.push(SourceError::new(
                    Place::Record {
                        chunk: Some(index),
                        record_id: record_id_of(&e),
                    },
                    format!("record unreadable: {}", chain(&e)),
                ));
                continue;
            }
        };
        let id = rec.event_record_id;
        let recovered = rec.recovered;
        let header_time = jiff_to_chrono(rec.timestamp);
        let mut ev = Event::new(Origin {
            source: src.clone(),
            locator: Locator::Record(id),
        });
        // Sized from the chunk's previous record (same templates, mostly).
        ev.fields.reserve(fields_hint);
        let res: Result<(), String> = match strategy {
            Strategy::RenderOnly => rec
                .into_json_bytes()
                .map(|r| {
                    std::hint::black_box(r.data);
                })
                .map_err(|e| chain(&e)),
            Strategy::JsonValue => match rec.into_json_value() {
                Ok(r) => match r.data {
                    serde_json::Value::Object(o) => {
                        json_event(&o, &mut ev);
                        Ok(())
                    }
                    _ => Err("rendered record is not a JSON object".to_string()),
                },
                Err(e) => Err(chain(&e)),
            },
            Strategy::BytesValue => match rec.into_json_bytes() {
                Ok(r) => match serde_json::from_slice::<serde_json::Value>(&r.data) {
                    Ok(serde_json::Value::Object(o)) => {
                        json_event(&o, &mut ev);
                        Ok(())
                    }
                    Ok(_) => Err("rendered record is not a JSON object".to_string()),
                    Err(e) => Err(format!("rendered JSON unreadable: {e}")),
                },
                Err(e) => Err(chain(&e)),
            },
            Strategy::Streaming => match rec.into_json_bytes() {
                Ok(r) => crate::stream::flatten_json_bytes(&r.data, &mut ev, &mut names)
                    .map_err(|e| format!("rendered JSON unreadable: {e}")),
                Err(e) => Err(chain(&e)),
            },
        };
        match res {
            Ok(()) => {
                if !recovered {
                    live_read += 1;
                }
                if strategy == Strategy::RenderOnly {
                    sink.read += 1;
                    continue;
                }
                if ev.record_id.is_none() {
                    ev.record_id = Some(id);
                }
                if ev.timestamp.is_none() {
                    ev.timestamp = header_time;
                }
                if recovered {
                    // Carved from slack space: possibly stale, say so.
                    ev.push(crate::flatten::name(RECOVERED_FIELD), true);
                    out.recovered += 1;
                }
                fields_hint = ev.fields.len().max(8);
                sink.push(ev);
            }
            Err(msg) => {
                if !recovered {
                    record_errors += 1;
                    out.errors.push(SourceError::new(
                        Place::Record {
                            chunk: Some(index),
                            record_id: Some(id),
                        },
                        format!("record unreadable: {msg}"),
                    ));
                }
            }
        }
    }
    sink.flush();
    if let Some(mut e) = sink.time_errors() {
        if let Place::Record { chunk, .. } = &mut e.place {
            *chunk = Some(index);
        }
        out.errors.push(e);
    }
    out.read = sink.read;
    out.first = sink.first;
    out.last = sink.last;
    // Records the header promises but neither read nor reported.
    let expected = if sane_range {
        last_id - first_id + 1
    } else {
        0
    };
    out.skipped += record_errors.max(expected.saturating_sub(live_read));
    if sane_range && expected > live_read + record_errors {
        out.errors.push(SourceError::new(
            Place::Chunk(index),
            format!(
                "chunk header lists records {first_id}..={last_id} but {} of them could not be found",
                expected - live_read - record_errors
            ),
        ));
    }
    out
}

fn json_event(o: &serde_json::Map<String, serde_json::Value>, ev: &mut Event) {
    crate::flatten::json_to_event(o, ev);
}

fn record_id_of(e: &evtx::err::EvtxError) -> Option<u64> {
    match e {
        evtx::err::EvtxError::FailedToParseRecord { record_id, .. } => Some(*record_id),
        _ => None,
    }
}

fn jiff_to_chrono(t: evtx::Timestamp) -> Option<Timestamp> {
    DateTime::<Utc>::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
}
