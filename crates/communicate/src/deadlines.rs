//! The legal clock of a cyber incident in France, from the moment it was
//! known: CNIL within 72 hours (GDPR Art. 33), the complaint within 72
//! hours for the cyber-insurance to pay (Code des assurances, L.12-10-1),
//! NIS2 early warning within 24 hours, incident notification within 72
//! hours and final report one month after it (directive (EU) 2022/2555,
//! Art. 23, and its French transposition), and the persons concerned
//! "without undue delay" when the risk is high (GDPR Art. 34).
//!
//! Why it matters: these clocks run from when the organisation *became
//! aware*, not from when it was ready, and in the Pays Fouesnantais'
//! case they ran while the crisis cell was still without e-mail. The
//! board is a pure function of the scope, the assets file, the detection
//! time and "now", so the drafts' headers and the console show the same.

use chrono::{Duration, Months};
use serde::{Deserialize, Serialize};
use vigie_event::Timestamp;
use vigie_lang::{tr, Lang};
use vigie_scope::{Assets, Compromise, Nis2Status, Scope};

/// Where the detection time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnownAtSource {
    /// Given by a person (`--known-at`): when the organisation knew.
    Explicit,
    /// The scope's first malicious signal: the earliest the organisation
    /// *could* have known; to be confirmed (the legal clocks run from
    /// when it actually became aware).
    FirstSignal,
}

/// When the incident was known, and how we know that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownAt {
    pub time: Timestamp,
    pub source: KnownAtSource,
}

impl KnownAt {
    /// An explicit time.
    pub fn explicit(time: Timestamp) -> KnownAt {
        KnownAt {
            time,
            source: KnownAtSource::Explicit,
        }
    }

    /// The scope's first malicious time: the earliest of the attack
    /// period's start, the entry point (a VPN login before any detection)
    /// and the first malicious time of any host or account.
    pub fn from_scope(scope: &Scope) -> Option<KnownAt> {
        let t = scope
            .attack_period
            .map(|p| p.first)
            .into_iter()
            .chain(scope.entry_point.as_ref().and_then(|e| e.time))
            .chain(scope.hosts.iter().filter_map(|h| h.first_malicious))
            .chain(scope.accounts.iter().filter_map(|a| a.first_malicious))
            .min()?;
        Some(KnownAt {
            time: t,
            source: KnownAtSource::FirstSignal,
        })
    }

    /// The explicit time if given, else the scope's.
    pub fn resolve(explicit: Option<Timestamp>, scope: &Scope) -> Option<KnownAt> {
        explicit
            .map(KnownAt::explicit)
            .or_else(|| Self::from_scope(scope))
    }

    /// Whether a person has to confirm it.
    pub fn to_confirm(&self) -> bool {
        self.source != KnownAtSource::Explicit
    }
}

/// The obligations with a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// NIS2 early warning to the national authority, 24 h.
    Nis2EarlyWarning,
    /// GDPR Art. 33 notification to the CNIL, 72 h.
    CnilNotification,
    /// Complaint to police or gendarmerie, 72 h, condition of the
    /// cyber-insurance's payment (Code des assurances L.12-10-1).
    InsuranceComplaint,
    /// NIS2 incident notification, 72 h.
    Nis2Notification,
    /// NIS2 final report, one month after the incident notification.
    Nis2FinalReport,
    /// GDPR Art. 34 information of the persons concerned, without undue
    /// delay when the risk to them is high (no fixed clock).
    PersonsInformation,
}

