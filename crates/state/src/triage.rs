//! Triage in `state.db`: [`TriageStore`] with the meaning of the former
//! `triage.jsonl` (changes appended, every filter version kept, saved
//! searches replaced by id), the same tables as the PostgreSQL backend.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use vigie_store::triage::{
    Entry, Filter, FilterVersion, Line, Removal, RuleSwitch, SavedSearch, SearchRemoval,
    TriageStore,
};
use vigie_store::{Result, StoreError};

use crate::db::{Db, Failure};
use crate::{json, parse};

/// Triage in SQLite.
pub struct SqliteTriage {
    db: Arc<Db>,
}

impl SqliteTriage {
    pub fn new(db: Arc<Db>) -> SqliteTriage {
        SqliteTriage { db }
    }

    pub fn place(&self) -> String {
        self.db.place()
    }
}

/// One line of the former `triage.jsonl` kept as it was written (its
/// filter version's number included), in `c`'s transaction: the import.
pub(crate) fn import_line(c: &Connection, line: &Line) -> std::result::Result<(), Failure> {
    match line {
        Line::Entry(e) => record(c, e)?,
        Line::FilterVersion(v) => {
            c.execute(
                "INSERT INTO triage_filter_versions (filter, version, tenant, doc)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (filter, version) DO NOTHING",
                params![v.filter, v.version, v.tenant, json(v)?],
            )?;
        }
        Line::FilterRemoved(r) => {
            c.execute(
                "INSERT INTO triage_filter_removals (filter, doc) VALUES (?1, ?2)
                 ON CONFLICT (filter) DO NOTHING",
                params![r.filter, json(r)?],
            )?;
        }
        Line::SearchSaved(s) => save_search(c, s)?,
        Line::SearchRemoved(r) => {
            remove_search(c, r)?;
        }
        Line::RuleSwitched(s) => switch_rule(c, s)?,
    }
    Ok(())
}

fn record(c: &Connection, entry: &Entry) -> std::result::Result<(), Failure> {
    c.prepare_cached("INSERT INTO triage_entries (tenant, doc) VALUES (?1, ?2)")?
        .execute(params![entry.tenant, json(entry)?])?;
    Ok(())
}

fn save_search(c: &Connection, search: &SavedSearch) -> std::result::Result<(), Failure> {
    // The next number of the table's own: saved again, it moves last.
    c.execute(
        "INSERT INTO triage_searches (tenant, id, seq, doc)
         VALUES (?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM triage_searches), ?3)
         ON CONFLICT (tenant, id) DO UPDATE SET seq = excluded.seq, doc = excluded.doc",
        params![search.tenant, search.id, json(search)?],
    )?;
    Ok(())
}

fn remove_search(c: &Connection, removal: &SearchRemoval) -> std::result::Result<bool, Failure> {
    let n = c.execute(
        "DELETE FROM triage_searches WHERE tenant = ?1 AND id = ?2",
        params![removal.tenant, removal.id],
    )?;
    if n > 0 {
        c.execute(
            "INSERT INTO triage_search_removals (tenant, doc) VALUES (?1, ?2)",
            params![removal.tenant, json(removal)?],
        )?;
    }
    Ok(n > 0)
}

fn switch_rule(c: &Connection, switch: &RuleSwitch) -> std::result::Result<(), Failure> {
    c.execute(
        "INSERT INTO triage_rule_switches (tenant, doc) VALUES (?1, ?2)",
        params![switch.tenant, json(switch)?],
    )?;
    Ok(())
}

/// Documents of `sql` (rows of seq or key, doc), parsed.
fn docs<T: serde::de::DeserializeOwned>(
    c: &Connection,
    table: &str,
    sql: &str,
    arg: Option<&str>,
) -> std::result::Result<Vec<T>, Failure> {
    let mut st = c.prepare_cached(sql)?;
    let map = |r: &rusqlite::Row| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?));
    let rows: Vec<(String, String)> = match arg {
        Some(a) => st.query_map([a], map)?.collect::<rusqlite::Result<_>>()?,
        None => st.query_map([], map)?.collect::<rusqlite::Result<_>>()?,
    };
    rows.iter()
        .map(|(k, d)| parse(table, k, d).map_err(Failure::Store))
        .collect()
}

#[async_trait]
impl TriageStore for SqliteTriage {
    async fn record(&self, entry: Entry) -> Result<()> {
        self.db
            .run("keeping a triage change", move |c| record(c, &entry))
            .await
    }

