//! The SigmaHQ snapshot: the vetting file names real SigmaHQ rules for the
//! reasons it gives, the binary embeds exactly what the vetting selects from
//! the SigmaHQ corpus (all of it loadable), and a snapshot installed by
//! `vigie rules update` replaces the embedded one only when it is newer.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use vigie_detect::{Engine, LoadOptions};
use vigie_rules::selection::{rule_files, rule_info, Selection, Verdict};
use vigie_rules::sigmahq::{self, Marker, Origin};

fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["sigma"]).map(|c| c.join("sigma"))
}

fn selection() -> Selection {
    Selection::parse(sigmahq::SELECTION).expect("the selection file parses")
}

/// id -> (relative path, title, verdict) of every rule the policy considers.
fn judged(root: &Path, sel: &Selection) -> BTreeMap<String, (String, String, Verdict)> {
    let mut out = BTreeMap::new();
    for (rel, path) in rule_files(root, &sel.directories) {
        let text = std::fs::read_to_string(&path).unwrap();
        let info = rule_info(&text).unwrap_or_else(|| panic!("{rel} is not YAML"));
        let id = info.id.clone().unwrap_or_default().to_ascii_lowercase();
        let title = info.title.clone().unwrap_or_default();
        out.insert(id, (rel, title, sel.judge(&info)));
    }
    out
}

