//! The planner: validates channels against the topology, computes each channel's path,
//! allocates its VLANs and builds the desired state of every switch.
//!
//! Pure and incremental: [`Planner::add`] plans one more channel in microseconds on a large
//! tree, [`Planner::remove`] frees it, and [`plan`] folds a whole channel set. The
//! orchestrator, the CLI and every driver share it.
//!
//! The per-channel state follows the schemes proven in ../shared/LAB.md (ARCHITECTURE.md
//! repeats them): one VLAN per E-Line/E-LAN; a root VLAN R and a leaf VLAN L per E-Tree.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{ChannelKind, InterfaceMode, Pos, Role};
use crate::topology::Topology;

use super::spec::ChannelSpec;
use super::state::{Direction, Item, subinterface_name};
use super::vlan::{VlanSet, pick};

/// A channel that passed every check, with what it was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedChannel {
    pub name: String,
    pub kind: ChannelKind,
    /// The channel's VLAN; the root VLAN R of an E-Tree.
    pub vlan: u16,
    /// The leaf VLAN L of an E-Tree.
    pub leaf_vlan: Option<u16>,
    pub bandwidth_mbps: u64,
    pub members: Vec<PlannedMember>,
    /// Switch indices of the channel's path (the subtree joining its members), sorted.
    pub path: Vec<usize>,
    /// What the channel adds to each switch: (switch index, item).
    #[serde(skip)]
    pub items: Vec<(usize, Item)>,
}

/// A member as planned: where it sits and which bridge port carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMember {
    pub interface: String,
    /// Switch index.
    pub switch: usize,
    pub role: Role,
    /// The bridge port for this member: the interface's port, or its sub-interface.
    pub bridge_port: String,
    /// The customer's tag on a tagged-mode interface.
    pub customer_vlan: Option<u16>,
}

/// A channel the planner refused, and why. `pos` points into the channels file (or is the
/// default when the spec did not come from a file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanError {
    pub pos: Pos,
    pub channel: String,
    pub refusal: Refusal,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: channel `{}`: {}", self.pos, self.channel, self.refusal)
    }
}

/// Why a channel cannot be planned. Each says what to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    #[error("name is not usable: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")]
    BadName,
    #[error("the name is already used by the channel at {first}")]
    DuplicateName { first: Pos },
    #[error("a {kind} channel needs {needs} members, it has {found}")]
    MemberCount { kind: ChannelKind, needs: &'static str, found: usize },
    #[error("a p2mp channel needs at least one root and one leaf, it has {roots} root(s) and {leaves} leaf/leaves")]
    RootsAndLeaves { roots: usize, leaves: usize },
    #[error("member `{interface}` needs a `role` (root or leaf) in a p2mp channel")]
    RoleMissing { interface: String },
    #[error("member `{interface}` has a `role`, which only applies to p2mp channels")]
    RoleNotAllowed { interface: String },
    #[error("unknown interface `{interface}`{suggestion}")]
    UnknownInterface { interface: String, suggestion: String },
    #[error("interface `{interface}` is a member twice")]
    InterfaceTwice { interface: String },
    #[error("interface `{interface}` is in port mode: `customer_vlan` only applies to tagged-mode interfaces")]
    CustomerVlanOnPortMode { interface: String },
    #[error(
        "interface `{interface}` is in port mode and already carries channel `{channel}`: a port-mode interface carries one channel"
    )]
    PortModeBusy { interface: String, channel: String },
    #[error("interface `{interface}` would carry {needed} Mbps, over its capacity of {capacity} Mbps")]
    OverCapacity { interface: String, needed: u64, capacity: u64 },
    #[error("customer VLAN {vid} is already used on interface `{interface}`: pick another `customer_vlan`")]
    CustomerVlanTaken { interface: String, vid: u16 },
    #[error("VLAN {vid} is not in the topology's VLAN pool (or is reserved)")]
    VlanNotInPool { vid: u16 },
    #[error("VLAN {vid} is already used on switch `{switch}`, which is on this channel's path")]
    VlanTaken { vid: u16, switch: String },
    #[error("VLAN {vid} is the customer VLAN of another channel on interface `{interface}`")]
    VlanIsCustomerTag { vid: u16, interface: String },
    #[error("`leaf_vlan` only applies to p2mp channels")]
    LeafVlanNotP2mp,
    #[error("`vlan` and `leaf_vlan` must differ")]
    SameRootAndLeafVlan,
    #[error(
        "no VLAN of the pool is free on all {switches} switches of the path: free a channel there or widen the pool"
    )]
    PoolExhausted { switches: usize },
}

