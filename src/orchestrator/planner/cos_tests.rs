//! Class of service on trunks (issue 18 item 4): the planner's PCP items, their removal and
//! their drift, on the line of switches of [`super::tests`] with classes.

use std::collections::BTreeSet;

use expect_test::{Expect, expect};

use super::*;
use crate::orchestrator::{Op, Ownership, change_set, diff, parse_channels};

/// LINE with classes: gold is PCP 5, silver 3, standard left at 0.
fn topo_text() -> String {
    format!("{}classes: {{gold: 5, silver: 3}}\n", super::tests::LINE)
}

/// Renders a change set per switch as the dry-run driver's commands.
fn render(planner: &Planner<'_>, actual: &[BTreeSet<Item>]) -> String {
    let mut out = String::new();
    for sw in change_set(planner, actual).switches {
        crate::southbound::dry_run::render_switch(&mut out, &sw);
    }
    out
}

fn planned<'t>(topo: &'t Topology, channels: &str) -> Result<Planner<'t>, Vec<PlanError>> {
    let (specs, diags) = parse_channels(channels);
    assert!(diags.is_empty(), "{diags:?}");
    plan(topo, &specs)
}

/// The trunk items of the changes that make `channels` from nothing (ports, VLANs and FDB
/// entries left out: the other tests show them).
fn check_trunks(channels: &str, expect: Expect) {
    let topo = crate::topology::parse(&topo_text()).unwrap();
    let actual: String = match planned(&topo, channels) {
        Ok(planner) => {
            let baseline: Vec<_> = (0..3).map(|s| Planner::new(&topo).desired(s)).collect();
            render(&planner, &baseline)
                .lines()
                .filter(|l| l.starts_with('#') || l.contains("flower") || l.contains("clsact"))
                .map(|l| format!("{l}\n"))
                .collect()
        }
        Err(errors) => errors.iter().map(|e| format!("{e}\n")).collect(),
    };
    expect.assert_eq(&actual);
}

