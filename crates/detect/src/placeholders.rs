//! Values of `%name%` placeholders (Sigma's `expand` modifier).
//!
//! A placeholder stands for what only the organisation knows: its
//! administrators, its domain controllers, its admin workstations.
//! SigmaHQ ships 25 rules that cannot run without them
//! (`rules-placeholder/`, two CVE-2026-54121 rules). The specification
//! requires a tool that cannot resolve a placeholder to reject the rule;
//! Vigie does, naming the placeholder, and takes values from
//!
//! * a placeholders file (`--placeholders FILE`), in pySigma's form: a
//!   YAML map of name to value or list of values, or a whole pySigma
//!   processing pipeline, whose `vars:` map is the same thing;
//! * any [`PlaceholderSource`] the caller has (the organisation's assets
//!   file: hosts with role `domain_controller` for `%DomainControllers%`),
//!   for the names the file leaves open ([`Placeholders::fill_missing`]).
//!
//! Semantics are pySigma's `value_placeholders` transformation: a value
//! holding `%name%` becomes one alternative per value of `name` (several
//! placeholders in one value: every combination), and each value is
//! Sigma text, so `*` and `?` in it are wildcards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yaml_rust2::Yaml;

use crate::quote::quote;
use crate::yaml::{self, Budget, LIMITS};

/// Largest placeholders file read, in bytes.
pub const MAX_PLACEHOLDERS_FILE: u64 = 16 << 20;

/// Placeholder values by name (names are case-sensitive, as in pySigma).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    values: BTreeMap<String, Vec<String>>,
}

/// Something that can give placeholder values (the assets file).
pub trait PlaceholderSource {
    /// The values of placeholder `name`, or `None` when the source does
    /// not know it.
    fn placeholder_values(&self, name: &str) -> Option<Vec<String>>;
}

/// Why a placeholders file could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("placeholders file {}: {reason}", path.display())]
pub struct PlaceholdersError {
    pub path: PathBuf,
    pub reason: String,
}

impl Placeholders {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the values of `name` (replacing any).
    pub fn insert(&mut self, name: impl Into<String>, values: Vec<String>) {
        self.values.insert(name.into(), values);
    }

    /// The values of `name`.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.values.get(name).map(Vec::as_slice)
    }

    /// The names that have values, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Adds the names of `other` that this map does not have (a file
    /// given by the user wins over what is derived).
    pub fn merge_missing(&mut self, other: &Placeholders) {
        for (k, v) in &other.values {
            self.values.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }

    /// Asks `source` for each of `names` that has no value yet; returns
    /// the names it answered. Typical use, before compiling:
    /// `placeholders.fill_missing(set.placeholder_names(), &assets)`.
    pub fn fill_missing<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
        source: &dyn PlaceholderSource,
    ) -> Vec<String> {
        let mut answered = Vec::new();
        for n in names {
            if self.values.contains_key(n) {
                continue;
            }
            if let Some(v) = source.placeholder_values(n) {
                if !v.is_empty() {
                    self.values.insert(n.to_string(), v);
                    answered.push(n.to_string());
                }
            }
        }
        answered
    }

    /// Reads a placeholders file (see the module documentation).
    pub fn load(path: &Path) -> Result<Placeholders, PlaceholdersError> {
        let err = |reason: String| PlaceholdersError {
            path: path.to_path_buf(),
            reason,
        };
        let text =
            crate::load::read_bounded(path, MAX_PLACEHOLDERS_FILE).map_err(|f| err(f.reason))?;
        Self::parse(&text).map_err(err)
    }

    /// Parses the text of a placeholders file.
    pub fn parse(text: &str) -> Result<Placeholders, String> {
        let stream = yaml::load(text, &mut Budget::default(), &LIMITS);
        if let Some(e) = stream.error {
            return Err(format!("YAML error: {e}"));
        }
        let mut docs = stream
            .docs
            .into_iter()
            .filter(|d| !matches!(d, Ok(Yaml::Null | Yaml::BadValue)));
        let doc = match (docs.next(), docs.next()) {
            (None, _) => return Ok(Placeholders::default()),
            (Some(_), Some(_)) => return Err("more than one YAML document".into()),
            (Some(Err(p)), None) => return Err(p.reason),
            (Some(Ok(d)), None) => d,
        };
        let Yaml::Hash(top) = &doc else {
            return Err("expected a map of placeholder names to values".into());
        };
        // A pySigma processing pipeline: its `vars:` are the placeholders.
        let map = match top.get(&Yaml::String("vars".into())) {
            Some(Yaml::Hash(vars)) => vars,
            _ => top,
        };
        let mut out = Placeholders::default();
        for (k, v) in map {
            let name = match k {
                Yaml::String(s) if !s.is_empty() && !s.contains('%') => s.clone(),
                _ => {
                    return Err(format!(
                        "placeholder names are non-empty text without '%' (found {})",
                        describe(k)
                    ))
                }
            };
            let values = match v {
                Yaml::Array(items) => items
                    .iter()
                    .map(|i| value_text(i).ok_or_else(|| bad_value(&name, i)))
                    .collect::<Result<Vec<_>, _>>()?,
                other => vec![value_text(other).ok_or_else(|| bad_value(&name, other))?],
            };
            if values.is_empty() {
                return Err(format!(
                    "placeholder {} has an empty list: give at least one value",
                    quote(&name)
                ));
            }
            out.values.insert(name, values);
        }
        Ok(out)
    }
}

