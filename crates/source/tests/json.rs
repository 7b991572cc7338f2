//! JSON / JSON Lines reading: layouts, envelopes and error recovery.

use std::path::{Path, PathBuf};

use vigie_event::{Locator, Value};
use vigie_source::{read_all, read_bytes, sniff, Format, Place, ReadOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn s(v: &str) -> Value {
    Value::from(v)
}

#[test]
fn evtx_dump_lines_are_flattened_to_sigma_names() {
    let path = fixture("evtx_dump.jsonl");
    assert_eq!(sniff(&path).unwrap(), Format::JsonLines);
    let (events, report) = read_all(&path);
    assert_eq!(report.format, Some(Format::JsonLines));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 5);
    assert_eq!(report.records_read, 5);
    assert_eq!(report.size, std::fs::metadata(&path).unwrap().len());
    assert_eq!(report.sha256.len(), 64);

    let e = &events[0];
    assert_eq!(e.event_id, Some(4624));
    assert_eq!(e.channel.as_deref(), Some("Security"));
    assert_eq!(e.computer.as_deref(), Some("SRV-RDS01.ccpab.local"));
    assert_eq!(
        e.provider.as_deref(),
        Some("Microsoft-Windows-Security-Auditing")
    );
    assert_eq!(e.record_id, Some(81234));
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2026-01-03T02:14:07.123456+00:00"
    );
    assert_eq!(e.origin.locator, Locator::Line(1));
    assert_eq!(e.get("EventID"), Some(&Value::Int(4624)));
    assert_eq!(e.get("LogonType"), Some(&Value::Int(10)));
    assert_eq!(e.get("TargetUserName"), Some(&s("presta.maint")));
    assert_eq!(
        e.get("Provider_Guid"),
        Some(&s("{54849625-5478-4994-A5BA-3E3B0328C30D}"))
    );
    assert_eq!(e.get("Execution_ProcessID"), Some(&Value::Int(640)));
    assert_eq!(
        e.get("TimeCreated_SystemTime"),
        Some(&s("2026-01-03T02:14:07.123456Z"))
    );
    // Empty System elements give no field.
    assert_eq!(e.get("Correlation"), None);
    assert_eq!(e.get("Security_UserID"), None);

    // EventID with Qualifiers.
    let e = &events[1];
    assert_eq!(e.event_id, Some(7045));
    assert_eq!(e.get("EventID"), Some(&Value::Int(7045)));
    assert_eq!(e.get("EventID_Qualifiers"), Some(&Value::Int(16384)));
    assert_eq!(e.get("Security_UserID"), Some(&s("S-1-5-21-1-2-3-500")));
    assert_eq!(e.get("ServiceName"), Some(&s("PSEXESVC")));
    assert_eq!(
        e.get("Provider_EventSourceName"),
        Some(&s("Service Control Manager"))
    );

    // UserData leaves, xmlns dropped.
    let e = &events[2];
    assert_eq!(e.event_id, Some(1102));
    assert_eq!(e.get("SubjectUserName"), Some(&s("adm.tech01")));
    assert_eq!(e.get("xmlns"), None);
    assert_eq!(e.get("LogFileCleared"), None);

    // Unnamed Data: a list when repeated, a string when single.
    let e = &events[3];
    match e.get("Data") {
        Some(Value::List(items)) => {
            assert_eq!(items.len(), 3);
            assert!(items[2].to_text().contains("DisableRealtimeMonitoring"));
        }
        other => panic!("Data should be a list, got {other:?}"),
    }
    assert_eq!(e.get("Binary"), Some(&Value::Null));
    assert_eq!(events[4].get("Data"), Some(&s("single unnamed value")));
}

