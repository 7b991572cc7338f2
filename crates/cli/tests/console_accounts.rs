//! The accounts page (`/accounts`, `POST /api/v1/accounts/{name}`),
//! through the binary:
//!
//! - embedded (`state.db`): the deployment's administrator lists the
//!   accounts (role, communes, state, last login), changes an analyst's
//!   communes and role, resets a password (typed twice; the account's
//!   sessions end; the new one signs in, the old one no longer), disables
//!   an account (its session ends, its login refused) and enables it,
//!   deletes one; every change in the audit log with before → after, the
//!   password nowhere in it; refused: the forms without their CSRF field,
//!   a non-administrator, changing one's own account, removing the last
//!   enabled administrator;
//! - in Chromium: the administrator resets a password in the page, typed
//!   twice, and the account signs in with it;
//! - PostgreSQL (`--db`): the same changes kept in the shared database.

mod common;

use std::process::{Command, Stdio};

use common::console::{add_admin, add_user_with, code, form, http, login, signed_in, Person, Resp};
use common::serve::token_of;
use common::server::spawn_serve;
use serde_json::Value;
use vigie_testkit::servers::{Nats, Postgres};

fn vigie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
}

fn added(out: std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A form posted by `p` to `/api/v1/accounts/{name}` (its CSRF field
/// in it), as the page's forms do.
fn change(base: &str, p: &Person, name: &str, fields: &[(&str, &str)]) -> Resp {
    let mut all = vec![("csrf", p.csrf.as_str()), ("back", "/accounts")];
    all.extend_from_slice(fields);
    http(
        base,
        "POST",
        &format!("/api/v1/accounts/{name}"),
        &[
            ("Cookie", &p.cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&form(&all)),
    )
}

fn accounts(base: &str, p: &Person) -> Vec<Value> {
    let r = http(
        base,
        "GET",
        "/api/v1/accounts",
        &[("Cookie", &p.cookie)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().unwrap().clone()
}

fn account<'a>(all: &'a [Value], name: &str) -> &'a Value {
    all.iter().find(|a| a["name"] == name).unwrap()
}

fn me(base: &str, p: &Person) -> u16 {
    http(base, "GET", "/api/v1/me", &[("Cookie", &p.cookie)], None).status
}

fn audit(base: &str, admin_token: &str) -> String {
    let r = http(
        base,
        "GET",
        "/api/v1/audit",
        &[("Authorization", &format!("Bearer {admin_token}"))],
        None,
    );
    assert_eq!(r.status, 200);
    r.body
}

#[test]
fn an_administrator_edits_the_accounts_each_change_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let chef_pw = "administrateur du CSIRT";
    let chef_totp = add_admin(&data, "chef", chef_pw);
    let ana_pw = "analyste du CSIRT, deux communes";
    added(add_user_with(
        &data,
        "ana",
        "analyst",
        ana_pw,
        &["--tenant", "quimper", "--tenant", "concarneau"],
    ));
    let bea_pw = "mairie de Quimper, lecture";
    added(add_user_with(
        &data,
        "bea",
        "viewer",
        bea_pw,
        &["--tenant", "quimper"],
    ));
    let token = token_of(&data, "admin", "default");
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"]);
    let server = spawn_serve(cmd);
    let base = server.base.clone();

    let chef = signed_in(&base, "chef", chef_pw, &code(&chef_totp));
    let ana = signed_in(&base, "ana", ana_pw, "");
    // The list: role, communes, state, last login.
    let all = accounts(&base, &chef);
    assert_eq!(all.len(), 3);
    let a = account(&all, "ana");
    assert_eq!(a["role"], "analyst");
    assert_eq!(a["assigned"], serde_json::json!(["concarneau", "quimper"]));
    assert_eq!(a["state"], "active");
    assert!(
        a["last_login"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{a}"
    );
    assert!(account(&all, "bea")["last_login"].is_null());
    assert!(!http(
        &base,
        "GET",
        "/api/v1/accounts",
        &[("Cookie", &chef.cookie)],
        None
    )
    .body
    .contains("argon2"));
    let page = http(&base, "GET", "/accounts", &[("Cookie", &chef.cookie)], None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("data-account=\"ana\""));
    assert!(page.body.contains("Dernière connexion"));
    assert!(page.body.contains("type=\"password\" name=\"password2\""));

    // Not an administrator: refused, page and API.
    for path in ["/accounts", "/api/v1/accounts"] {
        assert_eq!(
            http(&base, "GET", path, &[("Cookie", &ana.cookie)], None).status,
            403,
            "{path}"
        );
    }
    assert_eq!(
        change(&base, &ana, "bea", &[("change", "disable")]).status,
        403
    );
    // Without the CSRF field: refused, nothing changed.
    let r = http(
        &base,
        "POST",
        "/api/v1/accounts/bea",
        &[
            ("Cookie", &chef.cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&form(&[("change", "disable")])),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(account(&accounts(&base, &chef), "bea")["state"], "active");

    // Ana's communes: Quimper only (her session, of several, ends).
    let r = change(
        &base,
        &chef,
        "ana",
        &[("change", "communes"), ("communes", "quimper")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/accounts"));
    let a = account(&accounts(&base, &chef), "ana").clone();
    assert_eq!(
        (a["tenant"].clone(), a["assigned"].clone()),
        ("quimper".into(), serde_json::json!([]))
    );
    assert_eq!(
        me(&base, &ana),
        401,
        "the session of the account as it was ends"
    );
    // A commune's name is checked.
    let r = change(
        &base,
        &chef,
        "ana",
        &[("change", "communes"), ("communes", "Quimper Sud")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // Her role: viewer.
    let r = change(
        &base,
        &chef,
        "ana",
        &[("change", "role"), ("role", "viewer")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(account(&accounts(&base, &chef), "ana")["role"], "viewer");
    // An administrator without a second factor: refused.
    let r = change(
        &base,
        &chef,
        "ana",
        &[("change", "role"), ("role", "admin")],
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // A password reset: typed twice the same, else refused.
    let new_pw = "un nouveau mot de passe pour Ana";
    let r = change(
        &base,
        &chef,
        "ana",
        &[
            ("change", "password"),
            ("password", new_pw),
            ("password2", "autre chose encore"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let ana = signed_in(&base, "ana", ana_pw, "");
    let r = change(
        &base,
        &chef,
        "ana",
        &[
            ("change", "password"),
            ("password", new_pw),
            ("password2", new_pw),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(me(&base, &ana), 401, "her sessions ended");
    assert_eq!(login(&base, "ana", ana_pw, "").0.status, 401);
    let ana = signed_in(&base, "ana", new_pw, "");

    // Disabled: her session ends, her login is refused (saying so to her
    // only), and enabled again.
    let r = change(&base, &chef, "ana", &[("change", "disable")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(me(&base, &ana), 401);
    let (r, id) = login(&base, "ana", new_pw, "");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Ce compte est désactivé"), "{}", r.body);
    assert!(id.is_none());
    assert_eq!(
        login(&base, "ana", "not her password at all", "").0.status,
        401
    );
    assert_eq!(account(&accounts(&base, &chef), "ana")["state"], "disabled");
    let r = change(&base, &chef, "ana", &[("change", "enable")]);
    assert_eq!(r.status, 303, "{}", r.body);
    signed_in(&base, "ana", new_pw, "");

    // Deleted.
    let r = change(&base, &chef, "bea", &[("change", "delete")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(accounts(&base, &chef).iter().all(|a| a["name"] != "bea"));
    assert_eq!(login(&base, "bea", bea_pw, "").0.status, 401);

    // One's own account: its password only.
    for fields in [
        &[("change", "disable")][..],
        &[("change", "role"), ("role", "analyst")],
        &[("change", "communes"), ("communes", "quimper")],
        &[("change", "delete")],
    ] {
        let r = change(&base, &chef, "chef", fields);
        assert_eq!(r.status, 403, "{fields:?}: {}", r.body);
    }
    // The last enabled administrator (asked by an admin token, which is
    // no account): neither disabled, demoted nor deleted.
    for body in [
        r#"{"change":"disable"}"#,
        r#"{"change":"role","role":"analyst"}"#,
        r#"{"change":"communes","communes":"quimper"}"#,
        r#"{"change":"delete"}"#,
    ] {
        let r = http(
            &base,
            "POST",
            "/api/v1/accounts/chef",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/json"),
            ],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 409, "{body}: {}", r.body);
        assert!(r.body.contains("last enabled administrator"), "{}", r.body);
    }
    assert_eq!(me(&base, &chef), 200, "still signed in");

    // Every change audited, with before → after; refusals too; never a
    // password.
    let log = audit(&base, &token);
    for said in [
        "ana: analyst (concarneau,quimper) → analyst (quimper)",
        "ana: analyst (quimper) → viewer (quimper)",
        "ana: password reset, its sessions ended",
        "ana: enabled → disabled",
        "ana: disabled → enabled",
        "bea: deleted (viewer, quimper)",
        "chef is the deployment's last enabled administrator",
    ] {
        assert!(log.contains(said), "{said}: {log}");
    }
    assert!(log.contains("\"user_password\"") && log.contains("\"user_disable\""));
    for pw in [new_pw, "autre chose encore"] {
        assert!(!log.contains(pw), "a password in the audit log");
        assert!(
            server.said.iter().all(|l| !l.contains(pw)),
            "a password in the server's output"
        );
    }
    let list = vigie()
        .args(["user", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("ana\tviewer\t") && l.ends_with("\tquimper")),
        "{list}"
    );
}

#[test]
fn chromium_resets_a_password_typed_twice_in_the_page() {
    let Some(bin) = vigie_testkit::cdp::chromium_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let chef_pw = "administrateur du CSIRT";
    let chef_totp = add_admin(&data, "chef", chef_pw);
    added(add_user_with(
        &data,
        "ana",
        "analyst",
        "analyste du CSIRT, ancien",
        &["--tenant", "quimper"],
    ));
    let mut cmd = vigie();
    cmd.args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"]);
    let server = spawn_serve(cmd);
    let base = server.base.clone();

    let mut b = common::console::french_browser(&bin, &tmp.path().join("chromium"));
    // `/accounts` is not a page a browser without a session is sent to
    // the login from (the administration answers 401): `/` is.
    b.open_url(&format!("{base}/"));
    b.wait_for("location.pathname === '/login' && !!document.querySelector('#name')");
    b.eval(&format!(
        "document.querySelector('#name').value = 'chef'; document.querySelector('#password').value = {}; document.querySelector('#code').value = {}; document.querySelector('form').submit(); true",
        serde_json::to_string(chef_pw).unwrap(),
        serde_json::to_string(&code(&chef_totp)).unwrap(),
    ));
    b.wait_for("location.pathname === '/' && !!document.querySelector('#logout')");
    b.open_url(&format!("{base}/accounts"));
    b.wait_for(
        "location.pathname === '/accounts' && document.querySelectorAll('tr.account').length === 2",
    );
    // In the administrators' navigation.
    assert_eq!(
        b.eval("!!document.querySelector('nav a[href^=\"/accounts\"][aria-current=\"page\"]')"),
        true
    );
    assert_eq!(b.eval("document.documentElement.lang"), "fr");
    let new_pw = "le nouveau mot de passe d'Ana";
    b.eval(&format!(
        "document.querySelector('#password-ana').value = {pw}; document.querySelector('#password2-ana').value = {pw}; document.querySelector('form.account-password #password-ana').form.querySelector('button').click(); true",
        pw = serde_json::to_string(new_pw).unwrap()
    ));
    // The page again, its fields empty (the answer of the POST).
    b.wait_for("location.pathname === '/accounts' && !!document.querySelector('#password-ana') && document.querySelector('#password-ana').value === ''");
    // Never in the page's address.
    assert_eq!(b.eval("location.search.includes('mot')"), false);
    assert_eq!(login(&base, "ana", new_pw, "").0.status, 303);
    assert_eq!(
        login(&base, "ana", "analyste du CSIRT, ancien", "")
            .0
            .status,
        401
    );
}

fn user_add_db(db: &str, name: &str, role: &str, password: &str, more: &[&str]) -> String {
    let mut child = vigie()
        .args(["user", "add", name, "--role", role, "--db", db])
        .args(more)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    added(out.clone());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_changes_kept_in_postgresql() {
    let (Some(nats), Some(pg)) = (Nats::start(), Postgres::start()) else {
        return;
    };
    let db = pg.url();
    let chef_pw = "administrateur régional";
    let uri = user_add_db(&db, "chef", "admin", chef_pw, &[]);
    let chef_totp = totp_rs::Totp::from_url(uri.trim()).unwrap();
    let ana_pw = "analyste régionale, deux communes";
    user_add_db(
        &db,
        "ana",
        "analyst",
        ana_pw,
        &["--tenant", "quimper", "--tenant", "concarneau"],
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = vigie();
    cmd.args(["serve", "--data"]).arg(&dir).args([
        "--listen",
        "127.0.0.1:0",
        "--bus",
        &nats.url(),
        "--db",
        &db,
    ]);
    let server = spawn_serve(cmd);
    let base = server.base.clone();
    let chef = signed_in(&base, "chef", chef_pw, &code(&chef_totp));
    let ana = signed_in(&base, "ana", ana_pw, "");
    let a = account(&accounts(&base, &chef), "ana").clone();
    assert!(a["last_login"].is_string(), "{a}");

    let r = change(
        &base,
        &chef,
        "ana",
        &[("change", "communes"), ("communes", "quimper fouesnant")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let list = vigie()
        .args(["user", "list", "--db", &db])
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("ana\tanalyst\t") && l.ends_with("\tfouesnant,quimper")),
        "{list}"
    );
    // The set read at the next request: Concarneau no longer.
    assert_eq!(
        http(
            &base,
            "GET",
            "/api/v1/detections?tenant=concarneau",
            &[("Cookie", &ana.cookie)],
            None
        )
        .status,
        403
    );
    let r = change(&base, &chef, "ana", &[("change", "disable")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(me(&base, &ana), 401);
    assert_eq!(login(&base, "ana", ana_pw, "").0.status, 403);
    assert_eq!(
        pg.query("SELECT disabled FROM console_users WHERE name = 'ana'")
            .trim(),
        "t"
    );
    let r = change(&base, &chef, "ana", &[("change", "enable")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let new_pw = "nouveau mot de passe régional";
    let r = change(
        &base,
        &chef,
        "ana",
        &[
            ("change", "password"),
            ("password", new_pw),
            ("password2", new_pw),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(login(&base, "ana", ana_pw, "").0.status, 401);
    signed_in(&base, "ana", new_pw, "");
    let r = change(&base, &chef, "ana", &[("change", "delete")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(accounts(&base, &chef).iter().all(|a| a["name"] != "ana"));
    let r = change(&base, &chef, "chef", &[("change", "delete")]);
    assert_eq!(r.status, 403, "{}", r.body);
}
