//! The linux driver's functional core: a change list as netlink messages, built without
//! touching the kernel (tested without root). [`batch`] makes a whole change list one
//! ordered stream of messages; [`super::LinuxSwitch`] sends it.

use std::collections::HashMap;

use rtnetlink::packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use rtnetlink::packet_route::link::{
    BridgeVlanInfoFlags, InfoBridge, InfoData, InfoKind, LinkAttribute, LinkInfo, LinkMessage, VlanProtocol,
};
use rtnetlink::packet_route::neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState};
use rtnetlink::packet_route::tc::{
    TcAction, TcActionAttribute, TcActionOption, TcAttribute, TcFilterMatchAllOption, TcHandle, TcMessage, TcOption,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{LinkBridgePort, LinkBridgeVlan, LinkUnspec, LinkVlan};

use crate::orchestrator::{Change, Conform, Direction, Item, Op, TagProtocol, burst_from_ticks, burst_ticks};

use super::super::dry_run::{POLICE_PREF, TC_PREF};

/// A tag protocol's EtherType as tc wants it: in network byte order inside tcm_info.
fn tc_protocol(protocol: TagProtocol) -> u16 {
    protocol.ethertype().to_be()
}
use super::tc::{TC_ACT_SHOT, gact_drop, raw_options, tc_parent};
/// TC_ACT_UNSPEC: no verdict, the next filter decides (`continue`).
const TC_ACT_UNSPEC: i32 = -1;
/// TC_ACT_OK: the frame passes, no filter after this one runs (`pass`).
const TC_ACT_OK: i32 = 0;
/// ETH_P_ALL (`protocol all`), in network byte order.
const ETH_P_ALL_BE: u16 = 0x0003u16.to_be();
/// TCA_POLICE_* from linux/pkt_cls.h.
const TCA_POLICE_TBF: u16 = 1;
const TCA_POLICE_RATE: u16 = 2;
const TCA_POLICE_RESULT: u16 = 5;
const TCA_POLICE_RATE64: u16 = 8;
/// The size of struct tc_police, and of a rate table (TC_RTAB_SIZE).
const TC_POLICE_LEN: usize = 56;
const TC_RTAB_SIZE: usize = 1024;
/// The rate table's cell: 8-byte steps, as `tc` picks for its default MTU of 2047.
const RTAB_CELL_LOG: u8 = 3;
/// TC_LINKLAYER_ETHERNET.
const LINKLAYER_ETHERNET: u8 = 1;

/// A change list as one ordered stream of messages.
#[derive(Debug, Default)]
pub struct Batch {
    /// Each message with the header flags it needs beyond REQUEST (and ACK).
    pub messages: Vec<(RouteNetlinkMessage, u16)>,
    /// For each message, the index of the change it belongs to.
    pub change_of: Vec<usize>,
    /// Sub-interfaces the batch creates, with the ifindex it gives each.
    pub created: HashMap<String, u32>,
    /// Links the batch deletes.
    pub deleted: Vec<String>,
}

/// Every change of `changes` as messages, in the changes' order, to be sent as one batch.
///
/// The kernel runs a batch's messages one after another, in order, and goes on past a
/// failure. So dependencies hold as long as the change list is in dependency order, which
/// [`crate::orchestrator::diff`] gives (removals first, FDB entries before filters before the
/// qdisc before VLANs before ports before sub-interfaces; additions the other way round). A
/// sub-interface the batch creates gets its ifindex from here (`next_index` upward, above
/// every index the switch has), so the port, VLAN, qdisc and FDB messages after it in the
/// same batch name it without asking the kernel in between.
///
/// `poison`, for fault injection, is the index of a change whose messages are made to
/// refer to an interface that does not exist. An `Err` is (change index, why).
pub fn batch(
    changes: &[Change],
    bridge: u32,
    index: &HashMap<String, u32>,
    next_index: u32,
    poison_at: Option<usize>,
) -> Result<Batch, (usize, String)> {
    let mut created = HashMap::new();
    let mut next = next_index;
    for change in changes {
        if let (Op::Add, Item::SubInterface { parent, vid }) = (change.op, &change.item) {
            created.insert(format!("{parent}.{vid}"), next);
            next += 1;
        }
    }
    let ctx = Ctx { bridge, index, created: &created };
    let mut out = Batch::default();
    for (k, change) in changes.iter().enumerate() {
        let mut msgs = messages(change, &ctx).map_err(|e| (k, e))?;
        if poison_at == Some(k) {
            msgs.iter_mut().for_each(|(m, _)| poison(m));
        }
        out.change_of.extend(std::iter::repeat_n(k, msgs.len()));
        out.messages.append(&mut msgs);
        if let (Op::Remove, Item::SubInterface { parent, vid }) = (change.op, &change.item) {
            out.deleted.push(format!("{parent}.{vid}"));
        }
    }
    out.created = created;
    Ok(out)
}

/// What [`messages`] needs to know about the switch.
pub struct Ctx<'a> {
    /// ifindex of the bridge.
    pub bridge: u32,
    /// Interface name -> ifindex.
    pub index: &'a HashMap<String, u32>,
    /// Sub-interfaces not made yet -> the ifindex they are to be given.
    pub created: &'a HashMap<String, u32>,
}

