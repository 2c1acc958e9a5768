//! The imperative shell around the planner: connect to every switch, read actual state, diff,
//! apply to the switches in parallel (as many at once as there are CPUs) as one transaction,
//! verify by reading back, and on any failure put every touched switch back exactly as it was.
//! A remote switch this process read last is not read first: its state then is planned
//! from, and its agent checks at prepare that it still holds it ([`Driver::known_state`];
//! when it does not, the switch is planned again from what it answers).
//!
//! Rollback does not replay inverses of what was sent (an in-place VLAN flag change has no
//! exact inverse); it re-converges each touched switch to the state it held before the apply,
//! with the same `diff` that made the change (a switch planned from a state its agent never
//! confirmed is only aborted: the agent restores what it read itself).
//!
//! Two phases: every switch's changes go through [`Driver::prepare`] under one transaction
//! id, then every switch is read back; once every switch has taken and verified them, and every agent still says it holds
//! the transaction (one killed or timed out since its prepare aborts it all),
//! [`Driver::commit`] runs on every switch; on any failure [`Driver::abort`] runs on every touched switch before the
//! re-converging rollback. The linux and dry-run drivers keep the trait's defaults (prepare
//! is apply, commit and abort do nothing), so for them this is the one-phase transaction it
//! always was. A remote switch whose agent dies between prepare and commit rolls back by its
//! own confirm timer.
//!
//! A commit that reaches some switches and not others (an agent died or went silent between
//! the phases) leaves the transaction *in doubt*: the decision was to commit and some
//! switches hold the change for good, so nothing is rolled back; the error says which
//! switches committed and which did not confirm ([`InDoubt`]). A switch that did not commit
//! rolls back by its agent's confirm timer (or from its journal when the agent starts
//! again); applying the same change again then converges every switch forward, which is
//! what the service's order recovery does.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

pub mod kept;
mod provision;
mod rollback;

pub use crate::orchestrator::Change;
pub use provision::{Agent, Provision, ProvisionError, Provisioned, Touched, agents, commands, provision};

use crate::orchestrator::{ChangeSet, Item, Ownership, Planner, change_set, diff};
use crate::southbound::{ApplyError, Driver, DriverError};
use crate::topology::Topology;

/// Opens a driver for every switch of the topology, in topology order, as many at once as
/// the engine works on ([`on_each`]): a remote switch's connection is round trips (TCP, the
/// TLS handshake, a health call), which must not add up per switch. On failure, the first
/// failing switch in topology order is the one reported.
pub fn connect(topo: &Topology) -> Result<Vec<Box<dyn Driver>>, DriverError> {
    let mut switches: Vec<&crate::topology::Switch> = topo.switches.iter().collect();
    let remote = switches.iter().any(|sw| matches!(sw.driver, crate::topology::DriverConfig::Remote { .. }));
    on_each(
        &mut switches,
        remote,
        |sw| connect_switch(sw),
        |sw| Err(DriverError { switch: sw.name.clone(), message: PANIC.into() }),
    )
    .into_iter()
    .collect()
}

/// The driver of one switch, as its topology entry says ([`crate::southbound::open`]).
pub fn connect_switch(sw: &crate::topology::Switch) -> Result<Box<dyn Driver>, DriverError> {
    crate::southbound::open(sw)
}

/// Reads every switch, in parallel.
pub fn read_all(drivers: &mut [Box<dyn Driver>]) -> Result<Vec<BTreeSet<Item>>, DriverError> {
    let remote = drivers.iter().any(|d| d.is_remote());
    let mut jobs: Vec<&mut Box<dyn Driver>> = drivers.iter_mut().collect();
    on_each(
        &mut jobs,
        remote,
        |d| d.read_state(),
        |d| Err(DriverError { switch: d.switch().to_string(), message: PANIC.into() }),
    )
    .into_iter()
    .collect()
}

/// One switch's state before a transaction, whether it was known rather than read, and what
/// the transaction makes of it: (desired, ownership, changes), for a switch of the scope.
struct Planned {
    state: BTreeSet<Item>,
    known: bool,
    plan: Option<(BTreeSet<Item>, Ownership, Vec<Change>)>,
}

