//! `vigie search`: the events that match a query, at engine speed.
//!
//! A query is a few terms, all of which must hold:
//!
//! | term | meaning |
//! |---|---|
//! | `field:value` | the field equals the value (case-insensitive) |
//! | `field:*part*`, `field:pre*` | `*` and `?` wildcards |
//! | `field:"two words"` | quoted value (`\"` for a quote inside) |
//! | `field\|contains:x`, `field\|re:…` | any Sigma modifier |
//! | `word`, `"two words"` | the word anywhere in any value |
//! | `-field:value`, `-word` | negation |
//!
//! Why Sigma: the query compiles to a Sigma rule with one selection per
//! term (`t0 and t1 and not n0`), matched by the same engine as `hunt`,
//! with its literal prefilter, so a search is as fast as a hunt with one
//! rule and means exactly what the same test means in a rule: value
//! semantics, wildcards and escapes (`\*` is a literal star), modifiers.
//! Files are read as `hunt` reads them ([`vigie_source::read_file`]).
//!
//! Matching events come out in file order (files sorted by path, events
//! in file order), whatever the threads did, with bounded memory: files
//! are read in groups of about [`GROUP_BYTES`], in parallel, and each
//! group's matches are written before the next group is read.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use vigie_detect::{Engine, LoadOptions, Match};
use vigie_event::{Event, Timestamp};
use vigie_lang::Zone;
use vigie_source::{Batch, FileReport, InputError, ReadOptions};

use crate::evidence::{json_string, write_object};
use crate::pipeline::Progress;

/// Bytes of input read per group (see the module documentation).
pub const GROUP_BYTES: u64 = 64 << 20;

/// A query that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query: {0}")]
pub struct QueryError(pub String);

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// `field:value` (the field may carry Sigma modifiers: `f|contains`).
    Field {
        field: String,
        value: String,
        negated: bool,
    },
    /// A word searched in every value.
    Keyword { value: String, negated: bool },
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
}

/// One word of a query, with the place of its first colon outside
/// quotes (`CommandLine:"a b"` has one, `"a:b"` has none).
struct Word {
    text: String,
    colon: Option<usize>,
    /// Starts with an unquoted `-`.
    negated: bool,
}

/// Splits `q` into words, honouring double quotes (`\"` inside quotes is
/// a quote; other backslashes are kept: Windows paths and Sigma escapes).
fn words(q: &str) -> Result<Vec<Word>, QueryError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut colon = None;
    let mut negated = false;
    let mut in_quotes = false;
    let mut started = false;
    let mut chars = q.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '\\' if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                '"' => in_quotes = false,
                c => cur.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                started = true;
            }
            c if c.is_whitespace() => {
                if started {
                    out.push(Word {
                        text: std::mem::take(&mut cur),
                        colon: colon.take(),
                        negated: std::mem::take(&mut negated),
                    });
                    started = false;
                }
            }
            '-' if !started => {
                negated = true;
                started = true;
            }
            c => {
                if c == ':' && colon.is_none() {
                    colon = Some(cur.len());
                }
                cur.push(c);
                started = true;
            }
        }
    }
    if in_quotes {
        return Err(QueryError("a double quote is not closed".into()));
    }
    if started {
        out.push(Word {
            text: cur,
            colon,
            negated,
        });
    }
    Ok(out)
}

/// Whether `s` is a field name, with optional Sigma modifiers
/// (`Image`, `winlog.event_data.User`, `CommandLine|contains|all`).
fn is_field(s: &str) -> bool {
    !s.is_empty()
        && s.split('|').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@' | '#'))
        })
}

impl Query {
    /// Parses a query (see the module documentation).
    pub fn parse(q: &str) -> Result<Query, QueryError> {
        let mut terms = Vec::new();
        for word in words(q)? {
            let negated = word.negated;
            let field = word
                .colon
                .map(|at| (&word.text[..at], &word.text[at + 1..]))
                .filter(|(f, _)| is_field(f))
                .map(|(f, v)| Term::Field {
                    field: f.to_string(),
                    value: v.to_string(),
                    negated,
                });
            terms.push(match field {
                Some(t) => t,
                None if word.text.is_empty() && negated => Term::Keyword {
                    value: "-".into(),
                    negated: false,
                },
                None => Term::Keyword {
                    value: word.text,
                    negated,
                },
            });
        }
        if terms.is_empty() {
            return Err(QueryError("empty query".into()));
        }
        Ok(Query { terms })
    }

    /// Whether every term is negated: "everything but". Sigma needs a
    /// positive search, so such a query compiles to the rule of its terms
    /// un-negated (`t0 or t1`), and an event matches when the rule does
    /// not.
    pub fn inverted(&self) -> bool {
        self.terms.iter().all(|t| match t {
            Term::Field { negated, .. } | Term::Keyword { negated, .. } => *negated,
        })
    }

