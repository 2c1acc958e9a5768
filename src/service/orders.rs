//! Orders: claimed by one instance at a time, planned, allocated and applied.
//!
//! 1. **Claim** (short transaction): the oldest waiting order, or one whose claim lease ran
//!    out because its instance died, with `FOR UPDATE SKIP LOCKED` on PostgreSQL so several
//!    instances never take the same order. Status `planning`.
//! 2. **Plan and allocate** (transaction): build a planner from every channel that holds
//!    VLANs on the switches concerned, plan this channel, and insert its `(switch, vlan)`
//!    allocation rows. The primary key makes allocation race-free across instances: a
//!    conflict means someone else took the VLAN first, and planning starts again. Status
//!    `applying`.
//! 3. **Apply** (transaction holding the rows of the switches concerned): the engine reads
//!    each switch, applies the difference as one transaction with read-back and rollback;
//!    then the channel becomes `active` (or `terminated`, its VLAN freed). On failure every
//!    switch is back where it was, the channel is `failed` with the reason and its VLAN is
//!    freed.
//!
//! A crash anywhere leaves the order claimed with a lease that runs out; the next instance
//! to look runs it again from step 2, which converges (finishes) it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::model::{ChannelKind, Pos, Role, VlanId};
use crate::orchestrator::policy::ChannelState;
use crate::orchestrator::{ChannelSpec, Item, MemberSpec, Planner, Refusal};
use crate::store::{StoreError, WriteTx, allocations, channels, dry_switches, orders, topology};
use crate::topology::Topology;

use super::flow::set_state;
pub(super) use super::provision::*;
use super::{Actor, Result, Service, ServiceError, audit};

/// How an order ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderOutcome {
    pub order_id: String,
    pub channel_id: String,
    pub action: String,
    /// `done` or `failed`.
    pub status: String,
    pub reason: String,
    pub changes: usize,
}

pub(super) struct Claimed {
    pub id: String,
    pub channel_id: String,
    pub action: String,
    pub attempts: i64,
}

/// What the order wants on the switches.
#[derive(Clone, Debug)]
pub(super) enum Target {
    /// The channel with these members (VLANs pinned once allocated).
    Present(ChannelSpec),
    /// No trace of the channel.
    Absent,
    /// Nothing on the switches, the VLANs kept for when it resumes.
    Paused,
}

/// Why planning must start over.
enum PlanFailure {
    /// Another instance took a VLAN first.
    Raced,
    Failed(String),
    Error(ServiceError),
}

impl From<ServiceError> for PlanFailure {
    fn from(e: ServiceError) -> Self {
        PlanFailure::Error(e)
    }
}

impl From<StoreError> for PlanFailure {
    fn from(e: StoreError) -> Self {
        PlanFailure::Error(e.into())
    }
}

const ALLOCATION_ATTEMPTS: usize = 20;

impl Service {
    /// Claims and runs orders until none is left that this instance may take: waiting
    /// orders in batches of up to `config.batch_orders` (see `batch.rs`), then orders left
    /// by instances that stopped, one at a time.
    pub async fn run_pending(&self) -> Result<Vec<OrderOutcome>> {
        let mut out = Vec::new();
        loop {
            let batch = self.claim_batch(self.config.batch_orders.max(1)).await?;
            if batch.is_empty() {
                match self.run_one().await? {
                    Some(o) => {
                        self.announce_orders(std::slice::from_ref(&o));
                        out.push(o);
                    }
                    None => break,
                }
                continue;
            }
            let done = if batch.len() == 1 {
                let mut done = Vec::new();
                for o in batch {
                    done.push(self.run_claimed(o).await?);
                }
                done
            } else {
                self.execute_batch(batch).await?
            };
            self.announce_orders(&done);
            out.extend(done);
        }
        Ok(out)
    }

    /// Claims and runs one order.
    pub async fn run_one(&self) -> Result<Option<OrderOutcome>> {
        let Some(claimed) = self.claim().await? else { return Ok(None) };
        self.run_claimed(claimed).await.map(Some)
    }

    /// Runs one claimed order on its own.
    #[tracing::instrument(name = "order", skip_all, fields(id = %claimed.id, channel = %claimed.channel_id, action = %claimed.action))]
    pub(super) async fn run_claimed(&self, claimed: Claimed) -> Result<OrderOutcome> {
        let renew = self.keep_lease(vec![claimed.id.clone()]);
        let outcome = self.execute(&claimed).await;
        renew.abort();
        match outcome {
            Err(ServiceError::TakenOver) => {
                tracing::warn!("stalled past the lease; another instance took the order over");
                Ok(taken_over_outcome(&claimed))
            }
            other => other,
        }
    }

