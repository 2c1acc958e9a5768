//! `switchboard lab up|down`: a topology built from network namespaces on this host.
//!
//! One namespace per switch (as the topology names it) holding a VLAN-filtering 802.1ad
//! bridge (a provider bridge: the planner's baseline, so `apply` finds it already so) with
//! no default PVID; a veth pair per link, each end named as the topology names the port; one
//! namespace per customer site, `<topology>-site-<interface>`, whose `eth0` carries the site's
//! first MAC and faces the interface's port on its switch. Up is idempotent and repairs a
//! half-built lab; down removes every namespace the topology implies, whatever state it is in.

use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{InfoData, InfoVeth, VlanProtocol};
use rtnetlink::{LinkBridge, LinkUnspec, LinkVeth};
use std::os::fd::AsRawFd;

use crate::topology::{DriverConfig, Topology};

use super::conn::Conn;
use super::netns;

/// Why a lab cannot be built or removed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("switch `{0}` has no network namespace: a lab needs `driver: linux` with `netns:` on every switch")]
    NoNetns(String),
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("{what}: {message}")]
    Netlink { what: String, message: String },
}

/// The namespace of each switch, in topology order.
pub fn switch_namespaces(topo: &Topology) -> Result<Vec<String>, LabError> {
    topo.switches
        .iter()
        .map(|s| match &s.driver {
            DriverConfig::Linux { netns: Some(ns), .. } => Ok(ns.clone()),
            _ => Err(LabError::NoNetns(s.name.clone())),
        })
        .collect()
}

/// The namespace of a customer site.
pub fn site_namespace(topo: &Topology, interface: &str) -> String {
    format!("{}-site-{interface}", topo.name)
}

/// The interface of a site inside its namespace.
pub const SITE_IFNAME: &str = "eth0";

/// What `up` did, for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UpReport {
    pub namespaces_created: usize,
    pub links_created: usize,
}

/// Builds (or completes) the lab of `topo`. `progress` gets one line per step group.
pub fn up(topo: &Topology, progress: &mut dyn FnMut(&str)) -> Result<UpReport, LabError> {
    let switch_ns = switch_namespaces(topo)?;
    let mut report = UpReport::default();
    let netlink =
        |what: String| move |e: super::NlError| LabError::Netlink { what: what.clone(), message: e.to_string() };
    for (sw, ns) in topo.switches.iter().zip(&switch_ns) {
        report.namespaces_created += usize::from(netns::create(ns)?);
        quiet_namespace(ns)?;
        let mut conn = Conn::open(Some(ns)).map_err(netlink(format!("switch {}", sw.name)))?;
        let bridge = sw.driver.bridge();
        let msg = LinkBridge::new(bridge)
            .vlan_filtering(true)
            .vlan_default_pvid(0)
            .vlan_protocol(VlanProtocol::Ieee8021Ad)
            .up()
            .build();
        match link_index(&mut conn, bridge) {
            None => conn
                .request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
                .map_err(netlink(format!("create bridge {bridge} on {}", sw.name)))?,
            // A bridge made before labs were 802.1ad is made one in place (what `apply`
            // would do with the planner's baseline).
            Some(index) => {
                let mut msg = msg;
                msg.header.index = index;
                msg.attributes.retain(|a| matches!(a, rtnetlink::packet_route::link::LinkAttribute::LinkInfo(_)));
                conn.request(RouteNetlinkMessage::NewLink(msg), 0)
                    .map_err(netlink(format!("make bridge {bridge} on {} 802.1ad", sw.name)))?
            }
        };
    }
    progress(&format!("{} switch namespace(s) with VLAN-filtering bridges", switch_ns.len()));
    for link in &topo.links {
        let (Some(a), Some(b)) = (topo.switch_index(&link.a.switch), topo.switch_index(&link.b.switch)) else {
            continue;
        };
        let (ns_a, ns_b) = (&switch_ns[a], &switch_ns[b]);
        report.links_created += usize::from(
            veth(ns_a, &link.a.port, ns_b, &link.b.port, None)
                .map_err(|m| LabError::Netlink { what: format!("link {} -- {}", link.a, link.b), message: m })?,
        );
    }
    progress(&format!("{} trunk link(s)", topo.links.len()));
    for iface in &topo.interfaces {
        let Some(s) = topo.switch_index(&iface.switch) else { continue };
        let site = site_namespace(topo, &iface.name);
        report.namespaces_created += usize::from(netns::create(&site)?);
        quiet_namespace(&site)?;
        let mac = iface.macs.first().map(|m| m.octets().to_vec());
        report.links_created +=
            usize::from(veth(&switch_ns[s], &iface.port, &site, SITE_IFNAME, mac).map_err(|m| LabError::Netlink {
                what: format!("site {} on {}:{}", iface.name, iface.switch, iface.port),
                message: m,
            })?);
    }
    progress(&format!("{} customer site(s)", topo.interfaces.len()));
    wait_until_links_are_up(topo, &switch_ns, CARRIER_WAIT)?;
    Ok(report)
}

