//! Reading rule files into a [`RuleSet`].
//!
//! Rule files come from users, from downloaded rule packs and from
//! archives of unknown origin, so reading them is bounded and isolated:
//! a file is read only if it is a regular file of at most
//! [`MAX_RULE_FILE`] bytes, its YAML within the limits of
//! [`crate::yaml`], each document parsed on its own, and a file whose
//! reading fails in any way (even by a panic) is one listed failure with
//! its path and reason; the other files load. Directories are walked by
//! [`crate::walk`] (symlink loops, files reached twice).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use yaml_rust2::Yaml;

use crate::quote::{cap_reason, clip, quote, thousands};
use crate::rule::{get, is_rule_document, parse_doc, Doc};
use crate::walk::{walk, RootProblem};
use crate::yaml::{self, Budget, LIMITS};
use crate::{
    correlation, Fail, FailureKind, LoadOptions, LoadReport, RuleFailure, RuleMeta, RuleSet,
    RuleWarning,
};

/// Largest rule file read, in bytes. SigmaHQ's largest rule file is
/// 295 KB, and all of SigmaHQ concatenated 5.8 MB; a 100 MB file took
/// 5.7 GB to parse before this limit.
pub const MAX_RULE_FILE: u64 = 16 << 20;

/// A path given for rules that cannot serve: a usage error (`vigie hunt`
/// exits 2), so that a typo does not silently run without the rules the
/// user meant.
#[derive(Debug, Clone, PartialEq)]
pub struct RulePathError {
    /// Every bad path, with what is wrong with it.
    pub problems: Vec<(PathBuf, RulePathProblem)>,
}

impl std::fmt::Display for RulePathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (p, why)) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {why}", p.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for RulePathError {}

/// What is wrong with a rules path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulePathProblem {
    #[error("no such file or directory")]
    NotFound,
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("not a file or directory (a FIFO, socket or device is not read)")]
    Special,
    #[error("holds no Sigma rule (no .yml or .yaml file in it)")]
    NoRuleFile,
    /// Files were read but none holds a Sigma rule document; the text
    /// says what was found.
    #[error("holds no Sigma rule ({0})")]
    NoRule(String),
}

/// One file read.
struct FileOut {
    set: RuleSet,
    report: LoadReport,
    /// Documents that are Sigma rules (loaded, deselected or failed).
    rule_documents: usize,
}

/// Loads every rule file under the given files or directories
/// (directories recursively: their `.yml`/`.yaml` files, in path order,
/// hidden directories such as `.github` not entered; a file named
/// directly is read whatever its name). A path that does not exist or
/// holds no rule is a failure of the report; see [`load_rule_paths`] to
/// refuse it instead.
pub fn load_paths<P: AsRef<Path>>(paths: &[P], opts: &LoadOptions) -> (RuleSet, LoadReport) {
    let (set, mut report, problems) = load_all(paths, opts);
    for (p, why) in problems {
        // An empty directory or a path with other files: nothing to
        // list, as before (the strict entry point refuses them).
        if matches!(
            why,
            RulePathProblem::NoRuleFile | RulePathProblem::NoRule(_)
        ) {
            continue;
        }
        let fail = Fail::new(FailureKind::Unreadable, why.to_string());
        report.failures.push(failure(&p, 0, None, fail));
    }
    (set, report)
}

/// [`load_paths`], refusing paths that do not exist, cannot be read or
/// hold no Sigma rule (README.md, /etc/passwd, an empty directory). A
/// path holds a rule when one of its documents is a Sigma rule, even one
/// that fails to load (that failure is listed in the report).
pub fn load_rule_paths<P: AsRef<Path>>(
    paths: &[P],
    opts: &LoadOptions,
) -> Result<(RuleSet, LoadReport), RulePathError> {
    let (set, report, problems) = load_all(paths, opts);
    if problems.is_empty() {
        Ok((set, report))
    } else {
        Err(RulePathError { problems })
    }
}

fn load_all<P: AsRef<Path>>(
    paths: &[P],
    opts: &LoadOptions,
) -> (RuleSet, LoadReport, Vec<(PathBuf, RulePathProblem)>) {
    let w = walk(paths);
    let mut report = LoadReport::default();
    for p in &w.problems {
        report.failures.push(failure(
            &p.path,
            0,
            None,
            Fail::new(p.kind, p.reason.clone()),
        ));
    }
    // Files are independent (nothing a file defines is looked up while
    // parsing another), so they are read and parsed in parallel: a SigmaHQ
    // checkout is ~3,000 files and this was ~0.12 s on one core. The merge
    // below runs in file order, so the rule order, the report (failures
    // included) and the digest are the same as a sequential load.
    let loaded: Vec<FileOut> = w.files.par_iter().map(|f| load_file(f, opts)).collect();
    let mut problems = Vec::new();
    for (root, path) in w.roots.iter().zip(paths) {
        let path = path.as_ref().to_path_buf();
        let problem = match &root.problem {
            Some(RootProblem::NotFound) => Some(RulePathProblem::NotFound),
            Some(RootProblem::Unreadable(e)) => Some(RulePathProblem::Unreadable(e.clone())),
            Some(RootProblem::Special) => Some(RulePathProblem::Special),
            None if root.files.is_empty() => Some(RulePathProblem::NoRuleFile),
            None if root.files.iter().all(|&i| loaded[i].rule_documents == 0) => Some(
                RulePathProblem::NoRule(no_rule_detail(&root.files, &w.files, &loaded)),
            ),
            None => None,
        };
        if let Some(p) = problem {
            problems.push((path, p));
        }
    }
    let mut set = RuleSet::default();
    for out in loaded {
        set.extend(out.set);
        report.merge(out.report);
    }
    (set, report, problems)
}

