//! The horizon of correlation inputs: settled into a kept correlator
//! only once older than the newest less the longest timespan and the
//! horizon; the correlations are then those of one run over every
//! input (as `hunt` gives them), a burst across the line included.
use super::*;
use chrono::TimeZone;

const RULES: &str = "title: Failed logon
id: 0b6f4c1e-7d5a-4b7e-9a51-2f4c8e1d0001
status: test
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4625
  condition: sel
level: low
---
title: Failed logons of one account
id: 0b6f4c1e-7d5a-4b7e-9a51-2f4c8e1d0002
status: test
correlation:
  type: event_count
  rules:
    - 0b6f4c1e-7d5a-4b7e-9a51-2f4c8e1d0001
  group-by:
    - TargetUserName
  timespan: 10m
  condition:
    gte: 3
level: high
";

pub(super) fn engine() -> Arc<Option<Engine>> {
    let (set, report) = vigie_detect::load_str(
        RULES,
        std::path::Path::new("test.yml"),
        &vigie_detect::LoadOptions::default(),
    );
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let (engine, failures) = Engine::compile(set);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(engine.stats().correlation_rules, 1);
    Arc::new(Some(engine))
}

/// A scope with the default horizon (48 h) and its receipt hold, as
/// `serve` runs it.
pub(super) fn as_served(engine: &Arc<Option<Engine>>) -> LiveScope {
    unbounded(engine).with_horizon(std::time::Duration::from_secs(48 * 3600))
}

/// A scope without a horizon (everything kept, as `hunt`).
fn unbounded(engine: &Arc<Option<Engine>>) -> LiveScope {
    LiveScope::new(
        Arc::new(Assets::default()),
        engine.clone(),
        Lang::En,
        Zone::Utc,
        None,
    )
    .unwrap()
}

fn scope(engine: &Arc<Option<Engine>>, horizon: Option<u64>) -> LiveScope {
    let live = unbounded(engine)
        // Held by age only: no receipt hold (the events are observed a
        // moment before they are settled).
        .with_held_after_receipt(chrono::TimeDelta::zero());
    match horizon {
        Some(h) => live.with_horizon(std::time::Duration::from_secs(h * 3600)),
        None => live,
    }
}

pub(super) fn at(minutes: i64) -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap()
        + chrono::TimeDelta::minutes(minutes)
}

/// A failed logon of `user` at `at(minutes)`, judged by the engine and
/// observed by every scope.
fn failed(scopes: &[&LiveScope], engine: &Engine, n: u64, minutes: i64, user: &str) {
    let (e, m) = failed_logon(engine, n, minutes, user);
    for s in scopes {
        s.observe("default", &e, &m);
    }
}

/// A failed logon of `user` at `at(minutes)` (record `n`), and its
/// matches.
pub(super) fn failed_logon(
    engine: &Engine,
    n: u64,
    minutes: i64,
    user: &str,
) -> (Event, Vec<Match>) {
    let mut e = Event::new(vigie_event::Origin {
        source: Arc::from("test"),
        locator: vigie_event::Locator::Record(n),
    });
    e.timestamp = Some(at(minutes));
    e.computer = Some("DC01.ccpab.local".into());
    e.channel = Some("Security".into());
    e.event_id = Some(4625);
    e.record_id = Some(n);
    e.push("EventID", 4625i64);
    e.push("Channel", "Security");
    e.push("TargetUserName", user);
    let mut m = Vec::new();
    engine.evaluate(&e, &mut m);
    assert!(!m.is_empty(), "the failed logon matches");
    (e, m)
}

pub(super) fn fired(a: &Answer) -> Vec<String> {
    a.correlations
        .iter()
        .map(|c| format!("{} {:?} {} {}", c.rule.title, c.group, c.first, c.last))
        .collect()
}

fn count(live: &LiveScope, kind: &str) -> u64 {
    live.evicted()
        .into_iter()
        .find(|(k, _)| *k == kind)
        .unwrap()
        .1
}

