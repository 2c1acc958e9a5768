//! Drift (SPEC §3, Reconciliation) as the operator's view sees it: for each switch, whether
//! what it holds is what the live channels need. The desired state is planned again from
//! the channels' members and VLANs (the pure planner), so a bug that recorded the wrong
//! items shows up as drift too. Switches on the dry-run driver hold their state in the
//! database and are checked here; real switches are read by `switchboard drift`.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::orchestrator::policy::ChannelState;
use crate::orchestrator::{Item, Planner};

use super::{Actor, Result, Service, ServiceError};

/// One switch's drift status.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SwitchDrift {
    pub switch: String,
    pub driver: String,
    /// VLAN IDs allocated on the switch.
    pub vlans: usize,
    /// Items (VLAN entries, FDB entries, sub-interfaces, tc objects) the switch holds for channels.
    pub items: usize,
    /// `in sync`, `drift` or `not checked here` (real switches: `switchboard drift`).
    pub status: String,
    /// Items the channels need that the switch lacks, and items it has that none needs.
    pub missing: usize,
    pub unexpected: usize,
}

/// One switch's drift in detail: what the live channels need that it lacks, what it holds
/// that none needs, and the commands that would repair it (dry-run switches; a real
/// switch is read and repaired by `switchboard drift --repair`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SwitchRepair {
    pub switch: String,
    pub driver: String,
    pub status: String,
    /// The missing items and the unexpected ones, as JSON (the planner's items).
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    /// How many of the unexpected items the repair leaves alone: not Switchboard's to
    /// remove (on a port it does not manage, or made by hand), as `drift --repair` does.
    pub left_alone: usize,
    /// The iproute2 command lines that would make the switch hold what the channels need.
    pub commands: Vec<String>,
}

/// What a switch should hold (`want`) and holds (`held`), its baseline left out.
struct Sets {
    want: BTreeSet<Item>,
    held: BTreeSet<Item>,
}

impl Service {
    /// Plans every active channel again, for the switches' desired state.
    async fn planned<'t>(&self, actor: &Actor, topo: &'t crate::topology::Topology) -> Result<Planner<'t>> {
        let mut planner = Planner::new(topo);
        for c in self.channels(actor).await? {
            if c.state != ChannelState::Active {
                continue;
            }
            let spec = c.spec();
            // A channel that no longer plans shows up as missing items on its switches.
            let _ = planner.add(&spec);
        }
        Ok(planner)
    }

    async fn sets(&self, topo: &crate::topology::Topology, planner: &Planner<'_>, s: usize) -> Result<Sets> {
        let base = crate::orchestrator::baseline(topo, s);
        let held: BTreeSet<Item> = self
            .switch_items(&topo.switches[s].name)
            .await?
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .filter(|i| !base.contains(i))
            .collect();
        let want: BTreeSet<Item> = planner.desired(s).into_iter().filter(|i| !base.contains(i)).collect();
        Ok(Sets { want, held })
    }

    /// Every switch's drift status (the operator's staff only).
    pub async fn drift(&self, actor: &Actor) -> Result<Vec<SwitchDrift>> {
        if !actor.is_operator() {
            return Err(ServiceError::Forbidden("only the operator's staff see the switches".into()));
        }
        let topo = self.topology().await?;
        let planner = self.planned(actor, &topo).await?;
        let mut vlans_on: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (switch, _, _) in self.allocations().await? {
            *vlans_on.entry(switch).or_default() += 1;
        }
        let mut out = Vec::new();
        for (s, sw) in topo.switches.iter().enumerate() {
            let vlans = vlans_on.get(&sw.name).copied().unwrap_or(0);
            let driver = self.driver_kind(&topo, &sw.name);
            if driver != "dry-run" {
                out.push(SwitchDrift {
                    switch: sw.name.clone(),
                    driver: driver.into(),
                    vlans,
                    items: 0,
                    status: NOT_HERE.into(),
                    missing: 0,
                    unexpected: 0,
                });
                continue;
            }
            let Sets { want, held } = self.sets(&topo, &planner, s).await?;
            let (missing, unexpected) = (want.difference(&held).count(), held.difference(&want).count());
            out.push(SwitchDrift {
                switch: sw.name.clone(),
                driver: driver.into(),
                vlans,
                items: held.len(),
                status: if missing + unexpected == 0 { "in sync" } else { "drift" }.into(),
                missing,
                unexpected,
            });
        }
        Ok(out)
    }

    /// Switch `name`'s drift in detail, with the commands that would repair it (the
    /// operator's staff only).
    pub async fn switch_repair(&self, actor: &Actor, name: &str) -> Result<SwitchRepair> {
        if !actor.is_operator() {
            return Err(ServiceError::Forbidden("only the operator's staff see the switches".into()));
        }
        let topo = self.topology().await?;
        let s = topo.switch_index(name).ok_or_else(|| ServiceError::NotFound(format!("switch {name}")))?;
        let driver = self.driver_kind(&topo, name);
        if driver != "dry-run" {
            return Ok(SwitchRepair {
                switch: name.into(),
                driver: driver.into(),
                status: NOT_HERE.into(),
                missing: Vec::new(),
                unexpected: Vec::new(),
                left_alone: 0,
                commands: Vec::new(),
            });
        }
        let planner = self.planned(actor, &topo).await?;
        let Sets { want, held } = self.sets(&topo, &planner, s).await?;
        let ownership = crate::orchestrator::Ownership::new(&topo, s);
        let changes = crate::orchestrator::diff(&want, &held, &ownership);
        let text = |i: &Item| serde_json::to_string(i).unwrap_or_default();
        let removals = changes.iter().filter(|c| c.op == crate::orchestrator::Op::Remove).count();
        let unexpected: Vec<String> = held.difference(&want).map(text).collect();
        Ok(SwitchRepair {
            left_alone: unexpected.len().saturating_sub(removals),
            switch: name.into(),
            driver: driver.into(),
            status: if changes.is_empty() { "in sync" } else { "drift" }.into(),
            missing: want.difference(&held).map(text).collect(),
            unexpected,
            commands: crate::engine::commands(&topo, name, &changes, 2_000),
        })
    }
}

/// What a switch on a real driver says here: it is read by the CLI, not by the service.
const NOT_HERE: &str = "not checked here";
