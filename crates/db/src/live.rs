//! The live half shared by the api nodes, in PostgreSQL: the incidents'
//! live ids ([`PgIncidentIds`]) and the alerting's journal, its claims and
//! the silences said ([`PgAlerts`]).
//!
//! Why here and not in each node's `state.db`: every api node derives the
//! live scope from its own reading of the stream and would name its
//! incidents itself — two nodes behind a load balancer calling one
//! incident `L3` on one and `L5` on the other, each paging the technician
//! for it. Named under the tenant's advisory lock after reading what the
//! others named, and sent by the node that claimed the message, an
//! incident has one name and one page for the deployment.
//!
//! Blocking, as the live scope and the alerter call them from tokio's
//! blocking pool: run on this crate's small runtime ([`crate::blocking`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use vigie_store::live::{
    AlertJournal, AlertKey, AlertRow, Claim, Delivered, IncidentIds, KnownIncident, Naming,
};
use vigie_store::Result;

use crate::conn::{Failure, Pg};
use crate::DB_NOW;

/// The live incidents' ids in PostgreSQL (connected at the first call).
pub struct PgIncidentIds {
    pg: Arc<Pg>,
    rt: &'static tokio::runtime::Runtime,
}

/// The entities as kept (JSON text), per incident.
fn rows(known: &[KnownIncident]) -> Result<(Vec<i64>, Vec<String>, Vec<String>)> {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (pos, (id, e)) in known.iter().enumerate() {
        out.0.push(pos as i64);
        out.1.push(id.clone());
        out.2.push(crate::json(e)?);
    }
    Ok(out)
}

/// `tenant`'s incidents replaced by `known`, in `c`'s transaction.
async fn keep(
    c: &tokio_postgres::Transaction<'_>,
    tenant: &str,
    known: &[KnownIncident],
) -> std::result::Result<(), Failure> {
    let (pos, ids, entities) = rows(known)?;
    c.execute("DELETE FROM live_incidents WHERE tenant = $1", &[&tenant])
        .await?;
    c.execute(
        "INSERT INTO live_incidents (tenant, pos, id, entities)
         SELECT $1, p, i, e FROM unnest($2::bigint[], $3::text[], $4::text[]) AS x(p, i, e)",
        &[&tenant, &pos, &ids, &entities],
    )
    .await?;
    Ok(())
}

/// `tenant`'s incidents as kept, in order.
async fn known_of(
    c: &tokio_postgres::Transaction<'_>,
    tenant: &str,
) -> std::result::Result<Vec<KnownIncident>, Failure> {
    let rows = c
        .query(
            "SELECT pos, id, entities FROM live_incidents WHERE tenant = $1 ORDER BY pos",
            &[&tenant],
        )
        .await?;
    let mut known = Vec::with_capacity(rows.len());
    for r in rows {
        let (pos, id, entities): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
        let e = crate::parse(
            "live_incidents",
            format_args!("({tenant}, {pos})"),
            &entities,
        )?;
        known.push((id, e));
    }
    Ok(known)
}

/// Every statement naming a tenant's incidents takes this lock first:
/// two nodes naming one tenant at once take turns.
const TENANT_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('vigie.live_incidents:' || $1, 0))";

impl PgIncidentIds {
    pub fn new(url: &str) -> std::io::Result<PgIncidentIds> {
        Ok(PgIncidentIds {
            pg: Arc::new(Pg::new(url)),
            rt: crate::blocking::runtime()?,
        })
    }
}

impl IncidentIds for PgIncidentIds {
    fn place(&self) -> String {
        self.pg.place()
    }

    fn all(&self) -> Result<BTreeMap<String, Vec<KnownIncident>>> {
        let pg = self.pg.clone();
        crate::blocking::run(self.rt, &self.pg.place(), async move {
            pg.with("reading the live incidents' ids", async |c| {
                let rows = c
                    .query(
                        "SELECT tenant, pos, id, entities FROM live_incidents ORDER BY tenant, pos",
                        &[],
                    )
                    .await?;
                let mut all: BTreeMap<String, Vec<KnownIncident>> = BTreeMap::new();
                for r in rows {
                    let (tenant, pos, id, entities): (String, i64, String, String) =
                        (r.get(0), r.get(1), r.get(2), r.get(3));
                    let e = crate::parse(
                        "live_incidents",
                        format_args!("({tenant}, {pos})"),
                        &entities,
                    )?;
                    all.entry(tenant).or_default().push((id, e));
                }
                Ok(all)
            })
            .await
        })
    }

