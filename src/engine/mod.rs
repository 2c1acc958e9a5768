//! The imperative shell around the planner: connect to every switch, read actual state, diff,
//! apply switch by switch as one transaction, verify by reading back, and on any failure put
//! every touched switch back exactly as it was.
//!
//! Rollback does not replay inverses of what was sent (an in-place VLAN flag change has no
//! exact inverse); it re-converges each touched switch to the state read before the apply,
//! with the same `diff` that made the change.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

mod provision;

pub use crate::orchestrator::Change;
pub use provision::{Provision, Provisioned, Touched, commands, provision};

use crate::orchestrator::{ChangeSet, Item, Ownership, Planner, change_set, diff};
use crate::southbound::{ApplyError, Driver, DriverError};
use crate::topology::Topology;

/// Opens a driver for every switch of the topology, in topology order.
pub fn connect(topo: &Topology) -> Result<Vec<Box<dyn Driver>>, DriverError> {
    topo.switches.iter().map(connect_switch).collect()
}

/// The driver of one switch, as its topology entry says ([`crate::southbound::open`]).
pub fn connect_switch(sw: &crate::topology::Switch) -> Result<Box<dyn Driver>, DriverError> {
    crate::southbound::open(sw)
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
    /// What each switch of the scope held before the apply (as read by its driver), for
    /// callers that attribute the changes to the requests they combined.
    pub before: Vec<BTreeSet<Item>>,
    /// The changes each switch of the scope took (read-back's second rounds included), in
    /// the order they were made: what callers report and render, without diffing again.
    pub applied: Vec<Vec<Change>>,
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
    let scope: Vec<usize> = (0..planner.topology().switches.len()).collect();
    apply_on(planner, &scope, drivers, progress)
}

/// Applies the planner's desired state to the switches `scope` (topology indices) as one
/// transaction; `drivers[k]` is the driver of switch `scope[k]`. The planner must know every
/// channel that has configuration on those switches: anything else owned there is removed.
pub fn apply_on(
    planner: &Planner<'_>,
    scope: &[usize],
    drivers: &mut [Box<dyn Driver>],
    progress: &mut dyn FnMut(&Event),
) -> Result<Report, TransactionError> {
    transact(
        planner.topology(),
        scope,
        drivers,
        &|k, _before| scope.get(k).map(|s| planner.desired(*s)).unwrap_or_default(),
        progress,
    )
}

/// Applies a change to the switches `scope` as one transaction: on switch `scope[k]`, the
/// items `add[k]` are put in place and the items `remove[k]` taken away; everything else on
/// the switch stays as it is. This is how the orchestrator provisions one channel without
/// re-planning every other channel on the same switches. Rollback and read-back
/// verification are those of [`apply`].
pub fn apply_delta(
    topo: &Topology,
    scope: &[usize],
    drivers: &mut [Box<dyn Driver>],
    add: &[BTreeSet<Item>],
    remove: &[BTreeSet<Item>],
    progress: &mut dyn FnMut(&Event),
) -> Result<Report, TransactionError> {
    let empty = BTreeSet::new();
    transact(
        topo,
        scope,
        drivers,
        &|k, before| {
            let (add, remove) = (add.get(k).unwrap_or(&empty), remove.get(k).unwrap_or(&empty));
            delta_target(before, add, remove)
        },
        progress,
    )
}

/// The state a switch should have: `before` without `remove` and without what `add`
/// replaces (a VLAN entry with other flags), plus `add`.
pub fn delta_target(before: &BTreeSet<Item>, add: &BTreeSet<Item>, remove: &BTreeSet<Item>) -> BTreeSet<Item> {
    let mut target: BTreeSet<Item> = before
        .iter()
        .filter(|i| !remove.contains(*i) && !add.iter().any(|a| a != *i && a.same_slot(i)))
        .cloned()
        .collect();
    target.extend(add.iter().cloned());
    target
}

