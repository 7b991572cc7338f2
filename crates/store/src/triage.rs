//! Triage: who looks at which detection or incident, with what
//! conclusion, and the false-positive filters that conclusion made.
//!
//! Kept as an append-only history (each change with who and when), from
//! which the current state is folded ([`fold`]): the history *is* the
//! record of the triage, never overwritten, and a second backend
//! (PostgreSQL, for the regional deployment) implements [`TriageStore`]
//! with the same meaning. [`FileTriage`] is the embedded one:
//! `triage.jsonl` under the data directory, each line synced before the
//! change is answered.
//!
//! A false-positive filter is a Sigma filter document (YAML). Each edit
//! adds a version (all are kept); removing it keeps its versions and
//! says who removed it and when.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Result, StoreError};

/// What is triaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Detection,
    Incident,
}

impl TargetKind {
    pub fn parse(s: &str) -> Option<TargetKind> {
        match s {
            "detection" => Some(TargetKind::Detection),
            "incident" => Some(TargetKind::Incident),
            _ => None,
        }
    }
}

/// One detection (its deterministic id) or one incident (its live id,
/// which lasts as the incident grows).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    pub kind: TargetKind,
    pub id: String,
}

/// Where a detection or incident stands (DFIR-IRIS, TheHive: new, seen,
/// closed one way or the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    New,
    Acknowledged,
    Resolved,
    FalsePositive,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::New,
        Status::Acknowledged,
        Status::Resolved,
        Status::FalsePositive,
    ];

    /// The key, as in the JSON and the glossary.
    pub fn key(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
            Status::FalsePositive => "false_positive",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.key() == s)
    }
}

/// One change of triage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    Status {
        status: Status,
    },
    /// `None`: nobody any more.
    Assign {
        assignee: Option<String>,
    },
    Comment {
        text: String,
    },
}

/// A change, by whom and when (RFC 3339, UTC), for which tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    pub who: String,
    pub tenant: String,
    pub target: Target,
    #[serde(flatten)]
    pub change: Change,
}

/// Where a target stands now, folded from its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    pub target: Target,
    pub status: Status,
    pub assignee: Option<String>,
    /// Every change, oldest first (comments included).
    pub history: Vec<Entry>,
}

/// The current state of every target of `entries` (in their order).
pub fn fold<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> BTreeMap<Target, State> {
    let mut out: BTreeMap<Target, State> = BTreeMap::new();
    for e in entries {
        let s = out.entry(e.target.clone()).or_insert_with(|| State {
            target: e.target.clone(),
            status: Status::New,
            assignee: None,
            history: Vec::new(),
        });
        match &e.change {
            Change::Status { status } => s.status = *status,
            Change::Assign { assignee } => s.assignee = assignee.clone(),
            Change::Comment { .. } => {}
        }
        s.history.push(e.clone());
    }
    out
}

/// One version of a false-positive filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterVersion {
    /// The filter's id (also the Sigma document's `id`).
    pub filter: String,
    /// 1, 2, …: given by the store.
    pub version: u32,
    pub time: String,
    pub who: String,
    pub tenant: String,
    /// The Sigma filter document.
    pub yaml: String,
    /// What it was made from (the detection marked false positive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Target>,
}

/// A filter with every version kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub id: String,
    pub tenant: String,
    /// Oldest first; the last is the one applied (unless removed).
    pub versions: Vec<FilterVersion>,
    /// Who removed it and when: then it is no longer applied.
    pub removed: Option<Removal>,
}

impl Filter {
    /// The version applied, if the filter is not removed.
    pub fn active(&self) -> Option<&FilterVersion> {
        self.removed
            .is_none()
            .then(|| self.versions.last())
            .flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub filter: String,
    pub time: String,
    pub who: String,
}

/// A search kept under a name, to run again (the console's event
/// search: query, time range, host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSearch {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub query: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    pub who: String,
    pub time: String,
}

