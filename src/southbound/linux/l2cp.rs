//! The L2CP discard at a member's UNI as netlink ([`Item::L2cp`]): a flower filter on the
//! member's bridge port's clsact ingress hook, every protocol, preference [`L2CP_PREF`],
//! handle 1, matching the destination block 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 (the IEEE
//! 802.1 reserved addresses: BPDUs, LACP and the other slow protocols, LLDP) with a gact
//! drop: `tc filter add dev P ingress protocol all pref 3 handle 1 flower dst_mac
//! 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop`.
//!
//! Why it is needed: bridge ports flood multicast (so IPv6 neighbour discovery crosses a
//! channel), and a bridge whose own STP is off forwards a BPDU like any multicast
//! (net/bridge/br_input.c); MEF 45 has every service discard BPDUs, LACP and LLDP at the UNI.
//! A C-tagged BPDU of a tagged-mode member reaches the sub-interface untagged and is
//! matched there; flower matches the destination whatever tags follow it.

use rtnetlink::packet_route::tc::{
    TcAction, TcActionAttribute, TcAttribute, TcFilterFlowerOption, TcHandle, TcMessage, TcOption,
};

use crate::orchestrator::Direction;

use super::super::dry_run::L2CP_PREF;
use super::tc::{TC_ACT_SHOT, TCA_GACT_PARMS, raw_options};

/// The block's first address and its mask: the 16 addresses 01:80:c2:00:00:00-0f.
pub const BLOCK: [u8; 6] = [0x01, 0x80, 0xc2, 0, 0, 0];
pub const MASK: [u8; 6] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xf0];
/// ETH_P_ALL (`protocol all`), in network byte order.
const ETH_P_ALL_BE: u16 = 0x0003u16.to_be();
/// The handle of the filter (flower's own first, when given none).
const HANDLE: u32 = 1;

/// A get request for the filter on `ifindex`'s ingress hook at [`L2CP_PREF`], handle 1, of
/// any protocol (a get with protocol 0 matches whichever the preference holds, so a filter
/// of another protocol in its place is found and replaced); also the key of its removal,
/// which then takes whatever is at the preference, as `tc filter del dev P ingress pref 3`.
pub fn our_l2cp_key(ifindex: i32) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex);
    m.header.parent = super::tc::tc_parent(Direction::Ingress);
    m.header.info = u32::from(L2CP_PREF) << 16;
    m.header.handle = TcHandle::from(HANDLE);
    m
}

/// The L2CP discard on `ifindex`'s ingress.
pub fn l2cp_filter(ifindex: i32) -> TcMessage {
    let mut m = our_l2cp_key(ifindex);
    m.header.info = (u32::from(L2CP_PREF) << 16) | u32::from(ETH_P_ALL_BE);
    m.attributes.push(TcAttribute::Kind("flower".into()));
    m.attributes.push(TcAttribute::Options(vec![
        TcOption::Flower(TcFilterFlowerOption::EthDst(BLOCK)),
        TcOption::Flower(TcFilterFlowerOption::EthDstMask(MASK)),
        TcOption::Flower(TcFilterFlowerOption::Actions(vec![super::tc::gact_drop()])),
    ]));
    m
}

/// What the filter read back at the L2CP place is: `Some(false)` for the one Switchboard
/// makes (flower, every protocol, [`L2CP_PREF`], handle 1, destination the block under its
/// mask and nothing else Switchboard does not set, one gact drop), `Some(true)` for anything
/// else there (foreign: replaced), `None` for the message the kernel sends before a dump's
/// filters (no handle) or a filter with another handle.
pub fn foreign(f: &TcMessage) -> Option<bool> {
    if u32::from(f.header.handle) != HANDLE {
        return None;
    }
    let pref = (f.header.info >> 16) as u16;
    let proto = (f.header.info & 0xffff) as u16;
    let is_flower = f.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "flower"));
    if !is_flower || pref != L2CP_PREF || proto != ETH_P_ALL_BE {
        return Some(true);
    }
    let (mut dst, mut mask) = (None, None);
    let mut actions: &[TcAction] = &[];
    for a in &f.attributes {
        let TcAttribute::Options(options) = a else { continue };
        for o in options {
            let TcOption::Flower(o) = o else { return Some(true) };
            match o {
                TcFilterFlowerOption::EthDst(d) => dst = Some(*d),
                TcFilterFlowerOption::EthDstMask(m) => mask = Some(*m),
                TcFilterFlowerOption::Actions(a) => actions = a,
                // Flags (in hardware or not), how many devices hold it in hardware, the key
                // flags the kernel fills in, attributes the crate does not know: none a match
                // Switchboard leaves out.
                TcFilterFlowerOption::Flags(_)
                | TcFilterFlowerOption::InHwCount(_)
                | TcFilterFlowerOption::KeyFlags(_)
                | TcFilterFlowerOption::KeyFlagsMask(_)
                | TcFilterFlowerOption::Other(_) => {}
                _ => return Some(true),
            }
        }
    }
    let [action] = actions else { return Some(true) };
    Some(!(dst == Some(BLOCK) && mask == Some(MASK) && is_drop(action)))
}

