//! The normalized event model of Vigie.
//!
//! Every source (EVTX, JSON, syslog, HTTP, NATS) turns what it reads into
//! [`Event`]s, and every later stage (detect, scope, respond, communicate)
//! consumes them. The model is deliberately plain data:
//!
//! * a handful of *envelope* fields that every stage needs without knowing
//!   the log layout (UTC timestamp, computer, channel, provider, event id,
//!   record id, and where the event came from), and
//! * a flat list of *fields* under the names that SigmaHQ rules use
//!   (`Image`, `CommandLine`, `TargetUserName`, `EventID`, `Channel`, ...).
//!
//! Why flat: Sigma rules address Windows `EventData`/`UserData` values by
//! their leaf name and `System` values by names such as `EventID`,
//! `Channel`, `Computer` or `Provider_Name`. Sources therefore flatten at
//! read time, once, so that matching is a cheap lookup and events are never
//! converted back to JSON to be matched. Nested non-Windows layouts
//! (ECS/Winlogbeat, arbitrary JSON) are flattened with dotted keys
//! (`winlog.event_data.Image`); field mapping in the detect stage translates
//! rule field names to those keys.
//!
//! The [`Record`] trait is the only thing the Sigma engine needs from an
//! event. [`Event`] implements it; tests and other stores can too.

pub mod terminal;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A UTC instant. Sources convert every timestamp they read to UTC.
pub type Timestamp = DateTime<Utc>;

/// A field value, as read from the log.
///
/// Windows event values are mostly strings; integers and booleans appear
/// when a source knows the type (EVTX binary XML, JSON numbers). Lists come
/// from JSON arrays and repeated XML elements. Nested objects are flattened
/// into dotted field names by the sources, so there is no map variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
    List(Vec<Value>),
}

impl Value {
    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer: integers, and strings that parse as one
    /// (Windows logs often carry numbers as text, e.g. `LogonType`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            Value::Str(s) => parse_int(s),
            _ => None,
        }
    }

    /// The value as a float: numbers, and strings that parse as one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// True for [`Value::Null`] and for the empty string.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Str(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        }
    }

    /// Renders the value the way a string comparison sees it: strings as
    /// they are, numbers in decimal, booleans as `true`/`false`, null as
    /// the empty string, lists joined with `, `.
    pub fn to_text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Value::Str(s) => Cow::Borrowed(s),
            Value::Null => Cow::Borrowed(""),
            other => Cow::Owned(other.to_string()),
        }
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    t.parse().ok()
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::List(items) => {
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s.into_boxed_str())
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Where in its source an event was read: enough to go back to the
/// evidence (an EVTX record id, a line number of a text or JSON file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "at", rename_all = "snake_case")]
pub enum Locator {
    /// EVTX record (its EventRecordID as stored in the file).
    Record(u64),
    /// 1-based line number in a text, JSON Lines or syslog file.
    Line(u64),
    /// Index of the event in a JSON array document (0-based).
    Index(u64),
    /// Pushed by a live source that has no position (HTTP, NATS).
    None,
    /// Position in `vigie serve`'s event log, where the event is kept as
    /// it arrived (0-based).
    Position(u64),
}

impl Locator {
    /// The locator as an ordered, hashable pair (kind, number): events
    /// of one source sort by it, and indexes are keyed by it.
    pub fn key(&self) -> (u8, u64) {
        match *self {
            Locator::Record(n) => (0, n),
            Locator::Line(n) => (1, n),
            Locator::Index(n) => (2, n),
            Locator::None => (3, 0),
            Locator::Position(n) => (4, n),
        }
    }
}

/// The origin of an event: its source (usually a file path, shared between
/// all events of that file) and its place in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub source: Arc<str>,
    pub locator: Locator,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.locator {
            Locator::Record(r) => write!(f, "{}#record={r}", self.source),
            Locator::Line(l) => write!(f, "{}:{l}", self.source),
            Locator::Index(i) => write!(f, "{}[{i}]", self.source),
            Locator::None => f.write_str(&self.source),
            Locator::Position(p) => write!(f, "{}#position={p}", self.source),
        }
    }
}

/// A field name. Sources share names across events (`Arc`) so that a
/// million events do not hold a million copies of `"CommandLine"`.
pub type FieldName = Arc<str>;

/// One normalized event.
///
/// The envelope fields are also present in [`Event::fields`] under their
/// Sigma names (`EventID`, `Channel`, `Computer`, `Provider_Name`,
/// `EventRecordID`) when the source had them, so that rules testing them
/// work; the envelope copies are typed for the stages that need them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When the event happened, in UTC (`System/TimeCreated/@SystemTime`
    /// for Windows, the syslog header time, ...).
    pub timestamp: Option<Timestamp>,
    /// The host that logged the event (`Computer`, syslog hostname,
    /// FortiGate `devname`).
    pub computer: Option<Box<str>>,
    /// The log channel (`Security`, `Microsoft-Windows-Sysmon/Operational`),
    /// or for syslog the facility/program.
    pub channel: Option<Box<str>>,
    /// The provider (`Microsoft-Windows-Security-Auditing`), or for syslog
    /// the application name.
    pub provider: Option<Box<str>>,
    /// The Windows event id, when there is one.
    pub event_id: Option<u32>,
    /// The record id (`EventRecordID`), when there is one.
    pub record_id: Option<u64>,
    /// Where this event was read.
    pub origin: Origin,
    /// All fields, flattened, under Sigma names. Order is the source order.
    pub fields: Vec<(FieldName, Value)>,
    /// [`Event::timestamp`] is a local time written without its zone and
    /// read as UTC for want of anything better (no zone given, no
    /// reference time in the event nor learned from its computer's earlier
    /// events): it may be hours off. Said beside the event rather than
    /// silently shifted or dropped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub time_uncertain: bool,
}