/// The transaction: read every switch of `scope`, apply the difference to `target(k, before)`
/// switch by switch, verify by reading back, roll every touched switch back on failure.
fn transact(
    topo: &Topology,
    scope: &[usize],
    drivers: &mut [Box<dyn Driver>],
    target: &dyn Fn(usize, &BTreeSet<Item>) -> BTreeSet<Item>,
    progress: &mut dyn FnMut(&Event),
) -> Result<Report, TransactionError> {
    let start = Instant::now();
    let read_error = |e: DriverError| TransactionError {
        failure: ApplyError { switch: e.switch, done: 0, op: "read state".into(), message: e.message },
        rollback_errors: Vec::new(),
    };
    let before = read_all(drivers).map_err(read_error)?;
    let empty = BTreeSet::new();
    let targets: Vec<BTreeSet<Item>> = (0..scope.len()).map(|k| target(k, before.get(k).unwrap_or(&empty))).collect();
    let mut report = Report { applied: vec![Vec::new(); scope.len()], ..Report::default() };
    let mut touched: Vec<usize> = Vec::new();
    for (k, &s) in scope.iter().enumerate() {
        let Some(driver) = drivers.get_mut(k) else { continue };
        let changes = diff(targets.get(k).unwrap_or(&empty), before.get(k).unwrap_or(&empty), &Ownership::new(topo, s));
        if changes.is_empty() {
            continue;
        }
        let t = Instant::now();
        touched.push(k);
        if let Err(failure) = driver.apply(&changes) {
            let rollback_errors = rollback(topo, scope, drivers, &before, &touched, progress);
            return Err(TransactionError { failure, rollback_errors });
        }
        report.changes += changes.len();
        report.switches += 1;
        progress(&Event::Applied { switch: driver.switch().to_string(), changes: changes.len(), elapsed: t.elapsed() });
        if let Some(slot) = report.applied.get_mut(k) {
            *slot = changes;
        }
    }
    // Verify: read back what changed and finish what the kernel dropped.
    for &k in &touched {
        let Some(&s) = scope.get(k) else { continue };
        let desired = targets.get(k).cloned().unwrap_or_default();
        let owner = Ownership::new(topo, s);
        let mut converged = false;
        for _ in 0..VERIFY_ROUNDS {
            let Some(driver) = drivers.get_mut(k) else { break };
            let actual = match driver.read_state() {
                Ok(a) => a,
                Err(e) => {
                    let failure = ApplyError { switch: e.switch, done: 0, op: "read back".into(), message: e.message };
                    let rollback_errors = rollback(topo, scope, drivers, &before, &touched, progress);
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
                let rollback_errors = rollback(topo, scope, drivers, &before, &touched, progress);
                return Err(TransactionError { failure, rollback_errors });
            }
            if let Some(slot) = report.applied.get_mut(k) {
                slot.extend(missing);
            }
        }
        if !converged {
            let name = topo.switches.get(s).map_or_else(String::new, |sw| sw.name.clone());
            let failure = ApplyError {
                switch: name,
                done: 0,
                op: "verify".into(),
                message: format!("state still differs from the plan after {VERIFY_ROUNDS} read-back rounds"),
            };
            let rollback_errors = rollback(topo, scope, drivers, &before, &touched, progress);
            return Err(TransactionError { failure, rollback_errors });
        }
    }
    report.elapsed = start.elapsed();
    report.before = before;
    Ok(report)
}

/// Puts each touched switch back to the owned part of its state before the apply, in
/// reverse order, going on past failures. `touched` holds indices into `drivers`.
fn rollback(
    topo: &Topology,
    scope: &[usize],
    drivers: &mut [Box<dyn Driver>],
    before: &[BTreeSet<Item>],
    touched: &[usize],
    progress: &mut dyn FnMut(&Event),
) -> Vec<ApplyError> {
    let mut errors = Vec::new();
    for &k in touched.iter().rev() {
        let (Some(driver), Some(&s)) = (drivers.get_mut(k), scope.get(k)) else { continue };
        progress(&Event::RollingBack { switch: driver.switch().to_string() });
        let owner = Ownership::new(topo, s);
        let target: BTreeSet<Item> = before.get(k).into_iter().flatten().filter(|it| owner.owns(it)).cloned().collect();
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
