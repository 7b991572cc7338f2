//! Quoting rule text in messages.
//!
//! Rule files come from users and from archives of unknown origin: a
//! failure reason that echoes a 1 MB regex or a 200 KB condition in one
//! line is unreadable, and control characters in it would reach the
//! terminal raw. Every piece of rule text a message quotes goes through
//! [`quote`]; [`cap_reason`] is the last guard on a whole reason.

/// Longest piece of rule text a message quotes, in characters.
pub(crate) const QUOTE_CHARS: usize = 120;

/// Longest failure reason, in characters (a reason quotes a few pieces).
pub(crate) const REASON_CHARS: usize = 600;

/// The first `max` characters of `s`, control and bidirectional
/// characters escaped (`\n`, `\u{1b}`…), and whether `s` was longer.
fn escaped(s: &str, max: usize) -> (String, bool) {
    let mut out = String::with_capacity(s.len().min(max * 2));
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            return (out, true);
        }
        if vigie_event::terminal::is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    (out, false)
}

/// `s` for a message: control characters escaped (`\n`, `\u{1b}`…), and
/// when longer than `max` characters, its head, an ellipsis and its full
/// size (`'aaaa…' (1,048,576 bytes)`), so the reader knows it was cut.
pub(crate) fn quote_max(s: &str, max: usize) -> String {
    match escaped(s, max) {
        (out, true) => format!("'{out}…' ({} bytes)", thousands(s.len())),
        (out, false) => format!("'{out}'"),
    }
}

/// `s` unquoted, for a field that holds rule text (a title, an id):
/// control characters escaped, and at most `max` characters in all —
/// escapes and the ellipsis that marks a cut included, so a field's
/// width is a promise a table or a terminal can rely on.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 2));
    let mut width = 0;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let piece: String = if vigie_event::terminal::is_unsafe(c) {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let n = piece.chars().count();
        // The last piece may use the whole width; any other must leave
        // room for the ellipsis.
        let room = if chars.peek().is_none() {
            max
        } else {
            max.saturating_sub(1)
        };
        if width + n > room {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        width += n;
    }
    out
}

/// [`quote_max`] with the default length.
pub(crate) fn quote(s: &str) -> String {
    quote_max(s, QUOTE_CHARS)
}

/// A whole failure reason, bounded: reasons are built from quoted pieces,
/// but text from libraries (a YAML scanner message naming a duplicated
/// key, a regex error) may still carry input. Control characters are
/// escaped as in [`quote_max`].
pub(crate) fn cap_reason(reason: String) -> String {
    let needs_escape = reason.chars().any(vigie_event::terminal::is_unsafe);
    if reason.len() <= REASON_CHARS && !needs_escape {
        return reason;
    }
    let (mut out, cut) = escaped(&reason, REASON_CHARS);
    if cut {
        out.push_str(&format!("… ({} bytes in all)", thousands(reason.len())));
    }
    out
}

/// `1048576` → `1,048,576`.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_whole() {
        assert_eq!(quote("sel and not filter"), "'sel and not filter'");
    }

    #[test]
    fn long_text_is_cut_with_its_size() {
        let q = quote(&"a".repeat(1 << 20));
        assert!(q.starts_with("'aaaa"), "{q}");
        assert!(q.ends_with("…' (1,048,576 bytes)"), "{q}");
        assert!(q.chars().count() < QUOTE_CHARS + 30, "{q}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            quote("a\u{1b}]52;c;x\u{7}\nb"),
            "'a\\u{1b}]52;c;x\\u{7}\\nb'"
        );
        assert_eq!(quote("x\u{202e}y"), "'x\\u{202e}y'");
    }

    #[test]
    fn clipped_fields() {
        assert_eq!(clip("Title", 200), "Title");
        assert_eq!(clip(&"t".repeat(300), 200), format!("{}…", "t".repeat(199)));
        assert_eq!(clip(&"t".repeat(200), 200), "t".repeat(200));
        assert_eq!(clip("a\u{1b}[2J", 200), "a\\u{1b}[2J");
        let c = clip(&"\u{1b}".repeat(100), 200);
        assert!(c.chars().count() <= 200 && c.ends_with('…'), "{c}");
    }

    #[test]
    fn reasons_are_capped() {
        let r = cap_reason(format!("YAML error: {}", "k".repeat(100_000)));
        assert!(r.chars().count() < REASON_CHARS + 40, "{}", r.len());
        assert!(r.ends_with("bytes in all)"), "{r}");
        assert_eq!(cap_reason("short".into()), "short");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(16_777_216), "16,777,216");
    }
}
