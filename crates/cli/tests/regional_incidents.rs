//! Two api nodes behind a load balancer give each incident one name and
//! page the technician once for it, through the binary: the live ids and
//! the alerting's journal are PostgreSQL's with `--db`. Real nats-server
//! (JetStream) and PostgreSQL, private to the test (skipped without them
//! outside CI), and a real HTTP receiver as the webhook of both api nodes.
//!
//! One `--role ingest`, one `--role detect` and two `--role api` nodes;
//! A's data directory holds a `state.db` of the version that kept the
//! live ids per node (one incident of the commune already named `L1`):
//! moved into PostgreSQL at A's first start, so that both nodes number
//! the demo's incidents after it. The demo's attack sent: `GET
//! /api/v1/incidents` on A and on B give the same ids for the same
//! incidents; one `incident_new` message per incident reaches the
//! webhook, not one per node (the node that lost a claim counts it); B
//! restarted with a former `state.db` naming the commune otherwise takes
//! none of it (PostgreSQL names the commune already), keeps the ids and
//! sends nothing again.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::alerts::{drain, webhook, webhook_hanging};
use common::console::{get_json, http};
use common::server::{jsonl_files, make_demo, spawn_serve, Server};
use serde_json::Value;
use vigie_testkit::servers::{Nats, Postgres};

fn token(data: &Path, scope: &str, name: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--scope", scope, "--name", name])
        .output()
        .unwrap();
    assert!(out.status.success());
    format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
}

/// A node with its own data directory holding the deployment's tokens
/// (copied, as an operator copies `state.db`), or the `state.db` given.
fn node(state: &Path, dir: &Path, args: &[String]) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    if !dir.join("state.db").exists() {
        std::fs::copy(state, dir.join("state.db")).unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args);
    spawn_serve(cmd)
}