#[test]
fn flat_array_with_nxlog_names_and_a_bad_element() {
    let path = fixture("flat.json");
    assert_eq!(sniff(&path).unwrap(), Format::Json);
    let (events, report) = read_all(&path);
    assert_eq!(events.len(), 2);
    assert_eq!(report.records_skipped, 1);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].place, Place::Index(2));

    let e = &events[0];
    assert_eq!(e.origin.locator, Locator::Index(0));
    assert_eq!(e.event_id, Some(4688));
    assert_eq!(e.computer.as_deref(), Some("SRV-RDS01"));
    assert_eq!(e.record_id, Some(9));
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2026-01-03T02:30:00+00:00"
    );
    assert_eq!(
        e.get("CommandLine"),
        Some(&s("net group \"Admins du domaine\" /domain"))
    );

    let e = &events[1];
    assert_eq!(e.computer.as_deref(), Some("DC01"));
    assert_eq!(
        e.provider.as_deref(),
        Some("Microsoft-Windows-Security-Auditing")
    );
    assert_eq!(e.record_id, Some(10));
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2026-01-03T01:09:58+00:00"
    );
    assert_eq!(e.get("Extra.a.b"), Some(&Value::Int(1)));
}

#[test]
fn winlogbeat_keeps_dotted_and_sigma_names() {
    let (events, report) = read_all(&fixture("ecs.jsonl"));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 2);
    let e = &events[0];
    assert_eq!(e.event_id, Some(1));
    assert_eq!(e.get("EventID"), Some(&Value::Int(1)));
    assert_eq!(
        e.channel.as_deref(),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(e.computer.as_deref(), Some("SRV-RDS01.ccpab.local"));
    assert_eq!(e.provider.as_deref(), Some("Microsoft-Windows-Sysmon"));
    assert_eq!(e.record_id, Some(4021));
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2026-01-05T10:00:00+00:00"
    );
    assert_eq!(e.get("Security_UserID"), Some(&s("S-1-5-18")));
    let img = s("C:\\Users\\presta.maint\\Downloads\\AnyDesk.exe");
    assert_eq!(e.get("Image"), Some(&img));
    assert_eq!(e.get("winlog.event_data.Image"), Some(&img));
    assert_eq!(e.get("process.pid"), Some(&Value::Int(4242)));

    // No computer_name: host.name is the computer.
    let e = &events[1];
    assert_eq!(e.computer.as_deref(), Some("dc01"));
    assert_eq!(e.event_id, Some(4720));
    assert_eq!(e.get("TargetUserName"), Some(&s("svc_sauvegarde")));
}

#[test]
fn truncated_and_malformed_lines_are_reported_and_skipped() {
    let (events, report) = read_all(&fixture("truncated.jsonl"));
    let images: Vec<_> = events
        .iter()
        .map(|e| e.get_str("Image").unwrap().to_string())
        .collect();
    assert_eq!(images, ["C:\\a.exe", "C:\\c.exe", "C:\\d.exe"]);
    let lines: Vec<_> = events.iter().map(|e| e.origin.locator.clone()).collect();
    assert_eq!(
        lines,
        [Locator::Line(1), Locator::Line(4), Locator::Line(6)]
    );
    assert_eq!(report.records_read, 3);
    assert_eq!(report.records_skipped, 3);
    let places: Vec<_> = report.errors.iter().map(|e| e.place.clone()).collect();
    assert_eq!(places, [Place::Line(2), Place::Line(5), Place::Line(7)]);
}

#[test]
fn concatenated_pretty_objects_skip_a_malformed_one() {
    let path = fixture("pretty_concat.json");
    assert_eq!(sniff(&path).unwrap(), Format::Json);
    let (events, report) = read_all(&path);
    let ids: Vec<_> = events.iter().map(|e| e.record_id).collect();
    assert_eq!(ids, [Some(1), Some(3)]);
    assert_eq!(events[0].origin.locator, Locator::Line(1));
    assert_eq!(events[1].origin.locator, Locator::Line(25));
    // Braces inside strings do not confuse the delimiter.
    assert!(events[0].get_str("CommandLine").unwrap().ends_with("{x}"));
    assert_eq!(report.records_skipped, 1);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].place, Place::Line(14));
}

