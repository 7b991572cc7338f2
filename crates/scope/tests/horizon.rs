//! The live scope's horizon (`Observer::forget_older_than`): process
//! creations older than the horizon on their log's clock are forgotten and
//! counted, unless a detected process's lineage or a recent child keeps
//! them; a chain cut at the horizon says so; what `hunt` derives from the
//! rest does not change.

mod common;

use chrono::TimeDelta;
use common::*;
use vigie_detect::Level;
use vigie_scope::*;

const H48: TimeDelta = TimeDelta::hours(48);

/// A Sysmon process creation on PC-01.
fn proc(
    b: &mut B,
    time: chrono::DateTime<chrono::Utc>,
    guid: &str,
    image: &str,
    parent: (&str, &str),
) {
    b.ev(
        time,
        "PC-01",
        SYSMON,
        Some(1),
        &[
            ("ProcessGuid", guid),
            ("ProcessId", "1000"),
            ("Image", image),
            ("CommandLine", image),
            ("ParentProcessGuid", parent.0),
            ("ParentImage", parent.1),
            ("User", "CCPAB\\agent.a"),
        ],
    );
}

const WINLOGON: (&str, &str) = ("{w}", "C:\\Windows\\System32\\winlogon.exe");
const USERINIT: &str = "C:\\Windows\\System32\\userinit.exe";
const EXPLORER: &str = "C:\\Windows\\explorer.exe";
const CMD: &str = "C:\\Windows\\System32\\cmd.exe";

fn observe(b: &B, from: usize) -> Observer {
    let mut o = Observer::new(assets());
    for (e, m) in &b.events[from..] {
        o.observe(e, m);
    }
    o
}

/// `o` (its horizon passed) observes what `add` logs, flagged by a rule:
/// the scope then.
fn flag_later(b: &mut B, mut o: Observer, add: impl FnOnce(&mut B)) -> Scope {
    let from = b.events.len();
    add(b);
    b.matched(rule("Suspicious Shell", Level::High, &["attack.execution"]));
    for (e, m) in &b.events[from..] {
        o.observe(e, m);
    }
    o.finish(&[], Lang::En)
}

/// The detected cmd.exe of a scope.
fn cmd(s: &Scope) -> &vigie_scope::model::Process {
    s.processes
        .iter()
        .find(|p| p.image == CMD)
        .expect("cmd.exe detected")
}

/// The scope's JSON with the horizon's flags cleared.
fn without_flags(s: Scope) -> String {
    let mut s = s;
    for p in &mut s.processes {
        p.parent_beyond_horizon = false;
    }
    s.to_json()
}

fn held(o: &Observer, kind: &str) -> usize {
    o.held().into_iter().find(|(k, _)| *k == kind).unwrap().1
}

#[test]
fn an_old_tree_is_forgotten_and_counted_a_recent_one_kept() {
    let mut b = B::new();
    // Monday morning: a session and what it started, nothing after.
    proc(&mut b, t(2, 8, 0), "{u1}", USERINIT, WINLOGON);
    proc(&mut b, t(2, 8, 1), "{e1}", EXPLORER, ("{u1}", USERINIT));
    for (i, m) in (10..15).enumerate() {
        let g = format!("{{n{i}}}");
        proc(
            &mut b,
            t(2, 9, m),
            &g,
            "C:\\Windows\\notepad.exe",
            ("{e1}", EXPLORER),
        );
    }
    // Thursday: another session.
    proc(&mut b, t(5, 8, 0), "{u2}", USERINIT, WINLOGON);
    proc(&mut b, t(5, 8, 1), "{e2}", EXPLORER, ("{u2}", USERINIT));
    proc(&mut b, t(5, 9, 0), "{c2}", CMD, ("{e2}", EXPLORER));
    let mut o = observe(&b, 0);
    assert_eq!(held(&o, "process_creations"), 10);
    let f = o.forget_older_than(H48);
    // Monday's seven creations are more than 48 h before Thursday 9:00.
    assert_eq!(f.process_creations, 7);
    assert_eq!(f.orphan_processes, 0);
    assert_eq!(held(&o, "process_creations"), 3);
    // A second pass forgets nothing more.
    assert_eq!(o.forget_older_than(H48).process_creations, 0);
    // Nothing was detected: the scope is the one without a horizon.
    assert_eq!(
        o.finish(&[], Lang::En).to_json(),
        observe(&b, 0).finish(&[], Lang::En).to_json()
    );
}

