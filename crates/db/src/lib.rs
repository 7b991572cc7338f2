//! The regional deployment's shared state in PostgreSQL: the
//! detections ([`PgDetections`]), the triage ([`PgTriage`]), the crisis
//! cell's journal ([`PgCrisis`]), the containment proposals
//! ([`PgProposals`]) — each behind the trait the embedded backend
//! implements on local files — the uploaded indicator sources
//! ([`PgIndicators`]), the console's audit log ([`PgAudit`], one hash
//! chain for every api node), its accounts and sessions ([`PgUsers`],
//! [`PgSessions`]: a login valid on every api node) and the API tokens
//! ([`PgTokens`]), the live incidents' ids ([`PgIncidentIds`]) and the
//! alerting's journal and claims ([`PgAlerts`]): one name per incident and
//! one message per incident group for every api node.
//!
//! Why PostgreSQL: a CSIRT's detection workers write from several
//! processes, its API answers from any node (two or more behind a load
//! balancer, none holding state the others miss), and its analysts query
//! with SQL; each commune's rows stay apart by their tenant, which every
//! statement on a commune's data names.
//!
//! Detections' idempotence is the primary key `(tenant, id)` with `ON
//! CONFLICT DO NOTHING`: a worker killed after storing and before
//! committing its position judges the same events again and stores
//! nothing twice.
//!
//! The schema is applied at connection by the embedded migrations
//! (`migrations/*.sql`, in order, each once, recorded in
//! `vigie_migrations`, under an advisory lock so that nodes starting
//! together do not race).

mod accounts;
mod audit;
mod blocking;
mod conn;
mod crisis;
mod detections;
mod indicators;
mod live;
mod proposals;
mod throttle;
mod tokens;
mod triage;

pub use accounts::{PgSessions, PgUsers};
pub use audit::PgAudit;
pub use conn::{config, place};
pub use crisis::PgCrisis;
pub use detections::PgDetections;
pub use indicators::{FeedLease, FeedPolled, PgIndicators, Source as IndicatorSource};
pub use live::{NodeImport, PgAlerts, PgIncidentIds, TenantImport};
pub use proposals::PgProposals;
pub use throttle::PgThrottle;
pub use tokens::{PgTokens, TokenRow};
pub use triage::PgTriage;

use tokio_postgres::Client;

/// The schema, in order: (version, SQL). Append only, ordered by version.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_detections.sql")),
    (2, include_str!("../migrations/0002_triage.sql")),
    (3, include_str!("../migrations/0003_crisis.sql")),
    (4, include_str!("../migrations/0004_proposals.sql")),
    (5, include_str!("../migrations/0005_indicators.sql")),
    (6, include_str!("../migrations/0006_audit.sql")),
    (7, include_str!("../migrations/0007_accounts.sql")),
    (8, include_str!("../migrations/0008_rule_switch_tenant.sql")),
    (
        9,
        include_str!("../migrations/0009_token_version_trigger.sql"),
    ),
    (10, include_str!("../migrations/0010_login_throttle.sql")),
    (11, include_str!("../migrations/0011_proposal_claims.sql")),
    (12, include_str!("../migrations/0012_feed_polls.sql")),
    (13, include_str!("../migrations/0013_live.sql")),
    (14, include_str!("../migrations/0014_account_communes.sql")),
    (15, include_str!("../migrations/0015_account_states.sql")),
];

/// PostgreSQL's time, in whole seconds since the epoch, for SQL text.
///
/// Why the database's clock and not the node's: claims, leases and login
/// throttles are shared by every api and detect node; a node whose clock
/// is a minute off would take a claim another still holds, or see a lease
/// expired that is not. One clock — the database's — decides for all.
pub(crate) const DB_NOW: &str = "floor(extract(epoch FROM now()))::bigint";

/// A lock id of Vigie's own for `pg_advisory_xact_lock`.
const MIGRATION_LOCK: i64 = 0x7669_6769_6500;

/// Applies the migrations this Vigie knows, once each, under a lock every
/// node takes. A database a newer Vigie migrated is refused, not used:
/// an older node reads its rows without the newer columns (an account
/// assigned several communes, kept with no tenant of its own and the
/// communes apart, would read as the deployment's own — every commune).
pub(crate) async fn migrate(client: &mut Client) -> std::result::Result<(), conn::Failure> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS vigie_migrations (
            version integer PRIMARY KEY,
            applied timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let done: Vec<i32> = tx
        .query("SELECT version FROM vigie_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(newer) = done.iter().copied().filter(|v| *v > known).max() {
        return Err(conn::Failure::Store(vigie_store::StoreError::Invalid(format!(
            "the database has schema version {newer}, this Vigie knows up to {known}: it was migrated by a newer Vigie (refused, left as it is: run that version on every node)"
        ))));
    }
    for (version, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO vigie_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
    }
    Ok(tx.commit().await?)
}

/// A value as the JSON text kept (documents are text, not jsonb: jsonb
/// refuses the `\u0000` hostile event text may carry).
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
            "{table} row {row}: {e} (left as it is: repair it in the database)"
        ))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_in_order_each_once() {
        let versions: Vec<i32> = super::MIGRATIONS.iter().map(|m| m.0).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(versions, sorted);
    }
}
