//! The ground truth: what an investigator should conclude, and where the
//! evidence of every attack step is in the generated files.

use serde::{Deserialize, Serialize};

/// Static description of a step (from docs/scenario.md).
pub struct StepInfo {
    pub number: u8,
    pub name: &'static str,
    pub when: &'static str,
    /// SigmaHQ titles that real logs of this step trigger (scenario table).
    pub sigma: &'static [&'static str],
    /// SigmaHQ titles that must *not* fire on this step.
    pub sigma_must_not: &'static [&'static str],
}

pub const STEPS: &[StepInfo] = &[
    StepInfo {
        number: 1,
        name: "initial access",
        when: "D-6 02:10",
        sigma: &[],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 2,
        name: "remote desktop",
        when: "D-6 02:14",
        sigma: &[],
        sigma_must_not: &["External Remote RDP Logon from Public IP"],
    },
    StepInfo {
        number: 3,
        name: "discovery",
        when: "D-6 02:30",
        sigma: &[
            "Suspicious Group And Account Reconnaissance Activity Using Net.EXE",
            "Potential Recon Activity Via Nltest.EXE",
            "PUA - AdFind Suspicious Execution",
            "PUA - Advanced IP Scanner Execution",
        ],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 4,
        name: "persistence, C2",
        when: "D-5",
        sigma: &[
            "Remote Access Tool - AnyDesk Silent Installation",
            "Anydesk Remote Access Software Service Installation",
            "DNS Query To Remote Access Software Domain From Non-Browser App",
            "CobaltStrike Named Pipe",
        ],
        sigma_must_not: &["External Remote RDP Logon from Public IP"],
    },
    StepInfo {
        number: 5,
        name: "credential theft",
        when: "D-4",
        sigma: &[
            "Process Memory Dump Via Comsvcs.DLL",
            "Lsass Memory Dump via Comsvcs DLL",
            "LSASS Process Memory Dump Files",
            "Kerberoasting Activity - Initial Query",
            "Suspicious Kerberos RC4 Ticket Encryption",
        ],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 6,
        name: "backdoor account",
        when: "D-4",
        sigma: &[
            "New User Created Via Net.EXE",
            "Local User Creation",
            "A Member Was Added to a Security-Enabled Global Group",
        ],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 7,
        name: "lateral movement",
        when: "D-3",
        sigma: &[
            "PsExec Service Installation",
            "PsExec Service Execution",
            "PSEXEC Remote Execution File Artefact",
            "PsExec Service Child Process Execution as LOCAL SYSTEM",
        ],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 8,
        name: "backups targeted",
        when: "D-2",
        sigma: &[
            "VeeamBackup Database Credentials Dump Via Sqlcmd.EXE",
            "Veeam Backup Database Suspicious Query",
        ],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 9,
        name: "exfiltration",
        when: "D-1 22:00",
        sigma: &[
            "Files Added To An Archive Using Rar.EXE",
            "PUA - Rclone Execution",
            "DNS Query To MEGA Hosting Website",
            "Network Connection Initiated To Mega.nz",
        ],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 10,
        name: "defence evasion",
        when: "D0 23:30",
        sigma: &[
            "Tamper Windows Defender - ScriptBlockLogging",
            "Windows Defender Real-time Protection Disabled",
        ],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 11,
        name: "mass deployment",
        when: "D0 00:45",
        sigma: &["Persistence and Execution at Scale via GPO Scheduled Task"],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 12,
        name: "impact",
        when: "D0 01:00",
        sigma: &[
            "Shadow Copies Deletion Using Operating Systems Utilities",
            "Boot Configuration Tampering Via Bcdedit.EXE",
            "Suspicious Eventlog Clearing or Configuration Change Activity",
            "Security Eventlog Cleared",
            "Eventlog Cleared",
        ],
        sigma_must_not: &[],
    },
    StepInfo {
        number: 13,
        name: "noticed",
        when: "D0 08:30",
        sigma: &[],
        sigma_must_not: &[],
    },
];

/// Where one event of a step is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub host: String,
    /// Windows channel, or `fortigate` for FW01.
    pub channel: String,
    /// Path relative to the output directory (`logs/DC01/Security.jsonl`).
    pub file: String,
    /// 1-based line in the file.
    pub line: u64,
    /// `EventRecordID` (Windows events).
    pub record_id: Option<u64>,
    pub event_id: Option<u32>,
    /// UTC, ISO 8601.
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTruth {
    pub number: u8,
    pub name: String,
    /// When, relative to day 0 (scenario table).
    pub when: String,
    /// First and last event of the step (UTC).
    pub start: String,
    pub end: String,
    pub hosts: Vec<String>,
    pub event_ids: Vec<u32>,
    pub sigma_titles: Vec<String>,
    pub sigma_must_not_fire: Vec<String>,
    pub events: Vec<EventRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryPoint {
    pub time: String,
    pub account: String,
    pub source_ip: String,
    pub via_vpn: bool,
    pub vpn_device: String,
    pub vpn_assigned_ip: String,
    pub first_host: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exfiltration {
    pub host: String,
    pub share: String,
    pub path: String,
    pub archive: String,
    pub tool: String,
    pub destination: String,
    pub bytes_sent: u64,
    pub start: String,
    pub end: String,
}

/// Evidence that a host was observed for the whole period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub channel: String,
    pub file: String,
    pub events: u64,
    pub first: String,
    pub last: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolatedHost {
    pub host: String,
    pub reached: bool,
    pub coverage: Vec<Coverage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub scenario: String,
    pub seed: u64,
    pub scale: String,
    pub day0: String,
    pub timezone: String,
    /// Observed period (UTC).
    pub period_start: String,
    pub period_end: String,
    pub nature: String,
    pub entry_point: EntryPoint,
    /// Hosts where the attacker acted (steps 2-10), sorted.
    pub compromised_hosts: Vec<String>,
    /// Hosts the malicious GPO reached and the encryptor ran on (11-12).
    pub gpo_reached_hosts: Vec<String>,
    pub compromised_accounts: Vec<String>,
    pub backdoor_account: String,
    pub exfiltration: Exfiltration,
    pub isolated: IsolatedHost,
    pub attacker_infrastructure: Vec<String>,
    pub steps: Vec<StepTruth>,
}
