//! The archive of the regional stream, through the binary, on a real
//! nats-server (JetStream) and PostgreSQL (skipped without them outside
//! CI).
//!
//! The stream is made with a tiny retention (30 messages, as an
//! operator's `nats stream add --max-msgs` would), an api node keeps the
//! archive (`--archive DIR`). A first half of events (whoami runs) is
//! archived, then pushed out of the stream by other events; a second
//! half stays in the stream. A retro-hunt over the whole range (API and
//! `vigie retrohunt`), and one from a time, find the detections of both
//! halves, each once; the event search finds the first half's events;
//! the raw event behind a first-half detection is read back from the
//! archive. A rule the commune turned off for itself gives its
//! retro-hunts nothing, unless the request includes the rules turned off.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::console::{get_json, http};
use common::serve::token_of as token;
use common::server::{spawn_serve, Server};
use common::{sysmon1, WHOAMI_RULE};
use serde_json::{json, Value};
use vigie_testkit::servers::{Nats, Postgres};

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

fn within(bound: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The stream as an operator makes it: 30 messages kept at most.
fn make_small_stream(url: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "VIGIE_EVENTS".into(),
            subjects: vec!["vigie.events.>".into()],
            max_messages: 30,
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    });
}

/// The stream's first sequence still held.
fn first_sequence(url: &str) -> u64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut s = js.get_stream("VIGIE_EVENTS").await.unwrap();
        s.info().await.unwrap().state.first_sequence
    })
}

/// The descriptions of the stream's consumers that are one-off readers
/// of a retro-hunt or a search (`vigie retrohunt-… (one process)`).
fn one_off_consumers(url: &str) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let m = client
            .request("$JS.API.CONSUMER.LIST.VIGIE_EVENTS", "{}".into())
            .await
            .unwrap();
        let list: Value = serde_json::from_slice(&m.payload).unwrap();
        list["consumers"]
            .as_array()
            .unwrap_or_else(|| panic!("{list}"))
            .iter()
            .filter_map(|c| c["config"]["description"].as_str())
            .filter(|d| d.contains("retrohunt-"))
            .map(str::to_string)
            .collect()
    })
}

