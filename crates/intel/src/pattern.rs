//! The STIX 2.1 patterning language (STIX 2.1 part 9): a parser for the
//! whole grammar, and its lowering to a [`Condition`] on one event.
//!
//! Everything the grammar allows is parsed, so that what Vigie cannot
//! match is reported with the exact reason rather than as a syntax error:
//!
//! * comparisons `=`, `!=`, `IN (…)`, `LIKE`, `MATCHES`, `ISSUBSET`, with
//!   `NOT`, joined by `AND` / `OR` inside one observation `[…]`, and
//!   observations joined by `OR`, are matched;
//! * `START t'…' STOP t'…'` narrows the indicator's validity;
//! * observations joined by `AND` or `FOLLOWEDBY`, and the `WITHIN` and
//!   `REPEATS` qualifiers, speak of several events: unsupported (Vigie
//!   matches one event at a time), said so;
//! * object paths: `ipv4-addr:value`, `ipv6-addr:value`,
//!   `domain-name:value`, `url:value`, `file:name`,
//!   `file:hashes.'MD5'|'SHA-1'|'SHA-256'` (quoted or not),
//!   `file:extensions.'windows-pebinary-ext'.imphash`,
//!   `network-traffic:src_ref.value|dst_ref.value`; any other path is
//!   unsupported, naming it.

use chrono::{DateTime, Utc};

use crate::model::{Condition, HashAlgo, Kind, Subdomains, Term, Test};
use crate::normalize;

/// Longest pattern read (bytes).
pub const MAX_PATTERN: usize = 64 * 1024;
/// Deepest nesting of parentheses and brackets.
const MAX_DEPTH: usize = 64;
/// Most alternatives one pattern may expand to.
const MAX_ALTERNATIVES: usize = 1024;
/// Longest regular expression or LIKE pattern accepted.
const MAX_REGEX: usize = 4096;

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Not STIX patterning: the message says where.
    Syntax(String),
    /// Valid, but not something Vigie can match on one event.
    Unsupported(String),
    /// A value that cannot be what its path says (a bad address, hash…).
    Invalid(String),
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternError::Syntax(m) => write!(f, "syntax: {m}"),
            PatternError::Unsupported(m) => write!(f, "unsupported: {m}"),
            PatternError::Invalid(m) => write!(f, "invalid value: {m}"),
        }
    }
}

/// A pattern lowered for matching.
#[derive(Debug, Clone, PartialEq)]
pub struct Lowered {
    pub condition: Condition,
    /// From `START … STOP …`: the latest start and earliest stop of its
    /// observations, when every one has them.
    pub start: Option<DateTime<Utc>>,
    pub stop: Option<DateTime<Utc>>,
}

/// Parses and lowers a STIX pattern.
pub fn compile(pattern: &str) -> Result<Lowered, PatternError> {
    if pattern.len() > MAX_PATTERN {
        return Err(PatternError::Unsupported(format!(
            "pattern of {} bytes (at most {MAX_PATTERN})",
            pattern.len()
        )));
    }
    if let Some(l) = simple(pattern) {
        return Ok(l);
    }
    general(pattern)
}

/// The common shape of shared indicators, `[OBJECT:PATH = 'VALUE']` (one
/// address, domain, URL, digest or file name), lowered without the lexer
/// and the parser: the same [`Lowered`] as [`general`] (a test keeps them
/// equal), at a fraction of the cost — a feed of 100,000 indicators is
/// mostly these. Any other shape, an escape in the value, or a value the
/// general path would reject (it says why) returns `None`.
fn simple(pattern: &str) -> Option<Lowered> {
    let inner = pattern.strip_prefix('[')?.strip_suffix("']")?;
    let (lhs, value) = inner.split_once(" = '")?;
    if value.contains(['\'', '\\']) {
        return None;
    }
    let (object, steps): (&str, &[&str]) = match lhs {
        "ipv4-addr:value" => ("ipv4-addr", &["value"]),
        "ipv6-addr:value" => ("ipv6-addr", &["value"]),
        "domain-name:value" => ("domain-name", &["value"]),
        "url:value" => ("url", &["value"]),
        "file:name" => ("file", &["name"]),
        "file:hashes.MD5" | "file:hashes.'MD5'" => ("file", &["hashes", "MD5"]),
        "file:hashes.'SHA-1'" => ("file", &["hashes", "SHA-1"]),
        "file:hashes.'SHA-256'" => ("file", &["hashes", "SHA-256"]),
        "file:extensions.'windows-pebinary-ext'.imphash" => {
            ("file", &["extensions", "windows-pebinary-ext", "imphash"])
        }
        "network-traffic:src_ref.value" => ("network-traffic", &["src_ref", "value"]),
        "network-traffic:dst_ref.value" => ("network-traffic", &["dst_ref", "value"]),
        _ => return None,
    };
    let path = Path {
        object: object.to_string(),
        steps: steps.iter().map(|s| s.to_string()).collect(),
    };
    let test = exact(target(&path).ok()?, &path, value).ok()?;
    Some(Lowered {
        condition: Condition::single(test),
        start: None,
        stop: None,
    })
}

