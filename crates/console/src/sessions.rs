//! Sessions of people signed in, and the throttles in front of the login.
//!
//! A session id is 256 random bits, given once in the cookie; only its
//! SHA-256 is kept, in memory (a restart signs everyone out, which is
//! the safe side). Each session has its CSRF token, an idle expiry and
//! an absolute one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::Role;

/// A session unused this long ends (seconds).
pub const IDLE_SECONDS: i64 = 30 * 60;
/// A session ends this long after login, used or not (seconds).
pub const ABSOLUTE_SECONDS: i64 = 12 * 3600;
/// Sessions held at most: past it, the least recently used goes.
pub const MAX_SESSIONS: usize = 10_000;

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    /// The account's tenant, when it is bound to one
    /// ([`crate::users::User::tenant`]).
    pub tenant: Option<String>,
    /// The communes a CSIRT's account is assigned
    /// ([`crate::users::User::assigned`]), as the account says at this
    /// request: not kept with the session but read with the account at
    /// every request ([`crate::accounts::UserStore::still`]), so that a
    /// change of the set holds from the next request on every node.
    pub assigned: Vec<String>,
    /// The commune selector of this request's pages, filled by the
    /// server's authorisation check for a session that reads several
    /// communes (never kept): every page's frame draws it from here
    /// rather than each page passing it along.
    pub picker: Option<crate::pages::Picker>,
    /// Sent back with every state-changing request.
    pub csrf: String,
    pub created: i64,
    pub last: i64,
}

impl Session {
    /// The deployment's own account: bound to no commune, assigned none
    /// (it reads every commune; an administrator's administers the
    /// deployment).
    pub fn deployment_wide(&self) -> bool {
        self.tenant.is_none() && self.assigned.is_empty()
    }

    /// Whether the session may read `tenant`'s data: its own commune's,
    /// its assigned communes', or any for the deployment's own account.
    pub fn reads_commune(&self, tenant: &str) -> bool {
        match &self.tenant {
            Some(own) => own == tenant,
            None if self.assigned.is_empty() => true,
            None => self.assigned.iter().any(|t| t == tenant),
        }
    }
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session; returns the id for the cookie and the session.
    pub fn open(
        &self,
        user: &str,
        role: Role,
        tenant: Option<String>,
        now: i64,
    ) -> (String, Session) {
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
        let mut m = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, s| alive(s, now));
        if m.len() >= MAX_SESSIONS {
            if let Some(oldest) = m.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| k.clone()) {
                m.remove(&oldest);
            }
        }
        m.insert(digest(&id), s.clone());
        (id, s)
    }

    /// The live session of `id`, its idle clock restarted.
    pub fn touch(&self, id: &str, now: i64) -> Option<Session> {
        let key = digest(id);
        let mut m = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        let s = m.get_mut(&key)?;
        if !alive(s, now) {
            m.remove(&key);
            return None;
        }
        s.last = now;
        Some(s.clone())
    }

    pub fn close(&self, id: &str) -> Option<Session> {
        self.by_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&digest(id))
    }

    /// Ends every session of an account (removed, role changed).
    pub fn close_user(&self, user: &str) {
        self.by_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| s.user != user);
    }
}

fn alive(s: &Session, now: i64) -> bool {
    now - s.last < IDLE_SECONDS && now - s.created < ABSOLUTE_SECONDS
}

/// Failed logins from one address allowed per window, whatever the
/// names tried (password spraying tries one password on many names).
pub const IP_FAILURES: usize = 20;
/// The window of [`IP_FAILURES`] (seconds).
pub const IP_WINDOW: i64 = 15 * 60;
/// Addresses and unknown names tracked at most (bounded memory under a
/// flood from many addresses).
pub const TRACKED: usize = 50_000;

/// Where failed logins are counted, per address and per name that is no
/// account: [`Throttle`] in memory (one node), or the regional
/// deployment's database, so that guesses spread over several api nodes
/// are counted together (a password spray over *n* nodes does not get
/// *n* times the attempts). Blocking, as the account stores are. A store
/// that cannot answer says so (`Err`, its reason, never a password):
/// the login is then refused as "the account database cannot be
/// reached" (503) — never taken as "not blocked", and never told as
/// "too many attempts", which would send a person to wait 15 minutes
/// for nothing (and hide the outage from whoever reads the answer).
pub trait LoginThrottle: Send + Sync {
    /// Whether `ip` has used up its failures ([`IP_FAILURES`] in
    /// [`IP_WINDOW`]); `Err` when the store cannot answer.
    fn ip_blocked(&self, ip: IpAddr, now: i64) -> Result<bool, String>;
    fn ip_failed(&self, ip: IpAddr, now: i64);
    /// A failure for a name that is no account: `Some(until)` once it is
    /// "locked", as a real account would be.
    fn unknown_failed(&self, name: &str, now: i64) -> Option<i64>;
    /// Whether an unknown name is "locked"; `Err` when the store cannot
    /// answer.
    fn unknown_locked(&self, name: &str, now: i64) -> Result<bool, String>;
}

