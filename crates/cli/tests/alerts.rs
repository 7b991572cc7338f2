//! `vigie serve`'s alerts by e-mail and syslog/CEF, through the binary:
//! the demo's events sent over HTTP, each incident mailed once through a
//! real SMTP server (aiosmtpd, the Python project's SMTP server, writing
//! a Maildir) and forwarded once as RFC 5424 + CEF over TCP to a
//! collector the test runs; a relay that is down is counted as failed
//! and its mails sent once it is back, the other sink unaffected.

mod common;

use common::console::{http, judged, send_logs, token};
use common::server::{make_demo, spawn_serve, Server};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An SMTP server on loopback that keeps every mail in a Maildir.
struct Relay {
    child: Child,
    port: u16,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn relay(python: &Path, port: u16, maildir: &Path) -> Relay {
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "aiosmtpd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Relay { child, port }
}

/// The mails of a Maildir, decoded by Python's own `email` package:
/// subject, to, content type and text.
fn mails(python: &Path, maildir: &Path) -> Vec<Value> {
    let script = r#"
import json, mailbox, sys
from email.header import decode_header, make_header
out = []
for m in mailbox.Maildir(sys.argv[1], create=False):
    out.append({
        "subject": str(make_header(decode_header(m["Subject"]))),
        "to": m["To"], "from": m["From"],
        "type": m.get_content_type(),
        "body": m.get_payload(decode=True).decode(m.get_content_charset() or "utf-8"),
    })
print(json.dumps(out))
"#;
    let out = Command::new(python)
        .args(["-c", script])
        .arg(maildir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A syslog collector over TCP (RFC 6587 octet counting): every message.
fn collector() -> (u16, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s);
                loop {
                    let mut count = Vec::new();
                    if r.read_until(b' ', &mut count).unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = std::str::from_utf8(&count[..count.len() - 1])
                        .unwrap()
                        .parse()
                        .expect("octet counting");
                    let mut m = vec![0; n];
                    r.read_exact(&mut m).unwrap();
                    tx.send(String::from_utf8(m).unwrap()).unwrap();
                }
            });
        }
    });
    (port, rx)
}

fn start(data: &Path, conf: &Path) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--lang", "fr", "--config"])
        .arg(conf);
    spawn_serve(cmd)
}

