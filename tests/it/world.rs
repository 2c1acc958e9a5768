//! A populated orchestrator on a real database: SQLite in a temporary directory, or a fresh
//! database on the PostgreSQL server named by `SWITCHBOARD_TEST_POSTGRES` (scripts/test and
//! .ci/run start one; without a server these tests fail, they never skip).

use std::time::Duration;

use switchboard::model::ChannelKind;
use switchboard::model::id::ChannelId;
use switchboard::orchestrator::policy::{Account, AccountStatus, PriceType};
use switchboard::service::{
    Acceptance, Actor, Config, DefinitionSpec, InviteeSpec, NewChannel, NewOffer, OfferCreated, Service,
    UsageModelSpec, UserRole,
};
use switchboard::store::{Db, Options, sqlite_url, varying};

/// Accepting with `iface`, on the channel's own usage model and no customer VLAN.
pub fn accept(iface: &str) -> Acceptance {
    Acceptance { interface: iface.parse().unwrap(), usage_model_id: None, customer_vlan: None, bandwidth_mbps: None }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const DEFAULT_PG: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

/// How the PostgreSQL server's maintenance database is opened to create and drop the
/// tests' databases: its schema is not ours.
const SERVER: Options = Options { max_connections: 1, migrate: false };

/// A database that lives as long as the test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL server and database to drop afterwards.
    drop: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, name)) = self.drop.take() else { return };
        // Outside the test's runtime: a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(server) = Db::open(&base, SERVER).await {
                    let _ = varying(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&server).await;
                }
            })
        })
        .join();
    }
}

pub async fn test_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            TestDb { url: sqlite_url(dir.path()).unwrap(), _dir: Some(dir), drop: None }
        }
        Backend::Postgres => {
            let base = std::env::var("SWITCHBOARD_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_PG.to_string());
            let server = Db::open(&base, SERVER).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL tests need a server: {e}. Start one (scripts/test and .ci/run do) or set \
                     SWITCHBOARD_TEST_POSTGRES=postgres://USER:PASSWORD@HOST/DB"
                )
            });
            let name = format!("sbtest_{:016x}", rand::random::<u64>());
            varying(format!("CREATE DATABASE {name}")).execute(&server).await.unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            TestDb { url: format!("{prefix}/{name}"), _dir: None, drop: Some((base.clone(), name)) }
        }
    }
}

/// The metro topology, every switch driven by the dry-run driver.
pub fn metro_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/metro.yaml")).unwrap()
}

pub struct World {
    pub svc: Service,
    pub op: Actor,
    /// Admins of the metro topology's organizations.
    pub acme: Actor,
    pub globex: Actor,
    pub initech: Actor,
    pub stark: Actor,
    pub umbrella: Actor,
    /// A free usage model and one at 50.00 a month.
    pub free: String,
    pub paid: String,
    /// The service definition both belong to.
    pub definition: String,
    pub db: TestDb,
}

pub async fn service(db: &TestDb, instance: &str) -> Service {
    let config = Config {
        instance: instance.to_string(),
        dry_run: true,
        lease: Duration::from_secs(2),
        new_account: Account { max_channels: 1000, ..Config::default().new_account },
        ..Config::default()
    };
    Service::new(Db::connect(&db.url).await.unwrap(), config)
}