#[test]
fn a_detected_process_keeps_its_ancestors() {
    let mut b = B::new();
    proc(&mut b, t(2, 8, 0), "{u1}", USERINIT, WINLOGON);
    proc(&mut b, t(2, 8, 1), "{e1}", EXPLORER, ("{u1}", USERINIT));
    proc(&mut b, t(2, 9, 0), "{c1}", CMD, ("{e1}", EXPLORER));
    b.ev(
        t(2, 9, 1),
        "PC-01",
        SYSMON,
        Some(1),
        &[
            ("ProcessGuid", "{r1}"),
            ("Image", "C:\\Windows\\System32\\rundll32.exe"),
            (
                "CommandLine",
                "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\Temp\\l.dmp full",
            ),
            ("ParentProcessGuid", "{c1}"),
            ("ParentImage", CMD),
            ("User", "CCPAB\\presta.maint"),
        ],
    );
    b.matched(rule(
        "Process Memory Dump Via Comsvcs.DLL",
        Level::High,
        &["attack.credential_access", "attack.t1003.001"],
    ));
    // Days of other activity on the same log move its clock on.
    for d in 3..7 {
        let g = format!("{{x{d}}}");
        proc(
            &mut b,
            t(d, 10, 0),
            &g,
            "C:\\Windows\\notepad.exe",
            WINLOGON,
        );
    }
    let mut o = observe(&b, 0);
    let f = o.forget_older_than(H48);
    // Clock: day 6 10:00. The dump's own creation, cmd, explorer and
    // userinit (day 2) stay; day 3's notepad goes.
    assert_eq!(f.process_creations, 1, "{f:?}");
    assert_eq!(held(&o, "process_creations"), 7);
    let s = o.finish(&[], Lang::En);
    let p = s
        .processes
        .iter()
        .find(|p| p.image.ends_with("rundll32.exe"))
        .expect("rundll32");
    assert_eq!(p.parent_chain, vec![CMD, EXPLORER, USERINIT, WINLOGON.1]);
    // winlogon's creation was never logged, but this log's older ones were
    // forgotten: the chain does not claim to be all the logs show.
    assert!(p.parent_beyond_horizon);
    assert_eq!(
        without_flags(s),
        observe(&b, 0).finish(&[], Lang::En).to_json()
    );
}

#[test]
fn a_long_lived_parent_stays_and_a_chain_cut_at_the_horizon_says_so() {
    let mut b = B::new();
    proc(&mut b, t(2, 8, 0), "{u1}", USERINIT, WINLOGON);
    proc(&mut b, t(2, 8, 1), "{e1}", EXPLORER, ("{u1}", USERINIT));
    // explorer.exe starts a program every day of the week.
    for d in 2..9 {
        let g = format!("{{n{d}}}");
        proc(
            &mut b,
            t(d, 9, 0),
            &g,
            "C:\\Windows\\notepad.exe",
            ("{e1}", EXPLORER),
        );
    }
    let mut o = observe(&b, 0);
    let f = o.forget_older_than(H48);
    // Clock: day 8 9:00. userinit (its only child started on day 2) and
    // the notepads of days 2 to 5 go; explorer stays (a child on day 8).
    assert_eq!(f.process_creations, 5, "{f:?}");
    assert_eq!(held(&o, "process_creations"), 4);
    // Then explorer starts what a rule flags: its chain reaches explorer,
    // whose own parent is no longer held — said, not "not logged".
    let s = flag_later(&mut b, o, |b| {
        proc(b, t(8, 9, 30), "{c8}", CMD, ("{e1}", EXPLORER))
    });
    let p = cmd(&s);
    // explorer (held), then userinit from explorer's own event.
    assert_eq!(p.parent_chain, vec![EXPLORER, USERINIT]);
    assert!(p.parent_beyond_horizon, "{p:?}");
    let json = s.to_json();
    assert!(json.contains("\"parent_beyond_horizon\": true"), "{json}");
    // Without a horizon the chain goes on to winlogon, and no flag is
    // written (`hunt`'s output is unchanged).
    let whole = observe(&b, 0).finish(&[], Lang::En);
    let p = whole.processes.iter().find(|p| p.image == CMD).unwrap();
    assert_eq!(p.parent_chain, vec![EXPLORER, USERINIT, WINLOGON.1]);
    assert!(!whole.to_json().contains("parent_beyond_horizon"));
}

