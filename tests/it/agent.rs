//! Issue 17, first step: `switchboard pki`, and `switchboard agent` over mutual TLS, run in
//! this process on loopback with the dry-run driver as its switch (the switch behind it is
//! tested for real under the lab kernel, tests/lab). What is proven here: the certificates
//! chain, every refusal of the handshake, the agent's transaction rules seen through the
//! remote driver, deadlines, and that malformed or oversized requests get an error and leave
//! the agent serving.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use switchboard::agent::Agent;
use switchboard::orchestrator::{Change, Item, Op};
use switchboard::pki::{self, Subject, Validity};
use switchboard::southbound::Driver;
use switchboard::southbound::dry_run::DryRun;
use switchboard::southbound::remote::tls::{self, TlsFiles};
use switchboard::southbound::remote::wire::v1;
use switchboard::southbound::remote::{self, Deadlines, RemoteSwitch};

/// A CA with an agent certificate for `sw1` and an orchestrator certificate.
pub(crate) fn pki_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pki::init(dir.path(), Validity::days(1)).unwrap();
    pki::issue(dir.path(), &Subject::Agent("sw1".into()), Validity::days(1)).unwrap();
    pki::issue(dir.path(), &Subject::Orchestrator, Validity::days(1)).unwrap();
    dir
}

pub(crate) fn orchestrator(dir: &Path) -> TlsFiles {
    TlsFiles { ca: dir.join("ca.pem"), cert: dir.join("orchestrator.pem"), key: dir.join("orchestrator-key.pem") }
}

fn agent_files(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("agent-{name}.pem")),
        key: dir.join(format!("agent-{name}-key.pem")),
    }
}

/// What the switch behind a test agent starts with.
fn start_state() -> BTreeSet<Item> {
    BTreeSet::from([
        Item::Port { port: "p1".into(), mcast_flood: true },
        Item::Vlan { port: "p1".into(), vid: 5, pvid: true, untagged: true },
    ])
}

/// Runs an agent for switch `name` (certificate from `dir`) on a loopback port, on a thread
/// and runtime of its own, with the dry-run driver holding [`start_state`].
pub(crate) fn spawn_agent(dir: &Path, name: &str, confirm: Duration) -> SocketAddr {
    spawn_agent_advertising(dir, name, confirm, None)
}

/// [`spawn_agent`], telling orchestrators it knows only `features` when given.
fn spawn_agent_advertising(dir: &Path, name: &str, confirm: Duration, features: Option<&[&str]>) -> SocketAddr {
    let files = agent_files(dir, name);
    let journal = dir.join(format!("{name}.journal"));
    let config = tls::server_config(&files).unwrap();
    let mut dry = DryRun::new(name, None, "br0");
    dry.state = start_state();
    let (mut agent, _) = Agent::start(Box::new(dry), name, "br0", &journal, confirm).unwrap();
    if let Some(features) = features {
        agent = agent.advertising(features);
    }
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = std_listener.local_addr().unwrap();
    std_listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let _ = switchboard::agent::service::serve(agent, None, listener, config).await;
        });
    });
    address
}

pub(crate) fn vlan(op: Op, vid: u16) -> Change {
    Change { op, item: Item::Vlan { port: "p1".into(), vid, pvid: false, untagged: false } }
}

