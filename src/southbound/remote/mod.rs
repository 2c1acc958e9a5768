//! The `remote` driver: a switch served by `switchboard agent` on another machine, reached
//! over gRPC (tonic) with mutual TLS.
//!
//! Every call has a deadline, so a dead or silent agent costs its deadline, never a hang.
//! The connection checks that the agent's certificate chains to the configured CA and names
//! the switch the topology puts at that address ([`tls::connect`]). The driver is blocking,
//! like the others: its calls run on one process-wide tokio runtime of its own and the
//! calling thread waits for the answer, so it works from the engine's threads and from
//! inside another runtime alike.
//!
//! Two-phase: [`Driver::prepare`] applies changes on the agent under a transaction that the
//! agent rolls back by itself unless [`Driver::commit`] comes before its confirm timer;
//! [`Driver::abort`] rolls it back at once. [`Driver::apply`] alone is a prepare and a
//! commit of a transaction of its own.

pub mod pool;
pub mod tls;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint};

use crate::orchestrator::{Change, Item};

use self::tls::TlsFiles;
use self::wire::v1;
use self::wire::v1::agent_client::AgentClient;
use super::{AgentHealth, ApplyError, Driver, DriverError, OpenTransaction};

/// Deadlines of the calls to an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Connecting: TCP and the TLS handshake.
    pub connect: Duration,
    /// Reading state, counters and health.
    pub read: Duration,
    /// Prepare, commit and abort (the agent applies changes within it).
    pub write: Duration,
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines::from(crate::topology::Timeouts::default())
    }
}

impl From<crate::topology::Timeouts> for Deadlines {
    fn from(t: crate::topology::Timeouts) -> Deadlines {
        Deadlines {
            connect: Duration::from_secs(t.connect),
            read: Duration::from_secs(t.read),
            write: Duration::from_secs(t.write),
        }
    }
}

/// One switch behind an agent.
pub struct RemoteSwitch {
    name: String,
    address: String,
    client: AgentClient<Channel>,
    deadlines: Deadlines,
    /// The transaction prepared by this driver and not yet committed or aborted.
    open: Option<String>,
    /// Fault injection for tests: the change with this index (counted over the driver's
    /// life) is sent malformed (a port name Linux refuses), so the agent refuses it.
    fail_at: Option<usize>,
    sent: usize,
    /// What the agent said of itself when the connection was made, or checked last.
    at_connect: Option<AgentHealth>,
    /// Whether `at_connect` was asked by this connect (not taken from a check moments ago).
    asked_now: bool,
    /// The connection taken on an earlier check's word, until its first call settles it: that
    /// call, if a read, waits no longer than the check would have, and its failure drops the
    /// connection from the pool (an agent gone silent inside the window costs what its check
    /// would have, or, when the first call is a prepare planned from a known state, its write
    /// deadline once; the next connect makes a new connection).
    vouched: Option<(pool::Key, pool::Taken, Duration)>,
    /// Which kept connection this is, for what the pool remembers of the switch's state.
    key: Option<pool::Key>,
    /// Why the connection taken on an earlier check's word got no answer to its first call
    /// in time: every later call fails at once with it instead of waiting its deadline again
    /// (a prepare that may have reached the agent is taken back by its confirm timer).
    broken: Option<String>,
}

/// The runtime every remote driver's calls run on (two worker threads; started once).
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("switchboard-remote")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the remote driver's runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// How a call that ran out of time says so.
const NO_ANSWER: &str = "no answer within the deadline";

/// Runs `fut` on the drivers' runtime with a deadline and waits for it on this thread.
fn call<T: Send + 'static>(
    deadline: Duration,
    fut: impl Future<Output = Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    let rt = runtime()?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let out = match tokio::time::timeout(deadline, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!("{NO_ANSWER} of {} ms", deadline.as_millis())),
        };
        let _ = tx.send(out);
    });
    // The task answers by its deadline; the margin only covers a runtime that stopped.
    rx.recv_timeout(deadline + Duration::from_secs(5))
        .map_err(|_| format!("{NO_ANSWER} of {} ms", deadline.as_millis()))?
}

