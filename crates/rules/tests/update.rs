//! `vigie rules update` against loopback servers only (never GitHub).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use vigie_rules::{update, NetworkCause, UpdateError, UpdateOptions};
use zip::write::SimpleFileOptions;

const RULE: &str = "title: Test Rule\nid: 3f1d2c4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    selection:\n        Image|endswith: '\\x.exe'\n    condition: selection\nlevel: low\n";

/// A zip shaped like SigmaHQ's release asset (`rules/...`).
fn rules_zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in files {
            w.start_file(*name, o).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap();
    }
    buf.into_inner()
}

/// Minimal HTTP/1.1 server on 127.0.0.1: `/repos/SigmaHQ/sigma/releases/latest`
/// answers a release manifest pointing back at itself, `/download/<asset>`
/// serves `zip`, anything else is 404. Returns (base URL, request counter).
fn serve(zip: Vec<u8>, asset: &'static str, status_latest: u16) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let (b, h) = (base.clone(), hits.clone());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            h.fetch_add(1, Ordering::SeqCst);
            handle(stream, &b, &zip, asset, status_latest);
        }
    });
    (base, hits)
}

fn handle(mut s: TcpStream, base: &str, zip: &[u8], asset: &str, status_latest: u16) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
            break;
        }
    }
    let (status, ctype, body): (u16, &str, Vec<u8>) = if path
        == "/repos/SigmaHQ/sigma/releases/latest"
    {
        let json = format!(
            r#"{{"tag_name":"r2099-01-01","assets":[{{"name":"sigma_core.zip","browser_download_url":"{base}/download/sigma_core.zip"}},{{"name":"{asset}","browser_download_url":"{base}/download/{asset}"}}]}}"#
        );
        (status_latest, "application/json", json.into_bytes())
    } else if path == format!("/download/{asset}") {
        (200, "application/zip", zip.to_vec())
    } else {
        (404, "text/plain", b"not found".to_vec())
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&body);
}

fn opts(base: &str) -> UpdateOptions {
    UpdateOptions {
        api_base: base.to_string(),
        timeout: Duration::from_secs(10),
        min_rules: 2,
        proxy_from_env: false,
        ..UpdateOptions::default()
    }
}

fn read(p: &Path) -> String {
    let mut s = String::new();
    std::fs::File::open(p)
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    s
}

#[test]
fn downloads_verifies_and_installs_the_release() {
    let zip = rules_zip(&[
        ("rules/windows/a.yml", RULE),
        (
            "rules/windows/b.yml",
            &RULE
                .replace("Test Rule", "Other Rule")
                .replace("level: low", "date: 2099-02-03\nlevel: low"),
        ),
        ("rules/README.md", "# rules"),
        ("deprecated/config.yml", "name: not a rule\n"),
    ]);
    let size = zip.len() as u64;
    let (base, _) = serve(zip, "sigma_all_rules.zip", 200);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("sigma");
    // A previous, older rule set is replaced as a whole.
    std::fs::create_dir_all(dest.join("old")).unwrap();
    std::fs::write(dest.join("old/stale.yml"), RULE).unwrap();

    let report = update(&dest, &opts(&base)).unwrap();
    assert_eq!(report.release, "r2099-01-01");
    assert_eq!(report.rule_files, 2);
    assert_eq!(report.other_files, 2);
    assert_eq!(report.bytes, size);
    assert!(
        report.url.ends_with("/download/sigma_all_rules.zip"),
        "{}",
        report.url
    );
    assert_eq!(read(&dest.join("rules/windows/a.yml")), RULE);
    assert!(dest.join("rules/README.md").is_file());
    assert!(!dest.join("old").exists(), "old rule set left behind");
    // No temporary directories left next to dest.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, vec!["sigma".to_string()]);
    // The installed rules load in the engine.
    let (_, rep) = vigie_detect::load_paths(&[dest.join("rules")], &Default::default());
    assert_eq!(rep.detection, 2, "{rep:?}");
    // The release is recorded for the binary to compare it with the
    // SigmaHQ snapshot it embeds.
    let marker: serde_json::Value =
        serde_json::from_str(&read(&dest.join(vigie_rules::sigmahq::MARKER))).unwrap();
    assert_eq!(marker["release"], "r2099-01-01");
    assert_eq!(marker["newest_rule"], "2099-02-03");
    assert!(marker["url"]
        .as_str()
        .unwrap()
        .ends_with("sigma_all_rules.zip"));
}