    /// Orders are run again after a crash by whichever instance looks first once the
    /// dead instance's lease has run out; this runs everything that is waiting now.
    pub async fn recover(&self) -> Result<Vec<OrderOutcome>> {
        let out = self.run_pending().await?;
        if !out.is_empty() {
            tracing::info!(orders = out.len(), "finished orders left by a stopped instance or waiting");
        }
        Ok(out)
    }

    async fn claim(&self) -> Result<Option<Claimed>> {
        let now = self.now();
        let lease = now + i64::try_from(self.config.lease.as_millis()).unwrap_or(60_000);
        // Waiting orders first (by the (status, created_at) index), then orders whose
        // instance stopped renewing its lease. Never an order of a channel that has one
        // running under a live lease.
        // Nothing to take: do not queue for the writer.
        if !orders::any_claimable(&self.db, now).await? {
            return Ok(None);
        }
        let mut row = None;
        for which in [orders::Claimable::Waiting, orders::Claimable::Abandoned] {
            let mut tx = self.db.write_background().await?;
            row = orders::claim_one(&mut tx, self.db.dialect, which, self.config.instance.as_str(), lease, now).await?;
            tx.commit().await?;
            if row.is_some() {
                break;
            }
        }
        let Some(row) = row else { return Ok(None) };
        let c = Claimed { id: row.id, channel_id: row.channel_id, action: row.action, attempts: row.attempts };
        if c.attempts > 1 {
            tracing::warn!(order = %c.id, attempt = c.attempts, "taking over an order whose instance stopped");
        }
        Ok(Some(c))
    }

