//! What `vigie serve` says must stay true, through the binary: a merged
//! incident's id says what it became (API and console), events dated
//! ahead of their receipt are shown with the host that sends them, a busy
//! daytime channel is not paged every night while one cut by day is,
//! and a service without a locale speaks French.

mod common;

use common::console::{add_admin, code, http, signed_in};
use common::serve::{get, post, processed, stats, token, vigie};
use common::server::{spawn_serve, Server};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// `vigie serve` on a loopback port with `extra`, the locale variables
/// set to `locale` (none: removed).
fn serve(data: &std::path::Path, extra: &[&str], locale: &[(&str, &str)]) -> Server {
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra);
    for k in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        cmd.env_remove(k);
    }
    for (k, v) in locale {
        cmd.env(k, v);
    }
    spawn_serve(cmd)
}

/// A log cleared on `host` at `time`, record `rid`: one high detection,
/// an incident of its own.
fn cleared(host: &str, time: &str, rid: u64) -> String {
    format!(
        "{}\n",
        json!({
            "@timestamp": time, "EventID": 1102, "Channel": "Security",
            "Provider_Name": "Microsoft-Windows-Eventlog", "Computer": host,
            "EventRecordID": rid, "SubjectUserName": "adm.fusion",
        })
    )
}

/// An interactive logon on `host` at `time` (RFC 3339), as Winlogbeat's
/// flattened Security events read.
fn logon(host: &str, time: &str, rid: u64) -> String {
    format!(
        "{}\n",
        json!({
            "@timestamp": time, "EventID": 4624, "Channel": "Security",
            "Provider_Name": "Microsoft-Windows-Security-Auditing",
            "Computer": host, "EventRecordID": rid,
            "TargetUserName": "agent.accueil", "TargetDomainName": "MAIRIE",
            "LogonType": 2, "IpAddress": "-", "WorkstationName": host,
        })
    )
}

