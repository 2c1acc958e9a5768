//! Orders as the worker runs them, on SQLite and PostgreSQL: a switch failing mid-apply,
//! concurrent acceptances making one order, batches (and a refused batch run order by
//! order), the operator's drift view, and what another process changed meanwhile (the
//! dry-run switches' items, VLAN allocations) seen by this one.

use std::collections::{BTreeMap, BTreeSet};

use switchboard::model::{ChannelKind, Role};
use switchboard::orchestrator::policy::ChannelState;
use switchboard::service::Actor;
use switchboard::store::{query, query_scalar, varying};

use crate::service::{assert_switches_match, by_org, code};
use crate::world::{Backend, World, accept, world};

async fn failure_mid_apply(b: Backend) {
    let w = world(b).await;
    // A live channel first, so the switches hold something to keep.
    let keep = w.live_p2p("keep", "acme-3a").await;
    let before: BTreeMap<String, Vec<String>> = {
        let topo = w.svc.topology().await.unwrap();
        let mut m = BTreeMap::new();
        for sw in &topo.switches {
            m.insert(sw.name.clone(), w.svc.switch_items(&sw.name).await.unwrap());
        }
        m
    };
    let allocations = w.svc.allocations().await.unwrap();

    // The third switch of the path fails at its second change.
    let ch = w.svc.create_channel(&w.acme, &w.channel("doomed", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let o = w.offer_to(&w.acme, &ch, &[&w.stark]).await;
    w.svc.inject_fault("core1", 1);
    w.svc.accept(&w.stark, &o.invitations[0].token, &accept("stark-9b")).await.unwrap();
    let done = w.svc.run_pending().await.unwrap();
    assert_eq!(done[0].status, "failed");
    assert!(done[0].reason.contains("core1") && done[0].reason.contains("injected fault"), "{}", done[0].reason);
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Failed);
    assert!(c.reason.contains("core1"), "{}", c.reason);
    assert_eq!(w.svc.allocations().await.unwrap(), allocations, "the failed channel's VLAN is free again");
    for (sw, items) in &before {
        assert_eq!(&w.svc.switch_items(sw).await.unwrap(), items, "switch {sw} is not back where it was");
    }
    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    assert!(log.iter().any(|e| e.action == "order.failed" && e.detail.contains("core1")));
    // A failed channel can be terminated (nothing to remove) and the keeper is untouched.
    w.svc.terminate(&w.acme, &ch, &"".parse().unwrap()).await.unwrap();
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Terminated);
    assert_eq!(w.svc.channel(&w.acme, &keep).await.unwrap().state, ChannelState::Active);
    assert_switches_match(&w).await;
}
on_both!(failure_mid_apply);

/// Whether a stored item is of a switch's baseline (its ports' flags, the provider bridge),
/// which stays once put in place.
fn baseline_item(item: &str) -> bool {
    item.contains(r#""type":"port""#) || item.contains(r#""type":"provider_bridge""#)
}

/// A modification the switches refuse: every switch is rolled back to the channel's old
/// configuration, which the worker then takes off the switches (a failed channel carries
/// nothing); the channel is failed with the reason, its VLANs are freed, and the channel
/// beside it is untouched.
async fn a_refused_modification_takes_the_channel_off_the_switches(b: Backend) {
    let w = world(b).await;
    let keep = w.live_p2p("keep", "acme-3a").await;
    // What the switches hold for channels (a switch's baseline, its ports' flags, stays
    // once put in place).
    let items = async || {
        let topo = w.svc.topology().await.unwrap();
        let mut m = BTreeMap::new();
        for sw in &topo.switches {
            let held = w.svc.switch_items(&sw.name).await.unwrap();
            m.insert(sw.name.clone(), held.into_iter().filter(|i| !baseline_item(i)).collect::<Vec<_>>());
        }
        m
    };
    let (before, allocations) = (items().await, w.svc.allocations().await.unwrap());

    let mut new = w.channel("tree", ChannelKind::P2mp, "acme-1a");
    new.role = Some(Role::Root);
    let ch = w.svc.create_channel(&w.acme, &new).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex, &w.initech]).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-5c")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Active);
    assert_ne!(items().await, before, "the live tree is on the switches");

    // The new leaf's switch fails at its first change.
    w.svc.inject_fault("acc8", 0);
    let out = w.svc.accept(&w.initech, &offer.invitations[1].token, &accept("initech-8b")).await.unwrap();
    assert_eq!(out.channel_state, ChannelState::Modifying);
    let done = w.svc.run_pending().await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].status, "failed", "{done:?}");
    assert!(done[0].reason.contains("acc8") && done[0].reason.contains("injected fault"), "{}", done[0].reason);
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Failed);
    assert_eq!(items().await, before, "nothing of the failed channel is left on any switch");
    assert_eq!(w.svc.allocations().await.unwrap(), allocations, "its VLANs are free again");
    assert_eq!(w.svc.channel(&w.acme, &keep).await.unwrap().state, ChannelState::Active);
    assert_switches_match(&w).await;
}
on_both!(a_refused_modification_takes_the_channel_off_the_switches);

