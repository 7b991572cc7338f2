//! The look shared by everything Vigie shows a person.
//!
//! [`THEME_CSS`] is the common ground: colour tokens (the red / amber /
//! green / grey / violet status language of [`crate::tone`]), type,
//! cards, pills, level badges, notes, tables that become stacked cards on
//! a phone, keyboard focus, and the print basics. The console and the
//! public status page take it as it is, so that the crisis cell reads one
//! look everywhere; [`REPORT_CSS`] adds what only the report has (the
//! answer block, the kill-chain strip, charts, zones, the print layout of
//! the summary).
//!
//! Contrast: every text colour on its background meets WCAG 2.1 AA
//! (4.5:1), checked in this module's tests from the tokens themselves.

/// The shared theme.
pub const THEME_CSS: &str = include_str!("theme.css");
/// The report's own rules, applied after [`THEME_CSS`].
pub const REPORT_CSS: &str = include_str!("report.css");

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative luminance of `#rrggbb` (WCAG 2.1).
    fn luminance(hex: &str) -> f64 {
        let h = hex.trim_start_matches('#');
        let c = |i: usize| {
            let v = u8::from_str_radix(&h[i..i + 2], 16).unwrap() as f64 / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * c(0) + 0.7152 * c(2) + 0.0722 * c(4)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    /// The value of custom property `--name` in the theme.
    fn token(name: &str) -> String {
        let key = format!("--{name}:");
        let i = THEME_CSS
            .find(&key)
            .unwrap_or_else(|| panic!("no --{name}"))
            + key.len();
        THEME_CSS[i..].trim_start()[..7].to_string()
    }

    #[test]
    fn text_colours_meet_wcag_aa() {
        // (text, background) pairs the theme uses for text.
        for (fg, bg) in [
            ("ink", "card"),
            ("ink-2", "card"),
            ("muted", "card"),
            ("muted", "bg"),
            ("ink-2", "bg"),
            ("red", "red-bg"),
            ("amber", "amber-bg"),
            ("green", "green-bg"),
            ("grey", "grey-bg"),
            ("ext", "ext-bg"),
            ("link", "card"),
            ("on-navy", "navy"),
        ] {
            let (f, b) = (token(fg), token(bg));
            let r = contrast(&f, &b);
            assert!(r >= 4.5, "--{fg} {f} on --{bg} {b}: {r:.2}:1 < 4.5:1");
        }
        // White on the verdict badges and level badges.
        for bg in ["red", "amber", "green", "grey", "lvl-3", "lvl-4"] {
            let b = token(bg);
            let r = contrast("#ffffff", &b);
            assert!(r >= 4.5, "white on --{bg} {b}: {r:.2}:1");
        }
    }
}
