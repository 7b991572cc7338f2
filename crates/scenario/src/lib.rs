//! Vigie's reference scenario: a deterministic generator of the logs of a
//! community of communes hit by human-operated ransomware (see
//! `docs/scenario.md` in the shared documentation).
//!
//! [`generate`] writes, under an output directory:
//!
//! ```text
//! assets.yml                      the organisation (hosts, zones, services, accounts)
//! ground-truth.json               what happened, and where the evidence is
//! logs/<HOST>/<Channel>.jsonl     Windows events, one `evtx_dump -o jsonl` record a line;
//!                                 <Channel> is the EVTX file stem (`Security`, `System`,
//!                                 `Microsoft-Windows-Sysmon%4Operational`, …)
//! logs/FW01/fortigate.log         FortiGate SSL-VPN and traffic logs, RFC 5424 syslog
//! ```
//!
//! That is what a collection of the estate looks like after the fact: one
//! directory per host, one file per event log. `EventRecordID`s run on per
//! host and channel without gaps (the logs existed before the period, so
//! numbering starts mid-way); the Security log cleared in step 12 shows its
//! 1102 and numbering simply continues, the earlier records being kept as
//! a collector would have shipped them.
//!
//! Scales (release build, `cargo run --release -p vigie-scenario --example
//! generate -- DIR week`, 2 shared cores): `Small` ≈ 33 k events / 35 MB in
//! well under a second; `Week` ≈ 2.3 M events / 2.6 GB in ≈ 7 s of CPU,
//! 170 MB peak memory. Everything derives from
//! [`ScenarioConfig`]: the same seed, scale and day 0 give the same files
//! byte for byte (per-host ChaCha streams, no hash-map iteration, no
//! wall clock), while hosts are generated in parallel.

pub mod attack;
pub mod clock;
pub mod fortigate;
pub mod host;
pub mod noise;
pub mod org;
pub mod timeline;
pub mod truth;
pub mod winevt;

mod assets;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::clock::iso;
use crate::host::HostGen;
use crate::noise::Ctx;
use crate::org::{fnv, mix, Org, Zone};
use crate::timeline::{pc_always_on, Timeline};
use crate::winevt::{render, Channel};

pub use crate::truth::{
    Coverage, EntryPoint, EventRef, Exfiltration, GroundTruth, IsolatedHost, StepInfo, StepTruth,
    STEPS,
};

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 20 hosts (every server, the aquatic centre, TES-01, FW01 and nine
    /// PCs), the whole week at a lower activity rate: seconds to generate.
    Small,
    /// All ~200 hosts, the whole week at a realistic rate: the
    /// performance case.
    Week,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Small => "small",
            Scale::Week => "week",
        }
    }
    fn rate(self) -> f64 {
        match self {
            Scale::Small => 0.8,
            Scale::Week => 3.8,
        }
    }
}

impl FromStr for Scale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "small" => Ok(Scale::Small),
            "week" | "full" => Ok(Scale::Week),
            other => Err(format!("unknown scale {other:?} (expected small or week)")),
        }
    }
}

/// What to generate. `day0` is the Friday of the encryption; it is fixed
/// (never "today") so that output does not depend on when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioConfig {
    pub seed: u64,
    pub scale: Scale,
    pub day0: NaiveDate,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            seed: 2026_0116,
            scale: Scale::Small,
            day0: NaiveDate::from_ymd_opt(2026, 1, 16).expect("valid date"),
        }
    }
}

/// One written log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub host: String,
    /// Windows channel, or `fortigate`.
    pub channel: String,
    pub path: PathBuf,
    pub events: u64,
    pub bytes: u64,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct GeneratedScenario {
    pub out_dir: PathBuf,
    pub assets: PathBuf,
    pub logs_dir: PathBuf,
    pub ground_truth_path: PathBuf,
    pub files: Vec<LogFile>,
    pub events: u64,
    pub bytes: u64,
    pub ground_truth: GroundTruth,
}

struct HostOutput {
    files: Vec<LogFile>,
    refs: Vec<(u8, EventRef)>,
    coverage: Vec<Coverage>,
}

