//! YAML documents → rule ASTs (detection rules and filters).
//!
//! This is pure syntax: values stay as written and modifiers are only
//! parsed (unknown modifiers, malformed detections and conditions are
//! rejected here with a precise reason). Turning values into matchers needs
//! the engine configuration (field mapping, placeholders) and happens in
//! [`crate::compile`].

use std::path::Path;

use yaml_rust2::Yaml;

use std::collections::BTreeSet;

use crate::condition::{parse_condition, CondAst};
use crate::modifier::{parse_key, Modifier};
use crate::quote::quote;
use crate::{Fail, FailureKind, Level, LogSource, RuleKind, RuleMeta};

/// A rule value as written in YAML.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// One `field|modifiers: values` item (field `None`: keywords).
#[derive(Debug, Clone)]
pub(crate) struct FieldAst {
    pub field: Option<String>,
    pub modifiers: Vec<Modifier>,
    pub values: Vec<RawValue>,
}

/// A search identifier: an OR of alternatives, each an AND of items.
#[derive(Debug, Clone)]
pub(crate) struct SearchAst {
    pub name: String,
    pub alternatives: Vec<Vec<FieldAst>>,
}

/// The `detection` section.
#[derive(Debug, Clone)]
pub(crate) struct DetectionAst {
    pub searches: Vec<SearchAst>,
    /// Conditions (a list is OR-ed), parsed and checked against the
    /// search identifiers at load time.
    pub condition: CondAst,
    /// The conditions as written (messages, the filter migration note).
    pub condition_text: Vec<String>,
}

impl DetectionAst {
    /// Adds the `%name%` placeholders of its `expand` values to `out`.
    pub fn placeholder_names(&self, out: &mut BTreeSet<String>) {
        for fa in self
            .searches
            .iter()
            .flat_map(|s| s.alternatives.iter().flatten())
        {
            if !fa.modifiers.contains(&Modifier::Expand) {
                continue;
            }
            for v in &fa.values {
                if let RawValue::Str(s) = v {
                    out.extend(crate::compile::placeholder_names(s));
                }
            }
        }
    }
}

/// A detection rule, parsed.
#[derive(Debug, Clone)]
pub(crate) struct ParsedRule {
    pub meta: RuleMeta,
    /// Index of the YAML document in its file.
    pub document: usize,
    pub detection: DetectionAst,
}

/// A Sigma filter document.
#[derive(Debug, Clone)]
pub(crate) struct ParsedFilter {
    pub meta: RuleMeta,
    pub document: usize,
    /// Rule ids or names the filter applies to (rules of its logsource
    /// only, as in pySigma and rsigma); empty (`rules: any`, `all`, `[]`
    /// or no `rules`): every rule of the filter's logsource.
    pub rules: Vec<String>,
    pub detection: DetectionAst,
}

impl ParsedFilter {
    /// Whether the filter's condition reads as pySigma's and rsigma's
    /// filters are written (`not selection`): a condition that does not
    /// start with `not` keeps only the events it describes, which before
    /// Vigie 0.2 was how it dropped them (see docs/sigma.md, "Filters").
    pub fn condition_keeps_matches(&self) -> bool {
        !self
            .detection
            .condition_text
            .iter()
            .all(|c| c.trim_start().to_ascii_lowercase().starts_with("not"))
    }
}

pub(crate) fn get<'a>(doc: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    match doc {
        Yaml::Hash(h) => h.get(&Yaml::String(key.to_string())),
        _ => None,
    }
}

