//! Turning JSON documents into flat [`Event`]s.
//!
//! Four layouts are recognised, in this order:
//!
//! 1. **evtx_dump** (`{"Event": {"System": …, "EventData": …}}`, also
//!    without the `Event` wrapper): the layout of `evtx_dump -o json`,
//!    Chainsaw and SigmaHQ's `regression_data`. Flattened the way SigmaHQ
//!    rules and Hayabusa address fields (see [`flatten_windows`]).
//! 2. **Winlogbeat / ECS** (a `winlog` object): every field is kept under
//!    its dotted ECS name (`winlog.event_data.Image`) *and* the
//!    `winlog.event_data.*` / `winlog.user_data.*` values are pushed a
//!    second time under their leaf names (`Image`), with the envelope under
//!    the Sigma System names (`EventID`, `Channel`, `Computer`,
//!    `Provider_Name`, `EventRecordID`). Why both: SigmaHQ rules then work
//!    unchanged on Winlogbeat data without a field-mapping pipeline, and
//!    rules or queries written against ECS names still find them.
//! 3. **Flat Windows** (`EventID`/`Channel`/… at the top level: Hayabusa
//!    or NXLog style): top-level keys are kept as they are.
//! 4. **Generic JSON**: nested objects flattened with dotted keys.
//!
//! In every layout JSON numbers become [`Value::Int`] (or `Float`), strings
//! `Str`, booleans `Bool`, arrays `List`; an object inside an array, which
//! the flat model cannot address, is kept as its JSON text.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value as J};
use vigie_event::{Event, FieldName, Value};

use crate::time::{from_epoch, parse_timestamp};

/// FxHash (the rustc hasher): field names are short, trusted-enough keys
/// (a hostile log can at worst slow its own reading down), and SipHash
/// was a visible share of the EVTX conversion time.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<V> = HashMap<Box<str>, V, std::hash::BuildHasherDefault<FxHasher>>;

thread_local! {
    static NAMES: RefCell<FxMap<FieldName>> = RefCell::new(FxMap::default());
}

/// Interns a field name: every event read on a thread shares one `Arc`
/// per distinct name, so a million events hold one `"CommandLine"`.
/// The table is cleared if it grows past 50,000 names (generic JSON with
/// data in its keys) so that memory stays bounded; sharing then restarts.
pub fn name(s: &str) -> FieldName {
    NAMES.with(|n| {
        let mut n = n.borrow_mut();
        if let Some(a) = n.get(s) {
            return a.clone();
        }
        if n.len() > 50_000 {
            n.clear();
        }
        let a: FieldName = FieldName::from(s);
        n.insert(s.into(), a.clone());
        a
    })
}

thread_local! {
    static PAIRS: RefCell<(String, FxMap<FieldName>)> =
        RefCell::new((String::new(), FxMap::default()));
}

/// Interns `<elem>_<attr>` (`Provider_Name`) without allocating when the
/// name is already known.
pub fn name2(elem: &str, attr: &str) -> FieldName {
    PAIRS.with(|p| {
        let (buf, map) = &mut *p.borrow_mut();
        buf.clear();
        buf.push_str(elem);
        buf.push('_');
        buf.push_str(attr);
        if let Some(a) = map.get(buf.as_str()) {
            return a.clone();
        }
        if map.len() > 50_000 {
            map.clear();
        }
        let a = FieldName::from(buf.as_str());
        map.insert(buf.as_str().into(), a.clone());
        a
    })
}

/// A JSON scalar or array as an event value.
pub fn value(v: &J) -> Value {
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if n.is_u64() {
                // Above i64::MAX: keep the exact digits rather than round.
                Value::Str(n.to_string().into())
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => Value::Str(s.as_str().into()),
        J::Array(a) => Value::List(a.iter().map(value).collect()),
        J::Object(_) => Value::Str(v.to_string().into()),
    }
}

