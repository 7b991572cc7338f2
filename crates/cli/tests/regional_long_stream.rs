//! A retro-hunt and a search over a stream longer than JetStream's
//! `max_ack_pending` (65,536), on an api node without `--archive`,
//! through the binary on a real nats-server and PostgreSQL (skipped
//! without them outside CI).
//!
//! Why: the one-off reader of a retro-hunt or a search never
//! acknowledged what it read, under an explicit ack policy, so the
//! server stopped handing it events once 65,536 were pending — the run
//! ended in `503 … no answer within 15 s` with `events_read` exactly
//! 65,536 (issue 16, a regional CSIRT's analyst). 100,000 events are put
//! in the stream as an ingest node puts them (same subjects and
//! headers, published straight to JetStream to keep the test short),
//! then one whoami run through the ingest node: a retro-hunt and a
//! search both read to the end and find it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::console::{get_json, http};
use common::serve::token_of as token;
use common::server::{spawn_serve, Server};
use common::{sysmon1, WHOAMI_RULE};
use serde_json::{json, Value};
use vigie_testkit::servers::{Nats, Postgres};

const FILLER: u64 = 100_000;

fn node(tokens: &Path, dir: &Path, args: &[String]) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(tokens.join("state.db"), dir.join("state.db")).unwrap();
    std::fs::write(dir.join("whoami.yml"), WHOAMI_RULE).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
        ])
        .arg(dir.join("whoami.yml"))
        .args(args);
    spawn_serve(cmd)
}

/// `FILLER` notepad runs of the commune `default`, on the subject and
/// with the headers the ingest node gives its events.
fn fill(url: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        js.get_or_create_stream(async_nats::jetstream::stream::Config {
            name: "VIGIE_EVENTS".into(),
            subjects: vec!["vigie.events.>".into()],
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
        let received = chrono::Utc::now().timestamp_micros().to_string();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Vigie-Tenant", "default");
        headers.insert("Vigie-Source", "filler");
        headers.insert("Vigie-Received", received.as_str());
        let mut r = 0;
        while r < FILLER {
            let mut acks = Vec::new();
            for _ in 0..1000 {
                r += 1;
                let event = sysmon1(
                    r,
                    "2026-01-10T09:00:00.000Z",
                    r"C:\\Windows\\System32\\notepad.exe",
                );
                acks.push(
                    js.publish_with_headers(
                        "vigie.events.default.filler",
                        headers.clone(),
                        event.into(),
                    )
                    .await
                    .unwrap(),
                );
            }
            for a in acks {
                a.await.unwrap();
            }
        }
    });
}

#[test]
fn a_retro_hunt_and_a_search_read_past_65536_events_without_an_archive() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest = format!("Bearer {}", token(&tokens, "ingest", "default"));
    let admin = format!("Bearer {}", token(&tokens, "admin", "default"));
    fill(&nats.url());
    let filled = started.elapsed();
    let regional = |role: &str| -> Vec<String> {
        ["--bus", &nats.url(), "--db", &pg.url(), "--role", role]
            .map(str::to_string)
            .to_vec()
    };
    let ingest_node = node(&tokens, &tmp.path().join("ingest"), &regional("ingest"));
    let api = node(&tokens, &tmp.path().join("api"), &regional("api"));

    // The last event of the stream: a whoami run, through the ingest node.
    let last = sysmon1(
        999_999,
        "2026-01-10T09:30:00.000Z",
        r"C:\\Windows\\System32\\whoami.exe",
    );
    let r = http(
        &ingest_node.base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(format!("{last}\n").as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let t = Instant::now();
    let r = http(
        &api.base,
        "POST",
        "/api/v1/retrohunt",
        &[
            ("Authorization", &admin),
            ("Content-Type", "application/json"),
        ],
        Some(json!({ "rules": WHOAMI_RULE }).to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let hunt = r.json();
    let summary = &hunt["summary"];
    assert_eq!(summary["state"], "done", "{summary}");
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(summary["events_read"], FILLER + 1, "{summary}");
    let found: Vec<&Value> = hunt["detections"].as_array().unwrap().iter().collect();
    assert_eq!(found.len(), 1, "{summary}");
    assert_eq!(found[0]["record_id"], 999_999, "{}", found[0]);
    let hunted = t.elapsed();

    // Continued from a position past the first 65,536: read to the end too.
    let r = http(
        &api.base,
        "POST",
        "/api/v1/retrohunt",
        &[
            ("Authorization", &admin),
            ("Content-Type", "application/json"),
        ],
        Some(
            json!({ "rules": WHOAMI_RULE, "from_position": 10_000 })
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let from = r.json();
    assert_eq!(
        from["summary"]["events_read"],
        FILLER + 1,
        "{}",
        from["summary"]
    );
    assert_eq!(from["detections"].as_array().unwrap().len(), 1);

    // The event search: the one whoami run, at the end.
    let t = Instant::now();
    let found = get_json(&api.base, "/api/v1/search?q=whoami&limit=10", &admin);
    let hits: Vec<u64> = found["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("{found}"))
        .iter()
        .map(|h| h["record_id"].as_u64().unwrap())
        .collect();
    assert_eq!(hits, vec![999_999], "{found}");
    assert!(found["stopped"].is_null(), "{found}");
    eprintln!(
        "{FILLER} events published in {filled:?}; retro-hunt {hunted:?}; search {:?}; whole test {:?}",
        t.elapsed(),
        started.elapsed()
    );
}
