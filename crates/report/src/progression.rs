//! The ATT&CK progression: the fourteen enterprise tactics in kill-chain
//! order, the ones seen in the logs coloured, each with the first time it
//! was seen. A wrapping list for the overview, a table for the details.
//!
//! Why all fourteen and not only those seen: the gaps are information too
//! (no exfiltration seen is a question to ask, not a reassurance), and a
//! fixed strip reads the same in every report.

use std::fmt::Write as _;

use vigie_event::Timestamp;

use crate::html::escape;
use crate::text::Voice;

/// ATT&CK enterprise tactics in kill-chain order: (id, Sigma tag slugs,
/// name). ATT&CK v19 split Defense Evasion into Stealth (keeping TA0005)
/// and Defense Impairment (TA0112); SigmaHQ rules carry the old and the
/// new slugs, so TA0005 answers to both `defense-evasion` and `stealth`.
pub const TACTICS: [(&str, &[&str], &str); 15] = [
    ("TA0043", &["reconnaissance"], "Reconnaissance"),
    ("TA0042", &["resource-development"], "Resource Development"),
    ("TA0001", &["initial-access"], "Initial Access"),
    ("TA0002", &["execution"], "Execution"),
    ("TA0003", &["persistence"], "Persistence"),
    ("TA0004", &["privilege-escalation"], "Privilege Escalation"),
    ("TA0005", &["defense-evasion", "stealth"], "Defense Evasion"),
    ("TA0112", &["defense-impairment"], "Defense Impairment"),
    ("TA0006", &["credential-access"], "Credential Access"),
    ("TA0007", &["discovery"], "Discovery"),
    ("TA0008", &["lateral-movement"], "Lateral Movement"),
    ("TA0009", &["collection"], "Collection"),
    ("TA0011", &["command-and-control"], "Command and Control"),
    ("TA0010", &["exfiltration"], "Exfiltration"),
    ("TA0040", &["impact"], "Impact"),
];

/// One tactic as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct TacticSeen {
    /// As the scope names it: `initial-access`, `attack.initial-access`,
    /// `Initial Access`, `TA0001` are all understood.
    pub tactic: String,
    pub first: Option<Timestamp>,
    /// Technique ids and/or names, e.g. `T1078 Valid Accounts`.
    pub techniques: Vec<String>,
    pub hosts: Vec<String>,
}

/// Index in [`TACTICS`] of a tactic name in any usual spelling.
pub fn tactic_index(name: &str) -> Option<usize> {
    let n = name.trim().to_ascii_lowercase();
    let n = n.strip_prefix("attack.").unwrap_or(&n);
    let n: String = n
        .chars()
        .map(|c| if c == ' ' || c == '_' { '-' } else { c })
        .collect();
    TACTICS.iter().position(|(id, tags, name)| {
        tags.contains(&n.as_str())
            || n.eq_ignore_ascii_case(id)
            || n == name.to_ascii_lowercase().replace(' ', "-")
    })
}

/// Rows in kill-chain order; tactics the list does not know come last,
/// in their input order (shown, never dropped).
pub fn ordered(seen: &[TacticSeen]) -> Vec<(Option<usize>, &TacticSeen)> {
    let mut rows: Vec<(Option<usize>, &TacticSeen)> =
        seen.iter().map(|s| (tactic_index(&s.tactic), s)).collect();
    rows.sort_by_key(|(i, _)| i.unwrap_or(usize::MAX));
    rows
}

/// The glossary key of tactic `i` of [`TACTICS`] (`tactic_initial_access`).
pub fn tactic_key(i: usize) -> String {
    format!("tactic_{}", TACTICS[i].1[0].replace('-', "_"))
}

/// A tactic's name in the reader's language, in any usual spelling;
/// unknown names are shown as they are.
pub fn tactic_name(raw: &str, t: &Voice) -> String {
    match tactic_index(raw) {
        Some(i) => crate::text::capitalise(t.term(&tactic_key(i))),
        // The scope's word for a rule without an ATT&CK tag.
        None if raw.eq_ignore_ascii_case("unknown") => crate::text::capitalise(t.unknown),
        None => raw.to_string(),
    }
}

