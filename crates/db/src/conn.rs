//! One connection to the deployment's database, made at the first call
//! and made again after it is lost, with the schema migrated at each
//! connection: what every store of this crate holds.
//!
//! Why one connection per store and not a pool: an api node's state
//! stores answer people (a few requests a second), and a store's calls
//! in order on one connection keep each node's writes in the order they
//! were made; the detection workers, the busy writers, have their own.

use tokio::sync::Mutex;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};
use vigie_store::StoreError;

use crate::migrate;

pub(crate) fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        what: what.to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// A PostgreSQL client error with its causes: tokio-postgres' own text
/// is only its kind ("db error", "error connecting to server", "invalid
/// configuration"); the server's message ("password authentication
/// failed for user …", "connection refused") is in its source, and it is
/// what tells a technician what to fix. A connection's causes carry no
/// password; a server's error is cut to its message (below).
pub(crate) fn why(e: &tokio_postgres::Error) -> String {
    // The server's own error: its message only — its DETAIL may quote the
    // row refused ("Failing row contains (…)": a password's hash, a TOTP
    // secret), and it would reach a log line or an HTTP answer.
    if let Some(db) = e.as_db_error() {
        return format!(
            "{e}: {} {} ({})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// The database at a URL, connected on demand.
pub(crate) struct Pg {
    url: String,
    client: Mutex<Option<Client>>,
}

/// The database as said in messages: without its password (a URL's
/// `user:password@` keeps `user@`; a `password=` of a key-value string
/// is left out).
pub fn place(url: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (scheme, rest) = url.split_once("://").expect("checked above");
        let (user, host) = match rest.rsplit_once('@') {
            Some((user, host)) => (user.split(':').next().unwrap_or_default(), host),
            None => ("", rest),
        };
        // `?password=…` is a URL's other way to carry it.
        let host = match host.split_once('?') {
            Some((host, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|kv| !kv.to_ascii_lowercase().starts_with("password"))
                    .collect();
                if kept.is_empty() {
                    host.to_string()
                } else {
                    format!("{host}?{}", kept.join("&"))
                }
            }
            None => host.to_string(),
        };
        let at = if user.is_empty() { "" } else { "@" };
        return format!("PostgreSQL at {scheme}://{user}{at}{host}");
    }
    format!("PostgreSQL at {}", without_password(url))
}

/// A key-value connection string without its `password` pair, however
/// it is written (`password=x`, `password = x`, `password='a b\' c'`):
/// the string is read pair by pair as libpq reads it, not word by word.
fn without_password(kv: &str) -> String {
    let mut kept = Vec::new();
    let mut rest = kv.trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        let after = rest[key_end..].trim_start();
        let Some(after) = after.strip_prefix('=') else {
            // Not a pair: kept as it is (the parser says what is wrong).
            kept.push(key.to_string());
            rest = after;
            continue;
        };
        let after = after.trim_start();
        // The value: quoted (with `\` escapes) or up to the next space.
        let value_end = if let Some(q) = after.strip_prefix('\'') {
            let mut end = q.len();
            let mut chars = q.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '\'' => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            1 + end.min(q.len())
        } else {
            after.find(char::is_whitespace).unwrap_or(after.len())
        };
        let value_end = value_end.min(after.len());
        if !key.eq_ignore_ascii_case("password") {
            kept.push(format!("{key}={}", &after[..value_end]));
        }
        rest = after[value_end..].trim_start();
    }
    kept.join(" ")
}

/// The connection's settings from `url`, its password (when the URL
/// gives none) from `PGPASSWORD` or the password file (`PGPASSFILE`, else
/// `~/.pgpass`), as libpq takes them: the password need not be on a
/// command line nor in a configuration file.
pub fn config(url: &str) -> Result<Config, String> {
    let mut config: Config = url
        .parse()
        .map_err(|e| format!("not a PostgreSQL URL ({e})"))?;
    if config.get_password().is_none() {
        if let Some(p) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
            config.password(p.as_encoded_bytes());
        } else if let Some(p) = from_passfile(&config) {
            config.password(p);
        }
    }
    bounded(&mut config);
    Ok(config)
}

