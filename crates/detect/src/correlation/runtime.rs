//! Stateful evaluation of correlation rules (see the module docs of
//! [`super`] for the semantics).
//!
//! Data flow: [`CorrelationState::observe`] keeps only the matches of rules
//! that some correlation references, puts them in a reorder buffer keyed by
//! `(time, content)`, and processes everything older than the watermark
//! (`max time seen - lateness`) in key order. Processing one input walks
//! the correlations in topological order (referenced before referencing),
//! so a chained correlation sees the firings of the ones it references
//! within the same step. Windows that are evaluated when they close sit in
//! a timer set keyed by their end time, fired before any later input.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use chrono::TimeDelta;
use vigie_event::{Timestamp, Value};

use super::{CorrelationRule, CorrelationType, Meta};
use crate::{CorrelationMatch, Match, RuleMeta};

/// Runtime settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationConfig {
    /// How far behind the latest time seen an input may arrive and still be
    /// processed in order. Larger values tolerate more disorder (e.g. files
    /// read in parallel) at the cost of holding inputs that long. Default
    /// 60 s: enough for the jitter of live sources and of EVTX channels
    /// merged per host, while keeping alerts prompt.
    pub lateness: std::time::Duration,
}

impl CorrelationConfig {
    /// Holds every input until [`CorrelationState::finish`] and then
    /// processes them all in time order: for offline hunts over files read
    /// in any order (memory grows with the number of relevant matches).
    pub fn unbounded() -> Self {
        CorrelationConfig {
            lateness: std::time::Duration::MAX,
        }
    }

    /// A configuration with the given lateness.
    pub fn with_lateness(lateness: std::time::Duration) -> Self {
        CorrelationConfig { lateness }
    }
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        CorrelationConfig {
            lateness: std::time::Duration::from_secs(60),
        }
    }
}

/// A correlation rule that cannot run (unknown reference, cycle, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationProblem {
    pub rule: Arc<RuleMeta>,
    pub reason: String,
}

/// Counters: what was processed and what could not take part, so that
/// nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrelationStats {
    /// Inputs (events with relevant matches) processed in order.
    pub processed: u64,
    /// Events with relevant matches that arrived after their time had
    /// already been processed (more than `lateness` late): ignored.
    pub dropped_late: u64,
    /// (event, correlation) pairs skipped because a group-by field was
    /// missing or null.
    pub missing_group_field: u64,
    /// (event, correlation) pairs skipped because the `field` of a
    /// `value_*` correlation was missing or null.
    pub missing_value_field: u64,
    /// (event, correlation) pairs skipped because the value of
    /// `value_sum`/`value_avg`/numeric percentile was not a number.
    pub non_numeric_value: u64,
    /// Correlation firings emitted.
    pub fired: u64,
    /// Inputs waiting in the reorder buffer now.
    pub buffered: usize,
    /// Live groups across all correlations now.
    pub groups: usize,
}

type GroupKey = Vec<Box<str>>;

/// One contribution to a group's window.
#[derive(Debug, Clone)]
struct Entry {
    time: Timestamp,
    /// Processing order; equal for all inputs of one event.
    seq: u64,
    /// Index in `rules:` of the reference that matched.
    rule_idx: usize,
    /// The value-field text (value_count, rarity percentile).
    text: Option<Box<str>>,
    /// The numeric value (value_sum, value_avg, numeric percentile).
    num: f64,
}

#[derive(Debug, Default, Clone)]
struct Group {
    entries: VecDeque<Entry>,
    /// Distinct value texts in the window, with multiplicity.
    counts: HashMap<Box<str>, usize>,
    /// Entries per referenced rule.
    per_rule: Vec<usize>,
    sum: f64,
    /// End of the window for closing-mode evaluation.
    window_end: Option<Timestamp>,
}

impl Group {
    fn push(&mut self, e: Entry) {
        if self.per_rule.len() <= e.rule_idx {
            self.per_rule.resize(e.rule_idx + 1, 0);
        }
        self.per_rule[e.rule_idx] += 1;
        if let Some(t) = &e.text {
            *self.counts.entry(t.clone()).or_insert(0) += 1;
        }
        self.sum += e.num;
        self.entries.push_back(e);
    }

