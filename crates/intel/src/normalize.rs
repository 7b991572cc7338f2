//! One normalisation per kind of observable, shared by import, matching
//! and export, so that a value exported by Vigie, read back from a feed and
//! seen in an event compares equal.
//!
//! * addresses: parsed (`::ffff:a.b.c.d` is the IPv4 address, brackets and
//!   a trailing `:port` are removed), networks truncated to their prefix;
//! * domains: ASCII lower case (IDNs in punycode), no trailing dot;
//! * URLs: the WHATWG serialisation (`url` crate: scheme and host in lower
//!   case, default port and fragment removed, dot segments resolved); a URL
//!   without scheme is read as `http://`;
//! * hashes: lower-case hexadecimal, the algorithm told by the length when
//!   the source does not name it;
//! * file names: the last path component, lower case.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::model::HashAlgo;

/// An address as events and feeds write it: `203.0.113.45`,
/// `::ffff:203.0.113.45`, `[2001:db8::1]:443`, `203.0.113.45:443`.
pub fn ip(s: &str) -> Option<IpAddr> {
    let t = s.trim();
    if t.is_empty() || t == "-" {
        return None;
    }
    if let Ok(a) = t.parse::<IpAddr>() {
        return Some(canonical_ip(a));
    }
    // `[v6]:port` or `[v6]`.
    if let Some(rest) = t.strip_prefix('[') {
        let inner = rest.split(']').next()?;
        return inner
            .parse::<Ipv6Addr>()
            .ok()
            .map(|a| canonical_ip(a.into()));
    }
    // `a.b.c.d:port`.
    if let Some((host, port)) = t.rsplit_once(':') {
        if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
            return host.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
        }
    }
    // Windows writes zone ids (`fe80::1%12`).
    if let Some((a, _zone)) = t.split_once('%') {
        return a.parse::<IpAddr>().ok().map(canonical_ip);
    }
    None
}

/// An IPv4-mapped IPv6 address is its IPv4 address.
pub fn canonical_ip(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// An address or a network (`198.51.100.0/24`), truncated to its prefix
/// (`198.51.100.7/24` is `198.51.100.0/24`).
pub fn ip_net(s: &str) -> Option<IpNet> {
    let t = s.trim();
    if let Some((a, len)) = t.split_once('/') {
        let len: u8 = len.trim().parse().ok()?;
        let addr = ip(a)?;
        let net = match addr {
            IpAddr::V4(v4) => IpNet::V4(Ipv4Net::new(v4, len).ok()?),
            IpAddr::V6(v6) => IpNet::V6(Ipv6Net::new(v6, len).ok()?),
        };
        return Some(net.trunc());
    }
    ip(t).map(IpNet::from)
}

/// An address, a network, or a range `first-last` (as FortiGate lists
/// write them) as the networks that cover it exactly.
pub fn ip_nets(s: &str) -> Option<Vec<IpNet>> {
    let t = s.trim();
    if let Some((a, b)) = t.split_once('-') {
        let (a, b) = (ip(a)?, ip(b)?);
        return match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
                Some(ipnet::Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect())
            }
            (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
                Some(ipnet::Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect())
            }
            _ => None,
        };
    }
    ip_net(t).map(|n| vec![n])
}

/// Whether an address is never a useful indicator to share: private
/// (RFC 1918, RFC 6598 shared, unique-local), loopback, link-local,
/// unspecified, multicast or broadcast. Documentation ranges are *not*
/// among them: they stand for public addresses in examples and scenarios.
pub fn is_non_public(a: IpAddr) -> bool {
    match canonical_ip(a) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
        }
    }
}

/// A domain or host name: lower case, punycode for IDNs, no trailing dot.
/// `None` when it cannot be one (spaces, slashes, empty labels).
pub fn domain(s: &str) -> Option<String> {
    let t = s.trim().trim_end_matches('.');
    if t.is_empty() || t.len() > 253 {
        return None;
    }
    let lower = if t.is_ascii() {
        t.to_ascii_lowercase()
    } else {
        match url::Host::parse(t).ok()? {
            url::Host::Domain(d) => d,
            _ => return None,
        }
    };
    let ok = lower.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    ok.then_some(lower)
}

