//! Where alerts go: each a [`Sink`] (Vector's word), one message at a
//! time, with its own delivery and rate limit in [`super::Alerting`].
//!
//! - [`Webhook`]: the JSON message, as chat and paging tools take it.
//! - [`Email`]: through the commune's SMTP relay (plain text, in the
//!   server's language), for the technician who reads mail on a phone.
//! - [`Syslog`]: RFC 5424 with a CEF payload (ArcSight Common Event
//!   Format), which every SIEM and the provider's collector reads.
//!
//! Why the message is one JSON value for all: the policy (new, updated,
//! held back, silent sources) is decided once; each sink only says it its
//! way. Secrets (a webhook's URL, an SMTP password) never appear in an
//! error: errors name the kind of failure only.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use serde_json::Value;
use vigie_lang::{glossary, tr, Lang};

/// How long one exchange of a delivery may take (a request, an SMTP
/// command).
const TIMEOUT: Duration = Duration::from_secs(10);

/// One destination of alerts.
pub trait Sink: Send + Sync {
    /// Its name in the alerting's journal and on stderr: `webhook`, `email`,
    /// `syslog`.
    fn name(&self) -> &'static str;
    /// Delivers one message; `Err` with the reason (no secret in it).
    fn send(&self, message: &Value) -> Result<(), String>;
    /// The longest one delivery may take, from its exchanges' timeouts:
    /// a claim on a message lasts longer (see `alerts::claim_lease`), so
    /// that a slow delivery is never taken over by another node.
    fn worst_send(&self) -> Duration {
        TIMEOUT
    }
    /// Messages sent with fields left out to fit the transport (counted
    /// in `alerts_truncated`).
    fn cut(&self) -> u64 {
        0
    }
}

/// The JSON message POSTed to a URL.
pub struct Webhook {
    pub url: String,
}

impl Sink for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send(&self, message: &Value) -> Result<(), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        match agent.post(&self.url).send_json(message) {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(format!("the webhook answered {}", resp.status())),
            // The error may quote the URL, which may hold a secret.
            Err(e) => Err(format!(
                "the webhook could not be reached ({})",
                error_kind(&e)
            )),
        }
    }
}

fn error_kind(e: &ureq::Error) -> &'static str {
    match e {
        ureq::Error::Timeout(_) => "timeout",
        ureq::Error::Io(_) => "connection",
        ureq::Error::HostNotFound => "host not found",
        ureq::Error::ConnectionFailed => "connection failed",
        _ => "request failed",
    }
}

/// Mail through an SMTP relay.
pub struct Email {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
    to: Vec<lettre::message::Mailbox>,
    lang: Lang,
}

impl Email {
    /// `relay`: `smtp://HOST[:PORT]` (STARTTLS when the relay offers it
    /// is not assumed: add `?tls=required`), `smtps://HOST[:PORT]`
    /// (TLS from the start), credentials as `smtp://USER:PASSWORD@…`
    /// (from the configuration file or the environment only).
    pub fn new(relay: &str, from: &str, to: &[String], lang: Lang) -> Result<Email, String> {
        // A password sent before TLS is read by anyone on the path.
        let authority = relay
            .split_once("://")
            .map_or("", |(_, rest)| rest.split(['/', '?']).next().unwrap_or(""));
        if relay.starts_with("smtp://")
            && authority.contains('@')
            && !relay.contains("tls=required")
        {
            return Err(
                "alert_smtp: credentials only over TLS: smtps://… or smtp://…?tls=required".into(),
            );
        }
        let transport = lettre::SmtpTransport::from_url(relay)
            // The URL may hold a password: not quoted.
            .map_err(|_| "alert_smtp: not an smtp:// or smtps:// URL lettre reads".to_string())?
            .timeout(Some(TIMEOUT))
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("alert_email_from {from:?}: {e}"))?;
        let to = to
            .iter()
            .map(|t| t.parse().map_err(|e| format!("alert_email_to {t:?}: {e}")))
            .collect::<Result<Vec<_>, String>>()?;
        if to.is_empty() {
            return Err("alert_smtp without alert_email_to: nobody to write to".into());
        }
        Ok(Email {
            transport,
            from,
            to,
            lang,
        })
    }
}

