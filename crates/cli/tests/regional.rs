//! The regional deployment through the binary: `vigie serve` processes of
//! each role on a real nats-server (JetStream) and a real PostgreSQL, both
//! private to the test (skipped without them outside CI).
//!
//! - An ingest node takes the demo's events; two `detect` workers share
//!   the stream's one durable consumer; an `api` node answers from
//!   PostgreSQL: the same detections as one `vigie hunt` over the same
//!   files, each once.
//! - One worker is killed with `kill -9` while the stream is judged:
//!   nothing lost (its events go to the other after the ack wait), nothing
//!   doubled (deterministic ids, inserted once).
//! - A commune's token reads its own detections only, on every read route.
//! - NATS down: the ingest node answers 503 with `Retry-After`, and takes
//!   events again once NATS is back; nothing acknowledged is lost.
//! - A commune's console account (`vigie user add --tenant`) reads its own
//!   tenant only, on every read route, whatever its role (no servers
//!   needed: the embedded store).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::console::{add_user_with, code, http, signed_in, Person};
use common::serve::tenant_read_routes;
use common::serve::token_of as token;
use common::server::{
    detection_keys, hunt_detections, jsonl_files, make_demo, of_kind, scope_claims, spawn_serve,
    Server,
};
use serde_json::Value;
use vigie_testkit::servers::{Nats, Postgres};

fn vigie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
}

