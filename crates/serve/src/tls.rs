//! HTTPS for the HTTP listener: a given certificate, or a self-signed one
//! made at the first run and kept under the data directory.
//!
//! Why TLS by default off loopback: tokens travel in every request; on a
//! commune's network, read by anyone on the path, they would let an
//! attacker send false events or read the detections. Why self-signed
//! at first: a commune rarely has a PKI; shippers pin the certificate by
//! its SHA-256 fingerprint (Beats: `ssl.ca_trusted_fingerprint`, NXLog:
//! `CAFile` with the PEM), which is printed at every start.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP (loopback by default, or `--no-tls` behind a proxy).
    Off,
    /// A certificate and its key, PEM.
    Given { cert: PathBuf, key: PathBuf },
    /// Made at the first run under `DATA/tls/`, then reused.
    SelfSigned,
}

/// The PEM files to serve with, and the certificate's fingerprint.
pub struct Ready {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// SHA-256 of the certificate (DER), hex, upper case, no separators.
    pub fingerprint: String,
    /// Whether it was made by this start.
    pub made: bool,
}

/// The fingerprint as people compare it: `AB:CD:…`.
pub fn colons(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn fingerprint(cert_pem: &[u8]) -> std::io::Result<String> {
    Ok(Sha256::digest(first_der(cert_pem)?)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect())
}

/// The first certificate of a PEM file, in DER.
fn first_der(cert_pem: &[u8]) -> std::io::Result<Vec<u8>> {
    let text = std::str::from_utf8(cert_pem).map_err(std::io::Error::other)?;
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| std::io::Error::other("no PEM certificate in the file"))
}

/// The names a self-signed certificate of this machine is made for:
/// `localhost`, the loopback, each listen address (every address of the
/// machine's interfaces for one listening on all: a shipper reaching it
/// at `https://192.0.2.10` checks that address), the machine's name and
/// the operator's own (`tls_names`: the DNS name shippers are given,
/// such as `vigie.mairie.local`).
pub fn cert_names(listening: &[std::net::SocketAddr], given: &[String]) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    for addr in listening {
        if addr.ip().is_unspecified() {
            names.extend(interface_addresses().iter().map(|ip| ip.to_string()));
        } else {
            names.push(addr.ip().to_string());
        }
    }
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(h.trim().to_string());
    }
    names.extend(given.iter().cloned());
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| !n.is_empty() && seen.insert(n.to_ascii_lowercase()));
    names
}

/// The addresses of the machine's interfaces (none if they cannot be
/// read: the certificate is then for the names only).
fn interface_addresses() -> Vec<std::net::IpAddr> {
    let mut found = Vec::new();
    #[cfg(unix)]
    {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: getifaddrs fills `head` with a list freed below by
        // freeifaddrs; each entry's `ifa_addr` is null or points to a
        // sockaddr of the family it says, valid until then.
        unsafe {
            if libc::getifaddrs(&mut head) != 0 {
                return found;
            }
            let mut at = head;
            while !at.is_null() {
                let a = (*at).ifa_addr;
                if !a.is_null() {
                    match i32::from((*a).sa_family) {
                        libc::AF_INET => {
                            let v4 = &*(a as *const libc::sockaddr_in);
                            found.push(std::net::IpAddr::from(
                                u32::from_be(v4.sin_addr.s_addr).to_be_bytes(),
                            ));
                        }
                        libc::AF_INET6 => {
                            let v6 = &*(a as *const libc::sockaddr_in6);
                            let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
                            // Link-local addresses need a zone a URL
                            // cannot carry well: left out.
                            if ip.segments()[0] & 0xffc0 != 0xfe80 {
                                found.push(std::net::IpAddr::V6(ip));
                            }
                        }
                        _ => {}
                    }
                }
                at = (*at).ifa_next;
            }
            libc::freeifaddrs(head);
        }
    }
    found
}

