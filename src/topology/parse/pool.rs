//! The `vlans:` section: the pool channels' VLANs come from and the reserved ranges.

use crate::model::Pos;
use crate::topology::VlanPool;
use crate::topology::yaml::{Node, Reader, Value};

fn read_range(r: &mut Reader, node: &Node, what: &str) -> Option<(u16, u16)> {
    let (a, b) = match &node.value {
        Value::Int(i) => (*i, *i),
        Value::Str(s) => {
            let parsed = s.split_once('-').map(|(a, b)| (a.trim().parse::<i64>(), b.trim().parse::<i64>()));
            match parsed {
                Some((Ok(a), Ok(b))) => (a, b),
                _ => {
                    r.error(
                        node.pos,
                        format!("{what} {s:?} is not a VLAN range: write it as FIRST-LAST, e.g. 100-199"),
                    );
                    return None;
                }
            }
        }
        other => {
            r.error(node.pos, format!("{what} must be a VLAN ID or a range like 100-199, found {}", other.describe()));
            return None;
        }
    };
    if !(1..=4094).contains(&a) || !(1..=4094).contains(&b) {
        // A single ID is said as itself, not as the range `-1--1`.
        let given = if a == b { a.to_string() } else { format!("{a}-{b}") };
        r.error(node.pos, format!("{what} {given} is outside 1-4094, the VLAN IDs 802.1Q allows"));
        return None;
    }
    if a > b {
        r.error(node.pos, format!("{what} {a}-{b} is empty: the first ID is above the last"));
        return None;
    }
    Some((a as u16, b as u16))
}

pub(super) fn read_pool(r: &mut Reader, node: &Node) -> VlanPool {
    let mut pool = VlanPool::default();
    let Some(mut f) = r.map(node, "`vlans`") else { return pool };
    if let Some(n) = f.get("pool")
        && let Some((a, b)) = read_range(r, n, "VLAN pool")
    {
        pool.first = a;
        pool.last = b;
    }
    if let Some(n) = f.get("reserved") {
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        let mut ranges: Vec<((u16, u16), Pos)> = Vec::new();
        for item in items {
            if let Some(range) = read_range(r, item, "reserved range") {
                for (other, other_pos) in &ranges {
                    if range.0 <= other.1 && other.0 <= range.1 {
                        r.error(
                            item.pos,
                            format!(
                                "reserved range {}-{} overlaps reserved range {}-{} at {other_pos}: merge them",
                                range.0, range.1, other.0, other.1
                            ),
                        );
                    }
                }
                ranges.push((range, item.pos));
            }
        }
        pool.reserved = ranges.into_iter().map(|(range, _)| range).collect();
    }
    if let Some(n) = f.get("pool").filter(|_| pool.allows(1)) {
        let message = format!(
            "VLAN pool {}-{} holds VLAN 1, every Linux bridge port's default VLAN: a channel on it would reach \
             the ports of other channels; start the pool at 2 (or reserve 1)",
            pool.first, pool.last
        );
        r.error(n.pos, message);
    }
    f.finish(r, "`vlans`", &["pool", "reserved"]);
    pool
}
