//! Benign background activity: what a week of an ordinary community of
//! communes looks like in its logs.
//!
//! Volume is driven by `rate` (events per "unit of activity"), so the
//! small scale and the full week share all code paths. Legitimate admin
//! work deliberately includes commands that some SigmaHQ rules flag
//! (`net group … /domain`, a new account in a global group): these are
//! the false positives the end-to-end test counts and reports.

use rand::Rng;

use crate::clock::{Us, HOUR, MIN, SEC};
use crate::host::{Account, HostGen, Proc, SYSTEM_USER};
use crate::org::{Host, Zone};
use crate::timeline::{pc_always_on, pc_day, public_ip, rng_for, teleworkers, Timeline, DAYS};
use crate::winevt::{Channel, Payload, Provider, V};

pub struct Ctx<'a> {
    pub tl: &'a Timeline,
    pub seed: u64,
    /// Activity multiplier (1.0 = a realistic full week).
    pub rate: f64,
}

const EDGE: &str = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe";
const SITES: &[&str] = &[
    "www.service-public.fr",
    "www.impots.gouv.fr",
    "www.legifrance.gouv.fr",
    "www.ouest-france.fr",
    "www.google.fr",
    "www.bing.com",
    "login.microsoftonline.com",
    "www.marches-publics.gouv.fr",
    "www.caf.fr",
    "portail.chorus-pro.gouv.fr",
    "www.ants.gouv.fr",
    "meteofrance.com",
    "fr.wikipedia.org",
    "www.collectivites-locales.gouv.fr",
    "www.amf.asso.fr",
    "www.cnil.fr",
    "www.letelegramme.fr",
    "www.finistere.fr",
    "www.bretagne.bzh",
    "www.ccpab.bzh",
    "www.legifrance.gouv.fr",
    "www.pole-emploi.fr",
    "www.ameli.fr",
    "www.data.gouv.fr",
];
const CDN: &[&str] = &[
    "edge.microsoft.com",
    "config.edge.skype.com",
    "ecs.office.com",
    "fonts.gstatic.com",
    "www.gstatic.com",
    "cdn.jsdelivr.net",
    "static.xx.fbcdn.net",
    "ajax.googleapis.com",
];

/// Generates a host's benign activity for the whole period.
pub fn host(g: &mut HostGen, ctx: &Ctx) {
    let h = g.host;
    match h.zone {
        Zone::Workstations => workstation(g, ctx),
        Zone::Core | Zone::Servers => server(g, ctx),
        Zone::Aquatic => aquatic(g, ctx),
        Zone::Isolated => tes(g, ctx),
        Zone::Edge => {}
    }
    if h.is_windows_domain() {
        os_housekeeping(g, ctx);
    }
    if h.zone != Zone::Edge {
        service_logons(g, ctx);
    }
}

/// Services starting under SYSTEM log a type 5 logon (and 4672) every few
/// hours on every Windows host, whoever is at the keyboard.
fn service_logons(g: &mut HostGen, ctx: &Ctx) {
    let system = Account {
        name: "Système".into(),
        domain: "AUTORITE NT".into(),
        sid: "S-1-5-18".into(),
        admin: true,
    };
    let mut t = ctx.tl.start() + g.rng.gen_range(0..HOUR);
    while t < ctx.tl.end() {
        g.logon(
            t,
            &system,
            5,
            "-",
            "-",
            "C:\\Windows\\System32\\services.exe",
            "Negotiate",
        );
        t += g.rng.gen_range(2 * HOUR..5 * HOUR);
    }
}

fn count(g: &mut HostGen, base: f64, rate: f64) -> usize {
    let x = base * rate;
    let whole = x.floor() as usize;
    whole + usize::from(g.chance(x - whole as f64))
}

/// The session's winlogon.exe, which Sysmon saw start before the period.
fn winlogon(g: &HostGen) -> Proc {
    Proc {
        guid: format!("{:08X}-0000-0000-0001-000000000800", g.host.rid),
        pid: 700,
        image: "C:\\Windows\\System32\\winlogon.exe".into(),
        cmd: "winlogon.exe".into(),
        user: SYSTEM_USER.into(),
        logon_id: "0x3e7".into(),
    }
}

/// An interactive session: logon, userinit, explorer. Returns explorer.
pub fn session_start(
    g: &mut HostGen,
    t: Us,
    who: &Account,
    logon_type: i64,
    ip: &str,
    ws: &str,
) -> (Proc, String) {
    let process = if logon_type == 10 || logon_type == 2 {
        "C:\\Windows\\System32\\svchost.exe"
    } else {
        "C:\\Windows\\System32\\winlogon.exe"
    };
    let logon_id = g.logon(t, who, logon_type, ip, ws, process, "Negotiate");
    let winlogon = winlogon(g);
    let user = who.qualified();
    let t1 = g.later(t, 900);
    let userinit = g.proc(
        t1,
        &winlogon,
        "C:\\Windows\\System32\\userinit.exe",
        "C:\\Windows\\system32\\userinit.exe",
        &user,
        &logon_id,
        "Medium",
        "C:\\Windows\\system32\\",
    );
    let t2 = g.later(t1, 600);
    let explorer = g.proc(
        t2,
        &userinit,
        "C:\\Windows\\explorer.exe",
        "C:\\Windows\\Explorer.EXE",
        &user,
        &logon_id,
        if who.admin { "High" } else { "Medium" },
        "C:\\Windows\\system32\\",
    );
    (explorer, logon_id)
}

fn edge_session(g: &mut HostGen, t: Us, explorer: &Proc, ctx: &Ctx) {
    let user = explorer.user.clone();
    let lid = explorer.logon_id.clone();
    let home = format!("C:\\Users\\{}\\", user.split('\\').nth(1).unwrap_or("user"));
    let edge = g.proc(
        t,
        explorer,
        EDGE,
        &format!("\"{EDGE}\" --single-argument https://www.ccpab.bzh/"),
        &user,
        &lid,
        "Medium",
        &home,
    );
    let renderers = count(g, 3.0, ctx.rate.min(2.0));
    for i in 0..renderers {
        let tt = g.later(t, 4000 + i as i64 * 1000);
        let cmd = format!("\"{EDGE}\" --type=renderer --lang=fr --js-flags=--ms-user-locale= --device-scale-factor=1 --num-raster-threads=2 --renderer-client-id={} --mojo-platform-channel-handle={} /prefetch:1", 5 + i, 3000 + g.rng.gen_range(0..2000));
        g.proc(tt, &edge, EDGE, &cmd, &user, &lid, "Low", &home);
    }
    let visits = count(g, 6.0, ctx.rate);
    let mut tt = t;
    for _ in 0..visits {
        tt += g.rng.gen_range(5..300) * SEC;
        let site = *g.pick(SITES);
        let ip = public_ip(site);
        g.dns(tt, &edge, site, &ip);
        g.net(tt + 30_000, &edge, "tcp", &ip, 443, site, true);
        if g.chance(0.5) {
            let cdn = *g.pick(CDN);
            let cip = public_ip(cdn);
            g.dns(tt + 80_000, &edge, cdn, &cip);
            g.net(tt + 120_000, &edge, "tcp", &cip, 443, cdn, true);
        }
        if g.chance(0.08) {
            let n = g.rng.gen_range(1000..9999);
            g.file(
                tt + 2 * SEC,
                &edge,
                &format!("{home}Downloads\\document_{n}.pdf"),
            );
        }
    }
}

