//! Windows event XML: Event Viewer's "Save as XML" (`<Events><Event …>`,
//! often UTF-16), `wevtutil qe … /f:xml` (concatenated `<Event>`s) and
//! `Get-WinEvent … | % ToXml`.
//!
//! Each `<Event>` element is turned into the evtx_dump JSON layout
//! (attributes under `#attributes`, `EventData/Data[@Name]` as keys,
//! unnamed `Data` under `Data`, empty elements as null) and flattened by
//! [`crate::flatten::flatten_windows`], so the fields are those an EVTX
//! copy of the same events gives. One difference: XML carries no types,
//! so numbers are integers only in `System` (`EventID`, `EventRecordID`,
//! `Execution_ProcessID`, …); `EventData` values stay strings (rules and
//! [`vigie_event::Value::as_i64`] compare them as numbers anyway).
//!
//! A damaged `<Event>` is reported with its line and skipped; reading
//! resumes at the next `<Event`.
//!
//! Sysmon for Linux writes the same XML (provider `Linux-Sysmon`, channel
//! `Linux-Sysmon/Operational`), usually inside syslog lines (see
//! [`crate::syslog`]); bare, as `sysmonLogView` input or extracted from
//! syslog, it is read here like any Windows event XML.

use std::sync::Arc;

use memchr::memmem;
use serde_json::{Map, Value as J};
use vigie_event::{Event, Locator, Origin};

use crate::flatten::flatten_windows;
use crate::{Place, Sink, SourceError};

/// Whether text looks like event XML (used by sniffing).
pub(crate) fn looks_like_event_xml(b: &[u8]) -> bool {
    let head = &b[..b.len().min(4096)];
    b.first() == Some(&b'<')
        && !b.get(1).is_some_and(u8::is_ascii_digit)
        && (memmem::find(head, b"<Event ").is_some()
            || memmem::find(head, b"<Event>").is_some()
            || memmem::find(head, b"<Events").is_some())
}

struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    text: String,
}

/// Decodes the five XML entities and character references; anything
/// else that starts with `&` is kept as written.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        // Bytes, not `&str`: the 12th byte may fall inside a character.
        let Some(end) = rest.as_bytes()[..rest.len().min(12)]
            .iter()
            .position(|&c| c == b';')
        else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let ch = match ent {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                n.and_then(char::from_u32)
            }
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where a search for a closing `-->`, `]]>` or `?>` already failed:
/// from there on none exists, so later elements that open one fail at
/// once instead of rescanning the rest of the input (a 2.3 MB comment full
/// of `<Event` starts took 28 s).
#[derive(Clone, Copy)]
struct Unclosed {
    comment: usize,
    cdata: usize,
    pi: usize,
}

impl Default for Unclosed {
    fn default() -> Self {
        Unclosed {
            comment: usize::MAX,
            cdata: usize::MAX,
            pi: usize::MAX,
        }
    }
}

/// `rest.find(close)`, remembering in `memo` (an absolute position) when
/// there is none after `at`.
fn find_close(rest: &str, at: usize, close: &str, memo: &mut usize) -> Option<usize> {
    if at >= *memo {
        return None;
    }
    let found = rest.find(close);
    if found.is_none() {
        *memo = at;
    }
    found
}

/// Parses the element starting at `*pos` (on its `<`).
fn element(s: &str, pos: &mut usize, depth: usize) -> Result<Node, String> {
    element_memo(s, pos, depth, &mut Unclosed::default())
}

fn element_memo(
    s: &str,
    pos: &mut usize,
    depth: usize,
    memo: &mut Unclosed,
) -> Result<Node, String> {
    // Windows event XML is a few levels deep (Event/UserData/x/y); the
    // limit also bounds the work of each retried start in damaged input.
    if depth > 32 {
        return Err("elements nested too deeply".into());
    }
    let b = s.as_bytes();
    let start = *pos + 1;
    let mut i = start;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
        i += 1;
    }
    let name = s[start..i].to_string();
    if name.is_empty() {
        return Err("empty element name".into());
    }
    let mut node = Node {
        name,
        attrs: Vec::new(),
        children: Vec::new(),
        text: String::new(),
    };
    // Attributes.
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return Err(format!("<{}> is not closed", node.name)),
            Some(b'/') => {
                if b.get(i + 1) != Some(&b'>') {
                    return Err(format!("stray '/' in <{}>", node.name));
                }
                *pos = i + 2;
                return Ok(node);
            }
            Some(b'>') => {
                i += 1;
                break;
            }
            _ => {
                let ks = i;
                while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                let key = &s[ks..i];
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if b.get(i) != Some(&b'=') {
                    return Err(format!("attribute {key:?} of <{}> has no value", node.name));
                }
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let q = *b.get(i).ok_or("truncated attribute")?;
                if q != b'"' && q != b'\'' {
                    return Err(format!("attribute {key:?} is not quoted"));
                }
                let vs = i + 1;
                let ve = memchr::memchr(q, &b[vs..]).ok_or("attribute value not closed")? + vs;
                node.attrs.push((key.to_string(), unescape(&s[vs..ve])));
                i = ve + 1;
            }
        }
    }
    // Content.
    loop {
        let lt = memchr::memchr(b'<', &b[i..])
            .ok_or_else(|| format!("<{}> is not closed", node.name))?
            + i;
        node.text.push_str(&unescape(&s[i..lt]));
        let rest = &s[lt..];
        if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').ok_or("end tag not closed")?;
            if r[..end].trim() != node.name {
                return Err(format!("</{}> closes <{}>", r[..end].trim(), node.name));
            }
            *pos = lt + 2 + end + 1;
            return Ok(node);
        } else if rest.starts_with("<!--") {
            let end = find_close(rest, lt, "-->", &mut memo.comment).ok_or("comment not closed")?;
            i = lt + end + 3;
        } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = find_close(r, lt, "]]>", &mut memo.cdata).ok_or("CDATA not closed")?;
            node.text.push_str(&r[..end]);
            i = lt + 9 + end + 3;
        } else if rest.starts_with("<?") {
            let end = find_close(rest, lt, "?>", &mut memo.pi)
                .ok_or("processing instruction not closed")?;
            i = lt + end + 2;
        } else {
            let mut p = lt;
            node.children
                .push(element_memo(s, &mut p, depth + 1, memo)?);
            i = p;
        }
    }
}

