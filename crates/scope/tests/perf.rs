//! Cost of the scope per event (run: `cargo test --release -p vigie-scope
//! --test perf -- --ignored --nocapture`). Not a pass/fail benchmark; it
//! prints ns/event for the report and checks the result is sane.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use vigie_event::{Event, Locator, Origin};
use vigie_scope::*;

#[test]
#[ignore]
fn observe_cost_per_event() {
    let n = 1_000_000u64;
    let src: Arc<str> = Arc::from("perf.evtx");
    let t0 = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
    let only: Option<u64> = std::env::var("MIX").ok().and_then(|v| v.parse().ok());
    let make = |i: u64| -> Event {
        let mut e = Event::new(Origin {
            source: src.clone(),
            locator: Locator::Record(i),
        });
        e.timestamp = Some(t0 + Duration::milliseconds(i as i64 * 500));
        let pc = format!("PC-{:03}.ccpab.local", i % 200);
        match only.unwrap_or(i % 10) {
            0..=1 => {
                e.computer = Some(format!("SRV-{:02}.ccpab.local", i % 5).into());
                e.channel = Some("Security".into());
                e.event_id = Some(4624);
                e.push("TargetUserName", format!("agent.{}", i % 200));
                e.push("LogonType", "3");
                e.push(
                    "IpAddress",
                    format!("10.10.{}.{}", (i % 200) / 100, i % 100),
                );
                e.push("WorkstationName", format!("PC-{:03}", i % 200));
            }
            2 => {
                e.computer = Some(pc.into());
                e.channel = Some("Microsoft-Windows-Sysmon/Operational".into());
                e.event_id = Some(1);
                e.push("Image", "C:\\Windows\\System32\\svchost.exe");
                e.push("CommandLine", "svchost.exe -k netsvcs");
                e.push("ProcessGuid", format!("{{G-{i}}}"));
                e.push("ParentProcessGuid", "{G-SERVICES}");
                e.push("User", "NT AUTHORITY\\SYSTEM");
            }
            3 => {
                e.computer = Some(pc.into());
                e.channel = Some("Microsoft-Windows-Sysmon/Operational".into());
                e.event_id = Some(3);
                e.push("Image", "C:\\Program Files\\Browser\\browser.exe");
                e.push("SourceIp", format!("10.10.0.{}", i % 200));
                e.push("DestinationIp", "192.0.2.10");
                e.push("DestinationPort", 443i64);
            }
            _ => {
                e.computer = Some(pc.into());
                e.channel = Some("Security".into());
                e.event_id = Some(4634);
                e.push("TargetUserName", "agent");
            }
        }
        e.record_id = Some(i / 200);
        e
    };
    // A window of 10,000 events observed 100 times: the window stays in
    // cache, as an event does between its parsing, its matching and the
    // scope in the hunt; aggregates (links, coverage) are hit repeatedly
    // as in real logs.
    let window: Vec<Event> = (0..10_000).map(make).collect();
    let mut o = Observer::new(Arc::new(Assets::default()));
    let start = Instant::now();
    for _ in 0..(n / 10_000) {
        for e in &window {
            o.observe(e, &[]);
        }
    }
    let observe = start.elapsed();
    let start = Instant::now();
    let s = o.finish(&[], Lang::En);
    let finish = start.elapsed();
    println!(
        "{n} events: observe {:.0} ns/event ({observe:?}), finish {finish:?}; {} links, {} channels",
        observe.as_nanos() as f64 / n as f64,
        s.links.len(),
        s.coverage.channels.len()
    );
    assert!(!s.links.is_empty() || only.is_some());
    assert!(s.incidents.is_empty());
}
