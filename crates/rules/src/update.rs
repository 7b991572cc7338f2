//! `vigie rules update`: fetch the latest SigmaHQ rule release.
//!
//! Steps, each with its own error so the user knows what to do:
//! 1. ask the GitHub API for the latest release of `SigmaHQ/sigma` and pick
//!    the rule archive asset (`sigma_all_rules.zip` by default);
//! 2. download it (size-capped);
//! 3. check that it is a zip whose entries are safe relative paths and that it
//!    holds enough Sigma rules (a proxy error page or a truncated file must
//!    not replace a working rule set);
//! 4. extract into a temporary directory beside `dest`, then swap it into
//!    place with renames, so `dest` is always either the old complete set or
//!    the new complete set, never a half-written mix;
//! 5. record the release in `dest/vigie-snapshot.json` (tag, newest rule
//!    date), which is how the binary tells whether an installed release is
//!    newer than the SigmaHQ snapshot it embeds.
//!
//! Machines of French local authorities often have no direct internet
//! access; every network failure therefore says what failed and how to do the
//! same thing by hand (download on another machine, pass `--rules`).

use std::fmt;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use zip::ZipArchive;

/// Where the release manifest is asked for: the public page users can fetch
/// by hand when Vigie cannot.
const MANUAL_URL: &str = "https://github.com/SigmaHQ/sigma/releases/latest";

/// Settings of [`update`]. `Default` targets the real SigmaHQ release; tests
/// point `api_base` at a loopback server.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Base URL of the GitHub REST API, without trailing slash.
    pub api_base: String,
    /// `owner/name` of the repository whose latest release is fetched.
    pub repo: String,
    /// Name of the release asset to download.
    pub asset: String,
    /// Overall timeout of each HTTP request (connect + transfer).
    pub timeout: Duration,
    /// Largest archive accepted, in bytes (SigmaHQ's is a few MB).
    pub max_download: u64,
    /// Largest total uncompressed size accepted (zip-bomb guard).
    pub max_extracted: u64,
    /// Fewer Sigma rule files than this and the archive is refused: a
    /// SigmaHQ release has thousands; a handful means a wrong asset.
    pub min_rules: usize,
    /// Use the proxy named by `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (and
    /// `NO_PROXY`), as administrations' networks usually require. Tests
    /// against loopback servers turn it off so a proxy in the environment
    /// cannot intercept them.
    pub proxy_from_env: bool,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            api_base: "https://api.github.com".into(),
            repo: "SigmaHQ/sigma".into(),
            asset: "sigma_all_rules.zip".into(),
            timeout: Duration::from_secs(120),
            max_download: 256 * 1024 * 1024,
            max_extracted: 1024 * 1024 * 1024,
            min_rules: 500,
            proxy_from_env: true,
        }
    }
}

/// What [`update`] installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateReport {
    /// Release tag (e.g. `r2025-06-02`).
    pub release: String,
    /// URL the archive was downloaded from.
    pub url: String,
    /// Size of the downloaded archive.
    pub bytes: u64,
    /// `.yml`/`.yaml` files that look like Sigma rules.
    pub rule_files: usize,
    /// Every other file extracted (README, LICENSE, YAML that is not a rule).
    pub other_files: usize,
    /// Where the rules now are.
    pub dest: PathBuf,
}

/// One paragraph for the user: what was installed and how to use it.
impl fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigmaHQ release {}: {} rule files (and {} other files) installed into {} \
             ({} bytes downloaded from {}).\nUse them with: vigie hunt --rules {} <logs>",
            self.release,
            self.rule_files,
            self.other_files,
            self.dest.display(),
            self.bytes,
            self.url,
            self.dest.display()
        )
    }
}

/// What part of reaching the server failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkCause {
    /// The host name did not resolve (no DNS, or no internet at all).
    Dns,
    /// The TCP connection was refused or unreachable (proxy/firewall).
    Connect,
    /// The server did not answer in time.
    Timeout,
    /// TLS failed (often an intercepting proxy).
    Tls,
    /// Anything else on the wire (reset, protocol error, ...).
    Other,
}

