//! Notification drafts, pre-filled from the scope and the assets file:
//! the CNIL notification (GDPR Art. 33) and the letter to the persons
//! concerned (Art. 34), the three NIS2 Art. 23 reports, and the complaint
//! for the police or gendarmerie.
//!
//! A [`Draft`] is a plain document (sections of fields, paragraphs, lists
//! and tables) rendered to HTML (printable to PDF) and Markdown by
//! [`render`]. Its text is built from the scope's *structured* facts in
//! the draft's language (never the scope's prose, which is in the run's
//! language), with two rules:
//!
//! * every statement that comes from the scope cites its evidence: a
//!   footnote with the source file and the record or line;
//! * every statement the scope does not establish with high confidence is
//!   marked **à confirmer**, and every fact only the organisation knows is
//!   a visible **à compléter** — a draft never states more than the
//!   evidence supports.

mod cnil;
mod complaint;
mod facts;
mod nis2;
pub mod render;

use serde::{Deserialize, Serialize};
use vigie_event::{Locator, Timestamp};
use vigie_lang::{Lang, Zone};
use vigie_scope::{Assets, Evidence, Scope};

use crate::deadlines::{Deadlines, KnownAt};
use crate::ServiceBoard;

pub use facts::RunManifest;

/// The drafts Vigie writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DraftKind {
    /// Notification to the CNIL (GDPR Art. 33).
    Cnil,
    /// Letter to the persons concerned (GDPR Art. 34).
    Letter,
    /// NIS2 early warning (24 h).
    Nis2Early,
    /// NIS2 incident notification (72 h).
    Nis2Notification,
    /// NIS2 final report (one month).
    Nis2Final,
    /// Complaint to the police or gendarmerie.
    Plainte,
}

impl DraftKind {
    pub const ALL: [DraftKind; 6] = [
        DraftKind::Cnil,
        DraftKind::Letter,
        DraftKind::Nis2Early,
        DraftKind::Nis2Notification,
        DraftKind::Nis2Final,
        DraftKind::Plainte,
    ];

    /// What the crisis cell calls it.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            DraftKind::Cnil => lang.pick(
                "Notification à la CNIL (RGPD art. 33)",
                "CNIL notification (GDPR Art. 33)",
            ),
            DraftKind::Letter => lang.pick(
                "Lettre aux personnes concernées (RGPD art. 34)",
                "Letter to the persons concerned (GDPR Art. 34)",
            ),
            DraftKind::Nis2Early => {
                lang.pick("NIS2 : alerte précoce (24 h)", "NIS2: early warning (24 h)")
            }
            DraftKind::Nis2Notification => lang.pick(
                "NIS2 : notification d'incident (72 h)",
                "NIS2: incident notification (72 h)",
            ),
            DraftKind::Nis2Final => lang.pick(
                "NIS2 : rapport final (un mois)",
                "NIS2: final report (one month)",
            ),
            DraftKind::Plainte => {
                lang.pick("Plainte contre X", "Complaint against persons unknown")
            }
        }
    }

    /// The kind named `name` (the CLI's).
    pub fn parse(name: &str) -> Option<DraftKind> {
        DraftKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The CLI name (`cnil`, `nis2-early`…).
    pub fn name(self) -> &'static str {
        match self {
            DraftKind::Cnil => "cnil",
            DraftKind::Letter => "letter",
            DraftKind::Nis2Early => "nis2-early",
            DraftKind::Nis2Notification => "nis2-notification",
            DraftKind::Nis2Final => "nis2-final",
            DraftKind::Plainte => "plainte",
        }
    }
}

/// How sure a statement is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    /// Established by the evidence cited, or stated by the assets file.
    #[default]
    Established,
    /// Supported, but not with high confidence: a person must confirm.
    ToConfirm,
    /// Only the organisation knows: to be filled in.
    ToFill,
}

/// A statement: text, how sure it is, and the footnotes citing its evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub text: String,
    pub certainty: Certainty,
    /// Numbers of the draft's footnotes.
    pub notes: Vec<usize>,
}

impl Text {
    pub fn plain(s: impl Into<String>) -> Text {
        Text {
            text: s.into(),
            ..Text::default()
        }
    }
    pub fn confirm(s: impl Into<String>) -> Text {
        Text {
            text: s.into(),
            certainty: Certainty::ToConfirm,
            notes: Vec::new(),
        }
    }
    pub fn fill(s: impl Into<String>) -> Text {
        Text {
            text: s.into(),
            certainty: Certainty::ToFill,
            notes: Vec::new(),
        }
    }
    /// With these footnotes.
    pub fn cite(mut self, notes: Vec<usize>) -> Text {
        self.notes = notes;
        self
    }
    /// Marked "to confirm" when `cond`.
    pub fn confirm_if(mut self, cond: bool) -> Text {
        if cond && self.certainty == Certainty::Established {
            self.certainty = Certainty::ToConfirm;
        }
        self
    }
}

