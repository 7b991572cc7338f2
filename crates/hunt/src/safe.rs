//! Values read from logs, made safe to show.
//!
//! Everything in evidence is attacker-controlled: a `Computer` can be
//! `\x1b]52;c;…\x07` (an OSC 52 sequence that writes the analyst's
//! clipboard), `\x1b[2J` (clear the screen), a right-to-left override
//! that shows `exe.txt` for `txt.exe`, or `=HYPERLINK(…)` (a live formula
//! once the CSV timeline is opened in a spreadsheet). Three rules, applied
//! where a value leaves Vigie:
//!
//! * on a terminal, every control character and every invisible
//!   formatting character is shown as a visible escape ([`escape`]);
//! * in CSV cells, the same escaping, and a cell that a spreadsheet would
//!   take for a formula is prefixed with `'` ([`csv_cell`], as OWASP
//!   recommends), unless the user asks for raw values (`--csv-raw`);
//! * a message quoting input quotes at most a bounded length of it
//!   ([`quote`]): a 1 MB regex is not echoed whole.
//!
//! JSON outputs need nothing: JSON escapes control characters itself, and
//! machine outputs keep values exactly as read.

// One definition of what is unsafe on a terminal and how it is shown,
// shared with the rule loader's messages (`vigie_detect`'s quoting).
pub use vigie_event::terminal::{escape, escape_text, is_unsafe};

use std::borrow::Cow;

/// At most `max` characters of `s`, escaped, with what was left out said:
/// `"abc…" (1048576 bytes)`. For messages that quote input.
pub fn quote(s: &str, max: usize) -> String {
    let mut cut = s.len();
    if let Some((i, _)) = s.char_indices().nth(max) {
        cut = i;
    }
    if cut == s.len() {
        format!("\"{}\"", escape(s))
    } else {
        format!("\"{}…\" ({} bytes)", escape(&s[..cut]), s.len())
    }
}

/// At most `max` characters of `s`, escaped, with the full length said
/// when it is cut: for error lines, which often embed input.
pub fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}… ({} bytes)", escape(&s[..i]), s.len()),
        None => escape(s).into_owned(),
    }
}

/// How CSV cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvValues {
    /// Control characters escaped, formula-like cells neutralised.
    #[default]
    Safe,
    /// Values exactly as read (`--csv-raw`): for tools that do their own
    /// escaping. Never open such a file in a spreadsheet.
    Raw,
}

/// A CSV cell as written: in [`CsvValues::Safe`] mode, a cell a
/// spreadsheet would evaluate (starting with `=`, `+`, `-`, `@`, a tab or
/// a carriage return) gets a leading `'`, and unsafe characters are
/// escaped. A lone `-` (Windows' "none") is left as it is: it is no
/// formula.
pub fn csv_cell(s: &str, mode: CsvValues) -> Cow<'_, str> {
    if mode == CsvValues::Raw {
        return Cow::Borrowed(s);
    }
    let formula =
        s.len() > 1 && matches!(s.as_bytes()[0], b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r');
    match (formula, escape(s)) {
        (false, e) => e,
        (true, e) => Cow::Owned(format!("'{e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_become_visible() {
        let osc52 = "\u{1b}]52;c;ZXZpbA==\u{7}";
        assert_eq!(escape(osc52), "\\x1b]52;c;ZXZpbA==\\x07");
        assert_eq!(escape("\u{1b}[2J"), "\\x1b[2J");
        assert_eq!(escape("a\u{202e}txt.exe"), "a\\u{202e}txt.exe");
        assert_eq!(
            escape("x\u{2066}y\u{2069}\u{9b}"),
            "x\\u{2066}y\\u{2069}\\u{9b}"
        );
        assert_eq!(escape("l1\nl2\r\tz"), "l1\\nl2\\r\\tz");
        assert_eq!(escape_text("l1\nl2\u{1b}"), "l1\nl2\\x1b");
        assert!(matches!(escape("C:\\Windows\\é 🦀"), Cow::Borrowed(_)));
    }

    #[test]
    fn formulas_are_neutralised_in_csv() {
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\",\"y\")", CsvValues::Safe),
            "'=HYPERLINK(\"http://x\",\"y\")"
        );
        for s in ["+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"] {
            assert!(csv_cell(s, CsvValues::Safe).starts_with('\''), "{s:?}");
        }
        assert_eq!(csv_cell("\r=1", CsvValues::Safe), "'\\r=1");
        assert_eq!(csv_cell("-", CsvValues::Safe), "-");
        assert_eq!(csv_cell("a=b", CsvValues::Safe), "a=b");
        assert_eq!(csv_cell("=1", CsvValues::Raw), "=1");
        assert_eq!(csv_cell("a\nb", CsvValues::Safe), "a\\nb");
    }

    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quote("abc", 10), "\"abc\"");
        let long = "x".repeat(1 << 20);
        let q = quote(&long, 40);
        assert!(q.len() < 80, "{q}");
        assert!(q.contains("1048576 bytes"), "{q}");
        assert_eq!(quote("é\u{1b}", 1), "\"é…\" (3 bytes)");
        assert_eq!(bounded("ab\u{1b}", 2), "ab… (3 bytes)");
        assert_eq!(bounded("a\nb", 5), "a\\nb");
    }
}
