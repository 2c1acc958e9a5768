//! The metro network as the operator describes it: switches, the trunk links that join them
//! into a tree, the service interfaces customers plug into, and the VLAN pool.
//!
//! [`parse`] turns YAML text into a validated [`Topology`] or every [`Diagnostic`] at once.
//! Nothing here reads files; `cli` does that. Once a `Topology` exists, its invariants hold:
//! names are unique, every port is used once, the links form one tree.

mod classes;
pub mod generate;
mod names;
mod organizations;
mod parse;
pub mod render;
mod suggest;
pub mod yaml;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{InterfaceMode, Mac, Pos};
use names::NameIndex;

pub use classes::{Classes, DEFAULT_CLASS};
pub use organizations::{Organizations, is_contact};
pub use parse::{is_usable_name, parse, parse_mbps, rate_problem};
pub use suggest::suggest;

/// A validated metro network.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The topology's name; labs prefix their namespaces with it.
    pub name: String,
    /// Where channel VLANs come from.
    pub pool: VlanPool,
    /// All switches, in file order. Index 0 is the root of the tree.
    pub switches: Vec<Switch>,
    /// Trunks between switches.
    pub links: Vec<Link>,
    /// Customer-facing ports, in file order.
    pub interfaces: Vec<ServiceInterface>,
    /// Classes of service and the PCP each puts in a channel's S-tag on trunks.
    pub classes: Classes,
    /// Who may become each organization's first admin (operator's data: not in a
    /// customer's view of the topology).
    pub organizations: Organizations,
    switch_by_name: NameIndex,
    interface_by_name: NameIndex,
    tree: Tree,
    /// Per switch: trunk ports in link order, and indices of its service interfaces.
    trunks: Vec<Vec<String>>,
    interfaces_at: Vec<Vec<usize>>,
}

/// The VLAN IDs channels may be given: `first..=last` minus the reserved ranges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VlanPool {
    /// Lowest VLAN ID handed out.
    pub first: u16,
    /// Highest VLAN ID handed out.
    pub last: u16,
    /// Inclusive ranges that are never handed out and never touched (the operator's own VLANs).
    pub reserved: Vec<(u16, u16)>,
}

impl Default for VlanPool {
    fn default() -> Self {
        VlanPool { first: 2, last: 4094, reserved: Vec::new() }
    }
}

/// "100-199", or "2-4094 less the reserved 1000-1099, 3000".
impl std::fmt::Display for VlanPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)?;
        for (i, (a, b)) in self.reserved.iter().enumerate() {
            f.write_str(if i == 0 { " less the reserved " } else { ", " })?;
            if a == b { write!(f, "{a}")? } else { write!(f, "{a}-{b}")? }
        }
        Ok(())
    }
}

impl VlanPool {
    /// Whether `vid` may be given to a channel (and so is Switchboard's to manage).
    pub fn allows(&self, vid: u16) -> bool {
        (self.first..=self.last).contains(&vid) && !self.reserved.iter().any(|&(a, b)| (a..=b).contains(&vid))
    }

    /// How many IDs the pool holds.
    pub fn size(&self) -> usize {
        (self.first..=self.last).filter(|v| self.allows(*v)).count()
    }
}

/// A managed switch and how Switchboard talks to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Switch {
    pub name: String,
    pub driver: DriverConfig,
    /// Declared ports; when `None`, any port named by a link or interface is accepted.
    pub ports: Option<Vec<String>>,
    pub pos: Pos,
}

/// Driver selection with its parameters (SPEC §3, Drivers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "driver", rename_all = "kebab-case")]
pub enum DriverConfig {
    /// A Linux VLAN-filtering bridge driven over netlink.
    Linux {
        /// Named network namespace holding the bridge; `None` is the host namespace.
        netns: Option<String>,
        /// The bridge device.
        bridge: String,
    },
    /// A `switchboard agent` on the switch.
    Remote {
        /// host:port of the agent.
        address: String,
        /// The bridge device on the remote switch.
        bridge: String,
        /// The certificate files for mutual TLS (the switch's own, or the topology's
        /// `remote:` defaults); `None` when neither gives all three.
        #[serde(skip_serializing_if = "Option::is_none")]
        tls: Option<TlsPaths>,
        /// The network namespace the orchestrator opens its connections to the agent from
        /// (`remote: {netns: ...}`; a lab's `<lab>-mgmt`); `None` is the orchestrator's own.
        #[serde(skip_serializing_if = "Option::is_none")]
        mgmt_netns: Option<String>,
        /// How long the orchestrator waits for the agent (`remote: {timeouts: ...}`).
        #[serde(skip_serializing_if = "Timeouts::is_default")]
        timeouts: Timeouts,
    },
    /// Records and prints change sets; touches nothing.
    DryRun {
        /// Bridge name used in the printed commands.
        bridge: String,
        /// Namespace used in the printed commands, if any.
        netns: Option<String>,
    },
}

