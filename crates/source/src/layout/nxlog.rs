//! Flat Windows JSON: one object per event, `EventID`/`Channel` and the
//! EventData fields side by side at the top level.
//!
//! The main producer is NXLog's `im_msvistalog` (`to_json()`), often
//! shipped through a Windows Event Collector and Logstash, which adds its
//! envelope (`@timestamp`, `@version`, `host` — the *sender*, not the
//! event's computer —, `port`, `tags`). NXLog names the System values its
//! own way (see NXLog's `im_msvistalog` field list): `SourceName` (the
//! provider), `Hostname` (the computer), `RecordNumber`, `ProviderGuid`,
//! `ExecutionProcessID`, `UserID`, and `EventTime`, the event's time in
//! the *collector's local time, without an offset*. OTRF's lab exports
//! also come with `TimeCreated` instead of `EventTime`, written as local
//! time with or without a `Z`, sometimes on a 12-hour clock.
//!
//! Fields keep their names; the Sigma names of the envelope are added
//! when absent (`Provider_Name` ← `SourceName`/`ProviderName`,
//! `Computer` ← `Hostname`, `EventRecordID` ← `RecordNumber`,
//! `Provider` (as text), `Provider_Guid` ← `ProviderGuid`, `Execution_ProcessID` ←
//! `ExecutionProcessID`, `Security_UserID` ← `UserID`), so that rules
//! testing them fire.
//!
//! Time: the first of `EventTime`, `TimeCreated`, `SystemTime`,
//! `Timestamp`, `@timestamp`, `timestamp`. It is doubtful unless it
//! states a non-zero offset; it is checked against Sysmon's `UtcTime`
//! (exact) or, for other events, against Logstash's `@timestamp` (the
//! ingestion time), which is also the fallback when an offset-less time
//! cannot be placed. An `@timestamp` equal to the chosen time is a copy,
//! not a reference.

use serde_json::{Map, Value as J};
use vigie_event::Event;

use super::{first_when, labelled_utc, push_sigma, sysmon_check, text_of, utc_of};
use crate::clock::{Check, Stamp};
use crate::flatten::{dotted, envelope_from_fields};
use crate::time::When;

const TIME_KEYS: &[&str] = &[
    "EventTime",
    "TimeCreated",
    "SystemTime",
    "Timestamp",
    "@timestamp",
    "timestamp",
];

pub(crate) fn flatten(obj: &Map<String, J>, ev: &mut Event) -> Stamp {
    let mut prefix = String::new();
    dotted(&mut prefix, obj, ev);
    push_sigma(
        obj,
        ev,
        "Provider_Name",
        &[&["SourceName"], &["ProviderName"], &["Provider"]],
        false,
    );
    push_sigma(obj, ev, "Computer", &[&["Hostname"], &["hostname"]], false);
    push_sigma(
        obj,
        ev,
        "EventRecordID",
        &[&["RecordNumber"], &["RecordID"]],
        true,
    );
    push_sigma(obj, ev, "Provider_Guid", &[&["ProviderGuid"]], false);
    push_sigma(
        obj,
        ev,
        "Execution_ProcessID",
        &[&["ExecutionProcessID"]],
        true,
    );
    push_sigma(obj, ev, "Security_UserID", &[&["UserID"]], false);
    envelope_from_fields(ev);
    if ev.computer.is_none() {
        // Logstash's `host` is the sender: the computer only when nothing
        // better names it.
        ev.computer = text_of(obj, &["host"]);
    }
    stamp(obj, ev)
}

fn stamp(obj: &Map<String, J>, ev: &Event) -> Stamp {
    let Some((time, field, raw)) = first_when(obj, TIME_KEYS) else {
        return Stamp::default();
    };
    // An explicit non-zero offset was computed by someone: believed.
    let trusted = matches!(time, When::Utc(_)) && raw.is_some_and(|r| !labelled_utc(r));
    let ingest = if field == "@timestamp" {
        None
    } else {
        utc_of(obj, "@timestamp").filter(|t| When::Utc(*t) != time)
    };
    let check = sysmon_check(ev, time, field).or_else(|| {
        ingest.map(|truth| Check {
            seen: time,
            seen_field: field,
            truth,
            truth_field: "Logstash @timestamp",
            exact: false,
        })
    });
    Stamp {
        time: Some(time),
        field,
        trusted,
        check,
        fallback: ingest.map(|t| (t, "Logstash @timestamp")),
    }
}