/// Incremental planner over one topology.
#[derive(Clone, Debug)]
pub struct Planner<'t> {
    topology: &'t Topology,
    /// VLAN IDs in use on each switch.
    used: Sparse<VlanSet>,
    /// Use of each service interface.
    interfaces: Sparse<InterfaceUse>,
    channels: BTreeMap<String, PlannedChannel>,
    /// Where each channel came from, for duplicate-name messages.
    positions: BTreeMap<String, Pos>,
    /// Channel items of each switch, with how many channels want them (the baseline is
    /// added by [`Planner::desired`]).
    desired: Vec<BTreeMap<Item, u32>>,
}

#[derive(Clone, Debug, Default)]
struct InterfaceUse {
    bandwidth_mbps: u64,
    channels: Vec<String>,
    /// Customer tags in use (tagged mode).
    tags: VlanSet,
}

/// Per-index state that most indices never need: a 1,000-switch tree with 4,000 sites would
/// otherwise cost megabytes of empty VLAN sets for every planner made, and the orchestrator
/// makes one per order. Absent means empty.
#[derive(Clone, Debug)]
struct Sparse<T> {
    len: usize,
    map: std::collections::HashMap<usize, T>,
}

impl<T: Default> Sparse<T> {
    fn new(len: usize) -> Self {
        Sparse { len, map: std::collections::HashMap::new() }
    }

    fn get(&self, i: usize) -> Option<&T> {
        self.map.get(&i)
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.map.get_mut(&i)
    }

    /// The state of index `i`, made empty on first use; `None` past the end.
    fn slot(&mut self, i: usize) -> Option<&mut T> {
        (i < self.len).then(|| self.map.entry(i).or_default())
    }
}

/// What every switch holds whatever its channels: trunk ports and port-mode interface
/// ports are bridge ports with learning and flooding off.
pub fn baseline(topology: &Topology, s: usize) -> BTreeSet<Item> {
    let Some(sw) = topology.switches.get(s) else { return BTreeSet::new() };
    let mut out: BTreeSet<Item> =
        topology.trunk_ports(s).into_iter().map(|port| Item::Port { port: port.to_string() }).collect();
    out.extend(
        topology
            .interfaces_on(&sw.name)
            .filter(|i| i.mode == InterfaceMode::Port)
            .map(|i| Item::Port { port: i.port.clone() }),
    );
    out
}

/// Plans `specs` in one go: pinned VLANs first, then file order. Returns every refusal.
pub fn plan<'t>(topology: &'t Topology, specs: &[ChannelSpec]) -> Result<Planner<'t>, Vec<PlanError>> {
    let mut planner = Planner::new(topology);
    let mut errors = Vec::new();
    let pinned = specs.iter().filter(|s| s.vlan.is_some() || s.leaf_vlan.is_some());
    let free = specs.iter().filter(|s| s.vlan.is_none() && s.leaf_vlan.is_none());
    for spec in pinned.chain(free) {
        if let Err(mut e) = planner.add(spec) {
            errors.append(&mut e);
        }
    }
    if errors.is_empty() {
        Ok(planner)
    } else {
        errors.sort_by_key(|a| a.pos);
        Err(errors)
    }
}

