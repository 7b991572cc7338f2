//! Candidate selection, so that a rule is fully evaluated only on events
//! where it can possibly match.
//!
//! Two stages:
//!
//! 1. **Index** by logsource: rules are listed under the (channel, event
//!    id) pairs their logsource maps to; an event only sees the rules of
//!    its own pair (plus product-level and unrestricted rules; rules for
//!    an appliance category that names no product, such as `proxy`, only
//!    see non-Windows events).
//! 2. **Literal prefilter**: for each rule a *necessary requirement* is
//!    derived from its condition, in conjunctive form: up to [`CLAUSES`]
//!    clauses, each a set of (field, literal) pairs at least one of which
//!    must occur in the event for the rule to match. `AND` keeps the most
//!    selective clauses of its children, `OR` makes each clause the union
//!    of one clause of every child (a clause every child implies), and
//!    what has no literal (`not`, numbers, cidr, exists, null, `neq`, a
//!    regex whose syntax tree names none) gives no clause; a rule without
//!    any clause is an "always" candidate. Regex literals are read from the regex's
//!    syntax tree (`regex-syntax`). One Aho-Corasick automaton per field
//!    name over lower-cased literals scans the lower-cased values, and one
//!    per distinct keyword set of the candidate lists scans all values;
//!    only rules whose every clause is met (or that have none) are
//!    evaluated.
//!
//! Soundness: a literal is only required when every value the matcher
//! accepts contains it ASCII-case-insensitively; a case-insensitive
//! pattern with non-ASCII letters (Unicode case folding) requires "some
//! non-ASCII byte" instead, and only when its lower-case form keeps one.
//! Every field value is scanned under every name it can be looked up by
//! (its exact name and its spaceless name), so the prefilter never drops a
//! rule that would match. `tests/prefilter.rs` checks this.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use vigie_event::Record;

use crate::compile::{CTest, CompiledRule, TestKind};
use crate::condition::Expr;
use crate::value::ValueMatcher;
use crate::view::{Slots, View, NONE};

/// A word-at-a-time multiplicative hash (the scheme of rustc's FxHash):
/// the maps looked up per event field (field names, channels, event ids)
/// are keyed by short trusted strings and small integers, for which
/// SipHash's DoS protection only costs time, and a byte-at-a-time hash
/// such as FNV costs a multiplication per byte of every field name of
/// every event.
#[derive(Default, Clone, Copy)]
pub(crate) struct WordHash(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl WordHash {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(K);
    }
}