#[test]
fn a_truncated_pretty_file_keeps_the_complete_objects() {
    let full = std::fs::read(fixture("pretty_concat.json")).unwrap();
    let cut = &full[..full.len() - 40];
    let (events, report) = read_bytes("cut.json", cut, &ReadOptions::default());
    assert_eq!(events.len(), 1);
    assert_eq!(report.records_skipped, 2);
    assert_eq!(report.errors.last().unwrap().place, Place::Line(25));
}

#[test]
fn unknown_content_is_skipped_with_a_reason() {
    for name in ["garbage.bin", "notes.yml"] {
        let path = fixture(name);
        let err = sniff(&path).unwrap_err();
        assert!(err.message.contains("unrecognized format"), "{err}");
        let (events, report) = read_all(&path);
        assert!(events.is_empty());
        assert_eq!(report.format, None);
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].place, Place::File);
        assert_eq!(report.sha256.len(), 64);
    }
    let (_, report) = read_bytes("empty", b"  \n", &ReadOptions::default());
    assert!(report.errors[0].message.contains("empty"));
}

#[test]
fn generic_json_is_dotted() {
    let line = br#"{"ts": 1767924603, "host": "web01", "http": {"method": "POST", "status": 200, "tags": ["a", "b"]}}"#;
    let (events, _) = read_bytes("x.jsonl", line, &ReadOptions::default());
    let e = &events[0];
    assert_eq!(e.computer.as_deref(), Some("web01"));
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2026-01-09T02:10:03+00:00"
    );
    assert_eq!(e.get("http.status"), Some(&Value::Int(200)));
    assert_eq!(e.get("http.tags"), Some(&Value::List(vec![s("a"), s("b")])));
    assert_eq!(e.event_id, None);
}