/// Generates the scenario into `out_dir` (created if needed). A previous
/// scenario there (recognised by its `ground-truth.json`) is replaced; a
/// non-empty `logs/` without one is refused rather than deleted.
pub fn generate(config: &ScenarioConfig, out_dir: &Path) -> io::Result<GeneratedScenario> {
    fs::create_dir_all(out_dir)?;
    let logs_dir = out_dir.join("logs");
    let gt_path = out_dir.join("ground-truth.json");
    if logs_dir.exists() {
        if gt_path.exists() {
            fs::remove_dir_all(&logs_dir)?;
        } else if fs::read_dir(&logs_dir)?.next().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a generated scenario; choose an empty directory",
                    logs_dir.display()
                ),
            ));
        }
    }
    fs::create_dir_all(&logs_dir)?;

    let org = Org::build(config.scale);
    let tl = Timeline::new(config.day0);
    let ctx = Ctx {
        tl: &tl,
        seed: config.seed,
        rate: config.scale.rate(),
    };
    let plan = attack::Plan {
        gpo_reached: org
            .hosts
            .iter()
            .filter(|h| h.is_windows_domain() && (!h.is_pc() || pc_always_on(config.seed, h)))
            .map(|h| h.name.clone())
            .collect(),
    };

    // Largest hosts first so that the parallel pool stays busy.
    let mut order: Vec<usize> = (0..org.hosts.len())
        .filter(|&i| org.hosts[i].zone != Zone::Edge)
        .collect();
    order.sort_by_key(|&i| (!org.hosts[i].is_server(), i));
    let outputs: Vec<(usize, io::Result<HostOutput>)> = order
        .par_iter()
        .map(|&i| (i, host_logs(&org, &ctx, &plan, i, out_dir)))
        .collect();
    let mut outputs: Vec<(usize, HostOutput)> = outputs
        .into_iter()
        .map(|(i, r)| r.map(|o| (i, o)))
        .collect::<io::Result<_>>()?;
    outputs.sort_by_key(|(i, _)| *i);

    let fw = fortigate::generate(&org, &ctx);
    let fw_rel = "logs/FW01/fortigate.log".to_string();
    fs::create_dir_all(logs_dir.join("FW01"))?;
    let mut fw_refs = Vec::new();
    let mut fw_bytes = 0u64;
    {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(out_dir.join(&fw_rel))?);
        for (n, l) in fw.lines.iter().enumerate() {
            w.write_all(l.line.as_bytes())?;
            w.write_all(b"\n")?;
            fw_bytes += l.line.len() as u64 + 1;
            if l.step != 0 {
                fw_refs.push((
                    l.step,
                    EventRef {
                        host: "FW01".into(),
                        channel: "fortigate".into(),
                        file: fw_rel.clone(),
                        line: n as u64 + 1,
                        record_id: None,
                        event_id: None,
                        time: iso(l.t),
                    },
                ));
            }
        }
        w.flush()?;
    }

    let mut files = Vec::new();
    let mut refs = Vec::new();
    let mut tes_coverage = Vec::new();
    for (i, o) in outputs {
        files.extend(o.files);
        refs.extend(o.refs);
        if org.hosts[i].zone == Zone::Isolated {
            tes_coverage = o.coverage;
        }
    }
    files.push(LogFile {
        host: "FW01".into(),
        channel: "fortigate".into(),
        path: out_dir.join(&fw_rel),
        events: fw.lines.len() as u64,
        bytes: fw_bytes,
    });
    refs.extend(fw_refs);

    let truth = ground_truth(config, &org, &tl, &plan, refs, tes_coverage, fw.exfil_bytes);
    let assets_path = out_dir.join("assets.yml");
    fs::write(&assets_path, assets::render(&org))?;
    let json = serde_json::to_vec_pretty(&truth).map_err(io::Error::other)?;
    fs::write(&gt_path, json)?;

    let events = files.iter().map(|f| f.events).sum();
    let bytes = files.iter().map(|f| f.bytes).sum();
    Ok(GeneratedScenario {
        out_dir: out_dir.to_path_buf(),
        assets: assets_path,
        logs_dir,
        ground_truth_path: gt_path,
        files,
        events,
        bytes,
        ground_truth: truth,
    })
}

/// Generates, orders, numbers and writes one Windows host's logs.
fn host_logs(
    org: &Org,
    ctx: &Ctx,
    plan: &attack::Plan,
    index: usize,
    out_dir: &Path,
) -> io::Result<HostOutput> {
    let host = &org.hosts[index];
    let mut g = HostGen::new(org, host, ctx.seed, "host");
    noise::host(&mut g, ctx);
    attack::host(&mut g, ctx, plan);
    let computer = g.computer.clone();
    let (start, end) = (ctx.tl.start(), ctx.tl.end());
    let mut events = std::mem::take(&mut g.events);
    events.retain(|e| e.step != 0 || (e.t >= start && e.t < end));
    // Stable: events at the same microsecond keep their causal order.
    events.sort_by_key(|e| e.t);

    let dir = out_dir.join("logs").join(&host.name);
    fs::create_dir_all(&dir)?;
    let mut files = Vec::new();
    let mut refs = Vec::new();
    let mut coverage = Vec::new();
    let mut buf = Vec::with_capacity(1 << 20);
    for ch in Channel::ALL {
        let mut it = events.iter().filter(|e| e.channel == ch).peekable();
        if it.peek().is_none() {
            continue;
        }
        let rel = format!("logs/{}/{}", host.name, ch.file_name());
        let path = out_dir.join(&rel);
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        // Logs existed before the period: numbering starts mid-way.
        let mut record = 1000 + mix(ctx.seed ^ fnv(&rel)) % 400_000;
        let (mut n, mut bytes, mut first, mut last) = (0u64, 0u64, None, 0);
        for e in it {
            record += 1;
            n += 1;
            buf.clear();
            render(&mut buf, e, record, &computer);
            buf.push(b'\n');
            w.write_all(&buf)?;
            bytes += buf.len() as u64;
            first.get_or_insert(e.t);
            last = e.t;
            if e.step != 0 {
                refs.push((
                    e.step,
                    EventRef {
                        host: host.name.clone(),
                        channel: ch.name().to_string(),
                        file: rel.clone(),
                        line: n,
                        record_id: Some(record),
                        event_id: Some(e.event_id as u32),
                        time: iso(e.t),
                    },
                ));
            }
        }
        w.flush()?;
        coverage.push(Coverage {
            channel: ch.name().into(),
            file: rel,
            events: n,
            first: iso(first.unwrap_or(start)),
            last: iso(last),
        });
        files.push(LogFile {
            host: host.name.clone(),
            channel: ch.name().into(),
            path,
            events: n,
            bytes,
        });
    }
    Ok(HostOutput {
        files,
        refs,
        coverage,
    })
}

