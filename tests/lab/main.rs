//! Data-plane tests: real VLAN-filtering bridges in network namespaces, real netlink, real
//! frames. They need root and a kernel with bridge VLAN filtering, so `scripts/test` runs
//! this one binary under scripts/run-in-vm (see ../shared/LAB.md). Run anywhere else,
//! every test fails with a message saying how to run it; none skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use switchboard::engine;
use switchboard::orchestrator::{Item, parse_channels, plan, reach};
use switchboard::southbound::linux::{lab, netns, probe};
use switchboard::topology::Topology;

mod agent;
mod agent_faults;
mod cos;
mod lab_agents;
mod police;
mod qinq;

fn require_lab_kernel() {
    assert!(
        std::env::var("SWITCHBOARD_LAB_GUEST").as_deref() == Ok("1"),
        "the data-plane tests need root and a kernel with bridge VLAN filtering: run them with scripts/test \
         (which uses scripts/run-in-vm), not directly"
    );
}

fn topologies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies")
}

fn load_topology(text: &str) -> Topology {
    switchboard::topology::parse(text).unwrap()
}

fn metro_text() -> String {
    std::fs::read_to_string(topologies().join("metro.yaml")).unwrap()
}

fn metro_channels() -> String {
    std::fs::read_to_string(topologies().join("metro.channels.yaml")).unwrap()
}

/// A lab that is brought down when the test ends, pass or fail.
struct Lab {
    topo: Topology,
}

impl Lab {
    fn up(text: &str) -> Lab {
        require_lab_kernel();
        let topo = load_topology(text);
        lab::down(&topo).unwrap();
        lab::up(&topo, &mut |_| {}).unwrap();
        Lab { topo }
    }

    fn apply(&self, channels: &str) -> Result<engine::Report, engine::TransactionError> {
        let (specs, diags) = parse_channels(channels);
        assert!(diags.is_empty(), "{diags:?}");
        let planner = plan(&self.topo, &specs).unwrap();
        let mut drivers = engine::connect(&self.topo).unwrap();
        engine::apply(&planner, &mut drivers, &mut |_| {})
    }

    fn probe(&self, channels: &str, expect_none: bool) -> reach::Verdict {
        let (specs, _) = parse_channels(channels);
        let planner = plan(&self.topo, &specs).unwrap();
        let probes = reach::probes(&self.topo, planner.channels());
        let receptions = probe::run(&self.topo, &probes, 4242).unwrap();
        reach::judge(&self.topo, planner.channels(), &probes, &receptions, expect_none)
    }

    /// What every switch holds, as the kernel's own tools print it (bridge VLANs, static
    /// FDB, port flags, links, tc), so "exactly as before" is judged outside our code.
    fn snapshot(&self) -> Vec<String> {
        // One shell per switch: process start-up is slow under UML. Operational state
        // (UNKNOWN/UP) follows carrier events on its own time and is not configuration, so
        // `ip -br link` keeps name, MAC and flags only; the FDB prints in hash order, so it
        // is sorted. A tc action's index is the kernel's name for it, given out when it is
        // made (like an ifindex), not configuration: a policer that a rollback puts back is a
        // new action with the same rate and burst, so indexes read as `N`.
        const SCRIPT: &str = "bridge -d vlan show; bridge fdb show br br0 | sort; bridge -d link show; \
            ip -br link show | awk '{$2=\"\"; print}'; tc qdisc show; \
            for d in $(tc qdisc show | awk '/clsact/ {print $5}'); do \
              echo \"tc $d\"; { tc filter show dev $d ingress; tc filter show dev $d egress; } \
              | sed -E 's/police 0x[0-9a-f]+/police N/; s/index [0-9]+ ref/index N ref/'; done";
        self.topo
            .switches
            .iter()
            .map(|sw| format!("== {}\n{}", sw.name, sh_in(sw.driver.netns().unwrap(), &["sh", "-c", SCRIPT])))
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = lab::down(&self.topo);
    }
}

/// Runs a command inside a namespace and returns stdout (fails the test on error).
fn sh_in(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip").args(["netns", "exec", ns]).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?} in {ns}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn switchboard(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn our_namespaces(prefix: &str) -> Vec<String> {
    netns::list().into_iter().filter(|n| n.starts_with(prefix)).collect()
}

