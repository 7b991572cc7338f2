//! [`ArchivedLog`]: the stream with its archive in front, for one-off
//! readers (retro-hunts, event searches, the raw event of a detection).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::Archive;
use crate::{check_consumer, Appended, Delivery, EventLog, IngestBatch, Position, Result};

/// Where a one-off reader of [`ArchivedLog`] is.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    /// In the archive, at `next`, its partition reader in `part`.
    Archive { next: u64, part: Option<u64> },
    /// Past the archive: the stream's own reader.
    Stream,
}

/// The stream with its archive in front, for one-off readers whose
/// consumer names start with one of `prefixes`: a fresh one (or one
/// moved by `seek` below the archive's end) reads the archive to its
/// end, then the stream from that position — each position once. Every
/// other consumer (the workers', the live scope's) is the stream's.
pub struct ArchivedLog {
    stream: Arc<dyn EventLog>,
    archive: Arc<Archive>,
    prefixes: Vec<String>,
    cursors: tokio::sync::Mutex<HashMap<String, Cursor>>,
}

impl ArchivedLog {
    pub fn new(stream: Arc<dyn EventLog>, archive: Arc<Archive>, prefixes: Vec<String>) -> Self {
        ArchivedLog {
            stream,
            archive,
            prefixes,
            cursors: Default::default(),
        }
    }

    fn reads_archive(&self, consumer: &str) -> bool {
        self.prefixes
            .iter()
            .any(|p| consumer.starts_with(p.as_str()))
    }
}

#[async_trait]
impl EventLog for ArchivedLog {
    async fn append(&self, batch: IngestBatch) -> Result<Appended> {
        self.stream.append(batch).await
    }

    async fn consume(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        if !self.reads_archive(consumer) {
            return self.stream.consume(consumer, max, wait).await;
        }
        check_consumer(consumer)?;
        let mut cursors = self.cursors.lock().await;
        let cursor = match cursors.get(consumer) {
            Some(c) => *c,
            None => match self.archive.first() {
                Some(first) => Cursor::Archive {
                    next: first,
                    part: None,
                },
                None => Cursor::Stream,
            },
        };
        if let Cursor::Archive { next, mut part } = cursor {
            let got = self.archive.read(consumer, next, &mut part, max).await?;
            if let Some(last) = got.last() {
                cursors.insert(
                    consumer.to_string(),
                    Cursor::Archive {
                        next: last.position.0 + 1,
                        part,
                    },
                );
                return Ok(got);
            }
            // The archive is read to its end: the stream from there.
            self.stream.seek(consumer, Position(next)).await?;
        }
        cursors.insert(consumer.to_string(), Cursor::Stream);
        drop(cursors);
        self.stream.consume(consumer, max, wait).await
    }

    async fn commit(&self, consumer: &str, upto: Position) -> Result<()> {
        self.stream.commit(consumer, upto).await
    }

    /// The stream's own: JetStream commits exactly the batch's events
    /// (the default, up to the largest, would acknowledge a dead worker's
    /// events given again below them before they are judged).
    async fn commit_batch(&self, consumer: &str, batch: &[Position]) -> Result<()> {
        self.stream.commit_batch(consumer, batch).await
    }

    async fn committed(&self, consumer: &str) -> Result<Option<Position>> {
        self.stream.committed(consumer).await
    }

    async fn records(&self) -> Result<u64> {
        Ok(self.stream.records().await?.max(self.archive.end().await?))
    }

    async fn release(&self, consumer: &str) -> Result<()> {
        if self.reads_archive(consumer) {
            let cursor = self.cursors.lock().await.remove(consumer);
            if let Some(Cursor::Archive {
                part: Some(part), ..
            }) = cursor
            {
                self.archive.release_part(part, consumer).await;
            }
        }
        self.stream.release(consumer).await
    }

    /// The stream's event, else the archive's (the raw event of an old
    /// detection).
    async fn read_at(&self, position: Position) -> Result<Option<Delivery>> {
        match self.stream.read_at(position).await? {
            Some(d) => Ok(Some(d)),
            None => self.archive.read_at(position).await,
        }
    }

    async fn seek(&self, consumer: &str, to: Position) -> Result<bool> {
        if !self.reads_archive(consumer) {
            return self.stream.seek(consumer, to).await;
        }
        check_consumer(consumer)?;
        let mut cursors = self.cursors.lock().await;
        if let Some(Cursor::Archive {
            part: Some(part), ..
        }) = cursors.remove(consumer)
        {
            self.archive.release_part(part, consumer).await;
        }
        if to.0 < self.archive.end().await? {
            cursors.insert(
                consumer.to_string(),
                Cursor::Archive {
                    next: to.0,
                    part: None,
                },
            );
            return Ok(true);
        }
        cursors.insert(consumer.to_string(), Cursor::Stream);
        self.stream.seek(consumer, to).await
    }

    /// The archive's answer when it holds an event received that late;
    /// else the stream's (everything the archive holds is older).
    async fn received_since(&self, at: i64) -> Result<Option<Position>> {
        match self.archive.received_since(at).await? {
            Some(p) => Ok(Some(p)),
            None => self.stream.received_since(at).await,
        }
    }
}
