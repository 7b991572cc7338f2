//! A TAXII 2.1 client: what `vigie serve` calls on a schedule to pull a
//! collection's new indicators.
//!
//! [`discover`] lists a server's API roots and their collections;
//! [`poll`] fetches a collection's objects added since the last poll
//! (`added_after`, taken from the server's `X-TAXII-Date-Added-Last`),
//! following `next` page by page, with `If-None-Match` when the server
//! handed out an `ETag`, and turns them into indicators. The caller keeps
//! the returned [`PollState`] for the next poll.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::server::TAXII_MEDIA_TYPE;
use crate::import::Auth;
use crate::model::Imported;

/// Largest page read (bytes).
const MAX_PAGE: u64 = 64 * 1024 * 1024;
/// Most pages followed in one poll.
pub const MAX_PAGES: usize = 1000;
/// Objects asked per page.
pub const PAGE_SIZE: usize = 500;
/// Most objects one poll may bring, counted while paging: a server that
/// ignores `limit` or pages without end must not fill the memory before
/// a count is made. Beyond, the poll fails (said); what is held stays.
pub const MAX_OBJECTS: usize = 1_000_000;
/// Most bytes of pages one poll may read in all.
pub const MAX_POLL_BYTES: u64 = 512 * 1024 * 1024;

/// What one poll may bring; [`poll_with`] uses [`MAX_OBJECTS`] and
/// [`MAX_POLL_BYTES`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub objects: usize,
    pub bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            objects: MAX_OBJECTS,
            bytes: MAX_POLL_BYTES,
        }
    }
}

/// Where to poll, and as whom.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The collection's URL (`https://…/api1/collections/<id>/`).
    pub collection_url: String,
    pub auth: Auth,
}

/// What a poll remembers for the next one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollState {
    /// `X-TAXII-Date-Added-Last` of the last page read.
    pub added_after: Option<String>,
    /// The `ETag` of the first page, when the server gives one.
    pub etag: Option<String>,
    /// The `added_after` that first page was asked with: an ETag is the
    /// validator of one query's answer, sent back only with the same
    /// query (another `added_after` is another resource).
    #[serde(default)]
    pub etag_after: Option<String>,
}

/// The result of a poll.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub imported: Imported,
    /// The state to keep for the next poll.
    pub state: PollState,
    /// STIX objects received.
    pub objects: usize,
    pub pages: usize,
    /// The server answered `304 Not Modified`.
    pub not_modified: bool,
    /// More pages were left than [`MAX_PAGES`]: the next poll continues.
    pub truncated: bool,
    /// The STIX objects received, as received: a poller that keeps the
    /// collection (`vigie serve`) adds them to those it holds, since the
    /// next poll brings only what was added after.
    pub received: Vec<Json>,
}

/// A TAXII failure, with the URL.
#[derive(Debug, thiserror::Error)]
#[error("TAXII {url}: {reason}")]
pub struct TaxiiError {
    pub url: String,
    pub reason: String,
}

fn get_json(
    agent: &ureq::Agent,
    url: &str,
    auth: &Auth,
    etag: Option<&str>,
) -> Result<(Option<Json>, crate::http::Fetched), TaxiiError> {
    get_json_within(agent, url, auth, etag, MAX_PAGE)
}

/// [`get_json`] reading at most `limit` bytes.
fn get_json_within(
    agent: &ureq::Agent,
    url: &str,
    auth: &Auth,
    etag: Option<&str>,
    limit: u64,
) -> Result<(Option<Json>, crate::http::Fetched), TaxiiError> {
    let err = |reason: String| TaxiiError {
        url: url.to_string(),
        reason,
    };
    let f = crate::http::get(agent, url, auth, Some(TAXII_MEDIA_TYPE), etag, limit).map_err(err)?;
    let Some(body) = &f.body else {
        return Ok((None, f));
    };
    if let Some(ct) = &f.content_type {
        let ct = ct.to_ascii_lowercase();
        if !ct.starts_with("application/taxii+json") && !ct.starts_with("application/json") {
            return Err(err(format!("Content-Type {ct}: not TAXII 2.1")));
        }
    }
    let doc = serde_json::from_slice(body).map_err(|e| err(format!("not JSON: {e}")))?;
    Ok((Some(doc), f))
}

/// A collection found by [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub api_root: String,
    pub id: String,
    pub title: String,
    pub url: String,
    pub can_read: bool,
}

