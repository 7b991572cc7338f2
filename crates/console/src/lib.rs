//! The console's own accounts, sessions and audit log.
//!
//! Accounts are local (Argon2id, TOTP for admins), never the Active
//! Directory's: the console must keep working when the AD is what was
//! taken. `vigie serve` builds its router and its one authorisation
//! check from this crate and its own token store: a request carries a
//! token (shippers, scripts) or a session cookie (people); see
//! docs/console.md.
//!
//! - [`users`]: `users.json`, the accounts, hashes, second factor, lock.
//! - [`sessions`]: sessions in memory, expiries, throttles.
//! - [`audit`]: the hash-chained `audit.jsonl`.
//! - [`web`]: the login and console pages and their handlers.
//! - [`pages`]: the frame and pieces of the incident, detection and
//!   filter pages (the report's look).

pub mod audit;
pub mod pages;
pub mod role;
pub mod sessions;
pub mod users;
pub mod web;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use role::Role;
pub use sessions::Session;

use audit::{Action, Outcome};
use sessions::{Sessions, Throttle};

/// Who a request is from, once checked (put in the request's extensions
/// by the server's authorisation check).
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person signed in: the session's cookie id is kept to close it.
    Person { id: String, session: Session },
    /// A token, by its name and scope (`ingest`, `read`, `admin`).
    Token { name: String, scope: String },
}

impl Principal {
    /// How the audit log names it.
    pub fn who(&self) -> String {
        match self {
            Principal::Person { session, .. } => session.user.clone(),
            Principal::Token { name, .. } => format!("token:{name}"),
        }
    }
}

/// Why a login was refused. The page says the same for a wrong name, a
/// wrong password and a wrong code; a lock is said as a lock whether the
/// name exists or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Wrong,
    Locked,
    /// Too many failures from this address.
    Throttled,
}

/// The state behind the console: where the accounts and the audit log
/// are, the sessions, the throttles.
pub struct Console {
    data: PathBuf,
    pub sessions: Sessions,
    throttle: Throttle,
    /// Orders this process's read-modify-write of `users.json`.
    users_lock: Mutex<()>,
    /// Where the audit log goes (`audit.jsonl`, or PostgreSQL).
    audit_log: std::sync::Arc<dyn audit::AuditLog>,
    /// Accounts (name, role) as last read, with the file's mtime: a
    /// session of an account removed or changed on disk ends at its next
    /// request.
    accounts: Mutex<Accounts>,
}