/// The `names` a certificate (PEM) is not for: a certificate made at an
/// earlier start, before a name or an address was added.
pub fn names_missing(pem: &[u8], names: &[String]) -> Vec<String> {
    let Ok(der) = first_der(pem) else {
        return Vec::new();
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return names.to_vec();
    };
    let mut has = std::collections::BTreeSet::new();
    for g in &san.value.general_names {
        match g {
            x509_parser::extensions::GeneralName::DNSName(d) => {
                has.insert(d.to_ascii_lowercase());
            }
            x509_parser::extensions::GeneralName::IPAddress(b) => {
                let ip = match b.len() {
                    4 => <[u8; 4]>::try_from(*b).ok().map(std::net::IpAddr::from),
                    16 => <[u8; 16]>::try_from(*b).ok().map(std::net::IpAddr::from),
                    _ => None,
                };
                if let Some(ip) = ip {
                    has.insert(ip.to_string());
                }
            }
            _ => {}
        }
    }
    names
        .iter()
        .filter(|n| !has.contains(&n.to_ascii_lowercase()))
        .cloned()
        .collect()
}

/// Makes (first run) or finds the certificate. `names`: the host names
/// and addresses the certificate is for (the listen address, the
/// machine's name, localhost).
pub fn prepare(tls: &Tls, data: &Path, names: Vec<String>) -> std::io::Result<Option<Ready>> {
    match tls {
        Tls::Off => Ok(None),
        Tls::Given { cert, key } => {
            let pem = std::fs::read(cert)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", cert.display())))?;
            Ok(Some(Ready {
                fingerprint: fingerprint(&pem)?,
                cert: cert.clone(),
                key: key.clone(),
                made: false,
            }))
        }
        Tls::SelfSigned => {
            let dir = data.join("tls");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            // The certificate is written last: without it, whatever key
            // is there is from a start that stopped halfway, and both are
            // made again.
            let made = !cert.exists();
            if made {
                std::fs::create_dir_all(&dir)?;
                let made = rcgen::generate_simple_self_signed(names.clone())
                    .map_err(|e| std::io::Error::other(format!("certificate: {e}")))?;
                let (key_tmp, cert_tmp) = (dir.join("key.pem.tmp"), dir.join("cert.pem.tmp"));
                let _ = std::fs::remove_file(&key_tmp);
                write_private(&key_tmp, made.signing_key.serialize_pem().as_bytes())?;
                std::fs::rename(&key_tmp, &key)?;
                let mut f = std::fs::File::create(&cert_tmp)?;
                std::io::Write::write_all(&mut f, made.cert.pem().as_bytes())?;
                f.sync_all()?;
                std::fs::rename(&cert_tmp, &cert)?;
                std::fs::File::open(&dir)?.sync_all()?;
            }
            let pem = std::fs::read(&cert)?;
            let missing = names_missing(&pem, &names);
            if !made && !missing.is_empty() {
                eprintln!(
                    "vigie serve: the certificate {} was made for other names than {}: a shipper reaching this server by one of them refuses it; remove {} and {} to make one for every name (its fingerprint changes: give the new one to the shippers)",
                    cert.display(),
                    missing.join(", "),
                    cert.display(),
                    key.display()
                );
            }
            Ok(Some(Ready {
                fingerprint: fingerprint(&pem)?,
                cert,
                key,
                made,
            }))
        }
    }
}

/// TLS for the TCP listeners (syslog over TLS, RFC 5425; JSON Lines as
/// NXLog's `om_ssl` sends them), with the HTTP listener's certificate.
///
/// With `client_ca`, a sender must show a certificate signed by it, or
/// the handshake fails: syslog carries no credentials, so on a network
/// a commune does not fully control, the certificate is how a source is
/// authenticated (the "each source by … client certificate").
/// Without it, anyone who reaches the port may send: said at start.
///
/// With `client_crl` (PEM, one or more CRLs the CA issued), a certificate
/// it lists as revoked is refused: the stolen firewall's certificate is
/// refused without re-issuing every other sender's. A certificate whose
/// issuer has no CRL in the file is refused too when a file is given
/// (rustls' default: an unknown revocation status is not "good").
pub fn acceptor(
    ready: &Ready,
    client_ca: Option<&Path>,
    client_crl: Option<&Path>,
) -> std::io::Result<Listening> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
    let bad = |what: &Path, e: &dyn std::fmt::Display| {
        std::io::Error::other(format!("{}: {e}", what.display()))
    };
    let chain = CertificateDer::pem_file_iter(&ready.cert)
        .map_err(|e| bad(&ready.cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&ready.cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(&ready.key).map_err(|e| bad(&ready.key, &e))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?;
    let mut kept_verifier = None;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(ca, &e))? {
                let cert = cert.map_err(|e| bad(ca, &e))?;
                roots.add(cert).map_err(|e| bad(ca, &e))?;
            }
            if roots.is_empty() {
                return Err(bad(ca, &"no certificate in the file"));
            }
            let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                std::sync::Arc::new(roots),
                provider,
            );
            if let Some(crl) = client_crl {
                let crls = CertificateRevocationListDer::pem_file_iter(crl)
                    .map_err(|e| bad(crl, &e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(crl, &e))?;
                if crls.is_empty() {
                    return Err(bad(crl, &"no X509 CRL in the file"));
                }
                // The stolen sender's certificate is what a commune
                // revokes; a CA's own revocation is its issuer's business
                // (and an intermediate CA without a list in the file
                // would make every sender "unknown": all refused).
                verifier = verifier.with_crls(crls).only_check_end_entity_revocation();
            }
            let verifier = verifier
                .build()
                .map_err(|e| bad(client_crl.unwrap_or(ca), &e))?;
            kept_verifier = Some(verifier.clone());
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad(&ready.cert, &e))?;
    Ok(Listening {
        acceptor: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
        verifier: kept_verifier,
    })
}

