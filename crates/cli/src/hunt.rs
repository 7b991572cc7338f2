//! `vigie hunt`: offline triage over collected logs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use vigie_hunt::manifest::OutputManifest;
use vigie_hunt::safe::escape;
use vigie_hunt::summary::Speech;
use vigie_hunt::timeline::{CsvOptions, CsvValues};
use vigie_hunt::{HuntConfig, HuntOutcome, Manifest, TimelineFormat};
use vigie_lang::{glossary, tr, Lang};

use crate::output::{self, DirLocks, Planned};
use crate::progress::Bar;
use crate::{ReadArgs, RuleArgs, SpeechArgs};

#[derive(Args, Debug, Clone)]
pub struct HuntArgs {
    /// Log files or directories (searched recursively). Formats are
    /// recognised from content: EVTX, JSON / JSON Lines, XML, syslog, gzip.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Read and parse only, match no rule (the parse-only baseline).
    #[arg(long, conflicts_with_all = ["rules", "no_builtin", "no_sigmahq", "report", "scope", "navigator"])]
    pub no_rules: bool,
    /// Write the detection timeline here; its format follows the extension
    /// (.csv: CSV; .jsonl, .json, .ndjson: JSON Lines) unless --format says.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Timeline format (default: from the --output extension, else jsonl).
    #[arg(long, value_enum, requires = "output")]
    pub format: Option<FormatArg>,
    /// CSV flavour: standard (`,`), excel (`,` and a UTF-8 byte-order
    /// mark), excel-fr (`;` and a byte-order mark: French Excel opens it in
    /// columns, accents intact).
    #[arg(long, value_enum, value_name = "DIALECT", requires = "output")]
    pub csv_dialect: Option<CsvDialect>,
    /// CSV cells exactly as read: no escaping of control characters, no `'`
    /// before cells a spreadsheet would run as formulas (=, +, -, @). For
    /// tools that escape themselves; never open such a file in a spreadsheet.
    #[arg(long, requires = "output")]
    pub csv_raw: bool,
    /// Write the run manifest here (default: beside the timeline, `<output>.manifest.json`).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Write a self-contained HTML incident report.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Write the scope (entities, incidents, coverage) as JSON.
    #[arg(long, value_name = "FILE.json")]
    pub scope: Option<PathBuf>,
    /// Write an ATT&CK Navigator layer (format 4.5) of the techniques that fired.
    #[arg(long, value_name = "FILE.json")]
    pub navigator: Option<PathBuf>,
    /// The organisation's assets file (hosts, zones, services, accounts, data stores).
    #[arg(long, value_name = "FILE")]
    pub assets: Option<PathBuf>,
    /// Indicators of compromise to match in every event beside the rules
    /// (repeatable): a STIX 2.1 bundle, a MISP event or feed, an abuse.ch
    /// or `value,type` CSV, a plain list — a file, a directory, or an
    /// http(s):// URL. A match is a detection of kind `ioc`.
    #[arg(long, value_name = "FILE|DIR|URL", conflicts_with = "no_rules")]
    pub ioc: Vec<String>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub speech: SpeechArgs,
    /// No progress bar and no summary. Errors and the counts of what could
    /// not be read still go to standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CsvDialect {
    Standard,
    Excel,
    ExcelFr,
}

/// What a run writes, resolved and checked before it starts.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub timeline: Option<(PathBuf, TimelineFormat, CsvOptions)>,
    pub manifest: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub scope: Option<PathBuf>,
    pub navigator: Option<PathBuf>,
}

impl Plan {
    /// Every output, for [`output::check`].
    pub fn planned(&self) -> Vec<Planned> {
        let mut v = Vec::new();
        if let Some((p, _, _)) = &self.timeline {
            v.push(Planned {
                kind: "timeline",
                path: p.clone(),
            });
        }
        for (kind, p) in [
            ("manifest", &self.manifest),
            ("report", &self.report),
            ("scope", &self.scope),
            ("navigator", &self.navigator),
        ] {
            if let Some(p) = p {
                v.push(Planned {
                    kind,
                    path: p.clone(),
                });
            }
        }
        v
    }
}

