//! Issue 18 item 4, class of service with real frames: on the trunks a channel's S-tag
//! carries its class's PCP (the topology's `classes`), both ways and for an E-Tree's root and
//! leaf VLANs, while the customer's C-tag (VID and PCP) arrives untouched; a PCP changed by
//! hand is drift that `drift --repair` puts back; the dry run's `tc` commands make the
//! filter the driver makes; removal leaves no tc object on a trunk.

use switchboard::orchestrator::{Change, Item, Op, parse_channels, plan};
use switchboard::southbound::dry_run::command_lines;
use switchboard::southbound::linux::probe;

use super::qinq::{S, Tag, c, check, run};
use super::{Lab, sh_in, switchboard};

/// The EPL is gold (PCP 5), the E-Tree silver (PCP 2), the EP-LAN standard (PCP 0).
const CHANNELS: &str = "
- {name: epl, kind: p2p, class: gold, members: [epl-a, epl-b]}
- {name: eplan, kind: mp2mp, members: [lan-a, lan-b, lan-c, {interface: mix-t, customer_vlan: 700}]}
- {name: eptree, kind: p2mp, class: silver, members: [{interface: root, role: root}, {interface: leaf1, role: leaf},
   {interface: leaf2, role: leaf}, {interface: leaf3, role: leaf}, {interface: mix-t, role: leaf, customer_vlan: 800}]}
";

fn topology() -> String {
    format!("{}classes: {{gold: 5, silver: 2}}\n", super::qinq::TOPOLOGY)
}

fn cos_lab() -> Lab {
    let lab = Lab::up(&topology());
    lab.apply(CHANNELS).unwrap();
    lab
}

/// The VLANs the planner gives the channels: (epl, eplan, eptree root, eptree leaf).
fn vlans(lab: &Lab) -> (u16, u16, u16, u16) {
    let (specs, _) = parse_channels(CHANNELS);
    let planner = plan(&lab.topo, &specs).unwrap();
    let ch = planner.channels();
    let tree = &ch["eptree"];
    (ch["epl"].vlan, ch["eplan"].vlan, tree.vlan, tree.leaf_vlan.unwrap())
}

/// Taps on both ends of the sw1 - sw2 trunk: each sees what arrives from the other switch,
/// after that switch's egress hook rewrote the PCP (a tap sees no frame its own end sends).
fn trunk_taps() -> [probe::Tap; 2] {
    [
        probe::Tap { label: "sw2:t21".into(), netns: "qinq-sw2".into(), ifname: "t21".into() },
        probe::Tap { label: "sw1:t12".into(), netns: "qinq-sw1".into(), ifname: "t12".into() },
    ]
}

