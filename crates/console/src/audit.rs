//! The audit log: every login, failure, lockout, logout, account and
//! token change, by whom, from where, when.
//!
//! `audit.jsonl` under the data directory, append-only, each line synced
//! before the action is answered. Each line carries the SHA-256 of the
//! line before it (`prev`; the first carries 64 zeros), so a line edited
//! or removed breaks the chain at the line after it, which `vigie audit
//! verify` names. The chain detects tampering by someone who does not
//! rewrite every later line; copy the log off the machine (syslog
//! forward, backup) to also detect that.
//!
//! [`AuditLog`] is where the lines go: [`FileAudit`] (the file above) by
//! default; in the regional deployment, PostgreSQL (`vigie_db::PgAudit`),
//! where appends from every api node are serialized into one chain.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// UTC, RFC 3339, milliseconds.
    pub time: String,
    /// The account name, `token:NAME`, or `cli:USER` for the command line.
    pub who: String,
    /// The client's address, or `local` for the command line.
    pub from: String,
    /// What was done (snake_case, stable: see [`Action`]).
    pub action: String,
    /// What it was done to (an account, a token's name), or empty.
    pub target: String,
    /// `success`, `failure` or `refused`.
    pub outcome: String,
    /// SHA-256 (hex) of the previous line, without its newline.
    pub prev: String,
}

/// The actions recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    LoginFailed,
    Lockout,
    Logout,
    UserAdd,
    UserRemove,
    UserUnlock,
    /// An account changed from the accounts page (target `name: what
    /// before → after`): its role or communes, disabled, enabled, its
    /// password reset (never the password).
    UserChange,
    UserDisable,
    UserEnable,
    UserPassword,
    TokenCreate,
    /// An API token revoked (console, API or `vigie token revoke`).
    TokenRevoke,
    AuditExport,
    /// A service's status set by the crisis cell (target
    /// `tenant/service:id=status`).
    ServiceStatus,
    /// A notice published for residents (target `tenant/notice:id`).
    NoticePublish,
    /// A detection's or incident's status changed (target `kind:id=status`).
    TriageStatus,
    /// Assigned to someone, or to nobody.
    TriageAssign,
    TriageComment,
    /// A false-positive filter made, edited (a new version), removed.
    FilterCreate,
    FilterEdit,
    FilterRemove,
    /// A search of the events saved under a name, or removed.
    SearchSave,
    SearchRemove,
    /// A rule turned off or on again for new events (target `rule: reason`).
    RuleDisable,
    RuleEnable,
    /// The SigmaHQ rules updated from the console or the API.
    RulesUpdate,
    /// A step of a containment action (target `tenant/action:id …`):
    /// requested, approved (four-eyes), rejected, executed (or done by
    /// hand, or failed: outcome `failure`), rolled back, its notice
    /// published.
    ActionRequest,
    ActionApprove,
    ActionReject,
    ActionExecute,
    ActionRollBack,
    ActionPublish,
    /// Indicators uploaded (a source added or replaced) or removed (target
    /// `source-name: counts`).
    IndicatorsAdd,
    IndicatorsRemove,
    /// The certificates (HTTPS, TLS listeners, client CA and CRL) read
    /// again on SIGHUP (who: `system`; target: what changed or why not).
    CertificatesReload,
}

impl Action {
    pub fn key(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::LoginFailed => "login_failed",
            Action::Lockout => "lockout",
            Action::Logout => "logout",
            Action::UserAdd => "user_add",
            Action::UserRemove => "user_remove",
            Action::UserUnlock => "user_unlock",
            Action::UserChange => "user_change",
            Action::UserDisable => "user_disable",
            Action::UserEnable => "user_enable",
            Action::UserPassword => "user_password",
            Action::TokenCreate => "token_create",
            Action::TokenRevoke => "token_revoke",
            Action::AuditExport => "audit_export",
            Action::ServiceStatus => "service_status",
            Action::NoticePublish => "notice_publish",
            Action::TriageStatus => "triage_status",
            Action::TriageAssign => "triage_assign",
            Action::TriageComment => "triage_comment",
            Action::FilterCreate => "filter_create",
            Action::FilterEdit => "filter_edit",
            Action::FilterRemove => "filter_remove",
            Action::SearchSave => "search_save",
            Action::SearchRemove => "search_remove",
            Action::RuleDisable => "rule_disable",
            Action::RuleEnable => "rule_enable",
            Action::RulesUpdate => "rules_update",
            Action::ActionRequest => "action_request",
            Action::ActionApprove => "action_approve",
            Action::ActionReject => "action_reject",
            Action::ActionExecute => "action_execute",
            Action::ActionRollBack => "action_roll_back",
            Action::ActionPublish => "action_publish",
            Action::IndicatorsAdd => "indicators_add",
            Action::IndicatorsRemove => "indicators_remove",
            Action::CertificatesReload => "certificates_reload",
        }
    }
}

/// `success`, `failure`, `refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Refused,
}

impl Outcome {
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Refused => "refused",
        }
    }
}

