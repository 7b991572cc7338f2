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

use serde::Deserialize;
use serde_json::value::RawValue;

use super::lenient::{self, Flag, List, Obj, RawList, Str, Text};

use crate::model::{
    Condition, Format, HashAlgo, Imported, Indicator, ProblemKind, Source, Subdomains, Test, Tlp,
};
use crate::normalize;

/// The fields of a MISP event that the reader uses, borrowed from the
/// document (see [`super::lenient`]). Its attributes are kept as JSON
/// text, read one by one (side by side for a large event).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Event<'a> {
    #[serde(borrow, rename = "Orgc")]
    orgc: Obj<Org<'a>>,
    #[serde(borrow, rename = "Org")]
    org: Obj<Org<'a>>,
    #[serde(borrow, rename = "Tag")]
    tags: List<Obj<Tag<'a>>>,
    #[serde(borrow)]
    info: Str<'a>,
    #[serde(borrow)]
    uuid: Str<'a>,
    #[serde(borrow, rename = "Attribute")]
    attributes: RawList<'a>,
    #[serde(borrow, rename = "Object")]
    objects: List<Obj<MispObject<'a>>>,
    /// An element of a list or search result that wraps its event.
    #[serde(borrow, rename = "Event", deserialize_with = "present")]
    pub wrapped: Option<&'a RawValue>,
}

/// A field present, whatever its value (`null` included).
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Org<'a> {
    #[serde(borrow)]
    name: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Tag<'a> {
    #[serde(borrow)]
    name: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MispObject<'a> {
    deleted: Flag,
    #[serde(borrow, rename = "Attribute")]
    attributes: RawList<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Attribute<'a> {
    #[serde(borrow, rename = "type")]
    ty: Str<'a>,
    #[serde(borrow)]
    value: Text<'a>,
    #[serde(borrow)]
    uuid: Str<'a>,
    deleted: Flag,
    to_ids: Flag,
    #[serde(borrow, rename = "Tag")]
    tags: List<Obj<Tag<'a>>>,
    #[serde(borrow)]
    comment: Str<'a>,
}

/// Reads the events of a MISP document given as JSON text: `{"Event":
/// …}` (its event's text), or the elements of a list or of a search
/// `response` (each an event, or `{"Event": …}`).
pub fn import_events(events: &[&RawValue], location: &str, out: &mut Imported) {
    for (n, raw) in events.iter().enumerate() {
        let e = lenient::parse::<Obj<Event>>(raw).and_then(|e| {
            let e = e.0.unwrap_or_default();
            match e.wrapped {
                Some(inner) => lenient::parse::<Obj<Event>>(inner).map(|e| e.0.unwrap_or_default()),
                None => Ok(e),
            }
        });
        match e {
            Ok(e) => event(&e, location, out),
            Err(err) => out.problem(
                format!("{location} event #{}", n + 1),
                ProblemKind::Invalid,
                format!("JSON: {err}"),
            ),
        }
    }
}

/// Attributes from which an event's are read by chunks side by side.
const PARALLEL_FROM: usize = 4096;
/// Attributes per chunk.
const CHUNK: usize = 2048;

fn event(e: &Event<'_>, location: &str, out: &mut Imported) {
    let org = e
        .orgc
        .0
        .as_ref()
        .and_then(|o| o.name.get())
        .or_else(|| e.org.0.as_ref().and_then(|o| o.name.get()))
        .map(str::to_string)
        .unwrap_or_else(|| super::stix::short_name(location));
    let source = Arc::new(Source {
        name: org,
        location: location.to_string(),
        format: Format::Misp,
    });
    let event_tags = Tags::of(&e.tags.0);
    let cx = Cx {
        source: &source,
        event_tags: &event_tags,
        info: e.info.get(),
        event_uuid: e.uuid.get().unwrap_or(""),
        location,
    };
    let mut lists: Vec<&[&RawValue]> = Vec::new();
    if let Some(a) = &e.attributes.0 {
        lists.push(a);
    }
    for obj in e.objects.0.iter().filter_map(|o| o.0.as_ref()) {
        if obj.deleted.0 {
            continue;
        }
        if let Some(a) = &obj.attributes.0 {
            lists.push(a);
        }
    }
    for list in lists {
        // A large event's attributes are read side by side, by chunks
        // merged in order: the same indicators and problems, in order.
        if list.len() >= PARALLEL_FROM {
            use rayon::prelude::*;
            let parts: Vec<Imported> = list
                .par_chunks(CHUNK)
                .map(|chunk| {
                    let mut part = Imported::default();
                    for a in chunk {
                        attribute(a, &cx, &mut part);
                    }
                    part
                })
                .collect();
            out.merge_all(parts);
        } else {
            for a in list {
                attribute(a, &cx, out);
            }
        }
    }
}

