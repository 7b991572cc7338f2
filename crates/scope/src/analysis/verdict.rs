//! The verdict: attack, suspicious, nothing found with gaps, or nothing
//! found — with what was analysed and what was not.
//!
//! "Nothing found" is an all-clear only when the logs could have shown an
//! attack: events were read, rules ran, a domain controller's Security log
//! and process creations are there, and nothing was cleared, lost or left
//! unread. Otherwise the scope says what is missing, so that nobody
//! mistakes "nothing seen" for "nothing happened".

use std::collections::BTreeSet;

use vigie_lang::tr;

use super::Ctx;
use crate::model::*;
use crate::text;

/// What the verdict needs.
pub(crate) struct Input<'a> {
    pub events: u64,
    pub observed: Option<Period>,
    pub hosts: &'a [Host],
    pub coverage: &'a Coverage,
    pub incidents: &'a [Incident],
    /// Natures of the main incident.
    pub natures: &'a [Nature],
    /// Process creations seen.
    pub proc_events: u64,
    pub run: &'a RunInfo,
    /// Hosts reached that sent no logs.
    pub unlogged: &'a [String],
    /// Hosts of the assets file (named, not patterns) never seen.
    pub assets_unseen: &'a [String],
    pub signals: u64,
}

/// Do these natures (one incident's) establish an attack? A nature of high
/// confidence (several independent pieces agree), two natures of at least
/// medium confidence, or one of medium confidence on a critical rule.
pub(crate) fn established_attack(natures: &[Nature]) -> bool {
    let medium: Vec<&Nature> = natures
        .iter()
        .filter(|n| n.confidence >= Confidence::Medium)
        .collect();
    natures.iter().any(|n| n.confidence == Confidence::High)
        || medium.len() >= 2
        || medium.iter().any(|n| {
            n.evidence
                .iter()
                .any(|e| e.level == Some(vigie_detect::Level::Critical))
        })
}

