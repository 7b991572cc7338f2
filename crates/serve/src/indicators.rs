//! Indicators live in `vigie serve`: uploaded through the API, kept under
//! the data directory, compiled into one matcher swapped into the worker
//! without a restart, and retro-hunted over the stored events when they
//! arrive.
//!
//! Why a retro-hunt on arrival: a CSIRT shares an address days after the
//! attacker used it; the commune's logs of last week already hold the
//! connection. Matching new events only would say nothing about it.
//!
//! Each upload is a *source*: its bytes as received and what was made of
//! them (format, TLP, who, when, counts, what was left out with its
//! place), kept in `state.db` ([`vigie_state::SqliteIndicators`], one
//! transaction synced before the upload is answered; formerly
//! `indicators/NAME.src` and `NAME.json`, imported at the first start).
//! At start every source is read again from its bytes, so what judges
//! events is always what was uploaded. Indicators are one
//! set for every tenant, as the rules are: an analyst's or an
//! administrator's act, audited.
//!
//! With `--db` the sources are kept in PostgreSQL instead
//! ([`vigie_db::PgIndicators`]), read at start and again by every node
//! when their version moves ([`follow_shared`]): an upload on one api
//! node is matched by every detect worker.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::http::Query;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;
use vigie_console::audit::{Action, Outcome};
use vigie_console::Principal;
use vigie_intel::{Indicator, MatchOptions, Matcher, Problem, ProblemKind, Tlp};

pub mod feeds;
mod follow;
mod retro;
mod share;

pub(crate) use follow::follow_shared;
use follow::held_of_shared;
pub(crate) use retro::retro_hunts;
pub(crate) use share::{blocklist, live_findings};

use crate::triage::who_and_from;
use crate::{error, ReadTenant, Shared};

/// Problems kept with their place per source (the others are counted).
const PROBLEMS_SHOWN: usize = 100;

/// Retro-hunts kept in memory for `GET /api/v1/indicators` (every one is
/// on disk under `retrohunts/`).
const RUNS_SHOWN: usize = 20;

/// What was made of one upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceInfo {
    pub name: String,
    /// The formats the content was read as (told by the content).
    pub formats: Vec<String>,
    /// The TLP given with the upload (indicators without their own take
    /// it; those with a less restrictive one are raised to it).
    pub tlp: Option<Tlp>,
    pub added_by: String,
    pub added_from: String,
    pub added_at: String,
    pub bytes: usize,
    pub sha256: String,
    /// Indicators imported and compiled.
    pub imported: usize,
    /// Indicators the matcher could not take, with why.
    pub rejected: Vec<(String, String)>,
    /// Everything not imported, by kind; the first ones with their place.
    pub left_out: BTreeMap<ProblemKind, usize>,
    pub problems: Vec<Problem>,
    /// A source of the same name replaced by this one.
    #[serde(default)]
    pub replaced: bool,
    /// The feed it is polled from (its URL, secrets hidden), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
}

/// A source held in memory: its description and its indicators.
struct Held {
    info: SourceInfo,
    indicators: Vec<Indicator>,
}

/// One retro-hunt of indicators that arrived, and what it found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetroRun {
    pub id: String,
    pub source: String,
    pub indicators: usize,
    /// `queued`, `running`, `done`, `stopped` (`stopped` says why),
    /// `failed`.
    pub state: &'static str,
    pub started: Option<String>,
    pub seconds: Option<f64>,
    pub events_read: Option<u64>,
    pub detections: Option<usize>,
    /// Detections not stored before (the others were found live).
    pub new_detections: Option<usize>,
    pub error: Option<String>,
    /// Whether every event stored when it began was read (`None` until
    /// it ends).
    #[serde(default)]
    pub complete: Option<bool>,
    /// Why it ended early: `budget` (`[retrohunt] max_seconds` spent).
    #[serde(default)]
    pub stopped: Option<crate::retrohunt::Stopped>,
    /// When stopped: the first position not read.
    #[serde(default)]
    pub reached_position: Option<u64>,
    /// The log's end when it began.
    #[serde(default)]
    pub events_in_log: Option<u64>,
}

/// A retro-hunt waiting its turn.
pub struct Job {
    id: String,
    source: String,
    indicators: Vec<Indicator>,
}

