//! `vigie serve` and `vigie token`: thin wrappers around `vigie-serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use vigie_serve::tokens::{self, Scope};

use crate::RuleArgs;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where the event log, the detections and the tokens are kept.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// HTTP address to listen on (loopback by default; port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also receive syslog over UDP here (RFC 3164/5424; e.g. 0.0.0.0:514).
    #[arg(long, value_name = "ADDR")]
    pub syslog_udp: Option<SocketAddr>,
    /// Also receive syslog over TCP here (RFC 6587 octet counting or LF framing).
    #[arg(long, value_name = "ADDR")]
    pub syslog_tcp: Option<SocketAddr>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// The organisation's assets file (hosts, zones, services, accounts), for the live scope.
    #[arg(long, value_name = "FILE")]
    pub assets: Option<PathBuf>,
    /// Indicators of compromise matched on every event beside the rules
    /// (repeatable), as `vigie hunt --ioc` takes them; read at start.
    #[arg(long, value_name = "FILE|DIR|URL")]
    pub ioc: Vec<String>,
    #[command(flatten)]
    pub speech: crate::SpeechArgs,
    /// Zone of times the logs write without one (NXLog's EventTime, RFC 3164
    /// syslog headers), as `vigie hunt --input-timezone`.
    #[arg(long, value_name = "ZONE", value_parser = crate::parse_zone)]
    pub input_timezone: Option<vigie_lang::Zone>,
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let mut config = vigie_serve::Config::new(args.data.clone());
    config.listen = args.listen;
    config.syslog_udp = args.syslog_udp;
    config.syslog_tcp = args.syslog_tcp;
    config.hunt.rules = args.rules.sources();
    config.hunt.load = args.rules.load_options();
    config.hunt.assets = args.assets.clone();
    config.hunt.ioc = args.ioc.clone();
    let speech = args.speech.speech();
    config.hunt.lang = speech.lang;
    config.hunt.zone = speech.zone;
    config.hunt.read.input_zone = args.input_timezone;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(vigie_serve::serve(config, |addr| {
        // On stderr, for people and for scripts that asked for port 0.
        eprintln!("vigie serve: listening on http://{addr}");
    }))
    .map_err(|e| anyhow!("{e}"))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug, Clone)]
pub enum TokenCommand {
    /// Create an access token and print it (only here, only once) on stdout.
    Create {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// ingest (send events), read (detections, statistics) or admin.
        #[arg(long, value_name = "SCOPE")]
        scope: String,
        /// A name to tell tokens apart (a shipper, a person).
        #[arg(long, default_value = "token")]
        name: String,
        /// The commune it belongs to.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

pub fn run_token(cmd: TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create {
            data,
            scope,
            name,
            tenant,
        } => {
            let Some(scope) = Scope::parse(&scope) else {
                eprintln!("vigie: error: --scope {scope:?}: ingest, read or admin");
                return Ok(ExitCode::from(2));
            };
            let token = tokens::create(&data, &name, scope, &tenant)?;
            crate::user::token_created(&data, &name, &format!("{scope:?}").to_lowercase())?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
