//! Direct execution against a real Active Directory: a Samba AD domain
//! controller provisioned by the test in a temporary directory, started as
//! a child process listening on loopback only (LDAP 389 with StartTLS,
//! LDAPS 636, a certificate made for the test), and the demo's plan run
//! through it: approval, LDAP execution, read back, rollback, audit trail.
//!
//! Needs `samba`, `samba-ad-provision`, `openssl` and root (ports 389 and
//! 636): skipped with a message outside CI, a failure under `CI=true`
//! (`.ci/run` installs them).

mod common;

use std::io::Cursor;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{demo, noon};
use vigie_lang::Lang;
use vigie_respond::ldap::{self, Directory, LdapTarget, Secret};
use vigie_respond::store::ProposalStore;
use vigie_respond::{plan, Actor, MemoryProposalStore, Role, State, Step, StoreError};
use vigie_scope::ActionKind;

const REALM: &str = "VIGIE.TEST";
const ADMIN_PASS: &str = "Vigie-Test-DC-Pass-1";
const USER_PASS: &str = "Vigie-Test-User-Pass-1";
const ADDR: &str = "127.0.0.1";

struct Dc {
    dir: tempfile::TempDir,
    child: Child,
    provisioned_in: Duration,
}

impl Drop for Dc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dc {
    fn conf(&self) -> PathBuf {
        self.dir.path().join("t/etc/smb.conf")
    }
    fn ca(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }
    fn samba_tool(&self, args: &[&str]) {
        let conf = self.conf();
        let out = Command::new("samba-tool")
            .args(args)
            .arg("-s")
            .arg(&conf)
            .output()
            .expect("samba-tool");
        assert!(
            out.status.success(),
            "samba-tool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fn target(&self, url: &str, starttls: bool) -> LdapTarget {
        LdapTarget {
            url: url.into(),
            starttls,
            bind: format!("Administrator@{}", REALM.to_lowercase()),
            ca_file: Some(self.ca()),
            base_dn: None,
        }
    }
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

fn skip_or_fail(why: &str) -> Option<Dc> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI=true: .ci/run installs samba, samba-ad-provision and openssl, and runs as root)");
    }
    println!("skipped: {why}");
    None
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Provisions a domain in a temp dir and starts its DC (LDAP only).
fn start_dc() -> Option<Dc> {
    for tool in ["samba", "samba-tool", "openssl"] {
        if !on_path(tool) {
            return skip_or_fail(&format!("{tool} is not installed"));
        }
    }
    if !Path::new("/usr/share/samba/setup/ad-schema").exists() {
        return skip_or_fail("samba-ad-provision is not installed");
    }
    // SAFETY-free check of root: ports 389 and 636 need it.
    let uid = Command::new("id").arg("-u").output().ok();
    if uid.is_none_or(|o| String::from_utf8_lossy(&o.stdout).trim() != "0") {
        return skip_or_fail("not root (the DC listens on ports 389 and 636)");
    }
    for port in [389, 636] {
        if TcpStream::connect((ADDR, port)).is_ok() {
            panic!("{ADDR}:{port} is already in use: another directory is running here");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tls = d.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::create_dir_all(d.join("run")).unwrap();
    // A CA of the test's own and a server certificate for the loopback
    // address, so the client verifies the server for real (chain, name).
    run(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=vigie-test-ca"])
            .arg("-keyout")
            .arg(tls.join("ca-key.pem"))
            .arg("-out")
            .arg(tls.join("ca.pem")),
        "openssl: CA",
    );
    run(
        Command::new("openssl")
            .args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=vigie-test-dc",
            ])
            .arg("-keyout")
            .arg(tls.join("key.pem"))
            .arg("-out")
            .arg(tls.join("dc.csr")),
        "openssl: request",
    );
    std::fs::write(
        tls.join("ext.cnf"),
        format!(
            "subjectAltName=IP:{ADDR}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    run(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-CAcreateserial"])
            .arg("-in")
            .arg(tls.join("dc.csr"))
            .arg("-CA")
            .arg(tls.join("ca.pem"))
            .arg("-CAkey")
            .arg(tls.join("ca-key.pem"))
            .arg("-extfile")
            .arg(tls.join("ext.cnf"))
            .arg("-out")
            .arg(tls.join("cert.pem")),
        "openssl: sign",
    );
    let start = Instant::now();
    let opt = |k: &str, v: &str| format!("--option={k}={v}");
    let p = |x: &Path| x.to_string_lossy().into_owned();
    run(
        Command::new("samba-tool")
            .args(["domain", "provision", "--use-rfc2307", "--server-role=dc"])
            .arg(format!("--realm={REALM}"))
            .arg("--domain=VIGIE")
            .arg("--dns-backend=NONE")
            .arg("--host-name=dc1")
            .arg(format!("--host-ip={ADDR}"))
            .arg(format!("--adminpass={ADMIN_PASS}"))
            .arg(format!("--targetdir={}", p(&d.join("t"))))
            .arg(opt("interfaces", ADDR))
            .arg(opt("bind interfaces only", "yes"))
            .arg(opt("server services", "ldap"))
            .arg(opt("pid directory", &p(&d.join("run"))))
            .arg(opt("log file", &p(&d.join("samba.log"))))
            .arg(opt("tls enabled", "yes"))
            .arg(opt("tls keyfile", &p(&tls.join("key.pem"))))
            .arg(opt("tls certfile", &p(&tls.join("cert.pem"))))
            .arg(opt("tls cafile", "")),
        "samba-tool domain provision",
    );
    let provisioned_in = start.elapsed();
    let child = Command::new("samba")
        .args(["-i", "-M", "single", "-s"])
        .arg(d.join("t/etc/smb.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start samba");
    let dc = Dc {
        dir,
        child,
        provisioned_in,
    };
    Some(dc)
}

