//! The embedded event log: append-only segment files on local disk.
//!
//! Why files and not a database: the log is written once, read in order
//! and never updated, which a file does at disk speed with one `fsync` per
//! batch; the state beside it (detections, incidents…) is what needs a
//! database. Layout under the data directory:
//!
//! ```text
//! events/00000000000000000000.seg   records from position 0
//! events/00000000000001048576.seg   records from position 1,048,576
//! consumers/<name>.pos              a consumer's committed position
//! ```
//!
//! A record is `VGR1`, the payload's length and CRC-32, then the payload
//! (tenant, source, time received, the event as it arrived). A segment is
//! sealed (synced) before the next one starts, so only the last one can
//! end in a torn record: on open, such a tail (no intact record after it)
//! was never acknowledged and is cut, and said; a damaged record followed
//! by intact ones is acknowledged evidence, and the log refuses to open
//! rather than drop it ([`StoreError::Damaged`]).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::{Appended, Delivery, EventLog, IngestBatch, Position, Result, StoreError};

const MAGIC: &[u8; 4] = b"VGR1";
const HEADER: usize = 12;
/// Larger events are refused: nothing a shipper sends as one event is
/// this big, and a length field must not make the reader allocate
/// gigabytes.
pub const MAX_EVENT: usize = 16 << 20;
/// One `consume` returns at most about this many bytes of events (and
/// at least one event), whatever `max` says: memory stays bounded when
/// events are large.
pub const MAX_DELIVERY_BYTES: usize = 16 << 20;
/// Segments start anew past this size (the default).
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// What opening the log found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records held.
    pub records: u64,
    /// Bytes of a torn last record cut from the last segment (never
    /// acknowledged: the batch's `fsync` had not returned).
    pub truncated_bytes: u64,
}

/// The embedded [`EventLog`].
#[derive(Clone)]
pub struct FileLog {
    inner: Arc<Inner>,
}

struct Inner {
    events: PathBuf,
    consumers: PathBuf,
    segment_bytes: u64,
    writer: Mutex<Writer>,
    /// Records durable: positions below this may be read.
    durable: AtomicU64,
    appended: Notify,
    readers: Mutex<HashMap<String, Reader>>,
}

struct Writer {
    file: File,
    size: u64,
    next: u64,
}

/// Where a consumer's next record is on disk.
#[derive(Clone, Copy)]
struct Reader {
    next: u64,
    segment_first: u64,
    offset: u64,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::Io { what, source }
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.seg")
}

/// The segments' first positions, in order.
fn segments(dir: &Path) -> Result<Vec<u64>> {
    let mut firsts = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(format!("{}", dir.display())))? {
        let entry = entry.map_err(io(format!("{}", dir.display())))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else {
            continue;
        };
        if let Ok(first) = stem.parse::<u64>() {
            firsts.push(first);
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("sync {}", dir.display())))
}

fn encode(batch: &IngestBatch, out: &mut Vec<u8>) -> Result<()> {
    if batch.tenant.len() > u16::MAX as usize || batch.source.len() > u16::MAX as usize {
        return Err(StoreError::Invalid("tenant or source name too long".into()));
    }
    for event in &batch.events {
        if event.len() > MAX_EVENT {
            return Err(StoreError::Invalid(format!(
                "an event of {} bytes (at most {MAX_EVENT})",
                event.len()
            )));
        }
        let mut payload =
            Vec::with_capacity(12 + batch.tenant.len() + batch.source.len() + event.len());
        payload.extend_from_slice(&(batch.tenant.len() as u16).to_le_bytes());
        payload.extend_from_slice(batch.tenant.as_bytes());
        payload.extend_from_slice(&(batch.source.len() as u16).to_le_bytes());
        payload.extend_from_slice(batch.source.as_bytes());
        payload.extend_from_slice(&batch.received.to_le_bytes());
        payload.extend_from_slice(event);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
    }
    Ok(())
}

