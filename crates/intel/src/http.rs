//! The few HTTP GETs of feeds and TAXII: one agent (rustls, proxy from
//! the environment, global timeout), bodies read with a size limit,
//! `ETag` / `If-None-Match` where the server supports them.

use std::time::Duration;

use crate::import::Auth;

/// One agent for feeds: 60 s for a whole request, status codes handled by
/// the caller (with the URL in the message).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .proxy(ureq::Proxy::try_from_env())
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
        .http_status_as_error(false)
        .build()
        .into()
}

/// [`agent`] trusting only the certificates of `ca_pem` (PEM, one or
/// more): a CSIRT's TAXII server or MISP instance behind its own
/// certificate authority. `None`: the public roots, as [`agent`].
pub fn agent_trusting(ca_pem: Option<&[u8]>) -> Result<ureq::Agent, String> {
    let Some(pem) = ca_pem else {
        return Ok(agent());
    };
    let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
            Ok(_) => None,
            Err(e) => Some(Err(e.to_string())),
        })
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err("no certificate in the PEM file".into());
    }
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)))
        .build();
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .proxy(ureq::Proxy::try_from_env())
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .into())
}

/// A response: its body (`None` on `304 Not Modified`) and headers.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub status: u16,
    pub body: Option<Vec<u8>>,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    /// TAXII 2.1 `X-TAXII-Date-Added-Last`.
    pub date_added_last: Option<String>,
    /// `Last-Modified`, for the next `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// What a client knows of the version it holds: sent back as
/// `If-None-Match` and `If-Modified-Since`, so that an unchanged feed
/// costs a `304` and no body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// GET `url` with `Accept: accept`, the credentials, and `If-None-Match`
/// when an ETag is known. Fails on any status but 2xx and 304.
pub fn get(
    agent: &ureq::Agent,
    url: &str,
    auth: &Auth,
    accept: Option<&str>,
    etag: Option<&str>,
    limit: u64,
) -> Result<Fetched, String> {
    let known = Validators {
        etag: etag.map(str::to_string),
        last_modified: None,
    };
    get_if_changed(agent, url, auth, accept, &known, limit)
}

/// [`get`] with both validators of the version held (`If-None-Match`,
/// `If-Modified-Since`): a feed polled on a schedule.
pub fn get_if_changed(
    agent: &ureq::Agent,
    url: &str,
    auth: &Auth,
    accept: Option<&str>,
    known: &Validators,
    limit: u64,
) -> Result<Fetched, String> {
    let mut req = agent.get(url);
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    if let Some(e) = &known.etag {
        req = req.header("If-None-Match", e);
    }
    if let Some(m) = &known.last_modified {
        req = req.header("If-Modified-Since", m);
    }
    let mut resp = auth.apply(req).call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut out = Fetched {
        status,
        body: None,
        etag: header("etag"),
        content_type: header("content-type"),
        date_added_last: header("x-taxii-date-added-last"),
        last_modified: header("last-modified"),
    };
    match status {
        304 => Ok(out),
        200..=299 => {
            let body = resp
                .body_mut()
                .with_config()
                .limit(limit)
                .read_to_vec()
                .map_err(|e| match e {
                    ureq::Error::BodyExceedsLimit(n) => {
                        format!("larger than the {n} bytes accepted")
                    }
                    e => e.to_string(),
                })?;
            out.body = Some(body);
            Ok(out)
        }
        401 | 403 => Err(format!("HTTP {status}: the credentials were refused")),
        _ => Err(format!("HTTP {status}")),
    }
}

/// The body of a GET (`None` when not modified) and its ETag.
pub fn get_bytes(
    agent: &ureq::Agent,
    url: &str,
    auth: &Auth,
    etag: Option<&str>,
    limit: u64,
) -> Result<(Option<Vec<u8>>, Option<String>), String> {
    let f = get(agent, url, auth, None, etag, limit)?;
    Ok((f.body, f.etag))
}

/// A URL as it may be shown or written down (manifests, messages, logs):
/// a user name and password in it, and the values of query parameters
/// that carry keys (`key`, `token`, `auth…`, `pass…`, `secret`,
/// `apikey`, `sig…`), are replaced by `***`. Feed URLs are often given
/// that way; secrets must never reach a log or a report.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.to_string();
    };
    if !url.username().is_empty() {
        let _ = url.set_username("***");
    }
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_parameter(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// A query parameter whose value is a key (see [`redact_url`]).
fn secret_parameter(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["key", "token", "auth", "pass", "secret", "sig", "session"]
        .iter()
        .any(|s| k.contains(s))
}

/// Whether a URL's host is a loopback address (`localhost`, 127.0.0.0/8,
/// `::1`), read as the HTTP client reads it (`url`'s WHATWG parsing: a
/// `\` is a `/`, so `http://a.example\@127.0.0.1/` goes to `a.example`).
pub fn loopback(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether a URL carries a credential [`redact_url`] would hide: a user
/// name, a password or a key parameter. The command line refuses such a
/// URL (any user of the machine reads a process's arguments); the
/// configuration file is where a credential goes.
pub fn has_credentials(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    !url.username().is_empty()
        || url.password().is_some()
        || url.query_pairs().any(|(k, _)| secret_parameter(&k))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn credentials_are_seen_in_user_password_and_key_parameters() {
        use super::has_credentials;
        assert!(has_credentials("https://u:p@misp.example.fr/feed/"));
        assert!(has_credentials("https://u@misp.example.fr/feed/"));
        assert!(has_credentials(
            "taxii+https://u:p@t.example.fr/r/collections/c/"
        ));
        assert!(has_credentials("http://f.example.fr/l.txt?key=SECRET123"));
        assert!(has_credentials("http://f.example.fr/l.txt?x=1&ApiKey=S"));
        assert!(!has_credentials("https://f.example.fr/l.txt?format=csv"));
        assert!(!has_credentials("misp+https://misp.example.fr/feed/"));
    }

    #[test]
    fn secrets_in_urls_are_hidden() {
        assert_eq!(
            redact_url(
                "https://misp:s3cret@feeds.example.fr/feed/manifest.json?authkey=ABC&page=2"
            ),
            "https://***:***@feeds.example.fr/feed/manifest.json?authkey=***&page=2"
        );
        assert_eq!(
            redact_url("https://feeds.example.fr/iocs.csv"),
            "https://feeds.example.fr/iocs.csv"
        );
        assert_eq!(redact_url("./local/file.csv"), "./local/file.csv");
    }
}