fn send(base: &str, auth: &str, lines: &[String]) {
    let body = lines.join("\n") + "\n";
    let r = http(
        base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", auth)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["accepted"], lines.len() as u64, "{}", r.body);
}

fn whoami(record: u64, time: &str) -> String {
    sysmon1(record, time, r"C:\\Windows\\System32\\whoami.exe")
}

fn notepad(record: u64, time: &str) -> String {
    sysmon1(record, time, r"C:\\Windows\\System32\\notepad.exe")
}

fn records(detections: &[Value]) -> Vec<u64> {
    let mut r: Vec<u64> = detections
        .iter()
        .map(|d| d["record_id"].as_u64().unwrap())
        .collect();
    r.sort_unstable();
    r
}

#[test]
fn a_retro_hunt_reads_the_archive_then_the_stream_each_event_once() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let started = Instant::now();
    make_small_stream(&nats.url());
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest = format!("Bearer {}", token(&tokens, "ingest", "default"));
    let ingest_b = format!("Bearer {}", token(&tokens, "ingest", "mairie-b"));
    let admin_token = token(&tokens, "admin", "default");
    let admin = format!("Bearer {admin_token}");
    let archive_dir = tmp.path().join("archive");
    let regional = |role: &str| -> Vec<String> {
        ["--bus", &nats.url(), "--db", &pg.url(), "--role", role]
            .map(str::to_string)
            .to_vec()
    };
    let starting: Vec<_> = [
        ("ingest", regional("ingest")),
        ("w", regional("detect")),
        ("api", {
            let mut a = regional("api");
            a.extend([
                "--archive".into(),
                archive_dir.to_str().unwrap().into(),
                "--archive-days".into(),
                "3650".into(),
                "--archive-gb".into(),
                "1".into(),
            ]);
            a
        }),
    ]
    .into_iter()
    .map(|(name, args)| {
        let (tokens, dir) = (tokens.clone(), tmp.path().join(name));
        std::thread::spawn(move || node(&tokens, &dir, &args))
    })
    .collect();
    let mut nodes = starting.into_iter().map(|t| t.join().unwrap());
    let (ingest_node, _worker, api) = (
        nodes.next().unwrap(),
        nodes.next().unwrap(),
        nodes.next().unwrap(),
    );

    // The first half: ten whoami runs among ten other events, and two of
    // another commune's.
    let mut first: Vec<String> = Vec::new();
    for r in 1..=10u64 {
        first.push(whoami(r, "2026-01-10T09:00:00.000Z"));
        first.push(notepad(1000 + r, "2026-01-10T09:00:01.000Z"));
    }
    send(&ingest_node.base, &ingest, &first);
    send(
        &ingest_node.base,
        &ingest_b,
        &[
            whoami(501, "2026-01-10T09:00:00.000Z"),
            whoami(502, "2026-01-10T09:00:00.000Z"),
        ],
    );
    // Archived, and judged by the worker (its detections stored).
    within(Duration::from_secs(60), "the first half archived", || {
        get_json(&api.base, "/api/v1/stats", &admin)["archive"]["positions_to"] == 22
    });
    within(Duration::from_secs(60), "the first half judged", || {
        get_json(&api.base, "/api/v1/detections?limit=100", &admin)
            .as_array()
            .is_some_and(|l| l.len() == 10)
    });
    // Pushed out of the stream by forty other events, ten at a time (the
    // archive keeps up with each: a burst larger than the stream's whole
    // retention would leave it before the archive read it — said and
    // counted as lost, not what this test is about).
    for chunk in 0..4u64 {
        let filler: Vec<String> = (0..10)
            .map(|i| notepad(2000 + chunk * 10 + i, "2026-01-11T09:00:00.000Z"))
            .collect();
        send(&ingest_node.base, &ingest, &filler);
        within(Duration::from_secs(60), "the filler archived", || {
            get_json(&api.base, "/api/v1/stats", &admin)["archive"]["positions_to"]
                == 32 + chunk * 10
        });
    }
    // The second half, in the stream.
    let second: Vec<String> = (101..=110u64)
        .map(|r| whoami(r, "2026-01-12T09:00:00.000Z"))
        .collect();
    send(&ingest_node.base, &ingest, &second);
    let held_from = first_sequence(&nats.url());
    assert!(
        held_from > 22,
        "the first half left the stream (first sequence held: {held_from})"
    );
    within(Duration::from_secs(60), "everything archived", || {
        get_json(&api.base, "/api/v1/stats", &admin)["archive"]["positions_to"] == 72
    });

    // The retro-hunt over the whole range: both halves, each once, and
    // nothing of mairie-b's.
    let want: Vec<u64> = (1..=10).chain(101..=110).collect();
    let hunt = |body: Value| -> Value {
        let r = http(
            &api.base,
            "POST",
            "/api/v1/retrohunt",
            &[
                ("Authorization", &admin),
                ("Content-Type", "application/json"),
            ],
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let all = hunt(json!({ "rules": WHOAMI_RULE }));
    let found = all["detections"].as_array().unwrap();
    assert_eq!(records(found), want, "{}", all["summary"]);
    let ids: BTreeSet<&str> = found.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), want.len(), "each once");
    assert_eq!(all["summary"]["events_read"], 72, "{}", all["summary"]);
    assert_eq!(all["summary"]["events_not_kept"], 0, "{}", all["summary"]);
    assert_eq!(all["summary"]["events_in_range"], 70, "{}", all["summary"]);
    // From a time: the start is found in the archive.
    let since = hunt(json!({ "rules": WHOAMI_RULE, "from": "2026-01-10T08:00:00Z" }));
    assert_eq!(
        records(since["detections"].as_array().unwrap()),
        want,
        "{}",
        since["summary"]
    );
    // Only the second half's day.
    let late = hunt(json!({ "rules": WHOAMI_RULE, "from": "2026-01-12T00:00:00Z" }));
    assert_eq!(
        records(late["detections"].as_array().unwrap()),
        (101..=110).collect::<Vec<u64>>(),
        "{}",
        late["summary"]
    );
    // `vigie retrohunt`, the same.
    let rules = tmp.path().join("hunt.yml");
    std::fs::write(&rules, WHOAMI_RULE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["retrohunt", "--server", &api.base, "--rules"])
        .arg(&rules)
        .env("VIGIE_TOKEN", &admin_token)
        .output()
        .unwrap();
    // Exit 1: detections found (as `vigie hunt`).
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records(&lines), want);

    // The event search reads the archive too.
    let found = get_json(&api.base, "/api/v1/search?q=whoami&limit=100", &admin);
    let hits: Vec<u64> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["record_id"].as_u64().unwrap())
        .collect();
    assert_eq!(hits, want, "{found}");

    // Every one-off reader of those retro-hunts and searches released: no
    // `retrohunt-` consumer left on the stream, none reported open.
    within(
        Duration::from_secs(10),
        "the one-off readers released",
        || one_off_consumers(&nats.url()).is_empty(),
    );
    let runs = get_json(&api.base, "/api/v1/retrohunts", &admin);
    assert_eq!(runs["readers_open"], 0, "{runs}");
    assert_eq!(runs["running"], 0, "{runs}");

    // The raw event behind a first-half detection: from the archive.
    let stored = get_json(&api.base, "/api/v1/detections?limit=100", &admin);
    let one = stored
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["record_id"] == 3)
        .expect("record 3 detected live");
    let page = get_json(
        &api.base,
        &format!("/api/v1/detections/{}", one["id"].as_str().unwrap()),
        &admin,
    );
    assert_eq!(page["raw_event_from_log"], true, "{page}");
    let raw: Value = serde_json::from_str(page["raw_event"].as_str().unwrap()).unwrap();
    assert_eq!(raw["Event"]["System"]["EventRecordID"], 3, "{raw}");

    // The commune turns the whoami rule off for itself: its retro-hunts
    // leave the rule's detections out, unless the request asks for them.
    let rule = "5d2a9b8e-1111-4c3b-9a55-0a1b2c3d4e5f";
    let r = http(
        &api.base,
        "POST",
        &format!("/api/v1/rules/{rule}/switch"),
        &[
            ("Authorization", &admin),
            ("Content-Type", "application/json"),
        ],
        Some(
            json!({"enabled": false, "reason": "inventaire", "tenant": "default"})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["switch"]["tenant"], "default", "{}", r.body);
    let off = hunt(json!({ "rules": WHOAMI_RULE }));
    assert_eq!(off["detections"], json!([]), "{}", off["summary"]);
    assert_eq!(off["summary"]["rules_switched_off"], json!([rule]));
    let asked = hunt(json!({ "rules": WHOAMI_RULE, "include_disabled": true }));
    assert_eq!(records(asked["detections"].as_array().unwrap()), want);
    assert_eq!(asked["summary"]["rules_switched_off"], json!([]));
    assert_eq!(asked["summary"]["include_disabled"], true);

    // A second process on the same archive is refused, and says why.
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["serve", "--data"])
        .arg(tmp.path().join("api2"))
        .args(["--listen", "127.0.0.1:0", "--archive"])
        .arg(&archive_dir)
        .args(regional("api"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("another process writes this archive"),
        "{said}"
    );
    eprintln!("regional archive test: {:?}", started.elapsed());
}
