//! Where a node keeps its live ids and its alerting's journal: the embedded
//! state, or PostgreSQL shared by every api node (what a node kept of them
//! itself moved there once).

use std::sync::Arc;

use vigie_store::live::{AlertJournal, IncidentIds};

/// Where a node keeps its live ids and its alerting's journal.
pub struct LiveStores {
    pub ids: Arc<dyn IncidentIds>,
    pub alerts: Arc<dyn vigie_store::live::AlertJournal>,
}

/// The stores of the live ids and of the alerting's journal: the embedded
/// state's (`embedded`, opened without `--db`), or with `--db` (`db`)
/// PostgreSQL's, shared by every api node — what the node's own
/// `state.db` held of them (and its former `incidents.json` and
/// `alerts.jsonl`) moved there first, once. Blocking.
pub fn live_stores(
    data: &std::path::Path,
    embedded: Option<&Arc<vigie_state::Db>>,
    db: Option<&str>,
) -> Result<LiveStores, vigie_store::StoreError> {
    let url = match (embedded, db) {
        (Some(st), _) => {
            return Ok(LiveStores {
                ids: Arc::new(vigie_state::SqliteIncidentIds::new(st.clone())),
                alerts: Arc::new(vigie_state::SqliteAlerts::new(st.clone())),
            })
        }
        (None, Some(url)) => url,
        (None, None) => {
            // Never: without --db the embedded state is open. A node's
            // own state.db then.
            let st = vigie_state::Db::open(data)?;
            return Ok(LiveStores {
                ids: Arc::new(vigie_state::SqliteIncidentIds::new(st.clone())),
                alerts: Arc::new(vigie_state::SqliteAlerts::new(st)),
            });
        }
    };
    let io = |what: &str, e: std::io::Error| vigie_store::StoreError::Io {
        what: what.into(),
        source: e,
    };
    let ids =
        Arc::new(vigie_db::PgIncidentIds::new(url).map_err(|e| io("the live ids' store", e))?);
    let alerts = Arc::new(vigie_db::PgAlerts::new(url).map_err(|e| io("the alerts' store", e))?);
    import_node(data, &alerts)?;
    Ok(LiveStores { ids, alerts })
}

/// Moves what a node kept of the live half in its own `state.db` (an
/// embedded node moving to `--db`, or a node of the version that kept
/// them per node) into PostgreSQL, once: per tenant, its ids, journal
/// and silences said when PostgreSQL holds nothing of the tenant; a
/// tenant already named there keeps what it has (this node's ids of it
/// would name other incidents, its records would stand for them) — each
/// said. One transaction in PostgreSQL with the marker of what was moved;
/// `state.db` emptied after it commits (a start interrupted in between
/// finds the marker: nothing taken twice). Nothing to do (and no
/// `state.db` made) when the node has neither `state.db` nor a former
/// file.
fn import_node(
    data: &std::path::Path,
    alerts: &vigie_db::PgAlerts,
) -> Result<(), vigie_store::StoreError> {
    let former = vigie_state::import::NODE_FILES
        .iter()
        .any(|f| data.join(f).is_file());
    if !former && !data.join(vigie_state::FILE).is_file() {
        return Ok(());
    }
    let imported = vigie_state::import_only(data, &vigie_state::import::NODE_FILES)?;
    for line in imported.lines() {
        eprintln!("vigie serve: {line}");
    }
    let st = vigie_state::Db::open(data)?;
    let rows = vigie_state::take_for_import(&st)?;
    if rows.incidents.is_empty() && rows.journal.is_empty() && rows.silences.is_empty() {
        return Ok(());
    }
    let (from, to) = (st.place(), AlertJournal::place(alerts));
    let done = alerts.import_node(&from, &rows.incidents, &rows.journal, &rows.silences)?;
    if done.already {
        eprintln!(
            "vigie serve: {from}: its live ids and alerts were already moved into {to} by an earlier start (stopped before they were deleted here): not taken again"
        );
    }
    for t in &done.skipped {
        eprintln!(
            "vigie serve: {from}: the live ids and alerts of {:?} not imported: {to} already holds that tenant's (another node named its incidents first); this node's {} id(s), {} alert record(s) and {} silence(s) of it would stand for other incidents, and are dropped",
            t.tenant, t.ids, t.records, t.silences
        );
    }
    for t in &done.taken {
        eprintln!(
            "vigie serve: {from}: {:?}: {} live id(s), {} alert record(s) and {} silence(s) said moved into {to}",
            t.tenant, t.ids, t.records, t.silences
        );
    }
    vigie_state::forget_live(&st)?;
    if !done.already {
        let sum = |f: fn(&vigie_db::TenantImport) -> usize| done.taken.iter().map(f).sum::<usize>();
        eprintln!(
            "vigie serve: {from}: the live ids of {} tenant(s), {} alert record(s) and {} silence(s) said moved into {to} ({} tenant(s) left out)",
            done.taken.len(),
            sum(|t| t.records),
            sum(|t| t.silences),
            done.skipped.len()
        );
    }
    Ok(())
}
