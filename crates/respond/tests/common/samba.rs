//! A Samba AD domain controller for the tests, provisioned in a
//! temporary directory and started as a child process listening on
//! loopback only (LDAP 389 with StartTLS, LDAPS 636, a certificate made
//! for the test by a CA of the test's own). Shared by respond's own test
//! (`tests/samba.rs`) and the test of `vigie serve` executing through it
//! (`crates/cli/tests/actions.rs`, which includes this file by path).
//!
//! Needs `samba`, `samba-ad-provision`, `openssl` and root (ports 389 and
//! 636): [`start_dc`] gives `None` with a message outside CI, panics under
//! `CI=true` (`.ci/run` installs them).

#![allow(dead_code)]

use std::io::Cursor;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigie_respond::ldap::{LdapTarget, Secret};
use vigie_respond::Proposal;

pub const REALM: &str = "VIGIE.TEST";
pub const ADMIN_PASS: &str = "Vigie-Test-DC-Pass-1";
pub const USER_PASS: &str = "Vigie-Test-User-Pass-1";
pub const ADDR: &str = "127.0.0.1";

pub struct Dc {
    pub dir: tempfile::TempDir,
    pub child: Child,
    pub provisioned_in: Duration,
}

impl Drop for Dc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dc {
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("t/etc/smb.conf")
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }
    pub fn samba_tool(&self, args: &[&str]) {
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
    /// The directory as the attacker left it: each account of
    /// `accounts` created, enabled, in the groups it was added to. How
    /// long it took.
    pub fn populate(&self, accounts: &[Proposal]) -> Duration {
        let t0 = Instant::now();
        for a in accounts {
            self.samba_tool(&["user", "add", &a.target, USER_PASS]);
        }
        for g in accounts
            .iter()
            .flat_map(|a| a.groups.iter())
            .collect::<std::collections::BTreeSet<_>>()
        {
            self.samba_tool(&["group", "add", g]);
        }
        for a in accounts {
            for g in &a.groups {
                self.samba_tool(&["group", "addmembers", g, &a.target]);
            }
        }
        t0.elapsed()
    }

    pub fn target(&self, url: &str, starttls: bool) -> LdapTarget {
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
pub fn start_dc() -> Option<Dc> {
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

pub fn wait_listening(dc: &mut Dc) {
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

pub fn password() -> Secret {
    Secret::from_reader(Cursor::new(format!("{ADMIN_PASS}\n"))).unwrap()
}
