//! Vigie's Sigma engine (the *detect* stage).
//!
//! Flow: [`load_paths`]/[`load_str`] parse rule files into a [`RuleSet`]
//! plus a [`LoadReport`] (every rule not loaded, with file and reason);
//! [`Engine::compile`] compiles a rule set once; [`Engine::evaluate`]
//! matches one event (anything implementing [`vigie_event::Record`]) and
//! appends [`Match`]es; a [`Correlator`] consumes matches in time order and
//! emits [`CorrelationMatch`]es.
//!
//! ```text
//! let (set, report) = load_paths(&["rules/"], &LoadOptions::default());
//! let (engine, failures) = Engine::compile_with(set, &EngineConfig::default());
//! let mut out = Vec::new();
//! for event in events { out.clear(); engine.evaluate(&event, &mut out); }
//! ```
//!
//! Modules: `rule` (YAML → rule AST, load-time checks), `modifier` and
//! `value` (value modifiers, compiled matchers), `condition` (condition
//! language), `compile` (AST → compiled rules, evaluation), `logsource`
//! (logsource → channel/event id table, field mappings; data in
//! `data/logsources.yml`), `prefilter` (logsource index and literal
//! prefilter), `view` (one event as evaluation sees it: field slots and
//! lower-cased values), `load` (files → [`RuleSet`], [`RuleSet`] →
//! [`Engine`]), `correlation` (correlation rules and their state machine).
//!
//! Why it is fast: rules are indexed by the (channel, event id) their
//! logsource maps to, and within an event's candidates only rules whose
//! necessary literals occur in the event (one Aho-Corasick scan per
//! field, keywords checked with a SIMD searcher first) are fully
//! evaluated; see `prefilter`. Each event is viewed once (`view`): field
//! names resolved to slots and values lower-cased a single time, so that
//! tests are array reads and exact byte comparisons.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vigie_event::{Record, Timestamp, Value};

mod build;
mod compile;
mod condition;
pub mod correlation;
mod load;
pub mod logsource;
mod modifier;
mod placeholders;
mod prefilter;
mod quote;
mod rule;
mod value;
mod view;
mod walk;
mod yaml;

pub use load::{
    load_paths, load_rule_paths, load_str, RulePathError, RulePathProblem, MAX_RULE_FILE,
};
pub use logsource::{FieldMapping, LogsourceEntry, LogsourceMapping};
pub use placeholders::{PlaceholderSource, Placeholders, PlaceholdersError};

/// The rule statuses of the Sigma specification (`status:`), for
/// checking a `--status` value.
pub const STATUSES: &[&str] = &[
    "stable",
    "test",
    "experimental",
    "deprecated",
    "unsupported",
];

/// Sigma `level`, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

/// What a rule document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Detection,
    Correlation,
    Filter,
}

/// Sigma `logsource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

/// The descriptive part of a rule: what reports and timelines show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleMeta {
    pub id: Option<String>,
    pub name: Option<String>,
    pub title: String,
    pub kind: RuleKind,
    pub level: Option<Level>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub logsource: LogSource,
    /// File the rule was read from (or a pseudo path for built-in rules).
    pub path: PathBuf,
}

/// One rule document that failed to load, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleFailure {
    pub path: PathBuf,
    /// 0-based index of the YAML document in a multi-document file.
    pub document: usize,
    pub id: Option<String>,
    pub title: Option<String>,
    pub reason: String,
    /// What kind of problem (for grouping and scripts; `reason` says it
    /// in words).
    #[serde(default)]
    pub kind: FailureKind,
}

/// The kinds of [`RuleFailure`].
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The rule breaks the Sigma specification or uses what Vigie does
    /// not support (unknown modifier, bad condition, bad regex...).
    #[default]
    Invalid,
    /// The file could not be read: I/O error, not UTF-8, not a regular
    /// file.
    Unreadable,
    /// The YAML is not well formed.
    Yaml,
    /// A YAML document that is not a Sigma rule (no `detection`,
    /// `filter` or `correlation`).
    NotARule,
    /// A size limit: rule file, YAML values, regex, compiled patterns.
    TooLarge,
    /// A nesting limit: YAML or condition.
    TooDeep,
    /// YAML aliases that would expand past the limits (an alias bomb).
    AliasExpansion,
    /// A `%name%` placeholder with no value given.
    Placeholder,
    /// A rule id already loaded from another document.
    Duplicate,
    /// An internal error, caught: the rule is left out, the run goes on.
    Internal,
}