impl NetworkCause {
    fn describe(self) -> &'static str {
        match self {
            NetworkCause::Dns => "the host name could not be resolved (DNS)",
            NetworkCause::Connect => "the connection was refused or the host is unreachable",
            NetworkCause::Timeout => "the server did not answer in time",
            NetworkCause::Tls => "the secure (TLS) connection failed",
            NetworkCause::Other => "the transfer failed",
        }
    }
}

/// Why [`update`] failed; the `Display` text is meant for the end user.
#[derive(Debug)]
pub enum UpdateError {
    /// The server could not be reached.
    Network {
        url: String,
        cause: NetworkCause,
        detail: String,
    },
    /// The server answered with an HTTP error status.
    Http { url: String, status: u16 },
    /// The release manifest was unreadable or has no such asset.
    Release { url: String, reason: String },
    /// The download is not a usable rule archive.
    NotRules { reason: String },
    /// Local file system error while installing.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let manual = format!(
            "Without internet access: download sigma_all_rules.zip from {MANUAL_URL} on a \
             connected machine, unzip it, copy the folder here and run vigie with --rules <folder>."
        );
        match self {
            UpdateError::Network { url, cause, detail } => write!(
                f,
                "cannot download the SigmaHQ rules: {} while contacting {url} ({detail}). \
                 Check the internet access or proxy of this machine. {manual}",
                cause.describe()
            ),
            UpdateError::Http { url, status } => write!(
                f,
                "cannot download the SigmaHQ rules: {url} answered HTTP {status}{}. {manual}",
                if *status == 403 || *status == 429 {
                    " (GitHub API rate limit or access denied; retry later)"
                } else {
                    ""
                }
            ),
            UpdateError::Release { url, reason } => write!(
                f,
                "the SigmaHQ release description at {url} is not usable: {reason}. {manual}"
            ),
            UpdateError::NotRules { reason } => write!(
                f,
                "the downloaded file is not a SigmaHQ rule archive: {reason}; nothing was \
                 installed. {manual}"
            ),
            UpdateError::Io { path, source } => {
                write!(
                    f,
                    "cannot install the rules into {}: {source}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for UpdateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpdateError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Downloads the latest SigmaHQ release archive and installs its content into
/// `dest` (created if missing, replaced as a whole if present).
pub fn update(dest: &Path, opts: &UpdateOptions) -> Result<UpdateReport, UpdateError> {
    // Checked before downloading: replacing a file by a directory would
    // surprise, and the user should not wait for a download to learn it.
    if dest.exists() && !dest.is_dir() {
        return Err(UpdateError::Io {
            path: dest.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not a directory",
            ),
        });
    }
    let agent = agent(opts);
    let api_url = format!(
        "{}/repos/{}/releases/latest",
        opts.api_base.trim_end_matches('/'),
        opts.repo
    );
    let manifest = get(
        &agent,
        &api_url,
        "application/vnd.github+json",
        4 * 1024 * 1024,
    )?;
    let (release, url) =
        pick_asset(&manifest, &opts.asset).map_err(|reason| UpdateError::Release {
            url: api_url.clone(),
            reason,
        })?;
    let archive = get(&agent, &url, "application/octet-stream", opts.max_download)?;
    let bytes = archive.len() as u64;
    let (rule_files, other_files) = install(&archive, dest, opts)?;
    // What the release is, for the binary to choose between it and the
    // embedded snapshot (and for a build that embeds this directory).
    let marker = crate::sigmahq::Marker {
        release: release.clone(),
        newest_rule: crate::sigmahq::newest_rule(dest).unwrap_or_default(),
        url: url.clone(),
        installed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    crate::sigmahq::write_marker(dest, &marker).map_err(|source| UpdateError::Io {
        path: dest.join(crate::sigmahq::MARKER),
        source,
    })?;
    Ok(UpdateReport {
        release,
        url,
        bytes,
        rule_files,
        other_files,
        dest: dest.to_path_buf(),
    })
}

fn agent(opts: &UpdateOptions) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .proxy(if opts.proxy_from_env {
            ureq::Proxy::try_from_env()
        } else {
            None
        })
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
        // Status codes are turned into `UpdateError::Http` below, with the URL.
        .http_status_as_error(false)
        .build()
        .into()
}

fn get(agent: &ureq::Agent, url: &str, accept: &str, limit: u64) -> Result<Vec<u8>, UpdateError> {
    let mut resp = agent
        .get(url)
        .header("Accept", accept)
        .call()
        .map_err(|e| network_error(url, e))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(UpdateError::Http {
            url: url.to_string(),
            status,
        });
    }
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(n) => UpdateError::NotRules {
                reason: format!("{url} is larger than the {n} bytes accepted"),
            },
            e => network_error(url, e),
        })
}

