//! Where the console's accounts and sessions are kept, behind two small
//! traits: the embedded backend (`users.json` and sessions in this
//! process's memory) and the regional one (PostgreSQL, `vigie-db`), so
//! that with `--db` a login on one api node is valid on every other, and
//! an account removed or locked on one is refused on all.
//!
//! The traits are blocking: the console checks a login from a blocking
//! task (Argon2 takes tens of milliseconds) and a session from the
//! authorisation check, as the audit log's appends always were.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::sessions::{Session, Sessions};
use crate::users::{self, User, UserError};
use crate::Role;

/// The accounts.
pub trait UserStore: Send + Sync {
    /// Every account, in the order they were made.
    fn list(&self) -> Result<Vec<User>, UserError>;
    /// One account.
    fn get(&self, name: &str) -> Result<Option<User>, UserError> {
        Ok(self.list()?.into_iter().find(|u| u.name == name))
    }
    /// Keeps a new account ([`users::new_user`]); a name taken is
    /// [`UserError::Exists`].
    fn add(&self, user: User) -> Result<(), UserError>;
    /// Removes an account ([`UserError::NoSuch`] when there is none).
    fn remove(&self, name: &str) -> Result<(), UserError>;
    /// Lifts a lock and forgets the failures.
    fn unlock(&self, name: &str) -> Result<(), UserError>;
    /// A login succeeded: the failures are forgotten and `step` (the TOTP
    /// time step accepted) kept. `false`, nothing changed: the step is not
    /// after the last one used, the code was already spent (on this node
    /// or another).
    ///
    /// Not taken (`false`) while the account is locked at `now`: a right
    /// guess still being checked when other guesses locked the account
    /// (concurrent logins, on this node or another) does not open it.
    fn succeeded(&self, name: &str, step: Option<u64>, now: i64) -> Result<bool, UserError>;
    /// A failed login: one more failure; at [`users::MAX_FAILURES`] the
    /// account is locked for [`users::LOCK_SECONDS`] from `now` and the
    /// failures start again: `Some(until)` then.
    fn failed(&self, name: &str, now: i64) -> Result<Option<i64>, UserError>;
    /// Whether `user` (as read by [`UserStore::get`]) is locked at `now`.
    ///
    /// Why a call of the store and not [`User::locked_at`]: a store
    /// shared by several nodes (PostgreSQL) keeps locks by its own clock,
    /// which a node's `now` must neither lengthen nor cut; it answers by
    /// that clock. A store of one process goes by `now`.
    fn locked(&self, user: &User, now: i64) -> Result<bool, UserError> {
        Ok(user.locked_at(now))
    }
    /// Whether the account of a session still exists with its role and
    /// tenant (a session of an account removed or changed ends): its
    /// assigned communes when it does (read at every request: a change
    /// of the set holds from the next one), `None` when it does not.
    fn still(&self, s: &Session) -> Result<Option<Vec<String>>, UserError> {
        Ok(self
            .list()?
            .into_iter()
            .find(|u| u.name == s.user && u.role == s.role && u.tenant == s.tenant && !u.disabled)
            .map(|u| u.assigned))
    }
    /// Changes an account as the accounts page does: its role, commune
    /// or communes, password (hash), disabled or not — the rest (second
    /// factor, failures, lock) as it is. [`UserError::NoSuch`] when
    /// there is none.
    fn amend(&self, user: &User) -> Result<(), UserError>;
    /// Where they are, for messages (never a password).
    fn place(&self) -> String;
}

/// The sessions of people signed in.
pub trait SessionStore: Send + Sync {
    /// Opens a session; the id for the cookie (only its SHA-256 is kept)
    /// and the session.
    fn open(
        &self,
        user: &str,
        role: Role,
        tenant: Option<String>,
        now: i64,
    ) -> std::io::Result<(String, Session)>;
    /// The live session of `id`, its idle clock restarted; an expired one
    /// is ended.
    fn touch(&self, id: &str, now: i64) -> std::io::Result<Option<Session>>;
    /// Ends one session.
    fn close(&self, id: &str) -> std::io::Result<()>;
    /// Ends every session of an account (removed, locked, changed).
    fn close_user(&self, user: &str) -> std::io::Result<()>;
}

/// `users.json` under a data directory, read again when it changes (a
/// `vigie user` command changes it while the server runs).
pub struct FileUsers {
    data: PathBuf,
    /// Orders this process's read-modify-write of the file.
    lock: Mutex<()>,
    /// The accounts as last read, with the file's mtime.
    cached: Mutex<(Option<std::time::SystemTime>, Vec<User>)>,
}

