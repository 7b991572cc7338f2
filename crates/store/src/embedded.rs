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
//! Each `append` writes its batch as compressed frames (magic `VGF3`, see
//! [`frame`] for the layout and why) and syncs it before it is acknowledged. The format
//! before it (`VGR1`, one record per event) was never released and is not
//! read: a segment in it is refused with a message, not taken for damage.
//!
//! On open, every segment is checked: each must start where the previous
//! one ends (its frame headers are walked to count its records), or the
//! log refuses to open and names the missing positions
//! ([`StoreError::Missing`]); `events/newest-segment`, written when a
//! segment starts, tells when the newest one is gone. Sealed segments (synced before the next one
//! starts) hold only acknowledged frames. The last segment is scanned
//! whole: a damaged last frame — no frame of this log after it — was being
//! written when the process or the machine stopped, never acknowledged,
//! and is cut whole and said ([`Recovery`]); damage followed by a frame of
//! this log (checked at its offset and position) is acknowledged evidence,
//! and the log refuses to open rather than drop it
//! ([`StoreError::Damaged`]). The one case no format tells apart: the very
//! last frame damaged after it was acknowledged (a disk error in it) looks
//! torn and is cut; what was cut is said.

mod frame;
mod reader;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::{
    check_consumer, Appended, Delivery, EventLog, IngestBatch, Position, Result, StoreError,
};

use frame::{Damage, HEADER};
use reader::Reader;

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
    /// Segment files checked.
    pub segments: u64,
    /// Bytes of a torn last frame cut from the last segment (never
    /// acknowledged: the batch's `fsync` had not returned).
    pub truncated_bytes: u64,
    /// Where that frame started in the last segment.
    pub truncated_at: Option<u64>,
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
    /// Bytes of the current segment: where the next frame starts.
    size: u64,
    /// The next frame's first position.
    next: u64,
    /// The current segment is new: its directory entry and the newest
    /// segment mark are not known durable yet.
    new_segment: bool,
    /// Why the writer must not append any more (the file holds bytes it
    /// could not cut): every append fails until the log is reopened, which
    /// judges those bytes as a torn tail.
    broken: Option<String>,
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

/// The error for positions from `first` held by no segment: up to the
/// next segment present, or up to `end` (exclusive) when none follows.
fn missing(dir: &Path, first: u64, end: u64) -> Result<StoreError> {
    let after = segments(dir)?.into_iter().find(|&f| f > first);
    Ok(StoreError::Missing {
        events: dir.display().to_string(),
        first,
        last: Some(after.unwrap_or(end).max(first + 1) - 1),
    })
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("sync {}", dir.display())))
}

/// Why the current segment, as `meta` shows it, must not be appended to
/// when the writer expects it to hold `size` bytes.
fn unusable(meta: &fs::Metadata, size: u64) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() == 0 {
            return Some("the current event segment was deleted".into());
        }
    }
    (meta.len() != size).then(|| {
        format!(
            "the current event segment holds {} bytes, {size} expected",
            meta.len()
        )
    })
}

/// Writes `value` to `dir/name` so that a crash leaves the old value or
/// the new one, never a mix: a temporary file synced, renamed, the
/// directory synced.
fn write_durably(dir: &Path, name: &str, value: u64) -> Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp).map_err(io(format!("write {}", tmp.display())))?;
    f.write_all(value.to_string().as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io(format!("write {}", tmp.display())))?;
    fs::rename(&tmp, &path).map_err(io(format!("rename to {}", path.display())))?;
    sync_dir(dir)
}

