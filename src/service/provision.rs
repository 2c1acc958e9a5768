//! Provisioning: what an order hands the engine. The delta between a channel's old and new
//! items, and the engine's run over the path's switches (on a blocking thread for real
//! switches, in place for dry-run ones, whose state the store keeps: `store::dry_switches`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::engine;
use crate::orchestrator::{Item, Planner};
use crate::topology::Topology;

use super::orders::*;
use super::{Result, ServiceError};

pub(super) type Delta = (Vec<BTreeSet<Item>>, Vec<BTreeSet<Item>>);

/// What to add to and remove from each switch of `scope` to take a channel from `old` (what
/// it holds on the switches, if anything) to the items `new` it was planned with (by
/// switch index; none when it leaves them). Only the channel's own items move; the
/// switches' baseline (trunk and port-mode ports) is always put in place and never
/// removed. Items of one channel are never items of another (a VLAN is on a switch once),
/// so removing them cannot take anything from another channel.
pub(super) fn delta(
    topo: &Topology,
    name: &str,
    scope: &[String],
    old: Option<&AppliedChannel>,
    new: &[(usize, Item)],
) -> std::result::Result<Delta, String> {
    // What the channel holds, worked out from its record the way it was planned.
    let old = match old {
        None => Vec::new(),
        Some(a) => {
            let then = a.topology_then(topo);
            Planner::new(&then)
                .add(&a.spec(name))
                .map(|p| p.items(&then))
                .map_err(|e| format!("the channel does not plan on this topology: {}", plan_errors(&e)))?
        }
    };
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for sw in scope {
        let Some(s) = topo.switch_index(sw) else {
            add.push(BTreeSet::new());
            remove.push(BTreeSet::new());
            continue;
        };
        let base = crate::orchestrator::baseline(topo, s);
        let new_here: BTreeSet<Item> = new.iter().filter(|(x, _)| *x == s).map(|(_, i)| i.clone()).collect();
        let old_here: BTreeSet<Item> = old
            .iter()
            .filter(|(x, i)| *x == s && !new_here.contains(i) && !base.contains(i))
            .map(|(_, i)| i.clone())
            .collect();
        let mut a = base;
        a.extend(new_here);
        add.push(a);
        remove.push(old_here);
    }
    Ok((add, remove))
}

/// Test hook: with `SWITCHBOARD_TEST_STALL_APPLY=FILE`, an apply stops for good after its
/// first switch took its changes, once FILE was written: the state a crash leaves.
pub(super) fn stall_hook() {
    if let Ok(path) = std::env::var("SWITCHBOARD_TEST_STALL_APPLY") {
        let _ = std::fs::write(&path, "stalled\n");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// Test hook: with `SWITCHBOARD_TEST_PAUSE_COMMIT=FILE`, an apply writes FILE once every
/// switch took its changes, and waits while FILE exists before any commit: a test kills the
/// process there (an orchestrator dead between the two phases) or cuts an agent off.
fn pause_before_commit_hook() {
    if let Ok(path) = std::env::var("SWITCHBOARD_TEST_PAUSE_COMMIT") {
        let path = std::path::PathBuf::from(path);
        if std::fs::write(&path, "prepared\n").is_ok() {
            while path.exists() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

pub(super) type EngineResult = std::result::Result<engine::Provisioned, engine::ProvisionError>;

/// Runs the engine's transaction on the switches of `scope` (`dry`: the dry-run ones'
/// state). Dry-run switches are memory, so their run is a computation, done right here;
/// real switches are netlink round trips, run on a thread that may block.
pub(super) async fn engine_apply(
    topo: &Arc<Topology>,
    scope: &[String],
    add: Vec<BTreeSet<Item>>,
    remove: Vec<BTreeSet<Item>>,
    dry: &BTreeMap<String, BTreeSet<Item>>,
    faults: Vec<(String, usize)>,
) -> Result<EngineResult> {
    if scope.iter().all(|s| dry.contains_key(s)) {
        return Ok(run_engine(topo, scope, &add, &remove, dry.clone(), &faults));
    }
    let (topo, scope, dry) = (topo.clone(), scope.to_vec(), dry.clone());
    tokio::task::spawn_blocking(move || run_engine(&topo, &scope, &add, &remove, dry, &faults))
        .await
        .map_err(|e| ServiceError::Conflict(format!("the apply task failed: {e}")))
}

/// The engine's transaction (blocking), with the stall hook after the first switch.
pub(super) fn run_engine(
    topo: &Topology,
    scope: &[String],
    add: &[BTreeSet<Item>],
    remove: &[BTreeSet<Item>],
    dry: BTreeMap<String, BTreeSet<Item>>,
    faults: &[(String, usize)],
) -> EngineResult {
    let mut first = true;
    let mut progress = |e: &engine::Event| match e {
        engine::Event::Applied { switch, changes, .. } => {
            tracing::debug!(%switch, changes, "switch applied");
            if first {
                first = false;
                stall_hook();
            }
        }
        engine::Event::Prepared { switches } => {
            tracing::debug!(switches, "every switch prepared; committing");
            pause_before_commit_hook();
        }
        _ => {}
    };
    engine::provision(engine::Provision { topo, scope, add, remove, dry, faults }, &mut progress)
}

/// Command lines an order's detail shows at most (over all its switches).
pub(super) const DETAIL_COMMANDS: usize = 500;
