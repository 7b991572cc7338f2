//! The retro-hunts running now, and every run's state as kept under
//! `retrohunts/<id>/summary.json`: `GET /api/v1/retrohunts` and
//! `GET /api/v1/retrohunts/{id}`.
//!
//! Why the files: a run's summary is written when it starts and when it
//! ends, so its record outlives the process; what changes while it runs
//! (events read, detections so far) is read from the run itself. A
//! summary still saying `running` that no run of this process holds was
//! cut by a stop of the server: shown as `interrupted`, never as running.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::{error, ReadTenant, Shared};

/// Runs listed at most, newest first (every one stays on disk).
pub const LISTED: usize = 100;

/// What a running run shows.
pub struct Live {
    /// Log positions read so far.
    pub read: Arc<AtomicU64>,
    /// Detections found so far.
    pub detections: Arc<AtomicU64>,
    /// Set to stop it at the end of its batch.
    pub cancel: Arc<AtomicBool>,
    pub started: Instant,
}

/// The runs of this process in progress.
#[derive(Default)]
pub struct Runs {
    live: Mutex<HashMap<String, (Option<String>, Live)>>,
}

/// A run registered while it lives; removed on drop, whatever the path.
pub struct Registered<'a> {
    runs: &'a Runs,
    id: String,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.runs
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl Runs {
    /// Registers run `id` (of `tenant`; `None`: every tenant's, the
    /// indicators' runs) until the guard is dropped.
    pub fn start(&self, id: &str, tenant: Option<&str>, live: Live) -> Registered<'_> {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), (tenant.map(str::to_string), live));
        Registered {
            runs: self,
            id: id.to_string(),
        }
    }

    /// How many run now that `tenant` may see: its own and the
    /// indicators' (as [`visible`] lists them) — a commune is not told
    /// how busy the other communes' retro-hunts are.
    pub fn running_for(&self, tenant: &str) -> usize {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|(t, _)| t.as_deref().is_none_or(|t| t == tenant))
            .count()
    }

    /// Whether run `id` is in progress in this process (retention leaves
    /// it).
    pub fn is_running(&self, id: &str) -> bool {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }

    /// A kept summary with what its run shows now, if it runs.
    fn overlay(&self, id: &str, mut summary: Value) -> Value {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        match live.get(id) {
            Some((_, l)) => {
                summary["state"] = json!("running");
                summary["events_read"] = json!(l.read.load(Ordering::Acquire));
                summary["detections"] = json!(l.detections.load(Ordering::Acquire));
                summary["seconds"] = json!(l.started.elapsed().as_secs_f64());
            }
            None if summary["state"] == "running" => {
                summary["state"] = json!("interrupted");
                summary["complete"] = json!(false);
            }
            None => {}
        }
        summary
    }
}

/// Whether `id` can name a run (a directory under `retrohunts/`).
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Run `id`'s summary as kept, if any.
fn read_summary(dir: &Path, id: &str) -> Option<Value> {
    let bytes = std::fs::read(dir.join(id).join("summary.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether `tenant` may see this run: its own, and the indicators' runs
/// (over every tenant, listed in `GET /api/v1/indicators` too).
fn visible(summary: &Value, tenant: &str) -> bool {
    match summary.get("tenant") {
        Some(Value::String(t)) => t == tenant,
        _ => true,
    }
}

/// `GET /api/v1/retrohunts`: the caller's tenant's runs, newest first,
/// with the state of those running; how many of them run; the one-off
/// readers this node holds now (a count only: a leak shows there).
pub(crate) async fn list(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    let dir = s.config.data.join("retrohunts");
    let runs = s.retrohunts.clone();
    let tenant2 = tenant.clone();
    let listed = tokio::task::spawn_blocking(move || {
        let mut ids: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| is_id(n))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = Vec::new();
        for id in ids {
            if out.len() == LISTED {
                break;
            }
            if let Some(v) = read_summary(&dir, &id).filter(|v| visible(v, &tenant)) {
                out.push(runs.overlay(&id, v));
            }
        }
        out
    })
    .await
    .unwrap_or_default();
    Json(json!({
        "runs": listed,
        "running": s.retrohunts.running_for(&tenant2),
        "readers_open": super::reader::open(),
    }))
    .into_response()
}

/// `GET /api/v1/retrohunts/{id}`: one run's summary, as it stands.
pub(crate) async fn get(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let not_found = || error(StatusCode::NOT_FOUND, &format!("no retro-hunt {id:?}"));
    if !is_id(&id) {
        return not_found();
    }
    let dir = s.config.data.join("retrohunts");
    let id2 = id.clone();
    let Ok(Some(summary)) = tokio::task::spawn_blocking(move || read_summary(&dir, &id2)).await
    else {
        return not_found();
    };
    // Another commune's run is not found (not forbidden: its existence
    // is not told either).
    if !visible(&summary, &tenant) {
        return not_found();
    }
    Json(s.retrohunts.overlay(&id, summary)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            read: Arc::default(),
            detections: Arc::default(),
            cancel: Arc::default(),
            started: Instant::now(),
        }
    }

    #[test]
    fn a_tenant_is_told_of_its_own_runs_and_the_indicators_only() {
        let runs = Runs::default();
        let a = runs.start("r1", Some("mairie-a"), live());
        let _b = runs.start("r2", Some("mairie-b"), live());
        let _ioc = runs.start("r3", None, live());
        assert_eq!(runs.running_for("mairie-a"), 2);
        assert_eq!(runs.running_for("mairie-b"), 2);
        assert_eq!(runs.running_for("mairie-c"), 1);
        drop(a);
        assert_eq!(runs.running_for("mairie-a"), 1);
    }
}
