//! The data-plane probe, pure part: which frames to send, what each should reach, how frames
//! look on the wire, and the verdict (reached / lost / leaked) from what was received.
//!
//! Expectations come from the channels' meaning, not from the computed switch state: a member
//! reaches every other member of its channel (in an E-Tree, unless both are leaves), with the
//! receiver's own customer tag, and nobody else. The I/O half is `southbound::linux::probe`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{ChannelKind, Mac, Role};
use crate::topology::Topology;

use super::PlannedChannel;

/// The EtherType of probe frames: IEEE 802 local experimental 1.
pub const ETHERTYPE: u16 = 0x88b5;
const MAGIC: &[u8; 4] = b"SWBP";

/// One frame to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub id: u32,
    /// Sending interface (site).
    pub from: String,
    /// The channel the frame is sent in, if any (tagged-mode senders use its customer tag).
    pub channel: Option<String>,
    /// 802.1Q tags the sender puts on the frame, outermost first.
    pub tags: Vec<u16>,
    pub src: Mac,
    /// `None` = broadcast.
    pub dst: Option<Mac>,
    /// Intended receiver for unicast probes.
    pub to: Option<String>,
}

/// A probe frame seen at a site: its id and the tags it carried there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Reception {
    pub probe: u32,
    pub at: String,
    pub tags: Vec<u16>,
}

/// The probes for a channel set: from every member, in each channel it belongs to (with its
/// customer tag there), to every other site's MACs and to broadcast; and from every site,
/// untagged, to broadcast and to every other site (which must reach no one outside channels).
/// With `expect_none`, the same frames are sent but nothing may arrive anywhere.
pub fn probes(topo: &Topology, channels: &BTreeMap<compact_str::CompactString, PlannedChannel>) -> Vec<Probe> {
    probes_with(topo, channels, None)
}

/// [`probes`], with the channels' frames carrying the customer's own 802.1Q tag
/// `customer_vlan` (issue 18: a port member's C-tag must arrive unchanged): port members
/// send it as their frames' tag, tagged-mode members under their customer tag.
pub fn probes_with(
    topo: &Topology,
    channels: &BTreeMap<compact_str::CompactString, PlannedChannel>,
    customer_vlan: Option<u16>,
) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut push = |from: &str, channel: Option<&str>, tags: Vec<u16>, src: Mac| {
        for other in &topo.interfaces {
            if other.name == from {
                continue;
            }
            for mac in &other.macs {
                let id = out.len() as u32;
                out.push(Probe {
                    id,
                    from: from.into(),
                    channel: channel.map(str::to_string),
                    tags: tags.clone(),
                    src,
                    dst: Some(*mac),
                    to: Some(other.name.clone()),
                });
            }
        }
        let id = out.len() as u32;
        out.push(Probe { id, from: from.into(), channel: channel.map(str::to_string), tags, src, dst: None, to: None });
    };
    for ch in channels.values() {
        for m in &ch.members {
            let Some(iface) = topo.interface(&m.interface) else { continue };
            let Some(src) = iface.macs.first() else { continue };
            push(&m.interface, Some(&ch.name), m.customer_vlan.into_iter().chain(customer_vlan).collect(), *src);
        }
    }
    // Port-mode members already sent untagged in their channel.
    let untagged_members: BTreeSet<&str> = channels
        .values()
        .flat_map(|c| c.members.iter().filter(|m| m.customer_vlan.is_none()).map(|m| m.interface.as_str()))
        .collect();
    for iface in &topo.interfaces {
        if untagged_members.contains(iface.name.as_str()) {
            continue;
        }
        if let Some(src) = iface.macs.first() {
            push(&iface.name, None, Vec::new(), *src);
        }
    }
    out
}

/// What a probe carries under its sender's customer tag in its channel: the tags every
/// receiver must see under its own.
fn payload<'p>(channels: &BTreeMap<compact_str::CompactString, PlannedChannel>, probe: &'p Probe) -> &'p [u16] {
    let tagged_sender = probe
        .channel
        .as_ref()
        .and_then(|c| channels.get(c.as_str()))
        .and_then(|ch| ch.members.iter().find(|m| m.interface == probe.from))
        .is_some_and(|m| m.customer_vlan.is_some());
    if tagged_sender { probe.tags.get(1..).unwrap_or_default() } else { &probe.tags }
}

/// The tags a member should see of a probe: its own customer tag, then the probe's payload.
fn seen_by(member: &super::planner::PlannedMember, payload: &[u16]) -> Vec<u16> {
    member.customer_vlan.into_iter().chain(payload.iter().copied()).collect()
}

