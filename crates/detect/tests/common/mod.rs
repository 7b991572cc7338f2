//! Helpers shared by the corpus tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared corpus (`VIGIE_CORPUS`, default `../shared/corpus` from the
/// workspace root). `None` (after printing why) when it is missing and we
/// are not on CI; on CI a missing corpus is a failure.
pub fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["sigma"])
}

/// The SigmaHQ rule directories (`rules*`).
pub fn rule_dirs(corpus: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus.join("sigma"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("rules"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
