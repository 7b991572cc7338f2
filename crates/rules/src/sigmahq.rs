//! The SigmaHQ snapshot: vetted SigmaHQ rules that Vigie uses by default.
//!
//! Two places can hold it:
//! * **embedded** at build time by `build.rs` (the rules of a SigmaHQ
//!   directory that `rules/sigmahq-selection.yml` selects, compressed);
//! * **installed** by `vigie rules update` into the user's data directory
//!   (`$XDG_DATA_HOME/vigie/sigmahq/`, a whole SigmaHQ release plus
//!   `vigie-snapshot.json`), to which the same selection is applied when it
//!   is loaded.
//!
//! The installed one is used when it is newer (its newest rule date is
//! later than the embedded one's); otherwise the embedded one. Which one is
//! used, what it is (commit or release, dates, rule count) and the SigmaHQ
//! attribution are in [`SnapshotStatus`], which `vigie rules check`, the
//! hunt summary and the run manifest show. A build without a SigmaHQ
//! directory embeds nothing and says so: "SigmaHQ snapshot: not embedded in
//! this build" — never a silent empty rule set.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use vigie_detect::{LoadOptions, LoadReport, RuleSet};

use crate::selection::{self, Selection};

/// What `build.rs` knows about the embedded snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddedInfo {
    pub commit: Option<&'static str>,
    pub commit_date: Option<&'static str>,
    pub release: Option<&'static str>,
    pub newest_rule: &'static str,
    pub rules: usize,
    pub excluded: usize,
    pub considered: usize,
    pub unreadable: usize,
    pub vetted: bool,
    pub tree_digest: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/sigmahq_info.rs"));

/// The selected SigmaHQ rules, deflate-compressed: for each rule,
/// `u32 LE length, relative path, u32 LE length, YAML text`.
static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sigmahq.bin"));

/// The vetting (`rules/sigmahq-selection.yml`) this binary applies.
pub const SELECTION: &str = include_str!("../../../rules/sigmahq-selection.yml");

/// Prefix of the pseudo paths of embedded SigmaHQ rules
/// (`builtin:sigmahq/rules/windows/...yml`: the path in SigmaHQ's repository).
pub const SIGMAHQ_PREFIX: &str = "builtin:sigmahq/";

/// Attribution required by the Detection Rule License for shipped SigmaHQ
/// rules (each rule's `author` field is kept unchanged in its YAML).
pub const ATTRIBUTION: &str = "SigmaHQ rules (https://github.com/SigmaHQ/sigma) by the authors \
    named in each rule, under the Detection Rule License 1.1 \
    (https://github.com/SigmaHQ/Detection-Rule-License)";

/// Name of the marker file `vigie rules update` writes beside a release.
pub const MARKER: &str = "vigie-snapshot.json";

/// What `vigie rules update` records about an installed release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Release tag, e.g. `r2026-09-01`.
    pub release: String,
    /// Latest `date`/`modified` of the rules the selection considers.
    pub newest_rule: String,
    /// Where it was downloaded from.
    pub url: String,
    /// When it was installed (RFC 3339, UTC).
    pub installed_at: String,
}

/// Where the snapshot in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Built into this binary.
    Embedded,
    /// Installed by `vigie rules update` in the user's data directory.
    Installed,
    /// Neither: this build embeds no snapshot and none is installed.
    None,
}

/// The SigmaHQ snapshot a run uses, for reports and manifests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotStatus {
    pub origin: Origin,
    /// The installed snapshot's directory (when `origin` is `installed`).
    pub path: Option<PathBuf>,
    /// SigmaHQ commit (short), when known.
    pub commit: Option<String>,
    /// Date of that commit, when known.
    pub commit_date: Option<String>,
    /// SigmaHQ release tag, when known.
    pub release: Option<String>,
    /// Latest `date`/`modified` among the rules the selection considered.
    pub newest_rule: Option<String>,
    /// Rule files selected (before `--min-level`/`--status`).
    pub rules: usize,
    /// True when the rules are exactly those the selection was vetted on.
    pub vetted: bool,
    /// Whether this binary embeds a snapshot at all.
    pub embedded_in_build: bool,
    pub attribution: &'static str,
    /// Anything the user should know (an installed snapshot not used, ...).
    pub notes: Vec<String>,
}

impl SnapshotStatus {
    /// No snapshot: the build embeds none and none is installed.
    pub fn none(notes: Vec<String>) -> Self {
        SnapshotStatus {
            origin: Origin::None,
            path: None,
            commit: None,
            commit_date: None,
            release: None,
            newest_rule: None,
            rules: 0,
            vetted: false,
            embedded_in_build: false,
            attribution: ATTRIBUTION,
            notes,
        }
    }

