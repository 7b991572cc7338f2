//! Collector layouts: which one a JSON record is in, and how each is
//! flattened to the field names SigmaHQ rules use.
//!
//! A file may mix layouts (a folder of exports concatenated, a SIEM export
//! of several sources), so the layout is recognised **per record**, from
//! the keys of the object, in this order (the first that fits wins):
//!
//! | layout | recognised by | module |
//! |---|---|---|
//! | [`Layout::EvtxDump`] | `Event.System`, or `System` beside `EventData`/`UserData` (evtx_dump, Chainsaw, Velociraptor `parse_evtx` rows) | [`crate::flatten::flatten_windows`] |
//! | [`Layout::Splunk`] | `_raw` (or `result._raw`, a Splunk REST/UI export line) | [`splunk`] |
//! | [`Layout::Winlogbeat`] | a `winlog` object (Winlogbeat 7/8, Elastic Agent: ECS) | [`beats`] |
//! | [`Layout::Winlogbeat6`] | an `event_data`/`user_data` object with `log_name`/`computer_name`/`source_name` | [`beats`] |
//! | [`Layout::VelociraptorHunter`] | `EventData`/`UserData` objects beside `EventID`, `Channel`, `Computer` (`Windows.EventLogs.EvtxHunter`) | [`velociraptor`] |
//! | [`Layout::PowerShell`] | `Id`, `LogName`, `ProviderName` (`Get-WinEvent \| ConvertTo-Json`) | [`powershell`] |
//! | [`Layout::Flat`] | `EventID` or `Channel` at the top level (NXLog `im_msvistalog`, with or without Logstash; Hayabusa-style flat JSON) | [`nxlog`] |
//! | [`Layout::Generic`] | anything else | dotted keys |
//!
//! An Elasticsearch hit (`_index`/`_id` with a `_source` object) is read
//! as its `_source`.
//!
//! `docs/layouts.md` says, for each, which field gives the time and why,
//! which fields fill the envelope, and the traps. Every converter returns
//! a [`Stamp`] describing the record's time, so that [`crate::clock`] can
//! tell and correct a collector's zone.

use serde_json::{Map, Value as J};
use vigie_event::{Event, Timestamp};

use crate::clock::{Check, Stamp};
use crate::flatten::{dotted, flatten_windows, get_path, name, text, time_of, value};
use crate::time::{parse_when, When};

pub(crate) mod beats;
pub(crate) mod nxlog;
pub(crate) mod powershell;
pub(crate) mod splunk;
pub(crate) mod velociraptor;

/// The layouts a JSON record can be in (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    EvtxDump,
    Splunk,
    Winlogbeat,
    Winlogbeat6,
    VelociraptorHunter,
    PowerShell,
    Flat,
    Generic,
}

/// The layout of one JSON object (see the module doc). Key lookups only:
/// this runs on every record.
pub fn detect(obj: &Map<String, J>) -> Layout {
    if let Some(J::Object(inner)) = obj.get("Event") {
        if inner.contains_key("System") {
            return Layout::EvtxDump;
        }
    }
    let data = obj.contains_key("EventData") || obj.contains_key("UserData");
    if data && obj.contains_key("System") {
        return Layout::EvtxDump;
    }
    if obj.contains_key("_raw")
        || matches!(obj.get("result"), Some(J::Object(r)) if r.contains_key("_raw"))
    {
        return Layout::Splunk;
    }
    if let Some(J::Object(_)) = obj.get("winlog") {
        return Layout::Winlogbeat;
    }
    if (obj.contains_key("event_data") || obj.contains_key("user_data"))
        && (obj.contains_key("log_name")
            || obj.contains_key("computer_name")
            || obj.contains_key("source_name"))
    {
        return Layout::Winlogbeat6;
    }
    if data && obj.contains_key("EventID") && obj.contains_key("Computer") {
        return Layout::VelociraptorHunter;
    }
    if obj.contains_key("Id") && obj.contains_key("LogName") && obj.contains_key("ProviderName") {
        return Layout::PowerShell;
    }
    if obj.contains_key("EventID") || obj.contains_key("Channel") {
        return Layout::Flat;
    }
    Layout::Generic
}

/// Flattens one JSON object into `ev` according to its layout and
/// describes its time. An Elasticsearch hit (`_index`, `_id`, `_source`:
/// Kibana and elasticdump exports of a Winlogbeat index) is read as its
/// `_source`.
pub(crate) fn convert(obj: &Map<String, J>, ev: &mut Event) -> Stamp {
    if let Some(J::Object(source)) = obj.get("_source") {
        if obj.contains_key("_index") || obj.contains_key("_id") {
            return convert(source, ev);
        }
    }
    match detect(obj) {
        Layout::EvtxDump => {
            let event = match obj.get("Event") {
                Some(J::Object(inner)) if inner.contains_key("System") => inner,
                _ => obj,
            };
            flatten_windows(event, ev);
            windows_stamp(ev)
        }
        Layout::Splunk => splunk::flatten(obj, ev),
        Layout::Winlogbeat => beats::flatten_ecs(obj, ev),
        Layout::Winlogbeat6 => beats::flatten_winlogbeat6(obj, ev),
        Layout::VelociraptorHunter => velociraptor::flatten_hunter(obj, ev),
        Layout::PowerShell => powershell::flatten(obj, ev),
        Layout::Flat => nxlog::flatten(obj, ev),
        Layout::Generic => flatten_generic(obj, ev),
    }
}

