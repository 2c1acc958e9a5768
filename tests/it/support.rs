//! Helpers shared by the suites: random topologies and channel sets built from a seed.

use std::fmt::Write;

use switchboard::model::{ChannelKind, Pos, Role, VlanId};
use switchboard::orchestrator::{ChannelSpec, MemberSpec};
use switchboard::topology::Topology;
use switchboard::topology::generate::{Rng, tree_parents};

/// Parameters of a random network.
#[derive(Clone, Debug)]
pub struct NetParams {
    pub seed: u64,
    pub switches: usize,
    pub sites: usize,
    /// Size of the VLAN pool (small pools exercise exhaustion and reuse).
    pub pool: u16,
}

/// A random tree topology as YAML, parsed through the real parser.
pub fn random_topology(p: &NetParams) -> Topology {
    let mut rng = Rng::new(p.seed);
    let parents = tree_parents(p.switches.max(1), &mut rng);
    let mut y = String::new();
    writeln!(y, "name: prop\nvlans:\n  pool: 10-{}\n  reserved: [12]", 10 + p.pool.max(2)).unwrap();
    writeln!(y, "switches:").unwrap();
    for i in 0..parents.len() {
        writeln!(y, "  s{i}: {{bridge: br0}}").unwrap();
    }
    writeln!(y, "links:").unwrap();
    for (i, parent) in parents.iter().enumerate() {
        if let Some(parent) = parent {
            writeln!(y, "  - endpoints: [s{parent}:d{i}, s{i}:up]").unwrap();
        }
    }
    writeln!(y, "interfaces:").unwrap();
    for site in 0..p.sites {
        let sw = rng.below(parents.len());
        let mode = if rng.below(2) == 0 { "port" } else { "tagged" };
        let n_macs = 1 + rng.below(2);
        let macs: Vec<String> =
            (0..n_macs).map(|k| format!("\"02:00:00:{k:02x}:{:02x}:{:02x}\"", site / 256, site % 256)).collect();
        writeln!(
            y,
            "  i{site}: {{organization: o{}, switch: s{sw}, port: c{site}, mode: {mode}, capacity: 1000, macs: [{}]}}",
            site % 3,
            macs.join(", ")
        )
        .unwrap();
    }
    switchboard::topology::parse(&y).unwrap_or_else(|e| panic!("generated topology invalid: {e:?}\n{y}"))
}

/// Random channel specs over `topo`; some are invalid on purpose (the planner must refuse them).
pub fn random_channels(topo: &Topology, seed: u64, n: usize) -> Vec<ChannelSpec> {
    let mut rng = Rng::new(seed ^ 0xabcdef);
    let mut specs = Vec::new();
    if topo.interfaces.is_empty() {
        return specs;
    }
    for c in 0..n {
        let kind = [ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp][rng.below(3)];
        let want = match kind {
            ChannelKind::P2p => 2,
            _ => 2 + rng.below(4),
        };
        let mut members: Vec<MemberSpec> = Vec::new();
        for k in 0..want {
            let iface = &topo.interfaces[rng.below(topo.interfaces.len())];
            if members.iter().any(|m| m.interface == iface.name) {
                continue;
            }
            let role =
                (kind == ChannelKind::P2mp).then(|| if k == 0 || rng.below(4) == 0 { Role::Root } else { Role::Leaf });
            let customer_vlan = (iface.mode == switchboard::model::InterfaceMode::Tagged && rng.below(3) == 0)
                .then(|| VlanId::new(100 + rng.below(20) as u16).unwrap());
            members.push(MemberSpec {
                interface: iface.name.as_str().into(),
                role,
                customer_vlan,
                bandwidth_mbps: None,
                pos: Pos::default(),
            });
        }
        let vlan = (rng.below(8) == 0).then(|| VlanId::new(10 + rng.below(10) as u16).unwrap());
        specs.push(ChannelSpec {
            name: format!("ch{c}").into(),
            kind,
            vlan,
            leaf_vlan: None,
            bandwidth_mbps: 1 + rng.below(300) as u64,
            class: switchboard::topology::DEFAULT_CLASS.into(),
            members,
            pos: Pos { line: c + 1, col: 1 },
        });
    }
    specs
}