/// The certificate files of a remote switch's mutual TLS, as the topology writes them
/// (relative paths are relative to the working directory of the process that reads them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsPaths {
    /// The CA the orchestrator and the agents trust.
    pub ca: String,
    /// The orchestrator's client certificate (`switchboard pki issue DIR --orchestrator`).
    pub cert: String,
    /// Its private key.
    pub key: String,
}

/// How long the orchestrator waits for a remote switch's agent before it gives up on a
/// call, in seconds (`remote: {timeouts: {connect: 5, read: 30, write: 60}}`): a dead or
/// silent agent costs this, never a hang.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    /// Connecting: TCP, the TLS handshake and the health check.
    pub connect: u64,
    /// Reading state, counters and health.
    pub read: u64,
    /// Prepare, commit and abort (the agent applies the changes within it).
    pub write: u64,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts { connect: 5, read: 30, write: 60 }
    }
}

impl Timeouts {
    pub fn is_default(&self) -> bool {
        *self == Timeouts::default()
    }
}

impl DriverConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            DriverConfig::Linux { .. } => "linux",
            DriverConfig::Remote { .. } => "remote",
            DriverConfig::DryRun { .. } => "dry-run",
        }
    }

    pub fn bridge(&self) -> &str {
        match self {
            DriverConfig::Linux { bridge, .. }
            | DriverConfig::Remote { bridge, .. }
            | DriverConfig::DryRun { bridge, .. } => bridge,
        }
    }

    pub fn netns(&self) -> Option<&str> {
        match self {
            DriverConfig::Linux { netns, .. } | DriverConfig::DryRun { netns, .. } => netns.as_deref(),
            DriverConfig::Remote { .. } => None,
        }
    }
}

/// One end of a link: `switch:port`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PortRef {
    pub switch: String,
    pub port: String,
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.switch, self.port)
    }
}

/// A trunk between two switches; carries channel VLANs tagged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    pub a: PortRef,
    pub b: PortRef,
    pub pos: Pos,
}

/// An access port owned by one organization (SPEC §1, service interface).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceInterface {
    pub name: String,
    pub organization: String,
    pub switch: String,
    pub port: String,
    /// MAC addresses of the customer equipment behind the port; at least one.
    pub macs: Vec<Mac>,
    /// Capacity in Mbps; the bandwidth of its channels must fit in it.
    pub capacity_mbps: u64,
    pub mode: InterfaceMode,
    pub pos: Pos,
}

/// The switch tree rooted at switch 0, derived from the links.
#[derive(Clone, Debug, Default)]
struct Tree {
    /// For each switch: (parent switch, this switch's port toward it, the parent's port toward this).
    parent: Vec<Option<(usize, String, String)>>,
    /// For each switch, its parent (itself for the root) and its depth, packed: what a path
    /// climbs. At 10,000 switches this is 80 KB, which stays in cache while a plan of
    /// 100,000 channels climbs it at random; `parent`'s entries with their two port names
    /// are 56 bytes each and did not.
    up: Vec<(u32, u32)>,
    /// Euler-tour entry and exit times, for O(1) ancestor tests.
    tin: Vec<usize>,
    tout: Vec<usize>,
}

impl Topology {
    pub fn switch_index(&self, name: &str) -> Option<usize> {
        self.switch_by_name.get(name)
    }

    pub fn switch(&self, name: &str) -> Option<&Switch> {
        self.switch_index(name).and_then(|i| self.switches.get(i))
    }

    pub fn interface(&self, name: &str) -> Option<&ServiceInterface> {
        self.interface_by_name.get(name).and_then(|i| self.interfaces.get(i))
    }