pub(crate) fn assess(inp: &Input, ctx: &Ctx) -> Assessment {
    let lang = ctx.lang;
    let zone = ctx.zone;
    let mut analysed = Vec::new();
    let mut gaps = Vec::new();
    // --- what was analysed --------------------------------------------------
    let logged: Vec<String> = inp
        .hosts
        .iter()
        .filter(|h| h.events > 0)
        .map(|h| h.name.clone())
        .collect();
    let channels: BTreeSet<&str> = inp
        .coverage
        .channels
        .iter()
        .map(|c| c.channel.as_str())
        .collect();
    analysed.push(tr!(
        lang,
        "{} de {} ({}), {} : {}",
        "{} from {} ({}), {}: {}",
        text::count(
            lang,
            inp.events as usize,
            ("événement", "événements"),
            ("event", "events")
        ),
        text::count(
            lang,
            logged.len(),
            ("poste ou serveur", "postes ou serveurs"),
            ("host", "hosts")
        ),
        text::list(lang, &logged, 8),
        text::count(
            lang,
            channels.len(),
            ("journal", "journaux"),
            ("log channel", "log channels")
        ),
        text::list(
            lang,
            &channels.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            6
        )
    ));
    if let Some(p) = inp.observed {
        analysed.push(tr!(
            lang,
            "période : {} – {} ({})",
            "period: {} – {} ({})",
            text::time(lang, zone, Some(p.first)),
            text::time(lang, zone, Some(p.last)),
            text::span(lang, p.last.signed_duration_since(p.first))
        ));
    }
    match inp.run.rules {
        Some(n) => {
            let sets = if inp.run.rule_sets.is_empty() {
                String::new()
            } else {
                format!(" ({})", inp.run.rule_sets.join(", "))
            };
            analysed.push(tr!(
                lang,
                "{}{sets}, plus les comportements reconnus par Vigie (journal effacé, restauration empêchée, copie de LSASS, demandes de rançon)",
                "{}{sets}, plus the behaviours Vigie recognises itself (cleared log, recovery inhibited, LSASS dump, ransom notes)",
                text::count(lang, n as usize, ("règle", "règles"), ("rule", "rules"))
            ));
            if n == 0 {
                gaps.push(
                    lang.pick(
                        "aucune règle de détection n'a été exécutée",
                        "no detection rule was run",
                    )
                    .to_string(),
                );
            }
        }
        None => analysed.push(
            lang.pick(
                "les détections fournies, plus les comportements reconnus par Vigie",
                "the detections given, plus the behaviours Vigie recognises itself",
            )
            .to_string(),
        ),
    }
    let dcs: Vec<&Host> = inp
        .hosts
        .iter()
        .filter(|h| h.role.as_deref() == Some("domain_controller"))
        .collect();
    let dc_logged: Vec<String> = dcs
        .iter()
        .filter(|h| {
            inp.coverage
                .channels
                .iter()
                .any(|c| c.host == h.name && c.channel.eq_ignore_ascii_case("Security"))
        })
        .map(|h| h.name.clone())
        .collect();
    if !dc_logged.is_empty() {
        analysed.push(tr!(
            lang,
            "journal Security de contrôleur(s) de domaine : {}",
            "Security log of domain controller(s): {}",
            text::list(lang, &dc_logged, 6)
        ));
    }
    // --- what was not --------------------------------------------------------
    if inp.events == 0 {
        gaps.push(
            lang.pick("aucun événement n'a été lu", "no event was read")
                .to_string(),
        );
    }
    if inp.events > 0 && dc_logged.is_empty() {
        gaps.push(
            lang.pick(
                "aucun journal Security d'un contrôleur de domaine (ouvertures de session, tickets Kerberos et comptes de tout le domaine)",
                "no Security log from any domain controller (logons, Kerberos tickets and accounts of the whole domain)",
            )
            .to_string(),
        );
    }
    if inp.events > 0 && !channels.iter().any(|c| c.eq_ignore_ascii_case("Security")) {
        gaps.push(
            lang.pick("aucun journal Security", "no Security log")
                .to_string(),
        );
    }
    if inp.events > 0 && inp.proc_events == 0 {
        gaps.push(
            lang.pick(
                "aucune création de processus (Sysmon 1 ou Security 4688) : ce qui a été exécuté n'est pas visible",
                "no process creation (Sysmon 1 or Security 4688): what ran is not visible",
            )
            .to_string(),
        );
    }
    // Syslog of hosts other than firewalls (Linux servers over rsyslog):
    // the default rules are for Windows logs and FortiGate; a brute force
    // over sshd, a new root account or a stopped auditd raise nothing
    // unless Linux rules were given. Said, so that "0 detections" there is
    // never read as an all-clear.
    let syslog_hosts: Vec<String> = inp
        .coverage
        .channels
        .iter()
        .filter(|c| c.channel.eq_ignore_ascii_case("syslog"))
        .filter(|c| {
            !inp.hosts
                .iter()
                .any(|h| h.name == c.host && h.role.as_deref() == Some("firewall"))
        })
        .map(|c| c.host.clone())
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    if !syslog_hosts.is_empty() {
        gaps.push(tr!(
            lang,
            "syslog de {} : les règles par défaut de Vigie visent les journaux Windows et les pare-feu FortiGate ; sur un syslog Linux ne s'appliquent que les règles données par --rules (SigmaHQ rules/linux/builtin : sshd, useradd, sudo, auditd…) — 0 détection n'y est pas un feu vert",
            "syslog of {}: Vigie's default rules watch Windows logs and FortiGate firewalls; on Linux syslog only rules given with --rules apply (SigmaHQ rules/linux/builtin: sshd, useradd, sudo, auditd…) — 0 detections there is no all-clear",
            text::list(lang, &syslog_hosts, 6)
        ));
    }
    let cleared: Vec<String> = inp
        .coverage
        .channels
        .iter()
        .filter(|c| !c.cleared.is_empty())
        .map(|c| format!("{} {}", c.host, c.channel))
        .collect();
    if !cleared.is_empty() {
        gaps.push(tr!(
            lang,
            "journaux effacés : {}",
            "logs cleared: {}",
            text::list(lang, &cleared, 6)
        ));
    }
    let with_gaps: Vec<String> = inp
        .coverage
        .channels
        .iter()
        .filter(|c| !c.record_gaps.is_empty())
        .map(|c| format!("{} {}", c.host, c.channel))
        .collect();
    if !with_gaps.is_empty() {
        gaps.push(tr!(
            lang,
            "enregistrements manquants (trous de numéros) dans {} : {}",
            "records missing (record-id gaps) in {}: {}",
            text::count(
                lang,
                with_gaps.len(),
                ("journal", "journaux"),
                ("log", "logs")
            ),
            text::list(lang, &with_gaps, 4)
        ));
    }
    if !inp.unlogged.is_empty() {
        gaps.push(tr!(
            lang,
            "postes ou serveurs atteints sans aucun journal : {}",
            "hosts reached that sent no logs: {}",
            text::list(lang, inp.unlogged, 6)
        ));
    }
    if !inp.assets_unseen.is_empty() {
        gaps.push(tr!(
            lang,
            "postes ou serveurs du fichier des actifs sans aucun journal : {}",
            "hosts of the assets file with no logs: {}",
            text::list(lang, inp.assets_unseen, 6)
        ));
    }
    if let Some(n) = inp.run.files_not_fully_read.filter(|n| *n > 0) {
        gaps.push(tr!(
            lang,
            "{} non lus ou lus en partie",
            "{} not read or only partly read",
            text::count(lang, n as usize, ("fichier", "fichiers"), ("file", "files"))
        ));
    }
    if let Some(n) = inp.run.records_skipped.filter(|n| *n > 0) {
        gaps.push(tr!(
            lang,
            "{} illisibles ignorés",
            "{} unreadable and skipped",
            text::count(
                lang,
                n as usize,
                ("enregistrement", "enregistrements"),
                ("record", "records")
            )
        ));
    }
    let untimed = inp
        .coverage
        .channels
        .iter()
        .filter(|c| c.first.is_none())
        .count();
    if untimed > 0 {
        gaps.push(tr!(
            lang,
            "{} sans date",
            "{} without timestamps",
            text::count(
                lang,
                untimed,
                ("journal", "journaux"),
                ("log channel", "log channels")
            )
        ));
    }
    // --- verdict -----------------------------------------------------------------
    let mut reasons = Vec::new();
    // An attack: several independent pieces agree — a nature of high
    // confidence, or two natures of at least medium confidence. One strong
    // piece alone (a cleared log, one high rule) is suspicious: it must be
    // looked at, it does not tell an attack by itself.
    let established = inp
        .natures
        .iter()
        .filter(|n| n.confidence >= Confidence::Medium)
        .collect::<Vec<_>>();
    let attack = established_attack(inp.natures);
    let verdict = if let Some(main) = inp.incidents.first() {
        if attack {
            let labels: Vec<String> = established
                .iter()
                .map(|n| format!("{} ({})", n.label, text::confidence(lang, n.confidence)))
                .collect();
            reasons.push(tr!(
                lang,
                "{} : {}",
                "{}: {}",
                main.id,
                text::list(lang, &labels, 4)
            ));
            Verdict::Attack
        } else {
            let what = match established.first() {
                Some(n) => tr!(
                    lang,
                    "{} : {} ({}), sur une seule preuve forte : à examiner, pas établi comme une attaque",
                    "{}: {} ({}), on one strong piece of evidence: to look into, not established as an attack",
                    main.id,
                    n.label,
                    text::confidence(lang, n.confidence)
                ),
                None => tr!(
                    lang,
                    "{} signal(s) de niveau moyen ou plus, en {}, mais aucune nature d'attaque établie (preuves trop faibles ou isolées)",
                    "{} signal(s) of medium level or above, in {}, but no nature of attack established (evidence too weak or isolated)",
                    inp.signals,
                    text::count(lang, inp.incidents.len(), ("incident", "incidents"), ("incident", "incidents"))
                ),
            };
            reasons.push(what);
            Verdict::Suspicious
        }
    } else {
        reasons.push(
            lang.pick(
                "aucune détection de niveau moyen ou plus et aucun comportement d'attaque reconnu",
                "no detection of medium level or above and no attack behaviour recognised",
            )
            .to_string(),
        );
        if gaps.is_empty() {
            Verdict::NothingFound
        } else {
            reasons.push(
                lang.pick(
                    "ce n'est pas une absence d'attaque : les journaux ne couvrent pas tout (voir ce qui n'a pas été analysé)",
                    "this is not an all-clear: the logs do not cover everything (see what was not analysed)",
                )
                .to_string(),
            );
            Verdict::NothingFoundWithGaps
        }
    };
    Assessment {
        verdict,
        reasons,
        analysed,
        not_analysed: gaps,
    }
}
