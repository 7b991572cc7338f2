//! TAXII 2.1 server responses as pure functions of a list of STIX
//! objects: discovery, API root, collections, collection, objects (with
//! `added_after`, `limit`/`next` pagination, `match[id|type|version|
//! spec_version]`), one object, its versions, manifest; errors as TAXII
//! error messages.
//!
//! [`handle`] routes a GET by its path below the server's base path: what
//! `vigie serve` mounts behind its authentication, and what the tests
//! serve to `taxii2-client`. Collections are read-only (`can_write:
//! false`): objects go in through Vigie, not through TAXII.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value as Json};

/// The TAXII 2.1 media type.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The STIX 2.1 media type.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// Objects per page when the client gives no `limit`, and at most.
pub const PAGE_DEFAULT: usize = 100;
pub const PAGE_MAX: usize = 1000;

/// A response to send as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Other headers (`X-TAXII-Date-Added-First`, `-Last`).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A STIX object of a collection, with when it was added to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub date_added: DateTime<Utc>,
    pub object: Json,
}

impl Stored {
    pub fn id(&self) -> &str {
        self.object["id"].as_str().unwrap_or("")
    }

    /// The object's version: `modified`, else `created`, else when it was
    /// added (TAXII 2.1 section 3.4.1).
    pub fn version(&self) -> String {
        self.object["modified"]
            .as_str()
            .or_else(|| self.object["created"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| stamp(self.date_added))
    }
}

/// A read-only collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// A UUID (TAXII requires one).
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub objects: Vec<Stored>,
}

/// An API root and its collections.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRoot {
    /// Its path segment below the base (`vigie` for `/taxii2/vigie/`).
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub collections: Vec<Collection>,
}

/// What the server serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// The path of the discovery resource, with slashes (`/taxii2/`).
    pub base: String,
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    pub roots: Vec<ApiRoot>,
}

/// A STIX/TAXII timestamp: UTC, milliseconds.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn taxii(status: u16, body: Json) -> Response {
    Response {
        status,
        content_type: TAXII_MEDIA_TYPE,
        headers: Vec::new(),
        body: serde_json::to_string_pretty(&body).unwrap_or_default(),
    }
}

/// A TAXII error message.
pub fn error(status: u16, title: &str, description: &str) -> Response {
    taxii(
        status,
        json!({"title": title, "description": description, "http_status": status.to_string()}),
    )
}

/// The discovery resource.
pub fn discovery(s: &Server) -> Response {
    let roots: Vec<String> = s
        .roots
        .iter()
        .map(|r| format!("{}{}/", s.base, r.name))
        .collect();
    let mut body = json!({"title": s.title, "api_roots": roots});
    if let Some(d) = &s.description {
        body["description"] = json!(d);
    }
    if let Some(c) = &s.contact {
        body["contact"] = json!(c);
    }
    if let Some(first) = roots.first() {
        body["default"] = json!(first);
    }
    taxii(200, body)
}

/// An API root's information.
pub fn api_root(r: &ApiRoot) -> Response {
    let mut body = json!({
        "title": r.title,
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": 0,
    });
    if let Some(d) = &r.description {
        body["description"] = json!(d);
    }
    taxii(200, body)
}

fn collection_json(c: &Collection) -> Json {
    let mut body = json!({
        "id": c.id,
        "title": c.title,
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    });
    if let Some(d) = &c.description {
        body["description"] = json!(d);
    }
    body
}

/// The collections of an API root.
pub fn collections(r: &ApiRoot) -> Response {
    let list: Vec<Json> = r.collections.iter().map(collection_json).collect();
    if list.is_empty() {
        return taxii(200, json!({}));
    }
    taxii(200, json!({ "collections": list }))
}

/// One collection's information.
pub fn collection(c: &Collection) -> Response {
    taxii(200, collection_json(c))
}

/// The filters and paging of a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub added_after: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
    /// Offset into the filtered list (the `next` this server hands out).
    pub next: Option<usize>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    /// `first`, `last`, `all` or timestamps; empty means `last`.
    pub versions: Vec<String>,
    pub spec_versions: Vec<String>,
}

