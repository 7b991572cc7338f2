//! One poll's fetching, blocking, per kind of feed: a document fetched
//! whole when its validators changed, a MISP feed's manifest then only
//! the events whose timestamp changed, a TAXII collection's objects added
//! since the last poll, page by page — and what each remembers for the
//! next poll.

use super::*;

/// What a feed's poll remembers between polls.
#[derive(Default)]
pub(super) struct Memory {
    /// A document's validators, or a MISP feed manifest's.
    pub(super) validators: Validators,
    /// A MISP feed's events held: UUID to (timestamp, event).
    pub(super) events: BTreeMap<String, (String, Json)>,
    /// A TAXII collection's objects held, by id, and where to resume.
    pub(super) objects: BTreeMap<String, Json>,
    pub(super) taxii: PollState,
}

/// What one poll brought.
pub(super) enum Fetched {
    /// Nothing new (a `304`, the same manifest, no object added).
    Unchanged { fetched: usize, pages: usize },
    /// A new version of the source: its bytes, and what to remember once
    /// it is kept.
    Changed {
        body: Vec<u8>,
        fetched: usize,
        pages: usize,
        remember: Box<Memory>,
    },
}

impl Memory {
    pub(super) fn snapshot(&self) -> Memory {
        Memory {
            validators: self.validators.clone(),
            events: self.events.clone(),
            objects: self.objects.clone(),
            taxii: self.taxii.clone(),
        }
    }
}

/// What the kept version of a feed holds, read back at start: a MISP
/// feed's events (the kept document is their list), a TAXII collection's
/// objects (the kept document is their bundle). Nothing for a document,
/// nor when nothing is kept: the first poll fetches everything.
pub(super) fn remembered(kind: FeedKind, src: &[u8]) -> Memory {
    let mut m = Memory::default();
    if kind == FeedKind::Document {
        return m;
    }
    let Ok(doc) = serde_json::from_slice::<Json>(src) else {
        return m;
    };
    match kind {
        FeedKind::Misp => {
            for e in doc.as_array().into_iter().flatten() {
                if let (Some(uuid), Some(ts)) = (
                    e["Event"]["uuid"].as_str(),
                    timestamp(&e["Event"]["timestamp"]),
                ) {
                    m.events.insert(uuid.to_string(), (ts, e.clone()));
                }
            }
        }
        FeedKind::Taxii => {
            for o in doc["objects"].as_array().into_iter().flatten() {
                if let Some(id) = o["id"].as_str() {
                    m.objects.insert(id.to_string(), o.clone());
                }
            }
        }
        FeedKind::Document => {}
    }
    m
}

