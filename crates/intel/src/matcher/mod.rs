//! The compiled indicator set: every indicator in one structure per kind
//! of observable, so that matching an event costs a few hash lookups
//! whatever the number of indicators.
//!
//! * addresses and networks: one hash table keyed by (prefix length,
//!   masked address), probed once per prefix length present (a single
//!   address is a /32 or /128: with only addresses, one probe);
//! * domains: one hash table of names; a name is probed, then each of its
//!   parent domains (`a.b.example.org`, `b.example.org`, `example.org`…),
//!   which finds the indicators that cover subdomains;
//! * URLs: one table of normalised URLs (and their hosts go to the domain
//!   and address tables);
//! * MD5, SHA-1, SHA-256, IMPHASH: one table each, keyed by the digest's
//!   bytes (decoded from the event's hexadecimal without allocating);
//! * file names: one table of lower-case names;
//! * `LIKE` and `MATCHES`: one `RegexSet` per kind, run only when such
//!   indicators exist.
//!
//! An alternative of several terms is filed under one of its positive
//! exact terms (the most selective: digest, URL, domain, address, name);
//! its other terms are checked on the event only when that one is found.
//! Indicators with the same condition (the same address from two feeds)
//! share one entry: one detection per event, naming every source.
//!
//! The matcher is immutable, `Send + Sync`: share it behind an `Arc` and
//! swap in a new one when indicators change (compiling 100,000 indicators
//! takes a fraction of a second).

pub mod fields;
mod observables;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::Duration;
use ipnet::IpNet;
use regex::RegexSet;
use vigie_detect::{Level, Match, MatchedField, RuleKind, RuleMeta};
use vigie_event::{Event, Timestamp, Value};

use crate::model::{HashAlgo, Indicator, Kind, Subdomains, Term, Test};
use crate::normalize;
use fields::{Extract, FieldIndex};
use observables::{collect, test_holds, Seen};

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// How matching treats time.
#[derive(Debug, Clone, Copy)]
pub struct MatchOptions {
    /// How long before an indicator's `valid_from` an event still matches
    /// it. Feeds stamp `valid_from` when they publish, which follows the
    /// activity they describe by days or weeks: a retro-hunt must still
    /// find that activity. Matches before `valid_from` are one level
    /// lower and say so. Default 90 days.
    pub lookback: Duration,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            lookback: Duration::days(90),
        }
    }
}

/// What compiling found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileReport {
    /// Indicators compiled.
    pub indicators: usize,
    /// Distinct conditions (indicators with the same one share an entry).
    pub entries: usize,
    /// Indicators left out, with why (a regular expression too large).
    pub rejected: Vec<(String, String)>,
}

/// One distinct condition and the indicators that have it.
struct Entry {
    /// Indexes into `Matcher::indicators`, the first one named.
    indicators: Few<u32>,
    rule: OnceLock<Arc<RuleMeta>>,
}

/// One alternative of an entry: the terms besides its anchor.
struct Alt {
    entry: u32,
    rest: Vec<Term>,
}

/// Alternatives filed under one key: usually one.
type Alts = Few<u32>;

/// One value (almost always: a key of a table, the indicators of one
/// condition) or several. Why: a `Vec` each was two hundred thousand
/// small allocations for 100,000 indicators, made at the start of a hunt
/// and freed at its end.
#[derive(Clone, Debug)]
enum Few<T: Copy> {
    One(T),
    Many(Vec<T>),
}

impl<T: Copy> Few<T> {
    fn push(&mut self, x: T) {
        match self {
            Few::One(a) => *self = Few::Many(vec![*a, x]),
            Few::Many(v) => v.push(x),
        }
    }

    fn as_slice(&self) -> &[T] {
        match self {
            Few::One(a) => std::slice::from_ref(a),
            Few::Many(v) => v,
        }
    }
}

/// Files `x` under `key`.
fn add<K: std::hash::Hash + Eq, T: Copy>(map: &mut Map<K, Few<T>>, key: K, x: T) {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().push(x),
        std::collections::hash_map::Entry::Vacant(v) => {
            v.insert(Few::One(x));
        }
    }
}

