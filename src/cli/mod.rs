//! The command line. One module per subcommand; each reads its files, calls the pure core and
//! prints. Exit status: 0 success, 1 failure, 2 bad input (every problem is printed as
//! `FILE:LINE:COL: message`).

/// `eprintln!` that never panics: a line to standard error, dropped when no one reads it
/// any more (`switchboard lab up 2>&1 | head`), so that the work goes on.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `println!` (`print!` with `out!(raw ...)`) that returns the error instead of panicking
/// on it: `?` takes it to main, which ends quietly with status 141 when the reader has gone
/// (`topology generate ... | head -1`).
macro_rules! out {
    (raw $($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)?;
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `println!` for lines said along the way of work that goes on whoever reads them
/// (`drift --repair | head -3` still repairs): a reader gone is not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub mod agent;
pub mod apply;
pub mod lab;
pub mod lab_agents;
pub mod pki;
pub mod plan;
pub mod pretty;
pub mod probe;
pub mod serve;
pub mod service;
pub mod topology;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::model::Diagnostic;

/// Switchboard: metro Ethernet VLAN channels, planned and provisioned.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check or generate topology files.
    #[command(subcommand)]
    Topology(topology::TopologyCommand),
    /// Show what Switchboard would configure on every switch for a set of channels.
    Plan(plan::PlanArgs),
    /// Build or remove a topology as network namespaces on this host.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Make the switches hold exactly the channels of a file, as one transaction.
    Apply(apply::ApplyArgs),
    /// Show (and with --repair fix) what differs between the switches and the channels.
    Drift(apply::DriftArgs),
    /// Send real Ethernet frames between lab sites and print who reaches whom.
    Probe(probe::ProbeArgs),
    /// Serve the API and run orders (the portal's server); --demo seeds a database to try it.
    Serve(serve::ServeArgs),
    /// Import (or re-import) a topology into the orchestrator's database.
    Import(service::ImportArgs),
    /// Run orders from the database: provision, modify and remove channels.
    Worker(service::WorkerArgs),
    /// Serve one switch to remote orchestrators (gRPC over mutual TLS, two-phase apply).
    Agent(agent::AgentArgs),
    /// Make the CA and certificates of remote switches and their orchestrator.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Topology(cmd) => topology::run(cmd),
        Command::Plan(args) => plan::run(args),
        Command::Lab(cmd) => lab::run(cmd),
        Command::Apply(args) => apply::run_apply(args),
        Command::Drift(args) => apply::run_drift(args),
        Command::Probe(args) => probe::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Import(args) => service::run_import(args),
        Command::Worker(args) => service::run_worker(args),
        Command::Agent(args) => agent::run(args),
        Command::Pki(cmd) => pki::run(cmd),
    }
}

/// Exit status for input that cannot be used.
pub const EXIT_BAD_INPUT: u8 = 2;

/// The largest topology or channels file read: about eight times the channels file of
/// `topology generate --channels 1000000` (131 MB), and a bound on what a stream such as
/// /dev/zero can take.
const MAX_INPUT: u64 = 1 << 30;

/// What [`read_text`] reads at a time.
const CHUNK: u64 = 16 << 20;

/// A file's text; a file that is not UTF-8 is bad input, said where it stops being text.
pub fn read_text(path: &Path) -> anyhow::Result<Result<String, ExitCode>> {
    use std::io::{self, Read};
    // Read a chunk at a time into room made for it: read_to_end alone doubles its buffer,
    // and a stream past the limit would have taken twice the limit before it was refused.
    let mut bytes = Vec::new();
    let read = |bytes: &mut Vec<u8>| -> io::Result<()> {
        let mut file = std::fs::File::open(path)?;
        loop {
            bytes.reserve_exact(CHUNK as usize);
            if (&mut file).take(CHUNK).read_to_end(bytes)? == 0 || bytes.len() as u64 > MAX_INPUT {
                return Ok(());
            }
        }
    };
    read(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    let refuse = |pos: crate::model::Pos, message: String| {
        print_diagnostics(path, &[Diagnostic::new(pos, message)]);
        ExitCode::from(EXIT_BAD_INPUT)
    };
    if bytes.len() as u64 > MAX_INPUT {
        let message = format!("the file is larger than {} MiB, the most Switchboard reads", MAX_INPUT >> 20);
        return Ok(Err(refuse(crate::model::Pos { line: 1, col: 1 }, message)));
    }
    Ok(String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let good = bytes.get(..e.utf8_error().valid_up_to()).unwrap_or_default();
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(good.get(start..).unwrap_or_default()).chars().count() + 1;
        refuse(crate::model::Pos { line, col }, "not UTF-8 text: save the file as UTF-8".to_string())
    }))
}

