//! `switchboard apply` and `switchboard drift`: the live switches against a channels file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::engine::{self, Event};
use crate::orchestrator::Op;
use crate::southbound::dry_run::command_lines;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The topology YAML file.
    #[arg(long, short = 't')]
    pub topology: PathBuf,
    /// The channels YAML file: after the apply the switches hold exactly these channels.
    #[arg(long, short = 'c')]
    pub channels: PathBuf,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The topology YAML file.
    #[arg(long, short = 't')]
    pub topology: PathBuf,
    /// The channels YAML file the switches should hold.
    #[arg(long, short = 'c')]
    pub channels: PathBuf,
    /// Make the switches match (as one transaction, like apply).
    #[arg(long)]
    pub repair: bool,
}

/// `SWITCHBOARD_FAULT=SWITCH:N` makes the N-th change (0-based) sent to SWITCH fail, for
/// testing rollback from the command line.
fn inject_fault(
    topo: &crate::topology::Topology,
    drivers: &mut [Box<dyn crate::southbound::Driver>],
) -> anyhow::Result<()> {
    let Ok(spec) = std::env::var("SWITCHBOARD_FAULT") else { return Ok(()) };
    let (switch, n) = spec.split_once(':').context("SWITCHBOARD_FAULT must be SWITCH:N")?;
    let n: usize = n.parse().context("SWITCHBOARD_FAULT must be SWITCH:N")?;
    let i = topo.switch_index(switch).with_context(|| format!("SWITCHBOARD_FAULT names unknown switch `{switch}`"))?;
    if let Some(d) = drivers.get_mut(i) {
        d.inject_fault(n);
    }
    Ok(())
}

fn print_event(e: &Event) {
    match e {
        Event::Applied { switch, changes, elapsed } => {
            note!("  {switch}: {changes} change(s) in {:.1} ms", elapsed.as_secs_f64() * 1e3)
        }
        Event::Reapplying { switch, missing } => {
            note!("  {switch}: read-back found {missing} change(s) missing, applying them again")
        }
        Event::Replanned { switch, changes } => {
            note!("  {switch}: held other than last read here; planned again from what it holds: {changes} change(s)")
        }
        Event::RollingBack { switch } => note!("  {switch}: rolling back"),
        Event::Prepared { switches } => note!("  every switch ({switches}) took its changes: committing"),
    }
}

pub fn run_apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    super::with_planner(&args.topology, Some(&args.channels), |topo, planner| apply_planned(topo, &planner))
}

fn apply_planned(
    topo: &crate::topology::Topology,
    planner: &crate::orchestrator::Planner<'_>,
) -> anyhow::Result<ExitCode> {
    let mut drivers = engine::connect(topo)?;
    inject_fault(topo, &mut drivers)?;
    note!("applying {} channel(s) to {} switch(es) of {}", planner.channels().len(), topo.switches.len(), topo.name);
    match engine::apply(planner, &mut drivers, &mut print_event) {
        Ok(report) => {
            let again = if report.reapplied > 0 {
                format!(" ({} re-applied after read-back)", report.reapplied)
            } else {
                String::new()
            };
            say!(
                "applied {} change(s) on {} switch(es) in {:.1} ms{again}; verified by read-back",
                report.changes,
                report.switches,
                report.elapsed.as_secs_f64() * 1e3
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            note!("switchboard: apply failed: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn run_drift(args: DriftArgs) -> anyhow::Result<ExitCode> {
    super::with_planner(&args.topology, Some(&args.channels), |topo, planner| {
        drift_planned(args.repair, topo, &planner)
    })
}

fn drift_planned(
    repair: bool,
    topo: &crate::topology::Topology,
    planner: &crate::orchestrator::Planner<'_>,
) -> anyhow::Result<ExitCode> {
    let mut drivers = engine::connect(topo)?;
    let changes = engine::drift(planner, &mut drivers)?;
    let mut drifted = 0;
    for sw in &changes.switches {
        if sw.changes.is_empty() {
            say!("{}: in sync", sw.switch);
            continue;
        }
        drifted += 1;
        say!("{}: {} difference(s)", sw.switch, sw.changes.len());
        for c in &sw.changes {
            let what = if c.op == Op::Add { "missing, would run:   " } else { "unexpected, would run:" };
            for line in command_lines(c, sw.driver.bridge(), sw.driver.netns()) {
                say!("  {what} {line}");
            }
        }
    }
    if drifted == 0 {
        say!("no drift: every switch matches the channels");
        return Ok(ExitCode::SUCCESS);
    }
    if !repair {
        say!("drift on {drifted} switch(es); run again with --repair to fix it");
        return Ok(ExitCode::from(1));
    }
    match engine::apply(planner, &mut drivers, &mut print_event) {
        Ok(report) => {
            say!("repaired: {} change(s) on {} switch(es)", report.changes, report.switches);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            note!("switchboard: repair failed: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
