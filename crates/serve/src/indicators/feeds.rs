//! Indicator feeds polled on a schedule (`--ioc-feed URL`, `ioc_feeds` in
//! the configuration file, every `--ioc-poll`): a CERT-FR list, a MISP
//! instance's export, an abuse.ch CSV, a CSIRT's STIX document (one
//! document, fetched whole when it changed); a MISP feed (`manifest.json`
//! and one file per event: only the events whose timestamp changed are
//! fetched); a TAXII 2.1 collection (only the objects added after the
//! last poll, `X-TAXII-Date-Added-Last`, page by page).
//!
//! Credentials (a MISP key, basic auth, a bearer token) come from the
//! configuration file, an environment variable or a file, never from the
//! command line; they are never printed, served nor written (`Debug` of
//! [`Feed`] and [`Auth`] names the kind only; error messages have them
//! replaced by `***`).
//!
//! Each feed is a source like an upload (`feed-<hash of its URL>`), kept
//! on disk, so a feed down at start still has its last version matched.
//! Polls send the validators of the version held (`If-None-Match`,
//! `If-Modified-Since`): an unchanged feed costs a `304` and changes
//! nothing. A failure is said on stderr (the URL's secrets hidden),
//! counted in `/api/v1/stats` and tried again (after 1 minute, then
//! doubling up to the poll interval); the indicators held stay.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;
use sha2::Digest;
use vigie_intel::http::{redact_url, Validators};
use vigie_intel::taxii::client::{Endpoint, PollState};
use vigie_intel::Auth;

use super::{hex, keep, Incoming};
use crate::Shared;

/// Largest feed document read (as `hunt --ioc` reads one).
const MAX_FEED: u64 = vigie_intel::import::MAX_DOCUMENT;

/// Most events a MISP feed may list, and most objects a TAXII collection
/// may hold, for one source: beyond, the poll fails (said), the version
/// held stays. A feed is a commune's CSIRT's, not a whole MISP community.
const MAX_EVENTS: usize = 100_000;
const MAX_OBJECTS: usize = vigie_intel::taxii::client::MAX_OBJECTS;
/// Most bytes of events one MISP poll reads in all (each event is also
/// at most [`MAX_FEED`]): 100,000 events of 512 MiB each must not be
/// fetched in one go. Beyond, the poll fails (said), the version held
/// stays. TAXII pages have the same budget in the client.
const MAX_POLL_BYTES: u64 = vigie_intel::taxii::client::MAX_POLL_BYTES;

/// The first retry after a failure; doubled each time, up to the poll
/// interval.
const RETRY: Duration = Duration::from_secs(60);

/// With `--db`, how long one node's lease of a feed lasts: longer than a
/// poll takes (a MISP feed's events, a TAXII collection's pages, within
/// their bounds); a node that died polling frees the feed then.
const LEASE_SECS: i64 = 15 * 60;

/// This process, as a feed's lease names it.
fn holder() -> &'static str {
    static HOLDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOLDER.get_or_init(|| format!("{:08x} (pid {})", rand::random::<u32>(), std::process::id()))
}

/// The feeds' counters (`/api/v1/stats`), and each feed's last poll.
#[derive(Debug, Default)]
pub struct FeedStats {
    pub polls: AtomicU64,
    pub not_modified: AtomicU64,
    pub updated: AtomicU64,
    pub failures: AtomicU64,
    /// By source name: what an administrator may see of each feed (its
    /// URL with the secrets hidden, the kind of its credentials, never
    /// them) and of its last poll.
    each: Mutex<BTreeMap<String, serde_json::Value>>,
}

impl FeedStats {
    pub fn json(&self) -> serde_json::Value {
        let each = self.each.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::json!({
            "polls": self.polls.load(Ordering::Relaxed),
            "not_modified": self.not_modified.load(Ordering::Relaxed),
            "updated": self.updated.load(Ordering::Relaxed),
            "failures": self.failures.load(Ordering::Relaxed),
            "feeds": each.values().cloned().collect::<Vec<_>>(),
        })
    }

