//! Generated metro trees and channel sets, for benchmarks, property tests and load labs.
//!
//! Deterministic for a seed (a SplitMix64 stream, so results do not change with a crate
//! version). The trees look like metro networks: a core, a few levels of aggregation with a
//! fan-out of about four, and customer sites on every switch below the core. Channels are
//! local, as real metro traffic mostly is: their members share an aggregation subtree, sized
//! so that no switch comes near its VLAN ceiling by accident ([`channels_yaml`]).

use std::fmt::Write;

/// A small deterministic PRNG (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5b5b_0000_c0ff_ee00)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Options for [`topology_yaml`].
#[derive(Clone, Debug)]
pub struct TreeOptions {
    /// Number of switches (at least 1).
    pub switches: usize,
    /// Number of customer sites (service interfaces).
    pub sites: usize,
    pub seed: u64,
    /// Topology name.
    pub name: String,
    /// Driver for every switch: "dry-run" or "linux" (with netns `<name>-<switch>`).
    pub driver: String,
}

/// The parent of each switch (switch 0 is the core): a heap-like tree with fan-out about
/// four and some randomness, so depth grows like log4(n).
pub fn tree_parents(n: usize, rng: &mut Rng) -> Vec<Option<usize>> {
    let mut parents = vec![None];
    for i in 1..n {
        let ideal = (i - 1) / 4;
        let lo = ideal.saturating_sub(1);
        parents.push(Some(lo + rng.below(ideal - lo + 1)));
    }
    parents
}

/// Renders a generated topology as YAML in the documented format.
pub fn topology_yaml(opts: &TreeOptions) -> String {
    let mut rng = Rng::new(opts.seed);
    let n = opts.switches.max(1);
    let parents = tree_parents(n, &mut rng);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# generated: switchboard topology generate --switches {} --sites {} --seed {}",
        n, opts.sites, opts.seed
    );
    let _ = writeln!(out, "name: {}", opts.name);
    let _ = writeln!(out, "vlans:\n  pool: 2-4094\nswitches:");
    for i in 0..n {
        match opts.driver.as_str() {
            "linux" => {
                let _ = writeln!(out, "  s{i}: {{driver: linux, netns: {}-s{i}, bridge: br0}}", opts.name);
            }
            _ => {
                let _ = writeln!(out, "  s{i}: {{driver: dry-run, bridge: br0}}");
            }
        }
    }
    let _ = writeln!(out, "links:");
    for (i, p) in parents.iter().enumerate() {
        if let Some(p) = p {
            let _ = writeln!(out, "  - endpoints: [s{p}:d{i}, s{i}:up]");
        }
    }
    let _ = writeln!(out, "interfaces:");
    for site in 0..opts.sites {
        // Sites go below the core when there is more than one switch.
        let sw = if n == 1 { 0 } else { 1 + rng.below(n - 1) };
        let mode = if site % 3 == 2 { "port" } else { "tagged" };
        let b = (site as u32).to_be_bytes();
        let _ = writeln!(
            out,
            "  site{site}: {{organization: org{}, switch: s{sw}, port: c{site}, mode: {mode}, capacity: 100G, macs: [\"02:5b:{:02x}:{:02x}:{:02x}:{:02x}\"]}}",
            site % 97,
            b[0],
            b[1],
            b[2],
            b[3]
        );
    }
    out
}

/// Options for [`channels_yaml`].
#[derive(Clone, Debug)]
pub struct ChannelOptions {
    pub channels: usize,
    pub seed: u64,
}

/// Renders `channels` random channels over a parsed topology: members drawn from tagged-mode
/// interfaces inside one region, kinds mixed p2p/p2mp/mp2mp.
///
/// A region is the subtree below one switch at some depth, as metro traffic stays within
/// an aggregation area. Regions are picked in proportion to their sites (customers), and
/// are as large as they may be while no region's share of the channels is over a quarter
/// of the VLAN pool: every channel of a region with members below two of its top switch's
/// children passes that switch, which carries one channel per VLAN at most, so larger
/// regions would put it near its ceiling (4,094 VLANs) by accident. That is depth 2 (two
/// levels below the core) unless the tree is too shallow for a region there to hold two
/// sites (then higher), or the channels too many for its regions (then deeper).
pub fn channels_yaml(topology: &super::Topology, opts: &ChannelOptions) -> String {
    let mut rng = Rng::new(opts.seed.wrapping_add(1));
    let tagged: Vec<(usize, &super::ServiceInterface)> = topology
        .interfaces
        .iter()
        .filter(|i| i.mode == crate::model::InterfaceMode::Tagged)
        .filter_map(|i| topology.switch_index(&i.switch).map(|s| (s, i)))
        .collect();
    let mut out = String::from("# generated channels\n");
    if tagged.len() < 2 {
        return out;
    }
    let anchor = |mut s: usize, depth: usize| {
        while topology.depth(s) > depth {
            s = topology.parent(s).map_or(s, |(p, _)| p);
        }
        s
    };
    let regions = |depth: usize| -> Vec<Vec<&super::ServiceInterface>> {
        let mut by_anchor: std::collections::BTreeMap<usize, Vec<&super::ServiceInterface>> = Default::default();
        for (s, i) in &tagged {
            by_anchor.entry(anchor(*s, depth)).or_default().push(i);
        }
        by_anchor.into_values().filter(|g| g.len() >= 2).collect()
    };
    let mut depth = 2;
    let mut groups = regions(depth);
    while groups.is_empty() && depth > 0 {
        depth -= 1;
        groups = regions(depth);
    }
    let budget = topology.pool.size() / 4;
    let crowded = |groups: &[Vec<&super::ServiceInterface>]| {
        let sites: usize = groups.iter().map(Vec::len).sum();
        groups.iter().any(|g| opts.channels.saturating_mul(g.len()) > budget.saturating_mul(sites))
    };
    while crowded(&groups) && depth < topology.height() {
        let deeper = regions(depth + 1);
        if deeper.is_empty() {
            break;
        }
        groups = deeper;
        depth += 1;
    }
    // Regions weighted by their sites: `ends[g]` is the number of sites of regions 0..=g.
    let ends: Vec<usize> = groups
        .iter()
        .scan(0, |sum, g| {
            *sum += g.len();
            Some(*sum)
        })
        .collect();
    let sites = ends.last().copied().unwrap_or(0);
    if sites == 0 {
        return out;
    }
    for c in 0..opts.channels {
        let site = rng.below(sites);
        let Some(group) = groups.get(ends.partition_point(|end| *end <= site)) else { break };
        let kind = match c % 10 {
            0..=5 => "p2p",
            6..=7 => "p2mp",
            _ => "mp2mp",
        };
        let want = if kind == "p2p" { 2 } else { (2 + rng.below(3)).min(group.len()) };
        let mut picked: Vec<&super::ServiceInterface> = Vec::new();
        while picked.len() < want.min(group.len()) {
            let Some(i) = group.get(rng.below(group.len())) else { break };
            if !picked.iter().any(|p| p.name == i.name) {
                picked.push(i);
            }
        }
        let _ = writeln!(out, "- name: ch{c}\n  kind: {kind}\n  bandwidth: 10\n  members:");
        for (k, i) in picked.iter().enumerate() {
            let role = if kind == "p2mp" { if k == 0 { ", role: root" } else { ", role: leaf" } } else { "" };
            let _ = writeln!(out, "    - {{interface: {}{role}}}", i.name);
        }
    }
    out
}
