//! Two api nodes on one database, through the binary: the state people
//! change lives in PostgreSQL, so a CSIRT can run its api nodes behind a
//! load balancer (stickiness still needed for console sessions, which are
//! each node's) and restart one without losing anything. Real
//! nats-server (JetStream) and PostgreSQL, private to the test (skipped
//! without them outside CI).
//!
//! One `--role ingest`, one `--role detect` and two `--role api` nodes,
//! each with its own data directory (only the deployment's tokens copied
//! into it): a triage change made on A is read on B; a service's status
//! set on A and a notice published on A are on B's public status page;
//! an action requested on A is approved on B by a second person (the
//! requester's own approval refused on B: four eyes hold across nodes);
//! A restarted with an empty data directory has it all; an account to
//! disable, approved, executed on A and B at once reaches the directory
//! once (A claims it, B is told 409); indicators
//! uploaded on B are matched by the detect worker, and a rule turned off
//! on A is off in the worker's engine; the audit lines of both nodes form
//! one verified hash chain; a commune's token reads none of it, on both.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::console::{board_service, get_json, http, Resp};
use common::server::{jsonl_files, make_demo, spawn_serve, Server};
use serde_json::{json, Value};
use vigie_testkit::servers::{Nats, Postgres};

fn token(data: &Path, scope: &str, name: &str, tenant: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--scope", scope, "--name", name, "--tenant", tenant])
        .output()
        .unwrap();
    assert!(out.status.success());
    format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
}

/// A node with its own data directory holding only the deployment's
/// tokens (copied, as an operator copies `state.db`).
fn node(tokens: &Path, dir: &Path, args: &[String]) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(tokens.join("state.db"), dir.join("state.db")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args);
    spawn_serve(cmd)
}

fn post(base: &str, path: &str, auth: &str, body: &Value) -> Resp {
    http(
        base,
        "POST",
        path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    )
}

fn action<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no action {id}"))
}