impl Hasher for WordHash {
    #[inline]
    fn finish(&self) -> u64 {
        // The low bits pick the bucket: fold the well-mixed high bits in.
        self.0 ^ (self.0 >> 29)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let r = chunks.remainder();
        if !r.is_empty() {
            let mut w = [0u8; 8];
            w[..r.len()].copy_from_slice(r);
            self.add(u64::from_le_bytes(w) ^ ((r.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHash>>;

/// A literal that must occur in field `field` (`None`: any field), or,
/// with `non_ascii`, some non-ASCII byte (`text` is then empty).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Lit {
    pub field: Option<Arc<str>>,
    pub text: String,
    pub non_ascii: bool,
}

/// A necessary requirement as one clause: the rule can only match if one
/// of these literals occurs. `None`: no such clause (always a candidate).
type Req = Option<Vec<Lit>>;

/// A necessary requirement in conjunctive form: every clause must be met.
/// Empty: no requirement. At most [`CLAUSES`] clauses, the most selective
/// ones found.
pub(crate) type Cnf = Vec<Vec<Lit>>;

/// How many clauses of a rule's requirement the prefilter checks.
///
/// Why two: a rule keyed on one literal set is evaluated whenever that set
/// occurs, and the most selective set of many rules is still common (a
/// process image under `\windows\`, a company name). Requiring a second,
/// independent set (the command-line fragments of the same selection)
/// halves the rules evaluated per event (SigmaHQ Windows rules on the
/// EVTX attack samples: 4.78 → 2.46). A third clause (1.84) bought no
/// measurable speed and cost compile time.
pub(crate) const CLAUSES: usize = 2;

/// How many rules test each literal (see [`literal_frequencies`]).
pub(crate) type Freq = HashMap<Lit, u32>;

/// The estimated cost of a clause: how often its literals are expected to
/// occur, hence how often the rule would be evaluated.
///
/// Short literals occur more often than long ones, and a literal that many
/// rules test (`.exe` at the end of an image, `\windows\`) is one that
/// logs are full of: a rule needing `\EDR-Freeze` or `\EDRFreeze` *and*
/// `.exe` must be keyed on the first two, not on `.exe`. The rule count is
/// the only frequency known when compiling; it is a good proxy.
fn cost(clause: &[Lit], freq: &Freq) -> f64 {
    clause
        .iter()
        .map(|x| {
            let len = if x.non_ascii { 8 } else { x.text.len().max(1) };
            let n = freq.get(x).copied().unwrap_or(1).max(1) as f64;
            (1.0 + 8.0 / len as f64) * (1.0 + n.ln())
        })
        .sum()
}

/// The [`CLAUSES`] cheapest distinct clauses of `c`, cheapest first.
fn keep_best(c: Cnf, freq: &Freq) -> Cnf {
    let mut c: Vec<(f64, Vec<Lit>)> = c
        .into_iter()
        .map(|mut cl| {
            cl.sort();
            cl.dedup();
            (cost(&cl, freq), cl)
        })
        .collect();
    c.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    c.dedup_by(|a, b| a.1 == b.1);
    c.truncate(CLAUSES);
    c.into_iter().map(|(_, cl)| cl).collect()
}

/// All of `parts` must hold: every clause of each is necessary.
fn and(parts: impl Iterator<Item = Cnf>, freq: &Freq) -> Cnf {
    keep_best(parts.flatten().collect(), freq)
}

/// One of `parts` must hold. The exact requirement is the product of
/// their clauses (one clause from each, joined); its `k`-th clause here
/// joins the `k`-th best clause of each part (the last one of a part
/// with fewer), which is one of those products, hence necessary.
fn or(parts: impl Iterator<Item = Cnf>, freq: &Freq) -> Cnf {
    let parts: Vec<Cnf> = parts.collect();
    if parts.is_empty() || parts.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    let out = (0..CLAUSES)
        .map(|k| {
            parts
                .iter()
                .flat_map(|p| p[k.min(p.len() - 1)].iter().cloned())
                .collect()
        })
        .collect();
    keep_best(out, freq)
}

/// Literals one of which every match of regex `src` contains, ASCII
/// lower-cased, each at least 2 bytes long (`None`: no such set found).
///
/// Found on the regex's syntax tree as `regex-syntax` (the regex crate's
/// own parser) builds it, so flags, escapes, groups and alternations mean
/// what they mean to the matcher. Only ASCII text is kept: a class with a
/// non-ASCII member (`(?i)k` also matches the Kelvin sign) ends a literal,
/// since the view lower-cases ASCII letters only. Why: SigmaHQ rules made
/// only of regexes (`\\[a-z0-9]{1,32}\.[a-z0-9]{1,6}\.[ "']`) were
/// evaluated on every event of their logsource; most have a short fixed
/// part (here `. `, `."` or `.'`) that makes them rare candidates.
pub(crate) fn regex_literals(src: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::Parser::new().parse(src).ok()?;
    let mut set = required(&hir)?;
    set.sort();
    set.dedup();
    if set.iter().any(|l| l.len() < 2) {
        return None;
    }
    set.into_iter().map(|l| String::from_utf8(l).ok()).collect()
}

/// At most this many strings in a set of alternatives.
const MAX_ALTERNATIVES: usize = 16;

/// Every string `h` can match, ASCII lower-cased, when they are few and
/// ASCII (a literal, a small class, their concatenations, alternations
/// and short fixed repetitions); `None` otherwise.
fn exact(h: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::{Class, HirKind};
    let out = match h.kind() {
        HirKind::Empty | HirKind::Look(_) => vec![Vec::new()],
        HirKind::Literal(l) => {
            if !l.0.is_ascii() {
                return None;
            }
            vec![l.0.to_ascii_lowercase()]
        }
        HirKind::Class(c) => {
            let mut bytes: Vec<u8> = Vec::new();
            match c {
                Class::Unicode(u) => {
                    for r in u.iter() {
                        if !r.end().is_ascii() || (r.end() as u32 - r.start() as u32) > 8 {
                            return None;
                        }
                        bytes.extend(
                            (r.start() as u8..=r.end() as u8).map(|b| b.to_ascii_lowercase()),
                        );
                    }
                }
                Class::Bytes(b) => {
                    for r in b.iter() {
                        if !r.end().is_ascii() || r.end() - r.start() > 8 {
                            return None;
                        }
                        bytes.extend((r.start()..=r.end()).map(|b| b.to_ascii_lowercase()));
                    }
                }
            }
            bytes.sort_unstable();
            bytes.dedup();
            if bytes.is_empty() || bytes.len() > 8 {
                return None;
            }
            bytes.into_iter().map(|b| vec![b]).collect()
        }
        HirKind::Capture(c) => exact(&c.sub)?,
        HirKind::Concat(subs) => {
            let mut acc = vec![Vec::new()];
            for s in subs {
                acc = product(&acc, &exact(s)?)?;
            }
            acc
        }
        HirKind::Alternation(subs) => {
            let mut acc = Vec::new();
            for s in subs {
                acc.extend(exact(s)?);
            }
            acc
        }
        HirKind::Repetition(r) => {
            let max = r.max?;
            if max > 4 {
                return None;
            }
            let one = exact(&r.sub)?;
            let mut acc = Vec::new();
            let mut cur = vec![Vec::new()];
            for n in 0..=max {
                if n >= r.min {
                    acc.extend(cur.iter().cloned());
                }
                if n < max {
                    cur = product(&cur, &one)?;
                }
            }
            acc
        }
    };
    let mut out = out;
    out.sort();
    out.dedup();
    (out.len() <= MAX_ALTERNATIVES).then_some(out)
}

/// Each string of `a` followed by each of `b` (`None` when too many).
fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len() * b.len() > MAX_ALTERNATIVES {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| [x.as_slice(), y].concat()))
            .collect(),
    )
}

/// A set of strings one of which every match of `h` contains (see
/// [`regex_literals`]), the best found: the longest shortest string.
fn required(h: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    let score = |s: &Vec<Vec<u8>>| s.iter().map(Vec::len).min().unwrap_or(0);
    let best = |cands: Vec<Vec<Vec<u8>>>| {
        cands
            .into_iter()
            .filter(|c| score(c) > 0)
            .max_by(|a, b| score(a).cmp(&score(b)).then(b.len().cmp(&a.len())))
    };
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(_) | HirKind::Class(_) => exact(h),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) => {
            let whole = exact(h);
            let one = if r.min >= 1 { required(&r.sub) } else { None };
            best(whole.into_iter().chain(one).collect())
        }
        HirKind::Alternation(subs) => {
            let mut acc = Vec::new();
            for s in subs {
                acc.extend(required(s)?);
            }
            acc.sort();
            acc.dedup();
            (acc.len() <= 4 * MAX_ALTERNATIVES).then_some(acc)
        }
        HirKind::Concat(subs) => {
            // Runs of consecutive exact parts form longer literals; any
            // part's own requirement is a candidate too.
            let mut cands = Vec::new();
            let mut run: Option<Vec<Vec<u8>>> = None;
            for s in subs {
                match exact(s) {
                    Some(e) => {
                        run = match run.take() {
                            None => Some(e),
                            Some(r) => match product(&r, &e) {
                                Some(p) => Some(p),
                                None => {
                                    cands.push(r);
                                    Some(e)
                                }
                            },
                        };
                    }
                    None => {
                        cands.extend(run.take());
                        cands.extend(required(s));
                    }
                }
            }
            cands.extend(run);
            best(cands)
        }
    }
}

