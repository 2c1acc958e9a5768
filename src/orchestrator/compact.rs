//! The planner's own form of an [`Item`]: a 16-byte `Copy` [`Key`] that names its port by an
//! id from the topology instead of a string, and the borrowed [`ItemRef`] that reads one back
//! with the topology's names, without allocating.
//!
//! The planner holds millions of items on a large tree (4.6M for 100,000 channels on 10,000
//! switches); as `Item`s each carried a heap `String` and cost a string comparison per step
//! of a `BTreeMap`. Keys carry no heap data, and the order of items (what `diff` and the
//! rendered plans follow) is recovered when a switch's keys are sorted once, from the names
//! themselves ([`order`]), so the output is byte for byte what the `Item` order gives.
//!
//! Not for anything outside the planner and what reads its plan: drivers, the engine and the
//! service speak `Item`, and [`ItemRef::to_item`] converts at that boundary.

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

use crate::model::Mac;
use crate::topology::Topology;

use super::state::{Conform, Direction, Item, TagProtocol, police_burst};

/// A port as the planner names it, without its tag.
///
/// For a topology of `n` switches: `2s` is switch `s`'s uplink, `2s + 1` the port of `s`'s
/// parent that leads down to `s`, and `2n + i` the port of service interface `i`. Each trunk
/// end is so named by the child switch of its link, which the planner knows from the tree
/// without looking a name up.
pub type PortId = u32;

/// The uplink of switch `s` (on `s`).
pub fn uplink(s: usize) -> PortId {
    (2 * s) as PortId
}

/// The port of `child`'s parent that leads down to `child` (on the parent).
pub fn downlink(child: usize) -> PortId {
    (2 * child + 1) as PortId
}

/// The port of service interface `i` in a topology of `n_switches` switches.
pub fn interface_port(n_switches: usize, i: usize) -> PortId {
    (2 * n_switches + i) as PortId
}

/// Which kind of [`Item`] a key stands for; the order is `Item`'s variant order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    ProviderBridge,
    SubInterface,
    Port,
    Vlan,
    Clsact,
    TcDrop,
    Police,
    Pcp,
    L2cp,
    Fdb,
}

/// One item of switch configuration, compact: 16 bytes, no heap. Which switch it is on is
/// kept by whoever holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    kind: Kind,
    /// `PVID` (1) and `UNTAGGED` (2) of a VLAN entry; `EGRESS` (4) and `DOT1Q` (8: an
    /// 802.1Q drop, which the planner never makes) of a tc drop; the PCP of a PCP filter;
    /// `MCAST_FLOOD` (16) of a bridge port; `SNOOPING_OFF` (32) of the provider bridge.
    flags: u8,
    /// The VLAN of a VLAN, FDB entry or PCP filter; the tag of a sub-interface.
    vid: u16,
    /// The sub-interface `port.tag` the item lives on; 0 for the port itself. (Customer tags
    /// are 1-4094.) Always 0 for a sub-interface item, whose tag is `vid`.
    tag: u16,
    /// The MAC of an FDB entry; a policer's rate in Mbps (48 bits, big-endian); zero
    /// otherwise.
    mac: [u8; 6],
    /// The port the item lives on; the parent port of a sub-interface.
    port: PortId,
}

const PVID: u8 = 1;
const UNTAGGED: u8 = 2;
const EGRESS: u8 = 4;
const DOT1Q: u8 = 8;
const MCAST_FLOOD: u8 = 16;
const SNOOPING_OFF: u8 = 32;

impl Key {
    fn new(kind: Kind, port: PortId, tag: u16) -> Key {
        Key { kind, flags: 0, vid: 0, tag, mac: [0; 6], port }
    }

    /// The bridge is an 802.1ad provider bridge.
    pub fn provider_bridge() -> Key {
        Key { flags: SNOOPING_OFF, ..Key::new(Kind::ProviderBridge, 0, 0) }
    }