/// An error and every cause under it, each said once.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// `text`, with what a connection cut right after the handshake most likely means. TLS 1.3
/// gives the server's verdict on the client certificate after the handshake, as an alert
/// that reaches us, depending on timing, as the alert, a closed connection, a broken pipe,
/// a reset, or a connection the client finds closed before it was ready for a request.
fn with_hint(text: String) -> String {
    let cuts = ["connection closed", "broken pipe", "connection reset", "connection was not ready"];
    if cuts.iter().any(|cut| text.contains(cut)) {
        format!(
            "{text} (the agent closed the connection: it refuses this client's certificate if it is not issued by the agent's CA or has expired, or the agent stopped; the agent's log says which)"
        )
    } else {
        text
    }
}

/// What a gRPC error says, in words.
fn status_text(status: &tonic::Status) -> String {
    let cause = std::error::Error::source(status).map(|s| format!(" ({})", with_hint(chain(s)))).unwrap_or_default();
    match status.code() {
        tonic::Code::Unavailable => format!("agent unreachable: {}{cause}", status.message()),
        tonic::Code::DeadlineExceeded => format!("agent too slow: {}", status.message()),
        _ => format!("{}{cause}", status.message()),
    }
}

impl RemoteSwitch {
    /// Connects to the agent at `address` serving switch `name`, with `tls` files and the
    /// default deadlines, and checks its health (the name it answers with must be `name`).
    pub fn connect(name: &str, address: &str, tls: &TlsFiles) -> Result<RemoteSwitch, DriverError> {
        RemoteSwitch::connect_with(name, address, tls, Deadlines::default())
    }

    pub fn connect_with(
        name: &str,
        address: &str,
        files: &TlsFiles,
        deadlines: Deadlines,
    ) -> Result<RemoteSwitch, DriverError> {
        RemoteSwitch::connect_from(name, address, files, deadlines, None)
    }

    /// As [`RemoteSwitch::connect_with`], with the connection opened from inside network
    /// namespace `netns` when given (the management network of a lab, `<lab>-mgmt`).
    ///
    /// A connection kept from an earlier connect to the same agent ([`pool`]) is used when
    /// it answers the health call within the connect deadline; otherwise it is dropped and
    /// a new one made, so a restarted agent or a cut link costs at most one deadline more.
    /// One whose agent answered a check less than [`pool::RECHECK_AFTER`] ago is used without
    /// another (its first call then finds a connection that broke since).
    pub fn connect_from(
        name: &str,
        address: &str,
        files: &TlsFiles,
        deadlines: Deadlines,
        netns: Option<&str>,
    ) -> Result<RemoteSwitch, DriverError> {
        let key = pool::Key::new(name, address, files, netns);
        if let Some(key) = &key
            && let Some(taken) = pool::get(key)
        {
            let check = Deadlines { read: deadlines.read.min(deadlines.connect), ..deadlines };
            if let Some(health) = &taken.recent {
                let mut sw = RemoteSwitch::over(name, address, taken.channel.clone(), deadlines);
                sw.at_connect = Some(health.clone());
                sw.vouched = Some((key.clone(), taken, check.read));
                sw.key = Some(key.clone());
                return Ok(sw);
            }
            match RemoteSwitch::checked(name, address, taken.channel.clone(), check) {
                Ok(sw) => {
                    if let Some(health) = &sw.at_connect {
                        pool::checked(key, &taken, health.clone());
                    }
                    return Ok(RemoteSwitch { deadlines, key: Some(key.clone()), ..sw });
                }
                Err(e) => {
                    tracing::info!(switch = name, address, error = %e.message, "kept agent connection dropped");
                    pool::evict(key, &taken);
                }
            }
        }
        let err = |message: String| DriverError { switch: name.to_string(), message };
        let channel = channel_from(address, name, files, deadlines.connect, netns).map_err(err)?;
        let mut sw = RemoteSwitch::checked(name, address, channel.clone(), deadlines)?;
        if let (Some(key), Some(health)) = (key, &sw.at_connect) {
            pool::keep(key.clone(), channel, health.clone());
            sw.key = Some(key);
        }
        Ok(sw)
    }

