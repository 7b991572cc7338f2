//! The console's accounts, sessions and API tokens of a regional
//! deployment, through the binary: made once in PostgreSQL with `vigie
//! user add --db` and `vigie token create --db`, valid on every api node;
//! an account removed, a token revoked, refused on every node within the
//! bound; each change in the shared audit log. Real nats-server
//! (JetStream) and PostgreSQL, private to the test (skipped without them
//! outside CI). The api nodes' data directories hold no `tokens.jsonl`
//! nor `users.json`: what opens them is the database's.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::console::{get_json, http, login, me_status, Person};
use common::server::{spawn_serve, Server};
use common::{sysmon1, WHOAMI_RULE};
use serde_json::{json, Value};
use vigie_testkit::servers::{Nats, Postgres};

fn vigie(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        let _ = input.write_all(s.as_bytes());
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn said(o: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `vigie token create --db`: the token, printed alone on stdout.
fn token(db: &str, scope: &str, name: &str, tenant: &str) -> String {
    let out = vigie(
        &[
            "token", "create", "--db", db, "--scope", scope, "--name", name, "--tenant", tenant,
        ],
        None,
    );
    assert!(out.status.success(), "{}", said(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "the token and nothing else: {stdout:?}"
    );
    format!("Bearer {}", stdout.trim())
}

/// The id `vigie token list --db` gives the token named `name`.
fn token_id(db: &str, name: &str) -> String {
    let out = vigie(&["token", "list", "--db", db], None);
    assert!(out.status.success(), "{}", said(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find(|l| l.split('\t').nth(1) == Some(name))
        .unwrap_or_else(|| panic!("{name} listed"))
        .split('\t')
        .next()
        .unwrap()
        .to_string()
}

fn node(dir: &Path, args: Vec<String>) -> Server {
    std::fs::create_dir_all(dir).unwrap();
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

/// How long `f` took to become true, `bound` at most (else a panic
/// saying `what`).
fn within(bound: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if f() {
            return start.elapsed();
        }
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(base: &str, path: &str, auth: &str) -> u16 {
    http(base, "GET", path, &[("Authorization", auth)], None).status
}

const PASSWORD: &str = "analyste du CSIRT, nœud A ou B";

#[test]
fn accounts_sessions_and_tokens_are_the_deployments_on_every_api_node() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let started = Instant::now();
    let db = pg.url();
    let tmp = tempfile::tempdir().unwrap();

    // A password on the command line is refused, and not repeated.
    let with_pw = db.replacen("vigie@", "vigie:s3cret-pw@", 1);
    let out = vigie(&["token", "list", "--db", &with_pw], None);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(!said(&out).contains("s3cret-pw"), "{}", said(&out));
    // The URL from a `vigie serve` configuration file's `db` key.
    let config = tmp.path().join("vigie.toml");
    std::fs::write(&config, format!("db = \"{db}\"\n")).unwrap();

    // Made once, in the database.
    let out = vigie(
        &["user", "add", "alan", "--role", "analyst", "--db", &db],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", said(&out));
    let out = vigie(
        &[
            "user",
            "add",
            "alan",
            "--role",
            "viewer",
            "--config",
            config.to_str().unwrap(),
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(out.status.code(), Some(2), "a name taken: {}", said(&out));
    let out = vigie(
        &["user", "list", "--config", config.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", said(&out));
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.lines().any(|l| l.starts_with("alan\tanalyst\tno\t")),
        "{listed}"
    );
    let admin = token(&db, "admin", "csirt", "default");
    let ingest = token(&db, "ingest", "shipper", "default");
    let ingest_b = token(&db, "ingest", "shipper-b", "mairie-b");
    let admin_b = token(&db, "admin", "mairie-b-admin", "mairie-b");

    let regional = |role: &str| -> Vec<String> {
        ["--bus", &nats.url(), "--db", &db, "--role", role]
            .map(str::to_string)
            .to_vec()
    };
    let start = |name: &str, role: &str| {
        let (dir, args) = (tmp.path().join(name), regional(role));
        std::thread::spawn(move || node(&dir, args))
    };
    let (i, w, a, b) = (
        start("ingest", "ingest"),
        start("w", "detect"),
        start("a", "api"),
        start("b", "api"),
    );
    let (ingest_node, worker, a, b) = (
        i.join().unwrap(),
        w.join().unwrap(),
        a.join().unwrap(),
        b.join().unwrap(),
    );
    for n in [&a, &b, &worker, &ingest_node] {
        assert!(
            !n.said.iter().any(|l| l.contains("no token yet")),
            "{:?}",
            n.said
        );
        assert!(
            !n.said.iter().any(|l| l.contains("no console account yet")),
            "{:?}",
            n.said
        );
    }

    // A token made with --db opens both api nodes; one made after they
    // started too, at once.
    for n in [&a, &b] {
        assert_eq!(status(&n.base, "/api/v1/stats", &admin), 200);
    }
    let late = token(&db, "read", "late", "default");
    for n in [&a, &b] {
        within(
            Duration::from_secs(3),
            "a new token on a running node",
            || status(&n.base, "/api/v1/stats", &late) == 200,
        );
    }

    // A login on A is valid on B.
    let (r, id) = login(&a.base, "alan", PASSWORD, "");
    assert_eq!(r.status, 303, "{}", r.body);
    let alan = Person {
        cookie: format!("vigie_session={}", id.expect("a session cookie")),
        csrf: String::new(),
    };
    assert_eq!(me_status(&a.base, &alan), 200);
    let me = http(
        &b.base,
        "GET",
        "/api/v1/me",
        &[("Cookie", &alan.cookie)],
        None,
    );
    assert_eq!(me.status, 200, "A's session on B: {}", me.body);
    assert_eq!(me.json()["who"], "alan");
    // What a session costs a request with --db (two statements: the
    // session touched, its account checked), measured, not asserted
    // beyond a loose bound.
    let t = Instant::now();
    for _ in 0..50 {
        assert_eq!(me_status(&b.base, &alan), 200);
    }
    let per = t.elapsed() / 50;
    eprintln!("GET /api/v1/me with a session, --db: {per:?} per request (50 in a row)");
    assert!(per < Duration::from_secs(1), "{per:?}");
    // Signed out on B: refused on A.
    let (r, id2) = login(&b.base, "alan", PASSWORD, "");
    assert_eq!(r.status, 303);
    let second = format!("vigie_session={}", id2.unwrap());
    let csrf = http(&b.base, "GET", "/api/v1/me", &[("Cookie", &second)], None).json()["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    let out = http(
        &b.base,
        "POST",
        "/logout",
        &[("Cookie", &second), ("X-CSRF-Token", &csrf)],
        None,
    );
    assert_eq!(out.status, 204, "{}", out.body);
    assert_eq!(
        http(&a.base, "GET", "/api/v1/me", &[("Cookie", &second)], None).status,
        401
    );

    // Failures counted on both nodes lock the account at 5 (3 on A, 2 on
    // B); its session ends on both; `vigie user unlock --db` lifts it.
    let (r, id3) = login(&a.base, "alan", PASSWORD, "");
    assert_eq!(r.status, 303);
    let third = Person {
        cookie: format!("vigie_session={}", id3.unwrap()),
        csrf: String::new(),
    };
    for (i, n) in [&a, &b, &a, &b, &a].iter().enumerate() {
        let (r, _) = login(&n.base, "alan", "not the password at all", "");
        assert_eq!(r.status, 401, "failure {}", i + 1);
    }
    let (r, _) = login(&b.base, "alan", PASSWORD, "");
    assert_eq!(r.status, 401, "locked on B by failures on both");
    assert!(
        r.body.contains("verrouillé") || r.body.contains("locked"),
        "{}",
        r.body
    );
    assert_eq!(me_status(&a.base, &third), 401, "its sessions ended");
    assert_eq!(me_status(&b.base, &third), 401);
    let out = vigie(&["user", "unlock", "alan", "--db", &db], None);
    assert!(out.status.success(), "{}", said(&out));
    let (r, id4) = login(&b.base, "alan", PASSWORD, "");
    assert_eq!(r.status, 303, "unlocked");
    // A fresh session (the others ended with the lock), valid on A.
    let alan = Person {
        cookie: format!("vigie_session={}", id4.unwrap()),
        csrf: String::new(),
    };
    assert_eq!(me_status(&a.base, &alan), 200);

    // Removed (in the database): the session refused on both nodes at
    // their next request.
    let out = vigie(&["user", "remove", "alan", "--db", &db], None);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(me_status(&a.base, &alan), 401);
    assert_eq!(me_status(&b.base, &alan), 401);
    let (r, _) = login(&b.base, "alan", PASSWORD, "");
    assert_eq!(r.status, 401, "a removed account signs in nowhere");

    // A token revoked with `vigie token revoke --db`: refused on both
    // nodes within the bound (each node asks every second whether the
    // tokens moved; 5 s allowed for a loaded machine).
    for n in [&a, &b] {
        assert_eq!(status(&n.base, "/api/v1/stats", &late), 200);
    }
    let out = vigie(
        &["token", "revoke", &token_id(&db, "late"), "--db", &db],
        None,
    );
    assert!(out.status.success(), "{}", said(&out));
    for n in [&a, &b] {
        let took = within(Duration::from_secs(5), "a revoked token refused", || {
            status(&n.base, "/api/v1/stats", &late) == 401
        });
        eprintln!("revocation refused on {} after {took:?}", n.base);
    }
    // Revoked through A's API: refused on B.
    let api_made = token(&db, "read", "by-api", "default");
    within(Duration::from_secs(3), "the token opens B", || {
        status(&b.base, "/api/v1/stats", &api_made) == 200
    });
    let r = http(
        &a.base,
        "POST",
        &format!("/api/v1/tokens/{}/revoke", token_id(&db, "by-api")),
        &[("Authorization", &admin)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        status(&a.base, "/api/v1/stats", &api_made),
        401,
        "at once where revoked"
    );
    within(
        Duration::from_secs(5),
        "A's revocation refused on B",
        || status(&b.base, "/api/v1/stats", &api_made) == 401,
    );

    // Every change in the one shared audit log, by the command line's
    // user or the token that made it.
    let r = http(
        &b.base,
        "GET",
        "/api/v1/audit",
        &[("Authorization", &admin)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let n = vigie_console::audit::verify_bytes(r.body.as_bytes())
        .unwrap_or_else(|e| panic!("the chain breaks: {e}"));
    let lines: Vec<Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(n, lines.len());
    let has = |action: &str, who: &str, target: &str, outcome: &str| {
        lines.iter().any(|l| {
            l["action"] == action
                && l["who"].as_str().unwrap().starts_with(who)
                && l["target"].as_str().unwrap().contains(target)
                && l["outcome"] == outcome
        })
    };
    for (action, who, target, outcome) in [
        ("user_add", "cli:", "alan", "success"),
        ("user_add", "cli:", "alan", "failure"),
        ("user_remove", "cli:", "alan", "success"),
        ("user_unlock", "cli:", "alan", "success"),
        ("lockout", "alan", "alan", "success"),
        ("token_create", "cli:", "csirt (admin)", "success"),
        ("token_create", "cli:", "late (read)", "success"),
        ("token_revoke", "cli:", "late", "success"),
        ("token_revoke", "token:csirt", "by-api", "success"),
        ("login", "alan", "alan", "success"),
        ("logout", "alan", "alan", "success"),
    ] {
        assert!(
            has(action, who, target, outcome),
            "{action} {outcome} by {who} on {target}: {}",
            r.body
        );
    }

    // The same chain checked from the command line.
    let out = vigie(&["audit", "verify", "--db", &db], None);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("chain intact"), "{}", said(&out));

    // A commune's rule switch: its events only. The whoami rule turned
    // off by mairie-b's administrator; the same event sent for both
    // tenants is detected for `default` only.
    let rule = "5d2a9b8e-1111-4c3b-9a55-0a1b2c3d4e5f";
    let r = http(
        &a.base,
        "POST",
        &format!("/api/v1/rules/{rule}/switch"),
        &[
            ("Authorization", &admin_b),
            ("Content-Type", "application/json"),
        ],
        Some(
            json!({"enabled": false, "reason": "outil d'inventaire de la mairie B"})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["switch"]["tenant"], "mairie-b", "{}", r.body);
    // Another commune's switches are none of its business.
    within(Duration::from_secs(15), "B holds mairie-b's switch", || {
        get_json(&b.base, "/api/v1/rules", &admin_b)["disabled_for_tenant"]
            .as_array()
            .is_some_and(|d| d.len() == 1 && d[0]["rule"] == rule)
    });
    let theirs = get_json(&b.base, "/api/v1/rules", &admin_b);
    assert!(
        theirs["disabled"].as_array().unwrap().is_empty(),
        "not every tenant's: {theirs}"
    );
    let ours = get_json(&b.base, "/api/v1/rules?tenant=default", &admin);
    assert!(
        ours["disabled_for_tenant"].as_array().unwrap().is_empty(),
        "{ours}"
    );
    assert_eq!(
        status(&b.base, "/api/v1/rules?tenant=default", &admin_b),
        403,
        "a commune reads its own switches only"
    );
    let r = http(
        &a.base,
        "POST",
        &format!("/api/v1/rules/{rule}/switch"),
        &[
            ("Authorization", &admin_b),
            ("Content-Type", "application/json"),
        ],
        Some(
            json!({"enabled": false, "reason": "x", "tenant": "default"})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(
        r.status, 403,
        "a commune switches its own rules only: {}",
        r.body
    );
    // The worker's mask follows (its poll of PostgreSQL).
    within(
        Duration::from_secs(15),
        "the worker holds mairie-b's switch",
        || {
            get_json(&worker.base, "/api/v1/rules?tenant=mairie-b", &admin)["disabled_for_tenant"]
                .as_array()
                .is_some_and(|d| d.iter().any(|s| s["rule"] == rule))
        },
    );
    let event = |record: u64| {
        sysmon1(
            record,
            "2026-01-17T09:00:00.000Z",
            r"C:\\Windows\\System32\\whoami.exe",
        )
    };
    for (auth, record) in [(&ingest, 990_001), (&ingest_b, 990_002)] {
        let r = http(
            &ingest_node.base,
            "POST",
            "/api/v1/ingest",
            &[("Authorization", auth)],
            Some(format!("{}\n", event(record)).as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["accepted"], 1, "{}", r.body);
    }
    within(Duration::from_secs(30), "default's event detected", || {
        get_json(&a.base, "/api/v1/detections?limit=100", &admin)
            .as_array()
            .is_some_and(|l| {
                l.iter()
                    .any(|d| d["record_id"] == 990_001 && d["rule_id"] == rule)
            })
    });
    // mairie-b's event: judged (both committed by the worker), not
    // detected.
    within(Duration::from_secs(30), "both events judged", || {
        get_json(&a.base, "/api/v1/stats", &admin)["events_committed"]
            .as_u64()
            .is_some_and(|n| n >= 2)
    });
    let b_found = get_json(&a.base, "/api/v1/detections?limit=100", &admin_b);
    assert_eq!(
        b_found,
        json!([]),
        "mairie-b turned the rule off for itself"
    );

    eprintln!("regional accounts test: {:?}", started.elapsed());
}
