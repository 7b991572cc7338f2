//! `GET /api/v1/detections?limit=N` through the binary: N stored
//! detections whatever the correlations, and each correlation listed read
//! back by its id.
//!
//! Why (issue 16): the correlations were counted within N, so a small N
//! gave correlations only, and their ids answered 404 at
//! `/api/v1/detections/{id}` (they are the live scope's, not stored).

mod common;

use std::time::{Duration, Instant};

use common::serve::{get, post, processed, start, token};
use common::server::{jsonl_files, make_demo};
use serde_json::Value;

fn list(base: &str, t: &str, limit: usize) -> Vec<Value> {
    let (s, body) = get(base, &format!("/api/v1/detections?limit={limit}"), Some(t));
    assert_eq!(s, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn kind<'a>(l: &'a [Value], k: &str) -> Vec<&'a Value> {
    l.iter().filter(|d| d["kind"] == k).collect()
}

#[test]
fn a_small_limit_gives_detections_and_a_listed_correlation_is_found_by_its_id() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let read = token(&data, "read");
    let ingest = token(&data, "ingest");
    let admin = token(&data, "admin");
    let server = start(&data);
    let base = server.base.clone();
    let demo = make_demo(tmp.path());
    let mut sent = 0;
    for f in jsonl_files(&demo.join("scenario/logs")) {
        let (s, r) = post(
            &base,
            "/api/v1/ingest",
            Some(&ingest),
            &std::fs::read(&f).unwrap(),
            false,
        );
        assert_eq!(s, 200, "{f:?}: {r}");
        sent += r["accepted"].as_u64().unwrap();
    }
    processed(&base, &admin, sent);
    // The demo fires correlations: wait for the live scope's.
    let until = Instant::now() + Duration::from_secs(180);
    let all = loop {
        let all = list(&base, &read, 10_000);
        if !kind(&all, "correlation").is_empty() {
            break all;
        }
        assert!(Instant::now() < until, "no correlation listed");
        std::thread::sleep(Duration::from_millis(500));
    };
    let stored = all.len() - kind(&all, "correlation").len();
    assert!(stored > 10, "{stored} stored detections");

    // limit=3: three stored detections, then the correlations apart (at
    // most three).
    let few = list(&base, &read, 3);
    let correlations = kind(&few, "correlation");
    assert_eq!(few.len() - correlations.len(), 3, "{few:?}");
    assert!(
        (1..=3).contains(&correlations.len()),
        "{}",
        correlations.len()
    );
    // limit=1: one detection, not a correlation only.
    let one = list(&base, &read, 1);
    assert_eq!(one.len() - kind(&one, "correlation").len(), 1, "{one:?}");

    // A listed correlation's id answers, in the API and in the console.
    let c = correlations[0];
    let id = c["id"].as_str().unwrap();
    let (s, body) = get(&base, &format!("/api/v1/detections/{id}"), Some(&read));
    assert_eq!(s, 200, "{body}");
    let got: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(got["kind"], "correlation", "{got}");
    assert_eq!(got["rule_id"], c["rule_id"], "{got}");
    // An id nobody listed is still 404.
    let (s, _) = get(
        &base,
        "/api/v1/detections/0000000000000000000000000000000000000000000000000000000000000000",
        Some(&read),
    );
    assert_eq!(s, 404);
}
