//! Vigie's *communicate* stage for the crisis cell: what the mayor's cell,
//! the residents, the CNIL, ANSSI and the police need, derived from the
//! scope and the assets file.
//!
//! ```text
//! Scope + Assets ─ ServiceBoard::derive ─ apply(OverrideLog) ─┬─ PublicPage::build ─ status_html / atom
//!                                                              └─ (console, later)
//! Scope + Assets + known_at ─ Deadlines::compute
//!                           ─ draft::build(kind) ─ Draft ─ render_html / render_markdown
//! CrisisLog ─ render_html / render_markdown / render_csv
//! ```
//!
//! Everything here is plain data through pure functions (time is an
//! argument, never read from the clock), so `vigie status export` and
//! `vigie draft` offline, and `vigie serve` from its store later, produce
//! the same page and the same drafts.
//!
//! Two guarantees shape the code:
//! * **The public page never shows internal detail.** It is rendered from
//!   [`PublicPage`], a view type with no field that can hold a host, an
//!   account, an address or a rule: it is built from the assets file's
//!   public texts, statuses and templates, and those texts pass through a
//!   [`public::Redactor`] that removes any internal name the scope knows.
//! * **The drafts never claim what the scope does not support.** Every
//!   statement taken from the scope cites its evidence (a footnote with
//!   the file and record); anything uncertain is marked "à confirmer".

pub mod board;
pub mod crisis_log;
pub mod deadlines;
pub mod draft;
pub mod notices;
pub mod overrides;
pub mod public;
pub mod status_page;

mod style;

use std::path::{Path, PathBuf};

pub use board::{BoardEntry, BoardHost, BoardInput, HostState, ServiceBoard, Status};
pub use crisis_log::{CrisisLog, LogEntry, LogKind};
pub use deadlines::{Deadline, DeadlineKind, Deadlines, KnownAt};
pub use draft::{Draft, DraftKind, DraftOptions};
pub use notices::{Notice, Notices, Phase, Template, Update};
pub use overrides::{Override, OverrideLog};
pub use public::PublicPage;

/// A YAML input file (updates, overrides, crisis log, manifest) that could
/// not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// Reads a YAML (or JSON, YAML's subset) file into `T`; an empty file is
/// `T::default()`.
pub(crate) fn read_yaml<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
) -> Result<T, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_yaml(&text, path)
}

/// Parses YAML text (`path` names it in errors).
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned + Default>(
    text: &str,
    path: &Path,
) -> Result<T, FileError> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_yaml_ng::from_str(text).map_err(|e| FileError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Parses a time given by a person: RFC 3339 with its offset
/// (`2026-01-17T08:30:00+01:00`, `…Z`), or a local date and time without
/// offset (`2026-01-17 08:30`, `2026-01-17T08:30:00`) read in `zone`.
/// A local time that does not exist or is ambiguous (daylight-saving
/// change) is an error rather than a guess.
pub fn parse_time(s: &str, zone: vigie_lang::Zone) -> Result<vigie_event::Timestamp, String> {
    use chrono::{NaiveDateTime, TimeZone, Utc};
    let t = s.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .ok_or_else(|| {
        format!("invalid time {s:?} (expected 2026-01-17T08:30:00+01:00 or 2026-01-17 08:30)")
    })?;
    let local = match zone {
        vigie_lang::Zone::Utc => Utc.from_local_datetime(&naive).single(),
        vigie_lang::Zone::Iana(tz) => tz
            .from_local_datetime(&naive)
            .single()
            .map(|d| d.with_timezone(&Utc)),
    };
    local.ok_or_else(|| format!("{s:?} does not exist or is ambiguous in {zone} (give an offset)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_and_without_offset() {
        let paris = vigie_lang::Zone::paris();
        let a = parse_time("2026-01-17T08:30:00+01:00", paris).unwrap();
        let b = parse_time("2026-01-17 08:30", paris).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_rfc3339(), "2026-01-17T07:30:00+00:00");
        // 02:30 on the spring-forward night does not exist in Paris.
        assert!(parse_time("2026-03-29 02:30", paris).is_err());
        assert!(parse_time("hier", paris)
            .unwrap_err()
            .contains("invalid time"));
    }
}
