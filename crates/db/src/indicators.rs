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

/// What a node asking to poll a feed is told ([`PgIndicators::lease_feed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedLease {
    /// It polls now, until the lease ends; what the last poll learnt.
    Taken(FeedPolled),
    /// Not now: due, or free, in this many seconds (by the database's
    /// clock: a node's own may differ).
    NotBefore(i64),
}

/// What a poll learnt, kept for the next (whichever node makes it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedPolled {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// A TAXII collection's resume point (JSON).
    pub taxii: Option<String>,
}

impl PgIndicators {
    pub fn new(url: &str) -> PgIndicators {
        PgIndicators { pg: Pg::new(url) }
    }

    pub fn place(&self) -> String {
        self.pg.place()
    }

    /// Takes the lease of feed `name` for `holder` during `lease` seconds
    /// when its poll is due and no other node holds it (one statement:
    /// two nodes asking at once, one gets it). Times are the database's
    /// ([`crate::DB_NOW`]): nodes with skewed clocks agree on them.
    pub async fn lease_feed(&self, name: &str, holder: &str, lease: i64) -> Result<FeedLease> {
        let now = crate::DB_NOW;
        let take = format!(
            "INSERT INTO feed_polls (name, holder, until, next_at)
             VALUES ($1, $2, {now} + $3::bigint, 0)
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
             WHERE feed_polls.next_at <= {now}
               AND (feed_polls.until < {now} OR feed_polls.holder = EXCLUDED.holder)
             RETURNING etag, last_modified, taxii"
        );
        let wait = format!(
            "SELECT GREATEST(next_at, LEAST(until, {now} + $2::bigint)) - {now}
             FROM feed_polls WHERE name = $1"
        );
        self.pg
            .with("leasing an indicator feed", async |c| {
                let took = c
                    .query_opt(take.as_str(), &[&name, &holder, &lease])
                    .await?;
                if let Some(r) = took {
                    return Ok(FeedLease::Taken(FeedPolled {
                        etag: r.get(0),
                        last_modified: r.get(1),
                        taxii: r.get(2),
                    }));
                }
                let r = c.query_one(wait.as_str(), &[&name, &lease]).await?;
                Ok(FeedLease::NotBefore(r.get::<_, i64>(0).max(0)))
            })
            .await
    }

    /// Ends `holder`'s lease of feed `name`: what its poll learnt, and
    /// that the next is due in `next_in` seconds (the database's clock).
    pub async fn polled_feed(
        &self,
        name: &str,
        holder: &str,
        polled: &FeedPolled,
        next_in: i64,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE feed_polls SET holder = NULL, until = 0, next_at = {now} + $3::bigint,
               polled_at = {now}, etag = $4, last_modified = $5, taxii = $6
             WHERE name = $1 AND holder = $2",
            now = crate::DB_NOW
        );
        self.pg
            .with("keeping an indicator feed's poll", async |c| {
                c.execute(
                    sql.as_str(),
                    &[
                        &name,
                        &holder,
                        &next_in,
                        &polled.etag,
                        &polled.last_modified,
                        &polled.taxii,
                    ],
                )
                .await?;
                Ok(())
            })
            .await
    }

    /// The bytes kept of source `name`, if any (a feed's last version,
    /// read back by a node that starts polling it).
    pub async fn src(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.pg
            .with("reading an indicator source", async |c| {
                let r = c
                    .query_opt(
                        "SELECT src FROM indicator_sources WHERE name = $1",
                        &[&name],
                    )
                    .await?;
                Ok(r.map(|r| r.get::<_, Vec<u8>>(0)))
            })
            .await
    }

    /// The version source `name` was last kept at, if kept: a node
    /// taking a feed's lease reads the source again only when another
    /// node wrote it since (the bytes can be large).
    pub async fn src_version(&self, name: &str) -> Result<Option<i64>> {
        self.pg
            .with("reading an indicator source's version", async |c| {
                let r = c
                    .query_opt(
                        "SELECT version FROM indicator_sources WHERE name = $1",
                        &[&name],
                    )
                    .await?;
                Ok(r.map(|r| r.get::<_, i64>(0)))
            })
            .await
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
