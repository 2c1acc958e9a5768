//! YAML text -> validated [`Topology`], reporting every problem with its position.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::model::{Diagnostic, InterfaceMode, Mac, Pos, check_ifname, check_netns};

use super::suggest::suggest;
use super::yaml::{self, Node, Reader, Value};
use super::{DriverConfig, Link, PortRef, ServiceInterface, Switch, Topology, VlanPool};

mod devices;
mod pool;
mod rates;

pub use rates::{parse_mbps, rate_problem};

/// Longest port name of a tagged-mode interface: its sub-interfaces are named
/// `PORT.VID`, and a Linux interface name has at most 15 bytes.
pub const MAX_TAGGED_PORT_LEN: usize = 10;

/// Parses and validates a topology. On failure returns every diagnostic found, sorted by position.
pub fn parse(text: &str) -> Result<Topology, Vec<Diagnostic>> {
    let root = yaml::parse(text).map_err(|d| vec![d])?;
    let mut r = Reader::default();
    let topo = read(&mut r, &root);
    let mut diags = r.diagnostics;
    if let Some(raw) = &topo {
        validate(raw, &mut diags);
    }
    match topo {
        Some(raw) if diags.is_empty() => {
            let mut topo = Topology::build(raw.name, raw.pool, raw.switches, raw.links, raw.interfaces);
            topo.classes = raw.classes;
            topo.organizations = raw.organizations;
            Ok(topo)
        }
        _ => {
            diags.sort();
            diags.dedup();
            Err(diags)
        }
    }
}

/// What the file says, before cross-checks; positions of sub-parts kept for messages.
struct Raw {
    name: String,
    pool: VlanPool,
    pool_pos: Pos,
    switches: Vec<Switch>,
    links: Vec<Link>,
    /// Positions of each link's two endpoints.
    link_end_pos: Vec<[Pos; 2]>,
    /// The switches each link that could not be read (reported) names: they count as
    /// joined, so they (and what hangs below them) are not also "not connected".
    unread_links: Vec<Vec<String>>,
    interfaces: Vec<ServiceInterface>,
    /// Whether the file has a `switches` key (missing is reported while reading).
    switches_given: bool,
    /// Position of each MAC of each interface.
    mac_pos: Vec<Vec<Pos>>,
    classes: super::Classes,
    organizations: super::Organizations,
}

const TOP_KEYS: &[&str] = &["name", "vlans", "switches", "links", "interfaces", "remote", "classes", "organizations"];

/// Certificate paths of remote switches, as far as given: `ca`, `cert`, `key`.
#[derive(Clone, Default)]
struct TlsFields {
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    /// The management namespace connections to agents are opened from (`remote:` only).
    netns: Option<String>,
    /// How long to wait for the agents (`remote:` only).
    timeouts: super::Timeouts,
}

impl TlsFields {
    /// Reads the `ca`, `cert` and `key` fields present in `f`.
    fn read(r: &mut Reader, f: &mut super::yaml::Fields<'_>) -> TlsFields {
        let mut get = |key: &str| {
            let n = f.get(key)?;
            let s = r.string(n, &format!("`{key}`"))?;
            if s.is_empty() {
                r.error(n.pos, format!("`{key}` is empty: give the path of a PEM file"));
                return None;
            }
            Some(s)
        };
        TlsFields { ca: get("ca"), cert: get("cert"), key: get("key"), ..TlsFields::default() }
    }

    /// These fields over `defaults`; all three or nothing.
    fn over(self, defaults: &TlsFields) -> Option<super::TlsPaths> {
        Some(super::TlsPaths {
            ca: self.ca.or_else(|| defaults.ca.clone())?,
            cert: self.cert.or_else(|| defaults.cert.clone())?,
            key: self.key.or_else(|| defaults.key.clone())?,
        })
    }

    fn any(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }
}

/// `remote: {timeouts: {connect, read, write}}`: whole seconds, each optional.
fn read_timeouts(r: &mut Reader, node: &Node) -> super::Timeouts {
    let mut t = super::Timeouts::default();
    let Some(mut f) = r.map(node, "`timeouts` of `remote`") else { return t };
    for (key, slot) in [("connect", &mut t.connect), ("read", &mut t.read), ("write", &mut t.write)] {
        if let Some(n) = f.get(key) {
            let what = format!("`remote.timeouts.{key}` (whole seconds)");
            if let Some(v) = r.int(n, &what, 1, 3600) {
                *slot = v as u64;
            }
        }
    }
    f.finish(r, "`remote.timeouts`", &["connect", "read", "write"]);
    t
}