impl Sink for Email {
    /// Each SMTP command waits up to its timeout: the connection and
    /// greeting, EHLO, STARTTLS and EHLO again, AUTH (two exchanges),
    /// MAIL FROM, one RCPT TO per recipient, DATA, the message, QUIT.
    fn worst_send(&self) -> Duration {
        TIMEOUT * (10 + self.to.len() as u32)
    }

    fn name(&self) -> &'static str {
        "email"
    }

    fn send(&self, message: &Value) -> Result<(), String> {
        use lettre::Transport;
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject(message, self.lang))
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        for to in &self.to {
            b = b.to(to.clone());
        }
        let mail = b
            .body(mail_body(message, self.lang))
            .map_err(|e| format!("the mail could not be built: {e}"))?;
        self.transport.send(&mail).map(|_| ()).map_err(|e| {
            // lettre's errors say the relay's answer, never the URL.
            if e.is_permanent() || e.is_transient() {
                format!("the SMTP relay refused the mail: {e}")
            } else {
                format!("the SMTP relay could not be reached ({e})")
            }
        })
    }
}

/// The mail's subject: what happened first (new, updated, silent), then
/// the message's line.
fn subject(m: &Value, lang: Lang) -> String {
    let what = match m["kind"].as_str() {
        Some("incident_new") => tr!(lang, "Nouvel incident", "New incident"),
        Some("incident_updated") => tr!(lang, "Incident mis à jour", "Incident updated"),
        Some("sources_silent") => tr!(lang, "Sources muettes", "Sources silent"),
        Some("incident_merged") => tr!(lang, "Incident fusionné", "Incident merged"),
        _ => tr!(lang, "Alerte", "Alert"),
    };
    let text = m["text"].as_str().unwrap_or_default();
    let text = text.strip_prefix("[Vigie] ").unwrap_or(text);
    one_line(&format!("[Vigie] {what} — {text}"))
}

/// A subject is one line: what a message carries of the scope (a host
/// name, a summary) must not add headers.
fn one_line(s: &str) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut_at_word(&line, 200)
}

/// `s` within `n` characters: cut after a whole word and marked `…`
/// (never mid-word, never silently).
fn cut_at_word(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let head: String = s.chars().take(n - 1).collect();
    let head = match head.rfind(' ') {
        Some(at) if at > 0 => head[..at].trim_end().to_string(),
        _ => head,
    };
    format!("{head}…")
}

/// A list of names, and how many more the message left out (`+70`).
fn more(list: String, left_out: &Value) -> String {
    match left_out.as_u64() {
        Some(n) if n > 0 => format!("{list}, +{n}"),
        _ => list,
    }
}