fn office_doc(g: &mut HostGen, t: Us, explorer: &Proc) {
    let user = explorer.user.clone();
    let lid = explorer.logon_id.clone();
    let sam = user.split('\\').nth(1).unwrap_or("user").to_string();
    let (image, ext) = if g.chance(0.6) {
        (
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
            "docx",
        )
    } else {
        (
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
            "xlsx",
        )
    };
    let n = g.rng.gen_range(1..400);
    let doc = format!("\\\\SRV-FIC01\\Commun\\Dossiers\\{n:03}_note.{ext}");
    let p = g.proc(
        t,
        explorer,
        image,
        &format!("\"{image}\" /n \"{doc}\""),
        &user,
        &lid,
        "Medium",
        &format!("C:\\Users\\{sam}\\Documents\\"),
    );
    let t1 = g.later(t, 5000);
    let r0 = g.rng.gen::<u32>();
    g.file(t1, &p, &format!("C:\\Users\\{sam}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.MSO\\{:08X}.tmp", r0));
    let key = format!(
        "HKU\\{}\\Software\\Microsoft\\Office\\16.0\\{}\\Reading Locations\\Document 0\\File Path",
        g.org
            .users
            .iter()
            .find(|u| u.sam == sam)
            .map(|u| u.sid())
            .unwrap_or_default(),
        if ext == "docx" { "Word" } else { "Excel" }
    );
    let r1 = g.later(t1, 3000);
    g.reg(r1, &p, &key, &doc);
}

fn background_task(g: &mut HostGen, t: Us) {
    let sched = g.scheduler.clone();
    let choice = g.rng.gen_range(0..6);
    let (image, cmd, user): (&str, String, &str) = match choice {
        0 => ("C:\\Windows\\System32\\taskhostw.exe", "taskhostw.exe Install $(Arg0)".into(), SYSTEM_USER),
        1 => ("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MpCmdRun.exe", "\"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MpCmdRun.exe\" -IdleTask -TaskName WdCacheMaintenance".into(), SYSTEM_USER),
        2 => ("C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe", "\"C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe\" /ua /installsource scheduler".into(), SYSTEM_USER),
        3 => ("C:\\Windows\\System32\\CompatTelRunner.exe", "C:\\Windows\\system32\\compattelrunner.exe -maintenance".into(), SYSTEM_USER),
        4 => ("C:\\Windows\\System32\\SearchProtocolHost.exe", "\"C:\\Windows\\system32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe5_ Global\\UsGthrCtrlFltPipeMssGthrPipe5 1 -2147483646 \"Software\\Microsoft\\Windows Search\" \"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 6.0 Robot)\" \"C:\\ProgramData\\Microsoft\\Search\\Data\\Temp\\usgthrsvc\" \"DownLevelDaemon\"".into(), SYSTEM_USER),
        _ => ("C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding".into(), crate::host::NETWORK_SERVICE_USER),
    };
    let p = g.proc(
        t,
        &sched,
        image,
        &cmd,
        user,
        "0x3e7",
        "System",
        "C:\\Windows\\system32\\",
    );
    if choice == 2 {
        let ip = public_ip("msedge.api.cdp.microsoft.com");
        let r2 = g.later(t, 2000);
        g.dns(r2, &p, "msedge.api.cdp.microsoft.com", &ip);
        let r3 = g.later(t, 3000);
        g.net(
            r3,
            &p,
            "tcp",
            &ip,
            443,
            "msedge.api.cdp.microsoft.com",
            true,
        );
    }
    if choice == 1 {
        let r4 = g.later(t, 4000);
        g.file(
            r4,
            &p,
            "C:\\ProgramData\\Microsoft\\Windows Defender\\Scans\\History\\CacheManager\\MpSfc.bin",
        );
    }
}

