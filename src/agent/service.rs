//! The agent on the wire: [`Agent`](super::Agent) behind the gRPC service
//! `switchboard.agent.v1.Agent`, over mutual TLS, with the confirm timers.
//!
//! Every request is decoded and checked before it reaches the switch (a malformed change is
//! INVALID_ARGUMENT naming it; a message over [`MAX_MESSAGE_BYTES`] is OUT_OF_RANGE),
//! and the switch's blocking work runs off the async threads. Not for the transaction rules,
//! which are the parent module's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::turns::Turns;
use super::{Agent, AgentError};
use crate::southbound::remote::tls::Peer;
use crate::southbound::remote::wire::{self, MAX_MESSAGE_BYTES, v1};

/// The gRPC service around one agent.
#[derive(Clone)]
pub struct AgentService {
    agent: Arc<Mutex<Agent>>,
    /// The host's turns at its kernel, taken by the calls that work the bridge ([`Turns`]).
    turns: Option<Arc<Turns>>,
}

impl AgentService {
    pub fn new(agent: Agent, turns: Option<Turns>) -> AgentService {
        AgentService { agent: Arc::new(Mutex::new(agent)), turns: turns.map(Arc::new) }
    }

    /// The tonic service, with the message size limits.
    pub fn server(self) -> v1::agent_server::AgentServer<AgentService> {
        v1::agent_server::AgentServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Runs `f` on the agent on a blocking thread.
    async fn with_agent<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Agent) -> T + Send + 'static,
    ) -> Result<T, Status> {
        self.run(None, f).await
    }

    /// [`Self::with_agent`] for work on the bridge: in one of the host's turns at its kernel.
    async fn on_bridge<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Agent) -> T + Send + 'static,
    ) -> Result<T, Status> {
        self.run(self.turns.clone(), f).await
    }

    async fn run<T: Send + 'static>(
        &self,
        turns: Option<Arc<Turns>>,
        f: impl FnOnce(&mut Agent) -> T + Send + 'static,
    ) -> Result<T, Status> {
        let agent = self.agent.clone();
        tokio::task::spawn_blocking(move || {
            // The turn before the agent's lock: a health call is not held up by the wait. A
            // turn that cannot be had is gone without (the turns only spare the kernel; the
            // confirm timer's roll-back must run whatever they say).
            let _turn = turns.as_deref().and_then(|t| {
                t.take().map_err(|e| tracing::warn!(error = %e, "cannot take a turn at the kernel; going without")).ok()
            });
            let mut guard = agent.lock().map_err(|_| Status::internal("the agent's state is poisoned by a panic"))?;
            Ok(f(&mut guard))
        })
        .await
        .map_err(|e| Status::internal(format!("the agent's worker failed: {e}")))?
    }

    /// Rings `transaction`'s confirm timer at `deadline`, and again as long as it asks to.
    fn arm(&self, transaction: String, deadline: Instant) {
        let service = self.clone();
        tokio::spawn(async move {
            let mut at = deadline;
            loop {
                tokio::time::sleep_until(at.into()).await;
                let t = transaction.clone();
                match service.on_bridge(move |a| a.expire(&t, Instant::now())).await {
                    Ok(Some(next)) => at = next,
                    Ok(None) | Err(_) => break,
                }
            }
        });
    }
}

fn status(e: AgentError) -> Status {
    match e {
        AgentError::Busy { .. } | AgentError::Differs { .. } => Status::failed_precondition(e.to_string()),
        AgentError::NotOpen { .. } => Status::not_found(e.to_string()),
        AgentError::Refused { .. }
        | AgentError::Driver(_)
        | AgentError::Journal { .. }
        | AgentError::Rollback { .. } => Status::internal(e.to_string()),
    }
}

fn millis_until(deadline: Instant) -> u64 {
    u64::try_from(deadline.saturating_duration_since(Instant::now()).as_millis()).unwrap_or(u64::MAX)
}

/// A transaction id or holder: non-empty, printable, at most 200 bytes.
fn label(what: &str, value: &str) -> Result<String, Status> {
    if value.is_empty() || value.len() > 200 || value.chars().any(char::is_control) {
        return Err(Status::invalid_argument(format!(
            "{what} must be 1-200 bytes of printable text, got {} bytes",
            value.len()
        )));
    }
    Ok(value.to_string())
}

