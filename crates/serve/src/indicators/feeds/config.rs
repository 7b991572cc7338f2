//! What a feed is, as configured: its URL (the kind in its scheme), its
//! credentials and the certificate authority it trusts, read from a URL
//! or a table of the configuration file.
//!
//! Apart from polling because this is where a secret could leak: `Debug`
//! names the kind of credential only, and every error message about a
//! feed goes through `hidden`.

use super::*;

/// What a feed's URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// One document (STIX, MISP event, CSV, list): `http(s)://…`.
    Document,
    /// A MISP feed: `misp+http(s)://…/` (its directory) or any
    /// `http(s)://…/manifest.json`.
    Misp,
    /// A TAXII 2.1 collection: `taxii+http(s)://…/collections/ID/`.
    Taxii,
}

impl FeedKind {
    pub(super) fn key(self) -> &'static str {
        match self {
            FeedKind::Document => "document",
            FeedKind::Misp => "misp-feed",
            FeedKind::Taxii => "taxii",
        }
    }
}

/// A feed polled: its URL as configured (the kind in its scheme), the
/// credentials it is fetched with, the certificate authority it trusts.
#[derive(Clone)]
pub struct Feed {
    pub(super) url: String,
    pub auth: Auth,
    /// PEM certificates trusted for this feed only (a CSIRT's own CA);
    /// `None`: the public roots.
    pub(super) ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("url", &self.shown())
            .field("auth", &self.auth)
            .field("ca", &self.ca.is_some())
            .finish()
    }
}

impl Feed {
    /// A feed at `url` (`http(s)://`, `misp+http(s)://`,
    /// `taxii+http(s)://`); the error hides the URL's secrets.
    pub fn new(url: &str, auth: Auth, ca: Option<Vec<u8>>) -> Result<Feed, String> {
        let plain = url
            .strip_prefix("taxii+")
            .or_else(|| url.strip_prefix("misp+"))
            .unwrap_or(url);
        if !(plain.starts_with("http://") || plain.starts_with("https://")) {
            return Err(format!(
                "ioc feed {}: an http(s):// URL (a document or a MISP feed's manifest.json), misp+https://…/ (a MISP feed) or taxii+https://…/collections/ID/ (a TAXII 2.1 collection)",
                redact_url(url)
            ));
        }
        let credentials = !matches!(auth, Auth::None) || vigie_intel::http::has_credentials(plain);
        if plain.starts_with("http://") && credentials && !vigie_intel::http::loopback(plain) {
            return Err(format!(
                "ioc feed {}: its credentials would cross the network in clear over http://: https:// (http:// is taken for a loopback address only)",
                redact_url(url)
            ));
        }
        if let Some(pem) = &ca {
            // Said at start, not at the first poll an hour later.
            vigie_intel::http::agent_trusting(Some(pem))
                .map_err(|e| format!("ioc feed {}: ca: {e}", redact_url(url)))?;
        }
        Ok(Feed {
            url: url.to_string(),
            auth,
            ca,
        })
    }

    /// A feed of the configuration file: a URL alone, or a table with
    /// its credentials (`auth`: `basic`, `bearer`, `misp`; the secret
    /// from `secret`, `secret_env` or `secret_file`) and `ca`.
    pub fn from_entry(entry: &FeedEntry) -> Result<Feed, String> {
        let t = match entry {
            FeedEntry::Url(u) => return Feed::new(u, Auth::None, None),
            FeedEntry::With(t) => t,
        };
        let shown = redact_url(&t.url);
        let secret = || -> Result<String, String> {
            let given = [
                t.secret.is_some(),
                t.secret_env.is_some(),
                t.secret_file.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(format!(
                    "ioc feed {shown}: auth = \"{}\" needs one of secret, secret_env, secret_file",
                    t.auth.as_deref().unwrap_or_default()
                ));
            }
            let value = if let Some(v) = &t.secret {
                v.clone()
            } else if let Some(name) = &t.secret_env {
                std::env::var(name).map_err(|_| {
                    format!("ioc feed {shown}: the environment variable {name} is not set")
                })?
            } else {
                let path = t.secret_file.as_deref().unwrap_or(Path::new(""));
                std::fs::read_to_string(path)
                    .map_err(|e| format!("ioc feed {shown}: {}: {e}", path.display()))?
            };
            let value = value.trim().to_string();
            if value.is_empty() {
                return Err(format!("ioc feed {shown}: the secret is empty"));
            }
            Ok(value)
        };
        let auth = match t.auth.as_deref().unwrap_or("none") {
            "none" => Auth::None,
            "basic" => Auth::Basic {
                user: t
                    .user
                    .clone()
                    .ok_or_else(|| format!("ioc feed {shown}: auth = \"basic\" needs user"))?,
                password: secret()?,
            },
            "bearer" => Auth::Bearer(secret()?),
            // MISP's own header: `Authorization: <key>`.
            "misp" => Auth::Header {
                name: "Authorization".into(),
                value: secret()?,
            },
            other => {
                return Err(format!(
                    "ioc feed {shown}: auth = \"{other}\": none, basic, bearer or misp"
                ))
            }
        };
        let ca = match &t.ca {
            Some(p) => Some(
                std::fs::read(p)
                    .map_err(|e| format!("ioc feed {shown}: ca {}: {e}", p.display()))?,
            ),
            None => None,
        };
        Feed::new(&t.url, auth, ca)
    }

