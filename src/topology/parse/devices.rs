//! Device names that would clash on a switch once its configuration is pushed: a port
//! named as the switch's bridge, a port named as a sub-interface Switchboard makes, and two
//! switches that are one bridge.

use std::collections::HashMap;

use crate::model::{InterfaceMode, Pos};
use crate::topology::DriverConfig;

use super::Raw;

pub(super) fn check(raw: &Raw, index: &HashMap<&str, usize>, err: &mut dyn FnMut(Pos, String)) {
    // The port of each tagged interface: its members are bridged through `PORT.TAG`.
    let tagged: HashMap<(&str, &str), &str> = raw
        .interfaces
        .iter()
        .filter(|i| i.mode == InterfaceMode::Tagged)
        .map(|i| ((i.switch.as_str(), i.port.as_str()), i.name.as_str()))
        .collect();
    let links = raw.links.iter().zip(&raw.link_end_pos).flat_map(|(l, ends)| [(&l.a, ends[0]), (&l.b, ends[1])]);
    let ports = links
        .map(|(end, pos)| (end.switch.as_str(), end.port.as_str(), pos))
        .chain(raw.interfaces.iter().map(|i| (i.switch.as_str(), i.port.as_str(), i.pos)));
    for (switch, port, pos) in ports {
        let Some(sw) = index.get(switch).and_then(|i| raw.switches.get(*i)) else { continue };
        let bridge = sw.driver.bridge();
        if port == bridge && !bridge.is_empty() {
            err(
                pos,
                format!(
                    "port `{port}` of switch `{switch}` is the switch's bridge (`bridge: {bridge}`): a port is a device \
                     the bridge holds; name the port as the switch does, or give the switch its own `bridge`"
                ),
            );
        }
        if let Some((parent, tag)) = sub_interface(port)
            && let Some(owner) = tagged.get(&(switch, parent))
        {
            err(
                pos,
                format!(
                    "port `{port}` of switch `{switch}` is the sub-interface Switchboard makes for customer VLAN {tag} \
                     of tagged interface `{owner}` (port `{parent}`): two devices cannot have one name; rename the port"
                ),
            );
        }
    }
    // One bridge, one switch: the same Linux bridge in the same namespace, or the same
    // agent's bridge. Dry-run switches touch nothing, so they may share a name.
    let mut first: HashMap<(&str, &str, &str), (&str, Pos)> = HashMap::new();
    for sw in &raw.switches {
        let key = match &sw.driver {
            DriverConfig::Linux { netns, bridge } => ("linux", netns.as_deref().unwrap_or(""), bridge.as_str()),
            DriverConfig::Remote { address, bridge, .. } => ("remote", address.as_str(), bridge.as_str()),
            DriverConfig::DryRun { .. } => continue,
        };
        // A missing bridge or address is reported where it is missing.
        if key.1.is_empty() && key.0 == "remote" || key.2.is_empty() {
            continue;
        }
        match first.get(&key) {
            Some((other, at)) => {
                let (driver, place, bridge) = key;
                let place = match (driver, place) {
                    ("remote", address) => format!("on the agent at {address}"),
                    (_, "") => "in the host's namespace".to_string(),
                    (_, netns) => format!("in namespace `{netns}`"),
                };
                err(
                    sw.pos,
                    format!(
                        "switch `{}` is bridge `{bridge}` {place}, as switch `{other}` at {at} is: \
                         two switches would write one bridge; give each its own `bridge`, `netns` or `address`",
                        sw.name
                    ),
                );
            }
            None => {
                first.insert(key, (sw.name.as_str(), sw.pos));
            }
        }
    }
}

