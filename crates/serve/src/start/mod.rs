//! Start-up: the stores opened (embedded or regional), the rules
//! compiled, the worker, the listeners and the background tasks started
//! (retention, the live scope kept current, SIGHUP) — everything
//! [`serve`] does before and besides answering requests.
//!
//! Here: [`serve`] itself, the order of start-up read top to bottom.
//! Apart: `data` (the data directory held and the node named),
//! `from_config` (assets and alert destinations checked), `listen` (TLS
//! of the listeners, again on SIGHUP), `background` (retention, the live
//! scope kept current, memory given back).

use crate::{
    actions, admin, alerts, archive, auth, crisis, health, index, indicators, live, retrohunt,
    router, rules, syslog, tls, tokens, worker, AppState, Config, NodeRole, ServeError, Shared,
    BODIES_AT_ONCE,
};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use vigie_store::embedded::FileLog;
use vigie_store::{DetectionStore, EventLog};

mod background;
mod data;
mod from_config;
mod listen;
pub(crate) use background::keep_scope_current;
pub(crate) use background::retain;
use data::hold_data;
use data::node_name;
pub(crate) use data::open_state;
pub(crate) use from_config::alert_sinks;
pub(crate) use from_config::load_assets;
use listen::bind_failed;
use listen::cert_names;
pub(crate) use listen::listener_acceptor;
#[cfg(unix)]
pub(crate) use listen::reload_on_hangup;

