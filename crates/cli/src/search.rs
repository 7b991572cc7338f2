//! `vigie search`: matching events as JSON Lines (see `vigie_hunt::search`).

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use vigie_hunt::search::{self, Query, SearchConfig};

use crate::progress::Bar;

#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Query terms (all must hold): field:value (case-insensitive, * and ? wildcards),
field:\"two words\", field|contains:x (any Sigma modifier), a plain word
(anywhere in any value), -term (not). Example:
  vigie search logs/ --query 'EventID:4625 -IpAddress:10.* TargetUserName:adm*'
Exit codes: 0 matched, 1 nothing matched (3 and 4: the same, with some input
not fully read), 2 usage error or nothing readable.")]
pub struct SearchArgs {
    /// Log files or directories (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// What to look for (see below); without it, every event passing the
    /// other filters.
    #[arg(long, short = 'e', value_name = "QUERY", allow_hyphen_values = true)]
    pub query: Option<String>,
    /// Only events at or after this time (RFC 3339, `2026-01-10 02:00`, or
    /// a date; times without a zone are in --timezone).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Only events at or before this time (a date includes the whole day).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Only events of this host (full or short name, any case; repeatable).
    #[arg(long, value_name = "NAME")]
    pub host: Vec<String>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print only the number of matching events.
    #[arg(long)]
    pub count: bool,
    /// Zone of --from and --to times written without one (IANA name, or
    /// UTC, the default). Output times stay UTC.
    #[arg(long, value_name = "ZONE", value_parser = crate::parse_zone)]
    pub timezone: Option<vigie_lang::Zone>,
    #[command(flatten)]
    pub read: crate::ReadArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: SearchArgs) -> Result<ExitCode> {
    let zone = args.timezone.unwrap_or_default();
    let bound = |s: &Option<String>, end: bool, name: &str| -> Result<_> {
        s.as_deref()
            .map(|t| search::parse_time_bound(t, zone, end))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--{name}: {e}"))
    };
    let config = SearchConfig {
        inputs: args.paths.clone(),
        query: args.query.as_deref().map(Query::parse).transpose()?,
        from: bound(&args.from, false, "from")?,
        to: bound(&args.to, true, "to")?,
        hosts: args.host.clone(),
        limit: args.limit,
        // A search reports no hashes (the hunt's manifest has them): the
        // SHA-256 of every file is ~15 % of a read's CPU.
        read: vigie_source::ReadOptions {
            sha256: false,
            ..args.read.options()
        },
    };
    if let (Some(f), Some(t)) = (config.from, config.to) {
        anyhow::ensure!(f <= t, "--from is after --to: nothing can match");
    }
    let bar = Bar::new(!args.quiet);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let count = args.count;
    let outcome = search::search(&config, &bar, |e| {
        if count {
            return Ok(true);
        }
        let line = search::event_json(e);
        match out
            .write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
        {
            Ok(()) => Ok(true),
            // A closed pipe (`| head`) ends the search quietly.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e),
        }
    })?;
    if count {
        writeln!(out, "{}", outcome.matched).context("writing the count")?;
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("writing the results")
        }
        _ => {}
    }
    // What could not be read, on standard error.
    let lang = vigie_lang::Lang::resolve(None);
    eprint!(
        "{}",
        vigie_hunt::summary::problems_of(&outcome.files, &outcome.input_errors, lang)
    );
    let partial = outcome.read_problems().any();
    if outcome.stopped && args.limit.is_some_and(|l| outcome.matched >= l) && !args.quiet {
        eprintln!("vigie: stopped at --limit {}", outcome.matched);
    }
    let matched = outcome.matched > 0;
    Ok(ExitCode::from(match (matched, partial) {
        (true, false) => 0,
        (false, false) => 1,
        (true, true) => 3,
        (false, true) => 4,
    }))
}
