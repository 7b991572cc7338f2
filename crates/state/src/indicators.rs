//! Uploaded indicator sources in `state.db`: the same rows and version
//! counter as the PostgreSQL backend's (`vigie_db::PgIndicators`), for
//! the one node of the embedded deployment. A change is one transaction,
//! synced before the upload is answered.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use vigie_store::Result;

use crate::db::{Db, Failure};

/// One source as kept: its description (JSON, the server's `SourceInfo`)
/// and its bytes as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorSource {
    pub name: String,
    pub info: String,
    pub src: Vec<u8>,
}

/// The indicator sources in SQLite.
pub struct SqliteIndicators {
    db: Arc<Db>,
}

impl SqliteIndicators {
    pub fn new(db: Arc<Db>) -> SqliteIndicators {
        SqliteIndicators { db }
    }

    pub fn place(&self) -> String {
        self.db.place()
    }

    /// Keeps `source` (replacing one of the same name); the version after.
    pub async fn put(&self, source: IndicatorSource) -> Result<i64> {
        self.db
            .run("keeping an indicator source", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let version = put(&tx, &source)?;
                tx.commit()?;
                Ok(version)
            })
            .await
    }

    /// Removes source `name`: the version it made, `None` when it was not
    /// there (the version then stays). Blocking.
    pub fn remove_now(&self, name: &str) -> Result<Option<i64>> {
        self.db.call("removing an indicator source", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute("DELETE FROM indicator_sources WHERE name = ?1", [name])?;
            if n == 0 {
                return Ok(None);
            }
            let version = bump(&tx)?;
            tx.commit()?;
            Ok(Some(version))
        })
    }

    /// [`SqliteIndicators::remove_now`] off the async threads.
    pub async fn remove(self: &Arc<Self>, name: &str) -> Result<Option<i64>> {
        let (me, name) = (self.clone(), name.to_string());
        tokio::task::spawn_blocking(move || me.remove_now(&name))
            .await
            .map_err(|e| crate::db::failed("removing an indicator source", e))?
    }

    /// The bytes kept of source `name`, if any.
    pub async fn src(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let name = name.to_string();
        self.db
            .run("reading an indicator source", move |c| {
                Ok(c.query_row(
                    "SELECT src FROM indicator_sources WHERE name = ?1",
                    [name],
                    |r| r.get::<_, Vec<u8>>(0),
                )
                .optional()?)
            })
            .await
    }

    /// Every source by name, with the version they are of. Blocking.
    pub fn all(&self) -> Result<(i64, Vec<IndicatorSource>)> {
        self.db.call("reading indicator sources", |c| {
            let tx = c.transaction()?;
            let version: i64 =
                tx.query_row("SELECT version FROM indicator_version", [], |r| r.get(0))?;
            let sources = {
                let mut st = tx.prepare_cached(
                    "SELECT name, info, src FROM indicator_sources ORDER BY name",
                )?;
                let rows = st.query_map([], |r| {
                    Ok(IndicatorSource {
                        name: r.get(0)?,
                        info: r.get(1)?,
                        src: r.get(2)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.commit()?;
            Ok((version, sources))
        })
    }
}

fn bump(c: &Connection) -> std::result::Result<i64, Failure> {
    Ok(c.query_row(
        "UPDATE indicator_version SET version = version + 1 RETURNING version",
        [],
        |r| r.get(0),
    )?)
}

/// `source` kept in `c`'s transaction (shared with the import of the
/// former `indicators/`); the version after.
pub(crate) fn put(c: &Connection, source: &IndicatorSource) -> std::result::Result<i64, Failure> {
    let version = bump(c)?;
    c.prepare_cached(
        "INSERT INTO indicator_sources (name, info, src, version) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE
         SET info = excluded.info, src = excluded.src, version = excluded.version",
    )?
    .execute(params![source.name, source.info, source.src, version])?;
    Ok(version)
}
