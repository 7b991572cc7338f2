//! Indicators live in `vigie serve`, through the binary: the demo's
//! events sent over HTTP to a fresh server, then the demo's own exported
//! indicators (`vigie export stix|misp|blocklist`) uploaded. Each upload
//! is matched at once without a restart and retro-hunted over the stored
//! events: detections of kind `ioc`, marked retro-hunt, at the events'
//! own times, on the attack's hosts and on no benign host (the demo's
//! ground truth) — the same events `vigie hunt --ioc` finds in the files.

mod common;

use common::console::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = vigie().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn host(v: &Value) -> String {
    v.as_str()
        .unwrap_or("")
        .split('.')
        .next()
        .unwrap()
        .to_ascii_uppercase()
}

/// `GET path` with a token.
fn get(base: &str, path: &str, auth: &str) -> Resp {
    http(base, "GET", path, &[("Authorization", auth)], None)
}

/// `GET path` of the TAXII server, as a TAXII client asks.
fn taxii_get(base: &str, path: &str, auth: &str) -> Resp {
    let accept = ("Accept", "application/taxii+json;version=2.1");
    http(base, "GET", path, &[accept, ("Authorization", auth)], None)
}

/// Tokens of scope ingest, read and admin.
fn tokens(data: &Path) -> (String, String, String) {
    (
        token(data, "ingest"),
        token(data, "read"),
        token(data, "admin"),
    )
}

/// Uploads `file` as source `name` with a token; the answer.
fn upload(base: &str, auth: &str, name: &str, query: &str, file: &Path) -> Resp {
    upload_as(base, &[("Authorization", auth)], name, query, file)
}

/// Uploads `file` as source `name` with these headers (a token, or a
/// session's cookie and CSRF token).
fn upload_as(base: &str, headers: &[(&str, &str)], name: &str, query: &str, file: &Path) -> Resp {
    http(
        base,
        "POST",
        &format!("/api/v1/indicators?name={name}{query}"),
        headers,
        Some(&std::fs::read(file).unwrap()),
    )
}

