//! The console's pages about Vigie itself: the sources' health (what
//! arrives, from where, and which went silent — beside the scope's
//! coverage of what the events themselves say), and the audit log for
//! administrators (the latest entries, the chain checked, the export).

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Response;
use vigie_console::pages::{self as ui, Table};
use vigie_lang::tr;
use vigie_report::html::escape;

use crate::pages::Reader;
use crate::{ReadTenant, Shared};

/// `GET /sources`: per listener and per host and channel, what arrived
/// and when, the silent ones first; then the scope's coverage.
pub(crate) async fn sources(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Reader { ref session, lang }: Reader,
) -> Response {
    let path = ui::with_lang("/sources", lang);
    let title = tr!(lang, "Sources", "Sources");
    let health = s.health.of(&tenant, chrono::Utc::now().timestamp_micros());
    let silent = health.channels.iter().filter(|c| c.silent).count();
    let mut body = format!(
        "<p class=\"intro\" id=\"sources-summary\">{}</p>",
        escape(&tr!(
            lang,
            "{} réception(s), {} canal(aux) de machines ; {} silencieux (rien reçu depuis {} fois leur plus long écart habituel, au moins {} min : une source qui se tait peut être un attaquant qui coupe la journalisation) ; {} trop rares pour être jugés.",
            "{} listener(s), {} host channel(s); {} silent (nothing received for {} times their longest usual gap, at least {} min: a source that goes quiet may be an attacker stopping the logging); {} too rare to be judged.",
            health.senders.len(),
            health.channels.len(),
            silent,
            crate::health::SILENCE_FACTOR,
            health.silence_threshold_secs / 60,
            health.channels.iter().filter(|c| c.state == "rare").count()
        ))
    );
    // Hosts whose events are dated ahead of their receipt: their clock
    // is wrong (or the events forged); their events are kept with their
    // own time, which a technician reading a timeline must know.
    let (ahead, left_out) = s
        .health
        .future_hosts(Some(&tenant), crate::api::FUTURE_HOSTS_LISTED);
    if !ahead.is_empty() {
        let _ = write!(
            body,
            "<section class=\"card\" id=\"clocks-ahead\"><h2>{}</h2><p class=\"intro\">{}</p><ul>",
            tr!(lang, "Horloges en avance", "Clocks ahead"),
            escape(&tr!(
                lang,
                "Ces machines envoient des événements datés de plus de {} min après leur réception : leur horloge est à corriger (ou les événements sont forgés). Ils sont conservés et analysés avec leur propre date ; ils ne déplacent pas la fenêtre de la portée.",
                "These hosts send events dated more than {} min after their receipt: their clock needs fixing (or the events are forged). They are kept and judged with their own time; they do not move the scope's window.",
                crate::live::FUTURE_TOLERANCE.num_minutes()
            ))
        );
        for h in &ahead {
            let _ = write!(
                body,
                "<li class=\"clock-ahead\"><strong>{}</strong> — {}</li>",
                escape(&h.host),
                escape(&tr!(
                    lang,
                    "{} événement(s), le dernier daté {} min après sa réception ({})",
                    "{} event(s), the latest dated {} min after its receipt ({})",
                    h.events_future,
                    h.ahead_secs.div_ceil(60),
                    h.last_received
                ))
            );
        }
        if left_out > 0 {
            let _ = write!(
                body,
                "<li>{}</li>",
                escape(&tr!(lang, "et {} autre(s)", "and {} more", left_out))
            );
        }
        body.push_str("</ul></section>");
    }
    if health.senders.is_empty() {
        let _ = write!(
            body,
            "<p class=\"note\" role=\"status\">{}</p>",
            tr!(lang, "Aucun événement reçu pour l'instant : rien n'a pu être analysé (ce n'est pas une absence d'attaque).", "No event received yet: nothing could be analysed (which is not the absence of an attack).")
        );
    }
    let heads = [
        tr!(lang, "Réception", "Listener"),
        tr!(lang, "Événements", "Events"),
        tr!(lang, "Dernier reçu", "Last received"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("senders", &heads);
    for x in &health.senders {
        t.row(
            "sender",
            &[
                escape(&x.source),
                x.events.to_string(),
                ui::time(Some(&x.last_received)),
            ],
        );
    }
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2>{}</section>",
        tr!(lang, "Réceptions", "Listeners"),
        t.html()
    );
    let heads = [
        tr!(lang, "Machine", "Host"),
        tr!(lang, "Canal", "Channel"),
        tr!(lang, "Événements", "Events"),
        tr!(lang, "Dernier reçu", "Last received"),
        tr!(lang, "État", "State"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("channels", &heads);
    let mut channels: Vec<_> = health.channels.iter().collect();
    channels.sort_by_key(|c| !c.silent);
    for c in channels {
        let state = match c.state {
            "silent" => format!(
                "<span class=\"pill tone-red\">{}</span>",
                escape(&tr!(
                    lang,
                    "silencieux depuis {} min",
                    "silent for {} min",
                    c.silent_for_secs / 60
                ))
            ),
            // Too rarely seen to know what its silence means: said, not
            // shown as receiving.
            "rare" => format!(
                "<span class=\"pill tone-amber\">{}</span>",
                tr!(lang, "rare, non jugé", "rare, not judged")
            ),
            // Past its threshold only in hours it usually does not send
            // in (its night, its weekend): said, not paged.
            "quiet" => format!(
                "<span class=\"pill\">{}</span>",
                escape(&tr!(
                    lang,
                    "calme comme d'habitude à ces heures (rien depuis {} min)",
                    "quiet as usual at these hours (nothing for {} min)",
                    c.silent_for_secs / 60
                ))
            ),
            _ => format!(
                "<span class=\"pill tone-green\">{}</span>",
                tr!(lang, "reçoit", "receiving")
            ),
        };
        t.row(
            if c.silent {
                "channel silent"
            } else {
                "channel"
            },
            &[
                // The host's one name, with the other forms its events
                // wrote (an FQDN, another case).
                {
                    let others: Vec<&str> = c
                        .aliases
                        .iter()
                        .map(String::as_str)
                        .filter(|a| *a != c.host)
                        .collect();
                    if others.is_empty() {
                        escape(&c.host)
                    } else {
                        format!(
                            "{} <span class=\"small\">({})</span>",
                            escape(&c.host),
                            escape(&others.join(", "))
                        )
                    }
                },
                escape(&c.channel),
                c.events.to_string(),
                ui::time(Some(&c.last_received)),
                match c.future_ahead_secs {
                    // Its clock is ahead: said on its line.
                    Some(ahead) => format!(
                        "{state} <span class=\"pill tone-amber\">{}</span>",
                        escape(&tr!(
                            lang,
                            "horloge en avance : {} événement(s) datés jusqu'à {} min après leur réception",
                            "clock ahead: {} event(s) dated up to {} min after their receipt",
                            c.events_future,
                            ahead.div_ceil(60)
                        ))
                    ),
                    None => state,
                },
            ],
        );
    }
    let _ = write!(
        body,
        "<section class=\"card\" id=\"channels-section\"><h2>{}</h2>{}</section>",
        tr!(lang, "Machines et canaux", "Hosts and channels"),
        t.html()
    );
    // What the events themselves say (gaps, cleared logs): the scope's
    // coverage, as the report words it.
    if s.live.rebuilt.load(std::sync::atomic::Ordering::Acquire) {
        let live = s.live.clone();
        let t = tenant.clone();
        let scope = tokio::task::spawn_blocking(move || live.scope(&t))
            .await
            .ok()
            .flatten();
        if let Some(scope) = scope {
            let opts = vigie_report::Options {
                lang,
                zone: ui::zone(),
                ..Default::default()
            };
            body.push_str(&vigie_report::render_sections(
                &scope,
                &[],
                &opts,
                &["coverage"],
            ));
        }
    }
    ui::frame(session, lang, &path, &title, &body, None)
}

/// Entries shown on the audit page, the latest first (the whole log is
/// the export's).
const AUDIT_SHOWN: usize = 500;

/// `GET /audit` (administrators): the latest entries, whether the chain
/// holds, and the export.
pub(crate) async fn audit(
    State(s): State<Shared>,
    Reader { ref session, lang }: Reader,
) -> Response {
    let path = ui::with_lang("/audit", lang);
    let title = tr!(lang, "Journal d'audit", "Audit log");
    let console = s.console.clone();
    let text = match tokio::task::spawn_blocking(move || console.audit_text()).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return crate::unavailable(&format!("audit log unreadable now: {e}")),
        Err(e) => return crate::unavailable(&format!("audit log unreadable now: {e}")),
    };
    let chain = match vigie_console::audit::verify_bytes(&text) {
        Ok(n) => format!(
            "<p class=\"pill tone-green\" id=\"audit-chain\">{}</p>",
            escape(&tr!(
                lang,
                "{} entrée(s) ; la chaîne d'empreintes est intacte (aucune ligne retirée ni modifiée).",
                "{} entries; the hash chain holds (no line removed or changed).",
                n
            ))
        ),
        Err(b) => format!(
            "<p class=\"pill tone-red\" id=\"audit-chain\" role=\"alert\">{}</p>",
            escape(&tr!(
                lang,
                "La chaîne d'empreintes est rompue à la ligne {} : {}. Exportez le journal et conservez-le comme preuve.",
                "The hash chain breaks at line {}: {}. Export the log and keep it as evidence.",
                b.line,
                b.reason
            ))
        ),
    };
    let entries: Vec<vigie_console::audit::Entry> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let mut body = format!(
        "{chain}<p><a href=\"/api/v1/audit\" download=\"audit.jsonl\" id=\"audit-export\">{}</a></p>",
        tr!(
            lang,
            "Exporter le journal entier (JSON Lines, l'export lui-même est audité)",
            "Export the whole log (JSON Lines; the export itself is audited)"
        )
    );
    let heads = [
        tr!(lang, "Quand", "When"),
        tr!(lang, "Qui", "Who"),
        tr!(lang, "Depuis", "From"),
        tr!(lang, "Action", "Action"),
        tr!(lang, "Objet", "Target"),
        tr!(lang, "Résultat", "Outcome"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("audit", &heads);
    for e in entries.iter().rev().take(AUDIT_SHOWN) {
        let tone = match e.outcome.as_str() {
            "success" => "tone-green",
            "refused" => "tone-amber",
            _ => "tone-red",
        };
        t.row(
            "audit-entry",
            &[
                ui::time(Some(&e.time)),
                escape(&e.who),
                escape(&e.from),
                format!("<code>{}</code>", escape(&e.action)),
                escape(&e.target),
                format!("<span class=\"pill {tone}\">{}</span>", escape(&e.outcome)),
            ],
        );
    }
    if entries.len() > AUDIT_SHOWN {
        let _ = write!(
            body,
            "<p class=\"intro\">{}</p>",
            escape(&tr!(
                lang,
                "Les {} dernières entrées sur {} (le reste : l'export).",
                "The latest {} entries of {} (the rest: the export).",
                AUDIT_SHOWN,
                entries.len()
            ))
        );
    }
    body.push_str(&t.html());
    ui::frame(session, lang, &path, &title, &body, None)
}
