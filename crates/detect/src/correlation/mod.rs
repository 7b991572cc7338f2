//! Sigma correlation rules (meta-rules): parsing and stateful evaluation.
//!
//! A correlation rule does not look at events; it looks at *which
//! detection rules matched which events when* (and at other correlations
//! firing, for chains). This module has two halves:
//!
//! * [`parse_correlation`] turns one YAML document that has a
//!   `correlation:` section into a validated [`CorrelationRule`] (every
//!   requirement of the Sigma 2.1 correlation specification and JSON schema
//!   is checked, with one precise message per failure);
//! * [`CorrelationState`] evaluates a set of correlation rules over the
//!   stream of [`crate::Match`]es, emitting [`crate::CorrelationMatch`]es.
//!
//! # How the engine calls it
//!
//! ```text
//! // load time, per YAML document with a `correlation:` key
//! let rule = parse_correlation(&doc, path)?;          // Err(reason) -> RuleFailure
//! let meta = Arc::new(rule.to_rule_meta(path));        // or build RuleMeta yourself
//!
//! // compile time
//! let (state, problems) = CorrelationState::new(
//!     vec![(meta, rule), ...],
//!     &detection_rule_metas,                          // every compiled detection rule
//!     CorrelationConfig::default(),
//! );                                                   // problems -> RuleFailure
//! for each detection rule R:
//!     state.is_referenced(&R)       // R feeds a correlation: its matches must reach observe()
//!     state.required_fields(&R)     // raw event fields to put in Match::correlation_values
//!     state.generates(&R)           // value for Match::generate (Sigma `generate` flag)
//!
//! // run time (Engine::correlator() -> Correlator wrapping state.fresh()),
//! // for every event in (roughly) time order, even without matches
//! out.extend(state.observe(time, &matches));
//! out.extend(state.finish());                          // end of input
//! state.stats()                                        // dropped_late, missing fields, ...
//! state.generates(&m.rule)          // false for intermediate correlations of a chain
//! ```
//!
//! Events without a timestamp cannot be placed in a window: the caller
//! counts them and does not call `observe`.
//!
//! # Semantics (choices where the specification is silent)
//!
//! * **Sliding windows.** A window is every interval `[t - timespan, t]`
//!   ending at an event of the group: two events exactly `timespan` apart
//!   are *inside* one window, one nanosecond more and they are not. No
//!   bucket boundaries (the specification asks backends to avoid them).
//! * **Eager firing, then reset.** When the condition only has lower
//!   bounds (`gt`/`gte`, or none for `temporal`), it is checked at each
//!   event over the window ending there; when it holds the correlation
//!   fires once and that group's window state is cleared, so a burst of
//!   1000 failed logons with `gte: 10` yields 100 alerts, not 991 (this is
//!   what "suppress/reset" modes of streaming Sigma engines do, and what a
//!   backend query returning one row per matching group amounts to). The
//!   same applies to `value_avg` and numeric `value_percentile` whatever
//!   the operators, since their value does not grow with the window.
//! * **Upper bounds close windows.** `lt`, `lte`, `eq` and `neq` on a count
//!   (`event_count`, `value_count`, `temporal*`, `value_sum`) would hold
//!   trivially on the first event of any window, so such conditions are
//!   checked once per window *when it closes*: a window opens at a group's
//!   first event, closes `timespan` later, its whole content is tested,
//!   and the next event opens a new one.
//! * **Missing group-by field.** An event whose match lacks a group-by
//!   field (or has it null) does not take part in that correlation: there
//!   is no way to tell which group it belongs to, and grouping it with all
//!   other field-less events (SQL `NULL` grouping) would correlate
//!   unrelated hosts/users. Each such event is counted in
//!   [`CorrelationStats::missing_group_field`]. The same holds for a missing
//!   `field` of `value_*` types ([`CorrelationStats::missing_value_field`])
//!   and for non-numeric values of `value_sum`/`value_avg`/numeric
//!   percentile ([`CorrelationStats::non_numeric_value`]).
//! * **Aliases.** For alias `a` mapping rule `x` to field `F`, events matched
//!   by `x` contribute their `F` value as the group's `a` value. `x` may be
//!   the rule's id or name, whichever `rules:` uses. A referenced rule not
//!   listed under an alias uses the field named `a`. Aliases apply to
//!   group-by fields and to the condition's `field`.
//! * **Temporal.** `temporal` fires when every referenced rule matched in
//!   the window (one event matching two referenced rules counts for both).
//!   `temporal_ordered` needs the matches to occur in the listed order
//!   (strictly increasing processing order; equal timestamps are ordered by
//!   the deterministic tie-break below). A `condition` on temporal types
//!   counts the distinct rules seen (for `temporal_ordered`: the length of
//!   the longest listed-order prefix seen in order); without one, all rules
//!   are required.
//! * **value_percentile.** Sigma 2.1's example (`field: Image`, `lte: 1`,
//!   "a process name seen in less than 1% of all processes") describes a
//!   *rarity* test: the value is the share, in percent, of the group's
//!   window events whose `field` equals the current event's. That is the
//!   default. Because a reset would erase the baseline the share is
//!   computed against, rarity fires per qualifying event without reset.
//!   The rsigma-style extension `condition: {percentile: P, ...}` instead
//!   computes the P-th percentile (linear interpolation) of the numeric
//!   `field` over the window and compares it with the condition.
//! * **Chaining.** A correlation may reference another by `id` or `name`.
//!   Each firing of the referenced correlation is an input at the time it
//!   fired (the triggering event's time, or the window end for closing
//!   windows) carrying the firing's group values as fields. Cycles are
//!   reported and those rules dropped.
//! * **Out-of-order input.** Inputs are held in a reorder buffer and
//!   processed in `(time, content)` order once the largest time seen is
//!   more than [`CorrelationConfig::lateness`] (default 60 s) past them.
//!   The content tie-break makes the output independent of the arrival
//!   order of events with equal timestamps. An input older than what was
//!   already processed is counted in [`CorrelationStats::dropped_late`] and
//!   ignored. Hence any shuffle in which no event arrives more than
//!   `lateness` after a later-stamped one gives the same output as sorted
//!   input.
//! * **Memory.** Entries leave a group when they fall out of its window;
//!   groups without entries are removed; every 4096 inputs all groups are
//!   swept so that groups never hit again are freed too.