/// Prints diagnostics as `FILE:LINE:COL: message`, one per line, to stderr. When the
/// reader of stderr has gone (`topology check x.yaml 2>&1 | head -1`), it has what it
/// wanted: the process ends there, nothing done yet, with the status a program killed by
/// SIGPIPE gives, as when stdout's reader goes (main.rs).
pub fn print_diagnostics(path: &Path, diagnostics: &[Diagnostic]) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let n = diagnostics.len();
    let written = diagnostics
        .iter()
        .try_for_each(|d| writeln!(err, "{}:{}: {}", path.display(), d.pos, d.message))
        .and_then(|()| writeln!(err, "{}: {n} error{}", path.display(), if n == 1 { "" } else { "s" }));
    if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        std::process::exit(141);
    }
}

/// Reads and validates a topology file; on bad input prints every problem and returns `Err(code)`.
pub fn load_topology(path: &Path) -> anyhow::Result<Result<crate::topology::Topology, ExitCode>> {
    let text = match read_text(path)? {
        Ok(text) => text,
        Err(code) => return Ok(Err(code)),
    };
    Ok(crate::topology::parse(&text).map_err(|diags| {
        print_diagnostics(path, &diags);
        ExitCode::from(EXIT_BAD_INPUT)
    }))
}

/// Reads a topology and a channels file; on bad input prints every problem and returns the
/// exit code to use.
pub fn load_inputs(
    topology: &Path,
    channels: &Path,
) -> anyhow::Result<Result<(crate::topology::Topology, Vec<crate::orchestrator::ChannelSpec>), ExitCode>> {
    let topo = match load_topology(topology)? {
        Ok(t) => t,
        Err(code) => return Ok(Err(code)),
    };
    let text = match read_text(channels)? {
        Ok(text) => text,
        Err(code) => return Ok(Err(code)),
    };
    let (specs, diags) = crate::orchestrator::parse_channels(&text);
    if !diags.is_empty() {
        // Plan what could be read too, so one run shows every problem: the channels read
        // whole. One with a problem of its own (a `role: king` read as no role) would only
        // be told again what follows from it ("needs a `role`").
        // Both position lists sorted, so that each channel is two binary searches: a file
        // of a million channels with one error is not a million scans of a million.
        let mut starts: Vec<crate::model::Pos> = specs.iter().map(|s| s.pos).collect();
        starts.sort();
        let mut at: Vec<crate::model::Pos> = diags.iter().map(|d| d.pos).collect();
        at.sort();
        let damaged = |spec: &crate::orchestrator::ChannelSpec| {
            let end = starts.get(starts.partition_point(|p| *p <= spec.pos));
            at.get(at.partition_point(|p| *p < spec.pos)).is_some_and(|d| end.is_none_or(|e| d < e))
        };
        let whole: Vec<crate::orchestrator::ChannelSpec> = specs.iter().filter(|s| !damaged(s)).cloned().collect();
        let mut all = diags;
        if let Err(errors) = crate::orchestrator::plan(&topo, &whole) {
            all.extend(errors.iter().map(plan_diagnostic));
        }
        all.sort();
        print_diagnostics(channels, &all);
        return Ok(Err(ExitCode::from(EXIT_BAD_INPUT)));
    }
    Ok(Ok((topo, specs)))
}

fn plan_diagnostic(e: &crate::orchestrator::PlanError) -> Diagnostic {
    Diagnostic::new(e.pos, format!("channel `{}`: {}", e.channel, e.refusal))
}

/// Plans `specs`, or prints every refusal as `FILE:LINE:COL` and returns exit status 2.
pub fn plan_or_report<'t>(
    topo: &'t crate::topology::Topology,
    specs: &[crate::orchestrator::ChannelSpec],
    channels: &Path,
) -> Result<crate::orchestrator::Planner<'t>, ExitCode> {
    crate::orchestrator::plan(topo, specs).map_err(|errors| {
        let diags: Vec<Diagnostic> = errors.iter().map(plan_diagnostic).collect();
        print_diagnostics(channels, &diags);
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

/// Loads the topology and (optionally) the channels, plans them and runs `f`; on bad input
/// prints every problem and returns exit status 2 without calling `f`. Without a channels
/// file the plan has no channels.
pub fn with_planner(
    topology: &Path,
    channels: Option<&Path>,
    f: impl FnOnce(&crate::topology::Topology, crate::orchestrator::Planner<'_>) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let (topo, specs) = match channels {
        Some(c) => match load_inputs(topology, c)? {
            Ok(x) => x,
            Err(code) => return Ok(code),
        },
        None => match load_topology(topology)? {
            Ok(t) => (t, Vec::new()),
            Err(code) => return Ok(code),
        },
    };
    match plan_or_report(&topo, &specs, channels.unwrap_or(topology)) {
        Ok(planner) => f(&topo, planner),
        Err(code) => Ok(code),
    }
}
