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

// Containment inside `vigie serve`, through the binary: the demo's events
// sent live, the plan proposed from the live scope, an analyst requests,
// a crisis-cell member approves (never their own request), the account
// disabled in a real Samba AD DC and read back, rolled back, the audit
// log and the crisis log with the four steps and their authors; and,
// where Vigie cannot act, the commands and "done by hand", the service
// board updated, the notice prepared and published by the communication
// role only.

mod common;
#[path = "../../respond/tests/common/samba.rs"]
mod samba;

use common::console::{
    add_cell_users, board_service as entry, get_json, http, judged, signed_in, start_with, token,
    Person, Resp, ALAN, ALAN_PW, CLAIRE, CLAIRE_PW, CORENTIN, CORENTIN_PW, VERA, VERA_PW,
};
use common::server::Server;
use serde_json::{json, Value};
use std::path::Path;

/// A live server on the demo's events, with an analyst, a crisis-cell
/// member, a communication officer and a viewer signed in.
struct Cell {
    server: Server,
    ingest: String,
    /// Events sent so far.
    sent: u64,
    data: std::path::PathBuf,
    read: String,
    admin: String,
    alan: Person,
    claire: Person,
    corentin: Person,
    vera: Person,
}

fn start(data: &Path, config: Option<&Path>) -> Server {
    let (_, _, assets) = demo();
    let mut more = vec!["--assets".as_ref(), assets.as_os_str()];
    if let Some(c) = config {
        more.extend(["--config".as_ref(), c.as_os_str()]);
    }
    start_with(data, &more)
}

/// The demo's logs of the hosts `held`, as files.
fn held_logs(held: &[&str]) -> Vec<std::path::PathBuf> {
    let (dir, _, _) = demo();
    held.iter()
        .flat_map(|h| common::server::jsonl_files(&dir.path().join("scenario/logs").join(h)))
        .collect()
}

/// Sends `files` as a shipper does; the events accepted.
fn send_files(base: &str, ingest: &str, files: &[std::path::PathBuf]) -> u64 {
    files
        .iter()
        .map(|p| {
            let r = http(
                base,
                "POST",
                "/api/v1/ingest",
                &[("Authorization", ingest)],
                Some(&std::fs::read(p).unwrap()),
            );
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["accepted"].as_u64().unwrap()
        })
        .sum()
}

/// [`Cell`] with the demo's events sent but those of the hosts `held`.
fn live_cell(tmp: &Path, config: Option<&Path>, held: &[&str]) -> Cell {
    let data = tmp.join("data");
    add_cell_users(&data);
    let ingest = token(&data, "ingest");
    let read = token(&data, "read");
    let admin = token(&data, "admin");
    let server = start(&data, config);
    let base = server.base.clone();
    let (dir, _, _) = demo();
    let held = held_logs(held);
    let all = common::server::jsonl_files(&dir.path().join("scenario/logs"));
    let now: Vec<_> = all.into_iter().filter(|p| !held.contains(p)).collect();
    let sent = send_files(&base, &ingest, &now);
    judged(&base, &admin, sent);
    Cell {
        ingest,
        sent,
        alan: signed_in(&base, ALAN, ALAN_PW, ""),
        claire: signed_in(&base, CLAIRE, CLAIRE_PW, ""),
        corentin: signed_in(&base, CORENTIN, CORENTIN_PW, ""),
        vera: signed_in(&base, VERA, VERA_PW, ""),
        server,
        data,
        read,
        admin,
    }
}

impl Cell {
    fn base(&self) -> &str {
        &self.server.base
    }

    fn get(&self, path: &str, auth: &str) -> Value {
        get_json(self.base(), path, auth)
    }

