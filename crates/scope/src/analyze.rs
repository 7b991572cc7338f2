//! The batch half of the scope stage: from the merged observer's facts to a
//! [`Scope`]. Pure function of the facts: sorted inputs, sorted outputs, so
//! the same logs always give the same scope.
//!
//! The reasoning is deliberately conservative and explainable:
//!
//! * a *signal* is a detection of level medium or above, or a cleared log;
//! * signals are grouped into incidents when they share a host or an
//!   account within 48 hours, or when a suspicious link joins their hosts;
//! * a link (logon, remote execution) is *malicious* when it happens around
//!   the signals and involves an implicated account, an implicated source
//!   host, an external address, or PsExec;
//! * "not reached" is said of a zone only when logs of every host of the
//!   zone cover the whole attack period without gap, silence or clearing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use vigie_detect::{CorrelationMatch, Level, RuleKind, RuleMeta};
use vigie_event::Timestamp;

use crate::attack::{technique, Attack, TACTICS};
use crate::exposure;
use crate::model::*;
use crate::names::{builtin_kind, host_key, wildcard, AddressPlan};
use crate::observer::{
    ev_key, loc_key, merge_top, minute, push_top_det, push_top_ref, Det, LinkKey, Observer,
    TOP_EVIDENCE,
};

const JOIN_WINDOW_H: i64 = 48;
const LINK_LOOKBACK_H: i64 = 24;
const MAX_LIST: usize = 500;
const MAX_GAPS: usize = 200;
const MAX_LINKS: usize = 5000;
/// Hosts on which one task or service name must appear to be a mass deployment.
const MASS_HOSTS: usize = 3;
/// Outbound volume to one external address above which a transfer is
/// probable exfiltration.
const EXFIL_BYTES: u64 = 1 << 30;

fn fmt_t(t: Option<Timestamp>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "unknown time".into())
}

fn lvl_rank(l: Option<Level>) -> u8 {
    match l {
        None => 0,
        Some(Level::Informational) => 1,
        Some(Level::Low) => 2,
        Some(Level::Medium) => 3,
        Some(Level::High) => 4,
        Some(Level::Critical) => 5,
    }
}

fn count_level(c: &mut LevelCounts, l: Option<Level>) {
    match l {
        None => c.unset += 1,
        Some(Level::Informational) => c.informational += 1,
        Some(Level::Low) => c.low += 1,
        Some(Level::Medium) => c.medium += 1,
        Some(Level::High) => c.high += 1,
        Some(Level::Critical) => c.critical += 1,
    }
}

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

/// A link after address resolution.
#[derive(Debug, Clone)]
struct L {
    from: String,
    from_address: Option<String>,
    from_kind: AddressKind,
    to: String,
    account: Option<String>,
    method: LinkMethod,
    first: Timestamp,
    last: Timestamp,
    count: u64,
    minutes: Vec<i64>,
    evidence: Vec<Evidence>,
    malicious: bool,
}

fn strong_method(m: LinkMethod) -> bool {
    !matches!(
        m,
        LinkMethod::LogonType3 | LinkMethod::SmbAdminShare | LinkMethod::ExplicitCreds
    )
}

fn method_name(m: LinkMethod) -> &'static str {
    match m {
        LinkMethod::Rdp => "remote desktop",
        LinkMethod::Psexec => "PsExec",
        LinkMethod::SmbAdminShare => "admin share",
        LinkMethod::LogonType3 => "network logon",
        LinkMethod::ExplicitCreds => "explicit credentials",
        LinkMethod::Vpn => "VPN",
        LinkMethod::Winrm => "WinRM",
        LinkMethod::Wmi => "WMI",
        LinkMethod::RemoteTask => "remote scheduled task",
        LinkMethod::RemoteService => "remote service",
    }
}

struct Ctx<'a> {
    assets: &'a Assets,
    plan: AddressPlan,
}

impl Ctx<'_> {
    fn host_asset(&self, host: &str, fqdns: &BTreeSet<String>) -> Option<&HostAsset> {
        self.assets.hosts.iter().find(|h| {
            let pat = h.name.trim();
            wildcard(pat, host)
                || host_key(pat)
                    .is_some_and(|k| !pat.contains('*') && !pat.contains('?') && k == host)
                || fqdns.iter().any(|f| wildcard(pat, f))
        })
    }
    fn zone(&self, name: &str) -> Option<&ZoneAsset> {
        self.assets
            .zones
            .iter()
            .find(|z| z.name.eq_ignore_ascii_case(name))
    }
    fn account_asset(&self, name: &str) -> Option<&AccountAsset> {
        self.assets.accounts.iter().find(|a| {
            let pat = crate::names::account_key(&a.name)
                .map(|k| k.0)
                .unwrap_or_default();
            wildcard(&pat, name)
        })
    }
}

