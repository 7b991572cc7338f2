//! The read-only TAXII 2.1 server of `vigie serve`: what a regional CSIRT's
//! platform (OpenCTI, MISP's TAXII client, a SOAR) polls to be warned of
//! a commune's incident as it grows, and to read the indicators Vigie
//! holds.
//!
//! The responses are `vigie_intel::taxii::server`'s (pure); this module
//! gives it the objects, behind serve's authentication (a read token or a
//! session, as every reading route):
//!
//! - discovery at `/taxii2/`, one API root per tenant (`/taxii2/TENANT/`):
//!   a token reads its own, an administrator's any;
//! - collection `incident`: the STIX 2.1 bundle of the tenant's **live**
//!   scope, as `vigie export stix` writes it from a scope file — TLP:AMBER,
//!   accounts by their role, no host name;
//! - collection `indicators`: every indicator held (`--ioc` and the
//!   uploads) as STIX `indicator` objects.
//!
//! `date_added` is when this server first served an object's version (in
//! memory: after a restart a client polling with `added_after` gets the
//! objects again — the same ids and versions, which TAXII clients merge).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use vigie_intel::export::stix;
use vigie_intel::taxii::server::{self as taxii, ApiRoot, Collection, Server, Stored};
use vigie_intel::Tlp;

use crate::{Caller, ReadTenant, Shared};

/// Where discovery is.
pub const BASE: &str = "/taxii2/";

/// When the version served now of each (collection, object id) was
/// first served. Only the objects of the collection as it stands are
/// kept: its size is the collections' size, however long it is polled.
#[derive(Default)]
pub struct Added(Mutex<(HashMap<String, Versions>, DateTime<Utc>)>);

/// Of one collection: each object id's version served now, and since when.
type Versions = HashMap<String, (String, DateTime<Utc>)>;

impl Added {
    /// Stamps the objects of collection `key` with when their version was
    /// first served (now for a version never served).
    ///
    /// A new stamp is whole milliseconds, as the dates are served
    /// (`X-TAXII-Date-Added-Last`, `date_added`), and strictly after every
    /// stamp handed out before: a client polling with `added_after` = the
    /// last date it was served gets exactly what was added since — not
    /// again what it holds (a finer stamp is after its own millisecond),
    /// nor never what was stamped in that same millisecond later.
    fn stamp(&self, key: &str, objects: Vec<Json>) -> Vec<Stored> {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (all, last) = &mut *guard;
        let millis = Utc::now().timestamp_millis();
        let now = DateTime::from_timestamp_millis(millis)
            .unwrap_or_default()
            .max(*last + chrono::TimeDelta::milliseconds(1));
        let seen = all.entry(key.to_string()).or_default();
        let mut kept = HashMap::with_capacity(objects.len());
        let out = objects
            .into_iter()
            .map(|object| {
                let probe = Stored {
                    date_added: now,
                    object,
                };
                let (id, version) = (probe.id().to_string(), probe.version());
                let date_added = match seen.get(&id) {
                    Some((v, t)) if *v == version => *t,
                    _ => now,
                };
                kept.insert(id, (version, date_added));
                Stored {
                    date_added,
                    object: probe.object,
                }
            })
            .collect();
        if kept.values().any(|(_, t)| *t == now) {
            *last = now;
        }
        *seen = kept;
        out
    }
}

fn collection_id(tenant: &str, what: &str) -> String {
    vigie_intel::ids::uuid_from(&format!("taxii\u{0}{tenant}\u{0}{what}")).to_string()
}

/// The tenant's incident as STIX objects, from the live scope (none
/// while nothing of the tenant was received); `Err` when its scope
/// cannot be answered now (its incidents' naming failed): an empty
/// collection would read as "no incident". Blocking.
fn incident_objects(s: &Shared, tenant: &str) -> Result<Vec<Json>, Unanswered> {
    let Some(findings) = crate::indicators::live_findings(s, tenant, Tlp::Amber) else {
        if s.live.naming_failed_for(tenant) {
            return Err(Unanswered);
        }
        return Ok(Vec::new());
    };
    let bundle = stix::bundle(&findings, Tlp::Amber, s.config.hunt.lang);
    Ok(bundle["objects"].as_array().cloned().unwrap_or_default())
}