#[test]
fn a_process_without_a_logged_parent_image_is_decided_at_the_horizon() {
    let mut b = B::new();
    let ev = |b: &mut B, time, pid: &str, ppid: &str, image: &str| {
        b.ev(
            time,
            "SRV-FIC01",
            SEC,
            Some(4688),
            &[
                ("NewProcessId", pid),
                ("ProcessId", ppid),
                ("NewProcessName", image),
                ("SubjectUserName", "presta.maint"),
                ("SubjectDomainName", "CCPAB"),
            ],
        );
    };
    // Old 4688 layout: no ParentProcessName. A WinRM host process starts
    // whoami; days later the log goes on.
    ev(
        &mut b,
        t(2, 10, 0),
        "100",
        "4",
        "C:\\Windows\\System32\\wsmprovhost.exe",
    );
    ev(
        &mut b,
        t(2, 10, 1),
        "200",
        "100",
        "C:\\Windows\\System32\\whoami.exe",
    );
    for d in 3..7 {
        let pid = format!("{}", 300 + d);
        ev(
            &mut b,
            t(d, 12, 0),
            &pid,
            "4",
            "C:\\Windows\\System32\\svchost.exe",
        );
    }
    let mut o = observe(&b, 0);
    assert_eq!(held(&o, "orphan_processes"), 6);
    let f = o.forget_older_than(H48);
    // Clock: day 6 12:00. Those before day 4 12:00 are decided (whoami: a
    // WinRM execution, kept as one) and their creations forgotten.
    assert_eq!(f.orphan_processes, 3, "{f:?}");
    assert_eq!(f.process_creations, 3, "{f:?}");
    assert_eq!(held(&o, "orphan_processes"), 3);
    // wsmprovhost's own start (its event says WinRM), and whoami, decided
    // now from its parent's creation.
    assert_eq!(held(&o, "remote_executions"), 2);
    let s = o.finish(&[], Lang::En);
    assert_eq!(
        without_flags(s),
        observe(&b, 0).finish(&[], Lang::En).to_json()
    );
}

#[test]
fn each_log_runs_on_its_own_clock() {
    // PC-01's Sysmon log reaches day 8; PC-02's arrives afterwards, from
    // day 2 (a backlog): its creations are measured on its own clock.
    let mut b = B::new();
    proc(&mut b, t(2, 8, 0), "{u1}", USERINIT, WINLOGON);
    proc(&mut b, t(8, 8, 0), "{u8}", USERINIT, WINLOGON);
    let late = |b: &mut B, time, guid: &str, parent: &str| {
        b.ev(
            time,
            "PC-02",
            SYSMON,
            Some(1),
            &[
                ("ProcessGuid", guid),
                ("Image", EXPLORER),
                ("ParentProcessGuid", parent),
                ("ParentImage", USERINIT),
            ],
        );
    };
    late(&mut b, t(2, 8, 0), "{p1}", "{q}");
    late(&mut b, t(2, 9, 0), "{p2}", "{q}");
    let mut o = observe(&b, 0);
    // Only PC-01's day 2 goes: PC-02's log is at day 2.
    assert_eq!(o.forget_older_than(H48).process_creations, 1);
    assert_eq!(held(&o, "process_creations"), 3);
}

