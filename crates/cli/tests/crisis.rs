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
    let pool = service(&board, "pool");
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

// ---------------------------------------------------------------------
// The crisis cell inside `vigie serve`, through the binary: the board
// derived live from the demo's events (the same statuses as `vigie status
// board` on the same scope), a `crisis` user changing a status and a
// `communication` user publishing a notice in a real headless Chromium,
// the public `/status` page and its feed showing both, the refusals, the
// audit log, no internal name on the public page, axe-core on it served
// live, and everything still there after a restart.

mod common;

use common::console::{
    add_cell_users, board_service as service, browser_sign_in_as, french_browser, get_json, http,
    judged, send_logs, signed_in, start_with, token, Person, ALAN, ALAN_PW, CLAIRE, CLAIRE_PW,
    CORENTIN, CORENTIN_PW, VERA, VERA_PW,
};
use common::server::{make_demo, Server};

fn serve(data: &Path, assets: &Path) -> Server {
    start_with(data, &["--assets".as_ref(), assets.as_os_str()])
}

fn status_of(board: &serde_json::Value, id: &str) -> String {
    service(board, id)["status"].as_str().unwrap().to_string()
}

/// Every internal name of the scope a public page must not show: hosts
/// (their FQDNs and addresses), accounts, addresses, domains, rules.
/// `text` without the Atom entries' `urn:uuid:` ids: hashes of each
/// update's time and text, whose hex digits spell a host like `dc01` now
/// and then (the test then failed by chance, not for a name shown).
fn without_atom_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("urn:uuid:") {
        out.push_str(&rest[..at]);
        let id = &rest[at + "urn:uuid:".len()..];
        let len = id
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .unwrap_or(id.len());
        out.push_str("urn:uuid:…");
        rest = &id[len..];
    }
    out.push_str(rest);
    out
}

fn internal_names(scope: &serde_json::Value) -> Vec<String> {
    let mut v = Vec::new();
    let strings = |x: &serde_json::Value| -> Vec<String> {
        x.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for h in scope["hosts"].as_array().unwrap() {
        v.push(h["name"].as_str().unwrap().to_string());
        v.extend(strings(&h["fqdns"]));
        v.extend(strings(&h["addresses"]));
    }
    for a in scope["accounts"].as_array().unwrap() {
        v.push(a["name"].as_str().unwrap().to_string());
        v.extend(strings(&a["source_addresses"]));
    }
    for a in scope["addresses"].as_array().unwrap() {
        v.push(a["address"].as_str().unwrap().to_string());
    }
    for d in scope["domains"].as_array().unwrap() {
        v.push(d["domain"].as_str().unwrap().to_string());
    }
    for r in scope["detections"]["rules"].as_array().unwrap() {
        v.push(r["title"].as_str().unwrap().to_string());
    }
    v.retain(|s| s.len() >= 3);
    v.sort();
    v.dedup();
    v
}

/// The public page when no person published anything: no attack, no
/// status, no alternative, not the static page's "hosted outside our
/// network"; every service listed, each "no information published".
fn nothing_published(page: &str, when: &str) {
    // The page's text as a reader sees it (its apostrophes are escaped).
    let page = &page.replace("&#39;", "'");
    for word in [
        "yberattaque",
        "hors de notre réseau",
        "En attendant",
        "nterruption",
        "interrompu",
    ] {
        assert!(!page.contains(word), "{when}: {word:?} on {page}");
    }
    assert!(
        page.contains("Aucune information n'a été publiée sur l'état des services."),
        "{when}: {page}"
    );
    for name in [
        "Action sociale (CIAS)",
        "Centre aquatique",
        "Passeports et cartes d'identité",
    ] {
        let li = public_service(page, name);
        assert!(
            li.contains("class=\"status s-none\"") && li.contains("Aucune information publiée"),
            "{when}: {li}"
        );
    }
    assert_eq!(
        page.matches("class=\"status s-").count(),
        page.matches("class=\"status s-none\"").count(),
        "{when}: a status nobody published"
    );
}

/// The `<li>` of a service on the public page, by its public name.
fn public_service<'a>(page: &'a str, name: &str) -> &'a str {
    let at = page
        .find(&format!("<h4>{name}</h4>"))
        .unwrap_or_else(|| panic!("{name} on the page"));
    let end = page[at..].find("</li>").unwrap() + at;
    &page[at..end]
}

