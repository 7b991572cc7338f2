//! The batch half of the scope stage: from the merged observer's facts to a
//! [`Scope`]. A pure function of the facts: sorted inputs, sorted outputs,
//! so the same logs always give the same scope; `vigie serve` can re-run it
//! on a live observer at any time.
//!
//! One module per question, in the order [`build`] asks them:
//!
//! | module | question |
//! |---|---|
//! | [`links`] | who reached which host, how (and is it part of the attack)? |
//! | [`signals`] | which detections and behaviours does the scope reason on? |
//! | [`credentials`] | were passwords sprayed or service tickets roasted? |
//! | [`incidents`] | which signals belong together (entities *and* time)? |
//! | [`compromise`] | which hosts and accounts are compromised, and why? |
//! | [`entry`] | how and when did the attacker get in? |
//! | [`exposure`] | which data was staged or left? |
//! | [`nature`] | what kind of attack is each incident, how sure are we? |
//! | [`entities`] | the hosts, accounts and addresses lists |
//! | [`artefacts`] | processes, services, tasks, files, domains |
//! | [`coverage`] | what the logs cover |
//! | [`zones`], [`services`] | were isolated systems and citizen services reached? |
//! | [`actions`] | what to do now, safely, and how to undo it |
//! | [`verdict`] | attack, suspicious, or nothing found — with or without gaps? |
//! | [`answer`] | the plain-words answers |

pub(crate) mod actions;
pub(crate) mod answer;
pub(crate) mod artefacts;
pub(crate) mod compromise;
pub(crate) mod coverage;
pub(crate) mod credentials;
pub(crate) mod entities;
pub(crate) mod entry;
pub(crate) mod exposure;
pub(crate) mod incidents;
pub(crate) mod links;
pub(crate) mod nature;
pub(crate) mod order;
pub(crate) mod services;
pub(crate) mod signals;
pub(crate) mod time;
pub(crate) mod verdict;
pub(crate) mod zones;

use std::collections::{BTreeMap, BTreeSet};

use vigie_detect::{CorrelationMatch, Level};
use vigie_event::Timestamp;
use vigie_lang::{tr, Lang, Zone};

use crate::model::*;
use crate::names::{host_key, wildcard, AddressPlan};
use crate::observer::{ev_key, Observer, ProcRaw};
use crate::text;
use links::L;
use time::{hours, minus, plus};

/// Lists of artefacts are cut here (counts stay complete).
pub(crate) const MAX_LIST: usize = 500;
/// Links listed at most (malicious first).
const MAX_LINKS: usize = 5000;

/// What every question needs: the organisation and the language.
pub(crate) struct Ctx<'a> {
    pub assets: &'a Assets,
    pub plan: AddressPlan,
    pub lang: Lang,
    /// The zone times are written in (sentences only; timestamps are UTC).
    pub zone: Zone,
    /// `assets.hosts` names, compiled once.
    pub host_patterns: crate::patterns::NamePatterns,
}

impl Ctx<'_> {
    pub fn host_asset(&self, host: &str, fqdns: &BTreeSet<String>) -> Option<&HostAsset> {
        // The first matching entry wins, whether it matched the short
        // name or one of the FQDNs.
        std::iter::once(host)
            .chain(fqdns.iter().map(String::as_str))
            .filter_map(|n| self.host_patterns.first(n))
            .min()
            .map(|i| &self.assets.hosts[i])
    }
    pub fn zone(&self, name: &str) -> Option<&ZoneAsset> {
        self.assets
            .zones
            .iter()
            .find(|z| z.name.eq_ignore_ascii_case(name))
    }
    pub fn account_asset(&self, name: &str) -> Option<&AccountAsset> {
        self.assets.accounts.iter().find(|a| {
            let pat = crate::names::account_key(&a.name)
                .map(|k| k.0)
                .unwrap_or_default();
            wildcard(&pat, name)
        })
    }
}

/// An incident while the questions are answered.
struct Draft {
    d: incidents::Draft,
    natures: Vec<Nature>,
    compromised: usize,
}

