//! The archive of a regional event stream: what JetStream no longer keeps.
//!
//! Why: a region's stream keeps days or weeks (its disk is sized for the
//! event rate), but a retro-hunt from a CERT-FR bulletin asks about
//! months. The archive keeps every event of the stream, as it arrived, in
//! the embedded log's compressed segments ([`crate::embedded`]: the same
//! frames, checksums and reader), numbered as the stream numbers them
//! (position = stream sequence − 1): the seam between the archive and the
//! stream is then exact, each position read once, from one or the other.
//!
//! Layout (`--archive DIR`):
//!
//! ```text
//! DIR/lock                       held by the one process writing it
//! DIR/consumer                   the archive's own durable consumer
//! DIR/parts/<first position>/    one partition: an embedded log starting
//!                                at that position (events/*.seg)
//! DIR/parts/<first>/span         written when the partition is sealed:
//!                                its end and its events' times of receipt
//! ```
//!
//! Partitions are by day of receipt (UTC): a new one starts with the first
//! event received on a new day, and when the stream lost positions before
//! the archive read them (a gap, said and counted: an archive that was
//! stopped longer than the stream's retention). Retention removes whole
//! partitions, oldest first, by age (the newest event received) and by
//! size; the partition being written is never removed, so the archive is
//! bounded by its limit plus one day of events.
//!
//! [`ArchivedLog`] puts the archive in front of the stream for one-off
//! readers (retro-hunts, event searches, the raw event of a detection):
//! they read the archive up to its end, then the stream from there.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod log;
#[cfg(test)]
mod tests;

pub use log::ArchivedLog;

use crate::embedded::FileLog;
use crate::{
    check_consumer, Appended, Delivery, EventLog, IngestBatch, Position, Result, StoreError,
};

/// How long and how much the archive keeps: never unbounded (a size limit
/// is required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePolicy {
    /// Partitions whose newest event was received longer ago than this
    /// go (`None`: no limit by age, the size still bounds it).
    pub max_age: Option<Duration>,
    /// The oldest partitions go while the archive is larger than this.
    pub max_bytes: u64,
}

/// A partition's extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    first: u64,
    /// The position after its last event.
    end: u64,
    /// Times of receipt of its first and last events (µs since the epoch).
    first_received: i64,
    last_received: i64,
}

struct Part {
    /// Known once sealed (from its `span` file); the partition being
    /// written answers from its log.
    span: Option<Span>,
    /// Opened when first read or written.
    log: Option<FileLog>,
}

/// What [`Archive::retain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveRetained {
    pub partitions: u64,
    pub bytes: u64,
    pub bytes_kept: u64,
    /// Still over the size limit: the partition being written is larger
    /// than the limit allows (kept, and said).
    pub over_limit: bool,
}

/// What [`Archive::take`] did with a batch of the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taken {
    /// Events written.
    pub archived: u64,
    /// Positions the archive held already (delivered again).
    pub again: u64,
    /// Positions the stream no longer held when the archive reached them:
    /// lost to the archive, said and counted.
    pub lost: u64,
}

/// The archive of one directory.
pub struct Archive {
    dir: PathBuf,
    parts_dir: PathBuf,
    policy: ArchivePolicy,
    segment_bytes: u64,
    consumer: String,
    parts: Mutex<BTreeMap<u64, Part>>,
    /// The day of receipt of the partition being written.
    day: Mutex<Option<i64>>,
    /// Held open: its lock is the writer's.
    _lock: File,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::Io { what, source }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn day(received: i64) -> i64 {
    received.div_euclid(MICROS_PER_DAY)
}

/// How far ahead of this node's clock a time of receipt is believed.
const FUTURE_MARGIN_MICROS: i64 = 3_600_000_000;

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as i64
}

/// A time of receipt as the archive's days and ages use it: no later
/// than this node's clock plus an hour. Why: one event stamped in the
/// future (an ingest node's clock wrong) would make its day the current
/// one (the partition being written would not end until then) and a
/// span's newest time (its retention would wait as long). The event
/// itself keeps its time as it arrived.
fn believed(received: i64) -> i64 {
    received.min(now_micros().saturating_add(FUTURE_MARGIN_MICROS))
}

fn part_name(first: u64) -> String {
    format!("{first:020}")
}

