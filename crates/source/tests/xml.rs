//! Windows event XML (Event Viewer "Save as XML", wevtutil).

use std::path::Path;

use vigie_event::{Locator, Value};
use vigie_source::{read_bytes, Format, Place, ReadOptions};

fn s(v: &str) -> Value {
    Value::from(v)
}

#[test]
fn event_viewer_export_in_utf16() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventviewer.xml");
    let text = std::fs::read_to_string(path).unwrap();
    // Event Viewer writes UTF-16LE with a byte-order mark.
    let mut b = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    let (events, report) = read_bytes("export.xml", &b, &ReadOptions::default());
    assert_eq!(report.format, Some(Format::Xml));
    assert_eq!(events.len(), 3);
    assert_eq!(report.records_skipped, 1);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].place, Place::Line(5));

    let e = &events[0];
    assert_eq!(e.origin.locator, Locator::Line(3));
    assert_eq!(e.event_id, Some(1));
    assert_eq!(e.record_id, Some(7001));
    assert_eq!(e.computer.as_deref(), Some("SRV-RDS01.ccpab.local"));
    assert_eq!(e.provider.as_deref(), Some("Microsoft-Windows-Sysmon"));
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2026-01-03T02:30:11.500+00:00"
    );
    assert_eq!(e.get("EventID"), Some(&Value::Int(1)));
    assert_eq!(e.get("Execution_ProcessID"), Some(&Value::Int(3044)));
    assert_eq!(e.get("Security_UserID"), Some(&s("S-1-5-18")));
    assert_eq!(e.get("Correlation"), None);
    assert_eq!(e.get("RuleName"), Some(&s("")));
    assert_eq!(
        e.get("CommandLine"),
        Some(&s("net group \"Admins du domaine\" /domain & whoami"))
    );
    // RenderingInfo is kept apart: System's Level and Channel stay first.
    assert_eq!(e.get("Level"), Some(&Value::Int(4)));
    assert_eq!(e.get("RenderingInfo.Level"), Some(&s("Information")));
    assert_eq!(
        e.get("RenderingInfo.#attributes.Culture"),
        Some(&s("fr-FR"))
    );

    let e = &events[1];
    assert_eq!(e.get("SubjectUserName"), Some(&s("adm.tech01")));
    assert_eq!(e.get("xmlns"), None);

    let e = &events[2];
    assert_eq!(e.event_id, Some(7045));
    assert_eq!(e.get("EventID_Qualifiers"), Some(&Value::Int(16384)));
    assert_eq!(e.get("ServiceName"), Some(&s("PSEXESVC")));
}
