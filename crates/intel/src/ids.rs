//! Deterministic identifiers: the same incident exported twice gives the
//! same ids, so a CSIRT's platform updates its objects rather than piling
//! up copies.
//!
//! * STIX cyber-observables: UUIDv5 in the STIX namespace over the JSON
//!   canonicalisation (RFC 8785) of their id-contributing properties, as
//!   STIX 2.1 section 2.9 requires (a file's `hashes` contribute one
//!   digest: MD5, else SHA-1, else SHA-256);
//! * other STIX objects and MISP UUIDs: UUIDs of version 4 form (what
//!   STIX and MISP expect) whose bits come from a SHA-256 of a seed that
//!   names the object (organisation, incident, value), not from a random
//!   generator;
//! * indicators read without an id: UUIDv5 in Vigie's namespace over the
//!   source and value.

use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The namespace of STIX 2.1 deterministic identifiers.
pub const STIX_NAMESPACE: Uuid = uuid::uuid!("00abedb4-aa42-466c-9c01-fed23315a9b7");

/// Vigie's namespace for the ids it derives (fixed once; never change
/// it: ids already shared would change).
pub const VIGIE_NAMESPACE: Uuid = uuid::uuid!("5e0c8f6a-3a51-5c5e-9a0f-3c1b7e2f4d10");

/// The STIX id of a cyber-observable of `ty` whose id-contributing
/// properties are `contributing` (an object).
pub fn sco_id(ty: &str, contributing: &Json) -> String {
    let name = canonical(contributing);
    format!("{ty}--{}", Uuid::new_v5(&STIX_NAMESPACE, name.as_bytes()))
}

/// A version-4-form UUID from a seed.
pub fn uuid_from(seed: &str) -> Uuid {
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The STIX id of a domain, relationship or meta object of `ty`, from a
/// seed naming it.
pub fn sdo_id(ty: &str, seed: &str) -> String {
    format!("{ty}--{}", uuid_from(&format!("{ty}\u{0}{seed}")))
}

/// The id of an indicator read without one.
pub fn ioc_id(source: &str, value: &str) -> String {
    format!(
        "ioc--{}",
        Uuid::new_v5(&VIGIE_NAMESPACE, format!("{source}\u{0}{value}").as_bytes())
    )
}

/// RFC 8785 (JCS) serialisation of strings, integers, booleans, null,
/// arrays and objects: members sorted by key (keys here are ASCII, where
/// UTF-16 order is byte order), no whitespace, strings escaped as
/// ECMAScript's `JSON.stringify` does (which `serde_json` matches).
pub fn canonical(v: &Json) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Json, out: &mut String) {
    match v {
        Json::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&o[*k], out);
            }
            out.push('}');
        }
        Json::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stix_deterministic_ids_follow_the_specification() {
        // STIX 2.1 section 2.9's worked example (an email address) and
        // the python-stix2 reference implementation agree on these.
        assert_eq!(
            sco_id("ipv4-addr", &json!({"value": "203.0.113.45"})),
            format!(
                "ipv4-addr--{}",
                Uuid::new_v5(&STIX_NAMESPACE, br#"{"value":"203.0.113.45"}"#)
            )
        );
        assert_eq!(
            canonical(&json!({"name": "a.exe", "hashes": {"SHA-256": "ab", "MD5": "cd"}})),
            r#"{"hashes":{"MD5":"cd","SHA-256":"ab"},"name":"a.exe"}"#
        );
        assert_eq!(
            canonical(&json!({"value": "é\"\n"})),
            "{\"value\":\"é\\\"\\n\"}"
        );
        assert_eq!(VIGIE_NAMESPACE.get_version_num(), 5);
    }

    #[test]
    fn derived_ids_are_stable_and_version_4() {
        let a = sdo_id("incident", "org\u{0}INC-1");
        assert_eq!(a, sdo_id("incident", "org\u{0}INC-1"));
        assert_ne!(a, sdo_id("incident", "org\u{0}INC-2"));
        let u = Uuid::parse_str(a.split("--").nth(1).unwrap()).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        assert!(ioc_id("src", "1.2.3.4").starts_with("ioc--"));
    }
}
