//! The service board: every citizen service of the assets file, with its
//! hosts, its data and the people who depend on it, and a status derived
//! from the scope.
//!
//! Why derived and not typed in: in the first hours nobody knows which
//! services still work, and the scope already knows which machines are
//! compromised and which have no logs. The rule is deliberately simple, so
//! the crisis cell can check it ([`ServiceBoard::derive`]):
//!
//! * a host the service needs that is **compromised** or **isolated** (cut
//!   from the network by containment) takes the service down: all of its
//!   own hosts down is a *major outage*, some of them a *partial outage*; a
//!   host every service needs (`services: ["*"]`, a domain controller) down
//!   is a major outage of every service that relies on it;
//! * a host only *suspected* makes it *degraded*;
//! * a host without complete logs over the attack (or never seen) makes it
//!   *unknown* — never *operational*: nothing read is not "no attack";
//! * *operational* only when every host it needs is logged over the whole
//!   period and not implicated.
//!
//! *Maintenance* is never derived; the crisis cell sets it (and anything
//! else) with an [`Override`](crate::Override), which wins over the derived
//! status and is kept in the history with its author and time.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use vigie_event::Timestamp;
use vigie_lang::{glossary, tr, Lang};
use vigie_scope::names::{host_key, wildcard};
use vigie_scope::{
    AlternativeAsset, Assets, Compromise, Evidence, Host, HostAsset, LocalText, Period, Scope,
};

use crate::overrides::{Override, OverrideLog};

/// The status of a service, as residents and the crisis cell see it
/// (Statuspage/Cachet's vocabulary; terms in `vigie_lang::glossary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Operational,
    Degraded,
    PartialOutage,
    MajorOutage,
    Maintenance,
    Unknown,
}

impl Status {
    /// Every status, best first.
    pub const ALL: [Status; 6] = [
        Status::Operational,
        Status::Maintenance,
        Status::Degraded,
        Status::Unknown,
        Status::PartialOutage,
        Status::MajorOutage,
    ];

    /// The snake_case key (JSON value and glossary key).
    pub fn key(self) -> &'static str {
        match self {
            Status::Operational => "operational",
            Status::Degraded => "degraded",
            Status::PartialOutage => "partial_outage",
            Status::MajorOutage => "major_outage",
            Status::Maintenance => "maintenance",
            Status::Unknown => "unknown",
        }
    }

    /// The word for it in `lang` (from the shared glossary).
    pub fn label(self, lang: Lang) -> &'static str {
        glossary::term(lang, self.key())
    }

    /// How bad it is for residents, for "the worst status" of a page:
    /// an outage outranks not knowing, which outranks a slowdown.
    pub fn severity(self) -> u8 {
        match self {
            Status::Operational => 0,
            Status::Maintenance => 1,
            Status::Degraded => 2,
            Status::Unknown => 3,
            Status::PartialOutage => 4,
            Status::MajorOutage => 5,
        }
    }

    /// Residents cannot use the service as usual.
    pub fn is_down(self) -> bool {
        matches!(self, Status::PartialOutage | Status::MajorOutage)
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|x| x.key() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown status {s:?} (expected one of {})",
                    Status::ALL.map(|x| x.key()).join(", ")
                )
            })
    }
}

/// What the scope says about one host a service needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Compromised (strong signals).
    Compromised,
    /// Cut from the network by containment.
    Isolated,
    /// Implicated by weak signals only.
    Suspected,
    /// Seen, but its logs do not cover the whole attack period.
    IncompleteLogs,
    /// Named in the assets file, never seen in the logs.
    NoLogs,
    /// Logged over the whole period and not implicated.
    Clear,
}

impl HostState {
    fn is_down(self) -> bool {
        matches!(self, HostState::Compromised | HostState::Isolated)
    }
    fn is_blind(self) -> bool {
        matches!(self, HostState::IncompleteLogs | HostState::NoLogs)
    }
}

/// One host a service needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardHost {
    /// Host name as in the scope (or the assets pattern when never seen).
    pub name: String,
    pub role: Option<String>,
    /// Needed by every service (`services: ["*"]` in the assets file).
    pub shared: bool,
    pub state: HostState,
    /// Why (the scope's compromise reasons, or the coverage problem).
    pub reasons: Vec<String>,
    /// The scope's evidence for the state (the first few records).
    pub evidence: Vec<Evidence>,
}

/// The status Vigie derives from the scope, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    pub status: Status,
    /// One sentence, in the board's language.
    pub reason: String,
    /// Hosts behind the status.
    pub hosts: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// Who set a status: Vigie from the scope, or a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Origin {
    /// Derived from the scope.
    Scope,
    /// Set by a person of the crisis cell.
    Person { author: String },
}