/// Whether an action is gact with the drop verdict (`action drop`).
fn is_drop(action: &TcAction) -> bool {
    action.attributes.iter().any(|a| matches!(a, TcActionAttribute::Kind(k) if k == "gact"))
        && raw_options(action).any(|(kind, value)| {
            // struct tc_gen: index, capab, action, ...
            kind == TCA_GACT_PARMS
                && value.get(8..12).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(i32::from_ne_bytes)
                    == Some(TC_ACT_SHOT)
        })
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::{DefaultNla, Emitable, Parseable};
    use rtnetlink::packet_route::tc::TcActionOption;

    use super::*;

    /// What the kernel would read: the message emitted and parsed back.
    fn round_trip(m: &TcMessage) -> TcMessage {
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        TcMessage::parse(buf.as_slice()).unwrap()
    }

    #[test]
    fn the_filter_is_what_tc_sends_and_reads_back_as_ours() {
        let m = round_trip(&l2cp_filter(7));
        assert_eq!(m.header.index, 7);
        assert_eq!(m.header.info, (3 << 16) | 0x0300, "pref 3, protocol all (ETH_P_ALL) in network order");
        assert_eq!(u32::from(m.header.handle), 1);
        assert_eq!(m.header.parent, TcHandle { major: 0xffff, minor: TcHandle::MIN_INGRESS });
        assert_eq!(foreign(&m), Some(false));
        let mut buf = vec![0u8; l2cp_filter(7).buffer_len()];
        l2cp_filter(7).emit(&mut buf);
        // TCA_FLOWER_KEY_ETH_DST (4) and TCA_FLOWER_KEY_ETH_DST_MASK (5), 6 bytes each.
        assert!(buf.windows(10).any(|w| w == [10, 0, 4, 0, 0x01, 0x80, 0xc2, 0, 0, 0]));
        assert!(buf.windows(10).any(|w| w == [10, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0]));
        // The gact drop: struct tc_gen with action TC_ACT_SHOT (2).
        let parms: Vec<u8> = [0i32, 0, 2, 0, 0].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert!(buf.windows(parms.len()).any(|w| w == parms.as_slice()));
        // The get asks for any protocol at the preference, handle 1.
        let key = our_l2cp_key(7);
        assert_eq!(key.header.info, 3 << 16);
        assert!(key.attributes.is_empty());
    }

    #[test]
    fn other_filters_in_its_place_are_foreign() {
        let with_options = |options: Vec<TcOption>| {
            let mut m = l2cp_filter(7);
            m.attributes.retain(|a| !matches!(a, TcAttribute::Options(_)));
            m.attributes.push(TcAttribute::Options(options));
            round_trip(&m)
        };
        let drop = || TcOption::Flower(TcFilterFlowerOption::Actions(vec![super::super::tc::gact_drop()]));
        // Only BPDUs (a full mask): not ours.
        let m = with_options(vec![
            TcOption::Flower(TcFilterFlowerOption::EthDst(BLOCK)),
            TcOption::Flower(TcFilterFlowerOption::EthDstMask([0xff; 6])),
            drop(),
        ]);
        assert_eq!(foreign(&m), Some(true));
        // The block, but passed rather than dropped.
        let mut pass = super::super::tc::gact_drop();
        for a in &mut pass.attributes {
            if let TcActionAttribute::Options(o) = a {
                let parms: Vec<u8> = [0i32, 0, 0, 0, 0].iter().flat_map(|v| v.to_ne_bytes()).collect();
                *o = vec![TcActionOption::Other(DefaultNla::new(TCA_GACT_PARMS, parms))];
            }
        }
        let m = with_options(vec![
            TcOption::Flower(TcFilterFlowerOption::EthDst(BLOCK)),
            TcOption::Flower(TcFilterFlowerOption::EthDstMask(MASK)),
            TcOption::Flower(TcFilterFlowerOption::Actions(vec![pass])),
        ]);
        assert_eq!(foreign(&m), Some(true));
        // Also matching a VLAN: not ours.
        let m = with_options(vec![
            TcOption::Flower(TcFilterFlowerOption::EthDst(BLOCK)),
            TcOption::Flower(TcFilterFlowerOption::EthDstMask(MASK)),
            TcOption::Flower(TcFilterFlowerOption::VlanId(5)),
            drop(),
        ]);
        assert_eq!(foreign(&m), Some(true));
        // Another classifier, another protocol.
        let mut m = our_l2cp_key(7);
        m.attributes.push(TcAttribute::Kind("matchall".into()));
        assert_eq!(foreign(&m), Some(true));
        let mut m = l2cp_filter(7);
        m.header.info = (3 << 16) | u32::from(0x0800u16.to_be());
        assert_eq!(foreign(&round_trip(&m)), Some(true));
        // The chain's own message in a dump: no handle.
        let mut m = our_l2cp_key(7);
        m.header.handle = TcHandle::from(0u32);
        assert_eq!(foreign(&m), None);
    }
}
