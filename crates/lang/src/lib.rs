//! Languages and time zones for everything Vigie shows to a person.
//!
//! Vigie's users are French: the report, the terminal, the console and the
//! status page speak French or English, and show times in the zone the
//! reader lives in. Machine outputs (timeline, scope JSON, manifest, STIX)
//! stay in UTC and in English keys whatever is chosen here: only what a
//! person reads is localised.
//!
//! Why a crate of its own: the same word must mean the same thing in the
//! terminal, the HTML report, the console and the public status page ("one
//! name per concept everywhere"), so every stage takes its [`Lang`] and its
//! [`Zone`] from here, and the shared terms live in [`glossary`].
//!
//! Wording is written inline, next to the code that builds it, with
//! [`Lang::pick`] or the [`tr!`] macro: the two versions of a sentence sit
//! side by side, so a change to one is seen to need the other, and the
//! compiler checks both use the same arguments.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

pub mod glossary;

/// The language of what a person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// French (the default of the console and the status page).
    #[default]
    Fr,
    /// English.
    En,
}

impl Lang {
    /// The language the environment asks for: the first of `LC_ALL`,
    /// `LC_MESSAGES` and `LANG` that is set and not empty, as POSIX orders
    /// them. `fr…` gives French; anything else (including `C`, `POSIX`
    /// and nothing set) gives English, as `vigie hunt`'s users expect from
    /// a command-line tool in a non-French session.
    pub fn from_env() -> Lang {
        Self::from_locale_vars(|k| std::env::var(k).ok())
    }

    /// [`Lang::from_env`] over a given environment (tests).
    pub fn from_locale_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Some(v) = get(key).filter(|v| !v.is_empty()) {
                return if v.to_ascii_lowercase().starts_with("fr") {
                    Lang::Fr
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }

    /// The explicit choice if there is one (`--lang`), else the environment's.
    pub fn resolve(explicit: Option<Lang>) -> Lang {
        explicit.unwrap_or_else(Lang::from_env)
    }

    /// A service's language (`vigie serve`: its alerts, crisis board,
    /// notices): the explicit choice (`--lang`, `lang` in its file), else
    /// the locale as [`Lang::from_env`] reads it — but French when none is
    /// set. Why French there: a service started by systemd or in a
    /// container often has no locale at all, and its readers are a
    /// commune's technicians; a command-line tool's user without a locale
    /// is more often a script or a foreign analyst.
    pub fn for_service(explicit: Option<Lang>) -> Lang {
        explicit.unwrap_or_else(|| Self::service_from_locale_vars(|k| std::env::var(k).ok()))
    }

    /// [`Lang::for_service`]'s default over a given environment (tests).
    pub fn service_from_locale_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        let set = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .any(|k| get(k).is_some_and(|v| !v.is_empty()));
        if set {
            Self::from_locale_vars(get)
        } else {
            Lang::Fr
        }
    }

    /// ISO 639-1 code (`fr`, `en`), as in `<html lang="…">`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The French or the English text.
    #[inline]
    pub fn pick<T>(self, fr: T, en: T) -> T {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// A number as this language writes it: `12 345` (narrow no-break
    /// space) in French, `12,345` in English.
    pub fn number(self, n: u64) -> String {
        let digits = n.to_string();
        let sep = self.pick("\u{202f}", ",");
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(c);
        }
        out
    }

    /// A decimal number with `places` digits after the separator this
    /// language uses: `150,0` in French, `150.0` in English.
    pub fn decimal(self, v: f64, places: usize) -> String {
        let s = format!("{v:.places$}");
        match self {
            Lang::Fr => s.replace('.', ","),
            Lang::En => s,
        }
    }

    /// A size in bytes, in decimal units as disks and transfers are
    /// counted: `150,0 Go` (octets) in French, `150.0 GB` in English.
    pub fn bytes(self, n: u64) -> String {
        let units: [&str; 5] =
            self.pick(["o", "ko", "Mo", "Go", "To"], ["B", "kB", "MB", "GB", "TB"]);
        let mut v = n as f64;
        let mut u = 0;
        while v >= 1000.0 && u < units.len() - 1 {
            v /= 1000.0;
            u += 1;
        }
        if u == 0 {
            format!("{} {}", self.number(n), units[0])
        } else {
            format!("{} {}", self.decimal(v, 1), units[u])
        }
    }

    /// `n` followed by the singular or plural noun (French uses the
    /// singular for 0 and 1, English only for 1).
    pub fn count(self, n: u64, one: &str, many: &str) -> String {
        let singular = match self {
            Lang::Fr => n <= 1,
            Lang::En => n == 1,
        };
        format!("{} {}", self.number(n), if singular { one } else { many })
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language name that is not `fr` or `en`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLang(pub String);

impl fmt::Display for UnknownLang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown language {:?} (expected fr or en)", self.0)
    }
}
impl std::error::Error for UnknownLang {}

