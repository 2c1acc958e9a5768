//! Property tests of the planner on random trees and channel sets (issue: core planner).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use switchboard::model::{ChannelKind, Role};
use switchboard::orchestrator::{Conform, Item, Ownership, Planner, apply, diff};

use crate::support::{NetParams, random_channels, random_topology};

fn params() -> impl Strategy<Value = (NetParams, u64, usize)> {
    (any::<u64>(), 1usize..30, 2usize..24, 2u16..40, any::<u64>(), 0usize..20)
        .prop_map(|(seed, switches, sites, pool, cseed, n)| (NetParams { seed, switches, sites, pool }, cseed, n))
}

/// Plans the specs one by one, keeping the ones the planner accepts.
fn plan_some<'t>(
    topo: &'t switchboard::topology::Topology,
    specs: &[switchboard::orchestrator::ChannelSpec],
) -> Planner<'t> {
    let mut planner = Planner::new(topo);
    for spec in specs {
        let _ = planner.add(spec);
    }
    planner
}

fn states(planner: &Planner<'_>) -> Vec<BTreeSet<Item>> {
    (0..planner.topology().switches.len()).map(|s| planner.desired(s)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// No two channels that share a switch share a VLAN, and every VLAN comes from the pool.
    #[test]
    fn channels_sharing_a_switch_never_share_a_vlan((net, cseed, n) in params()) {
        let topo = random_topology(&net);
        let planner = plan_some(&topo, &random_channels(&topo, cseed, n));
        let mut seen: BTreeMap<(usize, u16), &str> = BTreeMap::new();
        for ch in planner.channels().values() {
            for vid in std::iter::once(ch.vlan).chain(ch.leaf_vlan) {
                prop_assert!(topo.pool.allows(vid), "vlan {vid} outside pool");
                for s in &ch.path {
                    if let Some(other) = seen.insert((*s, vid), &ch.name) {
                        prop_assert!(false, "{} and {other} share vlan {vid} on switch {s}", ch.name);
                    }
                }
            }
        }
    }

    /// Every FDB entry belongs to a channel on that switch's path, names a member MAC and points
    /// toward it; every member MAC has its entry on every switch of the path.
    #[test]
    fn member_macs_are_forwarded_only_along_the_path((net, cseed, n) in params()) {
        let topo = random_topology(&net);
        let planner = plan_some(&topo, &random_channels(&topo, cseed, n));
        let mut expected: BTreeSet<(usize, Item)> = BTreeSet::new();
        for ch in planner.channels().values() {
            for s in &ch.path {
                for m in &ch.members {
                    let port = if m.switch == *s { m.bridge_port.to_string() } else { topo.port_toward(*s, m.switch).unwrap().to_string() };
                    for mac in &topo.interface(&m.interface).unwrap().macs {
                        expected.insert((*s, Item::Fdb { mac: *mac, vid: ch.vlan, port: port.clone() }));
                        if let (Some(l), Role::Root) = (ch.leaf_vlan, m.role) {
                            expected.insert((*s, Item::Fdb { mac: *mac, vid: l, port: port.clone() }));
                        }
                    }
                }
            }
        }
        let mut actual: BTreeSet<(usize, Item)> = BTreeSet::new();
        for (s, state) in states(&planner).into_iter().enumerate() {
            for item in state {
                if matches!(item, Item::Fdb { .. }) {
                    actual.insert((s, item));
                }
            }
        }
        prop_assert_eq!(actual, expected);
    }

    /// diff(desired, desired) is empty; applying diff(actual, desired) to any actual state gives
    /// desired on what Switchboard owns and leaves everything foreign as it was.
    #[test]
    fn diff_converges_and_spares_foreign_config((net, cseed, n) in params(), keep in any::<u64>(), junk in proptest::collection::vec((0usize..40, 0u16..4095, 0u8..8), 0..40)) {
        let topo = random_topology(&net);
        let planner = plan_some(&topo, &random_channels(&topo, cseed, n));
        for s in 0..topo.switches.len() {
            let desired = planner.desired(s);
            let owner = Ownership::new(&topo, s);
            prop_assert!(diff(&desired, &desired, &owner).is_empty());
            prop_assert!(desired.iter().all(|i| owner.owns(i)), "desired holds an item Switchboard would not own");
            // An actual state: some of desired, plus junk on real and unknown ports.
            let mut actual: BTreeSet<Item> = desired.iter().enumerate().filter(|(i, _)| keep >> (i % 64) & 1 == 1).map(|(_, x)| x.clone()).collect();
            let ports: Vec<String> = topo.trunk_ports(s).iter().map(|p| p.to_string()).chain(["foreign0".to_string()]).collect();
            for (p, vid, kind) in &junk {
                let port = ports[p % ports.len()].clone();
                let mac = format!("02:aa:00:00:{:02x}:{:02x}", vid >> 8, vid & 0xff).parse().unwrap();
                let vid = (*vid).clamp(1, 4094);
                // Added the way a switch adds it: a bridge keeps one entry per port and VLAN, so a
                // junk VLAN entry replaces one with the same port and VID.
                let item = match kind {
                    0 => Item::Vlan { port, vid, pvid: false, untagged: false },
                    1 => Item::Vlan { port, vid, pvid: true, untagged: true },
                    2 => Item::Fdb { mac, vid, port },
                    3 => Item::TcDrop { port, direction: switchboard::orchestrator::Direction::Egress, protocol: switchboard::orchestrator::TagProtocol::Dot1Ad },
                    // A port with multicast flooding off is one configured before it was carried.
                    4 => Item::Port { port, mcast_flood: vid % 2 == 0 },
                    5 => Item::Police { port, rate_bps: u64::from(vid) * 1_000_000, burst_bytes: 12_176, conform: if vid % 2 == 0 { Conform::Pass } else { Conform::Continue } },
                    6 => Item::L2cp { port, foreign: vid % 2 == 0 },
                    _ => Item::Clsact { port },
                };
                apply(&mut actual, &[switchboard::orchestrator::Change { op: switchboard::orchestrator::Op::Add, item }]);
            }
            let changes = diff(&desired, &actual, &owner);
            let mut after = actual.clone();
            apply(&mut after, &changes);
            let owned_after: BTreeSet<Item> = after.iter().filter(|i| owner.owns(i)).cloned().collect();
            prop_assert_eq!(&owned_after, &desired);
            let foreign_before: BTreeSet<&Item> = actual.iter().filter(|i| !owner.owns(i)).collect();
            let foreign_after: BTreeSet<&Item> = after.iter().filter(|i| !owner.owns(i)).collect();
            prop_assert_eq!(foreign_before, foreign_after);
            // And it is idempotent.
            prop_assert!(diff(&desired, &after, &owner).is_empty());
        }
    }

    /// Issue 18: every member's bridge port holds one policer, at the channel's bandwidth
    /// with the documented burst, on a clsact qdisc; a rate changed by hand is drift that
    /// one removal and one addition repair; and removing the channels leaves no policer.
    #[test]
    fn every_member_is_policed_at_its_bandwidth_and_a_changed_rate_is_drift((net, cseed, n) in params(), factor in 2u64..10) {
        use switchboard::orchestrator::{Op, police_burst};
        let topo = random_topology(&net);
        let mut planner = plan_some(&topo, &random_channels(&topo, cseed, n));
        let desired = states(&planner);
        let policers: usize = desired.iter().map(|d| d.iter().filter(|i| matches!(i, Item::Police { .. })).count()).sum();
        let members: usize = planner.channels().values().map(|c| c.members.len()).sum();
        prop_assert_eq!(policers, members, "one policer per member");
        for c in planner.channels().values() {
            let rate_bps = c.bandwidth_mbps * 1_000_000;
            for m in &c.members {
                let on = &desired[m.switch];
                let police = Item::Police { port: m.bridge_port.to_string(), rate_bps, burst_bytes: police_burst(rate_bps), conform: Conform::Continue };
                prop_assert!(on.contains(&police), "{:?} missing", police);
                let clsact = Item::Clsact { port: m.bridge_port.to_string() };
                prop_assert!(on.contains(&clsact), "no clsact on {}", m.bridge_port);
                // A rate changed by hand (and, every other time, the conform action as
                // Switchboard made it before the L2CP discard): the diff takes it out and puts
                // the plan's back.
                let owner = Ownership::new(&topo, m.switch);
                let mut actual = on.clone();
                actual.remove(&police);
                let changed_rate = rate_bps * factor;
                let conform = if factor % 2 == 0 { Conform::Pass } else { Conform::Continue };
                let changed = Item::Police { port: m.bridge_port.to_string(), rate_bps: changed_rate, burst_bytes: police_burst(changed_rate), conform };
                actual.insert(changed.clone());
                let changes = diff(on, &actual, &owner);
                prop_assert_eq!(changes.len(), 2, "{:?}", changes);
                prop_assert!(changes[0].op == Op::Remove && changes[0].item == changed);
                prop_assert!(changes[1].op == Op::Add && changes[1].item == police);
                apply(&mut actual, &changes);
                prop_assert!(diff(on, &actual, &owner).is_empty());
            }
        }
        let names: Vec<String> = planner.channels().keys().map(|k| k.to_string()).collect();
        for name in names { planner.remove(&name).unwrap(); }
        for state in states(&planner) {
            let left = state.iter().any(|i| matches!(i, Item::Police { .. } | Item::Clsact { .. }));
            prop_assert!(!left, "a policer or qdisc is left");
        }
    }

    /// Removing every channel frees everything: back to the baseline (the provider bridge and
    /// the ports), every VLAN free.
    #[test]
    fn remove_restores_baseline((net, cseed, n) in params()) {
        let topo = random_topology(&net);
        let baseline = states(&Planner::new(&topo));
        let mut planner = plan_some(&topo, &random_channels(&topo, cseed, n));
        let names: Vec<String> = planner.channels().keys().map(|k| k.to_string()).collect();
        for name in names { planner.remove(&name).unwrap(); }
        prop_assert_eq!(states(&planner), baseline);
        for s in 0..topo.switches.len() { prop_assert!(planner.vlans_in_use(s).is_empty()); }
        // Replanning after removal gives the same result as planning fresh.
        let specs = random_channels(&topo, cseed, n);
        let fresh = plan_some(&topo, &specs);
        for spec in &specs { let _ = planner.add(spec); }
        prop_assert_eq!(planner.channels(), fresh.channels());
    }
}

/// Plans channels the way the orchestrator does: each alone, against reservations of what
/// earlier channels hold (their VLANs on switches, their customer tags on interfaces), and
/// returns every accepted channel.
fn plan_one_by_one(
    topo: &switchboard::topology::Topology,
    specs: &[switchboard::orchestrator::ChannelSpec],
) -> Vec<switchboard::orchestrator::PlannedChannel> {
    let mut done: Vec<switchboard::orchestrator::PlannedChannel> = Vec::new();
    for spec in specs {
        let mut planner = Planner::new(topo);
        for c in &done {
            for s in &c.path {
                planner.reserve_vlan(*s, c.vlan);
                if let Some(l) = c.leaf_vlan {
                    planner.reserve_vlan(*s, l);
                }
            }
            for m in &c.members {
                if let Some(tag) = m.customer_vlan {
                    planner.reserve_tag(&m.interface, tag);
                }
            }
        }
        // The service checks interface capacity and port-mode use at acceptance; keep the
        // generated specs that pass those checks in the full planner.
        let mut full = Planner::new(topo);
        for c in &done {
            let pinned = switchboard::orchestrator::ChannelSpec {
                vlan: switchboard::model::VlanId::new(c.vlan),
                leaf_vlan: c.leaf_vlan.and_then(switchboard::model::VlanId::new),
                ..specs.iter().find(|s| s.name == c.name).unwrap().clone()
            };
            full.add(&pinned).unwrap();
        }
        if full.add(spec).is_err() {
            continue;
        }
        if let Ok(p) = planner.add(spec) {
            done.push(p.clone());
        }
    }
    done
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The orchestrator's one-channel-at-a-time planning keeps the invariants: channels that
    /// share a switch never share a VLAN, and no item beyond the baseline belongs to two
    /// channels (so removing one channel's items never touches another's).
    #[test]
    fn planning_alone_against_reservations_keeps_channels_apart((net, cseed, n) in params()) {
        let topo = random_topology(&net);
        let specs = random_channels(&topo, cseed, n);
        let planned = plan_one_by_one(&topo, &specs);
        let mut owner: BTreeMap<(usize, Item), String> = BTreeMap::new();
        for (i, a) in planned.iter().enumerate() {
            for b in &planned[i + 1..] {
                if a.path.iter().any(|s| b.path.contains(s)) {
                    let va: BTreeSet<u16> = std::iter::once(a.vlan).chain(a.leaf_vlan).collect();
                    let vb: BTreeSet<u16> = std::iter::once(b.vlan).chain(b.leaf_vlan).collect();
                    prop_assert!(va.is_disjoint(&vb), "{} and {} share a switch and a VLAN", a.name, b.name);
                }
            }
            for (s, item) in &a.items(&topo) {
                if switchboard::orchestrator::baseline(&topo, *s).contains(item) {
                    continue;
                }
                if let Some(other) = owner.insert((*s, item.clone()), a.name.to_string()) {
                    prop_assert!(other == a.name, "{item:?} on switch {s} belongs to {other} and {}", a.name);
                }
            }
        }
    }

    /// An account that is not active is refused for that reason alone; more money never
    /// adds a refusal.
    #[test]
    fn account_rules_are_consistent(bw in 0u64..5000, balance in -10_000i64..10_000, extra in 0i64..10_000,
                                    price in 0i64..10_000, held in 0u64..5, max in 0u64..5, status in 0u8..3) {
        use switchboard::orchestrator::policy::*;
        use switchboard::model::InterfaceMode;
        let account = |balance: i64| Account {
            status: [AccountStatus::Active, AccountStatus::Suspended, AccountStatus::Closed][status as usize],
            kinds: vec![ChannelKind::P2p],
            max_bandwidth_mbps: 1000,
            max_channels: max,
            classes: vec!["standard".into()],
            balance_cents: balance,
            credit_limit_cents: 0,
        };
        let def = Definition {
            name: "d".into(), version: 1, kinds: vec![ChannelKind::P2p], min_bandwidth_mbps: 1,
            max_bandwidth_mbps: 4000, classes: vec!["standard".into()], drivers: vec!["dry-run".into()],
        };
        let model = UsageModel { name: "m".into(), price_type: Some(PriceType::FlatMonthly), price_cents: price, ..UsageModel::default() };
        let req = Request {
            kind: ChannelKind::P2p, bandwidth_mbps: bw, class: "standard", channels_held: held, endpoints_after: 2,
            now_ms: 0, driver: "dry-run",
            interface: InterfaceUse { name: "i".into(), mode: InterfaceMode::Tagged, capacity_mbps: 3000, used_mbps: 0, channels: 0 },
            member_bandwidth_mbps: None,
        };
        let poor = verify(&account(balance), &def, &model, &req);
        let rich = verify(&account(balance + extra), &def, &model, &req);
        if status != 0 {
            prop_assert_eq!(poor.iter().map(Refused::code).collect::<Vec<_>>(), vec!["account_inactive"]);
        }
        let poor_codes: BTreeSet<&str> = poor.iter().map(Refused::code).collect();
        prop_assert!(rich.iter().all(|r| poor_codes.contains(r.code())), "more money added a refusal: {rich:?} vs {poor:?}");
        prop_assert_eq!(poor.iter().any(|r| r.code() == "over_credit"), status == 0 && price > balance);
    }
}

/// Every channel state but `terminated` can still end; `terminated` is final; every state is
/// reachable from `draft`.
#[test]
fn channel_state_machine_is_connected() {
    use switchboard::orchestrator::policy::ChannelState;
    let reach = |from: ChannelState| {
        let mut seen = BTreeSet::from([from.as_str()]);
        let mut todo = vec![from];
        while let Some(s) = todo.pop() {
            for t in ChannelState::ALL {
                if s.can_become(t) && seen.insert(t.as_str()) {
                    todo.push(t);
                }
            }
        }
        seen
    };
    assert_eq!(reach(ChannelState::Draft).len(), ChannelState::ALL.len());
    for s in ChannelState::ALL {
        assert!(reach(s).contains("terminated"), "{s} cannot end");
    }
    assert_eq!(reach(ChannelState::Terminated).len(), 1);
}