    /// Renews the claim on `ids` while they run.
    pub(super) fn keep_lease(&self, ids: Vec<String>) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let every = svc.config.lease / 3;
            loop {
                tokio::time::sleep(every).await;
                let until = svc.now() + i64::try_from(svc.config.lease.as_millis()).unwrap_or(60_000);
                let r = async {
                    let mut tx = svc.db.write_background().await?;
                    orders::renew_lease(&mut tx, svc.config.instance.as_str(), until, &ids).await?;
                    tx.commit().await?;
                    Ok::<(), StoreError>(())
                }
                .await;
                if let Err(e) = r {
                    tracing::warn!(orders = ?ids, error = %e, "cannot renew the orders' lease");
                }
            }
        })
    }

    async fn execute(&self, o: &Claimed) -> Result<OrderOutcome> {
        let outcome = |status: &str, reason: String, changes: usize| OrderOutcome {
            order_id: o.id.clone(),
            channel_id: o.channel_id.clone(),
            action: o.action.clone(),
            status: status.into(),
            reason,
            changes,
        };
        if o.attempts > self.config.max_attempts {
            let reason = format!(
                "gave up after {} attempts (instances stopped while running it); terminate the channel to clean up",
                o.attempts - 1
            );
            self.finish_failed(o, &reason, false).await?;
            return Ok(outcome("failed", reason, 0));
        }
        let topo = self.topology().await?;

        // Step 2: plan and allocate.
        let mut attempt = 0;
        let (target, scope, was_live) = loop {
            attempt += 1;
            match self.plan_and_allocate(o, &topo).await {
                Ok(Some(t)) => break t,
                Ok(None) => {
                    self.finish_noop(o).await?;
                    return Ok(outcome("done", "nothing to do".into(), 0));
                }
                Err(PlanFailure::Raced) if attempt < ALLOCATION_ATTEMPTS => {
                    tracing::debug!(attempt, "VLAN taken by a concurrent order; planning again");
                    tokio::time::sleep(Duration::from_millis(rand::random_range(1..10 * attempt as u64))).await;
                }
                Err(PlanFailure::Raced) => {
                    let reason = "VLAN allocation kept conflicting with concurrent orders; try again".to_string();
                    self.finish_failed(o, &reason, true).await?;
                    return Ok(outcome("failed", reason, 0));
                }
                Err(PlanFailure::Failed(reason)) => {
                    self.finish_failed(o, &reason, true).await?;
                    return Ok(outcome("failed", reason, 0));
                }
                Err(PlanFailure::Error(e)) => return Err(e),
            }
        };

        // Step 3: apply.
        match self.apply_target(o, &topo, &target, &scope, true).await? {
            Ok(applied) => Ok(outcome("done", String::new(), applied.changes)),
            Err(reason) => {
                let mut reason = reason;
                // Leave nothing of the channel on the switches: a failed modification
                // rolled back to the previous configuration, which still has it. (A failed
                // activation rolled back to switches without it.)
                let free = match target {
                    // A failed removal leaves the configuration (and its VLANs) in place.
                    Target::Absent | Target::Paused => false,
                    Target::Present(_) if was_live => {
                        match self.apply_target(o, &topo, &Target::Absent, &scope, false).await? {
                            Ok(_) => true,
                            Err(e) => {
                                reason = format!("{reason}; removing the channel's configuration failed too: {e}");
                                false
                            }
                        }
                    }
                    Target::Present(_) => true,
                };
                self.finish_failed(o, &reason, free).await?;
                Ok(outcome("failed", reason, 0))
            }
        }
    }

    /// Step 2. Returns the target and the switches concerned (old path and new), or
    /// `None` when the channel needs nothing.
    async fn plan_and_allocate(
        &self,
        o: &Claimed,
        topo: &Arc<Topology>,
    ) -> std::result::Result<Option<(Target, Vec<String>, bool)>, PlanFailure> {
        let now = self.now();
        let mut tx = self.db.write_background().await.map_err(StoreError::Sql)?;
        let channel = self.channel_row(&mut tx, &o.channel_id, true).await?;
        let old_path: BTreeSet<String> = channel.path.iter().cloned().collect();
        // Whether the switches hold the channel from before (a modification).
        let was_live = matches!(channel.state, ChannelState::Modifying | ChannelState::Active);
        let live = match channel.state {
            ChannelState::Provisioning | ChannelState::Modifying | ChannelState::Active => {
                self.live_attachments(&mut tx, &channel.id).await?
            }
            _ => Vec::new(),
        };
        let Some(target) = target_of(&channel, &live) else { return Ok(None) };
        let Target::Present(spec) = target else {
            self.mark_applying(&mut tx, o).await?;
            tx.commit().await.map_err(StoreError::Sql)?;
            return Ok(Some((target, old_path.into_iter().collect(), true)));
        };

        let new_path = path_of(topo, &spec).map_err(PlanFailure::Failed)?;
        let scope: Vec<String> = old_path.union(&new_path).cloned().collect();
        // Plan this channel alone, against what the database says is taken: VLANs of other
        // channels on the new path, customer tags on the members' interfaces.
        let mut planner = Planner::new(topo);
        let path_list: Vec<String> = new_path.iter().cloned().collect();
        // The channel needs VLANs free on its whole path: the union of the path's VLANs.
        let path_switches: Vec<usize> = path_list.iter().filter_map(|sw| topo.switch_index(sw)).collect();
        for v in allocations::taken_on(&mut tx, &channel.id, &path_list).await? {
            for s in &path_switches {
                planner.reserve_vlan(*s, v);
            }
        }
        let ifaces: Vec<String> = spec.members.iter().map(|m| m.interface.clone()).collect();
        for (iface, tag) in channels::tags_on(&mut tx, &channel.id, &ifaces).await? {
            planner.reserve_tag(&iface, tag);
        }
        let planned = plan_keeping_vlan(&mut planner, &spec).map_err(|e| PlanFailure::Failed(plan_errors(&e)))?;
        let path_names: Vec<String> =
            planned.path.iter().filter_map(|s| topo.switches.get(*s).map(|sw| sw.name.clone())).collect();
        if channel.vlan.is_some() || !channel.path.is_empty() {
            allocations::release(&mut tx, &channel.id).await?;
        }
        let rows: Vec<(&String, u16)> = path_names
            .iter()
            .flat_map(|sw| std::iter::once(planned.vlan).chain(planned.leaf_vlan).map(move |v| (sw, v)))
            .collect();
        match allocations::allocate(&mut tx, &channel.id, &rows).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(PlanFailure::Raced),
            Err(e) => return Err(PlanFailure::Error(e.into())),
        }
        channels::set_plan(&mut tx, &channel.id, planned.vlan, planned.leaf_vlan, &path_names.join(","), now).await?;
        channels::retag(&mut tx, &channel.id, planned.vlan).await?;
        self.mark_applying(&mut tx, o).await?;
        audit(
            &mut tx,
            now,
            &self.worker_actor(),
            "order.planned",
            &o.id,
            serde_json::json!({"channel": channel.id, "vlan": planned.vlan, "leaf_vlan": planned.leaf_vlan, "path": path_names}),
        )
        .await
        .map_err(StoreError::Sql)?;
        tx.commit().await.map_err(StoreError::Sql)?;
        let pinned =
            ChannelSpec { vlan: VlanId::new(planned.vlan), leaf_vlan: planned.leaf_vlan.and_then(VlanId::new), ..spec };
        Ok(Some((Target::Present(pinned), scope, was_live)))
    }

    /// The dry-run switches of `scope` and the items an apply of `add` and `remove`
    /// concerns on each (what the store loads and the engine is handed).
    pub(super) fn concerned(
        &self,
        topo: &Topology,
        scope: &[String],
        add: &[BTreeSet<Item>],
        remove: &[BTreeSet<Item>],
    ) -> dry_switches::Concerned {
        let mut concerned = dry_switches::Concerned::default();
        for (k, name) in scope.iter().enumerate() {
            if topo.switch(name).is_none() || self.driver_kind(topo, name) != "dry-run" {
                continue;
            }
            concerned.switch(name, add.get(k).into_iter().chain(remove.get(k)).flatten());
        }
        concerned
    }

    pub(crate) fn worker_actor(&self) -> Actor {
        Actor {
            user_id: format!("worker:{}", self.config.instance),
            email: String::new(),
            org_id: super::OPERATOR_ORG.into(),
            role: super::UserRole::Operator,
            source: "worker".into(),
        }
    }

    /// Step 3: under the switches' row locks, applies the target to the switches `scope`.
    /// Returns `Ok(Err(reason))` when the switches refused (and were rolled back).
    async fn apply_target(
        &self,
        o: &Claimed,
        topo: &Arc<Topology>,
        target: &Target,
        scope: &[String],
        record: bool,
    ) -> Result<std::result::Result<crate::engine::Provisioned, String>> {
        let mut tx = self.db.write_background().await?;
        self.lock_switches(&mut tx, scope).await?;
        // What the channel had on the switches, and what it should have now.
        let applied_before = channels::applied(&mut tx, &o.channel_id).await?;
        let old_spec = applied_before.as_deref().and_then(|t| serde_json::from_str::<AppliedChannel>(t).ok());
        let new_spec = match target {
            Target::Present(spec) => Some(AppliedChannel::of(spec)),
            Target::Absent | Target::Paused => None,
        };
        let (add, remove) = match delta(topo, &o.channel_id, scope, old_spec.as_ref(), new_spec.as_ref()) {
            Ok(d) => d,
            Err(reason) => {
                tx.rollback().await?;
                return Ok(Err(reason));
            }
        };
        let dry = dry_switches::load(&mut tx, &self.concerned(topo, scope, &add, &remove)).await?;
        let faults: Vec<(String, usize)> =
            scope.iter().filter_map(|s| self.take_fault(s).map(|i| (s.clone(), i))).collect();
        let result = engine_apply(topo, scope, add, remove, &dry, faults).await?;
        match result {
            Ok(applied) => {
                let commands =
                    dry_commands(topo, &dry, applied.switches.iter().map(|t| (t.name.as_str(), t.changes.as_slice())));
                dry_switches::save(&mut tx, self.db.dialect, &dry, &applied.dry_after).await?;
                let applied_json = new_spec.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default());
                // Commit only while the order is still ours (an instance that stalled past its
                // lease must not overwrite the work of the one that took over).
                let finished = if record {
                    let detail =
                        serde_json::json!({"changes": applied.changes, "switches": scope, "commands": commands});
                    self.finish_done(&mut tx, o, target, applied_json, &detail.to_string(), applied.changes).await
                } else {
                    channels::set_applied(&mut tx, &o.channel_id, applied_json).await?;
                    self.still_held(&mut tx, o).await
                };
                if let Err(e) = finished {
                    tx.rollback().await?;
                    return Err(e);
                }
                tx.commit().await?;
                Ok(Ok(applied))
            }
            Err(reason) => {
                tx.rollback().await?;
                Ok(Err(reason))
            }
        }
    }

    /// Applies on one switch take turns: row locks on PostgreSQL, taken in name order; on
    /// SQLite the write transaction is exclusive already.
    pub(super) async fn lock_switches(&self, tx: &mut WriteTx, scope: &[String]) -> Result<()> {
        Ok(topology::lock_switches(tx, self.db.dialect, scope).await?)
    }

    /// Records success inside the apply's transaction: the channel `active` (or
    /// `terminated`, its VLANs freed), the order `done`.
    async fn finish_done(
        &self,
        tx: &mut WriteTx,
        o: &Claimed,
        target: &Target,
        applied: Option<String>,
        detail: &str,
        changes: usize,
    ) -> Result<()> {
        let now = self.now();
        // The channel moves on from the state the order was opened for; a state changed
        // meanwhile (a termination while it was applying) is left for its own order.
        match target {
            Target::Present(_) => {
                channels::applied_active(tx, &o.channel_id, applied, now).await?;
            }
            Target::Absent => {
                channels::terminated(tx, &o.channel_id, now).await?;
                super::flow::release_attachments(tx, &[o.channel_id.as_str()], now).await?;
                allocations::release(tx, &o.channel_id).await?;
            }
            Target::Paused => {
                channels::applied_none(tx, &o.channel_id, now).await?;
            }
        }
        self.close_order(tx, o, "done", "", detail, now).await?;
        audit(
            tx,
            now,
            &self.worker_actor(),
            "order.done",
            &o.id,
            serde_json::json!({"channel": o.channel_id, "changes": changes}),
        )
        .await?;
        tracing::info!(changes, "order done");
        Ok(())
    }

    async fn finish_noop(&self, o: &Claimed) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.write_background().await?;
        self.close_order(&mut tx, o, "done", "", "", now).await?;
        audit(&mut tx, now, &self.worker_actor(), "order.done", &o.id, serde_json::json!({"changes": 0, "noop": true}))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failure: the order `failed`, the channel `failed` with the reason, and
    /// (when nothing of it is left on the switches) its VLANs freed.
    async fn finish_failed(&self, o: &Claimed, reason: &str, free: bool) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.write_background().await?;
        let channel = self.channel_row(&mut tx, &o.channel_id, true).await?;
        if channel.state.can_become(ChannelState::Failed) {
            set_state(&mut tx, &channel.id, channel.state, ChannelState::Failed, reason, now).await?;
        }
        if free {
            allocations::release(&mut tx, &channel.id).await?;
            channels::clear_path(&mut tx, &channel.id).await?;
        }
        self.close_order(&mut tx, o, "failed", reason, "", now).await?;
        audit(
            &mut tx,
            now,
            &self.worker_actor(),
            "order.failed",
            &o.id,
            serde_json::json!({"channel": o.channel_id, "reason": reason, "vlan_freed": free}),
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(reason, "order failed");
        Ok(())
    }

    async fn close_order(
        &self,
        tx: &mut WriteTx,
        o: &Claimed,
        status: &str,
        reason: &str,
        detail: &str,
        now: i64,
    ) -> Result<()> {
        let held = orders::close(tx, &o.id, self.config.instance.as_str(), status, reason, detail, now).await?;
        if held { Ok(()) } else { Err(taken_over()) }
    }

    /// Marks the order `applying`, only while this instance holds it.
    async fn mark_applying(&self, tx: &mut WriteTx, o: &Claimed) -> Result<()> {
        let held = orders::mark_applying(tx, &o.id, self.config.instance.as_str(), self.now()).await?;
        if held { Ok(()) } else { Err(taken_over()) }
    }

    /// Checks that this instance still holds the order (its row stays locked until the
    /// transaction ends).
    async fn still_held(&self, tx: &mut WriteTx, o: &Claimed) -> Result<()> {
        if orders::still_held(tx, &o.id, self.config.instance.as_str()).await? { Ok(()) } else { Err(taken_over()) }
    }
}

