//! Issue 18, bandwidth profiles: a member's ingress is policed to its channel's bandwidth
//! (CIR) with the planned burst (CBS), judged by the receiver's counters and the policer's
//! own, and the policer lives like every other item: drift, repair, removal.

use std::time::Duration;

use switchboard::engine;
use switchboard::model::Mac;
use switchboard::orchestrator::{Change, Conform, Item, Op, parse_channels, plan, police_burst};
use switchboard::southbound::dry_run::command_lines;
use switchboard::southbound::linux::{lab, probe};

use super::{Lab, assert_same, sh_in, switchboard, topologies};

/// One E-Line of 1 Mbps across p2p-small (site-a on sw1's `ca`, site-b on sw3's `cb`).
const CHANNELS: &str = "- {name: policed, kind: p2p, bandwidth: 1, members: [site-a, site-b]}\n";
const CIR_BPS: u64 = 1_000_000;
/// Frames of 1,000 bytes; the policer counts them without their 14-byte MAC header (the
/// kernel's ingress hook sees the frame after the header is pulled).
const FRAME: usize = 1000;
const POLICED: u64 = FRAME as u64 - 14;

fn p2p_small() -> Lab {
    Lab::up(&std::fs::read_to_string(topologies().join("p2p-small.yaml")).unwrap())
}

fn frame_a_to_b() -> Vec<u8> {
    frame("02:5b:00:00:01:01", "02:5b:00:00:01:02", None)
}

/// A frame of [`FRAME`] bytes from `from` to `to`, with the customer tag `tag` if given.
fn frame(from: &str, to: &str, tag: Option<u16>) -> Vec<u8> {
    let (a, b): (Mac, Mac) = (from.parse().unwrap(), to.parse().unwrap());
    let mut frame = Vec::with_capacity(FRAME);
    frame.extend_from_slice(&b.octets());
    frame.extend_from_slice(&a.octets());
    if let Some(tag) = tag {
        frame.extend_from_slice(&0x8100u16.to_be_bytes());
        frame.extend_from_slice(&tag.to_be_bytes());
    }
    frame.extend_from_slice(&0x88b5u16.to_be_bytes());
    frame.resize(FRAME, 0);
    frame
}

/// site-b's received frames, from its interface counters.
fn received_at_b(lab: &Lab) -> u64 {
    received_at(lab, "site-b")
}

/// A site's received frames, from its `eth0` counters.
fn received_at(lab: &Lab, site: &str) -> u64 {
    let ns = lab::site_namespace(&lab.topo, site);
    sh_in(&ns, &["cat", "/sys/class/net/eth0/statistics/rx_packets"]).trim().parse().unwrap()
}

/// The policer's own counters on sw1's `ca`: (frames seen, frames dropped), from
/// `tc -s filter show` (`Sent B bytes P pkt (dropped D, ...)` of the police action).
fn policer_counts() -> (u64, u64) {
    let out = sh_in("p2p-small-sw1", &["tc", "-s", "filter", "show", "dev", "ca", "ingress", "pref", "2"]);
    let line = out.lines().rev().find(|l| l.trim_start().starts_with("Sent ")).unwrap_or_else(|| panic!("{out}"));
    let words: Vec<&str> =
        line.split(|c: char| c.is_whitespace() || c == ',' || c == '(').filter(|w| !w.is_empty()).collect();
    let after = |w: &str| -> u64 {
        let at = words.iter().position(|x| *x == w).unwrap_or_else(|| panic!("no `{w}` in {line:?}"));
        words[at + 1].parse().unwrap_or_else(|_| panic!("{line:?}"))
    };
    let pkt = words.iter().position(|x| *x == "pkt").unwrap_or_else(|| panic!("{line:?}"));
    (words[pkt - 1].parse().unwrap(), after("dropped"))
}

fn send(lab: &Lab, rate_bps: u64, seconds: u64, catch_up_bytes: u64) -> probe::Sent {
    let pace = probe::Pace { rate_bps, duration: Duration::from_secs(seconds), max_frames: u64::MAX, catch_up_bytes };
    probe::send_paced(&lab.topo, "site-a", &frame_a_to_b(), pace).unwrap()
}