    /// A driver over `channel`, nothing asked yet.
    fn over(name: &str, address: &str, channel: Channel, deadlines: Deadlines) -> RemoteSwitch {
        let client = AgentClient::new(channel)
            .max_decoding_message_size(wire::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(wire::MAX_MESSAGE_BYTES);
        RemoteSwitch {
            name: name.to_string(),
            address: address.to_string(),
            client,
            deadlines,
            open: None,
            fail_at: None,
            sent: 0,
            at_connect: None,
            asked_now: false,
            vouched: None,
            key: None,
            broken: None,
        }
    }

    /// [`call`] with `deadline`, settling a connection taken on an earlier check's word (see
    /// `vouched`).
    fn call_agent<T: Send + 'static>(
        &mut self,
        deadline: Duration,
        fut: impl Future<Output = Result<T, String>> + Send + 'static,
    ) -> Result<T, String> {
        if let Some(why) = &self.broken {
            return Err(format!("the kept connection failed earlier in this transaction: {why}"));
        }
        let Some((key, taken, check)) = self.vouched.take() else { return call(deadline, fut) };
        let deadline = if deadline == self.deadlines.read { deadline.min(check) } else { deadline };
        let out = call(deadline, fut);
        if let Err(e) = &out {
            tracing::info!(switch = %self.name, address = %self.address, error = %e, "kept agent connection dropped");
            pool::evict(&key, &taken);
            if e.starts_with(NO_ANSWER) {
                self.broken = Some(e.clone());
            }
        }
        out
    }

    /// A driver over `channel`, once the agent has answered the health call naming `name`.
    fn checked(name: &str, address: &str, channel: Channel, deadlines: Deadlines) -> Result<RemoteSwitch, DriverError> {
        let mut sw = RemoteSwitch::over(name, address, channel, deadlines);
        let health = sw.health()?;
        if health.switch_name != name {
            let message = format!("the agent at {address} serves switch `{}`, not `{name}`", health.switch_name);
            return Err(DriverError { switch: name.to_string(), message });
        }
        sw.at_connect = Some(health_from_wire(health));
        sw.asked_now = true;
        Ok(sw)
    }

    /// What the agent said of itself when this connection was made or checked last (one
    /// call fewer for a caller that only wants that; it may be a few seconds old, see
    /// [`RemoteSwitch::current_health`]).
    pub fn health_at_connect(&self) -> Option<&AgentHealth> {
        self.at_connect.as_ref()
    }

    /// What the agent says of itself now: what this connect asked, or a new call when the
    /// connection was taken on an earlier check's word.
    pub fn current_health(&mut self) -> Result<AgentHealth, DriverError> {
        match &self.at_connect {
            Some(h) if self.asked_now => Ok(h.clone()),
            _ => self.health().map(health_from_wire),
        }
    }

    /// The agent's version, switch and open transaction.
    pub fn health(&mut self) -> Result<v1::HealthResponse, DriverError> {
        let mut client = self.client.clone();
        self.call_agent(self.deadlines.read, async move {
            client.health(v1::HealthRequest {}).await.map(|r| r.into_inner()).map_err(|s| status_text(&s))
        })
        .map_err(|e| self.err(e))
    }

    fn err(&self, message: String) -> DriverError {
        DriverError { switch: self.name.clone(), message: format!("agent at {}: {message}", self.address) }
    }

    fn apply_error(&self, op: &str, message: String) -> ApplyError {
        ApplyError {
            switch: self.name.clone(),
            done: 0,
            op: op.into(),
            message: format!("agent at {}: {message}", self.address),
        }
    }

    /// [`Driver::prepare`], checked against the state whose digest is `expect` when given
    /// ([`Driver::prepare_unless_changed`]).
    fn prepare_checked(
        &mut self,
        transaction: &str,
        expect: Option<Vec<u8>>,
        changes: &[Change],
    ) -> Result<Option<BTreeSet<Item>>, ApplyError> {
        if changes.is_empty() && self.open.as_deref() == Some(transaction) {
            return Ok(None);
        }
        // An agent of an older release would drop what it does not know (a field) or refuse
        // the whole prepare without saying why (a kind): it is sent nothing it does not list.
        if let Some(h) = &self.at_connect {
            let missing = wire::missing_features(changes, &h.features);
            if !missing.is_empty() {
                // A transaction the agent holds open from an earlier round stays known, for
                // the abort.
                return Err(self.apply_error(
                    "check the agent's features",
                    format!(
                        "the agent (switchboard {}) does not know {} that these changes need: upgrade it to this \
                         orchestrator's release ({})",
                        h.version,
                        missing.join(", "),
                        env!("CARGO_PKG_VERSION")
                    ),
                ));
            }
        }
        let result = self.send_prepare(transaction, expect, changes);
        // A refused prepare closed the transaction on the agent (it rolled back by itself);
        // one that got no answer may be open there: abort will say. One answered with the
        // state the switch holds opened nothing.
        match &result {
            Ok(None) => self.open = Some(transaction.to_string()),
            Ok(Some(_)) => {}
            Err(e) if e.op == "prepare" => self.open = Some(transaction.to_string()),
            Err(_) => self.open = None,
        }
        result
    }

