//! The agent protocol `switchboard.agent.v1` (proto/switchboard/agent/v1/agent.proto, compiled
//! at build time by protox and tonic-prost-build), and the exact conversions between its
//! messages and the planner's [`Item`] and [`Change`].
//!
//! Decoding checks every field (VLAN IDs 1-4094, 6-byte MACs, interface names Linux accepts,
//! a kind and an op set), so a malformed message is refused with what is wrong in it and
//! never reaches a driver.

use std::collections::BTreeSet;

use crate::model::{Mac, check_ifname};
use crate::orchestrator::{Change, Conform, Direction, Item, Op, TagProtocol};

/// The generated messages, client and server.
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/switchboard.agent.v1.rs"));
}

use v1::item::Kind;

/// The largest request or response, in bytes, either side decodes (16 MiB: a full switch of
/// the large benchmark tree is about 2 MiB). Larger ones are refused (OUT_OF_RANGE, tonic's code for it).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// What this build's agents know beyond the protocol's first release: the item kinds and
/// fields issue 18 added ([`feature_of`]), and a prepare's check of the state it was planned
/// from ([`EXPECT_STATE`]).
pub const FEATURES: &[&str] = &[
    EXPECT_STATE,
    "provider_bridge",
    "provider_bridge.snooping_off",
    "port.mcast_flood",
    "tc_drop.protocol",
    "police",
    "police.conform",
    "pcp",
    "l2cp",
];

/// The feature of an agent that checks a prepare's `expect_state` ([`state_digest`]) and
/// answers with what the switch holds when it differs.
pub const EXPECT_STATE: &str = "prepare.expect_state";

/// The digest a prepare's `expect_state` carries: SHA-256 over each item's message, its
/// length first, in `state`'s order. Two builds whose items encode or sort otherwise give
/// other digests for one state, so the check fails safe (the orchestrator plans again from
/// what the agent answers).
pub fn state_digest(state: &BTreeSet<Item>) -> Vec<u8> {
    use prost::Message as _;
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    let mut buf = Vec::new();
    for item in state {
        buf.clear();
        // Encoding into a Vec cannot run out of room.
        let _ = item_to_wire(item).encode_length_delimited(&mut buf);
        hash.update(&buf);
    }
    hash.finalize().to_vec()
}

/// The feature an agent must list to be sent `item` (see [`FEATURES`]), if any.
pub fn feature_of(item: &Item) -> Option<&'static str> {
    match item {
        Item::ProviderBridge { snooping_off: false } => Some("provider_bridge"),
        Item::ProviderBridge { snooping_off: true } => Some("provider_bridge.snooping_off"),
        Item::Port { mcast_flood: true, .. } => Some("port.mcast_flood"),
        Item::TcDrop { protocol: TagProtocol::Dot1Ad, .. } => Some("tc_drop.protocol"),
        Item::Police { conform: Conform::Continue, .. } => Some("police"),
        Item::Police { conform: Conform::Pass, .. } => Some("police.conform"),
        Item::Pcp { .. } => Some("pcp"),
        Item::L2cp { .. } => Some("l2cp"),
        Item::SubInterface { .. }
        | Item::Port { .. }
        | Item::Vlan { .. }
        | Item::Clsact { .. }
        | Item::TcDrop { .. } => None,
        Item::Fdb { .. } => None,
    }
}

/// What an agent that lists no features knows: it is of the release before they were
/// listed, which knew every item of issue 18 but the policer's conform action.
pub const UNLISTED: &[&str] = &[
    "provider_bridge",
    "provider_bridge.snooping_off",
    "port.mcast_flood",
    "tc_drop.protocol",
    "police",
    "pcp",
    "l2cp",
];

/// The features `changes` need that an agent listing `known` does not know ([`UNLISTED`]
/// when it lists none), in order, each once.
pub fn missing_features(changes: &[Change], known: &[String]) -> Vec<&'static str> {
    let knows = |f: &str| if known.is_empty() { UNLISTED.contains(&f) } else { known.iter().any(|k| k == f) };
    let mut missing: Vec<&'static str> =
        changes.iter().filter_map(|c| feature_of(&c.item)).filter(|f| !knows(f)).collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// An item as its message.