/// A number written by [`write_durably`], if the file is there.
fn read_number(path: &Path) -> Result<Option<u64>> {
    match fs::read_to_string(path) {
        Ok(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Invalid(format!("{}: not a position", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io {
            what: format!("read {}", path.display()),
            source: e,
        }),
    }
}

/// The file that names the newest segment ever started (its first
/// position): the segment files alone cannot tell that the newest one is
/// gone, and the log would then give its positions again to new events.
const NEWEST: &str = "newest-segment";

/// The file that names the first position still kept: retention writes
/// it before it removes the segments below it, so a log opened after a
/// crash in between finishes the removal instead of taking the missing
/// segments for a hole.
const OLDEST: &str = "oldest-kept";

/// How long and how much the log keeps ([`FileLog::retain`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Sealed segments whose last append is older than this go.
    pub max_age: Option<Duration>,
    /// The oldest sealed segments go while the log is larger than this.
    pub max_bytes: Option<u64>,
}

/// What [`FileLog::retain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retained {
    pub segments: u64,
    /// Of `segments`, those removed for their age (the oldest: a segment
    /// removed for the log's size is younger than any removed for age).
    pub by_age: u64,
    pub bytes: u64,
    /// The first position still kept.
    pub oldest_kept: u64,
    /// Bytes of the log after it.
    pub bytes_kept: u64,
    /// The size limit could not be met without removing events not yet
    /// judged (`keep_from`): kept, and said here.
    pub over_limit: bool,
}

fn old_format(path: &Path) -> StoreError {
    StoreError::Invalid(format!(
        "{}: written by a development version of Vigie (VGR1 records), never released and not read; move the data directory aside",
        path.display()
    ))
}

/// Counts the records of a sealed segment whose first position is
/// `first`, from its frame headers alone (their own checksums, at their
/// offsets): a sealed segment holds only acknowledged frames, so anything
/// that is not a whole frame chain is damage.
fn count_sealed(path: &Path, first: u64) -> Result<u64> {
    let file = File::open(path).map_err(io(format!("open {}", path.display())))?;
    let len = file
        .metadata()
        .map_err(io(format!("stat {}", path.display())))?
        .len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let (mut at, mut pos) = (0u64, first);
    let damaged = |offset| StoreError::Damaged {
        segment: path.display().to_string(),
        offset,
    };
    while at < len {
        let mut head = [0u8; HEADER];
        r.read_exact(&mut head).map_err(|_| damaged(at))?;
        if at == 0 && &head[..4] == frame::OLD_MAGIC {
            return Err(old_format(path));
        }
        let h = match frame::header(&head, at) {
            Some(h) if h.first == pos && h.end(at) <= len => h,
            _ => return Err(damaged(at)),
        };
        pos += h.count;
        // Every frame is longer than the bytes read to know its header.
        r.seek_relative((h.end(at) - at - HEADER as u64) as i64)
            .map_err(io(format!("read {}", path.display())))?;
        at = h.end(at);
    }
    Ok(pos - first)
}

