//! One deployment, not N nodes, through the binary: two `--role api`
//! nodes on one real nats-server (JetStream) and PostgreSQL (skipped
//! without them outside CI) share what a single node kept for itself.
//!
//! - Failed logins per address and per unknown name are counted in
//!   PostgreSQL: guesses spread over the two nodes are stopped at the
//!   bound of one (20 per address in 15 minutes; 5 for a name).
//! - An indicator feed given to two detect nodes is polled by one at a
//!   time (a lease in PostgreSQL), with the validators of the version
//!   kept there: one download, then `304`s whichever node asks, a node
//!   restarted downloads nothing again; both hold the feed's version.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::console::{get_json, login};
use common::server::{spawn_serve, Server};
use vigie_testkit::servers::{Nats, Postgres};

fn node(dir: &Path, args: &[String]) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args);
    spawn_serve(cmd)
}

/// Two api nodes (and their arguments' extra) on one bus and database.
fn two_api_nodes(nats: &Nats, pg: &Postgres, root: &Path, extra: &[String]) -> (Server, Server) {
    let mut args: Vec<String> = ["--bus", &nats.url(), "--db", &pg.url(), "--role", "api"]
        .map(str::to_string)
        .to_vec();
    args.extend_from_slice(extra);
    let (ra, rb) = (root.join("a"), root.join("b"));
    let (aa, ab) = (args.clone(), args);
    let a = std::thread::spawn(move || node(&ra, &aa));
    let b = std::thread::spawn(move || node(&rb, &ab));
    (a.join().unwrap(), b.join().unwrap())
}

#[test]
fn failed_logins_are_counted_across_api_nodes() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = two_api_nodes(&nats, &pg, tmp.path(), &[]);
    let wrong = "pas le bon mot de passe";
    // One unknown name tried three times on A, twice on B: locked on
    // both, as one node would have locked it at its fifth failure.
    for (node, n) in [(&a, 1), (&b, 2), (&a, 3), (&b, 4)] {
        let (r, id) = login(&node.base, "personne", wrong, "000000");
        assert_eq!(r.status, 401, "failure {n}: {}", r.body);
        assert!(id.is_none());
        assert!(!r.body.contains("verrouillé"), "failure {n}: {}", r.body);
    }
    let (r, _) = login(&a.base, "personne", wrong, "000000");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("verrouillé"), "the fifth locks: {}", r.body);
    let (r, _) = login(&b.base, "personne", wrong, "000000");
    assert!(r.body.contains("verrouillé"), "locked on B too: {}", r.body);
    // A spray from one address: 20 failures in all (6 above), half on
    // each node; the next is refused on both (each alone saw 10 to 14).
    for i in 0..14 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (r, _) = login(&node.base, &format!("agent{i}"), wrong, "000000");
        assert_eq!(r.status, 401, "spray {i}: {}", r.body);
    }
    for node in [&a, &b] {
        let (r, _) = login(&node.base, "agent-x", wrong, "000000");
        assert_eq!(r.status, 429, "{}", r.body);
        assert!(r.body.contains("depuis cette adresse"), "{}", r.body);
    }
    eprintln!("regional login throttles test: {:?}", started.elapsed());
}

/// What the feed server holds and saw.
#[derive(Default)]
struct Feed {
    body: String,
    etag: String,
    downloads: u32,
    not_modified: u32,
    in_flight: u32,
    most_in_flight: u32,
}

/// A feed over HTTP honouring `If-None-Match`, each answer taking 300 ms
/// (two nodes polling at once would overlap); its address.
fn feed_server(feed: Arc<Mutex<Feed>>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let feed = feed.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut etag = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.trim().eq_ignore_ascii_case("if-none-match") {
                            etag = Some(v.trim().to_string());
                        }
                    }
                }
                {
                    let mut f = feed.lock().unwrap();
                    f.in_flight += 1;
                    f.most_in_flight = f.most_in_flight.max(f.in_flight);
                }
                std::thread::sleep(Duration::from_millis(300));
                let mut f = feed.lock().unwrap();
                f.in_flight -= 1;
                let answer = if etag.as_deref() == Some(f.etag.as_str()) {
                    f.not_modified += 1;
                    format!(
                        "HTTP/1.1 304 Not Modified\r\netag: {}\r\nconnection: close\r\n\r\n",
                        f.etag
                    )
                } else {
                    f.downloads += 1;
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\netag: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                        f.etag,
                        f.body.len(),
                        f.body
                    )
                };
                drop(f);
                let _ = conn.write_all(answer.as_bytes());
            });
        }
    });
    addr
}

