//! The detections as the worker stores and serves them: their shape, the
//! embedded store (`detections.jsonl`, the regional deployment has
//! PostgreSQL behind the same [`DetectionStore`]), and a fired
//! correlation written as one.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use vigie_store::ids::{detection_id, EventIdentity};
use vigie_store::{DetectionDoc, DetectionStore, StoreError};

/// One detection, as stored and served.
#[derive(Debug, Clone, Serialize)]
pub struct StoredDetection {
    pub id: String,
    /// `detection` (a rule), `ioc` (an indicator of `--ioc`) or
    /// `correlation` (a correlation rule over several events), as in
    /// `hunt`'s timeline.
    pub kind: &'static str,
    pub tenant: String,
    pub rule_id: String,
    pub rule_title: String,
    pub level: serde_json::Value,
    pub tags: Vec<String>,
    pub time: Option<String>,
    pub computer: Option<String>,
    pub channel: Option<String>,
    pub event_id: Option<u32>,
    pub record_id: Option<u64>,
    /// The source that sent the event, and its place in the log (none
    /// for a correlation, which stands for several events).
    pub source: String,
    pub position: Option<u64>,
    /// When the event was received (durable) and when it was judged
    /// (UTC, µs): the delay from receipt to detection, per detection.
    pub received: Option<String>,
    pub detected: String,
    /// The event as it arrived.
    pub event: serde_json::Value,
    /// Why it matched: each selection's field and the value that matched
    /// (the console shows them beside the raw event).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<vigie_detect::MatchedField>,
    /// `time` is a local time without its zone read as UTC (nothing gave
    /// its offset: see [`vigie_event::Event::time_uncertain`]); it may be
    /// hours off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub time_uncertain: bool,
    /// Found by a retro-hunt (its id) over events stored before the
    /// indicators arrived, not as the event came in: `time` is still the
    /// event's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrohunt: Option<String>,
}

/// The detections, kept in `detections.jsonl` (appended and synced),
/// each id once.
pub struct Detections {
    path: PathBuf,
    file: Mutex<File>,
    ids: Mutex<HashSet<String>>,
    count: AtomicU64,
    by_tenant: Mutex<std::collections::HashMap<String, u64>>,
}

impl Detections {
    pub fn open(data: &Path) -> std::io::Result<Detections> {
        let path = data.join("detections.jsonl");
        let mut ids = HashSet::new();
        let mut by_tenant: std::collections::HashMap<String, u64> = Default::default();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.lines() {
                // A line cut by a crash before its sync is not a stored
                // detection: its event is delivered again and it is
                // written whole.
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                    if let Some(id) = v["id"].as_str() {
                        if ids.insert(id.to_string()) {
                            let t = v["tenant"].as_str().unwrap_or_default().to_string();
                            *by_tenant.entry(t).or_default() += 1;
                        }
                    }
                }
            }
            if !text.is_empty() && !text.ends_with('\n') {
                let f = OpenOptions::new().append(true).open(&path)?;
                f.set_len(text.rfind('\n').map_or(0, |i| i as u64 + 1))?;
                f.sync_all()?;
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Detections {
            count: AtomicU64::new(ids.len() as u64),
            path,
            file: Mutex::new(file),
            ids: Mutex::new(ids),
            by_tenant: Mutex::new(by_tenant),
        })
    }

    /// Appends those not yet stored; durable on return.
    pub fn put(&self, detections: Vec<StoredDetection>) -> std::io::Result<usize> {
        let docs = detections
            .iter()
            .map(document)
            .collect::<Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        self.put_docs(docs)
    }

    /// Appends the documents whose id is not stored yet; durable on return.
    pub fn put_docs(&self, detections: Vec<DetectionDoc>) -> std::io::Result<usize> {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = Vec::new();
        let mut added: Vec<String> = Vec::new();
        let mut tenants = Vec::new();
        for d in detections {
            if ids.contains(&d.id) || added.contains(&d.id) {
                continue;
            }
            bytes.extend_from_slice(&d.json);
            bytes.push(b'\n');
            added.push(d.id);
            tenants.push(d.tenant);
        }
        if added.is_empty() {
            return Ok(0);
        }
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let before = f.metadata()?.len();
        if let Err(e) = f.write_all(&bytes).and_then(|_| f.sync_data()) {
            // A part written would be a fragment glued to the next line:
            // cut back to the last whole line (the batch is retried).
            if let Err(cut) = f.set_len(before).and_then(|_| f.sync_data()) {
                return Err(std::io::Error::other(format!(
                    "{e}; and the partial write could not be cut ({cut}): {} needs repair",
                    self.path.display()
                )));
            }
            return Err(e);
        }
        let n = added.len();
        ids.extend(added);
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        let mut by = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        for t in tenants {
            *by.entry(t).or_default() += 1;
        }
        Ok(n)
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Detections stored for `tenant`.
    pub fn count_of(&self, tenant: &str) -> u64 {
        let by = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        by.get(tenant).copied().unwrap_or(0)
    }

    /// The stored line of detection `id` of `tenant`: lines are found by
    /// their id's text before any is parsed (a page of one detection reads
    /// the file once, parsing one line).
    pub fn get(&self, tenant: &str, id: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let needle = format!("\"id\":{}", serde_json::to_string(id).ok()?);
        text.lines()
            .filter(|l| l.contains(&needle))
            .find(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .is_ok_and(|v| v["id"] == id && v["tenant"] == tenant)
            })
            .map(str::to_string)
    }

    /// The latest `limit` stored lines of `tenant`, as written, in the
    /// order stored (the newest last): what arrives now is never hidden
    /// behind what came first.
    fn latest_lines(&self, tenant: &str, limit: usize) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Of<'a> {
            #[serde(borrow)]
            tenant: Option<std::borrow::Cow<'a, str>>,
        }
        if limit == 0 {
            return Vec::new();
        }
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut latest = std::collections::VecDeque::with_capacity(limit.min(10_000));
        for line in text.lines().filter(|l| {
            serde_json::from_str::<Of>(l).is_ok_and(|d| d.tenant.as_deref() == Some(tenant))
        }) {
            if latest.len() == limit {
                latest.pop_front();
            }
            latest.push_back(line.to_string());
        }
        latest.into()
    }
}