/// How long a lock (the audit log's, a tenant's crisis journal's) is
/// waited for before the call fails.
pub const LOCK_TIMEOUT: &str = "10s";
/// How long one statement may run.
pub const STATEMENT_TIMEOUT: &str = "60s";
/// How long a session may hold a transaction open without a statement:
/// the server then ends it, releasing its locks.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "30s";

/// Every wait of a connection bounded, so that a node cut from the
/// database (or the database cut from it) neither waits for hours nor
/// holds a lock the other nodes wait for: libpq's defaults are no
/// connect timeout and keepalives after 2 hours, and a transaction left
/// open by a partitioned node would keep the deployment-wide audit lock
/// until the server's own keepalives (2 hours too) gave up. What the URL
/// says itself wins: its timeouts are kept, its `options` come after
/// these (PostgreSQL keeps the last `-c` of a setting).
fn bounded(config: &mut Config) {
    use std::time::Duration;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_tcp_user_timeout().is_none() {
        // Unacknowledged writes give up after this (Linux).
        config.tcp_user_timeout(Duration::from_secs(30));
    }
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(Duration::from_secs(30));
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(Duration::from_secs(10));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    let ours = format!(
        "-c lock_timeout={LOCK_TIMEOUT} -c statement_timeout={STATEMENT_TIMEOUT} \
         -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT}"
    );
    let options = match config.get_options() {
        Some(theirs) if !theirs.trim().is_empty() => format!("{ours} {theirs}"),
        _ => ours,
    };
    config.options(options);
}

/// The password of the first line of the password file matching the
/// connection (`host:port:database:user:password`, `*` for any, `\` to
/// escape); a file readable by others is ignored, as libpq does.
fn from_passfile(config: &Config) -> Option<String> {
    let path = match std::env::var_os("PGPASSFILE") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".pgpass"),
    };
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "vigie: {}: readable by others than its owner: not used (chmod 0600 it)",
                path.display()
            );
            return None;
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(_)) => "localhost".to_string(),
        None => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    let db = config
        .get_dbname()
        .map_or_else(|| user.clone(), str::to_string);
    let text = std::fs::read_to_string(&path).ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| passfile_line(l, [&host, &port, &db, &user]))
}

/// The password of one line of a password file if it matches `wanted`
/// (host, port, database, user).
fn passfile_line(line: &str, wanted: [&str; 4]) -> Option<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    if fields.len() != 5 {
        return None;
    }
    let matches = fields[..4]
        .iter()
        .zip(wanted)
        .all(|(f, w)| f == "*" || f == w);
    matches.then(|| fields.pop()).flatten()
}

impl Pg {
    pub(crate) fn new(url: &str) -> Pg {
        Pg {
            url: url.to_string(),
            client: Mutex::new(None),
        }
    }

    pub(crate) fn place(&self) -> String {
        place(&self.url)
    }

    async fn connect(&self) -> Result<Client, StoreError> {
        let config = config(&self.url).map_err(|e| failed(self.place(), e))?;
        // `NotConnected`: the database could not be reached at all, what
        // fails every caller alike (the live scope holds every tenant's
        // naming back on it, not one tenant's: see `vigie_serve::live`).
        let (mut client, connection) = config.connect(NoTls).await.map_err(|e| StoreError::Io {
            what: self.place(),
            source: std::io::Error::new(std::io::ErrorKind::NotConnected, why(&e)),
        })?;
        let place = self.place();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("vigie: {place}: connection lost: {}", why(&e));
            }
        });
        migrate(&mut client).await.map_err(|e| match e {
            Failure::Db(e) => failed(format!("{}: migrations", self.place()), e),
            Failure::Store(e) => e,
        })?;
        Ok(client)
    }

    /// Whether the server answers `SELECT 1`: on the store's connection
    /// when it is free, else on a connection of its own made for this and
    /// dropped (no migration: the store's connection did them) — a health
    /// check never waits behind a batch being stored, so a node busy
    /// storing is not said down (and dropped by its load balancer).
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let busy = self.client.try_lock().is_err();
        if !busy {
            return self
                .with("answering", async |c| {
                    Ok(c.simple_query("SELECT 1").await.map(|_| ())?)
                })
                .await;
        }
        let config = config(&self.url).map_err(|e| failed(self.place(), e))?;
        let (client, connection) = config.connect(NoTls).await.map_err(|e| StoreError::Io {
            what: self.place(),
            source: std::io::Error::new(std::io::ErrorKind::NotConnected, why(&e)),
        })?;
        let running = tokio::spawn(connection);
        let answer = client.simple_query("SELECT 1").await;
        drop(client);
        let _ = running.await;
        answer
            .map(|_| ())
            .map_err(|e| failed(format!("{}: answering", self.place()), why(&e)))
    }

    /// Runs `f` on the connection (made again if it was lost); `f` may
    /// open a transaction on it. An error of `f` is said with `what` and
    /// the place (never the password).
    pub(crate) async fn with<T>(
        &self,
        what: &str,
        f: impl AsyncFnOnce(&mut Client) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_none_or(|c| c.is_closed()) {
            *slot = None;
            *slot = Some(self.connect().await?);
        }
        let client = slot.as_mut().expect("connected above");
        let out = f(client).await;
        if client.is_closed() {
            *slot = None;
        }
        out.map_err(|e| match e {
            Failure::Db(e) => failed(format!("{}: {what}", self.place()), why(&e)),
            Failure::Store(e) => e,
        })
    }
}

