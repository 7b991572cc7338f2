//! Compiled value matchers: what one rule value becomes after its
//! modifiers are applied, and how it is tested against one event value.
//!
//! Everything here is built once at compile time (literals pre-lowercased,
//! regexes compiled) so that matching an event value allocates nothing in
//! the common case (ASCII patterns, string values).

use std::net::IpAddr;

use chrono::{Datelike, NaiveDateTime, Timelike};
use vigie_event::{Record, Value};

use crate::view::View;

/// One token of a Sigma string value after escape processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Char(char),
    /// `*`: any number of characters.
    Star,
    /// `?`: exactly one character.
    Quest,
    /// Any of the five `windash` dashes (only produced by `windash` when a
    /// value has too many dashes to expand into alternatives).
    Dash,
}

/// Parses Sigma wildcards and escapes: `\*`, `\?` and `\\` are the plain
/// characters, any other backslash is itself (so `C:\Windows` needs no
/// escaping, and `\\\\` is two backslashes, as the specification says).
pub(crate) fn parse_wildcards(s: &str) -> Vec<Tok> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    it.next();
                    out.push(Tok::Char(n));
                }
                _ => out.push(Tok::Char('\\')),
            },
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::Quest),
            c => out.push(Tok::Char(c)),
        }
    }
    out
}

/// Tokens of a plain string (no wildcard interpretation).
pub(crate) fn literal_tokens(s: &str) -> Vec<Tok> {
    s.chars().map(Tok::Char).collect()
}

