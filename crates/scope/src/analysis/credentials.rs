//! Attacks on credentials: password sprays and brute force (failed
//! authentications from one source, with the outcome for each targeted
//! account) and Kerberoasting (RC4 service tickets requested for user
//! accounts that run services).
//!
//! Why in the scope and not only as rules: a rule says "a spray happened";
//! the crisis cell needs *which* accounts were tried, which one fell, and
//! therefore whose password to reset.

use std::collections::{BTreeMap, BTreeSet};

use vigie_lang::tr;

use super::links::resolve;
use super::signals::Signals;
use super::time::{hours, plus};
use super::Ctx;
use crate::model::{
    AttemptOutcome, CredentialAttack, CredentialAttackKind, CredentialTarget, Evidence,
};
use crate::observer::{merge_top, Agg};
use crate::text;

/// Distinct accounts tried from one source that make a spray.
pub(crate) const SPRAY_ACCOUNTS: usize = 5;
/// Failures on one account from one source that make a brute force.
pub(crate) const BRUTE_FAILURES: u64 = 10;
/// Distinct service accounts with RC4 tickets for one requester that make
/// Kerberoasting (one ticket alone is how legacy software works).
pub(crate) const ROAST_SERVICES: usize = 2;

type Failed = ((String, String, String), Agg);

