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
    common::write_private(&conf, format!("alert_webhook = \"{url}\"\n"));
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
    let mut all = Vec::new();
    let until = Instant::now() + Duration::from_secs(180);
    while new != ids {
        let left = until.saturating_duration_since(Instant::now());
        let m = received.recv_timeout(left).expect("an alert per incident");
        all.push(m.clone());
        assert_eq!(m["source"], "vigie");
        if m["kind"] == "incident_merged" {
            continue;
        }
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
    while let Ok(m) =
        received.recv_timeout(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(1))
    {
        all.push(m);
    }
    // One name per incident wherever an alert speaks: the live id, never
    // the scope's number.
    for m in &all {
        for field in ["text", "headline"] {
            let t = m[field].as_str().unwrap_or_default();
            assert!(!t.contains("INC-"), "{field} names a scope number: {m}");
        }
        let summary = m["incident"]["summary"].as_str().unwrap_or_default();
        assert!(!summary.contains("INC-"), "{m}");
    }
    assert!(
        all.iter().any(|m| m["headline"]
            .as_str()
            .is_some_and(|h| ids.iter().any(|id| h.contains(id.as_str())))),
        "no headline names an incident by its live id"
    );
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
    common::write_private(&conf, format!("alert_webhook = \"{url}\"\n"));
    let conf = conf.to_str().unwrap().to_string();
    let args = ["--config", conf.as_str(), "--silence-minutes", "1"];
    let (server, _) = start_with(&data, &args);
    let sent_at = Instant::now();
    // Arrivals a second apart: enough to know its rhythm (a channel seen
    // too rarely is not judged).
    arrivals(&server.base, &admin, "PC-MUET", "Security", 0, 6);
    processed(&server.base, &admin, 6);
    // Killed well before the minute of silence.
    drop(server);
    assert!(sent_at.elapsed() < Duration::from_secs(30));
    let silent = |m: &Value| {
        m["kind"] == "sources_silent"
            && m["channels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["host"] == "PC-MUET")
    };
    let (server, _) = start_with(&data, &args);
    let until = Instant::now() + Duration::from_secs(150);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let m = received
            .recv_timeout(left)
            .expect("the silence of PC-MUET alerted after the restart");
        if silent(&m) {
            assert!(m["text"].as_str().unwrap().contains("PC-MUET"), "{m}");
            break;
        }
    }
    // Kept once delivered (a kill in between would say it again: at
    // least once, never lost): killed once it is in state.db.
    let said = || -> i64 {
        let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
        db.query_row(
            "SELECT count(*) FROM alert_silences WHERE host = 'PC-MUET'",
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
    // What that server delivered is in: a copy of its own (a webhook's
    // retry after a slow answer, at least once) is not the next start's.
    while received.try_recv().is_ok() {}
    let (server, _) = start_with(&data, &args);
    let until = Instant::now() + Duration::from_secs(60);
    while stats(&server.base, &admin)["events_observed"].as_u64() != Some(6) {
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

/// Sends `n` events of `channel` on `host`, each its own request, a bit
/// more than a second apart (one arrival each); record ids from `from`.
fn arrivals(base: &str, token: &str, host: &str, channel: &str, from: u64, n: u64) {
    arrivals_of(base, token, &[host], channel, from, n)
}

/// [`arrivals`] on each of `hosts` (one request per arrival).
fn arrivals_of(base: &str, token: &str, hosts: &[&str], channel: &str, from: u64, n: u64) {
    for i in 0..n {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(1100));
        }
        let body: String = hosts
            .iter()
            .map(|host| {
                let line = serde_json::json!({
                    "EventID": 4624, "Channel": channel, "Computer": host,
                    "EventRecordID": from + i,
                });
                format!("{line}\n")
            })
            .collect();
        let (status, r) = post(base, "/api/v1/ingest", Some(token), body.as_bytes(), false);
        assert_eq!(
            (status, r["accepted"].as_u64()),
            (200, Some(hosts.len() as u64)),
            "{r}"
        );
    }
}

/// Silence per channel, on its own rhythm: on one host, a busy channel
/// (Security, an arrival a second) that stops is said silent at the
/// floor (`--silence-minutes 1`); a channel seen twice
/// (PowerShell/Operational) is not paged, but shown "rare" in the
/// sources' health; a cleared log on the quiet channel's host pages at
/// once, as an incident.
#[test]
fn a_quiet_channel_is_not_paged_a_busy_one_is() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let (url, received) = webhook();
    let conf = tmp.path().join("vigie.toml");
    common::write_private(&conf, format!("alert_webhook = \"{url}\"\n"));
    let conf = conf.to_str().unwrap().to_string();
    let args = ["--config", conf.as_str(), "--silence-minutes", "1"];
    let (server, _) = start_with(&data, &args);
    arrivals(
        &server.base,
        &admin,
        "SRV-MAIRIE",
        "Microsoft-Windows-PowerShell/Operational",
        1,
        2,
    );
    // The busy channel on the same host, and on 50 workstations.
    let names: Vec<String> = (0..50).map(|i| format!("PC-{i:02}")).collect();
    let mut hosts: Vec<&str> = names.iter().map(String::as_str).collect();
    hosts.insert(0, "SRV-MAIRIE");
    arrivals_of(&server.base, &admin, &hosts, "Security", 10, 6);
    let stopped = Instant::now();
    processed(&server.base, &admin, 2 + 6 * 51);
    let (_, body) = get(&server.base, "/api/v1/sources", Some(&admin));
    let sources: Value = serde_json::from_str(&body).unwrap();
    let channel = |s: &Value, name: &str| -> Value {
        s["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["host"] == "SRV-MAIRIE" && c["channel"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("{name} not in {s}"))
            .clone()
    };
    let ps = channel(&sources, "PowerShell");
    assert_eq!(ps["host"], "SRV-MAIRIE", "{ps}");
    assert_eq!(ps["state"], "rare", "{ps}");
    assert_eq!(ps["threshold_secs"], Value::Null, "{ps}");
    let sec = channel(&sources, "Security");
    assert_eq!(sec["state"], "receiving", "{sec}");
    assert_eq!(sec["threshold_secs"], 60, "{sec}");
    // The busy channels are said silent once past the minute.
    let until = Instant::now() + Duration::from_secs(150);
    let m = loop {
        let left = until.saturating_duration_since(Instant::now());
        let m = received
            .recv_timeout(left)
            .expect("the silence of Security alerted");
        if m["kind"] == "sources_silent" {
            break m;
        }
    };
    assert!(stopped.elapsed() > Duration::from_secs(60), "{m}");
    let said: Vec<&str> = m["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    // 51 Security channels silent, PowerShell not: 50 listed, the count
    // of the one left out said.
    assert_eq!(said.len(), 50, "{m}");
    assert!(said.iter().all(|c| *c == "Security"), "{m}");
    assert_eq!(m["channels_left_out"], 1, "{m}");
    assert!(
        m["text"].as_str().unwrap().contains("(Security, 1 min)"),
        "{m}"
    );
    let (_, body) = get(&server.base, "/api/v1/sources", Some(&admin));
    let sources: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(channel(&sources, "Security")["state"], "silent");
    assert_eq!(channel(&sources, "PowerShell")["state"], "rare");

    // The quiet channel's host clears its Security log: paged at once.
    let clear = cleared("SRV-MAIRIE", "2026-12-01T10:00:00Z", 100);
    let sent = Instant::now();
    let (status, r) = post(
        &server.base,
        "/api/v1/ingest",
        Some(&admin),
        clear.as_bytes(),
        false,
    );
    assert_eq!(status, 200, "{r}");
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let m = received.recv_timeout(left).expect("the cleared log paged");
        assert_ne!(m["kind"], "sources_silent", "PowerShell paged: {m}");
        if m["kind"] == "incident_new" {
            assert!(
                m["incident"]["nature"].to_string().contains("evasion"),
                "{m}"
            );
            break;
        }
    }
    assert!(sent.elapsed() < Duration::from_secs(30));
    // Security sent again (the cleared log): no longer silent.
    let (_, body) = get(&server.base, "/api/v1/sources", Some(&admin));
    let sources: Value = serde_json::from_str(&body).unwrap();
    assert_ne!(channel(&sources, "Security")["state"], "silent");
}

/// A log cleared on `host` at `time`, record `rid`: one high detection.
fn cleared(host: &str, time: &str, rid: u64) -> String {
    format!(
        "{}\n",
        serde_json::json!({
            "@timestamp": time, "EventID": 1102, "Channel": "Security",
            "Provider_Name": "Microsoft-Windows-Eventlog", "Computer": host,
            "EventRecordID": rid, "SubjectUserName": "adm.fusion",
        })
    )
}

/// Two incidents on one host three days apart (two, the scope's window
/// being 48 h), then an event between them: one incident. The webhook,
/// told of both, hears once that the second was merged into the first —
/// it does not vanish unsaid; and not again after a restart.
#[test]
fn an_incident_merged_into_another_is_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let (url, received) = webhook();
    let conf = tmp.path().join("vigie.toml");
    common::write_private(&conf, format!("alert_webhook = \"{url}\"\n"));
    let conf = conf.to_str().unwrap().to_string();
    let (server, _) = start_with(&data, &["--config", &conf]);
    let send = |base: &str, body: String| {
        let (status, r) = post(base, "/api/v1/ingest", Some(&admin), body.as_bytes(), false);
        assert_eq!((status, r["accepted"].as_u64()), (200, Some(1)), "{r}");
    };
    let new_one = |what: &str| -> String {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let m = received
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{what}"));
            if m["kind"] == "incident_new" {
                return m["incident"]["live_id"].as_str().unwrap().to_string();
            }
        }
    };
    send(
        &server.base,
        cleared("PC-FUSION", "2026-11-20T10:00:00Z", 1),
    );
    let first = new_one("the first incident");
    send(
        &server.base,
        cleared("PC-FUSION", "2026-11-23T10:00:00Z", 2),
    );
    let second = new_one("the second incident");
    assert_ne!(first, second);
    send(
        &server.base,
        cleared("PC-FUSION", "2026-11-21T22:00:00Z", 3),
    );
    processed(&server.base, &admin, 3);
    let until = Instant::now() + Duration::from_secs(60);
    let merged = loop {
        let left = until.saturating_duration_since(Instant::now());
        let m = received.recv_timeout(left).expect("the merge said");
        assert_ne!(m["kind"], "incident_new", "{m}");
        if m["kind"] == "incident_merged" {
            break m;
        }
    };
    assert_eq!(merged["incident"]["live_id"], second.as_str(), "{merged}");
    assert_eq!(
        merged["incident"]["merged_into"],
        first.as_str(),
        "{merged}"
    );
    // The server's language: its locale's (the helper gives an English
    // one; without any it would be French).
    assert!(
        merged["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{second}: incident merged into {first}")),
        "{merged}"
    );
    // With what the incident it is part of now holds: the cleared logs of
    // both.
    let now = &merged["into_now"];
    assert_eq!(now["live_id"], first.as_str(), "{merged}");
    assert!(now["detections"].as_u64().unwrap() >= 2, "{merged}");
    assert!(now["hosts"].as_u64().unwrap() >= 1, "{merged}");
    assert!(
        merged["text"].as_str().unwrap().contains(&format!(
            "; {first}: severity {}",
            now["severity"].as_str().unwrap()
        )),
        "{merged}"
    );
    let (_, body) = get(&server.base, "/api/v1/incidents", Some(&admin));
    let incidents: Vec<Value> = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = incidents
        .iter()
        .map(|i| i["live_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str()], "{body}");
    // Said once: not at the next looks, nor after a restart.
    std::thread::sleep(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(1));
    drop(server);
    let (server, _) = start_with(&data, &["--config", &conf]);
    let until = Instant::now() + Duration::from_secs(60);
    while stats(&server.base, &admin)["events_observed"].as_u64() != Some(3) {
        assert!(Instant::now() < until, "scope not rebuilt");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(1));
    while let Ok(m) = received.try_recv() {
        assert_ne!(m["kind"], "incident_merged", "said twice: {m}");
        assert_ne!(m["kind"], "incident_new", "{m}");
    }
}

/// An incident on 60 hosts (a log cleared on each within the hour: one
/// operation): the webhook lists 50 hosts and says 10 left out; over
/// syslog UDP the CEF message stays within a datagram (2048 bytes),
/// `dhost` one host, the host list left out whole at a field boundary —
/// never cut mid-word — said in `cs6` and counted in `alerts_truncated`.
#[test]
fn a_large_incident_is_capped_and_cut_at_a_field_boundary_said() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let (url, received) = webhook();
    let siem = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    siem.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let siem_at = format!("udp://{}", siem.local_addr().unwrap());
    let conf = tmp.path().join("vigie.toml");
    common::write_private(&conf, format!("alert_webhook = \"{url}\"\n"));
    let conf = conf.to_str().unwrap().to_string();
    let (server, _) = start_with(&data, &["--config", &conf, "--alert-syslog", &siem_at]);
    let body: String = (0..60)
        .map(|i| {
            cleared(
                &format!("PC-ACCUEIL-URBANISME-ETAT-CIVIL-{i:02}.ccpab.local"),
                &format!("2026-11-25T10:{i:02}:00Z"),
                1000 + i,
            )
        })
        .collect();
    let (status, r) = post(
        &server.base,
        "/api/v1/ingest",
        Some(&admin),
        body.as_bytes(),
        false,
    );
    assert_eq!((status, r["accepted"].as_u64()), (200, Some(60)), "{r}");
    processed(&server.base, &admin, 60);
    let until = Instant::now() + Duration::from_secs(60);
    let m = loop {
        let left = until.saturating_duration_since(Instant::now());
        let m = received.recv_timeout(left).expect("the incident alerted");
        if m["kind"] == "incident_new" {
            break m;
        }
    };
    let hosts = m["incident"]["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 50, "{m}");
    assert_eq!(m["incident"]["hosts_left_out"], 10, "{m}");
    let id = m["incident"]["live_id"].as_str().unwrap().to_string();
    let mut buf = vec![0u8; 65536];
    let line = loop {
        let n = siem.recv(&mut buf).expect("the CEF message");
        let line = String::from_utf8(buf[..n].to_vec()).unwrap();
        if line.contains(" incident_new - ") && line.contains(&format!("externalId={id} ")) {
            break line;
        }
    };
    assert!(line.len() <= 2048, "{} bytes: {line}", line.len());
    assert!(line.ends_with(" cs6Label=truncated cs6=cs4"), "{line}");
    let dhost = line
        .split(' ')
        .find_map(|kv| kv.strip_prefix("dhost="))
        .expect("dhost");
    assert!(
        dhost.starts_with("PC-ACCUEIL-URBANISME-ETAT-CIVIL-"),
        "{line}"
    );
    assert!(!dhost.contains(','), "one host in dhost: {line}");
    // The single commune's `default` is not named (a code, not a place).
    assert!(line.contains(" msg=[Vigie] L"), "{line}");
    assert!(!line.contains("msg=[Vigie] default"), "{line}");
    let s = stats(&server.base, &admin);
    assert!(s["alerts_truncated"].as_u64().unwrap() >= 1, "{s}");
}
