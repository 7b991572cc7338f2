//! Which hosts and accounts are compromised (`yes`), suspected, or not,
//! and why: signals on them, malicious links into them, mass deployment,
//! accounts created by the attacker, passwords found by a spray, service
//! tickets stolen by Kerberoasting, the entry point.

use std::collections::{BTreeMap, BTreeSet};

use vigie_detect::Level;
use vigie_event::Timestamp;
use vigie_lang::{tr, Lang, Zone};

use super::links::{strong_method, L};
use super::order::lvl_rank;
use super::signals::Signals;
use super::time::{hours, minus, plus};
use crate::model::*;
use crate::observer::{push_top_ref, AccountAcc, SvcRaw, TaskRaw};
use crate::text;

/// Hosts on which one task or service name must appear to be a mass deployment.
const MASS_HOSTS: usize = 3;
/// Reasons kept per entity.
const REASONS: usize = 8;

type Level2 = (Compromise, Vec<String>);

/// Compromise levels and their reasons.
#[derive(Default)]
pub(crate) struct Comp {
    pub hosts: BTreeMap<String, Level2>,
    pub accts: BTreeMap<String, Level2>,
    /// Evidence of mass deployment per host.
    pub mass_ev: BTreeMap<String, Vec<Evidence>>,
    /// Accounts created or made privileged by the attacker: (account,
    /// reason, evidence), for the natures and the action plan.
    pub backdoors: Vec<(String, String, Evidence)>,
}

fn entry<'a>(m: &'a mut BTreeMap<String, Level2>, k: &str) -> &'a mut Level2 {
    if !m.contains_key(k) {
        m.insert(k.to_string(), (Compromise::No, Vec::new()));
    }
    m.get_mut(k).expect("inserted above")
}

/// Raises `e` to `c` for reason `why`, keeping at most [`REASONS`]
/// distinct reasons, the one that set the level first. `why` is built only
/// when it can change something (a busy host has thousands of signals).
fn raise_in(e: &mut Level2, c: Compromise, why: impl FnOnce() -> String) {
    if c <= e.0 && e.1.len() >= REASONS {
        return;
    }
    let why = why();
    if e.1.contains(&why) {
        return;
    }
    if c > e.0 {
        e.0 = c;
        e.1.insert(0, why);
        e.1.truncate(REASONS);
    } else if e.1.len() < REASONS {
        e.1.push(why);
    }
}

impl Comp {
    pub fn raise_host(&mut self, k: &str, c: Compromise, why: impl FnOnce() -> String) {
        raise_in(entry(&mut self.hosts, k), c, why);
    }
    pub fn raise_acct(&mut self, k: &str, c: Compromise, why: impl FnOnce() -> String) {
        raise_in(entry(&mut self.accts, k), c, why);
    }
    pub fn host(&self, k: &str) -> Compromise {
        self.hosts.get(k).map_or(Compromise::No, |x| x.0)
    }
    pub fn acct(&self, k: &str) -> Compromise {
        self.accts.get(k).map_or(Compromise::No, |x| x.0)
    }
}

/// Signals: high or critical make an entity compromised, medium suspected.
pub(crate) fn from_signals(comp: &mut Comp, sig: &Signals, lang: Lang, zone: Zone) {
    let level_of = |d: &crate::observer::Det| {
        if lvl_rank(d.rule.level) >= lvl_rank(Some(Level::High)) {
            Compromise::Yes
        } else {
            Compromise::Suspected
        }
    };
    // Key by key, each in signal order: the outcome for a key depends only
    // on the sequence of its own reasons.
    let mut hosts: Vec<(&String, &Vec<usize>)> = sig.by_host.iter().collect();
    hosts.sort();
    for (h, idx) in hosts {
        let e = entry(&mut comp.hosts, h);
        for &i in idx {
            let d = &sig.list[i];
            raise_in(e, level_of(d), || {
                format!(
                    "{} ({}) {} {}",
                    d.rule.title,
                    text::level(lang, d.rule.level),
                    lang.pick("le", "at"),
                    text::time(lang, zone, d.time)
                )
            });
        }
    }
    let mut accts: Vec<(&String, &Vec<usize>)> = sig.by_acct.iter().collect();
    accts.sort();
    for (a, idx) in accts {
        let e = entry(&mut comp.accts, a);
        for &i in idx {
            let d = &sig.list[i];
            raise_in(e, level_of(d), || {
                tr!(
                    lang,
                    "{} ({}) sur {} le {}",
                    "{} ({}) on {} at {}",
                    d.rule.title,
                    text::level(lang, d.rule.level),
                    d.host,
                    text::time(lang, zone, d.time)
                )
            });
        }
    }
}

