//! The regional deployment's detections: [`DetectionStore`] on
//! PostgreSQL.
//!
//! Why PostgreSQL: a CSIRT's detection workers write from several
//! processes, its API answers from any node, and its analysts query with
//! SQL; each commune's detections stay apart by their tenant, which every
//! statement names.
//!
//! Idempotence is the primary key `(tenant, id)` with `ON CONFLICT DO
//! NOTHING`: a worker killed after storing and before committing its
//! position judges the same events again and stores nothing twice.
//!
//! The schema is applied at connection by the embedded migrations
//! (`migrations/*.sql`, in order, each once, recorded in
//! `vigie_migrations`, under an advisory lock so that workers starting
//! together do not race).

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};
use vigie_store::{DetectionDoc, DetectionStore, Result, StoreError};

/// The schema, in order: (version, SQL). Append only.
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("../migrations/0001_detections.sql"))];

/// A lock id of Vigie's own for `pg_advisory_xact_lock`.
const MIGRATION_LOCK: i64 = 0x7669_6769_6500;

fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        what: what.to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Detections in PostgreSQL.
///
/// Made without a connection: the first call connects (and migrates); a
/// lost connection is made again by the next call, so the worker retries
/// while PostgreSQL is down and goes on once it is back.
pub struct PgDetections {
    url: String,
    client: Mutex<Option<Client>>,
}

impl PgDetections {
    /// The store at `url` (`postgres://USER@HOST:PORT/DB`); nothing is
    /// contacted yet.
    pub fn new(url: &str) -> PgDetections {
        PgDetections {
            url: url.to_string(),
            client: Mutex::new(None),
        }
    }

    /// The database as said in messages: without its password.
    pub fn place(&self) -> String {
        match self.url.split_once('@') {
            Some((scheme_user, rest)) => {
                let user = scheme_user.split(':').take(2).collect::<Vec<_>>().join(":");
                format!("PostgreSQL at {user}@{rest}")
            }
            None => format!("PostgreSQL at {}", self.url),
        }
    }

    async fn connect(&self) -> Result<Client> {
        let (mut client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .map_err(|e| failed(self.place(), e))?;
        let place = self.place();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("vigie: {place}: connection lost: {e}");
            }
        });
        migrate(&mut client)
            .await
            .map_err(|e| failed(format!("{}: migrations", self.place()), e))?;
        Ok(client)
    }

    /// Runs `f` on a connection, made again if it was lost.
    async fn with<T>(
        &self,
        what: &str,
        f: impl AsyncFnOnce(&Client) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Result<T> {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_none_or(|c| c.is_closed()) {
            *slot = None;
            *slot = Some(self.connect().await?);
        }
        let client = slot.as_ref().expect("connected above");
        let out = f(client).await;
        if client.is_closed() {
            *slot = None;
        }
        out.map_err(|e| failed(format!("{}: {what}", self.place()), e))
    }
}

async fn migrate(client: &mut Client) -> std::result::Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS vigie_migrations (
            version integer PRIMARY KEY,
            applied timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let done: Vec<i32> = tx
        .query("SELECT version FROM vigie_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (version, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO vigie_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
    }
    tx.commit().await
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
            .with("storing detections", async |c| {
                c.execute(
                    "INSERT INTO detections (tenant, id, doc)
                     SELECT t, i, d FROM unnest($1::text[], $2::text[], $3::text[])
                         WITH ORDINALITY AS u(t, i, d, o)
                     ORDER BY o
                     ON CONFLICT (tenant, id) DO NOTHING",
                    &[&tenants, &ids, &docs],
                )
                .await
            })
            .await?;
        Ok(n as usize)
    }

    async fn count(&self, tenant: &str) -> Result<u64> {
        let n: i64 = self
            .with("counting detections", async |c| {
                c.query_one(
                    "SELECT count(*) FROM detections WHERE tenant = $1",
                    &[&tenant],
                )
                .await
                .map(|r| r.get(0))
            })
            .await?;
        Ok(n as u64)
    }

    async fn count_all(&self) -> Result<u64> {
        let n: i64 = self
            .with("counting detections", async |c| {
                c.query_one("SELECT count(*) FROM detections", &[])
                    .await
                    .map(|r| r.get(0))
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
            .with("reading detections", async |c| {
                c.query(
                    "SELECT doc FROM (
                         SELECT doc, seq FROM detections WHERE tenant = $1
                         ORDER BY seq DESC LIMIT $2) latest
                     ORDER BY seq",
                    &[&tenant, &limit],
                )
                .await
            })
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0).into_bytes())
            .collect())
    }

    /// By the primary key (tenant, id): one row read, whatever the count.
    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .with("reading a detection", async |c| {
                c.query_opt(
                    "SELECT doc FROM detections WHERE tenant = $1 AND id = $2",
                    &[&tenant, &id],
                )
                .await
            })
            .await?;
        Ok(row.map(|r| r.get::<_, String>(0).into_bytes()))
    }
}