    /// Removes entries strictly older than `cutoff` (a window is inclusive
    /// of both ends).
    fn evict(&mut self, cutoff: Timestamp) {
        while self.entries.front().is_some_and(|e| e.time < cutoff) {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.per_rule[e.rule_idx] -= 1;
            if let Some(t) = &e.text {
                if let Some(c) = self.counts.get_mut(t) {
                    *c -= 1;
                    if *c == 0 {
                        self.counts.remove(t);
                    }
                }
            }
            self.sum -= e.num;
        }
        if self.entries.is_empty() {
            // no drift carried over from float subtraction
            self.sum = 0.0;
        }
    }
}

/// Where field values come from: a detection match, or a chained
/// correlation firing (its group values).
#[derive(Clone, Copy)]
enum Fields<'a> {
    Match(&'a [(Arc<str>, Value)]),
    Group(&'a [(String, String)]),
}

impl<'a> Fields<'a> {
    fn text(&self, name: &str) -> Option<Cow<'a, str>> {
        match self {
            Fields::Match(vals) => vals
                .iter()
                .find(|(k, _)| &**k == name)
                .map(|(_, v)| v)
                .filter(|v| !matches!(v, Value::Null))
                .map(Value::to_text),
            Fields::Group(pairs) => pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| Cow::Borrowed(v.as_str())),
        }
    }

    /// `Err(true)`: missing; `Err(false)`: present but not a number.
    fn number(&self, name: &str) -> Result<f64, bool> {
        match self {
            Fields::Match(vals) => match vals.iter().find(|(k, _)| &**k == name) {
                None | Some((_, Value::Null)) => Err(true),
                Some((_, v)) => v.as_f64().filter(|f| f.is_finite()).ok_or(false),
            },
            Fields::Group(pairs) => match pairs.iter().find(|(k, _)| k == name) {
                None => Err(true),
                Some((_, v)) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or(false),
            },
        }
    }
}

/// Raw field names to read for one referenced rule (aliases resolved).
#[derive(Debug, Clone)]
struct RefFields {
    group: Vec<String>,
    value: Vec<String>,
}

#[derive(Clone)]
struct Compiled {
    meta: Meta,
    rule: CorrelationRule,
    span: TimeDelta,
    /// Check at each input (true) or when the window closes (false).
    eager: bool,
    /// Clear the group after firing (all but rarity percentile).
    reset: bool,
    ref_fields: Vec<RefFields>,
    groups: HashMap<GroupKey, Group>,
}

/// What one hit produced.
enum HitOutcome {
    None,
    Fired(CorrelationMatch),
    /// A closing window was opened and needs a timer.
    Opened(Timestamp, GroupKey),
}

impl Compiled {
    fn hit(
        &mut self,
        time: Timestamp,
        seq: u64,
        rule_idx: usize,
        fields: Fields<'_>,
        stats: &mut CorrelationStats,
    ) -> HitOutcome {
        let rf = &self.ref_fields[rule_idx];
        let mut key: GroupKey = Vec::with_capacity(rf.group.len());
        for g in &rf.group {
            match fields.text(g) {
                Some(v) => key.push(v.into()),
                None => {
                    stats.missing_group_field += 1;
                    return HitOutcome::None;
                }
            }
        }
        let kind = self.rule.kind;
        let numeric = matches!(kind, CorrelationType::ValueSum | CorrelationType::ValueAvg)
            || (kind == CorrelationType::ValuePercentile && self.percentile().is_some());
        let mut text = None;
        let mut num = 0.0;
        if numeric {
            match fields.number(&rf.value[0]) {
                Ok(v) => num = v,
                Err(true) => {
                    stats.missing_value_field += 1;
                    return HitOutcome::None;
                }
                Err(false) => {
                    stats.non_numeric_value += 1;
                    return HitOutcome::None;
                }
            }
        } else if kind.needs_field() {
            let mut parts = Vec::with_capacity(rf.value.len());
            for f in &rf.value {
                match fields.text(f) {
                    Some(v) => parts.push(v),
                    None => {
                        stats.missing_value_field += 1;
                        return HitOutcome::None;
                    }
                }
            }
            text = Some(parts.join("\u{1f}").into_boxed_str());
        }
        let entry = Entry {
            time,
            seq,
            rule_idx,
            text,
            num,
        };
        if self.eager {
            let cutoff = time
                .checked_sub_signed(self.span)
                .unwrap_or(Timestamp::MIN_UTC);
            let group = self.groups.entry(key.clone()).or_default();
            group.evict(cutoff);
            let current = entry.text.clone();
            group.push(entry);
            let Some(value) = self.evaluate_group(&key, current.as_deref()) else {
                return HitOutcome::None;
            };
            let m = self.fire(&key, value);
            if self.reset {
                self.groups.remove(&key);
            }
            HitOutcome::Fired(m)
        } else {
            let span = self.span;
            let group = self.groups.entry(key.clone()).or_default();
            group.push(entry);
            if group.window_end.is_none() {
                let end = time.checked_add_signed(span).unwrap_or(Timestamp::MAX_UTC);
                group.window_end = Some(end);
                HitOutcome::Opened(end, key)
            } else {
                HitOutcome::None
            }
        }
    }