impl LoginThrottle for Throttle {
    fn ip_blocked(&self, ip: IpAddr, now: i64) -> Result<bool, String> {
        Ok(Throttle::ip_blocked(self, ip, now))
    }
    fn ip_failed(&self, ip: IpAddr, now: i64) {
        Throttle::ip_failed(self, ip, now)
    }
    fn unknown_failed(&self, name: &str, now: i64) -> Option<i64> {
        Throttle::unknown_failed(self, name, now)
    }
    fn unknown_locked(&self, name: &str, now: i64) -> Result<bool, String> {
        Ok(Throttle::unknown_locked(self, name, now))
    }
}

/// Failure counts kept in memory: per address, and per name that is no
/// account (so an unknown name locks like a real one and the lock says
/// nothing about which names exist).
#[derive(Default)]
pub struct Throttle {
    by_ip: Mutex<HashMap<IpAddr, Vec<i64>>>,
    unknown: Mutex<HashMap<String, (u32, Option<i64>)>>,
}

impl Throttle {
    /// Whether `ip` has used up its failures.
    pub fn ip_blocked(&self, ip: IpAddr, now: i64) -> bool {
        let mut m = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        match m.get_mut(&ip) {
            Some(v) => {
                v.retain(|t| now - t < IP_WINDOW);
                v.len() >= IP_FAILURES
            }
            None => false,
        }
    }

    pub fn ip_failed(&self, ip: IpAddr, now: i64) {
        let mut m = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= TRACKED && !m.contains_key(&ip) {
            m.retain(|_, v| v.last().is_some_and(|t| now - t < IP_WINDOW));
            if m.len() >= TRACKED {
                // Still full of recent senders: forget one (the window of
                // the others holds).
                if let Some(k) = m.keys().next().copied() {
                    m.remove(&k);
                }
            }
        }
        let v = m.entry(ip).or_default();
        v.push(now);
        if v.len() > IP_FAILURES {
            v.remove(0);
        }
    }

    /// A failure for a name that is no account: `Some(until)` once it
    /// is "locked", as a real account would be.
    pub fn unknown_failed(&self, name: &str, now: i64) -> Option<i64> {
        let mut m = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= TRACKED && !m.contains_key(name) {
            m.retain(|_, (_, until)| until.is_some_and(|u| u > now));
            if m.len() >= TRACKED {
                m.clear();
            }
        }
        let e = m.entry(name.to_string()).or_insert((0, None));
        e.0 += 1;
        if e.0 >= crate::users::MAX_FAILURES {
            e.0 = 0;
            e.1 = Some(now + crate::users::LOCK_SECONDS);
        }
        e.1.filter(|u| *u > now)
    }

    /// Whether an unknown name is "locked".
    pub fn unknown_locked(&self, name: &str, now: i64) -> bool {
        self.unknown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .is_some_and(|(_, u)| u.is_some_and(|u| u > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle_and_at_their_absolute_end() {
        let s = Sessions::default();
        let (id, sess) = s.open("anne", Role::Analyst, None, 1000);
        assert_eq!(id.len(), 64);
        assert_ne!(id, sess.csrf);
        assert!(s.touch(&id, 1000 + IDLE_SECONDS - 1).is_some());
        assert!(s.touch(&id, 1000 + 2 * IDLE_SECONDS - 2).is_some());
        assert!(
            s.touch(&id, 1000 + 3 * IDLE_SECONDS).is_none(),
            "idle too long"
        );
        let (id, _) = s.open("anne", Role::Analyst, None, 0);
        let mut t = 0;
        while t + IDLE_SECONDS / 2 < ABSOLUTE_SECONDS {
            t += IDLE_SECONDS / 2;
            assert!(s.touch(&id, t).is_some());
        }
        assert!(s.touch(&id, ABSOLUTE_SECONDS).is_none(), "absolute end");
        assert!(s.touch("not-an-id", 0).is_none());
    }

    #[test]
    fn an_address_is_stopped_after_its_failures_and_unknown_names_lock_too() {
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for i in 0..IP_FAILURES {
            assert!(!t.ip_blocked(ip, i as i64));
            t.ip_failed(ip, i as i64);
        }
        assert!(t.ip_blocked(ip, 100));
        assert!(!t.ip_blocked(ip, IP_WINDOW + 100));
        for i in 1..crate::users::MAX_FAILURES {
            assert_eq!(t.unknown_failed("nobody", i as i64), None);
        }
        assert!(t.unknown_failed("nobody", 10).is_some());
        assert!(t.unknown_locked("nobody", 11));
        assert!(!t.unknown_locked("nobody", 11 + crate::users::LOCK_SECONDS));
    }
}
