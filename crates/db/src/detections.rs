//! Detections in PostgreSQL: [`DetectionStore`], idempotent by
//! detection id, every read by tenant.

use async_trait::async_trait;
use vigie_store::{DetectionDoc, DetectionStore, Result, StoreError};

use crate::conn::Pg;

/// Detections in PostgreSQL.
///
/// Made without a connection: the first call connects (and migrates); a
/// lost connection is made again by the next call, so the worker retries
/// while PostgreSQL is down and goes on once it is back.
pub struct PgDetections {
    pg: Pg,
}

impl PgDetections {
    /// The store at `url` (`postgres://USER@HOST:PORT/DB`); nothing is
    /// contacted yet.
    pub fn new(url: &str) -> PgDetections {
        PgDetections { pg: Pg::new(url) }
    }

    /// The database as said in messages: without its password.
    pub fn place(&self) -> String {
        self.pg.place()
    }
}

#[async_trait]
impl DetectionStore for PgDetections {
    async fn put(&self, detections: Vec<DetectionDoc>) -> Result<usize> {
        if detections.is_empty() {
            return Ok(0);
        }
        let mut tenants = Vec::with_capacity(detections.len());
        let mut ids = Vec::with_capacity(detections.len());
        let mut docs = Vec::with_capacity(detections.len());
        for d in detections {
            let doc = String::from_utf8(d.json).map_err(|e| {
                StoreError::Invalid(format!("detection {}: not UTF-8 JSON: {e}", d.id))
            })?;
            tenants.push(d.tenant);
            ids.push(d.id);
            docs.push(doc);
        }
        // One statement, in the order given (durable at its commit).
        let n = self
            .pg
            .with("storing detections", async |c| {
                Ok(c.execute(
                    "INSERT INTO detections (tenant, id, doc)
                     SELECT t, i, d FROM unnest($1::text[], $2::text[], $3::text[])
                         WITH ORDINALITY AS u(t, i, d, o)
                     ORDER BY o
                     ON CONFLICT (tenant, id) DO NOTHING",
                    &[&tenants, &ids, &docs],
                )
                .await?)
            })
            .await?;
        Ok(n as usize)
    }

    async fn count(&self, tenant: &str) -> Result<u64> {
        let n: i64 = self
            .pg
            .with("counting detections", async |c| {
                Ok(c.query_one(
                    "SELECT count(*) FROM detections WHERE tenant = $1",
                    &[&tenant],
                )
                .await
                .map(|r| r.get(0))?)
            })
            .await?;
        Ok(n as u64)
    }

    async fn count_all(&self) -> Result<u64> {
        let n: i64 = self
            .pg
            .with("counting detections", async |c| {
                Ok(c.query_one("SELECT count(*) FROM detections", &[])
                    .await
                    .map(|r| r.get(0))?)
            })
            .await?;
        Ok(n as u64)
    }

    async fn latest(&self, tenant: &str, limit: usize) -> Result<Vec<Vec<u8>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .pg
            .with("reading detections", async |c| {
                Ok(c.query(
                    "SELECT doc FROM (
                         SELECT doc, seq FROM detections WHERE tenant = $1
                         ORDER BY seq DESC LIMIT $2) latest
                     ORDER BY seq",
                    &[&tenant, &limit],
                )
                .await?)
            })
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0).into_bytes())
            .collect())
    }

    /// One statement that reads no table: the server answers (see
    /// [`crate::conn::Pg::ping`]: never behind a batch being stored).
    async fn reachable(&self) -> Result<()> {
        self.pg.ping().await
    }

    /// By the primary key (tenant, id): one row read, whatever the count.
    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .pg
            .with("reading a detection", async |c| {
                Ok(c.query_opt(
                    "SELECT doc FROM detections WHERE tenant = $1 AND id = $2",
                    &[&tenant, &id],
                )
                .await?)
            })
            .await?;
        Ok(row.map(|r| r.get::<_, String>(0).into_bytes()))
    }
}
