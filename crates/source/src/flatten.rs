//! Turning JSON documents into flat [`Event`]s: the helpers every layout
//! shares, and the Windows event layout itself.
//!
//! Which layout a JSON object is in (evtx_dump, Velociraptor, Winlogbeat,
//! NXLog, Splunk, …) is recognised per record by [`crate::layout`]; the
//! table of layouts, their time fields and their traps is in
//! `docs/layouts.md`. Whatever the layout, events carry the field names
//! SigmaHQ rules use, with the envelope (`EventID`, `Channel`,
//! `Computer`, `Provider_Name`, `EventRecordID`) also pushed as fields so
//! that rules testing them match.
//!
//! In every layout JSON numbers become [`Value::Int`] (or `Float`), strings
//! `Str`, booleans `Bool`, arrays `List`; an object inside an array, which
//! the flat model cannot address, is kept as its JSON text.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value as J};
use vigie_event::{Event, FieldName, Value};

use crate::time::{from_epoch, from_epoch_f64, parse_timestamp};

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

/// Converts one JSON object to an event, detecting its layout (see
/// [`crate::layout`]). `ev` carries the origin; its envelope and fields
/// are filled here. The time is taken as the layout gives it, offset-less
/// times as UTC: readers of whole files use [`crate::layout::convert`] and
/// let [`crate::clock`] decide which zone such times are in.
pub fn json_to_event(obj: &Map<String, J>, ev: &mut Event) {
    let stamp = crate::layout::convert(obj, ev);
    ev.timestamp = stamp
        .time
        .and_then(|w| w.resolve(None))
        .or(stamp.fallback.map(|f| f.0));
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
///   Attributes are recognised in the three ways JSON renderers write
///   them: under `#attributes` (evtx_dump), with an `@` prefix (xmltodict,
///   `@Name`), or as plain keys (Velociraptor's `parse_evtx`:
///   `"Provider": {"Name": …}`, `"EventID": {"Value": 4624}`,
///   `"TimeCreated": {"SystemTime": 1549462715.946133}`, whose `Value`
///   is the element's text).
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
                        match (ck.as_str(), cv) {
                            ("#attributes", _) => {}
                            ("#text" | "Value", _) => ev.fields.push((name(k), value(cv))),
                            (_, J::Object(_) | J::Array(_)) => leaf(ck, cv, ev),
                            (a, _) => {
                                let a = a.strip_prefix('@').unwrap_or(a);
                                ev.fields.push((name2(k, a), value(cv)))
                            }
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
pub(crate) fn leaf(k: &str, v: &J, ev: &mut Event) {
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

pub(crate) fn text(v: &Value) -> Option<Box<str>> {
    match v {
        Value::Null => None,
        Value::Str(s) if s.is_empty() => None,
        Value::Str(s) => Some(s.clone()),
        other => Some(other.to_string().into()),
    }
}

pub(crate) fn time_of(v: &Value) -> Option<vigie_event::Timestamp> {
    match v {
        Value::Str(s) => parse_timestamp(s),
        Value::Int(i) => from_epoch(*i),
        Value::Float(x) => from_epoch_f64(*x),
        _ => None,
    }
}

/// Generic dotted flattening of `obj` under `prefix`.
pub(crate) fn dotted(prefix: &mut String, obj: &Map<String, J>, ev: &mut Event) {
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

pub(crate) fn get_path<'a>(obj: &'a Map<String, J>, path: &[&str]) -> Option<&'a J> {
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
