//! `switchboard plan`: the change set per switch for a topology and a channels file.
//!
//! The actual state each switch is compared with comes from its driver; the dry-run driver
//! reports an empty switch, so the plan shows the full configuration.
//!
//! The plan is written as it is read from the planner ([`Preview`]): each switch's lines go
//! to a buffered writer as they are made, in both formats, and no item is copied into an
//! owned `Item` or a line into a `String`. What it prints is byte for byte what [`render`]
//! and [`PlanReport`] make of `change_set(planner, &[])` (the golden tests check both).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::model::{ChannelKind, Role};
use crate::orchestrator::compact::{ItemRef, PortName, decimal, mac_text};
use crate::orchestrator::planner::PlannedMember;
use crate::orchestrator::{ChangeSet, ChannelReport, Op, PlannedChannel, Planner, Preview, SwitchPreview};
use crate::southbound::dry_run::{L2CP_BLOCK, L2CP_PREF, PCP_PREF, POLICE_PREF, TC_PREF, render_switch};
use crate::topology::Topology;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The topology YAML file.
    #[arg(long, short = 't')]
    pub topology: PathBuf,
    /// The channels YAML file.
    #[arg(long, short = 'c')]
    pub channels: PathBuf,
    /// Output: iproute2 commands per switch, or the documented JSON (docs/plan-json.md).
    #[arg(long, value_enum, default_value_t = Format::Bridge)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Bridge,
    Json,
}

/// The JSON document `plan --format json` prints (docs/plan-json.md).
#[derive(Debug, Serialize)]
pub struct PlanReport {
    /// Format identifier; changes only with a new major version.
    pub format: &'static str,
    pub topology: String,
    pub channels: Vec<ChannelReport>,
    pub switches: Vec<crate::orchestrator::SwitchChanges>,
}

pub const PLAN_FORMAT: &str = "switchboard.plan/v1";

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let (topo, specs) = match super::load_inputs(&args.topology, &args.channels)? {
        Ok(inputs) => inputs,
        Err(code) => return Ok(code),
    };
    let planner = match super::plan_or_report(&topo, &specs, &args.channels) {
        Ok(planner) => planner,
        Err(code) => return Ok(code),
    };
    let preview = Preview::new(&planner);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    write_preview(&mut out, &planner, &preview, args.format)?;
    out.flush()?;
    // The process ends here: what the plan was made from is the system's to take back at
    // once. Dropped, its millions of allocations would be freed one by one (1.3 s at
    // 100,000 channels).
    std::mem::forget(preview);
    std::mem::forget(planner);
    std::mem::forget(specs);
    std::mem::forget(topo);
    Ok(ExitCode::SUCCESS)
}

/// Writes the plan of `planner` against empty switches in `format`, as `plan` prints it.
pub fn write_plan(out: &mut impl Write, planner: &Planner<'_>, format: Format) -> io::Result<()> {
    write_preview(out, planner, &Preview::new(planner), format)
}

fn write_preview(out: &mut impl Write, planner: &Planner<'_>, preview: &Preview<'_>, format: Format) -> io::Result<()> {
    let topo = planner.topology();
    match format {
        Format::Bridge => {
            writeln!(out, "# switchboard plan for topology {}: {} change(s)", topo.name, preview.len())?;
            for sw in preview.switches() {
                write_switch(out, &sw)?;
            }
        }
        Format::Json => {
            let report = ReportRef {
                format: PLAN_FORMAT,
                topology: &topo.name,
                channels: Channels(topo, planner),
                switches: Switches(preview),
            };
            super::pretty::to_writer(&mut *out, &report)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// [`PlanReport`] by reference: channels and switches are serialized as they are read.
#[derive(Serialize)]
struct ReportRef<'a> {
    format: &'static str,
    topology: &'a str,
    channels: Channels<'a>,
    switches: Switches<'a>,
}

struct Channels<'a>(&'a Topology, &'a Planner<'a>);

impl Serialize for Channels<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.1.channels().values().map(|channel| ChannelRef { topology: self.0, channel }))
    }
}

