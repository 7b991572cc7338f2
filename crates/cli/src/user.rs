//! `vigie user` and `vigie audit`: the console's accounts and its audit
//! log, from the server's shell (thin wrappers around `vigie-console`).
//! With `--db` (or the `db` of a `--config` file) the accounts and the
//! audit log are the regional deployment's, in PostgreSQL, as `vigie
//! serve --db` keeps them: an account made once signs in on every api
//! node.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Subcommand;
use vigie_console::accounts::UserStore;
use vigie_console::audit::{self, Action, AuditLog, Outcome};
use vigie_console::users::{self, UserError};
use vigie_console::Role;

/// Where the accounts, the tokens and the audit log are: a server's data
/// directory, or the regional deployment's database.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// The server's data directory.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The regional deployment's PostgreSQL, as `vigie serve --db`
    /// (postgres://USER@HOST:PORT/DB; the password from PGPASSWORD, the
    /// password file, or the --config file's `db`, never the command line).
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    pub db: Option<String>,
    /// A `vigie serve` configuration file: its `db` key is used (as `vigie
    /// serve --config` does) when --db is not given, else its `data`.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    pub config: Option<PathBuf>,
}

/// Where they are, once the options are read.
pub enum Kept {
    Data(PathBuf),
    /// A PostgreSQL URL (said only through `vigie_db::place`).
    Db(String),
}

impl StoreArgs {
    /// `--db`, else the `--config` file's `db`, else `--data`, else
    /// `default` (a usage error, said, when none gives a place).
    pub fn kept(&self, default: Option<PathBuf>) -> std::result::Result<Kept, String> {
        if let Some(url) = &self.db {
            crate::serve::no_password_in_argv(url)?;
            return db_url(url.clone());
        }
        if let Some(path) = &self.config {
            let file =
                vigie_serve::file::ServeFile::load(path).map_err(|e| format!("--config {e}"))?;
            // As `vigie serve --config` reads it: its `db`, else its `data`.
            return match (file.db, file.data) {
                (Some(url), _) => db_url(url),
                (None, Some(data)) => Ok(Kept::Data(data)),
                (None, None) => Err(format!(
                    "--config {}: neither a `db` nor a `data` key",
                    path.display()
                )),
            };
        }
        self.data
            .clone()
            .or(default)
            .map(Kept::Data)
            .ok_or_else(|| "--data DIR or --db URL is required".to_string())
    }
}

fn db_url(url: String) -> std::result::Result<Kept, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Kept::Db(url))
    } else {
        Err("db: a postgres://USER@HOST:PORT/DB URL".into())
    }
}

impl Kept {
    /// The audit log there.
    pub fn audit(&self) -> Result<Box<dyn AuditLog>> {
        Ok(match self {
            Kept::Data(data) => Box::new(open_audit(data)?),
            Kept::Db(url) => Box::new(vigie_db::PgAudit::new(url)?),
        })
    }

    fn users(&self) -> Result<Box<dyn UserStore>> {
        Ok(match self {
            Kept::Data(data) => {
                import_former(data)?;
                Box::new(vigie_state::SqliteUsers::open(data)?)
            }
            Kept::Db(url) => Box::new(vigie_db::PgUsers::new(url)?),
        })
    }

    /// Appends one line to the audit log there, as the command line's user.
    pub fn record(&self, action: Action, target: &str, outcome: Outcome) -> Result<()> {
        let log = self.audit()?;
        log.append(&who(), "local", action, target, outcome)
            .map_err(|e| anyhow!("{}: {e}", log.place()))
    }
}

/// The audit log of a data directory: `state.db`, the former files
/// imported into it first (so that a line appended now comes after
/// them in the chain), what was imported said on stderr.
fn open_audit(data: &std::path::Path) -> Result<vigie_state::SqliteAudit> {
    import_former(data)?;
    Ok(vigie_state::SqliteAudit::open(data)?)
}

/// The former files of `data` imported into its `state.db`, if any (what
/// was imported said on stderr).
fn import_former(data: &std::path::Path) -> Result<()> {
    let imported = vigie_state::import(data).map_err(|e| anyhow!("{e}"))?;
    for line in imported.lines() {
        eprintln!("vigie: {line}");
    }
    Ok(())
}

