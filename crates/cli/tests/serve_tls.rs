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

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// A CA (`NAME-ca.pem`) and, signed by it, a client certificate for
/// `client` (`client.pem`, `client.key`), as `openssl` makes them.
fn ca_and_client(dir: &Path, ca: &str, client: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (ca_key, ca_pem) = (format!("{ca}-ca.key"), format!("{ca}-ca.pem"));
    let subject = format!("/CN={ca} CA");
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend([
        "-keyout", &ca_key, "-out", &ca_pem, "-days", "2", "-subj", &subject,
    ]);
    openssl(dir, &args);
    let (pem, key) = client_of(dir, ca, client);
    (dir.join(ca_pem), pem, key)
}

/// A client certificate for `client` signed by the CA `ca` of
/// [`ca_and_client`].
fn client_of(dir: &Path, ca: &str, client: &str) -> (PathBuf, PathBuf) {
    let (ca_key, ca_pem) = (format!("{ca}-ca.key"), format!("{ca}-ca.pem"));
    let (key, csr, pem) = (
        format!("{client}.key"),
        format!("{client}.csr"),
        format!("{client}.pem"),
    );
    let subject = format!("/CN={client}");
    let mut args = vec!["req"];
    args.extend(EC);
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
    (dir.join(pem), dir.join(key))
}

/// The CA `ca`'s revocation list (`NAME-ca.crl`), listing `revoked`
/// (client certificates it signed), made by `openssl ca` as a small PKI
/// makes it.
fn crl(dir: &Path, ca: &str, revoked: &[&Path]) -> PathBuf {
    let db = dir.join(format!("{ca}-db"));
    let _ = std::fs::remove_dir_all(&db);
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("index.txt"), "").unwrap();
    std::fs::write(db.join("crlnumber"), "1000\n").unwrap();
    let conf = db.join("ca.cnf");
    std::fs::write(
        &conf,
        format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {0}/index.txt\ncrlnumber = {0}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n",
            db.display()
        ),
    )
    .unwrap();
    let (key, pem) = (format!("{ca}-ca.key"), format!("{ca}-ca.pem"));
    let conf = conf.to_str().unwrap();
    for cert in revoked {
        let cert = cert.to_str().unwrap();
        let args = [
            "ca", "-config", conf, "-keyfile", &key, "-cert", &pem, "-revoke", cert,
        ];
        openssl(dir, &args);
    }
    let out = format!("{ca}-ca.crl");
    let args = [
        "ca", "-config", conf, "-keyfile", &key, "-cert", &pem, "-gencrl", "-out", &out,
    ];
    openssl(dir, &args);
    dir.join(out)
}

/// A server certificate in use (`served.pem`, `served.key`: the old
/// one's copy) and the one that renews it, written in its place by
/// `renew` as certbot or a PKI script does.
struct Renewal {
    old: (PathBuf, PathBuf),
    new: (PathBuf, PathBuf),
    served: (PathBuf, PathBuf),
}

impl Renewal {
    fn new(pki: &Path) -> Renewal {
        let (old, new) = (server_cert(pki, "old"), server_cert(pki, "new"));
        let served = (pki.join("served.pem"), pki.join("served.key"));
        std::fs::copy(&old.0, &served.0).unwrap();
        std::fs::copy(&old.1, &served.1).unwrap();
        Renewal { old, new, served }
    }

    fn renew(&self) {
        std::fs::copy(&self.new.0, &self.served.0).unwrap();
        std::fs::copy(&self.new.1, &self.served.1).unwrap();
    }
}

/// A self-signed server certificate for 127.0.0.1 (`NAME.pem`, `NAME.key`).
fn server_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend([
        "-keyout",
        &key,
        "-out",
        &pem,
        "-days",
        "2",
        "-subj",
        "/CN=vigie",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]);
    openssl(dir, &args);
    (dir.join(pem), dir.join(key))
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

