//! The import of a data directory of an earlier Vigie, whose state was
//! JSON Lines files: at the first open, every former file found
//! (`detections.jsonl`, `triage.jsonl`, `crisis.jsonl`,
//! `proposals.jsonl`, `audit.jsonl`, `alerts.jsonl`; the accounts'
//! `users.json` and the live incidents' `incidents.json`) is read
//! line by line (the accounts: account by account; the incidents: tenant
//! by tenant) into
//! `state.db` in one transaction, then renamed
//! `NAME.imported-SECONDS` — never deleted: it stays the record of what
//! was imported.
//!
//! Losing nothing, doubling nothing:
//! - a start stopped during the import leaves `state.db` without any of
//!   it (the transaction is rolled back) and the files under their
//!   names: the next start imports again from scratch;
//! - a start stopped after the commit and before a rename finds the file
//!   still there, but its name and SHA-256 are in `imported_files`
//!   (written in the same transaction): it is renamed, not imported
//!   again;
//! - a damaged line is said with its file and line number and counted,
//!   the others imported; a last line without its newline was being
//!   written when the process stopped (the writer synced the newline
//!   with it: never acknowledged) and is said, not imported;
//! - the audit log's lines are kept byte for byte, in order: the chain
//!   verifies as it did in the file (`vigie audit verify --data`);
//! - `users.json` and `incidents.json` are one document each, rewritten
//!   whole by their writer: if one does not read, nothing of it is
//!   imported and it stays where it is, said (repaired, it is imported
//!   at the next start; a tenant whose incidents `state.db` already
//!   names keeps those).
//!
//! The API tokens' `tokens.jsonl` is imported by the server's token
//! store, which reads that format (`vigie_serve::tokens`).

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};
use vigie_store::StoreError;

use crate::db::{Db, Failure};

/// The former files, in the order imported.
pub const FILES: [&str; 8] = [
    "detections.jsonl",
    "triage.jsonl",
    "crisis.jsonl",
    "proposals.jsonl",
    "audit.jsonl",
    "users.json",
    "incidents.json",
    "alerts.jsonl",
];

/// [`FILES`] and the indicators' directory: everything [`import`] takes.
pub const ALL: [&str; 9] = [
    "detections.jsonl",
    "triage.jsonl",
    "crisis.jsonl",
    "proposals.jsonl",
    "audit.jsonl",
    "users.json",
    "incidents.json",
    "alerts.jsonl",
    INDICATORS,
];

/// The former directory of the uploaded indicator sources
/// (`NAME.src` as received, `NAME.json` what was made of it): imported
/// source by source, then renamed as a whole (`indicators.imported-…`),
/// a source that does not read left in it, said.
pub const INDICATORS: &str = "indicators";

/// The former files of what a node keeps for itself whatever the
/// backend (the live ids, the alerting's journal): what a node started
/// with `--db` imports into its own `state.db` (the others are
/// PostgreSQL's, and stay where they are).
pub const NODE_FILES: [&str; 2] = ["incidents.json", "alerts.jsonl"];

/// At most this many damaged lines are named per file (all are counted).
pub const NAMED: usize = 20;

/// What the import of one file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileImport {
    pub name: &'static str,
    /// Lines imported.
    pub lines: u64,
    /// Lines that could not be read, counted.
    pub damaged: u64,
    /// The first [`NAMED`] of them: `FILE line N: why`.
    pub said: Vec<String>,
    /// Bytes of a last line without its newline (never acknowledged).
    pub torn: u64,
    /// Imported by an earlier start that stopped before renaming it.
    pub already: bool,
    /// Not imported and left where it is (a `users.json` that does not
    /// read: repaired, it is imported at the next start).
    pub left: bool,
    /// Where the file is now (`None`: the rename failed, said in
    /// `rename_error`; the next start renames it).
    pub renamed: Option<PathBuf>,
    pub rename_error: Option<String>,
}

/// What the import did (nothing when no former file was there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub files: Vec<FileImport>,
}

