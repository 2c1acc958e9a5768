//! The agents of remote switches as the operator sees them (issue 17): for each switch the
//! topology puts on the `remote` driver, whether its agent answers, its version, and the
//! transaction it holds open, if any. The engine asks them, in parallel, each within its
//! deadlines; a service that drives every switch dry asks none.

use serde::Serialize;

use crate::engine;

use super::{Actor, Result, Service, ServiceError};

/// One remote switch's agent, as it answered (or why it did not).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AgentView {
    pub switch: String,
    /// Where the topology says the agent listens (host:port).
    pub address: String,
    /// Whether it answered.
    pub reachable: bool,
    /// Why it did not answer (connection, TLS, deadline), in the driver's words.
    pub error: Option<String>,
    /// The agent's version and the bridge it serves, when it answered.
    pub version: Option<String>,
    pub bridge: Option<String>,
    /// The transaction it holds open: prepared, neither committed nor aborted.
    pub open: Option<OpenTransactionView>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OpenTransactionView {
    pub transaction: String,
    /// Who prepared it (the orchestrator's word) and its client certificate's subject.
    pub holder: String,
    pub client: String,
    pub changes: u64,
    /// Milliseconds until the agent's confirm timer rolls it back.
    pub expires_in_ms: u64,
}

impl From<engine::Agent> for AgentView {
    fn from(a: engine::Agent) -> AgentView {
        match a.health {
            Ok(h) => AgentView {
                switch: a.switch,
                address: a.address,
                reachable: true,
                error: None,
                version: Some(h.version),
                bridge: Some(h.bridge),
                open: h.open.map(|o| OpenTransactionView {
                    transaction: o.transaction,
                    holder: o.holder,
                    client: o.client,
                    changes: o.changes,
                    expires_in_ms: o.expires_in_ms,
                }),
            },
            Err(e) => AgentView {
                switch: a.switch,
                address: a.address,
                reachable: false,
                error: Some(e),
                version: None,
                bridge: None,
                open: None,
            },
        }
    }
}

impl Service {
    /// The agents of the topology's remote switches, in topology order (the operator's
    /// staff only). Empty when the topology has no remote switch, or when this service
    /// drives every switch dry (`serve --demo`).
    pub async fn agents(&self, actor: &Actor) -> Result<Vec<AgentView>> {
        if !actor.is_operator() {
            return Err(ServiceError::Forbidden("the switches' agents are the operator's staff's".into()));
        }
        if self.config.dry_run {
            return Ok(Vec::new());
        }
        let topo = self.topology().await?;
        let agents = tokio::task::spawn_blocking(move || engine::agents(&topo))
            .await
            .map_err(|e| ServiceError::Conflict(format!("asking the agents failed: {e}")))?;
        Ok(agents.into_iter().map(AgentView::from).collect())
    }
}