/// The plain text of tokens that hold no wildcard, `None` otherwise.
pub(crate) fn tokens_plain(toks: &[Tok]) -> Option<String> {
    toks.iter()
        .map(|t| match t {
            Tok::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// How a string pattern is anchored.
#[derive(Debug, Clone)]
pub(crate) enum StrKind {
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<str>),
    /// `*`-only glob: literal segments found in order; the first is
    /// anchored at the start and the last at the end when the pattern does
    /// not begin/end with `*`.
    Glob {
        segs: Box<[Box<str>]>,
        start: bool,
        end: bool,
    },
    /// Patterns with `?` go through the regex engine (rare).
    Regex(regex::Regex),
}

/// A compiled string pattern (wildcards, case handling).
#[derive(Debug, Clone)]
pub(crate) struct StrPat {
    pub kind: StrKind,
    pub cased: bool,
    /// Every literal character is ASCII or a caseless non-letter (the
    /// `windash` dashes, punctuation): case-insensitive comparison can be
    /// done bytewise, ASCII letters folded, without lowercasing the event
    /// value.
    pub ascii: bool,
    /// The pattern read as an integer, when it is an exact number: lets
    /// `4624` match `Int(4624)` without rendering the integer.
    pub num: Option<i64>,
    /// Substring searchers built once, one per literal of a `Contains`
    /// or `Glob` pattern (building one per search was measurable).
    finders: Box<[memchr::memmem::Finder<'static>]>,
}

impl StrPat {
    /// Compiles wildcard tokens.
    pub fn compile(toks: &[Tok], cased: bool) -> Result<StrPat, crate::Fail> {
        let fold = |s: String| if cased { s } else { s.to_lowercase() };
        if toks.iter().any(|t| matches!(t, Tok::Quest | Tok::Dash)) {
            let mut re = String::from(if cased { "(?s)^" } else { "(?si)^" });
            for t in toks {
                match t {
                    Tok::Char(c) => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
                    Tok::Star => re.push_str(".*"),
                    Tok::Quest => re.push('.'),
                    Tok::Dash => re.push_str("[-/\u{2013}\u{2014}\u{2015}]"),
                }
            }
            re.push('$');
            let r = regex::RegexBuilder::new(&re)
                .size_limit(crate::compile::REGEX_SIZE_LIMIT)
                .dfa_size_limit(crate::compile::REGEX_DFA_SIZE_LIMIT)
                .build()
                .map_err(|e| match e {
                    regex::Error::CompiledTooBig(_) => crate::Fail::new(
                        crate::FailureKind::TooLarge,
                        format!(
                            "a value with '?' wildcards or windash of {} characters is too large to compile",
                            toks.len()
                        ),
                    ),
                    e => crate::Fail::from(format!("wildcard pattern: {e}")),
                })?;
            let ascii = toks
                .iter()
                .all(|t| !matches!(t, Tok::Char(c) if !c.is_ascii()));
            return Ok(StrPat {
                kind: StrKind::Regex(r),
                cased,
                ascii,
                num: None,
                finders: Box::new([]),
            });
        }
        let mut segs: Vec<String> = vec![String::new()];
        for t in toks {
            match t {
                Tok::Char(c) => segs.last_mut().expect("non-empty").push(*c),
                Tok::Star => segs.push(String::new()),
                Tok::Quest | Tok::Dash => unreachable!("handled above"),
            }
        }
        let ascii = segs.iter().all(|s| s.chars().all(bytewise_foldable));
        let num = if segs.len() == 1 {
            parse_int(&segs[0])
        } else {
            None
        };
        let start = !segs[0].is_empty() || segs.len() == 1;
        let end = !segs[segs.len() - 1].is_empty() || segs.len() == 1;
        let mut lits: Vec<String> = segs
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(fold)
            .collect();
        let kind = match (lits.len(), start, end) {
            (0, true, true) => StrKind::Exact("".into()),
            (0, _, _) => StrKind::Contains("".into()),
            (1, true, true) => StrKind::Exact(lits.remove(0).into()),
            (1, true, false) => StrKind::Prefix(lits.remove(0).into()),
            (1, false, true) => StrKind::Suffix(lits.remove(0).into()),
            (1, false, false) => StrKind::Contains(lits.remove(0).into()),
            _ => StrKind::Glob {
                segs: lits.into_iter().map(String::into_boxed_str).collect(),
                start,
                end,
            },
        };
        let finders = match &kind {
            StrKind::Contains(l) => vec![finder(l)],
            StrKind::Glob { segs, .. } => segs.iter().map(|l| finder(l)).collect(),
            _ => Vec::new(),
        }
        .into_boxed_slice();
        Ok(StrPat {
            kind,
            cased,
            ascii,
            num,
            finders,
        })
    }

    /// The longest literal that any matching value must contain (already
    /// lowercased unless cased). Used by the prefilter.
    pub fn required_literal(&self) -> Option<&str> {
        match &self.kind {
            StrKind::Exact(s) | StrKind::Prefix(s) | StrKind::Suffix(s) | StrKind::Contains(s) => {
                Some(s)
            }
            StrKind::Glob { segs, .. } => segs.iter().map(|s| &**s).max_by_key(|s| s.len()),
            StrKind::Regex(_) => None,
        }
    }

    /// Matches a string whose ASCII-lower-cased bytes are `low`, when the
    /// caller has them (see [`crate::view`]): ASCII case-insensitive
    /// patterns then compare bytes exactly, their literals being lower-case.
    #[inline]
    pub fn matches_low(&self, hay: &str, low: Option<&[u8]>) -> bool {
        match low {
            Some(l) if !self.cased && self.ascii && !matches!(self.kind, StrKind::Regex(_)) => {
                self.match_bytes(l, false)
            }
            _ => self.matches_str(hay),
        }
    }

    /// Matches a string.
    pub fn matches_str(&self, hay: &str) -> bool {
        if let StrKind::Regex(r) = &self.kind {
            return r.is_match(hay);
        }
        if self.cased {
            self.match_bytes(hay.as_bytes(), false)
        } else if self.ascii {
            self.match_bytes(hay.as_bytes(), true)
        } else {
            let lower = hay.to_lowercase();
            self.match_bytes(lower.as_bytes(), false)
        }
    }

    fn match_bytes(&self, hay: &[u8], ci: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if ci {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match &self.kind {
            StrKind::Exact(p) => hay.len() == p.len() && eq(hay, p.as_bytes()),
            StrKind::Prefix(p) => hay.len() >= p.len() && eq(&hay[..p.len()], p.as_bytes()),
            StrKind::Suffix(p) => {
                hay.len() >= p.len() && eq(&hay[hay.len() - p.len()..], p.as_bytes())
            }
            StrKind::Contains(p) => {
                if ci {
                    find(hay, p.as_bytes(), true).is_some()
                } else {
                    self.finders[0].find(hay).is_some()
                }
            }
            StrKind::Glob { segs, start, end } => {
                let n = segs.len();
                let mut pos = 0usize;
                for (i, seg) in segs.iter().enumerate() {
                    let seg = seg.as_bytes();
                    let rest = &hay[pos..];
                    if i == 0 && *start {
                        if rest.len() < seg.len() || !eq(&rest[..seg.len()], seg) {
                            return false;
                        }
                        pos += seg.len();
                    } else if i == n - 1 && *end {
                        return rest.len() >= seg.len() && eq(&rest[rest.len() - seg.len()..], seg);
                    } else {
                        let found = if ci {
                            find(rest, seg, true)
                        } else {
                            self.finders[i].find(rest)
                        };
                        match found {
                            Some(j) => pos += j + seg.len(),
                            None => return false,
                        }
                    }
                }
                true
            }
            StrKind::Regex(_) => false,
        }
    }
}

fn finder(lit: &str) -> memchr::memmem::Finder<'static> {
    memchr::memmem::Finder::new(lit.as_bytes()).into_owned()
}

/// True for characters that case-insensitive matching may compare
/// bytewise: ASCII, and non-letters that have no case mapping (so no
/// other character folds to them).
pub(crate) fn bytewise_foldable(c: char) -> bool {
    c.is_ascii()
        || (!c.is_alphabetic()
            && c.to_lowercase().eq(std::iter::once(c))
            && c.to_uppercase().eq(std::iter::once(c)))
}

/// Substring search; `ci` compares ASCII letters case-insensitively
/// (`needle` is already lowercase then).
pub(crate) fn find(hay: &[u8], needle: &[u8], ci: bool) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if hay.len() < needle.len() {
        return None;
    }
    if !ci {
        return memchr::memmem::find(hay, needle);
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let check = |i: usize| hay[i..i + needle.len()].eq_ignore_ascii_case(needle);
    if first.is_ascii_alphabetic() {
        let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
        for i in memchr::memchr2_iter(lo, up, &hay[..=last_start]) {
            if check(i) {
                return Some(i);
            }
        }
    } else {
        for i in memchr::memchr_iter(first, &hay[..=last_start]) {
            if check(i) {
                return Some(i);
            }
        }
    }
    None
}

/// Integer parsing shared with the event model: decimal or `0x` hex.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    t.parse().ok()
}

/// Numeric comparison operators (`lt`, `lte`, `gt`, `gte`, and equality
/// for the time modifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
}

impl Cmp {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
            Cmp::Eq => a == b,
        }
    }
}

