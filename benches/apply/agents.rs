//! The apply bench's agents mode (issue 17): the metro lab with a real `switchboard agent` per
//! switch, and the applies and the first frame through them.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard::engine;
use switchboard::orchestrator::Planner;
use switchboard::southbound::Driver;
use switchboard::southbound::linux::{lab, netns, probe};
use switchboard::southbound::remote;
use switchboard::topology::Topology;

use super::{median, ms};

/// The lab's agents: the topology `lab up --agents` wrote (every switch `driver: remote`,
/// reached from the management namespace) and that namespace.
pub struct Agents {
    remote: Topology,
    mgmt: String,
}

/// One apply through the agents.
#[derive(Debug, Default)]
pub struct Run {
    /// Connecting to every agent (TCP, TLS handshake, a health call), one after another, as
    /// `engine::connect` does.
    connect: Duration,
    /// The apply: read, prepare, read back, commit.
    apply: Duration,
    /// Bytes and packets on the management network during the apply (the connects left out).
    bytes: u64,
    packets: u64,
    /// The time in the drivers' calls, summed over switches.
    split: Split,
    /// Changes applied again after the read-back found them missing.
    reapplied: usize,
    /// The guest kernel's busy time over the apply (the agents' work and the switches' kernel
    /// work included; counted until 1 s after), seconds.
    guest: f64,
    /// The orchestrator's (this process's) CPU time over the apply, seconds.
    own: f64,
    /// The agents' processes' CPU time (counted until 1 s after), seconds.
    agents: f64,
}

/// Where an apply's time went: the drivers' calls, summed over switches (with the switches
/// one after another, these add up to the apply but for the engine's own diffing).
#[derive(Debug, Clone, Copy, Default)]
pub struct Split {
    /// Reads: the state before and the read-back.
    pub read: Duration,
    pub prepare: Duration,
    pub commit: Duration,
}

/// `drivers`, each timed into one [`Split`].
pub fn timed(drivers: Vec<Box<dyn Driver>>) -> (Vec<Box<dyn Driver>>, Arc<Mutex<Split>>) {
    use switchboard::southbound::observed::{Call, Observed};
    let split = Arc::new(Mutex::new(Split::default()));
    let drivers = drivers
        .into_iter()
        .map(|inner| {
            let split = split.clone();
            Box::new(Observed::new(inner, move |call, took| {
                let mut s = split.lock().unwrap();
                match call {
                    Call::Read => s.read += took,
                    Call::Apply | Call::Prepare => s.prepare += took,
                    Call::Commit => s.commit += took,
                    Call::Abort => {}
                }
            })) as Box<dyn Driver>
        })
        .collect();
    (drivers, split)
}