/// A usage error said as such: exit 2.
fn usage(e: String) -> Result<ExitCode> {
    eprintln!("vigie: error: {e}");
    Ok(ExitCode::from(2))
}

#[derive(Subcommand, Debug, Clone)]
pub enum UserCommand {
    /// Create an account. The password is read from stdin when it is not a
    /// terminal (one line), asked twice otherwise; never given in argv. An
    /// admin gets a second factor: its otpauth:// URI is printed once.
    Add {
        /// The user name, kept exactly as given.
        name: String,
        /// admin, analyst, crisis, communication or viewer.
        #[arg(long, value_name = "ROLE")]
        role: String,
        #[command(flatten)]
        at: StoreArgs,
        /// Also give a second factor to a role that does not require one.
        #[arg(long)]
        totp: bool,
        /// The commune (tenant) the account belongs to: it reads that
        /// tenant's data only, whatever its role (a CSIRT serving several
        /// communes). Given more than once: a CSIRT's analyst assigned
        /// those communes, reading them only (not for `--role admin`).
        /// Without it: the deployment's own account (every commune).
        #[arg(long, value_name = "NAME")]
        tenant: Vec<String>,
    },
    /// List the accounts (name, role, second factor, lock, created, and
    /// the commune or communes read: comma-separated), as TSV.
    List {
        #[command(flatten)]
        at: StoreArgs,
    },
    /// Remove an account (its sessions end at their next request, on
    /// every api node with --db).
    Remove {
        name: String,
        #[command(flatten)]
        at: StoreArgs,
    },
    /// Lift the lock of an account after too many failures.
    Unlock {
        name: String,
        #[command(flatten)]
        at: StoreArgs,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum AuditCommand {
    /// Check the audit log's chain: exit 0 intact, 1 broken (the line is
    /// named). With --db: the regional deployment's log, in PostgreSQL.
    Verify {
        #[command(flatten)]
        at: StoreArgs,
    },
}

/// How the audit log names the command line's user.
fn who() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(uid_name);
    format!("cli:{user}")
}

/// The name of the process's user in the password database (a service,
/// a cron job or `env -i` has no `$USER`), else `uid:N`: the audit log
/// names who did it, never "unknown".
fn uid_name() -> String {
    // SAFETY: getuid cannot fail; getpwuid_r writes only into `pwd` and
    // `buf` (whose length it is given) and sets `found` to null or to
    // `&pwd`, whose `pw_name` then points into `buf`, alive here.
    unsafe {
        let uid = libc::getuid();
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found);
        if rc == 0 && !found.is_null() && !pwd.pw_name.is_null() {
            let name = std::ffi::CStr::from_ptr(pwd.pw_name).to_string_lossy();
            if !name.is_empty() {
                return name.into_owned();
            }
        }
        format!("uid:{uid}")
    }
}

/// The password: one line of stdin when it is not a terminal (only the
/// line end is removed), else asked twice without echo.
fn read_password() -> Result<String> {
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        return Ok(line.to_string());
    }
    let first = rpassword::prompt_password("Mot de passe / Password: ")?;
    let again = rpassword::prompt_password("Encore une fois / Again: ")?;
    if first != again {
        return Err(anyhow!("the two passwords differ; nothing was created"));
    }
    Ok(first)
}

fn usage_or_fail(e: UserError) -> Result<ExitCode> {
    match e {
        UserError::Exists(_)
        | UserError::NoSuch(_)
        | UserError::BadName(_)
        | UserError::BadTenant(_)
        | UserError::AdminOfSome(_)
        | UserError::BadPassword => {
            eprintln!("vigie: error: {e}");
            Ok(ExitCode::from(2))
        }
        other => Err(anyhow!("{other}")),
    }
}

