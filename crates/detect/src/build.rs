//! Compiling a [`RuleSet`] into an [`Engine`]: duplicate ids left out,
//! rules compiled in parallel (each isolated: a rule that fails, even by
//! panicking, is one listed failure), filters applied, then the logsource
//! index and the literal prefilter built over the compiled rules.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::compile::{
    compile_condition, compile_search, positive_searches, shift, Budget, CompiledRule, Ctx,
    Interner, Resolver, SourceCheck,
};
use crate::condition::Expr;
use crate::load::short;
use crate::logsource::Scope;
use crate::prefilter::{
    literal_frequencies, rule_requirement, Index, Lit, Placement, Prefilter, CLAUSES,
};
use crate::quote::{cap_reason, quote};
use crate::value::{parse_wildcards, StrPat};
use crate::view::Slots;
use crate::{
    correlation, Engine, EngineConfig, EngineStats, Fail, FailureKind, RuleFailure, RuleMeta,
    RuleSet,
};

fn rf(meta: &RuleMeta, document: usize, fail: Fail) -> RuleFailure {
    RuleFailure {
        path: meta.path.clone(),
        document,
        id: meta.id.clone().map(short),
        title: Some(short(meta.title.clone())),
        reason: cap_reason(fail.reason),
        kind: fail.kind,
    }
}

/// Leaves out every rule whose `id` an earlier rule (of any kind) has:
/// the same rule loaded twice (two copies of a rule pack, a file given
/// twice) would report each detection twice, and a correlation or filter
/// naming the id could not tell which is meant. The first in load order
/// is kept; each copy left out is a failure naming the one kept.
fn drop_duplicate_ids(set: RuleSet, failures: &mut Vec<RuleFailure>) -> RuleSet {
    let mut first: HashMap<String, (PathBuf, usize)> = HashMap::new();
    let mut keep = |meta: &RuleMeta, document: usize, failures: &mut Vec<RuleFailure>| -> bool {
        let Some(id) = &meta.id else { return true };
        match first.get(id) {
            None => {
                first.insert(id.clone(), (meta.path.clone(), document));
                true
            }
            Some((p, d)) => {
                let reason = format!(
                    "duplicate rule id {}: already loaded from {}#{d}; this copy is left out",
                    quote(id),
                    p.display()
                );
                failures.push(rf(
                    meta,
                    document,
                    Fail::new(FailureKind::Duplicate, reason),
                ));
                false
            }
        }
    };
    let RuleSet {
        detections,
        filters,
        correlations,
        sources,
    } = set;
    let detections = detections
        .into_iter()
        .filter(|r| keep(&r.meta, r.document, failures))
        .collect();
    let correlations = correlations
        .into_iter()
        .filter(|(m, _)| keep(m, 0, failures))
        .collect();
    let filters = filters
        .into_iter()
        .filter(|f| keep(&f.meta, f.document, failures))
        .collect();
    RuleSet {
        detections,
        filters,
        correlations,
        sources,
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
    let set = drop_duplicate_ids(set, &mut failures);
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
                kind: FailureKind::Invalid,
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
        failures.push(rf(&p.rule, 0, Fail::from(p.reason)));
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
            // A bug on some rule must cost that rule, not the hunt.
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut int = Interner::default();
                let mut budget = Budget::new();
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
                let result = (|| -> Result<CompiledRule, Fail> {
                    let mut searches = Vec::with_capacity(r.detection.searches.len());
                    for s in &r.detection.searches {
                        searches.push(compile_search(s, &res, &ctx, &mut int, &mut budget)?);
                    }
                    let mut expr =
                        compile_condition(&r.detection.condition, &r.detection.searches)?;
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
                    // Filters, as pySigma and rsigma apply them: to the rules
                    // they name (all of their logsource when they name none)
                    // whose logsource theirs covers, as `rule and (filter
                    // condition)` (Sigma filters specification; a filter that
                    // drops events says `not selection`).
                    for (fi, f) in set.filters.iter().enumerate() {
                        let applies = logsource_covers(&f.meta.logsource, &r.meta.logsource)
                            && (f.rules.is_empty()
                                || f.rules.iter().any(|x| {
                                    r.meta.id.as_deref() == Some(x.as_str())
                                        || r.meta.name.as_deref() == Some(x.as_str())
                                }));
                        if !applies {
                            continue;
                        }
                        let mut fs = Vec::new();
                        let mut ok = true;
                        for s in &f.detection.searches {
                            match compile_search(s, &res, &ctx, &mut int, &mut budget) {
                                Ok(mut c) => {
                                    c.name = format!("filter:{}:{}", f.meta.title, c.name);
                                    fs.push(c);
                                }
                                Err(e) => {
                                    filter_failures
                                        .push((fi, rf(&f.meta, f.document, e.context("filter: "))));
                                    ok = false;
                                    break;
                                }
                            }
                        }
                        if !ok {
                            continue;
                        }
                        let fexpr = match compile_condition(
                            &f.detection.condition,
                            &f.detection.searches,
                        ) {
                            Ok(e) => e,
                            Err(e) => {
                                filter_failures.push((
                                    fi,
                                    rf(&f.meta, f.document, Fail::from(e).context("filter: ")),
                                ));
                                continue;
                            }
                        };
                        let off = searches.len();
                        searches.extend(fs);
                        expr = Expr::And(vec![expr, shift(fexpr, off)]);
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
            }));
            caught.unwrap_or_else(|panic| RuleOut {
                result: Err(rf(
                    &r.meta,
                    r.document,
                    Fail::new(
                        FailureKind::Internal,
                        format!(
                            "internal error while compiling the rule: {}",
                            crate::load::panic_text(&panic)
                        ),
                    ),
                )),
                filter_failures: Vec::new(),
                applied: 0,
            })
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
    let ph: Vec<_> = config
        .placeholders
        .names()
        .map(|n| (n, config.placeholders.get(n)))
        .collect();
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