#[test]
fn a_creation_dated_in_the_future_keeps_its_time_but_not_the_logs_clock() {
    // Thursday's session on PC-01, received Thursday 9:30; then one
    // creation of the same log dated a year later (a wrong clock, or a
    // forged event). With the receipt's ceiling (`vigie serve`), nothing
    // of Thursday is older than the horizon: as without that creation.
    let received = t(5, 9, 30);
    let mut b = B::new();
    proc(&mut b, t(5, 8, 0), "{u2}", USERINIT, WINLOGON);
    proc(&mut b, t(5, 8, 1), "{e2}", EXPLORER, ("{u2}", USERINIT));
    proc(&mut b, t(5, 9, 0), "{c2}", CMD, ("{e2}", EXPLORER));
    let real = b.events.len();
    proc(
        &mut b,
        t(5, 9, 5) + TimeDelta::days(365),
        "{f}",
        CMD,
        ("{e2}", EXPLORER),
    );
    let observed = |with_ceiling: bool| {
        let mut o = Observer::new(assets());
        if with_ceiling {
            o.set_clock_ceiling(Some(received + TimeDelta::minutes(5)));
        }
        for (e, m) in &b.events {
            o.observe(e, m);
        }
        o
    };
    let mut o = observed(true);
    assert_eq!(o.forget_older_than(H48).process_creations, 0);
    // The future creation is kept (with its own time), not forgotten.
    assert_eq!(held(&o, "process_creations"), 4);
    // Merged into an observer of earlier events (the live scope's settled
    // one), its clock is not moved either.
    let mut earlier = Observer::new(assets());
    for (e, m) in &b.events[..real] {
        earlier.observe(e, m);
    }
    earlier.merge(observed(true));
    assert_eq!(earlier.forget_older_than(H48).process_creations, 0);
    // Without a ceiling (`hunt`, reading files of any age) the year-late
    // creation is the log's clock: Thursday is a year old, and all of it
    // but the future creation's parent is forgotten.
    assert_eq!(observed(false).forget_older_than(H48).process_creations, 2);
}

/// An outbound connection (Sysmon 3) from PC-01.
fn conn(b: &mut B, time: chrono::DateTime<chrono::Utc>, dst: &str, port: &str) {
    b.ev(
        time,
        "PC-01",
        SYSMON,
        Some(3),
        &[
            ("Image", "C:\\Windows\\System32\\svchost.exe"),
            ("SourceIp", "10.0.0.21"),
            ("DestinationIp", dst),
            ("DestinationPort", port),
            ("Initiated", "true"),
        ],
    );
}

#[test]
fn what_two_observers_hold_is_counted_once_as_merged() {
    // `vigie serve` holds a tenant as a settled observer and a fresh one:
    // a channel, a connection or a name both saw is one fact, not two.
    let mut b = B::new();
    let t0 = t(2, 8, 0);
    conn(&mut b, t0, "10.0.0.5", "445");
    conn(&mut b, t0 + TimeDelta::minutes(1), "10.0.0.6", "445");
    proc(&mut b, t0, "{a}", EXPLORER, WINLOGON);
    let split = b.events.len();
    // The fresh one: the same host and channel, one connection again, one new.
    conn(&mut b, t0 + TimeDelta::minutes(2), "10.0.0.5", "445");
    conn(&mut b, t0 + TimeDelta::minutes(3), "10.0.0.7", "443");
    proc(
        &mut b,
        t0 + TimeDelta::minutes(3),
        "{b}",
        CMD,
        ("{a}", EXPLORER),
    );
    let settled = {
        let mut o = Observer::new(assets());
        for (e, m) in &b.events[..split] {
            o.observe(e, m);
        }
        o
    };
    let fresh = observe(&b, split);
    let beside = settled.held_beside(&fresh);
    let of = |kind: &str| beside.iter().find(|(k, _)| *k == kind).unwrap().1;
    assert_eq!(
        held(&settled, "connections") + held(&fresh, "connections"),
        4
    );
    assert_eq!(of("connections"), 3, "10.0.0.5:445 once");
    assert_eq!(of("channels"), 1, "PC-01's Sysmon log once");
    assert_eq!(of("process_creations"), 2);
    // As one observer holding everything: the same counts.
    let mut merged = settled.clone();
    merged.merge(fresh.clone());
    for kind in [
        "connections",
        "channels",
        "process_creations",
        "names",
        "accounts",
    ] {
        assert_eq!(of(kind), held(&merged, kind), "{kind}");
    }
}

