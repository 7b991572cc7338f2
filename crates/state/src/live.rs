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
//! These are node-local (each node names the incidents it derives and
//! alerts from its own scope): with `--db` they stay in the node's own
//! `state.db`, beside nothing else.
//!
//! Calls are blocking: the live scope names incidents and the alerter
//! sends from tokio's blocking pool. Each write is one transaction,
//! synced at its commit (WAL, `synchronous=FULL`) before the call
//! returns, so an id is durable before it is served.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rusqlite::{params, Connection, TransactionBehavior};
use vigie_store::Result;

use crate::db::{Db, Failure};

/// One incident already seen: its live id and the entities it had.
pub type KnownIncident = (String, BTreeSet<String>);

/// The live incidents' ids in SQLite.
pub struct SqliteIncidentIds {
    db: Arc<Db>,
}

impl SqliteIncidentIds {
    pub fn new(db: Arc<Db>) -> SqliteIncidentIds {
        SqliteIncidentIds { db }
    }

    pub fn place(&self) -> String {
        self.db.place()
    }

    /// Every tenant's incidents, each tenant's in the order first seen.
    pub fn all(&self) -> Result<BTreeMap<String, Vec<KnownIncident>>> {
        self.db.call("reading the live incidents' ids", |c| {
            let mut st = c.prepare_cached(
                "SELECT tenant, pos, id, entities FROM live_incidents ORDER BY tenant, pos",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            let mut all: BTreeMap<String, Vec<KnownIncident>> = BTreeMap::new();
            for row in rows {
                let (tenant, pos, id, entities) = row?;
                let entities: BTreeSet<String> = crate::parse(
                    "live_incidents",
                    format_args!("({tenant}, {pos})"),
                    &entities,
                )?;
                all.entry(tenant).or_default().push((id, entities));
            }
            Ok(all)
        })
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

/// The alerting's journal and the silences said, in SQLite.
pub struct SqliteAlerts {
    db: Arc<Db>,
}

/// One message of the journal, as the alerter keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub sink: String,
    pub tenant: String,
    pub live_id: String,
    pub delivered: bool,
    /// The record as JSON text.
    pub doc: String,
}

impl SqliteAlerts {
    pub fn new(db: Arc<Db>) -> SqliteAlerts {
        SqliteAlerts { db }
    }

    pub fn place(&self) -> String {
        self.db.place()
    }

    /// Appends one message of the journal (synced before it returns).
    pub fn append(&self, row: &AlertRow) -> Result<()> {
        self.db.call("keeping an alert", |c| {
            append(c, row)?;
            Ok(())
        })
    }

    /// The last message delivered per (sink, tenant, live id), in the
    /// order kept: what a restart must not say again.
    pub fn last_delivered(&self) -> Result<Vec<AlertRow>> {
        self.db.call("reading the alerts kept", |c| {
            let mut st = c.prepare_cached(
                "SELECT sink, tenant, live_id, doc FROM alert_records
                 WHERE seq IN (SELECT max(seq) FROM alert_records WHERE delivered = 1
                               GROUP BY sink, tenant, live_id)
                 ORDER BY seq",
            )?;
            let rows = st.query_map([], |r| {
                Ok(AlertRow {
                    sink: r.get(0)?,
                    tenant: r.get(1)?,
                    live_id: r.get(2)?,
                    delivered: true,
                    doc: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Every message kept, in order (for an operator and the tests).
    pub fn journal(&self) -> Result<Vec<AlertRow>> {
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

    /// The silences said: (sink, tenant, host, channel).
    pub fn silences(&self) -> Result<Vec<[String; 4]>> {
        self.db.call("reading the silences said", |c| {
            let mut st = c.prepare_cached(
                "SELECT sink, tenant, host, channel FROM alert_silences ORDER BY sink, tenant, host, channel",
            )?;
            let rows = st.query_map([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Silences said (`said`) and channels that sent again (`ended`), in
    /// one transaction.
    pub fn silences_changed(&self, said: &[[String; 4]], ended: &[[String; 4]]) -> Result<()> {
        if said.is_empty() && ended.is_empty() {
            return Ok(());
        }
        self.db.call("keeping the silences said", |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut add = tx.prepare_cached(
                    "INSERT INTO alert_silences (sink, tenant, host, channel) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
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
}

/// One message appended in `c` (its own statement, or the import's
/// transaction).
pub(crate) fn append(c: &Connection, row: &AlertRow) -> std::result::Result<(), Failure> {
    c.prepare_cached(
        "INSERT INTO alert_records (sink, tenant, live_id, delivered, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![row.sink, row.tenant, row.live_id, row.delivered as i64, row.doc])?;
    Ok(())
}
