//! The driver layer: how Switchboard reads and changes a switch.
//!
//! A [`Driver`] is one switch. It reports the switch's actual state as the planner's
//! [`Item`]s and applies a list of [`Change`]s in order. When a change fails it says which
//! one and how many went through. (The engine rolls back by re-converging to the state it
//! read before, not by replaying inverses.)
//!
//! Drivers: [`dry_run`] (an in-memory switch that renders iproute2 commands), [`linux`]
//! (a VLAN-filtering Linux bridge through route netlink, in a named network namespace) and
//! [`remote`] (a `switchboard agent` on the switch, over gRPC with mutual TLS, with a
//! two-phase prepare/commit that the agent rolls back by itself when no commit comes in
//! time). [`open`] is the factory: a switch's topology entry says which driver serves it.
//!
//! Two phases: the engine calls [`Driver::prepare`] on every switch, then [`Driver::commit`]
//! on every switch, or [`Driver::abort`] on every prepared one when anything failed. A
//! driver without transactions of its own (linux, dry-run) keeps the defaults: prepare is
//! apply, commit and abort do nothing (the engine's rollback puts such a switch back).

pub mod dry_run;
pub mod linux;
pub mod observed;
pub mod remote;

use std::collections::{BTreeMap, BTreeSet};

use crate::orchestrator::{Change, Item};
use crate::topology::{DriverConfig, Switch};

use self::dry_run::DryRun;
use self::linux::LinuxSwitch;
use self::remote::RemoteSwitch;

/// The driver of one switch, as its topology entry says (a dry-run switch starts empty).
pub fn open(sw: &Switch) -> Result<Box<dyn Driver>, DriverError> {
    match &sw.driver {
        DriverConfig::Linux { netns, bridge } => {
            Ok(Box::new(LinuxSwitch::connect(&sw.name, netns.as_deref(), bridge)?))
        }
        DriverConfig::DryRun { netns, bridge } => Ok(Box::new(DryRun::new(&sw.name, netns.as_deref(), bridge))),
        DriverConfig::Remote { address, tls, mgmt_netns, timeouts, .. } => Ok(Box::new(connect_agent(
            &sw.name,
            address,
            tls.as_ref(),
            mgmt_netns.as_deref(),
            remote::Deadlines::from(*timeouts),
        )?)),
    }
}

/// The remote driver of switch `name`, its agent at `address`, connected within `deadlines`.
fn connect_agent(
    name: &str,
    address: &str,
    tls: Option<&crate::topology::TlsPaths>,
    mgmt_netns: Option<&str>,
    deadlines: remote::Deadlines,
) -> Result<RemoteSwitch, DriverError> {
    let Some(files) = tls else {
        return Err(DriverError {
            switch: name.to_string(),
            message: format!(
                "the agent at {address} needs certificates: give `ca`, `cert` and `key` on the switch or under `remote:` at the top of the topology (make them with `switchboard pki`)"
            ),
        });
    };
    RemoteSwitch::connect_from(name, address, &files.into(), deadlines, mgmt_netns)
}

/// What the agent of `sw` says of itself, connecting within `deadlines` (the topology's
/// own, or shorter: a page that shows the agents must not wait on a silent one for long);
/// `None` when `sw` has no agent. One call, on a kept connection or a new one.
pub fn ask_agent(sw: &Switch, deadlines: remote::Deadlines) -> Option<Result<AgentHealth, DriverError>> {
    let DriverConfig::Remote { address, tls, mgmt_netns, .. } = &sw.driver else { return None };
    Some(
        connect_agent(&sw.name, address, tls.as_ref(), mgmt_netns.as_deref(), deadlines)
            .and_then(|mut d| d.current_health()),
    )
}

/// A switch Switchboard can read and change.
pub trait Driver: Send {
    /// The switch's name in the topology.
    fn switch(&self) -> &str;

    /// Everything the switch holds that the planner's model can express, ours or not.
    fn read_state(&mut self) -> Result<BTreeSet<Item>, DriverError>;

