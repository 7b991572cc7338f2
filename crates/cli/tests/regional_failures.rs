//! Failures a regional deployment meets, through the binary, on a real
//! nats-server (JetStream) and a real PostgreSQL, both private to the test
//! (skipped without them outside CI).
//!
//! - `/healthz` says what each role needs: an ingest node answers 503
//!   while NATS is down (a load balancer stops sending it events it could
//!   only refuse), a detect node while NATS or PostgreSQL is, an api node
//!   while PostgreSQL is; 200 again once it is back. A retro-hunt and an
//!   event search while NATS is away (no archive) answer 503 with the
//!   reason, never an empty answer that reads as "nothing found".
//! - An api node killed (`kill -9`) in the middle of a delivery and
//!   started again on its data directory knows the claim it held as its
//!   own: it pages before that claim's lease ends and counts nothing in
//!   `alerts_sent_elsewhere`.
//! - One commune's naming failing in PostgreSQL (a trigger refusing its
//!   rows of `live_incidents`, what a damaged or constrained table does)
//!   leaves the other commune named and paged.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::alerts::{drain, webhook, webhook_hanging};
use common::console::{get_json, http};
use common::server::{jsonl_files, make_demo, spawn_serve, Server};
use serde_json::Value;
use vigie_testkit::servers::{Nats, Postgres};

/// A token of `tenant` made in `data`'s `state.db` (brought into
/// PostgreSQL at a `--db` node's start).
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

/// A node with its own data directory holding the deployment's tokens
/// (copied, as an operator copies `state.db`; kept when it is there: a
/// node started again on its directory).
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

fn regional(nats: &Nats, pg: &Postgres, role: &str, conf: Option<&Path>) -> Vec<String> {
    let mut args = ["--bus", &nats.url(), "--db", &pg.url(), "--role", role]
        .map(str::to_string)
        .to_vec();
    if role == "ingest" {
        // Its tokens are its `state.db`'s: it needs the bus only.
        args.drain(2..4);
    }
    if let Some(conf) = conf {
        args.extend(["--config".to_string(), conf.to_str().unwrap().to_string()]);
    }
    args
}

/// `/healthz` of `base` (no token: the route is open).
fn health(base: &str) -> (u16, String) {
    let r = http(base, "GET", "/healthz", &[], None);
    (r.status, r.body)
}

/// Waits for `/healthz` of `base` to answer `status` (a server stopped or
/// started again: the node sees it at its next check), at most 60 s.
fn health_becomes(base: &str, status: u16, what: &str) -> String {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, body) = health(base);
        if s == status {
            return body;
        }
        assert!(Instant::now() < until, "{what}: /healthz still {s}: {body}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn ingest_demo(base: &str, token: &str, files: &[std::path::PathBuf]) -> u64 {
    let mut sent = 0;
    for f in files {
        let r = http(
            base,
            "POST",
            "/api/v1/ingest",
            &[("Authorization", token)],
            Some(&std::fs::read(f).unwrap()),
        );
        assert_eq!(r.status, 200, "{f:?}: {}", r.body);
        sent += r.json()["accepted"].as_u64().unwrap();
    }
    sent
}

