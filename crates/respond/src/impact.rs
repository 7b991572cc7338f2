//! What an action would break, simulated before anyone carries it out.
//!
//! There is one implementation of "which services go down when these hosts
//! are cut from the network": the crisis cell's service board
//! ([`vigie_communicate::ServiceBoard::derive`], whose input names the
//! isolated hosts). The simulation derives the board twice — as it is, and
//! with the action's hosts isolated — and reports, for every service that
//! needs one of those hosts, its status before and after and what the
//! public status page would then say.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use vigie_communicate::{BoardEntry, BoardInput, ServiceBoard, Status};
use vigie_event::Timestamp;
use vigie_lang::{tr, Lang};
use vigie_scope::names::{host_key, wildcard};
use vigie_scope::{Assets, Scope};

/// One service an action stops (or would stop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceImpact {
    /// The service's name in the assets file.
    pub service: String,
    /// Its public name, in the plan's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_name: Option<String>,
    /// Never on the public status page.
    pub internal: bool,
    /// The host is needed by every service (`services: ["*"]`).
    pub through_shared_host: bool,
    /// Status on the board now, and once the action is carried out.
    pub before: Status,
    pub after: Status,
    /// Who depends on it, from the assets file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependants: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependants_count: Option<u64>,
    /// What the public status page would say (`None` for internal services).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_page: Option<String>,
}

/// The expected impact of one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// Some service of the assets file stops (or may stop).
    pub cuts_service: bool,
    /// An account loses access (or its password).
    pub touches_account: bool,
    /// Hosts cut from the network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts_cut: Vec<String>,
    /// Services that need those hosts, in the assets file's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceImpact>,
    /// One sentence, in the plan's language.
    pub summary: String,
}

/// The board as it is (with `isolated` already cut) and with `hosts` cut as
/// well: one [`ServiceImpact`] per service that needs one of `hosts`.
pub fn isolation(
    scope: &Scope,
    assets: &Assets,
    isolated: &BTreeSet<String>,
    hosts: &[String],
    as_of: Timestamp,
    lang: Lang,
) -> Vec<ServiceImpact> {
    let before = board(scope, assets, isolated.clone(), as_of, lang);
    let mut cut = isolated.clone();
    cut.extend(hosts.iter().cloned());
    let after = board(scope, assets, cut, as_of, lang);
    let mut out = Vec::new();
    for e in &after.services {
        let Some(shared) = needs(e, hosts) else {
            continue;
        };
        let was = before.get(&e.service).map_or(Status::Unknown, |b| b.status);
        out.push(ServiceImpact {
            service: e.service.clone(),
            public_name: e
                .public_name
                .as_ref()
                .map(|t| t.get(lang == Lang::Fr).to_string()),
            internal: e.internal,
            through_shared_host: shared,
            before: was,
            after: e.status,
            dependants: e.dependants.clone(),
            dependants_count: e.dependants_count,
            status_page: (!e.internal).then(|| {
                let name = e
                    .public_name
                    .as_ref()
                    .map(|t| t.get(lang == Lang::Fr).to_string())
                    .unwrap_or_else(|| e.service.clone());
                format!("{name} : {}", e.status.label(lang))
            }),
        });
    }
    out
}

/// The service board with `isolated` cut from the network: what
/// `vigie-communicate` shows once the isolations are carried out.
pub fn board(
    scope: &Scope,
    assets: &Assets,
    isolated: BTreeSet<String>,
    as_of: Timestamp,
    lang: Lang,
) -> ServiceBoard {
    ServiceBoard::derive(
        scope,
        assets,
        &BoardInput {
            as_of,
            isolated,
            lang,
        },
    )
}

/// Whether the service needs one of `hosts`: `Some(shared)` if it does
/// (`shared` when only through a host every service needs).
fn needs(e: &BoardEntry, hosts: &[String]) -> Option<bool> {
    let mut found: Option<bool> = None;
    for bh in &e.hosts {
        let hit = hosts.iter().any(|h| same_host(&bh.name, h));
        if hit {
            found = Some(found.unwrap_or(true) && bh.shared);
        }
    }
    found
}

/// `board_name` (a scope host name, or an assets pattern such as `PC-*`)
/// designates `target`.
pub(crate) fn same_host(board_name: &str, target: &str) -> bool {
    match (host_key(board_name), host_key(target)) {
        (Some(a), Some(b)) if a == b => true,
        _ => board_name.contains(['*', '?']) && wildcard(board_name, target),
    }
}

/// The sentence for a list of stopped services.
pub(crate) fn summary_for_services(services: &[ServiceImpact], lang: Lang) -> String {
    if services.is_empty() {
        return tr!(
            lang,
            "aucun service de l'inventaire ne dépend de cette machine",
            "no service of the assets file depends on this host"
        );
    }
    let names: Vec<String> = services
        .iter()
        .map(|s| {
            let newly = !s.before.is_down() && s.after.is_down();
            match (newly, lang) {
                (true, Lang::Fr) => format!("{} (devient {})", s.service, s.after.label(lang)),
                (true, Lang::En) => format!("{} (becomes {})", s.service, s.after.label(lang)),
                (false, _) => s.service.clone(),
            }
        })
        .collect();
    tr!(
        lang,
        "arrête {} service(s) : {}",
        "stops {} service(s): {}",
        services.len(),
        names.join(", ")
    )
}