impl Ctx<'_> {
    /// A link the batch creates is named by the index it gives it, even if some other link
    /// holds the name now (its creation then fails, and so does every message after it
    /// that names it, rather than acting on the other link).
    fn ifindex(&self, name: &str) -> Result<u32, String> {
        self.created
            .get(name)
            .or_else(|| self.index.get(name))
            .copied()
            .ok_or_else(|| format!("no interface `{name}` on this switch"))
    }
}

/// The netlink messages (with extra header flags) that make one change.
pub fn messages(change: &Change, ctx: &Ctx<'_>) -> Result<Vec<(RouteNetlinkMessage, u16)>, String> {
    use RouteNetlinkMessage as M;
    let create = NLM_F_CREATE | NLM_F_EXCL;
    Ok(match (&change.op, &change.item) {
        (op, Item::ProviderBridge { snooping_off }) => {
            // RTM_NEWLINK without CREATE on the bridge: the kernel changes its link data.
            let (protocol, snooping) = match op {
                Op::Add => (VlanProtocol::Ieee8021Ad, !snooping_off),
                Op::Remove => (VlanProtocol::Ieee8021Q, true),
            };
            let mut m = LinkMessage::default();
            m.header.index = ctx.bridge;
            m.attributes.push(LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Bridge),
                LinkInfo::Data(InfoData::Bridge(vec![
                    InfoBridge::VlanProtocol(protocol),
                    InfoBridge::MulticastSnooping(snooping),
                ])),
            ]));
            vec![(M::NewLink(m), 0)]
        }
        (Op::Add, Item::SubInterface { parent, vid }) => {
            let p = ctx.ifindex(parent)?;
            let name = format!("{parent}.{vid}");
            let mut link = LinkVlan::new(&name, p, *vid).up().build();
            // The index chosen for it, if any (0: the kernel picks one).
            link.header.index = ctx.created.get(&name).copied().unwrap_or(0);
            vec![(M::SetLink(LinkUnspec::new_with_index(p).up().build()), 0), (M::NewLink(link), create)]
        }
        (Op::Remove, Item::SubInterface { parent, vid }) => {
            let i = ctx.ifindex(&format!("{parent}.{vid}"))?;
            vec![(M::DelLink(LinkUnspec::new_with_index(i).build()), 0)]
        }
        (Op::Add, Item::Port { port, mcast_flood }) => {
            // On a port that is a bridge port already (one configured before multicast was
            // carried), the controller is unchanged and only the flags are set.
            let i = ctx.ifindex(port)?;
            vec![
                (M::SetLink(LinkUnspec::new_with_index(i).controller(ctx.bridge).up().build()), 0),
                (M::NewLink(LinkBridgePort::new(i).learning(false).flood(false).mcast_flood(*mcast_flood).build()), 0),
            ]
        }
        (Op::Remove, Item::Port { port, .. }) => {
            let i = ctx.ifindex(port)?;
            vec![(M::SetLink(LinkUnspec::new_with_index(i).nocontroller().build()), 0)]
        }
        (Op::Add, Item::Vlan { port, vid, pvid, untagged }) => {
            let mut flags = BridgeVlanInfoFlags::empty();
            if *pvid {
                flags |= BridgeVlanInfoFlags::Pvid;
            }
            if *untagged {
                flags |= BridgeVlanInfoFlags::Untagged;
            }
            vec![(M::SetLink(LinkBridgeVlan::new(ctx.ifindex(port)?).vlan(*vid, flags).build()), 0)]
        }
        (Op::Remove, Item::Vlan { port, vid, .. }) => {
            vec![(
                M::DelLink(LinkBridgeVlan::new(ctx.ifindex(port)?).vlan(*vid, BridgeVlanInfoFlags::empty()).build()),
                0,
            )]
        }
        (op, Item::Clsact { port }) => {
            let mut m = TcMessage::with_index(ctx.ifindex(port)? as i32);
            m.header.parent = TcHandle::CLSACT;
            m.header.handle = TcHandle { major: 0xffff, minor: 0 };
            m.attributes.push(TcAttribute::Kind("clsact".into()));
            match op {
                Op::Add => vec![(M::NewQueueDiscipline(m), create)],
                Op::Remove => vec![(M::DelQueueDiscipline(m), 0)],
            }
        }
        (op, Item::TcDrop { port, direction, protocol }) => {
            let mut m = TcMessage::with_index(ctx.ifindex(port)? as i32);
            m.header.parent = tc_parent(*direction);
            m.header.info = (u32::from(TC_PREF) << 16) | u32::from(tc_protocol(*protocol));
            m.attributes.push(TcAttribute::Kind("matchall".into()));
            match op {
                Op::Add => {
                    m.header.handle = OUR_DROP_HANDLE;
                    m.attributes.push(TcAttribute::Options(vec![TcOption::MatchAll(TcFilterMatchAllOption::Action(
                        vec![gact_drop()],
                    ))]));
                    vec![(M::NewTrafficFilter(m), create)]
                }
                Op::Remove => vec![(M::DelTrafficFilter(m), 0)],
            }
        }
        (op, Item::Police { port, rate_bps, burst_bytes, conform }) => {
            let mut m = our_police_key(ctx.ifindex(port)? as i32);
            m.attributes.push(TcAttribute::Kind("matchall".into()));
            match op {
                Op::Add => {
                    m.attributes.push(TcAttribute::Options(vec![TcOption::MatchAll(TcFilterMatchAllOption::Action(
                        vec![police(*rate_bps, *burst_bytes, *conform)],
                    ))]));
                    vec![(M::NewTrafficFilter(m), create)]
                }
                Op::Remove => {
                    // By preference and protocol, as `tc filter del ... pref 2 matchall` does.
                    m.header.handle = TcHandle { major: 0, minor: 0 };
                    vec![(M::DelTrafficFilter(m), 0)]
                }
            }
        }
        (Op::Add, Item::Pcp { port, vid, pcp }) => {
            // REPLACE, as `tc filter replace`: the read-back asks for a PCP filter only for
            // the VLANs a port carries, so one whose VLAN was taken off the trunk by hand is
            // not seen, and putting the VLAN and the filter back must not fail on it.
            let m = super::pcp::pcp_filter(ctx.ifindex(port)? as i32, *vid, *pcp);
            vec![(M::NewTrafficFilter(m), NLM_F_CREATE | NLM_F_REPLACE)]
        }
        (Op::Remove, Item::Pcp { port, vid, .. }) => {
            // By preference, protocol and handle, as `tc filter del ... pref 3 handle V flower`.
            let mut m = super::pcp::our_pcp_key(ctx.ifindex(port)? as i32, *vid);
            m.attributes.push(TcAttribute::Kind("flower".into()));
            vec![(M::DelTrafficFilter(m), 0)]
        }
        (Op::Add, Item::L2cp { port, .. }) => {
            vec![(M::NewTrafficFilter(super::l2cp::l2cp_filter(ctx.ifindex(port)? as i32)), create)]
        }
        (Op::Remove, Item::L2cp { port, .. }) => {
            // Whatever is at the preference (ours, or a filter in its place that is not), as
            // `tc filter del dev P ingress pref 3`: no protocol, no kind, no handle.
            let mut m = super::l2cp::our_l2cp_key(ctx.ifindex(port)? as i32);
            m.header.handle = TcHandle { major: 0, minor: 0 };
            vec![(M::DelTrafficFilter(m), 0)]
        }
        (op, Item::Fdb { mac, vid, port }) => {
            let mut m = NeighbourMessage::default();
            m.header.family = AddressFamily::Bridge;
            m.header.ifindex = ctx.ifindex(port)?;
            m.header.flags = NeighbourFlags::Controller;
            m.attributes =
                vec![NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec()), NeighbourAttribute::Vlan(*vid)];
            match op {
                Op::Add => {
                    m.header.state = NeighbourState::Noarp;
                    // REPLACE: a learned entry for the same MAC and VLAN gives way.
                    vec![(M::NewNeighbour(m), NLM_F_CREATE | NLM_F_REPLACE)]
                }
                Op::Remove => vec![(M::DelNeighbour(m), 0)],
            }
        }
    })
}