/// What a value accepted by a matcher must contain.
enum Need {
    Text(String),
    /// Some non-ASCII byte: a case-insensitive pattern whose lower-cased
    /// literal holds a non-ASCII character only matches values whose
    /// Unicode lower-case form holds it too, and the lower-case form of
    /// an ASCII text is ASCII. (Patterns whose literal folds to ASCII,
    /// such as the Kelvin sign, give no requirement.)
    NonAscii,
}

/// Needs one of which any value accepted by `m` meets.
fn matcher_lits(m: &ValueMatcher) -> Option<Vec<Need>> {
    match m {
        ValueMatcher::Str(p) if p.ascii || p.cased => {
            let l = p.required_literal()?;
            (!l.is_empty()).then(|| vec![Need::Text(l.to_string())])
        }
        ValueMatcher::Str(p) => {
            let l = p.required_literal()?;
            (!l.is_ascii()).then(|| vec![Need::NonAscii])
        }
        ValueMatcher::ContainsAny(any) => {
            Some(any.lits.iter().map(|l| Need::Text(l.to_string())).collect())
        }
        ValueMatcher::Regex(r) => {
            regex_literals(r.as_str()).map(|ls| ls.into_iter().map(Need::Text).collect())
        }
        _ => None,
    }
}

fn lit(field: &Option<Arc<str>>, need: &Need) -> Lit {
    match need {
        Need::Text(t) => Lit {
            field: field.clone(),
            text: t.clone(),
            non_ascii: false,
        },
        Need::NonAscii => Lit {
            field: field.clone(),
            text: String::new(),
            non_ascii: true,
        },
    }
}

fn test_fields(t: &CTest) -> Vec<Option<Arc<str>>> {
    match &t.field {
        Some(names) => names.iter().cloned().map(Some).collect(),
        None => vec![None],
    }
}

fn test_req(t: &CTest, freq: &Freq) -> Cnf {
    let TestKind::Values {
        all,
        neq: false,
        groups,
        null_ok: false,
    } = &t.kind
    else {
        return Vec::new();
    };
    let fields = test_fields(t);
    let group_req = |g: &Vec<ValueMatcher>| -> Req {
        let mut out = Vec::new();
        for m in g {
            for need in matcher_lits(m)? {
                for f in &fields {
                    out.push(lit(f, &need));
                }
            }
        }
        Some(out)
    };
    if *all {
        // Every group must match: each one with literals is a clause.
        and(groups.iter().filter_map(group_req).map(|c| vec![c]), freq)
    } else {
        // One group must: one clause, if every group has literals.
        let mut clause = Vec::new();
        for g in groups {
            match group_req(g) {
                Some(c) => clause.extend(c),
                None => return Vec::new(),
            }
        }
        keep_best(vec![clause], freq)
    }
}

fn expr_req(rule: &CompiledRule, e: &Expr, freq: &Freq) -> Cnf {
    match e {
        Expr::Search(i) => or(
            rule.searches[*i]
                .alts
                .iter()
                .map(|alt| and(alt.iter().map(|t| test_req(t, freq)), freq)),
            freq,
        ),
        Expr::Not(_) | Expr::Source(_) => Vec::new(),
        Expr::And(v) => and(v.iter().map(|x| expr_req(rule, x, freq)), freq),
        Expr::Or(v) => or(v.iter().map(|x| expr_req(rule, x, freq)), freq),
        // At least n of k: any k-n+1 children cover it; the disjunction
        // of all children is a (looser) sound requirement.
        Expr::AtLeast(_, v) => or(v.iter().map(|x| expr_req(rule, x, freq)), freq),
    }
}

