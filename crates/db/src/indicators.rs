//! Uploaded indicator sources in PostgreSQL, shared by every node: an
//! upload on one api node is matched by every detect worker. Each change
//! moves one version counter (under its row lock: changes are ordered);
//! nodes poll it and read the sources again when it moved.

use vigie_store::Result;

use crate::conn::Pg;

/// One source as kept: its description (JSON, the server's `SourceInfo`)
/// and its bytes as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub info: String,
    pub src: Vec<u8>,
}

/// The indicator sources in PostgreSQL (connected at the first call).
pub struct PgIndicators {
    pg: Pg,
}

impl PgIndicators {
    pub fn new(url: &str) -> PgIndicators {
        PgIndicators { pg: Pg::new(url) }
    }

    pub fn place(&self) -> String {
        self.pg.place()
    }

    /// Keeps `source` (replacing one of the same name); the version after.
    pub async fn put(&self, source: &Source) -> Result<i64> {
        self.pg
            .with("keeping an indicator source", async |c| {
                let tx = c.transaction().await?;
                let version: i64 = tx
                    .query_one(
                        "UPDATE indicator_version SET version = version + 1 RETURNING version",
                        &[],
                    )
                    .await?
                    .get(0);
                tx.execute(
                    "INSERT INTO indicator_sources (name, info, src, version)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name) DO UPDATE
                     SET info = excluded.info, src = excluded.src, version = excluded.version",
                    &[&source.name, &source.info, &source.src, &version],
                )
                .await?;
                tx.commit().await?;
                Ok(version)
            })
            .await
    }

    /// Removes source `name`: the version it made, `None` when it was not
    /// there (the version then stays).
    pub async fn remove(&self, name: &str) -> Result<Option<i64>> {
        self.pg
            .with("removing an indicator source", async |c| {
                let tx = c.transaction().await?;
                let version: i64 = tx
                    .query_one(
                        "UPDATE indicator_version SET version = version + 1 RETURNING version",
                        &[],
                    )
                    .await?
                    .get(0);
                let n = tx
                    .execute("DELETE FROM indicator_sources WHERE name = $1", &[&name])
                    .await?;
                if n == 0 {
                    // Nothing changed: the counter stays.
                    tx.rollback().await?;
                    return Ok(None);
                }
                tx.commit().await?;
                Ok(Some(version))
            })
            .await
    }

    /// The version now (0: nothing ever kept).
    pub async fn version(&self) -> Result<i64> {
        self.pg
            .with("reading the indicators' version", async |c| {
                Ok(c.query_one("SELECT version FROM indicator_version", &[])
                    .await?
                    .get(0))
            })
            .await
    }

    /// Every source by name, with the version they are of (read in one
    /// transaction: the sources and their version agree).
    pub async fn all(&self) -> Result<(i64, Vec<Source>)> {
        self.pg
            .with("reading indicator sources", async |c| {
                let tx = c
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await?;
                let version: i64 = tx
                    .query_one("SELECT version FROM indicator_version", &[])
                    .await?
                    .get(0);
                let rows = tx
                    .query(
                        "SELECT name, info, src FROM indicator_sources ORDER BY name",
                        &[],
                    )
                    .await?;
                tx.commit().await?;
                Ok((
                    version,
                    rows.iter()
                        .map(|r| Source {
                            name: r.get(0),
                            info: r.get(1),
                            src: r.get(2),
                        })
                        .collect(),
                ))
            })
            .await
    }
}
