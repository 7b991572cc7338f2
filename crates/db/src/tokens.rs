//! API tokens in PostgreSQL ([`PgTokens`]), shared by every node: a token
//! made once (`vigie token create --db`) opens every node, a revocation
//! on one is refused on all. Only each token's SHA-256 is kept, as in
//! `tokens.jsonl`. Every creation and revocation moves one version
//! counter (under its row lock): nodes poll it and read the tokens again
//! when it moved, as they do the indicator sources.
//!
//! Blocking (the server checks a token from its authorisation check, the
//! command line has no runtime): the calls run on this crate's small
//! runtime ([`crate::blocking`]).

use std::sync::Arc;

use vigie_store::Result;

use crate::conn::Pg;

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

/// The API tokens in PostgreSQL (connected at the first call).
pub struct PgTokens {
    pg: Arc<Pg>,
    rt: &'static tokio::runtime::Runtime,
}

fn row(r: &tokio_postgres::Row) -> TokenRow {
    let time: Option<String> = r.get(5);
    let by: Option<String> = r.get(6);
    TokenRow {
        sha256: r.get(0),
        name: r.get(1),
        scope: r.get(2),
        tenant: r.get(3),
        created: r.get(4),
        revoked: time.map(|t| (t, by.unwrap_or_default())),
    }
}

const COLUMNS: &str = "sha256, name, scope, tenant, created, revoked_time, revoked_by";

impl PgTokens {
    pub fn new(url: &str) -> std::io::Result<PgTokens> {
        Ok(PgTokens {
            pg: Arc::new(Pg::new(url)),
            rt: crate::blocking::runtime()?,
        })
    }

    pub fn place(&self) -> String {
        self.pg.place()
    }

    fn call<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        crate::blocking::run(self.rt, &self.pg.place(), f)
    }

    /// Keeps a new token; the version after.
    pub fn create(&self, t: &TokenRow) -> Result<i64> {
        let pg = self.pg.clone();
        let t = t.clone();
        self.call(async move {
            pg.with("keeping a token", async |c| {
                let tx = c.transaction().await?;
                let version: i64 = tx
                    .query_one(
                        "UPDATE api_token_version SET version = version + 1 RETURNING version",
                        &[],
                    )
                    .await?
                    .get(0);
                tx.execute(
                    "INSERT INTO api_tokens (sha256, name, scope, tenant, created)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&t.sha256, &t.name, &t.scope, &t.tenant, &t.created],
                )
                .await?;
                tx.commit().await?;
                Ok(version)
            })
            .await
        })
    }

    /// Revokes the token whose hash starts with `id` (12 hex digits; the
    /// oldest if two did): its row after, `None` when there is none. A
    /// revoked token stays as it was revoked (the first revocation
    /// stands).
    pub fn revoke(&self, id: &str, by: &str, time: &str) -> Result<Option<TokenRow>> {
        let pg = self.pg.clone();
        let (id, by, time) = (id.to_string(), by.to_string(), time.to_string());
        self.call(async move {
            pg.with("revoking a token", async |c| {
                let tx = c.transaction().await?;
                tx.execute("UPDATE api_token_version SET version = version + 1", &[])
                    .await?;
                let found = tx
                    .query_opt(
                        "SELECT sha256 FROM api_tokens WHERE left(sha256, 12) = $1
                         ORDER BY seq LIMIT 1 FOR UPDATE",
                        &[&id],
                    )
                    .await?;
                let Some(found) = found else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let sha: String = found.get(0);
                tx.execute(
                    "UPDATE api_tokens SET revoked_time = $2, revoked_by = $3
                     WHERE sha256 = $1 AND revoked_time IS NULL",
                    &[&sha, &time, &by],
                )
                .await?;
                let r = tx
                    .query_one(
                        &format!("SELECT {COLUMNS} FROM api_tokens WHERE sha256 = $1"),
                        &[&sha],
                    )
                    .await?;
                tx.commit().await?;
                Ok(Some(row(&r)))
            })
            .await
        })
    }

    /// Keeps tokens made elsewhere (a node's `tokens.jsonl`, hashes
    /// only), in one transaction: a token not kept yet is added as it is;
    /// one kept already only takes a revocation it lacks (never undone,
    /// never replaced). How many rows changed; the version moves if any.
    pub fn import(&self, rows: &[TokenRow]) -> Result<u64> {
        let pg = self.pg.clone();
        let rows = rows.to_vec();
        self.call(async move {
            pg.with("importing tokens", async |c| {
                let tx = c.transaction().await?;
                let mut changed = 0;
                for t in &rows {
                    let (time, by) = match &t.revoked {
                        Some((time, by)) => (Some(time.as_str()), Some(by.as_str())),
                        None => (None, None),
                    };
                    changed += tx
                        .execute(
                            "INSERT INTO api_tokens
                               (sha256, name, scope, tenant, created, revoked_time, revoked_by)
                             VALUES ($1, $2, $3, $4, $5, $6, $7)
                             ON CONFLICT (sha256) DO UPDATE
                             SET revoked_time = excluded.revoked_time,
                                 revoked_by = excluded.revoked_by
                             WHERE api_tokens.revoked_time IS NULL
                               AND excluded.revoked_time IS NOT NULL",
                            &[
                                &t.sha256, &t.name, &t.scope, &t.tenant, &t.created, &time, &by,
                            ],
                        )
                        .await?;
                }
                if changed > 0 {
                    tx.execute("UPDATE api_token_version SET version = version + 1", &[])
                        .await?;
                }
                tx.commit().await?;
                Ok(changed)
            })
            .await
        })
    }

    /// The version now (0: nothing ever kept).
    pub fn version(&self) -> Result<i64> {
        let pg = self.pg.clone();
        self.call(async move {
            pg.with("reading the tokens' version", async |c| {
                Ok(c.query_one("SELECT version FROM api_token_version", &[])
                    .await?
                    .get(0))
            })
            .await
        })
    }

    /// Every token, revoked ones included, oldest first, with the version
    /// they are of (read in one transaction: they agree).
    pub fn all(&self) -> Result<(i64, Vec<TokenRow>)> {
        let pg = self.pg.clone();
        self.call(async move {
            pg.with("reading the tokens", async |c| {
                let tx = c
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await?;
                let version: i64 = tx
                    .query_one("SELECT version FROM api_token_version", &[])
                    .await?
                    .get(0);
                let rows = tx
                    .query(
                        &format!("SELECT {COLUMNS} FROM api_tokens ORDER BY seq"),
                        &[],
                    )
                    .await?;
                tx.commit().await?;
                Ok((version, rows.iter().map(row).collect()))
            })
            .await
        })
    }
}
