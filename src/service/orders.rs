//! Orders: claimed by one instance at a time and run through the pipeline (`pipeline.rs`).
//!
//! 1. **Claim** (short transaction): waiting orders, or one whose claim lease ran out
//!    because its instance died, with `FOR UPDATE SKIP LOCKED` on PostgreSQL so several
//!    instances never take the same order. Status `planning`.
//! 2. **Plan and allocate** (transaction): plan the channels against what the database
//!    says is taken and insert their `(switch, vlan)` allocation rows. The primary key makes
//!    allocation race-free across instances: a conflict means someone else took the VLAN
//!    first, and planning starts again. Status `applying`.
//! 3. **Apply** (transaction holding the rows of the switches concerned): the engine reads
//!    each switch, applies the difference as one transaction with read-back and rollback;
//!    then the channel becomes `active` (or `terminated`, its VLAN freed). On failure every
//!    switch is back where it was, the channel is `failed` with the reason and its VLAN is
//!    freed.
//!
//! This file holds what the pipeline's steps share: claiming and the lease, what an order
//! wants of its channel ([`Target`]), and the records of an order that ends without an
//! apply.

use std::collections::{BTreeMap, BTreeSet};

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
    /// `done`, `failed`, or `in doubt` (run again later: see `Service::park_in_doubt`).
    pub status: String,
    pub reason: String,
    pub changes: usize,
}

