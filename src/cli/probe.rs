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
    /// Load mode: instead of the matrix, send broadcast frames in one channel from `--from`
    /// at this many Mbps for `--seconds` and report the rate delivered at every site.
    #[arg(long, value_name = "MBPS", requires = "from", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub load_mbps: Option<u64>,
    /// The sending site (interface) of a load.
    #[arg(long, value_name = "INTERFACE", requires = "load_mbps")]
    pub from: Option<String>,
    /// The channel a load is sent in (needed when the sender is in more than one).
    #[arg(long, value_name = "NAME", requires = "load_mbps")]
    pub channel: Option<String>,
    /// How long a load lasts.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// The size of a load's frames, in bytes as sent (the probe header, padded).
    #[arg(long, value_name = "BYTES", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(64..=1500))]
    pub frame_bytes: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a load delivered (`--load-mbps`).
#[derive(Debug, serde::Serialize)]
pub struct LoadReport {
    pub from: String,
    pub channel: String,
    /// The tags the sender put on its frames (its customer tag, then `--customer-vlan`).
    pub tags: Vec<u16>,
    pub frames: u64,
    pub frame_bytes: u64,
    pub seconds: f64,
    pub offered_mbps: f64,
    pub receivers: Vec<Receiver>,
}

/// One site's share of a load.
#[derive(Debug, serde::Serialize)]
pub struct Receiver {
    pub site: String,
    /// Whether the channel should deliver the load there.
    pub expected: bool,
    pub frames: u64,
    /// Bytes received over the sending time, in Mbps.
    pub delivered_mbps: f64,
}

impl LoadReport {
    /// A site that should get nothing got something, or one that should got nothing.
    pub fn anomalies(&self) -> usize {
        self.receivers.iter().filter(|r| r.expected != (r.frames > 0)).count()
    }
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
    if let (Some(mbps), Some(from)) = (args.load_mbps, args.from.as_deref()) {
        return load(args, topo, &channels, mbps, from);
    }
    let probes = reach::probes_with(topo, &channels, args.customer_vlan);
    let nonce =
        std::process::id() ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos());
    let receptions = probe::run(topo, &probes, nonce)?;
    let mut verdict = reach::judge(topo, &channels, &probes, &receptions, args.expect_none);
    verdict.customer_vlan = args.customer_vlan;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        out!(raw "{}", render(&verdict));
    }
    Ok(if verdict.anomalies.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Load mode: broadcast frames in one of the sender's channels, paced, counted at every site.
fn load(
    args: &ProbeArgs,
    topo: &crate::topology::Topology,
    channels: &BTreeMap<compact_str::CompactString, crate::orchestrator::PlannedChannel>,
    mbps: u64,
    from: &str,
) -> anyhow::Result<ExitCode> {
    let mine: Vec<&str> =
        channels.values().filter(|c| c.members.iter().any(|m| m.interface == from)).map(|c| c.name.as_str()).collect();
    let channel = match (&args.channel, mine.as_slice()) {
        (Some(c), _) if mine.contains(&c.as_str()) => c.clone(),
        (Some(c), _) => anyhow::bail!("`{from}` is not a member of channel `{c}` (its channels: {})", mine.join(", ")),
        (None, [one]) => (*one).to_string(),
        (None, []) => anyhow::bail!("`{from}` is in no channel of the channels file: a load needs one"),
        (None, _) => anyhow::bail!("`{from}` is in several channels ({}): say which with --channel", mine.join(", ")),
    };
    let probe = reach::probes_with(topo, channels, args.customer_vlan)
        .into_iter()
        .find(|p| p.from == from && p.dst.is_none() && p.channel.as_deref() == Some(channel.as_str()))
        .ok_or_else(|| anyhow::anyhow!("`{from}` has no MAC to send from"))?;
    let nonce =
        std::process::id() ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos());
    let mut frame = reach::frame(&probe, nonce);
    frame.resize(usize::try_from(args.frame_bytes)?.max(frame.len()), 0);
    let pace = probe::Pace {
        rate_bps: mbps.saturating_mul(1_000_000),
        duration: std::time::Duration::from_secs(args.seconds),
        max_frames: u64::MAX,
        catch_up_bytes: 10 * frame.len() as u64,
    };
    let (sent, delivered) = probe::load(topo, from, &frame, nonce, pace)?;
    let expected: std::collections::BTreeSet<String> =
        reach::expected(topo, channels, &probe).into_iter().map(|(site, _)| site).collect();
    let seconds = sent.elapsed.as_secs_f64().max(1e-9);
    let report = LoadReport {
        from: from.to_string(),
        channel,
        tags: probe.tags.clone(),
        frames: sent.frames,
        frame_bytes: frame.len() as u64,
        seconds,
        offered_mbps: sent.bytes as f64 * 8.0 / seconds / 1e6,
        receivers: delivered
            .into_iter()
            .map(|d| Receiver {
                expected: expected.contains(&d.site),
                site: d.site,
                frames: d.frames,
                delivered_mbps: d.bytes as f64 * 8.0 / seconds / 1e6,
            })
            .collect(),
    };
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!(raw "{}", render_load(&report));
    }
    Ok(if report.anomalies() == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A load's report as text: what was offered, then every site's delivered rate.
pub fn render_load(r: &LoadReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "load from {} in channel {} (broadcast, tags {:?}): {} frame(s) of {} bytes in {:.2} s, offered {:.2} Mbps",
        r.from, r.channel, r.tags, r.frames, r.frame_bytes, r.seconds, r.offered_mbps
    );
    for x in &r.receivers {
        let verdict = match (x.expected, x.frames > 0) {
            (true, true) => "ok",
            (true, false) => "LOSS",
            (false, false) => "-",
            (false, true) => "LEAK",
        };
        let _ = writeln!(out, "  {:<16} {:>9} frame(s) {:>10.2} Mbps  {verdict}", x.site, x.frames, x.delivered_mbps);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_report_marks_losses_and_leaks() {
        let receiver = |site: &str, expected, frames| Receiver {
            site: site.into(),
            expected,
            frames,
            delivered_mbps: frames as f64 * 8000.0 / 2.0 / 1e6,
        };
        let mut r = LoadReport {
            from: "a".into(),
            channel: "c".into(),
            tags: vec![100],
            frames: 1000,
            frame_bytes: 1000,
            seconds: 2.0,
            offered_mbps: 4.0,
            receivers: vec![receiver("b", true, 1000), receiver("x", false, 0)],
        };
        assert_eq!(r.anomalies(), 0);
        let text = render_load(&r);
        assert!(text.starts_with("load from a in channel c (broadcast, tags [100]): 1000 frame(s) of 1000 bytes in 2.00 s, offered 4.00 Mbps\n"), "{text}");
        assert!(text.contains("  b                     1000 frame(s)       4.00 Mbps  ok\n"), "{text}");
        assert!(text.contains("  x                        0 frame(s)       0.00 Mbps  -\n"), "{text}");
        r.receivers = vec![receiver("b", true, 0), receiver("x", false, 3)];
        assert_eq!(r.anomalies(), 2);
        let text = render_load(&r);
        assert!(text.contains("LOSS") && text.contains("LEAK"), "{text}");
    }
}