impl FailureKind {
    /// The kind's name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Invalid => "invalid",
            FailureKind::Unreadable => "unreadable",
            FailureKind::Yaml => "yaml",
            FailureKind::NotARule => "not_a_rule",
            FailureKind::TooLarge => "too_large",
            FailureKind::TooDeep => "too_deep",
            FailureKind::AliasExpansion => "alias_expansion",
            FailureKind::Placeholder => "placeholder",
            FailureKind::Duplicate => "duplicate",
            FailureKind::Internal => "internal",
        }
    }
}

/// A rule problem found while reading or compiling: its kind and its
/// reason. Plain text errors are [`FailureKind::Invalid`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fail {
    pub kind: FailureKind,
    pub reason: String,
}

impl Fail {
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Fail {
        Fail {
            kind,
            reason: reason.into(),
        }
    }
    /// The same problem, its reason preceded by `prefix` (where it is).
    pub fn context(self, prefix: impl std::fmt::Display) -> Fail {
        Fail {
            kind: self.kind,
            reason: format!("{prefix}{}", self.reason),
        }
    }
}

impl From<String> for Fail {
    fn from(reason: String) -> Fail {
        Fail::new(FailureKind::Invalid, reason)
    }
}

impl From<&str> for Fail {
    fn from(reason: &str) -> Fail {
        Fail::new(FailureKind::Invalid, reason)
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The loading report: counts by kind, and every rule not loaded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub files: usize,
    pub detection: usize,
    pub correlation: usize,
    pub filter: usize,
    /// Rules deliberately left out by selection (`--min-level`, `--status`).
    pub deselected: usize,
    pub failures: Vec<RuleFailure>,
    /// Rules loaded whose meaning deserves a word (a filter whose
    /// condition does not start with `not`: its meaning changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RuleWarning>,
}

/// A rule that loaded, with something the user should know about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleWarning {
    pub path: PathBuf,
    pub document: usize,
    pub id: Option<String>,
    pub title: Option<String>,
    pub message: String,
}

impl LoadReport {
    /// Adds the counts and failures of `other` (rules loaded from more
    /// files or another source).
    pub fn merge(&mut self, other: LoadReport) {
        self.files += other.files;
        self.detection += other.detection;
        self.correlation += other.correlation;
        self.filter += other.filter;
        self.deselected += other.deselected;
        self.failures.extend(other.failures);
        self.warnings.extend(other.warnings);
    }
}

/// Rule selection applied at load time, and what compiling the rules
/// will need.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub min_level: Option<Level>,
    /// Keep only these statuses (e.g. `stable`, `test`); `None` keeps all.
    pub statuses: Option<Vec<String>>,
    /// Placeholder values (`--placeholders FILE`, then what the assets
    /// file answers): see [`LoadOptions::engine_config`].
    pub placeholders: Placeholders,
    /// Rules turned off by their `id` (or `name`): left out like a rule
    /// below `min_level` (counted as deselected).
    pub disabled: std::collections::BTreeSet<String>,
}

impl LoadOptions {
    /// The engine configuration these options call for (the built-in
    /// logsource table, these placeholder values).
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            placeholders: self.placeholders.clone(),
            ..EngineConfig::default()
        }
    }
}

/// Parsed (not yet compiled) rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub(crate) detections: Vec<rule::ParsedRule>,
    pub(crate) filters: Vec<rule::ParsedFilter>,
    pub(crate) correlations: Vec<(Arc<RuleMeta>, correlation::CorrelationRule)>,
    /// SHA-256 of every source text read (for [`Engine::digest`]).
    pub(crate) sources: Vec<[u8; 32]>,
}

