//! Apply benchmark (issue: linux driver): the change set of N channels on the metro lab
//! through the linux driver, against two baselines in the same run: the physical limit (the
//! driver's own messages for the same change set, encoded beforehand and sent in the same
//! sendmsg chunks by a minimal sender, one switch after another, nothing read or checked)
//! and `bridge -batch` (with `ip -batch` and `tc -batch` for the link and tc lines) applying
//! the dry-run rendering of the same change set. Also: the rollback of a failed apply of the
//! same change set, and the time from apply start to the first frame between two new members.
//!
//! Issue 17 (`BENCH_AGENTS`, on by default): the same change sets through a real
//! `switchboard agent` per switch (the binary built with this bench, started by its own
//! `lab up --agents`: a management network of veths in the lab's namespaces, certificates
//! from `switchboard::pki`, mutual TLS), in the same rounds as the linux driver's applies,
//! with the switches in parallel (`SWITCHBOARD_APPLY_THREADS` = the switches) and one after
//! another (= 1); the bytes and packets on the management network per channel; and the first
//! frame through the agents beside the first frame through the linux driver.
//! `BENCH_AGENTS=0` leaves the agents out; `BENCH_AGENTS=only` keeps the linux driver and the
//! agents and leaves out the raw sender, the failed apply and `-batch`.
//!
//! Needs root and the VLAN-filtering kernel: run `scripts/bench-apply`, which builds this
//! and runs it under scripts/run-in-vm. Prints Markdown tables.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use switchboard::engine::{self, Event};
use switchboard::orchestrator::{Item, Planner, change_set, parse_channels, plan};
use switchboard::southbound::dry_run::batches;
use switchboard::southbound::linux::{LinuxSwitch, chunks, lab, netns, probe};
use switchboard::topology::Topology;

use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkMessage};
use rtnetlink::sys::{Socket, protocols::NETLINK_ROUTE};
use switchboard::topology::generate::{ChannelOptions, channels_yaml};

#[path = "apply/agents.rs"]
mod agents;

