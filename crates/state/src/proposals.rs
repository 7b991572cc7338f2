//! Containment proposals in `state.db`: [`ProposalStore`]. A step is
//! applied in a write transaction (`BEGIN IMMEDIATE`): an approval and
//! an execution at once are ordered, and the state machine
//! ([`Record::apply`]) sees the record as the other left it.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use vigie_event::Timestamp;
use vigie_respond::store::{ProposalStore, Result, StoreError};
use vigie_respond::{Actor, Proposal, Record, Step};

use crate::db::{Db, Failure};
use crate::{json, parse};

/// Proposals in SQLite.
pub struct SqliteProposals {
    db: Arc<Db>,
}

impl SqliteProposals {
    pub fn new(db: Arc<Db>) -> SqliteProposals {
        SqliteProposals { db }
    }

    pub fn place(&self) -> String {
        self.db.place()
    }
}

fn backend(e: vigie_store::StoreError) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A refusal or a missing proposal, passed out of the transaction (which
/// is then rolled back: nothing changes).
type Outcome<T> = std::result::Result<T, StoreError>;

/// The record after a step (or the first one) kept: the current one
/// replaced, the step's copy appended. Shared with the import.
pub(crate) fn keep(
    c: &Connection,
    tenant: &str,
    record: &Record,
) -> std::result::Result<(), Failure> {
    let doc = json(record)?;
    c.prepare_cached(
        "INSERT INTO proposals (tenant, id, record) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant, id) DO UPDATE SET record = excluded.record",
    )?
    .execute(params![tenant, record.proposal.id, doc])?;
    c.prepare_cached("INSERT INTO proposal_steps (tenant, id, record) VALUES (?1, ?2, ?3)")?
        .execute(params![tenant, record.proposal.id, doc])?;
    Ok(())
}

fn one(c: &Connection, tenant: &str, id: &str) -> std::result::Result<Option<Record>, Failure> {
    let doc: Option<String> = c
        .query_row(
            "SELECT record FROM proposals WHERE tenant = ?1 AND id = ?2",
            params![tenant, id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(doc.map(|d| parse("proposals", id, &d)).transpose()?)
}

#[async_trait]
impl ProposalStore for SqliteProposals {
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
        let (tenant, by) = (tenant.to_string(), by.clone());
        let out: Outcome<usize> = self
            .db
            .run("keeping proposals", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut kept: HashMap<String, Record> = HashMap::new();
                for p in &proposals {
                    if let Some(r) = one(&tx, &tenant, &p.id)? {
                        kept.insert(p.id.clone(), r);
                    }
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
                        None => match Record::propose(p, &by, at) {
                            Ok(r) => fresh.push(r),
                            Err(refusal) => return Ok(Err(StoreError::Refused(refusal))),
                        },
                    }
                }
                for r in &refreshed {
                    tx.execute(
                        "UPDATE proposals SET record = ?3 WHERE tenant = ?1 AND id = ?2",
                        params![tenant, r.proposal.id, json(r)?],
                    )?;
                }
                for r in &fresh {
                    keep(&tx, &tenant, r)?;
                }
                tx.commit()?;
                Ok(Ok(fresh.len()))
            })
            .await
            .map_err(backend)?;
        out
    }

    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Record>> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        self.db
            .run("reading a proposal", move |c| one(c, &tenant, &id))
            .await
            .map_err(backend)
    }

    async fn list(&self, tenant: &str) -> Result<Vec<Record>> {
        let tenant = tenant.to_string();
        let mut out = self
            .db
            .run("reading proposals", move |c| {
                let mut st =
                    c.prepare_cached("SELECT id, record FROM proposals WHERE tenant = ?1")?;
                let rows = st
                    .query_map([tenant], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows
                    .iter()
                    .map(|(id, d)| parse::<Record>("proposals", id, d))
                    .collect::<std::result::Result<Vec<_>, _>>()?)
            })
            .await
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
        let (tenant, id, by) = (tenant.to_string(), id.to_string(), by.clone());
        let out: Outcome<Record> = self
            .db
            .run("applying a step", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let Some(record) = one(&tx, &tenant, &id)? else {
                    return Ok(Err(StoreError::NotFound(id)));
                };
                let next = match record.apply(&step, &by, at) {
                    Ok(next) => next,
                    Err(refusal) => return Ok(Err(StoreError::Refused(refusal))),
                };
                keep(&tx, &tenant, &next)?;
                tx.commit()?;
                Ok(Ok(next))
            })
            .await
            .map_err(backend)?;
        out
    }
}
