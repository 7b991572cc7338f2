//! Indicators as Vigie holds them, whatever format they came in.
//!
//! An [`Indicator`] is a [`Condition`] on the observables of one event
//! (any of several alternatives, each all of several [`Term`]s), with what
//! a CSIRT attaches to it: where it comes from, its TLP, its validity and
//! its confidence. STIX patterns, MISP attributes and CSV lines all become
//! this one shape, so the matcher compiles one set whatever the mix.

use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use vigie_detect::Level;
use vigie_event::Timestamp;

/// The Traffic Light Protocol 2.0 label of an indicator or an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tlp {
    #[serde(rename = "clear")]
    Clear,
    #[serde(rename = "green")]
    Green,
    #[serde(rename = "amber")]
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    #[serde(rename = "red")]
    Red,
}

impl Tlp {
    /// Every label, least restrictive first.
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// Reads `clear`, `green`, `amber`, `amber+strict`, `red`, with or
    /// without a `tlp:` / `TLP:` prefix, in any case; TLP 1.0's `white` is
    /// TLP 2.0's `clear`.
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim();
        let s = s
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("tlp:"))
            .map_or(s, |_| &s[4..]);
        let s = s.trim().trim_matches('"').to_ascii_lowercase();
        Some(match s.as_str() {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" | "amber-strict" | "amber_strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }

    /// `amber+strict`: the value of the STIX TLP 2.0 extension and of the
    /// CLI option.
    pub fn name(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// `TLP:AMBER+STRICT`, as people write it.
    pub fn label(self) -> String {
        format!("TLP:{}", self.name().to_ascii_uppercase())
    }

    /// The MISP tag (`tlp:amber+strict`).
    pub fn misp_tag(self) -> String {
        format!("tlp:{}", self.name())
    }

    /// A Sigma tag (`tlp.amber`, `tlp.amber_strict`: Sigma tags have no
    /// `+`).
    pub fn sigma_tag(self) -> String {
        format!("tlp.{}", self.name().replace('+', "_"))
    }
}

impl std::fmt::Display for Tlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// Hash algorithms that event fields carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
    /// The import hash of a PE file (Sysmon `IMPHASH`).
    Imphash,
}

impl HashAlgo {
    /// Length of the digest in bytes.
    pub fn bytes(self) -> usize {
        match self {
            HashAlgo::Md5 | HashAlgo::Imphash => 16,
            HashAlgo::Sha1 => 20,
            HashAlgo::Sha256 => 32,
        }
    }

    /// The STIX hash name (`MD5`, `SHA-1`, `SHA-256`); the import hash
    /// has none (it is a property of the PE extension).
    pub fn stix_name(self) -> Option<&'static str> {
        match self {
            HashAlgo::Md5 => Some("MD5"),
            HashAlgo::Sha1 => Some("SHA-1"),
            HashAlgo::Sha256 => Some("SHA-256"),
            HashAlgo::Imphash => None,
        }
    }

    /// The MISP attribute type (`md5`, `sha1`, `sha256`, `imphash`).
    pub fn misp_type(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha1",
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Imphash => "imphash",
        }
    }
}

/// What an event field can carry, as far as indicators go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An IPv4 or IPv6 address.
    Ip,
    /// A domain or host name.
    Domain,
    Url,
    Hash(HashAlgo),
    /// The name of a file, without its directory.
    FileName,
}

impl Kind {
    /// A short word for messages (`ip`, `domain`, `url`, `sha256`,
    /// `file_name`).
    pub fn word(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::Hash(a) => a.misp_type(),
            Kind::FileName => "file_name",
        }
    }
}

/// Whether a domain indicator also covers the names under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subdomains {
    /// The domain and every name under it (a STIX `domain-name`, a MISP
    /// `domain`, a line of a domain list): the names an attacker creates
    /// under a domain they hold are theirs too.
    Included,
    /// Exactly this name (a MISP `hostname`).
    Excluded,
    /// Only the names under it (`*.example.org` in a FortiGate list,
    /// `LIKE '%.example.org'` in a STIX pattern).
    Only,
}

/// One test on one observable of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Test {
    /// The address is inside this network (a single address is a /32 or
    /// a /128).
    Ip(IpNet),
    /// The name is this domain (lower case, no trailing dot), or under it.
    Domain(Box<str>, Subdomains),
    /// The URL, normalised (see `normalize::url`).
    Url(Box<str>),
    /// The digest, lower-case hexadecimal.
    Hash(HashAlgo, Box<str>),
    /// The file name, lower case.
    FileName(Box<str>),
    /// SQL `LIKE` (`%` any run, `_` one character), case-insensitive,
    /// over the normalised text of observables of this kind.
    Like(Kind, Box<str>),
    /// A regular expression over the normalised text of observables of
    /// this kind (STIX `MATCHES`).
    Regex(Kind, Box<str>),
}

