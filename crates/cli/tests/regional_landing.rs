//! Where a CSIRT's analyst lands, and the landing page of many communes,
//! through the binary:
//!
//! - after the login, an account assigned several communes lands on their
//!   picker (`/communes`), a commune's account on its own pages, the
//!   deployment's analyst on the picker through `/`; a commune chosen in
//!   an earlier session is forgotten at the login and at the logout; the
//!   picker is in the header of every page;
//! - with PostgreSQL (`--db`), one commune whose triage cannot be read is
//!   "indisponible" on the landing page, the others' counts shown, the
//!   page a 200 — not a 500;
//! - `landing_with_30_communes_timed` (ignored: a measurement, not a
//!   check) times the landing page of 30 communes; docs/regional.md
//!   gives the command and the figures before and after.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::console::{add_user_with, http, login, set_cookie, signed_in, Person, Resp};
use common::serve::token_of;
use common::server::spawn_serve;
use serde_json::Value;
use vigie_testkit::servers::{Nats, Postgres};

/// The binary measured: this build's, or `VIGIE_LANDING_BIN` (another
/// build's, for the figure before a change).
fn vigie() -> Command {
    Command::new(
        std::env::var_os("VIGIE_LANDING_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_vigie").into()),
    )
}

fn added(out: std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn get(base: &str, p: &Person, path: &str) -> Resp {
    http(base, "GET", path, &[("Cookie", &p.cookie)], None)
}

fn bearer(base: &str, method: &str, path: &str, token: &str, body: Option<&[u8]>) -> Resp {
    http(
        base,
        method,
        path,
        &[("Authorization", &format!("Bearer {token}"))],
        body,
    )
}

fn stats(base: &str, admin: &str) -> Value {
    let r = bearer(base, "GET", "/api/v1/stats", admin, None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// One whoami event from each of `communes` (ingest tokens made by
/// `make`), waited for until judged and observed.
fn each_sends(base: &str, admin: &str, communes: &[String], make: impl Fn(&str) -> String) {
    for (i, commune) in communes.iter().enumerate() {
        let ingest = make(commune);
        let line = common::sysmon1(
            i as u64 + 1,
            "2026-03-02T09:00:00Z",
            "C:\\\\Windows\\\\System32\\\\whoami.exe",
        );
        // A token made in PostgreSQL opens the node within its poll.
        let until = Instant::now() + Duration::from_secs(15);
        let r = loop {
            let r = bearer(
                base,
                "POST",
                "/api/v1/ingest",
                &ingest,
                Some(format!("{line}\n").as_bytes()),
            );
            if r.status != 401 || Instant::now() > until {
                break r;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(r.status, 200, "{commune}: {}", r.body);
    }
    let n = communes.len() as u64;
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let s = stats(base, admin);
        if s["events_committed"].as_u64() >= Some(n) && s["events_observed"].as_u64() >= Some(n) {
            break;
        }
        assert!(Instant::now() < until, "not judged: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The values of the header's commune selector, `None` without one.
fn selector(page: &str) -> Option<Vec<String>> {
    let form = page.split("id=\"commune-picker\"").nth(1)?;
    let form = form.split("</form>").next().unwrap();
    Some(
        form.split("<option value=\"")
            .skip(1)
            .map(|o| o.split('"').next().unwrap().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

/// The landing page's open-incident cell of each commune.
fn open_cells(page: &str) -> Vec<(String, String)> {
    let table = page.split("id=\"communes\"").nth(1).unwrap_or("");
    table
        .split("<tr class=\"commune\">")
        .skip(1)
        .map(|row| {
            let name = row
                .split("data-tenant=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string();
            let cells: Vec<&str> = row.split("<td").skip(1).collect();
            let open = cells[2]
                .split_once('>')
                .unwrap()
                .1
                .split("</td>")
                .next()
                .unwrap()
                .to_string();
            (name, open)
        })
        .collect()
}

fn user_add_db(db: &str, name: &str, role: &str, password: &str, more: &[&str]) {
    let mut child = vigie()
        .args(["user", "add", name, "--role", role, "--db", db])
        .args(more)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
    }
    added(child.wait_with_output().unwrap());
}

fn token_db(db: &str, scope: &str, tenant: &str) -> String {
    let out = vigie()
        .args([
            "token", "create", "--db", db, "--scope", scope, "--tenant", tenant,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn after_the_login_several_communes_land_on_the_picker_one_on_its_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ana_pw = "analyste du CSIRT, deux communes";
    added(add_user_with(
        &data,
        "ana",
        "analyst",
        ana_pw,
        &["--tenant", "quimper", "--tenant", "concarneau"],
    ));
    let bea_pw = "mairie de Quimper, lecture";
    added(add_user_with(
        &data,
        "bea",
        "analyst",
        bea_pw,
        &["--tenant", "quimper"],
    ));
    let yann_pw = "analyste du CSIRT, toutes les communes";
    added(add_user_with(&data, "yann", "analyst", yann_pw, &[]));
    let admin = token_of(&data, "admin", "default");
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"]);
    let server = spawn_serve(cmd);
    let base = server.base.clone();
    let communes: Vec<String> = ["concarneau", "fouesnant", "quimper"]
        .map(String::from)
        .to_vec();
    each_sends(&base, &admin, &communes, |c| token_of(&data, "ingest", c));

    // Assigned two: straight to the picker; an earlier choice forgotten.
    let (r, id) = login(&base, "ana", ana_pw, "");
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/communes"));
    assert_eq!(
        set_cookie(&r, "vigie_commune"),
        Some(""),
        "{:?}",
        r.cookies()
    );
    let ana = Person {
        cookie: format!("vigie_session={}", id.unwrap()),
        csrf: String::new(),
    };
    let landing = get(&base, &ana, "/communes");
    assert_eq!(landing.status, 200, "{}", landing.body);
    assert_eq!(selector(&landing.body).unwrap(), ["concarneau", "quimper"]);

    // One commune's account: its own pages, no selector ever.
    let (r, id) = login(&base, "bea", bea_pw, "");
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/"));
    let bea = Person {
        cookie: format!("vigie_session={}", id.unwrap()),
        csrf: String::new(),
    };
    let home = get(&base, &bea, "/");
    assert_eq!(
        home.status, 200,
        "its own page, not the picker: {}",
        home.body
    );
    assert!(selector(&home.body).is_none());

    // The deployment's analyst: `/`, which is the picker of the three.
    let (r, id) = login(&base, "yann", yann_pw, "");
    assert_eq!(r.header("location"), Some("/"));
    let yann = Person {
        cookie: format!("vigie_session={}", id.unwrap()),
        csrf: String::new(),
    };
    let home = get(&base, &yann, "/");
    assert_eq!(home.status, 303);
    assert_eq!(home.header("location"), Some("/communes?next=%2F"));

    // The picker in the header of every page of the console once a
    // commune is chosen (each page a GET of the routes' table).
    let chosen = Person {
        cookie: format!("{}; vigie_commune=quimper", ana.cookie),
        csrf: String::new(),
    };
    let pages: Vec<&str> = vigie_serve::ROUTES
        .iter()
        .filter(|(m, p, a)| {
            *m == vigie_serve::Method::GET
                && matches!(a, vigie_serve::Access::Page | vigie_serve::Access::Root)
                && !p.contains('{')
                && !p.starts_with("/communes/")
        })
        .map(|(_, p, _)| *p)
        .collect();
    assert!(pages.len() >= 5, "{pages:?}");
    for path in pages {
        let r = get(&base, &chosen, path);
        if r.status != 200 {
            // A page an analyst may not open (an administrator's) is
            // refused, never shown without the selector.
            assert!(
                matches!(r.status, 403 | 303),
                "{path}: {} {}",
                r.status,
                r.body
            );
            continue;
        }
        if !r.body.contains("<header class=\"top\"") {
            // A part of a page its script loads (`/incidents/table`),
            // not a page.
            continue;
        }
        assert_eq!(
            selector(&r.body).as_deref(),
            Some(&["concarneau".to_string(), "quimper".to_string()][..]),
            "{path}"
        );
    }
    // The logout forgets the choice with the session.
    let page = get(&base, &chosen, "/api/v1/me").json();
    let out = http(
        &base,
        "POST",
        "/logout",
        &[
            ("Cookie", &chosen.cookie),
            ("X-CSRF-Token", page["csrf"].as_str().unwrap()),
        ],
        None,
    );
    assert!(matches!(out.status, 204 | 303), "{}", out.body);
    assert_eq!(set_cookie(&out, "vigie_commune"), Some(""));
}

#[test]
fn one_communes_triage_unreadable_is_unavailable_for_it_only() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let db = pg.url();
    let pw = "analyste du CSIRT, base régionale";
    user_add_db(&db, "yann", "analyst", pw, &[]);
    let admin = token_db(&db, "admin", "default");
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
    let communes: Vec<String> = ["concarneau", "fouesnant", "quimper"]
        .map(String::from)
        .to_vec();
    each_sends(&base, &admin, &communes, |c| token_db(&db, "ingest", c));
    let yann = signed_in(&base, "yann", pw, "");
    // Every commune analysed: a count each.
    let until = Instant::now() + Duration::from_secs(60);
    let cells = loop {
        let page = get(&base, &yann, "/communes");
        assert_eq!(page.status, 200, "{}", page.body);
        let cells = open_cells(&page.body);
        if cells.len() == 3 && cells.iter().all(|(_, c)| c.parse::<u64>().is_ok()) {
            break cells;
        }
        assert!(Instant::now() < until, "{cells:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(cells.len(), 3);
    // Fouesnant's triage damaged in the database: its reading fails.
    pg.query("INSERT INTO triage_entries (tenant, doc) VALUES ('fouesnant', '{damaged')");
    let page = get(&base, &yann, "/communes");
    assert_eq!(page.status, 200, "not a 500: {}", page.body);
    let cells = open_cells(&page.body);
    for (name, cell) in &cells {
        if name == "fouesnant" {
            assert!(cell.contains("indisponible"), "{name}: {cell}");
        } else {
            assert!(cell.parse::<u64>().is_ok(), "{name}: {cell}");
        }
    }
    assert_eq!(cells.len(), 3, "{cells:?}");
}

/// The landing page of 30 communes, asked 50 times by the deployment's
/// analyst, on a regional node (nats-server, PostgreSQL): the median and
/// the slowest, printed. Run it with `--ignored --nocapture`; with
/// `VIGIE_LANDING_BIN=…/vigie` it times another build (the figure before
/// a change).
#[test]
#[ignore]
fn landing_with_30_communes_timed() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        panic!("nats-server and PostgreSQL are needed for this measurement");
    };
    let db = pg.url();
    let pw = "analyste du CSIRT, base régionale";
    user_add_db(&db, "yann", "analyst", pw, &[]);
    let admin = token_db(&db, "admin", "default");
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
    let communes: Vec<String> = (1..=30).map(|i| format!("commune-{i:02}")).collect();
    each_sends(&base, &admin, &communes, |c| token_db(&db, "ingest", c));
    let yann = signed_in(&base, "yann", pw, "");
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let page = get(&base, &yann, "/communes");
        let cells = open_cells(&page.body);
        if cells.len() == 30 && cells.iter().all(|(_, c)| c.parse::<u64>().is_ok()) {
            break;
        }
        assert!(Instant::now() < until, "{cells:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let page = get(&base, &yann, "/communes");
        times.push(t.elapsed());
        assert_eq!(page.status, 200);
    }
    times.sort();
    println!(
        "landing page, 30 communes, 50 requests: median {:.1} ms, slowest {:.1} ms",
        times[25].as_secs_f64() * 1e3,
        times[49].as_secs_f64() * 1e3
    );
}
