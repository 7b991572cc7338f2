//! The run manifest: what was read, with which rules, by which Vigie.
//!
//! Written beside the timeline so that a CSIRT receiving the timeline can
//! check it against the evidence: every input's sha256 and size, how many
//! records were read and skipped, and the rule set's digest and counts.

use serde::Serialize;
use vigie_event::Timestamp;
use vigie_source::FileReport;

use crate::pipeline::HuntOutcome;

/// Manifest schema version; bumped on any incompatible change.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub vigie_version: &'static str,
    /// The command line, as given.
    pub command: Vec<String>,
    pub generated_at: Timestamp,
    pub rules: RulesManifest,
    pub inputs: Vec<InputManifest>,
    /// Paths that could not be read at all.
    pub input_errors: Vec<String>,
    pub events: u64,
    pub detections: usize,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// The indicators matched (`--ioc`): sources, counts, what was left
    /// out and why. Absent when none were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicators: Option<crate::indicators::IndicatorsReport>,
    /// Every other output of the run (timeline, report, scope, ATT&CK
    /// layer), hashed as written: the manifest is written last, once they
    /// are complete. An output that could not be written is not listed.
    pub outputs: Vec<OutputManifest>,
}

/// One output file of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputManifest {
    /// `timeline`, `report`, `scope` or `navigator`.
    pub kind: String,
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct RulesManifest {
    pub digest: String,
    pub compiled: usize,
    pub files: usize,
    pub detection: usize,
    pub correlation: usize,
    pub filter: usize,
    pub deselected: usize,
    pub not_loaded: usize,
    /// The SigmaHQ snapshot used, with its identity and attribution (absent
    /// when the run did not ask for it, e.g. `--no-sigmahq`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigmahq: Option<vigie_rules::sigmahq::SnapshotStatus>,
}

#[derive(Debug, Serialize)]
pub struct InputManifest {
    pub path: String,
    pub format: Option<String>,
    pub sha256: String,
    pub size: u64,
    /// `read`, `partly_read` or `not_read` (issue 19): never an "all
    /// clear" over a file that was not read whole.
    pub fate: vigie_source::Fate,
    /// Why the file was not read whole: its first errors (bounded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    pub records_read: u64,
    pub records_skipped: u64,
    pub errors: usize,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Facts about the input that are not errors (an EVTX file marked
    /// dirty, the year assumed for year-less syslog timestamps).
    pub notes: Vec<String>,
    /// For a member of a ZIP or 7z archive (`path` is then
    /// `archive.zip!/member`), the archive it came from (for nested
    /// archives, the innermost); `sha256` and `size` are the member's own,
    /// decompressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
}

impl From<&FileReport> for InputManifest {
    fn from(f: &FileReport) -> Self {
        InputManifest {
            path: f.path.display().to_string(),
            format: f.format.as_ref().map(|x| format!("{x}")),
            sha256: f.sha256.clone(),
            size: f.size,
            fate: f.fate(),
            reasons: f.errors.iter().take(5).map(|e| e.to_string()).collect(),
            records_read: f.records_read,
            records_skipped: f.records_skipped,
            errors: f.errors.len(),
            first: f.first,
            last: f.last,
            notes: f.notes.clone(),
            archive: f
                .path
                .to_str()
                .and_then(|p| p.rsplit_once(vigie_source::archive::MEMBER_SEPARATOR))
                .map(|(a, _)| a.to_string()),
        }
    }
}

impl Manifest {
    /// The manifest of a finished hunt.
    pub fn new(outcome: &HuntOutcome, command: Vec<String>, generated_at: Timestamp) -> Self {
        let r = &outcome.rules;
        Manifest {
            manifest_version: MANIFEST_VERSION,
            vigie_version: env!("CARGO_PKG_VERSION"),
            command,
            generated_at,
            rules: RulesManifest {
                digest: outcome.rule_digest.clone(),
                compiled: outcome.rules_compiled,
                files: r.files,
                detection: r.detection,
                correlation: r.correlation,
                filter: r.filter,
                deselected: r.deselected,
                not_loaded: r.failures.len(),
                sigmahq: outcome.sigmahq.clone(),
            },
            inputs: outcome.files.iter().map(InputManifest::from).collect(),
            input_errors: outcome.input_errors.iter().map(|e| e.to_string()).collect(),
            events: outcome.events,
            detections: outcome.detections.len(),
            first: outcome.first,
            last: outcome.last,
            indicators: outcome.indicators.clone(),
            outputs: Vec::new(),
        }
    }
}
