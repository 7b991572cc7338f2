//! The crisis cell's journal in PostgreSQL: [`CrisisJournal`], append
//! only, read back per tenant in the order appended; a status set on one
//! api node is on every node's board and public page.

use async_trait::async_trait;
use vigie_store::crisis::{CrisisJournal, Record};
use vigie_store::{Result, StoreError};

use crate::conn::Pg;

/// The crisis journal in PostgreSQL (connected at the first call).
pub struct PgCrisis {
    pg: Pg,
}

impl PgCrisis {
    pub fn new(url: &str) -> PgCrisis {
        PgCrisis { pg: Pg::new(url) }
    }

    pub fn place(&self) -> String {
        self.pg.place()
    }

    /// Appends under the tenant's advisory lock (every append takes it, so
    /// a count checked under it stays true until the insert); with
    /// `seen`, only if the tenant holds that many records.
    async fn append_checked(&self, tenant: &str, doc: &str, seen: Option<usize>) -> Result<bool> {
        self.pg
            .with("keeping a crisis record", async |c| {
                let tx = c.transaction().await?;
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('vigie.crisis:' || $1, 0))",
                    &[&tenant],
                )
                .await?;
                if let Some(seen) = seen {
                    let n: i64 = tx
                        .query_one(
                            "SELECT count(*) FROM crisis_records WHERE tenant = $1",
                            &[&tenant],
                        )
                        .await?
                        .get(0);
                    if n != seen as i64 {
                        return Ok(false);
                    }
                }
                tx.execute(
                    "INSERT INTO crisis_records (tenant, doc) VALUES ($1, $2)",
                    &[&tenant, &doc],
                )
                .await?;
                tx.commit().await?;
                Ok(true)
            })
            .await
    }
}

#[async_trait]
impl CrisisJournal for PgCrisis {
    async fn append(&self, record: Record) -> Result<()> {
        // The same check as the file's: one JSON value, kept as given.
        let value: serde_json::Value = serde_json::from_slice(&record.json)
            .map_err(|e| StoreError::Invalid(format!("a crisis record is not JSON: {e}")))?;
        let doc = crate::json(&value)?;
        self.append_checked(&record.tenant, &doc, None)
            .await
            .map(|_| ())
    }

    async fn append_after(&self, record: Record, seen: usize) -> Result<bool> {
        let value: serde_json::Value = serde_json::from_slice(&record.json)
            .map_err(|e| StoreError::Invalid(format!("a crisis record is not JSON: {e}")))?;
        let doc = crate::json(&value)?;
        self.append_checked(&record.tenant, &doc, Some(seen)).await
    }

    async fn records(&self, tenant: &str) -> Result<Vec<Vec<u8>>> {
        let rows = self
            .pg
            .with("reading the crisis journal", async |c| {
                Ok(c.query(
                    "SELECT doc FROM crisis_records WHERE tenant = $1 ORDER BY seq",
                    &[&tenant],
                )
                .await?)
            })
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0).into_bytes())
            .collect())
    }

    async fn tenants(&self) -> Result<Vec<String>> {
        let rows = self
            .pg
            .with("reading the crisis journal", async |c| {
                Ok(c.query("SELECT DISTINCT tenant FROM crisis_records", &[])
                    .await?)
            })
            .await?;
        // Sorted by bytes, as the file's (not by the database's collation).
        let mut t: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        t.sort();
        Ok(t)
    }
}