/// `PORT.TAG` as Switchboard names a sub-interface (`orchestrator::state::subinterface_name`):
/// the parent port and a tag of 1-4094 written without leading zeros.
fn sub_interface(port: &str) -> Option<(&str, u16)> {
    let (parent, tag) = port.rsplit_once('.')?;
    let vid: u16 = tag.parse().ok()?;
    ((1..=4094).contains(&vid) && vid.to_string() == tag).then_some((parent, vid))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    /// Two switches and a tagged site on `b`; `{A}`, `{B}`, `{PORT}` and `{LINK}` are
    /// replaced per case.
    const TOPO: &str = "name: t
switches:
  a: {A}
  b: {B}
links:
  - endpoints: [a:ab, b:{LINK}]
interfaces:
  x: {organization: o, switch: b, port: px, capacity: 1G, mode: tagged, macs: ['02:00:00:00:00:01']}
  y: {organization: o, switch: b, port: {PORT}, capacity: 1G, macs: ['02:00:00:00:00:02']}
";

    fn errors(a: &str, b: &str, link: &str, port: &str) -> String {
        let text = TOPO.replace("{A}", a).replace("{B}", b).replace("{LINK}", link).replace("{PORT}", port);
        match crate::topology::parse(&text) {
            Ok(_) => "OK\n".to_string(),
            Err(errors) => errors.iter().map(|e| format!("{e}\n")).collect(),
        }
    }

    #[test]
    fn a_port_named_as_the_bridge_or_a_sub_interface_is_refused() {
        let dry = "{driver: dry-run}";
        expect![[r#"
            OK
        "#]]
        .assert_eq(&errors(dry, dry, "ba", "py"));
        expect![[r#"
            9:3: port `br0` of switch `b` is the switch's bridge (`bridge: br0`): a port is a device the bridge holds; name the port as the switch does, or give the switch its own `bridge`
        "#]]
        .assert_eq(&errors(dry, dry, "ba", "br0"));
        expect![[r#"
            6:23: port `px.500` of switch `b` is the sub-interface Switchboard makes for customer VLAN 500 of tagged interface `x` (port `px`): two devices cannot have one name; rename the port
            9:3: port `px.7` of switch `b` is the sub-interface Switchboard makes for customer VLAN 7 of tagged interface `x` (port `px`): two devices cannot have one name; rename the port
        "#]]
        .assert_eq(&errors(dry, dry, "px.500", "px.7"));
        // Not a tag Switchboard writes, or not a tagged interface's port: no clash.
        expect![[r#"
            OK
        "#]]
        .assert_eq(&errors(dry, dry, "px.0500", "px.4095"));
        expect![[r#"
            OK
        "#]]
        .assert_eq(&errors(dry, dry, "ba.5", "ab.5"));
    }

    #[test]
    fn two_switches_on_one_bridge_are_refused() {
        let linux = |ns: &str| format!("{{driver: linux, netns: {ns}, bridge: br0}}");
        expect![[r#"
            4:3: switch `b` is bridge `br0` in namespace `n1`, as switch `a` at 3:3 is: two switches would write one bridge; give each its own `bridge`, `netns` or `address`
        "#]]
        .assert_eq(&errors(&linux("n1"), &linux("n1"), "ba", "py"));
        expect![[r#"
            OK
        "#]]
        .assert_eq(&errors(&linux("n1"), &linux("n2"), "ba", "py"));
        let host = "{driver: linux, bridge: br0}";
        expect![[r#"
            4:3: switch `b` is bridge `br0` in the host's namespace, as switch `a` at 3:3 is: two switches would write one bridge; give each its own `bridge`, `netns` or `address`
        "#]].assert_eq(&errors(host, host, "ba", "py"));
        let remote = "{driver: remote, address: '10.0.0.1:4443', bridge: br0, ca: c, cert: c, key: k}";
        expect![[r#"
            4:3: switch `b` is bridge `br0` on the agent at 10.0.0.1:4443, as switch `a` at 3:3 is: two switches would write one bridge; give each its own `bridge`, `netns` or `address`
        "#]].assert_eq(&errors(remote, remote, "ba", "py"));
        // Dry-run switches write nothing: one bridge name for all is the examples' way.
        let dry = "{driver: dry-run, bridge: br0}";
        expect![[r#"
            OK
        "#]]
        .assert_eq(&errors(dry, dry, "ba", "py"));
    }
}
