//! Evidence summaries, written in the run's language at the end.
//!
//! Why deferred: the observer builds an evidence pointer for each event
//! that matters while it streams, before anyone knows the language of the
//! answer (`Observer::finish` takes it), and the same observer may be
//! finished twice (`vigie serve` re-runs the analysis). So the observer
//! writes a *coded* summary — a code and its arguments — and
//! [`render`] writes the sentence in French or English once the language
//! is known. Codes are internal: a coded summary never leaves the crate
//! (`Scope` evidence is rendered by [`crate::analysis`] before it is
//! returned), and the order of evidence (which compares summaries last)
//! does not depend on the language.

use vigie_lang::{tr, Lang};

/// Starts a coded summary.
const MARK: char = '\u{1}';
/// Separates the code and its arguments.
const SEP: char = '\u{1f}';

/// A coded summary: `code` and its arguments. Control characters that
/// would break the coding are replaced in the arguments.
pub(crate) fn enc(code: &str, args: &[&str]) -> String {
    let mut s =
        String::with_capacity(2 + code.len() + args.iter().map(|a| a.len() + 1).sum::<usize>());
    s.push(MARK);
    s.push_str(code);
    for a in args {
        s.push(SEP);
        for c in a.chars() {
            s.push(if c == MARK || c == SEP { '\u{fffd}' } else { c });
        }
    }
    s
}

/// The bytes of `enc("det", [title, host])` without building it (the
/// order of detections compares them; see `Det::summary_bytes`). Titles
/// and hosts are not sanitised here nor in [`det`], so both agree.
pub(crate) fn det_bytes<'a>(title: &'a str, host: &'a str) -> impl Iterator<Item = u8> + 'a {
    let mut mark = [0u8; 1];
    MARK.encode_utf8(&mut mark);
    let mut sep = [0u8; 1];
    SEP.encode_utf8(&mut sep);
    mark.into_iter()
        .chain(*b"det")
        .chain(sep)
        .chain(title.bytes())
        .chain(sep)
        .chain(host.bytes())
}

/// The coded summary of a detection: "{rule title} on {host}".
pub(crate) fn det(title: &str, host: &str) -> String {
    let mut s = String::with_capacity(6 + title.len() + host.len());
    s.push(MARK);
    s.push_str("det");
    s.push(SEP);
    s.push_str(title);
    s.push(SEP);
    s.push_str(host);
    s
}

