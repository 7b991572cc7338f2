//! The slow path of the matcher: every observable of an event, for the
//! alternatives of several terms (checked only once their anchor was
//! found in one of the tables).

use std::net::IpAddr;

use vigie_event::Event;

use super::fields::{self, Extract};
use crate::model::{HashAlgo, Kind, Subdomains, Test};
use crate::normalize;

/// An observable read from an event.
#[derive(Debug, Clone)]
pub(super) enum Seen {
    Ip(IpAddr),
    Domain(String),
    Url(String),
    Hash(HashAlgo, String),
    Name(String),
}

pub(super) fn collect(event: &Event, how: Extract, s: &str, seen: &mut Vec<Seen>) {
    let host = |h: &str, seen: &mut Vec<Seen>| {
        let t = h.trim().trim_end_matches('.');
        if let Some(a) = normalize::ip(t) {
            seen.push(Seen::Ip(a));
        } else if !t.is_empty() && t != "-" {
            seen.push(Seen::Domain(t.to_lowercase()));
        }
    };
    match how {
        Extract::Ip => seen.extend(normalize::ip(s).map(Seen::Ip)),
        Extract::Host => host(s, seen),
        Extract::DnsResults => {
            for p in fields::dns_results(s) {
                host(p, seen);
            }
        }
        Extract::Url => {
            let full = if s.trim_start().starts_with('/') {
                event
                    .get_str("hostname")
                    .and_then(|h| normalize::url(&format!("{}{}", h.trim(), s.trim())))
            } else {
                normalize::url(s)
            };
            if let Some(u) = full {
                if let Some(h) = normalize::url_host(&u) {
                    host(&h, seen);
                }
                seen.push(Seen::Url(u));
            }
        }
        Extract::Hashes => {
            for (a, hex) in fields::sysmon_hashes(s) {
                seen.push(Seen::Hash(a, hex.to_ascii_lowercase()));
            }
        }
        Extract::Hash(algo) => {
            let t = s.trim();
            if let Some(a) = algo.or_else(|| normalize::hash(t).map(|h| h.0)) {
                seen.push(Seen::Hash(a, t.to_ascii_lowercase()));
            }
        }
        Extract::Path => seen.extend(normalize::file_name(s).map(Seen::Name)),
        Extract::Command => {
            seen.extend(normalize::file_name(fields::command_path(s)).map(Seen::Name))
        }
    }
}

pub(super) fn test_holds(t: &Test, s: &Seen) -> bool {
    match (t, s) {
        (Test::Ip(n), Seen::Ip(a)) => n.contains(a),
        (Test::Domain(d, sub), Seen::Domain(name)) => {
            let exact = name == &**d;
            let under = name.len() > d.len()
                && name.ends_with(&**d)
                && name.as_bytes()[name.len() - d.len() - 1] == b'.';
            match sub {
                Subdomains::Included => exact || under,
                Subdomains::Excluded => exact,
                Subdomains::Only => under,
            }
        }
        (Test::Url(u), Seen::Url(v)) => u.as_ref() == v,
        (Test::Hash(a, h), Seen::Hash(b, v)) => a == b && h.as_ref() == v,
        (Test::FileName(n), Seen::Name(v)) => n.as_ref() == v,
        (Test::Like(k, p), s) if seen_kind(s) == *k => {
            regex::Regex::new(&crate::pattern::like_regex(p))
                .map(|r| r.is_match(&seen_text(s)))
                .unwrap_or(false)
        }
        (Test::Regex(k, p), s) if seen_kind(s) == *k => regex::Regex::new(p)
            .map(|r| r.is_match(&seen_text(s)))
            .unwrap_or(false),
        _ => false,
    }
}

fn seen_kind(s: &Seen) -> Kind {
    match s {
        Seen::Ip(_) => Kind::Ip,
        Seen::Domain(_) => Kind::Domain,
        Seen::Url(_) => Kind::Url,
        Seen::Hash(a, _) => Kind::Hash(*a),
        Seen::Name(_) => Kind::FileName,
    }
}

fn seen_text(s: &Seen) -> String {
    match s {
        Seen::Ip(a) => a.to_string(),
        Seen::Domain(d) | Seen::Url(d) | Seen::Hash(_, d) | Seen::Name(d) => d.clone(),
    }
}