pub fn file(data: &Path) -> PathBuf {
    data.join("audit.jsonl")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a line (without its newline): the next line's `prev`.
pub fn line_hash(line: &[u8]) -> String {
    hex(&Sha256::digest(line))
}

/// The line (without its newline) of an entry made now, chained to the
/// line whose hash is `prev`.
pub fn entry_line(
    prev: String,
    who: &str,
    from: &str,
    action: Action,
    target: &str,
    outcome: Outcome,
) -> Vec<u8> {
    let entry = Entry {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        who: who.to_string(),
        from: from.to_string(),
        action: action.key().to_string(),
        target: target.to_string(),
        outcome: outcome.key().to_string(),
        prev,
    };
    serde_json::to_vec(&entry).expect("an entry serialises")
}

/// Where the audit log is kept. Blocking calls (a synced file write, a
/// database round trip): the same cost the file always had.
pub trait AuditLog: Send + Sync {
    /// Appends one line chained to the last one; durable when this
    /// returns.
    fn append(
        &self,
        who: &str,
        from: &str,
        action: Action,
        target: &str,
        outcome: Outcome,
    ) -> std::io::Result<()>;
    /// The whole log as JSON Lines (each line ending with a newline),
    /// in order: what [`verify_bytes`] checks and the export gives.
    fn read(&self) -> std::io::Result<Vec<u8>>;
    /// Where it is, for messages (never a password).
    fn place(&self) -> String;
}

/// `audit.jsonl` under a data directory.
pub struct FileAudit {
    pub data: PathBuf,
}

impl AuditLog for FileAudit {
    fn append(
        &self,
        who: &str,
        from: &str,
        action: Action,
        target: &str,
        outcome: Outcome,
    ) -> std::io::Result<()> {
        append(&self.data, who, from, action, target, outcome)
    }

    fn read(&self) -> std::io::Result<Vec<u8>> {
        match std::fs::read(file(&self.data)) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn place(&self) -> String {
        file(&self.data).display().to_string()
    }
}

/// Appends one line, chained to the last one, and syncs it. An
/// exclusive lock on the file orders writers of several processes (the
/// server and `vigie user …` at once).
pub fn append(
    data: &Path,
    who: &str,
    from: &str,
    action: Action,
    target: &str,
    outcome: Outcome,
) -> std::io::Result<()> {
    std::fs::create_dir_all(data)?;
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(file(data))?;
    f.lock()?;
    let prev = match last_line(&mut f)? {
        Some(l) => line_hash(&l),
        None => GENESIS.to_string(),
    };
    let mut line = entry_line(prev, who, from, action, target, outcome);
    line.push(b'\n');
    f.write_all(&line)?;
    f.sync_data()?;
    f.unlock()
}

/// The last complete line of the file, read backwards in blocks (the
/// log grows without bound; appending must not read it all).
fn last_line(f: &mut File) -> std::io::Result<Option<Vec<u8>>> {
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut tail: Vec<u8> = Vec::new();
    let mut pos = len;
    loop {
        let step = pos.min(4096);
        pos -= step;
        let mut block = vec![0u8; step as usize];
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
        // The file ends with '\n'; the line starts after the one before.
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(i) = body.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(body[i + 1..].to_vec()));
        }
        if pos == 0 {
            return Ok(Some(body.to_vec()));
        }
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Broken {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

/// Checks every line and its link to the one before; the number of
/// lines when intact.
pub fn verify(data: &Path) -> std::io::Result<Result<usize, Broken>> {
    let text = match std::fs::read(file(data)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(0)),
        Err(e) => return Err(e),
    };
    Ok(verify_bytes(&text))
}

/// [`verify`] on the log's bytes.
pub fn verify_bytes(text: &[u8]) -> Result<usize, Broken> {
    if text.is_empty() {
        return Ok(0);
    }
    let Some(body) = text.strip_suffix(b"\n") else {
        return Err(Broken {
            line: text.split(|&b| b == b'\n').count(),
            reason: "the last line is cut (no newline)".into(),
        });
    };
    let mut prev = GENESIS.to_string();
    let mut n = 0;
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let broken = |reason: String| Broken {
            line: i + 1,
            reason,
        };
        let entry: Entry =
            serde_json::from_slice(line).map_err(|e| broken(format!("not an audit entry: {e}")))?;
        if entry.prev != prev {
            return Err(broken(
                "its hash of the previous line does not match: the previous line was edited, or lines were removed or inserted before it".into(),
            ));
        }
        prev = line_hash(line);
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_holds_and_an_edited_or_removed_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        for (i, a) in [
            Action::UserAdd,
            Action::Login,
            Action::LoginFailed,
            Action::Logout,
        ]
        .into_iter()
        .enumerate()
        {
            append(
                dir.path(),
                "anne",
                &format!("10.0.0.{i}"),
                a,
                "anne",
                Outcome::Success,
            )
            .unwrap();
        }
        assert_eq!(verify(dir.path()).unwrap(), Ok(4));
        let text = std::fs::read_to_string(file(dir.path())).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let first: Entry = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first.prev, GENESIS);
        assert_eq!(first.action, "user_add");
        assert!(first.time.ends_with('Z'));

        // An edited line: the next one no longer links to it.
        let edited = text.replacen("10.0.0.1", "10.0.0.9", 1);
        assert_eq!(verify_bytes(edited.as_bytes()).unwrap_err().line, 3);
        // A removed line.
        let removed = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
        assert_eq!(verify_bytes(removed.as_bytes()).unwrap_err().line, 2);
        // The last line edited: caught by the next append's link, and
        // meanwhile it must still parse.
        let cut = &text[..text.len() - 5];
        assert!(verify_bytes(cut.as_bytes()).is_err());
        // A long log: appending reads only its tail.
        for _ in 0..200 {
            append(
                dir.path(),
                &"x".repeat(100),
                "local",
                Action::TokenCreate,
                "t",
                Outcome::Success,
            )
            .unwrap();
        }
        assert_eq!(verify(dir.path()).unwrap(), Ok(204));
    }
}