impl FileLog {
    /// Opens (or creates) the log under `data`: checks that the segments
    /// follow one another, cuts a torn last frame; segments start anew
    /// past `segment_bytes`.
    pub fn open(data: &Path, segment_bytes: u64) -> Result<(FileLog, Recovery)> {
        let events = data.join("events");
        let consumers = data.join("consumers");
        for d in [&events, &consumers] {
            fs::create_dir_all(d).map_err(io(format!("create {}", d.display())))?;
        }
        let mut firsts = segments(&events)?;
        let oldest = read_number(&events.join(OLDEST))?.unwrap_or(0);
        // A retention stopped between its mark and its removals: finished.
        if firsts.iter().any(|&f| f < oldest) {
            for &f in firsts.iter().filter(|&&f| f < oldest) {
                let path = events.join(segment_name(f));
                fs::remove_file(&path).map_err(io(format!("remove {}", path.display())))?;
            }
            sync_dir(&events)?;
            firsts.retain(|&f| f >= oldest);
        }
        if firsts.is_empty() {
            if oldest > 0 {
                return Err(StoreError::Missing {
                    events: events.display().to_string(),
                    first: oldest,
                    last: None,
                });
            }
            File::create(events.join(segment_name(0)))
                .map_err(io(format!("create {}", events.display())))?;
            sync_dir(&events)?;
            firsts.push(0);
        }
        // Every segment where the previous one ends, from the oldest kept.
        let mut expected = oldest;
        for (i, &first) in firsts.iter().enumerate() {
            if first > expected {
                return Err(StoreError::Missing {
                    events: events.display().to_string(),
                    first: expected,
                    last: Some(first - 1),
                });
            }
            let path = events.join(segment_name(first));
            if first < expected {
                return Err(StoreError::Invalid(format!(
                    "{}: starts at position {first}, but the segment before it ends at position {expected}; the log is left as it is",
                    path.display()
                )));
            }
            if i + 1 < firsts.len() {
                expected = first + count_sealed(&path, first)?;
            }
        }
        let last = *firsts.last().expect("one segment");
        let path = events.join(segment_name(last));
        let bytes = fs::read(&path).map_err(io(format!("read {}", path.display())))?;
        if bytes.starts_with(frame::OLD_MAGIC) {
            return Err(old_format(&path));
        }
        let scan = frame::scan(&bytes, last);
        // The newest segment ever started must still be there.
        if read_number(&events.join(NEWEST))?.is_some_and(|newest| newest > last) {
            return Err(StoreError::Missing {
                events: events.display().to_string(),
                first: last + scan.records,
                last: None,
            });
        }
        let mut recovery = Recovery {
            records: last + scan.records,
            segments: firsts.len() as u64,
            truncated_bytes: 0,
            truncated_at: None,
        };
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(format!("open {}", path.display())))?;
        match scan.damage {
            Some(Damage::Acknowledged) => {
                return Err(StoreError::Damaged {
                    segment: path.display().to_string(),
                    offset: scan.good as u64,
                })
            }
            Some(Damage::Torn) => {
                file.set_len(scan.good as u64)
                    .and_then(|_| file.sync_all())
                    .map_err(io(format!("cut the torn tail of {}", path.display())))?;
                recovery.truncated_bytes = (bytes.len() - scan.good) as u64;
                recovery.truncated_at = Some(scan.good as u64);
            }
            None => {}
        }
        let next = recovery.records;
        let log = FileLog {
            inner: Arc::new(Inner {
                events,
                consumers,
                segment_bytes,
                writer: Mutex::new(Writer {
                    file,
                    size: scan.good as u64,
                    next,
                    new_segment: false,
                    broken: None,
                }),
                durable: AtomicU64::new(next),
                appended: Notify::new(),
                readers: Mutex::new(HashMap::new()),
            }),
        };
        Ok((log, recovery))
    }
}

impl FileLog {
    /// Opens the log under `data`, made (when new) to start at position
    /// `first` instead of 0: a regional archive keeps the stream's own
    /// numbering, and a partition starts where the stream was. The mark
    /// of the oldest position kept is written before the first segment,
    /// so a creation cut short opens as a log starting at `first` (the
    /// segment is made then), never as one with a hole.
    pub fn create_at(data: &Path, segment_bytes: u64, first: u64) -> Result<(FileLog, Recovery)> {
        let events = data.join("events");
        fs::create_dir_all(&events).map_err(io(format!("create {}", events.display())))?;
        if first > 0 && segments(&events)?.is_empty() {
            match read_number(&events.join(OLDEST))? {
                None => write_durably(&events, OLDEST, first)?,
                Some(o) if o == first => {}
                Some(o) => {
                    return Err(StoreError::Invalid(format!(
                        "{}: made to start at position {o}, not {first}; the log is left as it is",
                        events.display()
                    )))
                }
            }
            File::create(events.join(segment_name(first)))
                .map_err(io(format!("create {}", events.display())))?;
            write_durably(&events, NEWEST, first)?;
        }
        FileLog::open(data, segment_bytes)
    }
}

impl FileLog {
    /// The position the next durable event will take: every event below
    /// it is durable and readable. Not async (unlike
    /// [`EventLog::records`]): read under a caller's lock, it marks a line
    /// no event past it has crossed yet.
    pub fn durable(&self) -> u64 {
        self.inner.durable.load(Ordering::Acquire)
    }

