//! The functional core: channel specs, the planner (validation, path, VLAN allocation,
//! desired state), and the diff into change sets.
//!
//! Architecture Invariant: nothing here does I/O, spawns, sleeps or reads a clock; it imports
//! no tokio, sqlx, rtnetlink, axum or `std::fs` (checked by `tests/it/tidy.rs`). What talks
//! to the world (`store`, `southbound`, `engine`, `service`, `portal`, `cli`) calls in here.

pub mod billing;
pub mod compact;
mod items;
pub mod planner;
pub mod policy;
pub mod reach;
pub mod simulate;
mod sparse;
pub mod spec;
pub mod state;
pub mod vlan;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{ChannelKind, Role};
use crate::topology::{DriverConfig, Switch, Topology};

use compact::{ItemRef, Key, Names};

pub use planner::{PlanError, PlannedChannel, Planner, Refusal, baseline, plan};
pub use spec::{ChannelSpec, MemberSpec, parse_channels};
pub use state::{
    Change, Conform, Direction, Item, Op, Ownership, TagProtocol, apply, burst_from_ticks, burst_ticks, diff,
    diff_owned, police_burst,
};

/// What to do on every switch of a topology. Switches are in topology order; a switch with
/// nothing to do is still listed, with an empty change list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    pub topology: String,
    pub switches: Vec<SwitchChanges>,
}

/// The changes for one switch, with how to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SwitchChanges {
    pub switch: String,
    #[serde(flatten)]
    pub driver: DriverConfig,
    pub changes: Vec<Change>,
}

impl ChangeSet {
    /// Total number of changes over all switches.
    pub fn len(&self) -> usize {
        self.switches.iter().map(|s| s.changes.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The change set that takes every switch from `actual[i]` to the planner's desired state.
/// `actual` holds one entry per switch of the topology (missing entries count as empty).
///
/// The changes own their items, as drivers take them; to read a plan without making them,
/// use [`Preview`].
pub fn change_set(planner: &Planner<'_>, actual: &[BTreeSet<Item>]) -> ChangeSet {
    let topo = planner.topology();
    let names = Names::new(topo);
    let switches = topo
        .switches
        .iter()
        .zip(planner.desired_keys())
        .enumerate()
        .map(|(i, (sw, keys))| {
            let changes = match actual.get(i) {
                Some(actual) if !actual.is_empty() => {
                    let desired: BTreeSet<Item> = keys.iter().map(|k| names.item(k).to_item()).collect();
                    diff_owned(desired, actual, &Ownership::new(topo, i))
                }
                // From an empty switch every desired item is an addition, in order.
                _ => keys.iter().map(|k| Change { op: Op::Add, item: names.item(k).to_item() }).collect(),
            };
            SwitchChanges { switch: sw.name.clone(), driver: sw.driver.clone(), changes }
        })
        .collect();
    ChangeSet { topology: topo.name.clone(), switches }
}

/// The change set from empty switches (what `switchboard plan` shows), read by reference:
/// the same changes in the same order as `change_set(planner, &[])`, without an `Item` made.
/// Its switches serialize as [`SwitchChanges`] do.
pub struct Preview<'p> {
    topology: &'p Topology,
    /// Each switch's desired keys, sorted.
    desired: Vec<Vec<Key>>,
}

/// One switch of a [`Preview`].
#[derive(Clone, Copy)]
pub struct SwitchPreview<'a> {
    pub switch: &'a Switch,
    names: Names<'a>,
    keys: &'a [Key],
}

/// A [`Change`] by reference; serializes as a `Change` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeRef<'a> {
    pub op: Op,
    pub item: ItemRef<'a>,
}

