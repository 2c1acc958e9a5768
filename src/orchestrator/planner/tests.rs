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
    assert_eq!(err[0].refusal, Refusal::PoolExhausted { switches: 2, vlans: 1 });
    planner.remove("c4").unwrap();
    assert_eq!(planner.add(&spec(11)).unwrap().vlan, 14);
}

/// With one VLAN left on its path, an E-Tree (a root and a leaf VLAN) is told it needs two.
#[test]
fn an_etree_short_of_its_second_vlan_is_told_it_needs_two() {
    let topo = crate::topology::parse(LINE).unwrap();
    let mut planner = Planner::new(&topo);
    for n in 0..10 {
        let (specs, _) = parse_channels(&format!(
            "- {{name: c{n}, kind: p2p, members: [{{interface: z, customer_vlan: {}}}, v], bandwidth: 1}}",
            100 + n
        ));
        planner.add(&specs[0]).unwrap();
    }
    let (specs, _) =
        parse_channels("- {name: t, kind: p2mp, members: [{interface: x, role: root}, {interface: y, role: leaf}]}");
    let err = planner.add(&specs[0]).unwrap_err();
    expect!["an E-Tree needs two VLANs (root and leaf), and fewer are free on all 3 switches of the path: free a channel there or widen the pool"].assert_eq(&err[0].refusal.to_string());
}

