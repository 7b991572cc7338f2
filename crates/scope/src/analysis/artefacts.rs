//! Artefacts of the attack: processes with their parent chains, services
//! installed, scheduled tasks, files written, domains contacted.

use std::collections::{BTreeSet, HashMap};

use vigie_event::Timestamp;

use super::order::{lowercase_for_hash, same_lowercase, sort_by_evidence};
use crate::exposure;
use crate::model::*;
use crate::observer::{ev_key, DnsAcc, FileRaw, ProcRaw, ProcStore, SvcRaw, TaskRaw};

const MAX_LIST: usize = super::MAX_LIST;

/// Processes of interest in evidence order, one per process: the same
/// process logged by both Security 4688 and Sysmon 1 is kept once (the
/// first in order), with the rules of both. Same process: same host,
/// second, image and command line (trimmed, case-insensitive).
pub(crate) fn dedup_processes(raw: Vec<ProcRaw>) -> Vec<ProcRaw> {
    let mut interesting = sort_by_evidence(raw, |p| &p.evidence);
    interesting.dedup_by(|a, b| ev_key(&a.evidence) == ev_key(&b.evidence));
    // The same process logged by both Security 4688 and Sysmon 1: keep one
    // (the first in order), with the rules of both. Same process: same
    // host, second, image and command line (trimmed, case-insensitive).
    // Processes are in time order (`time` is their evidence's time), so
    // those of one second are contiguous: a duplicate is looked for among
    // the kept processes of the current second only, and compared without
    // building lowercase copies (see `same_lowercase`).
    {
        // In place: kept processes are moved to the front (`w` of them).
        let mut w = 0;
        let mut second: Option<Option<i64>> = None;
        // Kept processes of the current second, by hash of their key (a
        // burst of thousands of processes in one second is common).
        let mut group: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut buf = String::new();
        for r in 0..interesting.len() {
            let secs = interesting[r].time.map(|t| t.timestamp());
            if second != Some(secs) {
                second = Some(secs);
                group.clear();
            }
            let p = &interesting[r];
            let h = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                p.host.hash(&mut h);
                lowercase_for_hash(&p.image, &mut buf);
                buf.hash(&mut h);
                p.cmdline.is_some().hash(&mut h);
                lowercase_for_hash(p.cmdline.as_deref().unwrap_or("").trim(), &mut buf);
                buf.hash(&mut h);
                h.finish()
            };
            let bucket = group.get(&h).map(Vec::as_slice).unwrap_or_default();
            let dup = bucket.iter().copied().find(|&i| {
                let k = &interesting[i];
                k.host == p.host
                    && same_lowercase(&k.image, &p.image)
                    && match (&k.cmdline, &p.cmdline) {
                        (Some(a), Some(b)) => same_lowercase(a.trim(), b.trim()),
                        (None, None) => true,
                        _ => false,
                    }
            });
            match dup {
                Some(i) => {
                    for rule in std::mem::take(&mut interesting[r].rules) {
                        if !interesting[i].rules.contains(&rule) {
                            interesting[i].rules.push(rule);
                        }
                    }
                }
                None => {
                    interesting.swap(w, r);
                    group.entry(h).or_default().push(w);
                    w += 1;
                }
            }
        }
        interesting.truncate(w);
    }
    interesting
}

/// The processes shown: detected ones, and those on compromised hosts or
/// during the attack.
pub(crate) fn processes(
    interesting: &[ProcRaw],
    procs: &ProcStore,
    comp_hosts: &BTreeSet<String>,
    in_attack: &dyn Fn(Option<Timestamp>) -> bool,
) -> Vec<Process> {
    interesting
        .iter()
        .filter(|p| !p.rules.is_empty() || comp_hosts.contains(&p.host) || in_attack(p.time))
        .take(MAX_LIST)
        .map(|p| {
            let mut rules = p.rules.clone();
            rules.sort();
            rules.dedup();
            let (parent_chain, parent_beyond_horizon) = parent_chain(
                procs,
                &p.host,
                p.parent_key,
                p.parent_image.as_deref(),
                p.time,
            );
            Process {
                host: p.host.clone(),
                time: p.time,
                image: p.image.clone(),
                command_line: p.cmdline.clone(),
                user: p.user.clone(),
                process_id: p.pid.clone(),
                parent_chain,
                parent_beyond_horizon,
                parent_command_line: p.parent_cmdline.clone(),
                rules,
                evidence: p.evidence.clone(),
            }
        })
        .collect()
}

