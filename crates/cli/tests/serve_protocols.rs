//! `vigie serve`'s other listeners through the binary: syslog over TCP and
//! UDP, JSON Lines over TCP (NXLog `om_tcp`), a real recording over HTTP
//! at `hunt`'s times, TLS with the certificate made at the first run —
//! each giving what `vigie hunt` gives on the same events.

mod common;

use common::serve::{agent, get, post, processed, start, start_with, stats, token, vigie};
use common::server::{
    dc01_alone, detection_keys, fortigate_abroad, hunt_detections, make_demo, of_kind,
    rule_and_time, spawn_serve,
};
use std::collections::BTreeSet;

use serde_json::Value;

/// Syslog as a FortiGate sends it, over TCP (LF framing, then RFC 6587
/// octet counting on the same connection) and UDP: every message kept,
/// a message past the limit refused and counted, the same detections as
/// `vigie hunt` on the same lines, and a message received twice (UDP
/// after TCP) detected once.
#[test]
fn syslog_over_tcp_and_udp_detects_like_hunt() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let demo = make_demo(tmp.path());
    let (lines, fw) = fortigate_abroad(&demo, tmp.path());
    let abroad: Vec<&String> = lines.iter().filter(|l| l.contains("Netherlands")).collect();
    assert!(abroad.len() >= 2);
    let hunted = hunt_detections(&fw, tmp.path());
    assert_eq!(hunted.len(), abroad.len(), "one per tunnel from abroad");

    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let (server, others) = start_with(
        &data,
        &["--syslog-tcp", "127.0.0.1:0", "--syslog-udp", "127.0.0.1:0"],
    );
    let at = |kind: &str| others.iter().find(|(k, _)| k == kind).unwrap().1.clone();
    let mut tcp = std::net::TcpStream::connect(at("TCP")).unwrap();
    let half = lines.len() / 2;
    for l in &lines[..half] {
        tcp.write_all(format!("{l}\n").as_bytes()).unwrap();
    }
    // A line past the 1 MiB limit, then a message past it with its
    // count: each skipped whole, the stream stays in step.
    let huge = "x".repeat((1 << 20) + 10);
    tcp.write_all(format!("{huge}\n").as_bytes()).unwrap();
    tcp.write_all(format!("{} {huge}", huge.len()).as_bytes())
        .unwrap();
    // A counted message holding a newline: the messages after it are
    // still matched to their own events.
    let two = "<13>Dec  5 10:00:00 fw01 first half\nsecond half";
    tcp.write_all(format!("{} {two}", two.len()).as_bytes())
        .unwrap();
    for l in &lines[half..] {
        tcp.write_all(format!("{} {l}", l.len()).as_bytes())
            .unwrap();
    }
    drop(tcp);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for l in &abroad {
        udp.send_to(l.as_bytes(), at("UDP")).unwrap();
    }
    // Two identical lines without a time finer than the second: two real
    // messages may be alike within one second, both judged.
    let alike = "<13>Dec  5 10:00:01 fw01 sshd[42]: Failed password for root";
    for _ in 0..2 {
        udp.send_to(alike.as_bytes(), at("UDP")).unwrap();
    }
    // Bytes that are no log: kept (evidence), counted as unreadable with
    // their place in the log and the reason.
    udp.send_to(b"\x01\x02\x03\xff\xfe", at("UDP")).unwrap();
    let expected = (lines.len() + abroad.len() + 4) as u64;
    processed(&server.base, &admin, expected);
    let s = stats(&server.base, &admin);
    assert_eq!(s["events_stored"].as_u64(), Some(expected), "{s}");
    // The FortiGate lines sent again carry their nanosecond `eventtime`:
    // copies, kept in the log but counted and judged once; the two alike
    // lines are not.
    assert_eq!(
        s["events_duplicate"].as_u64(),
        Some(abroad.len() as u64),
        "{s}"
    );
    assert_eq!(s["syslog_refused"].as_u64(), Some(2), "{s}");
    assert_eq!(s["events_unreadable"].as_u64(), Some(1), "{s}");
    let problem = &s["unreadable_recent"][0];
    assert_eq!(problem["source"], "syslog-udp", "{s}");
    assert!(problem["position"].as_u64().unwrap() < expected, "{s}");
    assert!(
        problem["reason"]
            .as_str()
            .unwrap()
            .contains("starts with 01 02 03"),
        "{s}"
    );
    let (_, body) = get(&server.base, "/api/v1/detections", Some(&admin));
    let served: Vec<Value> = of_kind(
        &serde_json::from_str::<Vec<Value>>(&body).unwrap(),
        "detection",
    );
    let a: BTreeSet<_> = served.iter().map(rule_and_time).collect();
    let b: BTreeSet<_> = hunted.iter().map(rule_and_time).collect();
    assert_eq!(a, b, "serve and hunt agree");
    assert_eq!(
        served.len(),
        hunted.len(),
        "a message received twice is detected once"
    );
    assert!(served
        .iter()
        .all(|d| d["event"].as_str().is_some_and(|e| e.contains("tunnel-up"))));
}

