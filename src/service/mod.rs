//! The orchestrator as a service: organizations, accounts, users, the imported topology,
//! service definitions and usage models, and the flow of SPEC §2 (create a channel, offer
//! it, open an invitation, register, accept or decline, detach, terminate), with orders
//! that a worker executes through the drivers. The portal and API only call this.
//!
//! Everything is persisted ([`crate::store`]); several instances may share one PostgreSQL.
//! Business rules are pure functions in [`crate::orchestrator::policy`]; planning is the
//! pure [`crate::orchestrator::Planner`]; this module loads facts, asks them, and writes
//! the outcome, with an audit record, in one transaction.

mod account;
mod agents;
mod billing;
mod claims;
mod demo;
mod drift;
mod flow;
mod invitations;
mod invitees;
mod meter;
mod notify;
mod orders;
mod people;
mod pipeline;
mod policy;
mod provision;
mod requests;
mod sessions;
mod setup;
mod sweep;
mod views;
mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::ChannelKind;
use crate::orchestrator::policy::{Account, AccountStatus, Refused};
use crate::store::{Db, SqlError, StoreError, channels, new_id, topology};
use crate::topology::Topology;

pub use crate::model::actor::{Actor, OPERATOR_ORG, UserRole};
pub(crate) use crate::store::audit::record as audit;
pub use crate::store::channel_list::ChannelFilter;
pub use account::{AccountView, ChargeView};
pub use agents::{AgentView, OpenTransactionView};
pub use billing::BillingReport;
pub use claims::{CLAIM_HOURS, ClaimPending, Registered};
pub use demo::{DEMO_PASSWORD, DemoLogin};
pub use drift::{SwitchDrift, SwitchRepair};
pub use flow::{AcceptOutcome, Acceptance, Invitation, InviteeSpec, NewChannel, NewOffer, OfferCreated, Registration};
pub use invitees::{Via, WaitingOffer};
pub use meter::MeterReport;
pub use orders::OrderOutcome;
pub use people::{PersonView, WELCOME_DAYS, WelcomeView, Welcomed};
pub use policy::{AutoAccept, AutoAccepted, Notifications, Policy};
pub use sessions::{NewSession, Session};
pub use setup::{DefinitionSpec, ImportReport, UsageModelSpec};
pub use views::{
    AttachmentView, AuditEntry, AuditQuery, CatalogEntry, ChannelView, Closed, Ending, InterfaceView, InvitationView,
    InviteeStatus, Metering, OfferView, OrderView, Terms,
};
pub use views::{SwitchPort, SwitchView, SwitchVlan};
pub use worker::{WORKER_NICENESS, Worker};

/// A refused or failed request. Each has a stable code (what the API returns) and a message
/// that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{}", refusal_message(.0))]
    Refused(Vec<Refused>),
    #[error("offer has expired")]
    OfferExpired,
    #[error("access denied")]
    AccessDenied,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("wrong email or password")]
    BadCredentials,
    /// This instance stalled past an order's lease and another instance took it over: the
    /// order is theirs now, and nothing more is written for it here.
    #[error("the order was taken over by another instance")]
    TakenOver,
    #[error("database: {0}")]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    /// The store's answers that are the caller's to act on become theirs; failures stay
    /// the store's.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Conflict(why) | StoreError::Raced(why) => ServiceError::Conflict(why),
            e => ServiceError::Store(e),
        }
    }
}

impl From<crate::model::text::TextError> for ServiceError {
    /// Text a caller sent that its field refuses (the message names the field).
    fn from(e: crate::model::text::TextError) -> Self {
        ServiceError::Invalid(e.to_string())
    }
}

fn refusal_message(r: &[Refused]) -> String {
    r.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl From<SqlError> for ServiceError {
    fn from(e: SqlError) -> Self {
        ServiceError::Store(StoreError::Sql(e))
    }
}

impl From<channels::Error> for ServiceError {
    fn from(e: channels::Error) -> Self {
        match e {
            channels::Error::Sql(e) => e.into(),
            channels::Error::Kind(message) => ServiceError::Invalid(message),
        }
    }
}

impl ServiceError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Refused(r) => r.first().map_or("refused", Refused::code),
            ServiceError::OfferExpired => "offer_expired",
            ServiceError::AccessDenied => "access_denied",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::Invalid(_) => "invalid_input",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::BadCredentials => "bad_credentials",
            ServiceError::TakenOver => "taken_over",
            ServiceError::Store(_) => "internal",
        }
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Settings of one instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where invitation links point: `{base_url}/invitations/{token}`.
    pub base_url: String,
    /// This instance's name in order claims (unique per process).
    pub instance: String,
    /// How long a claimed order is held before another instance may take it over.
    pub lease: Duration,
    /// The account a newly registered or imported organization starts with until the
    /// operator sets one (`PUT /api/v1/operator/new-organizations`): every kind, up to
    /// 1,000 Mbps and 100 channels, class `standard`, no balance and a credit limit of
    /// 100.00, so a new organization can take an ordinary paid offer on its first try.
    pub new_account: Account,
    /// Attempts before an order that keeps dying is failed.
    pub max_attempts: i64,
    /// An order whose apply was left in doubt (committed on some switches, not confirmed on
    /// others) is run again this long after each try ...
    pub in_doubt_retry: Duration,
    /// ... until every switch holds its change, or this long after it was first in doubt,
    /// when it is failed with the switches named (its VLANs stay held).
    pub in_doubt_for: Duration,
    /// Drive every switch with the dry-run driver, whatever the topology says (the
    /// default of `serve` when no real switches are configured).
    pub dry_run: bool,
    /// How many waiting orders a worker claims, plans and applies together (one set of
    /// transactions and one apply per switch for all of them); 1 runs them one by one.
    /// A batch holds SQLite's writer while it plans and applies, and requests wait behind
    /// it: 8 keeps that wait short at no cost in orchestrator throughput (32 against 8 is
    /// in docs/performance.md).
    pub batch_orders: usize,
    /// The currency of every price and amount (ISO 4217; `serve --currency`, default EUR).
    pub currency: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: "http://127.0.0.1:8080".into(),
            instance: new_id("inst"),
            lease: Duration::from_secs(60),
            new_account: Account {
                status: AccountStatus::Active,
                kinds: vec![ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp],
                max_bandwidth_mbps: 1000,
                max_channels: 100,
                classes: vec!["standard".into()],
                balance_cents: 0,
                credit_limit_cents: 10_000,
            },
            max_attempts: 3,
            in_doubt_retry: Duration::from_secs(10),
            in_doubt_for: Duration::from_secs(3600),
            dry_run: false,
            batch_orders: 8,
            currency: "EUR".into(),
        }
    }
}

