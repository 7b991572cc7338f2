//! FW01: FortiGate SSL-VPN and traffic logs, as syslog.
//!
//! Format: RFC 5424 header (FortiOS `set format rfc5424`) with the
//! FortiGate `key=value` payload. The header time carries its UTC offset,
//! so the line is unambiguous; the payload keeps FortiGate's local
//! `date=`/`time=`, `tz=` and nanosecond `eventtime=`.

use rand::Rng;

use crate::attack::{ANYDESK_RELAY, ANYDESK_RELAY_IP, C2_IP, C2_NAME, MEGA_STORAGE, RDS_IP};
use crate::clock::{local_date_time, Us, HOUR, MIN, SEC};
use crate::noise::Ctx;
use crate::org::{Org, ATTACKER_IP, ATTACKER_VPN_IP};
use crate::timeline::{pc_day, public_ip, rng_for, teleworkers, DAYS};

/// One syslog line with its time and attack step (0 = benign).
pub struct FwLine {
    pub t: Us,
    pub line: String,
    pub step: u8,
}

/// Total bytes rclone sends to MEGA (step 9), as the traffic logs add up.
pub struct FwOutput {
    pub lines: Vec<FwLine>,
    pub exfil_bytes: u64,
}

struct W<'a> {
    ctx: &'a Ctx<'a>,
    out: Vec<FwLine>,
    session: u64,
}

impl W<'_> {
    fn emit(&mut self, t: Us, severity: u8, step: u8, body: String) {
        let local = self.ctx.tl.local_of(t);
        let off = (local - t) / HOUR;
        let (date, time) = local_date_time(local);
        let frac = (t.rem_euclid(SEC)) as u32;
        let pri = 23 * 8 + severity as u32;
        let line = format!(
            "<{pri}>1 {date}T{time}.{frac:06}+{off:02}:00 FW01 - - - - date={date} time={time} devname=\"FW01\" devid=\"FG100FTK22012345\" eventtime={} tz=\"+{off:02}00\" {body}",
            t * 1000
        );
        self.out.push(FwLine { t, line, step });
    }

    fn vpn_fail(&mut self, t: Us, step: u8, user: &str, remip: &str) {
        self.emit(t, 1, step, format!("logid=\"0101039426\" type=\"event\" subtype=\"vpn\" level=\"alert\" vd=\"root\" logdesc=\"SSL VPN login fail\" action=\"ssl-login-fail\" tunneltype=\"ssl-web\" tunnelid=0 remip={remip} user=\"{user}\" group=\"N/A\" dst_host=\"N/A\" reason=\"sslvpn_login_permission_denied\" msg=\"SSL user failed to logged in\""));
    }

    #[allow(clippy::too_many_arguments)]
    fn tunnel(
        &mut self,
        t: Us,
        step: u8,
        // `None`: the tunnel comes up; `Some(start)`: it goes down, with
        // the duration and byte counts of the session since `start`.
        down_since: Option<Us>,
        user: &str,
        group: &str,
        remip: &str,
        tunnelip: &str,
        id: u64,
    ) {
        let up = down_since.is_none();
        let (logid, desc, action, reason, msg) = if up {
            (
                "0101039424",
                "SSL VPN tunnel up",
                "tunnel-up",
                "tunnel established",
                "SSL tunnel established",
            )
        } else {
            (
                "0101039425",
                "SSL VPN tunnel down",
                "tunnel-down",
                "connection closed",
                "SSL tunnel shutdown",
            )
        };
        let stats = match down_since {
            Some(start) => {
                let secs = ((t - start) / SEC).max(1);
                // A remote-desktop session: ~12 kB/s down, ~1 kB/s up.
                format!(
                    " duration={secs} sentbyte={} rcvdbyte={}",
                    secs * 12_000,
                    secs * 1_100
                )
            }
            None => String::new(),
        };
        self.emit(t, 5, step, format!("logid=\"{logid}\" type=\"event\" subtype=\"vpn\" level=\"information\" vd=\"root\" logdesc=\"{desc}\" action=\"{action}\" tunneltype=\"ssl-tunnel\" tunnelid={id} remip={remip} tunnelip={tunnelip} user=\"{user}\" group=\"{group}\" dst_host=\"N/A\" reason=\"{reason}\" msg=\"{msg}\"{stats}"));
    }

    #[allow(clippy::too_many_arguments)]
    fn traffic(
        &mut self,
        t: Us,
        step: u8,
        src: &str,
        dst: &str,
        dport: u16,
        duration: i64,
        sent: u64,
        rcvd: u64,
        host: &str,
        outbound: bool,
    ) {
        self.session += 1 + (self.session % 7);
        let sport = 49152 + (self.session * 7919 % 16000);
        let (sintf, dintf, srole, drole, policy, pname) = if outbound {
            ("port2", "wan1", "lan", "wan", 12, "LAN-vers-Internet")
        } else {
            ("wan1", "port3", "wan", "dmz", 20, "Internet-vers-Portail")
        };
        let service = match dport {
            443 => "HTTPS",
            80 => "HTTP",
            53 => "DNS",
            _ => "tcp/6568",
        };
        let hostname = if host.is_empty() {
            String::new()
        } else {
            format!(" hostname=\"{host}\"")
        };
        self.emit(
            t,
            5,
            step,
            format!(
                "logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" srcip={src} srcport={sport} srcintf=\"{sintf}\" srcintfrole=\"{srole}\" dstip={dst} dstport={dport} dstintf=\"{dintf}\" dstintfrole=\"{drole}\" sessionid={} proto=6 action=\"close\" policyid={policy} policytype=\"policy\" policyname=\"{pname}\" service=\"{service}\" trandisp=\"snat\" transip=198.51.100.2 transport={sport} duration={duration} sentbyte={sent} rcvdbyte={rcvd} sentpkt={} rcvdpkt={}{hostname}",
                self.session + 4_000_000,
                sent / 1400 + 1,
                rcvd / 1400 + 1
            ),
        );
    }
}