impl<'t> Planner<'t> {
    /// A planner with no channels. Every switch's desired state starts with its baseline:
    /// trunk ports and port-mode interface ports are bridge ports with learning and
    /// flooding off, whether or not a channel uses them yet.
    pub fn new(topology: &'t Topology) -> Planner<'t> {
        let n = topology.switches.len();
        Planner {
            topology,
            used: Sparse::new(n),
            interfaces: Sparse::new(topology.interfaces.len()),
            channels: BTreeMap::new(),
            positions: BTreeMap::new(),
            desired: vec![BTreeMap::new(); n],
        }
    }

    /// Marks VLAN `vid` as in use on switch `s` by a channel this planner does not hold.
    /// The orchestrator plans one channel at a time this way, against the allocations in
    /// its database, instead of re-planning every channel on the same switches.
    pub fn reserve_vlan(&mut self, s: usize, vid: u16) {
        if let Some(u) = self.used.slot(s) {
            u.insert(vid);
        }
    }

    /// Marks customer tag `vid` as in use on an interface by a channel this planner does
    /// not hold.
    pub fn reserve_tag(&mut self, interface: &str, vid: u16) {
        if let Some(u) = self.topology.interface_index(interface).and_then(|i| self.interfaces.slot(i)) {
            u.tags.insert(vid);
        }
    }

    pub fn topology(&self) -> &'t Topology {
        self.topology
    }

    /// The planned channels, by name.
    pub fn channels(&self) -> &BTreeMap<String, PlannedChannel> {
        &self.channels
    }

    /// The desired state of switch `s`: its baseline and its channels' items.
    pub fn desired(&self, s: usize) -> BTreeSet<Item> {
        let mut out = baseline(self.topology, s);
        if let Some(d) = self.desired.get(s) {
            out.extend(d.keys().cloned());
        }
        out
    }

    /// VLAN IDs in use on switch `s`.
    pub fn vlans_in_use(&self, s: usize) -> &VlanSet {
        static EMPTY: std::sync::OnceLock<VlanSet> = std::sync::OnceLock::new();
        self.used.get(s).unwrap_or_else(|| EMPTY.get_or_init(VlanSet::default))
    }

