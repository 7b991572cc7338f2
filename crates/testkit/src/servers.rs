//! Private test servers for the regional deployment's tests: a
//! `nats-server -js` and a PostgreSQL cluster, each in a temp dir on a free
//! loopback port, stopped when dropped.
//!
//! Why real servers: the regional backends' promises (a publish
//! acknowledged only once stored, a durable consumer shared by workers, an
//! insert that never doubles) are the servers' behaviour; a stand-in would
//! test itself. `.ci/run` installs both from Debian's packages; elsewhere a
//! test without them says it was skipped, under `CI=true` it fails loudly.
//!
//! PostgreSQL refuses to run as root (CI runs as root): the cluster is then
//! made and run as the unprivileged `nobody`, through `runuser -u nobody`,
//! in a temp dir handed over to it. Authentication is `trust`, on loopback
//! only (`listen_addresses = '127.0.0.1'` and a `pg_hba.conf` with the one
//! `host … 127.0.0.1/32 trust` line; no Unix socket outside the temp dir).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails under `CI=true`, says "skipped" elsewhere.
fn missing(why: &str) -> Option<std::convert::Infallible> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI=true: `.ci/run` installs it)");
    }
    println!("skipped: {why}");
    None
}

/// A loopback port nothing listens on (the kernel's pick).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_listening(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} not listening on 127.0.0.1:{port} after 20 s");
}

/// Whether `child` listens on `port` itself: something answers there and
/// the child still runs a moment after (a server that could not bind the
/// port exits at once, while another's answered).
fn listens_itself(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(150));
            return matches!(child.try_wait(), Ok(None));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nats-server not listening on 127.0.0.1:{port} after 20 s");
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A private `nats-server` with JetStream, its store in a temp dir.
pub struct Nats {
    child: Option<Child>,
    port: u16,
    binary: PathBuf,
    dir: tempfile::TempDir,
    /// Further arguments (a user and password the server asks for).
    extra: Vec<String>,
}

impl Nats {
    /// Starts one; `None` (after "skipped") when `nats-server` is not
    /// installed, outside CI.
    pub fn start() -> Option<Nats> {
        Nats::start_with(&[])
    }

    /// One that accepts only this user and password (`--user`, `--pass`).
    pub fn start_with_user(user: &str, password: &str) -> Option<Nats> {
        Nats::start_with(&["--user", user, "--pass", password])
    }

    fn start_with(extra: &[&str]) -> Option<Nats> {
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let Some(binary) = on_path("nats-server") else {
            missing("nats-server not installed (apt-get install nats-server)")?;
            unreachable!()
        };
        let dir = tempfile::tempdir().expect("a temp dir for nats-server");
        // A port found free may be taken by another test's server before
        // this one binds it: this one then exits, and what answered on
        // the port was the other's (gone when that test ends). Tried
        // again on another port until the server is its own.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&binary)
                .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
                .arg("-sd")
                .arg(dir.path())
                .args(&extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts");
            if !listens_itself(port, &mut child) {
                let _ = child.kill();
                let _ = child.wait();
                continue;
            }
            return Some(Nats {
                child: Some(child),
                port,
                binary,
                dir,
                extra,
            });
        }
        panic!("nats-server could not listen on a port of its own after 5 tries");
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Where JetStream keeps its streams.
    pub fn store_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server (`SIGKILL`: what an outage looks like to clients);
    /// its stored streams stay for [`Nats::resume`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same store.
    pub fn resume(&mut self) {
        if self.child.is_some() {
            return;
        }
        let mut child = Command::new(&self.binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        wait_listening(self.port, &mut child, "nats-server");
        self.child = Some(child);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private PostgreSQL cluster with one database, `vigie`, owned by the
/// superuser `vigie`.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Holds the cluster; removed last.
    dir: tempfile::TempDir,
    as_nobody: bool,
    running: bool,
}

/// The directory of `initdb`/`pg_ctl`: the newest
/// `/usr/lib/postgresql/*/bin` (Debian keeps them off PATH), else where
/// `initdb` is on PATH (links followed).
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let initdb = std::fs::canonicalize(on_path("initdb")?).ok()?;
    initdb.parent().map(Path::to_path_buf)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl Postgres {
    /// Makes and starts one; `None` (after "skipped") when PostgreSQL is
    /// not installed, outside CI.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = postgres_bin() else {
            missing("PostgreSQL not installed (apt-get install postgresql)")?;
            unreachable!()
        };
        let dir = tempfile::tempdir().expect("a temp dir for PostgreSQL");
        let as_nobody = is_root();
        let data = dir.path().join("data");
        if as_nobody {
            // The temp dir is root's, mode 0700: hand it to `nobody`.
            std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534))
                .expect("chown the PostgreSQL temp dir to nobody");
        }
        let pg = Postgres {
            bin,
            data,
            port: free_port(),
            dir,
            as_nobody,
            running: false,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                pg.data.to_str().unwrap(),
                "-U",
                "vigie",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        // Loopback only, trust only there, sockets only in the temp dir.
        std::fs::write(
            pg.data.join("pg_hba.conf"),
            "host all all 127.0.0.1/32 trust\n",
        )
        .expect("write pg_hba.conf");
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(pg.data.join("postgresql.conf"))
            .expect("open postgresql.conf");
        use std::io::Write;
        writeln!(
            conf,
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nfsync = off\nmax_connections = 50",
            pg.port,
            pg.dir.path().display()
        )
        .expect("write postgresql.conf");
        drop(conf);
        let mut pg = pg;
        pg.resume();
        pg.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                "vigie",
                "vigie",
            ],
        );
        Some(pg)
    }

    /// `postgres://vigie@127.0.0.1:PORT/vigie`.
    pub fn url(&self) -> String {
        format!("postgres://vigie@127.0.0.1:{}/vigie", self.port)
    }

    /// One query's rows as `psql -At` prints them (`|` between columns):
    /// what a test reads of the state a node keeps there.
    pub fn query(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([&self.url(), "-X", "-At", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Stops the cluster at once (`-m immediate`: an outage, not a
    /// shutdown); [`Postgres::resume`] starts it again.
    pub fn stop(&mut self) {
        if self.running {
            self.run(
                "pg_ctl",
                &[
                    "-D",
                    self.data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
            self.running = false;
        }
    }

    /// Starts it again (and waits until it accepts connections).
    pub fn resume(&mut self) {
        if self.running {
            return;
        }
        let log = self.dir.path().join("postgres.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        self.running = true;
    }

    fn run(&self, tool: &str, args: &[&str]) {
        if let Err(why) = self.try_run(tool, args) {
            let log =
                std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            panic!("{why}\n{log}");
        }
    }

    fn try_run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        // `nobody` cannot read root's working directory.
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{tool} {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data.to_str().unwrap_or_default().to_string();
            let _ = self.try_run("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_listens_and_stops() {
        let Some(mut nats) = Nats::start() else {
            return;
        };
        let port: u16 = nats.url().rsplit(':').next().unwrap().parse().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        nats.stop();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        nats.resume();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    #[test]
    fn postgres_accepts_the_vigie_user_on_loopback() {
        let Some(pg) = Postgres::start() else {
            return;
        };
        let port = pg.port.to_string();
        let out = Command::new(pg.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "vigie", "-d", "vigie"])
            .args(["-tAc", "select current_user || ' ' || current_database()"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "vigie vigie");
    }
}