/// For every literal any test of any rule could require, the number of
/// rules that test it (the cost model's frequency proxy).
pub(crate) fn literal_frequencies(rules: &[CompiledRule]) -> Freq {
    use rayon::prelude::*;
    rules
        .par_iter()
        .map(|r| {
            let mut seen: std::collections::HashSet<Lit> = Default::default();
            for s in &r.searches {
                for t in s.alts.iter().flatten() {
                    let TestKind::Values { groups, .. } = &t.kind else {
                        continue;
                    };
                    let fields = test_fields(t);
                    for m in groups.iter().flatten() {
                        for need in matcher_lits(m).into_iter().flatten() {
                            for f in &fields {
                                seen.insert(lit(f, &need));
                            }
                        }
                    }
                }
            }
            seen
        })
        .fold(Freq::new, |mut freq, seen| {
            for l in seen {
                *freq.entry(l).or_default() += 1;
            }
            freq
        })
        .reduce(Freq::new, |mut a, b| {
            for (l, n) in b {
                *a.entry(l).or_default() += n;
            }
            a
        })
}

/// The requirement of a compiled rule: at most [`CLAUSES`] clauses,
/// each deduplicated, the cheapest first (empty: always a candidate).
pub(crate) fn rule_requirement(rule: &CompiledRule, freq: &Freq) -> Cnf {
    expr_req(rule, &rule.expr, freq)
}

/// Literals searched with one automaton, and the rules each satisfies.
struct Lits {
    ac: AhoCorasick,
    /// For small literal sets (up to 64), a SIMD searcher (Teddy) that
    /// answers "does any literal occur?" at many bytes per cycle; the
    /// automaton then runs only on the rare values where one does.
    ///
    /// Why: the overlapping automaton scan is bound by the latency of one
    /// transition lookup per byte (~3 ns here), whatever the automaton's
    /// size, and the keyword literals of the rules every Windows event
    /// meets (Mimikatz keywords) made it read every byte of every event.
    /// A leftmost-first search that finds nothing proves no literal occurs;
    /// when it finds one, the full overlapping scan gives the exact set.
    quick: Option<aho_corasick::packed::Searcher>,
    /// Pattern id → rules it satisfies.
    rules: Vec<Vec<u32>>,
}

impl Lits {
    /// The automaton of (lower-cased literal, rule) pairs.
    fn new(lits: Vec<(Vec<u8>, u32)>) -> Option<Lits> {
        if lits.is_empty() {
            return None;
        }
        let mut texts: Vec<Vec<u8>> = Vec::new();
        let mut rules: Vec<Vec<u32>> = Vec::new();
        let mut idx: HashMap<Vec<u8>, usize> = HashMap::new();
        for (t, r) in lits {
            let i = *idx.entry(t.clone()).or_insert_with(|| {
                texts.push(t);
                rules.push(Vec::new());
                texts.len() - 1
            });
            if !rules[i].contains(&r) {
                rules[i].push(r);
            }
        }
        let ac = AhoCorasickBuilder::new()
            // Patterns are lower-cased and haystacks are ASCII-lower-cased
            // once (see `crate::view`), so the automaton is case-sensitive.
            // A contiguous NFA rather than a DFA: measured on the SigmaHQ
            // set, it scans as fast or faster (its dense root states hold
            // most of a scan; the DFAs were tens of MB and missed the
            // caches, worse in a real hunt where parsing evicts them), and
            // compiling the rule set takes 0.26 s instead of 0.41 s.
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .match_kind(MatchKind::Standard)
            .build(&texts)
            .expect("literal automaton builds");
        let quick = (texts.len() <= 64)
            .then(|| aho_corasick::packed::Searcher::new(&texts))
            .flatten();
        Some(Lits { ac, quick, rules })
    }

    /// Calls `f` with the rules of every literal found in `lowered`.
    #[inline]
    fn each(&self, lowered: &[u8], f: &mut impl FnMut(u32)) {
        if let Some(q) = &self.quick {
            if q.find(lowered).is_none() {
                return;
            }
        }
        for m in self.ac.find_overlapping_iter(lowered) {
            for &r in &self.rules[m.pattern().as_usize()] {
                f(r);
            }
        }
    }
}

/// The literals of one field (or the keywords of a candidate list).
///
/// Literals with a non-ASCII byte have their own automaton, run only on
/// values that hold a non-ASCII byte (such a literal cannot occur in an
/// ASCII value, and most values are ASCII). Why: the hundreds of emoji and
/// homoglyph literals of a few SigmaHQ rules otherwise add byte classes
/// and states to the command-line automaton that every scan pays for
/// (measured: ~195k → ~215k events/s per core).
///
/// Measured and rejected: searching literals longer than 16 bytes by
/// their rarest 16-byte window (shrinks the hashes automaton eightfold)
/// made scans slower, hot or cold: more, shorter matches to report.
struct FieldAutomaton {
    /// Position in [`Prefilter::mask`].
    id: usize,
    narrow: Option<Lits>,
    wide: Option<Lits>,
    /// Rules satisfied by any non-ASCII byte (see `Need::NonAscii`).
    non_ascii: Vec<u32>,
}

/// The literal prefilter.
pub(crate) struct Prefilter {
    /// Field name → automaton `id` (index in `autos`).
    by_field: FastMap<Arc<str>, usize>,
    autos: Vec<FieldAutomaton>,
    /// Field slot (see [`crate::view`]) → automaton `id`, or `NONE`.
    by_slot: Vec<u32>,
    /// Keyword automata, one per distinct keyword literal set of the
    /// candidate lists: a list scans for its own rules' keywords only.
    keywords: Vec<FieldAutomaton>,
    /// Candidate list → its keyword automaton, or `NONE`.
    kw_of_list: Vec<u32>,
    pub words: usize,
    /// Identifies this prefilter for the thread memos (see [`Memo`]).
    id: u64,
}

