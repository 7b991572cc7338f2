//! The TAXII 2.1 server responses, served by a tiny HTTP server, walked by
//! the reference client (taxii2-client) and polled by Vigie's client.

mod common;

use chrono::Duration;
use serde_json::Value as Json;
use vigie_intel::taxii::client::{poll, Endpoint, PollState};
use vigie_intel::taxii::server::{self, ApiRoot, Collection, Server, Stored};
use vigie_intel::{Auth, Tlp};

const COLLECTION: &str = "6a3b2c1d-0000-4000-8000-00000000a001";

fn server_of(objects: &[Json]) -> (Server, chrono::DateTime<chrono::Utc>) {
    let base = common::t("2026-01-17T12:00:00Z");
    let stored: Vec<Stored> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| Stored {
            date_added: base + Duration::seconds(i as i64),
            object: o.clone(),
        })
        .collect();
    let s = Server {
        base: "/taxii2/".into(),
        title: "Vigie".into(),
        description: Some("Indicateurs partagés".into()),
        contact: None,
        roots: vec![ApiRoot {
            name: "vigie".into(),
            title: "Vigie — Pen-Ar-Bed".into(),
            description: None,
            collections: vec![Collection {
                id: COLLECTION.into(),
                title: "Incidents".into(),
                description: None,
                objects: stored,
            }],
        }],
    };
    (s, base)
}

fn bundle_objects() -> Vec<Json> {
    let b =
        vigie_intel::export::stix::bundle(&common::findings(), Tlp::Amber, vigie_lang::Lang::Fr);
    b["objects"].as_array().unwrap().clone()
}

#[test]
fn pure_responses_page_filter_and_refuse() {
    let objects = bundle_objects();
    let (s, base) = server_of(&objects);
    let get = |path: &str, query: &str| {
        server::handle(&s, path, query, Some(server::TAXII_MEDIA_TYPE), None)
    };
    let json = |r: &server::Response| -> Json { serde_json::from_str(&r.body).unwrap() };

    let d = get("/taxii2/", "");
    assert_eq!(d.status, 200);
    assert_eq!(d.content_type, server::TAXII_MEDIA_TYPE);
    assert_eq!(json(&d)["api_roots"][0], "/taxii2/vigie/");

    // Pages of 7 cover every object once, in date_added order.
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let q = if next.is_empty() {
            "limit=7".to_string()
        } else {
            format!("limit=7&next={next}")
        };
        let r = get(
            &format!("/taxii2/vigie/collections/{COLLECTION}/objects/"),
            &q,
        );
        assert_eq!(r.status, 200);
        let body = json(&r);
        let page = body["objects"].as_array().cloned().unwrap_or_default();
        assert!(page.len() <= 7);
        assert!(r
            .headers
            .iter()
            .any(|(k, _)| k == "X-TAXII-Date-Added-Last"));
        seen.extend(page.iter().map(|o| o["id"].as_str().unwrap().to_string()));
        if body["more"] != true {
            break;
        }
        next = body["next"].as_str().unwrap().to_string();
    }
    let all: Vec<String> = objects
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, all);

    // added_after keeps what came later; match[type] filters.
    let after = server::stamp(base + Duration::seconds(9));
    let r = json(&get(
        &format!("/taxii2/vigie/collections/{COLLECTION}/objects/"),
        &format!("added_after={after}&limit=1000"),
    ));
    assert_eq!(r["objects"].as_array().unwrap().len(), objects.len() - 10);
    let r = json(&get(
        &format!("/taxii2/vigie/collections/{COLLECTION}/objects/"),
        "match[type]=indicator,tool&limit=1000",
    ));
    let types: std::collections::BTreeSet<&str> = r["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.into_iter().collect::<Vec<_>>(), ["indicator", "tool"]);

    // Errors are TAXII error messages with the right status.
    assert_eq!(get("/taxii2/nope/", "").status, 404);
    assert_eq!(get(&format!("/taxii2/vigie/collections/{COLLECTION}/objects/indicator--00000000-0000-4000-8000-000000000000/"), "").status, 404);
    assert_eq!(get("/taxii2/vigie/collections/", "limit=x").status, 400);
    assert_eq!(
        server::handle(
            &s,
            "/taxii2/",
            "",
            Some("application/taxii+json;version=2.0"),
            None
        )
        .status,
        406
    );
    let e = json(&get("/taxii2/nope/", ""));
    assert_eq!(e["http_status"], "404");

    // ETag: the same request with its ETag is not sent again.
    let first = get("/taxii2/vigie/collections/", "");
    let tag = first
        .headers
        .iter()
        .find(|(k, _)| k == "ETag")
        .unwrap()
        .1
        .clone();
    let again = server::handle(&s, "/taxii2/vigie/collections/", "", None, Some(&tag));
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
}