/// Who should receive `probe`, with the tags they should see: the receiver's own customer
/// tag, then whatever the sender put under its own (a port member's C-tag included).
pub fn expected(
    topo: &Topology,
    channels: &BTreeMap<compact_str::CompactString, PlannedChannel>,
    probe: &Probe,
) -> BTreeSet<(String, Vec<u16>)> {
    let mut out = BTreeSet::new();
    let Some(ch) = probe.channel.as_ref().and_then(|c| channels.get(c.as_str())) else { return out };
    let Some(me) = ch.members.iter().find(|m| m.interface == probe.from) else { return out };
    let payload = payload(channels, probe);
    for m in &ch.members {
        if m.interface == probe.from {
            continue;
        }
        if ch.kind == ChannelKind::P2mp && me.role == Role::Leaf && m.role == Role::Leaf {
            continue;
        }
        let addressed = match probe.dst {
            None => true,
            Some(mac) => topo.interface(&m.interface).is_some_and(|i| i.macs.contains(&mac)),
        };
        if addressed {
            out.insert((m.interface.to_string(), seen_by(m, payload)));
        }
    }
    out
}

/// The frame for a probe: Ethernet header, 802.1Q tags, our EtherType, magic, run nonce, id.
/// Padded to the 60-byte Ethernet minimum.
pub fn frame(probe: &Probe, nonce: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&probe.dst.map_or([0xff; 6], |m| m.octets()));
    f.extend_from_slice(&probe.src.octets());
    for tag in &probe.tags {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&(tag & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.extend_from_slice(MAGIC);
    f.extend_from_slice(&nonce.to_be_bytes());
    f.extend_from_slice(&probe.id.to_be_bytes());
    f.resize(f.len().max(60), 0);
    f
}

/// Parses a received frame: `(probe id, tags)` if it is one of this run's probes.
pub fn parse(frame: &[u8], nonce: u32) -> Option<(u32, Vec<u16>)> {
    let mut at = 12;
    let mut tags = Vec::new();
    loop {
        let ethertype = u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]);
        match ethertype {
            0x8100 | 0x88a8 => {
                let tci = u16::from_be_bytes([*frame.get(at + 2)?, *frame.get(at + 3)?]);
                tags.push(tci & 0x0fff);
                at += 4;
            }
            ETHERTYPE => break,
            _ => return None,
        }
        if tags.len() > 8 {
            return None;
        }
    }
    let body = frame.get(at + 2..at + 14)?;
    if body.get(..4)? != MAGIC || u32::from_be_bytes(body.get(4..8)?.try_into().ok()?) != nonce {
        return None;
    }
    Some((u32::from_be_bytes(body.get(8..12)?.try_into().ok()?), tags))
}

/// One cell of a channel's matrix: from one member to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub from: String,
    pub to: String,
    pub expected: bool,
    /// Unicast to every MAC of `to` arrived (with the right tags).
    pub unicast: bool,
    /// Broadcast arrived.
    pub broadcast: bool,
}

impl Cell {
    pub fn verdict(&self) -> &'static str {
        match (self.expected, self.unicast, self.broadcast) {
            (true, true, true) => "ok",
            (true, _, _) => "LOSS",
            (false, false, false) => "-",
            (false, _, _) => "LEAK",
        }
    }
}

/// The matrix of one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelMatrix {
    pub channel: String,
    pub kind: ChannelKind,
    pub members: Vec<(String, Role)>,
    pub cells: Vec<Cell>,
}

/// A frame that arrived where it should not, or not where it should.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub kind: &'static str,
    pub probe: Probe,
    pub site: String,
    pub tags: Vec<u16>,
}

/// The outcome of a probe run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The customer's own 802.1Q tag the channels' frames carried (`--customer-vlan`), if any.
    pub customer_vlan: Option<u16>,
    pub channels: Vec<ChannelMatrix>,
    /// Every unexpected reception (leak) and every missing one (loss).
    pub anomalies: Vec<Anomaly>,
    pub probes: usize,
    pub receptions: usize,
}

impl Verdict {
    pub fn leaks(&self) -> usize {
        self.anomalies.iter().filter(|a| a.kind == "leak").count()
    }
    pub fn losses(&self) -> usize {
        self.anomalies.iter().filter(|a| a.kind == "loss").count()
    }
}

