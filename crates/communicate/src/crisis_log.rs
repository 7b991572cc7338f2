//! The crisis log (main courante): every decision, action, communication
//! and piece of information of the crisis, timestamped, with who. The
//! insurer, the CNIL, the investigators and the after-action review all
//! ask for it; in the Pays Fouesnantais' case it was kept on paper.
//!
//! Append-only by construction ([`CrisisLog::push`] is the only way in;
//! entries are never edited — a correction is a new entry that says so).
//! `vigie serve` will persist it; offline it is a YAML file that
//! `vigie crisis-log add` appends to and `vigie crisis-log export` renders
//! as HTML, Markdown or CSV:
//!
//! ```yaml
//! entries:
//!   - at: 2026-01-17T08:30:00+01:00
//!     kind: information
//!     author: Accueil centre aquatique
//!     text: Caisses bloquées, message de rançon à l'écran.
//!   - at: 2026-01-17T09:10:00+01:00
//!     kind: decision
//!     author: Président
//!     text: Activation de la cellule de crise.
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use vigie_event::Timestamp;
use vigie_lang::{glossary, Lang, Precision, Zone};

use crate::style::{csp, esc};
use crate::FileError;

/// Kind of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// A decision of the crisis cell.
    Decision,
    /// Something done (isolation, account disabled, call made).
    Action,
    /// Something said to the outside (residents, press, CNIL, ANSSI, police).
    Communication,
    /// A fact learnt.
    Information,
}

impl LogKind {
    pub fn key(self) -> &'static str {
        match self {
            LogKind::Decision => "decision",
            LogKind::Action => "action",
            LogKind::Communication => "communication",
            LogKind::Information => "information",
        }
    }
    pub fn label(self, lang: Lang) -> &'static str {
        glossary::term(lang, self.key())
    }
}

impl std::str::FromStr for LogKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "decision" => Ok(LogKind::Decision),
            "action" => Ok(LogKind::Action),
            "communication" => Ok(LogKind::Communication),
            "information" => Ok(LogKind::Information),
            _ => Err(format!(
                "unknown entry kind {s:?} (expected decision, action, communication or information)"
            )),
        }
    }
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    pub at: Timestamp,
    pub kind: LogKind,
    pub author: String,
    pub text: String,
    /// References (a draft sent, a ticket, a scope action), free text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
}

/// The crisis log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisLog {
    /// Title (`Main courante — cyberattaque de janvier 2026`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub entries: Vec<LogEntry>,
}

impl CrisisLog {
    /// Reads a YAML (or JSON) log.
    pub fn load(path: &Path) -> Result<CrisisLog, FileError> {
        crate::read_yaml(path)
    }

    /// Adds an entry (the only way to change a log).
    pub fn push(&mut self, e: LogEntry) {
        self.entries.push(e);
    }

    /// Entries by time, ties in recording order.
    pub fn in_order(&self) -> Vec<&LogEntry> {
        let mut v: Vec<&LogEntry> = self.entries.iter().collect();
        v.sort_by_key(|e| e.at);
        v
    }

    /// Entries without author or text (a log must say who).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if e.author.trim().is_empty() {
                out.push(format!("entry {}: author is empty", i + 1));
            }
            if e.text.trim().is_empty() {
                out.push(format!("entry {}: text is empty", i + 1));
            }
        }
        out
    }

    /// YAML, for the file `vigie crisis-log add` appends to.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("plain data serializes")
    }

    fn title(&self, lang: Lang) -> String {
        self.title.clone().unwrap_or_else(|| {
            let t = glossary::term(lang, "crisis_log");
            let mut c = t.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
    }

    /// CSV (UTC ISO 8601 time first, as spreadsheets and Timesketch take it).
    pub fn render_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["time", "kind", "author", "text", "refs"])
            .expect("writing to a Vec cannot fail");
        for e in self.in_order() {
            w.write_record([
                e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    .as_str(),
                e.kind.key(),
                &e.author,
                &e.text,
                &e.refs.join("; "),
            ])
            .expect("writing to a Vec cannot fail");
        }
        String::from_utf8(w.into_inner().expect("flush to a Vec")).expect("UTF-8 in, UTF-8 out")
    }

    /// Markdown table.
    pub fn render_markdown(&self, lang: Lang, zone: Zone) -> String {
        use crate::draft::render::md_escape;
        let mut m = format!(
            "# {}\n\n| {} | {} | {} | {} |\n|---|---|---|---|\n",
            md_escape(&self.title(lang)),
            lang.pick("Date", "Time"),
            lang.pick("Nature", "Kind"),
            lang.pick("Auteur", "Author"),
            lang.pick("Description", "Description"),
        );
        for e in self.in_order() {
            let mut text = md_escape(&e.text);
            if !e.refs.is_empty() {
                text.push_str(&format!(" ({})", md_escape(&e.refs.join("; "))));
            }
            m.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                md_escape(&zone.format(e.at, Precision::Minute)),
                md_escape(e.kind.label(lang)),
                md_escape(&e.author),
                text
            ));
        }
        m
    }

    /// A printable HTML page.
    pub fn render_html(&self, lang: Lang, zone: Zone) -> String {
        const CSS: &str = "body{font:15px/1.5 system-ui,\"DejaVu Sans\",Arial,sans-serif;color:#101828;margin:24px}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d5dd;padding:6px 8px;text-align:left;vertical-align:top}\
thead th{background:#f2f4f7}td.k{white-space:nowrap}@media print{body{margin:0}tr{break-inside:avoid}}";
        let title = self.title(lang);
        let mut h = format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
            lang.code(),
            esc(&csp(CSS)),
            esc(&title),
            esc(&title)
        );
        h.push_str(&format!(
            "<table>\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>\n",
            lang.pick("Date", "Time"),
            lang.pick("Nature", "Kind"),
            lang.pick("Auteur", "Author"),
            lang.pick("Description", "Description"),
        ));
        for e in self.in_order() {
            let mut text = esc(&e.text);
            if !e.refs.is_empty() {
                text.push_str(&format!(" <small>({})</small>", esc(&e.refs.join("; "))));
            }
            h.push_str(&format!(
                "<tr><td class=\"k\"><time datetime=\"{}\">{}</time></td><td class=\"k\">{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&zone.rfc3339(e.at)),
                esc(&zone.format(e.at, Precision::Minute)),
                esc(e.kind.label(lang)),
                esc(&e.author),
                text
            ));
        }
        h.push_str("</tbody>\n</table>\n</main>\n</body>\n</html>\n");
        h
    }
}
