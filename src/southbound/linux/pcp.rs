//! The class of service on trunks as netlink ([`Item::Pcp`]): a flower filter on a trunk's
//! clsact egress hook, protocol 802.1ad, preference [`PCP_PREF`], handle the VLAN ID,
//! matching the outer VLAN ID, with a vlan action that rewrites the priority:
//! `tc filter add dev T egress protocol 802.1ad pref 3 handle V flower vlan_id V action vlan
//! modify id V priority P protocol 802.1ad`, as `scripts/lab/pcp-demo.sh` proved by hand
//! (without `protocol 802.1ad` in the action the tag's TPID becomes 802.1Q and the frame is
//! lost at the far end).
//!
//! netlink-packet-route 0.34 has flower (`TcFilterFlowerOption`: `EthType`, `VlanId`,
//! `Actions`) but no vlan action, whose attributes (linux/tc_act/tc_vlan.h) are written raw.

use rtnetlink::packet_core::DefaultNla;
use rtnetlink::packet_route::tc::{
    TcAction, TcActionAttribute, TcActionOption, TcAttribute, TcFilterFlowerOption, TcHandle, TcMessage, TcOption,
};

use crate::orchestrator::{Direction, TagProtocol};

use super::super::dry_run::PCP_PREF;

/// TCA_VLAN_* from linux/tc_act/tc_vlan.h.
const TCA_VLAN_PARMS: u16 = 2;
const TCA_VLAN_PUSH_VLAN_ID: u16 = 3;
const TCA_VLAN_PUSH_VLAN_PROTOCOL: u16 = 4;
const TCA_VLAN_PUSH_VLAN_PRIORITY: u16 = 6;
const TCA_VLAN_ACT_MODIFY: i32 = 3;
/// TC_ACT_PIPE: the next action, if any, then the filter's verdict (`tc`'s default for vlan).
const TC_ACT_PIPE: i32 = 3;
/// The size of struct tc_vlan: struct tc_gen (index, capab, action, refcnt, bindcnt), v_action.
const TC_VLAN_LEN: usize = 24;
/// What [`pcp_of`] gives for a filter that is not one Switchboard makes: no PCP, so no plan
/// holds it and `diff` replaces it.
pub const NOT_OURS: u8 = 8;

/// The key of the PCP filter for `vid` on `ifindex`'s egress hook: a get request for it, and
/// what a new one or its removal is made from.
pub fn our_pcp_key(ifindex: i32, vid: u16) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex);
    m.header.parent = super::tc::tc_parent(Direction::Egress);
    m.header.info = (u32::from(PCP_PREF) << 16) | u32::from(TagProtocol::Dot1Ad.ethertype().to_be());
    m.header.handle = TcHandle::from(u32::from(vid));
    m
}

/// The filter that gives the S-tags of `vid` priority `pcp` on `ifindex`'s egress.
pub fn pcp_filter(ifindex: i32, vid: u16, pcp: u8) -> TcMessage {
    let mut m = our_pcp_key(ifindex, vid);
    m.attributes.push(TcAttribute::Kind("flower".into()));
    m.attributes.push(TcAttribute::Options(vec![
        // The kernel reads flower's VLAN keys only under an 802.1Q or 802.1ad EtherType.
        TcOption::Flower(TcFilterFlowerOption::EthType(TagProtocol::Dot1Ad.ethertype())),
        TcOption::Flower(TcFilterFlowerOption::VlanId(vid)),
        TcOption::Flower(TcFilterFlowerOption::Actions(vec![vlan_modify(vid, pcp)])),
    ]));
    m
}

