//! Orchestrator benchmark: channels created, offered, accepted and provisioned through the
//! dry-run driver, end to end through the service layer on a real database.
//!
//! Run: `scripts/bench-orchestrator` (or `cargo bench --bench orchestrator`).
//! Settings (environment): BENCH_CHANNELS (10000), BENCH_DB (`sqlite,postgres`),
//! BENCH_CLIENTS (8 concurrent subscribers), BENCH_WORKERS (2 order workers per instance),
//! BENCH_INSTANCES (1; PostgreSQL only: that many orchestrator instances, each with its own
//! pool, caches and workers, on one database, the clients spread over them),
//! SWITCHBOARD_TEST_POSTGRES (the server; a fresh database is made on it).
//!
//! Reports channels per second (every member accepted and the channel active), the latency
//! of one acceptance (p50, p99), each instance's share of the orders, and on PostgreSQL what
//! the run cost the server per channel: commits, statements (with pg_stat_statements) and
//! WAL flushes. Target: at least 500 channels/s on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::orchestrator::policy::{Account, ChannelState};
use switchboard::orchestrator::{ChannelSpec, parse_channels};
use switchboard::service::{Acceptance, Actor, Config, InviteeSpec, NewChannel, NewOffer, Service, UserRole, Worker};
use switchboard::store::{Db, Options, query, query_scalar, sqlite_url, varying};
use switchboard::topology::generate::{ChannelOptions, channels_yaml};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

async fn database(kind: &str, dir: &std::path::Path) -> String {
    match kind {
        "sqlite" => sqlite_url(dir).unwrap(),
        "postgres" => {
            let base = env_or("SWITCHBOARD_TEST_POSTGRES", "postgres://postgres:postgres@127.0.0.1:5432/postgres");
            let server = Db::open(&base, Options { max_connections: 1, migrate: false })
                .await
                .expect("PostgreSQL (scripts/pg-start)");
            let name = format!("sbbench_{:08x}", rand::random::<u32>());
            varying(format!("CREATE DATABASE {name}")).execute(&server).await.unwrap();
            format!("{}/{name}", base.rsplit_once('/').unwrap().0)
        }
        other => panic!("BENCH_DB: unknown database {other}"),
    }
}

struct Job {
    creator: Actor,
    new: NewChannel,
    invitees: Vec<(Actor, String, String)>, // (actor, organization, interface)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(kind: &str, channels: usize, clients: usize, workers: usize, instances: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = database(kind, dir.path()).await;
    // SQLite's writer is one process's: several instances are PostgreSQL's.
    let instances = if kind == "postgres" { instances.max(1) } else { 1 };
    if std::env::var("BENCH_KEEP").is_ok() {
        // For a look at the database afterwards (query plans, sizes).
        println!("database: {url}");
        std::mem::forget(dir);
    }
    let config = Config {
        dry_run: true,
        new_account: Account { max_channels: 1_000_000, max_bandwidth_mbps: 100_000, ..Config::default().new_account },
        ..Config::default()
    };
    let mut services = Vec::new();
    for i in 0..instances {
        let config = Config { instance: format!("bench-{i}"), ..config.clone() };
        services.push(Service::new(Db::connect_with(&url, 16).await.unwrap(), config));
    }
    let svc = services[0].clone();
    let system = Actor::system("bench");
    let (topo, model) = support::seed(&svc, 1_000, 4_000, 42).await;
    // One admin per organization.
    let mut admins: BTreeMap<String, Actor> = BTreeMap::new();
    for iface in &topo.interfaces {
        if admins.contains_key(&iface.organization) {
            continue;
        }
        let org = svc.organization_id(&iface.organization).await.unwrap();
        let uid = svc
            .create_user(
                &system,
                &org,
                &format!("admin@{}.example", iface.organization),
                "Admin",
                UserRole::Admin,
                "bench-password",
            )
            .await
            .unwrap();
        admins.insert(iface.organization.clone(), svc.actor(&uid, "bench").await.unwrap());
    }
    // The channels: generated members, one organization per member.
    let (specs, diags) = parse_channels(&channels_yaml(&topo, &ChannelOptions { channels: channels * 2, seed: 7 }));
    assert!(diags.is_empty());
    let mut jobs = Vec::new();
    let mut skipped = 0;
    for (n, spec) in specs.iter().enumerate() {
        if jobs.len() == channels {
            break;
        }
        let orgs: Vec<&str> =
            spec.members.iter().map(|m| topo.interface(&m.interface).unwrap().organization.as_str()).collect();
        let mut uniq = orgs.clone();
        uniq.sort();
        uniq.dedup();
        if uniq.len() != orgs.len() {
            skipped += 1;
            continue;
        }
        jobs.push(job(spec, n, &orgs, &admins, &model));
    }
    assert_eq!(jobs.len(), channels, "not enough generated channels with distinct organizations");
    let members: usize = jobs.iter().map(|j| j.invitees.len()).sum();

    // Workers.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut worker_tasks = Vec::new();
    for service in &services {
        for _ in 0..workers {
            let w = Worker { service: service.clone(), sweep_every: Duration::from_secs(3600) };
            let rx = stop_rx.clone();
            worker_tasks.push(tokio::spawn(async move { w.run(rx).await }));
        }
    }

