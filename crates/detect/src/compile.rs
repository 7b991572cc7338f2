//! Rule ASTs → compiled rules: field names resolved through the logsource
//! and field mappings, values turned into [`ValueMatcher`]s by applying
//! their modifiers, conditions bound to search indices.

use std::collections::HashMap;
use std::sync::Arc;

use vigie_event::{Record, Value};

use crate::condition::{resolve, Expr};
use crate::logsource::{FieldMapping, LogsourceEntry};
use crate::modifier::{b64, b64_offsets, Modifier, WINDASH};
use crate::quote::{quote, thousands};
use crate::rule::{FieldAst, RawValue, SearchAst};
use crate::value::{literal_tokens, parse_wildcards, tokens_plain, Cmp, StrPat, Tok, ValueMatcher};
use crate::{Fail, FailureKind, MatchedField, Placeholders, RuleMeta};

pub(crate) use crate::view::Names;
use crate::view::{Slots, View};

#[derive(Debug, Clone)]
pub(crate) enum TestKind {
    Exists(bool),
    /// `field: null`: absent or null.
    Null,
    Values {
        all: bool,
        neq: bool,
        /// One group per rule value; a group holds the alternatives the
        /// value expanded to (windash, base64offset, placeholders).
        groups: Vec<Vec<ValueMatcher>>,
        /// A `null` is among the values: an absent field matches.
        null_ok: bool,
    },
}

/// One `field|modifiers: values` test (field `None`: keywords).
#[derive(Debug, Clone)]
pub(crate) struct CTest {
    pub field: Option<Names>,
    /// The field as the rule wrote it (explanations).
    pub display: Arc<str>,
    pub kind: TestKind,
}

#[derive(Debug, Clone)]
pub(crate) struct CSearch {
    pub name: String,
    pub alts: Vec<Vec<CTest>>,
}

/// A logsource variant check, used only when some variant carries extra
/// conditions (e.g. `registry_add` is Sysmon 12 with `EventType:
/// CreateKey`).
#[derive(Debug, Clone)]
pub(crate) struct SourceCheck {
    pub channels: Vec<String>,
    pub event_ids: Vec<u32>,
    pub conds: Vec<(Names, Vec<StrPat>)>,
}

/// A compiled detection rule.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub meta: Arc<RuleMeta>,
    pub searches: Vec<CSearch>,
    pub expr: Expr,
    pub sources: Vec<SourceCheck>,
    /// Searches that appear un-negated in the condition (explanations).
    pub positive: Vec<usize>,
    /// Event fields correlations need: (key, lookup names).
    pub corr_fields: Vec<(Arc<str>, Names)>,
    pub generate: bool,
}

/// Shares field name strings within a rule.
#[derive(Default)]
pub(crate) struct Interner {
    map: HashMap<String, Arc<str>>,
}

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.map.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.map.insert(s.to_string(), a.clone());
        a
    }
}

/// Resolves rule field names for one rule.
pub(crate) struct Resolver<'a> {
    pub variants: Vec<&'a LogsourceEntry>,
    pub mapping: Option<&'a FieldMapping>,
}

impl Resolver<'_> {
    /// The lookup names of `field`; their slots are numbered once the
    /// whole rule set is compiled ([`CompiledRule::number_slots`]).
    pub fn names(&self, field: &str, int: &mut Interner) -> Names {
        Names {
            names: self.name_list(field, int),
            slots: Box::new([]),
        }
    }

    fn name_list(&self, field: &str, int: &mut Interner) -> Box<[Arc<str>]> {
        let mut out: Vec<Arc<str>> = Vec::with_capacity(2);
        let mut push = |s: &str, out: &mut Vec<Arc<str>>| {
            if !out.iter().any(|x| &**x == s) {
                out.push(int.get(s));
            }
        };
        if let Some(m) = self.mapping {
            if let Some(t) = m.fields.get(field) {
                for x in t {
                    push(x, &mut out);
                }
            }
            if let Some(p) = &m.prefix {
                push(&format!("{p}{field}"), &mut out);
            }
        }
        push(field, &mut out);
        for v in &self.variants {
            for (from, to) in &v.fieldmappings {
                if from == field {
                    push(to, &mut out);
                }
            }
        }
        out.into_boxed_slice()
    }
}

