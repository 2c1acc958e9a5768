//! The dry-run driver: keeps a switch's state in memory, records every change set it is
//! given, and renders change sets as the iproute2 commands (`ip`, `bridge`, `tc`) that
//! would make them on a Linux bridge.
//!
//! The rendered commands are literal: run them as a script, or feed the consecutive lines
//! of one tool to `TOOL -n NETNS -batch -` (see [`batches`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::orchestrator::{Change, Item, Op, SwitchChanges, apply};

use super::{ApplyError, Driver, DriverError};

/// The tc filter priority of Switchboard's drops of S-tagged (802.1ad) frames: every
/// member's ingress, and an E-Tree leaf's egress.
pub const TC_PREF: u16 = 1;

/// The tc filter priority of a member's ingress policer: after the drop of S-tagged
/// frames, so what that drops is never counted against the bandwidth.
pub const POLICE_PREF: u16 = 2;

/// The tc filter priority of the PCP rewrites on trunks' egress ([`Item::Pcp`]), one filter
/// per channel VLAN, its handle the VLAN ID.
pub const PCP_PREF: u16 = 3;

/// The tc filter priority of the L2CP discard on a member's ingress ([`Item::L2cp`]), after
/// the drop of S-tagged frames (1) and the policer (2), so that what it drops is counted
/// against the bandwidth as any frame the customer sends is.
pub const L2CP_PREF: u16 = 3;

/// The IEEE 802.1 reserved block the L2CP discard matches, as `tc` spells it:
/// 01:80:c2:00:00:00 to 01:80:c2:00:00:0f (BPDUs, LACP and the other slow protocols, LLDP).
pub const L2CP_BLOCK: &str = "01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0";
/// A switch simulated in memory.
#[derive(Clone, Debug, Default)]
pub struct DryRun {
    pub switch: String,
    pub netns: Option<String>,
    pub bridge: String,
    /// What the simulated switch holds.
    pub state: BTreeSet<Item>,
    /// Every change list applied, in order.
    pub log: Vec<Vec<Change>>,
    /// Fault injection: fail the change with this index (counted over the driver's life).
    pub fail_at: Option<usize>,
    applied: usize,
}

impl DryRun {
    pub fn new(switch: &str, netns: Option<&str>, bridge: &str) -> DryRun {
        DryRun { switch: switch.into(), netns: netns.map(str::to_string), bridge: bridge.into(), ..DryRun::default() }
    }
}

impl Driver for DryRun {
    fn switch(&self) -> &str {
        &self.switch
    }

    fn read_state(&mut self) -> Result<BTreeSet<Item>, DriverError> {
        Ok(self.state.clone())
    }

    fn inject_fault(&mut self, change_index: usize) {
        self.fail_at = Some(self.applied + change_index);
    }

    /// A simulated switch carries no traffic.
    fn port_bytes(&mut self, _ports: &[String]) -> Result<Option<BTreeMap<String, u64>>, DriverError> {
        Ok(None)
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), ApplyError> {
        self.log.push(changes.to_vec());
        for (done, change) in changes.iter().enumerate() {
            if self.fail_at == Some(self.applied) {
                self.fail_at = None;
                return Err(ApplyError {
                    switch: self.switch.clone(),
                    done,
                    op: command(change, &self.bridge).join(" && "),
                    message: "injected fault".into(),
                });
            }
            apply(&mut self.state, std::slice::from_ref(change));
            self.applied += 1;
        }
        Ok(())
    }
}

/// Which iproute2 program a command line is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Ip,
    Bridge,
    Tc,
}

impl Tool {
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Ip => "ip",
            Tool::Bridge => "bridge",
            Tool::Tc => "tc",
        }
    }
}