/// Whether the TLS listener at `at` now serves the certificate `cert`
/// (s_client verifies against it alone: a self-signed certificate is its
/// own CA), polled for up to 20 s (the reload is asynchronous).
fn serves(at: &str, cert: &Path, client: Option<(&Path, &Path)>) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if send_tls(at, cert, client, b"").contains("verify return:1") {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn senders_of(base: &str, admin: &str, tenant: &str) -> Vec<String> {
    let sources = get(base, &format!("/api/v1/sources?tenant={tenant}"), admin);
    sources["senders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap().to_string())
        .collect()
}

/// A region's firewalls on one port: each certified sender's events go
/// to its commune (`[tls_senders]`), a certified sender the map does not
/// name is refused; then SIGHUP (`systemctl reload`) takes a renewed
/// server certificate and a new revocation list without a restart: the
/// stolen firewall's certificate is refused from then on, the others go
/// on, and the reload is in the audit log.
#[test]
fn senders_go_to_their_commune_and_sighup_takes_a_renewed_certificate_and_a_revocation() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let (ca, fw_f, fw_f_key) = ca_and_client(&pki, "Region", "fw-fouesnant");
    let (fw_b, fw_b_key) = client_of(&pki, "Region", "fw-benodet");
    let (fw_x, fw_x_key) = client_of(&pki, "Region", "fw-ailleurs");
    let revocations = crl(&pki, "Region", &[]);
    let r = Renewal::new(&pki);
    let (old_cert, new_cert, cert, key) = (&r.old.0, &r.new.0, &r.served.0, &r.served.1);

    let data = tmp.path().join("data");
    let config = tmp.path().join("vigie.toml");
    std::fs::write(
        &config,
        format!(
            "no_tls = true\ntls_cert = {cert:?}\ntls_key = {key:?}\nsyslog_tls = \"127.0.0.1:0\"\n\
             tls_client_ca = {ca:?}\ntls_client_crl = {revocations:?}\n\
             [tls_senders]\n\"fw-fouesnant\" = \"fouesnant\"\n\"fw-benodet\" = \"benodet\"\n"
        ),
    )
    .unwrap();
    let admin = token(&data, "admin");
    let (server, at) = start(&data, &["--config", config.to_str().unwrap()]);
    assert!(
        server
            .said
            .iter()
            .any(|l| l.contains("2 sender(s) named in tls_senders")),
        "{:?}",
        server.said
    );
    let (f, b, x) = (
        (fw_f.as_path(), fw_f_key.as_path()),
        (fw_b.as_path(), fw_b_key.as_path()),
        (fw_x.as_path(), fw_x_key.as_path()),
    );
    let line = |host: &str| {
        format!("<134>Dec  6 01:00:00 {host} vigie-test: logid=0100032001 action=login\n")
    };
    send_tls(&at, old_cert, Some(f), line("fw-fouesnant").as_bytes());
    send_tls(&at, old_cert, Some(b), line("fw-benodet").as_bytes());
    send_tls(&at, old_cert, Some(x), line("fw-ailleurs").as_bytes());
    judged(&server.base, &admin, 2);
    assert_eq!(
        senders_of(&server.base, &admin, "fouesnant"),
        ["syslog-tls/fw-fouesnant"]
    );
    assert_eq!(
        senders_of(&server.base, &admin, "benodet"),
        ["syslog-tls/fw-benodet"]
    );
    assert!(senders_of(&server.base, &admin, "default").is_empty());
    let s = get(&server.base, "/api/v1/stats", &admin);
    assert_eq!(s["events_stored"].as_u64(), Some(2), "{s}");
    assert_eq!(
        s["tls_refused"].as_u64(),
        Some(1),
        "the unnamed sender: {s}"
    );

    // fw-benodet stays connected, as a firewall does.
    let mut open = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &at,
            "-quiet",
            "-no_ign_eof",
            "-nocommands",
        ])
        .args(["-verify_return_error", "-CAfile"])
        .arg(old_cert)
        .arg("-cert")
        .arg(&fw_b)
        .arg("-key")
        .arg(&fw_b_key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut open_in = open.stdin.take().unwrap();
    std::io::Write::write_all(&mut open_in, line("fw-benodet").as_bytes()).unwrap();
    judged(&server.base, &admin, 3);

    // Renewed: the files are replaced where they are, fw-benodet's
    // certificate is revoked, and the service reloaded.
    r.renew();
    crl(&pki, "Region", &[fw_b.as_path()]);
    assert!(
        serves(&at, old_cert, Some(f)),
        "before the reload, the old certificate"
    );
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    assert!(
        serves(&at, new_cert, Some(f)),
        "after SIGHUP, the renewed certificate"
    );
    let refused = |base: &str| {
        get(base, "/api/v1/stats", &admin)["tls_refused"]
            .as_u64()
            .unwrap()
    };
    let wait_refused = |n: u64, what: &str| {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while refused(&server.base) < n {
            assert!(std::time::Instant::now() < until, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let before = refused(&server.base);
    // Its connection, open since before the reload, is cut at its next
    // message; so is a new one.
    let _ = std::io::Write::write_all(&mut open_in, line("fw-benodet").as_bytes());
    wait_refused(before + 1, "the connected revoked sender was not cut");
    drop(open_in);
    let _ = open.wait();
    send_tls(&at, new_cert, Some(b), line("fw-benodet").as_bytes());
    wait_refused(before + 2, "the revoked certificate was not refused");
    send_tls(&at, new_cert, Some(f), line("fw-fouesnant").as_bytes());
    judged(&server.base, &admin, 4);
    let s = get(&server.base, "/api/v1/stats", &admin);
    assert_eq!(
        s["events_stored"].as_u64(),
        Some(4),
        "the revoked sender's lines not kept: {s}"
    );
    assert_eq!(s["tls_refused"].as_u64(), Some(before + 2), "{s}");
    let audit = common::audit_text(&data);
    let reload = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["action"] == "certificates_reload")
        .expect("the reload is audited");
    assert_eq!(reload["outcome"], "success", "{reload}");
    assert!(
        reload["target"]
            .as_str()
            .unwrap()
            .contains("revocation list"),
        "{reload}"
    );
}

/// HTTPS too: the certificate of the API and the console, replaced in
/// place and read again on SIGHUP by the same process.
#[test]
fn sighup_reads_the_https_certificate_again() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let r = Renewal::new(&pki);
    let (old_cert, new_cert, cert, key) = (&r.old.0, &r.new.0, &r.served.0, &r.served.1);
    let data = tmp.path().join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(cert)
        .arg("--tls-key")
        .arg(key);
    let server = spawn_serve(cmd);
    let at = server
        .base
        .strip_prefix("https://")
        .expect("HTTPS")
        .to_string();
    assert!(serves(&at, old_cert, None), "the certificate given");
    r.renew();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    assert!(
        serves(&at, new_cert, None),
        "after SIGHUP, the renewed certificate"
    );
    let audit = common::audit_text(&data);
    assert!(
        audit.contains("certificates_reload") && audit.contains("HTTPS certificate SHA-256"),
        "{audit}"
    );
}
