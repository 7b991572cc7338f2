//! What may be written to a terminal: one definition shared by every
//! stage that prints values read from evidence or rule files (issue 19).
//!
//! Everything in evidence is attacker-controlled: a `Computer` can be
//! `\x1b]52;c;…\x07` (an OSC 52 sequence that writes the analyst's
//! clipboard), `\x1b[2J` (clear the screen), or a right-to-left override
//! that shows `exe.txt` for `txt.exe`. Values are escaped where they
//! leave Vigie for a person; machine outputs (JSON) keep them exact.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters never written raw to a terminal or a CSV cell: C0 and C1
/// controls, DEL, and the invisible formatting characters that reorder or
/// hide text (bidi embeddings, overrides and isolates, marks, zero-width
/// characters, the byte-order mark, line and paragraph separators).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `s` with every unsafe character written as a visible escape: `\n`,
/// `\r`, `\t`, `\x1b` for other C0 controls and DEL, `\u{202e}` for the
/// rest. Backslashes are left alone (Windows paths are full of them).
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_keeping(s, false)
}

/// [`escape`] for a multi-line text built by Vigie: line feeds are kept,
/// everything else unsafe is escaped.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    escape_keeping(s, true)
}

fn escape_keeping(s: &str, newlines: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !(newlines && c == '\n')) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) || (newlines && c == '\n') {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}
