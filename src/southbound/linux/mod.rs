//! The `linux` driver: a Linux VLAN-filtering bridge driven over route netlink (rtnetlink /
//! netlink-packet-route), on the host or inside a named network namespace. No `ip`,
//! `bridge` or `tc` programs are run.
//!
//! [`msgs::batch`] turns a change list into netlink messages (a pure function, tested
//! without root); [`LinuxSwitch`] sends them as one batch, many to a sendmsg and one
//! acknowledgement per sendmsg whatever their kind, and reads the bridge back into the
//! planner's [`Item`] model with one dump per kind.

mod conn;
pub mod kept;
mod l2cp;
pub mod lab;
pub mod msgs;
pub mod netns;
mod pcp;
pub mod probe;
mod tc;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rtnetlink::packet_route::link::{
    AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridge, InfoBridgePort, InfoData, InfoKind, InfoPortData,
    InfoVlan, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage, VlanProtocol,
};
use rtnetlink::packet_route::neighbour::{NeighbourAttribute, NeighbourMessage, NeighbourState};
use rtnetlink::packet_route::tc::{TcAttribute, TcMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

pub use conn::{Conn, NlError, chunks};
pub use msgs::{Batch, Ctx, messages};

use crate::orchestrator::{Change, Direction, Item, Op};

use super::dry_run::command_lines;
use super::{ApplyError, Driver, DriverError};
use msgs::our_drop;

/// One switch: a bridge in a namespace.
pub struct LinuxSwitch {
    name: String,
    netns: Option<String>,
    bridge: String,
    conn: kept::Kept,
    /// Interface name -> ifindex, from the last read of the links and kept up to date by
    /// successful applies (which choose the indices of the sub-interfaces they create).
    index: HashMap<String, u32>,
    /// Whether `index` is known to match the kernel (false after a failed apply).
    index_fresh: bool,
    /// Fault injection for tests: the change with this index (counted over the driver's
    /// life) is sent with an ifindex that does not exist, so the kernel really refuses it.
    pub fail_at: Option<usize>,
    sent: usize,
}

impl LinuxSwitch {
    /// The switch whose bridge `bridge` is in namespace `netns`, over this process's kept
    /// netlink socket there ([`kept`]). Nothing is asked of the kernel yet: the first read
    /// or apply dumps the links (and says when the bridge is missing), so a transaction's
    /// connect and read cost one link dump, not two; [`LinuxSwitch::check`] asks at once.
    pub fn connect(name: &str, netns: Option<&str>, bridge: &str) -> Result<LinuxSwitch, DriverError> {
        let conn = kept::Kept::take(netns).map_err(|e| DriverError { switch: name.into(), message: e.to_string() })?;
        Ok(LinuxSwitch {
            name: name.into(),
            netns: netns.map(str::to_string),
            bridge: bridge.into(),
            conn,
            index: HashMap::new(),
            index_fresh: false,
            fail_at: None,
            sent: 0,
        })
    }

    /// Whether the switch has its bridge: one dump of its links (a connect makes none; the
    /// first read or apply finds a missing bridge the same way).
    pub fn check(&mut self) -> Result<(), DriverError> {
        self.refresh_index().map(drop)
    }

    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    fn err(&self, message: String) -> DriverError {
        DriverError { switch: self.name.clone(), message }
    }

    fn no_bridge(&self) -> DriverError {
        self.err(format!("no bridge `{}` here (is the lab up? `switchboard lab up TOPOLOGY`)", self.bridge))
    }

    fn links(&mut self) -> Result<Vec<LinkMessage>, DriverError> {
        let msgs = self
            .conn
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .map_err(|e| self.err(format!("dump links: {e}")))?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .collect())
    }

    fn refresh_index(&mut self) -> Result<Vec<LinkMessage>, DriverError> {
        // Statistics are the bulk of a link message and read_state needs none of them.
        let mut req = LinkMessage::default();
        req.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        let links: Vec<LinkMessage> = self
            .conn
            .dump(RouteNetlinkMessage::GetLink(req))
            .map_err(|e| self.err(format!("dump links: {e}")))?
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .collect();
        self.index = links.iter().filter_map(|l| link_name(l).map(|n| (n.to_string(), l.header.index))).collect();
        if !self.index.contains_key(&self.bridge) {
            return Err(self.no_bridge());
        }
        self.index_fresh = true;
        Ok(links)
    }

    fn bridge_index(&self) -> Result<u32, DriverError> {
        self.index.get(&self.bridge).copied().ok_or_else(|| self.err(format!("bridge `{}` disappeared", self.bridge)))
    }

    fn apply_error(&self, done: usize, change: &Change, message: String) -> ApplyError {
        ApplyError {
            switch: self.name.clone(),
            done,
            op: command_lines(change, &self.bridge, self.netns.as_deref()).join(" && "),
            message,
        }
    }

    /// The messages of `changes` as one batch ([`msgs::batch`]), with the configured fault
    /// injected when `count` (fault injection counts changes over the driver's life).
    fn plan(&mut self, changes: &[Change], count: bool) -> Result<Batch, (usize, String)> {
        let bridge = self.bridge_index().map_err(|e| (0, e.message))?;
        let next_index = self.index.values().max().map_or(1, |m| m + 1);
        let poison_at = match (count, self.fail_at) {
            (true, Some(at)) if at >= self.sent && at - self.sent < changes.len() => {
                self.fail_at = None;
                Some(at - self.sent)
            }
            _ => None,
        };
        if count {
            self.sent += changes.len();
        }
        msgs::batch(changes, bridge, &self.index, next_index, poison_at)
    }

    /// The messages the driver would send for `changes`, as it would send them: for the
    /// apply benchmark's raw sender, which sends exactly these and nothing else. Reads the
    /// links first.
    pub fn messages_for(&mut self, changes: &[Change]) -> Result<Vec<(RouteNetlinkMessage, u16)>, String> {
        self.refresh_index().map_err(|e| e.message)?;
        self.plan(changes, false).map(|b| b.messages).map_err(|(_, e)| e)
    }

    /// Sends `changes` as one batch. On failure, returns the first failing change's index
    /// and error, and the changes after it that went through (for the caller to take back).
    fn send(&mut self, changes: &[Change], count: bool) -> Result<(), SendFailure> {
        if !self.index_fresh {
            self.refresh_index().map_err(|e| SendFailure { first: 0, message: e.message, partial: Vec::new() })?;
        }
        let batch = self.plan(changes, count).map_err(|(first, message)| SendFailure {
            first,
            message,
            partial: Vec::new(),
        })?;
        let failures = self.conn.batch(&batch.messages);
        let Some((first_msg, first_err)) = failures.first() else {
            self.index.extend(batch.created);
            for name in &batch.deleted {
                self.index.remove(name);
            }
            return Ok(());
        };
        self.index_fresh = false;
        let first = batch.change_of.get(*first_msg).copied().unwrap_or(0);
        let mut failed_msgs = vec![false; batch.messages.len()];
        for (m, _) in &failures {
            if let Some(f) = failed_msgs.get_mut(*m) {
                *f = true;
            }
        }
        // What went through after the first failure: whole changes, and a port enslaved
        // whose flags were refused. (A sub-interface's first message, parent up, makes no
        // item of ours, so a refused creation is not taken back: that would delete whatever
        // holds the name.)
        let mut partial = Vec::new();
        for (k, change) in changes.iter().enumerate().skip(first) {
            let mine: Vec<bool> =
                batch.change_of.iter().zip(&failed_msgs).filter(|(c, _)| **c == k).map(|(_, f)| *f).collect();
            let whole = mine.iter().all(|f| !f);
            let port_half_done = matches!(change.item, Item::Port { .. }) && mine.first() == Some(&false);
            if whole || port_half_done {
                partial.push(change.clone());
            }
        }
        Err(SendFailure { first, message: first_err.to_string(), partial })
    }
}

