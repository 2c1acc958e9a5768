//! Issue 17 under the lab kernel: the orchestrator, a management link and an agent going
//! away in the middle of a transaction, through `lab up --agents` on p2p-small (every switch
//! behind its own agent on the lab's management network). Whatever goes away, no switch is
//! left half-configured: the bridges end exactly as before (judged by the kernel's own
//! tools), and the work is finished once everything is back.

use std::process::Command;
use std::time::{Duration, Instant};

use switchboard::engine;
use switchboard::orchestrator::{parse_channels, plan};

use super::lab_agents::AgentsDown;
use super::{Lab, assert_same, load_topology, sh_in, switchboard, topologies};

/// The agents' confirm timer in these tests, in seconds.
const CONFIRM_SECS: u64 = 6;

/// `lab up --agents` on p2p-small (the lab must be up): the written remote topology's text
/// and path.
fn agents_up(p2p: &str) -> (String, String) {
    let (code, out, err) = switchboard(&["lab", "up", p2p, "--agents", "--confirm-timeout", &CONFIRM_SECS.to_string()]);
    assert_eq!(code, 0, "{err}");
    let file = out.lines().last().unwrap().to_string();
    (std::fs::read_to_string(&file).unwrap(), file)
}

/// `text` (a topology `lab up --agents` wrote) with the orchestrator's timeouts set.
fn with_timeouts(text: &str, connect: u64, read: u64, write: u64) -> String {
    let from = "remote: {netns: \"p2p-small-mgmt\"}";
    assert!(text.contains(from), "{text}");
    let to = format!(
        "remote: {{netns: \"p2p-small-mgmt\", timeouts: {{connect: {connect}, read: {read}, write: {write}}}}}"
    );
    text.replace(from, &to)
}