impl Test {
    /// The kind of observable it tests.
    pub fn kind(&self) -> Kind {
        match self {
            Test::Ip(_) => Kind::Ip,
            Test::Domain(..) => Kind::Domain,
            Test::Url(_) => Kind::Url,
            Test::Hash(a, _) => Kind::Hash(*a),
            Test::FileName(_) => Kind::FileName,
            Test::Like(k, _) | Test::Regex(k, _) => *k,
        }
    }

    /// Whether the matcher can find it by a lookup (rather than a scan).
    pub fn is_exact(&self) -> bool {
        !matches!(self, Test::Like(..) | Test::Regex(..))
    }

    /// The value as an exported indicator shows it (`203.0.113.45`,
    /// `198.51.100.0/24`, `*.example.org`).
    pub fn value_text(&self) -> String {
        match self {
            Test::Ip(n) if n.prefix_len() == n.max_prefix_len() => n.addr().to_string(),
            Test::Ip(n) => n.to_string(),
            Test::Domain(d, Subdomains::Only) => format!("*.{d}"),
            Test::Domain(d, _) => d.to_string(),
            Test::Url(u) => u.to_string(),
            Test::Hash(_, h) => h.to_string(),
            Test::FileName(n) => n.to_string(),
            Test::Like(_, p) | Test::Regex(_, p) => p.to_string(),
        }
    }
}

/// A test, or its negation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    pub test: Test,
    pub negated: bool,
}

impl Term {
    pub fn is(test: Test) -> Term {
        Term {
            test,
            negated: false,
        }
    }
}

/// Any of several alternatives, each all of several terms, on one event.
/// Every alternative holds at least one positive term.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Condition {
    pub any: Vec<Vec<Term>>,
}

impl Condition {
    /// A condition of one test.
    pub fn single(test: Test) -> Condition {
        Condition {
            any: vec![vec![Term::is(test)]],
        }
    }

    /// Any of these tests.
    pub fn any_of(tests: impl IntoIterator<Item = Test>) -> Condition {
        Condition {
            any: tests.into_iter().map(|t| vec![Term::is(t)]).collect(),
        }
    }
}

/// The format an indicator was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Stix,
    Misp,
    ThreatFox,
    Urlhaus,
    Feodo,
    /// A `value,type` CSV (Vigie's `blocklist.csv`, and lists like it).
    Csv,
    /// One value per line (a FortiGate threat feed, any plain list).
    List,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Stix => "STIX 2.1",
            Format::Misp => "MISP",
            Format::ThreatFox => "ThreatFox CSV",
            Format::Urlhaus => "URLhaus CSV",
            Format::Feodo => "Feodo Tracker CSV",
            Format::Csv => "CSV value,type",
            Format::List => "plain list",
        }
    }
}

/// Where indicators come from: a feed, a CSIRT, a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    /// Who: the STIX identity or MISP organisation that made them, else
    /// the file or feed name.
    pub name: String,
    /// The file, URL or TAXII collection they were read from.
    pub location: String,
    pub format: Format,
}

/// One indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// The id at its source (STIX id, MISP attribute UUID), else a
    /// deterministic one (`ioc--` + UUIDv5 of source and value).
    pub id: Box<str>,
    /// Its name, when the source gave one (STIX `name`, MISP comment,
    /// malware family).
    pub name: Option<Box<str>>,
    /// As written at the source: a STIX pattern, `ip-dst: 203.0.113.45`,
    /// a CSV value.
    pub pattern: Box<str>,
    pub condition: Condition,
    pub source: Arc<Source>,
    pub tlp: Option<Tlp>,
    /// From when it indicates an attack (STIX `valid_from`, a feed's
    /// first-seen date).
    pub valid_from: Option<Timestamp>,
    /// Until when (STIX `valid_until`): events after it do not match.
    pub valid_until: Option<Timestamp>,
    /// 0–100, as STIX `confidence`.
    pub confidence: Option<u8>,
    /// Sigma-style tags: `attack.t1071.001`, `attack.command-and-control`,
    /// malware families as `malware.<name>`.
    pub tags: Vec<Box<str>>,
    pub description: Option<Box<str>>,
}

