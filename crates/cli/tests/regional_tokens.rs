//! Tokens of several communes (`vigie token create --scope read --tenant
//! A --tenant B`), through the binary, in both stores:
//!
//! - embedded (`state.db`): the token reads the two communes named, and is
//!   refused a third and the `default` tenant on every API read route
//!   (the same enumeration as the cross-tenant tests); with no commune
//!   named the API asks for one; it sends no event; `vigie token list`
//!   shows its communes; its making is audited with them;
//! - an ingest or admin token of two communes is refused at its making,
//!   saying why, and nothing is kept;
//! - PostgreSQL (`--db`): the same token made there, listed, read on a
//!   regional node, refused the others.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::console::http;
use common::serve::{tenant_read_routes, token_of};
use common::server::spawn_serve;
use serde_json::Value;
use vigie_testkit::servers::{Nats, Postgres};

fn vigie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
}

/// `vigie token create` with `at` (--data DIR or --db URL) and `args`.
fn create(at: &[&std::ffi::OsStr], args: &[&str]) -> Output {
    vigie()
        .args(["token", "create"])
        .args(at)
        .args(args)
        .output()
        .unwrap()
}

fn list(at: &[&std::ffi::OsStr]) -> String {
    let out = vigie().args(["token", "list"]).args(at).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn the_token(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8(out.stdout).unwrap();
    assert_eq!(t.lines().count(), 1, "{t:?}");
    t.trim().to_string()
}

fn bearer(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&[u8]>,
) -> common::console::Resp {
    http(
        base,
        method,
        path,
        &[("Authorization", &format!("Bearer {token}"))],
        body,
    )
}

/// The routes of `tenant_read_routes(false)` that did not refuse `token`
/// reading `other`'s data.
fn not_refused(base: &str, token: &str, other: &str) -> Vec<(String, u16)> {
    tenant_read_routes(false)
        .into_iter()
        .map(|path| {
            let r = bearer(base, "GET", &format!("{path}?tenant={other}"), token, None);
            (path, r.status)
        })
        .filter(|(_, s)| *s != 403)
        .collect()
}

/// The ingest and admin tokens of two communes: refused, saying why,
/// nothing kept.
fn refused_beside_read(at: &[&std::ffi::OsStr]) {
    let before = list(at);
    for (scope, says) in [
        ("ingest", "an ingest token sends the events of one commune"),
        (
            "admin",
            "an admin token is of one commune or of the deployment",
        ),
    ] {
        let out = create(
            at,
            &[
                "--scope",
                scope,
                "--tenant",
                "quimper",
                "--tenant",
                "concarneau",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{scope}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{scope}: {err}");
        assert!(out.stdout.is_empty(), "no token printed");
    }
    // Each name checked, as for one.
    let out = create(
        at,
        &[
            "--scope",
            "read",
            "--tenant",
            "quimper",
            "--tenant",
            "Concarneau",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"Concarneau\""));
    assert_eq!(list(at), before, "nothing kept");
}

#[test]
fn a_read_token_of_two_communes_reads_those_only_embedded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let at = [std::ffi::OsStr::new("--data"), data.as_os_str()];
    let admin = token_of(&data, "admin", "default");
    let two = the_token(create(
        &at,
        &[
            "--scope",
            "read",
            "--name",
            "csirt-script",
            "--tenant",
            "quimper",
            "--tenant",
            "concarneau",
            "--tenant",
            "quimper",
        ],
    ));
    refused_beside_read(&at);
    let listed = list(&at);
    assert!(
        listed
            .lines()
            .any(|l| l.contains("\tcsirt-script\tread\tconcarneau,quimper\t")),
        "{listed}"
    );

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
    sent_by_three(&data, &base, &admin);

    for commune in ["quimper", "concarneau"] {
        let r = bearer(
            &base,
            "GET",
            &format!("/api/v1/detections?tenant={commune}"),
            &two,
            None,
        );
        assert_eq!(r.status, 200, "{commune}: {}", r.body);
        let list = r.json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["tenant"], commune);
    }
    for other in ["fouesnant", "default"] {
        let open = not_refused(&base, &two, other);
        assert!(open.is_empty(), "the token read {other}'s on {open:?}");
    }
    // No commune named: which one is asked, not `default`'s given.
    let r = bearer(&base, "GET", "/api/v1/detections", &two, None);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("concarneau, quimper"), "{}", r.body);
    // It sends nothing.
    let line = common::sysmon1(9, "2026-03-02T09:00:00Z", "C:\\\\x.exe");
    let r = bearer(
        &base,
        "POST",
        "/api/v1/ingest",
        &two,
        Some(format!("{line}\n").as_bytes()),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Its making is audited with its communes.
    let audit = bearer(&base, "GET", "/api/v1/audit", &admin, None);
    assert_eq!(audit.status, 200);
    assert!(
        audit
            .body
            .contains("csirt-script (read, tenant concarneau,quimper)"),
        "{}",
        audit.body
    );
}

fn stats(base: &str, admin: &str) -> Value {
    let r = bearer(base, "GET", "/api/v1/stats", admin, None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// One whoami event from each of three communes, judged.
fn sent_by_three(data: &Path, base: &str, admin: &str) {
    for (i, commune) in ["concarneau", "fouesnant", "quimper"].iter().enumerate() {
        let ingest = token_of(data, "ingest", commune);
        let line = common::sysmon1(
            i as u64 + 1,
            "2026-03-02T09:00:00Z",
            "C:\\\\Windows\\\\System32\\\\whoami.exe",
        );
        let r = bearer(
            base,
            "POST",
            "/api/v1/ingest",
            &ingest,
            Some(format!("{line}\n").as_bytes()),
        );
        assert_eq!(r.status, 200, "{commune}: {}", r.body);
    }
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let s = stats(base, admin);
        if s["events_committed"] == 3 && s["events_observed"] == 3 {
            break;
        }
        assert!(Instant::now() < until, "not judged: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_read_token_of_two_communes_in_postgresql() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let db = pg.url();
    let at = [std::ffi::OsStr::new("--db"), std::ffi::OsStr::new(&db)];
    let two = the_token(create(
        &at,
        &[
            "--scope",
            "read",
            "--name",
            "csirt-pg",
            "--tenant",
            "quimper",
            "--tenant",
            "concarneau",
        ],
    ));
    refused_beside_read(&at);
    let listed = list(&at);
    assert!(
        listed
            .lines()
            .any(|l| l.contains("\tcsirt-pg\tread\tconcarneau,quimper\t")),
        "{listed}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--data"]).arg(&dir).args([
        "--listen",
        "127.0.0.1:0",
        "--bus",
        &nats.url(),
        "--db",
        &db,
    ]);
    let server = spawn_serve(cmd);
    let base = server.base.clone();
    for commune in ["quimper", "concarneau"] {
        let r = bearer(
            &base,
            "GET",
            &format!("/api/v1/detections?tenant={commune}"),
            &two,
            None,
        );
        assert_eq!(r.status, 200, "{commune}: {}", r.body);
    }
    for other in ["fouesnant", "default"] {
        let open = not_refused(&base, &two, other);
        assert!(open.is_empty(), "the token read {other}'s on {open:?}");
    }
    assert_eq!(
        bearer(&base, "GET", "/api/v1/detections", &two, None).status,
        403
    );
}
