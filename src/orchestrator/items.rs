//! The items one channel puts on the switches of its path (the table in ARCHITECTURE.md,
//! after ../shared/LAB.md), made as compact keys and grouped by switch: what the planner
//! keeps of a channel, and what [`super::PlannedChannel::items`] reads back.
//!
//! Not for deciding anything: the planner has checked the channel and chosen its path and
//! VLANs before these are made.

use crate::model::{ChannelKind, Role};
use crate::topology::Topology;

use super::PlannedChannel;
use super::compact::{Key, Names, downlink, interface_port, uplink};
use super::state::{Direction, Item};

impl PlannedChannel {
    /// What the channel adds to each switch: (switch index, item), grouped by switch in
    /// path order. Made again from the channel, as the planner made them.
    pub fn items(&self, topology: &Topology) -> Vec<(usize, Item)> {
        let members: Vec<MemberAt> = self
            .members
            .iter()
            .filter_map(|m| {
                Some(MemberAt {
                    interface: topology.interface_index(&m.interface)?,
                    switch: m.switch,
                    role: m.role,
                    tag: m.customer_vlan,
                    bandwidth_mbps: m.bandwidth_mbps,
                })
            })
            .collect();
        let record = channel_keys(topology, self.kind, self.vlan, self.leaf_vlan, self.pcp, &members, &self.path);
        let names = Names::new(topology);
        (0..self.path.len())
            .flat_map(|k| {
                let s = self.path.get(k).copied().unwrap_or_default();
                record.at(k).iter().map(move |key| (s, names.item(key).to_item()))
            })
            .collect()
    }
}

/// One channel's items, compact, grouped by the switches of its path.
#[derive(Clone, Debug, Default)]
pub struct Record {
    keys: Box<[Key]>,
    /// `keys[ends[k - 1]..ends[k]]` (from 0 for `k = 0`) are the items on `path[k]`.
    ends: Box<[u32]>,
}

impl Record {
    /// The items on the `k`th switch of the channel's path.
    pub fn at(&self, k: usize) -> &[Key] {
        let start = k.checked_sub(1).and_then(|j| self.ends.get(j)).map_or(0, |e| *e as usize);
        let end = self.ends.get(k).map_or(start, |e| *e as usize);
        self.keys.get(start..end).unwrap_or_default()
    }
}

/// A member as the items need it.
#[derive(Clone, Copy, Debug)]
pub struct MemberAt {
    /// Service interface index.
    pub interface: usize,
    /// Switch index.
    pub switch: usize,
    pub role: Role,
    /// The customer tag on a tagged-mode interface: the member's bridge port is the
    /// sub-interface `port.tag`.
    pub tag: Option<u16>,
    /// The member's bandwidth in Mbps (its own, or else the channel's): its policer's rate.
    pub bandwidth_mbps: u64,
}

