//! Proposals: each action of the scope's containment plan, with what it
//! would break, where it stands in the ANSSI/CERT-FR sequence, whether a
//! second person must approve it, and how to undo it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vigie_event::Timestamp;
use vigie_lang::{tr, Lang};
use vigie_scope::names::host_key;
use vigie_scope::{Action, ActionKind, Assets, Evidence, Scope};

use crate::impact::{self, same_host, Impact, ServiceImpact};
use crate::sequence::{rank_in_phase, Phase};

/// One containment action proposed to the crisis cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Stable across scope updates: derived from the kind and the target,
    /// so a refreshed plan keeps each proposal's history.
    pub id: String,
    /// Position in the plan (1 first), following the sequence.
    pub order: u32,
    pub phase: Phase,
    /// The phase, in the plan's language.
    pub phase_label: String,
    /// The guidance the phase follows.
    pub guidance: String,
    /// The scope's own priority (1 most urgent).
    pub scope_priority: u32,
    pub kind: ActionKind,
    /// Account, host, address, domain or `service on host`, as the scope
    /// names it.
    pub target: String,
    /// The host concerned, when there is one (isolation, service removal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The host's addresses from the scope and the assets file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_addresses: Vec<String>,
    /// Groups the attacker added the account to (to remove it from).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The account holds administrative rights.
    pub privileged: bool,
    /// Why, in the plan's language (the scope's reason).
    pub reason: String,
    pub evidence: Vec<Evidence>,
    pub impact: Impact,
    /// How to undo it.
    pub undo: String,
    /// Whether Vigie can undo it (a password change cannot be).
    pub reversible: bool,
    /// A second person (role `admin` or `crisis`) must approve it: it cuts
    /// a service or a host, or touches an account.
    pub four_eyes: bool,
}

/// The plan: every proposal in order, and the board once every isolation
/// is carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub lang: Lang,
    /// Time of the simulated statuses.
    pub as_of: Timestamp,
    pub proposals: Vec<Proposal>,
    /// Every service that the plan's isolations together would stop.
    pub all_isolations: Vec<ServiceImpact>,
}

/// The snake_case key of an action kind (its JSON value).
pub fn kind_key(kind: ActionKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The stable id of the proposal for `kind` on `target`.
pub fn proposal_id(kind: ActionKind, target: &str) -> String {
    let mut h = Sha256::new();
    h.update(kind_key(kind).as_bytes());
    h.update([0]);
    h.update(target.trim().to_lowercase().as_bytes());
    let d = h.finalize();
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("p-{hex}")
}

/// Whether the kind touches an account.
pub fn touches_account(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::RevokeRemoteAccess
            | ActionKind::DisableAccount
            | ActionKind::DeleteAccount
            | ActionKind::ResetPassword
            | ActionKind::ResetKrbtgt
    )
}

/// Builds the plan from the scope's containment actions: a pure function
/// (the time of the simulated statuses is an argument).
pub fn plan(scope: &Scope, assets: &Assets, as_of: Timestamp, lang: Lang) -> Plan {
    let none = BTreeSet::new();
    let mut proposals: Vec<Proposal> = scope
        .containment
        .iter()
        .map(|a| proposal(scope, assets, a, &none, as_of, lang))
        .collect();
    proposals.sort_by_key(|p| {
        (
            p.phase,
            rank_in_phase(p.kind, p.privileged),
            p.scope_priority,
        )
    });
    for (i, p) in proposals.iter_mut().enumerate() {
        p.order = i as u32 + 1;
    }
    let hosts: Vec<String> = proposals
        .iter()
        .flat_map(|p| p.impact.hosts_cut.iter().cloned())
        .collect();
    let all_isolations = impact::isolation(scope, assets, &none, &hosts, as_of, lang);
    Plan {
        lang,
        as_of,
        proposals,
        all_isolations,
    }
}

