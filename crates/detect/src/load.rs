//! Loading rule files into a [`RuleSet`], and compiling a rule set into an
//! [`Engine`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use yaml_rust2::{Yaml, YamlLoader};

use crate::compile::{
    compile_condition, compile_search, positive_searches, shift, CompiledRule, Ctx, Interner,
    Resolver, SourceCheck,
};
use crate::condition::Expr;
use crate::logsource::Scope;
use crate::prefilter::{
    literal_frequencies, rule_requirement, Index, Lit, Placement, Prefilter, CLAUSES,
};
use crate::rule::{get, parse_doc, Doc};
use crate::value::{parse_wildcards, StrPat};
use crate::view::Slots;
use crate::{
    correlation, Engine, EngineConfig, EngineStats, LoadOptions, LoadReport, RuleFailure, RuleMeta,
    RuleSet,
};

/// Loads every `.yml`/`.yaml` file under the given files or directories
/// (directories recursively, in sorted order so results are stable;
/// hidden directories such as `.github` of a SigmaHQ checkout, which hold
/// CI workflows rather than rules, are not entered).
pub fn load_paths<P: AsRef<Path>>(paths: &[P], opts: &LoadOptions) -> (RuleSet, LoadReport) {
    let mut files = Vec::new();
    let mut report = LoadReport::default();
    for p in paths {
        collect(p.as_ref(), &mut files, &mut report);
    }
    files.sort();
    files.dedup();
    // Files are independent (nothing a file defines is looked up while
    // parsing another), so they are read and parsed in parallel: a SigmaHQ
    // checkout is ~3,000 files and this was ~0.12 s on one core. `collect`
    // keeps the file order, and the merge below runs in that order, so the
    // rule order, the report (failures included) and the digest are the
    // same as a sequential load.
    let loaded: Vec<(RuleSet, LoadReport)> = files.par_iter().map(|f| load_file(f, opts)).collect();
    let mut set = RuleSet::default();
    for (s, r) in loaded {
        set.extend(s);
        report.merge(r);
    }
    (set, report)
}

/// Reads and parses one rule file; an unreadable or non-UTF-8 file is a
/// failure of its own report.
fn load_file(f: &Path, opts: &LoadOptions) -> (RuleSet, LoadReport) {
    let unloadable = |reason: &str| {
        let report = LoadReport {
            files: 1,
            failures: vec![failure(f, 0, None, reason)],
            ..Default::default()
        };
        (RuleSet::default(), report)
    };
    match std::fs::read(f) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => load_str(&text, f, opts),
            Err(_) => unloadable("file is not valid UTF-8"),
        },
        Err(e) => unloadable(&format!("cannot read: {e}")),
    }
}

fn collect(p: &Path, files: &mut Vec<PathBuf>, report: &mut LoadReport) {
    if p.is_dir() {
        match std::fs::read_dir(p) {
            Ok(rd) => {
                // The entry's type comes with the directory listing on
                // most file systems: two `stat` calls per file saved
                // (SigmaHQ has 3,000 rule files). Symbolic links and
                // unknown types go through the checks below, which
                // follow links.
                let mut entries: Vec<(PathBuf, Option<std::fs::FileType>)> = rd
                    .filter_map(|e| e.ok().map(|e| (e.path(), e.file_type().ok())))
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                for (e, kind) in entries {
                    let hidden = e
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'));
                    match kind {
                        Some(k) if k.is_file() => push_rule_file(&e, files),
                        Some(k) if k.is_dir() && hidden => {}
                        _ if hidden && e.is_dir() => {}
                        _ => collect(&e, files, report),
                    }
                }
            }
            Err(e) => {
                report
                    .failures
                    .push(failure(p, 0, None, &format!("cannot read directory: {e}")))
            }
        }
    } else if p.is_file() {
        push_rule_file(p, files);
    } else {
        report
            .failures
            .push(failure(p, 0, None, "no such file or directory"));
    }
}

fn push_rule_file(p: &Path, files: &mut Vec<PathBuf>) {
    if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
        files.push(p.to_path_buf());
    }
}

