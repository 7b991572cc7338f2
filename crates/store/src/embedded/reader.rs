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
    /// The frame's records, decompressed (at most about
    /// [`frame::FRAME_RECORDS`] bytes).
    records: std::sync::Arc<Vec<u8>>,
    /// Where the next record's length is in `records`.
    at: usize,
    /// Where the frame ends in the segment, and the position after its
    /// last record.
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

    /// Reads the body of the frame at `offset`, checks it against its
    /// checksum, decompresses its records and reads their shared fields.
    fn enter(&mut self, offset: u64, h: &Header) -> Result<Inside> {
        let mut body = vec![0u8; h.body as usize];
        self.read_at(h.body_start(offset), &mut body)
            .map_err(|_| self.damaged(offset))?;
        let mut hasher = h.body_hasher();
        hasher.update(&body);
        if !h.body_ok(hasher) {
            return Err(self.damaged(offset));
        }
        let records = frame::records(h, body).ok_or_else(|| self.damaged(offset))?;
        let (shared, len) = frame::shared(&records).ok_or_else(|| self.damaged(offset))?;
        Ok(Inside {
            shared,
            records: std::sync::Arc::new(records),
            at: len,
            end: h.end(offset),
            end_position: h.first + h.count,
        })
    }

    /// The event at `inside.at`, and where the next one starts.
    fn event(&self, frame: u64, inside: &Inside, last: bool) -> Result<(Vec<u8>, usize)> {
        let r = &inside.records;
        let len = r
            .get(inside.at..inside.at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .ok_or_else(|| self.damaged(frame))?;
        let next = inside.at + 4 + len;
        // Checked already, so only a defect of the writer fails here;
        // still never read past the frame.
        if len > MAX_EVENT || next > r.len() || (last && next != r.len()) {
            return Err(self.damaged(frame));
        }
        Ok((r[inside.at + 4..next].to_vec(), next))
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