fn read(r: &mut Reader, root: &Node) -> Option<Raw> {
    if root.value == Value::Null {
        r.error(root.pos, "the topology file is empty: it needs at least `name` and `switches`");
        return None;
    }
    if matches!(root.value, Value::Seq(_)) {
        let message = "the topology must be a mapping with `name` and `switches`, found a list: \
                       is this a channels file? the topology goes after -t, the channels after -c";
        r.error(root.pos, message);
        return None;
    }
    let mut top = r.map(root, "the topology")?;
    let name = match top.require(r, "name", "the topology") {
        Some(n) => r.string(n, "`name`").unwrap_or_default(),
        None => String::new(),
    };
    if !name.is_empty() {
        check_name(r, top.pos, &name, "topology name");
    }
    let (pool, pool_pos) = match top.get("vlans") {
        Some(n) => (pool::read_pool(r, n), n.pos),
        None => (VlanPool::default(), top.pos),
    };
    // Defaults for every remote switch's certificates.
    let tls_defaults = match top.get("remote") {
        Some(node) => match r.map(node, "`remote`") {
            Some(mut f) => {
                let mut d = TlsFields::read(r, &mut f);
                if let Some(n) = f.get("netns")
                    && let Some(ns) = r.string(n, "`netns` of `remote`")
                {
                    if let Err(e) = check_netns(&ns) {
                        r.error(n.pos, format!("netns of `remote`: {e}"));
                    }
                    d.netns = Some(ns);
                }
                if let Some(n) = f.get("timeouts") {
                    d.timeouts = read_timeouts(r, n);
                }
                f.finish(r, "`remote`", &["ca", "cert", "key", "netns", "timeouts"]);
                d
            }
            None => TlsFields::default(),
        },
        None => TlsFields::default(),
    };
    let mut switches = Vec::new();
    let switches_node = top.require(r, "switches", "the topology");
    let switches_given = switches_node.is_some();
    if let Some(node) = switches_node
        && let Some(entries) = mapping_entries(r, node, "`switches`")
    {
        for (key, value) in entries {
            if let Some(sw) = read_switch(r, key, value, &tls_defaults) {
                switches.push(sw);
            }
        }
    }
    let mut links = Vec::new();
    let mut link_end_pos = Vec::new();
    let mut unread_links = Vec::new();
    if let Some(node) = top.get("links") {
        if !matches!(node.value, Value::Seq(_) | Value::Null) {
            unread_links.push(switches_named(node));
        }
        for item in r.seq(node, "`links`") {
            match read_link(r, item) {
                Some((link, ends)) => {
                    links.push(link);
                    link_end_pos.push(ends);
                }
                None => unread_links.push(switches_named(item)),
            }
        }
    }
    let mut interfaces = Vec::new();
    let mut mac_pos = Vec::new();
    let mut spellings = super::organizations::Spellings::default();
    if let Some(node) = top.get("interfaces")
        && let Some(entries) = mapping_entries(r, node, "`interfaces`")
    {
        for (key, value) in entries {
            if let Some((iface, macs)) = read_interface(r, key, value) {
                spellings.check(r, &iface.organization, key.pos, &format!("interface `{}`", iface.name));
                interfaces.push(iface);
                mac_pos.push(macs);
            }
        }
    }
    let classes = top.get("classes").map(|n| super::classes::read(r, n)).unwrap_or_default();
    let organizations =
        top.get("organizations").map(|n| super::organizations::read(r, n, &mut spellings)).unwrap_or_default();
    top.finish(r, "the topology", TOP_KEYS);
    Some(Raw {
        name,
        pool,
        pool_pos,
        switches,
        links,
        link_end_pos,
        unread_links,
        interfaces,
        switches_given,
        mac_pos,
        classes,
        organizations,
    })
}

fn mapping_entries<'n>(r: &mut Reader, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
    match &node.value {
        Value::Map(entries) => Some(entries),
        Value::Null => Some(&[]),
        other => {
            r.error(node.pos, format!("{what} must be a mapping of name -> settings, found {}", other.describe()));
            None
        }
    }
}

/// Switch, interface and topology names end up in namespace and file names: keep them tame.
fn check_name(r: &mut Reader, pos: Pos, name: &str, what: &str) -> bool {
    let ok = is_usable_name(name);
    if !ok {
        r.error(
            pos,
            format!("{what} {name:?} is not usable: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"),
        );
    }
    ok
}