#[test]
fn healthz_says_what_each_role_needs_and_reads_without_the_stream_say_why() {
    let (Some(mut nats), Some(mut pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest = token_for(&tokens, "ingest", "default");
    let admin = token_for(&tokens, "admin", "default");
    let state = tokens.join("state.db");
    let rule = tmp.path().join("whoami.yml");
    std::fs::write(&rule, common::WHOAMI_RULE).unwrap();
    let with_rule = |role: &str| {
        let mut args = regional(&nats, &pg, role, None);
        args.extend(
            [
                "--no-builtin",
                "--no-sigmahq",
                "--rules",
                rule.to_str().unwrap(),
            ]
            .map(str::to_string),
        );
        args
    };
    let ingest_node = node(&state, &tmp.path().join("ingest"), &with_rule("ingest"));
    let worker = node(&state, &tmp.path().join("w"), &with_rule("detect"));
    let api = node(&state, &tmp.path().join("api"), &with_rule("api"));
    for (n, role) in [(&ingest_node, "ingest"), (&worker, "detect"), (&api, "api")] {
        let body = health_becomes(&n.base, 200, role);
        assert_eq!(body, "ok\n");
    }
    let line = format!(
        "{}\n",
        common::sysmon1(
            1,
            "2026-03-02T09:00:00Z",
            "C:\\\\Windows\\\\System32\\\\whoami.exe"
        )
    );
    let r = http(
        &ingest_node.base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(line.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let retrohunt = || {
        let body =
            serde_json::to_vec(&serde_json::json!({ "rules": common::WHOAMI_RULE })).unwrap();
        http(
            &api.base,
            "POST",
            "/api/v1/retrohunt",
            &[("Authorization", &admin)],
            Some(&body),
        )
    };

    nats.stop();
    // The ingest node says it: a load balancer stops sending it events.
    let body = health_becomes(&ingest_node.base, 503, "NATS stopped: the ingest node");
    assert!(
        body.contains("event stream") && body.contains("--role ingest"),
        "{body}"
    );
    // Open route: what is down, never where it is.
    for never in ["127.0.0.1", "nats://", "postgres"] {
        assert!(!body.contains(never), "{never:?} said: {body}");
    }
    let body = health_becomes(&worker.base, 503, "NATS stopped: the detect node");
    assert!(
        body.contains("event stream") && !body.contains("database"),
        "{body}"
    );
    let (s, body) = health(&api.base);
    assert_eq!(s, 200, "an api node answers from PostgreSQL: {body}");
    // A retro-hunt and a search over the stream it cannot read (no
    // archive): 503 with the reason, send it again — never a run that
    // found nothing.
    let asked = Instant::now();
    let r = retrohunt();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"), "{}", r.body);
    assert!(
        r.body.contains("cannot be read now") && !r.body.contains("\"detections\""),
        "{}",
        r.body
    );
    assert!(
        asked.elapsed() < Duration::from_secs(30),
        "the retro-hunt waited {:?} to say it",
        asked.elapsed()
    );
    let r = http(
        &api.base,
        "GET",
        "/api/v1/search?q=whoami",
        &[("Authorization", &admin)],
        None,
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"), "{}", r.body);
    assert!(
        r.body.contains("cannot be read now") && !r.body.contains("\"hits\""),
        "{}",
        r.body
    );

    nats.resume();
    health_becomes(&ingest_node.base, 200, "NATS back: the ingest node");
    health_becomes(&worker.base, 200, "NATS back: the detect node");
    // The retro-hunt answers again, with what the stream holds.
    let until = Instant::now() + Duration::from_secs(60);
    let found = loop {
        let r = retrohunt();
        if r.status == 200 {
            break r.json();
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            Instant::now() < until,
            "NATS back, retro-hunt not: {}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(found["detections"].as_array().unwrap().len(), 1, "{found}");

    pg.stop();
    let body = health_becomes(&api.base, 503, "PostgreSQL stopped: the api node");
    assert!(
        body.contains("database") && body.contains("--role api"),
        "{body}"
    );
    let body = health_becomes(&worker.base, 503, "PostgreSQL stopped: the detect node");
    assert!(
        body.contains("database") && !body.contains("event stream"),
        "{body}"
    );
    let (s, body) = health(&ingest_node.base);
    assert_eq!(
        s, 200,
        "an ingest node takes events without PostgreSQL: {body}"
    );
    pg.resume();
    health_becomes(&api.base, 200, "PostgreSQL back: the api node");
    health_becomes(&worker.base, 200, "PostgreSQL back: the detect node");
}

/// An api node killed (`kill -9`) while its delivery of a message hangs,
/// started again at once on its data directory: the claim it held is its
/// own (its name is kept in `DATA/node-id`, not its process id), so it
/// pages that incident before the claim's lease ends, once, and counts
/// nothing as sent by another node.
#[test]
fn a_node_killed_in_its_delivery_knows_its_own_claim_when_started_again() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    const LEASE: u64 = 180;
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest = token_for(&tokens, "ingest", "default");
    let admin = token_for(&tokens, "admin", "default");
    let state = tokens.join("state.db");
    let (url, answered, hung) = webhook_hanging(1);
    let conf = tmp.path().join("vigie.toml");
    common::write_private(
        &conf,
        format!("alert_webhook = \"{url}\"\nalert_claim_lease_secs = {LEASE}\n"),
    );
    let _worker = node(
        &state,
        &tmp.path().join("w"),
        &regional(&nats, &pg, "detect", None),
    );
    let api_args = regional(&nats, &pg, "api", Some(&conf));
    let mut a = node(&state, &tmp.path().join("a"), &api_args);
    let ingest_node = node(
        &state,
        &tmp.path().join("ingest"),
        &regional(&nats, &pg, "ingest", None),
    );
    let demo = make_demo(tmp.path());
    ingest_demo(
        &ingest_node.base,
        &ingest,
        &jsonl_files(&demo.join("scenario/logs")),
    );

    let first = hung
        .recv_timeout(Duration::from_secs(240))
        .expect("A sends a first message");
    assert_eq!(first["kind"], "incident_new", "{first}");
    let id = first["incident"]["live_id"].as_str().unwrap().to_string();
    let claim = |what: &str| {
        pg.query(&format!(
            "SELECT {what} FROM alert_claims WHERE live_id = '{id}' AND until IS NOT NULL"
        ))
    };
    let holder = claim("node");
    let left: u64 = claim("until - floor(extract(epoch FROM now()))::bigint")
        .parse()
        .expect("A's claim is held while its delivery hangs");
    let node_id = std::fs::read_to_string(tmp.path().join("a/node-id")).unwrap();
    assert!(
        holder.ends_with(&format!("node {}", node_id.trim())),
        "the claim names the node by its kept id: {holder:?}"
    );
    let killed = Instant::now();
    a.child.kill().unwrap();
    a.child.wait().unwrap();

    let a = node(&state, &tmp.path().join("a"), &api_args);
    let until = killed + Duration::from_secs(left);
    let mut messages = Vec::new();
    let paged = loop {
        let wait = until.saturating_duration_since(Instant::now());
        let m: Value = answered.recv_timeout(wait).unwrap_or_else(|_| {
            panic!("{id} not paged within its claim's lease ({left} s left at the kill): A waited for its own claim; {messages:?}")
        });
        if m["kind"] == "incident_new" && m["incident"]["live_id"] == id.as_str() {
            break killed.elapsed();
        }
        messages.push(m);
    };
    let mut rest = Vec::new();
    drain(&answered, &mut rest);
    let again = rest
        .iter()
        .chain(&messages)
        .filter(|m| m["kind"] == "incident_new" && m["incident"]["live_id"] == id.as_str())
        .count();
    assert_eq!(again, 0, "{id} paged once after the restart: {rest:?}");
    let s = get_json(&a.base, "/api/v1/stats", &admin);
    assert_eq!(
        s["alerts_sent_elsewhere"], 0,
        "its own claim is not another node's ({id} paged {paged:?} after the kill): {s}"
    );
    assert_eq!(claim("node"), "", "the delivery kept ended the claim");
}

/// Two communes on one api node with a webhook; PostgreSQL refuses
/// mairie-a's rows of live ids (a trigger raising for that tenant only,
/// as a damaged or constrained table would): mairie-a's incidents answer
/// 503 and it is paged for nothing, mairie-b's attack is named and paged.
#[test]
fn a_commune_whose_naming_fails_leaves_the_other_paged() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let (a, b) = ("mairie-a", "mairie-b");
    let ingest = [a, b].map(|t| token_for(&tokens, "ingest", t));
    let read = [a, b].map(|t| token_for(&tokens, "read", t));
    let state = tokens.join("state.db");
    let (url, received) = webhook();
    let conf = tmp.path().join("vigie.toml");
    common::write_private(&conf, format!("alert_webhook = \"{url}\"\n"));
    let ingest_node = node(
        &state,
        &tmp.path().join("ingest"),
        &regional(&nats, &pg, "ingest", None),
    );
    let _worker = node(
        &state,
        &tmp.path().join("w"),
        &regional(&nats, &pg, "detect", None),
    );
    let api = node(
        &state,
        &tmp.path().join("api"),
        &regional(&nats, &pg, "api", Some(&conf)),
    );
    // The nodes made the tables (migrations at their first connection).
    pg.query(
        "CREATE FUNCTION refuse_mairie_a() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'the test refuses mairie-a''s live ids'; END $$;
         CREATE TRIGGER refuse_mairie_a BEFORE INSERT OR UPDATE ON live_incidents
         FOR EACH ROW WHEN (NEW.tenant = 'mairie-a') EXECUTE FUNCTION refuse_mairie_a();",
    );
    let demo = make_demo(tmp.path());
    let files = jsonl_files(&demo.join("scenario/logs"));
    let sent_a = ingest_demo(&ingest_node.base, &ingest[0], &files);
    ingest_demo(&ingest_node.base, &ingest[1], &files);

    let until = Instant::now() + Duration::from_secs(240);
    let mut messages: Vec<Value> = Vec::new();
    while !messages
        .iter()
        .any(|m| m["kind"] == "incident_new" && m["tenant"] == b)
    {
        let wait = until.saturating_duration_since(Instant::now());
        let m = received
            .recv_timeout(wait)
            .unwrap_or_else(|_| panic!("{b} never paged while {a}'s naming fails: {messages:?}"));
        messages.push(m);
    }
    // a's events were observed (before b's, in the stream), its naming
    // tried and refused: its incidents say they cannot be named.
    let s = get_json(&api.base, "/api/v1/stats", &read[0]);
    assert_eq!(s["events_observed"], sent_a, "{s}");
    let r = http(
        &api.base,
        "GET",
        "/api/v1/incidents",
        &[("Authorization", &read[0])],
        None,
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("live ids cannot be read now"), "{}", r.body);
    let r = http(
        &api.base,
        "GET",
        "/api/v1/incidents",
        &[("Authorization", &read[1])],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.json().as_array().unwrap().is_empty(), "{}", r.body);
    drain(&received, &mut messages);
    assert!(
        messages.iter().all(|m| m["tenant"] == b),
        "nothing of {a} is paged while its ids cannot be kept: {messages:?}"
    );
}
