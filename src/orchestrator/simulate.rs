//! A model of how Linux VLAN-filtering bridges forward a frame through the switch states
//! Switchboard computes: the bridge's VLAN protocol (802.1Q, or 802.1ad with
//! [`Item::ProviderBridge`]), ingress classification (a tag of the bridge's protocol picks
//! the VLAN; anything else, untagged or a tag of the other protocol, is payload and goes to
//! the PVID), tc drops by the outer tag's protocol, static FDB, flooding rules, egress
//! tagging, 802.1Q sub-interfaces and trunks between switches. Tags carry their protocol,
//! VLAN ID and priority, so the model shows what a customer's own tags become.
//!
//! It lets property tests prove isolation and transparency on the desired state itself
//! (leaves never reach leaves, nothing crosses channels, a port member's C-tags arrive as
//! sent) and gives `probe` the matrix it should observe. It models only what Switchboard
//! configures: every bridge port has learning and unknown-unicast flooding off and
//! broadcast flooding on, and multicast flooding on where its [`Item::Port`] says so; the
//! bridge's own STP is off, so a frame to the IEEE 802.1 reserved block (an L2CP frame: a
//! BPDU) is forwarded like multicast unless a member port's L2CP discard ([`Item::L2cp`])
//! drops it on ingress. (The kernel never forwards LACP or LLDP whatever the ports say; the
//! model sends the BPDU's address, the one it would forward.)

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{InterfaceMode, Mac};
use crate::topology::Topology;

use super::state::{Direction, Item, TagProtocol};

/// Where a frame is sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    Unicast(Mac),
    Broadcast,
    /// A group address outside the IEEE 802.1 reserved block (IPv6 neighbour discovery's
    /// 33:33:.., IPv4's 01:00:5e:.., MRP's 01:80:c2:00:00:2x).
    Multicast,
    /// An address in the IEEE 802.1 reserved block 01:80:c2:00:00:0x (a BPDU's).
    L2cp,
}

/// A VLAN tag on the wire: its protocol (TPID), VLAN ID (0: priority-tagged) and priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    pub protocol: TagProtocol,
    pub vid: u16,
    pub pcp: u8,
}

impl Tag {
    /// An 802.1Q tag (a C-tag) with priority 0.
    pub fn c(vid: u16) -> Tag {
        Tag { protocol: TagProtocol::Dot1Q, vid, pcp: 0 }
    }

    /// An 802.1ad tag (an S-tag) with priority 0.
    pub fn s(vid: u16) -> Tag {
        Tag { protocol: TagProtocol::Dot1Ad, vid, pcp: 0 }
    }
}

/// A frame delivered to a customer: which interface, and the tags it carries as the
/// customer's NIC sees them (outermost first; empty = untagged).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delivery {
    pub interface: String,
    pub tags: Vec<Tag>,
}

/// Sends a frame from `interface` with the given tags (outermost first; the tag a
/// tagged-mode customer uses for a channel is its customer VLAN, an 802.1Q tag) and returns
/// every customer that receives it. `states` holds one item set per switch, in topology
/// order. To send many frames through one state, make a [`Network`] once.
pub fn send(
    topology: &Topology,
    states: &[BTreeSet<Item>],
    interface: &str,
    tags: &[Tag],
    dst: Destination,
) -> Vec<Delivery> {
    Network::new(topology, states).send(interface, tags, dst)
}

/// The switches' states as the model forwards through them.
pub struct Network<'t> {
    topology: &'t Topology,
    net: Net,
}