/// Many invitees of one offer accept at the same moment: one order, every member in.
async fn concurrent_acceptances_make_one_order(b: Backend) {
    let w = world(b).await;
    let mut new = w.channel("many", ChannelKind::P2mp, "initech-1c");
    new.role = Some(Role::Root);
    let ch = w.svc.create_channel(&w.initech, &new).await.unwrap();
    // Four organizations, each invited twice (two of its tagged or port interfaces).
    let invitees: Vec<(&Actor, &str)> =
        vec![(&w.stark, "stark-2c"), (&w.acme, "acme-5b"), (&w.globex, "globex-5c"), (&w.umbrella, "umbrella-6b")];
    let offer = w.offer_to(&w.initech, &ch, &invitees.iter().map(|(a, _)| *a).collect::<Vec<_>>()).await;
    let mut tasks = Vec::new();
    for ((actor, iface), inv) in invitees.iter().zip(&offer.invitations) {
        let svc = w.svc.clone();
        let (a1, iface, token) = ((*actor).clone(), iface.to_string(), inv.token.clone());
        tasks.push(tokio::spawn(async move { svc.accept(&a1, &token, &accept(&iface)).await }));
        // The same invitee twice at once: exactly one wins.
        let svc = w.svc.clone();
        let (actor2, token2) = ((*actor).clone(), inv.token.clone());
        tasks.push(tokio::spawn(async move { svc.accept(&actor2, &token2, &accept("acme-7c")).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            // Another organization's `acme-7c` is, to the others, an interface that is not there.
            Err(e) => assert!(["conflict", "not_found"].contains(&e.code()), "{e}"),
        }
    }
    assert_eq!(ok, 4, "one acceptance per invitee");
    let orders = w.svc.orders(&w.initech, Some(&ch)).await.unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.initech, &ch).await.unwrap();
    assert_eq!((c.state, c.attachments.len()), (ChannelState::Active, 5));
    assert_switches_match(&w).await;
}
on_both!(concurrent_acceptances_make_one_order);

/// The operator's drift view: in sync after provisioning; an item lost on a switch (or one
/// nobody needs) shows as drift on that switch only; subscribers may not look.
async fn drift_view_finds_what_a_switch_lost_or_gained(b: Backend) {
    let w = world(b).await;
    let ch = w.live_p2p("watched", "acme-1a").await;
    let view = w.svc.drift(&w.op).await.unwrap();
    assert!(view.iter().all(|d| d.status == "in sync"), "{view:?}");
    let path = w.svc.channel(&w.op, &ch).await.unwrap().path;
    let victim = &path[0];
    let topo = w.svc.topology().await.unwrap();
    let bystander = topo.switches.iter().map(|s| &s.name).find(|s| !path.contains(s)).unwrap().clone();
    let items = w.svc.switch_items(victim).await.unwrap();
    let channel_items: Vec<&String> = items.iter().filter(|i| i.contains(r#""type":"fdb""#)).collect();
    assert!(!channel_items.is_empty(), "{items:?}");
    // The victim loses one of the channel's FDB entries; the bystander gains one it never needed.
    query("DELETE FROM switch_items WHERE switch = $1 AND item = $2")
        .bind(victim.as_str())
        .bind(channel_items[0].as_str())
        .execute(&w.svc.db)
        .await
        .unwrap();
    query("INSERT INTO switch_items (switch, item) VALUES ($1, $2)")
        .bind(bystander.as_str())
        .bind(channel_items[0].as_str())
        .execute(&w.svc.db)
        .await
        .unwrap();
    let view = w.svc.drift(&w.op).await.unwrap();
    let of = |sw: &str| view.iter().find(|d| d.switch == sw).unwrap().clone();
    assert_eq!((of(victim).status.as_str(), of(victim).missing, of(victim).unexpected), ("drift", 1, 0), "{view:?}");
    assert_eq!((of(&bystander).status.as_str(), of(&bystander).missing, of(&bystander).unexpected), ("drift", 0, 1));
    assert_eq!(view.iter().filter(|d| d.status == "drift").count(), 2, "{view:?}");
    assert_eq!(code(w.svc.drift(&w.acme).await), "forbidden");
    // Each switch's page says what it lacks or holds too much, and the commands that repair it.
    let lost = w.svc.switch_repair(&w.op, victim).await.unwrap();
    assert_eq!((lost.status.as_str(), lost.missing.len(), lost.unexpected.len()), ("drift", 1, 0), "{lost:?}");
    assert!(lost.commands.len() == 1 && lost.commands[0].contains("fdb add"), "{:?}", lost.commands);
    let gained = w.svc.switch_repair(&w.op, &bystander).await.unwrap();
    assert_eq!((gained.missing.len(), gained.unexpected.len()), (0, 1), "{gained:?}");
    // The stray entry names a port the bystander does not have: not Switchboard's to remove.
    assert_eq!((gained.left_alone, gained.commands.len()), (1, 0), "{gained:?}");
    let fine = topo.switches.iter().map(|s| &s.name).find(|s| *s != victim && **s != bystander).unwrap();
    let fine = w.svc.switch_repair(&w.op, fine).await.unwrap();
    assert_eq!((fine.status.as_str(), fine.commands.len()), ("in sync", 0));
    assert_eq!(code(w.svc.switch_repair(&w.acme, victim).await), "forbidden");
    assert_eq!(code(w.svc.switch_repair(&w.op, "no-such-switch").await), "not_found");
}
on_both!(drift_view_finds_what_a_switch_lost_or_gained);

/// A dry-run switch's items are stored with their VLAN first, so a channel's rows on a
/// switch sit together; rows stored before that (plain JSON) are still read, and removed
/// with their channel.
async fn items_stored_before_the_vlan_first_key_still_go_with_their_channel(b: Backend) {
    let w = world(b).await;
    let ch = w.live_p2p("old-rows", "acme-1a").await;
    let vid = w.svc.channel(&w.op, &ch).await.unwrap().vlan.unwrap();
    let path = w.svc.channel(&w.op, &ch).await.unwrap().path;
    let mut rewritten = 0;
    for sw in &path {
        for text in w.svc.switch_items(sw).await.unwrap() {
            if !text.starts_with(&format!("{{\"vid\":{vid},")) {
                continue;
            }
            let item: switchboard::orchestrator::state::Item = serde_json::from_str(&text).unwrap();
            let plain = serde_json::to_string(&item).unwrap();
            assert_ne!(plain, text);
            query("UPDATE switch_items SET item = $3 WHERE switch = $1 AND item = $2")
                .bind(sw.as_str())
                .bind(text.as_str())
                .bind(plain.as_str())
                .execute(&w.svc.db)
                .await
                .unwrap();
            rewritten += 1;
        }
    }
    assert!(rewritten >= 2 * path.len(), "every switch of the path held the channel's rows, VLAN first");
    let view = w.svc.drift(&w.op).await.unwrap();
    assert!(view.iter().all(|d| d.status == "in sync"), "plain rows read as before: {view:?}");
    w.svc.terminate(&w.acme, &ch, &"done".parse().unwrap()).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let view = w.svc.drift(&w.op).await.unwrap();
    assert!(view.iter().all(|d| d.status == "in sync"), "nothing of the channel is left: {view:?}");
    for sw in &path {
        let of_vid = |t: &String| t.contains(&format!("\"vid\":{vid},")) || t.contains(&format!("\"vid\":{vid}}}"));
        let left: Vec<String> = w.svc.switch_items(sw).await.unwrap().into_iter().filter(of_vid).collect();
        assert!(left.is_empty(), "{sw} still holds {left:?}");
    }
}
on_both!(items_stored_before_the_vlan_first_key_still_go_with_their_channel);

/// Several orders waiting at once run as one batch (one plan transaction, one apply over
/// the union of their switches): new channels of every kind on shared switches, a member
/// leaving a live channel and a termination, each with its own VLAN, outcome and detail,
/// and the switches holding exactly what the channels call for.
async fn orders_run_in_batches(b: Backend) {
    let w = world(b).await;
    // Two live channels first: one shrinks and one ends in the batch.
    let lan = w.svc.create_channel(&w.acme, &w.channel("lan", ChannelKind::Mp2mp, "acme-5b")).await.unwrap();
    let o = w.offer_to(&w.acme, &lan, &[&w.globex, &w.umbrella]).await;
    w.svc.accept(&w.globex, &o.invitations[0].token, &accept("globex-5c")).await.unwrap();
    w.svc.accept(&w.umbrella, &o.invitations[1].token, &accept("umbrella-6b")).await.unwrap();
    let line = w.svc.create_channel(&w.acme, &w.channel("line", ChannelKind::P2p, "acme-3a")).await.unwrap();
    let o = w.offer_to(&w.acme, &line, &[&w.globex]).await;
    w.svc.accept(&w.globex, &o.invitations[0].token, &accept("globex-3b")).await.unwrap();
    let first = w.svc.run_pending().await.unwrap();
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first.iter().all(|o| o.status == "done"), "{first:?}");

    // Five orders wait together.
    let p2p = w.svc.create_channel(&w.acme, &w.channel("p2p", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let o = w.offer_to(&w.acme, &p2p, &[&w.globex]).await;
    w.svc.accept(&w.globex, &o.invitations[0].token, &accept("globex-1b")).await.unwrap();
    let mut tree = w.channel("tree", ChannelKind::P2mp, "initech-1c");
    tree.role = Some(Role::Root);
    let tree = w.svc.create_channel(&w.initech, &tree).await.unwrap();
    let o = w.offer_to(&w.initech, &tree, &[&w.stark, &w.umbrella]).await;
    w.svc.accept(&w.stark, &o.invitations[0].token, &accept("stark-2c")).await.unwrap();
    w.svc.accept(&w.umbrella, &o.invitations[1].token, &accept("umbrella-2a")).await.unwrap();
    let mesh = w.svc.create_channel(&w.initech, &w.channel("mesh", ChannelKind::Mp2mp, "initech-4a")).await.unwrap();
    let o = w.offer_to(&w.initech, &mesh, &[&w.stark, &w.umbrella]).await;
    w.svc.accept(&w.stark, &o.invitations[0].token, &accept("stark-5a")).await.unwrap();
    w.svc.accept(&w.umbrella, &o.invitations[1].token, &accept("umbrella-4b")).await.unwrap();
    let c = w.svc.channel(&w.acme, &lan).await.unwrap();
    let umbrella_att = c.attachments.iter().find(|a| a.interface == "umbrella-6b").unwrap().id.clone();
    w.svc.detach(&w.umbrella, &umbrella_att).await.unwrap();
    w.svc.terminate(&w.acme, &line, &"".parse().unwrap()).await.unwrap();

    let done = w.svc.run_pending().await.unwrap();
    assert_eq!(done.len(), 5, "{done:?}");
    assert!(done.iter().all(|o| o.status == "done" && o.changes > 0), "{done:?}");
    for ch in [&p2p, &tree, &mesh, &lan, &line] {
        let orders = w.svc.orders(&w.op, Some(ch)).await.unwrap();
        let last = orders.iter().max_by_key(|o| (o.created_at, o.id.clone())).unwrap();
        assert_eq!(last.status, "done", "{last:?}");
        let detail: serde_json::Value = serde_json::from_str(&last.detail).unwrap();
        assert_eq!(detail["batch"]["orders"], 5, "ran in the batch: {detail}");
        let own = detail["changes"].as_u64().unwrap();
        assert!(own > 0 && own <= detail["batch"]["changes"].as_u64().unwrap(), "{detail}");
        let per_switch = detail["per_switch"].as_array().unwrap();
        assert!(!per_switch.is_empty(), "each order's own switches: {detail}");
        let counted: u64 = per_switch.iter().map(|t| t["changes"].as_u64().unwrap()).sum();
        assert_eq!(counted, own, "the switches' changes add up to the order's: {detail}");
        assert!(per_switch.iter().all(|t| !t["commands"].as_array().unwrap().is_empty()), "{detail}");
    }
    for ch in [&p2p, &tree, &mesh, &lan] {
        let c = w.svc.channel(&w.op, ch).await.unwrap();
        assert_eq!(c.state, ChannelState::Active, "{c:?}");
        assert!(c.vlan.is_some());
    }
    assert!(w.svc.channel(&w.op, &tree).await.unwrap().leaf_vlan.is_some(), "the tree has its leaf VLAN");
    assert_eq!(w.svc.channel(&w.op, &lan).await.unwrap().path, vec!["acc5".to_string()], "shrunk");
    let ended = w.svc.channel(&w.op, &line).await.unwrap();
    assert_eq!(ended.state, ChannelState::Terminated);
    assert!(ended.attachments.iter().all(|a| a.state == "detached"), "unplugged: {:?}", ended.attachments);
    assert_eq!((ended.vlan, ended.leaf_vlan), (None, None), "its VLANs freed: {ended:?}");
    let allocations = w.svc.allocations().await.unwrap();
    assert!(allocations.iter().all(|(_, _, ch)| ch != &line), "the ended channel's VLAN is free");
    assert!(!allocations.iter().any(|(sw, _, ch)| ch == &lan && sw != "acc5"), "{allocations:?}");
    // Channels sharing a switch got different VLANs there (acc1 carries p2p and tree).
    let on_acc1: Vec<u16> = allocations.iter().filter(|(sw, _, _)| sw == "acc1").map(|(_, v, _)| *v).collect();
    assert_eq!(on_acc1.len(), 3, "p2p's VLAN and tree's two: {allocations:?}");
    assert_switches_match(&w).await;
    // Audited order by order (the first two channels were a batch of their own).
    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    let batched =
        |action: &str| log.iter().filter(|e| e.action == action && e.detail.contains("\"batch\":true")).count();
    assert_eq!((batched("order.planned"), batched("order.done")), (2 + 4, 2 + 5), "the termination plans nothing");
}
on_both!(orders_run_in_batches);

/// A switch that refuses the batch's combined change: every switch is rolled back and the
/// orders run one by one, so only the channel through the bad switch fails; the others
/// are provisioned, and nothing of the failed one is left anywhere.
async fn a_refused_batch_runs_order_by_order(b: Backend) {
    let w = world(b).await;
    let before: BTreeMap<String, Vec<String>> = {
        let topo = w.svc.topology().await.unwrap();
        let mut m = BTreeMap::new();
        for sw in &topo.switches {
            m.insert(sw.name.clone(), w.svc.switch_items(&sw.name).await.unwrap());
        }
        m
    };
    // acc9 goes bad; one channel crosses it, two stay away from it.
    let far = w.svc.create_channel(&w.acme, &w.channel("far", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let o = w.offer_to(&w.acme, &far, &[&w.stark]).await;
    w.svc.accept(&w.stark, &o.invitations[0].token, &accept("stark-9b")).await.unwrap();
    let near = w.svc.create_channel(&w.acme, &w.channel("near", ChannelKind::P2p, "acme-3a")).await.unwrap();
    let o = w.offer_to(&w.acme, &near, &[&w.globex]).await;
    w.svc.accept(&w.globex, &o.invitations[0].token, &accept("globex-3b")).await.unwrap();
    let mid = w.svc.create_channel(&w.initech, &w.channel("mid", ChannelKind::P2p, "initech-4a")).await.unwrap();
    let o = w.offer_to(&w.initech, &mid, &[&w.umbrella]).await;
    w.svc.accept(&w.umbrella, &o.invitations[0].token, &accept("umbrella-6b")).await.unwrap();
    w.svc.inject_lasting_fault("acc9", 0);

    let done = w.svc.run_pending().await.unwrap();
    w.svc.clear_faults();
    let by_channel: BTreeMap<&str, &str> = done.iter().map(|o| (o.channel_id.as_str(), o.status.as_str())).collect();
    assert_eq!(by_channel.len(), 3, "{done:?}");
    assert_eq!(
        (by_channel[far.as_str()], by_channel[near.as_str()], by_channel[mid.as_str()]),
        ("failed", "done", "done")
    );
    let failed = done.iter().find(|o| o.channel_id == far).unwrap();
    assert!(failed.reason.contains("acc9"), "{}", failed.reason);
    for ch in [&near, &mid] {
        let orders = w.svc.orders(&w.op, Some(ch)).await.unwrap();
        assert_eq!(orders.len(), 1);
        let detail: serde_json::Value = serde_json::from_str(&orders[0].detail).unwrap();
        assert!(detail.get("batch").is_none(), "applied on its own after the batch was refused: {detail}");
        assert_eq!(w.svc.channel(&w.op, ch).await.unwrap().state, ChannelState::Active);
    }
    assert_eq!(w.svc.channel(&w.op, &far).await.unwrap().state, ChannelState::Failed);
    assert!(w.svc.allocations().await.unwrap().iter().all(|(_, _, ch)| ch != &far));
    for sw in ["acc9", "agg3"] {
        assert_eq!(&w.svc.switch_items(sw).await.unwrap(), &before[sw], "{sw} holds nothing of the failed channel");
    }
    assert_switches_match(&w).await;
}
on_both!(a_refused_batch_runs_order_by_order);

/// Migration 0004 unplugs the members of channels terminated before it (whose attachments
/// stayed attached), dated at the channel's end, and leaves live channels alone.
async fn migration_unplugs_channels_terminated_before_it(b: Backend) {
    let w = world(b).await;
    let gone = w.svc.create_channel(&w.acme, &w.channel("gone", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let kept = w.svc.create_channel(&w.acme, &w.channel("kept", ChannelKind::P2p, "acme-3a")).await.unwrap();
    assert_eq!(w.svc.terminate(&w.acme, &gone, &"test".parse().unwrap()).await.unwrap(), None, "a draft ends at once");
    // As a database from before 0004 holds it.
    query("UPDATE attachments SET state = 'attached', detached_at = NULL").execute(&w.svc.db).await.unwrap();
    let migration = include_str!("../../migrations/0004_released_attachments.sql");
    let update = &migration[migration.find("UPDATE").unwrap()..=migration.find(';').unwrap()];
    varying(update.to_string()).execute(&w.svc.db).await.unwrap();
    let ended_at: i64 = query_scalar("SELECT updated_at FROM channels WHERE id = $1")
        .bind(gone.as_str())
        .fetch_one(&w.svc.db)
        .await
        .unwrap();
    let a = &w.svc.channel(&w.acme, &gone).await.unwrap().attachments[0];
    assert_eq!((a.state.as_str(), a.detached_at), ("detached", Some(ended_at)));
    let live = w.svc.channel(&w.acme, &kept).await.unwrap();
    assert_eq!((live.attachments[0].state.as_str(), live.attachments[0].detached_at), ("attached", None));
}
on_both!(migration_unplugs_channels_terminated_before_it);

/// Every (switch, item) the dry-run switches hold.
async fn all_items(w: &World) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for sw in w.svc.topology().await.unwrap().switches.iter() {
        for i in w.svc.switch_items(&sw.name).await.unwrap() {
            out.insert((sw.name.clone(), i));
        }
    }
    out
}

/// Removes one item of a dry-run switch as another process would: on a connection of
/// its own, not this process's writer.
async fn take_away_elsewhere(w: &World, switch: &str, item: &str) {
    let n = query("DELETE FROM switch_items WHERE switch = $1 AND item = $2")
        .bind(switch)
        .bind(item)
        .execute(&w.svc.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// A free usage model of a definition offering `gold` (PCP 5 in metro), with acme and
/// globex allowed the class. Its ID.
async fn gold_model(w: &World) -> String {
    use switchboard::service::{DefinitionSpec, UsageModelSpec};
    let spec = DefinitionSpec {
        name: "Classed".into(),
        kinds: vec![ChannelKind::P2p],
        min_bandwidth_mbps: 1,
        max_bandwidth_mbps: 1000,
        classes: vec!["standard".into(), "gold".into()],
        drivers: vec!["dry-run".into()],
        relations: Default::default(),
    };
    let (definition, _) = w.svc.create_definition(&w.op, &spec).await.unwrap();
    let model = UsageModelSpec { name: "gold trial".into(), ..Default::default() };
    let model = w.svc.create_usage_model(&w.op, &definition, &model).await.unwrap();
    for org in ["acme", "globex"] {
        w.set_account(org, |a| a.classes.push("gold".into())).await;
    }
    model.to_string()
}

/// A live gold E-Line: acme's `name` on `from`, accepted by globex at `to`, applied.
async fn live_gold(w: &World, model: &str, name: &str, from: &str, to: &str) -> switchboard::model::id::ChannelId {
    let mut new = w.channel(name, ChannelKind::P2p, from);
    new.class = "gold".parse().unwrap();
    new.usage_model_id = model.parse().unwrap();
    let ch = w.svc.create_channel(&w.acme, &new).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept(to)).await.unwrap();
    w.svc.run_pending().await.unwrap();
    ch
}

/// Two gold channels share trunks (acme-1a and acme-3a both leave through agg1): ending one
/// keeps the shared trunks' qdiscs, from which the other's PCP filters hang, on the dry-run
/// switches as on real ones; the switches then hold exactly what the other calls for.
async fn ending_one_of_two_classed_channels_keeps_the_trunk_qdiscs_they_share(b: Backend) {
    let w = world(b).await;
    let model = gold_model(&w).await;
    let first = live_gold(&w, &model, "gold-1", "acme-1a", "globex-8a").await;
    live_gold(&w, &model, "gold-2", "acme-3a", "globex-1b").await;
    assert_switches_match(&w).await;
    w.svc.terminate(&w.acme, &first, &"test".parse().unwrap()).await.unwrap();
    w.svc.run_pending().await.unwrap();
    assert_switches_match(&w).await;
}
on_both!(ending_one_of_two_classed_channels_keeps_the_trunk_qdiscs_they_share);

/// A channel of a class that the topology maps to another PCP since it was applied takes
/// its PCP filters (at the PCP it was applied with) and the trunks' qdiscs off the switches
/// when it ends: nothing of it is left. Also for a channel whose record was written before
/// it kept its PCP, its class since mapped to 0.
async fn a_channel_ending_after_its_class_was_remapped_leaves_nothing(b: Backend) {
    let w = world(b).await;
    let model = gold_model(&w).await;
    let text = crate::world::metro_text();
    for (legacy, remapped_to) in [(false, "gold: 6"), (true, "gold: 0")] {
        w.svc.import_topology(&w.op, &text, "metro.yaml").await.unwrap();
        let before = all_items(&w).await;
        let name = if legacy { "old-golden" } else { "golden" };
        let ch = live_gold(&w, &model, name, "acme-1a", "globex-8a").await;
        let live = all_items(&w).await;
        let pcp5 = live.iter().filter(|(_, i)| i.contains(r#""type":"pcp""#) && i.contains(r#""pcp":5"#)).count();
        assert!(pcp5 > 0, "gold is PCP 5 on the trunks: {live:?}");
        if legacy {
            // As written before the record kept the PCP.
            let n = query("UPDATE channels SET applied = REPLACE(applied, ',\"pcp\":5', '') WHERE id = $1")
                .bind(ch.to_string())
                .execute(&w.svc.db)
                .await
                .unwrap();
            assert_eq!(n, 1);
            let applied: String = query_scalar("SELECT applied FROM channels WHERE id = $1")
                .bind(ch.to_string())
                .fetch_one(&w.svc.db)
                .await
                .unwrap();
            assert!(!applied.contains("pcp"), "{applied}");
        }
        let remapped = text.replacen("gold: 5", remapped_to, 1);
        assert_ne!(remapped, text);
        w.svc.import_topology(&w.op, &remapped, "metro.yaml").await.unwrap();
        let order = w.svc.terminate(&w.acme, &ch, &"test".parse().unwrap()).await.unwrap().unwrap();
        w.svc.run_pending().await.unwrap();
        let o = w.svc.order(&w.op, &order).await.unwrap();
        assert_eq!(o.status, "done", "{o:?}");
        let after = all_items(&w).await;
        let left: Vec<_> = after.difference(&before).filter(|(_, i)| !baseline_item(i)).collect();
        assert!(left.is_empty(), "legacy {legacy}: left on the switches: {left:?} {}", o.detail);
    }
}
on_both!(a_channel_ending_after_its_class_was_remapped_leaves_nothing);

/// What another process does to the dry-run switches is seen by this one's next apply,
/// though it keeps a copy of them (SQLite): an item removed behind its back is not
/// counted as removed again, and the switches end as their channels call for.
async fn switch_state_changed_elsewhere_is_seen(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("watched", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    let before = all_items(&w).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-8a")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let active = all_items(&w).await;
    // The channel's own items (the ports it brought into use stay: the switches' baseline).
    let own: BTreeSet<_> = active.difference(&before).filter(|(_, i)| !baseline_item(i)).cloned().collect();
    assert!(own.len() > 1, "the channel put items in place: {own:?}");
    // Another process (its own connection) takes one of them away.
    let (sw, item) = own.iter().next().unwrap();
    take_away_elsewhere(&w, sw, item).await;
    let order = w.svc.terminate(&w.acme, &ch, &"test".parse().unwrap()).await.unwrap().unwrap();
    w.svc.run_pending().await.unwrap();
    let o = w.svc.order(&w.op, &order).await.unwrap();
    assert_eq!(o.status, "done", "{o:?}");
    let after = all_items(&w).await;
    assert_eq!(after, active.difference(&own).cloned().collect(), "nothing of the channel is left");
    let detail: serde_json::Value = serde_json::from_str(&o.detail).unwrap();
    assert_eq!(detail["changes"], own.len() - 1, "removed only what was still there: {detail}");
}
on_both!(switch_state_changed_elsewhere_is_seen);

/// The same for orders run as a batch, which on SQLite are worked out from this process's
/// copy of the dry-run switches before the writer is taken: a change by another process
/// after the copy was made is seen (the copy is not used), nothing is counted twice.
async fn switch_state_changed_elsewhere_is_seen_by_a_batch(b: Backend) {
    let w = world(b).await;
    let before = all_items(&w).await;
    let line = w.svc.create_channel(&w.acme, &w.channel("line", ChannelKind::P2p, "acme-3a")).await.unwrap();
    let o = w.offer_to(&w.acme, &line, &[&w.globex]).await;
    w.svc.accept(&w.globex, &o.invitations[0].token, &accept("globex-3b")).await.unwrap();
    assert_eq!(w.svc.run_pending().await.unwrap().len(), 1);
    let with_line = all_items(&w).await;
    // The first channel's own items (the ports it brought into use stay: the baseline).
    let line_items: BTreeSet<_> = with_line.difference(&before).filter(|(_, i)| !baseline_item(i)).cloned().collect();
    let p2p = w.svc.create_channel(&w.acme, &w.channel("p2p", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let o = w.offer_to(&w.acme, &p2p, &[&w.globex]).await;
    w.svc.accept(&w.globex, &o.invitations[0].token, &accept("globex-1b")).await.unwrap();
    assert_eq!(w.svc.run_pending().await.unwrap().len(), 1);
    let active = all_items(&w).await;
    assert!(line_items.len() > 1, "the channel put items in place: {line_items:?}");
    // Another process takes one of them away.
    let (sw, item) = line_items.iter().next().unwrap();
    take_away_elsewhere(&w, sw, item).await;
    // Both end in one batch.
    let end_line = w.svc.terminate(&w.acme, &line, &"test".parse().unwrap()).await.unwrap().unwrap();
    w.svc.terminate(&w.acme, &p2p, &"test".parse().unwrap()).await.unwrap().unwrap();
    let done = w.svc.run_pending().await.unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(done.iter().all(|o| o.status == "done"), "{done:?}");
    let o = w.svc.order(&w.op, &end_line).await.unwrap();
    let detail: serde_json::Value = serde_json::from_str(&o.detail).unwrap();
    assert_eq!(detail["batch"]["orders"], 2, "ran as a batch: {detail}");
    assert_eq!(detail["changes"], line_items.len() - 1, "removed only what was still there: {detail}");
    let after = all_items(&w).await;
    let baseline: BTreeSet<_> = active.difference(&before).filter(|(_, i)| baseline_item(i)).cloned().collect();
    let expected: BTreeSet<_> = before.union(&baseline).cloned().collect();
    assert_eq!(after, expected, "nothing of either channel is left");
}
on_both!(switch_state_changed_elsewhere_is_seen_by_a_batch);

/// VLANs another process allocated on shared switches are seen by this one's next batch,
/// though it keeps a copy of the allocations (SQLite): its batch plans around them (no
/// conflict, no falling back to one order at a time) and no VLAN is doubled.
async fn vlans_allocated_elsewhere_are_seen(b: Backend) {
    let w = world(b).await;
    // p2p channels between two organizations' interfaces, accepted by the second (its
    // interfaces are each used once: the tags on an interface are read from the database
    // and would hide a stale copy).
    let activate = |svc: switchboard::service::Service,
                    name: &'static str,
                    a: &Actor,
                    ours: &'static str,
                    b: &Actor,
                    org: &'static str,
                    theirs: &'static str| {
        let (w, a, b) = (&w, a.clone(), b.clone());
        async move {
            let ch = svc.create_channel(&a, &w.channel(name, ChannelKind::P2p, ours)).await.unwrap();
            let offer = svc.offer(&a, &ch, &by_org(&[org])).await.unwrap();
            svc.accept(&b, &offer.invitations[0].token, &accept(theirs)).await.unwrap();
            ch
        }
    };
    // This process plans two channels as a batch (its copy now holds their switches).
    activate(w.svc.clone(), "a1", &w.acme, "acme-1a", &w.initech, "initech", "initech-8b").await;
    activate(w.svc.clone(), "a2", &w.umbrella, "umbrella-2a", &w.stark, "stark", "stark-9b").await;
    let done = w.svc.run_pending().await.unwrap();
    assert!(done.len() == 2 && done.iter().all(|o| o.status == "done"), "{done:?}");
    // Another process plans one on switches this process's copy holds (acc1, agg1, acc2).
    let other = crate::world::service(&w.db, "other").await;
    activate(other.clone(), "b", &w.globex, "globex-1b", &w.stark, "stark", "stark-2c").await;
    let done = other.run_pending().await.unwrap();
    assert_eq!(done[0].status, "done", "{done:?}");
    // Two more here, planned together, one of them through acc1 and agg1 again.
    let third = activate(w.svc.clone(), "c", &w.initech, "initech-1c", &w.globex, "globex", "globex-3b").await;
    let fourth = activate(w.svc.clone(), "d", &w.acme, "acme-5b", &w.stark, "stark", "stark-7b").await;
    let done = w.svc.run_pending().await.unwrap();
    assert!(done.iter().all(|o| o.status == "done"), "{done:?}");
    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    for ch in [&third, &fourth] {
        let planned = log
            .iter()
            .find(|e| e.action == "order.planned" && e.detail.contains(ch.as_str()))
            .unwrap_or_else(|| panic!("no plan for {ch}"));
        assert!(planned.detail.contains("\"batch\":true"), "planned alone (a conflict?): {}", planned.detail);
    }
    let mut seen = BTreeSet::new();
    for (switch, vlan, _) in w.svc.allocations().await.unwrap() {
        assert!(seen.insert((switch.clone(), vlan)), "VLAN {vlan} doubled on {switch}");
    }
    assert_switches_match(&w).await;
}
on_both!(vlans_allocated_elsewhere_are_seen);