/// The mail's text: what the technician needs to decide at 2 a.m.
pub fn mail_body(m: &Value, lang: Lang) -> String {
    let mut out = String::new();
    let text = m["text"].as_str().unwrap_or_default();
    out.push_str(text);
    out.push_str("\n\n");
    let list = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    match m["kind"].as_str() {
        Some("sources_silent") => {
            out.push_str(&tr!(
                lang,
                "Plus rien reçu, au-delà de {} fois leur plus long écart habituel (au moins {} min), de :\n",
                "Nothing received, past {} times their longest usual gap (at least {} min), from:\n",
                crate::health::SILENCE_FACTOR,
                m["silence_threshold_secs"].as_u64().unwrap_or(0) / 60
            ));
            for c in m["channels"].as_array().into_iter().flatten() {
                out.push_str(&tr!(
                    lang,
                    "  - {} ({}) : rien depuis {} min\n",
                    "  - {} ({}): nothing for {} min\n",
                    c["host"].as_str().unwrap_or("?"),
                    c["channel"].as_str().unwrap_or("?"),
                    c["silent_for_secs"].as_u64().unwrap_or(0) / 60
                ));
            }
            let left_out = m["channels_left_out"].as_u64().unwrap_or(0);
            if left_out > 0 {
                out.push_str(&tr!(
                    lang,
                    "  - et {left_out} autre(s) (voir la page Sources)\n",
                    "  - and {left_out} more (see the Sources page)\n"
                ));
            }
            out.push_str(&tr!(
                lang,
                "\nUn journal qui se tait peut être un journal qu'un attaquant a arrêté : vérifiez ces machines.\n",
                "\nA log that falls silent may be one an attacker stopped: check these machines.\n"
            ));
        }
        Some("incident_merged") => {
            out.push_str(&tr!(
                lang,
                "L'incident {} fait désormais partie de l'incident {} : suivez {}.\n",
                "Incident {} is now part of incident {}: follow {}.\n",
                m["incident"]["live_id"].as_str().unwrap_or("?"),
                m["incident"]["merged_into"].as_str().unwrap_or("?"),
                m["incident"]["merged_into"].as_str().unwrap_or("?")
            ));
            let now = &m["into_now"];
            if now.is_object() {
                out.push_str(&tr!(
                    lang,
                    "{} maintenant — gravité : {}, {} détection(s), {} machine(s).\n",
                    "{} now holds: severity {}, {} detection(s), {} host(s).\n",
                    now["live_id"].as_str().unwrap_or("?"),
                    glossary::term(lang, now["severity"].as_str().unwrap_or_default()),
                    now["detections"].as_u64().unwrap_or(0),
                    now["hosts"].as_u64().unwrap_or(0)
                ));
            }
        }
        _ => {
            let i = &m["incident"];
            let severity = i["severity"].as_str().unwrap_or_default();
            let rows = [
                (
                    tr!(lang, "Incident", "Incident"),
                    i["live_id"].as_str().unwrap_or_default().to_string(),
                ),
                (
                    tr!(lang, "Gravité", "Severity"),
                    glossary::term(lang, severity).to_string(),
                ),
                (
                    tr!(lang, "Nature", "Nature"),
                    // Each kind in words, as the report and the console
                    // say it (`rançongiciel, vol d'identifiants`), never
                    // its code.
                    i["nature"]
                        .as_str()
                        .map(|n| glossary::term(lang, n).to_string())
                        .unwrap_or_else(|| {
                            i["nature"]
                                .as_array()
                                .map(|a| {
                                    a.iter()
                                        .filter_map(|x| x.as_str())
                                        .map(|n| glossary::term(lang, n))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                })
                                .unwrap_or_default()
                        }),
                ),
                (
                    tr!(lang, "Première détection (UTC)", "First detection (UTC)"),
                    i["first"].as_str().unwrap_or_default().to_string(),
                ),
                (
                    tr!(lang, "Dernière détection (UTC)", "Last detection (UTC)"),
                    i["last"].as_str().unwrap_or_default().to_string(),
                ),
                (
                    tr!(lang, "Détections", "Detections"),
                    i["detections"].to_string(),
                ),
                (
                    tr!(lang, "Machines", "Hosts"),
                    more(list(&i["hosts"]), &i["hosts_left_out"]),
                ),
                (
                    tr!(lang, "Comptes", "Accounts"),
                    more(list(&i["accounts"]), &i["accounts_left_out"]),
                ),
            ];
            for (k, v) in rows {
                if !v.is_empty() {
                    out.push_str(&format!("{k} : {v}\n"));
                }
            }
            if let Some(s) = i["summary"].as_str() {
                out.push_str(&format!("\n{s}\n"));
            }
            if let Some(h) = m["headline"].as_str() {
                out.push_str(&format!("\n{}\n{h}\n", tr!(lang, "Réponse :", "Answer:")));
            }
            let held = m["updates_held"].as_u64().unwrap_or(0);
            if held > 0 {
                out.push_str(&tr!(
                    lang,
                    "\n{held} mise(s) à jour retenue(s) depuis le message précédent (au plus une toutes les 5 minutes par incident).\n",
                    "\n{held} update(s) held back since the previous message (at most one every 5 minutes per incident).\n"
                ));
            }
        }
    }
    out.push_str(&tr!(
        lang,
        "\n-- \nVigie : le détail, les preuves et le périmètre sont dans la console.\n",
        "\n-- \nVigie: details, evidence and scope are in the console.\n"
    ));
    out
}

/// Where a syslog forward goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// One datagram per message (RFC 5426).
    Udp,
    /// Octet counting (RFC 6587), one connection per message: a SIEM
    /// restarting between two alerts costs nothing.
    Tcp,
}

/// RFC 5424 messages with a CEF payload.
pub struct Syslog {
    pub transport: Transport,
    pub addr: String,
    /// The HOSTNAME field: this server's name.
    pub host: String,
    /// Messages sent with fields left out to fit a datagram.
    pub cut: std::sync::atomic::AtomicU64,
}