fn decode(position: u64, payload: &[u8]) -> Option<Delivery> {
    let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
        let s = payload.get(*at..*at + n)?;
        *at += n;
        Some(s)
    };
    let mut at = 0;
    let tl = u16::from_le_bytes(take(&mut at, 2)?.try_into().ok()?) as usize;
    let tenant = String::from_utf8(take(&mut at, tl)?.to_vec()).ok()?;
    let sl = u16::from_le_bytes(take(&mut at, 2)?.try_into().ok()?) as usize;
    let source = String::from_utf8(take(&mut at, sl)?.to_vec()).ok()?;
    let received = i64::from_le_bytes(take(&mut at, 8)?.try_into().ok()?);
    Some(Delivery {
        position: Position(position),
        tenant,
        source,
        received,
        event: payload[at..].to_vec(),
    })
}

/// The record at `bytes[at..]`: its payload range, or `None` when what is
/// there is not an intact record.
fn record_at(bytes: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    let head = bytes.get(at..at + HEADER)?;
    if &head[..4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(head[8..12].try_into().ok()?);
    if len > MAX_EVENT + 2 * u16::MAX as usize + 12 {
        return None;
    }
    let payload = at + HEADER..at + HEADER + len;
    let body = bytes.get(payload.clone())?;
    (crc32fast::hash(body) == crc).then_some(payload)
}

/// Counts the intact records of a segment; `Err(offset)` where the first
/// damaged one starts, with whether an intact record follows it.
fn scan(bytes: &[u8]) -> (u64, usize, Option<bool>) {
    let (mut n, mut at) = (0u64, 0usize);
    while at < bytes.len() {
        match record_at(bytes, at) {
            Some(p) => {
                n += 1;
                at = p.end;
            }
            None => {
                // Is there an intact record after the damage? Then the
                // damage is not a torn tail.
                let mut from = at + 1;
                let mut intact_after = false;
                while let Some(i) = memfind(&bytes[from..], MAGIC) {
                    if record_at(bytes, from + i).is_some() {
                        intact_after = true;
                        break;
                    }
                    from += i + 1;
                }
                return (n, at, Some(intact_after));
            }
        }
    }
    (n, at, None)
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl FileLog {
    /// Opens (or creates) the log under `data`, cutting a torn last
    /// record; segments start anew past `segment_bytes`.
    pub fn open(data: &Path, segment_bytes: u64) -> Result<(FileLog, Recovery)> {
        let events = data.join("events");
        let consumers = data.join("consumers");
        for d in [&events, &consumers] {
            fs::create_dir_all(d).map_err(io(format!("create {}", d.display())))?;
        }
        let mut firsts = segments(&events)?;
        if firsts.is_empty() {
            File::create(events.join(segment_name(0)))
                .map_err(io(format!("create {}", events.display())))?;
            sync_dir(&events)?;
            firsts.push(0);
        }
        let last = *firsts.last().expect("one segment");
        let path = events.join(segment_name(last));
        let bytes = fs::read(&path).map_err(io(format!("read {}", path.display())))?;
        let (count, good, damage) = scan(&bytes);
        let mut recovery = Recovery {
            records: last + count,
            truncated_bytes: 0,
        };
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(format!("open {}", path.display())))?;
        match damage {
            Some(true) => {
                return Err(StoreError::Damaged {
                    segment: path.display().to_string(),
                    offset: good as u64,
                })
            }
            Some(false) => {
                file.set_len(good as u64)
                    .and_then(|_| file.sync_all())
                    .map_err(io(format!("cut the torn tail of {}", path.display())))?;
                recovery.truncated_bytes = (bytes.len() - good) as u64;
            }
            None => {}
        }
        let next = last + count;
        let log = FileLog {
            inner: Arc::new(Inner {
                events,
                consumers,
                segment_bytes,
                writer: Mutex::new(Writer {
                    file,
                    size: good as u64,
                    next,
                }),
                durable: AtomicU64::new(next),
                appended: Notify::new(),
                readers: Mutex::new(HashMap::new()),
            }),
        };
        Ok((log, recovery))
    }
}

fn check_consumer(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "consumer name {name:?}: 1 to 64 letters, digits, - or _"
        )))
    }
}