/// Requirements for one automaton: (non-ASCII byte?, literal, rule).
type Pats = BTreeSet<(bool, String, u32)>;

fn build(pats: Pats) -> FieldAutomaton {
    let mut non_ascii: Vec<u32> = Vec::new();
    let mut lits: Vec<(Vec<u8>, u32)> = Vec::new();
    for (na, t, r) in pats {
        if na {
            if !non_ascii.contains(&r) {
                non_ascii.push(r);
            }
        } else {
            lits.push((t.to_ascii_lowercase().into_bytes(), r));
        }
    }
    let (narrow, wide): (Vec<_>, Vec<_>) = lits.into_iter().partition(|(t, _)| t.is_ascii());
    FieldAutomaton {
        id: 0,
        narrow: Lits::new(narrow),
        wide: Lits::new(wide),
        non_ascii,
    }
}

impl Prefilter {
    /// Automata over the literals of the requirement clauses (`reqs`: one
    /// entry per clause and rule, clause `k` of rule `i` at `k * stride +
    /// i`; the automata report that index), for the candidate lists
    /// `lists` of the logsource index (in the same numbering).
    pub fn new(reqs: &[Option<Vec<Lit>>], lists: &[Box<[u32]>], slots: &Slots) -> Prefilter {
        let mut per_field: HashMap<Arc<str>, Pats> = HashMap::new();
        let mut words = 0;
        for (i, lits) in reqs.iter().enumerate() {
            for l in lits.iter().flatten() {
                words += 1;
                if let Some(f) = &l.field {
                    per_field.entry(f.clone()).or_default().insert((
                        l.non_ascii,
                        l.text.clone(),
                        i as u32,
                    ));
                }
            }
        }
        // Keyword literal sets, one per distinct set among the lists.
        let mut kw_sets: Vec<Pats> = Vec::new();
        let mut kw_ids: HashMap<Pats, u32> = HashMap::new();
        let kw_of_list = lists
            .iter()
            .map(|list| {
                let set: Pats = list
                    .iter()
                    .flat_map(|&r| reqs[r as usize].iter().flatten().map(move |l| (l, r)))
                    .filter(|(l, _)| l.field.is_none())
                    .map(|(l, r)| (l.non_ascii, l.text.clone(), r))
                    .collect();
                if set.is_empty() {
                    return NONE;
                }
                *kw_ids.entry(set.clone()).or_insert_with(|| {
                    kw_sets.push(set);
                    kw_sets.len() as u32 - 1
                })
            })
            .collect();
        let mut fields: Vec<_> = per_field.into_iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let mut by_slot = vec![NONE; slots.len()];
        let mut by_field = FastMap::default();
        for (i, (f, _)) in fields.iter().enumerate() {
            let sl = slots.get(f);
            if sl != NONE {
                by_slot[sl as usize] = i as u32;
            }
            by_field.insert(f.clone(), i);
        }
        // The automata are independent: built in parallel (the large
        // ones, hashes and command lines, take tens of milliseconds each).
        use rayon::prelude::*;
        let (autos, keywords) = rayon::join(
            || {
                fields
                    .into_par_iter()
                    .enumerate()
                    .map(|(i, (_, p))| {
                        let mut fa = build(p);
                        fa.id = i;
                        fa
                    })
                    .collect::<Vec<_>>()
            },
            || kw_sets.into_par_iter().map(build).collect::<Vec<_>>(),
        );
        Prefilter {
            id: crate::view::next_id(),
            by_field,
            autos,
            by_slot,
            keywords,
            kw_of_list,
            words,
        }
    }

    pub fn automata(&self) -> usize {
        self.by_field.len() + self.keywords.len()
    }

    /// Which field automata matter for a candidate list: those holding a
    /// literal of one of its rules (indexed by automaton id). The others
    /// need not scan the event. (Keywords have an automaton per list.)
    pub fn mask(&self, reqs: &[Option<Vec<Lit>>], list: &[u32]) -> Vec<bool> {
        let mut m = vec![false; self.by_field.len()];
        for &r in list {
            for l in reqs[r as usize].iter().flatten() {
                if let Some(&id) = l.field.as_ref().and_then(|f| self.by_field.get(f)) {
                    m[id] = true;
                }
            }
        }
        m
    }

    /// Marks the rules of every literal of `fa` found in `lowered`.
    #[inline]
    fn scan(fa: &FieldAutomaton, lowered: &[u8], f: &mut impl FnMut(u32)) {
        if let Some(n) = &fa.narrow {
            n.each(lowered, f);
        }
        if (fa.wide.is_some() || !fa.non_ascii.is_empty()) && !lowered.is_ascii() {
            for &r in &fa.non_ascii {
                f(r);
            }
            if let Some(w) = &fa.wide {
                w.each(lowered, f);
            }
        }
    }

    /// [`Prefilter::scan`] of a field value, through the thread's memo of
    /// the last value each field automaton scanned (see [`Memo`]).
    #[inline]
    fn scan_memo(fa: &FieldAutomaton, lowered: &[u8], bits: &mut [u64], memo: &mut [Memo]) {
        let set = |bits: &mut [u64], r: u32| bits[(r / 64) as usize] |= 1u64 << (r % 64);
        let Some(m) = memo.get_mut(fa.id).filter(|_| lowered.len() <= MEMO_MAX) else {
            Self::scan(fa, lowered, &mut |r| set(bits, r));
            return;
        };
        if m.valid && m.value == lowered {
            for &r in &m.rules {
                set(bits, r);
            }
            return;
        }
        m.value.clear();
        m.value.extend_from_slice(lowered);
        m.rules.clear();
        Self::scan(fa, lowered, &mut |r| {
            set(bits, r);
            m.rules.push(r);
        });
        m.valid = true;
    }