pub fn run(cmd: UserCommand) -> Result<ExitCode> {
    let at = match &cmd {
        UserCommand::Add { at, .. }
        | UserCommand::List { at }
        | UserCommand::Remove { at, .. }
        | UserCommand::Unlock { at, .. } => at,
    };
    let kept = match at.kept(None) {
        Ok(k) => k,
        Err(e) => return usage(e),
    };
    let store = kept.users()?;
    match cmd {
        UserCommand::Add {
            name,
            role,
            totp,
            tenant,
            ..
        } => {
            let Some(role) = Role::parse(&role) else {
                return usage(format!(
                    "--role {role:?}: admin, analyst, crisis, communication or viewer"
                ));
            };
            let password = read_password()?;
            let made = users::new_user(&name, role, &password, totp, None).and_then(
                |(mut user, added)| {
                    users::assign(&mut user, &tenant)?;
                    let said = user.communes_text();
                    store.add(user).map(|()| (added, said))
                },
            );
            match made {
                Ok((added, communes)) => {
                    // The audit line names what the account reads.
                    let target = if communes.is_empty() {
                        name.clone()
                    } else {
                        format!("{name} (tenant {communes})")
                    };
                    kept.record(Action::UserAdd, &target, Outcome::Success)?;
                    if let Some(uri) = added.otpauth {
                        // Shown here only: the authenticator app scans or
                        // takes it now.
                        println!("{uri}");
                    }
                    if communes.is_empty() {
                        eprintln!("vigie: account {name:?} created ({role})");
                    } else if communes.contains(',') {
                        eprintln!(
                            "vigie: account {name:?} created ({role}, reads the communes {communes} only)"
                        );
                    } else {
                        eprintln!(
                            "vigie: account {name:?} created ({role}, reads tenant {communes:?} only)"
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    kept.record(Action::UserAdd, &name, Outcome::Failure)?;
                    usage_or_fail(e)
                }
            }
        }
        UserCommand::List { .. } => {
            let now = vigie_console::now();
            let all = store.list().map_err(|e| anyhow!("{e}"))?;
            println!("name\trole\ttotp\tlocked_until\tcreated\ttenant");
            for u in all {
                let locked = u
                    .locked_until
                    .filter(|t| *t > now)
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    u.name,
                    u.role,
                    if u.totp.is_some() { "yes" } else { "no" },
                    locked,
                    u.created,
                    u.communes_text()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Remove { name, .. } => match store.remove(&name) {
            Ok(()) => {
                kept.record(Action::UserRemove, &name, Outcome::Success)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                kept.record(Action::UserRemove, &name, Outcome::Failure)?;
                usage_or_fail(e)
            }
        },
        UserCommand::Unlock { name, .. } => match store.unlock(&name) {
            Ok(()) => {
                kept.record(Action::UserUnlock, &name, Outcome::Success)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                kept.record(Action::UserUnlock, &name, Outcome::Failure)?;
                usage_or_fail(e)
            }
        },
    }
}

pub fn run_audit(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { at } => {
            let kept = match at.kept(None) {
                Ok(k) => k,
                Err(e) => return usage(e),
            };
            let (place, checked) = match &kept {
                // A directory not yet started by this version: its
                // former file is checked where it is (a check changes
                // nothing); else the log in state.db.
                Kept::Data(data)
                    if !data.join(vigie_state::FILE).exists() && audit::file(data).exists() =>
                {
                    let path = audit::file(data);
                    let checked =
                        audit::verify(data).map_err(|e| anyhow!("{}: {e}", path.display()))?;
                    (path.display().to_string(), checked)
                }
                Kept::Data(data) if !data.join(vigie_state::FILE).exists() => {
                    (data.join(vigie_state::FILE).display().to_string(), Ok(0))
                }
                Kept::Data(_) => {
                    let log = kept.audit()?;
                    let text = log.read().map_err(|e| anyhow!("{}: {e}", log.place()))?;
                    (log.place(), audit::verify_bytes(&text))
                }
                Kept::Db(_) => {
                    let log = kept.audit()?;
                    let text = log.read().map_err(|e| anyhow!("{}: {e}", log.place()))?;
                    (log.place(), audit::verify_bytes(&text))
                }
            };
            match checked {
                Ok(n) => {
                    eprintln!("vigie: {place}: {n} line(s), chain intact");
                    Ok(ExitCode::SUCCESS)
                }
                Err(broken) => {
                    eprintln!("vigie: {place}: broken at {broken}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// Who runs the command, as the audit log names them (`cli:USER`).
pub fn cli_who() -> String {
    who()
}
