//! Vigie's HTML incident report.
//!
//! `vigie hunt … --report FILE.html` writes one self-contained file: CSS
//! in a `<style>` element, charts as inline SVG computed here in Rust, a
//! few lines of vanilla JavaScript for sorting and filtering tables, and
//! nothing fetched from anywhere, so it opens offline on a laptop in the
//! crisis room and survives being mailed or printed.
//!
//! It is written for the mayor's crisis cell first (the plain-words answer
//! at the top, a red/amber/green status language throughout) and for
//! analysts second (the progression, the graph, the tables, every alert).
//!
//! Everything that comes from logs is attacker-controlled and is escaped
//! by [`html::escape`]; as a second line of defence the page carries a
//! Content-Security-Policy that only allows its own script and style
//! (by hash), so even a missed escape could not run injected script.
//!
//! ```no_run
//! # fn scope() -> vigie_scope::Scope { unimplemented!() }
//! let html = vigie_report::render_html(&scope(), &[]);
//! let opts = vigie_report::Options {
//!     lang: vigie_report::Lang::Fr,
//!     zone: "Europe/Paris".parse().unwrap(),
//!     ..Default::default()
//! };
//! let french = vigie_report::render_html_with(&scope(), &[], &opts);
//! vigie_report::write_html("report.html", &scope()).unwrap();
//! ```

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigie_detect::Level;
use vigie_event::Timestamp;
use vigie_scope::{Evidence, Scope};

pub mod graph;
pub mod html;
mod page;
pub use page::SECTIONS;
pub mod progression;
pub mod style;
pub mod text;
pub mod timeline;
pub mod tone;
pub mod verdict;

pub use text::{Strings, Voice, EN, FR};
pub use vigie_lang::{Lang, Zone};

/// One alert, as the report's detections table and timeline chart need it.
///
/// The scope carries per-rule counts only; the per-alert times that the
/// timeline chart bins come from here. `vigie hunt` fills it from its
/// timeline rows (same meanings as the timeline's public columns).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectionRow {
    pub time: Option<Timestamp>,
    pub level: Option<Level>,
    pub rule_id: Option<String>,
    pub rule_title: String,
    /// Sigma tags (`attack.t1021.002`, ...).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Host that logged the event.
    pub computer: Option<String>,
    /// Account the event is about, when known.
    #[serde(default)]
    pub account: Option<String>,
    /// Why it matched, one line (`CommandLine=…`): attacker-controlled.
    #[serde(default)]
    pub details: String,
    /// Where the event is: `file#record=N`, `file:line`.
    #[serde(default)]
    pub source: String,
}

impl DetectionRow {
    /// A row for a rule that matched: what `vigie hunt` has for each
    /// detection (its rule, time, computer, `details` column and origin).
    ///
    /// ```text
    /// DetectionRow::from_rule(&d.rule, d.time, d.computer.as_deref(),
    ///                         d.row().details, d.origin.to_string())
    /// ```
    pub fn from_rule(
        rule: &vigie_detect::RuleMeta,
        time: Option<Timestamp>,
        computer: Option<&str>,
        details: String,
        source: String,
    ) -> Self {
        DetectionRow {
            time,
            level: rule.level,
            rule_id: rule.id.clone(),
            rule_title: rule.title.clone(),
            tags: rule.tags.clone(),
            computer: computer.map(str::to_string),
            account: None,
            details,
            source,
        }
    }

    /// A row from a scope [`Evidence`] that is a detection.
    pub fn from_evidence(e: &Evidence) -> Self {
        DetectionRow {
            time: e.time,
            level: e.level,
            rule_id: e.rule_id.clone(),
            rule_title: e.rule_title.clone().unwrap_or_else(|| e.summary.clone()),
            tags: Vec::new(),
            computer: e.host.clone(),
            account: None,
            details: e.summary.clone(),
            source: origin_text(e),
        }
    }
}

/// `file#record=N` / `file:N` / `file[N]`, as [`vigie_event::Origin`] prints.
pub(crate) fn origin_text(e: &Evidence) -> String {
    vigie_event::Origin {
        source: e.source.as_str().into(),
        locator: e.locator.clone(),
    }
    .to_string()
}

/// What the report needs besides the scope.
#[derive(Debug, Clone)]
pub struct Options {
    /// Shown in the title (the scope does not carry it; the assets file does).
    pub organisation: Option<String>,
    /// When the report was generated; `None` leaves it out (reproducible output).
    pub generated_at: Option<Timestamp>,
    /// The language of every word the report writes (`--lang`). The
    /// scope's own sentences (answer, reasons) come in the language the
    /// scope was made in.
    pub lang: Lang,
    /// The zone times are shown in (`--timezone`); UTC stays on hover.
    pub zone: Zone,
    /// At most this many alerts in the detections table, most severe and
    /// earliest kept (the full list is in the JSON/CSV timeline). Keeps
    /// the file light enough to open on an old laptop.
    pub max_detection_rows: usize,
    /// At most this many rows in the hosts and accounts tables.
    pub max_table_rows: usize,
}

impl Default for Options {
    /// English and UTC, as `vigie hunt` in a non-French locale without
    /// `--timezone`.
    fn default() -> Self {
        Options {
            organisation: None,
            generated_at: None,
            lang: Lang::En,
            zone: Zone::Utc,
            max_detection_rows: 2000,
            max_table_rows: 500,
        }
    }
}

/// The report as one HTML document.
pub fn render_html(scope: &Scope, detections: &[DetectionRow]) -> String {
    render_html_with(scope, detections, &Options::default())
}

/// The report as one HTML document, with options.
pub fn render_html_with(scope: &Scope, detections: &[DetectionRow], opts: &Options) -> String {
    page::render(scope, detections, opts)
}

/// Some sections of the report (ids of [`SECTIONS`]), as HTML without
/// the page around them, for pages that show them in their own frame
/// with [`style::THEME_CSS`] and [`style::REPORT_CSS`] (the console's
/// incident pages): one wording and one look for both.
pub fn render_sections(
    scope: &Scope,
    detections: &[DetectionRow],
    opts: &Options,
    ids: &[&str],
) -> String {
    page::sections(scope, detections, opts, ids)
}

/// Writes the report for a scope alone (no per-alert rows: the timeline
/// falls back to the scope's attack steps).
pub fn write_html(path: impl AsRef<Path>, scope: &Scope) -> io::Result<()> {
    write_html_with(path, scope, &[], &Options::default())
}

/// Writes the report, creating the parent directory if needed.
pub fn write_html_with(
    path: impl AsRef<Path>,
    scope: &Scope,
    detections: &[DetectionRow],
    opts: &Options,
) -> io::Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render_html_with(scope, detections, opts))
}
