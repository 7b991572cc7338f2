//! Retro-hunts bounded in time and memory, through the binary: a run
//! that spends its time budget says it is not complete and where it
//! stopped, every detection up to there in its file; a continued run
//! reads the rest; the answer holds `[retrohunt] max_kept` detections
//! and says how many more the file has; a client that goes away stops
//! its run, which says so, and leaves no reader of the log behind.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::console::{get_json, http, start_with, token};
use common::{sysmon1, WHOAMI_RULE};
use serde_json::{json, Value};

/// Events sent: one whoami run in [`EVERY`], the others notepad.
const EVENTS: u64 = 20_000;
const EVERY: u64 = 100;

/// The others' command line: 2 KB of an encoded script, long enough for
/// [`slow_rules`]' expressions to take their time.
fn long_command_line() -> String {
    format!("-enc {}", "aZ09".repeat(500))
}

fn send_events(base: &str, ingest: &str) {
    let mut lines = Vec::new();
    let long = format!("\"CommandLine\":\"{}\"", long_command_line());
    for r in 1..=EVENTS {
        let line = if r % EVERY == 0 {
            sysmon1(
                r,
                "2026-01-10T09:00:00.000Z",
                r"C:\\Windows\\System32\\whoami.exe",
            )
        } else {
            sysmon1(
                r,
                "2026-01-10T09:00:00.000Z",
                r"C:\\Windows\\System32\\notepad.exe",
            )
            .replace("\"CommandLine\":\"x\"", &long)
        };
        assert!(r % EVERY == 0 || line.len() > 2000, "the long command line");
        lines.push(line);
        if lines.len() == 5000 {
            let body = lines.join("\n") + "\n";
            let r = http(
                base,
                "POST",
                "/api/v1/ingest",
                &[("Authorization", ingest)],
                Some(body.as_bytes()),
            );
            assert_eq!(r.status, 200, "{}", r.body);
            lines.clear();
        }
    }
}

