//! What `vigie serve` is told: the command line and the configuration
//! file map one-to-one onto [`Config`] (crates/cli reads them), and
//! what one process does in a deployment ([`NodeRole`]).

use crate::{actions, health, indicators, tls};

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `vigie serve` is told.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where everything is kept (`--data`).
    pub data: PathBuf,
    /// HTTP listener (`--listen`), loopback by default.
    pub listen: SocketAddr,
    /// The rules, as `hunt` takes them.
    pub hunt: vigie_hunt::HuntConfig,
    /// Largest request body, compressed or not (bytes).
    pub max_body: usize,
    /// Largest body once decompressed (bytes).
    pub max_inflated: usize,
    /// Largest line of JSON Lines, or syslog message (bytes).
    pub max_line: usize,
    /// How long a request body may take to arrive once it holds a slot
    /// (`[limits] body_read_secs`).
    pub body_read: std::time::Duration,
    /// Syslog over UDP (`--syslog-udp`), off unless given.
    pub syslog_udp: Option<SocketAddr>,
    /// Syslog over TCP (`--syslog-tcp`), off unless given.
    pub syslog_tcp: Option<SocketAddr>,
    /// JSON Lines over TCP (`--ndjson-tcp`: NXLog `om_tcp`, OpenWEC), off
    /// unless given.
    pub ndjson_tcp: Option<SocketAddr>,
    /// HTTPS for the HTTP listener (`--tls`, `--tls-cert`/`--tls-key`,
    /// `--no-tls`).
    pub tls: tls::Tls,
    /// Syslog over TLS (`--syslog-tls`, RFC 5425), off unless given.
    pub syslog_tls: Option<SocketAddr>,
    /// JSON Lines over TLS (`--ndjson-tls`: NXLog `om_ssl`), off unless
    /// given.
    pub ndjson_tls: Option<SocketAddr>,
    /// The certificate of the TLS listeners: `--tls-cert`/`--tls-key`
    /// when given (even with `--no-tls`, which is about HTTP), else the
    /// self-signed one under `data/tls/`.
    pub listener_tls: tls::Tls,
    /// Names the self-signed certificate is also made for (`--tls-name`,
    /// `tls_names`): the DNS names shippers are given.
    pub tls_names: Vec<String>,
    /// Senders on the TLS listeners must show a certificate signed by
    /// this CA (`--tls-client-ca`, PEM).
    pub tls_client_ca: Option<PathBuf>,
    /// Client certificates revoked by that CA (`--tls-client-crl`, PEM
    /// CRLs): refused at the handshake. Read again on SIGHUP.
    pub tls_client_crl: Option<PathBuf>,
    /// Which commune each certified sender sends for (`[tls_senders]`:
    /// certificate name = tenant); empty: all `default`'s.
    pub tls_senders: std::collections::BTreeMap<String, String>,
    /// How long and how much of the event log is kept.
    pub retention: vigie_store::embedded::Retention,
    /// The size past which the embedded event log starts a new segment
    /// (`segment_mb` in the configuration file; default
    /// [`vigie_store::embedded::SEGMENT_BYTES`]). Retention removes whole
    /// segments: smaller ones follow the age more closely (a week's events
    /// of a small commune fit in one 64 MB segment).
    pub segment_bytes: u64,
    /// How often retention is applied (`retention_every` in the
    /// configuration file; 10 minutes by default).
    pub retention_every: std::time::Duration,
    /// The JetStream stream's limits: only those given
    /// (`--retention-days`/`--retention-gb` or their keys); a limit not
    /// given stays the operator's (the embedded log's defaults would not
    /// fit a region).
    pub stream_limits: vigie_bus::StreamLimits,
    /// A channel that sent nothing for this long is silent (seconds).
    pub silence_secs: u64,
    /// How far back in event time the live scope keeps process creations
    /// and correlation inputs (`--scope-horizon`, default
    /// [`DEFAULT_SCOPE_HORIZON`]): see [`crate::live`].
    pub scope_horizon: std::time::Duration,
    /// Where alerts are sent (a webhook URL: from the configuration file
    /// or `VIGIE_ALERT_WEBHOOK`, never the command line), off unless given.
    pub alert_webhook: Option<String>,
    /// How long an api node's claim on an alert message lasts (seconds,
    /// `alert_claim_lease_secs`): `None`, derived from the destinations'
    /// timeouts (see `alerts::claim_lease`); never shorter than the
    /// slowest delivery.
    pub alert_claim_lease_secs: Option<u64>,
    /// The SMTP relay alerts are mailed through (`smtp://` or `smtps://`,
    /// credentials in the URL: configuration file or `VIGIE_ALERT_SMTP`
    /// only), off unless given.
    pub alert_smtp: Option<String>,
    /// The sender of alert mails (`--alert-email-from`).
    pub alert_email_from: Option<String>,
    /// Who receives alert mails (`--alert-email-to`, repeatable).
    pub alert_email_to: Vec<String>,
    /// Alerts forwarded as syslog with CEF (`--alert-syslog
    /// udp://HOST:PORT` or `tcp://HOST:PORT`), off unless given.
    pub alert_syslog: Option<String>,
    /// The regional event log: NATS JetStream at this URL (`--bus
    /// nats://HOST:PORT`) instead of the embedded one in `data`.
    pub bus: Option<String>,
    /// The file holding the user and password for `bus`
    /// (`--bus-credentials FILE`, one line `USER:PASSWORD`, mode 0600).
    pub bus_credentials: Option<PathBuf>,
    /// The stream's archive (`--archive DIR`, api or all node with
    /// `bus`): events kept after the stream removed them.
    pub archive: Option<PathBuf>,
    /// How long and how much the archive keeps (`--archive-days`,
    /// `--archive-gb`).
    pub archive_policy: vigie_store::archive::ArchivePolicy,
    /// How long an event given to a detection worker of `bus` stays its
    /// own before another gets it (`--bus-ack-wait`, seconds): how long a
    /// dead worker's events wait.
    pub bus_ack_wait: u64,
    /// The regional detection store: PostgreSQL at this URL (`--db
    /// postgres://USER@HOST:PORT/DB`) instead of `data/detections.jsonl`.
    pub db: Option<String>,
    /// What this process does (`--role`, default `all`).
    pub role: NodeRole,
    /// Containment (`[respond]`: the responders' addresses, the directory).
    pub respond: actions::RespondConfig,
    /// Indicator feeds polled (`--ioc-feed`, `ioc_feeds`), with their
    /// credentials (never printed: see [`indicators::feeds::Feed`]).
    pub ioc_feeds: Vec<indicators::feeds::Feed>,
    /// How often they are polled (`--ioc-poll`, default 1 h).
    pub ioc_poll: std::time::Duration,
    /// What bounds a retro-hunt (`[retrohunt]` of the file).
    pub retrohunt: crate::retrohunt::Limits,
}

