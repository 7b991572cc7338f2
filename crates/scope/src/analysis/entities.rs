//! The entities of the scope: hosts (every host seen, and hosts reached
//! that sent no logs), accounts of interest, and source addresses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use vigie_lang::tr;

use super::compromise::{privileged_group, Comp};
use super::links::L;
use super::signals::Signals;
use super::Ctx;
use crate::model::*;
use crate::names::builtin_kind;
use crate::observer::{push_top_det, push_top_ref, AccountAcc, Agg, Det, VpnRaw};

/// What the host list needs.
pub(crate) struct HostInput<'a> {
    pub fqdns: &'a BTreeMap<String, BTreeSet<String>>,
    pub links: &'a [L],
    pub sig: &'a Signals,
    pub comp: &'a Comp,
    pub det_counts: &'a HashMap<String, LevelCounts>,
    pub kdc: &'a HashMap<String, Agg>,
    pub gateways: &'a HashMap<String, Agg>,
    pub coverage: &'a Coverage,
    pub addr_host: &'a BTreeMap<String, String>,
    /// Incident ids of each host.
    pub incidents: &'a BTreeMap<String, Vec<String>>,
}

pub(crate) fn hosts(inp: &HostInput, ctx: &Ctx) -> Vec<Host> {
    let lang = ctx.lang;
    let mut host_names: BTreeSet<String> = inp.fqdns.keys().cloned().collect();
    host_names.remove("UNKNOWN");
    for l in inp.links {
        for h in [&l.from, &l.to] {
            if h.parse::<std::net::IpAddr>().is_err() {
                host_names.insert(h.clone());
            }
        }
    }
    for d in &inp.sig.list {
        host_names.insert(d.host.to_string());
    }
    host_names.remove("UNKNOWN");
    let mal_to: BTreeMap<&str, Vec<&L>> = {
        let mut m: BTreeMap<&str, Vec<&L>> = BTreeMap::new();
        for l in inp.links.iter().filter(|l| l.malicious) {
            m.entry(l.to.as_str()).or_default().push(l);
        }
        m
    };
    let mut hosts: Vec<Host> = Vec::new();
    for name in &host_names {
        let fq = inp.fqdns.get(name).cloned().unwrap_or_default();
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
            if let Some(k) = inp.kdc.get(name) {
                role = Some("domain_controller".into());
                role_source = Some("inferred".into());
                role_reason = Some(tr!(
                    lang,
                    "délivre des tickets Kerberos ({} événements 4768/4769)",
                    "issues Kerberos tickets ({} events 4768/4769)",
                    k.count
                ));
            } else if let Some(g) = inp.gateways.get(name) {
                role = Some("firewall".into());
                role_source = Some("inferred".into());
                role_reason = Some(tr!(
                    lang,
                    "journalise des sessions VPN ou du trafic ({} événements)",
                    "logs VPN sessions or traffic ({} events)",
                    g.count
                ));
            }
        }
        let (comp, reasons) = inp
            .comp
            .hosts
            .get(name)
            .cloned()
            .unwrap_or((Compromise::No, vec![]));
        let hs: Vec<&Det> = inp
            .sig
            .by_host
            .get(name.as_str())
            .map(|v| v.iter().map(|&i| &inp.sig.list[i]).collect())
            .unwrap_or_default();
        let mut first_mal = hs.iter().filter_map(|d| d.time).min();
        let mut last_mal = hs.iter().filter_map(|d| d.time).max();
        let inbound = mal_to.get(name.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        for l in inbound {
            first_mal = Some(first_mal.map_or(l.first, |f| f.min(l.first)));
            last_mal = Some(last_mal.map_or(l.last, |f| f.max(l.last)));
        }
        let mut evidence = Vec::new();
        for d in hs.iter() {
            push_top_det(&mut evidence, d);
        }
        for l in inbound {
            if let Some(e) = l.evidence.first() {
                push_top_ref(&mut evidence, e);
            }
        }
        for e in inp.comp.mass_ev.get(name).into_iter().flatten() {
            push_top_ref(&mut evidence, e);
            if let Some(t) = e.time {
                first_mal = Some(first_mal.map_or(t, |f| f.min(t)));
                last_mal = Some(last_mal.map_or(t, |f| f.max(t)));
            }
        }
        let chans: Vec<&ChannelCoverage> = inp
            .coverage
            .channels
            .iter()
            .filter(|c| &c.host == name)
            .collect();
        let addrs: Vec<String> = inp
            .addr_host
            .iter()
            .filter(|(_, h)| *h == name)
            .map(|(a, _)| a.clone())
            .collect();
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
            detections: inp.det_counts.get(name).cloned().unwrap_or_default(),
            services: asset.map(|a| a.services.clone()).unwrap_or_default(),
            addresses: addrs,
            incidents: inp.incidents.get(name).cloned().unwrap_or_default(),
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
    hosts
}

/// What the account list needs.
pub(crate) struct AccountInput<'a> {
    pub raw: &'a [(String, AccountAcc)],
    pub sig: &'a Signals,
    pub comp: &'a Comp,
    pub mal_links: &'a [&'a L],
    pub in_attack: &'a dyn Fn(Option<vigie_event::Timestamp>) -> bool,
    pub incidents: &'a BTreeMap<String, Vec<String>>,
}