fn main() {
    if std::env::var("SWITCHBOARD_LAB_GUEST").as_deref() != Ok("1") {
        eprintln!("run this through scripts/bench-apply (it needs the VLAN-filtering kernel of scripts/run-in-vm)");
        std::process::exit(2);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let metro = root.join("topologies/metro.yaml");
    let topo = switchboard::topology::parse(&std::fs::read_to_string(&metro).unwrap()).unwrap();
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let agents_mode = std::env::var("BENCH_AGENTS").unwrap_or_default();
    let with_agents = agents_mode != "0";
    let only_agents = agents_mode == "only";
    // BENCH_BATCH=0 leaves out the iproute2 baseline (minutes at 1,000 channels under UML),
    // for quick looks at the driver against the raw sender.
    let with_batch = std::env::var("BENCH_BATCH").as_deref() != Ok("0") && !only_agents;
    lab::down(&topo).unwrap();
    lab::up(&topo, &mut |_| {}).unwrap();
    let agents = with_agents.then(|| agents::up(&metro));
    reset(&topo);

    if !only_agents {
        println!(
            "| channels | changes | linux driver (read, apply, read-back) | driver, sending only | raw sender (same messages, pre-encoded) | `ip/bridge/tc -batch` | driver / raw | `-batch` / driver | failed apply + rollback (rollback alone) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
    }
    let mut agent_rows = Vec::new();
    let mut cpu_rows: Vec<String> = Vec::new();
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES").map_or_else(
        |_| vec![100, 1000],
        |v| v.split(',').filter(|n| !n.trim().is_empty()).map(|n| n.trim().parse().unwrap()).collect(),
    );
    let mut warmed = false;
    for n in sizes {
        let (specs, diags) = parse_channels(&channels_yaml(&topo, &ChannelOptions { channels: n, seed: 7 }));
        assert!(diags.is_empty());
        let planner = plan(&topo, &specs).unwrap_or_else(|e| panic!("{n} channels do not fit metro: {:?}", e.first()));
        let (mut linux, mut sending, mut raw, mut batch, mut failed, mut rollback) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut linux_cpu, mut raw_cpu) = (Vec::new(), Vec::new());
        let (mut parallel, mut serial, mut splits) = (Vec::new(), Vec::new(), Vec::new());
        let mut changes = 0;
        if let Some(a) = agents.as_ref().filter(|_| !warmed) {
            // One untimed round first: the first apply of a process, and the first through
            // each agent, pay for what is made once (sockets, the agents' first journal and
            // netlink sockets, allocations), which the rounds then would split unevenly.
            warmed = true;
            linux_apply(&planner);
            reset(&topo);
            for at_once in [topo.switches.len(), 1] {
                let _ = a.apply(&planner, at_once);
                reset(&topo);
            }
        }
        for round in 0..rounds {
            let (total, send, c, split, cpu) = linux_apply(&planner);
            linux_cpu.push(cpu);
            changes = c;
            linux.push(total);
            splits.push((total, split));
            sending.push(send);
            reset(&topo);
            // The agents' rounds right after the linux driver's, at once and one by one in
            // turn first.
            if let Some(a) = &agents {
                eprintln!("{n} channels, round {round}: linux driver {:.0} ms", ms(total));
                for at_once in if round % 2 == 0 { [topo.switches.len(), 1] } else { [1, topo.switches.len()] } {
                    let run = a.apply(&planner, at_once);
                    eprintln!("{n} channels, round {round}: agents {at_once} at once {run:?}");
                    if at_once == 1 {
                        serial.push(run)
                    } else {
                        parallel.push(run)
                    }
                    reset(&topo);
                }
            }
            if only_agents {
                continue;
            }
            let (r, cpu) = raw_apply(&topo, &planner);
            raw.push(r);
            raw_cpu.push(cpu);
            reset(&topo);
            let (f, r) = failed_apply(&topo, &planner);
            failed.push(f);
            rollback.push(r);
            if with_batch {
                batch.push(batch_apply(&topo, &planner));
                reset(&topo);
            }
        }
        let l = median(&mut linux);
        if agents.is_some() {
            // The linux split of the median round.
            let split = splits.iter().find(|(t, _)| *t == l).map_or_else(Default::default, |(_, s)| *s);
            let guest = median_cpu(&mut linux_cpu).guest;
            agent_rows.push(agents::row(n, changes, (l, split, guest), &mut parallel, &mut serial));
        }
        if only_agents {
            continue;
        }
        if !with_batch {
            batch.push(Duration::ZERO);
        }
        let (s, r, b) = (median(&mut sending), median(&mut raw), median(&mut batch));
        let (f, rb) = (median(&mut failed), median(&mut rollback));
        let rate = |d: Duration| changes as f64 / d.as_secs_f64();
        println!(
            "| {n} | {changes} | {:.0} ms, {:.0}/s | {:.0} ms | {:.0} ms, {:.0}/s | {:.0} ms, {:.0}/s | {:.1}x | {:.1}x | {:.0} ms ({:.0} ms) |",
            ms(l),
            rate(l),
            ms(s),
            ms(r),
            rate(r),
            ms(b),
            rate(b),
            l.as_secs_f64() / r.as_secs_f64(),
            b.as_secs_f64() / l.as_secs_f64(),
            ms(f),
            ms(rb),
        );
        let (lc, rc) = (median_cpu(&mut linux_cpu), median_cpu(&mut raw_cpu));
        cpu_rows.push(format!(
            "| {n} | {changes} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.1}x | {:.1}x |",
            lc.own * 1e3,
            lc.guest * 1e3,
            rc.own * 1e3,
            rc.guest * 1e3,
            lc.own / rc.own,
            lc.guest / rc.guest,
        ));
    }
    if !cpu_rows.is_empty() {
        println!();
        println!(
            "| channels | changes | linux driver: its CPU (read, apply, read-back) | linux driver: guest busy | raw sender: its CPU | raw sender: guest busy | driver / raw, own CPU | driver / raw, guest busy |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for row in &cpu_rows {
            println!("{row}");
        }
    }
    if agents.is_some() {
        agents::print_table(&agent_rows, topo.switches.len());
    }

    // First frame: acme-1a sends to acme-7c every 200 µs; the apply of their channel starts.
    // Through the linux driver, and through the agents (switches in parallel) in turn.
    let spec = "- {name: first, kind: p2p, members: [acme-1a, acme-7c]}";
    let (specs, _) = parse_channels(spec);
    let planner = plan(&topo, &specs).unwrap();
    let (mut delays, mut applies) = (Vec::new(), Vec::new());
    // As an order is provisioned (its path's switches only): locally, and through the agents
    // over kept connections (as a `serve` worker holds them).
    let (mut order_delays, mut order_applies) = (Vec::new(), Vec::new());
    // What connecting to the path's switches alone takes (netlink sockets in their
    // namespaces, the link dump each connect makes), measured apart.
    let mut order_connects = Vec::new();
    // Of which opening the netlink sockets alone (a thread into the namespace, the socket, a
    // runtime), without the link dump a driver's connect makes.
    let mut order_sockets = Vec::new();
    // [each switch read first, each switch's state known from an earlier read]
    let mut order_remote: [(Vec<Duration>, Vec<Duration>); 2] = Default::default();
    // [connecting afresh, over connections kept from an earlier apply]
    let mut remote: [(Vec<Duration>, Vec<Duration>, Vec<Duration>); 2] = Default::default();
    for round in 0..rounds.max(5) {
        let (arrived, apply_time) = probe::first_arrival(&topo, "acme-1a", "acme-7c", Duration::from_secs(5), || {
            let t = Instant::now();
            let mut drivers = engine::connect(&topo).unwrap();
            engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap();
            t.elapsed()
        })
        .unwrap();
        delays.push(arrived.expect("no frame within 5 s"));
        applies.push(apply_time);
        reset(&topo);
        let (arrived, apply_time) = probe::first_arrival(&topo, "acme-1a", "acme-7c", Duration::from_secs(5), || {
            provision_path(&topo, &planner)
        })
        .unwrap();
        order_delays.push(arrived.expect("no frame within 5 s (order)"));
        order_applies.push(apply_time);
        reset(&topo);
        let t = Instant::now();
        let connected: Vec<_> =
            path_switches(&planner).into_iter().map(|s| engine::connect_switch(s).unwrap()).collect();
        order_connects.push(t.elapsed());
        drop(connected);
        let t = Instant::now();
        let sockets: Vec<_> = path_switches(&planner)
            .into_iter()
            .map(|s| switchboard::southbound::linux::Conn::open(s.driver.netns()).unwrap())
            .collect();
        order_sockets.push(t.elapsed());
        drop(sockets);
        if let Some(a) = &agents {
            // In turn first, round by round.
            for known in if round % 2 == 0 { [false, true] } else { [true, false] } {
                let (arrived, apply_time) = a.first_frame_order(&topo, &planner, known);
                let (delays, applies) = &mut order_remote[usize::from(known)];
                delays.push(arrived);
                applies.push(apply_time);
                reset(&topo);
            }
        }
        if let Some(a) = &agents {
            for (kept, (delays, connects, applies)) in [false, true].into_iter().zip(&mut remote) {
                let (arrived, (connect, apply)) = a.first_frame(&topo, &planner, kept);
                delays.push(arrived);
                connects.push(connect);
                applies.push(apply);
                reset(&topo);
            }
        }
    }
    println!();
    println!(
        "first frame between two new members (acme-1a -> acme-7c, 5 switches): median {:.1} ms after apply start \
         (the whole apply incl. connect and read-back: median {:.1} ms); {} runs",
        ms(median(&mut delays)),
        ms(median(&mut applies)),
        delays.len()
    );
    println!(
        "first frame as an order provisions the channel (its path's {} switches only, engine::provision), same runs: \
         median {:.1} ms after the provision's start (the whole provision: median {:.1} ms; connecting to those \
         switches alone, apart: median {:.1} ms, of which opening their netlink sockets: median {:.1} ms); {} runs",
        provision_scope(&planner),
        ms(median(&mut order_delays)),
        ms(median(&mut order_applies)),
        ms(median(&mut order_connects)),
        ms(median(&mut order_sockets)),
        order_delays.len()
    );
    if agents.is_some() {
        for ((delays, applies), how) in order_remote.iter_mut().zip([
            "each switch read first",
            "each switch's state known from an earlier read, as a worker's earlier order leaves it, and checked at prepare",
        ]) {
            println!(
                "first frame as an order provisions the channel through the agents (kept connections, as a `serve` \
                 worker holds them; {how}), same runs: median {:.1} ms after the provision's start (the whole \
                 provision incl. connect, prepare, read-back and commit: median {:.1} ms); {} runs",
                ms(median(delays)),
                ms(median(applies)),
                delays.len()
            );
        }
        for ((delays, connects, applies), how) in remote
            .iter_mut()
            .zip(["new connections, TLS handshakes included", "connections kept from an earlier apply"])
        {
            println!(
                "first frame through the agents (switches in parallel; {how}), same runs: \
                 median {:.1} ms after apply start (connecting to the {} agents: median {:.1} ms; \
                 the whole apply incl. connect, prepare, read-back and commit: median {:.1} ms); {} runs",
                ms(median(delays)),
                topo.switches.len(),
                ms(median(connects)),
                ms(median(applies)),
                delays.len()
            );
        }
        agents::down(&metro);
    }
    lab::down(&topo).unwrap();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time this process has used (user + system, all threads), and the guest kernel's busy
/// time (every CPU's user, nice, system, irq and softirq time in /proc/stat: the switches'
/// kernel work wherever it runs, deferred work included), in seconds: counters, which the
/// host's load moves less than the wall clock.
pub(crate) fn cpu_now() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let own = secs(u.ru_utime) + secs(u.ru_stime);
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0.0)).collect();
    let busy = [0, 1, 2, 5, 6].iter().map(|i| ticks.get(*i).copied().unwrap_or(0.0)).sum::<f64>();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (own, busy / hz)
}

