//! `vigie`: the command line.
//!
//! Exit codes (stable, for scripts):
//! * `0` — the command ran and found nothing (hunt: no detection; rules
//!   check: every rule loaded);
//! * `1` — the command ran and found something (hunt: at least one
//!   detection; rules check: at least one rule not loaded);
//! * `2` — usage error or nothing could be done (no readable input, no
//!   loadable rule, unwritable output).

mod demo;
mod draft;
mod hunt;
mod progress;
mod rules;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use vigie_detect::Level;

#[derive(Parser)]
#[command(
    name = "vigie",
    version,
    about = "Security operations for communes: detect, scope and explain an attack from its logs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Hunt through collected logs (EVTX, JSON, syslog, gzip) with Sigma rules.
    Hunt(hunt::HuntArgs),
    /// Rule tools: check a rule set, update SigmaHQ rules.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Generate the reference municipal ransomware scenario and analyse it end to end.
    Demo(demo::DemoArgs),
    /// Crisis cell: the service board and the public status page (static export).
    #[command(subcommand)]
    Status(status::StatusCommand),
    /// Crisis cell: notification drafts (CNIL, letter, NIS2, complaint) and deadlines.
    Draft(draft::DraftArgs),
    /// Crisis cell: the crisis log (main courante).
    #[command(subcommand)]
    CrisisLog(draft::CrisisLogCommand),
}

/// Sigma levels as CLI values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LevelArg {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Level {
        match l {
            LevelArg::Informational => Level::Informational,
            LevelArg::Low => Level::Low,
            LevelArg::Medium => Level::Medium,
            LevelArg::High => Level::High,
            LevelArg::Critical => Level::Critical,
        }
    }
}

/// Rule selection shared by `hunt`, `rules check` and `demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct RuleArgs {
    /// Sigma rule file or directory (repeatable). Added to Vigie's built-in pack.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Do not use Vigie's built-in rule pack.
    #[arg(long)]
    pub no_builtin: bool,
    /// Only rules of this level or above.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub min_level: Option<LevelArg>,
    /// Only rules with this status (repeatable: stable, test, experimental, ...).
    #[arg(long = "status", value_name = "STATUS")]
    pub status: Vec<String>,
}

impl RuleArgs {
    pub fn load_options(&self) -> vigie_detect::LoadOptions {
        vigie_detect::LoadOptions {
            min_level: self.min_level.map(Level::from),
            statuses: if self.status.is_empty() {
                None
            } else {
                Some(self.status.clone())
            },
        }
    }

    pub fn sources(&self) -> Vec<vigie_hunt::RuleSource> {
        let mut v = Vec::new();
        if !self.no_builtin {
            v.push(vigie_hunt::RuleSource::Builtin);
        }
        v.extend(self.rules.iter().cloned().map(vigie_hunt::RuleSource::Path));
        v
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hunt(args) => hunt::run(args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::Status(cmd) => status::run(cmd),
        Command::Draft(args) => draft::run(args),
        Command::CrisisLog(cmd) => draft::run_log(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vigie: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