#[derive(Clone, Debug)]
pub(super) struct Claimed {
    pub id: String,
    pub channel_id: String,
    pub action: String,
    pub attempts: i64,
    /// When its apply was first left in doubt, if it was (it is being run again).
    pub in_doubt_since: Option<i64>,
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

impl Service {
    /// Claims and runs orders until none is left that this instance may take: waiting
    /// orders in batches of up to `config.batch_orders` (see `pipeline.rs`), then orders left
    /// by instances that stopped, one at a time.
    pub async fn run_pending(&self) -> Result<Vec<OrderOutcome>> {
        let mut out = Vec::new();
        loop {
            // Orders are where the tables grow; the plans kept for them must keep up.
            if let Err(e) = self.db.keep_statistics().await {
                tracing::warn!(error = %e, "cannot analyze the tables that grew (tried again in a minute)");
            }
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
        let c = Claimed {
            id: row.id,
            channel_id: row.channel_id,
            action: row.action,
            attempts: row.attempts,
            in_doubt_since: row.in_doubt_since,
        };
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
            // A trunk's qdisc is shared by the channels with a class on it: the engine keeps
            // it while another's PCP filter hangs from it, which it must then be shown.
            let trunks = topo.switch_index(name).map(|s| topo.trunk_ports(s)).unwrap_or_default();
            for item in remove.get(k).into_iter().flatten() {
                if let Item::Clsact { port } = item
                    && trunks.contains(&port.as_str())
                {
                    concerned.trunk_qdisc(name, port);
                }
            }
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

    /// Applies on one switch take turns: row locks on PostgreSQL, taken in name order; on
    /// SQLite the write transaction is exclusive already.
    pub(super) async fn lock_switches(&self, tx: &mut WriteTx, scope: &[String]) -> Result<()> {
        Ok(topology::lock_switches(tx, self.db.dialect, scope).await?)
    }

    pub(super) async fn finish_noop(&self, o: &Claimed) -> Result<()> {
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
    /// Fails order `o` for `reason`; `scope`: the switches it was applied to, when it got
    /// that far (its page lists them, and the one that failed).
    pub(super) async fn finish_failed(&self, o: &Claimed, reason: &str, free: bool, scope: &[String]) -> Result<()> {
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
        let detail = if scope.is_empty() {
            String::new()
        } else {
            let failed = crate::engine::failed_switch(reason).filter(|f| scope.iter().any(|s| s == f));
            serde_json::json!({"switches": scope, "failed_switch": failed}).to_string()
        };
        self.close_order(&mut tx, o, "failed", reason, &detail, now).await?;
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
}

/// This instance stalled past its lease and another took the order over.
pub(super) fn taken_over() -> ServiceError {
    ServiceError::TakenOver
}

impl Service {
    /// Parks orders whose apply was left in doubt (`reason` says which switches committed
    /// and which did not confirm): they stay `applying`, and any instance runs them again
    /// `in_doubt_retry` later, as it takes over a stopped instance's orders, until every
    /// switch holds their change (or `in_doubt_for` has passed). An activation records the
    /// configuration it was applying as what its channel holds (`applied`, given here), so
    /// that a later removal also takes it off the switches that committed.
    pub(super) async fn park_orders(
        &self,
        parked: &[(&Claimed, Option<AppliedChannel>)],
        reason: &str,
    ) -> Result<Vec<OrderOutcome>> {
        let now = self.now();
        let retry_at = now + i64::try_from(self.config.in_doubt_retry.as_millis()).unwrap_or(10_000);
        let mut tx = self.db.write_background().await?;
        let applied: Vec<(String, Option<String>)> = parked
            .iter()
            .filter_map(|(o, a)| Some((o.channel_id.clone(), Some(serde_json::to_string(a.as_ref()?).ok()?))))
            .collect();
        if !applied.is_empty() {
            channels::applied_many(&mut tx, self.db.dialect, &applied, now).await?;
        }
        let ids: Vec<String> = parked.iter().map(|(o, _)| o.id.clone()).collect();
        let instance = self.config.instance.as_str();
        let n = orders::park_in_doubt(&mut tx, self.db.dialect, &ids, instance, retry_at, now, reason).await?;
        if n != ids.len() as u64 {
            // This instance stalled past its lease: whoever took the orders over runs them.
            tx.rollback().await?;
            return Ok(parked.iter().map(|(o, _)| taken_over_outcome(o)).collect());
        }
        for (o, _) in parked {
            let detail = serde_json::json!({"channel": o.channel_id, "reason": reason, "retry_at": retry_at});
            audit(&mut tx, now, &self.worker_actor(), "order.in_doubt", &o.id, detail).await?;
        }
        tx.commit().await?;
        tracing::error!(
            orders = ids.len(),
            reason,
            "apply in doubt: the orders run again until every switch holds them"
        );
        Ok(parked
            .iter()
            .map(|(o, _)| OrderOutcome {
                order_id: o.id.clone(),
                channel_id: o.channel_id.clone(),
                action: o.action.clone(),
                status: "in doubt".into(),
                reason: reason.to_string(),
                changes: 0,
            })
            .collect())
    }

    /// The reason an order's row holds now.
    pub(super) async fn order_reason(&self, id: &str) -> Result<String> {
        Ok(orders::get(&self.db, id).await?.map(|o| o.reason).unwrap_or_default())
    }
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
    /// The class of service (stored before issue 18 item 4 without one: `standard`).
    #[serde(default = "default_class")]
    class: String,
    /// The PCP the class had in the topology when the channel was applied: what its PCP
    /// filters on the switches carry, though the topology may map the class anew since
    /// (stored before without one: the class's PCP now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pcp: Option<u8>,
    members: Vec<(String, Option<Role>, Option<u16>)>,
    /// The members that gave their own bandwidth: interface, Mbps. Apart from `members`
    /// (and left out when empty) so that what was stored before members could give one
    /// reads as it was written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    member_bandwidths: BTreeMap<String, u64>,
}

fn default_class() -> String {
    crate::topology::DEFAULT_CLASS.to_string()
}

impl AppliedChannel {
    /// The record of `spec` applied on `topo`.
    pub(super) fn of(spec: &ChannelSpec, topo: &Topology) -> AppliedChannel {
        AppliedChannel {
            kind: spec.kind,
            vlan: spec.vlan.map(VlanId::get),
            leaf_vlan: spec.leaf_vlan.map(VlanId::get),
            bandwidth_mbps: spec.bandwidth_mbps,
            class: spec.class.to_string(),
            pcp: topo.classes.pcp(&spec.class),
            members: spec
                .members
                .iter()
                .map(|m| (m.interface.to_string(), m.role, m.customer_vlan.map(VlanId::get)))
                .collect(),
            member_bandwidths: spec
                .members
                .iter()
                .filter_map(|m| Some((m.interface.to_string(), m.bandwidth_mbps?)))
                .collect(),
        }
    }

    /// The topology the channel's items on the switches were planned with: `topo`, or, when
    /// its class is mapped to another PCP there since (or no longer named), `topo` with the
    /// class at the PCP it was applied with. A record from before the PCP was kept whose
    /// class maps to 0 now (or to nothing) may have been applied at another: it is planned
    /// with one, so that its PCP filters' places on the trunks are named (a removal takes
    /// whatever filter holds them, and nothing where none is).
    pub(super) fn topology_then<'t>(&self, topo: &'t Topology) -> std::borrow::Cow<'t, Topology> {
        const SOME_PCP: u8 = 7;
        let now = topo.classes.pcp(&self.class);
        let then = self.pcp.unwrap_or_else(|| now.filter(|p| *p != 0).unwrap_or(SOME_PCP));
        if now == Some(then) {
            return std::borrow::Cow::Borrowed(topo);
        }
        let mut with_then = topo.clone();
        with_then.classes = with_then.classes.with(&self.class, then);
        std::borrow::Cow::Owned(with_then)
    }

    pub(super) fn spec(&self, name: &str) -> ChannelSpec {
        ChannelSpec {
            name: name.into(),
            kind: self.kind,
            vlan: self.vlan.and_then(VlanId::new),
            leaf_vlan: self.leaf_vlan.and_then(VlanId::new),
            bandwidth_mbps: self.bandwidth_mbps,
            class: self.class.as_str().into(),
            members: self
                .members
                .iter()
                .map(|(interface, role, tag)| MemberSpec {
                    interface: interface.as_str().into(),
                    role: *role,
                    customer_vlan: tag.and_then(VlanId::new),
                    bandwidth_mbps: self.member_bandwidths.get(interface).copied(),
                    pos: Pos::default(),
                })
                .collect(),
            pos: Pos::default(),
        }
    }
}

/// Plans `spec` with the VLANs it holds; when its path grew onto a switch where they are
/// taken, moves it to free ones. A refusal names no other channel: the planner holds the
/// batch's channels, which may be other organizations'.
pub(super) fn plan_keeping_vlan(
    planner: &mut Planner<'_>,
    spec: &ChannelSpec,
) -> std::result::Result<crate::orchestrator::PlannedChannel, Vec<crate::orchestrator::PlanError>> {
    plan_or_move(planner, spec).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| crate::orchestrator::PlanError { refusal: e.refusal.without_holder(), ..e })
            .collect()
    })
}