/// The sentence of a summary in `lang`. Text that is not coded is
/// returned as it is; a coded summary with missing arguments renders
/// them empty (never a panic: arguments come from the logs).
pub(crate) fn render(lang: Lang, s: &str) -> String {
    let Some(rest) = s.strip_prefix(MARK) else {
        return s.to_string();
    };
    let mut parts = rest.split(SEP);
    let code = parts.next().unwrap_or("");
    let a: Vec<&str> = parts.collect();
    let g = |i: usize| a.get(i).copied().unwrap_or("");
    match code {
        "det" => tr!(lang, "{} sur {}", "{} on {}", g(0), g(1)),
        "priv" => tr!(
            lang,
            "4672 privilèges spéciaux attribués à {} sur {}",
            "4672 special privileges assigned to {} on {}",
            g(0),
            g(1)
        ),
        "created" => tr!(
            lang,
            "4720 compte {} créé par {} sur {}",
            "4720 account {} created by {} on {}",
            g(0),
            g(1),
            g(2)
        ),
        "group" => tr!(
            lang,
            "{} {} ajouté au groupe {} sur {}",
            "{} {} added to group {} on {}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "kdc" => tr!(
            lang,
            "{} ticket Kerberos délivré par {}",
            "{} Kerberos ticket issued by {}",
            g(0),
            g(1)
        ),
        "dns" => tr!(
            lang,
            "requête DNS {} depuis {}",
            "DNS query {} from {}",
            g(0),
            g(1)
        ),
        "rdp" => {
            let what = match (g(0), lang) {
                ("1149", Lang::Fr) => "1149 authentification RDP".to_string(),
                ("1149", Lang::En) => "1149 RDP authentication".to_string(),
                ("25", Lang::Fr) => "25 session RDP reconnectée".to_string(),
                ("25", Lang::En) => "25 RDP session reconnected".to_string(),
                (id, Lang::Fr) => format!("{id} ouverture de session RDP"),
                (id, Lang::En) => format!("{id} RDP session logon"),
            };
            tr!(
                lang,
                "{what} sur {} par {} depuis {}",
                "{what} on {} as {} from {}",
                g(1),
                g(2),
                g(3)
            )
        }
        "logon" => {
            let ws = if g(4).is_empty() {
                String::new()
            } else {
                format!(" ({})", g(4))
            };
            tr!(
                lang,
                "4624 ouverture de session de type {} sur {} par {} depuis {}{ws}",
                "4624 logon type {} on {} as {} from {}{ws}",
                g(0),
                g(1),
                g(2),
                g(3)
            )
        }
        "authfail" => tr!(
            lang,
            "{} échec d'authentification sur {} pour {} depuis {}",
            "{} failed authentication on {} as {} from {}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "authok" => tr!(
            lang,
            "{} authentification réussie sur {} pour {} depuis {}",
            "{} successful authentication on {} as {} from {}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "explicit" => tr!(
            lang,
            "4648 {} sur {} a utilisé les identifiants explicites de {} pour {}",
            "4648 {} on {} used explicit credentials of {} for {}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "share" => tr!(
            lang,
            "{} {} depuis {} a accédé à \\\\{}\\{}\\{}",
            "{} {} from {} accessed \\\\{}\\{}\\{}",
            g(0),
            g(1),
            g(2),
            g(3),
            g(4),
            g(5)
        ),
        "cleared" => tr!(
            lang,
            "{} journal {} effacé sur {} par {}",
            "{} log {} cleared on {} by {}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "proc" => tr!(lang, "{} sur {} : {}", "{} on {}: {}", g(0), g(1), g(2)),
        "behaviour" => {
            let what = behaviour_words(lang, g(0));
            tr!(lang, "{what} sur {} : {}", "{what} on {}: {}", g(1), g(2))
        }
        "conn" => tr!(
            lang,
            "{} sur {} s'est connecté à {}:{}",
            "{} on {} connected to {}:{}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "svc" => tr!(
            lang,
            "{} service {} installé sur {} : {}",
            "{} service {} installed on {}: {}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "task" => {
            let created = g(2) == "created";
            let what = match (created, lang) {
                (true, Lang::Fr) => "créée",
                (false, Lang::Fr) => "modifiée",
                (true, Lang::En) => "created",
                (false, Lang::En) => "updated",
            };
            tr!(
                lang,
                "{} tâche planifiée {} {what} sur {}",
                "{} scheduled task {} {what} on {}",
                g(0),
                g(1),
                g(3)
            )
        }
        "vpn" => {
            let ok = g(0) == "1";
            let tunnel = match (g(4), lang) {
                ("", _) => String::new(),
                (t, Lang::Fr) => format!(", adresse de tunnel {t}"),
                (t, Lang::En) => format!(", tunnel address {t}"),
            };
            match (ok, lang) {
                (true, Lang::Fr) => format!(
                    "connexion VPN sur {} pour {} depuis {}{tunnel}",
                    g(1),
                    g(2),
                    g(3)
                ),
                (true, Lang::En) => {
                    format!("VPN login on {} for {} from {}{tunnel}", g(1), g(2), g(3))
                }
                (false, Lang::Fr) => format!(
                    "échec de connexion VPN sur {} pour {} depuis {}{tunnel}",
                    g(1),
                    g(2),
                    g(3)
                ),
                (false, Lang::En) => format!(
                    "VPN login failure on {} for {} from {}{tunnel}",
                    g(1),
                    g(2),
                    g(3)
                ),
            }
        }
        "sent" => tr!(
            lang,
            "{} : {} a envoyé {} octets vers {}",
            "{}: {} sent {} bytes to {}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "file" => tr!(lang, "fichier {} sur {}", "file {} on {}", g(0), g(1)),
        "connto" => tr!(
            lang,
            "connexion vers {} depuis {}",
            "connection to {} from {}",
            g(0),
            g(1)
        ),
        "remote" => tr!(
            lang,
            "{} lancé par {} (exécution à distance, {}) sur {}",
            "{} started by {} (remote {}) on {}",
            g(0),
            g(1),
            crate::text::method_by_code(lang, g(2)),
            g(3)
        ),
        "tgs" => tr!(
            lang,
            "4769 ticket de service {} pour {} demandé par {} depuis {} sur {}",
            "4769 {} service ticket for {} requested by {} from {} on {}",
            g(0),
            g(1),
            g(2),
            g(3),
            g(4)
        ),
        "wmisub" => tr!(
            lang,
            "Sysmon {} abonnement WMI {} créé par {} sur {}",
            "Sysmon {} WMI subscription {} created by {} on {}",
            g(0),
            g(1),
            g(2),
            g(3)
        ),
        "note" => tr!(
            lang,
            "fichier ressemblant à une demande de rançon {} écrit par {} sur {}",
            "ransom-note-like file {} written by {} on {}",
            g(0),
            g(1),
            g(2)
        ),
        "corr" => tr!(
            lang,
            "corrélation {} déclenchée ({} ; valeur {}) entre {} et {}",
            "correlation {} fired ({}; value {}) between {} and {}",
            g(0),
            g(1),
            g(2),
            g(3),
            g(4)
        ),
        _ => a.join(" "),
    }
}

/// A built-in behaviour in words (`BehaviourKind::code`).
pub(crate) fn behaviour_words(lang: Lang, code: &str) -> String {
    match code {
        "inhibit_recovery" => lang.pick(
            "restauration du système empêchée",
            "system recovery inhibited",
        ),
        "lsass_dump" => lang.pick("mémoire de LSASS copiée", "LSASS memory dumped"),
        "ransom_notes" => lang.pick("demandes de rançon déposées", "ransom notes written"),
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_summaries_render_in_both_languages() {
        let s = enc(
            "logon",
            &["10", "SRV-RDS01", "presta.maint", "10.212.134.11", ""],
        );
        assert_eq!(
            render(Lang::En, &s),
            "4624 logon type 10 on SRV-RDS01 as presta.maint from 10.212.134.11"
        );
        assert_eq!(
            render(Lang::Fr, &s),
            "4624 ouverture de session de type 10 sur SRV-RDS01 par presta.maint depuis 10.212.134.11"
        );
        // Plain text passes through; missing arguments render empty.
        assert_eq!(render(Lang::Fr, "as is"), "as is");
        assert_eq!(render(Lang::En, &enc("file", &[])), "file  on ");
        // Coding characters in the logs cannot shift the arguments.
        let s = enc("file", &["a\u{1f}b", "H"]);
        assert_eq!(render(Lang::En, &s), "file a\u{fffd}b on H");
        // The bytes used for ordering are those of the coded summary.
        assert_eq!(
            det_bytes("Rule", "HOST").collect::<Vec<u8>>(),
            det("Rule", "HOST").into_bytes()
        );
    }
}
