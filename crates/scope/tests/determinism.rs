//! The scope must not depend on how events were split between observers,
//! in which order each observer saw them, or in which order observers were
//! merged: `vigie hunt` feeds one observer per rayon worker, and which
//! worker gets which batch is up to the scheduler.
//!
//! The hard case is the same events present in several files (logs
//! collected twice, or from several places): identical copies tie on
//! everything but their source path, and any "keep the first seen" choice
//! then picks a different copy from run to run. So the events here are
//! real EVTX samples (with real SigmaHQ detections), each file read once
//! and duplicated under a dozen source names — more copies than the scope
//! keeps evidence items per fact, so that truncation has to choose.

use std::sync::Arc;

use vigie_detect::Match;
use vigie_event::Event;
use vigie_scope::*;

mod common;
use common::corpus;

/// Files with links (logons, share accesses, explicit credentials, PsExec
/// clones), services, tasks, processes, a cleared log and Sysmon network
/// connections, i.e. most kinds of fact the observer keeps evidence for.
const FILES: &[&str] = &[
    "Lateral Movement/LM_REMCOM_5145_TargetHost.evtx",
    "Lateral Movement/LM_renamed_psexecsvc_5145.evtx",
    "Lateral Movement/LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx",
    "Lateral Movement/LM_WMIC_4648_rpcss.evtx",
    "Lateral Movement/LM_WMI_4624_4688_TargetHost.evtx",
    "Lateral Movement/LM_ScheduledTask_ATSVC_target_host.evtx",
    "Lateral Movement/LM_Remote_Service01_5145_svcctl.evtx",
    "Command and Control/DE_sysmon-3-rdp-tun.evtx",
];

/// More than the evidence items kept per fact (10).
const COPIES: usize = 12;

/// Every event of `FILES` with its detections, once per copy, copies
/// under different source paths (`copy-1/…`, `copy-10/…`: string order is
/// not numeric order, as in a real collection).
fn events(c: &std::path::Path) -> Vec<(Event, Vec<Match>)> {
    let (rules, _) = vigie_detect::load_paths(
        &[c.join("sigma/rules/windows")],
        &vigie_detect::LoadOptions::default(),
    );
    let (engine, _) = vigie_detect::Engine::compile(rules);
    let mut once = Vec::new();
    for f in FILES {
        let path = c.join("evtx-attack-samples").join(f);
        let (evs, report) = vigie_source::read_all(&path);
        assert!(!evs.is_empty(), "{}: {report:?}", path.display());
        for e in evs {
            let mut m = Vec::new();
            engine.evaluate(&e, &mut m);
            once.push((f, e, m));
        }
    }
    assert!(
        once.iter().any(|(_, _, m)| m.iter().any(|m| m.generate)),
        "no detection at all: the test would not exercise signals"
    );
    let mut all = Vec::new();
    for k in 1..=COPIES {
        for (f, e, m) in &once {
            let mut e = e.clone();
            e.origin.source = Arc::from(format!("/evidence/copy-{k}/{f}"));
            all.push((e, m.clone()));
        }
    }
    all
}

/// The scope of `parts` (each one observer's events, in order), merged in
/// the order `merge` gives (indices into `parts`), as canonical JSON.
fn scope_json(items: &[(Event, Vec<Match>)], parts: &[Vec<usize>], merge: &[usize]) -> String {
    let mut obs: Vec<Option<Observer>> = parts
        .iter()
        .map(|p| {
            let mut o = Observer::new(Arc::new(Assets::default()));
            for &i in p {
                o.observe(&items[i].0, &items[i].1);
            }
            Some(o)
        })
        .collect();
    let mut acc = obs[merge[0]].take().expect("each observer merged once");
    for &i in &merge[1..] {
        acc.merge(obs[i].take().expect("each observer merged once"));
    }
    serde_json::to_string_pretty(&acc.finish(&[], Lang::En)).expect("scope serialises")
}

/// A deterministic shuffle (xorshift), so that a failure can be replayed.
fn shuffled(n: usize, mut seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    v
}

/// `order` cut into batches of `batch` events dealt to `n` observers in
/// turn, as a pool of workers takes batches.
fn deal(order: &[usize], n: usize, batch: usize) -> Vec<Vec<usize>> {
    let mut parts = vec![Vec::new(); n];
    for (b, chunk) in order.chunks(batch).enumerate() {
        parts[b % n].extend_from_slice(chunk);
    }
    parts
}

/// The first difference between two outputs, with context, for the
/// failure message (the outputs are tens of thousands of lines).
fn first_diff(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = la
        .iter()
        .zip(&lb)
        .position(|(x, y)| x != y)
        .unwrap_or(la.len().min(lb.len()));
    let from = i.saturating_sub(8);
    format!(
        "line {}:\n--- expected\n{}\n--- got\n{}",
        i + 1,
        la[from..(i + 3).min(la.len())].join("\n"),
        lb[from..(i + 3).min(lb.len())].join("\n")
    )
}

#[test]
fn scope_does_not_depend_on_partition_or_order_of_identical_copies() {
    let Some(c) = corpus() else { return };
    let items = events(&c);
    let n = items.len();
    let in_order: Vec<usize> = (0..n).collect();
    let reversed: Vec<usize> = (0..n).rev().collect();
    let reference = scope_json(&items, std::slice::from_ref(&in_order), &[0]);
    // The copies must reach the evidence lists, or the test proves nothing.
    assert!(
        reference.contains("/evidence/copy-10/") && reference.contains("\"links\""),
        "copies not in the scope"
    );

    let mut cases: Vec<(String, Vec<Vec<usize>>, Vec<usize>)> = vec![
        (
            "one observer, reversed".into(),
            vec![reversed.clone()],
            vec![0],
        ),
        (
            "3 observers, batches of 7, merged 0,1,2".into(),
            deal(&in_order, 3, 7),
            vec![0, 1, 2],
        ),
        (
            "3 observers, reversed batches of 7, merged 2,1,0".into(),
            deal(&reversed, 3, 7),
            vec![2, 1, 0],
        ),
        (
            "2 observers, one copy of each file each, merged 1,0".into(),
            // Observer 0 gets the later copies, so a first-seen choice
            // made by observer 1 is the one merged into.
            deal(&reversed, 2, n / COPIES),
            vec![1, 0],
        ),
    ];
    for seed in [1u64, 7, 42] {
        let order = shuffled(n, 0x9E37_79B9_7F4A_7C15 ^ seed);
        let parts = deal(&order, 4, 1 + (seed as usize % 13));
        let merge = shuffled(4, seed + 3);
        cases.push((
            format!("4 observers, shuffled (seed {seed}), merged {merge:?}"),
            parts,
            merge,
        ));
    }
    for (name, parts, merge) in cases {
        let got = scope_json(&items, &parts, &merge);
        assert!(
            got == reference,
            "{name}: scope differs from one observer fed in order; {}",
            first_diff(&reference, &got)
        );
    }
}