fn read_switch(r: &mut Reader, key: &Node, value: &Node, tls_defaults: &TlsFields) -> Option<Switch> {
    let name = r.string(key, "switch name")?;
    check_name(r, key.pos, &name, "switch name");
    let what = format!("switch `{name}`");
    let mut f = match &value.value {
        // `core1:` with nothing after it: a dry-run switch with defaults.
        Value::Null => {
            return Some(Switch {
                name,
                driver: DriverConfig::DryRun { bridge: "br0".into(), netns: None },
                ports: None,
                pos: key.pos,
            });
        }
        _ => r.map(value, &what)?,
    };
    let driver_name = match f.get("driver") {
        Some(n) => r.string(n, "`driver`")?,
        None => "dry-run".to_string(),
    };
    let text = |f: &mut super::yaml::Fields<'_>, r: &mut Reader, key: &str| -> Option<(String, Pos)> {
        let n = f.get(key)?;
        r.string(n, &format!("`{key}`")).map(|s| (s, n.pos))
    };
    let bridge = text(&mut f, r, "bridge");
    let netns = text(&mut f, r, "netns");
    let address = text(&mut f, r, "address");
    let tls = TlsFields::read(r, &mut f);
    if let Some((b, pos)) = &bridge
        && let Err(e) = check_ifname(b)
    {
        r.error(*pos, format!("bridge of {what}: {e}"));
    }
    if let Some((ns, pos)) = &netns
        && let Err(e) = check_netns(ns)
    {
        r.error(*pos, format!("netns of {what}: {e}"));
    }
    let no = |r: &mut Reader, v: &Option<(String, Pos)>, key: &str, driver: &str| {
        if let Some((_, pos)) = v {
            r.error(*pos, format!("`{key}` does not apply to the {driver} driver of {what}"));
        }
    };
    let driver = match driver_name.as_str() {
        "linux" => {
            no(r, &address, "address", "linux");
            if tls.any() {
                r.error(
                    f.pos,
                    format!(
                        "`ca`, `cert` and `key` apply to the remote driver only, not to the linux driver of {what}"
                    ),
                );
            }
            let bridge = match bridge {
                Some((b, _)) => b,
                None => {
                    r.error(
                        f.pos,
                        format!("{what} uses the linux driver but is missing `bridge` (the bridge device, e.g. br0)"),
                    );
                    String::new()
                }
            };
            DriverConfig::Linux { netns: netns.map(|(n, _)| n), bridge }
        }
        "remote" => {
            no(r, &netns, "netns", "remote");
            let address = match address {
                Some((a, pos)) => {
                    if !a
                        .rsplit_once(':')
                        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
                    {
                        r.error(pos, format!("`address` of {what} must be HOST:PORT of its agent, e.g. 10.0.0.5:4443"));
                    }
                    a
                }
                None => {
                    r.error(f.pos, format!("{what} uses the remote driver but is missing `address` (HOST:PORT of its switchboard agent)"));
                    String::new()
                }
            };
            DriverConfig::Remote {
                address,
                bridge: bridge.map_or_else(|| "br0".into(), |(b, _)| b),
                tls: tls.over(tls_defaults),
                mgmt_netns: tls_defaults.netns.clone(),
                timeouts: tls_defaults.timeouts,
            }
        }
        "dry-run" => {
            no(r, &address, "address", "dry-run");
            if tls.any() {
                r.error(
                    f.pos,
                    format!(
                        "`ca`, `cert` and `key` apply to the remote driver only, not to the dry-run driver of {what}"
                    ),
                );
            }
            DriverConfig::DryRun {
                bridge: bridge.map_or_else(|| "br0".into(), |(b, _)| b),
                netns: netns.map(|(n, _)| n),
            }
        }
        other => {
            let pos = f.get("driver").map_or(f.pos, |n| n.pos);
            r.error(pos, format!("unknown driver {other:?} for {what}: expected linux, remote or dry-run"));
            // Keep the switch so links to it are still checked.
            DriverConfig::DryRun { bridge: "br0".into(), netns: None }
        }
    };
    let ports = f.get("ports").map(|n| {
        let mut ports = Vec::new();
        for p in r.seq(n, "`ports`") {
            if let Some(name) = r.string(p, "port") {
                if let Err(e) = check_ifname(&name) {
                    r.error(p.pos, format!("port of {what}: {e}"));
                } else if ports.contains(&name) {
                    r.error(p.pos, format!("port {name:?} is listed twice in {what}"));
                } else {
                    ports.push(name);
                }
            }
        }
        ports
    });
    f.finish(r, &what, &["driver", "bridge", "netns", "address", "ports", "ca", "cert", "key"]);
    Some(Switch { name, driver, ports, pos: key.pos })
}