fn proposal(
    scope: &Scope,
    assets: &Assets,
    a: &Action,
    isolated: &BTreeSet<String>,
    as_of: Timestamp,
    lang: Lang,
) -> Proposal {
    let account = scope
        .accounts
        .iter()
        .find(|x| x.name.eq_ignore_ascii_case(a.target.trim()));
    let privileged = touches_account(a.kind) && account.is_some_and(|x| x.privileged)
        || a.kind == ActionKind::ResetKrbtgt;
    let groups = match a.kind {
        ActionKind::DisableAccount | ActionKind::DeleteAccount => account
            .map(|x| x.added_to_groups.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let host = match a.kind {
        ActionKind::IsolateHost | ActionKind::CollectLogs => Some(a.target.clone()),
        ActionKind::RemoveService => a.evidence.iter().find_map(|e| e.host.clone()),
        // Blocking an address of one of our own hosts cuts that host.
        ActionKind::BlockAddress => own_host_of_address(scope, assets, &a.target),
        _ => None,
    };
    let host_addresses = host
        .as_deref()
        .map(|h| addresses(scope, assets, h))
        .unwrap_or_default();
    let backup_host = a.kind == ActionKind::IsolateHost
        && host
            .as_deref()
            .is_some_and(|h| role(scope, assets, h).as_deref() == Some("backup_server"));
    let phase = Phase::of(a.kind, backup_host);
    let cuts_host = matches!(a.kind, ActionKind::IsolateHost | ActionKind::BlockAddress);
    let hosts_cut: Vec<String> = if cuts_host {
        host.iter().cloned().collect()
    } else {
        Vec::new()
    };
    let services = if hosts_cut.is_empty() {
        Vec::new()
    } else {
        impact::isolation(scope, assets, isolated, &hosts_cut, as_of, lang)
    };
    let touches = touches_account(a.kind);
    let summary = if !hosts_cut.is_empty() {
        impact::summary_for_services(&services, lang)
    } else {
        account_summary(a.kind, &a.target, lang)
    };
    let reversible = !matches!(a.kind, ActionKind::ResetPassword | ActionKind::ResetKrbtgt);
    let four_eyes = touches || !hosts_cut.is_empty() || !services.is_empty();
    Proposal {
        id: proposal_id(a.kind, &a.target),
        order: 0,
        phase,
        phase_label: phase.label(lang),
        guidance: phase.guidance().to_string(),
        scope_priority: a.priority,
        kind: a.kind,
        target: a.target.clone(),
        host,
        host_addresses,
        groups,
        privileged,
        reason: a.reason.clone(),
        evidence: a.evidence.clone(),
        impact: Impact {
            cuts_service: !services.is_empty(),
            touches_account: touches,
            hosts_cut,
            services,
            summary,
        },
        undo: a.undo.clone(),
        reversible,
        four_eyes,
    }
}

fn account_summary(kind: ActionKind, target: &str, lang: Lang) -> String {
    match kind {
        ActionKind::RevokeRemoteAccess => tr!(
            lang,
            "{target} ne peut plus se connecter à distance (VPN) ; ses tunnels ouverts sont fermés",
            "{target} can no longer connect remotely (VPN); its open tunnels are closed"
        ),
        ActionKind::DisableAccount | ActionKind::DeleteAccount => tr!(
            lang,
            "{target} ne peut plus ouvrir de session ; ce qui tourne sous ce compte s'arrête à la prochaine authentification",
            "{target} can no longer log on; whatever runs under this account stops at its next authentication"
        ),
        ActionKind::ResetPassword => tr!(
            lang,
            "l'ancien mot de passe de {target} ne fonctionne plus : mettre à jour ce qui l'utilise",
            "{target}'s old password stops working: update whatever uses it"
        ),
        ActionKind::ResetKrbtgt => tr!(
            lang,
            "tous les tickets Kerberos deviennent invalides après la seconde réinitialisation : reconnexions, services à redémarrer",
            "every Kerberos ticket becomes invalid after the second reset: logons again, services to restart"
        ),
        ActionKind::BlockAddress | ActionKind::BlockDomain => tr!(
            lang,
            "les connexions vers et depuis {target} sont bloquées au pare-feu",
            "connections to and from {target} are blocked at the firewall"
        ),
        ActionKind::RemoveService => tr!(
            lang,
            "le service {target} est arrêté et désactivé",
            "the service {target} is stopped and disabled"
        ),
        ActionKind::IsolateHost | ActionKind::CollectLogs => tr!(
            lang,
            "aucun service coupé",
            "no service cut"
        ),
    }
}

/// Addresses of a host: the scope's, then the assets file's.
fn addresses(scope: &Scope, assets: &Assets, host: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let key = host_key(host);
    for h in &scope.hosts {
        if key.as_deref() == Some(h.name.as_str()) {
            out.extend(h.addresses.iter().cloned());
        }
    }
    for h in &assets.hosts {
        if same_host(&h.name, host) {
            for a in &h.addresses {
                if !out.contains(a) {
                    out.push(a.clone());
                }
            }
        }
    }
    out
}

fn role(scope: &Scope, assets: &Assets, host: &str) -> Option<String> {
    let key = host_key(host);
    scope
        .hosts
        .iter()
        .find(|h| key.as_deref() == Some(h.name.as_str()))
        .and_then(|h| h.role.clone())
        .or_else(|| {
            assets
                .hosts
                .iter()
                .find(|h| same_host(&h.name, host))
                .and_then(|h| h.role.clone())
        })
}

fn own_host_of_address(scope: &Scope, assets: &Assets, addr: &str) -> Option<String> {
    let addr = addr.trim();
    scope
        .hosts
        .iter()
        .find(|h| h.addresses.iter().any(|a| a == addr))
        .map(|h| h.name.clone())
        .or_else(|| {
            assets
                .hosts
                .iter()
                .find(|h| h.addresses.iter().any(|a| a == addr))
                .map(|h| h.name.clone())
        })
}
