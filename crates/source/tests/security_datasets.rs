//! OTRF's Security-Datasets recordings, read as shipped (zipped JSON
//! Lines; one tar.gz of Winlogbeat 6): every recording must come out in
//! UTC and with the envelope visible to rules.
//!
//! Ground truth: Sysmon's `UtcTime` (documented UTC) on every Sysmon
//! event, and the operator's console times in `_metadata/*.yaml`
//! (`adversary_view`, e.g. `[08/06/2020 15:56:13 UTC]`). The collectors'
//! own times are 4 to 19 hours off (local time, with or without a `Z`,
//! some on a 12-hour clock): read naively, none of these checks passes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use vigie_event::Event;
use vigie_source::{parse_timestamp, read_bytes, FileReport, ReadOptions};

fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["security-datasets/windows", "security-datasets/_metadata"])
        .map(|c| c.join("security-datasets"))
}

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, ext, out);
        } else if p.to_string_lossy().ends_with(ext) {
            out.push(p);
        }
    }
}

/// The JSON members of a recording's zip (macOS `__MACOSX/` entries and
/// packet captures left out). Until `vigie-source` reads zips itself, the
/// test extracts them in memory.
fn json_members(zip_path: &Path) -> Vec<(String, Vec<u8>)> {
    let f = std::fs::File::open(zip_path).unwrap();
    let mut zip = zip::ZipArchive::new(f).unwrap();
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut m = zip.by_index(i).unwrap();
        let Ok(name) = m.name().map(|n| n.to_string()) else {
            continue;
        };
        let base = name.rsplit('/').next().unwrap_or("");
        if m.is_dir() || name.starts_with("__MACOSX") || base.starts_with("._") {
            continue;
        }
        if !base.ends_with(".json") {
            continue;
        }
        let mut bytes = Vec::new();
        m.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

fn is_sysmon(e: &Event) -> bool {
    e.channel.as_deref().is_some_and(|c| c.contains("Sysmon"))
}

/// Share of Sysmon events (network and DNS events excepted: their
/// `UtcTime` is the connection's or query's time, not the record's) whose
/// time is within a minute of `UtcTime` (a busy Sysmon writes its records
/// up to ~30 s late: the record's own time is kept), and how many there
/// are. A zone error is hours.
fn utc_agreement(events: &[Event]) -> (f64, usize) {
    let mut n = 0usize;
    let mut ok = 0usize;
    for e in events.iter().filter(|e| is_sysmon(e)) {
        if matches!(e.event_id, Some(3 | 22)) {
            continue;
        }
        let (Some(t), Some(u)) = (e.timestamp, e.get_str("UtcTime").and_then(parse_timestamp))
        else {
            continue;
        };
        n += 1;
        if (t - u).num_seconds().abs() <= 60 {
            ok += 1;
        }
    }
    (if n == 0 { 1.0 } else { ok as f64 / n as f64 }, n)
}

/// Every event naming its provider (`SourceName`) or computer
/// (`Hostname`) the NXLog way has it under the Sigma names too.
fn envelope_visible(events: &[Event]) -> Result<(), String> {
    for e in events {
        if let Some(src) = e.get_str("SourceName") {
            if e.get_str("Provider_Name") != Some(src) || e.provider.as_deref() != Some(src) {
                return Err(format!("Provider_Name missing at {}", e.origin));
            }
        }
        if let Some(h) = e.get_str("Hostname") {
            if e.get_str("Computer") != Some(h) || e.computer.as_deref() != Some(h) {
                return Err(format!("Computer missing at {}", e.origin));
            }
        }
    }
    Ok(())
}

struct Recording {
    name: String,
    events: Vec<Event>,
    reports: Vec<FileReport>,
}

fn recordings(root: &Path) -> Vec<Recording> {
    let mut zips = Vec::new();
    walk(&root.join("windows"), ".zip", &mut zips);
    let opts = ReadOptions::default();
    zips.iter()
        .filter_map(|z| {
            let members = json_members(z);
            if members.is_empty() {
                return None; // a network capture only
            }
            let mut events = Vec::new();
            let mut reports = Vec::new();
            for (name, bytes) in members {
                let (ev, rep) = read_bytes(&name, &bytes, &opts);
                events.extend(ev);
                reports.push(rep);
            }
            Some(Recording {
                name: z.file_name().unwrap().to_string_lossy().to_string(),
                events,
                reports,
            })
        })
        .collect()
}

#[test]
fn every_recording_reads_in_utc_with_the_envelope_visible_to_rules() {
    let Some(root) = corpus() else {
        return;
    };
    let recs = recordings(&root);
    assert!(recs.len() >= 70, "only {} recordings", recs.len());
    let mut corrected = 0;
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for r in &recs {
        let events_read: u64 = r.reports.iter().map(|x| x.records_read).sum();
        let skipped: u64 = r.reports.iter().map(|x| x.records_skipped).sum();
        assert!(events_read > 0, "{}: nothing read", r.name);
        assert_eq!(skipped, 0, "{}: {:?}", r.name, r.reports[0].errors);
        let (share, n) = utc_agreement(&r.events);
        checked += n;
        if share < 0.98 {
            failures.push(format!(
                "{}: only {:.1} % of {n} Sysmon times agree with UtcTime",
                r.name,
                share * 100.0
            ));
        }
        if let Err(e) = envelope_visible(&r.events) {
            failures.push(format!("{}: {e}", r.name));
        }
        let notes: Vec<&String> = r.reports.iter().flat_map(|x| &x.notes).collect();
        if notes.iter().any(|n| n.contains("corrected using")) {
            corrected += 1;
        }
    }
    println!(
        "{} recordings read, {corrected} with their collector's zone offset corrected, {checked} Sysmon times checked against UtcTime",
        recs.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    // Every OTRF recording of this corpus was written off UTC.
    assert_eq!(corrected, recs.len());
}

/// `[08/06/2020 15:56:13 UTC]` in a recording's `adversary_view`: the
/// operator's console clock, in UTC.
fn console_times(root: &Path) -> BTreeMap<String, Vec<DateTime<Utc>>> {
    let mut metas = Vec::new();
    walk(&root.join("_metadata"), ".yaml", &mut metas);
    let mut out: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    for m in metas {
        let text = std::fs::read_to_string(&m).unwrap();
        let Some(zip) = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("link: "))
            .and_then(|l| l.rsplit('/').next())
        else {
            continue;
        };
        for piece in text.split('[').skip(1) {
            let Some(inner) = piece.split(']').next() else {
                continue;
            };
            if let Some(t) = inner.strip_suffix(" UTC") {
                if let Ok(n) = NaiveDateTime::parse_from_str(t, "%m/%d/%Y %H:%M:%S") {
                    out.entry(zip.to_string()).or_default().push(n.and_utc());
                }
            }
        }
    }
    out
}

#[test]
fn events_happen_when_the_operator_console_says() {
    let Some(root) = corpus() else {
        return;
    };
    let consoles = console_times(&root);
    assert!(consoles.len() >= 3, "{consoles:?}");
    let mut zips = Vec::new();
    walk(&root.join("windows"), ".zip", &mut zips);
    for (zip, times) in &consoles {
        let Some(path) = zips.iter().find(|p| p.ends_with(zip)) else {
            continue;
        };
        let mut events = Vec::new();
        for (name, bytes) in json_members(path) {
            events.extend(read_bytes(&name, &bytes, &ReadOptions::default()).0);
        }
        let first = events.iter().filter_map(|e| e.timestamp).min().unwrap();
        let last = events.iter().filter_map(|e| e.timestamp).max().unwrap();
        for t in times {
            // The recording covers the console's moment…
            assert!(
                first <= *t && *t <= last,
                "{zip}: console at {t}, events from {first} to {last}"
            );
            // …with activity right there (the attack), not hours away.
            let near = events
                .iter()
                .filter(|e| {
                    e.timestamp
                        .is_some_and(|x| (x - *t).num_seconds().abs() <= 30)
                })
                .count();
            assert!(near > 0, "{zip}: no event within 30 s of {t}");
        }
    }
}

/// The one Winlogbeat 6 recording (a tar.gz cut short in the corpus):
/// `event_data`, `computer_name`, `source_name` give the Sigma names.
#[test]
fn winlogbeat6_recording() {
    let Some(root) = corpus() else {
        return;
    };
    let path = root.join("windows/defense_evasion/host/empire_wdigest_downgrade.tar.gz");
    let gz = std::fs::read(&path).unwrap();
    let mut tar = Vec::new();
    // The archive is truncated: keep what decompresses.
    let _ = flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut tar);
    // One member: a 512-byte ustar header, then the content.
    let size_field = String::from_utf8_lossy(&tar[124..136]);
    let size =
        usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8).unwrap();
    let content = &tar[512..(512 + size).min(tar.len())];
    let (events, report) = read_bytes("wdigest.json", content, &ReadOptions::default());
    assert!(events.len() > 2500, "{}", events.len());
    // At most the last line, cut by the truncation.
    assert!(report.records_skipped <= 1);
    let (share, n) = utc_agreement(&events);
    assert!(n > 1000 && share > 0.99, "{share} of {n}");
    let sysmon = events.iter().find(|e| e.event_id == Some(10)).unwrap();
    assert_eq!(
        sysmon.get_str("Provider_Name"),
        Some("Microsoft-Windows-Sysmon")
    );
    assert_eq!(sysmon.get_str("Computer"), Some("HR001.shire.com"));
    assert_eq!(sysmon.computer.as_deref(), Some("HR001.shire.com"));
    assert_eq!(
        sysmon.channel.as_deref(),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(
        sysmon.get_str("TargetImage"),
        Some("C:\\Windows\\System32\\svchost.exe")
    );
    assert!(sysmon.record_id.is_some());
    assert!(!report.notes.iter().any(|n| n.contains("corrected")));
}
