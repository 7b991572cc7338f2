//! SigmaHQ conformance: every regression case of the SigmaHQ corpus, run
//! on its `.evtx` through the very code path of `vigie hunt`.
//!
//! Each `info.yml` under `sigma/regression_data` names a rule id and an
//! `.evtx` on which that rule must fire (at least `match_count` times when
//! given). Cases that truly cannot pass are listed with their reason in
//! `tests/conformance-expected-failures.txt`; the test fails when an
//! unlisted case fails *and* when a listed case starts passing, so the list
//! never goes stale.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use vigie_hunt::{HuntConfig, Quiet, RuleSource};
use yaml_rust2::{Yaml, YamlLoader};

struct Case {
    info: PathBuf,
    rule_id: String,
    evtx: PathBuf,
    min_count: usize,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, pred: &dyn Fn(&Path) -> bool) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out, pred);
        } else if pred(&p) {
            out.push(p);
        }
    }
}

/// Rule id → rule file, over every `rules*` folder of the SigmaHQ corpus.
fn rule_index(sigma: &Path) -> BTreeMap<String, PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(sigma).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("rules") && entry.path().is_dir() {
            walk(&entry.path(), &mut files, &|p| {
                p.extension().is_some_and(|e| e == "yml")
            });
        }
    }
    let mut index = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines() {
            if let Some(id) = line.strip_prefix("id: ") {
                index.entry(id.trim().to_string()).or_insert(f.clone());
                break;
            }
        }
    }
    index
}

fn cases(sigma: &Path) -> Vec<Case> {
    let mut infos = Vec::new();
    walk(&sigma.join("regression_data"), &mut infos, &|p| {
        p.file_name().is_some_and(|n| n == "info.yml")
    });
    let mut out = Vec::new();
    for info in infos {
        let text = std::fs::read_to_string(&info).unwrap();
        let docs = YamlLoader::load_from_str(&text).unwrap();
        let doc = &docs[0];
        let rule_id = doc["rule_metadata"][0]["id"].as_str().unwrap().to_string();
        // A case whose tests are commented out (e.g. a `raw` sample not
        // shipped) names no evidence to run.
        let Some(tests) = doc["regression_tests_info"].as_vec() else {
            println!("note: {} has no regression test", info.display());
            continue;
        };
        for t in tests {
            if t["type"].as_str() != Some("evtx") {
                continue;
            }
            let rel = t["path"].as_str().unwrap();
            let min_count = match &t["match_count"] {
                Yaml::Integer(n) => *n as usize,
                _ => 1,
            };
            out.push(Case {
                info: info.clone(),
                rule_id: rule_id.clone(),
                evtx: evidence(&sigma.join(rel)),
                min_count,
            });
        }
    }
    out
}

/// The evidence file of a case. Linux cases name an `.evtx` but ship the
/// Sysmon for Linux syslog lines as `.xml` (SigmaHQ's
/// `regression_data/rules/linux/…`): the file with the same stem is
/// taken when the `.evtx` is absent. Vigie recognises the format from the
/// content, whatever the extension.
fn evidence(evtx: &Path) -> PathBuf {
    if evtx.exists() {
        return evtx.to_path_buf();
    }
    ["xml", "log", "json"]
        .iter()
        .map(|ext| evtx.with_extension(ext))
        .find(|p| p.exists())
        .unwrap_or_else(|| evtx.to_path_buf())
}

