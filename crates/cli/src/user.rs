//! `vigie user` and `vigie audit`: the console's accounts and its audit
//! log, from the server's shell (thin wrappers around `vigie-console`).

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Subcommand;
use vigie_console::audit::{self, Action, Outcome};
use vigie_console::users::{self, UserError};
use vigie_console::Role;

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
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Also give a second factor to a role that does not require one.
        #[arg(long)]
        totp: bool,
        /// The commune (tenant) the account belongs to: it reads that
        /// tenant's data only, whatever its role (a CSIRT serving several
        /// communes). Without it: the deployment's own account.
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
    },
    /// List the accounts (name, role, second factor, lock), as TSV.
    List {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Remove an account (its sessions end at their next request).
    Remove {
        name: String,
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Lift the lock of an account after too many failures.
    Unlock {
        name: String,
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum AuditCommand {
    /// Check the audit log's chain: exit 0 intact, 1 broken (the line is named).
    Verify {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

/// How the audit log names the command line's user.
fn who() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

fn record(data: &Path, action: Action, target: &str, outcome: Outcome) -> Result<()> {
    audit::append(data, &who(), "local", action, target, outcome)
        .map_err(|e| anyhow!("{}: {e}", audit::file(data).display()))
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
        | UserError::BadPassword => {
            eprintln!("vigie: error: {e}");
            Ok(ExitCode::from(2))
        }
        other => Err(anyhow!("{other}")),
    }
}

pub fn run(cmd: UserCommand) -> Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            name,
            role,
            data,
            totp,
            tenant,
        } => {
            let Some(role) = Role::parse(&role) else {
                eprintln!(
                    "vigie: error: --role {role:?}: admin, analyst, crisis, communication or viewer"
                );
                return Ok(ExitCode::from(2));
            };
            let password = read_password()?;
            match users::add(&data, &name, role, &password, totp, tenant.as_deref()) {
                Ok(added) => {
                    record(&data, Action::UserAdd, &name, Outcome::Success)?;
                    if let Some(uri) = added.otpauth {
                        // Shown here only: the authenticator app scans or
                        // takes it now.
                        println!("{uri}");
                    }
                    match &tenant {
                        Some(t) => eprintln!(
                            "vigie: account {name:?} created ({role}, reads tenant {t:?} only)"
                        ),
                        None => eprintln!("vigie: account {name:?} created ({role})"),
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    record(&data, Action::UserAdd, &name, Outcome::Failure)?;
                    usage_or_fail(e)
                }
            }
        }
        UserCommand::List { data } => {
            let now = vigie_console::now();
            println!("name\trole\ttotp\tlocked_until\tcreated\ttenant");
            for u in users::load(&data)? {
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
                    u.tenant.as_deref().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Remove { name, data } => match users::remove(&data, &name) {
            Ok(()) => {
                record(&data, Action::UserRemove, &name, Outcome::Success)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                record(&data, Action::UserRemove, &name, Outcome::Failure)?;
                usage_or_fail(e)
            }
        },
        UserCommand::Unlock { name, data } => match users::unlock(&data, &name) {
            Ok(()) => {
                record(&data, Action::UserUnlock, &name, Outcome::Success)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                record(&data, Action::UserUnlock, &name, Outcome::Failure)?;
                usage_or_fail(e)
            }
        },
    }
}

pub fn run_audit(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { data } => {
            let path = audit::file(&data);
            match audit::verify(&data).map_err(|e| anyhow!("{}: {e}", path.display()))? {
                Ok(n) => {
                    eprintln!("vigie: {}: {n} line(s), chain intact", path.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(broken) => {
                    eprintln!("vigie: {}: broken at {broken}", path.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// Records a token's revocation (called by `vigie token revoke`).
pub fn token_revoked(data: &Path, target: &str) -> Result<()> {
    record(data, Action::TokenRevoke, target, Outcome::Success)
}

/// Who runs the command, as the audit log names them (`cli:USER`).
pub fn cli_who() -> String {
    who()
}

/// Records a token's creation (called by `vigie token create`).
pub fn token_created(data: &Path, name: &str, scope: &str) -> Result<()> {
    record(
        data,
        Action::TokenCreate,
        &format!("{name} ({scope})"),
        Outcome::Success,
    )
}