/// What each switch of `scope` holds before a transaction whose targets `target` gives, and
/// its plan from that: a switch whose driver knows its state ([`Driver::known_state`],
/// checked again at its prepare) is not read first, unless no change would follow from that
/// state (a switch changed since must not be left out then). In parallel, as [`read_all`].
fn read_and_plan(
    topo: &Topology,
    scope: &[usize],
    drivers: &mut [Box<dyn Driver>],
    target: &Target<'_>,
) -> Result<Vec<Planned>, DriverError> {
    let remote = drivers.iter().any(|d| d.is_remote());
    let mut jobs: Vec<(usize, &mut Box<dyn Driver>)> = drivers.iter_mut().enumerate().collect();
    on_each(
        &mut jobs,
        remote,
        |(k, d)| {
            let plan = |state: &BTreeSet<Item>| {
                scope.get(*k).map(|s| {
                    let (desired, owner) = (target(*k, state), Ownership::new(topo, *s));
                    let changes = diff(&desired, state, &owner);
                    (desired, owner, changes)
                })
            };
            if let Some(state) = d.known_state()
                && let Some(plan) = plan(&state)
                && !plan.2.is_empty()
            {
                return Ok(Planned { state, known: true, plan: Some(plan) });
            }
            let state = d.read_state()?;
            let plan = plan(&state);
            Ok(Planned { state, known: false, plan })
        },
        |(_, d)| Err(DriverError { switch: d.switch().to_string(), message: PANIC.into() }),
    )
    .into_iter()
    .collect()
}

const PANIC: &str = "the driver's thread panicked";

/// How many switches are worked on at once: `SWITCHBOARD_APPLY_THREADS` when set (the lab
/// tests set it to run the threads under the one-CPU lab kernel too); else every switch when
/// some are `remote` (their work runs on the agents' machines and this host only waits on
/// round trips, which must not add up per switch); else the CPUs.
fn parallelism(remote: bool, jobs: usize) -> usize {
    std::env::var("SWITCHBOARD_APPLY_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| if remote { jobs } else { cpus() })
}

/// The CPUs this process may use, read once: `available_parallelism` reads the cgroup's
/// files on every call (open, read, close), and every apply asks.
pub fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs `f` on every item, as many at once as [`parallelism`] says (each on a kept thread,
/// [`kept`], taking the next item when done), and returns the results in order. One CPU, or
/// one item, runs everything on the caller's thread. `panicked` stands in for the result of
/// an item whose `f` panicked.
///
/// Why no more threads than CPUs: a switch's work is the kernel's own CPU time, and route
/// netlink changes in every namespace take the kernel's one RTNL lock, so more threads than
/// CPUs only queue on that lock and switch contexts. Measured under the lab's one-CPU kernel
/// (issue 19, `scripts/bench-apply`): with a thread per switch the 1,000-channel apply took
/// 20.2 s, one switch after another 9.3 s (100 channels: 812 against 376 ms).
fn on_each<J: Send, T: Send>(
    jobs: &mut [J],
    remote: bool,
    f: impl Fn(&mut J) -> T + Sync,
    panicked: impl Fn(&J) -> T,
) -> Vec<T> {
    let workers = parallelism(remote, jobs.len()).min(jobs.len());
    if workers <= 1 {
        return jobs.iter_mut().map(&f).collect();
    }
    let results = kept::each(jobs, workers, &f);
    results.into_iter().zip(jobs.iter()).map(|(r, j)| r.unwrap_or_else(|| panicked(j))).collect()
}

/// Something that happened during an apply, for progress output.
#[derive(Debug, Clone)]
pub enum Event {
    /// A switch took its changes.
    Applied { switch: String, changes: usize, elapsed: Duration },
    /// Read-back found a switch short of its desired state (the kernel can drop bulk FDB
    /// inserts while its hash table grows); the rest is being applied again.
    Reapplying { switch: String, missing: usize },
    /// A switch planned from the state this process last read there held another (changed
    /// by hand, by another orchestrator, or by its agent's confirm timer since): it applied
    /// nothing and was planned again from what it holds, to `changes` changes.
    Replanned { switch: String, changes: usize },
    /// A switch is being put back after a failure.
    RollingBack { switch: String },
    /// Every switch took and verified its changes; the commits go out next.
    Prepared { switches: usize },
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
    /// What each switch of the scope held before the apply (as read by its driver, or known
    /// from its last read and confirmed by its agent at prepare), for
    /// callers that attribute the changes to the requests they combined.
    pub before: Vec<BTreeSet<Item>>,
    /// The changes each switch of the scope took (read-back's second rounds included), in
    /// the order they were made: what callers report and render, without diffing again.
    pub applied: Vec<Vec<Change>>,
}

/// A failed apply: what failed, and anything that went wrong while rolling back.
#[derive(Debug, thiserror::Error)]
#[error("{failure}{}", rollback_note(.rollback_errors, .in_doubt))]
pub struct TransactionError {
    pub failure: ApplyError,
    /// Empty when every touched switch is back where it was.
    pub rollback_errors: Vec<ApplyError>,
    /// Set when the commit reached some switches and not others: nothing was rolled back.
    pub in_doubt: Option<Box<InDoubt>>,
}

/// A transaction whose commit reached some switches and not others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InDoubt {
    /// The switches that committed: they hold the change.
    pub committed: Vec<String>,
    /// The switches whose commit was not confirmed: each rolls back by its agent's confirm
    /// timer unless the commit reached it after all.
    pub unconfirmed: Vec<String>,
}

impl std::fmt::Display for InDoubt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "IN DOUBT: committed on {}, not confirmed on {}; nothing was rolled back: a switch that did not commit \
             rolls back by its agent's confirm timer, and applying the change again brings every switch to it",
            self.committed.join(", "),
            self.unconfirmed.join(", ")
        )
    }
}