/// A [`ChannelReport`] by reference, written as it is read: the same fields in the same
/// order, the names borrowed from the channel and the topology (a `ChannelReport` made for
/// each channel cost ten or so strings apiece, a million at 100,000 channels).
struct ChannelRef<'a> {
    topology: &'a Topology,
    channel: &'a PlannedChannel,
}

impl Serialize for ChannelRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// `ChannelReport`'s fields, borrowed.
        #[derive(Serialize)]
        struct Fields<'a> {
            name: &'a str,
            kind: ChannelKind,
            vlan: u16,
            leaf_vlan: Option<u16>,
            bandwidth_mbps: u64,
            class: &'a str,
            pcp: u8,
            path: SwitchNames<'a>,
            members: Members<'a>,
        }
        /// `MemberReport`'s fields, borrowed.
        #[derive(Serialize)]
        struct Member<'a> {
            interface: &'a str,
            switch: &'a str,
            role: Role,
            bridge_port: &'a str,
            customer_vlan: Option<u16>,
            bandwidth_mbps: u64,
        }
        struct SwitchNames<'a>(&'a Topology, &'a [usize]);
        impl Serialize for SwitchNames<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.1.iter().map(|s| switch_name(self.0, *s)))
            }
        }
        struct Members<'a>(&'a Topology, &'a [PlannedMember]);
        impl Serialize for Members<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.1.iter().map(|m| Member {
                    interface: &m.interface,
                    switch: switch_name(self.0, m.switch),
                    role: m.role,
                    bridge_port: &m.bridge_port,
                    customer_vlan: m.customer_vlan,
                    bandwidth_mbps: m.bandwidth_mbps,
                }))
            }
        }
        /// As `ChannelReport::new` names a switch: empty for an index past the end.
        fn switch_name(topology: &Topology, s: usize) -> &str {
            topology.switches.get(s).map_or("", |sw| sw.name.as_str())
        }
        let c = self.channel;
        Fields {
            name: &c.name,
            kind: c.kind,
            vlan: c.vlan,
            leaf_vlan: c.leaf_vlan,
            bandwidth_mbps: c.bandwidth_mbps,
            class: &c.class,
            pcp: c.pcp,
            path: SwitchNames(self.topology, &c.path),
            members: Members(self.topology, &c.members),
        }
        .serialize(serializer)
    }
}

struct Switches<'a>(&'a Preview<'a>);

impl Serialize for Switches<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.switches())
    }
}

/// The change set as a shell script of iproute2 commands, one section per switch.
pub fn render(changes: &ChangeSet) -> String {
    let mut out = format!("# switchboard plan for topology {}: {} change(s)\n", changes.topology, changes.len());
    for sw in &changes.switches {
        render_switch(&mut out, sw);
    }
    out
}

/// One switch's section of the script, as `dry_run::render_switch` writes it.
fn write_switch(out: &mut impl Write, sw: &SwitchPreview<'_>) -> io::Result<()> {
    let driver = &sw.switch.driver;
    let netns = driver.netns();
    // Every change of a preview is an addition.
    write!(out, "# switch {} (driver {}", sw.switch.name, driver.kind())?;
    if let Some(ns) = netns {
        write!(out, ", netns {ns}")?;
    }
    writeln!(out, ", bridge {}): {} to add, 0 to remove", driver.bridge(), sw.len())?;
    let tools = Tools::new(netns);
    for change in sw.changes() {
        write_change(out, &tools, driver.bridge(), change.op, &change.item)?;
    }
    Ok(())
}

/// The start of each program's command lines on one switch: `bridge -n NETNS ` or `bridge `.
struct Tools {
    ip: Vec<u8>,
    bridge: Vec<u8>,
    tc: Vec<u8>,
}

impl Tools {
    fn new(netns: Option<&str>) -> Tools {
        let start = |tool: &str| match netns {
            Some(ns) => format!("{tool} -n {ns} ").into_bytes(),
            None => format!("{tool} ").into_bytes(),
        };
        Tools { ip: start("ip"), bridge: start("bridge"), tc: start("tc") }
    }
}

