//! Orders in batches: a worker claims every waiting order (up to `Config::batch_orders`),
//! plans and allocates them in one transaction and applies them in one engine transaction
//! over the union of their switches, so a busy network costs a handful of statements per
//! batch instead of a score per order.
//!
//! The batch is an optimisation, never a different outcome. Anything unusual leaves the
//! batch and runs on its own through the single-order path (`orders.rs`), which records
//! failures, re-plans and cleans up:
//! - an order whose channel needs nothing, or does not plan (its refusal is recorded by the
//!   single path, which plans it again against what the batch committed);
//! - every order, when another instance took a VLAN first (PostgreSQL), when a switch of
//!   the batch has a test fault waiting, or when the switches refuse the combined change:
//!   the engine rolled every switch back, and one by one finds the order at fault.
//!
//! Waiting orders are of distinct channels (a unique index keeps one waiting order per
//! channel), so the orders of a batch never act on one channel twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use crate::model::VlanId;
use crate::orchestrator::{Change, ChannelSpec, Item, Op, Planner};
use crate::store::{StoreError, allocations, audit, channels, dry_switches, orders};
use crate::topology::Topology;

use super::flow::ChannelRow;
use super::orders::{
    AppliedChannel, Claimed, OrderOutcome, Target, delta, dry_commands, path_of, plan_keeping_vlan, run_engine,
    taken_over_outcome, target_of,
};
use super::{Result, Service};

/// An order of the batch, planned: what its channel should hold and on which switches
/// (its old path and its new one).
struct Planned {
    order: Claimed,
    target: Target,
    scope: Vec<String>,
}