impl DeadlineKind {
    /// What is due, in words.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            DeadlineKind::Nis2EarlyWarning => {
                lang.pick("Alerte précoce NIS2 (ANSSI)", "NIS2 early warning (ANSSI)")
            }
            DeadlineKind::CnilNotification => lang.pick(
                "Notification de la violation de données à la CNIL",
                "Personal data breach notification to the CNIL",
            ),
            DeadlineKind::InsuranceComplaint => lang.pick(
                "Dépôt de plainte (condition de l'indemnisation par l'assurance cyber)",
                "Complaint to the police (condition of the cyber-insurance payment)",
            ),
            DeadlineKind::Nis2Notification => lang.pick(
                "Notification d'incident NIS2 (ANSSI)",
                "NIS2 incident notification (ANSSI)",
            ),
            DeadlineKind::Nis2FinalReport => {
                lang.pick("Rapport final NIS2 (ANSSI)", "NIS2 final report (ANSSI)")
            }
            DeadlineKind::PersonsInformation => lang.pick(
                "Information des personnes concernées",
                "Informing the persons concerned",
            ),
        }
    }

    /// The legal basis.
    pub fn basis(self, lang: Lang) -> &'static str {
        match self {
            DeadlineKind::Nis2EarlyWarning => lang.pick(
                "directive (UE) 2022/2555, art. 23 § 4 a) et sa transposition",
                "Directive (EU) 2022/2555, Art. 23(4)(a) and its transposition",
            ),
            DeadlineKind::CnilNotification => lang.pick("RGPD, art. 33", "GDPR, Art. 33"),
            DeadlineKind::InsuranceComplaint => lang.pick(
                "Code des assurances, art. L.12-10-1",
                "French Insurance Code, Art. L.12-10-1",
            ),
            DeadlineKind::Nis2Notification => lang.pick(
                "directive (UE) 2022/2555, art. 23 § 4 b)",
                "Directive (EU) 2022/2555, Art. 23(4)(b)",
            ),
            DeadlineKind::Nis2FinalReport => lang.pick(
                "directive (UE) 2022/2555, art. 23 § 4 d)",
                "Directive (EU) 2022/2555, Art. 23(4)(d)",
            ),
            DeadlineKind::PersonsInformation => lang.pick("RGPD, art. 34", "GDPR, Art. 34"),
        }
    }

    /// The clock, in words.
    pub fn delay(self, lang: Lang) -> &'static str {
        match self {
            DeadlineKind::Nis2EarlyWarning => lang.pick("24 heures", "24 hours"),
            DeadlineKind::CnilNotification
            | DeadlineKind::InsuranceComplaint
            | DeadlineKind::Nis2Notification => lang.pick("72 heures", "72 hours"),
            DeadlineKind::Nis2FinalReport => lang.pick(
                "un mois après la notification d'incident",
                "one month after the incident notification",
            ),
            DeadlineKind::PersonsInformation => lang.pick(
                "dans les meilleurs délais si le risque est élevé",
                "without undue delay if the risk is high",
            ),
        }
    }
}

/// Whether an obligation applies to this incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Applies {
    Yes,
    /// Depends on facts Vigie does not know (or only suspects).
    ToConfirm,
    No,
}

/// One deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    /// When it is due (none for "without undue delay").
    pub due: Option<Timestamp>,
    pub applies: Applies,
    /// Why it applies or not, in words.
    pub why: String,
    /// Seconds left at `now` (negative: overdue).
    pub remaining_secs: Option<i64>,
}

impl Deadline {
    pub fn overdue(&self) -> bool {
        self.remaining_secs.is_some_and(|s| s < 0)
    }
}

/// The deadlines board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deadlines {
    pub known_at: KnownAt,
    pub now: Timestamp,
    /// By due time; the one without a clock last.
    pub items: Vec<Deadline>,
}

impl Deadlines {
    /// Every deadline from `known_at`, as it stands at `now`.
    pub fn compute(
        scope: &Scope,
        assets: &Assets,
        known_at: KnownAt,
        now: Timestamp,
        lang: Lang,
    ) -> Deadlines {
        let k = known_at.time;
        let h = Duration::hours;
        let details = &assets.organisation_details;
        let nis2 = match details.nis2 {
            Nis2Status::Essential => (
                Applies::Yes,
                lang.pick(
                    "entité essentielle selon le fichier des actifs",
                    "essential entity according to the assets file",
                ),
            ),
            Nis2Status::Important => (
                Applies::Yes,
                lang.pick(
                    "entité importante selon le fichier des actifs",
                    "important entity according to the assets file",
                ),
            ),
            Nis2Status::NotCovered => (
                Applies::No,
                lang.pick(
                    "non assujettie à NIS2 selon le fichier des actifs",
                    "not covered by NIS2 according to the assets file",
                ),
            ),
            Nis2Status::Unknown => (
                Applies::ToConfirm,
                lang.pick(
                    "assujettissement à NIS2 non renseigné : à confirmer (incident important ?)",
                    "whether NIS2 applies is not stated: to be confirmed (significant incident?)",
                ),
            ),
        };
        let cnil = cnil_applies(scope, assets, lang);
        let insured = !details.insurer.is_empty() || details.insurance_policy.is_some();
        let complaint = if insured {
            (
                Applies::Yes,
                lang.pick(
                    "assurance cyber déclarée dans le fichier des actifs",
                    "cyber-insurance stated in the assets file",
                )
                .to_string(),
            )
        } else {
            (
                Applies::ToConfirm,
                lang.pick(
                    "si la collectivité a une assurance couvrant les cyberattaques ; la plainte reste recommandée",
                    "if the organisation has insurance covering cyberattacks; a complaint is advisable anyway",
                )
                .to_string(),
            )
        };
        let persons = match cnil.0 {
            Applies::Yes if high_risk(scope, assets) => (
                Applies::Yes,
                lang.pick(
                    "données sensibles (santé, situation sociale, NIR…) probablement sorties : risque élevé probable",
                    "sensitive data (health, social situation, NIR…) probably left: a high risk is likely",
                )
                .to_string(),
            ),
            _ => (
                Applies::ToConfirm,
                lang.pick(
                    "si la violation présente un risque élevé pour les personnes",
                    "if the breach is likely to result in a high risk to the persons",
                )
                .to_string(),
            ),
        };
        let final_due = (k + h(72)).checked_add_months(Months::new(1));
        let mut items = vec![
            (
                DeadlineKind::Nis2EarlyWarning,
                Some(k + h(24)),
                nis2.0,
                nis2.1.to_string(),
            ),
            (DeadlineKind::CnilNotification, Some(k + h(72)), cnil.0, cnil.1),
            (
                DeadlineKind::InsuranceComplaint,
                Some(k + h(72)),
                complaint.0,
                complaint.1,
            ),
            (
                DeadlineKind::Nis2Notification,
                Some(k + h(72)),
                nis2.0,
                nis2.1.to_string(),
            ),
            (
                DeadlineKind::Nis2FinalReport,
                final_due,
                nis2.0,
                tr!(
                    lang,
                    "{} ; au plus tard un mois après la notification d'incident (date calculée pour une notification faite à 72 h)",
                    "{}; at the latest one month after the incident notification (computed for a notification made at 72 h)",
                    nis2.1
                ),
            ),
            (DeadlineKind::PersonsInformation, None, persons.0, persons.1),
        ]
        .into_iter()
        .map(|(kind, due, applies, why)| Deadline {
            kind,
            due,
            applies,
            why,
            remaining_secs: due.map(|d| (d - now).num_seconds()),
        })
        .collect::<Vec<_>>();
        items.sort_by_key(|d| (d.due.is_none(), d.due));
        Deadlines {
            known_at,
            now,
            items,
        }
    }

