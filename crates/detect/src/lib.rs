//! Vigie's Sigma engine (the *detect* stage).
//!
//! CONTRACT STUB — the engine work replaces the bodies, keeps (and may
//! extend) these public types and signatures, which `vigie-hunt` and
//! `vigie-scope` are written against.
//!
//! Flow: [`load_paths`]/[`load_str`] parse rule files into a [`RuleSet`]
//! plus a [`LoadReport`] (every rule not loaded, with file and reason);
//! [`Engine::compile`] compiles a rule set once; [`Engine::evaluate`]
//! matches one event (anything implementing [`vigie_event::Record`]) and
//! appends [`Match`]es; a [`Correlator`] consumes matches in time order and
//! emits [`CorrelationMatch`]es.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vigie_event::{Record, Timestamp, Value};

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
}

/// Rule selection applied at load time.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub min_level: Option<Level>,
    /// Keep only these statuses (e.g. `stable`, `test`); `None` keeps all.
    pub statuses: Option<Vec<String>>,
}

/// Parsed (not yet compiled) rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    // engine-private
}

impl RuleSet {
    /// Merges another rule set into this one (e.g. built-in pack + `--rules`).
    pub fn extend(&mut self, _other: RuleSet) {
        todo!()
    }
    /// Number of rules of all kinds.
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Loads every `.yml`/`.yaml` file under the given files or directories.
pub fn load_paths<P: AsRef<Path>>(_paths: &[P], _opts: &LoadOptions) -> (RuleSet, LoadReport) {
    todo!()
}

/// Loads rules from YAML text (possibly multi-document); `path` names it
/// in reports.
pub fn load_str(_yaml: &str, _path: &Path, _opts: &LoadOptions) -> (RuleSet, LoadReport) {
    todo!()
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
    /// (group-by, value fields, aliases), extracted at match time so that
    /// correlating never needs the event again. Empty otherwise.
    pub correlation_values: Vec<(Arc<str>, Value)>,
    /// False for rules with `generate: false` referenced by correlations:
    /// they feed the correlator but are not reported.
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

/// A compiled rule set, shared read-only across threads.
pub struct Engine {
    // engine-private
}

impl Engine {
    /// Compiles the rule set once. Rules that cannot compile (bad regex,
    /// unknown condition identifier, ...) are reported, not fatal.
    pub fn compile(_rules: RuleSet) -> (Engine, Vec<RuleFailure>) {
        todo!()
    }

    /// Matches one event, appending every detection rule that fires
    /// (filters applied) to `out`.
    pub fn evaluate<R: Record + ?Sized>(&self, _event: &R, _out: &mut Vec<Match>) {
        todo!()
    }

    /// Metadata of every compiled rule.
    pub fn rules(&self) -> &[Arc<RuleMeta>] {
        todo!()
    }

    /// A stable digest of the compiled rule set (for run manifests).
    pub fn digest(&self) -> String {
        todo!()
    }

    /// A correlator for this engine's correlation rules.
    pub fn correlator(&self) -> Correlator {
        todo!()
    }
}

/// Stateful evaluation of correlation rules over matches in time order
/// (events may arrive out of order within a bounded lateness).
pub struct Correlator {
    // engine-private
}

impl Correlator {
    /// Feeds the matches of one event that happened at `time`.
    pub fn observe(&mut self, _time: Timestamp, _matches: &[Match]) -> Vec<CorrelationMatch> {
        todo!()
    }
    /// End of input: flushes what is still pending.
    pub fn finish(&mut self) -> Vec<CorrelationMatch> {
        todo!()
    }
}
