//! Coverage-guided fuzzing of the rule loader and of evaluation.
//!
//! The input is split at the first NUL byte: before it, rule text for
//! `load_str`; after it, `name=value` lines that become one event. The
//! properties are those of `tests/fuzz.rs`: no panic, every failure has a
//! reason, and the prefilter and logsource index never change a result.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vigie_detect::{load_str, Engine, LoadOptions, Match};
use vigie_event::{Event, Locator, Origin, Value};

fn ids(v: &[Match]) -> Vec<String> {
    let mut x: Vec<String> = v.iter().map(|m| format!("{:?}", m.rule.id)).collect();
    x.sort();
    x
}

fuzz_target!(|data: &[u8]| {
    let (rules, fields) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(rules) else {
        return;
    };
    let (set, report) = load_str(text, Path::new("fuzz.yml"), &LoadOptions::default());
    assert!(report.failures.iter().all(|f| !f.reason.is_empty()));
    let (engine, fails) = Engine::compile(set);
    assert!(fails.iter().all(|f| !f.reason.is_empty()));

    let mut ev = Event::new(Origin {
        source: Arc::from("fuzz"),
        locator: Locator::None,
    });
    for line in String::from_utf8_lossy(fields).lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        let value = match v.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::from(v),
        };
        match k {
            "Channel" => ev.channel = Some(v.into()),
            "EventID" => ev.event_id = v.parse().ok(),
            _ => {}
        }
        ev.push(k, value);
    }
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    engine.evaluate(&ev, &mut a);
    engine.evaluate_unfiltered(&ev, &mut b);
    engine.evaluate_everything(&ev, &mut c);
    let (a, b, c) = (ids(&a), ids(&b), ids(&c));
    assert_eq!(a, b, "the literal prefilter changed the result");
    assert!(a.iter().all(|x| c.contains(x)), "the logsource index added a match");
});