/// `switchboard lab up FILE --agents` with the binary built beside this bench: the lab is up
/// already, so this adds the management network, the certificates and an agent per switch.
pub fn up(file: &Path) -> Agents {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard")).args(["lab", "up"]).arg(file).arg("--agents").output();
    let out = out.unwrap();
    assert!(out.status.success(), "lab up --agents failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let written = stdout.lines().last().unwrap().trim().to_string();
    let remote = switchboard::topology::parse(&std::fs::read_to_string(&written).unwrap()).unwrap();
    let mgmt = lab::mgmt_namespace(&remote);
    Agents { remote, mgmt }
}

/// `switchboard lab down FILE`: the agents stop, the management network goes (the lab too).
pub fn down(file: &Path) {
    if std::env::var("BENCH_AGENT_LOGS").as_deref() == Ok("1") {
        let topo = switchboard::topology::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
        for sw in &topo.switches {
            let log = Path::new("/run/switchboard/lab").join(&topo.name).join(format!("agent-{}.log", sw.name));
            eprintln!("== {}\n{}", log.display(), std::fs::read_to_string(&log).unwrap_or_default());
        }
    }
    let st = Command::new(env!("CARGO_BIN_EXE_switchboard")).args(["lab", "down"]).arg(file).status().unwrap();
    assert!(st.success(), "lab down failed");
}

/// Sets how many switches the engine works on at once (`None`: as the environment said).
fn threads(n: Option<usize>) {
    static ORIGINAL: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let original = ORIGINAL.get_or_init(|| std::env::var("SWITCHBOARD_APPLY_THREADS").ok());
    // SAFETY: set between applies, when no other thread of this bench reads the environment
    // (the remote driver's runtime threads sit idle and do not read it).
    unsafe {
        match (n, original) {
            (Some(n), _) => std::env::set_var("SWITCHBOARD_APPLY_THREADS", n.to_string()),
            (None, Some(v)) => std::env::set_var("SWITCHBOARD_APPLY_THREADS", v),
            (None, None) => std::env::remove_var("SWITCHBOARD_APPLY_THREADS"),
        }
    }
}

impl Agents {
    /// The bytes and packets through the management bridge's ports (m0, m1, ...), both ways:
    /// every frame between the orchestrator and an agent, once, with its TCP/IP and Ethernet
    /// headers.
    fn wire(&self) -> (u64, u64) {
        netns::run_in(Some(&self.mgmt), || {
            let text = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
            let (mut bytes, mut packets) = (0, 0);
            for line in text.lines().skip(2) {
                let (name, rest) = line.split_once(':').unwrap();
                let name = name.trim();
                if name.strip_prefix('m').is_none_or(|k| k.parse::<u32>().is_err()) {
                    continue;
                }
                let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap()).collect();
                bytes += f[0] + f[8];
                packets += f[1] + f[9];
            }
            (bytes, packets)
        })
        .unwrap()
    }

    /// The planner's channels applied through the agents, `at_once` switches at a time; then
    /// checks through the linux driver that every switch holds exactly the plan. A failed
    /// apply (an agent past its deadline under the loaded one-CPU lab kernel) is counted,
    /// not fatal, once its rollback is complete.
    pub fn apply(&self, planner: &Planner<'_>, at_once: usize) -> Result<Run, String> {
        threads(Some(at_once));
        let t = Instant::now();
        let (mut drivers, split) = timed(engine::connect(&self.remote).unwrap());
        let connect = t.elapsed();
        let (b0, p0) = self.wire();
        let (cpu, agents0) = (super::cpu_now(), agents_cpu(&self.remote));
        let t = Instant::now();
        let report = engine::apply(planner, &mut drivers, &mut |_| {});
        let apply = t.elapsed();
        let super::Cpu { own, guest } = super::cpu_since(cpu);
        let agents = agents_cpu(&self.remote) - agents0;
        let (b1, p1) = self.wire();
        threads(None);
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                assert!(e.rollback_errors.is_empty(), "{e}");
                return Err(format!("{e} (after {:.1} s)", apply.as_secs_f64()));
            }
        };
        drop(drivers);
        assert!(report.changes > 0);
        let mut linux = engine::connect(planner.topology()).unwrap();
        let drift = engine::drift(planner, &mut linux).unwrap();
        assert!(drift.is_empty(), "the agents did not reach the planned state: {} differences", drift.len());
        let split = *split.lock().unwrap();
        Ok(Run {
            connect,
            apply,
            bytes: b1 - b0,
            packets: p1 - p0,
            split,
            reapplied: report.reapplied,
            guest,
            own,
            agents,
        })
    }

    /// The first frame between two new members after the apply starts, through the agents
    /// with the switches in parallel: (its delay, (connecting, the whole apply incl. connect)).
    /// `kept`: the connections to the agents are open already (kept from an earlier apply, as
    /// in a `serve` worker); else every agent is connected to afresh (TLS handshakes
    /// included, as a CLI command does).
    pub fn first_frame(&self, topo: &Topology, planner: &Planner<'_>, kept: bool) -> (Duration, (Duration, Duration)) {
        threads(Some(topo.switches.len()));
        remote::pool::forget_all();
        if kept {
            drop(engine::connect(&self.remote).unwrap());
        }
        let (arrived, times) = probe::first_arrival(topo, "acme-1a", "acme-7c", Duration::from_secs(5), || {
            let t = Instant::now();
            let mut drivers = engine::connect(&self.remote).unwrap();
            let connect = t.elapsed();
            engine::apply(planner, &mut drivers, &mut |_| {}).unwrap();
            (connect, t.elapsed())
        })
        .unwrap();
        threads(None);
        (arrived.expect("no frame within 5 s through the agents"), times)
    }
}

impl Agents {
    /// The first frame when the channel is provisioned through the agents as an order is
    /// (its path's switches only, [`super::provision_path`]), over connections kept from an
    /// earlier apply, each switch's state `known` from a read before (as a `serve` worker's
    /// earlier order leaves it: planned from it, checked by the agents at prepare) or not
    /// (read first): (its delay, the whole provision).
    pub fn first_frame_order(&self, topo: &Topology, planner: &Planner<'_>, known: bool) -> (Duration, Duration) {
        threads(Some(topo.switches.len()));
        remote::pool::forget_all();
        let mut drivers = engine::connect(&self.remote).unwrap();
        if known {
            // What a worker's earlier order leaves: each switch's state read back there.
            engine::read_all(&mut drivers).unwrap();
        }
        drop(drivers);
        // Whatever the agents and the guest kernel still do after those calls (13 new TLS
        // connections, 13 reads), done before the provision starts, as it is before a
        // worker's order: on the one-CPU guest it would otherwise run in the timed part.
        std::thread::sleep(Duration::from_millis(500));
        let (arrived, took) = probe::first_arrival(topo, "acme-1a", "acme-7c", Duration::from_secs(5), || {
            super::provision_path(&self.remote, planner)
        })
        .unwrap();
        threads(None);
        (arrived.expect("no frame within 5 s through the agents (order)"), took)
    }
}

