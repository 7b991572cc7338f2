//! `vigie draft`: notification drafts pre-filled from the scope and the
//! assets file, and `vigie crisis-log`: the crisis cell's log.
//!
//! * `vigie draft cnil|letter|nis2-early|nis2-notification|nis2-final|plainte
//!   --scope FILE --assets FILE [--out FILE] [--format html|md]` writes the
//!   draft (stdout without `--out`); `vigie draft deadlines` prints the
//!   deadlines board.
//! * `vigie crisis-log add --log FILE --kind KIND --author NAME TEXT` adds
//!   an entry; `vigie crisis-log export --log FILE [--format html|md|csv]`.
//!
//! Exit codes: `0` written; `2` usage error or an input that cannot be used.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use vigie_communicate::draft::{self, render, DraftOptions, RunManifest};
use vigie_communicate::{CrisisLog, Deadlines, DraftKind, LogEntry, LogKind};
use vigie_lang::{Lang, Zone};

use crate::status::{parse_lang, parse_zone, CrisisInputs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
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
    /// Complaint for the police or gendarmerie.
    Plainte,
    /// The deadlines board only (text).
    Deadlines,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DraftFormat {
    Html,
    Md,
}

#[derive(Args, Debug)]
pub struct DraftArgs {
    /// Which draft.
    #[arg(value_enum)]
    pub kind: KindArg,
    #[command(flatten)]
    pub inputs: CrisisInputs,
    /// Write here (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format (default: from the --out extension, else html).
    #[arg(long, value_enum)]
    pub format: Option<DraftFormat>,
    /// The hunt's run manifest (`TIMELINE.manifest.json`): the evidence
    /// files and their SHA-256, for the complaint.
    #[arg(long, value_name = "FILE.json")]
    pub manifest: Option<PathBuf>,
    /// A complementary (not initial) CNIL notification.
    #[arg(long)]
    pub complementary: bool,
}

/// Writes `text` to `out` (refusing to overwrite an input) or stdout.
fn emit(out: Option<&Path>, inputs: &[&Path], text: &str) -> Result<()> {
    match out {
        Some(p) => {
            for i in inputs {
                if same_file(p, i) {
                    bail!("refusing to overwrite the input {}", i.display());
                }
            }
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
            println!("{}", p.display());
        }
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(text.as_bytes())?;
            so.flush()?;
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

pub fn run(a: DraftArgs) -> Result<ExitCode> {
    let x = a.inputs.load()?;
    let mut inputs: Vec<&Path> = vec![&a.inputs.scope, &a.inputs.assets];
    if let Some(p) = &a.inputs.overrides {
        inputs.push(p);
    }
    if let Some(p) = &a.manifest {
        inputs.push(p);
    }
    let kind = match a.kind {
        KindArg::Cnil => DraftKind::Cnil,
        KindArg::Letter => DraftKind::Letter,
        KindArg::Nis2Early => DraftKind::Nis2Early,
        KindArg::Nis2Notification => DraftKind::Nis2Notification,
        KindArg::Nis2Final => DraftKind::Nis2Final,
        KindArg::Plainte => DraftKind::Plainte,
        KindArg::Deadlines => {
            let d = Deadlines::compute(&x.scope, &x.assets, x.known_at, x.now, x.lang);
            emit(
                a.out.as_deref(),
                &inputs,
                &render::deadlines_text(x.lang, x.zone, &d),
            )?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let manifest = match &a.manifest {
        Some(p) => Some(RunManifest::load(p)?),
        None => None,
    };
    let opts = DraftOptions {
        lang: x.lang,
        zone: x.zone,
        known_at: x.known_at,
        now: x.now,
        manifest,
        complementary: a.complementary,
    };
    let d = draft::build(kind, &x.scope, &x.assets, &x.board, &opts);
    let format = a.format.unwrap_or_else(|| {
        match a
            .out
            .as_deref()
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
        {
            Some("md" | "markdown") => DraftFormat::Md,
            _ => DraftFormat::Html,
        }
    });
    let text = match format {
        DraftFormat::Html => render::render_html(&d),
        DraftFormat::Md => render::render_markdown(&d),
    };
    emit(a.out.as_deref(), &inputs, &text)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
pub enum CrisisLogCommand {
    /// Add an entry to the crisis log (the file is created if missing).
    Add(AddArgs),
    /// Render the crisis log as HTML, Markdown or CSV.
    Export(ExportLogArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogKindArg {
    Decision,
    Action,
    Communication,
    Information,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The crisis log (YAML).
    #[arg(long, value_name = "FILE.yml")]
    pub log: PathBuf,
    #[arg(long, value_enum)]
    pub kind: LogKindArg,
    /// Who decided, did or said it.
    #[arg(long)]
    pub author: String,
    /// When (default: now; RFC 3339 or local time in --timezone).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// A reference (draft sent, ticket…), repeatable.
    #[arg(long = "ref", value_name = "TEXT")]
    pub refs: Vec<String>,
    #[arg(long, value_name = "ZONE", default_value = "Europe/Paris", value_parser = parse_zone)]
    pub timezone: Zone,
    /// What happened.
    #[arg(required = true)]
    pub text: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Html,
    Md,
    Csv,
}

#[derive(Args, Debug)]
pub struct ExportLogArgs {
    #[arg(long, value_name = "FILE.yml")]
    pub log: PathBuf,
    #[arg(long, value_enum, default_value = "html")]
    pub format: LogFormat,
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[arg(long, value_name = "fr|en", value_parser = parse_lang)]
    pub lang: Option<Lang>,
    #[arg(long, value_name = "ZONE", default_value = "Europe/Paris", value_parser = parse_zone)]
    pub timezone: Zone,
}

pub fn run_log(cmd: CrisisLogCommand) -> Result<ExitCode> {
    match cmd {
        CrisisLogCommand::Add(a) => {
            let mut log = if a.log.exists() {
                CrisisLog::load(&a.log)?
            } else {
                CrisisLog::default()
            };
            let at = match &a.at {
                Some(s) => {
                    vigie_communicate::parse_time(s, a.timezone).map_err(anyhow::Error::msg)?
                }
                None => chrono::Utc::now(),
            };
            let text = a.text.join(" ");
            if a.author.trim().is_empty() || text.trim().is_empty() {
                bail!("an entry needs an author and a text");
            }
            log.push(LogEntry {
                at,
                kind: match a.kind {
                    LogKindArg::Decision => LogKind::Decision,
                    LogKindArg::Action => LogKind::Action,
                    LogKindArg::Communication => LogKind::Communication,
                    LogKindArg::Information => LogKind::Information,
                },
                author: a.author,
                text,
                refs: a.refs,
            });
            // Write beside, then rename: a crash never leaves half a log.
            let tmp = a.log.with_extension("yml.tmp");
            std::fs::write(&tmp, log.to_yaml())
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &a.log)
                .with_context(|| format!("cannot replace {}", a.log.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        CrisisLogCommand::Export(a) => {
            let log = CrisisLog::load(&a.log)?;
            let problems = log.problems();
            for p in &problems {
                eprintln!("vigie: warning: {}: {p}", a.log.display());
            }
            let lang = a.lang.unwrap_or(Lang::Fr);
            let text = match a.format {
                LogFormat::Html => log.render_html(lang, a.timezone),
                LogFormat::Md => log.render_markdown(lang, a.timezone),
                LogFormat::Csv => log.render_csv(),
            };
            emit(a.out.as_deref(), &[&a.log], &text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
