//! `switchboard serve`: the API, the orchestrator's worker and (with `--demo`) a seeded
//! database, in one process (SPEC §8).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::portal::{AppState, router};
use crate::service::{Config, DEMO_PASSWORD, Service, Worker};

use super::service::{DbArgs, init_logging};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seed example organizations, users, a topology and a catalogue (idempotent) and print
    /// the logins. Implies --dry-run.
    #[arg(long)]
    pub demo: bool,
    /// Drive every switch with the dry-run driver, whatever the topology says.
    #[arg(long)]
    pub dry_run: bool,
    /// The address people reach this server at, for invitation links
    /// (default: http://LISTEN).
    #[arg(long, env = "SWITCHBOARD_BASE_URL")]
    pub base_url: Option<String>,
    /// Do not run orders in this process (other instances or `switchboard worker` do).
    #[arg(long)]
    pub no_worker: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e} (another server there? try --listen)", args.listen))?;
    // The address actually bound (port 0 picks a free one).
    let listen = listener.local_addr()?;
    let base_url = args.base_url.clone().unwrap_or_else(|| format!("http://{listen}"));
    let config = Config { base_url: base_url.clone(), dry_run: args.dry_run || args.demo, ..Config::default() };
    let svc = Service::new(args.db.connect().await?, config);
    if args.demo {
        if !listen.ip().is_loopback() {
            tracing::warn!(%listen, "--demo users share a published password: keep the demo on loopback");
        }
        let logins = svc.seed_demo().await?;
        println!("Switchboard demo at {base_url}  (password for every user: {DEMO_PASSWORD})");
        for l in &logins {
            println!("  {:<28} {:<9} {}", l.email, l.role.as_str(), l.organization);
        }
    } else {
        println!("Switchboard at {base_url}");
    }
    tracing::info!(%listen, instance = %svc.config.instance, "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = (!args.no_worker).then(|| {
        let worker = Worker { service: svc.clone(), sweep_every: Duration::from_secs(30) };
        let rx = stop_rx.clone();
        tokio::spawn(async move { worker.run(rx).await })
    });
    let app = router(AppState::new(svc));
    let mut shutdown = stop_rx.clone();
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(
        async move {
            let _ = shutdown.changed().await;
        },
    );
    let server = tokio::spawn(async move { server.await });
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    server.await??;
    if let Some(w) = worker {
        let _ = w.await;
    }
    Ok(ExitCode::SUCCESS)
}
