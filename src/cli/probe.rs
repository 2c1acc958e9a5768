//! `switchboard probe`: real Ethernet frames between lab sites, and the reachability matrix
//! per channel, marking what is expected, what leaked and what was lost.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::orchestrator::reach::{self, Verdict};
use crate::southbound::linux::probe;

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The topology YAML file (its lab must be up).
    #[arg(long, short = 't')]
    pub topology: PathBuf,
    /// The channels the switches should hold; without it every site only sends untagged
    /// frames, which must reach nobody.
    #[arg(long, short = 'c')]
    pub channels: Option<PathBuf>,
    /// Send the frames the channels imply, but expect nobody to receive anything (after the
    /// channels were removed).
    #[arg(long)]
    pub expect_none: bool,
    /// Port members send their channels' frames with this 802.1Q tag of their own (C-VLAN,
    /// 1-4094), tagged-mode members under their customer tag; every member must receive it
    /// unchanged (customer tag transparency, issue 18).
    #[arg(long, value_name = "VID", value_parser = clap::value_parser!(u16).range(1..=4094))]
    pub customer_vlan: Option<u16>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    super::with_planner(&args.topology, args.channels.as_deref(), |topo, planner| probe_planned(&args, topo, &planner))
}

fn probe_planned(
    args: &ProbeArgs,
    topo: &crate::topology::Topology,
    planner: &crate::orchestrator::Planner<'_>,
) -> anyhow::Result<ExitCode> {
    let channels = planner.channels().clone();
    let probes = reach::probes_with(topo, &channels, args.customer_vlan);
    let nonce =
        std::process::id() ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos());
    let receptions = probe::run(topo, &probes, nonce)?;
    let mut verdict = reach::judge(topo, &channels, &probes, &receptions, args.expect_none);
    verdict.customer_vlan = args.customer_vlan;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        print!("{}", render(&verdict));
    }
    Ok(if verdict.anomalies.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The matrices and anomalies as text.
pub fn render(v: &Verdict) -> String {
    let mut out = String::new();
    if let Some(vid) = v.customer_vlan {
        let _ =
            writeln!(out, "customer VLAN {vid}: port members' frames carry this C-tag, tagged members' under theirs");
    }
    for m in &v.channels {
        let _ = writeln!(out, "channel {} ({})", m.channel, m.kind);
        let names: Vec<String> =
            m.members
                .iter()
                .map(|(n, r)| {
                    if m.kind == crate::model::ChannelKind::P2mp { format!("{n} ({})", r.as_str()) } else { n.clone() }
                })
                .collect();
        let width = names.iter().map(String::len).max().unwrap_or(4).max(9);
        let cells: BTreeMap<(&str, &str), &'static str> =
            m.cells.iter().map(|c| ((c.from.as_str(), c.to.as_str()), c.verdict())).collect();
        let _ = write!(out, "  {:width$}", "from \\ to");
        for (n, _) in &m.members {
            let _ = write!(out, " {:>12}", truncate(n, 12));
        }
        let _ = writeln!(out);
        for ((from, _), label) in m.members.iter().zip(&names) {
            let _ = write!(out, "  {label:width$}");
            for (to, _) in &m.members {
                let cell =
                    if from == to { "" } else { cells.get(&(from.as_str(), to.as_str())).copied().unwrap_or("?") };
                let _ = write!(out, " {cell:>12}");
            }
            let _ = writeln!(out);
        }
    }
    for a in &v.anomalies {
        let what = if a.kind == "leak" { "LEAK" } else { "LOSS" };
        let dst = a.probe.dst.map_or_else(|| "broadcast".to_string(), |m| m.to_string());
        let chan = a.probe.channel.as_deref().map_or_else(|| "no channel".to_string(), |c| format!("channel {c}"));
        let _ = writeln!(
            out,
            "{what}: {} -> {dst} ({chan}, tags {:?}) {} {} with tags {:?}",
            a.probe.from,
            a.probe.tags,
            if a.kind == "leak" { "reached" } else { "did not reach" },
            a.site,
            a.tags
        );
    }
    let _ = writeln!(
        out,
        "{} frame(s) sent, {} received: {} leak(s), {} loss(es)",
        v.probes,
        v.receptions,
        v.leaks(),
        v.losses()
    );
    out
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
