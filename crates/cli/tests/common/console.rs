//! Helpers of the console's tests through the binary: accounts made with
//! `vigie user add`, a `vigie serve` child on a loopback port, HTTP as a
//! browser and a script send it, sign-in with TOTP, the demo's logs sent
//! and judged.

use super::server::{make_demo, spawn_serve, Server};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
pub fn vigie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
}

/// `vigie user add` with the password on stdin.
pub fn add_user(data: &Path, name: &str, role: &str, password: &str) -> Output {
    add_user_with(data, name, role, password, &[])
}

/// [`add_user`] with more options (`--tenant T`, `--totp`).
pub fn add_user_with(data: &Path, name: &str, role: &str, password: &str, more: &[&str]) -> Output {
    let mut child = vigie()
        .args(["user", "add", name, "--role", role])
        .args(more)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal may come before the password is read (an unknown role
    // is a usage error): the pipe is then closed, which is no failure.
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes());
    child.wait_with_output().unwrap()
}

/// Adds an admin; its TOTP generator, from the printed otpauth URI.
pub fn add_admin(data: &Path, name: &str, password: &str) -> totp_rs::Totp {
    let out = add_user(data, name, "admin", password);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "the URI and nothing else: {stdout:?}"
    );
    assert!(!stdout.contains(password));
    totp_rs::Totp::from_url(stdout.trim()).expect("an otpauth URI")
}

pub fn code(t: &totp_rs::Totp) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    t.generate(now).to_string()
}

pub fn start(data: &Path) -> Server {
    start_with(data, &[])
}