fn get(base: &str, path: &str, auth: &str) -> Value {
    let r = http(base, "GET", path, &[("Authorization", auth)], None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

/// The incident ids of the CEF messages received, checking each message's
/// form (RFC 5424 header, CEF header and keys).
fn cef_incidents(received: &[String]) -> BTreeSet<String> {
    cef_news(received).into_iter().collect()
}

/// The incident id of each CEF "incident_new" message, in order.
fn cef_news(received: &[String]) -> Vec<String> {
    received
        .iter()
        .filter(|m| m.contains(" incident_new - "))
        .map(|m| {
            assert!(m.starts_with('<') && m.contains(">1 "), "RFC 5424: {m}");
            let cef = &m[m.find("CEF:0|Vigie|Vigie|").expect("CEF")..];
            // Version, signature, name, severity, extension: 8 fields.
            let fields: Vec<&str> = cef.splitn(8, '|').collect();
            assert_eq!(fields.len(), 8, "{cef}");
            assert!(fields[6].parse::<u8>().is_ok_and(|s| s <= 10), "{cef}");
            assert!(fields[7].contains("cs1Label=tenant cs1=default"), "{cef}");
            assert!(fields[7].contains("dhost="), "{cef}");
            assert!(!m.contains('\n'), "one line: {m}");
            fields[7]
                .split(' ')
                .find_map(|kv| kv.strip_prefix("externalId="))
                .expect("externalId")
                .to_string()
        })
        .collect()
}

#[test]
fn each_incident_is_mailed_and_forwarded_once_and_a_relay_down_is_caught_up() {
    let Some(python) = vigie_testkit::python(&["aiosmtpd"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let maildir: PathBuf = tmp.path().join("Maildir");
    // The relay is down when the incidents appear.
    let port = free_port();
    let (syslog_port, syslog) = collector();
    let conf = tmp.path().join("vigie.toml");
    std::fs::write(
        &conf,
        format!(
            "alert_smtp = \"smtp://127.0.0.1:{port}\"\n\
             alert_email_from = \"vigie@mairie.example\"\n\
             alert_email_to = [\"astreinte@mairie.example\", \"prestataire@infogerance.example\"]\n\
             alert_syslog = \"tcp://127.0.0.1:{syslog_port}\"\n"
        ),
    )
    .unwrap();
    let server = start(&data, &conf);
    assert!(
        server
            .said
            .iter()
            .any(|l| l == "vigie serve: alerts to: email, syslog"),
        "{:?}",
        server.said
    );
    let demo = make_demo(tmp.path());
    let sent = send_logs(&server.base, &admin, &demo.join("scenario/logs"));
    judged(&server.base, &admin, sent);
    let incidents = get(&server.base, "/api/v1/incidents", &admin);
    let ids: BTreeSet<String> = incidents
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["live_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!ids.is_empty());

    // Syslog says every incident while the relay is down.
    let mut forwarded = Vec::new();
    let until = Instant::now() + Duration::from_secs(120);
    while cef_incidents(&forwarded) != ids {
        let left = until.saturating_duration_since(Instant::now());
        forwarded.push(
            syslog
                .recv_timeout(left)
                .expect("a CEF message per incident"),
        );
    }
    // The relay's failure counted (each destination has its own loop:
    // the mail one may look a moment after the syslog one).
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let s = get(&server.base, "/api/v1/stats", &admin);
        if s["alerts_failed"].as_u64().unwrap() >= 1 {
            break;
        }
        assert!(Instant::now() < until, "{s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The alerting's journal, in state.db (read beside the running
    // server, as an operator would with sqlite3): the failure is kept
    // just after it is counted.
    let journal = || -> Vec<Value> {
        let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
        let mut st = db
            .prepare("SELECT doc FROM alert_records ORDER BY seq")
            .unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
            .collect()
    };
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let tried = journal();
        if tried
            .iter()
            .any(|r| r["sink"] == "email" && r["delivered"] == false && r["error"].is_string())
        {
            break;
        }
        assert!(Instant::now() < until, "{tried:?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The relay comes up: the mails the incidents owe are sent, once.
    let relay = relay(&python, port, &maildir);
    assert_eq!(relay.port, port);
    let until = Instant::now() + Duration::from_secs(120);
    let new_of = |list: &[Value], id: &str| {
        list.iter()
            .filter(|m| {
                let subject = m["subject"].as_str().unwrap();
                subject.contains("Nouvel incident") && subject.contains(&format!(" {id} ("))
            })
            .count()
    };
    let got = loop {
        let got = if maildir.join("new").exists() {
            mails(&python, &maildir)
        } else {
            Vec::new()
        };
        if ids.iter().all(|id| new_of(&got, id) > 0) {
            break got;
        }
        assert!(Instant::now() < until, "mails missing: {got:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    // Two more looks; then every incident of the final answer was said
    // new once by each sink, and none twice (incidents re-derived while
    // the events arrived may have appeared since: said too).
    std::thread::sleep(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(1));
    let got_after = mails(&python, &maildir);
    while let Ok(m) = syslog.try_recv() {
        forwarded.push(m);
    }
    let last: BTreeSet<String> = get(&server.base, "/api/v1/incidents", &admin)
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["live_id"].as_str().unwrap().to_string())
        .collect();
    let news = cef_news(&forwarded);
    for id in &last {
        assert_eq!(
            new_of(&got_after, id),
            1,
            "{id} mailed new once: {got_after:?}"
        );
        assert_eq!(
            news.iter().filter(|n| *n == id).count(),
            1,
            "{id} forwarded new once: {news:?}"
        );
    }
    let distinct: BTreeSet<&String> = news.iter().collect();
    assert_eq!(distinct.len(), news.len(), "none said new twice: {news:?}");
    let mut natures = 0;
    for m in &got {
        assert_eq!(m["type"], "text/plain", "{m}");
        assert_eq!(m["from"], "vigie@mairie.example", "{m}");
        let to = m["to"].as_str().unwrap();
        assert!(
            to.contains("astreinte@mairie.example")
                && to.contains("prestataire@infogerance.example"),
            "{m}"
        );
        let body = m["body"].as_str().unwrap();
        // In the server's language, with what the technician needs.
        assert!(body.contains("Gravité : "), "{body}");
        assert!(body.contains("Machines : "), "{body}");
        assert!(body.contains("Première détection (UTC) : "), "{body}");
        // The nature in French words, as the report says it, never its
        // codes; the single commune's `default` named nowhere.
        if let Some(nature) = body.lines().find_map(|l| l.strip_prefix("Nature : ")) {
            assert!(
                !nature.contains('_') && !nature.contains("ransomware"),
                "{nature}"
            );
            natures += 1;
        }
        let subject = m["subject"].as_str().unwrap();
        assert!(!subject.contains("default"), "{subject}");
        assert!(!body.contains("[Vigie] default"), "{body}");
    }
    assert!(natures > 0, "{got:?}");
    let s = get(&server.base, "/api/v1/stats", &admin);
    assert!(
        s["alerts_delivered"].as_u64().unwrap() >= 2 * ids.len() as u64,
        "{s}"
    );
}