fn read_port_ref(r: &mut Reader, node: &Node) -> Option<PortRef> {
    let s = r.string(node, "link endpoint")?;
    match s.split_once(':') {
        Some((switch, port)) if !switch.is_empty() && !port.is_empty() => {
            Some(PortRef { switch: switch.to_string(), port: port.to_string() })
        }
        _ => {
            r.error(node.pos, format!("link endpoint {s:?} must be SWITCH:PORT, e.g. core1:p1"));
            None
        }
    }
}

/// The switches a link that could not be read seems to name: the `SWITCH` of each
/// `SWITCH:PORT` (or bare name) among its strings, two levels deep.
fn switches_named(node: &Node) -> Vec<String> {
    let strings: Vec<&Node> = match &node.value {
        Value::Map(entries) => entries.iter().map(|(_, v)| v).collect(),
        _ => vec![node],
    };
    let items = strings.into_iter().flat_map(|n| match &n.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![n],
    });
    items
        .filter_map(|n| match &n.value {
            Value::Str(s) => s.split(':').next().map(str::to_string),
            _ => None,
        })
        .collect()
}

fn read_link(r: &mut Reader, node: &Node) -> Option<(Link, [Pos; 2])> {
    let mut f = r.map(node, "a link")?;
    let ends = f.require(r, "endpoints", "this link");
    f.finish(r, "a link", &["endpoints"]);
    let ends = ends?;
    let items = r.seq(ends, "`endpoints`");
    if items.len() != 2 {
        r.error(ends.pos, format!("a link has exactly 2 endpoints, found {}", items.len()));
        return None;
    }
    let (ea, eb) = (items.first()?, items.get(1)?);
    let a = read_port_ref(r, ea);
    let b = read_port_ref(r, eb);
    Some((Link { a: a?, b: b?, pos: node.pos }, [ea.pos, eb.pos]))
}

fn read_capacity(r: &mut Reader, node: &Node) -> Option<u64> {
    let mbps = match &node.value {
        Value::Int(i) if *i > 0 => Some(*i as u64),
        Value::Str(s) => parse_mbps(s),
        _ => None,
    };
    match mbps {
        None => r.error(node.pos, rate_problem("`capacity`", &node.value)),
        Some(m) if m > crate::model::MAX_MBPS => {
            r.error(
                node.pos,
                format!("`capacity` {m} Mbps is above 100T (100000000 Mbps), the most Switchboard plans for"),
            );
            return None;
        }
        Some(_) => {}
    }
    mbps
}

fn read_interface(r: &mut Reader, key: &Node, value: &Node) -> Option<(ServiceInterface, Vec<Pos>)> {
    let name = r.string(key, "interface name")?;
    check_name(r, key.pos, &name, "interface name");
    let what = format!("interface `{name}`");
    let mut f = r.map(value, &what)?;
    let organization = f.require(r, "organization", &what).and_then(|n| r.string(n, "`organization`"));
    let switch = f.require(r, "switch", &what).and_then(|n| r.string(n, "`switch`"));
    let port_node = f.require(r, "port", &what);
    let port = port_node.and_then(|n| r.string(n, "`port`"));
    let capacity = f.require(r, "capacity", &what).and_then(|n| read_capacity(r, n));
    let mode = match f.get("mode") {
        Some(n) => r.parse_str::<InterfaceMode>(n, "`mode`"),
        None => Some(InterfaceMode::Port),
    };
    let mut macs = Vec::new();
    let mut mac_pos = Vec::new();
    let mut mac_nodes: Vec<&Node> = Vec::new();
    match (f.get("macs"), f.get("mac")) {
        (Some(_), Some(n)) => r.error(n.pos, format!("{what} has both `mac` and `macs`: use one")),
        (Some(n), None) => mac_nodes.extend(r.seq(n, "`macs`")),
        (None, Some(n)) => mac_nodes.push(n),
        (None, None) => {
            r.error(f.pos, format!("{what} is missing `macs` (the MAC addresses of the customer equipment)"))
        }
    }
    if mac_nodes.is_empty() && (f.get("macs").is_some() != f.get("mac").is_some()) {
        r.error(f.pos, format!("{what} lists no MAC address: give at least one (the customer equipment's)"));
    }
    for n in mac_nodes {
        if let Some(mac) = r.parse_str::<Mac>(n, "MAC") {
            macs.push(mac);
            mac_pos.push(n.pos);
        }
    }
    if let (Some(p), Some(n)) = (&port, port_node) {
        if let Err(e) = check_ifname(p) {
            r.error(n.pos, format!("port of {what}: {e}"));
        } else if mode == Some(InterfaceMode::Tagged) && p.len() > MAX_TAGGED_PORT_LEN {
            r.error(
                n.pos,
                format!("port {p:?} of tagged-mode {what} is longer than {MAX_TAGGED_PORT_LEN} bytes: its sub-interfaces ({p}.4094) would exceed Linux's 15-byte limit"),
            );
        }
    }
    if let Some(org) = &organization
        && org.trim().is_empty()
    {
        r.error(f.pos, format!("`organization` of {what} is empty"));
    }
    f.finish(r, &what, &["organization", "switch", "port", "macs", "mac", "capacity", "mode"]);
    Some((
        ServiceInterface {
            name,
            organization: organization?,
            switch: switch?,
            port: port?,
            macs,
            // Keep going on a bad capacity or mode (already reported) so cross-checks still run.
            capacity_mbps: capacity.unwrap_or(0),
            mode: mode.unwrap_or(InterfaceMode::Port),
            pos: key.pos,
        },
        mac_pos,
    ))
}

