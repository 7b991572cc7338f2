//! `vigie hunt`: offline triage over collected logs.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use vigie_hunt::{HuntConfig, HuntOutcome, Manifest, TimelineFormat};

use crate::progress::Bar;
use crate::RuleArgs;

#[derive(Args, Debug, Clone)]
pub struct HuntArgs {
    /// Log files or directories (searched recursively). Formats are
    /// recognised from content: EVTX, JSON / JSON Lines, syslog, gzip.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Read and parse only, match no rule (the parse-only baseline).
    #[arg(long, conflicts_with_all = ["rules", "no_builtin", "no_sigmahq"])]
    pub no_rules: bool,
    /// Write the detection timeline here (see --format).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Timeline format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: FormatArg,
    /// Write the run manifest here (default: beside the timeline, `<output>.manifest.json`).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Write a self-contained HTML incident report.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Write the scope (entities, incidents, coverage) as JSON.
    #[arg(long, value_name = "FILE.json")]
    pub scope: Option<PathBuf>,
    /// The organisation's assets file (hosts, zones, services, accounts, data stores).
    #[arg(long, value_name = "FILE")]
    pub assets: Option<PathBuf>,
    /// Year of RFC 3164 syslog timestamps (they carry none; default: file modification year).
    #[arg(long, value_name = "YEAR")]
    pub syslog_year: Option<i32>,
    /// No progress bar and no summary: only errors are printed.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
}

impl HuntArgs {
    pub fn config(&self) -> HuntConfig {
        let mut read = vigie_source::ReadOptions::default();
        if self.syslog_year.is_some() {
            read.syslog_year = self.syslog_year;
        }
        HuntConfig {
            inputs: self.paths.clone(),
            rules: if self.no_rules {
                Vec::new()
            } else {
                self.rules.sources()
            },
            load: self.rules.load_options(),
            read,
            scope: !self.no_rules,
            assets: self.assets.clone(),
            // The locale decides until `--lang` is added (HELPERS.md: Lang::resolve).
            lang: vigie_lang::Lang::resolve(None),
        }
    }
}

pub fn run(args: HuntArgs) -> Result<ExitCode> {
    let config = args.config();
    let bar = Bar::new(!args.quiet);
    let outcome = vigie_hunt::run(&config, &bar)?;
    write_outputs(&args, &outcome)?;
    if !args.quiet {
        print!("{}", vigie_hunt::summary::render(&outcome));
        for (what, path) in [
            ("timeline", &args.output),
            ("report", &args.report),
            ("scope", &args.scope),
        ] {
            if let Some(p) = path {
                println!("{what}: {}", p.display());
            }
        }
    }
    let code = if outcome.detections.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    // The process exits right after this: freeing the outcome (compiled
    // rules, detections, per-file reports, scope: ~0.12 s of CPU for
    // SigmaHQ over 8,000 files, one small allocation at a time) is pure
    // waste when the OS takes the memory back at once. ripgrep skips its
    // destructors at exit for the same reason.
    std::mem::forget(outcome);
    Ok(code)
}

/// Writes every output asked for; an unwritable path is an error (exit 2)
/// after the hunt, so nothing read is lost from the other outputs.
pub fn write_outputs(args: &HuntArgs, outcome: &HuntOutcome) -> Result<()> {
    if let Some(path) = &args.output {
        let format = match args.format {
            FormatArg::Csv => TimelineFormat::Csv,
            FormatArg::Jsonl => TimelineFormat::Jsonl,
        };
        let f = create(path)?;
        vigie_hunt::timeline::write(f, format, &outcome.detections)
            .with_context(|| format!("writing timeline {}", path.display()))?;
    }
    let manifest_path = args.manifest.clone().or_else(|| {
        args.output.as_ref().map(|o| {
            let mut s = o.clone().into_os_string();
            s.push(".manifest.json");
            PathBuf::from(s)
        })
    });
    if let Some(path) = manifest_path {
        let manifest = Manifest::new(outcome, std::env::args().collect(), chrono::Utc::now());
        let mut f = create(&path)?;
        serde_json::to_writer_pretty(&mut f, &manifest)
            .map_err(std::io::Error::from)
            .and_then(|()| f.flush())
            .with_context(|| format!("writing manifest {}", path.display()))?;
    }
    if let Some(scope) = &outcome.scope {
        if let Some(path) = &args.scope {
            let mut f = create(path)?;
            serde_json::to_writer_pretty(&mut f, scope)
                .map_err(std::io::Error::from)
                .and_then(|()| f.flush())
                .with_context(|| format!("writing scope {}", path.display()))?;
        }
        if let Some(path) = &args.report {
            write_report(path, outcome, scope)?;
        }
    }
    Ok(())
}

/// A buffered writer: serde_json and the timeline writers issue one small
/// write per token, and unbuffered they cost a system call each (the
/// manifest of 8,000 inputs took 0.3 s of CPU time that way).
fn create(path: &Path) -> Result<std::io::BufWriter<File>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    File::create(path)
        .map(std::io::BufWriter::new)
        .with_context(|| format!("creating {}", path.display()))
}

/// The HTML report, with one row per alert for its timeline and table.
fn write_report(path: &Path, outcome: &HuntOutcome, scope: &vigie_scope::Scope) -> Result<()> {
    let rows: Vec<vigie_report::DetectionRow> = outcome
        .detections
        .iter()
        .map(|d| {
            vigie_report::DetectionRow::from_rule(
                &d.rule,
                d.time,
                d.computer.as_deref(),
                d.row().details,
                d.origin.to_string(),
            )
        })
        .collect();
    let opts = vigie_report::Options {
        organisation: outcome.assets.organisation.clone(),
        generated_at: Some(chrono::Utc::now()),
        ..Default::default()
    };
    vigie_report::write_html_with(path, scope, &rows, &opts)
        .with_context(|| format!("writing report {}", path.display()))
}
