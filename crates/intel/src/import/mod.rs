//! Indicators in: the format is told by the content, never by the name.
//!
//! [`import_bytes`] reads one document (what `vigie serve` receives by
//! upload or from a feed); [`import_path`] a file or a directory (a MISP
//! feed directory, a folder of exports); [`import_url`] a file or a MISP
//! feed over HTTP(S). Everything not read is in [`Imported::problems`]
//! with its place and reason.

pub mod csv;
pub mod lenient;
pub mod misp;
pub mod stix;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value as Json;

use crate::model::{Imported, ProblemKind};

/// Largest document read (bytes): a full ThreatFox dump is about 100 MB.
pub const MAX_DOCUMENT: u64 = 512 * 1024 * 1024;
/// Most files read under one directory.
pub const MAX_FILES: usize = 100_000;

/// A path that could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
    #[error("{path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{location}: {reason}")]
    Fetch { location: String, reason: String },
}

/// Reads indicators from one document, whatever its format: STIX 2.1
/// (bundle, TAXII envelope, objects), MISP (event, list, search result),
/// abuse.ch CSV, `value,type` CSV, plain list.
pub fn import_bytes(bytes: &[u8], location: &str) -> Imported {
    let mut out = Imported {
        files: 1,
        ..Default::default()
    };
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        out.problem(
            location,
            ProblemKind::NotIndicators,
            "not UTF-8 text (compressed or binary?)",
        );
        return out;
    };
    let start = text.trim_start();
    if start.starts_with('{') || start.starts_with('[') {
        json(start, location, &mut out);
        if out
            .problems
            .iter()
            .any(|p| p.reason.contains("duplicate field"))
        {
            // A key given twice (in an object, an attribute, the document
            // itself): the typed readers refuse it, where a JSON tree keeps
            // the last one — as Vigie read such documents before, and as
            // Python's json and MISP do. Rare: the document is read again
            // with each object's keys made unique that way, so no
            // indicator it holds is lost to it.
            if let Ok(tree) = serde_json::from_str::<Json>(start) {
                let unique = tree.to_string();
                out = Imported {
                    files: 1,
                    ..Default::default()
                };
                json(&unique, location, &mut out);
            }
        }
    } else if start.is_empty() {
        out.problem(location, ProblemKind::NotIndicators, "empty");
    } else {
        csv::import(text, location, &mut out);
    }
    out
}

