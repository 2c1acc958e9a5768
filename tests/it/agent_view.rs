//! The operator's view of the remote switches' agents (issue 17, item 5): the service asks
//! every agent the topology names, in parallel, and says of each whether it answers (and
//! why not), its version, and the transaction it holds open. Real agents on loopback (the
//! dry-run driver behind them, as in `agent.rs`), a real topology import, both databases.

use std::time::Duration;

use switchboard::model::actor::{Actor, UserRole};
use switchboard::orchestrator::Op;
use switchboard::pki::{self, Subject, Validity};
use switchboard::service::{Config, Service, ServiceError};
use switchboard::southbound::Driver;
use switchboard::southbound::remote::RemoteSwitch;
use switchboard::store::Db;

use crate::agent::{orchestrator, pki_dir, spawn_agent, vlan};
use crate::world::{Backend, test_db};

/// A port nothing listens on (bound, then let go).
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

async fn the_operator_sees_each_agent_and_its_open_transaction(b: Backend) {
    let dir = pki_dir();
    pki::issue(dir.path(), &Subject::Agent("sw2".into()), Validity::days(1)).unwrap();
    let up = spawn_agent(dir.path(), "sw1", Duration::from_secs(30)).to_string();
    let down = closed_port();
    let d = dir.path().display();
    let topology = format!(
        "name: remote-view\nvlans:\n  pool: 100-199\n\
         remote: {{ca: {d}/ca.pem, cert: {d}/orchestrator.pem, key: {d}/orchestrator-key.pem}}\n\
         switches:\n  sw1: {{driver: remote, address: '{up}', bridge: br0}}\n\
         \x20 sw2: {{driver: remote, address: '{down}', bridge: br0}}\n\
         links:\n  - endpoints: [sw1:t12, sw2:t21]\n\
         interfaces:\n  site-a: {{organization: acme, switch: sw1, port: ca, mode: port, capacity: 1G, macs: ['02:5b:00:00:01:01']}}\n\
         \x20 site-b: {{organization: globex, switch: sw2, port: cb, mode: port, capacity: 1G, macs: ['02:5b:00:00:01:02']}}\n"
    );
    let db = test_db(b).await;
    let svc = Service::new(Db::connect(&db.url).await.unwrap(), Config { dry_run: false, ..Config::default() });
    let system = Actor::system("test");
    svc.import_topology(&system, &topology, "remote-view.yaml").await.unwrap();
    let op = svc
        .create_user(
            &system,
            switchboard::service::OPERATOR_ORG,
            "noc@op.example",
            "NOC",
            UserRole::Operator,
            "pw-123456",
        )
        .await
        .unwrap();
    let op = svc.actor(&op, "test").await.unwrap();

    // sw1's agent answers with its version and no transaction; sw2's does not, and says why.
    let agents = svc.agents(&op).await.unwrap();
    assert_eq!(agents.iter().map(|a| a.switch.as_str()).collect::<Vec<_>>(), ["sw1", "sw2"]);
    let (sw1, sw2) = (&agents[0], &agents[1]);
    assert!(sw1.reachable && sw1.error.is_none(), "{sw1:?}");
    assert_eq!(sw1.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!((sw1.address.as_str(), sw1.bridge.as_deref(), sw1.open.is_none()), (up.as_str(), Some("br0"), true));
    assert!(!sw2.reachable && sw2.version.is_none(), "{sw2:?}");
    let why = sw2.error.as_deref().unwrap_or_default();
    assert!(why.contains(&down), "names the address it could not reach: {why}");

    // A transaction prepared and not committed shows, with its holder and changes.
    let files = orchestrator(dir.path());
    let address = up.clone();
    let mut holder = tokio::task::spawn_blocking(move || {
        let mut a = RemoteSwitch::connect("sw1", &address, &files).unwrap();
        a.prepare("txn-view", &[vlan(Op::Add, 42)]).unwrap();
        a
    })
    .await
    .unwrap();
    let open = svc.agents(&op).await.unwrap().remove(0).open.expect("the open transaction is shown");
    assert_eq!((open.transaction.as_str(), open.changes), ("txn-view", 1));
    assert_eq!(open.client, "switchboard orchestrator");
    assert!(open.expires_in_ms > 0 && open.expires_in_ms <= 30_000, "{open:?}");
    // The same through HTTP: the NOC's home, sw1's page and the API.
    let http = serve(&svc).await;
    let (base, client) = (&http.0, &http.1);
    let login = serde_json::json!({"email": "noc@op.example", "password": "pw-123456"});
    let r = client.post(format!("{base}/api/v1/session")).json(&login).send().await.unwrap();
    assert!(r.status().is_success());
    let page = |path: &str| {
        let r = client.get(format!("{base}{path}")).send();
        async move { r.await.unwrap().text().await.unwrap() }
    };
    let home = page("/operator").await;
    let table = &home[home.find("id=\"agents\"").expect("the agents are listed")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(table.contains("agent-warn") && table.contains("transaction txn-view open (1 change, held by"), "{table}");
    assert!(table.contains("agent-bad") && table.contains("not answering") && table.contains(&down), "{table}");
    let switch = page("/operator/switches/sw1").await;
    let line = &switch[switch.find("id=\"switch-agent\"").expect("the switch page names its agent")..];
    assert!(line.contains(&up) && line.contains("txn-view"), "{line:.300}");
    let api: serde_json::Value = serde_json::from_str(&page("/api/v1/operator/agents").await).unwrap();
    assert_eq!(api[0]["open"]["transaction"], "txn-view", "{api}");
    assert_eq!(api[1]["reachable"], false, "{api}");

    tokio::task::spawn_blocking(move || holder.abort("txn-view").unwrap()).await.unwrap();
    assert!(svc.agents(&op).await.unwrap()[0].open.is_none(), "aborted: nothing open");

    // Subscribers are not shown the agents.
    let acme = svc.organization_id("acme").await.unwrap();
    let admin = svc.create_user(&op, &acme, "admin@acme.example", "A", UserRole::Admin, "pw-123456").await.unwrap();
    let admin = svc.actor(&admin, "test").await.unwrap();
    assert!(matches!(svc.agents(&admin).await, Err(ServiceError::Forbidden(_))));

    // A service that drives every switch dry (serve --demo) asks no agent.
    let dry = Service::new(Db::connect(&db.url).await.unwrap(), Config { dry_run: true, ..Config::default() });
    assert!(dry.agents(&op).await.unwrap().is_empty());
}

on_both!(the_operator_sees_each_agent_and_its_open_transaction);

/// Serves `svc`'s portal on loopback: its address and a client with a cookie jar.
async fn serve(svc: &Service) -> (String, reqwest::Client) {
    switchboard::tls::install_crypto();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = switchboard::portal::router(switchboard::portal::AppState::new(svc.clone()));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    (format!("http://{addr}"), reqwest::Client::builder().cookie_store(true).build().unwrap())
}

/// The agents' view asks every agent at once, each within a short deadline: four agents
/// that accept the connection and never answer cost one deadline, not four, and each says
/// which deadline it missed.
#[test]
fn silent_agents_are_asked_at_once_within_a_short_deadline() {
    let dir = pki_dir();
    let d = dir.path().display();
    let silent: Vec<std::net::TcpListener> =
        (0..4).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let mut text = format!(
        "name: silent\nremote: {{ca: {d}/ca.pem, cert: {d}/orchestrator.pem, key: {d}/orchestrator-key.pem}}\nswitches:\n"
    );
    for (k, l) in silent.iter().enumerate() {
        text += &format!("  s{k}: {{driver: remote, address: '{}'}}\n", l.local_addr().unwrap());
    }
    text += "links:\n  - endpoints: [s0:a, s1:a]\n  - endpoints: [s1:b, s2:a]\n  - endpoints: [s2:b, s3:a]\n";
    let topo = switchboard::topology::parse(&text).unwrap();
    let start = std::time::Instant::now();
    let agents = switchboard::engine::agents(&topo);
    let took = start.elapsed();
    assert_eq!(agents.len(), 4);
    for a in &agents {
        let why = a.health.as_ref().unwrap_err();
        assert!(why.contains("within the deadline of 2000 ms"), "{}: {why}", a.switch);
    }
    // One after another would take 8 s; two at a time (one per CPU), 4 s.
    assert!(took < Duration::from_millis(3_500), "the view took {took:?}");
}
