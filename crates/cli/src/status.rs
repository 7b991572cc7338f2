//! `vigie status`: the crisis cell's service board and the public status
//! page, from a scope file and the assets file.
//!
//! * `vigie status export --scope FILE --assets FILE --out DIR [--lang fr|en]`
//!   writes `DIR/index.html` and `DIR/feed.atom` (French by default), and
//!   the other language under `DIR/en/` (or `DIR/fr/`) for the language
//!   switch. Static files only: copy `DIR` to a host outside the
//!   compromised network.
//! * `vigie status board --scope FILE --assets FILE [--format text|json]`
//!   prints the service board with each status's reason.
//!
//! Exit codes: `0` written; `2` usage error or an input that cannot be
//! used (unreadable scope, invalid assets, overrides or updates naming a
//! service the assets file does not have).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use vigie_communicate::public::{PageInput, PageLinks};
use vigie_communicate::{
    status_page, BoardInput, KnownAt, Notices, OverrideLog, PublicPage, ServiceBoard,
};
use vigie_lang::{Lang, Zone};
use vigie_scope::{Assets, Scope};

#[derive(Subcommand, Debug)]
pub enum StatusCommand {
    /// Write the public status page (index.html + feed.atom) as static files.
    Export(ExportArgs),
    /// Print the service board: each service's status, why, and its hosts.
    Board(BoardArgs),
}

/// What every crisis-cell command reads.
#[derive(Args, Debug, Clone)]
pub struct CrisisInputs {
    /// The scope written by `vigie hunt --scope FILE.json`.
    #[arg(long, value_name = "FILE.json")]
    pub scope: PathBuf,
    /// The organisation's assets file (services, data stores, contacts).
    #[arg(long, value_name = "FILE.yml")]
    pub assets: PathBuf,
    /// The crisis cell's status overrides (YAML; see docs/crisis-cell.md).
    #[arg(long, value_name = "FILE.yml")]
    pub overrides: Option<PathBuf>,
    /// A host already cut from the network by containment (repeatable):
    /// its services count as down.
    #[arg(long = "isolated", value_name = "HOST")]
    pub isolated: Vec<String>,
    /// When the organisation became aware of the incident (RFC 3339, or
    /// local `2026-01-17 08:30` in --timezone). Default: the scope's first
    /// malicious signal, marked "to be confirmed".
    #[arg(long, value_name = "TIME")]
    pub known_at: Option<String>,
    /// Time of writing (default: now). For reproducible output.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Language of what is written (default: French).
    #[arg(long, value_name = "fr|en", value_parser = parse_lang)]
    pub lang: Option<Lang>,
    /// Time zone of the times shown (default: Europe/Paris).
    #[arg(long, value_name = "ZONE", default_value = "Europe/Paris", value_parser = parse_zone)]
    pub timezone: Zone,
}

pub fn parse_lang(s: &str) -> Result<Lang, String> {
    s.parse::<Lang>().map_err(|e| e.to_string())
}

pub fn parse_zone(s: &str) -> Result<Zone, String> {
    s.parse::<Zone>().map_err(|e| e.to_string())
}

/// The inputs, loaded and checked.
pub struct Loaded {
    pub scope: Scope,
    pub assets: Assets,
    pub overrides: OverrideLog,
    pub board: ServiceBoard,
    pub known_at: KnownAt,
    pub now: vigie_event::Timestamp,
    pub lang: Lang,
    pub zone: Zone,
}

fn read_scope(path: &Path) -> Result<Scope> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read scope file {}", path.display()))?;
    Scope::from_json(&text).with_context(|| {
        format!(
            "invalid scope file {} (expected the JSON written by `vigie hunt --scope`)",
            path.display()
        )
    })
}