#[test]
fn pki_issues_a_chain_that_verifies_with_private_keys_0600() {
    let dir = pki_dir();
    for key in ["ca-key.pem", "agent-sw1-key.pem", "orchestrator-key.pem"] {
        let mode = std::fs::metadata(dir.path().join(key)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    // The chain verifies: a real handshake both ways, and the agent answers as `sw1`.
    let address = spawn_agent(dir.path(), "sw1", Duration::from_secs(60));
    let mut sw = RemoteSwitch::connect("sw1", &address.to_string(), &orchestrator(dir.path())).unwrap();
    assert_eq!(sw.health().unwrap().switch_name, "sw1");
    assert_eq!(sw.read_state().unwrap(), start_state());
    // Nothing is overwritten; a missing directory or CA says what to run.
    let again = pki::issue(dir.path(), &Subject::Agent("sw1".into()), Validity::days(1)).unwrap_err().to_string();
    assert!(again.contains("agent-sw1.pem already exists"), "{again}");
    let missing = dir.path().join("nope");
    let err = pki::issue(&missing, &Subject::Orchestrator, Validity::days(1)).unwrap_err().to_string();
    assert!(err.contains("does not exist") && err.contains("switchboard pki init"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = pki::issue(empty.path(), &Subject::Orchestrator, Validity::days(1)).unwrap_err().to_string();
    assert!(err.contains("has no CA") && err.contains("switchboard pki init"), "{err}");
}

#[test]
fn the_handshake_refuses_foreign_expired_and_misnamed_certificates() {
    let dir = pki_dir();
    let address = spawn_agent(dir.path(), "sw1", Duration::from_secs(60)).to_string();
    let quick =
        Deadlines { connect: Duration::from_secs(5), read: Duration::from_secs(5), write: Duration::from_secs(5) };
    // The agent's verdict on a client certificate comes after the TLS 1.3 handshake, as an
    // alert that arrives with the closed connection or not (a race): either is a refusal.
    let client_refused = |err: &str| {
        err.contains(&format!("agent at {address}"))
            && (err.contains("refuses this client's certificate") || err.contains("received fatal alert"))
    };
    let refused = |files: &TlsFiles, switch: &str| -> String {
        match RemoteSwitch::connect_with(switch, &address, files, quick) {
            Ok(_) => panic!("connected with {files:?} as {switch}"),
            Err(e) => e.to_string(),
        }
    };
    // A client certificate from another CA.
    let other = pki_dir();
    let foreign = TlsFiles {
        ca: dir.path().join("ca.pem"),
        cert: other.path().join("orchestrator.pem"),
        key: other.path().join("orchestrator-key.pem"),
    };
    let err = refused(&foreign, "sw1");
    assert!(client_refused(&err), "{err}");
    // An expired client certificate from the right CA.
    let expired_dir = tempfile::tempdir().unwrap();
    for f in ["ca.pem", "ca-key.pem"] {
        std::fs::copy(dir.path().join(f), expired_dir.path().join(f)).unwrap();
    }
    let past = Validity { not_before: rcgen::date_time_ymd(2020, 1, 1), not_after: rcgen::date_time_ymd(2021, 1, 1) };
    pki::issue(expired_dir.path(), &Subject::Orchestrator, past).unwrap();
    let err = refused(&orchestrator(expired_dir.path()), "sw1");
    assert!(client_refused(&err), "{err}");
    // The topology says sw2 is at this address, but the agent's certificate names sw1.
    let err = refused(&orchestrator(dir.path()), "sw2");
    assert!(err.contains("switch `sw2`") && err.contains("certificate not valid for name \"sw2\""), "{err}");
    // An agent certificate issued by another CA is refused by the orchestrator.
    let wrong_ca = TlsFiles { ca: other.path().join("ca.pem"), ..orchestrator(dir.path()) };
    let err = refused(&wrong_ca, "sw1");
    assert!(err.contains("invalid peer certificate"), "{err}");
    // None of it reached the switch, and a good client is still served.
    let mut sw = RemoteSwitch::connect("sw1", &address, &orchestrator(dir.path())).unwrap();
    assert_eq!(sw.read_state().unwrap(), start_state());
}

#[test]
fn two_phase_through_the_remote_driver_abort_commit_timer_and_busy() {
    let dir = pki_dir();
    let address = spawn_agent(dir.path(), "sw1", Duration::from_secs(2)).to_string();
    let files = orchestrator(dir.path());
    let mut a = RemoteSwitch::connect("sw1", &address, &files).unwrap();
    let mut b = RemoteSwitch::connect("sw1", &address, &files).unwrap();
    let before = a.read_state().unwrap();

    // Prepare applies at once; abort puts it back.
    a.prepare("t1", &[vlan(Op::Add, 10), vlan(Op::Remove, 5)]).unwrap();
    assert_ne!(a.read_state().unwrap(), before);
    let open = a.health().unwrap().open.unwrap();
    assert_eq!((open.transaction.as_str(), open.changes, open.client.as_str()), ("t1", 2, "switchboard orchestrator"));
    // Another transaction meanwhile is refused, naming the holder.
    let busy = b.prepare("t2", &[vlan(Op::Add, 11)]).unwrap_err().to_string();
    assert!(busy.contains("transaction t1 is open, held by switchboard on"), "{busy}");
    a.abort("t1").unwrap();
    assert_eq!(a.read_state().unwrap(), before);
    assert!(a.health().unwrap().open.is_none());

    // Commit keeps it.
    a.prepare("t3", &[vlan(Op::Add, 10)]).unwrap();
    a.commit("t3").unwrap();
    let committed = a.read_state().unwrap();
    assert!(committed.contains(&Item::Vlan { port: "p1".into(), vid: 10, pvid: false, untagged: false }));

    // No commit in time: the agent rolls back by itself.
    b.prepare("t4", &[vlan(Op::Remove, 10)]).unwrap();
    assert_ne!(b.read_state().unwrap(), committed);
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(b.read_state().unwrap(), committed);
    let late = b.commit("t4").unwrap_err().to_string();
    assert!(late.contains("rolled back by its confirm timer"), "{late}");

    // A change the switch refuses: the agent puts everything back and answers which one.
    a.inject_fault(1);
    let err = a.prepare("t5", &[vlan(Op::Add, 20), vlan(Op::Add, 21)]).unwrap_err();
    assert!(err.message.contains("change 1"), "{err}");
    assert_eq!(a.read_state().unwrap(), committed);
    // apply alone is a transaction of its own.
    a.apply(&[vlan(Op::Remove, 10)]).unwrap();
    assert_eq!(a.read_state().unwrap(), before);
    assert!(a.health().unwrap().open.is_none());
}

#[test]
fn a_silent_agent_costs_its_deadline_never_a_hang() {
    let dir = pki_dir();
    // Accepts connections and never answers a byte.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let deadlines =
        Deadlines { connect: Duration::from_secs(1), read: Duration::from_secs(1), write: Duration::from_secs(1) };
    let start = Instant::now();
    let err = RemoteSwitch::connect_with("sw1", &address, &orchestrator(dir.path()), deadlines).err().unwrap();
    assert!(start.elapsed() < Duration::from_secs(4), "took {:?}", start.elapsed());
    assert!(err.to_string().contains(&format!("cannot reach the agent at {address}")), "{err}");
    // Nothing listens: refused at once, with the cause.
    drop(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let err = RemoteSwitch::connect_with("sw1", "127.0.0.1:9", &orchestrator(dir.path()), deadlines).err().unwrap();
    assert!(err.to_string().contains("cannot reach the agent at 127.0.0.1:9"), "{err}");
}

/// Sends bytes as they are, for requests no well-behaved client makes.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}

#[test]
fn malformed_and_oversized_requests_get_errors_and_the_agent_keeps_serving() {
    let dir = pki_dir();
    let address = spawn_agent(dir.path(), "sw1", Duration::from_secs(60)).to_string();
    let files = orchestrator(dir.path());
    let channel = remote::channel(&address, "sw1", &files, Duration::from_secs(5)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut client = v1::agent_client::AgentClient::new(channel.clone()).max_encoding_message_size(64 << 20);
        let prepare = |changes: Vec<v1::Change>| v1::PrepareRequest {
            transaction: "t1".into(),
            holder: "test".into(),
            changes,
            ..Default::default()
        };
        // Typed but wrong: each is refused naming what is wrong.
        let bad_vid = v1::Change {
            op: v1::Op::Add as i32,
            item: Some(v1::Item {
                kind: Some(v1::item::Kind::Vlan(v1::Vlan { port: "p1".into(), vid: 0, pvid: false, untagged: false })),
            }),
        };
        let err = client.prepare(prepare(vec![bad_vid])).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("change 0: VLAN ID 0 is outside 1-4094"), "{err:?}");
        let err = client.prepare(prepare(vec![v1::Change { op: 7, item: None }])).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let err = client
            .prepare(v1::PrepareRequest { transaction: String::new(), holder: "x".into(), ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        // Bytes that are no protobuf at all, and a length that runs past the end.
        for garbage in [vec![0xff; 64], vec![0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]] {
            let mut raw = tonic::client::Grpc::new(channel.clone());
            raw.ready().await.unwrap();
            let path = tonic::codegen::http::uri::PathAndQuery::from_static("/switchboard.agent.v1.Agent/Prepare");
            let err = raw.unary(tonic::Request::new(garbage), path, RawCodec).await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
        }
        // Over the agent's 16 MiB limit.
        let huge = v1::Change {
            op: v1::Op::Add as i32,
            item: Some(v1::Item {
                kind: Some(v1::item::Kind::Port(v1::Port { port: "x".repeat(17 << 20), mcast_flood: true })),
            }),
        };
        let err = client.prepare(prepare(vec![huge])).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::OutOfRange, "{err:?}");
        assert!(err.message().contains("too large"), "{err:?}");
        // Still serving, and nothing changed.
        let state = client.read_state(v1::ReadStateRequest {}).await.unwrap().into_inner();
        assert_eq!(state.items.len(), start_state().len());
        assert!(client.health(v1::HealthRequest {}).await.unwrap().into_inner().open.is_none());
    });
}

#[test]
fn remote_certificates_come_from_the_switch_or_the_topology_defaults() {
    use switchboard::topology::{DriverConfig, TlsPaths};
    let text = "name: x\nremote: {ca: d/ca.pem, cert: d/orchestrator.pem, key: d/orchestrator-key.pem}\nswitches:\n  \
        a: {driver: remote, address: 10.0.0.1:4443}\n  \
        b: {driver: remote, address: 10.0.0.2:4443, cert: e/o.pem, key: e/o-key.pem}\n\
        links: [{endpoints: [a:1, b:1]}]\n";
    let topo = switchboard::topology::parse(text).unwrap();
    let tls = |k: usize| match &topo.switches[k].driver {
        DriverConfig::Remote { tls, .. } => tls.clone(),
        other => panic!("{other:?}"),
    };
    let paths = |ca: &str, cert: &str, key: &str| TlsPaths { ca: ca.into(), cert: cert.into(), key: key.into() };
    assert_eq!(tls(0), Some(paths("d/ca.pem", "d/orchestrator.pem", "d/orchestrator-key.pem")));
    assert_eq!(tls(1), Some(paths("d/ca.pem", "e/o.pem", "e/o-key.pem")));
    // Certificates on a switch of another driver are refused.
    let wrong = "name: x\nswitches:\n  a: {driver: linux, bridge: br0, ca: c.pem}\n";
    let diags = switchboard::topology::parse(wrong).unwrap_err();
    assert!(diags.iter().any(|d| d.message.contains("apply to the remote driver only")), "{diags:?}");
    // Without certificates, opening the switch says what to give.
    let bare = "name: x\nswitches:\n  a: {driver: remote, address: 127.0.0.1:9}\n";
    let topo = switchboard::topology::parse(bare).unwrap();
    let err = switchboard::engine::connect(&topo).err().unwrap().to_string();
    assert!(err.contains("needs certificates") && err.contains("switchboard pki"), "{err}");
}

/// `remote: {timeouts: ...}` sets how long the orchestrator waits for its agents: a silent
/// agent (a listener that never answers) costs the connect timeout given, and bad values
/// are diagnostics with their position.
#[test]
fn the_topology_sets_how_long_to_wait_for_an_agent() {
    use switchboard::topology::{DriverConfig, Timeouts};
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = pki_dir();
    let d = dir.path().display();
    let text = format!(
        "name: x\nremote: {{ca: {d}/ca.pem, cert: {d}/orchestrator.pem, key: {d}/orchestrator-key.pem, \
         timeouts: {{connect: 1, write: 7}}}}\nswitches:\n  sw1: {{driver: remote, address: {}}}\n",
        silent.local_addr().unwrap()
    );
    let topo = switchboard::topology::parse(&text).unwrap();
    let DriverConfig::Remote { timeouts, .. } = &topo.switches[0].driver else { panic!() };
    assert_eq!(*timeouts, Timeouts { connect: 1, read: 30, write: 7 });
    let err = switchboard::engine::connect(&topo).err().unwrap().to_string();
    assert!(err.starts_with("switch `sw1`") && err.contains("within the deadline of 1000 ms"), "{err}");
    // Written back (as `lab up --agents` writes its topology), they stay.
    let back = switchboard::topology::parse(&switchboard::topology::render::yaml(&topo).unwrap()).unwrap();
    assert_eq!(back.switches[0].driver, topo.switches[0].driver);
    let bad = "name: x\nremote:\n  timeouts: {connect: 0, read: soon, wait: 3}\nswitches:\n  a: {driver: remote, address: 10.0.0.1:4443}\n";
    let diags = switchboard::topology::parse(bad).unwrap_err();
    let said: Vec<String> = diags.iter().map(|d| format!("{}:{} {}", d.pos.line, d.pos.col, d.message)).collect();
    assert!(
        said.iter().any(|m| m.starts_with("3:23 ")
            && m.contains("`remote.timeouts.connect` (whole seconds) 0 is out of range 1-3600")),
        "{said:?}"
    );
    assert!(
        said.iter().any(|m| m.starts_with("3:32 ")
            && m.contains("`remote.timeouts.read` (whole seconds) must be a whole number from 1 to 3600")),
        "{said:?}"
    );
    assert!(said.iter().any(|m| m.contains("unknown key `wait` in `remote.timeouts`")), "{said:?}");
}

/// Issue 17, item 4: `remote: {netns: NS}` names the management namespace connections are
/// made from (`lab up --agents` writes it); a bad name is a diagnostic, a missing namespace a
/// clear error naming it, and `--pki` alone is refused.
#[test]
fn agents_reached_from_a_management_namespace() {
    use switchboard::topology::DriverConfig;
    let text = "name: x\nremote: {netns: x-mgmt}\nswitches:\n  a: {driver: remote, address: 10.255.0.2:4443}\n";
    let topo = switchboard::topology::parse(text).unwrap();
    assert!(matches!(&topo.switches[0].driver, DriverConfig::Remote { mgmt_netns: Some(ns), .. } if ns == "x-mgmt"));
    let bad = "name: x\nremote: {netns: a/b}\nswitches:\n  a: {driver: remote, address: 10.255.0.2:4443}\n";
    let diags = switchboard::topology::parse(bad).unwrap_err();
    assert!(
        diags.iter().any(|d| d.message.contains("netns of `remote`: namespace name \"a/b\" contains '/'")),
        "{diags:?}"
    );
    let dir = pki_dir();
    let quick =
        Deadlines { connect: Duration::from_secs(2), read: Duration::from_secs(2), write: Duration::from_secs(2) };
    let files = orchestrator(dir.path());
    let err =
        RemoteSwitch::connect_from("sw1", "127.0.0.1:9", &files, quick, Some("switchboard-no-such-ns")).err().unwrap();
    assert!(err.to_string().contains("network namespace `switchboard-no-such-ns` does not exist"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["lab", "up", "topologies/p2p-small.yaml", "--pki", "/tmp/nowhere"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--agents"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Connections to an agent are kept across connects (issue 17: a TLS handshake per agent per
/// apply was most of the first frame): a second driver for the same agent makes no new
/// connection; a link cut under a kept connection costs one new connection once it is
/// mended; a connect while it is down is taken on a check of moments ago, its first call
/// failing within its deadline, or, the check older, fails as before within its deadlines;
/// new certificates on disk make a new connection.
#[test]
fn connections_to_an_agent_are_kept_and_made_again_when_they_break() {
    let dir = pki_dir();
    let link = crate::in_doubt::Link::to(spawn_agent(dir.path(), "sw1", Duration::from_secs(5)));
    let address = link.address.to_string();
    let files = orchestrator(dir.path());
    let mut a = RemoteSwitch::connect("sw1", &address, &files).unwrap();
    let before = a.read_state().unwrap();
    let mut b = RemoteSwitch::connect("sw1", &address, &files).unwrap();
    assert_eq!(b.read_state().unwrap(), before);
    assert_eq!((link.made(), remote::pool::kept()), (1, 1), "the second connect used the kept connection");

    link.cut();
    let deadlines =
        Deadlines { connect: Duration::from_secs(1), read: Duration::from_secs(1), write: Duration::from_secs(1) };
    // Checked moments ago: taken on that check's word; its first call finds the cut within
    // the check's own deadline (the connect's 1 s, not the read's 10 s) and drops the
    // connection from the pool.
    let slow_reads = Deadlines { read: Duration::from_secs(10), ..deadlines };
    let start = Instant::now();
    let mut d = RemoteSwitch::connect_with("sw1", &address, &files, slow_reads).unwrap();
    let err = d.read_state().unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}: {err}", start.elapsed());
    assert_eq!(remote::pool::kept(), 0, "the connection it found cut was dropped");
    // Nothing kept now: a connect makes a new connection, and fails within its deadlines.
    let start = Instant::now();
    let err = RemoteSwitch::connect_with("sw1", &address, &files, deadlines).err().unwrap();
    assert!(err.to_string().contains(&format!("cannot reach the agent at {address}")), "{err}");
    assert!(start.elapsed() < Duration::from_secs(4), "took {:?}", start.elapsed());
    link.mend();
    let mut c = RemoteSwitch::connect("sw1", &address, &files).unwrap();
    assert_eq!(c.read_state().unwrap(), before);
    assert_eq!(link.made(), 2, "one new connection after the cut");
    RemoteSwitch::connect("sw1", &address, &files).unwrap();
    assert_eq!(link.made(), 2);

    // The orchestrator's certificate issued again, its files' times set back to the old
    // ones (as `cp -p` or a restore would): a connection with it, in the old one's place.
    let names = ["orchestrator.pem", "orchestrator-key.pem"];
    let times: Vec<_> =
        names.iter().map(|f| std::fs::metadata(dir.path().join(f)).unwrap().modified().unwrap()).collect();
    for f in names {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    pki::issue(dir.path(), &Subject::Orchestrator, Validity::days(1)).unwrap();
    for (f, t) in names.iter().zip(times) {
        std::fs::File::options().write(true).open(dir.path().join(f)).unwrap().set_modified(t).unwrap();
    }
    RemoteSwitch::connect("sw1", &address, &files).unwrap();
    assert_eq!(link.made(), 3, "new certificates, a new connection");
    assert_eq!(remote::pool::kept(), 1, "one connection kept per agent");
    remote::pool::forget_all();
    RemoteSwitch::connect("sw1", &address, &files).unwrap();
    assert_eq!(link.made(), 4, "forgotten: connected again");
}

/// An agent of an older release (one that lists fewer features) is sent nothing it does not
/// know: a change set with a PCP filter and a policer that passes is refused before any
/// prepare, naming what is missing and the agent's release, and the switch is unchanged;
/// one it knows all of goes through.
#[test]
fn an_agent_is_sent_only_changes_it_knows() {
    let dir = pki_dir();
    let known = ["provider_bridge", "police"];
    let address = spawn_agent_advertising(dir.path(), "sw1", Duration::from_secs(5), Some(&known)).to_string();
    let files = orchestrator(dir.path());
    let mut sw = RemoteSwitch::connect("sw1", &address, &files).unwrap();
    assert_eq!(sw.health_at_connect().unwrap().features, known);
    let before = sw.read_state().unwrap();
    let police = |conform| Item::Police { port: "p1".into(), rate_bps: 1_000_000, burst_bytes: 12_176, conform };
    let changes = [
        vlan(Op::Add, 300),
        Change { op: Op::Add, item: Item::Pcp { port: "p1".into(), vid: 300, pcp: 5 } },
        Change { op: Op::Add, item: police(switchboard::orchestrator::Conform::Pass) },
    ];
    let err = sw.apply(&changes).unwrap_err();
    assert_eq!(err.op, "check the agent's features", "{err}");
    let text = err.to_string();
    assert!(text.contains("does not know pcp, police.conform") && text.contains("upgrade it"), "{text}");
    assert!(text.contains(&format!("switchboard {}", env!("CARGO_PKG_VERSION"))), "{text}");
    assert_eq!(sw.read_state().unwrap(), before, "nothing was prepared");
    sw.apply(&[vlan(Op::Add, 300), Change { op: Op::Add, item: police(switchboard::orchestrator::Conform::Continue) }])
        .unwrap();
    assert!(sw.read_state().unwrap().contains(&vlan(Op::Add, 300).item));

    // An agent that lists nothing is of the release before features were listed: it knew
    // every item of issue 18 but a policer's conform action.
    pki::issue(dir.path(), &Subject::Agent("sw2".into()), Validity::days(1)).unwrap();
    let address = spawn_agent_advertising(dir.path(), "sw2", Duration::from_secs(5), Some(&[])).to_string();
    let mut sw = RemoteSwitch::connect("sw2", &address, &files).unwrap();
    assert!(sw.health_at_connect().unwrap().features.is_empty());
    let err = sw.apply(&changes).unwrap_err();
    assert!(err.to_string().contains("does not know police.conform that"), "{err}");
    sw.apply(&changes[..2]).unwrap();
}

/// A client of sw1's agent at `address` on a connection of its own, outside the pool, and a
/// runtime to call it on.
fn client_behind(
    dir: &Path,
    address: &str,
) -> (v1::agent_client::AgentClient<tonic::transport::Channel>, tokio::runtime::Runtime) {
    let channel = remote::channel(address, "sw1", &orchestrator(dir), Duration::from_secs(5)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    (v1::agent_client::AgentClient::new(channel), rt)
}

/// What sw1's agent at `address` holds, read behind the pool's back.
fn read_behind(dir: &Path, address: &str) -> BTreeSet<Item> {
    let (mut client, rt) = client_behind(dir, address);
    let items = rt.block_on(client.read_state(v1::ReadStateRequest {})).unwrap().into_inner().items;
    items.iter().map(|i| remote::wire::item_from_wire(i).unwrap()).collect()
}

/// Makes `change` on sw1's agent at `address` behind the pool's back: another
/// orchestrator's transaction, on a connection of its own.
fn change_behind(dir: &Path, address: &str, change: Change) {
    let (mut client, rt) = client_behind(dir, address);
    rt.block_on(async {
        let (changes, transaction) = (vec![remote::wire::change_to_wire(&change)], remote::transaction_id());
        let holder = "other".to_string();
        let prepare = v1::PrepareRequest { transaction: transaction.clone(), holder, changes, ..Default::default() };
        let answer = client.prepare(prepare).await.unwrap().into_inner();
        assert!(answer.failure.is_none() && answer.differs.is_none(), "{answer:?}");
        client.commit(v1::CommitRequest { transaction }).await.unwrap();
    });
}

/// Issue 17: a transaction on a switch this process read moments ago plans from that state
/// and prepares at once, without reading first (one round trip fewer before the change
/// lands); the agent checks the state's digest. A switch changed behind the orchestrator's
/// back (another orchestrator's transaction) applies nothing, answers with what it holds and
/// is planned again from that: the transaction goes through, its report says what the switch
/// really held, and a transaction that fails puts back that real state, not the remembered
/// one. An agent that does not list the check is read first every time.
#[test]
fn a_transaction_plans_from_the_state_last_read_and_the_agent_checks_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use switchboard::engine::{self, Event};
    use switchboard::southbound::observed::{Call, Observed};

    let dir = pki_dir();
    let address = spawn_agent(dir.path(), "sw1", Duration::from_secs(60)).to_string();
    pki::issue(dir.path(), &Subject::Agent("sw2".into()), Validity::days(1)).unwrap();
    let old: Vec<&str> = remote::wire::FEATURES.iter().copied().filter(|f| *f != remote::wire::EXPECT_STATE).collect();
    let old_agent = spawn_agent_advertising(dir.path(), "sw2", Duration::from_secs(60), Some(&old)).to_string();
    let d = dir.path().display();
    let topo = switchboard::topology::parse(&format!(
        "name: known\nvlans: {{pool: 300-399}}\n\
         remote: {{ca: {d}/ca.pem, cert: {d}/orchestrator.pem, key: {d}/orchestrator-key.pem}}\n\
         switches:\n  sw1: {{driver: remote, address: '{address}', bridge: br0}}\n\
         \x20 sw2: {{driver: remote, address: '{old_agent}', bridge: br0}}\n\
         links: [{{endpoints: [sw1:t12, sw2:t21]}}]\n\
         interfaces:\n  a: {{organization: acme, switch: sw1, port: p1, mode: port, capacity: 1G, macs: ['02:5b:00:00:01:01']}}\n\
         \x20 b: {{organization: acme, switch: sw2, port: p1, mode: port, capacity: 1G, macs: ['02:5b:00:00:01:02']}}\n"
    ))
    .unwrap();
    let add = |vids: &[u16]| vids.iter().map(|v| vlan(Op::Add, *v).item).collect::<BTreeSet<Item>>();
    // One transaction on switch `s` adding VLANs `vids`, as a worker runs an order (a
    // connect each), the change at `fault` sent malformed: its reads, the switches planned
    // again, and the result.
    let run = |s: usize, vids: &[u16], fault: Option<usize>| {
        let reads = Arc::new(AtomicUsize::new(0));
        let mut inner = engine::connect_switch(&topo.switches[s]).unwrap();
        if let Some(at) = fault {
            inner.inject_fault(at);
        }
        let counted = reads.clone();
        let observed = Observed::new(inner, move |call, _| {
            if call == Call::Read {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        let mut drivers: Vec<Box<dyn Driver>> = vec![Box::new(observed)];
        let mut replanned = Vec::new();
        let result = engine::apply_delta(&topo, &[s], &mut drivers, &[add(vids)], &[BTreeSet::new()], &mut |e| {
            if let Event::Replanned { switch, changes } = e {
                replanned.push((switch.clone(), *changes));
            }
        });
        (reads.load(Ordering::SeqCst), replanned, result)
    };
    let holds = |state: &BTreeSet<Item>, vid: u16| state.contains(&vlan(Op::Add, vid).item);

    // Nothing known yet: read first, then read back.
    let (reads, replanned, result) = run(0, &[300], None);
    result.unwrap();
    assert_eq!((reads, replanned.len()), (2, 0));
    // Known from that read-back: only the read-back.
    let (reads, replanned, result) = run(0, &[301], None);
    let report = result.unwrap();
    assert_eq!((reads, replanned.len(), report.changes), (1, 0, 1));
    assert!(holds(&report.before[0], 300) && !holds(&report.before[0], 301));

    // Changed behind the pool's back: planned again from what the agent answered.
    change_behind(dir.path(), &address, vlan(Op::Add, 302));
    let (reads, replanned, result) = run(0, &[303], None);
    let report = result.unwrap();
    assert_eq!((reads, replanned), (1, vec![("sw1".to_string(), 1)]));
    assert!(holds(&report.before[0], 302), "the report says what the switch really held: {:?}", report.before[0]);
    // Planned again to nothing: the switch already held what was asked.
    change_behind(dir.path(), &address, vlan(Op::Add, 304));
    let (_, replanned, result) = run(0, &[304], None);
    let report = result.unwrap();
    assert_eq!(replanned, vec![("sw1".to_string(), 0)]);
    assert_eq!((report.changes, report.switches), (0, 0), "a switch planned again to nothing took nothing");
    // Nothing to change by what is known: read for real (a switch changed since must not
    // be left out), and known again after.
    let (reads, replanned, result) = run(0, &[300], None);
    assert_eq!((reads, replanned.len(), result.unwrap().changes), (1, 0, 0));

    // Changed behind, and the prepare planned again fails: put back to what the switch
    // really held (VLAN 300 taken away behind stays away).
    change_behind(dir.path(), &address, vlan(Op::Remove, 300));
    let held = read_behind(dir.path(), &address);
    // By what is known: one change (308); by what is held: two (300, 308), the second sent
    // malformed.
    let (_, replanned, result) = run(0, &[300, 308], Some(1));
    let err = result.unwrap_err();
    assert_eq!(replanned, vec![("sw1".to_string(), 2)], "{err}");
    assert!(err.rollback_errors.is_empty(), "{err}");
    assert_eq!(read_behind(dir.path(), &address), held, "back to what it really held, without VLAN 300");
    // Known again (the rollback's read), changed behind, and the first prepare fails before
    // the agent checks anything: only aborted, so what was made behind (VLAN 307) stays.
    change_behind(dir.path(), &address, vlan(Op::Add, 307));
    let held = read_behind(dir.path(), &address);
    let (_, replanned, result) = run(0, &[309], Some(0));
    let err = result.unwrap_err();
    assert_eq!(replanned.len(), 0, "{err}");
    assert!(err.rollback_errors.is_empty(), "{err}");
    assert!(holds(&held, 307));
    assert_eq!(read_behind(dir.path(), &address), held, "VLAN 307, made behind, is still there");

    // An agent that does not list the check: read first every time.
    for vid in 300..305 {
        let (reads, replanned, result) = run(1, &[vid], None);
        result.unwrap();
        assert_eq!((reads, replanned.len()), (2, 0));
    }
}

/// A transaction over several agents works them at once on threads the engine keeps: its
/// phases (read, prepare, read-back, check, commit) and the next transaction take the same
/// threads instead of starting one per switch and phase (under the lab's UML kernel a start
/// costs 2-4 ms; `engine::kept`).
#[test]
fn transactions_over_agents_run_on_kept_threads() {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    use switchboard::engine;
    use switchboard::southbound::observed::Observed;

    let dir = pki_dir();
    let names = ["sw1", "sw2", "sw3"];
    for name in &names[1..] {
        pki::issue(dir.path(), &Subject::Agent((*name).into()), Validity::days(1)).unwrap();
    }
    let addresses: Vec<String> =
        names.iter().map(|n| spawn_agent(dir.path(), n, Duration::from_secs(60)).to_string()).collect();
    let d = dir.path().display();
    let topo = switchboard::topology::parse(&format!(
        "name: kept\nvlans: {{pool: 300-399}}\n\
         remote: {{ca: {d}/ca.pem, cert: {d}/orchestrator.pem, key: {d}/orchestrator-key.pem}}\n\
         switches:\n  sw1: {{driver: remote, address: '{}', bridge: br0}}\n\
         \x20 sw2: {{driver: remote, address: '{}', bridge: br0}}\n\
         \x20 sw3: {{driver: remote, address: '{}', bridge: br0}}\n\
         links: [{{endpoints: [sw1:t12, sw2:t21]}}, {{endpoints: [sw2:t23, sw3:t32]}}]\n",
        addresses[0], addresses[1], addresses[2]
    ))
    .unwrap();
    // Every driver call's thread, as the calls run.
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let mut drivers: Vec<Box<dyn Driver>> = engine::connect(&topo)
        .unwrap()
        .into_iter()
        .map(|inner| {
            let threads = threads.clone();
            Box::new(Observed::new(inner, move |_, _| {
                threads.lock().unwrap().insert(std::thread::current().id());
            })) as Box<dyn Driver>
        })
        .collect();
    for vid in 300..305 {
        let add: Vec<BTreeSet<Item>> = (0..3).map(|_| [vlan(Op::Add, vid).item].into()).collect();
        let empty = vec![BTreeSet::new(); 3];
        let report = engine::apply_delta(&topo, &[0, 1, 2], &mut drivers, &add, &empty, &mut |_| {}).unwrap();
        assert_eq!((report.switches, report.changes), (3, 3));
    }
    // Five transactions of five phases over three switches at once: the calls ran on no
    // more threads than switches (threads started per phase would be up to 75), none of
    // them the caller's.
    let threads = threads.lock().unwrap();
    assert!((1..=3).contains(&threads.len()), "the calls ran on {} threads", threads.len());
    assert!(!threads.contains(&std::thread::current().id()));
}
