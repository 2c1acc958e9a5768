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

impl Service {
    /// Every switch's drift status (the operator's staff only).
    pub async fn drift(&self, actor: &Actor) -> Result<Vec<SwitchDrift>> {
        if !actor.is_operator() {
            return Err(ServiceError::Forbidden("only the operator's staff see the switches".into()));
        }
        let topo = self.topology().await?;
        let mut planner = Planner::new(&topo);
        for c in self.channels(actor).await? {
            if c.state != ChannelState::Active {
                continue;
            }
            let spec = c.spec();
            // A channel that no longer plans shows up as missing items on its switches.
            let _ = planner.add(&spec);
        }
        let mut vlans_on: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (switch, _, _) in self.allocations().await? {
            *vlans_on.entry(switch).or_default() += 1;
        }
        let mut out = Vec::new();
        for (s, sw) in topo.switches.iter().enumerate() {
            let base = crate::orchestrator::baseline(&topo, s);
            let vlans = vlans_on.get(&sw.name).copied().unwrap_or(0);
            let driver = self.driver_kind(&topo, &sw.name);
            if driver != "dry-run" {
                out.push(SwitchDrift {
                    switch: sw.name.clone(),
                    driver: driver.into(),
                    vlans,
                    items: 0,
                    status: "not checked here".into(),
                    missing: 0,
                    unexpected: 0,
                });
                continue;
            }
            let held: BTreeSet<Item> = self
                .switch_items(&sw.name)
                .await?
                .iter()
                .filter_map(|t| serde_json::from_str(t).ok())
                .filter(|i| !base.contains(i))
                .collect();
            let want: BTreeSet<Item> = planner.desired(s).into_iter().filter(|i| !base.contains(i)).collect();
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
}