/// This instance stalled past its lease and another took the order over.
pub(super) fn taken_over() -> ServiceError {
    ServiceError::TakenOver
}

pub(super) fn taken_over_outcome(o: &Claimed) -> OrderOutcome {
    OrderOutcome {
        order_id: o.id.clone(),
        channel_id: o.channel_id.clone(),
        action: o.action.clone(),
        status: "taken_over".into(),
        reason: ServiceError::TakenOver.to_string(),
        changes: 0,
    }
}

pub(super) fn plan_errors(errs: &[crate::orchestrator::PlanError]) -> String {
    errs.iter().map(|e| e.refusal.to_string()).collect::<Vec<_>>().join("; ")
}

/// What a channel holds on the switches once applied: enough to plan its items again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct AppliedChannel {
    kind: ChannelKind,
    vlan: Option<u16>,
    leaf_vlan: Option<u16>,
    bandwidth_mbps: u64,
    members: Vec<(String, Option<Role>, Option<u16>)>,
}

impl AppliedChannel {
    pub(super) fn of(spec: &ChannelSpec) -> AppliedChannel {
        AppliedChannel {
            kind: spec.kind,
            vlan: spec.vlan.map(VlanId::get),
            leaf_vlan: spec.leaf_vlan.map(VlanId::get),
            bandwidth_mbps: spec.bandwidth_mbps,
            members: spec
                .members
                .iter()
                .map(|m| (m.interface.clone(), m.role, m.customer_vlan.map(VlanId::get)))
                .collect(),
        }
    }

