//! Issue 18 items 2 and 3 on the planner's own state, through the forwarding model
//! (`orchestrator::simulate`): members reach each other as their kind says and nothing
//! leaks (E-Tree leaves never reach leaves, on one switch or across), a customer's own
//! 802.1Q tags (any VID, any priority, one or two of them) arrive as they were sent, and a
//! frame whose outer tag is 802.1ad (an S-tag, the provider's own) reaches no one; multicast
//! reaches members as broadcast does, and an L2CP frame (a BPDU) no one. The
//! negative controls break one part of the scheme at a time and show that these checks
//! catch it.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use switchboard::model::{ChannelKind, Role};
use switchboard::orchestrator::simulate::{Destination, Network, Tag, send};
use switchboard::orchestrator::{Direction, Item, PlannedChannel, Planner, TagProtocol, parse_channels};
use switchboard::topology::Topology;

use crate::support::{NetParams, random_channels, random_topology};

type States = [BTreeSet<Item>];

/// What a member puts on the wire for a channel: its customer tag (tagged mode) and then the
/// service frame's own tags.
fn wire(member_tag: Option<u16>, payload: &[Tag]) -> Vec<Tag> {
    member_tag.map(Tag::c).into_iter().chain(payload.iter().copied()).collect()
}

/// Every member of every channel sends a frame carrying `payload` (its own tags, under the
/// member's customer tag on a tagged-mode interface) to broadcast, to a multicast group and
/// to every other member's MACs. It must reach exactly the members its kind allows (an E-Tree leaf only
/// the roots), each with its own customer tag and then `payload` unchanged, and no one else.
fn members_reach_as_their_kind_says(
    topo: &Topology,
    states: &States,
    channels: &BTreeMap<compact_str::CompactString, PlannedChannel>,
    payload: &[Tag],
) -> Result<(), String> {
    let net = Network::new(topo, states);
    for ch in channels.values() {
        for from in &ch.members {
            let sent = wire(from.customer_vlan, payload);
            let mut dsts = vec![Destination::Broadcast, Destination::Multicast];
            for to in &ch.members {
                dsts.extend(topo.interface(&to.interface).unwrap().macs.iter().map(|m| Destination::Unicast(*m)));
            }
            // (member, how: 0 unicast, 1 broadcast, 2 multicast)
            let mut reached: BTreeSet<(&str, u8)> = BTreeSet::new();
            for dst in &dsts {
                for d in net.send(&from.interface, &sent, *dst) {
                    let member =
                        ch.members.iter().find(|m| m.interface == d.interface && m.interface != from.interface);
                    let Some(member) = member else {
                        return Err(format!(
                            "{}: {} sent {sent:?} to {dst:?}: it reached {} ({:?}), outside the channel",
                            ch.name, from.interface, d.interface, d.tags
                        ));
                    };
                    if d.tags != wire(member.customer_vlan, payload) {
                        return Err(format!(
                            "{}: {} sent {sent:?}: {} got {:?}",
                            ch.name, from.interface, d.interface, d.tags
                        ));
                    }
                    if ch.kind == ChannelKind::P2mp && from.role == Role::Leaf && member.role == Role::Leaf {
                        return Err(format!(
                            "{}: leaf {} reached leaf {} ({dst:?}, {sent:?})",
                            ch.name, from.interface, member.interface
                        ));
                    }
                    let addressed = match dst {
                        Destination::Broadcast | Destination::Multicast => true,
                        Destination::Unicast(mac) => topo.interface(&member.interface).unwrap().macs.contains(mac),
                        Destination::L2cp => false,
                    };
                    if !addressed {
                        return Err(format!(
                            "{}: {} got a frame {} sent to {dst:?}",
                            ch.name, member.interface, from.interface
                        ));
                    }
                    let how = match dst {
                        Destination::Broadcast => 1,
                        Destination::Multicast => 2,
                        _ => 0,
                    };
                    reached.insert((member.interface.as_str(), how));
                }
            }
            for to in ch.members.iter().filter(|m| m.interface != from.interface) {
                let should = ch.kind != ChannelKind::P2mp || from.role == Role::Root || to.role == Role::Root;
                for how in [0, 1, 2] {
                    if reached.contains(&(to.interface.as_str(), how)) != should {
                        let how = ["unicast", "broadcast", "multicast"][usize::from(how)];
                        return Err(format!(
                            "{}: {} -> {} ({how}, {sent:?}): reached {}, should {should}",
                            ch.name, from.interface, to.interface, !should
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Frames whose outer tag (under the member's customer tag) is an S-tag, with the channel's
/// VLAN (root or leaf) or `extra`, alone or over a C-tag, reach no one: a customer cannot
/// name a provider VLAN, and so an E-Tree leaf cannot reach a leaf by tagging.
fn s_tagged_frames_reach_no_one(
    topo: &Topology,
    states: &States,
    channels: &BTreeMap<compact_str::CompactString, PlannedChannel>,
    extra: u16,
) -> Result<(), String> {
    let net = Network::new(topo, states);
    let mut dsts = vec![Destination::Broadcast];
    dsts.extend(topo.interfaces.iter().flat_map(|i| i.macs.iter().map(|m| Destination::Unicast(*m))));
    for ch in channels.values() {
        for from in &ch.members {
            for vid in [Some(ch.vlan), ch.leaf_vlan, Some(extra)].into_iter().flatten() {
                for payload in [vec![Tag::s(vid)], vec![Tag::s(vid), Tag::c(42)]] {
                    let sent = wire(from.customer_vlan, &payload);
                    for dst in &dsts {
                        if let Some(d) = net.send(&from.interface, &sent, *dst).first() {
                            return Err(format!(
                                "{}: {} sent {sent:?} to {dst:?}: {} got {:?}",
                                ch.name, from.interface, d.interface, d.tags
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// An L2CP frame (to a BPDU's address) from any member, carrying `payload` under the member's
/// customer tag, reaches no one: every service discards them at the UNI (MEF 45).
fn l2cp_frames_reach_no_one(
    topo: &Topology,
    states: &States,
    channels: &BTreeMap<compact_str::CompactString, PlannedChannel>,
    payload: &[Tag],
) -> Result<(), String> {
    let net = Network::new(topo, states);
    for ch in channels.values() {
        for from in &ch.members {
            let sent = wire(from.customer_vlan, payload);
            if let Some(d) = net.send(&from.interface, &sent, Destination::L2cp).first() {
                return Err(format!(
                    "{}: {} sent an L2CP frame {sent:?}: {} got it",
                    ch.name, from.interface, d.interface
                ));
            }
        }
    }
    Ok(())
}

fn states(planner: &Planner<'_>) -> Vec<BTreeSet<Item>> {
    (0..planner.topology().switches.len()).map(|s| planner.desired(s)).collect()
}

fn params() -> impl Strategy<Value = (NetParams, u64, usize)> {
    (any::<u64>(), 1usize..30, 2usize..24, 2u16..40, any::<u64>(), 0usize..20)
        .prop_map(|(seed, switches, sites, pool, cseed, n)| (NetParams { seed, switches, sites, pool }, cseed, n))
}

/// A customer's own tags: none, one or two 802.1Q tags, any VID (0 = priority-tagged, 1,
/// 4094, ...) and any priority.
fn payload() -> impl Strategy<Value = Vec<Tag>> {
    let tag = (prop_oneof![Just(0u16), Just(1u16), Just(4094u16), 0u16..4096], 0u8..8).prop_map(|(vid, pcp)| Tag {
        protocol: TagProtocol::Dot1Q,
        vid,
        pcp,
    });
    proptest::collection::vec(tag, 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// In the forwarding model of the computed state: members reach each other as their kind
    /// says (p2mp: roots reach everyone, leaves reach roots only, also across switches), for
    /// unicast and broadcast, untagged or with their own C-tags, which arrive unchanged; and
    /// nothing reaches anyone outside the sender's channel.
    #[test]
    fn reachability_matches_kind_and_nothing_leaks((net, cseed, n) in params(), payload in payload()) {
        let topo = random_topology(&net);
        let mut planner = Planner::new(&topo);
        for spec in random_channels(&topo, cseed, n) { let _ = planner.add(&spec); }
        let st = states(&planner);
        prop_assert_eq!(members_reach_as_their_kind_says(&topo, &st, planner.channels(), &[]), Ok(()));
        prop_assert_eq!(members_reach_as_their_kind_says(&topo, &st, planner.channels(), &payload), Ok(()));
        prop_assert_eq!(l2cp_frames_reach_no_one(&topo, &st, planner.channels(), &[]), Ok(()));
        prop_assert_eq!(l2cp_frames_reach_no_one(&topo, &st, planner.channels(), &payload), Ok(()));
    }

    /// A member that S-tags its frames (with the root or leaf VLAN of any channel, or
    /// anything) reaches no one; in particular no p2mp leaf reaches another leaf that way.
    #[test]
    fn leaves_cannot_reach_leaves_by_tagging((net, cseed, n) in params(), extra in 1u16..60) {
        let topo = random_topology(&net);
        let mut planner = Planner::new(&topo);
        for spec in random_channels(&topo, cseed, n) { let _ = planner.add(&spec); }
        prop_assert_eq!(s_tagged_frames_reach_no_one(&topo, &states(&planner), planner.channels(), extra), Ok(()));
    }
}

/// A line of three switches: an E-Tree with its root on a, leaves on b (two port-mode, one
/// tagged-mode) and c (one port-mode, one tagged-mode on the port another channel uses);
/// and a mixed EP-LAN of port-mode members and a tagged-mode one on c.
const LINE: &str = "
name: t
vlans: {pool: 10-20}
switches: {a: {}, b: {}, c: {}}
links:
  - endpoints: [a:ab, b:ba]
  - endpoints: [b:bc, c:cb]
interfaces:
  root: {organization: o, switch: a, port: pr, capacity: 100, macs: ['02:00:00:00:00:01']}
  l1: {organization: o, switch: b, port: p1, capacity: 100, macs: ['02:00:00:00:00:11']}
  l2: {organization: o, switch: b, port: p2, capacity: 100, macs: ['02:00:00:00:00:12']}
  l3: {organization: o, switch: b, port: p3, capacity: 100, mode: tagged, macs: ['02:00:00:00:00:13']}
  l4: {organization: o, switch: c, port: p4, capacity: 100, macs: ['02:00:00:00:00:14']}
  t: {organization: o, switch: c, port: pt, capacity: 100, mode: tagged, macs: ['02:00:00:00:00:07']}
  e1: {organization: o, switch: a, port: pe1, capacity: 100, macs: ['02:00:00:00:00:21']}
  e2: {organization: o, switch: c, port: pe2, capacity: 100, macs: ['02:00:00:00:00:22']}
";

const CHANNELS: &str = "
- {name: tree, kind: p2mp, members: [{interface: root, role: root}, {interface: l1, role: leaf}, {interface: l2, role: leaf},
   {interface: l3, role: leaf, customer_vlan: 300}, {interface: l4, role: leaf}, {interface: t, role: leaf, customer_vlan: 800}]}
- {name: lan, kind: mp2mp, members: [e1, e2, {interface: t, customer_vlan: 700}]}
";

/// Every check on the planned LINE, for untagged frames, C-tags at the ends of the VID range
/// with priorities, and two C-tags.
fn all_checks(
    topo: &Topology,
    states: &States,
    channels: &BTreeMap<compact_str::CompactString, PlannedChannel>,
) -> Result<(), String> {
    let payloads = [
        vec![],
        vec![Tag { protocol: TagProtocol::Dot1Q, vid: 1, pcp: 5 }],
        vec![Tag { protocol: TagProtocol::Dot1Q, vid: 4094, pcp: 7 }, Tag::c(100)],
    ];
    for payload in &payloads {
        members_reach_as_their_kind_says(topo, states, channels, payload)?;
        l2cp_frames_reach_no_one(topo, states, channels, payload)?;
    }
    s_tagged_frames_reach_no_one(topo, states, channels, 55)
}

/// The scheme as planned passes; each broken variant of it fails, with the failure the part
/// it breaks is there to prevent.
#[test]
fn negative_controls_each_broken_part_of_the_scheme_is_caught() {
    let topo = switchboard::topology::parse(LINE).unwrap();
    let (specs, diags) = parse_channels(CHANNELS);
    assert!(diags.is_empty(), "{diags:?}");
    let mut planner = Planner::new(&topo);
    for spec in &specs {
        planner.add(spec).unwrap();
    }
    let good = states(&planner);
    let channels = planner.channels();
    assert_eq!(all_checks(&topo, &good, channels), Ok(()));

    let broken = |change: &dyn Fn(&Item) -> Option<Item>| -> Vec<BTreeSet<Item>> {
        good.iter().map(|s| s.iter().filter_map(change).collect()).collect()
    };
    let fails = |states: &[BTreeSet<Item>], why: &str| {
        let res = all_checks(&topo, states, channels);
        assert!(res.is_err(), "{why}: the checks did not catch it");
        res.unwrap_err()
    };
    // 1. The drops as they were before issue 18 (802.1Q): leaf VLAN frames leave a leaf
    //    port S-tagged and pass, so a leaf's broadcast reaches the other leaves.
    let old_drops = broken(&|i| match i {
        Item::TcDrop { port, direction, .. } => {
            Some(Item::TcDrop { port: port.clone(), direction: *direction, protocol: TagProtocol::Dot1Q })
        }
        other => Some(other.clone()),
    });
    let why = fails(&old_drops, "802.1Q drops");
    assert!(why.contains("got [Tag { protocol: Dot1Ad, vid: 11"), "a leaf got the leaf VLAN S-tagged: {why}");
    // 2. No egress drop on leaves: leaf to leaf broadcast.
    let no_egress = broken(&|i| match i {
        Item::TcDrop { direction: Direction::Egress, .. } => None,
        other => Some(other.clone()),
    });
    let why = fails(&no_egress, "no egress drop");
    assert!(why.contains("got [Tag { protocol: Dot1Ad, vid: 11"), "a leaf got the leaf VLAN S-tagged: {why}");
    // 3. 802.1Q bridges: a customer's C-tag is taken for the bridge's VLAN and the frame is
    //    lost (or worse).
    let dot1q_bridges = broken(&|i| (!matches!(i, Item::ProviderBridge { .. })).then(|| i.clone()));
    fails(&dot1q_bridges, "802.1Q bridges");
    let lan: BTreeMap<compact_str::CompactString, PlannedChannel> =
        channels.iter().filter(|(n, _)| *n == "lan").map(|(n, c)| (n.clone(), c.clone())).collect();
    let c_tag = [Tag { protocol: TagProtocol::Dot1Q, vid: 1, pcp: 5 }];
    assert_eq!(members_reach_as_their_kind_says(&topo, &good, &lan, &c_tag), Ok(()));
    let why = members_reach_as_their_kind_says(&topo, &dot1q_bridges, &lan, &c_tag).unwrap_err();
    assert!(why.contains("should true"), "a C-tagged frame is lost on 802.1Q bridges: {why}");
    // 4. No ingress drop of S-tagged frames: a leaf that tags with the root VLAN reaches
    //    leaves, and any member's frame S-tagged with its channel VLAN gets in.
    let no_ingress = broken(&|i| match i {
        Item::TcDrop { direction: Direction::Ingress, .. } => None,
        other => Some(other.clone()),
    });
    let why = fails(&no_ingress, "no ingress drop");
    assert!(why.contains("Dot1Ad"), "an S-tagged frame got through: {why}");
    // 5. The E-Tree's leaf VLAN untagged on leaf ports (the textbook asymmetric VLANs).
    let textbook = broken(&|i| match i {
        Item::Vlan { port, vid, pvid: true, untagged: false } => {
            Some(Item::Vlan { port: port.clone(), vid: *vid, pvid: true, untagged: true })
        }
        other => Some(other.clone()),
    });
    assert!(fails(&textbook, "leaf VLAN untagged on leaves").contains("reached leaf"));
    // 6. Ports as they were before multicast was carried (mcast_flood off): a member's
    //    multicast reaches no one.
    let no_mcast = broken(&|i| match i {
        Item::Port { port, .. } => Some(Item::Port { port: port.clone(), mcast_flood: false }),
        other => Some(other.clone()),
    });
    let why = fails(&no_mcast, "multicast flooding off");
    assert!(why.contains("(multicast,") && why.contains("should true"), "multicast is lost: {why}");
    // 7. No L2CP discard (or a foreign filter in its place): a BPDU is flooded like
    //    multicast, to the channel's other members.
    for foreign in [None, Some(true)] {
        let no_l2cp = broken(&|i| match i {
            Item::L2cp { port, .. } => foreign.map(|foreign| Item::L2cp { port: port.clone(), foreign }),
            other => Some(other.clone()),
        });
        let why = fails(&no_l2cp, "no L2CP discard");
        assert!(why.contains("sent an L2CP frame"), "a BPDU got through: {why}");
    }
}

/// The documented rule for mixed channels: at a tagged-mode member, a port member's frame
/// arrives under the member's customer tag, its own C-tag inside (a double-tagged frame);
/// what a tagged-mode member sends under its tag arrives at port members as it was under it.
#[test]
fn mixed_channels_nest_a_port_members_c_tag_under_the_tagged_members_tag() {
    let topo = switchboard::topology::parse(LINE).unwrap();
    let (specs, _) = parse_channels(CHANNELS);
    let mut planner = Planner::new(&topo);
    for spec in &specs {
        planner.add(spec).unwrap();
    }
    let st = states(&planner);
    let c = |vid, pcp| Tag { protocol: TagProtocol::Dot1Q, vid, pcp };
    let to =
        |from: &str, tags: &[Tag], mac: &str| send(&topo, &st, from, tags, Destination::Unicast(mac.parse().unwrap()));
    let got = to("e1", &[c(5, 3)], "02:00:00:00:00:07");
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].interface.as_str(), got[0].tags.clone()), ("t", vec![Tag::c(700), c(5, 3)]));
    let got = to("t", &[c(700, 6), c(5, 3)], "02:00:00:00:00:21");
    assert_eq!((got[0].interface.as_str(), got[0].tags.clone()), ("e1", vec![c(5, 3)]));
    let got = to("t", &[c(700, 6)], "02:00:00:00:00:22");
    assert_eq!(
        (got[0].interface.as_str(), got[0].tags.clone()),
        ("e2", vec![]),
        "the customer tag's priority stays at the edge"
    );
}