impl Syslog {
    /// `udp://HOST:PORT` or `tcp://HOST:PORT`.
    pub fn parse(url: &str, host: String) -> Result<Syslog, String> {
        let (transport, addr) = if let Some(a) = url.strip_prefix("udp://") {
            (Transport::Udp, a)
        } else if let Some(a) = url.strip_prefix("tcp://") {
            (Transport::Tcp, a)
        } else {
            return Err(format!(
                "alert_syslog {url:?}: udp://HOST:PORT or tcp://HOST:PORT"
            ));
        };
        if addr
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(format!(
                "alert_syslog {url:?}: a port is needed (HOST:PORT)"
            ));
        }
        Ok(Syslog {
            transport,
            addr: addr.to_string(),
            host,
            cut: Default::default(),
        })
    }
}

impl Sink for Syslog {
    /// TCP: the connection, then the write, each with its timeout.
    fn worst_send(&self) -> Duration {
        TIMEOUT * 2
    }

    fn name(&self) -> &'static str {
        "syslog"
    }

    fn cut(&self) -> u64 {
        self.cut.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn send(&self, message: &Value) -> Result<(), String> {
        let max = match self.transport {
            Transport::Udp => UDP_MAX,
            Transport::Tcp => usize::MAX,
        };
        let (line, cut) = rfc5424_within(message, &self.host, chrono::Utc::now(), max);
        if cut {
            self.cut.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let addr = self
            .addr
            .to_socket_addrs()
            .map_err(|e| format!("syslog {}: {e}", self.addr))?
            .next()
            .ok_or_else(|| format!("syslog {}: no address", self.addr))?;
        match self.transport {
            Transport::Udp => {
                let bind = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(bind).map_err(|e| format!("syslog: {e}"))?;
                s.send_to(line.as_bytes(), addr)
                    .map(|_| ())
                    .map_err(|e| format!("syslog {addr}: {e}"))
            }
            Transport::Tcp => {
                let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)
                    .map_err(|e| format!("syslog {addr}: {e}"))?;
                s.set_write_timeout(Some(TIMEOUT))
                    .map_err(|e| format!("syslog {addr}: {e}"))?;
                s.write_all(format!("{} {line}", line.len()).as_bytes())
                    .map_err(|e| format!("syslog {addr}: {e}"))
            }
        }
    }
}

/// At most `n` names, then how many more: a message (a datagram, a
/// subject) stays bounded whatever the incident's size.
pub fn capped(names: &[String], n: usize) -> Vec<String> {
    let mut out: Vec<String> = names.iter().take(n).cloned().collect();
    if names.len() > n {
        out.push(format!("+{}", names.len() - n));
    }
    out
}

/// CEF's severity (0–10) of a scope severity.
fn cef_severity(s: &str) -> u8 {
    match s {
        "critical" => 10,
        "high" => 8,
        "medium" => 5,
        "low" => 3,
        _ => 1,
    }
}

/// CEF header fields escape `\` and `|`; no line breaks.
fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// CEF extension values escape `\` and `=`, and line breaks as `\n`.
fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace("\r\n", "\\n")
        .replace(['\n', '\r'], "\\n")
}

/// One message as a SIEM reads it: RFC 5424, facility 4
/// ("security/authorization messages"), APP-NAME `vigie`, MSGID the
/// message's kind, and its CEF payload (severity 0–10, the incident in
/// standard keys: `externalId`, `cnt`, `dhost`, `duser`, `start`, `end`;
/// the tenant and nature as labelled custom strings).
pub fn rfc5424(m: &Value, host: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    rfc5424_within(m, host, now, usize::MAX).0
}

/// The largest datagram a syslog receiver is asked to take (RFC 5426:
/// receivers "SHOULD" take 2048 octets): a larger one may be cut by the
/// network or the receiver anywhere, mid-word and unsaid.
pub const UDP_MAX: usize = 2048;

