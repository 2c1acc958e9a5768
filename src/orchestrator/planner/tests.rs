//! The planner's unit tests: plans on a small line of switches, rendered as commands.

use expect_test::{Expect, expect};

use super::*;
use crate::orchestrator::{change_set, parse_channels};

/// A line of three switches a - b - c with port-mode sites on a and c, tagged sites on b and c.
pub(super) const LINE: &str = "
name: t
vlans: {pool: 10-20}
switches: {a: {netns: na}, b: {}, c: {}}
links:
  - endpoints: [a:ab, b:ba]
  - endpoints: [b:bc, c:cb]
interfaces:
  x: {organization: o, switch: a, port: px, capacity: 100, macs: ['02:00:00:00:00:0a']}
  y: {organization: o, switch: c, port: py, capacity: 100, macs: ['02:00:00:00:00:0b']}
  z: {organization: o, switch: b, port: pz, capacity: 100, mode: tagged, macs: ['02:00:00:00:00:0c']}
  w: {organization: o, switch: c, port: pw, capacity: 100, macs: ['02:00:00:00:00:0d']}
  v: {organization: o, switch: c, port: pv, capacity: 100, mode: tagged, macs: ['02:00:00:00:00:0e']}
";

/// Plans `channels` on LINE and renders the channel items (not the baseline) per switch.
fn check(channels: &str, expect: Expect) {
    let topo = crate::topology::parse(LINE).unwrap();
    let (specs, diags) = parse_channels(channels);
    assert!(diags.is_empty(), "{diags:?}");
    let actual = match plan(&topo, &specs) {
        Ok(planner) => {
            let baseline: Vec<_> = (0..3).map(|s| Planner::new(&topo).desired(s)).collect();
            let mut out = String::new();
            for sw in change_set(&planner, &baseline).switches {
                crate::southbound::dry_run::render_switch(&mut out, &sw);
            }
            out
        }
        Err(errors) => errors.iter().map(|e| format!("{e}\n")).collect(),
    };
    expect.assert_eq(&actual);
}