/// What was found under a path that holds no rule: how many files, and
/// the first file's first problem.
fn no_rule_detail(files: &[usize], paths: &[PathBuf], loaded: &[FileOut]) -> String {
    let first = files.iter().find_map(|&i| {
        loaded[i]
            .report
            .failures
            .first()
            .map(|f| format!("{}: {}", paths[i].display(), f.reason))
    });
    let n = files.len();
    let files = if n == 1 {
        "1 file read".to_string()
    } else {
        format!("{} files read", thousands(n))
    };
    match first {
        Some(f) => format!("{files}, no Sigma rule document; first problem: {f}"),
        None => format!("{files}, no Sigma rule document"),
    }
}

/// Reads a text file of at most `max` bytes. Only regular files are
/// opened (a FIFO would block, `/dev/zero` never end), and the read
/// itself is bounded (the file may grow after the size check).
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<String, Fail> {
    let unreadable =
        |e: std::io::Error| Fail::new(FailureKind::Unreadable, format!("cannot read: {e}"));
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Fail::new(
            FailureKind::Unreadable,
            "not a regular file (FIFO, socket or device): not read",
        ));
    }
    let too_large = |n: u64| {
        Fail::new(
            FailureKind::TooLarge,
            format!(
                "file is {} bytes, more than the {} MiB a rule file may have",
                thousands(n as usize),
                max >> 20
            ),
        )
    };
    if meta.len() > max {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map_err(|_| Fail::new(FailureKind::Unreadable, "file is not valid UTF-8 text"))
}

/// Reads and parses one rule file; any failure, a panic included, is a
/// failure of its own report.
fn load_file(f: &Path, opts: &LoadOptions) -> FileOut {
    let unloadable = |fail: Fail| FileOut {
        set: RuleSet::default(),
        report: LoadReport {
            files: 1,
            failures: vec![failure(f, 0, None, fail)],
            ..Default::default()
        },
        rule_documents: 0,
    };
    let text = match read_bounded(f, MAX_RULE_FILE) {
        Ok(t) => t,
        Err(e) => return unloadable(e),
    };
    // A bug of ours or of a library on some input must cost one file, not
    // the hunt: the panic becomes this file's failure.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_text(&text, f, opts))) {
        Ok(out) => out,
        Err(panic) => unloadable(Fail::new(
            FailureKind::Internal,
            format!(
                "internal error while reading the file: {}",
                panic_text(&panic)
            ),
        )),
    }
}

/// The message of a caught panic.
pub(crate) fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

pub(crate) fn failure(path: &Path, document: usize, doc: Option<&Yaml>, fail: Fail) -> RuleFailure {
    let s = |k: &str| doc.and_then(|d| crate::rule::get_str(d, k)).map(short);
    RuleFailure {
        path: path.to_path_buf(),
        document,
        id: s("id"),
        title: s("title"),
        reason: cap_reason(fail.reason),
        kind: fail.kind,
    }
}

/// An id or title for a message: long ones are cut (a title is at most
/// 256 characters by the specification), control characters escaped.
pub(crate) fn short(s: String) -> String {
    clip(&s, 200)
}

/// Splits a multi-document YAML text at `---` lines, for salvaging the
/// good documents of a file where one document is malformed.
fn split_documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let d = docs.last_mut().expect("non-empty");
            d.push_str(line);
            d.push('\n');
        }
    }
    docs
}

/// How many non-blank documents [`split_documents`] would return, without
/// building them (it runs on every file; the split itself only on the
/// rare file that needs salvaging).
fn count_documents(text: &str) -> usize {
    let mut count = 0;
    let mut content = false;
    for line in text.lines() {
        if line.trim_end() == "---" {
            count += usize::from(content);
            content = false;
        } else if !line.trim().is_empty() {
            content = true;
        }
    }
    count + usize::from(content)
}

fn selected(meta: &RuleMeta, opts: &LoadOptions) -> bool {
    if [&meta.id, &meta.name]
        .into_iter()
        .flatten()
        .any(|k| opts.disabled.contains(k))
    {
        return false;
    }
    if let Some(min) = opts.min_level {
        if meta.level.is_some_and(|l| l < min) {
            return false;
        }
    }
    if let Some(st) = &opts.statuses {
        match &meta.status {
            Some(s) => {
                if !st.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                    return false;
                }
            }
            None => return false,
        }
    }
    true
}

