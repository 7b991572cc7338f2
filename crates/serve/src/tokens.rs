//! Access tokens: who may send events, who may read.
//!
//! Tokens are random 256-bit values shown once, at creation; only their
//! SHA-256 is kept (`tokens.jsonl` under the data directory), so a copy of
//! the data directory does not hold a usable token. A hash is enough:
//! tokens are not passwords a person chose, there is nothing to guess.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Creates a token and returns it (the only time it is seen).
pub fn create(data: &Path, name: &str, scope: Scope, tenant: &str) -> std::io::Result<String> {
    std::fs::create_dir_all(data)?;
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
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        revoked: None,
    };
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
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
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
    cached: std::sync::Mutex<(Option<std::time::SystemTime>, Tokens)>,
}

impl Live {
    pub fn new(data: &Path, tokens: Tokens) -> Live {
        let mtime = std::fs::metadata(file(data))
            .and_then(|m| m.modified())
            .ok();
        Live {
            data: data.to_path_buf(),
            cached: std::sync::Mutex::new((mtime, tokens)),
        }
    }

    /// The record of `token`, if it is one of ours now.
    pub fn check(&self, token: &str) -> Option<TokenRecord> {
        let mtime = std::fs::metadata(file(&self.data))
            .and_then(|m| m.modified())
            .ok();
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
}
