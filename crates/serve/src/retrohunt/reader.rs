//! The one-off reader of a retro-hunt or a search, released on every
//! path.
//!
//! Why a guard: the reader is a consumer of the log (on JetStream, a
//! consumer on the server; with an archive, an open partition). A
//! retro-hunt or a search whose future is dropped — the client went
//! away, the server stops a task — never reaches the `release` written
//! after its loop, and the reader stayed behind. [`Reader`]'s `Drop`
//! releases it when the code did not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vigie_store::EventLog;

/// One-off readers of this process not released yet, per tenant (`None`:
/// a reader of every tenant's events, the indicators' retro-hunts):
/// `readers_open` of `GET /api/v1/retrohunts`, where a leak shows. A
/// commune is told of its own and of the deployment's, never of
/// another's.
static OPEN: Mutex<Option<HashMap<Option<String>, usize>>> = Mutex::new(None);

/// One-off readers held now (made and not yet released) for `tenant`:
/// its own and those reading every tenant's events.
pub fn open(tenant: &str) -> usize {
    let open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(map) = open.as_ref() else { return 0 };
    map.get(&Some(tenant.to_string())).copied().unwrap_or(0) + map.get(&None).copied().unwrap_or(0)
}

/// One count of [`OPEN`], given back when dropped: on every path —
/// released, dropped unreleased, or its release's future dropped while
/// the log deletes the consumer (a count taken back only after an
/// `.await` stayed counted for ever when that future was dropped).
struct Counted(Option<String>);

impl Counted {
    fn new(tenant: Option<&str>) -> Counted {
        let tenant = tenant.map(str::to_string);
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        *open
            .get_or_insert_with(HashMap::new)
            .entry(tenant.clone())
            .or_default() += 1;
        Counted(tenant)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(map) = open.as_mut() {
            if let Some(n) = map.get_mut(&self.0) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&self.0);
                }
            }
        }
    }
}

/// A one-off consumer of `log`, released once, by [`Reader::release`] or
/// on drop.
pub struct Reader {
    log: Arc<dyn EventLog>,
    name: String,
    /// Taken by the release (`None`: released, or being released).
    counted: Option<Counted>,
}

impl Reader {
    /// A new reader named `prefix` + a random suffix (the prefix is one
    /// the log reads the archive for: [`super::CONSUMER_PREFIX`]), for
    /// `tenant`'s events (`None`: every tenant's).
    pub fn new(log: Arc<dyn EventLog>, prefix: &str, tenant: Option<&str>) -> Reader {
        Reader {
            log,
            name: format!("{prefix}{:08x}", rand::random::<u32>()),
            counted: Some(Counted::new(tenant)),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Released now (an error is only the log's: the reader is memory on
    /// our side, and a JetStream consumer left behind expires by itself).
    /// The count goes with this future, whether it ends or is dropped.
    pub async fn release(mut self) {
        let counted = self.counted.take();
        let _ = self.log.release(&self.name).await;
        drop(counted);
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let Some(counted) = self.counted.take() else {
            return;
        };
        let (log, name) = (self.log.clone(), std::mem::take(&mut self.name));
        // No runtime left (the process stops): nothing outlives it, and
        // the count goes here.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = log.release(&name).await;
                drop(counted);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;

    /// Readers of exactly `tenant` (`None`: of every tenant's events).
    fn open_of(tenant: Option<&str>) -> usize {
        let open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.as_ref()
            .and_then(|m| m.get(&tenant.map(str::to_string)).copied())
            .unwrap_or(0)
    }

    /// A log whose consumer's deletion never ends (a JetStream server
    /// that does not answer): the release's future is dropped midway.
    struct Stuck(vigie_store::embedded::FileLog);

    #[async_trait::async_trait]
    impl EventLog for Stuck {
        async fn append(
            &self,
            b: vigie_store::IngestBatch,
        ) -> vigie_store::Result<vigie_store::Appended> {
            self.0.append(b).await
        }
        async fn consume(
            &self,
            c: &str,
            max: usize,
            wait: std::time::Duration,
        ) -> vigie_store::Result<Vec<vigie_store::Delivery>> {
            self.0.consume(c, max, wait).await
        }
        async fn commit(&self, c: &str, upto: vigie_store::Position) -> vigie_store::Result<()> {
            self.0.commit(c, upto).await
        }
        async fn committed(&self, c: &str) -> vigie_store::Result<Option<vigie_store::Position>> {
            self.0.committed(c).await
        }
        async fn records(&self) -> vigie_store::Result<u64> {
            self.0.records().await
        }
        async fn release(&self, _: &str) -> vigie_store::Result<()> {
            std::future::pending().await
        }
    }

    /// A release whose future is dropped while the log deletes the
    /// consumer gives its count back; each tenant counts its own, and
    /// sees the readers of every tenant's events too.
    #[tokio::test]
    async fn a_release_dropped_midway_gives_its_count_back() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = vigie_store::embedded::FileLog::open(dir.path(), 1 << 20).unwrap();
        let log: Arc<dyn EventLog> = Arc::new(Stuck(log));
        let tenant = "mairie-de-test-reader";
        // Polled once (pending in the deletion), then dropped: as a task
        // cancelled while the consumer's deletion is awaited.
        let cancel = |r: Reader| {
            let mut fut = Box::pin(r.release());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        };
        let r = Reader::new(log.clone(), "test-", Some(tenant));
        let other = Reader::new(log.clone(), "test-", Some("mairie-autre-reader"));
        assert_eq!(open_of(Some(tenant)), 1);
        let all = Reader::new(log.clone(), "test-", None);
        // The deployment's reader is counted for every commune (other
        // tests of this process may hold some too).
        assert!(open(tenant) >= 2);
        cancel(all);
        cancel(r);
        assert_eq!(open_of(Some(tenant)), 0);
        assert_eq!(open_of(Some("mairie-autre-reader")), 1);
        cancel(other);
        assert_eq!(open_of(Some("mairie-autre-reader")), 0);
    }
}