impl FileUsers {
    pub fn new(data: &Path) -> FileUsers {
        FileUsers {
            data: data.to_path_buf(),
            lock: Mutex::new(()),
            cached: Mutex::new((None, Vec::new())),
        }
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut User)) -> Result<(), UserError> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        users::update(&self.data, name, f)
    }
}

impl UserStore for FileUsers {
    fn list(&self) -> Result<Vec<User>, UserError> {
        let mtime = std::fs::metadata(self.data.join("users.json"))
            .and_then(|m| m.modified())
            .ok();
        let mut c = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if c.0 != mtime || mtime.is_none() {
            *c = (mtime, users::load(&self.data)?);
        }
        Ok(c.1.clone())
    }

    fn get(&self, name: &str) -> Result<Option<User>, UserError> {
        // Read afresh: a login decides on the file as it is now.
        Ok(users::load(&self.data)?
            .into_iter()
            .find(|u| u.name == name))
    }

    fn add(&self, user: User) -> Result<(), UserError> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        users::insert(&self.data, user)
    }

    fn remove(&self, name: &str) -> Result<(), UserError> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        users::remove(&self.data, name)
    }

    fn unlock(&self, name: &str) -> Result<(), UserError> {
        self.update(name, |u| {
            u.failures = 0;
            u.locked_until = None;
        })
    }

    fn succeeded(&self, name: &str, step: Option<u64>, now: i64) -> Result<bool, UserError> {
        let mut fresh = true;
        self.update(name, |u| {
            if u.locked_at(now) {
                fresh = false;
                return;
            }
            if let Some(step) = step {
                if u.totp_step.is_some_and(|last| step <= last) {
                    fresh = false;
                    return;
                }
                u.totp_step = Some(step);
            }
            u.failures = 0;
            u.last_login = Some(now);
        })?;
        Ok(fresh)
    }

    fn amend(&self, user: &User) -> Result<(), UserError> {
        self.update(&user.name, |u| {
            u.role = user.role;
            u.password = user.password.clone();
            u.tenant = user.tenant.clone();
            u.assigned = user.assigned.clone();
            u.disabled = user.disabled;
        })
    }

    fn failed(&self, name: &str, now: i64) -> Result<Option<i64>, UserError> {
        let mut locked = None;
        self.update(name, |u| {
            u.failures += 1;
            if u.failures >= users::MAX_FAILURES {
                u.failures = 0;
                u.locked_until = Some(now + users::LOCK_SECONDS);
                locked = u.locked_until;
            }
        })?;
        Ok(locked)
    }

    fn place(&self) -> String {
        self.data.join("users.json").display().to_string()
    }
}

impl SessionStore for Sessions {
    fn open(
        &self,
        user: &str,
        role: Role,
        tenant: Option<String>,
        now: i64,
    ) -> std::io::Result<(String, Session)> {
        Ok(Sessions::open(self, user, role, tenant, now))
    }

    fn touch(&self, id: &str, now: i64) -> std::io::Result<Option<Session>> {
        Ok(Sessions::touch(self, id, now))
    }

    fn close(&self, id: &str) -> std::io::Result<()> {
        Sessions::close(self, id);
        Ok(())
    }

    fn close_user(&self, user: &str) -> std::io::Result<()> {
        Sessions::close_user(self, user);
        Ok(())
    }
}

/// The contract every backend meets, written once and run on each (the
/// embedded one in this crate's tests, PostgreSQL in `vigie-db`'s).
/// `users` and `sessions` must start empty; `other` is a second view of
/// the same sessions (another api node on the same database; the same
/// store again for the embedded backend, which is one process's).
pub mod conformance {
    use super::*;
    use crate::sessions::{ABSOLUTE_SECONDS, IDLE_SECONDS};