/// The clock the service reads; tests move it forward to expire offers.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        crate::store::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
}

/// The parsed topology and the revision it was parsed from.
type TopologyCache = (i64, Arc<Topology>, std::time::Instant);

/// The service. Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct Service {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Arc<Clock>,
    topology: Arc<Mutex<Option<TopologyCache>>>,
    /// Test faults by switch: (change index, whether it stays for every apply).
    faults: Arc<Mutex<HashMap<String, (usize, bool)>>>,
    /// Woken when an order is opened, so a local worker starts at once.
    pub notify: Arc<tokio::sync::Notify>,
    /// Where invitation email goes (none: invitations are only shown to their creator).
    pub(crate) mailer: Option<Arc<crate::mail::Mailer>>,
    /// Messages being sent in the background (see `mail_settled`).
    pub(crate) mail_tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Service {
    /// The driver kind that carries `switch` ("dry-run" for every switch in dry-run mode).
    pub fn driver_kind(&self, topo: &Topology, switch: &str) -> &'static str {
        if self.config.dry_run {
            return "dry-run";
        }
        topo.switch(switch).map_or("dry-run", |s| s.driver.kind())
    }

    pub fn new(db: Db, config: Config) -> Service {
        Service {
            db,
            config: Arc::new(config),
            clock: Arc::new(Clock::default()),
            topology: Arc::new(Mutex::new(None)),
            faults: Arc::new(Mutex::new(HashMap::new())),
            notify: Arc::new(tokio::sync::Notify::new()),
            mailer: None,
            mail_tasks: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Fault injection for tests: the next apply on `switch` fails at its change
    /// `change_index`, as a real switch would.
    pub fn inject_fault(&self, switch: &str, change_index: usize) {
        if let Ok(mut f) = self.faults.lock() {
            f.insert(switch.to_string(), (change_index, false));
        }
    }

    /// Fault injection for tests: every apply on `switch` fails at its change
    /// `change_index`, until [`Service::clear_faults`], like a switch that went bad.
    pub fn inject_lasting_fault(&self, switch: &str, change_index: usize) {
        if let Ok(mut f) = self.faults.lock() {
            f.insert(switch.to_string(), (change_index, true));
        }
    }

    pub fn clear_faults(&self) {
        if let Ok(mut f) = self.faults.lock() {
            f.clear();
        }
    }

    /// Whether a one-shot fault waits for the next apply on `switch`.
    fn has_fault(&self, switch: &str) -> bool {
        self.faults.lock().ok().is_some_and(|f| f.get(switch).is_some_and(|(_, lasting)| !lasting))
    }

    /// The fault for an apply on `switch` (a one-shot fault is used up).
    fn take_fault(&self, switch: &str) -> Option<usize> {
        let mut f = self.faults.lock().ok()?;
        let (at, lasting) = *f.get(switch)?;
        if !lasting {
            f.remove(switch);
        }
        Some(at)
    }

    /// Drops the cached topology (after an import by this instance).
    pub(crate) fn forget_topology(&self) {
        if let Ok(mut cache) = self.topology.lock() {
            *cache = None;
        }
    }

    /// The imported topology (parsed once per revision and shared).
    pub async fn topology(&self) -> Result<Arc<Topology>> {
        // Another instance may re-import: look at the revision at most every 200 ms.
        if let Ok(cache) = self.topology.lock()
            && let Some((_, topo, checked)) = cache.as_ref()
            && checked.elapsed() < std::time::Duration::from_millis(200)
        {
            return Ok(topo.clone());
        }
        let Some(revision) = topology::revision(&self.db).await? else {
            return Err(ServiceError::Conflict(
                "no topology imported yet: run `switchboard import TOPOLOGY.yaml` (or `serve --demo`)".into(),
            ));
        };
        if let Ok(mut cache) = self.topology.lock()
            && let Some((rev, topo, checked)) = cache.as_mut()
            && *rev == revision
        {
            *checked = std::time::Instant::now();
            return Ok(topo.clone());
        }
        let topology::File { revision, source, file } = topology::file(&self.db).await?;
        let topo = crate::topology::parse(&source).map_err(|diags| {
            let list: Vec<String> = diags.iter().map(|d| format!("{file}:{d}")).collect();
            ServiceError::Invalid(format!("the stored topology no longer parses: {}", list.join("; ")))
        })?;
        let topo = Arc::new(topo);
        if let Ok(mut cache) = self.topology.lock() {
            *cache = Some((revision, topo.clone(), std::time::Instant::now()));
        }
        Ok(topo)
    }
}
