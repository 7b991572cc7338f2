//! `POST /api/v1/retrohunt`: a run of its own, answered when it ends.
//!
//! Why a task: the run must own what it holds (the one-at-a-time lock,
//! the reader, the files) and end by its own path, writing its summary.
//! The request only waits for it; when the client goes away (its future
//! dropped), the run is told to stop and records `cancelled` with where
//! it stopped, rather than being cut at an arbitrary await.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{Budget, RetroError, Setting};
use crate::{error, rules, unavailable, ReadTenant, Shared};

/// Sets the run's cancel flag unless disarmed (the answer was given).
struct CancelOnDrop(Option<Arc<AtomicBool>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.store(true, Ordering::Release);
        }
    }
}

/// Runs rules over the stored events; one at a time.
pub(crate) async fn post(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    body: Bytes,
) -> Response {
    let req: super::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a retro-hunt request ({{\"rules\": YAML, \"from\"?, \"to\"?, \"max_seconds\"?, \"from_position\"?}}): {e}"),
            )
        }
    };
    // The rules turned off for every tenant and by this commune, as now.
    let switched_off = match s.triage.rule_switches().await {
        Ok(sw) => rules::switched_off(&sw, &tenant),
        Err(e) => return unavailable(&format!("rule switches unreadable now: {e}")),
    };
    let budget = Budget::unbounded();
    let mut cancel = CancelOnDrop(Some(budget.cancel.clone()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = s.clone();
    tokio::spawn(async move {
        let s = task;
        let Ok(_running) = s.retrohunting.try_lock() else {
            let _ = tx.send(None);
            return;
        };
        let at = Setting {
            log: &s.log,
            data: &s.config.data,
            read: &s.config.hunt.read,
            limits: s.config.retrohunt,
            runs: &s.retrohunts,
        };
        let done = super::run(at, &tenant, req, &switched_off, budget).await;
        if let Ok((summary, _)) = &done {
            if summary.stopped == Some(super::Stopped::Cancelled) {
                eprintln!(
                    "vigie serve: retro-hunt {}: its client went away; stopped at position {} (kept in {})",
                    summary.id,
                    summary.events_read,
                    summary.kept_in.display()
                );
            }
        }
        let _ = tx.send(Some(done));
    });
    let outcome = rx.await;
    cancel.0 = None;
    match outcome {
        Ok(None) => {
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "a retro-hunt is running: send again when it is done (GET /api/v1/retrohunts shows it)",
            );
            resp.headers_mut()
                .insert("Retry-After", "10".parse().expect("header"));
            resp
        }
        Ok(Some(Ok((summary, found)))) => {
            Json(json!({ "summary": summary, "detections": found })).into_response()
        }
        Ok(Some(Err(RetroError::Rules(e)))) => error(StatusCode::BAD_REQUEST, &e),
        // The stream (or its archive) cannot be read: 503 and send again,
        // never an answer of what was read before it failed, which would
        // read as "nothing found" (the run's record says how far it got).
        Ok(Some(Err(RetroError::Store(e)))) => unavailable(&format!(
            "the stored events cannot be read now ({e}): the retro-hunt did not run to its end, and no partial answer is given; send it again in a moment"
        )),
        Ok(Some(Err(e))) => unavailable(&e.to_string()),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the retro-hunt ended without an answer (said in the server's log)",
        ),
    }
}