    /// `by_callers_now`: the store decides by the `now` it is given (one
    /// process's store), so time is moved on by passing a later one. A
    /// store deciding by its own clock (PostgreSQL's, shared by nodes)
    /// cannot be moved on so: those parts are checked with it
    /// (`crates/db/tests/clock.rs`).
    pub fn user_store(store: &dyn UserStore, by_callers_now: bool) {
        assert!(store.list().unwrap().is_empty());
        let (anne, added) =
            users::new_user("anne", Role::Admin, "correct horse battery", false, None).unwrap();
        assert!(added.otpauth.is_some(), "an admin gets a second factor");
        store.add(anne.clone()).unwrap();
        let (bob, _) = users::new_user(
            "bob",
            Role::Viewer,
            "another long one",
            false,
            Some("mairie-b"),
        )
        .unwrap();
        store.add(bob.clone()).unwrap();
        assert!(matches!(
            store.add(bob.clone()),
            Err(UserError::Exists(n)) if n == "bob"
        ));
        // A CSIRT's analyst assigned two communes: the set kept as it is.
        let (mut cyril, _) =
            users::new_user("cyril", Role::Analyst, "a third long one", false, None).unwrap();
        users::assign(
            &mut cyril,
            &["quimper".into(), "concarneau".into(), "quimper".into()],
        )
        .unwrap();
        assert_eq!(cyril.assigned, ["concarneau", "quimper"]);
        store.add(cyril.clone()).unwrap();
        let all = store.list().unwrap();
        assert_eq!(
            all.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["anne", "bob", "cyril"],
            "in the order made"
        );
        let got = store.get("cyril").unwrap().unwrap();
        assert_eq!((got.tenant, got.assigned), (None, cyril.assigned.clone()));
        assert_eq!(all[1].assigned, Vec::<String>::new());
        let cyril_session = Session {
            user: "cyril".into(),
            role: Role::Analyst,
            tenant: None,
            assigned: Vec::new(),
            picker: None,
            csrf: String::new(),
            created: 0,
            last: 0,
        };
        assert_eq!(
            store.still(&cyril_session).unwrap(),
            Some(cyril.assigned.clone()),
            "the set read with the account"
        );
        store.remove("cyril").unwrap();
        let got = store.get("anne").unwrap().unwrap();
        assert_eq!(got.password, anne.password);
        assert_eq!(got.totp, anne.totp);
        assert_eq!(got.role, Role::Admin);
        assert_eq!(got.tenant, None);
        assert_eq!(
            store.get("bob").unwrap().unwrap().tenant.as_deref(),
            Some("mairie-b")
        );
        assert!(store.get("nobody").unwrap().is_none());

        // A code's step is accepted once, and only after the last one.
        assert!(store.succeeded("anne", Some(100), 0).unwrap());
        assert!(!store.succeeded("anne", Some(100), 0).unwrap(), "replayed");
        assert!(!store.succeeded("anne", Some(99), 0).unwrap(), "older");
        assert!(store.succeeded("anne", Some(101), 0).unwrap());
        assert_eq!(store.get("anne").unwrap().unwrap().totp_step, Some(101));
        assert!(store.succeeded("bob", None, 0).unwrap());

        // Failures lock at the bound, the count starts again, a success
        // forgets them, an unlock lifts the lock.
        let now = 1_000_000;
        for _ in 1..users::MAX_FAILURES {
            assert_eq!(store.failed("bob", now).unwrap(), None);
        }
        assert_eq!(
            store.get("bob").unwrap().unwrap().failures,
            users::MAX_FAILURES - 1
        );
        let until = store.failed("bob", now).unwrap();
        assert_eq!(until, Some(now + users::LOCK_SECONDS));
        let b = store.get("bob").unwrap().unwrap();
        assert!(store.locked(&b, now + 1).unwrap());
        assert_eq!(b.failures, 0);
        // A right password checked while the lock was set is not taken;
        // once the lock has run out it is.
        assert!(!store.succeeded("bob", None, now + 1).unwrap(), "locked");
        assert!(store.locked(&b, now + users::LOCK_SECONDS - 1).unwrap());
        if by_callers_now {
            assert!(!store.locked(&b, now + users::LOCK_SECONDS).unwrap());
            assert!(store
                .succeeded("bob", None, now + users::LOCK_SECONDS)
                .unwrap());
        } else {
            store.unlock("bob").unwrap();
        }
        store.failed("bob", now).unwrap();
        for _ in 1..users::MAX_FAILURES {
            store.failed("bob", now).unwrap();
        }
        let b = store.get("bob").unwrap().unwrap();
        assert!(store.locked(&b, now + 1).unwrap());
        store.unlock("bob").unwrap();
        let b = store.get("bob").unwrap().unwrap();
        assert!(!store.locked(&b, now + 1).unwrap());
        store.failed("bob", now).unwrap();
        store.succeeded("bob", None, 0).unwrap();
        assert_eq!(store.get("bob").unwrap().unwrap().failures, 0);

        // A session's account still there, with its role and tenant.
        let s = |user: &str, role, tenant: Option<&str>| Session {
            user: user.into(),
            role,
            tenant: tenant.map(str::to_string),
            assigned: Vec::new(),
            picker: None,
            csrf: String::new(),
            created: 0,
            last: 0,
        };
        assert_eq!(
            store
                .still(&s("bob", Role::Viewer, Some("mairie-b")))
                .unwrap(),
            Some(Vec::new())
        );
        assert!(store
            .still(&s("bob", Role::Admin, Some("mairie-b")))
            .unwrap()
            .is_none());
        assert!(store
            .still(&s("bob", Role::Viewer, None))
            .unwrap()
            .is_none());

        store.remove("bob").unwrap();
        assert!(matches!(store.remove("bob"), Err(UserError::NoSuch(_))));
        assert!(matches!(store.unlock("bob"), Err(UserError::NoSuch(_))));
        assert!(store
            .still(&s("bob", Role::Viewer, Some("mairie-b")))
            .unwrap()
            .is_none());
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(!store.place().is_empty());
    }