impl RuleSet {
    /// Merges another rule set into this one (e.g. built-in pack + `--rules`).
    pub fn extend(&mut self, other: RuleSet) {
        self.detections.extend(other.detections);
        self.filters.extend(other.filters);
        self.correlations.extend(other.correlations);
        self.sources.extend(other.sources);
    }
    /// Number of rules of all kinds.
    pub fn len(&self) -> usize {
        self.detections.len() + self.filters.len() + self.correlations.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The placeholder names (`%name%` under the `expand` modifier) that
    /// the detection rules and filters use: what a placeholders file or
    /// the assets file should answer.
    pub fn placeholder_names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let detections = self.detections.iter().map(|r| &r.detection);
        for d in detections.chain(self.filters.iter().map(|f| &f.detection)) {
            d.placeholder_names(&mut out);
        }
        out
    }

    /// Metadata of every rule, all kinds.
    pub fn metas(&self) -> Vec<RuleMeta> {
        self.detections
            .iter()
            .map(|r| r.meta.clone())
            .chain(self.filters.iter().map(|f| f.meta.clone()))
            .chain(self.correlations.iter().map(|(m, _)| (**m).clone()))
            .collect()
    }
}

/// Why a field matched: for explanations in reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedField {
    /// The selection (search identifier) it belongs to.
    pub selection: String,
    /// The event field, `None` for a keyword match.
    pub field: Option<String>,
    /// The event value that matched.
    pub value: String,
}

/// A detection rule that matched an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub rule: Arc<RuleMeta>,
    pub matched: Vec<MatchedField>,
    /// Values of the fields that correlations referencing this rule need
    /// (group-by, value fields, aliases resolved to the raw event field
    /// names), extracted at match time so that correlating never needs the
    /// event again. Empty otherwise.
    pub correlation_values: Vec<(Arc<str>, Value)>,
    /// False when every correlation referencing this rule has
    /// `generate: false` (the Sigma default): the match feeds the
    /// correlator but is not reported on its own.
    pub generate: bool,
}

/// A correlation rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationMatch {
    pub rule: Arc<RuleMeta>,
    /// Group-by field values of the group that fired.
    pub group: Vec<(String, String)>,
    pub first: Timestamp,
    pub last: Timestamp,
    /// The aggregated value that crossed the condition (count, sum, ...).
    pub value: f64,
}

/// Compile-time settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Logsource → channel/event id table (built-in, plus user files).
    pub logsources: LogsourceMapping,
    /// Name of a field mapping of `logsources.field_mappings` (e.g.
    /// `ecs`) for events that do not use Sigma's Windows field names;
    /// `None`: native names.
    pub field_mapping: Option<String>,
    /// Values of `%name%` placeholders used with the `expand` modifier.
    /// A rule using a placeholder without a value here fails to compile
    /// (the specification says a tool that cannot resolve a placeholder
    /// must reject the rule).
    pub placeholders: Placeholders,
    /// Settings of the correlator.
    pub correlation: correlation::CorrelationConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            logsources: LogsourceMapping::builtin(),
            field_mapping: None,
            placeholders: Placeholders::default(),
            correlation: correlation::CorrelationConfig::default(),
        }
    }
}

/// Figures about a compiled engine (cheap, computed at compile time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    pub detection_rules: usize,
    pub correlation_rules: usize,
    pub filters_applied: usize,
    /// Rules with no literal requirement (evaluated on every event of
    /// their logsource).
    pub always_candidates: usize,
    /// Literal automata (one per field name, plus keywords).
    pub automata: usize,
    /// Literals across all automata.
    pub literals: usize,
    /// Rules evaluated on every Windows / non-Windows / any event because
    /// their logsource maps to no channel.
    pub windows_any: usize,
    pub non_windows: usize,
    pub unrestricted: usize,
    /// Distinct candidate lists of the logsource index.
    pub candidate_lists: usize,
}

/// Per-call counters of [`Engine::evaluate_counted`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalCounters {
    pub events: u64,
    /// Rules the logsource index selected.
    pub indexed: u64,
    /// Rules fully evaluated after the literal prefilter.
    pub evaluated: u64,
    pub matches: u64,
}