/// JSON Lines over TCP, as NXLog's `om_tcp` (with `to_json()`) and
/// OpenWEC send them: a domain controller's Security log gives the
/// detections `vigie hunt` gives on the same file.
#[test]
fn json_lines_over_tcp_detect_like_hunt() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let demo = make_demo(tmp.path());
    let (file, only) = dc01_alone(&demo, tmp.path());
    let hunted = hunt_detections(&only, tmp.path());
    assert!(!hunted.is_empty());
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let (server, others) = start_with(&data, &["--ndjson-tcp", "127.0.0.1:0"]);
    let at = &others.iter().find(|(k, _)| k == "TCP").unwrap().1;
    let text = std::fs::read(&file).unwrap();
    let lines = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    let mut tcp = std::net::TcpStream::connect(at).unwrap();
    // A line past the 1 MiB limit first: skipped whole, counted as the
    // NDJSON line it is (not as syslog).
    let huge = format!("{{\"x\":\"{}\"}}\n", "x".repeat((1 << 20) + 10));
    tcp.write_all(huge.as_bytes()).unwrap();
    tcp.write_all(&text).unwrap();
    drop(tcp);
    processed(&server.base, &admin, lines);
    let s = stats(&server.base, &admin);
    assert_eq!(
        (s["ndjson_refused"].as_u64(), s["syslog_refused"].as_u64()),
        (Some(1), Some(0)),
        "{s}"
    );
    let (_, metrics) = get(&server.base, "/metrics", Some(&admin));
    assert!(
        metrics.contains("vigie_ndjson_refused_total 1"),
        "{metrics}"
    );
    // Since start, and said so.
    assert!(
        metrics.contains("in no format Vigie reads, since this start"),
        "{metrics}"
    );
    // The commune's evidence is the server's user's alone: every file
    // serve wrote 0600, every directory 0700.
    assert_private(&data);
    let (_, body) = get(&server.base, "/api/v1/detections?limit=10000", Some(&admin));
    let served: Vec<Value> = of_kind(
        &serde_json::from_str::<Vec<Value>>(&body).unwrap(),
        "detection",
    );
    assert_eq!(detection_keys(&served), detection_keys(&hunted));
    assert!(served.iter().all(|d| d["source"] == "ndjson-tcp"));
}

