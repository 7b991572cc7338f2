//! Velociraptor's event log artifacts, as their JSON results (a
//! collection's `results/*.json`, one row per line).
//!
//! * `Windows.EventLogs.Evtx` (and any `parse_evtx()` query selecting
//!   `*`): rows keep `System` and `EventData`/`UserData` as Velociraptor's
//!   EVTX parser renders them — `System.Provider.Name`,
//!   `System.EventID.Value`, `System.TimeCreated.SystemTime` as a
//!   fractional epoch, attributes as plain keys — plus a few top-level
//!   columns. They are read as the Windows layout
//!   ([`crate::flatten::flatten_windows`] knows that rendering).
//! * `Windows.EventLogs.EvtxHunter`: rows without `System`, with columns
//!   `EventTime` (from `System.TimeCreated.SystemTime`, serialised RFC
//!   3339 UTC), `Computer`, `Channel`, `Provider`, `EventID`,
//!   `EventRecordID`, `UserSID`, `Username`, `EventData`, `UserData`,
//!   `Message`, `OSPath` — read here: `EventData`/`UserData` give leaf
//!   names, the columns keep theirs, and `Provider_Name` ← `Provider`,
//!   `Security_UserID` ← `UserSID` are added.
//!
//! Time: `EventTime`, computed by Velociraptor from the record's own UTC
//! time: taken as written.

use serde_json::{Map, Value as J};
use vigie_event::Event;

use super::{first_when, push_sigma, sysmon_check};
use crate::clock::Stamp;
use crate::flatten::{envelope_from_fields, leaf};

pub(crate) fn flatten_hunter(obj: &Map<String, J>, ev: &mut Event) -> Stamp {
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("EventData" | "UserData", J::Object(data)) => {
                for (dk, dv) in data {
                    leaf(dk, dv, ev);
                }
            }
            ("EventData" | "UserData", J::Null) => {}
            _ => leaf(k, v, ev),
        }
    }
    push_sigma(obj, ev, "Provider_Name", &[&["Provider"]], false);
    push_sigma(obj, ev, "Security_UserID", &[&["UserSID"]], false);
    envelope_from_fields(ev);
    let found = first_when(obj, &["EventTime", "TimeCreated"]);
    let mut stamp = Stamp {
        time: found.map(|f| f.0),
        field: found.map_or("EventTime", |f| f.1),
        trusted: true,
        ..Stamp::default()
    };
    if let Some((w, f, _)) = found {
        stamp.check = sysmon_check(ev, w, f);
    }
    stamp
}
