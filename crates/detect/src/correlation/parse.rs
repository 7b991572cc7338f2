//! Parsing and validation of correlation documents.
//!
//! Validation is strict on the `correlation:` section (a typo such as
//! `groupby` would otherwise silently turn a per-user rule into a global
//! one) and follows the Sigma 2.1 JSON schema for the descriptive fields.
//! Every failure returns one message naming the offending key.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use yaml_rust2::Yaml;

use super::{
    level_from_str, CmpOp, Condition, CorrelationMetaFields, CorrelationRule, CorrelationType,
};

/// Keys allowed in the `correlation:` section. `generate` is also accepted
/// there because early pySigma-era rules put it inside.
const CORRELATION_KEYS: &[&str] = &[
    "type",
    "rules",
    "aliases",
    "group-by",
    "timespan",
    "condition",
    "generate",
];

const STATUSES: &[&str] = &[
    "stable",
    "test",
    "experimental",
    "deprecated",
    "unsupported",
];

/// Parses one YAML document holding a correlation rule. `path` is only used
/// in messages.
pub fn parse_correlation(doc: &Yaml, path: &Path) -> Result<CorrelationRule, String> {
    parse_inner(doc).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_inner(doc: &Yaml) -> Result<CorrelationRule, String> {
    let top = doc
        .as_hash()
        .ok_or_else(|| "a correlation rule must be a YAML mapping".to_string())?;
    let get = |k: &str| top.get(&Yaml::String(k.to_string()));

    let meta = parse_meta(doc)?;
    if get("detection").is_some() {
        return Err(
            "a document cannot have both `correlation` and `detection`: split them into two YAML documents"
                .into(),
        );
    }
    let corr = match get("correlation") {
        None => return Err("missing `correlation` section".into()),
        Some(Yaml::Hash(h)) => h,
        Some(other) => {
            return Err(format!(
                "`correlation` must be a mapping, found {}",
                kind_of(other)
            ))
        }
    };
    for k in corr.keys() {
        match k.as_str() {
            Some(s) if CORRELATION_KEYS.contains(&s) => {}
            Some(s) => {
                return Err(format!(
                    "unknown key `correlation.{s}` (allowed: {})",
                    CORRELATION_KEYS.join(", ")
                ))
            }
            None => return Err(format!("non-string key {k:?} in `correlation`")),
        }
    }
    let cget = |k: &str| corr.get(&Yaml::String(k.to_string()));

    // type
    let kind = match cget("type") {
        None => return Err("missing `correlation.type`".into()),
        Some(Yaml::String(s)) => CorrelationType::from_name(s).ok_or_else(|| {
            format!(
                "unknown correlation type `{s}` (expected event_count, value_count, temporal, \
                 temporal_ordered, value_sum, value_avg or value_percentile)"
            )
        })?,
        Some(other) => {
            return Err(format!(
                "`correlation.type` must be a string, found {}",
                kind_of(other)
            ))
        }
    };

    // rules
    let rules = match cget("rules") {
        None => return Err("missing `correlation.rules`".into()),
        Some(y) => string_list(y, "correlation.rules")?,
    };
    if rules.is_empty() {
        return Err("`correlation.rules` is empty: a correlation needs at least one rule".into());
    }
    for r in &rules {
        if r.chars().count() < 2 {
            return Err(format!(
                "`correlation.rules` entry `{r}` is too short (rule names and ids have at least 2 characters)"
            ));
        }
    }
    if let Some(d) = first_duplicate(&rules) {
        return Err(format!("`correlation.rules` lists `{d}` twice"));
    }
    if kind.is_temporal() && rules.len() < 2 {
        return Err(format!(
            "`{}` needs at least two rules in `correlation.rules`, found one",
            kind.as_str()
        ));
    }

    // group-by
    // Optional in the Sigma 2.1 JSON schema: without it, every matching
    // event falls in one global group (as `group-by: []`).
    let group_by = match cget("group-by") {
        None => Vec::new(),
        Some(y) => string_list(y, "correlation.group-by")?,
    };
    if let Some(f) = group_by.iter().find(|f| f.is_empty()) {
        return Err(format!(
            "`correlation.group-by` has an empty field name {f:?}"
        ));
    }
    if let Some(d) = first_duplicate(&group_by) {
        return Err(format!("`correlation.group-by` lists `{d}` twice"));
    }

    // timespan
    let (timespan, timespan_text) = match cget("timespan") {
        None => return Err("missing `correlation.timespan`".into()),
        Some(Yaml::String(s)) => (parse_timespan(s)?, s.clone()),
        Some(Yaml::Integer(i)) => {
            return Err(format!(
                "`correlation.timespan: {i}` has no unit: write a number and a lowercase unit, e.g. `{i}s`, `{i}m`"
            ))
        }
        Some(other) => {
            return Err(format!(
                "`correlation.timespan` must be a string such as `5m`, found {}",
                kind_of(other)
            ))
        }
    };

    // aliases
    let aliases = match cget("aliases") {
        None | Some(Yaml::Null) => BTreeMap::new(),
        Some(y) => parse_aliases(y)?,
    };

    // condition
    let (condition, value_fields) = match cget("condition") {
        None | Some(Yaml::Null) => {
            if kind.is_temporal() {
                (None, Vec::new())
            } else {
                return Err(format!(
                    "missing `correlation.condition`, required for {}",
                    kind.as_str()
                ));
            }
        }
        Some(y) => {
            let (c, f) = parse_condition(y, kind, rules.len())?;
            (Some(c), f)
        }
    };

    // generate: top level (spec) or inside correlation (older rules)
    let generate = match (get("generate"), cget("generate")) {
        (Some(_), Some(_)) => {
            return Err("`generate` is given both at top level and in `correlation`".into())
        }
        (Some(y), None) => bool_of(y, "generate")?,
        (None, Some(y)) => bool_of(y, "correlation.generate")?,
        (None, None) => false,
    };

    Ok(CorrelationRule {
        meta,
        kind,
        rules,
        group_by,
        value_fields,
        aliases,
        timespan,
        timespan_text,
        condition,
        generate,
    })
}

/// Parses a Sigma timespan: a positive integer followed by one lowercase
/// unit, `s`, `m`, `h`, `d` (specification) or `w` (weeks, accepted by
/// pySigma). Months and years are refused: they are not fixed durations.
pub fn parse_timespan(s: &str) -> Result<Duration, String> {
    if s.len() > 10 {
        return Err(format!(
            "`correlation.timespan` `{s}` is longer than 10 characters"
        ));
    }
    let unit = s
        .chars()
        .last()
        .ok_or_else(|| "`correlation.timespan` is empty".to_string())?;
    let digits = &s[..s.len() - unit.len_utf8()];
    let secs_per: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'M' | 'y' | 'Y' => {
            return Err(format!(
                "`correlation.timespan` `{s}`: months and years are not fixed durations; use days (e.g. `30d`)"
            ))
        }
        _ => {
            return Err(format!(
                "`correlation.timespan` `{s}` must be a number followed by s, m, h, d or w (lowercase), e.g. `90m`"
            ))
        }
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`correlation.timespan` `{s}` must be a number followed by s, m, h, d or w (lowercase), e.g. `90m`"
        ));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`correlation.timespan` `{s}` is too large"))?;
    if n == 0 {
        return Err(format!(
            "`correlation.timespan` `{s}` is zero: a window must last at least one second"
        ));
    }
    let secs = n
        .checked_mul(secs_per)
        .filter(|&v| v <= i64::MAX as u64 / 1_000_000_000)
        .ok_or_else(|| format!("`correlation.timespan` `{s}` is too large"))?;
    Ok(Duration::from_secs(secs))
}

