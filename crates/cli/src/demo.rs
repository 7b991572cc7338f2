//! `vigie demo`: the reference scenario, generated and analysed end to end.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to write the scenario and the results.
    #[arg(long, value_name = "DIR", default_value = "vigie-demo")]
    pub dir: PathBuf,
}

pub fn run(_args: DemoArgs) -> Result<ExitCode> {
    anyhow::bail!("demo: not wired yet")
}