#[derive(Default)]
struct Scans {
    set: Option<RegexSet>,
    /// Alternative of each pattern of `set`.
    alts: Vec<u32>,
    patterns: Vec<String>,
}

/// A compiled indicator set.
pub struct Matcher {
    indicators: Vec<Indicator>,
    entries: Vec<Entry>,
    alts: Vec<Alt>,
    options: MatchOptions,
    fields: FieldIndex,
    v4: Map<(u8, u32), Alts>,
    v4_lens: Vec<u8>,
    v6: Map<(u8, u128), Alts>,
    v6_lens: Vec<u8>,
    domains: Map<Box<str>, Few<(u32, Subdomains)>>,
    urls: Map<Box<str>, Alts>,
    md5: Map<[u8; 16], Alts>,
    sha1: Map<[u8; 20], Alts>,
    sha256: Map<[u8; 32], Alts>,
    imphash: Map<[u8; 16], Alts>,
    names: Map<Box<str>, Alts>,
    scans: Map<Kind, Scans>,
    has: Has,
}

/// Which kinds have indicators: fields of other kinds are not read.
#[derive(Default, Clone, Copy)]
struct Has {
    ip: bool,
    domain: bool,
    url: bool,
    hash: bool,
    name: bool,
}

/// An indicator found in an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The indicator named (see [`Matcher::indicator`]).
    pub indicator: usize,
    /// Other indicators with the same condition (other sources).
    pub also: Vec<usize>,
    /// The event field it was found in, and the value there.
    pub field: String,
    pub value: String,
    /// The event is before the indicator's `valid_from` (within the
    /// look-back).
    pub before_valid_from: bool,
    /// The compiled entry (indicators with the same condition).
    entry: u32,
}