impl FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" | "fr-fr" | "fr_fr" | "french" | "français" | "francais" => Ok(Lang::Fr),
            "en" | "en-gb" | "en-us" | "en_gb" | "en_us" | "english" | "anglais" => Ok(Lang::En),
            _ => Err(UnknownLang(s.to_string())),
        }
    }
}

/// Formats a sentence in the given language: `tr!(lang, "fr {x}", "en {x}")`.
///
/// Both format strings take the same arguments (named or positional), so
/// the compiler catches a version that forgets one.
#[macro_export]
macro_rules! tr {
    ($lang:expr, $fr:literal, $en:literal $(, $($arg:tt)*)?) => {
        match $lang {
            $crate::Lang::Fr => format!($fr $(, $($arg)*)?),
            $crate::Lang::En => format!($en $(, $($arg)*)?),
        }
    };
}

/// The time zone times are shown in to a person. Machine outputs never
/// use it: they stay in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// Coordinated Universal Time (the default of `hunt`: evidence times as
    /// the logs give them).
    #[default]
    Utc,
    /// An IANA zone (`Europe/Paris`), with its daylight-saving rules.
    Iana(chrono_tz::Tz),
}

/// A time zone name that the IANA database does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownZone(pub String);

impl fmt::Display for UnknownZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown time zone {:?} (expected an IANA name such as Europe/Paris, or UTC)",
            self.0
        )
    }
}
impl std::error::Error for UnknownZone {}

impl FromStr for Zone {
    type Err = UnknownZone;
    fn from_str(s: &str) -> Result<Zone, UnknownZone> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
            return Ok(Zone::Utc);
        }
        t.parse::<chrono_tz::Tz>()
            .map(Zone::Iana)
            .map_err(|_| UnknownZone(s.to_string()))
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How much of a time to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `2026-01-10 02:11`
    Minute,
    /// `2026-01-10 02:11:07`
    Second,
}

impl Zone {
    /// The zone Vigie shows people by default in the console and on the
    /// status page: a French commune's.
    pub fn paris() -> Zone {
        Zone::Iana(chrono_tz::Europe::Paris)
    }

    /// The IANA name (`Europe/Paris`), or `UTC`.
    pub fn name(&self) -> &'static str {
        match self {
            Zone::Utc => "UTC",
            Zone::Iana(tz) => tz.name(),
        }
    }

    /// The zone's abbreviation at instant `t` (`CET`, `CEST`, `UTC`);
    /// zones without one give their offset (`+03`).
    pub fn abbreviation(&self, t: DateTime<Utc>) -> String {
        match self {
            Zone::Utc => "UTC".to_string(),
            Zone::Iana(tz) => t.with_timezone(tz).format("%Z").to_string(),
        }
    }

    /// `t` as a local date and time with its zone: `2026-01-10 02:11 CET`.
    /// The year is always written: multi-year data must never be
    /// ambiguous.
    pub fn format(&self, t: DateTime<Utc>, p: Precision) -> String {
        let pattern = match p {
            Precision::Minute => "%Y-%m-%d %H:%M",
            Precision::Second => "%Y-%m-%d %H:%M:%S",
        };
        let local = match self {
            Zone::Utc => t.format(pattern).to_string(),
            Zone::Iana(tz) => t.with_timezone(tz).format(pattern).to_string(),
        };
        format!("{local} {}", self.abbreviation(t))
    }

    /// The local calendar date of `t` (for grouping by day).
    pub fn date(&self, t: DateTime<Utc>) -> chrono::NaiveDate {
        self.naive_local(t).date()
    }

    /// `t` as local wall-clock time. At chrono's limits (year ±262,143) the
    /// local time may not exist: then UTC's, rather than chrono's panic —
    /// an event dated there by a damaged log must not stop a hunt.
    pub fn naive_local(&self, t: DateTime<Utc>) -> chrono::NaiveDateTime {
        use chrono::{Offset, TimeZone};
        match self {
            Zone::Utc => t.naive_utc(),
            Zone::Iana(tz) => {
                let offset = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
                t.naive_utc()
                    .checked_add_offset(offset)
                    .unwrap_or_else(|| t.naive_utc())
            }
        }
    }

    /// `t` as RFC 3339 with the local offset (`2026-01-10T02:11:07+01:00`),
    /// for `title`/`datetime` attributes where a machine may read it.
    pub fn rfc3339(&self, t: DateTime<Utc>) -> String {
        match self {
            Zone::Utc => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Zone::Iana(tz) => t
                .with_timezone(tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        }
    }
}

