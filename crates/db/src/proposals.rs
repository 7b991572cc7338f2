//! Containment proposals in PostgreSQL: [`ProposalStore`] shared by every
//! api node. A step is applied in a transaction holding the proposal's
//! row (`SELECT … FOR UPDATE`): an approval on one node and an execution
//! on another are ordered, and the state machine ([`Record::apply`]) sees
//! the record as the other left it — four eyes hold across nodes.

use std::collections::HashMap;

use async_trait::async_trait;
use vigie_event::Timestamp;
use vigie_respond::store::{ProposalStore, Result, StoreError};
use vigie_respond::{Actor, Proposal, Record, Step};

use crate::conn::Pg;
use crate::{json, parse};

/// Proposals in PostgreSQL (connected at the first call).
pub struct PgProposals {
    pg: Pg,
}

impl PgProposals {
    pub fn new(url: &str) -> PgProposals {
        PgProposals { pg: Pg::new(url) }
    }

    pub fn place(&self) -> String {
        self.pg.place()
    }
}

fn backend(e: vigie_store::StoreError) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A refusal or a missing proposal, passed out of the transaction (which
/// is then rolled back: nothing changes).
type Outcome<T> = std::result::Result<T, StoreError>;

#[async_trait]
impl ProposalStore for PgProposals {
    async fn propose(
        &self,
        tenant: &str,
        proposals: Vec<Proposal>,
        by: &Actor,
        at: Timestamp,
    ) -> Result<usize> {
        if proposals.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = proposals.iter().map(|p| p.id.clone()).collect();
        let out: Outcome<usize> = self
            .pg
            .with("keeping proposals", async |c| {
                let tx = c.transaction().await?;
                let rows = tx
                    .query(
                        "SELECT id, record FROM proposals
                         WHERE tenant = $1 AND id = ANY($2) FOR UPDATE",
                        &[&tenant, &ids],
                    )
                    .await?;
                let mut kept: HashMap<String, Record> = HashMap::new();
                for r in &rows {
                    let id: String = r.get(0);
                    let record: Record = parse("proposals", &id, r.get(1))?;
                    kept.insert(id, record);
                }
                // Every new one checked first: all or nothing.
                let mut fresh: Vec<Record> = Vec::new();
                let mut refreshed: Vec<Record> = Vec::new();
                for p in proposals {
                    match kept.get(&p.id) {
                        Some(r) if r.proposal != p => {
                            // Newer content (more evidence), same trail.
                            let mut r = r.clone();
                            r.proposal = p;
                            refreshed.push(r);
                        }
                        Some(_) => {}
                        None if fresh.iter().any(|r| r.proposal.id == p.id) => {}
                        None => match Record::propose(p, by, at) {
                            Ok(r) => fresh.push(r),
                            Err(refusal) => return Ok(Err(StoreError::Refused(refusal))),
                        },
                    }
                }
                for r in &refreshed {
                    tx.execute(
                        "UPDATE proposals SET record = $3 WHERE tenant = $1 AND id = $2",
                        &[&tenant, &r.proposal.id, &json(r)?],
                    )
                    .await?;
                }
                let mut n = 0;
                for r in &fresh {
                    let doc = json(r)?;
                    // Another node may have proposed it since the read:
                    // kept once, counted where it was inserted.
                    let inserted = tx
                        .execute(
                            "INSERT INTO proposals (tenant, id, record) VALUES ($1, $2, $3)
                             ON CONFLICT (tenant, id) DO NOTHING",
                            &[&tenant, &r.proposal.id, &doc],
                        )
                        .await?;
                    if inserted == 1 {
                        tx.execute(
                            "INSERT INTO proposal_steps (tenant, id, record) VALUES ($1, $2, $3)",
                            &[&tenant, &r.proposal.id, &doc],
                        )
                        .await?;
                        n += 1;
                    }
                }
                tx.commit().await?;
                Ok(Ok(n))
            })
            .await
            .map_err(backend)?;
        out
    }

    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Record>> {
        let row = self
            .pg
            .with("reading a proposal", async |c| {
                Ok(c.query_opt(
                    "SELECT record FROM proposals WHERE tenant = $1 AND id = $2",
                    &[&tenant, &id],
                )
                .await?)
            })
            .await
            .map_err(backend)?;
        row.map(|r| parse("proposals", id, r.get(0)))
            .transpose()
            .map_err(backend)
    }

    async fn list(&self, tenant: &str) -> Result<Vec<Record>> {
        let rows = self
            .pg
            .with("reading proposals", async |c| {
                Ok(c.query(
                    "SELECT id, record FROM proposals WHERE tenant = $1",
                    &[&tenant],
                )
                .await?)
            })
            .await
            .map_err(backend)?;
        let mut out = rows
            .iter()
            .map(|r| parse::<Record>("proposals", r.get::<_, String>(0), r.get(1)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(backend)?;
        out.sort_by_key(|r| (r.proposal.order, r.proposal.id.clone()));
        Ok(out)
    }

    async fn apply(
        &self,
        tenant: &str,
        id: &str,
        step: Step,
        by: &Actor,
        at: Timestamp,
    ) -> Result<Record> {
        let out: Outcome<Record> = self
            .pg
            .with("applying a step", async |c| {
                let tx = c.transaction().await?;
                let row = tx
                    .query_opt(
                        "SELECT record FROM proposals WHERE tenant = $1 AND id = $2 FOR UPDATE",
                        &[&tenant, &id],
                    )
                    .await?;
                let Some(row) = row else {
                    return Ok(Err(StoreError::NotFound(id.to_string())));
                };
                let record: Record = parse("proposals", id, row.get(0))?;
                let next = match record.apply(&step, by, at) {
                    Ok(next) => next,
                    Err(refusal) => return Ok(Err(StoreError::Refused(refusal))),
                };
                let doc = json(&next)?;
                tx.execute(
                    "UPDATE proposals SET record = $3 WHERE tenant = $1 AND id = $2",
                    &[&tenant, &id, &doc],
                )
                .await?;
                tx.execute(
                    "INSERT INTO proposal_steps (tenant, id, record) VALUES ($1, $2, $3)",
                    &[&tenant, &id, &doc],
                )
                .await?;
                tx.commit().await?;
                Ok(Ok(next))
            })
            .await
            .map_err(backend)?;
        out
    }

    /// One statement: a claim is taken when there is none, or when the
    /// one there has expired; else its holder is said.
    async fn claim(
        &self,
        tenant: &str,
        id: &str,
        holder: &str,
        secs: i64,
    ) -> Result<Option<String>> {
        // The database's clock (`since`, `until`): nodes whose clocks
        // differ agree on whether a claim has expired.
        let sql = format!(
            "INSERT INTO proposal_claims (tenant, id, holder, since, until)
             VALUES ($1, $2, $3, {now}, {now} + $4::bigint)
             ON CONFLICT (tenant, id) DO UPDATE SET
               holder = EXCLUDED.holder, since = EXCLUDED.since, until = EXCLUDED.until
             WHERE proposal_claims.until < EXCLUDED.since
             RETURNING holder",
            now = crate::DB_NOW
        );
        self.pg
            .with("claiming a proposal", async |c| {
                let took = c
                    .query_opt(sql.as_str(), &[&tenant, &id, &holder, &secs])
                    .await?;
                if took.is_some() {
                    return Ok(None);
                }
                let other = c
                    .query_opt(
                        "SELECT holder FROM proposal_claims WHERE tenant = $1 AND id = $2",
                        &[&tenant, &id],
                    )
                    .await?;
                Ok(Some(match other {
                    // The holder says who, on which node, since when.
                    Some(r) => r.get::<_, String>(0),
                    // Let go between the two statements: taken by
                    // someone a moment ago; asked again, it is free.
                    None => "another api node, a moment ago".to_string(),
                }))
            })
            .await
            .map_err(backend)
    }

    async fn unclaim(&self, tenant: &str, id: &str, holder: &str) -> Result<()> {
        self.pg
            .with("letting go of a proposal's claim", async |c| {
                c.execute(
                    "DELETE FROM proposal_claims WHERE tenant = $1 AND id = $2 AND holder = $3",
                    &[&tenant, &id, &holder],
                )
                .await?;
                Ok(())
            })
            .await
            .map_err(backend)
    }
}