#[test]
fn connections_are_kept_only_where_a_zones_reach_reads_them() {
    // Only the reach of a critical or isolated zone reads connections:
    // without such a zone they are not kept (what grew with every new
    // address a workstation reached, for as long as `serve` runs).
    let mut b = B::new();
    let t0 = t(2, 8, 0);
    for (i, dst) in ["10.0.0.5", "10.0.0.6", "192.0.2.7"].iter().enumerate() {
        conn(&mut b, t0 + TimeDelta::minutes(i as i64), dst, "445");
    }
    let with_zones = assets();
    assert!(with_zones.zones.iter().any(|z| z.critical || z.isolated));
    assert_eq!(held(&observe(&b, 0), "connections"), 3);
    let mut plain = Observer::new(std::sync::Arc::new(Assets::default()));
    for (e, m) in &b.events {
        plain.observe(e, m);
    }
    assert_eq!(held(&plain, "connections"), 0);
    // What else the events tell is still kept (the host's channel).
    assert_eq!(held(&plain, "channels"), 1);
}

/// A creation dated in the future (past the clock's ceiling, as `serve`
/// sets it from the receipt) never falls below its log's line; it is
/// forgotten by receipt age instead, counted, and only it.
#[test]
fn a_creation_dated_in_the_future_goes_by_receipt_age_not_by_the_line() {
    let mut b = B::new();
    // The host's clock a year ahead for one creation; the rest on time.
    proc(&mut b, t(5, 8, 0), "{u2}", USERINIT, WINLOGON);
    proc(&mut b, t(5, 8, 1), "{e2}", EXPLORER, ("{u2}", USERINIT));
    let ahead = t(5, 8, 2) + TimeDelta::days(365);
    proc(&mut b, ahead, "{f1}", CMD, ("{e2}", EXPLORER));
    proc(&mut b, t(5, 9, 0), "{c2}", CMD, ("{e2}", EXPLORER));
    // Received at day 5, 9:05: the ceiling is the receipt plus 5 minutes.
    let ceiling = t(5, 9, 10);
    let mut o = Observer::new(assets());
    o.set_clock_ceiling(Some(ceiling));
    for (e, m) in &b.events {
        o.observe(e, m);
    }
    assert_eq!(held(&o, "process_creations"), 4);
    // The line never reaches it: the log's clock stayed at 9:00.
    assert_eq!(o.forget_older_than(H48).process_creations, 0);
    assert_eq!(held(&o, "process_creations"), 4);
    // Not yet received long enough ago: kept.
    assert_eq!(o.forget_future_received_before(ceiling), 0);
    assert_eq!(held(&o, "process_creations"), 4);
    // Once the hold after its receipt has passed: that one only.
    let later = ceiling + H48;
    assert_eq!(o.forget_future_received_before(later), 1);
    assert_eq!(held(&o, "process_creations"), 3);
    assert_eq!(o.forget_future_received_before(later), 0);
    // Through a merge (the live scope's fresh observer into its settled
    // one), the receipt goes with the creation.
    let mut fresh = Observer::new(assets());
    fresh.set_clock_ceiling(Some(ceiling));
    for (e, m) in &b.events[2..3] {
        fresh.observe(e, m);
    }
    let mut settled = Observer::new(assets());
    for i in [0, 1, 3] {
        let (e, m) = &b.events[i];
        settled.observe(e, m);
    }
    settled.merge(fresh);
    assert_eq!(held(&settled, "process_creations"), 4);
    assert_eq!(settled.forget_future_received_before(ceiling), 0);
    assert_eq!(settled.forget_future_received_before(later), 1);
    assert_eq!(held(&settled, "process_creations"), 3);
    // `hunt` sets no ceiling: nothing is ever in the future for it.
    let mut hunt = observe(&b, 0);
    assert_eq!(hunt.forget_future_received_before(later), 0);
    assert_eq!(held(&hunt, "process_creations"), 4);
}

/// A 4688 process creation on PC-01 under `pid`, started by `parent`.
fn created(b: &mut B, time: chrono::DateTime<chrono::Utc>, pid: &str, image: &str, parent: &str) {
    b.ev(
        time,
        "PC-01",
        SEC,
        Some(4688),
        &[
            ("NewProcessId", pid),
            ("NewProcessName", image),
            ("ProcessId", parent),
            ("ParentProcessName", EXPLORER),
            ("SubjectUserName", "agent.a"),
        ],
    );
}

