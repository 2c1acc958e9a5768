//! What a channel asks for ([`ChannelSpec`]), and the channels file the CLI reads.
//!
//! The orchestrator will build the same specs from its database; both go through the planner,
//! which does all semantic checks. The parser here only checks shape and value syntax.

use compact_str::CompactString;
use serde::Serialize;

use crate::model::{ChannelKind, Diagnostic, Pos, Role, VlanId};
use crate::topology::yaml::{self, Node, Reader, Value};

/// One channel as requested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelSpec {
    pub name: CompactString,
    pub kind: ChannelKind,
    /// A pinned VLAN (the root VLAN of an E-Tree); `None` lets the planner pick.
    pub vlan: Option<VlanId>,
    /// A pinned leaf VLAN for an E-Tree.
    pub leaf_vlan: Option<VlanId>,
    /// Committed bandwidth in Mbps; counted against every member interface's capacity.
    pub bandwidth_mbps: u64,
    /// Class of service: one of the topology's classes ([`crate::topology::Classes`]),
    /// [`crate::topology::DEFAULT_CLASS`] when the file names none.
    pub class: CompactString,
    pub members: Vec<MemberSpec>,
    /// Where the channel starts in its file (for messages).
    pub pos: Pos,
}

/// A service interface plugged into a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberSpec {
    pub interface: CompactString,
    /// Required for p2mp, not allowed otherwise.
    pub role: Option<Role>,
    /// The tag the customer uses on a tagged-mode interface; defaults to the channel's VLAN.
    pub customer_vlan: Option<VlanId>,
    /// This member's own bandwidth in Mbps (its ingress policer's rate, and what it takes of
    /// its interface's capacity); `None`: the channel's.
    pub bandwidth_mbps: Option<u64>,
    pub pos: Pos,
}

impl MemberSpec {
    /// The member's bandwidth in Mbps: its own, or else `channel`'s.
    pub fn bandwidth_in(&self, channel: u64) -> u64 {
        self.bandwidth_mbps.unwrap_or(channel)
    }
}

/// Bandwidth of a channel that does not say.
pub const DEFAULT_BANDWIDTH_MBPS: u64 = 10;

/// Parses a channels file: a YAML list of channels (or a mapping with a `channels:` list).
/// Returns the channels that could be read and every problem found; callers plan the
/// former so that one run reports syntax and planning problems together.
pub fn parse_channels(text: &str) -> (Vec<ChannelSpec>, Vec<Diagnostic>) {
    match parse_channels_strict(text) {
        Ok(specs) => (specs, Vec::new()),
        Err((specs, diags)) => (specs, diags),
    }
}

fn parse_channels_strict(text: &str) -> Result<Vec<ChannelSpec>, (Vec<ChannelSpec>, Vec<Diagnostic>)> {
    let root = yaml::parse(text).map_err(|d| (Vec::new(), vec![d]))?;
    if root.value == Value::Null {
        // A file cut short or a failed redirect reads as no channels, and `apply` would
        // then take every channel off the switches: no channels is said, not implied.
        return whole_file(root.pos, "the channels file is empty: list the channels, or write `[]` to mean none");
    }
    let mut r = Reader::default();
    let items: &[Node] = match &root.value {
        Value::Map(entries) if entries.iter().any(|(k, _)| k.value == Value::Str("switches".into())) => {
            let message = "this is a topology (it has `switches`), not a channels file: \
                           the topology goes after -t, the channels after -c";
            return whole_file(root.pos, message);
        }
        Value::Map(_) => {
            let mut f = r.map(&root, "the channels file").ok_or_else(|| (Vec::new(), r.diagnostics.clone()))?;
            let list = f.require(&mut r, "channels", "the channels file");
            f.finish(&mut r, "the channels file", &["channels"]);
            if let Some(n) = list.filter(|n| n.value == Value::Null) {
                return whole_file(
                    n.pos,
                    "`channels` is empty: list the channels, or write `channels: []` to mean none",
                );
            }
            match list {
                Some(n) => r.seq(n, "`channels`"),
                None => &[],
            }
        }
        _ => r.seq(&root, "the channels file"),
    };
    // Sized once: grown by doubling, 100,000 specs were copied ~17 times over.
    let mut specs: Vec<ChannelSpec> = Vec::with_capacity(items.len());
    specs.extend(items.iter().filter_map(|n| read_channel(&mut r, n)));
    if r.diagnostics.is_empty() {
        Ok(specs)
    } else {
        let mut d = r.diagnostics;
        d.sort();
        Err((specs, d))
    }
}

