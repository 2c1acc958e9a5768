//! Issue 17 under the lab kernel: `switchboard agent` (the built binary) serving each switch
//! of p2p-small on loopback, driven through the `remote` driver and the engine.

use std::process::Command;

use switchboard::engine;
use switchboard::orchestrator::{Item, parse_channels, plan};
use switchboard::topology::Topology;

use super::{Lab, assert_same, load_topology, topologies};

/// Issue 17: an agent per switch of p2p-small, run as the real binary in this (the lab
/// kernel's) root namespace, each driving its switch's namespace, on loopback.
struct Agents {
    pki: tempfile::TempDir,
    children: Vec<Option<std::process::Child>>,
}

const AGENT_PORT: u16 = 47_100;

/// The agents' confirm timer in this test, in seconds.
const CONFIRM_SECS: u64 = 8;

impl Agents {
    fn start(topo: &Topology, confirm_secs: u64) -> Agents {
        use switchboard::pki::{self, Subject, Validity};
        let pki = tempfile::tempdir().unwrap();
        pki::init(pki.path(), Validity::days(1)).unwrap();
        pki::issue(pki.path(), &Subject::Orchestrator, Validity::days(1)).unwrap();
        for sw in &topo.switches {
            pki::issue(pki.path(), &Subject::Agent(sw.name.clone()), Validity::days(1)).unwrap();
        }
        let mut agents = Agents { pki, children: Vec::new() };
        for k in 0..topo.switches.len() {
            let child = agents.spawn(topo, k, confirm_secs, "serving switch");
            agents.children.push(Some(child));
        }
        agents
    }

