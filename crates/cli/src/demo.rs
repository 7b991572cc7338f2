//! `vigie demo`: the reference scenario, generated and analysed end to end.
//!
//! 1. Generates the community of communes of `docs/scenario.md` (or reuses
//!    the one already in `--dir` when its seed and scale match);
//! 2. hunts through its logs with Vigie's rule pack (plus `--rules`), with
//!    its assets file, exactly as `vigie hunt` would;
//! 3. writes the timeline, the scope and the HTML report, prints where they
//!    are, the short answer, and how the answer compares with the
//!    scenario's ground truth.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use vigie_hunt::safe::{escape, escape_text};
use vigie_lang::{tr, Lang};
use vigie_scenario::{GroundTruth, Scale, ScenarioConfig};
use vigie_scope::{Compromise, Scope};

use crate::hunt::{HuntArgs, Plan};
use crate::output::DirLocks;
use crate::{RuleArgs, SpeechArgs};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to write the scenario and the results.
    #[arg(long, value_name = "DIR", default_value = "vigie-demo")]
    pub dir: PathBuf,
    /// `small` (20 hosts, seconds) or `week` (~200 hosts, the performance case).
    #[arg(long, default_value = "small")]
    pub scale: Scale,
    /// Seed of the scenario (same seed, same files, byte for byte).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Regenerate even when a scenario with the same seed and scale is there.
    #[arg(long)]
    pub regenerate: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub speech: SpeechArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let mut config = ScenarioConfig {
        scale: args.scale,
        ..ScenarioConfig::default()
    };
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    let scenario_dir = args.dir.join("scenario");
    // One demo at a time per directory: a second one waits, then reuses
    // the scenario the first generated (two at once used to read each
    // other's half-written files).
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let _lock = DirLocks::acquire(&[&args.dir.join("timeline.jsonl")]);
    let started = Instant::now();
    let truth = prepare(&config, &scenario_dir, args.regenerate)?;
    let generated_in = started.elapsed();

    let hunt = HuntArgs {
        paths: vec![scenario_dir.join("logs")],
        rules: args.rules.clone(),
        no_rules: false,
        output: Some(args.dir.join("timeline.jsonl")),
        format: None,
        csv_dialect: None,
        csv_raw: false,
        manifest: None,
        report: Some(args.dir.join("report.html")),
        scope: Some(args.dir.join("scope.json")),
        navigator: None,
        assets: Some(scenario_dir.join("assets.yml")),
        ioc: Vec::new(),
        read: Default::default(),
        speech: args.speech.clone(),
        quiet: args.quiet,
    };
    let plan: Plan = hunt.plan()?;
    crate::hunt::check_plan(&plan, &hunt.paths)?;
    let speech = args.speech.speech();
    let bar = crate::progress::Bar::new(!args.quiet);
    let hunted = Instant::now();
    let outcome = vigie_hunt::run(&hunt.config(speech.lang), &bar)?;
    eprint!("{}", vigie_hunt::summary::problems(&outcome, speech.lang));
    let written = crate::hunt::write_outputs(&plan, &outcome, speech);
    let hunt_time = hunted.elapsed();

    let lang = speech.lang;
    let secs = |d: std::time::Duration| {
        let t = format!("{:.1}", d.as_secs_f64());
        lang.pick(format!("{} s", t.replace('.', ",")), format!("{t}s"))
    };
    println!(
        "{}",
        tr!(
            lang,
            "Scénario : {} (échelle {}, graine {}), {} en {}",
            "Scenario: {} ({} scale, seed {}), {} in {}",
            escape(&scenario_dir.display().to_string()),
            truth.scale,
            truth.seed,
            if generated_in.as_millis() < 50 {
                lang.pick("réutilisé", "reused")
            } else {
                lang.pick("généré", "generated")
            },
            secs(generated_in)
        )
    );
    print!("{}", vigie_hunt::summary::render(&outcome, speech));
    println!(
        "{}",
        tr!(lang, "Analysé en {}.", "Analysed in {}.", secs(hunt_time))
    );
    if let Some(scope) = &outcome.scope {
        println!("\n{}", escape_text(&scorecard(scope, &truth, lang)));
    }
    println!();
    for (fr, en, path) in [
        ("Rapport :     ", "Report:   ", args.dir.join("report.html")),
        ("Périmètre :   ", "Scope:    ", args.dir.join("scope.json")),
        (
            "Chronologie : ",
            "Timeline: ",
            args.dir.join("timeline.jsonl"),
        ),
        (
            "Vérité :      ",
            "Truth:    ",
            scenario_dir.join("ground-truth.json"),
        ),
    ] {
        println!(
            "{}{}",
            lang.pick(fr, en),
            escape(&path.display().to_string())
        );
    }
    if !written.failures.is_empty() {
        for f in &written.failures {
            eprintln!("vigie: error: {}", vigie_hunt::safe::escape_text(f));
        }
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Generates the scenario unless the same one is already there.
fn prepare(config: &ScenarioConfig, dir: &Path, regenerate: bool) -> Result<GroundTruth> {
    let truth_path = dir.join("ground-truth.json");
    if !regenerate {
        if let Ok(text) = std::fs::read_to_string(&truth_path) {
            if let Ok(truth) = serde_json::from_str::<GroundTruth>(&text) {
                if truth.seed == config.seed && truth.scale == config.scale.name() {
                    return Ok(truth);
                }
            }
        }
    }
    let generated = vigie_scenario::generate(config, dir)
        .with_context(|| format!("generating the scenario into {}", dir.display()))?;
    Ok(generated.ground_truth)
}

/// How Vigie's answer compares with what really happened.
pub fn scorecard(scope: &Scope, truth: &GroundTruth, lang: Lang) -> String {
    let norm = |s: &str| s.split('.').next().unwrap_or(s).to_ascii_uppercase();
    let found_hosts: BTreeSet<String> = scope
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Yes)
        .map(|h| norm(&h.name))
        .collect();
    let true_hosts: BTreeSet<String> = truth
        .compromised_hosts
        .iter()
        .chain(&truth.gpo_reached_hosts)
        .map(|h| norm(h))
        .collect();
    let found_accounts: BTreeSet<String> = scope
        .accounts
        .iter()
        .filter(|a| a.compromised == Compromise::Yes)
        .map(|a| a.name.to_ascii_lowercase())
        .collect();
    let true_accounts: BTreeSet<String> = truth
        .compromised_accounts
        .iter()
        .map(|a| a.to_ascii_lowercase())
        .collect();
    let pr = |found: &BTreeSet<String>, truth: &BTreeSet<String>| {
        let tp = found.intersection(truth).count() as f64;
        let p = if found.is_empty() {
            0.0
        } else {
            tp / found.len() as f64
        };
        let r = if truth.is_empty() {
            1.0
        } else {
            tp / truth.len() as f64
        };
        tr!(
            lang,
            "précision {:.0} %, rappel {:.0} % ({} trouvés, {} réels)",
            "precision {:.0}%, recall {:.0}% ({} found, {} true)",
            p * 100.0,
            r * 100.0,
            found.len(),
            truth.len()
        )
    };
    let (account, ip) = (&truth.entry_point.account, &truth.entry_point.source_ip);
    let entry = match &scope.entry_point {
        Some(e) => tr!(
            lang,
            "{} (vérité : {} depuis {} par le VPN)",
            "{} (truth: {} from {} via VPN)",
            e.description,
            account,
            ip
        ),
        None => tr!(
            lang,
            "non trouvé (vérité : {} depuis {})",
            "not found (truth: {} from {})",
            account,
            ip
        ),
    };
    tr!(
        lang,
        "Comparaison avec la vérité du scénario :\n  machines compromises : {}\n  comptes compromis :    {}\n  point d'entrée :       {}",
        "Against the ground truth:\n  hosts compromised:    {}\n  accounts compromised: {}\n  entry point:          {}",
        pr(&found_hosts, &true_hosts),
        pr(&found_accounts, &true_accounts),
        entry
    )
}