/// Malicious links: a session or execution on the target makes it
/// compromised; a network logon or admin-share access, suspected.
pub(crate) fn from_links(comp: &mut Comp, links: &[&L], lang: Lang, zone: Zone) {
    for l in links {
        let strong = strong_method(l.method);
        let why = tr!(
            lang,
            "{} depuis {} avec le compte {} le {}",
            "{} from {} as {} at {}",
            text::method(lang, l.method),
            l.from,
            l.account.as_deref().unwrap_or("?"),
            text::time(lang, zone, Some(l.first))
        );
        let c = if strong {
            Compromise::Yes
        } else {
            Compromise::Suspected
        };
        if l.to.parse::<std::net::IpAddr>().is_err() {
            comp.raise_host(&l.to, c, || why.clone());
        }
        // The source of a movement is in the attacker's hands too (it ran
        // the PsExec, held the credentials): an internal host by name.
        if l.from_kind == AddressKind::Internal && l.from.parse::<std::net::IpAddr>().is_err() {
            let c = if strong || l.method == LinkMethod::ExplicitCreds {
                Compromise::Yes
            } else {
                Compromise::Suspected
            };
            comp.raise_host(&l.from, c, || {
                tr!(
                    lang,
                    "source de {} vers {} avec le compte {} le {}",
                    "source of {} to {} as {} at {}",
                    text::method(lang, l.method),
                    l.to,
                    l.account.as_deref().unwrap_or("?"),
                    text::time(lang, zone, Some(l.first))
                )
            });
        }
        if let Some(a) = &l.account {
            let c = if strong || l.method == LinkMethod::ExplicitCreds {
                Compromise::Yes
            } else {
                Compromise::Suspected
            };
            comp.raise_acct(a, c, || {
                tr!(
                    lang,
                    "utilisé pour {why} vers {}",
                    "used for {why} to {}",
                    l.to
                )
            });
        }
    }
}

/// Mass deployment: the same scheduled task or service created on
/// [`MASS_HOSTS`] hosts or more during the attack (GPO task, PsExec loop)
/// is how ransomware reaches "everything": each such host is compromised.
pub(crate) fn mass_deployment(
    comp: &mut Comp,
    tasks: &[TaskRaw],
    services: &[SvcRaw],
    in_attack: &dyn Fn(Option<Timestamp>) -> bool,
    lang: Lang,
) {
    let mut by_name: BTreeMap<(bool, String), Vec<(&str, &Evidence)>> = BTreeMap::new();
    for t in tasks.iter().filter(|t| in_attack(t.time)) {
        by_name
            .entry((true, t.name.to_lowercase()))
            .or_default()
            .push((&t.host, &t.evidence));
    }
    for sv in services.iter().filter(|s| in_attack(s.time)) {
        by_name
            .entry((false, sv.name.to_lowercase()))
            .or_default()
            .push((&sv.host, &sv.evidence));
    }
    for ((task, name), uses) in &by_name {
        let hosts: BTreeSet<&str> = uses.iter().map(|u| u.0).collect();
        if hosts.len() < MASS_HOSTS {
            continue;
        }
        let what = match (task, lang) {
            (true, Lang::Fr) => "tâche planifiée",
            (true, Lang::En) => "scheduled task",
            (false, _) => "service",
        };
        for (h, ev) in uses {
            comp.raise_host(h, Compromise::Yes, || {
                tr!(
                    lang,
                    "{what} {name} créé(e) sur {} postes ou serveurs pendant l'attaque (déploiement de masse)",
                    "{what} {name} created on {} hosts during the attack (mass deployment)",
                    hosts.len()
                )
            });
            push_top_ref(comp.mass_ev.entry(h.to_string()).or_default(), ev);
        }
    }
}

