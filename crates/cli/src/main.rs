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
    /// Sigma rule file or directory (repeatable). Added to the default rules
    /// (Vigie's pack and the SigmaHQ snapshot); a rule also in the snapshot
    /// is used once, from here.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Do not use Vigie's built-in rule pack (the SigmaHQ snapshot stays:
    /// add --no-sigmahq to use only --rules).
    #[arg(long)]
    pub no_builtin: bool,
    /// Do not use the vetted SigmaHQ snapshot (embedded in the binary or
    /// installed by `vigie rules update`).
    #[arg(long)]
    pub no_sigmahq: bool,
    /// Only rules of this level or above.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub min_level: Option<LevelArg>,
    /// Only rules with this status (repeatable: stable, test, experimental, deprecated, unsupported).
    #[arg(
        long = "status",
        value_name = "STATUS",
        ignore_case = true,
        value_parser = clap::builder::PossibleValuesParser::new(vigie_detect::STATUSES)
    )]
    pub status: Vec<String>,
    /// Values of `%name%` placeholders for rules that use them (YAML: `name: [values]`, or a pySigma pipeline's `vars:`).
    #[arg(long, value_name = "FILE", value_parser = read_placeholders)]
    pub placeholders: Option<vigie_detect::Placeholders>,
}

/// `--placeholders FILE`, read when the command line is: a bad file is a
/// usage error (exit 2) before any work.
fn read_placeholders(path: &str) -> Result<vigie_detect::Placeholders, String> {
    vigie_detect::Placeholders::load(std::path::Path::new(path)).map_err(|e| e.reason)
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
            placeholders: self.placeholders.clone().unwrap_or_default(),
        }
    }

    pub fn sources(&self) -> Vec<vigie_hunt::RuleSource> {
        let mut v = Vec::new();
        if !self.no_builtin {
            v.push(vigie_hunt::RuleSource::Builtin);
        }
        if !self.no_sigmahq {
            v.push(vigie_hunt::RuleSource::SigmaHq);
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
