//! Syslog (RFC 3164, RFC 5424) and FortiGate key=value reading.

use std::path::{Path, PathBuf};

use vigie_event::{Locator, Value};
use vigie_source::{read_all_with, read_bytes, sniff, Format, ReadOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn iso(e: &vigie_event::Event) -> String {
    e.timestamp.map(|t| t.to_rfc3339()).unwrap_or_default()
}

fn year(y: i32) -> ReadOptions {
    ReadOptions {
        syslog_year: Some(y),
        ..Default::default()
    }
}

#[test]
fn rfc3164_headers_tags_and_year_inference() {
    let path = fixture("rfc3164.log");
    assert_eq!(sniff(&path).unwrap(), Format::Syslog);
    // Reference: the log was collected on 2026-01-12.
    let opts = ReadOptions {
        reference_time: vigie_source::parse_timestamp("2026-01-12T08:00:00Z"),
        ..Default::default()
    };
    let (events, report) = read_all_with(&path, &opts);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 5);

    let e = &events[0];
    assert_eq!(e.origin.locator, Locator::Line(1));
    assert_eq!(iso(e), "2026-01-09T02:10:03+00:00");
    assert_eq!(e.get("facility"), Some(&Value::Int(4)));
    assert_eq!(e.get("severity"), Some(&Value::Int(6)));
    assert_eq!(e.computer.as_deref(), Some("srv-web01"));
    assert_eq!(e.provider.as_deref(), Some("sshd"));
    assert_eq!(e.channel.as_deref(), Some("syslog"));
    assert_eq!(e.event_id, None);
    assert_eq!(e.get("procid"), Some(&s("4242")));
    assert!(e.get_str("message").unwrap().starts_with("Failed password"));

    assert_eq!(events[1].get("appname"), Some(&s("CRON")));
    assert_eq!(events[1].get("facility"), None);
    // December, in a file collected in January: the previous year.
    assert_eq!(iso(&events[2]), "2025-12-31T23:59:59+00:00");
    assert_eq!(events[2].origin.locator, Locator::Line(4));
    // A continuation line: kept, as a message-only event.
    assert_eq!(events[3].timestamp, None);
    assert_eq!(
        events[3].get_str("message"),
        Some("\tat org.example.Foo.bar(Foo.java:42)")
    );
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("without a recognisable syslog header")));
    assert!(report.notes.iter().any(|n| n.contains("2026")));
    // ISO timestamps with an offset.
    assert_eq!(iso(&events[4]), "2026-01-09T01:11:00.250+00:00");
    assert_eq!(events[4].provider.as_deref(), Some("nginx"));
    assert_eq!(
        report.first.unwrap().to_rfc3339(),
        "2025-12-31T23:59:59+00:00"
    );

    // An explicit year wins, and local time is read in the given zone.
    let opts = ReadOptions {
        syslog_year: Some(2024),
        input_zone: Some("Europe/Paris".parse().unwrap()),
        ..Default::default()
    };
    let (events, _) = read_all_with(&path, &opts);
    assert_eq!(iso(&events[0]), "2024-01-09T01:10:03+00:00");
    assert_eq!(iso(&events[2]), "2024-12-31T22:59:59+00:00");
}

#[test]
fn rfc5424_with_structured_data_and_nil_values() {
    let (events, report) = read_all_with(&fixture("rfc5424.log"), &year(2026));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 3);
    let e = &events[0];
    assert_eq!(iso(e), "2026-01-09T01:10:03.003+00:00");
    assert_eq!(e.get("facility"), Some(&Value::Int(20)));
    assert_eq!(e.get("severity"), Some(&Value::Int(5)));
    assert_eq!(e.computer.as_deref(), Some("fw01.ccpab.local"));
    assert_eq!(e.provider.as_deref(), Some("vpnd"));
    assert_eq!(e.get("procid"), Some(&s("1234")));
    assert_eq!(e.get("msgid"), Some(&s("ID47")));
    assert_eq!(e.get("exampleSDID@32473.iut"), Some(&s("3")));
    assert_eq!(
        e.get("exampleSDID@32473.eventSource"),
        Some(&s("Appli\"cation"))
    );
    assert_eq!(e.get("meta.seq"), Some(&s("1")));
    // The BOM before the message is dropped.
    assert_eq!(e.get("message"), Some(&s("An application event entry")));

    let e = &events[1];
    assert_eq!(e.timestamp, None);
    assert_eq!(e.computer, None);
    assert_eq!(e.get("hostname"), None);
    assert_eq!(e.get("message"), Some(&s("")));

    let e = &events[2];
    assert_eq!(e.computer.as_deref(), Some("dc01"));
    assert_eq!(
        e.get("message"),
        Some(&s("plain message, no structured data"))
    );
}