/// A block of a section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "block", rename_all = "snake_case")]
pub enum Block {
    /// A labelled field of a form.
    Field {
        label: String,
        value: Text,
    },
    Para {
        text: Text,
    },
    List {
        items: Vec<Text>,
    },
    /// A labelled list.
    Items {
        label: String,
        items: Vec<Text>,
    },
    Table {
        head: Vec<String>,
        rows: Vec<Vec<Text>>,
    },
}

/// A section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// A footnote: where a statement's evidence is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Footnote {
    pub n: usize,
    pub source: String,
    pub locator: Locator,
    pub time: Option<Timestamp>,
    pub host: Option<String>,
    pub event_id: Option<u32>,
    pub summary: String,
}

/// A draft, ready to render.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub kind: DraftKind,
    pub lang: Lang,
    #[serde(skip)]
    pub zone: Zone,
    pub title: String,
    /// To whom and how it is sent.
    pub addressee: String,
    pub organisation: Option<String>,
    pub generated_at: Timestamp,
    pub deadlines: Deadlines,
    pub sections: Vec<Section>,
    pub footnotes: Vec<Footnote>,
    /// The sources are for the organisation only (the letter to the
    /// persons): they are not printed.
    pub internal_sources: bool,
}

/// What a draft is built from besides the scope and the assets file.
#[derive(Debug, Clone)]
pub struct DraftOptions {
    pub lang: Lang,
    pub zone: Zone,
    pub known_at: KnownAt,
    /// "Now": the time of writing (the deadlines' reference).
    pub now: Timestamp,
    /// The hunt's run manifest (inputs and their hashes), for the complaint.
    pub manifest: Option<RunManifest>,
    /// A complementary (rather than initial) CNIL notification.
    pub complementary: bool,
}

/// Builds a draft of `kind`. `board` is the service board (with the crisis
/// cell's overrides) for the impact on services.
pub fn build(
    kind: DraftKind,
    scope: &Scope,
    assets: &Assets,
    board: &ServiceBoard,
    opts: &DraftOptions,
) -> Draft {
    let mut ctx = Ctx {
        scope,
        assets,
        board,
        opts,
        notes: Notes::default(),
    };
    let (title, addressee, sections, internal_sources) = match kind {
        DraftKind::Cnil => cnil::notification(&mut ctx),
        DraftKind::Letter => cnil::letter(&mut ctx),
        DraftKind::Nis2Early => nis2::early_warning(&mut ctx),
        DraftKind::Nis2Notification => nis2::notification(&mut ctx),
        DraftKind::Nis2Final => nis2::final_report(&mut ctx),
        DraftKind::Plainte => complaint::complaint(&mut ctx),
    };
    Draft {
        kind,
        lang: opts.lang,
        zone: opts.zone,
        title,
        addressee,
        organisation: assets.organisation.clone(),
        generated_at: opts.now,
        deadlines: Deadlines::compute(scope, assets, opts.known_at, opts.now, opts.lang),
        sections,
        footnotes: ctx.notes.list,
        internal_sources,
    }
}

/// The builders' context.
pub(crate) struct Ctx<'a> {
    pub scope: &'a Scope,
    pub assets: &'a Assets,
    pub board: &'a ServiceBoard,
    pub opts: &'a DraftOptions,
    pub notes: Notes,
}

impl Ctx<'_> {
    pub fn lang(&self) -> Lang {
        self.opts.lang
    }
    /// Footnote numbers for these pieces of evidence (at most `max`).
    pub fn cite<'e>(
        &mut self,
        ev: impl IntoIterator<Item = &'e Evidence>,
        max: usize,
    ) -> Vec<usize> {
        self.notes.cite(ev, max)
    }
}

/// The footnotes of a draft, numbered in order of first citation; the same
/// record cited twice gets one number.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    list: Vec<Footnote>,
}

impl Notes {
    fn cite<'e>(&mut self, ev: impl IntoIterator<Item = &'e Evidence>, max: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for e in ev {
            if out.len() >= max {
                break;
            }
            let n = match self
                .list
                .iter()
                .find(|f| f.source == e.source && f.locator == e.locator)
            {
                Some(f) => f.n,
                None => {
                    let n = self.list.len() + 1;
                    self.list.push(Footnote {
                        n,
                        source: e.source.clone(),
                        locator: e.locator.clone(),
                        time: e.time,
                        host: e.host.clone(),
                        event_id: e.event_id,
                        summary: e.summary.clone(),
                    });
                    n
                }
            };
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }
}