    /// Applies `changes` in order. On failure, the changes before `ApplyError::done` were
    /// applied, the one at `done` was not, and of the rest none were or, where one went
    /// through that the driver cannot take back exactly (an in-place flag update, see
    /// `LinuxSwitch::apply`), it may stay: callers re-converge a failed switch to a state
    /// they read (the engine's rollback does).
    fn apply(&mut self, changes: &[Change]) -> Result<(), ApplyError>;

    /// Phase one of a transaction: applies `changes` under `transaction` so that
    /// [`Driver::abort`] (or, on a remote switch, the agent's confirm timer) can take them
    /// back; may be called again with the same transaction to add changes. The default is
    /// [`Driver::apply`].
    fn prepare(&mut self, transaction: &str, changes: &[Change]) -> Result<(), ApplyError> {
        let _ = transaction;
        self.apply(changes)
    }

    /// What the switch held when this process last read it, when the switch can check at
    /// [`Driver::prepare_unless_changed`] that it still holds exactly that (a remote
    /// switch whose agent lists `prepare.expect_state`): a transaction then plans from it
    /// instead of reading first, one round trip fewer before the changes land. `None`: read.
    fn known_state(&mut self) -> Option<BTreeSet<Item>> {
        None
    }

    /// Phase one for `changes` planned from `known` (what [`Driver::known_state`] gave, with
    /// nothing else between): as [`Driver::prepare`] when the switch holds `known` still;
    /// when it holds anything else it applies nothing and answers `Ok(Some(what it holds))`,
    /// for the caller to plan again. The default, for a driver that knows no state, prepares.
    fn prepare_unless_changed(
        &mut self,
        transaction: &str,
        known: &BTreeSet<Item>,
        changes: &[Change],
    ) -> Result<Option<BTreeSet<Item>>, ApplyError> {
        let _ = known;
        self.prepare(transaction, changes).map(|()| None)
    }

    /// Phase two: makes what `transaction` prepared permanent. The default does nothing
    /// (prepared changes already are).
    fn commit(&mut self, transaction: &str) -> Result<(), DriverError> {
        let _ = transaction;
        Ok(())
    }

    /// Takes back what `transaction` prepared, putting the switch back to its state before.
    /// The default does nothing: the engine re-converges such a switch itself.
    fn abort(&mut self, transaction: &str) -> Result<(), DriverError> {
        let _ = transaction;
        Ok(())
    }

    /// Fault injection for tests: make the change with this index (counted over the
    /// driver's life, from now) fail the way a real switch would. Drivers without a way to
    /// fail for real may ignore it.
    fn inject_fault(&mut self, change_index: usize);

    /// The bytes each of `ports` carried (received plus sent) by the switch's own
    /// counters, for the ports it has; `None` when the switch has no counters (dry-run).
    fn port_bytes(&mut self, ports: &[String]) -> Result<Option<BTreeMap<String, u64>>, DriverError>;

    /// Whether the switch's work runs elsewhere (an agent's machine), so that this host
    /// only waits on round trips: the engine then works on every such switch at once.
    fn is_remote(&self) -> bool {
        false
    }

    /// What the agent serving the switch says of itself; `None` for a switch driven from
    /// this host (no agent between).
    fn agent_health(&mut self) -> Result<Option<AgentHealth>, DriverError> {
        Ok(None)
    }
}

/// An agent's word on itself (`switchboard agent`, the remote driver's far end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentHealth {
    /// The agent's version (the switchboard crate's).
    pub version: String,
    /// The switch its certificate names, and its bridge.
    pub switch: String,
    pub bridge: String,
    /// The transaction it holds open, if any.
    pub open: Option<OpenTransaction>,
    /// What it knows beyond the protocol's first items (`remote::wire::FEATURES`).
    pub features: Vec<String>,
}

/// A transaction an agent holds open: prepared, neither committed nor aborted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTransaction {
    pub transaction: String,
    /// Who prepared it, as the orchestrator said, and its client certificate's subject.
    pub holder: String,
    pub client: String,
    /// Changes applied so far.
    pub changes: u64,
    /// Milliseconds until the agent's confirm timer rolls it back.
    pub expires_in_ms: u64,
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
