//! The console's audit log in `state.db`: [`AuditLog`], the same hash
//! chain as the former `audit.jsonl` and the PostgreSQL backend. An
//! append reads the last line, chains to it and inserts in one write
//! transaction (`BEGIN IMMEDIATE`): the server and a `vigie user …`
//! command auditing at once are ordered, never both chained to the same
//! line. Read back in order, the log is the JSON Lines `vigie audit
//! verify` checks with `verify_bytes`.
//!
//! [`AuditLog`] is blocking (the console audits from synchronous code):
//! the call runs in the caller's thread, as the file's synced write did.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use vigie_console::audit::{entry_line, line_hash, Action, AuditLog, Outcome, GENESIS};

use crate::db::{Db, Failure};

/// The audit log in SQLite.
pub struct SqliteAudit {
    db: Arc<Db>,
}

impl SqliteAudit {
    pub fn new(db: Arc<Db>) -> SqliteAudit {
        SqliteAudit { db }
    }

    /// The audit log of a data directory (`state.db` opened, migrated).
    pub fn open(data: &Path) -> std::io::Result<SqliteAudit> {
        Ok(SqliteAudit::new(Db::open(data).map_err(io)?))
    }
}

fn io(e: vigie_store::StoreError) -> std::io::Error {
    match e {
        vigie_store::StoreError::Io { what, source } => {
            std::io::Error::new(source.kind(), format!("{what}: {source}"))
        }
        other => std::io::Error::other(other.to_string()),
    }
}

/// A line kept as it is, at the end (the import of the former file: its
/// chain is kept byte for byte).
pub(crate) fn push_line(c: &Connection, line: &str) -> Result<(), Failure> {
    c.prepare_cached("INSERT INTO audit_log (line) VALUES (?1)")?
        .execute([line])?;
    Ok(())
}

impl AuditLog for SqliteAudit {
    fn append(
        &self,
        who: &str,
        from: &str,
        action: Action,
        target: &str,
        outcome: Outcome,
    ) -> std::io::Result<()> {
        self.db
            .call("appending to the audit log", |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let last: Option<String> = tx
                    .query_row(
                        "SELECT line FROM audit_log ORDER BY seq DESC LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?;
                let prev = match &last {
                    Some(line) => line_hash(line.as_bytes()),
                    None => GENESIS.to_string(),
                };
                let line = entry_line(prev, who, from, action, target, outcome);
                let line = String::from_utf8(line).expect("JSON is UTF-8");
                push_line(&tx, &line)?;
                tx.commit()?;
                Ok(())
            })
            .map_err(io)
    }

    fn read(&self) -> std::io::Result<Vec<u8>> {
        self.db
            .call("reading the audit log", |c| {
                let mut st = c.prepare_cached("SELECT line FROM audit_log ORDER BY seq")?;
                let mut rows = st.query([])?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.extend_from_slice(r.get::<_, String>(0)?.as_bytes());
                    out.push(b'\n');
                }
                Ok(out)
            })
            .map_err(io)
    }

    fn place(&self) -> String {
        format!("{} (audit_log)", self.db.place())
    }
}
