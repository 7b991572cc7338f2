//! The console's accounts ([`SqliteUsers`]) and sessions
//! ([`SqliteSessions`]) in `state.db`: the same tables as the PostgreSQL
//! backend. A login's outcome is one atomic statement, so the server and
//! a `vigie user unlock` at once, or two logins at once, count failures
//! and take a TOTP step in order; an account removed takes its sessions
//! with it (`ON DELETE CASCADE`), one locked has them deleted in the same
//! transaction. Sessions kept here survive a restart of the server.
//!
//! The console's traits are blocking: the calls run in the caller's
//! thread (the console calls them from blocking tasks, as it did the
//! file's synced writes).

use std::path::Path;
use std::sync::Arc;

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use sha2::{Digest, Sha256};
use vigie_console::accounts::{SessionStore, UserStore};
use vigie_console::sessions::{random_token, ABSOLUTE_SECONDS, IDLE_SECONDS, MAX_SESSIONS};
use vigie_console::users::{self, User, UserError};
use vigie_console::{Role, Session};
use vigie_store::StoreError;

use crate::db::{Db, Failure};

fn store(e: StoreError) -> UserError {
    UserError::Store(e.to_string())
}

fn io(e: StoreError) -> std::io::Error {
    match e {
        StoreError::Io { what, source } => {
            std::io::Error::new(source.kind(), format!("{what}: {source}"))
        }
        other => std::io::Error::other(other.to_string()),
    }
}

/// The SHA-256 of a session's id, hex: all that is kept of it.
fn digest(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn role(table: &str, key: &str, text: &str) -> rusqlite::Result<Role> {
    Role::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!(
                "{table} row {key}: role {text:?} is none of Vigie's (left as it is: repair it with sqlite3)"
            )
            .into(),
        )
    })
}

const USER_COLUMNS: &str =
    "name, role, password, totp, totp_step, created, failures, locked_until, tenant, assigned, disabled, last_login";

fn user(r: &Row) -> rusqlite::Result<User> {
    let name: String = r.get(0)?;
    Ok(User {
        role: role("console_users", &name, &r.get::<_, String>(1)?)?,
        password: r.get(2)?,
        totp: r.get(3)?,
        totp_step: r.get::<_, Option<i64>>(4)?.map(|s| s.max(0) as u64),
        created: r.get(5)?,
        failures: r.get::<_, i64>(6)?.clamp(0, u32::MAX as i64) as u32,
        locked_until: r.get(7)?,
        tenant: r.get(8)?,
        assigned: users::assigned_from(&name, r.get::<_, Option<String>>(9)?.as_deref()).map_err(
            |e| {
                rusqlite::Error::FromSqlConversionFailure(
                    9,
                    rusqlite::types::Type::Text,
                    e.to_string().into(),
                )
            },
        )?,
        disabled: r.get::<_, i64>(10)? != 0,
        last_login: r.get(11)?,
        name,
    })
}

/// Keeps a new account; `false` when the name is taken. Shared with the
/// import of the former `users.json`.
pub(crate) fn insert_user(c: &rusqlite::Connection, u: &User) -> Result<bool, Failure> {
    let step = u.totp_step.map(|s| s.min(i64::MAX as u64) as i64);
    let n = c.execute(
        "INSERT INTO console_users
         (name, role, password, totp, totp_step, created, failures, locked_until, tenant, assigned, disabled, last_login)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (name) DO NOTHING",
        params![
            u.name,
            u.role.key(),
            u.password,
            u.totp,
            step,
            u.created,
            u.failures,
            u.locked_until,
            u.tenant,
            users::assigned_column(&u.assigned),
            u.disabled as i64,
            u.last_login
        ],
    )?;
    Ok(n == 1)
}

/// The console's accounts in SQLite.
pub struct SqliteUsers {
    db: Arc<Db>,
}

impl SqliteUsers {
    pub fn new(db: Arc<Db>) -> SqliteUsers {
        SqliteUsers { db }
    }

    /// The accounts of a data directory (`state.db` opened, migrated).
    pub fn open(data: &Path) -> Result<SqliteUsers, UserError> {
        Ok(SqliteUsers::new(Db::open(data).map_err(store)?))
    }
}