/// A saved search removed, by whom and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRemoval {
    pub id: String,
    pub tenant: String,
    pub who: String,
    pub time: String,
}

/// A rule turned off or on again, by whom, when and why: for every
/// tenant (`tenant` none: the deployment's administrator's act, the rule
/// left out of the engine) or for one commune's events only (its
/// administrator's choice, or the deployment's for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSwitch {
    /// The rule's `id` (its `name` when it has no id).
    pub rule: String,
    /// Its title when switched: a rule turned off is no longer in the
    /// engine, the page still names it.
    pub title: String,
    pub enabled: bool,
    pub reason: String,
    pub who: String,
    pub time: String,
    /// The commune it applies to; none: every tenant (the switches kept
    /// before tenants had their own are such).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The rules turned off for every tenant now: the last such switch of
/// each rule decides (a commune's own switches are not these).
pub fn disabled_rules(switches: &[RuleSwitch]) -> BTreeMap<String, RuleSwitch> {
    let mut off = BTreeMap::new();
    for s in switches.iter().filter(|s| s.tenant.is_none()) {
        if s.enabled {
            off.remove(&s.rule);
        } else {
            off.insert(s.rule.clone(), s.clone());
        }
    }
    off
}

/// The rules each commune turned off for its own events, by tenant: the
/// last switch of a rule for that tenant decides. A rule off for every
/// tenant stays off whatever a commune says ([`disabled_rules`]: the
/// deployment's choice is not undone by one commune).
pub fn disabled_by_tenant(
    switches: &[RuleSwitch],
) -> BTreeMap<String, BTreeMap<String, RuleSwitch>> {
    let mut by: BTreeMap<String, BTreeMap<String, RuleSwitch>> = BTreeMap::new();
    for s in switches {
        let Some(t) = &s.tenant else { continue };
        let off = by.entry(t.clone()).or_default();
        if s.enabled {
            off.remove(&s.rule);
        } else {
            off.insert(s.rule.clone(), s.clone());
        }
    }
    by.retain(|_, off| !off.is_empty());
    by
}

/// Where triage is kept.
#[async_trait]
pub trait TriageStore: Send + Sync {
    /// Keeps a change; durable when this returns.
    async fn record(&self, entry: Entry) -> Result<()>;
    /// Every change of `tenant`, oldest first.
    async fn entries(&self, tenant: &str) -> Result<Vec<Entry>>;
    /// Adds a version of filter `version.filter` (its number is the next
    /// one: the given `version` is ignored); durable when this returns.
    /// A removed filter cannot get a new version.
    async fn put_filter(&self, version: FilterVersion) -> Result<FilterVersion>;
    /// Stops applying a filter (its versions stay).
    async fn remove_filter(&self, removal: Removal) -> Result<()>;
    /// Every filter, removed ones included.
    async fn filters(&self) -> Result<Vec<Filter>>;
    /// Keeps a saved search (an id already kept is replaced).
    async fn save_search(&self, search: SavedSearch) -> Result<()>;
    /// The saved searches of `tenant` (removed ones left out), oldest first.
    async fn searches(&self, tenant: &str) -> Result<Vec<SavedSearch>>;
    /// Removes a saved search; whether it was there.
    async fn remove_search(&self, removal: SearchRemoval) -> Result<bool>;
    /// Keeps a rule turned off or on; durable when this returns.
    async fn switch_rule(&self, switch: RuleSwitch) -> Result<()>;
    /// Every rule switch, oldest first (see [`disabled_rules`]).
    async fn rule_switches(&self) -> Result<Vec<RuleSwitch>>;
}

/// One line of `triage.jsonl` (public: the SQLite state imports a
/// data directory of an earlier Vigie line by line).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Line {
    Entry(Entry),
    FilterVersion(FilterVersion),
    FilterRemoved(Removal),
    SearchSaved(SavedSearch),
    SearchRemoved(SearchRemoval),
    RuleSwitched(RuleSwitch),
}

