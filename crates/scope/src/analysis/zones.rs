//! Critical and isolated zones: reached, not reached, or unknown — and
//! "not reached" only when every host of the zone is logged over the whole
//! period without gap, silence or clearing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use vigie_event::Timestamp;
use vigie_lang::tr;

use super::links::{L, LINK_LOOKBACK_H};
use super::time::{hours, minus, minutes, plus};
use super::Ctx;
use crate::model::*;
use crate::names::host_key;
use crate::observer::{push_top_det, push_top_ref, Det};
use crate::text;

#[allow(clippy::too_many_arguments)]
pub(crate) fn zone_statuses(
    ctx: &Ctx,
    hosts: &[Host],
    coverage: &Coverage,
    links: &[L],
    signals: &[Det],
    conns: &HashMap<(Arc<str>, std::net::IpAddr, u16), crate::observer::Agg>,
    addr_host: &BTreeMap<String, String>,
    period: Option<Period>,
    span: Option<Period>,
    attack: bool,
    comp_hosts: &BTreeSet<String>,
    comp_accts: &BTreeSet<String>,
) -> Vec<ZoneStatus> {
    let mut out = Vec::new();
    let slack = minutes(10);
    let lang = ctx.lang;
    let zone = ctx.zone;
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
            span.is_some_and(|p| l >= minus(p.first, hours(LINK_LOOKBACK_H)) && f <= p.last)
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
                    for e in agg.evidence.iter().take(crate::observer::CONN_EVIDENCE) {
                        push_top_ref(&mut evidence, e);
                    }
                }
            }
        }
        let hosts_v: Vec<String> = zhosts.iter().cloned().collect();
        let pdesc = period
            .map(|p| {
                format!(
                    "{} – {}",
                    text::time(lang, zone, Some(p.first)),
                    text::time(lang, zone, Some(p.last))
                )
            })
            .unwrap_or_else(|| lang.pick("la période", "the period").into());
        if !evidence.is_empty() {
            out.push(ZoneStatus {
                zone: z.name.clone(),
                critical: z.critical,
                isolated: z.isolated,
                hosts: hosts_v,
                status: ZoneReach::Reached,
                reason: tr!(
                    lang,
                    "Atteinte : {} élément(s) de preuve relient l'attaque à la zone {} (premier : {}).",
                    "Reached: {} piece(s) of evidence link the attack to zone {} (first: {}).",
                    evidence.len(),
                    z.name,
                    crate::say::render(lang, &evidence[0].summary)
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
            missing.push(tr!(
                lang,
                "aucun poste ou serveur de la zone {} n'est décrit dans le fichier des actifs ni vu dans les journaux",
                "no host of zone {} is listed in the assets file or seen in the logs",
                z.name
            ));
        }
        for h in &zhosts {
            if unseen.contains(h) {
                missing.push(tr!(lang, "aucun journal de {h}", "no logs for {h}"));
                continue;
            }
            let Some(p) = period else {
                missing.push(tr!(
                    lang,
                    "aucune date à comparer pour {h}",
                    "no timestamps to compare with for {h}"
                ));
                continue;
            };
            let chans: Vec<&ChannelCoverage> =
                coverage.channels.iter().filter(|c| &c.host == h).collect();
            let full = chans.iter().find(|c| {
                c.first.is_some_and(|f| f <= plus(p.first, slack))
                    && c.last.is_some_and(|l| l >= minus(p.last, slack))
                    && c.cleared.is_empty()
                    && c.record_gaps.is_empty()
                    && !c
                        .silences
                        .iter()
                        .any(|s| s.to >= p.first && s.from <= p.last)
            });
            match full {
                Some(c) => cov_lines.push(tr!(
                    lang,
                    "{h} {} : {} – {}, {} événements, aucun trou de numéros d'enregistrement, aucun silence sur la période, jamais effacé",
                    "{h} {}: {} – {}, {} events, no record-id gap, no silence over the period, not cleared",
                    c.channel,
                    text::time(lang, zone, c.first),
                    text::time(lang, zone, c.last),
                    c.events
                )),
                None => {
                    let why = if chans.is_empty() {
                        tr!(lang, "aucun journal de {h}", "no logs for {h}")
                    } else {
                        let parts: Vec<String> = chans
                            .iter()
                            .map(|c| {
                                let mut w = format!(
                                    "{} {} – {}",
                                    c.channel,
                                    text::time(lang, zone, c.first),
                                    text::time(lang, zone, c.last)
                                );
                                if !c.record_gaps.is_empty() {
                                    w.push_str(&tr!(
                                        lang,
                                        ", {} trou(s) de numéros d'enregistrement",
                                        ", {} record-id gap(s)",
                                        c.record_gaps.len()
                                    ));
                                }
                                if !c.cleared.is_empty() {
                                    w.push_str(lang.pick(", effacé", ", cleared"));
                                }
                                w
                            })
                            .collect();
                        tr!(
                            lang,
                            "les journaux de {h} ne couvrent pas entièrement {pdesc} ({})",
                            "logs of {h} do not cover {pdesc} completely ({})",
                            parts.join(lang.pick(" ; ", "; "))
                        )
                    };
                    missing.push(why);
                }
            }
        }
        let (status, reason) = if missing.is_empty() {
            (ZoneReach::NotReached, {
                let benign = if benign > 0 {
                    tr!(
                            lang,
                            " ({benign} ouverture(s) de session ordinaire(s) par des comptes non impliqués)",
                            " ({benign} ordinary logon(s) by accounts not implicated)"
                        )
                } else {
                    String::new()
                };
                tr!(
                        lang,
                        "Non atteinte : les journaux de {} couvrent {pdesc} sans trou et ne montrent aucune ouverture de session, connexion ou processus lié à l'attaque{benign}.",
                        "Not reached: logs of {} cover {pdesc} without gap and show no logon, connection or process event linked to the attack{benign}.",
                        hosts_v.join(", ")
                    )
            })
        } else {
            (
                ZoneReach::Unknown,
                tr!(
                    lang,
                    "Inconnu : {}.",
                    "Unknown: {}.",
                    missing.join(lang.pick(" ; ", "; "))
                ),
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
