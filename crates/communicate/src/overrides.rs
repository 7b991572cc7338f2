//! The crisis cell's status overrides: who set which service to what, when
//! and why. Append-only: an override is never edited or removed, a later
//! one supersedes it (an override without a status returns the service to
//! the status derived from the scope), so the history the insurer, the CNIL
//! and the complaint may ask for is complete.
//!
//! `vigie serve` will persist these with the `crisis` role's sessions;
//! offline, `vigie status export --overrides FILE` reads them from YAML:
//!
//! ```yaml
//! overrides:
//!   - service: pool
//!     status: degraded
//!     reason: Ouvert, paiement en espèces uniquement
//!     author: M. Le Bihan (DGS)
//!     at: 2026-03-14T11:00:00+01:00
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use vigie_event::Timestamp;

use crate::board::{ServiceBoard, Status};
use crate::FileError;

/// One override of a service's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// The service's name in the assets file.
    pub service: String,
    /// The status to show; none returns to the derived status.
    #[serde(default)]
    pub status: Option<Status>,
    /// Why (kept in the history; never on the public page).
    pub reason: String,
    /// Who (a person of the crisis cell).
    pub author: String,
    pub at: Timestamp,
}

/// Every override, in the order they were recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideLog {
    #[serde(default)]
    pub overrides: Vec<Override>,
}

impl OverrideLog {
    /// Records an override (the only way to change the log).
    pub fn push(&mut self, o: Override) {
        self.overrides.push(o);
    }

    /// The overrides by time, ties in recording order.
    pub fn in_order(&self) -> Vec<&Override> {
        let mut v: Vec<&Override> = self.overrides.iter().collect();
        v.sort_by_key(|o| o.at);
        v
    }

    /// Problems that make the log unusable with this board: an override of
    /// a service the board does not have, or without author or reason.
    pub fn problems(&self, board: &ServiceBoard) -> Vec<String> {
        let mut out = Vec::new();
        for (i, o) in self.overrides.iter().enumerate() {
            if board.get(&o.service).is_none() {
                out.push(format!(
                    "override {}: service '{}' is not in the assets file",
                    i + 1,
                    o.service
                ));
            }
            if o.author.trim().is_empty() {
                out.push(format!("override {}: author is empty", i + 1));
            }
            if o.reason.trim().is_empty() {
                out.push(format!("override {}: reason is empty", i + 1));
            }
        }
        out
    }

    /// Reads a YAML (or JSON) overrides file.
    pub fn load(path: &Path) -> Result<OverrideLog, FileError> {
        crate::read_yaml(path)
    }
}
