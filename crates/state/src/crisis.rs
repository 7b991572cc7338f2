//! The crisis cell's journal in `state.db`: [`CrisisJournal`], append
//! only, read back per tenant in the order appended.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, Connection, TransactionBehavior};
use vigie_store::crisis::{CrisisJournal, Record};
use vigie_store::{Result, StoreError};

use crate::db::{Db, Failure};

/// The crisis journal in SQLite.
pub struct SqliteCrisis {
    db: Arc<Db>,
}

impl SqliteCrisis {
    pub fn new(db: Arc<Db>) -> SqliteCrisis {
        SqliteCrisis { db }
    }

    pub fn place(&self) -> String {
        self.db.place()
    }

    /// Appends in a write transaction (a count checked in it stays true
    /// until the insert); with `seen`, only if the tenant holds that many
    /// records.
    async fn append_checked(&self, record: Record, seen: Option<usize>) -> Result<bool> {
        // The same check as the former file's: one JSON value, kept as
        // given (re-serialised compactly).
        let value: serde_json::Value = serde_json::from_slice(&record.json)
            .map_err(|e| StoreError::Invalid(format!("a crisis record is not JSON: {e}")))?;
        let doc = crate::json(&value)?;
        let tenant = record.tenant;
        self.db
            .run("keeping a crisis record", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                if let Some(seen) = seen {
                    let n: i64 = tx.query_row(
                        "SELECT count(*) FROM crisis_records WHERE tenant = ?1",
                        [&tenant],
                        |r| r.get(0),
                    )?;
                    if n != seen as i64 {
                        return Ok(false);
                    }
                }
                insert(&tx, &tenant, &doc)?;
                tx.commit()?;
                Ok(true)
            })
            .await
    }
}

pub(crate) fn insert(c: &Connection, tenant: &str, doc: &str) -> std::result::Result<(), Failure> {
    c.prepare_cached("INSERT INTO crisis_records (tenant, doc) VALUES (?1, ?2)")?
        .execute(params![tenant, doc])?;
    Ok(())
}

#[async_trait]
impl CrisisJournal for SqliteCrisis {
    async fn append(&self, record: Record) -> Result<()> {
        self.append_checked(record, None).await.map(|_| ())
    }

    async fn append_after(&self, record: Record, seen: usize) -> Result<bool> {
        self.append_checked(record, Some(seen)).await
    }

    async fn records(&self, tenant: &str) -> Result<Vec<Vec<u8>>> {
        let tenant = tenant.to_string();
        self.db
            .run("reading the crisis journal", move |c| {
                let mut st = c.prepare_cached(
                    "SELECT doc FROM crisis_records WHERE tenant = ?1 ORDER BY seq",
                )?;
                let rows = st.query_map([tenant], |r| r.get::<_, String>(0))?;
                Ok(rows
                    .map(|r| r.map(String::into_bytes))
                    .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn tenants(&self) -> Result<Vec<String>> {
        self.db
            .run("reading the crisis journal", |c| {
                let mut st = c.prepare_cached("SELECT DISTINCT tenant FROM crisis_records")?;
                let rows = st.query_map([], |r| r.get::<_, String>(0))?;
                let mut t = rows.collect::<rusqlite::Result<Vec<_>>>()?;
                // Sorted by bytes, as the former file's.
                t.sort();
                Ok(t)
            })
            .await
    }
}