impl Imported {
    /// What to say on stderr, one line each.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.files {
            let whence = match (&f.renamed, &f.rename_error) {
                (Some(to), _) => format!("kept as {}", to.display()),
                (None, Some(e)) => format!("not renamed ({e}): renamed at the next start"),
                (None, None) => String::new(),
            };
            if f.left {
                let meanwhile = if f.name == "incidents.json" {
                    "its incidents get new live ids"
                } else {
                    "no account of it is known"
                };
                out.push(format!(
                    "{}: NOT imported, left as it is ({}): {meanwhile} until it is repaired (then imported at the next start)",
                    f.name,
                    f.said.join("; ")
                ));
                continue;
            }
            if f.already {
                out.push(format!(
                    "{} was imported into state.db by an earlier start; {whence}",
                    f.name
                ));
                continue;
            }
            let unit = match f.name {
                INDICATORS => "source",
                _ => "line",
            };
            out.push(format!(
                "{}: {} {unit}(s) imported into state.db, {} damaged {unit}(s) left out; {whence}",
                f.name, f.lines, f.damaged
            ));
            out.extend(f.said.iter().cloned());
            if f.damaged > f.said.len() as u64 {
                out.push(format!(
                    "{}: {} more damaged line(s) not named",
                    f.name,
                    f.damaged - f.said.len() as u64
                ));
            }
            if f.torn > 0 {
                out.push(format!(
                    "{}: a torn last line ({} bytes, never acknowledged) was not imported",
                    f.name, f.torn
                ));
            }
        }
        out
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One proposals line of the former file.
#[derive(serde::Deserialize)]
struct ProposalLine {
    tenant: String,
    record: vigie_respond::Record,
}

/// The id and tenant of a former detection line.
#[derive(serde::Deserialize)]
struct DetectionKey {
    id: String,
    tenant: String,
}

/// One incident of the former `incidents.json`.
#[derive(serde::Deserialize)]
struct KnownLine {
    id: String,
    entities: std::collections::BTreeSet<String>,
}

/// The key of a former `alerts.jsonl` line (lines written before there
/// were several destinations are the webhook's).
#[derive(serde::Deserialize)]
struct AlertKey {
    #[serde(default = "webhook")]
    sink: String,
    tenant: String,
    live_id: String,
    delivered: bool,
}

fn webhook() -> String {
    "webhook".into()
}

/// Imports the former files of `data` into its `state.db` (see the
/// module's documentation). An error (a file unreadable, SQLite failing)
/// leaves `state.db` and the files as they were.
pub fn import(data: &Path) -> Result<Imported, StoreError> {
    import_only(data, &ALL)
}

