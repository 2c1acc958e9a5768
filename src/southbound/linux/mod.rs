//! The `linux` driver: a Linux VLAN-filtering bridge driven over route netlink (rtnetlink /
//! netlink-packet-route), on the host or inside a named network namespace. No `ip`,
//! `bridge` or `tc` programs are run.
//!
//! [`messages`] turns one change into netlink messages (a pure function, tested without
//! root); [`LinuxSwitch`] sends them, batching runs of VLAN and FDB changes many to a
//! sendmsg, and reads the bridge back into the planner's [`Item`] model.

mod conn;
pub mod lab;
pub mod netns;
pub mod probe;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rtnetlink::packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use rtnetlink::packet_route::link::{
    AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoVlan,
    LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState};
use rtnetlink::packet_route::tc::{
    TcAction, TcActionAttribute, TcActionOption, TcAttribute, TcFilterMatchAllOption, TcHandle, TcMessage, TcOption,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{LinkBridgePort, LinkBridgeVlan, LinkUnspec, LinkVlan};

pub use conn::{Conn, NlError};

use crate::orchestrator::{Change, Direction, Item, Op};

use super::dry_run::{TC_PREF, command_lines};
use super::{ApplyError, Driver, DriverError};

/// ETH_P_8021Q, as tc wants it: in network byte order inside tcm_info.
const ETH_P_8021Q_BE: u16 = 0x8100u16.to_be();
/// TCA_GACT_PARMS and TC_ACT_SHOT from linux/tc_act/tc_gact.h and pkt_cls.h.
const TCA_GACT_PARMS: u16 = 2;
const TC_ACT_SHOT: i32 = 2;

/// One switch: a bridge in a namespace.
pub struct LinuxSwitch {
    name: String,
    netns: Option<String>,
    bridge: String,
    conn: Conn,
    /// Interface name -> ifindex, refreshed before each apply and after creating links.
    index: HashMap<String, u32>,
    /// Fault injection for tests: the change with this index (counted over the driver's
    /// life) is sent with an ifindex that does not exist, so the kernel really refuses it.
    pub fail_at: Option<usize>,
    sent: usize,
}

impl LinuxSwitch {
    pub fn connect(name: &str, netns: Option<&str>, bridge: &str) -> Result<LinuxSwitch, DriverError> {
        let conn = Conn::open(netns).map_err(|e| DriverError { switch: name.into(), message: e.to_string() })?;
        let mut sw = LinuxSwitch {
            name: name.into(),
            netns: netns.map(str::to_string),
            bridge: bridge.into(),
            conn,
            index: HashMap::new(),
            fail_at: None,
            sent: 0,
        };
        sw.refresh_index()?;
        if !sw.index.contains_key(bridge) {
            return Err(sw.err(format!("no bridge `{bridge}` here (is the lab up? `switchboard lab up TOPOLOGY`)")));
        }
        Ok(sw)
    }

    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    fn err(&self, message: String) -> DriverError {
        DriverError { switch: self.name.clone(), message }
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
        let links = self.links()?;
        self.index = links.iter().filter_map(|l| link_name(l).map(|n| (n.to_string(), l.header.index))).collect();
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

    /// Builds the messages of `change`, injecting the configured fault.
    fn build(&mut self, change: &Change) -> Result<Vec<(RouteNetlinkMessage, u16)>, String> {
        let ctx = Ctx { bridge: self.bridge_index().map_err(|e| e.message)?, index: &self.index };
        let mut msgs = messages(change, &ctx)?;
        if self.fail_at == Some(self.sent) {
            self.fail_at = None;
            for (m, _) in &mut msgs {
                poison(m);
            }
        }
        self.sent += 1;
        Ok(msgs)
    }
}

/// Whether a change goes into a batch (the bulk: VLAN and FDB entries) or alone.
fn batchable(change: &Change) -> bool {
    matches!(change.item, Item::Vlan { .. } | Item::Fdb { .. })
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
        for link in self.links()? {
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
                let (learning, flood, mcast) = port_flags(link);
                if up && !learning && !flood && !mcast {
                    items.insert(Item::Port { port: name.to_string() });
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
        // clsact qdiscs and our matchall drop filters on bridge ports.
        let qdiscs = self
            .conn
            .dump(RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()))
            .map_err(|e| self.err(format!("dump qdiscs: {e}")))?;
        for m in qdiscs {
            let RouteNetlinkMessage::NewQueueDiscipline(q) = m else { continue };
            let is_clsact = q.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "clsact"));
            let Some(port) = ports.get(&(q.header.index as u32)).cloned() else { continue };
            if !is_clsact {
                continue;
            }
            items.insert(Item::Clsact { port: port.clone() });
            for direction in [Direction::Ingress, Direction::Egress] {
                let mut req = TcMessage::with_index(q.header.index);
                req.header.parent = tc_parent(direction);
                let filters = self
                    .conn
                    .dump(RouteNetlinkMessage::GetTrafficFilter(req))
                    .map_err(|e| self.err(format!("dump tc filters of {port}: {e}")))?;
                if filters.iter().any(|f| matches!(f, RouteNetlinkMessage::NewTrafficFilter(f) if is_our_drop(f))) {
                    items.insert(Item::TcDrop { port: port.clone(), direction });
                }
            }
        }
        Ok(items)
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), ApplyError> {
        self.refresh_index().map_err(|e| ApplyError {
            switch: self.name.clone(),
            done: 0,
            op: String::new(),
            message: e.message,
        })?;
        let mut i = 0;
        while i < changes.len() {
            let Some(change) = changes.get(i) else { break };
            if batchable(change) {
                let end = changes[i..].iter().position(|c| !batchable(c)).map_or(changes.len(), |k| i + k);
                let run = &changes[i..end];
                let mut msgs = Vec::with_capacity(run.len());
                for (k, c) in run.iter().enumerate() {
                    match self.build(c) {
                        Ok(mut m) => msgs.append(&mut m),
                        Err(e) => {
                            let _ = self.apply(&run[..k].iter().map(Change::inverse).rev().collect::<Vec<_>>());
                            return Err(self.apply_error(i, c, e));
                        }
                    }
                }
                let failures = self.conn.batch(&msgs);
                if let Some((first, err)) = failures.first().cloned() {
                    // Take back what did go through in this run, so the caller sees a clean
                    // prefix: changes[..i] applied, the rest not.
                    let failed: BTreeSet<usize> = failures.iter().map(|(k, _)| *k).collect();
                    let undo: Vec<Change> = run
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| !failed.contains(k))
                        .map(|(_, c)| c.inverse())
                        .rev()
                        .collect();
                    let _ = self.apply(&undo);
                    return Err(self.apply_error(i, &run[first], err.to_string()));
                }
                i = end;
                continue;
            }
            let msgs = self.build(change).map_err(|e| self.apply_error(i, change, e))?;
            for (k, (msg, flags)) in msgs.into_iter().enumerate() {
                if let Err(e) = self.conn.request(msg, flags) {
                    // A multi-message change (port add, sub-interface add) is undone in part.
                    if k > 0 {
                        let _ = self.apply(std::slice::from_ref(&change.inverse()));
                    }
                    return Err(self.apply_error(i, change, e.to_string()));
                }
            }
            if let (Item::SubInterface { parent, vid }, Op::Add) = (&change.item, change.op) {
                // Learn the new link's index with one lookup by name, not a full dump (which
                // made adding thousands of sub-interfaces quadratic).
                let name = format!("{parent}.{vid}");
                let found = self.conn.link_index(&name);
                match found {
                    Some(index) => {
                        self.index.insert(name, index);
                    }
                    None => return Err(self.apply_error(i, change, format!("{name} did not appear after creation"))),
                }
            }
            i += 1;
        }
        Ok(())
    }
}

