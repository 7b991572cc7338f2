//! Vigie's *scope* stage: from detections and the raw events around them,
//! what kind of attack this is, how the attacker got in and when, which
//! machines and accounts are compromised, what data left, which critical
//! systems were *not* reached (and how we know), and what to isolate first.
//!
//! ```text
//! for each worker:  Observer::new(assets) ─ observe(event, matches) × N
//! then:             observer.merge(other) … ─ finish(correlations, lang) → Scope
//! ```
//!
//! [`Observer`] is the cheap streaming part (one per thread, merged in any
//! order); [`Observer::finish`] is the reasoning, a pure function of the
//! merged facts. [`Scope`] is a serde JSON contract documented in
//! `docs/scope-schema.md`; [`Assets`] is the organisation's description
//! (`docs/assets.md`).

mod analysis;
pub mod assets;
pub mod attack;
mod exposure;
pub mod model;
pub mod names;
mod observer;
mod patterns;
mod say;
mod text;

pub use assets::AssetsError;
pub use model::*;
pub use observer::{Forgotten, Observer};

use vigie_detect::CorrelationMatch;
pub use vigie_lang::{Lang, Zone};

impl Observer {
    /// Derives the scope from everything observed. `correlations` are the
    /// correlation matches of the run (listed in the detections summary);
    /// every sentence of the scope is written in `lang`.
    pub fn finish(self, correlations: &[CorrelationMatch], lang: Lang) -> Scope {
        self.finish_in(correlations, lang, Zone::Utc)
    }

    /// [`Observer::finish`] with the sentences' times in `zone` (the
    /// run's `--timezone`): the answer then gives the start time the
    /// terminal and the report give. Timestamps stay UTC.
    pub fn finish_in(mut self, correlations: &[CorrelationMatch], lang: Lang, zone: Zone) -> Scope {
        self.settle();
        analysis::build(self, correlations, lang, zone)
    }
}

impl Scope {
    /// Serialises to pretty JSON (the `--scope FILE.json` output).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("scope is plain data")
    }

    /// Reads a scope back from JSON.
    pub fn from_json(s: &str) -> Result<Scope, serde_json::Error> {
        serde_json::from_str(s)
    }

    /// When the attack started, as one time everywhere (terminal, report):
    /// the entry point if it is earlier than the first malicious signal (a
    /// VPN logon is not itself "malicious" to a rule, yet it is where the
    /// attack began).
    pub fn attack_start(&self) -> Option<vigie_event::Timestamp> {
        let first = self.attack_period.map(|p| p.first);
        let entry = self.entry_point.as_ref().and_then(|e| e.time);
        match (first, entry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
