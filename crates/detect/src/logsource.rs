//! Logsource mapping: which channels / event ids a rule's
//! product/category/service stands for, and how rule field names map to
//! event field names. Data, not code: the built-in table is
//! `data/logsources.yml`, users add their own files of the same format.

use std::collections::HashMap;
use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use crate::rule::get;
use crate::LogSource;

/// One logsource variant: where events of a (product, category, service)
/// are found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogsourceEntry {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    /// Channels (empty: any channel).
    pub channels: Vec<String>,
    /// Event ids (empty: any id).
    pub event_ids: Vec<u32>,
    /// Extra field conditions (field, accepted values; case-insensitive).
    pub conditions: Vec<(String, Vec<String>)>,
    /// Rule field → event field for this variant.
    pub fieldmappings: Vec<(String, String)>,
}

/// A named field mapping (e.g. `ecs`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldMapping {
    /// Tried for every field: `prefix` + rule field.
    pub prefix: Option<String>,
    /// Specific targets per rule field, tried first.
    pub fields: HashMap<String, Vec<String>>,
}

/// The logsource and field mapping tables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogsourceMapping {
    pub entries: Vec<LogsourceEntry>,
    pub field_mappings: HashMap<String, FieldMapping>,
}

const BUILTIN: &str = include_str!("../data/logsources.yml");

