//! Which event fields carry which observables, and how to read them.
//!
//! Field names are compared without regard to case (collectors differ:
//! `DestinationIp`, `destinationip`); the table is the one in the crate
//! documentation. A field not in the table is never read for indicators:
//! a user name or a command line holding an address is not the address
//! being contacted.

use std::collections::HashMap;

use crate::model::HashAlgo;

/// How a field's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extract {
    /// An address (`203.0.113.45`, `::ffff:203.0.113.45`, `a.b.c.d:port`).
    Ip,
    /// A host name, or an address written where a name is expected.
    Host,
    /// A URL (with or without scheme); a path alone (`/gate.php`, as
    /// FortiGate writes `url=`) is joined to the event's `hostname`.
    Url,
    /// Sysmon's `ALGO=hex,ALGO=hex` list (`Hashes`, `Hash`).
    Hashes,
    /// One digest, of this algorithm or told by its length.
    Hash(Option<HashAlgo>),
    /// A file path: its last component is the file name.
    Path,
    /// A command line whose first token is a program path (service
    /// `ImagePath`): its file name.
    Command,
    /// Sysmon 22 `QueryResults`: `type:  5 cname.example;::ffff:203.0.113.9;`.
    DnsResults,
}

/// `(field, how, where it comes from)`: the table of the crate docs.
pub const FIELDS: &[(&str, Extract, &str)] = &[
    // Windows: Sysmon.
    ("SourceIp", Extract::Ip, "Sysmon 3"),
    ("DestinationIp", Extract::Ip, "Sysmon 3"),
    ("SourceHostname", Extract::Host, "Sysmon 3"),
    ("DestinationHostname", Extract::Host, "Sysmon 3"),
    (
        "QueryName",
        Extract::Host,
        "Sysmon 22, DNS Client 3008/3020",
    ),
    ("QueryResults", Extract::DnsResults, "Sysmon 22"),
    ("Hashes", Extract::Hashes, "Sysmon 1, 6, 7, 23, 26, 29"),
    ("Hash", Extract::Hashes, "Sysmon 15"),
    ("Image", Extract::Path, "Sysmon 1, 3, 22…"),
    ("ParentImage", Extract::Path, "Sysmon 1"),
    ("OriginalFileName", Extract::Path, "Sysmon 1, 7"),
    ("ImageLoaded", Extract::Path, "Sysmon 6, 7"),
    ("TargetFilename", Extract::Path, "Sysmon 11, 15, 23, 26, 29"),
    // Windows: Security and others.
    (
        "IpAddress",
        Extract::Ip,
        "Security 4624, 4625, 4648, 4768, 4769, 4771, 5140, 5145",
    ),
    ("SourceAddress", Extract::Ip, "Security 5156, 5157"),
    ("DestAddress", Extract::Ip, "Security 5156, 5157"),
    ("Application", Extract::Path, "Security 5156, 5157"),
    ("NewProcessName", Extract::Path, "Security 4688"),
    ("ParentProcessName", Extract::Path, "Security 4688"),
    ("ImagePath", Extract::Command, "System 7045"),
    ("ServiceFileName", Extract::Command, "Security 4697"),
    (
        "Address",
        Extract::Ip,
        "TerminalServices-LocalSessionManager 21, 24, 25",
    ),
    (
        "Param3",
        Extract::Ip,
        "TerminalServices-RemoteConnectionManager 1149",
    ),
    // FortiGate (key=value syslog).
    ("srcip", Extract::Ip, "FortiGate traffic, VPN, UTM"),
    ("dstip", Extract::Ip, "FortiGate traffic, UTM"),
    ("remip", Extract::Ip, "FortiGate VPN"),
    (
        "hostname",
        Extract::Host,
        "FortiGate web filter, traffic (HTTP host, SNI)",
    ),
    ("qname", Extract::Host, "FortiGate DNS filter"),
    ("url", Extract::Url, "FortiGate web filter; proxy logs"),
    ("filename", Extract::Path, "FortiGate antivirus"),
    ("filehash", Extract::Hash(None), "FortiGate antivirus"),
    // Proxy and web server logs (W3C), Zeek, generic JSON.
    ("c-ip", Extract::Ip, "W3C (IIS, proxies)"),
    ("s-ip", Extract::Ip, "W3C"),
    ("cs-host", Extract::Host, "W3C"),
    ("src_ip", Extract::Ip, "proxies, generic JSON"),
    ("dst_ip", Extract::Ip, "proxies, generic JSON"),
    ("dest_ip", Extract::Ip, "proxies, Suricata EVE"),
    ("id.orig_h", Extract::Ip, "Zeek"),
    ("id.resp_h", Extract::Ip, "Zeek"),
    ("query", Extract::Host, "Zeek dns, generic DNS logs"),
    ("domain", Extract::Host, "proxies, generic JSON"),
    // Elastic Common Schema (Winlogbeat, Filebeat, Elastic Agent).
    ("source.ip", Extract::Ip, "ECS"),
    ("destination.ip", Extract::Ip, "ECS"),
    ("client.ip", Extract::Ip, "ECS"),
    ("server.ip", Extract::Ip, "ECS"),
    ("destination.domain", Extract::Host, "ECS"),
    ("dns.question.name", Extract::Host, "ECS"),
    ("url.full", Extract::Url, "ECS"),
    ("url.original", Extract::Url, "ECS"),
    ("url.domain", Extract::Host, "ECS"),
    ("file.name", Extract::Path, "ECS"),
    ("file.path", Extract::Path, "ECS"),
    ("process.executable", Extract::Path, "ECS"),
    ("process.name", Extract::Path, "ECS"),
    ("file.hash.md5", Extract::Hash(Some(HashAlgo::Md5)), "ECS"),
    ("file.hash.sha1", Extract::Hash(Some(HashAlgo::Sha1)), "ECS"),
    (
        "file.hash.sha256",
        Extract::Hash(Some(HashAlgo::Sha256)),
        "ECS",
    ),
    (
        "process.hash.md5",
        Extract::Hash(Some(HashAlgo::Md5)),
        "ECS",
    ),
    (
        "process.hash.sha1",
        Extract::Hash(Some(HashAlgo::Sha1)),
        "ECS",
    ),
    (
        "process.hash.sha256",
        Extract::Hash(Some(HashAlgo::Sha256)),
        "ECS",
    ),
    (
        "process.pe.imphash",
        Extract::Hash(Some(HashAlgo::Imphash)),
        "ECS",
    ),
    (
        "file.pe.imphash",
        Extract::Hash(Some(HashAlgo::Imphash)),
        "ECS",
    ),
];