impl Event {
    /// A new event with no envelope and no fields, read from `origin`.
    pub fn new(origin: Origin) -> Self {
        Event {
            timestamp: None,
            computer: None,
            channel: None,
            provider: None,
            event_id: None,
            record_id: None,
            origin,
            fields: Vec::new(),
            time_uncertain: false,
        }
    }

    /// The value of field `name` (exact, case-sensitive name), if present.
    ///
    /// When a name occurs more than once the *last* occurrence wins.
    /// Sources push `System` fields before `EventData`/`UserData`, so an
    /// event's own data shadows a System field of the same name: event 104
    /// ("log cleared") carries the System `Channel` (`System`) and, in its
    /// `UserData`, the `Channel` of the log that was cleared, which is the
    /// one SigmaHQ rules test (as Hayabusa and SigmaHQ's converters read
    /// it). The envelope keeps the System channel for logsource indexing.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k.len() == name.len() && &**k == name)
            .map(|(_, v)| v)
    }

    /// The value of field `name` as text, if present.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Appends a field. Sources call this; they do not deduplicate.
    pub fn push(&mut self, name: impl Into<FieldName>, value: impl Into<Value>) {
        self.fields.push((name.into(), value.into()));
    }
}

/// What the Sigma engine needs from an event.
///
/// Kept minimal and borrow-only so that matching never allocates or
/// converts an event.
pub trait Record {
    /// Every field with its value, in source order. The engine reads an
    /// event only through this, once per event (it builds a view of the
    /// fields its rules name, see `vigie_detect`). A name present several
    /// times means its last occurrence, as in [`Event::get`].
    fn fields(&self) -> Box<dyn Iterator<Item = (&str, &Value)> + '_>;
    /// The channel, for indexing rules by logsource.
    fn channel(&self) -> Option<&str>;
    /// The Windows event id, for indexing rules by logsource.
    fn event_id(&self) -> Option<u32>;
    /// The provider (Windows provider, or for syslog the application or
    /// appliance, e.g. `fortigate`): places events without an event id in
    /// the rules of their Sigma `product`.
    fn provider(&self) -> Option<&str> {
        None
    }
    /// The event time, for correlation windows.
    fn timestamp(&self) -> Option<Timestamp>;
}

impl Record for Event {
    fn fields(&self) -> Box<dyn Iterator<Item = (&str, &Value)> + '_> {
        Box::new(self.fields.iter().map(|(k, v)| (&**k, v)))
    }
    fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }
    fn event_id(&self) -> Option<u32> {
        self.event_id
    }
    fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }
    fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            source: Arc::from("test.jsonl"),
            locator: Locator::Line(3),
        }
    }

    #[test]
    fn get_finds_fields_by_exact_name() {
        let mut e = Event::new(origin());
        e.push("Image", "C:\\Windows\\System32\\cmd.exe");
        e.push("EventID", 1i64);
        assert_eq!(e.get_str("Image"), Some("C:\\Windows\\System32\\cmd.exe"));
        assert_eq!(e.get("EventID"), Some(&Value::Int(1)));
        assert_eq!(e.get("image"), None);
        assert_eq!(e.get("Imag"), None);
    }

    #[test]
    fn data_shadows_a_system_field_of_the_same_name() {
        let mut e = Event::new(origin());
        e.push("Channel", "System");
        e.push("Channel", "Microsoft-Windows-TaskScheduler/Operational");
        assert_eq!(
            e.get_str("Channel"),
            Some("Microsoft-Windows-TaskScheduler/Operational")
        );
    }

    #[test]
    fn numbers_in_text_are_numbers() {
        assert_eq!(Value::from("10").as_i64(), Some(10));
        assert_eq!(Value::from("0x1F").as_i64(), Some(31));
        assert_eq!(Value::from("abc").as_i64(), None);
        assert_eq!(Value::Float(3.0).as_i64(), Some(3));
        assert_eq!(Value::Float(3.5).as_i64(), None);
    }

    #[test]
    fn text_rendering() {
        let l = Value::List(vec![Value::from("a"), Value::Int(2), Value::Null]);
        assert_eq!(l.to_text(), "a, 2, ");
        assert!(Value::Null.is_empty() && Value::from("").is_empty());
        assert!(!Value::Int(0).is_empty());
    }

    #[test]
    fn origin_display_points_at_the_evidence() {
        assert_eq!(origin().to_string(), "test.jsonl:3");
        let o = Origin {
            source: Arc::from("a.evtx"),
            locator: Locator::Record(42),
        };
        assert_eq!(o.to_string(), "a.evtx#record=42");
    }
}
