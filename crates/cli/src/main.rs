//! `vigie`: the command line.
//!
//! Exit codes (stable, for scripts; `vigie hunt --help` and the README say
//! the same):
//!
//! | code | `hunt` | `search` | `show` | `rules check` | `demo` |
//! |---|---|---|---|---|---|
//! | `0` | nothing detected, every input fully read | events matched, every input fully read | the event printed | every rule loaded | ran |
//! | `1` | detections, every input fully read | no event matched, every input fully read | — | some rule not loaded | — |
//! | `2` | usage error or nothing done: bad option value, missing path, a `--rules` path with no Sigma rule, no event read at all, an output refused or unwritable | the same | usage error, event not found, evidence changed since the manifest | usage error | failure |
//! | `3` | nothing detected, but some input not fully read (records skipped, damaged parts, files not read): never "all clear" | events matched, some input not fully read | — | — | — |
//! | `4` | detections, and some input not fully read | no event matched, some input not fully read | — | — | — |
//!
//! `search` follows `grep`: `0` when something matched. Errors and the
//! counts of what was not read always go to standard error, also with
//! `-q`.

mod actions;
mod demo;
mod draft;
mod export;
mod hunt;
mod output;
mod progress;
mod rules;
mod search;
mod serve;
mod show;
mod status;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use vigie_detect::Level;
use vigie_hunt::safe::escape_text;

#[derive(Parser)]
#[command(
    name = "vigie",
    version,
    about = "Security operations for communes: detect, scope and explain an attack from its logs",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The exit codes, as `--help` shows them.
pub const EXIT_CODES: &str = "\
Exit codes (hunt):
  0  nothing detected, every input fully read
  1  detections, every input fully read
  2  usage error or nothing done (bad option value, missing path, no Sigma
     rule in a --rules path, no event read at all, an output refused or
     unwritable)
  3  nothing detected, but some input was not fully read (records skipped,
     damaged parts, files not read): never \"all clear\"
  4  detections, and some input was not fully read
search: 0 matched, 1 nothing matched (3 and 4: the same with input not
fully read), 2 usage error. Errors and skipped counts always go to stderr,
also with -q.";

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Hunt through collected logs (EVTX, JSON, syslog, gzip) with Sigma rules.
    #[command(after_help = EXIT_CODES)]
    Hunt(hunt::HuntArgs),
    /// Print the events that match a query, as JSON Lines.
    Search(search::SearchArgs),
    /// Print the whole event behind a timeline row, re-read from the evidence.
    Show(show::ShowArgs),
    /// Rule tools: check a rule set, update SigmaHQ rules.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Generate the reference municipal ransomware scenario and analyse it end to end.
    Demo(demo::DemoArgs),
    /// Crisis cell: the service board and the public status page (static export).
    #[command(subcommand)]
    Status(status::StatusCommand),
    /// Containment: the plan's actions with their impact, approval and undo, or as PowerShell / FortiGate commands.
    Actions(actions::ActionsArgs),
    /// Crisis cell: notification drafts (CNIL, letter, NIS2, complaint) and deadlines.
    Draft(draft::DraftArgs),
    /// Crisis cell: the crisis log (main courante).
    #[command(subcommand)]
    CrisisLog(draft::CrisisLogCommand),
    /// Share the incident: STIX 2.1, MISP event or feed, ATT&CK Navigator layer, firewall blocklists.
    Export(export::ExportArgs),
    /// Watch continuously: receive logs over HTTP, detect as they arrive, keep the evidence.
    Serve(Box<serve::ServeArgs>),
    /// Access tokens of `vigie serve` (shippers, scripts).
    #[command(subcommand)]
    Token(serve::TokenCommand),
    /// Accounts of the console (local, independent of the Active Directory).
    #[command(subcommand)]
    User(user::UserCommand),
    /// The console's audit log.
    #[command(subcommand)]
    Audit(user::AuditCommand),
    /// Run new or updated rules over the events a running `vigie serve` keeps.
    Retrohunt(serve::RetrohuntArgs),
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
            ..Default::default()
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