impl Indicator {
    /// The level of a match: the confidence, when the source states it
    /// (below 30 low, below 70 medium, else high), else medium — a match
    /// with a shared indicator is a signal, never a verdict on its own.
    pub fn level(&self) -> Level {
        match self.confidence {
            Some(c) if c < 30 => Level::Low,
            Some(c) if c < 70 => Level::Medium,
            Some(_) => Level::High,
            None => Level::Medium,
        }
    }

    /// A short name for titles: its name, else its pattern cut at 120
    /// characters.
    pub fn display(&self) -> String {
        let text = self.name.as_deref().unwrap_or(&self.pattern);
        crate::normalize::cut(text, 120)
    }
}

/// What could not be imported, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Valid at its source, but Vigie cannot match it (a pattern over
    /// several events, an observable no event field carries).
    Unsupported,
    /// Not valid: a bad address, a pattern that does not parse, a row
    /// with too few columns.
    Invalid,
    /// Withdrawn by its source (STIX `revoked`, MISP `deleted`).
    Revoked,
    /// Marked by its source as not for detection (MISP `to_ids: false`).
    NotForDetection,
    /// A file or a part of one that is not an indicator format.
    NotIndicators,
}

/// One thing not imported, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// File and line, object id, or attribute UUID.
    pub place: String,
    pub kind: ProblemKind,
    pub reason: String,
}

/// At most this many problems are kept with their place; the others are
/// counted ([`Imported::problems_total`]).
pub const PROBLEMS_KEPT: usize = 1000;

/// The result of reading indicators.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub indicators: Vec<Indicator>,
    /// The first [`PROBLEMS_KEPT`] problems.
    pub problems: Vec<Problem>,
    /// Every problem, counted by kind.
    pub problems_total: std::collections::BTreeMap<ProblemKind, usize>,
    /// Objects read that are not indicators (a STIX `identity`, a MISP
    /// event's report), by type: read, not lost.
    pub other_objects: std::collections::BTreeMap<String, usize>,
    /// Files read.
    pub files: usize,
}

impl Imported {
    /// Records a problem (kept with its place while under the cap).
    pub fn problem(
        &mut self,
        place: impl Into<String>,
        kind: ProblemKind,
        reason: impl Into<String>,
    ) {
        *self.problems_total.entry(kind).or_default() += 1;
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(Problem {
                place: place.into(),
                kind,
                reason: reason.into(),
            });
        }
    }

    /// Adds the results of parts read side by side, in order (the room
    /// for their indicators made once).
    pub fn merge_all(&mut self, parts: Vec<Imported>) {
        self.indicators
            .reserve(parts.iter().map(|p| p.indicators.len()).sum());
        for part in parts {
            self.merge(part);
        }
    }

    /// Every problem counted.
    pub fn problem_count(&self) -> usize {
        self.problems_total.values().sum()
    }

    /// Adds another import's results.
    pub fn merge(&mut self, other: Imported) {
        // 100,000 indicators are 16 MB: moved, not copied, into an empty set.
        if self.indicators.is_empty() && self.indicators.capacity() < other.indicators.len() {
            self.indicators = other.indicators;
        } else {
            self.indicators.extend(other.indicators);
        }
        for p in other.problems {
            if self.problems.len() < PROBLEMS_KEPT {
                self.problems.push(p);
            }
        }
        for (k, n) in other.problems_total {
            *self.problems_total.entry(k).or_default() += n;
        }
        for (k, n) in other.other_objects {
            *self.other_objects.entry(k).or_default() += n;
        }
        self.files += other.files;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_names_round_trip() {
        for t in Tlp::ALL {
            assert_eq!(Tlp::parse(t.name()), Some(t));
            assert_eq!(Tlp::parse(&t.label()), Some(t));
            assert_eq!(Tlp::parse(&t.misp_tag()), Some(t));
        }
        assert_eq!(Tlp::parse("TLP:WHITE"), Some(Tlp::Clear));
        assert_eq!(Tlp::parse("tlp:ex:chr"), None);
        assert_eq!(Tlp::AmberStrict.sigma_tag(), "tlp.amber_strict");
    }

    #[test]
    fn level_follows_confidence() {
        let mut i = Indicator {
            id: "x".into(),
            name: None,
            pattern: "p".into(),
            condition: Condition::default(),
            source: Arc::new(Source {
                name: "s".into(),
                location: "l".into(),
                format: Format::List,
            }),
            tlp: None,
            valid_from: None,
            valid_until: None,
            confidence: None,
            tags: vec![],
            description: None,
        };
        assert_eq!(i.level(), Level::Medium);
        i.confidence = Some(10);
        assert_eq!(i.level(), Level::Low);
        i.confidence = Some(85);
        assert_eq!(i.level(), Level::High);
    }
}