/// Date parts extracted by the time modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// One compiled value (an alternative of a value list).
#[derive(Debug, Clone)]
pub(crate) enum ValueMatcher {
    Str(StrPat),
    Regex(regex::Regex),
    Num(Cmp, f64),
    Cidr(ipnet::IpNet),
    Bool(bool),
    /// `null` inside a value list: the value is null.
    Null,
    /// `fieldref`: equal to the value of another field of the event.
    FieldRef {
        names: crate::view::Names,
        cased: bool,
    },
    /// Time modifiers: the date part of the value compared to a number.
    Time(TimePart, Cmp, f64),
    /// Several case-insensitive `contains` alternatives of one test, found
    /// with one Aho-Corasick scan instead of one search each (rules often
    /// list dozens of command-line fragments).
    ContainsAny(AnyLiteral),
}

/// Lower-case literals, any of which makes a value match (a merged list
/// of `contains` values, see [`ValueMatcher::ContainsAny`]).
///
/// The searcher is built on first use: the literal prefilter already
/// requires one of these literals, so most such lists are never searched
/// in a hunt, and building them all was a tenth of the rule set's compile
/// time.
#[derive(Debug, Clone)]
pub(crate) struct AnyLiteral {
    pub lits: Box<[Box<str>]>,
    search: std::sync::OnceLock<AnySearch>,
}

