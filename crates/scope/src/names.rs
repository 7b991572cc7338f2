//! Normalising host names, account names and addresses, and matching the
//! assets file's name patterns.
//!
//! Why: the same machine appears as `SRV-RDS01.ccpab.local` (Computer),
//! `SRV-RDS01` (WorkstationName), `srv-rds01` (TargetServerName) and
//! `10.10.1.30` (IpAddress); the same account as `CCPAB\presta.maint`,
//! `presta.maint@ccpab.local` and `PRESTA.MAINT`. Entities must be merged
//! on one canonical key or the lateral-movement graph falls apart.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{AccountKind, AddressKind};

/// Canonical host name: upper case, without domain suffix. IP addresses
/// are kept as they are. `None` for empty, `-` and `localhost`.
pub fn host_key(raw: &str) -> Option<String> {
    let t = raw.trim().trim_start_matches('\\').trim_end_matches('$');
    if t.is_empty() || t == "-" || t.eq_ignore_ascii_case("localhost") {
        return None;
    }
    if t.parse::<IpAddr>().is_ok() {
        return Some(t.to_string());
    }
    let short = t.split('.').next().unwrap_or(t);
    if short.is_empty() {
        return None;
    }
    Some(short.to_ascii_uppercase())
}

/// Canonical account: (lower-case name, domain if any). `None` for empty
/// and `-`.
pub fn account_key(raw: &str) -> Option<(String, Option<String>)> {
    let t = raw.trim();
    if t.is_empty() || t == "-" {
        return None;
    }
    let (dom, name) = if let Some((d, n)) = t.rsplit_once('\\') {
        (Some(d), n)
    } else if let Some((n, d)) = t.split_once('@') {
        (Some(d), n)
    } else {
        (None, t)
    };
    let name = name.trim();
    if name.is_empty() || name == "-" {
        return None;
    }
    let dom = dom.map(str::trim).filter(|d| !d.is_empty() && *d != "-");
    Some((name.to_lowercase(), dom.map(|d| d.to_string())))
}

/// Built-in identities and machine accounts: not "accounts of interest".
pub fn builtin_kind(name: &str) -> Option<AccountKind> {
    if name.ends_with('$') {
        return Some(AccountKind::Machine);
    }
    const BUILTIN: &[&str] = &[
        "system",
        "local service",
        "network service",
        "anonymous logon",
        "local system",
        "localsystem",
        "nt authority\\system",
        "autorite nt\\système",
        "système",
        "service local",
        "service réseau",
        "ouverture de session anonyme",
    ];
    if BUILTIN.contains(&name)
        || name.starts_with("dwm-")
        || name.starts_with("umfd-")
        || name.starts_with("nt service\\")
        || name.starts_with("s-1-5-")
    {
        return Some(AccountKind::Builtin);
    }
    None
}

/// `*` and `?` wildcard match, ASCII case-insensitive.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Classifies addresses: external, VPN pool, internal, local.
#[derive(Debug, Clone, Default)]
pub struct AddressPlan {
    pub vpn: Vec<IpNet>,
    pub internal: Vec<IpNet>,
}

impl AddressPlan {
    pub fn classify(&self, raw: &str) -> AddressKind {
        let t = raw.trim().trim_start_matches("::ffff:");
        let Ok(ip) = t.parse::<IpAddr>() else {
            return AddressKind::Unknown;
        };
        if self.vpn.iter().any(|n| n.contains(&ip)) {
            return AddressKind::Vpn;
        }
        if self.internal.iter().any(|n| n.contains(&ip)) {
            return AddressKind::Internal;
        }
        match ip {
            IpAddr::V4(v4) => {
                if v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() {
                    AddressKind::Local
                } else if v4.is_private()
                    || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
                {
                    AddressKind::Internal
                } else {
                    AddressKind::External
                }
            }
            IpAddr::V6(v6) => {
                if v6.is_loopback() || v6.is_unspecified() || v6.is_unicast_link_local() {
                    AddressKind::Local
                } else if v6.is_unique_local() {
                    AddressKind::Internal
                } else {
                    AddressKind::External
                }
            }
        }
    }
}

/// A normalised address string (`::ffff:` prefix removed), `None` for
/// empty, `-` and non-IP text.
pub fn address_key(raw: &str) -> Option<String> {
    let t = raw.trim().trim_start_matches("::ffff:");
    if t.is_empty() || t == "-" {
        return None;
    }
    t.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// Last path component of a Windows or Unix path, lower case.
pub fn basename(path: &str) -> String {
    path.rsplit(['\\', '/'])
        .next()
        .unwrap_or(path)
        .trim_matches('"')
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_accounts_are_canonical() {
        assert_eq!(
            host_key("SRV-RDS01.ccpab.local").as_deref(),
            Some("SRV-RDS01")
        );
        assert_eq!(host_key("srv-rds01").as_deref(), Some("SRV-RDS01"));
        assert_eq!(host_key("\\\\DC01"), Some("DC01".into()));
        assert_eq!(host_key("10.0.0.5").as_deref(), Some("10.0.0.5"));
        assert_eq!(host_key("-"), None);
        assert_eq!(
            account_key("CCPAB\\Presta.Maint"),
            Some(("presta.maint".into(), Some("CCPAB".into())))
        );
        assert_eq!(
            account_key("presta.maint@ccpab.local"),
            Some(("presta.maint".into(), Some("ccpab.local".into())))
        );
        assert_eq!(builtin_kind("dc01$"), Some(AccountKind::Machine));
        assert_eq!(builtin_kind("anonymous logon"), Some(AccountKind::Builtin));
        assert_eq!(builtin_kind("presta.maint"), None);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("PC-*", "pc-accueil-01"));
        assert!(wildcard("DC0?", "DC01"));
        assert!(!wildcard("DC0?", "DC011"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("SRV-FIC01", "SRV-FIC02"));
        assert!(wildcard("a*b*c", "axxbyyc"));
    }

    #[test]
    fn address_kinds() {
        let plan = AddressPlan {
            vpn: vec!["10.212.134.0/24".parse().unwrap()],
            internal: vec![],
        };
        assert_eq!(plan.classify("10.212.134.11"), AddressKind::Vpn);
        assert_eq!(plan.classify("10.10.1.30"), AddressKind::Internal);
        assert_eq!(plan.classify("203.0.113.45"), AddressKind::External);
        assert_eq!(plan.classify("127.0.0.1"), AddressKind::Local);
        assert_eq!(plan.classify("::ffff:192.168.1.2"), AddressKind::Internal);
        assert_eq!(plan.classify("-"), AddressKind::Unknown);
        assert_eq!(basename("C:\\Windows\\System32\\cmd.exe"), "cmd.exe");
    }
}