impl HuntArgs {
    pub fn config(&self, lang: Lang) -> HuntConfig {
        let read = self.read.options();
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
            event_details: self.output.is_some() || self.report.is_some(),
            lang,
            zone: self.speech.timezone.unwrap_or_default(),
            ioc: self.ioc.clone(),
        }
    }

    /// The outputs asked for, with the timeline's format resolved.
    pub fn plan(&self) -> Result<Plan> {
        let timeline = match &self.output {
            None => None,
            Some(path) => {
                let format = match self.format {
                    Some(FormatArg::Csv) => TimelineFormat::Csv,
                    Some(FormatArg::Jsonl) => TimelineFormat::Jsonl,
                    None => TimelineFormat::from_extension(path).unwrap_or(TimelineFormat::Jsonl),
                };
                if format == TimelineFormat::Jsonl && (self.csv_dialect.is_some() || self.csv_raw) {
                    bail!(
                        "--csv-dialect and --csv-raw apply to a CSV timeline, and {} is written as JSON Lines (give it a .csv name or add --format csv)",
                        escape(&path.display().to_string())
                    );
                }
                let mut csv = match self.csv_dialect.unwrap_or(CsvDialect::Standard) {
                    CsvDialect::Standard => CsvOptions::default(),
                    CsvDialect::Excel => CsvOptions {
                        bom: true,
                        ..CsvOptions::default()
                    },
                    CsvDialect::ExcelFr => CsvOptions::excel_fr(),
                };
                if self.csv_raw {
                    csv.values = CsvValues::Raw;
                }
                Some((path.clone(), format, csv))
            }
        };
        let manifest = self.manifest.clone().or_else(|| {
            self.output.as_ref().map(|o| {
                let mut s = o.clone().into_os_string();
                s.push(".manifest.json");
                PathBuf::from(s)
            })
        });
        Ok(Plan {
            timeline,
            manifest,
            report: self.report.clone(),
            scope: self.scope.clone(),
            navigator: self.navigator.clone(),
        })
    }
}

/// Refuses a plan whose outputs could destroy or pollute evidence, or
/// could not be written: before any work.
pub fn check_plan(plan: &Plan, inputs: &[PathBuf]) -> Result<()> {
    let problems = output::check(&plan.planned(), inputs);
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "output refused, nothing was done:\n  {}",
        problems.join("\n  ")
    )
}

pub fn run(args: HuntArgs) -> Result<ExitCode> {
    let plan = args.plan()?;
    check_plan(&plan, &args.paths)?;
    let speech = args.speech.speech();
    let config = args.config(speech.lang);
    let bar = Bar::new(!args.quiet);
    let outcome = vigie_hunt::run(&config, &bar)?;
    // What could not be read goes to standard error whatever -q says.
    eprint!("{}", vigie_hunt::summary::problems(&outcome, speech.lang));
    let written = {
        let planned = plan.planned();
        let paths: Vec<&Path> = planned.iter().map(|p| p.path.as_path()).collect();
        let _locks = DirLocks::acquire(&paths);
        write_outputs(&plan, &outcome, speech)
    };
    if !args.quiet {
        print!("{}", vigie_hunt::summary::render(&outcome, speech));
        print!("{}", written.listing(speech.lang));
    }
    for f in &written.failures {
        eprintln!("vigie: error: {}", vigie_hunt::safe::escape_text(f));
    }
    let code = if !written.failures.is_empty() {
        2
    } else {
        exit_code(&outcome)
    };
    // The process exits right after this: freeing the outcome (compiled
    // rules, detections, per-file reports, scope: ~0.12 s of CPU for
    // SigmaHQ over 8,000 files, one small allocation at a time) is pure
    // waste when the OS takes the memory back at once. ripgrep skips its
    // destructors at exit for the same reason.
    std::mem::forget(outcome);
    Ok(ExitCode::from(code))
}

/// `0` nothing found, `1` detections, `3`/`4` the same with some input
/// not fully read (see `main.rs`).
pub fn exit_code(outcome: &HuntOutcome) -> u8 {
    let found = !outcome.detections.is_empty();
    match (found, outcome.read_problems().any()) {
        (false, false) => 0,
        (true, false) => 1,
        (false, true) => 3,
        (true, true) => 4,
    }
}

/// What was written, and what failed.
#[derive(Debug, Default)]
pub struct Written {
    pub outputs: Vec<OutputManifest>,
    pub manifest: Option<OutputManifest>,
    pub failures: Vec<String>,
}

