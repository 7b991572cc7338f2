//! The one-off reader of a retro-hunt or a search, released on every
//! path.
//!
//! Why a guard: the reader is a consumer of the log (on JetStream, a
//! consumer on the server; with an archive, an open partition). A
//! retro-hunt or a search whose future is dropped — the client went
//! away, the server stops a task — never reaches the `release` written
//! after its loop, and the reader stayed behind. [`Reader`]'s `Drop`
//! releases it when the code did not.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use vigie_store::EventLog;

/// One-off readers of this process not released yet (`readers_open` of
/// `GET /api/v1/retrohunts`): a leak shows here. One count per process,
/// as the log's readers are.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// One-off readers held now (made and not yet released).
pub fn open() -> usize {
    OPEN.load(Ordering::Acquire)
}

/// A one-off consumer of `log`, released once, by [`Reader::release`] or
/// on drop.
pub struct Reader {
    log: Arc<dyn EventLog>,
    name: String,
    held: bool,
}

impl Reader {
    /// A new reader named `prefix` + a random suffix (the prefix is one
    /// the log reads the archive for: [`super::CONSUMER_PREFIX`]).
    pub fn new(log: Arc<dyn EventLog>, prefix: &str) -> Reader {
        OPEN.fetch_add(1, Ordering::AcqRel);
        Reader {
            log,
            name: format!("{prefix}{:08x}", rand::random::<u32>()),
            held: true,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Released now (an error is only the log's: the reader is memory on
    /// our side, and a JetStream consumer left behind expires by itself).
    pub async fn release(mut self) {
        self.held = false;
        // Counted out when this future ends, or is dropped while the log
        // releases (a client gone, a task stopped): `held` is already
        // false then, so `Drop` would not count it out.
        struct CountedOut;
        impl Drop for CountedOut {
            fn drop(&mut self) {
                OPEN.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _out = CountedOut;
        let _ = self.log.release(&self.name).await;
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let (log, name) = (self.log.clone(), std::mem::take(&mut self.name));
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    let _ = log.release(&name).await;
                    OPEN.fetch_sub(1, Ordering::AcqRel);
                });
            }
            // No runtime left (the process stops): nothing outlives it.
            Err(_) => {
                OPEN.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}