#[derive(Default, Clone)]
struct Tags {
    tlp: Option<Tlp>,
    confidence: Option<u8>,
    attack: Vec<Box<str>>,
}

impl Tags {
    fn of(list: &[Obj<Tag<'_>>]) -> Tags {
        let mut t = Tags::default();
        for tag in list.iter().filter_map(|t| t.0.as_ref()) {
            let Some(name) = tag.name.get() else {
                continue;
            };
            if let Some(tlp) = name
                .get(..4)
                .filter(|p| p.eq_ignore_ascii_case("tlp:"))
                .and_then(|_| Tlp::parse(&name[4..]))
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
        t.attack.sort();
        t.attack.dedup();
        t
    }

    /// The attribute's tags over the event's. An attribute without tags
    /// (most) takes the event's as they are.
    fn over(self, event: &Tags) -> Tags {
        if self.tlp.is_none() && self.confidence.is_none() && self.attack.is_empty() {
            return event.clone();
        }
        let mut attack = event.attack.clone();
        attack.extend(self.attack);
        attack.sort();
        attack.dedup();
        Tags {
            tlp: self.tlp.or(event.tlp),
            confidence: self.confidence.or(event.confidence),
            attack,
        }
    }
}

/// What the attributes of one event are read with.
struct Cx<'a> {
    source: &'a Arc<Source>,
    event_tags: &'a Tags,
    info: Option<&'a str>,
    event_uuid: &'a str,
    location: &'a str,
}

fn attribute(raw: &RawValue, cx: &Cx<'_>, out: &mut Imported) {
    let Cx {
        source,
        event_tags,
        info,
        event_uuid,
        location,
    } = *cx;
    let a = match lenient::parse::<Obj<Attribute>>(raw) {
        Ok(a) => a.0.unwrap_or_default(),
        Err(e) => {
            out.problem(
                format!("{location} event {event_uuid} attribute"),
                ProblemKind::Invalid,
                format!("JSON: {e}"),
            );
            return;
        }
    };
    let ty = a.ty.get().unwrap_or("");
    let value = a.value.0.as_deref().unwrap_or("");
    let uuid = a.uuid.get().unwrap_or("");
    // Made only for a problem: most attributes have none.
    let place = || {
        format!(
            "{location} event {event_uuid} attribute {}",
            if uuid.is_empty() { ty } else { uuid }
        )
    };
    if a.deleted.0 {
        out.problem(place(), ProblemKind::Revoked, "deleted attribute");
        return;
    }
    if !a.to_ids.0 {
        out.problem(
            place(),
            ProblemKind::NotForDetection,
            format!(
                "{ty} {}: to_ids is off (not for detection)",
                normalize::cut(value, 80)
            ),
        );
        return;
    }
    let condition = match condition(ty, value) {
        Ok(c) => c,
        Err((kind, why)) => {
            out.problem(place(), kind, why);
            return;
        }
    };
    let tags = Tags::of(&a.tags.0).over(event_tags);
    let comment = a.comment.get().filter(|c| !c.is_empty());
    out.indicators.push(Indicator {
        id: if uuid.is_empty() {
            crate::ids::ioc_id(&source.name, &format!("{ty}:{value}")).into()
        } else {
            uuid.into()
        },
        name: comment.map(Into::into),
        pattern: format!("{ty}: {value}").into(),
        condition,
        source: (*source).clone(),
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
