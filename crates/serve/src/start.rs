//! Start-up: the stores opened (embedded or regional), the rules
//! compiled, the worker, the listeners and the background tasks started
//! (retention, the live scope kept current, SIGHUP) — everything
//! [`serve`] does before and besides answering requests.

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

/// Applies the retention policy at start and every ten minutes, never
/// removing events the detection worker has not judged.
pub(crate) async fn retain(
    log: FileLog,
    policy: vigie_store::embedded::Retention,
    live: Arc<live::LiveScope>,
    index: Option<Arc<index::EventIndex>>,
) {
    // Not while the live scope is rebuilt: its reader must not lose the
    // segment it is in.
    while !live.rebuilt.load(Ordering::Acquire) {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    loop {
        let keep_from = match log.committed(worker::CONSUMER).await {
            Ok(Some(p)) => p.0 + 1,
            Ok(None) => 0,
            Err(e) => {
                eprintln!("vigie serve: retention: {e}");
                0
            }
        };
        let l = log.clone();
        match tokio::task::spawn_blocking(move || l.retain(&policy, keep_from)).await {
            Ok(Ok(r)) => {
                // The index keeps nothing of what the log no longer holds.
                if let Some(ix) = &index {
                    ix.forget_below(r.oldest_kept);
                }
                if r.segments > 0 {
                    eprintln!(
                        "vigie serve: retention: {} segment(s), {} bytes removed; events kept from position {}",
                        r.segments, r.bytes, r.oldest_kept
                    );
                }
                if r.over_limit {
                    eprintln!(
                        "vigie serve: retention: the event log ({} bytes) is over its limit with events not judged yet: kept",
                        r.bytes_kept
                    );
                }
            }
            Ok(Err(e)) => eprintln!("vigie serve: retention: {e}"),
            Err(e) => eprintln!("vigie serve: retention: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
}

/// Re-derives each tenant's scope every few seconds when new events
/// were observed, so that the stats' incident count, the console and the
/// alerts follow the events without anyone asking first.
///
/// At most a third of the time goes to it: after an analysis that took
/// `d`, the next waits `max(5 s, 2·d)` — on a large scope under a heavy
/// ingest, detection keeps the machine.
pub(crate) async fn keep_scope_current(live: Arc<live::LiveScope>) {
    let mut wait = std::time::Duration::from_secs(5);
    loop {
        tokio::time::sleep(wait).await;
        if !live.rebuilt.load(Ordering::Acquire) {
            continue;
        }
        let l = live.clone();
        let started = std::time::Instant::now();
        let _ = tokio::task::spawn_blocking(move || {
            for tenant in l.tenants() {
                l.answer(&tenant);
            }
            give_back_free_memory();
        })
        .await;
        wait = std::time::Duration::from_secs(5).max(started.elapsed() * 2);
    }
}

/// Returns the allocator's free pages to the system.
///
/// Why: each answer copies the scope's facts and derives a scope from
/// them, then frees it all; glibc keeps what was freed inside its arenas
/// (only the top of a heap is given back by itself), so the resident size
/// climbed with every answer's garbage to far above what was in use (at
/// the end of a week replayed: 153 MiB free held for 104 MiB in use).
/// `malloc_trim` walks the arenas and gives whole free pages back; after
/// an answer, when most of the garbage was just freed.
pub(crate) fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// This node as its claims on alert messages name it: its host name,
/// process and address (said to an operator reading the journal's claims).
fn node_name(config: &Config) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    format!("{host} pid {} ({})", std::process::id(), config.listen)
}

/// The embedded state of `data` (`state.db`), the former files imported
/// into it first (what was imported, and any damaged line, said).
pub(crate) fn open_state(data: &std::path::Path) -> Result<Arc<vigie_state::Db>, ServeError> {
    let imported = vigie_state::import(data)?;
    for line in imported.lines() {
        eprintln!("vigie serve: {line}");
    }
    let db = vigie_state::Db::open(data)?;
    eprintln!("vigie serve: state in {}", db.place());
    Ok(db)
}

/// Takes `data/serve.lock` for as long as the file is held (the process
/// ends: the system lets go of it, even after `kill -9`), with this
/// process's id in it for the one refused.
fn hold_data(data: &std::path::Path) -> Result<std::fs::File, ServeError> {
    use std::io::{Read, Seek, Write};
    let io = |what: String| move |source| ServeError::Io { what, source };
    std::fs::create_dir_all(data).map_err(io(format!("create {}", data.display())))?;
    let path = data.join("serve.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io(format!("open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let by = if holder.is_empty() {
                String::new()
            } else {
                format!(" (process {holder})")
            };
            return Err(ServeError::Config(format!(
                "{}: another vigie serve uses this data directory{by}: one server per data directory (two would write the same event log and page twice)",
                data.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(io(format!("lock {}", path.display()))(e))
        }
    }
    let pid = std::process::id().to_string();
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(pid.as_bytes()));
    Ok(file)
}

/// Opens the store, compiles the rules, starts the worker and serves
/// until the process ends. `on_ready` is told the URL listened on
/// (`http://` or `https://`).
pub async fn serve(config: Config, on_ready: impl FnOnce(&str)) -> Result<(), ServeError> {
    // SIGHUP is taken first: its default would end the process, and a
    // `systemctl reload` (a certificate renewed) may come while the rules
    // compile; one that arrives before it is read waits for it.
    #[cfg(unix)]
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    // One server per data directory: a second one would append to the
    // same segments, move the same consumer positions and page twice.
    let _held = hold_data(&config.data)?;
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
                "vigie serve: event log on NATS JetStream at {url} (role {})",
                config.role.key()
            );
            let opts = vigie_bus::Options {
                local: vec![
                    worker::REPLAY.into(),
                    worker::OBSERVER.into(),
                    retrohunt::CONSUMER_PREFIX.into(),
                ],
                ack_wait: std::time::Duration::from_secs(config.bus_ack_wait.max(1)),
                limits: config.stream_limits,
                ..vigie_bus::Options::default()
            };
            let stream: Arc<dyn EventLog> = Arc::new(vigie_bus::JetStreamLog::new(url, opts));
            let (log, archive) = archive::open(&config, stream).await?;
            (None, log, archive)
        }
        None => {
            let (log, recovery) =
                FileLog::open(&config.data, vigie_store::embedded::SEGMENT_BYTES)?;
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
            if config.db.is_some() {
                eprintln!(
                    "vigie serve: alerts claimed and kept in {}: one api node sends each message (a claim lasts {} s, longer than the slowest delivery)",
                    stores.alerts.place(),
                    lease.as_secs()
                );
            }
            let kept = stores.alerts.clone();
            let node = node_name(&config);
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
    if let Some(a) = &alerting {
        tokio::spawn(alerts::run(live.clone(), health.clone(), a.clone()));
    }
    tokio::spawn(keep_scope_current(live.clone()));
    // Where a search can skip (the embedded log only: a JetStream
    // consumer is not moved by position).
    let index = file_log
        .is_some()
        .then(|| Arc::new(index::EventIndex::default()));
    if let Some(file_log) = file_log {
        tokio::spawn(retain(
            file_log,
            config.retention,
            live.clone(),
            index.clone(),
        ));
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
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Io {
            what: format!("listen on {}", config.listen),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Io {
        what: "listener address".into(),
        source,
    })?;
    let syslog_stats = Arc::new(syslog::SyslogStats::default());
    if let Some(addr) = config.syslog_udp.filter(|_| config.role.ingests()) {
        let (at, task) = syslog::udp(addr, log.clone(), syslog_stats.clone())
            .await
            .map_err(|source| ServeError::Io {
                what: format!("syslog UDP on {addr}"),
                source,
            })?;
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
        .map_err(|source| ServeError::Io {
            what: format!("{said} on {addr}"),
            source,
        })?;
        eprintln!("vigie serve: {said} on {at}");
        tokio::spawn(task);
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

/// `--assets FILE`: every tenant's; `--assets DIR`: one file per commune,
/// `DIR/<tenant>.yml` (or `.yaml`), `default.yml` for the tenant
/// `default` (a commune without a file of its own has none: never
/// another's). Every file is read at start: one that cannot be read
/// stops `serve` with its name and the reason.
#[allow(clippy::type_complexity)]
pub(crate) fn load_assets(
    path: Option<&std::path::Path>,
) -> Result<
    (
        Arc<vigie_scope::Assets>,
        Option<std::collections::BTreeMap<String, Arc<vigie_scope::Assets>>>,
    ),
    ServeError,
> {
    let load = |p: &std::path::Path| {
        vigie_scope::Assets::load(p)
            .map(Arc::new)
            .map_err(|e| ServeError::Io {
                what: format!("--assets {}", p.display()),
                source: std::io::Error::other(e.to_string()),
            })
    };
    let Some(path) = path else {
        return Ok((Arc::new(vigie_scope::Assets::default()), None));
    };
    if !path.is_dir() {
        // One file is the tenant `default`'s (a commune's own server):
        // never every commune's — another commune's hosts and services
        // shown as its own on its board and public page.
        let one = load(path)?;
        eprintln!(
            "vigie serve: assets from {}: the tenant default's only (other communes: none; give a directory of <tenant>.yml files for each commune's own)",
            path.display()
        );
        return Ok((one, Some(std::collections::BTreeMap::new())));
    }
    let io = |source| ServeError::Io {
        what: format!("--assets {}", path.display()),
        source,
    };
    let mut by_tenant = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        let is_yaml = p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
        let Some(tenant) = p.file_stem().and_then(|s| s.to_str()).filter(|_| is_yaml) else {
            continue;
        };
        if !vigie_console::users::valid_tenant(tenant) {
            eprintln!(
                "vigie serve: --assets {}: no tenant can be named {tenant:?} ({}): its file is read but no commune gets it",
                p.display(),
                vigie_console::users::TENANT_RULE
            );
        }
        if by_tenant.insert(tenant.to_string(), load(&p)?).is_some() {
            return Err(ServeError::Config(format!(
                "--assets {}: two files for the tenant {tenant:?} (.yml and .yaml)",
                path.display()
            )));
        }
    }
    let default = by_tenant
        .remove("default")
        .unwrap_or_else(|| Arc::new(vigie_scope::Assets::default()));
    eprintln!(
        "vigie serve: assets per commune from {}: {}",
        path.display(),
        std::iter::once("default")
            .chain(by_tenant.keys().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((default, Some(by_tenant)))
}

/// Where alerts go, from the configuration (each checked at start: a
/// mistyped address is an error now, not a silent 2 a.m.).
pub(crate) fn alert_sinks(config: &Config) -> Result<Vec<Box<dyn alerts::Sink>>, ServeError> {
    let mut sinks: Vec<Box<dyn alerts::Sink>> = Vec::new();
    if let Some(url) = &config.alert_webhook {
        sinks.push(Box::new(alerts::sinks::Webhook { url: url.clone() }));
    }
    if let Some(relay) = &config.alert_smtp {
        let from = config
            .alert_email_from
            .as_deref()
            .unwrap_or("vigie@localhost");
        let mail = alerts::sinks::Email::new(relay, from, &config.alert_email_to, config.hunt.lang)
            .map_err(ServeError::Config)?;
        sinks.push(Box::new(mail));
    } else if !config.alert_email_to.is_empty() {
        return Err(ServeError::Config(
            "alert_email_to without alert_smtp (in the --config file or VIGIE_ALERT_SMTP): no relay to send through".into(),
        ));
    }
    if let Some(url) = &config.alert_syslog {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        sinks.push(Box::new(
            alerts::sinks::Syslog::parse(url, host).map_err(ServeError::Config)?,
        ));
    }
    Ok(sinks)
}

/// The names of the self-signed certificate, one for the HTTP and the
/// TLS listeners (whichever makes it first makes it for every one).
fn cert_names(config: &Config) -> Vec<String> {
    let listening: Vec<std::net::SocketAddr> =
        [Some(config.listen), config.syslog_tls, config.ndjson_tls]
            .into_iter()
            .flatten()
            .collect();
    tls::cert_names(&listening, &config.tls_names)
}

/// The TLS of the syslog and NDJSON listeners, said at start: the
/// certificate's fingerprint (senders pin it), and whether senders must
/// show a client certificate.
pub(crate) fn listener_acceptor(
    config: &Config,
    say: bool,
) -> Result<(tls::Listening, String), ServeError> {
    let names = cert_names(config);
    let io = |source| ServeError::Io {
        what: "TLS of the TCP listeners".into(),
        source,
    };
    let ready = tls::prepare(&config.listener_tls, &config.data, names)
        .map_err(io)?
        .ok_or_else(|| io(std::io::Error::other("no certificate")))?;
    let acceptor = tls::acceptor(
        &ready,
        config.tls_client_ca.as_deref(),
        config.tls_client_crl.as_deref(),
    )
    .map_err(io)?;
    if !say {
        return Ok((acceptor, ready.fingerprint));
    }
    eprintln!(
        "vigie serve: TLS listeners' certificate {}, SHA-256 {}",
        ready.cert.display(),
        tls::colons(&ready.fingerprint)
    );
    match &config.tls_client_ca {
        Some(ca) => eprintln!(
            "vigie serve: TLS listeners: senders must show a certificate signed by {}",
            ca.display()
        ),
        None => eprintln!(
            "vigie serve: TLS listeners: no --tls-client-ca, any sender reaching them may send (encrypted, not authenticated)"
        ),
    }
    if let Some(crl) = &config.tls_client_crl {
        eprintln!(
            "vigie serve: TLS listeners: certificates revoked by {} are refused",
            crl.display()
        );
    }
    if !config.tls_senders.is_empty() {
        eprintln!(
            "vigie serve: TLS listeners: {} sender(s) named in tls_senders, each filed under its commune; any other refused",
            config.tls_senders.len()
        );
    }
    Ok((acceptor, ready.fingerprint))
}

/// SIGHUP: the certificates are read again, as nginx and rsyslog do on
/// it — a renewed certificate (certbot's deploy hook, the CSIRT's PKI),
/// a new client CA, a new revocation list — without a restart that would
/// drop the senders' connections. New connections get the new ones; a
/// connected sender whose certificate no longer passes (revoked) is cut
/// before its next message. A file that cannot be read leaves the
/// previous certificate in use, and says why; each reload is audited.
#[cfg(unix)]
pub(crate) async fn reload_on_hangup(
    hangup: std::io::Result<tokio::signal::unix::Signal>,
    state: Shared,
    https: Option<axum_server::tls_rustls::RustlsConfig>,
    https_names: Vec<String>,
    senders: Option<Arc<tls::Senders>>,
) {
    let Ok(mut hup) = hangup else {
        eprintln!("vigie serve: SIGHUP cannot be listened to: certificates are read at start only");
        return;
    };
    while hup.recv().await.is_some() {
        let mut said = Vec::new();
        let mut failed = false;
        if let Some(https) = &https {
            let ready = tls::prepare(&state.config.tls, &state.config.data, https_names.clone());
            let done = match ready {
                Ok(Some(r)) => https
                    .reload_from_pem_file(&r.cert, &r.key)
                    .await
                    .map(|()| r.fingerprint)
                    .map_err(|e| format!("{} or {}: {e}", r.cert.display(), r.key.display())),
                Ok(None) => Err("no certificate".into()),
                Err(e) => Err(e.to_string()),
            };
            match done {
                Ok(fp) => said.push(format!("HTTPS certificate SHA-256 {}", tls::colons(&fp))),
                Err(e) => {
                    failed = true;
                    said.push(format!(
                        "HTTPS certificate not read again, the previous one stays: {e}"
                    ))
                }
            }
        }
        if let Some(senders) = &senders {
            match listener_acceptor(&state.config, false) {
                Ok((listening, fp)) => {
                    senders.replace(listening);
                    said.push(format!(
                        "TLS listeners' certificate SHA-256 {}{}{}",
                        tls::colons(&fp),
                        if state.config.tls_client_ca.is_some() {
                            ", client CA"
                        } else {
                            ""
                        },
                        if state.config.tls_client_crl.is_some() {
                            ", revocation list"
                        } else {
                            ""
                        },
                    ))
                }
                Err(e) => {
                    failed = true;
                    said.push(format!(
                        "TLS listeners' certificates not read again, the previous ones stay: {e}"
                    ))
                }
            }
        }
        if said.is_empty() {
            said.push("no TLS in use, nothing to read again".into());
        }
        let said = said.join("; ");
        eprintln!("vigie serve: SIGHUP: {said}");
        let outcome = if failed {
            vigie_console::audit::Outcome::Failure
        } else {
            vigie_console::audit::Outcome::Success
        };
        // Through the console's audit log: with --db, the deployment's
        // one chain, not this node's file.
        let console = state.console.clone();
        let appended = tokio::task::spawn_blocking(move || {
            console.audit(
                "system",
                "SIGHUP",
                vigie_console::audit::Action::CertificatesReload,
                &said,
                outcome,
            )
        })
        .await;
        if appended.is_err() {
            eprintln!("vigie serve: SIGHUP: the audit log could not be written");
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