/// The command lines of one change, as `dry_run::command_lines` makes them, written piece
/// by piece.
fn write_change(out: &mut impl Write, tools: &Tools, bridge: &str, op: Op, item: &ItemRef<'_>) -> io::Result<()> {
    let bridge = bridge.as_bytes();
    match (op, item) {
        (op, ItemRef::ProviderBridge { snooping_off }) => {
            let protocol: &[u8] = if op == Op::Add { b"802.1ad" } else { b"802.1Q" };
            let snooping: &[u8] = if op == Op::Add && *snooping_off { b"0" } else { b"1" };
            let pieces: &[&[u8]] = &[
                &tools.ip,
                b"link set dev ",
                bridge,
                b" type bridge vlan_protocol ",
                protocol,
                b" mcast_snooping ",
                snooping,
            ];
            line(out, pieces)
        }
        (Op::Add, ItemRef::SubInterface { parent, vid }) => {
            let parent = parent.as_bytes();
            line(out, &[&tools.ip, b"link set dev ", parent, b" up"])?;
            let (digits, n) = decimal(*vid);
            let vid = &digits[..n];
            line(out, &[&tools.ip, b"link add link ", parent, b" name ", parent, b".", vid, b" type vlan id ", vid])
        }
        (Op::Remove, ItemRef::SubInterface { parent, vid }) => {
            let (digits, n) = decimal(*vid);
            line(out, &[&tools.ip, b"link del dev ", parent.as_bytes(), b".", &digits[..n]])
        }
        (Op::Add, ItemRef::Port { port, mcast_flood }) => with_port(port, |port| {
            line(out, &[&tools.ip, b"link set dev ", port, b" master ", bridge])?;
            line(out, &[&tools.ip, b"link set dev ", port, b" up"])?;
            let mcast: &[u8] = if *mcast_flood { b" on" } else { b" off" };
            line(out, &[&tools.bridge, b"link set dev ", port, b" learning off flood off mcast_flood", mcast])
        }),
        (Op::Remove, ItemRef::Port { port, .. }) => {
            with_port(port, |port| line(out, &[&tools.ip, b"link set dev ", port, b" nomaster"]))
        }
        (op, ItemRef::Vlan { port, vid, pvid, untagged }) => with_port(port, |port| {
            let (digits, n) = decimal(*vid);
            let vid = &digits[..n];
            match op {
                Op::Add => {
                    let pvid: &[u8] = if *pvid { b" pvid" } else { b"" };
                    let untagged: &[u8] = if *untagged { b" untagged" } else { b"" };
                    line(out, &[&tools.bridge, b"vlan add dev ", port, b" vid ", vid, pvid, untagged])
                }
                Op::Remove => line(out, &[&tools.bridge, b"vlan del dev ", port, b" vid ", vid]),
            }
        }),
        (op, ItemRef::Clsact { port }) => with_port(port, |port| {
            let verb: &[u8] = if op == Op::Add { b"qdisc add dev " } else { b"qdisc del dev " };
            line(out, &[&tools.tc, verb, port, b" clsact"])
        }),
        (op, ItemRef::TcDrop { port, direction, protocol }) => with_port(port, |port| {
            let (digits, n) = decimal(TC_PREF);
            let pref = &digits[..n];
            let direction = direction.as_str().as_bytes();
            let protocol = protocol.as_str().as_bytes();
            match op {
                Op::Add => line(
                    out,
                    &[
                        &tools.tc,
                        b"filter add dev ",
                        port,
                        b" ",
                        direction,
                        b" protocol ",
                        protocol,
                        b" pref ",
                        pref,
                        b" matchall action drop",
                    ],
                ),
                Op::Remove => line(
                    out,
                    &[
                        &tools.tc,
                        b"filter del dev ",
                        port,
                        b" ",
                        direction,
                        b" protocol ",
                        protocol,
                        b" pref ",
                        pref,
                        b" matchall",
                    ],
                ),
            }
        }),
        (op, ItemRef::Police { port, rate_bps, burst_bytes, conform }) => with_port(port, |port| {
            let (digits, n) = decimal(POLICE_PREF);
            let pref = &digits[..n];
            match op {
                Op::Add => {
                    let rate = rate_bps.to_string();
                    let burst = burst_bytes.to_string();
                    line(
                        out,
                        &[
                            &tools.tc,
                            b"filter add dev ",
                            port,
                            b" ingress protocol all pref ",
                            pref,
                            b" matchall action police rate ",
                            rate.as_bytes(),
                            b"bit burst ",
                            burst.as_bytes(),
                            b" conform-exceed drop/",
                            conform.as_str().as_bytes(),
                        ],
                    )
                }
                Op::Remove => line(
                    out,
                    &[&tools.tc, b"filter del dev ", port, b" ingress protocol all pref ", pref, b" matchall"],
                ),
            }
        }),
        (op, ItemRef::Pcp { port, vid, pcp }) => with_port(port, |port| {
            let (digits, n) = decimal(PCP_PREF);
            let pref = &digits[..n];
            let (vdigits, vn) = decimal(*vid);
            let vid = &vdigits[..vn];
            let head: &[&[u8]] = &[&tools.tc, b"filter ", if op == Op::Add { b"add" } else { b"del" }, b" dev ", port];
            let key: &[&[u8]] = &[b" egress protocol 802.1ad pref ", pref, b" handle ", vid, b" flower"];
            match op {
                Op::Add => {
                    let pcp = [b'0' + pcp.min(&9)];
                    let tail: &[&[u8]] = &[
                        b" vlan_id ",
                        vid,
                        b" action vlan modify id ",
                        vid,
                        b" priority ",
                        &pcp,
                        b" protocol 802.1ad",
                    ];
                    line(out, &[head, key, tail].concat())
                }
                Op::Remove => line(out, &[head, key].concat()),
            }
        }),
        (op, ItemRef::L2cp { port, .. }) => with_port(port, |port| {
            let (digits, n) = decimal(L2CP_PREF);
            let pref = &digits[..n];
            match op {
                Op::Add => line(
                    out,
                    &[
                        &tools.tc,
                        b"filter add dev ",
                        port,
                        b" ingress protocol all pref ",
                        pref,
                        b" handle 1 flower dst_mac ",
                        L2CP_BLOCK.as_bytes(),
                        b" action drop",
                    ],
                ),
                Op::Remove => line(out, &[&tools.tc, b"filter del dev ", port, b" ingress pref ", pref]),
            }
        }),
        (op, ItemRef::Fdb { mac, vid, port }) => with_port(port, |port| {
            let mac = mac_text(mac.0);
            let (digits, n) = decimal(*vid);
            let vid = &digits[..n];
            match op {
                Op::Add => line(out, &[&tools.bridge, b"fdb add ", &mac, b" dev ", port, b" master static vlan ", vid]),
                Op::Remove => line(out, &[&tools.bridge, b"fdb del ", &mac, b" dev ", port, b" master vlan ", vid]),
            }
        }),
    }
}