pub(crate) fn build(
    o: Observer,
    correlations: &[CorrelationMatch],
    lang: Lang,
    zone: Zone,
) -> Scope {
    let assets = o.assets.clone();
    let mut caveats = Vec::new();
    let assets_loaded = *assets != Assets::default();
    if !assets_loaded {
        caveats.push(
            lang.pick(
                "Pas de fichier des actifs : les rôles des postes et serveurs sont déduits des journaux ; zones, services aux usagers et stockages de données sont inconnus.",
                "No assets file: host roles are inferred from the logs, and zones, citizen services and data stores are unknown.",
            )
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
                    Err(_) => caveats.push(tr!(
                        lang,
                        "fichier des actifs, networks.{what} : « {c} » n'est pas une plage CIDR ; ignoré",
                        "assets networks.{what}: '{c}' is not a CIDR range; ignored"
                    )),
                },
            }
        }
    }
    let ctx = Ctx {
        assets: &assets,
        plan,
        lang,
        zone,
        host_patterns: crate::patterns::NamePatterns::new(
            assets.hosts.iter().map(|h| h.name.as_str()),
        ),
    };
    let o_first = o.first;
    let o_last = o.last;
    let events = o.events;

    // --- hosts seen, their FQDNs, and who is behind each address ----------
    let mut fqdns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((h, _), c) in &o.cov {
        fqdns
            .entry(h.clone())
            .or_default()
            .extend(c.fqdns.iter().cloned());
    }
    let addr_host = address_hosts(&o, &assets);

    // --- links ---------------------------------------------------------------
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
        remote_exec.extend(crate::observer::orphan_remote(&o.procs, p));
    }
    remote_exec.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
    let vpn_tunnels: BTreeSet<String> = o
        .vpn
        .iter()
        .filter(|v| v.success)
        .filter_map(|v| v.tunnel.clone())
        .collect();
    let mut lmap = links::resolve_all(o.links, &addr_host, &vpn_tunnels, &ctx);
    links::derive(&mut lmap, &services, &tasks, &remote_exec);

    // --- signals -------------------------------------------------------------
    // Everything later needs of the whole detection list is taken now, so
    // that the signals can then be moved out of it rather than cloned.
    let all_dets = o.dets.len() as u64;
    let (mut by_level, rule_counts, host_det_counts) = order::det_counts(&o.dets);
    let mut cleared = o.cleared;
    signals::sort_raw(&mut cleared, |c| &c.evidence);
    let mut behaviours = o.behaviours;
    signals::sort_raw(&mut behaviours, |b| &b.evidence);
    let mut notes: Vec<_> = o.notes.into_iter().collect();
    notes.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failed: Vec<_> = o.failed.into_iter().collect();
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    let auth_ok: BTreeMap<(String, String), crate::observer::Agg> = o.auth_ok.into_iter().collect();
    let mut tgs: Vec<_> = o.tgs.into_iter().collect();
    tgs.sort_by(|a, b| a.0.cmp(&b.0));
    let sig0 = signals::collect(o.dets, &behaviours, &cleared, &notes, correlations, &ctx);
    // Credential attacks the scope finds itself are signals too.
    let credential_attacks = credentials::find(&failed, &auth_ok, &tgs, &sig0, &addr_host, &ctx);
    let sig = signals::with_credential_attacks(sig0, &credential_attacks, &ctx);
    links::mark_malicious(&mut lmap, &sig);
    let links_sorted: Vec<L> = {
        let mut v: Vec<L> = lmap.into_values().collect();
        v.sort_by(|a, b| {
            (a.first, &a.from, &a.to, &a.account, a.method)
                .cmp(&(b.first, &b.from, &b.to, &b.account, b.method))
        });
        v
    };
    let mal_links: Vec<&L> = links_sorted.iter().filter(|l| l.malicious).collect();

    // --- incidents -----------------------------------------------------------
    let clusters = incidents::cluster(&sig, &links_sorted);
    let mut drafts: Vec<incidents::Draft> = clusters
        .iter()
        .filter_map(|c| incidents::build(c, &sig, &links_sorted))
        .collect();
    let windows: Vec<(Timestamp, Timestamp)> = drafts
        .iter()
        .map(|d| (d.incident.first, d.incident.last))
        .collect();
    let in_attack = |t: Option<Timestamp>| -> bool {
        t.is_some_and(|t| {
            windows
                .iter()
                .any(|(f, l)| t >= minus(*f, hours(1)) && t <= plus(*l, hours(1)))
        })
    };

    // --- compromise ------------------------------------------------------------
    let mut comp = compromise::Comp::default();
    compromise::from_signals(&mut comp, &sig, lang, zone);
    compromise::from_links(&mut comp, &mal_links, lang, zone);
    compromise::mass_deployment(&mut comp, &tasks, &services, &in_attack, lang);
    compromise::credentials(&mut comp, &credential_attacks, lang, zone);
    let mut accounts_raw: Vec<_> = o.accounts.into_iter().collect();
    accounts_raw.sort_by(|a, b| a.0.cmp(&b.0));
    compromise::accounts(&mut comp, &accounts_raw, &sig, &mal_links, &in_attack, lang);

    // --- entry points ----------------------------------------------------------
    let interesting = artefacts::dedup_processes(o.interesting);
    let procs = o.procs;
    let chain = |p: &ProcRaw| {
        artefacts::parent_chain(
            &procs,
            &p.host,
            p.parent_key,
            p.parent_image.as_deref(),
            p.time,
        )
        .0
    };
    let mut vpn = o.vpn;
    signals::sort_raw(&mut vpn, |v| &v.evidence);
    for d in &mut drafts {
        let hosts: BTreeSet<&str> = d.incident.hosts.iter().map(|h| h.name.as_str()).collect();
        let e = entry::entry_point(
            &hosts,
            &d.sigs,
            &sig,
            &mal_links,
            &vpn,
            &failed,
            &interesting,
            &chain,
            &ctx,
        );
        if let Some(t) = e.as_ref().and_then(|e| e.time) {
            d.incident.first = d.incident.first.min(t);
        }
        d.incident.entry_point = e;
    }
    for d in &drafts {
        let Some(e) = &d.incident.entry_point else {
            continue;
        };
        if e.confidence < Confidence::Medium {
            continue;
        }
        let why = || {
            tr!(
                lang,
                "point d'entrée : {}",
                "entry point: {}",
                e.description
            )
        };
        if let Some(a) = &e.account {
            comp.raise_acct(a, Compromise::Yes, why);
        }
        if let Some(h) = &e.host {
            comp.raise_host(h, Compromise::Yes, why);
        }
    }
    let comp_hosts: BTreeSet<String> = comp
        .hosts
        .iter()
        .filter(|(_, c)| c.0 != Compromise::No)
        .map(|(h, _)| h.clone())
        .collect();
    let comp_accts: BTreeSet<String> = comp
        .accts
        .iter()
        .filter(|(_, c)| c.0 != Compromise::No)
        .map(|(h, _)| h.clone())
        .collect();

    // --- artefacts and data ------------------------------------------------------
    let coverage = coverage::build(o.cov, &cleared, o.silence_threshold_secs);
    let services_installed = artefacts::services_installed(&services);
    let scheduled_tasks = artefacts::scheduled_tasks(&tasks);
    let files = artefacts::files(o.files);
    let domains = artefacts::domains(o.dns);
    let mut transfers: Vec<_> = o.transfers.into_iter().collect();
    transfers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut shares: Vec<_> = o.shares.into_iter().collect();
    shares.sort_by(|a, b| a.0.cmp(&b.0));
    let data_exposure = exposure::data_exposure(
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

    // --- natures, and the main incident ------------------------------------------
    let mut drafts: Vec<Draft> = drafts
        .into_iter()
        .map(|d| {
            let natures = incident_natures(
                &d,
                &sig,
                &links_sorted,
                &data_exposure,
                &credential_attacks,
                &comp,
                &services_installed,
                &domains,
                lang,
            );
            let compromised = d
                .incident
                .hosts
                .iter()
                .filter(|h| comp.host(&h.name) == Compromise::Yes)
                .count();
            Draft {
                d,
                natures,
                compromised,
            }
        })
        .collect();
    for dr in &mut drafts {
        let inc = &mut dr.d.incident;
        inc.nature = dr.natures.iter().map(|n| n.kind).collect();
        let steps = vigie_steps(inc, &dr.d.links, &links_sorted, &credential_attacks, lang);
        inc.progression.extend(steps);
        incidents::finish_progression(inc);
    }
    // The main incident: the best established nature, then the most
    // severe, widest and longest.
    drafts.sort_by(|a, b| {
        let best = |x: &Draft| x.natures.first().map(|n| n.confidence);
        best(b)
            .cmp(&best(a))
            .then(b.d.incident.severity.cmp(&a.d.incident.severity))
            .then(b.compromised.cmp(&a.compromised))
            .then(
                b.d.incident
                    .progression
                    .len()
                    .cmp(&a.d.incident.progression.len()),
            )
            .then(b.d.incident.detections.cmp(&a.d.incident.detections))
            .then(a.d.incident.first.cmp(&b.d.incident.first))
    });
    for (i, dr) in drafts.iter_mut().enumerate() {
        let inc = &mut dr.d.incident;
        inc.id = format!("INC-{}", i + 1);
        inc.links =
            dr.d.links
                .iter()
                .map(|i| format!("LNK-{}", i + 1))
                .collect();
        inc.summary = incident_summary(inc, &dr.natures, lang, zone);
        inc.nature_detail = dr.natures.clone();
    }
    // Hosts and accounts seen only in incidents that do not establish an
    // attack (one strong piece of evidence: a cleared log, one high rule)
    // are suspected, not compromised: to look into, not to be told as fact.
    {
        let established: Vec<bool> = drafts
            .iter()
            .map(|d| verdict::established_attack(&d.natures))
            .collect();
        let mut in_est: BTreeSet<&str> = BTreeSet::new();
        let mut in_weak: BTreeSet<&str> = BTreeSet::new();
        let mut acct_est: BTreeSet<&str> = BTreeSet::new();
        let mut acct_weak: BTreeSet<&str> = BTreeSet::new();
        for (d, est) in drafts.iter().zip(&established) {
            let (h, a) = if *est {
                (&mut in_est, &mut acct_est)
            } else {
                (&mut in_weak, &mut acct_weak)
            };
            h.extend(d.d.incident.hosts.iter().map(|x| x.name.as_str()));
            a.extend(d.d.incident.accounts.iter().map(|x| x.name.as_str()));
        }
        let why = || {
            tr!(
                lang,
                "seulement dans un incident qui n'établit pas une attaque (une seule preuve forte) : à examiner",
                "only in an incident that does not establish an attack (one strong piece of evidence): to look into"
            )
        };
        for (k, v) in comp.hosts.iter_mut() {
            if v.0 == Compromise::Yes
                && in_weak.contains(k.as_str())
                && !in_est.contains(k.as_str())
            {
                v.0 = Compromise::Suspected;
                v.1.insert(0, why());
                v.1.truncate(8);
            }
        }
        for (k, v) in comp.accts.iter_mut() {
            if v.0 == Compromise::Yes
                && acct_weak.contains(k.as_str())
                && !acct_est.contains(k.as_str())
            {
                v.0 = Compromise::Suspected;
                v.1.insert(0, why());
                v.1.truncate(8);
            }
        }
    }
    let main_natures: Vec<Nature> = drafts
        .first()
        .map(|d| d.natures.clone())
        .unwrap_or_default();
    let mut incidents: Vec<Incident> = drafts.into_iter().map(|d| d.d.incident).collect();
    let attack_period = incidents.first().map(|i| Period {
        first: i.first,
        last: i.last,
    });
    let span = match (
        incidents.iter().map(|i| i.first).min(),
        incidents.iter().map(|i| i.last).max(),
    ) {
        (Some(first), Some(last)) => Some(Period { first, last }),
        _ => None,
    };
    let mut host_inc: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut acct_inc: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for inc in &incidents {
        for h in &inc.hosts {
            host_inc
                .entry(h.name.clone())
                .or_default()
                .push(inc.id.clone());
        }
        for a in &inc.accounts {
            acct_inc
                .entry(a.name.clone())
                .or_default()
                .push(inc.id.clone());
        }
    }

    // --- entities ------------------------------------------------------------------
    let hosts = entities::hosts(
        &entities::HostInput {
            fqdns: &fqdns,
            links: &links_sorted,
            sig: &sig,
            comp: &comp,
            det_counts: &host_det_counts,
            kdc: &o.kdc,
            gateways: &o.gateways,
            coverage: &coverage,
            addr_host: &addr_host,
            incidents: &host_inc,
        },
        &ctx,
    );
    // Hosts the attack reached that sent no logs.
    let unlogged: Vec<(String, Evidence)> = hosts
        .iter()
        .filter(|h| h.events == 0 && h.compromised != Compromise::No)
        .filter_map(|h| {
            let ev = mal_links
                .iter()
                .find(|l| l.to == h.name)
                .and_then(|l| l.evidence.first().cloned())
                .or_else(|| h.evidence.first().cloned())?;
            Some((h.name.clone(), ev))
        })
        .collect();
    let accounts = entities::accounts(
        &entities::AccountInput {
            raw: &accounts_raw,
            sig: &sig,
            comp: &comp,
            mal_links: &mal_links,
            in_attack: &in_attack,
            incidents: &acct_inc,
        },
        &ctx,
    );
    let mut implicated: BTreeSet<String> = incidents
        .iter()
        .filter_map(|i| i.entry_point.as_ref())
        .filter_map(|e| e.source_address.clone())
        .collect();
    for c in &credential_attacks {
        if c.targets
            .iter()
            .any(|t| t.outcome == AttemptOutcome::Succeeded)
            || c.kind == CredentialAttackKind::PasswordSpray
        {
            implicated.insert(c.source.clone());
        }
    }
    let addresses = entities::addresses(
        &entities::AddressInput {
            links: &links_sorted,
            vpn: &vpn,
            failed: &failed,
            addr_host: &addr_host,
            comp_accts: &comp_accts,
            in_attack: &in_attack,
            implicated: &implicated,
        },
        &ctx,
    );

    // --- public links ------------------------------------------------------------------
    let comp_yes: BTreeSet<&str> = hosts
        .iter()
        .filter(|h| h.compromised != Compromise::No)
        .map(|h| h.name.as_str())
        .collect();
    let keep: BTreeSet<usize> = {
        let mut idx: Vec<usize> = (0..links_sorted.len()).collect();
        idx.sort_by_key(|&i| {
            let l = &links_sorted[i];
            (
                !l.malicious,
                !(comp_yes.contains(l.to.as_str())
                    || l.from_kind != AddressKind::Internal
                    || links::strong_method(l.method)),
                i,
            )
        });
        if idx.len() > MAX_LINKS {
            caveats.push(tr!(
                lang,
                "{} liens non listés (seuls les {MAX_LINKS} plus pertinents le sont).",
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
            id: format!("LNK-{}", i + 1),
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
    let processes = artefacts::processes(&interesting, &procs, &comp_hosts, &in_attack);

    // --- zones and citizen services ---------------------------------------------------
    let observed = match (o_first, o_last) {
        (Some(first), Some(last)) => Some(Period { first, last }),
        _ => None,
    };
    let period = attack_period.or(observed);
    let zones = zones::zone_statuses(
        &ctx,
        &hosts,
        &coverage,
        &links_sorted,
        &sig.list,
        &o.conns,
        &addr_host,
        period,
        span.or(observed),
        attack_period.is_some(),
        &comp_hosts,
        &comp_accts,
    );
    let services_status = services::service_statuses(&ctx, &hosts, &coverage, period);
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

    // --- what to do now ----------------------------------------------------------------
    let account_domains: Vec<String> = accounts_raw
        .iter()
        .flat_map(|(_, a)| a.domains.iter().cloned())
        .collect();
    let own = actions::OwnNames::new(
        fqdns.values().flatten(),
        account_domains.iter(),
        fqdns.keys(),
        &assets,
    );
    let entry = incidents.first().and_then(|i| i.entry_point.clone());
    let (containment, more_caveats) = actions::plan(
        &actions::Input {
            entry: entry.as_ref(),
            hosts: &hosts,
            accounts: &accounts,
            addresses: &addresses,
            domains: &domains,
            services: &services_installed,
            credential_attacks: &credential_attacks,
            backdoors: &comp.backdoors,
            unlogged: &unlogged,
            own: &own,
        },
        &ctx,
    );
    caveats.extend(more_caveats);

    // --- detection counts ---------------------------------------------------------------
    // One count everywhere: the timeline lists every rule detection and
    // every correlation match, and so does `total`.
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
    for c in correlations {
        order::count_level(&mut by_level, c.rule.level);
    }
    let detections = DetectionSummary {
        total: all_dets + correlations.len() as u64,
        by_level,
        signals: sig.list.len() as u64,
        rules: rule_counts,
        correlations: corr,
    };
    if events == 0 {
        caveats.push(
            lang.pick(
                "Aucun événement n'a été lu : rien ne peut être dit.",
                "No event was read: nothing can be said.",
            )
            .to_string(),
        );
    }

    // --- verdict --------------------------------------------------------------------------
    let assets_unseen: Vec<String> = assets
        .hosts
        .iter()
        .filter(|h| !h.name.contains('*') && !h.name.contains('?'))
        .filter_map(|h| host_key(&h.name))
        .filter(|k| !hosts.iter().any(|h| &h.name == k && h.events > 0))
        .collect();
    let unlogged_names: Vec<String> = unlogged.iter().map(|u| u.0.clone()).collect();
    let assessment = verdict::assess(
        &verdict::Input {
            events,
            observed,
            hosts: &hosts,
            coverage: &coverage,
            incidents: &incidents,
            natures: &main_natures,
            proc_events: o.proc_events,
            run: &o.run,
            unlogged: &unlogged_names,
            assets_unseen: &assets_unseen,
            signals: sig.list.len() as u64,
        },
        &ctx,
    );

    let mut scope = Scope {
        schema_version: SCHEMA_VERSION.to_string(),
        lang,
        assessment,
        observed,
        attack_period,
        assets_loaded,
        answer: Answer::default(),
        nature: main_natures,
        entry_point: entry,
        incidents,
        hosts,
        accounts,
        addresses,
        links,
        credential_attacks,
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
    localise(&mut scope);
    scope.answer = answer::answer(&scope, zone);
    scope
}

/// Address → host: the host most often seen behind each address (logons
/// naming their workstation, computer accounts, Sysmon connections), and
/// the assets file's addresses over everything.
fn address_hosts(o: &Observer, assets: &Assets) -> BTreeMap<String, String> {
    let mut addr_host: BTreeMap<String, String> = BTreeMap::new();
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
    addr_host
}

/// The natures of one incident, from what is tied to it: its signals and
/// links, and what happened on its hosts within a day of its window.
#[allow(clippy::too_many_arguments)]
fn incident_natures(
    d: &incidents::Draft,
    sig: &signals::Signals,
    links: &[L],
    data_exposure: &[DataExposure],
    attacks: &[CredentialAttack],
    comp: &compromise::Comp,
    services: &[ServiceInstall],
    domains: &[Domain],
    lang: Lang,
) -> Vec<Nature> {
    let inc = &d.incident;
    let hosts: BTreeSet<&str> = inc.hosts.iter().map(|h| h.name.as_str()).collect();
    let accts: BTreeSet<&str> = inc.accounts.iter().map(|a| a.name.as_str()).collect();
    let (lo, hi) = (minus(inc.first, hours(24)), plus(inc.last, hours(24)));
    let within = |t: Option<Timestamp>| t.is_some_and(|t| t >= lo && t <= hi);
    let inc_links: Vec<&L> = d.links.iter().map(|&i| &links[i]).collect();
    let exposure: Vec<&DataExposure> = data_exposure
        .iter()
        .filter(|x| x.host.as_deref().is_some_and(|h| hosts.contains(h)) && within(x.first))
        .collect();
    let cred: Vec<&CredentialAttack> = attacks
        .iter()
        .filter(|c| {
            (c.logged_by.iter().any(|h| hosts.contains(h.as_str()))
                || c.source_host.as_deref().is_some_and(|h| hosts.contains(h))
                || c.targets.iter().any(|t| accts.contains(t.account.as_str())))
                && within(Some(c.first))
        })
        .collect();
    let backdoors: Vec<(String, Evidence)> = comp
        .backdoors
        .iter()
        .filter(|(_, _, ev)| within(ev.time))
        .map(|(a, why, ev)| (format!("{a}: {why}"), ev.clone()))
        .collect();
    let mut remote_access: Vec<(String, Evidence)> = Vec::new();
    for s in services {
        if hosts.contains(s.host.as_str())
            && within(s.time)
            && crate::exposure::remote_access_name(&format!(
                "{} {}",
                s.name,
                s.image_path.as_deref().unwrap_or("")
            ))
        {
            remote_access.push((
                tr!(
                    lang,
                    "service {} sur {}",
                    "service {} on {}",
                    s.name,
                    s.host
                ),
                s.evidence.clone(),
            ));
        }
    }
    for dm in domains {
        if dm.reasons.iter().any(|r| r == "remote_access")
            && dm.hosts.iter().any(|h| hosts.contains(h.as_str()))
            && within(dm.first)
        {
            if let Some(ev) = dm.evidence.first() {
                remote_access.push((
                    tr!(
                        lang,
                        "domaine {} contacté",
                        "domain {} contacted",
                        dm.domain
                    ),
                    ev.clone(),
                ));
            }
        }
    }
    nature::natures(
        &nature::Input {
            sig,
            sigs: &d.sigs,
            links: &inc_links,
            exposure: &exposure,
            credential_attacks: &cred,
            accounts: &backdoors,
            remote_access: &remote_access,
            entry: inc.entry_point.as_ref(),
        },
        lang,
    )
}

/// Vigie's own progression steps: the entry point (Initial Access), the
/// movements between internal hosts, the credential attacks.
fn vigie_steps(
    inc: &Incident,
    link_idx: &[usize],
    links: &[L],
    attacks: &[CredentialAttack],
    lang: Lang,
) -> Vec<ProgressionStep> {
    let mut out = Vec::new();
    if let Some(e) = &inc.entry_point {
        let outside = matches!(
            e.source_kind,
            Some(AddressKind::External | AddressKind::Vpn)
        ) || e.method == "vpn";
        if let (true, Some(t), Some(ev)) = (outside, e.time, e.evidence.first()) {
            let tech = if e.method == "vpn" { "T1133" } else { "T1078" };
            out.push(incidents::vigie_step(
                t,
                t,
                ("TA0001", "Initial Access"),
                tech,
                tr!(
                    lang,
                    "Point d'entrée : {} (lecture Vigie)",
                    "Entry point: {} (Vigie reading)",
                    vigie_lang::glossary::term(lang, &e.method)
                ),
                if e.confidence == Confidence::High {
                    Level::High
                } else {
                    Level::Medium
                },
                e.host.iter().cloned().collect(),
                e.account.iter().cloned().collect(),
                1,
                ev.clone(),
            ));
        }
    }
    let inc_links: Vec<&L> = link_idx.iter().map(|&i| &links[i]).collect();
    out.extend(incidents::movement_steps(&inc_links, lang));
    let accts: BTreeSet<&str> = inc.accounts.iter().map(|a| a.name.as_str()).collect();
    let hosts: BTreeSet<&str> = inc.hosts.iter().map(|h| h.name.as_str()).collect();
    for c in attacks {
        let tied = c.logged_by.iter().any(|h| hosts.contains(h.as_str()))
            || c.targets.iter().any(|t| accts.contains(t.account.as_str()));
        if !tied || c.last < minus(inc.first, hours(24)) || c.first > plus(inc.last, hours(24)) {
            continue;
        }
        let Some(ev) = c.evidence.first() else {
            continue;
        };
        let tech = match c.kind {
            CredentialAttackKind::PasswordSpray => "T1110.003",
            CredentialAttackKind::BruteForce => "T1110.001",
            CredentialAttackKind::Kerberoasting => "T1558.003",
        };
        out.push(incidents::vigie_step(
            c.first,
            c.last,
            ("TA0006", "Credential Access"),
            tech,
            tr!(
                lang,
                "{} (lecture Vigie)",
                "{} (Vigie reading)",
                text::capitalise(compromise::attack_words(lang, c.kind))
            ),
            Level::High,
            c.logged_by.clone(),
            c.targets.iter().map(|t| t.account.clone()).collect(),
            c.targets.iter().map(|t| t.attempts).sum(),
            ev.clone(),
        ));
    }
    out
}

/// One sentence for an incident: what, where, when.
fn incident_summary(inc: &Incident, natures: &[Nature], lang: Lang, zone: Zone) -> String {
    let what = natures
        .first()
        .map(|n| {
            format!(
                "{} ({})",
                text::capitalise(&n.label),
                text::confidence(lang, n.confidence)
            )
        })
        .unwrap_or_else(|| {
            lang.pick("Activité suspecte", "Suspicious activity")
                .to_string()
        });
    let hosts: Vec<String> = inc.hosts.iter().map(|h| h.name.clone()).collect();
    tr!(
        lang,
        "{what} sur {} du {} au {} ({})",
        "{what} on {} from {} to {} ({})",
        text::list(lang, &hosts, 4),
        text::time(lang, zone, Some(inc.first)),
        text::time(lang, zone, Some(inc.last)),
        text::count(
            lang,
            inc.detections as usize,
            ("détection", "détections"),
            ("detection", "detections")
        )
    )
}

/// Writes every evidence summary in the scope's language (the observer
/// codes them; see `crate::say`).
fn localise(s: &mut Scope) {
    let lang = s.lang;
    let fix = |v: &mut Vec<Evidence>| {
        for e in v.iter_mut() {
            e.summary = crate::say::render(lang, &e.summary);
        }
    };
    let fix_one = |e: &mut Evidence| e.summary = crate::say::render(lang, &e.summary);
    for n in &mut s.nature {
        fix(&mut n.evidence);
    }
    if let Some(e) = &mut s.entry_point {
        fix(&mut e.evidence);
    }
    for i in &mut s.incidents {
        for p in &mut i.progression {
            fix_one(&mut p.evidence);
        }
        for n in &mut i.nature_detail {
            fix(&mut n.evidence);
        }
        if let Some(e) = &mut i.entry_point {
            fix(&mut e.evidence);
        }
    }
    for h in &mut s.hosts {
        fix(&mut h.evidence);
    }
    for a in &mut s.accounts {
        fix(&mut a.evidence);
    }
    for a in &mut s.addresses {
        fix(&mut a.evidence);
    }
    for l in &mut s.links {
        fix(&mut l.evidence);
    }
    for c in &mut s.credential_attacks {
        fix(&mut c.evidence);
        for t in &mut c.targets {
            fix(&mut t.evidence);
        }
    }
    for p in &mut s.processes {
        fix_one(&mut p.evidence);
    }
    for x in &mut s.services_installed {
        fix_one(&mut x.evidence);
    }
    for x in &mut s.scheduled_tasks {
        fix_one(&mut x.evidence);
    }
    for x in &mut s.domains {
        fix(&mut x.evidence);
    }
    for x in &mut s.files {
        fix_one(&mut x.evidence);
    }
    for x in &mut s.data_exposure {
        fix(&mut x.evidence);
    }
    for c in &mut s.coverage.channels {
        for x in &mut c.cleared {
            fix_one(&mut x.evidence);
        }
    }
    for z in &mut s.zones {
        fix(&mut z.evidence);
    }
    for a in &mut s.containment {
        fix(&mut a.evidence);
    }
}
