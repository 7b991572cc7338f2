//! `vigie actions` through the binary, on the demo's incident: the plan in
//! the four formats, and the exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

fn vigie(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .env("LANG", "fr_FR.UTF-8")
        .output()
        .expect("run vigie")
}

/// `vigie demo` once: its scope and assets file.
fn demo() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static D: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    D.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = vigie(&[
            "demo",
            "--dir",
            dir.path().to_str().unwrap(),
            "-q",
            "--lang",
            "fr",
        ]);
        assert!(
            dir.path().join("scope.json").exists(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let scope = dir.path().join("scope.json");
        let assets = dir.path().join("scenario/assets.yml");
        (dir, scope, assets)
    })
}

fn actions(format: &str, extra: &[&str]) -> Output {
    let (_, scope, assets) = demo();
    let mut args = vec![
        "actions",
        "--scope",
        scope.to_str().unwrap(),
        "--assets",
        assets.to_str().unwrap(),
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    vigie(&args)
}

#[test]
fn the_plan_prints_in_json_with_impact_and_rollback() {
    let out = actions("json", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ps = v["proposals"].as_array().unwrap();
    assert!(ps.len() >= 20);
    assert_eq!(ps[0]["kind"], "revoke_remote_access");
    assert_eq!(ps[0]["phase"], "perimeter");
    let fic = ps.iter().find(|p| p["target"] == "SRV-FIC01").unwrap();
    let names: Vec<&str> = fic["impact"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"social-action"), "{names:?}");
    assert_eq!(fic["four_eyes"], true);
    assert!(!fic["undo"].as_str().unwrap().is_empty());
    assert!(!fic["evidence"].as_array().unwrap().is_empty());
}

#[test]
fn the_plan_prints_for_people_powershell_and_fortigate() {
    let text = actions("text", &[]);
    assert_eq!(text.status.code(), Some(0));
    let t = String::from_utf8(text.stdout).unwrap();
    assert!(t.contains("== périmètre et accès distants =="), "{t}");
    assert!(t.contains("social-action"));
    assert!(t.contains("[double validation]"));

    let ps = actions("powershell", &["--responders", "10.0.0.50"]);
    assert_eq!(
        ps.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ps.stderr)
    );
    let p = String::from_utf8(ps.stdout).unwrap();
    assert!(p.contains("Disable-ADAccount -Identity 'presta.maint'"));
    assert!(p.contains("-RemoteAddress '0.0.0.0-10.0.0.49', '10.0.0.51-255.255.255.255'"));
    // Without responders, no isolation is generated, and it says why.
    let bare = String::from_utf8(actions("powershell", &[]).stdout).unwrap();
    assert!(!bare.contains("New-NetFirewallRule"));
    assert!(bare.contains("--responders"));

    let fg = actions("fortigate", &[]);
    assert_eq!(fg.status.code(), Some(0));
    let f = String::from_utf8(fg.stdout).unwrap();
    assert!(
        f.contains("config user local\n    edit \"presta.maint\"\n        set status disable\n")
    );
    assert!(f.contains("set subnet 203.0.113.45 255.255.255.255"));
}

#[test]
fn usage_errors_exit_2() {
    let (_, _, assets) = demo();
    let missing = vigie(&[
        "actions",
        "--scope",
        "/nonexistent/scope.json",
        "--assets",
        assets.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("scope"));
    let bad = actions("json", &["--responders", "not-an-address"]);
    assert_eq!(bad.status.code(), Some(2));
}
