//! The order containment is carried out in, after ANSSI and CERT-FR.
//!
//! Why an order at all: under stress the plan is followed top to bottom,
//! and some steps only make sense after others. Vigie's reading of the
//! French guidance (cited in [`Phase::guidance`] and `docs/respond.md`):
//!
//! 1. **Perimeter** — cut the attacker's ways in first: the VPN or remote
//!    access account it used, then the addresses and domains it talks to
//!    (CERT-FR, fiche réflexe CERTFR-2024-RFX-001 « Qualification d'un
//!    rançongiciel » and ANSSI, « Cyberattaques et remédiation » : the
//!    containment phase starts by cutting external access and
//!    interconnections).
//! 2. **Backups** — protect the backups before anything else on the inside:
//!    a ransomware operator goes for them to force the ransom (same guides:
//!    « protéger les sauvegardes », take them off the network).
//! 3. **Accounts** — neutralise the accounts the attacker holds, privileged
//!    ones first, and the Kerberos key (krbtgt) last, twice, with the
//!    replication wait in between (Microsoft, « AD Forest Recovery —
//!    Resetting the krbtgt password »).
//! 4. **Hosts** — isolate the compromised hosts from the network **without
//!    powering them off**: memory holds evidence (CERT-FR fiche réflexe
//!    CERTFR-2024-RFX-005 « Qualification d'une compromission système »;
//!    Cybermalveillance.gouv.fr, « n'éteignez pas l'appareil »), then remove
//!    what the attacker installed.
//! 5. **Investigate** — collect what is missing (logs of hosts the attacker
//!    reached that sent none).

use serde::{Deserialize, Serialize};
use vigie_lang::{tr, Lang};
use vigie_scope::ActionKind;

/// A phase of the containment sequence, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Perimeter,
    Backups,
    Accounts,
    Hosts,
    Investigate,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 5] = [
        Phase::Perimeter,
        Phase::Backups,
        Phase::Accounts,
        Phase::Hosts,
        Phase::Investigate,
    ];

    /// 1-based rank in the sequence.
    pub fn rank(self) -> u32 {
        Phase::ALL.iter().position(|p| *p == self).unwrap_or(0) as u32 + 1
    }

    /// The phase of an action: its kind, and for host isolation whether the
    /// host keeps the backups (assets role `backup_server`).
    pub fn of(kind: ActionKind, backup_host: bool) -> Phase {
        match kind {
            ActionKind::RevokeRemoteAccess | ActionKind::BlockAddress | ActionKind::BlockDomain => {
                Phase::Perimeter
            }
            ActionKind::IsolateHost if backup_host => Phase::Backups,
            ActionKind::DisableAccount
            | ActionKind::DeleteAccount
            | ActionKind::ResetPassword
            | ActionKind::ResetKrbtgt => Phase::Accounts,
            ActionKind::IsolateHost | ActionKind::RemoveService => Phase::Hosts,
            ActionKind::CollectLogs => Phase::Investigate,
        }
    }

    /// The phase's name for people.
    pub fn label(self, lang: Lang) -> String {
        match self {
            Phase::Perimeter => tr!(
                lang,
                "périmètre et accès distants",
                "perimeter and remote access"
            ),
            Phase::Backups => tr!(lang, "protection des sauvegardes", "protecting the backups"),
            Phase::Accounts => tr!(lang, "neutralisation des comptes", "neutralising accounts"),
            Phase::Hosts => tr!(
                lang,
                "isolement des machines (sans les éteindre)",
                "isolating hosts (without powering them off)"
            ),
            Phase::Investigate => tr!(lang, "investigation", "investigation"),
        }
    }

    /// The guidance the phase follows, cited.
    pub fn guidance(self) -> &'static str {
        match self {
            Phase::Perimeter | Phase::Backups => {
                "ANSSI, « Cyberattaques et remédiation » (2023), endiguement ; CERT-FR, fiche réflexe CERTFR-2024-RFX-001 « Qualification d'un rançongiciel »"
            }
            Phase::Accounts => {
                "ANSSI, « Cyberattaques et remédiation » (2023), endiguement ; Microsoft, « AD Forest Recovery – Resetting the krbtgt password »"
            }
            Phase::Hosts => {
                "CERT-FR, fiche réflexe CERTFR-2024-RFX-005 « Qualification d'une compromission système » ; Cybermalveillance.gouv.fr, « N'éteignez pas l'appareil »"
            }
            Phase::Investigate => "CERT-FR, fiche réflexe CERTFR-2024-RFX-005",
        }
    }
}

/// Rank of an action inside its phase (smaller first): within the account
/// phase privileged accounts come first and krbtgt last (its second reset
/// waits for replication); elsewhere the scope's priority decides.
pub(crate) fn rank_in_phase(kind: ActionKind, privileged: bool) -> u32 {
    match kind {
        ActionKind::RevokeRemoteAccess => 0,
        ActionKind::BlockAddress => 1,
        ActionKind::BlockDomain => 2,
        ActionKind::DisableAccount | ActionKind::DeleteAccount | ActionKind::ResetPassword => {
            if privileged {
                0
            } else {
                1
            }
        }
        ActionKind::ResetKrbtgt => 9,
        ActionKind::IsolateHost => 0,
        ActionKind::RemoveService => 1,
        ActionKind::CollectLogs => 0,
    }
}
