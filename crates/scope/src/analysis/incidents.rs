//! Incidents: signals grouped by what they share (a host, an account, an
//! outside address) *and* by time, or joined by a malicious link. Unrelated
//! activity stays apart: two signals on the same host six years apart are
//! two incidents.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use vigie_detect::Level;
use vigie_event::Timestamp;

use super::links::{strong_method, L};
use super::order::lvl_rank;
use super::signals::Signals;
use super::time::{hours, minus, plus};
use crate::attack::technique;
use crate::model::*;
use crate::observer::Det;

/// Signals sharing an entity join when at most this far apart (chained:
/// a long campaign stays one incident as long as it never pauses longer).
pub(crate) const JOIN_WINDOW_H: i64 = 48;

/// Union-find over signal indices.
struct Dsu(Vec<usize>);
impl Dsu {
    fn find(&mut self, i: usize) -> usize {
        let mut r = i;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut j = i;
        while self.0[j] != r {
            let n = self.0[j];
            self.0[j] = r;
            j = n;
        }
        r
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

/// Groups signals into clusters (lists of signal indexes, ascending).
/// The partition does not depend on the order of the unions.
pub(crate) fn cluster(sig: &Signals, links: &[L]) -> Vec<Vec<usize>> {
    let signals = &sig.list;
    let n = signals.len();
    let mut dsu = Dsu((0..n).collect());
    let win = hours(JOIN_WINDOW_H);
    // Each signal joins the previous one on the same host, account or
    // non-internal address when within the window ("previous" is the one
    // before in the list, which is in signal order).
    let close = |j: usize, i: usize| match (signals[j].time, signals[i].time) {
        (Some(a), Some(b)) => b.signed_duration_since(a) <= win,
        _ => true,
    };
    let mut by_addr: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, d) in signals.iter().enumerate() {
        for a in d.addresses.iter() {
            if sig.addr_kind.get(a.as_str()) == Some(&AddressKind::Internal) {
                continue;
            }
            let v = by_addr.entry(a.as_str()).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    for list in sig
        .by_host
        .values()
        .chain(sig.by_acct.values())
        .chain(by_addr.values())
    {
        for w in list.windows(2) {
            if close(w[0], w[1]) {
                dsu.union(w[1], w[0]);
            }
        }
    }
    // One high/critical rule firing on several hosts within the hour is
    // one operation (a GPO detonation, a PsExec loop): one incident.
    let mut last_by_rule: HashMap<&str, usize> = HashMap::new();
    for (i, d) in signals.iter().enumerate() {
        if lvl_rank(d.rule.level) < lvl_rank(Some(Level::High)) {
            continue;
        }
        if let Some(&j) = last_by_rule.get(d.rule.title.as_str()) {
            if let (Some(a), Some(b)) = (signals[j].time, d.time) {
                if b.signed_duration_since(a) <= hours(1) {
                    dsu.union(i, j);
                }
            }
        }
        last_by_rule.insert(&d.rule.title, i);
    }
    // A malicious link joins the signals of its two ends near it.
    for l in links.iter().filter(|l| l.malicious) {
        let near = |host: &str| {
            let idx = sig.by_host.get(host)?;
            let &i0 = idx.first()?;
            if signals[i0].time.is_none() {
                return Some(i0);
            }
            let lo = minus(l.first, win);
            let p = idx.partition_point(|&i| signals[i].time.is_some_and(|t| t < lo));
            let &i = idx.get(p)?;
            signals[i]
                .time
                .is_some_and(|t| t <= plus(l.last, win))
                .then_some(i)
        };
        if let (Some(a), Some(b)) = (near(&l.from), near(&l.to)) {
            dsu.union(a, b);
        }
    }
    let mut clusters: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = dsu.find(i);
        clusters.entry(r).or_default().push(i);
    }
    clusters.into_values().collect()
}

fn bump(m: &mut BTreeMap<String, EntityActivity>, name: &str, t: Timestamp) {
    let e = match m.get_mut(name) {
        Some(e) => e,
        None => m.entry(name.to_string()).or_insert(EntityActivity {
            name: name.to_string(),
            first: t,
            last: t,
            detections: 0,
        }),
    };
    e.first = e.first.min(t);
    e.last = e.last.max(t);
    e.detections += 1;
}

pub(crate) fn touch(
    m: &mut BTreeMap<String, EntityActivity>,
    name: &str,
    f: Timestamp,
    l: Timestamp,
) {
    let e = m.entry(name.to_string()).or_insert(EntityActivity {
        name: name.to_string(),
        first: f,
        last: l,
        detections: 0,
    });
    e.first = e.first.min(f);
    e.last = e.last.max(l);
}

/// An incident being built: the public fields and what the analysis
/// needs of it afterwards.
pub(crate) struct Draft {
    pub incident: Incident,
    /// Its signals (indexes into `Signals::list`).
    pub sigs: Vec<usize>,
    /// Its malicious links (indexes into the sorted links).
    pub links: Vec<usize>,
}

/// Builds the incident of a cluster: its hosts and accounts, the
/// malicious links touching its hosts in its window, its ATT&CK
/// progression. `None` when none of its signals has a time.
pub(crate) fn build(idx: &[usize], sig: &Signals, links: &[L]) -> Option<Draft> {
    let sigs: Vec<&Det> = idx.iter().map(|&i| &sig.list[i]).collect();
    let severity = sigs
        .iter()
        .filter_map(|d| d.rule.level)
        .max()
        .unwrap_or(Level::Medium);
    let times: Vec<Timestamp> = sigs.iter().filter_map(|d| d.time).collect();
    let (&sfirst, &slast) = (times.iter().min()?, times.iter().max()?);
    let mut hosts: BTreeMap<String, EntityActivity> = BTreeMap::new();
    let mut accts: BTreeMap<String, EntityActivity> = BTreeMap::new();
    let mut addrs: BTreeSet<String> = BTreeSet::new();
    for d in &sigs {
        let t = d.time.unwrap_or(sfirst);
        bump(&mut hosts, &d.host, t);
        for a in d.accounts.iter() {
            bump(&mut accts, a, t);
        }
        for a in d.addresses.iter() {
            if sig.addr_kind.get(a.as_str()) != Some(&AddressKind::Internal) {
                addrs.insert(a.clone());
            }
        }
    }
    // Malicious links touching its hosts in its window.
    let win = hours(JOIN_WINDOW_H);
    let inc_links: Vec<usize> = links
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.malicious
                && (hosts.contains_key(&l.to) || hosts.contains_key(&l.from))
                && l.last >= minus(sfirst, win)
                && l.first <= plus(slast, win)
        })
        .map(|(i, _)| i)
        .collect();
    let (mut first, mut last) = (sfirst, slast);
    for &i in &inc_links {
        let l = &links[i];
        first = first.min(l.first);
        last = last.max(l.last);
        if l.to.parse::<std::net::IpAddr>().is_err() {
            touch(&mut hosts, &l.to, l.first, l.last);
        }
        if l.from_kind == AddressKind::Internal && l.from.parse::<std::net::IpAddr>().is_err() {
            touch(&mut hosts, &l.from, l.first, l.last);
        }
        if let Some(a) = &l.account {
            touch(&mut accts, a, l.first, l.last);
        }
        if l.from_kind != AddressKind::Internal {
            if let Some(a) = &l.from_address {
                addrs.insert(a.clone());
            }
        }
    }
    // Progression: one step per rule, time ordered.
    let mut steps: BTreeMap<(&str, &str), ProgressionStep> = BTreeMap::new();
    for &i in idx {
        let d = &sig.list[i];
        let t = d.time.unwrap_or(sfirst);
        let key = (
            d.rule.title.as_str(),
            d.rule.id.as_deref().unwrap_or_default(),
        );
        let st = steps.entry(key).or_insert_with(|| {
            let a = sig.attack_of(i);
            let (tid, tname) = a
                .main_tactic()
                .map(|(i, n)| (Some(i.to_string()), n.to_string()))
                .unwrap_or((None, "Unknown".into()));
            let tech = a.techniques.first().cloned();
            ProgressionStep {
                first: t,
                last: t,
                tactic_id: tid,
                tactic: tname,
                technique_id: tech.clone(),
                technique: tech.as_deref().and_then(technique).map(|x| x.1.to_string()),
                rule_id: d.rule.id.clone(),
                rule_title: d.rule.title.clone(),
                level: d.rule.level,
                hosts: vec![],
                accounts: vec![],
                count: 0,
                evidence: d.evidence(),
            }
        });
        st.count += 1;
        if t < st.first {
            st.first = t;
            st.evidence = d.evidence();
        }
        st.last = st.last.max(t);
        if !st.hosts.iter().any(|h| **h == *d.host) {
            st.hosts.push(d.host.to_string());
        }
        for a in d.accounts.iter() {
            if !st.accounts.contains(a) {
                st.accounts.push(a.clone());
            }
        }
    }
    let mut progression: Vec<ProgressionStep> = steps.into_values().collect();
    for s in &mut progression {
        s.hosts.sort();
        s.accounts.sort();
    }
    let mut hv: Vec<EntityActivity> = hosts.into_values().collect();
    hv.sort_by(|a, b| (a.first, &a.name).cmp(&(b.first, &b.name)));
    let mut av: Vec<EntityActivity> = accts.into_values().collect();
    av.sort_by(|a, b| (a.first, &a.name).cmp(&(b.first, &b.name)));
    Some(Draft {
        incident: Incident {
            id: String::new(),
            severity,
            nature: vec![],
            first,
            last,
            hosts: hv,
            accounts: av,
            addresses: addrs.into_iter().collect(),
            detections: sigs.iter().filter(|d| !d.builtin).count() as u64,
            progression,
            tactics: vec![],
            entry_point: None,
            links: vec![],
            services_affected: vec![],
            summary: String::new(),
            nature_detail: vec![],
        },
        sigs: idx.to_vec(),
        links: inc_links,
    })
}