fn parse_meta(doc: &Yaml) -> Result<CorrelationMetaFields, String> {
    let title = match &doc["title"] {
        Yaml::String(s) if !s.trim().is_empty() => s.clone(),
        Yaml::String(_) => return Err("`title` is empty".into()),
        Yaml::BadValue | Yaml::Null => return Err("missing `title`".into()),
        other => {
            return Err(format!(
                "`title` must be a string, found {}",
                kind_of(other)
            ))
        }
    };
    if title.chars().count() > 256 {
        return Err(format!(
            "`title` has {} characters, more than the 256 allowed",
            title.chars().count()
        ));
    }
    let description = opt_string(doc, "description")?;
    if let Some(d) = &description {
        if d.chars().count() > 65_535 {
            return Err("`description` is longer than 65535 characters".into());
        }
    }
    let status = opt_string(doc, "status")?;
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(format!(
                "unknown `status: {s}` (expected one of {})",
                STATUSES.join(", ")
            ));
        }
    }
    let level = opt_string(doc, "level")?;
    if let Some(l) = &level {
        if level_from_str(l).is_none() {
            return Err(format!(
                "unknown `level: {l}` (expected informational, low, medium, high or critical)"
            ));
        }
    }
    let date = opt_string(doc, "date")?;
    let modified = opt_string(doc, "modified")?;
    for (k, v) in [("date", &date), ("modified", &modified)] {
        if let Some(v) = v {
            if !is_iso_date(v) {
                return Err(format!("`{k}: {v}` is not an ISO 8601 date YYYY-MM-DD"));
            }
        }
    }
    let taxonomy = opt_string(doc, "taxonomy")?;
    if taxonomy.as_ref().is_some_and(|t| t.chars().count() > 256) {
        return Err("`taxonomy` is longer than 256 characters".into());
    }
    let references = opt_list(doc, "references")?;
    if let Some(d) = first_duplicate(&references) {
        return Err(format!("`references` lists `{d}` twice"));
    }
    let falsepositives = match &doc["falsepositives"] {
        Yaml::BadValue | Yaml::Null => Vec::new(),
        Yaml::String(s) => vec![s.clone()],
        y => string_list(y, "falsepositives")?,
    };
    Ok(CorrelationMetaFields {
        title,
        id: opt_string(doc, "id")?,
        name: opt_string(doc, "name")?,
        status,
        description,
        author: opt_string(doc, "author")?,
        level,
        tags: opt_list(doc, "tags")?,
        references,
        falsepositives,
        date,
        modified,
        taxonomy,
    })
}