mod parse;
mod runtime;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use parse::{parse_correlation, parse_timespan};
pub use runtime::{CorrelationConfig, CorrelationProblem, CorrelationState, CorrelationStats};

use crate::{Level, LogSource, RuleKind, RuleMeta};

/// The Sigma correlation types (Sigma 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

impl CorrelationType {
    /// The name used in rule files (`event_count`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
        }
    }

    /// Parses a type name as written in rule files.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            _ => return None,
        })
    }

    /// Types whose condition needs a `field`.
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        )
    }

    /// Temporal types: the condition is optional and at least two rules are
    /// needed.
    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        )
    }
}

/// A comparison operator of a correlation condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Gt => "gt",
            CmpOp::Gte => "gte",
            CmpOp::Lt => "lt",
            CmpOp::Lte => "lte",
            CmpOp::Eq => "eq",
            CmpOp::Neq => "neq",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "gt" => CmpOp::Gt,
            "gte" => CmpOp::Gte,
            "lt" => CmpOp::Lt,
            "lte" => CmpOp::Lte,
            "eq" => CmpOp::Eq,
            "neq" => CmpOp::Neq,
            _ => return None,
        })
    }

    /// True for operators that can only start to hold as a window grows
    /// (lower bounds): those are evaluated eagerly.
    pub fn is_lower_bound(self) -> bool {
        matches!(self, CmpOp::Gt | CmpOp::Gte)
    }

    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            CmpOp::Gt => value > threshold,
            CmpOp::Gte => value >= threshold,
            CmpOp::Lt => value < threshold,
            CmpOp::Lte => value <= threshold,
            CmpOp::Eq => value == threshold,
            CmpOp::Neq => value != threshold,
        }
    }
}

/// A correlation condition: comparisons joined by AND (a range such as
/// `gt: 100` + `lte: 200` is two comparisons), plus the `percentile`
/// extension of `value_percentile`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// `(operator, threshold)`, in file order.
    pub comparisons: Vec<(CmpOp, f64)>,
    /// `percentile: P` (0..=100): numeric-percentile mode of
    /// `value_percentile`; `None` is the rarity mode (see module docs).
    pub percentile: Option<f64>,
}

impl Condition {
    /// Whether `value` satisfies every comparison.
    pub fn holds(&self, value: f64) -> bool {
        self.comparisons.iter().all(|(op, t)| op.holds(value, *t))
    }

    /// True when every comparison is a lower bound (`gt`/`gte`).
    pub fn only_lower_bounds(&self) -> bool {
        self.comparisons.iter().all(|(op, _)| op.is_lower_bound())
    }
}

