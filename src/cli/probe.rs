//! `switchboard probe`: real frames between lab sites.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The topology YAML file (its lab must be up).
    #[arg(long, short = 't')]
    pub topology: PathBuf,
    /// The channels the switches hold; without it, frames are sent untagged and only observed.
    #[arg(long, short = 'c')]
    pub channels: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: ProbeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("probe is not implemented yet")
}