/// Parses and lowers any STIX pattern (the whole grammar).
fn general(pattern: &str) -> Result<Lowered, PatternError> {
    let tokens = lex(pattern)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let obs = p.observations()?;
    if p.pos != p.tokens.len() {
        return Err(PatternError::Syntax(format!(
            "unexpected {} after the end of the pattern",
            p.tokens[p.pos].describe()
        )));
    }
    lower(&obs)
}

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    Op(&'static str),
    Word(String),
    Str(String),
    Int(i64),
    Float(f64),
    Time(DateTime<Utc>),
    Hex(String),
    Bin(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(s) => format!("string '{}'", normalize::cut(s, 40)),
            Tok::Op(o) => format!("'{o}'"),
            other => format!("{other:?}"),
        }
    }
}

fn lex(s: &str) -> Result<Vec<Tok>, PatternError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'[' => {
                out.push(Tok::LBracket);
                i += 1
            }
            b']' => {
                out.push(Tok::RBracket);
                i += 1
            }
            b'(' => {
                out.push(Tok::LParen);
                i += 1
            }
            b')' => {
                out.push(Tok::RParen);
                i += 1
            }
            b',' => {
                out.push(Tok::Comma);
                i += 1
            }
            b':' => {
                out.push(Tok::Colon);
                i += 1
            }
            b'.' => {
                out.push(Tok::Dot);
                i += 1
            }
            b'*' => {
                out.push(Tok::Star);
                i += 1
            }
            b'=' => {
                out.push(Tok::Op("="));
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                out.push(Tok::Op("!="));
                i += 2
            }
            b'<' | b'>' => {
                let two = b.get(i + 1) == Some(&b'=');
                out.push(Tok::Op(match (c, two) {
                    (b'<', true) => "<=",
                    (b'<', false) => "<",
                    (_, true) => ">=",
                    _ => ">",
                }));
                if c == b'<' && b.get(i + 1) == Some(&b'>') {
                    // `<>` is an old spelling of `!=`.
                    out.pop();
                    out.push(Tok::Op("!="));
                    i += 2;
                } else {
                    i += if two { 2 } else { 1 };
                }
            }
            b'\'' => {
                let (text, next) = string(s, i + 1)?;
                out.push(Tok::Str(text));
                i = next;
            }
            b't' | b'h' | b'b' if b.get(i + 1) == Some(&b'\'') => {
                let (text, next) = string(s, i + 2)?;
                out.push(match c {
                    b't' => Tok::Time(
                        DateTime::parse_from_rfc3339(&text)
                            .map(|t| t.with_timezone(&Utc))
                            .map_err(|e| {
                                PatternError::Syntax(format!("timestamp t'{text}': {e}"))
                            })?,
                    ),
                    b'h' => Tok::Hex(text),
                    _ => Tok::Bin(text),
                });
                i = next;
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let text = &s[start..i];
                out.push(if text.contains('.') {
                    Tok::Float(
                        text.parse().map_err(|_| {
                            PatternError::Syntax(format!("'{text}' is not a number"))
                        })?,
                    )
                } else {
                    Tok::Int(
                        text.parse().map_err(|_| {
                            PatternError::Syntax(format!("'{text}' is not a number"))
                        })?,
                    )
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-')
                {
                    i += 1;
                }
                out.push(Tok::Word(s[start..i].to_string()));
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(PatternError::Syntax(format!(
                    "unexpected character '{ch}' at byte {i}"
                )));
            }
        }
    }
    Ok(out)
}