/// The top of a JSON document: what tells its format, its parts kept as
/// JSON text to be read as what they turn out to be.
enum Doc<'a> {
    Map(Top<'a>),
    List(Vec<&'a RawValue>),
    Other,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Top<'a> {
    #[serde(borrow, rename = "type")]
    ty: lenient::Str<'a>,
    #[serde(borrow)]
    id: lenient::Str<'a>,
    /// A bundle's or a TAXII envelope's objects.
    #[serde(borrow)]
    objects: lenient::RawList<'a>,
    /// A MISP event.
    #[serde(borrow, rename = "Event", deserialize_with = "misp::present")]
    event: Option<&'a RawValue>,
    /// A MISP search result.
    #[serde(borrow)]
    response: lenient::RawList<'a>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Doc<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Doc<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object or array")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Doc<'a>, A::Error> {
                Top::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Doc::Map)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Doc<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<&'de RawValue>()? {
                    out.push(x);
                }
                Ok(Doc::List(out))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Doc<'a>, E> {
                Ok(Doc::Other)
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Doc<'a>, E> {
                Ok(Doc::Other)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Doc<'a>, E> {
                Ok(Doc::Other)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Doc<'a>, E> {
                Ok(Doc::Other)
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Doc<'a>, E> {
                Ok(Doc::Other)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Doc<'a>, E> {
                Ok(Doc::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Reads a JSON document: MISP (an `Event`, a list of them, a search
/// `response`), else STIX 2.1 (a bundle, a TAXII envelope, a list of
/// objects, one object). Read into typed, borrowed structures (see
/// [`lenient`]), never into a `serde_json::Value` tree: only the fields
/// used are built.
fn json(text: &str, location: &str, out: &mut Imported) {
    let doc = match serde_json::from_str::<Doc>(text) {
        Ok(d) => d,
        Err(e) => {
            out.problem(location, ProblemKind::Invalid, format!("JSON: {e}"));
            return;
        }
    };
    match doc {
        Doc::Map(top) => {
            if let Some(event) = top.event {
                return misp::import_events(&[event], location, out);
            }
            if let Some(events) = &top.response.0 {
                return misp::import_events(events, location, out);
            }
            if let Some(objects) = &top.objects.0 {
                let (parsed, problems) = stix::parse_raw(objects, location);
                if top.ty.get() == Some("bundle") || parsed.iter().all(stix::Object::is_typed) {
                    out.merge(problems);
                    return stix::import_typed(&parsed, location, out);
                }
            } else if top.ty.get() == Some("bundle") {
                return stix::import_typed(&[], location, out);
            }
            if top.ty.0.is_some() && top.id.0.is_some() {
                // One STIX object.
                match serde_json::from_str::<lenient::Obj<stix::Object>>(text) {
                    Ok(o) => stix::import_typed(&[o.0.unwrap_or_default()], location, out),
                    Err(e) => out.problem(location, ProblemKind::Invalid, format!("JSON: {e}")),
                }
                return;
            }
        }
        Doc::List(items) => {
            let first_is_event = items.first().is_some_and(|f| {
                lenient::parse::<lenient::Obj<misp::Event>>(f)
                    .is_ok_and(|e| e.0.is_some_and(|e| e.wrapped.is_some()))
            });
            if first_is_event {
                return misp::import_events(&items, location, out);
            }
            if !items.is_empty() {
                let (parsed, problems) = stix::parse_raw(&items, location);
                if problems.problems_total.is_empty() && parsed.iter().all(stix::Object::is_typed) {
                    return stix::import_typed(&parsed, location, out);
                }
            }
        }
        Doc::Other => {}
    }
    // Neither: a feed's manifest (said as such), or something else. Rare:
    // read as a tree.
    let manifest = serde_json::from_str::<Json>(text).is_ok_and(|d| is_misp_manifest(&d));
    if manifest {
        out.problem(
            location,
            ProblemKind::NotIndicators,
            "a MISP feed manifest: give the directory or URL that holds it",
        );
    } else {
        out.problem(
            location,
            ProblemKind::NotIndicators,
            "JSON that is neither STIX 2.1 nor MISP",
        );
    }
}

/// A MISP feed's `manifest.json`: event UUIDs to `{info, Orgc, …}`.
pub fn is_misp_manifest(doc: &Json) -> bool {
    doc.as_object().is_some_and(|o| {
        !o.is_empty()
            && o.values()
                .all(|v| v.get("info").is_some() && v.get("Orgc").is_some())
    })
}

/// Reads a file, or every file under a directory (sorted, recursively;
/// a MISP feed's `manifest.json` and `hashes.csv` are its index, not
/// indicators). `manifest.json` given alone reads the feed it indexes.
pub fn import_path(path: &Path) -> Result<Imported, ImportError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ImportError::NotFound(path.to_path_buf()),
        _ => ImportError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    if meta.is_dir() {
        return Ok(import_dir(path));
    }
    if path.file_name().is_some_and(|n| n == "manifest.json") {
        if let Some(dir) = path.parent() {
            return Ok(import_dir(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }));
        }
    }
    read_file(path).map_err(|reason| ImportError::Unreadable {
        path: path.to_path_buf(),
        reason,
    })
}

fn read_file(path: &Path) -> Result<Imported, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_DOCUMENT {
        return Err(format!(
            "{} bytes: larger than {MAX_DOCUMENT} bytes, not read",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    Ok(import_bytes(&bytes, &path.display().to_string()))
}

fn import_dir(dir: &Path) -> Imported {
    let mut out = Imported::default();
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    walk(dir, &mut files, &mut seen, 0, &mut out);
    files.sort();
    let feed_dirs: HashSet<PathBuf> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "manifest.json"))
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    files.retain(|f| {
        let in_feed = f.parent().is_some_and(|p| feed_dirs.contains(p));
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        !(in_feed && (name == "manifest.json" || name == "hashes.csv"))
    });
    // Files are read side by side, their results merged in name order.
    use rayon::prelude::*;
    let results: Vec<(PathBuf, Result<Imported, String>)> = files
        .into_par_iter()
        .map(|f| {
            let r = read_file(&f);
            (f, r)
        })
        .collect();
    out.indicators.reserve(
        results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|i| i.indicators.len())
            .sum(),
    );
    for (f, r) in results {
        match r {
            Ok(i) => out.merge(i),
            Err(reason) => {
                out.files += 1;
                out.problem(f.display().to_string(), ProblemKind::NotIndicators, reason)
            }
        }
    }
    out
}