    fn actions(&self) -> Vec<Value> {
        self.get("/api/v1/actions", &self.read)["actions"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn action(&self, id: &str) -> Value {
        self.actions()
            .into_iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no action {id}"))
    }

    /// A step as the console's script would send it (JSON, CSRF header).
    fn step(&self, who: &Person, id: &str, step: &str, body: Value) -> Resp {
        http(
            self.base(),
            "POST",
            &format!("/api/v1/actions/{id}/{step}"),
            &[
                ("Cookie", &who.cookie),
                ("X-CSRF-Token", &who.csrf),
                ("Content-Type", "application/json"),
            ],
            Some(body.to_string().as_bytes()),
        )
    }

    /// The audit log's lines about action `id`: (action, who, outcome).
    fn audit(&self, id: &str) -> Vec<(String, String, String)> {
        let r = http(
            self.base(),
            "GET",
            "/api/v1/audit",
            &[("Authorization", &self.admin)],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| {
                e["target"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/action:{id} "))
            })
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_string(),
                    e["who"].as_str().unwrap().to_string(),
                    e["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// The crisis log's entries (main courante) about action `id`:
    /// (kind, author), from the crisis journal as kept on disk.
    fn crisis_log(&self, id: &str) -> Vec<(String, String, String)> {
        common::crisis_lines(&self.data)
            .into_iter()
            .filter(|l| l["record"]["kind"] == "log")
            .map(|l| l["record"]["entry"].clone())
            .filter(|e| e["refs"][0] == format!("action:{id}"))
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["author"].as_str().unwrap().to_string(),
                    e["text"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// The services an action's simulation names, with their status after it.
fn impact_of(a: &Value) -> Vec<(String, String)> {
    a["impact"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap().to_string(),
                s["after"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn trail(a: &Value) -> Vec<(String, String)> {
    a["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["what"].as_str().unwrap().to_string(),
                e["author"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The account as the directory holds it, read on a connection of its
/// own (StartTLS, the test's CA).
fn in_directory(dc: &samba::Dc, sam: &str) -> vigie_respond::ldap::AccountEntry {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = dc.target(&format!("ldap://{}", samba::ADDR), true);
        let mut d = vigie_respond::ldap::Directory::connect(&t, &samba::password())
            .await
            .expect("StartTLS bind");
        let e = d.account(sam).await.unwrap().expect("the account exists");
        d.close().await.unwrap();
        e
    })
}

#[test]
fn serve_disables_the_attackers_account_in_a_samba_dc_after_four_eyes_and_rolls_it_back() {
    let Some(mut dc) = samba::start_dc() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // The directory in the configuration file; its password in a file
    // (never on the command line).
    let pass = tmp.path().join("dc.pass");
    std::fs::write(&pass, format!("{}\n", samba::ADMIN_PASS)).unwrap();
    let config = tmp.path().join("vigie.toml");
    std::fs::write(
        &config,
        format!(
            "[respond.directory]\nurl = \"ldaps://{}\"\nbind = \"Administrator@{}\"\nca_file = {:?}\npassword_file = {:?}\n",
            samba::ADDR,
            samba::REALM.to_lowercase(),
            dc.ca(),
            pass
        ),
    )
    .unwrap();
    let cell = live_cell(tmp.path(), Some(&config), &[]);
    let base = cell.base().to_string();

    // The live plan holds the demo's accounts to disable, each needing
    // four eyes, proposed by Vigie.
    let actions = cell.actions();
    assert!(actions.len() >= 20, "{}", actions.len());
    let orders: Vec<u64> = actions
        .iter()
        .map(|a| a["order"].as_u64().unwrap())
        .collect();
    let mut sorted = orders.clone();
    sorted.sort();
    assert_eq!(orders, sorted, "in the sequence's order");
    let accounts: Vec<vigie_respond::Proposal> = actions
        .iter()
        .filter(|a| a["kind"] == "disable_account" || a["kind"] == "delete_account")
        .map(|a| serde_json::from_value(a.clone()).unwrap())
        .collect();
    assert!(accounts.len() >= 3, "{accounts:?}");
    let backdoor = accounts
        .iter()
        .find(|a| !a.groups.is_empty())
        .expect("an account the attacker added to a group")
        .clone();
    let id = backdoor.id.clone();
    let a = cell.action(&id);
    assert_eq!(a["state"], "proposed");
    assert_eq!(a["four_eyes"], true);
    assert_eq!(a["execution"], "ldap");
    assert_eq!(trail(&a), pairs(&[("proposed", "vigie")]));
    assert!(!a["evidence"].as_array().unwrap().is_empty());
    assert!(a["commands"]["powershell"]["apply"]
        .as_str()
        .unwrap()
        .contains("Disable-ADAccount"));

    // A commune of the deployment sends its domain controller's log:
    // its Active Directory is not the configured one (the deployment's),
    // so its account actions are carried out by hand, never there.
    let theirs = {
        let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["token", "create", "--data"])
            .arg(&cell.data)
            .args(["--scope", "ingest", "--tenant", "mairie-de-benodet"])
            .output()
            .unwrap();
        assert!(out.status.success());
        format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
    };
    let n = send_files(&base, &theirs, &held_logs(&["DC01"]));
    judged(&base, &cell.admin, cell.sent + n);
    let commune = cell.get("/api/v1/actions?tenant=mairie-de-benodet", &cell.admin);
    let list = commune["actions"].as_array().unwrap();
    assert!(
        list.iter().any(|a| a["kind"] == "disable_account"),
        "{commune}"
    );
    assert!(
        list.iter().all(|a| a["execution"] == "by_hand"),
        "{commune}"
    );

    // The directory as the attacker left it.
    dc.populate(&accounts);
    samba::wait_listening(&mut dc);
    assert!(!in_directory(&dc, &backdoor.target).disabled());

    // Who may not: a viewer (403), an analyst approving (403), approving
    // what nobody requested (409), executing before approval (409), a
    // step without the session's CSRF token (403).
    assert_eq!(cell.step(&cell.vera, &id, "request", json!({})).status, 403);
    assert_eq!(cell.step(&cell.alan, &id, "approve", json!({})).status, 403);
    assert_eq!(
        cell.step(&cell.claire, &id, "approve", json!({})).status,
        409
    );
    assert_eq!(cell.step(&cell.alan, &id, "execute", json!({})).status, 409);
    assert!(
        !in_directory(&dc, &backdoor.target).disabled(),
        "nothing done before approval"
    );
    let no_csrf = http(
        &base,
        "POST",
        &format!("/api/v1/actions/{id}/request"),
        &[
            ("Cookie", &cell.alan.cookie),
            ("Content-Type", "application/json"),
        ],
        Some(b"{}"),
    );
    assert_eq!(no_csrf.status, 403);

    // The analyst requests; the crisis cell approves; the analyst
    // executes: disabled in the directory, out of the attacker's group.
    let r = cell.step(
        &cell.alan,
        &id,
        "request",
        json!({"reason": "compte de la porte dérobée"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["action"]["state"], "requested");
    let r = cell.step(&cell.claire, &id, "approve", json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    // Two executions at once (a double click, two tabs): one is carried
    // out, the other refused once it sees the first's outcome.
    let (r, twin) = std::thread::scope(|t| {
        let a = t.spawn(|| cell.step(&cell.alan, &id, "execute", json!({})));
        let b = t.spawn(|| cell.step(&cell.alan, &id, "execute", json!({})));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (r, twin) = if r.status == 200 {
        (r, twin)
    } else {
        (twin, r)
    };
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(twin.status, 409, "{}", twin.body);
    let done = r.json()["action"].clone();
    assert_eq!(done["state"], "executed");
    let e = in_directory(&dc, &backdoor.target);
    assert!(e.disabled(), "disabled in the directory: {e:?}");
    assert!(e.member_of.is_empty(), "out of {:?}", e.member_of);
    assert!(done["trail"][3]["detail"]
        .as_str()
        .unwrap()
        .contains("userAccountControl"));

    // Rollback: one step, re-enabled in the directory.
    let r = cell.step(&cell.alan, &id, "rollback", json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["action"]["state"], "rolled_back");
    assert!(
        !in_directory(&dc, &backdoor.target).disabled(),
        "enabled again"
    );

    // The same person may not approve their own request (four-eyes),
    // whatever their role.
    let other = accounts.iter().find(|a| a.id != id).unwrap();
    assert_eq!(
        cell.step(&cell.claire, &other.id, "request", json!({}))
            .status,
        200
    );
    let own = cell.step(&cell.claire, &other.id, "approve", json!({}));
    assert_eq!(own.status, 403, "{}", own.body);
    assert!(own.body.contains("four-eyes"), "{}", own.body);

    // The four steps with their authors: in the trail, the audit log and
    // the crisis log.
    let a = cell.action(&id);
    assert_eq!(
        trail(&a),
        pairs(&[
            ("proposed", "vigie"),
            ("request", ALAN),
            ("approve", CLAIRE),
            ("execute", ALAN),
            ("roll_back", ALAN),
        ])
    );
    let audit = cell.audit(&id);
    let ok: Vec<(&str, &str)> = audit
        .iter()
        .filter(|(_, _, o)| o == "success")
        .map(|(a, w, _)| (a.as_str(), w.as_str()))
        .collect();
    assert_eq!(
        ok,
        vec![
            ("action_request", ALAN),
            ("action_approve", CLAIRE),
            ("action_execute", ALAN),
            ("action_roll_back", ALAN),
        ]
    );
    // The refusals are audited too.
    assert!(audit
        .iter()
        .any(|(a, w, o)| a == "action_approve" && w == CLAIRE && o == "refused"));
    assert!(cell
        .audit(&other.id)
        .iter()
        .any(|(a, w, o)| a == "action_approve" && w == CLAIRE && o == "refused"));
    let log = cell.crisis_log(&id);
    let who: Vec<(&str, &str)> = log
        .iter()
        .map(|(k, w, _)| (k.as_str(), w.as_str()))
        .collect();
    assert_eq!(
        who,
        vec![
            ("action", ALAN),
            ("decision", CLAIRE),
            ("action", ALAN),
            ("action", ALAN),
        ]
    );
    assert!(log[2].2.contains(&backdoor.target), "{}", log[2].2);

    // A directory that does not answer: the execution is recorded as
    // failed with the error, never as done.
    let third = accounts
        .iter()
        .find(|a| a.id != id && a.id != other.id)
        .unwrap();
    assert_eq!(
        cell.step(&cell.alan, &third.id, "request", json!({}))
            .status,
        200
    );
    assert_eq!(
        cell.step(&cell.claire, &third.id, "approve", json!({}))
            .status,
        200
    );
    let _ = dc.child.kill();
    let _ = dc.child.wait();
    let r = cell.step(&cell.alan, &third.id, "execute", json!({}));
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.json()["action"]["state"], "failed");
    let a = cell.action(&third.id);
    assert_eq!(a["state"], "failed");
    assert_eq!(
        a["trail"].as_array().unwrap().last().unwrap()["what"],
        "fail"
    );
    assert!(cell
        .audit(&third.id)
        .iter()
        .any(|(a, w, o)| a == "action_execute" && w == ALAN && o == "failure"));

    // Kept across a restart: the states and trails as they were.
    let data = cell.data.clone();
    let (read, alan_trail) = (cell.read.clone(), trail(&cell.action(&id)));
    drop(cell);
    let server = start(&data, Some(&config));
    let again = get_json(&server.base, "/api/v1/actions", &read);
    let a = again["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(a["state"], "rolled_back");
    assert_eq!(trail(&a), alan_trail);
}

#[test]
fn serve_where_vigie_cannot_act_gives_the_commands_takes_done_by_hand_updates_the_board_and_prepares_the_notice(
) {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("vigie.toml");
    std::fs::write(
        &config,
        "lang = \"fr\"\n[respond]\nresponders = [\"10.0.0.50\"]\n",
    )
    .unwrap();
    let mut cell = live_cell(tmp.path(), Some(&config), &["AQUA-CAISSE01"]);
    let base = cell.base().to_string();
    let fic = cell
        .actions()
        .into_iter()
        .find(|a| a["kind"] == "isolate_host" && a["target"] == "SRV-FIC01")
        .expect("the file server's isolation");
    let id = fic["id"].as_str().unwrap().to_string();
    assert_eq!(fic["execution"], "by_hand");
    let ps = &fic["commands"]["powershell"];
    assert!(
        ps["apply"]
            .as_str()
            .unwrap()
            .contains("New-NetFirewallRule"),
        "{ps}"
    );
    assert!(ps["apply"]
        .as_str()
        .unwrap()
        .contains("'0.0.0.0-10.0.0.49', '10.0.0.51-255.255.255.255'"));
    assert!(ps["rollback"]
        .as_str()
        .unwrap()
        .contains("Remove-NetFirewallRule"));
    let impact = impact_of(&fic);
    assert!(
        impact.iter().any(|(s, _)| s == "social-action"),
        "{impact:?}"
    );

    // The scope grows (the pool's till sends its logs late): the plan
    // gains its isolation, the actions already there keep their state
    // and trail.
    let before = cell.actions();
    assert!(!before.iter().any(|a| a["target"] == "AQUA-CAISSE01"));
    assert_eq!(cell.step(&cell.alan, &id, "request", json!({})).status, 200);
    let late = send_files(&base, &cell.ingest, &held_logs(&["AQUA-CAISSE01"]));
    cell.sent += late;
    judged(&base, &cell.admin, cell.sent);
    let after = cell.actions();
    assert!(
        after.iter().any(|a| a["kind"] == "isolate_host"
            && a["target"] == "AQUA-CAISSE01"
            && a["state"] == "proposed"),
        "{late} events later"
    );
    assert!(after.len() > before.len());
    let fic_now = cell.action(&id);
    assert_eq!(fic_now["state"], "requested");
    assert_eq!(
        trail(&fic_now),
        pairs(&[("proposed", "vigie"), ("request", ALAN)])
    );
    // What the board will be set to: the simulation as it is now.
    let impact = impact_of(&fic_now);

    // Approved by four eyes; Vigie cannot isolate a host itself: said
    // clearly, nothing recorded as done.
    assert_eq!(
        cell.step(&cell.claire, &id, "approve", json!({})).status,
        200
    );
    let r = cell.step(&cell.alan, &id, "execute", json!({}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("à la main") && r.body.contains(&format!("/api/v1/actions/{id}/done")),
        "{}",
        r.body
    );
    assert_eq!(cell.action(&id)["state"], "approved");

    // The console's page, without script: the commands and the form of
    // each step the analyst may take; the form posts with its CSRF field
    // and comes back to the page.
    let page = http(
        &base,
        "GET",
        "/actions",
        &[("Cookie", &cell.alan.cookie), ("Accept", "text/html")],
        None,
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html lang=\"fr\">") && page.body.contains("Confinement"));
    assert!(!page.body.contains("<script"));
    assert!(page.body.contains("New-NetFirewallRule"));
    assert!(page.body.contains(&format!(
        "action=\"/api/v1/actions/{id}/done?tenant=default\""
    )));
    assert!(
        !page
            .body
            .contains(&format!("action=\"/api/v1/actions/{id}/approve")),
        "an analyst does not approve"
    );
    let en = http(
        &base,
        "GET",
        "/actions?lang=en",
        &[("Cookie", &cell.alan.cookie), ("Accept", "text/html")],
        None,
    );
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Mark as done by hand"));
    let body = common::console::form(&[
        ("csrf", &cell.alan.csrf),
        ("back", &format!("/actions#a-{id}")),
        (
            "note",
            "pare-feu activé sur SRV-FIC01, règles Vigie isolation",
        ),
    ]);
    let r = http(
        &base,
        "POST",
        &format!("/api/v1/actions/{id}/done"),
        &[
            ("Cookie", &cell.alan.cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/actions#a-{id}").as_str())
    );
    let a = cell.action(&id);
    assert_eq!(a["state"], "executed");
    let last = a["trail"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["what"].as_str(), last["author"].as_str()),
        (Some("execute"), Some(ALAN))
    );
    assert!(last["detail"]
        .as_str()
        .unwrap()
        .starts_with("by hand: pare-feu"));

    // The board: each service the simulation names at its simulated
    // status, set by the one who executed, with why.
    let board = cell.get("/api/v1/services", &cell.read);
    for (service, after) in &impact {
        let e = entry(&board, service);
        assert_eq!(e["status"], after.as_str(), "{service}");
        assert_eq!(e["overridden"]["author"], ALAN, "{service}");
        let why = e["overridden"]["reason"].as_str().unwrap();
        assert!(
            why.contains(&id) && why.contains("exécutée par alan"),
            "{why}"
        );
    }

    // The notice is prepared, not published: the communication role sees
    // it (and nothing internal), publishes it; nobody else may.
    let draft = a["notice_draft"].as_str().unwrap().to_string();
    assert!(draft.contains("Action sociale (CIAS)"), "{draft}");
    let notices = cell.get("/api/v1/notices", &cell.read).to_string();
    assert!(!notices.contains("Par mesure de protection"), "{notices}");
    let seen = http(
        &base,
        "GET",
        "/api/v1/actions",
        &[("Cookie", &cell.corentin.cookie)],
        None,
    );
    assert_eq!(seen.status, 200);
    let seen = seen.json();
    let mine = seen["actions"].as_array().unwrap();
    assert_eq!(mine.len(), 1, "{seen}");
    assert_eq!(mine[0]["notice_draft"], draft.as_str());
    assert!(!seen.to_string().contains("SRV-FIC01"), "{seen}");
    assert_eq!(cell.step(&cell.vera, &id, "publish", json!({})).status, 403);
    assert_eq!(cell.step(&cell.alan, &id, "publish", json!({})).status, 403);
    let r = cell.step(&cell.corentin, &id, "publish", json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        cell.step(&cell.corentin, &id, "publish", json!({})).status,
        409,
        "once"
    );
    let notices = cell.get("/api/v1/notices", &cell.read).to_string();
    assert!(notices.contains("Par mesure de protection"), "{notices}");
    let public = http(&base, "GET", "/status", &[], None);
    assert!(public.body.contains("Par mesure de protection"));
    assert!(!public.body.contains("SRV-FIC01"));

    // Rolled back by hand: the services return to their derived status.
    let r = cell.step(
        &cell.alan,
        &id,
        "rollback",
        json!({"note": "règles retirées"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let board = cell.get("/api/v1/services", &cell.read);
    for (service, _) in &impact {
        let e = entry(&board, service);
        assert_eq!(e["status"], e["derived"]["status"], "{service}");
    }

    // Every step in the crisis log with its author; the board's changes
    // audited as status changes by the executor.
    let log: Vec<(String, String)> = cell
        .crisis_log(&id)
        .into_iter()
        .map(|(k, w, _)| (k, w))
        .collect();
    assert_eq!(
        log,
        pairs(&[
            ("action", ALAN),
            ("decision", CLAIRE),
            ("action", ALAN),
            ("communication", CORENTIN),
            ("action", ALAN),
        ])
    );
    // The same crisis log through the API, for people and for export.
    let api = cell.get("/api/v1/crisis-log", &cell.read);
    let entries = api["entries"].as_array().unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["refs"][0] == format!("action:{id}").as_str())
            .count(),
        5
    );
    let csv = http(
        &base,
        "GET",
        "/api/v1/crisis-log?format=csv",
        &[("Authorization", &cell.read)],
        None,
    );
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.body.contains(CLAIRE) && csv.body.contains(&id),
        "{}",
        csv.body
    );
    let md = http(
        &base,
        "GET",
        "/api/v1/crisis-log?format=md",
        &[("Cookie", &cell.claire.cookie)],
        None,
    );
    assert_eq!(md.status, 200);
    assert!(md.body.contains("faite à la main"), "{}", md.body);
    // It names hosts and accounts: not the communication role's.
    let refused = http(
        &base,
        "GET",
        "/api/v1/crisis-log",
        &[("Cookie", &cell.corentin.cookie)],
        None,
    );
    assert_eq!(refused.status, 403);
    let audit = http(
        &base,
        "GET",
        "/api/v1/audit",
        &[("Authorization", &cell.admin)],
        None,
    )
    .body;
    let status_changes = audit
        .lines()
        .filter(|l| {
            l.contains("\"service_status\"")
                && l.contains("service:social-action")
                && l.contains("\"who\":\"alan\"")
        })
        .count();
    assert_eq!(status_changes, 2, "set, then back to derived");

    // The four-eyes flow as people click it, in Chromium, no script of
    // ours: the analyst requests, the crisis cell approves (the analyst
    // is offered no approval), the analyst marks it done by hand.
    let Some(bin) = vigie_testkit::cdp::chromium_or_skip() else {
        return;
    };
    let account = cell
        .actions()
        .into_iter()
        .find(|a| a["kind"] == "disable_account" && a["state"] == "proposed")
        .expect("an account to disable");
    let aid = account["id"].as_str().unwrap().to_string();
    let card = format!("document.querySelector('#a-{aid}')");
    let mut b = common::console::french_browser(&bin, &tmp.path().join("chromium"));
    let sign_in_as = |b: &mut vigie_testkit::cdp::Browser, who: &str, pw: &str| {
        common::console::browser_sign_in_as(b, &base, who, pw, "/actions");
        b.wait_for(
            "location.pathname === '/actions' && !!document.querySelector('section.action')",
        );
    };
    let sign_out = |b: &mut vigie_testkit::cdp::Browser| {
        b.eval("document.querySelector('header form button').click(); true");
        b.wait_for("location.pathname === '/login'");
    };
    let state = |b: &mut vigie_testkit::cdp::Browser| {
        b.eval(&format!("{card}.dataset.state"))
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let has_form = |b: &mut vigie_testkit::cdp::Browser, step: &str| {
        b.eval(&format!(
            "!!{card}.querySelector('form[action*=\"/{step}?tenant=\"]')"
        )) == json!(true)
    };
    sign_in_as(&mut b, ALAN, ALAN_PW);
    assert_eq!(b.eval("document.documentElement.lang"), "fr");
    assert_eq!(state(&mut b), "proposed");
    assert!(has_form(&mut b, "request") && !has_form(&mut b, "approve"));
    b.eval(&format!(
        "const f = {card}.querySelector('form[action*=\"/request?tenant=\"]'); f.querySelector('input[name=reason]').value = 'compte utilisé par l\\'attaquant'; f.submit(); true"
    ));
    b.wait_for(&format!(
        "location.pathname === '/actions' && {card}.dataset.state === 'requested'"
    ));
    assert!(
        !has_form(&mut b, "approve"),
        "the requester is offered no approval"
    );
    sign_out(&mut b);
    sign_in_as(&mut b, CLAIRE, CLAIRE_PW);
    assert!(has_form(&mut b, "approve") && !has_form(&mut b, "done"));
    b.eval(&format!(
        "{card}.querySelector('form[action*=\"/approve?tenant=\"]').submit(); true"
    ));
    b.wait_for(&format!(
        "location.pathname === '/actions' && {card}.dataset.state === 'approved'"
    ));
    sign_out(&mut b);
    sign_in_as(&mut b, ALAN, ALAN_PW);
    b.eval(&format!(
        "{card}.querySelector('form[action*=\"/done?tenant=\"]').submit(); true"
    ));
    b.wait_for(&format!(
        "location.pathname === '/actions' && {card}.dataset.state === 'executed'"
    ));
    let shown = b.eval(&format!("{card}.querySelector('ol.trail').textContent"));
    let shown = shown.as_str().unwrap();
    assert!(
        shown.contains(ALAN) && shown.contains(CLAIRE) && shown.contains("by hand"),
        "{shown}"
    );
    assert!(
        b.console.iter().all(|m| !m.starts_with("exception")),
        "{:?}",
        b.console
    );
    assert_eq!(
        trail(&cell.action(&aid)),
        pairs(&[
            ("proposed", "vigie"),
            ("request", ALAN),
            ("approve", CLAIRE),
            ("execute", ALAN),
        ])
    );
}
