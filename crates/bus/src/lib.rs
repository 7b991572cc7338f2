//! The regional deployment's event log: [`EventLog`] on NATS JetStream.
//!
//! One stream (limits retention, file storage) holds every commune's
//! events under `vigie.events.<tenant>.<source>`: a CSIRT's ingest nodes
//! publish to it, its detection workers read it through one durable pull
//! consumer that JetStream shares among them, each event going to one
//! worker at a time.
//!
//! How the [`EventLog`] contract maps onto JetStream:
//!
//! * **position** = stream sequence − 1 (records are numbered from 0);
//! * **`append`** publishes every event of the batch and returns once
//!   JetStream acknowledged each (the server stored it): only then may the
//!   shipper be acknowledged. The tenant, source and time of receipt
//!   travel as headers, exactly as received (the subject's tokens are
//!   sanitised copies for filtering);
//! * **`consume`** pulls from the durable consumer named after the Vigie
//!   consumer (explicit acks): JetStream hands each event to one worker and
//!   hands it again when that worker does not acknowledge it within the
//!   ack wait (a worker killed with `kill -9`: a living one says it is at
//!   work on what it holds every third of the ack wait, see
//!   [`Options::max_hold`]), or at once when the worker lets it go (on
//!   `release`, on a clean stop);
//! * **`commit`** acknowledges what this process was given up to the
//!   position, after the worker's detections are durable; the last ack
//!   waits for the server's answer, so the commit is known when it returns;
//! * **`committed`** is the consumer's ack floor.
//!
//! The stream's limits are the configuration's retention
//! (`--retention-days`, `--retention-gb`: [`Options::max_age`],
//! [`Options::max_bytes`]), set when it is made and set again when a
//! node finds them different. Unlike the embedded log's, they are the
//! server's: JetStream removes the oldest events when a limit is reached,
//! judged or not — a limit is sized for the region (docs/regional.md).
//!
//! Readers that belong to one process only (the live scope's replay, a
//! retro-hunt: consumer names starting with one of [`Options::local`]) get
//! a consumer of their own that the server forgets once unused, instead of
//! a durable one that two processes would split between them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, stream};
use async_nats::{HeaderMap, Subject};
use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::OnceCell;
use vigie_store::{Appended, Delivery, EventLog, IngestBatch, Position, Result, StoreError};

/// The subjects' common prefix: `vigie.events.<tenant>.<source>`.
pub const SUBJECT_PREFIX: &str = "vigie.events";

/// Publishes awaiting their acks at once, at most: well under the
/// client's own limit (async-nats' `max_ack_inflight`, 5,000 by default),
/// which makes a publish past it wait until an earlier ack is awaited.
const PUBLISH_WINDOW: usize = 1024;

const TENANT: &str = "Vigie-Tenant";
const SOURCE: &str = "Vigie-Source";
const RECEIVED: &str = "Vigie-Received";

/// How the log uses the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// The JetStream stream (created when missing).
    pub stream: String,
    /// How long an event given to a worker stays its own before JetStream
    /// gives it to another: longer than a batch takes to judge and store,
    /// short enough that a dead worker's events are not waited for long.
    pub ack_wait: Duration,
    /// How long any one request to the server may take before the call
    /// fails (an ingest answers 503 then, nothing acknowledged).
    pub timeout: Duration,
    /// Consumer names (prefixes) read by one process only.
    pub local: Vec<String>,
    /// How long a living worker may keep events it has not acknowledged:
    /// while it judges them, the log tells the server every third of the
    /// ack wait that it is still at work on them (JetStream's in-progress
    /// ack), so a slow batch is not handed to another worker as well; past
    /// this, a worker that is stuck lets them go to the others.
    pub max_hold: Duration,
    /// The stream's limits, each as given (`--retention-days`,
    /// `--retention-gb`): set on the stream when it is made, and again
    /// when found different; a limit not given is left as it is (an
    /// operator's `nats stream edit`), none on a new stream.
    pub limits: StreamLimits,
    /// The user and password to connect with (`--bus-credentials FILE`),
    /// when the server asks for them: never in the URL of a command line.
    pub credentials: Option<Credentials>,
}

