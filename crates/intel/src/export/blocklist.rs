//! Blocklists a firewall reads, one file per FortiGate external threat
//! feed type (served over HTTPS by `vigie serve`, or copied to any web
//! server the firewall polls):
//!
//! * `addresses.txt` — "IP Address" feed: one address per line;
//! * `domains.txt` — "Domain Name" feed: one name per line;
//! * `hashes.txt` — "Malware Hash" feed: `<sha256> <file name>`;
//! * `blocklist.csv` — every indicator with its type, TLP, first and last
//!   time seen, source and why (for people and other tools; `vigie hunt
//!   --ioc` reads it back).
//!
//! The text lists hold entries only (FortiGate counts any other line as
//! an error); what they are and their TLP is in the CSV. Private ranges
//! and the organisation's own names never reach them (see `Findings`).

use super::{Findings, Observed};
use crate::model::{HashAlgo, Tlp};

/// (file name, content) of the blocklist directory.
pub fn files(f: &Findings, tlp: Tlp, lang: vigie_lang::Lang) -> Vec<(String, String)> {
    let mut addresses = String::new();
    for a in &f.addresses {
        addresses.push_str(&a.value);
        addresses.push('\n');
    }
    let mut domains = String::new();
    for d in &f.domains {
        domains.push_str(&d.value);
        domains.push('\n');
    }
    let mut hashes = String::new();
    for t in &f.tools {
        if let Some(h) = t.hashes.get(&HashAlgo::Sha256) {
            hashes.push_str(&format!("{h} {}\n", t.name.replace(['\r', '\n'], " ")));
        }
    }
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record([
        "value",
        "type",
        "tlp",
        "first_seen",
        "last_seen",
        "source",
        "comment",
    ]);
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    let row = |o: &Observed, ty: &str, w: &mut csv::Writer<Vec<u8>>| {
        let _ = w.write_record([
            o.value.as_str(),
            ty,
            tlp.name(),
            &time(o.first),
            &time(o.last),
            &f.organisation,
            &safe_cell(&format!(
                "{}{}",
                o.role.words(lang),
                if o.reasons.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", o.reasons.join("; "))
                }
            )),
        ]);
    };
    for a in &f.addresses {
        row(a, "ip", &mut w);
    }
    for d in &f.domains {
        row(d, "domain", &mut w);
    }
    for t in &f.tools {
        for (algo, hex) in &t.hashes {
            let _ = w.write_record([
                hex.as_str(),
                algo.misp_type(),
                tlp.name(),
                &time(t.first),
                &time(t.last),
                &f.organisation,
                &safe_cell(&format!("{} {}", super::Role::Tool.words(lang), t.name)),
            ]);
        }
    }
    let csv = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
    vec![
        ("addresses.txt".into(), addresses),
        ("domains.txt".into(), domains),
        ("hashes.txt".into(), hashes),
        ("blocklist.csv".into(), csv),
    ]
}

/// A cell a spreadsheet will not run as a formula (`=`, `+`, `-`, `@`
/// first are quoted with `'`).
fn safe_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}