/// A real lab recording nobody here wrote (OTRF, NXLog → Logstash JSON,
/// `EventTime` in the collector's local time without a zone), sent over
/// HTTP as a shipper would: the same detections at the same times as
/// `vigie hunt` on the zip as shipped — the per-file clock inference
/// works on each request, so no time is hours off.
#[test]
fn a_real_recording_over_http_gives_hunts_detections_at_hunts_times() {
    let Some(corpus) = vigie_testkit::corpus(&["security-datasets"]) else {
        return;
    };
    let zip_path = corpus.join("security-datasets/windows/other/aptsimulator_cobaltstrike.zip");
    let tmp = tempfile::tempdir().unwrap();
    let key = |d: &Value| {
        (
            d["rule_id"].as_str().unwrap().to_string(),
            d["datetime"]
                .as_str()
                .or(d["time"].as_str())
                .unwrap()
                .to_string(),
            d["computer"].as_str().unwrap_or("").to_ascii_lowercase(),
        )
    };
    let mut hunted: Vec<_> = hunt_detections(&zip_path, tmp.path())
        .iter()
        .map(key)
        .collect();
    hunted.sort();
    assert!(!hunted.is_empty());

    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let server = start(&data);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut sent = 0;
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        if !member.name().unwrap().ends_with(".json") {
            continue;
        }
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut member, &mut body).unwrap();
        let (s, r) = post(&server.base, "/api/v1/ingest", Some(&admin), &body, false);
        assert_eq!(s, 200, "{r}");
        sent += r["accepted"].as_u64().unwrap();
    }
    processed(&server.base, &admin, sent);
    let (_, body) = get(&server.base, "/api/v1/detections?limit=10000", Some(&admin));
    let mut served: Vec<_> = of_kind(
        &serde_json::from_str::<Vec<Value>>(&body).unwrap(),
        "detection",
    )
    .iter()
    .map(key)
    .collect();
    served.sort();
    assert_eq!(served, hunted, "same detections, same times");
}

