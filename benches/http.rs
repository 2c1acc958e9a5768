//! HTTP load benchmark on loopback: the real server (router, sessions, SQLite, worker) and
//! an open-loop load generator that sends requests on a fixed schedule, so a slow answer
//! cannot slow the load down and hide itself (latency counts from the scheduled send).
//!
//! Run: `scripts/bench-http` (or `cargo bench --bench http`). Settings (environment):
//! BENCH_RATE (requests per second, 1000), BENCH_SECS (seconds per phase, 10),
//! BENCH_ACCEPTS (acceptances prepared, 3000), BENCH_BATCH (orders per worker batch, the
//! service's default), BENCH_NO_WORKER (set: no orders run, the acceptance's own floor),
//! BENCH_KEEP (set: the database is kept, for a look inside, and where is printed),
//! BENCH_TIMELINE (set: the slowest answer of each 100 ms is printed, in the order sent),
//! BENCH_WORKER_SHARED (set: the worker runs on the requests' threads, at their priority,
//! instead of beside them as `serve` runs it: what that choice buys).
//!
//! Phases, at the same rate: `GET /healthz` (the baseline: the server's floor on this
//! machine now), `GET /api/v1/channels` (a subscriber with 20 channels), `POST
//! /api/v1/invitations/{token}/accept` (each a different invitation; orders run meanwhile).
//! Per-address rate limits are lifted: they guard against one client, this is many.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::model::ChannelKind;
use switchboard::orchestrator::policy::Account;
use switchboard::portal::auth::RateLimiter;
use switchboard::portal::{AppState, router};
use switchboard::service::{Actor, Config, InviteeSpec, NewChannel, NewOffer, Service, UserRole, Worker};
use switchboard::store::{Db, sqlite_url};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Phase {
    name: String,
    sent: usize,
    ok: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Sends `requests[i]` at `start + i / rate`, all concurrently as scheduled.
async fn open_loop(name: &str, rate: u64, requests: Vec<reqwest::RequestBuilder>) -> Phase {
    let n = requests.len();
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(n);
    for (i, req) in requests.into_iter().enumerate() {
        let at = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
            (ok, at.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    let mut ok = 0;
    for t in tasks {
        let (good, lat) = t.await.unwrap();
        ok += usize::from(good);
        latencies.push(lat);
    }
    let elapsed = start.elapsed();
    // BENCH_TIMELINE: the slowest answer of each 100 ms, in the order sent (where a tail
    // comes from: one stall, or all along).
    if std::env::var("BENCH_TIMELINE").is_ok() {
        let per = (rate as usize / 10).max(1);
        let worst: Vec<String> = latencies
            .chunks(per)
            .map(|c| format!("{:.0}", c.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1000.0)))
            .collect();
        eprintln!("{name}: slowest per 100 ms (ms): {}", worst.join(" "));
    }
    latencies.sort();
    Phase { name: name.to_string(), sent: n, ok, latencies, elapsed }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rate = env_num("BENCH_RATE", 1000);
    let secs = env_num("BENCH_SECS", 10);
    let accepts = env_num("BENCH_ACCEPTS", 3000) as usize;
    switchboard::tls::install_crypto();

    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let config = Config {
        base_url: base.clone(),
        dry_run: true,
        new_account: Account { max_channels: 1_000_000, max_bandwidth_mbps: 100_000, ..Config::default().new_account },
        batch_orders: env_num("BENCH_BATCH", Config::default().batch_orders as u64) as usize,
        ..Config::default()
    };
    let svc = Service::new(Db::connect_with(&sqlite_url(dir.path()).unwrap(), 16).await.unwrap(), config);
    let system = Actor::system("bench");
    let (topo, model) = support::seed(&svc, 200, 800, 3).await;

    // Tagged interfaces carry many channels: the creators' and the acceptors'.
    let tagged: Vec<_> =
        topo.interfaces.iter().filter(|i| i.mode == switchboard::model::InterfaceMode::Tagged).collect();
    let mut orgs: Vec<String> = tagged.iter().map(|i| i.organization.clone()).collect();
    orgs.sort();
    orgs.dedup();
    assert!(orgs.len() >= 3, "the generated tree needs tagged interfaces of three organizations");
    let mut admins = std::collections::BTreeMap::new();
    for org in &orgs {
        let org_id = svc.organization_id(org).await.unwrap();
        let uid = svc
            .create_user(
                &system,
                &org_id,
                &format!("admin@{org}.example"),
                "Admin",
                UserRole::Admin,
                "bench-password-1",
            )
            .await
            .unwrap();
        admins.insert(org.clone(), svc.actor(&uid, "bench").await.unwrap());
    }
    let creator_org = &orgs[0];
    let creator = admins[creator_org].clone();
    let creator_ifaces: Vec<&str> =
        tagged.iter().filter(|i| &i.organization == creator_org).map(|i| i.name.as_str()).collect();
    // The listing subscriber (20 channels of its own) takes no part in the acceptances.
    let lister_org = &orgs[1];
    let joiners: Vec<(&Actor, &str)> = tagged
        .iter()
        .filter(|i| &i.organization != creator_org && &i.organization != lister_org)
        .map(|i| (&admins[&i.organization], i.name.as_str()))
        .collect();

    let new = |name: String, iface: &str| NewChannel {
        name: name.parse().unwrap(),
        kind: ChannelKind::P2p,
        bandwidth_mbps: 1,
        class: "standard".parse().unwrap(),
        usage_model_id: model.parse().unwrap(),
        interface: iface.parse().unwrap(),
        role: None,
        customer_vlan: None,
        member_bandwidth_mbps: None,
    };
    // The listing subscriber: 20 channels.
    let lister = admins[lister_org].clone();
    let lister_iface = tagged.iter().find(|i| &i.organization == lister_org).unwrap().name.clone();
    for k in 0..20 {
        svc.create_channel(&lister, &new(format!("listed-{k}"), &lister_iface)).await.unwrap();
    }
    // The invitations to accept, each by one joiner with one of its interfaces.
    eprintln!("preparing {accepts} invitations ...");
    let mut to_accept = Vec::new();
    for k in 0..accepts {
        let ch = svc
            .create_channel(&creator, &new(format!("acc-{k}"), creator_ifaces[k % creator_ifaces.len()]))
            .await
            .unwrap();
        let (actor, iface) = joiners[k % joiners.len()];
        let offer = svc
            .offer(
                &creator,
                &ch,
                &NewOffer {
                    invitees: vec![InviteeSpec { email: Some(actor.email.parse().unwrap()), ..Default::default() }],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        to_accept.push((actor.clone(), offer.invitations[0].token.clone(), iface.to_string()));
    }

    // The server, with per-address limits lifted, and its worker.
    let mut state = AppState::new(svc.clone());
    state.login_limit = Arc::new(RateLimiter::new(u32::MAX, Duration::from_nanos(1)));
    state.token_limit = Arc::new(RateLimiter::new(u32::MAX, Duration::from_nanos(1)));
    let app = router(state);
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap()
    });
    let (_stop, rx) = tokio::sync::watch::channel(false);
    // BENCH_NO_WORKER: no orders run, for the floor of the acceptance alone.
    if std::env::var("BENCH_NO_WORKER").is_err() {
        let worker = Worker { service: svc.clone(), sweep_every: Duration::from_secs(3600) };
        if std::env::var("BENCH_WORKER_SHARED").is_ok() {
            tokio::spawn(async move { worker.run(rx).await });
        } else {
            worker.spawn_beside_requests(rx).unwrap();
        }
    }

    let http = reqwest::Client::builder().pool_max_idle_per_host(1024).build().unwrap();
    let session = |actor: &Actor| {
        let svc = svc.clone();
        let actor = actor.clone();
        async move { svc.session_for(actor, 3_600_000).await.unwrap() }
    };
    let mut sessions = std::collections::BTreeMap::new();
    for (org, a) in &admins {
        sessions.insert(a.user_id.clone(), session(a).await);
        let _ = org;
    }
    let n = (rate * secs) as usize;

    // Warm-up (connections, caches), not measured.
    let warm: Vec<_> = (0..200).map(|_| http.get(format!("{base}/healthz"))).collect();
    open_loop("warm-up", rate, warm).await;

    let health =
        open_loop("GET /healthz (baseline)", rate, (0..n).map(|_| http.get(format!("{base}/healthz"))).collect()).await;
    let ls = &sessions[&lister.user_id];
    let list = open_loop(
        "GET /api/v1/channels (20 channels)",
        rate,
        (0..n)
            .map(|_| http.get(format!("{base}/api/v1/channels")).header("cookie", format!("sb_session={}", ls.token)))
            .collect(),
    )
    .await;
    let accept_reqs: Vec<_> = to_accept
        .iter()
        .take(n)
        .map(|(actor, token, iface)| {
            let s = &sessions[&actor.user_id];
            http.post(format!("{base}/api/v1/invitations/{token}/accept"))
                .header("cookie", format!("sb_session={}", s.token))
                .header("x-csrf-token", s.csrf.clone())
                .json(&serde_json::json!({"interface": iface}))
        })
        .collect();
    // How far the orders the acceptances made got meanwhile (the worker yields to requests).
    let count =
        async |sql: &'static str| -> i64 { switchboard::store::query_scalar(sql).fetch_one(&svc.db).await.unwrap() };
    let orders_done = async || count("SELECT count(*) FROM orders WHERE status = 'done'").await;
    let (done_before, all_before) = (orders_done().await, count("SELECT count(*) FROM orders").await);
    let accept = open_loop("POST /api/v1/invitations/{token}/accept", rate, accept_reqs).await;
    let (done_at_end, catch_up) = (orders_done().await - done_before, Instant::now());
    let total = count("SELECT count(*) FROM orders").await - all_before;
    while orders_done().await - done_before < total && catch_up.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caught_up = catch_up.elapsed();

    println!("\nHTTP on loopback, SQLite, open loop at {rate} requests/s (latency from the scheduled send)\n");
    println!("| requests | sent | ok | achieved req/s | p50 ms | p99 ms | max ms | p99 / baseline p99 |");
    println!("|---|---|---|---|---|---|---|---|");
    let base_p99 = pct(&health.latencies, 0.99);
    for p in [&health, &list, &accept] {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} |",
            p.name,
            p.sent,
            p.ok,
            p.sent as f64 / p.elapsed.as_secs_f64(),
            pct(&p.latencies, 0.5),
            pct(&p.latencies, 0.99),
            p.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            pct(&p.latencies, 0.99) / base_p99.max(1e-9),
        );
    }
    println!(
        "\nOrders: {done_at_end} of {total} done when the last acceptance was answered; all done {:.1} s later.",
        caught_up.as_secs_f64()
    );
    // BENCH_KEEP: keep the database for inspection (its path is printed), with a copy of
    // the WAL as it is now (`wal.kept`: the pages written since it last started over).
    if std::env::var("BENCH_KEEP").is_ok() {
        let _ = std::fs::copy(dir.path().join("switchboard.db-wal"), dir.path().join("wal.kept"));
        eprintln!("database kept in {}", dir.keep().display());
    }
}
