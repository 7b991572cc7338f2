//! What reaches the terminal: in the reader's language and time zone, and
//! never a raw control sequence from the logs.

mod common;

use common::{
    both, stdout, sysmon1, sysmon1_on, vigie, vigie_env, whoami_case as setup, whoami_hunt,
};

const WHOAMI: &str = r"C:\\Windows\\System32\\whoami.exe";

#[test]
fn hostile_names_never_drive_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let evil = [
        "\u{1b}]52;c;ZXZpbA==\u{7}",  // OSC 52: write the clipboard
        "\u{1b}]0;owned\u{7}",        // OSC 0: window title
        "\u{1b}[2J\u{1b}[H",          // clear the screen
        "PC-\u{202e}exe.txt\u{2066}", // bidi override and isolate
        "=HYPERLINK(\"http://x\")",
        "\u{9b}31m", // C1 CSI
    ];
    let lines: Vec<String> = evil
        .iter()
        .enumerate()
        .map(|(i, c)| sysmon1_on(i as u64 + 1, "2026-01-10T02:30:00Z", WHOAMI, c))
        .collect();
    setup(dir, &lines);
    for lang in ["en", "fr"] {
        let out = whoami_hunt(dir, "logs", &["--lang", lang]);
        assert_eq!(out.status.code(), Some(1), "{}", both(&out));
        let text = format!("{}{}", stdout(&out), common::stderr(&out));
        for c in text.chars() {
            assert!(
                c == '\n'
                    || !(c.is_control()
                        || ('\u{2066}'..='\u{2069}').contains(&c)
                        || ('\u{202a}'..='\u{202e}').contains(&c)),
                "raw {:?} reached the terminal:\n{text}",
                c
            );
        }
        // Shown, escaped (the scope writes host names in upper case).
        let lower = text.to_lowercase();
        assert!(lower.contains("\\x1b]52;c;zxzpba==\\x07"), "{text}");
        assert!(lower.contains("pc-\\u{202e}exe"), "{text}");
    }
}

#[test]
fn the_summary_speaks_french_or_english() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, &[sysmon1(1, "2026-01-10T02:30:00Z", WHOAMI)]);
    let args = [
        "hunt",
        "logs",
        "--no-builtin",
        "--no-sigmahq",
        "--rules",
        "whoami.yml",
    ];
    let fr_markers = ["1 événement lu", "Détections : 1 (moyen : 1)", "Règles :"];
    let en_markers = [
        "Read 1 event from 1 file",
        "Detections: 1 (1 medium)",
        "Rules:",
    ];
    let check = |out: &std::process::Output, markers: &[&str]| {
        assert_eq!(out.status.code(), Some(1), "{}", both(out));
        for m in markers {
            assert!(stdout(out).contains(m), "{m:?} in\n{}", stdout(out));
        }
    };
    // The locale decides when --lang does not.
    check(
        &vigie_env(&args, dir, &[("LANG", "fr_FR.UTF-8")]),
        &fr_markers,
    );
    check(
        &vigie_env(&args, dir, &[("LANG", "en_GB.UTF-8")]),
        &en_markers,
    );
    check(&vigie_env(&args, dir, &[]), &en_markers);
    // --lang wins over the locale.
    let mut a = args.to_vec();
    a.extend(["--lang", "en"]);
    check(
        &vigie_env(&a, dir, &[("LC_ALL", "fr_FR.UTF-8")]),
        &en_markers,
    );
    let mut a = args.to_vec();
    a.extend(["--lang", "fr"]);
    let out = vigie(&a, dir);
    check(&out, &fr_markers);
    assert!(
        stdout(&out).contains("moyen"),
        "level in French: {}",
        stdout(&out)
    );
}

#[test]
fn times_show_in_the_chosen_zone_with_the_year() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(
        dir,
        &[
            sysmon1(1, "2025-12-31T23:30:00Z", WHOAMI),
            sysmon1(2, "2026-07-10T02:30:00Z", WHOAMI),
        ],
    );
    let hunt = |zone: &[&str]| {
        let mut a = vec!["-o", "t.jsonl"];
        a.extend(zone);
        let out = whoami_hunt(dir, "logs", &a);
        assert_eq!(out.status.code(), Some(1), "{}", both(&out));
        stdout(&out)
    };
    let utc = hunt(&[]);
    assert!(
        utc.contains("Time span: 2025-12-31 23:30:00 UTC → 2026-07-10 02:30:00 UTC"),
        "{utc}"
    );
    // Paris: already the new year in winter time, summer time in July.
    let paris = hunt(&["--timezone", "Europe/Paris"]);
    assert!(
        paris.contains("Time span: 2026-01-01 00:30:00 CET → 2026-07-10 04:30:00 CEST"),
        "{paris}"
    );
    // Machine outputs stay UTC.
    let rows = common::jsonl(&dir.join("t.jsonl"));
    assert_eq!(rows[0]["datetime"], "2025-12-31T23:30:00.000000Z");
}