/// Cross-checks: references, port reuse, MAC uniqueness, tree shape, pool.
fn validate(raw: &Raw, diags: &mut Vec<Diagnostic>) {
    let mut err = |pos: Pos, msg: String| diags.push(Diagnostic::new(pos, msg));
    if raw.pool.size() == 0 {
        err(
            raw.pool_pos,
            format!(
                "the VLAN pool {}-{} has no usable ID once reserved ranges are taken out",
                raw.pool.first, raw.pool.last
            ),
        );
    }
    let index: HashMap<&str, usize> = raw.switches.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    if raw.switches.is_empty() && raw.switches_given {
        err(Pos { line: 1, col: 1 }, "the topology has no switches: add at least one under `switches`".into());
    }
    // Who uses each switch port first: "link at L:C" or "interface NAME".
    let mut port_users: HashMap<(String, String), (String, Pos)> = HashMap::new();
    let mut use_port = |err: &mut dyn FnMut(Pos, String), switch: &str, port: &str, user: String, pos: Pos| {
        if let Some(sw) = index.get(switch).and_then(|i| raw.switches.get(*i))
            && let Some(ports) = &sw.ports
            && !ports.iter().any(|p| p == port)
        {
            let listed = if ports.is_empty() { "it lists none: `ports: []`".to_string() } else { ports.join(", ") };
            err(pos, format!("switch `{switch}` has no port `{port}` (its ports: {listed})"));
            return;
        }
        match port_users.get(&(switch.to_string(), port.to_string())) {
            Some((first, first_pos)) => err(
                pos,
                format!("port {switch}:{port} is already used by {first} at {first_pos}; a port can be used once"),
            ),
            None => {
                port_users.insert((switch.to_string(), port.to_string()), (user, pos));
            }
        }
    };

    // Links: endpoints exist, ports unique, no self-links; then tree shape.
    let mut edges: Vec<(usize, usize, usize)> = Vec::new(); // (a, b, link index)
    for (li, (link, ends)) in raw.links.iter().zip(&raw.link_end_pos).enumerate() {
        let mut ok = true;
        for (end, pos) in [(&link.a, ends[0]), (&link.b, ends[1])] {
            if !index.contains_key(end.switch.as_str()) {
                let known: Vec<&str> = raw.switches.iter().map(|s| s.name.as_str()).collect();
                err(
                    pos,
                    format!("link endpoint {end}: unknown switch `{}`{}", end.switch, suggest(&end.switch, &known)),
                );
                ok = false;
                continue;
            }
            if let Err(e) = check_ifname(&end.port) {
                // Reported; the link still joins its switches for the tree's checks, so a
                // bad port name does not also make its switch "not connected".
                err(pos, format!("link endpoint {end}: {e}"));
                continue;
            }
            use_port(&mut err, &end.switch, &end.port, "a link".to_string(), pos);
        }
        if !ok {
            continue;
        }
        if link.a.switch == link.b.switch {
            err(link.pos, format!("link {} -- {} joins switch `{}` to itself", link.a, link.b, link.a.switch));
            continue;
        }
        if let (Some(&a), Some(&b)) = (index.get(link.a.switch.as_str()), index.get(link.b.switch.as_str())) {
            edges.push((a, b, li));
        }
    }

    for iface in &raw.interfaces {
        if !index.contains_key(iface.switch.as_str()) {
            let known: Vec<&str> = raw.switches.iter().map(|s| s.name.as_str()).collect();
            err(
                iface.pos,
                format!(
                    "interface `{}`: unknown switch `{}`{}",
                    iface.name,
                    iface.switch,
                    suggest(&iface.switch, &known)
                ),
            );
        } else if check_ifname(&iface.port).is_ok() {
            use_port(&mut err, &iface.switch, &iface.port, format!("interface `{}`", iface.name), iface.pos);
        }
    }

    // MACs are unique across the whole network: a static FDB entry can point one way only.
    let mut mac_owner: BTreeMap<Mac, (&str, Pos)> = BTreeMap::new();
    for (iface, mac_pos) in raw.interfaces.iter().zip(&raw.mac_pos) {
        for (mac, pos) in iface.macs.iter().zip(mac_pos) {
            match mac_owner.get(mac) {
                Some((owner, first)) => err(
                    *pos,
                    format!("MAC {mac} is already used by interface `{owner}` at {first}; MACs must be unique"),
                ),
                None => {
                    mac_owner.insert(*mac, (iface.name.as_str(), *pos));
                }
            }
        }
    }

    devices::check(raw, &index, &mut err);
    check_tree(raw, &index, &edges, &mut err);
}