/// A quoted string from `start` (just after the opening quote): `\'` and
/// `\\` are the only escapes. Returns the text and the index after the
/// closing quote.
fn string(s: &str, start: usize) -> Result<(String, usize), PatternError> {
    let mut out = String::new();
    let mut chars = s[start..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('\'' | '\\'))) => out.push(e),
                Some((_, e)) => {
                    return Err(PatternError::Syntax(format!(
                        "escape '\\{e}' in a string (only \\' and \\\\ are allowed)"
                    )))
                }
                None => break,
            },
            '\'' => return Ok((out, start + off + 1)),
            c => out.push(c),
        }
    }
    Err(PatternError::Syntax("string not closed".into()))
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(DateTime<Utc>),
    Bytes,
    List(Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
struct Path {
    object: String,
    /// Property names and list indexes (`*` as `None`), in order.
    steps: Vec<String>,
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.object, self.steps.join("."))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Cmp {
    Or(Vec<Cmp>),
    And(Vec<Cmp>),
    Test {
        path: Path,
        negated: bool,
        op: &'static str,
        value: Literal,
    },
    Exists(Path),
}

#[derive(Debug, Clone, PartialEq)]
enum Qualifier {
    StartStop(DateTime<Utc>, DateTime<Utc>),
    Within,
    Repeats,
}

#[derive(Debug, Clone, PartialEq)]
enum Obs {
    Or(Vec<Obs>),
    And(Vec<Obs>),
    FollowedBy(Vec<Obs>),
    One(Cmp, Vec<Qualifier>),
    Group(Box<Obs>, Vec<Qualifier>),
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), PatternError> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            Some(x) => Err(PatternError::Syntax(format!(
                "expected {what}, found {}",
                x.describe()
            ))),
            None => Err(PatternError::Syntax(format!(
                "expected {what}, found the end of the pattern"
            ))),
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError::Unsupported(format!(
                "nesting deeper than {MAX_DEPTH}"
            )));
        }
        Ok(())
    }

    /// observations := or ( FOLLOWEDBY or )*
    fn observations(&mut self) -> Result<Obs, PatternError> {
        let mut parts = vec![self.obs_or()?];
        while self.is_word("FOLLOWEDBY") {
            self.pos += 1;
            parts.push(self.obs_or()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Obs::FollowedBy(parts)
        })
    }

    fn obs_or(&mut self) -> Result<Obs, PatternError> {
        let mut parts = vec![self.obs_and()?];
        while self.is_word("OR") {
            self.pos += 1;
            parts.push(self.obs_and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Obs::Or(parts)
        })
    }

    fn obs_and(&mut self) -> Result<Obs, PatternError> {
        let mut parts = vec![self.obs_one()?];
        while self.is_word("AND") {
            self.pos += 1;
            parts.push(self.obs_one()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Obs::And(parts)
        })
    }

    fn obs_one(&mut self) -> Result<Obs, PatternError> {
        self.enter()?;
        let obs = match self.next() {
            Some(Tok::LBracket) => {
                let c = self.cmp_or()?;
                self.expect(Tok::RBracket, "']'")?;
                let q = self.qualifiers()?;
                Obs::One(c, q)
            }
            Some(Tok::LParen) => {
                let inner = self.observations()?;
                self.expect(Tok::RParen, "')'")?;
                let q = self.qualifiers()?;
                Obs::Group(Box::new(inner), q)
            }
            Some(t) => {
                return Err(PatternError::Syntax(format!(
                    "expected '[' or '(', found {}",
                    t.describe()
                )))
            }
            None => {
                return Err(PatternError::Syntax(
                    "expected an observation '[…]', found the end of the pattern".into(),
                ))
            }
        };
        self.depth -= 1;
        Ok(obs)
    }

    fn qualifiers(&mut self) -> Result<Vec<Qualifier>, PatternError> {
        let mut out = Vec::new();
        loop {
            if self.is_word("START") {
                self.pos += 1;
                let Some(Tok::Time(a)) = self.next() else {
                    return Err(PatternError::Syntax("START needs a t'…' timestamp".into()));
                };
                if !self.is_word("STOP") {
                    return Err(PatternError::Syntax("START without STOP".into()));
                }
                self.pos += 1;
                let Some(Tok::Time(b)) = self.next() else {
                    return Err(PatternError::Syntax("STOP needs a t'…' timestamp".into()));
                };
                out.push(Qualifier::StartStop(a, b));
            } else if self.is_word("WITHIN") {
                self.pos += 1;
                match self.next() {
                    Some(Tok::Int(_) | Tok::Float(_)) => {}
                    _ => return Err(PatternError::Syntax("WITHIN needs a number".into())),
                }
                if !self.is_word("SECONDS") {
                    return Err(PatternError::Syntax("WITHIN n needs SECONDS".into()));
                }
                self.pos += 1;
                out.push(Qualifier::Within);
            } else if self.is_word("REPEATS") {
                self.pos += 1;
                if !matches!(self.next(), Some(Tok::Int(_))) {
                    return Err(PatternError::Syntax("REPEATS needs a count".into()));
                }
                if !self.is_word("TIMES") {
                    return Err(PatternError::Syntax("REPEATS n needs TIMES".into()));
                }
                self.pos += 1;
                out.push(Qualifier::Repeats);
            } else {
                return Ok(out);
            }
        }
    }

    fn cmp_or(&mut self) -> Result<Cmp, PatternError> {
        let mut parts = vec![self.cmp_and()?];
        while self.is_word("OR") {
            self.pos += 1;
            parts.push(self.cmp_and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cmp::Or(parts)
        })
    }

    fn cmp_and(&mut self) -> Result<Cmp, PatternError> {
        let mut parts = vec![self.cmp_one()?];
        while self.is_word("AND") {
            self.pos += 1;
            parts.push(self.cmp_one()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cmp::And(parts)
        })
    }

    fn cmp_one(&mut self) -> Result<Cmp, PatternError> {
        self.enter()?;
        let out = if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let c = self.cmp_or()?;
            self.expect(Tok::RParen, "')'")?;
            c
        } else if self.is_word("EXISTS") {
            self.pos += 1;
            Cmp::Exists(self.path()?)
        } else {
            let path = self.path()?;
            let mut negated = false;
            if self.is_word("NOT") {
                self.pos += 1;
                negated = true;
            }
            let op: &'static str = match self.next() {
                Some(Tok::Op(o)) => o,
                Some(Tok::Word(w)) => match w.as_str() {
                    "IN" => "IN",
                    "LIKE" => "LIKE",
                    "MATCHES" => "MATCHES",
                    "ISSUBSET" => "ISSUBSET",
                    "ISSUPERSET" => "ISSUPERSET",
                    other => {
                        return Err(PatternError::Syntax(format!(
                            "'{other}' is not a comparison operator"
                        )))
                    }
                },
                Some(t) => {
                    return Err(PatternError::Syntax(format!(
                        "expected a comparison operator after {path}, found {}",
                        t.describe()
                    )))
                }
                None => {
                    return Err(PatternError::Syntax(format!(
                        "expected a comparison operator after {path}"
                    )))
                }
            };
            let value = if op == "IN" {
                self.expect(Tok::LParen, "'(' after IN")?;
                let mut items = vec![self.literal()?];
                while self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                    items.push(self.literal()?);
                }
                self.expect(Tok::RParen, "')' closing the IN list")?;
                Literal::List(items)
            } else {
                self.literal()?
            };
            Cmp::Test {
                path,
                negated,
                op,
                value,
            }
        };
        self.depth -= 1;
        Ok(out)
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        Ok(match self.next() {
            Some(Tok::Str(s)) => Literal::Str(s),
            Some(Tok::Int(i)) => Literal::Int(i),
            Some(Tok::Float(f)) => Literal::Float(f),
            Some(Tok::Time(t)) => Literal::Time(t),
            Some(Tok::Hex(_) | Tok::Bin(_)) => Literal::Bytes,
            Some(Tok::Word(w)) if w == "true" || w == "false" => Literal::Bool(w == "true"),
            Some(t) => {
                return Err(PatternError::Syntax(format!(
                    "expected a value, found {}",
                    t.describe()
                )))
            }
            None => {
                return Err(PatternError::Syntax(
                    "expected a value, found the end of the pattern".into(),
                ))
            }
        })
    }

    /// `type:prop(.prop | .'quoted' | [n] | [*])*`
    fn path(&mut self) -> Result<Path, PatternError> {
        let object = match self.next() {
            Some(Tok::Word(w)) => w,
            Some(t) => {
                return Err(PatternError::Syntax(format!(
                    "expected an object path (type:property), found {}",
                    t.describe()
                )))
            }
            None => {
                return Err(PatternError::Syntax(
                    "expected an object path, found the end of the pattern".into(),
                ))
            }
        };
        self.expect(Tok::Colon, "':' in the object path")?;
        let mut steps = vec![self.step()?];
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    steps.push(self.step()?);
                }
                Some(Tok::LBracket) => {
                    // A list index: `[0]` or `[*]` (a `[` after a path
                    // cannot open an observation).
                    self.pos += 1;
                    match self.next() {
                        Some(Tok::Int(n)) => steps.push(format!("[{n}]")),
                        Some(Tok::Star) => steps.push("[*]".into()),
                        _ => {
                            return Err(PatternError::Syntax(
                                "a list index is a number or '*'".into(),
                            ))
                        }
                    }
                    self.expect(Tok::RBracket, "']' closing the list index")?;
                }
                _ => break,
            }
        }
        Ok(Path { object, steps })
    }

    fn step(&mut self) -> Result<String, PatternError> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            Some(Tok::Str(s)) => Ok(s),
            Some(t) => Err(PatternError::Syntax(format!(
                "expected a property name, found {}",
                t.describe()
            ))),
            None => Err(PatternError::Syntax(
                "expected a property name, found the end of the pattern".into(),
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Lowering
// ---------------------------------------------------------------------------

const SEVERAL_EVENTS: &str =
    "it joins observations that may be different events (AND, FOLLOWEDBY between [...]), and Vigie matches one event at a time";

fn lower(obs: &Obs) -> Result<Lowered, PatternError> {
    let mut out = Lowered {
        condition: Condition::default(),
        start: None,
        stop: None,
    };
    let mut windows: Vec<Option<(DateTime<Utc>, DateTime<Utc>)>> = Vec::new();
    lower_obs(obs, &mut out.condition.any, &mut windows)?;
    if out.condition.any.len() > MAX_ALTERNATIVES {
        return Err(PatternError::Unsupported(format!(
            "more than {MAX_ALTERNATIVES} alternatives"
        )));
    }
    // A window narrows validity only when every observation has one:
    // otherwise some alternative holds at any time.
    if !windows.is_empty() && windows.iter().all(Option::is_some) {
        let ws: Vec<_> = windows.into_iter().flatten().collect();
        out.start = ws.iter().map(|w| w.0).min();
        out.stop = ws.iter().map(|w| w.1).max();
    }
    Ok(out)
}

type Window = Option<(DateTime<Utc>, DateTime<Utc>)>;

fn lower_obs(
    obs: &Obs,
    out: &mut Vec<Vec<Term>>,
    windows: &mut Vec<Window>,
) -> Result<(), PatternError> {
    match obs {
        Obs::Or(parts) => {
            for p in parts {
                lower_obs(p, out, windows)?;
            }
            Ok(())
        }
        Obs::And(_) | Obs::FollowedBy(_) => Err(PatternError::Unsupported(SEVERAL_EVENTS.into())),
        Obs::One(_, q) | Obs::Group(_, q)
            if q.iter().any(|q| !matches!(q, Qualifier::StartStop(..))) =>
        {
            Err(PatternError::Unsupported(
                "WITHIN and REPEATS count several events, and Vigie matches one event at a time"
                    .into(),
            ))
        }
        Obs::One(c, q) => {
            let alts = dnf(c)?;
            if alts.iter().any(|alt| !alt.iter().any(|t| !t.negated)) {
                return Err(PatternError::Unsupported(
                    "an alternative made only of negations (NOT, !=) matches almost every event"
                        .into(),
                ));
            }
            let w = window(q);
            for _ in &alts {
                windows.push(w);
            }
            out.extend(alts);
            if out.len() > MAX_ALTERNATIVES {
                return Err(PatternError::Unsupported(format!(
                    "more than {MAX_ALTERNATIVES} alternatives"
                )));
            }
            Ok(())
        }
        Obs::Group(inner, q) => {
            let before = windows.len();
            lower_obs(inner, out, windows)?;
            if let Some(w) = window(q) {
                for slot in &mut windows[before..] {
                    *slot = Some(match *slot {
                        Some((a, b)) => (a.max(w.0), b.min(w.1)),
                        None => w,
                    });
                }
            }
            Ok(())
        }
    }
}

fn window(q: &[Qualifier]) -> Window {
    q.iter().find_map(|q| match q {
        Qualifier::StartStop(a, b) => Some((*a, *b)),
        _ => None,
    })
}

/// The comparison expression as any-of-all-of terms.
fn dnf(c: &Cmp) -> Result<Vec<Vec<Term>>, PatternError> {
    match c {
        Cmp::Or(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(dnf(p)?);
                if out.len() > MAX_ALTERNATIVES {
                    return Err(PatternError::Unsupported(format!(
                        "more than {MAX_ALTERNATIVES} alternatives"
                    )));
                }
            }
            Ok(out)
        }
        Cmp::And(parts) => {
            let mut acc: Vec<Vec<Term>> = vec![Vec::new()];
            for p in parts {
                let alts = dnf(p)?;
                if acc.len() * alts.len() > MAX_ALTERNATIVES {
                    return Err(PatternError::Unsupported(format!(
                        "more than {MAX_ALTERNATIVES} alternatives"
                    )));
                }
                let mut next = Vec::with_capacity(acc.len() * alts.len());
                for a in &acc {
                    for b in &alts {
                        let mut t = a.clone();
                        t.extend(b.iter().cloned());
                        next.push(t);
                    }
                }
                acc = next;
            }
            Ok(acc)
        }
        Cmp::Exists(p) => Err(PatternError::Unsupported(format!(
            "EXISTS {p}: the presence of a property is not an indicator"
        ))),
        Cmp::Test {
            path,
            negated,
            op,
            value,
        } => {
            let target = target(path)?;
            let tests = tests(target, path, op, value)?;
            if *negated || *op == "!=" {
                // NOT (a OR b) is (NOT a AND NOT b).
                let flip = *negated != (*op == "!=");
                if !flip {
                    // `NOT x != v` is `x = v`.
                    return Ok(tests.into_iter().map(|t| vec![Term::is(t)]).collect());
                }
                let all: Vec<Term> = tests
                    .into_iter()
                    .map(|t| Term {
                        test: t,
                        negated: true,
                    })
                    .collect();
                return Ok(vec![all]);
            }
            Ok(tests.into_iter().map(|t| vec![Term::is(t)]).collect())
        }
    }
}

/// What an object path designates.
#[derive(Debug, Clone, Copy)]
enum Target {
    Ip,
    /// `network-traffic:*_ref.value`: an address or a domain.
    IpOrDomain,
    Domain,
    Url,
    Hash(HashAlgo),
    FileName,
}

fn target(p: &Path) -> Result<Target, PatternError> {
    let steps: Vec<&str> = p.steps.iter().map(String::as_str).collect();
    let t = match (p.object.as_str(), steps.as_slice()) {
        ("ipv4-addr" | "ipv6-addr", ["value"]) => Target::Ip,
        ("domain-name", ["value"]) => Target::Domain,
        ("url", ["value"]) => Target::Url,
        ("file", ["name"]) => Target::FileName,
        ("file", ["hashes", h]) => match hash_name(h) {
            Some(a) => Target::Hash(a),
            None => {
                return Err(PatternError::Unsupported(format!(
                    "{p}: no event field carries {h} digests (Sysmon gives MD5, SHA-1, SHA-256 and IMPHASH)"
                )))
            }
        },
        ("file", ["extensions", "windows-pebinary-ext", "imphash"]) => {
            Target::Hash(HashAlgo::Imphash)
        }
        ("network-traffic", ["src_ref" | "dst_ref", "value"]) => Target::IpOrDomain,
        _ => {
            return Err(PatternError::Unsupported(format!(
                "{p}: Vigie matches addresses, domains, URLs, file hashes and file names; no event field it reads carries this"
            )))
        }
    };
    Ok(t)
}

fn hash_name(h: &str) -> Option<HashAlgo> {
    match h.to_ascii_uppercase().replace('_', "-").as_str() {
        "MD5" => Some(HashAlgo::Md5),
        "SHA-1" | "SHA1" => Some(HashAlgo::Sha1),
        "SHA-256" | "SHA256" => Some(HashAlgo::Sha256),
        "IMPHASH" => Some(HashAlgo::Imphash),
        _ => None,
    }
}

fn kind_of(t: Target) -> Kind {
    match t {
        Target::Ip | Target::IpOrDomain => Kind::Ip,
        Target::Domain => Kind::Domain,
        Target::Url => Kind::Url,
        Target::Hash(a) => Kind::Hash(a),
        Target::FileName => Kind::FileName,
    }
}

fn tests(t: Target, path: &Path, op: &str, value: &Literal) -> Result<Vec<Test>, PatternError> {
    let text = |v: &Literal| -> Result<String, PatternError> {
        match v {
            Literal::Str(s) => Ok(s.clone()),
            other => Err(PatternError::Invalid(format!(
                "{path} compared with {other:?}: a string is expected"
            ))),
        }
    };
    match op {
        "=" | "!=" => Ok(vec![exact(t, path, &text(value)?)?]),
        "IN" => {
            let Literal::List(items) = value else {
                return Err(PatternError::Syntax("IN needs a list".into()));
            };
            items.iter().map(|v| exact(t, path, &text(v)?)).collect()
        }
        "ISSUBSET" => match t {
            Target::Ip | Target::IpOrDomain => {
                let v = text(value)?;
                normalize::ip_net(&v)
                    .map(|n| vec![Test::Ip(n)])
                    .ok_or_else(|| {
                        PatternError::Invalid(format!("{path} ISSUBSET '{v}': not a network"))
                    })
            }
            _ => Err(PatternError::Unsupported(format!(
                "{path} ISSUBSET: only addresses are subsets of networks"
            ))),
        },
        "LIKE" => {
            let v = text(value)?;
            like(t, path, &v)
        }
        "MATCHES" => {
            let v = text(value)?;
            if v.len() > MAX_REGEX {
                return Err(PatternError::Unsupported(format!(
                    "{path} MATCHES: regular expression longer than {MAX_REGEX} bytes"
                )));
            }
            regex::RegexBuilder::new(&v)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| {
                    PatternError::Invalid(format!(
                        "{path} MATCHES: {}",
                        normalize::cut(&e.to_string(), 200)
                    ))
                })?;
            Ok(vec![Test::Regex(kind_of(t), v.into())])
        }
        other => Err(PatternError::Unsupported(format!(
            "{path} {other}: ordering comparisons do not apply to addresses, names or digests"
        ))),
    }
}

