//! The command line. One module per subcommand; each reads its files, calls the pure core and
//! prints. Exit status: 0 success, 1 failure, 2 bad input (every problem is printed as
//! `FILE:LINE:COL: message`).

pub mod plan;
pub mod topology;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::model::Diagnostic;

/// Switchboard: metro Ethernet VLAN channels, planned and provisioned.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check or generate topology files.
    #[command(subcommand)]
    Topology(topology::TopologyCommand),
    /// Show what Switchboard would configure on every switch for a set of channels.
    Plan(plan::PlanArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Topology(cmd) => topology::run(cmd),
        Command::Plan(args) => plan::run(args),
    }
}

/// Exit status for input that cannot be used.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Reads a file as UTF-8 text, saying which file failed.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Prints diagnostics as `FILE:LINE:COL: message`, one per line, to stderr.
pub fn print_diagnostics(path: &Path, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{}:{}: {}", path.display(), d.pos, d.message);
    }
    let n = diagnostics.len();
    eprintln!("{}: {n} error{}", path.display(), if n == 1 { "" } else { "s" });
}

/// Reads and validates a topology file; on bad input prints every problem and returns `Err(code)`.
pub fn load_topology(path: &Path) -> anyhow::Result<Result<crate::topology::Topology, ExitCode>> {
    let text = read_text(path)?;
    Ok(crate::topology::parse(&text).map_err(|diags| {
        print_diagnostics(path, &diags);
        ExitCode::from(EXIT_BAD_INPUT)
    }))
}