/// The embedded triage store: `triage.jsonl` in the data directory
/// (mode 0600, append-only, each line synced), read whole at open.
#[derive(Clone)]
pub struct FileTriage {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    path: PathBuf,
    file: File,
    lines: Vec<Line>,
}

impl FileTriage {
    /// Opens (or creates) `data/triage.jsonl`. A damaged line is an
    /// error naming it: triage read in part would be triage lost.
    pub fn open(data: &Path) -> Result<FileTriage> {
        std::fs::create_dir_all(data).map_err(|source| StoreError::Io {
            what: format!("create {}", data.display()),
            source,
        })?;
        let path = data.join("triage.jsonl");
        let mut lines = Vec::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let complete = text.ends_with('\n');
                let all: Vec<&str> = text.lines().collect();
                for (i, l) in all.iter().enumerate() {
                    if l.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Line>(l) {
                        Ok(line) => lines.push(line),
                        // A last line cut by a crash before its sync was
                        // never answered: not a change made.
                        Err(_) if i + 1 == all.len() && !complete => {}
                        Err(e) => {
                            return Err(StoreError::Invalid(format!(
                                "{} line {}: {e} (left as it is: repair or move it aside)",
                                path.display(),
                                i + 1
                            )))
                        }
                    }
                }
                if !text.is_empty() && !complete {
                    let keep = text.rfind('\n').map_or(0, |i| i as u64 + 1);
                    OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.set_len(keep).and_then(|_| f.sync_all()))
                        .map_err(|source| StoreError::Io {
                            what: format!("cut the torn last line of {}", path.display()),
                            source,
                        })?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    what: format!("read {}", path.display()),
                    source,
                })
            }
        }
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(&path).map_err(|source| StoreError::Io {
            what: format!("open {}", path.display()),
            source,
        })?;
        Ok(FileTriage {
            inner: Arc::new(Mutex::new(Inner { path, file, lines })),
        })
    }

    fn append(&self, line: Line) -> Result<()> {
        let mut bytes =
            serde_json::to_vec(&line).map_err(|e| StoreError::Invalid(e.to_string()))?;
        bytes.push(b'\n');
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let before = g.file.metadata().map(|m| m.len()).unwrap_or(0);
        if let Err(source) = g.file.write_all(&bytes).and_then(|_| g.file.sync_data()) {
            // Nothing half-written stays: the next line must start a line.
            let _ = g.file.set_len(before);
            return Err(StoreError::Io {
                what: format!("append to {}", g.path.display()),
                source,
            });
        }
        g.lines.push(line);
        Ok(())
    }

    fn filters_now(lines: &[Line]) -> Vec<Filter> {
        let mut by: BTreeMap<String, Filter> = BTreeMap::new();
        for l in lines {
            match l {
                Line::FilterVersion(v) => by
                    .entry(v.filter.clone())
                    .or_insert_with(|| Filter {
                        id: v.filter.clone(),
                        tenant: v.tenant.clone(),
                        versions: Vec::new(),
                        removed: None,
                    })
                    .versions
                    .push(v.clone()),
                Line::FilterRemoved(r) => {
                    if let Some(f) = by.get_mut(&r.filter) {
                        f.removed = Some(r.clone());
                    }
                }
                _ => {}
            }
        }
        by.into_values().collect()
    }

    fn searches_now(lines: &[Line], tenant: &str) -> Vec<SavedSearch> {
        let mut out: Vec<SavedSearch> = Vec::new();
        for l in lines {
            match l {
                Line::SearchSaved(s) if s.tenant == tenant => {
                    out.retain(|x| x.id != s.id);
                    out.push(s.clone());
                }
                Line::SearchRemoved(r) if r.tenant == tenant => out.retain(|x| x.id != r.id),
                _ => {}
            }
        }
        out
    }
}