#[test]
fn a_process_id_given_out_again_holds_the_horizon_not_every_creation() {
    // Windows gives process ids out again: on a host logging 4688, id
    // 0x1a4 is a new process every 6 hours for ten days (each its own
    // image, to tell them apart), then a child of the last one.
    let mut b = B::new();
    for d in 2..12 {
        for h in [0, 6, 12, 18] {
            let image = format!("C:\\Tools\\p{d}_{h}.exe");
            created(&mut b, t(d, h, 0), "0x1a4", &image, "0x10");
        }
    }
    // A child of day 9 18:00's, after the line (day 9 18:30) and before
    // the id's next creation: it names that one.
    created(
        &mut b,
        t(9, 23, 0),
        "0x3c0",
        "C:\\Windows\\notepad.exe",
        "0x1a4",
    );
    created(&mut b, t(11, 18, 30), "0x2b8", CMD, "0x1a4");
    b.matched(rule("Suspicious Shell", Level::High, &["attack.execution"]));
    let mut o = observe(&b, 0);
    assert_eq!(held(&o, "process_creations"), 42);
    let f = o.forget_older_than(H48);
    // The 8 creations of days 10 and 11 stay, with day 9 18:00's (the
    // newest below the line, named by a child within the horizon); the
    // 31 before it go although the id is in use (they were all kept
    // while its newest was recent).
    assert_eq!(f.process_creations, 31, "{f:?}");
    assert_eq!(held(&o, "process_creations"), 11);
    assert_eq!(o.forget_older_than(H48).process_creations, 0);
    // The child's parent is still the right creation under the id.
    let s = o.finish(&[], Lang::En);
    let p = cmd(&s);
    assert_eq!(
        p.parent_chain.first().map(String::as_str),
        Some("C:\\Tools\\p11_18.exe"),
        "{p:?}"
    );
}

#[test]
fn a_creation_below_the_line_no_child_names_goes_under_a_reused_id() {
    // The same id, created on day 2 and again on day 9; a child of the
    // second on day 9 (a replayed week, or an id given out again): the
    // first is below the line and before the id's next creation, which
    // every child within the horizon names.
    let mut b = B::new();
    created(&mut b, t(2, 9, 0), "0x1a4", "C:\\Tools\\a.exe", "0x10");
    created(&mut b, t(9, 9, 0), "0x1a4", "C:\\Tools\\b.exe", "0x10");
    created(&mut b, t(9, 9, 5), "0x2b8", CMD, "0x1a4");
    let mut o = observe(&b, 0);
    assert_eq!(held(&o, "process_creations"), 3);
    assert_eq!(o.forget_older_than(H48).process_creations, 1);
    assert_eq!(held(&o, "process_creations"), 2);
}

#[test]
fn a_reused_id_never_leaves_an_older_creation_to_be_found_in_place_of_a_forgotten_one() {
    // Under id 0x1a4: a detected process on day 2 (its creation pinned for
    // as long as it is shown), userinit on day 8, which starts explorer
    // (0x200, kept by its children), then the id again on day 10.
    let mut b = B::new();
    created(
        &mut b,
        t(2, 9, 0),
        "0x1a4",
        "C:\\Users\\Public\\evil.exe",
        "0x10",
    );
    b.matched(rule("Dropped Binary", Level::High, &["attack.execution"]));
    created(&mut b, t(8, 8, 0), "0x1a4", USERINIT, "0x10");
    created(&mut b, t(8, 8, 1), "0x200", EXPLORER, "0x1a4");
    created(
        &mut b,
        t(10, 12, 0),
        "0x1a4",
        "C:\\Windows\\System32\\svchost.exe",
        "0x10",
    );
    created(
        &mut b,
        t(10, 13, 0),
        "0x300",
        "C:\\Windows\\notepad.exe",
        "0x200",
    );
    let mut o = observe(&b, 0);
    // The line is day 8 13:00; userinit is below it and no child within
    // the horizon names it, but dropping it would leave day 2's creation
    // as what a lookup under 0x1a4 before day 10 finds: it stays.
    o.forget_older_than(H48);
    let s = flag_later(&mut b, o, |b| {
        created(b, t(10, 14, 0), "0x400", CMD, "0x200")
    });
    let p = cmd(&s);
    assert_eq!(p.parent_chain.first().map(String::as_str), Some(EXPLORER));
    assert_eq!(
        p.parent_chain.get(1).map(String::as_str),
        Some(USERINIT),
        "explorer's parent is userinit, never the older process under its id: {p:?}"
    );
}