#[test]
fn correlation_inputs_go_once_final_and_a_burst_across_the_line_still_fires() {
    let engine = engine();
    let e = engine.as_ref().as_ref().unwrap();
    let (bounded, whole) = (scope(&engine, Some(48)), scope(&engine, None));
    let both = [&bounded, &whole];
    // bob fails three times in 8 minutes: one correlation, fired at
    // the third.
    failed(&both, e, 1, 0, "bob");
    failed(&both, e, 2, 4, "bob");
    failed(&both, e, 3, 8, "bob");
    let first = bounded.answer("default").unwrap();
    assert_eq!(fired(&first).len(), 1);
    // Nothing is old enough yet: every input is held.
    assert_eq!(count(&bounded, "correlation_events"), 0);
    // Two days, 10 minutes and 6 more later, carol: the line (newest
    // less the 10-minute timespan and the 48-hour horizon) falls
    // between bob's second and third failures.
    failed(&both, e, 4, 48 * 60 + 16, "carol");
    let a = bounded.answer("default").unwrap();
    assert_eq!(count(&bounded, "correlation_events"), 2);
    let held: usize = bounded
        .held()
        .into_iter()
        .find(|(k, _)| *k == "correlation_events")
        .unwrap()
        .1;
    assert_eq!(held, 2, "bob's third and carol's");
    assert_eq!(fired(&a), fired(&whole.answer("default").unwrap()));
    assert_eq!(fired(&a), fired(&first));
    // carol fails twice more: a second correlation, as without the
    // horizon; the first stays.
    failed(&both, e, 5, 48 * 60 + 17, "carol");
    failed(&both, e, 6, 48 * 60 + 18, "carol");
    let a = bounded.answer("default").unwrap();
    assert_eq!(fired(&a).len(), 2, "{:?}", fired(&a));
    assert_eq!(fired(&a), fired(&whole.answer("default").unwrap()));
    assert_eq!(count(&bounded, "correlation_late"), 0);
    // An input two days late (before what was settled): counted, not
    // correlated, nothing else changed.
    failed(&both, e, 7, 1, "dave");
    let a = bounded.answer("default").unwrap();
    assert_eq!(count(&bounded, "correlation_late"), 1);
    assert_eq!(fired(&a), fired(&whole.answer("default").unwrap()));
}

/// A backlog sent host by host (the day shippers are installed): an
/// account's failures of three days before come after the newest
/// events; with the inputs of a commune all held (the default), they
/// are correlated as `hunt` correlates them, none counted late.
#[test]
fn a_backlog_days_behind_is_correlated_like_hunt() {
    let engine = engine();
    let e = engine.as_ref().as_ref().unwrap();
    let held = as_served(&engine);
    let whole = scope(&engine, None);
    let both = [&held, &whole];
    // The newest hosts first: carol's failures of days 3 and 6 (with
    // a horizon at work, day 3's would be settled past it).
    failed(&both, e, 1, 72 * 60, "carol");
    failed(&both, e, 5, 144 * 60, "carol");
    let _ = held.answer("default").unwrap();
    for (n, minutes) in [(2, 0), (3, 3), (4, 6)] {
        failed(&both, e, n, minutes, "bob");
    }
    let a = held.answer("default").unwrap();
    assert_eq!(fired(&a).len(), 1, "{:?}", fired(&a));
    assert_eq!(fired(&a), fired(&whole.answer("default").unwrap()));
    assert_eq!(count(&held, "correlation_late"), 0);
    // Held by their receipt (a moment ago), not by a count: none settled
    // though days apart in event time, and nothing said forgotten.
    assert_eq!(count(&held, "correlation_events"), 0);
    assert!(a.scope.caveats.iter().all(|c| !c.contains("horizon")));
}

/// The same backlog with no receipt hold: days behind in event time, the
/// second host's inputs come after the line has passed them. They are
/// counted late, and the scope says so (never a quiet "no correlation").
#[test]
fn inputs_past_the_line_by_age_are_late_and_the_scope_says_it() {
    let engine = engine();
    let e = engine.as_ref().as_ref().unwrap();
    let live = scope(&engine, Some(48));
    failed(&[&live], e, 1, 72 * 60, "carol");
    failed(&[&live], e, 5, 144 * 60, "carol");
    let _ = live.answer("default").unwrap();
    for (n, minutes) in [(2, 0), (3, 3), (4, 6)] {
        failed(&[&live], e, n, minutes, "bob");
    }
    let a = live.answer("default").unwrap();
    // Day 3's input went by age (the line is day 6 less 48 h and 10 min).
    assert_eq!(
        count(&live, "correlation_events"),
        4,
        "{:?}",
        live.evicted()
    );
    assert_eq!(count(&live, "correlation_late"), 3);
    assert!(fired(&a).is_empty(), "{:?}", fired(&a));
    let said: Vec<&String> = a
        .scope
        .caveats
        .iter()
        .filter(|c| c.contains("forgotten by the horizon"))
        .collect();
    assert_eq!(said.len(), 1, "{:?}", a.scope.caveats);
    assert!(
        said[0].contains("3 events received more than 48 h after newer ones, not correlated"),
        "{}",
        said[0]
    );
}

