//! The planner: validates channels against the topology, computes each channel's path,
//! allocates its VLANs and builds the desired state of every switch.
//!
//! Pure and incremental: [`Planner::add`] plans one more channel in microseconds on a large
//! tree, [`Planner::remove`] frees it, and [`plan`] folds a whole channel set. The
//! orchestrator, the CLI and every driver share it.
//!
//! Planning costs what it makes and nothing else: a member's checks read its interface's
//! use in place (a bandwidth sum, and for a port-mode interface the one channel on it) and
//! its customer tags, kept apart; a channel's items are made once, as compact keys
//! ([`super::compact`]), and kept once, in its record; each switch lists the channels on
//! it, and a switch's keys are sorted only when its desired state is asked for.
//!
//! The per-channel state follows the schemes proven in ../shared/LAB.md (ARCHITECTURE.md
//! repeats them): one VLAN per E-Line/E-LAN; a root VLAN R and a leaf VLAN L per E-Tree.

use compact_str::CompactString;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{ChannelKind, InterfaceMode, Pos, Role};
use crate::topology::Topology;

use super::compact::{Key, Names, downlink, interface_port, sort_dedup, uplink};
use super::items::{MemberAt, Record, channel_keys};
use super::sparse::Sparse;
use super::spec::ChannelSpec;
use super::state::{Item, subinterface};
use super::vlan::{VlanSet, pick_among};

mod batch;
mod holders;
mod refusal;

pub use batch::plan;
pub use refusal::{PlanError, Refusal};

/// A channel that passed every check, with what it was given. Its items are not kept here
/// (the planner keeps them once, compact): [`PlannedChannel::items`] makes them again.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedChannel {
    pub name: CompactString,
    pub kind: ChannelKind,
    /// The channel's VLAN; the root VLAN R of an E-Tree.
    pub vlan: u16,
    /// The leaf VLAN L of an E-Tree.
    pub leaf_vlan: Option<u16>,
    /// The channel's bandwidth in Mbps: every member's that does not give its own.
    pub bandwidth_mbps: u64,
    /// The class of service, and the PCP the topology maps it to: the priority of the
    /// channel's S-tags on trunks.
    pub class: CompactString,
    pub pcp: u8,
    pub members: Vec<PlannedMember>,
    /// Switch indices of the channel's path (the subtree joining its members), sorted.
    pub path: Vec<usize>,
    /// Where the channel came from, for duplicate-name messages.
    #[serde(skip)]
    pos: Pos,
    /// Where the planner keeps the channel's items ([`Record`]).
    #[serde(skip)]
    slot: u32,
}

/// Channels are equal when what they were given is: where the planner keeps them and where
/// they were read from do not count.
impl PartialEq for PlannedChannel {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.kind == other.kind
            && self.vlan == other.vlan
            && self.leaf_vlan == other.leaf_vlan
            && self.bandwidth_mbps == other.bandwidth_mbps
            && self.class == other.class
            && self.pcp == other.pcp
            && self.members == other.members
            && self.path == other.path
    }
}

impl Eq for PlannedChannel {}

/// A member as planned: where it sits and which bridge port carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMember {
    pub interface: CompactString,
    /// Switch index.
    pub switch: usize,
    pub role: Role,
    /// The bridge port for this member: the interface's port, or its sub-interface.
    pub bridge_port: CompactString,
    /// The customer's tag on a tagged-mode interface.
    pub customer_vlan: Option<u16>,
    /// The member's bandwidth in Mbps: its own when it gave one, else the channel's. Its
    /// ingress policer's rate, and what it takes of its interface's capacity.
    pub bandwidth_mbps: u64,
}

/// Incremental planner over one topology.
#[derive(Clone, Debug)]
pub struct Planner<'t> {
    topology: &'t Topology,
    channels: BTreeMap<CompactString, PlannedChannel>,
    /// What the channels hold. Apart from `channels` so that a channel's entry there can be
    /// found once, when it is checked, and filled when it is committed.
    books: Books,
}