    pub fn interface_index(&self, name: &str) -> Option<usize> {
        self.interface_by_name.get(name)
    }

    /// Depth of switch `s` below the root (the root is 0).
    pub fn depth(&self, s: usize) -> usize {
        self.tree.up.get(s).map_or(0, |&(_, depth)| depth as usize)
    }

    /// The parent of `s` in the tree, with `s`'s uplink port.
    pub fn parent(&self, s: usize) -> Option<(usize, &str)> {
        self.tree.parent.get(s).and_then(|p| p.as_ref()).map(|(p, port, _)| (*p, port.as_str()))
    }

    /// Whether `a` is `b` or an ancestor of `b`.
    pub fn is_ancestor(&self, a: usize, b: usize) -> bool {
        match (self.tree.tin.get(a), self.tree.tout.get(a), self.tree.tin.get(b)) {
            (Some(ia), Some(oa), Some(ib)) => ia <= ib && ib <= oa,
            _ => false,
        }
    }

    /// The trunk port on switch `from` that leads toward switch `to` (`from != to`).
    pub fn port_toward(&self, from: usize, to: usize) -> Option<&str> {
        if from == to {
            return None;
        }
        if !self.is_ancestor(from, to) {
            return self.parent(from).map(|(_, port)| port);
        }
        // `to` is below `from`: climb from `to` to the child of `from` on the way.
        let mut cur = to;
        loop {
            let (p, _, parent_port) = self.tree.parent.get(cur)?.as_ref()?;
            if *p == from {
                return Some(parent_port);
            }
            cur = *p;
        }
    }

    /// The switches of the smallest subtree that joins `members` (the channel's path),
    /// sorted by index. Empty for no members.
    pub fn path(&self, members: &[usize]) -> Vec<usize> {
        let Some((&first, rest)) = members.split_first() else { return Vec::new() };
        let lca = rest.iter().fold(first, |acc, &m| self.lca(acc, m));
        let mut on_path = vec![lca];
        for &m in members {
            let mut cur = m;
            while cur != lca && !on_path.contains(&cur) {
                on_path.push(cur);
                match self.tree.up.get(cur) {
                    Some(&(p, _)) if p as usize != cur => cur = p as usize,
                    _ => break,
                }
            }
        }
        on_path.sort_unstable();
        on_path.dedup();
        on_path
    }

    /// The switches from `from` to `to` in the order a frame crosses them: up from `from` to
    /// their lowest common ancestor, then down to `to`. Both ends included; one switch when
    /// they are the same.
    pub fn route(&self, from: usize, to: usize) -> Vec<usize> {
        let top = self.lca(from, to);
        let climb = |mut cur: usize| {
            let mut out = Vec::new();
            while cur != top {
                out.push(cur);
                match self.parent(cur) {
                    Some((p, _)) => cur = p,
                    None => break,
                }
            }
            out
        };
        let mut route = climb(from);
        route.push(top);
        route.extend(climb(to).into_iter().rev());
        route
    }

    /// Lowest common ancestor of two switches.
    pub fn lca(&self, a: usize, b: usize) -> usize {
        let up = |s: u32| self.tree.up.get(s as usize).copied().unwrap_or((s, 0));
        let (Ok(mut a), Ok(mut b)) = (u32::try_from(a), u32::try_from(b)) else { return a };
        let ((mut pa, mut da), (mut pb, mut db)) = (up(a), up(b));
        while da > db {
            a = pa;
            (pa, da) = up(a);
        }
        while db > da {
            b = pb;
            (pb, db) = up(b);
        }
        // Same depth: climb both until they meet (the root is its own parent, and has none).
        while a != b && pa != a && pb != b {
            (a, b) = (pa, pb);
            (pa, _) = up(a);
            (pb, _) = up(b);
        }
        a as usize
    }

    /// The trunk ports of switch `s`, in link order.
    pub fn trunk_ports(&self, s: usize) -> Vec<&str> {
        self.trunks.get(s).map(|t| t.iter().map(String::as_str).collect()).unwrap_or_default()
    }

