//! Indicator feeds polled by `vigie serve`, through the binary, against
//! real HTTP servers: a document honouring validators (a server started
//! by the test), a MISP feed written by `vigie export misp-feed` behind a
//! key (a static file server started by the test that refuses requests
//! without it), and a TAXII 2.1 collection of a second `vigie serve` (its
//! own `/taxii2/` server, behind its tokens). What is checked: only what
//! changed is fetched, new indicators are matched and retro-hunted, the
//! indicators held survive a failure, and no secret is ever printed or
//! served.

mod common;

use common::console::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `GET path` with a token.
fn get(base: &str, path: &str, auth: &str) -> Resp {
    http(base, "GET", path, &[("Authorization", auth)], None)
}

/// Tokens of scope ingest, read and admin.
fn tokens(data: &Path) -> (String, String, String) {
    (
        token(data, "ingest"),
        token(data, "read"),
        token(data, "admin"),
    )
}

/// A `vigie serve` child whose whole stderr goes to a file (to check
/// that no secret is ever printed), killed when dropped; its base URL.
struct Logged {
    child: std::process::Child,
    stderr: std::path::PathBuf,
    base: String,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Logged {
    fn start(mut cmd: std::process::Command, stderr: std::path::PathBuf) -> Logged {
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut me = Logged {
            child,
            stderr,
            base: String::new(),
        };
        let mut base = String::new();
        wait_until("serve listens", || {
            base = me
                .said()
                .lines()
                .find_map(|l| l.strip_prefix("vigie serve: listening on "))
                .unwrap_or_default()
                .to_string();
            !base.is_empty()
        });
        me.base = base;
        me
    }

    fn said(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// What a static file server saw: requests by path, and those without
/// the key.
#[derive(Default)]
struct Seen {
    by_path: BTreeMap<String, u32>,
    without_key: u32,
}

/// A real HTTP server of the files under `dir` that answers 403 to any
/// request without `Authorization: <key>` (a MISP instance's feed behind
/// its key); its address.
fn static_server(dir: std::path::PathBuf, key: &'static str, seen: Arc<Mutex<Seen>>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut authorization = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.trim().eq_ignore_ascii_case("authorization") {
                        authorization = Some(v.trim().to_string());
                    }
                }
            }
            let path = request.split(' ').nth(1).unwrap_or("/").to_string();
            let mut seen = seen.lock().unwrap();
            *seen.by_path.entry(path.clone()).or_default() += 1;
            let answer = if authorization.as_deref() != Some(key) {
                seen.without_key += 1;
                b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
            } else {
                let name = path.trim_start_matches('/').replace("..", "");
                match std::fs::read(dir.join(name)) {
                    Ok(body) => {
                        let mut a = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        a.extend(body);
                        a
                    }
                    Err(_) => {
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_vec()
                    }
                }
            };
            drop(seen);
            let _ = conn.write_all(&answer);
        }
    });
    addr
}

/// How many times `path` was asked for.
fn asked(seen: &Mutex<Seen>, path: &str) -> u32 {
    seen.lock().unwrap().by_path.get(path).copied().unwrap_or(0)
}

/// The feed's source in `GET /api/v1/indicators` (the only one).
fn feed_source(base: &str, read: &str) -> Value {
    let list = get(base, "/api/v1/indicators", read).json();
    list["sources"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with("feed-")))
        })
        .cloned()
        .unwrap_or(Value::Null)
}

/// The feeds' part of `/api/v1/stats`.
fn feed_stats(base: &str, admin: &str) -> Value {
    get(base, "/api/v1/stats", admin).json()["ioc_feeds"].clone()
}

fn ioc_detections(base: &str, read: &str) -> Vec<Value> {
    get(base, "/api/v1/detections?limit=10000", read)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "ioc")
        .cloned()
        .collect()
}

/// A connection of the file server to `address` (Security 5156).
fn connection_to(address: &str, time: &str) -> String {
    common::security(
        time,
        5156,
        "SRV-FIC01.ccpab.local",
        &[("DestAddress", address), ("Application", "rclone.exe")],
    )
}

