//! What `vigie serve` keeps, behind small traits.
//!
//! The live system acknowledges an event to its shipper only once the
//! event is durable, and its detection workers move their position only
//! once their detections are durable; a `kill -9` at any moment then loses
//! nothing acknowledged and doubles nothing (detection ids are
//! deterministic, see [`ids`]). Those promises are the traits' contracts:
//!
//! * [`EventLog`]: the durable queue between ingestion and detection —
//!   `append` returns once the batch is on disk, `consume` delivers from a
//!   consumer's committed position (at least once), `commit` moves that
//!   position after the consumer's results are durable.
//!
//! * [`DetectionStore`]: where detections are kept — `put` returns once
//!   they are durable, and keeps each id once (a redelivered event's
//!   detection is the same id, stored once); reads name their tenant.
//!
//! * [`triage::TriageStore`]: the console's triage (status, assignee,
//!   comments, false-positive filters), an append-only history.
//! * [`crisis::CrisisJournal`]: the crisis cell's service statuses and
//!   public notices, an append-only journal.
//!
//! The embedded backend ([`embedded::FileLog`], one commune, one machine)
//! implements them on local disk; the regional deployment implements the
//! same traits on NATS JetStream and PostgreSQL, and runs the same
//! [`conformance`] checks.

pub mod archive;
pub mod conformance;
pub mod crisis;
pub mod embedded;
pub mod ids;
pub mod live;
pub mod triage;

use std::time::Duration;

use async_trait::async_trait;

/// A record's place in the log: records are numbered from 0, in the order
/// they were made durable, without gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// Events received together from one source, for one tenant. Each event is
/// kept as it arrived (one JSON line, one syslog message…): the log holds
/// the evidence, the worker parses it with `vigie-source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestBatch {
    /// The commune (`default` for a single one).
    pub tenant: String,
    /// The source that sent it (a token's name, a listener).
    pub source: String,
    /// When Vigie received it, microseconds since the Unix epoch.
    pub received: i64,
    pub events: Vec<Vec<u8>>,
}

/// What `append` made durable: positions `first .. first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first: Position,
    pub count: u64,
}

/// One event delivered to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub position: Position,
    pub tenant: String,
    pub source: String,
    pub received: i64,
    pub event: Vec<u8>,
}

/// Why the store failed. Every variant names what it was doing and where.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Damaged acknowledged evidence: a damaged frame followed by frames
    /// of the log, or a frame a reader cannot read. The log is not cut
    /// (that would drop acknowledged evidence) nor read past the damage;
    /// the operator decides.
    #[error("{segment}: damaged frame at byte {offset}, before frames that were acknowledged; the log is left as it is and nothing is skipped (keep a copy of the segment for the record before any repair)")]
    Damaged { segment: String, offset: u64 },
    /// Positions that no segment holds: a segment file moved aside or
    /// deleted. The log does not open, and a reader does not go on, with
    /// a hole in it. `last` is unknown when the log's newest segment is
    /// the one gone.
    #[error("{events}: positions {first} {} are in no segment (a segment file moved aside or deleted?); the log is left as it is: put the segment back", until(last))]
    Missing {
        events: String,
        first: u64,
        last: Option<u64>,
    },
    /// The writer could not undo a failed append: nothing more is appended
    /// until the log is reopened (which cuts what that append left).
    #[error("the event log must be reopened (restart the service) before anything more is appended: {0}")]
    MustReopen(String),
    #[error("{0}")]
    Invalid(String),
}