/// Converts one JSON object to an event, detecting its layout.
/// `ev` carries the origin; its envelope and fields are filled here.
pub fn json_to_event(obj: &Map<String, J>, ev: &mut Event) {
    if let Some(J::Object(inner)) = obj.get("Event") {
        if inner.contains_key("System") {
            flatten_windows(inner, ev);
            return;
        }
    }
    if obj.contains_key("System") && (obj.contains_key("EventData") || obj.contains_key("UserData"))
    {
        flatten_windows(obj, ev);
        return;
    }
    if let Some(J::Object(_)) = obj.get("winlog") {
        flatten_ecs(obj, ev);
        return;
    }
    if obj.contains_key("Id") && obj.contains_key("LogName") && obj.contains_key("ProviderName") {
        flatten_powershell(obj, ev);
        return;
    }
    if obj.contains_key("EventID") || obj.contains_key("Channel") {
        flatten_flat(obj, ev);
        return;
    }
    flatten_generic(obj, ev);
}

/// evtx_dump layout → Sigma names.
///
/// * `System` children: a scalar keeps its name (`EventID`, `Channel`,
///   `Computer`, `EventRecordID`, `Level`, …); an element with attributes
///   gives `<Element>_<Attribute>` (`Provider_Name`, `Provider_Guid`,
///   `TimeCreated_SystemTime`, `Execution_ProcessID`, `Security_UserID`,
///   `EventID_Qualifiers`) and its text, if any, the element name (the
///   `EventID` of classic providers is `{"#attributes": {"Qualifiers": …},
///   "#text": 7045}`). Empty elements (`Correlation: null`) give nothing.
/// * `EventData` children: `Name`d `Data` elements are already keys; the
///   unnamed ones are under `Data` (a list when repeated), as Hayabusa and
///   SigmaHQ expect.
/// * `UserData` (and any other section): leaf names, recursively, so the
///   1102 `LogFileCleared/SubjectUserName` becomes `SubjectUserName`;
///   `xmlns` attributes are dropped, other attributes become leaves too.
pub fn flatten_windows(event: &Map<String, J>, ev: &mut Event) {
    if let Some(J::Object(sys)) = event.get("System") {
        for (k, v) in sys {
            match v {
                J::Null => {}
                J::Object(o) => {
                    if let Some(J::Object(attrs)) = o.get("#attributes") {
                        for (a, av) in attrs {
                            ev.fields.push((name2(k, a), value(av)));
                        }
                    }
                    for (ck, cv) in o {
                        match ck.as_str() {
                            "#attributes" => {}
                            "#text" => ev.fields.push((name(k), value(cv))),
                            _ => leaf(ck, cv, ev),
                        }
                    }
                }
                _ => ev.fields.push((name(k), value(v))),
            }
        }
    }
    for (section, v) in event {
        match section.as_str() {
            "System" | "#attributes" => {}
            "EventData" => match v {
                J::Object(o) => {
                    for (k, v) in o {
                        if k == "#attributes" {
                            continue;
                        }
                        leaf(k, v, ev);
                    }
                }
                J::Null => {}
                other => ev.fields.push((name("Data"), value(other))),
            },
            // Localised texts (Event Viewer XML, forwarded events): kept
            // apart, since `Level`, `Channel`, `Task` would shadow System.
            "RenderingInfo" => match v {
                J::Object(o) => {
                    let mut prefix = String::from("RenderingInfo");
                    dotted(&mut prefix, o, ev);
                }
                other => ev.fields.push((name("RenderingInfo"), value(other))),
            },
            _ => leaf(section, v, ev),
        }
    }
    envelope_from_fields(ev);
}

/// Pushes `v` under leaf names: objects are descended into (their
/// `#text` goes under the parent's name, their attributes under the
/// attribute names, `xmlns` excepted), anything else is a value of `k`.
fn leaf(k: &str, v: &J, ev: &mut Event) {
    match v {
        J::Object(o) => {
            for (ck, cv) in o {
                match ck.as_str() {
                    "#attributes" => {
                        if let J::Object(attrs) = cv {
                            for (a, av) in attrs {
                                if a != "xmlns" && !a.starts_with("xmlns:") {
                                    ev.fields.push((name(a), value(av)));
                                }
                            }
                        }
                    }
                    "#text" => ev.fields.push((name(k), value(cv))),
                    _ => leaf(ck, cv, ev),
                }
            }
        }
        J::Array(items) if items.iter().any(J::is_object) => {
            // Objects are flattened as leaves; the other elements, if
            // any, still form the list under `k`.
            let mut rest = Vec::new();
            for item in items {
                if item.is_object() {
                    leaf(k, item, ev);
                } else {
                    rest.push(value(item));
                }
            }
            if !rest.is_empty() {
                ev.fields.push((name(k), Value::List(rest)));
            }
        }
        _ => ev.fields.push((name(k), value(v))),
    }
}

