//! The frame: what one `append` writes, as plain functions on bytes.
//!
//! ```text
//! 0   magic "VGF3"
//! 4   body length          u32 LE
//! 8   record count         u32 LE (never 0)
//! 12  first log position   u64 LE
//! 20  its batch's first    u64 LE (the position of the batch's first record)
//! 28  header CRC-32        over bytes 4..28, then the frame's file offset (u64 LE)
//! 32  frame CRC-32         over bytes 4..28, the file offset, then the body
//! 36  body                 the records' length (u32 LE), then the records
//!                          compressed as one Zstandard frame; the records:
//!                          tenant (u16 LE length + UTF-8), source (same),
//!                          time received (i64 LE), then per event its
//!                          length (u32 LE) and its bytes as they arrived
//! ```
//!
//! `VGF2` frames are still read: a 28-byte header without the batch's
//! first position (a batch was one frame), the body the records as they
//! are.
//!
//! Why compressed: Windows events as JSON repeat their field names and
//! most values from one event to the next; the log took about 1.1 GB per
//! million events written as they arrived, and a commune's machine keeps
//! weeks of them. Why per frame of at most [`FRAME_RECORDS`] bytes of
//! records, and not per batch: a reader holds the records of the frame it
//! is in, decompressed, so that bound is what a reader costs in memory
//! whatever the size of a shipper's request (256 MiB at most); one event
//! larger than that is a frame of its own.
//!
//! A batch is written as its frames one after the other, then synced once,
//! and acknowledged whole after that `fsync`. After a crash, its first
//! frames may be whole and a later one torn: from the torn one on, the
//! rest is cut (see [`scan`]), the whole ones before it are kept although
//! never acknowledged — the shipper sends the batch again, and its events
//! are then twice in the log, as with any at-least-once delivery (the
//! detections' ids are derived from the events, so they are not doubled).
//! Each frame names its batch's first position so that a whole frame of
//! the torn batch found after the damage (the kernel persisted its pages,
//! not the earlier ones) is not taken for a later, acknowledged batch.
//!
//! Why a checksum per frame and not per event: a frame is written whole,
//! so it must be judged whole after a crash. The kernel may persist the
//! later pages of an unsynced write and not the earlier ones; with one
//! checksum per event, an intact event after a damaged one looked like
//! acknowledged evidence, and the log refused to open although nothing was
//! lost.
//!
//! Why the offset and the position are in the checksums: an event's bytes
//! are chosen by whoever sends it, and a CRC is not a secret. Bytes copied
//! from a real frame, or built to look like one, only pass at the offset
//! and position they were computed for; a frame found where it does not
//! belong is not taken for evidence. The header has its own checksum so
//! that a frame whose body is damaged still tells where it ends: nothing
//! inside its claimed body is mistaken for a later frame.

use crc32fast::Hasher;

use crate::{IngestBatch, Result, StoreError};

use super::MAX_EVENT;

pub(super) const MAGIC: &[u8; 4] = b"VGF3";
/// Frames written before compression: read, never written.
pub(super) const PLAIN_MAGIC: &[u8; 4] = b"VGF2";
/// The records of one frame, at most (bytes before compression), unless
/// one event alone is larger.
pub const FRAME_RECORDS: usize = 1 << 20;
/// Zstandard's level: its fastest regular one. On the demo's week over
/// `_bulk`, level 1 wrote 37.9 MB per million events where level 3 wrote
/// 37.7 (JSON events repeat whole field names, which every level finds);
/// the worst case measured, syslog TCP with every host's events
/// interleaved, 102.1 against 100.1 — small frames, which no level fixes.
/// Level 1: the server's CPU per event went from ~1.75× to ~1.65× hunt's
/// (docs/benchmarks.md).
const LEVEL: i32 = 1;
/// The first development format (one checksummed record per event, no
/// batch frame, no offset in the checksum). Never released: it is not
/// read, and a segment starting with it is refused with a clear message
/// rather than taken for damage and cut.
pub(super) const OLD_MAGIC: &[u8; 4] = b"VGR1";
/// The bytes read to know a frame: a `VGF3` header (a `VGF2` one is
/// shorter; every frame is longer than this).
pub(super) const HEADER: usize = 36;
const PLAIN_HEADER: usize = 28;
/// The most records one byte of a body can hold: a plain record takes at
/// least its length field (4 bytes), a compressed one can take far less —
/// Zstandard's ratio stays under 2^15 — so this bounds how many positions
/// a damaged stretch of bytes can have held.
const RECORDS_PER_BYTE: u64 = 1 << 13;