fn failure(path: &Path, document: usize, doc: Option<&Yaml>, reason: &str) -> RuleFailure {
    let s = |k: &str| doc.and_then(|d| crate::rule::get_str(d, k));
    RuleFailure {
        path: path.to_path_buf(),
        document,
        id: s("id"),
        title: s("title"),
        reason: reason.to_string(),
    }
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
    let mut set = RuleSet::default();
    let mut report = LoadReport {
        files: 1,
        ..Default::default()
    };
    set.sources.push(Sha256::digest(yaml.as_bytes()).into());
    // A whole-text parse that finds fewer documents than there are `---`
    // separators has let one document swallow the next (e.g. a
    // zero-indented block scalar running over the marker): trusting it
    // would lose a rule without a word, so fall back to one parse per
    // document, where the good ones load and the broken one is reported.
    let separated = count_documents(yaml);
    let whole = YamlLoader::load_from_str(yaml)
        .ok()
        .filter(|d| d.iter().filter(|y| !y.is_null()).count() >= separated);
    let docs: Vec<Result<Yaml, String>> = match whole {
        Some(d) => d.into_iter().map(Ok).collect(),
        None => split_documents(yaml)
            .iter()
            .filter(|d| !d.trim().is_empty())
            .map(|d| match YamlLoader::load_from_str(d) {
                Ok(mut v) if v.len() == 1 => Ok(v.remove(0)),
                Ok(v) if v.is_empty() => Ok(Yaml::Null),
                Ok(_) => Err("YAML error: unexpected document structure".to_string()),
                Err(e) => Err(format!("YAML error: {e}")),
            })
            .collect(),
    };
    for (i, doc) in docs.into_iter().enumerate() {
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                report.failures.push(failure(path, i, None, &e));
                continue;
            }
        };
        match &doc {
            Yaml::Null => continue,
            Yaml::Hash(_) => {}
            _ => {
                report
                    .failures
                    .push(failure(path, i, None, "document is not a map"));
                continue;
            }
        }
        if get(&doc, "action").is_some() {
            report.failures.push(failure(
                path,
                i,
                Some(&doc),
                "legacy Sigma 1.0 rule collection ('action:' documents) is not supported",
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
                Err(e) => report.failures.push(failure(path, i, Some(&doc), &e)),
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
                set.filters.push(f);
            }
            Err(e) => report.failures.push(failure(path, i, Some(&doc), &e)),
        }
    }
    (set, report)
}

fn rf(meta: &RuleMeta, document: usize, reason: String) -> RuleFailure {
    RuleFailure {
        path: meta.path.clone(),
        document,
        id: meta.id.clone(),
        title: Some(meta.title.clone()),
        reason,
    }
}

fn logsource_covers(filter: &crate::LogSource, rule: &crate::LogSource) -> bool {
    let eq = |a: &Option<String>, b: &Option<String>| match a {
        None => true,
        Some(a) => b.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(a)),
    };
    eq(&filter.product, &rule.product)
        && eq(&filter.category, &rule.category)
        && eq(&filter.service, &rule.service)
}

/// One rule compiled (see `compile_engine`).
struct RuleOut {
    result: Result<(CompiledRule, Placement), RuleFailure>,
    /// Failures of filters that apply to the rule, by filter index.
    filter_failures: Vec<(usize, RuleFailure)>,
    /// Filters applied to the rule.
    applied: usize,
}