/// Accounts created or made privileged during the attack. Created by an
/// account while that account was acting for the attacker (a signal or a
/// malicious link of it within the hour), or made privileged, or used by
/// the attack itself: a backdoor (`yes`). Created by someone else, or by
/// the same technician at another time of the week (a new member of
/// staff): to check (`suspected`).
pub(crate) fn accounts(
    comp: &mut Comp,
    raw: &[(String, AccountAcc)],
    sig: &Signals,
    mal_links: &[&L],
    in_attack: &dyn Fn(Option<Timestamp>) -> bool,
    lang: Lang,
) {
    // Was `acct` acting for the attacker around `t`?
    let acting = |acct: &str, t: Option<Timestamp>| -> bool {
        let Some(t) = t else { return false };
        let (lo, hi) = (minus(t, hours(1)), plus(t, hours(1)));
        let near = |x: Timestamp| x >= lo && x <= hi;
        sig.by_acct
            .get(acct)
            .is_some_and(|idx| idx.iter().any(|&i| sig.list[i].time.is_some_and(near)))
            || mal_links.iter().any(|l| {
                // Occurrences, not the aggregate's span: a week of logons
                // is not "acting" at every moment of the week.
                let m = crate::observer::minute(t);
                l.account.as_deref() == Some(acct) && l.minutes.iter().any(|x| (x - m).abs() <= 60)
            })
    };
    for (name, a) in raw {
        let priv_add = a
            .groups
            .iter()
            .find(|(g, evs)| evs.iter().any(|e| in_attack(e.time)) && privileged_group(g))
            .map(|(g, _)| g.clone());
        let Some(created) = a.created.iter().find(|e| in_attack(e.time)) else {
            if let Some(g) = priv_add {
                comp.raise_acct(name, Compromise::Suspected, || {
                    tr!(
                        lang,
                        "ajouté à {g} pendant l'attaque",
                        "added to {g} during the attack"
                    )
                });
            }
            continue;
        };
        let by_attacker: Vec<&String> = a
            .created_by
            .iter()
            .filter(|c| comp.acct(c) == Compromise::Yes && acting(c, created.time))
            .collect();
        let used = comp.acct(name) == Compromise::Yes;
        let summary = crate::say::render(lang, &created.summary);
        if priv_add.is_some() || used || !by_attacker.is_empty() {
            let why = match by_attacker.first() {
                Some(c) => tr!(
                    lang,
                    "créé pendant l'attaque par le compte compromis {c} (porte dérobée) : {summary}",
                    "created during the attack by compromised account {c} (backdoor): {summary}"
                ),
                None => tr!(
                    lang,
                    "créé pendant l'attaque (porte dérobée) : {summary}",
                    "created during the attack (backdoor): {summary}"
                ),
            };
            comp.raise_acct(name, Compromise::Yes, || why.clone());
            comp.backdoors.push((name.clone(), why, created.clone()));
        } else {
            comp.raise_acct(name, Compromise::Suspected, || {
                tr!(
                    lang,
                    "créé pendant l'attaque, à vérifier : {summary}",
                    "created during the attack, to check: {summary}"
                )
            });
        }
        if let Some(g) = priv_add {
            comp.raise_acct(name, Compromise::Suspected, || {
                tr!(
                    lang,
                    "ajouté à {g} pendant l'attaque",
                    "added to {g} during the attack"
                )
            });
        }
    }
}

/// Credential attacks: an account whose password a spray or brute force
/// found is compromised; a Kerberoasted service account is suspected
/// (its ticket can be cracked offline: reset its password).
pub(crate) fn credentials(comp: &mut Comp, attacks: &[CredentialAttack], lang: Lang, zone: Zone) {
    for a in attacks {
        for t in &a.targets {
            match t.outcome {
                AttemptOutcome::Succeeded => comp.raise_acct(&t.account, Compromise::Yes, || {
                    tr!(
                        lang,
                        "mot de passe trouvé par {} depuis {} le {}",
                        "password found by {} from {} at {}",
                        attack_words(lang, a.kind),
                        a.source,
                        text::time(lang, zone, t.succeeded_at)
                    )
                }),
                AttemptOutcome::TicketObtained => {
                    comp.raise_acct(&t.account, Compromise::Suspected, || {
                        tr!(
                            lang,
                            "ticket de service RC4 obtenu par {} (Kerberoasting) le {} : mot de passe exposé à un cassage hors ligne",
                            "RC4 service ticket obtained by {} (Kerberoasting) at {}: password exposed to offline cracking",
                            a.by_account.as_deref().unwrap_or("?"),
                            text::time(lang, zone, t.succeeded_at)
                        )
                    })
                }
                AttemptOutcome::Failed => {}
            }
        }
        if a.kind == CredentialAttackKind::Kerberoasting {
            if let Some(by) = &a.by_account {
                comp.raise_acct(by, Compromise::Suspected, || {
                    tr!(
                        lang,
                        "a demandé des tickets de service RC4 pour {} comptes (Kerberoasting)",
                        "requested RC4 service tickets for {} accounts (Kerberoasting)",
                        a.targets.len()
                    )
                });
            }
        }
    }
}

/// A credential attack in words.
pub(crate) fn attack_words(lang: Lang, k: CredentialAttackKind) -> &'static str {
    match k {
        CredentialAttackKind::PasswordSpray => {
            lang.pick("pulvérisation de mots de passe", "password spray")
        }
        CredentialAttackKind::BruteForce => lang.pick("force brute", "brute force"),
        CredentialAttackKind::Kerberoasting => "Kerberoasting",
    }
}

/// A group that grants administrative rights.
pub(crate) fn privileged_group(g: &str) -> bool {
    let l = g.to_lowercase();
    l.contains("admin")
        || l.contains("opérateurs de sauvegarde")
        || l.contains("backup operators")
        || l.contains("account operators")
        || l.contains("opérateurs de compte")
}
