//! Several orchestrator instances on one database, as separate processes: acceptances
//! racing through several `serve` processes, and an instance killed with SIGKILL in the
//! middle of an apply, whose order another instance finishes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchboard::model::ChannelKind;
use switchboard::orchestrator::policy::ChannelState;

use crate::serve::ServeProcess;
use crate::service::assert_switches_match;
use crate::world::{Backend, World, accept, world};

async fn wait_for(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An instance dies (SIGKILL) after its apply reached the first switch; another instance
/// takes the order over once the lease runs out and finishes it.
async fn killed_instance_is_recovered(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("survivor", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    let order =
        w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-8a")).await.unwrap().order_id.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("stalled");
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["worker", "--dry-run", "--lease-secs", "2", "--database", &w.db.url])
        .env("SWITCHBOARD_TEST_STALL_APPLY", &marker)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let m = marker.clone();
    wait_for("the worker to reach the middle of its apply", Duration::from_secs(60), async || m.exists()).await;
    let o = w.svc.order(&w.op, &order).await.unwrap();
    assert_eq!(o.status, "applying");
    let dead = o.claimed_by.clone().unwrap();
    assert_ne!(dead, "test-main");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Another instance: waits out the lease, then finishes the order.
    let svc = w.svc.clone();
    wait_for("the order to be recovered", Duration::from_secs(60), async || {
        svc.recover().await.unwrap();
        svc.order(&w.op, &order).await.unwrap().status == "done"
    })
    .await;
    let o = w.svc.order(&w.op, &order).await.unwrap();
    assert_eq!(o.attempts, 2, "{o:?}");
    assert_eq!(o.claimed_by.as_deref(), Some("test-main"));
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Active);
    let log = w.svc.audit_log(&w.op, Some(&order)).await.unwrap();
    let steps: Vec<(&str, &str)> = log.iter().map(|e| (e.action.as_str(), e.actor.as_str())).collect();
    assert!(steps.contains(&("order.done", "worker:test-main")), "{steps:?}");
    assert!(steps.iter().any(|(a, who)| *a == "order.planned" && *who == format!("worker:{dead}")), "{steps:?}");
    assert_switches_match(&w).await;
}

on_both!(killed_instance_is_recovered);

const CHANNELS: usize = 100;
const PROCESSES: usize = 4;

/// 100 acceptances at once through 4 `switchboard serve` processes on one database, each
/// process also running orders: no VLAN doubled or lost.
async fn acceptances_from_several_processes(b: Backend) {
    let w: World = world(b).await;
    let creators = ["initech-1c", "initech-4a", "initech-6a", "initech-8b"];
    let joiners = ["stark-2c", "stark-5a", "stark-7b", "stark-9b"];
    let mut invitations = Vec::new();
    for i in 0..CHANNELS {
        let ch = w
            .svc
            .create_channel(&w.initech, &w.channel(&format!("race-{i}"), ChannelKind::P2p, creators[i % 4]))
            .await
            .unwrap();
        let offer = w.offer_to(&w.initech, &ch, &[&w.stark]).await;
        invitations.push((offer.invitations[0].token.clone(), joiners[(i / 4) % 4]));
    }
    let data = tempfile::tempdir().unwrap();
    let servers: Vec<ServeProcess> =
        (0..PROCESSES).map(|_| ServeProcess::start(data.path(), &["--dry-run", "--database", &w.db.url], 1)).collect();
    // stark's session, valid on every instance (sessions live in the database).
    let session = w.svc.session_for(w.stark.clone(), 3_600_000).await.unwrap();
    let http = reqwest::Client::new();
    let mut requests = Vec::new();
    for (i, (token, iface)) in invitations.iter().enumerate() {
        let req = http
            .post(format!("{}/api/v1/invitations/{token}/accept", servers[i % PROCESSES].url))
            .header("cookie", format!("sb_session={}", session.token))
            .header("x-csrf-token", session.csrf.as_str())
            .json(&serde_json::json!({"interface": iface}));
        requests.push(tokio::spawn(async move { req.send().await }));
    }
    for r in requests {
        let r = r.await.unwrap().unwrap();
        let status = r.status();
        assert!(status.is_success(), "{status}: {}", r.text().await.unwrap());
    }
    // Every order done, by the server processes' workers.
    wait_for("every order to finish", Duration::from_secs(120), async || {
        w.svc.orders(&w.op, None).await.unwrap().iter().all(|o| o.status == "done")
    })
    .await;
    drop(servers);
    let channels = w.svc.channels(&w.op).await.unwrap();
    assert_eq!(channels.len(), CHANNELS);
    let allocations = w.svc.allocations().await.unwrap();
    let mut expected = 0;
    for c in &channels {
        assert_eq!(c.state, ChannelState::Active, "{} {}", c.name, c.reason);
        let vlan = c.vlan.unwrap();
        for sw in &c.path {
            assert!(allocations.contains(&(sw.clone(), vlan, c.id.to_string())), "{} lost VLAN {vlan} on {sw}", c.name);
        }
        expected += c.path.len();
    }
    assert_eq!(allocations.len(), expected, "no allocation beyond the channels' paths");
    // Channels sharing a switch never share a VLAN.
    for (i, a) in channels.iter().enumerate() {
        for b in &channels[i + 1..] {
            if a.path.iter().any(|s| b.path.contains(s)) {
                assert_ne!(a.vlan, b.vlan, "{} and {} share a switch and VLAN", a.name, b.name);
            }
        }
    }
    let orders = w.svc.orders(&w.op, None).await.unwrap();
    assert_eq!(orders.len(), CHANNELS);
    let instances: std::collections::BTreeSet<_> = orders.iter().filter_map(|o| o.claimed_by.clone()).collect();
    assert!(instances.len() > 1, "orders ran in several processes: {instances:?}");
    assert!(!instances.contains("test-main"), "the test's own service ran no order: {instances:?}");
    assert_switches_match(&w).await;
}

on_both!(acceptances_from_several_processes);