/// Generates FW01's log for the period.
pub fn generate(org: &Org, ctx: &Ctx) -> FwOutput {
    let tl = ctx.tl;
    let mut w = W {
        ctx,
        out: Vec::new(),
        session: 1000,
    };
    let mut r = rng_for(ctx.seed, "FW01", 0);

    // Benign: staff browsing, the family portal, teleworkers' VPN.
    for h in org.pcs() {
        for day in 0..DAYS {
            let Some(pd) = pc_day(ctx.seed, tl, h, day) else {
                continue;
            };
            let n = (20.0 * ctx.rate) as usize + 1;
            for _ in 0..n {
                let t = pd.arrive + r.gen_range(0..(pd.leave - pd.arrive));
                let site = [
                    "www.service-public.fr",
                    "outlook.office365.com",
                    "teams.microsoft.com",
                    "www.impots.gouv.fr",
                    "www.google.fr",
                    "login.microsoftonline.com",
                ][r.gen_range(0..6)];
                let dur = r.gen_range(1..300);
                w.traffic(
                    t,
                    0,
                    &h.ip,
                    &public_ip(site),
                    443,
                    dur,
                    r.gen_range(800..60_000),
                    r.gen_range(2_000..2_000_000),
                    site,
                    true,
                );
            }
        }
    }
    for day in 0..DAYS {
        let n = (150.0 * ctx.rate) as usize;
        for _ in 0..n {
            let t = tl.at(day, 6, 0, 0) + r.gen_range(0..17 * HOUR);
            if t >= tl.end() {
                continue;
            }
            let src = public_ip(&format!("famille{}", r.gen_range(0..3000)));
            w.traffic(
                t,
                0,
                &src,
                "10.0.11.10",
                443,
                r.gen_range(1..120),
                r.gen_range(1_000..40_000),
                r.gen_range(5_000..900_000),
                "",
                false,
            );
        }
        for (k, tw) in teleworkers(ctx.seed, tl, org, day).iter().enumerate() {
            let user = &org.users[tw.user].sam;
            let id = 100 + day as u64 * 10 + k as u64;
            w.tunnel(
                tw.start,
                0,
                None,
                user,
                "VPN-Agents",
                &tw.public_ip,
                &tw.tunnel_ip,
                id,
            );
            w.tunnel(
                tw.end + MIN,
                0,
                Some(tw.start),
                user,
                "VPN-Agents",
                &tw.public_ip,
                &tw.tunnel_ip,
                id,
            );
        }
    }

    // Step 1: failures then success of presta.maint from 203.0.113.45.
    for (i, s) in [3i64, 21, 40].iter().enumerate() {
        w.vpn_fail(
            tl.at(0, 2, 10, *s) + i as i64 * 110_000,
            1,
            "presta.maint",
            ATTACKER_IP,
        );
    }
    // One tunnel per attack night, each opened by the step of that night.
    let nights: [(i64, i64, i64, u8, i64, i64); 7] = [
        (0, 2, 11, 1, 3, 40),
        (1, 2, 58, 4, 4, 30),
        (2, 2, 33, 5, 4, 10),
        (3, 1, 22, 7, 2, 30),
        (4, 2, 2, 8, 2, 50),
        (5, 21, 47, 9, 23, 50),
        (6, 23, 7, 10, 25, 10),
    ];
    for (i, (day, h, m, step, eh, em)) in nights.iter().enumerate() {
        let id = 900 + i as u64;
        let start = tl.at(*day, *h, *m, 5);
        w.tunnel(
            start,
            *step,
            None,
            "presta.maint",
            "VPN-Presta",
            ATTACKER_IP,
            ATTACKER_VPN_IP,
            id,
        );
        w.tunnel(
            tl.at(*day, *eh, *em, 0),
            *step,
            Some(start),
            "presta.maint",
            "VPN-Presta",
            ATTACKER_IP,
            ATTACKER_VPN_IP,
            id,
        );
        // RDP inside the tunnel is VPN-to-LAN, not forwarded to WAN: the
        // FortiGate logs it as local-in forward traffic.
        w.traffic(
            start + 90 * SEC,
            *step,
            ATTACKER_VPN_IP,
            RDS_IP,
            3389,
            3600,
            40_000_000,
            900_000_000,
            "",
            true,
        );
    }

    // Step 4: AnyDesk relay and Cobalt Strike beaconing from SRV-RDS01.
    w.traffic(
        tl.at(1, 3, 5, 50),
        4,
        RDS_IP,
        ANYDESK_RELAY_IP,
        443,
        7200,
        2_400_000,
        80_000_000,
        ANYDESK_RELAY,
        true,
    );
    let mut t = tl.at(1, 3, 17, 30);
    while t < tl.end() {
        let dur = r.gen_range(1..30);
        w.traffic(
            t,
            4,
            RDS_IP,
            C2_IP,
            443,
            dur,
            r.gen_range(400..4_000),
            r.gen_range(300..3_000),
            C2_NAME,
            true,
        );
        t += r.gen_range(15..45) * MIN;
    }

    // Step 9: ~150 GB sent to MEGA by rclone, 8 transfers in parallel.
    let start = tl.at(5, 22, 41, 10);
    let end = tl.at(6, 16, 40, 0);
    let sessions = 600u64;
    let target: u64 = 150 * 1_000_000_000;
    // Session sizes vary by ±10 % and add up exactly to the target.
    let weights: Vec<u64> = (0..sessions).map(|_| r.gen_range(900..1100)).collect();
    let sum: u64 = weights.iter().sum();
    let mut total = 0u64;
    for (k, w8) in weights.iter().enumerate() {
        let k = k as u64;
        let t = start + ((end - start) as u64 * k / sessions) as i64 + r.gen_range(0..30) * SEC;
        let (name, ip) = MEGA_STORAGE[(k % MEGA_STORAGE.len() as u64) as usize];
        let sent = if k == sessions - 1 {
            target - total
        } else {
            target / sum * w8
        };
        total += sent;
        w.traffic(
            t,
            9,
            "10.0.10.20",
            ip,
            443,
            r.gen_range(600..900),
            sent,
            sent / 200,
            name,
            true,
        );
    }

    let mut lines = w.out;
    lines.sort_by_key(|l| l.t);
    FwOutput {
        lines,
        exfil_bytes: total,
    }
}
