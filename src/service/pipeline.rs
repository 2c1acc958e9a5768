//! The order pipeline: claimed orders are planned and allocated in one transaction and
//! applied in one engine transaction over the union of their switches, then recorded in
//! the same transaction as the apply. A single order is a batch of one; a worker claims
//! every waiting order (up to `Config::batch_orders`), so a busy network costs a handful of
//! statements per batch instead of a score per order.
//!
//! Batching is an optimisation, never a different outcome. An order of a larger batch that
//! is anything but ordinary leaves it and runs as a batch of one ([`Service::run_claimed`]),
//! which records failures, re-plans and cleans up:
//! - an order whose channel needs nothing, or does not plan (a batch of one plans it again
//!   against what the batch committed, and records its refusal);
//! - every order, when another instance took a VLAN first (PostgreSQL), when a switch of
//!   the batch has a test fault waiting, or when the switches refuse the combined change:
//!   the engine rolled every switch back, and one by one finds the order at fault.
//!
//! Waiting orders are of distinct channels (a unique index keeps one waiting order per
//! channel), so the orders of a batch never act on one channel twice.
//!
//! A crash anywhere leaves the orders claimed with a lease that runs out; the next instance
//! to look runs them again from planning, which converges (finishes) them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::VlanId;
use crate::orchestrator::policy::ChannelState;
use crate::orchestrator::{Change, ChannelSpec, Item, Op, Planner};
use crate::store::{StoreError, allocations, audit, channels, dry_switches, orders};
use crate::topology::Topology;

use super::flow::ChannelRow;
use super::orders::{
    AppliedChannel, Claimed, DETAIL_COMMANDS, OrderOutcome, Target, delta, path_of, plan_errors, plan_keeping_vlan,
    run_engine, taken_over_outcome, target_of,
};
use super::{Result, Service, ServiceError};

/// An order of the batch, planned: what its channel should hold and on which switches
/// (its old path and its new one).
struct Planned {
    order: Claimed,
    target: Target,
    scope: Vec<String>,
    /// What the channel puts on each switch (by topology index), as planned once: nothing
    /// when it leaves the switches.
    items: Vec<(usize, Item)>,
    /// Whether the switches hold the channel from before (a modification).
    was_live: bool,
}

/// How planning a batch went.
struct PlanOutcome {
    planned: Vec<Planned>,
    /// Orders whose channel needs nothing now.
    noop: Vec<Claimed>,
    /// Orders whose channel does not plan, with why.
    refused: Vec<(Claimed, String)>,
}

/// Why a batch's planning wrote nothing.
enum Interrupted {
    /// Another instance took a VLAN first.
    Raced,
    /// Another instance took an order over.
    TakenOver,
}

/// How the apply of a batch is recorded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Finish {
    /// The orders are done: the channels take their new state.
    Done,
    /// A failed modification's cleanup: the channels hold nothing on the switches, and the
    /// orders stay for their failure to be recorded.
    Cleanup,
}

/// How often a batch of one plans again when other instances keep taking its VLANs first.
const ALLOCATION_ATTEMPTS: usize = 20;

impl Service {
    /// Claims up to `limit` waiting orders, oldest first, none of a channel whose order is
    /// running under a live lease. `FOR UPDATE SKIP LOCKED` on PostgreSQL.
    pub(super) async fn claim_batch(&self, limit: usize) -> Result<Vec<Claimed>> {
        // Nothing waiting: do not queue for the writer.
        if !orders::any_waiting(&self.db).await? {
            return Ok(Vec::new());
        }
        let now = self.now();
        let lease = now + i64::try_from(self.config.lease.as_millis()).unwrap_or(60_000);
        let mut tx = self.db.write_background().await?;
        let rows =
            orders::claim_waiting(&mut tx, self.db.dialect, self.config.instance.as_str(), lease, now, limit).await?;
        tx.commit().await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for r in rows {
            claimed.push((
                r.created_at,
                Claimed {
                    id: r.id,
                    channel_id: r.channel_id,
                    action: r.action,
                    attempts: r.attempts,
                    in_doubt_since: r.in_doubt_since,
                },
            ));
        }
        claimed.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        Ok(claimed.into_iter().map(|(_, c)| c).collect())
    }