/// The table indexed for a case-insensitive lookup that neither
/// allocates nor lower-cases: names are bucketed by length and their
/// first and last bytes folded, then compared ignoring ASCII case. Most
/// event fields miss at the first probe.
pub struct FieldIndex {
    buckets: HashMap<u32, Vec<(&'static str, Extract)>, foldhash::fast::RandomState>,
}

fn signature(name: &[u8]) -> Option<u32> {
    let (&first, &last) = (name.first()?, name.last()?);
    let len = u32::try_from(name.len().min(0xffff)).ok()?;
    Some(
        (len << 16)
            | (u32::from(first.to_ascii_lowercase()) << 8)
            | u32::from(last.to_ascii_lowercase()),
    )
}

impl Default for FieldIndex {
    fn default() -> Self {
        let mut buckets: HashMap<u32, Vec<(&'static str, Extract)>, _> = HashMap::default();
        for (name, how, _) in FIELDS {
            if let Some(sig) = signature(name.as_bytes()) {
                buckets.entry(sig).or_default().push((name, *how));
            }
        }
        FieldIndex { buckets }
    }
}

impl FieldIndex {
    /// How to read the field `name`, if it carries observables.
    #[inline]
    pub fn get(&self, name: &str) -> Option<Extract> {
        let list = self.buckets.get(&signature(name.as_bytes())?)?;
        list.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, how)| *how)
    }
}

/// Calls `f` with `s` in ASCII lower case, without allocating for short
/// ASCII text; other text is lower-cased fully.
#[inline]
pub fn with_lower<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return if s.is_ascii() {
            f(s)
        } else {
            f(&s.to_lowercase())
        };
    }
    if s.len() <= 256 && s.is_ascii() {
        let mut buf = [0u8; 256];
        let out = &mut buf[..s.len()];
        out.copy_from_slice(s.as_bytes());
        out.make_ascii_lowercase();
        // ASCII in, ASCII out.
        return f(std::str::from_utf8(out).unwrap_or_default());
    }
    f(&s.to_lowercase())
}

