//! The life of a proposal — proposed → approved (by someone else) →
//! executed → rolled back — as plain data and a pure state machine.
//!
//! Why pure: the same rules must hold whether the step comes from the CLI,
//! the console or a script through the API, and the audit trail must be
//! exactly the list of steps the rules let through. [`Record::apply`] takes
//! the record, the step asked for, who asks and when, and returns the new
//! record or a [`Refusal`] saying why; nothing is written anywhere.

use serde::{Deserialize, Serialize};
use vigie_event::Timestamp;

use crate::proposal::Proposal;

/// A person's role (issue 13's roles): the console's, one enum for both.
pub use vigie_access::Role;

/// Who takes a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub role: Role,
}

/// The name under which Vigie itself proposes the plan's actions (in
/// `vigie serve`, every proposal comes from the live scope's plan).
pub const SYSTEM: &str = "vigie";

impl Actor {
    pub fn new(name: &str, role: Role) -> Actor {
        Actor {
            name: name.to_string(),
            role,
        }
    }

    /// Vigie itself, proposing its plan. A proposal of Vigie's needs a
    /// person to [`Step::Request`] it before anyone approves it: the
    /// requester is then the first pair of eyes, the approver the second.
    pub fn system() -> Actor {
        Actor::new(SYSTEM, Role::Analyst)
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Proposed,
    /// A person asked for it to be carried out (the first pair of eyes).
    Requested,
    Approved,
    Rejected,
    Executed,
    /// Carrying it out failed: it may be retried.
    Failed,
    RolledBack,
}

/// A step asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A person asks for the action (roles `admin`, `analyst`, `crisis`):
    /// needed before approval when Vigie itself proposed it.
    Request {
        #[serde(default)]
        reason: String,
    },
    /// Four-eyes approval (roles `admin` or `crisis`, never the proposer).
    Approve,
    /// Refused by the crisis cell (roles `admin` or `crisis`), with why.
    Reject { reason: String },
    /// Carried out (roles `admin` or `analyst`): `how` says by what (LDAP,
    /// FortiGate API, by hand from the printed commands) and what came back.
    Execute { how: String },
    /// Carrying it out failed; `error` says what happened.
    Fail { how: String, error: String },
    /// Undone (roles `admin` or `analyst`): no approval needed, undoing
    /// restores the previous state.
    RollBack { how: String },
    /// The status-page consequence is approved for publication (role
    /// `communication`, or `admin`).
    Publish,
}

impl Step {
    pub fn key(&self) -> &'static str {
        match self {
            Step::Request { .. } => "request",
            Step::Approve => "approve",
            Step::Reject { .. } => "reject",
            Step::Execute { .. } => "execute",
            Step::Fail { .. } => "fail",
            Step::RollBack { .. } => "roll_back",
            Step::Publish => "publish",
        }
    }
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub at: Timestamp,
    pub author: String,
    pub role: Role,
    /// `proposed`, or the step taken.
    pub what: String,
    /// The state after it.
    pub state: State,
    /// Details (how it was executed, why rejected).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A proposal and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub proposal: Proposal,
    pub state: State,
    /// Every step, oldest first; the first is the proposal itself.
    pub trail: Vec<Entry>,
    /// Whether its status-page consequence is approved for publication.
    pub published: bool,
}

/// Why a step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    #[error("{who} proposed this action: a second person must approve it (four-eyes)")]
    SelfApproval { who: String },
    #[error("the role {role} cannot {step} (needs {needed})")]
    WrongRole {
        role: String,
        step: String,
        needed: String,
    },
    #[error("this action cuts a service or touches an account: it must be approved before it is executed")]
    NotApproved,
    #[error(
        "Vigie proposed this action: a person must request it before a second person approves it"
    )]
    NotRequested,
    #[error("cannot {step} an action that is {state}")]
    WrongState { step: String, state: String },
    #[error("this action cannot be undone ({why})")]
    Irreversible { why: String },
    #[error("nothing to publish: the action has not been executed")]
    NothingToPublish,
    #[error("a name is required for every step")]
    NoAuthor,
}

fn state_key(s: State) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn need(actor: &Actor, step: &Step, allowed: &[Role]) -> Result<(), Refusal> {
    if allowed.contains(&actor.role) {
        Ok(())
    } else {
        Err(Refusal::WrongRole {
            role: actor.role.key().to_string(),
            step: step.key().to_string(),
            needed: allowed
                .iter()
                .map(|r| r.key())
                .collect::<Vec<_>>()
                .join(" or "),
        })
    }
}

impl Record {
    /// A new proposal, proposed by `by` (roles `admin`, `analyst` or
    /// `crisis`; Vigie itself proposes as `vigie` with the role `analyst`).
    pub fn propose(proposal: Proposal, by: &Actor, at: Timestamp) -> Result<Record, Refusal> {
        if by.name.trim().is_empty() {
            return Err(Refusal::NoAuthor);
        }
        if !matches!(by.role, Role::Admin | Role::Analyst | Role::Crisis) {
            return Err(Refusal::WrongRole {
                role: by.role.key().to_string(),
                step: "propose".into(),
                needed: "admin or analyst or crisis".into(),
            });
        }
        Ok(Record {
            proposal,
            state: State::Proposed,
            trail: vec![Entry {
                at,
                author: by.name.clone(),
                role: by.role,
                what: "proposed".into(),
                state: State::Proposed,
                detail: String::new(),
            }],
            published: false,
        })
    }

