//! Provisioning: what an order hands the engine and keeps of it. The dry-run switches' items
//! as stored (their text, read and written by exact pairs), the delta between a channel's
//! old and new items, and the engine's run over the path's switches (on a blocking thread
//! for real switches, in place for dry-run ones).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::engine;
use crate::orchestrator::{Item, Planner};
use crate::southbound::Driver;
use crate::southbound::dry_run::{DryRun, command_lines};
use crate::store::{Dialect, WriteTx, switch_items};
use crate::topology::{DriverConfig, Topology};

use super::orders::*;
use super::{Result, ServiceError};

/// Reads which of the `wanted` items (JSON text, by switch) each switch holds: exactly
/// those (switch, item) pairs, one index seek each.
pub(super) async fn read_dry_pairs(
    tx: &mut WriteTx,
    mut dry: BTreeMap<String, BTreeSet<Item>>,
    wanted: &BTreeMap<String, BTreeSet<String>>,
) -> Result<BTreeMap<String, BTreeSet<Item>>> {
    let pairs: Vec<(&String, &String)> =
        wanted.iter().flat_map(|(sw, items)| items.iter().map(move |i| (sw, i))).collect();
    for (sw, text) in switch_items::held(tx, &pairs).await? {
        if let Some(item) = parse_item(&sw, &text) {
            dry.entry(sw).or_default().insert(item);
        }
    }
    Ok(dry)
}

/// Which of the `wanted` items (by switch) each switch of `copy` holds, added to `dry`;
/// and whether the copy has every one of the switches.
pub(super) fn held_items(
    copy: &HashMap<String, HashSet<String>>,
    mut dry: BTreeMap<String, BTreeSet<Item>>,
    wanted: &BTreeMap<String, BTreeSet<String>>,
) -> (BTreeMap<String, BTreeSet<Item>>, bool) {
    let mut complete = true;
    for (sw, items) in wanted {
        let Some(held) = copy.get(sw) else {
            complete = false;
            continue;
        };
        for text in items.iter().filter(|t| held.contains(*t)) {
            if let Some(item) = parse_item(sw, text) {
                dry.entry(sw.clone()).or_default().insert(item);
            }
        }
    }
    (dry, complete)
}

/// How an item is stored (`switch_items.item`): its JSON, with its VLAN first when it has
/// one. The table's key is (switch, item), so the rows of one channel on a switch then sit
/// together, and a batch's writes touch one stretch of the index per switch, not one per
/// port and MAC (half of the WAL's pages under load were this index).
pub(super) fn item_text(item: &Item) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(item) else {
        return serde_json::to_string(item).unwrap_or_default();
    };
    // The VLAN, then the type, then the rest by name: the same text whatever order serde
    // gives the fields in.
    let rank = |k: &str| match k {
        "vid" => 0,
        "type" => 1,
        _ => 2,
    };
    let mut fields: Vec<(String, serde_json::Value)> = fields.into_iter().collect();
    fields.sort_by(|a, b| (rank(&a.0), &a.0).cmp(&(rank(&b.0), &b.0)));
    let mut out = vec![b'{'];
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing to a Vec cannot fail, and JSON is UTF-8.
        let _ = serde_json::to_writer(&mut out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, v);
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

/// The texts an item may be stored under: [`item_text`], and the plain JSON that rows
/// written before it have (both are looked up and deleted; new rows get the first).
pub(super) fn stored_texts(item: &Item) -> Vec<String> {
    let text = item_text(item);
    let plain = serde_json::to_string(item).unwrap_or_default();
    if plain == text { vec![text] } else { vec![text, plain] }
}

pub(super) fn parse_item(switch: &str, text: &str) -> Option<Item> {
    match serde_json::from_str::<Item>(text) {
        Ok(item) => Some(item),
        Err(e) => {
            tracing::warn!(switch = %switch, item = %text, error = %e, "unreadable stored item");
            None
        }
    }
}

/// What the dry-run switches gained and lost, as (switch, item JSON) pairs: what
/// [`store_dry`] writes and [`Service::remember_dry`] keeps in the copy.
#[derive(Default)]
pub(super) struct DryChange {
    pub(super) gone: Vec<(String, String)>,
    pub(super) added: Vec<(String, String)>,
}

