//! Access tokens: who may send events, who may read.
//!
//! Tokens are random 256-bit values shown once, at creation; only their
//! SHA-256 is kept (`tokens.jsonl` under the data directory), so a copy of
//! the data directory does not hold a usable token. A hash is enough:
//! tokens are not passwords a person chose, there is nothing to guess.
//!
//! Kept behind [`TokenStore`]: `state.db` in the data directory
//! ([`DbTokens::embedded`]: a token made or revoked by `vigie token …`
//! while the server runs opens, or is refused, within [`POLL`]), or
//! PostgreSQL with `--db` ([`DbTokens::open`]: one set for every node, a
//! revocation refused everywhere within [`POLL`]). `tokens.jsonl`
//! ([`FileTokens`]) was the embedded store before `state.db`: it is
//! imported into either at the first start.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send events.
    Ingest,
    /// Read detections and statistics.
    Read,
    /// Everything.
    Admin,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Whether a token of this scope may do what `needed` allows.
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed
    }
}

/// One token, as kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub scope: Scope,
    /// The commune it belongs to; for a reading token of several
    /// communes (`--tenant A --tenant B`), their names, sorted and
    /// comma-separated ([`TokenRecord::communes`]). Kept in the same
    /// column rather than a new one: a tenant's name has no comma, so a
    /// node of an older version sharing the database reads such a token
    /// as the token of a commune nobody has — it opens nothing there,
    /// rather than its `default` tenant's.
    pub tenant: String,
    pub sha256: String,
    pub created: String,
    /// When and by whom it was revoked: then it opens nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revoked>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub time: String,
    pub by: String,
}

impl TokenRecord {
    /// The communes of a token of several (`vigie token create --tenant A
    /// --tenant B`), which it reads and no other; empty for the token of
    /// one commune (its `tenant`).
    pub fn communes(&self) -> Vec<String> {
        if self.tenant.contains(',') {
            self.tenant.split(',').map(str::to_string).collect()
        } else {
            Vec::new()
        }
    }

    /// How a token is named in listings and revoked: the first 12 hex
    /// digits of its hash (names need not be unique; the hash of a token
    /// gives nothing of the token).
    pub fn id(&self) -> &str {
        self.sha256.get(..12).unwrap_or(&self.sha256)
    }
}

/// Orders the writers of `tokens.jsonl` (`vigie token create|revoke`,
/// the server's revocation): a revocation rewrites the file whole, and
/// must not lose a token created meanwhile.
fn locked(data: &Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(data)?;
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data.join("tokens.lock"))?;
    f.lock()?;
    Ok(f)
}

fn file(data: &Path) -> PathBuf {
    data.join("tokens.jsonl")
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `tenant` a token of `scope` keeps for the communes `--tenant`
/// named (once or more; a name repeated counts once): one name as it is;
/// several, sorted and comma-separated — for a `read` token only. An
/// ingest token sends one commune's events (its subject, its assets, its
/// detections are that commune's: events of "several communes" would be
/// filed under none), and an admin token is of one commune or of the
/// deployment, as an account is. `Err` says why, naming the option.
pub fn tenant_of(tenants: &[String], scope: Scope) -> Result<String, String> {
    if let Some(bad) = tenants
        .iter()
        .find(|t| !vigie_console::users::valid_tenant(t))
    {
        return Err(format!(
            "--tenant {bad:?}: {}",
            vigie_console::users::TENANT_RULE
        ));
    }
    let mut set = tenants.to_vec();
    set.sort();
    set.dedup();
    match (set.len(), scope) {
        (0, _) => Ok("default".to_string()),
        (1, _) => Ok(set.remove(0)),
        (_, Scope::Read) => Ok(set.join(",")),
        (_, Scope::Ingest) => Err(format!(
            "--tenant given {} times ({}): an ingest token sends the events of one commune — make one token per commune",
            set.len(),
            set.join(", ")
        )),
        (_, Scope::Admin) => Err(format!(
            "--tenant given {} times ({}): an admin token is of one commune or of the deployment (no --tenant); a token of several communes is a read token (--scope read)",
            set.len(),
            set.join(", ")
        )),
    }
}

/// A new token and its record (the token itself is seen only here).
pub fn new_token(name: &str, scope: Scope, tenant: &str) -> (String, TokenRecord) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!(
        "vgt_{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let record = TokenRecord {
        name: name.to_string(),
        scope,
        tenant: tenant.to_string(),
        sha256: digest(&token),
        created: now(),
        revoked: None,
    };
    (token, record)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Creates a token and returns it (the only time it is seen).
pub fn create(data: &Path, name: &str, scope: Scope, tenant: &str) -> std::io::Result<String> {
    std::fs::create_dir_all(data)?;
    let (token, record) = new_token(name, scope, tenant);
    let _lock = locked(data)?;
    let mut line = serde_json::to_string(&record).expect("a token record serialises");
    line.push('\n');
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(file(data))?;
    f.write_all(line.as_bytes())?;
    f.sync_all()?;
    Ok(token)
}

/// The tokens of a data directory.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    records: Vec<TokenRecord>,
}

