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

use std::io::Write;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
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

/// One item of a bulk request; the documents kept travel apart (see
/// [`Parsed`]), so that they go to the log without being copied again.
enum Item {
    Doc {
        action: String,
        index: String,
    },
    Refused {
        action: String,
        index: String,
        reason: String,
    },
}

/// A bulk body read: every item in order, and the documents of the
/// `Item::Doc`s in the same order.
struct Parsed {
    items: Vec<Item>,
    docs: Vec<Vec<u8>>,
}

/// The first key of an action line and its `_index`, read without
/// building the line as a tree (a `Value` per line was a tenth of what
/// ingest cost): `None` when the line is not a JSON object with a key.
fn action_of(line: &[u8]) -> Option<(String, Option<String>)> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

    /// The action's metadata: its `_index` when it is an object with a
    /// string there; anything else is no index (the request's default).
    struct Meta(Option<String>);
    impl<'de> serde::Deserialize<'de> for Meta {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Meta, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Meta;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("the action's metadata")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Meta, A::Error> {
                    let mut index = None;
                    while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                        if key == "_index" && index.is_none() {
                            index = Some(m.next_value::<serde_json::Value>()?);
                        } else {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(Meta(index.and_then(|v| match v {
                        serde_json::Value::String(s) => Some(s),
                        _ => None,
                    })))
                }
                fn visit_bool<E>(self, _: bool) -> Result<Meta, E> {
                    Ok(Meta(None))
                }
                fn visit_i64<E>(self, _: i64) -> Result<Meta, E> {
                    Ok(Meta(None))
                }
                fn visit_u64<E>(self, _: u64) -> Result<Meta, E> {
                    Ok(Meta(None))
                }
                fn visit_f64<E>(self, _: f64) -> Result<Meta, E> {
                    Ok(Meta(None))
                }
                fn visit_str<E>(self, _: &str) -> Result<Meta, E> {
                    Ok(Meta(None))
                }
                fn visit_unit<E>(self) -> Result<Meta, E> {
                    Ok(Meta(None))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut s: A,
                ) -> Result<Meta, A::Error> {
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Meta(None))
                }
            }
            d.deserialize_any(V)
        }
    }

    struct First;
    impl<'de> Visitor<'de> for First {
        type Value = Option<(String, Option<String>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an action line")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let Some(action) = m.next_key::<String>()? else {
                return Ok(None);
            };
            let Meta(index) = m.next_value()?;
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Some((action, index)))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    let first = de.deserialize_map(First).ok()?;
    de.end().ok()?;
    first
}

