//! Communes with an assets file each (`vigie serve --assets DIR`, issue
//! 16: "each commune is a tenant with its assets file"), through the
//! binary: the demo's events under `default`, read with the demo's
//! assets file (its services, the CIAS down); another commune's events
//! under its own tenant, read with its own file — its services on its
//! board and its public page, none of the demo's, and the other way
//! round.

mod common;

use common::console::{
    add_admin, add_user_with, code, form, get_json as get, http, judged, send_logs, signed_in,
};
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
const THIRD: &str = "mairie-de-combrit";
const PASSWORD: &str = "une phrase de passe assez longue";

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
    // A third commune, without a file of its own.
    let third = send_logs(base, &token(&data, "ingest", THIRD), &only);
    judged(base, &admin, mine + other + third);

    let ours = get(base, "/api/v1/services", &admin);
    let ours_names = services(&ours);
    assert!(ours_names.contains(&"social-action".to_string()), "{ours}");
    assert!(!ours_names.contains(&"port-de-plaisance".to_string()));
    let board = get(base, &format!("/api/v1/services?tenant={OTHER}"), &admin);
    assert_eq!(services(&board), ["port-de-plaisance"], "{board}");
    // Without a file of its own: no service at all, never another's.
    let none = get(base, &format!("/api/v1/services?tenant={THIRD}"), &admin);
    assert!(services(&none).is_empty(), "{none}");
    // Their crisis cell's page shows their board.
    let out = add_user_with(&data, "Gwen", "crisis", PASSWORD, &["--tenant", OTHER]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gwen = signed_in(base, "Gwen", PASSWORD, "");
    let page = http(base, "GET", "/crisis", &[("Cookie", &gwen.cookie)], None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("port-de-plaisance") || page.body.contains("Capitainerie"));
    assert!(!page.body.contains("social-action") && !page.body.contains("CIAS"));
    // A deployment administrator looking at their page acts on their
    // board (the form carries the commune), not on ours.
    let totp = add_admin(&data, "Yves", PASSWORD);
    let yves = signed_in(base, "Yves", PASSWORD, &code(&totp));
    let page = http(
        base,
        "GET",
        &format!("/crisis?tenant={OTHER}"),
        &[("Cookie", &yves.cookie)],
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let action = format!("/api/v1/services/port-de-plaisance/status?tenant={OTHER}");
    assert!(page.body.contains(&action), "{}", page.body);
    let back = format!("/crisis?tenant={OTHER}");
    let body = form(&[
        ("csrf", &yves.csrf),
        ("status", "degraded"),
        ("reason", "Capitainerie en mode dégradé"),
        ("back", &back),
    ]);
    let r = http(
        base,
        "POST",
        &action,
        &[
            ("Cookie", &yves.cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&body),
    );
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some(back.as_str())),
        "{}",
        r.body
    );
    let board = get(base, &format!("/api/v1/services?tenant={OTHER}"), &admin);
    let harbour = &board["services"][0];
    assert_eq!(harbour["status"], "degraded", "{board}");
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

/// What every commune shares (audit log, metrics, rules, tokens, indicator
/// sources: the routes of `Access::Deployment`, enumerated) is refused to
/// a commune's administrator, token or account, and open to the
/// deployment's.
#[test]
fn a_communes_administrator_does_not_administer_the_deployment() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin", "default");
    let their_admin = token(&data, "admin", OTHER);
    let out = add_user_with(&data, "Bea", "admin", PASSWORD, &["--tenant", OTHER]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let totp = totp_rs::Totp::from_url(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"]);
    let server = spawn_serve(cmd);
    let base = &server.base;
    let bea = signed_in(base, "Bea", PASSWORD, &code(&totp));
    let deployment: Vec<_> = vigie_serve::ROUTES
        .iter()
        .filter(|(_, _, a)| {
            matches!(
                a,
                vigie_serve::Access::Deployment | vigie_serve::Access::SharedTriage
            )
        })
        .collect();
    assert!(deployment.len() >= 9, "{deployment:?}");
    for (method, path, _) in deployment {
        let path = path
            .replace("{rule}", "no-such-rule")
            .replace("{id}", "no-such-token")
            .replace("{source}", "no-such-source");
        let m = method.as_str();
        let r = http(
            base,
            m,
            &path,
            &[("Authorization", &their_admin)],
            Some(b"{}"),
        );
        assert_eq!(
            r.status, 403,
            "{m} {path} with a commune's admin token: {}",
            r.body
        );
        let r = http(
            base,
            m,
            &path,
            &[("Cookie", &bea.cookie), ("X-CSRF-Token", &bea.csrf)],
            Some(b"{}"),
        );
        assert_eq!(
            r.status, 403,
            "{m} {path} with a commune's admin account: {}",
            r.body
        );
        if m == "GET" && path != "/api/v1/indicators" {
            let r = http(base, m, &path, &[("Authorization", &admin)], None);
            // (A console page asks a token for a session: 400, not 403.)
            assert!(
                r.status == 200 || (r.status == 400 && !path.starts_with("/api/")),
                "{m} {path} with the deployment's admin token: {} {}",
                r.status,
                r.body
            );
        }
    }
    // Rules: a commune's administrator switches its own commune's only
    // (another's, or every tenant's, is 403; its own reaches the rule
    // lookup: 404 for a rule that is not there).
    for (body, status) in [
        (r#"{"enabled":false,"reason":"x","tenant":"default"}"#, 403),
        (r#"{"enabled":false,"reason":"x","tenant":"*"}"#, 403),
        (r#"{"enabled":false,"reason":"x"}"#, 404),
    ] {
        let r = http(
            base,
            "POST",
            "/api/v1/rules/no-such-rule/switch",
            &[
                ("Authorization", &their_admin),
                ("Content-Type", "application/json"),
            ],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    // Their commune is still theirs to read.
    let r = http(
        base,
        "GET",
        "/api/v1/stats",
        &[("Authorization", &their_admin)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["tenant"], OTHER);
}

/// The CSIRT switches a rule for one named commune from the `/rules`
/// page (a field the page gives the deployment's administrators only);
/// a commune turning on a rule the deployment turned off for everyone is
/// told 409, with who turned it off and why, never "already on".
#[test]
fn the_csirt_switches_a_rule_for_one_commune_from_the_page() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = token(&data, "admin", "default");
    let their_admin = token(&data, "admin", OTHER);
    let totp = add_admin(&data, "Yann", PASSWORD);
    let out = add_user_with(&data, "Bea", "admin", PASSWORD, &["--tenant", OTHER]);
    assert!(out.status.success());
    let bea_totp = totp_rs::Totp::from_url(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"]);
    let server = spawn_serve(cmd);
    let base = &server.base;
    let rules = get(base, "/api/v1/rules", &admin);
    let ids: Vec<String> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .take(2)
        .collect();
    let (one, two) = (&ids[0], &ids[1]);

    // The page: a commune field for the CSIRT's administrator, none for
    // a commune's.
    let yann = signed_in(base, "Yann", PASSWORD, &code(&totp));
    let page = http(base, "GET", "/rules", &[("Cookie", &yann.cookie)], None);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("id=\"for-{one}\"")),
        "the field"
    );
    assert!(page.body.contains("toutes les communes"), "said in French");
    let bea = signed_in(base, "Bea", PASSWORD, &code(&bea_totp));
    let theirs = http(base, "GET", "/rules", &[("Cookie", &bea.cookie)], None);
    assert_eq!(theirs.status, 200);
    assert!(theirs.body.contains(&format!("id=\"why-{one}\"")));
    assert!(!theirs.body.contains("id=\"for-"), "no commune field");

    // Sent as the browser sends the form: for that commune only.
    let r = http(
        base,
        "POST",
        &format!("/api/v1/rules/{one}/switch"),
        &[
            ("Cookie", &yann.cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&form(&[
            ("csrf", &yann.csrf),
            ("back", "/rules"),
            ("enabled", "false"),
            ("reason", "outil d'inventaire de Bénodet"),
            ("tenant", OTHER),
        ])),
    );
    assert!(
        r.status == 303 || r.status == 200,
        "{} {}",
        r.status,
        r.body
    );
    let for_them = get(base, &format!("/api/v1/rules?tenant={OTHER}"), &admin);
    let off: Vec<&str> = for_them["disabled_for_tenant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rule"].as_str().unwrap())
        .collect();
    assert_eq!(off, [one.as_str()], "{for_them}");
    assert_eq!(
        for_them["disabled"],
        serde_json::json!([]),
        "not everyone's"
    );
    // Left empty, the field means every commune.
    let r = http(
        base,
        "POST",
        &format!("/api/v1/rules/{two}/switch"),
        &[
            ("Cookie", &yann.cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&form(&[
            ("csrf", &yann.csrf),
            ("back", "/rules"),
            ("enabled", "false"),
            ("reason", "bruit partout"),
            ("tenant", ""),
        ])),
    );
    assert!(
        r.status == 303 || r.status == 200,
        "{} {}",
        r.status,
        r.body
    );
    let all = get(base, "/api/v1/rules", &admin);
    assert_eq!(all["disabled"][0]["rule"], two.as_str(), "{all}");

    // The commune turning that one on for itself: 409, with the reason.
    let r = http(
        base,
        "POST",
        &format!("/api/v1/rules/{two}/switch"),
        &[
            ("Authorization", &their_admin),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"enabled":true,"reason":"on en a besoin"}"#),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("every commune"), "{}", r.body);
    assert!(r.body.contains("bruit partout"), "who and why: {}", r.body);
    assert!(!r.body.contains("already"), "{}", r.body);
}
