//! Splunk exports of Windows events.
//!
//! Splunk's REST export (`/services/search/jobs/export?output_mode=json`)
//! and the "Export results → JSON" of its UI write one object per line,
//! `{"preview":false,"result":{…}}`; `json_rows`-style exports and saved
//! searches give the inner object alone. The result carries Splunk's own
//! fields — `_raw` (the event as indexed), `_time` (Splunk's time of the
//! event, rendered with the search's offset), `host`, `source`
//! (`XmlWinEventLog:Security`), `sourcetype` (`XmlWinEventLog`, or
//! `XmlWinEventLog:Security` with older add-ons), `index` — plus any
//! field the search extracted.
//!
//! With the Splunk Add-on for Windows' `renderXml = true` (sourcetype
//! `XmlWinEventLog`), `_raw` is the event's XML (`<Event xmlns=…>`,
//! single-quoted attributes): it is read exactly as Windows event XML
//! ([`crate::xml`]), so fields and time are those of the event itself
//! (`SystemTime`, taken as written; `_time` is the fallback). The Splunk
//! fields `host`, `source`, `sourcetype` and `index` are kept beside.
//!
//! Classic `WinEventLog` text (`LogName=… EventCode=… Message=…`) carries
//! no EventData names: the result's other fields are kept as they are,
//! with `EventID` ← `EventCode`, `Channel` ← `LogName`, `Computer` ←
//! `ComputerName`, `Provider_Name` ← `SourceName`, `EventRecordID` ←
//! `RecordNumber` when Splunk extracted them, and `_time` as the time.

use serde_json::{Map, Value as J};
use vigie_event::Event;

use super::{first_when, push_sigma, windows_stamp};
use crate::clock::Stamp;
use crate::flatten::{dotted, envelope_from_fields, flatten_windows, name, value};

pub(crate) fn flatten(obj: &Map<String, J>, ev: &mut Event) -> Stamp {
    let result = match obj.get("result") {
        Some(J::Object(r)) => r,
        _ => obj,
    };
    let time = first_when(result, &["_time"]);
    let fallback = time.and_then(|(w, _, _)| match w {
        crate::time::When::Utc(t) => Some((t, "Splunk _time")),
        crate::time::When::Naive(_) => None,
    });
    if let Some(J::String(raw)) = result.get("_raw") {
        if let Some(Ok(event)) = crate::xml::first_event_json(raw) {
            flatten_windows(&event, ev);
            for k in ["host", "source", "sourcetype", "index"] {
                if let Some(v) = result.get(k) {
                    ev.fields.push((name(k), value(v)));
                }
            }
            let mut stamp = windows_stamp(ev);
            stamp.fallback = fallback;
            return stamp;
        }
    }
    let mut prefix = String::new();
    dotted(&mut prefix, result, ev);
    push_sigma(result, ev, "EventID", &[&["EventCode"]], true);
    push_sigma(result, ev, "Channel", &[&["LogName"]], false);
    push_sigma(
        result,
        ev,
        "Computer",
        &[&["ComputerName"], &["host"]],
        false,
    );
    push_sigma(result, ev, "Provider_Name", &[&["SourceName"]], false);
    push_sigma(result, ev, "EventRecordID", &[&["RecordNumber"]], true);
    envelope_from_fields(ev);
    Stamp {
        time: time.map(|t| t.0),
        field: "Splunk _time",
        trusted: true,
        ..Stamp::default()
    }
}
