//! The dry-run switches' state, as the order worker hands it to the engine and takes it
//! back: for each switch driven by the dry-run driver, which of the items an apply
//! concerns it holds, and what it gained and lost. The items are stored one row per
//! (switch, item) in `switch_items` (see `switch_items.rs`), as their JSON text with the
//! VLAN first.
//!
//! On SQLite this process is the only writer as long as the database's stamp stays the
//! same, so it keeps a copy of each switch's items (read whole on first use, brought up to
//! date by [`save`] at the commit; see `cache.rs`) and a batch does not spend the writer's
//! time reading them back. On PostgreSQL, or when the stamp changed, exactly the concerned
//! (switch, item) pairs are read.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::orchestrator::Item;

use super::cache::Pending;
use super::{Db, Dialect, Stamp, StoreError, WriteTx, switch_items};

/// Dry-run switches and, for each, the items an apply concerns (what it adds and removes).
#[derive(Debug, Default)]
pub struct Concerned {
    /// By switch, the texts each concerned item may be stored under.
    wanted: BTreeMap<String, BTreeSet<String>>,
    /// By switch, trunk ports whose clsact qdisc the apply may remove: every PCP filter on
    /// them is loaded too, since another channel's keeps the shared qdisc in place.
    qdisc_ports: BTreeMap<String, BTreeSet<String>>,
}

impl Concerned {
    /// Adds switch `name` (which then is in every answer, if only with nothing) and the
    /// `items` concerned there.
    pub fn switch<'a>(&mut self, name: &str, items: impl IntoIterator<Item = &'a Item>) {
        let texts = self.wanted.entry(name.to_string()).or_default();
        for item in items {
            texts.extend(stored_texts(item));
            // A PCP filter is looked for at every PCP: what a switch holds for the channel
            // may carry the one its class had before the topology mapped it anew.
            if let Item::Pcp { port, vid, pcp } = item {
                for other in (0..=7).filter(|p| p != pcp) {
                    texts.extend(stored_texts(&Item::Pcp { port: port.clone(), vid: *vid, pcp: other }));
                }
            }
        }
    }

    /// Marks trunk `port` of switch `name` as one whose qdisc the apply may remove.
    pub fn trunk_qdisc(&mut self, name: &str, port: &str) {
        self.qdisc_ports.entry(name.to_string()).or_default().insert(port.to_string());
    }

    /// Whether `item` (on `switch`) is a PCP filter on a port of [`Concerned::trunk_qdisc`].
    fn on_marked_trunk(&self, switch: &str, item: &Item) -> bool {
        matches!(item, Item::Pcp { port, .. } if self.qdisc_ports.get(switch).is_some_and(|ports| ports.contains(port)))
    }

    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    /// Each switch, holding nothing yet.
    fn empty(&self) -> BTreeMap<String, BTreeSet<Item>> {
        self.wanted.keys().map(|sw| (sw.clone(), BTreeSet::new())).collect()
    }
}

/// Which of the concerned items each dry-run switch holds, under the switches' row locks.
pub async fn load(tx: &mut WriteTx, concerned: &Concerned) -> Result<BTreeMap<String, BTreeSet<Item>>, StoreError> {
    let mut dry = concerned.empty();
    let Some(stamp) = tx.stamp().await? else {
        let dialect = tx.dialect();
        let pairs: Vec<(&String, &String)> =
            concerned.wanted.iter().flat_map(|(sw, items)| items.iter().map(move |i| (sw, i))).collect();
        for (sw, text) in switch_items::held(tx, dialect, &pairs).await? {
            if let Some(item) = parse_item(&sw, &text) {
                dry.entry(sw).or_default().insert(item);
            }
        }
        for sw in concerned.qdisc_ports.keys() {
            for text in switch_items::pcp_filters(tx, sw).await? {
                if let Some(item) = parse_item(sw, &text).filter(|i| concerned.on_marked_trunk(sw, i)) {
                    dry.entry(sw.clone()).or_default().insert(item);
                }
            }
        }
        return Ok(dry);
    };
    let caches = tx.caches.clone();
    let missing: Vec<&str> = {
        let copy = caches.dry.under(stamp);
        concerned.wanted.keys().filter(|sw| !copy.contains_key(*sw)).map(String::as_str).collect()
    };
    let mut loaded: HashMap<String, HashSet<String>> =
        missing.iter().map(|sw| (sw.to_string(), HashSet::new())).collect();
    for (sw, item) in switch_items::of_switches(tx, &missing).await? {
        loaded.entry(sw).or_default().insert(item);
    }
    let mut copy = caches.dry.under(stamp);
    copy.extend(loaded);
    Ok(held_items(&copy, dry, concerned).0)
}

/// What [`peek`] saw: good while [`Peeked::still_current`].
pub struct Peeked {
    stamp: Stamp,
    generation: u64,
    /// Which of the concerned items each switch holds.
    pub held: BTreeMap<String, BTreeSet<Item>>,
}

/// As [`load`] from this process's copy as it is, without the writer (SQLite): `None` when
/// no copy is kept or it lacks one of the switches. What it says is what the database
/// holds if, with the writer taken, [`Peeked::still_current`] says so.
pub fn peek(db: &Db, concerned: &Concerned) -> Option<Peeked> {
    let dry = concerned.empty();
    let (stamp, generation, (held, complete)) = db.caches.dry.peek(|copy| held_items(copy, dry, concerned));
    complete.then_some(Peeked { stamp: stamp?, generation, held })
}