impl Query {
    /// Reads a query string (`added_after=…&match[type]=indicator,…`).
    pub fn parse(q: &str) -> Result<Query, String> {
        let mut out = Query::default();
        let list = |v: &str| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        };
        for (k, v) in url::form_urlencoded::parse(q.trim_start_matches('?').as_bytes()) {
            match &*k {
                "added_after" => {
                    out.added_after = Some(
                        DateTime::parse_from_rfc3339(&v)
                            .map_err(|e| format!("added_after '{v}': {e}"))?
                            .with_timezone(&Utc),
                    )
                }
                "limit" => {
                    out.limit = Some(
                        v.parse()
                            .map_err(|_| format!("limit '{v}' is not a number"))?,
                    )
                }
                "next" => {
                    out.next = Some(
                        v.parse()
                            .map_err(|_| format!("next '{v}' was not handed out by this server"))?,
                    )
                }
                "match[id]" => out.ids.extend(list(&v)),
                "match[type]" => out.types.extend(list(&v)),
                "match[version]" => out.versions.extend(list(&v)),
                "match[spec_version]" => out.spec_versions.extend(list(&v)),
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The objects of `c` that `q` selects, in `date_added` order.
fn select<'a>(c: &'a Collection, q: &Query, only_id: Option<&str>) -> Vec<&'a Stored> {
    let mut items: Vec<&Stored> = c
        .objects
        .iter()
        .filter(|o| only_id.is_none_or(|id| o.id() == id))
        .filter(|o| q.added_after.is_none_or(|a| o.date_added > a))
        .filter(|o| q.ids.is_empty() || q.ids.iter().any(|i| i == o.id()))
        .filter(|o| {
            q.types.is_empty()
                || q.types
                    .iter()
                    .any(|t| o.object["type"].as_str() == Some(t.as_str()))
        })
        .filter(|o| {
            let sv = o.object["spec_version"].as_str().unwrap_or("2.1");
            q.spec_versions.is_empty() || q.spec_versions.iter().any(|s| s == sv)
        })
        .collect();
    items.sort_by(|a, b| {
        (a.date_added, a.id(), a.version()).cmp(&(b.date_added, b.id(), b.version()))
    });
    // Versions: `last` by default.
    let wanted: Vec<&str> = if q.versions.is_empty() {
        vec!["last"]
    } else {
        q.versions.iter().map(String::as_str).collect()
    };
    if wanted.contains(&"all") {
        return items;
    }
    let mut first: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    let mut last: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for o in &items {
        let v = o.version();
        let f = first.entry(o.id()).or_insert_with(|| v.clone());
        if v < *f {
            *f = v.clone();
        }
        let l = last.entry(o.id()).or_insert_with(|| v.clone());
        if v > *l {
            *l = v;
        }
    }
    items
        .into_iter()
        .filter(|o| {
            let v = o.version();
            wanted.iter().any(|w| match *w {
                "last" => last.get(o.id()) == Some(&v),
                "first" => first.get(o.id()) == Some(&v),
                ts => *ts == v,
            })
        })
        .collect()
}

/// One page of `items` and the envelope fields.
fn page<'a>(items: &[&'a Stored], q: &Query) -> (Vec<&'a Stored>, bool, Option<String>) {
    let limit = q.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX);
    let from = q.next.unwrap_or(0).min(items.len());
    let to = (from + limit).min(items.len());
    let more = to < items.len();
    (items[from..to].to_vec(), more, more.then(|| to.to_string()))
}

fn date_headers(items: &[&Stored]) -> Vec<(String, String)> {
    match (items.first(), items.last()) {
        (Some(f), Some(l)) => vec![
            ("X-TAXII-Date-Added-First".into(), stamp(f.date_added)),
            ("X-TAXII-Date-Added-Last".into(), stamp(l.date_added)),
        ],
        _ => Vec::new(),
    }
}

/// `GET …/collections/{id}/objects/` (or `…/objects/{object_id}/` with
/// `only_id`): an envelope.
pub fn objects(c: &Collection, q: &Query, only_id: Option<&str>) -> Response {
    let all = select(c, q, only_id);
    if only_id.is_some() && all.is_empty() {
        return error(
            404,
            "Object not found",
            "No object of this id in the collection (with these filters).",
        );
    }
    let (items, more, next) = page(&all, q);
    let mut body = json!({"more": more});
    if let Some(n) = next {
        body["next"] = json!(n);
    }
    if !items.is_empty() {
        body["objects"] = json!(items.iter().map(|o| o.object.clone()).collect::<Vec<_>>());
    }
    let mut r = taxii(200, body);
    r.headers = date_headers(&items);
    r
}