    /// "commit 8eaafff (2026-08-05)" / "release r2026-09-01" / "rules
    /// dated up to 2026-07-30".
    pub fn identity(&self) -> String {
        match (&self.commit, &self.commit_date, &self.release) {
            (Some(c), Some(d), _) => format!("commit {c} ({d})"),
            (Some(c), None, _) => format!("commit {c}"),
            (None, _, Some(r)) => format!("release {r}"),
            _ => format!(
                "rules dated up to {}",
                self.newest_rule.as_deref().unwrap_or("an unknown date")
            ),
        }
    }
}

/// One line, as `vigie rules check` and the hunt summary print it.
impl fmt::Display for SnapshotStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin {
            Origin::None => write!(
                f,
                "SigmaHQ snapshot: not embedded in this build (and none installed by `vigie rules \
                 update`); only Vigie's pack and --rules are used"
            )?,
            Origin::Embedded | Origin::Installed => {
                write!(
                    f,
                    "SigmaHQ snapshot: {}, {} rule{} selected by Vigie's vetting, {}",
                    self.identity(),
                    self.rules,
                    if self.rules == 1 { "" } else { "s" },
                    match (&self.origin, &self.path) {
                        (Origin::Installed, Some(p)) => format!("installed in {}", p.display()),
                        _ => "embedded in this build".to_string(),
                    }
                )?;
                if !self.vetted && self.origin == Origin::Embedded {
                    write!(f, " (not the SigmaHQ commit the vetting was measured on)")?;
                }
                write!(f, ". {}", self.attribution)?;
            }
        }
        for n in &self.notes {
            write!(f, ". {n}")?;
        }
        Ok(())
    }
}

/// Whether this binary embeds a SigmaHQ snapshot.
pub fn embedded_in_build() -> bool {
    EMBEDDED.is_some()
}

/// The user's data directory for Vigie (`$VIGIE_DATA_DIR`, else the
/// platform's: `$XDG_DATA_HOME/vigie` or `~/.local/share/vigie` on Linux).
pub fn data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("VIGIE_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    dirs::data_dir().map(|d| d.join("vigie"))
}

/// Where `vigie rules update` installs the snapshot by default.
pub fn installed_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("sigmahq"))
}

fn selection() -> Selection {
    // The file is part of the binary and checked by the build script: it
    // always parses.
    Selection::parse(SELECTION).expect("rules/sigmahq-selection.yml is checked at build time")
}

fn read_marker(dir: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    serde_json::from_str(&text).ok()
}

fn embedded_status(info: &EmbeddedInfo) -> SnapshotStatus {
    SnapshotStatus {
        origin: Origin::Embedded,
        path: None,
        commit: info.commit.map(str::to_string),
        commit_date: info.commit_date.map(str::to_string),
        release: info.release.map(str::to_string),
        newest_rule: Some(info.newest_rule.to_string()),
        rules: info.rules,
        vetted: info.vetted,
        embedded_in_build: true,
        attribution: ATTRIBUTION,
        notes: Vec::new(),
    }
}

/// Which snapshot a run uses, given the installed-snapshot directory to
/// look at (`None`: only the embedded one). Cheap: reads one small file.
pub fn status_in(installed: Option<&Path>) -> SnapshotStatus {
    let marker = installed.and_then(|d| read_marker(d).map(|m| (d, m)));
    let mut notes = Vec::new();
    if let (Some(d), None) = (installed, &marker) {
        if d.join("rules").is_dir() {
            notes.push(format!(
                "{} holds rules but no readable {MARKER}: run `vigie rules update` again",
                d.display()
            ));
        }
    }
    let embedded = EMBEDDED.as_ref();
    match (embedded, marker) {
        (Some(e), Some((d, m))) if m.newest_rule.as_str() <= e.newest_rule => {
            let mut s = embedded_status(e);
            s.notes.push(format!(
                "the snapshot installed in {} (release {}, rules up to {}) is not newer, so the \
                 embedded one is used",
                d.display(),
                m.release,
                m.newest_rule
            ));
            s.notes.extend(notes);
            s
        }
        (_, Some((d, m))) => SnapshotStatus {
            origin: Origin::Installed,
            path: Some(d.to_path_buf()),
            commit: None,
            commit_date: None,
            release: Some(m.release),
            newest_rule: Some(m.newest_rule),
            rules: 0,
            vetted: false,
            embedded_in_build: embedded.is_some(),
            attribution: ATTRIBUTION,
            notes,
        },
        (Some(e), None) => {
            let mut s = embedded_status(e);
            s.notes.extend(notes);
            s
        }
        (None, None) => SnapshotStatus::none(notes),
    }
}