    /// The sub-interface `parent.tag`.
    pub fn sub_interface(parent: PortId, tag: u16) -> Key {
        Key { vid: tag, ..Key::new(Kind::SubInterface, parent, 0) }
    }

    /// `port` (`port.tag` when `tag` is not 0) is a bridge port that floods multicast.
    pub fn port(port: PortId, tag: u16) -> Key {
        Key { flags: MCAST_FLOOD, ..Key::new(Kind::Port, port, tag) }
    }

    pub fn vlan(port: PortId, tag: u16, vid: u16, pvid: bool, untagged: bool) -> Key {
        let flags = if pvid { PVID } else { 0 } | if untagged { UNTAGGED } else { 0 };
        Key { flags, vid, ..Key::new(Kind::Vlan, port, tag) }
    }

    pub fn clsact(port: PortId, tag: u16) -> Key {
        Key::new(Kind::Clsact, port, tag)
    }

    /// A drop of 802.1ad-tagged frames (S-tags) in `direction`.
    pub fn tc_drop(port: PortId, tag: u16, direction: Direction) -> Key {
        let flags = if direction == Direction::Egress { EGRESS } else { 0 };
        Key { flags, ..Key::new(Kind::TcDrop, port, tag) }
    }

    /// The ingress policer of `port` (`port.tag`) at `rate_mbps` (at most 2^48 - 1 Mbps,
    /// far past any port), its burst by [`crate::orchestrator::state::police_burst`].
    pub fn police(port: PortId, tag: u16, rate_mbps: u64) -> Key {
        let rate = rate_mbps.min((1 << 48) - 1).to_be_bytes();
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&rate[2..]);
        Key { mac, ..Key::new(Kind::Police, port, tag) }
    }

    /// The S-tags of `vid` leave trunk `port` with priority `pcp`.
    pub fn pcp(port: PortId, vid: u16, pcp: u8) -> Key {
        Key { flags: pcp, vid, ..Key::new(Kind::Pcp, port, 0) }
    }

    /// The discard of the IEEE 802.1 reserved block (L2CP) on the ingress of `port`
    /// (`port.tag`).
    pub fn l2cp(port: PortId, tag: u16) -> Key {
        Key::new(Kind::L2cp, port, tag)
    }

    pub fn fdb(mac: Mac, vid: u16, port: PortId, tag: u16) -> Key {
        Key { vid, mac: mac.0, ..Key::new(Kind::Fdb, port, tag) }
    }
}

/// Reads keys back with a topology's names.
#[derive(Clone, Copy, Debug)]
pub struct Names<'t> {
    topology: &'t Topology,
    n_switches: usize,
}

impl<'t> Names<'t> {
    pub fn new(topology: &'t Topology) -> Names<'t> {
        Names { topology, n_switches: topology.switches.len() }
    }

    /// The name of a port (without any tag). Every id the planner makes names a port.
    pub fn port(&self, port: PortId) -> &'t str {
        let topo = self.topology;
        let port = port as usize;
        if let Some(i) = port.checked_sub(2 * self.n_switches) {
            return topo.interfaces.get(i).map_or("", |f| f.port.as_str());
        }
        let s = port / 2;
        match topo.parent(s) {
            Some((_, up)) if port.is_multiple_of(2) => up,
            Some((p, _)) => topo.port_toward(p, s).unwrap_or(""),
            None => "",
        }
    }

