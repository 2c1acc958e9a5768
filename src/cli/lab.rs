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
        /// Also give tagged-mode sites a sub-interface `eth0.TAG` for each customer VLAN
        /// these channels use, so the site's own IP stack can talk in them.
        #[arg(long, short = 'c')]
        channels: Option<PathBuf>,
        /// Also build a management network (namespace `<topology>-mgmt`, 10.255.0.0/16), start
        /// a `switchboard agent` in every switch namespace and write a topology with every
        /// switch `driver: remote` (its path is printed).
        #[arg(long)]
        agents: bool,
        /// The certificates of the agents and the orchestrator: made where missing, kept where
        /// present (default: `pki/` in the lab's state directory, removed by `lab down`).
        #[arg(long, requires = "agents")]
        pki: Option<PathBuf>,
        /// The agents' confirm timer: seconds after which an agent rolls back a transaction
        /// that was prepared and not committed (`agent --confirm-timeout`).
        #[arg(long, requires = "agents", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        confirm_timeout: u64,
    },
    /// Remove every namespace, link and bridge of the lab, even after a failed `up`.
    Down {
        /// The topology YAML file.
        file: PathBuf,
    },
}

pub fn run(cmd: LabCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LabCommand::Up { file, channels, agents, pki, confirm_timeout } => {
            super::with_planner(&file, channels.as_deref(), |topo, planner| {
                let report = lab::up(topo, &mut |line| note!("lab {}: {line}", topo.name))?;
                let tags: Vec<(String, u16)> = planner
                    .channels()
                    .values()
                    .flat_map(|c| {
                        c.members.iter().filter_map(|m| m.customer_vlan.map(|t| (m.interface.to_string(), t)))
                    })
                    .collect();
                let vlans = lab::site_vlans(topo, &tags)?;
                if vlans > 0 {
                    note!("lab {}: {vlans} customer VLAN sub-interface(s) on tagged-mode sites", topo.name);
                }
                say!(
                    "lab {} is up: {} namespace(s) and {} link(s) created",
                    topo.name,
                    report.namespaces_created,
                    report.links_created
                );
                if agents {
                    let up = super::lab_agents::up(topo, pki.as_deref(), confirm_timeout, &mut |line| {
                        note!("lab {}: {line}", topo.name)
                    })?;
                    say!(
                        "lab {}: {} agent(s) serving ({} started now), certificates in {}",
                        topo.name,
                        topo.switches.len(),
                        up.started,
                        up.pki.display()
                    );
                    say!("{}", up.topology.display());
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        LabCommand::Down { file } => {
            let topo = match super::load_topology(&file)? {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            // Agents first: they hold the switches' namespaces open and would log their loss.
            // The switches' namespaces go even when an agent would not stop.
            let agents = super::lab_agents::down(&topo);
            let removed = lab::down(&topo)?;
            let stopped = agents?;
            say!("lab {} is down: {removed} namespace(s) removed", topo.name);
            if stopped > 0 {
                say!("lab {}: {stopped} agent(s) stopped, management network removed", topo.name);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