/// The indicators the server holds.
pub struct Intel {
    /// Where the sources are kept, for messages.
    place: String,
    /// Without `--db`: the sources in `state.db`.
    embedded: Option<Arc<vigie_state::SqliteIndicators>>,
    /// `--ioc` (and `ioc` in the configuration file), read at start.
    fixed: Vec<Indicator>,
    fixed_report: Option<vigie_hunt::indicators::IndicatorsReport>,
    /// Uploaded sources by name; held while a change is made (one at a
    /// time, compiled then swapped).
    held: tokio::sync::Mutex<BTreeMap<String, Held>>,
    /// Compiled now, with what the matcher left out.
    compiled: Mutex<(usize, usize)>,
    queue: tokio::sync::mpsc::UnboundedSender<Job>,
    runs: Mutex<Vec<RetroRun>>,
    /// When the server started: the `--ioc` indicators' time of arrival.
    started: chrono::DateTime<chrono::Utc>,
    /// When each TAXII object was first served.
    pub(crate) added: crate::taxii::Added,
    /// The feeds' counters.
    pub(crate) feeds: feeds::FeedStats,
    /// With `--db`: the sources in PostgreSQL, and the version held.
    shared: Option<(Arc<vigie_db::PgIndicators>, std::sync::atomic::AtomicI64)>,
}

/// With `--db`: the sources in PostgreSQL and the version they are of,
/// read before [`Intel::open`].
pub struct SharedSources {
    pub db: Arc<vigie_db::PgIndicators>,
    pub version: i64,
    pub sources: Vec<vigie_db::IndicatorSource>,
}