/// Polls `f` every 200 ms until it holds, for at most `limit`.
fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until every switch of `lab` is as `before` (for at most `limit`), else fails
/// with what differs.
fn wait_same(lab: &Lab, before: &[String], what: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let now = lab.snapshot();
        if now == before {
            return;
        }
        if start.elapsed() > limit {
            assert_same(before, &now, &format!("{what} (after {limit:?})"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether switch `k`'s agent (of the remote topology) holds a transaction open.
fn holds_open(remote: &switchboard::topology::Topology, k: usize) -> bool {
    let mut d = engine::connect_switch(&remote.switches[k]).unwrap();
    d.agent_health().unwrap().unwrap().open.is_some()
}

/// The orchestrator (`switchboard worker`, its own process) is killed with SIGKILL once
/// every agent took its changes and before any commit: every agent rolls back by its
/// confirm timer, and another instance's recovery then completes the order.
#[test]
fn an_orchestrator_killed_between_prepare_and_commit_is_rolled_back_by_every_agent_and_recovered() {
    use switchboard::orchestrator::policy::ChannelState;
    let p2p = topologies().join("p2p-small.yaml");
    let p2p = p2p.to_str().unwrap().to_string();
    let lab = Lab::up(&std::fs::read_to_string(&p2p).unwrap());
    let _down = AgentsDown(p2p.clone());
    let (remote_text, remote_file) = agents_up(&p2p);
    // The ports in their bridges, as on a switch in service (a bridge that lost its last
    // port keeps no carrier and a zero MAC, which no configuration puts back).
    lab.apply("[]").unwrap();
    let before = lab.snapshot();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let channels = rt.block_on(async {
        let lab_svc = super::lab_service(dir.path(), &remote_text, &remote_file, "Remote E-Line", "remote").await;
        let (ch, order) = lab_svc.site_a_to_site_b("killed-mid-apply", &lab_svc.free, &lab_svc.free).await;
        let super::LabService { svc, op, .. } = lab_svc;

        // Another orchestrator process runs the order and stops between the two phases.
        let pause = dir.path().join("prepared");
        let url = switchboard::store::sqlite_url(dir.path()).unwrap();
        let mut worker = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["worker", "--lease-secs", "2", "--database", &url])
            .env("SWITCHBOARD_TEST_PAUSE_COMMIT", &pause)
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        wait_for("every agent to prepare", Duration::from_secs(120), || pause.exists());
        let views = svc.agents(&op).await.unwrap();
        assert!(views.iter().all(|a| a.open.is_some()), "every agent holds the transaction open: {views:?}");
        assert_ne!(lab.snapshot(), before, "the changes are on the switches, uncommitted");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(worker.id() as i32), nix::sys::signal::Signal::SIGKILL)
            .unwrap();
        worker.wait().unwrap();
        let killed = Instant::now();

        // Nobody commits: every agent rolls back by its own timer.
        wait_same(&lab, &before, "every agent's confirm timer", Duration::from_secs(CONFIRM_SECS + 60));
        assert!(killed.elapsed() >= Duration::from_secs(1), "rolled back by the timers, not at once");
        assert!(svc.agents(&op).await.unwrap().iter().all(|a| a.open.is_none()));
        assert_eq!(svc.order(&op, &order).await.unwrap().status, "applying");

        // This instance takes the order over once the dead one's lease ran out.
        let start = Instant::now();
        loop {
            svc.recover().await.unwrap();
            if svc.order(&op, &order).await.unwrap().status == "done" {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "the order was not recovered");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let o = svc.order(&op, &order).await.unwrap();
        assert_eq!(o.attempts, 2, "{o:?}");
        let c = svc.channel(&op, &ch).await.unwrap();
        assert_eq!(c.state, ChannelState::Active);

        format!(
            "- name: killed-mid-apply\n  kind: p2p\n  bandwidth: 10\n  vlan: {}\n  members: [{{interface: site-a}}, {{interface: site-b}}]\n",
            c.vlan.unwrap()
        )
    });
    // Every switch holds what the plan of this channel makes, and frames flow.
    let (specs, _) = parse_channels(&channels);
    let planner = plan(&lab.topo, &specs).unwrap();
    for (k, sw) in lab.topo.switches.iter().enumerate() {
        let mut linux = engine::connect_switch(sw).unwrap();
        assert_eq!(linux.read_state().unwrap(), planner.desired(k), "{}", sw.name);
    }
    let verdict = lab.probe(&channels, false);
    assert!(verdict.anomalies.is_empty(), "{}", switchboard::cli::probe::render(&verdict));
    drop(lab);
}

/// A management link going down while its switch prepares, an agent answering past its
/// deadline, and an agent killed between its prepare and the commits: the apply fails
/// naming that switch and why, every other switch is rolled back at once, the cut-off,
/// slow or killed one by its agent, and every bridge ends exactly as before. Once all is
/// well again the same apply goes through.
#[test]
fn a_cut_management_link_a_slow_agent_or_a_killed_one_fails_the_apply_and_every_switch_ends_as_before() {
    let p2p = topologies().join("p2p-small.yaml");
    let p2p = p2p.to_str().unwrap().to_string();
    let lab = Lab::up(&std::fs::read_to_string(&p2p).unwrap());
    let _down = AgentsDown(p2p.clone());
    let (text, _) = agents_up(&p2p);
    let channels = std::fs::read_to_string(topologies().join("p2p-small.channels.yaml")).unwrap();
    let (specs, _) = parse_channels(&channels);
    // The ports in their bridges first, as in the test above.
    lab.apply("[]").unwrap();
    let before = lab.snapshot();
    let netem = |ns: &str, verb: &str, delay_ms: u64| {
        let delay = format!("{delay_ms}ms");
        let args: Vec<&str> = match verb {
            "add" => vec!["tc", "qdisc", "add", "dev", "mgmt0", "root", "netem", "delay", &delay],
            _ => vec!["tc", "qdisc", "del", "dev", "mgmt0", "root"],
        };
        sh_in(ns, &args);
    };

    // sw2's answers take 2 s on the way back; once sw1 holds its prepared transaction, sw2's
    // management link goes down under its prepare.
    let remote = load_topology(&with_timeouts(&text, 30, 30, 8));
    let planner = plan(&remote, &specs).unwrap();
    netem("p2p-small-sw2", "add", 2000);
    let mut drivers = engine::connect(&remote).unwrap();
    let err = std::thread::scope(|s| {
        let apply = s.spawn(|| engine::apply(&planner, &mut drivers, &mut |_| {}));
        wait_for("sw1 to prepare", Duration::from_secs(60), || holds_open(&remote, 0));
        sh_in("p2p-small-sw2", &["ip", "link", "set", "mgmt0", "down"]);
        apply.join().unwrap().unwrap_err()
    });
    assert_eq!(err.failure.switch, "sw2", "{err}");
    assert_eq!(err.failure.op, "prepare", "{err}");
    assert!(err.failure.message.contains("within the deadline of 8000 ms"), "{err}");
    assert!(err.in_doubt.is_none(), "{err}");
    sh_in("p2p-small-sw2", &["ip", "link", "set", "mgmt0", "up"]);
    netem("p2p-small-sw2", "del", 0);
    wait_same(&lab, &before, "sw2's agent rolling back by its timer", Duration::from_secs(CONFIRM_SECS + 60));

    // sw3's agent answers in 4 s, past the 3 s deadline for changes (reads may take 30).
    let remote = load_topology(&with_timeouts(&text, 30, 30, 3));
    let planner = plan(&remote, &specs).unwrap();
    netem("p2p-small-sw3", "add", 4000);
    let mut drivers = engine::connect(&remote).unwrap();
    let err = engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap_err();
    assert_eq!((err.failure.switch.as_str(), err.failure.op.as_str()), ("sw3", "prepare"), "{err}");
    assert!(err.failure.message.contains("within the deadline of 3000 ms"), "{err}");
    netem("p2p-small-sw3", "del", 0);
    wait_same(&lab, &before, "a slow agent", Duration::from_secs(CONFIRM_SECS + 60));

    // sw2's agent killed with SIGKILL after its prepare, before the commits: the check
    // before commit finds it gone and every other switch aborts; sw2 keeps its changes
    // until its agent starts again (a second `lab up --agents`) and rolls back from its
    // journal.
    let remote = load_topology(&text);
    let planner = plan(&remote, &specs).unwrap();
    let mut drivers = engine::connect(&remote).unwrap();
    let pid_file = "/run/switchboard/lab/p2p-small/agent-sw2.pid";
    let pid: i32 = std::fs::read_to_string(pid_file).unwrap().trim().parse().unwrap();
    let err = engine::apply(&planner, &mut drivers, &mut |e| {
        // The prepare phase's events come once every switch has prepared, in topology order.
        if matches!(e, engine::Event::Applied { switch, .. } if switch == "sw3") {
            let pid = nix::unistd::Pid::from_raw(pid);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        }
    })
    .unwrap_err();
    assert_eq!((err.failure.switch.as_str(), err.failure.op.as_str()), ("sw2", "check before commit"), "{err}");
    assert!(err.in_doubt.is_none(), "{err}");
    assert_ne!(lab.snapshot(), before, "a killed agent cannot roll back");
    let (code, out, err) =
        switchboard(&["lab", "up", &p2p, "--agents", "--confirm-timeout", &CONFIRM_SECS.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(1 started now)"), "{out}");
    wait_same(&lab, &before, "sw2's agent started again", Duration::from_secs(60));
    let log = std::fs::read_to_string("/run/switchboard/lab/p2p-small/agent-sw2.log").unwrap();
    assert!(log.contains("rolled back transaction"), "{log}");

    // All well again: the same apply goes through, and frames flow.
    let remote = load_topology(&text);
    let planner = plan(&remote, &specs).unwrap();
    let mut drivers = engine::connect(&remote).unwrap();
    engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap();
    for (k, sw) in lab.topo.switches.iter().enumerate() {
        let mut linux = engine::connect_switch(sw).unwrap();
        assert_eq!(linux.read_state().unwrap(), planner.desired(k), "{}", sw.name);
    }
    let verdict = lab.probe(&channels, false);
    assert!(verdict.anomalies.is_empty(), "{}", switchboard::cli::probe::render(&verdict));
    drop(lab);
}
