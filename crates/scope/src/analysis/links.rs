//! The lateral-movement graph: logons and remote executions between
//! hosts, resolved to host names, completed with the movements that only
//! show as a pair of events on the target (a service installed, a task
//! created or a process started right after a network logon), and marked
//! malicious when they sit next to the attack.

use std::collections::{BTreeMap, HashMap};

use vigie_event::Timestamp;

use super::signals::Signals;
use super::time::{hours, minus, minutes, plus};
use super::Ctx;
use crate::model::{AddressKind, Evidence, LinkMethod};
use crate::observer::{
    is_psexec_name, merge_top, minute, push_top_ref, LinkAcc, LinkKey, RemoteExec, SvcRaw, TaskRaw,
};

/// Hours around its signals in which a link can be part of an attack.
pub(crate) const LINK_LOOKBACK_H: i64 = 24;

/// A link after address resolution.
#[derive(Debug, Clone)]
pub(crate) struct L {
    pub from: String,
    pub from_address: Option<String>,
    pub from_kind: AddressKind,
    pub to: String,
    pub account: Option<String>,
    pub method: LinkMethod,
    pub first: Timestamp,
    pub last: Timestamp,
    pub count: u64,
    pub minutes: Vec<i64>,
    pub evidence: Vec<Evidence>,
    pub malicious: bool,
}

/// Methods that run code or open a session on the target (a network
/// logon, an admin-share access or explicit credentials alone do not).
pub(crate) fn strong_method(m: LinkMethod) -> bool {
    !matches!(
        m,
        LinkMethod::LogonType3 | LinkMethod::SmbAdminShare | LinkMethod::ExplicitCreds
    )
}

/// The host of an address or name: `(host, address)`.
pub(crate) fn resolve(addr_host: &BTreeMap<String, String>, s: &str) -> (String, Option<String>) {
    if s.parse::<std::net::IpAddr>().is_ok() {
        match addr_host.get(s) {
            Some(h) => (h.clone(), Some(s.to_string())),
            None => (s.to_string(), Some(s.to_string())),
        }
    } else {
        (s.to_string(), None)
    }
}

/// The observer's link aggregates, resolved to host names and merged.
pub(crate) fn resolve_all(
    raw: HashMap<LinkKey, LinkAcc>,
    addr_host: &BTreeMap<String, String>,
    vpn_tunnels: &std::collections::BTreeSet<String>,
    ctx: &Ctx,
) -> BTreeMap<LinkKey, L> {
    let mut lmap: BTreeMap<LinkKey, L> = BTreeMap::new();
    let mut raw: Vec<_> = raw.into_iter().collect();
    raw.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, acc) in raw {
        let (Some(first), Some(last)) = (acc.first, acc.last) else {
            continue;
        };
        let (from, from_addr0) = resolve(addr_host, &k.from);
        let (to, _) = resolve(addr_host, &k.to);
        if from == to {
            continue;
        }
        let from_address = acc.from_address.iter().next().cloned().or(from_addr0);
        // A tunnel address the firewall handed to a VPN client is a VPN
        // source even without the assets file's pools.
        let from_kind = from_address
            .as_deref()
            .map(|a| {
                if vpn_tunnels.contains(a) {
                    AddressKind::Vpn
                } else {
                    ctx.plan.classify(a)
                }
            })
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
    lmap
}