/// A problem with the file as a whole: the one error, and no channels.
fn whole_file(pos: Pos, message: &str) -> Result<Vec<ChannelSpec>, (Vec<ChannelSpec>, Vec<Diagnostic>)> {
    Err((Vec::new(), vec![Diagnostic::new(pos, message.to_string())]))
}

fn vlan(r: &mut Reader, node: &Node, what: &str) -> Option<VlanId> {
    r.int(node, what, 1, 4094).and_then(|v| VlanId::new(v as u16))
}

/// A `bandwidth`: Mbps, or with a unit as capacities are written ("100M", "10G", "1T"), from
/// 1 Mbps to 100T.
fn mbps(r: &mut Reader, n: &Node) -> Option<u64> {
    let max = crate::model::MAX_MBPS;
    match &n.value {
        Value::Str(s) => match crate::topology::parse_mbps(s) {
            Some(m) if m <= max => Some(m),
            _ => {
                r.error(n.pos, crate::topology::rate_problem("`bandwidth`", &n.value));
                None
            }
        },
        Value::Float(_) => {
            r.error(n.pos, crate::topology::rate_problem("`bandwidth`", &n.value));
            None
        }
        _ => r.int(n, "`bandwidth` (Mbps)", 1, max as i64).map(|b| b as u64),
    }
}

fn read_channel(r: &mut Reader, node: &Node) -> Option<ChannelSpec> {
    let mut f = r.map(node, "a channel")?;
    let name = f.require(r, "name", "this channel").and_then(|n| r.compact(n, "`name`"));
    let what = ChannelWhat(name.as_deref());
    let kind = f.require(r, "kind", what).and_then(|n| r.parse_str::<ChannelKind>(n, "`kind`"));
    let vlan_id = f.get("vlan").and_then(|n| vlan(r, n, "`vlan`"));
    let leaf_vlan = f.get("leaf_vlan").and_then(|n| vlan(r, n, "`leaf_vlan`"));
    let bandwidth = match f.get("bandwidth") {
        Some(n) => mbps(r, n),
        None => Some(DEFAULT_BANDWIDTH_MBPS),
    };
    let class = match f.get("class") {
        Some(n) => r.compact(n, "`class`"),
        None => Some(CompactString::const_new(crate::topology::DEFAULT_CLASS)),
    };
    let mut members = Vec::new();
    // Whether every member was read: a channel missing one is not planned, so it is not
    // also told it has too few members (or no root or leaf).
    let mut all_read = false;
    if let Some(list) = f.require(r, "members", what) {
        all_read = matches!(list.value, Value::Seq(_));
        let list = r.seq(list, "`members`");
        members.reserve_exact(list.len());
        for m in list {
            match read_member(r, m) {
                Some(member) => members.push(member),
                None => all_read = false,
            }
        }
    }
    f.finish(r, what, &["name", "kind", "vlan", "leaf_vlan", "bandwidth", "class", "members"]);
    if !all_read {
        return None;
    }
    Some(ChannelSpec {
        name: name?,
        kind: kind?,
        vlan: vlan_id,
        leaf_vlan,
        bandwidth_mbps: bandwidth?,
        class: class?,
        members,
        pos: node.pos,
    })
}

/// "channel `NAME`" in messages about a channel, spelled out only when there is one.
#[derive(Clone, Copy)]
struct ChannelWhat<'a>(Option<&'a str>);