/// The program path at the start of a command line: the quoted part, or
/// up to the first space after `.exe` (`C:\Program Files\x\a.exe -k`).
pub fn command_path(s: &str) -> &str {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('"') {
        return rest.split('"').next().unwrap_or(rest);
    }
    let lower = t.to_ascii_lowercase();
    if let Some(i) = lower.find(".exe") {
        return &t[..i + 4];
    }
    t.split(' ').next().unwrap_or(t)
}

/// The `(algorithm, hex)` pairs of a Sysmon `Hashes` value
/// (`SHA1=…,MD5=…,SHA256=…,IMPHASH=…`; older Sysmon writes only the
/// digest: told by its length).
pub fn sysmon_hashes(s: &str) -> impl Iterator<Item = (HashAlgo, &str)> {
    s.split(',').filter_map(|part| {
        let part = part.trim();
        match part.split_once('=') {
            Some((algo, hex)) => {
                let a = match algo.trim().to_ascii_uppercase().as_str() {
                    "MD5" => HashAlgo::Md5,
                    "SHA1" | "SHA-1" => HashAlgo::Sha1,
                    "SHA256" | "SHA-256" => HashAlgo::Sha256,
                    "IMPHASH" => HashAlgo::Imphash,
                    _ => return None,
                };
                Some((a, hex.trim()))
            }
            None => {
                let a = match part.len() {
                    32 => HashAlgo::Md5,
                    40 => HashAlgo::Sha1,
                    64 => HashAlgo::Sha256,
                    _ => return None,
                };
                Some((a, part))
            }
        }
    })
}

/// The names and addresses of a Sysmon 22 `QueryResults`
/// (`type:  5 cname.example;::ffff:203.0.113.9;`).
pub fn dns_results(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').filter_map(|part| {
        let p = part.trim();
        if p.is_empty() || p == "-" {
            return None;
        }
        // `type:  5 name`: the record type then the name.
        let p = match p.strip_prefix("type:") {
            Some(rest) => rest.trim_start().split_once(' ').map(|x| x.1.trim())?,
            None => p,
        };
        (!p.is_empty()).then_some(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_misses_quickly() {
        let idx = FieldIndex::default();
        assert_eq!(idx.get("DestinationIp"), Some(Extract::Ip));
        assert_eq!(idx.get("destinationip"), Some(Extract::Ip));
        assert_eq!(idx.get("DESTINATIONIP"), Some(Extract::Ip));
        assert_eq!(idx.get("dns.question.name"), Some(Extract::Host));
        assert_eq!(idx.get("CommandLine"), None);
        assert_eq!(idx.get(""), None);
        let names: std::collections::HashSet<String> = FIELDS
            .iter()
            .map(|(n, _, _)| n.to_ascii_lowercase())
            .collect();
        assert_eq!(names.len(), FIELDS.len(), "a field listed twice");
    }

    #[test]
    fn values() {
        let h: Vec<_> =
            sysmon_hashes("SHA1=AA,MD5=D41D8CD98F00B204E9800998ECF8427E,IMPHASH=bb,Other=x")
                .collect();
        assert_eq!(
            h,
            [
                (HashAlgo::Sha1, "AA"),
                (HashAlgo::Md5, "D41D8CD98F00B204E9800998ECF8427E"),
                (HashAlgo::Imphash, "bb")
            ]
        );
        let r: Vec<_> =
            dns_results("type:  5 relay.net.anydesk.com;::ffff:203.0.113.9;198.51.100.2;")
                .collect();
        assert_eq!(
            r,
            [
                "relay.net.anydesk.com",
                "::ffff:203.0.113.9",
                "198.51.100.2"
            ]
        );
        assert_eq!(
            command_path(r#""C:\Program Files (x86)\AnyDesk\AnyDesk.exe" --service"#),
            r"C:\Program Files (x86)\AnyDesk\AnyDesk.exe"
        );
        assert_eq!(
            command_path(r"C:\Windows\PSEXESVC.exe -x"),
            r"C:\Windows\PSEXESVC.exe"
        );
        assert_eq!(
            command_path(r"%SystemRoot%\system32\svchost.exe -k netsvcs"),
            r"%SystemRoot%\system32\svchost.exe"
        );
        with_lower("AbC", |s| assert_eq!(s, "abc"));
        with_lower("ÉCOLE", |s| assert_eq!(s, "école"));
    }
}
