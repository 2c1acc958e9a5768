//! `switchboard topology check|generate`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::model::InterfaceMode;
use crate::topology::Topology;
use crate::topology::generate::{ChannelOptions, TreeOptions, channels_yaml, topology_yaml};

#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Validate a topology file; print every error as FILE:LINE:COL, or a summary.
    Check {
        /// The topology YAML file.
        file: PathBuf,
    },
    /// Generate a large tree-shaped topology (and optionally channels) for benchmarks and tests.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of switches (1-100,000: a metro tree, not a memory test).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub switches: u32,
    /// Number of customer sites (service interfaces; at most 1,000,000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub sites: u32,
    /// Seed of the generator; the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Topology name (letters, digits, `-_.`; at most 64 bytes, as `topology check` wants it).
    #[arg(long, default_value = "generated", value_parser = topology_name)]
    pub name: String,
    /// Driver of every switch: dry-run or linux.
    #[arg(long, default_value = "dry-run", value_parser = ["dry-run", "linux"])]
    pub driver: String,
    /// Write the topology here instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Also generate this many channels (local to aggregation subtrees; at most 1,000,000)...
    #[arg(long, requires = "channels_out", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub channels: Option<u32>,
    /// ...into this file.
    #[arg(long, requires = "channels")]
    pub channels_out: Option<PathBuf>,
}

pub fn run(cmd: TopologyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TopologyCommand::Check { file } => {
            let topo = match super::load_topology(&file)? {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            out!(raw "{}", summary(&topo));
            Ok(ExitCode::SUCCESS)
        }
        TopologyCommand::Generate(args) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let opts = TreeOptions {
        switches: args.switches as usize,
        sites: args.sites as usize,
        seed: args.seed,
        name: args.name,
        driver: args.driver,
    };
    let text = topology_yaml(&opts);
    // The channels first: a set that does not fit is refused before anything is written.
    let channels = match (args.channels, &args.channels_out) {
        (Some(n), Some(path)) => match fitting_channels(&text, n as usize, args.seed)? {
            Ok(channels) => Some((channels, path)),
            Err(why) => {
                note!("switchboard: {why}");
                return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
            }
        },
        _ => None,
    };
    match &args.output {
        Some(path) => std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?,
        None => out!(raw "{text}"),
    }
    if let Some((channels, path)) = channels {
        std::fs::write(path, channels).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `n` generated channels on the generated topology `text`, as YAML, or why they cannot be
/// had: what `plan` would refuse of them (a tree too small for so many channels runs out
/// of VLANs), so that no file is made that `plan` then rejects.
fn fitting_channels(text: &str, n: usize, seed: u64) -> anyhow::Result<Result<String, String>> {
    let topo = crate::topology::parse(text).map_err(|d| {
        anyhow::anyhow!(
            "generated topology is invalid (a bug): {}",
            d.first().map(|d| d.to_string()).unwrap_or_default()
        )
    })?;
    let channels = channels_yaml(&topo, &ChannelOptions { channels: n, seed });
    let (specs, diags) = crate::orchestrator::parse_channels(&channels);
    if let Some(d) = diags.first() {
        anyhow::bail!("generated channels are invalid (a bug): {d}");
    }
    Ok(match crate::orchestrator::plan(&topo, &specs) {
        Ok(_) => Ok(channels),
        Err(refused) => Err(format!(
            "{} of the {n} generated channels would not fit this topology ({} switches, {} usable VLANs each): \
             the first, `{}`: {}. Ask for fewer channels, or more switches and sites",
            refused.len(),
            topo.switches.len(),
            topo.pool.size(),
            refused.first().map_or("", |e| e.channel.as_str()),
            refused.first().map(|e| e.refusal.to_string()).unwrap_or_default(),
        )),
    })
}

/// A one-screen summary of a valid topology.
pub fn summary(topo: &Topology) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut drivers: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &topo.switches {
        *drivers.entry(s.driver.kind()).or_default() += 1;
    }
    let drivers: Vec<String> = drivers.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let orgs: BTreeSet<&str> = topo.interfaces.iter().map(|i| i.organization.as_str()).collect();
    let n_port = topo.interfaces.iter().filter(|i| i.mode == InterfaceMode::Port).count();
    let n_macs: usize = topo.interfaces.iter().map(|i| i.macs.len()).sum();
    let root = topo.switches.first().map_or("", |s| s.name.as_str());
    let _ = writeln!(out, "topology {}: OK", topo.name);
    let _ = writeln!(
        out,
        "  switches    {} ({}), a tree of height {} rooted at {root}",
        topo.switches.len(),
        drivers.join(", "),
        topo.height()
    );
    let _ = writeln!(out, "  links       {}", topo.links.len());
    let _ = writeln!(
        out,
        "  interfaces  {} ({n_port} port mode, {} tagged mode) of {} organization(s), {n_macs} MAC(s)",
        topo.interfaces.len(),
        topo.interfaces.len() - n_port,
        orgs.len()
    );
    let reserved = if topo.pool.reserved.is_empty() {
        "none".to_string()
    } else {
        topo.pool
            .reserved
            .iter()
            .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "  VLAN pool   {}-{} ({} usable per switch), reserved: {reserved}",
        topo.pool.first,
        topo.pool.last,
        topo.pool.size()
    );
    const SHOWN: usize = 16;
    for (i, sw) in topo.switches.iter().enumerate().take(SHOWN) {
        let ifaces: Vec<String> =
            topo.interfaces_on(&sw.name).map(|f| format!("{}({})", f.name, f.mode.as_str())).collect();
        let indent = "  ".repeat(topo.depth(i));
        let _ = writeln!(
            out,
            "    {indent}{} [{}] {} trunk(s){}{}",
            sw.name,
            sw.driver.kind(),
            topo.trunk_ports(i).len(),
            if ifaces.is_empty() { "" } else { ": " },
            ifaces.join(" ")
        );
    }
    if topo.switches.len() > SHOWN {
        let _ = writeln!(out, "    ... and {} more switches", topo.switches.len() - SHOWN);
    }
    out
}

/// `--name`: a name `topology check` takes.
fn topology_name(s: &str) -> Result<String, String> {
    if crate::topology::is_usable_name(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a usable topology name: letters, digits and -_. (at most 64 bytes, starting with a letter or digit)"
        ))
    }
}
