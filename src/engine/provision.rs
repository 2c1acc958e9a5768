//! Provisioning for the orchestrator service: a change to some switches of a topology (what
//! each gains and loses), applied as one transaction through the drivers the topology names.
//!
//! The service keeps the dry-run switches' state in its database, so a dry-run switch is
//! handed over with what it holds and handed back with what it holds after; every other
//! switch is opened through its driver. Rendering the changes as iproute2 commands (what an
//! order's detail shows) is here too, so the service never touches a driver.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::orchestrator::{Change, Item};
use crate::southbound::dry_run::{DryRun, command_lines};
use crate::southbound::{AgentHealth, Driver};
use crate::topology::{DriverConfig, Topology};

use super::{Event, apply_delta};

/// A change to the switches `scope` (names): on `scope[k]`, `add[k]` put in place and
/// `remove[k]` taken away.
pub struct Provision<'a> {
    pub topo: &'a Topology,
    pub scope: &'a [String],
    pub add: &'a [BTreeSet<Item>],
    pub remove: &'a [BTreeSet<Item>],
    /// The switches of `scope` served by the dry-run driver, with what each holds. A
    /// switch the topology puts on the dry-run driver must be here (its state is the
    /// caller's to keep); a switch here is driven dry whatever the topology says.
    pub dry: BTreeMap<String, BTreeSet<Item>>,
    /// Test faults: the switch, and the index of the change to fail there.
    pub faults: &'a [(String, usize)],
}

/// What a provisioning run did.
#[derive(Debug, Default)]
pub struct Provisioned {
    /// Changes made over all switches.
    pub changes: usize,
    /// Each switch of the scope that took changes: its name, what it held before and the
    /// changes it took, in scope order.
    pub switches: Vec<Touched>,
    /// What each switch of the scope held before, by name.
    pub before: BTreeMap<String, BTreeSet<Item>>,
    /// What the dry-run switches hold now.
    pub dry_after: BTreeMap<String, BTreeSet<Item>>,
}

/// A switch that took changes.
#[derive(Debug)]
pub struct Touched {
    pub name: String,
    pub changes: Vec<Change>,
    /// How long the switch took to apply them (before read-back verification).
    pub elapsed: Duration,
}

/// A switch's driver, or why it could not be had.
type Connected = Result<Box<dyn Driver>, String>;

/// Why a provision did not go through: what failed, as the transaction's error says it, and
/// whether the transaction is in doubt (committed on some switches; nothing rolled back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProvisionError {
    pub message: String,
    pub in_doubt: Option<super::InDoubt>,
}

impl From<String> for ProvisionError {
    fn from(message: String) -> ProvisionError {
        ProvisionError { message, in_doubt: None }
    }
}

