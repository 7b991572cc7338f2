//! Text feeds: the abuse.ch CSV exports, `value,type` CSV files, and plain
//! lists (one value per line).
//!
//! The layout is told by the header, commented (`# id,dateadded,…`) or
//! not, never by the file name:
//!
//! * ThreatFox: `first_seen_utc, ioc_id, ioc_value, ioc_type, threat_type,
//!   fk_malware, malware_alias, malware_printable, last_seen_utc,
//!   confidence_level, [is_compromised,] reference, tags, anonymous,
//!   reporter` (values quoted, a space after each comma);
//! * URLhaus: `id, dateadded, url, url_status, [last_online,] threat, tags,
//!   urlhaus_link, reporter`;
//! * Feodo Tracker: `first_seen_utc, dst_ip, dst_port, c2_status,
//!   last_online, malware`;
//! * `value,type` (any column order, with optional `tlp`, `source`,
//!   `first_seen`/`valid_from`, `last_seen`/`valid_until`, `confidence`,
//!   `comment`): what `vigie export blocklist` writes;
//! * a plain list: addresses, networks and ranges (`a-b`), domains
//!   (`*.example.org` for the names under it), URLs, digests (FortiGate's
//!   `<hash> [description]`), `#` comments.
//!
//! abuse.ch publishes under TLP:CLEAR: its indicators carry it. Offline
//! URLs and C2s are kept: they still say where an attack came from.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::model::{
    Condition, Format, Imported, Indicator, ProblemKind, Source, Subdomains, Test, Tlp,
};
use crate::normalize;

/// The layout of a text feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    ThreatFox,
    Urlhaus,
    Feodo,
    ValueType,
    List,
}

/// Splits one CSV line, tolerating what abuse.ch writes: spaces before an
/// opening quote, `""` inside quotes.
pub fn split_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    split_fields(line, &mut fields);
    fields.into_iter().map(Cow::into_owned).collect()
}

/// [`split_line`] into `out` (cleared first), each field borrowed from
/// the line unless it holds a doubled quote or text after its closing
/// quote. Why: a 100,000-line feed read with a `String` per field was a
/// million allocations for a few fields used per line.
pub fn split_fields<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) {
    out.clear();
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let quoted = i < b.len() && b[i] == b'"';
        let mut field: Cow<'a, str>;
        if quoted {
            i += 1;
            let mut seg = i;
            let mut owned: Option<String> = None;
            loop {
                match line[i..].find('"').map(|q| q + i) {
                    // No closing quote: the rest of the line is the field.
                    None => {
                        i = b.len();
                        break;
                    }
                    Some(q) if b.get(q + 1) == Some(&b'"') => {
                        owned
                            .get_or_insert_with(String::new)
                            .push_str(&line[seg..=q]);
                        i = q + 2;
                        seg = i;
                    }
                    Some(q) => {
                        i = q;
                        break;
                    }
                }
            }
            let end = i.min(b.len());
            field = match owned {
                Some(mut o) => {
                    o.push_str(&line[seg..end]);
                    Cow::Owned(o)
                }
                None => Cow::Borrowed(&line[seg..end]),
            };
            if i < b.len() {
                i += 1; // the closing quote
            }
        } else {
            field = Cow::Borrowed("");
        }
        // Up to the next comma (after a closing quote: anything but
        // spaces is kept, malformed but not lost).
        let comma = line[i..].find(',').map(|c| c + i);
        let rest = &line[i..comma.unwrap_or(b.len())];
        if quoted {
            if rest.chars().any(|c| !c.is_whitespace()) {
                let mut o = field.into_owned();
                o.extend(rest.chars().filter(|c| !c.is_whitespace()));
                field = Cow::Owned(o);
            }
        } else {
            field = Cow::Borrowed(rest.trim());
        }
        out.push(field);
        match comma {
            Some(c) => i = c + 1,
            None => return,
        }
    }
}

/// The header of a text feed: the last comment line or the first line
/// that names known columns. Returns the layout, the column names, and
/// the index of the first data line.
fn header(lines: &[&str]) -> (Layout, Vec<String>, usize) {
    for (i, raw) in lines.iter().enumerate().take(64) {
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        let body = t.trim_start_matches('#').trim();
        let cols: Vec<String> = split_line(body)
            .into_iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let has = |n: &str| cols.iter().any(|c| c == n);
        let layout = if has("ioc_value") && has("ioc_type") {
            Some(Layout::ThreatFox)
        } else if has("url") && (has("url_status") || has("urlhaus_link")) {
            Some(Layout::Urlhaus)
        } else if has("dst_ip") && (has("c2_status") || has("malware")) {
            Some(Layout::Feodo)
        } else if has("value") && has("type") {
            Some(Layout::ValueType)
        } else {
            None
        };
        if let Some(l) = layout {
            return (l, cols, i + 1);
        }
        if !t.starts_with('#') {
            break;
        }
    }
    (Layout::List, Vec::new(), 0)
}