fn workstation(g: &mut HostGen, ctx: &Ctx) {
    let host = g.host;
    let owner = &g.org.users[host.owner.expect("PCs have owners")];
    let who = Account::of(owner);
    let always_on = pc_always_on(ctx.seed, host);
    for day in 0..DAYS {
        let Some(pd) = pc_day(ctx.seed, ctx.tl, host, day) else {
            if always_on {
                for _ in 0..count(g, 10.0, ctx.rate) {
                    let t = g.jitter(ctx.tl.at(day, 0, 0, 0), 24 * HOUR);
                    if t < ctx.tl.end() {
                        background_task(g, t);
                    }
                }
            }
            continue;
        };
        if !always_on {
            boot(g, pd.arrive - 4 * MIN);
        }
        let (explorer, lid) = session_start(g, pd.arrive, &who, 2, "127.0.0.1", &host.name);
        let user = explorer.user.clone();
        let sam = owner.sam.clone();
        let home = format!("C:\\Users\\{sam}\\");
        // Outlook and Teams for the day.
        let outlook_img = "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE";
        let t_out = g.later(pd.arrive, 120_000);
        let outlook = g.proc(
            t_out,
            &explorer,
            outlook_img,
            &format!("\"{outlook_img}\" "),
            &user,
            &lid,
            "Medium",
            &home,
        );
        let mut t = t_out;
        for _ in 0..count(g, 12.0, ctx.rate) {
            t += g.rng.gen_range(10..50) * MIN;
            if t > pd.leave {
                break;
            }
            let ip = public_ip("outlook.office365.com");
            g.dns(t, &outlook, "outlook.office365.com", &ip);
            g.net(
                t + 50_000,
                &outlook,
                "tcp",
                &ip,
                443,
                "outlook.office365.com",
                true,
            );
        }
        let teams_img =
            format!("C:\\Users\\{sam}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe");
        let r5 = g.later(t_out, 60_000);
        let teams = g.proc(
            r5,
            &explorer,
            &teams_img,
            &format!("\"{teams_img}\" --process-start-time {}", pd.arrive / 10),
            &user,
            &lid,
            "Medium",
            &home,
        );
        let mut t = t_out;
        for _ in 0..count(g, 15.0, ctx.rate) {
            t += g.rng.gen_range(5..40) * MIN;
            if t > pd.leave {
                break;
            }
            let name = *g.pick(&[
                "teams.microsoft.com",
                "presence.teams.microsoft.com",
                "trouter.teams.microsoft.com",
            ]);
            let ip = public_ip(name);
            g.dns(t, &teams, name, &ip);
            g.net(t + 40_000, &teams, "tcp", &ip, 443, name, true);
        }
        // Browsing and documents through the day.
        for _ in 0..count(g, 8.0, ctx.rate) {
            let t = g.jitter(pd.arrive + 10 * MIN, pd.leave - pd.arrive - 20 * MIN);
            if t > pd.lunch_out && t < pd.lunch_in {
                continue;
            }
            edge_session(g, t, &explorer, ctx);
        }
        for _ in 0..count(g, 8.0, ctx.rate) {
            let t = g.jitter(pd.arrive + 10 * MIN, pd.leave - pd.arrive - 20 * MIN);
            office_doc(g, t, &explorer);
        }
        // Business application of the service.
        let app = match owner.service {
            "FIN" | "RH" => {
                Some("C:\\Program Files (x86)\\Berger-Levrault\\e.magnus\\GF\\emagnus.exe")
            }
            "ETATCIVIL" | "ACCUEIL" => {
                Some("C:\\Program Files (x86)\\Berger-Levrault\\BL.Etat-Civil\\BLEC.exe")
            }
            "CIAS" => {
                Some("C:\\Program Files (x86)\\Arche MC2\\Millesime Action Sociale\\millesime.exe")
            }
            "ENFANCE" => Some("C:\\Program Files (x86)\\Arpege\\Concerto\\Concerto.exe"),
            _ => None,
        };
        if let Some(app) = app {
            let r6 = g.later(pd.arrive, 600_000);
            let p = g.proc(
                r6,
                &explorer,
                app,
                &format!("\"{app}\""),
                &user,
                &lid,
                "Medium",
                &home,
            );
            let server = if owner.service == "CIAS" {
                "10.0.10.22"
            } else {
                "10.0.10.21"
            };
            for _ in 0..count(g, 10.0, ctx.rate) {
                let t = g.jitter(pd.arrive + 15 * MIN, pd.leave - pd.arrive - 30 * MIN);
                g.net(t, &p, "tcp", server, 1433, "", true);
            }
        }
        // Lunch: lock, unlock.
        lock(g, pd.lunch_out, &who, &lid, 4800);
        let t_unlock = pd.lunch_in;
        lock(g, t_unlock, &who, &lid, 4801);
        g.logon(
            t_unlock,
            &who,
            7,
            "127.0.0.1",
            &host.name,
            "C:\\Windows\\System32\\svchost.exe",
            "Negotiate",
        );
        // Background tasks during the day, registry churn.
        for _ in 0..count(g, 14.0, ctx.rate) {
            let t = g.jitter(pd.arrive, pd.leave - pd.arrive);
            background_task(g, t);
        }
        for _ in 0..count(g, 10.0, ctx.rate) {
            let t = g.jitter(pd.arrive, pd.leave - pd.arrive);
            let key = format!("HKU\\{}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\MRUListEx", owner.sid());
            g.reg(t, &explorer, &key, "Binary Data");
        }
        // Logoff.
        let data = vec![
            ("TargetUserSid", V::from(who.sid.clone())),
            ("TargetUserName", who.name.clone().into()),
            ("TargetDomainName", who.domain.clone().into()),
            ("TargetLogonId", lid.clone().into()),
        ];
        g.push(
            pd.leave,
            Channel::Security,
            Provider::SecurityAuditing,
            4647,
            data,
        );
        g.logoff(pd.leave + SEC, &who, &lid, 2);
        if !always_on {
            shutdown(g, pd.leave + 30 * SEC);
        } else {
            for _ in 0..count(g, 6.0, ctx.rate) {
                let t = g.jitter(pd.leave + HOUR, 10 * HOUR);
                background_task(g, t);
            }
        }
    }
}

fn lock(g: &mut HostGen, t: Us, who: &Account, lid: &str, eid: u16) {
    let data = vec![
        ("TargetUserSid", V::from(who.sid.clone())),
        ("TargetUserName", who.name.clone().into()),
        ("TargetDomainName", who.domain.clone().into()),
        ("TargetLogonId", lid.to_string().into()),
        ("SessionId", 1i64.into()),
    ];
    g.push(t, Channel::Security, Provider::SecurityAuditing, eid, data);
}

fn boot(g: &mut HostGen, t: Us) {
    g.push(
        t,
        Channel::System,
        Provider::KernelGeneral,
        12,
        vec![
            ("MajorVersion", 10i64.into()),
            ("MinorVersion", 0i64.into()),
            ("BuildVersion", 19045i64.into()),
            ("QfeVersion", 3930i64.into()),
            ("ServiceVersion", 0i64.into()),
            ("BootMode", 0i64.into()),
            ("StartTime", crate::clock::iso(t).into()),
        ],
    );
    let services = g.services.clone();
    for (i, svc) in [
        "-k DcomLaunch -p",
        "-k RPCSS -p",
        "-k LocalServiceNetworkRestricted -p",
        "-k netsvcs -p -s Schedule",
        "-k NetworkService -p",
        "-k LocalSystemNetworkRestricted -p",
    ]
    .iter()
    .enumerate()
    {
        let tt = t + 20 * SEC + i as i64 * 150_000;
        g.proc(
            tt,
            &services,
            "C:\\Windows\\System32\\svchost.exe",
            &format!("C:\\Windows\\system32\\svchost.exe {svc}"),
            SYSTEM_USER,
            "0x3e7",
            "System",
            "C:\\Windows\\system32\\",
        );
    }
    for (i, name) in [
        "Client DHCP",
        "Client DNS",
        "Windows Defender Antivirus Service",
        "Planificateur de tâches",
        "Spouleur d'impression",
    ]
    .iter()
    .enumerate()
    {
        g.service_state(t + 30 * SEC + i as i64 * SEC, name, true);
    }
}

fn shutdown(g: &mut HostGen, t: Us) {
    for (i, name) in ["Spouleur d'impression", "Windows Update", "Client DNS"]
        .iter()
        .enumerate()
    {
        g.service_state(t + i as i64 * 200_000, name, false);
    }
}