    /// The deadline of `kind`.
    pub fn get(&self, kind: DeadlineKind) -> Option<&Deadline> {
        self.items.iter().find(|d| d.kind == kind)
    }
}

/// Whether personal data is involved: data that probably left, or a store
/// of personal data on a compromised host (encryption is a breach of
/// availability, notifiable too).
fn cnil_applies(scope: &Scope, assets: &Assets, lang: Lang) -> (Applies, String) {
    let left: Vec<&str> = scope
        .data_exposure
        .iter()
        .filter(|e| e.personal_data)
        .filter_map(|e| e.store.as_deref())
        .collect();
    if !left.is_empty() {
        let mut v: Vec<&str> = left;
        v.sort();
        v.dedup();
        return (
            Applies::Yes,
            tr!(
                lang,
                "données personnelles touchées par l'attaquant : {}",
                "personal data touched by the attacker: {}",
                v.join(", ")
            ),
        );
    }
    let on_compromised: Vec<&str> = assets
        .data_stores
        .iter()
        .filter(|d| d.personal_data)
        .filter(|d| {
            let key = vigie_scope::names::host_key(&d.host);
            scope
                .hosts
                .iter()
                .any(|h| Some(&h.name) == key.as_ref() && h.compromised == Compromise::Yes)
        })
        .map(|d| d.name.as_str())
        .collect();
    if !on_compromised.is_empty() {
        return (
            Applies::Yes,
            tr!(
                lang,
                "données personnelles sur des serveurs compromis (au moins une violation de disponibilité) : {}",
                "personal data on compromised servers (at least a breach of availability): {}",
                on_compromised.join(", ")
            ),
        );
    }
    (
        Applies::ToConfirm,
        lang.pick(
            "aucune donnée personnelle touchée selon les journaux analysés : à confirmer",
            "no personal data touched according to the logs analysed: to be confirmed",
        )
        .to_string(),
    )
}

/// Sensitive data (GDPR Art. 9/10, NIR, social situation) probably left.
pub(crate) fn high_risk(scope: &Scope, assets: &Assets) -> bool {
    scope
        .data_exposure
        .iter()
        .filter(|e| e.personal_data && e.probable_exfiltration)
        .filter_map(|e| e.store.as_deref())
        .filter_map(|s| assets.data_stores.iter().find(|d| d.name == s))
        .any(|d| {
            d.sensitivity == vigie_scope::Sensitivity::SpecialCategory
                || d.data_categories.iter().any(|c| {
                    c.is_sensitive()
                        || matches!(
                            c,
                            vigie_scope::DataCategory::Nir
                                | vigie_scope::DataCategory::Social
                                | vigie_scope::DataCategory::EconomicFinancial
                        )
                })
        })
}

/// `remaining` seconds as "12 h 30 min" / "3 j 4 h".
pub fn duration_words(lang: Lang, secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    match (d, h) {
        (0, 0) => tr!(lang, "{m} min", "{m} min"),
        (0, _) => tr!(lang, "{h} h {m:02} min", "{h} h {m:02} min"),
        _ => tr!(lang, "{d} j {h} h", "{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_words(Lang::Fr, 45 * 60), "45 min");
        assert_eq!(duration_words(Lang::Fr, 12 * 3600 + 5 * 60), "12 h 05 min");
        assert_eq!(
            duration_words(Lang::En, -(3 * 86_400 + 4 * 3600)),
            "3 d 4 h"
        );
    }
}