    /// Records a feed's last poll: `outcome` (`updated`, `not_modified`,
    /// `failed`), what it fetched (documents, events or objects) and the
    /// pages read.
    ///
    /// The last poll that brought a new version is kept apart
    /// (`last_updated`: when, what it fetched, its pages): the next poll,
    /// a `304` a second later, replaces `last_outcome` but must not hide
    /// from an administrator (or a test) what the feed last brought.
    fn last(&self, feed: &Feed, outcome: &str, fetched: usize, pages: usize, error: Option<&str>) {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut each = self.each.lock().unwrap_or_else(|e| e.into_inner());
        let last_updated = if outcome == "updated" {
            serde_json::json!({ "at": at, "fetched": fetched, "pages": pages })
        } else {
            each.get(&feed.name())
                .map(|f| f["last_updated"].clone())
                .unwrap_or(serde_json::Value::Null)
        };
        each.insert(
            feed.name(),
            serde_json::json!({
                "source": feed.name(),
                "url": feed.shown(),
                "kind": feed.kind().key(),
                "auth": feed.auth.kind(),
                "last_poll": at,
                "last_outcome": outcome,
                "fetched": fetched,
                "pages": pages,
                "error": error,
                "last_updated": last_updated,
            }),
        );
    }
}

/// What a feed's URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// One document (STIX, MISP event, CSV, list): `http(s)://…`.
    Document,
    /// A MISP feed: `misp+http(s)://…/` (its directory) or any
    /// `http(s)://…/manifest.json`.
    Misp,
    /// A TAXII 2.1 collection: `taxii+http(s)://…/collections/ID/`.
    Taxii,
}

impl FeedKind {
    fn key(self) -> &'static str {
        match self {
            FeedKind::Document => "document",
            FeedKind::Misp => "misp-feed",
            FeedKind::Taxii => "taxii",
        }
    }
}

/// A feed polled: its URL as configured (the kind in its scheme), the
/// credentials it is fetched with, the certificate authority it trusts.
#[derive(Clone)]
pub struct Feed {
    url: String,
    pub auth: Auth,
    /// PEM certificates trusted for this feed only (a CSIRT's own CA);
    /// `None`: the public roots.
    ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("url", &self.shown())
            .field("auth", &self.auth)
            .field("ca", &self.ca.is_some())
            .finish()
    }
}

impl Feed {
    /// A feed at `url` (`http(s)://`, `misp+http(s)://`,
    /// `taxii+http(s)://`); the error hides the URL's secrets.
    pub fn new(url: &str, auth: Auth, ca: Option<Vec<u8>>) -> Result<Feed, String> {
        let plain = url
            .strip_prefix("taxii+")
            .or_else(|| url.strip_prefix("misp+"))
            .unwrap_or(url);
        if !(plain.starts_with("http://") || plain.starts_with("https://")) {
            return Err(format!(
                "ioc feed {}: an http(s):// URL (a document or a MISP feed's manifest.json), misp+https://…/ (a MISP feed) or taxii+https://…/collections/ID/ (a TAXII 2.1 collection)",
                redact_url(url)
            ));
        }
        let credentials = !matches!(auth, Auth::None) || vigie_intel::http::has_credentials(plain);
        if plain.starts_with("http://") && credentials && !vigie_intel::http::loopback(plain) {
            return Err(format!(
                "ioc feed {}: its credentials would cross the network in clear over http://: https:// (http:// is taken for a loopback address only)",
                redact_url(url)
            ));
        }
        if let Some(pem) = &ca {
            // Said at start, not at the first poll an hour later.
            vigie_intel::http::agent_trusting(Some(pem))
                .map_err(|e| format!("ioc feed {}: ca: {e}", redact_url(url)))?;
        }
        Ok(Feed {
            url: url.to_string(),
            auth,
            ca,
        })
    }