/// Defender health and signature updates, Windows Update, service churn.
fn os_housekeeping(g: &mut HostGen, ctx: &Ctx) {
    let pc = g.host.is_pc();
    for day in 0..DAYS {
        let on = !pc
            || pc_always_on(ctx.seed, g.host)
            || pc_day(ctx.seed, ctx.tl, g.host, day).is_some();
        if !on {
            continue;
        }
        let (from, span) = match pc_day(ctx.seed, ctx.tl, g.host, day) {
            Some(pd) if pc && !pc_always_on(ctx.seed, g.host) => (pd.arrive, pd.leave - pd.arrive),
            _ => (ctx.tl.at(day, 0, 0, 0), 24 * HOUR),
        };
        for _ in 0..2 {
            let t = g.jitter(from, span);
            if t >= ctx.tl.end() {
                continue;
            }
            g.push(
                t,
                Channel::Defender,
                Provider::Defender,
                2000,
                vec![
                    ("Product Name", "Microsoft Defender Antivirus".into()),
                    ("Product Version", "4.18.23110.3".into()),
                    (
                        "Current security intelligence Version",
                        format!("1.403.{}.0", 1700 + day * 40).into(),
                    ),
                    (
                        "Previous security intelligence Version",
                        format!("1.403.{}.0", 1660 + day * 40).into(),
                    ),
                    ("Security intelligence Type Index", "2".into()),
                    ("Security intelligence Type", "AntiVirus".into()),
                    ("Update Type Index", "1".into()),
                    ("Update Type", "Delta".into()),
                    ("Current Engine Version", "1.1.23110.2".into()),
                    ("Previous Engine Version", "1.1.23110.2".into()),
                ],
            );
        }
        for _ in 0..count(g, 12.0, ctx.rate.max(0.5)) {
            let t = g.jitter(from, span);
            if t >= ctx.tl.end() {
                continue;
            }
            let name = *g.pick(&[
                "Windows Update",
                "Service de transfert intelligent en arrière-plan (BITS)",
                "Programme d'installation pour les modules Windows",
                "Service Windows Defender Antivirus Network Inspection",
                "Service de stratégie de diagnostic",
                "WinHTTP Web Proxy Auto-Discovery Service",
            ]);
            g.service_state(t, name, true);
            let r7 = g.rng.gen_range(30..600);
            g.service_state(t + r7 * SEC, name, false);
        }
        // Patch Tuesday on the second Tuesday; installed the next day.
        if ctx.tl.weekday(day) == 2 && day >= 2 {
            let t = g.jitter(from + HOUR, span.max(2 * HOUR) - HOUR);
            let sched = g.scheduler.clone();
            let tw = g.proc(t, &sched, "C:\\Windows\\WinSxS\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.3920_none_7e5e5f3fb0e3f8c2\\TiWorker.exe", "C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.3920_none_7e5e5f3fb0e3f8c2\\TiWorker.exe -Embedding", SYSTEM_USER, "0x3e7", "System", "C:\\Windows\\system32\\");
            for (i, kb) in [
                "Mise à jour cumulative 2026-01 pour Windows (KB5034122)",
                "Mise à jour de la sécurité pour Microsoft Defender Antivirus (KB2267602)",
            ]
            .iter()
            .enumerate()
            {
                g.push(
                    t + 20 * MIN + i as i64 * MIN,
                    Channel::System,
                    Provider::WindowsUpdateClient,
                    19,
                    vec![
                        ("updateTitle", (*kb).into()),
                        (
                            "updateGuid",
                            format!(
                                "{{{:08x}-5b3c-4a9e-9f1e-{:012x}}}",
                                crate::org::fnv(kb) as u32,
                                crate::org::fnv(kb) & 0xFFFF_FFFF_FFFF
                            )
                            .into(),
                        ),
                        ("updateRevisionNumber", 1i64.into()),
                        (
                            "serviceGuid",
                            "{7971f918-a847-4430-9279-4a52d1efe18d}".into(),
                        ),
                    ],
                );
            }
            g.file(t + 5 * MIN, &tw, "C:\\Windows\\SoftwareDistribution\\Download\\a7f3c2\\Windows10.0-KB5034122-x64.cab");
        }
    }
}

fn server(g: &mut HostGen, ctx: &Ctx) {
    let name = g.host.name.clone();
    let tl = ctx.tl;
    // Scheduled tasks and WMI on every server around the clock.
    for day in 0..DAYS {
        for _ in 0..count(g, 24.0, ctx.rate.max(0.5)) {
            let t = g.jitter(tl.at(day, 0, 0, 0), 24 * HOUR);
            if t < tl.end() {
                background_task(g, t);
            }
        }
    }
    match name.as_str() {
        "DC01" | "DC02" => domain_controller(g, ctx),
        "SRV-FIC01" => file_server(g, ctx),
        "SRV-APP01" | "SRV-SOC01" => app_server(g, ctx),
        "SRV-RDS01" => rds(g, ctx),
        "SRV-BKP01" => backup_server(g, ctx),
        "SRV-WEB01" => web_server(g, ctx),
        _ => {}
    }
    backup_target(g, ctx);
    admin_work(g, ctx);
}

