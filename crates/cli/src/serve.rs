//! `vigie serve` and `vigie token`: thin wrappers around `vigie-serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use vigie_serve::file::ServeFile;
use vigie_serve::tokens::{self, Scope, TokenStore};

use crate::RuleArgs;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where the event log, the detections and the tokens are kept
    /// (default: the --config file's `data`, else
    /// $VIGIE_DATA_DIR/serve or ~/.local/share/vigie/serve).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// HTTP address to listen on (default 127.0.0.1:8080; port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Serve HTTPS with a self-signed certificate made at the first run
    /// (DATA/tls/), its fingerprint printed (default off loopback).
    #[arg(long, conflicts_with = "no_tls")]
    pub tls: bool,
    /// Serve HTTPS with this certificate (PEM; with --tls-key).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "no_tls"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Plain HTTP even off loopback (behind a TLS reverse proxy).
    #[arg(long)]
    pub no_tls: bool,
    /// A TOML file whose keys are these options' long names (`_` for `-`);
    /// an option given here wins over the file (docs/serve.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also receive syslog over UDP here (RFC 3164/5424; e.g. 0.0.0.0:514).
    #[arg(long, value_name = "ADDR")]
    pub syslog_udp: Option<SocketAddr>,
    /// Also receive syslog over TCP here (RFC 6587 octet counting or LF framing).
    #[arg(long, value_name = "ADDR")]
    pub syslog_tcp: Option<SocketAddr>,
    /// Also receive JSON Lines over TCP here (NXLog om_tcp with to_json(), OpenWEC's TCP output).
    #[arg(long, value_name = "ADDR")]
    pub ndjson_tcp: Option<SocketAddr>,
    /// Also receive syslog over TLS here (RFC 5425; e.g. 0.0.0.0:6514), with
    /// --tls-cert's certificate or the self-signed one of DATA/tls/.
    #[arg(long, value_name = "ADDR")]
    pub syslog_tls: Option<SocketAddr>,
    /// Also receive JSON Lines over TLS here (NXLog om_ssl).
    #[arg(long, value_name = "ADDR")]
    pub ndjson_tls: Option<SocketAddr>,
    /// Senders on --syslog-tls and --ndjson-tls must show a client
    /// certificate signed by this CA (PEM); each is named by it.
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Client certificates that CA revoked (PEM CRLs) are refused; read
    /// again with the certificates on SIGHUP (`systemctl reload vigie`).
    #[arg(long, value_name = "FILE")]
    pub tls_client_crl: Option<PathBuf>,
    /// A name the self-signed certificate is also made for (repeat it):
    /// the DNS name shippers are given, e.g. vigie.mairie.local (the
    /// machine's name and addresses are in it already).
    #[arg(long = "tls-name", value_name = "NAME")]
    pub tls_names: Vec<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// The organisation's assets file (hosts, zones, services, accounts), for the live scope;
    /// a directory: one file per commune, DIR/<tenant>.yml (default.yml: the tenant default's).
    #[arg(long, value_name = "FILE|DIR")]
    pub assets: Option<PathBuf>,
    /// Indicators of compromise matched on every event beside the rules
    /// (repeatable), as `vigie hunt --ioc` takes them; read at start.
    #[arg(long, value_name = "FILE|DIR|URL")]
    pub ioc: Vec<String>,
    /// An indicator feed polled on a schedule (repeatable): a STIX, MISP,
    /// CSV or list document over HTTP(S), fetched again when it changes
    /// (ETag, Last-Modified); a MISP feed (`misp+https://HOST/PATH/` or
    /// `https://…/manifest.json`: only the events changed are fetched); a
    /// TAXII 2.1 collection (`taxii+https://HOST/ROOT/collections/ID/`:
    /// only the objects added since). Credentials, and a URL holding a
    /// key, only in the --config file (`ioc_feeds`): never printed.
    #[arg(long, value_name = "URL")]
    pub ioc_feed: Vec<String>,
    /// How often the feeds are polled: `90s`, `30m`, `1h` (default 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_every)]
    pub ioc_poll: Option<std::time::Duration>,
    #[command(flatten)]
    pub speech: crate::SpeechArgs,
    /// Zone of times the logs write without one (NXLog's EventTime, RFC 3164
    /// syslog headers), as `vigie hunt --input-timezone`.
    #[arg(long, value_name = "ZONE", value_parser = crate::parse_zone)]
    pub input_timezone: Option<vigie_lang::Zone>,
    /// A host's channel that sent nothing for this long is silent, and
    /// alerted (default 60).
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub silence_minutes: Option<u64>,
    /// How far back in event time the live scope keeps process creations
    /// (those of a detected process's lineage stay) and correlation
    /// inputs: `48h`, `7d` (default 48h; docs/serve.md, "The live scope").
    #[arg(long, value_name = "DURATION", value_parser = parse_horizon)]
    pub scope_horizon: Option<std::time::Duration>,
    /// Alerts are also mailed to this address (repeatable), through the
    /// relay of the --config file's `alert_smtp` (or VIGIE_ALERT_SMTP).
    #[arg(long, value_name = "ADDRESS")]
    pub alert_email_to: Vec<String>,
    /// The sender of alert mails (default vigie@localhost).
    #[arg(long, value_name = "ADDRESS")]
    pub alert_email_from: Option<String>,
    /// Alerts are also forwarded as syslog (RFC 5424) with a CEF payload,
    /// to a SIEM or collector: udp://HOST:PORT or tcp://HOST:PORT.
    #[arg(long, value_name = "URL")]
    pub alert_syslog: Option<String>,
    /// Events received longer ago are removed from the event log (default
    /// 90; 0: no limit by age). Detections stay.
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u64>,
    /// The event log is kept under this size, oldest removed first
    /// (default 20; 0: no limit by size). Events not judged yet stay.
    #[arg(long, value_name = "GB")]
    pub retention_gb: Option<u64>,
    /// The regional event log: NATS JetStream at this URL (nats://HOST:PORT)
    /// instead of the embedded one in --data (docs/regional.md).
    #[arg(long, value_name = "URL")]
    pub bus: Option<String>,
    /// With --bus: the file holding the NATS user and password (one line
    /// USER:PASSWORD, readable by its owner only); never in the URL of
    /// the command line.
    #[arg(long, value_name = "FILE")]
    pub bus_credentials: Option<PathBuf>,
    /// With --bus, on an api (or all) node: every event of the stream is
    /// also kept in compressed day partitions in this directory, read by
    /// retro-hunts, searches and detection pages once the stream no
    /// longer holds it (docs/regional.md).
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// With --archive: partitions whose newest event was received longer
    /// ago are removed (default 365; 0: no limit by age).
    #[arg(long, value_name = "DAYS")]
    pub archive_days: Option<u64>,
    /// With --archive: the archive is kept under this size, oldest day
    /// removed first (default 500; never unbounded, 0 is refused).
    #[arg(long, value_name = "GB")]
    pub archive_gb: Option<u64>,
    /// With --bus: how long an event given to a detect worker stays its own
    /// before another gets it (default 60; longer than a batch takes).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub bus_ack_wait: Option<u64>,
    /// The regional detection store: PostgreSQL at this URL
    /// (postgres://USER@HOST:PORT/DB; a password only in the --config file).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// What this process does: all (default), ingest (takes events),
    /// detect (judges the log's events; several share the work) or api
    /// (answers reads from --db).
    #[arg(long, value_name = "ROLE", value_parser = ["all", "ingest", "detect", "api"])]
    pub role: Option<String>,
}

