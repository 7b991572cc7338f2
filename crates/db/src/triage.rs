//! Triage in PostgreSQL: [`TriageStore`] with the meaning of the embedded
//! `triage.jsonl` (changes appended, every filter version kept, saved
//! searches replaced by id), shared by every api node.

use std::collections::BTreeMap;

use async_trait::async_trait;
use vigie_store::triage::{
    Entry, Filter, FilterVersion, Removal, RuleSwitch, SavedSearch, SearchRemoval, TriageStore,
};
use vigie_store::{Result, StoreError};

use crate::conn::{Failure, Pg};
use crate::{json, parse};

/// Triage in PostgreSQL (connected at the first call).
pub struct PgTriage {
    pg: Pg,
}

impl PgTriage {
    pub fn new(url: &str) -> PgTriage {
        PgTriage { pg: Pg::new(url) }
    }

    pub fn place(&self) -> String {
        self.pg.place()
    }
}

#[async_trait]
impl TriageStore for PgTriage {
    async fn record(&self, entry: Entry) -> Result<()> {
        let doc = json(&entry)?;
        self.pg
            .with("keeping a triage change", async |c| {
                c.execute(
                    "INSERT INTO triage_entries (tenant, doc) VALUES ($1, $2)",
                    &[&entry.tenant, &doc],
                )
                .await?;
                Ok(())
            })
            .await
    }

    async fn entries(&self, tenant: &str) -> Result<Vec<Entry>> {
        let rows = self
            .pg
            .with("reading triage", async |c| {
                Ok(c.query(
                    "SELECT seq, doc FROM triage_entries WHERE tenant = $1 ORDER BY seq",
                    &[&tenant],
                )
                .await?)
            })
            .await?;
        rows.iter()
            .map(|r| parse("triage_entries", r.get::<_, i64>(0), r.get(1)))
            .collect()
    }