fn exact(t: Target, path: &Path, v: &str) -> Result<Test, PatternError> {
    let bad = || PatternError::Invalid(format!("{path} = '{}'", normalize::cut(v, 80)));
    Ok(match t {
        Target::Ip => Test::Ip(normalize::ip_net(v).ok_or_else(bad)?),
        Target::IpOrDomain => match normalize::ip_net(v) {
            Some(n) => Test::Ip(n),
            None => Test::Domain(
                normalize::domain(v).ok_or_else(bad)?.into(),
                Subdomains::Included,
            ),
        },
        Target::Domain => Test::Domain(
            normalize::domain(v).ok_or_else(bad)?.into(),
            Subdomains::Included,
        ),
        Target::Url => Test::Url(normalize::url(v).ok_or_else(bad)?.into()),
        Target::Hash(a) => Test::Hash(a, normalize::hash_of(a, v).ok_or_else(bad)?.into()),
        Target::FileName => Test::FileName(normalize::file_name(v).ok_or_else(bad)?.into()),
    })
}

/// `LIKE`: plain text is equality, `%.domain` is the names under a domain,
/// anything else a scan.
fn like(t: Target, path: &Path, v: &str) -> Result<Vec<Test>, PatternError> {
    if v.len() > MAX_REGEX {
        return Err(PatternError::Unsupported(format!(
            "{path} LIKE: pattern longer than {MAX_REGEX} bytes"
        )));
    }
    if !v.contains(['%', '_']) {
        return Ok(vec![exact(t, path, v)?]);
    }
    if let (Target::Domain | Target::IpOrDomain, Some(rest)) = (t, v.strip_prefix("%.")) {
        if !rest.contains(['%', '_']) {
            if let Some(d) = normalize::domain(rest) {
                return Ok(vec![Test::Domain(d.into(), Subdomains::Only)]);
            }
        }
    }
    Ok(vec![Test::Like(kind_of(t), v.to_lowercase().into())])
}

