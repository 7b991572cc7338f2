//! Indicators held, given out again as STIX 2.1 `indicator` objects: what
//! `vigie serve`'s TAXII collection of indicators serves, whatever format
//! they came in (STIX, MISP, CSV, a plain list).
//!
//! Why rebuild the pattern: a MISP attribute or a list line has none, and
//! the condition the matcher uses is the one meaning they all share. A
//! STIX indicator keeps its own pattern (its qualifiers included).

use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};

use crate::export::stix::{quote, tlp_marking_id};
use crate::model::{Condition, Format, Indicator, Kind, Subdomains, Term, Test};
use crate::taxii::server::stamp;

/// The STIX object path of observables of `kind` (`None` for IPs: v4
/// and v6 differ by the value).
fn path(kind: Kind) -> String {
    match kind {
        Kind::Ip => "ipv4-addr:value".into(),
        Kind::Domain => "domain-name:value".into(),
        Kind::Url => "url:value".into(),
        Kind::Hash(a) => match a.stix_name() {
            Some(n) => format!("file:hashes.'{n}'"),
            None => "file:extensions.'windows-pebinary-ext'.imphash".into(),
        },
        Kind::FileName => "file:name".into(),
    }
}

/// One comparison of a STIX pattern, and its SCO type.
fn comparison(t: &Term) -> (String, &'static str) {
    let not = if t.negated { "NOT " } else { "" };
    let (path, op, value) = match &t.test {
        Test::Ip(n) => {
            let ty = if n.addr().is_ipv4() {
                "ipv4-addr"
            } else {
                "ipv6-addr"
            };
            let single = n.prefix_len() == n.max_prefix_len();
            let value = if single {
                n.addr().to_string()
            } else {
                n.to_string()
            };
            let op = if single { "=" } else { "ISSUBSET" };
            (format!("{ty}:value"), op, value)
        }
        Test::Domain(d, Subdomains::Only) => ("domain-name:value".into(), "LIKE", format!("%.{d}")),
        Test::Domain(d, _) => ("domain-name:value".into(), "=", d.to_string()),
        Test::Like(k, p) => (path(*k), "LIKE", p.to_string()),
        Test::Regex(k, p) => (path(*k), "MATCHES", p.to_string()),
        other => (path(other.kind()), "=", other.value_text()),
    };
    let ty = match path.split(':').next() {
        Some("ipv6-addr") => "ipv6-addr",
        Some("ipv4-addr") => "ipv4-addr",
        Some("domain-name") => "domain-name",
        Some("url") => "url",
        _ => "file",
    };
    (format!("{path} {not}{op} {}", quote(&value)), ty)
}

/// The STIX pattern of a condition: one observation per alternative,
/// joined by `OR`. `None` when an alternative tests observables of two
/// types at once (STIX wants one type per observation).
pub fn pattern(c: &Condition) -> Option<String> {
    let mut observations = Vec::new();
    for alt in &c.any {
        let parts: Vec<(String, &str)> = alt.iter().map(comparison).collect();
        let ty = parts.first()?.1;
        if parts.iter().any(|(_, t)| *t != ty) {
            return None;
        }
        let joined: Vec<String> = parts.into_iter().map(|(p, _)| p).collect();
        observations.push(format!("[{}]", joined.join(" AND ")));
    }
    (!observations.is_empty()).then(|| observations.join(" OR "))
}

/// A STIX 2.1 `indicator` of one indicator held; `added` stands in for
/// `created` and for `valid_from` when the source gave none. `None` when
/// no pattern can say it (see [`pattern`]).
pub fn indicator_object(i: &Indicator, added: DateTime<Utc>) -> Option<Json> {
    let pattern = match i.source.format {
        Format::Stix => i.pattern.to_string(),
        _ => pattern(&i.condition)?,
    };
    let id = if i.id.starts_with("indicator--") {
        i.id.to_string()
    } else {
        crate::ids::sdo_id("indicator", &i.id)
    };
    let valid_from = i.valid_from.unwrap_or(added);
    let mut o = json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": id,
        "created": stamp(added),
        "modified": stamp(added),
        "name": i.display(),
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": stamp(valid_from),
        "indicator_types": ["malicious-activity"],
        "external_references": [{
            "source_name": i.source.name,
            "description": format!("{} ({})", i.source.location, i.source.format.name()),
        }],
    });
    if let Some(until) = i.valid_until.filter(|u| *u > valid_from) {
        o["valid_until"] = json!(stamp(until));
    }
    if let Some(c) = i.confidence {
        o["confidence"] = json!(c);
    }
    if let Some(d) = &i.description {
        o["description"] = json!(d);
    }
    if let Some(t) = i.tlp {
        o["object_marking_refs"] = json!([tlp_marking_id(t)]);
    }
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import_bytes;

    #[test]
    fn lists_and_misp_become_stix_patterns_the_importer_reads_back() {
        let list = "203.0.113.45\n198.51.100.0/24\n*.evil.example\nbad.example\nhttp://bad.example/x\n44d88612fea8a8f36de82e1278abb02f\n";
        let imported = import_bytes(list.as_bytes(), "list.txt");
        assert_eq!(imported.indicators.len(), 6, "{:?}", imported.problems);
        let added = Utc::now();
        let objects: Vec<Json> = imported
            .indicators
            .iter()
            .map(|i| indicator_object(i, added).unwrap())
            .collect();
        let patterns: Vec<&str> = objects
            .iter()
            .map(|o| o["pattern"].as_str().unwrap())
            .collect();
        assert!(
            patterns.contains(&"[ipv4-addr:value = '203.0.113.45']"),
            "{patterns:?}"
        );
        assert!(patterns.contains(&"[ipv4-addr:value ISSUBSET '198.51.100.0/24']"));
        assert!(patterns.contains(&"[domain-name:value LIKE '%.evil.example']"));
        assert!(patterns.contains(&"[file:hashes.'MD5' = '44d88612fea8a8f36de82e1278abb02f']"));
        // Read back as STIX: the same conditions.
        let bundle = json!({"type": "bundle", "id": "bundle--0d4b6c9e-3f0a-4b8e-8d55-2a9c1f7e6b10", "objects": objects});
        let again = import_bytes(bundle.to_string().as_bytes(), "again.json");
        assert_eq!(again.problem_count(), 0, "{:?}", again.problems);
        let before: Vec<_> = imported.indicators.iter().map(|i| &i.condition).collect();
        let after: Vec<_> = again.indicators.iter().map(|i| &i.condition).collect();
        assert_eq!(before, after);
    }
}
