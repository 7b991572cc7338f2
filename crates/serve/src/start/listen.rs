//! The TLS of the listeners: the self-signed certificate's names, the
//! syslog and NDJSON listeners' acceptor, a port that cannot be opened
//! said as such, and SIGHUP reading the certificates again without a
//! restart.
//!
//! Apart because it is the one part of start-up that runs again later
//! (on SIGHUP) and must give the same answer as at start.

use super::*;

/// The names of the self-signed certificate, one for the HTTP and the
/// TLS listeners (whichever makes it first makes it for every one).
pub(super) fn cert_names(config: &Config) -> Vec<String> {
    let listening: Vec<std::net::SocketAddr> =
        [Some(config.listen), config.syslog_tls, config.ndjson_tls]
            .into_iter()
            .flatten()
            .collect();
    tls::cert_names(&listening, &config.tls_names)
}

/// The TLS of the syslog and NDJSON listeners, said at start: the
/// certificate's fingerprint (senders pin it), and whether senders must
/// show a client certificate.
pub(crate) fn listener_acceptor(
    config: &Config,
    say: bool,
) -> Result<(tls::Listening, String), ServeError> {
    let names = cert_names(config);
    let io = |source| ServeError::Io {
        what: "TLS of the TCP listeners".into(),
        source,
    };
    let ready = tls::prepare(&config.listener_tls, &config.data, names)
        .map_err(io)?
        .ok_or_else(|| io(std::io::Error::other("no certificate")))?;
    let acceptor = tls::acceptor(
        &ready,
        config.tls_client_ca.as_deref(),
        config.tls_client_crl.as_deref(),
    )
    .map_err(io)?;
    if !say {
        return Ok((acceptor, ready.fingerprint));
    }
    eprintln!(
        "vigie serve: TLS listeners' certificate {}, SHA-256 {}",
        ready.cert.display(),
        tls::colons(&ready.fingerprint)
    );
    match &config.tls_client_ca {
        Some(ca) => eprintln!(
            "vigie serve: TLS listeners: senders must show a certificate signed by {}",
            ca.display()
        ),
        None => eprintln!(
            "vigie serve: TLS listeners: no --tls-client-ca, any sender reaching them may send (encrypted, not authenticated)"
        ),
    }
    if let Some(crl) = &config.tls_client_crl {
        eprintln!(
            "vigie serve: TLS listeners: certificates revoked by {} are refused",
            crl.display()
        );
    }
    if !config.tls_senders.is_empty() {
        eprintln!(
            "vigie serve: TLS listeners: {} sender(s) named in tls_senders, each filed under its commune; any other refused",
            config.tls_senders.len()
        );
    }
    Ok((acceptor, ready.fingerprint))
}

/// SIGHUP: the certificates are read again, as nginx and rsyslog do on
/// it — a renewed certificate (certbot's deploy hook, the CSIRT's PKI),
/// a new client CA, a new revocation list — without a restart that would
/// drop the senders' connections. New connections get the new ones; a
/// connected sender whose certificate no longer passes (revoked) is cut
/// before its next message. A file that cannot be read leaves the
/// previous certificate in use, and says why; each reload is audited.
#[cfg(unix)]
pub(crate) async fn reload_on_hangup(
    hangup: std::io::Result<tokio::signal::unix::Signal>,
    state: Shared,
    https: Option<axum_server::tls_rustls::RustlsConfig>,
    https_names: Vec<String>,
    senders: Option<Arc<tls::Senders>>,
) {
    let Ok(mut hup) = hangup else {
        eprintln!("vigie serve: SIGHUP cannot be listened to: certificates are read at start only");
        return;
    };
    while hup.recv().await.is_some() {
        let mut said = Vec::new();
        let mut failed = false;
        if let Some(https) = &https {
            let ready = tls::prepare(&state.config.tls, &state.config.data, https_names.clone());
            let done = match ready {
                Ok(Some(r)) => https
                    .reload_from_pem_file(&r.cert, &r.key)
                    .await
                    .map(|()| r.fingerprint)
                    .map_err(|e| format!("{} or {}: {e}", r.cert.display(), r.key.display())),
                Ok(None) => Err("no certificate".into()),
                Err(e) => Err(e.to_string()),
            };
            match done {
                Ok(fp) => said.push(format!("HTTPS certificate SHA-256 {}", tls::colons(&fp))),
                Err(e) => {
                    failed = true;
                    said.push(format!(
                        "HTTPS certificate not read again, the previous one stays: {e}"
                    ))
                }
            }
        }
        if let Some(senders) = &senders {
            match listener_acceptor(&state.config, false) {
                Ok((listening, fp)) => {
                    senders.replace(listening);
                    said.push(format!(
                        "TLS listeners' certificate SHA-256 {}{}{}",
                        tls::colons(&fp),
                        if state.config.tls_client_ca.is_some() {
                            ", client CA"
                        } else {
                            ""
                        },
                        if state.config.tls_client_crl.is_some() {
                            ", revocation list"
                        } else {
                            ""
                        },
                    ))
                }
                Err(e) => {
                    failed = true;
                    said.push(format!(
                        "TLS listeners' certificates not read again, the previous ones stay: {e}"
                    ))
                }
            }
        }
        if said.is_empty() {
            said.push("no TLS in use, nothing to read again".into());
        }
        let said = said.join("; ");
        eprintln!("vigie serve: SIGHUP: {said}");
        let outcome = if failed {
            vigie_console::audit::Outcome::Failure
        } else {
            vigie_console::audit::Outcome::Success
        };
        // Through the console's audit log: with --db, the deployment's
        // one chain, not this node's file.
        let console = state.console.clone();
        let appended = tokio::task::spawn_blocking(move || {
            console.audit(
                "system",
                "SIGHUP",
                vigie_console::audit::Action::CertificatesReload,
                &said,
                outcome,
            )
        })
        .await;
        if appended.is_err() {
            eprintln!("vigie serve: SIGHUP: the audit log could not be written");
        }
    }
}

/// A listener that could not be opened; a port in use said first, as
/// such (the usual cause: another server already on it).
pub(super) fn bind_failed(what: String, source: std::io::Error) -> ServeError {
    let what = if source.kind() == std::io::ErrorKind::AddrInUse {
        format!("port already in use — {what} (another server listening there? stop it, or choose another port)")
    } else {
        what
    };
    ServeError::Io { what, source }
}
