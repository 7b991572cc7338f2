//! What the live half of `vigie serve` must not forget across a restart:
//! the incidents' live ids ([`SqliteIncidentIds`], the former
//! `incidents.json`) and what the alerting told each destination
//! ([`SqliteAlerts`], the former `alerts.jsonl`).
//!
//! Why here and not rebuilt: the live scope and the sources' health are
//! rebuilt from the stored events at each start, but an id handed to a
//! technician, a message delivered and a silence said are facts of the
//! past, not of the events. Lost, an incident would change its name in
//! the console and the tickets, and a restart would page the technician
//! again for everything.
//!
//! The embedded deployment's (one node): with `--db` they are
//! PostgreSQL's (crate `vigie-db`, the same traits and tables), and a
//! node's `state.db` keeps them only until its first start with `--db`
//! moves them there ([`take_for_import`]).
//!
//! Calls are blocking: the live scope names incidents and the alerter
//! sends from tokio's blocking pool. Each write is one transaction,
//! synced at its commit (WAL, `synchronous=FULL`) before the call
//! returns, so an id is durable before it is served.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use vigie_store::live::{
    AlertJournal, AlertKey, AlertRow, Claim, Delivered, IncidentIds, KnownIncident, Naming,
};
use vigie_store::Result;

use crate::db::{Db, Failure};

/// SQLite's clock in whole seconds since the epoch (claims and
/// deliveries).
const NOW: &str = "CAST(strftime('%s', 'now') AS INTEGER)";

/// The live incidents' ids in SQLite.
pub struct SqliteIncidentIds {
    db: Arc<Db>,
}

impl SqliteIncidentIds {
    pub fn new(db: Arc<Db>) -> SqliteIncidentIds {
        SqliteIncidentIds { db }
    }

    /// Keeps `tenant`'s incidents as they are now (the naming only adds
    /// incidents and entities), in one transaction.
    pub fn keep(&self, tenant: &str, known: &[KnownIncident]) -> Result<()> {
        let rows = known
            .iter()
            .map(|(id, e)| Ok((id.clone(), crate::json(e)?)))
            .collect::<Result<Vec<_>>>()?;
        self.db.call("keeping the live incidents' ids", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            keep(&tx, tenant, &rows)?;
            tx.commit()?;
            Ok(())
        })
    }
}

