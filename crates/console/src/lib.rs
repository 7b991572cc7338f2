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
//! - [`accounts`]: the traits the accounts and sessions are kept behind
//!   (these files and memory, or PostgreSQL with `--db`).
//! - [`audit`]: the hash-chained `audit.jsonl`.
//! - [`web`]: the login and console pages and their handlers.
//! - [`pages`]: the frame and pieces of the incident, detection and
//!   filter pages (the report's look).

pub mod accounts;
pub mod audit;
pub mod pages;
pub mod role;
pub mod sessions;
pub mod users;
pub mod web;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use role::Role;
pub use sessions::Session;

use audit::{Action, Outcome};
use sessions::{LoginThrottle, Sessions, Throttle};

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
    /// The accounts' store (or the login throttle's, or the sessions')
    /// cannot answer now: neither "wrong" nor "too many attempts" — a
    /// person told either would retype a right password or wait for
    /// nothing, and an outage would read as an attack. Nobody is let in.
    Unavailable,
    /// Disabled by an administrator (said only to whoever gave its right
    /// password and code: to anyone else it is a wrong login).
    Disabled,
}

/// The state behind the console: where the accounts, the sessions and
/// the audit log are, the throttles.
pub struct Console {
    data: PathBuf,
    /// `users.json`, or PostgreSQL (every api node the same accounts).
    pub users: Arc<dyn accounts::UserStore>,
    /// In memory, or PostgreSQL (a session valid on every api node).
    pub sessions: Arc<dyn accounts::SessionStore>,
    /// Per address and per unknown name: in memory, or PostgreSQL (every
    /// api node counts the same failures).
    throttle: Arc<dyn LoginThrottle>,
    /// Where the audit log goes (`audit.jsonl`, or PostgreSQL).
    audit_log: Arc<dyn audit::AuditLog>,
    /// Set once an account was seen: the login page, open to anyone, then
    /// no longer asks the store (a read of every account per request).
    users_seen: std::sync::atomic::AtomicBool,
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Console {
    pub fn new(data: &Path) -> Console {
        Console {
            data: data.to_path_buf(),
            users: Arc::new(accounts::FileUsers::new(data)),
            sessions: Arc::new(Sessions::default()),
            throttle: Arc::new(Throttle::default()),
            audit_log: Arc::new(audit::FileAudit {
                data: data.to_path_buf(),
            }),
            users_seen: Default::default(),
        }
    }

    /// The same, with the audit log kept in `log` (the regional
    /// deployment's database: one chain for every api node).
    pub fn with_audit_log(mut self, log: Arc<dyn audit::AuditLog>) -> Console {
        self.audit_log = log;
        self
    }

    /// The same, with the accounts and sessions kept in `users` and
    /// `sessions` (the regional deployment's database: a login valid on
    /// every api node, an account removed or locked refused on all).
    pub fn with_accounts(
        mut self,
        users: Arc<dyn accounts::UserStore>,
        sessions: Arc<dyn accounts::SessionStore>,
    ) -> Console {
        self.users = users;
        self.sessions = sessions;
        self
    }

    /// The same, with login failures per address and per unknown name
    /// counted in `throttle` (the regional deployment's database).
    pub fn with_throttle(mut self, throttle: Arc<dyn LoginThrottle>) -> Console {
        self.throttle = throttle;
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
    /// first one when none does). Accounts unreadable: said, and taken
    /// as existing (the page must not invite to create a first admin).
    pub fn has_users(&self) -> bool {
        use std::sync::atomic::Ordering;
        if self.users_seen.load(Ordering::Relaxed) {
            return true;
        }
        match self.users.list() {
            Ok(u) => {
                self.users_seen.store(!u.is_empty(), Ordering::Relaxed);
                !u.is_empty()
            }
            Err(e) => {
                eprintln!("vigie serve: accounts {}: {e}", self.users.place());
                true
            }
        }
    }

    /// The live session of a cookie id, if its account still exists with
    /// the same role and tenant. A store that cannot answer refuses (said
    /// on stderr): a session is never taken on trust.
    pub fn session(&self, id: &str, now: i64) -> Option<Session> {
        self.session_checked(id, now).unwrap_or(None)
    }

    /// [`Console::session`], telling a store that cannot answer (`Err`,
    /// said on stderr) from a session that is not there (`Ok(None)`).
    /// Why: during a PostgreSQL outage the console must say the store is
    /// unavailable (503), not send a signed-in technician to `/login` as
    /// if the session had ended — it has not, and signing in cannot work
    /// either until the store is back.
    pub fn session_checked(&self, id: &str, now: i64) -> Result<Option<Session>, String> {
        let s = match self.sessions.touch(id, now) {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(None),
            Err(e) => {
                eprintln!("vigie serve: sessions: {e}");
                return Err(format!("sessions: {e}"));
            }
        };
        match self.users.still(&s) {
            Ok(Some(assigned)) => Ok(Some(Session { assigned, ..s })),
            Ok(None) => {
                if let Err(e) = self.sessions.close_user(&s.user) {
                    eprintln!("vigie serve: sessions: {e}");
                }
                Ok(None)
            }
            Err(e) => {
                eprintln!("vigie serve: accounts {}: {e}", self.users.place());
                Err(format!("accounts: {e}"))
            }
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
        match self.throttle.ip_blocked(ip, now) {
            Ok(false) => {}
            Ok(true) => {
                self.audit(name, &from, Action::LoginFailed, name, Outcome::Refused);
                return Err(Refusal::Throttled);
            }
            // The store said why on stderr.
            Err(_) => {
                self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
                return Err(Refusal::Unavailable);
            }
        }
        let found = match self.users.get(name) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("vigie serve: accounts {}: {e}", self.users.place());
                self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
                return Err(Refusal::Unavailable);
            }
        };
        let Some(user) = found else {
            // As long as a real check, and locking the same way.
            let _ = users::verify_password(users::decoy(), password);
            self.throttle.ip_failed(ip, now);
            match self.throttle.unknown_locked(name, now) {
                Ok(false) => {}
                Ok(true) => {
                    self.audit(name, &from, Action::LoginFailed, name, Outcome::Refused);
                    return Err(Refusal::Locked);
                }
                Err(_) => {
                    self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
                    return Err(Refusal::Unavailable);
                }
            }
            self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
            if self.throttle.unknown_failed(name, now).is_some() {
                self.audit(name, &from, Action::Lockout, name, Outcome::Success);
                return Err(Refusal::Locked);
            }
            return Err(Refusal::Wrong);
        };
        // A lock that cannot be read refuses (said): never taken as "free".
        let locked = match self.users.locked(&user, now) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("vigie serve: accounts {}: {e}", self.users.place());
                self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
                return Err(Refusal::Unavailable);
            }
        };
        if locked {
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
        if user.disabled && password_ok && step.is_some() {
            // Before the code is marked used and the login kept.
            self.audit(name, &from, Action::LoginFailed, name, Outcome::Refused);
            return Err(Refusal::Disabled);
        }
        let fresh = match (password_ok, step) {
            // A code that could not be marked used (the store failed, or
            // another node took it first) is not accepted.
            (true, Some(step)) => match self.users.succeeded(name, step, now) {
                Ok(fresh) => fresh,
                Err(e) => {
                    // Not a failure of the person's: not counted as one.
                    eprintln!("vigie serve: accounts {}: {e}", self.users.place());
                    self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
                    return Err(Refusal::Unavailable);
                }
            },
            _ => false,
        };
        if password_ok
            && !fresh
            && self
                .users
                .get(name)
                .ok()
                .flatten()
                .is_some_and(|u| self.users.locked(&u, now).unwrap_or(true))
        {
            // Locked while this password was being checked.
            self.throttle.ip_failed(ip, now);
            self.audit(name, &from, Action::LoginFailed, name, Outcome::Refused);
            return Err(Refusal::Locked);
        }
        if fresh {
            return match self.sessions.open(name, role, tenant, now) {
                Ok((id, mut session)) => {
                    self.audit(name, &from, Action::Login, name, Outcome::Success);
                    // Not kept with the session (read with the account at
                    // each request): given here for where the login goes.
                    session.assigned = user.assigned.clone();
                    Ok((id, session))
                }
                Err(e) => {
                    eprintln!("vigie serve: sessions: {e}");
                    self.audit(name, &from, Action::Login, name, Outcome::Failure);
                    Err(Refusal::Unavailable)
                }
            };
        }
        self.throttle.ip_failed(ip, now);
        self.audit(name, &from, Action::LoginFailed, name, Outcome::Failure);
        let locked = match self.users.failed(name, now) {
            Ok(locked) => locked.is_some(),
            Err(e) => {
                eprintln!("vigie serve: accounts {}: {e}", self.users.place());
                false
            }
        };
        if locked {
            if let Err(e) = self.sessions.close_user(name) {
                eprintln!("vigie serve: sessions: {e}");
            }
            self.audit(name, &from, Action::Lockout, name, Outcome::Success);
            Err(Refusal::Locked)
        } else {
            Err(Refusal::Wrong)
        }
    }
}
