//! Windows events and their rendering in the `evtx_dump` JSON layout.
//!
//! `evtx_dump -o jsonl` renders each record as
//! `{"Event":{"#attributes":{"xmlns":…},"System":{…},"EventData":{…}}}`
//! (or `UserData` for the events whose manifest uses a user-defined
//! element, such as 1102, 104, 1149, 21). Typed values keep their type:
//! `UInt32` fields are JSON numbers, `HexInt32`/`HexInt64` fields are
//! strings such as `"0x17"`, `SID`s and `GUID`s are strings. The layout
//! here follows the regression data of the SigmaHQ corpus field by field.
//!
//! Rendering is hand-written (not `serde_json::Value`) because the full
//! week is millions of records and building a DOM per record would double
//! generation time; `json_escape` keeps the output valid JSON, and a test
//! parses every rendered record back with `serde_json`.

use std::borrow::Cow;

use crate::clock::{write_system_time, Us};

/// A field value with the JSON type `evtx_dump` gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    S(Cow<'static, str>),
    I(i64),
}

impl From<&'static str> for V {
    fn from(s: &'static str) -> Self {
        V::S(Cow::Borrowed(s))
    }
}
impl From<String> for V {
    fn from(s: String) -> Self {
        V::S(Cow::Owned(s))
    }
}
impl From<i64> for V {
    fn from(i: i64) -> Self {
        V::I(i)
    }
}
impl From<u32> for V {
    fn from(i: u32) -> Self {
        V::I(i as i64)
    }
}

/// The log channels the scenario writes, with their EVTX file stems
/// (`/` becomes `%4`, as in `C:\Windows\System32\winevt\Logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Security,
    System,
    Sysmon,
    PowerShell,
    Defender,
    RdpConnectionManager,
    RdpLocalSession,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Security,
        Channel::System,
        Channel::Sysmon,
        Channel::PowerShell,
        Channel::Defender,
        Channel::RdpConnectionManager,
        Channel::RdpLocalSession,
    ];

    /// The `System/Channel` value.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Security => "Security",
            Channel::System => "System",
            Channel::Sysmon => "Microsoft-Windows-Sysmon/Operational",
            Channel::PowerShell => "Microsoft-Windows-PowerShell/Operational",
            Channel::Defender => "Microsoft-Windows-Windows Defender/Operational",
            Channel::RdpConnectionManager => {
                "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
            }
            Channel::RdpLocalSession => {
                "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"
            }
        }
    }

    /// File name under `logs/<HOST>/`: the EVTX file stem plus `.jsonl`.
    pub fn file_name(self) -> String {
        format!("{}.jsonl", self.name().replace('/', "%4"))
    }
}

/// An event provider: name, GUID and (for classic providers)
/// `EventSourceName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    SecurityAuditing,
    Eventlog,
    ServiceControlManager,
    Sysmon,
    PowerShell,
    Defender,
    RdpConnectionManager,
    RdpLocalSession,
    WindowsUpdateClient,
    KernelGeneral,
    EventLogClassic,
}

impl Provider {
    fn attrs(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Provider::SecurityAuditing => (
                "Microsoft-Windows-Security-Auditing",
                "54849625-5478-4994-A5BA-3E3B0328C30D",
                None,
            ),
            Provider::Eventlog => (
                "Microsoft-Windows-Eventlog",
                "FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148",
                None,
            ),
            Provider::ServiceControlManager => (
                "Service Control Manager",
                "555908D1-A6D7-4695-8E1E-26931D2012F4",
                Some("Service Control Manager"),
            ),
            Provider::Sysmon => (
                "Microsoft-Windows-Sysmon",
                "5770385F-C22A-43E0-BF4C-06F5698FFBD9",
                None,
            ),
            Provider::PowerShell => (
                "Microsoft-Windows-PowerShell",
                "A0C1853B-5C40-4B15-8766-3CF1C58F985A",
                None,
            ),
            Provider::Defender => (
                "Microsoft-Windows-Windows Defender",
                "11CD958A-C507-4EF3-B3F2-5FD9DFBD2C78",
                None,
            ),
            Provider::RdpConnectionManager => (
                "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
                "C76BAA63-AE81-421C-B425-340B4B24157F",
                None,
            ),
            Provider::RdpLocalSession => (
                "Microsoft-Windows-TerminalServices-LocalSessionManager",
                "5D896912-022D-40AA-A3A8-4FA5515C76D7",
                None,
            ),
            Provider::WindowsUpdateClient => (
                "Microsoft-Windows-WindowsUpdateClient",
                "945A8954-C147-4ACD-923F-40C45405A658",
                None,
            ),
            Provider::KernelGeneral => (
                "Microsoft-Windows-Kernel-General",
                "A68CA8B7-004F-D7B6-A698-07E2DE0F1F5D",
                None,
            ),
            Provider::EventLogClassic => ("EventLog", "", Some("EventLog")),
        }
    }
}

/// Where the payload goes: `EventData` (flat `Data Name=` values) or
/// `UserData/<element xmlns=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    EventData,
    UserData {
        element: &'static str,
        xmlns: &'static str,
    },
}