/// Opens the store, compiles the rules, starts the worker and serves
/// until the process ends. `on_ready` is told the URL listened on
/// (`http://` or `https://`).
pub async fn serve(config: Config, on_ready: impl FnOnce(&str)) -> Result<(), ServeError> {
    // SIGHUP is taken first: its default would end the process, and a
    // `systemctl reload` (a certificate renewed) may come while the rules
    // compile; one that arrives before it is read waits for it.
    #[cfg(unix)]
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    // The data directory is the server's user's alone (see `private`).
    crate::private::umask();
    // One server per data directory: a second one would append to the
    // same segments, move the same consumer positions and page twice.
    let _held = hold_data(&config.data)?;
    match crate::private::tighten(&config.data) {
        Ok(0) => {}
        Ok(n) => eprintln!(
            "vigie serve: {n} file(s) and directories of {} were readable by other users: now the server's user's alone (0600 files, 0700 directories)",
            config.data.display()
        ),
        Err(e) => eprintln!(
            "vigie serve: {}: access not restricted to the server's user: {e}",
            config.data.display()
        ),
    }
    // Without `--db`, the state is `state.db` in `data`: a data
    // directory of an earlier Vigie (JSON Lines files) is imported first,
    // before anything reads or writes the state.
    let state = match &config.db {
        Some(_) => None,
        None => Some(open_state(&config.data)?),
    };
    // With `--db`, the tokens are the database's: one set for every node.
    let (tokens, imported) =
        tokens::open_store(&config.data, config.db.as_deref()).map_err(ServeError::Tokens)?;
    eprintln!("vigie serve: data in {}", config.data.display());
    if config.role == NodeRole::Api && config.db.is_none() {
        return Err(ServeError::Config(
            "--role api answers reads from PostgreSQL: give --db postgres://USER@HOST:PORT/DB"
                .into(),
        ));
    }
    if config.role != NodeRole::All && config.bus.is_none() {
        return Err(ServeError::Config(format!(
            "--role {} is a part of a regional deployment: give --bus nats://HOST:PORT (the embedded log is one process's)",
            config.role.key()
        )));
    }
    if config.archive.is_some()
        && (config.bus.is_none() || !matches!(config.role, NodeRole::Api | NodeRole::All))
    {
        return Err(ServeError::Config(
            "--archive keeps the events of a regional stream for the retro-hunts, searches and detection pages of an api node: give it with --bus on --role api (or all); the embedded log keeps its own events".into(),
        ));
    }
    // The embedded log in `data`, or the regional one on NATS JetStream.
    let (file_log, log, archive): (Option<FileLog>, Arc<dyn EventLog>, _) = match &config.bus {
        Some(url) => {
            eprintln!(
                "vigie serve: event log on NATS JetStream at {} (role {})",
                vigie_bus::masked(url),
                config.role.key()
            );
            let credentials = match &config.bus_credentials {
                Some(path) => Some(vigie_bus::read_credentials(path).map_err(ServeError::Config)?),
                None => None,
            };
            let opts = vigie_bus::Options {
                local: vec![
                    worker::REPLAY.into(),
                    worker::OBSERVER.into(),
                    retrohunt::CONSUMER_PREFIX.into(),
                ],
                ack_wait: std::time::Duration::from_secs(config.bus_ack_wait.max(1)),
                limits: config.stream_limits,
                credentials,
                ..vigie_bus::Options::default()
            };
            let stream: Arc<dyn EventLog> = Arc::new(vigie_bus::JetStreamLog::new(url, opts));
            let (log, archive) = archive::open(&config, stream).await?;
            (None, log, archive)
        }
        None => {
            let (log, recovery) = FileLog::open(&config.data, config.segment_bytes)?;
            if recovery.truncated_bytes > 0 {
                eprintln!(
                    "vigie serve: event log: a torn last batch ({} bytes at offset {} of the last segment, never acknowledged) was cut",
                    recovery.truncated_bytes,
                    recovery.truncated_at.unwrap_or_default()
                );
            }
            (Some(log.clone()), Arc::new(log), None)
        }
    };
    // The state people change (triage, crisis journal, proposals): in the
    // data directory, or in PostgreSQL with `--db`, where every api node
    // reads and writes the same.
    let triage: Arc<dyn vigie_store::triage::TriageStore> = match &config.db {
        Some(url) => {
            let db = vigie_db::PgTriage::new(url);
            eprintln!(
                "vigie serve: triage, crisis journal and containment proposals in {}",
                db.place()
            );
            Arc::new(db)
        }
        None => Arc::new(vigie_state::SqliteTriage::new(
            state.clone().expect("opened without --db"),
        )),
    };
    // With the console's false-positive filters applied and the rules
    // turned off left out.
    let (engine, loaded) = rules::compile(&config.data, config.hunt.clone(), &*triage)
        .await
        .map_err(ServeError::Config)?;
    if !loaded.report.failures.is_empty() {
        eprintln!(
            "vigie serve: {} rule(s) not loaded (see `vigie rules check` or /rules)",
            loaded.report.failures.len()
        );
    }
    let detections: Arc<dyn DetectionStore> = match &config.db {
        Some(url) => {
            let db = vigie_db::PgDetections::new(url);
            eprintln!("vigie serve: detections in {}", db.place());
            Arc::new(db)
        }
        // A connection of their own: the worker's writes and the
        // console's reads of the rest of the state do not wait for each
        // other (WAL).
        None => Arc::new(vigie_state::SqliteDetections::new(vigie_state::Db::open(
            &config.data,
        )?)),
    };
    let (assets, tenant_assets) = load_assets(config.hunt.assets.as_deref())?;
    // With `--db`, the uploaded indicators are PostgreSQL's (every node
    // matches the same), read before the first event is judged.
    let shared_indicators = match &config.db {
        Some(url) => {
            let db = Arc::new(vigie_db::PgIndicators::new(url));
            let (version, sources) = db.all().await?;
            Some(indicators::SharedSources {
                db,
                version,
                sources,
            })
        }
        None => None,
    };
    let (intel, retro_queue) = {
        let (embedded, ioc) = (state.clone(), config.hunt.ioc.clone());
        let feeds: Vec<String> = config
            .ioc_feeds
            .iter()
            .map(indicators::feeds::Feed::name)
            .collect();
        tokio::task::spawn_blocking(move || {
            let (intel, queue) =
                indicators::Intel::open(embedded, &ioc, &feeds, shared_indicators)?;
            let matcher = intel.compile_now();
            Ok::<_, String>((Arc::new(intel), queue, matcher))
        })
        .await
        .map_err(|e| ServeError::Indicators(e.to_string()))?
        .map(|(intel, queue, matcher)| ((intel, matcher), queue))
        .map_err(ServeError::Indicators)?
    };
    let (intel, indicators) = intel;
    if let Some(report) = intel.fixed_report() {
        eprintln!(
            "vigie serve: {} indicator(s) of --ioc matched on every event ({} left out)",
            report.imported,
            report.left_out()
        );
    }
    let engine = Arc::new(engine);
    let judging = Arc::new(worker::Current::new(Arc::new(worker::Judging {
        engine: engine.clone(),
        indicators,
        read: with_memory(&config.hunt.read),
    })));
    judging.set_off(loaded.tenant_off());
    let sinks = alert_sinks(&config)?;
    // The live ids and the alerting's journal, kept across a restart (an
    // ingest node derives no incident and alerts from nothing): in
    // `state.db`, or with `--db` in PostgreSQL, where every api node names
    // an incident alike and one of them sends each message.
    let stores = if config.role != NodeRole::Ingest || !sinks.is_empty() {
        let (data, embedded, db) = (config.data.clone(), state.clone(), config.db.clone());
        Some(
            tokio::task::spawn_blocking(move || {
                live::live_stores(&data, embedded.as_ref(), db.as_deref())
            })
            .await
            .map_err(|e| ServeError::Config(format!("the live ids' store: {e}")))??,
        )
    } else {
        None
    };
    let live = live::LiveScope::new(
        assets,
        engine.clone(),
        config.hunt.lang,
        config.hunt.zone,
        stores.as_ref().map(|s| s.ids.clone()),
    )?;
    let live = live.with_horizon(config.scope_horizon);
    let live = Arc::new(match tenant_assets {
        Some(by_tenant) => live.with_tenant_assets(by_tenant),
        None => live,
    });
    let health = Arc::new(health::Health::new(config.silence_secs));
    let alerting = match stores.filter(|_| !sinks.is_empty()) {
        Some(stores) => {
            let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
            eprintln!("vigie serve: alerts to: {}", names.join(", "));
            let lease = alerts::claim_lease(&sinks, config.alert_claim_lease_secs);
            if let Some(note) = alerts::lease_note(&sinks, config.alert_claim_lease_secs) {
                eprintln!("vigie serve: {note}");
            }
            if config.db.is_some() {
                eprintln!(
                    "vigie serve: alerts claimed and kept in {}: one api node sends each message (a claim lasts {} s, longer than the slowest delivery)",
                    stores.alerts.place(),
                    lease.as_secs()
                );
            }
            let kept = stores.alerts.clone();
            let node = node_name(&config)?;
            let lang = config.hunt.lang;
            Some(Arc::new(
                tokio::task::spawn_blocking(move || {
                    alerts::Alerting::new(sinks, kept, node, lease).map(|a| a.speaking(lang))
                })
                .await
                .map_err(|e| ServeError::Config(format!("the alerts' journal: {e}")))??,
            ))
        }
        None => {
            if sinks.is_empty() && matches!(config.role, NodeRole::All | NodeRole::Api) {
                eprintln!(
                    "vigie serve: no alert destination (alert_webhook, alert_smtp with alert_email_to, alert_syslog): nobody is paged; incidents are only on the console and the API"
                );
            }
            None
        }
    };
    // Every port is taken before anything runs: a port in use stops the
    // start with its name alone, not after the rebuild has begun (and
    // said it could not go on once the start was abandoned).
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| bind_failed(format!("listen on {}", config.listen), source))?;
    let addr = listener.local_addr().map_err(|source| ServeError::Io {
        what: "listener address".into(),
        source,
    })?;
    let syslog_stats = Arc::new(syslog::SyslogStats::default());
    if let Some(addr) = config.syslog_udp.filter(|_| config.role.ingests()) {
        let (at, task) = syslog::udp(addr, log.clone(), syslog_stats.clone())
            .await
            .map_err(|source| bind_failed(format!("syslog UDP on {addr}"), source))?;
        eprintln!("vigie serve: syslog UDP on {at}");
        tokio::spawn(task);
    }
    let acceptor = match (config.syslog_tls, config.ndjson_tls) {
        (None, None) => None,
        _ if !config.role.ingests() => None,
        _ => Some(Arc::new(tls::Senders::new(
            listener_acceptor(&config, true)?.0,
            config.tls_senders.clone(),
        ))),
    };
    for (addr, source, said, tls) in [
        (config.syslog_tcp, "syslog-tcp", "syslog TCP", None),
        (config.ndjson_tcp, "ndjson-tcp", "NDJSON TCP", None),
        (
            config.syslog_tls,
            "syslog-tls",
            "syslog TLS",
            acceptor.clone(),
        ),
        (
            config.ndjson_tls,
            "ndjson-tls",
            "NDJSON TLS",
            acceptor.clone(),
        ),
    ] {
        let Some(addr) = addr.filter(|_| config.role.ingests()) else {
            continue;
        };
        let (at, task) = syslog::tcp(
            addr,
            log.clone(),
            syslog_stats.clone(),
            config.max_line,
            source,
            tls,
        )
        .await
        .map_err(|source| bind_failed(format!("{said} on {addr}"), source))?;
        eprintln!("vigie serve: {said} on {at}");
        tokio::spawn(task);
    }
    if let Some(a) = &alerting {
        tokio::spawn(alerts::run(live.clone(), health.clone(), a.clone()));
    }
    tokio::spawn(keep_scope_current(live.clone()));
    // Where a search can skip (the embedded log only: a JetStream
    // consumer is not moved by position).
    let index = file_log
        .is_some()
        .then(|| Arc::new(index::EventIndex::default()));
    let mut retained = None;
    if let Some(file_log) = file_log {
        let (first_pass, done) = tokio::sync::oneshot::channel();
        retained = Some(done);
        let retaining = background::Retaining {
            policy: config.retention,
            every: config.retention_every,
            judging: (config.role == NodeRole::All).then(|| judging.clone()),
            first_pass: Some(first_pass),
        };
        tokio::spawn(retain(file_log, live.clone(), index.clone(), retaining));
    }
    let progress = Arc::new(worker::Progress::default());
    // The duplicates' window, taken whole before the first event is judged
    // and before the server answers ([`worker::Seen::reserved`]).
    // Only where events are judged (an ingest node judges none).
    let seen = Arc::new(if config.role.detects() || config.role == NodeRole::Api {
        tokio::task::spawn_blocking(worker::Seen::reserved)
            .await
            .unwrap_or_default()
    } else {
        worker::Seen::default()
    });
    if config.role.detects() {
        tokio::spawn(worker::run(
            log.clone(),
            judging.clone(),
            detections.clone(),
            progress.clone(),
            live.clone(),
            health.clone(),
            config.role == NodeRole::All,
            index.clone(),
            seen.clone(),
            retained,
        ));
    }
    if config.role == NodeRole::Api {
        tokio::spawn(worker::observe_stream(
            log.clone(),
            judging.clone(),
            live.clone(),
            health.clone(),
            seen,
        ));
    }
    let max_body = config.max_body;
    let console = vigie_console::Console::new(&config.data);
    // With `--db`, the audit log is the database's: one chain for every
    // api node.
    let console = Arc::new(match &config.db {
        Some(url) => {
            let io = |source| ServeError::Io {
                what: "the console's database runtime".into(),
                source,
            };
            console
                .with_audit_log(Arc::new(vigie_db::PgAudit::new(url).map_err(io)?))
                .with_accounts(
                    Arc::new(vigie_db::PgUsers::new(url).map_err(io)?),
                    Arc::new(vigie_db::PgSessions::new(url).map_err(io)?),
                )
                .with_throttle(Arc::new(vigie_db::PgThrottle::new(url).map_err(io)?))
        }
        None => {
            let state = state.clone().expect("opened without --db");
            console
                .with_audit_log(Arc::new(vigie_state::SqliteAudit::new(state.clone())))
                .with_accounts(
                    Arc::new(vigie_state::SqliteUsers::new(state.clone())),
                    Arc::new(vigie_state::SqliteSessions::new(state)),
                )
        }
    });
    let journal: Arc<dyn vigie_store::crisis::CrisisJournal> = match &config.db {
        Some(url) => Arc::new(vigie_db::PgCrisis::new(url)),
        None => Arc::new(vigie_state::SqliteCrisis::new(
            state.clone().expect("opened without --db"),
        )),
    };
    let respond =
        actions::Respond::open(state.clone(), config.db.as_deref(), config.respond.clone())
            .map_err(|e| ServeError::Config(e.to_string()))?;
    let state = Arc::new(AppState {
        actions: respond,
        console: console.clone(),
        judging,
        triage,
        rules_change: tokio::sync::Mutex::new(()),
        rules: std::sync::RwLock::new(Arc::new(loaded)),
        searching: tokio::sync::Mutex::new(()),
        index,
        crisis: crisis::Cell::new(journal),
        config,
        log,
        tokens: tokens.clone(),
        detections,
        progress,
        live,
        health,
        alerting,
        retrohunting: tokio::sync::Mutex::new(()),
        retrohunts: Arc::default(),
        removed: Default::default(),
        archive,
        intel,
        syslog: syslog_stats,
        busy: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        refused_said: std::sync::atomic::AtomicI64::new(0),
        log_down: std::sync::atomic::AtomicBool::new(false),
        bodies_by_tenant: Default::default(),
        slow_bodies: AtomicU64::new(0),
        bodies: Arc::new(tokio::sync::Semaphore::new(BODIES_AT_ONCE)),
        anonymous_bodies: Arc::new(tokio::sync::Semaphore::new(crate::http::ANONYMOUS_BODIES)),
        anonymous_by_address: Default::default(),
    });
    let https_names = cert_names(&state.config);
    let tls = tls::prepare(&state.config.tls, &state.config.data, https_names.clone()).map_err(
        |source| ServeError::Io {
            what: "TLS certificate".into(),
            source,
        },
    )?;
    admin::said_at_start(&state, imported).await;
    crate::retention::warn_if_unbounded(&state.config);
    tokio::spawn(crate::retention::keep_bounded(state.clone()));
    tokio::spawn(indicators::retro_hunts(state.clone(), retro_queue));
    if state.intel.is_shared() {
        tokio::spawn(indicators::follow_shared(state.clone()));
    }
    if state.config.db.is_some() {
        tokio::spawn(rules::follow_shared(state.clone()));
    }
    if !state.config.ioc_feeds.is_empty() && state.config.role.detects() {
        tokio::spawn(indicators::feeds::run(
            state.clone(),
            state.config.ioc_feeds.clone(),
            state.config.ioc_poll,
        ));
    }
    let gate = auth::Gate {
        tokens,
        console,
        live: state.live.clone(),
    };
    let app = router(state.clone(), gate).layer(DefaultBodyLimit::max(max_body));
    let io = |source| ServeError::Io {
        what: "serve".into(),
        source,
    };
    let https = match &tls {
        None => None,
        Some(ready) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(&ready.cert, &ready.key)
                .await
                .map_err(|source| ServeError::Io {
                    what: format!(
                        "TLS certificate {} or key {}",
                        ready.cert.display(),
                        ready.key.display()
                    ),
                    source,
                })?,
        ),
    };
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(
        hangup,
        state.clone(),
        https.clone(),
        https_names.clone(),
        acceptor,
    ));
    match (tls, https) {
        (None, _) | (_, None) => {
            on_ready(&format!("http://{addr}"));
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .map_err(io)
        }
        (Some(ready), Some(rustls)) => {
            eprintln!(
                "vigie serve: TLS certificate {} ({}), SHA-256 {}",
                ready.cert.display(),
                if ready.made {
                    format!("made now, self-signed, for {}", https_names.join(", "))
                } else {
                    "in use".to_string()
                },
                tls::colons(&ready.fingerprint)
            );
            eprintln!(
                "vigie serve: the same without colons (Winlogbeat's ssl.ca_trusted_fingerprint): {}",
                ready.fingerprint
            );
            let std_listener = listener.into_std().map_err(io)?;
            let server = axum_server::from_tcp_rustls(std_listener, rustls).map_err(io)?;
            on_ready(&format!("https://{addr}"));
            server
                .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .map_err(io)
        }
    }
}

/// `read` with a fresh [`vigie_source::clock::ClockMemory`]: live events
/// come one request at a time, often one event each, and a computer's
/// clock offset learned from its earlier events (Sysmon's `UtcTime`
/// beside NXLog's local `EventTime`) must hold for its later ones.
pub(crate) fn with_memory(read: &vigie_source::ReadOptions) -> vigie_source::ReadOptions {
    vigie_source::ReadOptions {
        clock_memory: Some(vigie_source::clock::ClockMemory::new()),
        ..read.clone()
    }
}
