//! Elastic's Winlogbeat: version 7 and 8 (ECS, `winlog.*`, also Elastic
//! Agent's Windows integration) and version 6 (`event_data`,
//! `computer_name`, `source_name`, `log_name`; HELK and OTRF's older
//! recordings).
//!
//! ECS: every field is kept under its dotted name
//! (`winlog.event_data.Image`) *and* the `winlog.event_data.*` /
//! `winlog.user_data.*` values are pushed a second time under their leaf
//! names (`Image`), with the envelope under the Sigma System names
//! (`EventID` ← `winlog.event_id` or `event.code`, `Channel` ←
//! `winlog.channel`, `Computer` ← `winlog.computer_name` — not
//! `host.name`, which is the machine running the Beat, a collector under
//! event forwarding —, `Provider_Name` ← `winlog.provider_name`,
//! `EventRecordID` ← `winlog.record_id`). Why both: SigmaHQ rules then
//! work unchanged without a field-mapping pipeline, and rules or queries
//! written against ECS names still find them.
//!
//! Winlogbeat's Sysmon module (Winlogbeat 7.x,
//! `x-pack/winlogbeat/module/sysmon`) *renames* Sysmon's fields into ECS
//! (`Image` → `process.executable`, `CommandLine` → `process.args`,
//! `TargetFilename` → `file.path`, `UtcTime` → `@timestamp`…), leaving
//! them out of `winlog.event_data`. The Sigma names are put back from the
//! ECS fields, per Sysmon event id, when `event_data` lacks them
//! ([`SYSMON_ECS`]; the module's golden outputs in elastic/beats,
//! `x-pack/winlogbeat/module/sysmon/test/testdata`, show it up to 8.17);
//! a command line only split into `process.args` is joined back with
//! spaces (its original quoting is lost), `Hashes` is rebuilt from
//! `process.hash.*`/`file.hash.*`, `User` from `user.domain` and
//! `user.name`.
//!
//! Time: `@timestamp`, which Winlogbeat sets from the record's own UTC
//! time (or Sysmon's `UtcTime`): taken as written, and compared with
//! `UtcTime` only to report a disagreement.

use serde_json::{Map, Value as J};
use vigie_event::{Event, Value};

use super::{first_when, push_sigma, sysmon_check};
use crate::clock::Stamp;
use crate::flatten::{dotted, envelope_from_fields, get_path, leaf, name};

/// Winlogbeat 7/8 (ECS).
pub(crate) fn flatten_ecs(obj: &Map<String, J>, ev: &mut Event) -> Stamp {
    let mut prefix = String::new();
    dotted(&mut prefix, obj, ev);
    push_sigma(
        obj,
        ev,
        "EventID",
        &[&["winlog", "event_id"], &["event", "code"]],
        true,
    );
    push_sigma(obj, ev, "Channel", &[&["winlog", "channel"]], false);
    push_sigma(
        obj,
        ev,
        "Computer",
        &[
            &["winlog", "computer_name"],
            &["host", "name"],
            &["host", "hostname"],
        ],
        false,
    );
    push_sigma(
        obj,
        ev,
        "Provider_Name",
        &[&["winlog", "provider_name"], &["event", "provider"]],
        false,
    );
    push_sigma(
        obj,
        ev,
        "Provider_Guid",
        &[&["winlog", "provider_guid"]],
        false,
    );
    push_sigma(obj, ev, "EventRecordID", &[&["winlog", "record_id"]], true);
    push_sigma(
        obj,
        ev,
        "Security_UserID",
        &[&["winlog", "user", "identifier"]],
        false,
    );
    push_sigma(
        obj,
        ev,
        "Execution_ProcessID",
        &[&["winlog", "process", "pid"]],
        true,
    );
    for section in ["event_data", "user_data"] {
        if let Some(J::Object(data)) = get_path(obj, &["winlog", section]) {
            for (k, v) in data {
                leaf(k, v, ev);
            }
        }
    }
    envelope_from_fields(ev);
    if ev.channel.as_deref() == Some(SYSMON_CHANNEL) {
        if let Some(id) = ev.event_id {
            sysmon_from_ecs(obj, ev, id);
        }
    }
    stamp(obj, ev)
}

/// Winlogbeat 6: `event_data`/`user_data` leaves, the envelope from
/// `event_id`, `log_name`, `computer_name`, `source_name`,
/// `record_number`; the other keys dotted.
pub(crate) fn flatten_winlogbeat6(obj: &Map<String, J>, ev: &mut Event) -> Stamp {
    let mut prefix = String::new();
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("event_data" | "user_data", J::Object(data)) => {
                for (dk, dv) in data {
                    leaf(dk, dv, ev);
                }
            }
            (_, J::Object(o)) => {
                prefix.clear();
                prefix.push_str(k);
                dotted(&mut prefix, o, ev);
            }
            _ => ev.fields.push((name(k), crate::flatten::value(v))),
        }
    }
    push_sigma(obj, ev, "EventID", &[&["event_id"]], true);
    push_sigma(obj, ev, "Channel", &[&["log_name"]], false);
    push_sigma(obj, ev, "Computer", &[&["computer_name"]], false);
    push_sigma(obj, ev, "Provider_Name", &[&["source_name"]], false);
    push_sigma(obj, ev, "Provider_Guid", &[&["provider_guid"]], false);
    push_sigma(obj, ev, "EventRecordID", &[&["record_number"]], true);
    push_sigma(
        obj,
        ev,
        "Security_UserID",
        &[&["user", "identifier"]],
        false,
    );
    push_sigma(obj, ev, "Execution_ProcessID", &[&["process_id"]], true);
    envelope_from_fields(ev);
    stamp(obj, ev)
}

