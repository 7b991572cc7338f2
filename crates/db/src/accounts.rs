//! The console's accounts ([`PgUsers`]) and sessions ([`PgSessions`]) in
//! PostgreSQL, shared by every api node: a session opened on one node is
//! valid on the others, an account removed (its sessions go with it, `ON
//! DELETE CASCADE`) or locked (its sessions deleted in the same
//! transaction) is refused on all from their next request. A login's
//! outcome is one atomic statement, whichever node took it: the failures
//! counted across nodes lock the account at the same bound, and a TOTP
//! step is taken once.
//!
//! The console's traits are blocking: the calls run on this crate's
//! small runtime ([`crate::blocking`]).
//!
//! Locks and sessions end by the database's clock ([`crate::DB_NOW`]),
//! not the node's: a node whose clock is off must neither lengthen nor
//! cut a lock or a session another node keeps. The `now` the console
//! passes is the node's; the times given back (a lock's end, a session's
//! `created` and `last`) are in that frame (the database's time less its
//! now, plus the node's), as the login throttle does.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio_postgres::Row;
use vigie_console::accounts::{SessionStore, UserStore};
use vigie_console::sessions::{random_token, ABSOLUTE_SECONDS, IDLE_SECONDS, MAX_SESSIONS};
use vigie_console::users::{self, User, UserError};
use vigie_console::{Role, Session};
use vigie_store::StoreError;

use crate::conn::{Failure, Pg};

/// A connection and the runtime it is driven on.
pub(crate) struct Db {
    pub(crate) pg: Arc<Pg>,
    rt: &'static tokio::runtime::Runtime,
}

impl Db {
    pub(crate) fn new(url: &str) -> std::io::Result<Db> {
        Ok(Db {
            pg: Arc::new(Pg::new(url)),
            rt: crate::blocking::runtime()?,
        })
    }

    /// Runs a call of [`Pg::with`] and waits for it.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = vigie_store::Result<T>> + Send + 'static,
    ) -> vigie_store::Result<T> {
        crate::blocking::run(self.rt, &self.pg.place(), f)
    }
}

fn store(e: StoreError) -> UserError {
    UserError::Store(e.to_string())
}