/// [`import`] of the files named only (of [`ALL`]; [`NODE_FILES`] for a
/// node started with `--db`, whose indicators are PostgreSQL's).
pub fn import_only(data: &Path, names: &[&'static str]) -> Result<Imported, StoreError> {
    let present: Vec<(&'static str, PathBuf)> = names
        .iter()
        .map(|n| (*n, data.join(n)))
        .filter(|(_, p)| p.is_file())
        .collect();
    let sources = if names.contains(&INDICATORS) {
        read_indicators(&data.join(INDICATORS))?
    } else {
        None
    };
    if present.is_empty() && sources.is_none() {
        return Ok(Imported::default());
    }
    let mut read = Vec::new();
    for (name, path) in present {
        let bytes = std::fs::read(&path).map_err(|source| StoreError::Io {
            what: format!("read {}", path.display()),
            source,
        })?;
        let sha = hex(&Sha256::digest(&bytes));
        read.push((name, path, bytes, sha));
    }
    let db = Db::open(data)?;
    let mut files = db.call("importing the former files", |c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut files = Vec::new();
        for (name, path, bytes, sha) in &read {
            let mut f = FileImport {
                name,
                ..Default::default()
            };
            let done = tx
                .query_row(
                    "SELECT 1 FROM imported_files WHERE name = ?1 AND sha256 = ?2",
                    params![name, sha],
                    |_| Ok(()),
                )
                .optional()?;
            if done.is_some() {
                f.already = true;
                files.push(f);
                continue;
            }
            if *name == "users.json" {
                match serde_json::from_slice::<Vec<vigie_console::users::User>>(bytes) {
                    Ok(users) => {
                        for u in &users {
                            if crate::accounts::insert_user(&tx, u)? {
                                f.lines += 1;
                            } else {
                                f.damaged += 1;
                                f.said.push(format!(
                                    "{}: account {:?} already in state.db: that one kept",
                                    path.display(),
                                    u.name
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        f.left = true;
                        f.damaged = 1;
                        f.said.push(format!("{}: {e}", path.display()));
                        files.push(f);
                        continue;
                    }
                }
                tx.execute(
                    "INSERT INTO imported_files (name, sha256, lines, damaged) VALUES (?1, ?2, ?3, ?4)",
                    params![name, sha, f.lines as i64, f.damaged as i64],
                )?;
                files.push(f);
                continue;
            }
            if *name == "incidents.json" {
                type All = std::collections::BTreeMap<String, Vec<KnownLine>>;
                match serde_json::from_slice::<All>(bytes) {
                    Ok(all) => {
                        for (tenant, known) in &all {
                            let named = tx
                                .query_row(
                                    "SELECT 1 FROM live_incidents WHERE tenant = ?1 LIMIT 1",
                                    [tenant],
                                    |_| Ok(()),
                                )
                                .optional()?;
                            if named.is_some() {
                                f.damaged += known.len() as u64;
                                f.said.push(format!(
                                    "{}: the incidents of {tenant:?} are already named in state.db: those kept",
                                    path.display()
                                ));
                                continue;
                            }
                            let rows = known
                                .iter()
                                .map(|k| Ok((k.id.clone(), crate::json(&k.entities)?)))
                                .collect::<Result<Vec<_>, StoreError>>()?;
                            crate::live::keep(&tx, tenant, &rows)?;
                            f.lines += rows.len() as u64;
                        }
                    }
                    Err(e) => {
                        f.left = true;
                        f.damaged = 1;
                        f.said.push(format!("{}: {e}", path.display()));
                        files.push(f);
                        continue;
                    }
                }
                tx.execute(
                    "INSERT INTO imported_files (name, sha256, lines, damaged) VALUES (?1, ?2, ?3, ?4)",
                    params![name, sha, f.lines as i64, f.damaged as i64],
                )?;
                files.push(f);
                continue;
            }
            let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            f.torn = (bytes.len() - whole) as u64;
            for (i, line) in bytes[..whole].split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match import_line(&tx, name, line)? {
                    Ok(()) => f.lines += 1,
                    Err(why) => {
                        f.damaged += 1;
                        if f.said.len() < NAMED {
                            f.said
                                .push(format!("{} line {}: {why}", path.display(), i + 1));
                        }
                    }
                }
            }
            tx.execute(
                "INSERT INTO imported_files (name, sha256, lines, damaged) VALUES (?1, ?2, ?3, ?4)",
                params![name, sha, f.lines as i64, f.damaged as i64],
            )?;
            files.push(f);
        }
        if let Some(sources) = &sources {
            files.push(import_indicators(&tx, sources)?);
        }
        tx.commit()?;
        Ok(files)
    })?;
    let at = chrono::Utc::now().timestamp();
    let paths = read
        .iter()
        .map(|r| r.1.clone())
        .chain(sources.is_some().then(|| data.join(INDICATORS)));
    for (f, path) in files.iter_mut().zip(paths) {
        if f.left {
            continue;
        }
        let to = data.join(format!("{}.imported-{at}", f.name));
        match std::fs::rename(&path, &to) {
            Ok(()) => f.renamed = Some(to),
            Err(e) => f.rename_error = Some(e.to_string()),
        }
    }
    // The renames durable: a power cut now does not bring the old names
    // back (they would only be renamed again, by their SHA-256).
    if let Ok(dir) = std::fs::File::open(data) {
        let _ = dir.sync_all();
    }
    Ok(Imported { files })
}

/// One line of `name` into its table: `Ok(Err(why))` for a damaged line
/// (nothing of it kept), `Err` when SQLite fails (the import stops).
fn import_line(
    c: &rusqlite::Connection,
    name: &str,
    line: &[u8],
) -> Result<Result<(), String>, Failure> {
    match name {
        "detections.jsonl" => {
            let Ok(text) = std::str::from_utf8(line) else {
                return Ok(Err("not UTF-8".into()));
            };
            match serde_json::from_str::<DetectionKey>(text) {
                Ok(k) => {
                    crate::detections::insert(c, [(k.tenant, k.id, text.to_string())])?;
                    Ok(Ok(()))
                }
                Err(e) => Ok(Err(format!("not a detection ({e})"))),
            }
        }
        "triage.jsonl" => match serde_json::from_slice::<vigie_store::triage::Line>(line) {
            Ok(l) => crate::triage::import_line(c, &l).map(Ok),
            Err(e) => Ok(Err(format!("not a triage change ({e})"))),
        },
        "crisis.jsonl" => match vigie_store::crisis::parse_line(line) {
            Some(r) => {
                let doc = String::from_utf8(r.json).expect("serde_json writes UTF-8");
                crate::crisis::insert(c, &r.tenant, &doc).map(Ok)
            }
            None => Ok(Err("not a record of the crisis journal".into())),
        },
        "proposals.jsonl" => match serde_json::from_slice::<ProposalLine>(line) {
            Ok(l) => crate::proposals::keep(c, &l.tenant, &l.record).map(Ok),
            Err(e) => Ok(Err(format!("not a proposal record ({e})"))),
        },
        "audit.jsonl" => match std::str::from_utf8(line) {
            // Kept as it is, even a line that is not an entry: the chain
            // is of the bytes, and `vigie audit verify` names a break.
            Ok(text) => crate::audit::push_line(c, text).map(Ok),
            Err(_) => Ok(Err(
                "not UTF-8 (left out: `vigie audit verify` will name the break)".into(),
            )),
        },
        "alerts.jsonl" => {
            let Ok(text) = std::str::from_utf8(line) else {
                return Ok(Err("not UTF-8".into()));
            };
            match serde_json::from_str::<AlertKey>(text) {
                Ok(k) => {
                    let row = vigie_store::live::AlertRow {
                        sink: k.sink,
                        tenant: k.tenant,
                        live_id: k.live_id,
                        delivered: k.delivered,
                        doc: text.to_string(),
                    };
                    crate::live::append(c, &row).map(Ok)
                }
                Err(e) => Ok(Err(format!("not an alert record ({e})"))),
            }
        }
        other => Ok(Err(format!("{other}: not a file of the former state"))),
    }
}

/// One former source: its name, description and bytes, and the SHA-256
/// of both (what `imported_files` records); or why it does not read.
type FormerSource = (
    String,
    std::result::Result<(String, Vec<u8>, String), String>,
);

/// The former sources of `dir` (`None`: no such directory), by name.
fn read_indicators(dir: &Path) -> Result<Option<Vec<FormerSource>>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                what: format!("read {}", dir.display()),
                source,
            })
        }
    };
    let mut metas: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    metas.sort();
    let mut out = Vec::new();
    for meta in metas {
        let name = meta
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let read = (|| {
            let info = std::fs::read(&meta).map_err(|e| format!("{}: {e}", meta.display()))?;
            let src_path = meta.with_extension("src");
            let src =
                std::fs::read(&src_path).map_err(|e| format!("{}: {e}", src_path.display()))?;
            let info =
                String::from_utf8(info).map_err(|_| format!("{}: not UTF-8", meta.display()))?;
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&info)
                .map_err(|e| format!("{}: not a source's description ({e})", meta.display()))?;
            let mut h = Sha256::new();
            h.update(info.as_bytes());
            h.update(&src);
            Ok((info, src, hex(&h.finalize())))
        })();
        out.push((name, read));
    }
    Ok(Some(out))
}