/// The collections of every API root a server's discovery lists.
pub fn discover(discovery_url: &str, auth: &Auth) -> Result<Vec<Found>, TaxiiError> {
    let agent = crate::http::agent();
    let base = url::Url::parse(discovery_url).map_err(|e| TaxiiError {
        url: discovery_url.into(),
        reason: e.to_string(),
    })?;
    let (doc, _) = get_json(&agent, discovery_url, auth, None)?;
    let doc = doc.unwrap_or_default();
    let mut out = Vec::new();
    for root in doc["api_roots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
    {
        let root_url = base.join(root).map_err(|e| TaxiiError {
            url: root.into(),
            reason: e.to_string(),
        })?;
        let mut root_url = root_url.to_string();
        if !root_url.ends_with('/') {
            root_url.push('/');
        }
        let (cols, _) = get_json(&agent, &format!("{root_url}collections/"), auth, None)?;
        for c in cols.unwrap_or_default()["collections"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = c["id"].as_str().unwrap_or("").to_string();
            out.push(Found {
                api_root: root_url.clone(),
                url: format!("{root_url}collections/{id}/"),
                title: c["title"].as_str().unwrap_or("").to_string(),
                can_read: c["can_read"].as_bool().unwrap_or(false),
                id,
            });
        }
    }
    Ok(out)
}

/// Polls a collection for the objects added since `state`.
pub fn poll(endpoint: &Endpoint, state: &PollState) -> Result<Polled, TaxiiError> {
    poll_with(&crate::http::agent(), endpoint, state)
}

/// [`poll`] with a given agent (one trusting a CSIRT's own certificate
/// authority: [`crate::http::agent_trusting`]).
pub fn poll_with(
    agent: &ureq::Agent,
    endpoint: &Endpoint,
    state: &PollState,
) -> Result<Polled, TaxiiError> {
    poll_within(agent, endpoint, state, Limits::default())
}

/// [`poll_with`] within given [`Limits`]: objects counted and bytes
/// summed page by page, the poll failing as soon as either is passed
/// (the state given stays the caller's: nothing of this poll is kept).
pub fn poll_within(
    agent: &ureq::Agent,
    endpoint: &Endpoint,
    state: &PollState,
    limits: Limits,
) -> Result<Polled, TaxiiError> {
    let mut read: u64 = 0;
    let mut base = endpoint.collection_url.clone();
    if !base.ends_with('/') {
        base.push('/');
    }
    let objects_url = format!("{base}objects/");
    let mut out = Polled {
        state: state.clone(),
        ..Default::default()
    };
    let mut all: Vec<Json> = Vec::new();
    let mut next: Option<String> = None;
    let mut after = state.added_after.clone();
    loop {
        let mut u = url::Url::parse(&objects_url).map_err(|e| TaxiiError {
            url: objects_url.clone(),
            reason: e.to_string(),
        })?;
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("limit", &PAGE_SIZE.to_string());
            if let Some(a) = &after {
                q.append_pair("added_after", a);
            }
            if let Some(n) = &next {
                q.append_pair("next", n);
            }
        }
        let first = out.pages == 0;
        let same_query = first && state.etag_after == after;
        let left = limits.bytes.saturating_sub(read);
        let over_budget = |url: &str| TaxiiError {
            url: crate::http::redact_url(url),
            reason: format!(
                "more than {} bytes of pages in one poll: not taken (the objects held stay)",
                limits.bytes
            ),
        };
        if left == 0 {
            return Err(over_budget(u.as_str()));
        }
        let (doc, f) = get_json_within(
            agent,
            u.as_str(),
            &endpoint.auth,
            if same_query {
                state.etag.as_deref()
            } else {
                None
            },
            MAX_PAGE.min(left),
        )
        .map_err(|e| {
            if left < MAX_PAGE && e.reason.contains(&left.to_string()) {
                over_budget(u.as_str())
            } else {
                e
            }
        })?;
        read += f.body.as_ref().map_or(0, |b| b.len() as u64);
        out.pages += 1;
        let Some(doc) = doc else {
            out.not_modified = true;
            return Ok(out);
        };
        if first {
            out.state.etag = f.etag.clone();
            out.state.etag_after = after.clone();
        }
        let advanced = f.date_added_last.is_some() && f.date_added_last != after;
        if let Some(last) = f.date_added_last {
            out.state.added_after = Some(last);
        }
        if let Some(objs) = doc["objects"].as_array() {
            out.objects += objs.len();
            if out.objects > limits.objects {
                return Err(TaxiiError {
                    url: crate::http::redact_url(u.as_str()),
                    reason: format!(
                        "more than {} objects in one poll: not taken (the objects held stay)",
                        limits.objects
                    ),
                });
            }
            all.extend(objs.iter().cloned());
        }
        let more = doc["more"].as_bool().unwrap_or(false);
        next = doc["next"].as_str().map(str::to_string);
        if !more {
            break;
        }
        if next.is_none() {
            // Servers that page by date alone: continue after the last
            // object seen, if that moved on.
            if !advanced {
                break;
            }
            after = out.state.added_after.clone();
        }
        if out.pages >= MAX_PAGES {
            out.truncated = true;
            break;
        }
    }
    let refs: Vec<&Json> = all.iter().collect();
    out.imported.files = 1;
    crate::import::stix::import_objects(&refs, &endpoint.collection_url, &mut out.imported);
    out.received = all;
    Ok(out)
}
