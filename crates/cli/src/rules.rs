//! `vigie rules`: check a rule set, update SigmaHQ rules.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use vigie_detect::{Engine, LoadReport};
use vigie_hunt::HuntConfig;

use crate::RuleArgs;

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Load and compile rules, print counts and every rule not loaded with its reason.
    Check {
        #[command(flatten)]
        rules: RuleArgs,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Download the latest SigmaHQ rule release (needs internet access).
    Update {
        /// Where to put the rules.
        #[arg(long, value_name = "DIR", default_value = "sigma-rules")]
        dest: PathBuf,
    },
}

pub fn run(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Check { rules, json } => check(&rules, json),
        RulesCommand::Update { dest } => {
            let report = vigie_rules::update(&dest, &vigie_rules::UpdateOptions::default())?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The same loading and compiling as `hunt`, without reading any log.
fn check(args: &RuleArgs, json: bool) -> Result<ExitCode> {
    let config = HuntConfig {
        inputs: Vec::new(),
        rules: args.sources(),
        load: args.load_options(),
        read: Default::default(),
        scope: false,
        assets: None,
        lang: vigie_lang::Lang::En,
    };
    let (set, mut report) = vigie_hunt::pipeline::load_rules(&config);
    let (engine, failures) = Engine::compile(set);
    report.failures.extend(failures);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, engine.rules().len()));
    }
    Ok(if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The rules report as text: counts, then each rule not loaded.
pub fn render(r: &LoadReport, compiled: usize) -> String {
    let mut s = format!(
        "{} rule files: {} detection, {} correlation, {} filter rules loaded; {} deselected; {} compiled; {} not loaded\n",
        r.files,
        r.detection,
        r.correlation,
        r.filter,
        r.deselected,
        compiled,
        r.failures.len()
    );
    for f in &r.failures {
        let what = f
            .title
            .as_deref()
            .or(f.id.as_deref())
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        s.push_str(&format!(
            "not loaded: {}#{}{what}: {}\n",
            f.path.display(),
            f.document,
            f.reason
        ));
    }
    s
}
