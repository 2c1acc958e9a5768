//! `lab up --agents` and its part of `lab down`: a `switchboard agent` per lab switch on the
//! lab's management network, the certificates they need, and a topology that reaches every
//! switch through its agent.
//!
//! The agents are this executable, started in the background (own process group, output to a
//! log file) with their pid, journal and log in the lab's state directory,
//! `/run/switchboard/lab/<topology>/`. Each listens on its switch's management address inside
//! the switch's namespace; the written topology says `remote: {netns: <topology>-mgmt}`, so the
//! orchestrator's connections are made from inside the management namespace and nothing is
//! added to the host's own namespace. Not for real switches: there, run `switchboard agent`
//! under the system's service manager.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::pki::{self, Subject, Validity};
use crate::southbound::linux::lab;
use crate::topology::{DriverConfig, TlsPaths, Topology};

/// The TCP port every agent listens on (each at its own management address).
pub const AGENT_PORT: u16 = 4443;

/// How long `lab up --agents` waits for an agent to say it is serving.
const READY_WAIT: Duration = Duration::from_secs(60);

/// How long `lab down` waits for an agent to end after SIGTERM, and again after SIGKILL.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Where a lab's agents keep their pid, journal and log files.
pub fn state_dir(topo: &Topology) -> PathBuf {
    Path::new("/run/switchboard/lab").join(&topo.name)
}

/// What `up` did.
#[derive(Debug)]
pub struct AgentsUp {
    /// The written topology, every switch `driver: remote`.
    pub topology: PathBuf,
    /// Agents started now (the others were running already).
    pub started: usize,
    /// The directory holding the certificates.
    pub pki: PathBuf,
}

/// Builds the management network, makes the missing certificates in `pki_dir` (default: the
/// state directory's `pki/`), starts every switch's agent that is not running, and writes the
/// remote topology. The lab itself must be up.
pub fn up(
    topo: &Topology,
    pki_dir: Option<&Path>,
    confirm_secs: u64,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<AgentsUp> {
    let state = state_dir(topo);
    std::fs::create_dir_all(&state)
        .with_context(|| format!("cannot create the lab's state directory {}", state.display()))?;
    let addresses = lab::mgmt_up(topo)?;
    progress(&format!(
        "management network {} ({}/{}), {} switch address(es)",
        lab::mgmt_namespace(topo),
        lab::MGMT_HOST,
        lab::MGMT_PREFIX,
        addresses.len()
    ));
    let pki_dir = pki_dir.map_or_else(|| state.join("pki"), Path::to_path_buf);
    let made = certificates(topo, &pki_dir)?;
    let pki_dir = pki_dir.canonicalize().with_context(|| format!("cannot resolve {}", pki_dir.display()))?;
    progress(&format!("certificates in {} ({made} made, the rest kept)", pki_dir.display()));
    let mut started = 0;
    for (k, sw) in topo.switches.iter().enumerate() {
        let Some(address) = addresses.get(k) else { continue };
        if running_agent(topo, &sw.name).is_some() {
            continue;
        }
        start_agent(topo, k, &format!("{address}:{AGENT_PORT}"), &pki_dir, confirm_secs)?;
        started += 1;
    }
    progress(&format!("{started} agent(s) started, {} running already", topo.switches.len() - started));
    let remote = remote_topology(topo, &addresses, &pki_dir);
    let text = crate::topology::render::yaml(&remote)?;
    let file = state.join(format!("{}.agents.yaml", topo.name));
    let header = format!(
        "# written by `switchboard lab up --agents`: the lab `{}` with every switch behind its agent\n",
        topo.name
    );
    std::fs::write(&file, header + &text).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(AgentsUp { topology: file, started, pki: pki_dir })
}

/// Stops every agent of the lab (by the pid it recorded) and removes the management network
/// and the state directory. Returns how many agents were running.
pub fn down(topo: &Topology) -> anyhow::Result<usize> {
    let mut stopped = 0;
    let mut errors = Vec::new();
    for sw in &topo.switches {
        if let Some(pid) = running_agent(topo, &sw.name) {
            match stop(pid) {
                Ok(()) => stopped += 1,
                Err(e) => errors.push(format!("agent of switch {} (pid {pid}): {e}", sw.name)),
            }
        }
    }
    if let Err(e) = lab::mgmt_down(topo) {
        errors.push(e.to_string());
    }
    let state = state_dir(topo);
    if state.exists()
        && errors.is_empty()
        && let Err(e) = std::fs::remove_dir_all(&state)
    {
        errors.push(format!("cannot remove {}: {e}", state.display()));
    }
    if !errors.is_empty() {
        anyhow::bail!("lab {} is not fully down: {}", topo.name, errors.join("; "));
    }
    Ok(stopped)
}

/// The CA, the orchestrator's certificate and one per switch, each made only if missing.
/// Returns how many files pairs were made.
fn certificates(topo: &Topology, dir: &Path) -> anyhow::Result<usize> {
    let validity = Validity::days(825);
    let mut made = 0;
    if !pki::ca_paths(dir).cert.exists() {
        pki::init(dir, Validity::days(3650))?;
        made += 1;
    }
    let subjects =
        std::iter::once(Subject::Orchestrator).chain(topo.switches.iter().map(|s| Subject::Agent(s.name.clone())));
    for subject in subjects {
        if !pki::paths(dir, &subject).cert.exists() {
            pki::issue(dir, &subject, validity)?;
            made += 1;
        }
    }
    Ok(made)
}

fn pid_file(topo: &Topology, switch: &str) -> PathBuf {
    state_dir(topo).join(format!("agent-{switch}.pid"))
}

fn journal_file(topo: &Topology, switch: &str) -> PathBuf {
    state_dir(topo).join(format!("agent-{switch}.journal"))
}

/// The log of a switch's agent (its stderr and stdout).
pub fn log_file(topo: &Topology, switch: &str) -> PathBuf {
    state_dir(topo).join(format!("agent-{switch}.log"))
}

/// The pid of the switch's agent if the recorded process is alive and is that agent (its
/// command line names the agent's journal, so a reused pid is never taken for it).
fn running_agent(topo: &Topology, switch: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(topo, switch)).ok()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let journal = journal_file(topo, switch);
    let ours = cmdline.split(|b| *b == 0).any(|arg| arg == journal.as_os_str().as_encoded_bytes());
    (ours && alive(pid)).then_some(pid)
}