impl<'t> Network<'t> {
    pub fn new(topology: &'t Topology, states: &[BTreeSet<Item>]) -> Network<'t> {
        Network { topology, net: Net::new(topology, states) }
    }

    /// [`send`] through this network.
    pub fn send(&self, interface: &str, tags: &[Tag], dst: Destination) -> Vec<Delivery> {
        let Some(iface) = self.topology.interface(interface) else { return Vec::new() };
        let Some(s) = self.topology.switch_index(&iface.switch) else { return Vec::new() };
        let net = &self.net;
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        // The switch side of the customer's port.
        let (port, tags) = match (iface.mode, tags.split_first()) {
            (InterfaceMode::Tagged, Some((c, rest))) if c.protocol == TagProtocol::Dot1Q => {
                // The 8021q sub-interface for tag c strips it; frames without one are dropped.
                if !net.has_subinterface(s, &iface.port, c.vid) {
                    return Vec::new();
                }
                (format!("{}.{}", iface.port, c.vid), rest.to_vec())
            }
            // A tagged-mode port is not a bridge port: untagged or S-tagged frames go nowhere.
            (InterfaceMode::Tagged, _) => return Vec::new(),
            (InterfaceMode::Port, _) => (iface.port.clone(), tags.to_vec()),
        };
        net.ingress(s, &port, &tags, dst, &mut out, &mut seen);
        out.into_iter().collect()
    }
}

struct SwitchView {
    /// The protocol of the bridge's VLAN tags.
    protocol: TagProtocol,
    /// Bridge ports.
    ports: BTreeSet<String>,
    /// (port, vid) -> (pvid, untagged)
    vlans: HashMap<(String, u16), (bool, bool)>,
    pvid: HashMap<String, u16>,
    /// tc drops: frames whose outer tag has the protocol, on the port, in the direction.
    drops: BTreeSet<(String, Direction, TagProtocol)>,
    /// Bridge ports that flood multicast.
    mcast_flood: BTreeSet<String>,
    /// Ports whose ingress discards the IEEE 802.1 reserved block.
    l2cp: BTreeSet<String>,
    fdb: HashMap<(Mac, u16), String>,
    subinterfaces: BTreeSet<(String, u16)>,
}

struct Net {
    switches: Vec<SwitchView>,
    /// (switch, trunk port) -> (peer switch, peer port)
    peers: HashMap<(usize, String), (usize, String)>,
    /// (switch, physical port) -> interface name
    customers: HashMap<(usize, String), String>,
}

impl Net {
    fn new(topology: &Topology, states: &[BTreeSet<Item>]) -> Net {
        let switches = topology
            .switches
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let mut v = SwitchView {
                    protocol: TagProtocol::Dot1Q,
                    ports: BTreeSet::new(),
                    vlans: HashMap::new(),
                    pvid: HashMap::new(),
                    drops: BTreeSet::new(),
                    mcast_flood: BTreeSet::new(),
                    l2cp: BTreeSet::new(),
                    fdb: HashMap::new(),
                    subinterfaces: BTreeSet::new(),
                };
                for item in states.get(i).into_iter().flatten() {
                    match item {
                        // Snooping is not modelled: with it off (as planned) multicast floods.
                        Item::ProviderBridge { .. } => v.protocol = TagProtocol::Dot1Ad,
                        Item::SubInterface { parent, vid } => {
                            v.subinterfaces.insert((parent.clone(), *vid));
                        }
                        Item::Port { port, mcast_flood } => {
                            v.ports.insert(port.clone());
                            if *mcast_flood {
                                v.mcast_flood.insert(port.clone());
                            }
                        }
                        Item::Vlan { port, vid, pvid, untagged } => {
                            v.vlans.insert((port.clone(), *vid), (*pvid, *untagged));
                            if *pvid {
                                v.pvid.insert(port.clone(), *vid);
                            }
                        }
                        // Policers limit how much passes, and PCP filters a frame's priority,
                        // not where it may go.
                        Item::Clsact { .. } | Item::Police { .. } | Item::Pcp { .. } => {}
                        Item::TcDrop { port, direction, protocol } => {
                            v.drops.insert((port.clone(), *direction, *protocol));
                        }
                        // A filter in its place that is not Switchboard's drops who knows what.
                        Item::L2cp { port, foreign } => {
                            if !foreign {
                                v.l2cp.insert(port.clone());
                            }
                        }
                        Item::Fdb { mac, vid, port } => {
                            v.fdb.insert((*mac, *vid), port.clone());
                        }
                    }
                }
                v
            })
            .collect();
        let mut peers = HashMap::new();
        for link in &topology.links {
            if let (Some(a), Some(b)) = (topology.switch_index(&link.a.switch), topology.switch_index(&link.b.switch)) {
                peers.insert((a, link.a.port.clone()), (b, link.b.port.clone()));
                peers.insert((b, link.b.port.clone()), (a, link.a.port.clone()));
            }
        }
        let mut customers = HashMap::new();
        for iface in &topology.interfaces {
            if let Some(s) = topology.switch_index(&iface.switch) {
                customers.insert((s, iface.port.clone()), iface.name.clone());
            }
        }
        Net { switches, peers, customers }
    }

    fn has_subinterface(&self, s: usize, parent: &str, vid: u16) -> bool {
        self.switches.get(s).is_some_and(|v| v.subinterfaces.contains(&(parent.to_string(), vid)))
    }

    /// A frame with `tags` enters bridge port `port` of switch `s`.
    fn ingress(
        &self,
        s: usize,
        port: &str,
        tags: &[Tag],
        dst: Destination,
        out: &mut BTreeSet<Delivery>,
        seen: &mut BTreeSet<(usize, String, u16)>,
    ) {
        let Some(sw) = self.switches.get(s) else { return };
        if !sw.ports.contains(port) {
            return; // not a bridge port: nothing forwards it
        }
        // tc matches the outer tag's protocol (an untagged frame's is its EtherType).
        if let Some(outer) = tags.first()
            && sw.drops.contains(&(port.to_string(), Direction::Ingress, outer.protocol))
        {
            return;
        }
        // The L2CP discard matches the destination whatever the tags.
        if dst == Destination::L2cp && sw.l2cp.contains(port) {
            return;
        }
        // A tag of the bridge's protocol picks the VLAN (VID 0 is priority-tagged: the PVID);
        // any other frame is untagged to the bridge, its tags payload, and takes the PVID.
        let (vid, inner) = match tags.split_first() {
            Some((t, rest)) if t.protocol == sw.protocol && t.vid != 0 => {
                if !sw.vlans.contains_key(&(port.to_string(), t.vid)) {
                    return; // ingress filtering: not a member of that VLAN
                }
                (t.vid, rest)
            }
            Some((t, rest)) if t.protocol == sw.protocol => match sw.pvid.get(port) {
                Some(p) => (*p, rest),
                None => return,
            },
            _ => match sw.pvid.get(port) {
                Some(p) => (*p, tags),
                None => return, // untagged with no PVID is dropped
            },
        };
        if !seen.insert((s, port.to_string(), vid)) {
            return;
        }
        let egress_ports: Vec<String> = match dst {
            Destination::Unicast(mac) => match sw.fdb.get(&(mac, vid)) {
                Some(p) if p != port => vec![p.clone()],
                _ => Vec::new(), // no entry: unknown unicast is not flooded
            },
            // Flooded within the VLAN; multicast only to ports that flood it.
            Destination::Broadcast | Destination::Multicast | Destination::L2cp => {
                let mut ports: Vec<String> = sw
                    .vlans
                    .keys()
                    .filter(|(p, v)| *v == vid && p != port)
                    .filter(|(p, _)| dst == Destination::Broadcast || sw.mcast_flood.contains(p))
                    .map(|(p, _)| p.clone())
                    .collect();
                ports.sort();
                ports
            }
        };
        for q in egress_ports {
            self.egress(s, &q, vid, inner, dst, out, seen);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn egress(
        &self,
        s: usize,
        port: &str,
        vid: u16,
        inner: &[Tag],
        dst: Destination,
        out: &mut BTreeSet<Delivery>,
        seen: &mut BTreeSet<(usize, String, u16)>,
    ) {
        let Some(sw) = self.switches.get(s) else { return };
        if !sw.ports.contains(port) {
            return;
        }
        let Some((_, untagged)) = sw.vlans.get(&(port.to_string(), vid)) else { return };
        // The bridge pushes its own tag (priority 0) unless the VLAN leaves untagged.
        let mut tags: Vec<Tag> = if *untagged { Vec::new() } else { vec![Tag { protocol: sw.protocol, vid, pcp: 0 }] };
        tags.extend_from_slice(inner);
        if let Some(outer) = tags.first()
            && sw.drops.contains(&(port.to_string(), Direction::Egress, outer.protocol))
        {
            return;
        }
        if let Some((peer, peer_port)) = self.peers.get(&(s, port.to_string())) {
            self.ingress(*peer, peer_port, &tags, dst, out, seen);
            return;
        }
        if let Some(name) = self.customers.get(&(s, port.to_string())) {
            out.insert(Delivery { interface: name.clone(), tags });
            return;
        }
        // A sub-interface: the 8021q device pushes the customer tag on the parent port.
        if let Some((parent, c)) = port.rsplit_once('.')
            && let (Some(name), Ok(c)) = (self.customers.get(&(s, parent.to_string())), c.parse::<u16>())
        {
            let mut t = vec![Tag::c(c)];
            t.extend(tags);
            out.insert(Delivery { interface: name.clone(), tags: t });
        }
    }
}

/// For every channel member, who its frames reach: `(from, to) -> reached`, for unicast to
/// each of `to`'s MACs and for broadcast, using each member's own customer tag.
pub fn reachability(
    topology: &Topology,
    states: &[BTreeSet<Item>],
    channels: &BTreeMap<String, super::PlannedChannel>,
) -> BTreeMap<(String, String), bool> {
    let mut result = BTreeMap::new();
    for channel in channels.values() {
        for from in &channel.members {
            let tags: Vec<Tag> = from.customer_vlan.map(Tag::c).into_iter().collect();
            let bcast = send(topology, states, &from.interface, &tags, Destination::Broadcast);
            for to in &channel.members {
                if to.interface == from.interface {
                    continue;
                }
                let Some(iface) = topology.interface(&to.interface) else { continue };
                let want: Vec<Tag> = to.customer_vlan.map(Tag::c).into_iter().collect();
                let got = |ds: &[Delivery]| ds.iter().any(|d| d.interface == to.interface && d.tags == want);
                let unicast = iface
                    .macs
                    .iter()
                    .all(|m| got(&send(topology, states, &from.interface, &tags, Destination::Unicast(*m))));
                result.insert((from.interface.to_string(), to.interface.to_string()), unicast && got(&bcast));
            }
        }
    }
    result
}