    /// Removes the oldest sealed segments that `policy` no longer keeps,
    /// never one holding a position at or after `keep_from` (events the
    /// detection worker has not judged yet) nor the segment being
    /// written. Readers starting afterwards start at the oldest kept.
    pub fn retain(&self, policy: &Retention, keep_from: u64) -> Result<Retained> {
        let dir = &self.inner.events;
        // Held: no segment starts while the list is judged.
        let _w = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let firsts = segments(dir)?;
        let mut info = Vec::with_capacity(firsts.len());
        for &f in &firsts {
            let path = dir.join(segment_name(f));
            let meta = fs::metadata(&path).map_err(io(format!("stat {}", path.display())))?;
            info.push((f, meta.len(), meta.modified().ok()));
        }
        let total: u64 = info.iter().map(|i| i.1).sum();
        let (mut remove, mut left, mut by_age) = (0usize, total, 0u64);
        let mut over_limit = false;
        for k in 0..info.len().saturating_sub(1) {
            let (_, len, modified) = info[k];
            let too_old = match (policy.max_age, modified) {
                (Some(age), Some(m)) => m.elapsed().is_ok_and(|e| e > age),
                _ => false,
            };
            let too_big = policy.max_bytes.is_some_and(|m| left > m);
            if !(too_old || too_big) {
                break;
            }
            // The next segment's first position: this one ends before it.
            if info[k + 1].0 > keep_from {
                over_limit = too_big;
                break;
            }
            remove = k + 1;
            left -= len;
            by_age += u64::from(too_old);
        }
        let oldest_kept = info.get(remove).map_or(0, |i| i.0);
        if remove > 0 {
            write_durably(dir, OLDEST, oldest_kept)?;
            for &(f, _, _) in &info[..remove] {
                let path = dir.join(segment_name(f));
                fs::remove_file(&path).map_err(io(format!("remove {}", path.display())))?;
            }
            sync_dir(dir)?;
        }
        Ok(Retained {
            segments: remove as u64,
            by_age,
            bytes: total - left,
            oldest_kept,
            bytes_kept: left,
            over_limit: over_limit || policy.max_bytes.is_some_and(|m| left > m),
        })
    }
}