pub(crate) fn get_str(doc: &Yaml, key: &str) -> Option<String> {
    match get(doc, key)? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get_list(doc: &Yaml, key: &str) -> Vec<String> {
    match get(doc, key) {
        Some(Yaml::Array(a)) => a
            .iter()
            .filter_map(|y| match y {
                Yaml::String(s) => Some(s.clone()),
                Yaml::Integer(i) => Some(i.to_string()),
                _ => None,
            })
            .collect(),
        Some(Yaml::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

pub(crate) fn parse_level(s: &str) -> Option<Level> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "informational" => Level::Informational,
        "low" => Level::Low,
        "medium" => Level::Medium,
        "high" => Level::High,
        "critical" => Level::Critical,
        _ => return None,
    })
}

/// The metadata every rule kind has.
pub(crate) fn parse_meta(doc: &Yaml, kind: RuleKind, path: &Path) -> Result<RuleMeta, String> {
    let title = match get(doc, "title") {
        Some(Yaml::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => return Err("'title' must be a non-empty string".into()),
        None => return Err("missing 'title'".into()),
    };
    let level = match get_str(doc, "level") {
        Some(l) => Some(parse_level(&l).ok_or_else(|| format!("unknown level '{l}'"))?),
        None => None,
    };
    let ls = get(doc, "logsource");
    let logsource = match ls {
        Some(y @ Yaml::Hash(_)) => LogSource {
            product: get_str(y, "product"),
            category: get_str(y, "category"),
            service: get_str(y, "service"),
        },
        Some(_) => return Err("'logsource' must be a map".into()),
        None if kind == RuleKind::Correlation => LogSource::default(),
        None => return Err("missing 'logsource'".into()),
    };
    Ok(RuleMeta {
        id: get_str(doc, "id"),
        name: get_str(doc, "name"),
        title,
        kind,
        level,
        status: get_str(doc, "status"),
        description: get_str(doc, "description"),
        author: get_str(doc, "author"),
        tags: get_list(doc, "tags"),
        references: get_list(doc, "references"),
        falsepositives: get_list(doc, "falsepositives"),
        logsource,
        path: path.to_path_buf(),
    })
}

fn raw_value(y: &Yaml) -> Result<RawValue, String> {
    Ok(match y {
        Yaml::String(s) => RawValue::Str(s.clone()),
        Yaml::Integer(i) => RawValue::Int(*i),
        Yaml::Real(r) => match r.parse::<f64>() {
            Ok(f) => RawValue::Float(f),
            Err(_) => RawValue::Str(r.clone()),
        },
        Yaml::Boolean(b) => RawValue::Bool(*b),
        Yaml::Null => RawValue::Null,
        Yaml::Array(_) => return Err("nested list as a value".into()),
        Yaml::Hash(_) => return Err("map as a value".into()),
        _ => return Err("unsupported YAML value".into()),
    })
}

fn values_of(y: &Yaml) -> Result<Vec<RawValue>, String> {
    match y {
        Yaml::Array(a) => a.iter().map(raw_value).collect(),
        other => Ok(vec![raw_value(other)?]),
    }
}

fn parse_map(h: &yaml_rust2::yaml::Hash, ident: &str) -> Result<Vec<FieldAst>, String> {
    let mut out = Vec::with_capacity(h.len());
    for (k, v) in h {
        let key = match k {
            Yaml::String(s) => s.clone(),
            Yaml::Integer(i) => i.to_string(),
            _ => {
                return Err(format!(
                    "search identifier '{ident}': non-string field name"
                ))
            }
        };
        let (field, modifiers) =
            parse_key(&key).map_err(|e| format!("search identifier '{ident}': {e}"))?;
        let values =
            values_of(v).map_err(|e| format!("search identifier '{ident}', '{key}': {e}"))?;
        if values.is_empty() {
            return Err(format!(
                "search identifier '{ident}', '{key}': empty value list"
            ));
        }
        out.push(FieldAst {
            field,
            modifiers,
            values,
        });
    }
    Ok(out)
}

fn parse_search(name: &str, y: &Yaml) -> Result<SearchAst, String> {
    let mut alternatives = Vec::new();
    match y {
        Yaml::Hash(h) => {
            if h.is_empty() {
                return Err(format!("search identifier '{name}' is empty"));
            }
            alternatives.push(parse_map(h, name)?)
        }
        Yaml::Array(items) => {
            let mut keywords = Vec::new();
            for it in items {
                match it {
                    Yaml::Hash(h) => alternatives.push(parse_map(h, name)?),
                    other => keywords.push(
                        raw_value(other).map_err(|e| format!("search identifier '{name}': {e}"))?,
                    ),
                }
            }
            if !keywords.is_empty() {
                alternatives.push(vec![FieldAst {
                    field: None,
                    modifiers: Vec::new(),
                    values: keywords,
                }]);
            }
            if alternatives.is_empty() {
                return Err(format!("search identifier '{name}' is an empty list"));
            }
        }
        Yaml::String(_) | Yaml::Integer(_) | Yaml::Real(_) => alternatives.push(vec![FieldAst {
            field: None,
            modifiers: Vec::new(),
            values: vec![raw_value(y)?],
        }]),
        _ => {
            return Err(format!(
                "search identifier '{name}' has an unsupported form"
            ))
        }
    }
    Ok(SearchAst {
        name: name.to_string(),
        alternatives,
    })
}

/// Parses a `detection` (or filter `filter`) section; `extra_keys` are
/// keys that are not search identifiers (`rules` for filters).
pub(crate) fn parse_detection(y: &Yaml, extra_keys: &[&str]) -> Result<DetectionAst, Fail> {
    let Yaml::Hash(h) = y else {
        return Err("'detection' must be a map".into());
    };
    let mut searches = Vec::new();
    let mut cond: Option<&Yaml> = None;
    for (k, v) in h {
        let Yaml::String(k) = k else {
            return Err("detection keys must be strings".into());
        };
        if k == "condition" {
            cond = Some(v);
        } else if k == "timeframe" || extra_keys.contains(&k.as_str()) {
            continue;
        } else {
            searches.push(parse_search(k, v)?);
        }
    }
    let conds: Vec<String> = match cond {
        None => return Err("detection has no 'condition'".into()),
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Array(a)) => a
            .iter()
            .map(|c| match c {
                Yaml::String(s) => Ok(s.clone()),
                _ => Err("condition list items must be strings".to_string()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("condition must be a string or a list of strings".into()),
    };
    if conds.is_empty() {
        return Err("empty condition list".into());
    }
    let mut asts = Vec::new();
    for c in &conds {
        let a =
            parse_condition(c).map_err(|e| e.context(format!("bad condition {}: ", quote(c))))?;
        asts.push(a);
    }
    let condition = if asts.len() == 1 {
        asts.remove(0)
    } else {
        CondAst::Or(asts)
    };
    // Check identifiers now, so that a bad condition is a load failure.
    let names: Vec<String> = searches.iter().map(|s| s.name.clone()).collect();
    crate::condition::resolve(&condition, &names).map_err(|e| format!("bad condition: {e}"))?;
    Ok(DetectionAst {
        searches,
        condition,
        condition_text: conds,
    })
}

/// A parsed document of any kind.
pub(crate) enum Doc {
    Detection(ParsedRule),
    Filter(ParsedFilter),
}

/// The `rules:` of a filter: rule ids or names; empty for every rule of
/// its logsource (`any`, `all`, `[]`, or no `rules`, as rsigma reads it).
fn filter_rules(f: &Yaml) -> Result<Vec<String>, Fail> {
    match get(f, "rules") {
        None => Ok(Vec::new()),
        Some(Yaml::String(s)) if s.eq_ignore_ascii_case("any") || s.eq_ignore_ascii_case("all") => {
            Ok(Vec::new())
        }
        Some(Yaml::String(s)) => Ok(vec![s.clone()]),
        Some(Yaml::Array(a)) => a
            .iter()
            .map(|y| match y {
                Yaml::String(s) => Ok(s.clone()),
                _ => Err("filter: 'rules' items must be rule ids or names".into()),
            })
            .collect(),
        Some(_) => {
            Err("filter: 'rules' must be 'any', a rule id or name, or a list of them".into())
        }
    }
}

/// Whether a document is a Sigma rule of some kind (as opposed to another
/// YAML file that happens to sit among rules).
pub(crate) fn is_rule_document(doc: &Yaml) -> bool {
    ["detection", "filter", "correlation", "action", "logsource"]
        .iter()
        .any(|k| get(doc, k).is_some())
}

/// Parses a detection rule or filter document (correlations are handled
/// by the caller).
pub(crate) fn parse_doc(doc: &Yaml, path: &Path) -> Result<Doc, Fail> {
    if !is_rule_document(doc) {
        return Err(Fail::new(
            FailureKind::NotARule,
            "not a Sigma rule: no 'detection', 'filter', 'correlation' or 'logsource'",
        ));
    }
    if get(doc, "filter").is_some() && get(doc, "detection").is_none() {
        let meta = parse_meta(doc, RuleKind::Filter, path)?;
        let f = get(doc, "filter").expect("checked");
        let rules = filter_rules(f)?;
        let detection = parse_detection(f, &["rules"]).map_err(|e| e.context("filter: "))?;
        return Ok(Doc::Filter(ParsedFilter {
            meta,
            document: 0,
            rules,
            detection,
        }));
    }
    let meta = parse_meta(doc, RuleKind::Detection, path)?;
    let det = get(doc, "detection").ok_or("missing 'detection'")?;
    let detection = parse_detection(det, &[])?;
    Ok(Doc::Detection(ParsedRule {
        meta,
        document: 0,
        detection,
    }))
}
