//! Whether a document is one JSON object, checked in one pass over its
//! bytes without building anything.
//!
//! Why not serde's `IgnoredAny`: every `_bulk` and `/api/v1/ingest`
//! document is checked before it is stored, and the worker reads it again
//! anyway; serde's walk (a visitor call per key and value) was about a
//! tenth of the server's CPU while the week was taken. This check accepts
//! only what `serde_json` accepts (RFC 8259: strings with their escapes and
//! no raw control character, numbers in JSON's grammar, nesting at most
//! [`DEPTH`] deep like serde's own limit); whatever it refuses is then
//! given to serde for the error message, so the answer a shipper gets for
//! a bad document is serde's, as before. Like `IgnoredAny`, it does not
//! check that string bytes are UTF-8 (the worker reads such a document
//! with its bytes outside UTF-8 taken as Windows-1252, as `hunt` does).

/// Nesting allowed (objects and arrays open at once): `serde_json` refuses
/// a document at its 128th level; deeper than this, the answer is serde's.
const DEPTH: usize = 127;

/// Whether `b` is exactly one JSON object, with only whitespace around it.
pub(crate) fn is_object(b: &[u8]) -> bool {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return false;
    }
    match value(b, i) {
        Some(end) => {
            i = skip_ws(b, end);
            i == b.len()
        }
        None => false,
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(c) = b.get(i) {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// What a container waits for next.
#[derive(Clone, Copy, PartialEq)]
enum Open {
    Object,
    Array,
}

/// The end of the value starting at `i` (after whitespace), if it is one.
/// Iterative: the nesting is kept in a fixed array, never the stack.
fn value(b: &[u8], mut i: usize) -> Option<usize> {
    let mut open = [Open::Object; DEPTH];
    let mut depth = 0usize;
    loop {
        // A value at `i`.
        i = skip_ws(b, i);
        match *b.get(i)? {
            b'{' | b'[' => {
                if depth == DEPTH {
                    return None;
                }
                let kind = if b[i] == b'{' {
                    Open::Object
                } else {
                    Open::Array
                };
                open[depth] = kind;
                depth += 1;
                i = skip_ws(b, i + 1);
                let close = if kind == Open::Object { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    depth -= 1;
                    i += 1;
                } else if kind == Open::Object {
                    i = key(b, i)?;
                    continue;
                } else {
                    continue;
                }
            }
            b'"' => i = string(b, i)?,
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            b'-' | b'0'..=b'9' => i = number(b, i)?,
            _ => return None,
        }
        // After a value: the container's next member, or its end.
        loop {
            if depth == 0 {
                return Some(i);
            }
            i = skip_ws(b, i);
            let kind = open[depth - 1];
            match (*b.get(i)?, kind) {
                (b',', Open::Object) => {
                    i = key(b, skip_ws(b, i + 1))?;
                    break;
                }
                (b',', Open::Array) => {
                    i += 1;
                    break;
                }
                (b'}', Open::Object) | (b']', Open::Array) => {
                    depth -= 1;
                    i += 1;
                }
                _ => return None,
            }
        }
    }
}

/// A key and its colon at `i`: where its value starts.
fn key(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let i = skip_ws(b, string(b, i)?);
    (b.get(i) == Some(&b':')).then_some(i + 1)
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b.get(i..i + word.len())
        .is_some_and(|w| w == word)
        .then_some(i + word.len())
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` at `i`.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(i)?,
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i)?;
    }
    Some(i)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` (little-endian) that are a quote, a backslash or a
/// control character, each as its high bit. The lowest bit set is exact
/// (a borrow only runs upwards from a true hit), which is all that is
/// read of it.
fn special(w: u64) -> u64 {
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    zero(w ^ (ONES * b'"' as u64)) | zero(w ^ (ONES * b'\\' as u64)) | below_space
}

/// The string at `i` (its opening quote): where it ends, past its quote.
fn string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        // To the next byte that ends the string or needs a look, eight
        // bytes at a time, then byte by byte in the last seven.
        loop {
            if let Some(w) = b.get(i..i + 8) {
                let hits = special(u64::from_le_bytes(w.try_into().expect("8 bytes")));
                if hits == 0 {
                    i += 8;
                    continue;
                }
                i += (hits.trailing_zeros() / 8) as usize;
            } else {
                while b
                    .get(i)
                    .is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20)
                {
                    i += 1;
                }
            }
            break;
        }
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                i += 1;
                match *b.get(i)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 1,
                    b'u' => {
                        let hex = b.get(i + 1..i + 5)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        i += 5;
                    }
                    _ => return None,
                }
            }
            // A control character (the only other byte stopped at).
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_says(b: &[u8]) -> bool {
        b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{')
            && serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
    }

    #[test]
    fn accepts_what_serde_accepts_on_hand_made_cases() {
        let cases: &[&[u8]] = &[
            br#"{}"#,
            br#"  {"a":1}  "#,
            br#"{"a":[1,2,{"b":null}],"c":true,"d":false,"e":"x\"y\\z\u00e9\n"}"#,
            br#"{"n":-0.5e+10,"m":0,"o":1E3,"p":-12.25}"#,
            br#"{"a":01}"#,
            br#"{"a":1.}"#,
            br#"{"a":.5}"#,
            br#"{"a":-}"#,
            br#"{"a":1e}"#,
            br#"{"a":+1}"#,
            br#"{"a":1,}"#,
            br#"{"a" 1}"#,
            br#"{a:1}"#,
            br#"{"a":[1,]}"#,
            br#"{"a":[,1]}"#,
            br#"{"a":tru}"#,
            br#"{"a":"\x"}"#,
            br#"{"a":"\u12G4"}"#,
            br#"{"a":"unterminated}"#,
            br#"{"a":1}{"b":2}"#,
            br#"{"a":1} x"#,
            br#"[1,2]"#,
            br#""text""#,
            b"{\"a\":\"tab\there\"}",
            b"{\"a\":\"\xc3\xa9t\xc3\xa9\"}",
            b"",
            b"   ",
            br#"{"a":{"b":{"c":[[[]]]}}}"#,
            br#"{"a":[]}"#,
            br#"{"a":{}}"#,
            br#"{"":""}"#,
            br#"{"a":1 , "b" : [ 1 , 2 ] }"#,
            b"{\"a\":1}\r\n",
            br#"{"a":"\ud800"}"#,
            br#"{"a":nul}"#,
            br#"{"a":"}"#,
            br#"{"#,
            br#"{"a":1"#,
            br#"{"a":[1"#,
        ];
        for c in cases {
            assert_eq!(
                is_object(c),
                serde_says(c),
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
    }

    /// Up to the limit both accept; past it this check refuses (never on
    /// the stack), and what serde says is the answer (see `json_object`).
    #[test]
    fn nesting_is_bounded_and_never_accepted_where_serde_refuses() {
        for depth in [1, 2, 126, 127, 128, 129, 500, 100_000] {
            let mut doc = b"{\"a\":".to_vec();
            doc.extend(std::iter::repeat_n(b'[', depth - 1));
            doc.push(b'0');
            doc.extend(std::iter::repeat_n(b']', depth - 1));
            doc.push(b'}');
            if depth <= DEPTH {
                assert!(is_object(&doc) && serde_says(&doc), "depth {depth}");
            } else {
                assert!(!is_object(&doc), "depth {depth}");
            }
        }
    }

    /// Every document of a sample, and thousands of mutations of it (a
    /// byte changed, removed or cut at every place), judged the same as
    /// serde judges them.
    #[test]
    fn agrees_with_serde_on_mutated_documents() {
        let samples: &[&[u8]] = &[
            br#"{"@timestamp":"2026-03-02T08:15:00.000Z","winlog":{"event_id":4624,"channel":"Security","computer_name":"DC01.mairie.local","event_data":{"TargetUserName":"j.martin","LogonType":"10","IpAddress":"10.0.0.12"}},"message":"Un compte s\u0027est connect\u00e9.\r\n\tLigne"}"#,
            br#"{"a":[1,-2.5e-3,true,false,null,{"b":"c\\\"d"}],"e":{},"f":[]}"#,
        ];
        let replacements = b"{}[]\",:\\0123456789-+.eEtrufalsn \t\n\x01\x1fAzu";
        let mut n = 0;
        for s in samples {
            assert!(is_object(s) && serde_says(s));
            for at in 0..s.len() {
                for &r in replacements {
                    let mut m = s.to_vec();
                    m[at] = r;
                    assert_eq!(
                        is_object(&m),
                        serde_says(&m),
                        "{:?}",
                        String::from_utf8_lossy(&m)
                    );
                    n += 1;
                }
                let mut m = s.to_vec();
                m.remove(at);
                assert_eq!(
                    is_object(&m),
                    serde_says(&m),
                    "{:?}",
                    String::from_utf8_lossy(&m)
                );
                let cut = &s[..at];
                assert_eq!(
                    is_object(cut),
                    serde_says(cut),
                    "{:?}",
                    String::from_utf8_lossy(cut)
                );
                n += 2;
            }
        }
        assert!(n > 10_000, "{n} documents");
    }
}
