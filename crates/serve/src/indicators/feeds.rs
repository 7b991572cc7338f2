//! Indicator feeds polled on a schedule (`--ioc-feed URL`, `ioc_feeds` in
//! the configuration file, every `--ioc-poll`): a CERT-FR list, a MISP
//! instance's export, an abuse.ch CSV, a CSIRT's STIX document.
//!
//! Each feed is a source like an upload (`feed-<hash of its URL>`), kept
//! on disk, so a feed down at start still has its last version matched.
//! Polls send the validators of the version held (`If-None-Match`,
//! `If-Modified-Since`): an unchanged feed costs a `304` and changes
//! nothing. A failure is said on stderr (the URL's secrets hidden),
//! counted in `/api/v1/stats` and tried again (after 1 minute, then
//! doubling up to the poll interval); the indicators held stay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::Digest;
use vigie_intel::http::{redact_url, Validators};
use vigie_intel::Auth;

use super::{hex, keep, Incoming};
use crate::Shared;

/// Largest feed document read (as `hunt --ioc` reads one).
const MAX_FEED: u64 = vigie_intel::import::MAX_DOCUMENT;

/// The first retry after a failure; doubled each time, up to the poll
/// interval.
const RETRY: Duration = Duration::from_secs(60);

/// The feeds' counters (`/api/v1/stats`).
#[derive(Debug, Default)]
pub struct FeedStats {
    pub polls: AtomicU64,
    pub not_modified: AtomicU64,
    pub updated: AtomicU64,
    pub failures: AtomicU64,
}

impl FeedStats {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "polls": self.polls.load(Ordering::Relaxed),
            "not_modified": self.not_modified.load(Ordering::Relaxed),
            "updated": self.updated.load(Ordering::Relaxed),
            "failures": self.failures.load(Ordering::Relaxed),
        })
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
pub(crate) async fn run(s: Shared, feeds: Vec<String>, every: Duration) {
    let mut tasks = Vec::new();
    for url in feeds {
        tasks.push(tokio::spawn(poll_one(s.clone(), url, every)));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn poll_one(s: Shared, url: String, every: Duration) {
    let name = source_name(&url);
    let shown = redact_url(&url);
    let mut known = Validators::default();
    let mut retry = RETRY;
    let agent = vigie_intel::http::agent();
    loop {
        s.intel.feeds.polls.fetch_add(1, Ordering::Relaxed);
        let fetched = {
            let (agent, url, known) = (agent.clone(), url.clone(), known.clone());
            tokio::task::spawn_blocking(move || {
                vigie_intel::http::get_if_changed(&agent, &url, &Auth::None, None, &known, MAX_FEED)
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r)
        };
        let outcome: Result<(), String> = match fetched {
            Ok(f) if f.status == 304 => {
                s.intel.feeds.not_modified.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(f)
                if s.intel
                    .holds(
                        &name,
                        &hex(&sha2::Sha256::digest(f.body.as_deref().unwrap_or_default())),
                    )
                    .await =>
            {
                // The same bytes again (a server without validators).
                known = Validators {
                    etag: f.etag,
                    last_modified: f.last_modified,
                };
                s.intel.feeds.not_modified.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(f) => {
                let body = f.body.unwrap_or_default();
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
                        known = Validators {
                            etag: f.etag,
                            last_modified: f.last_modified,
                        };
                        s.intel.feeds.updated.fetch_add(1, Ordering::Relaxed);
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
                s.intel.feeds.failures.fetch_add(1, Ordering::Relaxed);
                let wait = retry.min(every);
                eprintln!(
                    "vigie serve: feed {shown}: {}; the indicators held are kept; tried again in {} s",
                    hidden(&url, &e),
                    wait.as_secs()
                );
                retry = (retry * 2).min(every);
                wait
            }
        };
        tokio::time::sleep(wait).await;
    }
}