    /// A feed of the configuration file: a URL alone, or a table with
    /// its credentials (`auth`: `basic`, `bearer`, `misp`; the secret
    /// from `secret`, `secret_env` or `secret_file`) and `ca`.
    pub fn from_entry(entry: &FeedEntry) -> Result<Feed, String> {
        let t = match entry {
            FeedEntry::Url(u) => return Feed::new(u, Auth::None, None),
            FeedEntry::With(t) => t,
        };
        let shown = redact_url(&t.url);
        let secret = || -> Result<String, String> {
            let given = [
                t.secret.is_some(),
                t.secret_env.is_some(),
                t.secret_file.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(format!(
                    "ioc feed {shown}: auth = \"{}\" needs one of secret, secret_env, secret_file",
                    t.auth.as_deref().unwrap_or_default()
                ));
            }
            let value = if let Some(v) = &t.secret {
                v.clone()
            } else if let Some(name) = &t.secret_env {
                std::env::var(name).map_err(|_| {
                    format!("ioc feed {shown}: the environment variable {name} is not set")
                })?
            } else {
                let path = t.secret_file.as_deref().unwrap_or(Path::new(""));
                std::fs::read_to_string(path)
                    .map_err(|e| format!("ioc feed {shown}: {}: {e}", path.display()))?
            };
            let value = value.trim().to_string();
            if value.is_empty() {
                return Err(format!("ioc feed {shown}: the secret is empty"));
            }
            Ok(value)
        };
        let auth = match t.auth.as_deref().unwrap_or("none") {
            "none" => Auth::None,
            "basic" => Auth::Basic {
                user: t
                    .user
                    .clone()
                    .ok_or_else(|| format!("ioc feed {shown}: auth = \"basic\" needs user"))?,
                password: secret()?,
            },
            "bearer" => Auth::Bearer(secret()?),
            // MISP's own header: `Authorization: <key>`.
            "misp" => Auth::Header {
                name: "Authorization".into(),
                value: secret()?,
            },
            other => {
                return Err(format!(
                    "ioc feed {shown}: auth = \"{other}\": none, basic, bearer or misp"
                ))
            }
        };
        let ca = match &t.ca {
            Some(p) => Some(
                std::fs::read(p)
                    .map_err(|e| format!("ioc feed {shown}: ca {}: {e}", p.display()))?,
            ),
            None => None,
        };
        Feed::new(&t.url, auth, ca)
    }

    /// The source name it is kept as: stable for its URL, secret-free.
    pub fn name(&self) -> String {
        source_name(&self.url)
    }

    /// Its URL as it may be shown (secrets hidden).
    pub fn shown(&self) -> String {
        redact_url(&self.url)
    }

    pub fn kind(&self) -> FeedKind {
        if self.url.starts_with("taxii+") {
            FeedKind::Taxii
        } else if self.url.starts_with("misp+") || self.http_url().ends_with("/manifest.json") {
            FeedKind::Misp
        } else {
            FeedKind::Document
        }
    }

    /// The URL fetched (without the kind's prefix).
    fn http_url(&self) -> &str {
        self.url
            .strip_prefix("taxii+")
            .or_else(|| self.url.strip_prefix("misp+"))
            .unwrap_or(&self.url)
    }

    /// `message` with the credentials and the URL's secrets hidden.
    fn hide(&self, message: &str) -> String {
        let mut m = hidden(&self.url, message);
        m = m.replace(self.http_url(), &redact_url(self.http_url()));
        for secret in self.auth.secrets() {
            if !secret.is_empty() {
                m = m.replace(secret, "***");
            }
        }
        m
    }
}

/// A feed in the configuration file's `ioc_feeds`: a URL, or a table
/// with its credentials.
#[derive(Clone)]
pub enum FeedEntry {
    Url(String),
    With(FeedTable),
}

/// By hand rather than `untagged`: a table is read as a [`FeedTable`], so
/// a misspelt key is said by name at its line (`untagged` would only say
/// that nothing matched, at the table's header).
impl<'de> Deserialize<'de> for FeedEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FeedEntry, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = FeedEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a feed's URL or a table { url = …, auth = …, secret_file = … }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FeedEntry, E> {
                Ok(FeedEntry::Url(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<FeedEntry, A::Error> {
                FeedTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(FeedEntry::With)
            }
        }
        d.deserialize_any(Entry)
    }
}

impl std::fmt::Debug for FeedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedEntry::Url(u) => write!(f, "{}", redact_url(u)),
            FeedEntry::With(t) => write!(
                f,
                "{} (auth {})",
                redact_url(&t.url),
                t.auth.as_deref().unwrap_or("none")
            ),
        }
    }
}

/// `{ url = "…", auth = "misp", secret_file = "…" }`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedTable {
    pub url: String,
    /// `none` (default), `basic`, `bearer`, `misp` (`Authorization: <key>`).
    pub auth: Option<String>,
    /// The user of `basic`.
    pub user: Option<String>,
    /// The secret itself (keep the file readable by the service only)…
    pub secret: Option<String>,
    /// …or the environment variable that holds it…
    pub secret_env: Option<String>,
    /// …or a file that holds it (trimmed).
    pub secret_file: Option<PathBuf>,
    /// PEM certificates to trust for this feed only.
    pub ca: Option<PathBuf>,
}

impl FeedTable {
    /// Paths relative to the configuration file's directory.
    pub fn resolve(&mut self, base: &Path) {
        for p in [&mut self.secret_file, &mut self.ca].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }
}

