//! Detections as a timeline: one row per detection, sorted by time.
//!
//! The row layout is a public contract (scripts, Timesketch and Timeline
//! Explorer read it): the names below never change meaning, and new
//! columns are only ever added. JSONL rows carry Timesketch's required
//! `datetime`, `timestamp_desc` and `message`, and `timestamp` in
//! microseconds since the Unix epoch as Timesketch expects; CSV rows carry
//! the same columns (lists joined with ` | `), with `other_fields` (the
//! event's remaining fields as `Name: value ¦ …`) where JSONL rows have
//! `event` (every field of the event as a JSON object).
//!
//! | column | meaning |
//! |---|---|
//! | `timestamp`, `datetime` | event time (correlations: end of the window), UTC |
//! | `timestamp_desc`, `message` | Timesketch's description and one-line message |
//! | `computer`, `channel`, `event_id`, `record_id` | the event's envelope (correlations: the hosts of their events) |
//! | `rule_id`, `rule_title`, `level`, `tags` | the rule that fired |
//! | `source_file`, `source_locator` | where the event is (`record=N`, `line=N`, `index=N`): `vigie show FILE#LOCATOR` prints it |
//! | `kind` | `detection` or `correlation` |
//! | `details` | why it matched (`Field=value`), then the event's key fields not already there |
//! | `user` … `target` | the key fields ([`crate::evidence::KEY_COLUMNS`]) |
//! | `event` (JSONL) / `other_fields` (CSV) | the whole event |

mod write;

use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use vigie_detect::{Level, MatchedField, RuleMeta};
use vigie_event::{Origin, Timestamp};

use crate::evidence::{EventDetail, SharedDetail, KEY_COLUMNS};
pub use crate::safe::CsvValues;
pub use write::{write, write_with, CsvOptions};

/// Whether a detection comes from a detection rule (one event) or from a
/// correlation rule (several events over a time window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectionKind {
    Detection,
    Correlation,
    /// An indicator of compromise (`--ioc`) found in one event.
    Ioc,
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
    /// The event's fields and key columns (shared by the detections of
    /// one event); for a correlation, its summary and the hosts and
    /// accounts of its events. `None` when the hunt was not asked to keep
    /// them ([`crate::HuntConfig::event_details`]).
    pub event: Option<SharedDetail>,
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

    /// Key column `i` of [`KEY_COLUMNS`] (empty when unknown).
    pub fn key(&self, i: usize) -> &str {
        self.event.as_deref().map(|e| e.key(i)).unwrap_or("")
    }

    /// The acting or target account, when the event names one (the
    /// report's account column).
    pub fn account(&self) -> Option<&str> {
        [0, 1]
            .into_iter()
            .map(|i| self.key(i))
            .find(|s| !s.is_empty())
    }

    /// The `details` column.
    pub fn details(&self) -> String {
        let mut text = RowText::default();
        text.fill(self);
        text.details
    }
}

fn locator_key(o: &Origin) -> u64 {
    match o.locator {
        vigie_event::Locator::Record(n) | vigie_event::Locator::Line(n) => n,
        vigie_event::Locator::Index(n) | vigie_event::Locator::Position(n) => n,
        vigie_event::Locator::None => 0,
    }
}

/// Timeline output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineFormat {
    Csv,
    Jsonl,
}

impl TimelineFormat {
    /// The format a file name asks for by its extension: `.csv` → CSV,
    /// `.jsonl`, `.json`, `.ndjson` → JSON Lines (case-insensitive);
    /// `None` for anything else.
    pub fn from_extension(path: &std::path::Path) -> Option<TimelineFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(TimelineFormat::Csv),
            "jsonl" | "json" | "ndjson" => Some(TimelineFormat::Jsonl),
            _ => None,
        }
    }
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
    /// Why it matched: `field=value` pairs, then the event's key fields.
    pub details: String,
    pub user: &'a str,
    pub target_user: &'a str,
    pub process: &'a str,
    pub command_line: &'a str,
    pub parent_process: &'a str,
    pub source_address: &'a str,
    pub target: &'a str,
    /// Every field of the event (`{}` when not kept).
    pub event: &'a RawValue,
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