/// One change of a service's status, kept forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub at: Timestamp,
    pub status: Status,
    #[serde(flatten)]
    pub origin: Origin,
    pub reason: String,
}

/// A service on the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardEntry {
    /// The service's name in the assets file (its identifier).
    pub service: String,
    pub description: Option<String>,
    pub public_name: Option<LocalText>,
    pub public_description: Option<LocalText>,
    pub group: Option<LocalText>,
    /// Never on the public page.
    pub internal: bool,
    pub dependants: Option<String>,
    pub dependants_count: Option<u64>,
    pub alternative: Option<AlternativeAsset>,
    /// Hosts it needs, its own first, then the shared ones.
    pub hosts: Vec<BoardHost>,
    /// Data stores held on its own hosts.
    pub data_stores: Vec<String>,
    /// What the scope says.
    pub derived: Derived,
    /// The status in force: the latest override, else the derived one.
    pub status: Status,
    /// The override in force, if any.
    pub overridden: Option<Override>,
    /// Every status it had, oldest first.
    pub history: Vec<StatusChange>,
}

impl BoardEntry {
    /// Since when the status in force holds.
    pub fn since(&self) -> Option<Timestamp> {
        self.history.last().map(|c| c.at)
    }
}

/// The board: every service of the assets file, in its order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceBoard {
    /// When the derived statuses were computed (the detection time or the
    /// end of the observed logs): the time of their history entries.
    pub as_of: Timestamp,
    pub lang: Lang,
    pub services: Vec<BoardEntry>,
}

/// What the board needs besides the scope and the assets file.
#[derive(Debug, Clone)]
pub struct BoardInput {
    /// Time of the derived statuses (see [`ServiceBoard::as_of`]).
    pub as_of: Timestamp,
    /// Hosts cut from the network by containment (the respond stage, or
    /// the crisis cell, knows; the scope only proposes).
    pub isolated: BTreeSet<String>,
    /// Language of the reasons.
    pub lang: Lang,
}

impl ServiceBoard {
    /// Derives the board from the scope: a pure function, so `serve` can
    /// re-derive it whenever the scope changes and re-apply the overrides.
    pub fn derive(scope: &Scope, assets: &Assets, input: &BoardInput) -> ServiceBoard {
        let lang = input.lang;
        let isolated: BTreeSet<String> =
            input.isolated.iter().filter_map(|h| host_key(h)).collect();
        let mut services = Vec::new();
        for name in service_names(assets) {
            let asset = assets.services.iter().find(|s| s.name == name);
            let hosts = service_hosts(scope, assets, &name, &isolated, lang);
            let own: Vec<&BoardHost> = hosts.iter().filter(|h| !h.shared).collect();
            let data_stores = assets
                .data_stores
                .iter()
                .filter(|d| {
                    own.iter().any(|h| {
                        host_key(&d.host).is_some_and(|k| k == h.name) || wildcard(&h.name, &d.host)
                    })
                })
                .map(|d| d.name.clone())
                .collect();
            let derived = derive_status(&hosts, lang);
            let history = vec![StatusChange {
                at: input.as_of,
                status: derived.status,
                origin: Origin::Scope,
                reason: derived.reason.clone(),
            }];
            services.push(BoardEntry {
                service: name.clone(),
                description: asset.and_then(|a| a.description.clone()),
                public_name: asset.and_then(|a| a.public_name.clone()),
                public_description: asset.and_then(|a| a.public_description.clone()),
                group: asset.and_then(|a| a.group.clone()),
                internal: asset.is_some_and(|a| a.internal),
                dependants: asset.and_then(|a| a.dependants.clone()),
                dependants_count: asset.and_then(|a| a.dependants_count),
                alternative: asset.and_then(|a| a.alternative.clone()),
                hosts,
                data_stores,
                status: derived.status,
                derived,
                overridden: None,
                history,
            });
        }
        ServiceBoard {
            as_of: input.as_of,
            lang,
            services,
        }
    }

    /// Applies the crisis cell's overrides, in time order: each one sets
    /// the status in force (or, without a status, returns the service to
    /// its derived status) and is added to the history.
    pub fn apply(&mut self, log: &OverrideLog) {
        for o in log.in_order() {
            let Some(e) = self.services.iter_mut().find(|e| e.service == o.service) else {
                continue;
            };
            let (status, overridden) = match o.status {
                Some(s) => (s, Some(o.clone())),
                None => (e.derived.status, None),
            };
            e.status = status;
            e.overridden = overridden;
            e.history.push(StatusChange {
                at: o.at,
                status,
                origin: Origin::Person {
                    author: o.author.clone(),
                },
                reason: o.reason.clone(),
            });
        }
    }