/// Kerberos, group-policy refreshes and network logons of every domain
/// member, on the DC that serves it.
fn domain_controller(g: &mut HostGen, ctx: &Ctx) {
    let org = g.org;
    let me = g.host.name.clone();
    let dc_name = me.clone();
    for h in org.hosts.iter().filter(|h| h.is_windows_domain()) {
        if org.dc_for(h) != me {
            continue;
        }
        let machine = Account::machine(h);
        let always = !h.is_pc() || pc_always_on(ctx.seed, h);
        for day in 0..DAYS {
            let pd = pc_day(ctx.seed, ctx.tl, h, day);
            let (from, to) = match (&pd, always) {
                (_, true) => (
                    ctx.tl.at(day, 0, 0, 0),
                    ctx.tl.at(day + 1, 0, 0, 0).min(ctx.tl.end()),
                ),
                (Some(pd), false) => (pd.arrive - 4 * MIN, pd.leave),
                (None, false) => continue,
            };
            // Machine GPO refresh every ~90 minutes (randomised ±30).
            let mut t = from + g.rng.gen_range(0..30 * MIN);
            let step = (90.0 / ctx.rate.clamp(0.3, 3.0)) as i64;
            while t < to {
                let lid = g.logon(t, &machine, 3, &h.ip, "", "-", "Kerberos");
                g.tgs(
                    t,
                    &machine,
                    &format!("{dc_name}$"),
                    &format!(
                        "{}-{}",
                        crate::org::DOMAIN_SID,
                        if dc_name == "DC01" { 1000 } else { 1001 }
                    ),
                    &h.ip,
                    "0x40810000",
                    "0x12",
                );
                for file in ["ccpab.local\\Policies\\{31B2F340-016D-11D2-945F-00C04FB984F9}\\gpt.ini", "ccpab.local\\Policies\\{31B2F340-016D-11D2-945F-00C04FB984F9}\\Machine\\Registry.pol"] {
                    g.share_check(t + 200_000, &machine, &lid, &h.ip, "SYSVOL", "C:\\Windows\\SYSVOL\\sysvol", file, "0x120089", "%%1538\n\t\t\t\t%%1541\n\t\t\t\t%%4416\n\t\t\t\t%%4419\n\t\t\t\t%%4423\n\t\t\t\t");
                }
                g.logoff(t + 2 * SEC, &machine, &lid, 3);
                t += step * MIN + g.rng.gen_range(-30 * MIN..30 * MIN);
            }
            // The owner's logon: TGT and service tickets.
            if let (Some(pd), Some(owner)) = (pd, h.owner) {
                let who = Account::of(&org.users[owner]);
                let t = pd.arrive - 300_000;
                g.tgt(t, &who, &h.ip);
                for (svc, rid) in [
                    (format!("{}$", h.name), h.rid),
                    ("SRV-FIC01$".to_string(), 1002),
                    (format!("{dc_name}$"), 1000),
                ] {
                    g.tgs(
                        t + 200_000,
                        &who,
                        &svc,
                        &format!("{}-{rid}", crate::org::DOMAIN_SID),
                        &h.ip,
                        "0x40810000",
                        "0x12",
                    );
                }
                let lid = g.logon(t + 400_000, &who, 3, &h.ip, "", "-", "Kerberos");
                g.logoff(t + 900_000, &who, &lid, 3);
                g.tgs(
                    pd.lunch_in,
                    &who,
                    &format!("{}$", h.name),
                    &format!("{}-{}", crate::org::DOMAIN_SID, h.rid),
                    &h.ip,
                    "0x40810000",
                    "0x12",
                );
            }
        }
    }
    // Teleworkers authenticate on DC01 (RDS session), backups on DC01.
    if me == "DC01" {
        for day in 0..DAYS {
            for tw in teleworkers(ctx.seed, ctx.tl, org, day) {
                let who = Account::of(&org.users[tw.user]);
                g.tgt(tw.start + 2 * SEC, &who, "10.0.10.24");
                g.tgs(
                    tw.start + 3 * SEC,
                    &who,
                    "SRV-RDS01$",
                    &format!("{}-1006", crate::org::DOMAIN_SID),
                    "10.0.10.24",
                    "0x40810000",
                    "0x12",
                );
            }
            let t = ctx.tl.at(day, 22, 0, 5);
            if t < ctx.tl.end() {
                let who = Account::of(org.user("svc_veeam"));
                g.tgt(t, &who, "10.0.10.23");
                for target in [
                    "SRV-FIC01",
                    "SRV-APP01",
                    "SRV-SOC01",
                    "SRV-WEB01",
                    "SRV-RDS01",
                    "DC01",
                ] {
                    let h = org.host(target);
                    g.tgs(
                        t + SEC,
                        &who,
                        &format!("{target}$"),
                        &format!("{}-{}", crate::org::DOMAIN_SID, h.rid),
                        "10.0.10.23",
                        "0x40810000",
                        "0x12",
                    );
                }
            }
        }
    }
}

/// Staff open their service's share on SRV-FIC01.
fn file_server(g: &mut HostGen, ctx: &Ctx) {
    let org = g.org;
    for h in org.pcs() {
        let owner = &org.users[h.owner.expect("owner")];
        let who = Account::of(owner);
        let share = match owner.service {
            "CIAS" => ("CIAS", "D:\\Partages\\CIAS"),
            "RH" => ("RH", "D:\\Partages\\RH"),
            "ETATCIVIL" | "ACCUEIL" => ("Etat-civil", "D:\\Partages\\Etat-civil"),
            _ => ("Commun", "D:\\Partages\\Commun"),
        };
        for day in 0..DAYS {
            let Some(pd) = pc_day(ctx.seed, ctx.tl, h, day) else {
                continue;
            };
            let lid = g.logon(pd.arrive + 40 * SEC, &who, 3, &h.ip, "", "-", "Kerberos");
            g.share_access(pd.arrive + 41 * SEC, &who, &lid, &h.ip, share.0, share.1);
            if share.0 != "Commun" {
                g.share_access(
                    pd.arrive + 42 * SEC,
                    &who,
                    &lid,
                    &h.ip,
                    "Commun",
                    "D:\\Partages\\Commun",
                );
            }
            for _ in 0..count(g, 3.0, ctx.rate) {
                let t = g.jitter(pd.arrive + MIN, pd.leave - pd.arrive - 2 * MIN);
                let rel = format!("Dossiers\\{:03}_note.docx", g.rng.gen_range(1..400));
                g.share_check(t, &who, &lid, &h.ip, share.0, share.1, &rel, "0x120089", "%%1538\n\t\t\t\t%%1541\n\t\t\t\t%%4416\n\t\t\t\t%%4419\n\t\t\t\t%%4423\n\t\t\t\t");
            }
            g.logoff(pd.leave + 5 * SEC, &who, &lid, 3);
        }
    }
}

fn app_server(g: &mut HostGen, ctx: &Ctx) {
    let org = g.org;
    let is_app = g.host.name == "SRV-APP01";
    let services = g.services.clone();
    let sql = if is_app {
        Some(g.proc(ctx.tl.at(0, 0, 0, 1) - HOUR, &services, "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe", "\"C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe\" -sMSSQLSERVER", "CCPAB\\svc_sql", "0x3e7", "System", "C:\\Windows\\system32\\"))
    } else {
        None
    };
    for h in org.pcs() {
        let owner = &org.users[h.owner.expect("owner")];
        let relevant = if is_app {
            matches!(owner.service, "FIN" | "RH")
        } else {
            owner.service == "CIAS"
        };
        if !relevant {
            continue;
        }
        let who = Account::of(owner);
        for day in 0..DAYS {
            let Some(pd) = pc_day(ctx.seed, ctx.tl, h, day) else {
                continue;
            };
            let lid = g.logon(pd.arrive + 10 * MIN, &who, 3, &h.ip, "", "-", "Kerberos");
            if let Some(sql) = &sql {
                for _ in 0..count(g, 4.0, ctx.rate) {
                    let t = g.jitter(pd.arrive + 10 * MIN, pd.leave - pd.arrive - 20 * MIN);
                    g.net(t, sql, "tcp", &h.ip, 1433, "", false);
                }
            }
            g.logoff(pd.leave, &who, &lid, 3);
        }
    }
}