    /// The query as a Sigma rule (JSON, which is YAML): one selection per
    /// term, all required.
    pub fn to_sigma(&self) -> String {
        let mut detection = serde_json::Map::new();
        let mut condition = Vec::new();
        for (i, t) in self.terms.iter().enumerate() {
            let (name, negated) = match t {
                Term::Field {
                    field,
                    value,
                    negated,
                } => {
                    let name = format!("t{i}");
                    let mut sel = serde_json::Map::new();
                    sel.insert(field.clone(), serde_json::Value::String(value.clone()));
                    detection.insert(name.clone(), serde_json::Value::Object(sel));
                    (name, *negated)
                }
                Term::Keyword { value, negated } => {
                    let name = format!("t{i}");
                    detection.insert(
                        name.clone(),
                        serde_json::Value::Array(vec![serde_json::Value::String(value.clone())]),
                    );
                    (name, *negated)
                }
            };
            condition.push(if negated && !self.inverted() {
                format!("not {name}")
            } else {
                name
            });
        }
        let join = if self.inverted() { " or " } else { " and " };
        detection.insert(
            "condition".into(),
            serde_json::Value::String(condition.join(join)),
        );
        serde_json::json!({
            "title": "vigie search",
            "logsource": {},
            "detection": detection,
        })
        .to_string()
    }

    /// The compiled query, or why it does not compile (a bad modifier, a
    /// bad regular expression…). See [`Query::inverted`] for how its
    /// matches are read.
    pub fn compile(&self) -> Result<Engine, QueryError> {
        let (set, report) = vigie_detect::load_str(
            &self.to_sigma(),
            Path::new("<query>"),
            &LoadOptions::default(),
        );
        if let Some(f) = report.failures.first() {
            return Err(QueryError(f.reason.clone()));
        }
        let (engine, failures) = Engine::compile(set);
        if let Some(f) = failures.first() {
            return Err(QueryError(f.reason.clone()));
        }
        Ok(engine)
    }
}

/// A time bound of `--from` / `--to`: RFC 3339 (`2026-01-10T02:00:00Z`,
/// `…+01:00`), a date and time without zone (`2026-01-10T02:00`,
/// `2026-01-10 02:00:00`), read in `zone`, or a date (`2026-01-10`): its
/// start for `--from`, its end for `--to` (the whole day is included).
pub fn parse_time_bound(s: &str, zone: Zone, end: bool) -> Result<Timestamp, String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    let t = s.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&chrono::Utc));
    }
    let local = |naive: NaiveDateTime| -> Result<Timestamp, String> {
        let r = match zone {
            Zone::Utc => Some(chrono::Utc.from_utc_datetime(&naive)),
            Zone::Iana(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|d| d.with_timezone(&chrono::Utc)),
        };
        r.ok_or_else(|| format!("{t:?} does not exist in {zone}"))
    };
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return local(n);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let day = if end { d.succ_opt().unwrap_or(d) } else { d };
        let start = local(day.and_hms_opt(0, 0, 0).unwrap_or_default())?;
        return Ok(if end {
            start - chrono::Duration::nanoseconds(1)
        } else {
            start
        });
    }
    Err(format!(
        "{:?} is not a time (expected RFC 3339 such as 2026-01-10T02:00:00Z, a date and time such as 2026-01-10 02:00, or a date such as 2026-01-10)",
        crate::safe::escape(t)
    ))
}

/// What to search.
#[derive(Debug, Clone, Default)]
pub struct SearchConfig {
    pub inputs: Vec<PathBuf>,
    /// `None`: every event (within the other filters).
    pub query: Option<Query>,
    /// Inclusive bounds; events without a time are left out when either
    /// is given.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Host names (the event's computer, or its first label), any case.
    pub hosts: Vec<String>,
    /// Stop after this many matches.
    pub limit: Option<u64>,
    pub read: ReadOptions,
}

/// What a search read and found.
#[derive(Debug, Default)]
pub struct SearchOutcome {
    pub files: Vec<FileReport>,
    pub input_errors: Vec<InputError>,
    pub events: u64,
    pub matched: u64,
    /// The search stopped at `--limit` (later files were not read).
    pub stopped: bool,
}

impl SearchOutcome {
    /// What was not read whole (exit codes 3 and 4).
    pub fn read_problems(&self) -> crate::ReadProblems {
        crate::ReadProblems::of(&self.files, &self.input_errors)
    }
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("no input to read: {0}")]
    NoInput(String),
    #[error("no event could be read: {0}")]
    NothingRead(String),
    #[error("writing the results: {0}")]
    Output(#[from] std::io::Error),
}