    fn percentile(&self) -> Option<f64> {
        self.rule.condition.as_ref().and_then(|c| c.percentile)
    }

    /// The aggregated value of a group if the condition holds.
    fn evaluate_group(&self, key: &GroupKey, current: Option<&str>) -> Option<f64> {
        let g = self.groups.get(key)?;
        let n = g.entries.len();
        if n == 0 {
            return None;
        }
        let value = match self.rule.kind {
            CorrelationType::EventCount => n as f64,
            CorrelationType::ValueCount => g.counts.len() as f64,
            CorrelationType::Temporal => g.per_rule.iter().filter(|c| **c > 0).count() as f64,
            CorrelationType::TemporalOrdered => ordered_prefix(g, self.rule.rules.len()).0 as f64,
            CorrelationType::ValueSum => g.sum,
            CorrelationType::ValueAvg => g.sum / n as f64,
            CorrelationType::ValuePercentile => match self.percentile() {
                Some(p) => {
                    let mut v: Vec<f64> = g.entries.iter().map(|e| e.num).collect();
                    v.sort_by(f64::total_cmp);
                    percentile_linear(&v, p)
                }
                None => {
                    let c = current.and_then(|t| g.counts.get(t)).copied().unwrap_or(0);
                    c as f64 * 100.0 / n as f64
                }
            },
        };
        let holds = match &self.rule.condition {
            Some(c) => c.holds(value),
            None => value >= self.rule.rules.len() as f64,
        };
        holds.then_some(value)
    }

    fn fire(&self, key: &GroupKey, value: f64) -> CorrelationMatch {
        let g = &self.groups[key];
        let first = match self.rule.kind {
            // the chosen start of the in-order sequence
            CorrelationType::TemporalOrdered => ordered_prefix(g, self.rule.rules.len()).1,
            // the tightest set: the latest hit of each rule
            CorrelationType::Temporal => {
                let mut latest: HashMap<usize, Timestamp> = HashMap::new();
                for e in &g.entries {
                    latest.insert(e.rule_idx, e.time);
                }
                latest.values().min().copied()
            }
            _ => None,
        };
        let first = first
            .or_else(|| g.entries.iter().map(|e| e.time).min())
            .unwrap_or_default();
        let last = g.entries.iter().map(|e| e.time).max().unwrap_or(first);
        CorrelationMatch {
            rule: self.meta.clone(),
            group: self
                .rule
                .group_by
                .iter()
                .zip(key)
                .map(|(n, v)| (n.clone(), v.to_string()))
                .collect(),
            first,
            last,
            value,
        }
    }

    /// Closes a window (closing mode): evaluates its whole content once.
    fn close(&mut self, key: &GroupKey) -> Option<CorrelationMatch> {
        let value = self.evaluate_group(key, None);
        let m = value.map(|v| self.fire(key, v));
        self.groups.remove(key);
        m
    }

    /// Drops entries that fell out of every window (eager groups only:
    /// closing groups are removed by their timer).
    fn sweep(&mut self, now: Timestamp) {
        if !self.eager {
            return;
        }
        let cutoff = now
            .checked_sub_signed(self.span)
            .unwrap_or(Timestamp::MIN_UTC);
        self.groups.retain(|_, g| {
            g.evict(cutoff);
            !g.entries.is_empty()
        });
    }
}

