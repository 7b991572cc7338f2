//! The crisis cell's journal: every status the cell set on a service
//! and every notice published for residents, by whom and when.
//!
//! Append-only: a change is never edited or removed (a later one
//! supersedes it), so the history the insurer, the CNIL and the
//! complaint may ask for is complete; the current board and the public
//! notices are folded from it by `vigie-communicate`. The records are
//! opaque JSON lines here (their meaning is the crisis cell's, in
//! `vigie-serve`): the store only promises that what it acknowledged is
//! durable, in order, and read back whole.
//!
//! [`FileJournal`] is the embedded backend: `crisis.jsonl` under the
//! data directory, each line synced before the change is answered. A
//! last line cut by a crash (no newline: never acknowledged) is cut at
//! the next open, and said; a damaged line before others stops the open
//! rather than drop what was acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::{Result, StoreError};

/// One record: its tenant and its JSON (one line, no newline in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub tenant: String,
    pub json: Vec<u8>,
}

/// Where the crisis cell's changes are kept.
#[async_trait]
pub trait CrisisJournal: Send + Sync {
    /// Appends one record; returns once it is durable.
    async fn append(&self, record: Record) -> Result<()>;
    /// The records of `tenant`, in the order they were appended.
    async fn records(&self, tenant: &str) -> Result<Vec<Vec<u8>>>;
    /// Every tenant with at least one record.
    async fn tenants(&self) -> Result<Vec<String>>;
    /// Appends `record` only if its tenant still has `seen` records (what
    /// the caller read and checked the record against); `false`, nothing
    /// appended, when another writer appended meanwhile. Why: a notice's
    /// new incident id is chosen from what was read, and two api nodes
    /// publishing at once must not both take it. This default suits a
    /// journal written by one process, whose writers the caller orders.
    async fn append_after(&self, record: Record, seen: usize) -> Result<bool> {
        let _ = seen;
        self.append(record).await.map(|()| true)
    }
}

/// The file name under the data directory.
pub const FILE: &str = "crisis.jsonl";

/// `crisis.jsonl`: one line per record, `{"tenant": …, "record": …}`.
pub struct FileJournal {
    path: PathBuf,
    inner: Arc<Mutex<Vec<Record>>>,
}

impl FileJournal {
    /// Opens (or creates) the journal in `data`; the second value says
    /// how many bytes of a torn last line were cut.
    pub fn open(data: &Path) -> Result<(FileJournal, u64)> {
        let io = |what: String| move |source| StoreError::Io { what, source };
        std::fs::create_dir_all(data).map_err(io(format!("create {}", data.display())))?;
        let path = data.join(FILE);
        let (bytes, torn) = read_acknowledged(&path)?;
        let mut records = Vec::new();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let r = parse_line(line).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "{} line {}: not a record of the crisis journal; the file is left as it is (nothing acknowledged is dropped): repair or move it aside",
                    path.display(),
                    i + 1
                ))
            })?;
            records.push(r);
        }
        Ok((
            FileJournal {
                path,
                inner: Arc::new(Mutex::new(records)),
            },
            torn,
        ))
    }
}

/// The whole lines of the journal at `path` (none yet: empty), a torn
/// last line cut from the file first: its newline is written with it and
/// synced, so a last line without one was never acknowledged. The bytes
/// of the whole lines, and how many bytes were cut. Every journal of
/// JSON lines opens this way (the crisis cell's, respond's proposals).
pub fn read_acknowledged(path: &Path) -> Result<(Vec<u8>, u64)> {
    let io = |what: String| move |source| StoreError::Io { what, source };
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)
                .map_err(io(format!("read {}", path.display())))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("open {}", path.display()))(e)),
    }
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let torn = (bytes.len() - whole) as u64;
    if torn > 0 {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(format!("open {}", path.display())))?;
        f.set_len(whole as u64)
            .and_then(|_| f.sync_all())
            .map_err(io(format!("cut the torn last line of {}", path.display())))?;
    }
    bytes.truncate(whole);
    Ok((bytes, torn))
}