/// Writes `text` to `path` so that a crash leaves the old file or the new.
fn write_durably(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(format!("write {}", tmp.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io(format!("write {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io(format!("rename to {}", path.display())))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(format!("sync {}", dir.display())))?;
    }
    Ok(())
}

fn read_span(path: &Path) -> Result<Option<Span>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(format!("read {}", path.display()))(e)),
    };
    let n: Vec<&str> = text.split_whitespace().collect();
    let bad = || StoreError::Invalid(format!("{}: not a partition's span", path.display()));
    if n.len() != 4 {
        return Err(bad());
    }
    Ok(Some(Span {
        first: n[0].parse().map_err(|_| bad())?,
        end: n[1].parse().map_err(|_| bad())?,
        first_received: n[2].parse().map_err(|_| bad())?,
        last_received: n[3].parse().map_err(|_| bad())?,
    }))
}

/// Bytes of the files under `dir`.
fn size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// A consumer name of its own for a new archive: two api nodes each
/// archiving to their own directory get every event each.
fn new_consumer() -> String {
    use sha2::Digest;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let h = sha2::Sha256::digest(format!("{now}-{}", std::process::id()));
    let hex: String = h[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("archive-{hex}")
}

impl Archive {
    /// Opens (or makes) the archive in `dir` for writing and reading. A
    /// second process on the same directory is refused: two writers
    /// would number the same positions twice.
    pub async fn open(dir: &Path, policy: ArchivePolicy, segment_bytes: u64) -> Result<Archive> {
        if policy.max_bytes == 0 {
            return Err(StoreError::Invalid(
                "the archive needs a size limit (archive_gb > 0): it is never unbounded".into(),
            ));
        }
        let parts_dir = dir.join("parts");
        fs::create_dir_all(&parts_dir).map_err(io(format!("create {}", parts_dir.display())))?;
        let lock_path = dir.join("lock");
        let lock = File::create(&lock_path).map_err(io(format!("open {}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Invalid(format!(
                    "{}: another process writes this archive (one archive directory per node)",
                    dir.display()
                )))
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(io(format!("lock {}", lock_path.display()))(e))
            }
        }
        let consumer_path = dir.join("consumer");
        let consumer = match fs::read_to_string(&consumer_path) {
            Ok(c) => c.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let c = new_consumer();
                write_durably(&consumer_path, &c)?;
                c
            }
            Err(e) => return Err(io(format!("read {}", consumer_path.display()))(e)),
        };
        check_consumer(&consumer)?;
        let mut parts = BTreeMap::new();
        for entry in
            fs::read_dir(&parts_dir).map_err(io(format!("read {}", parts_dir.display())))?
        {
            let entry = entry.map_err(io(format!("read {}", parts_dir.display())))?;
            let Some(first) = entry
                .file_name()
                .to_str()
                .filter(|n| n.len() == 20)
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let span = read_span(&entry.path().join("span"))?;
            parts.insert(first, Part { span, log: None });
        }
        let archive = Archive {
            dir: dir.to_path_buf(),
            parts_dir,
            policy,
            segment_bytes,
            consumer,
            parts: Mutex::new(parts),
            day: Mutex::new(None),
            _lock: lock,
        };
        archive.recover().await?;
        Ok(archive)
    }

    /// The archive's durable consumer on the stream.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The partitions made before: every one but the newest is sealed
    /// (a stop between starting a partition and sealing the one before
    /// leaves it without its span, made now).
    async fn recover(&self) -> Result<()> {
        let unsealed: Vec<u64> = {
            let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            let newest = parts.keys().next_back().copied();
            parts
                .iter()
                .filter(|(f, p)| p.span.is_none() && Some(**f) != newest)
                .map(|(f, _)| *f)
                .collect()
        };
        for first in unsealed {
            self.seal(first).await?;
        }
        let newest = self.first().and(self.last_part());
        if let (Some(log), Some(first)) = (self.newest_log().await?, newest) {
            if let Some(d) = log.read_at(Position(first)).await? {
                *self.day.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(day(believed(d.received)));
            }
        }
        Ok(())
    }

    fn last_part(&self) -> Option<u64> {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.keys().next_back().copied()
    }

    /// The log of partition `first` when the archive still holds it;
    /// `None` once retention removed it. Readers only ever look here:
    /// a reader finishing on a removed partition must not make it again
    /// (an empty unsealed partition would stop retention for good).
    pub(crate) fn open_part(&self, first: u64) -> Result<Option<FileLog>> {
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        match parts.get_mut(&first) {
            Some(part) => self.part_log(first, part).map(Some),
            None => Ok(None),
        }
    }

    /// The log of partition `first`, made when new: only the writer
    /// ([`Archive::start_part`]) makes partitions.
    fn create_part(&self, first: u64) -> Result<FileLog> {
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        let part = parts.entry(first).or_insert(Part {
            span: None,
            log: None,
        });
        self.part_log(first, part)
    }

    fn part_log(&self, first: u64, part: &mut Part) -> Result<FileLog> {
        if let Some(log) = &part.log {
            return Ok(log.clone());
        }
        let (log, recovery) = FileLog::create_at(
            &self.parts_dir.join(part_name(first)),
            self.segment_bytes,
            first,
        )?;
        if recovery.truncated_bytes > 0 {
            eprintln!(
                "vigie: archive partition {}: a torn last batch ({} bytes, never written whole) was cut",
                part_name(first),
                recovery.truncated_bytes
            );
        }
        part.log = Some(log.clone());
        Ok(log)
    }

    async fn newest_log(&self) -> Result<Option<FileLog>> {
        let newest = {
            let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            parts.keys().next_back().copied()
        };
        match newest {
            Some(f) => self.open_part(f),
            None => Ok(None),
        }
    }

    /// Writes the span of partition `first`: it is sealed.
    async fn seal(&self, first: u64) -> Result<()> {
        let Some(log) = self.open_part(first)? else {
            return Ok(());
        };
        let end = log.records().await?;
        let (first_received, last_received) = match (
            log.read_at(Position(first)).await?,
            log.read_at(Position(end.saturating_sub(1))).await?,
        ) {
            (Some(a), Some(b)) => (believed(a.received), believed(b.received)),
            _ => (0, 0),
        };
        let span = Span {
            first,
            end,
            first_received,
            last_received,
        };
        write_durably(
            &self.parts_dir.join(part_name(first)).join("span"),
            &format!("{first} {end} {first_received} {last_received}\n"),
        )?;
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = parts.get_mut(&first) {
            p.span = Some(span);
        }
        Ok(())
    }

    /// The first position the archive holds, if any.
    pub fn first(&self) -> Option<u64> {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.keys().next().copied()
    }

    /// The position after the archive's last event (0 when empty).
    pub async fn end(&self) -> Result<u64> {
        match self.newest_log().await? {
            Some(log) => log.records().await,
            None => Ok(0),
        }
    }

    /// Where a partition ends, sealed or not (at its start, holding
    /// nothing, once removed).
    async fn part_end(&self, first: u64) -> Result<u64> {
        let span = {
            let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            parts.get(&first).and_then(|p| p.span)
        };
        match span {
            Some(s) => Ok(s.end),
            None => match self.open_part(first)? {
                Some(log) => log.records().await,
                None => Ok(first),
            },
        }
    }

    /// Starts a partition at `first`, sealing the one before.
    async fn start_part(&self, first: u64, received: i64) -> Result<FileLog> {
        let before = {
            let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            parts.keys().next_back().copied()
        };
        if let Some(b) = before {
            self.seal(b).await?;
        }
        let log = self.create_part(first)?;
        *self.day.lock().unwrap_or_else(|e| e.into_inner()) = Some(day(believed(received)));
        Ok(log)
    }

    /// Archives a batch delivered by the stream (any order): positions
    /// held already are passed over, the others written in order. A
    /// position the batch skips is read from the stream by its position
    /// (delivered out of order, or not at all); one the stream no longer
    /// holds is lost to the archive: a new partition starts after it, and
    /// it is counted.
    ///
    /// A batch whose positions the archive holds with other events is
    /// refused, nothing written: the stream was deleted and made again
    /// (its positions start over below the archive's end). Taken as
    /// "held already", the new events would be acknowledged and never
    /// archived; refused, they stay in the stream, unacknowledged, and
    /// the error says so until an operator moves the archive aside.
    pub async fn take(&self, stream: &dyn EventLog, mut batch: Vec<Delivery>) -> Result<Taken> {
        batch.sort_by_key(|d| d.position);
        batch.dedup_by_key(|d| d.position);
        let mut taken = Taken::default();
        // The position the next event written must have.
        let mut next = match self.first() {
            Some(_) => Some(self.end().await?),
            None => None,
        };
        if let Some(end) = next {
            self.check_same_stream(&batch, end).await?;
        }
        let mut run: Vec<Delivery> = Vec::new();
        for d in batch {
            if let Some(e) = next {
                if d.position.0 < e {
                    taken.again += 1;
                    continue;
                }
                if d.position.0 > e {
                    // Written up to here first: what the batch skips is
                    // read in order from the stream.
                    taken.archived += self.write(std::mem::take(&mut run)).await?;
                    let (filled, lost) = self.fill(stream, e, d.position.0).await?;
                    taken.archived += filled;
                    taken.lost += lost;
                }
            }
            next = Some(d.position.0 + 1);
            run.push(d);
        }
        taken.archived += self.write(run).await?;
        Ok(taken)
    }

    /// Refuses a batch delivered again whose newest position below the
    /// archive's `end` the archive holds with another event, or no
    /// longer holds (what a legitimate delivery again gives is the last
    /// batch, in the partition being written): another stream.
    async fn check_same_stream(&self, batch: &[Delivery], end: u64) -> Result<()> {
        let below = batch.iter().filter(|d| d.position.0 < end).count();
        let Some(d) = batch.iter().rev().find(|d| d.position.0 < end) else {
            return Ok(());
        };
        let same = self.read_at(d.position).await?.is_some_and(|a| {
            a.tenant == d.tenant
                && a.source == d.source
                && a.received == d.received
                && a.event == d.event
        });
        if same {
            return Ok(());
        }
        Err(StoreError::Invalid(format!(
            "archive {}: the stream's position {} holds another event than the archive's: \
             the stream was deleted and made again (its positions start over below the \
             archive's end, {end}); {below} of {} delivered events below that end were not \
             archived and are not acknowledged. Move the archive directory aside (stop the \
             node, rename it, start again) so a new archive starts with the new stream \
             (docs/regional.md)",
            self.dir.display(),
            d.position.0,
            batch.len()
        )))
    }

    /// Positions `[from, to)`, read from the stream by position: how many
    /// were written, and how many it no longer held.
    async fn fill(&self, stream: &dyn EventLog, from: u64, to: u64) -> Result<(u64, u64)> {
        // What retention removed is a prefix: the first still held, by
        // halving.
        let (mut lo, mut hi) = (from, to);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if stream.read_at(Position(mid)).await?.is_some() {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if lo > from {
            eprintln!(
                "vigie serve: archive: positions {from} to {} were removed from the stream before the archive read them: lost to the archive (the stream's retention is shorter than this node was away)",
                lo - 1
            );
        }
        let mut filled = 0;
        let mut run = Vec::new();
        for p in lo..to {
            match stream.read_at(Position(p)).await? {
                Some(d) => run.push(d),
                None => {
                    eprintln!("vigie serve: archive: position {p} no longer in the stream: lost to the archive");
                    filled += self.write(std::mem::take(&mut run)).await?;
                }
            }
            if run.len() >= 8192 {
                filled += self.write(std::mem::take(&mut run)).await?;
            }
        }
        filled += self.write(run).await?;
        Ok((filled, (to - from) - filled))
    }

    /// Writes deliveries whose positions increase, each after the
    /// archive's end: one frame per run of consecutive positions of one
    /// tenant, source and time of receipt; a new partition where
    /// positions jump (a gap) or a new day of receipt starts.
    async fn write(&self, run: Vec<Delivery>) -> Result<u64> {
        let mut written = 0;
        let mut i = 0;
        while i < run.len() {
            let head = &run[i];
            let mut j = i + 1;
            while j < run.len()
                && run[j].position.0 == run[j - 1].position.0 + 1
                && run[j].tenant == head.tenant
                && run[j].source == head.source
                && run[j].received == head.received
            {
                j += 1;
            }
            let first = head.position.0;
            let newest = self.newest_log().await?;
            let current = match &newest {
                Some(log) => Some(log.records().await?),
                None => None,
            };
            // Several ingest nodes' clocks differ: only a later day starts
            // a partition (not one going back and forth at midnight).
            let new_day = self
                .day
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|d| day(believed(head.received)) > d);
            let log = match (newest, current) {
                (Some(log), Some(c)) if first == c && !new_day => log,
                (Some(_), Some(c)) if first < c => {
                    return Err(StoreError::Invalid(format!(
                        "archive {}: position {first} written twice",
                        self.dir.display()
                    )))
                }
                _ => self.start_part(first, head.received).await?,
            };
            let batch = IngestBatch {
                tenant: head.tenant.clone(),
                source: head.source.clone(),
                received: head.received,
                events: run[i..j].iter().map(|d| d.event.clone()).collect(),
            };
            let Appended { first: at, count } = log.append(batch).await?;
            if at.0 != first {
                return Err(StoreError::Invalid(format!(
                    "archive {}: position {first} written at {}",
                    self.dir.display(),
                    at.0
                )));
            }
            written += count;
            i = j;
        }
        Ok(written)
    }

    /// The event at `position`, if the archive holds it.
    pub async fn read_at(&self, position: Position) -> Result<Option<Delivery>> {
        let first = {
            let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            parts.range(..=position.0).next_back().map(|(f, _)| *f)
        };
        let Some(first) = first else { return Ok(None) };
        if position.0 >= self.part_end(first).await? {
            return Ok(None);
        }
        match self.open_part(first)? {
            Some(log) => log.read_at(position).await,
            None => Ok(None),
        }
    }

    /// The first position received at `at` or later that the archive
    /// holds, if any: the first partition whose newest event is that
    /// recent, searched by halving.
    pub async fn received_since(&self, at: i64) -> Result<Option<Position>> {
        let firsts: Vec<u64> = {
            let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            parts.keys().copied().collect()
        };
        for first in firsts {
            let span = {
                let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
                parts.get(&first).and_then(|p| p.span)
            };
            if span.is_some_and(|s| s.last_received < at || s.end == s.first) {
                continue;
            }
            let Some(log) = self.open_part(first)? else {
                continue;
            };
            let end = log.records().await?;
            match log.received_since(at).await? {
                Some(p) if p.0 < end => return Ok(Some(p.max(Position(first)))),
                _ => continue,
            }
        }
        Ok(None)
    }

    /// Up to `max` events from `next` (or from the first partition after
    /// it, when `next` is in none), read with the one-off `consumer` of
    /// the partition; `part` is the partition that reader is in. Empty
    /// once the archive is read to its end.
    pub(crate) async fn read(
        &self,
        consumer: &str,
        mut next: u64,
        part: &mut Option<u64>,
        max: usize,
    ) -> Result<Vec<Delivery>> {
        loop {
            let candidates: Vec<u64> = {
                let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
                parts
                    .range(..=next)
                    .next_back()
                    .map(|(f, _)| *f)
                    .into_iter()
                    .chain(parts.range(next + 1..).next().map(|(f, _)| *f))
                    .collect()
            };
            let mut chosen = None;
            for f in candidates {
                if self.part_end(f).await? > next.max(f) {
                    chosen = Some(f);
                    break;
                }
            }
            let Some(f) = chosen else {
                if let Some(p) = part.take() {
                    self.release_part(p, consumer).await;
                }
                return Ok(Vec::new());
            };
            let Some(log) = self.open_part(f)? else {
                // Removed by retention meanwhile: the next one.
                continue;
            };
            if *part != Some(f) {
                if let Some(p) = part.take() {
                    self.release_part(p, consumer).await;
                }
                log.seek(consumer, Position(next.max(f))).await?;
                *part = Some(f);
            }
            let got = log.consume(consumer, max, Duration::ZERO).await?;
            if !got.is_empty() {
                return Ok(got);
            }
            // This partition is read to its end: on to the next one.
            let _ = log.release(consumer).await;
            *part = None;
            next = next.max(self.part_end(f).await?);
        }
    }

    /// Lets go of a one-off reader of partition `first`, if the archive
    /// still holds it (a reader is only memory: nothing to keep when
    /// retention removed its partition, nor when the release fails).
    pub(crate) async fn release_part(&self, first: u64, consumer: &str) {
        if let Ok(Some(log)) = self.open_part(first) {
            let _ = log.release(consumer).await;
        }
    }

    /// Removes the partitions the policy no longer keeps (never the one
    /// being written).
    pub async fn retain(&self) -> Result<ArchiveRetained> {
        let now = now_micros();
        let list: Vec<(u64, Option<Span>)> = {
            let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            parts.iter().map(|(f, p)| (*f, p.span)).collect()
        };
        let sizes: Vec<u64> = list
            .iter()
            .map(|(f, _)| size(&self.parts_dir.join(part_name(*f))))
            .collect();
        let total: u64 = sizes.iter().sum();
        let mut left = total;
        let mut out = ArchiveRetained::default();
        for (k, (first, span)) in list.iter().enumerate() {
            // The newest is being written.
            if k + 1 == list.len() {
                break;
            }
            // One left unsealed (made by a reader before, or a stop
            // between two partitions) is sealed now rather than stopping
            // retention for good.
            let span = match span {
                Some(s) => *s,
                None => {
                    self.seal(*first).await?;
                    let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
                    match parts.get(first).and_then(|p| p.span) {
                        Some(s) => s,
                        None => continue,
                    }
                }
            };
            // An empty partition holds nothing to keep.
            let empty = span.end <= span.first;
            let too_old = self.policy.max_age.is_some_and(|a| {
                now - span.last_received > a.as_micros().min(i64::MAX as u128) as i64
            });
            let too_big = left > self.policy.max_bytes;
            if !(too_old || too_big || empty) {
                break;
            }
            {
                let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
                parts.remove(first);
            }
            let path = self.parts_dir.join(part_name(*first));
            fs::remove_dir_all(&path).map_err(io(format!("remove {}", path.display())))?;
            out.partitions += 1;
            out.bytes += sizes[k];
            left -= sizes[k];
        }
        out.bytes_kept = left;
        out.over_limit = left > self.policy.max_bytes;
        Ok(out)
    }
}