fn until(last: &Option<u64>) -> String {
    match last {
        Some(last) => format!("to {last}"),
        None => "and after".into(),
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A consumer's name, the same for every backend (a file name in the
/// embedded log, a JetStream consumer name on NATS): letters, digits,
/// `-` and `_`, 1 to 64 of them — no dots, slashes or wildcards, no path
/// to escape through.
pub fn check_consumer(name: &str) -> Result<()> {
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

/// The durable queue between ingestion and detection.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Appends a batch; durable when this returns (the shipper may be
    /// acknowledged).
    async fn append(&self, batch: IngestBatch) -> Result<Appended>;
    /// Up to `max` events after what `consumer` has already been given in
    /// this process (after its committed position on a fresh start),
    /// waiting up to `wait` when there are none yet.
    async fn consume(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>>;
    /// Everything up to and including `upto` is done for `consumer`: after
    /// a restart, delivery resumes after it.
    async fn commit(&self, consumer: &str, upto: Position) -> Result<()>;
    /// The events of one batch `consume` gave are done for `consumer`,
    /// and every batch given before it too.
    ///
    /// Why beside [`EventLog::commit`]: the detection worker reads its
    /// next batch while it judges one and stores another, so when a batch
    /// is committed a later one is already given. A log that gives
    /// positions in order (the embedded one) commits up to the largest;
    /// one that gives an event again out of order (JetStream, after
    /// another worker died) must commit exactly these, never an event
    /// given since that lies below them and is not judged yet.
    async fn commit_batch(&self, consumer: &str, batch: &[Position]) -> Result<()> {
        match batch.iter().max() {
            Some(&upto) => self.commit(consumer, upto).await,
            None => Ok(()),
        }
    }
    /// The position `consumer` committed last, if any.
    async fn committed(&self, consumer: &str) -> Result<Option<Position>>;
    /// Records held (the next record's position).
    async fn records(&self) -> Result<u64>;
    /// Forgets what this process gave `consumer` (its committed position
    /// stays): a one-off reader (a retro-hunt, a replay) releases what
    /// it held once done.
    async fn release(&self, consumer: &str) -> Result<()>;
    /// The event kept at `position`, as it arrived (the console shows a
    /// detection's raw event from here: the evidence, not a copy).
    /// `None` when the log does not hold it (removed by retention, not
    /// durable yet) or the backend cannot read by position.
    async fn read_at(&self, position: Position) -> Result<Option<Delivery>> {
        let _ = position;
        Ok(None)
    }
    /// Moves this process's reader of a one-off `consumer` to `to` (its
    /// committed position unchanged): the next `consume` gives `to` first.
    /// A search that knows where its events cannot be skips there. `false`
    /// when the backend cannot (the caller reads on).
    async fn seek(&self, consumer: &str, to: Position) -> Result<bool> {
        let _ = (consumer, to);
        Ok(false)
    }
    /// The first position received at `at` (µs since the epoch) or later,
    /// found by halving with [`EventLog::read_at`]: a retro-hunt over a
    /// period starts there rather than at the start of the log (a
    /// region's stream holds weeks). Positions follow receipt (each batch
    /// is stamped as it is appended; several ingest nodes' clocks differ
    /// by seconds, which callers' margins absorb). A position removed by
    /// retention counts as before `at`. `None` when the log cannot read
    /// by position: the caller reads from the start.
    async fn received_since(&self, at: i64) -> Result<Option<Position>> {
        let end = self.records().await?;
        if end == 0 {
            return Ok(Some(Position(0)));
        }
        if self.read_at(Position(end - 1)).await?.is_none() {
            return Ok(None);
        }
        // The answer is in [lo, hi]: everything before lo is before `at`,
        // hi is at or after it (or the end).
        let (mut lo, mut hi) = (0u64, end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.read_at(Position(mid)).await? {
                Some(d) if d.received >= at => hi = mid,
                _ => lo = mid + 1,
            }
        }
        Ok(Some(Position(lo)))
    }
}

/// One detection as kept: its deterministic id ([`ids`]), its tenant, and
/// the document served (JSON, as `/api/v1/detections` gives it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionDoc {
    pub id: String,
    pub tenant: String,
    pub json: Vec<u8>,
}

/// Where the detection workers keep what they find, and the API reads it
/// (a file per data directory when embedded, PostgreSQL in the regional
/// deployment).
#[async_trait]
pub trait DetectionStore: Send + Sync {
    /// Keeps those whose id is not kept yet; durable when this returns.
    /// How many were new.
    async fn put(&self, detections: Vec<DetectionDoc>) -> Result<usize>;
    /// Detections kept for `tenant`.
    async fn count(&self, tenant: &str) -> Result<u64>;
    /// Detections kept for every tenant (the deployment's statistics).
    async fn count_all(&self) -> Result<u64>;
    /// The latest `limit` documents of `tenant`, oldest first.
    async fn latest(&self, tenant: &str, limit: usize) -> Result<Vec<Vec<u8>>>;
    /// Whether the store answers now (`/healthz` of a node that needs
    /// it). A store on this node's own disk answers whenever the process
    /// does; a database server is asked.
    async fn reachable(&self) -> Result<()> {
        Ok(())
    }
    /// Removes the detections judged before `before` (RFC 3339 UTC, as
    /// their `detected`): retention by age bounds the detections as it
    /// bounds the event log. How many were removed; `None` for a backend
    /// that does not remove (said by the caller, never taken for 0).
    async fn remove_detected_before(&self, before: &str) -> Result<Option<u64>> {
        let _ = before;
        Ok(None)
    }
    /// The document of detection `id` of `tenant`, if kept (the console's
    /// page of one detection). A backend with an index by id answers
    /// directly; this default looks among the latest 100,000.
    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>> {
        #[derive(serde::Deserialize)]
        struct Id<'a> {
            #[serde(borrow)]
            id: std::borrow::Cow<'a, str>,
        }
        let docs = self.latest(tenant, 100_000).await?;
        Ok(docs
            .into_iter()
            .find(|d| serde_json::from_slice::<Id>(d).is_ok_and(|d| d.id == id)))
    }
}

#[cfg(test)]
mod tests {
    use super::check_consumer;

    #[test]
    fn consumer_names_cannot_escape() {
        assert!(check_consumer("detect").is_ok());
        assert!(check_consumer("retrohunt-0a1b2c3d").is_ok());
        for bad in ["", "../escape", "a.b", "a*", "a>", "a b", &"x".repeat(65)] {
            assert!(check_consumer(bad).is_err(), "{bad}");
        }
    }
}
