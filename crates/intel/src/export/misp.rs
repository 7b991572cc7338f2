//! The incident as a MISP event, and as a MISP feed directory a MISP
//! instance can subscribe to (`manifest.json`, `<uuid>.json`,
//! `hashes.csv`, as PyMISP's feed generator writes them).
//!
//! * attributes: attacker addresses `ip-src`, destinations `ip-dst`,
//!   names `hostname`, all `Network activity` with `to_ids`; the incident
//!   summary as a `text` (`Other`, not for detection); with
//!   `--include-accounts`, the accounts as `target-user` (`Targeting
//!   data`);
//! * objects: each tool as a `file` object (`filename` and its digests);
//! * tags: the TLP (`tlp:amber`), ATT&CK techniques as galaxy clusters
//!   (`misp-galaxy:mitre-attack-pattern="Remote Desktop Protocol -
//!   T1021.001"`).
//!
//! UUIDs and timestamps are derived from the scope: the same scope gives
//! the same event.

use std::fmt::Write as _;

use md5::{Digest, Md5};
use serde_json::{json, Value as Json};

use super::{Findings, Observed, Role};
use crate::ids::uuid_from;
use crate::model::Tlp;

/// The `file` object template (MISP objects, `objects/file`).
pub const FILE_TEMPLATE_UUID: &str = "688c46fb-5edb-40a3-8273-1af7923e2215";
pub const FILE_TEMPLATE_VERSION: &str = "25";

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.timestamp().to_string()
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

struct Ctx {
    event_uuid: String,
    timestamp: String,
}

impl Ctx {
    fn uuid(&self, what: &str) -> String {
        uuid_from(&format!("misp\u{0}{}\u{0}{what}", self.event_uuid)).to_string()
    }

    fn attribute(
        &self,
        ty: &str,
        category: &str,
        value: &str,
        to_ids: bool,
        comment: &str,
    ) -> Json {
        json!({
            "uuid": self.uuid(&format!("{ty}\u{0}{value}")),
            "type": ty,
            "category": category,
            "value": value,
            "to_ids": to_ids,
            "comment": comment,
            "timestamp": self.timestamp,
            "disable_correlation": false,
        })
    }

    fn observed(&self, o: &Observed, ty: &str) -> Json {
        let mut a = self.attribute(
            ty,
            "Network activity",
            &o.value,
            true,
            o.role.words(vigie_lang::Lang::En),
        );
        if let Some(t) = o.first {
            a["first_seen"] = json!(iso(t));
        }
        if let Some(t) = o.last {
            a["last_seen"] = json!(iso(t));
        }
        a
    }
}