impl UserStore for SqliteUsers {
    fn list(&self) -> Result<Vec<User>, UserError> {
        self.db
            .call("reading the accounts", |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM console_users ORDER BY seq"
                ))?;
                let rows = st.query_map([], user)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .map_err(store)
    }

    fn get(&self, name: &str) -> Result<Option<User>, UserError> {
        self.db
            .call("reading an account", |c| {
                Ok(c.query_row(
                    &format!("SELECT {USER_COLUMNS} FROM console_users WHERE name = ?1"),
                    [name],
                    user,
                )
                .optional()?)
            })
            .map_err(store)
    }

    fn add(&self, u: User) -> Result<(), UserError> {
        let made = self
            .db
            .call("adding an account", |c| insert_user(c, &u))
            .map_err(store)?;
        if made {
            Ok(())
        } else {
            Err(UserError::Exists(u.name))
        }
    }

    fn remove(&self, name: &str) -> Result<(), UserError> {
        // Its sessions go with it (ON DELETE CASCADE).
        let n = self
            .db
            .call("removing an account", |c| {
                Ok(c.execute("DELETE FROM console_users WHERE name = ?1", [name])?)
            })
            .map_err(store)?;
        if n == 0 {
            return Err(UserError::NoSuch(name.to_string()));
        }
        Ok(())
    }

    fn unlock(&self, name: &str) -> Result<(), UserError> {
        let n = self
            .db
            .call("unlocking an account", |c| {
                Ok(c.execute(
                    "UPDATE console_users SET failures = 0, locked_until = NULL WHERE name = ?1",
                    [name],
                )?)
            })
            .map_err(store)?;
        if n == 0 {
            return Err(UserError::NoSuch(name.to_string()));
        }
        Ok(())
    }

    fn succeeded(&self, name: &str, step: Option<u64>, now: i64) -> Result<bool, UserError> {
        let step = step.map(|s| s.min(i64::MAX as u64) as i64);
        let n = self
            .db
            .call("keeping a login", |c| {
                // The step is taken only if it is after the last one: two
                // logins given the same code, one wins.
                Ok(c.execute(
                    "UPDATE console_users
                     SET failures = 0, totp_step = coalesce(?2, totp_step), last_login = ?3
                     WHERE name = ?1
                       AND (?2 IS NULL OR totp_step IS NULL OR totp_step < ?2)
                       AND (locked_until IS NULL OR locked_until <= ?3)",
                    params![name, step, now],
                )?)
            })
            .map_err(store)?;
        Ok(n == 1)
    }

    fn amend(&self, u: &User) -> Result<(), UserError> {
        let n = self
            .db
            .call("changing an account", |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let n = tx.execute(
                    "UPDATE console_users
                     SET role = ?2, password = ?3, tenant = ?4, assigned = ?5, disabled = ?6
                     WHERE name = ?1",
                    params![
                        u.name,
                        u.role.key(),
                        u.password,
                        u.tenant,
                        users::assigned_column(&u.assigned),
                        u.disabled as i64
                    ],
                )?;
                if u.disabled {
                    // Disabled: its sessions end now, not at their next
                    // request's check only.
                    tx.execute(
                        "DELETE FROM console_sessions WHERE username = ?1",
                        [&u.name],
                    )?;
                }
                tx.commit()?;
                Ok(n)
            })
            .map_err(store)?;
        if n == 0 {
            return Err(UserError::NoSuch(u.name.clone()));
        }
        Ok(())
    }

    fn failed(&self, name: &str, now: i64) -> Result<Option<i64>, UserError> {
        let max = users::MAX_FAILURES as i64;
        let until = now + users::LOCK_SECONDS;
        self.db
            .call("keeping a failed login", |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let locked: bool = tx
                    .query_row(
                        "UPDATE console_users SET
                           failures = CASE WHEN failures + 1 >= ?2 THEN 0 ELSE failures + 1 END,
                           locked_until = CASE WHEN failures + 1 >= ?2 THEN ?3 ELSE locked_until END
                         WHERE name = ?1
                         RETURNING failures = 0 AND locked_until = ?3",
                        params![name, max, until],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(false);
                if locked {
                    // Locked: its sessions end.
                    tx.execute("DELETE FROM console_sessions WHERE username = ?1", [name])?;
                }
                tx.commit()?;
                Ok(locked.then_some(until))
            })
            .map_err(store)
    }

    fn still(&self, s: &Session) -> Result<Option<Vec<String>>, UserError> {
        let column = self
            .db
            .call("reading an account", |c| {
                Ok(c.query_row(
                    "SELECT assigned FROM console_users
                     WHERE name = ?1 AND role = ?2 AND tenant IS ?3 AND disabled = 0",
                    params![s.user, s.role.key(), s.tenant],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()?)
            })
            .map_err(store)?;
        column
            .map(|c| users::assigned_from(&s.user, c.as_deref()))
            .transpose()
    }

    fn place(&self) -> String {
        format!("{} (console_users)", self.db.place())
    }
}