/// What the planned channels (and reservations) hold of the network.
#[derive(Clone, Debug)]
struct Books {
    /// VLAN IDs in use on each switch.
    used: Sparse<VlanSet>,
    /// Use of each service interface: small records, side by side.
    interfaces: Sparse<InterfaceUse>,
    /// Customer tags in use on each tagged interface, apart from its use: a set is 512
    /// bytes, and kept inside the use it spread the bandwidths a planning member reads
    /// over 23 MB at 40,000 interfaces, where apart they take 1.3 MB.
    tags: Sparse<VlanSet>,
    /// Each channel's items, by its slot; a removed channel's slot is empty until reused.
    records: Vec<Record>,
    /// Slots free for reuse.
    free: Vec<u32>,
    /// For each switch, the channels whose path holds it: (slot, the switch's index in the
    /// path). A switch holds at most one channel per VLAN, so at most 4,094 entries.
    on_switch: Vec<Vec<(u32, u32)>>,
    /// The switch of each service interface plus one, 0 until looked up: the topology
    /// finds it by name, a hash and a string comparison on cold memory (a seventh of
    /// planning at 100k channels). Empty until the first channel is planned.
    switch_of: Vec<u32>,
}

/// What [`Books::look_ahead`] found for a channel: each member's interface index, and the
/// path when every member was found.
struct Ahead<'a> {
    interfaces: &'a [Option<usize>],
    path: Option<Vec<usize>>,
}

/// What the channels on a service interface take of it.
#[derive(Clone, Debug, Default)]
struct InterfaceUse {
    /// The bandwidth of the members on it: each member's own ([`PlannedMember::bandwidth_mbps`]),
    /// taken by [`Books::commit`] and given back by [`Planner::remove`] alike.
    bandwidth_mbps: u64,
    /// The channel a port-mode interface carries (it carries one at most).
    holder: Option<CompactString>,
}

/// What every switch holds whatever its channels: its bridge is an 802.1ad provider bridge,
/// and trunk ports and port-mode interface ports are bridge ports with learning and
/// unknown-unicast flooding off (broadcast and multicast flooded).
pub fn baseline(topology: &Topology, s: usize) -> BTreeSet<Item> {
    let Some(sw) = topology.switches.get(s) else { return BTreeSet::new() };
    let mut out: BTreeSet<Item> = topology
        .trunk_ports(s)
        .into_iter()
        .map(|port| Item::Port { port: port.to_string(), mcast_flood: true })
        .collect();
    out.insert(Item::ProviderBridge { snooping_off: true });
    out.extend(
        topology
            .interfaces_on(&sw.name)
            .filter(|i| i.mode == InterfaceMode::Port)
            .map(|i| Item::Port { port: i.port.clone(), mcast_flood: true }),
    );
    out
}

impl<'t> Planner<'t> {
    /// A planner with no channels. Every switch's desired state starts with its baseline:
    /// trunk ports and port-mode interface ports are bridge ports with learning and
    /// unknown-unicast flooding off, whether or not a channel uses them yet.
    pub fn new(topology: &'t Topology) -> Planner<'t> {
        let n = topology.switches.len();
        Planner {
            topology,
            channels: BTreeMap::new(),
            books: Books {
                used: Sparse::new(n),
                interfaces: Sparse::new(topology.interfaces.len()),
                tags: Sparse::new(topology.interfaces.len()),
                records: Vec::new(),
                free: Vec::new(),
                on_switch: vec![Vec::new(); n],
                switch_of: Vec::new(),
            },
        }
    }

    /// Marks VLAN `vid` as in use on switch `s` by a channel this planner does not hold.
    /// The orchestrator plans one channel at a time this way, against the allocations in
    /// its database, instead of re-planning every channel on the same switches.
    pub fn reserve_vlan(&mut self, s: usize, vid: u16) {
        if let Some(u) = self.books.used.slot(s) {
            u.insert(vid);
        }
    }

    /// Marks customer tag `vid` as in use on an interface by a channel this planner does
    /// not hold.
    pub fn reserve_tag(&mut self, interface: &str, vid: u16) {
        if let Some(u) = self.topology.interface_index(interface).and_then(|i| self.books.tags.slot(i)) {
            u.insert(vid);
        }
    }

    pub fn topology(&self) -> &'t Topology {
        self.topology
    }

