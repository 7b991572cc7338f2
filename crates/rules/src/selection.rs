//! Which SigmaHQ rules make up Vigie's default "SigmaHQ snapshot".
//!
//! The vetting lives in `rules/sigmahq-selection.yml` (a policy, rules kept
//! outside it, rules excluded from it, each with its reason). This module
//! reads that file and judges each SigmaHQ rule against it. It is compiled
//! twice on purpose: by `build.rs`, which embeds the selected rules of a
//! SigmaHQ directory into the binary, and by the library, which applies the
//! same judgement to a newer SigmaHQ release installed by `vigie rules
//! update`. One policy, one implementation, so the embedded snapshot and a
//! refreshed one can never be chosen by different rules.
//!
//! It depends on `std` and `yaml-rust2` only (a build script cannot use the
//! crate it builds).

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

/// The parsed selection file.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The SigmaHQ snapshot this vetting was measured on.
    pub vetted: Option<Vetted>,
    /// Directories of a SigmaHQ checkout or release that are considered
    /// (e.g. `rules/windows`), relative to its root.
    pub directories: Vec<String>,
    /// `logsource.product` values kept.
    pub products: Vec<String>,
    /// `status` values kept.
    pub statuses: Vec<String>,
    /// `level` values kept by the policy.
    pub levels: Vec<String>,
    /// Rules kept although the policy leaves them out (by id).
    pub include: Vec<Entry>,
    /// Rules left out although the policy keeps them (by id).
    pub exclude: Vec<Entry>,
}

/// The SigmaHQ snapshot the selection was vetted on: when a build embeds a
/// rule tree whose digest is `digest`, the snapshot is known to be that
/// commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Vetted {
    pub commit: String,
    pub date: String,
    /// SHA-256 (hex) of the rule tree, see `build.rs`.
    pub digest: String,
}

/// One rule named in `include` or `exclude`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    /// The rule's title when it was vetted (for readers; ids decide).
    pub title: String,
    /// Why it is included or excluded.
    pub why: String,
}

/// What the selection needs to know about one rule (its first YAML
/// document: the rule itself, or the correlation that heads a file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleInfo {
    pub id: Option<String>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    /// `logsource.product` of the first document that has a logsource.
    pub product: Option<String>,
    /// The later of `date` and `modified`, as `YYYY-MM-DD`.
    pub last_change: Option<String>,
}

/// The judgement on one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Kept by the policy (status, level, product).
    Policy,
    /// Kept by the `include` list.
    Included,
    /// Left out by the `exclude` list (the reason is in the file).
    Excluded,
    /// Outside the policy.
    Outside,
}

impl Verdict {
    pub fn selected(&self) -> bool {
        matches!(self, Verdict::Policy | Verdict::Included)
    }
}

fn strings(y: &Yaml, key: &str) -> Result<Vec<String>, String> {
    match &y[key] {
        Yaml::BadValue => Ok(Vec::new()),
        Yaml::Array(a) => a
            .iter()
            .map(|v| scalar(v).ok_or_else(|| format!("`{key}` holds a value that is not a string")))
            .collect(),
        other => scalar(other)
            .map(|s| vec![s])
            .ok_or_else(|| format!("`{key}` is not a list")),
    }
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn entries(y: &Yaml, key: &str) -> Result<Vec<Entry>, String> {
    let list = match &y[key] {
        Yaml::BadValue | Yaml::Null => return Ok(Vec::new()),
        Yaml::Array(a) => a,
        _ => return Err(format!("`{key}` is not a list")),
    };
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let get = |k: &str| scalar(&e[k]).unwrap_or_default();
            let entry = Entry {
                id: get("id").to_ascii_lowercase(),
                title: get("title"),
                why: get("why"),
            };
            if entry.id.is_empty() || entry.why.trim().is_empty() {
                return Err(format!("`{key}` entry #{i} needs an `id` and a `why`"));
            }
            Ok(entry)
        })
        .collect()
}