fn expected_failures() -> BTreeSet<String> {
    include_str!("conformance-expected-failures.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn sigmahq_regression_cases_fire_through_hunt() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let sigma = corpus.join("sigma");
    let index = rule_index(&sigma);
    let cases = cases(&sigma);
    assert!(
        cases.len() >= 150,
        "only {} regression cases found",
        cases.len()
    );
    let expected = expected_failures();

    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for case in &cases {
        let key = case
            .info
            .strip_prefix(&sigma)
            .unwrap()
            .parent()
            .unwrap()
            .display()
            .to_string();
        let Some(rule) = index.get(&case.rule_id) else {
            failed.insert(
                key,
                format!("rule {} not found in the corpus", case.rule_id),
            );
            continue;
        };
        let config = HuntConfig {
            inputs: vec![case.evtx.clone()],
            rules: vec![RuleSource::Path(rule.clone())],
            load: Default::default(),
            read: Default::default(),
            scope: false,
            assets: None,
            lang: vigie_lang::Lang::En,
        };
        match vigie_hunt::run(&config, &Quiet) {
            Err(e) => {
                failed.insert(key, format!("hunt failed: {e}"));
            }
            Ok(outcome) => {
                let n = outcome
                    .detections
                    .iter()
                    .filter(|d| d.rule.id.as_deref() == Some(case.rule_id.as_str()))
                    .count();
                if n < case.min_count {
                    let why = if outcome.rules_compiled == 0 || !outcome.rules.failures.is_empty() {
                        format!(
                            "rule not loaded: {:?}",
                            outcome.rules.failures.first().map(|f| &f.reason)
                        )
                    } else {
                        format!(
                            "{n} matches on {} events, expected ≥ {}",
                            outcome.events, case.min_count
                        )
                    };
                    failed.insert(key, why);
                }
            }
        }
    }

    let unexpected: Vec<_> = failed
        .iter()
        .filter(|(k, _)| !expected.contains(*k))
        .collect();
    let now_passing: Vec<_> = expected
        .iter()
        .filter(|k| !failed.contains_key(*k))
        .collect();
    let linux = cases
        .iter()
        .filter(|c| c.info.components().any(|p| p.as_os_str() == "linux"))
        .count();
    println!(
        "SigmaHQ regression: {} cases ({linux} Linux), {} passed, {} failed ({} expected)",
        cases.len(),
        cases.len() - failed.len(),
        failed.len(),
        expected.len()
    );
    for (k, why) in &unexpected {
        println!("UNEXPECTED FAILURE {k}: {why}");
    }
    for k in &now_passing {
        println!("LISTED BUT NOW PASSING {k}");
    }
    assert!(
        unexpected.is_empty() && now_passing.is_empty(),
        "{} unexpected failures, {} listed cases now pass",
        unexpected.len(),
        now_passing.len()
    );
}

/// Sysmon for Linux as it reaches `/var/log/syslog` (a sample built from
/// the format of Sysinternals' SysmonForLinux, see
/// `crates/source/tests/fixtures/sysmon_linux.log` and
/// `crates/source/tests/layouts.rs`): SigmaHQ's Linux rules of the three
/// categories Sysmon for Linux feeds fire through `vigie hunt`, once each,
/// and no rule for another product fires on its events.
#[test]
fn sysmon_for_linux_sample_fires_sigmahq_linux_rules() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let sigma = corpus.join("sigma");
    let index = rule_index(&sigma);
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../source/tests/fixtures/sysmon_linux.log");
    let expected = [
        // proc_creation_lnx_base64_decode: `base64 -d`.
        "e2072cab-8c9a-459b-b63c-40ae79e27031",
        // file_event_lnx_persistence_sudoers_files: /etc/sudoers.d/.
        "ddb26b76-4447-4807-871f-1b035b2bfa5d",
        // net_connection_lnx_back_connect_shell_dev: bash connecting out.
        "83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871",
    ];
    let config = HuntConfig {
        inputs: vec![sample.clone()],
        rules: expected
            .iter()
            .map(|id| RuleSource::Path(index[*id].clone()))
            .collect(),
        load: Default::default(),
        read: vigie_source::ReadOptions {
            syslog_year: Some(2026),
            ..Default::default()
        },
        scope: false,
        assets: None,
        lang: vigie_lang::Lang::En,
    };
    let outcome = vigie_hunt::run(&config, &Quiet).unwrap();
    assert_eq!(outcome.rules_compiled, 3);
    for id in expected {
        let n = outcome
            .detections
            .iter()
            .filter(|d| d.rule.id.as_deref() == Some(id))
            .count();
        assert_eq!(n, 1, "rule {id}: {n} detections");
    }

    // Over every SigmaHQ rule: Linux rules only, on the Sysmon events.
    let config = HuntConfig {
        rules: vec![RuleSource::Path(sigma.join("rules"))],
        ..config
    };
    let outcome = vigie_hunt::run(&config, &Quiet).unwrap();
    let fired: BTreeSet<&str> = outcome
        .detections
        .iter()
        .filter_map(|d| d.rule.id.as_deref())
        .collect();
    for id in expected {
        assert!(fired.contains(id), "{id} not among {fired:?}");
    }
    for d in &outcome.detections {
        // (The plain syslog lines of the sample are another matter: rules
        // of unknown-product logs with a negated condition match them.)
        if d.channel.as_deref() != Some("Linux-Sysmon/Operational") {
            continue;
        }
        let file = index.get(d.rule.id.as_deref().unwrap_or("")).unwrap();
        assert!(
            file.components().any(|p| p.as_os_str() == "linux"),
            "{} ({}) fired on Linux events",
            d.rule.title,
            file.display()
        );
    }
}