    /// Asks the agent to take `transaction` back (what the switch holds is then not known).
    fn send_abort(&mut self, transaction: &str) -> Result<(), String> {
        self.remember(None);
        let mut client = self.client.clone();
        let request = v1::AbortRequest { transaction: transaction.to_string() };
        self.call_agent(self.deadlines.write, async move {
            client.abort(request).await.map(|_| ()).map_err(|s| status_text(&s))
        })
    }

    /// A state as the agent sent it, each item checked.
    fn state_from_wire(&self, items: &[v1::Item]) -> Result<BTreeSet<Item>, DriverError> {
        items
            .iter()
            .enumerate()
            .map(|(k, i)| wire::item_from_wire(i).map_err(|e| self.err(format!("item {k} of its state: {e}"))))
            .collect()
    }

    /// What the pool remembers of the switch's state: `state`, or nothing.
    fn remember(&self, state: Option<&BTreeSet<Item>>) {
        if let Some(key) = &self.key {
            pool::remember(key, state);
        }
    }

    /// Sends a prepare of `changes` under `transaction`, with the configured fault, checked
    /// against the state whose digest is `expect` when given: `Ok(Some(state))` when the
    /// switch holds another (nothing applied).
    fn send_prepare(
        &mut self,
        transaction: &str,
        expect: Option<Vec<u8>>,
        changes: &[Change],
    ) -> Result<Option<BTreeSet<Item>>, ApplyError> {
        // Whatever comes of it, what the switch held is not known any more.
        self.remember(None);
        let mut wire: Vec<v1::Change> = changes.iter().map(wire::change_to_wire).collect();
        let fault = self.fail_at;
        if let Some(at) = self.fail_at
            && at >= self.sent
            && at - self.sent < changes.len()
        {
            self.fail_at = None;
            if let Some(change) = wire.get_mut(at - self.sent) {
                change.item = Some(v1::Item {
                    kind: Some(v1::item::Kind::Port(v1::Port { port: "bad/port".into(), mcast_flood: true })),
                });
            }
        }
        let checking = expect.is_some();
        let request = v1::PrepareRequest {
            transaction: transaction.to_string(),
            holder: holder(),
            changes: wire,
            expect_state: expect.unwrap_or_default(),
        };
        let mut client = self.client.clone();
        let answer = self.call_agent(self.deadlines.write, async move {
            client.prepare(request).await.map(|r| r.into_inner()).map_err(|s| status_text(&s))
        });
        if !matches!(answer, Ok(v1::PrepareResponse { differs: Some(_), .. })) {
            self.sent += changes.len();
        }
        match answer {
            Ok(v1::PrepareResponse { differs: Some(d), .. }) => {
                // Nothing was applied: the fault waits for the prepare that applies.
                self.fail_at = fault;
                let state = self.state_from_wire(&d.items).map_err(|e| self.apply_error("prepare", e.message))?;
                self.remember(Some(&state));
                Ok(Some(state))
            }
            Ok(v1::PrepareResponse { failure: None, state_checked: false, .. }) if checking => {
                // An agent that listed the check (up to a few seconds ago) and did not make
                // it: replaced by an older release since. What it applied was planned from a
                // state it never confirmed: taken back at once.
                let aborted = self.send_abort(transaction);
                let then = aborted.map_or_else(|e| format!("; its abort failed ({e})"), |()| "; aborted".to_string());
                Err(self.apply_error(
                    "check the agent's features",
                    format!(
                        "the agent did not check the state the changes were planned from (an older release than its \
                         last health answer said{then}); try again"
                    ),
                ))
            }
            Ok(v1::PrepareResponse { failure: None, .. }) => Ok(None),
            Ok(v1::PrepareResponse { failure: Some(f), .. }) => Err(ApplyError {
                switch: self.name.clone(),
                done: usize::try_from(f.done).unwrap_or(usize::MAX),
                op: f.op,
                message: f.message,
            }),
            Err(e) => Err(self.apply_error("prepare", e)),
        }
    }
}