    fn name(&self, tenant: &str, name: Naming) -> Result<Vec<String>> {
        let (pg, tenant) = (self.pg.clone(), tenant.to_string());
        crate::blocking::run(self.rt, &self.pg.place(), async move {
            pg.with("naming the live incidents", async |c| {
                let tx = c.transaction().await?;
                tx.execute(TENANT_LOCK, &[&tenant]).await?;
                let mut known = known_of(&tx, &tenant).await?;
                let before = known.clone();
                let ids = name(&mut known);
                match vigie_store::live::grown(&before, &known) {
                    // Only what grew or was added is written.
                    Some(changed) => {
                        for pos in changed {
                            let (id, e) = &known[pos];
                            let (p, e) = (pos as i64, crate::json(e)?);
                            tx.execute(
                                "INSERT INTO live_incidents (tenant, pos, id, entities)
                                 VALUES ($1, $2, $3, $4)
                                 ON CONFLICT (tenant, pos) DO UPDATE SET entities = EXCLUDED.entities",
                                &[&tenant, &p, id, &e],
                            )
                            .await?;
                        }
                    }
                    None => keep(&tx, &tenant, &known).await?,
                }
                tx.commit().await?;
                Ok(ids)
            })
            .await
        })
    }

    fn import(&self, tenant: &str, known: &[KnownIncident]) -> Result<bool> {
        let (pg, tenant, known) = (self.pg.clone(), tenant.to_string(), known.to_vec());
        crate::blocking::run(self.rt, &self.pg.place(), async move {
            pg.with("importing live incidents' ids", async |c| {
                let tx = c.transaction().await?;
                tx.execute(TENANT_LOCK, &[&tenant]).await?;
                let named: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM live_incidents WHERE tenant = $1)",
                        &[&tenant],
                    )
                    .await?
                    .get(0);
                if named {
                    return Ok(false);
                }
                keep(&tx, &tenant, &known).await?;
                tx.commit().await?;
                Ok(true)
            })
            .await
        })
    }
}

/// The alerting's journal, its claims and the silences said, in
/// PostgreSQL (connected at the first call).
pub struct PgAlerts {
    pg: Arc<Pg>,
    rt: &'static tokio::runtime::Runtime,
}

impl PgAlerts {
    pub fn new(url: &str) -> std::io::Result<PgAlerts> {
        Ok(PgAlerts {
            pg: Arc::new(Pg::new(url)),
            rt: crate::blocking::runtime()?,
        })
    }

