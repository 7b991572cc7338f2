//! The ATT&CK progression: the fourteen enterprise tactics in kill-chain
//! order, the ones seen in the logs coloured, each with the first time it
//! was seen. Inline SVG for the overview, a table for the details.
//!
//! Why all fourteen and not only those seen: the gaps are information too
//! (no exfiltration seen is a question to ask, not a reassurance), and a
//! fixed strip reads the same in every report.

use std::fmt::Write as _;

use vigie_event::Timestamp;

use crate::html::escape;
use crate::text::Strings;

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

const W: f64 = 1180.0;
/// Tactics per row: three rows of five keep every name on one line.
const PER_ROW: usize = 5;
const CHEVRON_H: f64 = 40.0;
const ROW_H: f64 = 70.0;

/// The chevron strip: three rows of five, read left to right, top to bottom.
pub fn render_svg(seen: &[TacticSeen], t: &Strings) -> String {
    let step = W / PER_ROW as f64;
    let rows = TACTICS.len().div_ceil(PER_ROW);
    let h = rows as f64 * ROW_H;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="progression" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" role="img" aria-label="{}" font-family="inherit">"#,
        escape(t.s_progression)
    );
    for (i, (_, _, name)) in TACTICS.iter().enumerate() {
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
        let (row, col) = (i / PER_ROW, i % PER_ROW);
        let x = col as f64 * step;
        let y0 = 2.0 + row as f64 * ROW_H;
        let (y1, ym) = (y0 + CHEVRON_H, y0 + CHEVRON_H / 2.0);
        let tip = 12.0;
        let (fill, stroke, ink) = if hit.is_some() {
            ("#b42318", "#912018", "#ffffff")
        } else {
            ("#f2f4f7", "#d0d5dd", "#98a2b3")
        };
        let _ = write!(
            s,
            r#"<g class="tactic{cls}"><title>{title}</title><path d="M{x0:.1},{y0:.1} L{x1:.1},{y0:.1} L{x2:.1},{ym:.1} L{x1:.1},{y1:.1} L{x0:.1},{y1:.1} L{x3:.1},{ym:.1} Z" fill="{fill}" stroke="{stroke}"/>"#,
            cls = if hit.is_some() { " seen" } else { "" },
            title = escape(name),
            x0 = x + 1.0,
            x1 = x + step - tip,
            x2 = x + step - 1.0,
            x3 = x + 1.0 + if col == 0 { 0.0 } else { tip },
        );
        let cx = x + step / 2.0 + if col == 0 { -4.0 } else { 2.0 };
        let _ = write!(
            s,
            r#"<text x="{cx:.1}" y="{ty:.1}" font-size="11.5" font-weight="700" text-anchor="middle" fill="{ink}">{}</text>"#,
            escape(name),
            ty = ym + 4.5
        );
        let below = match hit {
            Some(Some(f)) => t.short_time(&f),
            Some(None) => String::new(),
            None => t.p_not_seen.to_string(),
        };
        let _ = write!(
            s,
            r##"<text x="{cx:.1}" y="{ty:.1}" font-size="11.5" text-anchor="middle" fill="{c}"{w}>{}</text></g>"##,
            escape(&below),
            ty = y1 + 16.0,
            c = if hit.is_some() { "#101828" } else { "#98a2b3" },
            w = if hit.is_some() {
                r#" font-weight="600""#
            } else {
                ""
            },
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::EN;

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
        let svg = render_svg(&[seen("impact"), seen("discovery")], &EN);
        assert_eq!(svg.matches(r#"class="tactic seen""#).count(), 2);
        assert_eq!(svg.matches(r#"class="tactic""#).count(), 13);
    }
}
