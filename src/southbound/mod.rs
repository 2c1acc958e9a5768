//! The driver layer: how Switchboard reads and changes a switch.
//!
//! A [`Driver`] is one switch. It reports the switch's actual state as the planner's
//! [`Item`]s and applies a list of [`Change`]s in order. When a change fails it says which
//! one and how many went through. (The engine rolls back by re-converging to the state it
//! read before, not by replaying inverses.)
//!
//! Drivers: [`dry_run`] (records and prints iproute2 commands; the default), `linux`
//! (netlink, next) and `remote` (agent over TLS, later).

pub mod dry_run;
pub mod linux;

use std::collections::{BTreeMap, BTreeSet};

use crate::orchestrator::{Change, Item};

/// A switch Switchboard can read and change.
pub trait Driver {
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