/// The iproute2 commands for one change, without the program name and options
/// (the form `-batch` files use), each with its program.
pub fn batch_lines(change: &Change, bridge: &str) -> Vec<(Tool, String)> {
    use Tool::{Bridge, Ip, Tc};
    match (&change.op, &change.item) {
        (Op::Add, Item::ProviderBridge { snooping_off }) => vec![(
            Ip,
            format!(
                "link set dev {bridge} type bridge vlan_protocol 802.1ad mcast_snooping {}",
                u8::from(!snooping_off)
            ),
        )],
        (Op::Remove, Item::ProviderBridge { .. }) => {
            vec![(Ip, format!("link set dev {bridge} type bridge vlan_protocol 802.1Q mcast_snooping 1"))]
        }
        (Op::Add, Item::SubInterface { parent, vid }) => vec![
            (Ip, format!("link set dev {parent} up")),
            (Ip, format!("link add link {parent} name {parent}.{vid} type vlan id {vid}")),
        ],
        (Op::Remove, Item::SubInterface { parent, vid }) => vec![(Ip, format!("link del dev {parent}.{vid}"))],
        (Op::Add, Item::Port { port, mcast_flood }) => vec![
            (Ip, format!("link set dev {port} master {bridge}")),
            (Ip, format!("link set dev {port} up")),
            (
                Bridge,
                format!(
                    "link set dev {port} learning off flood off mcast_flood {}",
                    if *mcast_flood { "on" } else { "off" }
                ),
            ),
        ],
        (Op::Remove, Item::Port { port, .. }) => vec![(Ip, format!("link set dev {port} nomaster"))],
        (Op::Add, Item::Vlan { port, vid, pvid, untagged }) => {
            let mut line = format!("vlan add dev {port} vid {vid}");
            if *pvid {
                line.push_str(" pvid");
            }
            if *untagged {
                line.push_str(" untagged");
            }
            vec![(Bridge, line)]
        }
        (Op::Remove, Item::Vlan { port, vid, .. }) => vec![(Bridge, format!("vlan del dev {port} vid {vid}"))],
        (Op::Add, Item::Clsact { port }) => vec![(Tc, format!("qdisc add dev {port} clsact"))],
        (Op::Remove, Item::Clsact { port }) => vec![(Tc, format!("qdisc del dev {port} clsact"))],
        (Op::Add, Item::TcDrop { port, direction, protocol }) => vec![(
            Tc,
            format!(
                "filter add dev {port} {} protocol {} pref {TC_PREF} matchall action drop",
                direction.as_str(),
                protocol.as_str()
            ),
        )],
        (Op::Remove, Item::TcDrop { port, direction, protocol }) => vec![(
            Tc,
            format!(
                "filter del dev {port} {} protocol {} pref {TC_PREF} matchall",
                direction.as_str(),
                protocol.as_str()
            ),
        )],
        (Op::Add, Item::Police { port, rate_bps, burst_bytes, conform }) => vec![(
            Tc,
            format!(
                "filter add dev {port} ingress protocol all pref {POLICE_PREF} matchall action police \
                 rate {rate_bps}bit burst {burst_bytes} conform-exceed drop/{}",
                conform.as_str()
            ),
        )],
        (Op::Remove, Item::Police { port, .. }) => {
            vec![(Tc, format!("filter del dev {port} ingress protocol all pref {POLICE_PREF} matchall"))]
        }
        (Op::Add, Item::Pcp { port, vid, pcp }) => vec![(
            Tc,
            format!(
                "filter add dev {port} egress protocol 802.1ad pref {PCP_PREF} handle {vid} flower vlan_id {vid} \
                 action vlan modify id {vid} priority {pcp} protocol 802.1ad"
            ),
        )],
        (Op::Remove, Item::Pcp { port, vid, .. }) => {
            vec![(Tc, format!("filter del dev {port} egress protocol 802.1ad pref {PCP_PREF} handle {vid} flower"))]
        }
        (Op::Add, Item::L2cp { port, .. }) => vec![(
            Tc,
            format!(
                "filter add dev {port} ingress protocol all pref {L2CP_PREF} handle 1 flower dst_mac {L2CP_BLOCK} \
                 action drop"
            ),
        )],
        // Whatever is at the preference, ours or not: `tc` sends no protocol, which matches any.
        (Op::Remove, Item::L2cp { port, .. }) => vec![(Tc, format!("filter del dev {port} ingress pref {L2CP_PREF}"))],
        (Op::Add, Item::Fdb { mac, vid, port }) => {
            vec![(Bridge, format!("fdb add {mac} dev {port} master static vlan {vid}"))]
        }
        (Op::Remove, Item::Fdb { mac, vid, port }) => {
            vec![(Bridge, format!("fdb del {mac} dev {port} master vlan {vid}"))]
        }
    }
}

/// The full command lines for one change on a switch in namespace `netns`.
pub fn command_lines(change: &Change, bridge: &str, netns: Option<&str>) -> Vec<String> {
    batch_lines(change, bridge)
        .into_iter()
        .map(|(tool, line)| match netns {
            Some(ns) => format!("{} -n {ns} {line}", tool.as_str()),
            None => format!("{} {line}", tool.as_str()),
        })
        .collect()
}

fn command(change: &Change, bridge: &str) -> Vec<String> {
    command_lines(change, bridge, None)
}

/// Consecutive lines for the same program, in order: each group can be fed to
/// `PROGRAM [-n NETNS] -batch -` and the groups run one after another.
pub fn batches(changes: &[Change], bridge: &str) -> Vec<(Tool, Vec<String>)> {
    let mut groups: Vec<(Tool, Vec<String>)> = Vec::new();
    for change in changes {
        for (tool, line) in batch_lines(change, bridge) {
            match groups.last_mut() {
                Some((t, lines)) if *t == tool => lines.push(line),
                _ => groups.push((tool, vec![line])),
            }
        }
    }
    groups
}

/// Renders one switch's changes as a commented shell script section.
pub fn render_switch(out: &mut String, sw: &SwitchChanges) {
    let netns = sw.driver.netns();
    let adds = sw.changes.iter().filter(|c| c.op == Op::Add).count();
    let removes = sw.changes.len() - adds;
    let _ = write!(out, "# switch {} (driver {}", sw.switch, sw.driver.kind());
    if let Some(ns) = netns {
        let _ = write!(out, ", netns {ns}");
    }
    let _ = writeln!(out, ", bridge {}): {adds} to add, {removes} to remove", sw.driver.bridge());
    for change in &sw.changes {
        for line in command_lines(change, sw.driver.bridge(), netns) {
            let _ = writeln!(out, "{line}");
        }
    }
}