    fn call<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        crate::blocking::run(self.rt, &self.pg.place(), f)
    }

    /// Moves what a node kept of the live half in its `state.db` (its
    /// ids, its journal in order, its silences said) into PostgreSQL, in
    /// one transaction, tenant by tenant: a tenant is taken only when
    /// PostgreSQL holds nothing of it yet (no id, no message, no claim,
    /// no silence). A tenant another node already named here keeps what
    /// is here: this node's ids of it would name other incidents, and its
    /// journal's records would then stand for incidents they never were
    /// (a real one not paged), so none of them is taken.
    ///
    /// Why a marker: the caller empties `state.db` after this commits; a
    /// start interrupted in between brings the same rows again, and the
    /// marker of their content (written in the same transaction) says
    /// they were moved — nothing is taken twice.
    pub fn import_node(
        &self,
        source: &str,
        incidents: &BTreeMap<String, Vec<KnownIncident>>,
        journal: &[AlertRow],
        silences: &[[String; 4]],
    ) -> Result<NodeImport> {
        let digest = digest_of(incidents, journal, silences);
        let (pg, source) = (self.pg.clone(), source.to_string());
        let (incidents, journal, silences) =
            (incidents.clone(), journal.to_vec(), silences.to_vec());
        self.call(async move {
            pg.with("importing a node's live ids and alerts", async |c| {
                let tx = c.transaction().await?;
                let first = tx
                    .query_opt(
                        format!(
                            "INSERT INTO live_imports (digest, source, at) VALUES ($1, $2, {DB_NOW})
                             ON CONFLICT (digest) DO NOTHING RETURNING 1"
                        )
                        .as_str(),
                        &[&digest, &source],
                    )
                    .await?;
                if first.is_none() {
                    return Ok(NodeImport {
                        already: true,
                        ..NodeImport::default()
                    });
                }
                let tenants: std::collections::BTreeSet<&String> = incidents
                    .keys()
                    .chain(journal.iter().map(|r| &r.tenant))
                    .chain(silences.iter().map(|s| &s[1]))
                    .collect();
                let mut out = NodeImport::default();
                let mut taken = std::collections::BTreeSet::new();
                // In the order of their names: a naming takes one tenant's
                // lock, this takes them in one order (no deadlock).
                for tenant in tenants {
                    tx.execute(TENANT_LOCK, &[tenant]).await?;
                    let held: bool = tx
                        .query_one(
                            "SELECT EXISTS (SELECT 1 FROM live_incidents WHERE tenant = $1)
                                 OR EXISTS (SELECT 1 FROM alert_claims WHERE tenant = $1)
                                 OR EXISTS (SELECT 1 FROM alert_records WHERE tenant = $1)
                                 OR EXISTS (SELECT 1 FROM alert_silences WHERE tenant = $1)",
                            &[tenant],
                        )
                        .await?
                        .get(0);
                    let count = TenantImport {
                        tenant: tenant.clone(),
                        ids: incidents.get(tenant).map_or(0, Vec::len),
                        records: journal.iter().filter(|r| &r.tenant == tenant).count(),
                        silences: silences.iter().filter(|s| &s[1] == tenant).count(),
                    };
                    if held {
                        out.skipped.push(count);
                        continue;
                    }
                    if let Some(known) = incidents.get(tenant) {
                        keep(&tx, tenant, known).await?;
                    }
                    taken.insert(tenant.clone());
                    out.taken.push(count);
                }
                // The journal in its order (each key's messages in turn).
                for row in journal.iter().filter(|r| taken.contains(&r.tenant)) {
                    append(&tx, row).await?;
                }
                for [s, t, h, ch] in silences.iter().filter(|s| taken.contains(&s[1])) {
                    tx.execute(
                        "INSERT INTO alert_silences (tenant, sink, host, channel)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[t, s, h, ch],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(out)
            })
            .await
        })
    }
}

/// What one tenant of a node's `state.db` held of the live half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantImport {
    pub tenant: String,
    pub ids: usize,
    pub records: usize,
    pub silences: usize,
}

/// What [`PgAlerts::import_node`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NodeImport {
    /// The same rows were moved by an earlier start (interrupted before
    /// `state.db` was emptied): nothing taken again.
    pub already: bool,
    /// Tenants moved (PostgreSQL held nothing of them).
    pub taken: Vec<TenantImport>,
    /// Tenants left out: PostgreSQL already names them (another node
    /// moved or named them first).
    pub skipped: Vec<TenantImport>,
}