#[async_trait]
impl TriageStore for FileTriage {
    async fn record(&self, entry: Entry) -> Result<()> {
        let me = self.clone();
        blocking(move || me.append(Line::Entry(entry))).await
    }

    async fn entries(&self, tenant: &str) -> Result<Vec<Entry>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(g.lines
            .iter()
            .filter_map(|l| match l {
                Line::Entry(e) if e.tenant == tenant => Some(e.clone()),
                _ => None,
            })
            .collect())
    }

    async fn put_filter(&self, mut version: FilterVersion) -> Result<FilterVersion> {
        let me = self.clone();
        blocking(move || {
            // Numbered under the lock's order: two edits at once get two
            // versions, never the same number.
            let number = {
                let g = me.inner.lock().unwrap_or_else(|e| e.into_inner());
                let now = FileTriage::filters_now(&g.lines);
                let f = now.iter().find(|f| f.id == version.filter);
                if f.is_some_and(|f| f.removed.is_some()) {
                    return Err(StoreError::Invalid(format!(
                        "filter {} was removed: it gets no new version",
                        version.filter
                    )));
                }
                f.map_or(1, |f| f.versions.len() as u32 + 1)
            };
            version.version = number;
            me.append(Line::FilterVersion(version.clone()))?;
            Ok(version)
        })
        .await
    }

    async fn remove_filter(&self, removal: Removal) -> Result<()> {
        let me = self.clone();
        blocking(move || {
            {
                let g = me.inner.lock().unwrap_or_else(|e| e.into_inner());
                let now = FileTriage::filters_now(&g.lines);
                match now.iter().find(|f| f.id == removal.filter) {
                    None => {
                        return Err(StoreError::Invalid(format!("no filter {}", removal.filter)))
                    }
                    Some(f) if f.removed.is_some() => return Ok(()),
                    Some(_) => {}
                }
            }
            me.append(Line::FilterRemoved(removal))
        })
        .await
    }

    async fn filters(&self) -> Result<Vec<Filter>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(FileTriage::filters_now(&g.lines))
    }

    async fn switch_rule(&self, switch: RuleSwitch) -> Result<()> {
        let me = self.clone();
        blocking(move || me.append(Line::RuleSwitched(switch))).await
    }

    async fn rule_switches(&self) -> Result<Vec<RuleSwitch>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(g.lines
            .iter()
            .filter_map(|l| match l {
                Line::RuleSwitched(s) => Some(s.clone()),
                _ => None,
            })
            .collect())
    }

    async fn save_search(&self, search: SavedSearch) -> Result<()> {
        let me = self.clone();
        blocking(move || me.append(Line::SearchSaved(search))).await
    }

    async fn searches(&self, tenant: &str) -> Result<Vec<SavedSearch>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(FileTriage::searches_now(&g.lines, tenant))
    }

    async fn remove_search(&self, removal: SearchRemoval) -> Result<bool> {
        let me = self.clone();
        blocking(move || {
            let there = {
                let g = me.inner.lock().unwrap_or_else(|e| e.into_inner());
                FileTriage::searches_now(&g.lines, &removal.tenant)
                    .iter()
                    .any(|s| s.id == removal.id)
            };
            if there {
                me.append(Line::SearchRemoved(removal))?;
            }
            Ok(there)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Invalid(format!("triage task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(who: &str, id: &str, change: Change) -> Entry {
        Entry {
            time: "2026-12-05T10:00:00Z".into(),
            who: who.into(),
            tenant: "default".into(),
            target: Target {
                kind: TargetKind::Detection,
                id: id.into(),
            },
            change,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rule_switches_survive_a_reopen_and_the_last_one_decides() {
        let dir = tempfile::tempdir().unwrap();
        let t = FileTriage::open(dir.path()).unwrap();
        let s = |rule: &str, enabled: bool| RuleSwitch {
            rule: rule.into(),
            title: format!("title of {rule}"),
            enabled,
            reason: "noisy on the backup server".into(),
            who: "anne".into(),
            time: "2026-12-05T10:00:00Z".into(),
            tenant: None,
        };
        t.switch_rule(s("r1", false)).await.unwrap();
        t.switch_rule(s("r2", false)).await.unwrap();
        t.switch_rule(s("r1", true)).await.unwrap();
        drop(t);
        let t = FileTriage::open(dir.path()).unwrap();
        let all = t.rule_switches().await.unwrap();
        assert_eq!(all.len(), 3);
        let off = disabled_rules(&all);
        assert_eq!(off.keys().collect::<Vec<_>>(), ["r2"]);
        assert_eq!(off["r2"].title, "title of r2");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_and_filter_versions_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let t = FileTriage::open(dir.path()).unwrap();
        t.record(entry(
            "anne",
            "d1",
            Change::Assign {
                assignee: Some("vera".into()),
            },
        ))
        .await
        .unwrap();
        t.record(entry(
            "vera",
            "d1",
            Change::Status {
                status: Status::FalsePositive,
            },
        ))
        .await
        .unwrap();
        t.record(entry(
            "vera",
            "d1",
            Change::Comment {
                text: "admin script".into(),
            },
        ))
        .await
        .unwrap();
        let v = FilterVersion {
            filter: "f1".into(),
            version: 0,
            time: "2026-12-05T10:00:00Z".into(),
            who: "vera".into(),
            tenant: "default".into(),
            yaml: "title: a".into(),
            from: None,
        };
        assert_eq!(t.put_filter(v.clone()).await.unwrap().version, 1);
        let v2 = FilterVersion {
            yaml: "title: b".into(),
            ..v.clone()
        };
        assert_eq!(t.put_filter(v2).await.unwrap().version, 2);
        drop(t);

        // A torn last line (a crash before its sync) is not a change.
        let path = dir.path().join("triage.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"entry\":{\"ti").unwrap();
        drop(f);
        let t = FileTriage::open(dir.path()).unwrap();
        let states = fold(&t.entries("default").await.unwrap());
        let s = states.values().next().unwrap();
        assert_eq!(s.status, Status::FalsePositive);
        assert_eq!(s.assignee.as_deref(), Some("vera"));
        assert_eq!(s.history.len(), 3);
        assert!(t.entries("other").await.unwrap().is_empty());
        let fs = t.filters().await.unwrap();
        assert_eq!(fs[0].versions.len(), 2);
        assert_eq!(fs[0].active().unwrap().yaml, "title: b");
        t.remove_filter(Removal {
            filter: "f1".into(),
            time: "t".into(),
            who: "anne".into(),
        })
        .await
        .unwrap();
        let fs = t.filters().await.unwrap();
        assert!(fs[0].active().is_none());
        assert_eq!(fs[0].versions.len(), 2, "versions kept after removal");
        assert!(
            t.put_filter(v).await.is_err(),
            "a removed filter stays removed"
        );
        let saved = SavedSearch {
            id: "s1".into(),
            tenant: "default".into(),
            name: "échecs de connexion".into(),
            query: "EventID:4625".into(),
            from: None,
            to: None,
            host: Some("DC01".into()),
            who: "anne".into(),
            time: "t".into(),
        };
        t.save_search(saved.clone()).await.unwrap();
        assert_eq!(t.searches("default").await.unwrap(), vec![saved.clone()]);
        assert!(t.searches("other").await.unwrap().is_empty());
        let gone = SearchRemoval {
            id: "s1".into(),
            tenant: "default".into(),
            who: "anne".into(),
            time: "t".into(),
        };
        assert!(t.remove_search(gone.clone()).await.unwrap());
        assert!(!t.remove_search(gone).await.unwrap());
        assert!(t.searches("default").await.unwrap().is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A damaged line in the middle is an error, never triage lost.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        let err = FileTriage::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