/// The handle of our drop filter: matchall's own default (it takes 1 when given none, as
/// filters made before this was set were), set so that [`our_drop_key`] can ask for it.
const OUR_DROP_HANDLE: TcHandle = TcHandle { major: 0, minor: 1 };

/// A get request (RTM_GETTFILTER, not a dump) for our drop filter on `ifindex`'s hook in
/// `direction`, of any protocol (the kernel keeps one protocol per preference, and a get
/// with protocol 0 matches whichever it is, so an 802.1Q drop made before issue 18 is found
/// too): the kernel answers with the filter, or ENOENT/EINVAL when the hook has no filter
/// at our preference with our handle.
pub fn our_drop_key(ifindex: i32, direction: Direction) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex);
    m.header.parent = tc_parent(direction);
    m.header.info = u32::from(TC_PREF) << 16;
    m.header.handle = OUR_DROP_HANDLE;
    m
}

/// A get request for the policer filter on `ifindex`'s ingress hook (and the key a new one
/// is made with): matchall for every protocol at [`POLICE_PREF`], handle 1.
pub fn our_police_key(ifindex: i32) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex);
    m.header.parent = tc_parent(Direction::Ingress);
    m.header.info = (u32::from(POLICE_PREF) << 16) | u32::from(ETH_P_ALL_BE);
    m.header.handle = OUR_DROP_HANDLE;
    m
}