/// Compile-time inputs shared by all rules.
pub(crate) struct Ctx<'a> {
    pub placeholders: &'a Placeholders,
}

/// Longest `re` pattern accepted, in bytes. SigmaHQ's longest is ~600;
/// the regex parser's time and memory grow with the pattern before any
/// size limit applies.
pub(crate) const MAX_REGEX_LEN: usize = 32 << 10;
/// The regex crate's limit on a compiled program (its default is 10 MiB).
pub(crate) const REGEX_SIZE_LIMIT: usize = 4 << 20;
/// The regex crate's limit on each lazy DFA cache (one per regex and
/// thread; its default is 2 MiB): past it the cache is cleared and
/// matching stays linear.
pub(crate) const REGEX_DFA_SIZE_LIMIT: usize = 1 << 20;

/// What one rule may compile to. Modifiers multiply values (`windash`
/// up to 125 alternatives, `base64offset` 3, placeholders one per
/// value): without a bound, a rule file of a few megabytes could compile
/// to gigabytes. SigmaHQ's largest rule compiles to ~5,000 alternatives
/// and ~300 KB of patterns.
#[derive(Debug)]
pub(crate) struct Budget {
    pub alternatives: usize,
    pub bytes: usize,
}

pub(crate) const MAX_ALTERNATIVES: usize = 100_000;
pub(crate) const MAX_PATTERN_BYTES: usize = 16 << 20;