impl Inner {
    fn append(&self, batch: &IngestBatch) -> Result<Appended> {
        let mut bytes = Vec::new();
        encode(batch, &mut bytes)?;
        let count = batch.events.len() as u64;
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if count == 0 {
            return Ok(Appended {
                first: Position(w.next),
                count: 0,
            });
        }
        if w.size > 0 && w.size + bytes.len() as u64 > self.segment_bytes {
            // Seal this segment, then start the next one.
            w.file.sync_all().map_err(io("seal the event segment"))?;
            let path = self.events.join(segment_name(w.next));
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)
                .map_err(io(format!("create {}", path.display())))?;
            sync_dir(&self.events)?;
            w.file = file;
            w.size = 0;
        }
        let before = w.size;
        let written = w.file.write_all(&bytes).and_then(|_| w.file.sync_data());
        if let Err(e) = written {
            // Nothing of a failed batch is acknowledged: cut what reached
            // the file so that the next batch follows intact records.
            let _ = w.file.set_len(before);
            return Err(StoreError::Io {
                what: "append to the event log".into(),
                source: e,
            });
        }
        let first = w.next;
        w.size += bytes.len() as u64;
        w.next += count;
        self.durable.store(w.next, Ordering::Release);
        drop(w);
        self.appended.notify_waiters();
        Ok(Appended {
            first: Position(first),
            count,
        })
    }

    fn committed(&self, consumer: &str) -> Result<Option<Position>> {
        check_consumer(consumer)?;
        let path = self.consumers.join(format!("{consumer}.pos"));
        match fs::read_to_string(&path) {
            Ok(s) => s
                .trim()
                .parse()
                .map(|p| Some(Position(p)))
                .map_err(|_| StoreError::Invalid(format!("{}: not a position", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io {
                what: format!("read {}", path.display()),
                source: e,
            }),
        }
    }

    fn commit(&self, consumer: &str, upto: Position) -> Result<()> {
        check_consumer(consumer)?;
        if upto.0 >= self.durable.load(Ordering::Acquire) {
            return Err(StoreError::Invalid(format!(
                "commit of position {} past the log's end",
                upto.0
            )));
        }
        let path = self.consumers.join(format!("{consumer}.pos"));
        let tmp = self.consumers.join(format!("{consumer}.pos.tmp"));
        let mut f = File::create(&tmp).map_err(io(format!("write {}", tmp.display())))?;
        f.write_all(upto.0.to_string().as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io(format!("write {}", tmp.display())))?;
        fs::rename(&tmp, &path).map_err(io(format!("rename to {}", path.display())))?;
        sync_dir(&self.consumers)
    }

    /// Reads up to `max` durable records for `consumer`.
    fn read(&self, consumer: &str, max: usize) -> Result<Vec<Delivery>> {
        check_consumer(consumer)?;
        let durable = self.durable.load(Ordering::Acquire);
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        let reader = match readers.get(consumer) {
            Some(r) => *r,
            None => {
                let start = self.committed(consumer)?.map_or(0, |p| p.0 + 1);
                let firsts = segments(&self.events)?;
                let first = firsts
                    .iter()
                    .copied()
                    .filter(|&f| f <= start)
                    .max()
                    .unwrap_or(0);
                Reader {
                    next: first,
                    segment_first: first,
                    offset: 0,
                }
                .skip_to(&self.events, start)?
            }
        };
        let (out, reader) = reader.read(&self.events, max, durable)?;
        readers.insert(consumer.to_string(), reader);
        Ok(out)
    }
}

impl Reader {
    /// Moves to position `to` (records before it are skipped).
    fn skip_to(mut self, dir: &Path, to: u64) -> Result<Reader> {
        while self.next < to {
            let (skipped, r) = self.read(dir, (to - self.next).min(4096) as usize, to)?;
            if skipped.is_empty() {
                break;
            }
            self = r;
        }
        Ok(self)
    }

    fn read(mut self, dir: &Path, max: usize, durable: u64) -> Result<(Vec<Delivery>, Reader)> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let full =
            |out: &Vec<Delivery>, bytes: usize| out.len() >= max || bytes >= MAX_DELIVERY_BYTES;
        while !full(&out, bytes) && self.next < durable {
            let path = dir.join(segment_name(self.segment_first));
            let file = File::open(&path).map_err(io(format!("open {}", path.display())))?;
            let len = file
                .metadata()
                .map_err(io(format!("stat {}", path.display())))?
                .len();
            if self.offset >= len {
                // This segment is done: the next one starts here.
                self.segment_first = self.next;
                self.offset = 0;
                if !dir.join(segment_name(self.next)).exists() {
                    break;
                }
                continue;
            }
            let mut r = BufReader::with_capacity(1 << 16, file);
            r.seek(SeekFrom::Start(self.offset))
                .map_err(io(format!("seek {}", path.display())))?;
            while !full(&out, bytes) && self.next < durable && self.offset < len {
                let damaged = || StoreError::Damaged {
                    segment: path.display().to_string(),
                    offset: self.offset,
                };
                let mut head = [0u8; HEADER];
                r.read_exact(&mut head).map_err(|_| damaged())?;
                let size = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")) as usize;
                if &head[..4] != MAGIC || size > MAX_EVENT + 2 * u16::MAX as usize + 12 {
                    return Err(damaged());
                }
                let mut payload = vec![0u8; size];
                r.read_exact(&mut payload).map_err(|_| damaged())?;
                let crc = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
                if crc32fast::hash(&payload) != crc {
                    return Err(damaged());
                }
                let d = decode(self.next, &payload).ok_or_else(damaged)?;
                bytes += d.event.len();
                out.push(d);
                self.next += 1;
                self.offset += (HEADER + size) as u64;
            }
        }
        Ok((out, self))
    }
}

