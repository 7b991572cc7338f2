//! The scenario's calendar and the pure schedule functions that several
//! hosts must agree on (when a PC's owner arrives, who teleworks today).
//!
//! Hosts are generated in parallel and independently; a PC's logon and the
//! domain controller's Kerberos tickets for it must still coincide. Both
//! sides therefore call the same pure functions of `(seed, host, day)`
//! instead of sharing mutable state.

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::{date_us, local_to_utc, weekday, Us, DAY, HOUR, MIN};
use crate::org::{fnv, mix, Host, Org};

/// Number of calendar days covered: D-6 (Saturday) to D+1 (Saturday).
pub const DAYS: i64 = 8;

#[derive(Debug, Clone)]
pub struct Timeline {
    /// Local midnight of D-6, in "local microseconds".
    pub start_local: Us,
    pub day0: NaiveDate,
}

impl Timeline {
    pub fn new(day0: NaiveDate) -> Timeline {
        let first = day0 - Duration::days(6);
        Timeline {
            start_local: date_us(first),
            day0,
        }
    }

    /// UTC instant of local `day` (0 = D-6 … 6 = D0, 7 = D+1) at `h:m:s`.
    ///
    /// A sub-second part derived from the arguments is added: real events
    /// never fall on whole seconds, and every host asking for the same
    /// instant must get the same one.
    pub fn at(&self, day: i64, h: i64, m: i64, s: i64) -> Us {
        let whole = self.start_local + day * DAY + h * HOUR + m * MIN + s * 1_000_000;
        local_to_utc(whole) + (mix(whole as u64) % 1_000_000) as i64
    }

    /// Local instant (for FortiGate `date=`/`time=`).
    pub fn local_of(&self, utc: Us) -> Us {
        utc + crate::clock::paris_offset(utc)
    }

    /// Start of the observed period (UTC): D-6 00:00 local.
    pub fn start(&self) -> Us {
        self.at(0, 0, 0, 0)
    }

    /// End of the observed period (UTC): D+1 12:00 local, when the logs
    /// are collected for the investigation.
    pub fn end(&self) -> Us {
        self.at(7, 12, 0, 0)
    }

    /// Monday to Friday.
    pub fn is_workday(&self, day: i64) -> bool {
        weekday(self.start_local + day * DAY) < 5
    }

    pub fn weekday(&self, day: i64) -> u32 {
        weekday(self.start_local + day * DAY)
    }
}

/// A per-purpose RNG, stable for `(seed, key, day)`.
pub fn rng_for(seed: u64, key: &str, day: i64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed ^ fnv(key) ^ mix(day as u64 + 0x51)))
}

/// A workstation's day: owner present, arrival/lunch/departure.
#[derive(Debug, Clone, Copy)]
pub struct PcDay {
    pub arrive: Us,
    pub lunch_out: Us,
    pub lunch_in: Us,
    pub leave: Us,
}

/// Whether a workstation stays powered on at night (the GPO of step 11
/// reaches exactly these among the PCs).
pub fn pc_always_on(seed: u64, host: &Host) -> bool {
    let mut r = rng_for(seed, &format!("power:{}", host.name), 0);
    host.name == "PC-INFO-01" || r.gen_bool(0.25)
}

/// Whether the owner of workstation `pc` works from home on `day` (VPN
/// and SRV-RDS01): office staff of some services, about one day in ten.
pub fn teleworks(seed: u64, tl: &Timeline, pc: &str, day: i64) -> bool {
    let service = pc.split('-').nth(1).unwrap_or("");
    if !tl.is_workday(day)
        || day >= DAYS - 1
        || !matches!(service, "FIN" | "RH" | "URBA" | "DG" | "COM" | "CIAS")
    {
        return false;
    }
    rng_for(seed, &format!("telework:{pc}"), day).gen_bool(0.1)
}

/// When the owner of `host` works on `day` at the office, if they come.
pub fn pc_day(seed: u64, tl: &Timeline, host: &Host, day: i64) -> Option<PcDay> {
    if !tl.is_workday(day) || day >= DAYS - 1 || teleworks(seed, tl, &host.name, day) {
        return None;
    }
    let mut r = rng_for(seed, &host.name, day);
    if r.gen_bool(0.08) {
        return None; // leave, sick day, training
    }
    let arrive = tl.at(day, 7, 30, 0) + r.gen_range(0..90 * MIN);
    let lunch_out = tl.at(day, 12, 0, 0) + r.gen_range(0..30 * MIN);
    let lunch_in = lunch_out + 45 * MIN + r.gen_range(0..45 * MIN);
    let leave = tl.at(day, 17, 0, 0) + r.gen_range(0..90 * MIN);
    Some(PcDay {
        arrive,
        lunch_out,
        lunch_in,
        leave,
    })
}

/// A staff member working from home through the VPN and SRV-RDS01.
#[derive(Debug, Clone)]
pub struct Telework {
    pub user: usize,
    pub public_ip: String,
    pub tunnel_ip: String,
    pub start: Us,
    pub end: Us,
}

/// The teleworkers of a day, over the whole organisation (their PCs stay
/// off that day, whatever the scale).
pub fn teleworkers(seed: u64, tl: &Timeline, org: &Org, day: i64) -> Vec<Telework> {
    let mut out = Vec::new();
    for (pc, _, user) in &org.pc_ips {
        if !teleworks(seed, tl, pc, day) {
            continue;
        }
        let mut r = rng_for(seed, &format!("telework-hours:{pc}"), day);
        let start = tl.at(day, 8, 0, 0) + r.gen_range(0..90 * MIN);
        let end = start + 3 * HOUR + r.gen_range(0..5 * HOUR);
        out.push(Telework {
            user: *user,
            public_ip: format!("198.51.100.{}", 20 + (fnv(&org.users[*user].sam) % 200)),
            tunnel_ip: format!("10.212.134.{}", 20 + out.len()),
            start,
            end,
        });
    }
    out
}

/// Deterministic public address of an Internet name. Invented sites get
/// documentation ranges; Microsoft 365 endpoints get addresses in
/// Microsoft's published ranges, as in reality, because SigmaHQ rules
/// (e.g. "Office Application Initiated Network Connection To Non-Local
/// IP") rely on those ranges to stay quiet on ordinary Outlook traffic.
pub fn public_ip(name: &str) -> String {
    let h = fnv(name);
    let (a, b) = ((h >> 8) % 250 + 1, (h >> 16) % 250 + 1);
    if name.ends_with("office365.com") || name.ends_with("office.com") {
        return format!("52.97.{a}.{b}"); // Exchange Online, 52.96.0.0/14
    }
    if name.ends_with("microsoft.com")
        || name.ends_with("microsoftonline.com")
        || name.ends_with("skype.com")
    {
        return format!("20.190.{a}.{b}"); // Microsoft, 20.184.0.0/13
    }
    let net = if h & 1 == 0 { "192.0.2" } else { "198.51.100" };
    format!("{net}.{a}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_of_the_default_scenario() {
        let tl = Timeline::new(NaiveDate::from_ymd_opt(2026, 1, 16).unwrap());
        // D-6 is Saturday 10 January, D0 Friday 16.
        assert_eq!(tl.weekday(0), 5);
        assert_eq!(tl.weekday(6), 4);
        assert!(!tl.is_workday(0) && !tl.is_workday(1));
        assert!((2..=6).all(|d| tl.is_workday(d)));
        assert_eq!(
            crate::clock::iso(tl.at(0, 2, 10, 0)),
            "2026-01-10T01:10:00Z"
        );
    }
}
