//! Switch configuration as data: the [`Item`]s Switchboard puts on a switch, the desired and
//! actual sets of them, and the [`diff`] between the two as an ordered list of [`Change`]s.
//!
//! A switch's state is a set of items. Desired state comes from the planner; actual state
//! from a driver's read-back. Switchboard owns only some of what a switch holds; the
//! [`Ownership`] rule decides which, and [`diff`] never removes an item it does not own.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{InterfaceMode, Mac};
use crate::topology::{Topology, VlanPool};

/// One unit of switch configuration. The variant order is the order in which items are
/// created (a sub-interface before its bridge membership, a VLAN before FDB entries in it);
/// removal runs the other way.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    /// The switch's bridge tags its VLANs as 802.1ad S-VLANs (`vlan_protocol 802.1ad`): a
    /// channel's VLAN travels the trunks as an S-tag and a customer's own 802.1Q tags are
    /// payload, carried unchanged (issue 18; the scheme is in ARCHITECTURE.md). Every
    /// switch's baseline; removing it puts the bridge back to 802.1Q (and multicast snooping
    /// on). `snooping_off`: the bridge's multicast snooping is off (`mcast_snooping 0`), what
    /// the planner makes: with it on, one customer's IGMP or MLD querier makes the bridge
    /// (whose snooping state is not per VLAN) send other channels' multicast only toward
    /// that customer's port, so their neighbour discovery and IPv4 multicast die, and it
    /// drops malformed IP multicast. A bridge configured before reads back with it on,
    /// which `diff` sets in place (stored items and agents from before give no flag).
    ProviderBridge {
        #[serde(default, skip_serializing_if = "is_false")]
        snooping_off: bool,
    },
    /// An 802.1Q sub-interface `parent.vid` of a tagged-mode port (VLAN translation at the edge).
    SubInterface { parent: String, vid: u16 },
    /// `port` is a bridge port, up, with learning and unknown-unicast flooding off and
    /// broadcast flooding on (so ARP works inside a channel). `mcast_flood`: multicast is
    /// flooded too, as broadcast is, to the other ports of the frame's VLAN (so IPv6
    /// neighbour discovery and routing hellos cross a channel); what the planner makes.
    /// Ports configured before multicast was carried have it off and read back with
    /// `mcast_flood: false`, which no plan holds, so `diff` sets the flag in place (stored
    /// items and agents from before give no flag, which reads as off).
    Port {
        port: String,
        #[serde(default, skip_serializing_if = "is_false")]
        mcast_flood: bool,
    },
    /// Bridge VLAN membership of `port`. Trunks are tagged members; access ports have PVID and
    /// untagged egress; E-Tree leaves see `pvid` without `untagged` (see ARCHITECTURE.md).
    Vlan { port: String, vid: u16, pvid: bool, untagged: bool },
    /// A clsact qdisc on `port`, holding the E-Tree leaf filters.
    Clsact { port: String },
    /// A matchall filter that drops, in `direction` on `port`, every frame whose outer tag
    /// is of `protocol`: 802.1ad (an S-tag) in what the planner makes. 802.1Q drops are
    /// what switches configured before issue 18 hold; they read back as such, so that
    /// `diff` replaces them (stored items and agents written before then give no protocol,
    /// which reads as 802.1Q, and one is written without it).
    TcDrop {
        port: String,
        direction: Direction,
        #[serde(default, skip_serializing_if = "TagProtocol::is_dot1q")]
        protocol: TagProtocol,
    },
    /// The ingress policer of a member's bridge port (its access port, or its sub-interface
    /// in tagged mode): a matchall filter on the clsact ingress hook whose police action
    /// lets `rate_bps` bits per second (the CIR) through with a bucket of `burst_bytes`
    /// (the CBS, [`police_burst`]) and drops the rest. What a conforming frame does next is
    /// `conform`: go on to the L2CP discard after the policer (what the planner makes), or
    /// pass, ending the classification (what Switchboard made before the discard; such a
    /// policer reads back as what it is, so `diff` replaces it and a rollback puts it back
    /// with its rate). A filter in the policer's place that is neither (another exceed
    /// action, a peak rate, another kind) reads as rate 0, which no plan holds.
    Police {
        port: String,
        rate_bps: u64,
        burst_bytes: u32,
        #[serde(default, skip_serializing_if = "Conform::is_continue")]
        conform: Conform,
    },
    /// The class of service of the channel in VLAN `vid` on trunk `port` (issue 18 item 4):
    /// the S-tags of `vid` leave `port` with priority (PCP) `pcp`. A flower filter on the
    /// clsact egress hook (protocol 802.1ad, preference 3, `PCP_PREF` of the dry-run driver, handle `vid`) matching
    /// the outer VLAN ID, whose vlan action rewrites the priority and keeps the TPID 802.1ad.
    /// The planner makes one only for a PCP other than 0 (the bridge's own S-tags carry 0).
    /// A filter read back in its place that is not one Switchboard makes reads as PCP 8,
    /// which no plan holds, so it is replaced.
    Pcp { port: String, vid: u16, pcp: u8 },
    /// The discard of the IEEE 802.1 reserved block at a member's bridge port (its access
    /// port, or its sub-interface in tagged mode; MEF 45 L2CP): a flower filter on the clsact
    /// ingress hook (protocol all, preference 3, `L2CP_PREF` of the dry-run driver, handle 1)
    /// matching destination 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 with a gact drop, so
    /// customer STP/RSTP/MSTP BPDUs, LACP and LLDP die at the UNI while the rest of the
    /// customer's multicast is flooded. A filter read back in its place that is not one
    /// Switchboard makes reads as `foreign: true`, which no plan holds, so it is replaced.
    L2cp {
        port: String,
        #[serde(default, skip_serializing_if = "is_false")]
        foreign: bool,
    },
    /// A static FDB entry: frames to `mac` in VLAN `vid` leave through `port`.
    Fdb { mac: Mac, vid: u16, port: String },
}