    /// Starts switch `k`'s agent and waits for the line of its stderr that contains `ready`.
    fn spawn(&self, topo: &Topology, k: usize, confirm_secs: u64, ready: &str) -> std::process::Child {
        use std::io::BufRead;
        let sw = &topo.switches[k];
        let dir = self.pki.path();
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["agent", "--listen", &format!("127.0.0.1:{}", AGENT_PORT + k as u16), "--bridge", "br0"])
            .args(["--netns", sw.driver.netns().unwrap()])
            .arg("--cert")
            .arg(dir.join(format!("agent-{}.pem", sw.name)))
            .arg("--key")
            .arg(dir.join(format!("agent-{}-key.pem", sw.name)))
            .arg("--ca")
            .arg(dir.join("ca.pem"))
            .args(["--confirm-timeout", &confirm_secs.to_string()])
            .arg("--journal")
            .arg(dir.join(format!("{}.journal", sw.name)))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        loop {
            let line = lines.next().unwrap_or_else(|| panic!("agent of {} ended: {seen:?}", sw.name)).unwrap();
            let done = line.contains(ready);
            seen.push(line);
            if done {
                break;
            }
        }
        // Keep reading its log so the pipe never fills.
        std::thread::spawn(move || for _ in lines {});
        child
    }

    /// The topology with every switch behind its agent.
    fn remote_topology(&self, linux_text: &str, topo: &Topology) -> Topology {
        let mut text = linux_text.to_string();
        for (k, sw) in topo.switches.iter().enumerate() {
            let from = format!("{{driver: linux, netns: {}, bridge: br0}}", sw.driver.netns().unwrap());
            let to = format!("{{driver: remote, address: 127.0.0.1:{}, bridge: br0}}", AGENT_PORT + k as u16);
            assert!(text.contains(&from), "{from}");
            text = text.replace(&from, &to);
        }
        let dir = self.pki.path().display();
        text +=
            &format!("remote: {{ca: {dir}/ca.pem, cert: {dir}/orchestrator.pem, key: {dir}/orchestrator-key.pem}}\n");
        load_topology(&text)
    }

    fn client(&self, topo: &Topology, k: usize) -> switchboard::southbound::remote::RemoteSwitch {
        let dir = self.pki.path();
        let files = switchboard::southbound::remote::tls::TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("orchestrator.pem"),
            key: dir.join("orchestrator-key.pem"),
        };
        let address = format!("127.0.0.1:{}", AGENT_PORT + k as u16);
        switchboard::southbound::remote::RemoteSwitch::connect(&topo.switches[k].name, &address, &files).unwrap()
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn agent_two_phase_abort_timer_busy_and_restart_after_kill_restore_the_exact_state() {
    use switchboard::orchestrator::{Change, Op};
    use switchboard::southbound::Driver;
    let text = std::fs::read_to_string(topologies().join("p2p-small.yaml")).unwrap();
    let channels = std::fs::read_to_string(topologies().join("p2p-small.channels.yaml")).unwrap();
    let lab = Lab::up(&text);
    // The confirm timer must outlast a `snapshot` (shells in three namespaces, slow under UML
    // on a loaded machine: with 3 s it once ran out before the second orchestrator's prepare).
    let mut agents = Agents::start(&lab.topo, CONFIRM_SECS);
    let remote = agents.remote_topology(&text, &lab.topo);

    // Prepare + commit everywhere through the engine: the switches hold what the linux
    // driver would have made, and frames flow.
    let (specs, _) = parse_channels(&channels);
    let planner = plan(&remote, &specs).unwrap();
    let mut drivers = engine::connect(&remote).unwrap();
    let report = engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap();
    assert!(report.changes > 0);
    for (k, sw) in lab.topo.switches.iter().enumerate() {
        let mut linux = engine::connect_switch(sw).unwrap();
        assert_eq!(drivers[k].read_state().unwrap(), linux.read_state().unwrap(), "{}", sw.name);
        assert_eq!(drivers[k].read_state().unwrap(), planner.desired(k), "{}", sw.name);
    }
    let verdict = lab.probe(&channels, false);
    assert!(verdict.anomalies.is_empty(), "{}", switchboard::cli::probe::render(&verdict));
    let mut again = engine::connect(&remote).unwrap();
    assert_eq!(engine::apply(&planner, &mut again, &mut |_| {}).unwrap().changes, 0);

    // A fault on the last switch: every prepared switch aborts, all as before.
    let before = lab.snapshot();
    let mut drivers = engine::connect(&remote).unwrap();
    drivers[2].inject_fault(0);
    let (empty, _) = parse_channels("[]");
    let removal = plan(&remote, &empty).unwrap();
    let err = engine::apply(&removal, &mut drivers, &mut |_| {}).unwrap_err();
    assert_eq!(err.failure.switch, "sw3");
    assert!(err.rollback_errors.is_empty(), "{err}");
    assert_same(&before, &lab.snapshot(), "a fault on sw3 through the agents");

    // On sw2: remove the channel's trunk VLAN (and so its FDB entries) and add foreign-looking
    // configuration, under one transaction; abort restores the exact state.
    let mut sw2 = agents.client(&lab.topo, 1);
    let state = sw2.read_state().unwrap();
    let trunk_vlan = state.iter().find(|i| matches!(i, Item::Vlan { port, .. } if port == "t23")).unwrap().clone();
    let changes = vec![
        Change { op: Op::Remove, item: trunk_vlan },
        Change { op: Op::Add, item: Item::Vlan { port: "t21".into(), vid: 150, pvid: false, untagged: false } },
        Change {
            op: Op::Add,
            item: Item::Fdb { mac: switchboard::model::Mac([2, 0xaa, 0, 0, 0, 1]), vid: 150, port: "t21".into() },
        },
    ];
    sw2.prepare("t-abort", &changes).unwrap();
    assert_ne!(lab.snapshot(), before);
    sw2.abort("t-abort").unwrap();
    assert_same(&before, &lab.snapshot(), "abort");

    // No commit within the confirm timer: the agent rolls back by itself.
    let mut other = agents.client(&lab.topo, 1);
    sw2.prepare("t-timer", &changes).unwrap();
    let prepared = std::time::Instant::now();
    // A second orchestrator meanwhile is refused, naming the holder.
    let busy = other.prepare("t-other", &changes).unwrap_err().to_string();
    assert!(busy.contains("transaction t-timer is open, held by switchboard on"), "{busy}");
    assert_ne!(lab.snapshot(), before);
    assert!(prepared.elapsed() < std::time::Duration::from_secs(CONFIRM_SECS), "the checks outlasted the timer");
    std::thread::sleep(std::time::Duration::from_secs(CONFIRM_SECS + 2).saturating_sub(prepared.elapsed()));
    assert_same(&before, &lab.snapshot(), "the confirm timer");
    let late = sw2.commit("t-timer").unwrap_err().to_string();
    assert!(late.contains("rolled back by its confirm timer"), "{late}");

    // kill -9 mid-transaction: the changes stay until the agent starts again and rolls back
    // from its journal.
    sw2.prepare("t-kill", &changes).unwrap();
    let mut child = agents.children[1].take().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    assert_ne!(lab.snapshot(), before, "a killed agent cannot roll back");
    let child = agents.spawn(&lab.topo, 1, CONFIRM_SECS, "rolled back transaction t-kill");
    agents.children[1] = Some(child);
    assert_same(&before, &lab.snapshot(), "restart after kill -9");
}
