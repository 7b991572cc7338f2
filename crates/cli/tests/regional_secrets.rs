//! A NATS server that asks for a user and password, through the binary on
//! a real nats-server (`--user/--pass`; skipped without it outside CI).
//!
//! Why (issue 16): `--bus nats://user:PASS@…` was accepted and printed in
//! full at start. Now a user part in the command line's `--bus` is
//! refused (exit 2, the password never repeated); the password is given
//! in a file only its owner reads (`--bus-credentials`, refused when
//! others may read it, as PGPASSFILE); a URL with a user part from the
//! configuration file is shown masked. A configuration file holding a
//! password is refused when others than its owner may read it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::console::http;
use common::serve::token_of as token;
use common::server::spawn_serve;
use common::sysmon1;
use vigie_testkit::servers::Nats;

const SECRET: &str = "NATSPASS123";

fn serve(dir: &Path) -> Command {
    std::fs::create_dir_all(dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigie"));
    cmd.args(["serve", "--data"]).arg(dir).args([
        "--listen",
        "127.0.0.1:0",
        "--no-builtin",
        "--no-sigmahq",
    ]);
    cmd
}

fn ingest(base: &str, auth: &str) -> u16 {
    let event = sysmon1(1, "2026-01-10T09:00:00.000Z", r"C:\\Windows\\notepad.exe");
    http(
        base,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", auth)],
        Some(format!("{event}\n").as_bytes()),
    )
    .status
}

#[test]
fn the_nats_password_is_never_on_the_command_line_nor_shown() {
    let Some(nats) = Nats::start_with_user("natsuser", SECRET) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let auth = format!("Bearer {}", token(&data, "ingest", "default"));
    let port = nats.url().rsplit(':').next().unwrap().to_string();
    let with_password = format!("nats://natsuser:{SECRET}@127.0.0.1:{port}");

    // In the command line's URL: refused, exit 2, not repeated.
    let out = serve(&data)
        .args(["--bus", &with_password])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--bus-credentials"), "{err}");
    assert!(!err.contains(SECRET), "{err}");

    // A credentials file others may read: refused, not used.
    let creds = tmp.path().join("nats.creds");
    std::fs::write(&creds, format!("# NATS\nnatsuser:{SECRET}\n")).unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = serve(&data)
        .args(["--bus", &nats.url(), "--bus-credentials"])
        .arg(&creds)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("readable by others"), "{err}");
    assert!(!err.contains(SECRET), "{err}");

    // Without credentials the node starts (NATS may be away at start) but
    // the server turns it away: nothing is taken.
    let without = spawn_serve({
        let mut c = serve(&tmp.path().join("without"));
        std::fs::copy(data.join("state.db"), tmp.path().join("without/state.db")).unwrap();
        c.args(["--bus", &nats.url()]);
        c
    });
    assert_eq!(ingest(&without.base, &auth), 503);
    drop(without);

    // With the file, 0600: connected, the event taken.
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let node = spawn_serve({
        let mut c = serve(&data);
        c.args(["--bus", &nats.url(), "--bus-credentials"])
            .arg(&creds);
        c
    });
    assert_eq!(ingest(&node.base, &auth), 200);
    assert!(!node.said.join("\n").contains(SECRET), "{:?}", node.said);
    drop(node);

    // The URL with its password in the configuration file (0600): used,
    // and shown masked.
    let config = tmp.path().join("vigie.toml");
    std::fs::write(&config, format!("bus = \"{with_password}\"\n")).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let node = spawn_serve({
        let mut c = serve(&data);
        c.arg("--config").arg(&config);
        c
    });
    let said = node.said.join("\n");
    assert!(!said.contains(SECRET), "{said}");
    assert!(said.contains("nats://***@127.0.0.1"), "{said}");
    assert_eq!(ingest(&node.base, &auth), 200, "{said}");
}

/// A configuration file holding the database's password (or the bus's)
/// and readable by others: refused by every command that reads
/// `--config` (exit 2, the key named, the password not), used once 0600.
#[test]
fn a_config_file_others_read_is_refused_when_it_holds_a_password() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("cfg.toml");
    // A port nothing listens on: what matters is whether the file is used.
    std::fs::write(
        &config,
        format!(
            "data = \"node\"\nrole = \"api\"\ndb = \"postgres://vigie:{SECRET}@127.0.0.1:1/vigie\"\nbus = \"nats://127.0.0.1:1\"\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env_remove("PGPASSWORD")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [&["serve"][..], &["user", "list"], &["token", "list"]] {
        let (code, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("readable by others than its owner") && err.contains("`db`"),
            "{args:?}: {err}"
        );
        assert!(err.contains("chmod 0600"), "{args:?}: {err}");
        assert!(!err.contains(SECRET), "{args:?}: {err}");
    }
    // 0600: the file is used (the database is then out of reach: another
    // error, not this one).
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, err) = run(&["user", "list"]);
    assert!(!err.contains("readable by others"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
}