    /// Who proposed it.
    pub fn proposer(&self) -> &str {
        self.trail.first().map_or("", |e| e.author.as_str())
    }

    /// Applies `step` asked by `by` at `at`: the new record, or why not.
    pub fn apply(&self, step: &Step, by: &Actor, at: Timestamp) -> Result<Record, Refusal> {
        if by.name.trim().is_empty() {
            return Err(Refusal::NoAuthor);
        }
        let wrong_state = || Refusal::WrongState {
            step: step.key().to_string(),
            state: state_key(self.state),
        };
        let (state, detail) = match step {
            Step::Request { reason } => {
                need(by, step, &[Role::Admin, Role::Analyst, Role::Crisis])?;
                if self.state != State::Proposed {
                    return Err(wrong_state());
                }
                (State::Requested, reason.clone())
            }
            Step::Approve => {
                need(by, step, &[Role::Admin, Role::Crisis])?;
                match self.state {
                    State::Requested => {}
                    State::Proposed if self.by_system() => return Err(Refusal::NotRequested),
                    State::Proposed => {}
                    _ => return Err(wrong_state()),
                }
                if self.first_eyes().any(|n| same_person(n, &by.name)) {
                    return Err(Refusal::SelfApproval {
                        who: by.name.clone(),
                    });
                }
                (State::Approved, String::new())
            }
            Step::Reject { reason } => {
                need(by, step, &[Role::Admin, Role::Crisis])?;
                if !matches!(
                    self.state,
                    State::Proposed | State::Requested | State::Approved
                ) {
                    return Err(wrong_state());
                }
                (State::Rejected, reason.clone())
            }
            Step::Execute { how } => {
                need(by, step, &[Role::Admin, Role::Analyst])?;
                match self.state {
                    State::Approved => {}
                    State::Proposed | State::Requested if self.proposal.four_eyes => {
                        return Err(Refusal::NotApproved)
                    }
                    State::Proposed | State::Requested => {}
                    // A failed attempt may be retried, under the same approval.
                    State::Failed if self.approved() || !self.proposal.four_eyes => {}
                    State::Failed => return Err(Refusal::NotApproved),
                    _ => return Err(wrong_state()),
                }
                (State::Executed, how.clone())
            }
            Step::Fail { how, error } => {
                need(by, step, &[Role::Admin, Role::Analyst])?;
                if !matches!(
                    self.state,
                    State::Proposed
                        | State::Requested
                        | State::Approved
                        | State::Failed
                        | State::Executed
                ) {
                    return Err(wrong_state());
                }
                // A failed rollback leaves the action executed.
                let next = if self.state == State::Executed {
                    State::Executed
                } else {
                    State::Failed
                };
                (next, format!("{how}: {error}"))
            }
            Step::RollBack { how } => {
                need(by, step, &[Role::Admin, Role::Analyst])?;
                if self.state != State::Executed {
                    return Err(wrong_state());
                }
                if !self.proposal.reversible {
                    return Err(Refusal::Irreversible {
                        why: self.proposal.undo.clone(),
                    });
                }
                (State::RolledBack, how.clone())
            }
            Step::Publish => {
                need(by, step, &[Role::Communication, Role::Admin])?;
                if self.state != State::Executed {
                    return Err(Refusal::NothingToPublish);
                }
                if self.published {
                    return Err(wrong_state());
                }
                (State::Executed, String::new())
            }
        };
        let mut next = self.clone();
        next.state = state;
        if matches!(step, Step::Publish) {
            next.published = true;
        }
        next.trail.push(Entry {
            at,
            author: by.name.clone(),
            role: by.role,
            what: step.key().to_string(),
            state,
            detail,
        });
        Ok(next)
    }

    /// Proposed by Vigie itself (its plan), not by a person.
    pub fn by_system(&self) -> bool {
        self.trail
            .first()
            .is_some_and(|e| same_person(&e.author, SYSTEM))
    }

    /// The people who proposed or requested it: none of them may approve
    /// it (Vigie itself is no person).
    pub fn first_eyes(&self) -> impl Iterator<Item = &str> {
        let system = self.by_system();
        self.trail
            .iter()
            .enumerate()
            .filter(move |(i, e)| (*i == 0 && !system) || e.what == "request")
            .map(|(_, e)| e.author.as_str())
    }

    /// Approved by a second person at some point.
    pub fn approved(&self) -> bool {
        self.trail.iter().any(|e| e.what == "approve")
    }
}

/// Names are compared as people type them: case and surrounding spaces
/// aside.
fn same_person(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Hosts isolated by executed (and not rolled back) proposals: the input
/// the service board needs ([`vigie_communicate::BoardInput::isolated`]).
pub fn isolated_hosts<'a>(
    records: impl IntoIterator<Item = &'a Record>,
) -> std::collections::BTreeSet<String> {
    records
        .into_iter()
        .filter(|r| r.state == State::Executed)
        .flat_map(|r| r.proposal.impact.hosts_cut.iter().cloned())
        .collect()
}

/// Same, only for proposals whose publication the `communication` role
/// approved: what the public status page may show.
pub fn published_isolated_hosts<'a>(
    records: impl IntoIterator<Item = &'a Record>,
) -> std::collections::BTreeSet<String> {
    records
        .into_iter()
        .filter(|r| r.state == State::Executed && r.published)
        .flat_map(|r| r.proposal.impact.hosts_cut.iter().cloned())
        .collect()
}