/// What `cpu_now` moved by since `start`, the guest's counted until 1 s after the work (the
/// kernel's deferred work lands there).
pub(crate) fn cpu_since(start: (f64, f64)) -> Cpu {
    let own = cpu_now().0 - start.0;
    std::thread::sleep(Duration::from_secs(1));
    Cpu { own, guest: cpu_now().1 - start.1 }
}

/// CPU seconds: this process's, and the guest's busy time.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub(crate) struct Cpu {
    own: f64,
    pub(crate) guest: f64,
}

fn median_cpu(v: &mut [Cpu]) -> Cpu {
    let mut own: Vec<f64> = v.iter().map(|c| c.own).collect();
    let mut guest: Vec<f64> = v.iter().map(|c| c.guest).collect();
    own.sort_by(f64::total_cmp);
    guest.sort_by(f64::total_cmp);
    Cpu { own: own[own.len() / 2], guest: guest[guest.len() / 2] }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The channel provisioned as the service's worker provisions an order: only the switches
/// its items are on are connected (through `drivers_topo`'s drivers), read, changed and
/// verified, with what it adds there (`engine::provision`, the baseline included, as the
/// service's `delta`). Returns the whole provision's time.
pub fn provision_path(drivers_topo: &Topology, planner: &Planner<'_>) -> Duration {
    let topo = planner.topology();
    let base = Planner::new(topo);
    let (scope, add): (Vec<String>, Vec<BTreeSet<Item>>) = (0..topo.switches.len())
        .filter_map(|s| {
            let desired = planner.desired(s);
            (desired != base.desired(s)).then(|| (topo.switches[s].name.clone(), desired))
        })
        .unzip();
    let remove = vec![BTreeSet::new(); scope.len()];
    let t = Instant::now();
    let p = engine::Provision {
        topo: drivers_topo,
        scope: &scope,
        add: &add,
        remove: &remove,
        dry: BTreeMap::new(),
        faults: &[],
    };
    engine::provision(p, &mut |_| {}).unwrap();
    t.elapsed()
}

/// How many switches [`provision_path`] works on.
fn provision_scope(planner: &Planner<'_>) -> usize {
    path_switches(planner).len()
}

/// The switches the planner's channels change.
fn path_switches<'t>(planner: &Planner<'t>) -> Vec<&'t switchboard::topology::Switch> {
    let topo = planner.topology();
    let base = Planner::new(topo);
    topo.switches
        .iter()
        .enumerate()
        .filter(|(s, _)| planner.desired(*s) != base.desired(*s))
        .map(|(_, sw)| sw)
        .collect()
}

