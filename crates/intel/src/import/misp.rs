//! MISP events (`{"Event": …}`, a list of them, a `{"response": […]}`
//! search result) and the event files of a MISP feed.
//!
//! Each attribute (of the event, and of its objects) with `to_ids` set
//! becomes an indicator; those without are counted as not for detection
//! (MISP's own meaning of the flag), deleted ones as revoked. Types:
//!
//! | MISP type | matched as |
//! |---|---|
//! | `ip-src`, `ip-dst`, `ip-src\|port`, `ip-dst\|port` | address or network (the port is not matched) |
//! | `domain` | the domain and its subdomains |
//! | `hostname`, `hostname\|port` | exactly this name |
//! | `domain\|ip` | the domain, or the address |
//! | `url` | the URL (normalised), which also holds for the same URL in a proxy log |
//! | `md5`, `sha1`, `sha256`, `imphash` | the digest |
//! | `filename\|md5`, `filename\|sha1`, `filename\|sha256`, `filename\|imphash` | the digest (a renamed file is the same file) |
//! | `filename` | the file name |
//!
//! Other types are reported unsupported with their type. TLP and ATT&CK
//! come from tags (`tlp:amber`, `misp-galaxy:mitre-attack-pattern="… -
//! T1021.001"`), the attribute's over the event's; confidence from
//! `estimative-language:confidence-in-analytic-judgment`.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::model::{
    Condition, Format, HashAlgo, Imported, Indicator, ProblemKind, Source, Subdomains, Test, Tlp,
};
use crate::normalize;

/// Whether a JSON document is MISP: an `Event`, a list of them, or a
/// search `response`.
pub fn is_misp(doc: &Json) -> bool {
    match doc {
        Json::Object(o) => {
            o.contains_key("Event") || o.get("response").is_some_and(|r| r.is_array())
        }
        Json::Array(a) => a.first().is_some_and(|e| e.get("Event").is_some()),
        _ => false,
    }
}

/// Reads every event of a MISP document.
pub fn import(doc: &Json, location: &str, out: &mut Imported) {
    let events: Vec<&Json> = match doc {
        Json::Object(o) if o.contains_key("Event") => vec![&o["Event"]],
        Json::Object(o) => o["response"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e.get("Event").unwrap_or(e))
            .collect(),
        Json::Array(a) => a.iter().map(|e| e.get("Event").unwrap_or(e)).collect(),
        _ => Vec::new(),
    };
    for e in events {
        event(e, location, out);
    }
}

