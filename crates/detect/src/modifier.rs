//! Sigma value modifiers (Sigma 2.1 modifiers appendix), parsed from the
//! `field|mod1|mod2` keys of detection maps.

use crate::value::{Cmp, TimePart};

/// One value modifier, in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Exists,
    Cased,
    Neq,
    Windash,
    Re,
    /// `re` sub-modifiers `i`, `m`, `s`.
    ReFlag(char),
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Cmp(Cmp),
    Cidr,
    Expand,
    FieldRef,
    Time(TimePart),
}

impl Modifier {
    /// Parses a modifier name; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Modifier> {
        Some(match s {
            "contains" => Modifier::Contains,
            "startswith" => Modifier::StartsWith,
            "endswith" => Modifier::EndsWith,
            "all" => Modifier::All,
            "exists" => Modifier::Exists,
            "cased" => Modifier::Cased,
            "neq" => Modifier::Neq,
            "windash" => Modifier::Windash,
            "re" => Modifier::Re,
            "i" => Modifier::ReFlag('i'),
            "m" => Modifier::ReFlag('m'),
            "s" => Modifier::ReFlag('s'),
            "base64" => Modifier::Base64,
            "base64offset" => Modifier::Base64Offset,
            "utf16le" | "wide" => Modifier::Utf16Le,
            "utf16be" => Modifier::Utf16Be,
            "utf16" => Modifier::Utf16,
            "lt" => Modifier::Cmp(Cmp::Lt),
            "lte" => Modifier::Cmp(Cmp::Lte),
            "gt" => Modifier::Cmp(Cmp::Gt),
            "gte" => Modifier::Cmp(Cmp::Gte),
            "cidr" => Modifier::Cidr,
            "expand" => Modifier::Expand,
            "fieldref" => Modifier::FieldRef,
            "minute" => Modifier::Time(TimePart::Minute),
            "hour" => Modifier::Time(TimePart::Hour),
            "day" => Modifier::Time(TimePart::Day),
            "week" => Modifier::Time(TimePart::Week),
            "month" => Modifier::Time(TimePart::Month),
            "year" => Modifier::Time(TimePart::Year),
            _ => return None,
        })
    }
}

/// Splits a detection key `field|mod|mod` into the field name (`None` for
/// keyless keys such as `|all`) and its modifiers.
pub(crate) fn parse_key(key: &str) -> Result<(Option<String>, Vec<Modifier>), String> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("").trim();
    let mut mods = Vec::new();
    for m in parts {
        let m = m.trim();
        match Modifier::parse(m) {
            Some(x) => mods.push(x),
            None => return Err(format!("unknown modifier '{m}' in '{key}'")),
        }
    }
    let field = if field.is_empty() {
        None
    } else {
        Some(field.to_string())
    };
    Ok((field, mods))
}

/// The five dash characters `windash` interchanges.
pub(crate) const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Base64 of `data` (standard alphabet, padded).
pub(crate) fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The three `base64offset` variants of `val`: the part of its base64
/// encoding that is the same whatever the bytes around it, for the value
/// starting at offset 0, 1 or 2 of a 3-byte group (pySigma's algorithm).
pub(crate) fn b64_offsets(val: &[u8]) -> Vec<String> {
    let mut out = Vec::with_capacity(3);
    for i in 0..3usize {
        let mut data = vec![b' '; i];
        data.extend_from_slice(val);
        let enc = b64(&data);
        let start = [0usize, 2, 3][i];
        let end_trim = [0usize, 3, 2][(val.len() + i) % 3];
        let end = enc.len().saturating_sub(end_trim);
        if start < end {
            out.push(enc[start..end].to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_modifiers() {
        let (f, m) = parse_key("CommandLine|contains|all").unwrap();
        assert_eq!(f.as_deref(), Some("CommandLine"));
        assert_eq!(m, vec![Modifier::Contains, Modifier::All]);
        let (f, m) = parse_key("|all").unwrap();
        assert_eq!(f, None);
        assert_eq!(m, vec![Modifier::All]);
        assert!(parse_key("a|wide|base64offset|contains").is_ok());
        let e = parse_key("a|containz").unwrap_err();
        assert!(e.contains("unknown modifier 'containz'"), "{e}");
    }

    #[test]
    fn base64offset_matches_pysigma() {
        // Values from the Sigma/pySigma documentation for "/bin/bash".
        assert_eq!(
            b64_offsets(b"/bin/bash"),
            vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
        assert_eq!(b64(b"cmd"), "Y21k");
    }
}