/// The console's sessions in SQLite.
pub struct SqliteSessions {
    db: Arc<Db>,
}

impl SqliteSessions {
    pub fn new(db: Arc<Db>) -> SqliteSessions {
        SqliteSessions { db }
    }
}

impl SessionStore for SqliteSessions {
    fn open(
        &self,
        user: &str,
        role: Role,
        tenant: Option<String>,
        now: i64,
    ) -> std::io::Result<(String, Session)> {
        let id = random_token();
        let s = Session {
            user: user.to_string(),
            role,
            tenant,
            assigned: Vec::new(),
            picker: None,
            csrf: random_token(),
            created: now,
            last: now,
        };
        let hash = digest(&id);
        let max = MAX_SESSIONS as i64;
        self.db
            .call("opening a session", |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                // Ended ones go; past the bound, the least recently used
                // (nothing unbounded).
                tx.execute(
                    "DELETE FROM console_sessions WHERE last <= ?1 OR created <= ?2",
                    params![now - IDLE_SECONDS, now - ABSOLUTE_SECONDS],
                )?;
                tx.execute(
                    "DELETE FROM console_sessions WHERE hash IN (
                       SELECT hash FROM console_sessions ORDER BY last DESC LIMIT -1 OFFSET ?1)",
                    [max - 1],
                )?;
                tx.execute(
                    "INSERT INTO console_sessions (hash, username, tenant, role, csrf, created, last)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![hash, s.user, s.tenant, s.role.key(), s.csrf, now],
                )?;
                tx.commit()?;
                Ok(())
            })
            .map_err(io)?;
        Ok((id, s))
    }

    fn touch(&self, id: &str, now: i64) -> std::io::Result<Option<Session>> {
        let hash = digest(id);
        self.db
            .call("reading a session", |c| {
                let row = c
                    .query_row(
                        "UPDATE console_sessions SET last = ?2
                         WHERE hash = ?1 AND ?2 - last < ?3 AND ?2 - created < ?4
                         RETURNING username, role, tenant, csrf, created, last",
                        params![hash, now, IDLE_SECONDS, ABSOLUTE_SECONDS],
                        |r| {
                            let user: String = r.get(0)?;
                            Ok(Session {
                                role: role("console_sessions", &user, &r.get::<_, String>(1)?)?,
                                user,
                                tenant: r.get(2)?,
                                // Read with the account at each request.
                                assigned: Vec::new(),
                                picker: None,
                                csrf: r.get(3)?,
                                created: r.get(4)?,
                                last: r.get(5)?,
                            })
                        },
                    )
                    .optional()?;
                if row.is_none() {
                    // Ended (or never was): gone if it is there.
                    c.execute("DELETE FROM console_sessions WHERE hash = ?1", [&hash])?;
                }
                Ok(row)
            })
            .map_err(io)
    }

    fn close(&self, id: &str) -> std::io::Result<()> {
        let hash = digest(id);
        self.db
            .call("ending a session", |c| {
                c.execute("DELETE FROM console_sessions WHERE hash = ?1", [hash])?;
                Ok(())
            })
            .map_err(io)
    }

    fn close_user(&self, user: &str) -> std::io::Result<()> {
        self.db
            .call("ending an account's sessions", |c| {
                c.execute("DELETE FROM console_sessions WHERE username = ?1", [user])?;
                Ok(())
            })
            .map_err(io)
    }
}