/// The stamp of a Windows event flattened from its `System` element:
/// `TimeCreated/@SystemTime`, the event's own UTC time, as written;
/// checked against Sysmon's `UtcTime` only to report a disagreement.
pub(crate) fn windows_stamp(ev: &Event) -> Stamp {
    let t = ev.get("TimeCreated_SystemTime").and_then(time_of);
    let mut stamp = Stamp::trusted(t, "SystemTime");
    if let Some(t) = t {
        stamp.check = sysmon_check(ev, When::Utc(t), "SystemTime");
    }
    stamp
}

/// Whether the event comes from Sysmon (Windows or Linux).
pub(crate) fn is_sysmon(ev: &Event) -> bool {
    let has = |s: &Option<Box<str>>| s.as_deref().is_some_and(|s| s.contains("Sysmon"));
    has(&ev.provider) || has(&ev.channel)
}

/// Sysmon's `UtcTime` (the instant Sysmon saw the activity, documented as
/// UTC) as the reference for `seen`, when the event is Sysmon's — except
/// network connections (3) and DNS queries (22), whose `UtcTime` is the
/// connection's or query's start, minutes or hours before the record.
pub(crate) fn sysmon_check(ev: &Event, seen: When, seen_field: &'static str) -> Option<Check> {
    if !is_sysmon(ev) || matches!(ev.event_id, Some(3 | 22)) {
        return None;
    }
    let truth = match ev.get("UtcTime")? {
        vigie_event::Value::Str(s) => crate::time::parse_timestamp(s)?,
        _ => return None,
    };
    Some(Check {
        seen,
        seen_field,
        truth,
        truth_field: "Sysmon UtcTime",
        exact: true,
    })
}

/// Pushes `sigma_name` with the first of `keys` found in `obj` (dotted
/// paths), unless the event already has that field. `numeric`: integer
/// text becomes an integer (Winlogbeat 8 writes `event_id` as text).
pub(crate) fn push_sigma(
    obj: &Map<String, J>,
    ev: &mut Event,
    sigma_name: &str,
    keys: &[&[&str]],
    numeric: bool,
) {
    if ev.get(sigma_name).is_some() {
        return;
    }
    for k in keys {
        if let Some(v) = get_path(obj, k) {
            if v.is_null() || v.is_object() {
                continue;
            }
            let mut val = value(v);
            if numeric {
                if let Some(i) = val.as_i64() {
                    val = vigie_event::Value::Int(i);
                }
            }
            ev.fields.push((name(sigma_name), val));
            return;
        }
    }
}

/// The first of `keys` that holds a parsable time: (time, key, raw text).
pub(crate) fn first_when<'a>(
    obj: &'a Map<String, J>,
    keys: &[&'static str],
) -> Option<(When, &'static str, Option<&'a str>)> {
    keys.iter().find_map(|k| match obj.get(*k)? {
        J::String(s) => parse_when(s).map(|w| (w, *k, Some(s.as_str()))),
        J::Number(n) => n
            .as_i64()
            .and_then(crate::time::from_epoch)
            .or_else(|| n.as_f64().and_then(crate::time::from_epoch_f64))
            .map(|t| (When::Utc(t), *k, None)),
        _ => None,
    })
}

/// Whether a time's text says UTC (`Z`, ` UTC`, `+00:00`): a label some
/// collectors put on local times, unlike an explicit non-zero offset,
/// which someone had to compute.
pub(crate) fn labelled_utc(raw: &str) -> bool {
    let r = raw.trim_end();
    r.ends_with('Z')
        || r.ends_with('z')
        || r.ends_with(" UTC")
        || r.ends_with("+00:00")
        || r.ends_with("+0000")
}

/// Any other JSON object: dotted keys; the time from the usual keys (as
/// written: nothing here can check it), the computer from
/// `host.name`/`hostname`/`host`.
fn flatten_generic(obj: &Map<String, J>, ev: &mut Event) -> Stamp {
    let mut prefix = String::new();
    dotted(&mut prefix, obj, ev);
    ev.computer = [
        get_path(obj, &["host", "name"]),
        obj.get("hostname"),
        obj.get("host"),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(Into::into));
    let found = first_when(obj, &["@timestamp", "timestamp", "Timestamp", "time", "ts"]);
    Stamp {
        time: found.map(|f| f.0),
        field: found.map_or("", |f| f.1),
        trusted: true,
        ..Stamp::default()
    }
}

/// A text value of `obj` (for envelope fallbacks).
pub(crate) fn text_of(obj: &Map<String, J>, keys: &[&str]) -> Option<Box<str>> {
    keys.iter()
        .find_map(|k| obj.get(*k).map(value))
        .and_then(|v| text(&v))
}

/// A zone-bearing time of `obj`, for references and fallbacks.
pub(crate) fn utc_of(obj: &Map<String, J>, key: &str) -> Option<Timestamp> {
    match obj.get(key)? {
        J::String(s) => match parse_when(s)? {
            When::Utc(t) => Some(t),
            When::Naive(_) => None,
        },
        _ => None,
    }
}
