//! The driver layer: how Switchboard reads and changes a switch.
//!
//! A [`Driver`] is one switch. It reports the switch's actual state as the planner's
//! [`Item`]s and applies a list of [`Change`]s in order. When a change fails it says which
//! one and how many went through. (The engine rolls back by re-converging to the state it
//! read before, not by replaying inverses.)
//!
//! Drivers: [`dry_run`] (an in-memory switch that renders iproute2 commands), [`linux`]
//! (a VLAN-filtering Linux bridge through route netlink, in a named network namespace) and
//! `remote` (an agent over mutual TLS: not built yet, refused when opened). [`open`] is the
//! factory: a switch's topology entry says which driver serves it.

pub mod dry_run;
pub mod linux;

use std::collections::{BTreeMap, BTreeSet};

use crate::orchestrator::{Change, Item};
use crate::topology::{DriverConfig, Switch};

use self::dry_run::DryRun;
use self::linux::LinuxSwitch;

/// The driver of one switch, as its topology entry says (a dry-run switch starts empty).
pub fn open(sw: &Switch) -> Result<Box<dyn Driver>, DriverError> {
    match &sw.driver {
        DriverConfig::Linux { netns, bridge } => {
            Ok(Box::new(LinuxSwitch::connect(&sw.name, netns.as_deref(), bridge)?))
        }
        DriverConfig::DryRun { netns, bridge } => Ok(Box::new(DryRun::new(&sw.name, netns.as_deref(), bridge))),
        DriverConfig::Remote { address, .. } => Err(DriverError {
            switch: sw.name.clone(),
            message: format!("the remote driver (agent at {address}) is not available yet"),
        }),
    }
}

/// A switch Switchboard can read and change.
pub trait Driver: Send {
    /// The switch's name in the topology.
    fn switch(&self) -> &str;

    /// Everything the switch holds that the planner's model can express, ours or not.
    fn read_state(&mut self) -> Result<BTreeSet<Item>, DriverError>;

    /// Applies `changes` in order. On failure, the changes before `ApplyError::done` were
    /// applied and the rest were not.
    fn apply(&mut self, changes: &[Change]) -> Result<(), ApplyError>;

    /// Fault injection for tests: make the change with this index (counted over the
    /// driver's life, from now) fail the way a real switch would. Drivers without a way to
    /// fail for real may ignore it.
    fn inject_fault(&mut self, change_index: usize);

    /// The bytes each of `ports` carried (received plus sent) by the switch's own
    /// counters, for the ports it has; `None` when the switch has no counters (dry-run).
    fn port_bytes(&mut self, ports: &[String]) -> Result<Option<BTreeMap<String, u64>>, DriverError>;
}

/// A driver failure that is not tied to one change (connecting, reading state).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("switch `{switch}`: {message}")]
pub struct DriverError {
    pub switch: String,
    pub message: String,
}

/// A change that failed, with how many changes before it were applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("switch `{switch}`: {op} failed: {message}")]
pub struct ApplyError {
    pub switch: String,
    /// How many changes were applied before the failing one.
    pub done: usize,
    /// The failing change, as an iproute2 command line.
    pub op: String,
    pub message: String,
}