/// Whether the process exists and has not ended (a zombie has ended; its parent reaps it).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may itself hold spaces.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// SIGTERM, then SIGKILL if it has not ended within [`STOP_WAIT`].
fn stop(pid: i32) -> Result<(), String> {
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        match kill(Pid::from_raw(pid), signal) {
            Ok(()) => {}
            Err(nix::errno::Errno::ESRCH) => return Ok(()),
            Err(e) => return Err(format!("{signal}: {e}")),
        }
        let start = Instant::now();
        while start.elapsed() < STOP_WAIT {
            if !alive(pid) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Err(format!("still running {} s after SIGKILL", STOP_WAIT.as_secs()))
}

/// Starts the `k`-th switch's agent listening on `listen` inside the switch's namespace and
/// waits until it says it is serving.
fn start_agent(topo: &Topology, k: usize, listen: &str, pki_dir: &Path, confirm_secs: u64) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let sw = topo.switches.get(k).context("no such switch")?;
    let netns = sw.driver.netns().with_context(|| format!("switch {} has no network namespace", sw.name))?;
    let exe = std::env::current_exe().context("cannot find this executable to start the agents")?;
    let files = pki::paths(pki_dir, &Subject::Agent(sw.name.clone()));
    let log_path = log_file(topo, &sw.name);
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let offset = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = std::process::Command::new(&exe)
        .args(["agent", "--listen", listen, "--listen-netns", netns, "--netns", netns, "--bridge"])
        .arg(sw.driver.bridge())
        .arg("--cert")
        .arg(&files.cert)
        .arg("--key")
        .arg(&files.key)
        .arg("--ca")
        .arg(pki::ca_paths(pki_dir).cert)
        .arg("--journal")
        .arg(journal_file(topo, &sw.name))
        .args(["--confirm-timeout", &confirm_secs.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().with_context(|| format!("cannot open {}", log_path.display()))?)
        .stderr(log)
        // Its own process group: a Ctrl-C meant for `lab up` does not stop the agents.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {} agent for switch {}", exe.display(), sw.name))?;
    let pid_path = pid_file(topo, &sw.name);
    std::fs::write(&pid_path, format!("{}\n", child.id()))
        .with_context(|| format!("cannot write {}", pid_path.display()))?;
    let start = Instant::now();
    loop {
        let text = std::fs::read(&log_path).unwrap_or_default();
        let new = String::from_utf8_lossy(text.get(usize::try_from(offset).unwrap_or(0)..).unwrap_or_default());
        if new.contains("serving switch") {
            return Ok(());
        }
        let tail = || new.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!(
                "the agent of switch {} ended ({status}) before serving; the end of {}:\n{}",
                sw.name,
                log_path.display(),
                tail()
            );
        }
        if start.elapsed() > READY_WAIT {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "the agent of switch {} did not start serving within {} s; the end of {}:\n{}",
                sw.name,
                READY_WAIT.as_secs(),
                log_path.display(),
                tail()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `topo` with every switch behind its agent, reached from the management namespace.
fn remote_topology(topo: &Topology, addresses: &[std::net::Ipv4Addr], pki_dir: &Path) -> Topology {
    let orchestrator = pki::paths(pki_dir, &Subject::Orchestrator);
    let tls = TlsPaths {
        ca: pki::ca_paths(pki_dir).cert.display().to_string(),
        cert: orchestrator.cert.display().to_string(),
        key: orchestrator.key.display().to_string(),
    };
    let mut remote = topo.clone();
    for (sw, address) in remote.switches.iter_mut().zip(addresses) {
        sw.driver = DriverConfig::Remote {
            address: format!("{address}:{AGENT_PORT}"),
            bridge: sw.driver.bridge().to_string(),
            tls: Some(tls.clone()),
            mgmt_netns: Some(lab::mgmt_namespace(topo)),
            timeouts: Default::default(),
        };
    }
    remote
}