/// The accounts' names, roles and tenants, with the mtime of the file
/// read.
type Accounts = (
    Option<std::time::SystemTime>,
    Vec<(String, Role, Option<String>)>,
);

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Console {
    pub fn new(data: &Path) -> Console {
        Console {
            data: data.to_path_buf(),
            sessions: Sessions::default(),
            throttle: Throttle::default(),
            users_lock: Mutex::new(()),
            accounts: Mutex::new((None, Vec::new())),
            audit_log: std::sync::Arc::new(audit::FileAudit {
                data: data.to_path_buf(),
            }),
        }
    }

    /// The same, with the audit log kept in `log` (the regional
    /// deployment's database: one chain for every api node).
    pub fn with_audit_log(mut self, log: std::sync::Arc<dyn audit::AuditLog>) -> Console {
        self.audit_log = log;
        self
    }

    /// The whole audit log as JSON Lines (blocking).
    pub fn audit_text(&self) -> std::io::Result<Vec<u8>> {
        self.audit_log.read()
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    /// Appends to the audit log; a failure to write is said on stderr
    /// (the action itself already happened or was refused).
    pub fn audit(&self, who: &str, from: &str, action: Action, target: &str, outcome: Outcome) {
        if let Err(e) = self.audit_log.append(who, from, action, target, outcome) {
            eprintln!("vigie serve: audit log {}: {e}", self.audit_log.place());
        }
    }

    /// Whether any account exists (the login page says how to create the
    /// first one when none does).
    pub fn has_users(&self) -> bool {
        !self.accounts().is_empty()
    }

    fn accounts(&self) -> Vec<(String, Role, Option<String>)> {
        let mtime = std::fs::metadata(self.data.join("users.json"))
            .and_then(|m| m.modified())
            .ok();
        let mut c = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if c.0 != mtime || mtime.is_none() {
            match users::load(&self.data) {
                Ok(u) => {
                    *c = (
                        mtime,
                        u.into_iter().map(|u| (u.name, u.role, u.tenant)).collect(),
                    )
                }
                Err(e) => eprintln!("vigie serve: {e}"),
            }
        }
        c.1.clone()
    }

    /// The live session of a cookie id, if its account still exists with
    /// the same role and tenant.
    pub fn session(&self, id: &str, now: i64) -> Option<Session> {
        let s = self.sessions.touch(id, now)?;
        if self
            .accounts()
            .iter()
            .any(|(n, r, t)| *n == s.user && *r == s.role && *t == s.tenant)
        {
            Some(s)
        } else {
            self.sessions.close_user(&s.user);
            None
        }
    }

    /// Checks a login (blocking: Argon2 takes tens of milliseconds) and
    /// opens a session. Every outcome is audited.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        code: &str,
        ip: IpAddr,
        now: i64,
    ) -> Result<(String, Session), Refusal> {
        let from = ip.to_string();
        if self.throttle.ip_blocked(ip, now) {
            self.audit(name, &from, Action::LoginFailed, name, Outcome::Refused);
            return Err(Refusal::Throttled);
        }
        let _guard = self.users_lock.lock().unwrap_or_else(|e| e.into_inner());
        let all = match users::load(&self.data) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("vigie serve: {e}");
                return Err(Refusal::Wrong);
            }
        };
        let Some(user) = all.iter().find(|u| u.name == name) else {
            // As long as a real check, and locking the same way.
            let _ = users::verify_password(users::decoy(), password);
            self.throttle.ip_failed(ip, now);
            if self.throttle.unknown_locked(name, now) {
                self.audit(name, &from, Action::LoginFailed, name, Outcome::Refused);
                return Err(Refusal::Locked);
            }
            self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
            if self.throttle.unknown_failed(name, now).is_some() {
                self.audit(name, &from, Action::Lockout, name, Outcome::Success);
                return Err(Refusal::Locked);
            }
            return Err(Refusal::Wrong);
        };
        if user.locked_at(now) {
            self.throttle.ip_failed(ip, now);
            self.audit(name, &from, Action::LoginFailed, name, Outcome::Refused);
            return Err(Refusal::Locked);
        }
        let password_ok = users::verify_password(&user.password, password);
        let step = match &user.totp {
            None => Some(None),
            Some(secret) => users::totp(&user.name, secret)
                .ok()
                .and_then(|t| t.check(code.trim(), now.max(0) as u64))
                .filter(|s| user.totp_step.is_none_or(|last| *s > last))
                .map(Some),
        };
        let role = user.role;
        let tenant = user.tenant.clone();
        match (password_ok, step) {
            (true, Some(step)) => {
                let r = users::update(&self.data, name, |u| {
                    u.failures = 0;
                    if step.is_some() {
                        u.totp_step = step;
                    }
                });
                if let Err(e) = r {
                    // A code that could not be marked used is not accepted.
                    eprintln!("vigie serve: {e}");
                    return Err(Refusal::Wrong);
                }
                self.audit(name, &from, Action::Login, name, Outcome::Success);
                Ok(self.sessions.open(name, role, tenant, now))
            }
            _ => {
                self.throttle.ip_failed(ip, now);
                self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
                let mut locked = false;
                let r = users::update(&self.data, name, |u| {
                    u.failures += 1;
                    if u.failures >= users::MAX_FAILURES {
                        u.failures = 0;
                        u.locked_until = Some(now + users::LOCK_SECONDS);
                        locked = true;
                    }
                });
                if let Err(e) = r {
                    eprintln!("vigie serve: {e}");
                }
                if locked {
                    self.sessions.close_user(name);
                    self.audit(name, &from, Action::Lockout, name, Outcome::Success);
                    Err(Refusal::Locked)
                } else {
                    Err(Refusal::Wrong)
                }
            }
        }
    }
}