/// The descriptive fields of a correlation document, as written. The
/// engine turns them into a [`RuleMeta`] (see
/// [`CorrelationRule::to_rule_meta`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrelationMetaFields {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    /// Validated to be one of the five Sigma levels.
    pub level: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub taxonomy: Option<String>,
}

/// A parsed, validated Sigma correlation rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationRule {
    pub(crate) meta: CorrelationMetaFields,
    pub(crate) kind: CorrelationType,
    pub(crate) rules: Vec<String>,
    pub(crate) group_by: Vec<String>,
    pub(crate) value_fields: Vec<String>,
    /// alias name -> (referenced rule name/id -> event field)
    pub(crate) aliases: BTreeMap<String, BTreeMap<String, String>>,
    pub(crate) timespan: std::time::Duration,
    pub(crate) timespan_text: String,
    pub(crate) condition: Option<Condition>,
    pub(crate) generate: bool,
}

impl CorrelationRule {
    pub fn kind(&self) -> CorrelationType {
        self.kind
    }
    /// The `rules:` entries, as written (rule ids or names).
    pub fn referenced_rules(&self) -> &[String] {
        &self.rules
    }
    /// The `group-by:` entries, as written (field names or alias names).
    pub fn group_by(&self) -> &[String] {
        &self.group_by
    }
    /// The condition's `field` (the first one when `value_count` lists
    /// several).
    pub fn value_field(&self) -> Option<&str> {
        self.value_fields.first().map(String::as_str)
    }
    /// Every condition `field` (`value_count` may list several, counted as
    /// distinct tuples).
    pub fn value_fields(&self) -> &[String] {
        &self.value_fields
    }
    /// Alias definitions: alias name -> (referenced rule -> event field).
    pub fn aliases(&self) -> &BTreeMap<String, BTreeMap<String, String>> {
        &self.aliases
    }
    pub fn timespan(&self) -> std::time::Duration {
        self.timespan
    }
    /// The timespan as written (`5m`).
    pub fn timespan_text(&self) -> &str {
        &self.timespan_text
    }
    /// `None` only for temporal types written without a condition (all
    /// rules required).
    pub fn condition(&self) -> Option<&Condition> {
        self.condition.as_ref()
    }
    /// The `generate` flag (default false: referenced rules are not
    /// reported on their own).
    pub fn generate(&self) -> bool {
        self.generate
    }
    pub fn meta(&self) -> &CorrelationMetaFields {
        &self.meta
    }
    pub fn title(&self) -> &str {
        &self.meta.title
    }
    pub fn id(&self) -> Option<&str> {
        self.meta.id.as_deref()
    }
    pub fn name(&self) -> Option<&str> {
        self.meta.name.as_deref()
    }

    /// The raw event field that carries `field` (a group-by entry or value
    /// field, possibly an alias) in events matched by referenced rule
    /// `reference`, looked up as written (the runtime also accepts alias
    /// keys naming the rule by its other identifier).
    pub fn resolve_field<'a>(&'a self, field: &'a str, reference: &str) -> &'a str {
        self.aliases
            .get(field)
            .and_then(|m| m.get(reference))
            .map(String::as_str)
            .unwrap_or(field)
    }

    /// Raw event fields a match of referenced rule `reference` must carry
    /// in [`crate::Match::correlation_values`] for this correlation.
    pub fn fields_for_reference(&self, reference: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in self.group_by.iter().chain(&self.value_fields) {
            let raw = self.resolve_field(f, reference).to_string();
            if !out.contains(&raw) {
                out.push(raw);
            }
        }
        out
    }

    /// Builds the report metadata of this rule (kind `Correlation`, no
    /// logsource).
    pub fn to_rule_meta(&self, path: &Path) -> RuleMeta {
        let m = &self.meta;
        RuleMeta {
            id: m.id.clone(),
            name: m.name.clone(),
            title: m.title.clone(),
            kind: RuleKind::Correlation,
            level: m.level.as_deref().and_then(level_from_str),
            status: m.status.clone(),
            description: m.description.clone(),
            author: m.author.clone(),
            tags: m.tags.clone(),
            references: m.references.clone(),
            falsepositives: m.falsepositives.clone(),
            logsource: LogSource::default(),
            path: path.to_path_buf(),
        }
    }
}

/// Sigma level names to [`Level`].
pub(crate) fn level_from_str(s: &str) -> Option<Level> {
    Some(match s {
        "informational" => Level::Informational,
        "low" => Level::Low,
        "medium" => Level::Medium,
        "high" => Level::High,
        "critical" => Level::Critical,
        _ => return None,
    })
}

/// Shared pointer alias used by the runtime.
pub(crate) type Meta = Arc<RuleMeta>;