/// What the TLS listeners accept with: the acceptor, and the client
/// certificates' verifier (with a client CA) to check the senders already
/// connected again after a reload.
pub struct Listening {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub verifier: Option<std::sync::Arc<dyn rustls::server::danger::ClientCertVerifier>>,
}

/// A verified sender: its certificate chain as shown at the handshake (to
/// be checked again after a reload), and its name ([`peer`]) with
/// whether the certificate's name is exactly that (nothing replaced or
/// cut).
pub struct Peer {
    pub chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    pub name: String,
    pub exact: bool,
}

/// The TLS listeners' acceptor, replaced when the certificates are read
/// again (SIGHUP), and the commune each certified sender sends for.
///
/// Why a map from certificate name to tenant: in a regional deployment
/// every commune's firewall sends to the same port; the CA the CSIRT
/// runs names each sender, and the map (`[tls_senders]` in the config
/// file) says whose it is. Without a map every sender is `default`'s (a
/// single commune); with one, a certified sender it does not name is
/// refused rather than filed under some commune.
pub struct Senders {
    listening: std::sync::RwLock<Listening>,
    /// Moves at each reload: a connection seeing it move checks its
    /// sender's certificate again before keeping another message.
    generation: std::sync::atomic::AtomicU64,
    tenants: std::collections::BTreeMap<String, String>,
}

impl Senders {
    pub fn new(
        listening: Listening,
        tenants: std::collections::BTreeMap<String, String>,
    ) -> Senders {
        Senders {
            listening: std::sync::RwLock::new(listening),
            generation: Default::default(),
            tenants,
        }
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.listening
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .acceptor
            .clone()
    }