/// Length of the longest prefix of the rule list matched in order
/// (strictly increasing processing order), and the time of the entry
/// chosen for the first rule. Greedy earliest choice is optimal for
/// subsequence matching.
fn ordered_prefix(g: &Group, n_rules: usize) -> (usize, Option<Timestamp>) {
    let mut want = 0;
    let mut last_seq: Option<u64> = None;
    let mut first = None;
    for e in &g.entries {
        if want == n_rules {
            break;
        }
        if e.rule_idx == want && last_seq.is_none_or(|s| e.seq > s) {
            if want == 0 {
                first = Some(e.time);
            }
            want += 1;
            last_seq = Some(e.seq);
        }
    }
    (want, first)
}

/// Percentile with linear interpolation between closest ranks (the
/// "exclusive of nothing" R-7 / NumPy default). `sorted` is not empty.
pub(super) fn percentile_linear(sorted: &[f64], p: f64) -> f64 {
    if sorted.len() == 1 {
        return sorted[0];
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// A relevant match kept in the reorder buffer.
#[derive(Debug, Clone)]
struct Pending {
    rule: Arc<RuleMeta>,
    values: Vec<(Arc<str>, Value)>,
}

type BufferKey = (Timestamp, String, u64);

/// Evaluates correlation rules over a stream of matches. See the module
/// documentation for the semantics.
///
/// `Clone`: a live scope keeps the state of the inputs it settled and
/// finishes a copy of it over the newer ones at each answer.
#[derive(Clone)]
pub struct CorrelationState {
    /// In topological order: every correlation after those it references.
    corrs: Vec<Compiled>,
    /// Detection reference (id or name as written) -> (correlation, rule index).
    by_ref: HashMap<String, Vec<(usize, usize)>>,
    /// Correlation -> the (correlation, rule index) that reference it.
    consumers: Vec<Vec<(usize, usize)>>,
    lateness: TimeDelta,
    buffer: BTreeMap<BufferKey, Vec<Pending>>,
    max_seen: Option<Timestamp>,
    /// Everything strictly before this time has been processed.
    watermark: Option<Timestamp>,
    timers: BTreeSet<(Timestamp, usize, GroupKey)>,
    arrival: u64,
    seq: u64,
    since_sweep: u64,
    stats: CorrelationStats,
}

const SWEEP_EVERY: u64 = 4096;

impl CorrelationState {
    /// Prepares correlations for evaluation. `detection_rules` are all the
    /// compiled detection rules, used to check that every reference
    /// resolves. A reference is first looked up among the correlations'
    /// `id`/`name`, then among the detection rules' `id`/`name`.
    /// Correlations with unresolved or cyclic references (and those that
    /// depend on them) are returned as problems and not evaluated.
    pub fn new(
        correlations: Vec<(Arc<RuleMeta>, CorrelationRule)>,
        detection_rules: &[Arc<RuleMeta>],
        config: CorrelationConfig,
    ) -> (CorrelationState, Vec<CorrelationProblem>) {
        let n = correlations.len();
        let mut problems = Vec::new();
        let named =
            |m: &RuleMeta, r: &str| m.id.as_deref() == Some(r) || m.name.as_deref() == Some(r);
        // deps[i]: correlations referenced by i, with rule index
        let mut deps: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        let mut bad: Vec<Option<String>> = vec![None; n];
        // keys[i][ri]: every id/name the ri-th reference of i is known by,
        // so that alias mappings may name a rule by id or name whichever
        // way `rules:` refers to it
        let mut keys: Vec<Vec<Vec<String>>> = vec![Vec::new(); n];
        for (i, (_, rule)) in correlations.iter().enumerate() {
            for (ri, r) in rule.rules.iter().enumerate() {
                let mut known = vec![r.clone()];
                let mut add = |x: Option<&str>| {
                    if let Some(x) = x {
                        if !known.iter().any(|k| k == x) {
                            known.push(x.to_string());
                        }
                    }
                };
                for (m, c) in correlations.iter() {
                    if named(m, r) || c.id() == Some(r) || c.name() == Some(r) {
                        add(m.id.as_deref());
                        add(m.name.as_deref());
                        add(c.id());
                        add(c.name());
                    }
                }
                for d in detection_rules.iter().filter(|d| named(d, r)) {
                    add(d.id.as_deref());
                    add(d.name.as_deref());
                }
                keys[i].push(known);
                let corr_hits: Vec<usize> = correlations
                    .iter()
                    .enumerate()
                    .filter(|(_, (m, c))| named(m, r) || c.id() == Some(r) || c.name() == Some(r))
                    .map(|(j, _)| j)
                    .collect();
                match corr_hits.as_slice() {
                    [] => {
                        if !detection_rules.iter().any(|d| named(d, r)) {
                            bad[i].get_or_insert_with(|| {
                                format!("references unknown rule `{r}` (no detection or correlation rule has this id or name)")
                            });
                        }
                    }
                    [j] if *j == i => {
                        bad[i].get_or_insert_with(|| format!("references itself (`{r}`)"));
                    }
                    [j] => deps[i].push((*j, ri)),
                    many => {
                        bad[i].get_or_insert_with(|| {
                            format!(
                                "reference `{r}` is ambiguous: {} correlation rules have this id or name",
                                many.len()
                            )
                        });
                    }
                }
            }
        }
        // alias mappings must name referenced rules
        for (i, (_, rule)) in correlations.iter().enumerate() {
            for (alias, map) in &rule.aliases {
                for k in map.keys() {
                    if !keys[i].iter().any(|ks| ks.contains(k)) {
                        bad[i].get_or_insert_with(|| {
                            format!(
                                "alias `{alias}` maps rule `{k}`, which is none of the rules in `correlation.rules` (by id or name)"
                            )
                        });
                    }
                }
            }
        }
        // propagate: depending on a bad correlation makes one bad
        loop {
            let mut changed = false;
            for i in 0..n {
                if bad[i].is_some() {
                    continue;
                }
                if let Some((j, _)) = deps[i].iter().find(|(j, _)| bad[*j].is_some()) {
                    bad[i] = Some(format!(
                        "depends on correlation `{}`, which cannot run",
                        correlations[*j].0.title
                    ));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // Kahn's topological sort over the good ones
        let mut indeg: Vec<usize> = (0..n).map(|i| deps[i].len()).collect();
        let mut order = Vec::with_capacity(n);
        let mut ready: Vec<usize> = (0..n)
            .filter(|&i| bad[i].is_none() && indeg[i] == 0)
            .collect();
        ready.reverse();
        while let Some(i) = ready.pop() {
            order.push(i);
            for k in 0..n {
                if bad[k].is_none() && deps[k].iter().any(|(j, _)| *j == i) {
                    let c = deps[k].iter().filter(|(j, _)| *j == i).count();
                    indeg[k] -= c;
                    if indeg[k] == 0 {
                        ready.push(k);
                    }
                }
            }
        }
        for (i, b) in bad.iter_mut().enumerate() {
            if b.is_none() && !order.contains(&i) {
                *b = Some("is part of a reference cycle between correlation rules".into());
            }
        }
        for (i, (meta, _)) in correlations.iter().enumerate() {
            if let Some(reason) = &bad[i] {
                problems.push(CorrelationProblem {
                    rule: meta.clone(),
                    reason: reason.clone(),
                });
            }
        }

        let mut new_index = vec![usize::MAX; n];
        for (pos, &i) in order.iter().enumerate() {
            new_index[i] = pos;
        }
        let mut slots: Vec<Option<(Arc<RuleMeta>, CorrelationRule)>> =
            correlations.into_iter().map(Some).collect();
        let mut corrs = Vec::with_capacity(order.len());
        let mut consumers = vec![Vec::new(); order.len()];
        let mut by_ref: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (pos, &i) in order.iter().enumerate() {
            let Some((meta, rule)) = slots[i].take() else {
                continue;
            };
            for &(j, ri) in &deps[i] {
                consumers[new_index[j]].push((pos, ri));
            }
            for (ri, r) in rule.rules.iter().enumerate() {
                if !deps[i].iter().any(|(_, dri)| *dri == ri) {
                    by_ref.entry(r.clone()).or_default().push((pos, ri));
                }
            }
            corrs.push(compile(meta, rule, &keys[i]));
        }
        let lateness = TimeDelta::from_std(config.lateness).unwrap_or(TimeDelta::MAX);
        (
            CorrelationState {
                corrs,
                by_ref,
                consumers,
                lateness,
                buffer: BTreeMap::new(),
                max_seen: None,
                watermark: None,
                timers: BTreeSet::new(),
                arrival: 0,
                seq: 0,
                since_sweep: 0,
                stats: CorrelationStats::default(),
            },
            problems,
        )
    }

    /// A new state with the same prepared correlations and settings and
    /// nothing observed yet. The engine can keep one prepared state (for
    /// [`CorrelationState::is_referenced`] and
    /// [`CorrelationState::required_fields`] at compile time) and hand out
    /// fresh copies per run, without resolving references again.
    pub fn fresh(&self) -> CorrelationState {
        CorrelationState {
            corrs: self
                .corrs
                .iter()
                .map(|c| Compiled {
                    meta: c.meta.clone(),
                    rule: c.rule.clone(),
                    span: c.span,
                    eager: c.eager,
                    reset: c.reset,
                    ref_fields: c.ref_fields.clone(),
                    groups: HashMap::new(),
                })
                .collect(),
            by_ref: self.by_ref.clone(),
            consumers: self.consumers.clone(),
            lateness: self.lateness,
            buffer: BTreeMap::new(),
            max_seen: None,
            watermark: None,
            timers: BTreeSet::new(),
            arrival: 0,
            seq: 0,
            since_sweep: 0,
            stats: CorrelationStats::default(),
        }
    }

    /// Changes the lateness (see [`CorrelationConfig::lateness`]); meant
    /// for a fresh state, before the first `observe`.
    pub fn set_lateness(&mut self, lateness: std::time::Duration) {
        self.lateness = TimeDelta::from_std(lateness).unwrap_or(TimeDelta::MAX);
    }

    /// The longest timespan of the correlations evaluated (zero without
    /// any): an input older than that before the latest one can no longer
    /// share a window with a new input.
    pub fn longest_timespan(&self) -> std::time::Duration {
        self.corrs
            .iter()
            .filter_map(|c| c.span.to_std().ok())
            .max()
            .unwrap_or_default()
    }

    /// Number of correlations being evaluated.
    pub fn len(&self) -> usize {
        self.corrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.corrs.is_empty()
    }

    fn targets(&self, rule: &RuleMeta) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for key in [rule.id.as_deref(), rule.name.as_deref()]
            .into_iter()
            .flatten()
        {
            if let Some(t) = self.by_ref.get(key) {
                for x in t {
                    if !out.contains(x) {
                        out.push(*x);
                    }
                }
            }
        }
        out
    }

    /// Whether detection rule `rule` feeds some correlation (its matches
    /// must reach [`CorrelationState::observe`] even when it is not
    /// reported on its own).
    pub fn is_referenced(&self, rule: &RuleMeta) -> bool {
        [rule.id.as_deref(), rule.name.as_deref()]
            .into_iter()
            .flatten()
            .any(|k| self.by_ref.contains_key(k))
    }

    /// Whether hits of `rule` (a detection rule, or a correlation rule
    /// evaluated here) should be reported on their own. Sigma's
    /// `generate` (default false) on a correlation says whether the rules
    /// it references are also standalone rules; so a rule is reported
    /// unless every correlation referencing it has `generate: false`.
    /// Unreferenced rules are always reported. Use it for
    /// [`Match::generate`] and to hide the firings of intermediate
    /// correlations of a chain.
    pub fn generates(&self, rule: &RuleMeta) -> bool {
        let mut referencing = self.targets(rule).into_iter().map(|(c, _)| c).peekable();
        let mut any = referencing.peek().is_some();
        let mut generate = referencing.any(|c| self.corrs[c].rule.generate);
        if let Some(pos) = self.corrs.iter().position(|c| same_rule(&c.meta, rule)) {
            any |= !self.consumers[pos].is_empty();
            generate |= self.consumers[pos]
                .iter()
                .any(|(c, _)| self.corrs[*c].rule.generate);
        }
        !any || generate
    }

    /// Whether hits of `rule` (a detection rule, or a correlation of a
    /// chain) are counted directly by correlation `correlation`: lets a
    /// caller name the events behind a firing (their hosts and accounts).
    pub fn feeds(&self, rule: &RuleMeta, correlation: &RuleMeta) -> bool {
        self.targets(rule)
            .iter()
            .any(|(c, _)| same_rule(&self.corrs[*c].meta, correlation))
    }

    /// Metadata of the correlations evaluated, in evaluation order.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<RuleMeta>> {
        self.corrs.iter().map(|c| &c.meta)
    }

    /// Raw event field names that matches of detection rule `rule` must
    /// carry in [`Match::correlation_values`] (group-by and value fields,
    /// aliases resolved), deduplicated.
    pub fn required_fields(&self, rule: &RuleMeta) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = Vec::new();
        for (c, r) in self.targets(rule) {
            let rf = &self.corrs[c].ref_fields[r];
            for f in rf.group.iter().chain(&rf.value) {
                if !out.iter().any(|o| &**o == f.as_str()) {
                    out.push(Arc::from(f.as_str()));
                }
            }
        }
        out
    }

    /// The counters so far.
    pub fn stats(&self) -> CorrelationStats {
        let mut s = self.stats.clone();
        s.buffered = self.buffer.len();
        s.groups = self.corrs.iter().map(|c| c.groups.len()).sum();
        s
    }

    /// Feeds the matches of one event that happened at `time`. Call it for
    /// every event, even with no matches: time advancing is what releases
    /// buffered inputs and closes windows. Returns the correlations that
    /// fired on inputs processed by this call.
    pub fn observe(&mut self, time: Timestamp, matches: &[Match]) -> Vec<CorrelationMatch> {
        let relevant: Vec<Pending> = matches
            .iter()
            .filter(|m| self.is_referenced(&m.rule))
            .map(|m| Pending {
                rule: m.rule.clone(),
                values: m.correlation_values.clone(),
            })
            .collect();
        if !relevant.is_empty() {
            if self.watermark.is_some_and(|w| time < w) {
                self.stats.dropped_late += 1;
            } else {
                let key = content_key(&relevant);
                self.buffer.insert((time, key, self.arrival), relevant);
                self.arrival += 1;
            }
        }
        if self.max_seen.is_none_or(|m| time > m) {
            self.max_seen = Some(time);
        }
        let mut out = Vec::new();
        if let Some(max) = self.max_seen {
            let w = max
                .checked_sub_signed(self.lateness)
                .unwrap_or(Timestamp::MIN_UTC);
            self.advance(Some(w), &mut out);
        }
        out
    }

    /// End of input: processes everything buffered and closes every open
    /// window. The state stays usable; later inputs older than the last
    /// processed time count as late.
    pub fn finish(&mut self) -> Vec<CorrelationMatch> {
        let mut out = Vec::new();
        self.advance(None, &mut out);
        out
    }

    /// Processes buffered inputs with time `< until` (all when `None`) and
    /// the timers due before them, in order.
    fn advance(&mut self, until: Option<Timestamp>, out: &mut Vec<CorrelationMatch>) {
        loop {
            let next = match self.buffer.keys().next() {
                Some(k) if until.is_none_or(|u| k.0 < u) => k.clone(),
                _ => break,
            };
            let Some(item) = self.buffer.remove(&next) else {
                break;
            };
            let time = next.0;
            self.fire_timers(|end| end < time, out);
            self.process(time, &item, out);
        }
        match until {
            Some(u) => {
                self.fire_timers(|end| end < u, out);
                if self.watermark.is_none_or(|w| u > w) {
                    self.watermark = Some(u);
                }
            }
            None => {
                self.fire_timers(|_| true, out);
                if let Some(m) = self.max_seen {
                    if self.watermark.is_none_or(|w| m > w) {
                        self.watermark = Some(m);
                    }
                }
            }
        }
    }

    fn fire_timers(&mut self, due: impl Fn(Timestamp) -> bool, out: &mut Vec<CorrelationMatch>) {
        while let Some(first) = self.timers.first() {
            if !due(first.0) {
                break;
            }
            let Some((end, c, key)) = self.timers.pop_first() else {
                break;
            };
            let seq = self.next_seq();
            if let Some(m) = self.corrs[c].close(&key) {
                self.cascade(end, seq, vec![(c, m)], out);
            }
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Processes one input (the relevant matches of one event).
    fn process(&mut self, time: Timestamp, item: &[Pending], out: &mut Vec<CorrelationMatch>) {
        self.stats.processed += 1;
        let seq = self.next_seq();
        let mut fired = Vec::new();
        // detection matches, correlations in topological order
        let mut per_corr: Vec<(usize, usize, usize)> = Vec::new(); // (corr, rule idx, item idx)
        for (ii, p) in item.iter().enumerate() {
            for (c, r) in self.targets(&p.rule) {
                per_corr.push((c, r, ii));
            }
        }
        per_corr.sort_unstable();
        for (c, r, ii) in per_corr {
            let outcome = self.corrs[c].hit(
                time,
                seq,
                r,
                Fields::Match(&item[ii].values),
                &mut self.stats,
            );
            self.handle(c, outcome, &mut fired);
        }
        self.cascade(time, seq, fired, out);
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            for c in &mut self.corrs {
                c.sweep(time);
            }
        }
    }

    fn handle(
        &mut self,
        c: usize,
        outcome: HitOutcome,
        fired: &mut Vec<(usize, CorrelationMatch)>,
    ) {
        match outcome {
            HitOutcome::None => {}
            HitOutcome::Fired(m) => fired.push((c, m)),
            HitOutcome::Opened(end, key) => {
                self.timers.insert((end, c, key));
            }
        }
    }

    /// Emits firings and feeds them to the correlations that reference
    /// them, transitively (consumers always come later in topological
    /// order, so processing by increasing index is complete).
    fn cascade(
        &mut self,
        time: Timestamp,
        seq: u64,
        mut fired: Vec<(usize, CorrelationMatch)>,
        out: &mut Vec<CorrelationMatch>,
    ) {
        let mut i = 0;
        while i < fired.len() {
            let (producer, m) = (fired[i].0, fired[i].1.clone());
            i += 1;
            self.stats.fired += 1;
            for k in 0..self.consumers[producer].len() {
                let (c, r) = self.consumers[producer][k];
                let outcome =
                    self.corrs[c].hit(time, seq, r, Fields::Group(&m.group), &mut self.stats);
                let mut more = Vec::new();
                self.handle(c, outcome, &mut more);
                fired.extend(more);
            }
            out.push(m);
        }
    }
}

/// Same rule: same allocation, or same id (or same name when neither has
/// an id).
fn same_rule(a: &RuleMeta, b: &RuleMeta) -> bool {
    std::ptr::eq(a, b)
        || match (&a.id, &b.id) {
            (Some(x), Some(y)) => x == y,
            (None, None) => a.name.is_some() && a.name == b.name && a.title == b.title,
            _ => false,
        }
}

fn compile(meta: Arc<RuleMeta>, rule: CorrelationRule, keys: &[Vec<String>]) -> Compiled {
    // the raw field for `field` in events of the ri-th reference
    let resolve = |field: &str, ri: usize| -> String {
        rule.aliases
            .get(field)
            .and_then(|map| keys[ri].iter().find_map(|k| map.get(k)))
            .cloned()
            .unwrap_or_else(|| field.to_string())
    };
    let ref_fields = (0..rule.rules.len())
        .map(|ri| RefFields {
            group: rule.group_by.iter().map(|g| resolve(g, ri)).collect(),
            value: rule.value_fields.iter().map(|f| resolve(f, ri)).collect(),
        })
        .collect();
    let eager = match rule.kind {
        CorrelationType::ValueAvg | CorrelationType::ValuePercentile => true,
        _ => rule
            .condition
            .as_ref()
            .is_none_or(|c| c.only_lower_bounds()),
    };
    let reset = !(rule.kind == CorrelationType::ValuePercentile
        && rule
            .condition
            .as_ref()
            .is_some_and(|c| c.percentile.is_none()));
    let span = TimeDelta::from_std(rule.timespan).unwrap_or(TimeDelta::MAX);
    Compiled {
        meta,
        rule,
        span,
        eager,
        reset,
        ref_fields,
        groups: HashMap::new(),
    }
}

/// A deterministic tie-break for inputs with equal timestamps, built from
/// their content only (rule ids/names and values), so that the processing
/// order does not depend on arrival order.
fn content_key(items: &[Pending]) -> String {
    let mut s = String::new();
    for p in items {
        s.push_str(p.rule.id.as_deref().unwrap_or(""));
        s.push('\u{1e}');
        s.push_str(p.rule.name.as_deref().unwrap_or(""));
        s.push('\u{1e}');
        s.push_str(&p.rule.title);
        for (k, v) in &p.values {
            s.push('\u{1f}');
            s.push_str(k);
            s.push('=');
            s.push_str(&v.to_text());
        }
        s.push('\u{1d}');
    }
    s
}
