//! Issue 18 items 2 and 3 with real frames: 802.1ad bridges carry a port member's own 802.1Q
//! tags (any VID, any priority, two of them) unchanged across an EPL and an EP-LAN, untagged
//! stays untagged, a tagged-mode member in the same channel gets them under its customer
//! tag; E-Tree leaves stay apart for tagged and untagged frames, unicast and broadcast, on
//! one switch and across; S-tagged customer frames reach no one; and the scheme's items live
//! like the others (drift, repair, removal leaving no VLAN, FDB entry or tc object).

use std::collections::BTreeSet;

use switchboard::model::Mac;
use switchboard::southbound::linux::{lab, probe};

use super::{Lab, sh_in};

/// Three switches in a line; an EPL (epl-a, epl-b), an EP-LAN of three port-mode members and
/// a tagged-mode one (mix-t, customer tag 700), and an E-Tree with its root on sw1, two
/// leaves on sw2, one on sw3 and mix-t (customer tag 800, the EP-LAN member's port).
pub(super) const TOPOLOGY: &str = "
name: qinq
vlans: {pool: 100-199}
switches:
  sw1: {driver: linux, netns: qinq-sw1, bridge: br0}
  sw2: {driver: linux, netns: qinq-sw2, bridge: br0}
  sw3: {driver: linux, netns: qinq-sw3, bridge: br0}
links:
  - endpoints: [sw1:t12, sw2:t21]
  - endpoints: [sw2:t23, sw3:t32]
interfaces:
  epl-a: {organization: o, switch: sw1, port: ea, capacity: 1G, macs: ['02:5c:00:00:00:01']}
  epl-b: {organization: o, switch: sw3, port: eb, capacity: 1G, macs: ['02:5c:00:00:00:02']}
  lan-a: {organization: o, switch: sw1, port: la, capacity: 1G, macs: ['02:5c:00:00:00:11']}
  lan-b: {organization: o, switch: sw2, port: lb, capacity: 1G, macs: ['02:5c:00:00:00:12']}
  lan-c: {organization: o, switch: sw3, port: lc, capacity: 1G, macs: ['02:5c:00:00:00:13']}
  mix-t: {organization: o, switch: sw3, port: mt, mode: tagged, capacity: 1G, macs: ['02:5c:00:00:00:07']}
  root: {organization: o, switch: sw1, port: rt, capacity: 1G, macs: ['02:5c:00:00:00:21']}
  leaf1: {organization: o, switch: sw2, port: l1, capacity: 1G, macs: ['02:5c:00:00:00:31']}
  leaf2: {organization: o, switch: sw2, port: l2, capacity: 1G, macs: ['02:5c:00:00:00:32']}
  leaf3: {organization: o, switch: sw3, port: l3, capacity: 1G, macs: ['02:5c:00:00:00:33']}
";

const CHANNELS: &str = "
- {name: epl, kind: p2p, members: [epl-a, epl-b]}
- {name: eplan, kind: mp2mp, members: [lan-a, lan-b, lan-c, {interface: mix-t, customer_vlan: 700}]}
- {name: eptree, kind: p2mp, members: [{interface: root, role: root}, {interface: leaf1, role: leaf},
   {interface: leaf2, role: leaf}, {interface: leaf3, role: leaf}, {interface: mix-t, role: leaf, customer_vlan: 800}]}
";

/// A tag on the wire: (TPID, VID, PCP).
pub(super) type Tag = (u16, u16, u8);
const Q: u16 = 0x8100;
pub(super) const S: u16 = 0x88a8;

pub(super) fn c(vid: u16, pcp: u8) -> Tag {
    (Q, vid, pcp)
}