pub(crate) fn build(o: Observer, correlations: &[CorrelationMatch]) -> Scope {
    let assets = o.assets.clone();
    let mut caveats = Vec::new();
    let assets_loaded = *assets != Assets::default();
    if !assets_loaded {
        caveats.push(
            "No assets file: host roles are inferred from the logs, and zones, citizen services and data stores are unknown."
                .to_string(),
        );
    }
    let mut plan = AddressPlan::default();
    for (list, out, what) in [
        (&assets.networks.vpn_pools, &mut plan.vpn, "vpn_pools"),
        (&assets.networks.internal, &mut plan.internal, "internal"),
    ] {
        for c in list {
            match c.trim().parse::<ipnet::IpNet>() {
                Ok(n) => out.push(n),
                Err(_) => match c.trim().parse::<std::net::IpAddr>() {
                    Ok(ip) => out.push(ipnet::IpNet::from(ip)),
                    Err(_) => caveats.push(format!(
                        "assets networks.{what}: '{c}' is not a CIDR range; ignored"
                    )),
                },
            }
        }
    }
    let ctx = Ctx {
        assets: &assets,
        plan,
    };

    // --- hosts seen and their FQDNs ---------------------------------------
    let mut fqdns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((h, _), c) in &o.cov {
        fqdns
            .entry(h.clone())
            .or_default()
            .extend(c.fqdns.iter().cloned());
    }

    // --- address → host ---------------------------------------------------
    let mut addr_host: BTreeMap<String, String> = BTreeMap::new();
    {
        let mut best: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let mut obs: Vec<(&String, &String, &u64)> = o
            .addr_host
            .iter()
            .flat_map(|(a, m)| m.iter().map(move |(h, n)| (a, h, n)))
            .collect();
        obs.sort();
        for (a, h, n) in obs {
            let e = best.entry(a.clone()).or_insert((0, h.clone()));
            if *n > e.0 || (*n == e.0 && h < &e.1) {
                *e = (*n, h.clone());
            }
        }
        for (a, (_, h)) in best {
            addr_host.insert(a, h);
        }
        for h in &assets.hosts {
            if h.name.contains('*') || h.name.contains('?') {
                continue;
            }
            if let Some(k) = host_key(&h.name) {
                for a in &h.addresses {
                    if let Some(a) = crate::names::address_key(a) {
                        addr_host.insert(a, k.clone());
                    }
                }
            }
        }
    }
    let resolve = |s: &str| -> (String, Option<String>) {
        if s.parse::<std::net::IpAddr>().is_ok() {
            match addr_host.get(s) {
                Some(h) => (h.clone(), Some(s.to_string())),
                None => (s.to_string(), Some(s.to_string())),
            }
        } else {
            (s.to_string(), None)
        }
    };

    // --- links, resolved ---------------------------------------------------
    let mut lmap: BTreeMap<LinkKey, L> = BTreeMap::new();
    let mut raw_links: Vec<_> = o.links.into_iter().collect();
    raw_links.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, acc) in raw_links {
        let (Some(first), Some(last)) = (acc.first, acc.last) else {
            continue;
        };
        let (from, from_addr0) = resolve(&k.from);
        let (to, _) = resolve(&k.to);
        if from == to {
            continue;
        }
        let from_address = acc.from_address.iter().next().cloned().or(from_addr0);
        let from_kind = from_address
            .as_deref()
            .map(|a| ctx.plan.classify(a))
            .unwrap_or(AddressKind::Internal);
        let key = LinkKey {
            from: from.clone(),
            to: to.clone(),
            account: k.account.clone(),
            method: k.method,
        };
        let l = lmap.entry(key).or_insert_with(|| L {
            from,
            from_address: from_address.clone(),
            from_kind,
            to,
            account: k.account.clone(),
            method: k.method,
            first,
            last,
            count: 0,
            minutes: Vec::new(),
            evidence: Vec::new(),
            malicious: false,
        });
        l.first = l.first.min(first);
        l.last = l.last.max(last);
        l.count += acc.count;
        l.minutes.extend(acc.minutes);
        merge_top(&mut l.evidence, acc.evidence);
        if l.from_address.is_none() {
            l.from_address = from_address;
        }
    }
    for l in lmap.values_mut() {
        l.minutes.sort_unstable();
        l.minutes.dedup();
    }

    // --- services, tasks, remote exec: sorted -----------------------------
    let mut services = o.services;
    services.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
    services.dedup_by(|a, b| ev_key(&a.evidence) == ev_key(&b.evidence));
    let mut tasks = o.tasks;
    tasks.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
    let mut remote_exec = o.remote_exec;
    // Processes whose parent image was not logged: started by a remote
    // execution host process? Looked up now, among all process creations,
    // so that the answer does not depend on how events were split between
    // observers (see `Orphan`).
    for p in o.orphans {
        let Some(hid) = o.procs.host_id(&p.host) else {
            continue;
        };
        let Some(parent) = o.procs.lookup(hid, p.parent_key, p.evidence.time) else {
            continue;
        };
        let pb = crate::names::basename(o.procs.name(parent.image));
        if let Some(m) = crate::observer::remote_method(&pb) {
            let mut evidence = p.evidence;
            evidence.summary = crate::observer::remote_summary(&p.image, &pb, m, &p.host);
            remote_exec.push(crate::observer::RemoteExec {
                host: p.host,
                time: evidence.time,
                user: p.user,
                method: m,
                evidence,
            });
        }
    }
    remote_exec.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));

    // PsExec-style service installs: pair with the admin-share access or
    // network logon that preceded them on that host to find the source.
    let mut derived: Vec<(LinkKey, L)> = Vec::new();
    for svc in &services {
        let psexec = crate::observer::is_psexec_name(&svc.name)
            || svc
                .image
                .as_deref()
                .is_some_and(crate::observer::is_psexec_name)
            || svc
                .rules
                .iter()
                .any(|r| r.to_ascii_lowercase().contains("psexec"));
        let Some(t) = svc.time else { continue };
        if !psexec {
            continue;
        }
        if let Some(src) = pair_source(&lmap, &svc.host, t, 5, 1, None) {
            derived.push(derived_link(
                &src,
                LinkMethod::Psexec,
                t,
                svc.evidence.clone(),
            ));
        }
    }
    for rx in &remote_exec {
        let Some(t) = rx.time else { continue };
        if let Some(src) = pair_source(&lmap, &rx.host, t, 2, 0, rx.user.as_deref()) {
            derived.push(derived_link(&src, rx.method, t, rx.evidence.clone()));
        }
    }
    for (k, d) in derived {
        let l = lmap.entry(k).or_insert_with(|| L {
            count: 0,
            evidence: Vec::new(),
            ..d.clone()
        });
        l.first = l.first.min(d.first);
        l.last = l.last.max(d.last);
        l.count += 1;
        merge_top(&mut l.evidence, d.evidence);
    }

    // --- signals ----------------------------------------------------------
    let dets = o.dets;
    let all_dets = dets.len();
    // Everything later needs of the whole detection list is taken now (it
    // does not depend on their order), so that the signals can then be
    // *moved* out of it rather than cloned, and only they are sorted.
    let (by_level, rule_counts, host_det_counts) = det_counts(&dets);
    let mut cleared = o.cleared;
    cleared.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
    let clear_rule = Arc::new(RuleMeta {
        id: None,
        name: None,
        title: "Event log cleared (Vigie built-in)".into(),
        kind: RuleKind::Detection,
        level: Some(Level::High),
        status: None,
        description: Some("Security 1102 / System 104: a log was cleared.".into()),
        author: None,
        tags: vec!["attack.defense-evasion".into(), "attack.t1070.001".into()],
        references: vec![],
        falsepositives: vec![],
        logsource: Default::default(),
        path: "builtin:scope/cleared-log".into(),
    });
    let mut signals = dets;
    signals.retain(|d| lvl_rank(d.rule.level) >= lvl_rank(Some(Level::Medium)));
    let signals = sort_dets(signals);
    // Was this event already reported by a rule of level medium or above
    // (all in `signals` at this point)? Then a built-in signal on it would
    // only duplicate it. The same source and locator is the same event, so
    // the same time too: a binary search on the (time, source, locator)
    // prefix of the evidence order, instead of a scan of tens of thousands
    // of detections for each of hundreds of cleared logs and behaviours.
    let is_reported = |e: &Evidence| {
        let k = (e.time, e.source.as_str(), loc_key(&e.locator));
        let p = signals.partition_point(|d| d.event_key() < k);
        signals.get(p).is_some_and(|d| d.event_key() == k)
    };
    let mut builtin_signals: Vec<Det> = Vec::new();
    // Behaviours no rule reported are signals of Vigie's own.
    let mut behaviours = o.behaviours;
    behaviours.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
    for b in &behaviours {
        if is_reported(&b.evidence) {
            continue;
        }
        let (title, tags) = match b.kind {
            crate::observer::BehaviourKind::InhibitRecovery => (
                "System recovery inhibited (Vigie built-in)",
                ["attack.impact", "attack.t1490"],
            ),
            crate::observer::BehaviourKind::LsassDump => (
                "LSASS memory dump (Vigie built-in)",
                ["attack.credential-access", "attack.t1003.001"],
            ),
        };
        let rule = Arc::new(RuleMeta {
            title: title.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            path: format!("builtin:scope/{:?}", b.kind).into(),
            description: Some(b.kind.what().into()),
            ..(*clear_rule).clone()
        });
        builtin_signals.push(builtin_det(
            &b.evidence,
            &b.host,
            rule,
            b.user.iter().cloned().collect(),
        ));
    }
    // Correlations (brute force, bursts...) are signals when their group
    // names the host they happened on.
    for c in correlations {
        if lvl_rank(c.rule.level) < lvl_rank(Some(Level::Medium)) {
            continue;
        }
        let field = |names: &[&str]| {
            c.group
                .iter()
                .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                .map(|(_, v)| v.as_str())
        };
        let Some(host) =
            field(&["Computer", "ComputerName", "Hostname", "host", "devname"]).and_then(host_key)
        else {
            continue;
        };
        let accounts: Vec<String> = c
            .group
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().contains("user"))
            .filter_map(|(_, v)| crate::observer::user(Some(v)).map(|u| u.0))
            .collect();
        let addresses: Vec<String> = c
            .group
            .iter()
            .filter_map(|(_, v)| crate::names::address_key(v))
            .filter(|a| !crate::observer::is_local_addr(a))
            .collect();
        let group: Vec<String> = c.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        builtin_signals.push(Det {
            time: Some(c.first),
            host: Arc::from(host),
            rule: c.rule.clone(),
            accounts: accounts.into(),
            addresses: addresses.into(),
            source: Arc::from(c.rule.path.display().to_string()),
            locator: vigie_event::Locator::None,
            event_id: None,
            named_host: true,
            summary: Some(
                format!(
                    "correlation {} fired ({}; value {}) between {} and {}",
                    c.rule.title,
                    group.join(", "),
                    c.value,
                    fmt_t(Some(c.first)),
                    fmt_t(Some(c.last))
                )
                .into(),
            ),
            builtin: true,
        });
    }
    for c in &cleared {
        // A rule already reported this clearing (e.g. SigmaHQ "Security
        // Eventlog Cleared"): the built-in signal would only duplicate it.
        if is_reported(&c.evidence) {
            continue;
        }
        builtin_signals.push(builtin_det(
            &c.evidence,
            &c.host,
            clear_rule.clone(),
            c.account.iter().cloned().collect(),
        ));
    }
    // Rule signals and built-in ones, in order: as a stable sort of both
    // (rule signals first on ties), without sorting the former again.
    let signals = merge_sorted(signals, sort_dets(builtin_signals), det_order);
    // ATT&CK reading and natures of each distinct rule, keyed by the rule's
    // allocation (its tags and title are fixed): tens of thousands of
    // signals come from a few hundred rules.
    let mut rule_ix: HashMap<*const RuleMeta, usize> = HashMap::new();
    let mut rule_info: Vec<(Attack, Vec<NatureKind>)> = Vec::new();
    let mut sig_rule: Vec<usize> = Vec::with_capacity(signals.len());
    for d in &signals {
        let i = *rule_ix.entry(Arc::as_ptr(&d.rule)).or_insert_with(|| {
            let a = Attack::from_tags(&d.rule.tags);
            let k = rule_natures(&d.rule.title, &a);
            rule_info.push((a, k));
            rule_info.len() - 1
        });
        sig_rule.push(i);
    }
    let attack_of = |i: usize| &rule_info[sig_rule[i]].0;
    let natures_in = |i: usize| (&signals[i], rule_info[sig_rule[i]].1.as_slice());
    // Signal indices (ascending, so in signal order) by host and by account.
    let mut sig_by_host: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut sig_by_acct: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, d) in signals.iter().enumerate() {
        sig_by_host.entry(&d.host).or_default().push(i);
        for a in d.accounts.iter() {
            let v = sig_by_acct.entry(a.as_str()).or_default();
            // A correlation's group may name the same account twice.
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }

    let sig_first = signals.iter().filter_map(|d| d.time).min();
    let sig_last = signals.iter().filter_map(|d| d.time).max();
    // Kind of each address named by a signal, classified once.
    let mut sig_addrs: HashMap<&str, AddressKind> = HashMap::new();
    for a in signals.iter().flat_map(|d| d.addresses.iter()) {
        if !sig_addrs.contains_key(a.as_str()) {
            sig_addrs.insert(a, ctx.plan.classify(a));
        }
    }

    // --- malicious links --------------------------------------------------
    if let (Some(f), Some(l)) = (sig_first, sig_last) {
        let lo = f - Duration::hours(LINK_LOOKBACK_H);
        let hi = l + Duration::hours(1);
        for link in lmap.values_mut() {
            if link.last < lo || link.first > hi {
                continue;
            }
            let acct = link
                .account
                .as_deref()
                .is_some_and(|a| sig_by_acct.contains_key(a));
            // A signal on the source host before the link ended (+1 h). The
            // host's signals are in time order, untimed ones first: the
            // earliest timed one decides.
            let src_host = sig_by_host.get(link.from.as_str()).is_some_and(|idx| {
                let p = idx.partition_point(|&i| signals[i].time.is_none());
                idx.get(p).is_some_and(|&i| {
                    signals[i]
                        .time
                        .is_some_and(|t| t <= link.last + Duration::hours(1))
                })
            });
            let ext = link.from_kind == AddressKind::External
                || link
                    .from_address
                    .as_deref()
                    .is_some_and(|a| sig_addrs.contains_key(a));
            link.malicious = acct || src_host || ext || link.method == LinkMethod::Psexec;
        }
    }
    let links_sorted: Vec<L> = {
        let mut v: Vec<L> = lmap.into_values().collect();
        v.sort_by(|a, b| {
            (a.first, &a.from, &a.to, &a.account, a.method)
                .cmp(&(b.first, &b.from, &b.to, &b.account, b.method))
        });
        v
    };
    let mal_links: Vec<&L> = links_sorted.iter().filter(|l| l.malicious).collect();

    let attack_period = {
        let f = sig_first
            .into_iter()
            .chain(mal_links.iter().map(|l| l.first))
            .min();
        let l = sig_last
            .into_iter()
            .chain(mal_links.iter().map(|l| l.last))
            .max();
        match (f, l) {
            (Some(first), Some(last)) => Some(Period { first, last }),
            _ => None,
        }
    };

    // --- incidents: union-find over signals --------------------------------
    let n = signals.len();
    let mut dsu = Dsu((0..n).collect());
    {
        // Each signal joins the previous one on the same host, account or
        // non-internal address when within the window. The lists of
        // `sig_by_*` are in signal order, so "previous" is the one before
        // in the list. The partition does not depend on the order of the
        // unions, and each root is the lowest index of its set.
        let win = Duration::hours(JOIN_WINDOW_H);
        let close = |j: usize, i: usize| match (signals[j].time, signals[i].time) {
            (Some(a), Some(b)) => b - a <= win,
            _ => true,
        };
        let mut by_addr: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, d) in signals.iter().enumerate() {
            for a in d.addresses.iter() {
                if sig_addrs.get(a.as_str()) == Some(&AddressKind::Internal) {
                    continue;
                }
                let v = by_addr.entry(a.as_str()).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
            }
        }
        for list in sig_by_host
            .values()
            .chain(sig_by_acct.values())
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
                    if b - a <= Duration::hours(1) {
                        dsu.union(i, j);
                    }
                }
            }
            last_by_rule.insert(&d.rule.title, i);
        }
        for l in &mal_links {
            // First signal on `host` untimed or within the link's window
            // (a host's signals are in time order, untimed ones first).
            let near = |host: &str| {
                let idx = sig_by_host.get(host)?;
                let &i0 = idx.first()?;
                if signals[i0].time.is_none() {
                    return Some(i0);
                }
                let p =
                    idx.partition_point(|&i| signals[i].time.is_some_and(|t| t < l.first - win));
                let &i = idx.get(p)?;
                signals[i]
                    .time
                    .is_some_and(|t| t <= l.last + win)
                    .then_some(i)
            };
            if let (Some(a), Some(b)) = (near(&l.from), near(&l.to)) {
                dsu.union(a, b);
            }
        }
    }
    let mut clusters: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = dsu.find(i);
        clusters.entry(r).or_default().push(i);
    }

    // --- host & account compromise -----------------------------------------
    let mut host_comp: BTreeMap<String, (Compromise, Vec<String>)> = BTreeMap::new();
    let mut acct_comp: BTreeMap<String, (Compromise, Vec<String>)> = BTreeMap::new();
    /// Raises `k` to level `c` for reason `why`, keeping at most 8 distinct
    /// reasons, the one that set the level first. `why` is built only when
    /// it can change something: a busy host has thousands of signals but
    /// keeps 8 reasons, and formatting each one (with its time) was most of
    /// the cost of this step.
    fn raise(
        m: &mut BTreeMap<String, (Compromise, Vec<String>)>,
        k: &str,
        c: Compromise,
        why: impl FnOnce() -> String,
    ) {
        raise_in(entry(m, k), c, why);
    }
    fn entry<'a>(
        m: &'a mut BTreeMap<String, (Compromise, Vec<String>)>,
        k: &str,
    ) -> &'a mut (Compromise, Vec<String>) {
        if !m.contains_key(k) {
            m.insert(k.to_string(), (Compromise::No, Vec::new()));
        }
        m.get_mut(k).expect("inserted above")
    }
    fn raise_in(e: &mut (Compromise, Vec<String>), c: Compromise, why: impl FnOnce() -> String) {
        // Neither a higher level nor room for another reason: a no-op
        // whatever the reason says.
        if c <= e.0 && e.1.len() >= 8 {
            return;
        }
        let why = why();
        if e.1.contains(&why) {
            return;
        }
        // The reason that set the level comes first.
        if c > e.0 {
            e.0 = c;
            e.1.insert(0, why);
            e.1.truncate(8);
        } else if e.1.len() < 8 {
            e.1.push(why);
        }
    }
    let level_of = |d: &Det| {
        if lvl_rank(d.rule.level) >= lvl_rank(Some(Level::High)) {
            Compromise::Yes
        } else {
            Compromise::Suspected
        }
    };
    let lv = |d: &Det| {
        d.rule
            .level
            .map(|l| format!("{l:?}").to_lowercase())
            .unwrap_or_default()
    };
    // Key by key, each in signal order: the outcome for a key depends only
    // on the sequence of its own reasons, and its entry is looked up once.
    for (h, idx) in &sig_by_host {
        let e = entry(&mut host_comp, h);
        for &i in idx {
            let d = &signals[i];
            raise_in(e, level_of(d), || {
                format!("{} ({}) at {}", d.rule.title, lv(d), fmt_t(d.time))
            });
        }
    }
    for (a, idx) in &sig_by_acct {
        let e = entry(&mut acct_comp, a);
        for &i in idx {
            let d = &signals[i];
            raise_in(e, level_of(d), || {
                format!(
                    "{} ({}) on {} at {}",
                    d.rule.title,
                    lv(d),
                    d.host,
                    fmt_t(d.time)
                )
            });
        }
    }
    for l in &mal_links {
        let strong = strong_method(l.method);
        let why = format!(
            "{} from {} as {} at {}",
            method_name(l.method),
            l.from,
            l.account.as_deref().unwrap_or("?"),
            fmt_t(Some(l.first))
        );
        let c = if strong {
            Compromise::Yes
        } else {
            Compromise::Suspected
        };
        if l.to.parse::<std::net::IpAddr>().is_err() {
            raise(&mut host_comp, &l.to, c, || why.clone());
        }
        if let Some(a) = &l.account {
            raise(
                &mut acct_comp,
                a,
                if strong || l.method == LinkMethod::ExplicitCreds {
                    Compromise::Yes
                } else {
                    Compromise::Suspected
                },
                || format!("used for {why} to {}", l.to),
            );
        }
    }
    // Accounts created or made privileged during the attack.
    let in_attack = |t: Option<Timestamp>| -> bool {
        match (attack_period, t) {
            (Some(p), Some(t)) => {
                t >= p.first - Duration::hours(1) && t <= p.last + Duration::hours(1)
            }
            _ => false,
        }
    };
    // Mass deployment: the same scheduled task or service created on
    // MASS_HOSTS hosts or more during the attack (GPO task, PsExec loop)
    // is how ransomware reaches "everything": each such host is compromised.
    let mut mass_ev: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
    {
        let mut by_name: BTreeMap<(&str, String), Vec<(&str, &Evidence)>> = BTreeMap::new();
        for t in tasks.iter().filter(|t| in_attack(t.time)) {
            by_name
                .entry(("scheduled task", t.name.to_lowercase()))
                .or_default()
                .push((&t.host, &t.evidence));
        }
        for sv in services.iter().filter(|s| in_attack(s.time)) {
            by_name
                .entry(("service", sv.name.to_lowercase()))
                .or_default()
                .push((&sv.host, &sv.evidence));
        }
        for ((what, name), uses) in &by_name {
            let hosts: BTreeSet<&str> = uses.iter().map(|u| u.0).collect();
            if hosts.len() < MASS_HOSTS {
                continue;
            }
            for (h, ev) in uses {
                raise(&mut host_comp, h, Compromise::Yes, || {
                    format!(
                        "{what} {name} created on {} hosts during the attack (mass deployment)",
                        hosts.len()
                    )
                });
                push_top_ref(mass_ev.entry(h.to_string()).or_default(), ev);
            }
        }
    }
    let mut accounts_raw: Vec<_> = o.accounts.into_iter().collect();
    accounts_raw.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, a) in &accounts_raw {
        let priv_add = a
            .groups
            .iter()
            .find(|(g, evs)| evs.iter().any(|e| in_attack(e.time)) && privileged_group(g))
            .map(|(g, _)| g.clone());
        let created = a.created.iter().find(|e| in_attack(e.time));
        // An account created during the attack is a backdoor when it was
        // also made privileged or used by the attack; created alone (a new
        // member of staff the same week) it only needs checking.
        let used = acct_comp.get(name).is_some_and(|c| c.0 == Compromise::Yes);
        if let Some(ev) = created {
            let (level, why) = if priv_add.is_some() || used {
                (
                    Compromise::Yes,
                    format!("created during the attack (backdoor): {}", ev.summary),
                )
            } else {
                (
                    Compromise::Suspected,
                    format!("created during the attack, to check: {}", ev.summary),
                )
            };
            raise(&mut acct_comp, name, level, || why);
        }
        if let Some(g) = priv_add {
            raise(&mut acct_comp, name, Compromise::Suspected, || {
                format!("added to {g} during the attack")
            });
        }
    }

    // --- incidents ------------------------------------------------------------
    let mut incidents: Vec<Incident> = Vec::new();
    for idx in clusters.values() {
        let sigs: Vec<&Det> = idx.iter().map(|&i| &signals[i]).collect();
        let severity = sigs
            .iter()
            .filter_map(|d| d.rule.level)
            .max()
            .unwrap_or(Level::Medium);
        let times: Vec<Timestamp> = sigs.iter().filter_map(|d| d.time).collect();
        let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) else {
            continue;
        };
        let mut hosts: BTreeMap<String, EntityActivity> = BTreeMap::new();
        let mut accts: BTreeMap<String, EntityActivity> = BTreeMap::new();
        let mut addrs: BTreeSet<String> = BTreeSet::new();
        for d in &sigs {
            let t = d.time.unwrap_or(first);
            bump(&mut hosts, &d.host, t);
            for a in d.accounts.iter() {
                bump(&mut accts, a, t);
            }
            for a in d.addresses.iter() {
                if !addrs.contains(a) && sig_addrs.get(a.as_str()) != Some(&AddressKind::Internal) {
                    addrs.insert(a.clone());
                }
            }
        }
        // Links of the incident: malicious links touching its hosts in its window.
        let win = Duration::hours(JOIN_WINDOW_H);
        let inc_links: Vec<usize> = links_sorted
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.malicious
                    && (hosts.contains_key(&l.to) || hosts.contains_key(&l.from))
                    && l.last >= first - win
                    && l.first <= last + win
            })
            .map(|(i, _)| i)
            .collect();
        for &i in &inc_links {
            let l = &links_sorted[i];
            if l.to.parse::<std::net::IpAddr>().is_err() {
                touch(&mut hosts, &l.to, l.first, l.last);
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
        // Progression: one step per (rule, tactic/technique), time ordered.
        // Keys borrow the rule; a step is built only for its first signal.
        let mut steps: BTreeMap<(&str, &str), ProgressionStep> = BTreeMap::new();
        for &i in idx {
            let d = &signals[i];
            let t = d.time.unwrap_or(first);
            let key = (
                d.rule.title.as_str(),
                d.rule.id.as_deref().unwrap_or_default(),
            );
            let st = steps.entry(key).or_insert_with(|| {
                let a = attack_of(i);
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
        progression.sort_by(|a, b| (a.first, &a.rule_title).cmp(&(b.first, &b.rule_title)));
        let mut tactics = Vec::new();
        for s in &progression {
            if !tactics.contains(&s.tactic) {
                tactics.push(s.tactic.clone());
            }
        }
        let sub: Vec<(&Det, &[NatureKind])> = idx.iter().map(|&i| natures_in(i)).collect();
        let nature = natures_of(&sub, &[], &[])
            .into_iter()
            .map(|n| n.kind)
            .collect();
        let mut hv: Vec<EntityActivity> = hosts.into_values().collect();
        hv.sort_by(|a, b| (a.first, &a.name).cmp(&(b.first, &b.name)));
        let mut av: Vec<EntityActivity> = accts.into_values().collect();
        av.sort_by(|a, b| (a.first, &a.name).cmp(&(b.first, &b.name)));
        incidents.push(Incident {
            id: String::new(),
            severity,
            nature,
            first,
            last,
            hosts: hv,
            accounts: av,
            addresses: addrs.into_iter().collect(),
            detections: sigs.iter().filter(|d| !d.builtin).count() as u64,
            progression,
            tactics,
            entry_point: None,
            links: inc_links.iter().map(|i| format!("L{}", i + 1)).collect(),
            services_affected: vec![],
        });
    }
    incidents.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.progression.len().cmp(&a.progression.len()))
            .then(b.detections.cmp(&a.detections))
            .then(a.first.cmp(&b.first))
    });
    for (i, inc) in incidents.iter_mut().enumerate() {
        inc.id = format!("INC-{}", i + 1);
    }

    // --- entry points --------------------------------------------------------
    let mut vpn = o.vpn;
    vpn.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
    let mut failed: Vec<_> = o.failed.into_iter().collect();
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    for inc in &mut incidents {
        inc.entry_point = entry_point(inc, &mal_links, &signals, &sig_by_host, &vpn, &failed, &ctx);
    }
    let entry = incidents.first().and_then(|i| i.entry_point.clone());
    if let Some(e) = &entry {
        if let Some(a) = &e.account {
            raise(&mut acct_comp, a, Compromise::Yes, || {
                format!("entry point: {}", e.description)
            });
        }
        if let Some(h) = &e.host {
            raise(&mut host_comp, h, Compromise::Yes, || {
                format!("entry point: {}", e.description)
            });
        }
    }

    // --- coverage ---------------------------------------------------------------
    let threshold = o.silence_threshold_secs;
    let mut channels: Vec<ChannelCoverage> = Vec::new();
    let mut cov_sorted: Vec<_> = o.cov.into_iter().collect();
    cov_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for ((host, channel), c) in cov_sorted {
        let mut runs = c.runs;
        runs.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in runs {
            match merged.last_mut() {
                Some((_, le)) if s <= *le + 1 => *le = (*le).max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut gaps: Vec<RecordGap> = merged
            .windows(2)
            .map(|w| RecordGap {
                after: w[0].1,
                before: w[1].0,
                missing: w[1].0 - w[0].1 - 1,
            })
            .collect();
        gaps.truncate(MAX_GAPS);
        let mut mins = c.minutes;
        mins.sort_unstable();
        mins.dedup();
        let silences: Vec<Silence> = mins
            .windows(2)
            .filter(|w| ((w[1] - w[0]) * 60) as u64 > threshold)
            .filter_map(|w| {
                let from = Utc.timestamp_opt(w[0] * 60 + 59, 0).single()?;
                let to = Utc.timestamp_opt(w[1] * 60, 0).single()?;
                Some(Silence {
                    from: from.max(c.first?),
                    to: to.min(c.last?),
                    seconds: ((w[1] - w[0]) * 60) as u64,
                })
            })
            .take(MAX_GAPS)
            .collect();
        let cl: Vec<ClearedLog> = cleared
            .iter()
            .filter(|x| x.host == host && x.channel == channel)
            .map(|x| ClearedLog {
                time: x.time,
                cleared_channel: x.cleared_channel.clone(),
                account: x.account.clone(),
                evidence: x.evidence.clone(),
            })
            .collect();
        channels.push(ChannelCoverage {
            host,
            channel,
            first: c.first,
            last: c.last,
            events: c.events,
            first_record: merged.first().map(|r| r.0),
            last_record: merged.last().map(|r| r.1),
            record_gaps: gaps,
            cleared: cl,
            silences,
        });
    }
    let coverage = Coverage {
        silence_threshold_secs: threshold,
        channels,
    };

    // --- hosts -----------------------------------------------------------------
    let mut host_names: BTreeSet<String> = fqdns.keys().cloned().collect();
    host_names.remove("UNKNOWN");
    for l in &links_sorted {
        for h in [&l.from, &l.to] {
            if h.parse::<std::net::IpAddr>().is_err() {
                host_names.insert(h.clone());
            }
        }
    }
    for d in &signals {
        host_names.insert(d.host.to_string());
    }
    let kdc = o.kdc;
    let gateways = o.gateways;
    let mut hosts: Vec<Host> = Vec::new();
    for name in &host_names {
        let fq = fqdns.get(name).cloned().unwrap_or_default();
        let asset = ctx.host_asset(name, &fq);
        let zone = asset.and_then(|a| a.zone.clone());
        let za = zone.as_deref().and_then(|z| ctx.zone(z));
        let (mut role, mut role_source, mut role_reason) = (
            asset.and_then(|a| a.role.clone()),
            asset
                .and_then(|a| a.role.as_ref())
                .map(|_| "assets".to_string()),
            None,
        );
        if role.is_none() {
            if let Some(k) = kdc.get(name) {
                role = Some("domain_controller".into());
                role_source = Some("inferred".into());
                role_reason = Some(format!(
                    "issues Kerberos tickets ({} events 4768/4769)",
                    k.count
                ));
            } else if let Some(g) = gateways.get(name) {
                role = Some("firewall".into());
                role_source = Some("inferred".into());
                role_reason = Some(format!("logs VPN sessions or traffic ({} events)", g.count));
            }
        }
        let (comp, reasons) = host_comp
            .get(name)
            .cloned()
            .unwrap_or((Compromise::No, vec![]));
        let det_counts = host_det_counts.get(name).cloned().unwrap_or_default();
        let hs: Vec<&Det> = sig_by_host
            .get(name.as_str())
            .map(|v| v.iter().map(|&i| &signals[i]).collect())
            .unwrap_or_default();
        let mut first_mal = hs.iter().filter_map(|d| d.time).min();
        let mut last_mal = hs.iter().filter_map(|d| d.time).max();
        for l in mal_links.iter().filter(|l| &l.to == name) {
            first_mal = Some(first_mal.map_or(l.first, |f| f.min(l.first)));
            last_mal = Some(last_mal.map_or(l.last, |f| f.max(l.last)));
        }
        let mut evidence = Vec::new();
        for d in hs.iter() {
            push_top_det(&mut evidence, d);
        }
        for l in mal_links.iter().filter(|l| &l.to == name) {
            if let Some(e) = l.evidence.first() {
                push_top_ref(&mut evidence, e);
            }
        }
        for e in mass_ev.get(name).into_iter().flatten() {
            push_top_ref(&mut evidence, e);
            first_mal =
                Some(first_mal.map_or(e.time.unwrap_or_default(), |f| f.min(e.time.unwrap_or(f))));
            last_mal =
                Some(last_mal.map_or(e.time.unwrap_or_default(), |f| f.max(e.time.unwrap_or(f))));
        }
        let chans: Vec<&ChannelCoverage> = coverage
            .channels
            .iter()
            .filter(|c| &c.host == name)
            .collect();
        let mut addrs: Vec<String> = addr_host
            .iter()
            .filter(|(_, h)| *h == name)
            .map(|(a, _)| a.clone())
            .collect();
        addrs.sort();
        hosts.push(Host {
            name: name.clone(),
            fqdns: fq.into_iter().collect(),
            zone,
            role,
            role_source,
            role_reason,
            critical: za.is_some_and(|z| z.critical),
            isolated: za.is_some_and(|z| z.isolated),
            compromised: comp,
            compromise_reasons: reasons,
            first_malicious: first_mal,
            last_malicious: last_mal,
            detections: det_counts,
            services: asset.map(|a| a.services.clone()).unwrap_or_default(),
            addresses: addrs,
            incidents: incidents
                .iter()
                .filter(|i| i.hosts.iter().any(|h| &h.name == name))
                .map(|i| i.id.clone())
                .collect(),
            events: chans.iter().map(|c| c.events).sum(),
            first_event: chans.iter().filter_map(|c| c.first).min(),
            last_event: chans.iter().filter_map(|c| c.last).max(),
            evidence,
        });
    }
    hosts.sort_by(|a, b| {
        b.compromised
            .cmp(&a.compromised)
            .then(
                a.first_malicious
                    .is_none()
                    .cmp(&b.first_malicious.is_none()),
            )
            .then(a.first_malicious.cmp(&b.first_malicious))
            .then(a.name.cmp(&b.name))
    });

    // --- accounts ----------------------------------------------------------------
    let mut accounts: Vec<Account> = Vec::new();
    let acct_names: BTreeSet<String> = accounts_raw
        .iter()
        .map(|(n, _)| n.clone())
        .chain(acct_comp.keys().cloned())
        .collect();
    let raw_by_name: HashMap<&str, &crate::observer::AccountAcc> =
        accounts_raw.iter().map(|(n, a)| (n.as_str(), a)).collect();
    for name in acct_names {
        if builtin_kind(&name).is_some() {
            continue;
        }
        let raw = raw_by_name.get(name.as_str()).copied();
        let asset = ctx.account_asset(&name);
        let (comp, reasons) = acct_comp
            .get(&name)
            .cloned()
            .unwrap_or((Compromise::No, vec![]));
        let groups: Vec<String> = raw
            .map(|r| r.groups.keys().cloned().collect())
            .unwrap_or_default();
        let priv_group = groups.iter().find(|g| privileged_group(g));
        let privileged_reason = if asset.is_some_and(|a| a.privileged) {
            Some("assets file".to_string())
        } else if let Some(g) = priv_group {
            Some(format!("member of {g}"))
        } else {
            raw.and_then(|r| r.privileged.first())
                .map(|e| e.summary.clone())
        };
        let privileged = privileged_reason.is_some();
        if comp == Compromise::No && asset.is_none() && !privileged {
            continue;
        }
        let (kind, kind_source) = match asset {
            Some(a) => (a.kind, "assets".to_string()),
            None => (infer_kind(&name, privileged), "inferred".to_string()),
        };
        let sigs: Vec<&Det> = sig_by_acct
            .get(name.as_str())
            .map(|v| v.iter().map(|&i| &signals[i]).collect())
            .unwrap_or_default();
        let mut first_mal = sigs.iter().filter_map(|d| d.time).min();
        let mut last_mal = sigs.iter().filter_map(|d| d.time).max();
        let mut hosts_used: BTreeSet<String> = raw.map(|r| r.hosts.clone()).unwrap_or_default();
        let mut evidence = Vec::new();
        for d in &sigs {
            if !hosts_used.contains(&*d.host) {
                hosts_used.insert(d.host.to_string());
            }
            push_top_det(&mut evidence, d);
        }
        for l in mal_links
            .iter()
            .filter(|l| l.account.as_deref() == Some(name.as_str()))
        {
            first_mal = Some(first_mal.map_or(l.first, |f| f.min(l.first)));
            last_mal = Some(last_mal.map_or(l.last, |f| f.max(l.last)));
            hosts_used.insert(l.to.clone());
            if let Some(e) = l.evidence.first() {
                push_top_ref(&mut evidence, e);
            }
        }
        let created_ev = raw.and_then(|r| r.created.iter().find(|e| in_attack(e.time)).cloned());
        if let Some(e) = &created_ev {
            push_top_ref(&mut evidence, e);
        }
        if let Some(r) = raw {
            for evs in r.groups.values() {
                if let Some(e) = evs.first() {
                    push_top_ref(&mut evidence, e);
                }
            }
        }
        accounts.push(Account {
            name: name.clone(),
            domains: raw
                .map(|r| r.domains.iter().cloned().collect())
                .unwrap_or_default(),
            kind,
            kind_source,
            privileged,
            privileged_reason,
            compromised: comp,
            compromise_reasons: reasons,
            hosts: hosts_used
                .into_iter()
                .filter(|h| h.parse::<std::net::IpAddr>().is_err())
                .collect(),
            source_addresses: raw
                .map(|r| r.addresses.iter().cloned().collect())
                .unwrap_or_default(),
            first_seen: raw.and_then(|r| r.first),
            last_seen: raw.and_then(|r| r.last),
            first_malicious: first_mal,
            last_malicious: last_mal,
            created_during_attack: created_ev.is_some(),
            added_to_groups: groups,
            detections: sigs.iter().filter(|d| !d.builtin).count() as u64,
            incidents: incidents
                .iter()
                .filter(|i| i.accounts.iter().any(|a| a.name == name))
                .map(|i| i.id.clone())
                .collect(),
            evidence,
        });
    }
    accounts.sort_by(|a, b| {
        b.compromised
            .cmp(&a.compromised)
            .then(
                a.first_malicious
                    .is_none()
                    .cmp(&b.first_malicious.is_none()),
            )
            .then(a.first_malicious.cmp(&b.first_malicious))
            .then(a.name.cmp(&b.name))
    });
    let comp_hosts: BTreeSet<String> = hosts
        .iter()
        .filter(|h| h.compromised != Compromise::No)
        .map(|h| h.name.clone())
        .collect();
    let comp_accts: BTreeSet<String> = accounts
        .iter()
        .filter(|a| a.compromised != Compromise::No)
        .map(|a| a.name.clone())
        .collect();

    // --- addresses ---------------------------------------------------------------
    let mut addr_acc: BTreeMap<String, Address> = BTreeMap::new();
    for l in &links_sorted {
        let Some(a) = &l.from_address else { continue };
        let kind = ctx.plan.classify(a);
        let implicated = l.malicious;
        if kind == AddressKind::Internal && !implicated {
            continue;
        }
        let e = addr_acc.entry(a.clone()).or_insert_with(|| Address {
            address: a.clone(),
            kind,
            host: addr_host.get(a).cloned(),
            targets: vec![],
            accounts: vec![],
            first: None,
            last: None,
            logons: 0,
            failed_logons: 0,
            implicated: false,
            evidence: vec![],
        });
        if !e.targets.contains(&l.to) {
            e.targets.push(l.to.clone());
        }
        if let Some(ac) = &l.account {
            if !e.accounts.contains(ac) {
                e.accounts.push(ac.clone());
            }
        }
        e.first = Some(e.first.map_or(l.first, |f| f.min(l.first)));
        e.last = Some(e.last.map_or(l.last, |f| f.max(l.last)));
        e.logons += l.count;
        e.implicated |= implicated;
        if let Some(ev) = l.evidence.first() {
            push_top_ref(&mut e.evidence, ev);
        }
    }
    for v in &vpn {
        if let Some(r) = &v.remote {
            let kind = ctx.plan.classify(r);
            let e = addr_acc.entry(r.clone()).or_insert_with(|| Address {
                address: r.clone(),
                kind,
                host: None,
                targets: vec![],
                accounts: vec![],
                first: None,
                last: None,
                logons: 0,
                failed_logons: 0,
                implicated: false,
                evidence: vec![],
            });
            if !e.targets.contains(&v.gateway) {
                e.targets.push(v.gateway.clone());
            }
            if let Some(u) = &v.user {
                if !e.accounts.contains(u) {
                    e.accounts.push(u.clone());
                }
                e.implicated |= comp_accts.contains(u) && in_attack(v.time);
            }
            e.first = crate_min(e.first, v.time);
            e.last = crate_max(e.last, v.time);
            if v.success {
                e.logons += 1;
            } else {
                e.failed_logons += 1;
            }
            push_top_ref(&mut e.evidence, &v.evidence);
        }
    }
    for ((a, _, _), agg) in &failed {
        if let Some(e) = addr_acc.get_mut(a) {
            e.failed_logons += agg.count;
        }
    }
    if let Some(ep) = &entry {
        if let Some(a) = &ep.source_address {
            if let Some(e) = addr_acc.get_mut(a) {
                e.implicated = true;
            }
        }
    }
    let mut addresses: Vec<Address> = addr_acc.into_values().collect();
    for a in &mut addresses {
        a.targets.sort();
        a.accounts.sort();
    }
    addresses.sort_by(|a, b| {
        b.implicated
            .cmp(&a.implicated)
            .then(a.kind.cmp(&b.kind))
            .then(a.address.cmp(&b.address))
    });

    // --- public links -------------------------------------------------------------
    // Every link is kept (they are aggregated per source, target, account
    // and method, so bounded by the number of distinct pairs); beyond
    // MAX_LINKS, ordinary network logons between uninvolved hosts go first.
    let keep: BTreeSet<usize> = {
        let mut idx: Vec<usize> = (0..links_sorted.len()).collect();
        idx.sort_by_key(|&i| {
            let l = &links_sorted[i];
            (
                !l.malicious,
                !(comp_hosts.contains(&l.to)
                    || l.from_kind != AddressKind::Internal
                    || strong_method(l.method)),
                i,
            )
        });
        if idx.len() > MAX_LINKS {
            caveats.push(format!(
                "{} links not listed (only the first {MAX_LINKS} by relevance).",
                idx.len() - MAX_LINKS
            ));
        }
        idx.into_iter().take(MAX_LINKS).collect()
    };
    let links: Vec<Link> = links_sorted
        .iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(i, l)| Link {
            id: format!("L{}", i + 1),
            from: l.from.clone(),
            from_address: l.from_address.clone(),
            from_kind: l.from_kind,
            to: l.to.clone(),
            account: l.account.clone(),
            method: l.method,
            first: l.first,
            last: l.last,
            count: l.count,
            malicious: l.malicious,
            evidence: l.evidence.clone(),
        })
        .collect();

    // --- processes ------------------------------------------------------------------
    let mut interesting = sort_by_evidence(o.interesting, |p| &p.evidence);
    interesting.dedup_by(|a, b| ev_key(&a.evidence) == ev_key(&b.evidence));
    // The same process logged by both Security 4688 and Sysmon 1: keep one
    // (the first in order), with the rules of both. Same process: same
    // host, second, image and command line (trimmed, case-insensitive).
    // Processes are in time order (`time` is their evidence's time), so
    // those of one second are contiguous: a duplicate is looked for among
    // the kept processes of the current second only, and compared without
    // building lowercase copies (see `same_lowercase`).
    {
        // In place: kept processes are moved to the front (`w` of them).
        let mut w = 0;
        let mut second: Option<Option<i64>> = None;
        // Kept processes of the current second, by hash of their key (a
        // burst of thousands of processes in one second is common).
        let mut group: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut buf = String::new();
        for r in 0..interesting.len() {
            let secs = interesting[r].time.map(|t| t.timestamp());
            if second != Some(secs) {
                second = Some(secs);
                group.clear();
            }
            let p = &interesting[r];
            let h = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                p.host.hash(&mut h);
                lowercase_for_hash(&p.image, &mut buf);
                buf.hash(&mut h);
                p.cmdline.is_some().hash(&mut h);
                lowercase_for_hash(p.cmdline.as_deref().unwrap_or("").trim(), &mut buf);
                buf.hash(&mut h);
                h.finish()
            };
            let bucket = group.get(&h).map(Vec::as_slice).unwrap_or_default();
            let dup = bucket.iter().copied().find(|&i| {
                let k = &interesting[i];
                k.host == p.host
                    && same_lowercase(&k.image, &p.image)
                    && match (&k.cmdline, &p.cmdline) {
                        (Some(a), Some(b)) => same_lowercase(a.trim(), b.trim()),
                        (None, None) => true,
                        _ => false,
                    }
            });
            match dup {
                Some(i) => {
                    for rule in std::mem::take(&mut interesting[r].rules) {
                        if !interesting[i].rules.contains(&rule) {
                            interesting[i].rules.push(rule);
                        }
                    }
                }
                None => {
                    interesting.swap(w, r);
                    group.entry(h).or_default().push(w);
                    w += 1;
                }
            }
        }
        interesting.truncate(w);
    }
    let procs = o.procs;
    let processes: Vec<Process> = interesting
        .iter()
        .filter(|p| !p.rules.is_empty() || comp_hosts.contains(&p.host) || in_attack(p.time))
        .take(MAX_LIST)
        .map(|p| {
            let mut rules = p.rules.clone();
            rules.sort();
            rules.dedup();
            Process {
                host: p.host.clone(),
                time: p.time,
                image: p.image.clone(),
                command_line: p.cmdline.clone(),
                user: p.user.clone(),
                process_id: p.pid.clone(),
                parent_chain: parent_chain(
                    &procs,
                    &p.host,
                    p.parent_key,
                    p.parent_image.as_deref(),
                    p.time,
                ),
                parent_command_line: p.parent_cmdline.clone(),
                rules,
                evidence: p.evidence.clone(),
            }
        })
        .collect();

    // --- services installed, tasks, files, domains -----------------------------------
    let services_installed: Vec<ServiceInstall> = services
        .iter()
        .take(MAX_LIST)
        .map(|s| {
            let mut rules = s.rules.clone();
            rules.sort();
            rules.dedup();
            let img = s.image.as_deref().unwrap_or("");
            let il = img.to_ascii_lowercase();
            let suspicious = !rules.is_empty()
                || crate::observer::is_psexec_name(&s.name)
                || crate::observer::is_psexec_name(img)
                || exposure::remote_access_name(&s.name)
                || exposure::remote_access_name(img)
                || il.contains("\\admin$")
                || il.contains("\\temp\\")
                || il.contains("\\users\\public")
                || matches!(
                    crate::names::basename(img.split(' ').next().unwrap_or("")).as_str(),
                    "cmd.exe"
                        | "cmd"
                        | "powershell.exe"
                        | "rundll32.exe"
                        | "mshta.exe"
                        | "regsvr32.exe"
                        | "wscript.exe"
                        | "cscript.exe"
                )
                || il.contains("cmd.exe /c")
                || il.contains("cmd /c")
                || il.contains("powershell");
            ServiceInstall {
                host: s.host.clone(),
                time: s.time,
                name: s.name.clone(),
                image_path: s.image.clone(),
                account: s.account.clone(),
                suspicious,
                rules,
                evidence: s.evidence.clone(),
            }
        })
        .collect();
    let scheduled_tasks: Vec<ScheduledTask> = tasks
        .iter()
        .take(MAX_LIST)
        .map(|t| ScheduledTask {
            host: t.host.clone(),
            time: t.time,
            name: t.name.clone(),
            command: t.command.clone(),
            account: t.account.clone(),
            action: t.action.clone(),
            rules: {
                let mut r = t.rules.clone();
                r.sort();
                r.dedup();
                r
            },
            evidence: t.evidence.clone(),
        })
        .collect();
    let mut files_raw = o.files;
    files_raw.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
    let files: Vec<FileOfInterest> = files_raw
        .iter()
        .take(MAX_LIST)
        .map(|f| FileOfInterest {
            host: f.host.clone(),
            path: f.path.clone(),
            time: f.time,
            process: f.process.clone(),
            rules: f.rules.clone(),
            evidence: f.evidence.clone(),
        })
        .collect();
    let mut dns_sorted: Vec<_> = o.dns.into_iter().collect();
    dns_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut domains: Vec<Domain> = Vec::new();
    for (d, acc) in &dns_sorted {
        let mut reasons: Vec<String> = acc.rules.iter().cloned().collect();
        if exposure::file_sharing_domain(d) {
            reasons.push("file_sharing".into());
        }
        if exposure::remote_access_domain(d) {
            reasons.push("remote_access".into());
        }
        if reasons.is_empty() {
            continue;
        }
        domains.push(Domain {
            domain: d.clone(),
            hosts: acc.hosts.iter().cloned().collect(),
            processes: acc.images.iter().cloned().collect(),
            first: acc.agg.first,
            last: acc.agg.last,
            count: acc.agg.count,
            reasons,
            evidence: acc.agg.evidence.clone(),
        });
    }
    domains.truncate(MAX_LIST);

    // --- data exposure --------------------------------------------------------------
    let mut transfers: Vec<_> = o.transfers.into_iter().collect();
    transfers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut shares: Vec<_> = o.shares.into_iter().collect();
    shares.sort_by(|a, b| a.0.cmp(&b.0));
    let data_exposure = data_exposure(
        &ctx,
        &interesting,
        &domains,
        &transfers,
        &shares,
        &addr_host,
        &comp_hosts,
        &comp_accts,
        &in_attack,
    );

    // --- nature ----------------------------------------------------------------------
    let all: Vec<(&Det, &[NatureKind])> = (0..signals.len()).map(natures_in).collect();
    let nature = natures_of(&all, &mal_links, &data_exposure);

    // --- zones -------------------------------------------------------------------------
    let period = attack_period.or(match (o.first, o.last) {
        (Some(first), Some(last)) => Some(Period { first, last }),
        _ => None,
    });
    let zones = zone_statuses(
        &ctx,
        &hosts,
        &coverage,
        &links_sorted,
        &signals,
        &o.conns,
        &addr_host,
        period,
        attack_period.is_some(),
        &comp_hosts,
        &comp_accts,
    );

    // --- services ---------------------------------------------------------------------
    let services_status = service_statuses(&ctx, &hosts, &coverage, period);
    for inc in &mut incidents {
        let names: BTreeSet<&str> = inc.hosts.iter().map(|h| h.name.as_str()).collect();
        inc.services_affected = services_status
            .iter()
            .filter(|s| {
                s.status == ServiceState::Affected
                    && s.hosts.iter().any(|h| names.contains(h.as_str()))
            })
            .map(|s| s.service.clone())
            .collect();
    }

    // --- containment -----------------------------------------------------------------
    let containment = containment(
        &entry,
        &hosts,
        &accounts,
        &addresses,
        &domains,
        &services_installed,
        &comp_hosts,
    );

    // --- detections summary ------------------------------------------------------------
    let mut corr: Vec<CorrelationHit> = correlations
        .iter()
        .map(|c| CorrelationHit {
            rule_id: c.rule.id.clone(),
            title: c.rule.title.clone(),
            level: c.rule.level,
            group: c.group.clone(),
            first: c.first,
            last: c.last,
            value: c.value,
        })
        .collect();
    corr.sort_by(|a, b| (a.first, &a.title, &a.group).cmp(&(b.first, &b.title, &b.group)));
    let detections = DetectionSummary {
        total: all_dets as u64,
        by_level,
        signals: signals.len() as u64,
        rules: rule_counts,
        correlations: corr,
    };

    if o.events == 0 {
        caveats.push("No event was read: nothing can be said.".into());
    }
    let missing_time = coverage
        .channels
        .iter()
        .filter(|c| c.first.is_none())
        .count();
    if missing_time > 0 {
        caveats.push(format!(
            "{missing_time} log channel(s) have no timestamps: time-based reasoning ignores them."
        ));
    }

    let mut scope = Scope {
        schema_version: SCHEMA_VERSION.to_string(),
        observed: match (o.first, o.last) {
            (Some(first), Some(last)) => Some(Period { first, last }),
            _ => None,
        },
        attack_period,
        assets_loaded,
        answer: Answer::default(),
        nature,
        entry_point: entry,
        incidents,
        hosts,
        accounts,
        addresses,
        links,
        processes,
        services_installed,
        scheduled_tasks,
        domains,
        files,
        data_exposure,
        coverage,
        zones,
        containment,
        services: services_status,
        detections,
        caveats,
    };
    scope.answer = crate::summary::answer(&scope);
    scope
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
fn sort_by_event<T>(
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
fn sort_by_evidence<T>(v: Vec<T>, ev: impl Fn(&T) -> &Evidence) -> Vec<T> {
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
fn same_lowercase(a: &str, b: &str) -> bool {
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
fn lowercase_for_hash(s: &str, buf: &mut String) {
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
fn det_order(a: &Det, b: &Det) -> std::cmp::Ordering {
    a.cmp_evidence_det(b).then_with(|| rule_order(a, b))
}

/// Detections in [`det_order`].
fn sort_dets(v: Vec<Det>) -> Vec<Det> {
    sort_by_event(
        v,
        |d| d.event_key(),
        |a, b| a.cmp_evidence_det(b).then_with(|| rule_order(a, b)),
    )
}

/// Merges two lists sorted by `order` as a stable sort of `a` then `b`
/// would (on ties, items of `a` first), with a binary search per item of
/// `b`: `b` (built-in signals) is small, `a` (rule signals) large.
fn merge_sorted<T>(a: Vec<T>, b: Vec<T>, order: impl Fn(&T, &T) -> std::cmp::Ordering) -> Vec<T> {
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

/// A signal of Vigie's own (cleared log, behaviour) on the event of `ev`.
fn builtin_det(ev: &Evidence, host: &str, rule: Arc<RuleMeta>, accounts: Vec<String>) -> Det {
    Det {
        time: ev.time,
        host: Arc::from(host),
        rule,
        accounts: accounts.into(),
        addresses: Arc::from([]),
        source: Arc::from(ev.source.as_str()),
        locator: ev.locator.clone(),
        event_id: ev.event_id,
        named_host: ev.host.is_some(),
        summary: Some(ev.summary.as_str().into()),
        builtin: true,
    }
}

/// What the summaries need of all detections: counts by level, per rule
/// (most severe and frequent first) and per host, in any order of `dets`.
/// One pass; each detection finds its rule by the rule's allocation (rules
/// are shared `Arc`s), so the (title, id) key is built once per rule, not
/// per detection. A rule's id, level and tags are those of its first
/// detection in [`det_order`] (several rule files may share a title and id).
fn det_counts(dets: &[Det]) -> (LevelCounts, Vec<RuleCount>, HashMap<String, LevelCounts>) {
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
        a.count.first = crate_min(a.count.first, d.time);
        a.count.last = crate_max(a.count.last, d.time);
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

fn crate_min(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
fn crate_max(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn bump(m: &mut BTreeMap<String, EntityActivity>, name: &str, t: Timestamp) {
    // Looked up before inserting: called once per signal, the name is
    // almost always there already.
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
fn touch(m: &mut BTreeMap<String, EntityActivity>, name: &str, f: Timestamp, l: Timestamp) {
    let e = m.entry(name.to_string()).or_insert(EntityActivity {
        name: name.to_string(),
        first: f,
        last: l,
        detections: 0,
    });
    e.first = e.first.min(f);
    e.last = e.last.max(l);
}

fn privileged_group(g: &str) -> bool {
    let l = g.to_lowercase();
    l.contains("admin")
        || l.contains("opérateurs de sauvegarde")
        || l.contains("backup operators")
        || l.contains("account operators")
}

fn infer_kind(name: &str, privileged: bool) -> AccountKind {
    let l = name.to_lowercase();
    if l.starts_with("svc")
        || l.starts_with("srv_")
        || l.starts_with("sa_")
        || l.contains("service")
        || l.starts_with("sql")
    {
        AccountKind::Service
    } else if l.starts_with("adm") || l.contains("admin") || l == "administrateur" {
        AccountKind::Admin
    } else if l.starts_with("presta") || l.starts_with("ext.") || l.starts_with("ext_") {
        AccountKind::Provider
    } else if privileged {
        AccountKind::Admin
    } else {
        AccountKind::User
    }
}

/// The source of the access just before `t` on `host`: the best link into
/// `host` with a minute in `[t - before, t + after]`.
fn pair_source(
    links: &BTreeMap<LinkKey, L>,
    host: &str,
    t: Timestamp,
    before: i64,
    after: i64,
    account: Option<&str>,
) -> Option<L> {
    let m = minute(t);
    let mut best: Option<(u8, i64, &L)> = None;
    for l in links.values() {
        if l.to != host || l.account.is_none() {
            continue;
        }
        if account.is_some() && l.account.as_deref() != account {
            continue;
        }
        let rank = match l.method {
            LinkMethod::Psexec => 0,
            LinkMethod::SmbAdminShare => 1,
            LinkMethod::RemoteService => 2,
            LinkMethod::LogonType3 => 3,
            _ => continue,
        };
        let Some(dist) = l
            .minutes
            .iter()
            .filter(|x| **x >= m - before && **x <= m + after)
            .map(|x| (m - x).abs())
            .min()
        else {
            continue;
        };
        if best.as_ref().is_none_or(|b| (rank, dist) < (b.0, b.1)) {
            best = Some((rank, dist, l));
        }
    }
    best.map(|b| b.2.clone())
}

fn derived_link(src: &L, method: LinkMethod, t: Timestamp, ev: Evidence) -> (LinkKey, L) {
    let k = LinkKey {
        from: src.from.clone(),
        to: src.to.clone(),
        account: src.account.clone(),
        method,
    };
    let mut evidence = vec![ev];
    if let Some(e) = src.evidence.first() {
        push_top_ref(&mut evidence, e);
    }
    (
        k,
        L {
            from: src.from.clone(),
            from_address: src.from_address.clone(),
            from_kind: src.from_kind,
            to: src.to.clone(),
            account: src.account.clone(),
            method,
            first: t,
            last: t,
            count: 1,
            minutes: vec![minute(t)],
            evidence,
            malicious: false,
        },
    )
}

/// The entry point of an incident. `links` are the malicious links in
/// link order; `sig_by_host` indexes `signals` (sorted by evidence) by host.
fn entry_point(
    inc: &Incident,
    links: &[&L],
    signals: &[Det],
    sig_by_host: &HashMap<&str, Vec<usize>>,
    vpn: &[crate::observer::VpnRaw],
    failed: &[((String, String, String), crate::observer::Agg)],
    ctx: &Ctx,
) -> Option<EntryPoint> {
    let hosts: BTreeSet<&str> = inc.hosts.iter().map(|h| h.name.as_str()).collect();
    let accts: BTreeSet<&str> = inc.accounts.iter().map(|a| a.name.as_str()).collect();
    // The earliest signal (by evidence order) on the incident's hosts within
    // its period. Signals are sorted by evidence, time first, so on each
    // host it is the first one not before `inc.first`, and overall the
    // lowest index of those: the same as a `min_by` over all signals
    // (which keeps the first of equal ones), without scanning them all.
    let first_sig = hosts
        .iter()
        .filter_map(|h| {
            let idx = sig_by_host.get(h)?;
            let p = idx.partition_point(|&i| signals[i].time.is_none_or(|t| t < inc.first));
            let i = *idx.get(p)?;
            signals[i].time.is_some_and(|t| t <= inc.last).then_some(i)
        })
        .min()
        .map(|i| &signals[i])?;
    let t0 = first_sig.time?;
    // Inbound malicious link from outside the incident's hosts.
    let inbound = links
        .iter()
        .filter(|l| {
            l.malicious
                && hosts.contains(l.to.as_str())
                && !hosts.contains(l.from.as_str())
                && l.first <= t0 + Duration::hours(1)
                && l.first >= t0 - Duration::hours(LINK_LOOKBACK_H)
        })
        .min_by(|a, b| (a.first, strong_method(b.method)).cmp(&(b.first, strong_method(a.method))));
    if let Some(l) = inbound {
        let mut evidence = l.evidence.iter().take(3).cloned().collect::<Vec<_>>();
        let mut method = match l.method {
            LinkMethod::Rdp => "rdp",
            LinkMethod::LogonType3 => "network_logon",
            LinkMethod::Psexec => "psexec",
            LinkMethod::Winrm => "winrm",
            LinkMethod::Wmi => "wmi",
            LinkMethod::SmbAdminShare => "admin_share",
            LinkMethod::ExplicitCreds => "explicit_credentials",
            LinkMethod::Vpn => "vpn",
            LinkMethod::RemoteTask => "remote_task",
            LinkMethod::RemoteService => "remote_service",
        }
        .to_string();
        let mut source = l.from_address.clone();
        let mut kind = l.from_address.as_deref().map(|a| ctx.plan.classify(a));
        let mut time = l.first;
        let mut desc = format!(
            "{} to {} as {} from {} at {}",
            method_name(l.method),
            l.to,
            l.account.as_deref().unwrap_or("an unknown account"),
            l.from_address.as_deref().unwrap_or(&l.from),
            fmt_t(Some(l.first))
        );
        let mut confidence = if l.from_kind == AddressKind::Internal {
            Confidence::Medium
        } else {
            Confidence::High
        };
        // Was that address a VPN tunnel? Find the VPN login behind it.
        let via_vpn = vpn
            .iter()
            .filter(|v| {
                v.success
                    && v.time.is_some_and(|t| {
                        t <= l.first && t >= l.first - Duration::hours(LINK_LOOKBACK_H)
                    })
            })
            .filter(|v| {
                (v.tunnel.is_some() && v.tunnel == l.from_address)
                    || (v.tunnel.is_none()
                        && l.from_kind == AddressKind::Vpn
                        && v.user.is_some()
                        && v.user == l.account)
            })
            .max_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
        if let Some(v) = via_vpn {
            let fails = vpn
                .iter()
                .filter(|x| {
                    !x.success
                        && x.time.is_some_and(|t| {
                            Some(t) <= v.time && t >= l.first - Duration::hours(LINK_LOOKBACK_H)
                        })
                        && (x.user == v.user || x.remote == v.remote)
                })
                .count();
            method = "vpn".into();
            source = v.remote.clone();
            kind = v.remote.as_deref().map(|a| ctx.plan.classify(a));
            time = v.time.unwrap_or(time);
            desc = format!(
                "VPN login on {} as {} from {} at {}{}, then {desc}",
                v.gateway,
                v.user.as_deref().unwrap_or("?"),
                v.remote.as_deref().unwrap_or("?"),
                fmt_t(v.time),
                if fails > 0 {
                    format!(" after {fails} failed attempt(s)")
                } else {
                    String::new()
                }
            );
            confidence = Confidence::High;
            evidence.insert(0, v.evidence.clone());
        } else if l.from_kind == AddressKind::Vpn {
            method = "vpn".into();
            desc = format!("through the VPN (pool address): {desc}");
            confidence = Confidence::High;
        }
        if let Some(a) = &l.from_address {
            let f: u64 = failed
                .iter()
                .filter(|((ad, _, h), agg)| {
                    ad == a && h == &l.to && agg.first.is_some_and(|t| t <= l.first)
                })
                .map(|(_, agg)| agg.count)
                .sum();
            if f > 0 {
                desc.push_str(&format!(" ({f} failed logon(s) from that address before)"));
            }
        }
        evidence.push(first_sig.evidence());
        let _ = accts;
        return Some(EntryPoint {
            time: Some(time),
            host: Some(l.to.clone()),
            account: l.account.clone(),
            source_address: source,
            source_kind: kind,
            method,
            description: desc,
            confidence,
            evidence,
        });
    }
    Some(EntryPoint {
        time: Some(t0),
        host: Some(first_sig.host.to_string()),
        account: first_sig.accounts.first().cloned(),
        source_address: first_sig.addresses.first().cloned(),
        source_kind: first_sig.addresses.first().map(|a| ctx.plan.classify(a)),
        method: "first_detection".into(),
        description: format!(
            "earliest malicious activity: {} on {} at {} (how the attacker reached it is not in the logs)",
            first_sig.rule.title,
            first_sig.host,
            fmt_t(Some(t0))
        ),
        confidence: Confidence::Low,
        evidence: vec![first_sig.evidence()],
    })
}

/// The natures a rule points to, from its title and ATT&CK reading. A
/// function of the rule alone, so computed once per rule, not per signal.
fn rule_natures(title: &str, a: &Attack) -> Vec<NatureKind> {
    let mut out = Vec::new();
    let lower = title.to_lowercase();
    let t = |id: &str| a.has_technique(id);
    let cmd_ransom = ["shadow", "bcdedit", "wbadmin", "ransom"]
        .iter()
        .any(|w| lower.contains(w));
    if t("T1486") || t("T1490") || t("T1485") || t("T1491") || t("T1489") || cmd_ransom {
        out.push(NatureKind::Ransomware);
    }
    if a.has_tactic("TA0010") || t("T1567") || t("T1048") || t("T1041") || t("T1560") || t("T1537")
    {
        out.push(NatureKind::DataTheft);
    }
    if a.has_tactic("TA0006") {
        out.push(NatureKind::CredentialTheft);
    }
    if t("T1219") {
        out.push(NatureKind::RemoteAccessPersistence);
    }
    if a.has_tactic("TA0008") {
        out.push(NatureKind::LateralMovement);
    }
    if t("T1136") || t("T1098") {
        out.push(NatureKind::AccountManipulation);
    }
    if a.has_tactic("TA0005") || a.has_tactic("TA0112") {
        out.push(NatureKind::DefenceEvasion);
    }
    if a.has_tactic("TA0007") {
        out.push(NatureKind::Discovery);
    }
    if a.has_tactic("TA0011") && !t("T1219") {
        out.push(NatureKind::CommandAndControl);
    }
    if a.has_tactic("TA0003") && !(t("T1136") || t("T1098")) {
        out.push(NatureKind::Persistence);
    }
    if a.has_tactic("TA0002") {
        out.push(NatureKind::Execution);
    }
    if a.has_tactic("TA0001") {
        out.push(NatureKind::InitialAccess);
    }
    out
}

/// The nature of an attack from its signals (each with the natures of its
/// rule, see [`rule_natures`]), malicious links and data exposure.
fn natures_of(
    sigs: &[(&Det, &[NatureKind])],
    links: &[&L],
    exposure: &[DataExposure],
) -> Vec<Nature> {
    let mut by: BTreeMap<NatureKind, (BTreeSet<String>, Vec<Evidence>, u8)> = BTreeMap::new();
    for (d, kinds) in sigs {
        let lv = lvl_rank(d.rule.level);
        for &k in *kinds {
            let e = by.entry(k).or_default();
            if !e.0.contains(&d.rule.title) {
                e.0.insert(d.rule.title.clone());
            }
            push_top_det(&mut e.1, d);
            e.2 = e.2.max(lv);
        }
    }
    let mut add = |k: NatureKind, reason: &str, ev: &Evidence, lvl: u8| {
        let e = by.entry(k).or_default();
        if !e.0.contains(reason) {
            e.0.insert(reason.to_string());
        }
        push_top_ref(&mut e.1, ev);
        e.2 = e.2.max(lvl);
    };
    for l in links {
        if matches!(
            l.method,
            LinkMethod::Psexec
                | LinkMethod::Rdp
                | LinkMethod::Winrm
                | LinkMethod::Wmi
                | LinkMethod::RemoteService
        ) && l.from_kind == AddressKind::Internal
            && l.from.parse::<std::net::IpAddr>().is_err()
        {
            if let Some(ev) = l.evidence.first() {
                add(
                    NatureKind::LateralMovement,
                    &format!("{} {} → {}", method_name(l.method), l.from, l.to),
                    ev,
                    4,
                );
            }
        }
    }
    for x in exposure.iter().filter(|x| x.probable_exfiltration) {
        if let Some(ev) = x.evidence.first() {
            add(NatureKind::DataTheft, &x.description, ev, 4);
        }
    }
    let human = [
        NatureKind::LateralMovement,
        NatureKind::Discovery,
        NatureKind::CredentialTheft,
    ]
    .iter()
    .any(|k| by.contains_key(k));
    let double = by.contains_key(&NatureKind::DataTheft);
    let mut out: Vec<Nature> = by
        .into_iter()
        .map(|(kind, (reasons, evidence, lvl))| {
            let confidence = if reasons.len() >= 2 || lvl >= 4 {
                Confidence::High
            } else if lvl >= 3 {
                Confidence::Medium
            } else {
                Confidence::Low
            };
            let label = match kind {
                NatureKind::Ransomware if human && double => {
                    "human-operated ransomware with data theft (double extortion)"
                }
                NatureKind::Ransomware if human => "human-operated ransomware",
                NatureKind::Ransomware => "ransomware",
                NatureKind::DataTheft => "data theft",
                NatureKind::CredentialTheft => "credential theft",
                NatureKind::RemoteAccessPersistence => "remote-access tool persistence",
                NatureKind::LateralMovement => "lateral movement",
                NatureKind::AccountManipulation => "account creation or manipulation",
                NatureKind::DefenceEvasion => {
                    "defence evasion (security tools disabled, logs cleared)"
                }
                NatureKind::Discovery => "network and directory reconnaissance",
                NatureKind::CommandAndControl => "command-and-control channel",
                NatureKind::Persistence => "persistence",
                NatureKind::Execution => "suspicious execution",
                NatureKind::InitialAccess => "initial access",
            }
            .to_string();
            Nature {
                kind,
                label,
                confidence,
                reasons: reasons.into_iter().collect(),
                evidence,
            }
        })
        .collect();
    out.sort_by(|a, b| a.kind.cmp(&b.kind).then(b.confidence.cmp(&a.confidence)));
    out
}

fn parent_chain(
    procs: &crate::observer::ProcStore,
    host: &str,
    key: Option<u64>,
    parent_image: Option<&str>,
    mut t: Option<Timestamp>,
) -> Vec<String> {
    let mut chain = Vec::new();
    let Some(hid) = procs.host_id(host) else {
        chain.extend(parent_image.map(str::to_string));
        return chain;
    };
    let mut key = key;
    let mut fallback = parent_image.map(str::to_string);
    for _ in 0..12 {
        match key.and_then(|k| procs.lookup(hid, k, t)) {
            Some(n) => {
                chain.push(procs.name(n.image).to_string());
                key = n.parent;
                fallback = n.parent_image.map(|i| procs.name(i).to_string());
                t = n.time;
            }
            None => {
                if let Some(f) = fallback.take() {
                    chain.push(f);
                }
                break;
            }
        }
    }
    chain
}

#[allow(clippy::too_many_arguments)]
fn data_exposure(
    ctx: &Ctx,
    procs: &[crate::observer::ProcRaw],
    domains: &[Domain],
    transfers: &[((String, String), crate::observer::Agg)],
    shares: &[((String, String, String), crate::observer::Agg)],
    addr_host: &BTreeMap<String, String>,
    comp_hosts: &BTreeSet<String>,
    comp_accts: &BTreeSet<String>,
    in_attack: &dyn Fn(Option<Timestamp>) -> bool,
) -> Vec<DataExposure> {
    let stores = &ctx.assets.data_stores;
    let store_meta = |name: Option<&str>| -> (bool, Option<Sensitivity>) {
        stores
            .iter()
            .find(|s| Some(s.name.as_str()) == name)
            .map(|s| (s.personal_data, Some(s.sensitivity)))
            .unwrap_or((false, None))
    };
    let mut out: Vec<DataExposure> = Vec::new();
    // Archive names produced per host, and the stores they hold.
    let mut archives: Vec<(String, String, Vec<String>, Option<Timestamp>)> = Vec::new();
    for p in procs {
        let implicated = !p.rules.is_empty()
            || comp_hosts.contains(&p.host)
            || p.user.as_ref().is_some_and(|u| comp_accts.contains(u))
            || in_attack(p.time);
        if !implicated {
            continue;
        }
        let cmd = p.cmdline.as_deref().unwrap_or(&p.image);
        let base = crate::names::basename(&p.image);
        let Some(activity) = exposure::tool_kind(&base, p.original.as_deref(), cmd) else {
            continue;
        };
        let mut st: Vec<String> = exposure::stores_in(cmd, &p.host, stores)
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let mut dest = Vec::new();
        if activity == ExposureActivity::Archive {
            for a in exposure::archive_paths(cmd) {
                archives.push((p.host.clone(), a, st.clone(), p.time));
            }
        }
        if activity == ExposureActivity::Upload {
            dest = exposure::destinations(cmd);
            // Uploading an archive made earlier: it carries the archived stores.
            // By the archive's name, or by a folder holding it
            // (`rclone copy D:\Temp\ mega:` after `rar a D:\Temp\cias.rar`).
            let names = exposure::archive_names(cmd);
            let dirs = exposure::path_args(cmd);
            for (h, path, s, _) in &archives {
                let name = crate::names::basename(path);
                let carried = names.contains(&name)
                    || dirs
                        .iter()
                        .any(|d| d.ends_with('\\') && path.starts_with(d.as_str()))
                    || dirs
                        .iter()
                        .any(|d| path.starts_with(&format!("{}\\", d.trim_end_matches('\\'))));
                if *h == p.host && carried {
                    st.extend(s.iter().cloned());
                }
            }
            // File-sharing domains queried by the same host around then.
            for d in domains.iter().filter(|d| {
                d.reasons.iter().any(|r| r == "file_sharing") && d.hosts.contains(&p.host)
            }) {
                dest.push(d.domain.clone());
            }
            dest.sort();
            dest.dedup();
        }
        st.sort();
        st.dedup();
        let tool = p.original.clone().unwrap_or(base.clone());
        let probable = activity == ExposureActivity::Upload;
        let targets: Vec<Option<String>> = if st.is_empty() {
            vec![None]
        } else {
            st.into_iter().map(Some).collect()
        };
        for store in targets {
            let (personal, sens) = store_meta(store.as_deref());
            let what = match activity {
                ExposureActivity::Archive => "archived",
                ExposureActivity::Upload => "uploaded",
                ExposureActivity::Copy => "copied",
                _ => "accessed",
            };
            let description = format!(
                "{} {what} on {} with {tool} at {}{}",
                store
                    .as_deref()
                    .map(|s| format!("data store {s}"))
                    .unwrap_or_else(|| "data".into()),
                p.host,
                fmt_t(p.time),
                if dest.is_empty() {
                    String::new()
                } else {
                    format!(" to {}", dest.join(", "))
                }
            );
            out.push(DataExposure {
                store,
                host: Some(p.host.clone()),
                activity,
                tool: Some(tool.clone()),
                description,
                first: p.time,
                last: p.time,
                destinations: dest.clone(),
                bytes_out: None,
                probable_exfiltration: probable,
                personal_data: personal,
                sensitivity: sens,
                evidence: vec![p.evidence.clone()],
            });
        }
    }
    // Share accesses by implicated accounts during the attack.
    for ((host, share, acct), agg) in shares {
        if !comp_accts.contains(acct) || !(in_attack(agg.first) || in_attack(agg.last)) {
            continue;
        }
        let store = stores
            .iter()
            .find(|s| {
                s.share
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(share))
                    && exposure::store_on_host(s, host)
            })
            .map(|s| s.name.clone());
        let (personal, sens) = store_meta(store.as_deref());
        out.push(DataExposure {
            store,
            host: Some(host.clone()),
            activity: ExposureActivity::ShareAccess,
            tool: None,
            description: format!(
                "share \\\\{host}\\{share} accessed {} time(s) by {acct} during the attack",
                agg.count
            ),
            first: agg.first,
            last: agg.last,
            destinations: vec![],
            bytes_out: None,
            probable_exfiltration: false,
            personal_data: personal,
            sensitivity: sens,
            evidence: agg.evidence.clone(),
        });
    }
    // Large outbound transfers in firewall logs.
    for ((src, dst), agg) in transfers {
        if ctx.plan.classify(dst) != AddressKind::External || agg.sum < EXFIL_BYTES {
            continue;
        }
        if !(in_attack(agg.first) || in_attack(agg.last)) {
            continue;
        }
        let host = addr_host.get(src).cloned();
        // Tie to the stores already seen leaving from that host.
        let mut st: Vec<String> = out
            .iter()
            .filter(|x| x.host.is_some() && x.host == host && x.store.is_some())
            .filter_map(|x| x.store.clone())
            .collect();
        st.sort();
        st.dedup();
        let targets: Vec<Option<String>> = if st.is_empty() {
            vec![None]
        } else {
            st.into_iter().map(Some).collect()
        };
        let mut dests = vec![dst.clone()];
        dests.extend(agg.tags.iter().cloned());
        for store in targets {
            let (personal, sens) = store_meta(store.as_deref());
            out.push(DataExposure {
                store: store.clone(),
                host: host.clone(),
                activity: ExposureActivity::Transfer,
                tool: None,
                description: format!(
                    "{:.1} GB sent from {} to {dst} between {} and {}",
                    agg.sum as f64 / 1e9,
                    host.as_deref().unwrap_or(src),
                    fmt_t(agg.first),
                    fmt_t(agg.last)
                ),
                first: agg.first,
                last: agg.last,
                destinations: dests.clone(),
                bytes_out: Some(agg.sum),
                probable_exfiltration: true,
                personal_data: personal,
                sensitivity: sens,
                evidence: agg.evidence.clone(),
            });
        }
    }
    // A store archived on a host that then uploaded or sent data out is
    // probably exfiltrated even if the upload line does not name it.
    let leaving_hosts: BTreeSet<Option<String>> = out
        .iter()
        .filter(|x| x.probable_exfiltration)
        .map(|x| x.host.clone())
        .collect();
    for x in out.iter_mut() {
        if x.activity == ExposureActivity::Archive
            && x.store.is_some()
            && leaving_hosts.contains(&x.host)
        {
            x.probable_exfiltration = true;
        }
    }
    out.sort_by(|a, b| {
        (a.first, &a.store, &a.host, a.activity).cmp(&(b.first, &b.store, &b.host, b.activity))
    });
    out.truncate(MAX_LIST);
    out
}

#[allow(clippy::too_many_arguments)]
fn zone_statuses(
    ctx: &Ctx,
    hosts: &[Host],
    coverage: &Coverage,
    links: &[L],
    signals: &[Det],
    conns: &HashMap<(Arc<str>, std::net::IpAddr, u16), crate::observer::Agg>,
    addr_host: &BTreeMap<String, String>,
    period: Option<Period>,
    attack: bool,
    comp_hosts: &BTreeSet<String>,
    comp_accts: &BTreeSet<String>,
) -> Vec<ZoneStatus> {
    let mut out = Vec::new();
    let slack = Duration::minutes(10);
    for z in ctx.assets.zones.iter().filter(|z| z.critical || z.isolated) {
        let entries: Vec<&HostAsset> = ctx
            .assets
            .hosts
            .iter()
            .filter(|h| {
                h.zone
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&z.name))
            })
            .collect();
        let mut zhosts: BTreeSet<String> = hosts
            .iter()
            .filter(|h| {
                h.zone
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&z.name))
            })
            .map(|h| h.name.clone())
            .collect();
        // Named (non-pattern) hosts that never appear: no logs for them.
        let mut unseen = Vec::new();
        for e in &entries {
            if !e.name.contains('*') && !e.name.contains('?') {
                if let Some(k) = host_key(&e.name) {
                    if !zhosts.contains(&k) {
                        unseen.push(k.clone());
                        zhosts.insert(k);
                    }
                }
            }
        }
        let mut zaddrs: BTreeSet<String> = entries
            .iter()
            .flat_map(|e| {
                e.addresses
                    .iter()
                    .filter_map(|a| crate::names::address_key(a))
            })
            .collect();
        for (a, h) in addr_host {
            if zhosts.contains(h) {
                zaddrs.insert(a.clone());
            }
        }
        // Attacker contact.
        let mut evidence: Vec<Evidence> = Vec::new();
        let mut benign = 0u64;
        let in_p = |f: Timestamp, l: Timestamp| {
            period.is_some_and(|p| l >= p.first - Duration::hours(LINK_LOOKBACK_H) && f <= p.last)
        };
        if attack {
            for d in signals.iter().filter(|d| zhosts.contains(&*d.host)) {
                push_top_det(&mut evidence, d);
            }
            for l in links {
                let touches = zhosts.contains(&l.to) || zhosts.contains(&l.from);
                if !touches || !in_p(l.first, l.last) {
                    continue;
                }
                let bad = l.malicious
                    || comp_hosts.contains(&l.from)
                    || comp_hosts.contains(&l.to) && !zhosts.contains(&l.to)
                    || l.account.as_ref().is_some_and(|a| comp_accts.contains(a));
                if bad {
                    for e in l.evidence.iter().take(3) {
                        push_top_ref(&mut evidence, e);
                    }
                } else {
                    benign += l.count;
                }
            }
            let mut cs: Vec<_> = conns.iter().collect();
            cs.sort_by(|a, b| a.0.cmp(b.0));
            for ((h, dst, _), agg) in cs {
                if zaddrs.contains(&dst.to_string())
                    && comp_hosts.contains(&**h)
                    && agg.first.zip(agg.last).is_some_and(|(f, l)| in_p(f, l))
                {
                    for e in agg.evidence.iter().take(3) {
                        push_top_ref(&mut evidence, e);
                    }
                }
            }
        }
        let hosts_v: Vec<String> = zhosts.iter().cloned().collect();
        let pdesc = period
            .map(|p| format!("{} – {}", fmt_t(Some(p.first)), fmt_t(Some(p.last))))
            .unwrap_or_else(|| "the period".into());
        if !evidence.is_empty() {
            out.push(ZoneStatus {
                zone: z.name.clone(),
                critical: z.critical,
                isolated: z.isolated,
                hosts: hosts_v,
                status: ZoneReach::Reached,
                reason: format!(
                    "Reached: {} piece(s) of evidence link the attack to zone {} (first: {}).",
                    evidence.len(),
                    z.name,
                    evidence[0].summary
                ),
                coverage: vec![],
                evidence,
            });
            continue;
        }
        // Coverage check, host by host.
        let mut cov_lines = Vec::new();
        let mut missing = Vec::new();
        if zhosts.is_empty() {
            missing.push(format!(
                "no host of zone {} is listed in the assets file or seen in the logs",
                z.name
            ));
        }
        for h in &zhosts {
            if unseen.contains(h) {
                missing.push(format!("no logs for {h}"));
                continue;
            }
            let Some(p) = period else {
                missing.push(format!("no timestamps to compare with for {h}"));
                continue;
            };
            let chans: Vec<&ChannelCoverage> =
                coverage.channels.iter().filter(|c| &c.host == h).collect();
            let full = chans.iter().find(|c| {
                c.first.is_some_and(|f| f <= p.first + slack)
                    && c.last.is_some_and(|l| l >= p.last - slack)
                    && c.cleared.is_empty()
                    && c.record_gaps.is_empty()
                    && !c
                        .silences
                        .iter()
                        .any(|s| s.to >= p.first && s.from <= p.last)
            });
            match full {
                Some(c) => cov_lines.push(format!(
                    "{h} {}: {} – {}, {} events, no record-id gap, no silence over the period, not cleared",
                    c.channel,
                    fmt_t(c.first),
                    fmt_t(c.last),
                    c.events
                )),
                None => {
                    let why = if chans.is_empty() {
                        format!("no logs for {h}")
                    } else {
                        let parts: Vec<String> = chans
                            .iter()
                            .map(|c| {
                                let mut w = format!("{} {} – {}", c.channel, fmt_t(c.first), fmt_t(c.last));
                                if !c.record_gaps.is_empty() {
                                    w.push_str(&format!(", {} record-id gap(s)", c.record_gaps.len()));
                                }
                                if !c.cleared.is_empty() {
                                    w.push_str(", cleared");
                                }
                                w
                            })
                            .collect();
                        format!("logs of {h} do not cover {pdesc} completely ({})", parts.join("; "))
                    };
                    missing.push(why);
                }
            }
        }
        let (status, reason) = if missing.is_empty() {
            (
                ZoneReach::NotReached,
                format!(
                    "Not reached: logs of {} cover {pdesc} without gap and show no logon, connection or process event linked to the attack{}.",
                    hosts_v.join(", "),
                    if benign > 0 { format!(" ({benign} ordinary logon(s) by accounts not implicated)") } else { String::new() }
                ),
            )
        } else {
            (
                ZoneReach::Unknown,
                format!("Unknown: {}.", missing.join("; ")),
            )
        };
        out.push(ZoneStatus {
            zone: z.name.clone(),
            critical: z.critical,
            isolated: z.isolated,
            hosts: hosts_v,
            status,
            reason,
            coverage: cov_lines,
            evidence: vec![],
        });
    }
    out
}

fn service_statuses(
    ctx: &Ctx,
    hosts: &[Host],
    coverage: &Coverage,
    period: Option<Period>,
) -> Vec<ServiceStatus> {
    let mut names: Vec<String> = ctx.assets.services.iter().map(|s| s.name.clone()).collect();
    for h in &ctx.assets.hosts {
        for s in &h.services {
            if s != "*" && !names.contains(s) {
                names.push(s.clone());
            }
        }
    }
    let isolated_zone = |z: &Option<String>| {
        z.as_deref()
            .and_then(|z| ctx.zone(z))
            .is_some_and(|z| z.isolated)
    };
    let mut out = Vec::new();
    for svc in names {
        let direct: Vec<&HostAsset> = ctx
            .assets
            .hosts
            .iter()
            .filter(|h| h.services.contains(&svc))
            .collect();
        let all_isolated = !direct.is_empty() && direct.iter().all(|h| isolated_zone(&h.zone));
        let entries: Vec<&HostAsset> = ctx
            .assets
            .hosts
            .iter()
            .filter(|h| {
                h.services.contains(&svc) || (!all_isolated && h.services.iter().any(|s| s == "*"))
            })
            .collect();
        let mut seen: Vec<&Host> = Vec::new();
        let mut unseen: Vec<String> = Vec::new();
        for e in &entries {
            let m: Vec<&Host> = hosts
                .iter()
                .filter(|h| {
                    wildcard(&e.name, &h.name) || host_key(&e.name).is_some_and(|k| k == h.name)
                })
                .collect();
            if m.is_empty() {
                unseen.push(e.name.clone());
            }
            seen.extend(m);
        }
        let yes: Vec<String> = seen
            .iter()
            .filter(|h| h.compromised == Compromise::Yes)
            .map(|h| h.name.clone())
            .collect();
        let sus: Vec<String> = seen
            .iter()
            .filter(|h| h.compromised == Compromise::Suspected)
            .map(|h| h.name.clone())
            .collect();
        let covered = |h: &Host| match period {
            Some(p) => coverage.channels.iter().any(|c| {
                c.host == h.name
                    && c.first.is_some_and(|f| f <= p.first)
                    && c.last.is_some_and(|l| l >= p.last)
            }),
            None => h.events > 0,
        };
        let uncovered: Vec<String> = seen
            .iter()
            .filter(|h| !covered(h))
            .map(|h| h.name.clone())
            .collect();
        let description = ctx
            .assets
            .services
            .iter()
            .find(|s| s.name == svc)
            .and_then(|s| s.description.clone());
        let (status, hs, reason) = if !yes.is_empty() {
            (
                ServiceState::Affected,
                yes.clone(),
                format!("depends on compromised host(s) {}", yes.join(", ")),
            )
        } else if !sus.is_empty() {
            (
                ServiceState::Degraded,
                sus.clone(),
                format!(
                    "depends on host(s) suspected of compromise: {}",
                    sus.join(", ")
                ),
            )
        } else if !unseen.is_empty() || !uncovered.is_empty() {
            let mut h = unseen.clone();
            h.extend(uncovered.iter().cloned());
            (
                ServiceState::Unknown,
                h.clone(),
                format!("no complete logs for {}", h.join(", ")),
            )
        } else {
            let names: Vec<String> = seen.iter().map(|h| h.name.clone()).collect();
            (
                ServiceState::Unaffected,
                vec![],
                format!(
                    "its hosts ({}) are logged over the period and not implicated",
                    names.join(", ")
                ),
            )
        };
        out.push(ServiceStatus {
            service: svc,
            description,
            status,
            hosts: hs,
            reason,
        });
    }
    out
}

fn containment(
    entry: &Option<EntryPoint>,
    hosts: &[Host],
    accounts: &[Account],
    addresses: &[Address],
    domains: &[Domain],
    services: &[ServiceInstall],
    comp_hosts: &BTreeSet<String>,
) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    let mut push = |kind: ActionKind, target: &str, reason: String, evidence: Vec<Evidence>| {
        if out.iter().any(|a| a.kind == kind && a.target == target) {
            return;
        }
        out.push(Action {
            priority: 0,
            kind,
            target: target.to_string(),
            reason,
            evidence,
        });
    };
    if let Some(e) = entry {
        if let Some(a) = &e.account {
            let ev: Vec<Evidence> = e.evidence.iter().take(2).cloned().collect();
            if e.method == "vpn"
                || matches!(
                    e.source_kind,
                    Some(AddressKind::External | AddressKind::Vpn)
                )
            {
                push(
                    ActionKind::RevokeRemoteAccess,
                    a,
                    format!(
                        "entry point ({} from {}, {})",
                        e.method.replace('_', " "),
                        e.source_address.as_deref().unwrap_or("an unknown address"),
                        e.time
                            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                            .unwrap_or_default()
                    ),
                    ev.clone(),
                );
            }
            push(
                ActionKind::DisableAccount,
                a,
                "account used to get in".into(),
                ev,
            );
        }
        if let Some(h) = &e.host {
            push(
                ActionKind::IsolateHost,
                h,
                "first host the attacker used".into(),
                e.evidence.iter().take(2).cloned().collect(),
            );
        }
        if let (Some(ad), Some(AddressKind::External)) = (&e.source_address, e.source_kind) {
            push(
                ActionKind::BlockAddress,
                ad,
                "address the attacker came from".into(),
                e.evidence.iter().take(1).cloned().collect(),
            );
        }
    }
    for a in accounts
        .iter()
        .filter(|a| a.created_during_attack && a.compromised == Compromise::Yes)
    {
        push(
            ActionKind::DeleteAccount,
            &a.name,
            "account created during the attack (backdoor)".into(),
            a.evidence.iter().take(2).cloned().collect(),
        );
    }
    for d in domains.iter().filter(|d| {
        d.reasons
            .iter()
            .any(|r| r == "remote_access" || r == "file_sharing")
            || !d.reasons.is_empty() && d.hosts.iter().any(|h| comp_hosts.contains(h))
    }) {
        push(
            ActionKind::BlockDomain,
            &d.domain,
            format!(
                "contacted from {}: {}",
                d.hosts.join(", "),
                d.reasons.join("; ")
            ),
            d.evidence.iter().take(1).cloned().collect(),
        );
    }
    for a in addresses
        .iter()
        .filter(|a| a.implicated && a.kind == AddressKind::External)
    {
        push(
            ActionKind::BlockAddress,
            &a.address,
            "external address used in the attack".into(),
            a.evidence.iter().take(1).cloned().collect(),
        );
    }
    for h in hosts.iter().filter(|h| h.compromised == Compromise::Yes) {
        push(
            ActionKind::IsolateHost,
            &h.name,
            h.compromise_reasons.first().cloned().unwrap_or_default(),
            h.evidence.iter().take(1).cloned().collect(),
        );
    }
    for a in accounts.iter().filter(|a| a.compromised == Compromise::Yes) {
        let kind = if a.kind == AccountKind::Service {
            ActionKind::ResetPassword
        } else {
            ActionKind::DisableAccount
        };
        let why = a.compromise_reasons.first().cloned().unwrap_or_default();
        let why = if kind == ActionKind::DisableAccount {
            format!("{why}; then reset its password")
        } else {
            why
        };
        push(
            kind,
            &a.name,
            why,
            a.evidence.iter().take(1).cloned().collect(),
        );
    }
    for s in services.iter().filter(|s| {
        s.suspicious
            && comp_hosts.contains(&s.host)
            && exposure::remote_access_name(&format!(
                "{} {}",
                s.name,
                s.image_path.as_deref().unwrap_or("")
            ))
    }) {
        push(
            ActionKind::RemoveService,
            &format!("{} on {}", s.name, s.host),
            "remote-access tool installed as a service".into(),
            vec![s.evidence.clone()],
        );
    }
    if hosts
        .iter()
        .any(|h| h.compromised == Compromise::Yes && h.role.as_deref() == Some("domain_controller"))
    {
        push(
            ActionKind::ResetKrbtgt,
            "krbtgt",
            "a domain controller is compromised: Kerberos tickets may be forged".into(),
            vec![],
        );
    }
    for h in hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Suspected)
    {
        push(
            ActionKind::IsolateHost,
            &h.name,
            format!(
                "suspected: {}",
                h.compromise_reasons.first().cloned().unwrap_or_default()
            ),
            h.evidence.iter().take(1).cloned().collect(),
        );
    }
    for (i, a) in out.iter_mut().enumerate() {
        a.priority = i as u32 + 1;
    }
    let _ = TOP_EVIDENCE;
    let _ = TACTICS;
    out
}
