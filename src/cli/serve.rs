//! `switchboard serve`: the API, the orchestrator's worker and (with `--demo`) a seeded
//! database, in one process (SPEC §8).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::mail::Mailer;
use crate::portal::{AppState, router};
use crate::service::{Config, DEMO_PASSWORD, Service, Worker};
use crate::store::redact;

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
    #[command(flatten)]
    pub in_doubt: super::service::InDoubtArgs,
    /// The currency of every price and amount (ISO 4217: three capital letters).
    #[arg(long, env = "SWITCHBOARD_CURRENCY", default_value = "EUR", value_parser = currency)]
    pub currency: String,
    /// The address people reach this server at, for invitation links
    /// (default: http://LISTEN).
    #[arg(long, env = "SWITCHBOARD_BASE_URL")]
    pub base_url: Option<String>,
    /// Do not run orders in this process (other instances or `switchboard worker` do).
    #[arg(long)]
    pub no_worker: bool,
    /// Send invitation email through this SMTP server: smtps://USER:PASSWORD@HOST:PORT
    /// (TLS), smtp://USER:PASSWORD@HOST:PORT?tls=required (STARTTLS), smtp://HOST:PORT
    /// (unencrypted: a relay on this host only). Without it, invitations are written to the
    /// outbox folder.
    #[arg(long, env = "SWITCHBOARD_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The sender of invitation email.
    #[arg(long, env = "SWITCHBOARD_MAIL_FROM", default_value = "Switchboard <noreply@switchboard.localhost>")]
    pub mail_from: String,
    /// Where invitation email goes when no SMTP server is configured, one .eml file each
    /// (default: DATA_DIR/outbox).
    #[arg(long, env = "SWITCHBOARD_OUTBOX")]
    pub outbox: Option<std::path::PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key). Session cookies are then
    /// marked Secure.
    #[arg(long, env = "SWITCHBOARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SWITCHBOARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Seconds a client has to send a request's head (its line and headers) once it
    /// started: a connection that stalls inside one is closed, so stalled or half-sent
    /// requests cannot hold connections open for ever.
    #[arg(long, env = "SWITCHBOARD_HEAD_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub head_timeout: u64,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::tls::install_crypto();
    // Checked before anything else, so a bad certificate is the first thing said.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e} (another server there? try --listen)", args.listen))?;
    // The address actually bound (port 0 picks a free one).
    let listen = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = args.base_url.clone().unwrap_or_else(|| format!("{scheme}://{listen}"));
    let config = args.in_doubt.apply(Config {
        base_url: base_url.clone(),
        dry_run: args.dry_run || args.demo,
        currency: args.currency.clone(),
        ..Config::default()
    });
    let mailer = match &args.smtp_url {
        Some(url) => Mailer::smtp(url, &args.mail_from)?,
        None => {
            Mailer::outbox(args.outbox.clone().unwrap_or_else(|| args.db.data_dir.join("outbox")), &args.mail_from)?
        }
    };
    let mail_note = match &mailer {
        Mailer::Smtp { .. } => format!("invitations by SMTP ({})", redact(args.smtp_url.as_deref().unwrap_or(""))),
        Mailer::Outbox { dir, .. } => format!("invitation email in {}", dir.display()),
    };
    let svc = Service::new(args.db.connect().await?, config).with_mailer(mailer);
    if args.demo {
        if !listen.ip().is_loopback() {
            tracing::warn!(%listen, "--demo users share a published password: keep the demo on loopback");
        }
        let logins = svc.seed_demo().await?;
        say(&format!("Switchboard demo at {base_url}  (password for every user: {DEMO_PASSWORD}; {mail_note})"));
        for l in &logins {
            say(&format!("  {:<28} {:<9} {}", l.email, l.role.as_str(), l.organization));
        }
    } else {
        say(&format!("Switchboard at {base_url}  ({mail_note})"));
    }
    tracing::info!(%listen, instance = %svc.config.instance, "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = (!args.no_worker)
        .then(|| {
            let worker = Worker { service: svc.clone(), sweep_every: Duration::from_secs(30) };
            worker.spawn_beside_requests(stop_rx.clone())
        })
        .transpose()?;
    let mut state = AppState::new(svc);
    // Behind a proxy that ends TLS, the base URL says people reach us over HTTPS.
    state.secure_cookies = tls.is_some() || base_url.starts_with("https://");
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let mut shutdown = stop_rx.clone();
    let handle = axum_server::Handle::new();
    {
        let handle = handle.clone();
        tokio::spawn(async move {
            let _ = shutdown.changed().await;
            handle.graceful_shutdown(Some(Duration::from_secs(10)));
        });
    }
    let head_timeout = Duration::from_secs(args.head_timeout);
    let server = match tls {
        None => {
            let mut server = axum_server::from_tcp(listener.into_std()?)?.handle(handle);
            server.http_builder().http1().header_read_timeout(head_timeout);
            tokio::spawn(async move { server.serve(app).await })
        }
        Some(config) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_config(std::sync::Arc::new(config));
            let mut server = axum_server::from_tcp_rustls(listener.into_std()?, config)?.handle(handle);
            server.http_builder().http1().header_read_timeout(head_timeout);
            tokio::spawn(async move { server.serve(app).await })
        }
    };
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    server.await??;
    if let Some(w) = worker {
        let _ = w.await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a line for the person who started the server; a closed stdout (`| head -1`) is
/// not a reason to stop serving.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// An ISO 4217 currency code: three capital letters.
fn currency(s: &str) -> Result<String, String> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not a currency code: use three capital letters, such as EUR, USD or CHF"))
    }
}
