//! Coverage-guided fuzzing of the rule loader with hostile shapes
//! (issue 19) that a few kilobytes of raw input cannot spell out: deep
//! nesting, alias chains, huge scalars, long and deep conditions. The
//! first bytes of the input choose a shape and its size; the rest is the
//! text repeated or nested. Properties: no panic, the good rule around
//! the hostile document still loads, at most one failure, every reason
//! bounded and free of control characters. libFuzzer's `-rss_limit_mb`
//! and `-timeout` catch unbounded memory and hangs.
//!
//!     cargo +nightly fuzz run hostile_rules -- -max_total_time=3600
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vigie_detect::{load_str, Engine, LoadOptions};

const GOOD: &str = "title: Good\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\good.exe'\n  condition: sel\n";

/// `s` repeated `n` times, at most 4 MiB (the harness's own input must
/// stay bounded; the loader's limits are well below).
fn rep(s: &str, n: usize) -> String {
    s.repeat(n.min((4 << 20) / s.len().max(1)))
}

fn build(shape: u8, n: usize, text: &str) -> String {
    let rule = |d: String| {
        format!("title: H\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n{d}level: low\n")
    };
    // Inside single quotes: doubled quotes, no line breaks.
    let q = text.replace('\'', "''").replace(['\n', '\r'], " ");
    match shape % 8 {
        0 => format!("{}{text}\n", "- ".repeat(n)),
        1 => format!("{}{q}{}\n", "[".repeat(n % 400), "]".repeat(n % 400)),
        2 => {
            let width = 1 + n % 9;
            let levels = 1 + (n / 9) % 14;
            let mut s = format!("title: A\nlogsource: {{product: windows}}\na0: &a0 ['{q}']\n");
            for i in 1..levels {
                let items = vec![format!("*a{}", i - 1); width].join(", ");
                s.push_str(&format!("a{i}: &a{i} [{items}]\n"));
            }
            s.push_str(&format!("detection:\n  sel:\n    Image: *a{}\n  condition: sel\n", levels - 1));
            s
        }
        3 => rule(format!("  sel:\n    CommandLine|re: '{}'\n  condition: sel\n", rep(&q, n))),
        4 => rule(format!("  sel:\n    Image: x\n  condition: '{}sel'\n", "not ".repeat(n))),
        5 => rule(format!("  sel:\n    Image: x\n  condition: '{}{q}{}'\n", "(".repeat(n), ")".repeat(n))),
        6 => rule(format!("  sel:\n    CommandLine|windash|contains: '{}'\n  condition: sel\n", rep(&q, n))),
        _ => format!("{}\n{}", text, rule(format!("  sel:\n    Image|expand: '%{q}%'\n  condition: sel\n"))),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let shape = data[0];
    // Up to 2^17 repetitions: several limits are crossed below that.
    let n = (usize::from(data[1]) << 9 | usize::from(data[2]) << 1) % (1 << 17);
    let text = String::from_utf8_lossy(&data[3..]);
    let doc = build(shape, n, &text);
    let all = format!("{GOOD}---\n{doc}\n---\n{}", GOOD.replace("Good", "Good 2"));
    let (set, report) = load_str(&all, Path::new("fuzz.yml"), &LoadOptions::default());
    let (engine, fails) = Engine::compile(set);
    let failures: Vec<_> = report.failures.iter().chain(&fails).collect();
    for f in &failures {
        assert!(!f.reason.is_empty());
        assert!(f.reason.chars().count() <= 700, "{} chars", f.reason.chars().count());
        assert!(!f.reason.chars().any(char::is_control), "{:?}", f.reason);
    }
    // The good rules survive unless the fuzzed text broke the YAML
    // stream around them (then the split fallback still reads them).
    let titles: Vec<&str> = engine.rules().iter().map(|r| r.title.as_str()).collect();
    assert!(titles.contains(&"Good"), "{titles:?} {failures:#?}");
    assert!(titles.contains(&"Good 2"), "{titles:?} {failures:#?}");
});