/// Whether `event` passes the time and host filters (also the
/// console's search over the stored events: one meaning for both).
pub fn passes(config: &SearchConfig, event: &Event) -> bool {
    if config.from.is_some() || config.to.is_some() {
        let Some(t) = event.timestamp else {
            return false;
        };
        if config.from.is_some_and(|f| t < f) || config.to.is_some_and(|to| t > to) {
            return false;
        }
    }
    if !config.hosts.is_empty() {
        let Some(c) = event.computer.as_deref() else {
            return false;
        };
        let short = c.split('.').next().unwrap_or(c);
        if !config
            .hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(c) || h.eq_ignore_ascii_case(short))
        {
            return false;
        }
    }
    true
}

/// Per file: events read, and the matching events of each batch (by
/// sequence number).
type FileMatches = (u64, Vec<(u64, Vec<Event>)>);

/// Runs the search; `emit` gets each matching event in order and returns
/// `Ok(false)` to stop (a closed pipe, a reached limit).
pub fn search(
    config: &SearchConfig,
    progress: &dyn Progress,
    mut emit: impl FnMut(&Event) -> std::io::Result<bool>,
) -> Result<SearchOutcome, SearchError> {
    let engine = config.query.as_ref().map(Query::compile).transpose()?;
    let inverted = config.query.as_ref().is_some_and(Query::inverted);
    let (inputs, input_errors) = vigie_source::collect_inputs(&config.inputs);
    if inputs.is_empty() {
        let why = crate::pipeline::no_input(&config.inputs, &input_errors);
        return Err(SearchError::NoInput(why));
    }
    let sizes: Vec<u64> = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .collect();
    progress.start(inputs.len(), sizes.iter().sum());
    let mut outcome = SearchOutcome {
        input_errors,
        ..Default::default()
    };
    let mut start = 0;
    'groups: while start < inputs.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < inputs.len() && (end == start || bytes + sizes[end] <= GROUP_BYTES) {
            bytes += sizes[end];
            end += 1;
        }
        let found: Vec<Mutex<FileMatches>> =
            (start..end).map(|_| Mutex::new((0, Vec::new()))).collect();
        let reports: Vec<FileReport> = (start..end)
            .into_par_iter()
            .map(|i| {
                let slot = &found[i - start];
                let on_batch = |batch: Batch| {
                    let mut matches: Vec<Match> = Vec::new();
                    let mut kept = Vec::new();
                    let n = batch.events.len() as u64;
                    for event in batch.events {
                        if !passes(config, &event) {
                            continue;
                        }
                        if let Some(engine) = &engine {
                            matches.clear();
                            engine.evaluate(&event, &mut matches);
                            if matches.is_empty() != inverted {
                                continue;
                            }
                        }
                        kept.push(event);
                    }
                    let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
                    s.0 += n;
                    if !kept.is_empty() {
                        s.1.push((batch.seq, kept));
                    }
                };
                let reports = vigie_source::read_input(&inputs[i], &config.read, &on_batch);
                progress.file_done(sizes[i]);
                reports
            })
            .flatten_iter()
            .collect();
        outcome.files.extend(reports);
        for slot in found {
            let (events, mut batches) = slot.into_inner().unwrap_or_else(|e| e.into_inner());
            outcome.events += events;
            batches.sort_by_key(|(seq, _)| *seq);
            for e in batches.iter().flat_map(|(_, evs)| evs) {
                if config.limit.is_some_and(|l| outcome.matched >= l) {
                    outcome.stopped = true;
                    break 'groups;
                }
                outcome.matched += 1;
                if !emit(e)? {
                    outcome.stopped = true;
                    break 'groups;
                }
            }
        }
        start = end;
    }
    progress.finish();
    if outcome.events == 0 && !outcome.stopped {
        return Err(SearchError::NothingRead(format!(
            "{} file(s) tried, none holds a readable event",
            outcome.files.len()
        )));
    }
    Ok(outcome)
}