/// The incidents a node gives: live id → its hosts (sorted). Two
/// incidents share an id only as parts of one a node behind has not
/// merged yet: then their hosts are apart (two incidents of one host
/// with one id would be a naming defect, and fail here).
fn incidents(base: &str, auth: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_id: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in get_json(base, "/api/v1/incidents", auth)
        .as_array()
        .unwrap()
    {
        let hosts: BTreeSet<String> = i["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap().to_ascii_lowercase())
            .collect();
        let id = i["live_id"].as_str().unwrap().to_string();
        let held = by_id.entry(id.clone()).or_default();
        assert!(
            held.is_disjoint(&hosts),
            "{id} given to two incidents sharing a host: {held:?} and {hosts:?}"
        );
        held.extend(hosts);
    }
    by_id
}

#[test]
fn two_api_nodes_name_each_incident_alike_and_page_once() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest = token(&tokens, "ingest", "shipper");
    let admin = token(&tokens, "admin", "alice");
    let state = tokens.join("state.db");

    // A's state.db as the version before kept it: the commune's incident
    // on a host the demo has not, named L1, and its message delivered.
    let a_dir = tmp.path().join("a");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::copy(&state, a_dir.join("state.db")).unwrap();
    {
        let db = rusqlite::Connection::open(a_dir.join("state.db")).unwrap();
        db.execute_batch(
            r#"INSERT INTO live_incidents (tenant, pos, id, entities)
                 VALUES ('default', 0, 'L1', '["host:ancien-poste"]');
               INSERT INTO alert_records (sink, tenant, live_id, delivered, doc)
                 VALUES ('webhook', 'default', 'L1', 1,
                   '{"time":"2026-12-01T03:00:00Z","sink":"webhook","tenant":"default","live_id":"L1","kind":"incident_new","severity":"high","detections":4,"hosts":1,"delivered":true}');"#,
        )
        .unwrap();
    }

    let (url, received) = webhook();
    let conf = tmp.path().join("vigie.toml");
    common::write_private(&conf, format!("alert_webhook = \"{url}\"\n"));
    let regional = |role: &str| -> Vec<String> {
        let mut args = ["--bus", &nats.url(), "--db", &pg.url(), "--role", role]
            .map(str::to_string)
            .to_vec();
        if role == "api" {
            args.extend(["--config".to_string(), conf.to_str().unwrap().to_string()]);
        }
        args
    };
    let start = |name: &str, args: Vec<String>| {
        let (state, dir) = (state.clone(), tmp.path().join(name));
        std::thread::spawn(move || node(&state, &dir, &args))
    };
    let (ingest_node, worker, a, b) = (
        start("ingest", regional("ingest")),
        start("w", regional("detect")),
        start("a", regional("api")),
        start("b", regional("api")),
    );
    let demo = make_demo(tmp.path());
    let ingest_node = ingest_node.join().unwrap();
    let _worker = worker.join().unwrap();
    let a = a.join().unwrap();
    let mut b = b.join().unwrap();
    // A's ids and journal moved into PostgreSQL, and out of its state.db.
    assert!(
        a.said.iter().any(|l| l.contains(
            "the live ids of 1 tenant(s), 1 alert record(s) and 0 silence(s) said moved into PostgreSQL at"
        )),
        "{:?}",
        a.said
    );
    {
        let db = rusqlite::Connection::open(a_dir.join("state.db")).unwrap();
        let n: i64 = db
            .query_row(
                "SELECT (SELECT count(*) FROM live_incidents) + (SELECT count(*) FROM alert_records)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "moved, not copied");
    }

    // The demo's events, judged by the worker and observed by both api
    // nodes.
    let mut sent = 0;
    for f in jsonl_files(&demo.join("scenario/logs")) {
        let r = http(
            &ingest_node.base,
            "POST",
            "/api/v1/ingest",
            &[("Authorization", &ingest)],
            Some(&std::fs::read(&f).unwrap()),
        );
        assert_eq!(r.status, 200, "{f:?}: {}", r.body);
        sent += r.json()["accepted"].as_u64().unwrap();
    }
    let until = Instant::now() + Duration::from_secs(240);
    for node in [&a, &b] {
        loop {
            let s = get_json(&node.base, "/api/v1/stats", &admin);
            if s["events_committed"] == sent && s["events_observed"] == sent {
                break;
            }
            assert!(Instant::now() < until, "not all judged: {s}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    // The same ids for the same incidents on both nodes, asked in either
    // order; numbered after the imported L1, which neither gives again.
    let on_a = incidents(&a.base, &admin);
    let on_b = incidents(&b.base, &admin);
    assert!(!on_a.is_empty(), "the demo's incidents: {on_a:?}");
    assert_eq!(on_a, on_b, "one name per incident on both nodes");
    assert!(
        !on_a.contains_key("L1"),
        "L1 is the imported incident's: {on_a:?}"
    );
    assert_eq!(incidents(&b.base, &admin), incidents(&a.base, &admin));

    // One incident_new per incident at the webhook, whichever node sent
    // it; the other node counted what it left.
    let ids: BTreeSet<String> = on_a.keys().cloned().collect();
    let mut messages = Vec::new();
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let news: BTreeSet<String> = messages
            .iter()
            .filter(|m: &&Value| m["kind"] == "incident_new")
            .map(|m| m["incident"]["live_id"].as_str().unwrap().to_string())
            .collect();
        if ids.is_subset(&news) {
            break;
        }
        let left = until.saturating_duration_since(Instant::now());
        messages.push(received.recv_timeout(left).expect("a message per incident"));
    }
    drain(&received, &mut messages);
    let mut news: BTreeMap<String, usize> = BTreeMap::new();
    for m in &messages {
        assert_eq!(m["tenant"], "default", "{m}");
        if m["kind"] == "incident_new" {
            *news
                .entry(m["incident"]["live_id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    for (id, n) in &news {
        assert_eq!(*n, 1, "{id} paged {n} times: {messages:?}");
    }
    assert!(
        !news.contains_key("L1"),
        "delivered before the move: not again"
    );
    // An update of an incident is said at most once per 5 min, whichever
    // node: the demo's arrive within one.
    let mut updates: BTreeMap<String, usize> = BTreeMap::new();
    for m in messages.iter().filter(|m| m["kind"] == "incident_updated") {
        *updates
            .entry(m["incident"]["live_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(updates.values().all(|n| *n <= 1), "{updates:?}");
    let (sa, sb) = (
        get_json(&a.base, "/api/v1/stats", &admin),
        get_json(&b.base, "/api/v1/stats", &admin),
    );
    let stat = |s: &Value, k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k}: {s}"));
    assert_eq!(
        stat(&sa, "alerts_delivered") + stat(&sb, "alerts_delivered"),
        messages.len() as u64,
        "every message received was delivered once: {sa} {sb}"
    );
    assert!(
        stat(&sa, "alerts_sent_elsewhere") + stat(&sb, "alerts_sent_elsewhere") >= ids.len() as u64,
        "each incident's first message claimed by both, left by one: {sa} {sb}"
    );
    assert_eq!(stat(&sa, "alerts_failed") + stat(&sb, "alerts_failed"), 0);

    // B restarted on a data directory whose state.db, of the version that
    // kept them per node, names the commune's incidents its own way (L1
    // another host, a message of L2 delivered): PostgreSQL already names
    // the commune, so none of it is taken (said) — the same ids, and
    // nothing paged again.
    let b_dir = tmp.path().join("b");
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    drop(b);
    std::fs::remove_dir_all(&b_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    std::fs::copy(&state, b_dir.join("state.db")).unwrap();
    {
        let db = rusqlite::Connection::open(b_dir.join("state.db")).unwrap();
        db.execute_batch(
            r#"INSERT INTO live_incidents (tenant, pos, id, entities)
                 VALUES ('default', 0, 'L1', '["host:autre-poste"]');
               INSERT INTO alert_records (sink, tenant, live_id, delivered, doc)
                 VALUES ('webhook', 'default', 'L2', 1,
                   '{"time":"2026-12-01T03:00:00Z","sink":"webhook","tenant":"default","live_id":"L2","kind":"incident_new","severity":"high","detections":1,"hosts":1,"delivered":true}');"#,
        )
        .unwrap();
    }
    let b = node(&state, &b_dir, &regional("api"));
    assert!(
        b.said.iter().any(|l| l
            .contains("the live ids and alerts of \"default\" not imported: PostgreSQL at")
            && l.contains(
                "1 id(s), 1 alert record(s) and 0 silence(s) of it would stand for other incidents"
            )),
        "{:?}",
        b.said
    );
    {
        let db = rusqlite::Connection::open(b_dir.join("state.db")).unwrap();
        let n: i64 = db
            .query_row(
                "SELECT (SELECT count(*) FROM live_incidents) + (SELECT count(*) FROM alert_records)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "said and dropped, not tried at every start");
    }
    let until = Instant::now() + Duration::from_secs(120);
    while get_json(&b.base, "/api/v1/stats", &admin)["events_observed"].as_u64() != Some(sent) {
        assert!(Instant::now() < until, "B's scope not rebuilt");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(incidents(&b.base, &admin), on_a, "B keeps the ids");
    let mut after = Vec::new();
    drain(&received, &mut after);
    assert!(
        after.iter().all(|m| m["kind"] != "incident_new"),
        "paged again after B's restart: {after:?}"
    );
}

/// A node killed (`kill -9`) while it holds the claim on a message — its
/// delivery begun, never answered — leaves the message to the other api
/// node once the claim's lease has run out: the technician is paged by
/// the other node, after the lease and not before, and once. The lease is
/// the configuration's (`alert_claim_lease_secs`), short for the test.
#[test]
fn a_node_killed_holding_a_claim_leaves_the_message_to_the_other_after_the_lease() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    const LEASE: u64 = 30;
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest = token(&tokens, "ingest", "shipper");
    let admin = token(&tokens, "admin", "alice");
    let state = tokens.join("state.db");
    let (url, answered, hung) = webhook_hanging(1);
    let conf = tmp.path().join("vigie.toml");
    common::write_private(
        &conf,
        format!("alert_webhook = \"{url}\"\nalert_claim_lease_secs = {LEASE}\n"),
    );
    let regional = |role: &str| -> Vec<String> {
        let mut args = ["--bus", &nats.url(), "--db", &pg.url(), "--role", role]
            .map(str::to_string)
            .to_vec();
        if role == "api" {
            args.extend(["--config".to_string(), conf.to_str().unwrap().to_string()]);
        }
        args
    };
    let _worker = node(&state, &tmp.path().join("w"), &regional("detect"));
    let mut a = node(&state, &tmp.path().join("a"), &regional("api"));
    assert!(
        a.said
            .iter()
            .any(|l| l.contains(&format!("(a claim lasts {LEASE} s"))),
        "{:?}",
        a.said
    );
    let demo = make_demo(tmp.path());
    let ingest_node = node(&state, &tmp.path().join("ingest"), &regional("ingest"));
    for f in jsonl_files(&demo.join("scenario/logs")) {
        let r = http(
            &ingest_node.base,
            "POST",
            "/api/v1/ingest",
            &[("Authorization", &ingest)],
            Some(&std::fs::read(&f).unwrap()),
        );
        assert_eq!(r.status, 200, "{f:?}: {}", r.body);
    }

    // A claims its first message and sends it; the receiver holds the
    // request unanswered: A is killed in the middle of its delivery.
    let first = hung
        .recv_timeout(Duration::from_secs(240))
        .expect("A sends a first message");
    let id = first["incident"]["live_id"].as_str().unwrap().to_string();
    // What is left of A's claim by the database's clock (its delivery
    // reaches the receiver some time after the claim was taken: on a
    // loaded machine, seconds).
    let left: u64 = pg
        .query(&format!(
            "SELECT max(until) - floor(extract(epoch FROM now()))::bigint \
             FROM alert_claims WHERE live_id = '{id}' AND until IS NOT NULL"
        ))
        .parse()
        .expect("A's claim is held while its delivery hangs");
    let killed = Instant::now();
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    assert_eq!(first["kind"], "incident_new", "{first}");

    let b = node(&state, &tmp.path().join("b"), &regional("api"));
    let b_ready = killed.elapsed();
    assert!(
        b_ready + Duration::from_secs(5) < Duration::from_secs(left),
        "B up in {b_ready:?}: too late to see A's claim live"
    );
    let mut messages: Vec<(Duration, Value)> = Vec::new();
    let until = Instant::now() + Duration::from_secs(LEASE + 120);
    while !messages
        .iter()
        .any(|(_, m)| m["kind"] == "incident_new" && m["incident"]["live_id"] == id.as_str())
    {
        let wait = until.saturating_duration_since(Instant::now());
        let m = answered
            .recv_timeout(wait)
            .unwrap_or_else(|_| panic!("{id} never paged after A died: {messages:?}"));
        messages.push((killed.elapsed(), m));
    }
    let (at, _) = messages
        .iter()
        .find(|(_, m)| m["incident"]["live_id"] == id.as_str())
        .unwrap();
    // A's claim was taken just before its send (before `killed`): B waits
    // for it to run out (a second of slack for the two clocks' reading).
    assert!(
        left <= LEASE && *at >= Duration::from_secs(left.saturating_sub(1)),
        "{id} paged by B {at:?} after A died: before A's claim ran out ({left} s left of {LEASE})"
    );
    let mut rest = Vec::new();
    drain(&answered, &mut rest);
    let mut news: BTreeMap<String, usize> = BTreeMap::new();
    for m in messages.iter().map(|(_, m)| m).chain(&rest) {
        if m["kind"] == "incident_new" {
            *news
                .entry(m["incident"]["live_id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert!(news.values().all(|n| *n == 1), "paged once each: {news:?}");
    let s = get_json(&b.base, "/api/v1/stats", &admin);
    assert!(
        s["alerts_sent_elsewhere"].as_u64().unwrap() >= 1,
        "B was refused A's claim while it lived: {s}"
    );
}

/// A token of `tenant` made in `data`'s `state.db` (brought into
/// PostgreSQL at the node's start).
fn token_for(data: &Path, scope: &str, tenant: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--scope", scope, "--name", tenant, "--tenant", tenant])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
}

/// PostgreSQL stopped while an api node has two communes' events it has
/// not named yet: each commune's incidents answer 503 with a message that
/// names neither the other commune nor the database (its error is the
/// server's log's, once), the second commune at once (not after the
/// connection's timeout); PostgreSQL back, both are named again.
#[test]
fn the_ids_out_of_reach_are_a_503_per_commune_that_says_nothing_of_the_database() {
    let (Some(nats), Some(mut pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let (a, b) = ("mairie-a", "mairie-b");
    let ingest = [a, b].map(|t| token_for(&tokens, "ingest", t));
    let read = [a, b].map(|t| token_for(&tokens, "read", t));
    let state = tokens.join("state.db");
    let regional = |role: &str| -> Vec<String> {
        ["--bus", &nats.url(), "--db", &pg.url(), "--role", role]
            .map(str::to_string)
            .to_vec()
    };
    // No alert destination: nothing names a commune's incidents before
    // the test asks for them.
    let ingest_node = node(&state, &tmp.path().join("ingest"), &regional("ingest"));
    let _worker = node(&state, &tmp.path().join("w"), &regional("detect"));
    let api = node(&state, &tmp.path().join("api"), &regional("api"));
    let demo = make_demo(tmp.path());
    let files = jsonl_files(&demo.join("scenario/logs"));
    let mut sent = [0u64; 2];
    for (n, f) in files.iter().enumerate() {
        // Every file to a, one in three to b.
        for t in [0, 1].into_iter().filter(|t| *t == 0 || n % 3 == 0) {
            let r = http(
                &ingest_node.base,
                "POST",
                "/api/v1/ingest",
                &[("Authorization", &ingest[t])],
                Some(&std::fs::read(f).unwrap()),
            );
            assert_eq!(r.status, 200, "{f:?}: {}", r.body);
            sent[t] += r.json()["accepted"].as_u64().unwrap();
        }
    }
    let until = Instant::now() + Duration::from_secs(240);
    for t in [0, 1] {
        while get_json(&api.base, "/api/v1/stats", &read[t])["events_observed"].as_u64()
            != Some(sent[t])
        {
            assert!(Instant::now() < until, "{} not all observed", [a, b][t]);
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pg.stop();
    let generic = |r: &common::console::Resp, t: usize| {
        assert_eq!(r.status, 503, "{}", r.body);
        let body = r.body.to_ascii_lowercase();
        for never in [[a, b][1 - t], "postgres", "127.0.0.1", "vigie@"] {
            assert!(!body.contains(never), "{never:?} said: {}", r.body);
        }
        assert!(body.contains("live ids cannot be read now"), "{}", r.body);
    };
    let r = http(
        &api.base,
        "GET",
        "/api/v1/incidents",
        &[("Authorization", &read[0])],
        None,
    );
    generic(&r, 0);
    let asked = Instant::now();
    let r = http(
        &api.base,
        "GET",
        "/api/v1/scope",
        &[("Authorization", &read[1])],
        None,
    );
    generic(&r, 1);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{b} waited {:?}: not tried again within the backoff",
        asked.elapsed()
    );
    // What else reads a's scope says it cannot answer now — not an empty
    // board (every service "unknown"), an empty TAXII collection or "no
    // event received".
    for (path, accept) in [
        ("/api/v1/services", "application/json"),
        ("/api/v1/blocklist/ip.txt", "text/plain"),
        ("/taxii2/mairie-a/", "application/taxii+json;version=2.1"),
    ] {
        let r = http(
            &api.base,
            "GET",
            path,
            &[("Authorization", &read[0]), ("Accept", accept)],
            None,
        );
        generic(&r, 0);
        assert_eq!(r.header("retry-after"), Some("5"), "{path}: {}", r.body);
    }

    pg.resume();
    let until = Instant::now() + Duration::from_secs(90);
    for t in [0, 1] {
        loop {
            let r = http(
                &api.base,
                "GET",
                "/api/v1/incidents",
                &[("Authorization", &read[t])],
                None,
            );
            if r.status == 200 {
                // a had the whole attack: incidents, named again.
                assert!(
                    t == 1 || !r.json().as_array().unwrap().is_empty(),
                    "{}",
                    r.body
                );
                break;
            }
            generic(&r, t);
            assert!(Instant::now() < until, "{} never named again", [a, b][t]);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    drop(api);
}
