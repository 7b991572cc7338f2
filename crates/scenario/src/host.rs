//! Per-host event builder: one [`HostGen`] accumulates the events of one
//! computer (benign and attack) with the bookkeeping real logs show:
//! process ids and Sysmon process GUIDs, logon ids, parent/child links.

use std::borrow::Cow;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::{sysmon_time, Us, MIN, SEC};
use crate::org::{fnv, mix, Host, Org, User, DOMAIN_SID, NETBIOS};
use crate::winevt::{Channel, Payload, Provider, WinEvent, V};

/// `User` of SYSTEM processes on these French-localised Windows.
pub const SYSTEM_USER: &str = "AUTORITE NT\\Système";
pub const NETWORK_SERVICE_USER: &str = "AUTORITE NT\\SERVICE RÉSEAU";

/// A running process, as later events refer to it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub guid: String,
    pub pid: u32,
    pub image: String,
    pub cmd: String,
    pub user: String,
    pub logon_id: String,
}

/// Version metadata Sysmon reads from a binary's resources.
struct BinMeta {
    original: &'static str,
    description: &'static str,
    product: &'static str,
    company: &'static str,
    version: &'static str,
}

const MS: &str = "Microsoft Corporation";
const WINOS: &str = "Microsoft® Windows® Operating System";
const WINVER: &str = "10.0.17763.5329 (WinBuild.160101.0800)";

