use std::sync::Arc;

use chrono::{Duration, NaiveDateTime, TimeZone, Utc};
use vigie_event::{Locator, Origin};

use super::*;

fn ev(host: &str) -> Event {
    let mut e = Event::new(Origin {
        source: Arc::from("t.json"),
        locator: Locator::None,
    });
    e.computer = Some(host.into());
    e
}

fn utc(s: &str) -> Timestamp {
    Utc.from_utc_datetime(&NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
}

fn naive(t: Timestamp) -> When {
    When::Naive(t.naive_utc())
}

/// NXLog-like: `EventTime` local (UTC-4, naive), Sysmon `UtcTime` exact.
fn nxlog(true_t: Timestamp, sysmon: bool) -> Stamp {
    let seen = naive(true_t - Duration::hours(4));
    Stamp {
        time: Some(seen),
        field: "EventTime",
        trusted: false,
        check: sysmon.then(|| Check {
            seen,
            seen_field: "EventTime",
            truth: true_t + Duration::milliseconds(430),
            truth_field: "Sysmon UtcTime",
            exact: true,
        }),
        fallback: None,
    }
}

fn run(clock: &mut Clock, items: Vec<(Event, Stamp)>) -> (Vec<Event>, Vec<String>) {
    let mut out = Vec::new();
    for (e, s) in items {
        if let Some(e) = clock.admit(e, s) {
            out.push(e);
        }
        if clock.must_release() {
            out.extend(clock.release());
        }
    }
    let mut notes = Vec::new();
    out.extend(clock.finish(&mut notes));
    (out, notes)
}

#[test]
fn an_offset_found_on_sysmon_events_corrects_every_event_of_the_computer() {
    let t0 = utc("2020-08-06 15:56:00");
    let mut items = Vec::new();
    for i in 0..20 {
        let t = t0 + Duration::seconds(i);
        // Every other record is Sysmon; the rest (Security) has no check.
        items.push((ev("WS5"), nxlog(t, i % 2 == 0)));
    }
    // A Sysmon network event whose UtcTime is the connection's time,
    // an hour and 7 minutes earlier: an outlier, left out.
    let mut out = nxlog(t0 + Duration::seconds(30), true);
    if let Some(c) = &mut out.check {
        c.truth -= Duration::minutes(67);
    }
    items.push((ev("WS5"), out));
    let (events, notes) = run(&mut Clock::new(None), items);
    for (i, e) in events.iter().take(20).enumerate() {
        assert_eq!(e.timestamp, Some(t0 + Duration::seconds(i as i64)));
    }
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("times of WS5 in this file were 4 h behind UTC (EventTime is local time without a zone); corrected using Sysmon UtcTime over 10 of 11 records"), "{notes:?}");
}

#[test]
fn a_computer_without_references_takes_the_offset_all_others_agree_on() {
    let t0 = utc("2020-08-06 15:56:00");
    let mut items: Vec<(Event, Stamp)> = (0..10)
        .map(|i| (ev("WS5"), nxlog(t0 + Duration::seconds(i), true)))
        .collect();
    items.push((ev("DC"), nxlog(t0 + Duration::seconds(50), false)));
    let (events, notes) = run(&mut Clock::new(None), items);
    assert_eq!(events[10].timestamp, Some(t0 + Duration::seconds(50)));
    assert!(
        notes.iter().any(|n| n.starts_with("times of DC (EventTime, local time without a zone) have no reference of their own; corrected by the offset all other computers of this file show (4 h behind UTC")),
        "{notes:?}"
    );
}

#[test]
fn ingestion_times_give_the_offset_despite_their_delay() {
    let t0 = utc("2020-09-22 18:53:00");
    let items = (0..10)
        .map(|i| {
            let t = t0 + Duration::seconds(i);
            let seen = naive(t - Duration::hours(4));
            // Logstash's @timestamp: 3 to 40 s later.
            let ingest = t + Duration::seconds(3 + 4 * i);
            (
                ev("DC"),
                Stamp {
                    time: Some(seen),
                    field: "EventTime",
                    check: Some(Check {
                        seen,
                        seen_field: "EventTime",
                        truth: ingest,
                        truth_field: "Logstash @timestamp",
                        exact: false,
                    }),
                    fallback: Some((ingest, "Logstash @timestamp")),
                    ..Stamp::default()
                },
            )
        })
        .collect();
    let (events, notes) = run(&mut Clock::new(None), items);
    assert_eq!(events[9].timestamp, Some(t0 + Duration::seconds(9)));
    assert!(notes[0].contains("corrected using Logstash @timestamp over 10 of 10"));
}

#[test]
fn too_little_evidence_falls_back_to_the_zone_bearing_time_and_says_so() {
    let t = utc("2020-09-22 18:53:00");
    let seen = naive(t - Duration::hours(4));
    let stamp = Stamp {
        time: Some(seen),
        field: "EventTime",
        check: None,
        fallback: Some((t + Duration::seconds(2), "Logstash @timestamp")),
        ..Stamp::default()
    };
    let (events, notes) = run(&mut Clock::new(None), vec![(ev("DC"), stamp.clone())]);
    assert_eq!(events[0].timestamp, Some(t + Duration::seconds(2)));
    assert!(
        notes[0].contains("timed by Logstash @timestamp"),
        "{notes:?}"
    );
    // A zone given by the user is believed instead.
    let zone: Zone = "America/New_York".parse().unwrap();
    let (events, notes) = run(&mut Clock::new(Some(zone)), vec![(ev("DC"), stamp)]);
    assert_eq!(events[0].timestamp, Some(t));
    assert!(
        notes[0].contains("read as America/New_York (as asked)"),
        "{notes:?}"
    );
}