/// One frame to send and who must get it, with which tags (nobody else may).
pub(super) struct Check {
    from: &'static str,
    /// A site's name, or `None` for broadcast (or the L2CP protocol's address).
    to: Option<&'static str>,
    tags: Vec<Tag>,
    want: Vec<(&'static str, Vec<Tag>)>,
    /// Sent as this L2CP protocol's frame instead (its destination address and EtherType or
    /// LLC header).
    l2cp: Option<L2cp>,
    /// Sent to this multicast group instead, as an IP packet to it.
    group: Option<Group>,
}

pub(super) fn check(
    from: &'static str,
    to: Option<&'static str>,
    tags: &[Tag],
    want: &[(&'static str, &[Tag])],
) -> Check {
    let want = want.iter().map(|(s, t)| (*s, t.to_vec())).collect();
    Check { from, to, tags: tags.to_vec(), want, l2cp: None, group: None }
}

/// The layer 2 control protocols item 5 decides on.
#[derive(Clone, Copy, Debug)]
enum L2cp {
    /// STP/RSTP/MSTP BPDU: 01:80:c2:00:00:00, an 802.3 length and LLC 42-42-03.
    Stp,
    /// LLDP: 01:80:c2:00:00:0e, EtherType 0x88cc.
    Lldp,
    /// LACP: 01:80:c2:00:00:02 (slow protocols), EtherType 0x8809, subtype 1.
    Lacp,
    /// MVRP (MRP's VLAN registration, GVRP before it): 01:80:c2:00:00:21, EtherType 0x88f5;
    /// outside the reserved block, so carried like any multicast.
    Mrp,
}

impl L2cp {
    fn dst(self) -> [u8; 6] {
        let last = match self {
            L2cp::Stp => 0x00,
            L2cp::Lldp => 0x0e,
            L2cp::Lacp => 0x02,
            L2cp::Mrp => 0x21,
        };
        [0x01, 0x80, 0xc2, 0, 0, last]
    }

    /// What follows the tags, up to where our marker starts.
    fn header(self) -> Vec<u8> {
        match self {
            L2cp::Stp => vec![0x00, 0x26, 0x42, 0x42, 0x03],
            L2cp::Lldp => vec![0x88, 0xcc],
            L2cp::Lacp => vec![0x88, 0x09, 0x01],
            L2cp::Mrp => vec![0x88, 0xf5],
        }
    }
}

/// Customer multicast groups, each sent as a well-formed IP packet (the bridge's multicast
/// snooping reads the IP header of an untagged frame, and drops a malformed one).
#[derive(Clone, Copy, Debug)]
enum Group {
    /// IPv6 all-nodes, ff02::1 (33:33:00:00:00:01): router advertisements.
    AllNodes,
    /// An IPv6 solicited-node group, ff02::1:ff5c:0021 (33:33:ff:5c:00:21): neighbour
    /// solicitations.
    SolicitedNode,
    /// IPv4 224.0.0.5 (01:00:5e:00:00:05): OSPF hellos.
    Ospf,
}

impl Group {
    fn dst(self) -> [u8; 6] {
        match self {
            Group::AllNodes => [0x33, 0x33, 0, 0, 0, 1],
            Group::SolicitedNode => [0x33, 0x33, 0xff, 0x5c, 0x00, 0x21],
            Group::Ospf => [0x01, 0x00, 0x5e, 0, 0, 5],
        }
    }

    /// EtherType, IP header and an 8-byte upper-layer header, up to our 8-byte marker.
    fn header(self) -> Vec<u8> {
        let upper = [0u8; 8];
        match self {
            Group::AllNodes | Group::SolicitedNode => {
                let mut h = vec![0x86, 0xdd, 0x60, 0, 0, 0];
                h.extend_from_slice(&16u16.to_be_bytes()); // payload: upper header + marker
                h.extend_from_slice(&[58, 255]); // ICMPv6, hop limit 255 (as ND sends)
                h.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
                let mut dst = [0u8; 16];
                dst[0] = 0xff;
                dst[1] = 0x02;
                match self {
                    Group::AllNodes => dst[15] = 1,
                    _ => dst[11..].copy_from_slice(&[1, 0xff, 0x5c, 0x00, 0x21]),
                }
                h.extend_from_slice(&dst);
                h.extend_from_slice(&upper);
                h
            }
            Group::Ospf => {
                let mut ip = vec![0x45, 0, 0, 36, 0, 0, 0, 0, 1, 89, 0, 0, 10, 0, 0, 1, 224, 0, 0, 5];
                let sum = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
                let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
                ip[10..12].copy_from_slice(&sum.to_be_bytes());
                let mut h = vec![0x08, 0x00];
                h.extend_from_slice(&ip);
                h.extend_from_slice(&upper);
                h
            }
        }
    }
}

const ETHERTYPE: u16 = 0x88b5;
const MAGIC: &[u8; 4] = b"SWBQ";

fn mac_of(lab: &Lab, site: &str) -> Mac {
    lab.topo.interface(site).unwrap().macs[0]
}

fn frame(id: u32, src: Mac, dst: Option<Mac>, tags: &[Tag]) -> Vec<u8> {
    frame_of(id, src, dst.map_or([0xff; 6], |m| m.octets()), tags, &ETHERTYPE.to_be_bytes())
}

/// A frame to `dst` with `tags`, then `header` (an EtherType, or a length and LLC) and our
/// marker with `id`.
fn frame_of(id: u32, src: Mac, dst: [u8; 6], tags: &[Tag], header: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src.octets());
    for (tpid, vid, pcp) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&((u16::from(*pcp) << 13) | vid).to_be_bytes());
    }
    f.extend_from_slice(header);
    f.extend_from_slice(MAGIC);
    f.extend_from_slice(&id.to_be_bytes());
    f.resize(f.len().max(60), 0);
    f
}

/// (id, tags) of one of our frames.
fn parse(f: &[u8]) -> Option<(u32, Vec<Tag>)> {
    let mut at = 12;
    let mut tags = Vec::new();
    loop {
        let word = |i: usize| f.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        match word(at)? {
            tpid @ (Q | S) => {
                let tci = word(at + 2)?;
                tags.push((tpid, tci & 0x0fff, (tci >> 13) as u8));
                at += 4;
            }
            _ => break,
        }
    }
    // Our marker after the EtherType, after an L2CP frame's header, or after an IPv6 or IPv4
    // header and an upper-layer header.
    let at = [2, 3, 5, 2 + 40 + 8, 2 + 20 + 8]
        .into_iter()
        .map(|skip| at + skip)
        .find(|m| f.get(*m..*m + 4) == Some(MAGIC.as_slice()))?;
    Some((u32::from_be_bytes(f.get(at + 4..at + 8)?.try_into().ok()?), tags))
}

