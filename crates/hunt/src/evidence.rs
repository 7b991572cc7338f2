//! The event behind a detection: its fields as one JSON object, and the
//! handful of fields analysts look at first (who, what ran, from where, on
//! what).
//!
//! Why compact JSON, built once: a hunt keeps nothing of the events it
//! reads except for those a rule fired on (the 1 GB benchmark has ~45,000
//! detections on far fewer events). Their fields are serialised once, on
//! the thread that read them, into one string shared by every detection of
//! the event; the JSONL timeline copies those bytes as they are, and the
//! CSV timeline reads them back only when it is asked for.

use std::fmt::Write as _;
use std::sync::Arc;

use vigie_event::{Event, Value};

/// The key columns of a timeline row, in column order.
///
/// Chosen from what SigmaHQ rules test most and what Timeline Explorer
/// users of EvtxECmd and Hayabusa read first: the acting account, the
/// account acted upon, the process, its command line and parent, where
/// the action came from and what it touched.
pub const KEY_COLUMNS: [&str; 7] = [
    "user",
    "target_user",
    "process",
    "command_line",
    "parent_process",
    "source_address",
    "target",
];

/// For each key column, the event fields that fill it, first present wins
/// (a value of `-` or empty, which Windows writes for "none", is skipped).
/// Windows Security and Sysmon names first, then other layouts' (ECS,
/// FortiGate, syslog).
const CANDIDATES: [&[&str]; 7] = [
    // user
    &[
        "User",
        "SubjectUserName",
        "AccountName",
        "UserName",
        "user.name",
        "user",
        "srcuser",
    ],
    // target_user (a group change's TargetUserName is the group: its
    // member comes first)
    &[
        "MemberName",
        "TargetUserName",
        "SamAccountName",
        "TargetUser",
        "dstuser",
    ],
    // process
    &[
        "Image",
        "NewProcessName",
        "ProcessName",
        "SourceImage",
        "Application",
        "process.executable",
    ],
    // command_line
    &[
        "CommandLine",
        "ProcessCommandLine",
        "process.command_line",
        "ImagePath",
        "ServiceFileName",
        "ScriptBlockText",
    ],
    // parent_process
    &[
        "ParentImage",
        "ParentProcessName",
        "process.parent.executable",
    ],
    // source_address: an address, else the source workstation's name.
    &[
        "IpAddress",
        "SourceIp",
        "SourceAddress",
        "ClientAddress",
        "SourceNetworkAddress",
        "source.ip",
        "srcip",
        "remip",
        "WorkstationName",
        "Workstation",
        "SourceHostname",
    ],
    // target: file, registry, service, task, share, object, process,
    // destination.
    &[
        "TargetFilename",
        "TargetObject",
        "ServiceName",
        "TaskName",
        "ShareName",
        "ObjectName",
        "TargetImage",
        "PipeName",
        "QueryName",
        "DestinationHostname",
        "DestinationIp",
        "destination.ip",
        "dstip",
        "url",
    ],
];

/// Domain fields joined to a user column's value (`CORP\alice`).
const DOMAIN_OF: [(&str, &str); 2] = [
    ("SubjectUserName", "SubjectDomainName"),
    ("TargetUserName", "TargetDomainName"),
];

/// One key column's value and the event field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyField {
    /// The event field (`SubjectUserName`).
    pub field: &'static str,
    /// The column text (`CORP\alice` for a user with its domain).
    pub text: Box<str>,
    /// The field's own value (`alice`) when it differs from `text`
    /// (kept once otherwise: tens of thousands of events are held).
    pub own: Option<Box<str>>,
}

impl KeyField {
    /// The field's own value, for the `details` column.
    pub fn raw(&self) -> &str {
        self.own.as_deref().unwrap_or(&self.text)
    }
}

/// What a timeline row shows of the event it was found on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventDetail {
    /// Every field as one compact JSON object (the `event` of JSONL rows).
    pub json: Box<str>,
    /// The key columns, in [`KEY_COLUMNS`] order.
    pub keys: [Option<KeyField>; 7],
}

impl EventDetail {
    /// The detail of a read event.
    pub fn of(event: &Event) -> EventDetail {
        let mut json = String::with_capacity(64 * event.fields.len().max(4));
        write_object(&mut json, &event.fields);
        EventDetail {
            json: json.into_boxed_str(),
            keys: key_fields(event),
        }
    }

    /// A detail from parts (correlation rows: their summary object and
    /// the hosts and accounts of their events).
    pub fn from_parts(json: String, keys: [Option<KeyField>; 7]) -> EventDetail {
        EventDetail {
            json: json.into_boxed_str(),
            keys,
        }
    }

    /// The text of key column `i` (empty when the event has none).
    pub fn key(&self, i: usize) -> &str {
        self.keys[i].as_ref().map(|k| &*k.text).unwrap_or("")
    }