/// A batch that failed: its first failing change, and what went through after it.
struct SendFailure {
    first: usize,
    message: String,
    partial: Vec<Change>,
}

impl Driver for LinuxSwitch {
    fn switch(&self) -> &str {
        &self.name
    }

    fn inject_fault(&mut self, change_index: usize) {
        self.fail_at = Some(self.sent + change_index);
    }

    /// From the kernel's 64-bit link statistics (`ip -s link`).
    fn port_bytes(&mut self, ports: &[String]) -> Result<Option<BTreeMap<String, u64>>, DriverError> {
        let mut out = BTreeMap::new();
        let links = self.links()?;
        if !links.iter().any(|l| link_name(l) == Some(self.bridge.as_str())) {
            return Err(self.no_bridge());
        }
        for link in links {
            let Some(name) = link_name(&link).filter(|n| ports.iter().any(|p| p == n)) else { continue };
            if let Some(st) = link.attributes.iter().find_map(|a| match a {
                LinkAttribute::Stats64(st) => Some(st),
                _ => None,
            }) {
                out.insert(name.to_string(), st.rx_bytes.saturating_add(st.tx_bytes));
            }
        }
        Ok(Some(out))
    }

    fn read_state(&mut self) -> Result<BTreeSet<Item>, DriverError> {
        let links = self.refresh_index()?;
        let br = self.bridge_index()?;
        let names: HashMap<u32, String> = self.index.iter().map(|(n, i)| (*i, n.clone())).collect();
        let mut items = BTreeSet::new();
        if let Some(l) = links.iter().find(|l| l.header.index == br)
            && bridge_protocol(l) == Some(VlanProtocol::Ieee8021Ad)
        {
            items.insert(Item::ProviderBridge { snooping_off: !bridge_snooping(l) });
        }
        let mut ports: HashMap<u32, String> = HashMap::new();
        for link in &links {
            let Some(name) = link_name(link) else { continue };
            let master = link.attributes.iter().find_map(|a| match a {
                LinkAttribute::Controller(m) => Some(*m),
                _ => None,
            });
            if let Some((parent, vid)) = vlan_parent(link)
                && let Some(parent_name) = names.get(&parent)
                && name == format!("{parent_name}.{vid}")
            {
                items.insert(Item::SubInterface { parent: parent_name.clone(), vid });
            }
            if master == Some(br) {
                ports.insert(link.header.index, name.to_string());
                let up = link.header.flags.contains(LinkFlags::Up);
                // Multicast flooding on or off (off: configured before multicast was carried)
                // reads as a port with that flag; other flags, as no port of ours.
                let (learning, flood, mcast_flood) = port_flags(link);
                if up && !learning && !flood {
                    items.insert(Item::Port { port: name.to_string(), mcast_flood });
                }
            }
        }
        // Bridge VLANs of the bridge's ports.
        let mut req = LinkMessage::default();
        req.header.interface_family = AddressFamily::Bridge;
        req.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan]));
        let vlan_msgs = self
            .conn
            .dump(RouteNetlinkMessage::GetLink(req))
            .map_err(|e| self.err(format!("dump bridge VLANs: {e}")))?;
        for m in vlan_msgs {
            let RouteNetlinkMessage::NewLink(l) = m else { continue };
            let Some(port) = ports.get(&l.header.index) else { continue };
            for a in &l.attributes {
                if let LinkAttribute::AfSpecBridge(specs) = a {
                    for s in specs {
                        if let AfSpecBridge::VlanInfo(BridgeVlanInfo { vid, flags }) = s {
                            items.insert(Item::Vlan {
                                port: port.clone(),
                                vid: *vid,
                                pvid: flags.contains(BridgeVlanInfoFlags::Pvid),
                                untagged: flags.contains(BridgeVlanInfoFlags::Untagged),
                            });
                        }
                    }
                }
            }
        }
        // Static FDB entries with a VLAN on the bridge's ports.
        let mut req = NeighbourMessage::default();
        req.header.family = AddressFamily::Bridge;
        req.attributes.push(NeighbourAttribute::Controller(br));
        let fdb =
            self.conn.dump(RouteNetlinkMessage::GetNeighbour(req)).map_err(|e| self.err(format!("dump FDB: {e}")))?;
        for m in fdb {
            let RouteNetlinkMessage::NewNeighbour(n) = m else { continue };
            if n.header.state != NeighbourState::Noarp {
                continue;
            }
            let Some(port) = ports.get(&n.header.ifindex) else { continue };
            let mut mac = None;
            let mut vid = None;
            for a in &n.attributes {
                match a {
                    NeighbourAttribute::LinkLayerAddress(b) => mac = <[u8; 6]>::try_from(b.as_slice()).ok(),
                    NeighbourAttribute::Vlan(v) => vid = Some(*v),
                    _ => {}
                }
            }
            if let (Some(mac), Some(vid)) = (mac, vid) {
                items.insert(Item::Fdb { mac: crate::model::Mac(mac), vid, port: port.clone() });
            }
        }
        // clsact qdiscs on bridge ports (one dump), then our matchall drop filter on each of
        // their hooks, the policer and the L2CP discard on their ingress hook and, for each VLAN a port carries
        // tagged (a trunk's), the PCP filter on its egress hook: the kernel dumps filters one
        // hook of one device at a time, so these are asked for by key, all in one batch of
        // gets. (A PCP filter made by hand for a VLAN the port does not carry is not seen; it
        // matches no frame.)
        let mut tagged: HashMap<&str, Vec<u16>> = HashMap::new();
        for item in &items {
            if let Item::Vlan { port, vid, pvid: false, untagged: false } = item {
                tagged.entry(port.as_str()).or_default().push(*vid);
            }
        }
        let qdiscs = self
            .conn
            .dump(RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()))
            .map_err(|e| self.err(format!("dump qdiscs: {e}")))?;
        let mut hooks = Vec::new();
        let mut clsacts = Vec::new();
        for m in qdiscs {
            let RouteNetlinkMessage::NewQueueDiscipline(q) = m else { continue };
            let is_clsact = q.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "clsact"));
            let Some(port) = ports.get(&(q.header.index as u32)).filter(|_| is_clsact) else { continue };
            for direction in [Direction::Ingress, Direction::Egress] {
                hooks.push((port.clone(), Hook::Drop(direction), q.header.index));
            }
            hooks.push((port.clone(), Hook::Police, q.header.index));
            hooks.push((port.clone(), Hook::L2cp, q.header.index));
            for vid in tagged.get(port.as_str()).into_iter().flatten() {
                hooks.push((port.clone(), Hook::Pcp(*vid), q.header.index));
            }
            clsacts.push(Item::Clsact { port: port.clone() });
        }
        drop(tagged);
        items.extend(clsacts);
        let gets: Vec<RouteNetlinkMessage> = hooks
            .iter()
            .map(|(_, hook, ifindex)| {
                RouteNetlinkMessage::GetTrafficFilter(match hook {
                    Hook::Drop(direction) => msgs::our_drop_key(*ifindex, *direction),
                    Hook::Police => msgs::our_police_key(*ifindex),
                    Hook::L2cp => l2cp::our_l2cp_key(*ifindex),
                    Hook::Pcp(vid) => pcp::our_pcp_key(*ifindex, *vid),
                })
            })
            .collect();
        for ((port, hook, _), answer) in hooks.into_iter().zip(self.conn.gets(&gets)) {
            // No filter chain, no filter at our preference, or none with our handle: all
            // mean ours is not there.
            let Ok(found) = answer else { continue };
            for f in found {
                let RouteNetlinkMessage::NewTrafficFilter(f) = f else { continue };
                match hook {
                    Hook::Drop(direction) => {
                        if let Some(protocol) = our_drop(&f) {
                            items.insert(Item::TcDrop { port: port.clone(), direction, protocol });
                        }
                    }
                    Hook::Police => {
                        let (rate_bps, burst_bytes, conform) = msgs::police_of(&f);
                        items.insert(Item::Police { port: port.clone(), rate_bps, burst_bytes, conform });
                    }
                    Hook::L2cp => {
                        if let Some(foreign) = l2cp::foreign(&f) {
                            items.insert(Item::L2cp { port: port.clone(), foreign });
                        }
                    }
                    Hook::Pcp(vid) => {
                        if let Some(pcp) = pcp::pcp_of(&f, vid) {
                            items.insert(Item::Pcp { port: port.clone(), vid, pcp });
                        }
                    }
                }
            }
        }
        Ok(items)
    }

    /// One batch for the whole list. On failure, what went through after the failing
    /// change is taken back (in one batch too), as far as the driver knows how: an addition
    /// that may have set an item in place (a bridge port's flags, a VLAN entry's, the
    /// bridge's) has no inverse it knows, since what it replaced was not read; taking it
    /// back as a removal would take the port off its bridge, or the VLAN off the port. It
    /// stays, and the caller's re-convergence to the state read before (the engine's
    /// rollback, an agent's abort) sets it back.
    fn apply(&mut self, changes: &[Change]) -> Result<(), ApplyError> {
        if changes.is_empty() {
            return Ok(());
        }
        let Err(failure) = self.send(changes, true) else { return Ok(()) };
        let in_place = |c: &&Change| {
            c.op == Op::Add && matches!(c.item, Item::Port { .. } | Item::Vlan { .. } | Item::ProviderBridge { .. })
        };
        let undo: Vec<Change> = failure.partial.iter().rev().filter(|c| !in_place(c)).map(Change::inverse).collect();
        if !undo.is_empty() {
            let _ = self.send(&undo, false);
            self.index_fresh = false;
        }
        Err(match changes.get(failure.first) {
            Some(change) => self.apply_error(failure.first, change, failure.message),
            None => ApplyError { switch: self.name.clone(), done: 0, op: String::new(), message: failure.message },
        })
    }
}

