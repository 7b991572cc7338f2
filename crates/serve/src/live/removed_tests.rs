//! What retention removed from the log, the live scope forgets: its
//! detections, the correlations they fired and the inputs still held —
//! and the scope is then the one a restart (which reads the log as it
//! is) gives, said in a caveat.
use super::horizon_tests::{count, engine_of, failed, failed_event, fired, scope, RULES};
use super::*;

fn held(live: &LiveScope, kind: &str) -> usize {
    live.held().into_iter().find(|(k, _)| *k == kind).unwrap().1
}

#[test]
fn what_retention_removed_the_live_scope_forgets_as_a_restart_would() {
    // The failed logons are detections of their own too (`generate`).
    let engine =
        engine_of(&RULES.replace("  timespan: 10m\n", "  timespan: 10m\n  generate: true\n"));
    let e = engine.as_ref().as_ref().unwrap();
    let (running, restarted) = (scope(&engine, Some(48)), scope(&engine, Some(48)));
    // Positions 1 to 5, removed later: bob's three failures (a
    // correlation), dave's two.
    for (n, minutes, user) in [
        (1, 0, "bob"),
        (2, 4, "bob"),
        (3, 8, "bob"),
        (4, 60, "dave"),
        (5, 61, "dave"),
    ] {
        failed(&[&running], e, n, minutes, user);
    }
    running.answer("default").unwrap();
    // Two days later, carol's three (kept): bob's inputs are settled
    // into the correlator past the line, dave's still held.
    for (n, minutes) in [(10, 48 * 60 + 20), (11, 48 * 60 + 21), (12, 48 * 60 + 22)] {
        failed(&[&running, &restarted], e, n, minutes, "carol");
    }
    let before = running.answer("default").unwrap();
    assert_eq!(fired(&before).len(), 2, "{:?}", fired(&before));
    assert_eq!(held(&running, "detections"), 8);
    assert_eq!(
        held(&running, "correlation_events"),
        5,
        "dave's and carol's"
    );

    // Retention removed the segments holding positions 0 to 9.
    let f = running.forget_removed(10);
    // Bob's correlation is not judged yet (its window closes when a
    // later input moves the correlator's clock): not counted here.
    assert_eq!(f.facts.detections, 5, "bob's three, dave's two");
    assert_eq!(f.facts.facts, 0);
    assert_eq!(f.correlation_inputs, 2, "dave's, not settled yet");
    assert_eq!(count(&running, "removed_detections"), 5);
    assert_eq!(count(&running, "removed_correlation"), 2);
    assert_eq!(held(&running, "detections"), 3);
    assert_eq!(held(&running, "correlation_events"), 3);

    // Derived again though no event came, and as a restart gives it.
    let after = running.answer("default").unwrap();
    let again = restarted.answer("default").unwrap();
    assert_eq!(fired(&after), fired(&again));
    assert_eq!(fired(&after).len(), 1);
    assert!(fired(&after)[0].contains("carol"), "{:?}", fired(&after));
    let json = |a: &Answer| {
        serde_json::to_value((&a.scope.detections, &a.scope.incidents, &a.scope.processes)).unwrap()
    };
    assert_eq!(json(&after), json(&again));
    assert_ne!(json(&after), json(&before));
    let said: Vec<&String> = after
        .scope
        .caveats
        .iter()
        .filter(|c| c.contains("retention removed"))
        .collect();
    assert_eq!(said.len(), 1, "{:?}", after.scope.caveats);
    assert!(
        said[0].contains("forgotten: 5 detection(s) (correlations included), 0 other fact(s) (processes, services, tasks, VPN sessions…) and 2 event(s) that awaited correlation."),
        "{}",
        said[0]
    );

    // Nothing more below the same line: nothing more forgotten.
    assert!(running.forget_removed(10).is_empty());
    // A retro-hunt's late detection on an event removed meanwhile is not
    // kept (counted); one on a kept event is.
    let (gone, m) = failed_event(e, 4, 60, "dave");
    running.observe_late("default", &gone, &m);
    assert_eq!(count(&running, "removed_detections"), 6);
    assert_eq!(held(&running, "detections"), 3);
    let (kept, m) = failed_event(e, 11, 48 * 60 + 21, "carol");
    running.observe_late("default", &kept, &m);
    assert_eq!(held(&running, "detections"), 4);
    // Two days on, bob's window is judged as the line passes it: not
    // fired, counted then.
    failed(&[&running, &restarted], e, 20, 97 * 60, "erin");
    restarted.observe_late("default", &kept, &m);
    let later = running.answer("default").unwrap();
    assert_eq!(count(&running, "removed_detections"), 7);
    assert_eq!(fired(&later), fired(&restarted.answer("default").unwrap()));
    assert!(
        later
            .scope
            .caveats
            .iter()
            .any(|c| c.contains("forgotten: 6 detection(s) (correlations included), 0 other fact(s) (processes, services, tasks, VPN sessions…) and 2 event(s)")),
        "{:?}",
        later.scope.caveats
    );

    let fr = Forgot {
        removed: vigie_scope::RemovedFacts {
            detections: 6,
            facts: 2,
        },
        ..Forgot::default()
    };
    let said = fr.removed_caveat(Lang::Fr).unwrap();
    assert!(
        said.starts_with("Périmètre en direct : la rétention a retiré du journal des événements anciens, et ce qui en venait est oublié : 6 détection(s) (corrélations comprises), 2 autre(s) fait(s) (processus, services, tâches, sessions VPN…) et 0 événement(s) qui attendaient d'être corrélés."),
        "{said}"
    );
    assert!(
        said.contains("des incidents qu'un redémarrage ne montrerait pas"),
        "{said}"
    );
    assert_eq!(Forgot::default().removed_caveat(Lang::Fr), None);
}

/// A correlation already fired and settled when retention removes its
/// events goes with them at once (counted then), and one whose events are
/// kept stays.
#[test]
fn a_settled_correlation_goes_with_its_removed_events() {
    let engine = engine_of(RULES);
    let e = engine.as_ref().as_ref().unwrap();
    let (running, restarted) = (scope(&engine, Some(48)), scope(&engine, Some(48)));
    // Bob's three failures (positions 1 to 3), then zoe's three an hour
    // later (kept): zoe's move the correlator's clock past bob's window.
    for (n, minutes, user) in [(1, 0, "bob"), (2, 4, "bob"), (3, 8, "bob")] {
        failed(&[&running], e, n, minutes, user);
    }
    for (n, minutes) in [(10, 60), (11, 61), (12, 62)] {
        failed(&[&running, &restarted], e, n, minutes, "zoe");
    }
    // Two days later: everything above is settled, bob's firing kept.
    failed(&[&running, &restarted], e, 20, 48 * 60 + 90, "erin");
    let before = running.answer("default").unwrap();
    assert_eq!(fired(&before).len(), 2, "{:?}", fired(&before));
    assert_eq!(count(&running, "correlation_events"), 6);
    let f = running.forget_removed(10);
    assert_eq!(f.facts.detections, 1, "bob's correlation, settled");
    assert_eq!(f.correlation_inputs, 0);
    let after = running.answer("default").unwrap();
    assert_eq!(fired(&after), fired(&restarted.answer("default").unwrap()));
    assert_eq!(fired(&after).len(), 1);
    assert!(fired(&after)[0].contains("zoe"), "{:?}", fired(&after));
}