/// Back to the baseline (ports on the bridges, no channels), then a pause: deleting hundreds
/// of sub-interfaces leaves the kernel work to finish in the background (freeing devices
/// after RCU grace periods), which would otherwise be charged to whatever is timed next.
fn reset(topo: &Topology) {
    let planner = Planner::new(topo);
    let mut drivers = engine::connect(topo).unwrap();
    engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap();
    std::thread::sleep(Duration::from_secs(1));
}

/// (whole apply with read, diff, verify; the time spent in the drivers' apply calls, summed
/// over switches (under the one-CPU lab kernel they run one after another); changes; the
/// time in each kind of driver call)
fn linux_apply(planner: &Planner<'_>) -> (Duration, Duration, usize, agents::Split, Cpu) {
    let (mut drivers, split) = agents::timed(engine::connect(planner.topology()).unwrap());
    let mut sending = Duration::ZERO;
    let cpu = cpu_now();
    let t = Instant::now();
    let report = engine::apply(planner, &mut drivers, &mut |e| {
        if let Event::Applied { elapsed, .. } = e {
            sending += *elapsed;
        }
    })
    .unwrap();
    let total = t.elapsed();
    let cpu = cpu_since(cpu);
    let split = *split.lock().unwrap();
    (total, sending, report.changes, split, cpu)
}