/// A frame header that passed its checksum where it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub body: u64,
    pub count: u64,
    pub first: u64,
    /// The first position of the batch the frame is part of.
    pub batch_first: u64,
    crc: u32,
    /// The header fields (the first `len - 12` bytes) and the offset,
    /// which the body's checksum starts with.
    fields: [u8; 24],
    offset: u64,
    /// The header's length: 36 (`VGF3`) or 28 (`VGF2`).
    pub len: u64,
    /// A `VGF3` frame: the body is the records compressed.
    pub compressed: bool,
}

impl Header {
    /// Where the body of the frame read at `offset` starts.
    pub fn body_start(&self, offset: u64) -> u64 {
        offset + self.len
    }

    /// Where the frame read at `offset` ends.
    pub fn end(&self, offset: u64) -> u64 {
        offset + self.len + self.body
    }

    /// A checksum to feed the body through; [`Header::body_ok`] says
    /// whether it matched.
    pub fn body_hasher(&self) -> Hasher {
        fields_hasher(&self.fields[..self.len as usize - 12], self.offset)
    }

    pub fn body_ok(&self, hasher: Hasher) -> bool {
        hasher.finalize() == self.crc
    }
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64le(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn fields_hasher(fields: &[u8], offset: u64) -> Hasher {
    let mut h = Hasher::new();
    h.update(fields);
    h.update(&offset.to_le_bytes());
    h
}

/// The header in `head` (at least [`HEADER`] bytes) read at file offset
/// `offset`, when it is one: right magic, and its checksum passes for this
/// offset.
pub(super) fn header(head: &[u8], offset: u64) -> Option<Header> {
    let (compressed, len) = match head.get(..4)? {
        m if m == MAGIC => (true, HEADER),
        m if m == PLAIN_MAGIC => (false, PLAIN_HEADER),
        _ => return None,
    };
    let head = head.get(..len)?;
    let end = len - 8;
    if fields_hasher(&head[4..end], offset).finalize() != u32le(head, end) {
        return None;
    }
    let count = u64::from(u32le(head, 8));
    let first = u64le(head, 12);
    let mut fields = [0u8; 24];
    fields[..end - 4].copy_from_slice(&head[4..end]);
    (count > 0).then(|| Header {
        body: u64::from(u32le(head, 4)),
        count,
        first,
        batch_first: if compressed { u64le(head, 20) } else { first },
        crc: u32le(head, end + 4),
        fields,
        offset,
        len: len as u64,
        compressed,
    })
}

/// A batch as frames, one after the other in `bytes`, their headers left
/// blank for [`seal`] (which needs the offset and the position, known only
/// under the writer's lock).
pub(super) struct Encoded {
    pub bytes: Vec<u8>,
    /// Each frame's length in `bytes` and its record count.
    pub frames: Vec<(usize, u64)>,
}

/// The frames of `batch`: its events cut into runs of at most
/// [`FRAME_RECORDS`] bytes of records, each compressed.
pub(super) fn encode(batch: &IngestBatch) -> Result<Encoded> {
    let invalid = |m: String| Err(StoreError::Invalid(m));
    if batch.tenant.len() > u16::MAX as usize || batch.source.len() > u16::MAX as usize {
        return invalid("tenant or source name too long".into());
    }
    if let Some(e) = batch.events.iter().find(|e| e.len() > MAX_EVENT) {
        return invalid(format!(
            "an event of {} bytes (at most {MAX_EVENT})",
            e.len()
        ));
    }
    let mut out = Encoded {
        bytes: Vec::new(),
        frames: Vec::new(),
    };
    let mut records = Vec::with_capacity(FRAME_RECORDS + 64);
    let mut rest = &batch.events[..];
    while !rest.is_empty() {
        records.clear();
        records.extend_from_slice(&(batch.tenant.len() as u16).to_le_bytes());
        records.extend_from_slice(batch.tenant.as_bytes());
        records.extend_from_slice(&(batch.source.len() as u16).to_le_bytes());
        records.extend_from_slice(batch.source.as_bytes());
        records.extend_from_slice(&batch.received.to_le_bytes());
        let mut count = 0usize;
        for event in rest {
            if count > 0 && records.len() + 4 + event.len() > FRAME_RECORDS {
                break;
            }
            records.extend_from_slice(&(event.len() as u32).to_le_bytes());
            records.extend_from_slice(event);
            count += 1;
        }
        rest = &rest[count..];
        let start = out.bytes.len();
        out.bytes.resize(start + HEADER, 0);
        out.bytes
            .extend_from_slice(&(records.len() as u32).to_le_bytes());
        // Compressed straight after its header, by this thread's context.
        out.bytes
            .reserve(zstd::zstd_safe::compress_bound(records.len()));
        COMPRESSOR
            .with_borrow_mut(|c| {
                let c = match c {
                    Some(c) => c,
                    None => c.insert(zstd::bulk::Compressor::new(LEVEL)?),
                };
                // After what is already there (a `Vec` alone is written
                // from its start).
                let mut after = std::io::Cursor::new(&mut out.bytes);
                after.set_position((start + HEADER + 4) as u64);
                c.compress_to_buffer(&records[..], &mut after)
            })
            .map_err(|e| StoreError::Io {
                what: "compress a frame".into(),
                source: e,
            })?;
        out.frames.push((out.bytes.len() - start, count as u64));
    }
    Ok(out)
}

/// Fills the headers of `encoded`'s frames, written from file offset
/// `offset` with first position `first`.
pub(super) fn seal_all(encoded: &mut Encoded, mut offset: u64, mut first: u64) {
    let (mut at, batch_first) = (0usize, first);
    for &(len, count) in &encoded.frames {
        seal(
            &mut encoded.bytes[at..at + len],
            offset,
            first,
            batch_first,
            count,
        );
        at += len;
        offset += len as u64;
        first += count;
    }
}

/// Fills the header of one frame holding `count` records, to be written at
/// file offset `offset` with first position `first`.
fn seal(frame: &mut [u8], offset: u64, first: u64, batch_first: u64, count: u64) {
    let body = (frame.len() - HEADER) as u32;
    frame[..4].copy_from_slice(MAGIC);
    frame[4..8].copy_from_slice(&body.to_le_bytes());
    frame[8..12].copy_from_slice(&(count as u32).to_le_bytes());
    frame[12..20].copy_from_slice(&first.to_le_bytes());
    frame[20..28].copy_from_slice(&batch_first.to_le_bytes());
    let mut h = fields_hasher(&frame[4..28], offset);
    frame[28..32].copy_from_slice(&h.clone().finalize().to_le_bytes());
    h.update(&frame[HEADER..]);
    frame[32..36].copy_from_slice(&h.finalize().to_le_bytes());
}

/// The records of a frame whose body (checked) is `body`: decompressed
/// for a `VGF3` frame, as they are for a `VGF2` one. `None` when they do
/// not decompress to the length the frame says, or that length is more
/// than its records can take.
pub(super) fn records(h: &Header, body: Vec<u8>) -> Option<Vec<u8>> {
    if !h.compressed {
        return Some(body);
    }
    let len = u32::from_le_bytes(body.get(..4)?.try_into().ok()?) as usize;
    // Never allocated past what the frame's records can be.
    let most = 12 + 2 * usize::from(u16::MAX) + FRAME_RECORDS.max(4 + MAX_EVENT);
    if len > most {
        return None;
    }
    let mut records = Vec::with_capacity(len);
    DECOMPRESSOR
        .with_borrow_mut(|d| {
            let d = match d {
                Some(d) => d,
                None => d.insert(zstd::bulk::Decompressor::new()?),
            };
            d.decompress_to_buffer(&body[4..], &mut records)
        })
        .ok()?;
    (records.len() == len).then_some(records)
}

// One Zstandard context per thread, kept: making one per frame allocated
// and cleared its tables (megabytes at level 3, fewer at 1) for every append and every
// frame read back, a few percent of the server's CPU on the week's replay.
thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// What is at `bytes[at..]`.
#[derive(Debug, PartialEq, Eq)]
enum At {
    /// A whole frame that passed both checksums.
    Frame(Header),
    /// A header that passed its checksum, its body damaged or cut short.
    Header(Header),
    Nothing,
}

fn frame_at(bytes: &[u8], at: usize) -> At {
    let Some(h) = bytes.get(at..).and_then(|b| header(b, at as u64)) else {
        return At::Nothing;
    };
    let body = usize::try_from(h.end(at as u64))
        .ok()
        .and_then(|end| bytes.get(h.body_start(at as u64) as usize..end));
    match body {
        Some(body) => {
            let mut hasher = h.body_hasher();
            hasher.update(body);
            if h.body_ok(hasher) {
                At::Frame(h)
            } else {
                At::Header(h)
            }
        }
        None => At::Header(h),
    }
}

/// What a segment's bytes hold.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Scan {
    /// Records in the intact frames before `good`.
    pub records: u64,
    /// Where the intact frames end.
    pub good: usize,
    pub damage: Option<Damage>,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Damage {
    /// Nothing that belongs to the log follows the damage: the last frame
    /// was being written when the process or the machine stopped (its
    /// `fsync` had not returned, so it was never acknowledged).
    Torn,
    /// A frame that belongs to the log follows the damage (batches are
    /// written one after the other, each after the previous one's `fsync`
    /// returned), or a whole frame sits at the right place with the wrong
    /// position: acknowledged evidence is damaged.
    Acknowledged,
}

/// Scans a segment whose first record is at position `first`.
pub(super) fn scan(bytes: &[u8], first: u64) -> Scan {
    let (mut pos, mut at) = (first, 0usize);
    while at < bytes.len() {
        let search_from = match frame_at(bytes, at) {
            At::Frame(h) if h.first == pos => {
                pos += h.count;
                at = h.end(at as u64) as usize;
                continue;
            }
            // The header is where the previous frame ends and passed its
            // checksum there, so its extent is known: only after it can a
            // later frame be.
            At::Header(h) if h.first == pos => {
                usize::try_from(h.end(at as u64)).unwrap_or(usize::MAX)
            }
            At::Frame(_) | At::Header(_) => {
                return Scan {
                    records: pos - first,
                    good: at,
                    damage: Some(Damage::Acknowledged),
                }
            }
            At::Nothing => at + 1,
        };
        let damage = if later_frame(bytes, search_from, at, pos) {
            Damage::Acknowledged
        } else {
            Damage::Torn
        };
        return Scan {
            records: pos - first,
            good: at,
            damage: Some(damage),
        };
    }
    Scan {
        records: pos - first,
        good: at,
        damage: None,
    }
}

/// Whether a frame of this log starts at or after `from`, after damage at
/// `damaged` where position `pos` was due: a header that passes its
/// checksum at its own offset, with a later position that the damaged
/// bytes could have held, of a later batch (a frame of the batch that
/// holds `pos` was written with it, unacknowledged like it).
fn later_frame(bytes: &[u8], from: usize, damaged: usize, pos: u64) -> bool {
    let mut at = from;
    while let Some(i) = bytes.get(at..).and_then(|rest| {
        rest.windows(MAGIC.len())
            .position(|w| w == MAGIC || w == PLAIN_MAGIC)
    }) {
        let x = at + i;
        if let Some(h) = header(&bytes[x..], x as u64) {
            let room = ((x - damaged) as u64).saturating_mul(RECORDS_PER_BYTE);
            if h.first > pos && h.batch_first > pos && h.first - pos <= room {
                return true;
            }
        }
        at = x + 1;
    }
    false
}

/// The tenant, source and time received at the start of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shared {
    pub tenant: String,
    pub source: String,
    pub received: i64,
}

/// How many bytes the shared fields take, from the two name lengths.
#[cfg(test)]
fn shared_len(tenant: usize, source: usize) -> usize {
    12 + tenant + source
}

/// Reads the shared fields of a body from its first bytes (at least
/// [`shared_len`] of them).
pub(super) fn shared(b: &[u8]) -> Option<(Shared, usize)> {
    let tl = u16::from_le_bytes(b.get(..2)?.try_into().ok()?) as usize;
    let tenant = String::from_utf8(b.get(2..2 + tl)?.to_vec()).ok()?;
    let s = 2 + tl;
    let sl = u16::from_le_bytes(b.get(s..s + 2)?.try_into().ok()?) as usize;
    let source = String::from_utf8(b.get(s + 2..s + 2 + sl)?.to_vec()).ok()?;
    let r = s + 2 + sl;
    let received = i64::from_le_bytes(b.get(r..r + 8)?.try_into().ok()?);
    Some((
        Shared {
            tenant,
            source,
            received,
        },
        r + 8,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(events: &[&[u8]]) -> IngestBatch {
        IngestBatch {
            tenant: "default".into(),
            source: "t".into(),
            received: 1,
            events: events.iter().map(|e| e.to_vec()).collect(),
        }
    }

    fn frame(events: &[&[u8]], offset: u64, first: u64) -> Vec<u8> {
        let mut f = encode(&batch(events)).unwrap();
        assert_eq!(f.frames.len(), 1);
        seal_all(&mut f, offset, first);
        f.bytes
    }

    fn body_of(f: &[u8], offset: u64) -> Vec<u8> {
        let h = header(f, offset).unwrap();
        records(&h, f[HEADER..].to_vec()).unwrap()
    }

    #[test]
    fn a_large_batch_is_frames_of_bounded_records_that_read_back() {
        let event = vec![b'x'; 300 << 10];
        let events: Vec<&[u8]> = vec![&event[..]; 7];
        let mut f = encode(&batch(&events)).unwrap();
        // 7 events of 300 KiB: 3 per MiB frame, then 3, then 1.
        assert_eq!(
            f.frames.iter().map(|&(_, c)| c).collect::<Vec<_>>(),
            [3, 3, 1]
        );
        assert!(f.bytes.len() < 64 << 10, "compressed: {}", f.bytes.len());
        seal_all(&mut f, 0, 10);
        let s = scan(&f.bytes, 10);
        assert_eq!((s.records, s.good, s.damage), (7, f.bytes.len(), None));
        let (len0, _) = f.frames[0];
        let second = header(&f.bytes[len0..], len0 as u64).unwrap();
        assert_eq!(second.first, 13);
        let body = records(
            &second,
            f.bytes[len0 + HEADER..len0 + f.frames[1].0].to_vec(),
        );
        assert_eq!(
            body.unwrap().len(),
            shared_len(7, 1) + 3 * (4 + event.len())
        );
        // One event larger than a frame's bound is a frame of its own.
        let big = vec![b'y'; (1 << 20) + 5];
        let f = encode(&batch(&[b"{}", &big, b"{}"])).unwrap();
        assert_eq!(
            f.frames.iter().map(|&(_, c)| c).collect::<Vec<_>>(),
            [1, 1, 1]
        );
    }

    #[test]
    fn plain_frames_written_before_compression_are_read() {
        // The records of a frame, as VGF2 wrote them uncompressed with a
        // 28-byte header.
        let plain_records = body_of(&frame(&[b"{\"a\":1}"], 0, 0), 0);
        let mut fields = Vec::new();
        fields.extend_from_slice(&(plain_records.len() as u32).to_le_bytes());
        fields.extend_from_slice(&1u32.to_le_bytes());
        fields.extend_from_slice(&9u64.to_le_bytes());
        let mut h = fields_hasher(&fields, 40);
        let mut f = PLAIN_MAGIC.to_vec();
        f.extend_from_slice(&fields);
        f.extend_from_slice(&h.clone().finalize().to_le_bytes());
        h.update(&plain_records);
        f.extend_from_slice(&h.finalize().to_le_bytes());
        f.extend_from_slice(&plain_records);
        let head = header(&f, 40).unwrap();
        assert!(!head.compressed);
        assert_eq!((head.len, head.first, head.batch_first), (28, 9, 9));
        assert_eq!(head.end(40), 40 + f.len() as u64);
        let mut hasher = head.body_hasher();
        hasher.update(&f[28..]);
        assert!(head.body_ok(hasher));
        assert_eq!(records(&head, f[28..].to_vec()).unwrap(), plain_records);
        assert_eq!(header(&f, 41), None, "another offset");
    }

    #[test]
    fn a_whole_frame_of_the_torn_batch_after_the_damage_is_no_evidence() {
        let a = frame(&[b"{\"a\":1}"], 0, 0);
        // A batch of three frames after it, its middle frame damaged and
        // its last one whole (the kernel wrote that page, not the other).
        let event = noise_like(700 << 10);
        let mut b = encode(&batch(&[&event, &event, &event])).unwrap();
        assert_eq!(b.frames.len(), 3);
        seal_all(&mut b, a.len() as u64, 1);
        let whole = [a.clone(), b.bytes.clone()].concat();
        assert_eq!(scan(&whole, 0).damage, None);
        let mut torn = whole.clone();
        let middle = a.len() + b.frames[0].0;
        torn[middle + HEADER + 10] ^= 0xff;
        let s = scan(&torn, 0);
        assert_eq!((s.records, s.good), (2, middle), "the first frame stays");
        assert_eq!(s.damage, Some(Damage::Torn));
        // A later batch's frame after the damage is acknowledged evidence.
        let mut c = encode(&batch(&[b"{}"])).unwrap();
        seal_all(&mut c, whole.len() as u64, 4);
        let mut later = [torn, c.bytes].concat();
        assert_eq!(scan(&later, 0).damage, Some(Damage::Acknowledged));
        later.truncate(whole.len());
        assert_eq!(scan(&later, 0).damage, Some(Damage::Torn));
    }

    /// Bytes that do not compress (a frame's worth of them fills it).
    fn noise_like(n: usize) -> Vec<u8> {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn frames_pass_only_where_they_were_written() {
        let f = frame(&[b"{\"a\":1}", b"{\"a\":2}"], 100, 7);
        let h = header(&f, 100).unwrap();
        assert_eq!((h.count, h.first, h.end(100)), (2, 7, 100 + f.len() as u64));
        assert_eq!(header(&f, 101), None, "another offset");
        let (shared, n) = shared(&body_of(&f, 100)).unwrap();
        assert_eq!(
            (shared.tenant.as_str(), shared.source.as_str()),
            ("default", "t")
        );
        assert_eq!(n, shared_len(7, 1));
    }

    #[test]
    fn a_torn_frame_is_told_from_damage_before_a_later_frame() {
        let a = frame(&[b"{\"a\":1}", b"{\"a\":2}"], 0, 0);
        let b = frame(&[b"{\"a\":3}"], a.len() as u64, 2);
        let whole = [a.clone(), b.clone()].concat();
        let clean = scan(&whole, 0);
        assert_eq!(
            (clean.records, clean.good, clean.damage),
            (3, whole.len(), None)
        );
        // The last frame cut short: torn.
        let torn = scan(&whole[..whole.len() - 3], 0);
        assert_eq!((torn.records, torn.good), (2, a.len()));
        assert_eq!(torn.damage, Some(Damage::Torn));
        // A byte of the first frame's body flipped, its header intact.
        let mut body = whole.clone();
        body[HEADER + 3] ^= 0xff;
        assert_eq!(scan(&body, 0).damage, Some(Damage::Acknowledged));
        // Its header flipped: the later frame is found by searching.
        let mut head = whole.clone();
        head[5] ^= 0xff;
        let s = scan(&head, 0);
        assert_eq!((s.records, s.good), (0, 0));
        assert_eq!(s.damage, Some(Damage::Acknowledged));
        // A whole frame where the first should be, with another position.
        let wrong = frame(&[b"{\"a\":1}"], 0, 5);
        assert_eq!(scan(&wrong, 0).damage, Some(Damage::Acknowledged));
        // Segments are scanned from their first position.
        assert_eq!(scan(&b, 2).damage, Some(Damage::Torn), "offset differs");
    }
}