/// What a call on the connection may end with: the database's error, or
/// the store's own (a refusal, damaged stored JSON) to pass on as it is.
pub(crate) enum Failure {
    Db(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        Failure::Db(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Store(e)
    }
}

#[cfg(test)]
mod tests {
    use super::{passfile_line, place};

    #[test]
    fn a_password_file_line_matches_as_libpq_reads_it() {
        let w = ["db", "5432", "vigie", "csirt"];
        assert_eq!(
            passfile_line("db:5432:vigie:csirt:s3cret", w).as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            passfile_line("*:*:*:csirt:a\\:b", w).as_deref(),
            Some("a:b")
        );
        assert_eq!(passfile_line("db:5433:vigie:csirt:x", w), None);
        assert_eq!(passfile_line("db:5432:vigie", w), None);
    }

    #[test]
    fn the_password_is_never_said() {
        assert_eq!(
            place("postgres://vigie:s3cret@db.example:5432/vigie"),
            "PostgreSQL at postgres://vigie@db.example:5432/vigie"
        );
        assert_eq!(
            place("postgresql://vigie@db:5432/vigie"),
            "PostgreSQL at postgresql://vigie@db:5432/vigie"
        );
        assert_eq!(
            place("postgres://vigie@db/vigie?password=s3cret&sslmode=disable"),
            "PostgreSQL at postgres://vigie@db/vigie?sslmode=disable"
        );
        assert_eq!(
            place("postgres://db/vigie"),
            "PostgreSQL at postgres://db/vigie"
        );
        let kv = place("host=db user=vigie password=s3cret dbname=vigie");
        assert_eq!(kv, "PostgreSQL at host=db user=vigie dbname=vigie");
        // Spaces around `=`, quoted values (with an escaped quote, a
        // space), any case of the key: never said.
        for s in [
            "host=db password = s3cret dbname=vigie",
            "host=db password= s3cret dbname=vigie",
            "host=db password =s3cret dbname=vigie",
            "host=db PASSWORD='s3 cret' dbname=vigie",
            "host=db password = 'a\\'s3cret b' dbname=vigie",
        ] {
            assert_eq!(place(s), "PostgreSQL at host=db dbname=vigie", "from {s:?}");
        }
        assert_eq!(
            place("host=db application_name='a b' password='x'"),
            "PostgreSQL at host=db application_name='a b'"
        );
    }

    #[test]
    fn every_wait_is_bounded_and_the_url_wins() {
        use std::time::Duration;
        let c = super::config("host=db user=vigie").unwrap();
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(10)));
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(30));
        let o = c.get_options().unwrap();
        for s in [
            "lock_timeout=",
            "statement_timeout=",
            "idle_in_transaction_session_timeout=",
        ] {
            assert!(o.contains(s), "{o}");
        }
        let c = super::config("host=db connect_timeout=3 options='-c search_path=x'").unwrap();
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert!(c.get_options().unwrap().ends_with("-c search_path=x"));
    }
}
