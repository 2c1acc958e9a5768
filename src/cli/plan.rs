//! `switchboard plan`: the change set per switch for a topology and a channels file.
//!
//! The actual state each switch is compared with comes from its driver; the dry-run driver
//! reports an empty switch, so the plan shows the full configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::orchestrator::{ChangeSet, ChannelReport, change_set};
use crate::southbound::dry_run::render_switch;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The topology YAML file.
    #[arg(long, short = 't')]
    pub topology: PathBuf,
    /// The channels YAML file.
    #[arg(long, short = 'c')]
    pub channels: PathBuf,
    /// Output: iproute2 commands per switch, or the documented JSON (docs/plan-json.md).
    #[arg(long, value_enum, default_value_t = Format::Bridge)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Bridge,
    Json,
}

/// The JSON document `plan --format json` prints (docs/plan-json.md).
#[derive(Debug, Serialize)]
pub struct PlanReport {
    /// Format identifier; changes only with a new major version.
    pub format: &'static str,
    pub topology: String,
    pub channels: Vec<ChannelReport>,
    pub switches: Vec<crate::orchestrator::SwitchChanges>,
}

pub const PLAN_FORMAT: &str = "switchboard.plan/v1";

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    super::with_planner(&args.topology, Some(&args.channels), |topo, planner| print_plan(&args, topo, &planner))
}

fn print_plan(
    args: &PlanArgs,
    topo: &crate::topology::Topology,
    planner: &crate::orchestrator::Planner<'_>,
) -> anyhow::Result<ExitCode> {
    let changes = change_set(planner, &[]);
    match args.format {
        Format::Bridge => print!("{}", render(&changes)),
        Format::Json => {
            let report = PlanReport {
                format: PLAN_FORMAT,
                topology: topo.name.clone(),
                channels: planner.channels().values().map(|c| ChannelReport::new(topo, c)).collect(),
                switches: changes.switches,
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The change set as a shell script of iproute2 commands, one section per switch.
pub fn render(changes: &ChangeSet) -> String {
    let mut out = format!("# switchboard plan for topology {}: {} change(s)\n", changes.topology, changes.len());
    for sw in &changes.switches {
        render_switch(&mut out, sw);
    }
    out
}