#[test]
fn the_s_tag_on_trunks_carries_the_class_pcp_and_the_c_tag_is_untouched() {
    let lab = cos_lab();
    let (epl, eplan, r, l) = vlans(&lab);
    // (check, the tags the trunk must show: S-tag with the class's PCP over what was sent).
    let mut checks = Vec::new();
    let mut on_trunk: Vec<Vec<Tag>> = Vec::new();
    let mut push = |k, trunk: Vec<Tag>| {
        checks.push(k);
        on_trunk.push(trunk);
    };
    for tags in [vec![], vec![c(1, 0)], vec![c(4094, 7)], vec![c(100, 3), c(200, 1)]] {
        let with = |s: Tag| [vec![s], tags.clone()].concat();
        // Gold, both ways across sw1 - sw2.
        push(check("epl-a", Some("epl-b"), &tags, &[("epl-b", &tags)]), with((S, epl, 5)));
        push(check("epl-b", Some("epl-a"), &tags, &[("epl-a", &tags)]), with((S, epl, 5)));
        // Standard: the bridge's own PCP 0.
        push(check("lan-a", Some("lan-c"), &tags, &[("lan-c", &tags)]), with((S, eplan, 0)));
        // Silver: the root VLAN down from sw1, the leaf VLAN up from sw3 through sw2.
        push(check("root", Some("leaf3"), &tags, &[("leaf3", &tags)]), with((S, r, 2)));
        push(check("leaf3", Some("root"), &tags, &[("root", &tags)]), with((S, l, 2)));
    }
    // A broadcast from the root reaches every leaf (on sw2 and sw3), the trunk once.
    let under_800 = [vec![c(800, 0)], vec![c(9, 6)]].concat();
    let leaves: &[(&'static str, &[Tag])] =
        &[("leaf1", &[c(9, 6)]), ("leaf2", &[c(9, 6)]), ("leaf3", &[c(9, 6)]), ("mix-t", &under_800)];
    push(check("root", None, &[c(9, 6)], leaves), vec![(S, r, 2), c(9, 6)]);
    let (failures, tapped) = run(&lab, &checks, &trunk_taps());
    assert!(failures.is_empty(), "{} of {} checks failed:\n{}", failures.len(), checks.len(), failures.join("\n"));
    for (k, want) in on_trunk.iter().enumerate() {
        let seen: Vec<&Vec<Tag>> = tapped.iter().filter(|(i, _, _)| *i == k).map(|(_, _, t)| t).collect();
        assert_eq!(seen, vec![want], "check {k}: the trunk showed {seen:x?}, want {want:x?}");
    }
    // The filters count what they rewrote.
    let shown = sh_in("qinq-sw1", &["tc", "-s", "filter", "show", "dev", "t12", "egress"]);
    assert!(shown.contains("vlan_id") && shown.contains("priority 5") && shown.contains("protocol 802.1ad"), "{shown}");
}

#[test]
fn a_hand_changed_pcp_is_drift_repaired_and_removal_leaves_no_tc_object() {
    let lab = cos_lab();
    let (epl, _, r, l) = vlans(&lab);
    let dir = tempfile::tempdir().unwrap();
    let (topo_file, chan_file) = (dir.path().join("qinq.yaml"), dir.path().join("cos.channels.yaml"));
    std::fs::write(&topo_file, topology()).unwrap();
    std::fs::write(&chan_file, CHANNELS).unwrap();
    let args = ["drift", "-t", topo_file.to_str().unwrap(), "-c", chan_file.to_str().unwrap()];
    let (code, out, err) = switchboard(&args);
    assert_eq!(code, 0, "right after the apply, no drift (the driver reads back what it made): {out}{err}");

    // The gold PCP changed by hand on sw2's t21.
    let v = epl.to_string();
    let replace = [
        "tc", "filter", "replace", "dev", "t21", "egress", "protocol", "802.1ad", "pref", "3", "handle", &v, "flower",
        "vlan_id", &v, "action", "vlan", "modify", "id", &v, "priority", "1", "protocol", "802.1ad",
    ];
    sh_in("qinq-sw2", &replace);
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 1, "{out}");
    for want in [
        format!(
            "unexpected, would run: tc -n qinq-sw2 filter del dev t21 egress protocol 802.1ad pref 3 handle {v} flower"
        ),
        format!(
            "missing, would run:    tc -n qinq-sw2 filter add dev t21 egress protocol 802.1ad pref 3 handle {v} flower \
             vlan_id {v} action vlan modify id {v} priority 5 protocol 802.1ad"
        ),
    ] {
        assert!(out.contains(&want), "missing {want:?} in:\n{out}");
    }
    assert!(out.contains("drift on 1 switch(es)"), "{out}");
    let (code, out, err) = switchboard(&[&args[..], &["--repair"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 0, "{out}");

    // The dry run's `tc` commands make exactly the filters the driver makes: taken down and
    // put back by them, there is no drift.
    for (vid, pcp, port) in [(epl, 5, "t21"), (r, 2, "t23"), (l, 2, "t21")] {
        let item = Item::Pcp { port: port.into(), vid, pcp };
        for op in [Op::Remove, Op::Add] {
            for line in command_lines(&Change { op, item: item.clone() }, "br0", None) {
                let words: Vec<&str> = line.split(' ').collect();
                sh_in("qinq-sw2", &words);
            }
        }
    }
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 0, "the rendered commands differ from the driver's messages:\n{out}");

    // The E-Tree's class back to standard: its filters go, the EPL's stay.
    lab.apply(&CHANNELS.replace("class: silver, ", "")).unwrap();
    let shown = sh_in("qinq-sw2", &["tc", "filter", "show", "dev", "t21", "egress"]);
    assert!(shown.contains(&format!("vlan_id {epl}")) && !shown.contains(&format!("vlan_id {r}")), "{shown}");

    lab.apply("[]").unwrap();
    for (sw, port) in [("qinq-sw1", "t12"), ("qinq-sw2", "t21"), ("qinq-sw2", "t23"), ("qinq-sw3", "t32")] {
        let qdiscs = sh_in(sw, &["tc", "qdisc", "show", "dev", port]);
        assert!(!qdiscs.contains("clsact"), "{sw} {port}: {qdiscs}");
        let actions = sh_in(sw, &["tc", "actions", "list", "action", "vlan"]);
        assert!(!actions.contains("vlan"), "{sw}: {actions}");
    }
}