/// The former sources into `indicator_sources`, each once (by name and
/// SHA-256 in `imported_files`).
fn import_indicators(
    tx: &rusqlite::Connection,
    sources: &[FormerSource],
) -> Result<FileImport, Failure> {
    let mut f = FileImport {
        name: INDICATORS,
        ..Default::default()
    };
    let mut already = 0;
    for (name, read) in sources {
        let (info, src, sha) = match read {
            Ok(r) => r,
            Err(why) => {
                f.damaged += 1;
                if f.said.len() < NAMED {
                    f.said.push(format!(
                        "{why} (not imported: kept in the renamed directory)"
                    ));
                }
                continue;
            }
        };
        let key = format!("{INDICATORS}/{name}");
        let done = tx
            .query_row(
                "SELECT 1 FROM imported_files WHERE name = ?1 AND sha256 = ?2",
                params![key, sha],
                |_| Ok(()),
            )
            .optional()?;
        if done.is_some() {
            already += 1;
            continue;
        }
        crate::indicators::put(
            tx,
            &crate::IndicatorSource {
                name: name.clone(),
                info: info.clone(),
                src: src.clone(),
            },
        )?;
        tx.execute(
            "INSERT INTO imported_files (name, sha256, lines, damaged) VALUES (?1, ?2, 1, 0)",
            params![key, sha],
        )?;
        f.lines += 1;
    }
    f.already = already > 0 && f.lines == 0 && f.damaged == 0;
    Ok(f)
}
