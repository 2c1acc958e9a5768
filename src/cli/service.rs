//! Commands on the orchestrator's database: `import` a topology, run a `worker`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::service::{Actor, Config, Service, ServiceError, Worker};
use crate::store::{Db, redact, sqlite_url};

/// Where the database is.
#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Database URL: postgres://USER:PASSWORD@HOST/DB (several instances may share it) or
    /// sqlite://PATH. Default: SQLite in --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database: Option<String>,
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "SWITCHBOARD_DATA", default_value = "switchboard-data")]
    pub data_dir: PathBuf,
}

impl DbArgs {
    pub fn url(&self) -> anyhow::Result<String> {
        match &self.database {
            Some(u) => Ok(u.clone()),
            None => Ok(sqlite_url(&self.data_dir)?),
        }
    }

    pub async fn connect(&self) -> anyhow::Result<Db> {
        let url = self.url()?;
        let db = Db::connect(&url).await?;
        tracing::info!(database = %redact(&url), dialect = db.dialect.as_str(), "database ready");
        Ok(db)
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The topology file.
    pub topology: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
}

/// How orders whose apply was left in doubt (committed on some remote switches, not
/// confirmed on others) are run again.
#[derive(Debug, Args)]
pub struct InDoubtArgs {
    /// Seconds between tries of an order in doubt.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub in_doubt_retry_secs: u64,
    /// Seconds after which an order still in doubt is failed, naming the switches (its VLANs stay held).
    #[arg(long, default_value_t = 3600)]
    pub in_doubt_for_secs: u64,
}

impl InDoubtArgs {
    /// `config` with these settings.
    pub fn apply(&self, config: Config) -> Config {
        Config {
            in_doubt_retry: Duration::from_secs(self.in_doubt_retry_secs),
            in_doubt_for: Duration::from_secs(self.in_doubt_for_secs),
            ..config
        }
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub in_doubt: InDoubtArgs,
    /// Drive every switch with the dry-run driver, whatever the topology says.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds an order stays claimed without renewal before another instance takes it over.
    #[arg(long, default_value_t = 60)]
    pub lease_secs: u64,
    /// Run what is waiting (including orders left by stopped instances) and exit.
    #[arg(long)]
    pub once: bool,
}

/// Logs to stderr; `RUST_LOG` filters (default `info`), `SWITCHBOARD_LOG=json` for JSON lines.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("SWITCHBOARD_LOG").is_ok_and(|v| v == "json");
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

pub fn run_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let text = match super::read_text(&args.topology)? {
        Ok(text) => text,
        Err(code) => return Ok(code),
    };
    if let Err(diags) = crate::topology::parse(&text) {
        super::print_diagnostics(&args.topology, &diags);
        return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
    }
    runtime()?.block_on(async {
        let svc = Service::new(args.db.connect().await?, Config::default());
        match svc.import_topology(&Actor::system("cli"), &text, &args.topology.display().to_string()).await {
            Ok(report) => {
                out!(raw "{report}");
                if !report.to_string().ends_with('\n') {
                    out!();
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(ServiceError::Conflict(m)) => {
                note!("switchboard: import refused: {m}");
                Ok(ExitCode::from(1))
            }
            Err(e) => Err(e.into()),
        }
    })
}

pub fn run_worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    runtime()?.block_on(async {
        let config = args.in_doubt.apply(Config {
            lease: Duration::from_secs(args.lease_secs.max(1)),
            dry_run: args.dry_run,
            ..Config::default()
        });
        let svc = Service::new(args.db.connect().await?, config);
        tracing::info!(instance = %svc.config.instance, "worker started");
        if args.once {
            let done = svc.run_pending().await?;
            for o in &done {
                out!(
                    "{} {} {} {}{}",
                    o.order_id,
                    o.channel_id,
                    o.action,
                    o.status,
                    if o.reason.is_empty() { String::new() } else { format!(": {}", o.reason) }
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        let (tx, rx) = tokio::sync::watch::channel(false);
        let worker = Worker { service: svc, sweep_every: Duration::from_secs(30) };
        let run = tokio::spawn(async move { worker.run(rx).await });
        tokio::signal::ctrl_c().await?;
        tracing::info!("stopping");
        let _ = tx.send(true);
        let _ = run.await;
        Ok(ExitCode::SUCCESS)
    })
}