    pub(super) fn spec(&self, name: &str) -> ChannelSpec {
        ChannelSpec {
            name: name.to_string(),
            kind: self.kind,
            vlan: self.vlan.and_then(VlanId::new),
            leaf_vlan: self.leaf_vlan.and_then(VlanId::new),
            bandwidth_mbps: self.bandwidth_mbps,
            members: self
                .members
                .iter()
                .map(|(interface, role, tag)| MemberSpec {
                    interface: interface.clone(),
                    role: *role,
                    customer_vlan: tag.and_then(VlanId::new),
                    pos: Pos::default(),
                })
                .collect(),
            pos: Pos::default(),
        }
    }
}

/// Plans `spec` with the VLANs it holds; when its path grew onto a switch where they are
/// taken, moves it to free ones.
pub(super) fn plan_keeping_vlan(
    planner: &mut Planner<'_>,
    spec: &ChannelSpec,
) -> std::result::Result<crate::orchestrator::PlannedChannel, Vec<crate::orchestrator::PlanError>> {
    match planner.add(spec) {
        Ok(p) => Ok(p.clone()),
        Err(errs)
            if (spec.vlan.is_some() || spec.leaf_vlan.is_some())
                && errs
                    .iter()
                    .all(|e| matches!(e.refusal, Refusal::VlanTaken { .. } | Refusal::VlanIsCustomerTag { .. })) =>
        {
            let unpinned = ChannelSpec { vlan: None, leaf_vlan: None, ..spec.clone() };
            planner.add(&unpinned).cloned()
        }
        Err(errs) => Err(errs),
    }
}

