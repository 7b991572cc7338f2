//! A consumer's way through the segments.
//!
//! A frame is checked whole (its checksum streamed, in bounded memory)
//! before any of its events is delivered, then its events are read one by
//! one; the reader remembers the frame it is in, so a large batch is
//! checked once, not once per delivery. A segment that is not where the
//! previous one ends, or damage, is an error: a reader never skips.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::{Delivery, Position, Result, StoreError};

use super::frame::{self, Header, Shared, HEADER};
use super::{io, missing, segment_name, segments, MAX_DELIVERY_BYTES, MAX_EVENT};

/// Where a consumer's next record is on disk.
#[derive(Clone)]
pub(super) struct Reader {
    /// The next position to deliver.
    next: u64,
    /// The segment holding it.
    segment_first: u64,
    /// The offset of the frame holding it (or of the next frame).
    frame: u64,
    /// Inside a frame already checked.
    inside: Option<Inside>,
}

#[derive(Clone)]
struct Inside {
    shared: Shared,
    /// Where the next record's length is.
    at: u64,
    /// Where the frame ends, and the position after its last record.
    end: u64,
    end_position: u64,
}

/// A segment open for reading, remembering where its reader stands so
/// that sequential reads keep their buffer.
struct Segment {
    path: PathBuf,
    len: u64,
    r: BufReader<File>,
    at: Option<u64>,
}

impl Segment {
    fn open(path: PathBuf) -> std::io::Result<Segment> {
        let file = File::open(&path)?;
        let len = file.metadata()?.len();
        Ok(Segment {
            path,
            len,
            r: BufReader::with_capacity(1 << 16, file),
            at: None,
        })
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match self.at {
            Some(at) if at == offset => {}
            Some(at) => self.r.seek_relative(offset as i64 - at as i64)?,
            None => {
                self.r.seek(SeekFrom::Start(offset))?;
            }
        }
        self.at = None;
        self.r.read_exact(buf)?;
        self.at = Some(offset + buf.len() as u64);
        Ok(())
    }

    fn damaged(&self, offset: u64) -> StoreError {
        StoreError::Damaged {
            segment: self.path.display().to_string(),
            offset,
        }
    }

    /// The header of the frame at `offset`, which must hold `position`
    /// first.
    fn header(&mut self, offset: u64, position: u64) -> Result<Header> {
        let mut head = [0u8; HEADER];
        self.read_at(offset, &mut head)
            .map_err(|_| self.damaged(offset))?;
        match frame::header(&head, offset) {
            Some(h) if h.first == position && h.end(offset) <= self.len => Ok(h),
            _ => Err(self.damaged(offset)),
        }
    }

    /// Checks the body of the frame at `offset` against its checksum,
    /// then reads its shared fields.
    fn enter(&mut self, offset: u64, h: &Header) -> Result<Inside> {
        let mut hasher = h.body_hasher();
        let mut buf = vec![0u8; 1 << 16];
        let (mut at, end) = (offset + HEADER as u64, h.end(offset));
        while at < end {
            let n = (end - at).min(buf.len() as u64) as usize;
            self.read_at(at, &mut buf[..n])
                .map_err(|_| self.damaged(offset))?;
            hasher.update(&buf[..n]);
            at += n as u64;
        }
        if !h.body_ok(hasher) {
            return Err(self.damaged(offset));
        }
        let start = offset + HEADER as u64;
        let mut lens = [0u8; 2];
        self.read_at(start, &mut lens)
            .map_err(|_| self.damaged(offset))?;
        let tenant = u16::from_le_bytes(lens) as u64;
        self.read_at(start + 2 + tenant, &mut lens)
            .map_err(|_| self.damaged(offset))?;
        let len = frame::shared_len(tenant as usize, u16::from_le_bytes(lens) as usize);
        if len as u64 > h.body {
            return Err(self.damaged(offset));
        }
        let mut b = vec![0u8; len];
        self.read_at(start, &mut b)
            .map_err(|_| self.damaged(offset))?;
        let (shared, len) = frame::shared(&b).ok_or_else(|| self.damaged(offset))?;
        Ok(Inside {
            shared,
            at: start + len as u64,
            end,
            end_position: h.first + h.count,
        })
    }

