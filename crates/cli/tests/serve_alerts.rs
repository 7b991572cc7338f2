//! `vigie serve`'s alerting through the binary: each incident sent once to
//! a real webhook receiver, and a host that fell silent alerted once across
//! a restart.

mod common;

use common::serve::{get, post, processed, start_with, stats, token};
use common::server::{jsonl_files, make_demo};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A webhook receiver as chat tools run one: every POST body, in order.
fn webhook() -> (String, std::sync::mpsc::Receiver<Value>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/vigie", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body = loop {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break Some(buf[end + 4..end + 4 + len].to_vec());
                }
            };
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if let Some(b) = body {
                if tx.send(serde_json::from_slice(&b).unwrap()).is_err() {
                    return;
                }
            }
        }
    });
    (url, rx)
}

/// Alerts: the demo's intrusion sent over HTTP gives one message per
/// incident at the webhook of the configuration file, named by its live
/// id (the one `/api/v1/incidents` gives); after a restart, nothing is
/// sent again, and the live ids stay.
#[test]
fn each_incident_is_sent_once_to_the_webhook() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let (url, received) = webhook();
    let conf = tmp.path().join("vigie.toml");
    std::fs::write(&conf, format!("alert_webhook = \"{url}\"\n")).unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let (server, _) = start_with(&data, &["--config", &conf]);
    let demo = make_demo(tmp.path());
    let mut sent = 0;
    for file in jsonl_files(&demo.join("scenario/logs")) {
        let text = std::fs::read(&file).unwrap();
        let (status, body) = post(&server.base, "/api/v1/ingest", Some(&admin), &text, false);
        assert_eq!(status, 200, "{body}");
        sent += body["accepted"].as_u64().unwrap();
    }
    processed(&server.base, &admin, sent);
    let (_, body) = get(&server.base, "/api/v1/incidents", Some(&admin));
    let incidents: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert!(!incidents.is_empty());
    let ids: BTreeSet<String> = incidents
        .iter()
        .map(|i| i["live_id"].as_str().unwrap().to_string())
        .collect();
    // One message per incident (updates may follow while the last
    // events are judged; never a second "new").
    let mut new = BTreeSet::new();
    let until = Instant::now() + Duration::from_secs(180);
    while new != ids {
        let left = until.saturating_duration_since(Instant::now());
        let m = received.recv_timeout(left).expect("an alert per incident");
        assert_eq!(m["source"], "vigie");
        assert_eq!(m["tenant"], "default");
        let id = m["incident"]["live_id"].as_str().unwrap().to_string();
        assert!(m["text"].as_str().unwrap().contains(&id), "{m}");
        assert!(
            !m["incident"]["hosts"].as_array().unwrap().is_empty(),
            "{m}"
        );
        if m["kind"] == "incident_new" {
            assert!(new.insert(id.clone()), "{id} new twice");
        }
    }
    // Until the alerter has nothing more to say (incidents seen while the
    // events were arriving may have grown or merged since).
    while received
        .recv_timeout(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(1))
        .is_ok()
    {}
    let s = stats(&server.base, &admin);
    assert!(
        s["alerts_delivered"].as_u64().unwrap() >= ids.len() as u64,
        "{s}"
    );
    assert_eq!(s["alerts_failed"].as_u64(), Some(0), "{s}");

    // Restart: the same incidents under the same live ids, not sent again.
    drop(server);
    let (server, _) = start_with(&data, &["--config", &conf]);
    let until = Instant::now() + Duration::from_secs(120);
    while stats(&server.base, &admin)["events_observed"].as_u64() != Some(sent) {
        assert!(Instant::now() < until, "scope not rebuilt");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Every event observed again, then the rebuild said done (503 until
    // then): the incidents are those of every stored event.
    let body = loop {
        let (status, body) = get(&server.base, "/api/v1/incidents", Some(&admin));
        if status != 503 {
            assert_eq!(status, 200, "{body}");
            break body;
        }
        assert!(Instant::now() < until, "scope never said rebuilt: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let again: Vec<Value> = serde_json::from_str(&body).unwrap();
    let again_ids: BTreeSet<String> = again
        .iter()
        .map(|i| i["live_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again_ids, ids);
    // Kept in state.db, not in the former files.
    assert!(!data.join("incidents.json").exists());
    assert!(!data.join("alerts.jsonl").exists());
    {
        let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
        let mut st = db
            .prepare("SELECT id FROM live_incidents WHERE tenant = 'default'")
            .unwrap();
        let kept: BTreeSet<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(ids.is_subset(&kept), "{ids:?} kept: {kept:?}");
    }
    // Two looks of the alerter.
    std::thread::sleep(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(1));
    while let Ok(m) = received.try_recv() {
        assert_ne!(m["kind"], "incident_new", "sent again after a restart: {m}");
    }
}

/// Sources health across restarts: a host that sent a few events and
/// then nothing, the server killed (`kill -9`) before it fell silent and
/// started again: its silence is still alerted (the health is rebuilt
/// from the stored events' receipt times); killed and started again
/// once said, the silence is not said a second time (kept in
/// `state.db`), and the incident ids and alerts are there, not in the
/// former files.
#[test]
fn a_host_silent_across_a_restart_is_alerted_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let (url, received) = webhook();
    let conf = tmp.path().join("vigie.toml");
    std::fs::write(&conf, format!("alert_webhook = \"{url}\"\n")).unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let args = ["--config", conf.as_str(), "--silence-minutes", "1"];
    let (server, _) = start_with(&data, &args);
    let sent_at = Instant::now();
    let body = (1..=3)
        .map(|i| format!("{{\"EventID\":4624,\"Channel\":\"Security\",\"Computer\":\"PC-MUET\",\"EventRecordID\":{i}}}\n"))
        .collect::<String>();
    let (status, r) = post(
        &server.base,
        "/api/v1/ingest",
        Some(&admin),
        body.as_bytes(),
        false,
    );
    assert_eq!((status, r["accepted"].as_u64()), (200, Some(3)), "{r}");
    processed(&server.base, &admin, 3);
    // Killed well before the minute of silence.
    drop(server);
    assert!(sent_at.elapsed() < Duration::from_secs(30));
    let silent = |m: &Value| {
        m["kind"] == "sources_silent"
            && m["channels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["host"] == "pc-muet")
    };
    let (server, _) = start_with(&data, &args);
    let until = Instant::now() + Duration::from_secs(150);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let m = received
            .recv_timeout(left)
            .expect("the silence of PC-MUET alerted after the restart");
        if silent(&m) {
            assert!(m["text"].as_str().unwrap().contains("pc-muet"), "{m}");
            break;
        }
    }
    // Kept once delivered (a kill in between would say it again: at
    // least once, never lost): killed once it is in state.db.
    let said = || -> i64 {
        let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
        db.query_row(
            "SELECT count(*) FROM alert_silences WHERE host = 'pc-muet'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let until = Instant::now() + Duration::from_secs(10);
    while said() != 1 {
        assert!(Instant::now() < until, "the silence said not kept");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
    let (server, _) = start_with(&data, &args);
    let until = Instant::now() + Duration::from_secs(60);
    while stats(&server.base, &admin)["events_observed"].as_u64() != Some(3) {
        assert!(Instant::now() < until, "scope not rebuilt");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Two looks of the alerter after the rebuild.
    std::thread::sleep(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(1));
    while let Ok(m) = received.try_recv() {
        assert!(
            !silent(&m),
            "the same silence said again after a restart: {m}"
        );
    }
    drop(server);
    for former in ["incidents.json", "alerts.jsonl"] {
        assert!(!data.join(former).exists(), "{former} written");
    }
    assert_eq!(said(), 1);
}
