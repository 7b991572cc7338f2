//! Accounts of the console, kept apart from the commune's Active
//! Directory: when the AD is what the attacker took, the people handling
//! the incident must still sign in (Security Onion's advice).
//!
//! `users.json` under the data directory, mode 0600, rewritten whole
//! through a temporary file and a rename (never half-written). Passwords
//! are Argon2id hashes at OWASP's parameters; the TOTP secret of each
//! account that has one is kept in base32, as authenticator apps take it.

use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::Role;

/// Consecutive wrong passwords or codes that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked account stays locked (seconds).
pub const LOCK_SECONDS: i64 = 15 * 60;
/// Shortest password accepted (ANSSI and OWASP: length over rules).
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted (Argon2 takes anything; a bound keeps a
/// hostile form from costing memory).
pub const MAX_PASSWORD: usize = 1024;
/// Issuer shown by authenticator apps.
pub const ISSUER: &str = "Vigie";

/// One account, as kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// PHC string of the Argon2id hash.
    pub password: String,
    /// Base32 TOTP secret, when the account has a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
    /// Last TOTP time step accepted: a code is accepted once (RFC 6238 §5.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_step: Option<u64>,
    pub created: String,
    /// Consecutive failures since the last success or lock.
    #[serde(default)]
    pub failures: u32,
    /// Unix seconds until which the account is locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
    /// The commune (tenant) the account belongs to, in a deployment
    /// serving several (`vigie user add --tenant`): it reads that
    /// tenant's data only, whatever its role. None: the deployment's own
    /// account (the `default` tenant; an admin reads every tenant, as an
    /// admin token does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The communes a CSIRT's account is assigned (`vigie user add
    /// --tenant A --tenant B`): it reads those only, and changes none.
    /// Empty: no restriction (with no `tenant`, every commune). Never
    /// one name: an account of one commune is that commune's
    /// ([`User::tenant`]), as it always was. Sorted, without repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assigned: Vec<String>,
    /// Disabled by an administrator (the accounts page): no login, and
    /// its sessions end. Kept rather than removed: its name stays in the
    /// audit log's sense, and it can be enabled again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// When it last signed in (Unix seconds), for the accounts page: an
    /// account nobody uses is one to disable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<i64>,
}

impl User {
    pub fn locked_at(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    /// What `vigie user list` and the console show of what the account
    /// reads: its commune, its communes (comma-separated), or nothing
    /// (every commune, or the one deployment's).
    pub fn communes_text(&self) -> String {
        match &self.tenant {
            Some(t) => t.clone(),
            None => self.assigned.join(","),
        }
    }
}

/// The communes `--tenant` named (given once or more) as an account keeps
/// them: none, the deployment's own account; one, that commune's account
/// (exactly as before `--tenant` could be repeated); two or more, a
/// CSIRT's account assigned those communes. Each name is checked; a
/// name repeated counts once.
///
/// An administrator is of one commune or of the deployment: an
/// administrator of "some communes" would change what the others share
/// (rules, indicators) or act on communes through a reading right, so
/// it is refused rather than given a meaning nobody asked for.
pub fn assign(user: &mut User, tenants: &[String]) -> Result<(), UserError> {
    if let Some(bad) = tenants.iter().find(|t| !valid_tenant(t)) {
        return Err(UserError::BadTenant(bad.clone()));
    }
    let mut set: Vec<String> = tenants.to_vec();
    set.sort();
    set.dedup();
    match set.len() {
        0 => (user.tenant, user.assigned) = (None, Vec::new()),
        1 => (user.tenant, user.assigned) = (set.pop(), Vec::new()),
        _ if user.role == Role::Admin => {
            return Err(UserError::AdminOfSome(set.join(", ")));
        }
        _ => (user.tenant, user.assigned) = (None, set),
    }
    Ok(())
}

/// The assigned communes as a database keeps them (one text column,
/// comma-separated: a tenant's name has no comma), `None` when there are
/// none.
pub fn assigned_column(assigned: &[String]) -> Option<String> {
    (!assigned.is_empty()).then(|| assigned.join(","))
}

/// The assigned communes read back from [`assigned_column`]'s text; a
/// name that is no tenant's is an error naming the account (a damaged
/// row is never read as "every commune").
pub fn assigned_from(account: &str, column: Option<&str>) -> Result<Vec<String>, UserError> {
    let Some(text) = column.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let set: Vec<String> = text.split(',').map(str::to_string).collect();
    match set.iter().find(|t| !valid_tenant(t)) {
        Some(bad) => Err(UserError::Store(format!(
            "console_users row {account}: assigned commune {bad:?} is no tenant's name ({TENANT_RULE}); repair it in the database"
        ))),
        None => Ok(set),
    }
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: damaged ({reason}); nothing was changed")]
    Damaged { path: PathBuf, reason: String },
    #[error("the account {0:?} already exists")]
    Exists(String),
    #[error("no account {0:?}")]
    NoSuch(String),
    #[error(
        "name {0:?}: 1 to 64 characters, no colon, no control character, no space at either end"
    )]
    BadName(String),
    #[error("the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")]
    BadPassword,
    #[error("tenant {0:?}: {TENANT_RULE}")]
    BadTenant(String),
    #[error("an administrator is of one commune (--tenant once) or of the deployment (no --tenant), not of several ({0}): give the CSIRT's analysts several communes")]
    AdminOfSome(String),
    #[error("{0}")]
    Totp(String),
    /// The accounts' database could not be read or written (its place is
    /// in the message, never its password).
    #[error("{0}")]
    Store(String),
}

