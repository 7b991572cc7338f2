//! Random text built from the tokens the readers look for: no panic,
//! every event counted.

use vigie_source::{read_bytes, ReadOptions};

const PIECES: &[&str] = &[
    "<13>",
    "<191>",
    "<999>",
    "1 ",
    "Jan  9 ",
    "Dec 31 ",
    "02:10:03",
    " ",
    "  ",
    "é",
    "€",
    "😀",
    "date=",
    "time=",
    "tz=\"+0100\"",
    "eventtime=",
    "devname=\"",
    "logid=",
    "\"",
    "\\",
    "\\\"",
    "=",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "\n",
    "\r\n",
    "\u{feff}",
    "-",
    "2026-01-09T02:10:03Z",
    "2026-01-09 ",
    "host",
    "app[12]:",
    "{\"Event\":{\"System\":",
    "\"EventID\":",
    "4624",
    "null",
    "[x@1 a=\"b\"]",
    "\0",
];

#[test]
fn random_text_never_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let mut text = String::new();
        // Start like each format now and then, so every reader is hit.
        match round % 6 {
            4 => text.push_str("<Event>"),
            0 => text.push_str("<13>"),
            1 => text.push('{'),
            2 => text.push('['),
            3 => text.push_str("date="),
            _ => {}
        }
        for _ in 0..(rnd() % 60) {
            text.push_str(PIECES[(rnd() as usize) % PIECES.len()]);
        }
        let (events, report) = read_bytes("r", text.as_bytes(), &ReadOptions::default());
        assert_eq!(events.len() as u64, report.records_read, "{text:?}");
        // Truncations of the same text (cut inside characters too).
        let b = text.as_bytes();
        let cut = (rnd() as usize) % (b.len() + 1);
        let _ = read_bytes("r", &b[..cut], &ReadOptions::default());
    }
}