    /// The service named `name`.
    pub fn get(&self, name: &str) -> Option<&BoardEntry> {
        self.services.iter().find(|e| e.service == name)
    }

    /// The worst status in force among the services residents use.
    pub fn worst_public(&self) -> Status {
        self.services
            .iter()
            .filter(|e| !e.internal)
            .map(|e| e.status)
            .max_by_key(|s| s.severity())
            .unwrap_or(Status::Unknown)
    }
}

/// Services in the order of the assets file, then those only named by hosts.
pub fn service_names(assets: &Assets) -> Vec<String> {
    let mut names: Vec<String> = assets.services.iter().map(|s| s.name.clone()).collect();
    for h in &assets.hosts {
        for s in &h.services {
            if s != "*" && !names.contains(s) {
                names.push(s.clone());
            }
        }
    }
    names
}

fn zone_isolated(assets: &Assets, h: &HostAsset) -> bool {
    h.zone.as_deref().is_some_and(|z| {
        assets
            .zones
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(z) && x.isolated)
    })
}

/// Whether the host's logs cover the attack period (or, without one, it
/// logged anything at all) — the scope's own rule for "unaffected".
fn covered(scope: &Scope, h: &Host, period: Option<Period>) -> bool {
    match period {
        Some(p) => scope.coverage.channels.iter().any(|c| {
            c.host == h.name
                && c.first.is_some_and(|f| f <= p.first)
                && c.last.is_some_and(|l| l >= p.last)
        }),
        None => h.events > 0,
    }
}

fn service_hosts(
    scope: &Scope,
    assets: &Assets,
    service: &str,
    isolated: &BTreeSet<String>,
    lang: Lang,
) -> Vec<BoardHost> {
    let direct: Vec<&HostAsset> = assets
        .hosts
        .iter()
        .filter(|h| h.services.iter().any(|s| s == service))
        .collect();
    // The scope's rule: a service whose own hosts all sit in isolated zones
    // (the State's passport station) does not depend on the shared hosts.
    let all_isolated_zone = !direct.is_empty() && direct.iter().all(|h| zone_isolated(assets, h));
    let shared: Vec<&HostAsset> = if all_isolated_zone {
        Vec::new()
    } else {
        assets
            .hosts
            .iter()
            .filter(|h| h.services.iter().any(|s| s == "*") && !direct.contains(h))
            .collect()
    };
    let period = scope.attack_period;
    let mut out: Vec<BoardHost> = Vec::new();
    for (entries, is_shared) in [(direct, false), (shared, true)] {
        for e in entries {
            let matched: Vec<&Host> = scope
                .hosts
                .iter()
                .filter(|h| {
                    wildcard(&e.name, &h.name) || host_key(&e.name).is_some_and(|k| k == h.name)
                })
                .collect();
            if matched.is_empty() {
                if out.iter().any(|b| b.name == e.name) {
                    continue;
                }
                out.push(BoardHost {
                    name: e.name.clone(),
                    role: e.role.clone(),
                    shared: is_shared,
                    state: HostState::NoLogs,
                    reasons: vec![tr!(
                        lang,
                        "aucun journal de {} dans les données analysées",
                        "no logs from {} in the data analysed",
                        e.name
                    )],
                    evidence: Vec::new(),
                });
                continue;
            }
            for h in matched {
                if out.iter().any(|b| b.name == h.name) {
                    continue;
                }
                out.push(board_host(scope, h, is_shared, isolated, period, lang));
            }
        }
    }
    out
}

fn board_host(
    scope: &Scope,
    h: &Host,
    shared: bool,
    isolated: &BTreeSet<String>,
    period: Option<Period>,
    lang: Lang,
) -> BoardHost {
    let evidence: Vec<Evidence> = h.evidence.iter().take(3).cloned().collect();
    let (state, reasons, evidence) = if h.compromised == Compromise::Yes {
        (
            HostState::Compromised,
            h.compromise_reasons.clone(),
            evidence,
        )
    } else if isolated.contains(&h.name) {
        (
            HostState::Isolated,
            vec![tr!(
                lang,
                "isolé du réseau par le confinement",
                "cut from the network by containment"
            )],
            Vec::new(),
        )
    } else if h.compromised == Compromise::Suspected {
        (HostState::Suspected, h.compromise_reasons.clone(), evidence)
    } else if h.events == 0 {
        (
            HostState::NoLogs,
            vec![tr!(
                lang,
                "aucun journal de {} dans les données analysées",
                "no logs from {} in the data analysed",
                h.name
            )],
            Vec::new(),
        )
    } else if !covered(scope, h, period) {
        (
            HostState::IncompleteLogs,
            vec![tr!(
                lang,
                "les journaux de {} ne couvrent pas toute la période de l'attaque",
                "the logs of {} do not cover the whole attack period",
                h.name
            )],
            Vec::new(),
        )
    } else {
        (HostState::Clear, Vec::new(), Vec::new())
    };
    BoardHost {
        name: h.name.clone(),
        role: h.role.clone(),
        shared,
        state,
        reasons,
        evidence,
    }
}