/// A compiled rule set, shared read-only across threads.
pub struct Engine {
    rules: Vec<compile::CompiledRule>,
    metas: Vec<Arc<RuleMeta>>,
    index: prefilter::Index,
    prefilter: prefilter::Prefilter,
    /// Per candidate list, its rules as bitsets: (without a literal
    /// requirement, with one).
    list_bits: Vec<ListBits>,
    /// For clause k = 1.. of the prefilter requirements (see
    /// `prefilter::CLAUSES`): the rules that have one, as a bitset.
    more_clauses: Vec<Box<[u64]>>,
    /// Per candidate list, the automata worth running (see
    /// `Prefilter::mask`).
    masks: Vec<Box<[bool]>>,
    /// The field names rules look up, numbered (see `view`).
    slots: view::Slots,
    correlation: correlation::CorrelationState,
    digest: String,
    stats: EngineStats,
}

/// A candidate list as two rule bitsets: rules without a literal
/// requirement, rules with one.
type ListBits = (Box<[u64]>, Box<[u64]>);

thread_local! {
    /// The prefilter's rule bitset, reused across events.
    static BITS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Engine {
    /// Compiles the rule set once with the default configuration. Rules
    /// that cannot compile (bad regex, unresolved placeholder, ...) are
    /// reported, not fatal.
    pub fn compile(rules: RuleSet) -> (Engine, Vec<RuleFailure>) {
        Self::compile_with(rules, &EngineConfig::default())
    }

    /// Compiles with an explicit configuration.
    pub fn compile_with(rules: RuleSet, config: &EngineConfig) -> (Engine, Vec<RuleFailure>) {
        build::compile_engine(rules, config)
    }

    /// Matches one event, appending every detection rule that fires
    /// (filters applied) to `out`.
    pub fn evaluate<R: Record + ?Sized>(&self, event: &R, out: &mut Vec<Match>) {
        let mut c = EvalCounters::default();
        self.eval_inner(event, out, true, &mut c);
    }

    /// [`Engine::evaluate`], adding to counters.
    pub fn evaluate_counted<R: Record + ?Sized>(
        &self,
        event: &R,
        out: &mut Vec<Match>,
        counters: &mut EvalCounters,
    ) {
        self.eval_inner(event, out, true, counters);
    }

    /// Evaluation without the literal prefilter (every rule the logsource
    /// index selects is fully evaluated). Slower; exists to check that the
    /// prefilter never changes results.
    pub fn evaluate_unfiltered<R: Record + ?Sized>(&self, event: &R, out: &mut Vec<Match>) {
        let mut c = EvalCounters::default();
        self.eval_inner(event, out, false, &mut c);
    }

    /// Evaluation of every rule on the event, ignoring logsource and
    /// prefilter (for tests of the index).
    pub fn evaluate_everything<R: Record + ?Sized>(&self, event: &R, out: &mut Vec<Match>) {
        view::SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let view = view::View::build(event, &self.slots, &mut s, None);
            for r in &self.rules {
                if r.matches(&view) {
                    out.push(self.make_match(r, &view));
                }
            }
        })
    }

    fn make_match<R: Record + ?Sized>(
        &self,
        r: &compile::CompiledRule,
        view: &view::View<'_, R>,
    ) -> Match {
        let mut cv = Vec::new();
        for (key, names) in &r.corr_fields {
            if let Some(v) = view.get(names) {
                cv.push((key.clone(), v.clone()));
            }
        }
        Match {
            rule: r.meta.clone(),
            matched: r.explain(view),
            correlation_values: cv,
            generate: r.generate,
        }
    }

    fn eval_inner<R: Record + ?Sized>(
        &self,
        event: &R,
        out: &mut Vec<Match>,
        prefilter: bool,
        counters: &mut EvalCounters,
    ) {
        counters.events += 1;
        let list = self
            .index
            .candidates(event.channel(), event.event_id(), event.provider());
        let cands: &[u32] = &self.index.lists[list];
        if cands.is_empty() {
            return;
        }
        counters.indexed += cands.len() as u64;
        view::SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let view = view::View::build(event, &self.slots, &mut s, Some(list));
            if !prefilter {
                for &i in cands {
                    let r = &self.rules[i as usize];
                    counters.evaluated += 1;
                    if r.matches(&view) {
                        counters.matches += 1;
                        out.push(self.make_match(r, &view));
                    }
                }
                return;
            }
            BITS.with(|b| {
                self.each_selected(&view, list, &mut b.borrow_mut(), |i| {
                    let r = &self.rules[i];
                    counters.evaluated += 1;
                    if r.matches(&view) {
                        counters.matches += 1;
                        out.push(self.make_match(r, &view));
                    }
                });
            });
        });
    }

    /// Calls `f`, in rule order, with every rule of candidate list `list`
    /// the prefilter selects for the event of `view`: the list's rules
    /// without a literal requirement, and those with one whose every
    /// clause the event met. `bits` is scratch space: clause k of rule i
    /// is its bit `k * words * 64 + i` (see `Prefilter::mark`).
    fn each_selected<R: Record + ?Sized>(
        &self,
        view: &view::View<'_, R>,
        list: usize,
        bits: &mut Vec<u64>,
        mut f: impl FnMut(usize),
    ) {
        let (always, literal) = &self.list_bits[list];
        let words = always.len();
        bits.clear();
        bits.resize(words * prefilter::CLAUSES, 0);
        if literal.iter().any(|w| *w != 0) {
            self.prefilter.mark(view, list, bits, &self.masks[list]);
        }
        for w in 0..words {
            let mut met = bits[w] & literal[w];
            for (k, more) in self.more_clauses.iter().enumerate() {
                met &= bits[(k + 1) * words + w] | !more[w];
            }
            let mut m = always[w] | met;
            while m != 0 {
                f(w * 64 + m.trailing_zeros() as usize);
                m &= m - 1;
            }
        }
    }

    /// The rules the index and prefilter select for full evaluation on
    /// this event (profiling aid: which rules cost time).
    #[doc(hidden)]
    pub fn selected_rules<R: Record + ?Sized>(&self, event: &R) -> Vec<Arc<RuleMeta>> {
        let list = self
            .index
            .candidates(event.channel(), event.event_id(), event.provider());
        let mut selected = Vec::new();
        view::SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let view = view::View::build(event, &self.slots, &mut s, Some(list));
            self.each_selected(&view, list, &mut Vec::new(), |i| {
                selected.push(self.rules[i].meta.clone())
            });
        });
        selected
    }

    /// Metadata of every compiled detection rule.
    pub fn rules(&self) -> &[Arc<RuleMeta>] {
        &self.metas
    }

    /// A stable digest of the compiled rule set (for run manifests): the
    /// SHA-256 of the rule sources read and of the configuration.
    pub fn digest(&self) -> String {
        self.digest.clone()
    }

    /// Figures about the compiled engine.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// A correlator for this engine's correlation rules (fresh state).
    pub fn correlator(&self) -> Correlator {
        Correlator {
            state: self.correlation.fresh(),
        }
    }
}