impl Peeked {
    /// Whether the database still holds what was peeked at (call with the writer taken).
    pub async fn still_current(&self, tx: &mut WriteTx) -> Result<bool, StoreError> {
        Ok(tx.stamp().await? == Some(self.stamp) && tx.caches.dry.generation() == self.generation)
    }
}

/// This process's turn at working an apply out from the copy ([`peek`]) until its commit,
/// so that its batches do not spoil each other's work (SQLite; `None` on PostgreSQL).
pub async fn turn(db: &Db) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match db.dialect {
        Dialect::Sqlite => Some(db.caches.dry_turn.lock().await),
        Dialect::Postgres => None,
    }
}

/// Stores what the dry-run switches hold `after` an apply, against what they held
/// `before` (the concerned items, as [`load`] gave them): one DELETE and one INSERT for
/// every switch (per chunk), and the copy follows at the commit.
pub async fn save(
    tx: &mut WriteTx,
    dialect: Dialect,
    before: &BTreeMap<String, BTreeSet<Item>>,
    after: &BTreeMap<String, BTreeSet<Item>>,
) -> Result<(), StoreError> {
    let empty = BTreeSet::new();
    let (mut gone, mut added) = (Vec::new(), Vec::new());
    for (name, new) in after {
        let old = before.get(name).unwrap_or(&empty);
        gone.extend(old.difference(new).flat_map(stored_texts).map(|t| (name.clone(), t)));
        added.extend(new.difference(old).map(|i| (name.clone(), item_text(i))));
    }
    switch_items::write(tx, dialect, &gone, &added).await?;
    tx.on_commit(Pending::Dry { gone, added });
    Ok(())
}

/// Which of the `wanted` items (by switch) each switch of `copy` holds, added to `dry`;
/// and whether the copy has every one of the switches.
fn held_items(
    copy: &HashMap<String, HashSet<String>>,
    mut dry: BTreeMap<String, BTreeSet<Item>>,
    concerned: &Concerned,
) -> (BTreeMap<String, BTreeSet<Item>>, bool) {
    let mut complete = true;
    for (sw, items) in &concerned.wanted {
        let Some(held) = copy.get(sw) else {
            complete = false;
            continue;
        };
        for text in items.iter().filter(|t| held.contains(*t)) {
            if let Some(item) = parse_item(sw, text) {
                dry.entry(sw.clone()).or_default().insert(item);
            }
        }
        if concerned.qdisc_ports.contains_key(sw) {
            for text in held.iter().filter(|t| t.contains(r#""type":"pcp""#)) {
                if let Some(item) = parse_item(sw, text).filter(|i| concerned.on_marked_trunk(sw, i)) {
                    dry.entry(sw.clone()).or_default().insert(item);
                }
            }
        }
    }
    (dry, complete)
}

/// A switch's stored items, read back (unreadable ones are logged and left out).
pub fn parse_items<'a>(switch: &str, texts: impl IntoIterator<Item = &'a String>) -> BTreeSet<Item> {
    texts.into_iter().filter_map(|t| parse_item(switch, t)).collect()
}

/// How an item is stored (`switch_items.item`): its JSON, with its VLAN first when it has
/// one. The table's key is (switch, item), so the rows of one channel on a switch then sit
/// together, and a batch's writes touch one stretch of the index per switch, not one per
/// port and MAC (half of the WAL's pages under load were this index).
fn item_text(item: &Item) -> String {
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
fn stored_texts(item: &Item) -> Vec<String> {
    let text = item_text(item);
    let plain = serde_json::to_string(item).unwrap_or_default();
    if plain == text { vec![text] } else { vec![text, plain] }
}

fn parse_item(switch: &str, text: &str) -> Option<Item> {
    match serde_json::from_str::<Item>(text) {
        Ok(item) => Some(item),
        Err(e) => {
            tracing::warn!(switch = %switch, item = %text, error = %e, "unreadable stored item");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mac;
    use crate::orchestrator::state::{Direction, TagProtocol};

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
            Item::Port { port: "d1".into(), mcast_flood: true },
            Item::Clsact { port: "d2".into() },
            Item::TcDrop { port: "d2".into(), direction: Direction::Egress, protocol: TagProtocol::Dot1Q },
            Item::TcDrop { port: "d2".into(), direction: Direction::Ingress, protocol: TagProtocol::Dot1Ad },
            Item::ProviderBridge { snooping_off: true },
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
        // A drop stored before issue 18 (no protocol) is an 802.1Q drop, and one is still
        // written that way; an 802.1ad drop says so.
        let old = r#"{"direction":"egress","port":"d2","type":"tc_drop"}"#;
        assert_eq!(parse_item("s", old), Some(all[7].clone()));
        assert_eq!(item_text(&all[7]), r#"{"type":"tc_drop","direction":"egress","port":"d2"}"#);
        assert!(item_text(&all[8]).contains(r#""protocol":"802.1ad""#), "{}", item_text(&all[8]));
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