/// A value as pySigma takes it: text or a number.
fn value_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn bad_value(name: &str, y: &Yaml) -> String {
    format!(
        "placeholder {}: values are text or numbers (found {})",
        quote(name),
        describe(y)
    )
}

fn describe(y: &Yaml) -> String {
    match y {
        Yaml::String(s) | Yaml::Real(s) => quote(s),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".into(),
        Yaml::Array(_) => "a list".into(),
        Yaml::Hash(_) => "a map".into(),
        _ => "an unsupported value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pysigma_vars_form() {
        let p = Placeholders::parse(
            "Admins_Workstations:\n  - 'ADM-*'\n  - PAW01\nAdministrators: adm_*\nport: 445\n",
        )
        .unwrap();
        assert_eq!(
            p.get("Admins_Workstations").unwrap(),
            ["ADM-*".to_string(), "PAW01".to_string()]
        );
        assert_eq!(p.get("Administrators").unwrap(), ["adm_*".to_string()]);
        assert_eq!(p.get("port").unwrap(), ["445".to_string()]);
        let pipeline = "name: my pipeline\npriority: 10\nvars:\n  Workstations: [PC-*]\ntransformations:\n  - type: value_placeholders\n";
        let p = Placeholders::parse(pipeline).unwrap();
        assert_eq!(p.names().collect::<Vec<_>>(), ["Workstations"]);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert!(Placeholders::parse("- a\n- b\n")
            .unwrap_err()
            .contains("map of placeholder names"));
        assert!(Placeholders::parse("A: {x: 1}\n")
            .unwrap_err()
            .contains("placeholder 'A': values are text or numbers (found a map)"));
        assert!(Placeholders::parse("A: []\n")
            .unwrap_err()
            .contains("empty list"));
        assert!(Placeholders::parse("A: [x\n").unwrap_err().contains("YAML"));
        assert!(Placeholders::parse("'%A%': x\n")
            .unwrap_err()
            .contains("without '%'"));
        assert!(Placeholders::parse("").unwrap().is_empty());
    }

    struct Roles;
    impl PlaceholderSource for Roles {
        fn placeholder_values(&self, name: &str) -> Option<Vec<String>> {
            (name == "DomainControllers").then(|| vec!["DC01".into(), "DC02".into()])
        }
    }

    #[test]
    fn a_source_fills_only_what_is_missing() {
        let mut p = Placeholders::parse("DomainControllers: [FROM-FILE]\n").unwrap();
        let answered = p.fill_missing(["DomainControllers", "Workstations"], &Roles);
        assert!(answered.is_empty());
        assert_eq!(
            p.get("DomainControllers").unwrap(),
            ["FROM-FILE".to_string()]
        );
        let mut p = Placeholders::new();
        let answered = p.fill_missing(["DomainControllers", "Workstations"], &Roles);
        assert_eq!(answered, ["DomainControllers"]);
        assert!(p.get("Workstations").is_none());
    }
}
