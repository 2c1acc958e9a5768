//! Issue 17: a commit that reaches some agents and not others. Real agents on loopback (the
//! dry-run driver behind them, as in `agent.rs`), one of them behind a TCP link the test
//! cuts between the two phases; a real topology import; both databases. The order is not
//! failed and nothing is rolled back: it is parked in doubt, the cut-off agent rolls back by
//! its confirm timer, and the order's recovery brings every switch to the change.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard::model::ChannelKind;
use switchboard::model::actor::{Actor, UserRole};
use switchboard::orchestrator::Item;
use switchboard::orchestrator::policy::ChannelState;
use switchboard::pki::{self, Subject, Validity};
use switchboard::service::{
    Acceptance, Config, DefinitionSpec, InviteeSpec, NewChannel, NewOffer, OPERATOR_ORG, Service, UsageModelSpec,
};
use switchboard::southbound::Driver;
use switchboard::southbound::remote::RemoteSwitch;
use switchboard::store::Db;

use crate::agent::{orchestrator, pki_dir, spawn_agent};
use crate::world::{Backend, test_db};

/// A TCP link on loopback to `target` that the test cuts (every connection through it
/// closed, new ones closed at once) and mends: a management link going down and up.
pub(crate) struct Link {
    pub(crate) address: SocketAddr,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    /// Connections carried to the agent so far.
    made: Arc<AtomicUsize>,
}