/// The links must form one tree: a link that joins two already connected switches closes a
/// cycle (the message names the way they were already joined), and every switch must be reached.
fn check_tree(
    raw: &Raw,
    index: &HashMap<&str, usize>,
    edges: &[(usize, usize, usize)],
    err: &mut dyn FnMut(Pos, String),
) {
    let n = raw.switches.len();
    let mut uf: Vec<usize> = (0..n).collect();
    fn find(uf: &mut [usize], mut x: usize) -> usize {
        while uf[x] != x {
            uf[x] = uf[uf[x]];
            x = uf[x];
        }
        x
    }
    let mut accepted: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n]; // neighbour, link index
    for &(a, b, li) in edges {
        let (ra, rb) = (find(&mut uf, a), find(&mut uf, b));
        if ra == rb {
            let Some(link) = raw.links.get(li) else { continue };
            let way = tree_path(&accepted, a, b)
                .iter()
                .filter_map(|&s| raw.switches.get(s).map(|s| s.name.as_str()))
                .collect::<Vec<_>>()
                .join(" - ");
            err(
                link.pos,
                format!(
                    "link {} -- {} closes a cycle: {} and {} are already joined by {way}; the metro network must be a tree, remove one of these links",
                    link.a, link.b, link.a.switch, link.b.switch
                ),
            );
            continue;
        }
        uf[ra] = rb;
        accepted[a].push((b, li));
        accepted[b].push((a, li));
    }
    if n == 0 {
        return;
    }
    for names in &raw.unread_links {
        let mut joined = names.iter().filter_map(|name| index.get(name.as_str()).copied());
        if let Some(first) = joined.next() {
            for other in joined {
                let (ra, rb) = (find(&mut uf, first), find(&mut uf, other));
                uf[ra] = rb;
            }
        }
    }
    let root = find(&mut uf, 0);
    let root_name = raw.switches.first().map_or("", |s| s.name.as_str());
    for s in 1..n {
        if find(&mut uf, s) != root
            && let Some(sw) = raw.switches.get(s)
        {
            err(
                sw.pos,
                format!("switch `{}` is not connected to `{root_name}`: add a link that joins it to the tree", sw.name),
            );
        }
    }
}

/// The switches on the way from `a` to `b` over accepted links (BFS), including both ends.
fn tree_path(adj: &[Vec<(usize, usize)>], a: usize, b: usize) -> Vec<usize> {
    let mut prev = vec![usize::MAX; adj.len()];
    let mut queue = VecDeque::from([a]);
    prev[a] = a;
    while let Some(x) = queue.pop_front() {
        if x == b {
            break;
        }
        for &(y, _) in &adj[x] {
            if prev[y] == usize::MAX {
                prev[y] = x;
                queue.push_back(y);
            }
        }
    }
    let mut path = vec![b];
    let mut cur = b;
    while cur != a && prev[cur] != usize::MAX {
        cur = prev[cur];
        path.push(cur);
    }
    path.reverse();
    path
}

/// 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit.
pub fn is_usable_name(name: &str) -> bool {
    crate::model::text::is_usable_name(name, 64)
}