/// (step, author) of an action's trail.
fn trail(a: &Value) -> Vec<(String, String)> {
    a["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["what"].as_str().unwrap().to_string(),
                e["author"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The public page's entry of a service, by its name.
fn public_service<'a>(page: &'a str, name: &str) -> &'a str {
    let at = page
        .find(&format!("<h4>{name}</h4>"))
        .unwrap_or_else(|| panic!("{name} on the page"));
    let end = page[at..].find("</li>").unwrap() + at;
    &page[at..end]
}

#[test]
fn two_api_nodes_share_triage_the_crisis_cell_and_four_eyes() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    let ingest = token(&tokens, "ingest", "shipper", "default");
    let alice = token(&tokens, "admin", "alice", "default");
    let bob = token(&tokens, "admin", "bob", "default");
    let other = token(&tokens, "read", "mairie-b", "mairie-b");
    // A directory that takes a connection and answers nothing for three
    // seconds (then the execution fails): how many executions reach it.
    let directory = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir_addr = directory.local_addr().unwrap();
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let reached = reached.clone();
        std::thread::spawn(move || {
            for conn in directory.incoming().flatten() {
                reached.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(3));
                    drop(conn);
                });
            }
        });
    }
    let pass = tmp.path().join("dc.pass");
    std::fs::write(&pass, "pas-le-vrai\n").unwrap();
    let respond = tmp.path().join("respond.toml");
    std::fs::write(
        &respond,
        format!(
            "[respond.directory]\nurl = \"ldaps://{dir_addr}\"\nbind = \"vigie@ccpab.local\"\npassword_file = {pass:?}\n"
        ),
    )
    .unwrap();
    let regional = |role: &str, assets: Option<&Path>| -> Vec<String> {
        let mut args = ["--bus", &nats.url(), "--db", &pg.url(), "--role", role]
            .map(str::to_string)
            .to_vec();
        if role == "api" {
            args.extend([
                "--config".to_string(),
                respond.to_str().unwrap().to_string(),
            ]);
        }
        if let Some(a) = assets {
            args.extend(["--assets".to_string(), a.to_str().unwrap().to_string()]);
        }
        args
    };
    let start = |name: &str, args: Vec<String>| {
        let (tokens, dir) = (tokens.clone(), tmp.path().join(name));
        std::thread::spawn(move || node(&tokens, &dir, &args))
    };
    // The ingest and detect nodes start while the demo is made; the api
    // nodes read its assets file (the communes' services).
    let (ingest_node, worker) = (
        start("ingest", regional("ingest", None)),
        start("w", regional("detect", None)),
    );
    let demo = make_demo(tmp.path());
    let assets = demo.join("scenario/assets.yml");
    let (a, b) = (
        start("a", regional("api", Some(&assets))),
        start("b", regional("api", Some(&assets))),
    );
    let ingest_node = ingest_node.join().unwrap();
    let worker = worker.join().unwrap();
    let mut a = a.join().unwrap();
    let b = b.join().unwrap();
    assert!(
        a.said.iter().any(|l| l.contains(
            "triage, crisis journal and containment proposals in PostgreSQL at postgres://vigie@"
        )),
        "{:?}",
        a.said
    );

    // The demo's events, judged by the worker and observed by both api
    // nodes (each keeps the live scope the plan is made from).
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
            let s = get_json(&node.base, "/api/v1/stats", &alice);
            if s["events_committed"] == sent && s["events_observed"] == sent {
                break;
            }
            assert!(Instant::now() < until, "not all judged: {s}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    // Triage made on A, read on B.
    // A detection stored by the worker (correlations are the api node's
    // own, served from its live scope).
    let detections = get_json(&a.base, "/api/v1/detections?limit=50", &alice);
    let id = detections
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "detection")
        .unwrap_or_else(|| panic!("a stored detection: {detections}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let change = json!({"kind": "detection", "id": id, "status": "acknowledged", "assignee": "alice", "comment": "vu sur le nœud A"});
    let r = post(&a.base, "/api/v1/triage", &alice, &change);
    assert_eq!(r.status, 200, "{}", r.body);
    let on_b = get_json(&b.base, "/api/v1/triage", &bob);
    let t = on_b
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"]["id"] == id.as_str())
        .unwrap_or_else(|| panic!("A's triage on B: {on_b}"));
    assert_eq!(t["status"], "acknowledged");
    assert_eq!(t["assignee"], "alice");
    assert_eq!(t["history"].as_array().unwrap().len(), 3, "{t}");

    // A service's status set on A: on B's board and public page.
    let before = http(&b.base, "GET", "/status", &[], None).body;
    assert!(!public_service(&before, "Centre aquatique").contains("s-maintenance"));
    let r = post(
        &a.base,
        "/api/v1/services/pool/status",
        &alice,
        &json!({"status": "maintenance", "reason": "fermé par précaution (nœud A)"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let board = get_json(&b.base, "/api/v1/services", &bob);
    assert_eq!(
        board_service(&board, "pool")["status"],
        "maintenance",
        "{board}"
    );
    let page = http(&b.base, "GET", "/status", &[], None);
    assert_eq!(page.status, 200);
    assert!(
        public_service(&page.body, "Centre aquatique").contains("s-maintenance"),
        "{}",
        public_service(&page.body, "Centre aquatique")
    );

    // A notice published on A: on B's public page.
    let r = post(
        &a.base,
        "/api/v1/notices",
        &alice,
        &json!({"title": "Centre aquatique fermé (nœud A)", "text": "Fermé par précaution ; réouverture annoncée ici.", "service": "pool"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = http(&b.base, "GET", "/status", &[], None).body;
    assert!(
        page.contains("Centre aquatique fermé (nœud A)"),
        "A's notice on B's public page"
    );

    // An action requested on A, approved on B; the requester's own
    // approval refused on B.
    let list = get_json(&a.base, "/api/v1/actions", &alice);
    let guarded = list["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["four_eyes"] == true && x["state"] == "proposed")
        .unwrap_or_else(|| panic!("a four-eyes action: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let step = |base: &str, who: &str, what: &str| {
        post(
            base,
            &format!("/api/v1/actions/{guarded}/{what}"),
            who,
            &json!({}),
        )
    };
    let r = step(&a.base, &alice, "request");
    assert_eq!(r.status, 200, "{}", r.body);
    let own = step(&b.base, &alice, "approve");
    assert!(
        own.status == 403 || own.status == 409,
        "self-approval on the other node: {} {}",
        own.status,
        own.body
    );
    assert_eq!(
        action(&get_json(&b.base, "/api/v1/actions", &bob), &guarded)["state"],
        "requested"
    );
    let r = step(&b.base, &bob, "approve");
    assert_eq!(r.status, 200, "{}", r.body);
    let on_a = get_json(&a.base, "/api/v1/actions", &alice);
    assert_eq!(action(&on_a, &guarded)["state"], "approved");
    assert_eq!(
        trail(action(&on_a, &guarded)),
        [
            ("proposed", "vigie"),
            ("request", "token:alice"),
            ("approve", "token:bob")
        ]
        .map(|(w, a)| (w.to_string(), a.to_string()))
    );

    // A restarted on a new, empty data directory: nothing lost.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    drop(a);
    let a = node(
        &tokens,
        &tmp.path().join("a-again"),
        &regional("api", Some(&assets)),
    );
    let t = get_json(&a.base, "/api/v1/triage", &alice);
    assert!(
        t.as_array()
            .unwrap()
            .iter()
            .any(|t| t["target"]["id"] == id.as_str() && t["status"] == "acknowledged"),
        "{t}"
    );
    let board = get_json(&a.base, "/api/v1/services", &alice);
    assert_eq!(board_service(&board, "pool")["status"], "maintenance");
    let on_a = get_json(&a.base, "/api/v1/actions", &alice);
    assert_eq!(action(&on_a, &guarded)["state"], "approved");
    assert_eq!(trail(action(&on_a, &guarded)).len(), 3);

    // An account to disable, approved, executed on A and on B at once:
    // one claims it and reaches the directory, the other is told (409)
    // without reaching it.
    let list = get_json(&a.base, "/api/v1/actions", &alice);
    let account = list["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "disable_account" && x["state"] == "proposed")
        .unwrap_or_else(|| panic!("an account to disable: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let at = |base: &str, who: &str, what: &str| {
        post(
            base,
            &format!("/api/v1/actions/{account}/{what}"),
            who,
            &json!({}),
        )
    };
    assert_eq!(at(&a.base, &alice, "request").status, 200);
    assert_eq!(at(&b.base, &bob, "approve").status, 200);
    let first = {
        let (base, who) = (a.base.clone(), alice.clone());
        let account = account.clone();
        std::thread::spawn(move || {
            post(
                &base,
                &format!("/api/v1/actions/{account}/execute"),
                &who,
                &json!({}),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(1000));
    let second = at(&b.base, &bob, "execute");
    let first = first.join().unwrap();
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(
        second.body.contains("autre nœud") || second.body.contains("another node"),
        "{}",
        second.body
    );
    assert_eq!(
        first.status, 502,
        "the directory did not answer: {}",
        first.body
    );
    assert_eq!(
        reached.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one execution reached the directory"
    );
    // Its failure is in the trail once; the claim is let go: asked
    // again, the execution reaches the directory again.
    let on_b = get_json(&b.base, "/api/v1/actions", &bob);
    let steps: Vec<String> = trail(action(&on_b, &account))
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    assert_eq!(
        steps.iter().filter(|w| w.contains("fail")).count(),
        1,
        "{steps:?}"
    );
    assert_eq!(at(&b.base, &bob, "execute").status, 502);
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 2);

    // A client that goes away while the directory holds its execution:
    // the claim stays with the work, not the request — B is told 409
    // without reaching the directory — and the outcome is still kept
    // once the directory lets go.
    let fails = || {
        trail(action(
            &get_json(&b.base, "/api/v1/actions", &bob),
            &account,
        ))
        .into_iter()
        .filter(|(w, _)| w.contains("fail"))
        .count()
    };
    let before = fails();
    {
        use std::io::Write;
        let addr = a.base.trim_start_matches("http://").to_string();
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            conn,
            "POST /api/v1/actions/{account}/execute HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {alice}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
        )
        .unwrap();
        conn.flush().unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while reached.load(std::sync::atomic::Ordering::SeqCst) < 3 {
            assert!(
                Instant::now() < until,
                "the execution never reached the directory"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Gone while the directory holds it.
    }
    std::thread::sleep(Duration::from_millis(300));
    let r = at(&b.base, &bob, "execute");
    assert_eq!(r.status, 409, "the claim went with the client: {}", r.body);
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 3);
    let until = Instant::now() + Duration::from_secs(20);
    while fails() < before + 1 {
        assert!(Instant::now() < until, "the outcome was never kept");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(fails(), before + 1);

    // Indicators uploaded on B (an analyst's act, one set for the
    // deployment): the detect worker matches them, once its poll of
    // PostgreSQL read them (it lists them when it holds them).
    let r = http(
        &b.base,
        "POST",
        "/api/v1/indicators?name=csirt-list",
        &[("Authorization", &bob)],
        Some(b"198.51.100.77\n"),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(30);
    for node in [&worker, &a] {
        loop {
            let held = get_json(&node.base, "/api/v1/indicators", &alice);
            if held["sources"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["name"] == "csirt-list"))
            {
                break;
            }
            assert!(Instant::now() < until, "B's upload not held: {held}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let event = json!({
        "EventID": 3,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "PC-IOC.mairie.local",
        "EventRecordID": 777_001,
        "UtcTime": "2026-01-17 09:00:00.000",
        "Image": "C:\\Users\\Public\\x.exe",
        "DestinationIp": "198.51.100.77",
        "DestinationPort": 443
    });
    let r = http(
        &ingest_node.base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(format!("{event}\n").as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        // Stored in PostgreSQL: by the worker (api nodes store nothing).
        let all = get_json(&a.base, "/api/v1/detections?limit=10000", &alice);
        if all
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "ioc" && d["record_id"] == 777_001)
        {
            break;
        }
        assert!(
            Instant::now() < until,
            "the worker never matched B's upload"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // A rule turned off on A: the detect worker's engine is rebuilt from
    // PostgreSQL (its rules no longer hold it), and the rule's event sent
    // again raises nothing of it there, while another rule's event does.
    let stored = get_json(&a.base, "/api/v1/detections?limit=10000", &alice);
    let replayable: Vec<&Value> = stored
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["kind"] == "detection" && d["event"]["Event"]["System"]["EventRecordID"].is_number()
        })
        .collect();
    let off = replayable[0].clone();
    let rule = off["rule_id"].as_str().unwrap().to_string();
    let control = replayable
        .iter()
        .find(|d| d["rule_id"] != rule.as_str())
        .expect("a detection of another rule")
        .to_owned()
        .clone();
    let r = post(
        &a.base,
        &format!("/api/v1/rules/{rule}/switch"),
        &alice,
        &json!({"enabled": false, "reason": "bruyant sur le serveur de sauvegarde (nœud A)"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let rules = get_json(&worker.base, "/api/v1/rules", &alice);
        if !rules["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == rule.as_str())
        {
            break;
        }
        assert!(
            Instant::now() < until,
            "the worker still judges with {rule}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let replay = |d: &Value, record: u64| {
        let mut ev = d["event"].clone();
        ev["Event"]["System"]["EventRecordID"] = record.into();
        ev.to_string()
    };
    let body = format!("{}\n{}\n", replay(&off, 888_001), replay(&control, 888_002));
    let r = http(
        &ingest_node.base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let all = get_json(&a.base, "/api/v1/detections?limit=10000", &alice);
        if all
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["record_id"] == 888_002 && d["rule_id"] == control["rule_id"])
        {
            break all;
        }
        assert!(Instant::now() < until, "the control event was not judged");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        !after.as_array().unwrap().iter().any(|d| {
            d["rule_id"] == rule.as_str()
                && (d["record_id"] == 888_001 || d["record_id"] == 888_002)
        }),
        "{rule}, turned off on A, still raised by the worker"
    );

    // The audit log: one hash chain in the database, lines of both nodes
    // (each export audited too, on the node that gave it).
    let export = |node: &Server, who: &str| {
        let r = http(
            &node.base,
            "GET",
            "/api/v1/audit",
            &[("Authorization", who)],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    };
    let from_a = export(&a, &alice);
    let from_b = export(&b, &bob);
    assert!(from_b.starts_with(&from_a), "one log, read on both nodes");
    let n = vigie_console::audit::verify_bytes(from_b.as_bytes())
        .unwrap_or_else(|e| panic!("the chain breaks: {e}"));
    let lines: Vec<Value> = from_b
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(n, lines.len());
    for (action, who) in [
        ("triage_status", "token:alice"),
        ("service_status", "token:alice"),
        ("notice_publish", "token:alice"),
        ("action_request", "token:alice"),
        ("action_approve", "token:bob"),
        ("indicators_add", "token:bob"),
        ("rule_disable", "token:alice"),
        ("audit_export", "token:alice"),
        ("audit_export", "token:bob"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l["action"] == action && l["who"] == who && l["outcome"] == "success"),
            "{action} by {who} in the shared audit log: {from_b}"
        );
    }

    // Another commune's token: none of it, on either node.
    for node in [&a, &b] {
        for path in [
            "/api/v1/triage?tenant=default",
            "/api/v1/actions?tenant=default",
            "/api/v1/services?tenant=default",
        ] {
            let r = http(&node.base, "GET", path, &[("Authorization", &other)], None);
            assert_eq!(r.status, 403, "{path}: {}", r.body);
        }
        let theirs = get_json(&node.base, "/api/v1/triage", &other);
        assert_eq!(theirs, json!([]), "mairie-b's own triage is empty");
        let r = post(
            &node.base,
            &format!("/api/v1/actions/{guarded}/approve"),
            &other,
            &json!({}),
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
}
