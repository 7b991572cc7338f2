//! Citizen services of the assets file: affected, degraded, unaffected or
//! unknown, from the hosts they depend on.

use vigie_lang::tr;

use super::Ctx;
use crate::model::*;

pub(crate) fn service_statuses(
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
    // Seen hosts of each assets entry, matched once (not entries × hosts
    // for every service).
    let mut by_entry: Vec<Vec<usize>> = vec![Vec::new(); ctx.assets.hosts.len()];
    for (hi, h) in hosts.iter().enumerate() {
        for i in ctx.host_patterns.all(&h.name) {
            by_entry[i].push(hi);
        }
    }
    let mut out = Vec::new();
    let lang = ctx.lang;
    for svc in names {
        let direct: Vec<&HostAsset> = ctx
            .assets
            .hosts
            .iter()
            .filter(|h| h.services.contains(&svc))
            .collect();
        let all_isolated = !direct.is_empty() && direct.iter().all(|h| isolated_zone(&h.zone));
        let entries: Vec<(usize, &HostAsset)> = ctx
            .assets
            .hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.services.contains(&svc) || (!all_isolated && h.services.iter().any(|s| s == "*"))
            })
            .collect();
        let mut seen: Vec<&Host> = Vec::new();
        let mut unseen: Vec<String> = Vec::new();
        for (i, e) in &entries {
            let m: Vec<&Host> = by_entry[*i].iter().map(|&hi| &hosts[hi]).collect();
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
                tr!(
                    lang,
                    "dépend de poste(s) ou serveur(s) compromis : {}",
                    "depends on compromised host(s) {}",
                    yes.join(", ")
                ),
            )
        } else if !sus.is_empty() {
            (
                ServiceState::Degraded,
                sus.clone(),
                tr!(
                    lang,
                    "dépend de poste(s) ou serveur(s) suspects : {}",
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
                tr!(
                    lang,
                    "pas de journaux complets pour {}",
                    "no complete logs for {}",
                    h.join(", ")
                ),
            )
        } else {
            let names: Vec<String> = seen.iter().map(|h| h.name.clone()).collect();
            (
                ServiceState::Unaffected,
                vec![],
                tr!(
                    lang,
                    "ses postes et serveurs ({}) sont journalisés sur la période et non impliqués",
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
