//! The embedded state of `vigie serve`, in SQLite: the detections
//! ([`SqliteDetections`]), the triage ([`SqliteTriage`]), the crisis
//! cell's journal ([`SqliteCrisis`]), the containment proposals
//! ([`SqliteProposals`]), the console's audit log ([`SqliteAudit`]), its
//! accounts and sessions ([`SqliteUsers`], [`SqliteSessions`]) and the
//! API tokens ([`SqliteTokens`]), and what the live half must not
//! forget across a restart: the incidents' live ids
//! ([`SqliteIncidentIds`]) and the alerting's journal ([`SqliteAlerts`]);
//! and the uploaded indicator sources ([`SqliteIndicators`]) —
//! each behind the trait the PostgreSQL backend (`vigie-db`) implements,
//! and checked by the same conformance suites.
//!
//! Why SQLite: one commune, one machine, one file (`state.db` in the data
//! directory) that is updated in place, read by index (a detection by its
//! id, the latest of a tenant) and changed in transactions (a proposal's
//! step, a filter's next version), where the former JSON Lines files were
//! read whole at each start and scanned whole at each read. The raw
//! events stay in the compressed segments of `vigie_store::embedded`.
//!
//! Durability: WAL with `synchronous=FULL`, so a call returns once its
//! transaction is in the synced WAL — an acknowledged detection survives
//! `kill -9` and a power cut. A busy timeout orders writers of several
//! processes (the server and a `vigie user …` command).
//!
//! The schema is applied at each open by the embedded migrations
//! (`migrations/*.sql`, in order, each once, recorded in
//! `vigie_migrations`); a `state.db` written by a newer Vigie is refused
//! rather than misread. A data directory of an earlier Vigie is imported
//! at the first open ([`import`]).

mod accounts;
mod audit;
mod crisis;
mod db;
mod detections;
pub mod import;
mod indicators;
mod live;
mod proposals;
mod tokens;
mod triage;

pub use accounts::{SqliteSessions, SqliteUsers};
pub use audit::SqliteAudit;
pub use crisis::SqliteCrisis;
pub use db::{Db, BUSY_TIMEOUT, FILE};
pub use detections::SqliteDetections;
pub use import::{import, import_only, Imported};
pub use indicators::{IndicatorSource, SqliteIndicators};
pub use live::{forget_live, take_for_import, LiveRows, SqliteAlerts, SqliteIncidentIds};
pub use proposals::SqliteProposals;
pub use tokens::{SqliteTokens, TokenRow};
pub use triage::SqliteTriage;
pub use vigie_store::live::{AlertRow, KnownIncident};

/// The schema, in order: (version, SQL). Append only, ordered by version.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_detections.sql")),
    (2, include_str!("../migrations/0002_triage.sql")),
    (3, include_str!("../migrations/0003_crisis.sql")),
    (4, include_str!("../migrations/0004_proposals.sql")),
    (5, include_str!("../migrations/0005_audit.sql")),
    (6, include_str!("../migrations/0006_imports.sql")),
    (7, include_str!("../migrations/0007_accounts.sql")),
    (8, include_str!("../migrations/0008_tokens.sql")),
    (9, include_str!("../migrations/0009_live.sql")),
    (10, include_str!("../migrations/0010_indicators.sql")),
    (11, include_str!("../migrations/0011_live_claims.sql")),
    (12, include_str!("../migrations/0012_account_communes.sql")),
    (13, include_str!("../migrations/0013_account_states.sql")),
];

/// A value as the JSON text kept.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String, vigie_store::StoreError> {
    serde_json::to_string(value).map_err(|e| vigie_store::StoreError::Invalid(e.to_string()))
}

/// A kept document read back; a damaged one is an error naming its table
/// and row, never skipped (state read in part would be state lost).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    table: &str,
    row: impl std::fmt::Display,
    doc: &str,
) -> Result<T, vigie_store::StoreError> {
    serde_json::from_str(doc).map_err(|e| {
        vigie_store::StoreError::Invalid(format!(
            "state.db: {table} row {row}: {e} (left as it is: repair it with sqlite3)"
        ))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_in_order_each_once() {
        let versions: Vec<i64> = super::MIGRATIONS.iter().map(|m| m.0).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(versions, sorted);
        assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>());
    }
}