pub async fn world(backend: Backend) -> World {
    let db = test_db(backend).await;
    let svc = service(&db, "test-main").await;
    let system = Actor::system("test");
    svc.import_topology(&system, &metro_text(), "topologies/metro.yaml").await.unwrap();
    let uid = svc
        .create_user(
            &system,
            switchboard::service::OPERATOR_ORG,
            "noc@operator.example",
            "NOC",
            UserRole::Operator,
            "operator-pw",
        )
        .await
        .unwrap();
    let op = svc.actor(&uid, "test").await.unwrap();
    let mut admins = Vec::new();
    for org in ["acme", "globex", "initech", "stark", "umbrella"] {
        let org_id = svc.organization_id(org).await.unwrap();
        let uid = svc
            .create_user(
                &op,
                &org_id,
                &format!("admin@{org}.example"),
                &format!("{org} admin"),
                UserRole::Admin,
                "password-1",
            )
            .await
            .unwrap();
        admins.push(svc.actor(&uid, "test").await.unwrap());
    }
    let (definition, _) = svc
        .create_definition(
            &op,
            &DefinitionSpec {
                name: "Metro Ethernet".into(),
                kinds: vec![ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp],
                min_bandwidth_mbps: 1,
                max_bandwidth_mbps: 10_000,
                classes: vec!["standard".into()],
                drivers: vec!["dry-run".into(), "linux".into()],
                relations: Default::default(),
            },
        )
        .await
        .unwrap();
    let free = svc
        .create_usage_model(&op, &definition, &UsageModelSpec { name: "trial".into(), ..Default::default() })
        .await
        .unwrap();
    let paid = svc
        .create_usage_model(
            &op,
            &definition,
            &UsageModelSpec {
                name: "monthly".into(),
                price_type: Some(PriceType::FlatMonthly),
                price_cents: 5000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut a = admins.into_iter();
    let (acme, globex, initech, stark, umbrella) =
        (a.next().unwrap(), a.next().unwrap(), a.next().unwrap(), a.next().unwrap(), a.next().unwrap());
    World {
        svc,
        op,
        acme,
        globex,
        initech,
        stark,
        umbrella,
        free: free.to_string(),
        paid: paid.to_string(),
        definition,
        db,
    }
}

impl World {
    /// A usage model of 1.00 per Mbps per month, and acme's account set so that it can pay
    /// for it at 10 Mbps (10.00) and not at 20 (its balance plus credit is 15.00). Its ID.
    pub async fn per_mbps_model_acme_pays_at_10_not_20(&self) -> String {
        let spec = UsageModelSpec {
            name: "by the Mbps".into(),
            price_type: Some(PriceType::PerMbps),
            price_cents: 100,
            ..Default::default()
        };
        let id = self.svc.create_usage_model(&self.op, &self.definition, &spec).await.unwrap().to_string();
        self.set_account("acme", |a| (a.balance_cents, a.credit_limit_cents) = (0, 1_500)).await;
        id
    }

    pub fn channel(&self, name: &str, kind: ChannelKind, interface: &str) -> NewChannel {
        NewChannel {
            name: name.parse().unwrap(),
            kind,
            bandwidth_mbps: 10,
            class: "standard".parse().unwrap(),
            usage_model_id: self.free.parse().unwrap(),
            interface: interface.parse().unwrap(),
            role: None,
            customer_vlan: None,
            member_bandwidth_mbps: None,
        }
    }

    /// A live E-Line: acme's `name` on `interface`, offered to globex, accepted with
    /// globex-8a and applied. Returns the channel's ID.
    pub async fn live_p2p(&self, name: &str, interface: &str) -> ChannelId {
        let ch = self.svc.create_channel(&self.acme, &self.channel(name, ChannelKind::P2p, interface)).await.unwrap();
        let offer = self.offer_to(&self.acme, &ch, &[&self.globex]).await;
        self.svc.accept(&self.globex, &offer.invitations[0].token, &accept("globex-8a")).await.unwrap();
        self.svc.run_pending().await.unwrap();
        ch
    }

    /// Offers `channel` to the admins of `to`, by email.
    pub async fn offer_to(&self, by: &Actor, channel: &ChannelId, to: &[&Actor]) -> OfferCreated {
        let invitees = to
            .iter()
            .map(|a| InviteeSpec {
                email: Some(a.email.parse().unwrap()),
                name: "Admin".parse().unwrap(),
                ..Default::default()
            })
            .collect();
        self.svc
            .offer(by, channel, &NewOffer { description: "join us".parse().unwrap(), invitees, ..Default::default() })
            .await
            .unwrap()
    }

    pub async fn set_account(&self, org: &str, f: impl FnOnce(&mut Account)) {
        let id = self.svc.organization_id(org).await.unwrap();
        let mut account = self.svc.account(&id).await.unwrap();
        f(&mut account);
        self.svc.set_account(&self.op, &id, &account).await.unwrap();
    }
}

pub fn suspended(a: &mut Account) {
    a.status = AccountStatus::Suspended;
}
