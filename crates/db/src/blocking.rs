//! Calls of the stores a synchronous caller uses (the console's audit
//! log, accounts and sessions, the API tokens): run on one small runtime
//! of this crate's own, the caller waiting for the answer, [`WAIT`] at
//! most.

use std::future::Future;
use std::sync::OnceLock;

use vigie_store::StoreError;

/// The longest a call waits for the database: more than a lock wait
/// ([`crate::conn::LOCK_TIMEOUT`]) after a connection (10 s at most),
/// so that these fail first with their own reason.
pub(crate) const WAIT: std::time::Duration = std::time::Duration::from_secs(25);

/// The runtime that drives these stores' connections and runs their
/// calls: one for the process, made at the first store. Never dropped (a
/// runtime may not be dropped from async code, and the stores live as
/// long as the process).
pub(crate) fn runtime() -> std::io::Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    // Made under a lock, never twice: a second runtime built by a racing
    // first call would be dropped by the loser, and dropping a runtime
    // from async code (a store opened in a handler or an async test)
    // panics.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vigie-db-blocking")
        .enable_all()
        .build()?;
    Ok(RT.get_or_init(|| rt))
}

/// Runs `f` on [`runtime`] and waits for it, [`WAIT`] at most: past it
/// the call is abandoned (its transaction rolled back) and said failed
/// with `place`, so that a database out of reach fails the call instead
/// of freezing the caller. Called from an async handler of a
/// multi-thread runtime, the wait moves that worker's other tasks
/// elsewhere first (`block_in_place`).
pub(crate) fn run<T: Send + 'static>(
    rt: &'static tokio::runtime::Runtime,
    place: &str,
    f: impl Future<Output = vigie_store::Result<T>> + Send + 'static,
) -> vigie_store::Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    let task = rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    let wait = || rx.recv_timeout(WAIT);
    let got = match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    };
    match got {
        Ok(out) => out,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            task.abort();
            Err(StoreError::Io {
                what: place.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer within {} s: the change may not have been made",
                        WAIT.as_secs()
                    ),
                ),
            })
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Io {
            what: place.to_string(),
            source: std::io::Error::other("the database task stopped"),
        }),
    }
}

/// A store error as the console's blocking traits say it.
pub(crate) fn io(e: StoreError) -> std::io::Error {
    match e {
        StoreError::Io { what, source } => {
            std::io::Error::new(source.kind(), format!("{what}: {source}"))
        }
        other => std::io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    /// First calls racing from async code (stores opened at once in
    /// handlers or tests) share one runtime and none panics dropping a
    /// second one. The only test of this crate's unit tests that makes the
    /// runtime, so the race is a first one.
    #[test]
    fn first_calls_from_async_code_share_one_runtime() {
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let made: Vec<usize> = (0..8)
            .map(|_| {
                let start = start.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        start.wait();
                        super::runtime().unwrap() as *const _ as usize
                    })
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().expect("no first call panics"))
            .collect();
        assert!(made.windows(2).all(|w| w[0] == w[1]), "{made:?}");
    }
}
