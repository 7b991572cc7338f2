//! What `vigie serve` and its commands say to a commune's technician,
//! through the binary: where a token was kept, a `--config` file read as
//! `serve` reads it, a port in use said first, the audit naming the
//! user without `$USER`, a refusal naming the scope it needs — and the
//! calls Filebeat's modules make at start-up answered so that they send.

mod common;

use common::serve::{agent, get, post, processed, start, stats, token, vigie};
use serde_json::Value;

/// `vigie token create`: stdout the token alone (scripts take it), stderr
/// where it was kept; with `--config FILE` holding `data = …`, that data
/// directory (as `vigie serve --config` reads it); without `$USER`, the
/// audit names the uid's user from the password database.
#[test]
fn token_create_says_where_and_reads_the_config_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let conf = tmp.path().join("vigie.toml");
    std::fs::write(&conf, format!("data = {:?}\n", data.to_str().unwrap())).unwrap();
    let out = vigie()
        .args([
            "token",
            "create",
            "--scope",
            "ingest",
            "--name",
            "winlogbeat",
            "--config",
        ])
        .arg(&conf)
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(stdout.starts_with("vgt_"), "{stdout:?}");
    assert!(
        stderr.contains("kept in") && stderr.contains(data.join("state.db").to_str().unwrap()),
        "{stderr}"
    );
    assert!(stderr.contains("winlogbeat"), "{stderr}");
    // The token is the data directory's: a server on it takes it.
    let server = start(&data);
    let (status, _) = get(&server.base, "/_license", Some(stdout.trim()));
    assert_eq!(status, 200);
    drop(server);
    // The audit names the user though $USER was unset.
    let me = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let me = String::from_utf8(me.stdout).unwrap().trim().to_string();
    let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
    let lines: Vec<String> = db
        .prepare("SELECT line FROM audit_log")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let created = lines
        .iter()
        .find(|l| l.contains("token_create"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(created.contains(&format!("cli:{me}")), "{created}");
    assert!(!created.contains("cli:unknown"), "{created}");
    // A config file with neither key is said as such.
    let empty = tmp.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let out = vigie()
        .args(["token", "create", "--scope", "read", "--config"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8(out.stderr).unwrap();
    assert!(said.contains("neither a `db` nor a `data` key"), "{said}");
    assert!(out.stdout.is_empty());
}

/// A port in use: the start stops at once (non-zero), naming the port
/// first, and nothing about the live scope (it never began).
#[test]
fn a_port_in_use_is_said_first() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin");
    // Events stored, so that a start has a scope to rebuild.
    let first = start(&data);
    let line =
        "{\"EventID\":4624,\"Channel\":\"Security\",\"Computer\":\"PC-01\",\"EventRecordID\":1}\n";
    let (s, _) = post(
        &first.base,
        "/api/v1/ingest",
        Some(&admin),
        line.as_bytes(),
        false,
    );
    assert_eq!(s, 200);
    processed(&first.base, &admin, 1);
    drop(first);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let out = vigie()
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", &port])
        .output()
        .unwrap();
    let said = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{said}");
    let error = said
        .lines()
        .find(|l| l.starts_with("vigie: error"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        error.starts_with("vigie: error: port already in use") && error.contains(&port),
        "{said}"
    );
    assert!(!said.contains("cannot be rebuilt"), "{said}");
    assert!(!said.contains("rebuilding the live scope"), "{said}");
}

/// A token refused for its scope is told which scope the request needs.
#[test]
fn a_refusal_names_the_scope_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ingest = token(&data, "ingest");
    let read = token(&data, "read");
    let server = start(&data);
    let (status, body) = get(&server.base, "/api/v1/tokens", Some(&read));
    assert_eq!(status, 403);
    assert!(
        body.contains("scope (read) does not allow it: needs scope admin"),
        "{body}"
    );
    let (status, body) = get(&server.base, "/api/v1/stats", Some(&ingest));
    assert_eq!(status, 403);
    assert!(body.contains("needs scope read"), "{body}");
}

/// Filebeat 8 with modules (its `fileset/pipelines.go`): `GET
/// /_nodes/ingest` for the processors its modules require, `GET
/// /_ingest/pipeline/ID` (200: already loaded), else `PUT` of the
/// pipeline; then `_bulk` with the pipeline named in each action. Each
/// answered as Elasticsearch would, so that it sends; the events kept
/// as sent (no pipeline is run).
#[test]
fn filebeat_modules_start_and_send() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ingest = token(&data, "ingest");
    let admin = token(&data, "admin");
    let server = start(&data);
    let auth = format!("Bearer {ingest}");
    let id = "filebeat-8.17.0-system-auth-pipeline";
    let mut resp = agent()
        .get(format!("{}/_nodes/ingest", server.base))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let nodes: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let types: Vec<&str> = nodes["nodes"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|n| n["ingest"]["processors"].as_array().unwrap())
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    // What the system and apache modules require.
    for required in ["geoip", "user_agent"] {
        assert!(types.contains(&required), "{nodes}");
    }
    let mut resp = agent()
        .get(format!("{}/_ingest/pipeline/{id}", server.base))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["X-Elastic-Product"], "Elasticsearch");
    let got: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert!(got[id].is_object(), "{got}");
    // `filebeat setup --pipelines` (overwrite): the PUT.
    let pipeline = serde_json::json!({
        "description": "Pipeline for parsing system authorization and secure logs",
        "processors": [{ "grok": { "field": "message", "patterns": ["%{GREEDYDATA:x}"] } }],
        "on_failure": [{ "set": { "field": "error.message", "value": "{{ _ingest.on_failure_message }}" } }]
    });
    let mut resp = agent()
        .put(format!("{}/_ingest/pipeline/{id}", server.base))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(pipeline.to_string().as_bytes())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let put: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(put["acknowledged"], true);
    // Not without a token.
    let (status, _) = get(&server.base, &format!("/_ingest/pipeline/{id}"), None);
    assert_eq!(status, 401);
    let action = format!("{{\"create\":{{\"_index\":\"filebeat-8.17.0\",\"pipeline\":\"{id}\"}}}}");
    let doc = "{\"@timestamp\":\"2026-12-06T10:00:00Z\",\"message\":\"Dec  6 10:00:00 srv sshd[1]: Accepted password for root\",\"fileset\":{\"name\":\"auth\"},\"event\":{\"module\":\"system\"}}";
    let body = format!("{action}\n{doc}\n{action}\n{doc}\n");
    let (status, r) = post(
        &server.base,
        "/_bulk",
        Some(&ingest),
        body.as_bytes(),
        false,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["errors"], false, "{r}");
    processed(&server.base, &admin, 2);
    assert_eq!(
        stats(&server.base, &admin)["events_stored"].as_u64(),
        Some(2)
    );
}