/// A frame one of the extra taps saw: (check index, tap label, tags).
pub(super) type Tapped = (usize, String, Vec<Tag>);

/// Sends every check's frame (one batch) and returns what went wrong, one line per check,
/// and what the extra `taps` saw of each check: (check index, tap label, tags).
pub(super) fn run(lab: &Lab, checks: &[Check], taps: &[probe::Tap]) -> (Vec<String>, Vec<Tapped>) {
    let mut all_taps: Vec<probe::Tap> = lab
        .topo
        .interfaces
        .iter()
        .map(|i| probe::Tap {
            label: i.name.clone(),
            netns: lab::site_namespace(&lab.topo, &i.name),
            ifname: lab::SITE_IFNAME.into(),
        })
        .collect();
    all_taps.extend(taps.iter().cloned());
    let sends: Vec<(String, Vec<u8>)> = checks
        .iter()
        .enumerate()
        .map(|(id, k)| {
            let src = mac_of(lab, k.from);
            let frame = match (k.l2cp, k.group) {
                (Some(p), _) => frame_of(id as u32, src, p.dst(), &k.tags, &p.header()),
                (None, Some(g)) => frame_of(id as u32, src, g.dst(), &k.tags, &g.header()),
                (None, None) => frame(id as u32, src, k.to.map(|t| mac_of(lab, t)), &k.tags),
            };
            (k.from.to_string(), frame)
        })
        .collect();
    let got = probe::capture(&lab.topo, &all_taps, &sends).unwrap();
    let seen: Vec<Tapped> =
        got.iter().filter_map(|(at, f)| parse(f).map(|(id, tags)| (id as usize, at.clone(), tags))).collect();
    let mut failures = Vec::new();
    for (id, k) in checks.iter().enumerate() {
        let received: BTreeSet<(String, Vec<Tag>)> = seen
            .iter()
            .filter(|(i, at, _)| *i == id && lab.topo.interface(at).is_some())
            .map(|(_, at, tags)| (at.clone(), tags.clone()))
            .collect();
        let want: BTreeSet<(String, Vec<Tag>)> = k.want.iter().map(|(s, t)| (s.to_string(), t.clone())).collect();
        if received != want {
            failures.push(format!(
                "{} -> {} {:x?}: got {received:x?}, want {want:x?}",
                k.from,
                k.to.unwrap_or("broadcast"),
                k.tags
            ));
        }
    }
    let tapped = seen.into_iter().filter(|(_, at, _)| lab.topo.interface(at).is_none()).collect();
    (failures, tapped)
}

fn qinq_lab() -> Lab {
    let lab = Lab::up(TOPOLOGY);
    lab.apply(CHANNELS).unwrap();
    lab
}

/// An EPL and an EP-LAN carry a port member's frames as they were sent: untagged stays
/// untagged; C-tags with VIDs 1, 100 and 4094 and any priority, priority-tagged frames
/// (VID 0) and double-tagged (C over C) frames keep every tag. On the trunk the channel's
/// VLAN is an S-tag over the customer's C-tag. At the tagged-mode member of the EP-LAN a port
/// member's frame arrives under its customer tag 700 (its own C-tag inside); what it sends
/// under 700 arrives at the port members as it was under the tag. S-tagged customer frames
/// reach no one.
#[test]
fn port_members_carry_customer_tags_unchanged() {
    let lab = qinq_lab();
    let mut checks = Vec::new();
    for tags in [vec![], vec![c(1, 5)], vec![c(100, 0)], vec![c(4094, 7)], vec![c(0, 3)], vec![c(100, 2), c(200, 1)]] {
        checks.push(check("epl-a", Some("epl-b"), &tags, &[("epl-b", &tags)]));
        checks.push(check("epl-b", None, &tags, &[("epl-a", &tags)]));
        let mut under_700 = vec![c(700, 0)];
        under_700.extend(&tags);
        checks.push(check("lan-a", None, &tags, &[("lan-b", &tags), ("lan-c", &tags), ("mix-t", &under_700)]));
        checks.push(check("lan-c", Some("lan-b"), &tags, &[("lan-b", &tags)]));
        checks.push(check("lan-b", Some("mix-t"), &tags, &[("mix-t", &under_700)]));
        let mut sent = vec![c(700, 6)];
        sent.extend(&tags);
        checks.push(check("mix-t", None, &sent, &[("lan-a", &tags), ("lan-b", &tags), ("lan-c", &tags)]));
    }
    // S-tagged customer frames, with the channel's own VLAN or another, alone or over a C-tag.
    let (specs, _) = switchboard::orchestrator::parse_channels(CHANNELS);
    let epl_vlan = switchboard::orchestrator::plan(&lab.topo, &specs).unwrap().channels()["epl"].vlan;
    for tags in [vec![(S, epl_vlan, 0)], vec![(S, epl_vlan, 0), c(5, 0)], vec![(S, 150, 0)]] {
        checks.push(check("epl-a", Some("epl-b"), &tags, &[]));
        checks.push(check("lan-a", None, &tags, &[]));
        let mut under = vec![c(700, 0)];
        under.extend(&tags);
        checks.push(check("mix-t", None, &under, &[]));
    }
    // A customer tag with no channel on a tagged-mode port, and untagged there: nowhere.
    checks.push(check("mix-t", None, &[c(701, 0)], &[]));
    checks.push(check("mix-t", None, &[], &[]));
    let taps = [probe::Tap { label: "sw2:t21".into(), netns: "qinq-sw2".into(), ifname: "t21".into() }];
    let (failures, tapped) = run(&lab, &checks, &taps);
    assert!(failures.is_empty(), "{} of {} checks failed:\n{}", failures.len(), checks.len(), failures.join("\n"));
    // On the trunk into sw2: epl-a's frame to epl-b with C-tag 4094 priority 7 travels as
    // S-tag (the EPL's VLAN, priority 0) over the untouched C-tag.
    let k = checks.iter().position(|k| k.from == "epl-a" && k.tags == [c(4094, 7)]).unwrap();
    let on_trunk: Vec<&Vec<Tag>> = tapped.iter().filter(|(i, _, _)| *i == k).map(|(_, _, t)| t).collect();
    assert_eq!(on_trunk, vec![&vec![(S, epl_vlan, 0), c(4094, 7)]], "{tapped:x?}");
    let k = checks.iter().position(|k| k.from == "epl-a" && k.tags.is_empty()).unwrap();
    let on_trunk: Vec<&Vec<Tag>> = tapped.iter().filter(|(i, _, _)| *i == k).map(|(_, _, t)| t).collect();
    assert_eq!(on_trunk, vec![&vec![(S, epl_vlan, 0)]], "untagged: the S-tag alone");
}