/// Alias keys are checked against the referenced rules when the
/// correlation is prepared ([`super::CorrelationState::new`]): a rule may
/// be listed by id in `rules:` and named in `aliases:`, which only the rule
/// set can resolve.
fn parse_aliases(y: &Yaml) -> Result<BTreeMap<String, BTreeMap<String, String>>, String> {
    let h = y.as_hash().ok_or_else(|| {
        format!(
            "`correlation.aliases` must be a mapping alias -> (rule -> field), found {}",
            kind_of(y)
        )
    })?;
    let mut out = BTreeMap::new();
    for (k, v) in h {
        let alias = k
            .as_str()
            .ok_or_else(|| format!("`correlation.aliases` has a non-string alias name {k:?}"))?;
        let m = v.as_hash().ok_or_else(|| {
            format!(
                "`correlation.aliases.{alias}` must map rule names to field names, found {}",
                kind_of(v)
            )
        })?;
        if m.is_empty() {
            return Err(format!("`correlation.aliases.{alias}` maps no rule"));
        }
        let mut map = BTreeMap::new();
        for (rk, fv) in m {
            let rule = rk.as_str().ok_or_else(|| {
                format!("`correlation.aliases.{alias}` has a non-string rule name {rk:?}")
            })?;
            let field = match fv {
                Yaml::String(s) if !s.is_empty() => s.clone(),
                other => {
                    return Err(format!(
                        "`correlation.aliases.{alias}.{rule}` must be a field name, found {}",
                        kind_of(other)
                    ))
                }
            };
            map.insert(rule.to_string(), field);
        }
        out.insert(alias.to_string(), map);
    }
    Ok(out)
}

