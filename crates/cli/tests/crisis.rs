//! The crisis cell's commands as a user runs them, after `vigie hunt` on
//! the reference scenario: `vigie status export|board`, `vigie draft`,
//! `vigie crisis-log`, their outputs, their errors and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn vigie(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(dir)
        .env("LANG", "C.UTF-8")
        .output()
        .expect("run vigie")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn status_page_drafts_and_crisis_log_from_a_hunt() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = vigie_scenario::generate(
        &vigie_scenario::ScenarioConfig::default(),
        &d.join("scenario"),
    )
    .unwrap();
    let hunt = vigie(
        &[
            "hunt",
            g.logs_dir.to_str().unwrap(),
            "--assets",
            g.assets.to_str().unwrap(),
            "--scope",
            "scope.json",
            "--output",
            "timeline.jsonl",
            "-q",
        ],
        d,
    );
    assert_eq!(
        hunt.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&hunt.stderr)
    );
    let assets = g.assets.to_str().unwrap();
    let common = [
        "--scope",
        "scope.json",
        "--assets",
        assets,
        "--known-at",
        "2026-01-17 08:30",
        "--now",
        "2026-01-17T12:00:00+01:00",
    ];

    // The static status page, French at the root, English beside it.
    let mut args = vec!["status", "export", "--out", "site"];
    args.extend(common);
    let out = ok(&vigie(&args, d));
    assert_eq!(out.lines().count(), 4, "{out}");
    let index = std::fs::read_to_string(d.join("site/index.html")).unwrap();
    assert!(index.contains("<html lang=\"fr\">") && index.contains("Action sociale (CIAS)"));
    assert!(!index.contains("SRV-FIC01") && !index.contains("presta.maint"));
    assert!(std::fs::read_to_string(d.join("site/en/index.html"))
        .unwrap()
        .contains("<html lang=\"en\">"));
    assert!(std::fs::read_to_string(d.join("site/feed.atom"))
        .unwrap()
        .contains("<feed xmlns=\"http://www.w3.org/2005/Atom\""));

    // --lang en puts English at the root.
    let mut args = vec!["status", "export", "--out", "site-en", "--lang", "en"];
    args.extend(common);
    ok(&vigie(&args, d));
    assert!(std::fs::read_to_string(d.join("site-en/index.html"))
        .unwrap()
        .contains("<html lang=\"en\">"));

    // The crisis cell's override, then the board as JSON.
    std::fs::write(
        d.join("overrides.yml"),
        "overrides:\n  - service: pool\n    status: degraded\n    reason: Ouvert, paiement en espèces\n    author: DGS\n    at: 2026-01-17T11:00:00+01:00\n",
    )
    .unwrap();
    let mut args = vec![
        "status",
        "board",
        "--format",
        "json",
        "--overrides",
        "overrides.yml",
    ];
    args.extend(common);
    let board: serde_json::Value = serde_json::from_str(&ok(&vigie(&args, d))).unwrap();
    let pool = board["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "pool")
        .unwrap();
    assert_eq!(pool["status"], "degraded");
    assert_eq!(pool["derived"]["status"], "major_outage");
    assert_eq!(pool["history"][1]["author"], "DGS");

    // An override of a service that does not exist: exit 2, with why.
    std::fs::write(
        d.join("bad.yml"),
        "overrides:\n  - service: piscine\n    status: degraded\n    reason: x\n    author: DGS\n    at: 2026-01-17T11:00:00+01:00\n",
    )
    .unwrap();
    let mut args = vec!["status", "export", "--out", "x", "--overrides", "bad.yml"];
    args.extend(common);
    let o = vigie(&args, d);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("'piscine' is not in the assets file"));

    // Drafts: stdout by default, the file's extension chooses Markdown.
    let mut args = vec!["draft", "cnil"];
    args.extend(common);
    let html = ok(&vigie(&args, d));
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("CIAS (Dossiers sociaux du CIAS)")
    );
    for kind in [
        "letter",
        "nis2-early",
        "nis2-notification",
        "nis2-final",
        "plainte",
    ] {
        let file = format!("{kind}.md");
        let mut args = vec![
            "draft",
            kind,
            "--out",
            &file,
            "--manifest",
            "timeline.jsonl.manifest.json",
        ];
        args.extend(common);
        ok(&vigie(&args, d));
        let md = std::fs::read_to_string(d.join(&file)).unwrap();
        assert!(md.starts_with("# "), "{kind}: {md}");
        assert!(md.contains("## Échéances légales"), "{kind}");
    }
    let plainte = std::fs::read_to_string(d.join("plainte.md")).unwrap();
    assert!(plainte.contains("SHA-256"));
    let mut args = vec!["draft", "deadlines"];
    args.extend(common);
    let dl = ok(&vigie(&args, d));
    assert!(
        dl.contains("2026-01-20 08:30 CET") && dl.contains("RGPD, art. 33"),
        "{dl}"
    );
    // Never over an input.
    let mut args = vec!["draft", "cnil", "--out", "scope.json"];
    args.extend(common);
    let o = vigie(&args, d);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing to overwrite"));
    // A scope that is not one.
    std::fs::write(d.join("notscope.json"), "{\"hello\": 1}").unwrap();
    let o = vigie(
        &[
            "draft",
            "cnil",
            "--scope",
            "notscope.json",
            "--assets",
            assets,
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid scope file"));

    // The crisis log: two entries, then CSV.
    ok(&vigie(
        &[
            "crisis-log",
            "add",
            "--log",
            "log.yml",
            "--kind",
            "information",
            "--author",
            "Accueil piscine",
            "--at",
            "2026-01-17 08:30",
            "Caisses",
            "bloquées",
        ],
        d,
    ));
    ok(&vigie(
        &[
            "crisis-log",
            "add",
            "--log",
            "log.yml",
            "--kind",
            "decision",
            "--author",
            "Président",
            "--at",
            "2026-01-17 09:10",
            "--ref",
            "CR-1",
            "Cellule de crise activée",
        ],
        d,
    ));
    let csv = ok(&vigie(
        &[
            "crisis-log",
            "export",
            "--log",
            "log.yml",
            "--format",
            "csv",
        ],
        d,
    ));
    assert_eq!(
        csv,
        "time,kind,author,text,refs\n2026-01-17T07:30:00Z,information,Accueil piscine,Caisses bloquées,\n2026-01-17T08:10:00Z,decision,Président,Cellule de crise activée,CR-1\n"
    );
    let o = vigie(
        &[
            "crisis-log",
            "add",
            "--log",
            "log.yml",
            "--kind",
            "rumeur",
            "--author",
            "x",
            "y",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(2));
}