fn file(data: &Path) -> PathBuf {
    data.join("users.json")
}

/// What a tenant's name may be, said where one is refused.
pub const TENANT_RULE: &str = "1 to 63 lower-case letters (a-z), digits or '-', beginning with a letter or a digit (e.g. mairie-fouesnant)";

/// A commune's name as a tenant: the same spelling everywhere it is
/// written — a NATS subject (`vigie.events.<tenant>.…`, where `.`, `*`
/// and `>` mean something), a file name (`<tenant>.yml` of `--assets`), a
/// URL (`/status/<tenant>`), a PostgreSQL key. Lower case only: `Mairie-A`
/// beside `mairie-a` would be two communes, and a typo a commune whose
/// events nobody reads.
pub fn valid_tenant(t: &str) -> bool {
    let b = t.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Whether a name can be an account's: kept exactly as given, so it must
/// be printable, and without `:` (it would break basic auth and the
/// otpauth label).
pub fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=64).contains(&n)
        && name.trim() == name
        && !name.contains(':')
        && !name.chars().any(char::is_control)
}

/// The accounts of a data directory (none when the file is absent).
pub fn load(data: &Path) -> Result<Vec<User>, UserError> {
    let path = file(data);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(UserError::Io { path, source }),
    };
    serde_json::from_str(&text).map_err(|e| UserError::Damaged {
        path,
        reason: e.to_string(),
    })
}

/// Writes the accounts: a temporary file (0600 from its creation, so the
/// hashes are never readable by others even for an instant), synced,
/// renamed over the old one, the directory synced.
pub fn save(data: &Path, users: &[User]) -> Result<(), UserError> {
    let path = file(data);
    let io = |source| UserError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data).map_err(io)?;
    let tmp = data.join(format!(".users.json.{}.tmp", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io)?;
    let mut text = serde_json::to_vec_pretty(users).expect("accounts serialise");
    text.push(b'\n');
    f.write_all(&text).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(io)?;
    if let Ok(dir) = std::fs::File::open(data) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Argon2id at OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("OWASP parameters are valid"),
    )
}

/// The PHC string of a new hash of `password`.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id hashes any password of bounded length")
        .to_string()
}

/// Whether `password` matches the PHC string (its own parameters are
/// used, so older hashes keep working if the defaults change).
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of nothing anyone knows, verified when a name is unknown so
/// that a wrong name takes as long as a wrong password.
pub(crate) fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut r = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut r);
        hash_password(&format!("{r:?}"))
    })
}

/// The RFC 6238 generator of an account (SHA-1, 6 digits, 30 s, one step
/// of skew: what every authenticator app does).
pub fn totp(name: &str, secret_base32: &str) -> Result<totp_rs::Totp, UserError> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32)
        .map_err(|e| UserError::Totp(format!("{e:?}")))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_issuer(Some(ISSUER))
        .with_account_name(name)
        .build()
        .map_err(|e| UserError::Totp(format!("{e:?}")))
}