/// The items one channel puts on the switches of its path, grouped by switch in path order.
///
/// - Trunk ports between path switches: every channel VLAN, tagged; when the channel's class
///   maps to a PCP other than 0, a clsact qdisc and, per channel VLAN, a PCP filter on the
///   trunk's egress ([`Item::Pcp`](super::Item::Pcp)) so the S-tags leave with that PCP
///   (with PCP 0 nothing: the bridge's S-tags carry 0).
/// - A member's bridge port: E-Line/E-LAN and E-Tree roots: `vid V pvid untagged` (roots
///   also `vid L untagged`); E-Tree leaves: `vid L pvid` (tagged egress) and `vid R untagged`.
///   The bridges are 802.1ad ([`Item::ProviderBridge`](super::Item::ProviderBridge)), so a
///   customer's 802.1Q tags are payload and these entries carry them unchanged.
/// - Every member's bridge port: a clsact qdisc, a tc drop of 802.1ad (S-tagged) frames on
///   ingress (a customer frame may not name a channel VLAN), and on E-Tree leaves also on
///   egress (leaf VLAN frames leave a leaf port S-tagged and die there); the discard of the
///   IEEE 802.1 reserved block (L2CP: BPDUs, LACP, LLDP; [`Item::L2cp`](super::Item::L2cp))
///   on ingress, since multicast is flooded; and an ingress policer at the member's
///   bandwidth, its own or else the channel's (none when it is 0, which the channels file
///   cannot give).
/// - Tagged-mode members: the sub-interface, made a bridge port, configured as above.
/// - Static FDB on every path switch: every member MAC in V (R), and root MACs in L, each to
///   the port toward it.
pub fn channel_keys(
    topo: &Topology,
    kind: ChannelKind,
    vlan: u16,
    leaf_vlan: Option<u16>,
    pcp: u8,
    members: &[MemberAt],
    path: &[usize],
) -> Record {
    let n = topo.switches.len();
    let vlans: &[u16] = match leaf_vlan {
        Some(l) => &[vlan, l],
        None => &[vlan],
    };
    let index = |s: usize| path.binary_search(&s).ok();
    // The index in the path of each path switch's parent, when the parent is on the path.
    let parent_at: Vec<Option<usize>> = path.iter().map(|&s| topo.parent(s).and_then(|(p, _)| index(p))).collect();
    // For each member, the port of each path switch toward it (port, tag): its bridge port
    // on its own switch, the downlink toward it on its ancestors up the path, and the uplink
    // anywhere else.
    let mut toward: Vec<(u32, u16)> = Vec::with_capacity(members.len() * path.len());
    for m in members {
        let base = toward.len();
        toward.extend(path.iter().map(|&s| (uplink(s), 0)));
        if let Some(slot) = index(m.switch).and_then(|k| toward.get_mut(base + k)) {
            *slot = (interface_port(n, m.interface), m.tag.unwrap_or(0));
        }
        let mut cur = m.switch;
        while let Some((p, _)) = topo.parent(cur) {
            let Some(k) = index(p) else { break };
            if let Some(slot) = toward.get_mut(base + k) {
                *slot = (downlink(cur), 0);
            }
            cur = p;
        }
    }
    // At most: both trunk ends of each path link per VLAN, ten items per member, and an
    // FDB entry per MAC (two for an E-Tree root's) on every path switch.
    let fdb_per_switch: usize = members
        .iter()
        .map(|m| {
            let macs = topo.interfaces.get(m.interface).map_or(0, |f| f.macs.len());
            if leaf_vlan.is_some() && m.role == Role::Root { 2 * macs } else { macs }
        })
        .sum();
    // With a PCP, each trunk end also holds a clsact and a filter per VLAN.
    let trunk_items = if pcp == 0 { vlans.len() } else { 2 * vlans.len() + 1 };
    let mut keys: Vec<Key> =
        Vec::with_capacity(2 * path.len() * trunk_items + 10 * members.len() + path.len() * fdb_per_switch);
    let mut ends: Vec<u32> = Vec::with_capacity(path.len());
    for (k, &s) in path.iter().enumerate() {
        // Trunks: the uplink when the parent is on the path, the downlink to each child on it.
        let mut trunk = |port| {
            keys.extend(vlans.iter().map(|&v| Key::vlan(port, 0, v, false, false)));
            if pcp != 0 {
                keys.push(Key::clsact(port, 0));
                keys.extend(vlans.iter().map(|&v| Key::pcp(port, v, pcp)));
            }
        };
        if parent_at.get(k).is_some_and(Option::is_some) {
            trunk(uplink(s));
        }
        for (j, &c) in path.iter().enumerate() {
            if parent_at.get(j).copied().flatten() == Some(k) {
                trunk(downlink(c));
            }
        }
        for m in members.iter().filter(|m| m.switch == s) {
            let port = interface_port(n, m.interface);
            let tag = m.tag.unwrap_or(0);
            if m.tag.is_some() {
                keys.push(Key::sub_interface(port, tag));
                keys.push(Key::port(port, tag));
            }
            let leaf = kind == ChannelKind::P2mp && m.role == Role::Leaf && leaf_vlan.is_some();
            match (kind, m.role, leaf_vlan) {
                (ChannelKind::P2mp, Role::Leaf, Some(l)) => {
                    keys.push(Key::vlan(port, tag, l, true, false));
                    keys.push(Key::vlan(port, tag, vlan, false, true));
                }
                (ChannelKind::P2mp, _, Some(l)) => {
                    keys.push(Key::vlan(port, tag, vlan, true, true));
                    keys.push(Key::vlan(port, tag, l, false, true));
                }
                _ => keys.push(Key::vlan(port, tag, vlan, true, true)),
            }
            keys.push(Key::clsact(port, tag));
            keys.push(Key::tc_drop(port, tag, Direction::Ingress));
            keys.push(Key::l2cp(port, tag));
            if leaf {
                keys.push(Key::tc_drop(port, tag, Direction::Egress));
            }
            if m.bandwidth_mbps > 0 {
                keys.push(Key::police(port, tag, m.bandwidth_mbps));
            }
        }
        for (mi, m) in members.iter().enumerate() {
            let (Some(&(port, tag)), Some(iface)) = (toward.get(mi * path.len() + k), topo.interfaces.get(m.interface))
            else {
                continue;
            };
            for mac in &iface.macs {
                keys.push(Key::fdb(*mac, vlan, port, tag));
                if let (Some(l), Role::Root) = (leaf_vlan, m.role) {
                    keys.push(Key::fdb(*mac, l, port, tag));
                }
            }
        }
        ends.push(keys.len() as u32);
    }
    Record { keys: keys.into_boxed_slice(), ends: ends.into_boxed_slice() }
}
