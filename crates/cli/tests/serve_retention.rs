//! Retention and the live scope, through the binary: once retention
//! removed the event log's oldest segments for their age, the live scope
//! is made again from what the log keeps — the very scope a restart on
//! the trimmed log gives, with the same live ids — rather than keep what
//! the removed events gave (their detections, the links they made) until
//! the next restart.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::serve::{get, post, processed, start_with, token};
use common::server::{jsonl_files, make_demo};
use serde_json::Value;

/// A value of `/metrics` (the first sample whose line starts with
/// `name`), as read.
fn metric(base: &str, t: &str, name: &str) -> Option<u64> {
    let (s, text) = get(base, "/metrics", Some(t));
    assert_eq!(s, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

/// Waits until `/metrics` says `name` reached `n`.
fn metric_reaches(base: &str, t: &str, name: &str, n: u64) {
    let until = Instant::now() + Duration::from_secs(180);
    while metric(base, t, name).unwrap_or(0) < n {
        assert!(Instant::now() < until, "{name} never reached {n}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The live scope once answered (503 while it is rebuilt at start), and
/// its incidents with their live ids.
fn scope_now(base: &str, t: &str) -> (Value, Value) {
    let until = Instant::now() + Duration::from_secs(180);
    loop {
        let (s, body) = get(base, "/api/v1/scope", Some(t));
        if s == 200 {
            let (si, incidents) = get(base, "/api/v1/incidents", Some(t));
            assert_eq!(si, 200, "{incidents}");
            return (
                serde_json::from_str(&body).unwrap(),
                serde_json::from_str(&incidents).unwrap(),
            );
        }
        assert!(s == 503 && Instant::now() < until, "{s}: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every segment of the event log dated `days` back (what retention reads
/// of a segment's age is its last write).
fn age_segments(data: &Path, days: u64) -> usize {
    let then = SystemTime::now() - Duration::from_secs(days * 86_400);
    let mut n = 0;
    for e in std::fs::read_dir(data.join("events")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "seg") {
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(then).unwrap();
            n += 1;
        }
    }
    n
}

const HELD: &str = "vigie_scope_facts{kind=\"detections\"}";

#[test]
fn retention_rebuilds_the_live_scope_as_a_restart_would() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = make_demo(tmp.path());
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let ingest = token(&data, "ingest");
    // Segments of 1 MB: the demo's events fill two, so that retention
    // has a sealed one to remove and the newest keeps part of the attack;
    // retention applied every second rather than every ten minutes.
    let conf = tmp.path().join("vigie.toml");
    std::fs::write(&conf, "segment_mb = 1\nretention_every = \"1s\"\n").unwrap();
    let conf = conf.to_str().unwrap();
    let week = [
        "--config",
        conf,
        "--retention-days",
        "7",
        "--retention-gb",
        "0",
    ];
    let (server, _) = start_with(&data, &week);
    let mut sent = 0u64;
    for f in jsonl_files(&demo) {
        let body = std::fs::read(&f).unwrap();
        let (s, r) = post(&server.base, "/api/v1/ingest", Some(&ingest), &body, false);
        assert_eq!(s, 200, "{}: {r}", f.display());
        sent += r["accepted"].as_u64().unwrap();
    }
    processed(&server.base, &admin, sent);
    let (whole, whole_ids) = scope_now(&server.base, &admin);
    let held_whole = metric(&server.base, &admin, HELD).unwrap();
    assert!(whole["incidents"].as_array().is_some_and(|i| !i.is_empty()));
    assert_eq!(
        metric(&server.base, &admin, "vigie_scope_rebuilds_total"),
        Some(0),
        "nothing old enough yet"
    );

    // A week later for the segments (their last write ten days back): the
    // next pass removes the sealed ones for their age, and the scope is
    // made again from what is left while the server runs.
    assert!(age_segments(&data, 10) >= 2, "sealed segments to remove");
    metric_reaches(&server.base, &admin, "vigie_scope_rebuilds_total", 1);
    let (rebuilt, rebuilt_ids) = scope_now(&server.base, &admin);
    let held_rebuilt = metric(&server.base, &admin, HELD).unwrap();
    let (_, stats) = get(&server.base, "/api/v1/stats", Some(&admin));
    drop(server);
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert!(
        stats["events_observed"].as_u64().unwrap() < sent,
        "the scope holds the events the log keeps: {stats}"
    );
    assert!(
        held_rebuilt < held_whole,
        "the removed events' detections forgotten: {held_rebuilt} of {held_whole}"
    );
    assert_ne!(rebuilt, whole);

    // The restart on the trimmed log: the same scope, the same ids, and
    // nothing more to remove or rebuild.
    let (server, _) = start_with(&data, &week);
    let (restarted, restarted_ids) = scope_now(&server.base, &admin);
    assert_eq!(metric(&server.base, &admin, HELD), Some(held_rebuilt));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        metric(&server.base, &admin, "vigie_scope_rebuilds_total"),
        Some(0)
    );
    drop(server);
    assert_eq!(rebuilt, restarted);
    // The incident seen whole keeps its id; its parts are named alike at
    // the rebuild and at the restart (none renamed, none paged anew).
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["live_id"].as_str().unwrap().to_string())
            .collect()
    };
    let first = ids(&whole_ids)[0].clone();
    assert!(ids(&rebuilt_ids).contains(&first), "{rebuilt_ids}");
    // What makes it a test of the naming: the events removed linked parts
    // that are now incidents of their own (the demo's first week).
    assert!(
        ids(&rebuilt_ids).len() > ids(&whole_ids).len(),
        "{whole_ids} / {rebuilt_ids}"
    );
    assert_eq!(rebuilt_ids, restarted_ids);
}