/// [`rfc5424`] within `max` bytes: past it, whole extension fields are
/// left out, the least needed first (the lists of accounts, of hosts,
/// the message's text), and said in `cs6` (`cs6Label=truncated`, the
/// keys left out); whether any was.
pub fn rfc5424_within(
    m: &Value,
    host: &str,
    now: chrono::DateTime<chrono::Utc>,
    max: usize,
) -> (String, bool) {
    let kind = m["kind"].as_str().unwrap_or("alert");
    let i = &m["incident"];
    let severity = i["severity"].as_str().unwrap_or("");
    let cef_sev = if kind == "sources_silent" {
        7
    } else {
        cef_severity(severity)
    };
    // RFC 5424 severity: 2 critical, 3 error, 4 warning, 5 notice.
    let sys_sev = match cef_sev {
        9.. => 2,
        7..=8 => 3,
        4..=6 => 4,
        _ => 5,
    };
    let pri = 4 * 8 + sys_sev;
    // Fields in the order they are given up last: each group whole (a
    // custom string with its label).
    let mut groups: Vec<(&'static str, Vec<(&'static str, String)>)> = vec![(
        "cs1",
        vec![
            ("cs1Label", "tenant".to_string()),
            ("cs1", m["tenant"].as_str().unwrap_or("").to_string()),
        ],
    )];
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    let mut lists = Vec::new();
    if kind == "sources_silent" {
        let channels: Vec<String> = m["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} ({})",
                    c["host"].as_str().unwrap_or("?"),
                    c["channel"].as_str().unwrap_or("?")
                )
            })
            .collect();
        lists.push((
            "cs3",
            vec![
                ("cs3Label", "channels".into()),
                (
                    "cs3",
                    more(capped(&channels, 50).join(", "), &m["channels_left_out"]),
                ),
            ],
        ));
    } else {
        let mut essential = vec![("externalId", i["live_id"].as_str().unwrap_or("").into())];
        if let Some(into) = i["merged_into"].as_str() {
            // `incident_merged`: the id it went into.
            essential.push(("cs4Label", "mergedInto".into()));
            essential.push(("cs4", into.into()));
        }
        essential.push(("cs2Label", "nature".into()));
        essential.push((
            "cs2",
            i["nature"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| capped(&names(&i["nature"]), 50).join(",")),
        ));
        if i["detections"].is_u64() {
            essential.push(("cnt", i["detections"].as_u64().unwrap_or(0).to_string()));
        }
        // CEF's dhost and duser name one host, one account (ArcSight's
        // fields are single-valued): the incident's first (its main one);
        // every one in the labelled lists below.
        let hosts = names(&i["hosts"]);
        let accounts = names(&i["accounts"]);
        essential.push(("dhost", hosts.first().cloned().unwrap_or_default()));
        essential.push(("duser", accounts.first().cloned().unwrap_or_default()));
        // CEF's time form: milliseconds since the epoch.
        let millis = |v: &Value| {
            v.as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis().to_string())
                .unwrap_or_default()
        };
        essential.push(("start", millis(&i["first"])));
        essential.push(("end", millis(&i["last"])));
        if m.get("updates_held").is_some() {
            essential.push(("cn1Label", "updatesHeld".into()));
            essential.push(("cn1", m["updates_held"].as_u64().unwrap_or(0).to_string()));
        }
        groups.push(("externalId", essential));
        if hosts.len() > 1 {
            lists.push((
                "cs4",
                vec![
                    ("cs4Label", "hosts".into()),
                    (
                        "cs4",
                        more(capped(&hosts, 50).join(","), &i["hosts_left_out"])
                            .replace(", +", ",+"),
                    ),
                ],
            ));
        }
        if accounts.len() > 1 {
            lists.push((
                "cs5",
                vec![
                    ("cs5Label", "accounts".into()),
                    (
                        "cs5",
                        more(capped(&accounts, 50).join(","), &i["accounts_left_out"])
                            .replace(", +", ",+"),
                    ),
                ],
            ));
        }
    }
    let text = m["text"].as_str().unwrap_or("");
    groups.push((
        "msg",
        vec![(
            "msg",
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )],
    ));
    groups.extend(lists);
    let field = |g: &(&str, Vec<(&str, String)>)| -> String {
        g.1.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", cef_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let name = m["text"].as_str().unwrap_or(kind);
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let head = format!(
        "<{pri}>1 {} {} vigie - {kind} - CEF:0|Vigie|Vigie|{}|{}|{}|{}|",
        now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        if host.is_empty() { "-" } else { &host },
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(kind),
        cef_header(&cut_at(&one_line(name), 512)),
        cef_sev,
    );
    let mut fields: Vec<(&str, String)> = groups
        .iter()
        .map(|g| (g.0, field(g)))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    let mut left_out: Vec<&str> = Vec::new();
    let size = |fields: &[(&str, String)], left_out: &[&str]| {
        head.len()
            + fields.iter().map(|(_, f)| f.len() + 1).sum::<usize>()
            + if left_out.is_empty() {
                0
            } else {
                " cs6Label=truncated cs6=".len() + left_out.join(",").len()
            }
    };
    // The first group (the tenant) and the incident's own fields stay.
    while fields.len() > 2 && size(&fields, &left_out) > max {
        if let Some((k, _)) = fields.pop() {
            left_out.insert(0, k);
        }
    }
    // What is left may still be too long: a message without an incident
    // (a silence naming many channels) is its text alone — cut, and said.
    let over = size(&fields, &left_out).saturating_sub(max);
    if over > 0 {
        if let Some(f) = fields.iter_mut().find(|(k, _)| *k == "msg") {
            let keep = f.1.len().saturating_sub(over + "…,msg".len() + 32);
            f.1 = cut_at(&f.1, keep);
            left_out.push("msg");
        }
    }
    let mut ext: Vec<String> = fields.into_iter().map(|(_, f)| f).collect();
    if !left_out.is_empty() {
        ext.push(format!("cs6Label=truncated cs6={}", left_out.join(",")));
    }
    let line = format!("{head}{}", ext.join(" "));
    // Never past `max`, whatever the groups held: the datagram would be
    // cut by the network without a word.
    let cut = line.len() > max;
    let line = if cut { cut_at(&line, max) } else { line };
    (line, cut || !left_out.is_empty())
}