/// Every third of a minute when idle, the archive takes what the stream
/// has; its retention runs at start and every ten minutes. Errors are
/// said (once until they change) and retried: the stream keeps the
/// events meanwhile.
pub async fn run(stream: Arc<dyn EventLog>, archive: Arc<Archive>) {
    let consumer = archive.consumer().to_string();
    let mut said: Option<String> = None;
    let mut retained_at: Option<std::time::Instant> = None;
    // A stream made again starts its positions over: said at start,
    // and each batch of it is refused by `take`.
    if let (Ok(s), Ok(a)) = (stream.records().await, archive.end().await) {
        if s < a {
            eprintln!(
                "vigie serve: archive: the stream ends at position {s}, before the archive's end {a}: \
                 was the stream deleted and made again? Its events are not archived until the \
                 archive directory is moved aside (docs/regional.md)"
            );
        }
    }
    loop {
        if retained_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(600)) {
            retained_at = Some(std::time::Instant::now());
            match archive.retain().await {
                Ok(r) if r.partitions > 0 => eprintln!(
                    "vigie serve: archive: {} partition(s), {} bytes removed by its retention; {} bytes kept",
                    r.partitions, r.bytes, r.bytes_kept
                ),
                Ok(r) if r.over_limit => eprintln!(
                    "vigie serve: archive: {} bytes, over its limit with only the partition being written left: kept",
                    r.bytes_kept
                ),
                Ok(_) => {}
                Err(e) => eprintln!("vigie serve: archive: retention: {e}"),
            }
        }
        let step = async {
            let batch = stream
                .consume(&consumer, 8192, Duration::from_secs(1))
                .await?;
            let Some(last) = batch.iter().map(|d| d.position).max() else {
                return Ok(None);
            };
            let taken = archive.take(&*stream, batch).await?;
            stream.commit(&consumer, last).await?;
            Ok::<_, StoreError>(Some(taken))
        };
        match step.await {
            Ok(_) => {
                if said.take().is_some() {
                    eprintln!("vigie serve: archive: writing again");
                }
            }
            Err(e) => {
                let e = e.to_string();
                if said.as_deref() != Some(&e) {
                    eprintln!("vigie serve: archive: {e}; retrying every second");
                    said = Some(e);
                }
                let _ = stream.release(&consumer).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