/// The items of a bulk body; `Err` with their count past [`MAX_BULK_ITEMS`].
fn parse(bytes: &[u8], default_index: &str, max_line: usize) -> Result<Parsed, usize> {
    let mut items = Vec::new();
    let mut docs = Vec::new();
    // Lines found with `memchr` (vectorised): a byte-by-byte split was
    // most of this function's own time on Winlogbeat's requests.
    let mut rest = Some(bytes);
    let mut lines = std::iter::from_fn(move || {
        let r = rest?;
        Some(match memchr::memchr(b'\n', r) {
            Some(n) => {
                rest = Some(&r[n + 1..]);
                &r[..n]
            }
            None => {
                rest = None;
                r
            }
        })
    })
    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
    .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    while let Some(action_line) = lines.next() {
        if items.len() == MAX_BULK_ITEMS {
            return Err(items.len() + 1);
        }
        let Some((action, index)) = action_of(action_line) else {
            items.push(Item::Refused {
                action: "index".into(),
                index: default_index.into(),
                reason: "not an action line ({\"create\":{…}} or {\"index\":{…}})".into(),
            });
            continue;
        };
        let index = index.unwrap_or_else(|| default_index.to_string());
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
                    None => {
                        docs.push(doc.to_vec());
                        Item::Doc { action, index }
                    }
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
    Ok(Parsed { items, docs })
}

/// The bulk answer, one status per item in order, written as text: built
/// as `Value`s, two maps per item, it cost as much as checking the
/// documents.
fn answer(items: &[Item], first: u64) -> Vec<u8> {
    let errors = items.iter().any(|i| matches!(i, Item::Refused { .. }));
    let mut out = Vec::with_capacity(64 + items.len() * 96);
    out.extend_from_slice(b"{\"took\":0,\"errors\":");
    out.extend_from_slice(if errors { b"true" } else { b"false" });
    out.extend_from_slice(b",\"items\":[");
    let mut next = first;
    let text = |out: &mut Vec<u8>, s: &str| {
        serde_json::to_writer(&mut *out, s).expect("a string writes to memory")
    };
    for (n, i) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.push(b'{');
        match i {
            Item::Doc { action, index } => {
                text(&mut out, action);
                out.extend_from_slice(b":{\"_index\":");
                text(&mut out, index);
                // Written in place: a `format!` here was one allocation
                // per event acknowledged.
                out.extend_from_slice(b",\"_id\":\"");
                write!(out, "{next}").expect("a number writes to memory");
                out.extend_from_slice(b"\",\"status\":201,\"result\":\"created\"}");
                next += 1;
            }
            Item::Refused {
                action,
                index,
                reason,
            } => {
                text(&mut out, action);
                out.extend_from_slice(b":{\"_index\":");
                text(&mut out, index);
                out.extend_from_slice(
                    b",\"status\":400,\"error\":{\"type\":\"document_parsing_exception\",\"reason\":",
                );
                text(&mut out, reason);
                out.extend_from_slice(b"}}");
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
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
    if let Some(why) = crate::http::encoding_refused(&headers) {
        return product(error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &why));
    }
    let default_index = path.map(|p| p.0).unwrap_or_else(|| "logs".into());
    // Inflating and parsing take CPU: off the threads serving requests.
    let (max_inflated, max_line) = (s.config.max_inflated, s.config.max_line);
    let parsed = tokio::task::spawn_blocking(move || {
        body_bytes(&headers, &body, max_inflated).map(|b| parse(&b, &default_index, max_line))
    })
    .await;
    let Parsed { items, docs } = match parsed {
        Ok(Ok(Ok(parsed))) => parsed,
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
    let first = if docs.is_empty() {
        0
    } else {
        let batch = IngestBatch {
            tenant: caller.tenant.clone(),
            source: "elasticsearch-bulk".into(),
            received: chrono::Utc::now().timestamp_micros(),
            events: docs,
        };
        let appended = s.log.append(batch).await;
        crate::append_outcome(&s, &appended);
        match appended {
            Ok(a) => a.first.0,
            // Nothing acknowledged: shippers retry on 429/503.
            Err(e) => {
                return product(crate::unavailable(&format!(
                    "{}: {e}",
                    crate::NOT_ACKNOWLEDGED
                )))
            }
        }
    };
    let mut refused = items.iter().enumerate().filter_map(|(i, item)| match item {
        Item::Refused { reason, .. } => Some((i, reason)),
        Item::Doc { .. } => None,
    });
    if let Some((i, reason)) = refused.next() {
        let n = 1 + refused.count();
        let first = format!("item {}: {reason}", i + 1);
        crate::note_refused(&s, &caller.tenant, "POST _bulk", n, &first);
    }
    product(
        (
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            answer(&items, first),
        )
            .into_response(),
    )
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

/// The ingest processors Filebeat's modules require (`geoip`,
/// `user_agent`) and those their pipelines use most: said available, so
/// that a module starts.
const PROCESSORS: [&str; 12] = [
    "append",
    "convert",
    "date",
    "dissect",
    "geoip",
    "grok",
    "json",
    "remove",
    "rename",
    "script",
    "set",
    "user_agent",
];

/// `GET /_nodes/ingest`: one ingest node with its processors (Filebeat
/// checks that its modules' required ones are there before loading
/// their pipelines).
pub(crate) async fn ingest_nodes() -> Response {
    let processors: Vec<serde_json::Value> =
        PROCESSORS.iter().map(|p| json!({ "type": p })).collect();
    product(
        Json(json!({
            "_nodes": { "total": 1, "successful": 1, "failed": 0 },
            "cluster_name": "vigie",
            "nodes": { "vigie": { "name": "vigie", "version": VERSION, "roles": ["data", "ingest"],
                "ingest": { "processors": processors } } }
        }))
        .into_response(),
    )
}

/// `GET`/`HEAD /_ingest/pipeline/{id}`: said to exist, so that Filebeat's
/// modules go on to send (as templates are: [`index_template`]). Vigie
/// runs no pipeline: it reads each event as it was sent (the raw line
/// its own parsers understand), and keeps it as it was — what a pipeline
/// would have rewritten stays evidence, unrewritten.
pub(crate) async fn ingest_pipeline(
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    product(
        Json(json!({ id: {
            "description": "Vigie: events are kept as sent; no pipeline is run",
            "processors": []
        } }))
        .into_response(),
    )
}

/// `PUT` of a template or policy: acknowledged, nothing kept (see
/// [`index_template`]).
pub(crate) async fn acknowledged() -> Response {
    product(Json(json!({ "acknowledged": true })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn an_action_line_gives_its_first_key_and_index_as_a_tree_did() {
        type Action<'a> = Option<(&'a str, Option<&'a str>)>;
        let cases: &[(&str, Action)] = &[
            (
                r#"{"create":{"_index":"winlogbeat"}}"#,
                Some(("create", Some("winlogbeat"))),
            ),
            (r#"{"index":{}}"#, Some(("index", None))),
            (
                r#" {"index":{"_id":"1","_index":"a\"b"}} "#,
                Some(("index", Some("a\"b"))),
            ),
            (r#"{"cr\u0065ate":{"_index":3}}"#, Some(("create", None))),
            (r#"{"create":5}"#, Some(("create", None))),
            (
                r#"{"update":{"_index":"x"},"create":{}}"#,
                Some(("update", Some("x"))),
            ),
            (r#"{}"#, None),
            (r#"[{"create":{}}]"#, None),
            (r#"{"create":{}} trailing"#, None),
            (r#"{"create":{"_index":"x""#, None),
            ("", None),
        ];
        for (line, want) in cases {
            let got = action_of(line.as_bytes());
            let want = want.map(|(a, i)| (a.to_string(), i.map(str::to_string)));
            assert_eq!(got, want, "{line}");
            // What the former reading (a `Value`, its first key) said.
            let tree = serde_json::from_str::<Value>(line).ok().and_then(|v| {
                v.as_object().and_then(|o| {
                    o.iter()
                        .next()
                        .map(|(k, m)| (k.clone(), m["_index"].as_str().map(str::to_string)))
                })
            });
            assert_eq!(got, tree, "{line}");
        }
    }

    #[test]
    fn lines_are_cut_as_a_byte_split_cut_them() {
        // CRLF, blank and whitespace-only lines, no final newline, an
        // empty body, a lone newline: the documents kept are those the
        // former `split(b'\n')` reading kept, in order.
        let bodies: &[&str] = &[
            "",
            "\n",
            "{\"create\":{}}\r\n{\"a\":1}\r\n",
            "\n\n{\"create\":{}}\n \t \n{\"a\":1}\n\n{\"index\":{}}\n{\"b\":2}",
            "{\"create\":{}}\n{\"a\":\"x\\ny\"}\r\n{\"create\":{}}\r\n",
        ];
        for body in bodies {
            let Parsed { docs, items } = parse(body.as_bytes(), "logs", 1 << 20).expect("parsed");
            let mut lines = body
                .as_bytes()
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
            let mut want = Vec::new();
            let mut actions = 0;
            while lines.next().is_some() {
                actions += 1;
                if let Some(doc) = lines.next() {
                    want.push(doc.to_vec());
                }
            }
            assert_eq!(docs, want, "{body:?}");
            assert_eq!(items.len(), actions, "{body:?}");
        }
    }

    #[test]
    fn the_answer_written_as_text_is_the_json_shippers_read() {
        let body = concat!(
            "{\"create\":{\"_index\":\"logs-\\\"x\"}}\n{\"a\":1}\n",
            "{\"index\":{}}\nnot json\n",
            "{\"update\":{}}\n{}\n",
            "{\"create\":{}}\n{\"b\":2}\n",
        );
        let Parsed { items, docs } = parse(body.as_bytes(), "logs", 1 << 20).expect("parsed");
        assert_eq!(docs, vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
        let got: Value = serde_json::from_slice(&answer(&items, 41)).expect("JSON");
        let want = json!({ "took": 0, "errors": true, "items": [
            { "create": { "_index": "logs-\"x", "_id": "41", "status": 201, "result": "created" } },
            { "index": { "_index": "logs", "status": 400, "error": {
                "type": "document_parsing_exception", "reason": got["items"][1]["index"]["error"]["reason"] } } },
            { "update": { "_index": "logs", "status": 400, "error": {
                "type": "document_parsing_exception",
                "reason": "update is not supported: events are kept as sent" } } },
            { "create": { "_index": "logs", "_id": "42", "status": 201, "result": "created" } },
        ]});
        assert_eq!(got, want);
        assert!(got["items"][1]["index"]["error"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("not JSON")));
        let none: Value = serde_json::from_slice(&answer(&[], 0)).expect("JSON");
        assert_eq!(none, json!({ "took": 0, "errors": false, "items": [] }));
    }
}