    /// The planned channels, by name.
    pub fn channels(&self) -> &BTreeMap<CompactString, PlannedChannel> {
        &self.channels
    }

    /// The desired state of switch `s`: its baseline and its channels' items.
    pub fn desired(&self, s: usize) -> BTreeSet<Item> {
        let mut out = baseline(self.topology, s);
        let names = Names::new(self.topology);
        out.extend(self.keys_on(s).map(|key| names.item(key).to_item()));
        out
    }

    /// The desired state of every switch as compact keys, each switch's sorted in the order
    /// of its items with no repeats: what [`Planner::desired`] gives for each, without a
    /// string made. The keys are copies (16 bytes each); nothing else is.
    pub fn desired_keys(&self) -> Vec<Vec<Key>> {
        let topo = self.topology;
        let n = topo.switches.len();
        let mut out: Vec<Vec<Key>> = self
            .books
            .on_switch
            .iter()
            .map(|on| Vec::with_capacity(on.iter().map(|(slot, k)| self.keys_at(*slot, *k).len()).sum::<usize>() + 8))
            .collect();
        // The baseline: the provider bridge, trunk ends (each link is a child's uplink and
        // its parent's downlink toward it) and port-mode interfaces.
        for v in &mut out {
            v.push(Key::provider_bridge());
        }
        for s in 0..n {
            if let Some((p, _)) = topo.parent(s) {
                if let Some(v) = out.get_mut(s) {
                    v.push(Key::port(uplink(s), 0));
                }
                if let Some(v) = out.get_mut(p) {
                    v.push(Key::port(downlink(s), 0));
                }
            }
        }
        for (i, iface) in topo.interfaces.iter().enumerate() {
            if iface.mode == InterfaceMode::Port
                && let Some(v) = topo.switch_index(&iface.switch).and_then(|s| out.get_mut(s))
            {
                v.push(Key::port(interface_port(n, i), 0));
            }
        }
        let names = Names::new(topo);
        for (s, keys) in out.iter_mut().enumerate() {
            for (slot, k) in self.books.on_switch.get(s).into_iter().flatten() {
                keys.extend_from_slice(self.keys_at(*slot, *k));
            }
            sort_dedup(&names, keys);
        }
        out
    }

