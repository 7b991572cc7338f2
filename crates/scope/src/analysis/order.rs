//! Orders: detections and evidence sorted the same way whatever the
//! order events arrived in (threads, merges), cheaply on large inputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use vigie_detect::{Level, RuleMeta};
use vigie_event::Timestamp;

use crate::model::{Evidence, LevelCounts, RuleCount};
use crate::observer::{loc_key, Det};

/// Rank of a level (no level lowest).
pub(crate) fn lvl_rank(l: Option<Level>) -> u8 {
    match l {
        None => 0,
        Some(Level::Informational) => 1,
        Some(Level::Low) => 2,
        Some(Level::Medium) => 3,
        Some(Level::High) => 4,
        Some(Level::Critical) => 5,
    }
}

pub(crate) fn count_level(c: &mut LevelCounts, l: Option<Level>) {
    match l {
        None => c.unset += 1,
        Some(Level::Informational) => c.informational += 1,
        Some(Level::Low) => c.low += 1,
        Some(Level::Medium) => c.medium += 1,
        Some(Level::High) => c.high += 1,
        Some(Level::Critical) => c.critical += 1,
    }
}

pub(crate) fn min_t(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

pub(crate) fn max_t(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Stable sort of `v` by event — `key`: (time, source, locator) — then by
/// `tie` between items of the same event. Same result as
/// `v.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| tie(a, b)))`, but much
/// cheaper on large inputs, which matters because a hunt yields tens of
/// thousands of detections:
///
/// * the sort runs on a compact array of (time, source rank, locator,
///   index): `tie` is only needed between items of the same event.
///   Comparing the source paths themselves was most of the cost when many
///   events share a timestamp (the same logs collected from several places);
/// * items are not moved by the sort but put in place afterwards, in
///   place (a large list copied into a new one costs page faults).
pub(crate) fn sort_by_event<T>(
    mut v: Vec<T>,
    key: impl Fn(&T) -> (Option<Timestamp>, &str, (u8, u64)),
    tie: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    // Rank of each source path in string order. Items of one file tend to
    // be adjacent, so the previous item's source is tried before hashing.
    let mut first_seen: HashMap<&str, u32> = HashMap::new();
    let mut src_id: Vec<u32> = Vec::with_capacity(v.len());
    let mut prev: Option<(&str, u32)> = None;
    for x in &v {
        let s = key(x).1;
        let id = match prev {
            Some((p, id)) if p == s => id,
            _ => {
                let next = first_seen.len() as u32;
                *first_seen.entry(s).or_insert(next)
            }
        };
        prev = Some((s, id));
        src_id.push(id);
    }
    let mut distinct: Vec<(&str, u32)> = first_seen.into_iter().collect();
    distinct.sort_unstable();
    let mut rank = vec![0u32; distinct.len()];
    for (r, (_, id)) in distinct.iter().enumerate() {
        rank[*id as usize] = r as u32;
    }
    type Key = (Option<Timestamp>, u32, (u8, u64), usize);
    let mut keys: Vec<Key> = v
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (t, _, l) = key(x);
            (t, rank[src_id[i] as usize], l, i)
        })
        .collect();
    keys.sort_by(|a, b| {
        (a.0, a.1, a.2)
            .cmp(&(b.0, b.1, b.2))
            .then_with(|| tie(&v[a.3], &v[b.3]))
    });
    let order: Vec<usize> = keys.into_iter().map(|k| k.3).collect();
    permute(&mut v, order);
    v
}

/// Reorders `v` in place so that `v[j]` is the former `v[order[j]]`
/// (`order` is a permutation), following its cycles.
fn permute<T>(v: &mut [T], mut order: Vec<usize>) {
    for i in 0..v.len() {
        let mut cur = i;
        while order[cur] != cur {
            let next = order[cur];
            order[cur] = cur;
            if next == i {
                break;
            }
            v.swap(cur, next);
            cur = next;
        }
    }
}

/// [`sort_by_event`] for items with an evidence pointer, in [`ev_key`] order.
pub(crate) fn sort_by_evidence<T>(v: Vec<T>, ev: impl Fn(&T) -> &Evidence) -> Vec<T> {
    sort_by_event(
        v,
        |x| {
            let e = ev(x);
            (e.time, e.source.as_str(), loc_key(&e.locator))
        },
        |a, b| ev(a).summary.cmp(&ev(b).summary),
    )
}

/// `a.to_lowercase() == b.to_lowercase()`, without allocating for ASCII
/// strings (where it is an ASCII case-insensitive comparison).
pub(crate) fn same_lowercase(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b || a.to_lowercase() == b.to_lowercase()
    }
}

/// Writes into `buf` a form of `s` equal for any two strings equal by
/// [`same_lowercase`] (to hash them): ASCII lowercase for ASCII strings,
/// else char-by-char lowercase with both sigmas as one (`to_lowercase`
/// differs from char-by-char lowercase only by its final sigma).
pub(crate) fn lowercase_for_hash(s: &str, buf: &mut String) {
    buf.clear();
    if s.is_ascii() {
        buf.push_str(s);
        buf.make_ascii_lowercase();
    } else {
        buf.extend(
            s.chars()
                .flat_map(char::to_lowercase)
                .map(|c| if c == 'ς' { 'σ' } else { c }),
        );
    }
}

