//! One deployment, not N nodes, through the binary: two `--role api`
//! nodes on one real nats-server (JetStream) and PostgreSQL (skipped
//! without them outside CI) share what a single node kept for itself.
//!
//! - Failed logins per address and per unknown name are counted in
//!   PostgreSQL: guesses spread over the two nodes are stopped at the
//!   bound of one (20 per address in 15 minutes; 5 for a name).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::console::login;
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
