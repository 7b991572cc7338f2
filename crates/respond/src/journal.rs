//! The embedded [`ProposalStore`]: `proposals.jsonl` under the server's
//! data directory, append-only, each line synced before the step is
//! answered — the same promise as the crisis cell's journal
//! (`vigie_store::crisis`).
//!
//! Why one whole record per line (the record after each step, with its
//! trail) rather than the steps alone: a line read on its own says what
//! was approved or executed *as it was then* (target, evidence, impact),
//! which is what the insurer and the investigators ask for; the last
//! line of a proposal is its state. A later plan's refreshed content
//! (more evidence) is kept in memory and written with the proposal's
//! next step; after a restart the server's plan refreshes it again. So
//! the file grows with the steps people take, not with the events.
//!
//! A last line cut by a crash (no newline: never acknowledged) is cut at
//! the next open, and said; a damaged line before others stops the open
//! rather than drop what was acknowledged.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vigie_event::Timestamp;

use crate::lifecycle::{Actor, Record, Step};
use crate::proposal::Proposal;
use crate::store::{lock, ProposalStore, Records, Result, StoreError};

/// The file name under the data directory.
pub const FILE: &str = "proposals.jsonl";

/// One line of the file.
#[derive(Serialize, Deserialize)]
struct Line {
    tenant: String,
    record: Record,
}

/// Proposals and trails in `proposals.jsonl`.
pub struct FileProposalStore {
    path: PathBuf,
    records: Arc<Mutex<Records>>,
}

/// What [`FileProposalStore::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Opened {
    /// Lines read (steps recorded).
    pub lines: usize,
    /// Bytes of a torn last line, cut.
    pub torn: u64,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |e| StoreError::Backend(format!("{what}: {e}"))
}

impl FileProposalStore {
    /// Opens (or creates) the store in `data`.
    pub fn open(data: &Path) -> Result<(FileProposalStore, Opened)> {
        std::fs::create_dir_all(data).map_err(io(format!("create {}", data.display())))?;
        let path = data.join(FILE);
        let (bytes, torn) = vigie_store::crisis::read_acknowledged(&path)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut records = Records::new();
        let mut lines = 0;
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let l: Line = serde_json::from_slice(line).map_err(|e| {
                StoreError::Backend(format!(
                    "{} line {}: not a proposal record ({e}); the file is left as it is (nothing acknowledged is dropped): repair or move it aside",
                    path.display(),
                    i + 1
                ))
            })?;
            lines += 1;
            records.insert((l.tenant, l.record.proposal.id.clone()), l.record);
        }
        Ok((
            FileProposalStore {
                path,
                records: Arc::new(Mutex::new(records)),
            },
            Opened { lines, torn },
        ))
    }

    /// Where the records are.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `change` on the records under the lock, off the async
    /// threads; the lines it returns are appended and synced before the
    /// records it changed are kept (all or nothing).
    async fn change<T: Send + 'static>(
        &self,
        change: impl FnOnce(&Records) -> Result<(Vec<(String, Record)>, T)> + Send + 'static,
    ) -> Result<T> {
        let (path, records) = (self.path.clone(), self.records.clone());
        tokio::task::spawn_blocking(move || {
            let mut m = lock(&records);
            let (written, out) = change(&m)?;
            if !written.is_empty() {
                let mut text = Vec::new();
                for (tenant, record) in &written {
                    serde_json::to_writer(
                        &mut text,
                        &Line {
                            tenant: tenant.clone(),
                            record: record.clone(),
                        },
                    )
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                    text.push(b'\n');
                }
                let mut opts = OpenOptions::new();
                opts.append(true).create(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts
                    .open(&path)
                    .map_err(io(format!("open {}", path.display())))?;
                f.write_all(&text)
                    .and_then(|_| f.sync_data())
                    .map_err(io(format!("append to {}", path.display())))?;
            }
            for (tenant, record) in written {
                m.insert((tenant, record.proposal.id.clone()), record);
            }
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the store's writer stopped: {e}")))?
    }
}

#[async_trait]
impl ProposalStore for FileProposalStore {
    async fn propose(
        &self,
        tenant: &str,
        proposals: Vec<Proposal>,
        by: &Actor,
        at: Timestamp,
    ) -> Result<usize> {
        // Content refreshed in memory first (see the module's doc), then
        // the new ones written, all or nothing.
        {
            let mut m = lock(&self.records);
            for p in &proposals {
                if let Some(r) = m.get_mut(&(tenant.to_string(), p.id.clone())) {
                    if r.proposal != *p {
                        r.proposal = p.clone();
                    }
                }
            }
        }
        let (tenant, by) = (tenant.to_string(), by.clone());
        self.change(move |m| {
            let mut fresh = Vec::new();
            for p in proposals {
                if !m.contains_key(&(tenant.clone(), p.id.clone()))
                    && !fresh
                        .iter()
                        .any(|(_, r): &(String, Record)| r.proposal.id == p.id)
                {
                    fresh.push((tenant.clone(), Record::propose(p, &by, at)?));
                }
            }
            let n = fresh.len();
            Ok((fresh, n))
        })
        .await
    }

    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Record>> {
        Ok(crate::store::one(&lock(&self.records), tenant, id))
    }

    async fn list(&self, tenant: &str) -> Result<Vec<Record>> {
        Ok(crate::store::in_plan_order(&lock(&self.records), tenant))
    }

    async fn apply(
        &self,
        tenant: &str,
        id: &str,
        step: Step,
        by: &Actor,
        at: Timestamp,
    ) -> Result<Record> {
        let (tenant, id, by) = (tenant.to_string(), id.to_string(), by.clone());
        self.change(move |m| {
            let r = m
                .get(&(tenant.clone(), id.clone()))
                .ok_or_else(|| StoreError::NotFound(id.clone()))?;
            let next = r.apply(&step, &by, at)?;
            Ok((vec![(tenant, next.clone())], next))
        })
        .await
    }
}
