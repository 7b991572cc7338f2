//! The batch frame: what one `append` writes, as plain functions on bytes.
//!
//! ```text
//! 0   magic "VGF2"
//! 4   body length          u32 LE
//! 8   record count         u32 LE (never 0)
//! 12  first log position   u64 LE
//! 20  header CRC-32        over bytes 4..20, then the frame's file offset (u64 LE)
//! 24  frame CRC-32         over bytes 4..20, the file offset, then the body
//! 28  body                 tenant (u16 LE length + UTF-8), source (same),
//!                          time received (i64 LE), then per event its
//!                          length (u32 LE) and its bytes as they arrived
//! ```
//!
//! Why a frame per batch and not a checksum per event: a batch is
//! acknowledged whole after its `fsync`, so it must be judged whole after
//! a crash. The kernel may persist the later pages of an unsynced batch and
//! not the earlier ones; with one checksum per event, an intact event after
//! a damaged one looked like acknowledged evidence, and the log refused to
//! open although nothing was lost.
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

pub(super) const MAGIC: &[u8; 4] = b"VGF2";
/// The first development format (one checksummed record per event, no
/// batch frame, no offset in the checksum). Never released: it is not
/// read, and a segment starting with it is refused with a clear message
/// rather than taken for damage and cut.
pub(super) const OLD_MAGIC: &[u8; 4] = b"VGR1";
pub(super) const HEADER: usize = 28;
/// The fewest bytes one record takes in a body (its length field): bounds
/// how many positions a damaged stretch of bytes can have held.
const MIN_RECORD: u64 = 4;

/// A frame header that passed its checksum where it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub body: u64,
    pub count: u64,
    pub first: u64,
    crc: u32,
    /// The header fields and the offset, which the body's checksum
    /// starts with.
    fields: [u8; 16],
    offset: u64,
}

impl Header {
    /// Where the frame read at `offset` ends.
    pub fn end(&self, offset: u64) -> u64 {
        offset + HEADER as u64 + self.body
    }

    /// A checksum to feed the body through; [`Header::body_ok`] says
    /// whether it matched.
    pub fn body_hasher(&self) -> Hasher {
        fields_hasher(&self.fields, self.offset)
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
    let head = head.get(..HEADER)?;
    if &head[..4] != MAGIC {
        return None;
    }
    if fields_hasher(&head[4..20], offset).finalize() != u32le(head, 20) {
        return None;
    }
    let count = u64::from(u32le(head, 8));
    (count > 0).then(|| Header {
        body: u64::from(u32le(head, 4)),
        count,
        first: u64le(head, 12),
        crc: u32le(head, 24),
        fields: head[4..20].try_into().expect("16 bytes"),
        offset,
    })
}

/// The frame of `batch`, its header left blank for [`seal`] (which needs
/// the offset and the position, known only under the writer's lock).
pub(super) fn encode(batch: &IngestBatch) -> Result<Vec<u8>> {
    let invalid = |m: String| Err(StoreError::Invalid(m));
    if batch.tenant.len() > u16::MAX as usize || batch.source.len() > u16::MAX as usize {
        return invalid("tenant or source name too long".into());
    }
    if batch.events.len() > u32::MAX as usize {
        return invalid(format!("a batch of {} events", batch.events.len()));
    }
    let size = HEADER
        + 12
        + batch.tenant.len()
        + batch.source.len()
        + batch.events.iter().map(|e| 4 + e.len()).sum::<usize>();
    if size - HEADER > u32::MAX as usize {
        return invalid(format!("a batch of {size} bytes (at most 4 GiB)"));
    }
    let mut out = Vec::with_capacity(size);
    out.resize(HEADER, 0);
    out.extend_from_slice(&(batch.tenant.len() as u16).to_le_bytes());
    out.extend_from_slice(batch.tenant.as_bytes());
    out.extend_from_slice(&(batch.source.len() as u16).to_le_bytes());
    out.extend_from_slice(batch.source.as_bytes());
    out.extend_from_slice(&batch.received.to_le_bytes());
    for event in &batch.events {
        if event.len() > MAX_EVENT {
            return invalid(format!(
                "an event of {} bytes (at most {MAX_EVENT})",
                event.len()
            ));
        }
        out.extend_from_slice(&(event.len() as u32).to_le_bytes());
        out.extend_from_slice(event);
    }
    Ok(out)
}

/// Fills the header of a frame from [`encode`] holding `count` records,
/// to be written at file offset `offset` with first position `first`.
pub(super) fn seal(frame: &mut [u8], offset: u64, first: u64, count: u64) {
    let body = (frame.len() - HEADER) as u32;
    frame[..4].copy_from_slice(MAGIC);
    frame[4..8].copy_from_slice(&body.to_le_bytes());
    frame[8..12].copy_from_slice(&(count as u32).to_le_bytes());
    frame[12..20].copy_from_slice(&first.to_le_bytes());
    let mut h = fields_hasher(&frame[4..20], offset);
    frame[20..24].copy_from_slice(&h.clone().finalize().to_le_bytes());
    h.update(&frame[HEADER..]);
    frame[24..28].copy_from_slice(&h.finalize().to_le_bytes());
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
        .and_then(|end| bytes.get(at + HEADER..end));
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
/// bytes could have held.
fn later_frame(bytes: &[u8], from: usize, damaged: usize, pos: u64) -> bool {
    let mut at = from;
    while let Some(i) = bytes
        .get(at..)
        .and_then(|rest| rest.windows(MAGIC.len()).position(|w| w == MAGIC))
    {
        let x = at + i;
        if let Some(h) = header(&bytes[x..], x as u64) {
            let room = (x - damaged) as u64 / MIN_RECORD;
            if h.first > pos && h.first - pos <= room {
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
pub(super) fn shared_len(tenant: usize, source: usize) -> usize {
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
        seal(&mut f, offset, first, events.len() as u64);
        f
    }

    #[test]
    fn frames_pass_only_where_they_were_written() {
        let f = frame(&[b"{\"a\":1}", b"{\"a\":2}"], 100, 7);
        let h = header(&f, 100).unwrap();
        assert_eq!((h.count, h.first, h.end(100)), (2, 7, 100 + f.len() as u64));
        assert_eq!(header(&f, 101), None, "another offset");
        let (shared, n) = shared(&f[HEADER..]).unwrap();
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