/// A sender at 10x the CIR gets the CIR plus the burst through, within 10%, as site-b's
/// counters read it; a sender at half the CIR loses nothing; and the policer's counters
/// agree with the sender's and the receiver's.
#[test]
fn policer_passes_cir_plus_burst_and_loses_nothing_under_cir() {
    let lab = p2p_small();
    lab.apply(CHANNELS).unwrap();
    let shown = sh_in("p2p-small-sw1", &["tc", "filter", "show", "dev", "ca", "ingress"]);
    assert!(shown.contains("matchall") && shown.contains("police") && shown.contains("rate 1Mbit"), "{shown}");
    assert!(sh_in("p2p-small-sw3", &["tc", "filter", "show", "dev", "cb", "ingress"]).contains("rate 1Mbit"));

    // Under the CIR: every frame arrives.
    let before = received_at_b(&lab);
    let under = send(&lab, CIR_BPS / 2, 2, 3 * FRAME as u64);
    let got = received_at_b(&lab) - before;
    assert_eq!(got, under.frames, "at half the CIR nothing is lost: {under:?}");
    assert!(under.frames > 100, "{under:?}");
    assert_eq!(policer_counts(), (under.frames, 0), "the policer saw them all and dropped none");

    // 10x the CIR: the CIR and the burst get through. The bucket refills in 0.1 s.
    std::thread::sleep(Duration::from_millis(500));
    let before = received_at_b(&lab);
    let over = send(&lab, 10 * CIR_BPS, 3, 10 * FRAME as u64);
    let got = received_at_b(&lab) - before;
    let offered_bps = over.bytes as f64 * 8.0 / over.elapsed.as_secs_f64();
    assert!(offered_bps > 5.0 * CIR_BPS as f64, "the lab could only offer {offered_bps:.0} bit/s: {over:?}");
    let allowed = f64::from(police_burst(CIR_BPS)) + CIR_BPS as f64 / 8.0 * over.elapsed.as_secs_f64();
    let expected = allowed / POLICED as f64;
    let delivered_bps = (got * POLICED * 8) as f64 / over.elapsed.as_secs_f64();
    eprintln!(
        "offered {offered_bps:.0} bit/s for {:.3} s ({} frames); delivered {got} frames ({delivered_bps:.0} bit/s \
         policed bytes), expected {expected:.1}",
        over.elapsed.as_secs_f64(),
        over.frames
    );
    assert!((got as f64 - expected).abs() <= 0.1 * expected, "delivered {got} frames, expected {expected:.1} ± 10%");
    let (seen, dropped) = policer_counts();
    assert_eq!(seen, under.frames + over.frames, "the policer saw every frame sent");
    assert_eq!(dropped, over.frames - got, "what the policer dropped is what did not arrive");
}