fn rds(g: &mut HostGen, ctx: &Ctx) {
    let org = g.org;
    for day in 0..DAYS {
        for tw in teleworkers(ctx.seed, ctx.tl, org, day) {
            let who = Account::of(&org.users[tw.user]);
            rdp_logon_events(g, tw.start + 5 * SEC, &who, &tw.tunnel_ip);
            let (explorer, lid) = session_start(
                g,
                tw.start + 6 * SEC,
                &who,
                10,
                &tw.tunnel_ip,
                &format!("PC-DOMICILE-{}", tw.user),
            );
            for _ in 0..count(g, 4.0, ctx.rate) {
                let t = g.jitter(tw.start + MIN, tw.end - tw.start - 2 * MIN);
                office_doc(g, t, &explorer);
            }
            for _ in 0..count(g, 3.0, ctx.rate) {
                let t = g.jitter(tw.start + MIN, tw.end - tw.start - 2 * MIN);
                edge_session(g, t, &explorer, ctx);
            }
            g.logoff(tw.end, &who, &lid, 10);
            g.push(
                tw.end,
                Channel::RdpLocalSession,
                Provider::RdpLocalSession,
                23,
                vec![("User", who.qualified().into()), ("SessionID", 3i64.into())],
            )
            .payload = Payload::UserData {
                element: "EventXML",
                xmlns: "Event_NS",
            };
        }
    }
}

/// Remote Desktop: 1149 (authenticated), then 21/22 (session logon, shell).
pub fn rdp_logon_events(g: &mut HostGen, t: Us, who: &Account, ip: &str) {
    g.push(
        t,
        Channel::RdpConnectionManager,
        Provider::RdpConnectionManager,
        1149,
        vec![
            ("Param1", who.name.clone().into()),
            ("Param2", who.domain.clone().into()),
            ("Param3", ip.to_string().into()),
        ],
    )
    .payload = Payload::UserData {
        element: "EventXML",
        xmlns: "Event_NS",
    };
    for (i, eid) in [21u16, 22].iter().enumerate() {
        g.push(
            t + 1_500_000 + i as i64 * 300_000,
            Channel::RdpLocalSession,
            Provider::RdpLocalSession,
            *eid,
            vec![
                ("User", who.qualified().into()),
                ("SessionID", 3i64.into()),
                ("Address", ip.to_string().into()),
            ],
        )
        .payload = Payload::UserData {
            element: "EventXML",
            xmlns: "Event_NS",
        };
    }
}

fn backup_server(g: &mut HostGen, ctx: &Ctx) {
    let services = g.services.clone();
    let mgr_img =
        "C:\\Program Files\\Veeam\\Backup and Replication\\Backup\\Veeam.Backup.Manager.exe";
    let agent_img = "C:\\Program Files (x86)\\Veeam\\Backup Transport\\x64\\VeeamAgent.exe";
    let org = g.org;
    for day in 0..DAYS {
        let t = ctx.tl.at(day, 22, 0, 0);
        if t >= ctx.tl.end() {
            continue;
        }
        let job = *g.pick(&[
            "Sauvegarde quotidienne serveurs",
            "Sauvegarde quotidienne fichiers",
        ]);
        let mgr = g.proc(
            t,
            &services,
            mgr_img,
            &format!(
                "\"{mgr_img}\" startbackupjob -id {:08x}-1f2e-4c5d-8a9b-{:012x} \"{job}\"",
                crate::org::fnv(job) as u32,
                day as u64 * 7919
            ),
            "CCPAB\\svc_veeam",
            "0x3e7",
            "System",
            "C:\\Program Files\\Veeam\\Backup and Replication\\Backup\\",
        );
        for (i, target) in [
            "SRV-FIC01",
            "SRV-APP01",
            "SRV-SOC01",
            "SRV-WEB01",
            "SRV-RDS01",
            "DC01",
        ]
        .iter()
        .enumerate()
        {
            let h = org.host(target);
            let tt = t + (i as i64 * 20 + 2) * MIN;
            let agent = g.proc(tt, &mgr, agent_img, &format!("\"{agent_img}\" -l \"C:\\ProgramData\\Veeam\\Backup\\{job}\\Agent.Target.{target}.log\" -t 10 -s"), "CCPAB\\svc_veeam", "0x3e7", "System", "C:\\Windows\\system32\\");
            g.net(tt + SEC, &agent, "tcp", &h.ip, 445, &h.computer(), true);
            g.net(
                tt + 2 * SEC,
                &agent,
                "tcp",
                &h.ip,
                2500,
                &h.computer(),
                true,
            );
            let r8 = g.rng.gen::<u16>();
            g.file(
                tt + 15 * MIN,
                &agent,
                &format!(
                    "E:\\Backups\\{job}\\{target}\\{target}D2026-01-{:02}T220000_{:04X}.vib",
                    10 + day,
                    r8
                ),
            );
        }
        // Nightly maintenance of the configuration database (legitimate sqlcmd).
        let sched = g.scheduler.clone();
        let sqlcmd = "C:\\Program Files\\Microsoft SQL Server\\Client SDK\\ODBC\\170\\Tools\\Binn\\SQLCMD.EXE";
        g.proc(t + 2 * HOUR + 30 * MIN, &sched, sqlcmd, &format!("\"{sqlcmd}\" -S localhost\\VEEAMSQL2016 -E -Q \"BACKUP DATABASE [VeeamBackup] TO DISK = N'E:\\ConfigBackup\\VeeamBackup.bak' WITH INIT\""), "CCPAB\\svc_veeam", "0x3e7", "System", "C:\\Windows\\system32\\");
    }
}

/// Network logon of the backup account on the servers Veeam protects.
fn backup_target(g: &mut HostGen, ctx: &Ctx) {
    let name = g.host.name.as_str();
    let Some(i) = [
        "SRV-FIC01",
        "SRV-APP01",
        "SRV-SOC01",
        "SRV-WEB01",
        "SRV-RDS01",
        "DC01",
    ]
    .iter()
    .position(|n| *n == name) else {
        return;
    };
    let who = Account::of(g.org.user("svc_veeam"));
    for day in 0..DAYS {
        let t = ctx.tl.at(day, 22, 0, 0) + (i as i64 * 20 + 2) * MIN + SEC;
        if t >= ctx.tl.end() {
            continue;
        }
        let lid = g.logon(t, &who, 3, "10.0.10.23", "SRV-BKP01", "-", "Kerberos");
        g.logoff(t + 18 * MIN, &who, &lid, 3);
    }
}