/// A date in words: `10 janvier 2026` / `10 January 2026`.
pub fn long_date(lang: Lang, zone: Zone, t: DateTime<Utc>) -> String {
    let d = zone.date(t);
    let m = d.month0() as usize;
    match lang {
        Lang::Fr => {
            const MOIS: [&str; 12] = [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ];
            let day = if d.day() == 1 {
                "1er".to_string()
            } else {
                d.day().to_string()
            };
            format!("{day} {} {}", MOIS[m], d.year())
        }
        Lang::En => {
            const MONTHS: [&str; 12] = [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ];
            format!("{} {} {}", d.day(), MONTHS[m], d.year())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn local_times_at_chronos_limits_do_not_panic() {
        for t in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            for z in [
                Zone::Utc,
                Zone::paris(),
                Zone::Iana(chrono_tz::Pacific::Kiritimati),
            ] {
                assert_eq!(z.naive_local(t).date(), z.date(t));
                assert!(!z.format(t, Precision::Second).is_empty());
                assert!(!long_date(Lang::Fr, z, t).is_empty());
            }
        }
        let t = Utc.with_ymd_and_hms(2026, 1, 10, 1, 30, 0).unwrap();
        assert_eq!(
            Zone::paris().naive_local(t).to_string(),
            "2026-01-10 02:30:00"
        );
    }

    #[test]
    fn locale_decides_when_nothing_is_explicit() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Lang::from_locale_vars(env(&[("LANG", "fr_FR.UTF-8")])),
            Lang::Fr
        );
        assert_eq!(
            Lang::from_locale_vars(env(&[("LANG", "C.UTF-8")])),
            Lang::En
        );
        assert_eq!(Lang::from_locale_vars(env(&[])), Lang::En);
        // LC_ALL wins over LANG, an empty value is skipped.
        assert_eq!(
            Lang::from_locale_vars(env(&[("LC_ALL", "en_GB.UTF-8"), ("LANG", "fr_FR.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            Lang::from_locale_vars(env(&[("LC_ALL", ""), ("LANG", "fr_BE.UTF-8")])),
            Lang::Fr
        );
        assert_eq!(Lang::resolve(Some(Lang::Fr)), Lang::Fr);
        // A service: French with no locale at all, else the locale's.
        assert_eq!(Lang::service_from_locale_vars(env(&[])), Lang::Fr);
        assert_eq!(
            Lang::service_from_locale_vars(env(&[("LANG", ""), ("LC_ALL", "")])),
            Lang::Fr
        );
        assert_eq!(
            Lang::service_from_locale_vars(env(&[("LANG", "en_GB.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            Lang::service_from_locale_vars(env(&[("LC_ALL", "fr_FR.UTF-8"), ("LANG", "C")])),
            Lang::Fr
        );
        assert_eq!(Lang::for_service(Some(Lang::En)), Lang::En);
    }

    #[test]
    fn parsing_names_the_bad_value() {
        assert_eq!("FR".parse::<Lang>(), Ok(Lang::Fr));
        assert_eq!("en".parse::<Lang>(), Ok(Lang::En));
        let e = "de".parse::<Lang>().unwrap_err().to_string();
        assert!(e.contains("\"de\"") && e.contains("fr or en"), "{e}");
        let z = "Europe/Pariss".parse::<Zone>().unwrap_err().to_string();
        assert!(z.contains("Europe/Pariss"), "{z}");
    }

    #[test]
    fn paris_time_follows_daylight_saving() {
        let z: Zone = "Europe/Paris".parse().unwrap();
        let winter = Utc.with_ymd_and_hms(2026, 1, 10, 1, 11, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2026, 7, 10, 1, 11, 0).unwrap();
        assert_eq!(z.format(winter, Precision::Minute), "2026-01-10 02:11 CET");
        assert_eq!(z.format(summer, Precision::Minute), "2026-07-10 03:11 CEST");
        assert_eq!(
            Zone::Utc.format(winter, Precision::Second),
            "2026-01-10 01:11:00 UTC"
        );
        assert_eq!(z.rfc3339(winter), "2026-01-10T02:11:00+01:00");
        // Late evening UTC is already the next day in Paris.
        let late = Utc.with_ymd_and_hms(2026, 1, 10, 23, 30, 0).unwrap();
        assert_eq!(z.date(late).to_string(), "2026-01-11");
    }

    #[test]
    fn numbers_counts_and_dates_read_naturally() {
        assert_eq!(Lang::Fr.number(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(Lang::En.number(1234567), "1,234,567");
        assert_eq!(Lang::En.number(12), "12");
        assert_eq!(Lang::Fr.count(0, "hôte", "hôtes"), "0 hôte");
        assert_eq!(Lang::Fr.bytes(150_000_000_000), "150,0 Go");
        assert_eq!(Lang::En.bytes(150_000_000_000), "150.0 GB");
        assert_eq!(Lang::En.bytes(999), "999 B");
        assert_eq!(Lang::Fr.decimal(2.5, 1), "2,5");
        assert_eq!(Lang::En.count(0, "host", "hosts"), "0 hosts");
        assert_eq!(Lang::Fr.count(2, "hôte", "hôtes"), "2 hôtes");
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        assert_eq!(long_date(Lang::Fr, Zone::Utc, t), "1er mars 2026");
        assert_eq!(long_date(Lang::En, Zone::Utc, t), "1 March 2026");
        let who = "presta.maint";
        assert_eq!(
            tr!(Lang::Fr, "compte {who}", "account {who}"),
            "compte presta.maint"
        );
        assert_eq!(
            tr!(Lang::En, "compte {}", "account {}", who),
            "account presta.maint"
        );
    }
}