/// A NATS user and its password, read from a file only its owner reads
/// ([`read_credentials`]). Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, password: \"***\" }}",
            self.user
        )
    }
}

/// The credentials of a file holding one line `USER:PASSWORD` (blank
/// lines and `#` comments aside). Why a file and these checks: a password
/// on a command line is read by every user of the machine (`ps`), so it
/// is only taken from a file, and — as libpq does with PGPASSFILE — a
/// file that others than its owner may read is refused, not used. The
/// error never holds the password.
pub fn read_credentials(path: &std::path::Path) -> std::result::Result<Credentials, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("--bus-credentials {shown}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "--bus-credentials {shown}: readable by others than its owner: not used (chmod 0600 it)"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--bus-credentials {shown}: {e}"))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Err(format!(
            "--bus-credentials {shown}: one line USER:PASSWORD expected"
        ));
    };
    match line.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Credentials {
            user: user.to_string(),
            password: password.to_string(),
        }),
        _ => Err(format!(
            "--bus-credentials {shown}: one line USER:PASSWORD expected"
        )),
    }
}

/// A URL without its user part, and that part (user and password, or a
/// token alone), percent-decoded.
fn split_user_part(url: &str) -> (String, Option<(String, Option<String>)>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_part = rest.split_once('/').map_or(rest, |(h, _)| h);
    let Some((user_part, host)) = host_part.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let after = &rest[host_part.len()..];
    let address = if scheme.is_empty() {
        format!("{host}{after}")
    } else {
        format!("{scheme}://{host}{after}")
    };
    let part = match user_part.split_once(':') {
        Some((u, p)) => (decode(u), Some(decode(p))),
        None => (decode(user_part), None),
    };
    (address, Some(part))
}

/// `%XX` decoded (a URL's user part); anything else kept as it is.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A NATS URL as it may be shown: its user part (a user and password, or
/// a token) replaced by `***`. Every message naming the server says it so.
pub fn masked(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (host_part, _) = rest.split_once('/').unwrap_or((rest, ""));
    match host_part.rsplit_once('@') {
        Some((_, host)) => {
            let after = &rest[host_part.len()..];
            if scheme.is_empty() {
                format!("***@{host}{after}")
            } else {
                format!("{scheme}://***@{host}{after}")
            }
        }
        None => url.to_string(),
    }
}

/// Limits of the stream, each `None` when not given (left as it is) and
/// `Some(0)` for "no limit of that kind".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamLimits {
    /// Events older than this many seconds are removed by the server.
    pub max_age_secs: Option<u64>,
    /// The stream is kept under this many bytes, oldest removed first.
    pub max_bytes: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stream: "VIGIE_EVENTS".into(),
            ack_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            local: Vec::new(),
            max_hold: Duration::from_secs(600),
            limits: StreamLimits::default(),
            credentials: None,
        }
    }
}

/// The event log on a NATS JetStream server.
///
/// Made without a connection: the first call connects (and makes the
/// stream), and a call made while the server cannot be reached fails and
/// the next one tries again — `vigie serve` starts, and answers 503, while
/// NATS is down.
pub struct JetStreamLog {
    url: String,
    opts: Options,
    conn: OnceCell<Conn>,
    consumers: tokio::sync::Mutex<HashMap<String, PullConsumer>>,
    /// What this process was given and has not acknowledged, by consumer:
    /// position → the ack subject and when it was given.
    held: Arc<Mutex<Held>>,
    /// The task that tells the server this process is still at work on
    /// what it holds ([`keep_working`]), started by the first `consume`.
    keeper: std::sync::Once,
    /// One batch's events get consecutive sequences (from this process).
    appending: tokio::sync::Mutex<()>,
    /// Where a one-off consumer moved by `seek` starts (a stream
    /// sequence), until it is released.
    starts: Mutex<HashMap<String, u64>>,
}

struct Conn {
    client: async_nats::Client,
    js: jetstream::Context,
}

fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        what: what.to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// A subject token: letters, digits, `-` and `_` kept, anything else `_`.
pub fn token(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() {
        "_".into()
    } else {
        t
    }
}

/// A header value carries any string: `%`, CR and LF escaped.
fn escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// What to do when the server refuses a size limit: its JetStream store
/// (`max_file_store`, by default 75 % of the disk free when it started)
/// is smaller than the limit asked for.
fn storage_hint(error: &str) -> &'static str {
    if error.contains("insufficient storage") {
        " — the size limit (--retention-gb) is more than nats-server's JetStream store allows: lower it, or raise `jetstream { max_file_store }` in nats-server's configuration"
    } else {
        ""
    }
}

/// JetStream's form of a size limit: -1 for none (not given, or 0).
fn limit_bytes(b: Option<u64>) -> i64 {
    match b {
        None | Some(0) => -1,
        Some(b) => i64::try_from(b).unwrap_or(i64::MAX),
    }
}

/// A stream's limits as people read them.
fn limits(c: &stream::Config) -> String {
    let age = match c.max_age.as_secs() {
        0 => "no limit by age".to_string(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s => format!("{s} s"),
    };
    let size = match c.max_bytes {
        b if b < 0 => "no limit by size".to_string(),
        b if b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b => format!("{b} bytes"),
    };
    format!("{age}, {size}")
}

fn unescape(s: &str) -> String {
    s.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%25", "%")
}

impl JetStreamLog {
    /// Acknowledges `done` (reply subjects of events given to
    /// `consumer`), in order: the last one waits for the server's answer,
    /// and acks of one consumer are recorded in order.
    async fn acknowledge(&self, consumer: &str, done: Vec<Subject>) -> Result<()> {
        let Some((last, before)) = done.split_last() else {
            return Ok(());
        };
        let conn = self.conn().await?;
        let what = || format!("acknowledging to JetStream consumer {consumer}");
        for r in before {
            conn.client
                .publish(r.clone(), "+ACK".into())
                .await
                .map_err(|e| failed(what(), e))?;
        }
        tokio::time::timeout(
            self.opts.timeout,
            conn.client.request(last.clone(), "+ACK".into()),
        )
        .await
        .map_err(|e| failed(what(), e))?
        .map_err(|e| failed(what(), e))?;
        Ok(())
    }

    /// The log on the server at `url` (`nats://HOST:PORT`); nothing is
    /// contacted yet.
    pub fn new(url: &str, opts: Options) -> JetStreamLog {
        JetStreamLog {
            url: url.to_string(),
            opts,
            conn: OnceCell::new(),
            consumers: Default::default(),
            held: Default::default(),
            starts: Default::default(),
            keeper: std::sync::Once::new(),
            appending: Default::default(),
        }
    }

    async fn conn(&self) -> Result<&Conn> {
        self.conn
            .get_or_try_init(|| async {
                let mut options =
                    async_nats::ConnectOptions::new().connection_timeout(self.opts.timeout);
                // The client does not read a URL's user part: taken from
                // it here (a URL of the configuration file), the
                // credentials file winning.
                let (address, user_part) = split_user_part(&self.url);
                match (&self.opts.credentials, user_part) {
                    (Some(c), _) => {
                        options = options.user_and_password(c.user.clone(), c.password.clone());
                    }
                    (None, Some((user, Some(password)))) => {
                        options = options.user_and_password(user, password);
                    }
                    (None, Some((token, None))) => options = options.token(token),
                    (None, None) => {}
                }
                let client = options
                    .connect(address.as_str())
                    .await
                    .map_err(|e| failed(format!("NATS at {}", masked(&self.url)), e))?;
                let mut js = jetstream::new(client.clone());
                js.set_timeout(self.opts.timeout);
                let config = stream::Config {
                    name: self.opts.stream.clone(),
                    subjects: vec![format!("{SUBJECT_PREFIX}.>")],
                    retention: stream::RetentionPolicy::Limits,
                    storage: stream::StorageType::File,
                    max_age: Duration::from_secs(self.opts.limits.max_age_secs.unwrap_or(0)),
                    max_bytes: limit_bytes(self.opts.limits.max_bytes),
                    ..Default::default()
                };
                // A server that has just restarted answers before it has
                // recovered its streams from disk: the stream is "not
                // found", then its creation "overlaps" the one recovered
                // meanwhile. Asked again shortly, it is there.
                let mut tries = 0;
                let found = loop {
                    match js.get_or_create_stream(config.clone()).await {
                        Ok(s) => break s,
                        // Only when the server answered (not a timeout:
                        // a server that does not answer is said at once).
                        Err(e)
                            if tries < 10
                                && matches!(
                                    e.kind(),
                                    jetstream::context::CreateStreamErrorKind::JetStream(_)
                                        | jetstream::context::CreateStreamErrorKind::JetStreamUnavailable
                                ) =>
                        {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        Err(e) => {
                            let hint = storage_hint(&e.to_string());
                            return Err(failed(
                                format!("JetStream stream {}{hint}", self.opts.stream),
                                e,
                            ));
                        }
                    }
                };
                // A stream made before (by another node, or an older
                // configuration) keeps its limits until told: the
                // configuration's retention is the one in force, as the
                // embedded log's is. The rest of its settings (replicas,
                // placement an operator chose) is kept.
                let info = found.cached_info();
                let mut wanted = info.config.clone();
                if self.opts.limits.max_age_secs.is_some() {
                    wanted.max_age = config.max_age;
                }
                if self.opts.limits.max_bytes.is_some() {
                    wanted.max_bytes = config.max_bytes;
                }
                if (wanted.max_age, wanted.max_bytes) != (info.config.max_age, info.config.max_bytes)
                {
                    let was = limits(&info.config);
                    js.update_stream(wanted.clone()).await.map_err(|e| {
                        failed(
                            format!(
                                "JetStream stream {} limits ({}){}",
                                self.opts.stream,
                                limits(&wanted),
                                storage_hint(&e.to_string())
                            ),
                            e,
                        )
                    })?;
                    eprintln!(
                        "vigie: JetStream stream {}: retention now {} (was {was})",
                        self.opts.stream,
                        limits(&wanted)
                    );
                }
                Ok(Conn { client, js })
            })
            .await
    }

    fn is_local(&self, consumer: &str) -> bool {
        self.opts.local.iter().any(|p| consumer.starts_with(p))
    }

    async fn consumer(&self, consumer: &str) -> Result<PullConsumer> {
        if let Some(c) = self.consumers.lock().await.get(consumer) {
            return Ok(c.clone());
        }
        let conn = self.conn().await?;
        let local = self.is_local(consumer);
        let config = pull::Config {
            durable_name: (!local).then(|| consumer.to_string()),
            description: Some(if local {
                format!("vigie {consumer} (one process)")
            } else {
                format!("vigie {consumer}")
            }),
            deliver_policy: match self
                .starts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(consumer)
            {
                Some(&start_sequence) if local => DeliverPolicy::ByStartSequence { start_sequence },
                _ => DeliverPolicy::All,
            },
            // A one-off reader (a retro-hunt, a search) reads the log once
            // and never acknowledges: with explicit acks the server stopped
            // handing it anything once 65,536 events were pending (its
            // `max_ack_pending`), and a search past that point waited for
            // ever. Without acks nothing is pending; what it reads is not
            // handed to anyone else anyway.
            ack_policy: if local {
                AckPolicy::None
            } else {
                AckPolicy::Explicit
            },
            ack_wait: self.opts.ack_wait,
            // Each worker holds at most one batch (8192) unacknowledged (0,
            // the server's own, where nothing is acknowledged).
            max_ack_pending: if local { 0 } else { 65_536 },
            inactive_threshold: if local {
                Duration::from_secs(300)
            } else {
                Duration::ZERO
            },
            ..Default::default()
        };
        let stream = conn
            .js
            .get_stream(&self.opts.stream)
            .await
            .map_err(|e| failed(format!("JetStream stream {}", self.opts.stream), e))?;
        let made = if local {
            stream.create_consumer(config).await
        } else {
            stream.get_or_create_consumer(consumer, config).await
        };
        let c: PullConsumer =
            made.map_err(|e| failed(format!("JetStream consumer {consumer}"), e))?;
        self.consumers
            .lock()
            .await
            .insert(consumer.to_string(), c.clone());
        Ok(c)
    }

    /// Up to `max` messages: those there now, or (with `wait`) the first
    /// that arrives within it — a request for one, so that nothing is
    /// handed to this process after it stopped listening.
    async fn pull(
        &self,
        c: &PullConsumer,
        consumer: &str,
        max: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<(Delivery, Subject)>> {
        let what = || format!("JetStream consumer {consumer}");
        let mut messages = match wait {
            None => c.fetch().max_messages(max).messages().await,
            Some(w) => c.batch().max_messages(1).expires(w).messages().await,
        }
        .map_err(|e| failed(what(), e))?;
        let mut out = Vec::new();
        while let Some(m) = messages.next().await {
            let m = m.map_err(|e| failed(what(), e))?;
            out.push(delivery(&m).map_err(|e| failed(what(), e))?);
        }
        Ok(out)
    }

    async fn stream_info(&self) -> Result<stream::Info> {
        let conn = self.conn().await?;
        let mut s = conn
            .js
            .get_stream(&self.opts.stream)
            .await
            .map_err(|e| failed(format!("JetStream stream {}", self.opts.stream), e))?;
        s.info()
            .await
            .cloned()
            .map_err(|e| failed(format!("JetStream stream {}", self.opts.stream), e))
    }

    /// Lets go of what `consumer` holds: JetStream hands it out again at
    /// once.
    async fn nak(&self, consumer: &str) -> Result<()> {
        let held = {
            let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
            h.remove(consumer).unwrap_or_default()
        };
        if held.is_empty() {
            return Ok(());
        }
        let conn = self.conn().await?;
        nak_all(&conn.client, held.into_values().map(|(r, _)| r))
            .await
            .map_err(|e| failed(format!("JetStream consumer {consumer}"), e))
    }
}

/// What this process holds, by consumer: position → (ack subject, given at).
type Held = HashMap<String, BTreeMap<u64, (Subject, Instant)>>;

/// Every third of the ack wait, an in-progress ack (`+WPI`) for each
/// event this process holds, given less than `max_hold` ago: JetStream
/// then waits a whole ack wait again before handing it to another worker.
///
/// Why: the ack wait says how long a *dead* worker's events wait; a living
/// one judging a large batch (8,192 events, a debug build, a busy
/// machine) may take longer, and without this every worker would judge
/// the batch again in turn. A `kill -9` stops this task with the process:
/// its events go to the others after one ack wait. Ends when the log is
/// dropped.
async fn keep_working(
    held: std::sync::Weak<Mutex<Held>>,
    client: async_nats::Client,
    ack_wait: Duration,
    max_hold: Duration,
) {
    let every = (ack_wait / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let Some(held) = held.upgrade() else { return };
        let working: Vec<Subject> = {
            let h = held.lock().unwrap_or_else(|e| e.into_inner());
            h.values()
                .flat_map(|m| m.values())
                .filter(|(_, since)| since.elapsed() < max_hold)
                .map(|(r, _)| r.clone())
                .collect()
        };
        drop(held);
        for r in working {
            // Lost with the connection: the server then hands the events
            // out again after the ack wait, as for a dead worker.
            if client.publish(r, "+WPI".into()).await.is_err() {
                break;
            }
        }
    }
}

async fn nak_all(
    client: &async_nats::Client,
    replies: impl IntoIterator<Item = Subject>,
) -> std::result::Result<(), async_nats::Error> {
    let replies: Vec<Subject> = replies.into_iter().collect();
    let Some((last, before)) = replies.split_last() else {
        return Ok(());
    };
    for r in before {
        client.publish(r.clone(), "-NAK".into()).await?;
    }
    // The server answers the last once it is recorded (acks of one
    // consumer are recorded in order): a read that follows sees every
    // message handed back, not only those the server had reached.
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        client.request(last.clone(), "-NAK".into()),
    )
    .await
    {
        Ok(answer) => {
            answer?;
        }
        Err(_) => client.flush().await?,
    }
    Ok(())
}

/// A stored message as a delivery: its stream sequence, subject, headers,
/// payload and time of storage.
fn stored(
    sequence: u64,
    subject: &str,
    headers: Option<&HeaderMap>,
    payload: &[u8],
    published_micros: i64,
) -> Delivery {
    let header = |name: &str| {
        headers
            .and_then(|h| h.get(name))
            .map(|v| unescape(v.as_str()))
    };
    // A message published by something else than Vigie: its subject's
    // tokens, its time of storage.
    let mut tokens = subject.split('.').skip(2);
    let tenant = header(TENANT)
        .or_else(|| tokens.next().map(str::to_string))
        .unwrap_or_default();
    let source = header(SOURCE)
        .or_else(|| tokens.next().map(str::to_string))
        .unwrap_or_default();
    let received = header(RECEIVED)
        .and_then(|r| r.parse().ok())
        .unwrap_or(published_micros);
    Delivery {
        position: Position(sequence.saturating_sub(1)),
        tenant,
        source,
        received,
        event: payload.to_vec(),
    }
}

/// A delivered message as a delivery, and its ack subject.
fn delivery(m: &jetstream::Message) -> std::result::Result<(Delivery, Subject), async_nats::Error> {
    let info = m.info()?;
    let reply = m
        .reply
        .clone()
        .ok_or("a delivered message without ack subject")?;
    let d = stored(
        info.stream_sequence,
        m.subject.as_str(),
        m.headers.as_ref(),
        &m.payload,
        (info.published.unix_timestamp_nanos() / 1000) as i64,
    );
    Ok((d, reply))
}

#[async_trait]
impl EventLog for JetStreamLog {
    async fn append(&self, batch: IngestBatch) -> Result<Appended> {
        if batch.events.is_empty() {
            let next = self.records().await?;
            return Ok(Appended {
                first: Position(next),
                count: 0,
            });
        }
        let conn = self.conn().await?;
        let subject = format!(
            "{SUBJECT_PREFIX}.{}.{}",
            token(&batch.tenant),
            token(&batch.source)
        );
        let mut headers = HeaderMap::new();
        headers.insert(TENANT, escape(&batch.tenant).as_str());
        headers.insert(SOURCE, escape(&batch.source).as_str());
        headers.insert(RECEIVED, batch.received.to_string().as_str());
        let what = || format!("publishing to JetStream ({subject})");
        let _one_batch = self.appending.lock().await;
        let count = batch.events.len() as u64;
        let mut first = None;
        let mut events = batch.events.into_iter().peekable();
        // In windows: the client lets at most `MAX_ACK_INFLIGHT` publishes
        // wait for their acks, and a publish past it waits for one of them
        // to be *awaited*. Publishing a whole request (a 5,582-line
        // Security.jsonl) before awaiting any ack waited for ever.
        while events.peek().is_some() {
            let mut acks = Vec::with_capacity(PUBLISH_WINDOW);
            for event in events.by_ref().take(PUBLISH_WINDOW) {
                let ack = tokio::time::timeout(
                    self.opts.timeout,
                    conn.js
                        .publish_with_headers(subject.clone(), headers.clone(), event.into()),
                )
                .await
                .map_err(|e| failed(what(), e))?
                .map_err(|e| failed(what(), e))?;
                acks.push(ack);
            }
            for ack in acks {
                let ack = ack.await.map_err(|e| failed(what(), e))?;
                first.get_or_insert(ack.sequence);
            }
        }
        Ok(Appended {
            first: Position(first.unwrap_or(1).saturating_sub(1)),
            count,
        })
    }

    async fn consume(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        vigie_store::check_consumer(consumer)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let pulled = async {
            let c = self.consumer(consumer).await?;
            let mut got = self.pull(&c, consumer, max, None).await;
            if matches!(&got, Ok(g) if g.is_empty()) && !wait.is_zero() {
                got = self.pull(&c, consumer, 1, Some(wait)).await;
                if let Ok(g) = &mut got {
                    if !g.is_empty() && max > 1 {
                        match self.pull(&c, consumer, max - 1, None).await {
                            Ok(more) => g.extend(more),
                            Err(e) => got = Err(e),
                        }
                    }
                }
            }
            got
        };
        // Bounded whatever happens to the requests (a server restarting
        // while a pull was asked may never answer it): a worker that
        // waited for ever would judge nothing more. What was handed to
        // this call and dropped comes back after the ack wait.
        let bound = self.opts.timeout * 3 + wait;
        let got = match tokio::time::timeout(bound, pulled).await {
            Ok(got) => got,
            Err(_) => Err(failed(
                format!("JetStream consumer {consumer}"),
                format!("no answer within {} s", bound.as_secs()),
            )),
        };
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                // The consumer may be gone (a server without its store):
                // made again on the next call.
                self.consumers.lock().await.remove(consumer);
                return Err(e);
            }
        };
        if !got.is_empty() {
            let conn = self.conn().await?;
            self.keeper.call_once(|| {
                tokio::spawn(keep_working(
                    Arc::downgrade(&self.held),
                    conn.client.clone(),
                    self.opts.ack_wait,
                    self.opts.max_hold,
                ));
            });
        }
        if self.is_local(consumer) {
            // Nothing to acknowledge (no acks asked of a one-off reader),
            // nothing to keep working on.
            return Ok(got.into_iter().map(|(d, _)| d).collect());
        }
        let now = Instant::now();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let mine = held.entry(consumer.to_string()).or_default();
        Ok(got
            .into_iter()
            .map(|(d, reply)| {
                mine.insert(d.position.0, (reply, now));
                d
            })
            .collect())
    }

    async fn commit(&self, consumer: &str, upto: Position) -> Result<()> {
        vigie_store::check_consumer(consumer)?;
        let records = self.records().await?;
        if upto.0 >= records {
            return Err(StoreError::Invalid(format!(
                "commit of position {} for {consumer}: the log holds {records} records",
                upto.0
            )));
        }
        let done: Vec<Subject> = {
            let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let mine = h.entry(consumer.to_string()).or_default();
            let rest = mine.split_off(&(upto.0 + 1));
            std::mem::replace(mine, rest)
                .into_values()
                .map(|(r, _)| r)
                .collect()
        };
        self.acknowledge(consumer, done).await
    }

    async fn commit_batch(&self, consumer: &str, batch: &[Position]) -> Result<()> {
        vigie_store::check_consumer(consumer)?;
        // Exactly the batch's events: one given again since, below them
        // (another worker's, redelivered), is not judged yet.
        let done: Vec<Subject> = {
            let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let mine = h.entry(consumer.to_string()).or_default();
            let mut positions: Vec<u64> = batch.iter().map(|p| p.0).collect();
            positions.sort_unstable();
            positions
                .into_iter()
                .filter_map(|p| mine.remove(&p).map(|(r, _)| r))
                .collect()
        };
        self.acknowledge(consumer, done).await
    }

    async fn committed(&self, consumer: &str) -> Result<Option<Position>> {
        vigie_store::check_consumer(consumer)?;
        if self.is_local(consumer) {
            return Ok(None);
        }
        let conn = self.conn().await?;
        let what = || format!("JetStream consumer {consumer}");
        let stream = conn
            .js
            .get_stream(&self.opts.stream)
            .await
            .map_err(|e| failed(what(), e))?;
        match stream.consumer_info(consumer).await {
            Ok(info) => Ok(info.ack_floor.stream_sequence.checked_sub(1).map(Position)),
            Err(e) if e.to_string().contains("not found") => Ok(None),
            Err(e) => Err(failed(what(), e)),
        }
    }

    async fn records(&self) -> Result<u64> {
        Ok(self.stream_info().await?.state.last_sequence)
    }

    /// By its stream sequence (the `STREAM.MSG.GET` API): the console's
    /// raw event behind a detection, and a retro-hunt's start by time.
    async fn read_at(&self, position: Position) -> Result<Option<Delivery>> {
        use async_nats::jetstream::stream::RawMessageErrorKind;
        let conn = self.conn().await?;
        let what = || format!("JetStream stream {}", self.opts.stream);
        let stream = conn
            .js
            .get_stream_no_info(&self.opts.stream)
            .await
            .map_err(|e| failed(what(), e))?;
        let got = tokio::time::timeout(self.opts.timeout, stream.get_raw_message(position.0 + 1))
            .await
            .map_err(|e| failed(what(), e))?;
        match got {
            Ok(m) => Ok(Some(stored(
                m.sequence,
                m.subject.as_str(),
                Some(&m.headers),
                &m.payload,
                (m.time.unix_timestamp_nanos() / 1000) as i64,
            ))),
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(failed(what(), e)),
        }
    }

    /// A one-off (local) consumer only: it is made again to start at
    /// `to`'s sequence. A durable one (the workers') is never moved.
    async fn seek(&self, consumer: &str, to: Position) -> Result<bool> {
        vigie_store::check_consumer(consumer)?;
        if !self.is_local(consumer) {
            return Ok(false);
        }
        self.release(consumer).await?;
        self.starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(consumer.to_string(), to.0 + 1);
        Ok(true)
    }

    async fn release(&self, consumer: &str) -> Result<()> {
        vigie_store::check_consumer(consumer)?;
        if self.is_local(consumer) {
            self.starts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(consumer);
            // Its own consumer is dropped: the next read starts again.
            self.held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(consumer);
            if let Some(c) = self.consumers.lock().await.remove(consumer) {
                let conn = self.conn().await?;
                let name = c.cached_info().name.clone();
                let stream = conn
                    .js
                    .get_stream(&self.opts.stream)
                    .await
                    .map_err(|e| failed(format!("JetStream consumer {consumer}"), e))?;
                let _ = stream.delete_consumer(&name).await;
            }
            return Ok(());
        }
        self.nak(consumer).await
    }
}