/// What [`messages`] needs to know about the switch.
pub struct Ctx<'a> {
    /// ifindex of the bridge.
    pub bridge: u32,
    /// Interface name -> ifindex.
    pub index: &'a HashMap<String, u32>,
}

impl Ctx<'_> {
    fn ifindex(&self, name: &str) -> Result<u32, String> {
        self.index.get(name).copied().ok_or_else(|| format!("no interface `{name}` on this switch"))
    }
}

/// The netlink messages (with extra header flags) that make one change.
pub fn messages(change: &Change, ctx: &Ctx<'_>) -> Result<Vec<(RouteNetlinkMessage, u16)>, String> {
    use RouteNetlinkMessage as M;
    let create = NLM_F_CREATE | NLM_F_EXCL;
    Ok(match (&change.op, &change.item) {
        (Op::Add, Item::SubInterface { parent, vid }) => {
            let p = ctx.ifindex(parent)?;
            let name = format!("{parent}.{vid}");
            vec![
                (M::SetLink(LinkUnspec::new_with_index(p).up().build()), 0),
                (M::NewLink(LinkVlan::new(&name, p, *vid).up().build()), create),
            ]
        }
        (Op::Remove, Item::SubInterface { parent, vid }) => {
            let i = ctx.ifindex(&format!("{parent}.{vid}"))?;
            vec![(M::DelLink(LinkUnspec::new_with_index(i).build()), 0)]
        }
        (Op::Add, Item::Port { port }) => {
            let i = ctx.ifindex(port)?;
            vec![
                (M::SetLink(LinkUnspec::new_with_index(i).controller(ctx.bridge).up().build()), 0),
                (M::NewLink(LinkBridgePort::new(i).learning(false).flood(false).mcast_flood(false).build()), 0),
            ]
        }
        (Op::Remove, Item::Port { port }) => {
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
        (op, Item::TcDrop { port, direction }) => {
            let mut m = TcMessage::with_index(ctx.ifindex(port)? as i32);
            m.header.parent = tc_parent(*direction);
            m.header.info = (u32::from(TC_PREF) << 16) | u32::from(ETH_P_8021Q_BE);
            m.attributes.push(TcAttribute::Kind("matchall".into()));
            match op {
                Op::Add => {
                    m.attributes.push(TcAttribute::Options(vec![TcOption::MatchAll(TcFilterMatchAllOption::Action(
                        vec![gact_drop()],
                    ))]));
                    vec![(M::NewTrafficFilter(m), create)]
                }
                Op::Remove => vec![(M::DelTrafficFilter(m), 0)],
            }
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

/// The clsact hook a direction's filters hang from (ffff:fff2 ingress, ffff:fff3 egress).
fn tc_parent(direction: Direction) -> TcHandle {
    let minor = match direction {
        Direction::Ingress => TcHandle::MIN_INGRESS,
        Direction::Egress => TcHandle::MIN_EGRESS,
    };
    TcHandle { major: 0xffff, minor }
}

/// A gact action that drops (`action drop`). netlink-packet-route has no typed gact, so its
/// parameters (struct tc_gen: index, capab, action, refcnt, bindcnt) are written raw.
fn gact_drop() -> TcAction {
    let mut parms = Vec::with_capacity(20);
    for v in [0i32, 0, TC_ACT_SHOT, 0, 0] {
        parms.extend_from_slice(&v.to_ne_bytes());
    }
    let mut action = TcAction::default();
    action.attributes = vec![
        TcActionAttribute::Kind("gact".into()),
        TcActionAttribute::Options(vec![TcActionOption::Other(DefaultNla::new(TCA_GACT_PARMS, parms))]),
    ];
    action
}

/// Whether a dumped filter is one of ours: matchall for 802.1Q at our preference.
fn is_our_drop(f: &TcMessage) -> bool {
    let pref = (f.header.info >> 16) as u16;
    let proto = (f.header.info & 0xffff) as u16;
    pref == TC_PREF
        && proto == ETH_P_8021Q_BE
        && f.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "matchall"))
        && f.attributes.iter().any(|a| matches!(a, TcAttribute::Options(o) if !o.is_empty()))
}

fn link_name(l: &LinkMessage) -> Option<&str> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
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

/// Makes a message refer to an interface that does not exist (fault injection).
fn poison(m: &mut RouteNetlinkMessage) {
    const MISSING: u32 = 0x7fff_fff0;
    match m {
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
        let ctx = Ctx { bridge: 1, index: &index };
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
    fn leaf_filter_is_matchall_8021q_at_our_pref() {
        let index = ctx_index();
        let ctx = Ctx { bridge: 1, index: &index };
        let change = Change { op: Op::Add, item: Item::TcDrop { port: "p2.500".into(), direction: Direction::Egress } };
        let msgs = messages(&change, &ctx).unwrap();
        let [(RouteNetlinkMessage::NewTrafficFilter(f), _)] = msgs.as_slice() else { panic!() };
        assert_eq!(f.header.index, 5);
        assert_eq!(f.header.parent, TcHandle { major: 0xffff, minor: 0xfff3 });
        assert!(is_our_drop(f));
    }

    #[test]
    fn unknown_port_is_an_error_not_a_panic() {
        let index = ctx_index();
        let ctx = Ctx { bridge: 1, index: &index };
        let change = Change { op: Op::Add, item: Item::Port { port: "nope".into() } };
        assert_eq!(messages(&change, &ctx).unwrap_err(), "no interface `nope` on this switch");
    }
}