impl DryChange {
    /// `after` against `dry` (what the switches held before).
    pub(super) fn between(dry: &BTreeMap<String, BTreeSet<Item>>, after: &BTreeMap<String, BTreeSet<Item>>) -> Self {
        let empty = BTreeSet::new();
        let mut change = DryChange::default();
        for (name, new) in after {
            let old = dry.get(name).unwrap_or(&empty);
            change.gone.extend(old.difference(new).flat_map(stored_texts).map(|t| (name.clone(), t)));
            change.added.extend(new.difference(old).map(|i| (name.clone(), item_text(i))));
        }
        change
    }
}

/// Writes a [`DryChange`] in one DELETE and one INSERT for every switch (per chunk), not
/// two statements per switch.
pub(super) async fn store_dry(tx: &mut WriteTx, dialect: Dialect, change: &DryChange) -> Result<()> {
    let DryChange { gone, added } = change;
    Ok(switch_items::write(tx, dialect, gone, added).await?)
}

pub(super) type Delta = (Vec<BTreeSet<Item>>, Vec<BTreeSet<Item>>);

/// What to add to and remove from each switch of `scope` to take a channel from `old` to
/// `new` (either may be absent). Only the channel's own items move; the switches' baseline
/// (trunk and port-mode ports) is always put in place and never removed. Items of one
/// channel are never items of another (a VLAN is on a switch once), so removing them
/// cannot take anything from another channel.
pub(super) fn delta(
    topo: &Topology,
    name: &str,
    scope: &[String],
    old: Option<&AppliedChannel>,
    new: Option<&AppliedChannel>,
) -> std::result::Result<Delta, String> {
    let items = |a: Option<&AppliedChannel>| -> std::result::Result<Vec<(usize, Item)>, String> {
        let Some(a) = a else { return Ok(Vec::new()) };
        let mut planner = Planner::new(topo);
        planner
            .add(&a.spec(name))
            .map(|p| p.items(topo))
            .map_err(|e| format!("the channel does not plan on this topology: {}", plan_errors(&e)))
    };
    let (old, new) = (items(old)?, items(new)?);
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

pub(super) type EngineResult = std::result::Result<(Applied, BTreeMap<String, BTreeSet<Item>>), String>;

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

/// Builds the drivers and runs the engine's transaction (blocking).
pub(super) fn run_engine(
    topo: &Topology,
    scope: &[String],
    add: &[BTreeSet<Item>],
    remove: &[BTreeSet<Item>],
    dry: BTreeMap<String, BTreeSet<Item>>,
    faults: &[(String, usize)],
) -> EngineResult {
    let mut indices = Vec::new();
    let mut drivers: Vec<Box<dyn Driver>> = Vec::new();
    for name in scope {
        let Some(s) = topo.switch_index(name) else { continue };
        let Some(sw) = topo.switches.get(s) else { continue };
        let mut driver: Box<dyn Driver> = match &sw.driver {
            _ if dry.contains_key(name) => {
                let mut d = DryRun::new(&sw.name, sw.driver.netns(), sw.driver.bridge());
                d.state = dry.get(name).cloned().unwrap_or_default();
                Box::new(d)
            }
            DriverConfig::DryRun { .. } => {
                return Err(format!("switch `{}`: its dry-run state was not loaded", sw.name));
            }
            _ => engine::connect_switch(sw).map_err(|e| e.to_string())?,
        };
        if let Some((_, at)) = faults.iter().find(|(f, _)| f == name) {
            driver.inject_fault(*at);
        }
        indices.push(s);
        drivers.push(driver);
    }
    let mut first = true;
    let mut progress = |e: &engine::Event| {
        if let engine::Event::Applied { switch, changes, .. } = e {
            tracing::debug!(%switch, changes, "switch applied");
            if first {
                first = false;
                stall_hook();
            }
        }
    };
    let report =
        engine::apply_delta(topo, &indices, &mut drivers, add, remove, &mut progress).map_err(|e| e.to_string())?;
    // What the dry-run switches now hold, and the commands they were given.
    let mut after = BTreeMap::new();
    let mut commands = Vec::new();
    for (k, name) in indices.iter().zip(0..) {
        let Some(sw) = topo.switches.get(*k) else { continue };
        let Some(driver) = drivers.get_mut(name) else { continue };
        if dry.contains_key(&sw.name) {
            let (netns, bridge) = (sw.driver.netns(), sw.driver.bridge());
            if let Ok(state) = driver.read_state() {
                after.insert(sw.name.clone(), state);
            }
            if let Some(d) = dry.get(&sw.name) {
                let now = after.get(&sw.name).cloned().unwrap_or_default();
                let owner = crate::orchestrator::Ownership::new(topo, *k);
                for c in crate::orchestrator::diff(&now, d, &owner) {
                    if commands.len() < 500 {
                        commands.extend(command_lines(&c, bridge, netns));
                    }
                }
            }
        }
    }
    let before = indices
        .iter()
        .zip(report.before)
        .filter_map(|(k, state)| topo.switches.get(*k).map(|sw| (sw.name.clone(), state)))
        .collect();
    Ok((Applied { changes: report.changes, commands, before }, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mac;
    use crate::orchestrator::state::Direction;

    fn items(vid: u16, ports: &[&str], macs: &[u8]) -> Vec<Item> {
        let mut out = vec![Item::SubInterface { parent: "c0".into(), vid }];
        for p in ports {
            out.push(Item::Vlan { port: (*p).into(), vid, pvid: false, untagged: false });
        }
        for (m, p) in macs.iter().zip(ports.iter().cycle()) {
            out.push(Item::Fdb { mac: Mac([2, 0x5b, 0, 0, 0, *m]), vid, port: (*p).into() });
        }
        out
    }

    #[test]
    fn stored_items_read_back_as_themselves() {
        let mut all = items(2, &["d1", "up"], &[1, 9]);
        all.extend([
            Item::Port { port: "d1".into() },
            Item::Clsact { port: "d2".into() },
            Item::TcDrop { port: "d2".into(), direction: Direction::Egress },
            Item::Vlan { port: "c0.4094".into(), vid: 4094, pvid: true, untagged: true },
        ]);
        for item in &all {
            let text = item_text(item);
            assert_eq!(serde_json::from_str::<Item>(&text).ok().as_ref(), Some(item), "{text}");
            assert_eq!(item_text(item), text, "the same text every time");
            let plain = serde_json::to_string(item).unwrap_or_default();
            assert!(stored_texts(item).contains(&plain), "rows stored as plain JSON are found");
        }
        assert!(item_text(&all[1]).starts_with(r#"{"vid":2,"type":"vlan","#), "{}", item_text(&all[1]));
    }

    #[test]
    fn a_channels_items_on_a_switch_sort_together() {
        // Two channels on the same ports, with MACs that interleave.
        let a = items(7, &["d1", "d5", "up"], &[1, 5, 9]);
        let b = items(8, &["d1", "d5", "up"], &[2, 6, 8]);
        let mut texts: Vec<(String, u16)> =
            a.iter().map(|i| (item_text(i), 7)).chain(b.iter().map(|i| (item_text(i), 8))).collect();
        texts.sort();
        let order: Vec<u16> = texts.iter().map(|t| t.1).collect();
        let switches = order.windows(2).filter(|w| w[0] != w[1]).count();
        assert_eq!(switches, 1, "each channel's rows in one run: {texts:?}");
        // Stored as plain JSON they were spread by port and MAC.
        let mut plain: Vec<(String, u16)> = a
            .iter()
            .map(|i| (serde_json::to_string(i).unwrap_or_default(), 7))
            .chain(b.iter().map(|i| (serde_json::to_string(i).unwrap_or_default(), 8)))
            .collect();
        plain.sort();
        let order: Vec<u16> = plain.iter().map(|t| t.1).collect();
        assert!(order.windows(2).filter(|w| w[0] != w[1]).count() > 1);
    }
}