fn wait_listening(dc: &mut Dc) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect((ADDR, 636)).is_ok() && TcpStream::connect((ADDR, 389)).is_ok() {
            return;
        }
        if let Ok(Some(st)) = dc.child.try_wait() {
            let log = std::fs::read_to_string(dc.dir.path().join("samba.log")).unwrap_or_default();
            panic!("samba exited ({st}) before listening:\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "samba did not listen within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn password() -> Secret {
    Secret::from_reader(Cursor::new(format!("{ADMIN_PASS}\n"))).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn the_demo_plan_disables_the_attackers_accounts_through_ldap_after_approval() {
    let Some(mut dc) = start_dc() else { return };
    let d = demo();
    let p = plan(&d.scope, &d.assets, noon(), Lang::Fr);
    let accounts: Vec<_> = p
        .proposals
        .iter()
        .filter(|x| {
            matches!(
                x.kind,
                ActionKind::DisableAccount | ActionKind::DeleteAccount
            )
        })
        .cloned()
        .collect();
    assert!(accounts.len() >= 3, "{accounts:?}");
    assert!(accounts.iter().any(|x| x.target == "presta.maint"));

    // The directory as the attacker left it: the accounts exist, enabled,
    // and the backdoor account sits in the group it was added to.
    let t0 = Instant::now();
    for a in &accounts {
        dc.samba_tool(&["user", "add", &a.target, USER_PASS]);
    }
    for g in accounts
        .iter()
        .flat_map(|a| a.groups.iter())
        .collect::<std::collections::BTreeSet<_>>()
    {
        dc.samba_tool(&["group", "add", g]);
    }
    for a in &accounts {
        for g in &a.groups {
            dc.samba_tool(&["group", "addmembers", g, &a.target]);
        }
    }
    let populated_in = t0.elapsed();
    wait_listening(&mut dc);
    println!(
        "Samba AD DC: provisioned in {:.1} s, accounts and groups added in {:.1} s",
        dc.provisioned_in.as_secs_f64(),
        populated_in.as_secs_f64()
    );

    let ldaps = dc.target(&format!("ldaps://{ADDR}"), false);
    let mut dir = Directory::connect(&ldaps, &password())
        .await
        .expect("LDAPS bind");
    for a in &accounts {
        let e = dir
            .account(&a.target)
            .await
            .unwrap()
            .expect("account exists");
        assert!(!e.disabled(), "{} starts enabled", a.target);
    }
    let backdoor = accounts
        .iter()
        .find(|a| !a.groups.is_empty())
        .expect("an account with groups");
    let e = dir.account(&backdoor.target).await.unwrap().unwrap();
    assert_eq!(
        e.member_of.len(),
        backdoor.groups.len(),
        "{:?}",
        e.member_of
    );

    // Proposed by Vigie's run, refused before approval, approved by the
    // crisis cell, executed by the technician.
    let store = MemoryProposalStore::new();
    let vigie = Actor::new("tech.alice", Role::Analyst);
    let crisis = Actor::new("dgs.bob", Role::Crisis);
    let at = |m: i64| noon() + chrono::Duration::minutes(m);
    store
        .propose("default", p.proposals.clone(), &vigie, at(0))
        .await
        .unwrap();
    let first = &accounts[0];
    let refused = store
        .apply(
            "default",
            &first.id,
            Step::Execute { how: "ldap".into() },
            &vigie,
            at(1),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    assert!(!dir
        .account(&first.target)
        .await
        .unwrap()
        .unwrap()
        .disabled());

    for a in &accounts {
        store
            .apply("default", &a.id, Step::Approve, &crisis, at(2))
            .await
            .unwrap();
        let how = ldap::execute(&mut dir, a)
            .await
            .expect("disabled through LDAP");
        store
            .apply("default", &a.id, Step::Execute { how }, &vigie, at(3))
            .await
            .unwrap();
    }
    dir.close().await.unwrap();

    // Read back on a new connection (StartTLS this time): disabled, and
    // out of the attacker's group.
    let starttls = dc.target(&format!("ldap://{ADDR}"), true);
    let mut check = Directory::connect(&starttls, &password())
        .await
        .expect("StartTLS bind");
    for a in &accounts {
        let e = check.account(&a.target).await.unwrap().unwrap();
        assert!(e.disabled(), "{} disabled in the directory", a.target);
        assert_eq!(e.user_account_control & 0x2, 0x2);
    }
    let e = check.account(&backdoor.target).await.unwrap().unwrap();
    assert!(e.member_of.is_empty(), "removed from {:?}", e.member_of);

    // Rollback: one step, audited, re-enables.
    for a in &accounts {
        let how = ldap::roll_back(&mut check, a).await.expect("re-enabled");
        let r = store
            .apply("default", &a.id, Step::RollBack { how }, &vigie, at(4))
            .await
            .unwrap();
        assert_eq!(r.state, State::RolledBack);
        let e = check.account(&a.target).await.unwrap().unwrap();
        assert!(!e.disabled(), "{} enabled again", a.target);
        let trail: Vec<(&str, &str)> = r
            .trail
            .iter()
            .map(|e| (e.what.as_str(), e.author.as_str()))
            .collect();
        assert_eq!(
            trail,
            vec![
                ("proposed", "tech.alice"),
                ("approve", "dgs.bob"),
                ("execute", "tech.alice"),
                ("roll_back", "tech.alice"),
            ],
            "{}",
            a.target
        );
        assert!(
            r.trail[2].detail.contains("userAccountControl"),
            "{}",
            r.trail[2].detail
        );
    }

    // A name that is an LDAP filter matches nothing, not everyone.
    assert!(check.account("*").await.unwrap().is_none());
    assert!(check
        .account("x)(sAMAccountName=*")
        .await
        .unwrap()
        .is_none());
    check.close().await.unwrap();

    // Never a bind in clear; never a server the CA does not vouch for.
    let clear = dc.target(&format!("ldap://{ADDR}"), false);
    assert!(Directory::connect(&clear, &password()).await.is_err());
    let mut wrong_ca = dc.target(&format!("ldaps://{ADDR}"), false);
    wrong_ca.ca_file = None;
    assert!(
        Directory::connect(&wrong_ca, &password()).await.is_err(),
        "the test's self-signed certificate is not in the system's roots"
    );
    let bad = Secret::from_reader(Cursor::new("wrong\n")).unwrap();
    assert!(Directory::connect(&ldaps, &bad).await.is_err());
    assert_eq!(format!("{bad:?}"), "Secret(***)");
}