#[test]
fn fortigate_plain_key_values() {
    let path = fixture("fortigate.log");
    assert_eq!(sniff(&path).unwrap(), Format::Syslog);
    let (events, report) = read_all_with(&path, &ReadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 3);
    let e = &events[0];
    // eventtime (ns) wins over date/time.
    assert_eq!(iso(e), "2026-01-03T01:10:03.123456789+00:00");
    assert_eq!(e.computer.as_deref(), Some("FW01"));
    assert_eq!(e.provider.as_deref(), Some("fortigate"));
    assert_eq!(e.channel.as_deref(), Some("syslog"));
    assert_eq!(e.get("action"), Some(&s("ssl-login-fail")));
    assert_eq!(e.get("user"), Some(&s("presta.maint")));
    assert_eq!(e.get("remip"), Some(&s("203.0.113.45")));
    assert_eq!(e.get("logid"), Some(&s("0101039426")));
    assert_eq!(e.get("logdesc"), Some(&s("SSL VPN login fail")));
    // date + time + tz.
    assert_eq!(iso(&events[1]), "2026-01-03T01:10:41+00:00");
    assert_eq!(events[1].get("tunnelip"), Some(&s("10.212.134.11")));
    // No tz: the local offset option (default UTC).
    assert_eq!(iso(&events[2]), "2026-01-03T02:11:00+00:00");
    assert_eq!(
        events[2].get("sentbyte").and_then(Value::as_i64),
        Some(5120)
    );
}

#[test]
fn fortigate_behind_a_syslog_header() {
    let (events, report) = read_all_with(&fixture("fortigate_syslog.log"), &year(2026));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(e.computer.as_deref(), Some("FW01"));
        assert_eq!(e.provider.as_deref(), Some("fortigate"));
        assert_eq!(e.get("facility"), Some(&Value::Int(23)));
        assert_eq!(e.get("action"), Some(&s("ssl-login-fail")));
    }
    assert_eq!(events[0].get("hostname"), Some(&s("FW01")));
    assert_eq!(iso(&events[0]), "2026-01-03T02:10:03+00:00");
    assert_eq!(iso(&events[1]), "2026-01-03T02:10:05+00:00");
}

#[test]
fn binary_lines_are_reported() {
    let data = b"<13>Jan  9 02:10:03 h app: ok\n<13>Jan  9 02:10:04 h app: bad\x00\x01\n<13>Jan  9 02:10:05 h app: ok again\n";
    let (events, report) = read_bytes("x.log", data, &year(2026));
    assert_eq!(events.len(), 2);
    assert_eq!(report.records_skipped, 1);
    assert_eq!(report.errors[0].place, vigie_source::Place::Line(2));
}

/// A syslog line from a sender set to Latin-1 (every accent one byte):
/// its bytes outside UTF-8 read as Windows-1252, as JSON lines are, not
/// lost to U+FFFD; counted in the report and said in its notes.
#[test]
fn a_line_not_in_utf8_keeps_its_accents() {
    let mut text = Vec::new();
    text.extend_from_slice(b"<86>Jan 17 08:30:00 srv-web sshd[412]: Failed password for r\xe9mi from 203.0.113.9 port 52144 ssh2\n");
    text.extend_from_slice(b"<86>Jan 17 08:30:05 srv-web sshd[412]: Accepted password for st\xc3\xa9phane from 10.0.0.5 port 52150 ssh2\n");
    // UTF-8 cut inside its last character (a datagram's size): that
    // character lost, not read as another character set nor counted.
    text.extend_from_slice(
        b"<86>Jan 17 08:30:09 srv-web sshd[412]: session opened for st\xc3\xa9phane, r\xc3\n",
    );
    // Latin-1 ending in an accent (a byte that begins UTF-8 sequences):
    // Latin-1, counted.
    text.extend_from_slice(
        b"<86>Jan 17 08:30:12 srv-web sshd[412]: password changed for andr\xe9\n",
    );
    let (events, report) = read_bytes("auth.log", &text, &year(2026));
    assert_eq!(events.len(), 4, "{:?}", report.errors);
    assert_eq!(
        events[2].get("message").cloned(),
        Some(s("session opened for stéphane, r\u{FFFD}"))
    );
    assert_eq!(
        events[3].get("message").cloned(),
        Some(s("password changed for andré"))
    );
    // What a page shows of the stored lines is what was read.
    assert_eq!(
        vigie_source::text_as_read(b"cut st\xc3\xa9phane, r\xc3"),
        "cut stéphane, r\u{FFFD}"
    );
    assert_eq!(vigie_source::text_as_read(b"andr\xe9"), "andré");
    let message = |e: &vigie_event::Event| e.get("message").cloned();
    assert_eq!(
        message(&events[0]),
        Some(s(
            "Failed password for rémi from 203.0.113.9 port 52144 ssh2"
        ))
    );
    // Valid UTF-8 stays as it is.
    assert_eq!(
        message(&events[1]),
        Some(s(
            "Accepted password for stéphane from 10.0.0.5 port 52150 ssh2"
        ))
    );
    assert_eq!(report.records_not_utf8, 2);
    // Said once, whole: the line counted, what was done, what to change.
    let said: Vec<&String> = report
        .notes
        .iter()
        .filter(|n| n.contains("UTF-8"))
        .collect();
    assert_eq!(
        said,
        ["2 line(s) not in UTF-8 (the first: line 1): their bytes outside UTF-8 read as Windows-1252 — the sender's character set; set it to UTF-8 (NXLog: xm_charconv's convert_fields)"]
    );
}
