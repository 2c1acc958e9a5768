//! `serve --demo`: a populated operator a newcomer can click through at once. The metro
//! topology (1 core, 3 aggregation, 9 access switches, customer sites of several
//! organizations), an admin for each organization and a member for one, the NOC, a service
//! definition with free, monthly and per-GB usage models, and accounts that can pay for them.
//!
//! Seeding is idempotent: a second start finds everything in place and changes nothing.

use crate::model::ChannelKind;
use crate::orchestrator::policy::{Account, AccountStatus, PriceType};
use crate::store::organizations;

use super::{Actor, DefinitionSpec, OPERATOR_ORG, Result, Service, ServiceError, UsageModelSpec, UserRole};

/// The demo's topology, compiled in.
pub const DEMO_TOPOLOGY: &str = include_str!("../../topologies/metro.yaml");

/// Every demo user's password. Demo data only: never serve `--demo` beyond loopback.
pub const DEMO_PASSWORD: &str = "switchboard-demo";

/// Organizations the demo leaves without users, so a newcomer can try the invitation
/// flow end to end: invite `ops@hooli.example` for organization `hooli`, open the link,
/// register, and open the confirmation mailed to the outbox to become hooli's first admin
/// (the topology lists `@hooli.example` as hooli's contacts).
pub const DEMO_UNCLAIMED: &[&str] = &["hooli"];

/// Who can log in to the demo.
#[derive(Clone, Debug)]
pub struct DemoLogin {
    pub email: String,
    pub organization: String,
    pub role: UserRole,
}

impl Service {
    /// Seeds the demo (once) and returns its logins.
    pub async fn seed_demo(&self) -> Result<Vec<DemoLogin>> {
        let system = Actor::system("demo");
        let report = self.import_topology(&system, DEMO_TOPOLOGY, "topologies/metro.yaml").await?;
        if report.changed {
            tracing::info!(revision = report.revision, "demo topology imported");
        }
        let mut logins = Vec::new();
        let noc = "noc@operator.example";
        self.ensure_user(&system, OPERATOR_ORG, noc, "Network Operations", UserRole::Operator).await?;
        logins.push(DemoLogin { email: noc.into(), organization: "operator".into(), role: UserRole::Operator });

        let orgs = organizations::all_but(&self.db, OPERATOR_ORG).await?;
        let demo_account = Account {
            status: AccountStatus::Active,
            kinds: vec![ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp],
            max_bandwidth_mbps: 1000,
            max_channels: 50,
            classes: vec!["standard".into(), "premium".into()],
            balance_cents: 50_000,
            credit_limit_cents: 100_000,
        };
        for (n, (org_id, name)) in orgs.into_iter().enumerate() {
            if DEMO_UNCLAIMED.contains(&name.as_str()) {
                continue;
            }
            let email = format!("admin@{name}.example");
            if self.ensure_user(&system, &org_id, &email, &format!("{name} admin"), UserRole::Admin).await? {
                self.set_account(&system, &org_id, &demo_account).await?;
            }
            logins.push(DemoLogin { email, organization: name.clone(), role: UserRole::Admin });
            if n == 0 {
                let email = format!("member@{name}.example");
                self.ensure_user(&system, &org_id, &email, &format!("{name} member"), UserRole::Member).await?;
                logins.push(DemoLogin { email, organization: name, role: UserRole::Member });
            }
        }

        if self.catalog().await?.is_empty() {
            let (definition, _) = self
                .create_definition(
                    &system,
                    &DefinitionSpec {
                        name: "Metro Ethernet".into(),
                        kinds: vec![ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp],
                        min_bandwidth_mbps: 1,
                        max_bandwidth_mbps: 1000,
                        classes: vec!["standard".into(), "premium".into()],
                        drivers: vec!["dry-run".into(), "linux".into()],
                        relations: Default::default(),
                    },
                )
                .await?;
            let models = [
                UsageModelSpec {
                    name: "Trial (free, up to 10 Mbps)".into(),
                    max_bandwidth_mbps: Some(10),
                    ..Default::default()
                },
                UsageModelSpec {
                    name: "Monthly".into(),
                    price_type: Some(PriceType::FlatMonthly),
                    price_cents: 4_900,
                    ..Default::default()
                },
                UsageModelSpec {
                    name: "Pay per GB (up to 500 GB)".into(),
                    price_type: Some(PriceType::PerGb),
                    price_cents: 2,
                    max_gb: Some(crate::orchestrator::policy::Quota::gb(500)),
                    ..Default::default()
                },
            ];
            for model in &models {
                self.create_usage_model(&system, &definition, model).await?;
            }
        }
        Ok(logins)
    }

    /// Creates the user unless its email exists. Returns whether it was created.
    async fn ensure_user(&self, actor: &Actor, org_id: &str, email: &str, name: &str, role: UserRole) -> Result<bool> {
        if organizations::can_log_in(&self.db, email).await? {
            return Ok(false);
        }
        match self.create_user(actor, org_id, email, name, role, DEMO_PASSWORD).await {
            Ok(_) => Ok(true),
            // Another instance seeding at the same moment.
            Err(ServiceError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