    /// The automata of the field at `pos` of the view: its exact name's
    /// and its spaceless name's (`Threat Name` is also looked up as
    /// `ThreatName`, see [`crate::view`]). Both, not the first found: a
    /// rule testing `ThreatName` reads this value as well as one testing
    /// `Threat Name`, so skipping either automaton would drop the other
    /// rule.
    #[inline]
    fn automata_at<R: Record + ?Sized>(
        &self,
        view: &View<'_, R>,
        pos: usize,
    ) -> impl Iterator<Item = &FieldAutomaton> {
        let (d, sp) = view.slots_at(pos);
        [d, sp]
            .into_iter()
            .filter(|&sl| sl != NONE)
            .map(|sl| self.by_slot[sl as usize])
            .filter(|&a| a != NONE)
            .map(|a| &self.autos[a as usize])
    }

    /// Sets the bit of every rule whose requirement the event meets,
    /// scanning only with the automata `mask` selects (see
    /// [`Prefilter::mask`]).
    ///
    /// Each field's automaton scans the field's lower-cased text from the
    /// view (literals are lower-case: the same matches as an ASCII
    /// case-insensitive scan, non-ASCII bytes being left untouched by
    /// both). The keyword automaton scans all values at once: the view
    /// keeps them NUL-separated in one buffer, and the cost of a scan is
    /// mostly per call. A literal found across a separator, or in a
    /// number's text, only makes a rule a candidate needlessly, which is
    /// sound: the prefilter may over-select, never under-select.
    pub fn mark<R: Record + ?Sized>(
        &self,
        view: &View<'_, R>,
        list: usize,
        bits: &mut [u64],
        mask: &[bool],
    ) {
        MEMO.with(|cell| {
            let mut cell = cell.borrow_mut();
            let (owner, memo) = &mut *cell;
            if *owner != self.id {
                // Another engine used this thread last: its memo is void.
                *owner = self.id;
                memo.clear();
                memo.resize_with(self.autos.len(), Memo::default);
            }
            for pos in 0..view.len() {
                for fa in self.automata_at(view, pos) {
                    if mask.get(fa.id).copied().unwrap_or(true) {
                        Self::scan_memo(fa, view.lowered(pos), bits, memo);
                    }
                }
            }
        });
        if let Some(&k) = self.kw_of_list.get(list) {
            if k != NONE {
                Self::scan(&self.keywords[k as usize], view.all_lowered(), &mut |r| {
                    bits[(r / 64) as usize] |= 1u64 << (r % 64)
                });
            }
        }
    }
}

/// Values longer than this are scanned without the memo (long command
/// lines rarely repeat, and copying them would cost more than it saves).
const MEMO_MAX: usize = 512;

/// The last value a field automaton scanned on this thread and the rules
/// its literals marked.
///
/// Why: consecutive events of a log repeat most field values (the
/// provider, the company and description of the image, the parent image,
/// the user, the integrity level, the event id...), and a repeated value
/// marks the same rules; replaying them is a comparison instead of an
/// automaton scan, which cache misses make the dearest part of the
/// prefilter in a real hunt.
#[derive(Default)]
struct Memo {
    valid: bool,
    value: Vec<u8>,
    rules: Vec<u32>,
}

thread_local! {
    /// Per thread: the prefilter the memo belongs to ([`Prefilter::id`])
    /// and one [`Memo`] per field automaton.
    static MEMO: std::cell::RefCell<(u64, Vec<Memo>)> =
        const { std::cell::RefCell::new((0, Vec::new())) };
}

/// Where a rule is evaluated (from its logsource).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Placement {
    /// (channel, event id) pairs; event id `None` = any id of the channel;
    /// channel `None` = that id on any channel.
    pub keys: Vec<(Option<String>, Option<u32>)>,
    /// Product-level Windows rule: every Windows event.
    pub windows_any: bool,
    /// Product-level non-Windows rule (its product, lower-case): every
    /// non-Windows event of that product, and every non-Windows event
    /// whose product is unknown.
    pub non_windows: Option<String>,
    /// No product, unmapped category or service: every non-Windows event
    /// whatever its product.
    pub non_windows_any: bool,
    /// Every event.
    pub unrestricted: bool,
}

#[derive(Default)]
struct ChannelIdx {
    by_eid: FastMap<u32, usize>,
    any: usize,
}

/// The logsource index: maps an event's (channel, event id) to a
/// candidate list (sorted rule indices). Lists are deduplicated and
/// numbered so that each can carry its own literal prefilter.
#[derive(Default)]
pub(crate) struct Index {
    channel_ids: FastMap<Box<str>, usize>,
    channels: Vec<ChannelIdx>,
    /// Event with an id but no channel.
    eid_only: FastMap<u32, usize>,
    eid_only_default: usize,
    /// Windows event (has an id) on an unmapped channel.
    windows_other: usize,
    windows_other_eid: FastMap<u32, usize>,
    /// Event with no id (non-Windows) of an unknown product: every
    /// non-Windows rule.
    non_windows: usize,
    /// Event with no id whose provider names a product that rules name
    /// (e.g. FortiGate syslog, provider `fortigate`): that product's rules
    /// only, so that Zeek or Cisco rules never run on FortiGate lines.
    non_windows_by_product: FastMap<Box<str>, usize>,
    pub lists: Vec<Box<[u32]>>,
    list_ids: HashMap<Box<[u32]>, usize>,
    /// Rules placed by product or unrestricted (in many lists).
    pub shared: Vec<bool>,
}