/// The CPU time the lab's agents have used so far (user and system, seconds), from their
/// recorded pids.
fn agents_cpu(remote: &Topology) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut ticks = 0u64;
    for sw in &remote.switches {
        let pidfile = Path::new("/run/switchboard/lab").join(&remote.name).join(format!("agent-{}.pid", sw.name));
        let pid = std::fs::read_to_string(pidfile).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
        // utime and stime: the 14th and 15th fields, the 12th and 13th after the command's ')'.
        let after = stat.rsplit_once(')').map_or("", |x| x.1);
        ticks += after.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<u64>().ok()).sum::<u64>();
    }
    ticks as f64 / hz
}

/// One size's row of the agents' table, from its rounds.
pub fn row(
    n: usize,
    changes: usize,
    linux: (Duration, Split, f64),
    parallel: &mut [Result<Run, String>],
    serial: &mut [Result<Run, String>],
) -> [String; 2] {
    let (linux, linux_split, linux_guest) = linux;
    let failed = |runs: &[Result<Run, String>]| {
        let n = runs.iter().filter(|r| r.is_err()).count();
        if n == 0 { String::new() } else { format!(" ({n} of {} failed)", runs.len()) }
    };
    let (parallel_failed, serial_failed) = (failed(parallel), failed(serial));
    let mut parallel: Vec<Run> = parallel.iter_mut().filter_map(|r| r.as_mut().ok().map(std::mem::take)).collect();
    let mut serial: Vec<Run> = serial.iter_mut().filter_map(|r| r.as_mut().ok().map(std::mem::take)).collect();
    let (parallel, serial) = (&mut parallel[..], &mut serial[..]);
    let med = |runs: &mut [Run], f: fn(&Run) -> Duration| {
        let mut v: Vec<Duration> = runs.iter().map(f).collect();
        if v.is_empty() { Duration::ZERO } else { median(&mut v) }
    };
    let (p, s) = (med(parallel, |r| r.apply), med(serial, |r| r.apply));
    let connect = med(parallel, |r| r.connect);
    // The wire counts are the same every round but for retransmits; the median one.
    let mut bytes: Vec<(u64, u64)> = parallel.iter().map(|r| (r.bytes, r.packets)).collect();
    bytes.sort();
    let (b, k) = bytes.get(bytes.len() / 2).copied().unwrap_or_default();
    let ratio = |d: Duration| d.as_secs_f64() / linux.as_secs_f64();
    let resent: usize = parallel.iter().chain(serial.iter()).map(|r| r.reapplied).sum();
    if resent > 0 {
        eprintln!("{n} channels: {resent} change(s) re-sent after a read-back over all agents' rounds");
    }
    let (read, prepare, commit) =
        (med(serial, |r| r.split.read), med(serial, |r| r.split.prepare), med(serial, |r| r.split.commit));
    let secs = |runs: &[Run], f: fn(&Run) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or_default() * 1e3
    };
    let split = format!(
        "| {n} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} / {:.0} ms | {:.0} / {:.0} ms |",
        ms(linux_split.read),
        ms(linux_split.prepare),
        ms(read),
        ms(prepare),
        ms(commit),
        secs(parallel, |r| r.own),
        secs(serial, |r| r.own),
        secs(parallel, |r| r.agents),
        secs(serial, |r| r.agents),
    );
    let mut guest: Vec<f64> = parallel.iter().map(|r| r.guest).collect();
    guest.sort_by(f64::total_cmp);
    let guest = guest.get(guest.len() / 2).copied().unwrap_or_default();
    let figures = format!(
        "| {n} | {changes} | {:.0} ms | {:.0} ms{parallel_failed} | {:.0} ms{serial_failed} | {:.2}x | {:.2}x | {:.2}x | {:.0} ms | {:.0} B, {:.1} packets | {:.0} ms / {:.0} ms, {:.2}x |",
        ms(linux),
        ms(p),
        ms(s),
        ratio(p),
        ratio(s),
        p.as_secs_f64() / s.as_secs_f64(),
        ms(connect),
        b as f64 / n as f64,
        k as f64 / n as f64,
        guest * 1e3,
        linux_guest * 1e3,
        guest / linux_guest,
    );
    [figures, split]
}

pub fn print_table(rows: &[[String; 2]], switches: usize) {
    println!();
    println!(
        "| channels | changes | linux driver, local | agents, {switches} switches at once | agents, one switch after another | at once / linux | one by one / linux | at once / one by one | connecting to the {switches} agents | on the management network per channel (apply) | guest busy: agents at once / linux (counters) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for [row, _] in rows {
        println!("{row}");
    }
    println!();
    println!(
        "| channels | linux driver: reads (before, read-back) | linux driver: apply | agents one by one: reads | agents one by one: prepares | agents one by one: commits | orchestrator's CPU, at once / one by one | the agents' CPU, at once / one by one |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for [_, split] in rows {
        println!("{split}");
    }
}
