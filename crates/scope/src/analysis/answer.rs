//! Plain-words answers for the crisis cell, built from the scope's own
//! facts (nothing here is inferred that the structured scope does not
//! hold), in the scope's language.
//!
//! One answer: the headline speaks of the main incident (`INC-1`), its
//! start is the attack period's first time and the main incident's, and
//! the other sentences never contradict it (data theft is named only with
//! its evidence, and the data sentence says what that evidence is).

use vigie_lang::{tr, Zone};

use super::actions::verb;
use crate::model::*;
use crate::text;

pub(crate) fn answer(s: &Scope, zone: Zone) -> Answer {
    let lang = s.lang;
    let main = s.incidents.first();
    let nature = match s.nature.first() {
        None => match s.assessment.verdict {
            Verdict::Suspicious => lang
                .pick(
                    "Activité suspecte, sans nature d'attaque établie.",
                    "Suspicious activity, with no nature of attack established.",
                )
                .to_string(),
            _ => lang
                .pick(
                    "Aucune activité malveillante dans les journaux lus.",
                    "No malicious activity was found in the logs read.",
                )
                .to_string(),
        },
        Some(n) => {
            let others: Vec<String> = s
                .nature
                .iter()
                .skip(1)
                .take(4)
                .map(|n| format!("{} ({})", n.label, text::confidence(lang, n.confidence)))
                .collect();
            if others.is_empty() {
                tr!(
                    lang,
                    "Il s'agit de : {} ({} ; {}).",
                    "This looks like {} ({}; {}).",
                    n.label,
                    text::confidence(lang, n.confidence),
                    n.confidence_reason
                )
            } else {
                tr!(
                    lang,
                    "Il s'agit de : {} ({} ; {}), avec {}.",
                    "This looks like {} ({}; {}), with {}.",
                    n.label,
                    text::confidence(lang, n.confidence),
                    n.confidence_reason,
                    text::join(lang, &others)
                )
            }
        }
    };
    let entry = match &s.entry_point {
        None => lang
            .pick(
                "Le point d'entrée n'est pas dans les journaux.",
                "The entry point is not in the logs.",
            )
            .to_string(),
        Some(e) => tr!(
            lang,
            "Entrée : {} ({}).",
            "Entry: {} ({}).",
            e.description,
            text::confidence(lang, e.confidence)
        ),
    };
    let names = |c: Compromise, filter: &dyn Fn(&Host) -> bool| -> Vec<String> {
        s.hosts
            .iter()
            .filter(|h| h.compromised == c && filter(h))
            .map(|h| h.name.clone())
            .collect()
    };
    let in_main = |h: &Host| main.is_some_and(|m| h.incidents.first() == Some(&m.id));
    let hosts_yes = names(Compromise::Yes, &|_| true);
    let hosts_sus = names(Compromise::Suspected, &|_| true);
    let main_yes = names(Compromise::Yes, &in_main);
    let accts: Vec<String> = s
        .accounts
        .iter()
        .filter(|a| a.compromised == Compromise::Yes)
        .map(|a| a.name.clone())
        .collect();
    let accts_check: Vec<String> = s
        .accounts
        .iter()
        .filter(|a| a.compromised == Compromise::Suspected)
        .map(|a| a.name.clone())
        .collect();
    let unlogged: Vec<String> = s
        .hosts
        .iter()
        .filter(|h| h.events == 0 && h.compromised != Compromise::No)
        .map(|h| h.name.clone())
        .collect();
    let extent = if hosts_yes.is_empty() && hosts_sus.is_empty() {
        lang.pick(
            "Aucun poste ou serveur n'est impliqué.",
            "No host is implicated.",
        )
        .to_string()
    } else {
        let mut x = tr!(
            lang,
            "Postes et serveurs compromis : {}",
            "Compromised hosts: {}",
            if hosts_yes.is_empty() {
                lang.pick("aucun confirmé", "none confirmed").to_string()
            } else {
                text::list(lang, &hosts_yes, 12)
            }
        );
        if !hosts_sus.is_empty() {
            x.push_str(&tr!(
                lang,
                " ; suspects : {}",
                "; suspected: {}",
                text::list(lang, &hosts_sus, 8)
            ));
        }
        if !accts.is_empty() {
            x.push_str(&tr!(
                lang,
                " ; comptes : {}",
                "; accounts: {}",
                text::list(lang, &accts, 10)
            ));
        }
        if !accts_check.is_empty() {
            x.push_str(&tr!(
                lang,
                " ; comptes à vérifier : {}",
                "; accounts to check: {}",
                text::list(lang, &accts_check, 6)
            ));
        }
        if !unlogged.is_empty() {
            x.push_str(&tr!(
                lang,
                " ; atteints sans aucun journal (à collecter) : {}",
                "; reached but sent no logs (collect them): {}",
                text::list(lang, &unlogged, 6)
            ));
        }
        x.push('.');
        x
    };
    let isolated_systems = if s.zones.is_empty() {
        lang.pick(
            "Aucune zone critique ou isolée n'est décrite (pas de fichier des actifs, ou aucune zone marquée).",
            "No critical or isolated zone is described (no assets file or none marked).",
        )
        .to_string()
    } else {
        s.zones
            .iter()
            .map(|z| tr!(lang, "{} : {}", "{}: {}", z.zone, z.reason))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let exf: Vec<&DataExposure> = s
        .data_exposure
        .iter()
        .filter(|d| d.probable_exfiltration)
        .collect();
    let theft = s.nature.iter().find(|n| n.kind == NatureKind::DataTheft);
    let data_exposure = if !exf.is_empty() {
        let mut stores: Vec<String> = exf.iter().filter_map(|d| d.store.clone()).collect();
        stores.sort();
        stores.dedup();
        let personal = exf.iter().any(|d| d.personal_data);
        let bytes: u64 = exf.iter().filter_map(|d| d.bytes_out).sum();
        let what = if stores.is_empty() {
            let mut hosts: Vec<String> = exf.iter().filter_map(|d| d.host.clone()).collect();
            hosts.sort();
            hosts.dedup();
            tr!(
                lang,
                "des données de {}",
                "data from {}",
                text::list(lang, &hosts, 5)
            )
        } else {
            text::list(lang, &stores, 6)
        };
        let gb = if bytes > 0 {
            tr!(
                lang,
                " (~{:.1} Go sortis)",
                " (~{:.1} GB out)",
                bytes as f64 / 1e9
            )
        } else {
            String::new()
        };
        let gdpr = if personal {
            lang.pick(
                " ; elles comprennent des données personnelles (RGPD : notifier la CNIL sous 72 h)",
                "; it includes personal data (GDPR: notify the CNIL within 72 h)",
            )
        } else {
            ""
        };
        tr!(
            lang,
            "Des données sont probablement sorties : {what}{gb}{gdpr}.",
            "Data probably left: {what}{gb}{gdpr}."
        )
    } else if let Some(n) = theft {
        tr!(
            lang,
            "{} ({}) : {}. Aucun envoi de données n'est établi par les journaux au-delà de ces éléments.",
            "{} ({}): {}. No data transfer is established by the logs beyond this evidence.",
            text::capitalise(&n.label),
            text::confidence(lang, n.confidence),
            text::list(lang, &n.reasons, 3)
        )
    } else if let Some(d) = s.data_exposure.first() {
        tr!(
            lang,
            "Des données ont été manipulées ({}), sans signe qu'elles soient sorties.",
            "Data was handled ({}), with no sign that it left.",
            d.description
        )
    } else {
        lang.pick(
            "Aucune archive, aucun envoi ni gros transfert de données n'a été vu.",
            "No archive, upload or large transfer of data was seen.",
        )
        .to_string()
    };
    let isolate_now: Vec<String> = s
        .containment
        .iter()
        .take(6)
        .map(|a| format!("{} {} — {}", verb(lang, a.kind), a.target, a.reason))
        .collect();
    let headline = headline(s, &main_yes, &exf, theft, zone);
    Answer {
        headline,
        nature,
        entry,
        extent,
        isolated_systems,
        data_exposure,
        isolate_now,
    }
}

fn headline(
    s: &Scope,
    main_yes: &[String],
    exf: &[&DataExposure],
    theft: Option<&Nature>,
    zone: Zone,
) -> String {
    let lang = s.lang;
    let a = &s.assessment;
    let others = s.incidents.len().saturating_sub(1);
    let others_sentence = match s.incidents.first() {
        Some(main) if others > 0 => others_sentence(lang, main, &s.incidents[1..]),
        _ => String::new(),
    };
    match a.verdict {
        Verdict::Attack | Verdict::Suspicious => {
            let Some(inc) = s.incidents.first() else {
                return String::new();
            };
            let what = match (a.verdict, s.nature.first()) {
                (Verdict::Attack, Some(n)) => tr!(
                    lang,
                    "{} ({})",
                    "{} ({})",
                    text::capitalise(&n.label),
                    text::confidence(lang, n.confidence)
                ),
                (_, Some(n)) => tr!(
                    lang,
                    "Activité suspecte, pas établie comme une attaque : {} ({})",
                    "Suspicious activity, not established as an attack: {} ({})",
                    n.label,
                    text::confidence(lang, n.confidence)
                ),
                _ => lang
                    .pick(
                        "Activité suspecte, pas établie comme une attaque",
                        "Suspicious activity, not established as an attack",
                    )
                    .to_string(),
            };
            let how = s
                .entry_point
                .as_ref()
                .map(|e| vigie_lang::glossary::term(lang, &e.method).to_string())
                .unwrap_or_default();
            let start = tr!(
                lang,
                " Début : {} ({how}).",
                " Started {} ({how}).",
                text::time(lang, zone, Some(inc.first))
            );
            let stolen =
                if !exf.is_empty() || theft.is_some_and(|n| n.confidence >= Confidence::Medium) {
                    lang.pick(", données probablement volées", ", data probably stolen")
                } else {
                    ""
                };
            let hosts = if a.verdict == Verdict::Attack {
                tr!(
                    lang,
                    " {} compromis dans {}{stolen}.",
                    " {} compromised in {}{stolen}.",
                    text::count(
                        lang,
                        main_yes.len(),
                        ("poste ou serveur", "postes ou serveurs"),
                        ("host", "hosts")
                    ),
                    inc.id
                )
            } else {
                let names: Vec<String> = inc.hosts.iter().map(|h| h.name.clone()).collect();
                tr!(
                    lang,
                    " À examiner dans {} : {}.",
                    " To look into in {}: {}.",
                    inc.id,
                    text::list(lang, &names, 6)
                )
            };
            let zones: Vec<String> = s
                .zones
                .iter()
                .map(|z| {
                    tr!(
                        lang,
                        "Zone {} : {}.",
                        "Zone {}: {}.",
                        z.zone,
                        vigie_lang::glossary::term(lang, zone_key(z.status))
                    )
                })
                .collect();
            let zones = if zones.is_empty() {
                String::new()
            } else {
                format!(" {}", zones.join(" "))
            };
            format!("{what}.{start}{hosts}{zones}{others_sentence}")
                .trim()
                .to_string()
        }
        Verdict::NothingFoundWithGaps => {
            let gaps: Vec<String> = a.not_analysed.iter().take(2).cloned().collect();
            tr!(
                lang,
                "Aucune attaque trouvée dans ce qui a été lu, mais ce n'est pas une absence d'attaque : {}.",
                "No attack found in what was read, but this is not an all-clear: {}.",
                text::join(lang, &gaps)
            )
        }
        Verdict::NothingFound => lang
            .pick(
                "Aucune attaque trouvée dans ces journaux.",
                "No attack found in these logs.",
            )
            .to_string(),
    }
}

/// The glossary key of a zone status.
pub(crate) fn zone_key(z: ZoneReach) -> &'static str {
    match z {
        ZoneReach::Reached => "reached",
        ZoneReach::NotReached => "not_reached",
        ZoneReach::Unknown => "unknown",
    }
}