/// Runs `p` as one transaction (see [`apply_delta`]); on failure every switch is back as it
/// was and the error says what failed, unless the transaction is in doubt (see
/// [`super::InDoubt`]). Blocking: real switches are netlink round trips.
pub fn provision(p: Provision<'_>, progress: &mut dyn FnMut(&Event)) -> Result<Provisioned, ProvisionError> {
    let mut indices = Vec::new();
    let mut drivers: Vec<Box<dyn Driver>> = Vec::new();
    let dry_names: BTreeSet<String> = p.dry.keys().cloned().collect();
    let mut dry = p.dry;
    // The switches to connect to, at once (a remote one's connection is round trips).
    let mut live: Vec<(&crate::topology::Switch, Option<Connected>)> = p
        .scope
        .iter()
        .filter_map(|name| p.topo.switch(name))
        .filter(|sw| !dry.contains_key(&sw.name) && !matches!(sw.driver, DriverConfig::DryRun { .. }))
        .map(|sw| (sw, None))
        .collect();
    let remote = live.iter().any(|(sw, _)| matches!(sw.driver, DriverConfig::Remote { .. }));
    super::on_each(
        &mut live,
        remote,
        |(sw, slot)| *slot = Some(super::connect_switch(sw).map_err(|e| e.to_string())),
        |_| (),
    );
    let mut connected: BTreeMap<String, Connected> = live
        .into_iter()
        .map(|(sw, slot)| (sw.name.clone(), slot.unwrap_or_else(|| Err(super::PANIC.to_string()))))
        .collect();
    for name in p.scope {
        let Some(s) = p.topo.switch_index(name) else { continue };
        let Some(sw) = p.topo.switches.get(s) else { continue };
        let mut driver: Box<dyn Driver> = match (&sw.driver, dry.remove(name)) {
            (_, Some(state)) => {
                let mut d = DryRun::new(&sw.name, sw.driver.netns(), sw.driver.bridge());
                d.state = state;
                Box::new(d)
            }
            (DriverConfig::DryRun { .. }, None) => {
                return Err(format!("switch `{}`: its dry-run state was not loaded", sw.name).into());
            }
            (_, None) => match connected.remove(&sw.name) {
                Some(Ok(d)) => d,
                Some(Err(e)) => return Err(e.into()),
                None => return Err(format!("switch `{}`: not connected", sw.name).into()),
            },
        };
        if let Some((_, at)) = p.faults.iter().find(|(f, _)| f == name) {
            driver.inject_fault(*at);
        }
        indices.push(s);
        drivers.push(driver);
    }
    let mut took: BTreeMap<String, Duration> = BTreeMap::new();
    let mut timed = |e: &Event| {
        if let Event::Applied { switch, elapsed, .. } = e {
            took.insert(switch.clone(), *elapsed);
        }
        progress(e);
    };
    let report = apply_delta(p.topo, &indices, &mut drivers, p.add, p.remove, &mut timed)
        .map_err(|e| ProvisionError { message: e.to_string(), in_doubt: e.in_doubt.map(|d| *d) })?;
    let mut out = Provisioned { changes: report.changes, ..Provisioned::default() };
    for ((s, driver), (before, applied)) in
        indices.iter().zip(&mut drivers).zip(report.before.into_iter().zip(report.applied))
    {
        let Some(sw) = p.topo.switches.get(*s) else { continue };
        if dry_names.contains(&sw.name) {
            // A dry-run switch's state is memory: reading it cannot fail.
            if let Ok(state) = driver.read_state() {
                out.dry_after.insert(sw.name.clone(), state);
            }
        }
        if !applied.is_empty() {
            let elapsed = took.get(&sw.name).copied().unwrap_or_default();
            out.switches.push(Touched { name: sw.name.clone(), changes: applied, elapsed });
        }
        out.before.insert(sw.name.clone(), before);
    }
    Ok(out)
}

/// `changes` on `switch` as the iproute2 command lines that make them (with the switch's
/// bridge and namespace), at most `limit` lines.
pub fn commands(topo: &Topology, switch: &str, changes: &[Change], limit: usize) -> Vec<String> {
    let Some(sw) = topo.switch(switch) else { return Vec::new() };
    let mut out = Vec::new();
    for c in changes {
        if out.len() >= limit {
            break;
        }
        out.extend(command_lines(c, sw.driver.bridge(), sw.driver.netns()));
    }
    out
}

/// What the agent of one remote switch says (or why it could not be asked).
#[derive(Debug, Clone)]
pub struct Agent {
    pub switch: String,
    /// Where the topology says the agent listens.
    pub address: String,
    pub health: Result<AgentHealth, String>,
}

/// How long [`agents`] waits for an agent to connect and to answer: a page that shows the
/// agents must not hang on a silent one (the topology's timeouts, when shorter, win).
pub const AGENT_VIEW_DEADLINE: Duration = Duration::from_secs(2);

/// Asks the agent of every remote switch of `topo` for its health, all at once (a thread
/// each: the work is waiting on the network, not the CPU), in one connection and one call
/// each: a silent agent costs at most [`AGENT_VIEW_DEADLINE`] to connect and as much to
/// answer, whatever the number of agents. Blocking.
pub fn agents(topo: &Topology) -> Vec<Agent> {
    std::thread::scope(|scope| {
        let asks: Vec<_> = topo
            .switches
            .iter()
            .filter_map(|sw| match &sw.driver {
                DriverConfig::Remote { address, timeouts, .. } => {
                    let t = crate::southbound::remote::Deadlines::from(*timeouts);
                    let deadlines = crate::southbound::remote::Deadlines {
                        connect: t.connect.min(AGENT_VIEW_DEADLINE),
                        read: t.read.min(AGENT_VIEW_DEADLINE),
                        write: t.write,
                    };
                    let ask = scope.spawn(move || crate::southbound::ask_agent(sw, deadlines));
                    Some((sw, address, ask))
                }
                _ => None,
            })
            .collect();
        asks.into_iter()
            .map(|(sw, address, ask)| {
                let health = match ask.join() {
                    Ok(Some(h)) => h.map_err(|e| e.message),
                    Ok(None) => Err("the driver has no agent".to_string()),
                    Err(_) => Err(super::PANIC.to_string()),
                };
                Agent { switch: sw.name.clone(), address: address.clone(), health }
            })
            .collect()
    })
}