#[async_trait]
impl EventLog for FileLog {
    async fn append(&self, batch: IngestBatch) -> Result<Appended> {
        let inner = self.inner.clone();
        blocking(move || inner.append(&batch)).await
    }

    async fn consume(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before reading, so an append in between wakes us.
            let appended = self.inner.appended.notified();
            let inner = self.inner.clone();
            let name = consumer.to_string();
            let got = blocking(move || inner.read(&name, max)).await?;
            if !got.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(got);
            }
            if tokio::time::timeout_at(deadline, appended).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn commit(&self, consumer: &str, upto: Position) -> Result<()> {
        let inner = self.inner.clone();
        let name = consumer.to_string();
        blocking(move || inner.commit(&name, upto)).await
    }

    async fn committed(&self, consumer: &str) -> Result<Option<Position>> {
        let inner = self.inner.clone();
        let name = consumer.to_string();
        blocking(move || inner.committed(&name)).await
    }

    async fn records(&self) -> Result<u64> {
        Ok(self.inner.durable.load(Ordering::Acquire))
    }
}

/// Runs blocking file I/O off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Invalid(format!("store task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_told_from_damage_before_intact_records() {
        let batch = IngestBatch {
            tenant: "default".into(),
            source: "t".into(),
            received: 1,
            events: vec![b"{\"a\":1}".to_vec(), b"{\"a\":2}".to_vec()],
        };
        let mut bytes = Vec::new();
        encode(&batch, &mut bytes).unwrap();
        let whole = bytes.len();
        assert_eq!(scan(&bytes), (2, whole, None));
        // Torn: the second record cut short.
        assert_eq!(scan(&bytes[..whole - 3]), (1, whole / 2, Some(false)));
        // Damaged: a byte of the first record's payload flipped.
        let mut flipped = bytes.clone();
        flipped[HEADER + 2] ^= 0xff;
        assert_eq!(scan(&flipped), (0, 0, Some(true)));
    }
}