/// Compiles a rule set (see [`Engine::compile_with`]).
pub(crate) fn compile_engine(set: RuleSet, config: &EngineConfig) -> (Engine, Vec<RuleFailure>) {
    let mut failures = Vec::new();
    let mapping = config.field_mapping.as_deref().and_then(|n| {
        config
            .logsources
            .field_mappings
            .get(&n.to_ascii_lowercase())
    });
    if let Some(n) = &config.field_mapping {
        if mapping.is_none() {
            failures.push(RuleFailure {
                path: PathBuf::from("<config>"),
                document: 0,
                id: None,
                title: None,
                reason: format!("unknown field mapping '{n}': rules use native field names"),
            });
        }
    }
    let ctx = Ctx {
        placeholders: &config.placeholders,
    };
    // Correlations first: which fields each detection rule must carry.
    let det_metas: Vec<Arc<RuleMeta>> = set
        .detections
        .iter()
        .map(|r| Arc::new(r.meta.clone()))
        .collect();
    let (corr_state, problems) = correlation::CorrelationState::new(
        set.correlations.clone(),
        &det_metas,
        config.correlation.clone(),
    );
    for p in problems {
        failures.push(rf(&p.rule, 0, p.reason));
    }

    // Rules compile independently, so in parallel (half the wall time on
    // two cores for SigmaHQ's 3,000 rules); everything order-dependent is
    // done after, in rule order: failures are listed as a one-by-one
    // compile lists them, a filter that cannot compile is reported once
    // (it fails the same way for every rule), and field slots are numbered
    // by walking the rules in order.
    let outs: Vec<RuleOut> = set
        .detections
        .par_iter()
        .enumerate()
        .map(|(ri, r)| {
            let mut int = Interner::default();
            let mut filter_failures: Vec<(usize, RuleFailure)> = Vec::new();
            let mut applied = 0usize;
            let meta = det_metas[ri].clone();
            let scope = config.logsources.resolve(&r.meta.logsource);
            let mut place = Placement::default();
            let variants = match &scope {
                Scope::Variants(v) => v.clone(),
                _ => Vec::new(),
            };
            match &scope {
                Scope::Variants(v) => {
                    for e in v {
                        let chans: Vec<Option<String>> = if e.channels.is_empty() {
                            vec![None]
                        } else {
                            e.channels.iter().cloned().map(Some).collect()
                        };
                        let ids: Vec<Option<u32>> = if e.event_ids.is_empty() {
                            vec![None]
                        } else {
                            e.event_ids.iter().copied().map(Some).collect()
                        };
                        for c in &chans {
                            for id in &ids {
                                place.keys.push((c.clone(), *id));
                            }
                        }
                    }
                }
                Scope::Product(p) if p == "windows" => place.windows_any = true,
                Scope::Product(p) => place.non_windows = Some(p.clone()),
                Scope::NonWindows => place.non_windows_any = true,
                Scope::Unrestricted => place.unrestricted = true,
            }
            let res = Resolver {
                variants: variants.clone(),
                mapping,
            };
            let result = (|| -> Result<CompiledRule, String> {
                let mut searches = Vec::with_capacity(r.detection.searches.len());
                for s in &r.detection.searches {
                    searches.push(compile_search(s, &res, &ctx, &mut int)?);
                }
                let mut expr = compile_condition(&r.detection.condition, &r.detection.searches)?;
                let mut positive = Vec::new();
                positive_searches(&expr, false, &mut positive);
                // Logsource variant conditions.
                let mut sources = Vec::new();
                if variants.iter().any(|v| !v.conditions.is_empty()) {
                    for v in &variants {
                        let mut conds = Vec::new();
                        for (f, vals) in &v.conditions {
                            let pats = vals
                                .iter()
                                .map(|x| StrPat::compile(&parse_wildcards(x), false))
                                .collect::<Result<Vec<_>, _>>()?;
                            conds.push((res.names(f, &mut int), pats));
                        }
                        sources.push(SourceCheck {
                            channels: v.channels.clone(),
                            event_ids: v.event_ids.clone(),
                            conds,
                        });
                    }
                    let checks = (0..sources.len()).map(Expr::Source).collect();
                    expr = Expr::And(vec![expr, Expr::Or(checks)]);
                }
                // Filters.
                for (fi, f) in set.filters.iter().enumerate() {
                    let applies = if f.rules.is_empty() {
                        logsource_covers(&f.meta.logsource, &r.meta.logsource)
                    } else {
                        f.rules.iter().any(|x| {
                            r.meta.id.as_deref() == Some(x.as_str())
                                || r.meta.name.as_deref() == Some(x.as_str())
                        })
                    };
                    if !applies {
                        continue;
                    }
                    let mut fs = Vec::new();
                    let mut ok = true;
                    for s in &f.detection.searches {
                        match compile_search(s, &res, &ctx, &mut int) {
                            Ok(mut c) => {
                                c.name = format!("filter:{}:{}", f.meta.title, c.name);
                                fs.push(c);
                            }
                            Err(e) => {
                                filter_failures
                                    .push((fi, rf(&f.meta, f.document, format!("filter: {e}"))));
                                ok = false;
                                break;
                            }
                        }
                    }
                    if !ok {
                        continue;
                    }
                    let fexpr =
                        match compile_condition(&f.detection.condition, &f.detection.searches) {
                            Ok(e) => e,
                            Err(e) => {
                                filter_failures
                                    .push((fi, rf(&f.meta, f.document, format!("filter: {e}"))));
                                continue;
                            }
                        };
                    let off = searches.len();
                    searches.extend(fs);
                    expr = Expr::And(vec![expr, Expr::Not(Box::new(shift(fexpr, off)))]);
                    applied += 1;
                }
                let corr_fields = corr_state
                    .required_fields(&meta)
                    .into_iter()
                    .map(|f| {
                        let names = res.names(&f, &mut int);
                        (f, names)
                    })
                    .collect();
                Ok(CompiledRule {
                    meta: meta.clone(),
                    searches,
                    expr,
                    sources,
                    positive,
                    corr_fields,
                    generate: corr_state.generates(&meta),
                })
            })();
            let result = result
                .map(|c| {
                    place.keys.sort();
                    place.keys.dedup();
                    (c, place)
                })
                .map_err(|e| rf(&r.meta, r.document, e));
            RuleOut {
                result,
                filter_failures,
                applied,
            }
        })
        .collect();
    let mut rules = Vec::with_capacity(set.detections.len());
    let mut places: Vec<Placement> = Vec::with_capacity(set.detections.len());
    let mut filters_applied = 0;
    let mut bad_filters: Vec<bool> = vec![false; set.filters.len()];
    for out in outs {
        for (fi, f) in out.filter_failures {
            if !std::mem::replace(&mut bad_filters[fi], true) {
                failures.push(f);
            }
        }
        filters_applied += out.applied;
        match out.result {
            Ok((c, place)) => {
                rules.push(c);
                places.push(place);
            }
            Err(f) => failures.push(f),
        }
    }
    let mut slots = Slots::default();
    for r in &mut rules {
        r.number_slots(&mut slots);
    }

    let freq = literal_frequencies(&rules);
    let reqs: Vec<_> = rules
        .par_iter()
        .map(|r| rule_requirement(r, &freq))
        .collect();
    let channels: Vec<String> = places
        .iter()
        .flat_map(|p| p.keys.iter().filter_map(|(c, _)| c.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let index = Index::new(&places, &channels);
    let always: Vec<bool> = reqs.iter().map(Vec::is_empty).collect();
    // The prefilter sees each clause as a rule of its own: clause k of
    // rule i has bit `k * stride + i` (see `Engine::eval_inner`).
    let words = rules.len().div_ceil(64);
    let stride = words * 64;
    let mut clause_reqs: Vec<Option<Vec<Lit>>> = vec![None; stride * CLAUSES];
    for (i, cnf) in reqs.iter().enumerate() {
        for (k, clause) in cnf.iter().enumerate() {
            clause_reqs[k * stride + i] = Some(clause.clone());
        }
    }
    let reqs = &reqs;
    let clause_lists: Vec<Box<[u32]>> = index
        .lists
        .iter()
        .map(|l| {
            (0..CLAUSES)
                .flat_map(|k| {
                    l.iter()
                        .filter(move |&&i| reqs[i as usize].len() > k)
                        .map(move |&i| (k * stride) as u32 + i)
                })
                .collect()
        })
        .collect();
    // One prefilter over all rules. Measured alternatives on the SigmaHQ
    // set: automata per candidate list (twice the literals to compile, no
    // faster) and per placement group (each field scanned once per group:
    // ~15% slower). Scanning cost is per byte and per pass, so one pass
    // per field wins.
    let prefilter = Prefilter::new(&clause_reqs, &clause_lists, &slots);
    let list_bits = index
        .lists
        .iter()
        .map(|l| {
            let (mut a, mut b) = (vec![0u64; words], vec![0u64; words]);
            for &i in l.iter() {
                let i = i as usize;
                let t = if always[i] { &mut a } else { &mut b };
                t[i / 64] |= 1 << (i % 64);
            }
            (a.into_boxed_slice(), b.into_boxed_slice())
        })
        .collect();
    // Rules whose requirement has a clause k (k >= 1), as bitsets.
    let more_clauses: Vec<Box<[u64]>> = (1..CLAUSES)
        .map(|k| {
            let mut b = vec![0u64; words];
            for (i, cnf) in reqs.iter().enumerate() {
                if cnf.len() > k {
                    b[i / 64] |= 1 << (i % 64);
                }
            }
            b.into_boxed_slice()
        })
        .collect();
    let masks: Vec<Box<[bool]>> = clause_lists
        .iter()
        .map(|l| prefilter.mask(&clause_reqs, l).into_boxed_slice())
        .collect();
    let metas: Vec<Arc<RuleMeta>> = rules.iter().map(|r| r.meta.clone()).collect();

    let mut h = Sha256::new();
    let mut srcs = set.sources.clone();
    srcs.sort();
    for s in &srcs {
        h.update(s);
    }
    h.update(format!("{:?}", config.field_mapping).as_bytes());
    h.update(format!("{:?}", config.logsources.entries).as_bytes());
    let fm: std::collections::BTreeMap<_, _> = config
        .logsources
        .field_mappings
        .iter()
        .map(|(k, v)| {
            let f: std::collections::BTreeMap<_, _> = v.fields.iter().collect();
            (k, (&v.prefix, f))
        })
        .collect();
    h.update(format!("{fm:?}").as_bytes());
    let mut ph: Vec<_> = config.placeholders.iter().collect();
    ph.sort();
    h.update(format!("{ph:?}").as_bytes());
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();

    let stats = EngineStats {
        detection_rules: rules.len(),
        correlation_rules: corr_state.len(),
        filters_applied,
        always_candidates: always.iter().filter(|a| **a).count(),
        automata: prefilter.automata(),
        literals: prefilter.words,
        candidate_lists: index.lists.len(),
        windows_any: places.iter().filter(|p| p.windows_any).count(),
        non_windows: places
            .iter()
            .filter(|p| p.non_windows.is_some() || p.non_windows_any)
            .count(),
        unrestricted: places.iter().filter(|p| p.unrestricted).count(),
    };
    let _: &HashMap<String, Vec<String>> = &config.placeholders;
    (
        Engine {
            rules,
            metas,
            index,
            prefilter,
            list_bits,
            more_clauses,
            masks,
            slots,
            correlation: corr_state,
            digest,
            stats,
        },
        failures,
    )
}