fn bin_meta(image: &str) -> BinMeta {
    let file = image
        .rsplit('\\')
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase();
    let m = |original, description, product, company, version| BinMeta {
        original,
        description,
        product,
        company,
        version,
    };
    match file.as_str() {
        "cmd.exe" => m(
            "Cmd.Exe",
            "Processeur de commandes Windows",
            WINOS,
            MS,
            WINVER,
        ),
        "net.exe" => m("net.exe", "Commande Net", WINOS, MS, WINVER),
        "net1.exe" => m("net1.exe", "Commande Net", WINOS, MS, WINVER),
        "nltest.exe" => m(
            "nltestrk.exe",
            "Microsoft® Logon Server Test Utility",
            WINOS,
            MS,
            WINVER,
        ),
        "sc.exe" => m(
            "sc.exe",
            "Programme de contrôle du Gestionnaire de services",
            WINOS,
            MS,
            WINVER,
        ),
        "powershell.exe" => m("PowerShell.EXE", "Windows PowerShell", WINOS, MS, WINVER),
        "rundll32.exe" => m(
            "RUNDLL32.EXE",
            "Processus hôte Windows (Rundll32)",
            WINOS,
            MS,
            WINVER,
        ),
        "vssadmin.exe" => m(
            "VSSADMIN.EXE",
            "Outil d'administration de clichés instantanés de volumes",
            WINOS,
            MS,
            WINVER,
        ),
        "bcdedit.exe" => m(
            "bcdedit.exe",
            "Boot Configuration Data Editor",
            WINOS,
            MS,
            WINVER,
        ),
        "wbadmin.exe" => m(
            "WBADMIN.EXE",
            "Outil de ligne de commande de sauvegarde",
            WINOS,
            MS,
            WINVER,
        ),
        "wevtutil.exe" => m(
            "wevtutil.exe",
            "Eventing Command Line Utility",
            WINOS,
            MS,
            WINVER,
        ),
        "svchost.exe" => m(
            "svchost.exe",
            "Processus hôte pour les services Windows",
            WINOS,
            MS,
            WINVER,
        ),
        "taskhostw.exe" => m(
            "taskhostw.exe",
            "Processus hôte pour les tâches Windows",
            WINOS,
            MS,
            WINVER,
        ),
        "conhost.exe" => m(
            "CONHOST.EXE",
            "Hôte de la fenêtre de console",
            WINOS,
            MS,
            WINVER,
        ),
        "gpupdate.exe" => m(
            "GPUpdate.exe",
            "Microsoft® Windows Group Policy Update Utility",
            WINOS,
            MS,
            WINVER,
        ),
        "ipconfig.exe" => m(
            "ipconfig.exe",
            "IP Configuration Utility",
            WINOS,
            MS,
            WINVER,
        ),
        "whoami.exe" => m(
            "whoami.exe",
            "whoami - affiche les informations sur l'utilisateur",
            WINOS,
            MS,
            WINVER,
        ),
        "mmc.exe" => m("MMC.EXE", "Microsoft Management Console", WINOS, MS, WINVER),
        "explorer.exe" => m("EXPLORER.EXE", "Explorateur Windows", WINOS, MS, WINVER),
        "userinit.exe" => m(
            "USERINIT.EXE",
            "Userinit Logon Application",
            WINOS,
            MS,
            WINVER,
        ),
        "mstsc.exe" => m(
            "mstsc.exe",
            "Connexion Bureau à distance",
            WINOS,
            MS,
            WINVER,
        ),
        "searchprotocolhost.exe" => m(
            "SearchProtocolHost.exe",
            "Microsoft Windows Search Protocol Host",
            WINOS,
            MS,
            WINVER,
        ),
        "backgroundtaskhost.exe" => m(
            "backgroundTaskHost.exe",
            "Background Task Host",
            WINOS,
            MS,
            WINVER,
        ),
        "runtimebroker.exe" => m("RuntimeBroker.exe", "Runtime Broker", WINOS, MS, WINVER),
        "compattelrunner.exe" => m(
            "CompatTelRunner.exe",
            "Microsoft Compatibility Telemetry",
            WINOS,
            MS,
            WINVER,
        ),
        "tiworker.exe" => m(
            "TiWorker.exe",
            "Windows Modules Installer Worker",
            WINOS,
            MS,
            WINVER,
        ),
        "wmiprvse.exe" => m("Wmiprvse.exe", "WMI Provider Host", WINOS, MS, WINVER),
        "dllhost.exe" => m("dllhost.exe", "COM Surrogate", WINOS, MS, WINVER),
        "msiexec.exe" => m(
            "msiexec.exe",
            "Windows® installer",
            WINOS,
            MS,
            "5.0.17763.5329",
        ),
        "mpcmdrun.exe" => m(
            "MpCmdRun.exe",
            "Microsoft Malware Protection Command Line Utility",
            WINOS,
            MS,
            "4.18.23110.3",
        ),
        "msedge.exe" => m(
            "msedge.exe",
            "Microsoft Edge",
            "Microsoft Edge",
            MS,
            "120.0.2210.133",
        ),
        "outlook.exe" => m(
            "Outlook.exe",
            "Microsoft Outlook",
            "Microsoft Outlook",
            MS,
            "16.0.17126.20132",
        ),
        "winword.exe" => m(
            "WinWord.exe",
            "Microsoft Word",
            "Microsoft Office",
            MS,
            "16.0.17126.20132",
        ),
        "excel.exe" => m(
            "Excel.exe",
            "Microsoft Excel",
            "Microsoft Office",
            MS,
            "16.0.17126.20132",
        ),
        "acrord32.exe" => m(
            "AcroRd32.exe",
            "Adobe Acrobat Reader DC",
            "Adobe Acrobat Reader DC",
            "Adobe Systems Incorporated",
            "23.8.20470.0",
        ),
        "teams.exe" => m(
            "Teams.exe",
            "Microsoft Teams",
            "Microsoft Teams",
            MS,
            "1.6.0.35756",
        ),
        "microsoftedgeupdate.exe" => m(
            "msedgeupdate.dll",
            "Microsoft Edge Update",
            "Microsoft Edge Update",
            MS,
            "1.3.185.17",
        ),
        "sqlservr.exe" => m(
            "SQLServr.exe",
            "SQL Server Windows NT - 64 Bit",
            "Microsoft SQL Server",
            MS,
            "2019.150.4345.5",
        ),
        "sqlcmd.exe" => m(
            "SQLCMD.EXE",
            "T-SQL execution command line utility",
            "Microsoft SQL Server",
            MS,
            "2019.150.4345.5",
        ),
        "veeam.backup.manager.exe" => m(
            "Veeam.Backup.Manager.exe",
            "Veeam Backup Manager",
            "Veeam Backup & Replication",
            "Veeam Software Group GmbH",
            "12.1.0.2131",
        ),
        "veeamagent.exe" => m(
            "VeeamAgent.exe",
            "Veeam Agent",
            "Veeam Backup & Replication",
            "Veeam Software Group GmbH",
            "12.1.0.2131",
        ),
        "w3wp.exe" => m(
            "w3wp.exe",
            "IIS Worker Process",
            "Internet Information Services",
            MS,
            "10.0.17763.1",
        ),
        "adfind.exe" => m(
            "AdFind.exe",
            "AdFind",
            "AdFind",
            "www.joeware.net",
            "1.57.0.0",
        ),
        "advanced_ip_scanner.exe" => m(
            "advanced_ip_scanner.exe",
            "Advanced IP Scanner",
            "Advanced IP Scanner",
            "Famatech Corp.",
            "2.5.4594.1",
        ),
        "anydesk.exe" => m("-", "AnyDesk", "AnyDesk", "AnyDesk Software GmbH", "8.0.8"),
        "psexec.exe" => m(
            "psexec.c",
            "Execute processes remotely",
            "Sysinternals PsExec",
            "Sysinternals - www.sysinternals.com",
            "2.43",
        ),
        "psexesvc.exe" => m(
            "psexesvc.exe",
            "PsExec Service",
            "Sysinternals PsExec",
            "Sysinternals",
            "2.43",
        ),
        "rar.exe" => m(
            "Rar.exe",
            "Command line RAR",
            "WinRAR",
            "Alexander Roshal",
            "6.24.0",
        ),
        "rclone.exe" => m(
            "rclone.exe",
            "Rsync for cloud storage",
            "Rclone",
            "https://rclone.org",
            "1.65.1",
        ),
        _ => m("-", "-", "-", "-", "-"),
    }
}