/// HTTPS: `--tls` makes a self-signed certificate at the first run (its
/// key readable by the owner only) and prints its SHA-256 fingerprint,
/// which matches the certificate a client receives; the same certificate
/// is used at the next start; plain HTTP is not answered.
#[test]
fn tls_with_a_certificate_made_at_the_first_run() {
    use sha2::Digest;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let start_tls = |name: &str| {
        let mut cmd = vigie();
        cmd.args(["serve", "--data"]).arg(&data).args([
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "--tls-name",
            name,
        ]);
        let server = spawn_serve(cmd);
        let said = server.said.clone();
        let fingerprint = said
            .iter()
            .find_map(|l| l.strip_prefix("vigie serve: TLS certificate "))
            .map(|rest| rest.rsplit_once("SHA-256 ").unwrap().1.replace(':', ""))
            .expect("the fingerprint said");
        (server, fingerprint)
    };
    let (server, fingerprint) = start_tls("vigie.mairie.local");
    // Made for the name shippers are given, beside the machine's.
    assert!(
        server.said.iter().any(
            |l| l.contains("made now, self-signed, for localhost, 127.0.0.1")
                && l.contains("vigie.mairie.local")
        ),
        "{:?}",
        server.said
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let pem = std::fs::read_to_string(data.join("tls/cert.pem")).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let hex: String = sha2::Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(fingerprint, hex);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("tls/key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0);
    // A client that trusts this certificate only.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
            ureq::tls::Certificate::from_der(&der).to_owned(),
        ])))
        .build();
    let client: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = client
        .get(format!("{}/api/v1/stats", server.base))
        .header("Authorization", format!("Bearer {admin}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let s: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(s["events_stored"].as_u64(), Some(0));
    // Plain HTTP on the same port gets no answer of Vigie's.
    let plain = server.base.replace("https://", "http://");
    assert!(agent().get(format!("{plain}/healthz")).call().is_err());
    drop(server);
    let (server, again) = start_tls("vigie.mairie.local");
    assert_eq!(again, fingerprint, "the same certificate at the next start");
    assert!(
        !server
            .said
            .iter()
            .any(|l| l.contains("made for other names")),
        "{:?}",
        server.said
    );
    drop(server);
    // A name added later: the certificate kept (shippers pinned it) and
    // its lack said, with what to remove.
    let (server, again) = start_tls("siem.mairie.local");
    assert_eq!(again, fingerprint);
    assert!(
        server.said.iter().any(
            |l| l.contains("made for other names than siem.mairie.local")
                && l.contains("tls/cert.pem")
        ),
        "{:?}",
        server.said
    );
}

/// One NXLog Sysmon/Security event as `om_tcp` sends it (flat JSON,
/// `EventTime` the collector's local time without a zone; Sysmon's own
/// `UtcTime` when `utc` is given).
fn nxlog_whoami(host: &str, record: u64, local: &str, utc: Option<&str>) -> String {
    let mut e = serde_json::json!({
        "EventTime": local,
        "EventReceivedTime": local,
        "Hostname": host,
        "RecordNumber": record,
        "CommandLine": "whoami /all",
        "User": "CCPAB\\adm.tech01",
    });
    let o = e.as_object_mut().unwrap();
    match utc {
        Some(u) => {
            o.insert("SourceName".into(), "Microsoft-Windows-Sysmon".into());
            o.insert("EventID".into(), 1.into());
            o.insert(
                "Channel".into(),
                "Microsoft-Windows-Sysmon/Operational".into(),
            );
            o.insert("UtcTime".into(), u.into());
            o.insert("Image".into(), "C:\\Windows\\System32\\whoami.exe".into());
            o.insert(
                "ParentImage".into(),
                "C:\\Windows\\System32\\cmd.exe".into(),
            );
        }
        None => {
            o.insert(
                "SourceName".into(),
                "Microsoft-Windows-Security-Auditing".into(),
            );
            o.insert("EventID".into(), 4688.into());
            o.insert("Channel".into(), "Security".into());
            o.insert(
                "NewProcessName".into(),
                "C:\\Windows\\System32\\whoami.exe".into(),
            );
            o.insert(
                "ParentProcessName".into(),
                "C:\\Windows\\System32\\cmd.exe".into(),
            );
        }
    }
    format!("{e}\n")
}

/// NXLog events trickled over `--ndjson-tcp` one at a time (as a quiet
/// workstation sends them), `EventTime` in local time (UTC+1, no zone):
/// each Sysmon event is placed by its own `UtcTime`; a later Security
/// event of the same computer, with no UTC reading of its own, takes the
/// offset learned from them; an event of a computer nothing is known of
/// is kept at its local time read as UTC but said uncertain (on its
/// detection, and counted in the stats) — never silently shifted.
#[test]
fn nxlog_events_trickled_over_tcp_keep_their_computers_offset() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    // `whoami /all` is a medium SigmaHQ rule, not in the default set: a
    // rule of our own on whoami.exe (Sysmon 1 and Security 4688 alike).
    let rule = tmp.path().join("whoami.yml");
    std::fs::write(&rule, common::WHOAMI_RULE).unwrap();
    let (server, others) = start_with(
        &data,
        &[
            "--ndjson-tcp",
            "127.0.0.1:0",
            "--rules",
            rule.to_str().unwrap(),
        ],
    );
    let at = &others.iter().find(|(k, _)| k == "TCP").unwrap().1;
    let host = "PC-NXLOG-01.ccpab.local";
    let mut tcp = std::net::TcpStream::connect(at).unwrap();
    for i in 0..3u64 {
        let local = format!("2026-01-20 10:0{i}:00");
        let utc = format!("2026-01-20 09:0{i}:00.123");
        tcp.write_all(nxlog_whoami(host, 5000 + i, &local, Some(&utc)).as_bytes())
            .unwrap();
        tcp.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // Each event judged alone, before the next comes.
    processed(&server.base, &admin, 3);
    tcp.write_all(nxlog_whoami(host, 900, "2026-01-20 10:05:00", None).as_bytes())
        .unwrap();
    drop(tcp);
    processed(&server.base, &admin, 4);
    // Another connection, another computer, nothing known of its clock.
    let mut tcp = std::net::TcpStream::connect(at).unwrap();
    tcp.write_all(nxlog_whoami("PC-NEUF-02", 901, "2026-01-20 10:06:00", None).as_bytes())
        .unwrap();
    drop(tcp);
    // An NXLog set to Latin-1: the account's `é` one byte, not UTF-8.
    let text = nxlog_whoami("PC-NEUF-03", 902, "2026-01-20 10:07:00", None)
        .replace("adm.tech01", "adm.t\u{e9}ch01");
    let mut latin1 = Vec::new();
    for c in text.chars() {
        match c {
            '\u{e9}' => latin1.push(0xE9),
            c => latin1.extend_from_slice(c.to_string().as_bytes()),
        }
    }
    let mut tcp = std::net::TcpStream::connect(at).unwrap();
    tcp.write_all(&latin1).unwrap();
    drop(tcp);
    processed(&server.base, &admin, 6);

    let (_, body) = get(&server.base, "/api/v1/detections?limit=1000", Some(&admin));
    let served: Vec<Value> = of_kind(
        &serde_json::from_str::<Vec<Value>>(&body).unwrap(),
        "detection",
    );
    let times = |record: u64| -> BTreeSet<(String, bool)> {
        served
            .iter()
            .filter(|d| d["record_id"].as_u64() == Some(record))
            .map(|d| {
                (
                    d["time"].as_str().unwrap().to_string(),
                    d["time_uncertain"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    };
    for i in 0..3u64 {
        let t = times(5000 + i);
        assert_eq!(
            t,
            BTreeSet::from([(format!("2026-01-20T09:0{i}:00.000000Z"), false)]),
            "Sysmon event {i} at its UtcTime: {body}"
        );
    }
    assert_eq!(
        times(900),
        BTreeSet::from([("2026-01-20T09:05:00.000000Z".to_string(), false)]),
        "the Security event takes its computer's learned offset: {body}"
    );
    assert_eq!(
        times(901),
        BTreeSet::from([("2026-01-20T10:06:00.000000Z".to_string(), true)]),
        "an unknown computer's local time is kept, said uncertain: {body}"
    );
    // Read, its bytes outside UTF-8 as Windows-1252, counted; its
    // detection's event the object so read.
    let latin = served
        .iter()
        .find(|d| d["record_id"].as_u64() == Some(902))
        .unwrap_or_else(|| panic!("the Latin-1 event judged: {body}"));
    assert_eq!(latin["event"]["User"], "CCPAB\\adm.t\u{e9}ch01", "{latin}");
    let s = stats(&server.base, &admin);
    assert_eq!(s["events_time_uncertain"].as_u64(), Some(2), "{s}");
    assert_eq!(s["events_not_utf8"].as_u64(), Some(1), "{s}");
    assert_eq!(s["events_unreadable"].as_u64(), Some(0), "{s}");
}

/// Every file under `dir` is 0600 and every directory 0700 (itself too).
fn assert_private(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let path = e.path();
        if e.file_type().unwrap().is_dir() {
            assert_private(&path);
        } else {
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
        }
    }
}

/// UDP syslog faster than it is read: what the kernel drops on the
/// listener's socket (receive buffer full) is counted in `syslog_lost`,
/// read from the socket's own `drops` — every datagram sent is either
/// stored or counted lost, never gone unseen — and the receive buffer
/// got is said at start.
#[test]
fn udp_syslog_dropped_by_the_kernel_is_counted_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let (server, others) = start_with(&data, &["--syslog-udp", "127.0.0.1:0"]);
    assert!(
        server
            .said
            .iter()
            .any(|l| l.starts_with("vigie serve: UDP syslog receive buffer ")),
        "{:?}",
        server.said
    );
    let at = others.iter().find(|(k, _)| k == "UDP").unwrap().1.clone();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // As fast as loopback takes them: far more than a receive buffer
    // holds while a batch is synced.
    let sent: u64 = 40_000;
    let pad = "x".repeat(400);
    for i in 0..sent {
        let line = format!("<13>Dec  5 10:00:00 fw01 burst {i} {pad}");
        while udp.send_to(line.as_bytes(), &at).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let (stored, lost) = loop {
        let s = stats(&server.base, &admin);
        let stored = s["events_stored"].as_u64().unwrap();
        let lost = s["syslog_lost"].as_u64().unwrap();
        if stored + lost >= sent {
            break (stored, lost);
        }
        assert!(
            std::time::Instant::now() < until,
            "{stored} stored + {lost} lost of {sent} sent: {s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(stored + lost, sent, "each datagram stored or counted lost");
    let (_, metrics) = get(&server.base, "/metrics", Some(&admin));
    assert!(
        metrics.contains(&format!("\nvigie_syslog_lost_total {lost}\n")),
        "{metrics}"
    );
    eprintln!("udp burst: {sent} sent, {stored} stored, {lost} counted lost");
}
