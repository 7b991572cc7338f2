//! Public notices: incidents with timestamped updates for residents,
//! written from templates ("postpone non-urgent requests", "CIAS: call …",
//! "your personal data: what we know") or in free text.
//!
//! `vigie serve` will let the `communication` role write them; offline,
//! `vigie status export --updates FILE` reads them from YAML, and without
//! a file the page gets the scope-derived defaults ([`Notices::defaults`]):
//!
//! ```yaml
//! incidents:
//!   - id: cyberattaque-2026-01
//!     title: {fr: Cyberattaque, en: Cyberattack}
//!     started: 2026-01-17T08:30:00+01:00
//!     services: [social-action, pool]
//!     updates:
//!       - at: 2026-01-17T10:00:00+01:00
//!         template: postpone_non_urgent
//!       - at: 2026-01-17T10:05:00+01:00
//!         template: service_alternative
//!         service: social-action
//!       - at: 2026-01-18T09:00:00+01:00
//!         phase: monitoring
//!         text: {fr: La billetterie du centre aquatique fonctionne de nouveau., en: Ticket sales at the aquatic centre work again.}
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use vigie_event::Timestamp;
use vigie_lang::{glossary, Lang};
use vigie_scope::{LocalText, LocalTextBoth, NatureKind, Scope};

use crate::board::ServiceBoard;
use crate::FileError;

/// Where an incident stands (Statuspage's phases).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::Investigating,
        Phase::Identified,
        Phase::Monitoring,
        Phase::Resolved,
    ];

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.key() == s.trim())
    }

    pub fn key(self) -> &'static str {
        match self {
            Phase::Investigating => "investigating",
            Phase::Identified => "identified",
            Phase::Monitoring => "monitoring",
            Phase::Resolved => "resolved",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        glossary::term(lang, self.key())
    }
}

/// The templates of public updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// "Our services are hit; please postpone non-urgent requests."
    PostponeNonUrgent,
    /// "CIAS: call … (hours), or go to …" — needs `service`.
    ServiceAlternative,
    /// "Your personal data: what we know."
    PersonalData,
    /// "X works again." — needs `service`.
    ServiceRestored,
}

impl Template {
    pub const ALL: [Template; 4] = [
        Template::PostponeNonUrgent,
        Template::ServiceAlternative,
        Template::PersonalData,
        Template::ServiceRestored,
    ];

    /// The snake_case key (JSON value, form value).
    pub fn key(self) -> &'static str {
        match self {
            Template::PostponeNonUrgent => "postpone_non_urgent",
            Template::ServiceAlternative => "service_alternative",
            Template::PersonalData => "personal_data",
            Template::ServiceRestored => "service_restored",
        }
    }

    pub fn parse(s: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.key() == s.trim())
    }

    /// Whether it speaks of one service.
    pub fn needs_service(self) -> bool {
        matches!(
            self,
            Template::ServiceAlternative | Template::ServiceRestored
        )
    }

    /// What the console calls it.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Template::PostponeNonUrgent => lang.pick(
                "Reporter les démarches non urgentes",
                "Postpone non-urgent requests",
            ),
            Template::ServiceAlternative => lang.pick(
                "Un service : comment nous joindre",
                "A service: how to reach us",
            ),
            Template::PersonalData => lang.pick(
                "Vos données personnelles : ce que nous savons",
                "Your personal data: what we know",
            ),
            Template::ServiceRestored => {
                lang.pick("Un service fonctionne de nouveau", "A service works again")
            }
        }
    }
}

/// One public update of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub at: Timestamp,
    #[serde(default)]
    pub phase: Phase,
    /// A template (exclusive with `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    /// The service a template speaks of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Free text (exclusive with `template`). Published as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<LocalText>,
    /// Who wrote it (kept, never published).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// An incident as residents see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// Stable identifier (Atom ids and page anchors are built from it).
    pub id: String,
    pub title: LocalText,
    pub started: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Timestamp>,
    /// Services it affects (names from the assets file).
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub updates: Vec<Update>,
}

impl Notice {
    /// The phase of the latest update (resolved when `resolved` is set).
    pub fn phase(&self) -> Phase {
        if self.resolved.is_some() {
            return Phase::Resolved;
        }
        self.updates
            .iter()
            .max_by_key(|u| u.at)
            .map(|u| u.phase)
            .unwrap_or_default()
    }