/// The live ids of `/api/v1/incidents` once they are `n`.
fn incidents(base: &str, t: &str, n: usize) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(base, "/api/v1/incidents", Some(t));
        if status == 200 {
            let list: Vec<Value> = serde_json::from_str(&body).unwrap();
            let ids: Vec<String> = list
                .iter()
                .map(|i| i["live_id"].as_str().unwrap().to_string())
                .collect();
            if ids.len() == n {
                return ids;
            }
        }
        assert!(
            Instant::now() < until,
            "never {n} incidents: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Two incidents of one host three days apart, the second triaged, then
/// an event between them: one incident. The second's id still answers —
/// 200 with `merged_into` and the incident it is part of, in the API; a
/// page saying "fusionné dans" with the link and its triage kept, in the
/// console — and an id never given is 404.
#[test]
fn a_merged_incidents_id_says_what_it_became() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let totp = add_admin(&data, "anne", "correct horse battery staple");
    let server = serve(&data, &[], &[("LANG", "C.UTF-8")]);
    let base = server.base.clone();
    let send = |body: String| {
        let (status, r) = post(
            &base,
            "/api/v1/ingest",
            Some(&admin),
            body.as_bytes(),
            false,
        );
        assert_eq!((status, r["accepted"].as_u64()), (200, Some(1)), "{r}");
    };
    send(cleared("PC-FUSION", "2026-11-20T10:00:00Z", 1));
    let first = incidents(&base, &admin, 1).remove(0);
    send(cleared("PC-FUSION", "2026-11-23T10:00:00Z", 2));
    let both = incidents(&base, &admin, 2);
    let second = both.iter().find(|i| **i != first).unwrap().clone();
    // The second is triaged before the merge: who looked, what they wrote.
    let (status, r) = post(
        &base,
        "/api/v1/triage",
        Some(&admin),
        json!({"kind": "incident", "id": second, "status": "acknowledged",
               "comment": "journal vidé sur PC-FUSION, vu avec la DGS"})
        .to_string()
        .as_bytes(),
        false,
    );
    assert_eq!(status, 200, "{r}");
    send(cleared("PC-FUSION", "2026-11-21T22:00:00Z", 3));
    processed(&base, &admin, 3);
    assert_eq!(incidents(&base, &admin, 1), std::slice::from_ref(&first));

    // The API: what it became, the incident it is part of.
    let (status, body) = get(&base, &format!("/api/v1/incidents/{second}"), Some(&admin));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["live_id"], second.as_str(), "{v}");
    assert_eq!(v["merged_into"], first.as_str(), "{v}");
    assert_eq!(v["merged_through"], json!([]), "{v}");
    assert_eq!(v["incident"]["live_id"], first.as_str(), "{v}");
    assert!(
        v["incident"]["hosts"].to_string().contains("PC-FUSION"),
        "{v}"
    );
    let (status, body) = get(&base, &format!("/api/v1/incidents/{first}"), Some(&admin));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&v["live_id"], &v["merged_into"], &v["merged_from"]),
        (&json!(first), &Value::Null, &json!([second])),
        "{v}"
    );
    let (status, body) = get(&base, "/api/v1/incidents/L99", Some(&admin));
    assert_eq!(status, 404, "{body}");
    // Described as such in the OpenAPI document.
    let (_, doc) = get(&base, "/api/v1/openapi.json", Some(&admin));
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let op = &doc["paths"]["/api/v1/incidents/{id}"]["get"];
    assert!(op["responses"]["404"].is_object(), "{op}");
    assert!(
        op["responses"]["200"].to_string().contains("merged_into"),
        "{op}"
    );
    // The merged one's triage is still there.
    let (_, t) = get(&base, "/api/v1/triage", Some(&admin));
    assert!(t.contains("vu avec la DGS"), "{t}");

    // The console: the page of the merged id, French by default.
    let anne = signed_in(&base, "anne", "correct horse battery staple", &code(&totp));
    let page = http(
        &base,
        "GET",
        &format!("/incidents/{second}"),
        &[("Cookie", &anne.cookie)],
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("Incident {second} fusionné dans {first}")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("href=\"/incidents/{first}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("vu avec la DGS"), "{}", page.body);
    let page = http(
        &base,
        "GET",
        "/incidents/L99",
        &[("Cookie", &anne.cookie)],
        None,
    );
    assert_eq!(page.status, 404);
}

/// Events of a host whose clock is three hours ahead: counted in the
/// stats and `/metrics` with the host's name and its lead, on its line of
/// the sources (API and page); a host on time is not named.
#[test]
fn events_dated_ahead_are_shown_with_their_host() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let totp = add_admin(&data, "anne", "correct horse battery staple");
    let server = serve(&data, &[], &[("LANG", "C.UTF-8")]);
    let base = server.base.clone();
    let now = chrono::Utc::now();
    let at = |d: chrono::TimeDelta| (now + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body: String = (0..3)
        .map(|i| logon("PC-HORLOGE", &at(chrono::TimeDelta::hours(3)), 10 + i))
        .chain((0..3).map(|i| logon("PC-ACCUEIL", &at(chrono::TimeDelta::seconds(-30)), 20 + i)))
        .collect();
    let (status, r) = post(
        &base,
        "/api/v1/ingest",
        Some(&admin),
        body.as_bytes(),
        false,
    );
    assert_eq!((status, r["accepted"].as_u64()), (200, Some(6)), "{r}");
    processed(&base, &admin, 6);

    let s = stats(&base, &admin);
    assert_eq!(s["events_future"], 3, "{s}");
    let hosts = s["events_future_hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{s}");
    assert_eq!(hosts[0]["host"], "PC-HORLOGE", "{s}");
    assert_eq!(hosts[0]["events_future"], 3, "{s}");
    let ahead = hosts[0]["ahead_secs"].as_u64().unwrap();
    assert!((3 * 3600 - 120..=3 * 3600).contains(&ahead), "{s}");
    assert_eq!(s["events_future_hosts_left_out"], 0, "{s}");

    let (status, metrics) = get(&base, "/metrics", Some(&admin));
    assert_eq!(status, 200);
    assert!(
        metrics.contains("vigie_host_events_future{tenant=\"default\",host=\"PC-HORLOGE\"} 3\n"),
        "{metrics}"
    );
    assert!(!metrics.contains("host=\"PC-ACCUEIL\""), "{metrics}");
    assert!(
        metrics.contains("vigie_events_future_total 3\n"),
        "{metrics}"
    );

    let (_, sources) = get(&base, "/api/v1/sources", Some(&admin));
    let sources: Value = serde_json::from_str(&sources).unwrap();
    let line = |host: &str| {
        sources["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["host"] == host)
            .unwrap_or_else(|| panic!("{host} in {sources}"))
            .clone()
    };
    let late = line("PC-HORLOGE");
    assert_eq!(late["events_future"], 3, "{late}");
    assert!(late["future_ahead_secs"].as_u64().unwrap() >= 3 * 3600 - 120);
    assert_eq!(line("PC-ACCUEIL")["events_future"], 0);
    assert_eq!(line("PC-ACCUEIL")["future_ahead_secs"], Value::Null);

    let anne = signed_in(&base, "anne", "correct horse battery staple", &code(&totp));
    let page = http(&base, "GET", "/sources", &[("Cookie", &anne.cookie)], None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Horloges en avance"), "{}", page.body);
    assert!(
        page.body.contains("<strong>PC-HORLOGE</strong> — 3 événement(s), le dernier daté 180 min après sa réception"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("horloge en avance : 3 événement(s)"),
        "{}",
        page.body
    );
}

/// A webhook receiver: every POST body, in order.
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

/// Nine days of two town-hall workstations' Security logs, as received
/// (written into the event log with their times of receipt, then the
/// server started on it: its sources' health is rebuilt from them, as
/// after any restart): a logon every 10 minutes for 13 hours a day.
/// PC-NUIT's day ended two hours ago, as every day — its night: quiet,
/// not paged. PC-JOUR's logging was cut two hours ago in the middle of
/// its day: silent, paged — in French, the server having no locale.
#[test]
fn a_busy_daytime_channel_is_not_paged_at_night_but_is_when_cut_by_day() {
    use vigie_store::EventLog;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    const H: i64 = 3_600_000_000;
    let now = chrono::Utc::now().timestamp_micros();
    // (host, day start and end relative to now, for each day back).
    let mut arrivals: Vec<(i64, &str)> = Vec::new();
    for d in 0..9i64 {
        let day = d * 24 * H;
        let mut t = now - day - 15 * H;
        while t <= now - day - 2 * H {
            arrivals.push((t, "PC-NUIT.mairie.local"));
            t += H / 6;
        }
        let mut t = now - day - 8 * H;
        let end = if d == 0 {
            now - 2 * H
        } else {
            now - day + 5 * H
        };
        while t <= end {
            arrivals.push((t, "PC-JOUR.mairie.local"));
            t += H / 6;
        }
    }
    arrivals.sort();
    {
        let (log, _) =
            vigie_store::embedded::FileLog::open(&data, vigie_store::embedded::SEGMENT_BYTES)
                .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            for (rid, (t, host)) in arrivals.iter().enumerate() {
                let time = chrono::DateTime::from_timestamp_micros(*t)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let line = logon(host, &time, rid as u64 + 1);
                log.append(vigie_store::IngestBatch {
                    tenant: "default".into(),
                    source: "winlogbeat".into(),
                    received: *t,
                    events: vec![line.trim_end().as_bytes().to_vec()],
                })
                .await
                .unwrap();
            }
        });
    }
    let admin = token(&data, "admin");
    let (url, received) = webhook();
    let conf = tmp.path().join("vigie.toml");
    common::write_private(&conf, format!("alert_webhook = \"{url}\"\n"));
    let conf = conf.to_str().unwrap().to_string();
    let server = serve(&data, &["--config", &conf], &[]);
    processed(&server.base, &admin, arrivals.len() as u64);

    let (_, body) = get(&server.base, "/api/v1/sources", Some(&admin));
    let sources: Value = serde_json::from_str(&body).unwrap();
    let line = |host: &str| {
        sources["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["host"] == host)
            .unwrap_or_else(|| panic!("{host} in {sources}"))
            .clone()
    };
    let night = line("PC-NUIT");
    assert_eq!(night["state"], "quiet", "{night}");
    assert_eq!(night["silent"], false, "{night}");
    assert!(
        night["silent_for_secs"].as_u64().unwrap() >= 7200,
        "{night}"
    );
    assert!(
        night["silent_in_its_hours_secs"].as_u64().unwrap() < 3600,
        "{night}"
    );
    let day = line("PC-JOUR");
    assert_eq!(day["state"], "silent", "{day}");
    assert!(
        day["silent_in_its_hours_secs"].as_u64().unwrap() >= 7000,
        "{day}"
    );

    // Paged: PC-JOUR, not PC-NUIT; in French.
    let until = Instant::now() + Duration::from_secs(60);
    let m = loop {
        let left = until.saturating_duration_since(Instant::now());
        let m = received.recv_timeout(left).expect("the cut logging paged");
        if m["kind"] == "sources_silent" {
            break m;
        }
    };
    let hosts: Vec<&str> = m["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["PC-JOUR"], "{m}");
    assert!(
        m["text"].as_str().unwrap().contains("plus rien reçu"),
        "a service without a locale speaks French: {m}"
    );
    // Nor later: PC-NUIT's night is not paged at the next looks.
    std::thread::sleep(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(1));
    while let Ok(m) = received.try_recv() {
        assert!(!m.to_string().contains("PC-NUIT"), "{m}");
    }
}

/// `vigie token create --tenant` naming a commune no token names yet
/// says so on stderr, with the communes the tokens name (a typo would
/// file a shipper's events under a commune nobody reads); stdout stays
/// the token alone, and a commune already named is not said.
#[test]
fn a_token_of_a_commune_never_named_is_said() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let create = |tenant: &str| {
        let out = vigie()
            .args(["token", "create", "--data"])
            .arg(&data)
            .args([
                "--scope",
                "ingest",
                "--name",
                "winlogbeat",
                "--tenant",
                tenant,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    create("fouesnant");
    let said = create("fouesnant");
    assert!(!said.contains("warning"), "{said}");
    create("benodet");
    let said = create("fousnant");
    assert!(
        said.contains("no token names the commune fousnant yet")
            && said.contains("The communes the tokens name: benodet, fouesnant."),
        "{said}"
    );
}