/// Finds sprays, brute force and Kerberoasting.
pub(crate) fn find(
    failed: &[Failed],
    auth_ok: &BTreeMap<(String, String), Agg>,
    tgs: &[((String, String), Agg)],
    sig: &Signals,
    addr_host: &BTreeMap<String, String>,
    ctx: &Ctx,
) -> Vec<CredentialAttack> {
    let mut out = Vec::new();
    // --- sprays and brute force, per source ------------------------------
    // source → account → (failures aggregated over the hosts that logged them)
    let mut by_src: BTreeMap<&str, BTreeMap<&str, (Agg, BTreeSet<&str>)>> = BTreeMap::new();
    for ((src, acct, host), agg) in failed {
        if src == "-" || acct == "-" {
            continue;
        }
        let e = by_src
            .entry(src.as_str())
            .or_default()
            .entry(acct.as_str())
            .or_default();
        e.0.merge(agg.clone());
        e.1.insert(host.as_str());
    }
    for (src, accts) in &by_src {
        let total: u64 = accts.values().map(|a| a.0.count).sum();
        let kind = if accts.len() >= SPRAY_ACCOUNTS {
            CredentialAttackKind::PasswordSpray
        } else if accts.values().any(|(a, _)| a.count >= BRUTE_FAILURES) {
            CredentialAttackKind::BruteForce
        } else {
            continue;
        };
        let mut targets = Vec::new();
        let mut logged_by: BTreeSet<String> = BTreeSet::new();
        let mut evidence: Vec<Evidence> = Vec::new();
        let (mut first, mut last) = (None, None);
        for (acct, (agg, hosts)) in accts {
            if kind == CredentialAttackKind::BruteForce && agg.count < BRUTE_FAILURES {
                continue;
            }
            logged_by.extend(hosts.iter().map(|h| h.to_string()));
            first = super::order::min_t(first, agg.first);
            last = super::order::max_t(last, agg.last);
            merge_top(&mut evidence, agg.evidence.clone());
            // Success from the same source after the first failure (and
            // within a day of the last one).
            let ok = auth_ok
                .get(&(src.to_string(), acct.to_string()))
                .filter(|ok| match (ok.last, agg.first, agg.last) {
                    (Some(s), Some(f), Some(l)) => {
                        s >= f && ok.first.is_some_and(|o| o <= plus(l, hours(24)))
                    }
                    _ => false,
                });
            let mut ev = agg.evidence.iter().take(3).cloned().collect::<Vec<_>>();
            let succeeded_at = ok.and_then(|ok| {
                // The first success not before the first failure.
                ok.evidence
                    .iter()
                    .find(|e| e.time >= agg.first)
                    .map(|e| {
                        ev.push(e.clone());
                        e.time
                    })
                    .unwrap_or(ok.last)
            });
            targets.push(CredentialTarget {
                account: acct.to_string(),
                outcome: if ok.is_some() {
                    AttemptOutcome::Succeeded
                } else {
                    AttemptOutcome::Failed
                },
                attempts: agg.count,
                succeeded_at,
                evidence: ev,
            });
        }
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        // Successful accounts first, then by attempts.
        targets.sort_by(|a, b| {
            b.outcome
                .cmp(&a.outcome)
                .then(b.attempts.cmp(&a.attempts))
                .then(a.account.cmp(&b.account))
        });
        let (source_host, _) = resolve(addr_host, src);
        let source_host = (source_host != *src).then_some(source_host).or_else(|| {
            src.parse::<std::net::IpAddr>()
                .is_err()
                .then(|| src.to_string())
        });
        let won: Vec<String> = targets
            .iter()
            .filter(|t| t.outcome == AttemptOutcome::Succeeded)
            .map(|t| t.account.clone())
            .collect();
        let lang = ctx.lang;
        let zone = ctx.zone;
        let what = match kind {
            CredentialAttackKind::PasswordSpray => {
                lang.pick("Pulvérisation de mots de passe", "Password spray")
            }
            _ => lang.pick("Attaque par force brute", "Brute force"),
        };
        let mut description = tr!(
            lang,
            "{what} depuis {src} : {} échec(s) sur {} entre {} et {}",
            "{what} from {src}: {} failure(s) on {} between {} and {}",
            total,
            text::count(
                lang,
                targets.len(),
                ("compte", "comptes"),
                ("account", "accounts")
            ),
            text::time(lang, zone, Some(first)),
            text::time(lang, zone, Some(last))
        );
        if won.is_empty() {
            description.push_str(lang.pick(", aucun succès vu.", ", no success seen."));
        } else {
            description.push_str(&tr!(
                lang,
                " ; mot de passe trouvé pour {}.",
                "; password found for {}.",
                text::join(lang, &won)
            ));
        }
        out.push(CredentialAttack {
            kind,
            source: src.to_string(),
            source_host,
            by_account: None,
            logged_by: logged_by.into_iter().collect(),
            first,
            last,
            targets,
            description,
            evidence,
        });
    }

    // --- Kerberoasting, per requester ------------------------------------
    // Services a Kerberoasting rule named (one ticket is then enough).
    let flagged: BTreeSet<&str> = sig
        .list
        .iter()
        .enumerate()
        .filter(|(i, _)| sig.attack_of(*i).has_technique("T1558.003"))
        .flat_map(|(_, d)| d.accounts.iter().map(String::as_str))
        .collect();
    let mut by_req: BTreeMap<&str, Vec<(&str, &Agg)>> = BTreeMap::new();
    for ((req, svc), agg) in tgs {
        by_req
            .entry(req.as_str())
            .or_default()
            .push((svc.as_str(), agg));
    }
    for (req, svcs) in by_req {
        // Several services asked within a day of each other.
        let mut times: Vec<(vigie_event::Timestamp, &str)> = svcs
            .iter()
            .filter_map(|(s, a)| a.first.map(|t| (t, *s)))
            .collect();
        times.sort();
        let dense = (0..times.len()).any(|lo| {
            let end = plus(times[lo].0, hours(24));
            times[lo..]
                .iter()
                .take_while(|(t, _)| *t <= end)
                .map(|x| x.1)
                .collect::<BTreeSet<_>>()
                .len()
                >= ROAST_SERVICES
        });
        let named = svcs.iter().any(|(s, _)| flagged.contains(s));
        if !dense && !named {
            continue;
        }
        let mut targets = Vec::new();
        let mut evidence = Vec::new();
        let (mut first, mut last) = (None, None);
        let mut clients: BTreeSet<String> = BTreeSet::new();
        let mut dcs: BTreeSet<String> = BTreeSet::new();
        for (svc, agg) in &svcs {
            first = super::order::min_t(first, agg.first);
            last = super::order::max_t(last, agg.last);
            merge_top(&mut evidence, agg.evidence.clone());
            for t in &agg.tags {
                match t.strip_prefix('@') {
                    Some(dc) => {
                        dcs.insert(dc.to_string());
                    }
                    None => {
                        clients.insert(t.clone());
                    }
                }
            }
            targets.push(CredentialTarget {
                account: svc.to_string(),
                outcome: AttemptOutcome::TicketObtained,
                attempts: agg.count,
                succeeded_at: agg.first,
                evidence: agg.evidence.iter().take(3).cloned().collect(),
            });
        }
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        let source = clients.iter().next().cloned().unwrap_or_else(|| "?".into());
        let (h, _) = resolve(addr_host, &source);
        let lang = ctx.lang;
        let zone = ctx.zone;
        let names: Vec<String> = targets.iter().map(|t| t.account.clone()).collect();
        let description = tr!(
            lang,
            "Kerberoasting : {req} a demandé des tickets de service RC4 pour {} entre {} et {} ; leurs mots de passe peuvent être cassés hors ligne.",
            "Kerberoasting: {req} requested RC4 service tickets for {} between {} and {}; their passwords can be cracked offline.",
            text::list(lang, &names, 8),
            text::time(lang, zone, Some(first)),
            text::time(lang, zone, Some(last))
        );
        out.push(CredentialAttack {
            kind: CredentialAttackKind::Kerberoasting,
            source: source.clone(),
            source_host: (h != source).then_some(h),
            by_account: Some(req.to_string()),
            logged_by: dcs.into_iter().collect(),
            first,
            last,
            targets,
            description,
            evidence,
        });
    }
    out.sort_by(|a, b| (a.first, a.kind, &a.source).cmp(&(b.first, b.kind, &b.source)));
    out
}