/// A police action (`action police rate R bit burst B conform-exceed drop/continue`), as `tc`
/// sends it: struct tc_police (exceed action SHOT, the burst in the kernel's ticks, the
/// rate in bytes per second), the conform action (TC_ACT_UNSPEC for `continue`: a conforming
/// frame goes on to the filters after the policer, the L2CP discard at preference 3; with
/// `pass`, TC_ACT_OK, the policer's verdict ends the classification and nothing after it
/// runs) and a rate table, which the kernel requires with a rate;
/// rates past 2^32 - 1 bytes per second also go as TCA_POLICE_RATE64. netlink-packet-route
/// has no typed police action, so these are written raw.
fn police(rate_bps: u64, burst_bytes: u32, conform: Conform) -> TcAction {
    let bytes_per_s = rate_bps / 8;
    let rate32 = u32::try_from(bytes_per_s).unwrap_or(u32::MAX);
    let mut parms = Vec::with_capacity(TC_POLICE_LEN);
    // index, action, limit, burst, mtu (0: the kernel takes 255 cells of the rate table).
    for v in [0u32, TC_ACT_SHOT as u32, 0, burst_ticks(rate_bps, burst_bytes), 0] {
        parms.extend_from_slice(&v.to_ne_bytes());
    }
    // rate: struct tc_ratespec { cell_log, linklayer, overhead, cell_align, mpu, rate }.
    parms.extend_from_slice(&[RTAB_CELL_LOG, LINKLAYER_ETHERNET]);
    parms.extend_from_slice(&0u16.to_ne_bytes());
    parms.extend_from_slice(&(-1i16).to_ne_bytes());
    parms.extend_from_slice(&0u16.to_ne_bytes());
    parms.extend_from_slice(&rate32.to_ne_bytes());
    // peakrate (none), refcnt, bindcnt, capab.
    parms.resize(TC_POLICE_LEN, 0);
    // The time each of 256 sizes (8, 16, ... bytes) takes at the rate, in ticks.
    let mut table = Vec::with_capacity(TC_RTAB_SIZE);
    for cell in 1..=256u32 {
        let size = cell << RTAB_CELL_LOG;
        table.extend_from_slice(&burst_ticks(rate_bps, size).to_ne_bytes());
    }
    let mut options = vec![
        TcActionOption::Other(DefaultNla::new(TCA_POLICE_TBF, parms)),
        TcActionOption::Other(DefaultNla::new(TCA_POLICE_RATE, table)),
        TcActionOption::Other(DefaultNla::new(TCA_POLICE_RESULT, conform_result(conform).to_ne_bytes().to_vec())),
    ];
    if u64::from(rate32) < bytes_per_s {
        options.push(TcActionOption::Other(DefaultNla::new(TCA_POLICE_RATE64, bytes_per_s.to_ne_bytes().to_vec())));
    }
    let mut action = TcAction::default();
    action.attributes = vec![TcActionAttribute::Kind("police".into()), TcActionAttribute::Options(options)];
    action
}

fn conform_result(conform: Conform) -> i32 {
    match conform {
        Conform::Continue => TC_ACT_UNSPEC,
        Conform::Pass => TC_ACT_OK,
    }
}

