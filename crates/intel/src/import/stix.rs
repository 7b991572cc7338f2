//! STIX 2.1 bundles (and TAXII envelopes, and lone objects): `indicator`
//! objects with STIX patterns become [`Indicator`]s.
//!
//! * source: the `identity` of `created_by_ref` when the bundle holds it,
//!   else the file or collection;
//! * TLP: `object_marking_refs` naming a TLP 1.0 or 2.0 marking (the
//!   published ids, or a `marking-definition` of the bundle that is one);
//! * validity: `valid_from`, `valid_until`, narrowed by the pattern's
//!   `START … STOP …`; `revoked` indicators are not imported (counted);
//! * confidence: `confidence`;
//! * tags: `kill_chain_phases` of the `mitre-attack` chain, ATT&CK ids of
//!   `external_references`, and the techniques of the `attack-pattern`s
//!   the indicator `indicates`.
//!
//! Other objects are not indicators: counted by type, not lost.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value as Json;

use super::lenient::{self, Bool, List, Obj, Str, UInt, Values};

use crate::model::{Format, Imported, Indicator, ProblemKind, Source, Tlp};
use crate::pattern::{self, PatternError};

/// The TLP marking definitions, by id: TLP 2.0 (the OASIS extension) and
/// TLP 1.0 (STIX 2.1 section 7.2.1.4).
pub const TLP_MARKINGS: &[(&str, Tlp)] = &[
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Clear,
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Green,
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::Amber,
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::AmberStrict,
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        Tlp::Red,
    ),
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
];

/// The fields of a STIX object that the reader uses, borrowed from the
/// document (see [`super::lenient`]): the rest is skipped unread.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Object<'a> {
    #[serde(borrow, rename = "type")]
    pub ty: Str<'a>,
    #[serde(borrow)]
    pub id: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
    revoked: Bool,
    #[serde(borrow)]
    pattern_type: Str<'a>,
    #[serde(borrow)]
    pattern: Str<'a>,
    #[serde(borrow)]
    created_by_ref: Str<'a>,
    #[serde(borrow)]
    object_marking_refs: List<Str<'a>>,
    #[serde(borrow)]
    valid_from: Str<'a>,
    #[serde(borrow)]
    valid_until: Str<'a>,
    #[serde(borrow)]
    kill_chain_phases: List<Obj<Phase<'a>>>,
    #[serde(borrow)]
    external_references: List<Obj<Reference<'a>>>,
    confidence: UInt,
    #[serde(borrow)]
    description: Str<'a>,
    #[serde(borrow)]
    relationship_type: Str<'a>,
    #[serde(borrow)]
    source_ref: Str<'a>,
    #[serde(borrow)]
    target_ref: Str<'a>,
    /// A marking's extensions, by extension id (the TLP 2.0 one).
    #[serde(borrow)]
    extensions: Values<Obj<Extension<'a>>>,
    #[serde(borrow)]
    definition_type: Str<'a>,
    #[serde(borrow)]
    definition: Obj<Definition<'a>>,
}

impl Object<'_> {
    /// Whether it has a `type` and an `id` (what tells STIX objects).
    pub fn is_typed(&self) -> bool {
        self.ty.0.is_some() && self.id.0.is_some()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Phase<'a> {
    #[serde(borrow)]
    kill_chain_name: Str<'a>,
    #[serde(borrow)]
    phase_name: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Reference<'a> {
    #[serde(borrow)]
    source_name: Str<'a>,
    #[serde(borrow)]
    external_id: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Extension<'a> {
    #[serde(borrow)]
    tlp_2_0: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Definition<'a> {
    #[serde(borrow)]
    tlp: Str<'a>,
}

/// Reads STIX objects given as their JSON text (the elements of a
/// bundle's `objects`): each on its own, side by side for a large bundle.
/// An element that is not valid JSON for an object is a problem with its
/// index (in the second value); the others are read.
pub fn parse_raw<'a>(raw: &[&'a RawValue], location: &str) -> (Vec<Object<'a>>, Imported) {
    let parse = |(i, r): (usize, &&'a RawValue)| {
        lenient::parse::<Obj<Object<'a>>>(r)
            .map(|o| o.0.unwrap_or_default())
            .map_err(|e| (i, e))
    };
    let parsed: Vec<Result<Object<'a>, (usize, serde_json::Error)>> = if raw.len() >= PARALLEL_FROM
    {
        use rayon::prelude::*;
        raw.par_iter()
            .enumerate()
            .with_min_len(CHUNK)
            .map(parse)
            .collect()
    } else {
        raw.iter().enumerate().map(parse).collect()
    };
    let mut objects = Vec::with_capacity(parsed.len());
    let mut problems = Imported::default();
    for p in parsed {
        match p {
            Ok(o) => objects.push(o),
            Err((i, e)) => problems.problem(
                format!("{location} object #{}", i + 1),
                ProblemKind::Invalid,
                format!("JSON: {e}"),
            ),
        }
    }
    (objects, problems)
}