    /// The channel keys on switch `s`, repeats included.
    fn keys_on(&self, s: usize) -> impl Iterator<Item = &Key> + '_ {
        self.books.on_switch.get(s).into_iter().flatten().flat_map(|(slot, k)| self.keys_at(*slot, *k))
    }

    fn keys_at(&self, slot: u32, k: u32) -> &[Key] {
        self.books.records.get(slot as usize).map_or(&[], |r| r.at(k as usize))
    }

    /// VLAN IDs in use on switch `s`.
    pub fn vlans_in_use(&self, s: usize) -> &VlanSet {
        static EMPTY: std::sync::OnceLock<VlanSet> = std::sync::OnceLock::new();
        self.books.used.get(s).unwrap_or_else(|| EMPTY.get_or_init(VlanSet::default))
    }

    /// Plans one more channel, or says every reason it cannot be.
    pub fn add(&mut self, spec: &ChannelSpec) -> Result<&PlannedChannel, Vec<PlanError>> {
        // The channels are searched twice, for the check and the commit, the second time
        // along the nodes the first brought into cache ([`plan`] does without).
        let first = self.channels.get(spec.name.as_str()).map(|c| c.pos);
        match self.books.plan_channel(self.topology, spec, first, None) {
            // A name already used was refused, so the entry is vacant.
            Ok(channel) => match self.channels.entry(spec.name.clone()) {
                Entry::Vacant(entry) => Ok(entry.insert(channel)),
                Entry::Occupied(_) => Err(Vec::new()),
            },
            Err(mut errors) => {
                holders::name(self.topology, &mut errors, self.channels.values());
                Err(errors)
            }
        }
    }

    /// Removes a channel, freeing its VLANs, bandwidth and customer tags at once.
    pub fn remove(&mut self, name: &str) -> Option<PlannedChannel> {
        let channel = self.channels.remove(name)?;
        for s in &channel.path {
            if let Some(u) = self.books.used.get_mut(*s) {
                u.remove(channel.vlan);
                if let Some(l) = channel.leaf_vlan {
                    u.remove(l);
                }
            }
            if let Some(on) = self.books.on_switch.get_mut(*s)
                && let Some(at) = on.iter().position(|(slot, _)| *slot == channel.slot)
            {
                on.swap_remove(at);
            }
        }
        for m in &channel.members {
            let Some(i) = self.topology.interface_index(&m.interface) else { continue };
            if let Some(u) = self.books.interfaces.get_mut(i) {
                u.bandwidth_mbps = u.bandwidth_mbps.saturating_sub(m.bandwidth_mbps);
                if u.holder.as_deref() == Some(name) {
                    u.holder = None;
                }
            }
            if let Some(tag) = m.customer_vlan
                && let Some(tags) = self.books.tags.get_mut(i)
            {
                tags.remove(tag);
            }
        }
        if let Some(record) = self.books.records.get_mut(channel.slot as usize) {
            *record = Record::default();
            self.books.free.push(channel.slot);
        }
        Some(channel)
    }
}