/// A MISP event holding one `ip-dst` for detection.
fn misp_event(uuid: &str, timestamp: &str, address: &str) -> Value {
    serde_json::json!({"Event": {
        "uuid": uuid,
        "info": "Exfiltration server",
        "date": "2026-01-12",
        "timestamp": timestamp,
        "analysis": "2",
        "threat_level_id": "2",
        "Orgc": {"name": "CSIRT-BZH", "uuid": "5f6e7d8c-1b2a-4c3d-9e8f-0a1b2c3d4e5f"},
        "Tag": [{"name": "tlp:amber"}],
        "Attribute": [{
            "uuid": format!("a{}", &uuid[1..]),
            "type": "ip-dst",
            "category": "Network activity",
            "to_ids": true,
            "value": address,
            "timestamp": timestamp,
        }],
    }})
}

/// Adds (or replaces) `event` in the feed under `dir`, as MISP writes
/// it: its file and its manifest entry.
fn put_event(dir: &Path, event: &Value) {
    let e = &event["Event"];
    let uuid = e["uuid"].as_str().unwrap();
    std::fs::write(dir.join(format!("{uuid}.json")), event.to_string()).unwrap();
    let path = dir.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest[uuid] = serde_json::json!({
        "Orgc": e["Orgc"], "Tag": e["Tag"], "info": e["info"], "date": e["date"],
        "analysis": 2, "threat_level_id": 2,
        "timestamp": e["timestamp"].as_str().unwrap().parse::<i64>().unwrap(),
    });
    std::fs::write(&path, manifest.to_string()).unwrap();
}

