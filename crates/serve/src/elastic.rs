//! The Elasticsearch API, as far as shippers use it to send events.
//!
//! Why: Winlogbeat is what most communes already run on their Windows
//! hosts, and Filebeat, Fluent Bit (`es`), Vector (`elasticsearch`) and
//! Logstash all speak the same `_bulk` protocol. Beats first `GET /` and
//! check `version.number` and the `X-Elastic-Product: Elasticsearch`
//! header (8.x refuses a server without it), then `POST /_bulk` with
//! NDJSON pairs — an action line (`create` for data streams, `index`
//! otherwise) and the document — and read one status per item, in order.
//! Each document is kept as it arrived; the detection worker reads it with
//! `vigie-source` (the Beats layout is one of its layouts).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vigie_store::IngestBatch;

use crate::{body_bytes, error, Caller, Shared};

/// Items in one bulk request, at most: more is answered 413 before any
/// is kept (Beats send 1,600 by default, Logstash 125, Vector and Fluent
/// Bit a few thousand), so that a body of tiny items cannot make the
/// server hold millions of them.
pub const MAX_BULK_ITEMS: usize = 50_000;

/// The version announced: one Beats 8 and 9 accept.
pub const VERSION: &str = "8.17.0";

pub(crate) fn product(mut r: Response) -> Response {
    r.headers_mut().insert(
        "X-Elastic-Product",
        HeaderValue::from_static("Elasticsearch"),
    );
    r
}

pub(crate) async fn root() -> Response {
    product(
        Json(json!({
            "name": "vigie",
            "cluster_name": "vigie",
            "cluster_uuid": "vigie",
            "version": {
                "number": VERSION,
                "build_flavor": "default",
                "build_type": "vigie",
                "lucene_version": "9.12.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0"
            },
            "tagline": "You Know, for Search"
        }))
        .into_response(),
    )
}

pub(crate) async fn license() -> Response {
    product(
        Json(json!({
            "license": { "status": "active", "type": "basic", "mode": "basic", "uid": "vigie" }
        }))
        .into_response(),
    )
}

/// One item of a bulk request, with the document when its action has one.
enum Item {
    Doc {
        action: String,
        index: String,
        doc: Vec<u8>,
    },
    Refused {
        action: String,
        index: String,
        reason: String,
    },
}

/// The items of a bulk body; `Err` with their count past [`MAX_BULK_ITEMS`].
fn parse(bytes: &[u8], default_index: &str, max_line: usize) -> Result<Vec<Item>, usize> {
    let mut items = Vec::new();
    let mut lines = bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    while let Some(action_line) = lines.next() {
        if items.len() == MAX_BULK_ITEMS {
            return Err(items.len() + 1);
        }
        let action: Option<(String, Value)> = serde_json::from_slice::<Value>(action_line)
            .ok()
            .and_then(|v| {
                v.as_object()
                    .and_then(|o| o.iter().next().map(|(k, v)| (k.clone(), v.clone())))
            });
        let Some((action, meta)) = action else {
            items.push(Item::Refused {
                action: "index".into(),
                index: default_index.into(),
                reason: "not an action line ({\"create\":{…}} or {\"index\":{…}})".into(),
            });
            continue;
        };
        let index = meta["_index"].as_str().unwrap_or(default_index).to_string();
        match action.as_str() {
            "create" | "index" => {
                let Some(doc) = lines.next() else {
                    items.push(Item::Refused {
                        action,
                        index,
                        reason: "action without its document".into(),
                    });
                    break;
                };
                let why = if doc.len() > max_line {
                    Some(format!(
                        "document of {} bytes (at most {max_line})",
                        doc.len()
                    ))
                } else {
                    crate::json_object(doc)
                };
                items.push(match why {
                    None => Item::Doc {
                        action,
                        index,
                        doc: doc.to_vec(),
                    },
                    Some(reason) => Item::Refused {
                        action,
                        index,
                        reason,
                    },
                });
            }
            "update" => {
                // Evidence is not updated: refused, its line skipped.
                let _ = lines.next();
                items.push(Item::Refused {
                    action,
                    index,
                    reason: "update is not supported: events are kept as sent".into(),
                });
            }
            _ => items.push(Item::Refused {
                action,
                index,
                reason: "only create and index are supported".into(),
            }),
        }
    }
    Ok(items)
}