/// What `add` made.
#[derive(Debug)]
pub struct Added {
    /// The `otpauth://` URI to enrol the second factor (shown once).
    pub otpauth: Option<String>,
}

/// A new account, checked and hashed, not kept yet: what every backend
/// stores ([`crate::accounts::UserStore::add`]). A second factor is
/// generated for `admin` (always) and for other roles when `totp` is
/// asked.
pub fn new_user(
    name: &str,
    role: Role,
    password: &str,
    totp_wanted: bool,
    tenant: Option<&str>,
) -> Result<(User, Added), UserError> {
    if !valid_name(name) {
        return Err(UserError::BadName(name.to_string()));
    }
    if let Some(t) = tenant.filter(|t| !valid_tenant(t)) {
        return Err(UserError::BadTenant(t.to_string()));
    }
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(UserError::BadPassword);
    }
    let (secret, otpauth) = if totp_wanted || role.needs_totp() {
        let mut raw = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let secret = totp_rs::Secret::new_stack(raw).to_base32();
        let uri = totp(name, &secret)?
            .to_url()
            .map_err(|e| UserError::Totp(format!("{e:?}")))?;
        (Some(secret), Some(uri))
    } else {
        (None, None)
    };
    Ok((
        User {
            name: name.to_string(),
            role,
            password: hash_password(password),
            totp: secret,
            totp_step: None,
            created: now_rfc3339(),
            failures: 0,
            locked_until: None,
            tenant: tenant.map(str::to_string),
            assigned: Vec::new(),
            disabled: false,
            last_login: None,
        },
        Added { otpauth },
    ))
}

/// Creates an account in `users.json`, bound to `tenant` when given (it
/// reads that commune's data only); see [`new_user`].
pub fn add(
    data: &Path,
    name: &str,
    role: Role,
    password: &str,
    totp_wanted: bool,
    tenant: Option<&str>,
) -> Result<Added, UserError> {
    let (user, added) = new_user(name, role, password, totp_wanted, tenant)?;
    insert(data, user)?;
    Ok(added)
}

/// Keeps a new account in `users.json`; a name taken is refused.
pub(crate) fn insert(data: &Path, user: User) -> Result<(), UserError> {
    let mut users = load(data)?;
    if users.iter().any(|u| u.name == user.name) {
        return Err(UserError::Exists(user.name));
    }
    users.push(user);
    save(data, &users)
}

/// Removes an account.
pub fn remove(data: &Path, name: &str) -> Result<(), UserError> {
    let mut users = load(data)?;
    let before = users.len();
    users.retain(|u| u.name != name);
    if users.len() == before {
        return Err(UserError::NoSuch(name.to_string()));
    }
    save(data, &users)
}

/// Lifts a lock and forgets the failures.
pub fn unlock(data: &Path, name: &str) -> Result<(), UserError> {
    update(data, name, |u| {
        u.failures = 0;
        u.locked_until = None;
    })
}