/// Which of our filters a get asks for.
#[derive(Clone, Copy)]
enum Hook {
    Drop(Direction),
    Police,
    L2cp,
    Pcp(u16),
}

fn link_name(l: &LinkMessage) -> Option<&str> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

/// The VLAN protocol of a bridge's link message.
fn bridge_protocol(l: &LinkMessage) -> Option<VlanProtocol> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Data(InfoData::Bridge(data)) => data.iter().find_map(|d| match d {
                InfoBridge::VlanProtocol(p) => Some(*p),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    })
}

/// Whether a bridge's multicast snooping is on (the kernel's default, when not said).
fn bridge_snooping(l: &LinkMessage) -> bool {
    !l.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| match i {
            LinkInfo::Data(InfoData::Bridge(data)) => data.contains(&InfoBridge::MulticastSnooping(false)),
            _ => false,
        }),
        _ => false,
    })
}

/// For an 802.1Q VLAN device: (parent ifindex, VLAN ID).
fn vlan_parent(l: &LinkMessage) -> Option<(u32, u16)> {
    let parent = l.attributes.iter().find_map(|a| match a {
        LinkAttribute::Link(p) => Some(*p),
        _ => None,
    })?;
    let info = l.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(i) => Some(i),
        _ => None,
    })?;
    if !info.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Vlan))) {
        return None;
    }
    let vid = info.iter().find_map(|i| match i {
        LinkInfo::Data(InfoData::Vlan(v)) => v.iter().find_map(|x| match x {
            InfoVlan::Id(id) => Some(*id),
            _ => None,
        }),
        _ => None,
    })?;
    Some((parent, vid))
}

/// (learning, unicast flood, multicast flood) of a bridge port; true when unknown.
fn port_flags(l: &LinkMessage) -> (bool, bool, bool) {
    let mut flags = (true, true, true);
    for a in &l.attributes {
        if let LinkAttribute::LinkInfo(infos) = a {
            for i in infos {
                if let LinkInfo::PortData(InfoPortData::BridgePort(bp)) = i {
                    for x in bp {
                        match x {
                            InfoBridgePort::Learning(v) => flags.0 = *v,
                            InfoBridgePort::UnicastFlood(v) => flags.1 = *v,
                            InfoBridgePort::MulticastFlood(v) => flags.2 = *v,
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    flags
}
