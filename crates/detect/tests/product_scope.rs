//! Rules of a non-Windows product run only on that product's events (and
//! on events of unknown product), never on another appliance's logs.

use std::path::Path;
use std::sync::Arc;

use vigie_detect::{load_str, Engine, LoadOptions, Match};
use vigie_event::{Event, Locator, Origin};

const RULES: &str = r#"
title: Zeek RDP
id: 00000000-0000-4000-8000-000000000001
logsource: {product: zeek, service: rdp}
detection:
    selection: {action: 'ssl-login-fail'}
    condition: selection
level: low
---
title: FortiGate VPN failure
id: 00000000-0000-4000-8000-000000000002
logsource: {product: fortigate, service: event}
detection:
    selection: {action: 'ssl-login-fail'}
    condition: selection
level: low
---
title: Any product
id: 00000000-0000-4000-8000-000000000003
logsource: {category: anything}
detection:
    selection: {action: 'ssl-login-fail'}
    condition: selection
level: low
"#;

fn event(provider: Option<&str>) -> Event {
    let mut e = Event::new(Origin {
        source: Arc::from("fw.log"),
        locator: Locator::Line(1),
    });
    e.channel = Some("syslog".into());
    e.provider = provider.map(Into::into);
    e.push("action", "ssl-login-fail");
    e
}

fn titles(engine: &Engine, e: &Event) -> Vec<String> {
    let mut out: Vec<Match> = Vec::new();
    engine.evaluate(e, &mut out);
    let mut t: Vec<String> = out.iter().map(|m| m.rule.title.clone()).collect();
    t.sort();
    t
}

#[test]
fn fortigate_lines_meet_fortigate_rules_only() {
    let (set, report) = load_str(RULES, Path::new("products.yml"), &LoadOptions::default());
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let (engine, failures) = Engine::compile(set);
    assert!(failures.is_empty(), "{failures:?}");

    assert_eq!(
        titles(&engine, &event(Some("fortigate"))),
        ["Any product", "FortiGate VPN failure"]
    );
    // Unknown product (generic JSON, an unknown appliance): every rule
    // whose product is not Windows may apply, as in other Sigma tools.
    assert_eq!(
        titles(&engine, &event(Some("sshd"))),
        ["Any product", "FortiGate VPN failure", "Zeek RDP"]
    );
    assert_eq!(
        titles(&engine, &event(None)),
        ["Any product", "FortiGate VPN failure", "Zeek RDP"]
    );
}

const APPLIANCE_RULES: &str = r#"
title: Proxy rule
id: 00000000-0000-4000-8000-000000000011
logsource: {category: proxy}
detection:
    selection: {c-uri|contains: '/admin'}
    condition: selection
level: low
---
title: No logsource
id: 00000000-0000-4000-8000-000000000012
logsource: {}
detection:
    selection: {c-uri|contains: '/admin'}
    condition: selection
level: low
"#;

fn with_uri(channel: Option<&str>, event_id: Option<u32>, provider: Option<&str>) -> Event {
    let mut e = Event::new(Origin {
        source: Arc::from("x.log"),
        locator: Locator::Line(1),
    });
    e.channel = channel.map(Into::into);
    e.event_id = event_id;
    e.provider = provider.map(Into::into);
    e.push("c-uri", "https://intranet/admin/users");
    e
}

/// A rule for an appliance category that nothing maps (`proxy`,
/// `webserver`) and that names no product never runs on Windows events:
/// every Windows channel is a known logsource, and it is not a proxy's.
/// A rule with no logsource at all runs everywhere.
#[test]
fn unmapped_categories_without_product_skip_windows_events() {
    let (set, report) = load_str(
        APPLIANCE_RULES,
        Path::new("appliance.yml"),
        &LoadOptions::default(),
    );
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let (engine, failures) = Engine::compile(set);
    assert!(failures.is_empty(), "{failures:?}");
    for windows in [
        with_uri(Some("Security"), Some(4688), None),
        with_uri(Some("Microsoft-Windows-Sysmon/Operational"), Some(1), None),
        with_uri(Some("Some-Unmapped/Operational"), Some(42), None),
        with_uri(None, Some(4688), None),
    ] {
        assert_eq!(titles(&engine, &windows), ["No logsource"], "{windows:?}");
    }
    for appliance in [
        with_uri(Some("syslog"), None, Some("squid")),
        with_uri(Some("syslog"), None, Some("fortigate")),
        with_uri(None, None, None),
    ] {
        assert_eq!(
            titles(&engine, &appliance),
            ["No logsource", "Proxy rule"],
            "{appliance:?}"
        );
    }
}