/// Fills the typed envelope from Sigma-named fields already pushed.
pub fn envelope_from_fields(ev: &mut Event) {
    for (k, v) in &ev.fields {
        match &**k {
            "EventID" if ev.event_id.is_none() => {
                ev.event_id = v.as_i64().and_then(|i| u32::try_from(i).ok())
            }
            "Channel" if ev.channel.is_none() => ev.channel = text(v),
            "Computer" if ev.computer.is_none() => ev.computer = text(v),
            "Provider_Name" if ev.provider.is_none() => ev.provider = text(v),
            "EventRecordID" if ev.record_id.is_none() => {
                ev.record_id = v.as_i64().and_then(|i| u64::try_from(i).ok())
            }
            "TimeCreated_SystemTime" if ev.timestamp.is_none() => ev.timestamp = time_of(v),
            _ => {}
        }
    }
}

fn text(v: &Value) -> Option<Box<str>> {
    match v {
        Value::Null => None,
        Value::Str(s) if s.is_empty() => None,
        Value::Str(s) => Some(s.clone()),
        other => Some(other.to_string().into()),
    }
}

fn time_of(v: &Value) -> Option<vigie_event::Timestamp> {
    match v {
        Value::Str(s) => parse_timestamp(s),
        Value::Int(i) => from_epoch(*i),
        _ => None,
    }
}

/// Generic dotted flattening of `obj` under `prefix`.
fn dotted(prefix: &mut String, obj: &Map<String, J>, ev: &mut Event) {
    for (k, v) in obj {
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(k);
        match v {
            J::Object(o) if !o.is_empty() => dotted(prefix, o, ev),
            J::Object(_) => ev.fields.push((name(prefix), Value::Null)),
            _ => ev.fields.push((name(prefix), value(v))),
        }
        prefix.truncate(len);
    }
}

fn get_path<'a>(obj: &'a Map<String, J>, path: &[&str]) -> Option<&'a J> {
    let (first, rest) = path.split_first()?;
    let v = obj.get(*first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        match v {
            J::Object(o) => get_path(o, rest),
            _ => None,
        }
    }
}

/// Winlogbeat / ECS: dotted names plus Sigma leaf names (see module doc).
pub fn flatten_ecs(obj: &Map<String, J>, ev: &mut Event) {
    let mut prefix = String::new();
    dotted(&mut prefix, obj, ev);
    let mut sigma = |sigma_name: &str, paths: &[&[&str]], numeric: bool| {
        for p in paths {
            if let Some(v) = get_path(obj, p) {
                let mut val = value(v);
                if numeric {
                    if let Some(i) = val.as_i64() {
                        val = Value::Int(i);
                    }
                }
                ev.fields.push((name(sigma_name), val));
                return;
            }
        }
    };
    sigma(
        "EventID",
        &[&["winlog", "event_id"], &["event", "code"]],
        true,
    );
    sigma("Channel", &[&["winlog", "channel"]], false);
    sigma(
        "Computer",
        &[
            &["winlog", "computer_name"],
            &["host", "name"],
            &["host", "hostname"],
        ],
        false,
    );
    sigma(
        "Provider_Name",
        &[&["winlog", "provider_name"], &["event", "provider"]],
        false,
    );
    sigma("Provider_Guid", &[&["winlog", "provider_guid"]], false);
    sigma("EventRecordID", &[&["winlog", "record_id"]], true);
    sigma(
        "Security_UserID",
        &[&["winlog", "user", "identifier"]],
        false,
    );
    for section in ["event_data", "user_data"] {
        if let Some(J::Object(data)) = get_path(obj, &["winlog", section]) {
            for (k, v) in data {
                leaf(k, v, ev);
            }
        }
    }
    envelope_from_fields(ev);
    if ev.timestamp.is_none() {
        ev.timestamp = first_time(obj, &["@timestamp", "timestamp"]);
    }
}