/// Stateful evaluation of correlation rules over matches in time order
/// (events may arrive out of order within a bounded lateness). `Clone`:
/// finishing a copy gives what the inputs so far give, and the original
/// goes on.
#[derive(Clone)]
pub struct Correlator {
    state: correlation::CorrelationState,
}

impl Correlator {
    /// Feeds the matches of one event that happened at `time`. Call it
    /// for every event, even without matches: time advancing is what
    /// releases buffered inputs and closes windows.
    pub fn observe(&mut self, time: Timestamp, matches: &[Match]) -> Vec<CorrelationMatch> {
        self.state.observe(time, matches)
    }
    /// End of input: flushes what is still pending.
    pub fn finish(&mut self) -> Vec<CorrelationMatch> {
        self.state.finish()
    }
    /// Whether hits of `rule` are counted directly by `correlation` (see
    /// [`correlation::CorrelationState::feeds`]).
    pub fn feeds(&self, rule: &RuleMeta, correlation: &RuleMeta) -> bool {
        self.state.feeds(rule, correlation)
    }
    /// Counters (late inputs dropped, missing fields, ...).
    pub fn stats(&self) -> correlation::CorrelationStats {
        self.state.stats()
    }
    /// The longest timespan of its correlations (see
    /// [`correlation::CorrelationState::longest_timespan`]).
    pub fn longest_timespan(&self) -> std::time::Duration {
        self.state.longest_timespan()
    }
    /// Changes how late an input may arrive (see
    /// [`correlation::CorrelationConfig`]).
    pub fn set_lateness(&mut self, lateness: std::time::Duration) {
        self.state.set_lateness(lateness)
    }
}