/// A progression step that is not a rule: the entry point, a movement, a
/// credential attack (Vigie's own reading, so the ATT&CK chain shows what
/// the scope established even where no rule fired).
#[allow(clippy::too_many_arguments)]
pub(crate) fn vigie_step(
    first: Timestamp,
    last: Timestamp,
    tactic: (&str, &str),
    technique_id: &str,
    title: String,
    level: Level,
    hosts: Vec<String>,
    accounts: Vec<String>,
    count: u64,
    evidence: Evidence,
) -> ProgressionStep {
    ProgressionStep {
        first,
        last,
        tactic_id: Some(tactic.0.to_string()),
        tactic: tactic.1.to_string(),
        technique_id: Some(technique_id.to_string()),
        technique: technique(technique_id).map(|x| x.1.to_string()),
        rule_id: None,
        rule_title: title,
        level: Some(level),
        hosts,
        accounts,
        count,
        evidence,
    }
}

/// Lateral-movement steps of an incident: its malicious links that run
/// code or open a session between internal hosts, one step per method.
pub(crate) fn movement_steps(inc_links: &[&L], lang: vigie_lang::Lang) -> Vec<ProgressionStep> {
    let mut by: BTreeMap<LinkMethod, Vec<&L>> = BTreeMap::new();
    for l in inc_links {
        if strong_method(l.method)
            && l.method != LinkMethod::Vpn
            && l.from_kind == AddressKind::Internal
        {
            by.entry(l.method).or_default().push(l);
        }
    }
    by.into_iter()
        .filter_map(|(m, ls)| {
            let first = ls.iter().map(|l| l.first).min()?;
            let last = ls.iter().map(|l| l.last).max()?;
            let ev = ls
                .iter()
                .min_by_key(|l| l.first)
                .and_then(|l| l.evidence.first().cloned())?;
            let mut hosts: Vec<String> = ls.iter().map(|l| l.to.clone()).collect();
            hosts.sort();
            hosts.dedup();
            let mut accounts: Vec<String> = ls.iter().filter_map(|l| l.account.clone()).collect();
            accounts.sort();
            accounts.dedup();
            let tech = match m {
                LinkMethod::Rdp => "T1021.001",
                LinkMethod::Psexec | LinkMethod::RemoteService => "T1569.002",
                LinkMethod::Winrm => "T1021.006",
                LinkMethod::Wmi => "T1047",
                LinkMethod::Dcom => "T1021.003",
                LinkMethod::RemoteTask => "T1053.005",
                _ => "T1021",
            };
            let title = vigie_lang::tr!(
                lang,
                "Mouvement latéral par {} (lecture Vigie)",
                "Lateral movement by {} (Vigie reading)",
                crate::text::method(lang, m)
            );
            Some(vigie_step(
                first,
                last,
                ("TA0008", "Lateral Movement"),
                tech,
                title,
                Level::High,
                hosts,
                accounts,
                ls.iter().map(|l| l.count).sum(),
                ev,
            ))
        })
        .collect()
}

/// Orders the progression by first occurrence and lists its tactics.
pub(crate) fn finish_progression(inc: &mut Incident) {
    inc.progression
        .sort_by(|a, b| (a.first, &a.rule_title).cmp(&(b.first, &b.rule_title)));
    let mut tactics = Vec::new();
    for s in &inc.progression {
        if !tactics.contains(&s.tactic) {
            tactics.push(s.tactic.clone());
        }
    }
    inc.tactics = tactics;
}