/// PowerShell `Get-WinEvent | ConvertTo-Json` objects (`Id`, `LogName`,
/// `ProviderName`, `MachineName`, `RecordId`, `TimeCreated`,
/// `Properties`, `Message`). Their keys are kept (dotted), the envelope is
/// added under the Sigma System names, and the `Properties` values become
/// `Data` (a list) as unnamed EventData would: PowerShell drops the
/// EventData *names*, so rules on named fields (`Image`, `TargetUserName`)
/// cannot match such exports — keyword rules and `Data` can. Export with
/// `wevtutil epl` / EVTX copies when possible.
pub fn flatten_powershell(obj: &Map<String, J>, ev: &mut Event) {
    let mut prefix = String::new();
    for (k, v) in obj {
        if k == "Properties" {
            continue;
        }
        match v {
            J::Object(o) => {
                prefix.clear();
                prefix.push_str(k);
                dotted(&mut prefix, o, ev);
            }
            _ => ev.fields.push((name(k), value(v))),
        }
    }
    if let Some(J::Array(props)) = obj.get("Properties") {
        let data: Vec<Value> = props
            .iter()
            .map(|p| match p {
                J::Object(o) => o.get("Value").map_or(Value::Null, value),
                other => value(other),
            })
            .collect();
        ev.fields.push((name("Data"), Value::List(data)));
    }
    let mut sigma = |sigma_name: &str, key: &[&str]| {
        if let Some(v) = get_path(obj, key) {
            ev.fields.push((name(sigma_name), value(v)));
        }
    };
    sigma("EventID", &["Id"]);
    sigma("Channel", &["LogName"]);
    sigma("Computer", &["MachineName"]);
    sigma("Provider_Name", &["ProviderName"]);
    sigma("EventRecordID", &["RecordId"]);
    sigma("Security_UserID", &["UserId", "Value"]);
    envelope_from_fields(ev);
    ev.timestamp = match obj.get("TimeCreated") {
        // Windows PowerShell 5.1: "\/Date(1767402603123)\/".
        Some(J::String(s)) if s.contains("Date(") => s
            .split("Date(")
            .nth(1)
            .and_then(|r| r.split([')', '+', '-']).next())
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(chrono::DateTime::from_timestamp_millis),
        Some(J::String(s)) => parse_timestamp(s),
        _ => None,
    };
}

/// Already-flat Windows objects (Hayabusa, NXLog `im_msvistalog`, …):
/// top-level keys kept, nested objects dotted. NXLog's names for the
/// envelope (`Hostname`, `SourceName`/`ProviderName`, `RecordNumber`,
/// `EventTime`) are understood too.
pub fn flatten_flat(obj: &Map<String, J>, ev: &mut Event) {
    let mut prefix = String::new();
    dotted(&mut prefix, obj, ev);
    envelope_from_fields(ev);
    let s = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| obj.get(*k).map(value))
            .and_then(|v| text(&v))
    };
    if ev.computer.is_none() {
        ev.computer = s(&["Hostname", "hostname", "host"]);
    }
    if ev.provider.is_none() {
        ev.provider = s(&["ProviderName", "SourceName", "Provider"]);
    }
    if ev.record_id.is_none() {
        ev.record_id = ["RecordNumber", "RecordID"]
            .iter()
            .find_map(|k| obj.get(*k).map(value))
            .and_then(|v| v.as_i64())
            .and_then(|i| u64::try_from(i).ok());
    }
    if ev.timestamp.is_none() {
        ev.timestamp = first_time(
            obj,
            &[
                "SystemTime",
                "TimeCreated",
                "Timestamp",
                "EventTime",
                "@timestamp",
                "timestamp",
                "UtcTime",
            ],
        );
    }
}

/// Any other JSON object: dotted keys; the time from the usual keys, the
/// computer from `host.name`/`hostname`/`host`.
pub fn flatten_generic(obj: &Map<String, J>, ev: &mut Event) {
    let mut prefix = String::new();
    dotted(&mut prefix, obj, ev);
    ev.timestamp = first_time(obj, &["@timestamp", "timestamp", "Timestamp", "time", "ts"]);
    ev.computer = [
        get_path(obj, &["host", "name"]),
        obj.get("hostname"),
        obj.get("host"),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(Into::into));
}

fn first_time(obj: &Map<String, J>, keys: &[&str]) -> Option<vigie_event::Timestamp> {
    keys.iter().find_map(|k| match obj.get(*k)? {
        J::String(s) => parse_timestamp(s),
        J::Number(n) => n.as_i64().and_then(from_epoch),
        _ => None,
    })
}