/// How planning a batch went.
struct PlanOutcome {
    planned: Vec<Planned>,
    /// Orders to run one by one.
    alone: Vec<Claimed>,
}

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
                Claimed { id: r.id, channel_id: r.channel_id, action: r.action, attempts: r.attempts },
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
        let result = self.execute_batch_inner(batch).await;
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
    async fn execute_batch_inner(&self, batch: Vec<Claimed>) -> Result<(Vec<OrderOutcome>, Vec<Claimed>)> {
        let topo = self.topology().await?;
        let PlanOutcome { planned, mut alone } = match self.plan_batch(batch, &topo).await? {
            Ok(p) => p,
            Err(all) => return Ok((Vec::new(), all)),
        };
        if planned.is_empty() {
            return Ok((Vec::new(), alone));
        }
        if planned.iter().flat_map(|p| &p.scope).any(|sw| self.has_fault(sw)) {
            // A one-shot test fault belongs to the apply of one order: run them one by one.
            alone.extend(planned.into_iter().map(|p| p.order));
            return Ok((Vec::new(), alone));
        }
        match self.apply_batch(&planned, &topo).await? {
            Ok(out) => Ok((out, alone)),
            Err(reason) => {
                tracing::info!(%reason, orders = planned.len(), "the combined change was refused; running the orders one by one");
                alone.extend(planned.into_iter().map(|p| p.order));
                Ok((Vec::new(), alone))
            }
        }
    }

    /// Plans and allocates the batch in one transaction. `Err(orders)` when every order
    /// must run alone (another instance took a VLAN first, or one was taken over).
    async fn plan_batch(
        &self,
        batch: Vec<Claimed>,
        topo: &Arc<Topology>,
    ) -> Result<std::result::Result<PlanOutcome, Vec<Claimed>>> {
        let now = self.now();
        let mut tx = self.db.write_background().await?;
        let ids: Vec<&str> = batch.iter().map(|o| o.channel_id.as_str()).collect();
        let rows = channels::rows_of(&mut tx, self.db.dialect, &ids).await?;
        let live = channels::live_attachments_of(&mut tx, self.db.dialect, &ids).await?;

        // What each order wants, and the new paths.
        let mut wants: Vec<(Claimed, ChannelRow, Target, BTreeSet<String>)> = Vec::new();
        let mut alone = Vec::new();
        for o in batch {
            let Some(channel) = rows.get(&o.channel_id) else {
                alone.push(o);
                continue;
            };
            let empty = Vec::new();
            let target = target_of(channel, live.get(&o.channel_id).unwrap_or(&empty));
            let path = match &target {
                Some(Target::Present(spec)) => path_of(topo, spec).ok(),
                Some(Target::Absent) => Some(BTreeSet::new()),
                // Rare (window boundaries): the single path handles them.
                Some(Target::Paused) | None => None,
            };
            match (target, path) {
                (Some(t), Some(p)) => wants.push((o, channel.clone(), t, p)),
                _ => alone.push(o),
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
            let Target::Present(spec) = target else {
                planned.push(Planned { order: o, target: Target::Absent, scope });
                continue;
            };
            let result = plan_keeping_vlan(&mut planner, &spec);
            let Ok(p) = result else {
                // Its refusal is recorded by the single path.
                alone.push(o);
                continue;
            };
            let path_names: Vec<String> =
                p.path.iter().filter_map(|s| topo.switches.get(*s).map(|sw| sw.name.clone())).collect();
            for sw in &path_names {
                for v in std::iter::once(p.vlan).chain(p.leaf_vlan) {
                    allocations.push((sw.clone(), v, channel.id.clone()));
                }
            }
            updates.push((channel.id.clone(), p.vlan, p.leaf_vlan, path_names.join(",")));
            audits.push((
                o.id.clone(),
                serde_json::json!({"channel": channel.id, "vlan": p.vlan, "leaf_vlan": p.leaf_vlan, "path": path_names, "batch": true}),
            ));
            let pinned =
                ChannelSpec { vlan: VlanId::new(p.vlan), leaf_vlan: p.leaf_vlan.and_then(VlanId::new), ..spec };
            planned.push(Planned { order: o, target: Target::Present(pinned), scope });
        }

        // Store: the re-planned channels' allocations, their VLANs and paths, the orders.
        let moved: Vec<&str> = updates.iter().map(|u| u.0.as_str()).collect();
        let d = self.db.dialect;
        if !moved.is_empty() {
            allocations::release_many(&mut tx, d, &moved).await?;
        }
        if !allocations.is_empty() {
            match allocations::allocate_many(&mut tx, d, &allocations).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    tx.rollback().await?;
                    tracing::debug!("a VLAN was taken by another instance; running the batch one by one");
                    return Ok(Err(planned.into_iter().map(|p| p.order).chain(alone).collect()));
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
            return Ok(Err(planned.into_iter().map(|p| p.order).chain(alone).collect()));
        }
        audit::record_many(&mut tx, self.db.dialect, now, &actor, "order.planned", &audits).await?;
        tx.commit().await?;
        Ok(Ok(PlanOutcome { planned, alone }))
    }

    /// Applies the planned orders as one engine transaction over the union of their
    /// switches and records them done. `Ok(Err(reason))` when the switches refused (every
    /// switch rolled back, nothing recorded).
    async fn apply_batch(
        &self,
        planned: &[Planned],
        topo: &Arc<Topology>,
    ) -> Result<std::result::Result<Vec<OrderOutcome>, String>> {
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
                Target::Present(spec) => Some(AppliedChannel::of(spec)),
                Target::Absent | Target::Paused => None,
            };
            let (a, r) = match delta(topo, &p.order.channel_id, &p.scope, old.as_ref(), new.as_ref()) {
                Ok(d) => d,
                Err(reason) => return Ok(Err(reason)),
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
                    .map(|run| settle(topo, planned, &own, &new_specs, run, &peeked.held));
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
                let settled = result.map(|run| settle(topo, planned, &own, &new_specs, run, &dry));
                (dry, settled)
            }
        };
        let Settled { changes, after, present, absent, details, audits, out } = match settled {
            Ok(s) => s,
            Err(reason) => {
                tx.rollback().await?;
                return Ok(Err(reason));
            }
        };
        dry_switches::save(&mut tx, self.db.dialect, &dry, &after).await?;

        // Record: channels active (or terminated, VLANs freed), orders done.
        if !present.is_empty() {
            channels::applied_active_many(&mut tx, self.db.dialect, &present, now).await?;
        }
        if !absent.is_empty() {
            let d = self.db.dialect;
            channels::terminated_many(&mut tx, d, &absent, now).await?;
            let gone: Vec<&str> = absent.iter().map(String::as_str).collect();
            super::flow::release_attachments(&mut tx, &gone, now).await?;
            allocations::release_many(&mut tx, d, &gone).await?;
        }
        let mut closed = 0;
        if !details.is_empty() {
            closed = orders::done_many(&mut tx, self.db.dialect, &details, self.config.instance.as_str(), now).await?;
        }
        if usize::try_from(closed).ok() != Some(planned.len()) {
            // This instance stalled past its lease: whoever took the orders over finishes them
            // (the switches converge when they apply again).
            tx.rollback().await?;
            tracing::warn!("stalled past the lease; another instance took the batch over");
            return Ok(Ok(planned.iter().map(|p| taken_over_outcome(&p.order)).collect()));
        }
        audit::record_many(&mut tx, self.db.dialect, now, &self.worker_actor(), "order.done", &audits).await?;
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
}