impl Intel {
    /// Reads `--ioc` and every kept source again; the retro-hunts' queue
    /// is to be given to [`retro_hunts`]. Blocking: call it off the async
    /// threads.
    /// `embedded`: `state.db`, where the sources are kept without
    /// `--db` (`shared`).
    pub fn open(
        embedded: Option<Arc<vigie_state::Db>>,
        ioc: &[String],
        feeds: &[String],
        shared: Option<SharedSources>,
    ) -> Result<(Intel, tokio::sync::mpsc::UnboundedReceiver<Job>), String> {
        let (fixed, fixed_report) = match vigie_hunt::indicators::import(ioc) {
            Ok(Some((all, report))) => (all.indicators, Some(report)),
            Ok(None) => (Vec::new(), None),
            Err(e) => return Err(e.to_string()),
        };
        let mut held = BTreeMap::new();
        let place = match &shared {
            Some(sh) => sh.db.place(),
            None => embedded
                .as_ref()
                .map(|db| db.place())
                .unwrap_or_else(|| "memory".into()),
        };
        let embedded = match shared {
            Some(_) => None,
            None => embedded.map(|db| Arc::new(vigie_state::SqliteIndicators::new(db))),
        };
        let shared = shared.map(|sh| {
            held = held_of_shared(&sh.sources);
            (sh.db, std::sync::atomic::AtomicI64::new(sh.version))
        });
        if let Some(store) = &embedded {
            let (_, sources) = store.all().map_err(|e| e.to_string())?;
            for source in sources {
                let info = match serde_json::from_str::<SourceInfo>(&source.info) {
                    Ok(info) => info,
                    // Said, never dropped silently; the row stays.
                    Err(e) => {
                        eprintln!(
                            "vigie serve: indicators: source {} in {}: {e} (not applied; left as it is)",
                            source.name,
                            store.place()
                        );
                        continue;
                    }
                };
                // A feed no longer configured: its last version goes
                // (said), as the configuration says.
                if info.feed.is_some() && !feeds.contains(&info.name) {
                    let h = held_of(info, &source.src);
                    eprintln!(
                        "vigie serve: indicators: feed {} is no longer configured: its {} indicator(s) removed",
                        h.info.feed.as_deref().unwrap_or_default(),
                        h.indicators.len()
                    );
                    if let Err(e) = store.remove_now(&h.info.name) {
                        eprintln!(
                            "vigie serve: indicators: feed {}: not removed from {} ({e}): not applied, removed at a later start",
                            h.info.name,
                            store.place()
                        );
                    }
                    continue;
                }
                held.insert(source.name.clone(), held_of(info, &source.src));
            }
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Ok((
            Intel {
                place,
                embedded,
                fixed,
                fixed_report,
                held: tokio::sync::Mutex::new(held),
                compiled: Mutex::new((0, 0)),
                queue: tx,
                runs: Mutex::new(Vec::new()),
                started: chrono::Utc::now(),
                added: Default::default(),
                feeds: Default::default(),
                shared,
            },
            rx,
        ))
    }

    /// The matcher of every indicator held now (`None` when there is
    /// none). Blocking.
    pub fn compile_now(&self) -> Option<Arc<Matcher>> {
        let held = self.held.try_lock().ok()?;
        let m = compile(&self.fixed, &held);
        let out = m.map(|(m, rejected)| {
            *self.compiled.lock().unwrap_or_else(|e| e.into_inner()) = (m.len(), rejected);
            Arc::new(m)
        });
        let uploaded: usize = held.values().map(|h| h.indicators.len()).sum();
        if !held.is_empty() {
            eprintln!(
                "vigie serve: {} indicator(s) of {} uploaded source(s) kept in {}",
                uploaded,
                held.len(),
                self.place
            );
        }
        out
    }

    /// Every indicator held as a STIX 2.1 `indicator` (the TAXII
    /// collection of indicators), with the TLP marking definitions they
    /// refer to. Blocking.
    pub fn stix_objects(&self) -> Vec<serde_json::Value> {
        let held = self.held.blocking_lock();
        let mut out = Vec::new();
        let mut tlps = BTreeSet::new();
        let fixed = self.fixed.iter().map(|i| (i, self.started));
        let uploaded = held.values().flat_map(|h| {
            let added = chrono::DateTime::parse_from_rfc3339(&h.info.added_at)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or(self.started);
            h.indicators.iter().map(move |i| (i, added))
        });
        // One object per id: the same indicator from two sources is one
        // STIX object (the first source's).
        let mut ids = BTreeSet::new();
        for (i, added) in fixed.chain(uploaded) {
            if let Some(o) = vigie_intel::export::indicators::indicator_object(i, added) {
                if ids.insert(o["id"].as_str().unwrap_or_default().to_string()) {
                    tlps.extend(i.tlp);
                    out.push(o);
                }
            }
        }
        out.extend(tlps.into_iter().map(vigie_intel::export::stix::tlp_marking));
        out
    }

    /// The `--ioc` report (what the start said).
    pub fn fixed_report(&self) -> Option<&vigie_hunt::indicators::IndicatorsReport> {
        self.fixed_report.as_ref()
    }
}

fn held_of(info: SourceInfo, bytes: &[u8]) -> Held {
    let mut imported = vigie_intel::import_bytes(bytes, &location(&info.name));
    apply_tlp(&mut imported.indicators, info.tlp);
    Held {
        info,
        indicators: imported.indicators,
    }
}

fn location(name: &str) -> String {
    format!("upload:{name}")
}

/// The upload's TLP on its indicators: the most restrictive of the two
/// (a value a TLP:RED report holds stays RED).
fn apply_tlp(indicators: &mut [Indicator], tlp: Option<Tlp>) {
    if let Some(t) = tlp {
        for i in indicators {
            i.tlp = Some(i.tlp.map_or(t, |own| own.max(t)));
        }
    }
}

/// One matcher of every indicator (`--ioc`, then the sources by name),
/// and how many the matcher left out.
fn compile(fixed: &[Indicator], held: &BTreeMap<String, Held>) -> Option<(Matcher, usize)> {
    let all: Vec<Indicator> = fixed
        .iter()
        .chain(held.values().flat_map(|h| h.indicators.iter()))
        .cloned()
        .collect();
    if all.is_empty() {
        return None;
    }
    let (m, report) = Matcher::compile(all, MatchOptions::default());
    Some((m, report.rejected.len()))
}

/// Compiles every indicator held (off the async threads) and swaps the
/// matcher into the worker: the next batch is judged with it. The rules'
/// lock is held for the swap, so a rule change at the same time keeps
/// both.
async fn swap(s: &Shared, held: &BTreeMap<String, Held>) -> Result<(), String> {
    let fixed = s.intel.fixed.clone();
    let snapshot: BTreeMap<String, Held> = held
        .iter()
        .map(|(k, h)| {
            (
                k.clone(),
                Held {
                    info: h.info.clone(),
                    indicators: h.indicators.clone(),
                },
            )
        })
        .collect();
    let compiled = tokio::task::spawn_blocking(move || compile(&fixed, &snapshot))
        .await
        .map_err(|e| e.to_string())?;
    *s.intel.compiled.lock().unwrap_or_else(|e| e.into_inner()) = compiled
        .as_ref()
        .map_or((0, 0), |(m, rejected)| (m.len(), *rejected));
    let _rules = s.rules_change.lock().await;
    let current = s.judging.get();
    s.judging.set(Arc::new(crate::worker::Judging {
        engine: current.engine.clone(),
        indicators: compiled.map(|(m, _)| Arc::new(m)),
        read: current.read.clone(),
    }));
    Ok(())
}

/// A source's name: what a file name and a URL segment can hold.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[derive(Debug, Deserialize)]
pub(crate) struct UploadQuery {
    name: Option<String>,
    /// The format the uploader expects: refused when the content is read
    /// as another (`stix`, `misp`, `csv`, `list`, `threatfox`, `urlhaus`,
    /// `feodo`).
    format: Option<String>,
    tlp: Option<String>,
}

/// The format names of [`vigie_intel::Format`] as serde writes them.
fn format_key(f: vigie_intel::Format) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `POST /api/v1/indicators?name=&format=&tlp=`: a STIX bundle, a MISP
/// event, a CSV or a list as the body. What cannot be imported is
/// answered with its place and counted; nothing importable at all is 422
/// and nothing is kept.
pub(crate) async fn upload(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> Response {
    let Some(name) = q.name.filter(|n| valid_name(n)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "?name= is required: 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.'); a source of the same name is replaced",
        );
    };
    let tlp = match q.tlp.as_deref().map(|t| Tlp::parse(t).ok_or(t)) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(t)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("?tlp={t}: clear, green, amber, amber+strict or red"),
            )
        }
    };
    let (who, from) = who_and_from(&p, ci);
    let incoming = Incoming {
        name,
        body,
        tlp,
        format: q.format,
        who,
        from,
        feed: None,
    };
    match keep(&s, incoming).await {
        Ok((info, retrohunt)) => (
            if info.replaced {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            },
            Json(json!({ "source": info, "retrohunt": retrohunt })),
        )
            .into_response(),
        Err(r) => r.into_response(),
    }
}