/// Rule order among detections of the same evidence.
fn rule_order(a: &Det, b: &Det) -> std::cmp::Ordering {
    a.rule
        .title
        .cmp(&b.rule.title)
        .then(a.rule.id.cmp(&b.rule.id))
        .then(a.rule.path.cmp(&b.rule.path))
}

/// Order of detections: their evidence, then their rule.
pub(crate) fn det_order(a: &Det, b: &Det) -> std::cmp::Ordering {
    a.cmp_evidence_det(b).then_with(|| rule_order(a, b))
}

/// Detections in [`det_order`].
pub(crate) fn sort_dets(v: Vec<Det>) -> Vec<Det> {
    sort_by_event(
        v,
        |d| d.event_key(),
        |a, b| a.cmp_evidence_det(b).then_with(|| rule_order(a, b)),
    )
}

/// Merges two lists sorted by `order` as a stable sort of `a` then `b`
/// would (on ties, items of `a` first), with a binary search per item of
/// `b`: `b` (built-in signals) is small, `a` (rule signals) large.
pub(crate) fn merge_sorted<T>(
    a: Vec<T>,
    b: Vec<T>,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    let mut cuts = Vec::with_capacity(b.len());
    let mut start = 0;
    for y in &b {
        start += a[start..].partition_point(|x| order(x, y) != std::cmp::Ordering::Greater);
        cuts.push(start);
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter();
    let mut taken = 0;
    for (y, cut) in b.into_iter().zip(cuts) {
        out.extend(a.by_ref().take(cut - taken));
        taken = cut;
        out.push(y);
    }
    out.extend(a);
    out
}

/// What the summaries need of all detections: counts by level, per rule
/// (most severe and frequent first) and per host, in any order of `dets`.
/// One pass; each detection finds its rule by the rule's allocation (rules
/// are shared `Arc`s), so the (title, id) key is built once per rule, not
/// per detection. A rule's id, level and tags are those of its first
/// detection in [`det_order`] (several rule files may share a title and id).
pub(crate) fn det_counts(
    dets: &[Det],
) -> (LevelCounts, Vec<RuleCount>, HashMap<String, LevelCounts>) {
    struct Acc<'a> {
        count: RuleCount,
        hosts: BTreeSet<&'a str>,
        /// Several rules share this key.
        shared: bool,
    }
    let mut by_level = LevelCounts::default();
    let mut by_host: HashMap<String, LevelCounts> = HashMap::new();
    let mut by_key: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut by_ptr: HashMap<*const RuleMeta, usize> = HashMap::new();
    let mut rules: Vec<Acc> = Vec::new();
    for d in dets {
        count_level(&mut by_level, d.rule.level);
        match by_host.get_mut(&*d.host) {
            Some(c) => count_level(c, d.rule.level),
            None => {
                let mut c = LevelCounts::default();
                count_level(&mut c, d.rule.level);
                by_host.insert(d.host.to_string(), c);
            }
        }
        let ptr = Arc::as_ptr(&d.rule);
        let i = match by_ptr.get(&ptr) {
            Some(&i) => i,
            None => {
                let key = (
                    d.rule.title.as_str(),
                    d.rule.id.as_deref().unwrap_or_default(),
                );
                let i = match by_key.get(&key) {
                    Some(&i) => {
                        rules[i].shared = true;
                        i
                    }
                    None => {
                        rules.push(Acc {
                            count: RuleCount {
                                rule_id: d.rule.id.clone(),
                                title: d.rule.title.clone(),
                                level: d.rule.level,
                                tags: d.rule.tags.clone(),
                                count: 0,
                                hosts: vec![],
                                first: None,
                                last: None,
                            },
                            hosts: BTreeSet::new(),
                            shared: false,
                        });
                        by_key.insert(key, rules.len() - 1);
                        rules.len() - 1
                    }
                };
                by_ptr.insert(ptr, i);
                i
            }
        };
        let a = &mut rules[i];
        a.count.count += 1;
        a.hosts.insert(&d.host);
        a.count.first = min_t(a.count.first, d.time);
        a.count.last = max_t(a.count.last, d.time);
    }
    // Keys shared by several rules: the first detection decides.
    if rules.iter().any(|a| a.shared) {
        let mut best: HashMap<usize, &Det> = HashMap::new();
        for d in dets {
            let i = by_ptr[&Arc::as_ptr(&d.rule)];
            if !rules[i].shared {
                continue;
            }
            let b = best.entry(i).or_insert(d);
            if det_order(d, b) == std::cmp::Ordering::Less {
                *b = d;
            }
        }
        for (i, d) in best {
            let c = &mut rules[i].count;
            c.rule_id = d.rule.id.clone();
            c.level = d.rule.level;
            c.tags = d.rule.tags.clone();
        }
    }
    // In (title, id) order before the stable sort, as ties keep it.
    let mut out: Vec<RuleCount> = Vec::with_capacity(rules.len());
    let mut slots: Vec<Option<Acc>> = rules.into_iter().map(Some).collect();
    for &i in by_key.values() {
        let a = slots[i].take().expect("one rule per key");
        let mut r = a.count;
        r.hosts = a.hosts.into_iter().map(str::to_string).collect();
        out.push(r);
    }
    out.sort_by(|a, b| {
        lvl_rank(b.level)
            .cmp(&lvl_rank(a.level))
            .then(b.count.cmp(&a.count))
            .then(a.title.cmp(&b.title))
    });
    (by_level, out, by_host)
}
