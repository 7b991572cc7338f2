//! Vigie's own Sigma rule pack, the vetted SigmaHQ snapshot, and `vigie
//! rules update`.
//!
//! * [`builtin`] / [`builtin_rule_set`]: the rules under `rules/vigie/` of the
//!   repository, embedded into the binary at build time. With the SigmaHQ
//!   snapshot they are what Vigie detects with by default, so that a commune
//!   with no internet access still gets detections for the ransomware
//!   playbook (VPN brute force, French AD group names, RMM tools,
//!   exfiltration, impact) and for Active Directory intrusions (password
//!   spray, Kerberoasting, DCSync, remote execution).
//! * [`sigmahq`]: the SigmaHQ rules selected by `rules/sigmahq-selection.yml`
//!   ([`selection`]), embedded at build time or installed by `vigie rules
//!   update`, with their identity and attribution.
//! * [`update`]: downloads the latest SigmaHQ release archive for users who
//!   have internet access, checks that it really is a rule archive, and
//!   installs it atomically (see [`update`] for the steps).
//!
//! Each rule file `X.yml` has a sibling `X.test.yml` holding events that must
//! and must not fire it; `tests/rule_pack.rs` replays them through
//! `vigie-detect`. Test files are not rules and are not embedded.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use vigie_detect::{LoadOptions, LoadReport, RuleSet};

pub mod selection;
pub mod sigmahq;
mod update;

pub use update::{update, NetworkCause, UpdateError, UpdateOptions, UpdateReport};

/// The rule pack as it was in the source tree when the binary was built.
static PACK: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../rules/vigie");

/// Prefix of the pseudo paths that name built-in rules in reports, so a
/// finding can always be traced to `rules/vigie/<area>/<file>` in the
/// repository even though no file exists on the user's machine.
pub const BUILTIN_PREFIX: &str = "builtin:vigie/";

/// True for files of the pack that are rules (not their test sidecars,
/// not documentation).
pub fn is_rule_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    (name.ends_with(".yml") || name.ends_with(".yaml"))
        && !name.ends_with(".test.yml")
        && !name.ends_with(".test.yaml")
}

/// Every built-in rule file as (pseudo path `builtin:vigie/<area>/<file>.yml`,
/// YAML text), sorted by path so that rule order (and the engine digest) does
/// not depend on how the build embedded the directory.
pub fn builtin() -> Vec<(PathBuf, &'static str)> {
    let mut out = Vec::new();
    collect(&PACK, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<(PathBuf, &'static str)>) {
    for file in dir.files() {
        if !is_rule_file(file.path()) {
            continue;
        }
        // A non-UTF-8 rule file would be a build-time mistake in this
        // repository; the pack test (`every_rule_file_is_utf8`) catches it,
        // and at run time it is skipped rather than crashing the binary.
        if let Some(text) = file.contents_utf8() {
            let pseudo = format!(
                "{BUILTIN_PREFIX}{}",
                file.path().to_string_lossy().replace('\\', "/")
            );
            out.push((PathBuf::from(pseudo), text));
        }
    }
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

/// Parses the whole built-in pack with `opts` (level/status selection) into
/// one rule set, with one merged load report (failures name the pseudo path).
pub fn builtin_rule_set(opts: &LoadOptions) -> (RuleSet, LoadReport) {
    let mut set = RuleSet::default();
    let mut report = LoadReport::default();
    for (path, text) in builtin() {
        let (s, r) = vigie_detect::load_str(text, &path, opts);
        set.extend(s);
        report.merge(r);
    }
    (set, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_rules_not_tests() {
        let files = builtin();
        assert!(
            files.len() >= 25,
            "only {} built-in rule files",
            files.len()
        );
        for (p, text) in &files {
            let s = p.to_string_lossy();
            assert!(s.starts_with(BUILTIN_PREFIX), "{s}");
            assert!(!s.ends_with(".test.yml"), "{s}");
            assert!(text.contains("title:"), "{s}");
        }
        let mut sorted = files.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(files, sorted);
    }

    #[test]
    fn rule_file_names() {
        assert!(is_rule_file(Path::new("impact/x.yml")));
        assert!(!is_rule_file(Path::new("impact/x.test.yml")));
        assert!(!is_rule_file(Path::new("README.md")));
    }
}