/// Indicators arriving: an upload, or a feed's new version.
pub(crate) struct Incoming {
    pub(crate) name: String,
    pub(crate) body: Bytes,
    pub(crate) tlp: Option<Tlp>,
    /// The format expected (`?format=`), checked against the content.
    pub(crate) format: Option<String>,
    pub(crate) who: String,
    pub(crate) from: String,
    /// The feed it came from (its URL, secrets hidden).
    pub(crate) feed: Option<String>,
}

/// Why indicators were not kept: the status and the answer.
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) body: serde_json::Value,
}

impl Refused {
    fn new(status: StatusCode, message: &str) -> Refused {
        Refused {
            status,
            body: json!({ "error": message }),
        }
    }

    /// What a log line says of it.
    pub(crate) fn message(&self) -> String {
        self.body["error"].as_str().unwrap_or_default().to_string()
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Reads `incoming`, keeps it as a source (replacing one of the same
/// name), compiles and swaps the matcher, audits, and queues the
/// retro-hunt of the indicators the source did not hold before.
pub(crate) async fn keep(
    s: &Shared,
    incoming: Incoming,
) -> Result<(SourceInfo, Option<RetroRun>), Refused> {
    let Incoming {
        name,
        body,
        tlp,
        format,
        who,
        from,
        feed,
    } = incoming;
    let loc = location(&name);
    let read = {
        let body = body.clone();
        tokio::task::spawn_blocking(move || vigie_intel::import_bytes(&body, &loc)).await
    };
    let Ok(mut imported) = read else {
        return Err(Refused::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the import failed",
        ));
    };
    apply_tlp(&mut imported.indicators, tlp);
    let formats: BTreeSet<String> = imported
        .indicators
        .iter()
        .map(|i| format_key(i.source.format))
        .collect();
    if let Some(want) = format.as_deref() {
        if !formats.is_empty() && !formats.contains(want) {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                &format!(
                    "?format={want}, but the content reads as {} (the format is told by the content)",
                    formats.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let problems: Vec<Problem> = imported
        .problems
        .iter()
        .take(PROBLEMS_SHOWN)
        .cloned()
        .collect();
    if imported.indicators.is_empty() {
        s.console.audit(
            &who,
            &from,
            Action::IndicatorsAdd,
            &format!("{name}: nothing importable"),
            Outcome::Failure,
        );
        return Err(Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({
                "error": format!(
                    "no indicator could be imported: nothing kept ({})",
                    problems.first().map_or("empty".to_string(), |p| p.reason.clone())
                ),
                "left_out": imported.problems_total,
                "problems": problems,
            }),
        });
    }
    let mut held = s.intel.held.lock().await;
    let old: BTreeSet<(Box<str>, Box<str>)> = held
        .get(&name)
        .map(|h| {
            h.indicators
                .iter()
                .map(|i| (i.id.clone(), i.pattern.clone()))
                .collect()
        })
        .unwrap_or_default();
    let fresh: Vec<Indicator> = imported
        .indicators
        .iter()
        .filter(|i| !old.contains(&(i.id.clone(), i.pattern.clone())))
        .cloned()
        .collect();
    let (_, rejected) = {
        let ind = imported.indicators.clone();
        tokio::task::spawn_blocking(move || Matcher::compile(ind, MatchOptions::default()))
            .await
            .unwrap_or_else(|_| (Matcher::empty(), Default::default()))
    };
    let info = SourceInfo {
        name: name.clone(),
        formats: formats.into_iter().collect(),
        tlp,
        added_by: who.clone(),
        added_from: from.clone(),
        added_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        bytes: body.len(),
        sha256: hex(&sha2::Sha256::digest(&body)),
        imported: imported.indicators.len(),
        rejected: rejected.rejected,
        left_out: imported.problems_total.clone(),
        problems,
        replaced: held.contains_key(&name),
        feed,
    };
    // The version PostgreSQL gave this write (with `--db`).
    let mut written = None;
    let kept: Result<(), String> = match (&s.intel.shared, &s.intel.embedded) {
        (Some((db, _)), _) => match serde_json::to_string(&info) {
            Ok(i) => db
                .put(&vigie_db::IndicatorSource {
                    name: name.clone(),
                    info: i,
                    src: body.to_vec(),
                })
                .await
                .map(|v| written = Some(v))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        (None, Some(store)) => match serde_json::to_string_pretty(&info) {
            Ok(i) => store
                .put(vigie_state::IndicatorSource {
                    name: name.clone(),
                    info: i,
                    src: body.to_vec(),
                })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        (None, None) => Err("no store for the indicators".into()),
    };
    if let Err(e) = kept {
        return Err(Refused::new(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("not kept, send again: {e}"),
        ));
    }
    held.insert(
        name.clone(),
        Held {
            info: info.clone(),
            indicators: imported.indicators,
        },
    );
    if let Err(e) = swap(s, &held).await {
        return Err(Refused::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("kept but not applied: {e}"),
        ));
    }
    s.intel.own_write(written);
    drop(held);
    let left_out: usize = info.left_out.values().sum::<usize>() + info.rejected.len();
    s.console.audit(
        &who,
        &from,
        Action::IndicatorsAdd,
        &format!(
            "{name}: {} imported, {} new, {left_out} left out{}",
            info.imported,
            fresh.len(),
            if info.replaced {
                ", replacing the source of the same name"
            } else {
                ""
            }
        ),
        Outcome::Success,
    );
    let retrohunt = (!fresh.is_empty()).then(|| s.intel.enqueue(&name, fresh));
    Ok((info, retrohunt))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Intel {
    /// Queues a retro-hunt of `indicators` (run one at a time); its run.
    fn enqueue(&self, source: &str, indicators: Vec<Indicator>) -> RetroRun {
        let id = format!(
            "{}-{:08x}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
            rand::random::<u32>()
        );
        let run = RetroRun {
            id: id.clone(),
            source: source.to_string(),
            indicators: indicators.len(),
            state: "queued",
            started: None,
            seconds: None,
            events_read: None,
            detections: None,
            new_detections: None,
            error: None,
            ..RetroRun::default()
        };
        self.record(run.clone());
        if self
            .queue
            .send(Job {
                id,
                source: source.to_string(),
                indicators,
            })
            .is_err()
        {
            let mut failed = run.clone();
            failed.state = "failed";
            failed.error = Some("the retro-hunt queue is closed".into());
            self.record(failed.clone());
            return failed;
        }
        run
    }

    /// Whether source `name` holds exactly these bytes now.
    pub(crate) async fn holds(&self, name: &str, sha256: &str) -> bool {
        let held = self.held.lock().await;
        held.get(name).is_some_and(|h| h.info.sha256 == sha256)
    }

    /// Keeps a run's latest state (the last [`RUNS_SHOWN`]).
    fn record(&self, run: RetroRun) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        match runs.iter_mut().find(|r| r.id == run.id) {
            Some(r) => *r = run,
            None => runs.push(run),
        }
        let excess = runs.len().saturating_sub(RUNS_SHOWN);
        runs.drain(..excess);
    }
}

/// `GET /api/v1/indicators`: the sources with their counts, the `--ioc`
/// ones, what is compiled, how many have expired, the retro-hunts.
pub(crate) async fn list(State(s): State<Shared>, ReadTenant(_): ReadTenant) -> Response {
    let now = chrono::Utc::now();
    let expired = |i: &Indicator| i.valid_until.is_some_and(|t| t < now);
    let held = s.intel.held.lock().await;
    let sources: Vec<_> = held
        .values()
        .map(|h| {
            let mut v = serde_json::to_value(&h.info).unwrap_or_default();
            v["expired"] = json!(h.indicators.iter().filter(|i| expired(i)).count());
            v
        })
        .collect();
    let uploaded: usize = held.values().map(|h| h.indicators.len()).sum();
    let uploaded_expired: usize = held
        .values()
        .map(|h| h.indicators.iter().filter(|i| expired(i)).count())
        .sum();
    drop(held);
    let fixed_expired = s.intel.fixed.iter().filter(|i| expired(i)).count();
    let (compiled, rejected) = *s.intel.compiled.lock().unwrap_or_else(|e| e.into_inner());
    let runs = s
        .intel
        .runs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Json(json!({
        "indicators": uploaded + s.intel.fixed.len(),
        "compiled": compiled,
        "rejected": rejected,
        "expired": uploaded_expired + fixed_expired,
        "sources": sources,
        "ioc": s.intel.fixed_report.as_ref().map(|r| json!({
            "sources": r.sources,
            "imported": r.imported,
            "expired": fixed_expired,
            "left_out": r.not_imported,
        })),
        "retrohunts": runs,
    }))
    .into_response()
}

/// `DELETE /api/v1/indicators/{source}` (admin): the source removed, its
/// indicators stop matching new events; the detections they raised stay.
pub(crate) async fn remove(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    let (who, from) = who_and_from(&p, ci);
    let mut held = s.intel.held.lock().await;
    let Some(gone) = held.remove(&name) else {
        return error(StatusCode::NOT_FOUND, &format!("no source {name}"));
    };
    let mut written = None;
    // Gone from another node since this one read them: removed all the
    // same.
    let removed: Result<(), String> = match (&s.intel.shared, &s.intel.embedded) {
        (Some((db, _)), _) => db
            .remove(&name)
            .await
            .map(|v| written = v)
            .map_err(|e| e.to_string()),
        (None, Some(store)) => store
            .remove(&name)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        (None, None) => Err("no store for the indicators".into()),
    };
    if let Err(e) = removed {
        held.insert(name.clone(), gone);
        return crate::unavailable(&format!("not removed: {e}"));
    }
    if let Err(e) = swap(&s, &held).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("removed but not applied: {e}"),
        );
    }
    s.intel.own_write(written);
    drop(held);
    s.console.audit(
        &who,
        &from,
        Action::IndicatorsRemove,
        &format!("{name}: {} indicator(s)", gone.indicators.len()),
        Outcome::Success,
    );
    Json(json!({ "removed": name, "indicators": gone.indicators.len() })).into_response()
}
