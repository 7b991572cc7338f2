//! Vigie's *respond* stage: containment that is proposed, simulated,
//! approved, executed and audited.
//!
//! ```text
//! Scope + Assets ─ proposal::plan ─ Plan { Proposal (phase, impact, undo, four_eyes) }
//!                                        │
//!            Record::propose ─ apply(Step, Actor, time) ─ Record { state, trail }   (pure)
//!                                        │                 ProposalStore (tenant, async)
//!            commands::{powershell, fortigate} ─ text to copy, with rollback
//!            executed records ─ lifecycle::isolated_hosts ─ ServiceBoard (vigie-communicate)
//! ```
//!
//! The impact simulation is the service board's own derivation
//! ([`vigie_communicate::ServiceBoard::derive`]) run with the action's
//! hosts isolated: one implementation of "which services go down".

pub mod commands;
pub mod impact;
pub mod journal;
pub mod ldap;
pub mod lifecycle;
pub mod proposal;
pub mod sequence;
pub mod store;

pub use impact::{Impact, ServiceImpact};
pub use journal::FileProposalStore;
pub use lifecycle::{Actor, Entry, Record, Refusal, Role, State, Step};
pub use proposal::{plan, proposal_id, Plan, Proposal};
pub use sequence::Phase;
pub use store::{MemoryProposalStore, ProposalStore, StoreError};