fn walk(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    seen: &mut HashSet<PathBuf>,
    depth: usize,
    out: &mut Imported,
) {
    if depth > 32 || files.len() >= MAX_FILES {
        out.problem(
            dir.display().to_string(),
            ProblemKind::NotIndicators,
            "too deep or too many files: not read further",
        );
        return;
    }
    let Ok(canon) = dir.canonicalize() else {
        return;
    };
    if !seen.insert(canon) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.problem(
                dir.display().to_string(),
                ProblemKind::NotIndicators,
                e.to_string(),
            );
            return;
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, files, seen, depth + 1, out),
            Ok(m) if m.is_file() => files.push(p),
            _ => {}
        }
    }
}

/// How to authenticate to a feed or TAXII server. Its `Debug` names the
/// kind only: a configuration printed for a diagnosis must not carry the
/// secret.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// HTTP basic authentication.
    Basic { user: String, password: String },
    /// `Authorization: Bearer <token>` (TAXII servers), or a MISP key
    /// (`Authorization: <key>`) with [`Auth::Header`].
    Bearer(String),
    /// A header given as it is (`Authorization: <MISP key>`).
    Header { name: String, value: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl Auth {
    /// What kind of credentials, without them (`none`, `basic`, `bearer`,
    /// `header`): what may be shown.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Basic { .. } => "basic",
            Auth::Bearer(_) => "bearer",
            Auth::Header { .. } => "header",
        }
    }

    /// The secrets this carries, to hide from any message that could
    /// hold them (an error echoing a request).
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Auth::None => Vec::new(),
            Auth::Basic { password, .. } => vec![password.as_str()],
            Auth::Bearer(t) => vec![t.as_str()],
            Auth::Header { value, .. } => vec![value.as_str()],
        }
    }

    pub(crate) fn apply<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        use base64::Engine;
        match self {
            Auth::None => req,
            Auth::Basic { user, password } => {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                req.header("Authorization", format!("Basic {token}"))
            }
            Auth::Bearer(t) => req.header("Authorization", format!("Bearer {t}")),
            Auth::Header { name, value } => req.header(name.as_str(), value.as_str()),
        }
    }
}

/// Reads indicators from a URL: a MISP feed (the URL of its directory
/// or of its `manifest.json`: every event it lists is fetched) or any
/// single document.
pub fn import_url(url: &str, auth: &Auth) -> Result<Imported, ImportError> {
    let agent = crate::http::agent();
    let fetch = |u: &str| -> Result<Vec<u8>, ImportError> {
        crate::http::get_bytes(&agent, u, auth, None, MAX_DOCUMENT)
            .map(|(b, _)| b.unwrap_or_default())
            .map_err(|reason| ImportError::Fetch {
                location: u.to_string(),
                reason,
            })
    };
    let (base, manifest_url) = if url.ends_with("manifest.json") {
        (
            url.trim_end_matches("manifest.json").to_string(),
            url.to_string(),
        )
    } else if url.ends_with('/') {
        (url.to_string(), format!("{url}manifest.json"))
    } else {
        return Ok(import_bytes(&fetch(url)?, url));
    };
    let manifest = fetch(&manifest_url)?;
    let doc: Json = serde_json::from_slice(&manifest).map_err(|e| ImportError::Fetch {
        location: manifest_url.clone(),
        reason: format!("not a MISP feed manifest: {e}"),
    })?;
    if !is_misp_manifest(&doc) {
        return Err(ImportError::Fetch {
            location: manifest_url,
            reason: "not a MISP feed manifest (event UUIDs to {info, Orgc, …})".into(),
        });
    }
    let mut out = Imported::default();
    let mut uuids: Vec<&String> = doc
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    uuids.sort();
    for uuid in uuids {
        if !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            out.problem(
                &manifest_url,
                ProblemKind::Invalid,
                format!("'{uuid}' is not an event UUID"),
            );
            continue;
        }
        let u = format!("{base}{uuid}.json");
        match fetch(&u) {
            Ok(b) => out.merge(import_bytes(&b, &u)),
            Err(e) => {
                out.files += 1;
                out.problem(&u, ProblemKind::NotIndicators, e.to_string())
            }
        }
    }
    Ok(out)
}
