//! Commands to copy, where Vigie cannot act itself: PowerShell for Active
//! Directory and Windows hosts, FortiGate CLI for the perimeter. Each
//! proposal gets the commands that carry it out and those that undo it.
//!
//! Every value that comes from the logs (an account, a group, a host, a
//! service name) is quoted for the target language, so a hostile name —
//! an account called `x'; Remove-ADUser …` — stays a name. Values that
//! must have a shape (an IP address, a domain name) are checked and the
//! proposal is refused rather than quoted when they do not.

pub mod fortigate;
pub mod powershell;

use serde::Serialize;

/// The commands for one proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commands {
    pub id: String,
    pub order: u32,
    pub kind: String,
    pub target: String,
    /// Carries the action out.
    pub apply: String,
    /// Undoes it (a comment when it cannot be undone).
    pub rollback: String,
}

impl Commands {
    pub fn new(p: &crate::Proposal, apply: String, rollback: String) -> Commands {
        Commands {
            id: p.id.clone(),
            order: p.order,
            kind: crate::proposal::kind_key(p.kind),
            target: p.target.clone(),
            apply,
            rollback,
        }
    }
}

/// A value that cannot be put in a command safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsafe {
    #[error("{what} {value:?} is not a valid {what}")]
    Shape { what: &'static str, value: String },
    #[error("{value:?} contains a control character")]
    Control { value: String },
}