/// `action vlan modify id VID priority PCP protocol 802.1ad`.
fn vlan_modify(vid: u16, pcp: u8) -> TcAction {
    let mut parms = Vec::with_capacity(TC_VLAN_LEN);
    for v in [0i32, 0, TC_ACT_PIPE, 0, 0, TCA_VLAN_ACT_MODIFY] {
        parms.extend_from_slice(&v.to_ne_bytes());
    }
    let mut action = TcAction::default();
    action.attributes = vec![
        TcActionAttribute::Kind("vlan".into()),
        TcActionAttribute::Options(vec![
            TcActionOption::Other(DefaultNla::new(TCA_VLAN_PARMS, parms)),
            TcActionOption::Other(DefaultNla::new(TCA_VLAN_PUSH_VLAN_ID, vid.to_ne_bytes().to_vec())),
            TcActionOption::Other(DefaultNla::new(
                TCA_VLAN_PUSH_VLAN_PROTOCOL,
                TagProtocol::Dot1Ad.ethertype().to_be_bytes().to_vec(),
            )),
            TcActionOption::Other(DefaultNla::new(TCA_VLAN_PUSH_VLAN_PRIORITY, vec![pcp])),
        ]),
    ];
    action
}

/// The PCP of the filter read back for `vid`: the one Switchboard makes (flower for 802.1ad
/// at [`PCP_PREF`], matching `vid` and nothing else Switchboard does not set, one vlan action
/// that modifies to `vid` with protocol 802.1ad, pipe) gives its priority; anything else
/// gives [`NOT_OURS`]. `None` for the message the kernel sends before a dump's filters (no
/// handle, no options) or a filter with another handle.
pub fn pcp_of(f: &TcMessage, vid: u16) -> Option<u8> {
    if u32::from(f.header.handle) != u32::from(vid) {
        return None;
    }
    let pref = (f.header.info >> 16) as u16;
    let proto = (f.header.info & 0xffff) as u16;
    let is_flower = f.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "flower"));
    let options: Vec<&TcFilterFlowerOption> = super::tc::filter_options(f)
        .filter_map(|o| match o {
            TcOption::Flower(o) => Some(o),
            _ => None,
        })
        .collect();
    if !is_flower || pref != PCP_PREF || proto != TagProtocol::Dot1Ad.ethertype().to_be() {
        return Some(NOT_OURS);
    }
    let mut matched_vid = None;
    let mut actions: &[TcAction] = &[];
    for o in &options {
        match o {
            TcFilterFlowerOption::VlanId(v) => matched_vid = Some(*v),
            TcFilterFlowerOption::Actions(a) => actions = a,
            TcFilterFlowerOption::EthType(t) if *t == TagProtocol::Dot1Ad.ethertype() => {}
            // Flags (in hardware or not), how many devices hold it in hardware, the flower key
            // flags the kernel fills in: none of them a match.
            TcFilterFlowerOption::Flags(_)
            | TcFilterFlowerOption::InHwCount(_)
            | TcFilterFlowerOption::KeyFlags(_)
            | TcFilterFlowerOption::KeyFlagsMask(_) => {}
            // Attributes the crate does not know (a newer kernel's) are let be; a match on
            // anything it knows (a priority, addresses, an inner tag, ...) is not ours.
            TcFilterFlowerOption::Other(_) => {}
            _ => return Some(NOT_OURS),
        }
    }
    let ([action], Some(v)) = (actions, matched_vid) else { return Some(NOT_OURS) };
    if v != vid {
        return Some(NOT_OURS);
    }
    Some(vlan_action_pcp(action, vid).unwrap_or(NOT_OURS))
}

