//! Communes with an assets file each (`vigie serve --assets DIR`, issue
//! 16: "each commune is a tenant with its assets file"), through the
//! binary: the demo's events under `default`, read with the demo's
//! assets file (its services, the CIAS down); another commune's events
//! under its own tenant, read with its own file — its services on its
//! board and its public page, none of the demo's, and the other way
//! round.

mod common;

use common::console::{get_json as get, http, judged, send_logs};
use common::server::{make_demo, spawn_serve};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn token(data: &Path, scope: &str, tenant: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--scope", scope, "--tenant", tenant])
        .output()
        .unwrap();
    assert!(out.status.success());
    format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
}

fn services(board: &Value) -> Vec<String> {
    board["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap().to_string())
        .collect()
}

const OTHER: &str = "mairie-de-benodet";

#[test]
fn each_commune_reads_its_own_assets_file() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = make_demo(tmp.path());
    let dir = tmp.path().join("assets");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(demo.join("scenario/assets.yml"), dir.join("default.yml")).unwrap();
    std::fs::write(
        dir.join(format!("{OTHER}.yaml")),
        "organisation: Mairie de Bénodet\n\
         hosts:\n\
         \x20 - name: BEN-SRV01\n\
         \x20   role: file_server\n\
         \x20   services: [port-de-plaisance]\n\
         services:\n\
         \x20 - name: port-de-plaisance\n\
         \x20   public_name: {fr: Capitainerie, en: Harbour office}\n",
    )
    .unwrap();
    // Not an assets file: ignored.
    std::fs::write(dir.join("README.txt"), "one file per commune\n").unwrap();

    let data = tmp.path().join("data");
    let admin = token(&data, "admin", "default");
    let theirs = token(&data, "ingest", OTHER);
    let their_admin = token(&data, "admin", OTHER);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--assets"])
        .arg(&dir);
    let server = spawn_serve(cmd);
    assert!(
        server.said.iter().any(|l| l.ends_with(&format!(
            "assets per commune from {}: default, {OTHER}",
            dir.display()
        ))),
        "{:?}",
        server.said
    );
    let base = &server.base;
    let mine = send_logs(base, &admin, &demo.join("scenario/logs"));
    // The other commune sends one domain controller's log of the demo:
    // its own events, read with its own file.
    let only = tmp.path().join("benodet");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::copy(
        demo.join("scenario/logs/DC01/Security.jsonl"),
        only.join("Security.jsonl"),
    )
    .unwrap();
    let other = send_logs(base, &theirs, &only);
    judged(base, &admin, mine + other);

    let ours = get(base, "/api/v1/services", &admin);
    let ours_names = services(&ours);
    assert!(ours_names.contains(&"social-action".to_string()), "{ours}");
    assert!(!ours_names.contains(&"port-de-plaisance".to_string()));
    let board = get(base, &format!("/api/v1/services?tenant={OTHER}"), &admin);
    assert_eq!(services(&board), ["port-de-plaisance"], "{board}");
    // Their admin token reads their board, and not ours.
    assert_eq!(
        services(&get(base, "/api/v1/services", &their_admin)),
        ["port-de-plaisance"]
    );
    let r = http(
        base,
        "GET",
        "/api/v1/services?tenant=default",
        &[("Authorization", &their_admin)],
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Their public page names their service, never ours.
    let page = http(base, "GET", &format!("/status/{OTHER}"), &[], None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Capitainerie"), "{}", page.body);
    assert!(!page.body.contains("CIAS"), "{}", page.body);
    let ours_page = http(base, "GET", "/status", &[], None);
    assert!(ours_page.body.contains("CIAS"));
    assert!(!ours_page.body.contains("Capitainerie"));
}