/// The embedded rules as (pseudo path, YAML text), in SigmaHQ path order.
/// Empty when the build embedded none.
pub fn embedded() -> Vec<(PathBuf, String)> {
    let mut raw = Vec::new();
    if BLOB.is_empty()
        || flate2::read::DeflateDecoder::new(BLOB)
            .read_to_end(&mut raw)
            .is_err()
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut rest = raw.as_slice();
    let take = |rest: &mut &[u8]| -> Option<String> {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let (s, tail) = (tail.get(..len)?, tail.get(len..)?);
        *rest = tail;
        String::from_utf8(s.to_vec()).ok()
    };
    while !rest.is_empty() {
        let (Some(path), Some(text)) = (take(&mut rest), take(&mut rest)) else {
            break;
        };
        out.push((PathBuf::from(format!("{SIGMAHQ_PREFIX}{path}")), text));
    }
    out
}

/// The selected rules of an installed release, as (path, text).
fn installed(dir: &Path, sel: &Selection) -> Vec<(PathBuf, String)> {
    let files = selection::rule_files(dir, &sel.directories);
    let picked: Vec<Option<(PathBuf, String)>> = files
        .par_iter()
        .map(|(_, p)| {
            let text = std::fs::read_to_string(p).ok()?;
            let info = selection::rule_info(&text)?;
            sel.judge(&info).selected().then(|| (p.clone(), text))
        })
        .collect();
    picked.into_iter().flatten().collect()
}

/// Loads the snapshot a run uses (see [`status_in`]) with `opts`, leaving
/// out rules whose id is in `skip` (the same rules given with `--rules`:
/// the user's copy wins, no rule fires twice). Returns the rules, the load
/// report, and the status (with the number of rule files actually used).
pub fn rule_set(
    opts: &LoadOptions,
    installed_dir: Option<&Path>,
    skip: &HashSet<String>,
) -> (RuleSet, LoadReport, SnapshotStatus) {
    let mut status = status_in(installed_dir);
    let files = match (&status.origin, &status.path) {
        (Origin::Installed, Some(d)) => installed(d, &selection()),
        (Origin::Embedded, _) => embedded(),
        _ => Vec::new(),
    };
    let files: Vec<&(PathBuf, String)> = if skip.is_empty() {
        files.iter().collect()
    } else {
        let kept: Vec<bool> = files
            .par_iter()
            .map(|(_, text)| {
                selection::rule_info(text)
                    .and_then(|i| i.id)
                    .is_none_or(|id| !skip.contains(&id.to_ascii_lowercase()))
            })
            .collect();
        let n = kept.iter().filter(|k| !**k).count();
        if n > 0 {
            status.notes.push(format!(
                "{n} of its rules were also given with --rules; those copies are used instead"
            ));
        }
        files
            .iter()
            .zip(kept)
            .filter(|(_, k)| *k)
            .map(|(f, _)| f)
            .collect()
    };
    status.rules = files.len();
    let loaded: Vec<(RuleSet, LoadReport)> = files
        .par_iter()
        .map(|(path, text)| vigie_detect::load_str(text, path, opts))
        .collect();
    let mut set = RuleSet::default();
    let mut report = LoadReport::default();
    for (s, r) in loaded {
        set.extend(s);
        report.merge(r);
    }
    (set, report, status)
}

/// Latest `date`/`modified` among the rules of `dir` that the selection
/// considers (for the marker `vigie rules update` writes).
pub fn newest_rule(dir: &Path) -> Option<String> {
    let sel = selection();
    selection::rule_files(dir, &sel.directories)
        .par_iter()
        .filter_map(|(_, p)| {
            let text = std::fs::read_to_string(p).ok()?;
            selection::rule_info(&text)?.last_change
        })
        .max()
}

/// Writes the marker of a release installed in `dir`.
pub fn write_marker(dir: &Path, marker: &Marker) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(marker).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(MARKER), json + "\n")
}

/// Facts about the embedded snapshot for tests and `rules check --json`.
#[derive(Debug, Clone, Serialize)]
pub struct BuildFacts {
    pub considered: usize,
    pub selected: usize,
    pub excluded: usize,
    pub unreadable: usize,
    pub tree_digest: String,
}

/// What the build script saw (`None` when nothing was embedded).
pub fn build_facts() -> Option<BuildFacts> {
    EMBEDDED.map(|e| BuildFacts {
        considered: e.considered,
        selected: e.rules,
        excluded: e.excluded,
        unreadable: e.unreadable,
        tree_digest: e.tree_digest.to_string(),
    })
}