/// The policer a filter read back holds, as (rate in bits per second, burst in bytes,
/// conform action).
///
/// A filter in the policer's place that is not one Switchboard makes or made (not matchall,
/// no police action or more than one action, another exceed action, a conform action other
/// than continue or pass, a peak rate) reads as rate 0 and burst 0, which no plan holds, so
/// it is replaced; and which a rollback puts back as a policer that lets everything
/// through (a police action without a rate polices nothing), the closest a driver can come
/// to a filter it cannot describe.
pub(super) fn police_of(f: &TcMessage) -> (u64, u32, Conform) {
    const FOREIGN: (u64, u32, Conform) = (0, 0, Conform::Continue);
    let is_matchall = f.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "matchall"));
    let actions: Vec<&TcAction> = super::tc::filter_options(f)
        .filter_map(|o| match o {
            TcOption::MatchAll(TcFilterMatchAllOption::Action(acts)) => Some(acts),
            _ => None,
        })
        .flatten()
        .collect();
    let [action] = actions.as_slice() else { return FOREIGN };
    if !is_matchall || !action.attributes.iter().any(|a| matches!(a, TcActionAttribute::Kind(k) if k == "police")) {
        return FOREIGN;
    }
    let (mut parms, mut rate64, mut result) = (None, None, 0u32);
    for (kind, value) in raw_options(action) {
        match kind {
            TCA_POLICE_TBF => parms = Some(value),
            TCA_POLICE_RATE64 => rate64 = value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()),
            TCA_POLICE_RESULT => {
                result = value.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map_or(u32::MAX, u32::from_ne_bytes)
            }
            _ => {}
        }
    }
    let Some(p) = parms.filter(|p| p.len() >= TC_POLICE_LEN) else { return FOREIGN };
    let word = |at: usize| p.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map_or(0, u32::from_ne_bytes);
    let (action, burst, rate, peak) = (word(4), word(12), word(28), word(40));
    // Exceed: drop; no peak rate. Conform: continue (TC_ACT_UNSPEC), or pass (TC_ACT_OK, 0,
    // also when the attribute is missing: what Switchboard made before the L2CP discard).
    let Some(conform) = [Conform::Continue, Conform::Pass].into_iter().find(|c| conform_result(*c) as u32 == result)
    else {
        return FOREIGN;
    };
    if action != TC_ACT_SHOT as u32 || peak != 0 {
        return FOREIGN;
    }
    let bytes_per_s = rate64.map_or(u64::from(rate), u64::from_ne_bytes).max(u64::from(rate));
    let rate_bps = bytes_per_s.saturating_mul(8);
    (rate_bps, burst_from_ticks(rate_bps, burst), conform)
}

/// Whether a filter read back is one of our drops, and of which tag protocol: matchall for
/// 802.1ad or 802.1Q at our preference.
pub(super) fn our_drop(f: &TcMessage) -> Option<TagProtocol> {
    let pref = (f.header.info >> 16) as u16;
    let proto = (f.header.info & 0xffff) as u16;
    let protocol =
        [TagProtocol::Dot1Ad, TagProtocol::Dot1Q].into_iter().find(|p| tc_protocol(*p) == proto && pref == TC_PREF)?;
    let ours = f.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "matchall"))
        && f.attributes.iter().any(|a| matches!(a, TcAttribute::Options(o) if !o.is_empty()));
    ours.then_some(protocol)
}