impl Inner {
    fn append(&self, batch: &IngestBatch) -> Result<Appended> {
        let mut encoded = frame::encode(batch)?;
        let count = batch.events.len() as u64;
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = &w.broken {
            return Err(StoreError::MustReopen(why.clone()));
        }
        if count == 0 {
            return Ok(Appended {
                first: Position(w.next),
                count: 0,
            });
        }
        if w.size > 0 && w.size + encoded.bytes.len() as u64 > self.segment_bytes {
            self.rotate(&mut w)?;
        }
        if w.new_segment {
            // A new segment's name, and the mark that it exists, must be
            // durable before anything in it is acknowledged; retried here
            // until they are (nothing is in it yet: it starts at `next`).
            sync_dir(&self.events)?;
            write_durably(&self.events, NEWEST, w.next)?;
            w.new_segment = false;
        }
        // The frame's checksums cover where it goes: the file must end
        // where the writer thinks it does.
        let meta = w.file.metadata().map_err(io("stat the event segment"))?;
        if let Some(why) = unusable(&meta, w.size) {
            w.broken = Some(why.clone());
            return Err(StoreError::MustReopen(why));
        }
        let before = w.size;
        frame::seal_all(&mut encoded, before, w.next);
        let bytes = encoded.bytes;
        let written = w.file.write_all(&bytes).and_then(|_| w.file.sync_data());
        if let Err(e) = written {
            // Nothing of a failed batch is acknowledged: cut what reached
            // the file so that the next batch follows intact frames. If
            // even that fails, the file holds bytes after the last frame
            // that no later frame may follow.
            if let Err(cut) = w.file.set_len(before) {
                w.broken = Some(format!(
                    "a failed append ({e}) could not be cut from the event segment ({cut})"
                ));
            }
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

    /// Seals the current segment and starts the next one at the writer's
    /// next position. Nothing moves when sealing or creating fails.
    fn rotate(&self, w: &mut Writer) -> Result<()> {
        w.file.sync_all().map_err(io("seal the event segment"))?;
        let path = self.events.join(segment_name(w.next));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(format!("create {}", path.display())))?;
        w.file = file;
        w.size = 0;
        w.new_segment = true;
        Ok(())
    }

    fn committed(&self, consumer: &str) -> Result<Option<Position>> {
        check_consumer(consumer)?;
        Ok(read_number(&self.consumers.join(format!("{consumer}.pos")))?.map(Position))
    }

    fn commit(&self, consumer: &str, upto: Position) -> Result<()> {
        check_consumer(consumer)?;
        if upto.0 >= self.durable.load(Ordering::Acquire) {
            return Err(StoreError::Invalid(format!(
                "commit of position {} past the log's end",
                upto.0
            )));
        }
        write_durably(&self.consumers, &format!("{consumer}.pos"), upto.0)
    }

    /// Reads up to `max` durable records for `consumer`.
    fn read(&self, consumer: &str, max: usize) -> Result<Vec<Delivery>> {
        check_consumer(consumer)?;
        let durable = self.durable.load(Ordering::Acquire);
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        let mut reader = match readers.get(consumer) {
            Some(r) => r.clone(),
            None => {
                let start = self.committed(consumer)?.map_or(0, |p| p.0 + 1);
                Reader::at(&self.events, start, durable)?
            }
        };
        let out = reader.read(&self.events, max, durable)?;
        readers.insert(consumer.to_string(), reader);
        Ok(out)
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

    async fn read_at(&self, position: Position) -> Result<Option<Delivery>> {
        let inner = self.inner.clone();
        blocking(move || {
            let durable = inner.durable.load(Ordering::Acquire);
            if position.0 >= durable {
                return Ok(None);
            }
            let mut r = Reader::at(&inner.events, position.0, durable)?;
            // A reader starts at the oldest position kept: one removed by
            // retention is not given in its place.
            Ok(r.read(&inner.events, 1, durable)?
                .into_iter()
                .next()
                .filter(|d| d.position == position))
        })
        .await
    }

    async fn release(&self, consumer: &str) -> Result<()> {
        check_consumer(consumer)?;
        let mut readers = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner());
        readers.remove(consumer);
        Ok(())
    }

    async fn seek(&self, consumer: &str, to: Position) -> Result<bool> {
        check_consumer(consumer)?;
        let inner = self.inner.clone();
        let name = consumer.to_string();
        blocking(move || {
            let durable = inner.durable.load(Ordering::Acquire);
            let reader = Reader::at(&inner.events, to.0.min(durable), durable)?;
            let mut readers = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            readers.insert(name, reader);
            Ok(true)
        })
        .await
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

    /// An event is read back by its position, as it arrived, across
    /// frames and segments; a position not held is `None`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_is_read_back_by_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), 256).unwrap();
        for b in 0..5u8 {
            let batch = IngestBatch {
                tenant: "default".into(),
                source: "t".into(),
                received: b as i64,
                events: (0..3u8)
                    .map(|i| format!("{{\"n\":{}}}", b * 3 + i).into_bytes())
                    .collect(),
            };
            log.append(batch).await.unwrap();
        }
        for p in [0u64, 4, 7, 14] {
            let d = log.read_at(Position(p)).await.unwrap().unwrap();
            assert_eq!(d.position, Position(p));
            assert_eq!(d.event, format!("{{\"n\":{p}}}").into_bytes());
            assert_eq!(d.received, (p / 3) as i64);
        }
        assert!(log.read_at(Position(15)).await.unwrap().is_none());
    }

    /// `/dev/full` is a real file whose writes fail (no space) and which
    /// cannot be cut (`ftruncate` on a device): an append that fails and
    /// cannot be undone leaves the writer refusing every later append,
    /// its size and next position where they were.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_append_that_cannot_be_cut_stops_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), SEGMENT_BYTES).unwrap();
        let full = OpenOptions::new().append(true).open("/dev/full").unwrap();
        {
            let mut w = log.inner.writer.lock().unwrap();
            w.file = full;
        }
        let batch = IngestBatch {
            tenant: "default".into(),
            source: "t".into(),
            received: 0,
            events: vec![b"{}".to_vec()],
        };
        let first = log.inner.append(&batch).unwrap_err();
        assert!(matches!(first, StoreError::Io { .. }), "{first}");
        for _ in 0..2 {
            let again = log.inner.append(&batch).unwrap_err();
            assert!(matches!(again, StoreError::MustReopen(_)), "{again}");
            assert!(again.to_string().contains("reopened"), "{again}");
        }
        let w = log.inner.writer.lock().unwrap();
        assert_eq!((w.size, w.next), (0, 0), "nothing moved for a failed batch");
        assert_eq!(log.inner.durable.load(Ordering::Acquire), 0);
    }
}