/// Whether a domain name is plausibly one (at least two labels, a
/// non-numeric last label): what tells a domain from a word in a list.
pub fn looks_like_domain(d: &str) -> bool {
    match d.rsplit_once('.') {
        Some((_, tld)) => !tld.is_empty() && !tld.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// A URL in the one form every stage compares: the WHATWG serialisation
/// without fragment. A value without `scheme://` is read as `http://`.
pub fn url(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() || t.len() > 8192 {
        return None;
    }
    let parsed = if t.contains("://") {
        url::Url::parse(t).ok()?
    } else {
        url::Url::parse(&format!("http://{t}")).ok()?
    };
    if !parsed.has_host() {
        return None;
    }
    let mut u = parsed;
    u.set_fragment(None);
    Some(u.into())
}

/// The host of a normalised URL.
pub fn url_host(u: &str) -> Option<String> {
    url::Url::parse(u).ok()?.host_str().map(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    })
}

/// A digest in hexadecimal: lower case, its algorithm told by its length
/// (32 MD5, 40 SHA-1, 64 SHA-256).
pub fn hash(s: &str) -> Option<(HashAlgo, String)> {
    let t = s.trim();
    if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let algo = match t.len() {
        32 => HashAlgo::Md5,
        40 => HashAlgo::Sha1,
        64 => HashAlgo::Sha256,
        _ => return None,
    };
    Some((algo, t.to_ascii_lowercase()))
}

/// A digest of a named algorithm, lower case; `None` when its length does
/// not fit the algorithm.
pub fn hash_of(algo: HashAlgo, s: &str) -> Option<String> {
    let t = s.trim();
    (t.len() == algo.len() * 2 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| t.to_ascii_lowercase())
}

/// Decodes `N` bytes of hexadecimal (either case) without allocating.
pub fn hex_bytes<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The last component of a Windows or Unix path (quotes removed), lower
/// case; `None` when empty.
pub fn file_name(path: &str) -> Option<String> {
    let base = path
        .trim()
        .trim_matches('"')
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or("")
        .trim();
    (!base.is_empty()).then(|| base.to_lowercase())
}

/// `s` cut to at most `max` characters, with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(ip("::ffff:203.0.113.45"), ip("203.0.113.45"));
        assert_eq!(ip("203.0.113.45:443"), ip("203.0.113.45"));
        assert_eq!(ip("[2001:db8::1]:443").unwrap().to_string(), "2001:db8::1");
        assert_eq!(ip("fe80::1%12").unwrap().to_string(), "fe80::1");
        assert_eq!(ip("-"), None);
        assert_eq!(ip("host.example"), None);
        assert_eq!(
            ip_net("198.51.100.7/24").unwrap().to_string(),
            "198.51.100.0/24"
        );
        let r = ip_nets("10.0.0.1-10.0.0.6").unwrap();
        let text: Vec<String> = r.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            text,
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert!(ip_nets("10.0.0.9-10.0.0.1").is_none());
    }

    #[test]
    fn non_public_addresses() {
        for a in [
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "fd00::1",
            "fe80::1",
            "::1",
            "0.0.0.0",
            "255.255.255.255",
        ] {
            assert!(is_non_public(a.parse().unwrap()), "{a}");
        }
        for a in [
            "203.0.113.45",
            "8.8.8.8",
            "2001:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_non_public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn domains_and_urls() {
        assert_eq!(
            domain("Relay.NET.AnyDesk.com.").as_deref(),
            Some("relay.net.anydesk.com")
        );
        assert_eq!(
            domain("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(domain("a b.com"), None);
        assert_eq!(domain("a..com"), None);
        assert!(
            looks_like_domain("evil.example")
                && !looks_like_domain("1.2.3.4")
                && !looks_like_domain("word")
        );
        assert_eq!(
            url("HTTP://Evil.Example:80/a/../b?x=1#frag").as_deref(),
            Some("http://evil.example/b?x=1")
        );
        assert_eq!(
            url("evil.example/x").as_deref(),
            Some("http://evil.example/x")
        );
        assert_eq!(
            url_host("http://[2001:db8::1]:8080/").as_deref(),
            Some("2001:db8::1")
        );
    }

    #[test]
    fn hashes_and_names() {
        assert_eq!(
            hash("D41D8CD98F00B204E9800998ECF8427E").unwrap().0,
            HashAlgo::Md5
        );
        assert_eq!(hash(&"a".repeat(64)).unwrap().0, HashAlgo::Sha256);
        assert!(hash("xyz").is_none());
        assert_eq!(hex_bytes::<2>(b"aBff"), Some([0xab, 0xff]));
        assert_eq!(hex_bytes::<2>(b"aBfg"), None);
        assert_eq!(
            file_name(r#""C:\Users\x\AdFind.exe""#).as_deref(),
            Some("adfind.exe")
        );
        assert_eq!(file_name("/usr/bin/curl").as_deref(), Some("curl"));
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