impl Index {
    fn intern(&mut self, parts: &[&[u32]]) -> usize {
        let mut v: Vec<u32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        v.sort_unstable();
        v.dedup();
        let v = v.into_boxed_slice();
        if let Some(&i) = self.list_ids.get(&v) {
            return i;
        }
        self.lists.push(v.clone());
        self.list_ids.insert(v, self.lists.len() - 1);
        self.lists.len() - 1
    }

    pub fn new(places: &[Placement], original_channels: &[String]) -> Index {
        let mut specific: HashMap<(String, u32), Vec<u32>> = HashMap::new();
        let mut chan_any: HashMap<String, Vec<u32>> = HashMap::new();
        let mut eid_any: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut eid_all_channels: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut win_any = Vec::new();
        let mut non_win = Vec::new();
        let mut non_win_any = Vec::new();
        let mut by_product: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
        let mut unres = Vec::new();
        let mut idx = Index {
            shared: vec![false; places.len()],
            ..Default::default()
        };
        for (i, p) in places.iter().enumerate() {
            let iu = i;
            let i = i as u32;
            if p.unrestricted {
                unres.push(i);
                idx.shared[iu] = true;
            }
            if p.non_windows_any {
                non_win.push(i);
                non_win_any.push(i);
                idx.shared[iu] = true;
            }
            if p.windows_any {
                win_any.push(i);
                idx.shared[iu] = true;
            }
            if let Some(product) = &p.non_windows {
                non_win.push(i);
                by_product
                    .entry(product.to_ascii_lowercase())
                    .or_default()
                    .push(i);
                idx.shared[iu] = true;
            }
            for (c, e) in &p.keys {
                match (c, e) {
                    (Some(c), Some(e)) => {
                        specific
                            .entry((c.to_ascii_lowercase(), *e))
                            .or_default()
                            .push(i);
                        eid_all_channels.entry(*e).or_default().push(i);
                    }
                    (Some(c), None) => chan_any.entry(c.to_ascii_lowercase()).or_default().push(i),
                    (None, Some(e)) => eid_any.entry(*e).or_default().push(i),
                    (None, None) => {
                        win_any.push(i);
                        idx.shared[iu] = true;
                    }
                }
            }
        }
        let mut chans: BTreeSet<String> = chan_any.keys().cloned().collect();
        chans.extend(specific.keys().map(|(c, _)| c.clone()));
        let empty: Vec<u32> = Vec::new();
        for c in chans {
            let ca = chan_any.get(&c).unwrap_or(&empty);
            let any = idx.intern(&[ca, &win_any, &unres]);
            let mut ci = ChannelIdx {
                any,
                by_eid: FastMap::default(),
            };
            let mut eids: BTreeSet<u32> = specific
                .keys()
                .filter(|(cc, _)| *cc == c)
                .map(|(_, e)| *e)
                .collect();
            eids.extend(eid_any.keys().copied());
            for e in eids {
                let sp = specific.get(&(c.clone(), e)).unwrap_or(&empty);
                let ea = eid_any.get(&e).unwrap_or(&empty);
                let l = idx.intern(&[sp, ca, ea, &win_any, &unres]);
                ci.by_eid.insert(e, l);
            }
            let n = idx.channels.len();
            for o in original_channels {
                if o.to_ascii_lowercase() == c {
                    idx.channel_ids.insert(o.clone().into_boxed_str(), n);
                }
            }
            idx.channel_ids.insert(c.into_boxed_str(), n);
            idx.channels.push(ci);
        }
        let mut all_eids: BTreeSet<u32> = eid_all_channels.keys().copied().collect();
        all_eids.extend(eid_any.keys().copied());
        for e in all_eids {
            let a = eid_all_channels.get(&e).unwrap_or(&empty);
            let b = eid_any.get(&e).unwrap_or(&empty);
            let l = idx.intern(&[a, b, &win_any, &unres]);
            idx.eid_only.insert(e, l);
        }
        let eid_any_sorted: BTreeSet<u32> = eid_any.keys().copied().collect();
        for e in eid_any_sorted {
            let l = idx.intern(&[&eid_any[&e], &win_any, &unres]);
            idx.windows_other_eid.insert(e, l);
        }
        idx.eid_only_default = idx.intern(&[&win_any, &unres]);
        idx.windows_other = idx.eid_only_default;
        idx.non_windows = idx.intern(&[&non_win, &unres]);
        for (product, rules) in &by_product {
            let l = idx.intern(&[rules, &non_win_any, &unres]);
            idx.non_windows_by_product
                .insert(product.clone().into_boxed_str(), l);
        }
        idx
    }

    fn channel(&self, c: &str) -> Option<&ChannelIdx> {
        if let Some(&i) = self.channel_ids.get(c) {
            return Some(&self.channels[i]);
        }
        if c.bytes().any(|b| b.is_ascii_uppercase()) {
            let l = c.to_ascii_lowercase();
            return self.channel_ids.get(l.as_str()).map(|&i| &self.channels[i]);
        }
        None
    }