/// The MISP event of `f` under `tlp` (`{"Event": …}`).
pub fn event(f: &Findings, tlp: Tlp, include_accounts: bool, lang: vigie_lang::Lang) -> Json {
    let event_uuid = uuid_from(&format!(
        "misp-event\u{0}{}\u{0}{}",
        f.organisation,
        f.incident.as_ref().map(|i| i.id.as_str()).unwrap_or("")
    ))
    .to_string();
    let c = Ctx {
        event_uuid: event_uuid.clone(),
        timestamp: ts(f.as_of),
    };
    let mut attributes = Vec::new();
    if let Some(inc) = &f.incident {
        attributes.push(c.attribute("text", "Other", &inc.description, false, &inc.name));
    }
    for a in &f.addresses {
        let ty = match a.role {
            Role::Entry | Role::Attacker => "ip-src",
            _ => "ip-dst",
        };
        attributes.push(c.observed(a, ty));
    }
    for d in &f.domains {
        attributes.push(c.observed(d, "hostname"));
    }
    if include_accounts {
        for a in &f.accounts {
            attributes.push(c.attribute("target-user", "Targeting data", a, false, ""));
        }
    }
    let mut objects = Vec::new();
    for t in &f.tools {
        if t.hashes.is_empty() {
            continue;
        }
        let obj_uuid = c.uuid(&format!("file\u{0}{}\u{0}{:?}", t.name, t.hashes));
        let mut attrs = vec![{
            let mut a = c.attribute("filename", "Payload delivery", &t.name, false, "");
            a["object_relation"] = json!("filename");
            a["uuid"] = json!(c.uuid(&format!("{obj_uuid}\u{0}filename")));
            a
        }];
        for (algo, hex) in &t.hashes {
            let ty = algo.misp_type();
            let mut a = c.attribute(ty, "Payload delivery", hex, true, "");
            a["object_relation"] = json!(ty);
            a["uuid"] = json!(c.uuid(&format!("{obj_uuid}\u{0}{ty}")));
            if let Some(t) = t.first {
                a["first_seen"] = json!(iso(t));
            }
            if let Some(t) = t.last {
                a["last_seen"] = json!(iso(t));
            }
            attrs.push(a);
        }
        objects.push(json!({
            "uuid": obj_uuid,
            "name": "file",
            "meta-category": "file",
            "description": "File object describing a file with meta-information",
            "template_uuid": FILE_TEMPLATE_UUID,
            "template_version": FILE_TEMPLATE_VERSION,
            "timestamp": c.timestamp,
            "comment": format!("{} — {}", Role::Tool.words(lang), t.rules.join("; ")),
            "Attribute": attrs,
        }));
    }
    let mut tags = vec![json!({"name": tlp.misp_tag()})];
    for t in &f.techniques {
        if let Some(name) = &t.name {
            tags.push(
                json!({"name": format!("misp-galaxy:mitre-attack-pattern=\"{name} - {}\"", t.id)}),
            );
        }
    }
    let (info, date, threat) = match &f.incident {
        Some(i) => (
            format!("{} — {}", f.organisation, i.name),
            i.first.format("%Y-%m-%d").to_string(),
            match i.severity {
                vigie_detect::Level::Critical | vigie_detect::Level::High => "1",
                vigie_detect::Level::Medium => "2",
                _ => "3",
            },
        ),
        None => (
            f.organisation.clone(),
            f.as_of.format("%Y-%m-%d").to_string(),
            "4",
        ),
    };
    json!({
        "Event": {
            "uuid": event_uuid,
            "info": info,
            "date": date,
            "timestamp": c.timestamp,
            "publish_timestamp": c.timestamp,
            "published": false,
            "analysis": "1",
            "threat_level_id": threat,
            "Orgc": {
                "name": f.organisation,
                "uuid": uuid_from(&format!("misp-org\u{0}{}", f.organisation)).to_string(),
            },
            "Tag": tags,
            "Attribute": attributes,
            "Object": objects,
        }
    })
}

/// The files of a MISP feed holding `event`: (`manifest.json`,
/// `<uuid>.json`, `hashes.csv`) as (name, content).
pub fn feed(event: &Json) -> Vec<(String, String)> {
    let e = &event["Event"];
    let uuid = e["uuid"].as_str().unwrap_or_default().to_string();
    let manifest = json!({
        uuid.clone(): {
            "Orgc": e["Orgc"],
            "Tag": e["Tag"],
            "info": e["info"],
            "date": e["date"],
            "analysis": e["analysis"],
            "threat_level_id": e["threat_level_id"],
            "timestamp": e["timestamp"],
        }
    });
    // `hashes.csv`: the MD5 of every attribute value (each part of a
    // composite `a|b` value), with the event's UUID.
    let mut hashes = String::new();
    let attributes = e["Attribute"].as_array().into_iter().flatten().chain(
        e["Object"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|o| o["Attribute"].as_array().into_iter().flatten()),
    );
    for a in attributes {
        let v = a["value"].as_str().unwrap_or_default();
        let composite = a["type"].as_str().is_some_and(|t| t.contains('|'));
        let parts: Vec<&str> = if composite {
            v.split('|').collect()
        } else {
            vec![v]
        };
        for part in parts {
            let _ = writeln!(hashes, "{:x},{uuid}", Md5::digest(part.as_bytes()));
        }
    }
    vec![
        (
            "manifest.json".into(),
            serde_json::to_string_pretty(&manifest).unwrap_or_default(),
        ),
        (
            format!("{uuid}.json"),
            serde_json::to_string_pretty(event).unwrap_or_default(),
        ),
        ("hashes.csv".into(), hashes),
    ]
}