/// The same change set, rendered by the dry-run driver, through iproute2's batch mode; then
/// checks the switches hold exactly what the linux driver would have made.
fn batch_apply(topo: &Topology, planner: &Planner<'_>) -> Duration {
    let mut drivers = engine::connect(topo).unwrap();
    let actual = engine::read_all(&mut drivers).unwrap();
    let cs = change_set(planner, &actual);
    let dir = std::env::temp_dir().join(format!("swb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut jobs = Vec::new();
    for sw in &cs.switches {
        let ns = sw.driver.netns().unwrap().to_string();
        for (k, (tool, lines)) in batches(&sw.changes, sw.driver.bridge()).into_iter().enumerate() {
            let file = dir.join(format!("{}-{k}", sw.switch));
            std::fs::write(&file, lines.join("\n") + "\n").unwrap();
            jobs.push((tool.as_str(), ns.clone(), file));
        }
    }
    let t = Instant::now();
    for (tool, ns, file) in &jobs {
        let st = Command::new(tool).args(["-n", ns, "-batch"]).arg(file).status().unwrap();
        assert!(st.success(), "{tool} -batch failed");
    }
    let elapsed = t.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let drift = engine::drift(planner, &mut drivers).unwrap();
    assert!(drift.is_empty(), "bridge -batch did not reach the planned state: {} differences", drift.len());
    elapsed
}

/// The physical limit: the linux driver's own messages for the change set from the
/// baseline, encoded beforehand, sent by a bare socket per switch in the driver's sendmsg
/// chunks (an ACK asked for on each chunk's last message only, as the driver does), switch
/// after switch. Only the sending and the ACKs are timed. Then checks the switches hold
/// exactly the plan, so the same work was done.
fn raw_apply(topo: &Topology, planner: &Planner<'_>) -> (Duration, Cpu) {
    let mut drivers = engine::connect(topo).unwrap();
    let actual = engine::read_all(&mut drivers).unwrap();
    let cs = change_set(planner, &actual);
    let mut jobs = Vec::new();
    for sw in &cs.switches {
        let ns = sw.driver.netns().unwrap().to_string();
        let mut linux = LinuxSwitch::connect(&sw.switch, Some(&ns), sw.driver.bridge()).unwrap();
        let msgs = linux.messages_for(&sw.changes).unwrap();
        let mut seq = 0u32;
        let mut encoded = Vec::new();
        for (start, end) in chunks(&msgs) {
            let mut buf = Vec::new();
            for (k, (m, flags)) in msgs[start..end].iter().enumerate() {
                let mut nl = NetlinkMessage::from(m.clone());
                let last = start + k + 1 == end;
                nl.header.flags = NLM_F_REQUEST | flags | if last { NLM_F_ACK } else { 0 };
                seq += 1;
                nl.header.sequence_number = seq;
                nl.finalize();
                let at = buf.len();
                buf.resize(at + nl.buffer_len(), 0);
                nl.serialize(&mut buf[at..]);
            }
            encoded.push((buf, seq));
        }
        let socket = netns::run_in(Some(&ns), || {
            let mut s = Socket::new(NETLINK_ROUTE).unwrap();
            s.bind_auto().unwrap();
            s
        })
        .unwrap();
        jobs.push((socket, encoded));
    }
    let cpu = cpu_now();
    let t = Instant::now();
    let mut errors = 0;
    let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
    for (socket, encoded) in &jobs {
        for (bytes, last_seq) in encoded {
            assert_eq!(socket.send(bytes, 0).unwrap(), bytes.len());
            'ack: loop {
                buf.clear();
                let n = socket.recv(&mut buf, 0).unwrap();
                let mut at = 0;
                while at + 20 <= n {
                    let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                    let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().unwrap());
                    let seq = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().unwrap());
                    let code = i32::from_ne_bytes(buf[at + 16..at + 20].try_into().unwrap());
                    if kind == 2 && code != 0 {
                        errors += 1;
                    }
                    if kind == 2 && seq == *last_seq {
                        break 'ack;
                    }
                    at += len.max(16).next_multiple_of(4);
                }
            }
        }
    }
    let elapsed = t.elapsed();
    let cpu = cpu_since(cpu);
    assert_eq!(errors, 0, "the raw sender's messages were refused");
    let drift = engine::drift(planner, &mut drivers).unwrap();
    assert!(drift.is_empty(), "the raw sender did not reach the planned state: {} differences", drift.len());
    (elapsed, cpu)
}

