//! A failed transaction's rollback: every touched switch put back as it was before.

use std::collections::BTreeSet;

use super::{Event, PANIC, on_each};
use crate::orchestrator::{Item, Ownership, diff};
use crate::southbound::{ApplyError, Driver};
use crate::topology::Topology;

/// One touched switch's part of a rollback.
struct Undo<'d> {
    driver: &'d mut Box<dyn Driver>,
    owner: Ownership,
    /// The owned part of its state before; `None`: only aborted (see [`rollback`]).
    target: Option<BTreeSet<Item>>,
}

/// Puts each switch of `back_to` (an index into `drivers`, and the state it held before the
/// transaction) back to the owned part of that state, in parallel, going on past failures:
/// aborts `transaction` on it (a remote switch's agent puts itself back), then re-converges
/// it to its state before. A switch whose state before is not known (`None`: planned from
/// the state this process last read there, its prepare failed before the agent confirmed
/// it) is only aborted: its agent puts it back to the state it read itself, where
/// re-converging to the state assumed could undo what others made since.
pub(super) fn rollback(
    topo: &Topology,
    scope: &[usize],
    drivers: &mut [Box<dyn Driver>],
    back_to: &[(usize, Option<&BTreeSet<Item>>)],
    transaction: &str,
    progress: &mut dyn FnMut(&Event),
) -> Vec<ApplyError> {
    let mut jobs: Vec<Undo<'_>> = drivers
        .iter_mut()
        .enumerate()
        .filter_map(|(k, driver)| {
            let (_, before) = back_to.iter().find(|(t, _)| *t == k)?;
            let owner = Ownership::new(topo, *scope.get(k)?);
            let target = before.map(|b| b.iter().filter(|it| owner.owns(it)).cloned().collect());
            Some(Undo { driver, owner, target })
        })
        .collect();
    for job in &jobs {
        progress(&Event::RollingBack { switch: job.driver.switch().to_string() });
    }
    let remote = jobs.iter().any(|j| j.driver.is_remote());
    let results = on_each(
        &mut jobs,
        remote,
        |Undo { driver, owner, target }| {
            driver.abort(transaction).map_err(|e| ApplyError {
                switch: e.switch,
                done: 0,
                op: "abort".into(),
                message: e.message,
            })?;
            let Some(target) = target else { return Ok(()) };
            let current = driver.read_state().map_err(|e| ApplyError {
                switch: e.switch,
                done: 0,
                op: "read state for rollback".into(),
                message: e.message,
            })?;
            driver.apply(&diff(target, &current, owner))
        },
        |j| {
            Err(ApplyError {
                switch: j.driver.switch().to_string(),
                done: 0,
                op: "roll back".into(),
                message: PANIC.into(),
            })
        },
    );
    results.into_iter().filter_map(Result::err).collect()
}
