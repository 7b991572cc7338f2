//! Words the scope writes, in the run's language: times, lists, link
//! methods, levels, confidence. One function per concept, so that the same
//! thing is always said the same way (see `vigie_lang::glossary`).

use chrono::Duration;
use vigie_detect::Level;
use vigie_event::Timestamp;
use vigie_lang::{glossary, tr, Lang, Precision, Zone};

use crate::model::{Confidence, LinkMethod};

/// A time in sentences: `2026-01-10 01:11 UTC`, always with the year
/// (multi-year data must never be ambiguous), in the reader's zone (the
/// run's `--timezone`), so that the answer, the terminal and the report
/// give one start time. The scope's timestamps stay UTC.
pub(crate) fn time(lang: Lang, zone: Zone, t: Option<Timestamp>) -> String {
    match t {
        Some(t) => zone.format(t, Precision::Minute),
        None => lang.pick("heure inconnue", "unknown time").to_string(),
    }
}

/// `a, b, c and 2 more` / `a, b, c et 2 autres`.
pub(crate) fn list(lang: Lang, v: &[String], max: usize) -> String {
    if v.len() <= max {
        join(lang, v)
    } else {
        let more = v.len() - max;
        tr!(
            lang,
            "{} et {more} autre(s)",
            "{} and {more} more",
            v[..max].join(", ")
        )
    }
}

/// `a, b and c` / `a, b et c`.
pub(crate) fn join(lang: Lang, v: &[String]) -> String {
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        n => format!(
            "{} {} {}",
            v[..n - 1].join(", "),
            lang.pick("et", "and"),
            v[n - 1]
        ),
    }
}

/// The serde name of a link method (`psexec`, `remote_service`…).
pub(crate) fn method_code(m: LinkMethod) -> &'static str {
    match m {
        LinkMethod::Rdp => "rdp",
        LinkMethod::Psexec => "psexec",
        LinkMethod::SmbAdminShare => "smb_admin_share",
        LinkMethod::LogonType3 => "logon_type3",
        LinkMethod::ExplicitCreds => "explicit_creds",
        LinkMethod::Vpn => "vpn",
        LinkMethod::Winrm => "winrm",
        LinkMethod::Wmi => "wmi",
        LinkMethod::RemoteTask => "remote_task",
        LinkMethod::RemoteService => "remote_service",
        LinkMethod::Dcom => "dcom",
    }
}

/// A link method in words.
pub(crate) fn method(lang: Lang, m: LinkMethod) -> &'static str {
    method_by_code(lang, method_code(m))
}

/// [`method`] from its code (coded evidence summaries carry the code).
pub(crate) fn method_by_code(lang: Lang, code: &str) -> &'static str {
    match code {
        "rdp" => lang.pick("bureau à distance", "remote desktop"),
        "psexec" => "PsExec",
        "smb_admin_share" => lang.pick("partage d'administration", "admin share"),
        "logon_type3" => lang.pick("ouverture de session réseau", "network logon"),
        "explicit_creds" => lang.pick("identifiants explicites", "explicit credentials"),
        "vpn" => "VPN",
        "winrm" => "WinRM",
        "wmi" => "WMI",
        "remote_task" => lang.pick("tâche planifiée à distance", "remote scheduled task"),
        "remote_service" => lang.pick("service créé à distance", "remote service"),
        "dcom" => "DCOM",
        _ => lang.pick("méthode inconnue", "unknown method"),
    }
}

/// A rule level in words (glossary).
pub(crate) fn level(lang: Lang, l: Option<Level>) -> &'static str {
    match l {
        None => lang.pick("sans niveau", "no level"),
        Some(Level::Informational) => glossary::term(lang, "informational"),
        Some(Level::Low) => glossary::term(lang, "low"),
        Some(Level::Medium) => glossary::term(lang, "medium"),
        Some(Level::High) => glossary::term(lang, "high"),
        Some(Level::Critical) => glossary::term(lang, "critical"),
    }
}

/// `high confidence` / `confiance élevée` (glossary).
pub(crate) fn confidence(lang: Lang, c: Confidence) -> &'static str {
    glossary::term(
        lang,
        match c {
            Confidence::Low => "confidence_low",
            Confidence::Medium => "confidence_medium",
            Confidence::High => "confidence_high",
        },
    )
}

/// `3 hosts` / `3 postes ou serveurs`: a count with its noun.
pub(crate) fn count(lang: Lang, n: usize, fr: (&str, &str), en: (&str, &str)) -> String {
    match lang {
        Lang::Fr => lang.count(n as u64, fr.0, fr.1),
        Lang::En => lang.count(n as u64, en.0, en.1),
    }
}

/// A length of time in words: `6 years`, `3 days`, `2 hours`, `5 minutes`.
pub(crate) fn span(lang: Lang, d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    let (n, fr, en) = if mins >= 2 * 365 * 24 * 60 {
        (mins / (365 * 24 * 60), ("an", "ans"), ("year", "years"))
    } else if mins >= 2 * 24 * 60 {
        (mins / (24 * 60), ("jour", "jours"), ("day", "days"))
    } else if mins >= 2 * 60 {
        (mins / 60, ("heure", "heures"), ("hour", "hours"))
    } else {
        (mins, ("minute", "minutes"), ("minute", "minutes"))
    };
    count(lang, n as usize, fr, en)
}

/// First letter in upper case.
pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