/// Hashes of a binary, as Sysmon writes them (`MD5=…,SHA256=…,IMPHASH=…`),
/// derived from its path so that one binary always has the same hashes.
fn hashes(image: &str) -> String {
    let h = fnv(&image.to_ascii_lowercase());
    let hex = |seed: u64, n: usize| {
        let mut s = String::with_capacity(n);
        let mut i = 0u64;
        while s.len() < n {
            s.push_str(&format!(
                "{:016X}",
                mix(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            ));
            i += 1;
        }
        s.truncate(n);
        s
    };
    format!(
        "MD5={},SHA256={},IMPHASH={}",
        hex(h, 32),
        hex(h ^ 1, 64),
        hex(h ^ 2, 32)
    )
}

/// Defaults of `System` fields per provider and event id.
fn system_defaults(p: Provider, eid: u16) -> (u8, u8, u16, u8, &'static str) {
    match p {
        Provider::SecurityAuditing => {
            let (v, task) = match eid {
                4624 => (2, 12544),
                4625 | 4648 => (0, 12544),
                4634 | 4647 => (0, 12545),
                4672 => (0, 12548),
                4688 => (2, 13312),
                4698 => (1, 12804),
                4720 | 4722 | 4724 | 4738 => (0, 13824),
                4728 | 4732 => (0, 13826),
                4768 => (0, 14339),
                4769 => (0, 14337),
                4776 => (0, 14336),
                5136 => (0, 14081),
                5140 => (1, 12808),
                5145 => (0, 12811),
                4800 | 4801 => (0, 12551),
                _ => (0, 0),
            };
            let kw = if eid == 4625 {
                "0x8010000000000000"
            } else {
                "0x8020000000000000"
            };
            (v, 0, task, 0, kw)
        }
        Provider::Eventlog if eid == 1102 => (0, 4, 104, 0, "0x4020000000000000"),
        Provider::Eventlog => (0, 4, 104, 0, "0x8000000000000000"),
        Provider::ServiceControlManager => {
            let level = if eid == 7000 || eid == 7031 { 2 } else { 4 };
            (0, level, 0, 0, "0x8080000000000000")
        }
        Provider::Sysmon => {
            let v = match eid {
                1 | 3 | 22 => 5,
                10 => 3,
                11 | 13 => 2,
                _ => 1,
            };
            (v, 4, eid, 0, "0x8000000000000000")
        }
        Provider::PowerShell => (1, 5, 2, 15, "0x0"),
        Provider::Defender => (0, 4, 0, 0, "0x8000000000000000"),
        Provider::RdpConnectionManager => (0, 4, 0, 0, "0x4000000000000000"),
        Provider::RdpLocalSession => (0, 4, 0, 0, "0x1000000000000000"),
        Provider::WindowsUpdateClient => (1, 4, 1, 13, "0x8000000000004000"),
        Provider::KernelGeneral => (1, 4, 1, 0, "0x8000000000000010"),
        Provider::EventLogClassic => (0, 4, 0, 0, "0x80000000000000"),
    }
}

/// An account as logon events name it.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub domain: String,
    pub sid: String,
    pub admin: bool,
}

impl Account {
    pub fn of(u: &User) -> Account {
        Account {
            name: u.sam.clone(),
            domain: NETBIOS.into(),
            sid: u.sid(),
            admin: u.domain_admin || u.kind == "service",
        }
    }
    pub fn machine(h: &Host) -> Account {
        Account {
            name: format!("{}$", h.name),
            domain: NETBIOS.into(),
            sid: format!("{DOMAIN_SID}-{}", h.rid),
            admin: false,
        }
    }
    pub fn qualified(&self) -> String {
        format!("{}\\{}", self.domain, self.name)
    }
}

/// Accumulates the events of one host.
pub struct HostGen<'a> {
    pub org: &'a Org,
    pub host: &'a Host,
    pub computer: String,
    pub rng: ChaCha8Rng,
    pub events: Vec<WinEvent>,
    /// Step stamped on every event pushed (0 = benign).
    pub step: u8,
    /// Security auditing of process creation (4688) is on (servers).
    pub audit_4688: bool,
    /// Sysmon is deployed on this host.
    pub sysmon: bool,
    next_pid: u32,
    guid_seq: u32,
    next_logon: u64,
    machine_guid: u32,
    sysmon_pid: u32,
    pub services: Proc,
    pub system: Proc,
    pub lsass: Proc,
    pub scheduler: Proc,
}

