//! Gzip, bounded: the header is parsed here (not by `flate2`'s
//! `GzDecoder`, whose header fields are capped low: a valid file with a
//! 1 MB name field was refused and its logs lost), the deflate data is
//! inflated by `flate2` with a limit on the total size, and concatenated
//! members are read in turn, as `gzip -d` does.
//!
//! Limits, each reported when hit (the part inflated before is kept):
//! * inflated size: [`INFLATE_RATIO`] times the compressed size, at least
//!   [`INFLATE_FLOOR`], at most [`INFLATE_MAX`] (a 10 MB bomb no longer
//!   inflates to 4 GB);
//! * name and comment fields: [`FIELD_MAX`] bytes each;
//! * gzip inside gzip: [`MAX_LAYERS`] layers.

use std::io::Read;

use crate::{Place, SourceError};

/// Gzip content may inflate to at most this many times its compressed
/// size (text logs compress 5–30×; a bomb of zeros ~1,000×)…
pub const INFLATE_RATIO: u64 = 100;
/// …with at least this much allowed for small files…
pub const INFLATE_FLOOR: u64 = 64 << 20;
/// …and never more than this (the inflated content is held in memory).
pub const INFLATE_MAX: u64 = 4 << 30;
/// Longest name or comment field read in a gzip header.
pub const FIELD_MAX: usize = 16 << 20;
/// Gzip layers unwrapped (`x.gz.gz.gz`); deeper is refused.
pub const MAX_LAYERS: usize = 4;

pub(crate) const MAGIC: &[u8] = &[0x1f, 0x8b];

/// How many bytes the gzip content of a file of `compressed` bytes may
/// inflate to (see [`INFLATE_RATIO`]).
pub fn inflate_limit(compressed: u64) -> u64 {
    compressed
        .saturating_mul(INFLATE_RATIO)
        .clamp(INFLATE_FLOOR, INFLATE_MAX)
}

/// Inflates `bytes` (starting with the gzip magic), layer after layer
/// while the content is gzip again, within the limits. Problems go to
/// `errors`; what was inflated before a problem is returned.
pub(crate) fn inflate(bytes: &[u8], errors: &mut Vec<SourceError>) -> Vec<u8> {
    let limit = inflate_limit(bytes.len() as u64);
    let mut data = members(bytes, limit, errors);
    let mut layers = 1;
    while data.starts_with(MAGIC) {
        if layers >= MAX_LAYERS {
            errors.push(SourceError::new(
                Place::File,
                format!("gzip nested more than {MAX_LAYERS} layers deep: not read further"),
            ));
            return Vec::new();
        }
        data = members(&data, limit, errors);
        layers += 1;
    }
    data
}

/// The inflated members of one gzip stream, at most `limit` bytes.
fn members(bytes: &[u8], limit: u64, errors: &mut Vec<SourceError>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut member = 0u64;
    while !rest.is_empty() {
        let at = (bytes.len() - rest.len()) as u64;
        if !rest.starts_with(MAGIC) {
            if member > 0 && rest.iter().all(|&b| b == 0) {
                break; // zero padding after the last member (tape, dd)
            }
            errors.push(SourceError::new(
                Place::Offset(at),
                format!(
                    "{} bytes after gzip member {member} are not gzip: ignored",
                    rest.len()
                ),
            ));
            break;
        }
        let body = match header_len(rest) {
            Ok(n) => &rest[n..],
            Err(e) => {
                errors.push(SourceError::new(
                    Place::Offset(at),
                    format!("gzip member {member}: {e}; not read further"),
                ));
                break;
            }
        };
        let before = out.len();
        let room = limit.saturating_sub(before as u64);
        let mut dec = flate2::bufread::DeflateDecoder::new(body).take(room + 1);
        let res = dec.read_to_end(&mut out);
        let consumed_to = dec.into_inner().into_inner();
        if out.len() as u64 > limit {
            out.truncate(limit as usize);
            // Cut at the last whole line: the part read stays readable.
            if let Some(n) = memchr::memrchr(b'\n', &out) {
                out.truncate(n + 1);
            }
            errors.push(SourceError::new(
                Place::Offset(at),
                format!(
                    "gzip content larger than {} MiB ({INFLATE_RATIO}× the {} compressed bytes, \
                     at least {} MiB, at most {} MiB): decompression stopped (a decompression bomb, \
                     or logs far more repetitive than usual); the first {} inflated bytes are read, \
                     the rest is not",
                    limit >> 20,
                    bytes.len(),
                    INFLATE_FLOOR >> 20,
                    INFLATE_MAX >> 20,
                    out.len()
                ),
            ));
            return out;
        }
        if let Err(e) = res {
            // A truncated .gz still holds every complete line before the cut.
            errors.push(SourceError::new(
                Place::Offset(at),
                format!(
                    "gzip stream broken in member {member} after {} decompressed bytes: {e}; \
                     reading what was recovered",
                    out.len()
                ),
            ));
            return out;
        }
        // The trailer: CRC-32 and size of the member's content.
        let Some(trailer) = consumed_to.get(..8) else {
            errors.push(SourceError::new(
                Place::Offset(at),
                format!("gzip member {member} cut before its trailer (truncated file); its content is read"),
            ));
            return out;
        };
        let mut crc = flate2::Crc::new();
        crc.update(&out[before..]);
        let want = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        if crc.sum() != want {
            errors.push(SourceError::new(
                Place::Offset(at),
                format!("gzip member {member}: CRC mismatch (content damaged); read anyway"),
            ));
        }
        rest = &consumed_to[8..];
        member += 1;
    }
    out
}

/// Length of the gzip header at the start of `b` (RFC 1952).
pub(crate) fn header_len(b: &[u8]) -> Result<usize, String> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if b.len() < 10 {
        return Err("header cut short".into());
    }
    if b[2] != 8 {
        return Err(format!("compression method {} is not deflate", b[2]));
    }
    let flags = b[3];
    let mut i = 10;
    if flags & FEXTRA != 0 {
        let n = b
            .get(i..i + 2)
            .map(|x| u16::from_le_bytes([x[0], x[1]]) as usize)
            .ok_or("header cut short")?;
        i += 2 + n;
    }
    for (flag, what) in [(FNAME, "name"), (FCOMMENT, "comment")] {
        if flags & flag != 0 {
            let field = b.get(i..).ok_or("header cut short")?;
            let window = &field[..field.len().min(FIELD_MAX + 1)];
            let n = memchr::memchr(0, window).ok_or_else(|| {
                format!(
                    "header {what} field longer than {} MiB or not ended",
                    FIELD_MAX >> 20
                )
            })?;
            i += n + 1;
        }
    }
    if flags & FHCRC != 0 {
        i += 2;
    }
    if i > b.len() {
        return Err("header cut short".into());
    }
    Ok(i)
}