    /// The item `key` stands for, borrowing the names.
    pub fn item(&self, key: &Key) -> ItemRef<'t> {
        let port = PortName { base: self.port(key.port), tag: key.tag };
        match key.kind {
            Kind::ProviderBridge => ItemRef::ProviderBridge { snooping_off: key.flags & SNOOPING_OFF != 0 },
            Kind::SubInterface => ItemRef::SubInterface { parent: port.base, vid: key.vid },
            Kind::Port => ItemRef::Port { port, mcast_flood: key.flags & MCAST_FLOOD != 0 },
            Kind::Vlan => {
                ItemRef::Vlan { port, vid: key.vid, pvid: key.flags & PVID != 0, untagged: key.flags & UNTAGGED != 0 }
            }
            Kind::Clsact => ItemRef::Clsact { port },
            Kind::TcDrop => ItemRef::TcDrop {
                port,
                direction: if key.flags & EGRESS != 0 { Direction::Egress } else { Direction::Ingress },
                protocol: if key.flags & DOT1Q != 0 { TagProtocol::Dot1Q } else { TagProtocol::Dot1Ad },
            },
            Kind::Police => {
                let mbps = key.mac.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                let rate_bps = mbps.saturating_mul(1_000_000);
                ItemRef::Police { port, rate_bps, burst_bytes: police_burst(rate_bps), conform: Conform::Continue }
            }
            Kind::Pcp => ItemRef::Pcp { port, vid: key.vid, pcp: key.flags },
            Kind::L2cp => ItemRef::L2cp { port, foreign: false },
            Kind::Fdb => ItemRef::Fdb { mac: Mac(key.mac), vid: key.vid, port },
        }
    }
}

/// A port name as a key reads it: `base`, or the sub-interface `base.tag` when `tag` is not 0.
/// Two names are equal when they spell the same string.
#[derive(Clone, Copy, Debug)]
pub struct PortName<'a> {
    pub base: &'a str,
    pub tag: u16,
}

impl PortName<'_> {
    /// The name's bytes: `base`, then `.tag` for a sub-interface.
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let (digits, n) = decimal(self.tag);
        let n = if self.tag == 0 { 0 } else { n };
        let dot = (self.tag != 0).then_some(b'.');
        self.base.bytes().chain(dot).chain(digits.into_iter().take(n))
    }
}

/// The decimal digits of `v`, most significant first, and how many there are.
pub fn decimal(v: u16) -> ([u8; 5], usize) {
    let mut digits = [0u8; 5];
    let mut n = 0;
    let mut rest = v;
    loop {
        digits[n] = b'0' + (rest % 10) as u8;
        n += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    digits[..n].reverse();
    (digits, n)
}

impl fmt::Display for PortName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base)?;
        if self.tag != 0 {
            write!(f, ".{}", self.tag)?;
        }
        Ok(())
    }
}

/// Names compare as the strings they spell, as `Item`'s `String` ports do.
impl Ord for PortName<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.tag == 0 && other.tag == 0 {
            return self.base.cmp(other.base);
        }
        self.bytes().cmp(other.bytes())
    }
}

impl PartialEq for PortName<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PortName<'_> {}

impl PartialOrd for PortName<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for PortName<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_spelled(|name| s.serialize_str(name))
    }
}

impl PortName<'_> {
    /// Calls `f` with the name spelled out (`base` or `base.tag`), in a buffer on the stack.
    pub fn with_spelled<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        if self.tag == 0 {
            return f(self.base);
        }
        let mut buf = [0u8; 64];
        let base = self.base.as_bytes();
        let (digits, n) = decimal(self.tag);
        let len = base.len() + 1 + n;
        match buf.get_mut(..len) {
            Some(name) => {
                name[..base.len()].copy_from_slice(base);
                name[base.len()] = b'.';
                name[base.len() + 1..].copy_from_slice(&digits[..n]);
                // A str and ASCII after it: always UTF-8.
                f(std::str::from_utf8(name).unwrap_or_default())
            }
            // Longer than any interface name can be: spell it on the heap.
            None => f(&self.to_string()),
        }
    }
}

/// `aa:bb:cc:dd:ee:ff`, as `Mac`'s `Display` writes it, on the stack.
pub fn mac_text(octets: [u8; 6]) -> [u8; 17] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b':'; 17];
    for (i, o) in octets.iter().enumerate() {
        out[3 * i] = HEX[usize::from(o >> 4)];
        out[3 * i + 1] = HEX[usize::from(o & 15)];
    }
    out
}