#[test]
fn a_class_with_a_pcp_puts_it_on_every_trunk_end_of_the_path_per_channel_vlan() {
    check_trunks(
        "- {name: t, kind: p2mp, class: gold, members: [{interface: x, role: root}, {interface: y, role: leaf}, {interface: z, role: leaf}]}",
        expect![[r#"
            # switch a (driver dry-run, netns na, bridge br0): 15 to add, 0 to remove
            tc -n na qdisc add dev ab clsact
            tc -n na qdisc add dev px clsact
            tc -n na filter add dev ab egress protocol 802.1ad pref 3 handle 10 flower vlan_id 10 action vlan modify id 10 priority 5 protocol 802.1ad
            tc -n na filter add dev ab egress protocol 802.1ad pref 3 handle 11 flower vlan_id 11 action vlan modify id 11 priority 5 protocol 802.1ad
            tc -n na filter add dev px ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            # switch b (driver dry-run, bridge br0): 23 to add, 0 to remove
            tc qdisc add dev ba clsact
            tc qdisc add dev bc clsact
            tc qdisc add dev pz.10 clsact
            tc filter add dev ba egress protocol 802.1ad pref 3 handle 10 flower vlan_id 10 action vlan modify id 10 priority 5 protocol 802.1ad
            tc filter add dev ba egress protocol 802.1ad pref 3 handle 11 flower vlan_id 11 action vlan modify id 11 priority 5 protocol 802.1ad
            tc filter add dev bc egress protocol 802.1ad pref 3 handle 10 flower vlan_id 10 action vlan modify id 10 priority 5 protocol 802.1ad
            tc filter add dev bc egress protocol 802.1ad pref 3 handle 11 flower vlan_id 11 action vlan modify id 11 priority 5 protocol 802.1ad
            tc filter add dev pz.10 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            # switch c (driver dry-run, bridge br0): 16 to add, 0 to remove
            tc qdisc add dev cb clsact
            tc qdisc add dev py clsact
            tc filter add dev cb egress protocol 802.1ad pref 3 handle 10 flower vlan_id 10 action vlan modify id 10 priority 5 protocol 802.1ad
            tc filter add dev cb egress protocol 802.1ad pref 3 handle 11 flower vlan_id 11 action vlan modify id 11 priority 5 protocol 802.1ad
            tc filter add dev py ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
        "#]],
    );
}

#[test]
fn the_default_class_puts_nothing_on_trunks() {
    check_trunks(
        "- {name: e, kind: p2p, members: [x, y]}\n- {name: f, kind: p2p, class: standard, members: [w, z]}",
        expect![[r#"
            # switch a (driver dry-run, netns na, bridge br0): 8 to add, 0 to remove
            tc -n na qdisc add dev px clsact
            tc -n na filter add dev px ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            # switch b (driver dry-run, bridge br0): 14 to add, 0 to remove
            tc qdisc add dev pz.11 clsact
            tc filter add dev pz.11 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            # switch c (driver dry-run, bridge br0): 16 to add, 0 to remove
            tc qdisc add dev pw clsact
            tc qdisc add dev py clsact
            tc filter add dev pw ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
            tc filter add dev py ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
        "#]],
    );
}

#[test]
fn an_unknown_class_is_refused_where_the_channel_is() {
    check_trunks(
        "- {name: e, kind: p2p, members: [x, y]}\n- {name: f, kind: p2p, class: gld, members: [w, z]}",
        expect![[r#"
            2:3: channel `f`: unknown class of service `gld`, did you mean `gold`?: the topology's `classes` are `gold`, `silver`, `standard`
        "#]],
    );
}

#[test]
fn removing_a_channel_takes_its_pcp_filters_and_the_trunk_qdisc_with_it() {
    let topo = crate::topology::parse(&topo_text()).unwrap();
    let mut planner = planned(
        &topo,
        "- {name: g, kind: p2p, class: gold, members: [x, y]}\n- {name: s, kind: p2p, class: silver, members: [w, z]}",
    )
    .unwrap();
    let both: Vec<_> = (0..3).map(|s| planner.desired(s)).collect();
    planner.remove("s").unwrap();
    // Silver's filters go (b - c only); gold's and the qdiscs it needs stay.
    let silver_gone = expect![[r#"
        # switch a (driver dry-run, netns na, bridge br0): 0 to add, 0 to remove
        # switch b (driver dry-run, bridge br0): 0 to add, 11 to remove
        bridge fdb del 02:00:00:00:00:0d dev bc master vlan 11
        bridge fdb del 02:00:00:00:00:0c dev pz.11 master vlan 11
        tc filter del dev pz.11 ingress pref 3
        tc filter del dev bc egress protocol 802.1ad pref 3 handle 11 flower
        tc filter del dev pz.11 ingress protocol all pref 2 matchall
        tc filter del dev pz.11 ingress protocol 802.1ad pref 1 matchall
        tc qdisc del dev pz.11 clsact
        bridge vlan del dev pz.11 vid 11
        bridge vlan del dev bc vid 11
        ip link set dev pz.11 nomaster
        ip link del dev pz.11
        # switch c (driver dry-run, bridge br0): 0 to add, 9 to remove
        bridge fdb del 02:00:00:00:00:0d dev pw master vlan 11
        bridge fdb del 02:00:00:00:00:0c dev cb master vlan 11
        tc filter del dev pw ingress pref 3
        tc filter del dev cb egress protocol 802.1ad pref 3 handle 11 flower
        tc filter del dev pw ingress protocol all pref 2 matchall
        tc filter del dev pw ingress protocol 802.1ad pref 1 matchall
        tc qdisc del dev pw clsact
        bridge vlan del dev pw vid 11
        bridge vlan del dev cb vid 11
    "#]];
    silver_gone.assert_eq(&render(&planner, &both));
    let gold: Vec<_> = (0..3).map(|s| planner.desired(s)).collect();
    planner.remove("g").unwrap();
    // Nothing of the class is left: no filter, no qdisc on a trunk.
    let removal = render(&planner, &gold);
    let gold_gone = expect![[r#"
        # switch a (driver dry-run, netns na, bridge br0): 0 to add, 10 to remove
        bridge -n na fdb del 02:00:00:00:00:0b dev ab master vlan 10
        bridge -n na fdb del 02:00:00:00:00:0a dev px master vlan 10
        tc -n na filter del dev px ingress pref 3
        tc -n na filter del dev ab egress protocol 802.1ad pref 3 handle 10 flower
        tc -n na filter del dev px ingress protocol all pref 2 matchall
        tc -n na filter del dev px ingress protocol 802.1ad pref 1 matchall
        tc -n na qdisc del dev px clsact
        tc -n na qdisc del dev ab clsact
        bridge -n na vlan del dev px vid 10
        bridge -n na vlan del dev ab vid 10
        # switch b (driver dry-run, bridge br0): 0 to add, 8 to remove
        bridge fdb del 02:00:00:00:00:0b dev bc master vlan 10
        bridge fdb del 02:00:00:00:00:0a dev ba master vlan 10
        tc filter del dev bc egress protocol 802.1ad pref 3 handle 10 flower
        tc filter del dev ba egress protocol 802.1ad pref 3 handle 10 flower
        tc qdisc del dev bc clsact
        tc qdisc del dev ba clsact
        bridge vlan del dev bc vid 10
        bridge vlan del dev ba vid 10
        # switch c (driver dry-run, bridge br0): 0 to add, 10 to remove
        bridge fdb del 02:00:00:00:00:0b dev py master vlan 10
        bridge fdb del 02:00:00:00:00:0a dev cb master vlan 10
        tc filter del dev py ingress pref 3
        tc filter del dev cb egress protocol 802.1ad pref 3 handle 10 flower
        tc filter del dev py ingress protocol all pref 2 matchall
        tc filter del dev py ingress protocol 802.1ad pref 1 matchall
        tc qdisc del dev py clsact
        tc qdisc del dev cb clsact
        bridge vlan del dev py vid 10
        bridge vlan del dev cb vid 10
    "#]];
    gold_gone.assert_eq(&removal);
    let left: Vec<_> = (0..3).map(|s| planner.desired(s)).collect();
    assert!(left.iter().flatten().all(|i| !matches!(i, Item::Pcp { .. } | Item::Clsact { .. })), "{left:?}");
}

#[test]
fn a_pcp_changed_by_hand_is_drift_and_put_back() {
    let topo = crate::topology::parse(&topo_text()).unwrap();
    let planner = planned(&topo, "- {name: g, kind: p2p, class: gold, members: [x, y]}").unwrap();
    let desired = planner.desired(1);
    let mut actual = desired.clone();
    let was = Item::Pcp { port: "bc".into(), vid: 10, pcp: 5 };
    assert!(actual.remove(&was), "{desired:?}");
    actual.insert(Item::Pcp { port: "bc".into(), vid: 10, pcp: 2 });
    // A filter in our place that is not ours reads as PCP 8: replaced the same way.
    let odd = Item::Pcp { port: "ba".into(), vid: 10, pcp: 8 };
    actual.remove(&Item::Pcp { port: "ba".into(), vid: 10, pcp: 5 });
    actual.insert(odd.clone());
    // One made by hand for a VLAN of the pool no channel holds goes; one for a reserved VLAN
    // or on a port the topology does not name is not ours and stays.
    actual.insert(Item::Pcp { port: "bc".into(), vid: 12, pcp: 1 });
    actual.insert(Item::Pcp { port: "bc".into(), vid: 30, pcp: 1 });
    actual.insert(Item::Pcp { port: "eth9".into(), vid: 12, pcp: 1 });
    let changes = diff(&desired, &actual, &Ownership::new(&topo, 1));
    let ops: Vec<(Op, Item)> = changes.into_iter().map(|c| (c.op, c.item)).collect();
    assert_eq!(
        ops,
        [
            (Op::Remove, Item::Pcp { port: "bc".into(), vid: 12, pcp: 1 }),
            (Op::Remove, Item::Pcp { port: "bc".into(), vid: 10, pcp: 2 }),
            (Op::Remove, odd),
            (Op::Add, Item::Pcp { port: "ba".into(), vid: 10, pcp: 5 }),
            (Op::Add, was),
        ]
    );
}
