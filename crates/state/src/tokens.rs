//! API tokens in `state.db` ([`SqliteTokens`]): only each token's
//! SHA-256, as the PostgreSQL backend keeps them. Every change moves one
//! version counter (triggers on the table, so a row changed by hand
//! counts too): the server holds the tokens in memory, polls the
//! version and reads them again when it moved — a token made or revoked
//! by `vigie token …` while the server runs opens, or is refused, within
//! the poll.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use vigie_store::Result;

use crate::db::Db;

/// One token as kept (the server's `TokenRecord`, its scope as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub sha256: String,
    pub name: String,
    pub scope: String,
    pub tenant: String,
    pub created: String,
    /// When and by whom it was revoked.
    pub revoked: Option<(String, String)>,
}

fn row(r: &Row) -> rusqlite::Result<TokenRow> {
    let time: Option<String> = r.get(5)?;
    let by: Option<String> = r.get(6)?;
    Ok(TokenRow {
        sha256: r.get(0)?,
        name: r.get(1)?,
        scope: r.get(2)?,
        tenant: r.get(3)?,
        created: r.get(4)?,
        revoked: time.map(|t| (t, by.unwrap_or_default())),
    })
}

const COLUMNS: &str = "sha256, name, scope, tenant, created, revoked_time, revoked_by";

/// The API tokens in SQLite.
pub struct SqliteTokens {
    db: Arc<Db>,
}

impl SqliteTokens {
    pub fn new(db: Arc<Db>) -> SqliteTokens {
        SqliteTokens { db }
    }

    pub fn open(data: &Path) -> Result<SqliteTokens> {
        Ok(SqliteTokens::new(Db::open(data)?))
    }

    pub fn place(&self) -> String {
        format!("{} (api_tokens)", self.db.place())
    }

    /// Keeps a new token; the version after.
    pub fn create(&self, t: &TokenRow) -> Result<i64> {
        self.db.call("keeping a token", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO api_tokens (sha256, name, scope, tenant, created)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.sha256, t.name, t.scope, t.tenant, t.created],
            )?;
            let version =
                tx.query_row("SELECT version FROM api_token_version", [], |r| r.get(0))?;
            tx.commit()?;
            Ok(version)
        })
    }

    /// Revokes the token whose hash starts with `id` (12 hex digits; the
    /// oldest if two did): its row after, `None` when there is none. The
    /// first revocation stands.
    pub fn revoke(&self, id: &str, by: &str, time: &str) -> Result<Option<TokenRow>> {
        self.db.call("revoking a token", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let sha: Option<String> = tx
                .query_row(
                    "SELECT sha256 FROM api_tokens WHERE substr(sha256, 1, 12) = ?1
                     ORDER BY seq LIMIT 1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(sha) = sha else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE api_tokens SET revoked_time = ?2, revoked_by = ?3
                 WHERE sha256 = ?1 AND revoked_time IS NULL",
                params![sha, time, by],
            )?;
            let r = tx.query_row(
                &format!("SELECT {COLUMNS} FROM api_tokens WHERE sha256 = ?1"),
                [&sha],
                row,
            )?;
            tx.commit()?;
            Ok(Some(r))
        })
    }

    /// Keeps tokens of the former `tokens.jsonl` (hashes only), in one
    /// transaction: a token not kept yet is added as it is; one kept
    /// already only takes a revocation it lacks (never undone, never
    /// replaced). How many rows changed.
    pub fn import(&self, rows: &[TokenRow]) -> Result<u64> {
        self.db.call("importing tokens", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut changed = 0;
            for t in rows {
                let (time, by) = match &t.revoked {
                    Some((time, by)) => (Some(time.as_str()), Some(by.as_str())),
                    None => (None, None),
                };
                changed += tx.execute(
                    "INSERT INTO api_tokens
                       (sha256, name, scope, tenant, created, revoked_time, revoked_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (sha256) DO UPDATE
                     SET revoked_time = excluded.revoked_time,
                         revoked_by = excluded.revoked_by
                     WHERE api_tokens.revoked_time IS NULL
                       AND excluded.revoked_time IS NOT NULL",
                    params![t.sha256, t.name, t.scope, t.tenant, t.created, time, by],
                )? as u64;
            }
            tx.commit()?;
            Ok(changed)
        })
    }

    /// Deletes the tokens of `shas` (moved into PostgreSQL by a node
    /// started with `--db`: they are that database's from then on); how
    /// many were deleted.
    pub fn remove(&self, shas: &[String]) -> Result<u64> {
        self.db.call("moving tokens out", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut n = 0;
            for sha in shas {
                n += tx.execute("DELETE FROM api_tokens WHERE sha256 = ?1", [sha])? as u64;
            }
            tx.commit()?;
            Ok(n)
        })
    }

    /// The version now (0: nothing ever kept). Asked at each request by
    /// the server: run where it is called (one row, read without waiting
    /// for a writer under WAL), not moved off the async thread.
    pub fn version(&self) -> Result<i64> {
        self.db.call_here("reading the tokens' version", |c| {
            Ok(c.query_row("SELECT version FROM api_token_version", [], |r| r.get(0))?)
        })
    }

    /// Every token, revoked ones included, oldest first, with the version
    /// they are of (read in one transaction: they agree).
    pub fn all(&self) -> Result<(i64, Vec<TokenRow>)> {
        self.db.call("reading the tokens", |c| {
            let tx = c.transaction()?;
            let version =
                tx.query_row("SELECT version FROM api_token_version", [], |r| r.get(0))?;
            let rows = {
                let mut st =
                    tx.prepare(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY seq"))?;
                let rows = st.query_map([], row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.commit()?;
            Ok((version, rows))
        })
    }
}