/// Maps a ureq failure to the user-facing cause.
fn network_error(url: &str, e: ureq::Error) -> UpdateError {
    let cause = classify(&e);
    UpdateError::Network {
        url: url.to_string(),
        cause,
        detail: e.to_string(),
    }
}

pub(crate) fn classify(e: &ureq::Error) -> NetworkCause {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::HostNotFound => NetworkCause::Dns,
        ureq::Error::ConnectionFailed => NetworkCause::Connect,
        ureq::Error::Timeout(_) => NetworkCause::Timeout,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => {
            NetworkCause::Tls
        }
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::AddrNotAvailable
            | K::NetworkDown => NetworkCause::Connect,
            K::TimedOut => NetworkCause::Timeout,
            _ if io.to_string().contains("failed to lookup address") => NetworkCause::Dns,
            _ => NetworkCause::Other,
        },
        _ => NetworkCause::Other,
    }
}

/// Reads the GitHub "latest release" JSON: returns (tag, asset download URL).
fn pick_asset(manifest: &[u8], asset: &str) -> Result<(String, String), String> {
    let v: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("not JSON ({e})"))?;
    let tag = v
        .get("tag_name")
        .and_then(|t| t.as_str())
        .ok_or("no `tag_name`")?
        .to_string();
    let assets = v
        .get("assets")
        .and_then(|a| a.as_array())
        .ok_or("no `assets` list")?;
    let names: Vec<&str> = assets
        .iter()
        .filter_map(|a| a.get("name").and_then(|n| n.as_str()))
        .collect();
    let url = assets
        .iter()
        .find(|a| a.get("name").and_then(|n| n.as_str()) == Some(asset))
        .and_then(|a| a.get("browser_download_url"))
        .and_then(|u| u.as_str())
        .ok_or_else(|| {
            format!(
                "release {tag} has no asset `{asset}` (assets: {})",
                names.join(", ")
            )
        })?;
    Ok((tag, url.to_string()))
}

/// True when a YAML text looks like a Sigma rule (detection or correlation).
fn looks_like_rule(text: &str) -> bool {
    let has_key = |k: &str| text.lines().any(|l| l.starts_with(k));
    has_key("title:") && (has_key("detection:") || has_key("correlation:"))
}