/// `s` within `max` bytes, cut at a character and never after a lone
/// escaping backslash, "…" said when cut.
fn cut_at(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub("…".len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut kept = &s[..end];
    let escapes = kept.len() - kept.trim_end_matches('\\').len();
    if escapes % 2 == 1 {
        kept = &kept[..kept.len() - 1];
    }
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn incident() -> Value {
        json!({
            "source": "vigie", "kind": "incident_new", "tenant": "default",
            "incident": {
                "live_id": "INC-0001", "severity": "critical",
                "nature": "ransomware",
                "first": "2026-01-10T02:11:07Z", "last": "2026-01-10T04:00:00Z",
                "detections": 42, "hosts": ["SRV-FIC01", "DC01"],
                "accounts": ["svc_backup"], "summary": "Chiffrement | a=b\nligne 2",
            },
            "headline": "Attaque en cours", "updates_held": 2,
            "text": "[Vigie] default INC-0001 (critical): Chiffrement | a=b\nligne 2",
        })
    }

    #[test]
    fn cef_escapes_its_separators_and_keeps_one_line() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-10T05:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let line = rfc5424(&incident(), "vigie01", t);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with(
                "<34>1 2026-01-10T05:00:00.000Z vigie01 vigie - incident_new - CEF:0|Vigie|Vigie|"
            ),
            "{line}"
        );
        // Header: | escaped in the name; severity 10.
        assert!(
            line.contains("): Chiffrement \\| a=b ligne 2|10|"),
            "{line}"
        );
        // CEF times: milliseconds since the epoch.
        assert!(
            line.contains("start=1768011067000 end=1768017600000 "),
            "{line}"
        );
        // Extension: = escaped; the message on one line (at most 200
        // characters), a line break in any other value as \n.
        assert!(
            line.contains("msg=[Vigie] default INC-0001 (critical): Chiffrement | a\\=b ligne 2 "),
            "{line}"
        );
        assert_eq!(cef_value("a=b\\c\r\nd"), "a\\=b\\\\c\\nd");
        // One host in dhost (CEF's is single-valued), all in cs4.
        assert!(line.contains("dhost=SRV-FIC01 "), "{line}");
        assert!(line.contains("cs4Label=hosts cs4=SRV-FIC01,DC01"), "{line}");
        assert!(line.contains("cnt=42 "), "{line}");
        assert!(line.contains("externalId=INC-0001 "), "{line}");
    }

    #[test]
    fn the_mail_says_the_incident_in_the_servers_language() {
        let fr = mail_body(&incident(), Lang::Fr);
        assert!(fr.contains("Gravité : critique"), "{fr}");
        assert!(fr.contains("Machines : SRV-FIC01, DC01"), "{fr}");
        assert!(fr.contains("2 mise(s) à jour retenue(s)"), "{fr}");
        let en = mail_body(&incident(), Lang::En);
        assert!(en.contains("Severity : critical"), "{en}");
        assert_eq!(one_line("a\r\nBcc: x@y"), "a  Bcc: x@y");
        assert_eq!(
            subject(&incident(), Lang::Fr),
            "[Vigie] Nouvel incident — default INC-0001 (critical): Chiffrement | a=b ligne 2"
        );
        assert_eq!(
            subject(&incident(), Lang::Fr),
            "[Vigie] Nouvel incident — default INC-0001 (critical): Chiffrement | a=b ligne 2"
        );
    }

    /// A silence naming many channels is its text alone: cut to fit a
    /// datagram, and said cut — never a line the network cuts silently.
    #[test]
    fn a_long_message_without_an_incident_fits_a_datagram() {
        let names: Vec<String> = (0..40)
            .map(|i| format!("PC-MAIRIE-{i:02}: Microsoft-Windows-Sysmon/Operational, 95 min"))
            .collect();
        let m = json!({
            "source": "vigie", "kind": "sources_silent", "tenant": "default",
            "text": format!("[Vigie] default: {} sources silencieuses: {}", names.len(), names.join("; ")),
        });
        let t = chrono::Utc::now();
        let (line, cut) = rfc5424_within(&m, "vigie01", t, UDP_MAX);
        assert!(line.len() <= UDP_MAX, "{} bytes", line.len());
        assert!(
            cut && line.contains("cs6Label=truncated cs6=") && line.ends_with("msg"),
            "{line}"
        );
        assert!(line.contains("PC-MAIRIE-00"), "{line}");
        let (short, cut) = rfc5424_within(&m, "vigie01", t, 64 * 1024);
        assert!(!cut && short.contains("PC-MAIRIE-39"), "{short}");
    }

    #[test]
    fn lists_are_capped_and_credentials_need_tls() {
        let many: Vec<String> = (0..120).map(|i| format!("PC{i:03}")).collect();
        let mut m = incident();
        m["incident"]["hosts"] = serde_json::json!(many);
        let line = rfc5424(&m, "vigie01", chrono::Utc::now());
        assert!(line.contains("PC049,+70"), "{line}");
        assert!(!line.contains("PC050"), "{line}");
        assert!(line.len() < 8_000, "{}", line.len());
        // Within a datagram: the lists left out whole, and said.
        let (cut, was) = rfc5424_within(&m, "vigie01", chrono::Utc::now(), 400);
        assert!(was && cut.len() <= 400, "{cut}");
        assert!(cut.ends_with(" cs6Label=truncated cs6=msg,cs4"), "{cut}");
        assert!(cut.contains("externalId=INC-0001 "), "{cut}");
        assert!(!cut.contains("cs4="), "{cut}");
        // A long text cut after a word, marked.
        let long = format!("{} suite", "mot ".repeat(60));
        let one = one_line(&long);
        assert!(one.ends_with("mot…") && one.chars().count() <= 200, "{one}");
        let to = vec!["it@mairie.example".to_string()];
        let e = Email::new(
            "smtp://vigie:secret@relay:587",
            "v@m.example",
            &to,
            Lang::Fr,
        )
        .err()
        .unwrap();
        assert!(e.contains("TLS") && !e.contains("secret"), "{e}");
        assert!(Email::new(
            "smtp://vigie:secret@relay:587?tls=required",
            "v@m.example",
            &to,
            Lang::Fr
        )
        .is_ok());
        assert!(Email::new(
            "smtps://vigie:secret@relay:465",
            "v@m.example",
            &to,
            Lang::Fr
        )
        .is_ok());
        assert!(Email::new("smtp://relay:25", "v@m.example", &to, Lang::Fr).is_ok());
        assert_eq!(
            subject(
                &serde_json::json!({"kind": "incident_updated", "text": "[Vigie] default L1 (high): x"}),
                Lang::En
            ),
            "[Vigie] Incident updated — default L1 (high): x"
        );
    }

    #[test]
    fn a_syslog_destination_needs_its_transport_and_port() {
        assert!(Syslog::parse("udp://siem:514", "h".into()).is_ok());
        assert_eq!(
            Syslog::parse("tcp://[::1]:6514", "h".into())
                .unwrap()
                .transport,
            Transport::Tcp
        );
        assert!(Syslog::parse("siem:514", "h".into()).is_err());
        assert!(Syslog::parse("udp://siem", "h".into()).is_err());
    }
}