    /// Runs claimed orders together (see the module comment).
    #[tracing::instrument(name = "order_batch", skip_all, fields(orders = batch.len()))]
    pub(super) async fn execute_batch(&self, batch: Vec<Claimed>) -> Result<Vec<OrderOutcome>> {
        let started = Instant::now();
        let renew = self.keep_lease(batch.iter().map(|o| o.id.clone()).collect());
        let result = self.run_together(batch).await;
        renew.abort();
        let (mut out, alone) = result?;
        let together = out.len();
        for o in alone {
            out.push(self.run_claimed(o).await?);
        }
        tracing::info!(
            together,
            alone = out.len() - together,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "order batch done"
        );
        Ok(out)
    }

    /// The batch's own work: returns the outcomes of the orders it finished and the orders
    /// to run one by one.
    async fn run_together(&self, batch: Vec<Claimed>) -> Result<(Vec<OrderOutcome>, Vec<Claimed>)> {
        let topo = self.topology().await?;
        let PlanOutcome { planned, noop, refused } = match self.plan_batch(batch, &topo).await? {
            Ok(p) => p,
            Err((_, all)) => return Ok((Vec::new(), all)),
        };
        let mut alone: Vec<Claimed> = noop.into_iter().chain(refused.into_iter().map(|r| r.0)).collect();
        if planned.is_empty() {
            return Ok((Vec::new(), alone));
        }
        if planned.iter().flat_map(|p| &p.scope).any(|sw| self.has_fault(sw)) {
            // A one-shot test fault belongs to the apply of one order: run them one by one.
            alone.extend(planned.into_iter().map(|p| p.order));
            return Ok((Vec::new(), alone));
        }
        match self.apply_batch(&planned, &topo, Finish::Done).await? {
            Ok(out) => Ok((out, alone)),
            // Some switches committed: running the orders one by one could fail one and free
            // what those switches hold. Every order of the batch is run again as it is.
            Err(e) if e.in_doubt.is_some() => Ok((self.park_in_doubt(&planned, &topo, &e.message).await?, alone)),
            Err(e) => {
                let reason = e.message;
                tracing::info!(%reason, orders = planned.len(), "the combined change was refused; running the orders one by one");
                alone.extend(planned.into_iter().map(|p| p.order));
                Ok((Vec::new(), alone))
            }
        }
    }

    /// Runs one claimed order: a batch of one.
    #[tracing::instrument(name = "order", skip_all, fields(id = %claimed.id, channel = %claimed.channel_id, action = %claimed.action))]
    pub(super) async fn run_claimed(&self, claimed: Claimed) -> Result<OrderOutcome> {
        let renew = self.keep_lease(vec![claimed.id.clone()]);
        let taken_over = taken_over_outcome(&claimed);
        let outcome = self.run_alone(claimed).await;
        renew.abort();
        match outcome {
            Err(ServiceError::TakenOver) => {
                tracing::warn!("stalled past the lease; another instance took the order over");
                Ok(taken_over)
            }
            other => other,
        }
    }