/// The SHA-256 of a session's id, hex: all that is kept of it.
fn digest(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn role(table: &str, key: &str, text: &str) -> Result<Role, Failure> {
    Role::parse(text).ok_or_else(|| {
        Failure::Store(StoreError::Invalid(format!(
            "{table} row {key}: role {text:?} is none of Vigie's (left as it is: repair it in the database)"
        )))
    })
}

const USER_COLUMNS: &str =
    "name, role, password, totp, totp_step, created, failures, locked_until, tenant, assigned, disabled, last_login";

fn user(r: &Row) -> Result<User, Failure> {
    let name: String = r.get(0);
    Ok(User {
        role: role("console_users", &name, r.get(1))?,
        password: r.get(2),
        totp: r.get(3),
        totp_step: r.get::<_, Option<i64>>(4).map(|s| s.max(0) as u64),
        created: r.get(5),
        failures: r.get::<_, i32>(6).max(0) as u32,
        locked_until: r.get(7),
        tenant: r.get(8),
        assigned: users::assigned_from(&name, r.get::<_, Option<String>>(9).as_deref())
            .map_err(|e| Failure::Store(StoreError::Invalid(e.to_string())))?,
        disabled: r.get(10),
        last_login: r.get(11),
        name,
    })
}

/// The console's accounts in PostgreSQL (connected at the first call).
pub struct PgUsers {
    db: Db,
}

impl PgUsers {
    pub fn new(url: &str) -> std::io::Result<PgUsers> {
        Ok(PgUsers { db: Db::new(url)? })
    }
}

impl UserStore for PgUsers {
    fn list(&self) -> Result<Vec<User>, UserError> {
        let pg = self.db.pg.clone();
        self.db
            .call(async move {
                pg.with("reading the accounts", async |c| {
                    let rows = c
                        .query(
                            &format!("SELECT {USER_COLUMNS} FROM console_users ORDER BY seq"),
                            &[],
                        )
                        .await?;
                    rows.iter().map(user).collect::<Result<Vec<_>, _>>()
                })
                .await
            })
            .map_err(store)
    }

    fn get(&self, name: &str) -> Result<Option<User>, UserError> {
        let pg = self.db.pg.clone();
        let name = name.to_string();
        self.db
            .call(async move {
                pg.with("reading an account", async |c| {
                    let row = c
                        .query_opt(
                            &format!("SELECT {USER_COLUMNS} FROM console_users WHERE name = $1"),
                            &[&name],
                        )
                        .await?;
                    row.as_ref().map(user).transpose()
                })
                .await
            })
            .map_err(store)
    }

    fn add(&self, u: User) -> Result<(), UserError> {
        let pg = self.db.pg.clone();
        let name = u.name.clone();
        let made = self
            .db
            .call(async move {
                pg.with("adding an account", async |c| {
                    let step = u.totp_step.map(|s| s.min(i64::MAX as u64) as i64);
                    let failures = u.failures.min(i32::MAX as u32) as i32;
                    let n = c
                        .execute(
                            "INSERT INTO console_users
                             (name, role, password, totp, totp_step, created, failures, locked_until, tenant, assigned, disabled, last_login)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                             ON CONFLICT (name) DO NOTHING",
                            &[
                                &u.name,
                                &u.role.key(),
                                &u.password,
                                &u.totp,
                                &step,
                                &u.created,
                                &failures,
                                &u.locked_until,
                                &u.tenant,
                                &users::assigned_column(&u.assigned),
                                &u.disabled,
                                &u.last_login,
                            ],
                        )
                        .await?;
                    Ok(n == 1)
                })
                .await
            })
            .map_err(store)?;
        if made {
            Ok(())
        } else {
            Err(UserError::Exists(name))
        }
    }

    fn remove(&self, name: &str) -> Result<(), UserError> {
        let pg = self.db.pg.clone();
        let who = name.to_string();
        let n = self
            .db
            .call(async move {
                pg.with("removing an account", async |c| {
                    // Its sessions go with it (ON DELETE CASCADE).
                    Ok(
                        c.execute("DELETE FROM console_users WHERE name = $1", &[&who])
                            .await?,
                    )
                })
                .await
            })
            .map_err(store)?;
        if n == 0 {
            return Err(UserError::NoSuch(name.to_string()));
        }
        Ok(())
    }

    fn unlock(&self, name: &str) -> Result<(), UserError> {
        let pg = self.db.pg.clone();
        let who = name.to_string();
        let n = self
            .db
            .call(async move {
                pg.with("unlocking an account", async |c| {
                    Ok(c.execute(
                        "UPDATE console_users SET failures = 0, locked_until = NULL WHERE name = $1",
                        &[&who],
                    )
                    .await?)
                })
                .await
            })
            .map_err(store)?;
        if n == 0 {
            return Err(UserError::NoSuch(name.to_string()));
        }
        Ok(())
    }

    fn succeeded(&self, name: &str, step: Option<u64>, now: i64) -> Result<bool, UserError> {
        let pg = self.db.pg.clone();
        let who = name.to_string();
        let step = step.map(|s| s.min(i64::MAX as u64) as i64);
        let _ = now; // The database's clock decides (module doc).
        let sql = format!(
            "UPDATE console_users
             SET failures = 0, totp_step = COALESCE($2, totp_step), last_login = {now}
             WHERE name = $1
               AND ($2::bigint IS NULL OR totp_step IS NULL OR totp_step < $2)
               AND (locked_until IS NULL OR locked_until <= {now})",
            now = crate::DB_NOW
        );
        let n = self
            .db
            .call(async move {
                pg.with("keeping a login", async |c| {
                    // The step is taken only if it is after the last one:
                    // two nodes given the same code, one wins.
                    Ok(c.execute(sql.as_str(), &[&who, &step]).await?)
                })
                .await
            })
            .map_err(store)?;
        Ok(n == 1)
    }

    fn amend(&self, u: &User) -> Result<(), UserError> {
        let pg = self.db.pg.clone();
        let u = u.clone();
        let name = u.name.clone();
        let n = self
            .db
            .call(async move {
                pg.with("changing an account", async |c| {
                    let tx = c.transaction().await?;
                    let n = tx
                        .execute(
                            "UPDATE console_users
                             SET role = $2, password = $3, tenant = $4, assigned = $5, disabled = $6
                             WHERE name = $1",
                            &[
                                &u.name,
                                &u.role.key(),
                                &u.password,
                                &u.tenant,
                                &users::assigned_column(&u.assigned),
                                &u.disabled,
                            ],
                        )
                        .await?;
                    if u.disabled {
                        // Disabled: its sessions end on every node now.
                        tx.execute(
                            "DELETE FROM console_sessions WHERE username = $1",
                            &[&u.name],
                        )
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(n)
                })
                .await
            })
            .map_err(store)?;
        if n == 0 {
            return Err(UserError::NoSuch(name));
        }
        Ok(())
    }

    fn failed(&self, name: &str, now: i64) -> Result<Option<i64>, UserError> {
        let pg = self.db.pg.clone();
        let who = name.to_string();
        let max = users::MAX_FAILURES as i32;
        // The lock ends LOCK_SECONDS from the database's now; given back
        // in the node's frame.
        let sql = format!(
            "UPDATE console_users SET
               failures = CASE WHEN failures + 1 >= $2 THEN 0 ELSE failures + 1 END,
               locked_until = CASE WHEN failures + 1 >= $2 THEN {now} + $3::bigint ELSE locked_until END
             WHERE name = $1
             RETURNING failures = 0 AND locked_until = {now} + $3::bigint",
            now = crate::DB_NOW
        );
        let until = now + users::LOCK_SECONDS;
        self.db
            .call(async move {
                pg.with("keeping a failed login", async |c| {
                    let tx = c.transaction().await?;
                    // One statement: failures of every node counted in
                    // order (the row is locked while it is updated).
                    let row = tx
                        .query_opt(sql.as_str(), &[&who, &max, &users::LOCK_SECONDS])
                        .await?;
                    let locked = row.is_some_and(|r| r.get::<_, bool>(0));
                    if locked {
                        // Locked: its sessions end on every node.
                        tx.execute("DELETE FROM console_sessions WHERE username = $1", &[&who])
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(locked.then_some(until))
                })
                .await
            })
            .map_err(store)
    }

    fn locked(&self, user: &User, _now: i64) -> Result<bool, UserError> {
        let pg = self.db.pg.clone();
        let who = user.name.clone();
        let sql = format!(
            "SELECT locked_until > {} FROM console_users WHERE name = $1",
            crate::DB_NOW
        );
        self.db
            .call(async move {
                pg.with("reading an account's lock", async |c| {
                    let row = c.query_opt(sql.as_str(), &[&who]).await?;
                    Ok(row.and_then(|r| r.get::<_, Option<bool>>(0)) == Some(true))
                })
                .await
            })
            .map_err(store)
    }

    fn still(&self, s: &Session) -> Result<Option<Vec<String>>, UserError> {
        let pg = self.db.pg.clone();
        let (who, role, tenant) = (s.user.clone(), s.role.key(), s.tenant.clone());
        let column = self
            .db
            .call(async move {
                pg.with("reading an account", async |c| {
                    Ok(c.query_opt(
                        "SELECT assigned FROM console_users
                         WHERE name = $1 AND role = $2 AND tenant IS NOT DISTINCT FROM $3
                           AND NOT disabled",
                        &[&who, &role, &tenant],
                    )
                    .await?
                    .map(|r| r.get::<_, Option<String>>(0)))
                })
                .await
            })
            .map_err(store)?;
        column
            .map(|c| users::assigned_from(&s.user, c.as_deref()))
            .transpose()
    }

    fn place(&self) -> String {
        self.db.pg.place()
    }
}

/// The console's sessions in PostgreSQL (connected at the first call).
pub struct PgSessions {
    db: Db,
}

impl PgSessions {
    pub fn new(url: &str) -> std::io::Result<PgSessions> {
        Ok(PgSessions { db: Db::new(url)? })
    }
}

impl SessionStore for PgSessions {
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
        let pg = self.db.pg.clone();
        let (hash, kept) = (digest(&id), s.clone());
        let max = MAX_SESSIONS as i64;
        let db_now = crate::DB_NOW;
        let (ended, insert) = (
            format!(
                "DELETE FROM console_sessions
                 WHERE last <= {db_now} - $1::bigint OR created <= {db_now} - $2::bigint"
            ),
            format!(
                "INSERT INTO console_sessions (hash, username, tenant, role, csrf, created, last)
                 VALUES ($1, $2, $3, $4, $5, {db_now}, {db_now})"
            ),
        );
        self.db
            .call(async move {
                pg.with("opening a session", async |c| {
                    let tx = c.transaction().await?;
                    // Ended ones go; past the bound, the least recently
                    // used (nothing unbounded).
                    tx.execute(ended.as_str(), &[&IDLE_SECONDS, &ABSOLUTE_SECONDS])
                        .await?;
                    tx.execute(
                        "DELETE FROM console_sessions WHERE hash IN (
                           SELECT hash FROM console_sessions ORDER BY last DESC OFFSET $1)",
                        &[&(max - 1)],
                    )
                    .await?;
                    tx.execute(
                        insert.as_str(),
                        &[
                            &hash,
                            &kept.user,
                            &kept.tenant,
                            &kept.role.key(),
                            &kept.csrf,
                        ],
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
                .await
            })
            .map_err(crate::blocking::io)?;
        Ok((id, s))
    }

    fn touch(&self, id: &str, now: i64) -> std::io::Result<Option<Session>> {
        let pg = self.db.pg.clone();
        let hash = digest(id);
        // Ended by the database's clock; `created` and `last` given back
        // in the node's frame.
        let sql = format!(
            "UPDATE console_sessions SET last = {db_now}
             WHERE hash = $1 AND {db_now} - last < $2 AND {db_now} - created < $3
             RETURNING username, role, tenant, csrf, created - {db_now}, last - {db_now}",
            db_now = crate::DB_NOW
        );
        self.db
            .call(async move {
                pg.with("reading a session", async |c| {
                    let row = c
                        .query_opt(sql.as_str(), &[&hash, &IDLE_SECONDS, &ABSOLUTE_SECONDS])
                        .await?;
                    let Some(r) = row else {
                        // Ended (or never was): gone if it is there.
                        c.execute("DELETE FROM console_sessions WHERE hash = $1", &[&hash])
                            .await?;
                        return Ok(None);
                    };
                    Ok(Some(Session {
                        role: role("console_sessions", &r.get::<_, String>(0), r.get(1))?,
                        user: r.get(0),
                        tenant: r.get(2),
                        // Read with the account at each request.
                        assigned: Vec::new(),
                        picker: None,
                        csrf: r.get(3),
                        created: now + r.get::<_, i64>(4),
                        last: now + r.get::<_, i64>(5),
                    }))
                })
                .await
            })
            .map_err(crate::blocking::io)
    }

    fn close(&self, id: &str) -> std::io::Result<()> {
        let pg = self.db.pg.clone();
        let hash = digest(id);
        self.db
            .call(async move {
                pg.with("ending a session", async |c| {
                    c.execute("DELETE FROM console_sessions WHERE hash = $1", &[&hash])
                        .await?;
                    Ok(())
                })
                .await
            })
            .map_err(crate::blocking::io)
    }

    fn close_user(&self, user: &str) -> std::io::Result<()> {
        let pg = self.db.pg.clone();
        let who = user.to_string();
        self.db
            .call(async move {
                pg.with("ending an account's sessions", async |c| {
                    c.execute("DELETE FROM console_sessions WHERE username = $1", &[&who])
                        .await?;
                    Ok(())
                })
                .await
            })
            .map_err(crate::blocking::io)
    }
}