    /// From now on, connections are accepted with `listening`; those open
    /// check their sender's certificate with it before their next message
    /// ([`Senders::still_trusted`]): a revoked sender is cut, not only
    /// refused when it connects again.
    pub fn replace(&self, listening: Listening) {
        *self.listening.write().unwrap_or_else(|p| p.into_inner()) = listening;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// The reload count (see [`Senders::replace`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether a connected sender's certificate still passes the client
    /// CA and revocation list now in use (why not, else).
    pub fn still_trusted(&self, peer: &Peer) -> Result<(), String> {
        let verifier = self
            .listening
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .verifier
            .clone();
        let (Some(verifier), Some((end, middle))) = (verifier, peer.chain.split_first()) else {
            return Ok(());
        };
        verifier
            .verify_client_cert(end, middle, rustls::pki_types::UnixTime::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The tenant of a sender by its certificate ([`peer`]), or why
    /// it is refused. With `[tls_senders]`, a certificate whose name had
    /// characters replaced or was cut is not matched: `fw fouesnant` and
    /// `fw/fouesnant` must not pass for `fw_fouesnant`.
    pub fn tenant_of(&self, peer: Option<&Peer>) -> Result<String, String> {
        if self.tenants.is_empty() {
            return Ok("default".into());
        }
        match peer {
            None => Err("no client certificate, and tls_senders names each sender".into()),
            Some(p) if !p.exact => Err(format!(
                "certificate name {} is not exactly its certificate's (characters replaced or cut): not matched against tls_senders",
                p.name
            )),
            Some(p) => self
                .tenants
                .get(&p.name)
                .cloned()
                .ok_or_else(|| format!("certificate {} is not in tls_senders", p.name)),
        }
    }
}

/// The verified sender of a connection: the name its certificate gives: its subject's common
/// name, else its first DNS name; what a source name may not hold
/// (anything but letters, digits, `.-_`) becomes `_`, at most 64
/// characters, so a certificate cannot put odd text in the sources page
/// or the logs. A certificate without a usable name is named by its
/// SHA-256 (`cert-` and 16 hex digits): a verified sender is always told
/// apart from an unauthenticated one.
pub fn peer(conn: &rustls::ServerConnection) -> Option<Peer> {
    let chain: Vec<_> = conn
        .peer_certificates()?
        .iter()
        .map(|c| c.clone().into_owned())
        .collect();
    let der = chain.first()?;
    let by_digest = || {
        let d = Sha256::digest(der.as_ref());
        let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
        (format!("cert-{hex}"), false)
    };
    let (name, exact) = cert_name(der.as_ref()).unwrap_or_else(by_digest);
    Some(Peer { chain, name, exact })
}

/// The name of [`peer`] read from a certificate (DER), if it has one, and
/// whether it is the certificate's own, unchanged.
fn cert_name(der: &[u8]) -> Option<(String, bool)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .find_map(|a| a.as_str().ok().map(str::to_string));
    let name = cn.or_else(|| {
        let san = cert.subject_alternative_name().ok()??;
        san.value.general_names.iter().find_map(|g| match g {
            x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
    })?;
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let exact = clean == name;
    clean
        .chars()
        .any(|c| c.is_ascii_alphanumeric())
        .then_some((clean, exact))
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_its_key_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let first = prepare(&Tls::SelfSigned, dir.path(), names.clone())
            .unwrap()
            .unwrap();
        assert!(first.made);
        assert_eq!(first.fingerprint.len(), 64);
        let again = prepare(&Tls::SelfSigned, dir.path(), names)
            .unwrap()
            .unwrap();
        assert!(!again.made);
        assert_eq!(again.fingerprint, first.fingerprint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        assert_eq!(&colons("ABCD12")[..], "AB:CD:12");
    }

    #[test]
    fn a_sender_is_filed_under_its_commune_or_refused_when_the_map_does_not_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let ready = prepare(&Tls::SelfSigned, dir.path(), vec!["localhost".into()])
            .unwrap()
            .unwrap();
        let named = |name: &str, exact| Peer {
            chain: Vec::new(),
            name: name.into(),
            exact,
        };
        let one = Senders::new(acceptor(&ready, None, None).unwrap(), Default::default());
        assert_eq!(
            one.tenant_of(Some(&named("fw-mairie", true))).unwrap(),
            "default"
        );
        assert_eq!(one.tenant_of(None).unwrap(), "default");
        let map = [("fw_fouesnant".to_string(), "fouesnant".to_string())].into();
        let region = Senders::new(acceptor(&ready, None, None).unwrap(), map);
        let fouesnant = named("fw_fouesnant", true);
        assert_eq!(region.tenant_of(Some(&fouesnant)).unwrap(), "fouesnant");
        let refused = region
            .tenant_of(Some(&named("fw-ailleurs", true)))
            .unwrap_err();
        assert!(refused.contains("fw-ailleurs"), "{refused}");
        // "fw fouesnant" or "fw/fouesnant", cleaned into the same name: refused.
        assert!(region
            .tenant_of(Some(&named("fw_fouesnant", false)))
            .is_err());
        assert!(region.tenant_of(None).is_err());
    }

    #[test]
    fn a_senders_name_is_kept_apart_and_never_odd_text() {
        let named = |cn: &str| {
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = p.self_signed(&key).unwrap();
            cert_name(cert.der())
        };
        assert_eq!(named("fw-mairie"), Some(("fw-mairie".into(), true)));
        assert_eq!(named("fw mairie"), Some(("fw_mairie".into(), false)));
        assert_ne!(named("fw mairie"), named("fwmairie"));
        assert_eq!(
            named("pare\nfeu<script>"),
            Some(("pare_feu_script_".into(), false))
        );
        // Nothing usable: no name (peer_name then gives the digest).
        assert_eq!(named("Ωμέγα"), None);
    }
}