/// The tenant's live scope cannot be answered now (see
/// [`crate::http::NAMING_UNAVAILABLE`]).
struct Unanswered;

/// An API root's collections for `tenant`. Blocking.
fn root(s: &Shared, tenant: &str) -> Result<ApiRoot, Unanswered> {
    let incident = s
        .intel
        .added
        .stamp(&format!("{tenant}/incident"), incident_objects(s, tenant)?);
    let indicators = s.intel.added.stamp("indicators", s.intel.stix_objects());
    Ok(ApiRoot {
        name: tenant.to_string(),
        title: format!("Vigie — {tenant}"),
        description: Some(
            "The incident of the live scope (STIX 2.1, TLP:AMBER, accounts by role) and the indicators Vigie holds."
                .into(),
        ),
        collections: vec![
            Collection {
                id: collection_id(tenant, "incident"),
                title: "incident".into(),
                description: Some(
                    "The incident as Vigie sees it now: identity, incident, attack patterns, observables, indicators, sightings."
                        .into(),
                ),
                objects: incident,
            },
            Collection {
                id: collection_id(tenant, "indicators"),
                title: "indicators".into(),
                description: Some(
                    "The indicators Vigie matches (received from CSIRTs, feeds and uploads)."
                        .into(),
                ),
                objects: indicators,
            },
        ],
    })
}

/// `GET /taxii2/…`: every TAXII resource, read-only.
pub(crate) async fn get(
    State(s): State<Shared>,
    ReadTenant(_): ReadTenant,
    axum::Extension(caller): axum::Extension<Caller>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let asked = path
        .strip_prefix(BASE)
        .and_then(|r| r.split('/').find(|p| !p.is_empty()))
        .map(str::to_string);
    if let Some(tenant) = &asked {
        if caller.reads(Some(tenant)).is_err() {
            return send(taxii::error(
                403,
                "Forbidden",
                "This token or session reads its own tenant's API root only.",
            ));
        }
    }
    if let Some(r) = crate::rebuilding(&s) {
        return r;
    }
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (accept, if_none_match) = (header("accept"), header("if-none-match"));
    let answered = tokio::task::spawn_blocking(move || {
        let roots = match &asked {
            Some(t) => vec![root(&s, t)?],
            None => {
                let mut tenants: BTreeSet<String> = BTreeSet::new();
                if caller.assigned.is_empty() {
                    tenants.insert(caller.tenant.clone());
                }
                if caller.reads_all {
                    tenants.extend(s.live.tenants());
                }
                // A CSIRT's account assigned communes: those, not its own
                // `default` tenant's.
                tenants.extend(caller.assigned.iter().cloned());
                tenants
                    .into_iter()
                    .map(|t| ApiRoot {
                        name: t,
                        title: String::new(),
                        description: None,
                        collections: Vec::new(),
                    })
                    .collect()
            }
        };
        let server = Server {
            base: BASE.into(),
            title: "Vigie".into(),
            description: Some(
                "A commune's incident and indicators, as Vigie sees them now.".into(),
            ),
            contact: None,
            roots,
        };
        Ok(taxii::handle(
            &server,
            &path,
            &query,
            accept.as_deref(),
            if_none_match.as_deref(),
        ))
    })
    .await;
    match answered {
        Ok(Ok(r)) => send(r),
        // Cannot be answered now: said (503, as the scope's routes), not
        // given as an empty collection.
        Ok(Err(Unanswered)) => {
            let mut r = send(taxii::error(
                503,
                "Service Unavailable",
                crate::http::NAMING_UNAVAILABLE,
            ));
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
            r
        }
        Err(e) => send(taxii::error(500, "Internal error", &e.to_string())),
    }
}

fn send(r: taxii::Response) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, r.body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = r.content_type.parse() {
        h.insert(axum::http::header::CONTENT_TYPE, v);
    }
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            h.insert(k, v);
        }
    }
    resp
}