impl Link {
    pub(crate) fn to(target: SocketAddr) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let made = Arc::new(AtomicUsize::new(0));
        let (c, o, m) = (cut.clone(), open.clone(), made.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if c.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(agent) = TcpStream::connect(target) else { continue };
                m.fetch_add(1, Ordering::SeqCst);
                let mut streams = o.lock().unwrap();
                streams.push(client.try_clone().unwrap());
                streams.push(agent.try_clone().unwrap());
                drop(streams);
                pipe(client.try_clone().unwrap(), agent.try_clone().unwrap());
                pipe(agent, client);
            }
        });
        Link { address, cut, open, made }
    }

    pub(crate) fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub(crate) fn mend(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` on a thread until either ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// What agent `name` at `address` holds, read through the remote driver.
async fn state_of(dir: &std::path::Path, name: &str, address: String) -> BTreeSet<Item> {
    let (files, name) = (orchestrator(dir), name.to_string());
    tokio::task::spawn_blocking(move || RemoteSwitch::connect(&name, &address, &files).unwrap().read_state().unwrap())
        .await
        .unwrap()
}

fn holds_vlan(state: &BTreeSet<Item>, vid: u16) -> bool {
    state.iter().any(|i| matches!(i, Item::Vlan { vid: v, .. } if *v == vid))
}

async fn wait_until(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two remote switches behind real agents (sw2's behind a link the test cuts), a service
/// with `config`, and a channel between them whose activation waits in its order.
struct Rig {
    svc: Service,
    op: Actor,
    admin: Vec<Actor>,
    dir: tempfile::TempDir,
    sw1: String,
    sw2: String,
    link: Link,
    ch: switchboard::model::id::ChannelId,
    order: switchboard::model::id::OrderId,
    _db: crate::world::TestDb,
}

/// sw2's agent rolls back an unconfirmed transaction this long after its prepare.
const CONFIRM: Duration = Duration::from_secs(2);

async fn rig(b: Backend, config: Config) -> Rig {
    let dir = pki_dir();
    pki::issue(dir.path(), &Subject::Agent("sw2".into()), Validity::days(1)).unwrap();
    let sw1 = spawn_agent(dir.path(), "sw1", Duration::from_secs(60)).to_string();
    let sw2_agent = spawn_agent(dir.path(), "sw2", CONFIRM);
    let link = Link::to(sw2_agent);
    let sw2 = link.address.to_string();
    let d = dir.path().display();
    let topology = format!(
        "name: in-doubt\nvlans:\n  pool: 100-199\n\
         remote: {{ca: {d}/ca.pem, cert: {d}/orchestrator.pem, key: {d}/orchestrator-key.pem, \
         timeouts: {{connect: 2, read: 2, write: 2}}}}\n\
         switches:\n  sw1: {{driver: remote, address: '{sw1}', bridge: br0}}\n\
         \x20 sw2: {{driver: remote, address: '{sw2}', bridge: br0}}\n\
         links:\n  - endpoints: [sw1:t12, sw2:t21]\n\
         interfaces:\n  site-a: {{organization: acme, switch: sw1, port: ca, mode: port, capacity: 1G, macs: ['02:5b:00:00:01:01']}}\n\
         \x20 site-b: {{organization: globex, switch: sw2, port: cb, mode: port, capacity: 1G, macs: ['02:5b:00:00:01:02']}}\n"
    );
    let db = test_db(b).await;
    let svc = Service::new(Db::connect(&db.url).await.unwrap(), config);
    let system = Actor::system("test");
    svc.import_topology(&system, &topology, "in-doubt.yaml").await.unwrap();
    let op = svc.create_user(&system, OPERATOR_ORG, "noc@op.example", "NOC", UserRole::Operator, "pw-123456");
    let op = svc.actor(&op.await.unwrap(), "test").await.unwrap();
    let mut admin = Vec::new();
    for org in ["acme", "globex"] {
        let org_id = svc.organization_id(org).await.unwrap();
        let email = format!("admin@{org}.example");
        let uid = svc.create_user(&op, &org_id, &email, "Admin", UserRole::Admin, "pw-123456").await.unwrap();
        admin.push(svc.actor(&uid, "test").await.unwrap());
    }
    let spec = DefinitionSpec {
        name: "Remote E-Line".into(),
        kinds: vec![ChannelKind::P2p],
        min_bandwidth_mbps: 1,
        max_bandwidth_mbps: 1000,
        classes: vec!["standard".into()],
        drivers: vec!["remote".into()],
        relations: Default::default(),
    };
    let (definition, _) = svc.create_definition(&op, &spec).await.unwrap();
    let free = UsageModelSpec { name: "free".into(), ..Default::default() };
    let free = svc.create_usage_model(&op, &definition, &free).await.unwrap();
    let new = NewChannel {
        name: "in-doubt".parse().unwrap(),
        kind: ChannelKind::P2p,
        bandwidth_mbps: 10,
        class: "standard".parse().unwrap(),
        usage_model_id: free.clone(),
        interface: "site-a".parse().unwrap(),
        role: None,
        customer_vlan: None,
        member_bandwidth_mbps: None,
    };
    let ch = svc.create_channel(&admin[0], &new).await.unwrap();
    let invitee = InviteeSpec { email: Some("admin@globex.example".parse().unwrap()), ..Default::default() };
    let offer = svc.offer(&admin[0], &ch, &NewOffer { invitees: vec![invitee], ..Default::default() }).await.unwrap();
    let acc = Acceptance {
        interface: "site-b".parse().unwrap(),
        usage_model_id: Some(free),
        customer_vlan: None,
        bandwidth_mbps: None,
    };
    let order = svc.accept(&admin[1], &offer.invitations[0].token, &acc).await.unwrap().order_id.unwrap();
    Rig { svc, op, admin, dir, sw1, sw2, link, ch, order, _db: db }
}

impl Rig {
    /// Runs the waiting order with sw2's link cut between the two phases: its outcome.
    async fn run_with_the_link_cut_before_commit(&self) -> switchboard::service::OrderOutcome {
        let pause = self.dir.path().join("prepared");
        // SAFETY: nextest runs this test in a process of its own; nothing else reads it now.
        unsafe { std::env::set_var("SWITCHBOARD_TEST_PAUSE_COMMIT", &pause) };
        let worker = self.svc.clone();
        let run = tokio::spawn(async move { worker.run_pending().await.unwrap() });
        let p = pause.clone();
        wait_until("every switch to prepare", Duration::from_secs(30), async || p.exists()).await;
        // SAFETY: as above.
        unsafe { std::env::remove_var("SWITCHBOARD_TEST_PAUSE_COMMIT") };
        self.link.cut();
        std::fs::remove_file(&pause).unwrap();
        let mut done = run.await.unwrap();
        assert_eq!(done.len(), 1, "{done:?}");
        done.remove(0)
    }

    async fn holds(&self, name: &str, vlan: u16) -> bool {
        let address = if name == "sw1" { &self.sw1 } else { &self.sw2 };
        holds_vlan(&state_of(self.dir.path(), name, address.clone()).await, vlan)
    }
}

async fn a_commit_that_reaches_one_agent_of_two_is_parked_and_converged(b: Backend) {
    let config = Config { dry_run: false, in_doubt_retry: Duration::from_millis(300), ..Config::default() };
    let r = rig(b, config).await;
    let (svc, op, ch, order) = (&r.svc, &r.op, &r.ch, &r.order);
    let out = r.run_with_the_link_cut_before_commit().await;
    assert_eq!(out.status, "in doubt", "{out:?}");
    assert!(out.reason.contains("IN DOUBT: committed on sw1, not confirmed on sw2"), "{out:?}");
    assert!(out.reason.starts_with("switch `sw2`"), "names the switch that did not confirm first: {out:?}");

    // Nothing rolled back: sw1 holds the channel; the order waits, counted as in doubt.
    let vlan = svc.channel(op, ch).await.unwrap().vlan.unwrap();
    assert!(r.holds("sw1", vlan).await, "sw1 committed");
    let o = svc.order(op, order).await.unwrap();
    assert_eq!(o.status, "applying", "{o:?}");
    assert!(o.reason.contains("IN DOUBT"), "{o:?}");
    assert!(svc.order_counts().await.unwrap().contains(&("in_doubt".into(), 1)));
    let log = svc.audit_log(op, Some(order.as_str())).await.unwrap();
    assert!(log.iter().any(|e| e.action == "order.in_doubt"), "{log:?}");
    assert_ne!(svc.channel(op, ch).await.unwrap().state, ChannelState::Active);

    // While sw2 stays cut off, a try changes nothing and parks the order again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = svc.recover().await.unwrap();
    assert_eq!(again.iter().map(|o| o.status.as_str()).collect::<Vec<_>>(), ["in doubt"], "{again:?}");
    assert!(again[0].reason.contains("sw2"), "{again:?}");

    // The link comes back; sw2's agent rolled back by its confirm timer meanwhile.
    r.link.mend();
    tokio::time::sleep(CONFIRM).await;
    assert!(!r.holds("sw2", vlan).await, "sw2 rolled back by its timer");
    wait_until("the order's recovery", Duration::from_secs(30), async || {
        svc.recover().await.unwrap();
        svc.order(op, order).await.unwrap().status == "done"
    })
    .await;
    assert_eq!(svc.channel(op, ch).await.unwrap().state, ChannelState::Active);
    assert!(r.holds("sw1", vlan).await && r.holds("sw2", vlan).await, "both switches hold the channel");

    // Its end takes it off both.
    svc.terminate(&r.admin[0], ch, &"test over".parse().unwrap()).await.unwrap();
    svc.run_pending().await.unwrap();
    assert!(!r.holds("sw1", vlan).await && !r.holds("sw2", vlan).await, "the channel is gone");
}

on_both!(a_commit_that_reaches_one_agent_of_two_is_parked_and_converged);

/// An order in doubt past the service's window is failed, naming the switches; its VLAN
/// stays held, and terminating the channel takes it off the switch that committed.
async fn an_order_in_doubt_past_its_window_is_failed_and_termination_cleans_up(b: Backend) {
    let config = Config {
        dry_run: false,
        in_doubt_for: Duration::ZERO,
        in_doubt_retry: Duration::from_millis(300),
        ..Config::default()
    };
    let r = rig(b, config).await;
    let (svc, op, ch, order) = (&r.svc, &r.op, &r.ch, &r.order);
    assert_eq!(r.run_with_the_link_cut_before_commit().await.status, "in doubt");
    let vlan = svc.channel(op, ch).await.unwrap().vlan.unwrap();
    // The next try, once the retry time came, finds the window over.
    let store = svc.clone();
    wait_until("the order to be given up", Duration::from_secs(30), async || {
        store.recover().await.unwrap();
        store.order(op, order).await.unwrap().status == "failed"
    })
    .await;
    let o = svc.order(op, order).await.unwrap();
    assert!(o.reason.starts_with("gave up after 0 s in doubt; terminate the channel"), "{o:?}");
    assert!(o.reason.contains("committed on sw1, not confirmed on sw2"), "{o:?}");
    assert!(r.holds("sw1", vlan).await, "nothing was rolled back");
    assert_eq!(svc.channel(op, ch).await.unwrap().vlan, Some(vlan), "its VLAN stays held");
    // Once sw2 is back and its agent rolled back by its timer, the channel's end removes it.
    r.link.mend();
    tokio::time::sleep(CONFIRM).await;
    svc.terminate(&r.admin[0], ch, &"clean up".parse().unwrap()).await.unwrap();
    svc.run_pending().await.unwrap();
    assert!(!r.holds("sw1", vlan).await && !r.holds("sw2", vlan).await, "the termination took it off");
}

on_both!(an_order_in_doubt_past_its_window_is_failed_and_termination_cleans_up);
