//! Failed logins per address and per name that is no account
//! ([`PgThrottle`]), counted in PostgreSQL for every api node together.
//!
//! Why: each node counting what it sees gave a password spray spread
//! over *n* api nodes *n* times the attempts before its address was
//! stopped. Each failure is a row (address, time), and a node asks how
//! many the window holds: the bound is the same whichever node took the
//! guesses. Rows leave with the window (deleted as new ones come), so
//! the table holds at most the window's failures.
//!
//! Times are the database's ([`crate::DB_NOW`]), not the node's: nodes
//! whose clocks differ count the same window and see the same lock. The
//! `now` the console passes is the node's; a lock's end is given back in
//! that frame (the database's end less its now, plus the node's).

use std::net::IpAddr;

use vigie_console::sessions::{LoginThrottle, IP_FAILURES, IP_WINDOW};
use vigie_console::users::{LOCK_SECONDS, MAX_FAILURES};

use crate::accounts::Db;

/// Unknown names are forgotten a day after their last failure (when not
/// locked): the table of names, chosen by whoever sends a login, stays
/// bounded by a day of them.
const UNKNOWN_KEPT: i64 = 86_400;

// The first failure of a name inserts its row unlocked.
const _: () = assert!(MAX_FAILURES > 1);

/// The console's login throttles in PostgreSQL (connected at the first
/// call).
pub struct PgThrottle {
    db: Db,
}

impl PgThrottle {
    pub fn new(url: &str) -> std::io::Result<PgThrottle> {
        Ok(PgThrottle { db: Db::new(url)? })
    }

    fn said(&self, what: &str, e: impl std::fmt::Display) {
        eprintln!(
            "vigie serve: login throttle in {}: {what}: {e}",
            self.db.pg.place()
        );
    }
}

impl LoginThrottle for PgThrottle {
    fn ip_blocked(&self, ip: IpAddr, _now: i64) -> Result<bool, String> {
        let pg = self.db.pg.clone();
        let address = ip.to_string();
        let sql = format!(
            "SELECT count(*) FROM login_failures WHERE address = $1 AND at > {} - $2::bigint",
            crate::DB_NOW
        );
        let got = self.db.call(async move {
            pg.with("counting an address's failed logins", async |c| {
                let row = c.query_one(sql.as_str(), &[&address, &IP_WINDOW]).await?;
                Ok(row.get::<_, i64>(0))
            })
            .await
        });
        match got {
            Ok(n) => Ok(n >= IP_FAILURES as i64),
            Err(e) => {
                // Said to the console, which refuses the login as "the
                // database cannot be reached": not "free", not "blocked".
                self.said("reading", &e);
                Err(e.to_string())
            }
        }
    }

    fn ip_failed(&self, ip: IpAddr, _now: i64) {
        let pg = self.db.pg.clone();
        let address = ip.to_string();
        let now = crate::DB_NOW;
        let (insert, delete) = (
            format!("INSERT INTO login_failures (address, at) VALUES ($1, {now})"),
            format!("DELETE FROM login_failures WHERE at <= {now} - $1::bigint"),
        );
        let done = self.db.call(async move {
            pg.with("counting a failed login", async |c| {
                c.execute(insert.as_str(), &[&address]).await?;
                c.execute(delete.as_str(), &[&IP_WINDOW]).await?;
                Ok(())
            })
            .await
        });
        if let Err(e) = done {
            self.said("writing", e);
        }
    }

    fn unknown_failed(&self, name: &str, now: i64) -> Option<i64> {
        let pg = self.db.pg.clone();
        let name = name.to_string();
        // A first failure never locks (MAX_FAILURES > 1).
        let max = MAX_FAILURES as i32;
        let db_now = crate::DB_NOW;
        // One statement: two nodes counting at once both count. What it
        // gives back is how long the lock lasts from now.
        let count = format!(
            "INSERT INTO login_unknown_names AS u (name, failures, locked_until, last)
             VALUES ($1::text, 1, NULL, {db_now})
             ON CONFLICT (name) DO UPDATE SET
               failures = CASE WHEN u.failures + 1 >= $2::integer THEN 0 ELSE u.failures + 1 END,
               locked_until = CASE WHEN u.failures + 1 >= $2::integer
                                   THEN {db_now} + $3::bigint ELSE u.locked_until END,
               last = {db_now}
             RETURNING locked_until - {db_now}"
        );
        let forget = format!(
            "DELETE FROM login_unknown_names
             WHERE last < {db_now} - $1::bigint AND (locked_until IS NULL OR locked_until < {db_now})"
        );
        let got = self.db.call(async move {
            pg.with("counting a failed login of an unknown name", async |c| {
                let row = c
                    .query_one(count.as_str(), &[&name, &max, &LOCK_SECONDS])
                    .await?;
                c.execute(forget.as_str(), &[&UNKNOWN_KEPT]).await?;
                Ok(row.get::<_, Option<i64>>(0))
            })
            .await
        });
        match got {
            // The lock's end in the node's frame.
            Ok(left) => left.filter(|l| *l > 0).map(|l| now + l),
            Err(e) => {
                self.said("writing", e);
                None
            }
        }
    }

    fn unknown_locked(&self, name: &str, _now: i64) -> Result<bool, String> {
        let pg = self.db.pg.clone();
        let name = name.to_string();
        let sql = format!(
            "SELECT locked_until - {} FROM login_unknown_names WHERE name = $1",
            crate::DB_NOW
        );
        let got = self.db.call(async move {
            pg.with("reading an unknown name's lock", async |c| {
                let row = c.query_opt(sql.as_str(), &[&name]).await?;
                Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)))
            })
            .await
        });
        match got {
            Ok(left) => Ok(left.is_some_and(|l| l > 0)),
            Err(e) => {
                self.said("reading", &e);
                Err(e.to_string())
            }
        }
    }
}