/// Validates the archive, extracts it beside `dest`, swaps it into place.
/// Returns (rule files, other files).
fn install(
    archive: &[u8],
    dest: &Path,
    opts: &UpdateOptions,
) -> Result<(usize, usize), UpdateError> {
    let not_rules = |reason: String| UpdateError::NotRules { reason };
    let mut zip = ZipArchive::new(Cursor::new(archive))
        .map_err(|e| not_rules(format!("not a zip archive ({e})")))?;

    // Pass 1: check names, sizes and content before touching the disk.
    let mut total: u64 = 0;
    let mut rule_files = 0usize;
    let mut files = 0usize;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| not_rules(format!("corrupt entry #{i} ({e})")))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if entry.enclosed_name().is_none() {
            return Err(not_rules(format!("unsafe path `{name}` in the archive")));
        }
        if entry.is_dir() {
            continue;
        }
        files += 1;
        total = total.saturating_add(entry.size());
        if total > opts.max_extracted {
            return Err(not_rules(format!(
                "content larger than {} bytes once extracted",
                opts.max_extracted
            )));
        }
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yml") || lower.ends_with(".yaml") {
            let mut text = String::new();
            let limit = opts.max_extracted.saturating_sub(total - entry.size());
            (&mut entry)
                .take(limit)
                .read_to_string(&mut text)
                .map_err(|e| not_rules(format!("cannot read `{name}` ({e})")))?;
            if looks_like_rule(&text) {
                rule_files += 1;
            }
        }
    }
    if rule_files < opts.min_rules {
        return Err(not_rules(format!(
            "it holds {rule_files} Sigma rule file(s), at least {} expected",
            opts.min_rules
        )));
    }

    // Pass 2: extract into a fresh temporary directory next to `dest` (same
    // file system, so the final rename is atomic).
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|source| UpdateError::Io {
        path: parent.clone(),
        source,
    })?;
    let base = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sigma".into());
    let tmp = parent.join(format!(".{base}.partial-{}", std::process::id()));
    let old = parent.join(format!(".{base}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = extract(&mut zip, &tmp).and_then(|()| swap(&tmp, dest, &old));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result?;
    Ok((rule_files, files - rule_files))
}

fn extract(zip: &mut ZipArchive<Cursor<&[u8]>>, tmp: &Path) -> Result<(), UpdateError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UpdateError::Io { path, source }
    };
    std::fs::create_dir_all(tmp).map_err(io(tmp))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| UpdateError::NotRules {
            reason: format!("corrupt entry #{i} ({e})"),
        })?;
        // Checked in pass 1; re-checked because it is what keeps writes inside `tmp`.
        let Some(rel) = entry.enclosed_name() else {
            return Err(UpdateError::NotRules {
                reason: format!(
                    "unsafe path `{}` in the archive",
                    String::from_utf8_lossy(entry.name_raw())
                ),
            });
        };
        let out = tmp.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&out).map_err(io(&out))?;
            continue;
        }
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(io(p))?;
        }
        let mut f = std::fs::File::create(&out).map_err(io(&out))?;
        std::io::copy(&mut entry, &mut f).map_err(io(&out))?;
        f.flush().map_err(io(&out))?;
    }
    Ok(())
}

/// Puts `tmp` at `dest`, keeping the previous `dest` until the new one is in.
fn swap(tmp: &Path, dest: &Path, old: &Path) -> Result<(), UpdateError> {
    let io = |path: &Path, source| UpdateError::Io {
        path: path.to_path_buf(),
        source,
    };
    if dest.exists() {
        let _ = std::fs::remove_dir_all(old);
        std::fs::rename(dest, old).map_err(|e| io(dest, e))?;
        if let Err(e) = std::fs::rename(tmp, dest) {
            // Put the previous rule set back: better old rules than none.
            let _ = std::fs::rename(old, dest);
            return Err(io(dest, e));
        }
        let _ = std::fs::remove_dir_all(old);
    } else {
        std::fs::rename(tmp, dest).map_err(|e| io(dest, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_asset_is_found_or_named_missing() {
        let m = br#"{"tag_name":"r2025-01-01","assets":[
            {"name":"sigma_core.zip","browser_download_url":"http://x/core.zip"},
            {"name":"sigma_all_rules.zip","browser_download_url":"http://x/all.zip"}]}"#;
        assert_eq!(
            pick_asset(m, "sigma_all_rules.zip").unwrap(),
            ("r2025-01-01".to_string(), "http://x/all.zip".to_string())
        );
        let err = pick_asset(m, "nope.zip").unwrap_err();
        assert!(
            err.contains("sigma_core.zip") && err.contains("nope.zip"),
            "{err}"
        );
        assert!(pick_asset(b"<html>proxy</html>", "a")
            .unwrap_err()
            .contains("not JSON"));
    }

    #[test]
    fn dns_failure_is_classified_and_explained() {
        assert_eq!(classify(&ureq::Error::HostNotFound), NetworkCause::Dns);
        let e = network_error("https://api.github.com/x", ureq::Error::HostNotFound);
        let msg = e.to_string();
        assert!(msg.contains("DNS") && msg.contains("--rules"), "{msg}");
    }

    #[test]
    fn rule_detection_needs_title_and_detection() {
        assert!(looks_like_rule(
            "title: a\nlogsource:\n  product: x\ndetection:\n  s: 1\n"
        ));
        assert!(looks_like_rule(
            "title: a\ncorrelation:\n  type: temporal\n"
        ));
        assert!(!looks_like_rule("name: not a rule\n"));
    }
}
