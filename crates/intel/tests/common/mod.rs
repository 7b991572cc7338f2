//! Shared by the intel tests: findings of a small incident, a tiny HTTP
//! server over the pure TAXII responses, the Python reference tools.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use vigie_intel::export::{Findings, IncidentSummary, Observed, Role, TechniqueSeen, ToolFile};
use vigie_intel::taxii::server::{handle, Server};
use vigie_intel::HashAlgo;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Findings of a small incident: an entry address, an exfiltration
/// destination, a C2 name, two tools.
pub fn findings() -> Findings {
    let obs = |v: &str, role: Role, day: u32| Observed {
        value: v.into(),
        role,
        first: Some(Utc.with_ymd_and_hms(2026, 1, day, 2, 10, 0).unwrap()),
        last: Some(Utc.with_ymd_and_hms(2026, 1, day, 3, 0, 0).unwrap()),
        count: 3,
        hosts: 1,
        reasons: vec!["rule A".into()],
    };
    let mut h1 = BTreeMap::new();
    h1.insert(
        HashAlgo::Md5,
        "0123456789abcdef0123456789abcdef".to_string(),
    );
    h1.insert(HashAlgo::Sha256, "ab".repeat(32));
    h1.insert(
        HashAlgo::Imphash,
        "fedcba9876543210fedcba9876543210".to_string(),
    );
    let mut h2 = BTreeMap::new();
    h2.insert(HashAlgo::Sha1, "cd".repeat(20));
    Findings {
        organisation: "Communauté de communes de Pen-Ar-Bed".into(),
        incident: Some(IncidentSummary {
            id: "INC-1".into(),
            name: "INC-1 — Rançongiciel".into(),
            description: "Rançongiciel du 2026-01-10 au 2026-01-16.".into(),
            severity: vigie_detect::Level::Critical,
            first: t("2026-01-10T02:10:00Z"),
            last: t("2026-01-16T01:00:00Z"),
            nature: vec!["ransomware".into()],
            tactics: vec!["initial-access".into(), "exfiltration".into()],
        }),
        addresses: vec![
            obs("203.0.113.45", Role::Entry, 10),
            obs("2001:db8::66", Role::Attacker, 11),
            obs("203.0.113.131", Role::Exfiltration, 15),
        ],
        domains: vec![obs(
            "relay-4f7c21a8.net.anydesk.com",
            Role::RemoteAccess,
            11,
        )],
        tools: vec![
            ToolFile {
                name: "rclone.exe".into(),
                hashes: h1,
                first: Some(t("2026-01-15T22:00:00Z")),
                last: Some(t("2026-01-15T23:00:00Z")),
                count: 2,
                hosts: 1,
                rules: vec!["PUA - Rclone Execution".into()],
            },
            ToolFile {
                name: "AdFind.exe".into(),
                hashes: h2,
                first: Some(t("2026-01-10T02:30:00Z")),
                last: Some(t("2026-01-10T02:30:00Z")),
                count: 1,
                hosts: 1,
                rules: vec![],
            },
        ],
        techniques: vec![TechniqueSeen {
            id: "T1021.001".into(),
            name: Some("Remote Desktop Protocol".into()),
            tactic: Some("lateral-movement".into()),
            count: 4,
            rules: vec![("RDP Logon".into(), Some(vigie_detect::Level::High), 4)],
        }],
        accounts: vec!["compte de prestataire".into()],
        left_out: vec![],
        notes: vec![],
        as_of: t("2026-01-17T11:00:00Z"),
    }
}

/// A Python that has `modules`, or `None` (skipped outside CI).
pub fn python(modules: &[&str]) -> Option<std::path::PathBuf> {
    vigie_testkit::python(modules)
}

/// Runs a script of `tests/python` and returns its stdout; panics with
/// its output when it fails.
pub fn run_python(py: &Path, script: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new(py)
        .arg(&path)
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A tiny HTTP/1.1 server answering GETs with the pure TAXII responses,
/// behind basic authentication (`reader:secret`), as `vigie serve` mounts
/// them. Stops when dropped.
pub struct TinyServer {
    pub url: String,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Drop for TinyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

pub fn serve(server: Server) -> TinyServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let expected = format!("Basic {}", base64_encode(b"reader:secret"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if flag.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("");
            let target = parts.next().unwrap_or("/");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let r = if headers.get("authorization") != Some(&expected) {
                let mut r =
                    vigie_intel::taxii::server::error(401, "Unauthorized", "Credentials needed.");
                r.headers
                    .push(("WWW-Authenticate".into(), "Basic realm=\"taxii\"".into()));
                r
            } else if method != "GET" {
                vigie_intel::taxii::server::error(405, "Method not allowed", "Read-only.")
            } else {
                handle(
                    &server,
                    path,
                    query,
                    headers.get("accept").map(String::as_str),
                    headers.get("if-none-match").map(String::as_str),
                )
            };
            let reason = match r.status {
                200 => "OK",
                304 => "Not Modified",
                401 => "Unauthorized",
                404 => "Not Found",
                406 => "Not Acceptable",
                _ => "Error",
            };
            let mut head = format!(
                "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                r.status,
                r.content_type,
                r.body.len()
            );
            for (k, v) in &r.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(r.body.as_bytes());
            let _ = stream.flush();
        }
    });
    TinyServer {
        url: format!("http://{addr}"),
        stop,
        addr,
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}