/// A gRPC channel to the agent at `address` over mutual TLS with `files`, checked to serve
/// switch `name`, connected within `deadline`.
pub fn channel(address: &str, name: &str, files: &TlsFiles, deadline: Duration) -> Result<Channel, String> {
    channel_from(address, name, files, deadline, None)
}

/// As [`channel`], with the TCP connection made from inside network namespace `netns`.
pub fn channel_from(
    address: &str,
    name: &str,
    files: &TlsFiles,
    deadline: Duration,
    netns: Option<&str>,
) -> Result<Channel, String> {
    let config = Arc::new(tls::client_config(files).map_err(|e| e.to_string())?);
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| format!("agent address {address:?}: {e}"))?
        .connect_timeout(deadline)
        // A connection is kept across applies (`pool`): pings find a peer that went away.
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    let (switch, addr, netns) = (name.to_string(), address.to_string(), netns.map(str::to_string));
    call(deadline, async move {
        let connector = tower::service_fn(move |_uri| {
            let (config, addr, switch, netns) = (config.clone(), addr.clone(), switch.clone(), netns.clone());
            async move { tls::connect(config, &addr, &switch, netns.as_deref()).await.map(TokioIo::new) }
        });
        endpoint.connect_with_connector(connector).await.map_err(|e| with_hint(chain(&e)))
    })
    .map_err(|e| {
        // tonic's own connect timeout says only "deadline has elapsed": say which.
        let e = if e.contains("deadline has elapsed") {
            format!("no answer within the deadline of {} ms (TCP and the TLS handshake)", deadline.as_millis())
        } else {
            e
        };
        format!("cannot reach the agent at {address}: {e}")
    })
}

fn health_from_wire(h: v1::HealthResponse) -> AgentHealth {
    AgentHealth {
        version: h.version,
        switch: h.switch_name,
        bridge: h.bridge,
        open: h.open.map(|o| OpenTransaction {
            transaction: o.transaction,
            holder: o.holder,
            client: o.client,
            changes: o.changes,
            expires_in_ms: o.expires_in_ms,
        }),
        features: h.features,
    }
}

/// Who the orchestrator says it is when it prepares: this host and process.
fn holder() -> String {
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "?".into());
    format!("switchboard on {host} (pid {})", std::process::id())
}