fn rollback_note(errors: &[ApplyError], in_doubt: &Option<Box<InDoubt>>) -> String {
    if let Some(d) = in_doubt {
        format!("; {d}")
    } else if errors.is_empty() {
        "; every switch was rolled back to its state before the apply".into()
    } else {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!("; ROLLBACK INCOMPLETE: {}", list.join("; "))
    }
}

/// The switch a failed transaction's message names first: the one that failed (an
/// [`ApplyError`] or a [`DriverError`], as they display, starts with it).
pub fn failed_switch(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("switch `")?;
    rest.find("`:").map(|end| &rest[..end])
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
/// replaces (a VLAN entry with other flags, a drop of another protocol on the same hook),
/// plus `add`. An item is removed with whatever holds its slot ([`Item::same_slot`]): a
/// VLAN entry, a PCP filter or a policer changed since it was planned (by hand, or by a
/// class mapped to another PCP in the topology) goes too. A clsact qdisc removed takes the
/// filters on it along (as the kernel does), also ones the removal does not name (an 802.1Q
/// drop made before issue 18). A trunk's qdisc is shared by every channel with a class on
/// that trunk: it stays while another channel's PCP filter, one the removal does not name,
/// hangs from it.
pub fn delta_target(before: &BTreeSet<Item>, add: &BTreeSet<Item>, remove: &BTreeSet<Item>) -> BTreeSet<Item> {
    let removed_slots: HashSet<(&str, u8, u16)> = remove.iter().filter_map(Item::slot).collect();
    let added_slots: HashSet<(&str, u8, u16)> = add.iter().filter_map(Item::slot).collect();
    let removed = |i: &Item| remove.contains(i) || i.slot().is_some_and(|k| removed_slots.contains(&k));
    let replaced = |i: &Item| !add.contains(i) && i.slot().is_some_and(|k| added_slots.contains(&k));
    // Another PCP filter on the port stays: one of before not removed, or one added.
    let is_pcp_on = |i: &Item, port: &str| matches!(i, Item::Pcp { port: p, .. } if p == port);
    let shared =
        |port: &str| before.iter().any(|i| is_pcp_on(i, port) && !removed(i)) || add.iter().any(|i| is_pcp_on(i, port));
    let qdisc_gone = |port: &str| {
        let clsact = Item::Clsact { port: port.to_string() };
        remove.contains(&clsact) && !add.contains(&clsact) && !shared(port)
    };
    let mut target: BTreeSet<Item> = before
        .iter()
        .filter(|i| {
            let gone = removed(i) && !matches!(i, Item::Clsact { port } if shared(port));
            !gone && !replaced(i)
        })
        .filter(|i| {
            !matches!(i, Item::TcDrop { port, .. } | Item::Police { port, .. } | Item::Pcp { port, .. } | Item::L2cp { port, .. }
                if qdisc_gone(port))
        })
        .cloned()
        .collect();
    target.extend(add.iter().cloned());
    target
}

/// The transaction: read every switch of `scope` (or take what is known of it, see
/// [`read_and_plan`]), apply the difference to `target(k, before)` on the switches in
/// parallel, verify each by reading back, roll every touched switch back on any failure.
fn transact(
    topo: &Topology,
    scope: &[usize],
    drivers: &mut [Box<dyn Driver>],
    target: &Target<'_>,
    progress: &mut dyn FnMut(&Event),
) -> Result<Report, TransactionError> {
    let start = Instant::now();
    let read_error = |e: DriverError| TransactionError {
        failure: ApplyError { switch: e.switch, done: 0, op: "read state".into(), message: e.message },
        rollback_errors: Vec::new(),
        in_doubt: None,
    };
    let planned = read_and_plan(topo, scope, drivers, target).map_err(read_error)?;
    let (mut before, plans): (Vec<BTreeSet<Item>>, Vec<_>) =
        planned.into_iter().map(|p| (p.state, (p.known, p.plan))).unzip();
    let transaction = uuid::Uuid::now_v7().to_string();
    // Everything a switch's thread needs (`target` also runs on a switch's thread when the
    // switch is planned again, see `prepare_switch`).
    let mut jobs: Vec<Job<'_>> = drivers
        .iter_mut()
        .zip(plans)
        .enumerate()
        .filter_map(|(k, (driver, (known, plan)))| {
            let s = *scope.get(k)?;
            let (desired, owner, changes) = plan?;
            let name = topo.switches.get(s).map_or_else(String::new, |sw| sw.name.clone());
            let transaction = transaction.clone();
            let known = if known { before.get(k) } else { None };
            (!changes.is_empty()).then_some(Job {
                k,
                name,
                driver,
                desired,
                owner,
                changes,
                transaction,
                known,
                target,
                prepared: None,
                found: Before::AsPlanned,
            })
        })
        .collect();
    let remote = jobs.iter().any(|j| j.driver.is_remote());
    let mut outcomes = prepare_and_verify(&mut jobs, remote);
    // A switch planned again to no change took none and holds no transaction: it is left
    // out of the commits, the count and the rollback.
    let touched: Vec<usize> = jobs.iter().filter(|j| !j.changes.is_empty()).map(|j| j.k).collect();
    // The prepare phase's events, in topology order, before the commits go out.
    for outcome in &mut outcomes {
        for event in outcome.events.drain(..) {
            progress(&event);
        }
    }
    let in_doubt = check_and_commit(&mut jobs, &mut outcomes, remote, touched.len(), progress);
    let mut report = Report { applied: vec![Vec::new(); scope.len()], ..Report::default() };
    let mut failure = None;
    let (mut read_at_prepare, mut unknown) = (Vec::new(), Vec::new());
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        match job.found {
            Before::AsPlanned => {}
            Before::Held(state) => read_at_prepare.push((job.k, state)),
            Before::Unknown => unknown.push(job.k),
        }
        match outcome.result {
            Ok(reapplied) => {
                report.changes += job.changes.len();
                report.switches += usize::from(!job.changes.is_empty());
                report.reapplied += reapplied.len();
                if let Some(slot) = report.applied.get_mut(job.k) {
                    *slot = job.changes;
                    slot.extend(reapplied);
                }
            }
            // The first failing switch in topology order is the one reported.
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    // A switch that was planned again held what its prepare answered, not what was known.
    for (k, state) in read_at_prepare {
        if let Some(slot) = before.get_mut(k) {
            *slot = state;
        }
    }
    if let Some(failure) = failure {
        if in_doubt.is_some() {
            tracing::error!(%failure, in_doubt = ?in_doubt, "the commit reached some switches and not others");
            return Err(TransactionError { failure, rollback_errors: Vec::new(), in_doubt });
        }
        let back_to: Vec<(usize, Option<&BTreeSet<Item>>)> =
            touched.iter().map(|k| (*k, before.get(*k).filter(|_| !unknown.contains(k)))).collect();
        let rollback_errors = rollback::rollback(topo, scope, drivers, &back_to, &transaction, progress);
        return Err(TransactionError { failure, rollback_errors, in_doubt: None });
    }
    report.elapsed = start.elapsed();
    report.before = before;
    Ok(report)
}

/// Every switch takes its changes, then every switch is read back: on fewer CPUs than
/// switches, a switch's read-back would otherwise hold up the next switch's changes (and the
/// traffic waiting for all of them); a failure anywhere leaves the read-backs out.
fn prepare_and_verify(jobs: &mut [Job<'_>], remote: bool) -> Vec<Outcome> {
    let panicked = |j: &Job<'_>| Outcome {
        result: Err(ApplyError { switch: j.name.clone(), done: 0, op: "apply".into(), message: PANIC.into() }),
        events: Vec::new(),
    };
    let prepared = on_each(jobs, remote, prepare_switch, panicked);
    let all_prepared = prepared.iter().all(|o| o.result.is_ok());
    for (job, outcome) in jobs.iter_mut().zip(prepared) {
        job.prepared = Some(outcome);
    }
    on_each(
        jobs,
        remote,
        |j| {
            let prepared = j.prepared.take().unwrap_or_else(|| panicked(j));
            if all_prepared { verify(j, prepared) } else { prepared }
        },
        panicked,
    )
}

/// The phase after every switch took and verified its changes (`outcomes`): checks that
/// every agent still holds the transaction, then commits on every switch that took changes
/// (`touched` of them). Returns the doubt when the
/// commit reached some switches and not others; a failure lands in its switch's outcome.
fn check_and_commit(
    jobs: &mut [Job<'_>],
    outcomes: &mut [Outcome],
    remote: bool,
    touched: usize,
    progress: &mut dyn FnMut(&Event),
) -> Option<Box<InDoubt>> {
    // Before the commits go out, every agent must still hold the transaction: one that died
    // (or whose confirm timer ran out) since its prepare makes the whole transaction abort,
    // rather than leave it committed on the others and in doubt.
    if outcomes.iter().all(|o| o.result.is_ok()) {
        let held = on_each(jobs, remote, still_held, |j| {
            Err(ApplyError { switch: j.name.clone(), done: 0, op: "check before commit".into(), message: PANIC.into() })
        });
        for (outcome, held) in outcomes.iter_mut().zip(held) {
            if let Err(e) = held {
                outcome.result = Err(e);
            }
        }
    }
    // Phase two, when every switch took its changes: commit everywhere.
    let mut in_doubt = None;
    if outcomes.iter().all(|o| o.result.is_ok()) {
        progress(&Event::Prepared { switches: touched });
        let commits = on_each(
            jobs,
            remote,
            |j| if j.changes.is_empty() { Ok(()) } else { j.driver.commit(&j.transaction) },
            |j| Err(DriverError { switch: j.name.clone(), message: PANIC.into() }),
        );
        let mut doubt = InDoubt { committed: Vec::new(), unconfirmed: Vec::new() };
        for ((outcome, commit), job) in outcomes.iter_mut().zip(commits).zip(jobs.iter()) {
            match commit {
                Ok(()) if job.changes.is_empty() => {}
                Ok(()) => doubt.committed.push(job.name.clone()),
                Err(e) => {
                    doubt.unconfirmed.push(job.name.clone());
                    outcome.result =
                        Err(ApplyError { switch: e.switch, done: 0, op: "commit".into(), message: e.message });
                }
            }
        }
        if !doubt.committed.is_empty() && !doubt.unconfirmed.is_empty() {
            in_doubt = Some(Box::new(doubt));
        }
    }
    in_doubt
}

/// One switch's part of a transaction, handed to its thread.
struct Job<'d> {
    /// Index into the transaction's drivers (and scope).
    k: usize,
    name: String,
    driver: &'d mut Box<dyn Driver>,
    desired: BTreeSet<Item>,
    owner: Ownership,
    changes: Vec<Change>,
    /// The transaction the changes are prepared under.
    transaction: String,
    /// The state the changes were planned from when it was known, not read
    /// ([`Driver::known_state`]): the prepare checks the switch still holds it.
    known: Option<&'d BTreeSet<Item>>,
    /// The transaction's target, to plan again from what the switch holds.
    target: &'d Target<'d>,
    /// What its prepare did, until it is read back.
    prepared: Option<Outcome>,
    /// What the switch held before, as its prepare found.
    found: Before,
}

/// What a switch should hold, from its index in the transaction's scope and what it holds.
type Target<'a> = dyn Fn(usize, &BTreeSet<Item>) -> BTreeSet<Item> + Sync + 'a;

/// What a switch's thread did: the changes applied again after read-back, or the failure;
/// and its progress events, passed on in topology order once every thread is done.
struct Outcome {
    result: Result<Vec<Change>, ApplyError>,
    events: Vec<Event>,
}

/// What a switch held before the transaction, as its prepare found.
enum Before {
    /// What the changes were planned from: read first, or known and confirmed by the agent.
    AsPlanned,
    /// Other than known: this, as the agent answered (the changes were planned again).
    Held(BTreeSet<Item>),
    /// Planned from a state the agent never confirmed (its prepare failed first, or the
    /// state changed under every plan): the switch is only aborted on rollback.
    Unknown,
}

/// How many times a switch is planned again from what its agent answers it holds before
/// the transaction gives up on it (its state changing again under every plan).
const REPLANS: usize = 3;

/// Applies a switch's changes; a switch planned from a state it turns out not to hold
/// ([`Driver::prepare_unless_changed`]) is planned again from what it answers, each prepare
/// checked against the state its changes were planned from. Sets `job.found`.
fn prepare_switch(job: &mut Job<'_>) -> Outcome {
    let mut events = Vec::new();
    let t = Instant::now();
    // Until the agent confirms the state planned from, what it held is not known (a panic
    // on the way leaves it so too).
    job.found = if job.known.is_some() { Before::Unknown } else { Before::AsPlanned };
    let mut answered: Option<BTreeSet<Item>> = None;
    for _ in 0..=REPLANS {
        let prepared = match answered.as_ref().or(job.known) {
            Some(state) => job.driver.prepare_unless_changed(&job.transaction, state, &job.changes),
            None => job.driver.prepare(&job.transaction, &job.changes).map(|()| None),
        };
        let held = match prepared {
            Ok(None) => {
                job.found = answered.map_or(Before::AsPlanned, Before::Held);
                let (switch, changes, elapsed) = (job.name.clone(), job.changes.len(), t.elapsed());
                events.push(Event::Applied { switch, changes, elapsed });
                return Outcome { result: Ok(Vec::new()), events };
            }
            Ok(Some(held)) => held,
            Err(e) => return Outcome { result: Err(e), events },
        };
        job.desired = (job.target)(job.k, &held);
        job.changes = diff(&job.desired, &held, &job.owner);
        tracing::info!(switch = %job.name, changes = job.changes.len(), "the switch held other than known: planned again");
        events.push(Event::Replanned { switch: job.name.clone(), changes: job.changes.len() });
        if job.changes.is_empty() {
            // It holds what it should already: nothing prepared, nothing to commit.
            job.found = Before::Held(held);
            return Outcome { result: Ok(Vec::new()), events };
        }
        answered = Some(held);
    }
    let failure = ApplyError {
        switch: job.name.clone(),
        done: 0,
        op: "prepare".into(),
        message: format!("the switch's state changed again under each of {} plans; try again", REPLANS + 1),
    };
    Outcome { result: Err(failure), events }
}

/// Reads a switch back once it took its changes (`prepared`) and finishes what the kernel
/// dropped.
fn verify(job: &mut Job<'_>, prepared: Outcome) -> Outcome {
    if prepared.result.is_err() || job.changes.is_empty() {
        return prepared; // failed, or planned again to nothing
    }
    let mut events = prepared.events;
    let mut reapplied = Vec::new();
    for _ in 0..VERIFY_ROUNDS {
        let actual = match job.driver.read_state() {
            Ok(a) => a,
            Err(e) => {
                let failure = ApplyError { switch: e.switch, done: 0, op: "read back".into(), message: e.message };
                return Outcome { result: Err(failure), events };
            }
        };
        let missing = diff(&job.desired, &actual, &job.owner);
        if missing.is_empty() {
            return Outcome { result: Ok(reapplied), events };
        }
        events.push(Event::Reapplying { switch: job.name.clone(), missing: missing.len() });
        if let Err(e) = job.driver.prepare(&job.transaction, &missing) {
            return Outcome { result: Err(e), events };
        }
        reapplied.extend(missing);
    }
    let failure = ApplyError {
        switch: job.name.clone(),
        done: 0,
        op: "verify".into(),
        message: format!("state still differs from the plan after {VERIFY_ROUNDS} read-back rounds"),
    };
    Outcome { result: Err(failure), events }
}

/// Whether the switch still holds the job's transaction open: always, for a switch without
/// an agent; for a remote switch, its agent must answer and name the transaction.
fn still_held(job: &mut Job<'_>) -> Result<(), ApplyError> {
    if job.changes.is_empty() {
        return Ok(()); // planned again to nothing: no transaction was opened there
    }
    let failed =
        |message: String| ApplyError { switch: job.name.clone(), done: 0, op: "check before commit".into(), message };
    match job.driver.agent_health() {
        Ok(None) => Ok(()),
        Ok(Some(h)) if h.open.as_ref().is_some_and(|o| o.transaction == job.transaction) => Ok(()),
        Ok(Some(_)) => Err(failed(format!(
            "the agent no longer holds transaction {} (it was restarted, or its confirm timer ran out)",
            job.transaction
        ))),
        Err(e) => Err(failed(e.message)),
    }
}

/// The change set between the live switches and the plan (for `drift`).
pub fn drift(planner: &Planner<'_>, drivers: &mut [Box<dyn Driver>]) -> Result<ChangeSet, DriverError> {
    let actual = read_all(drivers)?;
    Ok(change_set(planner, &actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An order on a switch configured before issue 18: the 802.1Q drop its port holds
    /// gives way to the 802.1ad one the order adds (the kernel keeps one per hook), removed
    /// before the new one is added.
    #[test]
    fn an_added_drop_replaces_an_old_one_on_its_hook() {
        use crate::orchestrator::{Direction, Op, TagProtocol, diff};
        let drop = |protocol| Item::TcDrop { port: "c1".into(), direction: Direction::Egress, protocol };
        let other = Item::TcDrop { port: "c1".into(), direction: Direction::Ingress, protocol: TagProtocol::Dot1Q };
        let before: BTreeSet<Item> = [drop(TagProtocol::Dot1Q), other.clone()].into();
        let add: BTreeSet<Item> = [drop(TagProtocol::Dot1Ad)].into();
        let target = delta_target(&before, &add, &BTreeSet::new());
        assert_eq!(target, [drop(TagProtocol::Dot1Ad), other].into());
        let changes = diff(&target, &before, &crate::orchestrator::Ownership::everything());
        let ops: Vec<(Op, &Item)> = changes.iter().map(|c| (c.op, &c.item)).collect();
        assert_eq!(ops, vec![(Op::Remove, &drop(TagProtocol::Dot1Q)), (Op::Add, &drop(TagProtocol::Dot1Ad))]);
    }

    /// A member removed from a port configured before issue 18: its old drops go with the
    /// qdisc the removal names, so the target does not ask for them back.
    #[test]
    fn a_removed_qdisc_takes_its_filters_along() {
        use crate::orchestrator::{Direction, TagProtocol};
        let old = Item::TcDrop { port: "c1".into(), direction: Direction::Egress, protocol: TagProtocol::Dot1Q };
        let clsact = Item::Clsact { port: "c1".into() };
        let kept = Item::TcDrop { port: "c2".into(), direction: Direction::Egress, protocol: TagProtocol::Dot1Q };
        let before: BTreeSet<Item> = [old, clsact.clone(), kept.clone(), Item::Clsact { port: "c2".into() }].into();
        let target = delta_target(&before, &BTreeSet::new(), &[clsact].into());
        assert_eq!(target, [kept, Item::Clsact { port: "c2".into() }].into());
    }

    /// A tagged member removed from a switch whose stored items are from before multicast
    /// was carried: its sub-interface's bridge port (stored with multicast flooding off) goes
    /// with it, though the removal names the port with the new flags; another port with the
    /// old flags gets the new ones in place.
    #[test]
    fn a_port_goes_or_is_set_whatever_its_flags() {
        let port = |p: &str, mcast_flood| Item::Port { port: p.into(), mcast_flood };
        let before: BTreeSet<Item> = [port("c1.500", false), port("c2", false)].into();
        let target = delta_target(&before, &[port("c2", true)].into(), &[port("c1.500", true)].into());
        assert_eq!(target, [port("c2", true)].into());
    }

    /// Two channels with a class cross trunk t1: the order ending one removes its PCP
    /// filter and names the trunk's clsact, which stays for the other's filter; ending the
    /// other then takes the qdisc.
    #[test]
    fn a_trunk_qdisc_stays_while_another_channel_s_pcp_hangs_from_it() {
        let clsact = Item::Clsact { port: "t1".into() };
        let pcp = |vid| Item::Pcp { port: "t1".into(), vid, pcp: 5 };
        let before: BTreeSet<Item> = [clsact.clone(), pcp(10), pcp(11)].into();
        let target = delta_target(&before, &BTreeSet::new(), &[clsact.clone(), pcp(10)].into());
        assert_eq!(target, [clsact.clone(), pcp(11)].into());
        let target = delta_target(&target, &BTreeSet::new(), &[clsact, pcp(11)].into());
        assert!(target.is_empty(), "{target:?}");
    }

    /// A removal takes what holds each of its items' slots: a PCP filter of another PCP (its
    /// class mapped anew since), a policer of another rate, a VLAN entry of other flags.
    #[test]
    fn a_removal_takes_what_holds_its_items_slots() {
        let clsact = Item::Clsact { port: "t1".into() };
        let pcp = |vid, pcp| Item::Pcp { port: "t1".into(), vid, pcp };
        let police = |rate_bps| Item::Police {
            port: "c1".into(),
            rate_bps,
            burst_bytes: 12_500,
            conform: crate::orchestrator::Conform::Continue,
        };
        let vlan = |pvid| Item::Vlan { port: "t1".into(), vid: 10, pvid, untagged: false };
        let other = pcp(11, 5);
        let before: BTreeSet<Item> = [clsact.clone(), pcp(10, 5), other.clone(), police(5_000_000), vlan(true)].into();
        let remove: BTreeSet<Item> = [clsact.clone(), pcp(10, 6), police(1_000_000), vlan(false)].into();
        let target = delta_target(&before, &BTreeSet::new(), &remove);
        assert_eq!(target, [clsact.clone(), other.clone()].into(), "the qdisc stays for the other channel's PCP");
        let target = delta_target(&target, &BTreeSet::new(), &[clsact, pcp(11, 6)].into());
        assert!(target.is_empty(), "{target:?}");
    }

    #[test]
    fn a_failure_names_its_switch_as_it_displays() {
        let failure =
            ApplyError { switch: "agg`1".into(), done: 2, op: "bridge vlan add".into(), message: "EEXIST".into() };
        let e = TransactionError { failure, rollback_errors: Vec::new(), in_doubt: None };
        assert_eq!(failed_switch(&e.to_string()), Some("agg`1"));
        let e = DriverError { switch: "acc4".into(), message: "network namespace `x` does not exist".into() };
        assert_eq!(failed_switch(&e.to_string()), Some("acc4"));
        assert_eq!(failed_switch("the channel does not plan on this topology"), None);
    }
}