    /// The event at `inside.at`, and where the next one starts.
    fn event(&mut self, frame: u64, inside: &Inside, last: bool) -> Result<(Vec<u8>, u64)> {
        let mut len = [0u8; 4];
        self.read_at(inside.at, &mut len)
            .map_err(|_| self.damaged(frame))?;
        let len = u32::from_le_bytes(len) as u64;
        let next = inside.at + 4 + len;
        // Checked already, so only a defect of the writer fails here;
        // still never allocated past the bound nor read past the frame.
        if len > MAX_EVENT as u64 || next > inside.end || (last && next != inside.end) {
            return Err(self.damaged(frame));
        }
        let mut event = vec![0u8; len as usize];
        self.read_at(inside.at + 4, &mut event)
            .map_err(|_| self.damaged(frame))?;
        Ok((event, next))
    }
}

impl Reader {
    /// A reader at position `to`, below `durable`: it starts in the
    /// segment that should hold `to` and moves there frame by frame,
    /// checking that every segment is where the previous one ends.
    pub fn at(dir: &Path, to: u64, durable: u64) -> Result<Reader> {
        let firsts = segments(dir)?;
        // Positions below the oldest segment kept were removed by the
        // retention policy: a reader starts at the oldest kept.
        let oldest = firsts.first().copied().unwrap_or(0);
        let to = to.max(oldest);
        let first = firsts
            .into_iter()
            .filter(|&f| f <= to)
            .max()
            .unwrap_or(oldest);
        let mut reader = Reader {
            next: first,
            segment_first: first,
            frame: 0,
            inside: None,
        };
        let mut none = Vec::new();
        reader.walk(dir, to.min(durable), usize::MAX, &mut none, false)?;
        Ok(reader)
    }

    /// Up to `max` records below `durable` (at least one when there is
    /// one, at most about [`MAX_DELIVERY_BYTES`] of events). Records read
    /// before an error are delivered; the error comes at the next call.
    pub fn read(&mut self, dir: &Path, max: usize, durable: u64) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        match self.walk(dir, durable, max, &mut out, true) {
            Err(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// Moves up to position `limit` (or `max` records, or the byte
    /// bound), delivering into `out` when `deliver`; whole frames are
    /// passed over by their headers when not delivering.
    fn walk(
        &mut self,
        dir: &Path,
        limit: u64,
        max: usize,
        out: &mut Vec<Delivery>,
        deliver: bool,
    ) -> Result<()> {
        let mut bytes = 0usize;
        while self.next < limit && out.len() < max && bytes < MAX_DELIVERY_BYTES {
            let path = dir.join(segment_name(self.segment_first));
            let mut seg = match Segment::open(path.clone()) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(missing(dir, self.segment_first, limit)?)
                }
                Err(e) => return Err(io(format!("open {}", path.display()))(e)),
            };
            while self.next < limit && out.len() < max && bytes < MAX_DELIVERY_BYTES {
                let inside = match &self.inside {
                    Some(inside) => inside.clone(),
                    None if self.frame >= seg.len => {
                        // This segment is done: the next one must start
                        // exactly here.
                        if !dir.join(segment_name(self.next)).exists() {
                            return Err(missing(dir, self.next, limit)?);
                        }
                        self.segment_first = self.next;
                        self.frame = 0;
                        break;
                    }
                    None => {
                        let h = seg.header(self.frame, self.next)?;
                        if !deliver && h.first + h.count <= limit {
                            self.next += h.count;
                            self.frame = h.end(self.frame);
                            continue;
                        }
                        let inside = seg.enter(self.frame, &h)?;
                        self.inside = Some(inside.clone());
                        inside
                    }
                };
                let last = self.next + 1 == inside.end_position;
                let (event, at) = seg.event(self.frame, &inside, last)?;
                if deliver {
                    bytes += event.len();
                    out.push(Delivery {
                        position: Position(self.next),
                        tenant: inside.shared.tenant.clone(),
                        source: inside.shared.source.clone(),
                        received: inside.shared.received,
                        event,
                    });
                }
                self.next += 1;
                if last {
                    self.frame = inside.end;
                    self.inside = None;
                } else if let Some(i) = self.inside.as_mut() {
                    i.at = at;
                }
            }
        }
        Ok(())
    }
}
