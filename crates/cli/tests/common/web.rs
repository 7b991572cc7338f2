//! HTTP as a browser and a script send it to a `vigie serve` child, and
//! the console's accounts (crisis.rs).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

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

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The value of cookie `name` among its Set-Cookie headers.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, c)| {
                c.split(';')
                    .next()
                    .and_then(|kv| kv.split_once('='))
                    .filter(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
    }
}

/// One request (GET or POST), redirects not followed.
pub fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let uri = format!("{base}{path}");
    let mut resp = if method == "GET" {
        let mut r = agent.get(&uri);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.call().unwrap()
    } else {
        let mut r = agent.post(&uri);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send(body).unwrap()
    };
    Resp {
        status: resp.status().as_u16(),
        headers: resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    let enc = |v: &str| -> String {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// `vigie user add NAME --role ROLE` with the password on stdin (roles
/// without a second factor).
pub fn add_user(data: &Path, name: &str, role: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["user", "add", name, "--role", role, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `vigie token create --scope SCOPE`: the token.
pub fn token(data: &Path, scope: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--scope", scope])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A person signed in through the login form: the cookie to send and
/// the session's CSRF token.
pub struct Person {
    pub cookie: String,
    pub csrf: String,
}

pub fn sign_in(base: &str, name: &str, password: &str) -> Person {
    let page = http(base, "GET", "/login", &[], b"");
    let form_cookie = page.set_cookie("vigie_login").expect("the form's cookie");
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the form's csrf field")
        .to_string();
    let r = http(
        base,
        "POST",
        "/login",
        &[
            ("Cookie", &format!("vigie_login={form_cookie}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &form(&[
            ("csrf", &csrf),
            ("name", name),
            ("password", password),
            ("code", ""),
        ]),
    );
    assert_eq!(r.status, 303, "{name}: {}", r.body);
    let cookie = format!(
        "vigie_session={}",
        r.set_cookie("vigie_session").expect("a session")
    );
    let me = http(base, "GET", "/api/v1/me", &[("Cookie", &cookie)], b"").json();
    Person {
        cookie,
        csrf: me["csrf"].as_str().unwrap().to_string(),
    }
}