/// Changes one account in place.
pub(crate) fn update(data: &Path, name: &str, f: impl FnOnce(&mut User)) -> Result<(), UserError> {
    let mut users = load(data)?;
    let u = users
        .iter_mut()
        .find(|u| u.name == name)
        .ok_or_else(|| UserError::NoSuch(name.to_string()))?;
    f(u);
    save(data, &users)
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_with_hashes_mode_0600_and_a_totp_for_admins() {
        let dir = tempfile::tempdir().unwrap();
        let added = add(
            dir.path(),
            "Anne Le Goff",
            Role::Admin,
            "correct horse battery",
            false,
            None,
        )
        .unwrap();
        let uri = added.otpauth.unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Vigie:Anne%20Le%20Goff?"),
            "{uri}"
        );
        assert!(add(
            dir.path(),
            "lecteur",
            Role::Viewer,
            "another long one",
            false,
            None
        )
        .unwrap()
        .otpauth
        .is_none());
        let text = std::fs::read_to_string(dir.path().join("users.json")).unwrap();
        assert!(!text.contains("correct horse"), "no clear password kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("users.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let users = load(dir.path()).unwrap();
        assert_eq!(users.len(), 2);
        assert!(users[0]
            .password
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&users[0].password, "correct horse battery"));
        assert!(!verify_password(
            &users[0].password,
            "correct horse batterY"
        ));
        let secret = users[0].totp.as_deref().unwrap();
        let t = totp("Anne Le Goff", secret).unwrap();
        let now = 1_767_000_000;
        assert!(t.check(&t.generate(now).to_string(), now).is_some());
        assert!(t.check(&t.generate(now - 120).to_string(), now).is_none());

        assert!(matches!(
            add(
                dir.path(),
                "lecteur",
                Role::Viewer,
                "another long one",
                false,
                Some("mairie-b")
            ),
            Err(UserError::Exists(_))
        ));
        assert!(matches!(
            add(dir.path(), "x", Role::Viewer, "short", false, None),
            Err(UserError::BadPassword)
        ));
        assert!(matches!(
            add(
                dir.path(),
                "a:b",
                Role::Viewer,
                "long enough pass",
                false,
                None
            ),
            Err(UserError::BadName(_))
        ));
        remove(dir.path(), "lecteur").unwrap();
        assert!(matches!(
            remove(dir.path(), "lecteur"),
            Err(UserError::NoSuch(_))
        ));
        assert_eq!(load(dir.path()).unwrap().len(), 1);
        assert!(matches!(
            add(
                dir.path(),
                "b",
                Role::Viewer,
                "long enough pass",
                false,
                Some(" x")
            ),
            Err(UserError::BadTenant(_))
        ));
        add(
            dir.path(),
            "b",
            Role::Viewer,
            "long enough pass",
            false,
            Some("mairie-b"),
        )
        .unwrap();
        let b = load(dir.path())
            .unwrap()
            .into_iter()
            .find(|u| u.name == "b");
        assert_eq!(b.unwrap().tenant.as_deref(), Some("mairie-b"));
    }

    #[test]
    fn tenant_given_once_is_one_commune_twice_a_set_and_never_an_admins() {
        let (mut u, _) = new_user("ana", Role::Analyst, "long enough pass", false, None).unwrap();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assign(&mut u, &names(&["quimper"])).unwrap();
        assert_eq!(
            (u.tenant.as_deref(), u.assigned.len()),
            (Some("quimper"), 0)
        );
        assign(&mut u, &names(&["quimper", "quimper"])).unwrap();
        assert_eq!(
            (u.tenant.as_deref(), u.assigned.len()),
            (Some("quimper"), 0)
        );
        assign(&mut u, &names(&["quimper", "concarneau"])).unwrap();
        assert_eq!(u.tenant, None);
        assert_eq!(u.assigned, ["concarneau", "quimper"]);
        assert_eq!(u.communes_text(), "concarneau,quimper");
        assign(&mut u, &[]).unwrap();
        assert_eq!((u.tenant.as_deref(), u.assigned.len()), (None, 0));
        assert!(matches!(
            assign(&mut u, &names(&["quimper", "Concarneau"])),
            Err(UserError::BadTenant(t)) if t == "Concarneau"
        ));
        let (mut admin, _) =
            new_user("chef", Role::Admin, "long enough pass", false, None).unwrap();
        assert!(matches!(
            assign(&mut admin, &names(&["quimper", "concarneau"])),
            Err(UserError::AdminOfSome(_))
        ));
        assign(&mut admin, &names(&["quimper"])).unwrap();
        // Kept as the database keeps it, and read back; a damaged row is
        // an error, never "every commune".
        assert_eq!(assigned_column(&[]), None);
        let col = assigned_column(&names(&["concarneau", "quimper"]));
        assert_eq!(
            assigned_from("ana", col.as_deref()).unwrap(),
            ["concarneau", "quimper"]
        );
        assert!(assigned_from("ana", Some("quimper,Bad Name")).is_err());
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("users.json"), "[{\"name\":").unwrap();
        assert!(matches!(load(dir.path()), Err(UserError::Damaged { .. })));
        assert!(add(
            dir.path(),
            "a",
            Role::Viewer,
            "long enough pass",
            false,
            None
        )
        .is_err());
    }
}
