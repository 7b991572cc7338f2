//! Detections in `state.db`: [`DetectionStore`], idempotent by (tenant,
//! id), every read by tenant and by index.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use vigie_store::{DetectionDoc, DetectionStore, Result, StoreError};

use crate::db::{Db, Failure};

/// Detections in SQLite.
pub struct SqliteDetections {
    db: Arc<Db>,
}

impl SqliteDetections {
    pub fn new(db: Arc<Db>) -> SqliteDetections {
        SqliteDetections { db }
    }

    pub fn place(&self) -> String {
        self.db.place()
    }
}

/// Keeps those not kept yet, in the order given, and moves the counts,
/// in `c`'s current transaction; how many were new. Shared with the
/// import of the former `detections.jsonl`.
pub(crate) fn insert(
    c: &Connection,
    docs: impl IntoIterator<Item = (String, String, String)>,
) -> rusqlite::Result<usize> {
    let mut st = c.prepare_cached(
        "INSERT INTO detections (tenant, id, doc) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant, id) DO NOTHING",
    )?;
    let mut new: HashMap<String, i64> = HashMap::new();
    let mut n = 0;
    for (tenant, id, doc) in docs {
        if st.execute(params![tenant, id, doc])? == 1 {
            *new.entry(tenant).or_default() += 1;
            n += 1;
        }
    }
    let mut count = c.prepare_cached(
        "INSERT INTO detection_counts (tenant, n) VALUES (?1, ?2)
         ON CONFLICT (tenant) DO UPDATE SET n = n + excluded.n",
    )?;
    for (tenant, k) in new {
        count.execute(params![tenant, k])?;
    }
    Ok(n)
}

#[async_trait]
impl DetectionStore for SqliteDetections {
    async fn put(&self, detections: Vec<DetectionDoc>) -> Result<usize> {
        if detections.is_empty() {
            return Ok(0);
        }
        let rows = detections
            .into_iter()
            .map(|d| {
                String::from_utf8(d.json)
                    .map(|doc| (d.tenant, d.id.clone(), doc))
                    .map_err(|e| {
                        StoreError::Invalid(format!("detection {}: not UTF-8 JSON: {e}", d.id))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        // One transaction: durable (synced) at its commit, all or none.
        self.db
            .run("storing detections", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let n = insert(&tx, rows)?;
                tx.commit()?;
                Ok(n)
            })
            .await
    }

    /// One transaction: the rows and the counts move together. A walk of
    /// the table (each document's `detected` read): every ten minutes,
    /// about a second per million detections. The pages freed are reused
    /// by the next detections (the file does not shrink, it stops growing).
    async fn remove_detected_before(&self, before: &str) -> Result<Option<u64>> {
        let before = before.to_string();
        self.db
            .run("removing old detections", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let gone: Vec<(String, i64)> = {
                    let mut st = tx.prepare(
                        "SELECT tenant, count(*) FROM detections
                         WHERE json_extract(doc, '$.detected') < ?1 GROUP BY tenant",
                    )?;
                    let rows = st.query_map([&before], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<rusqlite::Result<_>>()?
                };
                let mut n = 0u64;
                if !gone.is_empty() {
                    tx.execute(
                        "DELETE FROM detections WHERE json_extract(doc, '$.detected') < ?1",
                        [&before],
                    )?;
                    let mut count = tx.prepare(
                        "UPDATE detection_counts SET n = max(n - ?2, 0) WHERE tenant = ?1",
                    )?;
                    for (tenant, k) in &gone {
                        count.execute(params![tenant, k])?;
                        n += *k as u64;
                    }
                }
                tx.commit()?;
                Ok(Some(n))
            })
            .await
    }

    async fn count(&self, tenant: &str) -> Result<u64> {
        let tenant = tenant.to_string();
        self.db
            .run("counting detections", move |c| {
                let n: Option<i64> = c
                    .query_row(
                        "SELECT n FROM detection_counts WHERE tenant = ?1",
                        [tenant],
                        |r| r.get(0),
                    )
                    .optional()?;
                Ok(n.unwrap_or(0) as u64)
            })
            .await
    }

    async fn count_all(&self) -> Result<u64> {
        self.db
            .run("counting detections", |c| {
                let n: i64 = c.query_row(
                    "SELECT coalesce(sum(n), 0) FROM detection_counts",
                    [],
                    |r| r.get(0),
                )?;
                Ok(n as u64)
            })
            .await
    }

    async fn latest(&self, tenant: &str, limit: usize) -> Result<Vec<Vec<u8>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let tenant = tenant.to_string();
        self.db
            .run("reading detections", move |c| {
                let mut st = c.prepare_cached(
                    "SELECT doc FROM (
                         SELECT doc, seq FROM detections WHERE tenant = ?1
                         ORDER BY seq DESC LIMIT ?2)
                     ORDER BY seq",
                )?;
                let rows = st.query_map(params![tenant, limit], |r| r.get::<_, String>(0))?;
                Ok(rows
                    .map(|r| r.map(String::into_bytes))
                    .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    /// By the key (tenant, id): one row read, whatever the count.
    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        self.db
            .run("reading a detection", move |c| {
                let doc: Option<String> = c
                    .query_row(
                        "SELECT doc FROM detections WHERE tenant = ?1 AND id = ?2",
                        params![tenant, id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(Failure::Sql)?;
                Ok(doc.map(String::into_bytes))
            })
            .await
    }
}