fn ground_truth(
    config: &ScenarioConfig,
    org: &Org,
    tl: &Timeline,
    plan: &attack::Plan,
    mut refs: Vec<(u8, EventRef)>,
    tes_coverage: Vec<Coverage>,
    exfil_bytes: u64,
) -> GroundTruth {
    refs.sort_by(|a, b| {
        (a.0, &a.1.time, &a.1.host, &a.1.file, a.1.line)
            .cmp(&(b.0, &b.1.time, &b.1.host, &b.1.file, b.1.line))
    });
    let steps: Vec<StepTruth> = STEPS
        .iter()
        .map(|s| {
            let events: Vec<EventRef> = refs
                .iter()
                .filter(|(n, _)| *n == s.number)
                .map(|(_, r)| r.clone())
                .collect();
            let hosts: BTreeSet<String> = events.iter().map(|e| e.host.clone()).collect();
            let ids: BTreeSet<u32> = events.iter().filter_map(|e| e.event_id).collect();
            StepTruth {
                number: s.number,
                name: s.name.into(),
                when: s.when.into(),
                start: events
                    .iter()
                    .map(|e| e.time.clone())
                    .min()
                    .unwrap_or_default(),
                end: events
                    .iter()
                    .map(|e| e.time.clone())
                    .max()
                    .unwrap_or_default(),
                hosts: hosts.into_iter().collect(),
                event_ids: ids.into_iter().collect(),
                sigma_titles: s.sigma.iter().map(|t| t.to_string()).collect(),
                sigma_must_not_fire: s.sigma_must_not.iter().map(|t| t.to_string()).collect(),
                events,
            }
        })
        .collect();
    let hands_on: BTreeSet<String> = steps
        .iter()
        .filter(|s| (2..=9).contains(&s.number))
        .flat_map(|s| s.hosts.iter().cloned())
        .filter(|h| {
            org.hosts
                .iter()
                .any(|x| &x.name == h && x.zone != Zone::Edge)
        })
        .collect();
    let mut reached = plan.gpo_reached.clone();
    reached.sort();
    GroundTruth {
        scenario: "ccpab-ransomware".into(),
        seed: config.seed,
        scale: config.scale.name().into(),
        day0: config.day0.to_string(),
        timezone: "Europe/Paris".into(),
        period_start: iso(tl.start()),
        period_end: iso(tl.end()),
        nature: "human-operated ransomware with data theft (double extortion)".into(),
        entry_point: EntryPoint {
            time: iso(tl.at(0, 2, 11, 5)),
            account: "presta.maint".into(),
            source_ip: org::ATTACKER_IP.into(),
            via_vpn: true,
            vpn_device: "FW01".into(),
            vpn_assigned_ip: org::ATTACKER_VPN_IP.into(),
            first_host: "SRV-RDS01".into(),
        },
        compromised_hosts: hands_on.into_iter().collect(),
        gpo_reached_hosts: reached,
        compromised_accounts: vec![
            "adm.tech01".into(),
            "presta.maint".into(),
            "svc_sauvegarde".into(),
            "svc_veeam".into(),
        ],
        backdoor_account: "svc_sauvegarde".into(),
        exfiltration: Exfiltration {
            host: "SRV-FIC01".into(),
            share: "CIAS".into(),
            path: "D:\\Partages\\CIAS".into(),
            archive: "D:\\Temp\\cias.rar".into(),
            tool: "rclone".into(),
            destination: "mega:ccpab-cias (userstorage.mega.co.nz)".into(),
            bytes_sent: exfil_bytes,
            start: iso(tl.at(5, 22, 0, 0)),
            end: iso(tl.at(6, 16, 50, 0)),
        },
        isolated: IsolatedHost {
            host: "TES-01".into(),
            reached: false,
            coverage: tes_coverage,
        },
        attacker_infrastructure: vec![
            org::ATTACKER_IP.into(),
            attack::C2_IP.into(),
            attack::C2_NAME.into(),
            attack::ANYDESK_RELAY.into(),
            "userstorage.mega.co.nz".into(),
        ],
        steps,
    }
}