/// Failed logons dated a year ahead (a host's clock, a forged event) are
/// held the hold after their receipt, then forgotten — counted, said in
/// the scope — rather than held for ever; within the hold they are
/// correlated with their own time.
#[test]
fn inputs_dated_in_the_future_go_their_hold_after_receipt() {
    let engine = engine();
    let e = engine.as_ref().as_ref().unwrap();
    let ahead = chrono::Utc::now() + chrono::TimeDelta::days(365);
    let run = |live: LiveScope| {
        for n in 0..3 {
            let t = ahead + chrono::TimeDelta::minutes(n);
            failed_on(&live, e, n as u64 + 1, t, "PC-HORLOGE", "mallory");
        }
        let a = live.answer("default").unwrap();
        (live, a)
    };
    // Received a moment ago, held 48 h: correlated, nothing forgotten.
    let held = LiveScope::new(
        Arc::new(Assets::default()),
        engine.clone(),
        Lang::Fr,
        Zone::Utc,
        None,
    )
    .unwrap()
    .with_horizon(std::time::Duration::from_secs(48 * 3600));
    let (held, a) = run(held);
    assert_eq!(fired(&a).len(), 1, "{:?}", fired(&a));
    assert_eq!(count(&held, "correlation_future"), 0);
    assert!(a.scope.caveats.iter().all(|c| !c.contains("horizon")));
    // The hold passed (zero here): forgotten, not correlated, counted,
    // and said in the scope's language.
    let (gone, a) = run(scope(&engine, Some(48)));
    assert!(fired(&a).is_empty(), "{:?}", fired(&a));
    assert_eq!(count(&gone, "correlation_future"), 3);
    assert_eq!(count(&gone, "correlation_events"), 0);
    let held_now: usize = gone
        .held()
        .into_iter()
        .find(|(k, _)| *k == "correlation_events")
        .unwrap()
        .1;
    assert_eq!(held_now, 0);
    assert!(
        a.scope
            .caveats
            .iter()
            .any(|c| c.contains("3 facts dated in the future, kept 48 h after their receipt")),
        "{:?}",
        a.scope.caveats
    );
    let fr = Forgot {
        process_creations: 12,
        correlation_future: 3,
        ..Forgot::default()
    };
    let said = fr.caveat(Lang::Fr, chrono::TimeDelta::hours(48)).unwrap();
    assert!(said.starts_with("Périmètre en direct : oubliés par l'horizon — 12 créations de processus plus anciennes que l'horizon de 48 h"), "{said}");
    assert!(
        said.contains("3 faits datés dans le futur, gardés 48 h après leur réception"),
        "{said}"
    );
    assert_eq!(
        Forgot::default().caveat(Lang::Fr, chrono::TimeDelta::hours(48)),
        None
    );
}

/// A failed logon of `user` on `host` at `time` (near now: the live
/// scope compares event times with its receipt).
fn failed_on(live: &LiveScope, engine: &Engine, n: u64, time: Timestamp, host: &str, user: &str) {
    let mut e = Event::new(vigie_event::Origin {
        source: Arc::from("test"),
        locator: vigie_event::Locator::Record(n),
    });
    e.timestamp = Some(time);
    e.computer = Some(host.into());
    e.channel = Some("Security".into());
    e.event_id = Some(4625);
    e.record_id = Some(n);
    e.push("EventID", 4625i64);
    e.push("Channel", "Security");
    e.push("TargetUserName", user);
    let mut m = Vec::new();
    engine.evaluate(&e, &mut m);
    live.observe("default", &e, &m);
}

/// One event dated a year ahead must not move the horizon's line: the
/// failed logons of a host two minutes behind another still correlate
/// (none dropped as late), as in the same run without that event.
#[test]
fn an_event_dated_in_the_future_does_not_collapse_the_horizon() {
    let engine = engine();
    let e = engine.as_ref().as_ref().unwrap();
    let now = chrono::Utc::now();
    let run = |future: bool| {
        let live = scope(&engine, Some(48));
        failed_on(
            &live,
            e,
            1,
            now - chrono::TimeDelta::minutes(1),
            "DC01",
            "carol",
        );
        if future {
            let ahead = now + chrono::TimeDelta::days(365);
            failed_on(&live, e, 2, ahead, "PC-HORLOGE", "mallory");
        }
        // An answer settles what is below the line.
        live.answer("default").unwrap();
        // Another host's failures, two minutes behind DC01's.
        let behind = now - chrono::TimeDelta::minutes(3);
        failed_on(&live, e, 3, behind, "SRV-FICHIERS", "carol");
        failed_on(
            &live,
            e,
            4,
            behind + chrono::TimeDelta::seconds(30),
            "SRV-FICHIERS",
            "carol",
        );
        let a = live.answer("default").unwrap();
        (live, a)
    };
    let (live, a) = run(true);
    assert_eq!(count(&live, "correlation_late"), 0);
    assert_eq!(count(&live, "correlation_events"), 0);
    assert_eq!(live.future_events(None), 1);
    assert_eq!(live.future_events(Some("default")), 1);
    assert_eq!(fired(&a).len(), 1, "{:?}", fired(&a));
    assert!(fired(&a)[0].contains("carol"), "{:?}", fired(&a));
    let (without, b) = run(false);
    assert_eq!(fired(&a), fired(&b));
    assert_eq!(without.future_events(None), 0);
}