/// The priority a vlan action sets, if it is `modify id vid priority P protocol 802.1ad pipe`.
fn vlan_action_pcp(action: &TcAction, vid: u16) -> Option<u8> {
    if !action.attributes.iter().any(|a| matches!(a, TcActionAttribute::Kind(k) if k == "vlan")) {
        return None;
    }
    let (mut parms, mut id, mut protocol, mut priority) = (None, None, None, None);
    for (kind, value) in super::tc::raw_options(action) {
        match kind {
            TCA_VLAN_PARMS => parms = Some(value),
            TCA_VLAN_PUSH_VLAN_ID => id = value.get(..2).and_then(|b| <[u8; 2]>::try_from(b).ok()),
            TCA_VLAN_PUSH_VLAN_PROTOCOL => protocol = value.get(..2).and_then(|b| <[u8; 2]>::try_from(b).ok()),
            TCA_VLAN_PUSH_VLAN_PRIORITY => priority = value.first().copied(),
            _ => {}
        }
    }
    let parms = parms.filter(|p| p.len() >= TC_VLAN_LEN)?;
    let word = |at: usize| parms.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(i32::from_ne_bytes);
    let ours = word(8) == Some(TC_ACT_PIPE)
        && word(20) == Some(TCA_VLAN_ACT_MODIFY)
        && id.map(u16::from_ne_bytes) == Some(vid)
        && protocol.map(u16::from_be_bytes) == Some(TagProtocol::Dot1Ad.ethertype());
    priority.filter(|p| ours && *p <= 7)
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::{Emitable, Nla, Parseable};

    use super::*;

    /// What the kernel would read: the message emitted and parsed back.
    fn round_trip(m: &TcMessage) -> TcMessage {
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        TcMessage::parse(buf.as_slice()).unwrap()
    }

    #[test]
    fn the_filter_reads_back_as_its_pcp() {
        for (vid, pcp) in [(2u16, 1u8), (100, 5), (4094, 7)] {
            let m = round_trip(&pcp_filter(7, vid, pcp));
            assert_eq!(m.header.index, 7);
            assert_eq!(m.header.info, (3 << 16) | 0xa888, "pref 3, protocol 802.1ad in network order");
            assert_eq!(u32::from(m.header.handle), u32::from(vid));
            assert_eq!(m.header.parent, TcHandle { major: 0xffff, minor: TcHandle::MIN_EGRESS });
            assert_eq!(pcp_of(&m, vid), Some(pcp));
            assert_eq!(pcp_of(&m, vid + 1), None, "another handle is another filter");
        }
    }

    #[test]
    fn the_vlan_action_is_what_tc_sends() {
        let a = vlan_modify(10, 5);
        let mut buf = vec![0u8; a.buffer_len()];
        a.emit(&mut buf);
        // TCA_VLAN_PARMS: tc_gen with action pipe, v_action modify.
        let parms: Vec<u8> = [0i32, 0, 3, 0, 0, 3].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert!(buf.windows(parms.len()).any(|w| w == parms.as_slice()));
        // TCA_VLAN_PUSH_VLAN_PROTOCOL: 88 a8 in network order, in a 2-byte attribute.
        assert!(buf.windows(6).any(|w| w == [6, 0, 4, 0, 0x88, 0xa8]));
        // TCA_VLAN_PUSH_VLAN_PRIORITY: one byte.
        assert!(buf.windows(5).any(|w| w == [5, 0, 6, 0, 5]));
    }

    #[test]
    fn other_filters_in_its_place_are_not_ours() {
        // A hand-made rewrite with the TPID left to default (802.1Q): not ours.
        let mut m = pcp_filter(7, 10, 5);
        for a in &mut m.attributes {
            if let TcAttribute::Options(o) = a {
                o.retain(|o| !matches!(o, TcOption::Flower(TcFilterFlowerOption::Actions(_))));
                let mut action = vlan_modify(10, 5);
                for aa in &mut action.attributes {
                    if let TcActionAttribute::Options(opts) = aa {
                        opts.retain(
                            |x| !matches!(x, TcActionOption::Other(n) if n.kind() == TCA_VLAN_PUSH_VLAN_PROTOCOL),
                        );
                    }
                }
                o.push(TcOption::Flower(TcFilterFlowerOption::Actions(vec![action])));
            }
        }
        assert_eq!(pcp_of(&round_trip(&m), 10), Some(NOT_OURS));
        // Matching another VLAN under our handle.
        let mut m = pcp_filter(7, 11, 5);
        m.header.handle = TcHandle::from(10u32);
        assert_eq!(pcp_of(&round_trip(&m), 10), Some(NOT_OURS));
        // Another classifier.
        let mut m = our_pcp_key(7, 10);
        m.attributes.push(TcAttribute::Kind("matchall".into()));
        assert_eq!(pcp_of(&m, 10), Some(NOT_OURS));
        // The chain's own message in a dump: no handle.
        let mut m = our_pcp_key(7, 10);
        m.header.handle = TcHandle::from(0u32);
        assert_eq!(pcp_of(&m, 10), None);
    }
}