/// A detection as the store keeps it: its JSON document.
pub fn document(d: &StoredDetection) -> serde_json::Result<DetectionDoc> {
    Ok(DetectionDoc {
        id: d.id.clone(),
        tenant: d.tenant.clone(),
        json: serde_json::to_vec(d)?,
    })
}

/// The embedded detection store: `detections.jsonl` in the data directory.
pub struct FileDetections(pub Arc<Detections>);

#[async_trait::async_trait]
impl DetectionStore for FileDetections {
    async fn put(&self, detections: Vec<DetectionDoc>) -> vigie_store::Result<usize> {
        let file = self.0.clone();
        let what = || format!("{}", file.path.display());
        let put = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || file.put_docs(detections))
        };
        match put.await {
            Ok(r) => r.map_err(|source| StoreError::Io {
                what: what(),
                source,
            }),
            Err(e) => Err(StoreError::Io {
                what: what(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    async fn count(&self, tenant: &str) -> vigie_store::Result<u64> {
        Ok(self.0.count_of(tenant))
    }

    async fn count_all(&self) -> vigie_store::Result<u64> {
        Ok(self.0.count())
    }

    async fn get(&self, tenant: &str, id: &str) -> vigie_store::Result<Option<Vec<u8>>> {
        let (file, tenant, id) = (self.0.clone(), tenant.to_string(), id.to_string());
        tokio::task::spawn_blocking(move || file.get(&tenant, &id).map(String::into_bytes))
            .await
            .map_err(|e| StoreError::Io {
                what: format!("{}", self.0.path.display()),
                source: std::io::Error::other(e.to_string()),
            })
    }

    async fn latest(&self, tenant: &str, limit: usize) -> vigie_store::Result<Vec<Vec<u8>>> {
        let (file, tenant) = (self.0.clone(), tenant.to_string());
        let listed = tokio::task::spawn_blocking(move || file.latest_lines(&tenant, limit))
            .await
            .map_err(|e| StoreError::Io {
                what: format!("{}", self.0.path.display()),
                source: std::io::Error::other(e.to_string()),
            })?;
        Ok(listed.into_iter().map(String::into_bytes).collect())
    }
}

/// A fired correlation as a detection: its time is the last event
/// counted (as in `hunt`'s timeline), its id deterministic from the rule,
/// the group and the window.
pub fn correlation_detection(tenant: &str, c: &vigie_detect::CorrelationMatch) -> StoredDetection {
    let rule_id = c.rule.id.clone().unwrap_or_else(|| c.rule.title.clone());
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let identity = format!("{:?}|{}", c.group, stamp(c.first));
    let computer = c
        .group
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Computer") || k.eq_ignore_ascii_case("devname"))
        .map(|(_, v)| v.clone());
    StoredDetection {
        id: detection_id(
            tenant,
            &rule_id,
            EventIdentity::Content(identity.as_bytes()),
        ),
        kind: "correlation",
        tenant: tenant.to_string(),
        rule_id,
        rule_title: c.rule.title.clone(),
        level: serde_json::to_value(c.rule.level).unwrap_or_default(),
        tags: c.rule.tags.clone(),
        time: Some(stamp(c.last)),
        computer,
        channel: None,
        event_id: None,
        record_id: None,
        source: "correlation".into(),
        position: None,
        received: None,
        detected: stamp(chrono::Utc::now()),
        event: serde_json::json!({
            "group": c.group.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "value": c.value,
            "first": stamp(c.first),
            "last": stamp(c.last),
        }),
        matched: Vec::new(),
        time_uncertain: false,
        retrohunt: None,
    }
}