/// Reads a list of STIX objects already parsed as JSON values (what a
/// TAXII collection returns).
pub fn import_objects(objects: &[&Json], location: &str, out: &mut Imported) {
    let mut typed = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        match Obj::<Object>::deserialize(*o) {
            Ok(o) => typed.push(o.0.unwrap_or_default()),
            Err(e) => out.problem(
                format!("{location} object #{}", i + 1),
                ProblemKind::Invalid,
                format!("JSON: {e}"),
            ),
        }
    }
    import_typed(&typed, location, out);
}

/// Reads typed STIX objects: their identities, markings, techniques and
/// `indicates` relationships first, then the indicators.
pub fn import_typed(objects: &[Object<'_>], location: &str, out: &mut Imported) {
    let fallback = Arc::new(Source {
        name: short_name(location),
        location: location.to_string(),
        format: Format::Stix,
    });
    let mut identities: HashMap<&str, Arc<Source>> = HashMap::new();
    let mut tlp_ids: HashMap<&str, Tlp> = TLP_MARKINGS.iter().copied().collect();
    let mut techniques: HashMap<&str, Vec<String>> = HashMap::new();
    let mut indicates: HashMap<&str, Vec<&str>> = HashMap::new();
    for o in objects {
        let ty = o.ty.get().unwrap_or("");
        let id = o.id.get().unwrap_or("");
        match ty {
            "identity" => {
                if let Some(name) = o.name.get() {
                    identities.insert(
                        id,
                        Arc::new(Source {
                            name: name.to_string(),
                            location: location.to_string(),
                            format: Format::Stix,
                        }),
                    );
                }
            }
            "marking-definition" => {
                if let Some(t) = marking_tlp(o) {
                    tlp_ids.insert(id, t);
                }
            }
            "attack-pattern" => {
                techniques.insert(id, attack_ids(o));
            }
            "relationship" if o.relationship_type.get() == Some("indicates") => {
                if let (Some(s), Some(t)) = (o.source_ref.get(), o.target_ref.get()) {
                    indicates.entry(s).or_default().push(t);
                }
            }
            _ => {}
        }
    }
    let context = Context {
        location,
        fallback: &fallback,
        identities: &identities,
        tlp_ids: &tlp_ids,
        techniques: &techniques,
        indicates: &indicates,
    };
    // A large bundle's indicators are read side by side, by chunks merged
    // in order: the same indicators and problems, in the same order, as
    // one pass (a 40,000-indicator bundle is the long pole of `hunt
    // --ioc`'s start otherwise).
    if objects.len() >= PARALLEL_FROM {
        use rayon::prelude::*;
        let parts: Vec<Imported> = objects
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut part = Imported::default();
                indicators_of(chunk, &context, &mut part);
                part
            })
            .collect();
        out.merge_all(parts);
    } else {
        indicators_of(objects, &context, out);
    }
}

/// Objects from which a bundle is read by chunks side by side.
const PARALLEL_FROM: usize = 4096;
/// Objects per chunk.
const CHUNK: usize = 2048;

/// What the indicators of a bundle are read with: its identities,
/// markings, techniques and `indicates` relationships.
struct Context<'a> {
    location: &'a str,
    fallback: &'a Arc<Source>,
    identities: &'a HashMap<&'a str, Arc<Source>>,
    tlp_ids: &'a HashMap<&'a str, Tlp>,
    techniques: &'a HashMap<&'a str, Vec<String>>,
    indicates: &'a HashMap<&'a str, Vec<&'a str>>,
}