/// The `event` of a row whose event was not kept.
pub(crate) const NO_EVENT: &str = "{}";

impl Detection {
    /// The row as written to the timeline.
    pub fn row(&self) -> Row<'_> {
        let mut text = RowText::default();
        text.fill(self);
        let json = self.event.as_deref().map(|e| &*e.json).unwrap_or(NO_EVENT);
        Row {
            timestamp: self.time.map(|t| t.timestamp_micros()),
            datetime: text.datetime,
            timestamp_desc: timestamp_desc(self.kind),
            message: text.message,
            computer: self.computer.as_deref().unwrap_or(""),
            channel: self.channel.as_deref().unwrap_or(""),
            event_id: self.event_id,
            record_id: self.record_id,
            rule_id: self.rule.id.as_deref().unwrap_or(""),
            rule_title: &self.rule.title,
            level: level_name(self.level()),
            tags: self.rule.tags.iter().map(String::as_str).collect(),
            source_file: &self.origin.source,
            source_locator: text.locator,
            kind: self.kind,
            details: text.details,
            user: self.key(0),
            target_user: self.key(1),
            process: self.key(2),
            command_line: self.key(3),
            parent_process: self.key(4),
            source_address: self.key(5),
            target: self.key(6),
            // The writer made the JSON; it is valid by construction.
            event: serde_json::from_str(json)
                .unwrap_or_else(|_| serde_json::from_str(NO_EVENT).expect("valid")),
        }
    }

    /// The CSV `other_fields` column: the event's fields that no other
    /// column shows, as `Name: value ¦ Name: value`.
    pub fn other_fields(&self) -> String {
        let mut s = String::new();
        other_fields(self, &mut s);
        s
    }
}

fn timestamp_desc(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::Detection | DetectionKind::Ioc => "Event Recorded",
        DetectionKind::Correlation => "Correlation Window End",
    }
}

fn kind_name(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::Detection => "detection",
        DetectionKind::Correlation => "correlation",
        DetectionKind::Ioc => "ioc",
    }
}

/// Fills `out` with the `other_fields` of `d`.
fn other_fields(d: &Detection, out: &mut String) {
    out.clear();
    let Some(ev) = d.event.as_deref() else {
        return;
    };
    let shown = |name: &str, value: &serde_json::Value| -> bool {
        if ev.keys.iter().flatten().any(|k| k.field == name) {
            return true;
        }
        let column = match name {
            "Computer" => d.computer.as_deref().map(str::to_string),
            "Channel" => d.channel.as_deref().map(str::to_string),
            "EventID" => d.event_id.map(|n| n.to_string()),
            "EventRecordID" => d.record_id.map(|n| n.to_string()),
            _ => return false,
        };
        column.is_some_and(|c| c == json_text(value))
    };
    for (name, value) in ev.fields() {
        if shown(&name, &value) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(" ¦ ");
        }
        out.push_str(&name);
        out.push_str(": ");
        out.push_str(&json_text(&value));
    }
}

/// A JSON value as text: strings as they are, null empty, the rest as JSON.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The computed text columns of a row, in buffers reused from row to row:
/// a timeline has tens of thousands of rows, and building each one as a
/// [`Row`] costs half a dozen allocations. [`Detection::row`] fills the
/// same buffers, so both paths give the same text.
#[derive(Default)]
struct RowText {
    /// The time `datetime` was formatted for: rows are in time order and
    /// several rules often fire on one event, so it is reused as is.
    datetime_of: Option<Timestamp>,
    datetime: String,
    message: String,
    details: String,
    locator: String,
}