/// Makes a message refer to an interface that does not exist (fault injection). A new
/// sub-interface keeps its own index (which a creation may choose) and gets a parent that
/// does not exist instead.
fn poison(m: &mut RouteNetlinkMessage) {
    const MISSING: u32 = 0x7fff_fff0;
    match m {
        RouteNetlinkMessage::NewLink(l) if l.attributes.iter().any(|a| matches!(a, LinkAttribute::Link(_))) => {
            for a in &mut l.attributes {
                if let LinkAttribute::Link(parent) = a {
                    *parent = MISSING;
                }
            }
        }
        RouteNetlinkMessage::NewLink(l) | RouteNetlinkMessage::SetLink(l) | RouteNetlinkMessage::DelLink(l) => {
            l.header.index = MISSING
        }
        RouteNetlinkMessage::NewNeighbour(n) | RouteNetlinkMessage::DelNeighbour(n) => n.header.ifindex = MISSING,
        RouteNetlinkMessage::NewQueueDiscipline(t)
        | RouteNetlinkMessage::DelQueueDiscipline(t)
        | RouteNetlinkMessage::NewTrafficFilter(t)
        | RouteNetlinkMessage::DelTrafficFilter(t) => t.header.index = MISSING as i32,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::Nla;

    use super::*;

    fn ctx_index() -> HashMap<String, u32> {
        [("br0", 1), ("p1", 2), ("t1", 3), ("p2", 4), ("p2.500", 5)]
            .into_iter()
            .map(|(n, i)| (n.to_string(), i))
            .collect()
    }

    #[test]
    fn fdb_add_is_a_static_master_entry_with_vlan() {
        let index = ctx_index();
        let ctx = Ctx { bridge: 1, index: &index, created: &HashMap::new() };
        let change = Change {
            op: Op::Add,
            item: Item::Fdb { mac: "02:00:00:00:00:01".parse().unwrap(), vid: 10, port: "t1".into() },
        };
        let msgs = messages(&change, &ctx).unwrap();
        let [(RouteNetlinkMessage::NewNeighbour(n), flags)] = msgs.as_slice() else { panic!("{msgs:?}") };
        assert_eq!(*flags, NLM_F_CREATE | NLM_F_REPLACE);
        assert_eq!(n.header.ifindex, 3);
        assert_eq!(n.header.state, NeighbourState::Noarp);
        assert_eq!(n.header.flags, NeighbourFlags::Controller);
        assert!(n.attributes.contains(&NeighbourAttribute::Vlan(10)));
    }

    #[test]
    fn drops_are_matchall_at_our_pref_for_their_protocol() {
        let index = ctx_index();
        let ctx = Ctx { bridge: 1, index: &index, created: &HashMap::new() };
        for (protocol, ethertype) in [(TagProtocol::Dot1Ad, 0x88a8u16), (TagProtocol::Dot1Q, 0x8100)] {
            let item = Item::TcDrop { port: "p2.500".into(), direction: Direction::Egress, protocol };
            let msgs = messages(&Change { op: Op::Add, item }, &ctx).unwrap();
            let [(RouteNetlinkMessage::NewTrafficFilter(f), _)] = msgs.as_slice() else { panic!() };
            assert_eq!(f.header.index, 5);
            assert_eq!(f.header.parent, TcHandle { major: 0xffff, minor: 0xfff3 });
            assert_eq!(f.header.info, (1 << 16) | u32::from(ethertype.to_be()), "pref 1, the tag's protocol");
            assert_eq!(our_drop(f), Some(protocol));
        }
        assert_eq!(our_drop_key(5, Direction::Ingress).header.info, 1 << 16, "a get of any protocol at pref 1");
    }

    /// The bridge's VLAN protocol and multicast snooping are changed in place: RTM_NEWLINK on
    /// its index, no CREATE, with only IFLA_BR_VLAN_PROTOCOL and IFLA_BR_MCAST_SNOOPING.
    #[test]
    fn the_provider_bridge_is_the_bridges_vlan_protocol_and_snooping() {
        let index = ctx_index();
        let ctx = Ctx { bridge: 1, index: &index, created: &HashMap::new() };
        for (op, snooping_off, want, snooping) in [
            (Op::Add, true, VlanProtocol::Ieee8021Ad, false),
            (Op::Add, false, VlanProtocol::Ieee8021Ad, true),
            (Op::Remove, true, VlanProtocol::Ieee8021Q, true),
        ] {
            let msgs = messages(&Change { op, item: Item::ProviderBridge { snooping_off } }, &ctx).unwrap();
            let [(RouteNetlinkMessage::NewLink(l), 0)] = msgs.as_slice() else { panic!("{msgs:?}") };
            assert_eq!(l.header.index, 1);
            let data = [
                LinkInfo::Kind(InfoKind::Bridge),
                LinkInfo::Data(InfoData::Bridge(vec![
                    InfoBridge::VlanProtocol(want),
                    InfoBridge::MulticastSnooping(snooping),
                ])),
            ];
            assert_eq!(l.attributes, vec![LinkAttribute::LinkInfo(data.to_vec())]);
        }
    }

    /// The policer goes on the ingress hook at its own preference, for every protocol, and
    /// reads back (through the bytes the kernel would get) as the item it was made from.
    #[test]
    fn policer_is_matchall_police_and_reads_back_as_itself() {
        use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
        let index = ctx_index();
        let ctx = Ctx { bridge: 1, index: &index, created: &HashMap::new() };
        let rates = [1_000_000u64, 10_000_000, 1_000_000_000, 40_000_000_000, 100_000_000_000];
        for (rate_bps, conform) in rates.into_iter().flat_map(|r| [(r, Conform::Continue), (r, Conform::Pass)]) {
            let burst_bytes = crate::orchestrator::police_burst(rate_bps);
            let item = Item::Police { port: "p2.500".into(), rate_bps, burst_bytes, conform };
            let msgs = messages(&Change { op: Op::Add, item }, &ctx).unwrap();
            let [(RouteNetlinkMessage::NewTrafficFilter(f), flags)] = msgs.as_slice() else { panic!("{msgs:?}") };
            assert_eq!(*flags, NLM_F_CREATE | NLM_F_EXCL);
            assert_eq!((f.header.index, f.header.parent), (5, TcHandle { major: 0xffff, minor: 0xfff2 }));
            assert_eq!(f.header.info, (2 << 16) | 0x0300, "pref 2, protocol all");
            let mut sent = NetlinkMessage::from(RouteNetlinkMessage::NewTrafficFilter(f.clone()));
            sent.finalize();
            let mut bytes = vec![0u8; sent.buffer_len()];
            sent.serialize(&mut bytes);
            let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewTrafficFilter(back)) =
                NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes).unwrap().payload
            else {
                panic!()
            };
            assert_eq!(police_of(&back), (rate_bps, burst_bytes, conform), "at {rate_bps} bit/s");
            assert_eq!(our_drop(&back), None);
        }
        // Something else in the policer's place reads as no policer of ours.
        let mut drop = our_police_key(5);
        drop.attributes.push(TcAttribute::Kind("matchall".into()));
        drop.attributes
            .push(TcAttribute::Options(vec![TcOption::MatchAll(TcFilterMatchAllOption::Action(vec![gact_drop()]))]));
        assert_eq!(police_of(&drop), (0, 0, Conform::Continue));
        // A policer with no conform result (as `tc` made it before the L2CP discard, and as
        // Switchboard did) passes: it reads as such, with its rate. One whose conform action
        // is another (reclassify, 1) is not ours.
        let policer =
            |result: Option<i32>| {
                let mut action = police(10_000_000, 12_500, Conform::Continue);
                for a in &mut action.attributes {
                    if let TcActionAttribute::Options(o) = a {
                        o.retain(|x| !matches!(x, TcActionOption::Other(n) if n.kind() == TCA_POLICE_RESULT));
                        o.extend(result.map(|r| {
                            TcActionOption::Other(DefaultNla::new(TCA_POLICE_RESULT, r.to_ne_bytes().to_vec()))
                        }));
                    }
                }
                let mut f = our_police_key(5);
                f.attributes.push(TcAttribute::Kind("matchall".into()));
                f.attributes
                    .push(TcAttribute::Options(vec![TcOption::MatchAll(TcFilterMatchAllOption::Action(vec![action]))]));
                f
            };
        assert_eq!(police_of(&policer(None)), (10_000_000, 12_500, Conform::Pass));
        assert_eq!(police_of(&policer(Some(TC_ACT_OK))), (10_000_000, 12_500, Conform::Pass));
        assert_eq!(police_of(&policer(Some(TC_ACT_UNSPEC))), (10_000_000, 12_500, Conform::Continue));
        assert_eq!(police_of(&policer(Some(1))), (0, 0, Conform::Continue));
        // What a rollback puts back for such a filter: a policer without a rate, read back as
        // the same.
        let rateless = Item::Police { port: "p2.500".into(), rate_bps: 0, burst_bytes: 0, conform: Conform::Continue };
        let msgs = messages(&Change { op: Op::Add, item: rateless }, &ctx).unwrap();
        let [(RouteNetlinkMessage::NewTrafficFilter(f), _)] = msgs.as_slice() else { panic!("{msgs:?}") };
        assert_eq!(police_of(f), (0, 0, Conform::Continue));
        let del = messages(
            &Change {
                op: Op::Remove,
                item: Item::Police { port: "p1".into(), rate_bps: 1, burst_bytes: 1, conform: Conform::Continue },
            },
            &ctx,
        )
        .unwrap();
        assert!(matches!(&del[..], [(RouteNetlinkMessage::DelTrafficFilter(f), 0)] if f.header.index == 2));
    }

    /// A port floods multicast as its item says; the L2CP discard is created exclusively and
    /// removed by preference alone (whatever is there, of any protocol).
    #[test]
    fn ports_flood_multicast_and_the_l2cp_discard_goes_by_preference() {
        let index = ctx_index();
        let ctx = Ctx { bridge: 1, index: &index, created: &HashMap::new() };
        for mcast_flood in [true, false] {
            let add =
                messages(&Change { op: Op::Add, item: Item::Port { port: "p1".into(), mcast_flood } }, &ctx).unwrap();
            let RouteNetlinkMessage::NewLink(flags) = &add[1].0 else { panic!("{add:?}") };
            let text = format!("{flags:?}");
            assert!(text.contains(&format!("MulticastFlood({mcast_flood})")), "{text}");
            assert!(text.contains("Learning(false)") && text.contains("UnicastFlood(false)"), "{text}");
        }
        let add =
            messages(&Change { op: Op::Add, item: Item::L2cp { port: "p1".into(), foreign: false } }, &ctx).unwrap();
        assert!(matches!(&add[..], [(RouteNetlinkMessage::NewTrafficFilter(f), fl)]
            if f.header.index == 2 && *fl == NLM_F_CREATE | NLM_F_EXCL && f.header.info == (3 << 16) | 0x0300));
        let del =
            messages(&Change { op: Op::Remove, item: Item::L2cp { port: "p1".into(), foreign: true } }, &ctx).unwrap();
        assert!(matches!(&del[..], [(RouteNetlinkMessage::DelTrafficFilter(f), 0)]
            if f.header.index == 2 && f.header.info == 3 << 16 && u32::from(f.header.handle) == 0 && f.attributes.is_empty()));
    }

    #[test]
    fn unknown_port_is_an_error_not_a_panic() {
        let index = ctx_index();
        let ctx = Ctx { bridge: 1, index: &index, created: &HashMap::new() };
        let change = Change { op: Op::Add, item: Item::Port { port: "nope".into(), mcast_flood: true } };
        assert_eq!(messages(&change, &ctx).unwrap_err(), "no interface `nope` on this switch");
    }

    #[test]
    fn a_new_sub_interface_is_named_by_the_index_the_batch_gives_it() {
        let index = ctx_index();
        let changes: Vec<Change> = [
            Item::SubInterface { parent: "p2".into(), vid: 600 },
            Item::Port { port: "p2.600".into(), mcast_flood: true },
            Item::Vlan { port: "p2.600".into(), vid: 30, pvid: true, untagged: true },
            Item::Fdb { mac: "02:00:00:00:00:02".parse().unwrap(), vid: 30, port: "p2.600".into() },
        ]
        .into_iter()
        .map(|item| Change { op: Op::Add, item })
        .collect();
        let b = batch(&changes, 1, &index, 9, None).unwrap();
        assert_eq!(b.created.get("p2.600"), Some(&9));
        assert_eq!(b.change_of, vec![0, 0, 1, 1, 2, 3]);
        let RouteNetlinkMessage::NewLink(sub) = &b.messages[1].0 else { panic!("{:?}", b.messages[1]) };
        assert_eq!(sub.header.index, 9);
        assert!(sub.attributes.contains(&LinkAttribute::Link(4)), "its parent is p2");
        let RouteNetlinkMessage::SetLink(port) = &b.messages[2].0 else { panic!() };
        assert_eq!(port.header.index, 9);
        let RouteNetlinkMessage::NewNeighbour(fdb) = &b.messages[5].0 else { panic!() };
        assert_eq!(fdb.header.ifindex, 9);
        // Removed the other way round, by the index the switch reports.
        let back: Vec<Change> = changes.iter().rev().map(Change::inverse).collect();
        let mut index = index;
        index.insert("p2.600".into(), 9);
        let b = batch(&back, 1, &index, 10, None).unwrap();
        assert!(b.created.is_empty());
        assert_eq!(b.deleted, vec!["p2.600".to_string()]);
        assert!(matches!(&b.messages.last().unwrap().0, RouteNetlinkMessage::DelLink(l) if l.header.index == 9));
    }

    #[test]
    fn a_poisoned_sub_interface_keeps_its_index_and_loses_its_parent() {
        let index = ctx_index();
        let changes = [Change { op: Op::Add, item: Item::SubInterface { parent: "p2".into(), vid: 600 } }];
        let b = batch(&changes, 1, &index, 9, Some(0)).unwrap();
        let RouteNetlinkMessage::NewLink(sub) = &b.messages[1].0 else { panic!() };
        assert_eq!(sub.header.index, 9, "a chosen index would create the link, not fail it");
        assert!(!sub.attributes.contains(&LinkAttribute::Link(4)));
        let RouteNetlinkMessage::SetLink(up) = &b.messages[0].0 else { panic!() };
        assert_ne!(up.header.index, 4);
    }

    #[test]
    fn a_change_naming_an_unknown_port_is_reported_with_its_index() {
        let index = ctx_index();
        let changes = [
            Change { op: Op::Add, item: Item::Port { port: "p1".into(), mcast_flood: true } },
            Change { op: Op::Add, item: Item::Clsact { port: "gone".into() } },
        ];
        assert_eq!(batch(&changes, 1, &index, 9, None).unwrap_err(), (1, "no interface `gone` on this switch".into()));
    }

    #[test]
    fn a_name_the_batch_creates_is_never_resolved_to_the_link_that_holds_it_now() {
        let mut index = ctx_index();
        index.insert("p2.600".into(), 7); // something else, not ours, holds the name
        let changes: Vec<Change> = [
            Item::SubInterface { parent: "p2".into(), vid: 600 },
            Item::Port { port: "p2.600".into(), mcast_flood: true },
        ]
        .into_iter()
        .map(|item| Change { op: Op::Add, item })
        .collect();
        let b = batch(&changes, 1, &index, 9, None).unwrap();
        let RouteNetlinkMessage::SetLink(port) = &b.messages[2].0 else { panic!() };
        assert_eq!(port.header.index, 9);
    }
}
