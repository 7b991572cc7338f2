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
//! as the file's synced write always was): the calls run on this
//! crate's small runtime ([`crate::blocking`]), the caller waiting for
//! the answer, 25 s at most.

use std::sync::Arc;

use vigie_console::audit::{entry_line, line_hash, Action, AuditLog, Outcome, GENESIS};

use crate::conn::Pg;

/// A lock id of Vigie's own for the audit log's appends.
const AUDIT_LOCK: i64 = 0x7669_6769_6501;

/// The audit log in PostgreSQL (connected at the first call).
pub struct PgAudit {
    pg: Arc<Pg>,
    rt: &'static tokio::runtime::Runtime,
}

impl PgAudit {
    pub fn new(url: &str) -> std::io::Result<PgAudit> {
        Ok(PgAudit {
            pg: Arc::new(Pg::new(url)),
            rt: crate::blocking::runtime()?,
        })
    }

    /// Runs `f` on the stores' runtime and waits for it (see
    /// [`crate::blocking::run`]): a database out of reach fails the
    /// audited action instead of freezing the api.
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = vigie_store::Result<T>> + Send + 'static,
    ) -> std::io::Result<T> {
        crate::blocking::run(self.rt, &format!("{}: the audit log", self.pg.place()), f)
            .map_err(crate::blocking::io)
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