/// Which layout a text is in (for messages and sniffing).
pub fn layout(text: &str) -> Layout {
    let lines: Vec<&str> = text.lines().take(64).collect();
    header(&lines).0
}

/// Reads a text feed.
pub fn import(text: &str, location: &str, out: &mut Imported) {
    let lines: Vec<&str> = text.lines().collect();
    let (layout, cols, first) = header(&lines);
    let format = match layout {
        Layout::ThreatFox => Format::ThreatFox,
        Layout::Urlhaus => Format::Urlhaus,
        Layout::Feodo => Format::Feodo,
        Layout::ValueType => Format::Csv,
        Layout::List => Format::List,
    };
    let source_name = match layout {
        Layout::ThreatFox => "abuse.ch ThreatFox".to_string(),
        Layout::Urlhaus => "abuse.ch URLhaus".to_string(),
        Layout::Feodo => "abuse.ch Feodo Tracker".to_string(),
        _ => super::stix::short_name(location),
    };
    let source = Arc::new(Source {
        name: source_name,
        location: location.to_string(),
        format,
    });
    let col = |name: &str| cols.iter().position(|c| c == name);
    // The sources named in a `source` column, made once each.
    let mut sources: HashMap<String, Arc<Source>> = HashMap::new();
    // One buffer of fields for every line (borrowed from the text).
    let mut row: Vec<Cow<str>> = Vec::new();
    for (n, raw) in lines.iter().enumerate().skip(first) {
        let line = raw.trim();
        if line.is_empty()
            || line.starts_with('#')
            || (layout == Layout::List && line.starts_with(';'))
        {
            continue;
        }
        if layout == Layout::List {
            row.clear();
        } else {
            split_fields(line, &mut row);
        }
        let get = |name: &str| {
            col(name)
                .and_then(|i| row.get(i))
                .map(|f| &**f)
                .filter(|s| !s.is_empty())
        };
        let result = match layout {
            Layout::ThreatFox => threatfox(&get, &source),
            Layout::Urlhaus => urlhaus(&get, &source),
            Layout::Feodo => feodo(&get, &source),
            Layout::ValueType => value_type(&get, &source, location, &mut sources),
            Layout::List => list_line(line, &source),
        };
        match result {
            Ok(i) => out.indicators.push(i),
            Err((kind, why)) => out.problem(format!("{location}:{}", n + 1), kind, why),
        }
    }
}

type Row<'a> = dyn Fn(&str) -> Option<&'a str> + 'a;
type Result1 = Result<Indicator, (ProblemKind, String)>;

fn abuse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    let s = s?.trim().trim_end_matches(" UTC");
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

fn base(id: String, pattern: String, condition: Condition, source: &Arc<Source>) -> Indicator {
    Indicator {
        id: id.into(),
        name: None,
        pattern: pattern.into(),
        condition,
        source: source.clone(),
        tlp: None,
        valid_from: None,
        valid_until: None,
        confidence: None,
        tags: Vec::new(),
        description: None,
    }
}

fn threatfox<'a>(get: &Row<'a>, source: &Arc<Source>) -> Result1 {
    let value = get("ioc_value").ok_or((ProblemKind::Invalid, "no ioc_value".to_string()))?;
    let ty = get("ioc_type").unwrap_or("");
    let invalid = || {
        (
            ProblemKind::Invalid,
            format!("{ty} '{}' is not valid", normalize::cut(value, 80)),
        )
    };
    let test = match ty {
        "ip:port" => {
            let host = value.rsplit_once(':').map(|x| x.0).unwrap_or(value);
            Test::Ip(normalize::ip_net(host.trim_matches(['[', ']'])).ok_or_else(invalid)?)
        }
        "domain" => Test::Domain(
            normalize::domain(value).ok_or_else(invalid)?.into(),
            Subdomains::Included,
        ),
        "url" => Test::Url(normalize::url(value).ok_or_else(invalid)?.into()),
        "md5_hash" | "sha1_hash" | "sha256_hash" => {
            let (algo, h) = normalize::hash(value).ok_or_else(invalid)?;
            Test::Hash(algo, h.into())
        }
        other => {
            return Err((
                ProblemKind::Unsupported,
                format!("ioc_type {other}: no event field carries it"),
            ))
        }
    };
    let mut i = base(
        format!("threatfox:{}", get("ioc_id").unwrap_or(value)),
        value.to_string(),
        Condition::single(test),
        source,
    );
    i.name = get("malware_printable")
        .map(|m| format!("{m} ({})", get("threat_type").unwrap_or("ioc")).into());
    i.tlp = Some(Tlp::Clear);
    i.valid_from = abuse_time(get("first_seen_utc"));
    i.confidence = get("confidence_level")
        .and_then(|c| c.trim().parse::<u8>().ok())
        .map(|c| c.min(100));
    if let Some(m) = get("fk_malware") {
        i.tags
            .push(format!("malware.{}", m.to_ascii_lowercase()).into());
    }
    i.description = get("reference").map(Into::into);
    Ok(i)
}