#[test]
fn every_include_and_exclude_names_a_sigmahq_rule_the_policy_would_decide_otherwise() {
    let Some(root) = corpus() else { return };
    let sel = selection();
    let all = judged(&root, &sel);
    let policy_only = Selection {
        include: Vec::new(),
        exclude: Vec::new(),
        ..sel.clone()
    };
    let mut problems = Vec::new();
    for (list, want_kept_by_policy) in [(&sel.include, false), (&sel.exclude, true)] {
        for e in list {
            let Some((rel, title, _)) = all.get(&e.id) else {
                problems.push(format!(
                    "{} ({}) is not a rule the policy considers",
                    e.id, e.title
                ));
                continue;
            };
            if *title != e.title {
                problems.push(format!(
                    "{}: title is now {title:?}, vetted as {:?}",
                    e.id, e.title
                ));
            }
            let text = std::fs::read_to_string(root.join(rel)).unwrap();
            let by_policy = policy_only.judge(&rule_info(&text).unwrap());
            if (by_policy == Verdict::Policy) != want_kept_by_policy {
                problems.push(format!(
                    "{} ({title}): the policy alone gives {by_policy:?}, so listing it changes nothing",
                    e.id
                ));
            }
        }
    }
    // Included rules must still satisfy the policy's status and product.
    for e in &sel.include {
        if let Some((_, title, v)) = all.get(&e.id) {
            if *v != Verdict::Included {
                problems.push(format!("{} ({title}) is listed but judged {v:?}", e.id));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The light reading the selection does agrees with the engine's own
/// reading of every rule it decides on.
#[test]
fn the_selection_reads_rules_like_the_engine() {
    let Some(root) = corpus() else { return };
    let sel = selection();
    let mut problems = Vec::new();
    for (rel, path) in rule_files(&root, &sel.directories) {
        let text = std::fs::read_to_string(&path).unwrap();
        let info = rule_info(&text).unwrap();
        let (set, _) = vigie_detect::load_str(&text, Path::new(&rel), &LoadOptions::default());
        let Some(meta) = set.metas().into_iter().next() else {
            continue;
        };
        let level = meta.level.map(|l| format!("{l:?}").to_ascii_lowercase());
        if meta.id.as_deref() != info.id.as_deref()
            || meta.status.as_deref().map(str::to_ascii_lowercase) != info.status
            || (level.is_some() && level != info.level)
        {
            problems.push(format!(
                "{rel}: engine {:?}/{:?}/{:?}, selection {:?}/{:?}/{:?}",
                meta.id, meta.status, level, info.id, info.status, info.level
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_binary_embeds_exactly_the_vetted_selection_of_the_corpus() {
    let Some(root) = corpus() else { return };
    // Built from the shared corpus (the default when VIGIE_SIGMAHQ is not
    // set), the binary must carry a snapshot: an empty one would silently
    // drop the default detections.
    if std::env::var_os("VIGIE_SIGMAHQ").is_some() {
        eprintln!("skipped: VIGIE_SIGMAHQ names another SigmaHQ directory");
        return;
    }
    assert!(sigmahq::embedded_in_build(), "no SigmaHQ snapshot embedded");
    let sel = selection();
    let want: Vec<(String, String)> = rule_files(&root, &sel.directories)
        .into_iter()
        .filter_map(|(rel, p)| {
            let text = std::fs::read_to_string(p).ok()?;
            sel.judge(&rule_info(&text)?)
                .selected()
                .then_some((rel, text))
        })
        .collect();
    let got: Vec<(String, String)> = sigmahq::embedded()
        .into_iter()
        .map(|(p, t)| {
            let p = p.to_string_lossy().into_owned();
            (
                p.strip_prefix(sigmahq::SIGMAHQ_PREFIX)
                    .unwrap_or(&p)
                    .to_string(),
                t,
            )
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "embedded rules differ from the selection");
    // The corpus is the snapshot the vetting was measured on.
    let status = sigmahq::status_in(None);
    assert_eq!(status.origin, Origin::Embedded);
    assert!(status.vetted, "{status}");
    assert_eq!(status.commit.as_deref(), Some("8eaafff"));
    assert_eq!(status.rules, want.len());
    let line = status.to_string();
    assert!(
        line.contains("8eaafff") && line.contains("Detection Rule License"),
        "{line}"
    );
    // Medium rules that matter stay in; most medium rules do not.
    assert!(got
        .iter()
        .any(|(rel, _)| rel.ends_with("win_security_kerberoasting_activity.yml")));
    assert!(!got
        .iter()
        .any(|(rel, _)| rel.ends_with("proc_creation_win_net_groups_and_accounts_recon.yml")));
}

#[test]
fn every_embedded_rule_loads_and_compiles() {
    if !sigmahq::embedded_in_build() {
        eprintln!("skipped: this build embeds no SigmaHQ snapshot");
        return;
    }
    let (set, report, status) = sigmahq::rule_set(&LoadOptions::default(), None, &HashSet::new());
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert_eq!(report.files, status.rules);
    assert!(status.rules > 1000, "{status}");
    let (engine, failures) = Engine::compile(set);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(engine.rules().len() >= status.rules);
}

const RULE: &str = "title: Installed Test Rule\nid: 6a4c1f3e-8d2b-4e7a-9c5f-1b2d3e4f5a6b\nstatus: test\ndate: 2099-01-01\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    selection:\n        Image|endswith: '\\x.exe'\n    condition: selection\nlevel: high\n";

/// A release as `vigie rules update` leaves it: rules and the marker.
fn installed(dir: &Path, newest_rule: &str) {
    std::fs::create_dir_all(dir.join("rules/windows")).unwrap();
    std::fs::write(dir.join("rules/windows/kept.yml"), RULE).unwrap();
    // A medium rule that no `include` names: left out.
    std::fs::write(
        dir.join("rules/windows/medium.yml"),
        RULE.replace("level: high", "level: medium")
            .replace("6a4c1f3e", "7b5d2a4f"),
    )
    .unwrap();
    sigmahq::write_marker(
        dir,
        &Marker {
            release: "r2099-01-01".into(),
            newest_rule: newest_rule.into(),
            url: "http://127.0.0.1/sigma_all_rules.zip".into(),
            installed_at: "2099-01-02T00:00:00Z".into(),
        },
    )
    .unwrap();
}

#[test]
fn a_newer_installed_snapshot_replaces_the_embedded_one_with_the_same_vetting() {
    let tmp = tempfile::tempdir().unwrap();
    installed(tmp.path(), "2099-01-01");
    let (set, report, status) =
        sigmahq::rule_set(&LoadOptions::default(), Some(tmp.path()), &HashSet::new());
    assert_eq!(status.origin, Origin::Installed, "{status}");
    assert_eq!(status.release.as_deref(), Some("r2099-01-01"));
    assert_eq!(status.rules, 1, "only the high rule is selected: {status}");
    assert!(report.failures.is_empty());
    assert_eq!(set.metas()[0].title, "Installed Test Rule");
    let line = status.to_string();
    assert!(line.contains("release r2099-01-01"), "{line}");
    assert!(line.contains(&tmp.path().display().to_string()), "{line}");
}

#[test]
fn an_older_installed_snapshot_is_not_used_and_the_user_is_told() {
    if !sigmahq::embedded_in_build() {
        eprintln!("skipped: this build embeds no SigmaHQ snapshot");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    installed(tmp.path(), "2000-01-01");
    let status = sigmahq::status_in(Some(tmp.path()));
    assert_eq!(status.origin, Origin::Embedded);
    assert!(status.to_string().contains("is not newer"), "{status}");

    // Rules without the marker `rules update` writes: said, not guessed.
    let bare = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bare.path().join("rules/windows")).unwrap();
    let status = sigmahq::status_in(Some(bare.path()));
    assert_eq!(status.origin, Origin::Embedded);
    assert!(status.to_string().contains(sigmahq::MARKER), "{status}");
}

#[test]
fn a_rule_given_with_rules_is_taken_out_of_the_snapshot() {
    if !sigmahq::embedded_in_build() {
        eprintln!("skipped: this build embeds no SigmaHQ snapshot");
        return;
    }
    let (_, text) = sigmahq::embedded().into_iter().next().unwrap();
    let id = rule_info(&text).unwrap().id.unwrap().to_ascii_lowercase();
    let (_, _, all) = sigmahq::rule_set(&LoadOptions::default(), None, &HashSet::new());
    let (set, _, status) =
        sigmahq::rule_set(&LoadOptions::default(), None, &HashSet::from([id.clone()]));
    assert_eq!(status.rules, all.rules - 1);
    assert!(set.metas().iter().all(|m| m.id.as_deref() != Some(&id)));
    assert!(
        status.to_string().contains("also given with --rules"),
        "{status}"
    );
}

#[test]
fn without_a_snapshot_the_status_says_so() {
    let status = sigmahq::SnapshotStatus::none(Vec::new());
    let line = status.to_string();
    assert!(line.contains("not embedded in this build"), "{line}");
}