/// Waits until retro-hunt `id` is done; its run.
fn retro_done(base: &str, read: &str, id: &str) -> Value {
    let until = Instant::now() + Duration::from_secs(180);
    loop {
        let list = get(base, "/api/v1/indicators", read).json();
        let run = list["retrohunts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("retro-hunt {id} not listed: {list}"));
        match run["state"].as_str().unwrap() {
            "done" => return run,
            "failed" => panic!("retro-hunt failed: {run}"),
            _ => {}
        }
        assert!(Instant::now() < until, "retro-hunt never ended: {run}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn detections(base: &str, read: &str) -> Vec<Value> {
    get(base, "/api/v1/detections?limit=10000", read)
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// (indicator, host, record id, time) of each `ioc` row: what `hunt` and
/// `serve` must agree on.
fn found(rows: &[Value], time_key: &str) -> BTreeSet<(String, String, u64, i64)> {
    rows.iter()
        .filter(|r| r["kind"] == "ioc")
        .map(|r| {
            let t = chrono::DateTime::parse_from_rfc3339(r[time_key].as_str().unwrap()).unwrap();
            (
                r["rule_id"].as_str().unwrap().to_string(),
                host(&r["computer"]),
                r["record_id"].as_u64().unwrap_or(0),
                t.timestamp_micros(),
            )
        })
        .collect()
}

#[test]
fn indicators_uploaded_are_matched_live_and_retro_hunted_over_the_stored_events() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (ingest, read, admin) = tokens(&data);
    // An analyst of the console uploads too (a session and its CSRF token).
    let out = add_user(&data, "lea", "analyst", "analyste de garde 2026");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The demo's Windows logs over HTTP, its firewall's over syslog TCP,
    // as they would arrive.
    let mut cmd = vigie();
    cmd.args(["serve", "--data", s(&data)]).args([
        "--listen",
        "127.0.0.1:0",
        "--syslog-tcp",
        "127.0.0.1:0",
    ]);
    let server = common::server::spawn_serve(cmd);
    let base = server.base.clone();
    let syslog = server
        .said
        .iter()
        .find_map(|l| l.strip_prefix("vigie serve: syslog TCP on "))
        .expect("the syslog TCP address")
        .to_string();
    let until = Instant::now() + Duration::from_secs(60);
    while http(&base, "GET", "/healthz", &[], None).status != 200 {
        assert!(Instant::now() < until, "serve never became healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
    let d = &common::server::make_demo(tmp.path());
    let mut sent = send_logs(&base, &ingest, &d.join("scenario/logs"));
    {
        use std::io::Write;
        let fw = std::fs::read(d.join("scenario/logs/FW01/fortigate.log")).unwrap();
        sent += fw.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
        let mut tcp = std::net::TcpStream::connect(&syslog).unwrap();
        tcp.write_all(&fw).unwrap();
    }
    judged(&base, &admin, sent);
    let lea = signed_in(&base, "lea", "analyste de garde 2026", "");
    let lea_headers = [
        ("Cookie", lea.cookie.as_str()),
        ("X-CSRF-Token", lea.csrf.as_str()),
    ];
    let common::server::DemoHosts {
        truth,
        attack,
        gateway,
        exfil,
        ..
    } = common::server::demo_hosts(d);
    let logs = d.join("scenario/logs");

    // Nothing of kind ioc before indicators arrive.
    let before = detections(&base, &read);
    assert!(before.iter().all(|d| d["kind"] != "ioc"));
    let scope_before = get(&base, "/api/v1/scope", &read).json();

    // The demo's indicators, as a CSIRT would receive them.
    let out = tmp.path().join("out");
    let (scope_file, assets) = (d.join("scope.json"), d.join("scenario/assets.yml"));
    let common = ["--scope", s(&scope_file), "--assets", s(&assets)];
    let stix = out.join("incident.stix.json");
    let misp = out.join("incident.misp.json");
    let blocklist = out.join("blocklist");
    for (format, path) in [("stix", &stix), ("misp", &misp), ("blocklist", &blocklist)] {
        let mut args = vec!["export", format];
        args.extend(common);
        args.extend(["--out", s(path)]);
        ok(&args);
    }

    // Who may upload: not a reader; a name is required; what is not
    // indicators is refused whole with its reason, nothing kept.
    let small = tmp.path().join("one.txt");
    std::fs::write(&small, "198.51.100.9\n").unwrap();
    let r = upload(&base, &read, "one", "", &small);
    assert_eq!(r.status, 403, "{}", r.body);
    // A session without its CSRF token is refused.
    let r = upload_as(&base, &[("Cookie", &lea.cookie)], "one", "", &small);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = upload(&base, &admin, "", "", &stix);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = upload(&base, &admin, "bad/../name", "", &stix);
    assert_eq!(r.status, 400, "{}", r.body);
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, br#"{"not": "indicators"}"#).unwrap();
    let r = upload(&base, &admin, "junk", "", &junk);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("neither STIX"), "{}", r.body);
    let r = upload(&base, &admin, "stix", "&format=misp", &stix);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = upload(&base, &admin, "stix", "&tlp=purple", &stix);
    assert_eq!(r.status, 400, "{}", r.body);

    // What `vigie hunt --ioc` finds in the files with the same bundle.
    let timeline = tmp.path().join("hunt-ioc.jsonl");
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("never.yml"),
        "title: Never\nid: 00000000-0000-4000-8000-0000000000ff\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 999999\n  condition: sel\nlevel: low\n",
    )
    .unwrap();
    let hunt = vigie()
        .args(["hunt", s(&logs), "--no-builtin", "--no-sigmahq", "--rules"])
        .arg(&rules)
        .args(["--ioc", s(&stix), "-q", "-o", s(&timeline)])
        .output()
        .unwrap();
    assert_eq!(hunt.status.code(), Some(1));
    let hunt_rows: Vec<Value> = std::fs::read_to_string(&timeline)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hunt_found = found(&hunt_rows, "datetime");
    assert!(!hunt_found.is_empty());

    // Each export uploaded in turn: matched at once, retro-hunted.
    let mut retro_ids = BTreeSet::new();
    // The MISP event is uploaded as TLP:RED: its AMBER indicators are
    // raised to it (the most restrictive of the two).
    for (name, file, query, tlp) in [
        ("csirt-stix", stix.clone(), "&format=stix", "amber"),
        ("csirt-misp", misp.clone(), "&tlp=red", "red"),
        (
            "csirt-blocklist",
            blocklist.join("blocklist.csv"),
            "",
            "amber",
        ),
    ] {
        let r = if name == "csirt-blocklist" {
            upload_as(&base, &lea_headers, name, query, &file)
        } else {
            upload(&base, &admin, name, query, &file)
        };
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        let a = r.json();
        assert!(a["source"]["imported"].as_u64().unwrap() > 0, "{a}");
        let by = a["source"]["added_by"].as_str().unwrap();
        let want = if name == "csirt-blocklist" {
            "lea"
        } else {
            "token:token"
        };
        assert_eq!(by, want, "{a}");
        let id = a["retrohunt"]["id"].as_str().unwrap().to_string();
        let run = retro_done(&base, &read, &id);
        eprintln!("retro-hunt of {name}: {run}");
        assert!(run["events_read"].as_u64().unwrap() > 1000, "{run}");
        assert!(run["detections"].as_u64().unwrap() > 0, "{run}");
        retro_ids.insert(id.clone());

        let mine: Vec<Value> = detections(&base, &read)
            .into_iter()
            .filter(|d| d["retrohunt"] == id.as_str())
            .collect();
        assert_eq!(mine.len() as u64, run["new_detections"].as_u64().unwrap());
        assert!(mine.iter().all(|d| d["kind"] == "ioc"), "{}", mine[0]);
        let hosts: BTreeSet<String> = mine.iter().map(|d| host(&d["computer"])).collect();
        assert!(hosts.contains(&gateway), "{name}: {hosts:?}");
        assert!(hosts.contains(&exfil), "{name}: {hosts:?}");
        let benign: Vec<_> = hosts.difference(&attack).collect();
        assert!(
            benign.is_empty(),
            "{name}: indicators on benign hosts {benign:?}"
        );
        // The event's own time (January 2026), not the upload's.
        for det in &mine {
            let t = det["time"].as_str().unwrap();
            assert!(t.starts_with("2026-01-"), "{det}");
            assert!(
                det["tags"].to_string().contains(&format!("tlp.{tlp}")),
                "{det}"
            );
        }
        // The console says how it was found.
        let page = http(
            &base,
            "GET",
            &format!("/detections/{}", mine[0]["id"].as_str().unwrap()),
            &[("Cookie", &lea.cookie)],
            None,
        );
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("id=\"retrohunt\""), "{}", page.body);
        assert!(page.body.contains(&id), "{}", page.body);
        if name == "csirt-stix" {
            // Exactly what `hunt --ioc` finds in the files, at the same times.
            assert_eq!(found(&mine, "time"), hunt_found);
        }
    }

    // The retro-hunt's detections feed the live scope like any detection.
    let until = Instant::now() + Duration::from_secs(60);
    let detections_in = |scope: &Value| -> u64 {
        scope["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["detections"].as_u64().unwrap_or(0))
            .sum()
    };
    loop {
        let scope = get(&base, "/api/v1/scope", &read);
        if scope.status == 200 && detections_in(&scope.json()) > detections_in(&scope_before) {
            break;
        }
        assert!(Instant::now() < until, "the scope never took them");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Matched live, without a restart: the exfiltration host's event sent
    // again as a new record is an `ioc` detection of the live worker.
    let sample = detections(&base, &read)
        .into_iter()
        .find(|d| {
            d["kind"] == "ioc"
                && host(&d["computer"]) == exfil
                && d["event"]["Event"]["System"]["EventRecordID"].is_number()
        })
        .expect("an indicator's detection on the exfiltration host");
    let line = again(&base, &read, &sample, 9_000_001);
    let r = http(
        &base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(line.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let live: Vec<Value> = detections(&base, &read)
            .into_iter()
            .filter(|d| d["kind"] == "ioc" && d["record_id"] == 9_000_001)
            .collect();
        if !live.is_empty() {
            assert!(live.iter().all(|d| d["retrohunt"].is_null()), "{}", live[0]);
            break;
        }
        assert!(Instant::now() < until, "the new event was not matched live");
        std::thread::sleep(Duration::from_millis(300));
    }

    // The same source again: nothing new to retro-hunt.
    let r = upload(&base, &admin, "csirt-stix", "", &stix);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["retrohunt"].is_null(), "{}", r.body);
    assert_eq!(r.json()["source"]["replaced"], true);

    // An indicator past its validity is counted as expired.
    let expired = tmp.path().join("expired.json");
    std::fs::write(
        &expired,
        serde_json::json!({
            "type": "bundle",
            "id": "bundle--6f1b9e0e-1a43-4a57-9b0c-2d6c1c9e0f01",
            "objects": [{
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--0b7f2b6e-5c1d-4e4e-9a55-8c2f6a1d0e11",
                "created": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z",
                "pattern": "[ipv4-addr:value = '198.51.100.77']", "pattern_type": "stix",
                "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2025-02-01T00:00:00Z"
            }]
        })
        .to_string(),
    )
    .unwrap();
    let r = upload(&base, &admin, "old", "&format=stix", &expired);
    assert_eq!(r.status, 201, "{}", r.body);
    let list = get(&base, "/api/v1/indicators", &read).json();
    let names: Vec<&str> = list["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["csirt-blocklist", "csirt-misp", "csirt-stix", "old"],
        "{list}"
    );
    // Expired now: that one, and the demo's network indicators (valid
    // 180 days after January 2026; retro-hunted above at their events'
    // times, when they were valid).
    let expired_of = |list: &Value, name: &str| {
        list["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["expired"].as_u64().unwrap())
    };
    assert_eq!(expired_of(&list, "old"), Some(1), "{list}");
    let total: u64 = names.iter().filter_map(|n| expired_of(&list, n)).sum();
    assert_eq!(list["expired"], total, "{list}");
    assert!(list["compiled"].as_u64().unwrap() > 0, "{list}");

    // Removed by an administrator only; audited.
    let del = |auth: &str| {
        http(
            &base,
            "DELETE",
            "/api/v1/indicators/old",
            &[("Authorization", auth)],
            None,
        )
        .status
    };
    assert_eq!(del(&read), 403);
    assert_eq!(del(&admin), 200);
    assert_eq!(del(&admin), 404);
    let audit = get(&base, "/api/v1/audit", &admin).body;
    assert!(audit.contains("\"indicators_add\""), "{audit}");
    assert!(audit.contains("\"indicators_remove\""), "{audit}");
    assert!(audit.contains("csirt-misp"), "{audit}");

    // The live incident as FortiGate external threat feeds, read as a
    // FortiGate reads them (the token as the password of basic auth).
    let basic = {
        use base64::Engine as _;
        let token = read.strip_prefix("Bearer ").unwrap();
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("fortigate:{token}"))
        )
    };
    let ips = http(
        &base,
        "GET",
        "/api/v1/blocklist/ip.txt",
        &[("Authorization", &basic)],
        None,
    );
    assert_eq!(ips.status, 200, "{}", ips.body);
    assert!(ips
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let entries: Vec<&str> = ips.body.lines().collect();
    assert!(entries.contains(&"203.0.113.45"), "{entries:?}");
    for e in &entries {
        let ip: std::net::IpAddr = e
            .parse()
            .unwrap_or_else(|_| panic!("{e}: one address a line"));
        let private = match ip {
            std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
            std::net::IpAddr::V6(v6) => v6.is_loopback(),
        };
        assert!(!private, "{e} in the firewall's list");
    }
    let domains = get(&base, "/api/v1/blocklist/domain.txt", &read);
    assert_eq!(domains.status, 200, "{}", domains.body);
    assert!(
        domains.body.lines().any(|l| l.ends_with("mega.co.nz")),
        "{}",
        domains.body
    );
    assert!(
        !domains.body.to_lowercase().contains("ccpab.local"),
        "{}",
        domains.body
    );
    // The tools' digests: the live incident's (read back from the event
    // log) are the batch export's (read from the evidence files).
    let digests = |text: &str| -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let batch = digests(&std::fs::read_to_string(blocklist.join("hashes.txt")).unwrap());
    assert!(!batch.is_empty(), "the demo's export has tools' digests");
    let live = get(&base, "/api/v1/blocklist/hash.txt", &read);
    assert_eq!(live.status, 200, "{}", live.body);
    assert_eq!(digests(&live.body), batch, "{}", live.body);
    assert_eq!(get(&base, "/api/v1/blocklist/url.txt", &read).status, 404);
    assert_eq!(
        http(&base, "GET", "/api/v1/blocklist/ip.txt", &[], None).status,
        401
    );

    // TAXII 2.1: authenticated, read-only; the tenant's live incident
    // (TLP:AMBER, accounts by role) and the indicators held.
    let none = http(&base, "GET", "/taxii2/", &[], None);
    assert_eq!(none.status, 401);
    let disc = taxii_get(&base, "/taxii2/", &read);
    assert_eq!(disc.status, 200, "{}", disc.body);
    assert_eq!(
        disc.header("content-type"),
        Some("application/taxii+json;version=2.1")
    );
    assert_eq!(
        disc.json()["api_roots"],
        serde_json::json!(["/taxii2/default/"])
    );
    let other = taxii_get(&base, "/taxii2/another/collections/", &read);
    assert_eq!(other.status, 403, "{}", other.body);
    let cols = taxii_get(&base, "/taxii2/default/collections/", &read).json();
    let incident_id = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "incident")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let objects = taxii_get(
        &base,
        &format!("/taxii2/default/collections/{incident_id}/objects/?limit=1000"),
        &read,
    );
    assert_eq!(objects.status, 200, "{}", objects.body);
    let text = objects.body.to_lowercase();
    assert!(text.contains("203.0.113.45"), "the entry address is shared");
    assert!(text.contains("tlp:amber"), "TLP:AMBER by default");
    for account in truth["compromised_accounts"].as_array().unwrap() {
        let a = account.as_str().unwrap().to_lowercase();
        assert!(!text.contains(&a), "account {a} in the TAXII incident");
    }
    // Its hash indicators are the batch bundle's.
    let hash_patterns = |objects: &Value| -> BTreeSet<String> {
        objects
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["pattern"].as_str())
            .filter(|p| p.contains("file:hashes"))
            .map(str::to_string)
            .collect()
    };
    let batch_bundle: Value = serde_json::from_slice(&std::fs::read(&stix).unwrap()).unwrap();
    let batch_hashes = hash_patterns(&batch_bundle["objects"]);
    assert!(!batch_hashes.is_empty());
    assert_eq!(hash_patterns(&objects.json()["objects"]), batch_hashes);
    if let Some(py) = vigie_testkit::python(&["taxii2client"]) {
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../intel/tests/python/taxii_walk.py");
        let out = std::process::Command::new(py)
            .arg(script)
            .args([&format!("{base}/taxii2/"), "7", "2000-01-01T00:00:00Z"])
            .env("TAXII_USER", "csirt")
            .env("TAXII_PASSWORD", read.strip_prefix("Bearer ").unwrap())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{said}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let walk: Value = serde_json::from_str(said.trim()).unwrap();
        let root = &walk["roots"][0];
        assert_eq!(walk["roots"].as_array().unwrap().len(), 1, "{walk}");
        let cols = root["collections"].as_array().unwrap();
        assert_eq!(cols.len(), 2, "{walk}");
        for c in cols {
            let n = c["objects"].as_u64().unwrap();
            assert!(n > 0, "{c}");
            assert_eq!(c["distinct"], n, "{c}");
            assert_eq!(c["pages"], n.div_ceil(7), "{c}");
            assert_eq!(c["manifest_same"], true, "{c}");
            // One page of the default size (100).
            assert_eq!(c["added_after"], n.min(100), "{c}");
            assert_eq!(c["can_write"], false, "{c}");
            assert!(c["indicators"].as_u64().unwrap() > 0, "{c}");
        }
        let incident = cols.iter().find(|c| c["title"] == "incident").unwrap();
        for ty in [
            "identity",
            "incident",
            "indicator",
            "sighting",
            "attack-pattern",
        ] {
            assert!(
                incident["types"].to_string().contains(ty),
                "{ty}: {incident}"
            );
        }
        // Every indicator held (three sources; MISP attributes not for
        // detection were not imported), as STIX indicators.
        let held = cols.iter().find(|c| c["title"] == "indicators").unwrap();
        assert_eq!(
            held["indicators"],
            list["indicators"].as_u64().unwrap() - 1,
            "{held} {list}"
        );
    }

    // Kept across a `kill -9` and a restart: the sources read again from
    // their bytes in state.db (no file of them any more).
    drop(server);
    let server = start(&data);
    let list = get(&server.base, "/api/v1/indicators", &read).json();
    assert_eq!(list["sources"].as_array().unwrap().len(), 3, "{list}");
    assert!(!data.join("indicators").exists());
    {
        let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
        let mut st = db
            .prepare("SELECT name FROM indicator_sources ORDER BY name")
            .unwrap();
        let kept: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(kept, ["csirt-blocklist", "csirt-misp", "csirt-stix"]);
    }
    assert_eq!(expired_of(&list, "old"), None, "{list}");
    assert_eq!(retro_ids.len(), 3);
}