    /// The service interfaces on switch `name`.
    pub fn interfaces_on<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ServiceInterface> + 'a {
        let at: &[usize] = self.switch_index(name).and_then(|s| self.interfaces_at.get(s)).map_or(&[], Vec::as_slice);
        at.iter().filter_map(|i| self.interfaces.get(*i))
    }

    /// Height of the tree (the deepest switch's depth).
    pub fn height(&self) -> usize {
        self.tree.up.iter().map(|&(_, depth)| depth as usize).max().unwrap_or(0)
    }

    /// The part of the tree a subscriber may see: the `sites` (service interfaces) named,
    /// the `switches` named, the switches those sites hang off, and every switch between
    /// them and the root, so the picture stays one tree. Other customers' sites are not in
    /// it. Switches keep their file order (the root stays first).
    pub fn seen_through(&self, sites: &BTreeSet<String>, switches: &BTreeSet<String>) -> Topology {
        let mut keep = vec![false; self.switches.len()];
        let starts = switches
            .iter()
            .filter_map(|s| self.switch_index(s))
            .chain(sites.iter().filter_map(|i| self.interface(i)).filter_map(|i| self.switch_index(&i.switch)));
        for s in starts.chain(std::iter::once(0)) {
            let mut at = Some(s);
            while let Some(s) = at.filter(|s| !keep.get(*s).copied().unwrap_or(true)) {
                keep[s] = true;
                at = self.parent(s).map(|(p, _)| p);
            }
        }
        let kept = |name: &str| self.switch_index(name).is_some_and(|s| keep[s]);
        let mut seen = Topology::build(
            self.name.clone(),
            self.pool.clone(),
            self.switches.iter().filter(|s| kept(&s.name)).cloned().collect(),
            self.links.iter().filter(|l| kept(&l.a.switch) && kept(&l.b.switch)).cloned().collect(),
            self.interfaces.iter().filter(|i| sites.contains(&i.name) && kept(&i.switch)).cloned().collect(),
        );
        seen.classes = self.classes.clone();
        seen
    }

    fn build(
        name: String,
        pool: VlanPool,
        switches: Vec<Switch>,
        links: Vec<Link>,
        interfaces: Vec<ServiceInterface>,
    ) -> Topology {
        let switch_by_name = NameIndex::new(switches.iter().map(|s| s.name.as_str()));
        let interface_by_name = NameIndex::new(interfaces.iter().map(|i| i.name.as_str()));
        let mut topo = Topology {
            name,
            pool,
            switches,
            links,
            interfaces,
            classes: Classes::default(),
            organizations: Organizations::default(),
            switch_by_name,
            interface_by_name,
            tree: Tree::default(),
            trunks: Vec::new(),
            interfaces_at: Vec::new(),
        };
        topo.tree = topo.compute_tree();
        let n = topo.switches.len();
        let mut trunks = vec![Vec::new(); n];
        for link in &topo.links {
            for end in [&link.a, &link.b] {
                if let Some(t) = topo.switch_index(&end.switch).and_then(|s| trunks.get_mut(s)) {
                    t.push(end.port.clone());
                }
            }
        }
        let mut interfaces_at = vec![Vec::new(); n];
        for (i, iface) in topo.interfaces.iter().enumerate() {
            if let Some(v) = topo.switch_index(&iface.switch).and_then(|s| interfaces_at.get_mut(s)) {
                v.push(i);
            }
        }
        topo.trunks = trunks;
        topo.interfaces_at = interfaces_at;
        topo
    }

    /// Roots the (already validated) tree at switch 0 with an iterative DFS.
    fn compute_tree(&self) -> Tree {
        let n = self.switches.len();
        let mut adj: Vec<Vec<(usize, String, String)>> = vec![Vec::new(); n];
        for link in &self.links {
            if let (Some(a), Some(b)) = (self.switch_index(&link.a.switch), self.switch_index(&link.b.switch)) {
                if let Some(v) = adj.get_mut(a) {
                    v.push((b, link.a.port.clone(), link.b.port.clone()));
                }
                if let Some(v) = adj.get_mut(b) {
                    v.push((a, link.b.port.clone(), link.a.port.clone()));
                }
            }
        }
        let index = |s: usize| u32::try_from(s).unwrap_or(u32::MAX);
        // Until seen, a switch is its own parent at depth 0.
        let up = (0..n).map(|s| (index(s), 0)).collect();
        let mut tree = Tree { parent: vec![None; n], up, tin: vec![0; n], tout: vec![0; n] };
        if n == 0 {
            return tree;
        }
        let mut seen = vec![false; n];
        let mut clock = 0;
        // Stack of (switch, next neighbour index to look at).
        let mut stack = vec![(0usize, 0usize)];
        seen[0] = true;
        tree.tin[0] = clock;
        while let Some(top) = stack.last_mut() {
            let (s, idx) = *top;
            top.1 += 1;
            match adj[s].get(idx) {
                Some((t, my_port, their_port)) => {
                    let t = *t;
                    if !seen[t] {
                        seen[t] = true;
                        clock += 1;
                        tree.tin[t] = clock;
                        tree.up[t] = (index(s), tree.up[s].1 + 1);
                        // Seen from t: the parent is s, t's uplink is their_port, s's downlink my_port.
                        tree.parent[t] = Some((s, their_port.clone(), my_port.clone()));
                        stack.push((t, 0));
                    }
                }
                None => {
                    tree.tout[s] = clock;
                    stack.pop();
                }
            }
        }
        tree
    }
}