/// `tenant`'s incidents as kept in `c`.
fn known_of(c: &Connection, tenant: &str) -> std::result::Result<Vec<KnownIncident>, Failure> {
    let mut st = c.prepare_cached(
        "SELECT pos, id, entities FROM live_incidents WHERE tenant = ?1 ORDER BY pos",
    )?;
    let rows = st.query_map([tenant], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut known = Vec::new();
    for row in rows {
        let (pos, id, entities) = row?;
        let entities = crate::parse(
            "live_incidents",
            format_args!("({tenant}, {pos})"),
            &entities,
        )?;
        known.push((id, entities));
    }
    Ok(known)
}

impl IncidentIds for SqliteIncidentIds {
    fn place(&self) -> String {
        self.db.place()
    }

    fn all(&self) -> Result<BTreeMap<String, Vec<KnownIncident>>> {
        self.db.call("reading the live incidents' ids", |c| {
            let tenants: Vec<String> = c
                .prepare_cached("SELECT DISTINCT tenant FROM live_incidents ORDER BY tenant")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut all = BTreeMap::new();
            for t in tenants {
                let known = known_of(c, &t)?;
                all.insert(t, known);
            }
            Ok(all)
        })
    }

    fn name(&self, tenant: &str, name: Naming) -> Result<Vec<String>> {
        self.db.call("naming the live incidents", |c| {
            // Immediate: the write lock taken before the read, so that
            // another connection naming at once waits and reads this one's.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut known = known_of(&tx, tenant)?;
            let before = known.clone();
            let ids = name(&mut known);
            match vigie_store::live::grown(&before, &known) {
                // Only what grew or was added is written.
                Some(changed) => {
                    let mut st = tx.prepare_cached(
                        "INSERT INTO live_incidents (tenant, pos, id, entities) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (tenant, pos) DO UPDATE SET entities = excluded.entities",
                    )?;
                    for pos in changed {
                        let (id, e) = &known[pos];
                        st.execute(params![tenant, pos as i64, id, crate::json(e)?])?;
                    }
                }
                None => {
                    let rows = known
                        .iter()
                        .map(|(id, e)| Ok((id.clone(), crate::json(e)?)))
                        .collect::<Result<Vec<_>>>()?;
                    keep(&tx, tenant, &rows)?;
                }
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    fn import(&self, tenant: &str, known: &[KnownIncident]) -> Result<bool> {
        let rows = known
            .iter()
            .map(|(id, e)| Ok((id.clone(), crate::json(e)?)))
            .collect::<Result<Vec<_>>>()?;
        self.db.call("importing live incidents' ids", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let named: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM live_incidents WHERE tenant = ?1)")?
                .query_row([tenant], |r| r.get(0))?;
            if named {
                return Ok(false);
            }
            keep(&tx, tenant, &rows)?;
            tx.commit()?;
            Ok(true)
        })
    }
}

/// `tenant`'s incidents replaced by `rows` (id, entities as JSON), in
/// `c`'s transaction. Shared with the import of `incidents.json`.
pub(crate) fn keep(
    c: &Connection,
    tenant: &str,
    rows: &[(String, String)],
) -> std::result::Result<(), Failure> {
    c.prepare_cached("DELETE FROM live_incidents WHERE tenant = ?1")?
        .execute([tenant])?;
    let mut st = c.prepare_cached(
        "INSERT INTO live_incidents (tenant, pos, id, entities) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (pos, (id, entities)) in rows.iter().enumerate() {
        st.execute(params![tenant, pos as i64, id, entities])?;
    }
    Ok(())
}

/// The alerting's journal, its claims and the silences said, in SQLite.
pub struct SqliteAlerts {
    db: Arc<Db>,
}

impl SqliteAlerts {
    pub fn new(db: Arc<Db>) -> SqliteAlerts {
        SqliteAlerts { db }
    }
}

impl AlertJournal for SqliteAlerts {
    fn place(&self) -> String {
        self.db.place()
    }

    fn append(&self, row: &AlertRow) -> Result<()> {
        self.db.call("keeping an alert", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            append(&tx, row)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn last_delivered(&self) -> Result<Vec<Delivered>> {
        let sql = format!(
            "SELECT sink, tenant, live_id, delivered, doc, {NOW} - coalesce(at, 0)
             FROM alert_claims WHERE delivered > 0 AND doc IS NOT NULL"
        );
        self.db.call("reading the alerts kept", |c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map([], |r| {
                Ok(Delivered {
                    key: AlertKey {
                        sink: r.get(0)?,
                        tenant: r.get(1)?,
                        live_id: r.get(2)?,
                    },
                    count: r.get::<_, i64>(3)? as u64,
                    doc: r.get(4)?,
                    age_secs: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn journal(&self) -> Result<Vec<AlertRow>> {
        self.db.call("reading the alerts kept", |c| {
            let mut st = c.prepare_cached(
                "SELECT sink, tenant, live_id, delivered, doc FROM alert_records ORDER BY seq",
            )?;
            let rows = st.query_map([], |r| {
                Ok(AlertRow {
                    sink: r.get(0)?,
                    tenant: r.get(1)?,
                    live_id: r.get(2)?,
                    delivered: r.get::<_, i64>(3)? != 0,
                    doc: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn claim(&self, key: &AlertKey, after: u64, node: &str, lease_secs: i64) -> Result<Claim> {
        let take = format!(
            "INSERT INTO alert_claims (tenant, sink, live_id, delivered, node, until)
             VALUES (?1, ?2, ?3, 0, ?4, {NOW} + ?5)
             ON CONFLICT (tenant, sink, live_id) DO UPDATE SET
               node = excluded.node, until = excluded.until
             WHERE alert_claims.delivered = ?6
               AND (alert_claims.until IS NULL OR alert_claims.until < {NOW}
                    OR alert_claims.node = excluded.node)
             RETURNING delivered"
        );
        let look = format!(
            "SELECT delivered, doc, {NOW} - coalesce(at, 0), node, until >= {NOW} FROM alert_claims
             WHERE tenant = ?1 AND sink = ?2 AND live_id = ?3"
        );
        self.db.call("claiming an alert", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let won = tx
                .prepare_cached(&take)?
                .query_row(
                    params![
                        key.tenant,
                        key.sink,
                        key.live_id,
                        node,
                        lease_secs,
                        after as i64
                    ],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            let claim = if won {
                Claim::Won
            } else {
                let row = tx
                    .prepare_cached(&look)?
                    .query_row(params![key.tenant, key.sink, key.live_id], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, Option<bool>>(4)?,
                        ))
                    })
                    .optional()?;
                lost(key, row)
            };
            tx.commit()?;
            Ok(claim)
        })
    }

    fn delivered(&self, row: &AlertRow, node: &str) -> Result<u64> {
        self.db.call("keeping an alert", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            append(&tx, row)?;
            let n: i64 = tx
                .prepare_cached(
                    "UPDATE alert_claims SET
                       until = CASE WHEN node = ?4 THEN NULL ELSE until END,
                       node = CASE WHEN node = ?4 THEN NULL ELSE node END
                     WHERE tenant = ?1 AND sink = ?2 AND live_id = ?3
                     RETURNING delivered",
                )?
                .query_row(params![row.tenant, row.sink, row.live_id, node], |r| {
                    r.get(0)
                })?;
            tx.commit()?;
            Ok(n as u64)
        })
    }

    fn release(&self, key: &AlertKey, node: &str) -> Result<()> {
        self.db.call("letting go of an alert's claim", |c| {
            c.prepare_cached(
                "UPDATE alert_claims SET node = NULL, until = NULL
                 WHERE tenant = ?1 AND sink = ?2 AND live_id = ?3 AND node = ?4",
            )?
            .execute(params![key.tenant, key.sink, key.live_id, node])?;
            Ok(())
        })
    }

    fn silences(&self) -> Result<Vec<[String; 4]>> {
        self.db.call("reading the silences said", |c| {
            let mut st = c.prepare_cached(
                "SELECT sink, tenant, host, channel FROM alert_silences WHERE until IS NULL
                 ORDER BY sink, tenant, host, channel",
            )?;
            let rows = st.query_map([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn claim_silences(
        &self,
        keys: &[[String; 4]],
        node: &str,
        lease_secs: i64,
    ) -> Result<Vec<bool>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let take = format!(
            "INSERT INTO alert_silences (sink, tenant, host, channel, node, until)
             VALUES (?1, ?2, ?3, ?4, ?5, {NOW} + ?6)
             ON CONFLICT (sink, tenant, host, channel) DO UPDATE SET
               node = excluded.node, until = excluded.until
             WHERE alert_silences.until IS NOT NULL
               AND (alert_silences.until < {NOW} OR alert_silences.node = excluded.node)
             RETURNING 1"
        );
        self.db.call("claiming silences", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut won = Vec::with_capacity(keys.len());
            {
                let mut st = tx.prepare_cached(&take)?;
                for [s, t, h, ch] in keys {
                    won.push(
                        st.query_row(params![s, t, h, ch, node, lease_secs], |_| Ok(()))
                            .optional()?
                            .is_some(),
                    );
                }
            }
            tx.commit()?;
            Ok(won)
        })
    }

    fn silences_changed(&self, said: &[[String; 4]], ended: &[[String; 4]]) -> Result<()> {
        if said.is_empty() && ended.is_empty() {
            return Ok(());
        }
        self.db.call("keeping the silences said", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut add = tx.prepare_cached(
                    "INSERT INTO alert_silences (sink, tenant, host, channel) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (sink, tenant, host, channel) DO UPDATE SET node = NULL, until = NULL",
                )?;
                for [s, t, h, ch] in said {
                    add.execute(params![s, t, h, ch])?;
                }
                let mut del = tx.prepare_cached(
                    "DELETE FROM alert_silences WHERE sink = ?1 AND tenant = ?2 AND host = ?3 AND channel = ?4",
                )?;
                for [s, t, h, ch] in ended {
                    del.execute(params![s, t, h, ch])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn release_silences(&self, keys: &[[String; 4]], node: &str) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.db.call("letting go of silences' claims", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut del = tx.prepare_cached(
                    "DELETE FROM alert_silences WHERE sink = ?1 AND tenant = ?2 AND host = ?3
                     AND channel = ?4 AND node = ?5 AND until IS NOT NULL",
                )?;
                for [s, t, h, ch] in keys {
                    del.execute(params![s, t, h, ch, node])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
}

/// A key's row as a lost claim reads it: delivered, doc, age, node,
/// whether its claim is live.
type ClaimRow = (i64, Option<String>, i64, Option<String>, Option<bool>);

/// A claim not won, from the key's row.
fn lost(key: &AlertKey, row: Option<ClaimRow>) -> Claim {
    match row {
        // Gone between the two statements (never deleted: cannot be), or
        // taken and let go a moment ago: asked again, it answers.
        None => Claim::Lost {
            last: None,
            holder: None,
        },
        Some((count, doc, age, node, live)) => Claim::Lost {
            last: doc.filter(|_| count > 0).map(|doc| Delivered {
                key: key.clone(),
                count: count as u64,
                doc,
                age_secs: age,
            }),
            holder: node.filter(|_| live == Some(true)),
        },
    }
}

/// One message appended in `c`'s transaction (its own, or the import's):
/// a delivered one moves its key's count and last delivery.
pub(crate) fn append(c: &Connection, row: &AlertRow) -> std::result::Result<(), Failure> {
    c.prepare_cached(
        "INSERT INTO alert_records (sink, tenant, live_id, delivered, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![row.sink, row.tenant, row.live_id, row.delivered as i64, row.doc])?;
    if row.delivered {
        c.prepare_cached(&format!(
            "INSERT INTO alert_claims (tenant, sink, live_id, delivered, doc, at)
             VALUES (?1, ?2, ?3, 1, ?4, {NOW})
             ON CONFLICT (tenant, sink, live_id) DO UPDATE SET
               delivered = alert_claims.delivered + 1, doc = excluded.doc, at = excluded.at"
        ))?
        .execute(params![row.tenant, row.sink, row.live_id, row.doc])?;
    }
    Ok(())
}

/// What a node's `state.db` holds of the live half, taken out of it to be
/// moved into PostgreSQL at its first start with `--db`.
#[derive(Debug, Default)]
pub struct LiveRows {
    pub incidents: BTreeMap<String, Vec<KnownIncident>>,
    /// The journal, in order.
    pub journal: Vec<AlertRow>,
    pub silences: Vec<[String; 4]>,
}

/// Reads what `db` holds of the live half (the ids, the journal, the
/// silences said); [`forget_live`] deletes it once it is moved.
pub fn take_for_import(db: &Arc<Db>) -> Result<LiveRows> {
    let incidents = SqliteIncidentIds::new(db.clone()).all()?;
    let alerts = SqliteAlerts::new(db.clone());
    Ok(LiveRows {
        incidents,
        journal: alerts.journal()?,
        silences: alerts.silences()?,
    })
}

/// Deletes the live half of `db` (moved into PostgreSQL: moved once, so
/// that the next start does not bring the journal in twice).
pub fn forget_live(db: &Arc<Db>) -> Result<()> {
    db.call("forgetting the live ids and alerts moved", |c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "DELETE FROM live_incidents; DELETE FROM alert_records;
             DELETE FROM alert_claims; DELETE FROM alert_silences;",
        )?;
        tx.commit()?;
        Ok(())
    })
}