fn stamp(obj: &Map<String, J>, ev: &Event) -> Stamp {
    let found = first_when(obj, &["@timestamp"]);
    let mut stamp = Stamp {
        time: found.map(|f| f.0),
        field: "@timestamp",
        trusted: true,
        ..Stamp::default()
    };
    if let Some((w, _, _)) = found {
        stamp.check = sysmon_check(ev, w, "@timestamp");
    }
    stamp
}

const SYSMON_CHANNEL: &str = "Microsoft-Windows-Sysmon/Operational";

/// Sigma field ← ECS field, for the Sysmon event ids whose fields
/// Winlogbeat's Sysmon module renames (see the module doc). `*` stands
/// for any other id.
const SYSMON_ECS: &[(&[u32], &str, &[&str])] = &[
    (&[8], "SourceProcessGuid", &["process", "entity_id"]),
    (&[10], "SourceProcessGUID", &["process", "entity_id"]),
    (&[8, 10], "SourceProcessId", &["process", "pid"]),
    (&[8, 10], "SourceImage", &["process", "executable"]),
    (&[10], "SourceThreadId", &["process", "thread", "id"]),
    (&[20], "Destination", &["process", "executable"]),
    (&[6, 7], "ImageLoaded", &["file", "path"]),
    (&[2, 11, 15, 23, 26], "TargetFilename", &["file", "path"]),
    (&[9], "Device", &["file", "path"]),
    (&[17, 18], "PipeName", &["file", "name"]),
    (&[1], "CurrentDirectory", &["process", "working_directory"]),
    (
        &[1],
        "ParentProcessGuid",
        &["process", "parent", "entity_id"],
    ),
    (&[1], "ParentProcessId", &["process", "parent", "pid"]),
    (&[1], "ParentImage", &["process", "parent", "executable"]),
    (&[3], "Protocol", &["network", "transport"]),
    (&[3], "SourceIp", &["source", "ip"]),
    (&[3], "SourceHostname", &["source", "domain"]),
    (&[3], "SourcePort", &["source", "port"]),
    (&[3], "DestinationIp", &["destination", "ip"]),
    (&[3], "DestinationHostname", &["destination", "domain"]),
    (&[3], "DestinationPort", &["destination", "port"]),
    (&[3], "DestinationPortName", &["network", "protocol"]),
    (&[22], "QueryName", &["dns", "question", "name"]),
    (
        &[1],
        "OriginalFileName",
        &["process", "pe", "original_file_name"],
    ),
    (
        &[6, 7],
        "OriginalFileName",
        &["file", "pe", "original_file_name"],
    ),
];

/// Ids where `process.*` is the acting process under its plain names.
fn plain_process(id: u32) -> bool {
    !matches!(id, 6 | 8 | 10 | 20)
}

fn sysmon_from_ecs(obj: &Map<String, J>, ev: &mut Event, id: u32) {
    for (ids, sigma, path) in SYSMON_ECS {
        if ids.contains(&id) {
            push_sigma(obj, ev, sigma, &[path], false);
        }
    }
    if plain_process(id) {
        push_sigma(obj, ev, "ProcessGuid", &[&["process", "entity_id"]], false);
        push_sigma(obj, ev, "ProcessId", &[&["process", "pid"]], false);
        push_sigma(obj, ev, "Image", &[&["process", "executable"]], false);
    }
    if id == 1 {
        let pairs: [(&str, &[&str], &[&str]); 2] = [
            (
                "CommandLine",
                &["process", "command_line"],
                &["process", "args"],
            ),
            (
                "ParentCommandLine",
                &["process", "parent", "command_line"],
                &["process", "parent", "args"],
            ),
        ];
        for (sigma, line, args) in pairs {
            if ev.get(sigma).is_some() {
                continue;
            }
            let joined = match (get_path(obj, line), get_path(obj, args)) {
                (Some(J::String(s)), _) => Some(s.clone()),
                (_, Some(J::Array(a))) => {
                    Some(a.iter().filter_map(J::as_str).collect::<Vec<_>>().join(" "))
                }
                (_, Some(J::String(s))) => Some(s.clone()),
                _ => None,
            };
            if let Some(j) = joined {
                ev.fields.push((name(sigma), Value::from(j)));
            }
        }
    }
    if ev.get("Hashes").is_none() {
        // `Hashes: SHA1=…,MD5=…` was split into `process.hash.sha1`… (the
        // hex lower-cased; Sigma compares case-insensitively).
        let section: &[&str] = if id == 1 {
            &["process", "hash"]
        } else {
            &["file", "hash"]
        };
        if let Some(J::Object(h)) = get_path(obj, section) {
            let parts: Vec<String> = ["md5", "sha1", "sha256", "imphash"]
                .iter()
                .filter_map(|k| {
                    h.get(*k)
                        .and_then(J::as_str)
                        .map(|v| format!("{}={v}", k.to_ascii_uppercase()))
                })
                .collect();
            if !parts.is_empty() {
                ev.fields
                    .push((name("Hashes"), Value::from(parts.join(","))));
            }
        }
    }
    if ev.get("User").is_none() {
        let part = |k: &str| get_path(obj, &["user", k]).and_then(J::as_str);
        if let (Some(d), Some(n)) = (part("domain"), part("name")) {
            ev.fields
                .push((name("User"), Value::from(format!("{d}\\{n}"))));
        }
    }
}