/// What one `vigie serve` process does in a deployment (`--role`). Not
/// a person's role (that is `vigie_access::Role`): a node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Everything: one commune's server.
    #[default]
    All,
    /// Takes events (HTTP, syslog, NDJSON) and appends them to the log.
    Ingest,
    /// Judges the log's events and stores the detections (several share
    /// the log's `detect` consumer).
    Detect,
    /// Answers reads from the detection store.
    Api,
}

impl NodeRole {
    const ALL: [NodeRole; 4] = [
        NodeRole::All,
        NodeRole::Ingest,
        NodeRole::Detect,
        NodeRole::Api,
    ];

    /// The key, as in `--role` and the configuration file.
    pub fn key(self) -> &'static str {
        match self {
            NodeRole::All => "all",
            NodeRole::Ingest => "ingest",
            NodeRole::Detect => "detect",
            NodeRole::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<NodeRole> {
        NodeRole::ALL.into_iter().find(|r| r.key() == s)
    }

    /// Takes events.
    pub fn ingests(self) -> bool {
        matches!(self, NodeRole::All | NodeRole::Ingest)
    }

    /// Runs the detection worker.
    pub fn detects(self) -> bool {
        matches!(self, NodeRole::All | NodeRole::Detect)
    }
}

impl Config {
    pub fn new(data: PathBuf) -> Config {
        Config {
            data,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            hunt: vigie_hunt::HuntConfig::default(),
            max_body: 32 << 20,
            max_inflated: 256 << 20,
            max_line: 1 << 20,
            body_read: crate::http::BODY_READ,
            syslog_udp: None,
            syslog_tcp: None,
            ndjson_tcp: None,
            alert_webhook: None,
            alert_claim_lease_secs: None,
            alert_smtp: None,
            alert_email_from: None,
            alert_email_to: Vec::new(),
            alert_syslog: None,
            silence_secs: health::SILENCE_SECS,
            scope_horizon: DEFAULT_SCOPE_HORIZON,
            tls: tls::Tls::Off,
            syslog_tls: None,
            ndjson_tls: None,
            listener_tls: tls::Tls::SelfSigned,
            tls_names: Vec::new(),
            tls_client_ca: None,
            tls_client_crl: None,
            tls_senders: Default::default(),
            retention: DEFAULT_RETENTION,
            segment_bytes: vigie_store::embedded::SEGMENT_BYTES,
            retention_every: std::time::Duration::from_secs(600),
            stream_limits: vigie_bus::StreamLimits {
                max_age_secs: None,
                max_bytes: None,
            },
            bus: None,
            bus_credentials: None,
            archive: None,
            archive_policy: DEFAULT_ARCHIVE,
            bus_ack_wait: 60,
            db: None,
            role: NodeRole::All,
            respond: actions::RespondConfig::default(),
            ioc_feeds: Vec::new(),
            ioc_poll: std::time::Duration::from_secs(3600),
            retrohunt: crate::retrohunt::Limits::default(),
        }
    }
}

/// The live scope keeps 48 hours of event time of process creations
/// (and 48 hours past the longest correlation window of correlation
/// inputs) by default.
///
/// Why 48 hours: what reads process creations is the parent chain of a
/// process of interest (kept whatever its age, see
/// [`vigie_scope::Observer::forget_older_than`]) and the parent of a new
/// process, looked up when it starts. A parent that started nothing for
/// two days is a rare one to start an attacker's process (a workstation's
/// session, its explorer.exe, starts programs every day and stays), a
/// weekend included; and a log arriving two days late still correlates
/// as `hunt` would. A commune's week then holds about two sevenths of its
/// process creations, and a year the same.
pub const DEFAULT_SCOPE_HORIZON: std::time::Duration = std::time::Duration::from_secs(48 * 3600);

/// The event log keeps 90 days and at most 20 GiB by default: a week of
/// a commune of 20,000 residents (the demo's week scale) is about 1.5 GB,
/// so a quarter fits; the disk is never filled without bound.
pub const DEFAULT_RETENTION: vigie_store::embedded::Retention = vigie_store::embedded::Retention {
    max_age: Some(std::time::Duration::from_secs(90 * 24 * 3600)),
    max_bytes: Some(20 << 30),
};

/// The archive keeps a year and at most 500 GiB by default (a region's
/// year of events, compressed about tenfold, is a few TB at 100,000
/// events/s: the operator sizes it, the default never fills a disk
/// unseen).
pub const DEFAULT_ARCHIVE: vigie_store::archive::ArchivePolicy =
    vigie_store::archive::ArchivePolicy {
        max_age: Some(std::time::Duration::from_secs(365 * 24 * 3600)),
        max_bytes: 500 << 30,
    };