/// A node in the evtx_dump JSON layout. `system` turns integer text
/// into numbers (see the module doc).
fn to_json(n: &Node, system: bool) -> J {
    // Leaf text is kept exactly (Windows values can end with spaces);
    // around child elements it is only indentation.
    let text = if n.children.is_empty() {
        n.text.as_str()
    } else {
        n.text.trim()
    };
    if n.attrs.is_empty() && n.children.is_empty() {
        return if text.trim().is_empty() {
            J::Null
        } else {
            scalar(text, system)
        };
    }
    let mut obj = Map::new();
    if !n.attrs.is_empty() {
        let attrs: Map<String, J> = n
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), scalar(v, system)))
            .collect();
        obj.insert("#attributes".into(), J::Object(attrs));
    }
    let in_system = system || n.name == "System";
    let event_data = n.name == "EventData";
    let mut unnamed = Vec::new();
    for c in &n.children {
        if event_data && c.name == "Data" {
            let value = J::String(c.text.clone());
            match c.attrs.iter().find(|(k, _)| k == "Name") {
                Some((_, name)) => {
                    obj.insert(name.clone(), value);
                }
                None => {
                    if unnamed.is_empty() {
                        // Hold the place: fields keep the source order.
                        obj.insert("Data".into(), J::Null);
                    }
                    unnamed.push(value)
                }
            }
            continue;
        }
        let v = to_json(c, in_system);
        match obj.get_mut(&c.name) {
            Some(J::Array(items)) => items.push(v),
            Some(prev) => {
                let first = prev.take();
                *prev = J::Array(vec![first, v]);
            }
            None => {
                obj.insert(c.name.clone(), v);
            }
        }
    }
    match unnamed.len() {
        0 => {}
        1 => {
            obj.insert("Data".into(), unnamed.pop().unwrap_or(J::Null));
        }
        _ => {
            obj.insert("Data".into(), J::Array(unnamed));
        }
    }
    // (`serde_json` is built with `preserve_order`: re-inserting keeps the
    // key where it was first inserted.)
    if !text.trim().is_empty() {
        obj.insert("#text".into(), scalar(text, system));
    }
    J::Object(obj)
}

fn scalar(s: &str, numeric: bool) -> J {
    if numeric && !s.is_empty() && (s == "0" || !s.starts_with('0')) {
        if let Ok(i) = s.parse::<i64>() {
            return J::from(i);
        }
    }
    J::String(s.to_string())
}

/// The first `<Event>` element of `s` in the evtx_dump JSON layout, for
/// events wrapped in other formats (Sysmon for Linux in syslog, Splunk's
/// `_raw`). `None` when `s` holds no `<Event`; an error when the element
/// is damaged (a syslog line cut at the relay's size limit).
pub(crate) fn first_event_json(s: &str) -> Option<Result<Map<String, J>, String>> {
    let start = next_event(s.as_bytes(), 0)?;
    let mut pos = start;
    Some(
        element(s, &mut pos, 0).map(|node| match to_json(&node, false) {
            J::Object(o) => o,
            _ => Map::new(),
        }),
    )
}

/// Finds the next `<Event` start tag at or after `from`.
fn next_event(b: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let i = memmem::find(&b[from..], b"<Event")? + from;
        match b.get(i + 6) {
            Some(c) if c.is_ascii_whitespace() || *c == b'>' || *c == b'/' => return Some(i),
            None => return None,
            _ => from = i + 6,
        }
    }
}

pub(crate) fn read_xml(
    b: &[u8],
    src: &Arc<str>,
    sink: &mut Sink<'_>,
    errors: &mut Vec<SourceError>,
) {
    let text = String::from_utf8_lossy(b);
    let s: &str = &text;
    let bytes = s.as_bytes();
    let mut line = 1u64;
    let mut counted = 0usize;
    let mut at = 0usize;
    let mut memo = Unclosed::default();
    while let Some(start) = next_event(bytes, at) {
        line += memchr::memchr_iter(b'\n', &bytes[counted..start]).count() as u64;
        counted = start;
        let mut pos = start;
        match element_memo(s, &mut pos, 0, &mut memo) {
            Ok(node) => {
                let mut ev = Event::new(Origin {
                    source: src.clone(),
                    locator: Locator::Line(line),
                });
                if let J::Object(obj) = to_json(&node, false) {
                    flatten_windows(&obj, &mut ev);
                }
                sink.push(ev);
                at = pos;
            }
            Err(e) => {
                sink.skipped += 1;
                errors.push(SourceError::new(
                    Place::Line(line),
                    format!("malformed <Event> element: {e}"),
                ));
                at = start + 6;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities() {
        assert_eq!(
            unescape("a &lt;b&gt; &amp; &quot;c&quot; &apos;"),
            "a <b> & \"c\" '"
        );
        assert_eq!(unescape("&#65;&#x42;&#xD800;"), "AB&#xD800;");
        assert_eq!(unescape("R&D &unknown; &"), "R&D &unknown; &");
        // A multi-byte character where the entity search stops.
        assert_eq!(unescape("&aaaaaaaaaaé;"), "&aaaaaaaaaaé;");
    }
}