fn parse_condition(
    y: &Yaml,
    kind: CorrelationType,
    n_rules: usize,
) -> Result<(Condition, Vec<String>), String> {
    let h = y.as_hash().ok_or_else(|| {
        format!(
            "`correlation.condition` must be a mapping such as `gte: 10`, found {}",
            kind_of(y)
        )
    })?;
    let mut comparisons = Vec::new();
    let mut fields: Option<Vec<String>> = None;
    let mut percentile = None;
    for (k, v) in h {
        let key = k
            .as_str()
            .ok_or_else(|| format!("non-string key {k:?} in `correlation.condition`"))?;
        if key == "field" {
            let list = match v {
                Yaml::String(s) => vec![s.clone()],
                Yaml::Array(_) if kind == CorrelationType::ValueCount => {
                    string_list(v, "correlation.condition.field")?
                }
                Yaml::Array(_) => {
                    return Err(format!(
                        "`correlation.condition.field` must be a single field for {} (a list is only allowed for value_count)",
                        kind.as_str()
                    ))
                }
                other => {
                    return Err(format!(
                        "`correlation.condition.field` must be a field name, found {}",
                        kind_of(other)
                    ))
                }
            };
            if list.is_empty() || list.iter().any(|f| f.is_empty()) {
                return Err("`correlation.condition.field` is empty".into());
            }
            if list.iter().any(|f| f.chars().count() > 256) {
                return Err("`correlation.condition.field` is longer than 256 characters".into());
            }
            if let Some(d) = first_duplicate(&list) {
                return Err(format!("`correlation.condition.field` lists `{d}` twice"));
            }
            fields = Some(list);
            continue;
        }
        if key == "percentile" {
            if kind != CorrelationType::ValuePercentile {
                return Err(format!(
                    "`correlation.condition.percentile` is only meaningful for value_percentile, not {}",
                    kind.as_str()
                ));
            }
            let p = number_of(v, "correlation.condition.percentile")?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!(
                    "`correlation.condition.percentile: {p}` must be between 0 and 100"
                ));
            }
            percentile = Some(p);
            continue;
        }
        let op = CmpOp::from_name(key).ok_or_else(|| {
            format!(
                "unknown operator `{key}` in `correlation.condition` (expected gt, gte, lt, lte, eq, neq{})",
                if kind.needs_field() { " and field" } else { "" }
            )
        })?;
        let t = number_of(v, &format!("correlation.condition.{key}"))?;
        if counts_integers(kind) && (t.fract() != 0.0 || t < 0.0) {
            return Err(format!(
                "`correlation.condition.{key}: {t}` must be a non-negative integer for {}",
                kind.as_str()
            ));
        }
        comparisons.push((op, t));
    }
    if comparisons.is_empty() {
        return Err(
            "`correlation.condition` has no comparison: give at least one of gt, gte, lt, lte, eq, neq"
                .into(),
        );
    }
    let value_fields = match (kind.needs_field(), fields) {
        (true, Some(f)) => f,
        (true, None) => {
            return Err(format!(
                "`correlation.condition.field` is required for {}",
                kind.as_str()
            ))
        }
        (false, Some(_)) => {
            return Err(format!(
                "`correlation.condition.field` is not used by {}: remove it or use value_count",
                kind.as_str()
            ))
        }
        (false, None) => Vec::new(),
    };
    let cond = Condition {
        comparisons,
        percentile,
    };
    check_satisfiable(&cond, kind, n_rules)?;
    Ok((cond, value_fields))
}

/// Types whose aggregated value is a count (integer thresholds only).
fn counts_integers(kind: CorrelationType) -> bool {
    matches!(
        kind,
        CorrelationType::EventCount
            | CorrelationType::ValueCount
            | CorrelationType::Temporal
            | CorrelationType::TemporalOrdered
    )
}