/// An [`Item`] by reference: the same variants, fields, order and serialized form, with the
/// names borrowed from the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemRef<'a> {
    ProviderBridge {
        #[serde(skip_serializing_if = "is_false")]
        snooping_off: bool,
    },
    SubInterface {
        parent: &'a str,
        vid: u16,
    },
    Port {
        port: PortName<'a>,
        #[serde(skip_serializing_if = "is_false")]
        mcast_flood: bool,
    },
    Vlan {
        port: PortName<'a>,
        vid: u16,
        pvid: bool,
        untagged: bool,
    },
    Clsact {
        port: PortName<'a>,
    },
    TcDrop {
        port: PortName<'a>,
        direction: Direction,
        #[serde(skip_serializing_if = "TagProtocol::is_dot1q")]
        protocol: TagProtocol,
    },
    Police {
        port: PortName<'a>,
        rate_bps: u64,
        burst_bytes: u32,
        #[serde(skip_serializing_if = "Conform::is_continue")]
        conform: Conform,
    },
    Pcp {
        port: PortName<'a>,
        vid: u16,
        pcp: u8,
    },
    L2cp {
        port: PortName<'a>,
        #[serde(skip_serializing_if = "is_false")]
        foreign: bool,
    },
    Fdb {
        mac: Mac,
        vid: u16,
        port: PortName<'a>,
    },
}