/// What `parse` makes of `text`, through `part` (one section of the topology), or its
/// diagnostics as text: for the sections' own tests.
#[cfg(test)]
pub(crate) fn parsed<T>(text: &str, part: impl FnOnce(Topology) -> T) -> Result<T, Vec<String>> {
    parse(text).map(part).map_err(|d| d.iter().map(ToString::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_sees_its_sites_the_switches_named_and_the_way_to_the_root() {
        let topo = parse::parse(include_str!("../../topologies/metro.yaml")).unwrap();
        let sites: BTreeSet<String> = ["acme-1a".to_string()].into();
        let switches: BTreeSet<String> = ["acc8".to_string()].into();
        let seen = topo.seen_through(&sites, &switches);
        assert_eq!(seen.interfaces.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["acme-1a"]);
        assert_eq!(seen.switches[0].name, topo.switches[0].name, "the root stays the root");
        for s in ["acc1", "acc8"] {
            let at = seen.switch_index(s).unwrap_or_else(|| panic!("{s} is seen"));
            // Every seen switch reaches the root through seen switches: one tree.
            let mut up = Some(at);
            while let Some(s) = up {
                up = seen.parent(s).map(|(p, _)| p);
                assert!(up.is_some() || s == 0, "{} hangs loose", seen.switches[s].name);
            }
        }
        assert!(seen.switches.len() < topo.switches.len(), "switches nobody uses are left out");
        assert!(seen.interfaces_on("acc8").next().is_none(), "a switch's other customers are not drawn");
        let nothing = topo.seen_through(&BTreeSet::new(), &BTreeSet::new());
        assert_eq!((nothing.switches.len(), nothing.interfaces.len()), (1, 0), "the root alone");
    }

    const TREE: &str = "name: t
switches:
  core1: {driver: dry-run}
  agg1: {driver: dry-run}
  agg2: {driver: dry-run}
  acc1: {driver: dry-run}
  acc4: {driver: dry-run}
links:
  - endpoints: [core1:a1, agg1:up]
  - endpoints: [core1:a2, agg2:up]
  - endpoints: [agg1:d1, acc1:up]
  - endpoints: [agg2:d1, acc4:up]
interfaces: {}
";

    #[test]
    fn a_route_goes_up_to_the_common_ancestor_and_down() {
        let topo = super::parse(TREE).unwrap();
        let names = |route: Vec<usize>| route.iter().map(|&s| topo.switches[s].name.clone()).collect::<Vec<_>>();
        let at = |name: &str| topo.switch_index(name).unwrap();
        assert_eq!(names(topo.route(at("acc1"), at("acc4"))), ["acc1", "agg1", "core1", "agg2", "acc4"]);
        assert_eq!(names(topo.route(at("acc4"), at("acc1"))), ["acc4", "agg2", "core1", "agg1", "acc1"]);
        assert_eq!(names(topo.route(at("core1"), at("acc4"))), ["core1", "agg2", "acc4"]);
        assert_eq!(names(topo.route(at("acc1"), at("agg1"))), ["acc1", "agg1"]);
        assert_eq!(names(topo.route(at("acc1"), at("acc1"))), ["acc1"]);
    }

    /// A link with a bad port name is one error, at that name: its switch is not also
    /// reported as left out of the tree.
    #[test]
    fn a_bad_port_name_in_a_link_is_one_error() {
        let errors = super::parse(&TREE.replace("[agg1:d1, acc1:up]", "[agg1:d1, 'acc1:u;p']")).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("\"u;p\" contains ';'"), "{errors:?}");
    }

    /// Both `mac` and `macs`: that one error, not also "lists no MAC address".
    #[test]
    fn mac_and_macs_together_is_one_error() {
        let text = TREE.replace(
            "interfaces: {}",
            "interfaces:\n  x: {organization: o, switch: acc1, port: p1, capacity: 1G, mac: '02:00:00:00:00:01', macs: ['02:00:00:00:00:02']}",
        );
        let errors = super::parse(&text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("both `mac` and `macs`"), "{errors:?}");
    }

    /// A name nearest to one known name suggests it; equally near to two or three suggests
    /// them all; to more, none (a pick would be a guess).
    #[test]
    fn suggestions_name_every_name_equally_near() {
        assert_eq!(suggest("acc9", &["acc8", "core1"]), ", did you mean `acc8`?");
        assert_eq!(suggest("sw4", &["sw3", "sw1", "sw2", "core"]), ", did you mean `sw1`, `sw2` or `sw3`?");
        assert_eq!(suggest("s9", &["s1", "s2", "s3", "s4"]), "");
        assert_eq!(suggest("x", &[]), "");
    }

    /// A slip of a required key is one error, at it, and its value is read as the key's; a
    /// link that cannot be read does not also leave its switches "not connected".
    #[test]
    fn a_slip_or_a_bad_link_is_one_error() {
        let errors = |text: &str| super::parse(text).unwrap_err().iter().map(|d| d.to_string()).collect::<Vec<_>>();
        assert_eq!(
            errors(&TREE.replace("- endpoints: [agg2:d1, acc4:up]", "- endpoint: [agg2:d1, acc4:up]")),
            ["12:5: unknown key `endpoint` in this link, did you mean `endpoints`?"]
        );
        assert_eq!(
            errors(&TREE.replace("[agg2:d1, acc4:up]", "[agg2:d1, acc4:up, core1:a3]")),
            ["12:16: a link has exactly 2 endpoints, found 3"]
        );
        assert_eq!(
            errors(&TREE.replace("interfaces: {}", "interfaces: {}\nremtoe: {}")),
            [
                "14:1: unknown key `remtoe` in the topology, did you mean `remote`?; expected one of: name, vlans, switches, links, interfaces, remote, classes, organizations"
            ]
        );
        // A bad link joins what it names, and only that: a switch it does not name is still
        // left out of the tree.
        assert_eq!(
            errors(&TREE.replace("[agg2:d1, acc4:up]", "[agg2:d1]")),
            [
                "7:3: switch `acc4` is not connected to `core1`: add a link that joins it to the tree",
                "12:16: a link has exactly 2 endpoints, found 1"
            ]
        );
        // VLAN 1 may stand in a pool that reserves it.
        assert!(super::parse(&TREE.replace("switches:", "vlans: {pool: 1-99, reserved: [1]}\nswitches:")).is_ok());
        // A switch no link reaches is still reported.
        assert_eq!(
            errors(&TREE.replace("  - endpoints: [agg2:d1, acc4:up]\n", "")),
            ["7:3: switch `acc4` is not connected to `core1`: add a link that joins it to the tree"]
        );
    }

    /// Capacities up to 100T; above it (an overflowing policer rate once) refused where written.
    #[test]
    fn capacities_above_100t_are_refused() {
        let site = |cap: &str| {
            TREE.replace(
                "interfaces: {}",
                &format!("interfaces:\n  x: {{organization: o, switch: acc1, port: p1, capacity: {cap}, macs: ['02:00:00:00:00:01']}}"),
            )
        };
        assert!(super::parse(&site("100T")).is_ok());
        let errors = super::parse(&site("9223372036854775807")).unwrap_err();
        assert!(errors.iter().any(|d| d.message.contains("above 100T")), "{errors:?}");
        assert!(super::parse(&site("101T")).is_err());
    }
}