/// The content's fingerprint (SHA-256, hex), the marker of its move.
fn digest_of(
    incidents: &BTreeMap<String, Vec<KnownIncident>>,
    journal: &[AlertRow],
    silences: &[[String; 4]],
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // Each field ended by a byte no text holds: no two contents alike.
    let mut put = |s: &str| {
        h.update(s.as_bytes());
        h.update([0u8]);
    };
    for (tenant, known) in incidents {
        put("incidents");
        put(tenant);
        for (id, entities) in known {
            put(id);
            for e in entities {
                put(e);
            }
            put("");
        }
    }
    for r in journal {
        put("record");
        for f in [&r.sink, &r.tenant, &r.live_id, &r.doc] {
            put(f);
        }
        put(if r.delivered { "1" } else { "0" });
    }
    for s in silences {
        put("silence");
        for f in s {
            put(f);
        }
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// One message appended in `c`'s transaction: a delivered one moves its
/// key's count and last delivery.
async fn append(
    c: &tokio_postgres::Transaction<'_>,
    row: &AlertRow,
) -> std::result::Result<(), Failure> {
    c.execute(
        "INSERT INTO alert_records (tenant, sink, live_id, delivered, doc) VALUES ($1, $2, $3, $4, $5)",
        &[&row.tenant, &row.sink, &row.live_id, &row.delivered, &row.doc],
    )
    .await?;
    if row.delivered {
        c.execute(
            format!(
                "INSERT INTO alert_claims (tenant, sink, live_id, delivered, doc, at)
                 VALUES ($1, $2, $3, 1, $4, {DB_NOW})
                 ON CONFLICT (tenant, sink, live_id) DO UPDATE SET
                   delivered = alert_claims.delivered + 1, doc = EXCLUDED.doc, at = EXCLUDED.at"
            )
            .as_str(),
            &[&row.tenant, &row.sink, &row.live_id, &row.doc],
        )
        .await?;
    }
    Ok(())
}

impl AlertJournal for PgAlerts {
    fn place(&self) -> String {
        self.pg.place()
    }

    fn append(&self, row: &AlertRow) -> Result<()> {
        let (pg, row) = (self.pg.clone(), row.clone());
        self.call(async move {
            pg.with("keeping an alert", async |c| {
                let tx = c.transaction().await?;
                append(&tx, &row).await?;
                tx.commit().await?;
                Ok(())
            })
            .await
        })
    }

    fn last_delivered(&self) -> Result<Vec<Delivered>> {
        let pg = self.pg.clone();
        let sql = format!(
            "SELECT sink, tenant, live_id, delivered, doc, {DB_NOW} - coalesce(at, 0)
             FROM alert_claims WHERE delivered > 0 AND doc IS NOT NULL"
        );
        self.call(async move {
            pg.with("reading the alerts kept", async |c| {
                let rows = c.query(sql.as_str(), &[]).await?;
                Ok(rows
                    .iter()
                    .map(|r| Delivered {
                        key: AlertKey {
                            sink: r.get(0),
                            tenant: r.get(1),
                            live_id: r.get(2),
                        },
                        count: r.get::<_, i64>(3) as u64,
                        doc: r.get(4),
                        age_secs: r.get(5),
                    })
                    .collect())
            })
            .await
        })
    }

    fn journal(&self) -> Result<Vec<AlertRow>> {
        let pg = self.pg.clone();
        self.call(async move {
            pg.with("reading the alerts kept", async |c| {
                let rows = c
                    .query(
                        "SELECT sink, tenant, live_id, delivered, doc FROM alert_records ORDER BY seq",
                        &[],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| AlertRow {
                        sink: r.get(0),
                        tenant: r.get(1),
                        live_id: r.get(2),
                        delivered: r.get(3),
                        doc: r.get(4),
                    })
                    .collect())
            })
            .await
        })
    }

    fn claim(&self, key: &AlertKey, after: u64, node: &str, lease_secs: i64) -> Result<Claim> {
        // One statement takes it; the database's clock decides whether a
        // claim has expired (nodes whose clocks differ agree).
        let take = format!(
            "INSERT INTO alert_claims (tenant, sink, live_id, delivered, node, until)
             VALUES ($1, $2, $3, 0, $4, {DB_NOW} + $5::bigint)
             ON CONFLICT (tenant, sink, live_id) DO UPDATE SET
               node = EXCLUDED.node, until = EXCLUDED.until
             WHERE alert_claims.delivered = $6
               AND (alert_claims.until IS NULL OR alert_claims.until < {DB_NOW}
                    OR alert_claims.node = EXCLUDED.node)
             RETURNING delivered"
        );
        let look = format!(
            "SELECT delivered, doc, {DB_NOW} - coalesce(at, 0), node, until >= {DB_NOW}
             FROM alert_claims WHERE tenant = $1 AND sink = $2 AND live_id = $3"
        );
        let (pg, key, node, after) = (self.pg.clone(), key.clone(), node.to_string(), after as i64);
        self.call(async move {
            pg.with("claiming an alert", async |c| {
                let won = c
                    .query_opt(
                        take.as_str(),
                        &[
                            &key.tenant,
                            &key.sink,
                            &key.live_id,
                            &node,
                            &lease_secs,
                            &after,
                        ],
                    )
                    .await?;
                if won.is_some() {
                    return Ok(Claim::Won);
                }
                let row = c
                    .query_opt(look.as_str(), &[&key.tenant, &key.sink, &key.live_id])
                    .await?;
                let row = row.map(|r| {
                    let count: i64 = r.get(0);
                    let doc: Option<String> = r.get(1);
                    let age: i64 = r.get(2);
                    let holder: Option<String> = r.get(3);
                    let live: Option<bool> = r.get(4);
                    (count, doc, age, holder, live)
                });
                Ok(match row {
                    None => Claim::Lost {
                        last: None,
                        holder: None,
                    },
                    Some((count, doc, age, holder, live)) => Claim::Lost {
                        last: doc.filter(|_| count > 0).map(|doc| Delivered {
                            key: key.clone(),
                            count: count as u64,
                            doc,
                            age_secs: age,
                        }),
                        holder: holder.filter(|_| live == Some(true)),
                    },
                })
            })
            .await
        })
    }

    fn delivered(&self, row: &AlertRow, node: &str) -> Result<u64> {
        let (pg, row, node) = (self.pg.clone(), row.clone(), node.to_string());
        self.call(async move {
            pg.with("keeping an alert", async |c| {
                let tx = c.transaction().await?;
                append(&tx, &row).await?;
                let n: i64 = tx
                    .query_one(
                        "UPDATE alert_claims SET
                           until = CASE WHEN node = $4 THEN NULL ELSE until END,
                           node = CASE WHEN node = $4 THEN NULL ELSE node END
                         WHERE tenant = $1 AND sink = $2 AND live_id = $3
                         RETURNING delivered",
                        &[&row.tenant, &row.sink, &row.live_id, &node],
                    )
                    .await?
                    .get(0);
                tx.commit().await?;
                Ok(n as u64)
            })
            .await
        })
    }

    fn release(&self, key: &AlertKey, node: &str) -> Result<()> {
        let (pg, key, node) = (self.pg.clone(), key.clone(), node.to_string());
        self.call(async move {
            pg.with("letting go of an alert's claim", async |c| {
                c.execute(
                    "UPDATE alert_claims SET node = NULL, until = NULL
                     WHERE tenant = $1 AND sink = $2 AND live_id = $3 AND node = $4",
                    &[&key.tenant, &key.sink, &key.live_id, &node],
                )
                .await?;
                Ok(())
            })
            .await
        })
    }

    fn silences(&self) -> Result<Vec<[String; 4]>> {
        let pg = self.pg.clone();
        self.call(async move {
            pg.with("reading the silences said", async |c| {
                let rows = c
                    .query(
                        "SELECT sink, tenant, host, channel FROM alert_silences WHERE until IS NULL",
                        &[],
                    )
                    .await?;
                let mut out: Vec<[String; 4]> = rows
                    .iter()
                    .map(|r| [r.get(0), r.get(1), r.get(2), r.get(3)])
                    .collect();
                // By bytes, as state.db's (not by the database's collation).
                out.sort();
                Ok(out)
            })
            .await
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
            "INSERT INTO alert_silences (tenant, sink, host, channel, node, until)
             VALUES ($1, $2, $3, $4, $5, {DB_NOW} + $6::bigint)
             ON CONFLICT (tenant, sink, host, channel) DO UPDATE SET
               node = EXCLUDED.node, until = EXCLUDED.until
             WHERE alert_silences.until IS NOT NULL
               AND (alert_silences.until < {DB_NOW} OR alert_silences.node = EXCLUDED.node)
             RETURNING 1"
        );
        let (pg, keys, node) = (self.pg.clone(), keys.to_vec(), node.to_string());
        self.call(async move {
            pg.with("claiming silences", async |c| {
                let tx = c.transaction().await?;
                let mut won = Vec::with_capacity(keys.len());
                for [s, t, h, ch] in &keys {
                    let got = tx
                        .query_opt(take.as_str(), &[t, s, h, ch, &node, &lease_secs])
                        .await?;
                    won.push(got.is_some());
                }
                tx.commit().await?;
                Ok(won)
            })
            .await
        })
    }

    fn silences_changed(&self, said: &[[String; 4]], ended: &[[String; 4]]) -> Result<()> {
        if said.is_empty() && ended.is_empty() {
            return Ok(());
        }
        let (pg, said, ended) = (self.pg.clone(), said.to_vec(), ended.to_vec());
        self.call(async move {
            pg.with("keeping the silences said", async |c| {
                let tx = c.transaction().await?;
                for [s, t, h, ch] in &said {
                    tx.execute(
                        "INSERT INTO alert_silences (tenant, sink, host, channel) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (tenant, sink, host, channel) DO UPDATE SET node = NULL, until = NULL",
                        &[t, s, h, ch],
                    )
                    .await?;
                }
                for [s, t, h, ch] in &ended {
                    tx.execute(
                        "DELETE FROM alert_silences
                         WHERE tenant = $1 AND sink = $2 AND host = $3 AND channel = $4",
                        &[t, s, h, ch],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            })
            .await
        })
    }

    fn release_silences(&self, keys: &[[String; 4]], node: &str) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let (pg, keys, node) = (self.pg.clone(), keys.to_vec(), node.to_string());
        self.call(async move {
            pg.with("letting go of silences' claims", async |c| {
                let tx = c.transaction().await?;
                for [s, t, h, ch] in &keys {
                    tx.execute(
                        "DELETE FROM alert_silences
                         WHERE tenant = $1 AND sink = $2 AND host = $3 AND channel = $4
                           AND node = $5 AND until IS NOT NULL",
                        &[t, s, h, ch, &node],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            })
            .await
        })
    }
}
