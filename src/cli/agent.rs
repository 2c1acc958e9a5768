//! `switchboard agent`: serve one switch (a Linux VLAN-filtering bridge, through the linux
//! driver) to remote orchestrators over gRPC with mutual TLS ([`crate::agent`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::agent::Agent;
use crate::agent::turns::Turns;
use crate::southbound::linux::{LinuxSwitch, netns};
use crate::southbound::remote::tls::{self, TlsFiles};

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Address and port to listen on, e.g. 10.0.0.5:4443.
    #[arg(long, env = "SWITCHBOARD_AGENT_LISTEN")]
    pub listen: SocketAddr,
    /// The VLAN-filtering bridge of the switch.
    #[arg(long)]
    pub bridge: String,
    /// The network namespace holding the bridge (default: this one).
    #[arg(long)]
    pub netns: Option<String>,
    /// The network namespace to listen in, when the management address is not in the
    /// agent's own (a management namespace; `lab up --agents` gives the switch's).
    #[arg(long)]
    pub listen_netns: Option<String>,
    /// The agent's certificate (`switchboard pki issue DIR --agent SWITCH`); its name is
    /// the switch's.
    #[arg(long)]
    pub cert: PathBuf,
    /// The agent's private key.
    #[arg(long)]
    pub key: PathBuf,
    /// The CA whose certificates may connect (`DIR/ca.pem`).
    #[arg(long)]
    pub ca: PathBuf,
    /// Seconds a prepared transaction waits for its commit before the agent rolls it back.
    #[arg(long, default_value_t = 120)]
    pub confirm_timeout: u64,
    /// Where the state before an open transaction is kept (default
    /// /var/lib/switchboard/agent-SWITCH.journal).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// How many agents of this host work their bridges at once (default: the CPUs; 0: no
    /// limit). The host's agents take turns through lock files in --turns-dir: route netlink
    /// changes take the kernel's one lock, so more at once than CPUs only queue on it.
    #[arg(long, env = "SWITCHBOARD_AGENT_TURNS")]
    pub turns: Option<usize>,
    /// Where the host's agents keep their turns' lock files.
    #[arg(long, default_value = crate::agent::turns::DIR)]
    pub turns_dir: PathBuf,
}

pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    super::service::init_logging();
    if args.confirm_timeout == 0 {
        anyhow::bail!("--confirm-timeout must be at least 1 second");
    }
    let files = TlsFiles { ca: args.ca.clone(), cert: args.cert.clone(), key: args.key.clone() };
    let config = tls::server_config(&files)?;
    let own = crate::tls::read_certs(&args.cert)?;
    let name = own.first().and_then(tls::common_name).with_context(|| {
        format!("{}: the certificate names no switch (no common name); issue it with `switchboard pki issue DIR --agent SWITCH`", args.cert.display())
    })?;
    let journal = args.journal.unwrap_or_else(|| PathBuf::from(format!("/var/lib/switchboard/agent-{name}.journal")));
    let mut driver = LinuxSwitch::connect(&name, args.netns.as_deref(), &args.bridge)?;
    driver.check()?;
    let (agent, recovered) =
        Agent::start(Box::new(driver), &name, &args.bridge, &journal, Duration::from_secs(args.confirm_timeout))?;
    if let Some(r) = recovered {
        note!(
            "switchboard agent: rolled back transaction {} of {} left open by a stopped agent ({} changes)",
            r.transaction,
            r.holder,
            r.changes
        );
    }
    // Without its turns an agent still serves its switch (they only spare a shared kernel).
    let turns = match args.turns.unwrap_or_else(crate::engine::cpus) {
        0 => None,
        n => Turns::open(&args.turns_dir, n)
            .map_err(|e| {
                note!(
                    "switchboard agent: warning: cannot open the host's turns at the kernel ({e}); working without them (--turns-dir to put them elsewhere, --turns 0 to say so)"
                )
            })
            .ok(),
    };
    // The socket is made in its namespace (on a thread that entered it) before the runtime
    // starts: a socket stays in the namespace it was made in.
    let listen = args.listen;
    let std_listener = match &args.listen_netns {
        None => std::net::TcpListener::bind(listen),
        Some(ns) => netns::run_in(Some(ns), move || std::net::TcpListener::bind(listen))?,
    }
    .and_then(|l| l.set_nonblocking(true).map(|()| l))
    .with_context(|| match &args.listen_netns {
        Some(ns) => format!("cannot listen on {listen} in network namespace `{ns}`"),
        None => format!("cannot listen on {listen}"),
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(std_listener).with_context(|| format!("cannot listen on {listen}"))?;
        let bound = listener.local_addr()?;
        note!("switchboard agent: serving switch `{name}` (bridge {}) on {bound}", args.bridge);
        crate::agent::service::serve(agent, turns, listener, config).await.context("the agent's server stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}
