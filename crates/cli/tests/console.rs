//! The console's accounts, sessions, CSRF, lockout and audit log through
//! the binary: `vigie user add` (password on stdin), a real `vigie serve`
//! child process on a loopback port, HTTP as a browser and a script send
//! it, `vigie audit verify` on the log it wrote.
//!
//! - every route of the table answers 401 without a session or token
//!   (`/login` and `/healthz` the exceptions; a browser asking for `/` is
//!   sent to `/login`);
//! - a `viewer` session can POST nothing (403), reads what it may;
//! - a state-changing request with a session but without its CSRF token
//!   is refused (403), accepted with it;
//! - five wrong passwords lock the account and a sixth, right, attempt is
//!   refused; an unknown name locks the same way (nothing tells them
//!   apart); `vigie user unlock` lifts it;
//! - admins need their TOTP code, once per code;
//! - the audit log shows each of these with who, from where and when, and
//!   `vigie audit verify` finds an edited line.
//! - a real headless Chromium signs in with a TOTP code, sees the demo's
//!   detections sent through `/api/v1/ingest`, and signs out.

mod common;

use common::server::{make_demo, spawn_serve, Server};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn vigie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
}

/// `vigie user add` with the password on stdin.
fn add_user(data: &Path, name: &str, role: &str, password: &str) -> Output {
    let mut child = vigie()
        .args(["user", "add", name, "--role", role, "--data"])
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
fn add_admin(data: &Path, name: &str, password: &str) -> totp_rs::Totp {
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

fn code(t: &totp_rs::Totp) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    t.generate(now).to_string()
}

fn start(data: &Path) -> Server {
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"]);
    let server = spawn_serve(cmd);
    let until = Instant::now() + Duration::from_secs(60);
    while http(&server.base, "GET", "/healthz", &[], None).status != 200 {
        assert!(Instant::now() < until, "serve never became healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One request, redirects not followed, cookies given by hand (as the
/// tests check each one).
fn http(
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

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
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
fn set_cookie<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
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
fn login(base: &str, name: &str, password: &str, code: &str) -> (Resp, Option<String>) {
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

struct Person {
    cookie: String,
    csrf: String,
}

fn signed_in(base: &str, name: &str, password: &str, code: &str) -> Person {
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
fn me_status(base: &str, p: &Person) -> u16 {
    http(base, "GET", "/api/v1/me", &[("Cookie", &p.cookie)], None).status
}

const ANNE: &str = "Anne Le Goff (DSI)";
const ANNE_PW: &str = "marée haute à Fouesnant";
const VERA: &str = "vera";
const VERA_PW: &str = "lecture seule, merci";

#[test]
fn accounts_sessions_csrf_lockout_and_audit_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    // No account, no default one: serve runs, says how to create one, and
    // ingest with a token works meanwhile.
    let ingest = {
        let out = vigie()
            .args(["token", "create", "--data"])
            .arg(&data)
            .args(["--scope", "ingest", "--name", "winlogbeat"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    {
        let server = start(&data);
        assert!(
            server
                .said
                .iter()
                .any(|l| l.contains("vigie user add NAME --role admin")),
            "{:?}",
            server.said
        );
        let page = http(&server.base, "GET", "/login", &[], None);
        assert!(
            page.body.contains("Aucun compte n'existe encore"),
            "French by default"
        );
        assert!(page.body.contains("vigie user add NOM --role admin"));
        let auth = format!("Bearer {ingest}");
        let r = http(
            &server.base,
            "POST",
            "/api/v1/ingest",
            &[("Authorization", &auth)],
            Some(b"{\"EventID\": 4624}\n"),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["accepted"], 1);
    }

    let anne = add_admin(&data, ANNE, ANNE_PW);
    let out = add_user(&data, VERA, "viewer", VERA_PW);
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty(),
        "no second factor for a viewer by default"
    );
    // Refusals: an unknown role, a short password, an existing name.
    assert_eq!(
        add_user(&data, "x", "root", "long enough password")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        add_user(&data, "x", "viewer", "short").status.code(),
        Some(2)
    );
    assert_eq!(
        add_user(&data, VERA, "viewer", "long enough password")
            .status
            .code(),
        Some(2)
    );
    let list = vigie()
        .args(["user", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains(&format!("{ANNE}\tadmin\tyes")), "{list}");
    assert!(list.contains("vera\tviewer\tno"), "{list}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("users.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let server = start(&data);
    let base = server.base.clone();

    // Every route of the table: 401 without a session or token, and with
    // a session id that is not one.
    for (method, path, access) in vigie_serve::ROUTES {
        let path = &path
            .replace("{index}", "winlogbeat-8.17.0")
            .replace("{name}", "winlogbeat-8.17.0");
        let m = method.as_str();
        let bare = http(&base, m, path, &[], Some(b"{}"));
        let forged = http(
            &base,
            m,
            path,
            &[("Cookie", "vigie_session=00ff")],
            Some(b"{}"),
        );
        if *access == vigie_serve::Access::Open {
            // The public status page (its feed, its history, per
            // tenant) is the one page open; /healthz holds no data and
            // /login is the way in.
            assert!(
                path == "/healthz" || path == "/login" || path.starts_with("/status"),
                "{m} {path} open"
            );
            continue;
        }
        assert_eq!(bare.status, 401, "{m} {path} without anything");
        assert_eq!(forged.status, 401, "{m} {path} with a forged session");
    }
    // A browser asking for the console without a session goes to /login.
    let r = http(
        &base,
        "GET",
        "/",
        &[("Accept", "text/html,application/xhtml+xml")],
        None,
    );
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    // English on demand, French by default.
    assert!(http(&base, "GET", "/login?lang=en", &[], None)
        .body
        .contains("Sign in"));
    assert!(http(
        &base,
        "GET",
        "/login",
        &[("Accept-Language", "en-GB,en")],
        None
    )
    .body
    .contains("Sign in"));
    assert!(http(&base, "GET", "/login", &[], None)
        .body
        .contains("Se connecter"));
    // A login form not from our page (no form cookie) is refused.
    let r = http(
        &base,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form(&[
            ("csrf", "x"),
            ("name", VERA),
            ("password", VERA_PW),
        ])),
    );
    assert_eq!(r.status, 403);

    // The viewer: the cookie's attributes, reads, changes nothing.
    let (r, _) = login(&base, VERA, VERA_PW, "");
    let session_cookie = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("vigie_session="))
        .unwrap()
        .to_string();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            session_cookie.split("; ").any(|a| a == attr),
            "{attr} in {session_cookie}"
        );
    }
    assert_eq!(
        session_cookie.split(';').next().unwrap().len(),
        "vigie_session=".len() + 64,
        "256 bits"
    );
    let vera = signed_in(&base, VERA, VERA_PW, "");
    let me = http(
        &base,
        "GET",
        "/api/v1/me",
        &[("Cookie", &vera.cookie)],
        None,
    )
    .json();
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["role_name"], "lecteur");
    assert_eq!(
        http(
            &base,
            "GET",
            "/api/v1/detections",
            &[("Cookie", &vera.cookie)],
            None
        )
        .status,
        200
    );
    assert_eq!(
        http(
            &base,
            "GET",
            "/api/v1/audit",
            &[("Cookie", &vera.cookie)],
            None
        )
        .status,
        403
    );
    for (method, path, access) in vigie_serve::ROUTES {
        if *method == vigie_serve::Method::GET
            || *access == vigie_serve::Access::Open
            || *path == "/logout"
        {
            continue;
        }
        let path = &path
            .replace("{index}", "winlogbeat-8.17.0")
            .replace("{name}", "winlogbeat-8.17.0");
        let r = http(
            &base,
            method.as_str(),
            path,
            &[("Cookie", &vera.cookie), ("X-CSRF-Token", &vera.csrf)],
            Some(b"{\"EventID\": 1}\n"),
        );
        assert_eq!(r.status, 403, "a viewer on {method} {path}: {}", r.body);
        let r = http(
            &base,
            "DELETE",
            path,
            &[("Cookie", &vera.cookie), ("X-CSRF-Token", &vera.csrf)],
            None,
        );
        assert!(
            r.status == 403 || r.status == 405,
            "DELETE {path}: {}",
            r.status
        );
    }
    let html = http(
        &base,
        "GET",
        "/",
        &[("Cookie", &vera.cookie), ("Accept", "text/html")],
        None,
    );
    assert_eq!(html.status, 200);
    assert!(html.body.contains("vera — lecteur"), "the console page");
    assert!(html
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));

    // The admin: no code, a wrong code, then the right one (once).
    assert_eq!(login(&base, ANNE, ANNE_PW, "").0.status, 401);
    assert_eq!(login(&base, ANNE, ANNE_PW, "000000").0.status, 401);
    let c = code(&anne);
    let admin = signed_in(&base, ANNE, ANNE_PW, &c);
    assert_eq!(
        login(&base, ANNE, ANNE_PW, &c).0.status,
        401,
        "a code is accepted once"
    );

    // CSRF: with a session, a POST without the token is refused, with it
    // accepted (form field or header).
    let event = b"{\"EventID\": 4625, \"Computer\": \"mairie-pc1\"}\n";
    let r = http(
        &base,
        "POST",
        "/api/v1/ingest",
        &[("Cookie", &admin.cookie)],
        Some(event),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("CSRF"));
    let r = http(
        &base,
        "POST",
        "/api/v1/ingest",
        &[
            ("Cookie", &admin.cookie),
            ("X-CSRF-Token", "0".repeat(64).as_str()),
        ],
        Some(event),
    );
    assert_eq!(r.status, 403, "another token");
    let r = http(
        &base,
        "POST",
        "/api/v1/ingest",
        &[("Cookie", &admin.cookie), ("X-CSRF-Token", &admin.csrf)],
        Some(event),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["accepted"], 1);
    // Another session's token does not do.
    let r = http(
        &base,
        "POST",
        "/logout",
        &[("Cookie", &admin.cookie), ("X-CSRF-Token", &vera.csrf)],
        None,
    );
    assert_eq!(r.status, 403);
    // The API description lists every route.
    let doc = http(
        &base,
        "GET",
        "/api/v1/openapi.json",
        &[("Cookie", &admin.cookie)],
        None,
    )
    .json();
    for (method, path, _) in vigie_serve::ROUTES {
        assert!(
            doc["paths"][*path][method.as_str().to_lowercase()].is_object(),
            "{method} {path}"
        );
    }

    // Five wrong passwords lock vera; the sixth attempt, right, is refused.
    for i in 1..=5 {
        let (r, id) = login(&base, VERA, "not her password", "");
        assert_eq!(r.status, 401);
        assert!(id.is_none());
        let locked = r.body.contains("verrouillé");
        assert_eq!(locked, i == 5, "attempt {i}");
    }
    let (r, id) = login(&base, VERA, VERA_PW, "");
    assert!(
        id.is_none() && r.status == 401 && r.body.contains("verrouillé"),
        "locked: {}",
        r.body
    );
    // The session she had is ended by the lock.
    assert_eq!(me_status(&base, &vera), 401);
    // An unknown name gets the same answers: nothing says it is not one.
    for i in 1..=5 {
        let (r, _) = login(&base, "personne", "whatever it is", "");
        assert_eq!(r.status, 401);
        assert_eq!(
            r.body.contains("verrouillé"),
            i == 5,
            "unknown name, attempt {i}"
        );
    }
    let out = vigie()
        .args(["user", "unlock", VERA, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let vera = signed_in(&base, VERA, VERA_PW, "");

    // Sign out: the session is gone.
    let r = http(
        &base,
        "POST",
        "/logout",
        &[("Cookie", &vera.cookie), ("X-CSRF-Token", &vera.csrf)],
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(me_status(&base, &vera), 401);

    // Removing an account ends its sessions at once.
    let vera = signed_in(&base, VERA, VERA_PW, "");
    let out = vigie()
        .args(["user", "remove", VERA, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(me_status(&base, &vera), 401);
    assert_eq!(login(&base, VERA, VERA_PW, "").0.status, 401);
    let out = vigie()
        .args(["user", "remove", VERA, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no such account");

    // The audit log, as an admin exports it.
    let r = http(
        &base,
        "GET",
        "/api/v1/audit",
        &[("Cookie", &admin.cookie)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let entries: Vec<Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: BTreeSet<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (who, action, outcome) in [
        (VERA, "login", "success"),
        (VERA, "login_failed", "failure"),
        (VERA, "lockout", "success"),
        (VERA, "login_failed", "refused"),
        (VERA, "logout", "success"),
        (ANNE, "login", "success"),
        (ANNE, "login_failed", "failure"),
        ("personne", "lockout", "success"),
    ] {
        assert!(
            seen.contains(&(who.into(), action.into(), outcome.into())),
            "{who} {action} {outcome} in {seen:?}"
        );
    }
    for action in ["user_add", "user_unlock", "user_remove", "token_create"] {
        let e = entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action}"));
        assert!(e["who"].as_str().unwrap().starts_with("cli:"), "{e}");
        assert_eq!(e["from"], "local");
    }
    for e in &entries {
        let t = chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap()).unwrap();
        assert_eq!(t.offset().local_minus_utc(), 0, "UTC");
        if e["action"] == "login" {
            assert_eq!(e["from"], "127.0.0.1");
        }
    }
    drop(server);

    // `vigie audit verify`: intact, then an edited line is named.
    let verify = || {
        vigie()
            .args(["audit", "verify", "--data"])
            .arg(&data)
            .output()
            .unwrap()
    };
    let out = verify();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = data.join("audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let k = lines
        .iter()
        .position(|l| l.contains("\"lockout\""))
        .unwrap();
    let edited = text.replacen(lines[k], &lines[k].replace("\"lockout\"", "\"logout\""), 1);
    std::fs::write(&path, edited).unwrap();
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("line {}", k + 2)), "{err}");
}

#[test]
fn chromium_signs_in_with_a_totp_code_sees_the_demo_detections_and_signs_out() {
    let Some(bin) = vigie_testkit::cdp::chromium_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let anne = add_admin(&data, ANNE, ANNE_PW);
    let ingest = {
        let out = vigie()
            .args(["token", "create", "--data"])
            .arg(&data)
            .args(["--scope", "ingest"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let server = start(&data);
    let base = server.base.clone();

    // The demo's logs, sent as a shipper sends them.
    let demo = make_demo(tmp.path());
    let auth = format!("Bearer {ingest}");
    let mut sent = 0;
    let mut stack = vec![demo.join("scenario/logs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                let r = http(
                    &base,
                    "POST",
                    "/api/v1/ingest",
                    &[("Authorization", &auth)],
                    Some(&std::fs::read(&p).unwrap()),
                );
                assert_eq!(r.status, 200, "{}", r.body);
                sent += r.json()["accepted"].as_u64().unwrap();
            }
        }
    }
    assert!(sent > 1000, "{sent}");
    let read = {
        let out = vigie()
            .args(["token", "create", "--data"])
            .arg(&data)
            .args(["--scope", "read"])
            .output()
            .unwrap();
        format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
    };
    let until = Instant::now() + Duration::from_secs(180);
    let detections = loop {
        let s = http(
            &base,
            "GET",
            "/api/v1/stats",
            &[("Authorization", &read)],
            None,
        )
        .json();
        if s["events_processed"].as_u64().unwrap_or(0) >= sent {
            break s["detections"].as_u64().unwrap();
        }
        assert!(Instant::now() < until, "the worker never caught up: {s}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(detections > 0);

    let profile = tmp.path().join("chromium");
    let mut b = vigie_testkit::cdp::Browser::start(&bin, &profile);
    b.viewport(390, 844, true);
    // A French browser, as at the town hall.
    let ua = b.eval("navigator.userAgent");
    b.call(
        "Network.setUserAgentOverride",
        serde_json::json!({"userAgent": ua, "acceptLanguage": "fr-FR,fr;q=0.9,en;q=0.5"}),
    );
    b.open_url(&format!("{base}/"));
    b.wait_for("location.pathname === '/login' && !!document.querySelector('#name')");
    assert_eq!(b.eval("document.documentElement.lang"), "fr");
    let c = code(&anne);
    let fill = format!(
        "document.querySelector('#name').value = {}; document.querySelector('#password').value = {}; document.querySelector('#code').value = {}; document.querySelector('form').submit(); true",
        serde_json::to_string(ANNE).unwrap(),
        serde_json::to_string(ANNE_PW).unwrap(),
        serde_json::to_string(&c).unwrap(),
    );
    b.eval(&fill);
    b.wait_for("location.pathname === '/' && document.querySelectorAll('tr.detection').length > 0");
    let shown = b
        .eval("document.querySelectorAll('tr.detection').length")
        .as_u64()
        .unwrap();
    assert_eq!(
        shown,
        detections.min(500),
        "every detection listed (up to the page's 500)"
    );
    let who = b.eval("document.querySelector('#who').textContent");
    assert_eq!(who, format!("{ANNE} — administrateur").as_str());
    assert_eq!(
        b.eval("document.cookie"),
        "",
        "the session cookie is HttpOnly"
    );
    // Fits a phone: nothing wider than the screen.
    let wide = b.eval("document.documentElement.scrollWidth <= window.innerWidth");
    assert_eq!(wide, true);
    b.eval("document.querySelector('#logout').click(); true");
    b.wait_for("location.pathname === '/login'");
    // Signed out: the console sends back to the login page.
    b.open_url(&format!("{base}/"));
    b.wait_for("location.pathname === '/login'");
    assert!(
        b.console.iter().all(|m| !m.starts_with("exception")),
        "{:?}",
        b.console
    );
    drop(b);
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"action\":\"login\""));
    assert!(audit.contains("\"action\":\"logout\""));
}