pub fn item_to_wire(item: &Item) -> v1::Item {
    let kind = match item {
        Item::ProviderBridge { snooping_off } => {
            Kind::ProviderBridge(v1::ProviderBridge { snooping_off: *snooping_off })
        }
        Item::SubInterface { parent, vid } => {
            Kind::SubInterface(v1::SubInterface { parent: parent.clone(), vid: u32::from(*vid) })
        }
        Item::Port { port, mcast_flood } => Kind::Port(v1::Port { port: port.clone(), mcast_flood: *mcast_flood }),
        Item::Vlan { port, vid, pvid, untagged } => {
            Kind::Vlan(v1::Vlan { port: port.clone(), vid: u32::from(*vid), pvid: *pvid, untagged: *untagged })
        }
        Item::Clsact { port } => Kind::Clsact(v1::Clsact { port: port.clone() }),
        Item::TcDrop { port, direction, protocol } => Kind::TcDrop(v1::TcDrop {
            port: port.clone(),
            direction: match direction {
                Direction::Ingress => v1::Direction::Ingress,
                Direction::Egress => v1::Direction::Egress,
            } as i32,
            protocol: match protocol {
                TagProtocol::Dot1Q => v1::TagProtocol::TagProtocol8021q,
                TagProtocol::Dot1Ad => v1::TagProtocol::TagProtocol8021ad,
            } as i32,
        }),
        Item::Police { port, rate_bps, burst_bytes, conform } => Kind::Police(v1::Police {
            port: port.clone(),
            rate_bps: *rate_bps,
            burst_bytes: *burst_bytes,
            conform: match conform {
                Conform::Continue => v1::Conform::Continue,
                Conform::Pass => v1::Conform::Pass,
            } as i32,
        }),
        Item::Pcp { port, vid, pcp } => {
            Kind::Pcp(v1::Pcp { port: port.clone(), vid: u32::from(*vid), pcp: u32::from(*pcp) })
        }
        Item::L2cp { port, foreign } => Kind::L2cp(v1::L2cp { port: port.clone(), foreign: *foreign }),
        Item::Fdb { mac, vid, port } => {
            Kind::Fdb(v1::Fdb { mac: mac.octets().to_vec(), vid: u32::from(*vid), port: port.clone() })
        }
    };
    v1::Item { kind: Some(kind) }
}

/// A message as its item, or what is wrong with it.
pub fn item_from_wire(item: &v1::Item) -> Result<Item, String> {
    let port = |p: &str| check_ifname(p).map(|()| p.to_string());
    Ok(match item.kind.as_ref().ok_or("the item has no kind")? {
        Kind::ProviderBridge(b) => Item::ProviderBridge { snooping_off: b.snooping_off },
        Kind::SubInterface(s) => Item::SubInterface { parent: port(&s.parent)?, vid: vid(s.vid)? },
        Kind::Port(p) => Item::Port { port: port(&p.port)?, mcast_flood: p.mcast_flood },
        Kind::Vlan(v) => Item::Vlan { port: port(&v.port)?, vid: vid(v.vid)?, pvid: v.pvid, untagged: v.untagged },
        Kind::Clsact(c) => Item::Clsact { port: port(&c.port)? },
        Kind::TcDrop(t) => Item::TcDrop {
            port: port(&t.port)?,
            direction: match v1::Direction::try_from(t.direction) {
                Ok(v1::Direction::Ingress) => Direction::Ingress,
                Ok(v1::Direction::Egress) => Direction::Egress,
                _ => return Err(format!("tc drop direction {} is neither ingress nor egress", t.direction)),
            },
            protocol: match v1::TagProtocol::try_from(t.protocol) {
                Ok(v1::TagProtocol::Unspecified | v1::TagProtocol::TagProtocol8021q) => TagProtocol::Dot1Q,
                Ok(v1::TagProtocol::TagProtocol8021ad) => TagProtocol::Dot1Ad,
                Err(_) => return Err(format!("tc drop protocol {} is neither 802.1Q nor 802.1ad", t.protocol)),
            },
        },
        Kind::Police(p) => Item::Police {
            port: port(&p.port)?,
            rate_bps: p.rate_bps,
            burst_bytes: p.burst_bytes,
            conform: match v1::Conform::try_from(p.conform) {
                Ok(v1::Conform::Continue) => Conform::Continue,
                Ok(v1::Conform::Pass) => Conform::Pass,
                Err(_) => return Err(format!("policer conform action {} is neither continue nor pass", p.conform)),
            },
        },
        Kind::Pcp(p) => Item::Pcp {
            port: port(&p.port)?,
            vid: vid(p.vid)?,
            pcp: u8::try_from(p.pcp).ok().filter(|v| *v <= 7).ok_or_else(|| format!("PCP {} is not 0-7", p.pcp))?,
        },
        Kind::L2cp(l) => Item::L2cp { port: port(&l.port)?, foreign: l.foreign },
        Kind::Fdb(f) => Item::Fdb {
            mac: Mac(<[u8; 6]>::try_from(f.mac.as_slice())
                .map_err(|_| format!("a MAC address has 6 bytes, not {}", f.mac.len()))?),
            vid: vid(f.vid)?,
            port: port(&f.port)?,
        },
    })
}