/// A 12-hour clock without AM/PM (seen in OTRF's exports): two
/// offsets 12 h apart, each record placed by the nearest reference,
/// whatever the file order.
#[test]
fn two_offsets_twelve_hours_apart_place_each_record_by_its_nearest_reference() {
    let am = utc("2022-08-03 18:35:00"); // 11:35 PDT, written 11:35
    let pm = utc("2022-08-04 02:30:00"); // 19:30 PDT, written 07:30
    let written = |t: Timestamp, h: i64| naive(t - Duration::hours(h));
    let stamp = |t: Timestamp, h: i64, check: bool| {
        let seen = written(t, h);
        Stamp {
            time: Some(seen),
            field: "TimeCreated",
            check: check.then_some(Check {
                seen,
                seen_field: "TimeCreated",
                truth: t,
                truth_field: "Sysmon UtcTime",
                exact: true,
            }),
            ..Stamp::default()
        }
    };
    let mut items = Vec::new();
    // Security events first (no check), as exports grouped by channel.
    items.push((ev("P"), stamp(pm + Duration::seconds(5), 19, false)));
    items.push((ev("P"), stamp(am + Duration::seconds(5), 7, false)));
    for i in 0..30 {
        items.push((ev("P"), stamp(pm + Duration::seconds(i), 19, true)));
    }
    for i in 0..6 {
        items.push((ev("P"), stamp(am + Duration::seconds(i), 7, true)));
    }
    let (events, notes) = run(&mut Clock::new(None), items);
    assert_eq!(events[0].timestamp, Some(pm + Duration::seconds(5)));
    assert_eq!(events[1].timestamp, Some(am + Duration::seconds(5)));
    assert_eq!(events[35].timestamp, Some(am + Duration::seconds(3)));
    assert!(notes[0].contains("19 h behind UTC"), "{notes:?}");
    assert!(notes[0].contains("12-hour clock"), "{notes:?}");
    assert!(notes[0].contains("also seen: 7 h behind UTC"), "{notes:?}");
}

#[test]
fn a_trusted_time_disagreeing_with_its_reference_is_reported_not_corrected() {
    let t0 = utc("2026-01-09 01:00:00");
    let items = (0..6)
        .map(|i| {
            let t = t0 + Duration::seconds(i);
            let written = When::Utc(t + Duration::hours(2));
            (
                ev("SRV"),
                Stamp {
                    time: Some(written),
                    field: "@timestamp",
                    trusted: true,
                    check: Some(Check {
                        seen: written,
                        seen_field: "@timestamp",
                        truth: t,
                        truth_field: "Sysmon UtcTime",
                        exact: true,
                    }),
                    fallback: None,
                },
            )
        })
        .collect();
    let (events, notes) = run(&mut Clock::new(None), items);
    assert_eq!(events[0].timestamp, Some(t0 + Duration::hours(2)));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0],
        "conflicting times on SRV: @timestamp is 2 h ahead of Sysmon UtcTime over 6 of 6 records; @timestamp kept as written (it states its zone)"
    );
}

#[test]
fn holding_is_bounded_and_later_records_follow_the_offsets_found() {
    let t0 = utc("2020-08-06 12:00:00");
    let n = HOLD_LIMIT + 50;
    let items: Vec<(Event, Stamp)> = (0..n)
        .map(|i| {
            (
                ev("WS"),
                nxlog(t0 + Duration::milliseconds(i as i64 * 10), i % 3 == 0),
            )
        })
        .collect();
    let mut clock = Clock::new(None);
    let (events, notes) = run(&mut clock, items);
    assert_eq!(events.len(), n);
    assert_eq!(
        events[n - 1].timestamp,
        Some(t0 + Duration::milliseconds((n - 1) as i64 * 10))
    );
    assert!(notes
        .iter()
        .any(|x| x.contains("decided on the first 100000 records")));
}

/// Too few records for an offset: each Sysmon record is placed by its
/// own `UtcTime`; a memory carries the offset to a later read of the
/// same computer (a live stream, one event per read); a computer
/// nothing is known of is read as UTC and marked uncertain.
#[test]
fn lone_records_use_their_own_check_and_the_memory_carries_it() {
    let memory = ClockMemory::new().scoped("commune");
    let t = utc("2026-01-20 09:00:00");
    for i in 0..3 {
        let at = t + Duration::minutes(i);
        let (events, notes) = run(
            &mut Clock::new(None).with_memory(Some(memory.clone())),
            vec![(ev("WS"), nxlog(at, true))],
        );
        assert_eq!(events[0].timestamp, Some(at), "{notes:?}");
        assert!(!events[0].time_uncertain);
        assert!(
            notes[0].contains("were 4 h behind UTC: too few records here to find the offset; corrected 1 by its own reference time (Sysmon UtcTime)"),
            "{notes:?}"
        );
    }
    let later = t + Duration::minutes(10);
    let (events, notes) = run(
        &mut Clock::new(None).with_memory(Some(memory.clone())),
        vec![(ev("ws"), nxlog(later, false))],
    );
    assert_eq!(events[0].timestamp, Some(later), "{notes:?}");
    assert!(!events[0].time_uncertain);
    assert!(
        notes[0].contains("corrected 1 by the offset learned from earlier events of this computer"),
        "{notes:?}"
    );
    // Another commune's computer of the same name learned nothing.
    let (events, notes) = run(
        &mut Clock::new(None).with_memory(Some(memory.scoped("autre"))),
        vec![(ev("WS"), nxlog(later, false))],
    );
    assert_eq!(events[0].timestamp, Some(later - Duration::hours(4)));
    assert!(events[0].time_uncertain);
    assert!(notes[0].contains("marked uncertain"), "{notes:?}");
    assert_eq!(memory.len(), 1);
}