#[test]
fn p2p_across_the_line() {
    check(
        "- {name: e, kind: p2p, members: [x, y]}",
        expect![[r#"
            # switch a (driver dry-run, netns na, bridge br0): 8 to add, 0 to remove
            bridge -n na vlan add dev ab vid 10
            bridge -n na vlan add dev px vid 10 pvid untagged
            tc -n na qdisc add dev px clsact
            tc -n na filter add dev px ingress protocol 802.1ad pref 1 matchall action drop
            tc -n na filter add dev px ingress protocol all pref 2 matchall action police rate 10000000bit burst 12500 conform-exceed drop/continue
            tc -n na filter add dev px ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            bridge -n na fdb add 02:00:00:00:00:0a dev px master static vlan 10
            bridge -n na fdb add 02:00:00:00:00:0b dev ab master static vlan 10
            # switch b (driver dry-run, bridge br0): 4 to add, 0 to remove
            bridge vlan add dev ba vid 10
            bridge vlan add dev bc vid 10
            bridge fdb add 02:00:00:00:00:0a dev ba master static vlan 10
            bridge fdb add 02:00:00:00:00:0b dev bc master static vlan 10
            # switch c (driver dry-run, bridge br0): 8 to add, 0 to remove
            bridge vlan add dev cb vid 10
            bridge vlan add dev py vid 10 pvid untagged
            tc qdisc add dev py clsact
            tc filter add dev py ingress protocol 802.1ad pref 1 matchall action drop
            tc filter add dev py ingress protocol all pref 2 matchall action police rate 10000000bit burst 12500 conform-exceed drop/continue
            tc filter add dev py ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            bridge fdb add 02:00:00:00:00:0a dev cb master static vlan 10
            bridge fdb add 02:00:00:00:00:0b dev py master static vlan 10
        "#]],
    );
}

#[test]
fn etree_leaf_on_a_tagged_port_gets_a_subinterface_and_drops() {
    check(
        "- {name: t, kind: p2mp, members: [{interface: x, role: root}, {interface: z, role: leaf, customer_vlan: 500}]}",
        expect![[r#"
            # switch a (driver dry-run, netns na, bridge br0): 11 to add, 0 to remove
            bridge -n na vlan add dev ab vid 10
            bridge -n na vlan add dev ab vid 11
            bridge -n na vlan add dev px vid 10 pvid untagged
            bridge -n na vlan add dev px vid 11 untagged
            tc -n na qdisc add dev px clsact
            tc -n na filter add dev px ingress protocol 802.1ad pref 1 matchall action drop
            tc -n na filter add dev px ingress protocol all pref 2 matchall action police rate 10000000bit burst 12500 conform-exceed drop/continue
            tc -n na filter add dev px ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            bridge -n na fdb add 02:00:00:00:00:0a dev px master static vlan 10
            bridge -n na fdb add 02:00:00:00:00:0a dev px master static vlan 11
            bridge -n na fdb add 02:00:00:00:00:0c dev ab master static vlan 10
            # switch b (driver dry-run, bridge br0): 14 to add, 0 to remove
            ip link set dev pz up
            ip link add link pz name pz.500 type vlan id 500
            ip link set dev pz.500 master br0
            ip link set dev pz.500 up
            bridge link set dev pz.500 learning off flood off mcast_flood on
            bridge vlan add dev ba vid 10
            bridge vlan add dev ba vid 11
            bridge vlan add dev pz.500 vid 10 untagged
            bridge vlan add dev pz.500 vid 11 pvid
            tc qdisc add dev pz.500 clsact
            tc filter add dev pz.500 ingress protocol 802.1ad pref 1 matchall action drop
            tc filter add dev pz.500 egress protocol 802.1ad pref 1 matchall action drop
            tc filter add dev pz.500 ingress protocol all pref 2 matchall action police rate 10000000bit burst 12500 conform-exceed drop/continue
            tc filter add dev pz.500 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            bridge fdb add 02:00:00:00:00:0a dev ba master static vlan 10
            bridge fdb add 02:00:00:00:00:0a dev ba master static vlan 11
            bridge fdb add 02:00:00:00:00:0c dev pz.500 master static vlan 10
            # switch c (driver dry-run, bridge br0): 0 to add, 0 to remove
        "#]],
    );
}

#[test]
fn disjoint_paths_reuse_a_vlan_shared_switches_do_not() {
    // e1 uses a-b, e2 only c: both get 10. e3 (x-z) shares a and b with e1: gets 11.
    let topo = crate::topology::parse(LINE).unwrap();
    let (specs, _) = parse_channels(
        "- {name: e1, kind: p2p, members: [x, z]}\n- {name: e2, kind: p2p, members: [y, w]}\n- {name: e3, kind: mp2mp, members: [{interface: z, customer_vlan: 7}, v]}",
    );
    let planner = plan(&topo, &specs).unwrap();
    let vlans: Vec<(&str, u16)> = planner.channels().values().map(|c| (c.name.as_str(), c.vlan)).collect();
    assert_eq!(vlans, vec![("e1", 10), ("e2", 10), ("e3", 11)]);
}

#[test]
fn refusals_say_why() {
    check(
        "- {name: a, kind: p2p, members: [x, y]}\n- {name: b, kind: p2p, members: [x, w]}\n- {name: c, kind: mp2mp, bandwidth: 101, members: [z, w]}",
        expect![[r#"
            2:34: channel `b`: interface `x` is in port mode and already carries channel `a`: a port-mode interface carries one channel
            3:52: channel `c`: interface `z` would carry 101 Mbps, over its capacity of 100 Mbps
            3:55: channel `c`: interface `w` would carry 101 Mbps, over its capacity of 100 Mbps
        "#]],
    );
}

#[test]
fn a_full_pool_is_refused_and_freed_vlans_are_reused() {
    let topo = crate::topology::parse(LINE).unwrap();
    let mut planner = Planner::new(&topo);
    let spec = |n: usize| {
        let (mut s, _) = parse_channels(&format!(
            "- {{name: c{n}, kind: p2p, members: [{{interface: z, customer_vlan: {}}}, v], bandwidth: 1}}",
            100 + n
        ));
        s.remove(0)
    };
    for n in 0..11 {
        assert_eq!(planner.add(&spec(n)).unwrap().vlan, 10 + n as u16);
    }
    let err = planner.add(&spec(11)).unwrap_err();
    assert_eq!(err[0].refusal, Refusal::PoolExhausted { switches: 2 });
    planner.remove("c4").unwrap();
    assert_eq!(planner.add(&spec(11)).unwrap().vlan, 14);
}