impl Budget {
    pub fn new() -> Budget {
        Budget {
            alternatives: 0,
            bytes: 0,
        }
    }
    /// Whether `bytes` more of patterns would still fit.
    fn room(&self, bytes: usize) -> Result<(), Fail> {
        self.check(self.alternatives, self.bytes.saturating_add(bytes))
    }
    fn spend(&mut self, bytes: usize) -> Result<(), Fail> {
        self.alternatives += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        self.check(self.alternatives, self.bytes)
    }
    fn check(&self, alternatives: usize, bytes: usize) -> Result<(), Fail> {
        if alternatives > MAX_ALTERNATIVES || bytes > MAX_PATTERN_BYTES {
            return Err(Fail::new(
                FailureKind::TooLarge,
                format!(
                    "the rule compiles to more than {} values or {} MiB of patterns (modifiers and placeholders multiply values)",
                    thousands(MAX_ALTERNATIVES),
                    MAX_PATTERN_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }
}

/// The `%name%` placeholders of an `expand` value (`\%` is a plain
/// percent).
pub(crate) fn placeholder_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && chars.get(i + 1) == Some(&'%') {
            i += 2;
            continue;
        }
        if chars[i] == '%' {
            if let Some(len) = chars[i + 1..].iter().position(|&x| x == '%') {
                out.push(chars[i + 1..i + 1 + len].iter().collect());
                i += len + 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// `windash`: every dash-like character of the value (`-`, `/`, en dash,
/// em dash, horizontal bar) takes each of the five forms (Sigma 2.1
/// modifiers appendix: "all possible permutations"). Up to three dashes
/// expand into alternatives (at most 125, all literal, so the prefilter
/// and the contains automata still apply); beyond that each dash becomes
/// a character class matched by the regex engine.
fn windash(toks: &[Tok]) -> Vec<Vec<Tok>> {
    let positions: Vec<usize> = (0..toks.len())
        .filter(|&i| matches!(toks[i], Tok::Char(c) if WINDASH.contains(&c)))
        .collect();
    if positions.len() > 3 {
        let mut t = toks.to_vec();
        for p in positions {
            t[p] = Tok::Dash;
        }
        return vec![t];
    }
    let mut out = vec![toks.to_vec()];
    for &p in &positions {
        let mut next = Vec::with_capacity(out.len() * WINDASH.len());
        for v in &out {
            for d in WINDASH {
                let mut w = v.clone();
                w[p] = Tok::Char(d);
                next.push(w);
            }
        }
        out = next;
    }
    out
}

/// Expands `%name%` placeholders (`\%` is a plain percent).
fn expand(s: &str, ph: &Placeholders) -> Result<Vec<String>, Fail> {
    let mut outs = vec![String::new()];
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'%') {
            outs.iter_mut().for_each(|o| o.push('%'));
            i += 2;
            continue;
        }
        if c == '%' {
            if let Some(len) = chars[i + 1..].iter().position(|&x| x == '%') {
                let name: String = chars[i + 1..i + 1 + len].iter().collect();
                let vals = ph.get(&name).ok_or_else(|| {
                    Fail::new(
                        FailureKind::Placeholder,
                        format!(
                            "unresolved placeholder {} (no value given: see --placeholders)",
                            quote(&format!("%{name}%"))
                        ),
                    )
                })?;
                if vals.is_empty() {
                    return Err(Fail::new(
                        FailureKind::Placeholder,
                        format!("placeholder {} has no values", quote(&format!("%{name}%"))),
                    ));
                }
                let mut next = Vec::new();
                for o in &outs {
                    for v in vals {
                        next.push(format!("{o}{v}"));
                    }
                }
                if next.len() > 4096 {
                    return Err(Fail::new(
                        FailureKind::TooLarge,
                        "placeholder expansion gives more than 4,096 values for one value",
                    ));
                }
                outs = next;
                i += len + 2;
                continue;
            }
        }
        outs.iter_mut().for_each(|o| o.push(c));
        i += 1;
    }
    Ok(outs)
}

enum Data {
    Toks(Vec<Tok>),
    Bytes(Vec<u8>),
}

fn plain_bytes(d: Data, what: &str) -> Result<Vec<u8>, String> {
    match d {
        Data::Bytes(b) => Ok(b),
        Data::Toks(t) => tokens_plain(&t)
            .map(String::into_bytes)
            .ok_or_else(|| format!("{what} of a value with wildcards is not supported")),
    }
}

fn utf16(s: &[u8], le: bool, bom: bool) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(s).map_err(|_| "utf16 of non-text bytes".to_string())?;
    let mut out = Vec::with_capacity(text.len() * 2 + 2);
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for u in text.encode_utf16() {
        let b = if le || bom {
            u.to_le_bytes()
        } else {
            u.to_be_bytes()
        };
        out.extend_from_slice(&b);
    }
    Ok(out)
}

fn raw_text(v: &RawValue) -> Option<String> {
    match v {
        RawValue::Str(s) => Some(s.clone()),
        RawValue::Int(i) => Some(i.to_string()),
        RawValue::Float(f) => Some(f.to_string()),
        RawValue::Bool(b) => Some(b.to_string()),
        RawValue::Null => None,
    }
}

fn raw_num(v: &RawValue) -> Option<f64> {
    match v {
        RawValue::Int(i) => Some(*i as f64),
        RawValue::Float(f) => Some(*f),
        RawValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Compiles one `field|modifiers: values` item.
pub(crate) fn compile_test(
    fa: &FieldAst,
    res: &Resolver<'_>,
    ctx: &Ctx<'_>,
    int: &mut Interner,
    budget: &mut Budget,
) -> Result<CTest, Fail> {
    let key = fa.field.clone().unwrap_or_default();
    let within = |e: Fail| e.context(format!("{}: ", quote(&key)));
    let ctxerr = |e: String| within(Fail::from(e));
    let names = fa.field.as_deref().map(|f| res.names(f, int));
    let display = int.get(&key);
    let m = &fa.modifiers;
    let has = |x: Modifier| m.contains(&x);
    let all = has(Modifier::All);
    let cased = has(Modifier::Cased);
    let neq = has(Modifier::Neq);
    let is_re = has(Modifier::Re);
    let cmp = m.iter().find_map(|x| match x {
        Modifier::Cmp(c) => Some(*c),
        _ => None,
    });
    let time = m.iter().find_map(|x| match x {
        Modifier::Time(t) => Some(*t),
        _ => None,
    });
    let position: Vec<Modifier> = m
        .iter()
        .copied()
        .filter(|x| {
            matches!(
                x,
                Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith
            )
        })
        .collect();
    if position.len() > 1 {
        return Err(ctxerr(
            "more than one of contains/startswith/endswith".into(),
        ));
    }
    if m.iter().any(|x| matches!(x, Modifier::ReFlag(_))) && !is_re {
        return Err(ctxerr("re sub-modifiers i/m/s need 're'".into()));
    }
    if has(Modifier::Exists) {
        if m.len() != 1 {
            return Err(ctxerr(
                "'exists' cannot be combined with other modifiers".into(),
            ));
        }
        if names.is_none() {
            return Err(ctxerr("'exists' needs a field".into()));
        }
        return match fa.values.as_slice() {
            [RawValue::Bool(b)] => Ok(CTest {
                field: names,
                display,
                kind: TestKind::Exists(*b),
            }),
            [RawValue::Str(s)]
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Ok(CTest {
                    field: names,
                    display,
                    kind: TestKind::Exists(s.eq_ignore_ascii_case("true")),
                })
            }
            _ => Err(ctxerr("'exists' needs a single boolean value".into())),
        };
    }
    if m.is_empty() && names.is_some() && fa.values == [RawValue::Null] {
        return Ok(CTest {
            field: names,
            display,
            kind: TestKind::Null,
        });
    }
    if is_re && (!position.is_empty() || cmp.is_some() || has(Modifier::Cidr)) {
        return Err(ctxerr(
            "'re' cannot be combined with string position, numeric or cidr modifiers".into(),
        ));
    }
    let transforms: Vec<Modifier> = m
        .iter()
        .copied()
        .filter(|x| {
            matches!(
                x,
                Modifier::Utf16Le
                    | Modifier::Utf16Be
                    | Modifier::Utf16
                    | Modifier::Base64
                    | Modifier::Base64Offset
                    | Modifier::Windash
            )
        })
        .collect();

    let mut groups: Vec<Vec<ValueMatcher>> = Vec::with_capacity(fa.values.len());
    let mut null_ok = false;
    for v in &fa.values {
        let mut alts: Vec<ValueMatcher> = Vec::new();
        if *v == RawValue::Null {
            null_ok = true;
            alts.push(ValueMatcher::Null);
            groups.push(alts);
            continue;
        }
        if is_re {
            let Some(src) = raw_text(v) else {
                return Err(ctxerr("regex value must be a string".into()));
            };
            let mut flags = String::new();
            for x in m {
                if let Modifier::ReFlag(c) = x {
                    flags.push(*c);
                }
            }
            if src.len() > MAX_REGEX_LEN {
                return Err(within(Fail::new(
                    FailureKind::TooLarge,
                    format!(
                        "regex {} is longer than the {} KiB a pattern may have",
                        quote(&src),
                        MAX_REGEX_LEN >> 10
                    ),
                )));
            }
            let pat = if flags.is_empty() {
                src.clone()
            } else {
                format!("(?{flags}){src}")
            };
            let re = regex::RegexBuilder::new(&pat)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    let kind = match e {
                        regex::Error::CompiledTooBig(_) => FailureKind::TooLarge,
                        _ => FailureKind::Invalid,
                    };
                    within(Fail::new(
                        kind,
                        format!(
                            "regex {} does not compile: {}",
                            quote(&src),
                            first_line(&e.to_string())
                        ),
                    ))
                })?;
            budget.spend(src.len())?;
            alts.push(ValueMatcher::Regex(re));
        } else if has(Modifier::Cidr) {
            let s = raw_text(v).unwrap_or_default();
            let net = s
                .parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ctxerr(format!("invalid CIDR {}", quote(&s))))?;
            alts.push(ValueMatcher::Cidr(net));
        } else if let Some(part) = time {
            let n = raw_num(v).ok_or_else(|| ctxerr("time modifier needs a number".into()))?;
            alts.push(ValueMatcher::Time(part, cmp.unwrap_or(Cmp::Eq), n));
        } else if let Some(c) = cmp {
            let n = raw_num(v)
                .ok_or_else(|| ctxerr(format!("'{:?}' needs a number", c).to_lowercase()))?;
            alts.push(ValueMatcher::Num(c, n));
        } else if has(Modifier::FieldRef) {
            let Some(other) = raw_text(v) else {
                return Err(ctxerr("fieldref needs a field name".into()));
            };
            alts.push(ValueMatcher::FieldRef {
                names: res.names(&other, int),
                cased,
            });
        } else if let (RawValue::Bool(b), true) = (v, transforms.is_empty() && position.is_empty())
        {
            alts.push(ValueMatcher::Bool(*b));
        } else {
            let text = raw_text(v).unwrap_or_default();
            let texts = if has(Modifier::Expand) {
                expand(&text, ctx.placeholders).map_err(within)?
            } else {
                vec![text]
            };
            for t in texts {
                let mut datas = vec![Data::Toks(parse_wildcards(&t))];
                for tr in &transforms {
                    let mut next = Vec::new();
                    for d in datas {
                        match tr {
                            Modifier::Utf16Le => next.push(Data::Bytes(utf16(
                                &plain_bytes(d, "utf16le")?,
                                true,
                                false,
                            )?)),
                            Modifier::Utf16Be => next.push(Data::Bytes(utf16(
                                &plain_bytes(d, "utf16be")?,
                                false,
                                false,
                            )?)),
                            Modifier::Utf16 => next.push(Data::Bytes(utf16(
                                &plain_bytes(d, "utf16")?,
                                true,
                                true,
                            )?)),
                            Modifier::Base64 => next.push(Data::Toks(literal_tokens(&b64(
                                &plain_bytes(d, "base64").map_err(&ctxerr)?,
                            )))),
                            Modifier::Base64Offset => {
                                for s in
                                    b64_offsets(&plain_bytes(d, "base64offset").map_err(&ctxerr)?)
                                {
                                    next.push(Data::Toks(literal_tokens(&s)));
                                }
                            }
                            Modifier::Windash => match d {
                                Data::Toks(t) => {
                                    // Checked before expanding: the copies
                                    // are what would grow.
                                    budget.room(t.len() * 125).map_err(within)?;
                                    next.extend(windash(&t).into_iter().map(Data::Toks))
                                }
                                Data::Bytes(_) => {
                                    return Err(ctxerr("windash after an encoding".into()))
                                }
                            },
                            _ => unreachable!("filtered"),
                        }
                    }
                    datas = next;
                }
                for d in datas {
                    let mut toks = match d {
                        Data::Toks(t) => t,
                        Data::Bytes(b) => b.into_iter().map(|x| Tok::Char(x as char)).collect(),
                    };
                    let (lead, trail) = match position.first() {
                        Some(Modifier::Contains) => (true, true),
                        Some(Modifier::StartsWith) => (false, true),
                        Some(Modifier::EndsWith) => (true, false),
                        // Keywords are searched anywhere in a field.
                        _ => (names.is_none(), names.is_none()),
                    };
                    if lead && toks.first() != Some(&Tok::Star) {
                        toks.insert(0, Tok::Star);
                    }
                    if trail && toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                    budget.spend(toks.len()).map_err(within)?;
                    alts.push(ValueMatcher::Str(
                        StrPat::compile(&toks, cased).map_err(within)?,
                    ));
                }
            }
        }
        groups.push(alts);
    }
    if !all {
        groups = merge_contains(groups);
    }
    Ok(CTest {
        field: names,
        display,
        kind: TestKind::Values {
            all,
            neq,
            groups,
            null_ok,
        },
    })
}

/// In an OR of values, replaces three or more case-insensitive bytewise
/// `contains` alternatives by one [`ValueMatcher::ContainsAny`].
fn merge_contains(groups: Vec<Vec<ValueMatcher>>) -> Vec<Vec<ValueMatcher>> {
    let is_ci_contains = |m: &ValueMatcher| matches!(m, ValueMatcher::Str(p) if !p.cased && p.ascii && matches!(p.kind, crate::value::StrKind::Contains(ref l) if !l.is_empty()));
    let n = groups
        .iter()
        .flatten()
        .filter(|m| is_ci_contains(m))
        .count();
    if n < 3 {
        return groups;
    }
    let mut lits: Vec<Box<str>> = Vec::with_capacity(n);
    let mut rest = Vec::new();
    for m in groups.into_iter().flatten() {
        match m {
            ValueMatcher::Str(StrPat {
                kind: crate::value::StrKind::Contains(l),
                cased: false,
                ascii: true,
                ..
            }) if !l.is_empty() => lits.push(l),
            other => rest.push(other),
        }
    }
    rest.push(ValueMatcher::ContainsAny(crate::value::AnyLiteral::new(
        lits.into_boxed_slice(),
    )));
    vec![rest]
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

pub(crate) fn compile_search(
    s: &SearchAst,
    res: &Resolver<'_>,
    ctx: &Ctx<'_>,
    int: &mut Interner,
    budget: &mut Budget,
) -> Result<CSearch, Fail> {
    let mut alts = Vec::with_capacity(s.alternatives.len());
    for alt in &s.alternatives {
        let mut tests = Vec::with_capacity(alt.len());
        for fa in alt {
            tests.push(
                compile_test(fa, res, ctx, int, budget)
                    .map_err(|e| e.context(format!("search identifier {}, ", quote(&s.name))))?,
            );
        }
        alts.push(tests);
    }
    Ok(CSearch {
        name: s.name.clone(),
        alts,
    })
}

/// Shifts search indices (to append a filter's searches to a rule's).
pub(crate) fn shift(e: Expr, off: usize) -> Expr {
    match e {
        Expr::Search(i) => Expr::Search(i + off),
        Expr::Not(x) => Expr::Not(Box::new(shift(*x, off))),
        Expr::And(v) => Expr::And(v.into_iter().map(|x| shift(x, off)).collect()),
        Expr::Or(v) => Expr::Or(v.into_iter().map(|x| shift(x, off)).collect()),
        Expr::AtLeast(n, v) => Expr::AtLeast(n, v.into_iter().map(|x| shift(x, off)).collect()),
        s @ Expr::Source(_) => s,
    }
}

/// Searches that occur outside any `not`.
pub(crate) fn positive_searches(e: &Expr, neg: bool, out: &mut Vec<usize>) {
    match e {
        Expr::Search(i) => {
            if !neg && !out.contains(i) {
                out.push(*i)
            }
        }
        Expr::Not(x) => positive_searches(x, !neg, out),
        Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => {
            v.iter().for_each(|x| positive_searches(x, neg, out))
        }
        Expr::Source(_) => {}
    }
}

/// Compiles a condition over compiled searches.
pub(crate) fn compile_condition(
    cond: &crate::condition::CondAst,
    searches: &[SearchAst],
) -> Result<Expr, String> {
    let names: Vec<String> = searches.iter().map(|s| s.name.clone()).collect();
    resolve(cond, &names).map_err(|e| format!("bad condition: {e}"))
}

// ---------------------------------------------------------------------
// Evaluation

fn keyword_group<R: Record + ?Sized>(g: &[ValueMatcher], view: &View<'_, R>) -> bool {
    (0..view.len()).any(|p| {
        let v = view.vals[p];
        matches!(v, Value::Str(_) | Value::List(_))
            && g.iter().any(|m| m.matches(v, view.lowered_str(p), view))
    })
}

impl CTest {
    pub fn eval<R: Record + ?Sized>(&self, view: &View<'_, R>) -> bool {
        let Some(names) = &self.field else {
            return match &self.kind {
                TestKind::Values { all, groups, .. } => {
                    if *all {
                        groups.iter().all(|g| keyword_group(g, view))
                    } else {
                        groups.iter().any(|g| keyword_group(g, view))
                    }
                }
                _ => false,
            };
        };
        let pos = view.find(names);
        match &self.kind {
            TestKind::Exists(b) => pos.is_some() == *b,
            TestKind::Null => pos.is_none_or(|p| matches!(view.vals[p], Value::Null)),
            TestKind::Values {
                all,
                neq,
                groups,
                null_ok,
            } => {
                let r = match pos {
                    None => *null_ok && !*all,
                    Some(p) => {
                        let v = view.vals[p];
                        let low = view.lowered_str(p);
                        if *all {
                            groups
                                .iter()
                                .all(|g| g.iter().any(|m| m.matches(v, low, view)))
                        } else {
                            groups
                                .iter()
                                .any(|g| g.iter().any(|m| m.matches(v, low, view)))
                        }
                    }
                };
                r != *neq
            }
        }
    }

    /// The event value this test looked at, for explanations.
    fn explain<R: Record + ?Sized>(
        &self,
        view: &View<'_, R>,
        selection: &str,
        out: &mut Vec<MatchedField>,
    ) {
        match &self.field {
            Some(names) => {
                let (field, value) = match view.find(names) {
                    Some(p) => (
                        view.name_at(p).to_string(),
                        view.vals[p].to_text().into_owned(),
                    ),
                    None => (self.display.to_string(), String::new()),
                };
                out.push(MatchedField {
                    selection: selection.to_string(),
                    field: Some(field),
                    value,
                });
            }
            None => {
                if let TestKind::Values { groups, .. } = &self.kind {
                    for g in groups {
                        if let Some(p) = (0..view.len()).find(|&p| {
                            let v = view.vals[p];
                            matches!(v, Value::Str(_) | Value::List(_))
                                && g.iter().any(|m| m.matches(v, view.lowered_str(p), view))
                        }) {
                            out.push(MatchedField {
                                selection: selection.to_string(),
                                field: None,
                                value: view.vals[p].to_text().into_owned(),
                            });
                        }
                    }
                }
            }
        }
    }
}

impl CSearch {
    pub fn eval<R: Record + ?Sized>(&self, view: &View<'_, R>) -> bool {
        self.alts.iter().any(|a| a.iter().all(|t| t.eval(view)))
    }
}

impl SourceCheck {
    fn eval<R: Record + ?Sized>(&self, view: &View<'_, R>) -> bool {
        let rec = view.rec;
        if !self.channels.is_empty() {
            let Some(c) = rec.channel() else { return false };
            if !self.channels.iter().any(|x| x.eq_ignore_ascii_case(c)) {
                return false;
            }
        }
        if !self.event_ids.is_empty()
            && !rec.event_id().is_some_and(|e| self.event_ids.contains(&e))
        {
            return false;
        }
        self.conds.iter().all(|(names, pats)| {
            view.get(names).is_some_and(|v| {
                pats.iter()
                    .any(|p| crate::value::with_text(v, |t| p.matches_str(t)))
            })
        })
    }
}

impl CompiledRule {
    /// Numbers the slots of every field name the rule looks up (test
    /// fields, `fieldref` targets, logsource conditions, correlation
    /// fields): the view resolves event fields to these slots.
    pub fn number_slots(&mut self, slots: &mut Slots) {
        let mut number = |n: &mut Names| {
            n.slots = n.names.iter().map(|x| slots.intern(x)).collect();
        };
        for t in self
            .searches
            .iter_mut()
            .flat_map(|s| s.alts.iter_mut().flatten())
        {
            if let Some(n) = &mut t.field {
                number(n);
            }
            if let TestKind::Values { groups, .. } = &mut t.kind {
                for m in groups.iter_mut().flatten() {
                    if let ValueMatcher::FieldRef { names, .. } = m {
                        number(names);
                    }
                }
            }
        }
        for (n, _) in self.sources.iter_mut().flat_map(|s| s.conds.iter_mut()) {
            number(n);
        }
        for (_, n) in &mut self.corr_fields {
            number(n);
        }
    }

    fn eval_expr<R: Record + ?Sized>(&self, e: &Expr, view: &View<'_, R>) -> bool {
        match e {
            Expr::Search(i) => self.searches[*i].eval(view),
            Expr::Not(x) => !self.eval_expr(x, view),
            Expr::And(v) => v.iter().all(|x| self.eval_expr(x, view)),
            Expr::Or(v) => v.iter().any(|x| self.eval_expr(x, view)),
            Expr::AtLeast(n, v) => {
                v.iter()
                    .filter(|x| self.eval_expr(x, view))
                    .take(*n)
                    .count()
                    >= *n
            }
            Expr::Source(i) => self.sources[*i].eval(view),
        }
    }

    pub fn matches<R: Record + ?Sized>(&self, view: &View<'_, R>) -> bool {
        self.eval_expr(&self.expr, view)
    }

    pub fn explain<R: Record + ?Sized>(&self, view: &View<'_, R>) -> Vec<MatchedField> {
        let mut out = Vec::new();
        for &i in &self.positive {
            let s = &self.searches[i];
            if let Some(alt) = s.alts.iter().find(|a| a.iter().all(|t| t.eval(view))) {
                for t in alt {
                    t.explain(view, &s.name, &mut out);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windash_permutes_every_dash() {
        let v = windash(&parse_wildcards(" -enc x\u{2013}y /c"));
        assert_eq!(v.len(), 125);
        let s: Vec<String> = v.iter().map(|t| tokens_plain(t).unwrap()).collect();
        assert!(s.contains(&" /enc x-y -c".to_string()));
        assert!(s.contains(&" \u{2015}enc x/y \u{2014}c".to_string()));
        // beyond three dashes: character classes
        let v = windash(&parse_wildcards("-a -b -c -d"));
        assert_eq!(v.len(), 1);
        let p = StrPat::compile(&v[0], false).unwrap();
        assert!(p.matches_str("/A \u{2014}b -c \u{2015}D"));
        assert!(!p.matches_str("+a -b -c -d"));
    }

    #[test]
    fn placeholders_expand_or_fail() {
        let mut ph = Placeholders::new();
        ph.insert("Admins", vec!["adm_*".to_string(), "root".to_string()]);
        assert_eq!(expand("%Admins%", &ph).unwrap(), vec!["adm_*", "root"]);
        assert_eq!(
            expand(r"\%plain%Admins%", &ph).unwrap(),
            vec!["%plainadm_*", "%plainroot"]
        );
        let e = expand("%Nope%", &ph).unwrap_err();
        assert_eq!(e.kind, FailureKind::Placeholder);
        assert!(e.reason.contains("unresolved placeholder '%Nope%'"), "{e}");
        assert_eq!(
            placeholder_names(r"\%plain%Admins% and %Other%"),
            vec!["Admins".to_string(), "Other".to_string()]
        );
    }
}
