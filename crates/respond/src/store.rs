//! Where proposals and their trails are kept: a small trait following the
//! live system's conventions (LIVE-DESIGN.md: async, object-safe through
//! `async-trait`, the tenant on every call), an in-memory implementation
//! (offline use and tests), and the conformance function every backend
//! (SQLite in `vigie-store`, PostgreSQL later) must pass.
//!
//! The store applies steps with the pure state machine
//! ([`Record::apply`]) inside its own critical section (a transaction for
//! SQL backends), so two people approving or executing at once cannot both
//! succeed on a stale record.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use vigie_event::Timestamp;

use crate::lifecycle::{Actor, Record, Refusal, Step};
use crate::proposal::Proposal;

/// What a store can answer besides a record.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no proposal {0}")]
    NotFound(String),
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("storage: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Proposals and their audit trails, per tenant.
#[async_trait]
pub trait ProposalStore: Send + Sync {
    /// Adds the proposals not already there (by id) as proposed by `by`;
    /// those already there keep their state and trail, their content is
    /// refreshed (a newer scope may add evidence). Returns how many were new.
    async fn propose(
        &self,
        tenant: &str,
        proposals: Vec<Proposal>,
        by: &Actor,
        at: Timestamp,
    ) -> Result<usize>;
    /// One proposal with its trail.
    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Record>>;
    /// Every proposal of the tenant, in plan order.
    async fn list(&self, tenant: &str) -> Result<Vec<Record>>;
    /// Applies a step atomically (see [`Record::apply`]) and returns the
    /// record after it.
    async fn apply(
        &self,
        tenant: &str,
        id: &str,
        step: Step,
        by: &Actor,
        at: Timestamp,
    ) -> Result<Record>;
    /// Claims proposal `id` for `holder` during `secs` seconds, before a
    /// step that reaches outside Vigie (the directory) is carried out:
    /// `None` when claimed, `Some(who and since)` when another holder
    /// has it. Why: the state machine is checked under the row's lock,
    /// but the directory is changed between that check and the outcome
    /// kept; two api nodes executing the same approved action at once
    /// would both reach it. A claim left by a node that died expires
    /// after `secs`. One process (the embedded stores) serialises with
    /// its own lock: nothing to claim.
    async fn claim(
        &self,
        tenant: &str,
        id: &str,
        holder: &str,
        secs: i64,
    ) -> Result<Option<String>> {
        let _ = (tenant, id, holder, secs);
        Ok(None)
    }
    /// Lets go of a claim made by `holder` (its step is kept).
    async fn unclaim(&self, tenant: &str, id: &str, holder: &str) -> Result<()> {
        let _ = (tenant, id, holder);
        Ok(())
    }
}

/// Records by (tenant, id): what the in-process stores hold.
pub(crate) type Records = BTreeMap<(String, String), Record>;

/// The record `id` of `tenant`.
pub(crate) fn one(m: &Records, tenant: &str, id: &str) -> Option<Record> {
    m.get(&(tenant.to_string(), id.to_string())).cloned()
}

/// The records of `tenant`, in plan order.
pub(crate) fn in_plan_order(m: &Records, tenant: &str) -> Vec<Record> {
    let mut v: Vec<Record> = m
        .iter()
        .filter(|((t, _), _)| t == tenant)
        .map(|(_, r)| r.clone())
        .collect();
    v.sort_by_key(|r| (r.proposal.order, r.proposal.id.clone()));
    v
}

/// Proposals in memory (lost at exit): for offline use and tests.
#[derive(Default)]
pub struct MemoryProposalStore {
    records: Mutex<Records>,
}

impl MemoryProposalStore {
    pub fn new() -> MemoryProposalStore {
        MemoryProposalStore::default()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-applied record:
    // records are replaced whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl ProposalStore for MemoryProposalStore {
    async fn propose(
        &self,
        tenant: &str,
        proposals: Vec<Proposal>,
        by: &Actor,
        at: Timestamp,
    ) -> Result<usize> {
        let mut m = lock(&self.records);
        // Check every proposal first: all or nothing.
        let mut fresh = Vec::new();
        for p in &proposals {
            let key = (tenant.to_string(), p.id.clone());
            if !m.contains_key(&key) {
                fresh.push(Record::propose(p.clone(), by, at)?);
            }
        }
        let n = fresh.len();
        for p in proposals {
            if let Some(r) = m.get_mut(&(tenant.to_string(), p.id.clone())) {
                r.proposal = p;
            }
        }
        for r in fresh {
            m.insert((tenant.to_string(), r.proposal.id.clone()), r);
        }
        Ok(n)
    }

    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Record>> {
        Ok(one(&lock(&self.records), tenant, id))
    }

    async fn list(&self, tenant: &str) -> Result<Vec<Record>> {
        Ok(in_plan_order(&lock(&self.records), tenant))
    }

    async fn apply(
        &self,
        tenant: &str,
        id: &str,
        step: Step,
        by: &Actor,
        at: Timestamp,
    ) -> Result<Record> {
        let mut m = lock(&self.records);
        let key = (tenant.to_string(), id.to_string());
        let r = m
            .get(&key)
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let next = r.apply(&step, by, at)?;
        m.insert(key, next.clone());
        Ok(next)
    }
}

/// The behaviour every [`ProposalStore`] must have, checked on `store`
/// (which must be empty): call it from each backend's tests.
///
/// `sample` is a plan's proposals (at least one that needs four eyes and
/// one that does not), e.g. from the demo's scope.
pub mod conformance {
    use super::*;
    use crate::lifecycle::{Role, State};
    use chrono::{Duration, TimeZone, Utc};

    pub async fn proposal_store(store: &dyn ProposalStore, sample: Vec<Proposal>) {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 17, 8, 0, 0).unwrap();
        let at = |m: i64| t0 + Duration::minutes(m);
        let tech = Actor::new("tech.alice", Role::Analyst);
        let crisis = Actor::new("dgs.bob", Role::Crisis);
        let comms = Actor::new("com.carole", Role::Communication);
        let guarded = sample
            .iter()
            .find(|p| p.four_eyes && p.reversible)
            .expect("a reversible four-eyes proposal in the sample")
            .clone();
        let plain = sample
            .iter()
            .find(|p| !p.four_eyes)
            .expect("a proposal without four eyes in the sample")
            .clone();
        let n = sample.len();

        // Proposing is idempotent per id and per tenant.
        assert_eq!(
            store
                .propose("a", sample.clone(), &tech, at(0))
                .await
                .unwrap(),
            n
        );
        assert_eq!(
            store
                .propose("a", sample.clone(), &tech, at(1))
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.list("a").await.unwrap().len(), n);
        assert!(
            store.list("b").await.unwrap().is_empty(),
            "tenants are separate"
        );
        assert!(store.get("b", &guarded.id).await.unwrap().is_none());
        let orders: Vec<u32> = store
            .list("a")
            .await
            .unwrap()
            .iter()
            .map(|r| r.proposal.order)
            .collect();
        let mut sorted = orders.clone();
        sorted.sort();
        assert_eq!(orders, sorted, "listed in plan order");

        // Refusals change nothing.
        let exec = Step::Execute { how: "ldap".into() };
        assert!(matches!(
            store
                .apply("a", &guarded.id, exec.clone(), &tech, at(2))
                .await,
            Err(StoreError::Refused(Refusal::NotApproved))
        ));
        assert!(matches!(
            store
                .apply("a", &guarded.id, Step::Approve, &tech, at(2))
                .await,
            Err(StoreError::Refused(Refusal::WrongRole { .. }))
        ));
        let self_approver = Actor::new("tech.alice", Role::Admin);
        assert!(matches!(
            store
                .apply("a", &guarded.id, Step::Approve, &self_approver, at(2))
                .await,
            Err(StoreError::Refused(Refusal::SelfApproval { .. }))
        ));
        assert!(matches!(
            store
                .apply("b", &guarded.id, Step::Approve, &crisis, at(2))
                .await,
            Err(StoreError::NotFound(_))
        ));
        let r = store.get("a", &guarded.id).await.unwrap().unwrap();
        assert_eq!(r.state, State::Proposed);
        assert_eq!(r.trail.len(), 1);

        // The four steps, each with its author and time, kept in order.
        store
            .apply("a", &guarded.id, Step::Approve, &crisis, at(3))
            .await
            .unwrap();
        store
            .apply("a", &guarded.id, exec.clone(), &tech, at(4))
            .await
            .unwrap();
        assert!(matches!(
            store
                .apply("a", &guarded.id, Step::Publish, &tech, at(5))
                .await,
            Err(StoreError::Refused(Refusal::WrongRole { .. }))
        ));
        store
            .apply("a", &guarded.id, Step::Publish, &comms, at(5))
            .await
            .unwrap();
        let r = store
            .apply(
                "a",
                &guarded.id,
                Step::RollBack { how: "ldap".into() },
                &tech,
                at(6),
            )
            .await
            .unwrap();
        assert_eq!(r.state, State::RolledBack);
        let trail: Vec<(&str, &str, Timestamp)> = r
            .trail
            .iter()
            .map(|e| (e.what.as_str(), e.author.as_str(), e.at))
            .collect();
        assert_eq!(
            trail,
            vec![
                ("proposed", "tech.alice", at(0)),
                ("approve", "dgs.bob", at(3)),
                ("execute", "tech.alice", at(4)),
                ("publish", "com.carole", at(5)),
                ("roll_back", "tech.alice", at(6)),
            ]
        );
        assert_eq!(
            store.get("a", &guarded.id).await.unwrap().unwrap(),
            r,
            "read back whole"
        );

        // A later plan refreshes content but keeps the trail.
        let mut refreshed = sample.clone();
        for p in &mut refreshed {
            p.reason.push_str(" (+)");
        }
        assert_eq!(
            store.propose("a", refreshed, &tech, at(7)).await.unwrap(),
            0
        );
        let r2 = store.get("a", &guarded.id).await.unwrap().unwrap();
        assert_eq!(r2.trail, r.trail);
        assert!(r2.proposal.reason.ends_with(" (+)"));

        // An action that cuts nothing and touches no account goes straight
        // to execution.
        let r = store
            .apply("a", &plain.id, exec, &tech, at(8))
            .await
            .unwrap();
        assert_eq!(r.state, State::Executed);
    }
}