impl Drop for JetStreamLog {
    /// A clean stop hands what this process held to the other workers at
    /// once (a `kill -9` leaves it to the ack wait).
    fn drop(&mut self) {
        let held: Vec<Subject> = {
            let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
            h.drain()
                .flat_map(|(_, m)| m.into_values().map(|(r, _)| r))
                .collect()
        };
        let (Some(conn), false) = (self.conn.get(), held.is_empty()) else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = conn.client.clone();
        let timeout = self.opts.timeout;
        let nak = async move {
            let _ = tokio::time::timeout(timeout, nak_all(&client, held)).await;
        };
        if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            // Done before the process goes on (and before a successor
            // reads): the ack floor and the redeliveries are then known.
            tokio::task::block_in_place(|| rt.block_on(nak));
        } else {
            rt.spawn(nak);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_user_part() {
        assert_eq!(masked("nats://u:secret@h:4222"), "nats://***@h:4222");
        assert_eq!(masked("nats://tok@h:4222/x"), "nats://***@h:4222/x");
        assert_eq!(masked("nats://h:4222"), "nats://h:4222");
        assert_eq!(
            split_user_part("nats://u:p%40ss@h:4222"),
            (
                "nats://h:4222".to_string(),
                Some(("u".to_string(), Some("p@ss".to_string())))
            )
        );
        assert_eq!(
            split_user_part("nats://tok@h:4222"),
            ("nats://h:4222".to_string(), Some(("tok".to_string(), None)))
        );
        assert_eq!(split_user_part("nats://h:4222").1, None);
        let c = Credentials {
            user: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn tokens_and_headers_keep_what_they_carry() {
        assert_eq!(token("mairie-bénodet"), "mairie-b_nodet");
        assert_eq!(token("a.b>*"), "a_b__");
        assert_eq!(token(""), "_");
        let odd = "50% de\r\nla mairie";
        assert_eq!(unescape(&escape(odd)), odd);
        assert!(!escape(odd).contains(['\r', '\n']));
    }
}