/// The kill-chain strip: the fifteen tactics as a list that wraps to the
/// width of the screen (five a row on a desktop, two on a phone, every
/// name readable), the ones seen coloured with the first time seen.
/// HTML rather than SVG so that it reflows and prints crisply.
pub fn render_strip(seen: &[TacticSeen], t: &Voice) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<ol class="killchain" aria-label="{}">"#,
        escape(t.s_progression)
    );
    for (i, (tactic_id, _, _)) in TACTICS.iter().enumerate() {
        let hit = seen
            .iter()
            .filter(|s| tactic_index(&s.tactic) == Some(i))
            .fold(None::<Option<Timestamp>>, |acc, s| {
                let f = acc.flatten();
                Some(match (f, s.first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                })
            });
        let name = crate::text::capitalise(t.term(&tactic_key(i)));
        let (cls, below, title) = match hit {
            Some(Some(f)) => (
                "tactic seen",
                format!(
                    r#"<time datetime="{}" title="{}">{}</time>"#,
                    f.to_rfc3339(),
                    escape(&t.utc_time(&f)),
                    escape(&t.short_time(&f))
                ),
                t.p_seen,
            ),
            Some(None) => ("tactic seen", String::new(), t.p_seen),
            None => ("tactic", escape(t.p_not_seen), t.p_not_seen),
        };
        let _ = write!(
            s,
            r#"<li class="{cls}" data-tactic="{id}"><span class="name">{}</span><span class="state"><span class="sr">{}: </span>{below}</span></li>"#,
            escape(&name),
            escape(title),
            id = tactic_id,
        );
    }
    s.push_str("</ol>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Voice;
    use vigie_lang::{Lang, Zone};

    fn en() -> Voice {
        Voice::new(Lang::En, Zone::Utc)
    }

    fn seen(t: &str) -> TacticSeen {
        TacticSeen {
            tactic: t.into(),
            first: None,
            techniques: vec!["T1078".into()],
            hosts: vec![],
        }
    }

    #[test]
    fn tactic_spellings_are_recognised() {
        assert_eq!(tactic_index("initial-access"), Some(2));
        assert_eq!(tactic_index("attack.initial-access"), Some(2));
        assert_eq!(tactic_index("Initial Access"), Some(2));
        assert_eq!(tactic_index("initial_access"), Some(2));
        assert_eq!(tactic_index("TA0001"), Some(2));
        assert_eq!(tactic_index("Command and Control"), Some(12));
        assert_eq!(tactic_index("impact"), Some(14));
        assert_eq!(tactic_index("attack.stealth"), Some(6));
        assert_eq!(tactic_index("Defense Evasion"), Some(6));
        assert_eq!(tactic_index("TA0005"), Some(6));
        assert_eq!(tactic_index("defense-impairment"), Some(7));
        assert_eq!(tactic_index("TA0112"), Some(7));
        assert_eq!(tactic_index("t1078"), None);
    }

    #[test]
    fn rows_follow_the_kill_chain_and_keep_unknown_tactics() {
        let s = vec![
            seen("impact"),
            seen("made-up"),
            seen("discovery"),
            seen("initial-access"),
        ];
        let o: Vec<&str> = ordered(&s).iter().map(|r| r.1.tactic.as_str()).collect();
        assert_eq!(o, ["initial-access", "discovery", "impact", "made-up"]);
    }

    #[test]
    fn strip_marks_seen_tactics() {
        let html = render_strip(&[seen("impact"), seen("discovery")], &en());
        assert_eq!(html.matches(r#"class="tactic seen""#).count(), 2);
        assert_eq!(html.matches(r#"class="tactic""#).count(), 13);
        let fr = Voice::new(Lang::Fr, Zone::Utc);
        assert!(render_strip(&[], &fr).contains("Accès initial"));
        assert_eq!(
            tactic_name("attack.lateral-movement", &fr),
            "Mouvement latéral"
        );
        assert_eq!(tactic_name("made-up", &fr), "made-up");
        for i in 0..TACTICS.len() {
            assert_ne!(
                fr.term(&tactic_key(i)),
                tactic_key(i),
                "glossary lacks {}",
                tactic_key(i)
            );
        }
    }
}