/// The `indicator` objects of `objects` (the others counted by type).
fn indicators_of(objects: &[Object<'_>], cx: &Context<'_>, out: &mut Imported) {
    let Context {
        location,
        fallback,
        identities,
        tlp_ids,
        techniques,
        indicates,
    } = *cx;
    for o in objects {
        let ty = o.ty.get().unwrap_or("");
        if ty != "indicator" {
            *out.other_objects
                .entry(if ty.is_empty() {
                    "(no type)".into()
                } else {
                    ty.to_string()
                })
                .or_default() += 1;
            continue;
        }
        let id = o.id.get().unwrap_or("");
        // Made only for a problem: most indicators have none.
        let place = || format!("{location} {id}");
        if o.revoked.0 == Some(true) {
            out.problem(place(), ProblemKind::Revoked, "revoked by its producer");
            continue;
        }
        let pattern_type = o.pattern_type.get().unwrap_or("stix");
        if pattern_type != "stix" {
            out.problem(
                place(),
                ProblemKind::Unsupported,
                format!("pattern_type '{pattern_type}': Vigie reads STIX patterns only"),
            );
            continue;
        }
        let Some(text) = o.pattern.get() else {
            out.problem(place(), ProblemKind::Invalid, "indicator without pattern");
            continue;
        };
        let lowered = match pattern::compile(text) {
            Ok(l) => l,
            Err(e) => {
                let kind = match e {
                    PatternError::Unsupported(_) => ProblemKind::Unsupported,
                    _ => ProblemKind::Invalid,
                };
                out.problem(
                    place(),
                    kind,
                    format!("pattern {}: {e}", crate::normalize::cut(text, 200)),
                );
                continue;
            }
        };
        let source = o
            .created_by_ref
            .get()
            .and_then(|c| identities.get(c).cloned())
            .unwrap_or_else(|| fallback.clone());
        let tlp = o
            .object_marking_refs
            .0
            .iter()
            .filter_map(|m| m.get().and_then(|m| tlp_ids.get(m)))
            .max()
            .copied();
        let mut valid_from = time(o.valid_from.get());
        let mut valid_until = time(o.valid_until.get());
        if let Some(s) = lowered.start {
            valid_from = Some(valid_from.map_or(s, |v| v.max(s)));
        }
        if let Some(s) = lowered.stop {
            valid_until = Some(valid_until.map_or(s, |v| v.min(s)));
        }
        let mut tags: Vec<Box<str>> = Vec::new();
        for k in o.kill_chain_phases.0.iter().filter_map(|k| k.0.as_ref()) {
            if k.kill_chain_name.get() == Some("mitre-attack") {
                if let Some(p) = k.phase_name.get() {
                    tags.push(format!("attack.{}", p.to_ascii_lowercase()).into());
                }
            }
        }
        for t in attack_ids(o) {
            tags.push(format!("attack.{}", t.to_ascii_lowercase()).into());
        }
        for target in indicates.get(id).into_iter().flatten() {
            for t in techniques.get(target).into_iter().flatten() {
                tags.push(format!("attack.{}", t.to_ascii_lowercase()).into());
            }
        }
        tags.sort();
        tags.dedup();
        out.indicators.push(Indicator {
            id: if id.is_empty() {
                crate::ids::ioc_id(&source.name, text).into()
            } else {
                id.into()
            },
            name: o.name.get().map(Into::into),
            pattern: text.into(),
            condition: lowered.condition,
            source,
            tlp,
            valid_from,
            valid_until,
            confidence: o.confidence.0.map(|c| c.min(100) as u8),
            tags,
            description: o.description.get().map(Into::into),
        });
    }
}

/// The TLP of a `marking-definition`: TLP 2.0 extension, or TLP 1.0
/// `definition_type: tlp`.
fn marking_tlp(o: &Object<'_>) -> Option<Tlp> {
    for ext in o.extensions.0.iter().filter_map(|e| e.0.as_ref()) {
        if let Some(t) = ext.tlp_2_0.get() {
            return Tlp::parse(t);
        }
    }
    if o.definition_type.get() == Some("tlp") {
        return o
            .definition
            .0
            .as_ref()
            .and_then(|d| d.tlp.get())
            .and_then(Tlp::parse);
    }
    o.name.get().and_then(Tlp::parse)
}

/// ATT&CK technique ids (`T1021.001`) of an object's external references.
fn attack_ids(o: &Object<'_>) -> Vec<String> {
    o.external_references
        .0
        .iter()
        .filter_map(|r| r.0.as_ref())
        .filter(|r| r.source_name.get() == Some("mitre-attack"))
        .filter_map(|r| r.external_id.get())
        .filter(|id| id.starts_with('T') || id.starts_with('t'))
        .map(str::to_string)
        .collect()
}

fn time(v: Option<&str>) -> Option<DateTime<Utc>> {
    v.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The file name of a path or URL, for naming a source.
pub fn short_name(location: &str) -> String {
    location
        .trim_end_matches('/')
        .rsplit(['/', '\\'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(location)
        .to_string()
}