/// `GET …/collections/{id}/manifest/`.
pub fn manifest(c: &Collection, q: &Query) -> Response {
    let all = select(c, q, None);
    let (items, more, next) = page(&all, q);
    let mut body = json!({"more": more});
    if let Some(n) = next {
        body["next"] = json!(n);
    }
    if !items.is_empty() {
        body["objects"] = json!(items
            .iter()
            .map(|o| json!({
                "id": o.id(),
                "date_added": stamp(o.date_added),
                "version": o.version(),
                "media_type": STIX_MEDIA_TYPE,
            }))
            .collect::<Vec<_>>());
    }
    let mut r = taxii(200, body);
    r.headers = date_headers(&items);
    r
}

/// `GET …/objects/{object_id}/versions/`.
pub fn versions(c: &Collection, object_id: &str, q: &Query) -> Response {
    let mut q = q.clone();
    q.versions = vec!["all".into()];
    let all = select(c, &q, Some(object_id));
    if all.is_empty() {
        return error(
            404,
            "Object not found",
            "No object of this id in the collection.",
        );
    }
    let (items, more, next) = page(&all, &q);
    let mut body =
        json!({"more": more, "versions": items.iter().map(|o| o.version()).collect::<Vec<_>>()});
    if let Some(n) = next {
        body["next"] = json!(n);
    }
    let mut r = taxii(200, body);
    r.headers = date_headers(&items);
    r
}

/// Whether an `Accept` header allows TAXII 2.1 JSON.
pub fn accepts(accept: Option<&str>) -> bool {
    let Some(a) = accept else { return true };
    a.split(',').any(|part| {
        let p: String = part
            .split(";q=")
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        p == "*/*"
            || p == "application/*"
            || p == "application/taxii+json"
            || p == "application/taxii+json;version=2.1"
    })
}

/// Routes a GET: `path` is the request path (from the server's root),
/// `query` its query string, `accept` its `Accept` header. Methods other
/// than GET are serve's to refuse (405): collections are read-only.
pub fn handle(s: &Server, path: &str, query: &str, accept: Option<&str>) -> Response {
    if !accepts(accept) {
        return error(
            406,
            "Not acceptable",
            "This server speaks application/taxii+json;version=2.1.",
        );
    }
    let Some(rest) = path.strip_prefix(s.base.trim_end_matches('/')) else {
        return error(404, "Not found", "Not a TAXII resource of this server.");
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let q = match Query::parse(query) {
        Ok(q) => q,
        Err(e) => return error(400, "Bad request", &e),
    };
    let root = |name: &str| s.roots.iter().find(|r| r.name == name);
    match parts.as_slice() {
        [] => discovery(s),
        [r] => root(r).map(api_root).unwrap_or_else(not_found),
        [r, "collections"] => root(r).map(collections).unwrap_or_else(not_found),
        [r, "collections", c] => root(r)
            .and_then(|r| coll(r, c))
            .map(collection)
            .unwrap_or_else(not_found),
        [r, "collections", c, "objects"] => root(r)
            .and_then(|r| coll(r, c))
            .map(|c| objects(c, &q, None))
            .unwrap_or_else(not_found),
        [r, "collections", c, "manifest"] => root(r)
            .and_then(|r| coll(r, c))
            .map(|c| manifest(c, &q))
            .unwrap_or_else(not_found),
        [r, "collections", c, "objects", id] => root(r)
            .and_then(|r| coll(r, c))
            .map(|c| objects(c, &q, Some(id)))
            .unwrap_or_else(not_found),
        [r, "collections", c, "objects", id, "versions"] => root(r)
            .and_then(|r| coll(r, c))
            .map(|c| versions(c, id, &q))
            .unwrap_or_else(not_found),
        _ => not_found(),
    }
}

fn coll<'a>(r: &'a ApiRoot, id: &str) -> Option<&'a Collection> {
    r.collections.iter().find(|c| c.id == id)
}

fn not_found() -> Response {
    error(
        404,
        "Not found",
        "No such API root, collection or resource.",
    )
}