fn urlhaus<'a>(get: &Row<'a>, source: &Arc<Source>) -> Result1 {
    let value = get("url").ok_or((ProblemKind::Invalid, "no url".to_string()))?;
    let u = normalize::url(value).ok_or((
        ProblemKind::Invalid,
        format!("url '{}' is not valid", normalize::cut(value, 80)),
    ))?;
    let mut i = base(
        format!("urlhaus:{}", get("id").unwrap_or(value)),
        value.to_string(),
        Condition::single(Test::Url(u.into())),
        source,
    );
    i.name = get("threat").map(|t| {
        format!(
            "{t}{}",
            get("tags").map(|g| format!(" ({g})")).unwrap_or_default()
        )
        .into()
    });
    i.tlp = Some(Tlp::Clear);
    i.valid_from = abuse_time(get("dateadded"));
    i.description = get("urlhaus_link").map(Into::into);
    Ok(i)
}

fn feodo<'a>(get: &Row<'a>, source: &Arc<Source>) -> Result1 {
    let value = get("dst_ip").ok_or((ProblemKind::Invalid, "no dst_ip".to_string()))?;
    let n = normalize::ip_net(value).ok_or((
        ProblemKind::Invalid,
        format!("dst_ip '{}' is not an address", normalize::cut(value, 80)),
    ))?;
    let mut i = base(
        format!("feodo:{value}:{}", get("dst_port").unwrap_or("")),
        value.to_string(),
        Condition::single(Test::Ip(n)),
        source,
    );
    i.name = get("malware").map(|m| format!("{m} C2").into());
    i.tlp = Some(Tlp::Clear);
    i.valid_from = abuse_time(get("first_seen_utc"));
    if let Some(m) = get("malware") {
        i.tags
            .push(format!("malware.{}", m.to_ascii_lowercase()).into());
    }
    Ok(i)
}

/// The test of a value of a named type: Vigie's words (`ip`, `domain`,
/// `url`, `md5`, `sha1`, `sha256`, `imphash`, `file_name`), MISP types and
/// STIX object types.
pub fn typed(ty: &str, value: &str) -> Result<Condition, (ProblemKind, String)> {
    let ty = ty.trim().to_ascii_lowercase();
    let invalid = || {
        (
            ProblemKind::Invalid,
            format!("{ty} '{}' is not valid", normalize::cut(value, 80)),
        )
    };
    let test = match ty.as_str() {
        "ip" | "ipv4" | "ipv6" | "ipv4-addr" | "ipv6-addr" | "address" | "network" | "cidr" => {
            let nets = normalize::ip_nets(value)
                .filter(|v| !v.is_empty())
                .ok_or_else(invalid)?;
            return Ok(Condition::any_of(nets.into_iter().map(Test::Ip)));
        }
        "domain" | "domain-name" | "fqdn" => match value.trim().strip_prefix("*.") {
            Some(rest) => Test::Domain(
                normalize::domain(rest).ok_or_else(invalid)?.into(),
                Subdomains::Only,
            ),
            None => Test::Domain(
                normalize::domain(value).ok_or_else(invalid)?.into(),
                Subdomains::Included,
            ),
        },
        "url" | "uri" => Test::Url(normalize::url(value).ok_or_else(invalid)?.into()),
        "file_name" | "file-name" | "filename" => {
            Test::FileName(normalize::file_name(value).ok_or_else(invalid)?.into())
        }
        "md5" | "sha1" | "sha-1" | "sha256" | "sha-256" | "imphash" | "hash" => {
            let (algo, h) = match ty.as_str() {
                "imphash" => (
                    crate::model::HashAlgo::Imphash,
                    normalize::hash_of(crate::model::HashAlgo::Imphash, value)
                        .ok_or_else(invalid)?,
                ),
                _ => normalize::hash(value).ok_or_else(invalid)?,
            };
            Test::Hash(algo, h.into())
        }
        other => return super::misp::condition(other, value),
    };
    Ok(Condition::single(test))
}