#[test]
fn lab_up_is_idempotent_repairs_and_down_leaves_nothing() {
    let lab = Lab::up(&metro_text());
    assert_eq!(our_namespaces("metro-").len(), 13 + 24);
    let again = lab::up(&lab.topo, &mut |_| {}).unwrap();
    assert_eq!(again, lab::UpReport::default(), "a second up changes nothing");
    // Break it: one switch namespace gone, one trunk end gone; up repairs both.
    netns::delete("metro-acc4").unwrap();
    sh_in("metro-agg1", &["ip", "link", "del", "d2"]);
    let repair = lab::up(&lab.topo, &mut |_| {}).unwrap();
    assert_eq!(repair.namespaces_created, 1);
    assert!(repair.links_created >= 2, "{repair:?}");
    assert!(sh_in("metro-agg1", &["ip", "-br", "link", "show", "d2"]).contains("UP"));
    // Two labs coexist: a second copy with other names.
    let other = Lab::up(&metro_text().replace("metro", "metrob"));
    assert_eq!(our_namespaces("metrob-").len(), 13 + 24);
    drop(other);
    assert!(our_namespaces("metrob-").is_empty());
    assert_eq!(our_namespaces("metro-").len(), 13 + 24, "the first lab is untouched");
    // The CLI: down removes every namespace (with their links and bridges).
    let metro = topologies().join("metro.yaml");
    let (code, out, err) = switchboard(&["lab", "down", metro.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("37 namespace(s) removed"), "{out}");
    assert!(our_namespaces("metro-").is_empty(), "left behind: {:?}", our_namespaces("metro-"));
    // Down after down (or after a failed up) is fine.
    let (code, out, _) = switchboard(&["lab", "down", metro.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("0 namespace(s) removed"));
}

#[test]
fn channels_carry_frames_leaves_stay_apart_and_removal_cuts_everyone() {
    let lab = Lab::up(&metro_text());
    let channels = metro_channels();
    let report = lab.apply(&channels).unwrap();
    assert!(report.changes > 300, "{report:?}");
    let verdict = lab.probe(&channels, false);
    assert!(verdict.anomalies.is_empty(), "{}", switchboard::cli::probe::render(&verdict));
    // Every expected pair was seen, and every p2mp leaf pair (same switch and across) was tested.
    let cells: Vec<_> = verdict.channels.iter().flat_map(|m| m.cells.iter()).collect();
    assert!(cells.iter().filter(|c| c.expected).all(|c| c.unicast && c.broadcast));
    let leaf_pairs = cells.iter().filter(|c| !c.expected).count();
    assert_eq!(leaf_pairs, 4 * 3 + 3 * 2, "stark-etree has 4 leaves, umbrella-etree 3");
    assert!(cells.iter().filter(|c| !c.expected).all(|c| !c.unicast && !c.broadcast));

    // The sites' own IP stacks: ARP and ping work across the E-Line in port mode, and across
    // the tagged E-Line through customer VLAN sub-interfaces (tags 500 and 600, translated).
    let metro_path = topologies().join("metro.yaml");
    let chan_path = topologies().join("metro.channels.yaml");
    let (code, _, err) = switchboard(&["lab", "up", metro_path.to_str().unwrap(), "-c", chan_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("customer VLAN sub-interface(s)"), "{err}");
    for (site, dev, ip) in [
        ("acme-1a", "eth0", "10.8.0.1/24"),
        ("acme-7c", "eth0", "10.8.0.2/24"),
        ("initech-1c", "eth0.500", "10.9.0.1/24"),
        ("initech-8b", "eth0.600", "10.9.0.2/24"),
    ] {
        sh_in(&format!("metro-site-{site}"), &["ip", "addr", "add", ip, "dev", dev]);
        sh_in(&format!("metro-site-{site}"), &["ip", "link", "set", dev, "up"]);
    }
    sh_in("metro-site-acme-1a", &["ping", "-c", "2", "-W", "2", "10.8.0.2"]);
    sh_in("metro-site-initech-8b", &["ping", "-c", "2", "-W", "2", "10.9.0.1"]);

    // The same desired state again: nothing to do.
    let again = lab.apply(&channels).unwrap();
    assert_eq!(again.changes, 0);
    let metro = topologies().join("metro.yaml");
    let chan_file = topologies().join("metro.channels.yaml");
    let (code, out, err) = switchboard(&["apply", "-t", metro.to_str().unwrap(), "-c", chan_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("applied 0 change(s) on 0 switch(es)"), "{out}");

    // Remove every channel: the same frames now reach nobody.
    lab.apply("[]").unwrap();
    let verdict = lab.probe(&channels, true);
    assert_eq!(verdict.receptions, 0, "{}", switchboard::cli::probe::render(&verdict));
    // And the CLI probe agrees (exit 0 with --expect-none, exit 1 when channels are expected).
    let (code, _, _) =
        switchboard(&["probe", "-t", metro.to_str().unwrap(), "-c", chan_file.to_str().unwrap(), "--expect-none"]);
    assert_eq!(code, 0);
    let (code, out, _) = switchboard(&["probe", "-t", metro.to_str().unwrap(), "-c", chan_file.to_str().unwrap()]);
    assert_eq!(code, 1, "losses must fail the probe:\n{out}");
    assert!(out.contains("LOSS"), "{out}");
}

/// The subset applied first, then the full set with a fault.
const FIRST: &str = "
- {name: acme-eline, kind: p2p, members: [acme-1a, acme-7c]}
- {name: globex-elan, kind: mp2mp, members: [globex-1b, globex-5c, {interface: initech-4a, customer_vlan: 700}]}
";

#[test]
fn a_fault_on_any_switch_leaves_every_switch_exactly_as_before() {
    let lab = Lab::up(&metro_text());
    lab.apply(FIRST).unwrap();
    // Foreign configuration that must survive everything: a VLAN in the reserved range on a
    // trunk, and a static FDB entry in it.
    sh_in("metro-agg2", &["bridge", "vlan", "add", "dev", "up", "vid", "1050"]);
    sh_in(
        "metro-agg2",
        &["bridge", "fdb", "add", "02:ee:00:00:00:01", "dev", "up", "master", "static", "vlan", "1050"],
    );
    let before = lab.snapshot();
    let full = metro_channels();
    let topo = &lab.topo;
    let (specs, _) = parse_channels(&full);
    let planner = plan(topo, &specs).unwrap();
    // Fail a single request (a sub-interface or port) on one switch, and a change inside a
    // VLAN/FDB batch on another, and the very first change of the last switch.
    for (switch, nth) in [("acc2", 1usize), ("acc5", 12), ("acc9", 0), ("core1", 5)] {
        let mut drivers = engine::connect(topo).unwrap();
        let i = topo.switch_index(switch).unwrap();
        drivers[i].inject_fault(nth);
        let err = engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap_err();
        assert_eq!(err.failure.switch, switch);
        assert!(err.rollback_errors.is_empty(), "{err}");
        assert!(err.failure.message.contains("errno"), "a real netlink error: {err}");
        let after = lab.snapshot();
        assert_same(&before, &after, &format!("fault on {switch} #{nth}"));
    }
    // The channels applied before the failed attempts still work, and nothing new leaked in.
    let verdict = lab.probe(FIRST, false);
    assert!(verdict.anomalies.is_empty(), "{}", switchboard::cli::probe::render(&verdict));
    // Through the CLI: the error names the switch and operation; exit 1.
    let metro = topologies().join("metro.yaml");
    let chan_file = topologies().join("metro.channels.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["apply", "-t", metro.to_str().unwrap(), "-c", chan_file.to_str().unwrap()])
        .env("SWITCHBOARD_FAULT", "agg3:2")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("switch `agg3`:") && err.contains("bridge -n metro-agg3") && err.contains("rolled back"),
        "{err}"
    );
    assert_same(&before, &lab.snapshot(), "fault through the CLI");
}

/// Fails with the lines that differ, per switch.
fn assert_same(before: &[String], after: &[String], what: &str) {
    let mut report = String::new();
    for (b, a) in before.iter().zip(after) {
        if b != a {
            let (bl, al): (Vec<&str>, Vec<&str>) = (b.lines().collect(), a.lines().collect());
            report += &format!("{}\n", b.lines().next().unwrap_or(""));
            for l in bl.iter().filter(|l| !al.contains(l)) {
                report += &format!("  - {l}\n");
            }
            for l in al.iter().filter(|l| !bl.contains(l)) {
                report += &format!("  + {l}\n");
            }
        }
    }
    assert!(report.is_empty(), "{what} left switches changed:\n{report}");
}

#[test]
fn drift_made_by_hand_is_found_and_repaired_and_foreign_config_is_left_alone() {
    let lab = Lab::up(&metro_text());
    let channels = metro_channels();
    lab.apply(&channels).unwrap();
    let metro = topologies().join("metro.yaml");
    let chan_file = topologies().join("metro.channels.yaml");
    let args = ["drift", "-t", metro.to_str().unwrap(), "-c", chan_file.to_str().unwrap()];
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no drift"));

    // Drift by hand: a lost FDB entry, a trunk VLAN gone, an extra pool VLAN, learning back on.
    let (specs, _) = parse_channels(&channels);
    let planner = plan(&lab.topo, &specs).unwrap();
    let acc2 = lab.topo.switch_index("acc2").unwrap();
    let fdb = planner.desired(acc2).into_iter().find(|i| matches!(i, Item::Fdb { port, .. } if port == "c1")).unwrap();
    let Item::Fdb { mac, vid, .. } = fdb else { unreachable!() };
    sh_in("metro-acc2", &["bridge", "fdb", "del", &mac.to_string(), "dev", "c1", "master", "vlan", &vid.to_string()]);
    let trunk_vid = planner.channels()["acme-eline"].vlan.to_string();
    sh_in("metro-core1", &["bridge", "vlan", "del", "dev", "a1", "vid", &trunk_vid]);
    sh_in("metro-agg3", &["bridge", "vlan", "add", "dev", "up", "vid", "3999"]);
    sh_in("metro-acc3", &["bridge", "link", "set", "dev", "c1", "learning", "on"]);
    // Foreign: outside the pool (4001+) and in the reserved range.
    sh_in("metro-agg1", &["bridge", "vlan", "add", "dev", "up", "vid", "4010"]);
    sh_in(
        "metro-agg1",
        &["bridge", "fdb", "add", "02:ee:00:00:00:02", "dev", "up", "master", "static", "vlan", "4010"],
    );
    sh_in("metro-acc1", &["bridge", "vlan", "add", "dev", "c1", "vid", "1001"]);

    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 1, "{out}");
    for want in [
        &format!("missing, would run:    bridge -n metro-acc2 fdb add {mac} dev c1 master static vlan {vid}"),
        &format!("missing, would run:    bridge -n metro-core1 vlan add dev a1 vid {trunk_vid}"),
        "unexpected, would run: bridge -n metro-agg3 vlan del dev up vid 3999",
        "missing, would run:    bridge -n metro-acc3 link set dev c1 learning off flood off mcast_flood on",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains("4010") && !out.contains("1001"), "foreign config reported as drift:\n{out}");
    assert!(out.contains("drift on 4 switch(es)"), "{out}");

    let (code, out, err) = switchboard(&[&args[..], &["--repair"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 0, "{out}");
    assert!(sh_in("metro-agg1", &["bridge", "vlan", "show", "dev", "up"]).contains("4010"));
    assert!(sh_in("metro-agg1", &["bridge", "fdb", "show", "dev", "up"]).contains("02:ee:00:00:00:02"));
    assert!(sh_in("metro-acc1", &["bridge", "vlan", "show", "dev", "c1"]).contains("1001"));
    let verdict = lab.probe(&channels, false);
    assert!(verdict.anomalies.is_empty(), "{}", switchboard::cli::probe::render(&verdict));
}

#[test]
fn p2p_small_through_the_cli() {
    require_lab_kernel();
    let topo = topologies().join("p2p-small.yaml");
    let chans = topologies().join("p2p-small.channels.yaml");
    let (t, c) = (topo.to_str().unwrap(), chans.to_str().unwrap());
    let _ = switchboard(&["lab", "down", t]);
    let (code, out, err) = switchboard(&["lab", "up", t]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("lab p2p-small is up: 5 namespace(s)"), "{out}");
    let (code, out, err) = switchboard(&["apply", "-t", t, "-c", c]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("sw2: "), "progress per switch: {err}");
    assert!(out.contains("verified by read-back"), "{out}");
    let (code, out, _) = switchboard(&["probe", "-t", t, "-c", c, "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["anomalies"].as_array().unwrap().len(), 0);
    assert_eq!(v["channels"][0]["cells"][0]["unicast"], true);
    let (code, _, _) = switchboard(&["lab", "down", t]);
    assert_eq!(code, 0);
    assert!(our_namespaces("p2p-small-").is_empty());
}

/// Seed 003's max GB, enforced from the switches' own counters: a p2p channel between the
/// two sites of p2p-small, provisioned by the orchestrator onto the real bridges, whose
/// invitee chose a 0.001 GB (1 MB) allowance. Frames sent between the sites move the
/// access ports' counters; the meter records each member's traffic, and the member past
/// its allowance ends the channel (removal order, configuration gone from the bridges).
#[test]
fn max_gb_is_enforced_from_the_switch_counters() {
    use switchboard::model::Mac;
    use switchboard::orchestrator::policy::{ChannelState, Quota};
    use switchboard::service::UsageModelSpec;

    let text = std::fs::read_to_string(topologies().join("p2p-small.yaml")).unwrap();
    let lab = Lab::up(&text);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let service = lab_service(dir.path(), &text, "topologies/p2p-small.yaml", "Lab E-Line", "linux").await;
        // 1,000.00 per GB: a cent per 10 kB, so the bill follows the counters closely.
        let small = UsageModelSpec {
            name: "1 MB".into(),
            max_gb: Some(Quota { megabytes: 1 }),
            price_type: Some(switchboard::orchestrator::policy::PriceType::PerGb),
            price_cents: 100_000,
            ..Default::default()
        };
        let small = service.svc.create_usage_model(&service.op, &service.definition, &small).await.unwrap();
        let (ch, _) = service.site_a_to_site_b("metered", &service.free, &small).await;
        let LabService { svc, op, admin, .. } = service;
        let done = svc.run_pending().await.unwrap();
        assert_eq!(done[0].status, "done", "{done:?}");
        let c = svc.channel(&op, &ch).await.unwrap();
        assert_eq!(c.state, ChannelState::Active);
        let vlan = c.vlan.unwrap();
        assert!(sh_in("p2p-small-sw2", &["bridge", "vlan", "show"]).contains(&vlan.to_string()));

        // The first reading is the baseline.
        let r = svc.meter().await.unwrap();
        assert_eq!((r.read, r.unread, r.ended.len()), (1, 0, 0), "{r:?}");
        // 300 frames of 1,500 bytes from site-a to site-b: 450 kB through site-b's port.
        let topo = lab.topo.clone();
        let (a, b): (Mac, Mac) = ("02:5b:00:00:01:01".parse().unwrap(), "02:5b:00:00:01:02".parse().unwrap());
        let mut frame = Vec::new();
        frame.extend_from_slice(&b.octets());
        frame.extend_from_slice(&a.octets());
        frame.extend_from_slice(&0x88b5u16.to_be_bytes());
        frame.resize(1500, 0);
        let (t, f) = (topo.clone(), frame.clone());
        // Paced under the channel's 10 Mbps so its policer passes every frame.
        let pace = |max_frames| probe::Pace {
            rate_bps: 8_000_000,
            duration: std::time::Duration::from_secs(30),
            max_frames,
            catch_up_bytes: 6_000,
        };
        let sent =
            tokio::task::spawn_blocking(move || probe::send_paced(&t, "site-a", &f, pace(300))).await.unwrap().unwrap();
        assert_eq!(sent.bytes, 450_000);
        let r = svc.meter().await.unwrap();
        assert_eq!((r.read, r.ended.len()), (1, 0), "{r:?}");
        // What site-b's port carried, as the meter recorded it.
        let site_b_used = async || {
            svc.channel(&op, &ch)
                .await
                .unwrap()
                .attachments
                .iter()
                .find(|m| m.interface == "site-b")
                .unwrap()
                .bytes_used
        };
        let used = site_b_used().await;
        assert!((450_000..500_000).contains(&used), "site-b's port carried {used} bytes, 450000 sent to it");
        assert_eq!(svc.channel(&op, &ch).await.unwrap().state, ChannelState::Active, "under the allowance");
        // Billed after the fact for what the counters read: nothing was charged in advance.
        let globex = svc.my_account(&admin[1]).await.unwrap();
        assert!(globex.charges.is_empty(), "per GB charges nothing in advance: {:?}", globex.charges);
        let r = svc.bill().await.unwrap();
        assert_eq!((r.charges, r.cents), (1, i64::try_from(used / 10_000).unwrap()), "{r:?}");
        let balance = globex.balance_cents;

        // 400 more: 1.05 MB, past the 1 MB allowance: the channel ends.
        let sent = tokio::task::spawn_blocking(move || probe::send_paced(&topo, "site-a", &frame, pace(400)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sent.bytes, 600_000);
        let r = svc.meter().await.unwrap();
        assert_eq!(r.ended, std::slice::from_ref(&ch), "{r:?}");
        let c = svc.channel(&op, &ch).await.unwrap();
        assert_eq!(c.state, ChannelState::Terminating);
        assert!(c.reason.contains("`1 MB` allows 0.001 GB") && c.reason.contains("site-b"), "{}", c.reason);
        // The traffic read as the channel ended is billed too, and the whole bill is the price
        // of the whole traffic, rounded down once.
        let used = site_b_used().await;
        let r = svc.bill().await.unwrap();
        assert_eq!(r.charges, 1, "{r:?}");
        let globex = svc.my_account(&admin[1]).await.unwrap();
        let total: i64 = globex.charges.iter().map(|c| c.amount_cents).sum();
        assert_eq!(total, i64::try_from(used / 10_000).unwrap(), "{:?}", globex.charges);
        assert_eq!(globex.balance_cents, balance - total, "the ledger is what the balance lost");
        assert!(globex.charges[0].what.contains("GB carried"), "{:?}", globex.charges);
        assert_eq!(svc.bill().await.unwrap().charges, 0, "charged once");
        svc.run_pending().await.unwrap();
        assert_eq!(svc.channel(&op, &ch).await.unwrap().state, ChannelState::Terminated);
        for sw in ["p2p-small-sw1", "p2p-small-sw2", "p2p-small-sw3"] {
            let vlans = sh_in(sw, &["bridge", "vlan", "show"]);
            assert!(!vlans.split_whitespace().any(|w| w == vlan.to_string()), "{sw} still has VLAN {vlan}:\n{vlans}");
        }
        let log = svc.audit_log(&op, None).await.unwrap();
        assert!(log.iter().any(|e| e.action == "channel.quota_used"), "audited");
    });
}

/// Issue 19: a change list is one batch of messages of every kind. A refusal in the middle of
/// it, injected or real, names its switch, its change (the index and the command) and the
/// kernel's error; the changes after it that went through are taken back, and every switch
/// (the ones that applied in parallel included) is back exactly as it was.
#[test]
fn a_refusal_in_the_middle_of_a_batch_names_its_change_and_every_switch_rolls_back() {
    use switchboard::orchestrator::{Item, Op, change_set};
    use switchboard::southbound::dry_run::command_lines;

    let lab = Lab::up(&metro_text());
    lab.apply(FIRST).unwrap();
    let topo = &lab.topo;
    let (specs, _) = parse_channels(&metro_channels());
    let planner = plan(topo, &specs).unwrap();
    let actual = engine::read_all(&mut engine::connect(topo).unwrap()).unwrap();
    let cs = change_set(&planner, &actual);
    let switch_changes = |name: &str| cs.switches.iter().find(|s| s.switch == name).unwrap();

    // A real refusal: a foreign interface holds the name of a sub-interface the plan adds, so
    // the kernel refuses the creation (EEXIST) and the port, VLAN and FDB messages after it
    // in the same batch find no such interface.
    let (sub_switch, sub_at, sub_name) = cs
        .switches
        .iter()
        .find_map(|s| {
            s.changes.iter().position(|c| c.op == Op::Add && matches!(c.item, Item::SubInterface { .. })).map(|k| {
                let Item::SubInterface { parent, vid } = &s.changes[k].item else { unreachable!() };
                (s.switch.clone(), k, format!("{parent}.{vid}"))
            })
        })
        .expect("the metro channels add a customer VLAN sub-interface");
    let ns = topo.switches[topo.switch_index(&sub_switch).unwrap()].driver.netns().unwrap().to_string();
    sh_in(&ns, &["ip", "link", "add", &sub_name, "type", "dummy"]);
    let before = lab.snapshot();
    let err = engine::apply(&planner, &mut engine::connect(topo).unwrap(), &mut |_| {}).unwrap_err();
    assert_eq!(err.failure.switch, sub_switch, "{err}");
    assert_eq!(err.failure.done, sub_at, "{err}");
    let sw = switch_changes(&sub_switch);
    assert_eq!(err.failure.op, command_lines(&sw.changes[sub_at], sw.driver.bridge(), Some(&ns)).join(" && "));
    assert!(err.failure.message.contains("errno 17"), "EEXIST from the kernel: {err}");
    assert!(err.rollback_errors.is_empty(), "{err}");
    assert_same(&before, &lab.snapshot(), "a refused sub-interface");
    sh_in(&ns, &["ip", "link", "del", &sub_name]);

    // An injected refusal in the middle of the busiest switch's batch: the other switches
    // apply and verify meanwhile, then roll back with it.
    let before = lab.snapshot();
    let busiest = cs.switches.iter().max_by_key(|s| s.changes.len()).unwrap();
    let mid = busiest.changes.len() / 2;
    let i = topo.switch_index(&busiest.switch).unwrap();
    let mut drivers = engine::connect(topo).unwrap();
    drivers[i].inject_fault(mid);
    let mut applied = Vec::new();
    let mut rolled_back = Vec::new();
    let err = engine::apply(&planner, &mut drivers, &mut |e| match e {
        engine::Event::Applied { switch, .. } => applied.push(switch.clone()),
        engine::Event::RollingBack { switch } => rolled_back.push(switch.clone()),
        engine::Event::Reapplying { .. } | engine::Event::Prepared { .. } | engine::Event::Replanned { .. } => {}
    })
    .unwrap_err();
    assert_eq!(err.failure.switch, busiest.switch);
    assert_eq!(err.failure.done, mid);
    let ns = busiest.driver.netns().unwrap();
    assert_eq!(err.failure.op, command_lines(&busiest.changes[mid], busiest.driver.bridge(), Some(ns)).join(" && "));
    assert!(err.failure.message.contains("errno"), "a real netlink error: {err}");
    assert!(err.rollback_errors.is_empty(), "{err}");
    let changed = cs.switches.iter().filter(|s| !s.changes.is_empty()).count();
    assert!(changed > 2, "{changed}");
    assert_eq!(applied.len(), changed - 1, "every other switch applied: {applied:?}");
    assert_eq!(rolled_back.len(), changed, "and every touched switch rolled back: {rolled_back:?}");
    assert_same(&before, &lab.snapshot(), "a fault in the middle of a batch");
    // The channels applied before still work.
    let verdict = lab.probe(FIRST, false);
    assert!(verdict.anomalies.is_empty(), "{}", switchboard::cli::probe::render(&verdict));
}

/// A batch refused on a `linux` switch takes back what went through after the refusal, but
/// not a bridge port's flags set in place: the port stays on its bridge with its VLANs (taken
/// back as a removal, it left the bridge, and every channel on it went dark until the
/// engine's rollback put it back).
#[test]
fn a_refused_batch_leaves_a_port_whose_flags_were_set_in_place_on_its_bridge() {
    use switchboard::orchestrator::{Change, Op};
    use switchboard::southbound::Driver;
    use switchboard::southbound::linux::LinuxSwitch;

    let lab = Lab::up(&std::fs::read_to_string(topologies().join("p2p-small.yaml")).unwrap());
    lab.apply(&std::fs::read_to_string(topologies().join("p2p-small.channels.yaml")).unwrap()).unwrap();
    let ns = "p2p-small-sw1";
    sh_in(ns, &["ip", "link", "set", "dev", "ca", "type", "bridge_slave", "mcast_flood", "off"]);
    let vlans = sh_in(ns, &["bridge", "vlan", "show", "dev", "ca"]);
    assert!(vlans.contains("PVID"), "{vlans}");
    let mut sw = LinuxSwitch::connect("sw1", Some(ns), "br0").unwrap();
    sw.inject_fault(0);
    let changes = [
        Change { op: Op::Add, item: Item::Vlan { port: "t12".into(), vid: 150, pvid: false, untagged: false } },
        Change { op: Op::Add, item: Item::Port { port: "ca".into(), mcast_flood: true } },
    ];
    let err = sw.apply(&changes).unwrap_err();
    assert_eq!(err.done, 0, "{err}");
    let link = sh_in(ns, &["ip", "-d", "link", "show", "dev", "ca"]);
    assert!(link.contains("master br0"), "the port left its bridge: {link}");
    assert_eq!(sh_in(ns, &["bridge", "vlan", "show", "dev", "ca"]), vlans, "its VLANs went");
    // The engine's rollback (here: an apply of the same channels) converges it as planned.
    lab.apply(&std::fs::read_to_string(topologies().join("p2p-small.channels.yaml")).unwrap()).unwrap();
    assert!(sh_in(ns, &["ip", "-d", "link", "show", "dev", "ca"]).contains("mcast_flood on"));
}

/// The linux driver keeps its netlink sockets per namespace: a second driver for a switch
/// takes the first one's socket; a namespace deleted and made again under the same name is
/// another namespace, and a driver for it reads it, not the old one.
#[test]
fn netlink_sockets_are_kept_per_namespace_and_never_outlive_it() {
    use switchboard::southbound::Driver;
    use switchboard::southbound::linux::{LinuxSwitch, kept};

    let text = std::fs::read_to_string(topologies().join("p2p-small.yaml")).unwrap();
    let lab = Lab::up(&text);
    lab.apply(&std::fs::read_to_string(topologies().join("p2p-small.channels.yaml")).unwrap()).unwrap();
    let ns = "p2p-small-sw1";
    let vlans = |state: &std::collections::BTreeSet<Item>| {
        state.iter().filter(|i| matches!(i, Item::Vlan { port, .. } if port == "t12")).count()
    };
    let mut a = LinuxSwitch::connect("sw1", Some(ns), "br0").unwrap();
    assert!(vlans(&a.read_state().unwrap()) > 0, "the channel's VLAN is on the trunk");
    drop(a);
    let spare = kept::spare_count();
    assert!(spare >= 1, "the socket was kept");
    let b = LinuxSwitch::connect("sw1", Some(ns), "br0").unwrap();
    assert_eq!(kept::spare_count(), spare - 1, "the second driver took the kept socket");
    drop(b);

    // The lab down and up again: the same names, other namespaces, no channel.
    lab::down(&lab.topo).unwrap();
    assert_eq!(kept::spare_count(), 0, "no socket outlives its namespace");
    lab::up(&lab.topo, &mut |_| {}).unwrap();
    let mut c = LinuxSwitch::connect("sw1", Some(ns), "br0").unwrap();
    assert_eq!(vlans(&c.read_state().unwrap()), 0, "the driver reads the new namespace");
}

/// Issue 19: the switches are applied in parallel, and a switch whose whole change list is
/// refused (the first change fails) while the others apply leaves every switch as it was;
/// applying afterwards, with nothing in the way, reaches the plan on every switch.
#[test]
fn parallel_apply_with_one_switch_failing_leaves_every_switch_as_it_was() {
    let lab = Lab::up(&metro_text());
    let topo = &lab.topo;
    let (specs, _) = parse_channels(&metro_channels());
    let planner = plan(topo, &specs).unwrap();
    // The baseline (ports on the bridges): a bridge that loses its last port changes its
    // MAC, which the snapshot would count as a difference.
    lab.apply("[]").unwrap();
    let before = lab.snapshot();
    for switch in ["core1", "acc9"] {
        let mut drivers = engine::connect(topo).unwrap();
        drivers[topo.switch_index(switch).unwrap()].inject_fault(0);
        let err = engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap_err();
        assert_eq!((err.failure.switch.as_str(), err.failure.done), (switch, 0), "{err}");
        assert!(err.rollback_errors.is_empty(), "{err}");
        assert_same(&before, &lab.snapshot(), &format!("{switch} refused"));
    }
    // The lab kernel has one CPU, so the engine works on one switch at a time unless told
    // otherwise: the same through the CLI with a thread per switch, the fault on a switch in
    // the middle of the topology.
    let metro = topologies().join("metro.yaml");
    let chan_file = topologies().join("metro.channels.yaml");
    let cli_apply = |fault: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["apply", "-t", metro.to_str().unwrap(), "-c", chan_file.to_str().unwrap()]);
        cmd.env("SWITCHBOARD_APPLY_THREADS", "13");
        if let Some(fault) = fault {
            cmd.env("SWITCHBOARD_FAULT", fault);
        }
        cmd.output().unwrap()
    };
    let out = cli_apply(Some("agg2:3"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("switch `agg2`:") && err.contains("rolled back"), "{err}");
    assert!(err.matches(": rolling back").count() > 2, "the other switches had applied: {err}");
    assert_same(&before, &lab.snapshot(), "agg2 refused, a thread per switch");
    let out = cli_apply(None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    lab.apply("[]").unwrap();
    assert_same(&before, &lab.snapshot(), "applied and removed, a thread per switch");
    let report = lab.apply(&metro_channels()).unwrap();
    assert_eq!(report.reapplied, 0, "{report:?}");
    let drift = engine::drift(&planner, &mut engine::connect(topo).unwrap()).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    let verdict = lab.probe(&metro_channels(), false);
    assert!(verdict.anomalies.is_empty(), "{}", switchboard::cli::probe::render(&verdict));
}

/// A service on SQLite in `dir` with topology `text` (read from `file`) imported, the NOC,
/// an admin each for acme and globex, an E-Line definition `name` for `driver` switches and
/// a free usage model: what the lab's service tests start from.
pub(crate) struct LabService {
    pub svc: switchboard::service::Service,
    pub op: switchboard::service::Actor,
    /// acme's admin, then globex's.
    pub admin: Vec<switchboard::service::Actor>,
    pub definition: String,
    pub free: switchboard::model::id::UsageModelId,
}

impl LabService {
    /// A 10 Mbps E-Line `name` from acme's site-a (usage model `creator`) offered to globex,
    /// whose admin accepts it with site-b (model `joiner`): the channel and its order.
    pub(crate) async fn site_a_to_site_b(
        &self,
        name: &str,
        creator: &switchboard::model::id::UsageModelId,
        joiner: &switchboard::model::id::UsageModelId,
    ) -> (switchboard::model::id::ChannelId, switchboard::model::id::OrderId) {
        use switchboard::service::{Acceptance, InviteeSpec, NewChannel, NewOffer};
        let new = NewChannel {
            name: name.parse().unwrap(),
            kind: switchboard::model::ChannelKind::P2p,
            bandwidth_mbps: 10,
            class: "standard".parse().unwrap(),
            usage_model_id: creator.clone(),
            interface: "site-a".parse().unwrap(),
            role: None,
            customer_vlan: None,
            member_bandwidth_mbps: None,
        };
        let ch = self.svc.create_channel(&self.admin[0], &new).await.unwrap();
        let invitee = InviteeSpec { email: Some("admin@globex.example".parse().unwrap()), ..Default::default() };
        let offer = NewOffer { invitees: vec![invitee], ..Default::default() };
        let offer = self.svc.offer(&self.admin[0], &ch, &offer).await.unwrap();
        let acc = Acceptance {
            interface: "site-b".parse().unwrap(),
            usage_model_id: Some(joiner.clone()),
            customer_vlan: None,
            bandwidth_mbps: None,
        };
        let accepted = self.svc.accept(&self.admin[1], &offer.invitations[0].token, &acc).await.unwrap();
        (ch, accepted.order_id.unwrap())
    }
}

pub(crate) async fn lab_service(dir: &Path, text: &str, file: &str, name: &str, driver: &str) -> LabService {
    use switchboard::model::ChannelKind;
    use switchboard::service::{Actor, Config, DefinitionSpec, OPERATOR_ORG, Service, UsageModelSpec, UserRole};
    let db = switchboard::store::Db::connect(&switchboard::store::sqlite_url(dir).unwrap()).await.unwrap();
    let svc = Service::new(db, Config { dry_run: false, ..Config::default() });
    let system = Actor::system("lab-test");
    svc.import_topology(&system, text, file).await.unwrap();
    let uid = svc
        .create_user(&system, OPERATOR_ORG, "noc@op.example", "NOC", UserRole::Operator, "lab-password-1")
        .await
        .unwrap();
    let op = svc.actor(&uid, "lab").await.unwrap();
    let mut admin = Vec::new();
    for org in ["acme", "globex"] {
        let org_id = svc.organization_id(org).await.unwrap();
        let email = format!("admin@{org}.example");
        let uid = svc.create_user(&op, &org_id, &email, "Admin", UserRole::Admin, "lab-password-1").await.unwrap();
        admin.push(svc.actor(&uid, "lab").await.unwrap());
    }
    let spec = DefinitionSpec {
        name: name.into(),
        kinds: vec![ChannelKind::P2p],
        min_bandwidth_mbps: 1,
        max_bandwidth_mbps: 1000,
        classes: vec!["standard".into()],
        drivers: vec![driver.into()],
        relations: Default::default(),
    };
    let (definition, _) = svc.create_definition(&op, &spec).await.unwrap();
    let free = UsageModelSpec { name: "free".into(), ..Default::default() };
    let free = svc.create_usage_model(&op, &definition, &free).await.unwrap();
    LabService { svc, op, admin, definition, free }
}
