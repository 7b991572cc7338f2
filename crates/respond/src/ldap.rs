//! Direct execution against Active Directory over LDAP: disable an
//! account (`userAccountControl` bit `ACCOUNTDISABLE`, 0x2), remove it
//! from the groups the attacker added it to, and re-enable it on rollback.
//!
//! Only over TLS (LDAPS, or StartTLS on `ldap://`): Active Directory
//! refuses simple binds in clear by default, and a bind password must not
//! cross the network in clear. The password comes from a file, stdin or
//! the environment ([`Secret`]), never from the command line.
//!
//! Every value searched for is escaped (RFC 4515) before it goes into a
//! filter, so a hostile account name matches only itself.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ldap3::{ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use vigie_scope::ActionKind;

use crate::proposal::Proposal;

/// `userAccountControl` flag: the account is disabled.
pub const ACCOUNTDISABLE: u32 = 0x2;

/// A password that is never printed.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// From an environment variable.
    pub fn from_env(var: &str) -> Result<Secret, LdapError> {
        std::env::var(var)
            .map(Secret)
            .map_err(|_| LdapError::Config(format!("environment variable {var} is not set")))
    }
    /// From a file (its first line).
    pub fn from_file(path: &Path) -> Result<Secret, LdapError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LdapError::Config(format!("cannot read {}: {e}", path.display())))?;
        Ok(Secret(text.lines().next().unwrap_or("").to_string()))
    }
    /// From a reader such as stdin (its first line).
    pub fn from_reader(r: impl std::io::BufRead) -> Result<Secret, LdapError> {
        let mut line = String::new();
        let mut r = r;
        r.read_line(&mut line)
            .map_err(|e| LdapError::Config(format!("cannot read the password: {e}")))?;
        Ok(Secret(line.trim_end_matches(['\r', '\n']).to_string()))
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

/// Where the directory is and how to reach it.
#[derive(Debug, Clone)]
pub struct LdapTarget {
    /// `ldaps://dc01.example.local` or `ldap://…` with `starttls`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// The bind identity: a DN or a user principal name (`admin@example.local`).
    pub bind: String,
    /// The directory's CA certificate(s), PEM. Without it the system's
    /// trusted roots are used.
    pub ca_file: Option<PathBuf>,
    /// Search base; default: the directory's `defaultNamingContext`.
    pub base_dn: Option<String>,
}

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("LDAP: {0}")]
    Ldap(#[from] ldap3::LdapError),
    #[error("no account {0:?} in the directory")]
    NoAccount(String),
    #[error("{0:?} names several accounts")]
    Ambiguous(String),
    #[error("no group {0:?} in the directory")]
    NoGroup(String),
    #[error("the directory returned an unreadable userAccountControl for {0}")]
    BadControl(String),
    #[error("{0} cannot be carried out through LDAP")]
    Unsupported(String),
}

/// An account as the directory holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEntry {
    pub dn: String,
    pub sam: String,
    pub user_account_control: u32,
    pub member_of: Vec<String>,
}

impl AccountEntry {
    pub fn disabled(&self) -> bool {
        self.user_account_control & ACCOUNTDISABLE != 0
    }
}

/// A connection to the directory, bound.
pub struct Directory {
    ldap: Ldap,
    base: String,
}