/// Judges receptions against expectations. With `expect_none`, every reception is a leak.
/// The verdict's `customer_vlan` is for the caller to fill in (the one given to
/// [`probes_with`]); the expectations read it from the probes themselves.
pub fn judge(
    topo: &Topology,
    channels: &BTreeMap<compact_str::CompactString, PlannedChannel>,
    probes: &[Probe],
    receptions: &[Reception],
    expect_none: bool,
) -> Verdict {
    let empty = BTreeMap::new();
    let expectation = if expect_none { &empty } else { channels };
    let mut got: BTreeMap<u32, BTreeSet<(String, Vec<u16>)>> = BTreeMap::new();
    for r in receptions {
        got.entry(r.probe).or_default().insert((r.at.clone(), r.tags.clone()));
    }
    let mut anomalies = Vec::new();
    for p in probes {
        let want = expected(topo, expectation, p);
        let have = got.get(&p.id).cloned().unwrap_or_default();
        for (site, tags) in have.difference(&want) {
            anomalies.push(Anomaly { kind: "leak", probe: p.clone(), site: site.clone(), tags: tags.clone() });
        }
        for (site, tags) in want.difference(&have) {
            anomalies.push(Anomaly { kind: "loss", probe: p.clone(), site: site.clone(), tags: tags.clone() });
        }
    }
    let mut matrices = Vec::new();
    for ch in channels.values() {
        let mut cells = Vec::new();
        for a in &ch.members {
            for b in &ch.members {
                if a.interface == b.interface {
                    continue;
                }
                let in_channel = |p: &&Probe| p.from == a.interface && p.channel.as_deref() == Some(ch.name.as_str());
                let arrived = |p: &Probe| {
                    let want_tags = seen_by(b, payload(channels, p));
                    got.get(&p.id).is_some_and(|s| s.contains(&(b.interface.to_string(), want_tags)))
                };
                let unicasts: Vec<&Probe> = probes
                    .iter()
                    .filter(in_channel)
                    .filter(|p| p.to.as_deref() == Some(b.interface.as_str()))
                    .collect();
                let unicast = !unicasts.is_empty() && unicasts.iter().all(|p| arrived(p));
                let broadcast = probes.iter().filter(in_channel).filter(|p| p.dst.is_none()).any(arrived);
                let expected =
                    !expect_none && (ch.kind != ChannelKind::P2mp || a.role == Role::Root || b.role == Role::Root);
                cells.push(Cell {
                    from: a.interface.to_string(),
                    to: b.interface.to_string(),
                    expected,
                    unicast,
                    broadcast,
                });
            }
        }
        matrices.push(ChannelMatrix {
            channel: ch.name.to_string(),
            kind: ch.kind,
            members: ch.members.iter().map(|m| (m.interface.to_string(), m.role)).collect(),
            cells,
        });
    }
    Verdict { customer_vlan: None, channels: matrices, anomalies, probes: probes.len(), receptions: receptions.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a customer VLAN, port members send it as their frames' C-tag and tagged-mode
    /// members under their customer tag; every receiver must see it under its own tag.
    #[test]
    fn a_customer_vlan_travels_under_every_members_own_tag() {
        let topo = crate::topology::parse(
            "
name: t
switches: {a: {}}
interfaces:
  p: {organization: o, switch: a, port: pp, capacity: 100, macs: ['02:00:00:00:00:01']}
  q: {organization: o, switch: a, port: pq, capacity: 100, macs: ['02:00:00:00:00:02']}
  t: {organization: o, switch: a, port: pt, mode: tagged, capacity: 100, macs: ['02:00:00:00:00:03']}
",
        )
        .unwrap();
        let (specs, _) = crate::orchestrator::parse_channels(
            "- {name: c, kind: mp2mp, members: [p, q, {interface: t, customer_vlan: 700}]}",
        );
        let planner = crate::orchestrator::plan(&topo, &specs).unwrap();
        let probes = probes_with(&topo, planner.channels(), Some(4094));
        let from =
            |site: &str| probes.iter().find(|p| p.from == site && p.dst.is_none() && p.channel.is_some()).unwrap();
        assert_eq!(from("p").tags, vec![4094]);
        assert_eq!(from("t").tags, vec![700, 4094]);
        let want = |site: &str| expected(&topo, planner.channels(), from(site));
        assert_eq!(want("p"), [("q".to_string(), vec![4094]), ("t".to_string(), vec![700, 4094])].into());
        assert_eq!(want("t"), [("p".to_string(), vec![4094]), ("q".to_string(), vec![4094])].into());
        // Judged: every expected frame arrived, so no anomaly, and the verdict names the tag.
        let receptions: Vec<Reception> = probes
            .iter()
            .flat_map(|p| {
                expected(&topo, planner.channels(), p).into_iter().map(|(at, tags)| Reception { probe: p.id, at, tags })
            })
            .collect();
        let v = judge(&topo, planner.channels(), &probes, &receptions, false);
        assert!(v.anomalies.is_empty(), "{:?}", v.anomalies);
        assert!(v.channels[0].cells.iter().all(|c| c.unicast && c.broadcast));
        // Had the C-tag been lost on the way (what an 802.1Q bridge does), it is a loss.
        let stripped: Vec<Reception> = receptions
            .iter()
            .map(|r| Reception { tags: r.tags.iter().copied().filter(|t| *t != 4094).collect(), ..r.clone() })
            .collect();
        assert!(judge(&topo, planner.channels(), &probes, &stripped, false).losses() > 0);
    }

    #[test]
    fn frames_round_trip_with_tags() {
        let p = Probe {
            id: 77,
            from: "a".into(),
            channel: None,
            tags: vec![500, 12],
            src: "02:00:00:00:00:01".parse().unwrap(),
            dst: None,
            to: None,
        };
        let f = frame(&p, 9);
        assert_eq!(f.len(), 60);
        assert_eq!(parse(&f, 9), Some((77, vec![500, 12])));
        assert_eq!(parse(&f, 10), None, "another run's frame is ignored");
        assert_eq!(parse(&f[..20], 9), None, "a truncated frame is ignored");
        assert_eq!(parse(&[0u8; 3], 9), None);
    }
}
