//! Indicators of compromise beside the rules (`--ioc`).
//!
//! Why here: the hunt's per-event evaluation is the one place every event
//! passes through. Indicators are read once, compiled into one
//! [`vigie_intel::Matcher`], and evaluated on each event right after the
//! Sigma engine, in the same pass: a match is a detection like a rule's
//! (timeline `kind: ioc`) and feeds the scope like any signal. A source
//! that cannot be read at all stops the run before anything is read (as a
//! missing `--rules` path does); what a readable source holds but cannot
//! be matched is reported with its place and counted, never dropped
//! silently.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use vigie_intel::{Auth, Imported, MatchOptions, Matcher, Problem, ProblemKind};

/// What reading and compiling the indicators gave (the manifest's
/// `indicators`, and the problems listed on standard error).
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndicatorsReport {
    /// The `--ioc` sources, as given.
    pub sources: Vec<String>,
    /// Files (or documents fetched) read.
    pub files: usize,
    /// Indicators imported.
    pub imported: usize,
    /// Indicators compiled into the matcher.
    pub compiled: usize,
    /// Indicators the matcher could not take, with why (a pattern too large).
    pub rejected: Vec<Rejected>,
    /// Everything not imported, counted by kind.
    pub not_imported: BTreeMap<ProblemKind, usize>,
    /// The first problems, with their place.
    pub problems: Vec<Problem>,
}

/// An indicator the matcher left out.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub indicator: String,
    pub reason: String,
}

/// Why the indicators could not be read.
#[derive(Debug, thiserror::Error)]
#[error("--ioc {0}")]
pub struct IndicatorsError(pub String);

/// Reads every source (a file, a directory, an `http(s)://` URL of a
/// document or a MISP feed) and compiles one matcher. `None` when no
/// source was given.
pub fn load(
    sources: &[String],
) -> Result<Option<(Arc<Matcher>, IndicatorsReport)>, IndicatorsError> {
    let Some((all, mut report)) = import(sources)? else {
        return Ok(None);
    };
    let (matcher, compiled) = Matcher::compile(all.indicators, MatchOptions::default());
    report.compiled = compiled.indicators;
    report.rejected = compiled
        .rejected
        .into_iter()
        .map(|(indicator, reason)| Rejected { indicator, reason })
        .collect();
    Ok(Some((Arc::new(matcher), report)))
}

/// Reads every source, without compiling: what `vigie serve` keeps to
/// compile again with the indicators uploaded later. `None` when no
/// source was given.
pub fn import(sources: &[String]) -> Result<Option<(Imported, IndicatorsReport)>, IndicatorsError> {
    if sources.is_empty() {
        return Ok(None);
    }
    let mut all = Imported::default();
    for source in sources {
        let imported = if source.starts_with("http://") || source.starts_with("https://") {
            vigie_intel::import_url(source, &Auth::None)
        } else {
            vigie_intel::import_path(Path::new(source))
        }
        .map_err(|e| IndicatorsError(hide_secrets(source, &e.to_string())))?;
        all.merge(imported);
    }
    let report = IndicatorsReport {
        // Credentials given in a feed's URL never reach the manifest.
        sources: sources
            .iter()
            .map(|s| vigie_intel::http::redact_url(s))
            .collect(),
        files: all.files,
        imported: all.indicators.len(),
        not_imported: all.problems_total.clone(),
        problems: all.problems.clone(),
        ..Default::default()
    };
    Ok(Some((all, report)))
}

/// A message about `source` with its secrets hidden (see
/// [`vigie_intel::http::redact_url`]).
pub fn hide_secrets(source: &str, message: &str) -> String {
    let shown = vigie_intel::http::redact_url(source);
    let mut m = message.replace(source, &shown);
    if let Ok(url) = url::Url::parse(source) {
        if let Some(p) = url.password() {
            m = m.replace(p, "***");
        }
    }
    m
}

impl IndicatorsReport {
    /// Indicators not imported or not compiled.
    pub fn left_out(&self) -> usize {
        self.not_imported.values().sum::<usize>() + self.rejected.len()
    }
}