fn tls_config(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>, LdapError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| LdapError::Config(format!("cannot read {}: {e}", ca_file.display())))?;
    for c in certs {
        let c = c.map_err(|e| LdapError::Config(format!("{}: {e}", ca_file.display())))?;
        roots
            .add(c)
            .map_err(|e| LdapError::Config(format!("{}: {e}", ca_file.display())))?;
    }
    if roots.is_empty() {
        return Err(LdapError::Config(format!(
            "{}: no certificate",
            ca_file.display()
        )));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| LdapError::Config(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Directory {
    /// Connects over TLS, binds, and finds the search base.
    pub async fn connect(t: &LdapTarget, password: &Secret) -> Result<Directory, LdapError> {
        let url = t.url.trim();
        let ldaps = url.starts_with("ldaps://");
        let tls = ldaps || (url.starts_with("ldap://") && t.starttls);
        if !tls {
            return Err(LdapError::Config(format!(
                "{url}: use ldaps://, or ldap:// with StartTLS — never a bind in clear"
            )));
        }
        let mut settings = LdapConnSettings::new()
            .set_starttls(!ldaps && t.starttls)
            .set_conn_timeout(std::time::Duration::from_secs(15));
        if let Some(ca) = &t.ca_file {
            settings = settings.set_config(tls_config(ca)?);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url).await?;
        ldap3::drive!(conn);
        ldap.simple_bind(&t.bind, password.expose())
            .await?
            .success()?;
        let base = match &t.base_dn {
            Some(b) => b.clone(),
            None => {
                let (rs, _) = ldap
                    .search(
                        "",
                        Scope::Base,
                        "(objectClass=*)",
                        vec!["defaultNamingContext"],
                    )
                    .await?
                    .success()?;
                rs.into_iter()
                    .next()
                    .and_then(|e| {
                        SearchEntry::construct(e)
                            .attrs
                            .remove("defaultNamingContext")
                            .and_then(|v| v.into_iter().next())
                    })
                    .ok_or_else(|| {
                        LdapError::Config("the directory gives no defaultNamingContext".into())
                    })?
            }
        };
        Ok(Directory { ldap, base })
    }

    /// The account whose `sAMAccountName` is `sam` (without domain).
    pub async fn account(&mut self, sam: &str) -> Result<Option<AccountEntry>, LdapError> {
        let sam = strip_domain(sam);
        let filter = format!("(&(objectClass=user)(sAMAccountName={}))", ldap_escape(sam));
        let (rs, _) = self
            .ldap
            .search(
                &self.base,
                Scope::Subtree,
                &filter,
                vec!["sAMAccountName", "userAccountControl", "memberOf"],
            )
            .await?
            .success()?;
        let mut entries: Vec<SearchEntry> = rs
            .into_iter()
            .map(SearchEntry::construct)
            // Referrals to other partitions come back without a DN.
            .filter(|e| !e.dn.is_empty())
            .collect();
        if entries.len() > 1 {
            return Err(LdapError::Ambiguous(sam.to_string()));
        }
        let Some(mut e) = entries.pop() else {
            return Ok(None);
        };
        let uac = e
            .attrs
            .remove("userAccountControl")
            .and_then(|v| v.into_iter().next())
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| LdapError::BadControl(e.dn.clone()))? as u32;
        Ok(Some(AccountEntry {
            sam: e
                .attrs
                .remove("sAMAccountName")
                .and_then(|v| v.into_iter().next())
                .unwrap_or_else(|| sam.to_string()),
            member_of: e.attrs.remove("memberOf").unwrap_or_default(),
            dn: e.dn,
            user_account_control: uac,
        }))
    }

    async fn must_account(&mut self, sam: &str) -> Result<AccountEntry, LdapError> {
        self.account(sam)
            .await?
            .ok_or_else(|| LdapError::NoAccount(sam.to_string()))
    }

    async fn set_control(&mut self, a: &AccountEntry, value: u32) -> Result<(), LdapError> {
        // userAccountControl is a signed 32-bit integer in the schema.
        let v = (value as i32).to_string();
        self.ldap
            .modify(
                &a.dn,
                vec![Mod::Replace(
                    "userAccountControl",
                    HashSet::from([v.as_str()]),
                )],
            )
            .await?
            .success()?;
        Ok(())
    }

    /// Sets the disable bit; returns the account as it was.
    pub async fn disable(&mut self, sam: &str) -> Result<AccountEntry, LdapError> {
        let a = self.must_account(sam).await?;
        if !a.disabled() {
            self.set_control(&a, a.user_account_control | ACCOUNTDISABLE)
                .await?;
        }
        Ok(a)
    }

    /// Clears the disable bit; returns the account as it was.
    pub async fn enable(&mut self, sam: &str) -> Result<AccountEntry, LdapError> {
        let a = self.must_account(sam).await?;
        if a.disabled() {
            self.set_control(&a, a.user_account_control & !ACCOUNTDISABLE)
                .await?;
        }
        Ok(a)
    }

    async fn group_dn(&mut self, group: &str) -> Result<String, LdapError> {
        let g = ldap_escape(group);
        let filter = format!("(&(objectClass=group)(|(sAMAccountName={g})(cn={g})))");
        let (rs, _) = self
            .ldap
            .search(&self.base, Scope::Subtree, &filter, vec!["cn"])
            .await?
            .success()?;
        let dns: Vec<String> = rs
            .into_iter()
            .map(|e| SearchEntry::construct(e).dn)
            .filter(|d| !d.is_empty())
            .collect();
        match dns.len() {
            0 => Err(LdapError::NoGroup(group.to_string())),
            1 => Ok(dns.into_iter().next().unwrap_or_default()),
            _ => Err(LdapError::Ambiguous(group.to_string())),
        }
    }

    /// Removes the account from the group (nothing when not a member).
    /// Returns whether it was a member.
    pub async fn remove_from_group(&mut self, sam: &str, group: &str) -> Result<bool, LdapError> {
        let a = self.must_account(sam).await?;
        let g = self.group_dn(group).await?;
        if !a.member_of.iter().any(|m| m.eq_ignore_ascii_case(&g)) {
            return Ok(false);
        }
        self.ldap
            .modify(
                &g,
                vec![Mod::Delete("member", HashSet::from([a.dn.as_str()]))],
            )
            .await?
            .success()?;
        Ok(true)
    }

    /// Adds the account to the group (nothing when already a member).
    pub async fn add_to_group(&mut self, sam: &str, group: &str) -> Result<bool, LdapError> {
        let a = self.must_account(sam).await?;
        let g = self.group_dn(group).await?;
        if a.member_of.iter().any(|m| m.eq_ignore_ascii_case(&g)) {
            return Ok(false);
        }
        self.ldap
            .modify(&g, vec![Mod::Add("member", HashSet::from([a.dn.as_str()]))])
            .await?
            .success()?;
        Ok(true)
    }

    /// Ends the session.
    pub async fn close(mut self) -> Result<(), LdapError> {
        self.ldap.unbind().await?;
        Ok(())
    }
}

fn strip_domain(name: &str) -> &str {
    let n = name.trim();
    let n = n.rsplit_once('\\').map_or(n, |(_, x)| x);
    n.split_once('@').map_or(n, |(x, _)| x)
}

/// Carries a proposal out in the directory: for `disable_account` and
/// `delete_account` (disabled first, deletion is left to the end of the
/// investigation), disables the account and removes it from the groups
/// the attacker added it to. Returns what was done, for the audit trail.
pub async fn execute(dir: &mut Directory, p: &Proposal) -> Result<String, LdapError> {
    match p.kind {
        ActionKind::DisableAccount | ActionKind::DeleteAccount => {
            let before = dir.disable(&p.target).await?;
            let mut how = format!(
                "ldap: userAccountControl of {} {:#x} -> {:#x}",
                before.dn,
                before.user_account_control,
                before.user_account_control | ACCOUNTDISABLE
            );
            for g in &p.groups {
                if dir.remove_from_group(&p.target, g).await? {
                    how.push_str(&format!("; removed from {g}"));
                }
            }
            Ok(how)
        }
        k => Err(LdapError::Unsupported(crate::proposal::kind_key(k))),
    }
}

/// Undoes [`execute`]: re-enables the account. Group memberships the
/// attacker added are not restored (they were the attacker's).
pub async fn roll_back(dir: &mut Directory, p: &Proposal) -> Result<String, LdapError> {
    match p.kind {
        ActionKind::DisableAccount | ActionKind::DeleteAccount => {
            let before = dir.enable(&p.target).await?;
            Ok(format!(
                "ldap: userAccountControl of {} {:#x} -> {:#x}",
                before.dn,
                before.user_account_control,
                before.user_account_control & !ACCOUNTDISABLE
            ))
        }
        k => Err(LdapError::Unsupported(crate::proposal::kind_key(k))),
    }
}
