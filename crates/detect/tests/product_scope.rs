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