fn value_type<'a>(
    get: &Row<'a>,
    source: &Arc<Source>,
    location: &str,
    sources: &mut HashMap<String, Arc<Source>>,
) -> Result1 {
    let value = get("value").ok_or((ProblemKind::Invalid, "empty value".to_string()))?;
    let ty = get("type").ok_or((ProblemKind::Invalid, "no type".to_string()))?;
    let condition = typed(ty, value)?;
    let src = match get("source") {
        Some(s) => match sources.get(s) {
            Some(known) => known.clone(),
            None => {
                let made = Arc::new(Source {
                    name: s.to_string(),
                    location: location.to_string(),
                    format: Format::Csv,
                });
                sources.insert(s.to_string(), made.clone());
                made
            }
        },
        None => source.clone(),
    };
    let mut i = base(
        get("id")
            .map(str::to_string)
            .unwrap_or_else(|| crate::ids::ioc_id(&src.name, &format!("{ty}:{value}"))),
        value.to_string(),
        condition,
        &src,
    );
    i.tlp = get("tlp").and_then(Tlp::parse);
    i.valid_from = abuse_time(get("valid_from").or_else(|| get("first_seen")));
    i.valid_until = abuse_time(get("valid_until"));
    i.confidence = get("confidence")
        .and_then(|c| c.trim().parse::<u8>().ok())
        .map(|c| c.min(100));
    i.name = get("comment").or_else(|| get("name")).map(Into::into);
    i.description = get("description").map(Into::into);
    Ok(i)
}

/// One line of a plain list: its kind told by its form.
fn list_line(line: &str, source: &Arc<Source>) -> Result1 {
    // FortiGate hash lists: `<hash> [description]`.
    let (value, rest) = match line.split_once(char::is_whitespace) {
        Some((v, r)) => (v, r.trim()),
        None => (line, ""),
    };
    let condition = if let Some(nets) = normalize::ip_nets(value) {
        Condition::any_of(nets.into_iter().map(Test::Ip))
    } else if let Some((algo, h)) = normalize::hash(value) {
        Condition::single(Test::Hash(algo, h.into()))
    } else if value.contains("://") {
        Condition::single(Test::Url(
            normalize::url(value)
                .ok_or((
                    ProblemKind::Invalid,
                    format!("'{}' is not a valid URL", normalize::cut(value, 80)),
                ))?
                .into(),
        ))
    } else if let Some(d) = value.strip_prefix("*.").and_then(normalize::domain) {
        Condition::single(Test::Domain(d.into(), Subdomains::Only))
    } else if let Some(d) = normalize::domain(value).filter(|d| normalize::looks_like_domain(d)) {
        Condition::single(Test::Domain(d.into(), Subdomains::Included))
    } else {
        return Err((
            ProblemKind::Invalid,
            format!(
                "'{}' is not an address, network, domain, URL or digest",
                normalize::cut(line, 80)
            ),
        ));
    };
    let mut i = base(
        crate::ids::ioc_id(&source.name, value),
        value.to_string(),
        condition,
        source,
    );
    if !rest.is_empty() {
        i.name = Some(normalize::cut(rest, 200).into());
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_abuse_ch_lines() {
        assert_eq!(
            split_line(
                r#""2026-09-01 10:00:00", "1", "203.0.113.10:443", "ip:port", "botnet_cc", "win.x", "a,b", "X", "", "75", "", "elf,Mozi", "0", "r""#
            ),
            [
                "2026-09-01 10:00:00",
                "1",
                "203.0.113.10:443",
                "ip:port",
                "botnet_cc",
                "win.x",
                "a,b",
                "X",
                "",
                "75",
                "",
                "elf,Mozi",
                "0",
                "r"
            ]
        );
        assert_eq!(split_line("a,b,,c"), ["a", "b", "", "c"]);
        assert_eq!(split_line(r#""say ""hi""",x"#), [r#"say "hi""#, "x"]);
        assert_eq!(split_line(r#""a","""#), ["a", ""]);
        // Unterminated quote: the rest of the line, commas included.
        assert_eq!(split_line(r#"x, "a,b"#), ["x", "a,b"]);
        // Text after a closing quote is kept, its spaces dropped.
        assert_eq!(split_line(r#""a" b c ,d"#), ["abc", "d"]);
        assert_eq!(split_line(""), [""]);
        assert_eq!(split_line(" , "), ["", ""]);
        assert_eq!(split_line(r#""é""è",ü"#), [r#"é"è"#, "ü"]);
        let mut row = Vec::new();
        split_fields(r#""plain", x ,"d""q""#, &mut row);
        assert!(matches!(row[0], Cow::Borrowed("plain")));
        assert!(matches!(row[1], Cow::Borrowed("x")));
        assert!(matches!(&row[2], Cow::Owned(s) if s == r#"d"q"#));
    }

    #[test]
    fn layouts_by_header() {
        assert_eq!(
            layout("# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"),
            Layout::Urlhaus
        );
        assert_eq!(layout("#\n\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n"), Layout::Feodo);
        assert_eq!(
            layout("value,type,tlp\n1.2.3.4,ip,amber\n"),
            Layout::ValueType
        );
        assert_eq!(
            layout("# my list\n203.0.113.45\nevil.example\n"),
            Layout::List
        );
    }
}