impl Books {
    /// Checks `spec` against the topology and what is planned, and takes what it needs:
    /// the channel as planned, its books committed; or every reason it cannot be. `first`
    /// is where the channel already planned under the same name was read, if there is one;
    /// `ahead`, what the caller looked up already.
    fn plan_channel(
        &mut self,
        topo: &Topology,
        spec: &ChannelSpec,
        first: Option<Pos>,
        ahead: Option<Ahead<'_>>,
    ) -> Result<PlannedChannel, Vec<PlanError>> {
        let (found, ahead_path) = ahead.map_or((None, None), |a| (Some(a.interfaces), a.path));
        let mut errors: Vec<PlanError> = Vec::new();
        let mut refuse =
            |pos: Pos, refusal: Refusal| errors.push(PlanError { pos, channel: spec.name.to_string(), refusal });

        if !crate::topology::is_usable_name(&spec.name) {
            refuse(spec.pos, Refusal::BadName);
        }
        let pcp = topo.classes.pcp(&spec.class).unwrap_or_else(|| {
            let known: Vec<&str> = topo.classes.names().collect();
            refuse(
                spec.pos,
                Refusal::UnknownClass {
                    class: spec.class.to_string(),
                    suggestion: crate::topology::suggest(&spec.class, &known),
                    known: known.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
                },
            );
            0
        });
        if let Some(first) = first {
            refuse(spec.pos, Refusal::DuplicateName { first });
        }

        // Resolve members.
        // (interface idx, role, explicit tag, the member's bandwidth)
        let mut members: Vec<(usize, Role, Option<u16>, u64)> = Vec::new();
        let mut member_names: Vec<&CompactString> = Vec::new(); // as the spec spells them, beside `members`
        for (k, m) in spec.members.iter().enumerate() {
            let idx = match found {
                Some(found) => found.get(k).copied().flatten(),
                None => topo.interface_index(&m.interface),
            };
            let Some(idx) = idx else {
                let known: Vec<&str> = topo.interfaces.iter().map(|i| i.name.as_str()).collect();
                refuse(
                    m.pos,
                    Refusal::UnknownInterface {
                        interface: m.interface.to_string(),
                        suggestion: crate::topology::suggest(&m.interface, &known),
                    },
                );
                continue;
            };
            if members.iter().any(|(i, ..)| *i == idx) {
                refuse(m.pos, Refusal::InterfaceTwice { interface: m.interface.to_string() });
                continue;
            }
            let role = match (spec.kind, m.role) {
                (ChannelKind::P2mp, Some(role)) => role,
                (ChannelKind::P2mp, None) => {
                    refuse(m.pos, Refusal::RoleMissing { interface: m.interface.to_string() });
                    Role::Leaf
                }
                (_, Some(_)) => {
                    refuse(m.pos, Refusal::RoleNotAllowed { interface: m.interface.to_string() });
                    Role::Root
                }
                (_, None) => Role::Root,
            };
            let Some(iface) = topo.interfaces.get(idx) else { continue };
            // Read in place: a member costs the same however many channels its interface has.
            let usage = self.interfaces.get(idx);
            if let Some(tag) = m.customer_vlan {
                if iface.mode == InterfaceMode::Port {
                    refuse(m.pos, Refusal::CustomerVlanOnPortMode { interface: iface.name.clone() });
                } else if self.tags.get(idx).is_some_and(|u| u.contains(tag.get())) {
                    refuse(
                        m.pos,
                        Refusal::CustomerVlanTaken { interface: iface.name.clone(), vid: tag.get(), channel: None },
                    );
                }
            }
            if iface.mode == InterfaceMode::Port
                && let Some(other) = usage.and_then(|u| u.holder.as_ref())
            {
                refuse(m.pos, Refusal::PortModeBusy { interface: iface.name.clone(), channel: other.to_string() });
            }
            // Each member takes its own bandwidth of its interface; trunks are not counted
            // (the topology gives them no capacity), so the channel's own figure is only
            // every member's default.
            let bandwidth = m.bandwidth_in(spec.bandwidth_mbps);
            let needed = usage.map_or(0, |u| u.bandwidth_mbps).saturating_add(bandwidth);
            if needed > iface.capacity_mbps {
                refuse(
                    m.pos,
                    Refusal::OverCapacity { interface: iface.name.clone(), needed, capacity: iface.capacity_mbps },
                );
            }
            members.push((idx, role, m.customer_vlan.map(|v| v.get()), bandwidth));
            member_names.push(&m.interface);
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
        for (field, vid) in [("vlan", spec.vlan), ("leaf_vlan", spec.leaf_vlan)] {
            if let Some(vid) = vid.filter(|v| !topo.pool.allows(v.get())) {
                refuse(spec.pos, Refusal::VlanNotInPool { vid: vid.get(), field, pool: topo.pool.to_string() });
            }
        }
        if spec.vlan.is_some() && spec.vlan == spec.leaf_vlan {
            refuse(spec.pos, Refusal::SameRootAndLeafVlan);
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        // Path and VLANs.
        let switch_of: Vec<Option<usize>> = members.iter().map(|(i, ..)| self.switch_of(topo, *i)).collect();
        let path = ahead_path.unwrap_or_else(|| topo.path(&switch_of.iter().flatten().copied().collect::<Vec<_>>()));
        // The VLANs in use on the path, and the tags in use on the interfaces of tagged
        // members without a customer VLAN: those use the channel VLAN as their tag, so it
        // must not clash with a tag already there. Read in place, never merged into a copy.
        let mut all_sets: Vec<&VlanSet> = path.iter().filter_map(|s| self.used.get(*s)).collect();
        let n_path_sets = all_sets.len();
        all_sets.extend(
            members
                .iter()
                .filter(|(i, _, tag, _)| {
                    tag.is_none() && topo.interfaces.get(*i).is_some_and(|f| f.mode == InterfaceMode::Tagged)
                })
                .filter_map(|(i, ..)| self.tags.get(*i)),
        );
        let (path_sets, tag_sets) = all_sets.split_at(n_path_sets);
        let pool = &topo.pool;
        // A pinned VLAN outside the pool was refused above.
        let check_pinned = |vid: u16, errors: &mut Vec<PlanError>| {
            let refusal = if path_sets.iter().any(|u| u.contains(vid)) {
                let switch = path
                    .iter()
                    .find(|s| self.used.get(**s).is_some_and(|u| u.contains(vid)))
                    .and_then(|s| topo.switches.get(*s))
                    .map_or_else(String::new, |s| s.name.clone());
                Some(Refusal::VlanTaken { vid, switch, channel: None })
            } else if tag_sets.iter().any(|u| u.contains(vid)) {
                let interface = members
                    .iter()
                    .find(|(i, _, t, _)| t.is_none() && self.tags.get(*i).is_some_and(|u| u.contains(vid)))
                    .and_then(|(i, ..)| topo.interfaces.get(*i))
                    .map_or_else(String::new, |f| f.name.clone());
                Some(Refusal::VlanIsCustomerTag { vid, interface, channel: None })
            } else {
                None
            };
            if let Some(refusal) = refusal {
                errors.push(PlanError { pos: spec.pos, channel: spec.name.to_string(), refusal });
            }
        };
        let mut errors = Vec::new();
        let vlan = match spec.vlan {
            Some(v) => {
                check_pinned(v.get(), &mut errors);
                Some(v.get())
            }
            None => pick_among(pool, &all_sets, None),
        };
        let leaf_vlan = if spec.kind == ChannelKind::P2mp {
            match spec.leaf_vlan {
                Some(v) => {
                    check_pinned(v.get(), &mut errors);
                    Some(v.get())
                }
                None => pick_among(pool, &all_sets, vlan),
            }
        } else {
            None
        };
        let (Some(vlan), true) = (vlan, spec.kind != ChannelKind::P2mp || leaf_vlan.is_some()) else {
            errors.push(PlanError {
                pos: spec.pos,
                channel: spec.name.to_string(),
                refusal: Refusal::PoolExhausted {
                    switches: path.len(),
                    vlans: usize::from(
                        spec.kind == ChannelKind::P2mp && spec.vlan.is_none() && spec.leaf_vlan.is_none(),
                    ) + 1,
                },
            });
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut at: Vec<MemberAt> = Vec::with_capacity(members.len());
        let mut planned_members: Vec<PlannedMember> = Vec::with_capacity(members.len());
        for (((i, role, tag, bandwidth), switch), spec_name) in members.iter().zip(&switch_of).zip(&member_names) {
            let (Some(iface), Some(switch)) = (topo.interfaces.get(*i), *switch) else { continue };
            let (bridge_port, customer_vlan) = match iface.mode {
                InterfaceMode::Port => (CompactString::from(iface.port.as_str()), None),
                InterfaceMode::Tagged => {
                    let tag = tag.unwrap_or(vlan);
                    (subinterface(&iface.port, tag), Some(tag))
                }
            };
            at.push(MemberAt { interface: *i, switch, role: *role, tag: customer_vlan, bandwidth_mbps: *bandwidth });
            planned_members.push(PlannedMember {
                // The spec's copy of the name (just read) rather than the topology's (cold).
                interface: (*spec_name).clone(),
                switch,
                role: *role,
                bridge_port,
                customer_vlan,
                bandwidth_mbps: *bandwidth,
            });
        }
        let record = channel_keys(topo, spec.kind, vlan, leaf_vlan, pcp, &at, &path);
        let mut channel = PlannedChannel {
            name: spec.name.clone(),
            kind: spec.kind,
            vlan,
            leaf_vlan,
            bandwidth_mbps: spec.bandwidth_mbps,
            class: spec.class.clone(),
            pcp,
            members: planned_members,
            path,
            pos: spec.pos,
            slot: 0,
        };
        self.commit(topo, &mut channel, &at, record);
        Ok(channel)
    }

    /// Reads, ahead of planning, what a window of channels will read ([`batch::plan`]):
    /// `found` holds their members' interfaces. Planning then finds it in cache. Each kind
    /// of read is made for the whole window before the next kind, which needs it: the
    /// reads of one pass do not wait on each other, so the processor overlaps their cache
    /// misses, where one channel at a time they came one after another. Returns each
    /// channel's path, when all its members were found.
    fn look_ahead<'a>(
        &mut self,
        topo: &Topology,
        window: &[&ChannelSpec],
        found: &'a [Option<usize>],
        ends: &[usize],
    ) -> Vec<Ahead<'a>> {
        let records = || found.iter().flatten().filter_map(|i| topo.interfaces.get(*i));
        // The interfaces' records, then what they point at, their use and their switches.
        for f in records() {
            std::hint::black_box((f.capacity_mbps, f.mode));
        }
        for f in records() {
            std::hint::black_box((f.port.as_bytes().first().copied(), f.macs.first().copied()));
        }
        for i in found.iter().flatten() {
            // The use (bandwidth and holder), and a tagged interface's customer tags' first
            // line: they are kept apart.
            std::hint::black_box(self.interfaces.get(*i).map(|u| u.bandwidth_mbps));
            if topo.interfaces.get(*i).is_some_and(|f| f.mode == InterfaceMode::Tagged) {
                std::hint::black_box(self.tags.get(*i).map(|u| u.contains(0)));
            }
            self.switch_of(topo, *i);
        }
        // The paths, then their switches' VLANs and channel lists.
        let mut ahead = Vec::with_capacity(window.len());
        let mut start = 0;
        for (spec, end) in window.iter().zip(ends) {
            let interfaces = found.get(start..*end).unwrap_or_default();
            start = *end;
            let switches: Vec<usize> = interfaces.iter().flatten().filter_map(|i| self.switch_of(topo, *i)).collect();
            let path = (switches.len() == spec.members.len()).then(|| topo.path(&switches));
            ahead.push(Ahead { interfaces, path });
        }
        for s in ahead.iter().filter_map(|a| a.path.as_ref()).flatten() {
            std::hint::black_box(self.used.get(*s).map(|u| u.contains(0)));
            std::hint::black_box(self.on_switch.get(*s).and_then(|on| on.last().copied()));
        }
        ahead
    }

    /// The switch of service interface `i`.
    fn switch_of(&mut self, topo: &Topology, i: usize) -> Option<usize> {
        if self.switch_of.is_empty() {
            self.switch_of = vec![0; topo.interfaces.len()];
        }
        let known = self.switch_of.get_mut(i)?;
        if *known == 0 {
            *known = topo.interfaces.get(i).and_then(|f| topo.switch_index(&f.switch)).map_or(0, |s| s as u32 + 1);
        }
        (*known as usize).checked_sub(1)
    }

    /// Takes what `channel` holds: its VLANs on its path, its members' bandwidth, tags and
    /// port-mode interfaces, and its items, in a slot it is given.
    fn commit(&mut self, topo: &Topology, channel: &mut PlannedChannel, members: &[MemberAt], record: Record) {
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(r) = self.records.get_mut(slot as usize) {
                    *r = record;
                }
                slot
            }
            None => {
                self.records.push(record);
                (self.records.len() - 1) as u32
            }
        };
        channel.slot = slot;
        for (k, s) in channel.path.iter().enumerate() {
            if let Some(u) = self.used.slot(*s) {
                u.insert(channel.vlan);
                if let Some(l) = channel.leaf_vlan {
                    u.insert(l);
                }
            }
            if let Some(on) = self.on_switch.get_mut(*s) {
                on.push((slot, k as u32));
            }
        }
        for m in members {
            let port_mode = topo.interfaces.get(m.interface).is_some_and(|f| f.mode == InterfaceMode::Port);
            if let Some(u) = self.interfaces.slot(m.interface) {
                u.bandwidth_mbps = u.bandwidth_mbps.saturating_add(m.bandwidth_mbps);
                if port_mode {
                    u.holder = Some(channel.name.clone());
                }
            }
            // Only a member with a tag makes its interface's set.
            if let Some(tag) = m.tag
                && let Some(tags) = self.tags.slot(m.interface)
            {
                tags.insert(tag);
            }
        }
    }
}

#[cfg(test)]
mod cos_tests;
#[cfg(test)]
mod tests;
