//! The configuration file of `vigie serve` (`--config FILE`, TOML).
//!
//! Why one-to-one with the command line: a key is an option's long name
//! with `_` for `-`, so what the docs say of an option holds for its key,
//! and a service unit can move options to the file without translation.
//! An option given on the command line wins over the file. Unknown keys
//! are errors (a misspelt `listen` must not silently serve on the
//! default address), as are relative paths that do not exist: they are
//! read relative to the file's own directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the file may say; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    /// `--data`: where everything is kept.
    pub data: Option<PathBuf>,
    /// `--listen`: the HTTP address.
    pub listen: Option<SocketAddr>,
    /// `--syslog-udp`.
    pub syslog_udp: Option<SocketAddr>,
    /// `--syslog-tcp`.
    pub syslog_tcp: Option<SocketAddr>,
    /// `--tls`.
    #[serde(default)]
    pub tls: bool,
    /// `--tls-cert`, `--tls-key`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `--no-tls`.
    #[serde(default)]
    pub no_tls: bool,
    /// `--ndjson-tcp`.
    pub ndjson_tcp: Option<SocketAddr>,
    /// `--syslog-tls`.
    pub syslog_tls: Option<SocketAddr>,
    /// `--ndjson-tls`.
    pub ndjson_tls: Option<SocketAddr>,
    /// `--tls-name`.
    #[serde(default)]
    pub tls_names: Vec<String>,
    /// `--tls-client-ca`.
    pub tls_client_ca: Option<PathBuf>,
    /// `--tls-client-crl`.
    pub tls_client_crl: Option<PathBuf>,
    /// `[tls_senders]`: the commune each certified sender sends for,
    /// `"certificate name" = "tenant"` (the file only: a table).
    #[serde(default)]
    pub tls_senders: std::collections::BTreeMap<String, String>,
    /// `--rules` (a list).
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// `--no-builtin`.
    #[serde(default)]
    pub no_builtin: bool,
    /// `--no-sigmahq`.
    #[serde(default)]
    pub no_sigmahq: bool,
    /// `--min-level`: informational, low, medium, high, critical.
    pub min_level: Option<vigie_detect::Level>,
    /// `--status` (a list).
    #[serde(default)]
    pub status: Vec<String>,
    /// `--placeholders`.
    pub placeholders: Option<PathBuf>,
    /// `--assets`.
    pub assets: Option<PathBuf>,
    /// `--ioc` (a list of files, directories or URLs).
    #[serde(default)]
    pub ioc: Vec<String>,
    /// `--ioc-feed` (a list of URLs polled, or tables with their
    /// credentials: secrets belong here, in the environment or in a file,
    /// never on the command line).
    #[serde(default)]
    pub ioc_feeds: Vec<crate::indicators::feeds::FeedEntry>,
    /// `--ioc-poll`: how often the feeds are polled (`90s`, `30m`, `1h`).
    pub ioc_poll: Option<String>,
    /// `--lang`: fr or en.
    pub lang: Option<String>,
    /// `--timezone`.
    pub timezone: Option<String>,
    /// `--input-timezone`.
    pub input_timezone: Option<String>,
    /// `--retention-days`: events older than this are removed (0: no
    /// limit by age).
    pub retention_days: Option<u64>,
    /// `--retention-gb`: the event log is kept under this size (0: no
    /// limit by size).
    pub retention_gb: Option<u64>,
    /// The size of the embedded event log's segments in MB (1 to 1024,
    /// default 64): retention removes whole segments.
    pub segment_mb: Option<u64>,
    /// How often retention is applied (`30s`, `10m`, `1h`; default 10m,
    /// at most 1d).
    pub retention_every: Option<String>,
    /// `--archive`: the directory of the stream's archive (api or all
    /// node with `bus`).
    pub archive: Option<std::path::PathBuf>,
    /// `--archive-days`: archive partitions older than this are removed
    /// (0: no limit by age).
    pub archive_days: Option<u64>,
    /// `--archive-gb`: the archive is kept under this size (at least 1).
    pub archive_gb: Option<u64>,
    /// `--silence-minutes`: a channel that sent nothing for this long is
    /// silent (and alerted).
    pub silence_minutes: Option<u64>,
    /// `--scope-horizon`: how far back in event time the live scope keeps
    /// process creations and correlation inputs (`48h`, `7d`).
    pub scope_horizon: Option<String>,
    /// Where alerts are sent: a webhook URL (a secret: whoever holds it
    /// may post; a file holding it and readable by others than its owner
    /// is refused). Only here or in `VIGIE_ALERT_WEBHOOK`, never on the
    /// command line.
    pub alert_webhook: Option<String>,
    /// How long an api node's claim on an alert message lasts, in seconds
    /// (`--db`: the node that claimed a message sends it; another takes
    /// it over once the claim has run out). Derived from the
    /// destinations' timeouts when not given, and never shorter than the
    /// slowest delivery plus 5 s.
    pub alert_claim_lease_secs: Option<u64>,
    /// The SMTP relay alert mails go through: `smtp://HOST:25`,
    /// `smtp://HOST:587?tls=required`, `smtps://USER:PASSWORD@HOST:465`
    /// (a password: keep this file readable by the service only). Only
    /// here or in `VIGIE_ALERT_SMTP`, never on the command line.
    pub alert_smtp: Option<String>,
    /// `--alert-email-from`.
    pub alert_email_from: Option<String>,
    /// `--alert-email-to` (a list).
    #[serde(default)]
    pub alert_email_to: Vec<String>,
    /// `--alert-syslog`: `udp://HOST:PORT` or `tcp://HOST:PORT`.
    pub alert_syslog: Option<String>,
    /// `--bus`: the regional event log, `nats://HOST:PORT`.
    pub bus: Option<String>,
    /// `--bus-credentials`: a file of one line `USER:PASSWORD` for NATS,
    /// readable by its owner only (refused otherwise).
    pub bus_credentials: Option<PathBuf>,
    /// `--bus-ack-wait`: seconds before a dead detection worker's events
    /// go to another.
    pub bus_ack_wait: Option<u64>,
    /// `--db`: the regional detection store,
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB` (a password only here,
    /// never on the command line: keep this file readable by the service
    /// only).
    pub db: Option<String>,
    /// `--role`: all, ingest, detect or api.
    pub role: Option<crate::NodeRole>,
    /// The limits of [`crate::Config`] (bytes).
    #[serde(default)]
    pub limits: Limits,
    /// `[retrohunt]`: a retro-hunt's time budget and the detections its
    /// answer holds (`max_seconds`, `max_kept`).
    #[serde(default)]
    pub retrohunt: crate::retrohunt::Limits,
    /// `[respond]`: containment (responders, `[respond.directory]`).
    #[serde(default)]
    pub respond: crate::actions::RespondConfig,
}

/// `[limits]`: the request and message bounds (bytes).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_body: Option<usize>,
    pub max_inflated: Option<usize>,
    pub max_line: Option<usize>,
    /// Seconds a body may take to arrive once it holds a slot.
    pub body_read_secs: Option<u64>,
}

/// Whether a URL holds a secret in its user part (`user:password@`, or a
/// token `token@` for NATS) or its query (`password=`).
fn url_holds_secret(url: &str, token_too: bool) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_part = rest.split_once('/').map_or(rest, |(h, _)| h);
    let userinfo = host_part.rsplit_once('@').map(|(u, _)| u);
    let in_query = rest.split_once('?').is_some_and(|(_, q)| {
        q.split('&')
            .any(|kv| kv.to_ascii_lowercase().starts_with("password"))
    });
    in_query || userinfo.is_some_and(|u| token_too || u.contains(':'))
}

/// A configuration file holding a secret is refused when others than its
/// owner may read it, as libpq refuses such a PGPASSFILE: the database's
/// password in a 0644 file is every local user's (issue 16: it was used
/// silently). The error names the key, never its value.
fn refuse_if_others_read(path: &Path, key: &str) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{}: holds a password or secret URL (`{key}`) and is readable by others than its owner (mode {:04o}): not used (chmod 0600 it, owned by the user the service runs as)",
                path.display(),
                mode & 0o7777
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, key);
    Ok(())
}

impl ServeFile {
    /// The first key holding a secret in its value, if any: `db` with a
    /// password, `bus` with a user part, `alert_smtp` with a password,
    /// `alert_webhook` (any).
    fn secret_key(&self) -> Option<&'static str> {
        if self
            .db
            .as_deref()
            .is_some_and(|u| url_holds_secret(u, false))
        {
            Some("db")
        } else if self
            .bus
            .as_deref()
            .is_some_and(|u| url_holds_secret(u, true))
        {
            Some("bus")
        } else if self
            .alert_smtp
            .as_deref()
            .is_some_and(|u| url_holds_secret(u, false))
        {
            Some("alert_smtp")
        } else if self.alert_webhook.is_some() {
            // A webhook's URL is its credential (a chat's incoming hook
            // posts for whoever holds it), whatever its form.
            Some("alert_webhook")
        } else {
            None
        }
    }

    /// Reads `path`; the error names the file, and the line and key for
    /// a bad one.
    pub fn load(path: &Path) -> Result<ServeFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut file: ServeFile =
            toml::from_str(&text).map_err(|e| syntax_error(path, &text, &e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        file.data.as_mut().map(resolve);
        file.rules.iter_mut().for_each(resolve);
        file.placeholders.as_mut().map(resolve);
        file.assets.as_mut().map(resolve);
        file.bus_credentials.as_mut().map(resolve);
        file.tls_cert.as_mut().map(resolve);
        file.tls_key.as_mut().map(resolve);
        file.tls_client_ca.as_mut().map(resolve);
        file.tls_client_crl.as_mut().map(resolve);
        if let Some(d) = &mut file.respond.directory {
            d.ca_file.as_mut().map(resolve);
            d.password_file.as_mut().map(resolve);
        }
        for feed in &mut file.ioc_feeds {
            if let crate::indicators::feeds::FeedEntry::With(t) = feed {
                t.resolve(base);
            }
        }
        if let Some(key) = file.secret_key() {
            refuse_if_others_read(path, key)?;
        }
        if file.limits.body_read_secs == Some(0) {
            return Err(format!(
                "{}: [limits] body_read_secs = 0: a number of seconds above 0",
                path.display()
            ));
        }
        let budget = file.retrohunt.max_seconds;
        if !(budget.is_finite() && budget > 0.0) {
            return Err(format!(
                "{}: [retrohunt] max_seconds = {budget}: a number of seconds above 0",
                path.display()
            ));
        }
        for ioc in &mut file.ioc {
            if !ioc.contains("://") && Path::new(ioc.as_str()).is_relative() {
                *ioc = base.join(&*ioc).display().to_string();
            }
        }
        Ok(file)
    }

    /// Applies the limits to `config`.
    pub fn limit(&self, config: &mut crate::Config) {
        if let Some(v) = self.limits.max_body {
            config.max_body = v;
        }
        if let Some(v) = self.limits.max_inflated {
            config.max_inflated = v;
        }
        if let Some(v) = self.limits.max_line {
            config.max_line = v;
        }
        if let Some(v) = self.limits.body_read_secs {
            config.body_read = std::time::Duration::from_secs(v);
        }
        config.retrohunt = self.retrohunt;
    }
}

/// A parse error as `FILE: line L, column C: message`, without the offending
/// source line that `toml`'s own Display quotes: that line may be
/// `secret = "…"` of an `ioc_feeds` table, and errors reach the journal.
/// Double-quoted text in the message (serde quotes a rejected string
/// value there) is masked for the same reason; field and variant names
/// are back-quoted and kept, they are what the reader must fix.
fn syntax_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let mut message = String::new();
    let mut quoted = false;
    for c in e.message().trim().chars() {
        if c == '"' {
            if !quoted {
                message.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            message.push(c);
        }
    }
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!(
                "{}: line {line}, column {column}: {message}",
                path.display()
            )
        }
        None => format!("{}: {message}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A misspelt key next to a secret: the error names the place, never
    /// the secret (toml's Display would quote the line).
    #[test]
    fn an_error_names_its_line_but_not_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:8443\"\n\n[[ioc_feeds]]\nurl = \"https://misp.example.fr\"\nauth = \"misp\"\nsecret = \"S3CR3T\"\nsecrte_file = \"/etc/vigie/k\"\n",
        )
        .unwrap();
        let e = ServeFile::load(&path).unwrap_err();
        assert!(!e.contains("S3CR3T"), "{e}");
        assert!(e.contains("secrte_file"), "{e}");
        let place = format!("{}: line ", path.display());
        assert!(e.starts_with(&place), "{e}");
        let line: usize = e[place.len()..]
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{e}"));
        assert_eq!(line, 7, "{e}");
        // A string value rejected by type is masked too.
        std::fs::write(&path, "listen = \"S3CR3T\"\n").unwrap();
        let e = ServeFile::load(&path).unwrap_err();
        assert!(!e.contains("S3CR3T"), "{e}");
        assert!(e.contains("line 1,"), "{e}");
    }

    #[test]
    fn keys_are_the_options_and_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        std::fs::write(
            &path,
            "data = \"donnees\"\nlisten = \"0.0.0.0:8443\"\nrules = [\"regles\", \"/etc/vigie/r\"]\nmin_level = \"medium\"\nioc = [\"iocs.csv\", \"https://feeds.example.fr/x.json\"]\n[limits]\nmax_line = 65536\n",
        )
        .unwrap();
        let f = ServeFile::load(&path).unwrap();
        assert_eq!(f.data, Some(dir.path().join("donnees")));
        assert_eq!(f.listen, Some("0.0.0.0:8443".parse().unwrap()));
        assert_eq!(
            f.rules,
            vec![dir.path().join("regles"), PathBuf::from("/etc/vigie/r")]
        );
        assert_eq!(f.min_level, Some(vigie_detect::Level::Medium));
        assert_eq!(f.ioc[0], dir.path().join("iocs.csv").display().to_string());
        assert_eq!(f.ioc[1], "https://feeds.example.fr/x.json");
        let mut c = crate::Config::new(PathBuf::from("x"));
        f.limit(&mut c);
        assert_eq!(c.max_line, 65536);
    }

    #[test]
    fn the_regional_keys_are_the_options() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        std::fs::write(
            &path,
            "bus = \"nats://10.0.0.5:4222\"\ndb = \"postgres://vigie@10.0.0.6:5432/vigie\"\nrole = \"detect\"\n",
        )
        .unwrap();
        let f = ServeFile::load(&path).unwrap();
        assert_eq!(f.bus.as_deref(), Some("nats://10.0.0.5:4222"));
        assert_eq!(
            f.db.as_deref(),
            Some("postgres://vigie@10.0.0.6:5432/vigie")
        );
        assert_eq!(f.role, Some(crate::NodeRole::Detect));
        std::fs::write(&path, "role = \"worker\"\n").unwrap();
        assert!(ServeFile::load(&path).unwrap_err().contains("worker"));
    }

    /// The example shipped in packaging/ stays a valid file.
    /// `[retrohunt]`: the budget and the answer's bound applied; a budget
    /// that is no positive number of seconds refused, naming the key.
    #[test]
    fn the_retrohunt_bounds_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        std::fs::write(&path, "[retrohunt]\nmax_seconds = 90.5\nmax_kept = 7\n").unwrap();
        let mut c = crate::Config::new(PathBuf::from("/d"));
        ServeFile::load(&path).unwrap().limit(&mut c);
        assert_eq!((c.retrohunt.max_seconds, c.retrohunt.max_kept), (90.5, 7));
        let mut c = crate::Config::new(PathBuf::from("/d"));
        std::fs::write(&path, "[retrohunt]\nmax_kept = 7\n").unwrap();
        ServeFile::load(&path).unwrap().limit(&mut c);
        assert_eq!(c.retrohunt.max_seconds, 600.0, "the default kept");
        for bad in ["0", "-5", "nan"] {
            std::fs::write(&path, format!("[retrohunt]\nmax_seconds = {bad}\n")).unwrap();
            let e = ServeFile::load(&path).unwrap_err();
            assert!(e.contains("[retrohunt] max_seconds"), "{e}");
        }
        std::fs::write(&path, "[retrohunt]\nmax_secs = 5\n").unwrap();
        assert!(ServeFile::load(&path).is_err(), "an unknown key");
    }

    #[test]
    fn the_packaged_example_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/vigie.toml");
        let f = ServeFile::load(&path).unwrap();
        assert_eq!(f.data, Some(PathBuf::from("/var/lib/vigie")));
        assert_eq!(f.lang.as_deref(), Some("fr"));
    }

    /// Every key the example shows commented out is one the file takes:
    /// uncommented, they load, and say what they say.
    #[test]
    fn every_key_of_the_packaged_example_is_a_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/vigie.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let key = |l: &str| {
            l.strip_prefix("# ").is_some_and(|r| {
                r.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
            })
        };
        let open: String = text
            .lines()
            .map(|l| if key(l) { &l[2..] } else { l })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(open.matches('\n').count() > 40);
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("vigie.toml");
        std::fs::write(&copy, &open).unwrap();
        // Its webhook is a secret: readable by its owner only, as the
        // packaging's instructions install it; refused otherwise.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = ServeFile::load(&copy).unwrap_err();
        assert!(
            err.contains("`alert_webhook`") && err.contains("chmod 0600"),
            "{err}"
        );
        assert!(
            !err.contains("https://"),
            "the secret URL never said: {err}"
        );
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
        let f = ServeFile::load(&copy).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.alert_email_to.len(), 1);
        assert_eq!(f.ioc_feeds.len(), 3, "{:?}", f.ioc_feeds);
        assert!(f.alert_smtp.is_some() && f.alert_syslog.is_some());
        assert!(f.syslog_tls.is_some() && f.ndjson_tls.is_some() && f.tls_client_ca.is_some());
        assert!(f.tls_client_crl.is_some());
        assert_eq!(f.tls_senders["fw_fouesnant"], "fouesnant");
    }

    #[test]
    fn a_misspelt_key_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        std::fs::write(&path, "data = \"d\"\nlisten_on = \"0.0.0.0:80\"\n").unwrap();
        let e = ServeFile::load(&path).unwrap_err();
        assert!(e.contains("listen_on") && e.contains("line 2"), "{e}");
    }
}
