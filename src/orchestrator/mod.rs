//! The functional core: channel specs, the planner (validation, path, VLAN allocation,
//! desired state), and the diff into change sets.
//!
//! Architecture Invariant: nothing here does I/O, spawns, sleeps or reads a clock; it imports
//! no tokio, sqlx, rtnetlink, axum or `std::fs` (checked by `tests/it/tidy.rs`). What talks
//! to the world (`store`, `southbound`, `engine`, `service`, `portal`, `cli`) calls in here.

pub mod planner;
pub mod policy;
pub mod reach;
pub mod simulate;
pub mod spec;
pub mod state;
pub mod vlan;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{ChannelKind, Role};
use crate::topology::{DriverConfig, Topology};

pub use planner::{PlanError, PlannedChannel, Planner, Refusal, baseline, plan};
pub use spec::{ChannelSpec, MemberSpec, parse_channels};
pub use state::{Change, Direction, Item, Op, Ownership, apply, diff};

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
pub fn change_set(planner: &Planner<'_>, actual: &[BTreeSet<Item>]) -> ChangeSet {
    let topo = planner.topology();
    let empty = BTreeSet::new();
    let switches = topo
        .switches
        .iter()
        .enumerate()
        .map(|(i, sw)| SwitchChanges {
            switch: sw.name.clone(),
            driver: sw.driver.clone(),
            changes: diff(&planner.desired(i), actual.get(i).unwrap_or(&empty), &Ownership::new(topo, i)),
        })
        .collect();
    ChangeSet { topology: topo.name.clone(), switches }
}

/// A channel as reported to people and tools: switch names instead of indices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelReport {
    pub name: String,
    pub kind: ChannelKind,
    pub vlan: u16,
    pub leaf_vlan: Option<u16>,
    pub bandwidth_mbps: u64,
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
}

impl ChannelReport {
    pub fn new(topology: &Topology, channel: &PlannedChannel) -> ChannelReport {
        let name = |s: usize| topology.switches.get(s).map_or_else(String::new, |sw| sw.name.clone());
        ChannelReport {
            name: channel.name.clone(),
            kind: channel.kind,
            vlan: channel.vlan,
            leaf_vlan: channel.leaf_vlan,
            bandwidth_mbps: channel.bandwidth_mbps,
            path: channel.path.iter().map(|s| name(*s)).collect(),
            members: channel
                .members
                .iter()
                .map(|m| MemberReport {
                    interface: m.interface.clone(),
                    switch: name(m.switch),
                    role: m.role,
                    bridge_port: m.bridge_port.clone(),
                    customer_vlan: m.customer_vlan,
                })
                .collect(),
        }
    }
}