fn person_post(base: &str, p: &Person, path: &str, body: &serde_json::Value) -> u16 {
    http(
        base,
        "POST",
        path,
        &[
            ("Cookie", &p.cookie),
            ("X-CSRF-Token", &p.csrf),
            ("Content-Type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    )
    .status
}

#[test]
fn the_crisis_cell_live_board_notices_and_public_page_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let demo = make_demo(tmp.path());
    let assets = demo.join("scenario/assets.yml");
    add_cell_users(&data);
    let ingest = token(&data, "ingest");
    let read = token(&data, "read");
    let admin = token(&data, "admin");
    let server = serve(&data, &assets);
    let base = server.base.clone();

    // Before any event: the page is open, French, and says nothing was
    // published — never "operational" on nothing read, never an attack.
    let r = http(&base, "GET", "/status", &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .starts_with("default-src 'none'"));
    assert!(r.body.contains("<html lang=\"fr\">") && !r.body.contains("<script"));
    nothing_published(&r.body, "before any event");
    assert_eq!(
        http(&base, "GET", "/status/nulle-part", &[], None).status,
        404,
        "a tenant that does not exist"
    );

    // The demo's events, as a shipper sends them.
    let sent = send_logs(&base, &ingest, &demo.join("scenario/logs"));
    judged(&base, &admin, sent);

    // What detections derive stays the cell's: with the demo's attack
    // detected and nothing published, the public page (and its feed and
    // history) still says nothing of an attack, nor any status.
    assert_eq!(
        get_json(&base, "/api/v1/notices", &read)["incidents"],
        serde_json::json!([])
    );
    nothing_published(
        &http(&base, "GET", "/status", &[], None).body,
        "after the attack's events",
    );
    for path in ["/status/feed.atom", "/status/history"] {
        let body = http(&base, "GET", path, &[], None).body;
        for word in ["yberattaque", "nterruption", "hors de notre réseau"] {
            assert!(!body.contains(word), "{path}: {word:?} unpublished");
        }
    }
    // The cell's board carries the derived status as a proposal.
    let claire = signed_in(&base, CLAIRE, CLAIRE_PW, "");
    let cell = http(&base, "GET", "/crisis", &[("Cookie", &claire.cookie)], None).body;
    assert!(cell.contains("Non publié : la page publique n'affiche pas d'état"));
    // The incidents page names each incident by its live id only, in
    // the answer's text too (it said « voir INC-2 » beside L2, L3).
    let alan = signed_in(&base, ALAN, ALAN_PW, "");
    let page = http(
        &base,
        "GET",
        "/incidents",
        &[("Cookie", &alan.cookie)],
        None,
    );
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("INC-"), "{}", page.body);

    // The board, live: the domain controllers are compromised, so the
    // CIAS and the aquatic centre are in major outage; the State's
    // passport station, on its own line and never reached, works.
    let board = get_json(&base, "/api/v1/services", &read);
    assert_eq!(status_of(&board, "social-action"), "major_outage");
    assert_eq!(status_of(&board, "pool"), "major_outage");
    assert_eq!(status_of(&board, "passports-id-cards"), "operational");
    // The same statuses as `vigie status board` on the same scope.
    let scope = get_json(&base, "/api/v1/scope", &read);
    std::fs::write(tmp.path().join("scope.json"), scope.to_string()).unwrap();
    let offline = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["status", "board", "--format", "json", "--scope"])
        .arg(tmp.path().join("scope.json"))
        .arg("--assets")
        .arg(&assets)
        .output()
        .unwrap();
    let offline: serde_json::Value = serde_json::from_slice(&ok(&offline).into_bytes()).unwrap();
    let offline = offline["services"].as_array().unwrap();
    assert_eq!(offline.len(), board["services"].as_array().unwrap().len());
    for s in offline {
        let id = s["service"].as_str().unwrap();
        assert_eq!(
            s["status"].as_str().unwrap(),
            status_of(&board, id),
            "{id}: the static board and the live one"
        );
    }

    // A crisis user, in Chromium: signs in, sets the aquatic centre to
    // degraded with a reason.
    let reason = "Ouvert, paiement en espèces uniquement";
    let extra = "Permanence téléphonique le samedi matin.";
    if let Some(bin) = vigie_testkit::cdp::chromium_or_skip() {
        let mut b = french_browser(&bin, &tmp.path().join("chromium"));
        b.viewport(390, 844, true);
        let sign_in_as = |b: &mut vigie_testkit::cdp::Browser, who: &str, pw: &str, page: &str| {
            browser_sign_in_as(b, &base, who, pw, page)
        };
        sign_in_as(&mut b, CLAIRE, CLAIRE_PW, "/crisis");
        b.wait_for("!!document.querySelector('tr[data-service=\"pool\"] form')");
        assert_eq!(b.eval("document.documentElement.lang"), "fr");
        assert_eq!(
            b.eval("document.querySelector('tr[data-service=\"pool\"]').dataset.status"),
            "major_outage"
        );
        b.eval(&format!(
            "const f = document.querySelector('tr[data-service=\"pool\"] form'); f.querySelector('select').value = 'degraded'; f.querySelector('input[name=reason]').value = {}; f.submit(); true",
            serde_json::to_string(reason).unwrap()
        ));
        b.wait_for("location.pathname === '/crisis' && document.querySelector('tr[data-service=\"pool\"]').dataset.status === 'degraded'");
        let row = b.eval("document.querySelector('tr[data-service=\"pool\"]').textContent");
        assert!(row.as_str().unwrap().contains(reason), "{row}");
        assert!(row.as_str().unwrap().contains(CLAIRE), "{row}");
        b.eval("document.querySelector('header form button').click(); true");
        b.wait_for("location.pathname === '/login'");

        // A communication user: the board is not theirs; the notice form
        // fills the CIAS's text from its template, edited, published.
        sign_in_as(
            &mut b,
            CORENTIN,
            CORENTIN_PW,
            "/crisis/notices?template=service_alternative&service=social-action",
        );
        b.wait_for("!!document.querySelector('#publish')");
        let text = b.eval("document.querySelector('#text').value");
        let text = text.as_str().unwrap();
        assert!(
            text.starts_with("Action sociale (CIAS) : interruption majeure.")
                && text.contains("02 61 91 00 12"),
            "{text}"
        );
        assert!(b
            .eval("document.querySelector('#text_en').value")
            .as_str()
            .unwrap()
            .contains("Call 02 61 91 00 12"));
        b.eval(&format!(
            "document.querySelector('#title').value = 'Cyberattaque : services perturbés'; document.querySelector('#text').value += ' ' + {}; document.querySelector('#publish').submit(); true",
            serde_json::to_string(extra).unwrap()
        ));
        b.wait_for("location.pathname === '/crisis/notices' && document.querySelectorAll('article.notice').length === 1");
        // The board names hosts: not the communication role's.
        b.open_url(&format!("{base}/crisis"));
        let refused = b.eval("document.body.textContent");
        assert!(
            refused
                .as_str()
                .unwrap()
                .contains("the role communication does not allow it"),
            "{refused}"
        );
        assert!(
            b.console.iter().all(|m| !m.starts_with("exception")),
            "{:?}",
            b.console
        );
    } else {
        // Without Chromium, the same through HTTP forms.
        let claire = signed_in(&base, CLAIRE, CLAIRE_PW, "");
        assert_eq!(
            person_post(
                &base,
                &claire,
                "/api/v1/services/pool/status",
                &serde_json::json!({"status": "degraded", "reason": reason})
            ),
            200
        );
        let corentin = signed_in(&base, CORENTIN, CORENTIN_PW, "");
        assert_eq!(
            person_post(
                &base,
                &corentin,
                "/api/v1/notices",
                &serde_json::json!({"title": "Cyberattaque : services perturbés", "text": format!("Action sociale (CIAS) : interruption majeure. Appelez le 02 61 91 00 12. {extra}"), "service": "social-action"})
            ),
            200
        );
    }

    // Who may not: a viewer, an analyst, a communication user on the
    // board, a read token; a change without a reason.
    let change = serde_json::json!({"status": "operational", "reason": "essai"});
    let notice = serde_json::json!({"title": "x", "text": "y"});
    for (who, pw) in [(VERA, VERA_PW), (ALAN, ALAN_PW)] {
        let p = signed_in(&base, who, pw, "");
        assert_eq!(
            person_post(&base, &p, "/api/v1/services/pool/status", &change),
            403,
            "{who}"
        );
        assert_eq!(
            person_post(&base, &p, "/api/v1/notices", &notice),
            403,
            "{who}"
        );
        let r = http(
            &base,
            "GET",
            "/api/v1/services",
            &[("Cookie", &p.cookie)],
            None,
        );
        assert_eq!(r.status, 200, "{who} reads the board");
    }
    let corentin = signed_in(&base, CORENTIN, CORENTIN_PW, "");
    assert_eq!(
        person_post(&base, &corentin, "/api/v1/services/pool/status", &change),
        403
    );
    assert_eq!(
        http(
            &base,
            "GET",
            "/api/v1/services",
            &[("Cookie", &corentin.cookie)],
            None,
        )
        .status,
        403
    );
    let r = http(
        &base,
        "POST",
        "/api/v1/services/pool/status",
        &[("Authorization", &read)],
        Some(change.to_string().as_bytes()),
    );
    assert_eq!(r.status, 403);
    let claire = signed_in(&base, CLAIRE, CLAIRE_PW, "");
    let r = http(
        &base,
        "POST",
        "/api/v1/services/pool/status",
        &[
            ("Cookie", &claire.cookie),
            ("X-CSRF-Token", &claire.csrf),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"status": "operational", "reason": "  "}"#),
    );
    assert_eq!(r.status, 400, "a reason is required: {}", r.body);
    assert_eq!(
        person_post(&base, &claire, "/api/v1/services/piscine/status", &change),
        404
    );
    // The crisis cell edits notices too (issue 13): a template, filled in
    // on the page; and a text naming a server, whose name never shows.
    let notices = get_json(&base, "/api/v1/notices", &read);
    let incident = notices["incidents"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        person_post(
            &base,
            &claire,
            "/api/v1/notices",
            &serde_json::json!({"incident": incident, "template": "postpone_non_urgent"})
        ),
        200
    );
    assert_eq!(
        person_post(
            &base,
            &claire,
            "/api/v1/notices",
            &serde_json::json!({"incident": incident, "text": "Le serveur SRV-FIC01 est arrêté.", "phase": "identified"})
        ),
        200
    );

    // The drafts, from the live scope: the CNIL notification names the
    // CIAS social files with the assets file's counts, as `vigie draft
    // cnil` does; HTML and Markdown; the crisis cell's and admins' only.
    let get_as = |p: &Person, path: &str| http(&base, "GET", path, &[("Cookie", &p.cookie)], None);
    let page = get_as(&claire, "/crisis/drafts?known_at=2026-01-17%2008:30");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Notification à la CNIL"));
    assert!(page.body.contains("id=\"deadlines\""));
    let cnil = get_as(&claire, "/crisis/drafts/cnil?known_at=2026-01-17%2008:30");
    assert_eq!(cnil.status, 200);
    assert!(cnil.body.contains("contenteditable=\"true\""));
    for needle in ["CIAS (Dossiers sociaux du CIAS)", "environ 3\u{202f}400"] {
        assert!(cnil.body.contains(needle), "{needle}");
    }
    let md = get_as(
        &claire,
        "/crisis/drafts/cnil?format=md&known_at=2026-01-17%2008:30",
    );
    assert_eq!(
        md.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    assert!(md.body.contains("CIAS (Dossiers sociaux du CIAS)"));
    assert!(get_as(&claire, "/crisis/drafts/plainte?lang=en")
        .body
        .contains("lang=\"en\""));
    for p in [&signed_in(&base, VERA, VERA_PW, ""), &corentin] {
        assert_eq!(get_as(p, "/crisis/drafts/cnil").status, 403);
    }

    // The public page and its feed show both, with their times.
    let page = http(&base, "GET", "/status", &[], None).body;
    assert!(public_service(&page, "Centre aquatique").contains("s-degraded"));
    // The CIAS's major outage was derived, never set: not on the page
    // (the notice the communication user published speaks of it).
    assert!(public_service(&page, "Action sociale (CIAS)").contains("s-none"));
    assert!(!page.contains("class=\"status s-major_outage\""));
    assert!(page.contains("Cyberattaque : services perturbés"));
    assert!(page.contains(extra), "the published text");
    assert!(page.contains("Merci de reporter vos démarches non urgentes"));
    assert!(page.contains("Le serveur […] est arrêté."));
    assert!(page.contains("décision de la cellule de crise"));
    assert!(
        !page.contains(reason),
        "the reason is the cell's, not public"
    );
    let feed = http(&base, "GET", "/status/feed.atom", &[], None);
    assert_eq!(feed.header("content-type"), Some("application/atom+xml"));
    let parsed = atom_entries(&feed.body);
    let now = chrono::Utc::now();
    for (what, entry) in [
        (
            "the notice",
            parsed.iter().find(|(_, c, _)| c.contains(extra)),
        ),
        (
            "the status change",
            parsed
                .iter()
                .find(|(t, _, _)| t == "Centre aquatique : Dégradé"),
        ),
    ] {
        let (_, _, updated) = entry.unwrap_or_else(|| panic!("{what} in the feed"));
        let t = chrono::DateTime::parse_from_rfc3339(updated).unwrap();
        assert!(
            (now - t.with_timezone(&chrono::Utc)).num_minutes() < 30,
            "{what}: its time, {updated}"
        );
    }
    let en = http(&base, "GET", "/status?lang=en", &[], None).body;
    assert!(en.contains("<html lang=\"en\">") && en.contains("Aquatic centre"));
    assert!(public_service(&en, "Aquatic centre").contains("s-degraded"));
    let history = http(&base, "GET", "/status/history", &[], None).body;
    assert!(history.contains("Centre aquatique") && history.contains("Historique"));

    // Nothing internal on any public document.
    let names = internal_names(&scope);
    assert!(names.iter().any(|n| n == "SRV-FIC01"), "{names:?}");
    for path in [
        "/status",
        "/status?lang=en",
        "/status/feed.atom",
        "/status/feed.atom?lang=en",
        "/status/history",
        "/status/history?lang=en",
    ] {
        let text = without_atom_ids(&http(&base, "GET", path, &[], None).body.to_lowercase());
        for n in &names {
            assert!(
                !text.contains(&n.to_lowercase()),
                "{path} shows the internal name {n:?}"
            );
        }
    }

    // The audit log: each change with who and when.
    let audit = http(
        &base,
        "GET",
        "/api/v1/audit",
        &[("Authorization", &admin)],
        None,
    );
    assert_eq!(audit.status, 200);
    let entries: Vec<serde_json::Value> = audit
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |who: &str, action: &str, target: &str| {
        entries
            .iter()
            .find(|e| {
                e["who"] == who
                    && e["action"] == action
                    && e["outcome"] == "success"
                    && e["target"].as_str().unwrap().contains(target)
            })
            .unwrap_or_else(|| panic!("{who} {action} {target} in the audit log"))
            .clone()
    };
    for e in [
        find(CLAIRE, "service_status", "default/service:pool=degraded"),
        find(CORENTIN, "notice_publish", "default/notice:"),
        find(CLAIRE, "notice_publish", &incident),
    ] {
        let t = chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap()).unwrap();
        assert!(
            (now - t.with_timezone(&chrono::Utc)).num_minutes() < 30,
            "{e}"
        );
    }

    // axe-core on the page served live, at two widths, in two languages.
    axe_live(&base, tmp.path());

    // After a restart: the same statuses set and notices, with who.
    drop(server);
    let server = serve(&data, &assets);
    let base = server.base.clone();
    let board = get_json(&base, "/api/v1/services", &read);
    let pool = service(&board, "pool");
    assert_eq!(pool["status"], "degraded");
    assert_eq!(pool["overridden"]["author"], CLAIRE);
    assert_eq!(pool["overridden"]["reason"], reason);
    let notices = get_json(&base, "/api/v1/notices", &read);
    assert_eq!(notices["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(
        notices["incidents"][0]["updates"].as_array().unwrap().len(),
        3
    );
    assert_eq!(notices["incidents"][0]["updates"][0]["author"], CORENTIN);
}

/// (title, content, updated) of each entry of an Atom feed.
fn atom_entries(xml: &str) -> Vec<(String, String, String)> {
    let tag = |s: &str, t: &str| -> String {
        s.split(&format!("<{t}"))
            .nth(1)
            .and_then(|r| r.split_once('>'))
            .and_then(|(_, r)| r.split(&format!("</{t}>")).next())
            .unwrap_or("")
            .replace("&apos;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    xml.split("<entry>")
        .skip(1)
        .map(|e| (tag(e, "title"), tag(e, "content"), tag(e, "updated")))
        .collect()
}

/// axe-core on `/status` (and its history) served live: no violation,
/// no console error, nothing loaded from elsewhere, no sideways scroll.
fn axe_live(base: &str, tmp: &Path) {
    let Some(tools) = vigie_testkit::axe::tools_or_skip() else {
        return;
    };
    let mut pages = Vec::new();
    for (lang, q) in [("fr", ""), ("en", "?lang=en")] {
        for (form, w, h) in [("desktop", 1280, 900), ("phone", 390, 844)] {
            pages.push(serde_json::json!({
                "name": format!("status {lang} {form}"),
                "url": format!("{base}/status{q}"),
                "width": w, "height": h,
            }));
        }
        pages.push(serde_json::json!({
            "name": format!("history {lang} phone"),
            "url": format!("{base}/status/history{q}"),
            "width": 390, "height": 844,
        }));
    }
    let results = vigie_testkit::axe::run(&tools, pages, tmp);
    assert_eq!(results.len(), 6);
    let problems: Vec<String> = results
        .iter()
        .flat_map(|r| {
            let lang = if r["name"].as_str().unwrap().contains(" fr ") {
                "fr"
            } else {
                "en"
            };
            vigie_testkit::axe::problems(r, lang)
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