/// A rate changed by hand is drift; `drift --repair` puts the planned policer back; the dry
/// run's `tc` commands make the same policer as the driver; removing the channel leaves no
/// qdisc, filter or police action behind.
#[test]
fn a_hand_changed_rate_is_drift_repaired_and_removal_leaves_no_tc_object() {
    let lab = p2p_small();
    let dir = tempfile::tempdir().unwrap();
    let chans = dir.path().join("policed.yaml");
    std::fs::write(&chans, CHANNELS).unwrap();
    let topo = topologies().join("p2p-small.yaml");
    let args = ["drift", "-t", topo.to_str().unwrap(), "-c", chans.to_str().unwrap()];
    lab.apply(CHANNELS).unwrap();
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 0, "{out}");

    // The rate changed in place, on the police action the filter holds (a matchall filter
    // cannot be replaced).
    let shown = sh_in("p2p-small-sw1", &["tc", "filter", "show", "dev", "ca", "ingress"]);
    let index = shown
        .split_whitespace()
        .skip_while(|w| *w != "police")
        .nth(1)
        .and_then(|i| u32::from_str_radix(i.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no police index in {shown}"))
        .to_string();
    let change = "tc actions change action police rate 5mbit burst 20k conform-exceed drop/continue index";
    let change: Vec<&str> = change.split(' ').chain([index.as_str()]).collect();
    sh_in("p2p-small-sw1", &change);
    let shown = sh_in("p2p-small-sw1", &["tc", "filter", "show", "dev", "ca", "ingress"]);
    assert!(shown.contains("rate 5Mbit"), "the hand change took: {shown}");
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 1, "{out}");
    let burst = police_burst(CIR_BPS);
    for want in [
        "unexpected, would run: tc -n p2p-small-sw1 filter del dev ca ingress protocol all pref 2 matchall".to_string(),
        format!(
            "missing, would run:    tc -n p2p-small-sw1 filter add dev ca ingress protocol all pref 2 matchall \
             action police rate 1000000bit burst {burst} conform-exceed drop/continue"
        ),
    ] {
        assert!(out.contains(&want), "missing {want:?} in:\n{out}");
    }
    assert!(out.contains("drift on 1 switch(es)"), "{out}");
    let (code, out, err) = switchboard(&[&args[..], &["--repair"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 0, "{out}");
    let shown = sh_in("p2p-small-sw1", &["tc", "filter", "show", "dev", "ca", "ingress"]);
    assert!(shown.contains("rate 1Mbit") && !shown.contains("5Mbit"), "{shown}");

    // The dry run's `tc` commands make exactly the policer the driver makes: taken down and
    // put back by them, there is no drift.
    let item = Item::Police { port: "ca".into(), rate_bps: CIR_BPS, burst_bytes: burst, conform: Conform::Continue };
    for op in [Op::Remove, Op::Add] {
        for line in command_lines(&Change { op, item: item.clone() }, "br0", None) {
            let words: Vec<&str> = line.split(' ').collect();
            sh_in("p2p-small-sw1", &words);
        }
    }
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 0, "the rendered commands differ from the driver's messages:\n{out}");

    lab.apply("[]").unwrap();
    for (sw, port) in [("p2p-small-sw1", "ca"), ("p2p-small-sw3", "cb")] {
        let qdiscs = sh_in(sw, &["tc", "qdisc", "show", "dev", port]);
        assert!(!qdiscs.contains("clsact"), "{sw}: {qdiscs}");
        let actions = sh_in(sw, &["tc", "actions", "list", "action", "police"]);
        assert!(!actions.contains("police"), "{sw}: {actions}");
    }
}

/// A tagged-mode member is policed on its sub-interface: a 1 Mbps E-Line between two
/// tagged-mode metro sites (customer tags 500 and 600), at 10x the CIR, delivers the CBS plus
/// the CIR within 10% (the policer counts a frame without its MAC header and the customer
/// tag the sub-interface strips: 18 bytes).
#[test]
fn a_tagged_member_is_policed_on_its_sub_interface() {
    let lab = Lab::up(&super::metro_text());
    let channels = "- {name: tagged-policed, kind: p2p, bandwidth: 1, members: \
        [{interface: initech-1c, customer_vlan: 500}, {interface: initech-8b, customer_vlan: 600}]}\n";
    lab.apply(channels).unwrap();
    let shown = sh_in("metro-acc1", &["tc", "filter", "show", "dev", "c3.500", "ingress"]);
    assert!(shown.contains("police") && shown.contains("rate 1Mbit"), "{shown}");
    let before = received_at(&lab, "initech-8b");
    let pace = probe::Pace {
        rate_bps: 10 * CIR_BPS,
        duration: Duration::from_secs(3),
        max_frames: u64::MAX,
        catch_up_bytes: 10 * FRAME as u64,
    };
    let tagged = frame("02:5b:00:00:01:03", "02:5b:00:00:08:02", Some(500));
    let over = probe::send_paced(&lab.topo, "initech-1c", &tagged, pace).unwrap();
    let got = received_at(&lab, "initech-8b") - before;
    let offered_bps = over.bytes as f64 * 8.0 / over.elapsed.as_secs_f64();
    assert!(offered_bps > 5.0 * CIR_BPS as f64, "the lab could only offer {offered_bps:.0} bit/s: {over:?}");
    let allowed = f64::from(police_burst(CIR_BPS)) + CIR_BPS as f64 / 8.0 * over.elapsed.as_secs_f64();
    let expected = allowed / (FRAME - 18) as f64;
    eprintln!(
        "tagged: offered {offered_bps:.0} bit/s for {:.3} s ({} frames); delivered {got} frames, expected {expected:.1}",
        over.elapsed.as_secs_f64(),
        over.frames
    );
    assert!((got as f64 - expected).abs() <= 0.1 * expected, "delivered {got} frames, expected {expected:.1} ± 10%");
}

/// A member's own bandwidth (issue 18 item 1): each end of the E-Line is policed at its own
/// rate on the real switches, a changed figure changes only that member's policer, and
/// `drift` finds the switches exactly as planned after each apply.
#[test]
fn each_member_is_policed_at_its_own_bandwidth() {
    let lab = p2p_small();
    let rate = |sw: &str, port: &str| {
        let shown = sh_in(sw, &["tc", "filter", "show", "dev", port, "ingress", "pref", "2"]);
        shown.split_whitespace().skip_while(|w| *w != "rate").nth(1).unwrap_or_else(|| panic!("{shown}")).to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let topo = topologies().join("p2p-small.yaml");
    for (b_own, want_b) in [("bandwidth: 3", "3Mbit"), ("bandwidth: 7", "7Mbit"), ("", "1Mbit")] {
        let channels = format!(
            "- {{name: policed, kind: p2p, bandwidth: 1, members: [site-a, {{interface: site-b{}}}]}}\n",
            if b_own.is_empty() { String::new() } else { format!(", {b_own}") }
        );
        lab.apply(&channels).unwrap();
        assert_eq!(
            (rate("p2p-small-sw1", "ca"), rate("p2p-small-sw3", "cb")),
            ("1Mbit".to_string(), want_b.to_string())
        );
        let chans = dir.path().join("policed.yaml");
        std::fs::write(&chans, &channels).unwrap();
        let (code, out, _) = switchboard(&["drift", "-t", topo.to_str().unwrap(), "-c", chans.to_str().unwrap()]);
        assert_eq!(code, 0, "{channels}{out}");
    }
}

/// A policer as Switchboard made it before the L2CP discard (conform `pass`, which ends the
/// classification before the discard) is drift, shown as what it is; an apply that fails on
/// its switch after taking it away puts it back exactly (rate, burst and conform action, as
/// `tc` prints them), and one that succeeds replaces it with the planned policer.
#[test]
fn a_pass_policer_from_before_is_put_back_by_a_rollback_and_replaced_by_an_apply() {
    let lab = p2p_small();
    lab.apply(CHANNELS).unwrap();
    let ns = "p2p-small-sw1";
    sh_in(ns, &["tc", "filter", "del", "dev", "ca", "ingress", "pref", "2"]);
    let old = "tc filter add dev ca ingress protocol all pref 2 handle 1 matchall action police rate 5mbit burst 20000 \
               conform-exceed drop/pass";
    sh_in(ns, &old.split_whitespace().collect::<Vec<_>>());
    let shown = || sh_in(ns, &["tc", "filter", "show", "dev", "ca", "ingress", "pref", "2"]);
    let before_shown = shown();
    // `tc` prints a conform action of pass as nothing (`action drop`).
    let passes = |shown: &str| shown.contains("rate 5Mbit") && shown.contains("action drop ") && !shown.contains("/");
    assert!(passes(&before_shown), "{before_shown}");

    let dir = tempfile::tempdir().unwrap();
    let chans = dir.path().join("policed.yaml");
    std::fs::write(&chans, CHANNELS).unwrap();
    let topo_file = topologies().join("p2p-small.yaml");
    let args = ["drift", "-t", topo_file.to_str().unwrap(), "-c", chans.to_str().unwrap()];
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("conform-exceed drop/continue"), "the planned policer is missing:\n{out}");
    assert!(out.contains("filter del dev ca ingress protocol all pref 2 matchall"), "the old one goes:\n{out}");

    // sw1's changes are the old policer's removal and the new one's addition; the second
    // is refused, after the first went through.
    let topo = &lab.topo;
    let (specs, _) = parse_channels(CHANNELS);
    let planner = plan(topo, &specs).unwrap();
    let before = lab.snapshot();
    let mut drivers = engine::connect(topo).unwrap();
    drivers[topo.switch_index("sw1").unwrap()].inject_fault(1);
    let err = engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap_err();
    assert_eq!((err.failure.switch.as_str(), err.failure.done), ("sw1", 1), "{err}");
    assert!(err.failure.op.contains("drop/continue"), "{err}");
    assert!(err.rollback_errors.is_empty(), "{err}");
    assert_same(&before, &lab.snapshot(), "a failed replacement of a pass policer");
    let after_rollback = shown();
    assert!(passes(&after_rollback), "{after_rollback}");

    lab.apply(CHANNELS).unwrap();
    let after = shown();
    assert!(after.contains("rate 1Mbit") && after.contains("drop/continue"), "{after}");
    let (code, out, _) = switchboard(&args);
    assert_eq!(code, 0, "{out}");
}