/// The entries `Change`'s derived form writes (`op`, then the item's `type` and fields,
/// flattened), written as entries of one map: serde's flattening of a tagged enum cost a
/// sixth of `plan --format json` at 100,000 channels. A test holds the two forms equal.
impl Serialize for ChangeRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        /// A MAC as `Mac` serializes, spelled on the stack.
        struct MacText(crate::model::Mac);
        impl Serialize for MacText {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let text = compact::mac_text(self.0.0);
                serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
            }
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("op", &self.op)?;
        match &self.item {
            ItemRef::ProviderBridge { snooping_off } => {
                map.serialize_entry("type", "provider_bridge")?;
                if *snooping_off {
                    map.serialize_entry("snooping_off", &true)?;
                }
            }
            ItemRef::SubInterface { parent, vid } => {
                map.serialize_entry("type", "sub_interface")?;
                map.serialize_entry("parent", parent)?;
                map.serialize_entry("vid", vid)?;
            }
            ItemRef::Port { port, mcast_flood } => {
                map.serialize_entry("type", "port")?;
                map.serialize_entry("port", port)?;
                if *mcast_flood {
                    map.serialize_entry("mcast_flood", &true)?;
                }
            }
            ItemRef::Vlan { port, vid, pvid, untagged } => {
                map.serialize_entry("type", "vlan")?;
                map.serialize_entry("port", port)?;
                map.serialize_entry("vid", vid)?;
                map.serialize_entry("pvid", pvid)?;
                map.serialize_entry("untagged", untagged)?;
            }
            ItemRef::Clsact { port } => {
                map.serialize_entry("type", "clsact")?;
                map.serialize_entry("port", port)?;
            }
            ItemRef::TcDrop { port, direction, protocol } => {
                map.serialize_entry("type", "tc_drop")?;
                map.serialize_entry("port", port)?;
                map.serialize_entry("direction", direction)?;
                if !protocol.is_dot1q() {
                    map.serialize_entry("protocol", protocol)?;
                }
            }
            ItemRef::Police { port, rate_bps, burst_bytes, conform } => {
                map.serialize_entry("type", "police")?;
                map.serialize_entry("port", port)?;
                map.serialize_entry("rate_bps", rate_bps)?;
                map.serialize_entry("burst_bytes", burst_bytes)?;
                if !conform.is_continue() {
                    map.serialize_entry("conform", conform)?;
                }
            }
            ItemRef::Pcp { port, vid, pcp } => {
                map.serialize_entry("type", "pcp")?;
                map.serialize_entry("port", port)?;
                map.serialize_entry("vid", vid)?;
                map.serialize_entry("pcp", pcp)?;
            }
            ItemRef::L2cp { port, foreign } => {
                map.serialize_entry("type", "l2cp")?;
                map.serialize_entry("port", port)?;
                if *foreign {
                    map.serialize_entry("foreign", &true)?;
                }
            }
            ItemRef::Fdb { mac, vid, port } => {
                map.serialize_entry("type", "fdb")?;
                map.serialize_entry("mac", &MacText(*mac))?;
                map.serialize_entry("vid", vid)?;
                map.serialize_entry("port", port)?;
            }
        }
        map.end()
    }
}

impl<'p> Preview<'p> {
    pub fn new(planner: &Planner<'p>) -> Preview<'p> {
        Preview { topology: planner.topology(), desired: planner.desired_keys() }
    }

    /// Total number of changes over all switches.
    pub fn len(&self) -> usize {
        self.desired.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The switches in topology order, each with its changes.
    pub fn switches(&self) -> impl Iterator<Item = SwitchPreview<'_>> + '_ {
        let names = Names::new(self.topology);
        self.topology.switches.iter().zip(&self.desired).map(move |(switch, keys)| SwitchPreview {
            switch,
            names,
            keys,
        })
    }
}

impl<'a> SwitchPreview<'a> {
    /// Number of changes.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The changes, in the order `diff` gives them: every desired item, added.
    pub fn changes(&self) -> impl Iterator<Item = ChangeRef<'a>> + 'a {
        let names = self.names;
        self.keys.iter().map(move |key| ChangeRef { op: Op::Add, item: names.item(key) })
    }
}

impl Serialize for SwitchPreview<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// `SwitchChanges`' fields, borrowed.
        #[derive(Serialize)]
        struct Fields<'a> {
            switch: &'a str,
            #[serde(flatten)]
            driver: &'a DriverConfig,
            changes: Changes<'a>,
        }
        /// The changes as a sequence, made as they are written.
        struct Changes<'a>(SwitchPreview<'a>);
        impl Serialize for Changes<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.changes())
            }
        }
        Fields { switch: &self.switch.name, driver: &self.switch.driver, changes: Changes(*self) }.serialize(serializer)
    }
}

/// A channel as reported to people and tools: switch names instead of indices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelReport {
    pub name: String,
    pub kind: ChannelKind,
    pub vlan: u16,
    pub leaf_vlan: Option<u16>,
    pub bandwidth_mbps: u64,
    /// The class of service and its PCP on trunks.
    pub class: String,
    pub pcp: u8,
    /// Switches of the path, in topology order.
    pub path: Vec<String>,
    pub members: Vec<MemberReport>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberReport {
    pub interface: String,
    pub switch: String,
    pub role: Role,
    pub bridge_port: String,
    pub customer_vlan: Option<u16>,
    /// The member's bandwidth in Mbps (its own, or else the channel's): its policer's rate.
    pub bandwidth_mbps: u64,
}

impl ChannelReport {
    pub fn new(topology: &Topology, channel: &PlannedChannel) -> ChannelReport {
        let name = |s: usize| topology.switches.get(s).map_or_else(String::new, |sw| sw.name.clone());
        ChannelReport {
            name: channel.name.to_string(),
            kind: channel.kind,
            vlan: channel.vlan,
            leaf_vlan: channel.leaf_vlan,
            bandwidth_mbps: channel.bandwidth_mbps,
            class: channel.class.to_string(),
            pcp: channel.pcp,
            path: channel.path.iter().map(|s| name(*s)).collect(),
            members: channel
                .members
                .iter()
                .map(|m| MemberReport {
                    interface: m.interface.to_string(),
                    switch: name(m.switch),
                    role: m.role,
                    bridge_port: m.bridge_port.to_string(),
                    customer_vlan: m.customer_vlan,
                    bandwidth_mbps: m.bandwidth_mbps,
                })
                .collect(),
        }
    }
}