impl Selection {
    /// Reads the selection file.
    pub fn parse(text: &str) -> Result<Selection, String> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
        let doc = docs.first().ok_or("empty selection file")?;
        let policy = &doc["policy"];
        if policy.is_badvalue() {
            return Err("no `policy` section".into());
        }
        let vetted = match &doc["vetted_against"] {
            Yaml::BadValue | Yaml::Null => None,
            v => Some(Vetted {
                commit: scalar(&v["commit"]).ok_or("`vetted_against.commit` missing")?,
                date: scalar(&v["date"]).ok_or("`vetted_against.date` missing")?,
                digest: scalar(&v["digest"])
                    .ok_or("`vetted_against.digest` missing")?
                    .to_ascii_lowercase(),
            }),
        };
        let sel = Selection {
            vetted,
            directories: strings(policy, "directories")?,
            products: strings(policy, "products")?,
            statuses: strings(policy, "status")?,
            levels: strings(policy, "levels")?,
            include: entries(doc, "include")?,
            exclude: entries(doc, "exclude")?,
        };
        if sel.directories.is_empty() || sel.statuses.is_empty() || sel.levels.is_empty() {
            return Err("`policy` needs `directories`, `status` and `levels`".into());
        }
        for e in &sel.include {
            if sel.exclude.iter().any(|x| x.id == e.id) {
                return Err(format!("rule {} is both included and excluded", e.id));
            }
        }
        Ok(sel)
    }

    /// Judges one rule. Exclusions win; the `include` list adds rules of
    /// other levels, but never a rule of an unknown product or of a status
    /// other than the policy's (a deprecated rule stays out).
    pub fn judge(&self, info: &RuleInfo) -> Verdict {
        let id = info.id.as_deref().unwrap_or("").to_ascii_lowercase();
        if !id.is_empty() && self.exclude.iter().any(|e| e.id == id) {
            return Verdict::Excluded;
        }
        let has = |list: &[String], v: &Option<String>| {
            v.as_deref()
                .is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
        };
        let product_ok = self.products.is_empty() || has(&self.products, &info.product);
        if !product_ok || !has(&self.statuses, &info.status) {
            return Verdict::Outside;
        }
        if has(&self.levels, &info.level) {
            Verdict::Policy
        } else if !id.is_empty() && self.include.iter().any(|e| e.id == id) {
            Verdict::Included
        } else {
            Verdict::Outside
        }
    }
}

/// Reads what the selection needs from a rule's YAML text; `None` when the
/// text is not YAML or its first document is not a mapping.
pub fn rule_info(text: &str) -> Option<RuleInfo> {
    let docs = YamlLoader::load_from_str(text).ok()?;
    let first = docs.first()?;
    first.as_hash()?;
    let s = |y: &Yaml, k: &str| scalar(&y[k]).map(|v| v.trim().to_string());
    let date = |k: &str| s(first, k).map(|d| d.replace('/', "-"));
    let product = docs
        .iter()
        .find_map(|d| s(&d["logsource"], "product"))
        .map(|p| p.to_ascii_lowercase());
    Some(RuleInfo {
        id: s(first, "id"),
        title: s(first, "title"),
        status: s(first, "status").map(|v| v.to_ascii_lowercase()),
        level: s(first, "level").map(|v| v.to_ascii_lowercase()),
        product,
        last_change: match (date("date"), date("modified")) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
    })
}

/// Every `.yml`/`.yaml` file under `root/<dir>` for each of `dirs`, as
/// (path relative to `root` with `/` separators, full path), sorted by the
/// relative path so that every consumer sees the same order.
pub fn rule_files(root: &Path, dirs: &[String]) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for d in dirs {
        walk(&root.join(d), &mut out);
    }
    let mut files: Vec<(String, PathBuf)> = out
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(root).ok()?;
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            Some((rel, p))
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"))
        {
            out.push(p);
        }
    }
}
