//! The imperative shell around the planner: connect to every switch, read actual state, diff,
//! apply switch by switch as one transaction, verify by reading back, and on any failure put
//! every touched switch back exactly as it was.
//!
//! Rollback does not replay inverses of what was sent (an in-place VLAN flag change has no
//! exact inverse); it re-converges each touched switch to the state read before the apply,
//! with the same `diff` that made the change.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::orchestrator::{Change, ChangeSet, Item, Ownership, Planner, change_set, diff};
use crate::southbound::dry_run::DryRun;
use crate::southbound::linux::LinuxSwitch;
use crate::southbound::{ApplyError, Driver, DriverError};
use crate::topology::{DriverConfig, Topology};

/// Opens a driver for every switch of the topology, in topology order.
pub fn connect(topo: &Topology) -> Result<Vec<Box<dyn Driver>>, DriverError> {
    topo.switches
        .iter()
        .map(|sw| -> Result<Box<dyn Driver>, DriverError> {
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
        })
        .collect()
}

/// Reads every switch.
pub fn read_all(drivers: &mut [Box<dyn Driver>]) -> Result<Vec<BTreeSet<Item>>, DriverError> {
    drivers.iter_mut().map(|d| d.read_state()).collect()
}

/// Something that happened during an apply, for progress output.
#[derive(Debug, Clone)]
pub enum Event {
    /// A switch took its changes.
    Applied { switch: String, changes: usize, elapsed: Duration },
    /// Read-back found a switch short of its desired state (the kernel can drop bulk FDB
    /// inserts while its hash table grows); the rest is being applied again.
    Reapplying { switch: String, missing: usize },
    /// A switch is being put back after a failure.
    RollingBack { switch: String },
}

/// A successful apply.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Changes applied, over all switches (0: everything already matched).
    pub changes: usize,
    /// Switches that were changed.
    pub switches: usize,
    /// Changes applied again after read-back verification.
    pub reapplied: usize,
    pub elapsed: Duration,
}

/// A failed apply: what failed, and anything that went wrong while rolling back.
#[derive(Debug, thiserror::Error)]
#[error("{failure}{}", rollback_note(.rollback_errors))]
pub struct TransactionError {
    pub failure: ApplyError,
    /// Empty when every touched switch is back where it was.
    pub rollback_errors: Vec<ApplyError>,
}

fn rollback_note(errors: &[ApplyError]) -> String {
    if errors.is_empty() {
        "; every switch was rolled back to its state before the apply".into()
    } else {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!("; ROLLBACK INCOMPLETE: {}", list.join("; "))
    }
}

/// How many read-back rounds an apply gets to converge.
const VERIFY_ROUNDS: usize = 3;

/// Applies the planner's desired state to every switch as one transaction.
pub fn apply(
    planner: &Planner<'_>,
    drivers: &mut [Box<dyn Driver>],
    progress: &mut dyn FnMut(&Event),
) -> Result<Report, TransactionError> {
    let start = Instant::now();
    let topo = planner.topology();
    let read_error = |e: DriverError| TransactionError {
        failure: ApplyError { switch: e.switch, done: 0, op: "read state".into(), message: e.message },
        rollback_errors: Vec::new(),
    };
    let before = read_all(drivers).map_err(read_error)?;
    let changes = change_set(planner, &before);
    let mut report = Report::default();
    let mut touched: Vec<usize> = Vec::new();
    for (i, sw) in changes.switches.iter().enumerate() {
        if sw.changes.is_empty() {
            continue;
        }
        let Some(driver) = drivers.get_mut(i) else { continue };
        let t = Instant::now();
        touched.push(i);
        if let Err(failure) = driver.apply(&sw.changes) {
            let rollback_errors = rollback(topo, drivers, &before, &touched, progress);
            return Err(TransactionError { failure, rollback_errors });
        }
        report.changes += sw.changes.len();
        report.switches += 1;
        progress(&Event::Applied { switch: sw.switch.clone(), changes: sw.changes.len(), elapsed: t.elapsed() });
    }
    // Verify: read back what changed and finish what the kernel dropped.
    for &i in &touched {
        let desired = planner.desired(i);
        let owner = Ownership::new(topo, i);
        let mut converged = false;
        for _ in 0..VERIFY_ROUNDS {
            let Some(driver) = drivers.get_mut(i) else { break };
            let actual = match driver.read_state() {
                Ok(a) => a,
                Err(e) => {
                    let failure = ApplyError { switch: e.switch, done: 0, op: "read back".into(), message: e.message };
                    let rollback_errors = rollback(topo, drivers, &before, &touched, progress);
                    return Err(TransactionError { failure, rollback_errors });
                }
            };
            let missing = diff(&desired, &actual, &owner);
            if missing.is_empty() {
                converged = true;
                break;
            }
            progress(&Event::Reapplying { switch: driver.switch().to_string(), missing: missing.len() });
            report.reapplied += missing.len();
            if let Err(failure) = driver.apply(&missing) {
                let rollback_errors = rollback(topo, drivers, &before, &touched, progress);
                return Err(TransactionError { failure, rollback_errors });
            }
        }
        if !converged {
            let name = topo.switches.get(i).map_or_else(String::new, |s| s.name.clone());
            let failure = ApplyError {
                switch: name,
                done: 0,
                op: "verify".into(),
                message: format!("state still differs from the plan after {VERIFY_ROUNDS} read-back rounds"),
            };
            let rollback_errors = rollback(topo, drivers, &before, &touched, progress);
            return Err(TransactionError { failure, rollback_errors });
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Puts each touched switch back to the owned part of its state before the apply, in
/// reverse order, going on past failures.
fn rollback(
    topo: &Topology,
    drivers: &mut [Box<dyn Driver>],
    before: &[BTreeSet<Item>],
    touched: &[usize],
    progress: &mut dyn FnMut(&Event),
) -> Vec<ApplyError> {
    let mut errors = Vec::new();
    for &i in touched.iter().rev() {
        let Some(driver) = drivers.get_mut(i) else { continue };
        progress(&Event::RollingBack { switch: driver.switch().to_string() });
        let owner = Ownership::new(topo, i);
        let target: BTreeSet<Item> = before.get(i).into_iter().flatten().filter(|it| owner.owns(it)).cloned().collect();
        let current = match driver.read_state() {
            Ok(c) => c,
            Err(e) => {
                errors.push(ApplyError {
                    switch: e.switch,
                    done: 0,
                    op: "read state for rollback".into(),
                    message: e.message,
                });
                continue;
            }
        };
        let back: Vec<Change> = diff(&target, &current, &owner);
        if let Err(e) = driver.apply(&back) {
            errors.push(e);
        }
    }
    errors
}

/// The change set between the live switches and the plan (for `drift`).
pub fn drift(planner: &Planner<'_>, drivers: &mut [Box<dyn Driver>]) -> Result<ChangeSet, DriverError> {
    let actual = read_all(drivers)?;
    Ok(change_set(planner, &actual))
}