impl std::fmt::Display for ChannelWhat<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "channel `{}`", self.0.unwrap_or("?"))
    }
}

fn read_member(r: &mut Reader, node: &Node) -> Option<MemberSpec> {
    // A bare name is shorthand for `{interface: NAME}` (a number too, as names are read).
    if matches!(node.value, Value::Str(_) | Value::Int(_) | Value::Bool(_)) {
        return Some(MemberSpec {
            interface: r.compact(node, "a member")?,
            role: None,
            customer_vlan: None,
            bandwidth_mbps: None,
            pos: node.pos,
        });
    }
    if !matches!(node.value, Value::Map(_)) {
        let message =
            format!("a member must be an interface name or {{interface: NAME, ...}}, found {}", node.value.describe());
        r.error(node.pos, message);
        return None;
    }
    let mut f = r.map(node, "a member")?;
    let interface = f.require(r, "interface", "this member").and_then(|n| r.compact(n, "`interface`"));
    let role = f.get("role").and_then(|n| r.parse_str::<Role>(n, "`role`"));
    let customer_vlan = f.get("customer_vlan").and_then(|n| vlan(r, n, "`customer_vlan`"));
    let bandwidth_mbps = f.get("bandwidth").and_then(|n| mbps(r, n));
    f.finish(r, "a member", &["interface", "role", "customer_vlan", "bandwidth"]);
    Some(MemberSpec { interface: interface?, role, customer_vlan, bandwidth_mbps, pos: node.pos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_may_give_its_own_bandwidth() {
        let (specs, diags) = parse_channels(
            "- {name: e, kind: p2p, bandwidth: 20, members: [{interface: x, bandwidth: 5}, y]}\n\
             - {name: f, kind: p2p, members: [{interface: x, bandwidth: 0}, {interface: y, bandwidth: fast}]}",
        );
        let figures: Vec<Option<u64>> = specs.iter().flat_map(|s| s.members.iter().map(|m| m.bandwidth_mbps)).collect();
        assert_eq!(figures, [Some(5), None, None, None]);
        assert_eq!(specs[0].members[1].bandwidth_in(specs[0].bandwidth_mbps), 20);
        let said: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "2:60: `bandwidth` (Mbps) 0 is out of range 1-100000000",
                "2:90: `bandwidth` \"fast\" must be a positive number of Mbps, or a rate such as \"100M\", \"10G\", \"1T\"",
            ]
        );
    }

    /// A VLAN that is not a whole number, or is one too large for any integer, is told
    /// with the range it must be in.
    #[test]
    fn a_vlan_not_a_whole_number_is_told_its_range() {
        let (_, diags) = parse_channels(
            "- {name: e, kind: p2p, vlan: 2.5, members: [x, y]}\n\
             - {name: f, kind: p2p, vlan: 99999999999999999999999, members: [x, y]}\n\
             - {name: g, kind: p2p, vlan: 100.0, members: [x, y]}",
        );
        let said: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(said[0].contains("must be a whole number from 1 to 4094, found 2.5"), "{said:?}");
        assert!(said[1].contains("is out of range 1-4094"), "{said:?}");
        assert!(said[2].contains("must be a whole number from 1 to 4094, found 100"), "{said:?}");
    }

    /// A bandwidth may be written as capacities are: "10G" is 10,000 Mbps; above 100T refused.
    #[test]
    fn a_bandwidth_may_carry_a_unit() {
        let (specs, diags) = parse_channels(
            "- {name: e, kind: p2p, bandwidth: 10G, members: [{interface: x, bandwidth: 500M}, y]}\n\
             - {name: f, kind: p2p, bandwidth: 101T, members: [x, y]}",
        );
        assert_eq!(specs[0].bandwidth_mbps, 10_000);
        assert_eq!(specs[0].members[0].bandwidth_mbps, Some(500));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].to_string().starts_with("2:35: `bandwidth` \"101T\""), "{diags:?}");
    }
}