/// What an applied batch comes to: the dry-run switches' change, and what to record of
/// each order (in the order of the batch).
struct Settled {
    /// Changes on the switches in all.
    changes: usize,
    /// What the dry-run switches hold after.
    after: BTreeMap<String, BTreeSet<Item>>,
    /// Channels that hold their new configuration (id, applied JSON).
    present: Vec<(String, String)>,
    /// Channels now gone from the switches.
    absent: Vec<String>,
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
    dry: &BTreeMap<String, BTreeSet<Item>>,
) -> Settled {
    let mut s = Settled {
        changes: run.changes,
        after: BTreeMap::new(),
        present: Vec::new(),
        absent: Vec::new(),
        details: Vec::new(),
        audits: Vec::new(),
        out: Vec::new(),
    };
    let touched: HashMap<&str, &[Change]> =
        run.switches.iter().map(|t| (t.name.as_str(), t.changes.as_slice())).collect();
    for ((p, (a, r)), new) in planned.iter().zip(own).zip(new_specs) {
        let (changes, commands) = own_changes(topo, &p.scope, a, r, &touched, dry);
        match new {
            Some(spec) => s.present.push((p.order.channel_id.clone(), serde_json::to_string(spec).unwrap_or_default())),
            None => s.absent.push(p.order.channel_id.clone()),
        }
        let detail = serde_json::json!({
            "changes": changes,
            "switches": p.scope,
            "commands": commands,
            "batch": {"orders": planned.len(), "changes": run.changes},
        });
        s.details.push((p.order.id.clone(), detail.to_string()));
        s.audits.push((
            p.order.id.clone(),
            serde_json::json!({"channel": p.order.channel_id, "changes": changes, "batch": true}),
        ));
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
/// VLAN entry with other flags); and their commands on the dry-run switches (what the
/// order's detail shows). A change several orders need (a switch's baseline) counts for
/// each of them.
fn own_changes(
    topo: &Topology,
    scope: &[String],
    add: &[BTreeSet<Item>],
    remove: &[BTreeSet<Item>],
    touched: &HashMap<&str, &[Change]>,
    dry: &BTreeMap<String, BTreeSet<Item>>,
) -> (usize, Vec<String>) {
    let empty = BTreeSet::new();
    let mut changes = 0;
    let mut mine: Vec<(&str, Vec<Change>)> = Vec::new();
    for (k, sw) in scope.iter().enumerate() {
        let Some(made) = touched.get(sw.as_str()) else { continue };
        let (a, r) = (add.get(k).unwrap_or(&empty), remove.get(k).unwrap_or(&empty));
        let own: Vec<Change> = made.iter().filter(|c| is_own(c, a, r)).cloned().collect();
        changes += own.len();
        mine.push((sw.as_str(), own));
    }
    let commands = dry_commands(topo, dry, mine.iter().map(|(sw, c)| (*sw, c.as_slice())));
    (changes, commands)
}

/// Whether change `c` is one of an order that adds `add` and removes `remove`.
fn is_own(c: &Change, add: &BTreeSet<Item>, remove: &BTreeSet<Item>) -> bool {
    match c.op {
        Op::Add => add.contains(&c.item),
        Op::Remove => {
            remove.contains(&c.item)
                || match &c.item {
                    // Replaced by the same port and VLAN with other flags.
                    Item::Vlan { port, vid, .. } => [(false, false), (false, true), (true, false), (true, true)]
                        .into_iter()
                        .any(|(pvid, untagged)| {
                            add.contains(&Item::Vlan { port: port.clone(), vid: *vid, pvid, untagged })
                        }),
                    _ => false,
                }
        }
    }
}