/// Loads rules from YAML text (possibly multi-document); `path` names it
/// in reports.
pub fn load_str(yaml: &str, path: &Path, opts: &LoadOptions) -> (RuleSet, LoadReport) {
    let out = load_text(yaml, path, opts);
    (out.set, out.report)
}

/// Every document of `yaml`, each its tree or why it was not read.
fn documents(yaml: &str) -> Vec<Result<Yaml, Fail>> {
    let problem = |p: yaml::DocProblem| Fail::new(p.kind, p.reason);
    // A whole-text parse that finds fewer documents than there are `---`
    // separators has let one document swallow the next (e.g. a
    // zero-indented block scalar running over the marker): trusting it
    // would lose a rule without a word, so fall back to one parse per
    // document, where the good ones load and the broken one is reported.
    let separated = count_documents(yaml);
    let whole = yaml::load(yaml, &mut Budget::default(), &LIMITS);
    if whole.error.is_none()
        && whole
            .docs
            .iter()
            .filter(|d| !matches!(d, Ok(Yaml::Null)))
            .count()
            >= separated
    {
        return whole.docs.into_iter().map(|d| d.map_err(problem)).collect();
    }
    drop(whole);
    // One budget for the pieces too: they are the same file.
    let mut budget = Budget::default();
    split_documents(yaml)
        .iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| {
            let mut s = yaml::load(d, &mut budget, &LIMITS);
            if let Some(e) = s.error {
                return Err(Fail::new(FailureKind::Yaml, format!("YAML error: {e}")));
            }
            match s.docs.len() {
                0 => Ok(Yaml::Null),
                1 => s.docs.remove(0).map_err(problem),
                _ => Err(Fail::new(
                    FailureKind::Yaml,
                    "YAML error: unexpected document structure",
                )),
            }
        })
        .collect()
}

fn load_text(yaml: &str, path: &Path, opts: &LoadOptions) -> FileOut {
    let mut set = RuleSet::default();
    let mut report = LoadReport {
        files: 1,
        ..Default::default()
    };
    let mut rule_documents = 0;
    if yaml.len() as u64 > MAX_RULE_FILE {
        report.failures.push(failure(
            path,
            0,
            None,
            Fail::new(
                FailureKind::TooLarge,
                format!(
                    "text is {} bytes, more than the {} MiB a rule file may have",
                    thousands(yaml.len()),
                    MAX_RULE_FILE >> 20
                ),
            ),
        ));
        return FileOut {
            set,
            report,
            rule_documents,
        };
    }
    set.sources.push(Sha256::digest(yaml.as_bytes()).into());
    for (i, doc) in documents(yaml).into_iter().enumerate() {
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                report.failures.push(failure(path, i, None, e));
                continue;
            }
        };
        match &doc {
            Yaml::Null => continue,
            Yaml::Hash(_) => {}
            _ => {
                report.failures.push(failure(
                    path,
                    i,
                    None,
                    Fail::new(
                        FailureKind::NotARule,
                        "not a Sigma rule: the document is not a map",
                    ),
                ));
                continue;
            }
        }
        if is_rule_document(&doc) {
            rule_documents += 1;
        }
        if get(&doc, "action").is_some() {
            report.failures.push(failure(
                path,
                i,
                Some(&doc),
                "legacy Sigma 1.0 rule collection ('action:' documents) is not supported".into(),
            ));
            continue;
        }
        if get(&doc, "correlation").is_some() {
            match correlation::parse_correlation(&doc, path) {
                Ok(c) => {
                    let meta = c.to_rule_meta(path);
                    if selected(&meta, opts) {
                        report.correlation += 1;
                        set.correlations.push((Arc::new(meta), c));
                    } else {
                        report.deselected += 1;
                    }
                }
                Err(e) => report
                    .failures
                    .push(failure(path, i, Some(&doc), Fail::from(e))),
            }
            continue;
        }
        match parse_doc(&doc, path) {
            Ok(Doc::Detection(mut r)) => {
                if selected(&r.meta, opts) {
                    r.document = i;
                    report.detection += 1;
                    set.detections.push(r);
                } else {
                    report.deselected += 1;
                }
            }
            Ok(Doc::Filter(mut f)) => {
                f.document = i;
                report.filter += 1;
                if f.condition_keeps_matches() {
                    report.warnings.push(RuleWarning {
                        path: path.to_path_buf(),
                        document: i,
                        id: f.meta.id.clone(),
                        title: Some(short(f.meta.title.clone())),
                        message: format!(
                            "filter condition {} does not start with 'not': a filter now keeps only the events its condition matches (as pySigma and rsigma do); before, Vigie dropped them. To drop them, write 'not ' before the condition (docs/sigma.md, Filters)",
                            quote(&f.detection.condition_text.join(" or ")),
                        ),
                    });
                }
                set.filters.push(f);
            }
            Err(e) => report.failures.push(failure(path, i, Some(&doc), e)),
        }
    }
    FileOut {
        set,
        report,
        rule_documents,
    }
}