/// Movements seen on the target as a pair of events: what happened on
/// the host (a service installed, a task created, a process started by a
/// remote-execution host process) and the network access just before it,
/// which names the source.
///
/// * a service installed (7045/4697) within minutes of an inbound access:
///   `psexec` for PsExec and its clones, else `remote_service` — service
///   creation over RPC/TCP leaves no IPC$ share event, only the logon;
/// * a task created (4698) by the account of an inbound logon: `remote_task`;
/// * WinRM, WMI and DCOM executions for the account of an inbound logon.
pub(crate) fn derive(
    lmap: &mut BTreeMap<LinkKey, L>,
    services: &[SvcRaw],
    tasks: &[TaskRaw],
    remote_exec: &[RemoteExec],
) {
    let mut derived: Vec<(LinkKey, L)> = Vec::new();
    for svc in services {
        let Some(t) = svc.time else { continue };
        let psexec = is_psexec_name(&svc.name)
            || svc.image.as_deref().is_some_and(is_psexec_name)
            || svc
                .rules
                .iter()
                .any(|r| r.to_ascii_lowercase().contains("psexec"));
        let method = if psexec {
            LinkMethod::Psexec
        } else {
            LinkMethod::RemoteService
        };
        if let Some(src) = pair_source(lmap, &svc.host, t, 5, 2, svc.creator.as_deref()) {
            derived.push(derived_link(&src, method, t, svc.evidence.clone()));
        }
    }
    for task in tasks.iter().filter(|t| t.action == "created") {
        let (Some(t), Some(acct)) = (task.time, task.account.as_deref()) else {
            continue;
        };
        if let Some(src) = pair_source(lmap, &task.host, t, 2, 1, Some(acct)) {
            derived.push(derived_link(
                &src,
                LinkMethod::RemoteTask,
                t,
                task.evidence.clone(),
            ));
        }
    }
    for rx in remote_exec {
        let Some(t) = rx.time else { continue };
        if let Some(src) = pair_source(lmap, &rx.host, t, 2, 1, rx.user.as_deref()) {
            derived.push(derived_link(&src, rx.method, t, rx.evidence.clone()));
        }
    }
    for (k, d) in derived {
        let l = lmap.entry(k).or_insert_with(|| L {
            count: 0,
            evidence: Vec::new(),
            minutes: Vec::new(),
            ..d.clone()
        });
        l.first = l.first.min(d.first);
        l.last = l.last.max(d.last);
        l.count += 1;
        if let Err(p) = l.minutes.binary_search(&d.minutes[0]) {
            l.minutes.insert(p, d.minutes[0]);
        }
        merge_top(&mut l.evidence, d.evidence);
    }
}

/// The source of the access just before `t` on `host`: the best inbound
/// link with an account and a minute in `[t - before, t + after]`
/// (clocks of different channels differ by seconds), of `account` when
/// it is known. PsExec-style accesses first, then admin shares, service
/// control, network logons, explicit credentials (logged on the source).
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
            LinkMethod::ExplicitCreds => 4,
            _ => continue,
        };
        let lo = m.saturating_sub(before);
        let hi = m.saturating_add(after);
        let Some(dist) = l
            .minutes
            .iter()
            .filter(|x| **x >= lo && **x <= hi)
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

/// Marks the links that are part of an attack. A link is malicious when
/// a signal sits next to it in time and involves it:
///
/// * its account has a signal within a day of it;
/// * its source host has a signal in the three days before it ended
///   (an attacker moving on from a host it holds);
/// * it comes from an address a signal names, or from an external
///   address to a host with a signal within a day;
/// * it runs code on the target (PsExec, WinRM, WMI, DCOM, remote service
///   or task) and the target has a signal from just before it to an hour
///   after (what it ran was detected).
///
/// Time is local to each link: unrelated activity years away never makes
/// a link malicious.
pub(crate) fn mark_malicious(lmap: &mut BTreeMap<LinkKey, L>, sig: &Signals) {
    if sig.list.is_empty() {
        return;
    }
    let day = hours(LINK_LOOKBACK_H);
    // Is there a timed signal among `idx` within [lo, hi]? (`idx` is in
    // time order, untimed first.)
    let any_in = |idx: Option<&Vec<usize>>, lo: Timestamp, hi: Timestamp| {
        idx.is_some_and(|idx| {
            let p = idx.partition_point(|&i| sig.list[i].time.is_none_or(|t| t < lo));
            idx.get(p)
                .and_then(|&i| sig.list[i].time)
                .is_some_and(|t| t <= hi)
        })
    };
    for link in lmap.values_mut() {
        let acct = link.account.as_deref().is_some_and(|a| {
            any_in(
                sig.by_acct.get(a),
                minus(link.first, day),
                plus(link.last, day),
            )
        });
        let src_host = any_in(
            sig.by_host.get(link.from.as_str()),
            minus(link.first, hours(72)),
            plus(link.last, hours(1)),
        );
        let named_addr = link
            .from_address
            .as_deref()
            .is_some_and(|a| sig.addr_kind.contains_key(a));
        let target_near = any_in(
            sig.by_host.get(link.to.as_str()),
            minus(link.first, day),
            plus(link.last, day),
        );
        let ext = link.from_kind == AddressKind::External && target_near;
        let ran = strong_method(link.method)
            && link.method != LinkMethod::Rdp
            && any_in(
                sig.by_host.get(link.to.as_str()),
                minus(link.first, minutes(5)),
                plus(link.last, hours(1)),
            );
        let psexec = link.method == LinkMethod::Psexec && target_near;
        link.malicious = acct || src_host || named_addr || ext || ran || psexec;
    }
}