fn token(db: &str, scope: &str, name: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args([
            "token", "create", "--db", db, "--scope", scope, "--name", name,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
}

/// Whether `node` holds the feed's source with `address` in it.
fn holds(node: &Server, admin: &str, sha: &str) -> bool {
    get_json(&node.base, "/api/v1/indicators", admin)["sources"]
        .as_array()
        .is_some_and(|s| {
            s.iter().any(|s| {
                s["name"].as_str().is_some_and(|n| n.starts_with("feed-")) && s["sha256"] == sha
            })
        })
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn within(bound: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_feed_is_polled_by_one_detect_node_at_a_time() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let admin = token(&pg.url(), "admin", "csirt");
    let v1 = "# liste du CSIRT\n198.51.100.23\n".to_string();
    let feed = Arc::new(Mutex::new(Feed {
        body: v1.clone(),
        etag: "\"v1\"".into(),
        ..Default::default()
    }));
    let at = feed_server(feed.clone());
    let args: Vec<String> = [
        "--bus",
        &nats.url(),
        "--db",
        &pg.url(),
        "--role",
        "detect",
        "--ioc-feed",
        &format!("http://{at}/liste.txt"),
        "--ioc-poll",
        "1s",
    ]
    .map(str::to_string)
    .to_vec();
    let (d1, d2) = (tmp.path().join("w1"), tmp.path().join("w2"));
    let (a1, a2) = (args.clone(), args.clone());
    let w1 = std::thread::spawn(move || node(&d1, &a1));
    let w2 = std::thread::spawn(move || node(&d2, &a2));
    let (mut w1, w2) = (w1.join().unwrap(), w2.join().unwrap());
    let first = sha256(&v1);
    within(Duration::from_secs(30), "both hold the feed", || {
        holds(&w1, &admin, &first) && holds(&w2, &admin, &first)
    });
    // Polled every second for a while: one download, then 304s, never
    // two nodes at once.
    within(Duration::from_secs(30), "polled again", || {
        feed.lock().unwrap().not_modified >= 4
    });
    {
        let f = feed.lock().unwrap();
        assert_eq!(f.downloads, 1, "downloaded once for the deployment");
        assert_eq!(f.most_in_flight, 1, "one node at a time");
    }
    // A node restarted (on an empty data directory) downloads nothing
    // again: the validators are the database's.
    w1.child.kill().unwrap();
    w1.child.wait().unwrap();
    drop(w1);
    let w1 = node(&tmp.path().join("w1-again"), &args);
    let seen = feed.lock().unwrap().not_modified;
    within(Duration::from_secs(30), "polled after the restart", || {
        feed.lock().unwrap().not_modified >= seen + 4
    });
    assert!(holds(&w1, &admin, &first));
    assert_eq!(feed.lock().unwrap().downloads, 1);
    // A new version: downloaded once, held by both.
    let v2 = "# liste du CSIRT\n198.51.100.23\n203.0.113.9\n".to_string();
    {
        let mut f = feed.lock().unwrap();
        f.body = v2.clone();
        f.etag = "\"v2\"".into();
    }
    let second = sha256(&v2);
    within(Duration::from_secs(30), "both hold the new version", || {
        holds(&w1, &admin, &second) && holds(&w2, &admin, &second)
    });
    let f = feed.lock().unwrap();
    assert_eq!(f.downloads, 2, "the new version downloaded once");
    assert_eq!(f.most_in_flight, 1);
    eprintln!("regional feed lease test: {:?}", started.elapsed());
}