impl RowText {
    fn fill(&mut self, d: &Detection) {
        use std::fmt::Write as _;
        self.details.clear();
        for (i, m) in d.matched.iter().enumerate() {
            if i > 0 {
                self.details.push_str(" ¦ ");
            }
            if let Some(f) = &m.field {
                self.details.push_str(f);
                self.details.push('=');
            }
            self.details.push_str(&m.value);
        }
        // Then who, what and where, when the rule did not test them: a
        // DSRM password change row says which account and workstation,
        // not just `EventID=4794`.
        if let (DetectionKind::Detection | DetectionKind::Ioc, Some(ev)) =
            (d.kind, d.event.as_deref())
        {
            for k in ev.keys.iter().flatten() {
                if d.matched
                    .iter()
                    .any(|m| m.field.as_deref() == Some(k.field))
                {
                    continue;
                }
                if !self.details.is_empty() {
                    self.details.push_str(" ¦ ");
                }
                self.details.push_str(k.field);
                self.details.push('=');
                self.details.push_str(k.raw());
            }
        }
        let computer = d.computer.as_deref().unwrap_or("");
        self.message.clear();
        // Writing to a String cannot fail.
        let _ = write!(
            self.message,
            "[{}] {} on {computer}",
            level_name(d.level()),
            d.rule.title
        );
        if !self.details.is_empty() {
            self.message.push_str(": ");
            self.message.push_str(&self.details);
        }
        if self.datetime_of != d.time || d.time.is_none() {
            self.datetime.clear();
            if let Some(t) = d.time {
                let _ = write!(self.datetime, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
            }
            self.datetime_of = d.time;
        }
        self.locator.clear();
        let _ = match d.origin.locator {
            vigie_event::Locator::Record(n) => write!(self.locator, "record={n}"),
            vigie_event::Locator::Line(n) => write!(self.locator, "line={n}"),
            vigie_event::Locator::Index(n) => write!(self.locator, "index={n}"),
            vigie_event::Locator::Position(n) => write!(self.locator, "position={n}"),
            vigie_event::Locator::None => Ok(()),
        };
    }
}

/// Column order of the CSV timeline (the JSONL keys, with `other_fields`
/// in place of `event`).
pub const CSV_COLUMNS: [&str; 24] = [
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
    KEY_COLUMNS[0],
    KEY_COLUMNS[1],
    KEY_COLUMNS[2],
    KEY_COLUMNS[3],
    KEY_COLUMNS[4],
    KEY_COLUMNS[5],
    KEY_COLUMNS[6],
    "other_fields",
];

/// A correlation's `event`: what it counted, over which window, and the
/// hosts and accounts of the events it counted.
pub(crate) fn correlation_detail(
    group: &[(String, String)],
    value: f64,
    first: Timestamp,
    last: Timestamp,
    hosts: &[String],
    accounts: &[String],
) -> EventDetail {
    use crate::evidence::{json_string, KeyField};
    let mut json = String::from("{\"group_by\":{");
    for (i, (k, v)) in group.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json_string(&mut json, k);
        json.push(':');
        json_string(&mut json, v);
    }
    json.push_str("},\"value\":");
    json.push_str(&serde_json::to_string(&value).unwrap_or_else(|_| "null".into()));
    json.push_str(",\"first\":");
    json_string(
        &mut json,
        &first.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    );
    json.push_str(",\"last\":");
    json_string(
        &mut json,
        &last.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    );
    for (key, list) in [("hosts", hosts), ("accounts", accounts)] {
        json.push_str(",\"");
        json.push_str(key);
        json.push_str("\":[");
        for (i, h) in list.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json_string(&mut json, h);
        }
        json.push(']');
    }
    json.push('}');
    let mut keys: [Option<KeyField>; 7] = Default::default();
    if !accounts.is_empty() {
        keys[0] = Some(KeyField {
            field: "accounts",
            text: accounts.join(", ").into_boxed_str(),
            own: None,
        });
    }
    EventDetail::from_parts(json, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_chooses_the_format() {
        use std::path::Path;
        assert_eq!(
            TimelineFormat::from_extension(Path::new("t.CSV")),
            Some(TimelineFormat::Csv)
        );
        for f in ["t.jsonl", "t.json", "x/t.ndjson"] {
            assert_eq!(
                TimelineFormat::from_extension(Path::new(f)),
                Some(TimelineFormat::Jsonl)
            );
        }
        assert_eq!(TimelineFormat::from_extension(Path::new("t.txt")), None);
        assert_eq!(TimelineFormat::from_extension(Path::new("t")), None);
    }
}
