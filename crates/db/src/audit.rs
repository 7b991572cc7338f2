//! The console's audit log in PostgreSQL: [`AuditLog`], one hash chain
//! for every api node. An append takes an advisory lock, reads the last
//! line, chains to it and inserts, in one transaction: two nodes auditing
//! at once are ordered, never both chained to the same line. Read back in
//! order, the log is the same JSON Lines the file holds, checked by the
//! same `verify_bytes`.
//!
//! The lock is taken for the one transaction of an append; each of the
//! connection's waits is bounded (`conn::bounded`) and a transaction
//! left open by a node cut from the database is ended by the server
//! after `idle_in_transaction_session_timeout`, which releases it.
//!
//! [`AuditLog`] is blocking (the console audits from synchronous code,
//! as the file's synced write always was): the calls run on a small
//! runtime of this store's own, the caller waiting for the answer.

use std::future::Future;
use std::sync::Arc;

use vigie_console::audit::{entry_line, line_hash, Action, AuditLog, Outcome, GENESIS};

use crate::conn::Pg;

/// A lock id of Vigie's own for the audit log's appends.
const AUDIT_LOCK: i64 = 0x7669_6769_6501;

/// The longest an audit call waits for the database: more than a lock
/// wait ([`crate::conn::LOCK_TIMEOUT`]) after a connection
/// (10 s at most), so that these fail first with their own reason.
const WAIT: std::time::Duration = std::time::Duration::from_secs(25);

/// The audit log in PostgreSQL (connected at the first call).
pub struct PgAudit {
    pg: Arc<Pg>,
    /// Drives the connection and runs the calls. Leaked: a runtime may
    /// not be dropped from async code, and the store lives as long as
    /// the server.
    rt: &'static tokio::runtime::Runtime,
}

impl PgAudit {
    pub fn new(url: &str) -> std::io::Result<PgAudit> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vigie-audit-db")
            .enable_all()
            .build()?;
        Ok(PgAudit {
            pg: Arc::new(Pg::new(url)),
            rt: Box::leak(Box::new(rt)),
        })
    }

    /// Runs `f` on the store's runtime and waits for it, [`WAIT`] at
    /// most: past it the call is abandoned (its transaction rolled back)
    /// and said failed, so that a database out of reach fails the
    /// audited action instead of freezing the api. Called from an async
    /// handler of a multi-thread runtime, the wait moves that worker's
    /// other tasks elsewhere first (`block_in_place`).
    fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = vigie_store::Result<T>> + Send + 'static,
    ) -> std::io::Result<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        let task = self.rt.spawn(async move {
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
            Ok(out) => out.map_err(std::io::Error::other),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                task.abort();
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "{}: no answer within {} s: the audit log may not have been written",
                        self.pg.place(),
                        WAIT.as_secs()
                    ),
                ))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(std::io::Error::other(
                "the audit log's database task stopped",
            )),
        }
    }
}

impl AuditLog for PgAudit {
    fn append(
        &self,
        who: &str,
        from: &str,
        action: Action,
        target: &str,
        outcome: Outcome,
    ) -> std::io::Result<()> {
        let pg = self.pg.clone();
        let (who, from, target) = (who.to_string(), from.to_string(), target.to_string());
        self.run(async move {
            pg.with("appending to the audit log", async |c| {
                let tx = c.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                    .await?;
                let last = tx
                    .query_opt("SELECT line FROM audit_log ORDER BY seq DESC LIMIT 1", &[])
                    .await?;
                let prev = match &last {
                    Some(row) => line_hash(row.get::<_, &str>(0).as_bytes()),
                    None => GENESIS.to_string(),
                };
                let line = entry_line(prev, &who, &from, action, &target, outcome);
                let line = String::from_utf8(line).expect("JSON is UTF-8");
                tx.execute("INSERT INTO audit_log (line) VALUES ($1)", &[&line])
                    .await?;
                tx.commit().await?;
                Ok(())
            })
            .await
        })
    }

    fn read(&self) -> std::io::Result<Vec<u8>> {
        let pg = self.pg.clone();
        self.run(async move {
            pg.with("reading the audit log", async |c| {
                let rows = c
                    .query("SELECT line FROM audit_log ORDER BY seq", &[])
                    .await?;
                let mut out = Vec::new();
                for r in &rows {
                    out.extend_from_slice(r.get::<_, &str>(0).as_bytes());
                    out.push(b'\n');
                }
                Ok(out)
            })
            .await
        })
    }

    fn place(&self) -> String {
        self.pg.place()
    }
}