/// A MISP feed written by `vigie export misp-feed`, behind a key given
/// in a file, polled by `vigie serve`: every event fetched once, then
/// only a new event and an event whose timestamp changed; the key sent
/// with every request, never printed nor served.
#[test]
fn a_misp_feed_behind_a_key_is_polled_fetching_only_the_events_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = common::server::make_demo(tmp.path());
    let feed = tmp.path().join("feed");
    let out = vigie()
        .args(["export", "misp-feed", "--scope"])
        .arg(d.join("scope.json"))
        .arg("--assets")
        .arg(d.join("scenario/assets.yml"))
        .arg("--out")
        .arg(&feed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(feed.join("manifest.json")).unwrap()).unwrap();
    let demo_uuid = manifest.as_object().unwrap().keys().next().unwrap().clone();

    const KEY: &str = "mispKEY0123456789abcdefSECRET";
    let seen = Arc::new(Mutex::new(Seen::default()));
    let at = static_server(feed.clone(), KEY, seen.clone());
    let data = tmp.path().join("data");
    let (ingest, read, admin) = tokens(&data);
    let etc = tmp.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("misp.key"), format!("{KEY}\n")).unwrap();
    let conf = etc.join("vigie.toml");
    std::fs::write(
        &conf,
        format!(
            "data = \"../data\"\nlisten = \"127.0.0.1:0\"\nioc_poll = \"1s\"\nioc_feeds = [{{ url = \"misp+http://{at}/\", auth = \"misp\", secret_file = \"misp.key\" }}]\n"
        ),
    )
    .unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--config"]).arg(&conf);
    let server = Logged::start(cmd, tmp.path().join("serve.stderr"));
    let base = server.base.clone();

    // Read whole once: the manifest, the demo's event.
    wait_until("the feed read", || {
        feed_source(&base, &read)["imported"].as_u64().unwrap_or(0) > 0
    });
    let first = feed_source(&base, &read)["imported"].as_u64().unwrap();
    assert_eq!(
        feed_source(&base, &read)["formats"],
        serde_json::json!(["misp"])
    );
    // Polled again: the manifest each time, the event never again.
    wait_until("three polls", || asked(&seen, "/manifest.json") >= 3);
    assert_eq!(asked(&seen, &format!("/{demo_uuid}.json")), 1);
    let st = feed_stats(&base, &admin);
    assert!(st["not_modified"].as_u64().unwrap() >= 2, "{st}");
    assert_eq!(st["feeds"][0]["kind"], "misp-feed", "{st}");
    assert_eq!(st["feeds"][0]["auth"], "header", "{st}");

    // An event stored before its indicator arrives.
    let r = http(
        &base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(connection_to("198.51.100.66", "2026-01-12T10:00:00Z").as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    judged(&base, &admin, 1);
    assert!(ioc_detections(&base, &read).is_empty());

    // A new event in the feed: fetched alone, its address retro-hunted
    // over the event stored, at the event's own time.
    let new_uuid = "7c1e5a3b-2d4f-4a6b-8c9d-0e1f2a3b4c5d";
    put_event(&feed, &misp_event(new_uuid, "1768212000", "198.51.100.66"));
    wait_until("the retro-hunt of the new event", || {
        ioc_detections(&base, &read).len() == 1
    });
    let found = ioc_detections(&base, &read);
    assert!(found[0]["retrohunt"].is_string(), "{}", found[0]);
    assert_eq!(found[0]["time"], "2026-01-12T10:00:00.000000Z");
    assert_eq!(
        feed_source(&base, &read)["imported"].as_u64().unwrap(),
        first + 1
    );
    assert_eq!(asked(&seen, &format!("/{new_uuid}.json")), 1);
    assert_eq!(asked(&seen, &format!("/{demo_uuid}.json")), 1);

    // That event changed (a new timestamp, another address): fetched
    // again, alone; its new address retro-hunted.
    let r = http(
        &base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(connection_to("198.51.100.67", "2026-01-12T11:00:00Z").as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    judged(&base, &admin, 2);
    put_event(&feed, &misp_event(new_uuid, "1768215600", "198.51.100.67"));
    wait_until("the changed event's address retro-hunted", || {
        ioc_detections(&base, &read).len() == 2
    });
    let n = asked(&seen, "/manifest.json");
    wait_until("two more polls", || asked(&seen, "/manifest.json") >= n + 2);
    assert_eq!(asked(&seen, &format!("/{new_uuid}.json")), 2);
    assert_eq!(asked(&seen, &format!("/{demo_uuid}.json")), 1);

    // The key went with every request; it is never printed nor served.
    assert_eq!(seen.lock().unwrap().without_key, 0);
    let said = server.said();
    assert!(said.contains("vigie serve: feed misp+http://"), "{said}");
    assert!(!said.contains(KEY), "{said}");
    assert!(!get(&base, "/api/v1/stats", &admin).body.contains(KEY));
    assert!(!get(&base, "/api/v1/indicators", &read).body.contains(KEY));

    // A wrong key: refused, said and counted, the indicators held kept.
    drop(server);
    std::fs::write(etc.join("misp.key"), "notTheKEY\n").unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--config"]).arg(&conf);
    let server = Logged::start(cmd, tmp.path().join("serve2.stderr"));
    let base = server.base.clone();
    wait_until("a failure", || {
        feed_stats(&base, &admin)["failures"].as_u64().unwrap_or(0) >= 1
    });
    let said = server.said();
    assert!(said.contains("credentials were refused"), "{said}");
    assert!(!said.contains("notTheKEY"), "{said}");
    assert_eq!(
        feed_source(&base, &read)["imported"].as_u64().unwrap(),
        first + 1
    );
}

/// A TAXII 2.1 collection of a second `vigie serve` (its `indicators`
/// collection, behind its tokens) polled by a first one with a bearer
/// token from the environment: 1,200 indicators read page by page
/// (`next`), then only the objects added after the last poll; a wrong
/// token refused, said and counted; no token ever printed nor served.
#[test]
fn a_taxii_collection_of_another_vigie_is_polled_for_what_was_added() {
    let tmp = tempfile::tempdir().unwrap();
    // The CSIRT's server: 1,200 addresses uploaded.
    let csirt_data = tmp.path().join("csirt");
    let (_, csirt_read, csirt_admin) = tokens(&csirt_data);
    let csirt = start(&csirt_data);
    let many = tmp.path().join("many.txt");
    let list: String = (0..1200)
        .map(|i| format!("45.{}.{}.7\n", 10 + i / 200, i % 200))
        .collect();
    std::fs::write(&many, list).unwrap();
    let r = http(
        &csirt.base,
        "POST",
        "/api/v1/indicators?name=campaign",
        &[("Authorization", &csirt_admin)],
        Some(&std::fs::read(&many).unwrap()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cols = http(
        &csirt.base,
        "GET",
        "/taxii2/default/collections/",
        &[
            ("Authorization", &csirt_read),
            ("Accept", "application/taxii+json;version=2.1"),
        ],
        None,
    )
    .json();
    let id = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "indicators")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The commune's server polls it; a second feed with a wrong token.
    let token = csirt_read.strip_prefix("Bearer ").unwrap().to_string();
    let data = tmp.path().join("data");
    let (ingest, read, admin) = tokens(&data);
    let conf = tmp.path().join("vigie.toml");
    let collection = format!("taxii+{}/taxii2/default/collections/{id}/", csirt.base);
    // The same collection without its last slash: another feed.
    let collection_bare = collection.trim_end_matches('/').to_string();
    std::fs::write(
        &conf,
        format!(
            "data = \"data\"\nlisten = \"127.0.0.1:0\"\nioc_poll = \"1s\"\nioc_feeds = [{{ url = \"{collection}\", auth = \"bearer\", secret_env = \"VIGIE_TEST_CSIRT_TOKEN\" }}, {{ url = \"{collection_bare}\", auth = \"basic\", user = \"mairie\", secret = \"wrongTOKEN42\" }}]\n"
        ),
    )
    .unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--config"])
        .arg(&conf)
        .env("VIGIE_TEST_CSIRT_TOKEN", &token);
    let server = Logged::start(cmd, tmp.path().join("serve.stderr"));
    let base = server.base.clone();
    let polled = |base: &str| -> Value {
        feed_stats(base, &admin)["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["auth"] == "bearer")
            .cloned()
            .unwrap_or(Value::Null)
    };
    wait_until("the collection read", || {
        feed_source(&base, &read)["imported"] == 1200
    });
    // The poll that brought them fetched the 1,200 objects (kept apart
    // from the polls after it, `last_updated`).
    wait_until("the first poll's record", || {
        polled(&base)["last_updated"]["fetched"] == 1200
    });
    let first = polled(&base);
    assert_eq!(first["kind"], "taxii", "{first}");
    // Polled again: nothing added, nothing fetched.
    wait_until("a poll with nothing new", || {
        let f = polled(&base);
        f["last_outcome"] == "not_modified" && f["fetched"] == 0
    });

    // An event to an address the CSIRT shares later (an hour ago: the
    // CSIRT's indicators are valid from when it made them, and match
    // before that within the 90 days' look-back).
    let when = (chrono::Utc::now() - chrono::TimeDelta::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let r = http(
        &base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(connection_to("198.51.100.88", &when).as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    judged(&base, &admin, 1);
    let late = tmp.path().join("late.txt");
    std::fs::write(&late, "198.51.100.88\n198.51.100.89\n").unwrap();
    let r = http(
        &csirt.base,
        "POST",
        "/api/v1/indicators?name=late",
        &[("Authorization", &csirt_admin)],
        Some(&std::fs::read(&late).unwrap()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Only the two objects added are fetched; held with the others;
    // retro-hunted over the event stored, at its own time. The poll that
    // fetched them is read from `last_updated`, not `last_outcome`: a
    // poll after it (a second later, nothing new) replaces the latter.
    // Its record is written once the version is kept, so the source
    // already holds the 1,202 when it shows.
    let until = Instant::now() + Duration::from_secs(90);
    while polled(&base)["last_updated"]["fetched"] != 2 {
        assert!(
            Instant::now() < until,
            "never: the objects added\n{}\n{}",
            feed_stats(&base, &admin),
            server.said()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let f = polled(&base);
    assert_eq!(f["last_updated"]["pages"], 1, "{f}");
    assert_eq!(feed_source(&base, &read)["imported"], 1202, "{f}");
    // Nothing added since: every poll after it found nothing new.
    assert!(
        f["last_outcome"] == "updated"
            || (f["last_outcome"] == "not_modified" && f["fetched"] == 0),
        "{f}"
    );
    wait_until("the retro-hunt", || ioc_detections(&base, &read).len() == 1);
    let found = ioc_detections(&base, &read);
    assert!(found[0]["retrohunt"].is_string(), "{}", found[0]);
    assert_eq!(
        found[0]["time"],
        when.replace('Z', ".000000Z"),
        "{}",
        found[0]
    );

    // The wrong token: refused, counted, said without it.
    let st = feed_stats(&base, &admin);
    assert!(st["failures"].as_u64().unwrap() >= 1, "{st}");
    let said = server.said();
    assert!(said.contains("credentials were refused"), "{said}");
    for secret in [token.as_str(), "wrongTOKEN42"] {
        assert!(!said.contains(secret), "{said}");
        assert!(!st.to_string().contains(secret), "{st}");
        assert!(!get(&base, "/api/v1/indicators", &read)
            .body
            .contains(secret));
    }
}

/// What the feed server holds and saw.
#[derive(Default)]
struct Feed {
    body: String,
    etag: String,
    fail: bool,
    requests: u32,
    not_modified: u32,
    /// Requests that carried the key of the URL.
    with_key: u32,
}

/// A real HTTP server for the feed, honouring `If-None-Match` and
/// `If-Modified-Since`, counting requests and 304s; its address.
fn feed_server(feed: std::sync::Arc<std::sync::Mutex<Feed>>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let mut f = feed.lock().unwrap();
            f.requests += 1;
            if request.contains("key=SECRET123") {
                f.with_key += 1;
            }
            let last_modified = format!("Mon, 12 Jan 2026 10:00:0{} GMT", f.etag.len() % 10);
            let answer = if f.fail {
                "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_string()
            } else if header("if-none-match").as_deref() == Some(f.etag.as_str())
                || (header("if-none-match").is_none()
                    && header("if-modified-since").as_deref() == Some(last_modified.as_str()))
            {
                f.not_modified += 1;
                format!(
                    "HTTP/1.1 304 Not Modified\r\netag: {}\r\nconnection: close\r\n\r\n",
                    f.etag
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\netag: {}\r\nlast-modified: {last_modified}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    f.etag,
                    f.body.len(),
                    f.body
                )
            };
            drop(f);
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    addr
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(90);
    while !ok() {
        assert!(Instant::now() < until, "never: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn feeds_are_polled_with_validators_and_a_failure_keeps_what_is_held() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (ingest, read, admin) = tokens(&data);
    let feed = std::sync::Arc::new(std::sync::Mutex::new(Feed {
        body: "# CSIRT list\n198.51.100.23\n".into(),
        etag: "\"v1\"".into(),
        ..Default::default()
    }));
    let at = feed_server(feed.clone());
    let url = format!("http://{at}/feed.txt?key=SECRET123");
    // A key in the URL: refused on the command line (exit 2, the key
    // not repeated), taken from the configuration file.
    let out = vigie()
        .args(["serve", "--data", s(&data), "--listen", "127.0.0.1:0"])
        .args(["--ioc-feed", &url])
        .output()
        .unwrap();
    let refused = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{refused}");
    assert!(refused.contains("ioc_feeds"), "{refused}");
    assert!(!refused.contains("SECRET123"), "{refused}");
    let config = tmp.path().join("vigie.toml");
    std::fs::write(
        &config,
        format!("ioc_feeds = [\"{url}\"]\nioc_poll = \"1s\"\n"),
    )
    .unwrap();
    let stderr = tmp.path().join("serve.stderr");
    let mut child = vigie()
        .args(["serve", "--data", s(&data), "--listen", "127.0.0.1:0"])
        .args(["--config", s(&config)])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _kill = Kill(&mut child);
    let said = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let mut base = String::new();
    wait_until("serve listens", || {
        base = said()
            .lines()
            .find_map(|l| l.strip_prefix("vigie serve: listening on "))
            .unwrap_or_default()
            .to_string();
        !base.is_empty()
    });
    let indicators = || get(&base, "/api/v1/indicators", &read).json();
    wait_until("the feed read", || indicators()["indicators"] == 1);
    // Unchanged: 304s, nothing changes.
    wait_until("a 304", || feed.lock().unwrap().not_modified >= 2);
    let list = indicators();
    let source = &list["sources"][0];
    assert!(
        source["name"].as_str().unwrap().starts_with("feed-"),
        "{list}"
    );
    assert_eq!(source["imported"], 1, "{list}");
    assert!(
        source["feed"].as_str().unwrap().contains("key=***"),
        "{list}"
    );

    // Events: one to the address listed, one to an address listed later.
    let lines = [
        common::security(
            "2026-01-12T10:00:00Z",
            5156,
            "SRV-FIC01.ccpab.local",
            &[
                ("DestAddress", "198.51.100.99"),
                ("Application", "rclone.exe"),
            ],
        ),
        common::security(
            "2026-01-12T10:05:00Z",
            5156,
            "SRV-FIC01.ccpab.local",
            &[
                ("DestAddress", "198.51.100.23"),
                ("Application", "rclone.exe"),
            ],
        ),
    ]
    .join("\n");
    let r = http(
        &base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(lines.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    judged(&base, &admin, 2);
    let iocs = || -> Vec<Value> {
        get(&base, "/api/v1/detections", &read)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "ioc")
            .cloned()
            .collect()
    };
    let live = iocs();
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(live[0]["event"].to_string().contains("198.51.100.23"));
    assert!(live[0]["retrohunt"].is_null());

    // The feed changes: fetched whole again, the new address retro-hunted
    // over the event already stored, at its own time.
    {
        let mut f = feed.lock().unwrap();
        f.body.push_str("198.51.100.99\n");
        f.etag = "\"v2\"".into();
    }
    wait_until("the retro-hunt of the new address", || iocs().len() == 2);
    let found = iocs();
    let retro = found
        .iter()
        .find(|d| d["event"].to_string().contains("198.51.100.99"))
        .unwrap();
    assert!(retro["retrohunt"].is_string(), "{retro}");
    assert_eq!(retro["time"], "2026-01-12T10:00:00.000000Z", "{retro}");

    // Down: counted, tried again, the indicators held kept.
    let failures = |s: &Value| s["ioc_feeds"]["failures"].as_u64().unwrap();
    let stats = || get(&base, "/api/v1/stats", &admin).json();
    assert_eq!(failures(&stats()), 0);
    feed.lock().unwrap().fail = true;
    wait_until("two failures", || failures(&stats()) >= 2);
    let st = stats();
    assert!(
        st["ioc_feeds"]["not_modified"].as_u64().unwrap() >= 2,
        "{st}"
    );
    assert_eq!(st["ioc_feeds"]["updated"], 2, "{st}");
    assert_eq!(indicators()["indicators"], 2);
    let f = feed.lock().unwrap();
    assert_eq!(f.with_key, f.requests, "the key is sent");
    assert!(f.not_modified >= 2);
    drop(f);
    // Its secret never printed nor served.
    let text = said();
    assert!(text.contains("feed http://"), "{text}");
    assert!(text.contains("tried again"), "{text}");
    assert!(!text.contains("SECRET123"), "{text}");
    assert!(!indicators().to_string().contains("SECRET123"));
}

/// A TAXII collection over HTTPS, behind a certificate of the CSIRT's own
/// (a second `vigie serve --tls`, its self-signed certificate): polled
/// when the feed trusts that certificate (`ca`), refused — said, counted,
/// nothing held — when it does not.
#[test]
fn a_taxii_collection_over_https_is_polled_only_with_its_authority_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let csirt_data = tmp.path().join("csirt");
    let (_, csirt_read, _) = tokens(&csirt_data);
    let iocs = tmp.path().join("iocs.txt");
    std::fs::write(&iocs, "203.0.113.45\n198.51.100.23\nrelay.example.net\n").unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--data", s(&csirt_data)]).args([
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "--ioc",
        s(&iocs),
    ]);
    let csirt = common::server::spawn_serve(cmd);
    assert!(
        csirt.base.starts_with("https://127.0.0.1:"),
        "{}",
        csirt.base
    );
    let ca = csirt_data.join("tls/cert.pem");
    let trusting: ureq::Agent = {
        let pem = std::fs::read(&ca).unwrap();
        let cert = ureq::tls::Certificate::from_pem(&pem).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
            .build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .build()
            .into()
    };
    let until = Instant::now() + Duration::from_secs(60);
    let cols: Value = loop {
        let r = trusting
            .get(format!("{}/taxii2/default/collections/", csirt.base))
            .header("Authorization", csirt_read.as_str())
            .header("Accept", "application/taxii+json;version=2.1")
            .call();
        if let Ok(mut r) = r {
            if r.status() == 200 {
                break serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            }
        }
        assert!(
            Instant::now() < until,
            "the CSIRT's TAXII server never answered"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let id = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "indicators")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = csirt_read.strip_prefix("Bearer ").unwrap();
    let collection = format!("taxii+{}/taxii2/default/collections/{id}/", csirt.base);
    let data = tmp.path().join("data");
    let (_, read, admin) = tokens(&data);
    let conf = tmp.path().join("vigie.toml");
    std::fs::write(
        &conf,
        format!(
            "data = \"data\"\nlisten = \"127.0.0.1:0\"\nioc_poll = \"1s\"\nioc_feeds = [{{ url = \"{collection}\", auth = \"bearer\", secret = \"{token}\", ca = \"csirt/tls/cert.pem\" }}, {{ url = \"{}\", auth = \"bearer\", secret = \"{token}\" }}]\n",
            collection.trim_end_matches('/')
        ),
    )
    .unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--config"]).arg(&conf);
    let server = Logged::start(cmd, tmp.path().join("serve.stderr"));
    let base = server.base.clone();
    wait_until("the collection read over HTTPS", || {
        feed_source(&base, &read)["imported"] == 3
    });
    wait_until("the untrusting feed refused", || {
        feed_stats(&base, &admin)["failures"].as_u64().unwrap_or(0) >= 1
    });
    let list = get(&base, "/api/v1/indicators", &read).json();
    assert_eq!(list["sources"].as_array().unwrap().len(), 1, "{list}");
    let said = server.said();
    assert!(said.to_lowercase().contains("certificate"), "{said}");
    assert!(!said.contains(token), "{said}");
}