fn join(names: &[&BoardHost]) -> String {
    names
        .iter()
        .map(|h| h.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn derive_status(hosts: &[BoardHost], lang: Lang) -> Derived {
    let own: Vec<&BoardHost> = hosts.iter().filter(|h| !h.shared).collect();
    let shared_down: Vec<&BoardHost> = hosts
        .iter()
        .filter(|h| h.shared && h.state.is_down())
        .collect();
    let own_down: Vec<&BoardHost> = own.iter().copied().filter(|h| h.state.is_down()).collect();
    let suspected: Vec<&BoardHost> = hosts
        .iter()
        .filter(|h| h.state == HostState::Suspected)
        .collect();
    let blind: Vec<&BoardHost> = hosts.iter().filter(|h| h.state.is_blind()).collect();
    let evidence = |v: &[&BoardHost]| -> Vec<Evidence> {
        v.iter().flat_map(|h| h.evidence.iter().cloned()).collect()
    };
    let names = |v: &[&BoardHost]| -> Vec<String> { v.iter().map(|h| h.name.clone()).collect() };
    let down_word = |v: &[&BoardHost]| -> &'static str {
        if v.iter().all(|h| h.state == HostState::Isolated) {
            lang.pick("isolés du réseau", "cut from the network")
        } else if v.iter().all(|h| h.state == HostState::Compromised) {
            lang.pick("compromis", "compromised")
        } else {
            lang.pick("compromis ou isolés", "compromised or cut from the network")
        }
    };
    if !shared_down.is_empty() {
        return Derived {
            status: Status::MajorOutage,
            reason: tr!(
                lang,
                "{} (nécessaires à tous les services) : {}",
                "{} (needed by every service): {}",
                join(&shared_down),
                down_word(&shared_down)
            ),
            hosts: names(&shared_down),
            evidence: evidence(&shared_down),
        };
    }
    if !own_down.is_empty() {
        let all = own_down.len() == own.len();
        return Derived {
            status: if all {
                Status::MajorOutage
            } else {
                Status::PartialOutage
            },
            reason: if all {
                tr!(
                    lang,
                    "tous ses serveurs et postes ({}) : {}",
                    "all of its hosts ({}): {}",
                    join(&own_down),
                    down_word(&own_down)
                )
            } else {
                tr!(
                    lang,
                    "{} de ses {} serveurs et postes ({}) : {}",
                    "{} of its {} hosts ({}): {}",
                    own_down.len(),
                    own.len(),
                    join(&own_down),
                    down_word(&own_down)
                )
            },
            hosts: names(&own_down),
            evidence: evidence(&own_down),
        };
    }
    if !suspected.is_empty() {
        return Derived {
            status: Status::Degraded,
            reason: tr!(
                lang,
                "dépend de {}, suspect(s) de compromission",
                "depends on {}, suspected of compromise",
                join(&suspected)
            ),
            hosts: names(&suspected),
            evidence: evidence(&suspected),
        };
    }
    if !blind.is_empty() {
        return Derived {
            status: Status::Unknown,
            reason: tr!(
                lang,
                "journaux absents ou incomplets pour {} : impossible de dire s'il fonctionne",
                "no complete logs for {}: cannot tell whether it works",
                join(&blind)
            ),
            hosts: names(&blind),
            evidence: Vec::new(),
        };
    }
    if hosts.is_empty() {
        return Derived {
            status: Status::Unknown,
            reason: lang
                .pick(
                    "aucun serveur ni poste ne lui est rattaché dans le fichier des actifs",
                    "no host of the assets file serves it",
                )
                .to_string(),
            hosts: Vec::new(),
            evidence: Vec::new(),
        };
    }
    let all: Vec<&BoardHost> = hosts.iter().collect();
    Derived {
        status: Status::Operational,
        reason: tr!(
            lang,
            "ses serveurs et postes ({}) sont journalisés sur toute la période et non impliqués",
            "its hosts ({}) are logged over the whole period and not implicated",
            join(&all)
        ),
        hosts: Vec::new(),
        evidence: Vec::new(),
    }
}