impl Tokens {
    /// Reads them; a damaged line is an error naming it (a token store
    /// read halfway would lock people out without saying why).
    pub fn load(data: &Path) -> Result<Tokens, String> {
        let path = file(data);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tokens::default()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut records = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let r: TokenRecord = serde_json::from_str(line)
                .map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))?;
            records.push(r);
        }
        Ok(Tokens { records })
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record of `token`, if it is one of ours and not revoked.
    pub fn check(&self, token: &str) -> Option<&TokenRecord> {
        let d = digest(token);
        self.records
            .iter()
            .find(|r| r.sha256 == d && r.revoked.is_none())
    }

    /// Every token, revoked ones included (their records stay).
    pub fn records(&self) -> &[TokenRecord] {
        &self.records
    }
}

/// Why a token could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("no token {0} (see `vigie token list`)")]
    Unknown(String),
    #[error("{0}")]
    Store(String),
}

/// Revokes the token whose id ([`TokenRecord::id`]) is `id`: kept, marked
/// revoked with when and by whom; the file rewritten whole (temporary
/// file, sync, rename). Revoking a revoked token changes nothing. The
/// server reads the file again at its next request: the token opens
/// nothing from then on.
pub fn revoke(data: &Path, id: &str, by: &str) -> Result<TokenRecord, RevokeError> {
    let store = |e: std::io::Error| RevokeError::Store(format!("{}: {e}", file(data).display()));
    let _lock = locked(data).map_err(store)?;
    let mut tokens = Tokens::load(data).map_err(RevokeError::Store)?;
    let Some(r) = tokens
        .records
        .iter_mut()
        .find(|r| r.id() == id && id.len() == 12)
    else {
        return Err(RevokeError::Unknown(id.to_string()));
    };
    if r.revoked.is_none() {
        r.revoked = Some(Revoked {
            time: now(),
            by: by.to_string(),
        });
    }
    let revoked = r.clone();
    let mut text = String::new();
    for r in &tokens.records {
        text.push_str(&serde_json::to_string(r).expect("a token record serialises"));
        text.push('\n');
    }
    let tmp = data.join("tokens.jsonl.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(store)?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(store)?;
    std::fs::rename(&tmp, file(data)).map_err(store)?;
    std::fs::File::open(data)
        .and_then(|d| d.sync_all())
        .map_err(store)?;
    Ok(revoked)
}

/// The tokens, re-read when `tokens.jsonl` changes: a token created with
/// `vigie token create` while the server runs works at once, without a
/// restart.
pub struct Live {
    data: PathBuf,
    cached: std::sync::Mutex<(Option<Stamp>, Tokens)>,
}

/// What says the file changed: its time of change alone missed a
/// rewrite within the same tick of the file system's clock (a token
/// revoked right after another change read as unchanged), so its length
/// and inode (a rewrite replaces the file) are compared too.
type Stamp = (std::time::SystemTime, u64, u64);

fn stamp(data: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(file(data)).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

impl Live {
    pub fn new(data: &Path, tokens: Tokens) -> Live {
        let mtime = stamp(data);
        Live {
            data: data.to_path_buf(),
            cached: std::sync::Mutex::new((mtime, tokens)),
        }
    }

    /// The record of `token`, if it is one of ours now.
    pub fn check(&self, token: &str) -> Option<TokenRecord> {
        let mtime = stamp(&self.data);
        let mut c = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if mtime != c.0 {
            match Tokens::load(&self.data) {
                Ok(t) => *c = (mtime, t),
                // Keep the tokens known: a file being written is read
                // again at the next request.
                Err(e) => eprintln!("vigie serve: tokens: {e}"),
            }
        }
        c.1.check(token).cloned()
    }
}

/// Where the tokens are kept. Blocking: the authorisation check asks
/// it at each request with a token, the command line has no runtime.
pub trait TokenStore: Send + Sync {
    /// Creates a token and returns it (the only time it is seen).
    fn create(&self, name: &str, scope: Scope, tenant: &str) -> std::io::Result<String>;
    /// The record of `token`, if it is one of ours and not revoked.
    fn check(&self, token: &str) -> Option<TokenRecord>;
    /// Every token, revoked ones included, oldest first.
    fn list(&self) -> Result<Vec<TokenRecord>, String>;
    /// Revokes the token of `id` ([`TokenRecord::id`]); revoking a revoked
    /// token changes nothing.
    fn revoke(&self, id: &str, by: &str) -> Result<TokenRecord, RevokeError>;
    /// Where they are, for messages (never a password).
    fn place(&self) -> String;
}

/// `tokens.jsonl` under a data directory, read again when it changes.
pub struct FileTokens {
    data: PathBuf,
    live: Live,
}

impl FileTokens {
    /// The tokens of `data` (a damaged file is an error naming its line).
    pub fn open(data: &Path) -> Result<FileTokens, String> {
        let tokens = Tokens::load(data)?;
        Ok(FileTokens {
            data: data.to_path_buf(),
            live: Live::new(data, tokens),
        })
    }
}

impl TokenStore for FileTokens {
    fn create(&self, name: &str, scope: Scope, tenant: &str) -> std::io::Result<String> {
        create(&self.data, name, scope, tenant)
    }

    fn check(&self, token: &str) -> Option<TokenRecord> {
        self.live.check(token)
    }

    fn list(&self) -> Result<Vec<TokenRecord>, String> {
        Ok(Tokens::load(&self.data)?.records)
    }

    fn revoke(&self, id: &str, by: &str) -> Result<TokenRecord, RevokeError> {
        revoke(&self.data, id, by)
    }

    fn place(&self) -> String {
        file(&self.data).display().to_string()
    }
}

/// How often a node with `--db` asks whether the tokens changed (one
/// small query): a token made or revoked on another node opens, or is
/// refused, here within this and the time of the query.
pub const POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Where [`DbTokens`] keeps the tokens: PostgreSQL (`--db`) or the data
/// directory's `state.db`, the same calls (the row is PostgreSQL's).
pub trait SharedTokens: Send + Sync + 'static {
    /// Keeps a new token; the version after.
    fn create(&self, t: &vigie_db::TokenRow) -> Result<i64, String>;
    /// Revokes the token of `id` (12 hex digits): its row after, `None`
    /// when there is none. The first revocation stands.
    fn revoke(&self, id: &str, by: &str, time: &str) -> Result<Option<vigie_db::TokenRow>, String>;
    /// Keeps tokens of a `tokens.jsonl` (a token kept already only takes
    /// a revocation it lacks); how many rows changed.
    fn import(&self, rows: &[vigie_db::TokenRow]) -> Result<u64, String>;
    /// The version now: moved by every change.
    fn version(&self) -> Result<i64, String>;
    /// Every token, oldest first, with the version they are of.
    fn all(&self) -> Result<(i64, Vec<vigie_db::TokenRow>), String>;
    fn place(&self) -> String;
}

impl SharedTokens for vigie_db::PgTokens {
    fn create(&self, t: &vigie_db::TokenRow) -> Result<i64, String> {
        vigie_db::PgTokens::create(self, t).map_err(|e| e.to_string())
    }
    fn revoke(&self, id: &str, by: &str, time: &str) -> Result<Option<vigie_db::TokenRow>, String> {
        vigie_db::PgTokens::revoke(self, id, by, time).map_err(|e| e.to_string())
    }
    fn import(&self, rows: &[vigie_db::TokenRow]) -> Result<u64, String> {
        vigie_db::PgTokens::import(self, rows).map_err(|e| e.to_string())
    }
    fn version(&self) -> Result<i64, String> {
        vigie_db::PgTokens::version(self).map_err(|e| e.to_string())
    }
    fn all(&self) -> Result<(i64, Vec<vigie_db::TokenRow>), String> {
        vigie_db::PgTokens::all(self).map_err(|e| e.to_string())
    }
    fn place(&self) -> String {
        vigie_db::PgTokens::place(self)
    }
}

fn to_state(r: &vigie_db::TokenRow) -> vigie_state::TokenRow {
    vigie_state::TokenRow {
        sha256: r.sha256.clone(),
        name: r.name.clone(),
        scope: r.scope.clone(),
        tenant: r.tenant.clone(),
        created: r.created.clone(),
        revoked: r.revoked.clone(),
    }
}

fn from_state(r: vigie_state::TokenRow) -> vigie_db::TokenRow {
    vigie_db::TokenRow {
        sha256: r.sha256,
        name: r.name,
        scope: r.scope,
        tenant: r.tenant,
        created: r.created,
        revoked: r.revoked,
    }
}

impl SharedTokens for vigie_state::SqliteTokens {
    fn create(&self, t: &vigie_db::TokenRow) -> Result<i64, String> {
        vigie_state::SqliteTokens::create(self, &to_state(t)).map_err(|e| e.to_string())
    }
    fn revoke(&self, id: &str, by: &str, time: &str) -> Result<Option<vigie_db::TokenRow>, String> {
        vigie_state::SqliteTokens::revoke(self, id, by, time)
            .map(|r| r.map(from_state))
            .map_err(|e| e.to_string())
    }
    fn import(&self, rows: &[vigie_db::TokenRow]) -> Result<u64, String> {
        let rows: Vec<_> = rows.iter().map(to_state).collect();
        vigie_state::SqliteTokens::import(self, &rows).map_err(|e| e.to_string())
    }
    fn version(&self) -> Result<i64, String> {
        vigie_state::SqliteTokens::version(self).map_err(|e| e.to_string())
    }
    fn all(&self) -> Result<(i64, Vec<vigie_db::TokenRow>), String> {
        vigie_state::SqliteTokens::all(self)
            .map(|(v, rows)| (v, rows.into_iter().map(from_state).collect()))
            .map_err(|e| e.to_string())
    }
    fn place(&self) -> String {
        vigie_state::SqliteTokens::place(self)
    }
}

/// The tokens of a database (PostgreSQL or `state.db`), held in memory: a
/// request's token is checked there, never waiting for the database. A
/// thread of the store's own asks the version counter every [`POLL`] and
/// reads the tokens again when it moved; a creation or revocation made
/// through this store is held at once. The database out of reach: the
/// tokens held go on being answered (ingest does not stop with the
/// database; said once on stderr), and a revocation made meanwhile
/// applies once it is back.
pub struct DbTokens {
    db: Arc<dyn SharedTokens>,
    held: Arc<std::sync::Mutex<Held>>,
    /// `state.db` (local: its version is one row read in microseconds,
    /// never waiting for a writer under WAL): the version is asked at each
    /// check, so a token made or revoked by `vigie token …` while the
    /// server runs opens, or is refused, from the next request on, as with
    /// the former file. Never with PostgreSQL: a request never waits for
    /// the network.
    each_request: bool,
}

struct Held {
    version: i64,
    tokens: Tokens,
    down: bool,
}

fn record(r: vigie_db::TokenRow) -> Result<TokenRecord, String> {
    let scope = Scope::parse(&r.scope).ok_or_else(|| {
        format!(
            "api_tokens row {}: scope {:?} is none of ingest, read, admin: it opens nothing (repair it in the database)",
            r.sha256.get(..12).unwrap_or(&r.sha256),
            r.scope
        )
    })?;
    Ok(TokenRecord {
        name: r.name,
        scope,
        tenant: r.tenant,
        sha256: r.sha256,
        created: r.created,
        revoked: r.revoked.map(|(time, by)| Revoked { time, by }),
    })
}

fn records(rows: Vec<vigie_db::TokenRow>) -> Vec<TokenRecord> {
    rows.into_iter()
        .filter_map(|r| record(r).map_err(|e| eprintln!("vigie: tokens: {e}")).ok())
        .collect()
}

/// Asks the version and reads the tokens again if it moved (the lock of
/// `held` is not kept while the database answers).
fn refresh(db: &dyn SharedTokens, held: &std::sync::Mutex<Held>) {
    let version = held.lock().unwrap_or_else(|e| e.into_inner()).version;
    let got = db.version().and_then(|v| {
        if v == version {
            Ok(None)
        } else {
            db.all().map(Some)
        }
    });
    let mut h = held.lock().unwrap_or_else(|e| e.into_inner());
    match got {
        Ok(None) => h.down = false,
        Ok(Some((version, rows))) => {
            h.down = false;
            // Any other version is taken, a lower one too: a database
            // restored from a backup goes back, and its state is the
            // truth. (Two refreshes crossing may leave the older read
            // held: the next poll, within `POLL`, corrects it.)
            if version != h.version {
                h.version = version;
                h.tokens = Tokens {
                    records: records(rows),
                };
            }
        }
        Err(e) => {
            if !h.down {
                eprintln!(
                    "vigie serve: tokens: {e} (the tokens held are answered until it is back)"
                );
                h.down = true;
            }
        }
    }
}

impl DbTokens {
    /// The tokens at `url`, read now (a database out of reach is an
    /// error: a node does not start answering with no tokens known), then
    /// followed every [`POLL`] for as long as the store lives.
    pub fn open(url: &str) -> Result<DbTokens, String> {
        DbTokens::follow(Arc::new(
            vigie_db::PgTokens::new(url).map_err(|e| e.to_string())?,
        ))
    }

    /// The tokens of `data`'s `state.db`, its former `tokens.jsonl`
    /// imported first (then renamed `tokens.jsonl.imported-SECONDS`); how
    /// many the import added or newly revoked.
    pub fn embedded(data: &Path) -> Result<(DbTokens, u64), String> {
        let db = vigie_state::SqliteTokens::open(data).map_err(|e| e.to_string())?;
        let mut store = DbTokens::follow(Arc::new(db))?;
        store.each_request = true;
        let n = store.import(data)?;
        Ok((store, n))
    }

    /// The tokens of `db`, read now (out of reach: an error, a node does
    /// not start answering with no tokens known), then followed every
    /// [`POLL`] for as long as the store lives.
    pub fn follow(db: Arc<dyn SharedTokens>) -> Result<DbTokens, String> {
        let (version, rows) = db.all()?;
        let held = Arc::new(std::sync::Mutex::new(Held {
            version,
            tokens: Tokens {
                records: records(rows),
            },
            down: false,
        }));
        // Both weak: the store dropped, its connection closes (a
        // command's `state.db` is then checkpointed, its WAL folded in).
        let (follower, weak) = (Arc::downgrade(&db), Arc::downgrade(&held));
        std::thread::Builder::new()
            .name("vigie-tokens".into())
            .spawn(move || loop {
                std::thread::sleep(POLL);
                let (Some(held), Some(db)) = (weak.upgrade(), follower.upgrade()) else {
                    return;
                };
                refresh(&*db, &held);
            })
            .map_err(|e| format!("the tokens' follower: {e}"))?;
        Ok(DbTokens {
            db,
            held,
            each_request: false,
        })
    }

    fn refresh(&self) {
        refresh(&*self.db, &self.held)
    }

    /// Imports the tokens of `data`'s `tokens.jsonl` (a node moving to
    /// `--db` keeps its shippers' tokens; hashes only, as the file holds
    /// them; a revocation in either is kept), then renames the file
    /// `tokens.jsonl.imported-SECONDS`: imported once, so that a token
    /// deleted from the database does not come back at the node's next
    /// start. How many were added or newly revoked (0 without a file).
    pub fn import(&self, data: &Path) -> Result<u64, String> {
        let file = Tokens::load(data)?;
        if file.is_empty() {
            return Ok(0);
        }
        let n = self.import_records(file.records)?;
        let from = self::file(data);
        let to = from.with_extension(format!("jsonl.imported-{}", chrono::Utc::now().timestamp()));
        if let Err(e) = std::fs::rename(&from, &to) {
            eprintln!(
                "vigie serve: {} imported but not renamed ({e}): it will be imported again at the next start",
                from.display()
            );
        }
        Ok(n)
    }

    /// Moves the tokens of `data`'s `state.db` (a node of the embedded
    /// deployment moving to `--db`, or a node given a copy of another's
    /// `state.db`) into this store: imported as [`DbTokens::import`]
    /// does, then deleted from `state.db` — moved once, so that a token
    /// deleted from the database does not come back at the next start
    /// (stopped in between: imported again, which changes nothing). How
    /// many were added or newly revoked (0 without a `state.db`).
    pub fn import_state(&self, data: &Path) -> Result<u64, String> {
        if !data.join(vigie_state::FILE).is_file() {
            return Ok(0);
        }
        let local = vigie_state::SqliteTokens::open(data).map_err(|e| e.to_string())?;
        let (_, rows) = local.all().map_err(|e| e.to_string())?;
        if rows.is_empty() {
            return Ok(0);
        }
        let shas: Vec<String> = rows.iter().map(|r| r.sha256.clone()).collect();
        let rows: Vec<vigie_db::TokenRow> = rows.into_iter().map(from_state).collect();
        let n = self.db.import(&rows)?;
        self.refresh();
        local.remove(&shas).map_err(|e| e.to_string())?;
        Ok(n)
    }

    fn import_records(&self, records: Vec<TokenRecord>) -> Result<u64, String> {
        let rows: Vec<vigie_db::TokenRow> = records
            .into_iter()
            .map(|r| vigie_db::TokenRow {
                sha256: r.sha256,
                name: r.name,
                scope: format!("{:?}", r.scope).to_lowercase(),
                tenant: r.tenant,
                created: r.created,
                revoked: r.revoked.map(|x| (x.time, x.by)),
            })
            .collect();
        let n = self.db.import(&rows)?;
        self.refresh();
        Ok(n)
    }
}

impl TokenStore for DbTokens {
    fn create(&self, name: &str, scope: Scope, tenant: &str) -> std::io::Result<String> {
        let (token, r) = new_token(name, scope, tenant);
        let row = vigie_db::TokenRow {
            sha256: r.sha256,
            name: r.name,
            scope: format!("{:?}", r.scope).to_lowercase(),
            tenant: r.tenant,
            created: r.created,
            revoked: None,
        };
        self.db.create(&row).map_err(std::io::Error::other)?;
        // This node opens it at once (the others at their next look).
        self.refresh();
        Ok(token)
    }

    fn check(&self, token: &str) -> Option<TokenRecord> {
        if self.each_request {
            self.refresh();
        }
        let h = self.held.lock().unwrap_or_else(|e| e.into_inner());
        h.tokens.check(token).cloned()
    }

    fn list(&self) -> Result<Vec<TokenRecord>, String> {
        let (_, rows) = self.db.all()?;
        rows.into_iter().map(record).collect()
    }

    fn revoke(&self, id: &str, by: &str) -> Result<TokenRecord, RevokeError> {
        if id.len() != 12 {
            return Err(RevokeError::Unknown(id.to_string()));
        }
        let r = self
            .db
            .revoke(id, by, &now())
            .map_err(RevokeError::Store)?
            .ok_or_else(|| RevokeError::Unknown(id.to_string()))?;
        // This node refuses it at once (the others within POLL).
        self.refresh();
        record(r).map_err(RevokeError::Store)
    }

    fn place(&self) -> String {
        self.db.place()
    }
}

/// The token store of a node: the database's with `db`, else `data`'s
/// `state.db` (the node's `tokens.jsonl` imported into either: what the
/// import did, to audit). Says on stderr when there is no token yet.
pub fn open_store(
    data: &Path,
    db: Option<&str>,
) -> Result<(Arc<dyn TokenStore>, Option<String>), String> {
    let (store, imported): (Arc<dyn TokenStore>, _) = match db {
        Some(url) => {
            let store = DbTokens::open(url)?;
            let n = store.import(data)? + store.import_state(data)?;
            let what = (n > 0).then(|| {
                format!(
                    "{n} token(s) of {} (tokens.jsonl, state.db) imported into {}",
                    data.display(),
                    store.place()
                )
            });
            (Arc::new(store), what)
        }
        None => {
            let (store, n) = DbTokens::embedded(data)?;
            let what = (n > 0).then(|| {
                format!(
                    "{n} token(s) of {} imported into {}",
                    file(data).display(),
                    store.place()
                )
            });
            (Arc::new(store), what)
        }
    };
    if store.list().is_ok_and(|l| l.is_empty()) {
        let place = match db {
            Some(url) => format!(
                "--db {}",
                vigie_db::place(url).trim_start_matches("PostgreSQL at ")
            ),
            None => format!("--data {}", data.display()),
        };
        eprintln!(
            "vigie serve: no token yet: every route but /healthz will answer 401; create one with `vigie token create {place} --scope ingest` (and one of scope read or admin to read what it finds)"
        );
    }
    Ok((store, imported))
}

/// The contract every token store meets, written once and run on each:
/// `store` and `other` are two views of the same tokens (two nodes on one
/// database; the same store again for the embedded one), `bound` how
/// long a change may take to be seen by the other.
pub mod conformance {
    use super::*;

    fn within(bound: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
        let until = std::time::Instant::now() + bound;
        loop {
            if f() {
                return true;
            }
            if std::time::Instant::now() > until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn token_store(store: &dyn TokenStore, other: &dyn TokenStore, bound: std::time::Duration) {
        assert!(store.list().unwrap().is_empty());
        let a = store
            .create("winlogbeat", Scope::Ingest, "default")
            .unwrap();
        let b = store.create("lecteur", Scope::Read, "mairie-b").unwrap();
        assert!(a.starts_with("vgt_") && a.len() == 68, "{a}");
        let ra = store.check(&a).expect("opens where made");
        assert_eq!(
            (ra.name.as_str(), ra.scope, ra.tenant.as_str()),
            ("winlogbeat", Scope::Ingest, "default")
        );
        assert!(
            within(bound, || other.check(&b).is_some()),
            "opens on the other"
        );
        let rb = other.check(&b).unwrap();
        assert_eq!((rb.scope, rb.tenant.as_str()), (Scope::Read, "mairie-b"));
        assert!(store.check("vgt_not-a-token").is_none());
        assert!(store.check(&a.to_uppercase()).is_none());
        let listed = other.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].name, "winlogbeat", "oldest first");
        assert!(listed
            .iter()
            .all(|r| r.sha256.len() == 64 && !r.sha256.contains(&a[4..])));
        assert!(matches!(
            store.revoke("nope", "anne"),
            Err(RevokeError::Unknown(_))
        ));
        assert!(matches!(
            store.revoke("000000000000", "anne"),
            Err(RevokeError::Unknown(_))
        ));
        let id = ra.id().to_string();
        let r = other.revoke(&id, "anne").unwrap();
        assert_eq!(r.revoked.as_ref().unwrap().by, "anne");
        assert!(other.check(&a).is_none(), "refused at once where revoked");
        assert!(
            within(bound, || store.check(&a).is_none()),
            "refused on the other within the bound"
        );
        assert!(store.check(&b).is_some(), "the other token still opens");
        let again = store.revoke(&id, "bob").unwrap();
        assert_eq!(
            again.revoked.unwrap().by,
            "anne",
            "the first revocation stands"
        );
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 2, "the record stays");
        assert!(listed.iter().any(|r| r.id() == id && r.revoked.is_some()));
        assert!(!store.place().is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_token_opens_nothing_and_stays_listed() {
        let dir = tempfile::tempdir().unwrap();
        let a = create(dir.path(), "winlogbeat", Scope::Ingest, "default").unwrap();
        let b = create(dir.path(), "winlogbeat", Scope::Read, "default").unwrap();
        let t = Tokens::load(dir.path()).unwrap();
        let id = t.check(&a).unwrap().id().to_string();
        assert!(matches!(
            revoke(dir.path(), "nope", "anne"),
            Err(RevokeError::Unknown(_))
        ));
        let r = revoke(dir.path(), &id, "anne").unwrap();
        assert_eq!(r.revoked.as_ref().unwrap().by, "anne");
        let t = Tokens::load(dir.path()).unwrap();
        assert!(t.check(&a).is_none(), "revoked");
        assert!(t.check(&b).is_some(), "the other still opens");
        assert_eq!(t.records().len(), 2, "the record stays");
        // Again: nothing changes, the first revocation stands.
        let again = revoke(dir.path(), &id, "bob").unwrap();
        assert_eq!(again.revoked.unwrap().by, "anne");
    }

    #[test]
    fn the_former_file_store_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileTokens::open(dir.path()).unwrap();
        conformance::token_store(&store, &store, std::time::Duration::ZERO);
    }

    /// `state.db`: the server's store and a `vigie token …` command's
    /// (two processes, two stores on one file), the change seen by the
    /// other within the poll.
    #[test]
    fn the_embedded_store_meets_the_contract_across_two_processes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = DbTokens::embedded(dir.path()).unwrap();
        let (b, _) = DbTokens::embedded(dir.path()).unwrap();
        conformance::token_store(&a, &b, POLL + std::time::Duration::from_secs(2));
    }

    /// A data directory's `tokens.jsonl` of the former version: imported
    /// into `state.db` (a revoked token stays revoked), renamed, not
    /// imported twice.
    #[test]
    fn the_former_tokens_file_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = create(dir.path(), "winlogbeat", Scope::Ingest, "default").unwrap();
        let b = create(dir.path(), "lecteur", Scope::Read, "default").unwrap();
        let id = Tokens::load(dir.path())
            .unwrap()
            .check(&b)
            .unwrap()
            .id()
            .to_string();
        revoke(dir.path(), &id, "anne").unwrap();
        let (store, n) = DbTokens::embedded(dir.path()).unwrap();
        assert_eq!(n, 2);
        assert!(!file(dir.path()).exists());
        assert!(store.check(&a).is_some());
        assert!(store.check(&b).is_none(), "revoked stays revoked");
        drop(store);
        let (store, n) = DbTokens::embedded(dir.path()).unwrap();
        assert_eq!(n, 0);
        assert_eq!(store.list().unwrap().len(), 2);
    }
}