impl Matcher {
    /// Compiles indicators into one set.
    pub fn compile(indicators: Vec<Indicator>, options: MatchOptions) -> (Matcher, CompileReport) {
        let mut m = Matcher {
            indicators: Vec::new(),
            entries: Vec::new(),
            alts: Vec::new(),
            options,
            fields: FieldIndex::default(),
            v4: Map::default(),
            v4_lens: Vec::new(),
            v6: Map::default(),
            v6_lens: Vec::new(),
            domains: Map::default(),
            urls: Map::default(),
            md5: Map::default(),
            sha1: Map::default(),
            sha256: Map::default(),
            imphash: Map::default(),
            names: Map::default(),
            scans: Map::default(),
            has: Has::default(),
        };
        let mut report = CompileReport::default();
        // Sized once for all (100,000 indicators: no rehash, no regrowth).
        let n = indicators.len();
        m.indicators.reserve_exact(n);
        m.entries.reserve(n);
        m.alts.reserve(n);
        // Entries by condition: the same condition from several sources is
        // matched once. Keyed by the condition's hash, compared in full.
        let mut by_condition: Map<u64, Vec<u32>> = Map::default();
        by_condition.reserve(n);
        // Each table sized for the anchors it will hold (counted first: a
        // few hundred thousand rehashes and copies avoided for 100,000).
        let mut sizes = [0usize; 9];
        for ind in &indicators {
            for alt in &ind.condition.any {
                if let Some(a) = pick_anchor(alt) {
                    sizes[table_of(&alt[a].test)] += 1;
                }
            }
        }
        m.v4.reserve(sizes[0]);
        m.v6.reserve(sizes[1]);
        m.domains.reserve(sizes[2]);
        m.urls.reserve(sizes[3]);
        m.md5.reserve(sizes[4]);
        m.sha1.reserve(sizes[5]);
        m.sha256.reserve(sizes[6]);
        m.imphash.reserve(sizes[7]);
        m.names.reserve(sizes[8]);
        let hasher = foldhash::fast::FixedState::default();
        let mut scan_patterns: Map<Kind, Vec<(String, u32)>> = Map::default();
        for ind in indicators {
            if ind.condition.any.is_empty() {
                report
                    .rejected
                    .push((ind.id.to_string(), "no condition".into()));
                continue;
            }
            let idx = m.indicators.len() as u32;
            let key = std::hash::BuildHasher::hash_one(&hasher, &ind.condition);
            let same = by_condition.get(&key).and_then(|entries| {
                entries.iter().copied().find(|&e| {
                    let first = m.entries[e as usize].indicators.as_slice()[0] as usize;
                    m.indicators[first].condition == ind.condition
                })
            });
            if let Some(e) = same {
                m.entries[e as usize].indicators.push(idx);
                m.indicators.push(ind);
                continue;
            }
            let entry = m.entries.len() as u32;
            by_condition.entry(key).or_default().push(entry);
            for alt in &ind.condition.any {
                let Some(anchor) = pick_anchor(alt) else {
                    continue;
                };
                let rest: Vec<Term> = alt
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != anchor)
                    .map(|(_, t)| t.clone())
                    .collect();
                let a = m.alts.len() as u32;
                m.alts.push(Alt { entry, rest });
                m.file(&alt[anchor].test, a, &mut scan_patterns);
            }
            m.entries.push(Entry {
                indicators: Few::One(idx),
                rule: OnceLock::new(),
            });
            m.indicators.push(ind);
        }
        for (kind, pats) in scan_patterns {
            let regexes: Vec<String> = pats.iter().map(|(p, _)| p.clone()).collect();
            match regex::RegexSetBuilder::new(&regexes)
                .size_limit(64 << 20)
                .dfa_size_limit(64 << 20)
                .build()
            {
                Ok(set) => {
                    m.has.set(kind);
                    m.scans.insert(
                        kind,
                        Scans {
                            set: Some(set),
                            alts: pats.iter().map(|(_, a)| *a).collect(),
                            patterns: regexes,
                        },
                    );
                }
                Err(e) => {
                    for (p, a) in pats {
                        let entry = m.alts[a as usize].entry as usize;
                        let ind = &m.indicators[m.entries[entry].indicators.as_slice()[0] as usize];
                        report.rejected.push((
                            ind.id.to_string(),
                            format!(
                                "patterns of kind {} too large together ({e}): {p}",
                                kind.word()
                            ),
                        ));
                    }
                }
            }
        }
        m.v4_lens.sort_unstable_by(|a, b| b.cmp(a));
        m.v4_lens.dedup();
        m.v6_lens.sort_unstable_by(|a, b| b.cmp(a));
        m.v6_lens.dedup();
        report.indicators = m.indicators.len();
        report.entries = m.entries.len();
        (m, report)
    }

    fn file(&mut self, test: &Test, a: u32, scans: &mut Map<Kind, Vec<(String, u32)>>) {
        match test {
            Test::Ip(IpNet::V4(n)) => {
                let len = n.prefix_len();
                add(&mut self.v4, (len, mask4(u32::from(n.network()), len)), a);
                self.v4_lens.push(len);
                self.has.ip = true;
            }
            Test::Ip(IpNet::V6(n)) => {
                let len = n.prefix_len();
                add(&mut self.v6, (len, mask6(u128::from(n.network()), len)), a);
                self.v6_lens.push(len);
                self.has.ip = true;
            }
            Test::Domain(d, sub) => {
                add(&mut self.domains, d.clone(), (a, *sub));
                self.has.domain = true;
            }
            Test::Url(u) => {
                add(&mut self.urls, u.clone(), a);
                self.has.url = true;
            }
            Test::Hash(algo, hex) => {
                let b = hex.as_bytes();
                let ok = match algo {
                    HashAlgo::Md5 => {
                        normalize::hex_bytes::<16>(b).map(|k| add(&mut self.md5, k, a))
                    }
                    HashAlgo::Imphash => {
                        normalize::hex_bytes::<16>(b).map(|k| add(&mut self.imphash, k, a))
                    }
                    HashAlgo::Sha1 => {
                        normalize::hex_bytes::<20>(b).map(|k| add(&mut self.sha1, k, a))
                    }
                    HashAlgo::Sha256 => {
                        normalize::hex_bytes::<32>(b).map(|k| add(&mut self.sha256, k, a))
                    }
                };
                if ok.is_some() {
                    self.has.hash = true;
                }
            }
            Test::FileName(n) => {
                add(&mut self.names, n.clone(), a);
                self.has.name = true;
            }
            Test::Like(kind, p) => scans
                .entry(*kind)
                .or_default()
                .push((crate::pattern::like_regex(p), a)),
            Test::Regex(kind, p) => scans.entry(*kind).or_default().push((p.to_string(), a)),
        }
    }

    /// An empty set (matches nothing).
    pub fn empty() -> Matcher {
        Matcher::compile(Vec::new(), MatchOptions::default()).0
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// The indicator of index `i` (as in [`Hit::indicator`]).
    pub fn indicator(&self, i: usize) -> &Indicator {
        &self.indicators[i]
    }

    /// Every indicator compiled.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// The indicators found in `event`, one per distinct condition, in
    /// the order of the event's fields. Appends to `out`.
    pub fn hits(&self, event: &Event, out: &mut Vec<Hit>) {
        if self.indicators.is_empty() {
            return;
        }
        let start = out.len();
        let found = |alt: u32, field: &str, value: &str, out: &mut Vec<Hit>| {
            self.confirm(event, alt, field, value, start, out);
        };
        for (name, value) in &event.fields {
            let Some(how) = self.fields.get(name) else {
                continue;
            };
            match value {
                Value::Str(s) => {
                    self.field(event, how, name, s, &mut |a, v| found(a, name, v, out))
                }
                Value::List(items) => {
                    for item in items {
                        if let Value::Str(s) = item {
                            self.field(event, how, name, s, &mut |a, v| found(a, name, v, out));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Looks up one field's value; calls `hit(alt, value)` for each anchor
    /// found.
    fn field(
        &self,
        event: &Event,
        how: Extract,
        _name: &str,
        s: &str,
        hit: &mut dyn FnMut(u32, &str),
    ) {
        match how {
            Extract::Ip => {
                if self.has.ip || self.scans.contains_key(&Kind::Ip) {
                    if let Some(a) = normalize::ip(s) {
                        self.ip(a, s, hit);
                    }
                }
            }
            Extract::Host => self.host(s, hit),
            Extract::DnsResults => {
                if self.has.ip || self.has.domain || !self.scans.is_empty() {
                    for part in fields::dns_results(s) {
                        self.host(part, hit);
                    }
                }
            }
            Extract::Url => {
                if !(self.has.url || self.has.domain || self.has.ip || !self.scans.is_empty()) {
                    return;
                }
                let full = if s.trim_start().starts_with('/') {
                    // A path alone (FortiGate `url=`): joined to its host.
                    match event.get_str("hostname") {
                        Some(h) => normalize::url(&format!("{}{}", h.trim(), s.trim())),
                        None => None,
                    }
                } else {
                    normalize::url(s)
                };
                let Some(u) = full else { return };
                if let Some(list) = self.urls.get(u.as_str()) {
                    for &a in list.as_slice() {
                        hit(a, s);
                    }
                }
                self.scan(Kind::Url, &u, s, hit);
                if let Some(h) = normalize::url_host(&u) {
                    self.host(&h, hit);
                }
            }
            Extract::Hashes => {
                if self.has.hash || self.scans.keys().any(|k| matches!(k, Kind::Hash(_))) {
                    for (algo, hex) in fields::sysmon_hashes(s) {
                        self.digest(algo, hex, hit);
                    }
                }
            }
            Extract::Hash(algo) => {
                if self.has.hash {
                    let t = s.trim();
                    let algo = algo.or_else(|| normalize::hash(t).map(|h| h.0));
                    if let Some(algo) = algo {
                        self.digest(algo, t, hit);
                    }
                }
            }
            Extract::Path | Extract::Command => {
                if !(self.has.name || self.scans.contains_key(&Kind::FileName)) {
                    return;
                }
                let path = if how == Extract::Command {
                    fields::command_path(s)
                } else {
                    s
                };
                let t = path.trim().trim_matches('"');
                let base = t.rsplit(['\\', '/']).next().unwrap_or(t).trim();
                if base.is_empty() {
                    return;
                }
                fields::with_lower(base, |lower| {
                    if let Some(list) = self.names.get(lower) {
                        for &a in list.as_slice() {
                            hit(a, s);
                        }
                    }
                    self.scan(Kind::FileName, lower, s, hit);
                });
            }
        }
    }

    fn ip(&self, a: IpAddr, raw: &str, hit: &mut dyn FnMut(u32, &str)) {
        match a {
            IpAddr::V4(v4) => {
                let x = u32::from(v4);
                for &len in &self.v4_lens {
                    if let Some(list) = self.v4.get(&(len, mask4(x, len))) {
                        for &alt in list.as_slice() {
                            hit(alt, raw);
                        }
                    }
                }
            }
            IpAddr::V6(v6) => {
                let x = u128::from(v6);
                for &len in &self.v6_lens {
                    if let Some(list) = self.v6.get(&(len, mask6(x, len))) {
                        for &alt in list.as_slice() {
                            hit(alt, raw);
                        }
                    }
                }
            }
        }
        if self.scans.contains_key(&Kind::Ip) {
            self.scan(Kind::Ip, &a.to_string(), raw, hit);
        }
    }

    /// A name, or an address where a name is expected.
    fn host(&self, s: &str, hit: &mut dyn FnMut(u32, &str)) {
        let t = s.trim().trim_end_matches('.');
        if t.is_empty() || t == "-" {
            return;
        }
        if self.has.ip || self.scans.contains_key(&Kind::Ip) {
            if let Some(a) = normalize::ip(t) {
                self.ip(a, s, hit);
                return;
            }
        }
        if !(self.has.domain || self.scans.contains_key(&Kind::Domain)) {
            return;
        }
        fields::with_lower(t, |name| {
            if let Some(list) = self.domains.get(name) {
                for &(a, sub) in list.as_slice() {
                    if sub != Subdomains::Only {
                        hit(a, s);
                    }
                }
            }
            // Each parent domain: `b.example.org`, `example.org`, `org`.
            let mut rest = name;
            while let Some((_, parent)) = rest.split_once('.') {
                if let Some(list) = self.domains.get(parent) {
                    for &(a, sub) in list.as_slice() {
                        if sub != Subdomains::Excluded {
                            hit(a, s);
                        }
                    }
                }
                rest = parent;
            }
            self.scan(Kind::Domain, name, s, hit);
        });
    }

    fn digest(&self, algo: HashAlgo, hex: &str, hit: &mut dyn FnMut(u32, &str)) {
        let b = hex.as_bytes();
        let list = match algo {
            HashAlgo::Md5 => normalize::hex_bytes::<16>(b).and_then(|k| self.md5.get(&k)),
            HashAlgo::Imphash => normalize::hex_bytes::<16>(b).and_then(|k| self.imphash.get(&k)),
            HashAlgo::Sha1 => normalize::hex_bytes::<20>(b).and_then(|k| self.sha1.get(&k)),
            HashAlgo::Sha256 => normalize::hex_bytes::<32>(b).and_then(|k| self.sha256.get(&k)),
        };
        if let Some(list) = list {
            for &a in list.as_slice() {
                hit(a, hex);
            }
        }
        if self.scans.contains_key(&Kind::Hash(algo)) {
            self.scan(Kind::Hash(algo), &hex.to_ascii_lowercase(), hex, hit);
        }
    }

    fn scan(&self, kind: Kind, text: &str, raw: &str, hit: &mut dyn FnMut(u32, &str)) {
        let Some(s) = self.scans.get(&kind) else {
            return;
        };
        if let Some(set) = &s.set {
            for i in set.matches(text).iter() {
                hit(s.alts[i], raw);
            }
        }
    }

    /// An anchor was found: checks the alternative's other terms and the
    /// validity, and records the hit once per entry.
    fn confirm(
        &self,
        event: &Event,
        alt: u32,
        field: &str,
        value: &str,
        start: usize,
        out: &mut Vec<Hit>,
    ) {
        let a = &self.alts[alt as usize];
        if out[start..].iter().any(|h| h.entry == a.entry) {
            return;
        }
        if !a.rest.is_empty() {
            let seen = self.observables(event);
            if !a.rest.iter().all(|t| self.term_holds(t, &seen)) {
                return;
            }
        }
        // The first indicator of the entry valid at the event's time is
        // named; the others valid then are listed.
        let entry = &self.entries[a.entry as usize];
        let mut named: Option<(usize, bool)> = None;
        let mut also = Vec::new();
        for &i in entry.indicators.as_slice() {
            let ind = &self.indicators[i as usize];
            match self.validity(ind, event.timestamp) {
                Validity::Out => {}
                v if named.is_none() => named = Some((i as usize, v == Validity::Before)),
                _ => also.push(i as usize),
            }
        }
        let Some((indicator, before)) = named else {
            return;
        };
        out.push(Hit {
            indicator,
            also,
            field: field.to_string(),
            value: normalize::cut(value, 500),
            before_valid_from: before,
            entry: a.entry,
        });
    }

    fn validity(&self, ind: &Indicator, t: Option<Timestamp>) -> Validity {
        // Events without a time cannot be placed: they match (never an
        // all-clear by omission).
        let Some(t) = t else {
            return Validity::In;
        };
        if ind.valid_until.is_some_and(|u| t >= u) {
            return Validity::Out;
        }
        match ind.valid_from {
            Some(f) if t < f - self.options.lookback => Validity::Out,
            Some(f) if t < f => Validity::Before,
            _ => Validity::In,
        }
    }

    /// Every observable of the event (the slow path, for alternatives of
    /// several terms).
    fn observables(&self, event: &Event) -> Vec<Seen> {
        let mut seen = Vec::new();
        for (name, value) in &event.fields {
            let Some(how) = self.fields.get(name) else {
                continue;
            };
            let texts: Vec<&str> = match value {
                Value::Str(s) => vec![s],
                Value::List(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            for s in texts {
                collect(event, how, s, &mut seen);
            }
        }
        seen
    }

    fn term_holds(&self, t: &Term, seen: &[Seen]) -> bool {
        let any = seen.iter().any(|s| test_holds(&t.test, s));
        any != t.negated
    }

    /// The rule a match reports (made once per indicator named, on first
    /// use).
    fn rule(&self, hit: &Hit) -> Arc<RuleMeta> {
        let ind = &self.indicators[hit.indicator];
        let entry = &self.entries[hit.entry as usize];
        if entry.indicators.as_slice()[0] as usize == hit.indicator {
            entry.rule.get_or_init(|| Arc::new(rule_of(ind))).clone()
        } else {
            Arc::new(rule_of(ind))
        }
    }

    /// Matches `event` and appends one [`Match`] per indicator found: a
    /// detection like a rule's, its rule naming the indicator, its source
    /// and TLP (see [`rule_of`]).
    pub fn evaluate(&self, event: &Event, out: &mut Vec<Match>) {
        if self.indicators.is_empty() {
            return;
        }
        let mut hits = Vec::new();
        self.hits(event, &mut hits);
        for h in hits {
            out.push(self.to_match(&h));
        }
    }

    /// The detection of a hit.
    pub fn to_match(&self, h: &Hit) -> Match {
        let ind = &self.indicators[h.indicator];
        let mut rule = self.rule(h);
        if h.before_valid_from {
            let mut r = (*rule).clone();
            r.level = Some(lower(ind.level()));
            rule = Arc::new(r);
        }
        let mut matched = vec![
            MatchedField {
                selection: "ioc".into(),
                field: Some(h.field.clone()),
                value: h.value.clone(),
            },
            MatchedField {
                selection: "indicator".into(),
                field: Some("pattern".into()),
                value: normalize::cut(&ind.pattern, 500),
            },
            MatchedField {
                selection: "indicator".into(),
                field: Some("source".into()),
                value: ind.source.name.clone(),
            },
        ];
        // The same value from several sources is shared under the most
        // restrictive of their labels: a TLP:RED report must not lose its
        // label because a public list also holds the value.
        let strictest = std::iter::once(h.indicator)
            .chain(h.also.iter().copied())
            .filter_map(|i| self.indicators[i].tlp)
            .max();
        if strictest != ind.tlp {
            if let Some(t) = strictest {
                let mut r = (*rule).clone();
                r.tags.retain(|tag| !tag.starts_with("tlp."));
                r.tags.insert(1.min(r.tags.len()), t.sigma_tag());
                rule = Arc::new(r);
            }
        }
        if let Some(t) = strictest {
            matched.push(MatchedField {
                selection: "indicator".into(),
                field: Some("tlp".into()),
                value: t.label(),
            });
        }
        if h.before_valid_from {
            if let Some(f) = ind.valid_from {
                matched.push(MatchedField {
                    selection: "indicator".into(),
                    field: Some("valid_from".into()),
                    value: format!(
                        "{} (event before the indicator's validity)",
                        f.format("%Y-%m-%dT%H:%M:%SZ")
                    ),
                });
            }
        }
        for &o in &h.also {
            let other = &self.indicators[o];
            matched.push(MatchedField {
                selection: "indicator".into(),
                field: Some("also".into()),
                value: format!(
                    "{}{}",
                    other.source.name,
                    other.tlp.map(|t| format!(" ({t})")).unwrap_or_default()
                ),
            });
        }
        Match {
            rule,
            matched,
            correlation_values: Vec::new(),
            generate: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validity {
    In,
    Before,
    Out,
}

fn lower(l: Level) -> Level {
    match l {
        Level::Critical => Level::High,
        Level::High => Level::Medium,
        Level::Medium => Level::Low,
        _ => Level::Informational,
    }
}

/// The rule that reports matches of an indicator: its id, a title that
/// names the indicator, its source and TLP; tags `ioc`, the TLP and the
/// indicator's own (ATT&CK…); level from its confidence.
pub fn rule_of(ind: &Indicator) -> RuleMeta {
    let mut title = format!("IOC {} — {}", ind.display(), ind.source.name);
    if let Some(t) = ind.tlp {
        title.push_str(&format!(" ({t})"));
    }
    let mut tags = vec!["ioc".to_string()];
    if let Some(t) = ind.tlp {
        tags.push(t.sigma_tag());
    }
    tags.extend(ind.tags.iter().map(|t| t.to_string()));
    let mut description = format!(
        "Indicator {} from {} ({})",
        ind.id,
        ind.source.name,
        ind.source.format.name()
    );
    if let Some(d) = &ind.description {
        description.push_str(": ");
        description.push_str(&normalize::cut(d, 500));
    }
    RuleMeta {
        id: Some(ind.id.to_string()),
        name: None,
        title,
        kind: RuleKind::Detection,
        level: Some(ind.level()),
        status: None,
        description: Some(description),
        author: Some(ind.source.name.clone()),
        tags,
        references: Vec::new(),
        falsepositives: Vec::new(),
        logsource: Default::default(),
        path: PathBuf::from(&ind.source.location),
    }
}

fn mask4(x: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        x & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(x: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        x & (u128::MAX << (128 - u32::from(len)))
    }
}

/// Which table of the matcher a test is filed in (the index of its count
/// in `Matcher::compile`); scans are counted with file names, harmlessly.
fn table_of(t: &Test) -> usize {
    match t {
        Test::Ip(IpNet::V4(_)) => 0,
        Test::Ip(IpNet::V6(_)) => 1,
        Test::Domain(..) => 2,
        Test::Url(_) => 3,
        Test::Hash(HashAlgo::Md5, _) => 4,
        Test::Hash(HashAlgo::Sha1, _) => 5,
        Test::Hash(HashAlgo::Sha256, _) => 6,
        Test::Hash(HashAlgo::Imphash, _) => 7,
        Test::FileName(_) | Test::Like(..) | Test::Regex(..) => 8,
    }
}

/// The anchor of an alternative: its most selective positive exact term,
/// else a positive scan.
fn pick_anchor(alt: &[Term]) -> Option<usize> {
    let rank = |t: &Test| match t {
        Test::Hash(..) => 0,
        Test::Url(_) => 1,
        Test::Domain(..) => 2,
        Test::Ip(_) => 3,
        Test::FileName(_) => 4,
        Test::Like(..) | Test::Regex(..) => 5,
    };
    alt.iter()
        .enumerate()
        .filter(|(_, t)| !t.negated)
        .min_by_key(|(_, t)| rank(&t.test))
        .map(|(i, _)| i)
}

impl Has {
    fn set(&mut self, kind: Kind) {
        match kind {
            Kind::Ip => self.ip = true,
            Kind::Domain => self.domain = true,
            Kind::Url => self.url = true,
            Kind::Hash(_) => self.hash = true,
            Kind::FileName => self.name = true,
        }
    }
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("indicators", &self.indicators.len())
            .field("entries", &self.entries.len())
            .field(
                "scans",
                &self.scans.values().map(|s| s.patterns.len()).sum::<usize>(),
            )
            .finish()
    }
}
