//! HTML escaping.
//!
//! Every string that comes from logs is attacker-controlled: a process
//! command line, a file name, a user name or a DNS query can contain
//! `<script>`, quotes that break out of an attribute, or Unicode tricks
//! that make a file name read backwards. Everything the report prints goes
//! through [`escape`] (text and attribute values alike, HTML and inline
//! SVG alike), so there is one place to get right.

use std::fmt::Write as _;

/// Escapes `s` for use as HTML/SVG text *or* a double- or single-quoted
/// attribute value.
///
/// Besides the five markup characters, it makes invisible characters
/// visible instead of passing them through, because in a forensic report
/// a hidden character is itself evidence:
/// * C0 control characters (except tab, newline, carriage return) and DEL
///   become their Unicode "control picture" (`\x1b` → `␛`); they are not
///   allowed in HTML text anyway;
/// * bidirectional overrides and isolates (`U+202A..U+202E`,
///   `U+2066..U+2069`), used to disguise `invoice\u{202E}fdp.exe` as
///   `invoiceexe.pdf`, zero-width characters and the BOM become
///   `[U+XXXX]`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

/// Appends the escaped form of `s` to `out` (see [`escape`]).
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}' => {
                let _ = write!(out, "[U+{:04X}]", c as u32);
            }
            _ => out.push(c),
        }
    }
}

/// Escapes `s` and cuts it to at most `max` characters, saying how much
/// was left out. Long command lines (encoded PowerShell can be tens of
/// kilobytes) would otherwise swamp a table; the complete value stays in
/// the JSON output of `vigie hunt`.
pub fn escape_truncated(s: &str, max: usize) -> String {
    let total = s.chars().count();
    if total <= max {
        return escape(s);
    }
    let cut: String = s.chars().take(max).collect();
    let mut out = escape(&cut);
    let _ = write!(out, "… [+{} chars]", total - max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'q'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"
        );
    }

    #[test]
    fn invisible_characters_become_visible() {
        assert_eq!(escape("a\u{1b}[31mb"), "a\u{241b}[31mb");
        assert_eq!(escape("nul\u{0}"), "nul\u{2400}");
        assert_eq!(escape("invoice\u{202e}fdp.exe"), "invoice[U+202E]fdp.exe");
        assert_eq!(escape("zero\u{200b}width"), "zero[U+200B]width");
        assert_eq!(escape("tab\tline\n"), "tab\tline\n");
        assert_eq!(escape("DEL\u{7f}"), "DEL\u{2421}");
    }

    #[test]
    fn non_ascii_text_passes_through() {
        assert_eq!(escape("État-civil · Pen-Ar-Bed"), "État-civil · Pen-Ar-Bed");
    }

    proptest::proptest! {
        /// Whatever the input, the output has no markup character, no
        /// control character but tab/newline/carriage return, and no
        /// bidirectional override; and escaping is injective on what it
        /// keeps (a `&` always starts an entity we wrote).
        #[test]
        fn escaped_text_is_inert(s in "\\PC*|[<>&\"'\u{0}-\u{1f}\u{202a}-\u{202e}a-z]{0,40}") {
            let e = escape(&s);
            proptest::prop_assert!(!e.contains(['<', '>', '"', '\'']));
            let hidden = e.chars().any(|c| {
                (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                    || ('\u{202a}'..='\u{202e}').contains(&c)
            });
            proptest::prop_assert!(!hidden, "invisible character left in {:?}", e);
            for (i, _) in e.match_indices('&') {
                let rest = &e[i..];
                proptest::prop_assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|x| rest.starts_with(x)),
                    "{rest}"
                );
            }
        }
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(escape_truncated("ééé<", 10), "ééé&lt;");
        assert_eq!(escape_truncated("é<é<é", 2), "é&lt;… [+3 chars]");
    }
}