/// How [`AnyLiteral`] searches: up to 64 literals, the SIMD "Teddy"
/// searcher (many bytes per cycle); more, an Aho-Corasick automaton.
/// All run case-sensitively over ASCII-lower-cased text.
#[derive(Debug, Clone)]
enum AnySearch {
    Packed(aho_corasick::packed::Searcher),
    Automaton(aho_corasick::AhoCorasick),
    /// One substring search per literal: only if the automaton cannot be
    /// built (it has a size limit). The searcher is built on first use,
    /// in the middle of a hunt, where failing is not an option.
    Each(Box<[memchr::memmem::Finder<'static>]>),
}

impl AnyLiteral {
    pub fn new(lits: Box<[Box<str>]>) -> AnyLiteral {
        AnyLiteral {
            lits,
            search: std::sync::OnceLock::new(),
        }
    }

    fn searcher(&self) -> &AnySearch {
        self.search.get_or_init(|| {
            let lits = &self.lits;
            let packed = if lits.len() <= 64 {
                aho_corasick::packed::Searcher::new(lits.iter().map(|l| l.as_bytes()))
            } else {
                None
            };
            if let Some(p) = packed {
                return AnySearch::Packed(p);
            }
            aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .build(lits.iter().map(|l| l.as_bytes()))
                .map(AnySearch::Automaton)
                .unwrap_or_else(|_| AnySearch::Each(lits.iter().map(|l| finder(l)).collect()))
        })
    }

    /// Whether any literal occurs in `low`, ASCII-lower-cased text.
    #[inline]
    fn is_match_low(&self, low: &[u8]) -> bool {
        match self.searcher() {
            AnySearch::Packed(p) => p.find(low).is_some(),
            AnySearch::Automaton(a) => a.is_match(low),
            AnySearch::Each(f) => f.iter().any(|f| f.find(low).is_some()),
        }
    }

    /// Whether any literal occurs in `text`, ASCII case-insensitively.
    pub fn is_match(&self, text: &str, low: Option<&[u8]>) -> bool {
        match low {
            Some(l) => self.is_match_low(l),
            None => self.is_match_low(text.to_ascii_lowercase().as_bytes()),
        }
    }
}

/// Renders small scalars without allocating.
struct Buf {
    b: [u8; 48],
    n: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let bytes = s.as_bytes();
        if self.n + bytes.len() > self.b.len() {
            return Err(std::fmt::Error);
        }
        self.b[self.n..self.n + bytes.len()].copy_from_slice(bytes);
        self.n += bytes.len();
        Ok(())
    }
}

/// Calls `f` with the text of a scalar value (no allocation for numbers,
/// booleans and strings). Lists are not scalars: callers iterate them.
pub(crate) fn with_text<T>(v: &Value, f: impl FnOnce(&str) -> T) -> T {
    use std::fmt::Write;
    match v {
        Value::Str(s) => f(s),
        Value::Null => f(""),
        Value::Bool(b) => f(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let mut buf = Buf { b: [0; 48], n: 0 };
            let _ = write!(buf, "{i}");
            f(std::str::from_utf8(&buf.b[..buf.n]).unwrap_or(""))
        }
        Value::Float(x) => {
            let mut buf = Buf { b: [0; 48], n: 0 };
            if write!(buf, "{x}").is_ok() {
                f(std::str::from_utf8(&buf.b[..buf.n]).unwrap_or(""))
            } else {
                f(&x.to_string())
            }
        }
        Value::List(_) => f(&v.to_string()),
    }
}

impl ValueMatcher {
    /// Matches one event value; lists match when any element does. `low`
    /// is the value's ASCII-lower-cased text when it is a string and the
    /// caller has it; `view` resolves `fieldref` names.
    pub fn matches<R: Record + ?Sized>(
        &self,
        v: &Value,
        low: Option<&[u8]>,
        view: &View<'_, R>,
    ) -> bool {
        if let Value::List(items) = v {
            return items.iter().any(|i| self.matches(i, None, view));
        }
        match self {
            ValueMatcher::Str(p) => match v {
                Value::Int(i) if matches!(p.kind, StrKind::Exact(_)) && p.num.is_some() => {
                    p.num == Some(*i)
                }
                Value::Str(s) => p.matches_low(s, low),
                _ => with_text(v, |t| p.matches_str(t)),
            },
            ValueMatcher::Regex(r) => with_text(v, |t| r.is_match(t)),
            ValueMatcher::Num(op, n) => v.as_f64().is_some_and(|x| op.holds(x, *n)),
            ValueMatcher::Cidr(net) => match v {
                Value::Str(s) => parse_ip(s).is_some_and(|ip| cidr_contains(net, ip)),
                _ => false,
            },
            ValueMatcher::Bool(b) => match v {
                Value::Bool(x) => x == b,
                Value::Str(s) => s
                    .trim()
                    .eq_ignore_ascii_case(if *b { "true" } else { "false" }),
                Value::Int(i) => (*i != 0) == *b,
                _ => false,
            },
            ValueMatcher::Null => matches!(v, Value::Null),
            ValueMatcher::FieldRef { names, cased } => {
                let Some(other) = view.get(names) else {
                    return false;
                };
                with_text(v, |a| {
                    with_text(other, |b| {
                        if *cased {
                            a == b
                        } else if a.is_ascii() && b.is_ascii() {
                            a.eq_ignore_ascii_case(b)
                        } else {
                            a.to_lowercase() == b.to_lowercase()
                        }
                    })
                })
            }
            ValueMatcher::ContainsAny(any) => match (v, low) {
                (Value::Str(s), low) => any.is_match(s, low),
                _ => with_text(v, |t| any.is_match(t, None)),
            },
            ValueMatcher::Time(part, op, n) => {
                with_text(v, parse_time).is_some_and(|t| op.holds(time_part(&t, *part), *n))
            }
        }
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    let t = t.split('%').next().unwrap_or(t);
    t.parse().ok()
}

fn cidr_contains(net: &ipnet::IpNet, ip: IpAddr) -> bool {
    if net.contains(&ip) {
        return true;
    }
    // `::ffff:10.0.0.1` (IPv4-mapped, as Sysmon sometimes logs) is the IPv4
    // address for an IPv4 range.
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .is_some_and(|v4| net.contains(&IpAddr::V4(v4))),
        IpAddr::V4(_) => false,
    }
}

/// Parses the timestamp layouts found in logs (RFC 3339, Sysmon
/// `UtcTime`, ISO without zone). Zones are not converted (the
/// specification says time modifiers do no timezone conversion).
pub(crate) fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_local());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