/// One Windows event before it gets its record id.
#[derive(Debug, Clone)]
pub struct WinEvent {
    /// UTC time, microseconds.
    pub t: Us,
    pub channel: Channel,
    pub provider: Provider,
    pub event_id: u16,
    pub version: u8,
    pub level: u8,
    pub task: u16,
    pub opcode: u8,
    pub keywords: &'static str,
    /// `System/Execution` process and thread.
    pub pid: u32,
    pub tid: u32,
    /// `System/Security/@UserID`; `None` renders `"Security": null`.
    pub user_sid: Option<Cow<'static, str>>,
    pub payload: Payload,
    pub data: Vec<(&'static str, V)>,
    /// Attack step (1..=13), 0 for benign activity.
    pub step: u8,
}

/// Bytes that JSON strings must escape (`"`, `\\`, control characters).
const ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Appends `s` as a JSON string literal.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(off) = bytes[start..].iter().position(|&b| ESCAPE[b as usize]) {
        let i = start + off;
        out.extend_from_slice(&bytes[start..i]);
        match bytes[i] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn json_int(out: &mut Vec<u8>, i: i64) {
    let mut buf = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[pos..]);
}

/// Renders one record as a single JSON line (without the newline).
pub fn render(out: &mut Vec<u8>, ev: &WinEvent, record_id: u64, computer: &str) {
    let (pname, pguid, source) = ev.provider.attrs();
    out.extend_from_slice(
        br##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"##,
    );
    json_str(out, pname);
    if !pguid.is_empty() {
        out.extend_from_slice(br##","Guid":""##);
        out.extend_from_slice(pguid.as_bytes());
        out.push(b'"');
    }
    if let Some(src) = source {
        out.extend_from_slice(br##","EventSourceName":"##);
        json_str(out, src);
    }
    out.extend_from_slice(br##"}},"EventID":"##);
    json_int(out, ev.event_id as i64);
    out.extend_from_slice(br##","Version":"##);
    json_int(out, ev.version as i64);
    out.extend_from_slice(br##","Level":"##);
    json_int(out, ev.level as i64);
    out.extend_from_slice(br##","Task":"##);
    json_int(out, ev.task as i64);
    out.extend_from_slice(br##","Opcode":"##);
    json_int(out, ev.opcode as i64);
    out.extend_from_slice(br##","Keywords":""##);
    out.extend_from_slice(ev.keywords.as_bytes());
    out.extend_from_slice(br##"","TimeCreated":{"#attributes":{"SystemTime":""##);
    write_system_time(out, ev.t);
    out.extend_from_slice(br##""}},"EventRecordID":"##);
    json_int(out, record_id as i64);
    out.extend_from_slice(br##","Correlation":null,"Execution":{"#attributes":{"ProcessID":"##);
    json_int(out, ev.pid as i64);
    out.extend_from_slice(br##","ThreadID":"##);
    json_int(out, ev.tid as i64);
    out.extend_from_slice(br##"}},"Channel":"##);
    json_str(out, ev.channel.name());
    out.extend_from_slice(br##","Computer":"##);
    json_str(out, computer);
    out.extend_from_slice(br##","Security":"##);
    match &ev.user_sid {
        Some(sid) => {
            out.extend_from_slice(br##"{"#attributes":{"UserID":"##);
            json_str(out, sid);
            out.extend_from_slice(b"}}");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"},");
    match ev.payload {
        Payload::EventData => out.extend_from_slice(br##""EventData":{"##),
        Payload::UserData { element, xmlns } => {
            out.extend_from_slice(br##""UserData":{"##);
            json_str(out, element);
            out.extend_from_slice(br##":{"#attributes":{"xmlns":"##);
            json_str(out, xmlns);
            out.push(b'}');
            if !ev.data.is_empty() {
                out.push(b',');
            }
        }
    }
    for (i, (k, v)) in ev.data.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, k);
        out.push(b':');
        match v {
            V::S(s) => json_str(out, s),
            V::I(n) => json_int(out, *n),
        }
    }
    match ev.payload {
        Payload::EventData => out.extend_from_slice(b"}}}"),
        Payload::UserData { .. } => out.extend_from_slice(b"}}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_produce_valid_json() {
        let mut out = Vec::new();
        json_str(&mut out, "C:\\Windows\\\"x\"\n\u{1}é");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "C:\\Windows\\\"x\"\n\u{1}é");
    }

    #[test]
    fn renders_the_evtx_dump_layout() {
        let ev = WinEvent {
            t: 1_768_007_403_000_000,
            channel: Channel::Security,
            provider: Provider::Eventlog,
            event_id: 1102,
            version: 1,
            level: 4,
            task: 104,
            opcode: 0,
            keywords: "0x4020000000000000",
            pid: 1044,
            tid: 2220,
            user_sid: None,
            payload: Payload::UserData {
                element: "LogFileCleared",
                xmlns: "http://manifests.microsoft.com/win/2004/08/windows/eventlog",
            },
            data: vec![
                ("SubjectUserName", "presta.maint".into()),
                ("N", 3i64.into()),
            ],
            step: 12,
        };
        let mut out = Vec::new();
        render(&mut out, &ev, 77, "DC01.ccpab.local");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let mut ints = Vec::new();
        for i in [0i64, 7, -42, i64::MAX] {
            ints.clear();
            json_int(&mut ints, i);
            assert_eq!(String::from_utf8(ints.clone()).unwrap(), i.to_string());
        }
        let s = &v["Event"]["System"];
        assert_eq!(
            s["Provider"]["#attributes"]["Name"],
            "Microsoft-Windows-Eventlog"
        );
        assert_eq!(s["EventID"], 1102);
        assert_eq!(s["EventRecordID"], 77);
        assert_eq!(s["Channel"], "Security");
        assert_eq!(s["Computer"], "DC01.ccpab.local");
        assert!(s["Security"].is_null());
        let u = &v["Event"]["UserData"]["LogFileCleared"];
        assert_eq!(u["SubjectUserName"], "presta.maint");
        assert_eq!(u["N"], 3);
    }
}
