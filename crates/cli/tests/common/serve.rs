//! The helpers of the `vigie serve` tests (serve.rs, serve_protocols.rs,
//! serve_alerts.rs): the binary started on a loopback port, tokens made
//! by `vigie token create`, requests with a bearer token.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::server::{spawn_serve, Server};

pub fn vigie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
}

pub fn token(data: &Path, scope: &str) -> String {
    token_of(data, scope, "default")
}

pub fn token_of(data: &Path, scope: &str, tenant: &str) -> String {
    let out = vigie()
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--scope", scope, "--tenant", tenant])
        .output()
        .unwrap();
    assert!(out.status.success());
    let t = String::from_utf8(out.stdout).unwrap();
    assert_eq!(t.lines().count(), 1, "one token, nothing else: {t:?}");
    assert!(t.starts_with("vgt_") && t.trim().len() == 68, "{t:?}");
    t.trim().to_string()
}

pub fn start(data: &Path) -> Server {
    start_with(data, &[]).0
}

/// Starts serve with `extra` options; also returns the other listeners'
/// addresses it announced (`syslog UDP on …`), by kind.
pub fn start_with(data: &Path, extra: &[&str]) -> (Server, Vec<(String, String)>) {
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra);
    // An English locale, whatever the machine's: a service without one
    // speaks French (tests that check French say so).
    for k in ["LC_ALL", "LC_MESSAGES"] {
        cmd.env_remove(k);
    }
    cmd.env("LANG", "C.UTF-8");
    let server = spawn_serve(cmd);
    let others = server
        .said
        .iter()
        .filter_map(|line| {
            let rest = line
                .strip_prefix("vigie serve: syslog ")
                .or_else(|| line.strip_prefix("vigie serve: NDJSON "))?;
            let (kind, at) = rest.split_once(" on ").unwrap();
            Some((kind.to_string(), at.to_string()))
        })
        .collect();
    (server, others)
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

pub fn get(base: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = agent().get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

pub fn post(base: &str, path: &str, token: Option<&str>, body: &[u8], gzip: bool) -> (u16, Value) {
    let mut req = agent().post(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    if gzip {
        req = req.header("Content-Encoding", "gzip");
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn stats(base: &str, t: &str) -> Value {
    let (s, body) = get(base, "/api/v1/stats", Some(t));
    assert_eq!(s, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until the worker has judged `n` events since its start.
pub fn processed(base: &str, t: &str, n: u64) {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let s = stats(base, t);
        if s["events_processed"].as_u64().unwrap() >= n {
            return;
        }
        assert!(Instant::now() < until, "worker stuck: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Routes a reader may GET that hold no tenant's data: the rules in
/// force are the deployment's (one engine judges every commune).
const DEPLOYMENT_WIDE: &[&str] = &["/rules", "/api/v1/rules"];

/// Every route that reads a tenant's data with a GET — the API's, and
/// with `pages` the console's pages too (people's only: a token is sent
/// to the API) — `{…}` filled with a placeholder: asked for another
/// tenant, each must answer 403 before looking anything up.
pub fn tenant_read_routes(pages: bool) -> Vec<String> {
    use vigie_serve::{tokens::Scope, Access};
    vigie_serve::ROUTES
        .iter()
        .filter(|(m, p, a)| {
            *m == vigie_serve::Method::GET
                && (*a == Access::Needs(Scope::Read) || (pages && *a == Access::Page))
                && !DEPLOYMENT_WIDE.contains(p)
        })
        .map(|(_, p, _)| {
            p.split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}