impl Written {
    /// `timeline: t.jsonl` lines, in the reader's language.
    pub fn listing(&self, lang: Lang) -> String {
        let mut s = String::new();
        for o in self.outputs.iter().chain(&self.manifest) {
            let what = match o.kind.as_str() {
                "timeline" => glossary::term(lang, "timeline").to_string(),
                "report" => lang.pick("rapport", "report").to_string(),
                "scope" => lang.pick("périmètre", "scope").to_string(),
                "navigator" => lang
                    .pick("couche ATT&CK Navigator", "ATT&CK Navigator layer")
                    .to_string(),
                "manifest" => lang.pick("manifeste", "manifest").to_string(),
                k => k.to_string(),
            };
            s.push_str(&tr!(lang, "{} : {}\n", "{}: {}\n", what, escape(&o.path)));
        }
        s
    }
}

/// Writes every output of `plan`, each whole or not at all and each
/// independently of the others, then the manifest with their hashes.
/// The caller holds the directory locks.
pub fn write_outputs(plan: &Plan, outcome: &HuntOutcome, speech: Speech) -> Written {
    fn record(w: &mut Written, kind: &str, path: &Path, r: std::io::Result<OutputManifest>) {
        match r {
            Ok(m) => w.outputs.push(m),
            Err(e) => w
                .failures
                .push(format!("{kind} {} not written: {e}", path.display())),
        }
    }
    let mut w = Written::default();
    if let Some((path, format, csv)) = &plan.timeline {
        let r = output::write_atomic("timeline", path, |out| {
            vigie_hunt::timeline::write_with(out, *format, csv, &outcome.detections)
        });
        record(&mut w, "timeline", path, r);
    }
    if let Some(scope) = &outcome.scope {
        if let Some(path) = &plan.report {
            let r = output::write_atomic("report", path, |out| {
                std::io::Write::write_all(out, render_report(outcome, scope, speech).as_bytes())
            });
            record(&mut w, "report", path, r);
        }
        if let Some(path) = &plan.scope {
            let r = output::write_atomic("scope", path, |out| {
                serde_json::to_writer_pretty(&mut *out, scope)?;
                std::io::Write::write_all(out, b"\n")
            });
            record(&mut w, "scope", path, r);
        }
    }
    if let Some(path) = &plan.navigator {
        let title = match &outcome.assets.organisation {
            Some(org) => format!("Vigie — {org}"),
            None => "Vigie".to_string(),
        };
        // One layer model in Vigie (`vigie_intel::navigator`): the hunt's
        // detections, each counted once under the techniques its rule tags.
        let mut b = vigie_intel::navigator::LayerBuilder::new();
        for d in &outcome.detections {
            b.add(&d.rule.tags, &d.rule.title, d.level(), 1);
        }
        let description = speech.lang.pick(
            "Techniques ATT&CK des règles Sigma déclenchées par la recherche Vigie ; score = nombre de détections.",
            "ATT&CK techniques of the Sigma rules that fired in the Vigie hunt; score = number of detections.",
        );
        let layer = b.build(&title, description, speech.lang);
        let r = output::write_atomic("navigator", path, |out| {
            serde_json::to_writer_pretty(&mut *out, &layer)?;
            std::io::Write::write_all(out, b"\n")
        });
        record(&mut w, "navigator", path, r);
    }
    if let Some(path) = &plan.manifest {
        let mut manifest = Manifest::new(outcome, std::env::args().collect(), chrono::Utc::now());
        manifest.outputs = w.outputs.clone();
        match output::write_atomic("manifest", path, |out| {
            serde_json::to_writer_pretty(&mut *out, &manifest)?;
            std::io::Write::write_all(out, b"\n")
        }) {
            Ok(m) => w.manifest = Some(m),
            Err(e) => w
                .failures
                .push(format!("manifest {} not written: {e}", path.display())),
        }
    }
    w
}

/// The HTML report, with one row per alert for its timeline and table.
fn render_report(outcome: &HuntOutcome, scope: &vigie_scope::Scope, speech: Speech) -> String {
    let rows: Vec<vigie_report::DetectionRow> = outcome
        .detections
        .iter()
        .map(|d| {
            let mut row = vigie_report::DetectionRow::from_rule(
                &d.rule,
                d.time,
                d.computer.as_deref(),
                d.details(),
                d.origin.to_string(),
            );
            row.account = d.account().map(str::to_string);
            row
        })
        .collect();
    let opts = vigie_report::Options {
        organisation: outcome.assets.organisation.clone(),
        generated_at: Some(chrono::Utc::now()),
        lang: speech.lang,
        zone: speech.zone,
        ..Default::default()
    };
    vigie_report::render_html_with(scope, &rows, &opts)
}