fn strs(y: Option<&Yaml>) -> Vec<String> {
    match y {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Integer(i)) => vec![i.to_string()],
        Some(Yaml::Array(a)) => a
            .iter()
            .filter_map(|v| match v {
                Yaml::String(s) => Some(s.clone()),
                Yaml::Integer(i) => Some(i.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn lower(y: Option<&Yaml>) -> Option<String> {
    match y {
        Some(Yaml::String(s)) => Some(s.to_ascii_lowercase()),
        _ => None,
    }
}

impl LogsourceMapping {
    /// The built-in table.
    pub fn builtin() -> Self {
        Self::from_yaml_str(BUILTIN).expect("built-in logsource table is valid")
    }

    /// Parses a mapping file.
    pub fn from_yaml_str(s: &str) -> Result<Self, String> {
        let docs = YamlLoader::load_from_str(s).map_err(|e| format!("YAML error: {e}"))?;
        let mut out = LogsourceMapping::default();
        for doc in &docs {
            if let Some(Yaml::Array(items)) = get(doc, "logsources") {
                for (i, it) in items.iter().enumerate() {
                    if !matches!(it, Yaml::Hash(_)) {
                        return Err(format!("logsources[{i}] is not a map"));
                    }
                    let mut e = LogsourceEntry {
                        product: lower(get(it, "product")),
                        category: lower(get(it, "category")),
                        service: lower(get(it, "service")),
                        channels: strs(get(it, "channel")),
                        ..Default::default()
                    };
                    if e.category.is_none() && e.service.is_none() {
                        return Err(format!("logsources[{i}] has neither category nor service"));
                    }
                    for id in strs(get(it, "event_id")) {
                        e.event_ids.push(
                            id.parse()
                                .map_err(|_| format!("logsources[{i}]: bad event_id '{id}'"))?,
                        );
                    }
                    if let Some(Yaml::Hash(h)) = get(it, "conditions") {
                        for (k, v) in h {
                            if let Yaml::String(k) = k {
                                e.conditions.push((k.clone(), strs(Some(v))));
                            }
                        }
                    }
                    if let Some(Yaml::Hash(h)) = get(it, "fieldmappings") {
                        for (k, v) in h {
                            if let (Yaml::String(k), Yaml::String(v)) = (k, v) {
                                e.fieldmappings.push((k.clone(), v.clone()));
                            }
                        }
                    }
                    out.entries.push(e);
                }
            }
            if let Some(Yaml::Hash(h)) = get(doc, "field_mappings") {
                for (name, def) in h {
                    let Yaml::String(name) = name else { continue };
                    let mut fm = FieldMapping {
                        prefix: match get(def, "prefix") {
                            Some(Yaml::String(p)) => Some(p.clone()),
                            _ => None,
                        },
                        ..Default::default()
                    };
                    if let Some(Yaml::Hash(f)) = get(def, "fields") {
                        for (k, v) in f {
                            if let Yaml::String(k) = k {
                                fm.fields.insert(k.clone(), strs(Some(v)));
                            }
                        }
                    }
                    out.field_mappings.insert(name.to_ascii_lowercase(), fm);
                }
            }
        }
        Ok(out)
    }

    /// Adds a user table: its entries replace built-in entries of the same
    /// (product, category, service); its field mappings replace those of
    /// the same name.
    pub fn extend(&mut self, other: LogsourceMapping) {
        let keys: Vec<_> = other
            .entries
            .iter()
            .map(|e| (e.product.clone(), e.category.clone(), e.service.clone()))
            .collect();
        self.entries.retain(|e| {
            !keys.contains(&(e.product.clone(), e.category.clone(), e.service.clone()))
        });
        self.entries.extend(other.entries);
        self.field_mappings.extend(other.field_mappings);
    }

    /// Reads and adds a user mapping file.
    pub fn extend_file(&mut self, path: &Path) -> Result<(), String> {
        let s = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.extend(Self::from_yaml_str(&s).map_err(|e| format!("{}: {e}", path.display()))?);
        Ok(())
    }

    /// Where the events of a rule's logsource are.
    pub fn resolve(&self, ls: &LogSource) -> Scope<'_> {
        let p = ls.product.as_deref().map(str::to_ascii_lowercase);
        let c = ls.category.as_deref().map(str::to_ascii_lowercase);
        let s = ls.service.as_deref().map(str::to_ascii_lowercase);
        let product_ok = |e: &LogsourceEntry| match (&e.product, &p) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        if c.is_some() {
            let v: Vec<&LogsourceEntry> = self
                .entries
                .iter()
                .filter(|e| e.category.is_some() && e.category == c && product_ok(e))
                .collect();
            if !v.is_empty() {
                return Scope::Variants(v);
            }
        }
        if s.is_some() {
            let v: Vec<&LogsourceEntry> = self
                .entries
                .iter()
                .filter(|e| e.category.is_none() && e.service == s && product_ok(e))
                .collect();
            if !v.is_empty() {
                return Scope::Variants(v);
            }
        }
        match p {
            Some(p) => Scope::Product(p),
            None if c.is_none() && s.is_none() => Scope::Unrestricted,
            None => Scope::NonWindows,
        }
    }
}

/// The result of resolving a rule's logsource.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope<'a> {
    /// Known variants: evaluate on their channels / event ids only.
    Variants(Vec<&'a LogsourceEntry>),
    /// Unknown category/service of a known product: evaluate on every
    /// event of that product family (Windows events for `windows`,
    /// non-Windows events for any other product).
    Product(String),
    /// A category or service that no entry maps, and no product (e.g.
    /// `category: proxy`, `category: webserver`): the rule is for some
    /// appliance's logs, never for Windows event logs, whose every channel
    /// is a known logsource. Evaluate on every non-Windows event.
    NonWindows,
    /// No logsource at all: evaluate on every event.
    Unrestricted,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(p: Option<&str>, c: Option<&str>, s: Option<&str>) -> LogSource {
        LogSource {
            product: p.map(Into::into),
            category: c.map(Into::into),
            service: s.map(Into::into),
        }
    }

    #[test]
    fn builtin_maps_process_creation_to_sysmon_and_security() {
        let m = LogsourceMapping::builtin();
        match m.resolve(&ls(Some("windows"), Some("process_creation"), None)) {
            Scope::Variants(v) => {
                assert_eq!(v.len(), 2);
                assert_eq!(v[0].channels, vec!["Microsoft-Windows-Sysmon/Operational"]);
                assert_eq!(v[0].event_ids, vec![1]);
                assert_eq!(v[1].event_ids, vec![4688]);
                assert!(v[1]
                    .fieldmappings
                    .contains(&("Image".into(), "NewProcessName".into())));
            }
            s => panic!("{s:?}"),
        }
        match m.resolve(&ls(Some("windows"), None, Some("security"))) {
            Scope::Variants(v) => {
                assert_eq!(v[0].channels, vec!["Security"]);
                assert!(v[0].event_ids.is_empty());
            }
            s => panic!("{s:?}"),
        }
        // Sysmon for Linux.
        match m.resolve(&ls(Some("linux"), Some("process_creation"), None)) {
            Scope::Variants(v) => {
                assert_eq!(v.len(), 1);
                assert_eq!(v[0].channels, vec!["Linux-Sysmon/Operational"]);
                assert_eq!(v[0].event_ids, vec![1]);
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(
            m.resolve(&ls(Some("linux"), Some("file_access"), None)),
            Scope::Product("linux".into())
        );
        assert_eq!(
            m.resolve(&ls(Some("windows"), Some("file_access"), None)),
            Scope::Product("windows".into())
        );
        assert_eq!(m.resolve(&ls(None, Some("proxy"), None)), Scope::NonWindows);
        assert_eq!(m.resolve(&ls(None, None, None)), Scope::Unrestricted);
        assert!(m.field_mappings.contains_key("ecs"));
    }

    #[test]
    fn user_entries_replace_builtin() {
        let mut m = LogsourceMapping::builtin();
        let user = LogsourceMapping::from_yaml_str(
            "logsources:\n  - {product: windows, category: process_creation, channel: MyEDR, event_id: 7}\n  - {product: linux, category: process_creation, channel: auditd}\n",
        )
        .unwrap();
        m.extend(user);
        match m.resolve(&ls(Some("windows"), Some("process_creation"), None)) {
            Scope::Variants(v) => {
                assert_eq!(v.len(), 1);
                assert_eq!(v[0].channels, vec!["MyEDR"]);
            }
            s => panic!("{s:?}"),
        }
        assert!(matches!(
            m.resolve(&ls(Some("linux"), Some("process_creation"), None)),
            Scope::Variants(_)
        ));
        assert!(LogsourceMapping::from_yaml_str("logsources:\n  - {product: x}\n").is_err());
    }
}
