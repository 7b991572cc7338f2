//! `vigie show`: the whole event behind a timeline row, read again from
//! the evidence (and checked against the run manifest's SHA-256 when one
//! is given, so what is shown is what the hunt read).
//!
//! A row names its event by `source_file` and `source_locator`; `show`
//! takes them joined as the report prints them (`FILE#record=42`, also
//! `FILE#line=3`, `FILE#index=5`, `FILE:3`, `FILE[5]`) or as two
//! arguments (`FILE record=42`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vigie_event::{Event, Locator};
use vigie_source::{Batch, FileReport, ReadOptions};

use crate::safe::quote;

/// An event's address in the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: PathBuf,
    pub locator: Locator,
}

/// `record=N`, `line=N`, `index=N`, `position=N` (vigie serve's log).
pub fn parse_locator(s: &str) -> Option<Locator> {
    let (kind, n) = s.trim().split_once('=')?;
    let n: u64 = n.trim().parse().ok()?;
    match kind.trim() {
        "record" => Some(Locator::Record(n)),
        "line" => Some(Locator::Line(n)),
        "index" => Some(Locator::Index(n)),
        "position" => Some(Locator::Position(n)),
        _ => None,
    }
}

/// Reads a reference: `FILE#LOCATOR`, `FILE:N`, `FILE[N]`, or `FILE` with
/// the locator given apart.
pub fn parse_reference(source: &str, locator: Option<&str>) -> Result<Reference, String> {
    if let Some(l) = locator {
        return parse_locator(l)
            .map(|locator| Reference {
                path: PathBuf::from(source),
                locator,
            })
            .ok_or_else(|| {
                format!(
                    "{} is not a locator (expected record=N, line=N or index=N, as in the timeline's source_locator)",
                    quote(l, 60)
                )
            });
    }
    if let Some((path, l)) = source.rsplit_once('#') {
        if let Some(locator) = parse_locator(l) {
            return Ok(Reference {
                path: PathBuf::from(path),
                locator,
            });
        }
    }
    if let Some(inner) = source.strip_suffix(']') {
        if let Some((path, n)) = inner.rsplit_once('[') {
            if let Ok(n) = n.parse() {
                return Ok(Reference {
                    path: PathBuf::from(path),
                    locator: Locator::Index(n),
                });
            }
        }
    }
    if let Some((path, n)) = source.rsplit_once(':') {
        if let (false, Ok(n)) = (path.is_empty(), n.parse()) {
            return Ok(Reference {
                path: PathBuf::from(path),
                locator: Locator::Line(n),
            });
        }
    }
    Err(format!(
        "{} names no event: give FILE#record=N (or line=N, index=N), as the timeline's source_file and source_locator",
        quote(source, 120)
    ))
}

/// For a member of an archive (`a.zip!/dir/x.evtx`, nested
/// `a.zip!/b.7z!/x.evtx`): the outermost archive file. `None` for a path
/// that is a file itself (a directory may be named `x!`).
pub fn archive_of(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return None;
    }
    let s = path.to_str()?;
    let sep = vigie_source::archive::MEMBER_SEPARATOR;
    s.match_indices(sep)
        .map(|(i, _)| PathBuf::from(&s[..i]))
        .find(|p| p.is_file())
}

/// The events of `r.path` at `r.locator` (one, unless a damaged file holds
/// a record twice), and the file's report (with its SHA-256). For a member
/// of an archive the whole archive is read again and its report is the
/// archive's (so that [`verify`] checks the archive as the hunt read it).
pub fn find(r: &Reference, read: &ReadOptions) -> (Vec<Event>, FileReport) {
    let archive = archive_of(&r.path);
    let member = r.path.to_string_lossy();
    let found: Mutex<Vec<(u64, Event)>> = Mutex::new(Vec::new());
    let on_batch = |batch: Batch| {
        let seq = batch.seq;
        let hits: Vec<Event> = batch
            .events
            .into_iter()
            .filter(|e| {
                e.origin.locator == r.locator && (archive.is_none() || *e.origin.source == *member)
            })
            .collect();
        if !hits.is_empty() {
            let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
            f.extend(hits.into_iter().map(|e| (seq, e)));
        }
    };
    let report = match &archive {
        Some(a) => vigie_source::read_input(a, read, &on_batch).swap_remove(0),
        None => vigie_source::read_file(&r.path, read, &on_batch),
    };
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort_by_key(|(seq, _)| *seq);
    (found.into_iter().map(|(_, e)| e).collect(), report)
}

/// Checks that `file` (as just read) is the input the run manifest at
/// `manifest` recorded: same SHA-256. The manifest's entry is found by
/// the path as the hunt gave it, or by the same file on disk.
pub fn verify(file: &FileReport, manifest: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("manifest {}: {e}", manifest.display()))?;
    let m: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("manifest {}: not JSON: {e}", manifest.display()))?;
    let inputs = m["inputs"].as_array().ok_or_else(|| {
        format!(
            "manifest {}: no inputs list (is it a Vigie run manifest?)",
            manifest.display()
        )
    })?;
    let here = file.path.canonicalize().ok();
    let entry = inputs.iter().find(|i| {
        i["path"].as_str().is_some_and(|p| {
            Path::new(p) == file.path
                || (here.is_some() && Path::new(p).canonicalize().ok() == here)
        })
    });
    let Some(entry) = entry else {
        return Err(format!(
            "{} is not among the inputs of manifest {}",
            file.path.display(),
            manifest.display()
        ));
    };
    let recorded = entry["sha256"].as_str().unwrap_or("");
    if recorded.is_empty() || file.sha256.is_empty() {
        return Err(format!(
            "{}: no SHA-256 to compare (the manifest or the read has none)",
            file.path.display()
        ));
    }
    if recorded != file.sha256 {
        return Err(format!(
            "{} changed since the hunt: its SHA-256 is now {}, the manifest recorded {}; the event shown would not be the one the hunt read",
            file.path.display(),
            file.sha256,
            recorded
        ));
    }
    Ok(recorded.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_as_timelines_and_reports_write_them() {
        let r = |s: &str| parse_reference(s, None).unwrap();
        assert_eq!(r("a/b.evtx#record=42").locator, Locator::Record(42));
        assert_eq!(r("a/b.evtx#record=42").path, PathBuf::from("a/b.evtx"));
        assert_eq!(r("x.jsonl#line=3").locator, Locator::Line(3));
        assert_eq!(r("x.jsonl:3").locator, Locator::Line(3));
        assert_eq!(r("x.json[5]").locator, Locator::Index(5));
        assert_eq!(
            r("dir#1/x.json#index=0").path,
            PathBuf::from("dir#1/x.json")
        );
        assert_eq!(
            parse_reference("a.evtx", Some("record=7")).unwrap().locator,
            Locator::Record(7)
        );
        assert!(parse_reference("a.evtx", None).is_err());
        assert!(parse_reference("a.evtx", Some("rec=1")).is_err());
    }
}