/// The source name of a feed: stable for its URL, secret-free.
pub fn source_name(url: &str) -> String {
    let d = sha2::Sha256::digest(url.as_bytes());
    let hex: String = d[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("feed-{hex}")
}

/// What an error message about `url` may say: its secrets hidden.
fn hidden(url: &str, message: &str) -> String {
    vigie_hunt::indicators::hide_secrets(url, message)
}

/// Polls every feed of the configuration, for as long as the server runs.
pub(crate) async fn run(s: Shared, feeds: Vec<Feed>, every: Duration) {
    let mut tasks = Vec::new();
    for feed in feeds {
        tasks.push(tokio::spawn(poll_one(s.clone(), feed, every)));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// What a feed's poll remembers between polls.
#[derive(Default)]
struct Memory {
    /// A document's validators, or a MISP feed manifest's.
    validators: Validators,
    /// A MISP feed's events held: UUID to (timestamp, event).
    events: BTreeMap<String, (String, Json)>,
    /// A TAXII collection's objects held, by id, and where to resume.
    objects: BTreeMap<String, Json>,
    taxii: PollState,
}

/// What one poll brought.
enum Fetched {
    /// Nothing new (a `304`, the same manifest, no object added).
    Unchanged { fetched: usize, pages: usize },
    /// A new version of the source: its bytes, and what to remember once
    /// it is kept.
    Changed {
        body: Vec<u8>,
        fetched: usize,
        pages: usize,
        remember: Box<Memory>,
    },
}

async fn poll_one(s: Shared, feed: Feed, every: Duration) {
    let name = feed.name();
    let shown = feed.shown();
    let agent = match vigie_intel::http::agent_trusting(feed.ca.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            s.intel.feeds.failures.fetch_add(1, Ordering::Relaxed);
            s.intel.feeds.last(&feed, "failed", 0, 0, Some(&e));
            eprintln!("vigie serve: feed {shown}: ca: {e}; not polled");
            return;
        }
    };
    // What the kept version holds (a MISP feed's events, a TAXII
    // collection's objects): a poll fetches only what changed since.
    // Without `--db`, the version kept in `state.db`.
    // With `--db`, it is read when this node takes the lease, and again
    // whenever another node kept a version since (else a node taking a
    // feed over would resume from the other's `added_after` onto its own
    // stale objects and write a version without what the other fetched).
    let db = s.intel.shared.as_ref().map(|(db, _)| db.clone());
    let kind = feed.kind();
    let mut memory = match &db {
        Some(_) => Memory::default(),
        None => {
            let kept = match &s.intel.embedded {
                Some(store) => store.src(&name).await.unwrap_or_else(|e| {
                    eprintln!(
                        "vigie serve: feed {shown}: the version kept not read ({e}): fetched whole"
                    );
                    None
                }),
                None => None,
            };
            tokio::task::spawn_blocking(move || {
                kept.map(|b| remembered(kind, &b)).unwrap_or_default()
            })
            .await
            .unwrap_or_default()
        }
    };
    // The version of the source `memory` holds (`Some(None)`: read, none
    // kept); `None`: not read yet.
    let mut held: Option<Option<i64>> = None;
    let mut retry = RETRY;
    let mut said_waiting = false;
    loop {
        // With `--db`: one detect node polls a feed at a time, when it is
        // due; the others read its version as they read uploads.
        let leased = match &db {
            None => false,
            Some(db) => match db.lease_feed(&name, holder(), LEASE_SECS).await {
                Ok(vigie_db::FeedLease::Taken(polled)) => {
                    // The source as kept now, when another node kept it
                    // since this one read or wrote it. A database error
                    // is a failed poll, never "nothing held".
                    let reread = match db.src_version(&name).await {
                        Ok(v) if held == Some(v) => Ok(None),
                        Ok(v) => db.src(&name).await.map(|src| Some((v, src))),
                        Err(e) => Err(e),
                    };
                    match reread {
                        Ok(None) => {}
                        Ok(Some((v, src))) => {
                            memory = tokio::task::spawn_blocking(move || {
                                src.map(|b| remembered(kind, &b)).unwrap_or_default()
                            })
                            .await
                            .unwrap_or_default();
                            held = Some(v);
                        }
                        Err(e) => {
                            let e = format!("its version kept in PostgreSQL: {e}");
                            s.intel.feeds.failures.fetch_add(1, Ordering::Relaxed);
                            s.intel.feeds.last(&feed, "failed", 0, 0, Some(&e));
                            eprintln!(
                                "vigie serve: feed {shown}: {e}; polled again in {} s",
                                RETRY.min(every).as_secs()
                            );
                            tokio::time::sleep(RETRY.min(every)).await;
                            continue;
                        }
                    }
                    // What the last poll learnt, whichever node made it:
                    // an unchanged feed is a `304`, not a new download.
                    memory.validators = Validators {
                        etag: polled.etag,
                        last_modified: polled.last_modified,
                    };
                    if let Some(t) = polled.taxii.and_then(|t| serde_json::from_str(&t).ok()) {
                        memory.taxii = t;
                    }
                    said_waiting = false;
                    true
                }
                Ok(vigie_db::FeedLease::NotBefore(wait)) => {
                    if !said_waiting {
                        eprintln!("vigie serve: feed {shown}: polled by another node now (its version is read from PostgreSQL)");
                        said_waiting = true;
                    }
                    let wait = wait.clamp(1, every.as_secs().max(1) as i64);
                    tokio::time::sleep(Duration::from_secs(wait as u64)).await;
                    continue;
                }
                Err(e) => {
                    eprintln!("vigie serve: feed {shown}: its lease in PostgreSQL: {e}; asked again in {} s", RETRY.min(every).as_secs());
                    tokio::time::sleep(RETRY.min(every)).await;
                    continue;
                }
            },
        };
        s.intel.feeds.polls.fetch_add(1, Ordering::Relaxed);
        let fetched = {
            let (agent, feed, known) = (agent.clone(), feed.clone(), memory.snapshot());
            tokio::task::spawn_blocking(move || fetch(&agent, &feed, &known))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r)
        };
        let outcome: Result<(), String> = match fetched {
            Ok(Fetched::Unchanged { fetched, pages }) => {
                s.intel.feeds.not_modified.fetch_add(1, Ordering::Relaxed);
                s.intel
                    .feeds
                    .last(&feed, "not_modified", fetched, pages, None);
                Ok(())
            }
            Ok(Fetched::Changed {
                body,
                fetched,
                pages,
                remember,
            }) if s
                .intel
                .holds(&name, &hex(&sha2::Sha256::digest(&body)))
                .await =>
            {
                // The same bytes again (a server without validators).
                memory = *remember;
                s.intel.feeds.not_modified.fetch_add(1, Ordering::Relaxed);
                s.intel
                    .feeds
                    .last(&feed, "not_modified", fetched, pages, None);
                Ok(())
            }
            Ok(Fetched::Changed {
                body,
                fetched,
                pages,
                remember,
            }) => {
                let incoming = Incoming {
                    name: name.clone(),
                    body: body.into(),
                    tlp: None,
                    format: None,
                    who: "feed".into(),
                    from: shown.clone(),
                    feed: Some(shown.clone()),
                };
                match keep(&s, incoming).await {
                    Ok((info, run)) => {
                        memory = *remember;
                        // The version this node wrote (it holds the
                        // lease); unknown after an error: read again.
                        if let Some(db) = &db {
                            held = db.src_version(&name).await.ok();
                        }
                        s.intel.feeds.updated.fetch_add(1, Ordering::Relaxed);
                        s.intel.feeds.last(&feed, "updated", fetched, pages, None);
                        eprintln!(
                            "vigie serve: feed {shown}: {} indicator(s) ({}){}",
                            info.imported,
                            name,
                            run.map_or(String::new(), |r| format!(
                                ", retro-hunt {} of {} new",
                                r.id, r.indicators
                            ))
                        );
                        Ok(())
                    }
                    Err(r) => Err(r.message()),
                }
            }
            Err(e) => Err(e),
        };
        let wait = match outcome {
            Ok(()) => {
                retry = RETRY;
                every
            }
            Err(e) => {
                let e = feed.hide(&e);
                s.intel.feeds.failures.fetch_add(1, Ordering::Relaxed);
                s.intel.feeds.last(&feed, "failed", 0, 0, Some(&e));
                let wait = retry.min(every);
                eprintln!(
                    "vigie serve: feed {shown}: {e}; the indicators held are kept; tried again in {} s",
                    wait.as_secs()
                );
                retry = (retry * 2).min(every);
                wait
            }
        };
        if let (true, Some(db)) = (leased, &db) {
            let polled = vigie_db::FeedPolled {
                etag: memory.validators.etag.clone(),
                last_modified: memory.validators.last_modified.clone(),
                taxii: serde_json::to_string(&memory.taxii).ok(),
            };
            if let Err(e) = db
                .polled_feed(&name, holder(), &polled, wait.as_secs() as i64)
                .await
            {
                // Its lease ends by itself; the next poll starts afresh.
                eprintln!("vigie serve: feed {shown}: its poll not kept in PostgreSQL: {e}");
            }
        }
        tokio::time::sleep(wait).await;
    }
}

impl Memory {
    fn snapshot(&self) -> Memory {
        Memory {
            validators: self.validators.clone(),
            events: self.events.clone(),
            objects: self.objects.clone(),
            taxii: self.taxii.clone(),
        }
    }
}

/// What the kept version of a feed holds, read back at start: a MISP
/// feed's events (the kept document is their list), a TAXII collection's
/// objects (the kept document is their bundle). Nothing for a document,
/// nor when nothing is kept: the first poll fetches everything.
fn remembered(kind: FeedKind, src: &[u8]) -> Memory {
    let mut m = Memory::default();
    if kind == FeedKind::Document {
        return m;
    }
    let Ok(doc) = serde_json::from_slice::<Json>(src) else {
        return m;
    };
    match kind {
        FeedKind::Misp => {
            for e in doc.as_array().into_iter().flatten() {
                if let (Some(uuid), Some(ts)) = (
                    e["Event"]["uuid"].as_str(),
                    timestamp(&e["Event"]["timestamp"]),
                ) {
                    m.events.insert(uuid.to_string(), (ts, e.clone()));
                }
            }
        }
        FeedKind::Taxii => {
            for o in doc["objects"].as_array().into_iter().flatten() {
                if let Some(id) = o["id"].as_str() {
                    m.objects.insert(id.to_string(), o.clone());
                }
            }
        }
        FeedKind::Document => {}
    }
    m
}

/// A MISP timestamp, string or number, as a string.
fn timestamp(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One poll of `feed`, blocking.
fn fetch(agent: &ureq::Agent, feed: &Feed, known: &Memory) -> Result<Fetched, String> {
    match feed.kind() {
        FeedKind::Document => {
            let f = vigie_intel::http::get_if_changed(
                agent,
                feed.http_url(),
                &feed.auth,
                None,
                &known.validators,
                MAX_FEED,
            )?;
            let Some(body) = f.body else {
                return Ok(Fetched::Unchanged {
                    fetched: 0,
                    pages: 1,
                });
            };
            Ok(Fetched::Changed {
                body,
                fetched: 1,
                pages: 1,
                remember: Box::new(Memory {
                    validators: Validators {
                        etag: f.etag,
                        last_modified: f.last_modified,
                    },
                    ..Memory::default()
                }),
            })
        }
        FeedKind::Misp => fetch_misp(agent, feed, known),
        FeedKind::Taxii => fetch_taxii(agent, feed, known),
    }
}

/// A MISP feed: its manifest (with its validators), then only the events
/// that are new or whose timestamp changed; the others are the ones held.
/// The source kept is the list of every event the manifest lists. An
/// event that cannot be fetched fails the poll (nothing changes, tried
/// again): a partial feed must not remove what was held.
fn fetch_misp(agent: &ureq::Agent, feed: &Feed, known: &Memory) -> Result<Fetched, String> {
    let url = feed.http_url();
    let base = url.strip_suffix("manifest.json").unwrap_or(url);
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let manifest_url = format!("{base}manifest.json");
    let f = vigie_intel::http::get_if_changed(
        agent,
        &manifest_url,
        &feed.auth,
        None,
        &known.validators,
        MAX_FEED,
    )
    .map_err(|e| format!("manifest.json: {e}"))?;
    let Some(bytes) = f.body else {
        return Ok(Fetched::Unchanged {
            fetched: 0,
            pages: 1,
        });
    };
    let manifest: Json =
        serde_json::from_slice(&bytes).map_err(|e| format!("manifest.json: not JSON: {e}"))?;
    if !vigie_intel::import::is_misp_manifest(&manifest)
        && manifest.as_object().is_none_or(|o| !o.is_empty())
    {
        return Err(
            "manifest.json: not a MISP feed manifest (event UUIDs to {info, Orgc, timestamp…})"
                .into(),
        );
    }
    let listed = manifest.as_object().map_or(0, |o| o.len());
    if listed > MAX_EVENTS {
        return Err(format!(
            "manifest.json lists {listed} events: more than the {MAX_EVENTS} a feed may hold"
        ));
    }
    let mut events = BTreeMap::new();
    let mut fetched = 0;
    let mut read: u64 = 0;
    for (uuid, entry) in manifest.as_object().into_iter().flatten() {
        if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(format!("manifest.json: '{uuid}' is not an event UUID"));
        }
        let ts = timestamp(&entry["timestamp"]);
        if let (Some(ts), Some((held_ts, event))) = (&ts, known.events.get(uuid)) {
            if ts == held_ts {
                events.insert(uuid.clone(), (ts.clone(), event.clone()));
                continue;
            }
        }
        let left = MAX_POLL_BYTES.saturating_sub(read);
        let over_budget =
            || format!("more than {MAX_POLL_BYTES} bytes of events in one poll: not taken");
        if left == 0 {
            return Err(over_budget());
        }
        let limit = MAX_FEED.min(left);
        let got = vigie_intel::http::get(
            agent,
            &format!("{base}{uuid}.json"),
            &feed.auth,
            None,
            None,
            limit,
        )
        .map_err(|e| {
            if limit < MAX_FEED && e.contains(&limit.to_string()) {
                over_budget()
            } else {
                format!("{uuid}.json: {e}")
            }
        })?;
        read += got.body.as_ref().map_or(0, |b| b.len() as u64);
        fetched += 1;
        let event: Json = serde_json::from_slice(&got.body.unwrap_or_default())
            .map_err(|e| format!("{uuid}.json: not JSON: {e}"))?;
        if event["Event"].is_null() {
            return Err(format!("{uuid}.json: not a MISP event"));
        }
        let ts = ts
            .or_else(|| timestamp(&event["Event"]["timestamp"]))
            .unwrap_or_default();
        events.insert(uuid.clone(), (ts, event));
    }
    let validators = Validators {
        etag: f.etag,
        last_modified: f.last_modified,
    };
    let same = events.len() == known.events.len()
        && events
            .iter()
            .all(|(u, (t, _))| known.events.get(u).is_some_and(|(k, _)| k == t));
    if same {
        return Ok(Fetched::Unchanged { fetched, pages: 1 });
    }
    let list: Vec<&Json> = events.values().map(|(_, e)| e).collect();
    let body = serde_json::to_vec(&list).map_err(|e| e.to_string())?;
    Ok(Fetched::Changed {
        body,
        fetched,
        pages: 1,
        remember: Box::new(Memory {
            validators,
            events,
            ..Memory::default()
        }),
    })
}

/// A TAXII 2.1 collection: the objects added after the last poll
/// (`added_after` from `X-TAXII-Date-Added-Last`, `next` followed), added
/// to those held (a newer version of an object replaces it). The source
/// kept is a bundle of every object held, in id order.
fn fetch_taxii(agent: &ureq::Agent, feed: &Feed, known: &Memory) -> Result<Fetched, String> {
    let endpoint = Endpoint {
        collection_url: feed.http_url().to_string(),
        auth: feed.auth.clone(),
    };
    let polled = vigie_intel::taxii::client::poll_with(agent, &endpoint, &known.taxii)
        .map_err(|e| e.reason)?;
    let mut remember = Memory {
        taxii: polled.state.clone(),
        objects: known.objects.clone(),
        ..Memory::default()
    };
    if polled.not_modified || polled.received.is_empty() {
        return Ok(Fetched::Unchanged {
            fetched: polled.objects,
            pages: polled.pages,
        });
    }
    for o in polled.received {
        let Some(id) = o["id"].as_str().map(str::to_string) else {
            continue;
        };
        let newer = remember
            .objects
            .get(&id)
            .is_none_or(|held| held["modified"].as_str() <= o["modified"].as_str());
        if newer {
            remember.objects.insert(id, o);
        }
    }
    if remember.objects.len() > MAX_OBJECTS {
        return Err(format!(
            "{} objects: more than the {MAX_OBJECTS} a collection may hold",
            remember.objects.len()
        ));
    }
    let bundle = serde_json::json!({
        "type": "bundle",
        "id": format!("bundle--{}", vigie_intel::ids::uuid_from(&format!("feed\u{0}{}", feed.name()))),
        "objects": remember.objects.values().collect::<Vec<_>>(),
    });
    let body = serde_json::to_vec(&bundle).map_err(|e| e.to_string())?;
    Ok(Fetched::Changed {
        body,
        fetched: polled.objects,
        pages: polled.pages,
        remember: Box::new(remember),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(toml_text: &str) -> FeedEntry {
        #[derive(Deserialize)]
        struct F {
            ioc_feeds: Vec<FeedEntry>,
        }
        let f: F = toml::from_str(toml_text).unwrap();
        f.ioc_feeds.into_iter().next().unwrap()
    }

    #[test]
    fn credentials_come_from_the_file_the_environment_or_a_file_and_are_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("misp.key");
        std::fs::write(&key, "K3y-from-file\n").unwrap();
        let mut e = table(
            "ioc_feeds = [{ url = \"misp+https://misp.example/feed/\", auth = \"misp\", secret_file = \"misp.key\" }]",
        );
        if let FeedEntry::With(t) = &mut e {
            t.resolve(dir.path());
        }
        let f = Feed::from_entry(&e).unwrap();
        assert_eq!(f.kind(), FeedKind::Misp);
        assert!(
            matches!(&f.auth, Auth::Header { name, value } if name == "Authorization" && value == "K3y-from-file")
        );
        assert!(!format!("{f:?} {e:?}").contains("K3y"));
        assert_eq!(f.hide("refused K3y-from-file"), "refused ***");

        // A name no other test reads.
        std::env::set_var("VIGIE_FEEDS_TEST_TOKEN", "t0ken-env");
        let f = Feed::from_entry(&table(
            "ioc_feeds = [{ url = \"taxii+https://t.example/api1/collections/x/\", auth = \"bearer\", secret_env = \"VIGIE_FEEDS_TEST_TOKEN\" }]",
        ))
        .unwrap();
        assert_eq!(f.kind(), FeedKind::Taxii);
        assert_eq!(f.http_url(), "https://t.example/api1/collections/x/");
        assert!(matches!(&f.auth, Auth::Bearer(t) if t == "t0ken-env"));
        assert!(!format!("{f:?}").contains("t0ken"));

        // Errors name the feed and the key, never a secret.
        let e = Feed::from_entry(&table(
            "ioc_feeds = [{ url = \"https://x.example/a.txt?key=S3CR3T\", auth = \"bearer\", secret_env = \"VIGIE_FEEDS_TEST_UNSET\" }]",
        ))
        .unwrap_err();
        assert!(
            e.contains("VIGIE_FEEDS_TEST_UNSET") && !e.contains("S3CR3T"),
            "{e}"
        );
        let e = Feed::from_entry(&table(
            "ioc_feeds = [{ url = \"https://x.example/a.txt\", auth = \"basic\", secret = \"pw\" }]",
        ))
        .unwrap_err();
        assert!(e.contains("user"), "{e}");
        let e = Feed::from_entry(&table(
            "ioc_feeds = [{ url = \"https://x.example/a.txt\", auth = \"bearer\", secret = \"a\", secret_env = \"B\" }]",
        ))
        .unwrap_err();
        assert!(e.contains("one of"), "{e}");
        assert!(Feed::new("ftp://x.example/a", Auth::None, None).is_err());
        // Credentials in clear: refused, but for a loopback address.
        let bearer = || Auth::Bearer("t".into());
        for url in [
            "http://misp.example/feed/manifest.json",
            "misp+http://10.0.0.5/",
            "taxii+http://127.0.0.1.example/collections/x/",
            "http://user@localhost.example:8080/x",
            "http://evil.example\\@127.0.0.1/x",
        ] {
            let e = Feed::new(url, bearer(), None).unwrap_err();
            assert!(e.contains("in clear"), "{url}: {e}");
        }
        // A credential in the URL itself, without `auth`: the same.
        for url in [
            "http://misp.example/feed.txt?apikey=K",
            "http://u:p@misp.example/feed.txt",
        ] {
            let e = Feed::new(url, Auth::None, None).unwrap_err();
            assert!(e.contains("in clear"), "{url}: {e}");
        }
        assert!(Feed::new("http://127.0.0.1:9/feed.txt?key=K", Auth::None, None).is_ok());
        for url in [
            "http://127.0.0.1:8080/x",
            "misp+http://localhost/",
            "taxii+http://[::1]:9/collections/x/",
            "https://misp.example/feed/manifest.json",
        ] {
            assert!(Feed::new(url, bearer(), None).is_ok(), "{url}");
        }
        assert!(Feed::new("http://misp.example/x.txt", Auth::None, None).is_ok());
        // A CA file without a certificate is said at start.
        let e = Feed::new(
            "https://x.example/a",
            Auth::None,
            Some(b"not a pem".to_vec()),
        )
        .unwrap_err();
        assert!(e.contains("ca:"), "{e}");
        assert_eq!(
            Feed::new("https://x.example/feed/manifest.json", Auth::None, None)
                .unwrap()
                .kind(),
            FeedKind::Misp
        );
        assert_eq!(
            Feed::new("https://x.example/iocs.txt", Auth::None, None)
                .unwrap()
                .kind(),
            FeedKind::Document
        );
    }
}