    /// `users` holds the accounts the sessions are opened for (some
    /// backends tie a session to its account). `by_callers_now` as for
    /// [`user_store`]: the ends of a session (idle, absolute) are checked
    /// here by passing a later `now` only for a store that goes by it.
    pub fn session_store(
        users: &dyn UserStore,
        store: &dyn SessionStore,
        other: &dyn SessionStore,
        by_callers_now: bool,
    ) {
        for name in ["carole", "denis"] {
            if users.get(name).unwrap().is_none() {
                let (u, _) =
                    users::new_user(name, Role::Analyst, "a long password", false, None).unwrap();
                users.add(u).unwrap();
            }
        }
        let t0 = 1_000_000;
        let (id, s) = store
            .open("carole", Role::Analyst, Some("mairie-a".into()), t0)
            .unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, s.csrf);
        let seen = other
            .touch(&id, t0 + 1)
            .unwrap()
            .expect("seen by the other");
        assert_eq!(seen.user, "carole");
        assert_eq!(seen.role, Role::Analyst);
        assert_eq!(seen.tenant.as_deref(), Some("mairie-a"));
        assert_eq!(seen.csrf, s.csrf);
        // Idle: each touch restarts the clock, wherever it is made.
        if by_callers_now {
            idle_and_absolute(store, other, &id, t0);
        }
        assert!(store.touch("not-an-id", t0).unwrap().is_none());
        // Closed on one view: gone on the other.
        let (id, _) = store.open("carole", Role::Analyst, None, t0).unwrap();
        other.close(&id).unwrap();
        assert!(store.touch(&id, t0 + 1).unwrap().is_none());
        // Every session of one account ends, another's stays.
        let (c1, _) = store.open("carole", Role::Analyst, None, t0).unwrap();
        let (c2, _) = other.open("carole", Role::Analyst, None, t0).unwrap();
        let (d, _) = store.open("denis", Role::Analyst, None, t0).unwrap();
        other.close_user("carole").unwrap();
        assert!(store.touch(&c1, t0 + 1).unwrap().is_none());
        assert!(store.touch(&c2, t0 + 1).unwrap().is_none());
        assert!(store.touch(&d, t0 + 1).unwrap().is_some());
    }

    /// A session's idle and absolute ends, time moved on by `now`.
    fn idle_and_absolute(store: &dyn SessionStore, other: &dyn SessionStore, id: &str, t0: i64) {
        let id = id.to_string();
        assert!(store.touch(&id, t0 + IDLE_SECONDS - 1).unwrap().is_some());
        assert!(other
            .touch(&id, t0 + 2 * IDLE_SECONDS - 2)
            .unwrap()
            .is_some());
        assert!(
            store.touch(&id, t0 + 3 * IDLE_SECONDS).unwrap().is_none(),
            "idle too long"
        );
        assert!(
            other.touch(&id, t0 + 3 * IDLE_SECONDS).unwrap().is_none(),
            "ended"
        );
        // The absolute end, used or not.
        let (id, _) = store.open("carole", Role::Analyst, None, t0).unwrap();
        let mut t = t0;
        while t + IDLE_SECONDS / 2 < t0 + ABSOLUTE_SECONDS {
            t += IDLE_SECONDS / 2;
            assert!(store.touch(&id, t).unwrap().is_some());
        }
        assert!(store.touch(&id, t0 + ABSOLUTE_SECONDS).unwrap().is_none());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_backend_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let users = super::FileUsers::new(dir.path());
        super::conformance::user_store(&users, true);
        let sessions = crate::sessions::Sessions::default();
        super::conformance::session_store(&users, &sessions, &sessions, true);
    }
}