    /// The event's fields read back from [`EventDetail::json`], in order.
    pub fn fields(&self) -> Vec<(String, serde_json::Value)> {
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&self.json) {
            Ok(m) => m.into_iter().collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Shared by every detection of one event.
pub type SharedDetail = Arc<EventDetail>;

fn usable(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    let t = v.to_text();
    let trimmed = t.trim();
    if trimmed.is_empty() || trimmed == "-" {
        None
    } else {
        Some(t)
    }
}

/// The key columns of `event`.
pub fn key_fields(event: &Event) -> [Option<KeyField>; 7] {
    let mut out: [Option<KeyField>; 7] = Default::default();
    for (slot, names) in out.iter_mut().zip(CANDIDATES) {
        *slot = names.iter().find_map(|name| {
            let raw = usable(event.get(name)?)?;
            let domain = DOMAIN_OF
                .iter()
                .find(|(u, _)| u == name)
                .and_then(|(_, dom)| event.get(dom).and_then(usable));
            Some(match domain {
                Some(d) => KeyField {
                    field: name,
                    text: format!("{d}\\{raw}").into_boxed_str(),
                    own: Some(raw.into_owned().into_boxed_str()),
                },
                None => KeyField {
                    field: name,
                    text: raw.into_owned().into_boxed_str(),
                    own: None,
                },
            })
        });
    }
    out
}

/// The people's accounts an event names (acting and target user), for
/// correlation rows: machine accounts (`SRV01$`, the subject of every
/// network logon) are left out.
pub fn accounts(keys: &[Option<KeyField>; 7]) -> Vec<Box<str>> {
    keys[..2]
        .iter()
        .flatten()
        .filter(|k| !k.raw().ends_with('$'))
        .map(|k| k.text.clone())
        .collect()
}

/// Writes `fields` as one JSON object.
///
/// Names are unique in the object: when an event has a name several times
/// (event 104 carries the System `Channel` and, in its data, the channel
/// that was cleared), the last occurrence keeps the plain name, as rules
/// see it ([`Event::get`]), and the earlier ones are `Name#1`, `Name#2`…
/// in source order. Non-finite floats are `null` (JSON has no NaN).
pub fn write_object(out: &mut String, fields: &[(vigie_event::FieldName, Value)]) {
    out.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let later = fields[i + 1..].iter().any(|(n, _)| n == name);
        if later {
            let nth = fields[..i].iter().filter(|(n, _)| n == name).count() + 1;
            json_string(out, &format!("{name}#{nth}"));
        } else {
            json_string(out, name);
        }
        out.push(':');
        json_value(out, value);
    }
    out.push('}');
}

fn json_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_finite() => {
            // serde_json's float formatting (ryu), so the bytes equal
            // what `Serialize` would give.
            out.push_str(&serde_json::to_string(f).unwrap_or_else(|_| "null".into()));
        }
        Value::Float(_) => out.push_str("null"),
        Value::Str(s) => json_string(out, s),
        Value::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_value(out, x);
            }
            out.push(']');
        }
    }
}

/// A JSON string literal (the escaping of `serde_json`).
pub fn json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use vigie_event::{Locator, Origin};

    fn event(fields: &[(&str, Value)]) -> Event {
        let mut e = Event::new(Origin {
            source: Arc::from("t.evtx"),
            locator: Locator::Record(1),
        });
        for (k, v) in fields {
            e.push(*k, v.clone());
        }
        e
    }

    #[test]
    fn json_strings_escape_like_serde_json() {
        for s in [
            "plain",
            "quote \" backslash \\ C:\\Windows",
            "nl\ncr\rtab\tbell\u{7}esc\u{1b}nul\u{0} del\u{7f} c1\u{85} bidi\u{202e} é 🦀",
            "\u{8}\u{c}\u{1f}",
        ] {
            let mut mine = String::new();
            json_string(&mut mine, s);
            assert_eq!(mine, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn the_object_keeps_every_field_with_unique_names() {
        let e = event(&[
            ("EventID", Value::Int(104)),
            ("Channel", "System".into()),
            ("Ratio", Value::Float(0.5)),
            ("Bad", Value::Float(f64::NAN)),
            ("List", Value::List(vec!["a".into(), Value::Int(2)])),
            ("Channel", "Security".into()),
            ("Empty", Value::Null),
            ("Flag", Value::Bool(true)),
        ]);
        let d = EventDetail::of(&e);
        let v: serde_json::Value = serde_json::from_str(&d.json).unwrap();
        assert_eq!(v["Channel"], "Security", "last occurrence keeps the name");
        assert_eq!(v["Channel#1"], "System");
        assert_eq!(v["EventID"], 104);
        assert_eq!(v["Ratio"], 0.5);
        assert!(v["Bad"].is_null());
        assert_eq!(v["List"], serde_json::json!(["a", 2]));
        assert!(v["Empty"].is_null());
        assert_eq!(v["Flag"], true);
        let names: Vec<String> = d.fields().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "EventID",
                "Channel#1",
                "Ratio",
                "Bad",
                "List",
                "Channel",
                "Empty",
                "Flag"
            ],
            "source order"
        );
    }

    #[test]
    fn key_fields_name_who_what_and_where() {
        // A DSRM password change (4794): user and workstation, no process.
        let e = event(&[
            ("EventID", Value::Int(4794)),
            ("SubjectUserName", "admin".into()),
            ("SubjectDomainName", "CORP".into()),
            ("Workstation", "DC01".into()),
            ("TargetUserName", "-".into()),
        ]);
        let k = key_fields(&e);
        let k0 = k[0].as_ref().unwrap();
        assert_eq!(
            (k0.field, &*k0.text, k0.raw()),
            ("SubjectUserName", "CORP\\admin", "admin")
        );
        assert!(k[1].is_none(), "'-' is Windows for none");
        assert!(k[2].is_none());
        assert_eq!(&*k[5].as_ref().unwrap().text, "DC01");
        // Sysmon process creation.
        let e = event(&[
            ("Image", "C:\\Windows\\System32\\cmd.exe".into()),
            ("CommandLine", "cmd /c whoami".into()),
            ("ParentImage", "C:\\Windows\\explorer.exe".into()),
            ("User", "CORP\\bob".into()),
        ]);
        let d = EventDetail::of(&e);
        assert_eq!(d.key(0), "CORP\\bob");
        assert_eq!(d.key(2), "C:\\Windows\\System32\\cmd.exe");
        assert_eq!(d.key(3), "cmd /c whoami");
        assert_eq!(d.key(4), "C:\\Windows\\explorer.exe");
        assert_eq!(d.key(6), "");
    }
}