impl<'a> ItemRef<'a> {
    /// An owned item by reference (a `String` port is a name without a tag).
    pub fn of(item: &'a Item) -> ItemRef<'a> {
        let name = |port: &'a String| PortName { base: port.as_str(), tag: 0 };
        match item {
            Item::ProviderBridge { snooping_off } => ItemRef::ProviderBridge { snooping_off: *snooping_off },
            Item::SubInterface { parent, vid } => ItemRef::SubInterface { parent, vid: *vid },
            Item::Port { port, mcast_flood } => ItemRef::Port { port: name(port), mcast_flood: *mcast_flood },
            Item::Vlan { port, vid, pvid, untagged } => {
                ItemRef::Vlan { port: name(port), vid: *vid, pvid: *pvid, untagged: *untagged }
            }
            Item::Clsact { port } => ItemRef::Clsact { port: name(port) },
            Item::TcDrop { port, direction, protocol } => {
                ItemRef::TcDrop { port: name(port), direction: *direction, protocol: *protocol }
            }
            Item::Police { port, rate_bps, burst_bytes, conform } => {
                ItemRef::Police { port: name(port), rate_bps: *rate_bps, burst_bytes: *burst_bytes, conform: *conform }
            }
            Item::Pcp { port, vid, pcp } => ItemRef::Pcp { port: name(port), vid: *vid, pcp: *pcp },
            Item::L2cp { port, foreign } => ItemRef::L2cp { port: name(port), foreign: *foreign },
            Item::Fdb { mac, vid, port } => ItemRef::Fdb { mac: *mac, vid: *vid, port: name(port) },
        }
    }

    /// The owned item, for the boundary with drivers, the engine and the service.
    pub fn to_item(&self) -> Item {
        match *self {
            ItemRef::ProviderBridge { snooping_off } => Item::ProviderBridge { snooping_off },
            ItemRef::SubInterface { parent, vid } => Item::SubInterface { parent: parent.to_string(), vid },
            ItemRef::Port { port, mcast_flood } => Item::Port { port: port.to_string(), mcast_flood },
            ItemRef::Vlan { port, vid, pvid, untagged } => Item::Vlan { port: port.to_string(), vid, pvid, untagged },
            ItemRef::Clsact { port } => Item::Clsact { port: port.to_string() },
            ItemRef::TcDrop { port, direction, protocol } => {
                Item::TcDrop { port: port.to_string(), direction, protocol }
            }
            ItemRef::Police { port, rate_bps, burst_bytes, conform } => {
                Item::Police { port: port.to_string(), rate_bps, burst_bytes, conform }
            }
            ItemRef::Pcp { port, vid, pcp } => Item::Pcp { port: port.to_string(), vid, pcp },
            ItemRef::L2cp { port, foreign } => Item::L2cp { port: port.to_string(), foreign },
            ItemRef::Fdb { mac, vid, port } => Item::Fdb { mac, vid, port: port.to_string() },
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Two numbers whose order is the order of the items they are made from (`Item`'s derived
/// order, with ports compared as strings), and which are equal exactly when the items are.
/// `None` when a name is too long to be packed (16 bytes or more, which a valid topology
/// never has: Linux names have at most 15); callers then compare [`ItemRef`]s instead.
///
/// A name is packed big-endian into the low 120 bits, zero-padded, so names compare as
/// strings do (they hold no NUL byte); the kind takes the top byte.
pub fn order(item: &ItemRef<'_>) -> Option<(u128, u128)> {
    fn name(port: &PortName<'_>) -> Option<u128> {
        let mut packed = 0u128;
        let mut len = 0;
        for b in port.bytes() {
            if len == 15 {
                return None;
            }
            packed = (packed << 8) | u128::from(b);
            len += 1;
        }
        Some(packed << (8 * (15 - len)))
    }
    let kind = |k: Kind| (k as u128) << 120;
    Some(match item {
        ItemRef::ProviderBridge { snooping_off } => (kind(Kind::ProviderBridge), u128::from(*snooping_off)),
        ItemRef::SubInterface { parent, vid } => {
            (kind(Kind::SubInterface) | name(&PortName { base: parent, tag: 0 })?, u128::from(*vid))
        }
        ItemRef::Port { port, mcast_flood } => (kind(Kind::Port) | name(port)?, u128::from(*mcast_flood)),
        ItemRef::Vlan { port, vid, pvid, untagged } => {
            (kind(Kind::Vlan) | name(port)?, (u128::from(*vid) << 2) | (u128::from(*pvid) << 1) | u128::from(*untagged))
        }
        ItemRef::Clsact { port } => (kind(Kind::Clsact) | name(port)?, 0),
        ItemRef::TcDrop { port, direction, protocol } => (
            kind(Kind::TcDrop) | name(port)?,
            (u128::from(*direction == Direction::Egress) << 1) | u128::from(*protocol == TagProtocol::Dot1Ad),
        ),
        ItemRef::Police { port, rate_bps, burst_bytes, conform } => (
            kind(Kind::Police) | name(port)?,
            (u128::from(*rate_bps) << 33) | (u128::from(*burst_bytes) << 1) | u128::from(*conform == Conform::Pass),
        ),
        ItemRef::Pcp { port, vid, pcp } => (kind(Kind::Pcp) | name(port)?, (u128::from(*vid) << 8) | u128::from(*pcp)),
        ItemRef::L2cp { port, foreign } => (kind(Kind::L2cp) | name(port)?, u128::from(*foreign)),
        ItemRef::Fdb { mac, vid, port } => {
            let mac = mac.0.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
            (kind(Kind::Fdb) | (mac << 72) | (u128::from(*vid) << 56), name(port)?)
        }
    })
}

/// Sorts `keys` into the order of the items they stand for and drops repeats (keys that
/// read as the same item), as a `BTreeSet<Item>` of them would hold them.
pub fn sort_dedup(names: &Names<'_>, keys: &mut Vec<Key>) {
    let mut ordered: Vec<(u128, u128, Key)> = Vec::with_capacity(keys.len());
    for key in keys.iter() {
        match order(&names.item(key)) {
            Some((hi, lo)) => ordered.push((hi, lo, *key)),
            None => {
                // A name too long to pack (not in a valid topology): compare the items.
                keys.sort_unstable_by(|a, b| names.item(a).cmp(&names.item(b)));
                keys.dedup_by(|a, b| names.item(a) == names.item(b));
                return;
            }
        }
    }
    ordered.sort_unstable_by_key(|(hi, lo, _)| (*hi, *lo));
    ordered.dedup_by_key(|(hi, lo, _)| (*hi, *lo));
    keys.clear();
    keys.extend(ordered.into_iter().map(|(_, _, key)| key));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    /// Port names that stress string order: prefixes of each other, '.', '-' and digits
    /// next to a sub-interface's '.', names that look like sub-interfaces.
    fn name() -> impl Strategy<Value = String> {
        proptest::sample::select(vec![
            "c5",
            "c50",
            "c5-x",
            "c5.1",
            "c5.10",
            "c5.100",
            "c",
            "d1",
            "d12",
            "up",
            "e1.5",
            "e1",
            "a",
            "a_b",
            "A",
            "x9",
            "c5.09",
            "longname123456",
        ])
        .prop_map(str::to_string)
    }

    fn item() -> impl Strategy<Value = (u8, String, u16, u16, bool, bool, u8)> {
        (0u8..10, name(), 0u16..3000, 1u16..4095, any::<bool>(), any::<bool>(), 0u8..4)
    }

    fn item_ref<'a>(k: u8, base: &'a str, tag: u16, vid: u16, a: bool, b: bool, m: u8) -> ItemRef<'a> {
        let tag = if tag.is_multiple_of(3) { 0 } else { tag };
        let port = PortName { base, tag };
        match k {
            0 => ItemRef::SubInterface { parent: base, vid },
            1 => ItemRef::Port { port, mcast_flood: a },
            2 => ItemRef::Vlan { port, vid, pvid: a, untagged: b },
            3 => ItemRef::Clsact { port },
            4 => ItemRef::TcDrop {
                port,
                direction: if a { Direction::Egress } else { Direction::Ingress },
                protocol: if b { TagProtocol::Dot1Ad } else { TagProtocol::Dot1Q },
            },
            5 => ItemRef::Police {
                port,
                rate_bps: u64::from(m) * 1_000_000,
                burst_bytes: u32::from(vid % 3),
                conform: if a { Conform::Pass } else { Conform::Continue },
            },
            6 => ItemRef::ProviderBridge { snooping_off: a },
            7 => ItemRef::Pcp { port, vid: vid % 4, pcp: m },
            8 => ItemRef::L2cp { port, foreign: a },
            _ => ItemRef::Fdb { mac: Mac([2, 0, 0, 0, 0, m]), vid: vid % 4, port },
        }
    }

    proptest! {
        /// `order` and `ItemRef`'s own order both sort as `Item` does, and are equal exactly
        /// when the items are.
        #[test]
        fn orders_agree_with_item(a in item(), b in item()) {
            let ra = item_ref(a.0, &a.1, a.2, a.3, a.4, a.5, a.6);
            let rb = item_ref(b.0, &b.1, b.2, b.3, b.4, b.5, b.6);
            let (ia, ib) = (ra.to_item(), rb.to_item());
            prop_assert_eq!(ItemRef::of(&ia), ra);
            prop_assert_eq!(ra.cmp(&rb), ia.cmp(&ib));
            prop_assert_eq!(ra == rb, ia == ib);
            if let (Some(oa), Some(ob)) = (order(&ra), order(&rb)) {
                prop_assert_eq!(oa.cmp(&ob), ia.cmp(&ib));
            }
        }

        /// Serialized, an item and a change read the same by reference as owned, in both
        /// of serde_json's forms.
        #[test]
        fn serializes_as_item(a in item(), add in any::<bool>()) {
            let r = item_ref(a.0, &a.1, a.2, a.3, a.4, a.5, a.6);
            prop_assert_eq!(serde_json::to_string(&r).unwrap(), serde_json::to_string(&r.to_item()).unwrap());
            let op = if add { super::super::Op::Add } else { super::super::Op::Remove };
            let by_ref = super::super::ChangeRef { op, item: r };
            let owned = super::super::Change { op, item: r.to_item() };
            prop_assert_eq!(serde_json::to_string(&by_ref).unwrap(), serde_json::to_string(&owned).unwrap());
            prop_assert_eq!(serde_json::to_string_pretty(&[by_ref]).unwrap(), serde_json::to_string_pretty(&[owned]).unwrap());
        }

        /// Sorting keys and dropping repeats gives the `BTreeSet<Item>` of them, in order.
        #[test]
        fn sort_dedup_is_the_item_set(picks in proptest::collection::vec((0u8..10, 0usize..8, 0u16..3, 2u16..6, any::<bool>()), 0..60)) {
            let topo = crate::topology::parse(TOPO).unwrap();
            let names = Names::new(&topo);
            let n = topo.switches.len();
            let mut keys: Vec<Key> = picks.iter().map(|&(k, p, tag, vid, flag)| {
                // Ports of switch 1 (s1): its uplink, the downlink to s2, its interfaces.
                let port = match p { 0 => uplink(1), 1 => downlink(2), i => interface_port(n, (i - 2) % 3) };
                match k {
                    0 => Key::sub_interface(port, vid),
                    1 => Key::port(port, tag),
                    2 => Key::vlan(port, tag, vid, flag, !flag),
                    3 => Key::clsact(port, tag),
                    4 => Key::tc_drop(port, tag, if flag { Direction::Egress } else { Direction::Ingress }),
                    5 => Key::police(port, tag, u64::from(vid % 3) * 10),
                    6 => Key::provider_bridge(),
                    7 => Key::pcp(port, vid, (tag as u8) * 3),
                    8 => Key::l2cp(port, tag),
                    _ => Key::fdb(Mac([2, 0, 0, 0, 0, vid as u8]), vid, port, tag),
                }
            }).collect();
            let want: Vec<Item> = keys.iter().map(|k| names.item(k).to_item()).collect::<BTreeSet<_>>().into_iter().collect();
            sort_dedup(&names, &mut keys);
            let got: Vec<Item> = keys.iter().map(|k| names.item(k).to_item()).collect();
            prop_assert_eq!(got, want);
        }
    }

    /// Three switches in a line; s1 has interfaces on ports whose names interleave with its
    /// trunks' and its sub-interfaces' (`e1`, `e1.05`, `e1-x`). A port may not be named as a
    /// sub-interface Switchboard makes (`e1.5` of tagged `e1`), but `e1.0` and `e1.05` are
    /// other devices that sort among them.
    const TOPO: &str = "
name: t
switches: {s0: {}, s1: {}, s2: {}}
links:
  - endpoints: [s0:e1.2, s1:e1.0]
  - endpoints: [s1:e1-x, s2:up]
interfaces:
  i0: {organization: o, switch: s1, port: e1, mode: tagged, capacity: 100, macs: ['02:00:00:00:00:01']}
  i1: {organization: o, switch: s1, port: e1.05, capacity: 100, macs: ['02:00:00:00:00:02']}
  i2: {organization: o, switch: s1, port: e10, mode: tagged, capacity: 100, macs: ['02:00:00:00:00:03']}
";

    #[test]
    fn port_ids_read_as_the_topology_names_them() {
        let topo = crate::topology::parse(TOPO).unwrap();
        let names = Names::new(&topo);
        let n = topo.switches.len();
        assert_eq!(names.port(uplink(1)), "e1.0");
        assert_eq!(names.port(downlink(1)), "e1.2");
        assert_eq!(names.port(uplink(2)), "up");
        assert_eq!(names.port(downlink(2)), "e1-x");
        assert_eq!(names.port(interface_port(n, 1)), "e1.05");
        assert_eq!(PortName { base: "e1", tag: 5 }.to_string(), "e1.5");
        let (digits, n) = decimal(4094);
        assert_eq!(&digits[..n], b"4094");
        let (digits, n) = decimal(7);
        assert_eq!(&digits[..n], b"7");
    }
}