/// SQL `LIKE` as a regular expression (anchored, case-insensitive).
pub fn like_regex(pattern: &str) -> String {
    let mut re = String::from("(?is)^");
    for c in pattern.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut gives what the general path gives, on every shape it
    /// takes (the formats' samples: what `vigie export stix` and
    /// `scripts/gen-iocs.py` write, and what feeds publish), on values the
    /// general path refuses, and on shapes it must leave alone.
    #[test]
    fn the_simple_shape_is_lowered_as_the_general_path_lowers_it() {
        let taken = [
            "[ipv4-addr:value = '203.0.113.45']",
            "[ipv4-addr:value = '198.51.100.0/24']",
            "[ipv6-addr:value = '2001:db8:1:2::7']",
            "[ipv6-addr:value = '2001:DB8::/32']",
            "[domain-name:value = 'Relay.Example.ORG.']",
            "[domain-name:value = 'mega.co.nz']",
            "[url:value = 'HTTP://Evil.example/Gate.php?id=1']",
            "[url:value = 'https://files.example.net/a%20b']",
            "[file:name = 'RClone.EXE']",
            "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']",
            "[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']",
            "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
            "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']",
            "[file:extensions.'windows-pebinary-ext'.imphash = 'f34d5f2d4577ed6d9ceec516c1f5a744']",
            "[network-traffic:dst_ref.value = '203.0.113.9']",
            "[network-traffic:src_ref.value = 'c2.example.com']",
        ];
        for p in taken {
            assert!(simple(p).is_some(), "{p}: not taken by the shortcut");
            assert_eq!(compile(p), general(p), "{p}");
        }
        let left = [
            // Values the general path refuses, with its reason.
            "[ipv4-addr:value = '999.1.1.1']",
            "[file:hashes.'SHA-256' = 'abc']",
            "[domain-name:value = '']",
            // Escapes, other operators and shapes, other paths.
            "[file:name = 'o\\'brien.exe']",
            "[file:name = 'C:\\\\x.exe']",
            "[ipv4-addr:value='203.0.113.45']",
            "[ ipv4-addr:value = '203.0.113.45' ]",
            "[ipv4-addr:value = '203.0.113.45'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'",
            "[ipv4-addr:value = '203.0.113.45' OR ipv4-addr:value = '203.0.113.46']",
            "[ipv4-addr:value = '203.0.113.45'] OR [domain-name:value = 'x.example']",
            "[ipv4-addr:value != '203.0.113.45']",
            "[domain-name:value LIKE '%.example.com']",
            "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
            "[email-addr:value = 'a@example.com']",
            "[file:hashes.'SHA-512' = 'aa']",
        ];
        for p in left {
            assert!(simple(p).is_none(), "{p}: taken by the shortcut");
            assert_eq!(compile(p), general(p), "{p}");
        }
    }

    fn alts(p: &str) -> Vec<Vec<(bool, String)>> {
        compile(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .condition
            .any
            .iter()
            .map(|a| a.iter().map(|t| (t.negated, t.test.value_text())).collect())
            .collect()
    }

    #[test]
    fn equality_in_and_or() {
        assert_eq!(
            alts("[ipv4-addr:value = '203.0.113.45']"),
            [[(false, "203.0.113.45".to_string())]]
        );
        assert_eq!(
            alts("[domain-name:value IN ('Evil.example', 'bad.example.')]").len(),
            2
        );
        let sha = "ab".repeat(32);
        let a = alts(&format!(
            "[file:hashes.'SHA-256' = '{}' ] OR [file:name = 'X.exe']",
            sha.to_uppercase()
        ));
        assert_eq!(a, [[(false, sha)], [(false, "x.exe".to_string())]]);
    }

    #[test]
    fn hash_paths() {
        let h = "d41d8cd98f00b204e9800998ecf8427e";
        for p in [
            format!("[file:hashes.MD5 = '{h}']"),
            format!("[file:hashes.'MD5' = '{}']", h.to_uppercase()),
        ] {
            assert_eq!(alts(&p), [[(false, h.to_string())]]);
        }
        let c = compile(&format!(
            "[file:extensions.'windows-pebinary-ext'.imphash = '{h}']"
        ))
        .unwrap();
        assert_eq!(
            c.condition.any[0][0].test,
            Test::Hash(HashAlgo::Imphash, h.into())
        );
        assert!(matches!(
            compile("[file:hashes.'SHA-512' = 'aa']"),
            Err(PatternError::Unsupported(m)) if m.contains("SHA-512")
        ));
        assert!(matches!(
            compile("[file:hashes.MD5 = 'xyz']"),
            Err(PatternError::Invalid(_))
        ));
    }

    #[test]
    fn conjunctions_expand() {
        let a = alts("[file:name = 'a.exe' AND (file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:hashes.MD5 = '00000000000000000000000000000000')]");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].len(), 2);
        let n = alts("[domain-name:value = 'a.example' AND domain-name:value != 'b.a.example']");
        assert_eq!(
            n,
            [[(false, "a.example".into()), (true, "b.a.example".into())]]
        );
        assert!(matches!(
            compile("[domain-name:value != 'a.example']"),
            Err(PatternError::Unsupported(m)) if m.contains("negations")
        ));
    }

    #[test]
    fn like_matches_issubset() {
        assert_eq!(
            alts("[domain-name:value LIKE '%.evil.example']"),
            [[(false, "*.evil.example".into())]]
        );
        let c = compile("[url:value LIKE 'http://%/gate.php']").unwrap();
        assert!(
            matches!(&c.condition.any[0][0].test, Test::Like(Kind::Url, p) if &**p == "http://%/gate.php")
        );
        assert_eq!(
            alts("[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
            [[(false, "198.51.100.0/24".into())]]
        );
        assert_eq!(
            alts("[ipv4-addr:value = '198.51.100.0/24']"),
            [[(false, "198.51.100.0/24".into())]]
        );
        let c = compile("[file:name MATCHES '^inv[0-9]+\\\\.exe$']").unwrap();
        assert!(matches!(
            &c.condition.any[0][0].test,
            Test::Regex(Kind::FileName, _)
        ));
        assert!(matches!(
            compile("[file:name MATCHES '(']"),
            Err(PatternError::Invalid(_))
        ));
        let re = regex::Regex::new(&like_regex("http://%/gate_.php")).unwrap();
        assert!(re.is_match("http://a.example/x/gate1.php"));
        assert!(!re.is_match("http://a.example/x/gate1.phpx"));
    }

    #[test]
    fn network_traffic_and_qualifiers() {
        assert_eq!(
            alts("[network-traffic:dst_ref.value = '203.0.113.9']"),
            [[(false, "203.0.113.9".into())]]
        );
        assert_eq!(
            alts("[network-traffic:dst_ref.value = 'c2.example']"),
            [[(false, "c2.example".into())]]
        );
        let c = compile("[ipv4-addr:value = '203.0.113.9'] START t'2023-11-01T00:00:00Z' STOP t'2023-12-01T00:00:00Z'").unwrap();
        assert_eq!(c.start.unwrap().to_rfc3339(), "2023-11-01T00:00:00+00:00");
        assert!(matches!(
            compile("[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.example']"),
            Err(PatternError::Unsupported(m)) if m.contains("one event")
        ));
        assert!(matches!(
            compile("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']"),
            Err(PatternError::Unsupported(_))
        ));
        assert!(matches!(
            compile("[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES WITHIN 60 SECONDS"),
            Err(PatternError::Unsupported(_))
        ));
    }

    #[test]
    fn unsupported_and_syntax_errors_are_named() {
        assert!(matches!(
            compile("[email-addr:value = 'a@b.example']"),
            Err(PatternError::Unsupported(m)) if m.contains("email-addr:value")
        ));
        assert!(matches!(
            compile("[process:pid > 4]"),
            Err(PatternError::Unsupported(_))
        ));
        for bad in [
            "[ipv4-addr:value = '1.2.3.4'",
            "ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value = 'x]",
            "[ipv4-addr:value ~ 'x']",
            "[] ",
        ] {
            assert!(
                matches!(compile(bad), Err(PatternError::Syntax(_))),
                "{bad}"
            );
        }
        let deep = format!(
            "{}[ipv4-addr:value = '1.2.3.4']{}",
            "(".repeat(200),
            ")".repeat(200)
        );
        assert!(compile(&deep).is_err());
        assert_eq!(
            alts(r"[file:name = 'it\'s.exe']"),
            [[(false, "it's.exe".into())]]
        );
    }
}
