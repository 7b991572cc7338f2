//! A regional CSIRT's console through the binary: accounts that read
//! every commune, some communes (`vigie user add --tenant A --tenant B`)
//! or one; the commune selector and the deployment's landing page; and a
//! login while the accounts' PostgreSQL is down.
//!
//! - An analyst assigned two of three communes reads those two through
//!   the API and the console (the selector lists two), and is refused the
//!   third — and the `default` tenant — on every read route; a cookie
//!   naming the third changes nothing.
//! - The CSIRT's analyst of no commune picks among the three; with no
//!   choice its pages are the landing page (each commune, its events,
//!   open incidents and last event), not `default`'s empty one; a chosen
//!   commune's incident and detection pages open without `?tenant=`.
//! - A commune's account has no selector and can never pick another.
//! - The set kept in PostgreSQL (`--db`), shown by `vigie user list`; a
//!   login with PostgreSQL stopped is a 503 saying the account database
//!   cannot be reached — not 429, and nobody let in.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::console::{add_user_with, http, signed_in, Person, Resp};
use common::serve::{tenant_read_routes, token_of as token};
use common::server::spawn_serve;
use serde_json::Value;
use vigie_testkit::servers::{Nats, Postgres};

const COMMUNES: [&str; 3] = ["concarneau", "fouesnant", "quimper"];

fn vigie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
}