#[test]
fn closed_port_gives_a_connection_error_with_instructions() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // listener dropped: nothing listens there any more
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("sigma");
    let err = update(&dest, &opts(&format!("http://127.0.0.1:{port}"))).unwrap_err();
    match &err {
        UpdateError::Network { cause, url, .. } => {
            assert_eq!(*cause, NetworkCause::Connect, "{err}");
            assert!(url.contains(&port.to_string()));
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("refused") || msg.contains("unreachable"),
        "{msg}"
    );
    assert!(
        msg.contains("--rules") && msg.contains("sigma_all_rules.zip"),
        "{msg}"
    );
    assert!(!dest.exists());
}

#[test]
fn a_zip_without_rules_is_refused_and_nothing_is_replaced() {
    let zip = rules_zip(&[
        ("index.html", "<html>captive portal</html>"),
        ("x.yml", "a: 1\n"),
    ]);
    let (base, _) = serve(zip, "sigma_all_rules.zip", 200);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("sigma");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("keep.yml"), RULE).unwrap();
    let err = update(&dest, &opts(&base)).unwrap_err();
    assert!(matches!(err, UpdateError::NotRules { .. }), "{err:?}");
    assert!(err.to_string().contains("0 Sigma rule file"), "{err}");
    assert_eq!(
        read(&dest.join("keep.yml")),
        RULE,
        "previous rules must stay"
    );
}

#[test]
fn a_non_zip_download_is_refused() {
    let (base, _) = serve(
        b"<html>proxy login</html>".to_vec(),
        "sigma_all_rules.zip",
        200,
    );
    let tmp = tempfile::tempdir().unwrap();
    let err = update(&tmp.path().join("sigma"), &opts(&base)).unwrap_err();
    assert!(err.to_string().contains("not a zip"), "{err}");
}

#[test]
fn path_traversal_entries_are_refused() {
    let zip = rules_zip(&[
        ("rules/a.yml", RULE),
        ("rules/b.yml", RULE),
        ("../../evil.yml", RULE),
    ]);
    let (base, _) = serve(zip, "sigma_all_rules.zip", 200);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("inner").join("sigma");
    let err = update(&dest, &opts(&base)).unwrap_err();
    assert!(err.to_string().contains("unsafe path"), "{err}");
    assert!(!tmp.path().join("evil.yml").exists());
    assert!(!dest.exists());
}

#[test]
fn missing_asset_and_http_errors_are_named() {
    let zip = rules_zip(&[("rules/a.yml", RULE), ("rules/b.yml", RULE)]);
    let (base, _) = serve(zip.clone(), "sigma_all_rules.zip", 200);
    let tmp = tempfile::tempdir().unwrap();
    let o = UpdateOptions {
        asset: "sigma_rules_missing.zip".into(),
        ..opts(&base)
    };
    let err = update(&tmp.path().join("a"), &o).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("sigma_rules_missing.zip") && msg.contains("sigma_core.zip"),
        "{msg}"
    );

    let (base, _) = serve(zip, "sigma_all_rules.zip", 403);
    let err = update(&tmp.path().join("b"), &opts(&base)).unwrap_err();
    assert!(
        matches!(err, UpdateError::Http { status: 403, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("rate limit"), "{err}");
}

#[test]
fn oversized_download_is_refused() {
    let zip = rules_zip(&[("rules/a.yml", RULE), ("rules/b.yml", RULE)]);
    let (base, _) = serve(zip, "sigma_all_rules.zip", 200);
    let tmp = tempfile::tempdir().unwrap();
    let o = UpdateOptions {
        max_download: 100,
        ..opts(&base)
    };
    let err = update(&tmp.path().join("s"), &o).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn a_file_in_the_way_is_reported_before_any_download() {
    let (base, hits) = serve(Vec::new(), "sigma_all_rules.zip", 200);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("sigma");
    std::fs::write(&dest, "not a directory").unwrap();
    let err = update(&dest, &opts(&base)).unwrap_err();
    assert!(matches!(err, UpdateError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing should be downloaded"
    );
    assert_eq!(read(&dest), "not a directory");
}