    /// A batch of one, which records what a larger batch leaves to it: that its channel
    /// needs nothing, does not plan, keeps losing its VLANs to other instances, or is
    /// refused by the switches (a failed modification then takes the channel off them).
    async fn run_alone(&self, o: Claimed) -> Result<OrderOutcome> {
        let outcome = |o: &Claimed, status: &str, reason: String, changes: usize| OrderOutcome {
            order_id: o.id.clone(),
            channel_id: o.channel_id.clone(),
            action: o.action.clone(),
            status: status.into(),
            reason,
            changes,
        };
        if let Some(since) = o.in_doubt_since
            && self.now() - since > i64::try_from(self.config.in_doubt_for.as_millis()).unwrap_or(i64::MAX)
        {
            // Its VLANs stay held: some switches may hold the channel (the reason says which).
            let reason = format!(
                "gave up after {} s in doubt; terminate the channel to remove what the switches hold ({})",
                self.config.in_doubt_for.as_secs(),
                self.order_reason(&o.id).await?
            );
            self.finish_failed(&o, &reason, false, &[]).await?;
            return Ok(outcome(&o, "failed", reason, 0));
        }
        if o.attempts > self.config.max_attempts && o.in_doubt_since.is_none() {
            let reason = format!(
                "gave up after {} attempts (instances stopped while running it); terminate the channel to clean up",
                o.attempts - 1
            );
            self.finish_failed(&o, &reason, false, &[]).await?;
            return Ok(outcome(&o, "failed", reason, 0));
        }
        let topo = self.topology().await?;
        let o_in_doubt = o.in_doubt_since.is_some();
        let mut o = o;
        let mut attempt = 0;
        let planned = loop {
            attempt += 1;
            let PlanOutcome { planned, noop, refused } = match self.plan_batch(vec![o], &topo).await? {
                Ok(p) => p,
                Err((Interrupted::TakenOver, _)) => return Err(ServiceError::TakenOver),
                Err((Interrupted::Raced, back)) => {
                    o = back.into_iter().next().ok_or(ServiceError::TakenOver)?;
                    if attempt < ALLOCATION_ATTEMPTS {
                        tracing::debug!(attempt, "VLAN taken by a concurrent order; planning again");
                        let pause = rand::random_range(1..10 * attempt as u64);
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                        continue;
                    }
                    let reason = "VLAN allocation kept conflicting with concurrent orders; try again".to_string();
                    self.finish_failed(&o, &reason, true, &[]).await?;
                    return Ok(outcome(&o, "failed", reason, 0));
                }
            };
            if let Some(p) = planned.into_iter().next() {
                break p;
            }
            if let Some(o) = noop.into_iter().next() {
                self.finish_noop(&o).await?;
                return Ok(outcome(&o, "done", "nothing to do".into(), 0));
            }
            let Some((o, reason)) = refused.into_iter().next() else { return Err(ServiceError::TakenOver) };
            self.finish_failed(&o, &reason, true, &[]).await?;
            return Ok(outcome(&o, "failed", reason, 0));
        };

        match self.apply_batch(std::slice::from_ref(&planned), &topo, Finish::Done).await? {
            Ok(mut out) => out.pop().ok_or(ServiceError::TakenOver),
            // In doubt now, or before (some switches hold the change; a try that failed
            // cleanly changed nothing): run again until every switch holds it.
            Err(e) if e.in_doubt.is_some() || o_in_doubt => {
                let mut out = self.park_in_doubt(std::slice::from_ref(&planned), &topo, &e.message).await?;
                out.pop().ok_or(ServiceError::TakenOver)
            }
            Err(e) => {
                let mut reason = e.message;
                // Leave nothing of the channel on the switches: a failed modification rolled
                // back to the previous configuration, which still has it. (A failed
                // activation rolled back to switches without it.)
                let free = match planned.target {
                    // A failed removal leaves the configuration (and its VLANs) in place.
                    Target::Absent | Target::Paused => false,
                    Target::Present(_) if planned.was_live => {
                        let gone = Planned {
                            order: planned.order.clone(),
                            target: Target::Absent,
                            scope: planned.scope.clone(),
                            items: Vec::new(),
                            was_live: true,
                        };
                        match self.apply_batch(std::slice::from_ref(&gone), &topo, Finish::Cleanup).await? {
                            Ok(_) => true,
                            Err(e) => {
                                let e = e.message;
                                reason = format!("{reason}; removing the channel's configuration failed too: {e}");
                                false
                            }
                        }
                    }
                    Target::Present(_) => true,
                };
                self.finish_failed(&planned.order, &reason, free, &planned.scope).await?;
                Ok(outcome(&planned.order, "failed", reason, 0))
            }
        }
    }