/// One line of the file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    tenant: String,
    record: serde_json::Value,
}

/// `{"tenant": "…", "record": {…}}` (public: the SQLite state imports a
/// data directory of an earlier Vigie line by line).
pub fn parse_line(line: &[u8]) -> Option<Record> {
    let l: Line = serde_json::from_slice(line).ok()?;
    Some(Record {
        tenant: l.tenant,
        json: serde_json::to_vec(&l.record).ok()?,
    })
}

/// The line of a record, and the record as it will be read back.
fn line_of(r: Record) -> Result<(Vec<u8>, Record)> {
    let record: serde_json::Value = serde_json::from_slice(&r.json)
        .map_err(|e| StoreError::Invalid(format!("a crisis record is not JSON: {e}")))?;
    let json = serde_json::to_vec(&record).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut line = serde_json::to_vec(&Line {
        tenant: r.tenant.clone(),
        record,
    })
    .map_err(|e| StoreError::Invalid(e.to_string()))?;
    line.push(b'\n');
    Ok((
        line,
        Record {
            tenant: r.tenant,
            json,
        },
    ))
}

#[async_trait]
impl CrisisJournal for FileJournal {
    async fn append(&self, record: Record) -> Result<()> {
        let (line, record) = line_of(record)?;
        let (path, inner) = (self.path.clone(), self.inner.clone());
        tokio::task::spawn_blocking(move || {
            // The lock orders writers of this process and keeps the
            // memory in the file's order.
            let mut records = inner.lock().unwrap_or_else(|e| e.into_inner());
            let mut opts = OpenOptions::new();
            opts.append(true).create(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&path).map_err(|source| StoreError::Io {
                what: format!("open {}", path.display()),
                source,
            })?;
            f.write_all(&line)
                .and_then(|_| f.sync_data())
                .map_err(|source| StoreError::Io {
                    what: format!("append to {}", path.display()),
                    source,
                })?;
            records.push(record);
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("the journal's writer stopped: {e}")))?
    }

    async fn records(&self, tenant: &str) -> Result<Vec<Vec<u8>>> {
        let records = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(records
            .iter()
            .filter(|r| r.tenant == tenant)
            .map(|r| r.json.clone())
            .collect())
    }

    async fn tenants(&self) -> Result<Vec<String>> {
        let records = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut t: Vec<String> = records.iter().map(|r| r.tenant.clone()).collect();
        t.sort();
        t.dedup();
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(tenant: &str, json: &str) -> Record {
        Record {
            tenant: tenant.into(),
            json: json.as_bytes().to_vec(),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn records_survive_a_reopen_in_order_per_tenant_and_a_torn_line_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (j, torn) = FileJournal::open(dir.path()).unwrap();
            assert_eq!(torn, 0);
            j.append(rec("default", r#"{"n":1}"#)).await.unwrap();
            j.append(rec("quimper", r#"{"n":2}"#)).await.unwrap();
            j.append(rec("default", r#"{"n": 3, "s": "é\n"}"#))
                .await
                .unwrap();
            assert!(j.append(rec("default", "not json")).await.is_err());
        }
        // A crash in the middle of a line: never acknowledged, cut.
        let path = dir.path().join(FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"tenant":"default","record":{"n":"#)
            .unwrap();
        drop(f);
        let (j, torn) = FileJournal::open(dir.path()).unwrap();
        assert!(torn > 0);
        let got: Vec<String> = j
            .records("default")
            .await
            .unwrap()
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        assert_eq!(got, vec![r#"{"n":1}"#, r#"{"n":3,"s":"é\n"}"#]);
        assert_eq!(j.records("quimper").await.unwrap().len(), 1);
        assert_eq!(j.tenants().await.unwrap(), vec!["default", "quimper"]);
        // Damage before acknowledged lines stops the open.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        let e = FileJournal::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
