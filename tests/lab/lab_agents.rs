//! Issue 17, item 4: `switchboard lab up --agents` on the metro lab. Every switch behind its
//! own agent on the lab's management network; apply, probe, drift, re-apply and removal
//! through the written remote topology give what the linux driver gives; `lab down` leaves
//! nothing of the lab in `ip netns list`, in the root namespace's links, or in /run.

use std::process::Command;

use switchboard::engine;
use switchboard::orchestrator::{parse_channels, plan};
use switchboard::topology::DriverConfig;

use super::{Lab, metro_channels, metro_text, our_namespaces, switchboard, topologies};

/// `ip` output in this (the lab kernel's root) namespace.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lab_up_with_agents_serves_every_switch_through_its_agent_and_down_leaves_nothing() {
    let lab = Lab::up(&metro_text());
    let links_before = ip(&["-br", "link"]);
    let metro = topologies().join("metro.yaml");
    let metro = metro.to_str().unwrap();
    let chan_file = topologies().join("metro.channels.yaml");
    let chan_file = chan_file.to_str().unwrap();

    let (code, out, err) = switchboard(&["lab", "up", metro, "--agents"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("13 agent(s) serving (13 started now)"), "{out}");
    let remote_file = out.lines().last().unwrap().to_string();
    assert!(remote_file.ends_with("metro.agents.yaml"), "{out}");
    assert!(our_namespaces("metro-mgmt").len() == 1, "{:?}", our_namespaces("metro-"));
    assert_eq!(ip(&["-br", "link"]), links_before, "nothing is added to the root namespace");
    let remote = switchboard::topology::parse(&std::fs::read_to_string(&remote_file).unwrap()).unwrap();
    for sw in &remote.switches {
        let DriverConfig::Remote { address, mgmt_netns, .. } = &sw.driver else { panic!("{sw:?}") };
        assert!(address.starts_with("10.255.") && address.ends_with(":4443"), "{address}");
        assert_eq!(mgmt_netns.as_deref(), Some("metro-mgmt"));
    }
    // A second `up --agents` keeps the running agents and their certificates.
    let (code, out, err) = switchboard(&["lab", "up", metro, "--agents"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(0 started now)"), "{out}");

    // Apply the metro mix (all kinds, both modes) through the agents: every switch holds
    // exactly what the plan (and so the linux driver) would make.
    let (code, out, err) = switchboard(&["apply", "-t", &remote_file, "-c", chan_file]);
    assert_eq!(code, 0, "{out}{err}");
    let (specs, _) = parse_channels(&metro_channels());
    let planner = plan(&lab.topo, &specs).unwrap();
    for (k, sw) in lab.topo.switches.iter().enumerate() {
        let mut linux = engine::connect_switch(sw).unwrap();
        assert_eq!(linux.read_state().unwrap(), planner.desired(k), "{}", sw.name);
    }
    // What each switch holds, read through its agent, has the digest its agent finds at a
    // prepare: a transaction planned from the state read last is not planned twice.
    for sw in &remote.switches {
        let mut agent = engine::connect_switch(sw).unwrap();
        let known = agent.read_state().unwrap();
        let transaction = switchboard::southbound::remote::transaction_id();
        let held = agent.prepare_unless_changed(&transaction, &known, &[]).unwrap();
        assert_eq!(held.map(|h| h.symmetric_difference(&known).cloned().collect::<Vec<_>>()), None, "{}", sw.name);
        agent.abort(&transaction).unwrap();
    }
    // The same frames reach the same sites as through the linux topology.
    let (code, through_agents, err) = switchboard(&["probe", "-t", &remote_file, "-c", chan_file]);
    assert_eq!(code, 0, "{through_agents}{err}");
    let (code, through_linux, err) = switchboard(&["probe", "-t", metro, "-c", chan_file]);
    assert_eq!(code, 0, "{through_linux}{err}");
    assert_eq!(through_agents, through_linux);
    let (code, out, err) = switchboard(&["drift", "-t", &remote_file, "-c", chan_file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no drift"), "{out}");
    let (code, out, err) = switchboard(&["apply", "-t", &remote_file, "-c", chan_file]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("applied 0 change(s) on 0 switch(es)"), "{out}");

    // Removal through the agents cuts everyone.
    let empty = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(empty.path(), "[]\n").unwrap();
    let (code, out, err) = switchboard(&["apply", "-t", &remote_file, "-c", empty.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = switchboard(&["probe", "-t", &remote_file, "-c", chan_file, "--expect-none"]);
    assert_eq!(code, 0, "{out}");

    // Down: the agents end, and nothing of the lab is left.
    let pids: Vec<i32> = std::fs::read_dir("/run/switchboard/lab/metro")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pid"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap().trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 13);
    let (code, out, err) = switchboard(&["lab", "down", metro]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("13 agent(s) stopped"), "{out}");
    assert!(!ip(&["netns", "list"]).contains("metro-"), "{}", ip(&["netns", "list"]));
    assert!(our_namespaces("metro-").is_empty());
    assert_eq!(ip(&["-br", "link"]), links_before);
    assert!(!std::path::Path::new("/run/switchboard/lab/metro").exists());
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next());
        assert!(matches!(state, None | Some(Some('Z' | 'X'))), "agent {pid} still runs: {stat}");
    }
    drop(lab);
}

/// Brings the lab's agents down with the CLI when the test ends, pass or fail.
pub(crate) struct AgentsDown(pub(crate) String);

impl Drop for AgentsDown {
    fn drop(&mut self) {
        let _ = switchboard(&["lab", "down", &self.0]);
    }
}

/// The service's worker and meter through `lab up --agents` on p2p-small: an order runs
/// through the agents (two phases on every switch), the bridges hold the channel, the meter
/// reads the ports' counters through the agents, and the channel's end removes it.
#[test]
fn the_service_runs_orders_and_meters_through_the_labs_agents() {
    use switchboard::orchestrator::policy::ChannelState;
    use switchboard::service::UsageModelSpec;
    let p2p = topologies().join("p2p-small.yaml");
    let p2p = p2p.to_str().unwrap().to_string();
    let lab = Lab::up(&std::fs::read_to_string(&p2p).unwrap());
    let _down = AgentsDown(p2p.clone());
    let (code, out, err) = switchboard(&["lab", "up", &p2p, "--agents"]);
    assert_eq!(code, 0, "{err}");
    let remote_file = out.lines().last().unwrap().to_string();
    let remote_text = std::fs::read_to_string(&remote_file).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let lab_svc = super::lab_service(dir.path(), &remote_text, &remote_file, "Remote E-Line", "remote").await;
        // A metered model on site-b, so the meter reads its port through sw3's agent.
        let metered = UsageModelSpec {
            name: "1 GB".into(),
            max_gb: Some(switchboard::orchestrator::policy::Quota { megabytes: 1000 }),
            price_type: Some(switchboard::orchestrator::policy::PriceType::PerGb),
            price_cents: 100,
            ..Default::default()
        };
        let metered = lab_svc.svc.create_usage_model(&lab_svc.op, &lab_svc.definition, &metered).await.unwrap();
        let (ch, _) = lab_svc.site_a_to_site_b("through-agents", &lab_svc.free, &metered).await;
        let super::LabService { svc, op, admin, .. } = lab_svc;
        let done = svc.run_pending().await.unwrap();
        assert_eq!(done[0].status, "done", "{done:?}");
        let c = svc.channel(&op, &ch).await.unwrap();
        assert_eq!(c.state, ChannelState::Active);
        let vlan = c.vlan.unwrap().to_string();
        for sw in ["p2p-small-sw1", "p2p-small-sw2", "p2p-small-sw3"] {
            let vlans = super::sh_in(sw, &["bridge", "vlan", "show"]);
            assert!(vlans.split_whitespace().any(|w| w == vlan), "{sw} lacks VLAN {vlan}:\n{vlans}");
        }
        // The first reading (the baseline) comes through the agents' PortBytes.
        let r = svc.meter().await.unwrap();
        assert_eq!((r.read, r.unread), (1, 0), "{r:?}");
        svc.terminate(&admin[0], &ch, &"test over".parse().unwrap()).await.unwrap();
        svc.run_pending().await.unwrap();
        assert_eq!(svc.channel(&op, &ch).await.unwrap().state, ChannelState::Terminated);
        for sw in ["p2p-small-sw1", "p2p-small-sw2", "p2p-small-sw3"] {
            let vlans = super::sh_in(sw, &["bridge", "vlan", "show"]);
            assert!(!vlans.split_whitespace().any(|w| w == vlan), "{sw} still has VLAN {vlan}:\n{vlans}");
        }
    });
    drop(lab);
}