#[test]
fn a_member_with_its_own_bandwidth_is_policed_at_it() {
    // x gives 5 Mbps of its own, y takes the channel's 20.
    check(
        "- {name: e, kind: p2p, bandwidth: 20, members: [{interface: x, bandwidth: 5}, y]}",
        expect![[r#"
            # switch a (driver dry-run, netns na, bridge br0): 8 to add, 0 to remove
            bridge -n na vlan add dev ab vid 10
            bridge -n na vlan add dev px vid 10 pvid untagged
            tc -n na qdisc add dev px clsact
            tc -n na filter add dev px ingress protocol 802.1ad pref 1 matchall action drop
            tc -n na filter add dev px ingress protocol all pref 2 matchall action police rate 5000000bit burst 12176 conform-exceed drop/continue
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
            tc filter add dev py ingress protocol all pref 2 matchall action police rate 20000000bit burst 25000 conform-exceed drop/continue
            tc filter add dev py ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            bridge fdb add 02:00:00:00:00:0a dev cb master static vlan 10
            bridge fdb add 02:00:00:00:00:0b dev py master static vlan 10
        "#]],
    );
}

#[test]
fn a_member_takes_its_own_bandwidth_of_its_interface() {
    // The channel's 150 Mbps is over every interface's 100, but each member gives its own
    // figure, and that is what counts; z's 101 does not fit.
    check(
        "- {name: a, kind: p2p, bandwidth: 150, members: [{interface: x, bandwidth: 60}, {interface: y, bandwidth: 100}]}\n\
         - {name: b, kind: p2p, bandwidth: 10, members: [{interface: z, bandwidth: 101}, v]}",
        expect![[r#"
            2:49: channel `b`: interface `z` would carry 101 Mbps, over its capacity of 100 Mbps
        "#]],
    );
    let topo = crate::topology::parse(LINE).unwrap();
    let (specs, _) = parse_channels("- {name: a, kind: mp2mp, members: [{interface: z, bandwidth: 95}, v]}");
    let mut planner = plan(&topo, &specs).unwrap();
    let (more, _) =
        parse_channels("- {name: b, kind: mp2mp, bandwidth: 5, members: [z, {interface: v, bandwidth: 91}]}");
    let refused: Vec<String> = planner.add(&more[0]).unwrap_err().iter().map(|e| e.refusal.to_string()).collect();
    assert_eq!(refused, ["interface `v` would carry 101 Mbps, over its capacity of 100 Mbps"]);
}

/// What the planner holds of each interface of LINE: (bandwidth, port-mode holder).
fn interface_use(planner: &Planner<'_>) -> Vec<(u64, Option<String>)> {
    (0..planner.topology().interfaces.len())
        .map(|i| {
            planner
                .books
                .interfaces
                .get(i)
                .map_or((0, None), |u| (u.bandwidth_mbps, u.holder.as_ref().map(|h| h.to_string())))
        })
        .collect()
}

proptest::proptest! {
    /// A channel whose members give bandwidths of their own or not takes exactly its
    /// members' figures of their interfaces, and removing it gives back what it took.
    #[test]
    fn removing_a_channel_frees_what_its_members_took(
        before in proptest::collection::vec((0usize..5, 0usize..5, proptest::option::of(1u64..40), proptest::option::of(1u64..40)), 0..6),
        channel_mbps in 1u64..60,
        own in proptest::collection::vec(proptest::option::of(1u64..60), 2..4),
        sites in proptest::sample::subsequence(vec![0usize, 1, 2, 3, 4], 2..=4),
    ) {
        let topo = crate::topology::parse(LINE).unwrap();
        let names = ["x", "y", "z", "w", "v"];
        let member = |site: usize, bw: Option<u64>| match bw {
            Some(b) => format!("{{interface: {}, bandwidth: {b}}}", names[site]),
            None => names[site].to_string(),
        };
        let mut planner = Planner::new(&topo);
        for (n, (a, b, bw_a, bw_b)) in before.iter().enumerate() {
            let (specs, _) = parse_channels(&format!(
                "- {{name: old{n}, kind: mp2mp, bandwidth: 7, members: [{}, {}]}}",
                member(*a, *bw_a),
                member(*b, *bw_b)
            ));
            let _ = planner.add(&specs[0]);
        }
        let held = interface_use(&planner);
        let members: Vec<String> = sites.iter().zip(own.iter().chain(std::iter::repeat(&None))).map(|(s, b)| member(*s, *b)).collect();
        let (specs, diags) = parse_channels(&format!(
            "- {{name: new, kind: mp2mp, bandwidth: {channel_mbps}, members: [{}]}}",
            members.join(", ")
        ));
        proptest::prop_assert!(diags.is_empty(), "{:?}", diags);
        let spec = &specs[0];
        if planner.add(spec).is_ok() {
            let mut expected = held.clone();
            for m in &spec.members {
                let i = topo.interface_index(&m.interface).unwrap();
                expected[i].0 += m.bandwidth_in(channel_mbps);
                if topo.interfaces[i].mode == InterfaceMode::Port {
                    expected[i].1 = Some("new".into());
                }
            }
            proptest::prop_assert_eq!(interface_use(&planner), expected);
            // Each member's policer runs at its own figure.
            let planned = &planner.channels()["new"];
            for (m, spec_m) in planned.members.iter().zip(&spec.members) {
                proptest::prop_assert_eq!(m.bandwidth_mbps, spec_m.bandwidth_in(channel_mbps));
            }
            planner.remove("new").unwrap();
        }
        proptest::prop_assert_eq!(interface_use(&planner), held);
    }
}

/// A refusal for a VLAN or tag already taken names the channel that holds it, whether the
/// channels are planned in one go or added one by one (all pinned: both go in file order).
#[test]
fn clashes_name_the_channel_holding_the_vlan_or_tag() {
    let channels = "
- {name: first, kind: p2p, vlan: 12, members: [x, y]}
- {name: tagged, kind: p2p, vlan: 11, members: [{interface: z, customer_vlan: 15}, {interface: v, customer_vlan: 16}]}
- {name: pinned-again, kind: p2p, vlan: 12, members: [{interface: z, customer_vlan: 30}, w]}
- {name: tag-again, kind: p2p, vlan: 13, members: [{interface: z, customer_vlan: 15}, {interface: v, customer_vlan: 31}]}
- {name: vlan-is-a-tag, kind: p2p, vlan: 16, members: [v, w]}
";
    check(
        channels,
        expect![[r#"
            4:3: channel `pinned-again`: VLAN 12 is already used by channel `first` on switch `b`, which is on this channel's path
            5:52: channel `tag-again`: customer VLAN 15 is already used on interface `z` by channel `tagged`: pick another `customer_vlan`
            6:3: channel `vlan-is-a-tag`: VLAN 16 is the customer VLAN of channel `tagged` on interface `v`
        "#]],
    );
    let topo = crate::topology::parse(LINE).unwrap();
    let (specs, _) = parse_channels(channels);
    let mut planner = Planner::new(&topo);
    let mut one_by_one = String::new();
    for spec in &specs {
        if let Err(errors) = planner.add(spec) {
            one_by_one.extend(errors.iter().map(|e| format!("{e}\n")));
        }
    }
    let Err(in_one_go) = plan(&topo, &specs) else { panic!("the clashes are refused") };
    assert_eq!(one_by_one, in_one_go.iter().map(|e| format!("{e}\n")).collect::<String>());
    // Shown to someone the holder may not belong to, the refusal names no channel.
    let unnamed: Vec<String> = in_one_go.iter().map(|e| e.refusal.clone().without_holder().to_string()).collect();
    expect![[r#"
        [
            "VLAN 12 is already used on switch `b`, which is on this channel's path",
            "customer VLAN 15 is already used on interface `z`: pick another `customer_vlan`",
            "VLAN 16 is the customer VLAN of another channel on interface `v`",
        ]
    "#]]
    .assert_debug_eq(&unnamed);
    // A VLAN the caller reserved has no channel to name.
    let mut reserved = Planner::new(&topo);
    reserved.reserve_vlan(1, 12);
    let errors = reserved.add(&specs[0]).unwrap_err();
    expect![[r#"
        2:3: channel `first`: VLAN 12 is already used on switch `b`, which is on this channel's path
    "#]]
    .assert_eq(&errors.iter().map(|e| format!("{e}\n")).collect::<String>());
}