/// One event as `search` and `show` print it: the envelope under the
/// timeline's column names, and every field under `event`.
pub fn event_json(e: &Event) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(256 + 64 * e.fields.len());
    s.push_str("{\"timestamp\":");
    match e.timestamp {
        Some(t) => {
            let _ = write!(s, "{}", t.timestamp_micros());
        }
        None => s.push_str("null"),
    }
    s.push_str(",\"datetime\":");
    let dt = e
        .timestamp
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default();
    json_string(&mut s, &dt);
    for (k, v) in [
        ("computer", e.computer.as_deref()),
        ("channel", e.channel.as_deref()),
        ("provider", e.provider.as_deref()),
    ] {
        let _ = write!(s, ",\"{k}\":");
        json_string(&mut s, v.unwrap_or(""));
    }
    for (k, v) in [
        ("event_id", e.event_id.map(u64::from)),
        ("record_id", e.record_id),
    ] {
        let _ = write!(s, ",\"{k}\":");
        match v {
            Some(n) => {
                let _ = write!(s, "{n}");
            }
            None => s.push_str("null"),
        }
    }
    s.push_str(",\"source_file\":");
    json_string(&mut s, &e.origin.source);
    s.push_str(",\"source_locator\":");
    json_string(&mut s, &locator_text(&e.origin.locator));
    s.push_str(",\"event\":");
    write_object(&mut s, &e.fields);
    s.push('}');
    s
}

/// `record=N`, `line=N`, `index=N`, or empty: the timeline's
/// `source_locator`.
pub fn locator_text(l: &vigie_event::Locator) -> String {
    match l {
        vigie_event::Locator::Record(n) => format!("record={n}"),
        vigie_event::Locator::Line(n) => format!("line={n}"),
        vigie_event::Locator::Index(n) => format!("index={n}"),
        vigie_event::Locator::None => String::new(),
        vigie_event::Locator::Position(n) => format!("position={n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(f: &str, v: &str, negated: bool) -> Term {
        Term::Field {
            field: f.into(),
            value: v.into(),
            negated,
        }
    }

    #[test]
    fn queries_parse_into_terms() {
        let q =
            Query::parse(r#"EventID:4624 Image:*\cmd.exe -User:"NT AUTHORITY\SYSTEM" mimikatz"#)
                .unwrap();
        assert_eq!(
            q.terms,
            vec![
                field("EventID", "4624", false),
                field("Image", r"*\cmd.exe", false),
                field("User", r"NT AUTHORITY\SYSTEM", true),
                Term::Keyword {
                    value: "mimikatz".into(),
                    negated: false
                },
            ]
        );
        let q = Query::parse(r#"CommandLine|contains:"net user" "a:b" -x "-enc""#).unwrap();
        assert_eq!(q.terms[0], field("CommandLine|contains", "net user", false));
        assert_eq!(
            q.terms[1],
            Term::Keyword {
                value: "a:b".into(),
                negated: false
            }
        );
        assert_eq!(
            q.terms[2],
            Term::Keyword {
                value: "x".into(),
                negated: true
            }
        );
        assert_eq!(
            q.terms[3],
            Term::Keyword {
                value: "-enc".into(),
                negated: false
            },
            "a quoted dash is no negation"
        );
        // Only negations: everything but.
        let q = Query::parse("-EventID:4624 -x").unwrap();
        assert!(q.inverted() && !Query::parse("a -b").unwrap().inverted());
        assert!(q.to_sigma().contains("\"t0 or t1\""), "{}", q.to_sigma());
        assert!(Query::parse("  ").is_err());
        assert!(Query::parse("\"open").is_err());
        // `\"` inside quotes is a quote.
        let q = Query::parse(r#"CommandLine:"say \"hi\"""#).unwrap();
        assert_eq!(q.terms[0], field("CommandLine", "say \"hi\"", false));
    }

    #[test]
    fn queries_compile_or_say_why() {
        assert!(Query::parse("Image:*x EventID:1 -User:y word")
            .unwrap()
            .compile()
            .is_ok());
        let e = Query::parse("Image|nosuch:x")
            .unwrap()
            .compile()
            .err()
            .unwrap();
        assert!(e.to_string().contains("nosuch"), "{e}");
    }

    #[test]
    fn time_bounds() {
        let paris: Zone = "Europe/Paris".parse().unwrap();
        let t = |s: &str, z, end| parse_time_bound(s, z, end).unwrap().to_rfc3339();
        assert_eq!(
            t("2026-01-10T02:00:00Z", Zone::Utc, false),
            "2026-01-10T02:00:00+00:00"
        );
        assert_eq!(
            t("2026-01-10T02:00:00+01:00", paris, false),
            "2026-01-10T01:00:00+00:00"
        );
        assert_eq!(
            t("2026-01-10 02:00", paris, false),
            "2026-01-10T01:00:00+00:00"
        );
        assert_eq!(
            t("2026-01-10", Zone::Utc, false),
            "2026-01-10T00:00:00+00:00"
        );
        assert_eq!(
            t("2026-01-10", Zone::Utc, true),
            "2026-01-10T23:59:59.999999999+00:00"
        );
        assert!(parse_time_bound("yesterday", Zone::Utc, false).is_err());
    }
}