impl CrisisInputs {
    pub fn load(&self) -> Result<Loaded> {
        let zone = self.timezone;
        let lang = self.lang.unwrap_or(Lang::Fr);
        let scope = read_scope(&self.scope)?;
        let assets = Assets::load(&self.assets)?;
        let now = match &self.now {
            Some(s) => vigie_communicate::parse_time(s, zone).map_err(anyhow::Error::msg)?,
            None => chrono::Utc::now(),
        };
        let explicit = match &self.known_at {
            Some(s) => Some(vigie_communicate::parse_time(s, zone).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let known_at = KnownAt::resolve(explicit, &scope).with_context(|| {
            "the scope has no malicious activity to date the incident from: give --known-at"
        })?;
        let overrides = match &self.overrides {
            Some(p) => OverrideLog::load(p)?,
            None => OverrideLog::default(),
        };
        let isolated: BTreeSet<String> = self.isolated.iter().cloned().collect();
        let mut board = ServiceBoard::derive(
            &scope,
            &assets,
            &BoardInput {
                as_of: known_at.time,
                isolated,
                lang,
            },
        );
        let problems = overrides.problems(&board);
        if !problems.is_empty() {
            bail!(
                "overrides file {}: {}",
                self.overrides
                    .as_deref()
                    .unwrap_or(Path::new("-"))
                    .display(),
                problems.join("; ")
            );
        }
        board.apply(&overrides);
        Ok(Loaded {
            scope,
            assets,
            overrides,
            board,
            known_at,
            now,
            lang,
            zone,
        })
    }
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub inputs: CrisisInputs,
    /// Directory to write index.html and feed.atom into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Public updates of the incidents (YAML; default: derived from the
    /// scope: postpone non-urgent requests, alternatives, personal data).
    #[arg(long, value_name = "FILE.yml")]
    pub updates: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BoardArgs {
    #[command(flatten)]
    pub inputs: CrisisInputs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: BoardFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BoardFormat {
    Text,
    Json,
}

pub fn run(cmd: StatusCommand) -> Result<ExitCode> {
    match cmd {
        StatusCommand::Export(a) => export(a),
        StatusCommand::Board(a) => board(a),
    }
}

fn export(a: ExportArgs) -> Result<ExitCode> {
    let x = a.inputs.load()?;
    let notices = match &a.updates {
        Some(p) => {
            let n = Notices::load(p)?;
            let problems = n.problems(&x.board);
            if !problems.is_empty() {
                bail!("updates file {}: {}", p.display(), problems.join("; "));
            }
            n
        }
        None => Notices::defaults(&x.scope, &x.board, x.known_at.time),
    };
    let build = |lang: Lang, other: &str| {
        let mut board = x.board.clone();
        if board.lang != lang {
            // Reasons are not shown publicly, but keep one language per page.
            board = ServiceBoard::derive(
                &x.scope,
                &x.assets,
                &BoardInput {
                    as_of: x.known_at.time,
                    isolated: a.inputs.isolated.iter().cloned().collect(),
                    lang,
                },
            );
            board.apply(&x.overrides);
        }
        PublicPage::build(&PageInput {
            scope: &x.scope,
            assets: &x.assets,
            board: &board,
            notices: &notices,
            published: None,
            lang,
            zone: x.zone,
            now: x.now,
            links: PageLinks {
                feed: "feed.atom".into(),
                other_lang: Some(other.to_string()),
                page_url: None,
            },
        })
    };
    let main_lang = x.lang;
    let other = main_lang.pick(Lang::En, Lang::Fr);
    let (main, w1) = build(main_lang, &format!("{}/index.html", other.code()));
    let (second, _) = build(other, "../index.html");
    for w in &w1 {
        eprintln!("vigie: warning: {w}");
    }
    let written = status_page::export(&a.out, &main, &[second])
        .with_context(|| format!("cannot write the status page into {}", a.out.display()))?;
    for p in &written {
        println!("{}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn board(a: BoardArgs) -> Result<ExitCode> {
    let x = a.inputs.load()?;
    match a.format {
        BoardFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&x.board).context("serialising the board")?
            );
        }
        BoardFormat::Text => {
            let l = x.lang;
            for e in &x.board.services {
                println!(
                    "{:<22} {:<24} {}",
                    e.service,
                    e.status.label(l),
                    if e.overridden.is_some() {
                        e.history
                            .last()
                            .map(|c| c.reason.clone())
                            .unwrap_or_default()
                    } else {
                        e.derived.reason.clone()
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