    async fn put_filter(&self, mut version: FilterVersion) -> Result<FilterVersion> {
        self.pg
            .with("keeping a filter version", async |c| {
                let tx = c.transaction().await?;
                // One edit of a filter at a time, whichever node: each
                // gets the next number.
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('vigie.filter:' || $1, 0))",
                    &[&version.filter],
                )
                .await?;
                let removed = tx
                    .query_opt(
                        "SELECT 1 FROM triage_filter_removals WHERE filter = $1",
                        &[&version.filter],
                    )
                    .await?;
                if removed.is_some() {
                    return Err(Failure::Store(StoreError::Invalid(format!(
                        "filter {} was removed: it gets no new version",
                        version.filter
                    ))));
                }
                let last: i32 = tx
                    .query_one(
                        "SELECT coalesce(max(version), 0) FROM triage_filter_versions WHERE filter = $1",
                        &[&version.filter],
                    )
                    .await?
                    .get(0);
                version.version = u32::try_from(last).unwrap_or(0) + 1;
                let doc = json(&version)?;
                tx.execute(
                    "INSERT INTO triage_filter_versions (filter, version, tenant, doc)
                     VALUES ($1, $2, $3, $4)",
                    &[&version.filter, &(last + 1), &version.tenant, &doc],
                )
                .await?;
                tx.commit().await?;
                Ok(version)
            })
            .await
    }

    async fn remove_filter(&self, removal: Removal) -> Result<()> {
        let doc = json(&removal)?;
        self.pg
            .with("removing a filter", async |c| {
                let tx = c.transaction().await?;
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('vigie.filter:' || $1, 0))",
                    &[&removal.filter],
                )
                .await?;
                let there = tx
                    .query_opt(
                        "SELECT 1 FROM triage_filter_versions WHERE filter = $1 LIMIT 1",
                        &[&removal.filter],
                    )
                    .await?;
                if there.is_none() {
                    return Err(Failure::Store(StoreError::Invalid(format!(
                        "no filter {}",
                        removal.filter
                    ))));
                }
                // Removed already: the first removal stays the one said.
                tx.execute(
                    "INSERT INTO triage_filter_removals (filter, doc) VALUES ($1, $2)
                     ON CONFLICT (filter) DO NOTHING",
                    &[&removal.filter, &doc],
                )
                .await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    async fn filters(&self) -> Result<Vec<Filter>> {
        let (versions, removals) = self
            .pg
            .with("reading filters", async |c| {
                let v = c
                    .query(
                        "SELECT seq, doc FROM triage_filter_versions ORDER BY filter, version",
                        &[],
                    )
                    .await?;
                let r = c
                    .query("SELECT filter, doc FROM triage_filter_removals", &[])
                    .await?;
                Ok((v, r))
            })
            .await?;
        let mut by: BTreeMap<String, Filter> = BTreeMap::new();
        for row in &versions {
            let v: FilterVersion =
                parse("triage_filter_versions", row.get::<_, i64>(0), row.get(1))?;
            by.entry(v.filter.clone())
                .or_insert_with(|| Filter {
                    id: v.filter.clone(),
                    tenant: v.tenant.clone(),
                    versions: Vec::new(),
                    removed: None,
                })
                .versions
                .push(v);
        }
        for row in &removals {
            let filter: String = row.get(0);
            let r: Removal = parse("triage_filter_removals", &filter, row.get(1))?;
            if let Some(f) = by.get_mut(&filter) {
                f.removed = Some(r);
            }
        }
        Ok(by.into_values().collect())
    }

    async fn save_search(&self, search: SavedSearch) -> Result<()> {
        let doc = json(&search)?;
        self.pg
            .with("keeping a saved search", async |c| {
                c.execute(
                    "INSERT INTO triage_searches (tenant, id, seq, doc)
                     VALUES ($1, $2, nextval('triage_searches_seq'), $3)
                     ON CONFLICT (tenant, id)
                     DO UPDATE SET seq = excluded.seq, doc = excluded.doc",
                    &[&search.tenant, &search.id, &doc],
                )
                .await?;
                Ok(())
            })
            .await
    }

    async fn searches(&self, tenant: &str) -> Result<Vec<SavedSearch>> {
        let rows = self
            .pg
            .with("reading saved searches", async |c| {
                Ok(c.query(
                    "SELECT id, doc FROM triage_searches WHERE tenant = $1 ORDER BY seq",
                    &[&tenant],
                )
                .await?)
            })
            .await?;
        rows.iter()
            .map(|r| parse("triage_searches", r.get::<_, String>(0), r.get(1)))
            .collect()
    }

    async fn remove_search(&self, removal: SearchRemoval) -> Result<bool> {
        let doc = json(&removal)?;
        self.pg
            .with("removing a saved search", async |c| {
                let tx = c.transaction().await?;
                let n = tx
                    .execute(
                        "DELETE FROM triage_searches WHERE tenant = $1 AND id = $2",
                        &[&removal.tenant, &removal.id],
                    )
                    .await?;
                if n > 0 {
                    tx.execute(
                        "INSERT INTO triage_search_removals (tenant, doc) VALUES ($1, $2)",
                        &[&removal.tenant, &doc],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(n > 0)
            })
            .await
    }

    async fn switch_rule(&self, switch: RuleSwitch) -> Result<()> {
        let doc = json(&switch)?;
        self.pg
            .with("keeping a rule switch", async |c| {
                c.execute(
                    "INSERT INTO triage_rule_switches (tenant, doc) VALUES ($1, $2)",
                    &[&switch.tenant, &doc],
                )
                .await?;
                Ok(())
            })
            .await
    }

    async fn rule_switches(&self) -> Result<Vec<RuleSwitch>> {
        let rows = self
            .pg
            .with("reading rule switches", async |c| {
                Ok(c.query(
                    "SELECT seq, doc FROM triage_rule_switches ORDER BY seq",
                    &[],
                )
                .await?)
            })
            .await?;
        rows.iter()
            .map(|r| parse("triage_rule_switches", r.get::<_, i64>(0), r.get(1)))
            .collect()
    }
}