/// What an order wants for a channel in `channel.state` with the `live` attachments, or
/// `None` when the channel needs nothing (not ready to carry traffic, or in a state no
/// order acts on).
pub(super) fn target_of(channel: &super::flow::ChannelRow, live: &[super::flow::AttachmentRow]) -> Option<Target> {
    match channel.state {
        ChannelState::Terminating => Some(Target::Absent),
        ChannelState::Paused => Some(Target::Paused),
        ChannelState::Provisioning | ChannelState::Modifying | ChannelState::Active => {
            let roles: Vec<Role> = live.iter().map(|a| a.role).collect();
            if !crate::orchestrator::policy::ready(channel.kind, &roles) {
                return None;
            }
            Some(Target::Present(ChannelSpec {
                name: channel.id.clone(),
                kind: channel.kind,
                vlan: channel.vlan.and_then(VlanId::new),
                leaf_vlan: channel.leaf_vlan.and_then(VlanId::new),
                bandwidth_mbps: channel.bandwidth_mbps,
                members: live
                    .iter()
                    .map(|a| MemberSpec {
                        interface: a.interface.clone(),
                        role: (channel.kind == ChannelKind::P2mp).then_some(a.role),
                        customer_vlan: a.customer_vlan.and_then(VlanId::new),
                        pos: Pos::default(),
                    })
                    .collect(),
                pos: Pos::default(),
            }))
        }
        _ => None,
    }
}

/// The switches a channel's members connect through (names), or why it cannot be placed.
pub(super) fn path_of(topo: &Topology, spec: &ChannelSpec) -> std::result::Result<BTreeSet<String>, String> {
    let mut member_switches = Vec::new();
    for m in &spec.members {
        let Some(iface) = topo.interface(&m.interface) else {
            return Err(format!("interface `{}` is no longer in the topology", m.interface));
        };
        if let Some(s) = topo.switch_index(&iface.switch) {
            member_switches.push(s);
        }
    }
    Ok(topo.path(&member_switches).into_iter().filter_map(|s| topo.switches.get(s).map(|sw| sw.name.clone())).collect())
}
