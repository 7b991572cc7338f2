//! `vigie serve`'s TLS listeners through the binary, with OpenSSL's own
//! client (`openssl s_client`) as the sender and certificates made by
//! `openssl` as an administrator makes them:
//!
//! - syslog over TLS (RFC 5425: octet counting inside TLS), a FortiGate's
//!   messages from a sender whose client certificate the CA signed: kept,
//!   the same detections as `vigie hunt` on the same lines, the sender
//!   named by its certificate on the sources page;
//! - no client certificate, or one another CA signed: refused at the
//!   handshake, nothing stored, counted (`tls_refused`);
//! - JSON Lines over TLS (NXLog's `om_ssl`): a domain controller's
//!   Security log gives `hunt`'s detections.

mod common;

use common::console::{http, judged, token};
use common::server::{
    dc01_alone, detection_keys, fortigate_abroad, hunt_detections, make_demo, of_kind,
    rule_and_time, spawn_serve, Server,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian's openssl package) on PATH");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`NAME-ca.pem`) and, signed by it, a client certificate for
/// `client` (`client.pem`, `client.key`), as `openssl` makes them.
fn ca_and_client(dir: &Path, ca: &str, client: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let (ca_key, ca_pem) = (format!("{ca}-ca.key"), format!("{ca}-ca.pem"));
    let subject = format!("/CN={ca} CA");
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout", &ca_key, "-out", &ca_pem, "-days", "2", "-subj", &subject,
    ]);
    openssl(dir, &args);
    let (key, csr, pem) = (
        format!("{client}.key"),
        format!("{client}.csr"),
        format!("{client}.pem"),
    );
    let subject = format!("/CN={client}");
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
    openssl(dir, &args);
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    );
    (dir.join(ca_pem), dir.join(pem), dir.join(key))
}

/// Sends `bytes` with `openssl s_client`, checking the server's
/// certificate against `server_cert` (the self-signed one serve made).
/// What s_client said, for a failing test (its exit status says little:
/// under TLS 1.3 a refused client certificate is told after the client
/// has finished, so the refusal is checked on the server's side).
fn send_tls(at: &str, server_cert: &Path, client: Option<(&Path, &Path)>, bytes: &[u8]) -> String {
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), bytes).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        at,
        "-quiet",
        "-no_ign_eof",
        "-nocommands",
    ])
    .args(["-verify_return_error", "-CAfile"])
    .arg(server_cert);
    if let Some((cert, key)) = client {
        cmd.arg("-cert").arg(cert).arg("-key").arg(key);
    }
    let out = cmd
        .stdin(std::fs::File::open(input.path()).unwrap())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn start(data: &Path, extra: &[&str]) -> (Server, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra);
    let server = spawn_serve(cmd);
    let at = server
        .said
        .iter()
        .find_map(|l| {
            l.strip_prefix("vigie serve: syslog TLS on ")
                .or_else(|| l.strip_prefix("vigie serve: NDJSON TLS on "))
        })
        .expect("serve said where its TLS listener is")
        .to_string();
    (server, at)
}

fn get(base: &str, path: &str, auth: &str) -> Value {
    let r = http(base, "GET", path, &[("Authorization", auth)], None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

#[test]
fn syslog_over_tls_takes_certified_senders_only_and_detects_like_hunt() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = make_demo(tmp.path());
    let (lines, fw) = fortigate_abroad(&demo, tmp.path());
    let hunted = hunt_detections(&fw, tmp.path());
    assert!(hunted.len() >= 2, "{hunted:?}");

    let pki = tmp.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let (ca, fw_cert, fw_key) = ca_and_client(&pki, "Commune", "fw-mairie");
    let (_, rogue_cert, rogue_key) = ca_and_client(&pki, "Rogue", "fw-intrus");

    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let ca_arg = ca.to_str().unwrap();
    let (server, at) = start(
        &data,
        &["--syslog-tls", "127.0.0.1:0", "--tls-client-ca", ca_arg],
    );
    assert!(
        server
            .said
            .iter()
            .any(|l| l.contains("senders must show a certificate signed by")),
        "{:?}",
        server.said
    );
    let served_cert = data.join("tls/cert.pem");

    // Refused first: nothing they send may be stored.
    let stranger = b"<13>Dec  5 10:00:00 fw01 from a stranger\n";
    send_tls(&at, &served_cert, None, stranger);
    let rogue = Some((rogue_cert.as_path(), rogue_key.as_path()));
    send_tls(&at, &served_cert, rogue, stranger);

    // RFC 5425: each message with its octet count.
    let framed: Vec<u8> = lines
        .iter()
        .flat_map(|l| format!("{} {l}", l.len()).into_bytes())
        .collect();
    let fw = Some((fw_cert.as_path(), fw_key.as_path()));
    let said = send_tls(&at, &served_cert, fw, &framed);
    assert!(said.contains("verify return:1"), "{said}");
    let detections = judged(&server.base, &admin, lines.len() as u64);

    let s = get(&server.base, "/api/v1/stats", &admin);
    assert_eq!(s["events_stored"].as_u64(), Some(lines.len() as u64), "{s}");
    assert_eq!(s["tls_refused"].as_u64(), Some(2), "{s}");
    let metrics = http(
        &server.base,
        "GET",
        "/metrics",
        &[("Authorization", &admin)],
        None,
    );
    assert!(
        metrics.body.contains("vigie_tls_refused_total 2"),
        "{}",
        metrics.body
    );

    let served = of_kind(
        get(&server.base, "/api/v1/detections?limit=10000", &admin)
            .as_array()
            .unwrap(),
        "detection",
    );
    assert_eq!(served.len() as u64, detections);
    let a: BTreeSet<_> = served.iter().map(rule_and_time).collect();
    let b: BTreeSet<_> = hunted.iter().map(rule_and_time).collect();
    assert_eq!(a, b, "serve over TLS and hunt agree");
    assert!(served.iter().all(|d| d["source"] == "syslog-tls/fw-mairie"));

    // The sender is named by its certificate; the refused ones are not
    // there at all.
    let sources = get(&server.base, "/api/v1/sources", &admin);
    let senders: Vec<&str> = sources["senders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(senders, ["syslog-tls/fw-mairie"], "{sources}");
}

#[test]
fn json_lines_over_tls_as_nxlog_om_ssl_sends_them_detect_like_hunt() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = make_demo(tmp.path());
    let (file, only) = dc01_alone(&demo, tmp.path());
    let hunted = hunt_detections(&only, tmp.path());
    assert!(!hunted.is_empty());

    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    // No client CA: encrypted, not authenticated — and said so at start.
    let (server, at) = start(&data, &["--ndjson-tls", "127.0.0.1:0"]);
    assert!(
        server
            .said
            .iter()
            .any(|l| l.contains("no --tls-client-ca, any sender reaching them may send")),
        "{:?}",
        server.said
    );
    let text = std::fs::read(&file).unwrap();
    let lines = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    let said = send_tls(&at, &data.join("tls/cert.pem"), None, &text);
    assert!(said.contains("verify return:1"), "{said}");
    judged(&server.base, &admin, lines);
    let served = of_kind(
        get(&server.base, "/api/v1/detections?limit=10000", &admin)
            .as_array()
            .unwrap(),
        "detection",
    );
    assert_eq!(detection_keys(&served), detection_keys(&hunted));
    assert!(served.iter().all(|d| d["source"] == "ndjson-tls"));
}