pub(crate) async fn bulk(
    State(s): State<Shared>,
    path: Option<axum::extract::Path<String>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = crate::not_ingesting(&s) {
        return product(refused);
    }
    let default_index = path.map(|p| p.0).unwrap_or_else(|| "logs".into());
    // Inflating and parsing take CPU: off the threads serving requests.
    let (max_inflated, max_line) = (s.config.max_inflated, s.config.max_line);
    let parsed = tokio::task::spawn_blocking(move || {
        body_bytes(&headers, &body, max_inflated).map(|b| parse(&b, &default_index, max_line))
    })
    .await;
    let items = match parsed {
        Ok(Ok(Ok(items))) => items,
        Ok(Ok(Err(_))) => {
            return product(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                "more than {MAX_BULK_ITEMS} items in one request: send them in smaller requests"
            ),
            ))
        }
        Ok(Err(e)) => return product(error(StatusCode::BAD_REQUEST, &e)),
        Err(_) => {
            return product(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the body could not be checked",
            ))
        }
    };
    let docs: Vec<Vec<u8>> = items
        .iter()
        .filter_map(|i| match i {
            Item::Doc { doc, .. } => Some(doc.clone()),
            Item::Refused { .. } => None,
        })
        .collect();
    let first = if docs.is_empty() {
        0
    } else {
        let batch = IngestBatch {
            tenant: caller.tenant,
            source: "elasticsearch-bulk".into(),
            received: chrono::Utc::now().timestamp_micros(),
            events: docs,
        };
        match s.log.append(batch).await {
            Ok(a) => a.first.0,
            // Nothing acknowledged: shippers retry on 429/503.
            Err(e) => return product(crate::unavailable(&format!("not stored, send again: {e}"))),
        }
    };
    let mut next = first;
    let mut errors = false;
    let out: Vec<Value> = items
        .into_iter()
        .map(|i| match i {
            Item::Doc { action, index, .. } => {
                let id = format!("{next}");
                next += 1;
                json!({ action: { "_index": index, "_id": id, "status": 201, "result": "created" } })
            }
            Item::Refused {
                action,
                index,
                reason,
            } => {
                errors = true;
                json!({ action: { "_index": index, "status": 400,
                    "error": { "type": "document_parsing_exception", "reason": reason } } })
            }
        })
        .collect();
    product(Json(json!({ "took": 0, "errors": errors, "items": out })).into_response())
}

/// `GET /_xpack`: the features shippers look for before using them
/// (Beats and Logstash check that ILM is there).
pub(crate) async fn xpack() -> Response {
    product(
        Json(json!({
            "build": { "hash": "vigie" },
            "license": { "status": "active", "type": "basic", "mode": "basic", "uid": "vigie" },
            "features": { "ilm": { "available": true, "enabled": true } }
        }))
        .into_response(),
    )
}

/// `GET /_cluster/health`: Vector's health check before it sends.
pub(crate) async fn health() -> Response {
    product(
        Json(json!({
            "cluster_name": "vigie",
            "status": "green",
            "timed_out": false,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1
        }))
        .into_response(),
    )
}

/// `GET /_nodes`: one node (Logstash and clients that sniff).
pub(crate) async fn nodes() -> Response {
    product(
        Json(json!({
            "_nodes": { "total": 1, "successful": 1, "failed": 0 },
            "cluster_name": "vigie",
            "nodes": { "vigie": { "name": "vigie", "version": VERSION, "roles": ["data", "ingest"] } }
        }))
        .into_response(),
    )
}

/// `GET`/`HEAD /_index_template/{name}`: said to exist, so that Beats
/// (`setup.template.enabled`, the default) do not stop on a missing one.
/// Vigie keeps each event as it was sent: index templates have nothing
/// to shape, and none is kept.
pub(crate) async fn index_template(
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    product(
        Json(
            json!({ "index_templates": [ { "name": name, "index_template": {
            "index_patterns": [format!("{name}*")], "data_stream": {}, "template": {} } } ] }),
        )
        .into_response(),
    )
}

/// `GET`/`HEAD /_template/{name}`: the legacy form (Logstash).
pub(crate) async fn legacy_template(
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    product(
        Json(json!({ name.clone(): { "index_patterns": [format!("{name}*")] } })).into_response(),
    )
}

/// `GET`/`HEAD /_ilm/policy/{name}`: said to exist (Beats' and
/// Logstash's `ilm` setup); retention is Vigie's own (docs/serve.md).
pub(crate) async fn ilm_policy(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    product(
        Json(
            json!({ name: { "version": 1, "policy": { "phases": { "hot": { "actions": {} } } } } }),
        )
        .into_response(),
    )
}

/// `PUT` of a template or policy: acknowledged, nothing kept (see
/// [`index_template`]).
pub(crate) async fn acknowledged() -> Response {
    product(Json(json!({ "acknowledged": true })).into_response())
}