/// The same apply with the last change of the busiest switch made to fail, so every other
/// switch has applied (and verified) when the transaction rolls back. Returns the whole
/// failed apply and its rollback alone (from the first rollback event to the end), and
/// checks every switch is back at the baseline.
fn failed_apply(topo: &Topology, planner: &Planner<'_>) -> (Duration, Duration) {
    let mut drivers = engine::connect(topo).unwrap();
    let before = engine::read_all(&mut drivers).unwrap();
    let cs = change_set(planner, &before);
    let busiest = cs.switches.iter().max_by_key(|s| s.changes.len()).unwrap();
    let i = topo.switch_index(&busiest.switch).unwrap();
    drivers[i].inject_fault(busiest.changes.len() - 1);
    let mut rollback_start = None;
    let t = Instant::now();
    let err = engine::apply(planner, &mut drivers, &mut |e| {
        if matches!(e, Event::RollingBack { .. }) && rollback_start.is_none() {
            rollback_start = Some(Instant::now());
        }
    })
    .unwrap_err();
    let end = Instant::now();
    assert!(err.rollback_errors.is_empty(), "{err}");
    assert_eq!(engine::read_all(&mut drivers).unwrap(), before, "the rollback did not restore the baseline");
    std::thread::sleep(Duration::from_secs(1)); // as after reset()
    (end - t, end - rollback_start.unwrap())
}