    /// The candidate list for an event (an index into `lists`).
    pub fn candidates(
        &self,
        channel: Option<&str>,
        eid: Option<u32>,
        provider: Option<&str>,
    ) -> usize {
        let non_windows = || {
            provider
                .and_then(|p| {
                    self.non_windows_by_product.get(p).or_else(|| {
                        self.non_windows_by_product
                            .get(p.to_ascii_lowercase().as_str())
                    })
                })
                .copied()
                .unwrap_or(self.non_windows)
        };
        match (channel, eid) {
            (Some(c), Some(e)) => match self.channel(c) {
                Some(ci) => *ci.by_eid.get(&e).unwrap_or(&ci.any),
                None => *self
                    .windows_other_eid
                    .get(&e)
                    .unwrap_or(&self.windows_other),
            },
            (Some(c), None) => match self.channel(c) {
                Some(ci) => ci.any,
                None => non_windows(),
            },
            (None, Some(e)) => *self.eid_only.get(&e).unwrap_or(&self.eid_only_default),
            (None, None) => non_windows(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::regex_literals;

    /// A small regex over a tiny alphabet, so that random texts match it
    /// often: literals (with case and the Kelvin sign), classes,
    /// alternations, groups and repetitions.
    fn regex_src() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            "[abAB.]{1,3}".prop_map(|s| s.replace('.', "\\.")),
            Just("[ab]".to_string()),
            Just("[aB.]".to_string()),
            Just("\\w".to_string()),
            Just(".".to_string()),
            Just("\u{212A}".to_string()),
            Just("k".to_string()),
        ];
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
                prop::collection::vec(inner.clone(), 2..4)
                    .prop_map(|v| format!("(?:{})", v.join("|"))),
                (
                    inner.clone(),
                    prop::sample::select(&["?", "*", "+", "{2}", "{1,3}", "{0,2}"][..])
                )
                    .prop_map(|(x, q)| format!("(?:{x}){q}")),
                inner.prop_map(|x| format!("(?i:{x})")),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2048))]
        /// Soundness: when the regex matches a text, one of the literals
        /// found occurs in the text as the view lower-cases it.
        #[test]
        fn regex_literals_occur_in_every_match(
            src in regex_src(),
            texts in proptest::collection::vec("[abAB.kK\u{212A} x]{0,12}", 1..16),
        ) {
            let re = regex::Regex::new(&src).unwrap();
            if let Some(lits) = regex_literals(&src) {
                for t in &texts {
                    if re.is_match(t) {
                        let low = t.to_ascii_lowercase();
                        proptest::prop_assert!(
                            lits.iter().any(|l| low.contains(l.as_str())),
                            "{src:?} matches {t:?} but none of {lits:?} occurs"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn regex_literals_are_necessary() {
        let lits = |src: &str| regex_literals(src);
        let one = |l: &str| Some(vec![l.to_string()]);
        let many = |l: &[&str]| Some(l.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(lits(r"net\s+user\s+\w+ /add"), one(" /add"));
        assert_eq!(lits(r"(?i)\\rundll32\.exe$"), one("\\rundll32.exe"));
        assert_eq!(lits(r"abc|defgh"), many(&["abc", "defgh"]));
        assert_eq!(lits(r"(abc|def)ghij"), many(&["abcghij", "defghij"]));
        assert_eq!(lits(r"abcd?e"), many(&["abcde", "abce"]));
        assert_eq!(lits(r"x{1234}yz"), one("yz"));
        assert_eq!(lits(r"\x41BCDEF"), one("abcdef"));
        assert_eq!(lits(r"[abcdef]+ghi"), one("ghi"));
        assert_eq!(lits(r"ab*cdef"), one("cdef"));
        assert_eq!(lits(r"(?x) a b c d"), one("abcd"));
        // A repetition up to the limit: 4 x 4 = 16 strings, all kept.
        assert_eq!(lits(r"q[a-d]{2}").map(|v| v.len()), Some(16));
        assert_eq!(lits(r"^.*$"), None);
        // A branch without a literal: nothing is required.
        assert_eq!(lits(r"abc|\d+"), None);
        // Optional parts give nothing.
        assert_eq!(lits(r"(?:abcdef)?x+"), None);
        // (?i)k also matches the Kelvin sign, which the view does not
        // lower-case: the literal stops there.
        assert_eq!(lits(r"(?i)kelvin"), one("elvin"));
        // Non-ASCII text is not required (case folding beyond ASCII).
        assert_eq!(lits(r"(?i)été"), None);
        // SigmaHQ's Raspberry Robin command line.
        assert_eq!(
            lits(r#"\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}"#),
            many(&[". ", ".\"", ".'"])
        );
        // Every literal found does occur in a matching text.
        for (src, text) in [
            (r"(?i)(abc|def)ghij", "xxDEFGHIJ"),
            (r"(?i)\\rundll32\.exe$", r"C:\Windows\RUNDLL32.EXE"),
            (r#"\\[a-z]{1,32}\.[a-z]{1,6}\.[ "']"#, r#"\abc.dll." x"#),
        ] {
            assert!(regex::Regex::new(src).unwrap().is_match(text));
            let low = text.to_ascii_lowercase();
            let ls = lits(src).unwrap();
            assert!(ls.iter().any(|l| low.contains(l.as_str())), "{src} {ls:?}");
        }
    }
}