/// Calls `f` with the port's name spelled out (`base` or `base.tag`) on the stack.
fn with_port<T>(port: &PortName<'_>, f: impl FnOnce(&[u8]) -> T) -> T {
    port.with_spelled(|name| f(name.as_bytes()))
}

/// Writes the pieces of one line and its newline.
fn line(out: &mut impl Write, pieces: &[&[u8]]) -> io::Result<()> {
    for piece in pieces {
        out.write_all(piece)?;
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::Mac;
    use crate::orchestrator::compact::Names;
    use crate::orchestrator::{Change, Conform, Direction, Item, SwitchChanges, TagProtocol};
    use crate::topology::DriverConfig;

    /// Every kind of item, with ports and sub-interfaces.
    fn items() -> Vec<Item> {
        let mac = Mac([2, 0x5b, 0xa0, 0x0f, 1, 0xff]);
        vec![
            Item::SubInterface { parent: "c1".into(), vid: 4094 },
            Item::Port { port: "c1.4094".into(), mcast_flood: true },
            Item::Port { port: "up".into(), mcast_flood: false },
            Item::Vlan { port: "c1.7".into(), vid: 7, pvid: true, untagged: true },
            Item::Vlan { port: "d3".into(), vid: 12, pvid: false, untagged: false },
            Item::Vlan { port: "c2.30".into(), vid: 2, pvid: true, untagged: false },
            Item::Vlan { port: "c2.30".into(), vid: 3, pvid: false, untagged: true },
            Item::Clsact { port: "c2.30".into() },
            Item::ProviderBridge { snooping_off: true },
            Item::ProviderBridge { snooping_off: false },
            Item::TcDrop { port: "c2.30".into(), direction: Direction::Ingress, protocol: TagProtocol::Dot1Ad },
            Item::TcDrop { port: "c2.30".into(), direction: Direction::Egress, protocol: TagProtocol::Dot1Ad },
            Item::TcDrop { port: "c2.30".into(), direction: Direction::Egress, protocol: TagProtocol::Dot1Q },
            Item::Police {
                port: "c2.30".into(),
                rate_bps: 10_000_000,
                burst_bytes: 12_500,
                conform: Conform::Continue,
            },
            Item::Police { port: "c2.30".into(), rate_bps: 10_000_000, burst_bytes: 12_500, conform: Conform::Pass },
            Item::Pcp { port: "up".into(), vid: 4094, pcp: 5 },
            Item::Pcp { port: "d3".into(), vid: 12, pcp: 7 },
            Item::L2cp { port: "c1.4094".into(), foreign: false },
            Item::L2cp { port: "c2".into(), foreign: true },
            Item::Fdb { mac, vid: 100, port: "up".into() },
        ]
    }

    /// The lines written piece by piece are the dry-run driver's, for both operations, with
    /// and without a namespace, and with a port read as `base.tag`.
    #[test]
    fn lines_are_the_dry_run_drivers() {
        for netns in [None, Some("metro-agg1")] {
            let driver = DriverConfig::DryRun { bridge: "br0".into(), netns: netns.map(str::to_string) };
            for op in [Op::Add, Op::Remove] {
                let changes: Vec<Change> = items().into_iter().map(|item| Change { op, item }).collect();
                let mut want = String::new();
                let sw = SwitchChanges { switch: "s".into(), driver: driver.clone(), changes: changes.clone() };
                render_switch(&mut want, &sw);
                let mut got = Vec::new();
                let tools = Tools::new(netns);
                for change in &changes {
                    write_change(&mut got, &tools, "br0", change.op, &ItemRef::of(&change.item)).unwrap();
                }
                let want_lines: String = want.lines().skip(1).map(|l| format!("{l}\n")).collect();
                assert_eq!(String::from_utf8(got).unwrap(), want_lines);
            }
        }
        let mut tagged = Vec::new();
        let port = PortName { base: "c12", tag: 305 };
        write_change(&mut tagged, &Tools::new(None), "br0", Op::Add, &ItemRef::Clsact { port }).unwrap();
        assert_eq!(String::from_utf8(tagged).unwrap(), "tc qdisc add dev c12.305 clsact\n");
        assert_eq!(&mac_text([0, 0x1f, 0xa0, 0xff, 9, 0x10]), b"00:1f:a0:ff:09:10");
    }

    /// `write_plan` prints what `render` and `PlanReport` make of the owned change set.
    #[test]
    fn written_plan_is_the_rendered_change_set() {
        let topo = crate::topology::parse(include_str!("../../topologies/metro.yaml")).unwrap();
        let (specs, diags) = crate::orchestrator::parse_channels(include_str!("../../topologies/metro.channels.yaml"));
        assert!(diags.is_empty());
        let planner = crate::orchestrator::plan(&topo, &specs).unwrap();
        let changes = crate::orchestrator::change_set(&planner, &[]);
        let mut bridge = Vec::new();
        write_plan(&mut bridge, &planner, Format::Bridge).unwrap();
        assert_eq!(String::from_utf8(bridge).unwrap(), render(&changes));
        let report = PlanReport {
            format: PLAN_FORMAT,
            topology: topo.name.clone(),
            channels: planner.channels().values().map(|c| ChannelReport::new(&topo, c)).collect(),
            switches: changes.switches.clone(),
        };
        let mut json = Vec::new();
        write_plan(&mut json, &planner, Format::Json).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), serde_json::to_string_pretty(&report).unwrap() + "\n");
        // And each switch's desired state is the planner's, item for item.
        let names = Names::new(&topo);
        for (s, keys) in planner.desired_keys().iter().enumerate() {
            let items: Vec<Item> = keys.iter().map(|k| names.item(k).to_item()).collect();
            assert_eq!(items, planner.desired(s).into_iter().collect::<Vec<_>>());
            assert_eq!(items.iter().collect::<BTreeSet<_>>().len(), items.len());
        }
    }
}