    async fn entries(&self, tenant: &str) -> Result<Vec<Entry>> {
        let tenant = tenant.to_string();
        self.db
            .run("reading triage", move |c| {
                docs(
                    c,
                    "triage_entries",
                    "SELECT CAST(seq AS TEXT), doc FROM triage_entries WHERE tenant = ?1 ORDER BY seq",
                    Some(&tenant),
                )
            })
            .await
    }

    async fn put_filter(&self, mut version: FilterVersion) -> Result<FilterVersion> {
        self.db
            .run("keeping a filter version", move |c| {
                // A write transaction from the start: the number read is
                // the one inserted, whoever else edits the filter.
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let removed = tx
                    .query_row(
                        "SELECT 1 FROM triage_filter_removals WHERE filter = ?1",
                        [&version.filter],
                        |_| Ok(()),
                    )
                    .optional()?;
                if removed.is_some() {
                    return Err(Failure::Store(StoreError::Invalid(format!(
                        "filter {} was removed: it gets no new version",
                        version.filter
                    ))));
                }
                let last: i64 = tx.query_row(
                    "SELECT coalesce(max(version), 0) FROM triage_filter_versions WHERE filter = ?1",
                    [&version.filter],
                    |r| r.get(0),
                )?;
                version.version = u32::try_from(last + 1).unwrap_or(u32::MAX);
                tx.execute(
                    "INSERT INTO triage_filter_versions (filter, version, tenant, doc)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![version.filter, last + 1, version.tenant, json(&version)?],
                )?;
                tx.commit()?;
                Ok(version)
            })
            .await
    }

    async fn remove_filter(&self, removal: Removal) -> Result<()> {
        self.db
            .run("removing a filter", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let there = tx
                    .query_row(
                        "SELECT 1 FROM triage_filter_versions WHERE filter = ?1 LIMIT 1",
                        [&removal.filter],
                        |_| Ok(()),
                    )
                    .optional()?;
                if there.is_none() {
                    return Err(Failure::Store(StoreError::Invalid(format!(
                        "no filter {}",
                        removal.filter
                    ))));
                }
                // Removed already: the first removal stays the one said.
                tx.execute(
                    "INSERT INTO triage_filter_removals (filter, doc) VALUES (?1, ?2)
                     ON CONFLICT (filter) DO NOTHING",
                    params![removal.filter, json(&removal)?],
                )?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn filters(&self) -> Result<Vec<Filter>> {
        self.db
            .run("reading filters", |c| {
                let tx = c.transaction()?;
                let versions: Vec<FilterVersion> = docs(
                    &tx,
                    "triage_filter_versions",
                    "SELECT CAST(seq AS TEXT), doc FROM triage_filter_versions ORDER BY filter, version",
                    None,
                )?;
                let removals: Vec<Removal> = docs(
                    &tx,
                    "triage_filter_removals",
                    "SELECT filter, doc FROM triage_filter_removals",
                    None,
                )?;
                let mut by: BTreeMap<String, Filter> = BTreeMap::new();
                for v in versions {
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
                for r in removals {
                    if let Some(f) = by.get_mut(&r.filter) {
                        f.removed = Some(r);
                    }
                }
                Ok(by.into_values().collect())
            })
            .await
    }

    async fn save_search(&self, search: SavedSearch) -> Result<()> {
        self.db
            .run("keeping a saved search", move |c| save_search(c, &search))
            .await
    }

    async fn searches(&self, tenant: &str) -> Result<Vec<SavedSearch>> {
        let tenant = tenant.to_string();
        self.db
            .run("reading saved searches", move |c| {
                docs(
                    c,
                    "triage_searches",
                    "SELECT id, doc FROM triage_searches WHERE tenant = ?1 ORDER BY seq",
                    Some(&tenant),
                )
            })
            .await
    }

    async fn remove_search(&self, removal: SearchRemoval) -> Result<bool> {
        self.db
            .run("removing a saved search", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let there = remove_search(&tx, &removal)?;
                tx.commit()?;
                Ok(there)
            })
            .await
    }

    async fn switch_rule(&self, switch: RuleSwitch) -> Result<()> {
        self.db
            .run("keeping a rule switch", move |c| switch_rule(c, &switch))
            .await
    }

    async fn rule_switches(&self) -> Result<Vec<RuleSwitch>> {
        self.db
            .run("reading rule switches", |c| {
                docs(
                    c,
                    "triage_rule_switches",
                    "SELECT CAST(seq AS TEXT), doc FROM triage_rule_switches ORDER BY seq",
                    None,
                )
            })
            .await
    }
}