/// A MISP timestamp, string or number, as a string.
pub(super) fn timestamp(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One poll of `feed`, blocking.
pub(super) fn fetch(agent: &ureq::Agent, feed: &Feed, known: &Memory) -> Result<Fetched, String> {
    match feed.kind() {
        FeedKind::Document => {
            let f = vigie_intel::http::get_if_changed(
                agent,
                feed.http_url(),
                &feed.auth,
                None,
                &known.validators,
                MAX_FEED,
            )?;
            let Some(body) = f.body else {
                return Ok(Fetched::Unchanged {
                    fetched: 0,
                    pages: 1,
                });
            };
            Ok(Fetched::Changed {
                body,
                fetched: 1,
                pages: 1,
                remember: Box::new(Memory {
                    validators: Validators {
                        etag: f.etag,
                        last_modified: f.last_modified,
                    },
                    ..Memory::default()
                }),
            })
        }
        FeedKind::Misp => fetch_misp(agent, feed, known),
        FeedKind::Taxii => fetch_taxii(agent, feed, known),
    }
}

/// A MISP feed: its manifest (with its validators), then only the events
/// that are new or whose timestamp changed; the others are the ones held.
/// The source kept is the list of every event the manifest lists. An
/// event that cannot be fetched fails the poll (nothing changes, tried
/// again): a partial feed must not remove what was held.
fn fetch_misp(agent: &ureq::Agent, feed: &Feed, known: &Memory) -> Result<Fetched, String> {
    let url = feed.http_url();
    let base = url.strip_suffix("manifest.json").unwrap_or(url);
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let manifest_url = format!("{base}manifest.json");
    let f = vigie_intel::http::get_if_changed(
        agent,
        &manifest_url,
        &feed.auth,
        None,
        &known.validators,
        MAX_FEED,
    )
    .map_err(|e| format!("manifest.json: {e}"))?;
    let Some(bytes) = f.body else {
        return Ok(Fetched::Unchanged {
            fetched: 0,
            pages: 1,
        });
    };
    let manifest: Json =
        serde_json::from_slice(&bytes).map_err(|e| format!("manifest.json: not JSON: {e}"))?;
    if !vigie_intel::import::is_misp_manifest(&manifest)
        && manifest.as_object().is_none_or(|o| !o.is_empty())
    {
        return Err(
            "manifest.json: not a MISP feed manifest (event UUIDs to {info, Orgc, timestamp…})"
                .into(),
        );
    }
    let listed = manifest.as_object().map_or(0, |o| o.len());
    if listed > MAX_EVENTS {
        return Err(format!(
            "manifest.json lists {listed} events: more than the {MAX_EVENTS} a feed may hold"
        ));
    }
    let mut events = BTreeMap::new();
    let mut fetched = 0;
    let mut read: u64 = 0;
    for (uuid, entry) in manifest.as_object().into_iter().flatten() {
        if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(format!("manifest.json: '{uuid}' is not an event UUID"));
        }
        let ts = timestamp(&entry["timestamp"]);
        if let (Some(ts), Some((held_ts, event))) = (&ts, known.events.get(uuid)) {
            if ts == held_ts {
                events.insert(uuid.clone(), (ts.clone(), event.clone()));
                continue;
            }
        }
        let left = MAX_POLL_BYTES.saturating_sub(read);
        let over_budget =
            || format!("more than {MAX_POLL_BYTES} bytes of events in one poll: not taken");
        if left == 0 {
            return Err(over_budget());
        }
        let limit = MAX_FEED.min(left);
        let got = vigie_intel::http::get(
            agent,
            &format!("{base}{uuid}.json"),
            &feed.auth,
            None,
            None,
            limit,
        )
        .map_err(|e| {
            if limit < MAX_FEED && e.contains(&limit.to_string()) {
                over_budget()
            } else {
                format!("{uuid}.json: {e}")
            }
        })?;
        read += got.body.as_ref().map_or(0, |b| b.len() as u64);
        fetched += 1;
        let event: Json = serde_json::from_slice(&got.body.unwrap_or_default())
            .map_err(|e| format!("{uuid}.json: not JSON: {e}"))?;
        if event["Event"].is_null() {
            return Err(format!("{uuid}.json: not a MISP event"));
        }
        let ts = ts
            .or_else(|| timestamp(&event["Event"]["timestamp"]))
            .unwrap_or_default();
        events.insert(uuid.clone(), (ts, event));
    }
    let validators = Validators {
        etag: f.etag,
        last_modified: f.last_modified,
    };
    let same = events.len() == known.events.len()
        && events
            .iter()
            .all(|(u, (t, _))| known.events.get(u).is_some_and(|(k, _)| k == t));
    if same {
        return Ok(Fetched::Unchanged { fetched, pages: 1 });
    }
    let list: Vec<&Json> = events.values().map(|(_, e)| e).collect();
    let body = serde_json::to_vec(&list).map_err(|e| e.to_string())?;
    Ok(Fetched::Changed {
        body,
        fetched,
        pages: 1,
        remember: Box::new(Memory {
            validators,
            events,
            ..Memory::default()
        }),
    })
}

/// A TAXII 2.1 collection: the objects added after the last poll
/// (`added_after` from `X-TAXII-Date-Added-Last`, `next` followed), added
/// to those held (a newer version of an object replaces it). The source
/// kept is a bundle of every object held, in id order.
fn fetch_taxii(agent: &ureq::Agent, feed: &Feed, known: &Memory) -> Result<Fetched, String> {
    let endpoint = Endpoint {
        collection_url: feed.http_url().to_string(),
        auth: feed.auth.clone(),
    };
    let polled = vigie_intel::taxii::client::poll_with(agent, &endpoint, &known.taxii)
        .map_err(|e| e.reason)?;
    let mut remember = Memory {
        taxii: polled.state.clone(),
        objects: known.objects.clone(),
        ..Memory::default()
    };
    if polled.not_modified || polled.received.is_empty() {
        return Ok(Fetched::Unchanged {
            fetched: polled.objects,
            pages: polled.pages,
        });
    }
    for o in polled.received {
        let Some(id) = o["id"].as_str().map(str::to_string) else {
            continue;
        };
        let newer = remember
            .objects
            .get(&id)
            .is_none_or(|held| held["modified"].as_str() <= o["modified"].as_str());
        if newer {
            remember.objects.insert(id, o);
        }
    }
    if remember.objects.len() > MAX_OBJECTS {
        return Err(format!(
            "{} objects: more than the {MAX_OBJECTS} a collection may hold",
            remember.objects.len()
        ));
    }
    let bundle = serde_json::json!({
        "type": "bundle",
        "id": format!("bundle--{}", vigie_intel::ids::uuid_from(&format!("feed\u{0}{}", feed.name()))),
        "objects": remember.objects.values().collect::<Vec<_>>(),
    });
    let body = serde_json::to_vec(&bundle).map_err(|e| e.to_string())?;
    Ok(Fetched::Changed {
        body,
        fetched: polled.objects,
        pages: polled.pages,
        remember: Box::new(remember),
    })
}
