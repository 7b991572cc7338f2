//! One connection to `state.db`, set up (WAL, `synchronous=FULL`, busy
//! timeout) and migrated at open: what every store of this crate holds.
//!
//! Why a connection per store and not one for the process: WAL lets
//! readers go on while one writer writes, so the console's reads do not
//! wait behind the detection worker's writes; SQLite itself orders the
//! writers (the busy timeout). Calls are blocking: the async stores run
//! them on tokio's blocking pool ([`Db::run`]), never holding the
//! connection's lock across an await.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use vigie_store::StoreError;

use crate::MIGRATIONS;

/// The file name under the data directory.
pub const FILE: &str = "state.db";

/// How long a write waits for another writer (another process, or
/// another store of this one) before the call fails with its reason.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `state.db` of a data directory, one connection.
pub struct Db {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// What a call on the connection may end with: SQLite's error, or the
/// store's own (a refusal, damaged stored JSON) to pass on as it is.
pub(crate) enum Failure {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Store(e)
    }
}

pub(crate) fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        what: what.to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

impl Db {
    /// Opens (or creates, mode 0600) `data/state.db` and brings its
    /// schema up to date.
    pub fn open(data: &Path) -> Result<Arc<Db>, StoreError> {
        std::fs::create_dir_all(data).map_err(|source| StoreError::Io {
            what: format!("create {}", data.display()),
            source,
        })?;
        let path = data.join(FILE);
        // Created 0600 before SQLite opens it: the accounts' audit and the
        // triage are nobody else's to read (the WAL and its index take the
        // database file's mode).
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(|source| StoreError::Io {
                    what: format!("create {}", path.display()),
                    source,
                })?;
        }
        let place = path.display().to_string();
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| failed(format!("open {place}"), e))?;
        setup(&mut conn).map_err(|e| failed(format!("{place}: setting up"), e))?;
        migrate(&mut conn).map_err(|e| match e {
            Failure::Sql(e) => failed(format!("{place}: migrations"), e),
            Failure::Store(e) => e,
        })?;
        Ok(Arc::new(Db {
            path,
            conn: Mutex::new(conn),
        }))
    }

    /// The file, for messages.
    pub fn place(&self) -> String {
        self.path.display().to_string()
    }

    /// Runs `f` on the connection, in the calling thread; its error said
    /// with `what` and the file. Called from an async task of a
    /// multi-thread runtime (the console's session check, the audit of a
    /// handler), the wait for the lock and the sync moves that worker's
    /// other tasks elsewhere first (`block_in_place`), as the PostgreSQL
    /// backend's calls do.
    pub(crate) fn call<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.call_here(what, f))
            }
            _ => self.call_here(what, f),
        }
    }

    /// [`Db::call`] in the calling thread whatever it is: for reads of a
    /// row or two, which WAL never makes wait for a writer.
    pub(crate) fn call_here<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        // A panic while holding it leaves no half-done transaction: a
        // transaction not committed is rolled back when dropped.
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn).map_err(|e| match e {
            Failure::Sql(e) => failed(format!("{}: {what}", self.place()), e),
            Failure::Store(e) => e,
        })
    }

    /// [`Db::call`] on tokio's blocking pool: an async caller's thread is
    /// never blocked by a write waiting for its sync.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        what: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.call(what, f))
            .await
            .map_err(|e| failed(format!("{}: {what}", self.place()), e))?
    }
}

/// WAL (readers beside the writer), `synchronous=FULL` (a commit returns
/// once synced: acknowledged is durable, also across a power cut), the
/// busy timeout, and the keys enforced.
fn setup(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode is {mode}, not wal (a file system without shared memory?)"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// The migrations not applied yet, in order, in one write transaction
/// (two processes opening together: the second waits, then finds them
/// done).
fn migrate(conn: &mut Connection) -> Result<(), Failure> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS vigie_migrations (
            version  INTEGER PRIMARY KEY,
            applied  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    )?;
    let done: Vec<i64> = {
        let mut st = tx.prepare("SELECT version FROM vigie_migrations")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(newer) = done.iter().copied().filter(|v| *v > known).max() {
        return Err(Failure::Store(StoreError::Invalid(format!(
            "state.db has schema version {newer}, this Vigie knows up to {known}: it was written by a newer Vigie (left as it is: run that version)"
        ))));
    }
    for (version, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO vigie_migrations (version) VALUES (?1)",
            [version],
        )?;
    }
    tx.commit()?;
    Ok(())
}