/// Services installed, with whether they look like remote execution or a
/// remote-access tool.
pub(crate) fn services_installed(services: &[SvcRaw]) -> Vec<ServiceInstall> {
    services
        .iter()
        .take(MAX_LIST)
        .map(|s| {
            let mut rules = s.rules.clone();
            rules.sort();
            rules.dedup();
            let img = s.image.as_deref().unwrap_or("");
            let suspicious = !rules.is_empty() || suspicious_service(&s.name, img);
            ServiceInstall {
                host: s.host.clone(),
                time: s.time,
                name: s.name.clone(),
                image_path: s.image.clone(),
                account: s.account.clone(),
                suspicious,
                rules,
                evidence: s.evidence.clone(),
            }
        })
        .collect()
}

/// A service name or binary that looks like remote execution (PsExec and
/// clones), a remote-access tool, a LOLBin or a binary in a writable place.
pub(crate) fn suspicious_service(name: &str, img: &str) -> bool {
    let il = img.to_ascii_lowercase();
    crate::observer::is_psexec_name(name)
        || crate::observer::is_psexec_name(img)
        || exposure::remote_access_name(name)
        || exposure::remote_access_name(img)
        || il.contains("\\admin$")
        || il.contains("\\temp\\")
        || il.contains("\\users\\public")
        || matches!(
            crate::names::basename(img.split(' ').next().unwrap_or("")).as_str(),
            "cmd.exe"
                | "cmd"
                | "%comspec%"
                | "powershell.exe"
                | "powershell"
                | "rundll32.exe"
                | "mshta.exe"
                | "regsvr32.exe"
                | "wscript.exe"
                | "cscript.exe"
        )
        || il.contains("cmd.exe /c")
        || il.contains("cmd /c")
        || il.contains("%comspec%")
        || il.contains("powershell")
}

pub(crate) fn scheduled_tasks(tasks: &[TaskRaw]) -> Vec<ScheduledTask> {
    tasks
        .iter()
        .take(MAX_LIST)
        .map(|t| ScheduledTask {
            host: t.host.clone(),
            time: t.time,
            name: t.name.clone(),
            command: t.command.clone(),
            account: t.account.clone(),
            action: t.action.clone(),
            rules: {
                let mut r = t.rules.clone();
                r.sort();
                r.dedup();
                r
            },
            evidence: t.evidence.clone(),
        })
        .collect()
}

pub(crate) fn files(mut raw: Vec<FileRaw>) -> Vec<FileOfInterest> {
    raw.sort_by(|a, b| ev_key(&a.evidence).cmp(&ev_key(&b.evidence)));
    raw.into_iter()
        .take(MAX_LIST)
        .map(|f| FileOfInterest {
            host: f.host,
            path: f.path,
            time: f.time,
            process: f.process,
            rules: f.rules,
            evidence: f.evidence,
        })
        .collect()
}

/// Domains of interest: named by a rule, or file-sharing and remote-access
/// services.
pub(crate) fn domains(dns: HashMap<String, DnsAcc>) -> Vec<Domain> {
    let mut dns_sorted: Vec<_> = dns.into_iter().collect();
    dns_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut domains: Vec<Domain> = Vec::new();
    for (d, acc) in dns_sorted {
        let mut reasons: Vec<String> = acc.rules.iter().cloned().collect();
        if exposure::file_sharing_domain(&d) {
            reasons.push("file_sharing".into());
        }
        if exposure::remote_access_domain(&d) {
            reasons.push("remote_access".into());
        }
        if reasons.is_empty() {
            continue;
        }
        domains.push(Domain {
            domain: d,
            hosts: acc.hosts.into_iter().collect(),
            processes: acc.images.into_iter().collect(),
            first: acc.agg.first,
            last: acc.agg.last,
            count: acc.agg.count,
            reasons,
            evidence: acc.agg.evidence,
        });
    }
    domains.truncate(MAX_LIST);
    domains
}

/// The parent images of a process, nearest first, and whether the chain
/// stops at a parent the live scope may have forgotten (its log's
/// creations older than the horizon were, [`ProcStore::forgot_in`]): then
/// it is not "the first logged", and the scope says so.
pub(crate) fn parent_chain(
    procs: &ProcStore,
    host: &str,
    key: Option<u64>,
    parent_image: Option<&str>,
    mut t: Option<Timestamp>,
) -> (Vec<String>, bool) {
    let mut chain = Vec::new();
    let Some(hid) = procs.host_id(host) else {
        chain.extend(parent_image.map(str::to_string));
        return (chain, false);
    };
    let mut key = key;
    let mut fallback = parent_image.map(str::to_string);
    for _ in 0..12 {
        match key.and_then(|k| procs.lookup(hid, k, t)) {
            Some(n) => {
                chain.push(procs.name(n.image).to_string());
                key = n.parent;
                fallback = n.parent_image.map(|i| procs.name(i).to_string());
                t = n.time;
            }
            None => {
                if let Some(f) = fallback.take() {
                    chain.push(f);
                }
                return (chain, key.is_some_and(|k| procs.forgot_in(hid, k)));
            }
        }
    }
    (chain, false)
}