/// A transaction id nobody else uses.
pub fn transaction_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Driver for RemoteSwitch {
    fn switch(&self) -> &str {
        &self.name
    }

    fn agent_health(&mut self) -> Result<Option<AgentHealth>, DriverError> {
        Ok(Some(health_from_wire(self.health()?)))
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn read_state(&mut self) -> Result<BTreeSet<Item>, DriverError> {
        let mut client = self.client.clone();
        let items = self
            .call_agent(self.deadlines.read, async move {
                client
                    .read_state(v1::ReadStateRequest {})
                    .await
                    .map(|r| r.into_inner().items)
                    .map_err(|s| status_text(&s))
            })
            .map_err(|e| self.err(e))?;
        let state = self.state_from_wire(&items)?;
        self.remember(Some(&state));
        Ok(state)
    }

    fn known_state(&mut self) -> Option<BTreeSet<Item>> {
        let lists = self.at_connect.as_ref()?.features.iter().any(|f| f == wire::EXPECT_STATE);
        let known = pool::known(self.key.as_ref().filter(|_| lists)?)?;
        Some(BTreeSet::clone(&known))
    }

    fn prepare_unless_changed(
        &mut self,
        transaction: &str,
        known: &BTreeSet<Item>,
        changes: &[Change],
    ) -> Result<Option<BTreeSet<Item>>, ApplyError> {
        self.prepare_checked(transaction, Some(wire::state_digest(known)), changes)
    }

    /// A transaction of its own: prepare, then commit.
    fn apply(&mut self, changes: &[Change]) -> Result<(), ApplyError> {
        if changes.is_empty() {
            return Ok(());
        }
        let transaction = transaction_id();
        self.prepare(&transaction, changes)?;
        self.commit(&transaction).map_err(|e| ApplyError {
            switch: e.switch,
            done: 0,
            op: "commit".into(),
            message: e.message,
        })
    }

    fn prepare(&mut self, transaction: &str, changes: &[Change]) -> Result<(), ApplyError> {
        self.prepare_checked(transaction, None, changes).map(|_| ())
    }

    fn commit(&mut self, transaction: &str) -> Result<(), DriverError> {
        if self.open.as_deref() != Some(transaction) {
            return Ok(());
        }
        let mut client = self.client.clone();
        let request = v1::CommitRequest { transaction: transaction.to_string() };
        let done = self.call_agent(self.deadlines.write, async move {
            client.commit(request).await.map(|_| ()).map_err(|s| status_text(&s))
        });
        if let Err(e) = done {
            // Committed or rolled back by its timer: which, a read will say.
            self.remember(None);
            return Err(self.err(format!("commit of transaction {transaction}: {e}")));
        }
        self.open = None;
        Ok(())
    }

    fn abort(&mut self, transaction: &str) -> Result<(), DriverError> {
        if self.open.as_deref() != Some(transaction) {
            return Ok(());
        }
        self.send_abort(transaction).map_err(|e| self.err(format!("abort of transaction {transaction}: {e}")))?;
        self.open = None;
        Ok(())
    }

    fn inject_fault(&mut self, change_index: usize) {
        self.fail_at = Some(self.sent + change_index);
    }

    fn port_bytes(&mut self, ports: &[String]) -> Result<Option<BTreeMap<String, u64>>, DriverError> {
        let mut client = self.client.clone();
        let request = v1::PortBytesRequest { ports: ports.to_vec() };
        let bytes = self
            .call_agent(self.deadlines.read, async move {
                client.port_bytes(request).await.map(|r| r.into_inner().bytes).map_err(|s| status_text(&s))
            })
            .map_err(|e| self.err(e))?;
        Ok(Some(bytes.into_iter().collect()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::agent::Agent;
    use crate::agent::service::AgentService;
    use crate::orchestrator::Op;
    use crate::southbound::dry_run::DryRun;

    /// An agent of an older release (it lists no `prepare.expect_state` and ignores it),
    /// served without TLS on loopback, and a driver to it that believes, as a connection
    /// taken on a check made moments before the agent was replaced would, that it checks.
    fn older_agent(dir: &std::path::Path) -> RemoteSwitch {
        let mut dry = DryRun::new("sw1", None, "br0");
        dry.state = BTreeSet::from([Item::Port { port: "p1".into(), mcast_flood: true }]);
        let old: Vec<&str> = wire::FEATURES.iter().copied().filter(|f| *f != wire::EXPECT_STATE).collect();
        let (agent, _) = Agent::start(Box::new(dry), "sw1", "br0", &dir.join("j"), Duration::from_secs(60)).unwrap();
        let agent = agent.advertising(&old);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(
                tonic::transport::Server::builder().add_service(AgentService::new(agent, None).server()).serve(address),
            )
        });
        let _in_runtime = runtime().unwrap().enter();
        let channel = Endpoint::from_shared(format!("http://{address}")).unwrap().connect_lazy();
        let mut sw = RemoteSwitch::over("sw1", &address.to_string(), channel, Deadlines::default());
        let features = wire::FEATURES.iter().map(|f| f.to_string()).collect();
        let health =
            AgentHealth { version: "x".into(), switch: "sw1".into(), bridge: "br0".into(), open: None, features };
        sw.at_connect = Some(health);
        sw
    }

    /// The older agent applies a prepare planned from a known state without checking it
    /// (it answers without `state_checked`): the driver takes it back at once and fails it.
    #[test]
    fn a_prepare_the_agent_did_not_check_is_taken_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut sw = older_agent(dir.path());
        let before = (0..50).find_map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            sw.read_state().ok()
        });
        let before = before.expect("the agent answers");
        let vlan = Item::Vlan { port: "p1".into(), vid: 300, pvid: false, untagged: false };
        let err = sw.prepare_unless_changed("t1", &before, &[Change { op: Op::Add, item: vlan }]).unwrap_err();
        assert_eq!(err.op, "check the agent's features", "{err}");
        assert!(err.message.contains("did not check the state") && err.message.contains("; aborted"), "{err}");
        assert_eq!(sw.read_state().unwrap(), before, "taken back");
        assert!(sw.health().unwrap().open.is_none());
        // Planned from a state read first (no expectation), the same agent is fine.
        assert!(sw.prepare("t2", &[]).is_ok());
    }
}
