//! PowerShell `Get-WinEvent | ConvertTo-Json` objects (`Id`, `LogName`,
//! `ProviderName`, `MachineName`, `RecordId`, `TimeCreated`,
//! `Properties`, `Message`).
//!
//! Their keys are kept (dotted), the envelope is added under the Sigma
//! System names, and the `Properties` values become `Data` (a list) as
//! unnamed EventData would: PowerShell drops the EventData *names*, so
//! rules on named fields (`Image`, `TargetUserName`) cannot match such
//! exports — keyword rules and `Data` can. Export with `wevtutil epl` /
//! EVTX copies when possible.
//!
//! Time: `TimeCreated`. Windows PowerShell 5.1 writes `\/Date(ms)\/`, an
//! epoch (trusted); PowerShell 7 writes the local time with its offset.

use serde_json::{Map, Value as J};
use vigie_event::{Event, Value};

use crate::clock::Stamp;
use crate::flatten::{dotted, envelope_from_fields, get_path, name, value};
use crate::time::parse_when;

pub(crate) fn flatten(obj: &Map<String, J>, ev: &mut Event) -> Stamp {
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
    let time = match obj.get("TimeCreated") {
        // Windows PowerShell 5.1: "\/Date(1767402603123)\/".
        Some(J::String(s)) if s.contains("Date(") => s
            .split("Date(")
            .nth(1)
            .and_then(|r| r.split([')', '+', '-']).next())
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(crate::time::When::Utc),
        Some(J::String(s)) => parse_when(s),
        _ => None,
    };
    Stamp {
        time,
        field: "TimeCreated",
        trusted: true,
        ..Stamp::default()
    }
}
