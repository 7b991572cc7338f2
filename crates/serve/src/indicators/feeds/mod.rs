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
//!
//! Here: the limits and the counters. Apart: `config` (what a feed is,
//! its secrets never shown), `poll` (one feed's loop), `fetch` (one
//! poll, per kind of feed).

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

mod config;
mod fetch;
mod poll;
pub use config::source_name;
pub use config::Feed;
pub use config::FeedEntry;
pub use config::FeedKind;
pub use config::FeedTable;
use fetch::fetch;
use fetch::remembered;
use fetch::Fetched;
use fetch::Memory;
use poll::poll_one;

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