/// Which side of a port a tc filter sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

/// What a policer does with a frame within its rate (`tc ... conform-exceed drop/ACTION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conform {
    /// `continue`: on to the filters after the policer (TC_ACT_UNSPEC).
    #[default]
    Continue,
    /// `pass`: the frame is let through and no filter after the policer runs (TC_ACT_OK).
    Pass,
}

impl Conform {
    /// As `tc` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Conform::Continue => "continue",
            Conform::Pass => "pass",
        }
    }

    pub fn is_continue(&self) -> bool {
        *self == Conform::Continue
    }
}

/// The protocol (TPID) of a VLAN tag: 802.1Q (0x8100, a customer's C-tag) or 802.1ad
/// (0x88a8, the provider's S-tag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub enum TagProtocol {
    #[default]
    #[serde(rename = "802.1Q")]
    Dot1Q,
    #[serde(rename = "802.1ad")]
    Dot1Ad,
}

impl TagProtocol {
    /// As `tc` and `ip` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            TagProtocol::Dot1Q => "802.1Q",
            TagProtocol::Dot1Ad => "802.1ad",
        }
    }

    /// The EtherType of the tag.
    pub fn ethertype(self) -> u16 {
        match self {
            TagProtocol::Dot1Q => 0x8100,
            TagProtocol::Dot1Ad => 0x88a8,
        }
    }

    pub fn is_dot1q(&self) -> bool {
        *self == TagProtocol::Dot1Q
    }
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl Item {
    /// The port (or sub-interface) the item lives on; empty for the bridge itself.
    pub fn port(&self) -> String {
        match self {
            Item::ProviderBridge { .. } => String::new(),
            Item::SubInterface { parent, vid } => subinterface_name(parent, *vid),
            Item::Port { port, .. }
            | Item::Vlan { port, .. }
            | Item::Clsact { port }
            | Item::TcDrop { port, .. }
            | Item::Police { port, .. }
            | Item::Pcp { port, .. }
            | Item::L2cp { port, .. }
            | Item::Fdb { port, .. } => port.clone(),
        }
    }

    /// Two items with the same key cannot both exist on a switch: the kernel keeps one VLAN
    /// entry per (port, vid), so adding a `Vlan` replaces any other with the same key; and one
    /// drop filter per hook (our preference and handle, one protocol), so an 802.1ad drop
    /// takes the place of an 802.1Q one made before issue 18 (which must go first); one
    /// bridge membership per port, whatever its flags (setting them again updates them in
    /// place); one filter at the policer's and at the L2CP preference per port; one PCP
    /// filter per trunk and VLAN.
    pub fn same_slot(&self, other: &Item) -> bool {
        match (self.slot(), other.slot()) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
    }

    /// The key of the item's slot, for the kinds where items other than equal ones share
    /// one ([`Item::same_slot`]): the port, the kind, and the VLAN or direction. `None` for
    /// the rest, whose slot is the item itself.
    pub fn slot(&self) -> Option<(&str, u8, u16)> {
        Some(match self {
            Item::ProviderBridge { .. } => ("", 0, 0),
            Item::Port { port, .. } => (port, 1, 0),
            Item::Vlan { port, vid, .. } => (port, 2, *vid),
            Item::TcDrop { port, direction, .. } => (port, 3, *direction as u16),
            Item::Police { port, .. } => (port, 4, 0),
            Item::Pcp { port, vid, .. } => (port, 5, *vid),
            Item::L2cp { port, .. } => (port, 6, 0),
            Item::SubInterface { .. } | Item::Clsact { .. } | Item::Fdb { .. } => return None,
        })
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The name of the sub-interface for customer tag `vid` on `parent`.
pub fn subinterface_name(parent: &str, vid: u16) -> String {
    subinterface(parent, vid).into()
}

/// [`subinterface_name`] as a plan keeps it: inline when short.
pub fn subinterface(parent: &str, vid: u16) -> compact_str::CompactString {
    compact_str::format_compact!("{parent}.{vid}")
}

/// The bucket (CBS, bytes) of a member's policer at `rate_bps` (CIR): what the CIR carries
/// in 10 ms, and never less than eight 1522-byte frames (12,176 bytes), so a burst of
/// full-size frames at line rate passes whole; rounded up to what the kernel keeps
/// ([`burst_from_ticks`] of [`burst_ticks`]), so that the policer read back from a switch is
/// equal to the one planned.
pub fn police_burst(rate_bps: u64) -> u32 {
    const FLOOR: u64 = 8 * 1522;
    let bytes = (rate_bps / 8 / 100).max(FLOOR).min(u64::from(u32::MAX));
    let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
    burst_from_ticks(rate_bps, burst_ticks(rate_bps, bytes))
}

/// Nanoseconds per scheduler tick: Linux keeps a policer's bucket as the time the rate needs
/// to send it, in units of 64 ns (`PSCHED_SHIFT`), and `tc` converts bytes to these ticks
/// rounding down.
const NS_PER_TICK: u128 = 64;

/// A bucket of `bytes` at `rate_bps`, in the kernel's ticks, as `tc` computes it (rounded
/// down; saturating). 0 when the rate is 0.
pub fn burst_ticks(rate_bps: u64, bytes: u32) -> u32 {
    let bytes_per_s = u128::from(rate_bps / 8);
    if bytes_per_s == 0 {
        return 0;
    }
    let ticks = u128::from(bytes) * 1_000_000_000 / (bytes_per_s * NS_PER_TICK);
    u32::try_from(ticks).unwrap_or(u32::MAX)
}

/// The bytes a bucket of `ticks` holds at `rate_bps`: the fewest whose [`burst_ticks`] are
/// `ticks` (rounded up; saturating), so the two round-trip exactly.
pub fn burst_from_ticks(rate_bps: u64, ticks: u32) -> u32 {
    let num = u128::from(ticks) * u128::from(rate_bps / 8) * NS_PER_TICK;
    let bytes = num.div_ceil(1_000_000_000);
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Whether to create or delete an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Remove,
}

/// One step of a change set.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Change {
    pub op: Op,
    #[serde(flatten)]
    pub item: Item,
}

impl Change {
    /// The change that undoes this one.
    pub fn inverse(&self) -> Change {
        Change { op: if self.op == Op::Add { Op::Remove } else { Op::Add }, item: self.item.clone() }
    }
}

/// Which items on a switch are Switchboard's.
///
/// The kernel cannot label bridge VLANs or FDB entries with an owner, so ownership is a rule
/// over the topology: Switchboard owns, on the ports the topology names for this switch (trunk
/// ends and port-mode interfaces) and on the sub-interfaces of its tagged-mode interfaces,
/// the bridge VLAN entries, static FDB entries and PCP filters whose VLAN ID is in the pool
/// and not reserved, the bridge memberships of those ports, and the clsact qdisc, matchall drop
/// filters, policers and L2CP discards on them; and the bridge's VLAN protocol (802.1ad), which the
/// scheme needs whatever else the bridge carries. Anything else (another VLAN, a port the topology does not name, an
/// address in a reserved VLAN) is foreign and never touched.
#[derive(Clone, Debug)]
pub struct Ownership {
    pool: VlanPool,
    /// Trunk and port-mode interface ports of the switch.
    ports: BTreeSet<String>,
    /// Tagged-mode interface ports of the switch (their sub-interfaces are ours).
    tagged: BTreeSet<String>,
    /// Everything on the switch counts as owned ([`Ownership::everything`]).
    all: bool,
}

impl Ownership {
    pub fn new(topology: &Topology, switch: usize) -> Ownership {
        let name = topology.switches.get(switch).map_or("", |s| s.name.as_str());
        let mut ports: BTreeSet<String> = topology.trunk_ports(switch).into_iter().map(str::to_string).collect();
        let mut tagged = BTreeSet::new();
        for iface in topology.interfaces_on(name) {
            match iface.mode {
                InterfaceMode::Port => ports.insert(iface.port.clone()),
                InterfaceMode::Tagged => tagged.insert(iface.port.clone()),
            };
        }
        Ownership { pool: topology.pool.clone(), ports, tagged, all: false }
    }

    /// Owns every item. For undoing a transaction on a switch that knows no topology (the
    /// agent): the target is exactly what the switch held before, so whatever differs from
    /// it was made in the transaction and is taken back.
    pub fn everything() -> Ownership {
        Ownership { pool: VlanPool::default(), ports: BTreeSet::new(), tagged: BTreeSet::new(), all: true }
    }

    fn managed_port(&self, port: &str) -> bool {
        if self.ports.contains(port) {
            return true;
        }
        match port.rsplit_once('.') {
            Some((parent, vid)) => {
                self.tagged.contains(parent) && vid.parse::<u16>().is_ok_and(|v| (1..=4094).contains(&v))
            }
            None => false,
        }
    }

    pub fn owns(&self, item: &Item) -> bool {
        if self.all {
            return true;
        }
        match item {
            Item::ProviderBridge { .. } => true,
            Item::SubInterface { parent, vid } => self.tagged.contains(parent) && (1..=4094).contains(vid),
            Item::Port { port, .. }
            | Item::Clsact { port }
            | Item::TcDrop { port, .. }
            | Item::Police { port, .. }
            | Item::L2cp { port, .. } => self.managed_port(port),
            Item::Vlan { port, vid, .. } | Item::Fdb { port, vid, .. } | Item::Pcp { port, vid, .. } => {
                self.managed_port(port) && self.pool.allows(*vid)
            }
        }
    }
}

/// The changes that turn `actual` into `desired` on the items `ownership` allows: removals
/// of owned items that are not desired (FDB first, sub-interfaces last), then additions in
/// creation order. A VLAN entry or a bridge port whose flags differ is re-added, which the
/// kernel updates in place, rather than deleted (deleting a VLAN would flush its FDB
/// entries; taking a port off the bridge, all its VLANs).
pub fn diff(desired: &BTreeSet<Item>, actual: &BTreeSet<Item>, ownership: &Ownership) -> Vec<Change> {
    let mut changes = removals(desired, actual, ownership);
    changes.extend(desired.difference(actual).map(|item| Change { op: Op::Add, item: item.clone() }));
    changes
}

/// [`diff`] of a desired state the caller has no more use for: its items move into the
/// additions instead of being copied.
pub fn diff_owned(desired: BTreeSet<Item>, actual: &BTreeSet<Item>, ownership: &Ownership) -> Vec<Change> {
    let mut changes = removals(&desired, actual, ownership);
    changes.extend(desired.into_iter().filter(|item| !actual.contains(item)).map(|item| Change { op: Op::Add, item }));
    changes
}

/// The removals of [`diff`], in removal order.
fn removals(desired: &BTreeSet<Item>, actual: &BTreeSet<Item>, ownership: &Ownership) -> Vec<Change> {
    let desired_vlans: BTreeSet<(&str, u16)> = desired
        .iter()
        .filter_map(|i| match i {
            Item::Vlan { port, vid, .. } => Some((port.as_str(), *vid)),
            _ => None,
        })
        .collect();
    let desired_ports: BTreeSet<&str> = desired
        .iter()
        .filter_map(|i| match i {
            Item::Port { port, .. } => Some(port.as_str()),
            _ => None,
        })
        .collect();
    actual
        .iter()
        .rev()
        .filter(|item| ownership.owns(item) && !desired.contains(item))
        .filter(|item| match item {
            Item::Vlan { port, vid, .. } => !desired_vlans.contains(&(port.as_str(), *vid)),
            Item::Port { port, .. } => !desired_ports.contains(port.as_str()),
            Item::ProviderBridge { .. } => !desired.iter().any(|i| matches!(i, Item::ProviderBridge { .. })),
            _ => true,
        })
        .map(|item| Change { op: Op::Remove, item: item.clone() })
        .collect()
}

/// What a switch holds after `changes` are applied to `state`, by the same rules the kernel
/// follows (a VLAN add replaces the entry with the same port and ID). Used by the dry-run
/// driver and by tests of `diff`.
pub fn apply(state: &mut BTreeSet<Item>, changes: &[Change]) {
    for change in changes {
        match change.op {
            Op::Add => {
                if matches!(change.item, Item::Vlan { .. } | Item::Port { .. } | Item::ProviderBridge { .. }) {
                    state.retain(|i| !i.same_slot(&change.item));
                }
                state.insert(change.item.clone());
            }
            Op::Remove => {
                state.remove(&change.item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_burst_is_10_ms_of_the_rate_and_never_under_eight_full_frames() {
        assert_eq!(police_burst(1_000_000), 12_176, "1 Mbit/s: the floor");
        assert_eq!(police_burst(10_000_000), 12_500, "10 Mbit/s: 10 ms is past the floor");
        assert_eq!(police_burst(100_000_000), 125_000);
        assert_eq!(police_burst(1_000_000_000), 1_250_000);
        assert_eq!(burst_ticks(0, 1000), 0, "no rate, no panic");
        assert_eq!(burst_ticks(u64::MAX, u32::MAX), 0);
    }

    /// A switch configured before multicast was carried: its bridge reads back with snooping
    /// on and its ports with multicast flooding off, which `diff` sets in place (a re-add,
    /// never a removal, which would make the bridge 802.1Q or take the port off the bridge
    /// with its VLANs); and back again in a rollback. A hand-deleted
    /// L2CP discard is added back; a foreign filter in its place is removed first.
    #[test]
    fn old_ports_are_set_in_place_and_l2cp_discards_are_put_back() {
        let port = |mcast_flood| Item::Port { port: "p1".into(), mcast_flood };
        let l2cp = |foreign| Item::L2cp { port: "p1".into(), foreign };
        let vlan = Item::Vlan { port: "p1".into(), vid: 10, pvid: true, untagged: true };
        let bridge = |snooping_off| Item::ProviderBridge { snooping_off };
        let desired: BTreeSet<Item> =
            [bridge(true), port(true), vlan.clone(), Item::Clsact { port: "p1".into() }, l2cp(false)].into();
        let old: BTreeSet<Item> = [bridge(false), port(false), vlan.clone(), Item::Clsact { port: "p1".into() }].into();
        let owner = Ownership::everything();
        let changes = diff(&desired, &old, &owner);
        assert_eq!(
            changes,
            vec![
                Change { op: Op::Add, item: bridge(true) },
                Change { op: Op::Add, item: port(true) },
                Change { op: Op::Add, item: l2cp(false) }
            ],
            "one transaction: the flags in place and the discard"
        );
        let mut after = old.clone();
        apply(&mut after, &changes);
        assert_eq!(after, desired);
        // The rollback of that transaction puts the old flag back, in place too.
        assert_eq!(
            diff(&old, &after, &owner),
            vec![
                Change { op: Op::Remove, item: l2cp(false) },
                Change { op: Op::Add, item: bridge(false) },
                Change { op: Op::Add, item: port(false) }
            ]
        );
        // A foreign filter at the L2CP preference goes before ours is added.
        let mut foreign = desired.clone();
        foreign.remove(&l2cp(false));
        foreign.insert(l2cp(true));
        assert_eq!(
            diff(&desired, &foreign, &owner),
            vec![Change { op: Op::Remove, item: l2cp(true) }, Change { op: Op::Add, item: l2cp(false) }]
        );
    }

    proptest! {
        /// What the kernel keeps of a burst reads back as the planned burst, at any rate.
        #[test]
        fn bursts_round_trip_through_the_kernels_ticks(mbps in 1u64..1_000_000, bytes in 0u32..u32::MAX) {
            let rate = mbps * 1_000_000;
            let planned = police_burst(rate);
            prop_assert_eq!(burst_from_ticks(rate, burst_ticks(rate, planned)), planned);
            let kept = burst_from_ticks(rate, burst_ticks(rate, bytes));
            prop_assert_eq!(burst_ticks(rate, kept), burst_ticks(rate, bytes));
            prop_assert_eq!(burst_from_ticks(rate, burst_ticks(rate, kept)), kept);
        }
    }
}