/// `vigie serve` with more arguments (`--assets FILE`, `--config FILE`),
/// once healthy.
pub fn start_with(data: &Path, more: &[&std::ffi::OsStr]) -> Server {
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(more);
    let server = spawn_serve(cmd);
    let until = Instant::now() + Duration::from_secs(60);
    while http(&server.base, "GET", "/healthz", &[], None).status != 200 {
        assert!(Instant::now() < until, "serve never became healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// Service `id` of a board (`vigie status board --format json`, or
/// `/api/v1/services`).
pub fn board_service<'a>(board: &'a Value, id: &str) -> &'a Value {
    board["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == id)
        .unwrap_or_else(|| panic!("no service {id}"))
}

/// `GET path` with a token, retried while the live scope is rebuilt (503).
pub fn get_json(base: &str, path: &str, auth: &str) -> Value {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let r = http(base, "GET", path, &[("Authorization", auth)], None);
        if r.status == 200 {
            return r.json();
        }
        assert!(
            r.status == 503 && Instant::now() < until,
            "GET {path}: {} {}",
            r.status,
            r.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One request, redirects not followed, cookies given by hand (as the
/// tests check each one).
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let uri = format!("{base}{path}");
    let mut resp = match method {
        "GET" => {
            let mut r = agent.get(&uri);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call().unwrap()
        }
        m => {
            let mut r = match m {
                "POST" => agent.post(&uri),
                "PUT" => agent.put(&uri),
                "DELETE" => {
                    let mut r = agent.delete(&uri);
                    for (k, v) in headers {
                        r = r.header(*k, *v);
                    }
                    let mut resp = r.call().unwrap();
                    return Resp {
                        status: resp.status().as_u16(),
                        headers: Vec::new(),
                        body: resp.body_mut().read_to_string().unwrap_or_default(),
                    };
                }
                _ => unreachable!(),
            };
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(body.unwrap_or(b"")).unwrap()
        }
    };
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Resp {
        status: resp.status().as_u16(),
        headers,
        body: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

pub fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The value of cookie `name` among Set-Cookie headers.
pub fn set_cookie<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.cookies().into_iter().find_map(|c| {
        c.split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

/// Signs in through the login form as a browser does; the response and
/// the session id when one was given.
pub fn login(base: &str, name: &str, password: &str, code: &str) -> (Resp, Option<String>) {
    let page = http(base, "GET", "/login", &[], None);
    assert_eq!(page.status, 200);
    let form_cookie = set_cookie(&page, "vigie_login")
        .expect("the login form's cookie")
        .to_string();
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the form's csrf field")
        .to_string();
    let cookie = format!("vigie_login={form_cookie}");
    let body = form(&[
        ("csrf", &csrf),
        ("name", name),
        ("password", password),
        ("code", code),
    ]);
    let r = http(
        base,
        "POST",
        "/login",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&body),
    );
    let id = set_cookie(&r, "vigie_session")
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    (r, id)
}

pub struct Person {
    pub cookie: String,
    pub csrf: String,
}

pub fn signed_in(base: &str, name: &str, password: &str, code: &str) -> Person {
    let (r, id) = login(base, name, password, code);
    assert_eq!(r.status, 303, "{name}: {}", r.body);
    let cookie = format!("vigie_session={}", id.expect("a session cookie"));
    let me = http(base, "GET", "/api/v1/me", &[("Cookie", &cookie)], None);
    assert_eq!(me.status, 200);
    let me = me.json();
    assert_eq!(me["who"], name);
    Person {
        cookie,
        csrf: me["csrf"].as_str().unwrap().to_string(),
    }
}

/// The status of `GET /api/v1/me` with a person's cookie (200 while the
/// session lives, 401 once it ended).
pub fn me_status(base: &str, p: &Person) -> u16 {
    http(base, "GET", "/api/v1/me", &[("Cookie", &p.cookie)], None).status
}

pub const ANNE: &str = "Anne Le Goff (DSI)";
pub const ANNE_PW: &str = "marée haute à Fouesnant";
pub const VERA: &str = "vera";
pub const VERA_PW: &str = "lecture seule, merci";
/// The crisis cell's people (crisis.rs, actions.rs).
pub const CLAIRE: &str = "Claire Le Bihan (DGS)";
pub const CLAIRE_PW: &str = "cellule de crise, salle du conseil";
pub const CORENTIN: &str = "Corentin (communication)";
pub const CORENTIN_PW: &str = "avis aux habitants, page publique";
pub const ALAN: &str = "alan";
pub const ALAN_PW: &str = "analyste du CSIRT breton";

/// Claire (crisis), Corentin (communication), Vera (viewer) and Alan
/// (analyst), none with TOTP, added with `vigie user add`.
pub fn add_cell_users(data: &Path) {
    for (name, role, pw) in [
        (CLAIRE, "crisis", CLAIRE_PW),
        (CORENTIN, "communication", CORENTIN_PW),
        (VERA, "viewer", VERA_PW),
        (ALAN, "analyst", ALAN_PW),
    ] {
        assert!(add_user(data, name, role, pw).status.success(), "{name}");
    }
}

/// A server with an admin (Anne, TOTP) and the demo's logs sent through
/// `/api/v1/ingest` as a shipper sends them, judged.
pub struct DemoServer {
    pub server: Server,
    pub data: std::path::PathBuf,
    /// `vigie demo`'s directory (its logs under `scenario/logs`).
    pub demo: std::path::PathBuf,
    pub anne: totp_rs::Totp,
    /// `Bearer …` of a token of scope ingest, read, admin.
    pub ingest: String,
    pub read: String,
    pub admin: String,
    /// Detections stored once the demo's events were judged.
    pub detections: u64,
}

pub fn token(data: &Path, scope: &str) -> String {
    let out = vigie()
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--scope", scope])
        .output()
        .unwrap();
    assert!(out.status.success());
    format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
}

/// Waits until the worker committed `sent` events (their detections
/// are stored before the commit); the detections stored. `admin`: a
/// token of scope admin (the committed position is the server's).
pub fn judged(base: &str, admin: &str, sent: u64) -> u64 {
    let until = Instant::now() + Duration::from_secs(180);
    loop {
        let s = http(
            base,
            "GET",
            "/api/v1/stats",
            &[("Authorization", admin)],
            None,
        )
        .json();
        if s["events_committed"].as_u64().unwrap_or(0) >= sent {
            return s["detections"].as_u64().unwrap();
        }
        assert!(Instant::now() < until, "the worker never caught up: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends the JSON Lines files under `dir` through `/api/v1/ingest` as a
/// shipper does (`ingest`: `Bearer …`); the events accepted.
pub fn send_logs(base: &str, ingest: &str, dir: &Path) -> u64 {
    let mut sent = 0;
    for p in super::server::jsonl_files(dir) {
        let r = http(
            base,
            "POST",
            "/api/v1/ingest",
            &[("Authorization", ingest)],
            Some(&std::fs::read(&p).unwrap()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        sent += r.json()["accepted"].as_u64().unwrap();
    }
    assert!(sent > 1000, "{sent}");
    sent
}

pub fn demo_server(tmp: &Path) -> DemoServer {
    let data = tmp.join("data");
    let anne = add_admin(&data, ANNE, ANNE_PW);
    let ingest = token(&data, "ingest");
    let read = token(&data, "read");
    let admin = token(&data, "admin");
    let server = start(&data);
    let base = server.base.clone();
    let demo = make_demo(tmp);
    let sent = send_logs(&base, &ingest, &demo.join("scenario/logs"));
    let detections = judged(&base, &admin, sent);
    assert!(detections > 0);
    DemoServer {
        server,
        data,
        demo,
        anne,
        ingest,
        read,
        admin,
        detections,
    }
}

/// Chromium as at the town hall: French first.
pub fn french_browser(bin: &Path, profile: &Path) -> vigie_testkit::cdp::Browser {
    let mut b = vigie_testkit::cdp::Browser::start(bin, profile);
    let ua = b.eval("navigator.userAgent");
    b.call(
        "Network.setUserAgentOverride",
        serde_json::json!({"userAgent": ua, "acceptLanguage": "fr-FR,fr;q=0.9,en;q=0.5"}),
    );
    b
}

/// Opens `page`, is sent to the login page, signs in as `who` (no TOTP)
/// and opens `page` again.
pub fn browser_sign_in_as(
    b: &mut vigie_testkit::cdp::Browser,
    base: &str,
    who: &str,
    pw: &str,
    page: &str,
) {
    b.open_url(&format!("{base}{page}"));
    b.wait_for("location.pathname === '/login' && !!document.querySelector('#name')");
    b.eval(&format!(
        "document.querySelector('#name').value = {}; document.querySelector('#password').value = {}; document.querySelector('form').submit(); true",
        serde_json::to_string(who).unwrap(),
        serde_json::to_string(pw).unwrap(),
    ));
    b.wait_for("location.pathname === '/'");
    b.open_url(&format!("{base}{page}"));
}

/// Signs in through the login page as a person types it (TOTP code
/// computed from the printed otpauth URI).
pub fn browser_signs_in(
    b: &mut vigie_testkit::cdp::Browser,
    base: &str,
    anne: &totp_rs::Totp,
    to: &str,
) {
    b.open_url(&format!("{base}{to}"));
    b.wait_for("location.pathname === '/login' && !!document.querySelector('#name')");
    assert_eq!(b.eval("document.documentElement.lang"), "fr");
    let fill = format!(
        "document.querySelector('#name').value = {}; document.querySelector('#password').value = {}; document.querySelector('#code').value = {}; document.querySelector('form').submit(); true",
        serde_json::to_string(ANNE).unwrap(),
        serde_json::to_string(ANNE_PW).unwrap(),
        serde_json::to_string(&code(anne)).unwrap(),
    );
    b.eval(&fill);
    b.wait_for("location.pathname === '/' && !!document.querySelector('#logout')");
}

/// The raw event of a stored detection (read back from the event log),
/// sent again as a new record: another record id, an hour later.
pub fn again(base: &str, read: &str, d: &Value, record: u64) -> String {
    let id = d["id"].as_str().unwrap();
    let full = http(
        base,
        "GET",
        &format!("/api/v1/detections/{id}"),
        &[("Authorization", read)],
        None,
    )
    .json();
    assert_eq!(full["raw_event_from_log"], true, "{full}");
    let mut ev: Value = serde_json::from_str(full["raw_event"].as_str().unwrap()).unwrap();
    let sys = &mut ev["Event"]["System"];
    sys["EventRecordID"] = record.into();
    let t = sys["TimeCreated"]["#attributes"]["SystemTime"]
        .as_str()
        .unwrap()
        .to_string();
    let later = chrono::DateTime::parse_from_rfc3339(&t).unwrap() + chrono::Duration::hours(1);
    sys["TimeCreated"]["#attributes"]["SystemTime"] = later
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .into();
    serde_json::to_string(&ev).unwrap()
}
