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
    /// Without --dest it refreshes the SigmaHQ snapshot `vigie hunt` uses by
    /// default (in the user's data directory; used when newer than the one
    /// in the binary).
    Update {
        /// Put the whole release here instead (to use with --rules).
        #[arg(long, value_name = "DIR")]
        dest: Option<PathBuf>,
    },
}

pub fn run(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Check { rules, json } => check(&rules, json),
        RulesCommand::Update { dest: Some(dest) } => {
            let report = vigie_rules::update(&dest, &vigie_rules::UpdateOptions::default())?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Update { dest: None } => {
            let dir = vigie_rules::sigmahq::installed_dir().ok_or_else(|| {
                anyhow::anyhow!(
                    "no data directory for this user (set VIGIE_DATA_DIR, or use --dest DIR)"
                )
            })?;
            let report = vigie_rules::update(&dir, &vigie_rules::UpdateOptions::default())?;
            println!(
                "SigmaHQ release {}: {} rule files installed into {}.",
                report.release,
                report.rule_files,
                dir.display()
            );
            println!("{}", vigie_rules::sigmahq::status_in(Some(&dir)));
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
    let (set, mut report, sigmahq) = vigie_hunt::pipeline::load_rules_with_snapshot(&config)
        .map_err(|e| anyhow::anyhow!("--rules {e}"))?;
    let (engine, failures) = Engine::compile_with(set, &config.load.engine_config());
    report.failures.extend(failures);
    if json {
        // The report's fields, plus the snapshot (additive).
        let mut v = serde_json::to_value(&report)?;
        if let (Some(s), Some(map)) = (&sigmahq, v.as_object_mut()) {
            map.insert("sigmahq".into(), serde_json::to_value(s)?);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render(&report, engine.rules().len()));
        if let Some(s) = &sigmahq {
            println!("{s}");
        }
    }
    Ok(if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The rules report as text: counts, then each rule not loaded (with
/// the kinds of problems counted), then the warnings.
pub fn render(r: &LoadReport, compiled: usize) -> String {
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in &r.failures {
        *kinds.entry(f.kind.as_str()).or_default() += 1;
    }
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        let k: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(" ({})", k.join(", "))
    };
    let mut s = format!(
        "{} rule files: {} detection, {} correlation, {} filter rules loaded; {} deselected; {} compiled; {} not loaded{kinds}\n",
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
    for w in &r.warnings {
        let what = w
            .title
            .as_deref()
            .or(w.id.as_deref())
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        s.push_str(&format!(
            "warning: {}#{}{what}: {}\n",
            w.path.display(),
            w.document,
            w.message
        ));
    }
    s
}