/// How long `up` waits for every port to report its link up.
const CARRIER_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits until every port the topology names is operationally up. The kernel reports a
/// new veth's carrier asynchronously (linkwatch, up to a second later and longer on a busy
/// machine); a bridge port enslaved before that stays `disabled` and forwards nothing, so a
/// lab that returned earlier would drop the first frames and confuse anyone measuring it.
fn wait_until_links_are_up(topo: &Topology, switch_ns: &[String], limit: std::time::Duration) -> Result<(), LabError> {
    use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage, State};
    let start = std::time::Instant::now();
    let mut conns = Vec::new();
    for (sw, ns) in topo.switches.iter().zip(switch_ns) {
        let conn = Conn::open(Some(ns))
            .map_err(|e| LabError::Netlink { what: format!("switch {}", sw.name), message: e.to_string() })?;
        conns.push(conn);
    }
    loop {
        let mut down = Vec::new();
        for (sw, conn) in topo.switches.iter().zip(conns.iter_mut()) {
            let ports: Vec<&str> = topo
                .links
                .iter()
                .flat_map(|l| [&l.a, &l.b])
                .filter(|end| end.switch == sw.name)
                .map(|end| end.port.as_str())
                .chain(topo.interfaces.iter().filter(|i| i.switch == sw.name).map(|i| i.port.as_str()))
                .collect();
            let links = conn.dump(RouteNetlinkMessage::GetLink(LinkMessage::default())).map_err(|e| {
                LabError::Netlink { what: format!("list links of switch {}", sw.name), message: e.to_string() }
            })?;
            let up: std::collections::BTreeSet<String> = links
                .iter()
                .filter_map(|m| match m {
                    RouteNetlinkMessage::NewLink(l) => Some(l),
                    _ => None,
                })
                .filter(|l| l.attributes.iter().any(|a| matches!(a, LinkAttribute::OperState(State::Up))))
                .filter_map(|l| {
                    l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some(n.clone()),
                        _ => None,
                    })
                })
                .collect();
            down.extend(ports.into_iter().filter(|p| !up.contains(*p)).map(|p| format!("{}:{p}", sw.name)));
        }
        if down.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= limit {
            return Err(LabError::Netlink {
                what: format!("waiting {}s for links to come up", limit.as_secs()),
                message: format!("still down: {}", down.join(", ")),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Gives each tagged-mode site an 802.1Q sub-interface `eth0.TAG`, up, for every customer tag
/// it uses in `channels`, so the site's own IP stack (ARP, ping) can talk in those channels.
/// Returns how many were created (existing ones are kept).
pub fn site_vlans(topo: &Topology, channels: &[(String, u16)]) -> Result<usize, LabError> {
    let mut created = 0;
    for (interface, tag) in channels {
        let site = site_namespace(topo, interface);
        let mut conn = Conn::open(Some(&site))
            .map_err(|e| LabError::Netlink { what: format!("site {interface}"), message: e.to_string() })?;
        let name = format!("{SITE_IFNAME}.{tag}");
        if link_index(&mut conn, &name).is_some() {
            continue;
        }
        let parent = link_index(&mut conn, SITE_IFNAME).ok_or_else(|| LabError::Netlink {
            what: format!("site {interface}"),
            message: "no eth0 (is the lab up?)".into(),
        })?;
        let msg = rtnetlink::LinkVlan::new(&name, parent, *tag).up().build();
        conn.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL).map_err(|e| LabError::Netlink {
            what: format!("site {interface}: create {name}"),
            message: e.to_string(),
        })?;
        created += 1;
    }
    Ok(created)
}

/// The interface of a switch on the lab's management network (`lab up --agents`).
pub const MGMT_IFNAME: &str = "mgmt0";

/// The bridge of the management network, in the management namespace.
const MGMT_BRIDGE: &str = "mgmt";

/// The prefix length of the management network (10.255.0.0/16).
pub const MGMT_PREFIX: u8 = 16;

/// The address the orchestrator's side (the management namespace's bridge) has.
pub const MGMT_HOST: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 255, 0, 1);

/// The management namespace of a lab: `<topology>-mgmt`.
pub fn mgmt_namespace(topo: &Topology) -> String {
    format!("{}-mgmt", topo.name)
}

/// The management address of the `k`-th switch (10.255.0.2 onwards), if the /16 has room.
pub fn mgmt_address(k: usize) -> Option<std::net::Ipv4Addr> {
    let host = u16::try_from(k.checked_add(2)?).ok().filter(|h| *h < u16::MAX)?;
    let [hi, lo] = host.to_be_bytes();
    Some(std::net::Ipv4Addr::new(10, 255, hi, lo))
}

/// Builds (or completes) the lab's management network: a namespace `<topology>-mgmt` holding
/// a plain bridge with [`MGMT_HOST`], and per switch a veth pair from [`MGMT_IFNAME`] in the
/// switch's namespace (with [`mgmt_address`]) to the bridge. Nothing outside the lab's own
/// namespaces is touched. Returns each switch's management address, in topology order. The
/// switch namespaces must exist ([`up`]).
pub fn mgmt_up(topo: &Topology) -> Result<Vec<std::net::Ipv4Addr>, LabError> {
    let switch_ns = switch_namespaces(topo)?;
    let mgmt = mgmt_namespace(topo);
    let mgmt_err = |what: String| {
        let mgmt = mgmt.clone();
        move |message: String| LabError::Netlink { what: format!("management namespace {mgmt}: {what}"), message }
    };
    if let Some(sw) = topo.switches.iter().zip(&switch_ns).find(|(_, ns)| **ns == mgmt).map(|(sw, _)| sw) {
        return Err(mgmt_err(format!("switch {}", sw.name))(
            "is the switch's own namespace: rename the switch's `netns`".into(),
        ));
    }
    for sw in &topo.switches {
        let uses = topo.links.iter().flat_map(|l| [&l.a, &l.b]).any(|e| e.switch == sw.name && e.port == MGMT_IFNAME)
            || topo.interfaces.iter().any(|i| i.switch == sw.name && i.port == MGMT_IFNAME);
        if uses {
            return Err(mgmt_err(format!("switch {}", sw.name))(format!(
                "port {MGMT_IFNAME} is the lab's management interface: rename the port in the topology"
            )));
        }
    }
    netns::create(&mgmt)?;
    quiet_namespace(&mgmt)?;
    let mut conn = Conn::open(Some(&mgmt)).map_err(|e| mgmt_err("open".into())(e.to_string()))?;
    let bridge = match link_index(&mut conn, MGMT_BRIDGE) {
        Some(i) => i,
        None => {
            let msg = LinkBridge::new(MGMT_BRIDGE).up().build();
            conn.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
                .map_err(|e| mgmt_err(format!("create bridge {MGMT_BRIDGE}"))(e.to_string()))?;
            link_index(&mut conn, MGMT_BRIDGE)
                .ok_or_else(|| mgmt_err(format!("bridge {MGMT_BRIDGE}"))("did not appear".into()))?
        }
    };
    set_address(&mut conn, bridge, MGMT_HOST).map_err(mgmt_err(format!("address {MGMT_HOST} on {MGMT_BRIDGE}")))?;
    let mut addresses = Vec::new();
    for (k, (sw, ns)) in topo.switches.iter().zip(&switch_ns).enumerate() {
        let what = |step: &str| format!("switch {}: {step}", sw.name);
        let address = mgmt_address(k)
            .ok_or_else(|| mgmt_err(what("address"))("more switches than the management /16 has room for".into()))?;
        let peer = format!("m{k}");
        veth(ns, MGMT_IFNAME, &mgmt, &peer, None).map_err(mgmt_err(what("veth")))?;
        let port = link_index(&mut conn, &peer).ok_or_else(|| mgmt_err(what(&peer))("did not appear".into()))?;
        let enslave = LinkUnspec::new_with_index(port).controller(bridge).up().build();
        conn.request(RouteNetlinkMessage::SetLink(enslave), 0)
            .map_err(|e| mgmt_err(what(&format!("attach {peer} to {MGMT_BRIDGE}")))(e.to_string()))?;
        let mut on_switch = Conn::open(Some(ns)).map_err(|e| mgmt_err(what("open"))(e.to_string()))?;
        let index = link_index(&mut on_switch, MGMT_IFNAME)
            .ok_or_else(|| mgmt_err(what(MGMT_IFNAME))("did not appear".into()))?;
        set_address(&mut on_switch, index, address)
            .map_err(mgmt_err(what(&format!("address {address} on {MGMT_IFNAME}"))))?;
        addresses.push(address);
    }
    Ok(addresses)
}

/// Removes the management namespace (its veths, and so their ends in the switches' namespaces,
/// go with it). Returns whether it existed.
pub fn mgmt_down(topo: &Topology) -> Result<bool, LabError> {
    Ok(netns::delete(&mgmt_namespace(topo))?)
}

/// Gives interface `index` the address `address`/[`MGMT_PREFIX`] (kept if it has it).
fn set_address(conn: &mut Conn, index: u32, address: std::net::Ipv4Addr) -> Result<(), String> {
    use rtnetlink::packet_core::NLM_F_REPLACE;
    let msg = rtnetlink::AddressMessageBuilder::<std::net::Ipv4Addr>::new()
        .index(index)
        .address(address, MGMT_PREFIX)
        .build();
    conn.request(RouteNetlinkMessage::NewAddress(msg), NLM_F_CREATE | NLM_F_REPLACE)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Removes every namespace of the lab (switches and sites); returns how many existed.
pub fn down(topo: &Topology) -> Result<usize, LabError> {
    let mut names: Vec<String> = topo.switches.iter().filter_map(|s| s.driver.netns().map(str::to_string)).collect();
    names.extend(topo.interfaces.iter().map(|i| site_namespace(topo, &i.name)));
    let mut removed = 0;
    for name in names {
        removed += usize::from(netns::delete(&name)?);
    }
    Ok(removed)
}

/// No IPv6 (router solicitations and MLD would add stray frames) and loopback up.
fn quiet_namespace(ns: &str) -> Result<(), LabError> {
    for key in ["net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"] {
        // Without the ipv6 module the key does not exist, which is just as quiet.
        let _ = netns::sysctl(ns, key, "1");
    }
    let mut conn = Conn::open(Some(ns))
        .map_err(|e| LabError::Netlink { what: format!("namespace {ns}"), message: e.to_string() })?;
    if let Some(lo) = link_index(&mut conn, "lo") {
        let _ = conn.request(RouteNetlinkMessage::SetLink(LinkUnspec::new_with_index(lo).up().build()), 0);
    }
    Ok(())
}

fn link_index(conn: &mut Conn, name: &str) -> Option<u32> {
    conn.link_index(name)
}

/// Creates veth `name_a` in `ns_a` with peer `name_b` in `ns_b` (with `mac_b` if given),
/// both up. If both ends exist it does nothing; a lone end (half-built lab) is replaced.
fn veth(ns_a: &str, name_a: &str, ns_b: &str, name_b: &str, mac_b: Option<Vec<u8>>) -> Result<bool, String> {
    let mut ca = Conn::open(Some(ns_a)).map_err(|e| e.to_string())?;
    let mut cb = Conn::open(Some(ns_b)).map_err(|e| e.to_string())?;
    let (ia, ib) = (link_index(&mut ca, name_a), link_index(&mut cb, name_b));
    if ia.is_some() && ib.is_some() {
        return Ok(false);
    }
    if let Some(i) = ia {
        let _ = ca.request(RouteNetlinkMessage::DelLink(LinkUnspec::new_with_index(i).build()), 0);
    }
    if let Some(i) = ib {
        let _ = cb.request(RouteNetlinkMessage::DelLink(LinkUnspec::new_with_index(i).build()), 0);
    }
    let fd_b = netns::open(ns_b).map_err(|e| e.to_string())?;
    let mut peer = LinkUnspec::new_with_name(name_b).setns_by_fd(fd_b.as_raw_fd());
    if let Some(mac) = mac_b {
        peer = peer.address(mac);
    }
    let msg = LinkVeth::new(name_a, name_b).set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build()))).up().build();
    ca.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL).map_err(|e| e.to_string())?;
    drop(fd_b);
    let ib = link_index(&mut cb, name_b).ok_or_else(|| format!("peer {name_b} did not appear in {ns_b}"))?;
    cb.request(RouteNetlinkMessage::SetLink(LinkUnspec::new_with_index(ib).up().build()), 0)
        .map_err(|e| e.to_string())?;
    Ok(true)
}
