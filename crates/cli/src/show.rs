//! `vigie show`: the whole event behind a timeline row.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use vigie_hunt::locate;
use vigie_hunt::safe::escape;

#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  vigie show 'logs/DC01/Security.evtx#record=4242'
  vigie show logs/fw.log line=17 --manifest timeline.jsonl.manifest.json
  vigie show 'collecte.zip!/uploads/auto/C:/Windows/System32/winevt/Logs/Security.evtx#record=42'
The reference is a timeline row's source_file and source_locator (the report
prints them joined: FILE#record=N, FILE:LINE, FILE[INDEX]).")]
pub struct ShowArgs {
    /// The event: FILE#record=N (or #line=N, #index=N), FILE:LINE, FILE[INDEX].
    #[arg(value_name = "FILE#LOCATOR")]
    pub source: String,
    /// The locator, when not joined to FILE (record=N, line=N, index=N).
    #[arg(value_name = "LOCATOR")]
    pub locator: Option<String>,
    /// Check the file against this run manifest first (same SHA-256 as when
    /// the hunt read it); refuse if it changed.
    #[arg(long, value_name = "MANIFEST")]
    pub manifest: Option<PathBuf>,
    /// One line instead of indented JSON.
    #[arg(long)]
    pub compact: bool,
    /// Read the file as the hunt did (same options give the same times).
    #[command(flatten)]
    pub read: crate::ReadArgs,
}

pub fn run(args: ShowArgs) -> Result<ExitCode> {
    let r = locate::parse_reference(&args.source, args.locator.as_deref())
        .map_err(anyhow::Error::msg)?;
    if !r.path.is_file() && locate::archive_of(&r.path).is_none() {
        bail!(
            "{}: no such file (source_file is the path as given to the hunt, relative to where it ran)",
            escape(&r.path.display().to_string())
        );
    }
    let (events, report) = locate::find(&r, &args.read.options());
    if let Some(m) = &args.manifest {
        // For an archive member, `report` is the archive's.
        let sha = locate::verify(&report, m).map_err(anyhow::Error::msg)?;
        eprintln!(
            "vigie: {} matches the manifest (sha256 {sha})",
            escape(&report.path.display().to_string())
        );
    }
    if events.is_empty() {
        let why = report
            .errors
            .first()
            .map(|e| {
                format!(
                    "; reading it said: {}",
                    vigie_hunt::safe::quote(&e.to_string(), 200)
                )
            })
            .unwrap_or_default();
        bail!(
            "no event at {} in {} ({} events read){why}",
            locate_text(&r.locator),
            escape(&r.path.display().to_string()),
            report.records_read
        );
    }
    if events.len() > 1 {
        eprintln!(
            "vigie: {} events carry {} in this file (a damaged or recovered log); all are shown",
            events.len(),
            locate_text(&r.locator)
        );
    }
    for e in &events {
        let line = vigie_hunt::search::event_json(e);
        if args.compact {
            println!("{line}");
        } else {
            let v: serde_json::Value = serde_json::from_str(&line)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn locate_text(l: &vigie_event::Locator) -> String {
    vigie_hunt::search::locator_text(l)
}
