//! `switchboard lab up|down FILE`: the topology as network namespaces on this host.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::southbound::linux::lab;

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build the lab (idempotent; completes a half-built one).
    Up {
        /// The topology YAML file (every switch `driver: linux` with a `netns`).
        file: PathBuf,
    },
    /// Remove every namespace, link and bridge of the lab, even after a failed `up`.
    Down {
        /// The topology YAML file.
        file: PathBuf,
    },
}

pub fn run(cmd: LabCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LabCommand::Up { file } => {
            let topo = match super::load_topology(&file)? {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            let report = lab::up(&topo, &mut |line| eprintln!("lab {}: {line}", topo.name))?;
            println!(
                "lab {} is up: {} namespace(s) and {} link(s) created",
                topo.name, report.namespaces_created, report.links_created
            );
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Down { file } => {
            let topo = match super::load_topology(&file)? {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            let removed = lab::down(&topo)?;
            println!("lab {} is down: {removed} namespace(s) removed", topo.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}