fn plan_or_move(
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
///
/// A member on a tagged-mode interface keeps the tag it was given: it is planned with it
/// as its customer VLAN, so that a channel moved to another VLAN (its path grew onto a
/// switch where its VLAN is taken) does not change the tag the customer's equipment uses.
pub(super) fn target_of(
    channel: &super::flow::ChannelRow,
    live: &[super::flow::AttachmentRow],
    topo: &Topology,
) -> Option<Target> {
    match channel.state {
        ChannelState::Terminating => Some(Target::Absent),
        ChannelState::Paused => Some(Target::Paused),
        ChannelState::Provisioning | ChannelState::Modifying | ChannelState::Active => {
            let roles: Vec<Role> = live.iter().map(|a| a.role).collect();
            if !crate::orchestrator::policy::ready(channel.kind, &roles) {
                return None;
            }
            Some(Target::Present(ChannelSpec {
                name: channel.id.as_str().into(),
                kind: channel.kind,
                vlan: channel.vlan.and_then(VlanId::new),
                leaf_vlan: channel.leaf_vlan.and_then(VlanId::new),
                bandwidth_mbps: channel.bandwidth_mbps,
                class: channel.class.as_str().into(),
                members: live
                    .iter()
                    .map(|a| MemberSpec {
                        interface: a.interface.as_str().into(),
                        role: (channel.kind == ChannelKind::P2mp).then_some(a.role),
                        customer_vlan: a
                            .customer_vlan
                            .or(a.tag.filter(|_| {
                                topo.interface(&a.interface)
                                    .is_some_and(|i| i.mode == crate::model::InterfaceMode::Tagged)
                            }))
                            .and_then(VlanId::new),
                        bandwidth_mbps: a.bandwidth_mbps,
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