fn time_part(t: &NaiveDateTime, p: TimePart) -> f64 {
    (match p {
        TimePart::Minute => t.minute() as i64,
        TimePart::Hour => t.hour() as i64,
        TimePart::Day => t.day() as i64,
        TimePart::Week => t.iso_week().week() as i64,
        TimePart::Month => t.month() as i64,
        TimePart::Year => t.year() as i64,
    }) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str, cased: bool) -> StrPat {
        StrPat::compile(&parse_wildcards(s), cased).unwrap()
    }

    #[test]
    fn escapes_follow_the_specification() {
        assert_eq!(
            tokens_plain(&parse_wildcards(r"C:\Windows\")),
            Some(r"C:\Windows\".into())
        );
        assert_eq!(tokens_plain(&parse_wildcards(r"a\*b")), Some("a*b".into()));
        assert_eq!(tokens_plain(&parse_wildcards(r"a\?b")), Some("a?b".into()));
        assert_eq!(tokens_plain(&parse_wildcards(r"\\\\")), Some(r"\\".into()));
        assert_eq!(tokens_plain(&parse_wildcards(r"\\\*")), Some(r"\*".into()));
        assert_eq!(parse_wildcards(r"\\*"), vec![Tok::Char('\\'), Tok::Star]);
    }

    #[test]
    fn wildcards_and_case() {
        assert!(pat("*\\cmd.exe", false).matches_str("C:\\WINDOWS\\System32\\CMD.EXE"));
        assert!(!pat("*\\cmd.exe", true).matches_str("C:\\WINDOWS\\System32\\CMD.EXE"));
        assert!(pat("prog?.exe", false).matches_str("PROGA.exe"));
        assert!(!pat("prog?.exe", false).matches_str("prog.exe"));
        assert!(pat("a*b*c", false).matches_str("AxxBxxC"));
        assert!(!pat("a*b*c", false).matches_str("AxxCxxB"));
        assert!(pat("ab*ab", false).matches_str("abab"));
        assert!(!pat("ab*ab", false).matches_str("aba"));
        assert!(pat("*", false).matches_str(""));
        assert!(pat("", false).matches_str(""));
        assert!(!pat("", false).matches_str("x"));
        // Unicode case folding
        assert!(pat("*ÉTÉ*", false).matches_str("un été chaud"));
        assert!(!pat("*ÉTÉ*", true).matches_str("un été chaud"));
        // literal star
        assert!(pat(r"a\*b", false).matches_str("a*b"));
        assert!(!pat(r"a\*b", false).matches_str("axb"));
    }

    /// Matches `v` as evaluation does: through a view of an event, with
    /// and without the lower-cased text at hand (both must agree).
    fn m(p: &ValueMatcher, v: &Value) -> bool {
        use crate::view::{Scratch, Slots};
        let e = vigie_event::Event::new(vigie_event::Origin {
            source: "t".into(),
            locator: vigie_event::Locator::None,
        });
        let slots = Slots::default();
        let mut s = Scratch::default();
        let view = View::build(&e, &slots, &mut s, None);
        let plain = p.matches(v, None, &view);
        if let Value::Str(t) = v {
            let low = t.to_ascii_lowercase();
            assert_eq!(
                plain,
                p.matches(v, Some(low.as_bytes()), &view),
                "{p:?} {v:?}"
            );
        }
        plain
    }

    #[test]
    fn numbers_match_ints_and_text() {
        let p = ValueMatcher::Str(pat("4624", false));
        assert!(m(&p, &Value::Int(4624)));
        assert!(m(&p, &Value::from("4624")));
        assert!(!m(&p, &Value::Int(4625)));
        let w = ValueMatcher::Str(pat("46*", false));
        assert!(m(&w, &Value::Int(4624)));
        let c = ValueMatcher::Cidr("10.0.0.0/8".parse().unwrap());
        assert!(m(&c, &Value::from("10.1.2.3")));
        assert!(m(&c, &Value::from("::ffff:10.1.2.3")));
        assert!(!m(&c, &Value::from("11.1.2.3")));
        let c6 = ValueMatcher::Cidr("fe80::/10".parse().unwrap());
        assert!(m(&c6, &Value::from("fe80::1")));
        assert!(m(&ValueMatcher::Num(Cmp::Gt, 3.0), &Value::from("4")));
        assert!(!m(&ValueMatcher::Num(Cmp::Gt, 3.0), &Value::from("x")));
        let h = ValueMatcher::Time(TimePart::Hour, Cmp::Eq, 5.0);
        assert!(m(&h, &Value::from("2026-04-17 05:24:53.079")));
        assert!(m(&h, &Value::from("2026-04-17T05:24:53.092051Z")));
    }

    #[test]
    fn lowered_text_gives_the_same_answers() {
        for (p, cased) in [
            ("*\\cmd.exe", false),
            ("*\\cmd.exe", true),
            ("a*b*c", false),
            ("ab*ab", false),
            ("*ÉTÉ*", false),
            ("*été*", false),
            ("*-EnC *", false),
            ("Prog?.exe", false),
            ("*🙂*", false),
        ] {
            let pm = ValueMatcher::Str(pat(p, cased));
            for hay in [
                "C:\\WINDOWS\\System32\\CMD.EXE",
                "AxxBxxC",
                "abab",
                "un ÉTÉ chaud",
                "un été chaud",
                "powershell -enc AAA",
                "PROGA.exe",
                "smile 🙂 please",
                "",
            ] {
                m(&pm, &Value::from(hay));
            }
        }
    }

    #[test]
    fn ci_find_works() {
        assert_eq!(find(b"Hello World", b"world", true), Some(6));
        assert_eq!(find(b"Hello", b"xyz", true), None);
        assert_eq!(find(b"a\\b", b"\\b", true), Some(1));
    }
}