fn web_server(g: &mut HostGen, ctx: &Ctx) {
    let services = g.services.clone();
    let w3wp = g.proc(ctx.tl.at(0, 3, 0, 0), &services, "C:\\Windows\\System32\\inetsrv\\w3wp.exe", "c:\\windows\\system32\\inetsrv\\w3wp.exe -ap \"PortailFamilles\" -v \"v4.0\" -l \"webengine4.dll\" -a \\\\.\\pipe\\iisipm5c2e -h \"C:\\inetpub\\temp\\apppools\\PortailFamilles\\PortailFamilles.config\" -w \"\" -m 0 -t 20 -ta 0", "IIS APPPOOL\\PortailFamilles", "0x3e7", "System", "C:\\Windows\\system32\\");
    for day in 0..DAYS {
        for _ in 0..count(g, 150.0, ctx.rate) {
            let t = g.jitter(ctx.tl.at(day, 6, 0, 0), 17 * HOUR);
            if t >= ctx.tl.end() {
                continue;
            }
            let ip = public_ip(&format!("famille{}", g.rng.gen_range(0..3000)));
            g.net(t, &w3wp, "tcp", &ip, 443, "", false);
        }
        for _ in 0..count(g, 40.0, ctx.rate) {
            let t = g.jitter(ctx.tl.at(day, 6, 0, 0), 17 * HOUR);
            if t < ctx.tl.end() {
                g.net(
                    t,
                    &w3wp,
                    "tcp",
                    "10.0.10.21",
                    1433,
                    "SRV-APP01.ccpab.local",
                    true,
                );
            }
        }
    }
}

/// IT staff (`adm.tech01`, `adm.tech02`) administer servers over RDP
/// from their PCs, with legitimate `net`, `sc` and PowerShell.
fn admin_work(g: &mut HostGen, ctx: &Ctx) {
    let org = g.org;
    let name = g.host.name.clone();
    for day in 0..DAYS {
        if !ctx.tl.is_workday(day) || day >= DAYS - 1 {
            continue;
        }
        let mut r = rng_for(ctx.seed, "admin-plan", day);
        // Which servers get an admin session today (same plan on every host).
        let servers: Vec<&Host> = org.windows_servers().collect();
        let n = r.gen_range(2..5);
        let mut sessions = Vec::new();
        for k in 0..n {
            let s = servers[r.gen_range(0..servers.len())].name.clone();
            let admin = if k % 3 == 2 {
                "adm.tech02"
            } else {
                "adm.tech01"
            };
            let start = ctx.tl.at(day, 9, 0, 0) + r.gen_range(0..7 * 60) * MIN;
            sessions.push((s, admin, start));
        }
        for (s, admin, start) in sessions {
            if s != name {
                continue;
            }
            let who = Account::of(org.user(admin));
            let src = org
                .pc_ip(if admin == "adm.tech01" {
                    "PC-INFO-01"
                } else {
                    "PC-INFO-02"
                })
                .to_string();
            let src = src.as_str();
            rdp_logon_events(g, start, &who, src);
            let (explorer, lid) = session_start(
                g,
                start + 2 * SEC,
                &who,
                10,
                src,
                if admin == "adm.tech01" {
                    "PC-INFO-01"
                } else {
                    "PC-INFO-02"
                },
            );
            let user = explorer.user.clone();
            let home = format!("C:\\Users\\{admin}\\");
            let cmd = g.proc(
                start + 3 * MIN,
                &explorer,
                "C:\\Windows\\System32\\cmd.exe",
                "\"C:\\Windows\\system32\\cmd.exe\" ",
                &user,
                &lid,
                "High",
                &home,
            );
            let staff = &org.users[5 + g.rng.gen_range(0..(org.users.len() - 5))]
                .sam
                .clone();
            let grp = *g.pick(&["GG_RH", "GG_Compta", "GG_CIAS", "GG_Enfance"]);
            let commands: Vec<(String, String)> = vec![
                (
                    "C:\\Windows\\System32\\net.exe".into(),
                    format!("net  user {staff} /domain"),
                ),
                (
                    "C:\\Windows\\System32\\net.exe".into(),
                    format!("net  group \"{grp}\" /domain"),
                ),
                (
                    "C:\\Windows\\System32\\sc.exe".into(),
                    "sc  query Spooler".into(),
                ),
                (
                    "C:\\Windows\\System32\\sc.exe".into(),
                    "sc  config wuauserv start= delayed-auto".into(),
                ),
                (
                    "C:\\Windows\\System32\\ipconfig.exe".into(),
                    "ipconfig  /all".into(),
                ),
                (
                    "C:\\Windows\\System32\\gpupdate.exe".into(),
                    "gpupdate  /force".into(),
                ),
            ];
            let mut t = start + 4 * MIN;
            let k = g.rng.gen_range(2..commands.len());
            for (img, line) in commands.iter().skip(g.rng.gen_range(0..2)).take(k) {
                t += g.rng.gen_range(20..240) * SEC;
                let p = g.proc(t, &cmd, img, line, &user, &lid, "High", &home);
                if img.ends_with("net.exe") {
                    let sub = line.replacen("net  ", "C:\\Windows\\system32\\net1  ", 1);
                    let r9 = g.later(t, 50);
                    g.proc(
                        r9,
                        &p,
                        "C:\\Windows\\System32\\net1.exe",
                        &sub,
                        &user,
                        &lid,
                        "High",
                        &home,
                    );
                }
                let r10 = g.later(t, 30);
                g.proc(
                    r10,
                    &p,
                    "C:\\Windows\\System32\\conhost.exe",
                    "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
                    &user,
                    &lid,
                    "High",
                    &home,
                );
            }
            // A PowerShell report script.
            let ps_img = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
            t += g.rng.gen_range(60..600) * SEC;
            g.proc(t, &explorer, ps_img, &format!("\"{ps_img}\" -NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\Rapport-EspaceDisque.ps1"), &user, &lid, "High", &home);
            g.script_block(t + SEC, &who.sid, "Get-CimInstance -ClassName Win32_LogicalDisk -Filter \"DriveType=3\" | Select-Object DeviceID, @{n='LibreGo';e={[math]::Round($_.FreeSpace/1GB,1)}}, @{n='TailleGo';e={[math]::Round($_.Size/1GB,1)}} | Export-Csv -Path \\\\SRV-FIC01\\Commun\\Informatique\\espace-disque.csv -NoTypeInformation -Append", "C:\\Scripts\\Rapport-EspaceDisque.ps1", false);
            if name.starts_with("DC") {
                g.script_block(t + 40 * SEC, &who.sid, "Get-ADUser -Filter {Enabled -eq $true} -Properties LastLogonDate | Where-Object { $_.LastLogonDate -lt (Get-Date).AddDays(-90) } | Select-Object SamAccountName, LastLogonDate", "", false);
            }
            let end = t + g.rng.gen_range(10..60) * MIN;
            g.logoff(end, &who, &lid, 10);
        }
        // Tuesday: the new staff member of the childcare service is
        // created and put in their group (a real, benign 4720/4728).
        if name == "DC01" && ctx.tl.weekday(day) == 1 {
            let t = ctx.tl.at(day, 10, 12, 0) + g.rng.gen_range(0..20) * MIN;
            new_staff_account(g, t);
        }
    }
}