fn added(out: std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_person(base: &str, p: &Person, path: &str) -> Resp {
    http(base, "GET", path, &[("Cookie", &p.cookie)], None)
}

/// The person's session with the commune cookie `commune` beside it.
fn with_choice(p: &Person, commune: &str) -> Person {
    Person {
        cookie: format!("{}; vigie_commune={commune}", p.cookie),
        csrf: p.csrf.clone(),
    }
}

/// The values of the selector's options (the empty one, "every commune",
/// left out), or `None` when the page has no selector.
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

/// The communes of the landing page's table.
fn landing_rows(page: &str) -> Vec<String> {
    page.split("data-tenant=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect()
}

fn stats(base: &str, admin: &str) -> Value {
    let r = http(
        base,
        "GET",
        "/api/v1/stats",
        &[("Authorization", &format!("Bearer {admin}"))],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// One whoami event from each commune, judged and observed.
fn three_communes_sending(data: &Path, base: &str, admin: &str) {
    for (i, commune) in COMMUNES.iter().enumerate() {
        let ingest = token(data, "ingest", commune);
        let line = common::sysmon1(
            i as u64 + 1,
            "2026-03-02T09:00:00Z",
            "C:\\\\Windows\\\\System32\\\\whoami.exe",
        );
        let r = http(
            base,
            "POST",
            "/api/v1/ingest",
            &[("Authorization", &format!("Bearer {ingest}"))],
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
fn an_analyst_reads_the_communes_assigned_and_a_communes_user_its_own_only() {
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
    let yann_pw = "analyste du CSIRT, toutes les communes";
    added(add_user_with(&data, "yann", "analyst", yann_pw, &[]));
    let bea_pw = "mairie de Quimper, lecture";
    added(add_user_with(
        &data,
        "bea",
        "analyst",
        bea_pw,
        &["--tenant", "quimper"],
    ));
    // An administrator of "some communes" is no role Vigie has.
    let out = add_user_with(
        &data,
        "chef",
        "admin",
        "un administrateur de deux communes",
        &["--tenant", "quimper", "--tenant", "concarneau"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("administrator"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each name checked, as for one.
    let out = add_user_with(
        &data,
        "x",
        "viewer",
        "long enough password",
        &["--tenant", "quimper", "--tenant", "Concarneau"],
    );
    assert_eq!(out.status.code(), Some(2));
    let list = vigie()
        .args(["user", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for (who, reads) in [
        ("ana", "\tconcarneau,quimper"),
        ("bea", "\tquimper"),
        ("yann", "\t"),
    ] {
        assert!(
            list.lines()
                .any(|l| l.starts_with(&format!("{who}\tanalyst\t")) && l.ends_with(reads)),
            "{who}: {list}"
        );
    }

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
    three_communes_sending(&data, &base, &admin);
    // The account's making is audited with what it reads.
    let audit = http(
        &base,
        "GET",
        "/api/v1/audit",
        &[("Authorization", &format!("Bearer {admin}"))],
        None,
    );
    assert_eq!(audit.status, 200);
    assert!(
        audit.body.contains("ana (tenant concarneau,quimper)"),
        "{}",
        audit.body
    );

    // --- The analyst assigned Quimper and Concarneau.
    let ana = signed_in(&base, "ana", ana_pw, "");
    let me = as_person(&base, &ana, "/api/v1/me").json();
    assert_eq!(me["assigned"], serde_json::json!(["concarneau", "quimper"]));
    assert_eq!(me["communes"], serde_json::json!(["concarneau", "quimper"]));
    for commune in ["quimper", "concarneau"] {
        let r = as_person(&base, &ana, &format!("/api/v1/detections?tenant={commune}"));
        assert_eq!(r.status, 200, "{commune}: {}", r.body);
        let list = r.json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["tenant"], commune);
    }
    // The third commune, and the deployment's own tenant: refused on
    // every read route, API and pages.
    for other in ["fouesnant", "default"] {
        let open: Vec<(String, u16)> = tenant_read_routes(true)
            .into_iter()
            .map(|path| {
                let r = as_person(&base, &ana, &format!("{path}?tenant={other}"));
                (path, r.status)
            })
            .filter(|(_, s)| *s != 403)
            .collect();
        assert!(open.is_empty(), "ana read {other}'s on {open:?}");
    }
    // No commune named nor chosen: the API asks for one; a page is the
    // landing page, which lists its two communes, as the selector does.
    let r = as_person(&base, &ana, "/api/v1/detections");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("concarneau, quimper"), "{}", r.body);
    let r = as_person(&base, &ana, "/incidents");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/communes?next=%2Fincidents"));
    let landing = as_person(&base, &ana, "/communes?next=%2Fincidents");
    assert_eq!(landing.status, 200, "{}", landing.body);
    assert_eq!(landing_rows(&landing.body), ["concarneau", "quimper"]);
    assert_eq!(
        selector(&landing.body).unwrap(),
        ["concarneau", "quimper"],
        "the selector lists its two communes"
    );
    // Choosing the third is refused; choosing Quimper keeps it.
    let r = as_person(
        &base,
        &ana,
        "/communes/choose?tenant=fouesnant&next=/incidents",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = as_person(
        &base,
        &ana,
        "/communes/choose?tenant=quimper&next=/incidents",
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/incidents"));
    assert!(
        r.cookies()
            .iter()
            .any(|c| c.starts_with("vigie_commune=quimper;") && c.contains("HttpOnly")),
        "{:?}",
        r.cookies()
    );
    let at_quimper = with_choice(&ana, "quimper");
    let page = as_person(&base, &at_quimper, "/incidents");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<option value=\"quimper\" selected>"));
    let list = as_person(&base, &at_quimper, "/api/v1/detections").json();
    assert_eq!(list[0]["tenant"], "quimper", "{list}");
    // `?tenant=` wins over the choice.
    let list = as_person(&base, &at_quimper, "/api/v1/detections?tenant=concarneau").json();
    assert_eq!(list[0]["tenant"], "concarneau", "{list}");
    // A cookie naming the third commune (written by hand) is no choice.
    let forged = with_choice(&ana, "fouesnant");
    assert_eq!(as_person(&base, &forged, "/api/v1/detections").status, 403);
    assert_eq!(as_person(&base, &forged, "/incidents").status, 303);

    // --- The CSIRT's analyst of no commune: the three, landing page first.
    let yann = signed_in(&base, "yann", yann_pw, "");
    let r = as_person(&base, &yann, "/incidents");
    assert_eq!(r.status, 303, "not default's empty page: {}", r.body);
    let landing = as_person(&base, &yann, "/communes");
    assert_eq!(landing.status, 200);
    assert_eq!(landing_rows(&landing.body), COMMUNES);
    assert_eq!(selector(&landing.body).unwrap(), COMMUNES);
    // Each with its figures: one event received, its last event's time.
    let table = landing.body.split("id=\"communes\"").nth(1).unwrap();
    assert_eq!(table.matches("<tr class=\"commune\">").count(), 3);
    assert!(!table.contains("aucun reçu"), "{table}");
    assert_eq!(table.matches("<time datetime=").count(), 3, "{table}");
    let at_fouesnant = with_choice(&yann, "fouesnant");
    let list = as_person(&base, &at_fouesnant, "/api/v1/detections").json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["tenant"], "fouesnant");
    let id = list[0]["id"].as_str().unwrap().to_string();
    // Its detection opens without `?tenant=`, and says which commune is
    // chosen.
    let until = Instant::now() + Duration::from_secs(60);
    let page = loop {
        let page = as_person(&base, &at_fouesnant, &format!("/detections/{id}"));
        if page.status != 503 || Instant::now() > until {
            break page;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<option value=\"fouesnant\" selected>"));
    // Its triage form names the commune it was drawn for: posted after
    // another commune was chosen (another tab), it still goes there.
    assert!(
        page.body
            .contains("action=\"/api/v1/triage?tenant=fouesnant\""),
        "{}",
        page.body
    );
    // A change that names no commune while another is chosen is refused,
    // never applied to the commune of the cookie (a triage of another
    // commune's incident of the same live id).
    let at_quimper = with_choice(&yann, "quimper");
    let r = http(
        &base,
        "POST",
        "/api/v1/triage",
        &[
            ("Cookie", &at_quimper.cookie),
            ("Content-Type", "application/json"),
            ("X-CSRF-Token", &at_quimper.csrf),
        ],
        Some(format!(r#"{{"kind":"detection","id":"{id}","status":"acknowledged"}}"#).as_bytes()),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("does not name its commune"), "{}", r.body);

    // --- A commune's own user: no selector, no other commune ever.
    let bea = signed_in(&base, "bea", bea_pw, "");
    let page = as_person(&base, &bea, "/incidents");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(selector(&page.body).is_none(), "no selector for a commune");
    assert_eq!(
        as_person(&base, &bea, "/incidents?tenant=concarneau").status,
        403
    );
    for path in [
        "/communes/choose?tenant=concarneau&next=/incidents",
        "/communes/choose?tenant=quimper&next=/incidents",
    ] {
        let r = as_person(&base, &bea, path);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.cookies().is_empty(), "{path}: {:?}", r.cookies());
    }
    let bea_forged = with_choice(&bea, "concarneau");
    let list = as_person(&base, &bea_forged, "/api/v1/detections").json();
    assert_eq!(list[0]["tenant"], "quimper", "the cookie changes nothing");
    let r = as_person(&base, &bea, "/communes");
    assert_eq!(r.status, 303, "a commune's user goes to its incidents");
}

#[test]
fn accounts_of_several_communes_in_postgresql_and_a_login_while_it_is_down() {
    let (Some(nats), Some(mut pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let db = pg.url();
    let tmp = tempfile::tempdir().unwrap();
    let pw = "analyste du CSIRT, base régionale";
    let mut child = vigie()
        .args([
            "user",
            "add",
            "ana",
            "--role",
            "analyst",
            "--tenant",
            "quimper",
            "--tenant",
            "concarneau",
            "--db",
            &db,
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{pw}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = vigie()
        .args(["user", "list", "--db", &db])
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("ana\tanalyst\t") && l.ends_with("\tconcarneau,quimper")),
        "{list}"
    );

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
    let ana = signed_in(&base, "ana", pw, "");
    let me = as_person(&base, &ana, "/api/v1/me").json();
    assert_eq!(me["assigned"], serde_json::json!(["concarneau", "quimper"]));
    assert_eq!(
        as_person(&base, &ana, "/api/v1/detections?tenant=fouesnant").status,
        403
    );
    assert_eq!(
        as_person(&base, &ana, "/api/v1/detections?tenant=quimper").status,
        200
    );

    // PostgreSQL stopped: a login is 503, saying why, in French first.
    pg.stop();
    for _ in 0..3 {
        let (r, id) = common::console::login(&base, "ana", pw, "");
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            r.body
                .contains("La base des comptes ne peut pas être jointe"),
            "{}",
            r.body
        );
        assert!(!r.body.contains("Trop d'échecs"), "{}", r.body);
        assert_eq!(r.header("retry-after"), Some("5"));
        assert!(id.is_none(), "nobody let in");
    }
    let (r, _) = common::console::login(&base, "ana", "a wrong password!", "");
    assert_eq!(r.status, 503, "not 429, not 401: {}", r.body);
    // Back: the same login opens a session (the outage counted no failure).
    pg.resume();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (r, id) = common::console::login(&base, "ana", pw, "");
        if r.status == 303 {
            assert!(id.is_some());
            break;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            Instant::now() < until,
            "PostgreSQL back, still {}",
            r.status
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn chromium_chooses_a_commune_and_its_incident_and_detection_open() {
    let Some(bin) = vigie_testkit::cdp::chromium_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pw = "analyste du CSIRT, navigateur";
    added(add_user_with(&data, "yann", "analyst", pw, &[]));
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
    three_communes_sending(&data, &base, &admin);

    let mut b = common::console::french_browser(&bin, &tmp.path().join("chromium"));
    b.open_url(&format!("{base}/incidents"));
    b.wait_for("location.pathname === '/login' && !!document.querySelector('#name')");
    b.eval(&format!(
        "document.querySelector('#name').value = 'yann'; document.querySelector('#password').value = {}; document.querySelector('form').submit(); true",
        serde_json::to_string(pw).unwrap(),
    ));
    // No commune chosen: the landing page, each commune on its line.
    b.wait_for(
        "location.pathname === '/communes' && document.querySelectorAll('tr.commune').length === 3",
    );
    assert_eq!(b.eval("document.documentElement.lang"), "fr");
    // The selector, in the header of every page: Fouesnant.
    b.eval("document.querySelector('#commune').value = 'fouesnant'; document.querySelector('#commune-choose').click(); true");
    // Back to the page first asked for after the login (`/`), then the
    // incidents: the choice kept, no `?tenant=` anywhere.
    b.wait_for("location.pathname === '/' && !!document.querySelector('#logout')");
    b.open_url(&format!("{base}/incidents"));
    b.wait_for(
        "location.pathname === '/incidents' && document.querySelectorAll('tr.incident').length > 0",
    );
    assert_eq!(
        b.eval("document.querySelector('#commune').value"),
        "fouesnant"
    );
    // Its incident, then a detection of it: they open (no 404), the
    // commune still chosen, no `?tenant=` needed in the links.
    b.eval("document.querySelector('tr.incident a').click(); true");
    b.wait_for("location.pathname.startsWith('/incidents/') && document.querySelectorAll('#incident-detections tr.detection a').length > 0");
    assert_eq!(b.eval("location.search.includes('tenant=')"), false);
    assert_eq!(
        b.eval("document.querySelector('#commune').value"),
        "fouesnant"
    );
    b.eval("document.querySelector('#incident-detections tr.detection a').click(); true");
    b.wait_for(
        "location.pathname.startsWith('/detections/') && !!document.getElementById('raw-event')",
    );
    assert_eq!(
        b.eval("document.querySelector('#commune').value"),
        "fouesnant"
    );
    assert!(b
        .eval("document.body.textContent")
        .as_str()
        .unwrap()
        .contains("whoami"));
    // Another commune from the selector, on a detection of this one: to
    // the other's incidents (this detection is not the other's).
    b.eval("document.querySelector('#commune').value = 'quimper'; document.querySelector('#commune-choose').click(); true");
    b.wait_for("location.pathname === '/incidents' && document.querySelector('#commune').value === 'quimper' && document.querySelectorAll('tr.incident').length > 0");
}
