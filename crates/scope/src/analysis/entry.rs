//! How and when the attacker got in, for one incident:
//!
//! 1. an inbound malicious link into the incident's hosts from outside
//!    them, shortly before its first signal (a VPN login behind a tunnel
//!    address is followed back to the external address);
//! 2. otherwise the first malicious process inside the network, with its
//!    account and parent (an implant already running, a phishing document
//!    opened): `local_execution`;
//! 3. otherwise its first signal (`first_detection`, low confidence).

use std::collections::BTreeSet;

use vigie_lang::tr;

use super::links::{strong_method, L, LINK_LOOKBACK_H};
use super::signals::Signals;
use super::time::{hours, minus, plus};
use super::Ctx;
use crate::model::*;
use crate::observer::{ev_key, Agg, ProcRaw, VpnRaw};
use crate::text;

type Failed = ((String, String, String), Agg);

/// The entry point of an incident (`hosts` and `period` are its own,
/// `links` its malicious links; `procs` are the processes of interest in
/// evidence order, `chain` gives a process's parent chain).
#[allow(clippy::too_many_arguments)]
pub(crate) fn entry_point(
    hosts: &BTreeSet<&str>,
    sigs: &[usize],
    sig: &Signals,
    links: &[&L],
    vpn: &[VpnRaw],
    failed: &[Failed],
    procs: &[ProcRaw],
    chain: &dyn Fn(&ProcRaw) -> Vec<String>,
    ctx: &Ctx,
) -> Option<EntryPoint> {
    let lang = ctx.lang;
    let zone = ctx.zone;
    // Its earliest timed signal (signals are sorted by evidence, time
    // first, untimed first).
    let first_sig = sigs
        .iter()
        .copied()
        .find(|&i| sig.list[i].time.is_some())
        .map(|i| &sig.list[i])?;
    let t0 = first_sig.time?;
    // 1. A malicious link into the incident's hosts just before its first
    // signal: from outside (an external or VPN address: the way in), or
    // else from an internal host (the attacker was already there, and
    // moved on from it).
    let outside = |l: &L| l.from_kind != AddressKind::Internal;
    let before = |l: &&&L| {
        l.malicious
            && hosts.contains(l.to.as_str())
            && l.from != l.to
            && l.first >= minus(t0, hours(LINK_LOOKBACK_H))
            && if outside(l) {
                !hosts.contains(l.from.as_str()) && l.first <= plus(t0, hours(1))
            } else {
                l.first <= plus(t0, super::time::minutes(5))
            }
    };
    let earliest = |a: &&&L, b: &&&L| {
        (a.first, strong_method(b.method)).cmp(&(b.first, strong_method(a.method)))
    };
    let inbound = links
        .iter()
        .filter(before)
        .filter(|l| outside(l))
        .min_by(earliest)
        .or_else(|| links.iter().filter(before).min_by(earliest));
    if let Some(l) = inbound.filter(|l| !outside(l)) {
        // Already inside: the source host is where the attacker was first.
        let named = l.from.parse::<std::net::IpAddr>().is_err();
        let who = l
            .account
            .clone()
            .unwrap_or_else(|| lang.pick("un compte inconnu", "an unknown account").into());
        let desc = tr!(
            lang,
            "l'attaquant était déjà sur {} (comment il y est arrivé n'est pas dans les journaux) et a atteint {} par {} avec le compte {who} le {}",
            "the attacker was already on {} (how it got there is not in the logs) and reached {} by {} as {who} at {}",
            l.from,
            l.to,
            text::method(lang, l.method),
            text::time(lang, zone, Some(l.first))
        );
        let mut evidence: Vec<Evidence> = l.evidence.iter().take(3).cloned().collect();
        evidence.push(first_sig.evidence());
        return Some(EntryPoint {
            time: Some(l.first.min(t0)),
            host: Some(if named { l.from.clone() } else { l.to.clone() }),
            account: l.account.clone(),
            source_address: l.from_address.clone(),
            source_kind: Some(AddressKind::Internal),
            method: link_method_code(l.method).into(),
            description: desc,
            confidence: Confidence::Medium,
            evidence,
            process: None,
            parent: None,
        });
    }
    if let Some(l) = inbound {
        let mut evidence = l.evidence.iter().take(3).cloned().collect::<Vec<_>>();
        let mut method = link_method_code(l.method).to_string();
        let mut source = l.from_address.clone();
        let mut kind = l.from_address.as_deref().map(|a| ctx.plan.classify(a));
        let mut time = l.first;
        let who = l
            .account
            .clone()
            .unwrap_or_else(|| lang.pick("un compte inconnu", "an unknown account").into());
        let from = l.from_address.as_deref().unwrap_or(&l.from);
        let from = if l.from_address.is_some() && l.from != *from {
            format!("{from} ({})", l.from)
        } else {
            from.to_string()
        };
        let mut desc = tr!(
            lang,
            "{} vers {} avec le compte {who} depuis {from} le {}",
            "{} to {} as {who} from {from} at {}",
            text::method(lang, l.method),
            l.to,
            text::time(lang, zone, Some(l.first))
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
                        t <= l.first && t >= minus(l.first, hours(LINK_LOOKBACK_H))
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
                            Some(t) <= v.time && t >= minus(l.first, hours(LINK_LOOKBACK_H))
                        })
                        && (x.user == v.user || x.remote == v.remote)
                })
                .count();
            method = "vpn".into();
            source = v.remote.clone();
            kind = v.remote.as_deref().map(|a| ctx.plan.classify(a));
            time = v.time.unwrap_or(time);
            let fails = if fails > 0 {
                tr!(
                    lang,
                    " après {fails} tentative(s) échouée(s)",
                    " after {fails} failed attempt(s)"
                )
            } else {
                String::new()
            };
            desc = tr!(
                lang,
                "connexion VPN sur {} avec le compte {} depuis {} le {}{fails}, puis {desc}",
                "VPN login on {} as {} from {} at {}{fails}, then {desc}",
                v.gateway,
                v.user.as_deref().unwrap_or("?"),
                v.remote.as_deref().unwrap_or("?"),
                text::time(lang, zone, v.time)
            );
            confidence = Confidence::High;
            evidence.insert(0, v.evidence.clone());
        } else if l.from_kind == AddressKind::Vpn {
            method = "vpn".into();
            desc = tr!(
                lang,
                "par le VPN (adresse du pool VPN) : {desc}",
                "through the VPN (pool address): {desc}"
            );
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
                desc.push_str(&tr!(
                    lang,
                    " ({f} échec(s) d'ouverture de session depuis cette adresse avant)",
                    " ({f} failed logon(s) from that address before)"
                ));
            }
        }
        evidence.push(first_sig.evidence());
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
            process: None,
            parent: None,
        });
    }
    // 2. The first malicious process inside the network: a process the
    // rules flagged, on the incident's hosts, no later than an hour after
    // the first signal.
    let limit = plus(t0, hours(1));
    let first_proc = procs.iter().find(|p| {
        !p.rules.is_empty()
            && hosts.contains(p.host.as_str())
            && p.time
                .is_some_and(|t| t >= minus(t0, hours(1)) && t <= limit)
    });
    if let Some(p) = first_proc {
        let parents = chain(p);
        let parent = parents.first().cloned();
        let what = p.cmdline.clone().unwrap_or_else(|| p.image.clone());
        let who = p
            .user
            .clone()
            .unwrap_or_else(|| lang.pick("un compte inconnu", "an unknown account").into());
        let short: String = what.chars().take(160).collect();
        let ellipsis = if what.chars().count() > 160 {
            "…"
        } else {
            ""
        };
        let desc = match &parent {
            Some(par) => tr!(
                lang,
                "premier processus malveillant sur {} le {} : {short}{ellipsis} (compte {who}, lancé par {par}) ; comment le poste a été atteint n'est pas dans les journaux",
                "first malicious process on {} at {}: {short}{ellipsis} (account {who}, started by {par}); how the host was reached is not in the logs",
                p.host,
                text::time(lang, zone, p.time)
            ),
            None => tr!(
                lang,
                "premier processus malveillant sur {} le {} : {short}{ellipsis} (compte {who}) ; comment le poste a été atteint n'est pas dans les journaux",
                "first malicious process on {} at {}: {short}{ellipsis} (account {who}); how the host was reached is not in the logs",
                p.host,
                text::time(lang, zone, p.time)
            ),
        };
        let mut evidence = vec![p.evidence.clone()];
        if first_sig.event_key()
            != (
                p.evidence.time,
                p.evidence.source.as_str(),
                crate::observer::loc_key(&p.evidence.locator),
            )
        {
            evidence.push(first_sig.evidence());
        }
        let time = p.time.map(|t| t.min(t0)).or(Some(t0));
        return Some(EntryPoint {
            time,
            host: Some(p.host.clone()),
            account: p.user.clone(),
            source_address: None,
            source_kind: None,
            method: "local_execution".into(),
            description: desc,
            confidence: Confidence::Medium,
            evidence,
            process: Some(what),
            parent,
        });
    }
    // 3. Its first signal.
    Some(EntryPoint {
        time: Some(t0),
        host: Some(first_sig.host.to_string()),
        account: first_sig.accounts.first().cloned(),
        source_address: first_sig.addresses.first().cloned(),
        source_kind: first_sig.addresses.first().map(|a| ctx.plan.classify(a)),
        method: "first_detection".into(),
        description: tr!(
            lang,
            "première activité malveillante : {} sur {} le {} (comment l'attaquant l'a atteint n'est pas dans les journaux)",
            "earliest malicious activity: {} on {} at {} (how the attacker reached it is not in the logs)",
            first_sig.rule.title,
            first_sig.host,
            text::time(lang, zone, Some(t0))
        ),
        confidence: Confidence::Low,
        evidence: vec![first_sig.evidence()],
        process: None,
        parent: None,
    })
}

/// The entry-point method of a link method (`EntryPoint::method`).
fn link_method_code(m: LinkMethod) -> &'static str {
    match m {
        LinkMethod::Rdp => "rdp",
        LinkMethod::LogonType3 => "network_logon",
        LinkMethod::Psexec => "psexec",
        LinkMethod::Winrm => "winrm",
        LinkMethod::Wmi => "wmi",
        LinkMethod::Dcom => "dcom",
        LinkMethod::SmbAdminShare => "admin_share",
        LinkMethod::ExplicitCreds => "explicit_credentials",
        LinkMethod::Vpn => "vpn",
        LinkMethod::RemoteTask => "remote_task",
        LinkMethod::RemoteService => "remote_service",
    }
}