#[test]
fn reference_client_walks_the_server() {
    let Some(py) = common::python(&["taxii2client"]) else {
        return;
    };
    let objects = bundle_objects();
    let (s, base) = server_of(&objects);
    let tiny = common::serve(s);
    let after = server::stamp(base + Duration::seconds(9));
    let out = common::run_python(
        &py,
        "taxii_walk.py",
        &[&format!("{}/taxii2/", tiny.url), "5", &after],
    );
    let walk: Json = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let c = &walk["roots"][0]["collections"][0];
    assert_eq!(walk["title"], "Vigie");
    assert_eq!(walk["roots"][0]["versions"][0], server::TAXII_MEDIA_TYPE);
    assert_eq!(c["id"], COLLECTION);
    assert_eq!(c["can_read"], true);
    assert_eq!(c["can_write"], false);
    assert_eq!(c["objects"], objects.len());
    assert_eq!(c["distinct"], objects.len());
    assert_eq!(c["pages"], objects.len().div_ceil(5));
    assert_eq!(c["manifest"], objects.len());
    assert_eq!(c["manifest_same"], true);
    assert_eq!(c["one"][0], objects[0]["id"]);
    assert_eq!(c["versions"], 1);
    assert_eq!(c["added_after"], objects.len() - 10);
    let indicators = objects.iter().filter(|o| o["type"] == "indicator").count();
    assert_eq!(c["indicators"], indicators);
}

#[test]
fn vigie_client_polls_with_added_after_and_etag() {
    let objects = bundle_objects();
    let (s, _) = server_of(&objects);
    let tiny = common::serve(s);
    let endpoint = Endpoint {
        collection_url: format!("{}/taxii2/vigie/collections/{COLLECTION}/", tiny.url),
        auth: Auth::Basic {
            user: "reader".into(),
            password: "secret".into(),
        },
    };
    let first = poll(&endpoint, &PollState::default()).unwrap();
    assert_eq!(first.objects, objects.len());
    let indicators = objects.iter().filter(|o| o["type"] == "indicator").count();
    assert_eq!(first.imported.indicators.len(), indicators);
    assert!(
        first.imported.problems.is_empty(),
        "{:?}",
        first.imported.problems
    );
    // Every imported indicator names the organisation and carries AMBER.
    for i in &first.imported.indicators {
        assert_eq!(i.source.name, "Communauté de communes de Pen-Ar-Bed");
        assert_eq!(i.tlp, Some(Tlp::Amber));
    }
    assert!(first.state.added_after.is_some());
    assert!(first.state.etag.is_some());

    // Nothing new since: no object.
    let second = poll(&endpoint, &first.state).unwrap();
    assert!(second.not_modified || second.objects == 0, "{second:?}");

    // The same request as the first (same ETag): not modified.
    let again = poll(
        &endpoint,
        &PollState {
            added_after: None,
            etag: first.state.etag.clone(),
            etag_after: None,
        },
    )
    .unwrap();
    assert!(again.not_modified);

    // Wrong credentials are an error naming the URL.
    let bad = Endpoint {
        auth: Auth::Bearer("nope".into()),
        ..endpoint
    };
    let e = poll(&bad, &PollState::default()).unwrap_err();
    assert!(e.to_string().contains("credentials"), "{e}");
}

/// The objects of one poll are counted page by page: past the limit the
/// poll fails, said, before the rest is read; so does a poll past its
/// byte budget.
#[test]
fn a_poll_stops_past_its_objects_or_bytes() {
    use vigie_intel::taxii::client::{poll_within, Limits};
    let objects = bundle_objects();
    assert!(objects.len() > 3);
    let (s, _) = server_of(&objects);
    let tiny = common::serve(s);
    let endpoint = Endpoint {
        collection_url: format!("{}/taxii2/vigie/collections/{COLLECTION}/", tiny.url),
        auth: Auth::Basic {
            user: "reader".into(),
            password: "secret".into(),
        },
    };
    let agent = vigie_intel::http::agent();
    let within = |objects, bytes| {
        poll_within(
            &agent,
            &endpoint,
            &PollState::default(),
            Limits { objects, bytes },
        )
    };
    let all = within(objects.len(), 64 * 1024 * 1024).unwrap();
    assert_eq!(all.objects, objects.len());
    let e = within(objects.len() - 1, 64 * 1024 * 1024).unwrap_err();
    assert!(
        e.reason
            .contains(&format!("more than {} objects", objects.len() - 1)),
        "{e}"
    );
    let e = within(objects.len(), 100).unwrap_err();
    assert!(e.reason.contains("more than 100 bytes"), "{e}");
}