pub(crate) fn accounts(inp: &AccountInput, ctx: &Ctx) -> Vec<Account> {
    let lang = ctx.lang;
    let mut accounts: Vec<Account> = Vec::new();
    let names: BTreeSet<String> = inp
        .raw
        .iter()
        .map(|(n, _)| n.clone())
        .chain(inp.comp.accts.keys().cloned())
        .collect();
    let raw_by_name: HashMap<&str, &AccountAcc> =
        inp.raw.iter().map(|(n, a)| (n.as_str(), a)).collect();
    for name in names {
        if builtin_kind(&name).is_some() {
            continue;
        }
        let raw = raw_by_name.get(name.as_str()).copied();
        let asset = ctx.account_asset(&name);
        let (comp, reasons) = inp
            .comp
            .accts
            .get(&name)
            .cloned()
            .unwrap_or((Compromise::No, vec![]));
        let groups: Vec<String> = raw
            .map(|r| r.groups.keys().cloned().collect())
            .unwrap_or_default();
        let priv_group = groups.iter().find(|g| privileged_group(g));
        let privileged_reason = if asset.is_some_and(|a| a.privileged) {
            Some(lang.pick("fichier des actifs", "assets file").to_string())
        } else if let Some(g) = priv_group {
            Some(tr!(lang, "membre de {g}", "member of {g}"))
        } else {
            raw.and_then(|r| r.privileged.first())
                .map(|e| crate::say::render(lang, &e.summary))
        };
        let privileged = privileged_reason.is_some();
        if comp == Compromise::No && asset.is_none() && !privileged {
            continue;
        }
        let (kind, kind_source) = match asset {
            Some(a) => (a.kind, "assets".to_string()),
            None => (infer_kind(&name, privileged), "inferred".to_string()),
        };
        let sigs: Vec<&Det> = inp
            .sig
            .by_acct
            .get(name.as_str())
            .map(|v| v.iter().map(|&i| &inp.sig.list[i]).collect())
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
        for l in inp
            .mal_links
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
        let created_ev =
            raw.and_then(|r| r.created.iter().find(|e| (inp.in_attack)(e.time)).cloned());
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
            created_by: raw
                .map(|r| r.created_by.iter().cloned().collect())
                .unwrap_or_default(),
            added_to_groups: groups,
            detections: sigs.iter().filter(|d| !d.builtin).count() as u64,
            incidents: inp.incidents.get(&name).cloned().unwrap_or_default(),
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
    accounts
}

pub(crate) fn infer_kind(name: &str, privileged: bool) -> AccountKind {
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

/// What the address list needs.
pub(crate) struct AddressInput<'a> {
    pub links: &'a [L],
    pub vpn: &'a [VpnRaw],
    pub failed: &'a [((String, String, String), Agg)],
    pub addr_host: &'a BTreeMap<String, String>,
    pub comp_accts: &'a BTreeSet<String>,
    pub in_attack: &'a dyn Fn(Option<vigie_event::Timestamp>) -> bool,
    /// Entry sources and credential-attack sources: implicated.
    pub implicated: &'a BTreeSet<String>,
}

pub(crate) fn addresses(inp: &AddressInput, ctx: &Ctx) -> Vec<Address> {
    let mut addr_acc: BTreeMap<String, Address> = BTreeMap::new();
    let new = |a: &str, kind: AddressKind, host: Option<String>| Address {
        address: a.to_string(),
        kind,
        host,
        targets: vec![],
        accounts: vec![],
        first: None,
        last: None,
        logons: 0,
        failed_logons: 0,
        implicated: false,
        evidence: vec![],
    };
    for l in inp.links {
        let Some(a) = &l.from_address else { continue };
        let kind = ctx.plan.classify(a);
        if kind == AddressKind::Internal && !l.malicious {
            continue;
        }
        let e = addr_acc
            .entry(a.clone())
            .or_insert_with(|| new(a, kind, inp.addr_host.get(a).cloned()));
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
        e.implicated |= l.malicious;
        if let Some(ev) = l.evidence.first() {
            push_top_ref(&mut e.evidence, ev);
        }
    }
    for v in inp.vpn {
        let Some(r) = &v.remote else { continue };
        let kind = ctx.plan.classify(r);
        let e = addr_acc
            .entry(r.clone())
            .or_insert_with(|| new(r, kind, None));
        if !e.targets.contains(&v.gateway) {
            e.targets.push(v.gateway.clone());
        }
        if let Some(u) = &v.user {
            if !e.accounts.contains(u) {
                e.accounts.push(u.clone());
            }
            e.implicated |= inp.comp_accts.contains(u) && (inp.in_attack)(v.time);
        }
        e.first = super::order::min_t(e.first, v.time);
        e.last = super::order::max_t(e.last, v.time);
        if v.success {
            e.logons += 1;
        } else {
            e.failed_logons += 1;
        }
        push_top_ref(&mut e.evidence, &v.evidence);
    }
    for ((a, _, _), agg) in inp.failed {
        if let Some(e) = addr_acc.get_mut(a) {
            e.failed_logons += agg.count;
        } else if inp.implicated.contains(a) && a.parse::<std::net::IpAddr>().is_ok() {
            let kind = ctx.plan.classify(a);
            let e = addr_acc
                .entry(a.clone())
                .or_insert_with(|| new(a, kind, inp.addr_host.get(a).cloned()));
            e.failed_logons += agg.count;
            e.first = super::order::min_t(e.first, agg.first);
            e.last = super::order::max_t(e.last, agg.last);
            for ev in agg.evidence.iter().take(3) {
                push_top_ref(&mut e.evidence, ev);
            }
        }
    }
    for a in inp.implicated {
        if let Some(e) = addr_acc.get_mut(a) {
            e.implicated = true;
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
    addresses
}