fn hunt(base: &str, admin: &str, body: Value) -> Value {
    let r = http(
        base,
        "POST",
        "/api/v1/retrohunt",
        &[
            ("Authorization", admin),
            ("Content-Type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The record ids of a run's `detections.jsonl`, each once.
fn file_records(summary: &Value) -> BTreeSet<u64> {
    let path = Path::new(summary["kept_in"].as_str().unwrap()).join("detections.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["record_id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let set: BTreeSet<u64> = records.iter().copied().collect();
    assert_eq!(set.len(), records.len(), "each detection once");
    set
}

fn server(tmp: &Path, config: &str) -> (common::server::Server, String) {
    let data = tmp.join("data");
    let admin = token(&data, "admin");
    let ingest = token(&data, "ingest");
    std::fs::write(tmp.join("whoami.yml"), WHOAMI_RULE).unwrap();
    std::fs::write(tmp.join("vigie.toml"), config).unwrap();
    let s = start_with(
        &data,
        &[
            "--config".as_ref(),
            tmp.join("vigie.toml").as_os_str(),
            "--no-builtin".as_ref(),
            "--no-sigmahq".as_ref(),
            "--rules".as_ref(),
            tmp.join("whoami.yml").as_os_str(),
        ],
    );
    send_events(&s.base, &ingest);
    common::console::judged(&s.base, &admin, EVENTS);
    (s, admin)
}

#[test]
fn a_spent_budget_says_where_it_stopped_and_the_answer_says_what_it_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, admin) = server(tmp.path(), "[retrohunt]\nmax_kept = 3\n");
    let all_whoami: BTreeSet<u64> = (1..=EVENTS).filter(|r| r % EVERY == 0).collect();

    // The whole log: complete, every detection in the file, three in the
    // answer, and the answer says so.
    let full = hunt(&s.base, &admin, json!({ "rules": WHOAMI_RULE }));
    let sum = &full["summary"];
    assert_eq!(sum["complete"], true, "{sum}");
    assert_eq!(sum["state"], "done", "{sum}");
    assert_eq!(sum["stopped"], Value::Null, "{sum}");
    assert_eq!(sum["events_read"], EVENTS, "{sum}");
    assert_eq!(sum["detections"], all_whoami.len(), "{sum}");
    assert_eq!(sum["detections_kept"], 3, "{sum}");
    assert_eq!(sum["detections_truncated"], true, "{sum}");
    assert_eq!(full["detections"].as_array().unwrap().len(), 3);
    assert_eq!(file_records(sum), all_whoami);

    // A budget spent at once: one batch read, then stopped, saying where.
    let cut = hunt(
        &s.base,
        &admin,
        json!({ "rules": WHOAMI_RULE, "max_seconds": 0.001 }),
    );
    let sum = &cut["summary"];
    assert_eq!(sum["complete"], false, "{sum}");
    assert_eq!(sum["state"], "stopped", "{sum}");
    assert_eq!(sum["stopped"], "budget", "{sum}");
    let reached = sum["reached_position"].as_u64().expect("reached_position");
    assert!(reached > 0 && reached < EVENTS, "{sum}");
    assert_eq!(sum["events_read"], reached, "{sum}");
    assert_eq!(sum["events_in_log"], EVENTS, "{sum}");
    assert!(sum["reached_received"].is_string(), "{sum}");
    // Every detection of the positions read is in its file (the log's
    // positions follow the records sent: position p holds record p + 1).
    let before: BTreeSet<u64> = all_whoami
        .iter()
        .copied()
        .filter(|r| r - 1 < reached)
        .collect();
    assert!(!before.is_empty());
    assert_eq!(file_records(sum), before);

    // Continued from there: the rest, complete, nothing twice.
    let rest = hunt(
        &s.base,
        &admin,
        json!({ "rules": WHOAMI_RULE, "from_position": reached }),
    );
    let rsum = &rest["summary"];
    assert_eq!(rsum["complete"], true, "{rsum}");
    assert_eq!(rsum["events_skipped"], reached, "{rsum}");
    assert_eq!(rsum["from_position"], reached, "{rsum}");
    let after = file_records(rsum);
    assert!(after.is_disjoint(&before));
    assert_eq!(
        before.union(&after).copied().collect::<BTreeSet<u64>>(),
        all_whoami
    );

    // The runs as kept, and the stopped one by its id.
    let listed = get_json(&s.base, "/api/v1/retrohunts", &admin);
    let runs = listed["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{listed}");
    assert_eq!(listed["running"], 0, "{listed}");
    assert_eq!(listed["readers_open"], 0, "{listed}");
    let id = sum["id"].as_str().unwrap();
    let one = get_json(&s.base, &format!("/api/v1/retrohunts/{id}"), &admin);
    assert_eq!(one["stopped"], "budget", "{one}");
    assert_eq!(one["reached_position"], reached, "{one}");
    assert_eq!(
        http(
            &s.base,
            "GET",
            "/api/v1/retrohunts/20260101T000000Z-00000000",
            &[("Authorization", &admin)],
            None
        )
        .status,
        404
    );
    // A budget that is no number of seconds: refused, saying why.
    let r = http(
        &s.base,
        "POST",
        "/api/v1/retrohunt",
        &[("Authorization", &admin)],
        Some(
            json!({ "rules": WHOAMI_RULE, "max_seconds": -1 })
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("max_seconds"), "{}", r.body);
    // A rule that does not load: said to the API caller in its words —
    // its `rules`, no command-line flag, no path of the server.
    let r = http(
        &s.base,
        "POST",
        "/api/v1/retrohunt",
        &[("Authorization", &admin)],
        Some(
            json!({ "rules": "title: broken\ndetection:\n  sel: [\n" })
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("no rule could be loaded") || r.body.contains("holds no Sigma rule"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("--rules")
            && !r.body.contains("retrohunts/")
            && !r.body.contains(&*tmp.path().to_string_lossy()),
        "{}",
        r.body
    );

    // `vigie retrohunt`: the partial run said, with how to continue; it
    // found something (exit 1) but never passes for complete.
    let out = common::console::vigie()
        .args([
            "retrohunt",
            "--server",
            &s.base,
            "--max-seconds",
            "0.001",
            "--rules",
        ])
        .arg(tmp.path().join("whoami.yml"))
        .env("VIGIE_TOKEN", admin.trim_start_matches("Bearer "))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("NOT COMPLETE (budget)"), "{err}");
    assert!(err.contains(&format!("--from-position {reached}")), "{err}");
    assert!(err.contains("printed of"), "{err}");
}

/// Costly rules (expressions without a literal to look for first, run
/// over each 2 KB command line): on this machine, 80 of them take about
/// 7 s over the 20,000 events, 3 s a batch — long enough to be seen
/// running and left, whatever the machine's speed within a factor of
/// ten.
fn slow_rules(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "title: Slow {i}\nid: 00000000-0000-4000-8000-{i:012}\nstatus: test\nlevel: low\nlogsource: {{product: windows, category: process_creation}}\ndetection:\n    selection:\n        CommandLine|re: '[a-z][A-Z][0-9]{{2}}[a-z]{{{}}}'\n    condition: selection\n",
                i % 7 + 2
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn a_client_gone_stops_its_run_and_leaves_no_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, admin) = server(tmp.path(), "[retrohunt]\nmax_kept = 3\n");
    let rules = slow_rules(80);
    let body = json!({ "rules": rules }).to_string();
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /api/v1/retrohunt HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    conn.flush().unwrap();
    // Seen running, with its progress.
    let until = Instant::now() + Duration::from_secs(60);
    let id = loop {
        let listed = get_json(&s.base, "/api/v1/retrohunts", &admin);
        if let Some(run) = listed["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["state"] == "running")
        {
            assert_eq!(listed["running"], 1, "{listed}");
            assert!(listed["readers_open"].as_u64().unwrap() >= 1, "{listed}");
            break run["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < until, "never seen running: {listed}");
        std::thread::sleep(Duration::from_millis(20));
    };
    // The client goes away.
    drop(conn);
    let until = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let run = get_json(&s.base, &format!("/api/v1/retrohunts/{id}"), &admin);
        if run["state"] != "running" {
            break run;
        }
        assert!(Instant::now() < until, "still running: {run}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(run["state"], "stopped", "{run}");
    assert_eq!(run["stopped"], "cancelled", "{run}");
    assert_eq!(run["complete"], false, "{run}");
    let reached = run["reached_position"].as_u64().unwrap();
    assert!(reached < EVENTS, "stopped before the end: {run}");
    // Its reader released, nothing running.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = get_json(&s.base, "/api/v1/retrohunts", &admin);
        if listed["readers_open"] == 0 && listed["running"] == 0 {
            break;
        }
        assert!(Instant::now() < until, "a reader left behind: {listed}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // And the next retro-hunt runs at once (the lock went with the run).
    let next = hunt(&s.base, &admin, json!({ "rules": WHOAMI_RULE }));
    assert_eq!(next["summary"]["complete"], true);
}

/// The indicators' retro-hunt of an upload runs under the same budget,
/// outside the retro-hunts' lock: with `[retrohunt] max_seconds` spent at
/// once, its record says it stopped and where; a rules retro-hunt asked
/// meanwhile is not told "busy".
#[test]
fn an_uploads_retro_hunt_has_the_same_budget_and_says_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, admin) = server(tmp.path(), "[retrohunt]\nmax_seconds = 0.001\n");
    let r = http(
        &s.base,
        "POST",
        "/api/v1/indicators?name=csirt",
        &[("Authorization", &admin)],
        Some(b"198.51.100.77\n"),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["retrohunt"]["id"].as_str().unwrap().to_string();
    let rules = http(
        &s.base,
        "POST",
        "/api/v1/retrohunt",
        &[("Authorization", &admin)],
        Some(json!({ "rules": WHOAMI_RULE }).to_string().as_bytes()),
    );
    assert_eq!(rules.status, 200, "{}", rules.body);
    let until = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let r = http(
            &s.base,
            "GET",
            &format!("/api/v1/retrohunts/{id}"),
            &[("Authorization", &admin)],
            None,
        );
        if r.status == 200
            && !["queued", "running"].contains(&r.json()["state"].as_str().unwrap_or(""))
        {
            break r.json();
        }
        assert!(Instant::now() < until, "{} {}", r.status, r.body);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(run["state"], "stopped", "{run}");
    assert_eq!(run["complete"], false, "{run}");
    assert_eq!(run["stopped"], "budget", "{run}");
    assert_eq!(run["events_in_log"], EVENTS, "{run}");
    let reached = run["reached_position"].as_u64().unwrap();
    assert!(reached > 0 && reached < EVENTS, "{run}");
    // Listed with the indicators too, as it stands.
    let listed = get_json(&s.base, "/api/v1/indicators", &admin);
    let mine = listed["retrohunts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(mine["stopped"], "budget", "{mine}");
}

/// `vigie retrohunt --rules DIR` with a broken file beside a good one:
/// the good rule runs, and the refusal names the broken file and its
/// document exactly as `vigie rules check` names them (not "document 1"
/// of a concatenation the user never wrote).
#[test]
fn a_refused_rule_is_named_by_its_file_as_rules_check_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    let ingest = token(&data, "ingest");
    std::fs::write(tmp.path().join("live.yml"), WHOAMI_RULE).unwrap();
    let s = start_with(
        &data,
        &[
            "--no-builtin".as_ref(),
            "--no-sigmahq".as_ref(),
            "--rules".as_ref(),
            tmp.path().join("live.yml").as_os_str(),
        ],
    );
    let event = sysmon1(
        1,
        "2026-01-10T09:00:00.000Z",
        r"C:\\Windows\\System32\\whoami.exe",
    );
    let r = http(
        &s.base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &ingest)],
        Some(format!("{event}\n").as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    common::console::judged(&s.base, &admin, 1);
    let dir = tmp.path().join("newrules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.yml"),
        "title: broken\ndetection:\n  sel: [\n",
    )
    .unwrap();
    std::fs::write(dir.join("whoami.yml"), WHOAMI_RULE).unwrap();
    let name = format!("{}#0", dir.join("broken.yml").display());

    let check = common::console::vigie()
        .args(["rules", "check", "--no-builtin", "--no-sigmahq", "--rules"])
        .arg(&dir)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(said.contains(&format!("not loaded: {name}: ")), "{said}");

    let out = common::console::vigie()
        .args(["retrohunt", "--server", &s.base, "--rules"])
        .arg(&dir)
        .env("VIGIE_TOKEN", admin.trim_start_matches("Bearer "))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the good rule found it: {err}");
    assert!(err.contains("1 rule(s), 1 refused"), "{err}");
    assert!(
        err.contains(&format!("refused: {name}: YAML error")),
        "{err}"
    );
    assert!(!err.contains("document 1"), "{err}");
}