/// The largest retro-hunt answer `vigie retrohunt` reads (bytes).
const RETROHUNT_ANSWER_MAX: u64 = 1 << 30;

/// Caps glibc's malloc at [`ARENAS`] arenas for the long-running server,
/// unless `MALLOC_ARENA_MAX` says otherwise.
///
/// Why: glibc gives threads that allocate at the same time their own arena
/// (up to eight per core), and memory freed in one is kept for that arena.
/// The server's ingest, judging and answering threads each build and free
/// large tables, so the process kept growing with freed memory. Replaying
/// the demo's week on a quiet machine (docs/benchmarks.md): peak 346–395
/// MiB with the default arenas, 268–280 with four, 237–250 with two — but
/// two cost judging about a tenth of its speed (threads waiting on an
/// arena), four nothing measurable. `hunt` is not changed: it lives
/// seconds, and what it frees is returned when it ends.
const ARENAS: i32 = 4;

fn fewer_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets a parameter of the allocator; it is
        // called before the server starts its threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    fewer_arenas();
    let file = match &args.config {
        Some(path) => match ServeFile::load(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("vigie: error: --config {e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => ServeFile::default(),
    };
    let config = match merge(&args, &file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vigie: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(vigie_serve::serve(config, |url| {
        // On stderr, for people and for scripts that asked for port 0.
        eprintln!("vigie serve: listening on {url}");
    }))
    .map_err(|e| anyhow!("{e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Where `serve` and `token create` keep everything when `--data` is not
/// given: `$VIGIE_DATA_DIR/serve`, else the user's data directory
/// (`~/.local/share/vigie/serve`) — a first run from a fresh clone works
/// without choosing; a service gives `data` in its configuration file.
fn default_data() -> Option<PathBuf> {
    vigie_rules::sigmahq::data_dir().map(|d| d.join("serve"))
}

/// A `--db` URL of the command line: refused with a password in it (every
/// user of the machine reads a command line), whether as `user:password@`
/// or `?password=`; the error does not repeat it.
pub fn no_password_in_argv(url: &str) -> Result<(), String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let userinfo = rest.rsplit_once('@').map(|(u, _)| u);
    let in_query = rest.split_once('?').is_some_and(|(_, q)| {
        q.split('&')
            .any(|kv| kv.to_ascii_lowercase().starts_with("password"))
    });
    if userinfo.is_some_and(|u| u.contains(':')) || in_query {
        return Err(
            "--db: no password on the command line (every user of the machine reads it): put the URL in the --config file's `db` key, or the password in PGPASSWORD or the password file".into(),
        );
    }
    Ok(())
}

/// A `--bus` URL of the command line: refused with a user part (a user
/// and password, or a token: a secret either way, and every user of the
/// machine reads a command line); the error does not repeat it.
pub fn no_secret_in_bus_url(url: &str) -> Result<(), String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_part = rest.split_once('/').map_or(rest, |(h, _)| h);
    if host_part.contains('@') {
        return Err(
            "--bus: no user, password or token in the URL on the command line (every user of the machine reads it): give --bus-credentials FILE (one line USER:PASSWORD, chmod 0600), or the URL in the --config file's `bus` key".into(),
        );
    }
    Ok(())
}

/// The options, the file's keys where an option is not given, the
/// defaults where neither says.
fn merge(args: &ServeArgs, file: &ServeFile) -> Result<vigie_serve::Config, String> {
    let data = args
        .data
        .clone()
        .or_else(|| file.data.clone())
        .or_else(default_data)
        .ok_or("--data DIR is required (or `data` in the --config file): no home directory to keep it in")?;
    let mut config = vigie_serve::Config::new(data);
    file.limit(&mut config);
    if let Some(listen) = args.listen.or(file.listen) {
        config.listen = listen;
    }
    config.tls = {
        let cert = args.tls_cert.clone().or_else(|| file.tls_cert.clone());
        let key = args.tls_key.clone().or_else(|| file.tls_key.clone());
        let no_tls = args.no_tls || file.no_tls;
        if let (Some(cert), Some(key)) = (&cert, &key) {
            config.listener_tls = vigie_serve::tls::Tls::Given {
                cert: cert.clone(),
                key: key.clone(),
            };
        }
        match (cert, key) {
            (Some(cert), Some(key)) if !no_tls => vigie_serve::tls::Tls::Given { cert, key },
            (Some(_), None) | (None, Some(_)) => {
                return Err("tls_cert and tls_key go together".into());
            }
            _ if no_tls => vigie_serve::tls::Tls::Off,
            _ if args.tls || file.tls || !config.listen.ip().is_loopback() => {
                vigie_serve::tls::Tls::SelfSigned
            }
            _ => vigie_serve::tls::Tls::Off,
        }
    };
    if let Some(url) = &args.bus {
        if !url.starts_with("nats://") {
            return Err(format!(
                "--bus {:?}: a nats://HOST:PORT URL",
                vigie_bus::masked(url)
            ));
        }
        no_secret_in_bus_url(url)?;
    }
    if let Some(url) = &args.db {
        no_password_in_argv(url)?;
    }
    config.bus = args.bus.clone().or_else(|| file.bus.clone());
    config.bus_credentials = args
        .bus_credentials
        .clone()
        .or_else(|| file.bus_credentials.clone());
    config.db = args.db.clone().or_else(|| file.db.clone());
    if let Some(w) = args.bus_ack_wait.or(file.bus_ack_wait) {
        config.bus_ack_wait = w.max(1);
    }
    config.role = match &args.role {
        Some(r) => vigie_serve::NodeRole::parse(r).ok_or(format!("--role {r}"))?,
        None => file.role.unwrap_or_default(),
    };
    if let Some(url) = &config.db {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("db: a postgres://USER@HOST:PORT/DB URL".into());
        }
    }
    config.syslog_udp = args.syslog_udp.or(file.syslog_udp);
    config.syslog_tcp = args.syslog_tcp.or(file.syslog_tcp);
    config.ndjson_tcp = args.ndjson_tcp.or(file.ndjson_tcp);
    config.syslog_tls = args.syslog_tls.or(file.syslog_tls);
    config.ndjson_tls = args.ndjson_tls.or(file.ndjson_tls);
    config.tls_client_ca = args
        .tls_client_ca
        .clone()
        .or_else(|| file.tls_client_ca.clone());
    if config.tls_client_ca.is_some() && config.syslog_tls.is_none() && config.ndjson_tls.is_none()
    {
        return Err("tls_client_ca is for syslog_tls and ndjson_tls: give one of them".into());
    }
    config.tls_client_crl = args
        .tls_client_crl
        .clone()
        .or_else(|| file.tls_client_crl.clone());
    config.tls_senders = file.tls_senders.clone();
    config.tls_names = if args.tls_names.is_empty() {
        file.tls_names.clone()
    } else {
        args.tls_names.clone()
    };
    if config.tls_client_ca.is_none()
        && (config.tls_client_crl.is_some() || !config.tls_senders.is_empty())
    {
        return Err(
            "tls_client_crl and tls_senders are about client certificates: give tls_client_ca"
                .into(),
        );
    }
    for (name, tenant) in &config.tls_senders {
        let fits = |t: &str| {
            !t.is_empty()
                && t.len() <= 64
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        };
        // The former rule for both (a stricter one for tenants would
        // stop a configuration that started before); new tenants are
        // checked where their tokens and accounts are made.
        if !fits(name) || !fits(tenant) {
            return Err(format!(
                "tls_senders: {name:?} = {tenant:?}: a certificate name and a tenant are 1 to 64 letters, digits, '.', '-' or '_' (a certificate's name as the sources page shows it)"
            ));
        }
    }
    config.stream_limits = vigie_bus::StreamLimits {
        max_age_secs: args
            .retention_days
            .or(file.retention_days)
            .map(|d| d.saturating_mul(24 * 3600)),
        max_bytes: args
            .retention_gb
            .or(file.retention_gb)
            .map(|g| g.saturating_mul(1 << 30)),
    };
    let archive_days = args.archive_days.or(file.archive_days);
    let archive_gb = args.archive_gb.or(file.archive_gb);
    config.archive = args.archive.clone().or(file.archive.clone());
    if config.archive.is_none() && (archive_days.is_some() || archive_gb.is_some()) {
        return Err(
            "archive_days and archive_gb are the archive's limits: give --archive DIR".into(),
        );
    }
    if archive_gb == Some(0) {
        return Err("archive_gb: at least 1 (the archive is never unbounded)".into());
    }
    if let Some(d) = archive_days {
        config.archive_policy.max_age =
            (d > 0).then(|| std::time::Duration::from_secs(d.saturating_mul(24 * 3600)));
    }
    if let Some(g) = archive_gb {
        config.archive_policy.max_bytes = g.saturating_mul(1 << 30);
    }
    if let Some(d) = args.retention_days.or(file.retention_days) {
        config.retention.max_age = (d > 0).then(|| std::time::Duration::from_secs(d * 24 * 3600));
    }
    if let Some(g) = args.retention_gb.or(file.retention_gb) {
        config.retention.max_bytes = (g > 0).then_some(g << 30);
    }
    if let Some(m) = file.segment_mb {
        if !(1..=1024).contains(&m) {
            return Err(format!("segment_mb: {m}: from 1 to 1024 (MB)"));
        }
        config.segment_bytes = m << 20;
    }
    if let Some(e) = &file.retention_every {
        config.retention_every = parse_every(e)
            .and_then(|d| {
                (d <= std::time::Duration::from_secs(86_400))
                    .then_some(d)
                    .ok_or_else(|| format!("{e:?}: at most 1d"))
            })
            .map_err(|e| format!("retention_every in the --config file: {e}"))?;
    }
    if let Some(m) = args.silence_minutes.or(file.silence_minutes) {
        if m == 0 {
            return Err("silence_minutes: at least 1".into());
        }
        config.silence_secs = m * 60;
    }
    config.alert_claim_lease_secs = file.alert_claim_lease_secs;
    if let Some(h) = args.scope_horizon {
        config.scope_horizon = h;
    } else if let Some(h) = &file.scope_horizon {
        config.scope_horizon =
            parse_horizon(h).map_err(|e| format!("scope_horizon in the --config file: {e}"))?;
    }
    config.alert_webhook = file
        .alert_webhook
        .clone()
        .or_else(|| std::env::var("VIGIE_ALERT_WEBHOOK").ok())
        .filter(|u| !u.trim().is_empty());
    if let Some(u) = &config.alert_webhook {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err("alert_webhook: an http:// or https:// URL".into());
        }
    }
    config.alert_smtp = file
        .alert_smtp
        .clone()
        .or_else(|| std::env::var("VIGIE_ALERT_SMTP").ok())
        .filter(|u| !u.trim().is_empty());
    config.alert_email_from = args
        .alert_email_from
        .clone()
        .or_else(|| file.alert_email_from.clone());
    config.alert_email_to = if args.alert_email_to.is_empty() {
        file.alert_email_to.clone()
    } else {
        args.alert_email_to.clone()
    };
    config.alert_syslog = args
        .alert_syslog
        .clone()
        .or_else(|| file.alert_syslog.clone());
    let mut rules = args.rules.clone();
    if rules.rules.is_empty() {
        rules.rules = file.rules.clone();
    }
    rules.no_builtin |= file.no_builtin;
    rules.no_sigmahq |= file.no_sigmahq;
    if rules.status.is_empty() {
        for s in &file.status {
            if !vigie_detect::STATUSES.contains(&s.as_str()) {
                return Err(format!(
                    "status {s:?} in the --config file: one of {}",
                    vigie_detect::STATUSES.join(", ")
                ));
            }
        }
        rules.status = file.status.clone();
    }
    if rules.placeholders.is_none() {
        if let Some(p) = &file.placeholders {
            rules.placeholders = Some(
                vigie_detect::Placeholders::load(p)
                    .map_err(|e| format!("placeholders {}: {}", p.display(), e.reason))?,
            );
        }
    }
    config.hunt.rules = rules.sources();
    config.hunt.load = rules.load_options();
    if rules.min_level.is_none() {
        config.hunt.load.min_level = file.min_level;
    }
    config.hunt.assets = args.assets.clone().or_else(|| file.assets.clone());
    config.respond = file.respond.clone();
    config.hunt.ioc = if args.ioc.is_empty() {
        file.ioc.clone()
    } else {
        args.ioc.clone()
    };
    // Credentials only from the file (or the environment and files it
    // names): the command line is readable by every user of the machine.
    config.ioc_feeds = if args.ioc_feed.is_empty() {
        file.ioc_feeds
            .iter()
            .map(vigie_serve::indicators::feeds::Feed::from_entry)
            .collect::<Result<_, _>>()?
    } else {
        args.ioc_feed
            .iter()
            .map(|u| {
                if vigie_intel::http::has_credentials(u) {
                    return Err(format!(
                        "--ioc-feed {}: a URL holding a credential is not taken on the command line (every user of the machine reads it): give it in the --config file, `[[ioc_feeds]]` with `url` and `auth` + `secret_file` (or `secret_env`)",
                        vigie_intel::http::redact_url(u)
                    ));
                }
                vigie_serve::indicators::feeds::Feed::new(u, vigie_intel::Auth::None, None)
            })
            .collect::<Result<_, _>>()?
    };
    if let Some(every) = args.ioc_poll {
        config.ioc_poll = every;
    } else if let Some(e) = &file.ioc_poll {
        config.ioc_poll =
            parse_every(e).map_err(|e| format!("ioc_poll in the --config file: {e}"))?;
    }
    let mut speech = args.speech.clone();
    if speech.lang.is_none() {
        if let Some(l) = &file.lang {
            speech.lang =
                Some(crate::parse_lang(l).map_err(|e| format!("lang in the --config file: {e}"))?);
        }
    }
    if speech.timezone.is_none() {
        if let Some(z) = &file.timezone {
            speech.timezone = Some(
                crate::parse_zone(z).map_err(|e| format!("timezone in the --config file: {e}"))?,
            );
        }
    }
    // French when no locale is set (a service's usual case), not the
    // command line's English (vigie_lang::Lang::for_service).
    let lang = vigie_lang::Lang::for_service(speech.lang);
    let speech = speech.speech();
    config.hunt.lang = lang;
    config.hunt.zone = speech.zone;
    config.hunt.read.input_zone = match (args.input_timezone, &file.input_timezone) {
        (Some(z), _) => Some(z),
        (None, Some(z)) => Some(
            crate::parse_zone(z)
                .map_err(|e| format!("input_timezone in the --config file: {e}"))?,
        ),
        (None, None) => None,
    };
    Ok(config)
}

/// A duration as people write it: `90s`, `30m`, `1h`, `2d` (seconds
/// without a unit); at least 1 second.
fn parse_every(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: a number and a unit (90s, 30m, 1h, 2d)"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?}: a number and a unit (90s, 30m, 1h, 2d)")),
    };
    if secs == 0 {
        return Err(format!("{s:?}: at least 1 second"));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// The live scope's horizon: a duration as [`parse_every`] reads it, at
/// least an hour (shorter, a parent that started a program an hour ago
/// would already be forgotten, and late logs not correlated).
fn parse_horizon(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_every(s)?;
    if d < std::time::Duration::from_secs(3600) {
        return Err(format!("{s:?}: at least 1h"));
    }
    Ok(d)
}

#[derive(Subcommand, Debug, Clone)]
pub enum TokenCommand {
    /// Create an access token and print it (only here, only once) on stdout.
    Create {
        /// Where the tokens are: --data DIR (default as for `vigie
        /// serve`), or the regional deployment's --db URL.
        #[command(flatten)]
        at: crate::user::StoreArgs,
        /// ingest (send events), read (detections, statistics) or admin.
        #[arg(long, value_name = "SCOPE")]
        scope: String,
        /// A name to tell tokens apart (a shipper, a person).
        #[arg(long, default_value = "token")]
        name: String,
        /// The commune it belongs to (default: the deployment's own,
        /// `default`). Given more than once, with `--scope read`: a
        /// token reading those communes and no other (a CSIRT's script);
        /// an ingest or admin token is of one commune.
        #[arg(long, value_name = "NAME")]
        tenant: Vec<String>,
    },
    /// List the tokens (TSV: id, name, scope, tenant — the communes of a
    /// token of several, comma-separated —, created, revoked);
    /// the tokens themselves are not kept, only their hash.
    List {
        #[command(flatten)]
        at: crate::user::StoreArgs,
    },
    /// Revoke a token by its id (the first column of `vigie token list`):
    /// it opens nothing from the server's next request on (within a few
    /// seconds on every node, with --db).
    Revoke {
        /// The token's id.
        id: String,
        #[command(flatten)]
        at: crate::user::StoreArgs,
    },
}

/// The token store `at` names.
fn token_store(at: &crate::user::Kept) -> Result<Box<dyn TokenStore>> {
    Ok(match at {
        crate::user::Kept::Data(data) => {
            let (store, n) = tokens::DbTokens::embedded(data).map_err(|e| anyhow!(e))?;
            if n > 0 {
                eprintln!(
                    "vigie: {n} token(s) of {}/tokens.jsonl imported into {}",
                    data.display(),
                    store.place()
                );
            }
            Box::new(store)
        }
        crate::user::Kept::Db(url) => {
            Box::new(tokens::DbTokens::open(url).map_err(|e| anyhow!(e))?)
        }
    })
}

/// Says on stderr a commune no token names yet, with the communes the
/// tokens name: a typo (`fousnant` for `fouesnant`) would otherwise file
/// a shipper's events under a commune nobody reads, silently. Not
/// refused: the first token of a new commune is how a commune is made.
fn new_commune_said(store: &dyn TokenStore, tenant: &str) {
    let Ok(all) = store.list() else {
        return;
    };
    let known: std::collections::BTreeSet<&str> = all
        .iter()
        .filter(|r| r.revoked.is_none())
        .flat_map(|r| r.tenant.split(','))
        .filter(|t| *t != "default")
        .collect();
    let new: Vec<&str> = tenant
        .split(',')
        .filter(|t| *t != "default" && !known.contains(t))
        .collect();
    if new.is_empty() {
        return;
    }
    let listed: Vec<&str> = known.iter().take(50).copied().collect();
    eprintln!(
        "vigie: warning: no token names the commune{} {} yet: a new commune{}. The communes the tokens name: {}{}. If it is a typo, revoke this token (vigie token list, vigie token revoke ID).",
        if new.len() > 1 { "s" } else { "" },
        new.join(", "),
        if new.len() > 1 { "s" } else { "" },
        if listed.is_empty() { "none but default".to_string() } else { listed.join(", ") },
        if known.len() > 50 { format!(" (+{})", known.len() - 50) } else { String::new() },
    );
}

pub fn run_token(cmd: TokenCommand) -> Result<ExitCode> {
    let at = match &cmd {
        TokenCommand::Create { at, .. }
        | TokenCommand::List { at }
        | TokenCommand::Revoke { at, .. } => at,
    };
    let kept = match at.kept(default_data()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("vigie: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    match cmd {
        TokenCommand::Create {
            scope,
            name,
            tenant,
            ..
        } => {
            let Some(scope) = Scope::parse(&scope) else {
                eprintln!("vigie: error: --scope {scope:?}: ingest, read or admin");
                return Ok(ExitCode::from(2));
            };
            let tenant = match tokens::tenant_of(&tenant, scope) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("vigie: error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let store = token_store(&kept)?;
            new_commune_said(store.as_ref(), &tenant);
            let token = store.create(&name, scope, &tenant)?;
            // The audit line names the communes of a token not the
            // deployment's own.
            let scope = format!("{scope:?}").to_lowercase();
            let target = if tenant == "default" {
                format!("{name} ({scope})")
            } else {
                format!("{name} ({scope}, tenant {tenant})")
            };
            kept.record(
                vigie_console::audit::Action::TokenCreate,
                &target,
                vigie_console::audit::Outcome::Success,
            )?;
            // Where it was kept, on stderr: stdout is the token alone
            // (scripts take it as is).
            eprintln!(
                "vigie: token {name:?} ({scope}, tenant {tenant}) kept in {}",
                store.place()
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { .. } => {
            let all = token_store(&kept)?.list().map_err(|e| anyhow!(e))?;
            println!("id\tname\tscope\ttenant\tcreated\trevoked");
            for r in &all {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    r.id(),
                    r.name,
                    format!("{:?}", r.scope).to_lowercase(),
                    r.tenant,
                    r.created,
                    r.revoked
                        .as_ref()
                        .map_or(String::new(), |x| format!("{} by {}", x.time, x.by))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id, .. } => {
            match token_store(&kept)?.revoke(&id, &crate::user::cli_who()) {
                Ok(r) => {
                    kept.record(
                        vigie_console::audit::Action::TokenRevoke,
                        &format!("{} ({})", r.name, r.id()),
                        vigie_console::audit::Outcome::Success,
                    )?;
                    eprintln!("vigie: token {} ({}) revoked", r.id(), r.name);
                    Ok(ExitCode::SUCCESS)
                }
                Err(tokens::RevokeError::Unknown(m)) => {
                    eprintln!("vigie: error: {m}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(anyhow::anyhow!(e)),
            }
        }
    }
}

/// `vigie retrohunt`: asks a running server (the event log is its own).
#[derive(Args, Debug, Clone)]
pub struct RetrohuntArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Sigma rule file or directory (repeatable; .yml and .yaml files).
    #[arg(long = "rules", value_name = "PATH", required = true)]
    pub rules: Vec<PathBuf>,
    /// Only events from this time on (RFC 3339, e.g. 2026-01-10T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Only events up to this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Another tenant's events (an admin token's).
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
    /// The time budget (seconds; at most, and by default, the server's
    /// `[retrohunt] max_seconds`, 600 unless set): a run that spends it
    /// stops and says where.
    #[arg(long, value_name = "SECONDS")]
    pub max_seconds: Option<f64>,
    /// Continue a stopped run: read from this log position (the
    /// position it printed) on.
    #[arg(long, value_name = "POSITION")]
    pub from_position: Option<u64>,
    /// A file holding the admin token (else the VIGIE_TOKEN environment
    /// variable: a token is never given on the command line).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// The rule files of `paths`, in order (directories walked, sorted).
fn rule_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            inner.sort();
            let (dirs, files): (Vec<_>, Vec<_>) = inner.into_iter().partition(|p| p.is_dir());
            out.extend(
                files
                    .into_iter()
                    .filter(|f| f.extension().is_some_and(|x| x == "yml" || x == "yaml")),
            );
            out.extend(rule_files(&dirs)?);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Prints the detections (JSON Lines, stdout) and the summary (stderr).
/// Exit 1 when something was found, 0 when not, 2 when it could not run
/// or the range held no event of the tenant, 3 when nothing was found in
/// a run stopped before the end (its time budget spent).
pub fn run_retrohunt(args: RetrohuntArgs) -> Result<ExitCode> {
    let token = match &args.token_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| anyhow!("--token-file {}: {e}", f.display()))?
            .trim()
            .to_string(),
        None => std::env::var("VIGIE_TOKEN").unwrap_or_default(),
    };
    if token.is_empty() {
        eprintln!("vigie: error: a token is needed: --token-file FILE or VIGIE_TOKEN");
        return Ok(ExitCode::from(2));
    }
    // Each file with its name, so that a refused rule is named
    // `FILE#DOCUMENT` as `vigie rules check` names it.
    let mut files = Vec::new();
    for f in rule_files(&args.rules).map_err(|e| anyhow!("--rules: {e}"))? {
        let text = std::fs::read_to_string(&f).map_err(|e| anyhow!("{}: {e}", f.display()))?;
        files.push(serde_json::json!({ "name": f.display().to_string(), "text": text }));
    }
    let mut body = serde_json::json!({ "rule_files": files });
    for (key, value) in [("from", &args.from), ("to", &args.to)] {
        if let Some(v) = value {
            if chrono::DateTime::parse_from_rfc3339(v).is_err() {
                eprintln!("vigie: error: --{key} {v:?}: an RFC 3339 time (2026-01-10T00:00:00Z)");
                return Ok(ExitCode::from(2));
            }
            body[key] = serde_json::json!(v);
        }
    }
    if let Some(m) = args.max_seconds {
        if !(m.is_finite() && m > 0.0) {
            eprintln!("vigie: error: --max-seconds {m}: a number of seconds above 0");
            return Ok(ExitCode::from(2));
        }
        body["max_seconds"] = serde_json::json!(m);
    }
    if let Some(p) = args.from_position {
        body["from_position"] = serde_json::json!(p);
    }
    let mut url = format!("{}/api/v1/retrohunt", args.server.trim_end_matches('/'));
    if let Some(t) = &args.tenant {
        url.push_str(&format!("?tenant={}", percent_encode(t)));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = match agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(&body)
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vigie: error: {}: {e}", args.server);
            return Ok(ExitCode::from(2));
        }
    };
    let status = resp.status().as_u16();
    // ureq reads 10 MiB at most by default; the answer holds up to the
    // server's `[retrohunt] max_kept` detections (10,000 by default, about
    // 12 MB): read within a bound of its own, and an answer that cannot be
    // read is an error, never an empty result.
    let text = match resp
        .body_mut()
        .with_config()
        .limit(RETROHUNT_ANSWER_MAX)
        .read_to_string()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("vigie: error: the server's answer ({status}) could not be read: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let answer: serde_json::Value = match serde_json::from_str(&text) {
        Ok(a) => a,
        Err(_) if status != 200 => serde_json::Value::Null,
        Err(e) => {
            eprintln!("vigie: error: the server's answer is not JSON: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if status != 200 {
        let why = answer["error"].as_str().unwrap_or(text.as_str());
        eprintln!("vigie: error: the server answered {status}: {why}");
        return Ok(ExitCode::from(2));
    }
    let found = answer["detections"].as_array().cloned().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    for d in &found {
        use std::io::Write;
        writeln!(out, "{d}")?;
    }
    let s = &answer["summary"];
    let skipped = s["events_skipped"].as_u64().unwrap_or(0);
    let why_skipped = if s["from_position"].is_u64() {
        "before --from-position, or received over a day before --from"
    } else {
        "received over a day before --from"
    };
    eprintln!(
        "vigie retrohunt: tenant {}: {} rule(s), {} refused; {} event(s) in range of {} read{}; {} detection(s) in {:.1} s; run {} (GET /api/v1/retrohunts/{}{})",
        s["tenant"].as_str().unwrap_or("?"),
        s["rules_loaded"],
        s["rules_refused"].as_array().map_or(0, Vec::len),
        s["events_in_range"],
        s["events_read"].as_u64().unwrap_or(0).saturating_sub(skipped),
        if skipped > 0 {
            format!(" ({skipped} skipped: {why_skipped})")
        } else {
            String::new()
        },
        s["detections"],
        s["seconds"].as_f64().unwrap_or_default(),
        s["id"].as_str().unwrap_or("?"),
        s["id"].as_str().unwrap_or("?"),
        args.tenant
            .as_deref()
            .map(|t| format!("?tenant={}", percent_encode(t)))
            .unwrap_or_default(),
    );
    if let Some(n) = s["events_not_kept"].as_u64().filter(|&n| n > 0) {
        eprintln!(
            "vigie retrohunt: {n} position(s) of the range no longer kept (removed by retention before they were read, or before an archive took them): not judged"
        );
    }
    if s["detections_truncated"] == true {
        eprintln!(
            "vigie retrohunt: {} detection(s) printed of {} found: every one is in {}/detections.jsonl on the server (the answer holds the first [retrohunt] max_kept)",
            s["detections_kept"], s["detections"], s["kept_in"].as_str().unwrap_or("?")
        );
    }
    // A server from before the budgets says nothing of it: its runs read
    // everything.
    let complete = s["complete"].as_bool().unwrap_or(true);
    if !complete {
        eprintln!(
            "vigie retrohunt: NOT COMPLETE ({}): {} of {} position(s) read; what comes after was not judged — continue with --from-position {}",
            s["stopped"].as_str().unwrap_or("?"),
            s["events_read"],
            s["events_in_log"],
            s["reached_position"]
        );
    }
    for r in s["rules_refused"].as_array().into_iter().flatten() {
        eprintln!(
            "  refused: {}: {}",
            r["rule"].as_str().unwrap_or("?"),
            r["reason"].as_str().unwrap_or("?")
        );
    }
    // Nothing found in a run that did not read everything is no "nothing
    // found": 3, never the 0 a script takes for a clean range.
    let none = s["detections"]
        .as_u64()
        .map_or(found.is_empty(), |n| n == 0);
    // Nor is nothing found among no events at all (another tenant's
    // events, a range the log does not hold): 2, as `hunt` exits when it
    // read nothing — a range with nothing in it was not searched.
    // Only for a run that read everything: one stopped early (its budget
    // spent before the range) is the 3 below, with its way to continue.
    if none && complete && s["events_in_range"].as_u64() == Some(0) {
        eprintln!(
            "vigie retrohunt: NO EVENT of tenant {} in the range: nothing was judged, this is not a clean range (check --tenant, --from, --to)",
            s["tenant"].as_str().unwrap_or("?")
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::from(match (none, complete) {
        (false, _) => 1,
        (true, true) => 0,
        (true, false) => 3,
    }))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
