//! The verdict the banner shows: attack, suspicious, nothing found with
//! gaps, nothing found — and, when nothing was found, what was not
//! analysed.
//!
//! Why here and not only in the scope: the report must never show a green
//! "no sign of attack" that the coverage does not support, whatever the
//! scope's producer. When the scope carries its own `assessment` (the
//! scope stage's verdict, a later schema), [`Assessment::parse`] reads it
//! and the scope's word wins when it is *more* severe; the checks below
//! still stop a green banner over known gaps.

use vigie_scope::{Compromise, Scope, ZoneReach};

use crate::text::Voice;
use crate::tone::Tone;
use vigie_lang::tr;

/// What a run concluded, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Assessment {
    /// Compromised machines or accounts, on strong evidence.
    Attack,
    /// Weak signals only: suspected entities or medium+ detections.
    Suspicious,
    /// Nothing found, but part of what should have been analysed was not
    /// (no event read, logs cleared or missing, zones unknown).
    NothingFoundWithGaps,
    /// Nothing found, and the logs cover what the scope knows of.
    NothingFound,
}

impl Assessment {
    /// The snake_case name the scope JSON uses (`nothing_found_with_gaps`),
    /// also the glossary key.
    pub fn key(self) -> &'static str {
        match self {
            Assessment::Attack => "attack",
            Assessment::Suspicious => "suspicious",
            Assessment::NothingFoundWithGaps => "nothing_found_with_gaps",
            Assessment::NothingFound => "nothing_found",
        }
    }

    /// Reads the scope's `assessment` value.
    pub fn parse(s: &str) -> Option<Assessment> {
        [
            Assessment::Attack,
            Assessment::Suspicious,
            Assessment::NothingFoundWithGaps,
            Assessment::NothingFound,
        ]
        .into_iter()
        .find(|a| a.key() == s)
    }

    /// The banner's colour: green only for [`Assessment::NothingFound`].
    pub fn tone(self) -> Tone {
        match self {
            Assessment::Attack => Tone::Red,
            Assessment::Suspicious => Tone::Amber,
            Assessment::NothingFoundWithGaps => Tone::Grey,
            Assessment::NothingFound => Tone::Green,
        }
    }
}

/// The verdict and, for the reader, what was not analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub assessment: Assessment,
    /// Nothing at all was read: the banner says "nothing could be analysed".
    pub nothing_read: bool,
    /// Sentences in the report's language (and the scope's caveats, in the
    /// scope's).
    pub not_analysed: Vec<String>,
}

impl Verdict {
    /// The banner's words.
    pub fn headline<'a>(&self, t: &'a Voice) -> &'a str {
        match self.assessment {
            Assessment::Attack => t.v_confirmed,
            Assessment::Suspicious => t.v_suspected,
            Assessment::NothingFoundWithGaps if self.nothing_read => t.v_nothing_read,
            Assessment::NothingFoundWithGaps => t.v_gaps,
            Assessment::NothingFound => t.v_clear,
        }
    }
}

/// How many names a "not analysed" sentence lists before "and N more".
const NAMES: usize = 6;

fn names(t: &Voice, v: &[&str]) -> String {
    let mut s = v.iter().take(NAMES).copied().collect::<Vec<_>>().join(", ");
    if v.len() > NAMES {
        s.push_str(&tr!(
            t.lang,
            " et {} de plus",
            " and {} more",
            t.number((v.len() - NAMES) as u64)
        ));
    }
    s
}

/// The verdict for `scope`, with the scope's own `assessment` if it has
/// one (`declared`).
pub fn assess(scope: &Scope, declared: Option<Assessment>, t: &Voice) -> Verdict {
    let any = |c: Compromise| {
        scope.hosts.iter().any(|h| h.compromised == c)
            || scope.accounts.iter().any(|a| a.compromised == c)
    };
    let found = if any(Compromise::Yes) {
        Some(Assessment::Attack)
    } else if any(Compromise::Suspected) || scope.detections.signals > 0 {
        Some(Assessment::Suspicious)
    } else {
        None
    };

    let mut not_analysed = Vec::new();
    let events: u64 = scope.coverage.channels.iter().map(|c| c.events).sum();
    let nothing_read = scope.observed.is_none() && events == 0;
    if nothing_read {
        not_analysed.push(tr!(
            t.lang,
            "Aucun événement n'a été lu : rien ne peut être affirmé.",
            "No event was read: nothing can be said."
        ));
    }
    let silent: Vec<&str> = scope
        .hosts
        .iter()
        .filter(|h| h.events == 0)
        .map(|h| h.name.as_str())
        .collect();
    if !silent.is_empty() && !nothing_read {
        not_analysed.push(tr!(
            t.lang,
            "{n} dans les journaux sans en fournir aucun : {list}.",
            "{n} in the logs without sending any: {list}.",
            n = t.lang.count(
                silent.len() as u64,
                t.lang.pick("machine nommée", "machine named"),
                t.lang.pick("machines nommées", "machines named")
            ),
            list = names(t, &silent)
        ));
    }
    let unknown: Vec<&str> = scope
        .zones
        .iter()
        .filter(|z| z.status == ZoneReach::Unknown)
        .map(|z| z.zone.as_str())
        .collect();
    if !unknown.is_empty() {
        not_analysed.push(tr!(
            t.lang,
            "Zones dont l'état ne peut pas être établi (journaux insuffisants) : {}.",
            "Zones whose state cannot be established (not enough logs): {}.",
            names(t, &unknown)
        ));
    }
    let cleared = scope
        .coverage
        .channels
        .iter()
        .filter(|c| !c.cleared.is_empty())
        .count();
    let gaps = scope
        .coverage
        .channels
        .iter()
        .filter(|c| !c.record_gaps.is_empty())
        .count();
    if cleared + gaps > 0 {
        not_analysed.push(tr!(
            t.lang,
            "Journaux incomplets : {c} effacé(s), {g} avec des enregistrements manquants.",
            "Incomplete logs: {c} cleared, {g} with missing records.",
            c = t.number(cleared as u64),
            g = t.number(gaps as u64)
        ));
    }
    not_analysed.extend(scope.caveats.iter().cloned());

    let derived = found.unwrap_or(if not_analysed.is_empty() {
        Assessment::NothingFound
    } else {
        Assessment::NothingFoundWithGaps
    });
    // The worse of the two: a scope may know of gaps the report cannot
    // see, never the reverse.
    let assessment = declared.map_or(derived, |d| d.min(derived));
    Verdict {
        assessment,
        nothing_read,
        not_analysed,
    }
}