/// A node of the deployment: its own data directory, with the
/// deployment's tokens (copied, as an operator copies `state.db`).
fn node<S: AsRef<std::ffi::OsStr>>(tokens: &Path, dir: &Path, args: &[S]) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(tokens.join("state.db"), dir.join("state.db")).unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args);
    spawn_serve(cmd)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn get(base: &str, path: &str, token: &str) -> (u16, String) {
    let mut resp = agent()
        .get(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

/// Status, `Retry-After`, body.
fn post(base: &str, path: &str, token: &str, body: &[u8]) -> (u16, Option<String>, Value) {
    let mut resp = agent()
        .post(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.body_mut().read_to_string().unwrap();
    (
        status,
        retry,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn stats(base: &str, admin: &str) -> Value {
    let (s, body) = get(base, "/api/v1/stats", admin);
    assert_eq!(s, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn two_detect_workers_one_killed_give_hunts_detections_once() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // The demo's events, and `vigie hunt` over them, made while the
    // deployment starts and judges (independent work, a debug build).
    let made = {
        let dir = tmp.path().to_path_buf();
        std::thread::spawn(move || {
            let demo = make_demo(&dir);
            let logs = demo.join("scenario/logs");
            let files = jsonl_files(&logs);
            let only = dir.join("jsonl");
            for f in &files {
                let to = only.join(f.strip_prefix(&logs).unwrap());
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(f, &to).unwrap();
            }
            let hunting = std::thread::spawn(move || hunt_detections(&only, &dir));
            (files, hunting)
        })
    };
    let tokens = tmp.path().join("tokens");
    let ingest_token = token(&tokens, "ingest", "default");
    let admin = token(&tokens, "admin", "default");
    let read = token(&tokens, "read", "default");
    let other = token(&tokens, "read", "mairie-b");
    let (bus, db) = (nats.url(), pg.url());
    let regional = |role: &'static str| -> Vec<String> {
        vec![
            "--bus".into(),
            bus.clone(),
            "--db".into(),
            db.clone(),
            "--role".into(),
            role.into(),
            "--bus-ack-wait".into(),
            "3".into(),
        ]
    };
    // The four nodes start together (each compiles the rules).
    let starting: Vec<_> = [
        ("ingest", "ingest"),
        ("api", "api"),
        ("w1", "detect"),
        ("w2", "detect"),
    ]
    .into_iter()
    .map(|(name, role)| {
        let (tokens, dir, args) = (tokens.clone(), tmp.path().join(name), regional(role));
        std::thread::spawn(move || node(&tokens, &dir, &args))
    })
    .collect();
    let mut started = starting.into_iter().map(|t| t.join().unwrap());
    let ingest = started.next().unwrap();
    let api = started.next().unwrap();
    let mut w1 = started.next().unwrap();
    let w2 = started.next().unwrap();

    // Roles: the api node takes no events.
    let (s, _, _) = post(&api.base, "/api/v1/ingest", &ingest_token, b"{}\n");
    assert_eq!(s, 421);

    let (files, hunting) = made.join().unwrap();
    assert!(files.len() > 20);
    let mut sent = 0u64;
    let mut killed_at = None;
    for (i, f) in files.iter().enumerate() {
        let body = std::fs::read(f).unwrap();
        let (s, _, r) = post(&ingest.base, "/api/v1/ingest", &ingest_token, &body);
        assert_eq!(s, 200, "{f:?}: {r}");
        assert_eq!(r["rejected"], 0, "{f:?}: {r}");
        sent += r["accepted"].as_u64().unwrap();
        // Half way, once the workers have begun: one is killed.
        if killed_at.is_none() && i >= files.len() / 2 {
            let until = Instant::now() + Duration::from_secs(120);
            while stats(&api.base, &admin)["events_committed"].as_u64() == Some(0) {
                assert!(Instant::now() < until, "the workers never began");
                std::thread::sleep(Duration::from_millis(50));
            }
            let s = stats(&api.base, &admin);
            w1.child.kill().unwrap(); // SIGKILL: no clean stop.
            w1.child.wait().unwrap();
            killed_at = Some(s["events_committed"].as_u64().unwrap());
        }
    }
    let killed_at = killed_at.unwrap();
    assert!(
        killed_at < sent,
        "killed mid-stream ({killed_at} of {sent})"
    );

    // The deployment's figures: every event stored and judged.
    let until = Instant::now() + Duration::from_secs(240);
    loop {
        let s = stats(&api.base, &admin);
        assert_eq!(s["events_stored"], sent, "{s}");
        if s["events_committed"] == sent {
            break;
        }
        assert!(Instant::now() < until, "not all judged: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The same files through `vigie hunt`.
    let hunted = hunting.join().unwrap();
    assert!(hunted.len() > 100, "{} detections", hunted.len());
    let (s, body) = get(&api.base, "/api/v1/detections?limit=10000", &read);
    assert_eq!(s, 200, "{body}");
    let served: Vec<Value> = serde_json::from_str(&body).unwrap();
    let served = of_kind(&served, "detection");
    assert_eq!(
        detection_keys(&served),
        detection_keys(&hunted),
        "the deployment and hunt agree"
    );
    assert_eq!(served.len(), hunted.len(), "none doubled");
    let ids: BTreeSet<&str> = served.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), served.len());
    // The evidence behind a detection is read back from the stream by
    // its sequence, as the embedded log gives it: the event as received.
    let first = ids.iter().next().unwrap();
    let (s, body) = get(&api.base, &format!("/api/v1/detections/{first}"), &read);
    assert_eq!(s, 200, "{body}");
    let one: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(one["raw_event_from_log"], true, "{one}");
    let raw: Value = serde_json::from_str(one["raw_event"].as_str().unwrap()).unwrap();
    assert!(raw.is_object(), "{raw}");
    let whole = stats(&api.base, &admin);
    assert_eq!(whole["detections"], hunted.len() as u64, "{whole}");
    // The surviving worker judged what the killed one held.
    let (_, w2_stats) = get(&w2.base, "/api/v1/stats", &admin);
    let w2_stats: Value = serde_json::from_str(&w2_stats).unwrap();
    assert!(
        w2_stats["events_processed"].as_u64().unwrap() >= sent - killed_at,
        "{w2_stats}"
    );

    // The api node's live scope (it observes the whole stream; the
    // workers each see part of it) says what `hunt --scope` says; a
    // worker keeps none and says where it is.
    // The scope is asked once every event is observed, never before: an
    // answer computed while the last batch was still being observed, then
    // followed by a count that had caught up, was taken as the whole (one
    // detection fewer, under load).
    let until = Instant::now() + Duration::from_secs(120);
    let live: Value = loop {
        let observed = stats(&api.base, &read)["events_observed"].as_u64();
        let (s, body) = if observed == Some(sent) {
            get(&api.base, "/api/v1/scope", &read)
        } else {
            (0, String::new())
        };
        if s == 200 {
            break serde_json::from_str(&body).unwrap();
        }
        assert!(
            Instant::now() < until,
            "the api node's scope: {s} {observed:?} of {sent}: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let hunted_scope: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("hunt-scope.json")).unwrap())
            .unwrap();
    assert!(!live["incidents"].as_array().unwrap().is_empty());
    assert_eq!(scope_claims(&live), scope_claims(&hunted_scope));
    let (s, _) = get(&api.base, "/api/v1/incidents", &read);
    assert_eq!(s, 200);
    let (s, body) = get(&w2.base, "/api/v1/scope", &read);
    assert_eq!(s, 421, "{body}");

    // Another commune's token: nothing of `default`, on every read route.
    let (s, body) = get(&api.base, "/api/v1/detections?limit=10000", &other);
    assert_eq!(s, 200);
    assert_eq!(body.trim(), "[]");
    let theirs = stats(&api.base, &other);
    assert_eq!(theirs["detections"], 0, "{theirs}");
    for path in tenant_read_routes(false) {
        let (s, body) = get(&api.base, &format!("{path}?tenant=default"), &other);
        assert_eq!(s, 403, "{path} read another commune's: {body}");
    }
}

#[test]
fn nats_down_means_503_and_nothing_acknowledged_lost() {
    let (Some(mut nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest_token = token(&tokens, "ingest", "default");
    let admin = token(&tokens, "admin", "default");
    let (bus, db) = (nats.url(), pg.url());
    let ingest = node(
        &tokens,
        &tmp.path().join("ingest"),
        &["--bus", &bus, "--role", "ingest"],
    );
    // Events handed to the worker while NATS was away come back after the
    // ack wait: short here, so the wait below (60 s) is well past it.
    let all = node(
        &tokens,
        &tmp.path().join("all"),
        &["--bus", &bus, "--db", &db, "--bus-ack-wait", "5"],
    );
    let line = |n: u32| format!("{{\"n\":{n},\"message\":\"event {n}\"}}\n").into_bytes();
    let (s, _, r) = post(&ingest.base, "/api/v1/ingest", &ingest_token, &line(1));
    assert_eq!((s, r["accepted"].as_u64()), (200, Some(1)), "{r}");

    nats.stop();
    let (s, retry, r) = post(&ingest.base, "/api/v1/ingest", &ingest_token, &line(2));
    assert_eq!(s, 503, "{r}");
    assert!(retry.is_some(), "503 says when to retry");
    assert!(
        r["error"].as_str().unwrap().contains("not acknowledged"),
        "a publish that timed out may be stored: never \"not stored\": {r}"
    );
    // Unknown, not 0: an ingest node judges nothing, and the stream it
    // would count cannot be read.
    let s = stats(&ingest.base, &admin);
    assert!(s["events_processed"].is_null(), "{s}");
    assert!(s["events_stored"].is_null(), "{s}");
    // Prometheus the same: no sample rather than a 0.
    let (_, metrics) = get(&ingest.base, "/metrics", &admin);
    assert!(
        metrics.contains("\nvigie_store_readable 0\n")
            && !metrics.contains("\nvigie_events_stored_total "),
        "{metrics}"
    );
    // A search while the stream is away: 503, send it again — not a 400
    // that says the request was wrong.
    let (s, body) = get(&all.base, "/api/v1/search?q=event", &admin);
    assert_eq!(s, 503, "{body}");

    nats.resume();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, _, r) = post(&ingest.base, "/api/v1/ingest", &ingest_token, &line(3));
        if s == 200 {
            break;
        }
        assert_eq!(s, 503, "{r}");
        assert!(Instant::now() < until, "NATS back, ingestion not: {r}");
        std::thread::sleep(Duration::from_millis(250));
    }
    // What was acknowledged is there, and judged by the `all` node.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let s = stats(&all.base, &admin);
        let stored = s["events_stored"].as_u64().unwrap();
        assert!(stored >= 2, "{s}");
        if s["events_committed"].as_u64() == Some(stored) {
            break;
        }
        assert!(Instant::now() < until, "not judged: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `vigie user add NAME --role ROLE --tenant T` (password on stdin).
fn add_user_of(
    data: &Path,
    name: &str,
    role: &str,
    tenant: &str,
    pw: &str,
) -> std::process::Output {
    add_user_with(data, name, role, pw, &["--tenant", tenant])
}

#[test]
fn a_communes_account_reads_its_own_tenant_only() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let bea_pw = "mairie de Bénodet, lecture";
    let out = add_user_of(&data, "bea", "analyst", "mairie-b", bea_pw);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The CSIRT's own analyst: no commune, reads every one.
    let yann_pw = "analyste du CSIRT régional";
    let out = add_user_with(&data, "yann", "analyst", yann_pw, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An admin of the commune: a second factor, and still its tenant only.
    let chef_pw = "le maire adjoint, admin";
    let out = add_user_of(&data, "chef", "admin", "mairie-b", chef_pw);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let chef_totp = totp_rs::Totp::from_url(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    let bad = add_user_of(&data, "x", "viewer", " mairie", "long enough password");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a tenant name with a space at an end"
    );
    // A tenant is one spelling everywhere (a NATS subject, a file, a URL):
    // what would be a wildcard, a subject's dot, another case or a typo's
    // space is refused, for a token as for an account.
    for bad in ["*", ">", "mairie-a.http", "Mairie-B", "mairie b", ""] {
        let out = vigie()
            .args([
                "token", "create", "--scope", "ingest", "--tenant", bad, "--data",
            ])
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "token of tenant {bad:?}");
        assert!(out.stdout.is_empty(), "no token printed for {bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("lower-case letters"),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = add_user_of(&data, "x", "viewer", bad, "long enough password");
        assert_eq!(out.status.code(), Some(2), "account of tenant {bad:?}");
    }
    let list = vigie()
        .args(["user", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.starts_with("name\trole\ttotp\tlocked_until\tcreated\ttenant\n"),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("bea\tanalyst\tno\t") && l.ends_with("\tmairie-b")),
        "{list}"
    );

    let ingest_a = token(&data, "ingest", "default");
    let ingest_b = token(&data, "ingest", "mairie-b");
    let admin = token(&data, "admin", "default");
    std::fs::write(tmp.path().join("whoami.yml"), common::WHOAMI_RULE).unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(&data)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
        ])
        .arg(tmp.path().join("whoami.yml"));
    let server = spawn_serve(cmd);
    let base = server.base.clone();
    for (tok, record) in [(&ingest_a, 1), (&ingest_b, 2)] {
        let line = common::sysmon1(
            record,
            "2026-03-02T09:00:00Z",
            "C:\\\\Windows\\\\System32\\\\whoami.exe",
        );
        let (s, _, r) = post(&base, "/api/v1/ingest", tok, format!("{line}\n").as_bytes());
        assert_eq!((s, r["accepted"].as_u64()), (200, Some(1)), "{r}");
    }
    let until = Instant::now() + Duration::from_secs(60);
    while stats(&base, &admin)["events_committed"].as_u64() != Some(2) {
        assert!(Instant::now() < until, "not judged");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The deployment's admin token reads both communes.
    for tenant in ["default", "mairie-b"] {
        let (s, body) = get(
            &base,
            &format!("/api/v1/detections?tenant={tenant}"),
            &admin,
        );
        let list: Vec<Value> = serde_json::from_str(&body).unwrap();
        assert_eq!((s, list.len()), (200, 1), "{tenant}: {body}");
    }
    // Its stats without `?tenant=`: the whole deployment's, each commune
    // on its own line, not its own tenant's alone.
    let whole = loop {
        let whole = stats(&base, &admin);
        if whole["events_observed"] == 2 {
            break whole;
        }
        assert!(Instant::now() < until, "not observed: {whole}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(whole["tenant"].is_null(), "{whole}");
    let lines = whole["tenants"].as_array().unwrap();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "mairie-b"], "{whole}");
    assert!(lines.iter().all(|l| l["events_observed"] == 1), "{whole}");
    // The sum of incidents counts the communes analysed and says how
    // many it leaves out: never a total that reads as complete.
    let not_analysed = |whole: &Value| -> u64 {
        let lines = whole["tenants"].as_array().unwrap();
        lines.iter().filter(|l| l["incidents"].is_null()).count() as u64
    };
    assert_eq!(
        whole["incidents_not_counted"].as_u64(),
        Some(not_analysed(&whole)),
        "{whole}"
    );
    // Stats never start an analysis: the incidents of default asked for
    // (an analysis), mairie-b's not.
    let (s, body) = get(&base, "/api/v1/incidents?tenant=default", &admin);
    assert_eq!(s, 200, "{body}");
    let listed = serde_json::from_str::<Value>(&body)
        .unwrap()
        .as_array()
        .unwrap()
        .len() as u64;
    let whole = stats(&base, &admin);
    let line = |whole: &Value, t: &str| {
        whole["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["tenant"] == t)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        line(&whole, "default")["incidents"].as_u64(),
        Some(listed),
        "{whole}"
    );
    if line(&whole, "mairie-b")["incidents"].is_null() {
        assert_eq!(whole["incidents"].as_u64(), Some(listed), "{whole}");
        assert_eq!(whole["incidents_not_counted"], 1, "{whole}");
    }
    let (s, body) = get(&base, "/api/v1/incidents?tenant=mairie-b", &admin);
    assert_eq!(s, 200, "{body}");
    let listed_b = serde_json::from_str::<Value>(&body)
        .unwrap()
        .as_array()
        .unwrap()
        .len() as u64;
    let whole = stats(&base, &admin);
    assert_eq!(
        whole["incidents"].as_u64(),
        Some(listed + listed_b),
        "{whole}"
    );
    assert_eq!(whole["incidents_not_counted"], 0, "{whole}");
    assert_eq!(whole["events_future"], 0, "{whole}");

    let bea = signed_in(&base, "bea", bea_pw, "");
    let chef = signed_in(&base, "chef", chef_pw, &code(&chef_totp));
    let as_person =
        |p: &Person, path: &str| http(&base, "GET", path, &[("Cookie", &p.cookie)], None);
    for (who, p) in [("bea", &bea), ("chef", &chef)] {
        // Its own commune's, without asking and when asking.
        for path in ["/api/v1/detections", "/api/v1/detections?tenant=mairie-b"] {
            let r = as_person(p, path);
            assert_eq!(r.status, 200, "{who} {path}: {}", r.body);
            let list = r.json();
            let list = list.as_array().unwrap();
            assert_eq!(list.len(), 1, "{who}: {list:?}");
            assert_eq!(list[0]["tenant"], "mairie-b");
            assert_eq!(list[0]["record_id"], 2);
        }
        let own = as_person(p, "/api/v1/stats").json();
        assert_eq!(own["tenant"], "mairie-b", "{own}");
        assert_eq!(own["detections"], 1, "{own}");
        assert!(
            own["events_stored"].is_null(),
            "no server-wide figure: {own}"
        );
        // Another commune's: refused on every read route.
        let open: Vec<(String, u16)> = tenant_read_routes(true)
            .into_iter()
            .map(|path| {
                let r = as_person(p, &format!("{path}?tenant=default"));
                (path, r.status)
            })
            .filter(|(_, s)| *s != 403)
            .collect();
        assert!(open.is_empty(), "{who} read another commune's on {open:?}");
    }
    // The CSIRT's analyst reads each commune when it asks, and its
    // statistics are the whole deployment's (docs/regional.md).
    let yann = signed_in(&base, "yann", yann_pw, "");
    for tenant in ["default", "mairie-b"] {
        let r = as_person(&yann, &format!("/api/v1/detections?tenant={tenant}"));
        assert_eq!(r.status, 200, "yann {tenant}: {}", r.body);
        let list = r.json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["tenant"], tenant);
    }
    // … but changes none of them: that is the deployment's administrators'.
    let save = |tenant: &str| {
        http(
            &base,
            "POST",
            &format!("/api/v1/searches?tenant={tenant}"),
            &[
                ("Cookie", &yann.cookie),
                ("X-CSRF-Token", &yann.csrf),
                ("Content-Type", "application/json"),
            ],
            Some(br#"{"name":"whoami","query":"whoami"}"#.as_slice()),
        )
    };
    let r = save("mairie-b");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("administrators"), "{}", r.body);
    let r = save("default");
    assert!(r.status < 300, "its own tenant's: {} {}", r.status, r.body);
    let whole = as_person(&yann, "/api/v1/stats").json();
    assert!(whole["tenant"].is_null(), "{whole}");
    assert_eq!(whole["tenants"].as_array().unwrap().len(), 2, "{whole}");
    // A read token of the deployment stays its own tenant's.
    let read = token(&data, "read", "default");
    let (s, _) = get(&base, "/api/v1/detections?tenant=mairie-b", &read);
    assert_eq!(s, 403);
}

#[test]
fn postgres_down_means_503_on_reads_and_nothing_lost() {
    let (Some(nats), Some(mut pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest_token = token(&tokens, "ingest", "default");
    let admin = token(&tokens, "admin", "default");
    let read = token(&tokens, "read", "default");
    let rule = tmp.path().join("whoami.yml");
    std::fs::write(&rule, common::WHOAMI_RULE).unwrap();
    let all = node(
        &tokens,
        &tmp.path().join("all"),
        &[
            "--bus",
            &nats.url(),
            "--db",
            &pg.url(),
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            rule.to_str().unwrap(),
        ],
    );
    let whoami = |record: u64| {
        let line = common::sysmon1(
            record,
            "2026-03-02T09:00:00Z",
            "C:\\\\Windows\\\\System32\\\\whoami.exe",
        );
        format!("{line}\n").into_bytes()
    };
    let judged = |n: u64| {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let s = stats(&all.base, &admin);
            if s["events_committed"].as_u64() == Some(n) {
                return s;
            }
            assert!(Instant::now() < until, "not judged: {s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let (s, _, r) = post(&all.base, "/api/v1/ingest", &ingest_token, &whoami(1));
    assert_eq!(s, 200, "{r}");
    assert_eq!(judged(1)["detections"], 1);

    pg.stop();
    // Events are still taken (the stream holds them) …
    let (s, _, r) = post(&all.base, "/api/v1/ingest", &ingest_token, &whoami(2));
    assert_eq!(s, 200, "{r}");
    // … but not acknowledged by the worker while their detections cannot
    // be stored; reads say the store is unavailable, never "none".
    std::thread::sleep(Duration::from_secs(2));
    let s = stats(&all.base, &admin);
    assert_eq!(s["events_committed"], 1, "{s}");
    assert!(s["detections"].is_null(), "unknown is not zero: {s}");
    let (status, body) = get(&all.base, "/api/v1/detections", &read);
    assert_eq!(status, 503, "{body}");

    pg.resume();
    let s = judged(2);
    assert_eq!(s["detections"], 2, "{s}");
    let (status, body) = get(&all.base, "/api/v1/detections", &read);
    assert_eq!(status, 200, "{body}");
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    let records: BTreeSet<u64> = list
        .iter()
        .filter_map(|d| d["record_id"].as_u64())
        .collect();
    assert_eq!(records, [1, 2].into());
}