/// `--lang` and `--timezone`: how people are spoken to (machine outputs
/// stay in English keys and UTC).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SpeechArgs {
    /// Language of the terminal summary and the report: fr or en (default:
    /// from the locale, LC_ALL / LC_MESSAGES / LANG; French for fr_*).
    #[arg(long, value_name = "fr|en", value_parser = parse_lang)]
    pub lang: Option<vigie_lang::Lang>,
    /// Time zone for times shown to people (IANA name such as
    /// Europe/Paris, or UTC; default UTC). Timelines, scope and manifest
    /// stay in UTC.
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub timezone: Option<vigie_lang::Zone>,
}

impl SpeechArgs {
    pub fn speech(&self) -> vigie_hunt::summary::Speech {
        vigie_hunt::summary::Speech {
            lang: vigie_lang::Lang::resolve(self.lang),
            zone: self.timezone.unwrap_or_default(),
        }
    }
}

/// How logs are read: what they do not say about their own times.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReadArgs {
    /// Year of RFC 3164 syslog timestamps (they carry none; default: file modification year).
    #[arg(long, value_name = "YEAR", value_parser = clap::value_parser!(i32).range(1970..=2200))]
    pub syslog_year: Option<i32>,
    /// Zone of times the logs write without one (NXLog's EventTime, RFC 3164
    /// syslog headers, FortiGate date/time without tz): IANA name such as
    /// Europe/Paris. Default: read as UTC, and the manifest says so. Files
    /// that also carry a UTC reading (Sysmon UtcTime, Logstash @timestamp)
    /// have their offset detected and corrected whatever this says.
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub input_timezone: Option<vigie_lang::Zone>,
    /// Also read FIFOs, devices and sockets given as inputs (at most 256 MiB
    /// each). Off by default: they may block forever or never end.
    #[arg(long)]
    pub allow_special: bool,
}

impl ReadArgs {
    pub fn options(&self) -> vigie_source::ReadOptions {
        vigie_source::ReadOptions {
            syslog_year: self.syslog_year,
            input_zone: self.input_timezone,
            allow_special: self.allow_special,
            ..Default::default()
        }
    }
}

pub fn parse_lang(s: &str) -> Result<vigie_lang::Lang, String> {
    s.parse()
        .map_err(|e: vigie_lang::UnknownLang| e.to_string())
}

pub fn parse_zone(s: &str) -> Result<vigie_lang::Zone, String> {
    s.parse()
        .map_err(|e: vigie_lang::UnknownZone| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // What the server's commands write (the data directory: tokens,
    // accounts, audit, events) is the server's user's alone.
    if matches!(
        cli.command,
        Command::Serve(_) | Command::Token(_) | Command::User(_) | Command::Audit(_)
    ) {
        vigie_serve::private::umask();
    }
    let result: Result<ExitCode, anyhow::Error> = match cli.command {
        Command::Hunt(args) => hunt::run(args),
        Command::Search(args) => search::run(args),
        Command::Show(args) => show::run(args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::Status(cmd) => status::run(cmd),
        Command::Draft(args) => draft::run(args),
        Command::Actions(args) => actions::run(args),
        Command::CrisisLog(cmd) => draft::run_log(cmd),
        Command::Export(args) => export::run(args),
        Command::Serve(args) => serve::run(*args),
        Command::Token(cmd) => serve::run_token(cmd),
        Command::User(cmd) => user::run(cmd),
        Command::Audit(cmd) => user::run_audit(cmd),
        Command::Retrohunt(args) => serve::run_retrohunt(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Messages may quote input (paths, values): escaped, so that a
            // hostile name cannot drive the terminal.
            eprintln!("vigie: error: {}", escape_text(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