fn new_staff_account(g: &mut HostGen, t: Us) {
    let admin = Account::of(g.org.user("adm.tech01"));
    let sid = format!("{}-1490", crate::org::DOMAIN_SID);
    let sam = "lena.kerboul";
    let subj = |d: &mut Vec<(&'static str, V)>| {
        d.push(("SubjectUserSid", admin.sid.clone().into()));
        d.push(("SubjectUserName", admin.name.clone().into()));
        d.push(("SubjectDomainName", admin.domain.clone().into()));
        d.push(("SubjectLogonId", "0x5a3c21".into()));
    };
    let mut d = vec![
        ("TargetUserName", V::from(sam)),
        ("TargetDomainName", "CCPAB".into()),
        ("TargetSid", sid.clone().into()),
    ];
    subj(&mut d);
    d.extend([
        ("PrivilegeList", V::from("-")),
        ("SamAccountName", sam.into()),
        ("DisplayName", "Léna Kerboul".into()),
        ("UserPrincipalName", format!("{sam}@ccpab.local").into()),
        ("HomeDirectory", "-".into()),
        ("HomePath", "-".into()),
        ("ScriptPath", "-".into()),
        ("ProfilePath", "-".into()),
        ("UserWorkstations", "-".into()),
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
    g.push(t, Channel::Security, Provider::SecurityAuditing, 4720, d);
    let mut d = vec![
        ("TargetUserName", V::from(sam)),
        ("TargetDomainName", "CCPAB".into()),
        ("TargetSid", sid.clone().into()),
    ];
    subj(&mut d);
    g.push(
        t + 2 * SEC,
        Channel::Security,
        Provider::SecurityAuditing,
        4722,
        d,
    );
    let mut d = vec![
        (
            "MemberName",
            V::from("CN=Léna Kerboul,OU=Enfance,OU=Utilisateurs,DC=ccpab,DC=local"),
        ),
        ("MemberSid", sid.into()),
        ("TargetUserName", "GG_Enfance".into()),
        ("TargetDomainName", "CCPAB".into()),
        (
            "TargetSid",
            format!("{}-1320", crate::org::DOMAIN_SID).into(),
        ),
    ];
    subj(&mut d);
    d.push(("PrivilegeList", "-".into()));
    g.push(
        t + 40 * SEC,
        Channel::Security,
        Provider::SecurityAuditing,
        4728,
        d,
    );
}

/// Aquatic centre: ticketing open every day (weekends too), turnstiles
/// controller always on.
fn aquatic(g: &mut HostGen, ctx: &Ctx) {
    let caisse = g.host.name == "AQUA-CAISSE01";
    let services = g.services.clone();
    for day in 0..DAYS {
        let t0 = ctx.tl.at(day, 8, 45, 0) + g.rng.gen_range(0..10) * MIN;
        if t0 >= ctx.tl.end() || day == DAYS - 1 {
            continue; // D+1 morning is step 13's
        }
        if caisse {
            let who = Account {
                name: "caisse.aqua".into(),
                domain: "CCPAB".into(),
                sid: format!("{}-1480", crate::org::DOMAIN_SID),
                admin: false,
            };
            let (explorer, lid) = session_start(g, t0, &who, 2, "127.0.0.1", "AQUA-CAISSE01");
            let img = "C:\\Program Files (x86)\\Elisath\\Billetterie\\ElisathBilletterie.exe";
            let app = g.proc(
                t0 + MIN,
                &explorer,
                img,
                &format!("\"{img}\" /caisse=1"),
                &explorer.user.clone(),
                &lid,
                "Medium",
                "C:\\Program Files (x86)\\Elisath\\Billetterie\\",
            );
            for _ in 0..count(g, 60.0, ctx.rate) {
                let t = g.jitter(t0 + 2 * MIN, 11 * HOUR);
                g.net(
                    t,
                    &app,
                    "tcp",
                    "10.0.10.21",
                    1433,
                    "SRV-APP01.ccpab.local",
                    true,
                );
            }
            g.logoff(t0 + 11 * HOUR + 30 * MIN, &who, &lid, 2);
        } else {
            let img = "C:\\Program Files\\Elisath\\ControleAcces\\AccesService.exe";
            let svc = g.proc(
                ctx.tl.at(day, 6, 0, 0),
                &services,
                img,
                &format!("\"{img}\" -service"),
                SYSTEM_USER,
                "0x3e7",
                "System",
                "C:\\Windows\\system32\\",
            );
            for _ in 0..count(g, 40.0, ctx.rate) {
                let t = g.jitter(t0, 12 * HOUR);
                g.net(
                    t,
                    &svc,
                    "tcp",
                    "10.0.30.10",
                    5020,
                    "AQUA-CAISSE01.ccpab.local",
                    true,
                );
            }
        }
    }
}

/// TES-01: the State's passport station. Local accounts, no Sysmon, its
/// own logs for the whole period: proof that it was observed and not
/// reached.
fn tes(g: &mut HostGen, ctx: &Ctx) {
    let agent = Account {
        name: "agent.titres".into(),
        domain: "TES-01".into(),
        sid: "S-1-5-21-1187345560-3958236712-2460341897-1001".into(),
        admin: false,
    };
    for day in 0..DAYS {
        let t = ctx.tl.at(day, 0, 30, 0);
        for i in 0..6 {
            let tt = t + i * 4 * HOUR + g.rng.gen_range(0..60) * MIN;
            if tt < ctx.tl.end() {
                g.service_state(tt, "Windows Update", i % 2 == 0);
            }
        }
        if !ctx.tl.is_workday(day) || day >= DAYS - 1 {
            continue;
        }
        for (h0, h1) in [(8, 12), (13, 17)] {
            let start = ctx.tl.at(day, h0, 30, 0) + g.rng.gen_range(0..20) * MIN;
            let lid = g.logon(
                start,
                &agent,
                2,
                "127.0.0.1",
                "TES-01",
                "C:\\Windows\\System32\\svchost.exe",
                "Negotiate",
            );
            let r11 = g.rng.gen_range(0..30);
            g.logoff(ctx.tl.at(day, h1, 0, 0) + r11 * MIN, &agent, &lid, 2);
        }
    }
}