    /// The source name it is kept as: stable for its URL, secret-free.
    pub fn name(&self) -> String {
        source_name(&self.url)
    }

    /// Its URL as it may be shown (secrets hidden).
    pub fn shown(&self) -> String {
        redact_url(&self.url)
    }

    pub fn kind(&self) -> FeedKind {
        if self.url.starts_with("taxii+") {
            FeedKind::Taxii
        } else if self.url.starts_with("misp+") || self.http_url().ends_with("/manifest.json") {
            FeedKind::Misp
        } else {
            FeedKind::Document
        }
    }

    /// The URL fetched (without the kind's prefix).
    pub(super) fn http_url(&self) -> &str {
        self.url
            .strip_prefix("taxii+")
            .or_else(|| self.url.strip_prefix("misp+"))
            .unwrap_or(&self.url)
    }

    /// `message` with the credentials and the URL's secrets hidden.
    pub(super) fn hide(&self, message: &str) -> String {
        let mut m = hidden(&self.url, message);
        m = m.replace(self.http_url(), &redact_url(self.http_url()));
        for secret in self.auth.secrets() {
            if !secret.is_empty() {
                m = m.replace(secret, "***");
            }
        }
        m
    }
}

/// A feed in the configuration file's `ioc_feeds`: a URL, or a table
/// with its credentials.
#[derive(Clone)]
pub enum FeedEntry {
    Url(String),
    With(FeedTable),
}

/// By hand rather than `untagged`: a table is read as a [`FeedTable`], so
/// a misspelt key is said by name at its line (`untagged` would only say
/// that nothing matched, at the table's header).
impl<'de> Deserialize<'de> for FeedEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FeedEntry, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = FeedEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a feed's URL or a table { url = …, auth = …, secret_file = … }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FeedEntry, E> {
                Ok(FeedEntry::Url(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<FeedEntry, A::Error> {
                FeedTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(FeedEntry::With)
            }
        }
        d.deserialize_any(Entry)
    }
}

impl std::fmt::Debug for FeedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedEntry::Url(u) => write!(f, "{}", redact_url(u)),
            FeedEntry::With(t) => write!(
                f,
                "{} (auth {})",
                redact_url(&t.url),
                t.auth.as_deref().unwrap_or("none")
            ),
        }
    }
}

/// `{ url = "…", auth = "misp", secret_file = "…" }`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedTable {
    pub url: String,
    /// `none` (default), `basic`, `bearer`, `misp` (`Authorization: <key>`).
    pub auth: Option<String>,
    /// The user of `basic`.
    pub user: Option<String>,
    /// The secret itself (keep the file readable by the service only)…
    pub secret: Option<String>,
    /// …or the environment variable that holds it…
    pub secret_env: Option<String>,
    /// …or a file that holds it (trimmed).
    pub secret_file: Option<PathBuf>,
    /// PEM certificates to trust for this feed only.
    pub ca: Option<PathBuf>,
}

impl FeedTable {
    /// Paths relative to the configuration file's directory.
    pub fn resolve(&mut self, base: &Path) {
        for p in [&mut self.secret_file, &mut self.ca].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }
}

/// The source name of a feed: stable for its URL, secret-free.
pub fn source_name(url: &str) -> String {
    let d = sha2::Sha256::digest(url.as_bytes());
    let hex: String = d[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("feed-{hex}")
}

/// What an error message about `url` may say: its secrets hidden.
pub(super) fn hidden(url: &str, message: &str) -> String {
    vigie_hunt::indicators::hide_secrets(url, message)
}
