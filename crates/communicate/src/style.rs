//! Shared bits of the HTML this crate writes: escaping (the report's, so
//! there is one place to get it right), times for people, phone links, and
//! the Content-Security-Policy of a page with one inline stylesheet.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use vigie_event::Timestamp;
use vigie_lang::{long_date, Lang, Precision, Zone};

pub use vigie_report::html::escape as esc;

/// `17 janvier 2026 à 08:30 CET` / `17 January 2026 at 08:30 CET`.
pub fn when(lang: Lang, zone: Zone, t: Timestamp) -> String {
    let f = zone.format(t, Precision::Minute);
    let mut parts = f.splitn(3, ' ');
    let (_, hm, abbr) = (parts.next(), parts.next(), parts.next());
    let date = long_date(lang, zone, t);
    match (hm, abbr) {
        (Some(hm), Some(abbr)) => match lang {
            Lang::Fr => format!("{date} à {hm} {abbr}"),
            Lang::En => format!("{date} at {hm} {abbr}"),
        },
        _ => f,
    }
}

/// `<time datetime="…">…</time>` for `t`.
pub fn time_tag(lang: Lang, zone: Zone, t: Timestamp) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        esc(&zone.rfc3339(t)),
        esc(&when(lang, zone, t))
    )
}

/// A `tel:` URI for a phone number as people write it: French national
/// numbers (`02 61 91 00 12`) become `+33261910012`; anything else keeps
/// its `+` and digits. `None` when there are no digits.
pub fn tel_uri(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    let international = phone.trim_start().starts_with('+');
    Some(if international {
        format!("tel:+{digits}")
    } else if digits.len() == 10 && digits.starts_with('0') {
        format!("tel:+33{}", &digits[1..])
    } else {
        format!("tel:{digits}")
    })
}

/// The CSP of a page whose only active content is `css` in one inline
/// `<style>`: nothing else loads (but the empty `data:` icon that keeps
/// browsers from asking for `/favicon.ico`), no script runs, no form posts.
pub fn csp(css: &str) -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; base-uri 'none'; form-action 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn phone_links_and_times() {
        assert_eq!(
            tel_uri("02 61 91 00 12").as_deref(),
            Some("tel:+33261910012")
        );
        assert_eq!(
            tel_uri("+33 2 61 91 00 12").as_deref(),
            Some("tel:+33261910012")
        );
        assert_eq!(tel_uri("3939").as_deref(), Some("tel:3939"));
        assert_eq!(tel_uri("voir l'accueil"), None);
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 17, 7, 30, 0).unwrap();
        assert_eq!(
            when(Lang::Fr, Zone::paris(), t),
            "17 janvier 2026 à 08:30 CET"
        );
        assert_eq!(
            when(Lang::En, Zone::paris(), t),
            "17 January 2026 at 08:30 CET"
        );
    }
}