    /// Plans one more channel, or says every reason it cannot be.
    pub fn add(&mut self, spec: &ChannelSpec) -> Result<&PlannedChannel, Vec<PlanError>> {
        let topo = self.topology;
        let mut errors: Vec<PlanError> = Vec::new();
        let mut refuse =
            |pos: Pos, refusal: Refusal| errors.push(PlanError { pos, channel: spec.name.clone(), refusal });

        if !crate::topology::is_usable_name(&spec.name) {
            refuse(spec.pos, Refusal::BadName);
        }
        if let Some(first) = self.positions.get(&spec.name) {
            refuse(spec.pos, Refusal::DuplicateName { first: *first });
        }

        // Resolve members.
        let mut members: Vec<(usize, Role, Option<u16>)> = Vec::new(); // (interface idx, role, explicit tag)
        for m in &spec.members {
            let Some(idx) = topo.interface_index(&m.interface) else {
                let known: Vec<&str> = topo.interfaces.iter().map(|i| i.name.as_str()).collect();
                refuse(
                    m.pos,
                    Refusal::UnknownInterface {
                        interface: m.interface.clone(),
                        suggestion: crate::topology::suggest(&m.interface, &known),
                    },
                );
                continue;
            };
            if members.iter().any(|(i, _, _)| *i == idx) {
                refuse(m.pos, Refusal::InterfaceTwice { interface: m.interface.clone() });
                continue;
            }
            let role = match (spec.kind, m.role) {
                (ChannelKind::P2mp, Some(role)) => role,
                (ChannelKind::P2mp, None) => {
                    refuse(m.pos, Refusal::RoleMissing { interface: m.interface.clone() });
                    Role::Leaf
                }
                (_, Some(_)) => {
                    refuse(m.pos, Refusal::RoleNotAllowed { interface: m.interface.clone() });
                    Role::Root
                }
                (_, None) => Role::Root,
            };
            let Some(iface) = topo.interfaces.get(idx) else { continue };
            let usage = self.interfaces.get(idx).cloned().unwrap_or_default();
            if let Some(tag) = m.customer_vlan {
                if iface.mode == InterfaceMode::Port {
                    refuse(m.pos, Refusal::CustomerVlanOnPortMode { interface: iface.name.clone() });
                } else if usage.tags.contains(tag.get()) {
                    refuse(m.pos, Refusal::CustomerVlanTaken { interface: iface.name.clone(), vid: tag.get() });
                }
            }
            if iface.mode == InterfaceMode::Port
                && let Some(other) = usage.channels.first()
            {
                refuse(m.pos, Refusal::PortModeBusy { interface: iface.name.clone(), channel: other.clone() });
            }
            let needed = usage.bandwidth_mbps.saturating_add(spec.bandwidth_mbps);
            if needed > iface.capacity_mbps {
                refuse(
                    m.pos,
                    Refusal::OverCapacity { interface: iface.name.clone(), needed, capacity: iface.capacity_mbps },
                );
            }
            members.push((idx, role, m.customer_vlan.map(|v| v.get())));
        }

        let found = spec.members.len();
        match spec.kind {
            ChannelKind::P2p if found != 2 => {
                refuse(spec.pos, Refusal::MemberCount { kind: spec.kind, needs: "exactly 2", found })
            }
            ChannelKind::Mp2mp if found < 2 => {
                refuse(spec.pos, Refusal::MemberCount { kind: spec.kind, needs: "at least 2", found })
            }
            ChannelKind::P2mp => {
                let roots = spec.members.iter().filter(|m| m.role == Some(Role::Root)).count();
                let leaves = spec.members.iter().filter(|m| m.role == Some(Role::Leaf)).count();
                if roots == 0 || leaves == 0 {
                    refuse(spec.pos, Refusal::RootsAndLeaves { roots, leaves });
                }
            }
            _ => {}
        }
        if spec.kind != ChannelKind::P2mp && spec.leaf_vlan.is_some() {
            refuse(spec.pos, Refusal::LeafVlanNotP2mp);
        }
        for vid in spec.vlan.iter().chain(&spec.leaf_vlan) {
            if !topo.pool.allows(vid.get()) {
                refuse(spec.pos, Refusal::VlanNotInPool { vid: vid.get() });
            }
        }
        if spec.vlan.is_some() && spec.vlan == spec.leaf_vlan {
            refuse(spec.pos, Refusal::SameRootAndLeafVlan);
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        // Path and VLANs.
        let member_switches: Vec<usize> = members
            .iter()
            .filter_map(|(i, _, _)| topo.interfaces.get(*i).and_then(|iface| topo.switch_index(&iface.switch)))
            .collect();
        let path = topo.path(&member_switches);
        let mut taken = VlanSet::default();
        for s in &path {
            if let Some(u) = self.used.get(*s) {
                taken.union_with(u);
            }
        }
        // Tagged members without a customer VLAN use the channel VLAN as their tag, so it
        // must not clash with a tag already on their interface.
        let mut tag_taken = VlanSet::default();
        for (i, _, tag) in &members {
            if tag.is_none()
                && topo.interfaces.get(*i).is_some_and(|f| f.mode == InterfaceMode::Tagged)
                && let Some(u) = self.interfaces.get(*i)
            {
                tag_taken.union_with(&u.tags);
            }
        }
        let pool = &topo.pool;
        let check_pinned = |vid: u16, errors: &mut Vec<PlanError>| {
            let refusal = if !pool.allows(vid) {
                Some(Refusal::VlanNotInPool { vid })
            } else if taken.contains(vid) {
                let switch = path
                    .iter()
                    .find(|s| self.used.get(**s).is_some_and(|u| u.contains(vid)))
                    .and_then(|s| topo.switches.get(*s))
                    .map_or_else(String::new, |s| s.name.clone());
                Some(Refusal::VlanTaken { vid, switch })
            } else if tag_taken.contains(vid) {
                let interface = members
                    .iter()
                    .find(|(i, _, t)| t.is_none() && self.interfaces.get(*i).is_some_and(|u| u.tags.contains(vid)))
                    .and_then(|(i, _, _)| topo.interfaces.get(*i))
                    .map_or_else(String::new, |f| f.name.clone());
                Some(Refusal::VlanIsCustomerTag { vid, interface })
            } else {
                None
            };
            if let Some(refusal) = refusal {
                errors.push(PlanError { pos: spec.pos, channel: spec.name.clone(), refusal });
            }
        };
        let mut errors = Vec::new();
        let mut all_taken = taken.clone();
        all_taken.union_with(&tag_taken);
        let vlan = match spec.vlan {
            Some(v) => {
                check_pinned(v.get(), &mut errors);
                Some(v.get())
            }
            None => pick(pool, &all_taken),
        };
        let leaf_vlan = if spec.kind == ChannelKind::P2mp {
            match spec.leaf_vlan {
                Some(v) => {
                    check_pinned(v.get(), &mut errors);
                    Some(v.get())
                }
                None => {
                    let mut t = all_taken.clone();
                    if let Some(v) = vlan {
                        t.insert(v);
                    }
                    pick(pool, &t)
                }
            }
        } else {
            None
        };
        let (Some(vlan), true) = (vlan, spec.kind != ChannelKind::P2mp || leaf_vlan.is_some()) else {
            errors.push(PlanError {
                pos: spec.pos,
                channel: spec.name.clone(),
                refusal: Refusal::PoolExhausted { switches: path.len() },
            });
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }

        let planned_members: Vec<PlannedMember> = members
            .iter()
            .filter_map(|(i, role, tag)| {
                let iface = topo.interfaces.get(*i)?;
                let switch = topo.switch_index(&iface.switch)?;
                let (bridge_port, customer_vlan) = match iface.mode {
                    InterfaceMode::Port => (iface.port.clone(), None),
                    InterfaceMode::Tagged => {
                        let tag = tag.unwrap_or(vlan);
                        (subinterface_name(&iface.port, tag), Some(tag))
                    }
                };
                Some(PlannedMember { interface: iface.name.clone(), switch, role: *role, bridge_port, customer_vlan })
            })
            .collect();
        let items = channel_items(topo, spec.kind, vlan, leaf_vlan, &planned_members, &path);
        let channel = PlannedChannel {
            name: spec.name.clone(),
            kind: spec.kind,
            vlan,
            leaf_vlan,
            bandwidth_mbps: spec.bandwidth_mbps,
            members: planned_members,
            path,
            items,
        };
        self.commit(channel, spec.pos);
        self.channels.get(&spec.name).ok_or_else(Vec::new)
    }

    /// Removes a channel, freeing its VLANs, bandwidth and customer tags at once.
    pub fn remove(&mut self, name: &str) -> Option<PlannedChannel> {
        let channel = self.channels.remove(name)?;
        self.positions.remove(name);
        for s in &channel.path {
            if let Some(u) = self.used.get_mut(*s) {
                u.remove(channel.vlan);
                if let Some(l) = channel.leaf_vlan {
                    u.remove(l);
                }
            }
        }
        for m in &channel.members {
            if let Some(u) = self.topology.interface_index(&m.interface).and_then(|i| self.interfaces.get_mut(i)) {
                u.bandwidth_mbps = u.bandwidth_mbps.saturating_sub(channel.bandwidth_mbps);
                u.channels.retain(|c| c != name);
                if let Some(tag) = m.customer_vlan {
                    u.tags.remove(tag);
                }
            }
        }
        for (s, item) in &channel.items {
            if let Some(d) = self.desired.get_mut(*s)
                && let Some(count) = d.get_mut(item)
            {
                *count -= 1;
                if *count == 0 {
                    d.remove(item);
                }
            }
        }
        Some(channel)
    }

    fn commit(&mut self, channel: PlannedChannel, pos: Pos) {
        for s in &channel.path {
            if let Some(u) = self.used.slot(*s) {
                u.insert(channel.vlan);
                if let Some(l) = channel.leaf_vlan {
                    u.insert(l);
                }
            }
        }
        for m in &channel.members {
            if let Some(u) = self.topology.interface_index(&m.interface).and_then(|i| self.interfaces.slot(i)) {
                u.bandwidth_mbps = u.bandwidth_mbps.saturating_add(channel.bandwidth_mbps);
                u.channels.push(channel.name.clone());
                if let Some(tag) = m.customer_vlan {
                    u.tags.insert(tag);
                }
            }
        }
        for (s, item) in &channel.items {
            if let Some(d) = self.desired.get_mut(*s) {
                *d.entry(item.clone()).or_insert(0) += 1;
            }
        }
        self.positions.insert(channel.name.clone(), pos);
        self.channels.insert(channel.name.clone(), channel);
    }
}

/// The items one channel puts on the switches of its path.
///
/// - Trunk ports between path switches: every channel VLAN, tagged.
/// - A member's bridge port: E-Line/E-LAN and E-Tree roots: `vid V pvid untagged` (roots
///   also `vid L untagged`); E-Tree leaves: `vid L pvid` (tagged egress) and `vid R untagged`,
///   plus tc drops of 802.1Q frames in both directions.
/// - Tagged-mode members: the sub-interface, made a bridge port, configured as above.
/// - Static FDB on every path switch: every member MAC in V (R), and root MACs in L, each to
///   the port toward it.
fn channel_items(
    topo: &Topology,
    kind: ChannelKind,
    vlan: u16,
    leaf_vlan: Option<u16>,
    members: &[PlannedMember],
    path: &[usize],
) -> Vec<(usize, Item)> {
    let mut items = Vec::new();
    let vlans: Vec<u16> = std::iter::once(vlan).chain(leaf_vlan).collect();
    for &s in path {
        if let Some((p, uplink)) = topo.parent(s)
            && path.binary_search(&p).is_ok()
        {
            let downlink = topo.port_toward(p, s).unwrap_or_default().to_string();
            for &v in &vlans {
                items.push((s, Item::Vlan { port: uplink.to_string(), vid: v, pvid: false, untagged: false }));
                items.push((p, Item::Vlan { port: downlink.clone(), vid: v, pvid: false, untagged: false }));
            }
        }
    }
    for m in members {
        let s = m.switch;
        let port = m.bridge_port.clone();
        if let Some(tag) = m.customer_vlan {
            let parent = topo.interface(&m.interface).map(|i| i.port.clone()).unwrap_or_default();
            items.push((s, Item::SubInterface { parent, vid: tag }));
            items.push((s, Item::Port { port: port.clone() }));
        }
        match (kind, m.role, leaf_vlan) {
            (ChannelKind::P2mp, Role::Leaf, Some(l)) => {
                items.push((s, Item::Vlan { port: port.clone(), vid: l, pvid: true, untagged: false }));
                items.push((s, Item::Vlan { port: port.clone(), vid: vlan, pvid: false, untagged: true }));
                items.push((s, Item::Clsact { port: port.clone() }));
                items.push((s, Item::TcDrop { port: port.clone(), direction: Direction::Ingress }));
                items.push((s, Item::TcDrop { port: port.clone(), direction: Direction::Egress }));
            }
            (ChannelKind::P2mp, _, Some(l)) => {
                items.push((s, Item::Vlan { port: port.clone(), vid: vlan, pvid: true, untagged: true }));
                items.push((s, Item::Vlan { port: port.clone(), vid: l, pvid: false, untagged: true }));
            }
            _ => items.push((s, Item::Vlan { port: port.clone(), vid: vlan, pvid: true, untagged: true })),
        }
    }
    for &s in path {
        for m in members {
            let toward = if m.switch == s {
                Some(m.bridge_port.clone())
            } else {
                topo.port_toward(s, m.switch).map(str::to_string)
            };
            let (Some(port), Some(iface)) = (toward, topo.interface(&m.interface)) else { continue };
            for mac in &iface.macs {
                items.push((s, Item::Fdb { mac: *mac, vid: vlan, port: port.clone() }));
                if let (Some(l), Role::Root) = (leaf_vlan, m.role) {
                    items.push((s, Item::Fdb { mac: *mac, vid: l, port: port.clone() }));
                }
            }
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;
    use crate::orchestrator::{change_set, parse_channels};

    /// A line of three switches a - b - c with port-mode sites on a and c, tagged sites on b and c.
    const LINE: &str = "
name: t
vlans: {pool: 10-20}
switches: {a: {netns: na}, b: {}, c: {}}
links:
  - endpoints: [a:ab, b:ba]
  - endpoints: [b:bc, c:cb]
interfaces:
  x: {organization: o, switch: a, port: px, capacity: 100, macs: ['02:00:00:00:00:0a']}
  y: {organization: o, switch: c, port: py, capacity: 100, macs: ['02:00:00:00:00:0b']}
  z: {organization: o, switch: b, port: pz, capacity: 100, mode: tagged, macs: ['02:00:00:00:00:0c']}
  w: {organization: o, switch: c, port: pw, capacity: 100, macs: ['02:00:00:00:00:0d']}
  v: {organization: o, switch: c, port: pv, capacity: 100, mode: tagged, macs: ['02:00:00:00:00:0e']}
";

    /// Plans `channels` on LINE and renders the channel items (not the baseline) per switch.
    fn check(channels: &str, expect: Expect) {
        let topo = crate::topology::parse(LINE).unwrap();
        let (specs, diags) = parse_channels(channels);
        assert!(diags.is_empty(), "{diags:?}");
        let actual = match plan(&topo, &specs) {
            Ok(planner) => {
                let baseline: Vec<_> = (0..3).map(|s| Planner::new(&topo).desired(s)).collect();
                let mut out = String::new();
                for sw in change_set(&planner, &baseline).switches {
                    crate::southbound::dry_run::render_switch(&mut out, &sw);
                }
                out
            }
            Err(errors) => errors.iter().map(|e| format!("{e}\n")).collect(),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn p2p_across_the_line() {
        check(
            "- {name: e, kind: p2p, members: [x, y]}",
            expect![[r#"
                # switch a (driver dry-run, netns na, bridge br0): 4 to add, 0 to remove
                bridge -n na vlan add dev ab vid 10
                bridge -n na vlan add dev px vid 10 pvid untagged
                bridge -n na fdb add 02:00:00:00:00:0a dev px master static vlan 10
                bridge -n na fdb add 02:00:00:00:00:0b dev ab master static vlan 10
                # switch b (driver dry-run, bridge br0): 4 to add, 0 to remove
                bridge vlan add dev ba vid 10
                bridge vlan add dev bc vid 10
                bridge fdb add 02:00:00:00:00:0a dev ba master static vlan 10
                bridge fdb add 02:00:00:00:00:0b dev bc master static vlan 10
                # switch c (driver dry-run, bridge br0): 4 to add, 0 to remove
                bridge vlan add dev cb vid 10
                bridge vlan add dev py vid 10 pvid untagged
                bridge fdb add 02:00:00:00:00:0a dev cb master static vlan 10
                bridge fdb add 02:00:00:00:00:0b dev py master static vlan 10
            "#]],
        );
    }

    #[test]
    fn etree_leaf_on_a_tagged_port_gets_a_subinterface_and_drops() {
        check(
            "- {name: t, kind: p2mp, members: [{interface: x, role: root}, {interface: z, role: leaf, customer_vlan: 500}]}",
            expect![[r#"
                # switch a (driver dry-run, netns na, bridge br0): 7 to add, 0 to remove
                bridge -n na vlan add dev ab vid 10
                bridge -n na vlan add dev ab vid 11
                bridge -n na vlan add dev px vid 10 pvid untagged
                bridge -n na vlan add dev px vid 11 untagged
                bridge -n na fdb add 02:00:00:00:00:0a dev px master static vlan 10
                bridge -n na fdb add 02:00:00:00:00:0a dev px master static vlan 11
                bridge -n na fdb add 02:00:00:00:00:0c dev ab master static vlan 10
                # switch b (driver dry-run, bridge br0): 12 to add, 0 to remove
                ip link set dev pz up
                ip link add link pz name pz.500 type vlan id 500
                ip link set dev pz.500 master br0
                ip link set dev pz.500 up
                bridge link set dev pz.500 learning off flood off mcast_flood off
                bridge vlan add dev ba vid 10
                bridge vlan add dev ba vid 11
                bridge vlan add dev pz.500 vid 10 untagged
                bridge vlan add dev pz.500 vid 11 pvid
                tc qdisc add dev pz.500 clsact
                tc filter add dev pz.500 ingress protocol 802.1Q pref 1 matchall action drop
                tc filter add dev pz.500 egress protocol 802.1Q pref 1 matchall action drop
                bridge fdb add 02:00:00:00:00:0a dev ba master static vlan 10
                bridge fdb add 02:00:00:00:00:0a dev ba master static vlan 11
                bridge fdb add 02:00:00:00:00:0c dev pz.500 master static vlan 10
                # switch c (driver dry-run, bridge br0): 0 to add, 0 to remove
            "#]],
        );
    }

    #[test]
    fn disjoint_paths_reuse_a_vlan_shared_switches_do_not() {
        // e1 uses a-b, e2 only c: both get 10. e3 (x-z) shares a and b with e1: gets 11.
        let topo = crate::topology::parse(LINE).unwrap();
        let (specs, _) = parse_channels(
            "- {name: e1, kind: p2p, members: [x, z]}\n- {name: e2, kind: p2p, members: [y, w]}\n- {name: e3, kind: mp2mp, members: [{interface: z, customer_vlan: 7}, v]}",
        );
        let planner = plan(&topo, &specs).unwrap();
        let vlans: Vec<(&str, u16)> = planner.channels().values().map(|c| (c.name.as_str(), c.vlan)).collect();
        assert_eq!(vlans, vec![("e1", 10), ("e2", 10), ("e3", 11)]);
    }

    #[test]
    fn refusals_say_why() {
        check(
            "- {name: a, kind: p2p, members: [x, y]}\n- {name: b, kind: p2p, members: [x, w]}\n- {name: c, kind: mp2mp, bandwidth: 101, members: [z, w]}",
            expect![[r#"
                2:34: channel `b`: interface `x` is in port mode and already carries channel `a`: a port-mode interface carries one channel
                3:52: channel `c`: interface `z` would carry 101 Mbps, over its capacity of 100 Mbps
                3:55: channel `c`: interface `w` would carry 101 Mbps, over its capacity of 100 Mbps
            "#]],
        );
    }

    #[test]
    fn a_full_pool_is_refused_and_freed_vlans_are_reused() {
        let topo = crate::topology::parse(LINE).unwrap();
        let mut planner = Planner::new(&topo);
        let spec = |n: usize| {
            let (mut s, _) = parse_channels(&format!(
                "- {{name: c{n}, kind: p2p, members: [{{interface: z, customer_vlan: {}}}, v], bandwidth: 1}}",
                100 + n
            ));
            s.remove(0)
        };
        for n in 0..11 {
            assert_eq!(planner.add(&spec(n)).unwrap().vlan, 10 + n as u16);
        }
        let err = planner.add(&spec(11)).unwrap_err();
        assert_eq!(err[0].refusal, Refusal::PoolExhausted { switches: 2 });
        planner.remove("c4").unwrap();
        assert_eq!(planner.add(&spec(11)).unwrap().vlan, 14);
    }
}