    /// Time of the latest update (or the start).
    pub fn updated(&self) -> Timestamp {
        self.updates
            .iter()
            .map(|u| u.at)
            .chain(self.resolved)
            .max()
            .unwrap_or(self.started)
            .max(self.started)
    }
}

/// Every public notice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notices {
    #[serde(default)]
    pub incidents: Vec<Notice>,
}

impl Notices {
    /// Reads a YAML (or JSON) updates file.
    pub fn load(path: &Path) -> Result<Notices, FileError> {
        crate::read_yaml(path)
    }

    /// Problems that would make a notice wrong or empty on the page.
    pub fn problems(&self, board: &ServiceBoard) -> Vec<String> {
        let mut out = Vec::new();
        let mut ids = std::collections::BTreeSet::new();
        for n in &self.incidents {
            if n.id.trim().is_empty() {
                out.push("an incident has an empty id".to_string());
            } else if !ids.insert(n.id.as_str()) {
                out.push(format!("incident id '{}' is used twice", n.id));
            }
            for s in &n.services {
                if board.get(s).is_none() {
                    out.push(format!(
                        "incident {}: service '{s}' is not in the assets file",
                        n.id
                    ));
                }
            }
            for (i, u) in n.updates.iter().enumerate() {
                let at = format!("incident {}, update {}", n.id, i + 1);
                match (&u.template, &u.text) {
                    (Some(_), Some(_)) => out.push(format!("{at}: both template and text")),
                    (None, None) => out.push(format!("{at}: neither template nor text")),
                    _ => {}
                }
                let needs_service = matches!(
                    u.template,
                    Some(Template::ServiceAlternative | Template::ServiceRestored)
                );
                match &u.service {
                    None if needs_service => {
                        out.push(format!("{at}: this template needs a service"))
                    }
                    Some(s) if board.get(s).is_none() => {
                        out.push(format!("{at}: service '{s}' is not in the assets file"))
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// The notices a crisis cell would publish first, from the scope: one
    /// incident from `known_at`, asking residents to postpone non-urgent
    /// requests, giving the alternative of each public service that is
    /// down, and saying what is known of personal data when the scope
    /// finds personal data touched.
    pub fn defaults(scope: &Scope, board: &ServiceBoard, known_at: Timestamp) -> Notices {
        let down: Vec<&str> = board
            .services
            .iter()
            .filter(|e| !e.internal && e.status.is_down())
            .map(|e| e.service.as_str())
            .collect();
        let attacked = !scope.nature.is_empty() || !scope.incidents.is_empty();
        if down.is_empty() && !attacked {
            return Notices::default();
        }
        let cyber = scope.nature.iter().any(|n| {
            matches!(
                n.kind,
                NatureKind::Ransomware | NatureKind::DataTheft | NatureKind::CredentialTheft
            )
        });
        let title = if cyber {
            both(
                "Cyberattaque : services perturbés",
                "Cyberattack: services disrupted",
            )
        } else {
            both(
                "Incident informatique : services perturbés",
                "IT incident: services disrupted",
            )
        };
        let update = |template, service: Option<&str>| Update {
            at: known_at,
            phase: Phase::Investigating,
            template: Some(template),
            service: service.map(str::to_string),
            text: None,
            author: None,
        };
        // Shown in this order (they share a time): what to do, what we
        // know of personal data, then each service's alternative.
        let mut updates = vec![update(Template::PostponeNonUrgent, None)];
        if scope.data_exposure.iter().any(|d| d.personal_data) {
            updates.push(update(Template::PersonalData, None));
        }
        for e in &board.services {
            if !e.internal && e.status.is_down() && e.alternative.is_some() {
                updates.push(update(Template::ServiceAlternative, Some(&e.service)));
            }
        }
        Notices {
            incidents: vec![Notice {
                id: format!("incident-{}", known_at.format("%Y%m%d")),
                title,
                started: known_at,
                resolved: None,
                services: down.iter().map(|s| s.to_string()).collect(),
                updates,
            }],
        }
    }
}

fn both(fr: &str, en: &str) -> LocalText {
    LocalText::Both(LocalTextBoth {
        fr: fr.into(),
        en: Some(en.into()),
    })
}