    let server_before = ServerCounts::read(&svc.db).await;
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    let threads_start = thread_cpu();
    let jobs = Arc::new(tokio::sync::Mutex::new(jobs.into_iter()));
    let mut client_tasks = Vec::new();
    for c in 0..clients {
        let (svc, jobs) = (services[c % instances].clone(), jobs.clone());
        client_tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some(job) = jobs.lock().await.next() else { break };
                let ch = svc.create_channel(&job.creator, &job.new).await.unwrap();
                let invitees = job
                    .invitees
                    .iter()
                    .map(|(_, org, _)| InviteeSpec { organization: Some(org.parse().unwrap()), ..Default::default() })
                    .collect();
                let offer = svc.offer(&job.creator, &ch, &NewOffer { invitees, ..Default::default() }).await.unwrap();
                for ((actor, _, iface), inv) in job.invitees.iter().zip(&offer.invitations) {
                    let t = Instant::now();
                    svc.accept(
                        actor,
                        &inv.token,
                        &Acceptance {
                            interface: iface.parse().unwrap(),
                            usage_model_id: None,
                            customer_vlan: None,
                            bandwidth_mbps: None,
                        },
                    )
                    .await
                    .unwrap();
                    latencies.push(t.elapsed());
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in client_tasks {
        latencies.extend(t.await.unwrap());
    }
    let accepted_at = start.elapsed();
    // Wait for the workers to finish every order. The poll asks whether one is left, one
    // status at a time so that each question is a seek in the orders' status index: on
    // SQLite it runs on a runtime thread the workers need, and counting thousands of
    // waiting orders every 5 ms took a share of it; on PostgreSQL an `IN` list with
    // `LIMIT 1` was planned as a scan of the whole table, every 5 ms.
    let mut polls = 0;
    loop {
        polls += 1;
        let left: Option<i64> = query_scalar(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM orders WHERE status = 'pending') \
             OR EXISTS (SELECT 1 FROM orders WHERE status = 'planning') \
             OR EXISTS (SELECT 1 FROM orders WHERE status = 'applying')",
        )
        .fetch_optional(&svc.db)
        .await
        .unwrap();
        if left.is_none() {
            break;
        }
        for s in &services {
            s.notify.notify_waiters();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_seconds() - cpu_start;
    let busiest = thread_cpu()
        .into_iter()
        .map(|(tid, (name, t))| (t - threads_start.get(&tid).map_or(0.0, |s| s.1), name))
        .fold((0.0, String::new()), |a, b| if b.0 > a.0 { b } else { a });
    // Read before the workers stop and the lists below run: what the run itself cost.
    let server = match (server_before, ServerCounts::read(&svc.db).await) {
        (Some(a), Some(b)) => b.per_channel_since(&a, channels, polls),
        _ => String::new(),
    };
    let _ = stop_tx.send(true);
    for w in worker_tasks {
        let _ = w.await;
    }
    latencies.sort();
    let all = svc.channels(&system).await.unwrap();
    let active = all.iter().filter(|c| c.state == ChannelState::Active).count();
    let orders = svc.orders(&system, None).await.unwrap();
    let failed = orders.iter().filter(|o| o.status == "failed").count();
    let n_orders: i64 = query_scalar("SELECT COUNT(*) FROM orders").fetch_one(&svc.db).await.unwrap();
    let mut shares = Vec::new();
    for (i, s) in services.iter().enumerate() {
        let n: i64 = query_scalar("SELECT COUNT(*) FROM orders WHERE claimed_by = $1")
            .bind(s.config.instance.as_str())
            .fetch_one(&svc.db)
            .await
            .unwrap();
        let clients_of = (0..clients).filter(|c| c % instances == i).count();
        shares.push(format!("{} {n} orders ({clients_of} clients)", s.config.instance));
    }
    println!(
        "{kind}: {channels} channels ({members} acceptances, {n_orders} orders, {failed} failed, {active} active) in {:.2} s \
         = {:.0} channels/s (all accepted after {:.2} s); acceptance p50 {:.2} ms, p99 {:.2} ms; {clients} clients, \
         {workers} workers per instance; {skipped} generated channels skipped (two members of one organization); \
         process CPU {cpu:.2} s = {:.2} cores busy, {:.0} us per channel; busiest thread ({}) {:.0}% busy; \
         {instances} instance(s): {}{server}",
        elapsed.as_secs_f64(),
        channels as f64 / elapsed.as_secs_f64(),
        accepted_at.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        cpu / elapsed.as_secs_f64(),
        cpu * 1e6 / channels as f64,
        busiest.1,
        busiest.0 * 100.0 / elapsed.as_secs_f64(),
        shares.join(", "),
    );
    assert_eq!(active, channels, "every channel active");
    assert_eq!(failed, 0);
}

/// What the PostgreSQL server counts for the bench's database: commits, statements run by
/// clients (with pg_stat_statements, when the server loads it) and WAL flushes (the whole
/// server's). `None` on SQLite.
struct ServerCounts {
    commits: i64,
    statements: Option<i64>,
    wal_syncs: i64,
}

impl ServerCounts {
    async fn read(db: &Db) -> Option<ServerCounts> {
        if db.dialect != switchboard::store::Dialect::Postgres {
            return None;
        }
        // A backend sends its counts to the server's statistics at most once a second.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let commits: i64 = query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            .fetch_one(db)
            .await
            .ok()?;
        let wal_syncs: i64 = query_scalar("SELECT wal_sync FROM pg_stat_wal").fetch_one(db).await.ok()?;
        let _ = query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute(db).await;
        let statements: Option<i64> = query_scalar(
            "SELECT CAST(SUM(calls) AS BIGINT) FROM pg_stat_statements \
             WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(db)
        .await
        .ok();
        Some(ServerCounts { commits, statements, wal_syncs })
    }

    /// The counts per channel since `before`, less the bench's own `polls` (one statement,
    /// one commit each).
    fn per_channel_since(&self, before: &ServerCounts, channels: usize, polls: i64) -> String {
        let per = |a: i64, b: i64| (a - b - polls) as f64 / channels as f64;
        let statements = match (self.statements, before.statements) {
            (Some(a), Some(b)) => format!("{:.1} statements, ", per(a, b)),
            _ => String::new(),
        };
        format!(
            "; per channel on the server: {:.2} commits, {statements}{:.2} WAL flushes",
            per(self.commits, before.commits),
            (self.wal_syncs - before.wal_syncs) as f64 / channels as f64
        )
    }
}

/// CPU time (user + system) this process has used, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// CPU seconds of each of this process's threads, by thread id: (name, seconds).
fn thread_cpu() -> BTreeMap<String, (String, f64)> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return out };
    for e in dir.flatten() {
        let tid = e.file_name().to_string_lossy().to_string();
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // pid (comm) state ... field 14 utime, 15 stime, in clock ticks.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_string();
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        out.insert(tid, (name, (ticks(11) + ticks(12)) / hz));
    }
    out
}

fn job(spec: &ChannelSpec, n: usize, orgs: &[&str], admins: &BTreeMap<String, Actor>, model: &str) -> Job {
    let first = &spec.members[0];
    Job {
        creator: admins[orgs[0]].clone(),
        new: NewChannel {
            name: format!("bench-{n}").parse().unwrap(),
            kind: spec.kind,
            bandwidth_mbps: spec.bandwidth_mbps,
            class: "standard".parse().unwrap(),
            usage_model_id: model.parse().unwrap(),
            interface: first.interface.parse().unwrap(),
            role: first.role,
            customer_vlan: None,
            member_bandwidth_mbps: None,
        },
        invitees: spec.members[1..]
            .iter()
            .zip(&orgs[1..])
            .map(|(m, org)| (admins[*org].clone(), org.to_string(), m.interface.to_string()))
            .collect(),
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let channels: usize = env_or("BENCH_CHANNELS", "10000").parse().unwrap();
    let clients: usize = env_or("BENCH_CLIENTS", "8").parse().unwrap();
    let workers: usize = env_or("BENCH_WORKERS", "2").parse().unwrap();
    let instances: usize = env_or("BENCH_INSTANCES", "1").parse().unwrap();
    if std::env::var("BENCH_LOG").is_ok() {
        switchboard::cli::service::init_logging();
    }
    let rt = if std::env::var("BENCH_CURRENT_THREAD").is_ok() {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
    };
    if std::env::var("BENCH_PROBE").is_ok() {
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::connect(&sqlite_url(dir.path()).unwrap()).await.unwrap();
            let t = Instant::now();
            for _ in 0..10_000 {
                let _: i64 = query_scalar("SELECT 1").fetch_one(&db).await.unwrap();
            }
            println!("native read SELECT 1: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / 10_000.0);
            let t = Instant::now();
            for _ in 0..1000 {
                let mut tx = db.write().await.unwrap();
                for _ in 0..10 {
                    let _: i64 = query_scalar("SELECT 1").fetch_one(&mut tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            println!("native write tx of 10 SELECT 1: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / 1000.0);
            let t = Instant::now();
            for i in 0..10_000i64 {
                let _: Option<i64> = query_scalar("SELECT vlan FROM vlan_allocations WHERE switch = $1 AND vlan = $2")
                    .bind("x")
                    .bind(i)
                    .fetch_optional(&db)
                    .await
                    .unwrap();
            }
            println!("native read indexed lookup: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / 10_000.0);
            let t = Instant::now();
            let mut tx = db.write().await.unwrap();
            for i in 0..10_000i64 {
                let _: Option<i64> = query_scalar("SELECT vlan FROM vlan_allocations WHERE switch = $1 AND vlan = $2")
                    .bind("x")
                    .bind(i)
                    .fetch_optional(&mut tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
            println!("native writer indexed lookup: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / 10_000.0);
        });
        return;
    }
    for kind in env_or("BENCH_DB", "sqlite,postgres").split(',') {
        rt.block_on(run(kind.trim(), channels, clients, workers, instances));
    }
}