impl<'a> HostGen<'a> {
    pub fn new(org: &'a Org, host: &'a Host, seed: u64, salt: &str) -> HostGen<'a> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ fnv(&host.name) ^ fnv(salt)));
        let machine_guid = (fnv(&host.name) >> 32) as u32;
        let mk = |pid: u32, image: &str, cmd: &str| Proc {
            guid: format!("{machine_guid:08X}-0000-0000-{:04X}-000000000800", pid),
            pid,
            image: image.into(),
            cmd: cmd.into(),
            user: SYSTEM_USER.into(),
            logon_id: "0x3e7".into(),
        };
        let services_pid = 600 + rng.gen_range(0..80) * 4;
        let lsass_pid = services_pid + 12 + rng.gen_range(0..4) * 4;
        HostGen {
            org,
            host,
            computer: host.computer(),
            events: Vec::new(),
            step: 0,
            audit_4688: host.is_server(),
            sysmon: host.is_windows_domain(),
            next_pid: 2000 + rng.gen_range(0..500) * 4,
            guid_seq: rng.gen_range(0x100..0x400),
            next_logon: 0x40_0000 + rng.gen_range(0..0x10_0000),
            machine_guid,
            sysmon_pid: 2400 + rng.gen_range(0..100) * 4,
            system: mk(4, "System", ""),
            services: mk(
                services_pid,
                "C:\\Windows\\System32\\services.exe",
                "C:\\Windows\\system32\\services.exe",
            ),
            lsass: mk(
                lsass_pid,
                "C:\\Windows\\system32\\lsass.exe",
                "C:\\Windows\\system32\\lsass.exe",
            ),
            scheduler: mk(
                1100 + rng.gen_range(0..100) * 4,
                "C:\\Windows\\System32\\svchost.exe",
                "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
            ),
            rng,
        }
    }

    pub fn machine_account(&self) -> Account {
        Account::machine(self.host)
    }

    /// Pushes a bare event with the provider's `System` defaults.
    pub fn push(
        &mut self,
        t: Us,
        channel: Channel,
        provider: Provider,
        event_id: u16,
        data: Vec<(&'static str, V)>,
    ) -> &mut WinEvent {
        let (version, level, task, opcode, keywords) = system_defaults(provider, event_id);
        let (pid, user_sid): (u32, Option<Cow<'static, str>>) = match provider {
            Provider::SecurityAuditing | Provider::Eventlog if channel == Channel::Security => {
                (self.lsass.pid, None)
            }
            Provider::Sysmon => (self.sysmon_pid, Some("S-1-5-18".into())),
            Provider::ServiceControlManager => (self.services.pid, None),
            Provider::RdpConnectionManager => (1180, Some("S-1-5-20".into())),
            _ => (
                1000 + (self.host.index as u32 % 50) * 4,
                Some("S-1-5-18".into()),
            ),
        };
        let tid = pid + 4 + self.rng.gen_range(0..64) * 4;
        self.events.push(WinEvent {
            t,
            channel,
            provider,
            event_id,
            version,
            level,
            task,
            opcode,
            keywords,
            pid,
            tid,
            user_sid,
            payload: Payload::EventData,
            data,
            step: self.step,
        });
        self.events.last_mut().expect("just pushed")
    }

    pub fn new_pid(&mut self) -> u32 {
        self.next_pid += 4 * self.rng.gen_range(1..40);
        if self.next_pid > 30_000 {
            self.next_pid = 1000 + self.rng.gen_range(0..100) * 4;
        }
        self.next_pid
    }

    fn new_guid(&mut self, t: Us) -> String {
        self.guid_seq = self.guid_seq.wrapping_add(1);
        let secs = (t / SEC) as u64;
        format!(
            "{:08X}-{:04X}-{:04X}-{:04X}-000000000800",
            self.machine_guid,
            secs & 0xFFFF,
            (secs >> 16) & 0xFFFF,
            self.guid_seq & 0xFFFF
        )
    }

    pub fn new_logon_id(&mut self) -> String {
        self.next_logon += self.rng.gen_range(0x100..0x8000);
        format!("0x{:x}", self.next_logon)
    }

    /// A process start: Sysmon 1, plus Security 4688 where process
    /// auditing is on.
    #[allow(clippy::too_many_arguments)]
    pub fn proc(
        &mut self,
        t: Us,
        parent: &Proc,
        image: &str,
        cmd: &str,
        user: &str,
        logon_id: &str,
        integrity: &'static str,
        cwd: &str,
    ) -> Proc {
        let pid = self.new_pid();
        let guid = self.new_guid(t);
        let p = Proc {
            guid: guid.clone(),
            pid,
            image: image.into(),
            cmd: cmd.into(),
            user: user.into(),
            logon_id: logon_id.into(),
        };
        if self.sysmon {
            let meta = bin_meta(image);
            let session: i64 = if user.starts_with("AUTORITE NT") {
                0
            } else {
                1 + (fnv(logon_id) % 3) as i64
            };
            let logon_guid = format!(
                "{:08X}-{:04X}-0000-{:04X}-{:012X}",
                self.machine_guid,
                (t / SEC / 3600) & 0xFFFF,
                fnv(logon_id) & 0xFFFF,
                u64::from_str_radix(logon_id.trim_start_matches("0x"), 16).unwrap_or(0x3e7)
            );
            let data = vec![
                ("RuleName", "-".into()),
                ("UtcTime", sysmon_time(t).into()),
                ("ProcessGuid", guid.into()),
                ("ProcessId", (pid as i64).into()),
                ("Image", image.to_string().into()),
                ("FileVersion", meta.version.into()),
                ("Description", meta.description.into()),
                ("Product", meta.product.into()),
                ("Company", meta.company.into()),
                ("OriginalFileName", meta.original.into()),
                ("CommandLine", cmd.to_string().into()),
                ("CurrentDirectory", cwd.to_string().into()),
                ("User", user.to_string().into()),
                ("LogonGuid", logon_guid.into()),
                ("LogonId", logon_id.to_string().into()),
                ("TerminalSessionId", session.into()),
                ("IntegrityLevel", integrity.into()),
                ("Hashes", hashes(image).into()),
                ("ParentProcessGuid", parent.guid.clone().into()),
                ("ParentProcessId", (parent.pid as i64).into()),
                ("ParentImage", parent.image.clone().into()),
                ("ParentCommandLine", parent.cmd.clone().into()),
                ("ParentUser", parent.user.clone().into()),
            ];
            self.push(t, Channel::Sysmon, Provider::Sysmon, 1, data);
        }
        if self.audit_4688 {
            let (sub_name, sub_dom, sub_sid) = self.subject_of(user, logon_id);
            let data = vec![
                ("SubjectUserSid", sub_sid.into()),
                ("SubjectUserName", sub_name.into()),
                ("SubjectDomainName", sub_dom.into()),
                ("SubjectLogonId", logon_id.to_string().into()),
                ("NewProcessId", format!("0x{pid:x}").into()),
                ("NewProcessName", image.to_string().into()),
                (
                    "TokenElevationType",
                    (if integrity == "Medium" {
                        "%%1938"
                    } else {
                        "%%1936"
                    })
                    .into(),
                ),
                ("ProcessId", format!("0x{:x}", parent.pid).into()),
                ("CommandLine", cmd.to_string().into()),
                ("TargetUserSid", "S-1-0-0".into()),
                ("TargetUserName", "-".into()),
                ("TargetDomainName", "-".into()),
                ("TargetLogonId", "0x0".into()),
                ("ParentProcessName", parent.image.clone().into()),
                ("MandatoryLabel", mandatory_label(integrity).into()),
            ];
            self.push(t, Channel::Security, Provider::SecurityAuditing, 4688, data);
        }
        p
    }

    /// Subject (name, domain, SID) of a Sysmon-style `DOMAIN\user`.
    fn subject_of(&self, user: &str, _logon_id: &str) -> (String, String, String) {
        if user.starts_with("AUTORITE NT") {
            return (
                format!("{}$", self.host.name),
                NETBIOS.into(),
                "S-1-5-18".into(),
            );
        }
        let (dom, name) = user.split_once('\\').unwrap_or((NETBIOS, user));
        let sid = self
            .org
            .users
            .iter()
            .find(|u| u.sam == name)
            .map(|u| u.sid())
            .unwrap_or_else(|| format!("{DOMAIN_SID}-{}", 1450 + fnv(name) % 40));
        (name.into(), dom.into(), sid)
    }

    /// Sysmon 3: a network connection.
    #[allow(clippy::too_many_arguments)]
    pub fn net(
        &mut self,
        t: Us,
        p: &Proc,
        proto: &'static str,
        dst_ip: &str,
        dst_port: u16,
        dst_host: &str,
        initiated: bool,
    ) {
        if !self.sysmon {
            return;
        }
        let sport = 49152 + self.rng.gen_range(0..16000) as i64;
        let src_ip = self.host.ip.clone();
        let data = vec![
            ("RuleName", "-".into()),
            ("UtcTime", sysmon_time(t).into()),
            ("ProcessGuid", p.guid.clone().into()),
            ("ProcessId", (p.pid as i64).into()),
            ("Image", p.image.clone().into()),
            ("User", p.user.clone().into()),
            ("Protocol", proto.into()),
            (
                "Initiated",
                (if initiated { "true" } else { "false" }).into(),
            ),
            ("SourceIsIpv6", "false".into()),
            ("SourceIp", src_ip.into()),
            ("SourceHostname", self.computer.clone().into()),
            ("SourcePort", sport.into()),
            ("SourcePortName", "-".into()),
            ("DestinationIsIpv6", "false".into()),
            ("DestinationIp", dst_ip.to_string().into()),
            (
                "DestinationHostname",
                (if dst_host.is_empty() { "-" } else { dst_host })
                    .to_string()
                    .into(),
            ),
            ("DestinationPort", (dst_port as i64).into()),
            ("DestinationPortName", port_name(dst_port).into()),
        ];
        self.push(t, Channel::Sysmon, Provider::Sysmon, 3, data);
    }

    /// Sysmon 22: a DNS query and its answer.
    pub fn dns(&mut self, t: Us, p: &Proc, query: &str, answer: &str) {
        if !self.sysmon {
            return;
        }
        let data = vec![
            ("RuleName", "-".into()),
            ("UtcTime", sysmon_time(t).into()),
            ("ProcessGuid", p.guid.clone().into()),
            ("ProcessId", (p.pid as i64).into()),
            ("QueryName", query.to_string().into()),
            ("QueryStatus", "0".into()),
            ("QueryResults", format!("::ffff:{answer};").into()),
            ("Image", p.image.clone().into()),
            ("User", p.user.clone().into()),
        ];
        self.push(t, Channel::Sysmon, Provider::Sysmon, 22, data);
    }

    /// Sysmon 11: a file created.
    pub fn file(&mut self, t: Us, p: &Proc, path: &str) {
        if !self.sysmon {
            return;
        }
        let data = vec![
            ("RuleName", "-".into()),
            ("UtcTime", sysmon_time(t).into()),
            ("ProcessGuid", p.guid.clone().into()),
            ("ProcessId", (p.pid as i64).into()),
            ("Image", p.image.clone().into()),
            ("TargetFilename", path.to_string().into()),
            ("CreationUtcTime", sysmon_time(t).into()),
            ("User", p.user.clone().into()),
        ];
        self.push(t, Channel::Sysmon, Provider::Sysmon, 11, data);
    }

    /// Sysmon 13: a registry value set.
    pub fn reg(&mut self, t: Us, p: &Proc, key: &str, details: &str) {
        if !self.sysmon {
            return;
        }
        let data = vec![
            ("RuleName", "-".into()),
            ("EventType", "SetValue".into()),
            ("UtcTime", sysmon_time(t).into()),
            ("ProcessGuid", p.guid.clone().into()),
            ("ProcessId", (p.pid as i64).into()),
            ("Image", p.image.clone().into()),
            ("TargetObject", key.to_string().into()),
            ("Details", details.to_string().into()),
            ("User", p.user.clone().into()),
        ];
        self.push(t, Channel::Sysmon, Provider::Sysmon, 13, data);
    }

    /// Sysmon 10: a process opened another.
    pub fn access(&mut self, t: Us, src: &Proc, dst: &Proc, granted: &str, call_trace: &str) {
        let tid = self.rng.gen_range(1000..9000) as i64;
        let data = vec![
            ("RuleName", "-".into()),
            ("UtcTime", sysmon_time(t).into()),
            ("SourceProcessGUID", src.guid.clone().into()),
            ("SourceProcessId", (src.pid as i64).into()),
            ("SourceThreadId", tid.into()),
            ("SourceImage", src.image.clone().into()),
            ("TargetProcessGUID", dst.guid.clone().into()),
            ("TargetProcessId", (dst.pid as i64).into()),
            ("TargetImage", dst.image.clone().into()),
            ("GrantedAccess", granted.to_string().into()),
            ("CallTrace", call_trace.to_string().into()),
            ("SourceUser", src.user.clone().into()),
            ("TargetUser", dst.user.clone().into()),
        ];
        self.push(t, Channel::Sysmon, Provider::Sysmon, 10, data);
    }

    /// Sysmon 17: a named pipe created.
    pub fn pipe(&mut self, t: Us, p: &Proc, name: &str) {
        let data = vec![
            ("RuleName", "-".into()),
            ("EventType", "CreatePipe".into()),
            ("UtcTime", sysmon_time(t).into()),
            ("ProcessGuid", p.guid.clone().into()),
            ("ProcessId", (p.pid as i64).into()),
            ("PipeName", name.to_string().into()),
            ("Image", p.image.clone().into()),
            ("User", p.user.clone().into()),
        ];
        self.push(t, Channel::Sysmon, Provider::Sysmon, 17, data);
    }

    /// Security 4624 (and 4672 for privileged accounts); returns the new
    /// logon id.
    #[allow(clippy::too_many_arguments)]
    pub fn logon(
        &mut self,
        t: Us,
        who: &Account,
        logon_type: i64,
        ip: &str,
        workstation: &str,
        process: &str,
        auth: &'static str,
    ) -> String {
        let logon_id = self.new_logon_id();
        let (sub_sid, sub_name, sub_logon, proc_id) = if logon_type == 3 {
            (
                "S-1-0-0".to_string(),
                "-".to_string(),
                "0x0".to_string(),
                "0x0".to_string(),
            )
        } else {
            (
                "S-1-5-18".into(),
                format!("{}$", self.host.name),
                "0x3e7".into(),
                format!("0x{:x}", self.lsass.pid + 200),
            )
        };
        let (lproc, auth_pkg, lm) = match (logon_type, auth) {
            (3, "Kerberos") => ("Kerberos", "Kerberos", "-"),
            (3, _) => ("NtLmSsp ", "NTLM", "NTLM V2"),
            (5, _) => ("Advapi  ", "Negotiate", "-"),
            _ => ("User32 ", "Negotiate", "-"),
        };
        let data = vec![
            ("SubjectUserSid", sub_sid.into()),
            ("SubjectUserName", sub_name.into()),
            (
                "SubjectDomainName",
                (if logon_type == 3 { "-" } else { NETBIOS }).into(),
            ),
            ("SubjectLogonId", sub_logon.into()),
            ("TargetUserSid", who.sid.clone().into()),
            ("TargetUserName", who.name.clone().into()),
            ("TargetDomainName", who.domain.clone().into()),
            ("TargetLogonId", logon_id.clone().into()),
            ("LogonType", logon_type.into()),
            ("LogonProcessName", lproc.into()),
            ("AuthenticationPackageName", auth_pkg.into()),
            ("WorkstationName", workstation.to_string().into()),
            ("LogonGuid", "{00000000-0000-0000-0000-000000000000}".into()),
            ("TransmittedServices", "-".into()),
            ("LmPackageName", lm.into()),
            ("KeyLength", 0i64.into()),
            ("ProcessId", proc_id.into()),
            ("ProcessName", process.to_string().into()),
            ("IpAddress", ip.to_string().into()),
            (
                "IpPort",
                (if ip == "-" {
                    "-".to_string()
                } else {
                    self.rng.gen_range(49152..65535u32).to_string()
                })
                .into(),
            ),
            ("ImpersonationLevel", "%%1833".into()),
            (
                "RestrictedAdminMode",
                (if logon_type == 10 { "%%1843" } else { "-" }).into(),
            ),
            ("TargetOutboundUserName", "-".into()),
            ("TargetOutboundDomainName", "-".into()),
            ("VirtualAccount", "%%1843".into()),
            ("TargetLinkedLogonId", "0x0".into()),
            (
                "ElevatedToken",
                (if who.admin { "%%1842" } else { "%%1843" }).into(),
            ),
        ];
        self.push(t, Channel::Security, Provider::SecurityAuditing, 4624, data);
        if who.admin {
            let data = vec![
                ("SubjectUserSid", who.sid.clone().into()),
                ("SubjectUserName", who.name.clone().into()),
                ("SubjectDomainName", who.domain.clone().into()),
                ("SubjectLogonId", logon_id.clone().into()),
                ("PrivilegeList", "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\tSeLoadDriverPrivilege\n\t\t\tSeImpersonatePrivilege\n\t\t\tSeDelegateSessionUserImpersonatePrivilege\n\t\t\tSeEnableDelegationPrivilege".into()),
            ];
            self.push(t, Channel::Security, Provider::SecurityAuditing, 4672, data);
        }
        logon_id
    }

    pub fn logoff(&mut self, t: Us, who: &Account, logon_id: &str, logon_type: i64) {
        let data = vec![
            ("TargetUserSid", who.sid.clone().into()),
            ("TargetUserName", who.name.clone().into()),
            ("TargetDomainName", who.domain.clone().into()),
            ("TargetLogonId", logon_id.to_string().into()),
            ("LogonType", logon_type.into()),
        ];
        self.push(t, Channel::Security, Provider::SecurityAuditing, 4634, data);
    }

    /// Security 4625.
    #[allow(clippy::too_many_arguments)]
    pub fn logon_failed(
        &mut self,
        t: Us,
        name: &str,
        logon_type: i64,
        ip: &str,
        workstation: &str,
        status: &str,
        sub_status: &str,
    ) {
        let data = vec![
            ("SubjectUserSid", "S-1-5-18".into()),
            ("SubjectUserName", format!("{}$", self.host.name).into()),
            ("SubjectDomainName", NETBIOS.into()),
            ("SubjectLogonId", "0x3e7".into()),
            ("TargetUserSid", "S-1-0-0".into()),
            ("TargetUserName", name.to_string().into()),
            ("TargetDomainName", NETBIOS.into()),
            ("Status", status.to_string().into()),
            ("FailureReason", "%%2313".into()),
            ("SubStatus", sub_status.to_string().into()),
            ("LogonType", logon_type.into()),
            (
                "LogonProcessName",
                (if logon_type == 3 {
                    "NtLmSsp "
                } else {
                    "User32 "
                })
                .into(),
            ),
            (
                "AuthenticationPackageName",
                (if logon_type == 3 { "NTLM" } else { "Negotiate" }).into(),
            ),
            ("WorkstationName", workstation.to_string().into()),
            ("TransmittedServices", "-".into()),
            ("LmPackageName", "-".into()),
            ("KeyLength", 0i64.into()),
            (
                "ProcessId",
                (if logon_type == 3 {
                    "0x0".to_string()
                } else {
                    format!("0x{:x}", self.lsass.pid + 200)
                })
                .into(),
            ),
            (
                "ProcessName",
                (if logon_type == 3 {
                    "-"
                } else {
                    "C:\\Windows\\System32\\svchost.exe"
                })
                .into(),
            ),
            ("IpAddress", ip.to_string().into()),
            (
                "IpPort",
                (if ip == "-" {
                    "-".to_string()
                } else {
                    self.rng.gen_range(49152..65535u32).to_string()
                })
                .into(),
            ),
        ];
        self.push(t, Channel::Security, Provider::SecurityAuditing, 4625, data);
    }

    /// DC: 4768 (TGT request).
    pub fn tgt(&mut self, t: Us, who: &Account, ip: &str) {
        let data = vec![
            ("TargetUserName", who.name.clone().into()),
            ("TargetDomainName", "CCPAB.LOCAL".into()),
            ("TargetSid", who.sid.clone().into()),
            ("ServiceName", "krbtgt".into()),
            ("ServiceSid", format!("{DOMAIN_SID}-502").into()),
            ("TicketOptions", "0x40810010".into()),
            ("Status", "0x0".into()),
            ("TicketEncryptionType", "0x12".into()),
            ("PreAuthType", "2".into()),
            ("IpAddress", format!("::ffff:{ip}").into()),
            (
                "IpPort",
                self.rng.gen_range(49152..65535u32).to_string().into(),
            ),
            ("CertIssuerName", "".into()),
            ("CertSerialNumber", "".into()),
            ("CertThumbprint", "".into()),
        ];
        self.push(t, Channel::Security, Provider::SecurityAuditing, 4768, data);
    }

    /// DC: 4769 (service ticket request).
    #[allow(clippy::too_many_arguments)]
    pub fn tgs(
        &mut self,
        t: Us,
        who: &Account,
        service: &str,
        service_sid: &str,
        ip: &str,
        options: &str,
        enc: &str,
    ) {
        let data = vec![
            ("TargetUserName", format!("{}@CCPAB.LOCAL", who.name).into()),
            ("TargetDomainName", "CCPAB.LOCAL".into()),
            ("ServiceName", service.to_string().into()),
            ("ServiceSid", service_sid.to_string().into()),
            ("TicketOptions", options.to_string().into()),
            ("TicketEncryptionType", enc.to_string().into()),
            ("IpAddress", format!("::ffff:{ip}").into()),
            (
                "IpPort",
                self.rng.gen_range(49152..65535u32).to_string().into(),
            ),
            ("Status", "0x0".into()),
            (
                "LogonGuid",
                format!(
                    "{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}",
                    self.rng.gen::<u32>(),
                    self.rng.gen::<u16>(),
                    self.rng.gen::<u16>(),
                    self.rng.gen::<u16>(),
                    self.rng.gen::<u64>() & 0xFFFF_FFFF_FFFF
                )
                .into(),
            ),
            ("TransmittedServices", "-".into()),
        ];
        self.push(t, Channel::Security, Provider::SecurityAuditing, 4769, data);
    }

    /// 4648: a logon with explicit credentials (mstsc, PsExec `-u`), logged
    /// on the machine the credentials were typed on.
    #[allow(clippy::too_many_arguments)]
    pub fn explicit_creds(
        &mut self,
        t: Us,
        by: &Proc,
        by_account: &Account,
        target: &Account,
        server: &str,
        ip: &str,
        port: &str,
    ) {
        let data = vec![
            ("SubjectUserSid", by_account.sid.clone().into()),
            ("SubjectUserName", by_account.name.clone().into()),
            ("SubjectDomainName", by_account.domain.clone().into()),
            ("SubjectLogonId", by.logon_id.clone().into()),
            ("LogonGuid", "{00000000-0000-0000-0000-000000000000}".into()),
            ("TargetUserName", target.name.clone().into()),
            ("TargetDomainName", target.domain.clone().into()),
            (
                "TargetLogonGuid",
                "{00000000-0000-0000-0000-000000000000}".into(),
            ),
            ("TargetServerName", server.to_string().into()),
            ("TargetInfo", server.to_string().into()),
            ("ProcessId", format!("0x{:x}", by.pid).into()),
            ("ProcessName", by.image.clone().into()),
            ("IpAddress", ip.to_string().into()),
            ("IpPort", port.to_string().into()),
        ];
        self.push(t, Channel::Security, Provider::SecurityAuditing, 4648, data);
    }

    /// 5140 (share accessed) on a file server.
    pub fn share_access(
        &mut self,
        t: Us,
        who: &Account,
        logon_id: &str,
        ip: &str,
        share: &str,
        path: &str,
    ) {
        let mut data = self.share_fields(who, logon_id, ip, share, path);
        data.extend([
            ("AccessMask", "0x1".into()),
            ("AccessList", "%%4416\n\t\t\t\t".into()),
        ]);
        self.push(t, Channel::Security, Provider::SecurityAuditing, 5140, data);
    }

    /// 5145 (detailed file share access).
    #[allow(clippy::too_many_arguments)]
    pub fn share_check(
        &mut self,
        t: Us,
        who: &Account,
        logon_id: &str,
        ip: &str,
        share: &str,
        path: &str,
        relative: &str,
        mask: &str,
        access: &str,
    ) {
        let mut data = self.share_fields(who, logon_id, ip, share, path);
        data.extend([
            ("RelativeTargetName", relative.to_string().into()),
            ("AccessMask", mask.to_string().into()),
            ("AccessList", access.to_string().into()),
            ("AccessReason", "-".into()),
        ]);
        self.push(t, Channel::Security, Provider::SecurityAuditing, 5145, data);
    }

    /// The fields 5140 and 5145 share, in Windows' order (the source port
    /// is drawn here, so both events consume the random stream alike).
    fn share_fields(
        &mut self,
        who: &Account,
        logon_id: &str,
        ip: &str,
        share: &str,
        path: &str,
    ) -> Vec<(&'static str, V)> {
        vec![
            ("SubjectUserSid", who.sid.clone().into()),
            ("SubjectUserName", who.name.clone().into()),
            ("SubjectDomainName", who.domain.clone().into()),
            ("SubjectLogonId", logon_id.to_string().into()),
            ("ObjectType", "File".into()),
            ("IpAddress", ip.to_string().into()),
            (
                "IpPort",
                self.rng.gen_range(49152..65535u32).to_string().into(),
            ),
            ("ShareName", format!("\\\\*\\{share}").into()),
            ("ShareLocalPath", format!("\\??\\{path}").into()),
        ]
    }

    /// System 7045 (a service was installed).
    pub fn service_installed(
        &mut self,
        t: Us,
        name: &str,
        image: &str,
        start: &'static str,
        account: &str,
        by_sid: &str,
    ) {
        let data = vec![
            ("ServiceName", name.to_string().into()),
            ("ImagePath", image.to_string().into()),
            ("ServiceType", "service en mode utilisateur".into()),
            ("StartType", start.into()),
            ("AccountName", account.to_string().into()),
        ];
        let e = self.push(
            t,
            Channel::System,
            Provider::ServiceControlManager,
            7045,
            data,
        );
        e.user_sid = Some(by_sid.to_string().into());
    }

    /// System 7036 (service state change).
    pub fn service_state(&mut self, t: Us, name: &str, running: bool) {
        let data = vec![
            ("param1", name.to_string().into()),
            (
                "param2",
                (if running {
                    "en cours d'exécution"
                } else {
                    "arrêté"
                })
                .into(),
            ),
            ("Binary", "".into()),
        ];
        self.push(
            t,
            Channel::System,
            Provider::ServiceControlManager,
            7036,
            data,
        );
    }

    /// PowerShell 4104 (script block logged).
    pub fn script_block(&mut self, t: Us, user_sid: &str, text: &str, path: &str, warning: bool) {
        let id = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            self.rng.gen::<u32>(),
            self.rng.gen::<u16>(),
            self.rng.gen::<u16>(),
            self.rng.gen::<u16>(),
            self.rng.gen::<u64>() & 0xFFFF_FFFF_FFFF
        );
        let data = vec![
            ("MessageNumber", 1i64.into()),
            ("MessageTotal", 1i64.into()),
            ("ScriptBlockText", text.to_string().into()),
            ("ScriptBlockId", id.into()),
            ("Path", path.to_string().into()),
        ];
        let e = self.push(t, Channel::PowerShell, Provider::PowerShell, 4104, data);
        e.user_sid = Some(user_sid.to_string().into());
        if warning {
            e.level = 3;
        }
    }

    /// A random instant in `[from, from + span)`.
    pub fn jitter(&mut self, from: Us, span: Us) -> Us {
        if span <= 0 {
            return from;
        }
        from + self.rng.gen_range(0..span)
    }

    /// Small positive delay (for causally ordered events).
    pub fn later(&mut self, t: Us, max_ms: i64) -> Us {
        t + 1000 * self.rng.gen_range(1..max_ms.max(2))
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    pub fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.rng.gen_range(0..items.len())]
    }

    pub fn minutes(&mut self, lo: i64, hi: i64) -> Us {
        self.rng.gen_range(lo..hi) * MIN
    }
}

fn mandatory_label(integrity: &str) -> &'static str {
    match integrity {
        "System" => "S-1-16-16384",
        "High" => "S-1-16-12288",
        _ => "S-1-16-8192",
    }
}

fn port_name(port: u16) -> &'static str {
    match port {
        443 => "https",
        80 => "http",
        445 => "microsoft-ds",
        53 => "domain",
        88 => "kerberos",
        135 => "epmap",
        389 => "ldap",
        3389 => "ms-wbt-server",
        1433 => "ms-sql-s",
        _ => "-",
    }
}
