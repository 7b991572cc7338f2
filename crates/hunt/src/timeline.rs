//! Detections as a timeline: one row per detection, sorted by time.
//!
//! The row layout is a public contract (scripts, Timesketch and Timeline
//! Explorer read it): the names below never change meaning. JSONL rows
//! carry Timesketch's required `datetime`, `timestamp_desc` and `message`,
//! and `timestamp` in microseconds since the Unix epoch as Timesketch
//! expects; CSV rows carry the same columns (lists joined with ` | `).

use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use vigie_detect::{Level, MatchedField, RuleMeta};
use vigie_event::{Origin, Timestamp};

/// Whether a detection comes from a detection rule (one event) or from a
/// correlation rule (several events over a time window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectionKind {
    Detection,
    Correlation,
}

/// One detection, in memory.
#[derive(Debug, Clone)]
pub struct Detection {
    pub kind: DetectionKind,
    pub time: Option<Timestamp>,
    pub computer: Option<Box<str>>,
    pub channel: Option<Box<str>>,
    pub event_id: Option<u32>,
    pub record_id: Option<u64>,
    pub rule: Arc<RuleMeta>,
    /// The event it was found on (for correlations: the last contributing
    /// event is unknown to the correlator, so the origin names the rule).
    pub origin: Origin,
    /// Why it matched (selections and fields), or for a correlation the
    /// group-by values and the aggregated value.
    pub matched: Vec<MatchedField>,
}

impl Detection {
    /// The level used for sorting and filtering (`informational` when the
    /// rule has none).
    pub fn level(&self) -> Level {
        self.rule.level.unwrap_or(Level::Informational)
    }

    /// Deterministic timeline order: time, then where it was read, then
    /// rule id. Events without a time sort first.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.time,
            &self.origin.source,
            locator_key(&self.origin),
            self.rule.id.as_deref().unwrap_or(&self.rule.title),
            self.kind,
        )
    }
}

fn locator_key(o: &Origin) -> u64 {
    match o.locator {
        vigie_event::Locator::Record(n) | vigie_event::Locator::Line(n) => n,
        vigie_event::Locator::Index(n) => n,
        vigie_event::Locator::None => 0,
    }
}

/// Timeline output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineFormat {
    Csv,
    Jsonl,
}

/// The serialized row: the stable public names.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    /// Microseconds since the Unix epoch (Timesketch `timestamp`).
    pub timestamp: Option<i64>,
    /// ISO 8601 UTC with microseconds.
    pub datetime: String,
    pub timestamp_desc: &'static str,
    pub message: String,
    pub computer: &'a str,
    pub channel: &'a str,
    pub event_id: Option<u32>,
    pub record_id: Option<u64>,
    pub rule_id: &'a str,
    pub rule_title: &'a str,
    pub level: &'static str,
    pub tags: Vec<&'a str>,
    pub source_file: &'a str,
    /// Where in the source: `record=N`, `line=N`, `index=N` or empty.
    pub source_locator: String,
    pub kind: DetectionKind,
    /// Why it matched: `field=value` pairs.
    pub details: String,
}

pub(crate) fn level_name(l: Level) -> &'static str {
    match l {
        Level::Informational => "informational",
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
        Level::Critical => "critical",
    }
}

impl Detection {
    /// The row as written to the timeline.
    pub fn row(&self) -> Row<'_> {
        let details = self
            .matched
            .iter()
            .map(|m| match &m.field {
                Some(f) => format!("{f}={}", m.value),
                None => m.value.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ¦ ");
        let computer = self.computer.as_deref().unwrap_or("");
        let message = if details.is_empty() {
            format!(
                "[{}] {} on {computer}",
                level_name(self.level()),
                self.rule.title
            )
        } else {
            format!(
                "[{}] {} on {computer}: {details}",
                level_name(self.level()),
                self.rule.title
            )
        };
        Row {
            timestamp: self.time.map(|t| t.timestamp_micros()),
            datetime: self
                .time
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                .unwrap_or_default(),
            timestamp_desc: match self.kind {
                DetectionKind::Detection => "Event Recorded",
                DetectionKind::Correlation => "Correlation Window End",
            },
            message,
            computer,
            channel: self.channel.as_deref().unwrap_or(""),
            event_id: self.event_id,
            record_id: self.record_id,
            rule_id: self.rule.id.as_deref().unwrap_or(""),
            rule_title: &self.rule.title,
            level: level_name(self.level()),
            tags: self.rule.tags.iter().map(String::as_str).collect(),
            source_file: &self.origin.source,
            source_locator: match self.origin.locator {
                vigie_event::Locator::Record(n) => format!("record={n}"),
                vigie_event::Locator::Line(n) => format!("line={n}"),
                vigie_event::Locator::Index(n) => format!("index={n}"),
                vigie_event::Locator::None => String::new(),
            },
            kind: self.kind,
            details,
        }
    }
}

/// Column order of the CSV timeline (same names as the JSONL keys).
pub const CSV_COLUMNS: [&str; 16] = [
    "timestamp",
    "datetime",
    "timestamp_desc",
    "message",
    "computer",
    "channel",
    "event_id",
    "record_id",
    "rule_id",
    "rule_title",
    "level",
    "tags",
    "source_file",
    "source_locator",
    "kind",
    "details",
];

/// Writes the detections (already in timeline order) in `format`.
pub fn write<W: Write>(out: W, format: TimelineFormat, detections: &[Detection]) -> io::Result<()> {
    match format {
        TimelineFormat::Jsonl => {
            let mut out = io::BufWriter::new(out);
            for d in detections {
                serde_json::to_writer(&mut out, &d.row())?;
                out.write_all(b"\n")?;
            }
            out.flush()
        }
        TimelineFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(CSV_COLUMNS)?;
            for d in detections {
                let r = d.row();
                let opt = |v: Option<String>| v.unwrap_or_default();
                w.write_record([
                    opt(r.timestamp.map(|t| t.to_string())),
                    r.datetime,
                    r.timestamp_desc.to_string(),
                    r.message,
                    r.computer.to_string(),
                    r.channel.to_string(),
                    opt(r.event_id.map(|t| t.to_string())),
                    opt(r.record_id.map(|t| t.to_string())),
                    r.rule_id.to_string(),
                    r.rule_title.to_string(),
                    r.level.to_string(),
                    r.tags.join(" | "),
                    r.source_file.to_string(),
                    r.source_locator,
                    match r.kind {
                        DetectionKind::Detection => "detection".into(),
                        DetectionKind::Correlation => "correlation".into(),
                    },
                    r.details,
                ])?;
            }
            w.flush()
        }
    }
}
