//! Data exposure: archives, copies, uploads, share accesses and large
//! outbound transfers during the attack, tied to the data stores of the
//! assets file (see `crate::exposure` for the command-line heuristics).

use std::collections::{BTreeMap, BTreeSet};

use vigie_event::Timestamp;
use vigie_lang::{tr, Lang};

use super::Ctx;
use crate::exposure;
use crate::model::*;
use crate::text;

/// Outbound volume to one external address above which a transfer is
/// probable exfiltration.
const EXFIL_BYTES: u64 = 1 << 30;
const MAX_LIST: usize = super::MAX_LIST;

#[allow(clippy::too_many_arguments)]
pub(crate) fn data_exposure(
    ctx: &Ctx,
    procs: &[crate::observer::ProcRaw],
    domains: &[Domain],
    transfers: &[((String, String), crate::observer::Agg)],
    shares: &[((String, String, String), crate::observer::Agg)],
    addr_host: &BTreeMap<String, String>,
    comp_hosts: &BTreeSet<String>,
    comp_accts: &BTreeSet<String>,
    in_attack: &dyn Fn(Option<Timestamp>) -> bool,
) -> Vec<DataExposure> {
    let stores = &ctx.assets.data_stores;
    let store_meta = |name: Option<&str>| -> (bool, Option<Sensitivity>) {
        stores
            .iter()
            .find(|s| Some(s.name.as_str()) == name)
            .map(|s| (s.personal_data, Some(s.sensitivity)))
            .unwrap_or((false, None))
    };
    let mut out: Vec<DataExposure> = Vec::new();
    // Archive names produced per host, and the stores they hold.
    let mut archives: Vec<(String, String, Vec<String>, Option<Timestamp>)> = Vec::new();
    for p in procs {
        let implicated = !p.rules.is_empty()
            || comp_hosts.contains(&p.host)
            || p.user.as_ref().is_some_and(|u| comp_accts.contains(u))
            || in_attack(p.time);
        if !implicated {
            continue;
        }
        let cmd = p.cmdline.as_deref().unwrap_or(&p.image);
        let base = crate::names::basename(&p.image);
        let Some(activity) = exposure::tool_kind(&base, p.original.as_deref(), cmd) else {
            continue;
        };
        let mut st: Vec<String> = exposure::stores_in(cmd, &p.host, stores)
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let mut dest = Vec::new();
        if activity == ExposureActivity::Archive {
            for a in exposure::archive_paths(cmd) {
                archives.push((p.host.clone(), a, st.clone(), p.time));
            }
        }
        if activity == ExposureActivity::Upload {
            dest = exposure::destinations(cmd);
            // Uploading an archive made earlier: it carries the archived stores.
            // By the archive's name, or by a folder holding it
            // (`rclone copy D:\Temp\ mega:` after `rar a D:\Temp\cias.rar`).
            let names = exposure::archive_names(cmd);
            let dirs = exposure::path_args(cmd);
            for (h, path, s, _) in &archives {
                let name = crate::names::basename(path);
                let carried = names.contains(&name)
                    || dirs
                        .iter()
                        .any(|d| d.ends_with('\\') && path.starts_with(d.as_str()))
                    || dirs
                        .iter()
                        .any(|d| path.starts_with(&format!("{}\\", d.trim_end_matches('\\'))));
                if *h == p.host && carried {
                    st.extend(s.iter().cloned());
                }
            }
            // File-sharing domains queried by the same host around then.
            for d in domains.iter().filter(|d| {
                d.reasons.iter().any(|r| r == "file_sharing") && d.hosts.contains(&p.host)
            }) {
                dest.push(d.domain.clone());
            }
            dest.sort();
            dest.dedup();
        }
        st.sort();
        st.dedup();
        let tool = p.original.clone().unwrap_or(base.clone());
        let probable = activity == ExposureActivity::Upload;
        let targets: Vec<Option<String>> = if st.is_empty() {
            vec![None]
        } else {
            st.into_iter().map(Some).collect()
        };
        for store in targets {
            let (personal, sens) = store_meta(store.as_deref());
            let lang = ctx.lang;
            let zone = ctx.zone;
            let what = match (activity, lang) {
                (ExposureActivity::Archive, Lang::Fr) => "archivées",
                (ExposureActivity::Upload, Lang::Fr) => "envoyées",
                (ExposureActivity::Copy, Lang::Fr) => "copiées",
                (_, Lang::Fr) => "consultées",
                (ExposureActivity::Archive, Lang::En) => "archived",
                (ExposureActivity::Upload, Lang::En) => "uploaded",
                (ExposureActivity::Copy, Lang::En) => "copied",
                (_, Lang::En) => "accessed",
            };
            let data = match &store {
                Some(s) => tr!(lang, "données de {s}", "data store {s}"),
                None => lang.pick("données", "data").to_string(),
            };
            let to = if dest.is_empty() {
                String::new()
            } else {
                tr!(lang, " vers {}", " to {}", dest.join(", "))
            };
            let description = tr!(
                lang,
                "{data} {what} sur {} avec {tool} le {}{to}",
                "{data} {what} on {} with {tool} at {}{to}",
                p.host,
                text::time(lang, zone, p.time)
            );
            out.push(DataExposure {
                store,
                host: Some(p.host.clone()),
                activity,
                tool: Some(tool.clone()),
                description,
                first: p.time,
                last: p.time,
                destinations: dest.clone(),
                bytes_out: None,
                probable_exfiltration: probable,
                personal_data: personal,
                sensitivity: sens,
                evidence: vec![p.evidence.clone()],
            });
        }
    }
    // Share accesses by implicated accounts during the attack.
    for ((host, share, acct), agg) in shares {
        if !comp_accts.contains(acct) || !(in_attack(agg.first) || in_attack(agg.last)) {
            continue;
        }
        let store = stores
            .iter()
            .find(|s| {
                s.share
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(share))
                    && exposure::store_on_host(s, host)
            })
            .map(|s| s.name.clone());
        let (personal, sens) = store_meta(store.as_deref());
        out.push(DataExposure {
            store,
            host: Some(host.clone()),
            activity: ExposureActivity::ShareAccess,
            tool: None,
            description: tr!(
                ctx.lang,
                "partage \\\\{host}\\{share} consulté {} fois par {acct} pendant l'attaque",
                "share \\\\{host}\\{share} accessed {} time(s) by {acct} during the attack",
                agg.count
            ),
            first: agg.first,
            last: agg.last,
            destinations: vec![],
            bytes_out: None,
            probable_exfiltration: false,
            personal_data: personal,
            sensitivity: sens,
            evidence: agg.evidence.clone(),
        });
    }
    // Large outbound transfers in firewall logs.
    for ((src, dst), agg) in transfers {
        if ctx.plan.classify(dst) != AddressKind::External || agg.sum < EXFIL_BYTES {
            continue;
        }
        if !(in_attack(agg.first) || in_attack(agg.last)) {
            continue;
        }
        let host = addr_host.get(src).cloned();
        // Tie to the stores already seen leaving from that host.
        let mut st: Vec<String> = out
            .iter()
            .filter(|x| x.host.is_some() && x.host == host && x.store.is_some())
            .filter_map(|x| x.store.clone())
            .collect();
        st.sort();
        st.dedup();
        let targets: Vec<Option<String>> = if st.is_empty() {
            vec![None]
        } else {
            st.into_iter().map(Some).collect()
        };
        let mut dests = vec![dst.clone()];
        dests.extend(agg.tags.iter().cloned());
        for store in targets {
            let (personal, sens) = store_meta(store.as_deref());
            out.push(DataExposure {
                store: store.clone(),
                host: host.clone(),
                activity: ExposureActivity::Transfer,
                tool: None,
                description: tr!(
                    ctx.lang,
                    "{:.1} Go envoyés de {} vers {dst} entre {} et {}",
                    "{:.1} GB sent from {} to {dst} between {} and {}",
                    agg.sum as f64 / 1e9,
                    host.as_deref().unwrap_or(src),
                    text::time(ctx.lang, ctx.zone, agg.first),
                    text::time(ctx.lang, ctx.zone, agg.last)
                ),
                first: agg.first,
                last: agg.last,
                destinations: dests.clone(),
                bytes_out: Some(agg.sum),
                probable_exfiltration: true,
                personal_data: personal,
                sensitivity: sens,
                evidence: agg.evidence.clone(),
            });
        }
    }
    // A store archived on a host that then uploaded or sent data out is
    // probably exfiltrated even if the upload line does not name it.
    let leaving_hosts: BTreeSet<Option<String>> = out
        .iter()
        .filter(|x| x.probable_exfiltration)
        .map(|x| x.host.clone())
        .collect();
    for x in out.iter_mut() {
        if x.activity == ExposureActivity::Archive
            && x.store.is_some()
            && leaving_hosts.contains(&x.host)
        {
            x.probable_exfiltration = true;
        }
    }
    out.sort_by(|a, b| {
        (a.first, &a.store, &a.host, a.activity).cmp(&(b.first, &b.store, &b.host, b.activity))
    });
    out.truncate(MAX_LIST);
    out
}