#[test]
fn powershell_get_winevent_export() {
    let (events, report) = read_all(&fixture("powershell.json"));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let e = &events[0];
    assert_eq!(e.event_id, Some(4720));
    assert_eq!(e.channel.as_deref(), Some("Security"));
    assert_eq!(e.computer.as_deref(), Some("DC01.ccpab.local"));
    assert_eq!(e.record_id, Some(90412));
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2026-01-04T00:00:00.123+00:00"
    );
    assert_eq!(e.get("EventID"), Some(&Value::Int(4720)));
    match e.get("Data") {
        Some(Value::List(d)) => {
            assert_eq!(d[0], s("svc_sauvegarde"));
            assert!(d[2].to_text().contains("S-1-5-21-1-2-3-1142"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.get_str("Message").unwrap().contains("créé"));
}

#[test]
fn evtx_dump_output_with_record_lines() {
    let path = fixture("evtx_dump_output.json");
    assert_eq!(sniff(&path).unwrap(), Format::Json);
    let (events, report) = read_all(&path);
    let locs: Vec<_> = events.iter().map(|e| e.origin.locator.clone()).collect();
    assert_eq!(locs, [Locator::Record(41), Locator::Record(43)]);
    assert_eq!(events[1].event_id, Some(4768));
    assert_eq!(events[1].record_id, Some(1043));
    assert_eq!(events[1].get("TargetUserName"), Some(&s("presta.maint")));
    assert_eq!(report.records_skipped, 1);
    assert_eq!(
        report.errors[0].place,
        Place::Record {
            chunk: None,
            record_id: Some(42)
        }
    );
    // evtx_dump's XML output is named, not misread.
    let xml = b"Record 1\n<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Event></Event>\n";
    let (events, report) = read_bytes("dump.xml", xml, &ReadOptions::default());
    assert!(events.is_empty());
    assert!(
        report.errors[0].message.contains("XML"),
        "{:?}",
        report.errors
    );
}

#[test]
fn a_string_cut_in_pretty_json_does_not_swallow_the_next_objects() {
    let text = "{\n  \"EventID\": 1,\n  \"Image\": \"C:\\\\cut\n{\n  \"EventID\": 2,\n  \"Image\": \"b\"\n}\n{\n  \"EventID\": 3,\n  \"Image\": \"c\"\n}\n{\"x\": \"\"}\n";
    let (events, report) = read_bytes("cut.json", text.as_bytes(), &ReadOptions::default());
    let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
    assert!(
        ids.contains(&Some(2)) && ids.contains(&Some(3)),
        "{ids:?} {:?}",
        report.errors
    );
    assert_eq!(report.errors[0].place, Place::Line(1));
}

/// A JSON line with bytes of another character set (NXLog set to
/// Latin-1 writes `é` as one byte 0xE9; a stray 0x80 is `€` in
/// Windows-1252) is read, those bytes as Windows-1252 and the UTF-8 ones
/// as they are, and said in the notes — not lost with its command line.
#[test]
fn a_line_not_in_utf8_is_read_with_its_odd_bytes_as_windows_1252() {
    let mut text = Vec::new();
    text.extend_from_slice(b"{\"EventID\":4688,\"Channel\":\"Security\",\"Computer\":\"PC-MAIRIE\",\"CommandLine\":\"cmd /c copy r\xe9sum\xe9.doc \\\\\\\\srv\\\\d\xc3\xa9p\xf4t \x80\",\"TimeCreated\":\"2026-12-01T10:00:00Z\"}\n");
    text.extend_from_slice(b"{\"EventID\":4688,\"Channel\":\"Security\",\"Computer\":\"PC-MAIRIE\",\"CommandLine\":\"whoami\",\"TimeCreated\":\"2026-12-01T10:00:01Z\"}\n");
    text.extend_from_slice(
        b"{\"EventID\":4688,\"Computer\":\"PC-MAIRIE\",\"CommandLine\":\"\xff\xfe\" broken\n",
    );
    let (events, report) = read_bytes("nxlog.jsonl", &text, &ReadOptions::default());
    assert_eq!(events.len(), 2, "{:?}", report.errors);
    assert_eq!(
        events[0].get("CommandLine"),
        Some(&s("cmd /c copy résumé.doc \\\\srv\\dépôt €"))
    );
    assert_eq!(events[0].origin.locator, Locator::Line(1));
    // The third line is no JSON whatever its bytes: an error, as before.
    assert_eq!(report.records_skipped, 1);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].place, Place::Line(3));
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("1 line(s) not in UTF-8 (the first: line 1)")),
        "{:?}",
        report.notes
    );
    assert_eq!(report.records_not_utf8, 1);
    // A JSON array written in Windows-1252 (Windows PowerShell 5.1's
    // `ConvertTo-Json | Set-Content`): read whole, said.
    let array = b"[\n {\"EventID\": 4688, \"Computer\": \"PC-MAIRIE\", \"CommandLine\": \"net use Z: compta \xe9t\xe9\"},\n {\"EventID\": 4624, \"Computer\": \"PC-MAIRIE\"}\n]\n";
    let (events, report) = read_bytes("ps.json", array, &ReadOptions::default());
    assert_eq!(events.len(), 2, "{:?}", report.errors);
    assert_eq!(
        events[0].get("CommandLine"),
        Some(&s("net use Z: compta été"))
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("not all in UTF-8")),
        "{:?}",
        report.notes
    );
}

/// What a detection, the console's page and a search hit show of a stored
/// line is what was read: a JSON line in Windows-1252 as its object with
/// its accents, a syslog line as its text.
#[test]
fn a_stored_line_is_shown_as_it_was_read() {
    let v = vigie_source::value_as_read(b"{\"User\":\"CCPAB\\\\adm.t\xe9ch01\",\"EventID\":4624}");
    assert_eq!(v["User"], "CCPAB\\adm.téch01");
    assert_eq!(v["EventID"], 4624);
    let t =
        vigie_source::value_as_read(b"<86>Jan 17 08:30:12 srv sshd: password changed for andr\xe9");
    assert_eq!(
        t,
        serde_json::Value::String(
            "<86>Jan 17 08:30:12 srv sshd: password changed for andré".into()
        )
    );
}