/// Refuses conditions that can never hold (`gt: 10` + `lt: 11` on a count,
/// `gte: 4` on a temporal rule over three rules): such a rule would load
/// and silently never fire.
fn check_satisfiable(
    cond: &Condition,
    kind: CorrelationType,
    n_rules: usize,
) -> Result<(), String> {
    let mut thresholds: Vec<f64> = cond.comparisons.iter().map(|(_, t)| *t).collect();
    thresholds.sort_by(f64::total_cmp);
    let mut candidates = vec![0.0];
    for (i, t) in thresholds.iter().enumerate() {
        candidates.extend([*t, t - 1.0, t + 1.0]);
        if !counts_integers(kind) {
            candidates.extend([t - 0.5, t + 0.5]);
            if let Some(next) = thresholds.get(i + 1) {
                candidates.push((t + next) / 2.0);
            }
        }
    }
    let (lo, hi) = match kind {
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => (0.0, n_rules as f64),
        CorrelationType::EventCount | CorrelationType::ValueCount => (0.0, f64::INFINITY),
        CorrelationType::ValuePercentile if cond.percentile.is_none() => (0.0, 100.0),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    };
    let ok = candidates
        .iter()
        .filter(|v| **v >= lo && **v <= hi)
        .any(|v| cond.holds(*v));
    if ok {
        Ok(())
    } else {
        let text: Vec<String> = cond
            .comparisons
            .iter()
            .map(|(op, t)| format!("{} {t}", op.as_str()))
            .collect();
        let domain = match kind {
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
                format!(
                    " (a {} value is between 0 and {n_rules}, the number of rules)",
                    kind.as_str()
                )
            }
            CorrelationType::ValuePercentile if cond.percentile.is_none() => {
                " (a share of events is between 0 and 100)".to_string()
            }
            _ => String::new(),
        };
        Err(format!(
            "`correlation.condition` ({}) can never hold{domain}",
            text.join(" and ")
        ))
    }
}

fn number_of(y: &Yaml, key: &str) -> Result<f64, String> {
    match y {
        Yaml::Integer(i) => Ok(*i as f64),
        Yaml::Real(_) => y
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("`{key}` is not a finite number")),
        other => Err(format!(
            "`{key}` must be a number, found {}",
            kind_of(other)
        )),
    }
}

fn bool_of(y: &Yaml, key: &str) -> Result<bool, String> {
    y.as_bool()
        .ok_or_else(|| format!("`{key}` must be true or false, found {}", kind_of(y)))
}

fn string_list(y: &Yaml, key: &str) -> Result<Vec<String>, String> {
    match y {
        Yaml::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, it)| match it {
                Yaml::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "`{key}` item {} must be a string, found {}",
                    i + 1,
                    kind_of(other)
                )),
            })
            .collect(),
        other => Err(format!("`{key}` must be a list, found {}", kind_of(other))),
    }
}

fn opt_string(doc: &Yaml, key: &str) -> Result<Option<String>, String> {
    match &doc[key] {
        Yaml::BadValue | Yaml::Null => Ok(None),
        Yaml::String(s) => Ok(Some(s.clone())),
        other => Err(format!(
            "`{key}` must be a string, found {}",
            kind_of(other)
        )),
    }
}

fn opt_list(doc: &Yaml, key: &str) -> Result<Vec<String>, String> {
    match &doc[key] {
        Yaml::BadValue | Yaml::Null => Ok(Vec::new()),
        y => string_list(y, key),
    }
}

fn first_duplicate(items: &[String]) -> Option<&str> {
    items
        .iter()
        .enumerate()
        .find(|(i, it)| items[..*i].contains(it))
        .map(|(_, it)| it.as_str())
}

/// `YYYY-MM-DD` with month 01-12 and day 01-31 (the schema's pattern).
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r.clone()].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return false;
    }
    let month: u32 = s[5..7].parse().unwrap_or(0);
    let day: u32 = s[8..10].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn kind_of(y: &Yaml) -> &'static str {
    match y {
        Yaml::Real(_) | Yaml::Integer(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Boolean(_) => "a boolean",
        Yaml::Array(_) => "a list",
        Yaml::Hash(_) => "a mapping",
        Yaml::Alias(_) => "an alias",
        Yaml::Null => "null",
        Yaml::BadValue => "nothing",
    }
}