/// A change as its message.
pub fn change_to_wire(change: &Change) -> v1::Change {
    let op = match change.op {
        Op::Add => v1::Op::Add,
        Op::Remove => v1::Op::Remove,
    };
    v1::Change { op: op as i32, item: Some(item_to_wire(&change.item)) }
}

/// A message as its change, or what is wrong with it.
pub fn change_from_wire(change: &v1::Change) -> Result<Change, String> {
    let op = match v1::Op::try_from(change.op) {
        Ok(v1::Op::Add) => Op::Add,
        Ok(v1::Op::Remove) => Op::Remove,
        _ => return Err(format!("op {} is neither add nor remove", change.op)),
    };
    let item = item_from_wire(change.item.as_ref().ok_or("the change has no item")?)?;
    Ok(Change { op, item })
}

/// Every change of a request, or the first malformed one with its index.
pub fn changes_from_wire(changes: &[v1::Change]) -> Result<Vec<Change>, String> {
    changes.iter().enumerate().map(|(k, c)| change_from_wire(c).map_err(|e| format!("change {k}: {e}"))).collect()
}

fn vid(v: u32) -> Result<u16, String> {
    u16::try_from(v).ok().filter(|v| (1..=4094).contains(v)).ok_or_else(|| format!("VLAN ID {v} is outside 1-4094"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let items = [
            Item::SubInterface { parent: "eth1".into(), vid: 4094 },
            Item::Port { port: "p1".into(), mcast_flood: true },
            Item::Vlan { port: "p1".into(), vid: 1, pvid: true, untagged: false },
            Item::Vlan { port: "p1".into(), vid: 2, pvid: false, untagged: true },
            Item::Clsact { port: "p1".into() },
            Item::ProviderBridge { snooping_off: true },
            Item::ProviderBridge { snooping_off: false },
            Item::TcDrop { port: "p1".into(), direction: Direction::Ingress, protocol: TagProtocol::Dot1Q },
            Item::TcDrop { port: "p1".into(), direction: Direction::Egress, protocol: TagProtocol::Dot1Ad },
            Item::Police { port: "p1".into(), rate_bps: 10_000_000, burst_bytes: 12_500, conform: Conform::Continue },
            Item::Police { port: "p1".into(), rate_bps: 10_000_000, burst_bytes: 12_500, conform: Conform::Pass },
            Item::Pcp { port: "t1".into(), vid: 4094, pcp: 7 },
            Item::Port { port: "p1".into(), mcast_flood: false },
            Item::L2cp { port: "p1.500".into(), foreign: false },
            Item::L2cp { port: "p1".into(), foreign: true },
            Item::Fdb { mac: Mac([2, 0, 0, 0, 0, 0xff]), vid: 10, port: "up".into() },
        ];
        for item in items {
            for op in [Op::Add, Op::Remove] {
                let change = Change { op, item: item.clone() };
                let bytes = prost::Message::encode_to_vec(&change_to_wire(&change));
                let back: v1::Change = prost::Message::decode(bytes.as_slice()).unwrap();
                assert_eq!(change_from_wire(&back).unwrap(), change);
            }
        }
    }

    #[test]
    fn malformed_changes_are_refused_naming_them() {
        let good = change_to_wire(&Change { op: Op::Add, item: Item::Port { port: "p1".into(), mcast_flood: true } });
        let mut no_op = good.clone();
        no_op.op = 0;
        let mut no_item = good.clone();
        no_item.item = None;
        let bad_vid = change_to_wire(&Change {
            op: Op::Add,
            item: Item::Vlan { port: "p1".into(), vid: 1, pvid: false, untagged: false },
        });
        let mut bad_vid = bad_vid;
        if let Some(v1::Item { kind: Some(Kind::Vlan(v)) }) = bad_vid.item.as_mut() {
            v.vid = 70_000;
        }
        let bad_mac = v1::Change {
            op: 1,
            item: Some(v1::Item { kind: Some(Kind::Fdb(v1::Fdb { mac: vec![1; 5], vid: 3, port: "p".into() })) }),
        };
        let bad_name = v1::Change {
            op: 2,
            item: Some(v1::Item { kind: Some(Kind::Port(v1::Port { port: "a/b".into(), mcast_flood: true })) }),
        };
        for (bad, want) in [
            (no_op, "change 1: op 0"),
            (no_item, "change 1: the change has no item"),
            (bad_vid, "change 1: VLAN ID 70000 is outside 1-4094"),
            (bad_mac, "change 1: a MAC address has 6 bytes, not 5"),
            (bad_name, "change 1: interface name \"a/b\" contains '/'"),
        ] {
            let err = changes_from_wire(&[good.clone(), bad]).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