fn event(e: &Json, location: &str, out: &mut Imported) {
    let org = e["Orgc"]["name"]
        .as_str()
        .or_else(|| e["Org"]["name"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| super::stix::short_name(location));
    let source = Arc::new(Source {
        name: org,
        location: location.to_string(),
        format: Format::Misp,
    });
    let event_tags = Tags::of(&e["Tag"]);
    let info = e["info"].as_str().map(str::to_string);
    let uuid = e["uuid"].as_str().unwrap_or("");
    for a in e["Attribute"].as_array().into_iter().flatten() {
        attribute(
            a,
            &source,
            &event_tags,
            info.as_deref(),
            uuid,
            location,
            out,
        );
    }
    for obj in e["Object"].as_array().into_iter().flatten() {
        if flag(&obj["deleted"]) {
            continue;
        }
        for a in obj["Attribute"].as_array().into_iter().flatten() {
            attribute(
                a,
                &source,
                &event_tags,
                info.as_deref(),
                uuid,
                location,
                out,
            );
        }
    }
}

/// `true`, `1`, `"1"`, `"true"`.
fn flag(v: &Json) -> bool {
    match v {
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_i64() == Some(1),
        Json::String(s) => s == "1" || s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[derive(Default, Clone)]
struct Tags {
    tlp: Option<Tlp>,
    confidence: Option<u8>,
    attack: Vec<Box<str>>,
}

impl Tags {
    fn of(list: &Json) -> Tags {
        let mut t = Tags::default();
        for tag in list.as_array().into_iter().flatten() {
            let Some(name) = tag["name"].as_str() else {
                continue;
            };
            if let Some(tlp) = name
                .to_ascii_lowercase()
                .strip_prefix("tlp:")
                .and_then(Tlp::parse)
            {
                t.tlp = t.tlp.max(Some(tlp));
            } else if let Some(v) =
                name.strip_prefix("estimative-language:confidence-in-analytic-judgment=")
            {
                t.confidence = match v.trim_matches('"') {
                    "low" => Some(15),
                    "moderate" => Some(50),
                    "high" => Some(85),
                    _ => t.confidence,
                };
            } else if name.starts_with("misp-galaxy:mitre-attack-pattern=") {
                // `misp-galaxy:mitre-attack-pattern="Remote Desktop Protocol - T1021.001"`
                if let Some(id) = name
                    .trim_end_matches('"')
                    .rsplit(" - ")
                    .next()
                    .filter(|id| id.starts_with('T'))
                {
                    t.attack
                        .push(format!("attack.{}", id.to_ascii_lowercase()).into());
                }
            }
        }
        t
    }

    fn over(&self, event: &Tags) -> Tags {
        let mut attack = event.attack.clone();
        attack.extend(self.attack.iter().cloned());
        attack.sort();
        attack.dedup();
        Tags {
            tlp: self.tlp.or(event.tlp),
            confidence: self.confidence.or(event.confidence),
            attack,
        }
    }
}

fn attribute(
    a: &Json,
    source: &Arc<Source>,
    event_tags: &Tags,
    info: Option<&str>,
    event_uuid: &str,
    location: &str,
    out: &mut Imported,
) {
    let ty = a["type"].as_str().unwrap_or("");
    let value = match &a["value"] {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let uuid = a["uuid"].as_str().unwrap_or("");
    let place = format!(
        "{location} event {event_uuid} attribute {}",
        if uuid.is_empty() { ty } else { uuid }
    );
    if flag(&a["deleted"]) {
        out.problem(place, ProblemKind::Revoked, "deleted attribute");
        return;
    }
    if !flag(&a["to_ids"]) {
        out.problem(
            place,
            ProblemKind::NotForDetection,
            format!(
                "{ty} {}: to_ids is off (not for detection)",
                normalize::cut(&value, 80)
            ),
        );
        return;
    }
    let condition = match condition(ty, &value) {
        Ok(c) => c,
        Err((kind, why)) => {
            out.problem(place, kind, why);
            return;
        }
    };
    let tags = Tags::of(&a["Tag"]).over(event_tags);
    let comment = a["comment"].as_str().filter(|c| !c.is_empty());
    out.indicators.push(Indicator {
        id: if uuid.is_empty() {
            crate::ids::ioc_id(&source.name, &format!("{ty}:{value}")).into()
        } else {
            uuid.into()
        },
        name: comment.map(Into::into),
        pattern: format!("{ty}: {value}").into(),
        condition,
        source: source.clone(),
        tlp: tags.tlp,
        valid_from: None,
        valid_until: None,
        confidence: tags.confidence,
        tags: tags.attack,
        description: info.map(Into::into),
    });
}

/// The condition of a MISP attribute, or why it has none.
pub fn condition(ty: &str, value: &str) -> Result<Condition, (ProblemKind, String)> {
    let invalid = || {
        (
            ProblemKind::Invalid,
            format!("{ty} '{}' is not valid", normalize::cut(value, 80)),
        )
    };
    let left = value.split('|').next().unwrap_or("");
    let right = value.split_once('|').map(|x| x.1).unwrap_or("");
    let nets = |s: &str| {
        normalize::ip_nets(s)
            .filter(|v| !v.is_empty())
            .ok_or_else(invalid)
    };
    let test = match ty {
        "ip-src" | "ip-dst" => return Ok(Condition::any_of(nets(value)?.into_iter().map(Test::Ip))),
        "ip-src|port" | "ip-dst|port" => {
            return Ok(Condition::any_of(nets(left)?.into_iter().map(Test::Ip)))
        }
        "domain" => Test::Domain(normalize::domain(value).ok_or_else(invalid)?.into(), Subdomains::Included),
        "hostname" | "hostname|port" => {
            Test::Domain(normalize::domain(left).ok_or_else(invalid)?.into(), Subdomains::Excluded)
        }
        "domain|ip" => {
            let d = normalize::domain(left).ok_or_else(invalid)?;
            let mut tests = vec![Test::Domain(d.into(), Subdomains::Included)];
            tests.extend(nets(right)?.into_iter().map(Test::Ip));
            return Ok(Condition::any_of(tests));
        }
        "url" => Test::Url(normalize::url(value).ok_or_else(invalid)?.into()),
        "md5" | "sha1" | "sha256" | "imphash" => {
            let algo = hash_type(ty);
            Test::Hash(algo, normalize::hash_of(algo, value).ok_or_else(invalid)?.into())
        }
        "filename|md5" | "filename|sha1" | "filename|sha256" | "filename|imphash" => {
            let algo = hash_type(&ty["filename|".len()..]);
            Test::Hash(algo, normalize::hash_of(algo, right).ok_or_else(invalid)?.into())
        }
        "filename" => Test::FileName(normalize::file_name(value).ok_or_else(invalid)?.into()),
        other => {
            return Err((
                ProblemKind::Unsupported,
                format!("type {other}: Vigie matches addresses, domains, URLs, MD5/SHA-1/SHA-256/imphash digests and file names"),
            ))
        }
    };
    Ok(Condition::single(test))
}

fn hash_type(ty: &str) -> HashAlgo {
    match ty {
        "md5" => HashAlgo::Md5,
        "sha1" => HashAlgo::Sha1,
        "imphash" => HashAlgo::Imphash,
        _ => HashAlgo::Sha256,
    }
}