    /// Plans and allocates the batch in one transaction: each channel planned once,
    /// against what the database says is taken (VLANs of other channels on the new paths,
    /// customer tags on the members' interfaces). `Err` with every order when nothing was
    /// written.
    async fn plan_batch(
        &self,
        batch: Vec<Claimed>,
        topo: &Arc<Topology>,
    ) -> Result<std::result::Result<PlanOutcome, (Interrupted, Vec<Claimed>)>> {
        let now = self.now();
        let together = batch.len() > 1;
        let mut tx = self.db.write_background().await?;
        let ids: Vec<&str> = batch.iter().map(|o| o.channel_id.as_str()).collect();
        let rows = channels::rows_of(&mut tx, self.db.dialect, &ids).await?;
        let live = channels::live_attachments_of(&mut tx, self.db.dialect, &ids).await?;

        // What each order wants, and the new paths.
        let mut wants: Vec<(Claimed, ChannelRow, Target, BTreeSet<String>)> = Vec::new();
        let (mut noop, mut refused) = (Vec::new(), Vec::new());
        for o in batch {
            let Some(channel) = rows.get(&o.channel_id) else {
                let reason = format!("channel `{}` not found", o.channel_id);
                refused.push((o, reason));
                continue;
            };
            let empty = Vec::new();
            let Some(target) = target_of(channel, live.get(&o.channel_id).unwrap_or(&empty), topo) else {
                noop.push(o);
                continue;
            };
            let path = match &target {
                Target::Present(spec) => path_of(topo, spec),
                Target::Absent | Target::Paused => Ok(BTreeSet::new()),
            };
            match path {
                Ok(p) => wants.push((o, channel.clone(), target, p)),
                Err(reason) => refused.push((o, reason)),
            }
        }

        // What is taken on the new paths and on the members' interfaces, by channels that
        // are not re-planned here.
        let replanned: BTreeSet<&str> =
            wants.iter().filter(|w| matches!(w.2, Target::Present(_))).map(|w| w.1.id.as_str()).collect();
        let switches: BTreeSet<&str> = wants.iter().flat_map(|w| w.3.iter().map(String::as_str)).collect();
        let mut planner = Planner::new(topo);
        let excluded: Vec<&str> = replanned.iter().copied().collect();
        let switches: Vec<&str> = switches.into_iter().collect();
        // No other planning between reading what is taken and allocating (PostgreSQL).
        allocations::plan_alone(&mut tx, self.db.dialect).await?;
        for (sw, vlans) in allocations::taken_by_switch(&mut tx, &switches, &excluded).await? {
            let Some(s) = topo.switch_index(&sw) else { continue };
            for v in vlans {
                planner.reserve_vlan(s, v);
            }
        }
        let ifaces: BTreeSet<&str> = wants
            .iter()
            .filter_map(|w| match &w.2 {
                Target::Present(spec) => Some(spec.members.iter().map(|m| m.interface.as_str())),
                Target::Absent | Target::Paused => None,
            })
            .flatten()
            .collect();
        // One row per interface with its tags as text, like the VLANs above: a busy
        // tagged interface carries dozens of channels.
        let ifaces: Vec<&str> = ifaces.into_iter().collect();
        for (iface, tags) in channels::tags_on_except(&mut tx, self.db.dialect, &ifaces, &excluded).await? {
            for tag in tags {
                planner.reserve_tag(&iface, tag);
            }
        }
        // Plan: channels keeping their VLANs first, so a new channel never takes them.
        wants.sort_by_key(|w| !matches!(&w.2, Target::Present(s) if s.vlan.is_some()));
        let mut planned = Vec::new();
        let mut allocations: Vec<(String, u16, String)> = Vec::new(); // (switch, vlan, channel)
        let mut updates: Vec<(String, u16, Option<u16>, String)> = Vec::new(); // (channel, vlan, leaf, path)
        let mut audits = Vec::new();
        let actor = self.worker_actor();
        for (o, channel, target, new_path) in wants {
            let old_path: BTreeSet<String> = channel.path.iter().cloned().collect();
            let scope: Vec<String> = old_path.union(&new_path).cloned().collect();
            let was_live = matches!(channel.state, ChannelState::Modifying | ChannelState::Active);
            let Target::Present(spec) = target else {
                planned.push(Planned { order: o, target, scope, items: Vec::new(), was_live });
                continue;
            };
            let p = match plan_keeping_vlan(&mut planner, &spec) {
                Ok(p) => p,
                Err(e) => {
                    refused.push((o, plan_errors(&e)));
                    continue;
                }
            };
            let path_names: Vec<String> =
                p.path.iter().filter_map(|s| topo.switches.get(*s).map(|sw| sw.name.clone())).collect();
            for sw in &path_names {
                for v in std::iter::once(p.vlan).chain(p.leaf_vlan) {
                    allocations.push((sw.clone(), v, channel.id.clone()));
                }
            }
            updates.push((channel.id.clone(), p.vlan, p.leaf_vlan, path_names.join(",")));
            let mut detail = serde_json::json!({"channel": channel.id, "vlan": p.vlan, "leaf_vlan": p.leaf_vlan, "path": path_names});
            if together {
                detail["batch"] = true.into();
            }
            audits.push((o.id.clone(), detail));
            let pinned =
                ChannelSpec { vlan: VlanId::new(p.vlan), leaf_vlan: p.leaf_vlan.and_then(VlanId::new), ..spec };
            planned.push(Planned { order: o, target: Target::Present(pinned), scope, items: p.items(topo), was_live });
        }

        // Store: the re-planned channels' allocations, their VLANs and paths, the orders.
        let interrupted = |why, planned: Vec<Planned>, noop: Vec<Claimed>, refused: Vec<(Claimed, String)>| {
            let all = planned.into_iter().map(|p| p.order).chain(noop).chain(refused.into_iter().map(|r| r.0));
            Ok(Err((why, all.collect())))
        };
        let moved: Vec<&str> = updates.iter().map(|u| u.0.as_str()).collect();
        let d = self.db.dialect;
        if !moved.is_empty() {
            allocations::release_many(&mut tx, d, &moved).await?;
        }
        if !allocations.is_empty() {
            match allocations::allocate_many(&mut tx, d, &allocations).await {
                Ok(()) => {}
                Err(StoreError::Raced(_)) => {
                    tx.rollback().await?;
                    tracing::debug!("a VLAN was taken by another instance first");
                    return interrupted(Interrupted::Raced, planned, noop, refused);
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !updates.is_empty() {
            // Their VLANs and paths; the members' tags follow.
            channels::set_plans(&mut tx, d, &updates, now).await?;
        }
        let order_ids: Vec<&str> = planned.iter().map(|p| p.order.id.as_str()).collect();
        let held =
            orders::mark_applying_many(&mut tx, d, &order_ids, self.config.instance.as_str(), self.now()).await?;
        if !held {
            tx.rollback().await?;
            return interrupted(Interrupted::TakenOver, planned, noop, refused);
        }
        audit::record_many(&mut tx, now, &actor, "order.planned", &audits).await?;
        tx.commit().await?;
        Ok(Ok(PlanOutcome { planned, noop, refused }))
    }

    /// Applies the planned orders as one engine transaction over the union of their
    /// switches and records them done. `Ok(Err(reason))` when the switches refused (every
    /// switch rolled back, nothing recorded).
    async fn apply_batch(
        &self,
        planned: &[Planned],
        topo: &Arc<Topology>,
        finish: Finish,
    ) -> Result<std::result::Result<Vec<OrderOutcome>, crate::engine::ProvisionError>> {
        let now = self.now();
        let scope: Vec<String> =
            planned.iter().flat_map(|p| p.scope.iter().cloned()).collect::<BTreeSet<_>>().into_iter().collect();
        // What each channel had on the switches: only the holder of its order writes it, so
        // this is read, and each order's change worked out, before taking the writer.
        let ids: Vec<&str> = planned.iter().map(|p| p.order.channel_id.as_str()).collect();
        let mut before: BTreeMap<String, Option<AppliedChannel>> = BTreeMap::new();
        for (id, applied) in channels::applied_of(&self.db, self.db.dialect, &ids).await? {
            before.insert(id, applied.as_deref().and_then(|t| serde_json::from_str::<AppliedChannel>(t).ok()));
        }
        // Each order's own change, and their union per switch.
        let position: BTreeMap<&str, usize> = scope.iter().enumerate().map(|(k, s)| (s.as_str(), k)).collect();
        let mut add = vec![BTreeSet::<Item>::new(); scope.len()];
        let mut remove = vec![BTreeSet::<Item>::new(); scope.len()];
        let mut own: Vec<super::orders::Delta> = Vec::with_capacity(planned.len());
        let mut new_specs = Vec::with_capacity(planned.len());
        for p in planned {
            let old = before.get(&p.order.channel_id).cloned().flatten();
            let new = match &p.target {
                Target::Present(spec) => Some(AppliedChannel::of(spec, topo)),
                Target::Absent | Target::Paused => None,
            };
            let (a, r) = match delta(topo, &p.order.channel_id, &p.scope, old.as_ref(), &p.items) {
                Ok(d) => d,
                Err(reason) => return Ok(Err(reason.into())),
            };
            for (k, sw) in p.scope.iter().enumerate() {
                let Some(&at) = position.get(sw.as_str()) else { continue };
                if let (Some(slot), Some(items)) = (add.get_mut(at), a.get(k)) {
                    slot.extend(items.iter().cloned());
                }
                if let (Some(slot), Some(items)) = (remove.get_mut(at), r.get(k)) {
                    slot.extend(items.iter().cloned());
                }
            }
            own.push((a, r));
            new_specs.push(new);
        }
        // What one order adds, another's removal must not take away.
        for (r, a) in remove.iter_mut().zip(&add) {
            r.retain(|i| !a.contains(i));
        }

        let faults: Vec<(String, usize)> =
            scope.iter().filter_map(|s| self.take_fault(s).map(|i| (s.clone(), i))).collect();
        // On SQLite, with every switch of the batch a dry-run one this process keeps a copy
        // of, the apply is worked out from the copy before taking the writer, and only
        // written with it (if the copy is still what was looked at: see `peek_dry`). The
        // process's batches take turns at this, so one does not spoil another's work.
        let concerned = self.concerned(topo, &scope, &add, &remove);
        let _turn = dry_switches::turn(&self.db).await;
        let early = dry_switches::peek(&self.db, &concerned)
            .filter(|p| scope.iter().all(|s| p.held.contains_key(s)))
            .map(|peeked| {
                let settled = run_engine(topo, &scope, &add, &remove, peeked.held.clone(), &faults)
                    .map(|run| settle(topo, planned, &own, &new_specs, run));
                (peeked, settled)
            });

        let mut tx = self.db.write_background().await?;
        self.lock_switches(&mut tx, &scope).await?;
        let early = match early {
            Some((peeked, settled)) if peeked.still_current(&mut tx).await? => Some((peeked.held, settled)),
            _ => None,
        };
        let early_used = early.is_some();
        let (dry, settled) = match early {
            Some(s) => s,
            None => {
                let dry = dry_switches::load(&mut tx, &concerned).await?;
                let result = super::orders::engine_apply(topo, &scope, add, remove, &dry, faults).await?;
                let settled = result.map(|run| settle(topo, planned, &own, &new_specs, run));
                (dry, settled)
            }
        };
        let Settled { changes, after, applied, details, audits, out } = match settled {
            Ok(s) => s,
            Err(reason) => {
                tx.rollback().await?;
                return Ok(Err(reason));
            }
        };
        dry_switches::save(&mut tx, self.db.dialect, &dry, &after).await?;
        let recorded = match finish {
            Finish::Done => self.record_done(&mut tx, planned, &applied, &details, &audits, now).await?,
            Finish::Cleanup => {
                let none: Vec<(String, Option<String>)> = applied.into_iter().map(|(id, _)| (id, None)).collect();
                channels::applied_many(&mut tx, self.db.dialect, &none, now).await?;
                let mut held = true;
                for p in planned {
                    held &= orders::still_held(&mut tx, &p.order.id, self.config.instance.as_str()).await?;
                }
                held
            }
        };
        if !recorded {
            // This instance stalled past its lease: whoever took the orders over finishes them
            // (the switches converge when they apply again).
            tx.rollback().await?;
            tracing::warn!("stalled past the lease; another instance took the batch over");
            return Ok(Ok(planned.iter().map(|p| taken_over_outcome(&p.order)).collect()));
        }
        tx.commit().await?;
        tracing::info!(
            orders = planned.len(),
            changes,
            switches = scope.len(),
            worked_out_early = early_used,
            "order batch applied"
        );
        Ok(Ok(out))
    }

    /// Parks the planned orders whose apply was left in doubt (`Service::park_orders`).
    async fn park_in_doubt(&self, planned: &[Planned], topo: &Topology, reason: &str) -> Result<Vec<OrderOutcome>> {
        let parked: Vec<(&Claimed, Option<AppliedChannel>)> = planned
            .iter()
            .map(|p| match &p.target {
                Target::Present(spec) if !p.was_live => (&p.order, Some(AppliedChannel::of(spec, topo))),
                _ => (&p.order, None),
            })
            .collect();
        self.park_orders(&parked, reason).await
    }

    /// Records an applied batch in its apply's transaction: each channel holds its new
    /// configuration and moves on from the state its order was opened for, as
    /// `can_become` allows (`active` once provisioned or modified, `terminated` once off
    /// the switches, its VLANs and attachments freed; a state changed meanwhile, such as a
    /// termination while it was applying, is left for its own order); the orders done.
    /// `false` when this instance no longer holds every order.
    async fn record_done(
        &self,
        tx: &mut crate::store::WriteTx,
        planned: &[Planned],
        applied: &[(String, Option<String>)],
        details: &[(String, String)],
        audits: &[(String, serde_json::Value)],
        now: i64,
    ) -> Result<bool> {
        let d = self.db.dialect;
        let ids: Vec<&str> = planned.iter().map(|p| p.order.channel_id.as_str()).collect();
        // Locked until the commit (PostgreSQL; SQLite's writer holds the whole database).
        let rows = channels::rows_of(tx, d, &ids).await?;
        let state = |id: &str| rows.get(id).map(|c| c.state);
        let kept: Vec<(String, Option<String>)> = planned
            .iter()
            .zip(applied)
            .filter(|(p, _)| !matches!(p.target, Target::Absent))
            .map(|(_, a)| a.clone())
            .collect();
        if !kept.is_empty() {
            channels::applied_many(tx, d, &kept, now).await?;
        }
        let active: Vec<&str> = planned
            .iter()
            .filter(|p| matches!(p.target, Target::Present(_)))
            .map(|p| p.order.channel_id.as_str())
            .filter(|id| state(id).is_some_and(|s| s.can_become(ChannelState::Active)))
            .collect();
        if !active.is_empty() {
            channels::move_many(tx, d, &active, ChannelState::Active, now).await?;
        }
        let absent: Vec<&str> = planned
            .iter()
            .filter(|p| matches!(p.target, Target::Absent))
            .map(|p| p.order.channel_id.as_str())
            .collect();
        if !absent.is_empty() {
            let ended: Vec<&str> = absent
                .iter()
                .copied()
                .filter(|id| state(id).is_some_and(|s| s.can_become(ChannelState::Terminated)))
                .collect();
            if !ended.is_empty() {
                channels::terminated_many(tx, d, &ended, now).await?;
            }
            super::flow::release_attachments(tx, &absent, now).await?;
            allocations::release_many(tx, d, &absent).await?;
        }
        let closed = orders::done_many(tx, d, details, self.config.instance.as_str(), now).await?;
        if usize::try_from(closed).ok() != Some(planned.len()) {
            return Ok(false);
        }
        audit::record_many(tx, now, &self.worker_actor(), "order.done", audits).await?;
        Ok(true)
    }
}

/// What an applied batch comes to: the dry-run switches' change, and what to record of
/// each order (in the order of the batch).
struct Settled {
    /// Changes on the switches in all.
    changes: usize,
    /// What the dry-run switches hold after.
    after: BTreeMap<String, BTreeSet<Item>>,
    /// What each channel holds on the switches now (id, applied JSON; nothing when none).
    applied: Vec<(String, Option<String>)>,
    /// Orders done (id, detail JSON).
    details: Vec<(String, String)>,
    audits: Vec<(String, serde_json::Value)>,
    out: Vec<OrderOutcome>,
}

/// Works out [`Settled`] from the engine's report (pure).
fn settle(
    topo: &Topology,
    planned: &[Planned],
    own: &[super::orders::Delta],
    new_specs: &[Option<AppliedChannel>],
    run: crate::engine::Provisioned,
) -> Settled {
    let mut s = Settled {
        changes: run.changes,
        after: BTreeMap::new(),
        applied: Vec::new(),
        details: Vec::new(),
        audits: Vec::new(),
        out: Vec::new(),
    };
    let touched: HashMap<&str, &crate::engine::Touched> = run.switches.iter().map(|t| (t.name.as_str(), t)).collect();
    for ((p, (a, r)), new) in planned.iter().zip(own).zip(new_specs) {
        let (changes, per_switch) = own_changes(topo, &p.scope, a, r, &touched);
        s.applied
            .push((p.order.channel_id.clone(), new.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default())));
        let mut detail = serde_json::json!({"changes": changes, "switches": p.scope, "per_switch": per_switch});
        let mut audit = serde_json::json!({"channel": p.order.channel_id, "changes": changes});
        if planned.len() > 1 {
            detail["batch"] = serde_json::json!({"orders": planned.len(), "changes": run.changes});
            audit["batch"] = true.into();
        }
        s.details.push((p.order.id.clone(), detail.to_string()));
        s.audits.push((p.order.id.clone(), audit));
        s.out.push(OrderOutcome {
            order_id: p.order.id.clone(),
            channel_id: p.order.channel_id.clone(),
            action: p.order.action.clone(),
            status: "done".into(),
            reason: String::new(),
            changes,
        });
    }
    s.after = run.dry_after;
    s
}

/// The changes of a batch's run that are one order's own: on each switch of its scope,
/// those that put in place an item it adds, or take away one it removes or replaces (a
/// VLAN entry with other flags). What the order's detail shows of each switch that took
/// some: how many, as iproute2 commands (at most [`DETAIL_COMMANDS`] lines in all), and how
/// long the switch's apply took (the whole batch's, when the order ran in one). A change
/// several orders need (a switch's baseline) counts for each of them.
fn own_changes(
    topo: &Topology,
    scope: &[String],
    add: &[BTreeSet<Item>],
    remove: &[BTreeSet<Item>],
    touched: &HashMap<&str, &crate::engine::Touched>,
) -> (usize, Vec<serde_json::Value>) {
    let empty = BTreeSet::new();
    let mut changes = 0;
    let mut lines = 0;
    let mut per_switch = Vec::new();
    for (k, sw) in scope.iter().enumerate() {
        let Some(made) = touched.get(sw.as_str()) else { continue };
        let (a, r) = (add.get(k).unwrap_or(&empty), remove.get(k).unwrap_or(&empty));
        let slots: HashSet<(&str, u8, u16)> = a.iter().chain(r).filter_map(Item::slot).collect();
        let own: Vec<Change> = made
            .changes
            .iter()
            .filter(|c| match c.op {
                Op::Add => a.contains(&c.item),
                // Or what held the slot of an item it adds or removes (a VLAN entry with other
                // flags, a PCP filter changed by hand).
                Op::Remove => r.contains(&c.item) || c.item.slot().is_some_and(|k| slots.contains(&k)),
            })
            .cloned()
            .collect();
        if own.is_empty() {
            continue;
        }
        changes += own.len();
        let commands = crate::engine::commands(topo, sw, &own, DETAIL_COMMANDS.saturating_sub(lines));
        lines += commands.len();
        per_switch.push(serde_json::json!({
            "switch": sw,
            "changes": own.len(),
            "micros": u64::try_from(made.elapsed.as_micros()).unwrap_or(u64::MAX),
            "commands": commands,
        }));
    }
    (changes, per_switch)
}