#[tonic::async_trait]
impl v1::agent_server::Agent for AgentService {
    async fn read_state(&self, _: Request<v1::ReadStateRequest>) -> Result<Response<v1::ReadStateResponse>, Status> {
        let items = self.on_bridge(|a| a.driver().read_state()).await?.map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(v1::ReadStateResponse { items: items.iter().map(wire::item_to_wire).collect() }))
    }

    async fn port_bytes(&self, req: Request<v1::PortBytesRequest>) -> Result<Response<v1::PortBytesResponse>, Status> {
        let ports = req.into_inner().ports;
        if let Some(bad) = ports.iter().find(|p| crate::model::check_ifname(p).is_err()) {
            return Err(Status::invalid_argument(format!("port {bad:?} is not an interface name")));
        }
        let bytes = self.on_bridge(move |a| a.driver().port_bytes(&ports)).await?;
        let bytes = bytes.map_err(|e| Status::internal(e.to_string()))?.unwrap_or_default();
        Ok(Response::new(v1::PortBytesResponse { bytes: bytes.into_iter().collect::<HashMap<_, _>>() }))
    }

    async fn health(&self, _: Request<v1::HealthRequest>) -> Result<Response<v1::HealthResponse>, Status> {
        let answer = self
            .with_agent(|a| v1::HealthResponse {
                version: env!("CARGO_PKG_VERSION").to_string(),
                switch_name: a.name().to_string(),
                bridge: a.bridge().to_string(),
                open: a.open().map(|o| v1::OpenTransaction {
                    transaction: o.transaction.clone(),
                    holder: o.holder.clone(),
                    client: o.client.clone(),
                    changes: o.changes as u64,
                    expires_in_ms: millis_until(o.deadline),
                }),
                features: a.features().to_vec(),
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn prepare(&self, req: Request<v1::PrepareRequest>) -> Result<Response<v1::PrepareResponse>, Status> {
        let client = req.extensions().get::<Peer>().map_or_else(|| "(unknown)".to_string(), |p| p.name.clone());
        let req = req.into_inner();
        let transaction = label("the transaction id", &req.transaction)?;
        let holder = label("the holder", &req.holder)?;
        let changes = wire::changes_from_wire(&req.changes).map_err(Status::invalid_argument)?;
        let t = transaction.clone();
        let expect = (!req.expect_state.is_empty()).then_some(req.expect_state);
        // A task of its own, which arms the confirm timer once the changes are in even when
        // the client gave up meanwhile (its deadline drops this handler; the prepare, waiting
        // for its turn or the kernel, goes on and must not leave changes without a timer).
        let service = self.clone();
        let result = tokio::spawn(async move {
            let result = service
                .on_bridge(move |a| a.prepare_expecting(&t, &holder, &client, expect.as_deref(), &changes))
                .await;
            if let Ok(Ok(prepared)) = &result {
                service.arm(transaction, prepared.deadline);
            }
            result
        })
        .await
        .map_err(|e| Status::internal(format!("the agent's prepare failed: {e}")))??;
        match result {
            Ok(prepared) => Ok(Response::new(v1::PrepareResponse {
                expires_in_ms: millis_until(prepared.deadline),
                state_checked: prepared.checked,
                ..Default::default()
            })),
            Err(AgentError::Refused { failure }) => Ok(Response::new(v1::PrepareResponse {
                failure: Some(v1::ApplyFailure { done: failure.done as u64, op: failure.op, message: failure.message }),
                ..Default::default()
            })),
            Err(AgentError::Differs { state, .. }) => Ok(Response::new(v1::PrepareResponse {
                differs: Some(v1::StateDiffers { items: state.iter().map(wire::item_to_wire).collect() }),
                ..Default::default()
            })),
            Err(e) => Err(status(e)),
        }
    }

    async fn commit(&self, req: Request<v1::CommitRequest>) -> Result<Response<v1::CommitResponse>, Status> {
        let transaction = label("the transaction id", &req.into_inner().transaction)?;
        self.with_agent(move |a| a.commit(&transaction)).await?.map_err(status)?;
        Ok(Response::new(v1::CommitResponse {}))
    }

    async fn abort(&self, req: Request<v1::AbortRequest>) -> Result<Response<v1::AbortResponse>, Status> {
        let transaction = label("the transaction id", &req.into_inner().transaction)?;
        let was_open = self.on_bridge(move |a| a.abort(&transaction)).await?.map_err(status)?;
        Ok(Response::new(v1::AbortResponse { was_open }))
    }
}

/// Serves `agent` on `listener` with mutual TLS until the process ends. A transaction left
/// open is guarded by its timer from the first prepare on.
pub async fn serve(
    agent: Agent,
    turns: Option<Turns>,
    listener: tokio::net::TcpListener,
    tls: rustls::ServerConfig,
) -> Result<(), tonic::transport::Error> {
    let service = AgentService::new(agent, turns);
    tonic::transport::Server::builder()
        .add_service(service.server())
        .serve_with_incoming(crate::southbound::remote::tls::incoming(listener, tls))
        .await
}