/// E-Tree leaves never reach each other, on one switch (leaf1, leaf2) or across (leaf1 and
/// leaf3, mix-t), unicast or broadcast, untagged or with their own C-tags, nor by S-tagging
/// with the root or the leaf VLAN; the root reaches every leaf and every leaf the root, with
/// the customer's tags unchanged.
#[test]
fn etree_leaves_stay_apart_for_tagged_and_untagged_frames() {
    let lab = qinq_lab();
    let (specs, _) = switchboard::orchestrator::parse_channels(CHANNELS);
    let planner = switchboard::orchestrator::plan(&lab.topo, &specs).unwrap();
    let tree = &planner.channels()["eptree"];
    let (r, l) = (tree.vlan, tree.leaf_vlan.unwrap());
    let leaves = ["leaf1", "leaf2", "leaf3"];
    let mut checks = Vec::new();
    for tags in [vec![], vec![c(42, 5)], vec![c(4094, 1), c(7, 7)]] {
        let mut under_800 = vec![c(800, 0)];
        under_800.extend(&tags);
        let all: Vec<(&'static str, &[Tag])> =
            vec![("leaf1", &tags), ("leaf2", &tags), ("leaf3", &tags), ("mix-t", &under_800)];
        checks.push(check("root", None, &tags, &all));
        for leaf in leaves {
            checks.push(check("root", Some(leaf), &tags, &[(leaf, &tags)]));
            checks.push(check(leaf, None, &tags, &[("root", &tags)]));
            checks.push(check(leaf, Some("root"), &tags, &[("root", &tags)]));
            for other in leaves.iter().chain(&["mix-t"]).filter(|o| **o != leaf) {
                checks.push(check(leaf, Some(other), &tags, &[]));
            }
        }
        checks.push(check("root", Some("mix-t"), &tags, &[("mix-t", &under_800)]));
        let mut sent = vec![c(800, 3)];
        sent.extend(&tags);
        checks.push(check("mix-t", None, &sent, &[("root", &tags)]));
        for other in leaves {
            checks.push(check("mix-t", Some(other), &sent, &[]));
        }
    }
    for vid in [r, l] {
        for leaf in leaves {
            for to in [None, Some("leaf2"), Some("leaf3")].into_iter().filter(|t| *t != Some(leaf)) {
                checks.push(check(leaf, to, &[(S, vid, 0)], &[]));
                checks.push(check(leaf, to, &[(S, vid, 0), c(42, 0)], &[]));
            }
        }
        checks.push(check("mix-t", None, &[c(800, 0), (S, vid, 0)], &[]));
    }
    let (failures, _) = run(&lab, &checks, &[]);
    assert!(failures.is_empty(), "{} of {} checks failed:\n{}", failures.len(), checks.len(), failures.join("\n"));
    // The leaf VLAN's frames reached the other leaves' ports and died on the egress drop.
    let out = sh_in("qinq-sw2", &["tc", "-s", "filter", "show", "dev", "l2", "egress"]);
    assert!(out.contains("protocol 802.1ad pref 1 matchall"), "{out}");
    assert!(!out.contains("dropped 0,"), "the egress drop dropped nothing:\n{out}");
}

/// A switch as it was before issue 18 (an 802.1Q bridge, an 802.1Q leaf drop) is drift that
/// `drift --repair` fixes, after which frames are carried as planned (also by `probe
/// --customer-vlan`, with C-tags 1 and 4094); removing every channel
/// then leaves no channel VLAN, static FDB entry, sub-interface or tc object on any switch
/// (the bridge stays 802.1ad: it is every switch's baseline).
#[test]
fn old_switches_are_drift_and_removal_leaves_nothing() {
    let lab = qinq_lab();
    let dir = std::env::temp_dir().join(format!("swb-qinq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (topo_file, chan_file) = (dir.join("qinq.yaml"), dir.join("qinq.channels.yaml"));
    std::fs::write(&topo_file, TOPOLOGY).unwrap();
    std::fs::write(&chan_file, CHANNELS).unwrap();
    let args = ["drift", "-t", topo_file.to_str().unwrap(), "-c", chan_file.to_str().unwrap()];
    let (code, out, err) = super::switchboard(&args);
    assert_eq!(code, 0, "{out}{err}");

    sh_in("qinq-sw2", &["ip", "link", "set", "dev", "br0", "type", "bridge", "vlan_protocol", "802.1Q"]);
    sh_in("qinq-sw2", &["tc", "filter", "del", "dev", "l1", "egress", "pref", "1"]);
    let old =
        ["tc", "filter", "add", "dev", "l1", "egress", "protocol", "802.1Q", "pref", "1", "matchall", "action", "drop"];
    sh_in("qinq-sw2", &old);
    let (code, out, _) = super::switchboard(&args);
    assert_eq!(code, 1, "{out}");
    for want in [
        "missing, would run:    ip -n qinq-sw2 link set dev br0 type bridge vlan_protocol 802.1ad",
        "unexpected, would run: tc -n qinq-sw2 filter del dev l1 egress protocol 802.1Q pref 1 matchall",
        "missing, would run:    tc -n qinq-sw2 filter add dev l1 egress protocol 802.1ad pref 1 matchall action drop",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let (code, out, err) = super::switchboard(&[&args[..], &["--repair"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = super::switchboard(&args);
    assert_eq!(code, 0, "{out}");
    assert!(sh_in("qinq-sw2", &["ip", "-d", "link", "show", "br0"]).contains("vlan_protocol 802.1ad"));
    let checks = [
        check("epl-a", Some("epl-b"), &[c(4094, 7)], &[("epl-b", &[c(4094, 7)])]),
        check("leaf1", None, &[c(42, 1)], &[("root", &[c(42, 1)])]),
        check("leaf1", Some("leaf2"), &[], &[]),
    ];
    let (failures, _) = run(&lab, &checks, &[]);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The product's own probe with a customer VLAN (issue 18 item 6): every member of every
    // channel gets the port members' C-tag unchanged, under its own customer tag if any.
    for vid in ["1", "4094"] {
        let probe =
            ["probe", "-t", topo_file.to_str().unwrap(), "-c", chan_file.to_str().unwrap(), "--customer-vlan", vid];
        let (code, out, err) = super::switchboard(&probe);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("customer VLAN {vid}:")) && out.contains(" 0 leak(s), 0 loss(es)"), "{out}");
    }

    lab.apply("[]").unwrap();
    for sw in ["qinq-sw1", "qinq-sw2", "qinq-sw3"] {
        let vlans = sh_in(sw, &["bridge", "vlan", "show"]);
        assert!(
            !vlans.split_whitespace().any(|w| w.parse::<u16>().is_ok_and(|v| (100..=199).contains(&v))),
            "{sw} still has a channel VLAN:\n{vlans}"
        );
        let fdb = sh_in(sw, &["bridge", "fdb", "show", "br", "br0"]);
        assert!(!fdb.lines().any(|l| l.contains("static")), "{sw} still has a static FDB entry:\n{fdb}");
        let qdiscs = sh_in(sw, &["tc", "qdisc", "show"]);
        assert!(!qdiscs.contains("clsact"), "{sw} still has a clsact qdisc (and so its filters):\n{qdiscs}");
        let links = sh_in(sw, &["ip", "-br", "link", "show"]);
        assert!(!links.contains("mt."), "{sw} still has a sub-interface:\n{links}");
        assert!(sh_in(sw, &["ip", "-d", "link", "show", "br0"]).contains("vlan_protocol 802.1ad"));
    }
    let (failures, _) = run(&lab, &checks[..1], &[]);
    assert_eq!(failures.len(), 1, "the EPL carries nothing once removed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `probe --load-mbps` (issue 18 item 6): broadcast frames from one member at a given rate
/// reach the channel's other members at that rate (under the channel's 10 Mbps policer, with
/// the customer's C-tag), and nobody else; from an E-Tree leaf, only the root.
#[test]
fn probe_load_reports_the_delivered_rate_per_receiver() {
    let _lab = qinq_lab();
    let dir = std::env::temp_dir().join(format!("swb-qinq-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (topo_file, chan_file) = (dir.join("qinq.yaml"), dir.join("qinq.channels.yaml"));
    std::fs::write(&topo_file, TOPOLOGY).unwrap();
    std::fs::write(&chan_file, CHANNELS).unwrap();
    let files = ["probe", "-t", topo_file.to_str().unwrap(), "-c", chan_file.to_str().unwrap(), "--json"];
    let load = |from: &str| {
        let args =
            [&files[..], &["--load-mbps", "4", "--seconds", "2", "--from", from, "--customer-vlan", "100"]].concat();
        let (code, out, err) = super::switchboard(&args);
        let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        (code, report)
    };
    let (code, report) = load("lan-a");
    assert_eq!(code, 0, "{report:#}");
    let offered = report["offered_mbps"].as_f64().unwrap();
    assert!((3.0..=4.4).contains(&offered), "the lab offered {offered} Mbps of 4: {report:#}");
    for r in report["receivers"].as_array().unwrap() {
        let (site, mbps) = (r["site"].as_str().unwrap(), r["delivered_mbps"].as_f64().unwrap());
        if ["lan-b", "lan-c", "mix-t"].contains(&site) {
            assert!(r["expected"].as_bool().unwrap());
            // mix-t's frames carry its customer tag too: 4 bytes in 1,004.
            assert!((offered * 0.9..=offered * 1.1).contains(&mbps), "{site} got {mbps} Mbps of {offered}: {report:#}");
        } else {
            assert_eq!(r["frames"], 0, "{site} got the load: {report:#}");
        }
    }
    let (code, report) = load("leaf1");
    assert_eq!(code, 0, "{report:#}");
    for r in report["receivers"].as_array().unwrap() {
        let site = r["site"].as_str().unwrap();
        assert_eq!(r["frames"].as_u64().unwrap() > 0, site == "root", "{site}: {report:#}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// L2CP (issue 18 item 5, MEF 45): customer STP BPDUs, LLDP and LACP frames are discarded by
/// every service type (EPL, EP-LAN, EP-Tree from port-mode members; EVP-LAN and EVP-Tree
/// under a tagged-mode member's customer tag), untagged or C-tagged; the same members'
/// broadcasts get through, so what is discarded is the protocol, not the member. The discard
/// is the L2CP filter on each member's ingress (ports flood multicast, and with its STP off
/// the bridge forwards a BPDU like multicast): deleted by hand, a BPDU crosses the EPL; that
/// is drift, and `drift --repair` puts the filter back.
#[test]
fn l2cp_frames_are_discarded_by_every_service() {
    let lab = qinq_lab();
    let mut checks = Vec::new();
    let senders: [(&'static str, Vec<Tag>); 6] = [
        ("epl-a", vec![]),
        ("lan-a", vec![]),
        ("root", vec![]),
        ("leaf3", vec![]),
        ("mix-t", vec![c(700, 0)]),
        ("mix-t", vec![c(800, 0)]),
    ];
    for (from, under) in &senders {
        for inner in [vec![], vec![c(100, 7)]] {
            let tags: Vec<Tag> = under.iter().chain(&inner).copied().collect();
            for p in [L2cp::Stp, L2cp::Lldp, L2cp::Lacp] {
                checks.push(Check { from, to: None, tags: tags.clone(), want: Vec::new(), l2cp: Some(p), group: None });
            }
        }
    }
    // The controls: a broadcast from each sender reaches its channel.
    checks.push(check("epl-a", None, &[], &[("epl-b", &[])]));
    checks.push(check("lan-a", None, &[], &[("lan-b", &[]), ("lan-c", &[]), ("mix-t", &[c(700, 0)])]));
    checks.push(check("leaf3", None, &[], &[("root", &[])]));
    checks.push(check("mix-t", None, &[c(800, 0)], &[("root", &[])]));
    // The switch side of epl-a's port sees every L2CP frame epl-a sent, as sent: they were
    // on the wire and read as ours, and the bridge is what discarded them.
    let taps = [probe::Tap { label: "sw1:ea".into(), netns: "qinq-sw1".into(), ifname: "ea".into() }];
    let (failures, tapped) = run(&lab, &checks, &taps);
    assert!(failures.is_empty(), "{} of {} checks failed:\n{}", failures.len(), checks.len(), failures.join("\n"));
    for (k, check) in checks.iter().enumerate().filter(|(_, k)| k.from == "epl-a" && k.l2cp.is_some()) {
        let seen: Vec<&Vec<Tag>> = tapped.iter().filter(|(i, _, _)| *i == k).map(|(_, _, t)| t).collect();
        assert_eq!(seen, vec![&check.tags], "{:?} with {:x?} not seen on ea", check.l2cp, check.tags);
    }
    // The filter counted what it dropped.
    let out = sh_in("qinq-sw1", &["tc", "-s", "filter", "show", "dev", "ea", "ingress", "pref", "3"]);
    assert!(out.contains("dst_mac 01:80:c2:00:00:00/44"), "the block, a 44-bit prefix:\n{out}");
    assert!(out.contains("gact action drop") && !out.contains("dropped 0,"), "the discard dropped nothing:\n{out}");

    // Negative control: without the filter, epl-a's BPDU (untagged and C-tagged) crosses the
    // EPL; LLDP and LACP still do not (the bridge never forwards those).
    sh_in("qinq-sw1", &["tc", "filter", "del", "dev", "ea", "ingress", "pref", "3"]);
    let bpdu = |tags: &[Tag], p: L2cp, want: &[(&'static str, &[Tag])]| {
        let want = want.iter().map(|(s, t)| (*s, t.to_vec())).collect();
        Check { from: "epl-a", to: None, tags: tags.to_vec(), want, l2cp: Some(p), group: None }
    };
    let unguarded = [
        bpdu(&[], L2cp::Stp, &[("epl-b", &[])]),
        bpdu(&[c(100, 7)], L2cp::Stp, &[("epl-b", &[c(100, 7)])]),
        bpdu(&[], L2cp::Lldp, &[]),
        bpdu(&[], L2cp::Lacp, &[]),
    ];
    let (failures, _) = run(&lab, &unguarded, &[]);
    assert!(failures.is_empty(), "without the filter:\n{}", failures.join("\n"));
    // That is drift, which the repair puts back; then the BPDU is discarded again.
    let dir = std::env::temp_dir().join(format!("swb-qinq-l2cp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (topo_file, chan_file) = (dir.join("qinq.yaml"), dir.join("qinq.channels.yaml"));
    std::fs::write(&topo_file, TOPOLOGY).unwrap();
    std::fs::write(&chan_file, CHANNELS).unwrap();
    let args = ["drift", "-t", topo_file.to_str().unwrap(), "-c", chan_file.to_str().unwrap()];
    let (code, out, _) = super::switchboard(&args);
    assert_eq!(code, 1, "{out}");
    let want = "missing, would run:    tc -n qinq-sw1 filter add dev ea ingress protocol all pref 3 handle 1 flower \
                dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop";
    assert!(out.contains(want), "missing {want:?} in:\n{out}");
    let (code, out, err) = super::switchboard(&[&args[..], &["--repair"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = super::switchboard(&args);
    assert_eq!(code, 0, "{out}");
    let (failures, _) = run(&lab, &[bpdu(&[], L2cp::Stp, &[]), bpdu(&[c(100, 7)], L2cp::Stp, &[])], &[]);
    assert!(failures.is_empty(), "after the repair:\n{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Customer multicast crosses a channel as broadcast does (the bug: every port had
/// `mcast_flood off`, so IPv6 did not work across any channel): IPv6 all-nodes and
/// solicited-node frames (neighbour discovery), an IPv4 224.0.0.5 frame (OSPF hellos) and an
/// MVRP frame (01:80:c2:00:00:21, outside the reserved block), untagged and C-tagged, from a
/// member of every service type reach exactly the channel's other members, each with its own
/// customer tag and the sender's C-tag unchanged: an E-Tree leaf's reach the root only (never
/// a leaf, on its switch or across), the root's every leaf; nothing reaches another channel.
#[test]
fn multicast_reaches_exactly_the_channels_other_members() {
    let lab = qinq_lab();
    let mut checks = Vec::new();
    for inner in [vec![], vec![c(100, 7)]] {
        let under = |tag: u16| -> Vec<Tag> { [c(tag, 0)].into_iter().chain(inner.iter().copied()).collect() };
        let (u700, u800) = (under(700), under(800));
        let it: &[Tag] = &inner;
        // (sender, its tags, who gets it with which tags)
        type Sender<'a> = (&'static str, Vec<Tag>, Vec<(&'static str, &'a [Tag])>);
        let senders: Vec<Sender> = vec![
            ("epl-a", inner.clone(), vec![("epl-b", it)]),
            ("epl-b", inner.clone(), vec![("epl-a", it)]),
            ("lan-a", inner.clone(), vec![("lan-b", it), ("lan-c", it), ("mix-t", &u700)]),
            ("lan-c", inner.clone(), vec![("lan-a", it), ("lan-b", it), ("mix-t", &u700)]),
            ("mix-t", u700.clone(), vec![("lan-a", it), ("lan-b", it), ("lan-c", it)]),
            ("root", inner.clone(), vec![("leaf1", it), ("leaf2", it), ("leaf3", it), ("mix-t", &u800)]),
            ("leaf1", inner.clone(), vec![("root", it)]),
            ("leaf2", inner.clone(), vec![("root", it)]),
            ("leaf3", inner.clone(), vec![("root", it)]),
            ("mix-t", u800.clone(), vec![("root", it)]),
        ];
        for (from, tags, want) in &senders {
            for g in [Group::AllNodes, Group::SolicitedNode, Group::Ospf] {
                let mut k = check(from, None, tags, want);
                k.group = Some(g);
                checks.push(k);
            }
            let mut k = check(from, None, tags, want);
            k.l2cp = Some(L2cp::Mrp);
            checks.push(k);
        }
    }
    let (failures, _) = run(&lab, &checks, &[]);
    assert!(failures.is_empty(), "{} of {} checks failed:\n{}", failures.len(), checks.len(), failures.join("\n"));

    // Negative control: epl-b's port as every port was before (mcast_flood off) gets none of
    // epl-a's multicast, while broadcast still arrives; that is drift, which `drift --repair`
    // sets in place (the port is not taken off the bridge), and then multicast arrives.
    sh_in("qinq-sw3", &["bridge", "link", "set", "dev", "eb", "mcast_flood", "off"]);
    let to_epl_b = |want: &[(&'static str, &[Tag])]| {
        let mut k = check("epl-a", None, &[], want);
        k.group = Some(Group::SolicitedNode);
        k
    };
    let old = [to_epl_b(&[]), check("epl-a", None, &[], &[("epl-b", &[])])];
    let (failures, _) = run(&lab, &old, &[]);
    assert!(failures.is_empty(), "with mcast_flood off:\n{}", failures.join("\n"));
    let dir = std::env::temp_dir().join(format!("swb-qinq-mcast-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (topo_file, chan_file) = (dir.join("qinq.yaml"), dir.join("qinq.channels.yaml"));
    std::fs::write(&topo_file, TOPOLOGY).unwrap();
    std::fs::write(&chan_file, CHANNELS).unwrap();
    let args = ["drift", "-t", topo_file.to_str().unwrap(), "-c", chan_file.to_str().unwrap()];
    let (code, out, _) = super::switchboard(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("bridge -n qinq-sw3 link set dev eb learning off flood off mcast_flood on"), "{out}");
    assert!(!out.contains("nomaster"), "the port is not taken off the bridge:\n{out}");
    let (code, out, err) = super::switchboard(&[&args[..], &["--repair"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = super::switchboard(&args);
    assert_eq!(code, 0, "{out}");
    let (failures, _) = run(&lab, &[to_epl_b(&[("epl-b", &[])])], &[]);
    assert!(failures.is_empty(), "after the repair:\n{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// One customer's IGMP querier does not change another channel's multicast: the bridges'
/// multicast snooping is off (with it on, as the kernel has it by default, the snooping state
/// is the whole bridge's, so a query in the EP-LAN makes sw1 send the EPL's 239.1.1.1 only
/// toward the querier's port, and epl-b gets nothing). Negative control: snooping turned back
/// on by hand on sw1 does exactly that; it is drift, and `drift --repair` turns it off again.
#[test]
fn a_customers_querier_leaves_other_channels_multicast_alone() {
    let lab = qinq_lab();
    let ip4 = |proto: u8, dst: [u8; 4], payload: &[u8]| -> Vec<u8> {
        let tot = 20 + payload.len() as u16;
        let mut ip = vec![0x45, 0, (tot >> 8) as u8, tot as u8, 0, 0, 0, 0, 1, proto, 0, 0, 10, 0, 0, 9];
        ip.extend_from_slice(&dst);
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(payload);
        ip
    };
    // An IGMPv2 general query (maximum response time 0.1 s, so the bridge counts the querier
    // at once) from lan-a, in the EP-LAN.
    let mut igmp = vec![0x11, 1, 0, 0, 0, 0, 0, 0];
    let sum = checksum(&igmp);
    igmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut query = vec![0x01, 0x00, 0x5e, 0, 0, 1];
    query.extend_from_slice(&mac_of(&lab, "lan-a").octets());
    query.extend_from_slice(&[0x08, 0x00]);
    query.extend_from_slice(&ip4(2, [224, 0, 0, 1], &igmp));
    query.resize(60, 0);
    // A 239.1.1.1 packet from epl-a, in the EPL, with our marker.
    let mut group = vec![0x01, 0x00, 0x5e, 1, 1, 1];
    group.extend_from_slice(&mac_of(&lab, "epl-a").octets());
    group.extend_from_slice(&[0x08, 0x00]);
    let mut payload = vec![0u8; 8];
    payload.extend_from_slice(MAGIC);
    payload.extend_from_slice(&7u32.to_be_bytes());
    group.extend_from_slice(&ip4(17, [239, 1, 1, 1], &payload));
    let taps = [probe::Tap {
        label: "epl-b".into(),
        netns: lab::site_namespace(&lab.topo, "epl-b"),
        ifname: lab::SITE_IFNAME.into(),
    }];
    let epl_b_gets_it = || {
        let _ = probe::capture(&lab.topo, &taps, &[("lan-a".to_string(), query.clone())]).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(1));
        let got = probe::capture(&lab.topo, &taps, &[("epl-a".to_string(), group.clone())]).unwrap();
        got.iter().filter(|(_, f)| f.windows(4).any(|w| w == MAGIC)).count()
    };
    assert_eq!(epl_b_gets_it(), 1, "after a query in the EP-LAN, the EPL's multicast still arrives");
    sh_in("qinq-sw1", &["ip", "link", "set", "dev", "br0", "type", "bridge", "mcast_snooping", "1"]);
    assert_eq!(epl_b_gets_it(), 0, "negative control: with snooping on, another channel's querier cuts it");
    let dir = std::env::temp_dir().join(format!("swb-qinq-snoop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (topo_file, chan_file) = (dir.join("qinq.yaml"), dir.join("qinq.channels.yaml"));
    std::fs::write(&topo_file, TOPOLOGY).unwrap();
    std::fs::write(&chan_file, CHANNELS).unwrap();
    let args = ["drift", "-t", topo_file.to_str().unwrap(), "-c", chan_file.to_str().unwrap()];
    let (code, out, _) = super::switchboard(&args);
    assert_eq!(code, 1, "{out}");
    let want = "ip -n qinq-sw1 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0";
    assert!(out.contains(want), "missing {want:?} in:\n{out}");
    assert!(!out.contains("vlan_protocol 802.1Q"), "the bridge is not made 802.1Q:\n{out}");
    let (code, out, err) = super::switchboard(&[&args[..], &["--repair"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(sh_in("qinq-sw1", &["ip", "-d", "link", "show", "br0"]).contains("mcast_snooping 0"));
    assert_eq!(epl_b_gets_it(), 1, "after the repair");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Internet checksum of `bytes` (an even number of them).
fn checksum(bytes: &[u8]) -> u16 {
    let sum = bytes.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
    !(((sum & 0xffff) + (sum >> 16)) as u16)
}