impl Scope {
    /// A short plain-language summary for the terminal, in the scope's
    /// language: the verdict and headline, then the answers, the first
    /// actions, what was not analysed, and the logs.
    pub fn summary_text(&self) -> String {
        let lang = self.lang;
        let a = &self.answer;
        let mut out = String::new();
        out.push_str(&a.headline);
        out.push('\n');
        let attack = matches!(
            self.assessment.verdict,
            Verdict::Attack | Verdict::Suspicious
        );
        if attack {
            for line in [&a.entry, &a.extent, &a.data_exposure, &a.isolated_systems] {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            if !self.containment.is_empty() {
                out.push_str(lang.pick("  Agir maintenant : ", "  Act now: "));
                // Verb and target only: the reasons are in the report.
                let acts: Vec<String> = self
                    .containment
                    .iter()
                    .take(5)
                    .map(|c| format!("{} {}", verb(lang, c.kind), c.target))
                    .collect();
                out.push_str(&acts.join(lang.pick(" ; ", "; ")));
                out.push('\n');
            }
        } else if !self.zones.is_empty() {
            out.push_str("  ");
            out.push_str(&a.isolated_systems);
            out.push('\n');
        }
        if !self.assessment.not_analysed.is_empty() {
            out.push_str(lang.pick("  Non analysé : ", "  Not analysed: "));
            out.push_str(&self.assessment.not_analysed.join(lang.pick(" ; ", "; ")));
            out.push('\n');
        }
        let cleared: usize = self.coverage.channels.iter().map(|c| c.cleared.len()).sum();
        let gaps: usize = self
            .coverage
            .channels
            .iter()
            .filter(|c| !c.record_gaps.is_empty())
            .count();
        out.push_str(&tr!(
            lang,
            "  Journaux : {} couple(s) poste/journal, {} avec des trous de numéros d'enregistrement, {} effacement(s) de journal.",
            "  Logs: {} host/channel pair(s), {} with record-id gaps, {} cleared-log event(s).",
            self.coverage.channels.len(),
            gaps,
            cleared
        ));
        out
    }
}

/// What the headline says of the incidents beside the main one.
///
/// Why it is computed, not assumed: incidents are the parts of the link
/// graph, and logs that are missing (a domain controller not collected)
/// can cut one intrusion into parts that share hosts, accounts and days.
/// Each other incident is judged on its own — what it shares with the
/// main one (hosts, accounts, outside addresses) and whether its period
/// overlaps — so no claim pools one incident's evidence with another's;
/// "unrelated" is said only of those that share nothing. Any nature the
/// main incident lacks is named (a ransomware seen in a part of its own
/// must reach the headline, not hide in INC-2).
fn others_sentence(lang: vigie_lang::Lang, main: &Incident, others: &[Incident]) -> String {
    let key = |n: &str| n.to_ascii_lowercase();
    // The main incident's entities, by key, with its spelling.
    let main_names: std::collections::BTreeMap<String, String> = main
        .hosts
        .iter()
        .chain(&main.accounts)
        .map(|e| e.name.as_str())
        .chain(main.addresses.iter().map(String::as_str))
        .map(|n| (key(n), n.to_string()))
        .collect();
    let mut other_hosts = std::collections::BTreeSet::new();
    let mut natures: Vec<String> = Vec::new();
    // Sharing entities and overlapping in time: their ids and what they share.
    let mut same: Vec<&str> = Vec::new();
    let mut same_shared: Vec<String> = Vec::new();
    let (mut shared_only, mut overlap_only, mut unrelated) = (0usize, 0usize, 0usize);
    for i in others {
        other_hosts.extend(i.hosts.iter().map(|h| key(&h.name)));
        let shared: Vec<&String> = i
            .hosts
            .iter()
            .chain(&i.accounts)
            .map(|e| e.name.as_str())
            .chain(i.addresses.iter().map(String::as_str))
            .filter_map(|n| main_names.get(&key(n)))
            .collect();
        let overlap = i.first <= main.last && main.first <= i.last;
        match (shared.is_empty(), overlap) {
            (false, true) => {
                same.push(&i.id);
                for n in shared {
                    if !same_shared.contains(n) {
                        same_shared.push(n.clone());
                    }
                }
            }
            (false, false) => shared_only += 1,
            (true, true) => overlap_only += 1,
            (true, false) => unrelated += 1,
        }
        for n in &i.nature_detail {
            let said = format!("{} ({})", n.label, text::confidence(lang, n.confidence));
            if !main.nature.contains(&n.kind) && !natures.contains(&said) {
                natures.push(said);
            }
        }
    }
    let count = text::count(
        lang,
        others.len(),
        ("autre incident", "autres incidents"),
        ("other incident", "other incidents"),
    );
    let hosts = text::count(
        lang,
        other_hosts.len(),
        ("poste ou serveur", "postes ou serveurs"),
        ("host", "hosts"),
    );
    if unrelated == others.len() && natures.is_empty() {
        return tr!(
            lang,
            " {count} sans lien avec lui (ni entités ni période communes) concerne(nt) {hosts} : voir INC-2 et suivants.",
            " {count} unrelated to it (no shared entity or period) involve(s) {hosts}: see INC-2 onwards."
        );
    }
    let natures = if natures.is_empty() {
        String::new()
    } else {
        format!(" — {} —", text::list(lang, &natures, 3))
    };
    let mut parts: Vec<String> = Vec::new();
    if !same.is_empty() {
        let ids: Vec<String> = same.iter().map(|s| s.to_string()).collect();
        parts.push(tr!(
            lang,
            "{} partage(nt) avec lui {} en même temps que lui — peut-être la même intrusion, vue en morceaux (journaux manquants ?)",
            "{} share(s) {} with it at the same time — possibly the same intrusion seen in parts (missing logs?)",
            text::list(lang, &ids, 4),
            text::list(lang, &same_shared, 6)
        ));
    }
    if shared_only > 0 {
        parts.push(tr!(
            lang,
            "{shared_only} partage(nt) des postes, comptes ou adresses avec lui à d'autres moments",
            "{shared_only} share(s) hosts, accounts or addresses with it at other times"
        ));
    }
    if overlap_only > 0 {
        parts.push(tr!(
            lang,
            "{overlap_only} a (ont) lieu en même temps, sans entité commune",
            "{overlap_only} happen(s) at the same time, with no shared entity"
        ));
    }
    if unrelated > 0 {
        parts.push(tr!(
            lang,
            "{unrelated} sans lien avec lui (ni entités ni période communes)",
            "{unrelated} unrelated to it (no shared entity or period)"
        ));
    }
    tr!(
        lang,
        " {count}{natures} concerne(nt) {hosts} : {} ; voir INC-2 et suivants.",
        " {count}{natures} involve(s) {hosts}: {}; see INC-2 onwards.",
        parts.join(lang.pick(" ; ", "; "))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_lang::Lang;

    fn incident(
        hosts: &[&str],
        accounts: &[&str],
        first: &str,
        last: &str,
        nature: &str,
    ) -> Incident {
        let entity = |n: &&str| serde_json::json!({ "name": n, "first": first, "last": last, "detections": 1 });
        serde_json::from_value(serde_json::json!({
            "id": "INC-0", "severity": "critical", "nature": [nature], "first": first, "last": last,
            "hosts": hosts.iter().map(entity).collect::<Vec<_>>(),
            "accounts": accounts.iter().map(entity).collect::<Vec<_>>(),
            "addresses": [], "detections": 10, "progression": [], "tactics": [], "entry_point": null,
            "links": [], "services_affected": [],
            "nature_detail": [{ "kind": nature, "label": nature.replace('_', " "), "confidence": "high",
                                "reasons": [], "evidence": [] }],
        }))
        .expect("an incident")
    }

    #[test]
    fn an_incident_sharing_hosts_and_days_is_never_called_unrelated() {
        // One intrusion cut in two by missing logs: the ransomware part
        // shares the servers, an account and the days of the main part.
        let main = incident(
            &["SRV-RDS01", "DC01", "SRV-FIC01"],
            &["presta.maint"],
            "2026-01-10T01:11:00Z",
            "2026-01-16T22:32:00Z",
            "data_theft",
        );
        let part = incident(
            &["srv-rds01", "SRV-FIC01"],
            &["presta.maint"],
            "2026-01-10T01:14:00Z",
            "2026-01-17T00:04:00Z",
            "ransomware",
        );
        for lang in [Lang::En, Lang::Fr] {
            let said = others_sentence(lang, &main, std::slice::from_ref(&part));
            assert!(
                !said.contains("unrelated") && !said.contains("sans lien"),
                "{said}"
            );
            assert!(
                said.contains("ransomware"),
                "the other part's nature reaches the headline: {said}"
            );
            // Named as the main incident names them, the part by its id.
            assert!(
                said.contains("SRV-RDS01") && said.contains("presta.maint"),
                "{said}"
            );
            assert!(said.contains("INC-0"), "{said}");
        }
        let en = others_sentence(Lang::En, &main, std::slice::from_ref(&part));
        assert!(
            en.contains("at the same time — possibly the same intrusion"),
            "{en}"
        );
        // One part shares an account years before, another only overlaps:
        // neither is called the same intrusion (claims are per incident).
        let before = incident(
            &["PC-OLD"],
            &["presta.maint"],
            "2023-01-01T00:00:00Z",
            "2023-01-02T00:00:00Z",
            "data_theft",
        );
        let during = incident(
            &["PC-OTHER"],
            &["someone"],
            "2026-01-12T00:00:00Z",
            "2026-01-12T01:00:00Z",
            "data_theft",
        );
        let en = others_sentence(Lang::En, &main, &[before, during]);
        assert!(!en.contains("same intrusion"), "{en}");
        assert!(
            en.contains("1 share(s) hosts, accounts or addresses with it at other times"),
            "{en}"
        );
        assert!(
            en.contains("1 happen(s) at the same time, with no shared entity"),
            "{en}"
        );
        // The attacker's outside address alone relates two incidents.
        let mut by_address = incident(
            &["PC-X"],
            &["x"],
            "2025-01-01T00:00:00Z",
            "2025-01-01T01:00:00Z",
            "data_theft",
        );
        by_address.addresses = vec!["203.0.113.45".into()];
        let mut main_vpn = main.clone();
        main_vpn.addresses = vec!["203.0.113.45".into()];
        let en = others_sentence(Lang::En, &main_vpn, &[by_address]);
        assert!(!en.contains("unrelated"), "{en}");
        // Another place, another week, the same nature: unrelated, said so.
        let apart = incident(
            &["WORKSTATION5"],
            &["wardog"],
            "2020-09-20T10:00:00Z",
            "2020-09-20T11:00:00Z",
            "data_theft",
        );
        let said = others_sentence(Lang::En, &main, &[apart]);
        assert!(
            said.contains("1 other incident unrelated to it (no shared entity or period)"),
            "{said}"
        );
    }
}
