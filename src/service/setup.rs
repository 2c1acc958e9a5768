//! What the operator sets up: organizations and their accounts, users, the topology,
//! service definitions and usage models.

use std::collections::{BTreeMap, BTreeSet};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::model::ChannelKind;
use crate::orchestrator::policy::{Account, AccountStatus, Definition, UsageModel};
use crate::store::organizations;
use crate::store::{WriteTx, catalog, settings};

pub(crate) use crate::store::organizations::{account_from_row, parse_kinds};

use super::{Actor, OPERATOR_ORG, Result, Service, ServiceError, UserRole, audit, to_i64};

/// A new service definition (a new version when the name exists).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DefinitionSpec {
    pub name: String,
    pub kinds: Vec<ChannelKind>,
    pub min_bandwidth_mbps: u64,
    pub max_bandwidth_mbps: u64,
    pub classes: Vec<String>,
    pub drivers: Vec<String>,
    /// Relationships to other definitions, e.g. `{"upgrade_of": "Metro E-Line 10M"}`.
    #[serde(default)]
    pub relations: BTreeMap<String, String>,
}

/// A new usage model of a definition: the model itself (its ID is made on creation).
pub type UsageModelSpec = UsageModel;

/// What an import changed. Importing the same file again changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub revision: i64,
    pub changed: bool,
    pub switches_added: Vec<String>,
    pub switches_removed: Vec<String>,
    pub switches_changed: Vec<String>,
    pub links_added: Vec<String>,
    pub links_removed: Vec<String>,
    pub interfaces_added: Vec<String>,
    pub interfaces_removed: Vec<String>,
    pub interfaces_changed: Vec<String>,
    pub organizations_created: Vec<String>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.changed {
            return write!(f, "topology unchanged (revision {})", self.revision);
        }
        writeln!(f, "topology imported as revision {}", self.revision)?;
        let mut line = |what: &str, list: &[String]| -> std::fmt::Result {
            if list.is_empty() { Ok(()) } else { writeln!(f, "  {what} ({}): {}", list.len(), list.join(", ")) }
        };
        line("switches added", &self.switches_added)?;
        line("switches removed", &self.switches_removed)?;
        line("switches changed", &self.switches_changed)?;
        line("links added", &self.links_added)?;
        line("links removed", &self.links_removed)?;
        line("interfaces added", &self.interfaces_added)?;
        line("interfaces removed", &self.interfaces_removed)?;
        line("interfaces changed", &self.interfaces_changed)?;
        line("organizations created", &self.organizations_created)
    }
}

fn require_operator(actor: &Actor) -> Result<()> {
    if actor.is_operator() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("only the operator's staff can do this".into()))
    }
}

pub(crate) fn check_email(email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok { Ok(e) } else { Err(ServiceError::Invalid(format!("`{email}` is not an email address"))) }
}

pub(crate) fn check_text(what: &str, s: &str, max: usize) -> Result<String> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(format!("{what} must be 1-{max} printable characters")));
    }
    Ok(t.to_string())
}

/// Account terms that make sense: at least one kind and class, limits above zero, credit
/// not negative.
fn check_account(a: &Account) -> Result<()> {
    /// Amounts and limits beyond this are typing errors (and past 2^53 JSON readers lose
    /// digits): 10^13 cents.
    const MOST: u64 = 10_000_000_000_000;
    let mut problems = Vec::new();
    if a.kinds.is_empty() {
        problems.push("`kinds` needs at least one channel kind (p2p, p2mp, mp2mp)".to_string());
    }
    if a.classes.is_empty() {
        problems.push("`classes` needs at least one class of service".into());
    }
    for c in &a.classes {
        if check_text("a class of service", c, 40).is_err() || c.contains(',') || c.trim() != c {
            problems
                .push(format!("class of service {c:?} must be 1-40 printable characters, no commas or outer spaces"));
        }
    }
    if a.max_bandwidth_mbps == 0 {
        problems.push("`max_bandwidth_mbps` must be above 0".into());
    }
    if a.max_channels == 0 {
        problems.push("`max_channels` must be above 0".into());
    }
    if a.credit_limit_cents < 0 {
        problems.push("`credit_limit_cents` cannot be negative".into());
    }
    for (field, v) in [
        ("max_bandwidth_mbps", a.max_bandwidth_mbps),
        ("max_channels", a.max_channels),
        ("balance_cents", a.balance_cents.unsigned_abs()),
        ("credit_limit_cents", a.credit_limit_cents.unsigned_abs()),
    ] {
        if v > MOST {
            problems.push(format!("`{field}` is out of range (at most {MOST})"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(ServiceError::Invalid(problems.join("; "))) }
}

pub(crate) fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < 8 {
        return Err(ServiceError::Invalid("the password must have at least 8 characters".into()));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Invalid(format!("cannot hash the password: {e}")))
}

impl Service {
    /// Creates an organization with an account (what new organizations start with when
    /// `None`).
    pub async fn create_organization(&self, actor: &Actor, name: &str, account: Option<Account>) -> Result<String> {
        require_operator(actor)?;
        let name = check_text("an organization name", name, 100)?;
        let mut tx = self.db.write().await?;
        let account = match account {
            Some(a) => {
                check_account(&a)?;
                a
            }
            None => self.new_org_account(&mut tx).await?,
        };
        let id = organizations::insert(&mut tx, &name, &account, self.now()).await?;
        audit(&mut tx, self.now(), actor, "organization.create", &id, serde_json::json!({"name": name})).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The account a newly registered or imported organization starts with: the operator's
    /// setting, else the built-in default ([`super::Config::new_account`]).
    pub(crate) async fn new_org_account(&self, tx: &mut WriteTx) -> Result<Account> {
        Ok(settings::get_tx(tx, settings::NEW_ORGANIZATION).await?.unwrap_or_else(|| self.config.new_account.clone()))
    }

    /// What a new organization starts with (the operator's staff only).
    pub async fn new_organization_account(&self, actor: &Actor) -> Result<Account> {
        require_operator(actor)?;
        Ok(settings::get(&self.db, settings::NEW_ORGANIZATION)
            .await?
            .unwrap_or_else(|| self.config.new_account.clone()))
    }

    /// Sets what a new organization starts with (the operator's staff only). Organizations
    /// that exist keep their accounts.
    pub async fn set_new_organization_account(&self, actor: &Actor, account: &Account) -> Result<()> {
        require_operator(actor)?;
        check_account(account)?;
        if account.status != AccountStatus::Active {
            return Err(ServiceError::Invalid(
                "a new organization starts `active`: suspend or close one organization's account instead".into(),
            ));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        settings::set(&mut tx, settings::NEW_ORGANIZATION, account, now).await?;
        let detail = serde_json::to_value(account).unwrap_or_default();
        audit(&mut tx, now, actor, "policy.new_organization", settings::NEW_ORGANIZATION, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an organization's account terms (status, limits, balance).
    pub async fn set_account(&self, actor: &Actor, org_id: &str, account: &Account) -> Result<()> {
        require_operator(actor)?;
        check_account(account)?;
        let mut tx = self.db.write().await?;
        organizations::set_account(&mut tx, org_id, account, self.now()).await?;
        audit(&mut tx, self.now(), actor, "account.update", org_id, serde_json::to_value(account).unwrap_or_default())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account of an organization.
    pub async fn account(&self, org_id: &str) -> Result<Account> {
        Ok(organizations::account(&self.db, org_id).await?)
    }

    /// Looks an organization up by name.
    pub async fn organization_id(&self, name: &str) -> Result<String> {
        Ok(organizations::id_by_name(&self.db, name).await?)
    }

    /// An organization's name.
    pub async fn organization_name(&self, org_id: &str) -> Result<String> {
        Ok(organizations::name_of(&self.db, org_id).await?)
    }

    /// Adds a user. The operator adds anyone; an organization's admin adds users to it.
    pub async fn create_user(
        &self,
        actor: &Actor,
        org_id: &str,
        email: &str,
        name: &str,
        role: UserRole,
        password: &str,
    ) -> Result<String> {
        let allowed = actor.is_operator()
            || (actor.role == UserRole::Admin && actor.org_id == org_id && role != UserRole::Operator);
        if !allowed {
            return Err(ServiceError::Forbidden("only the organization's admins can add its users".into()));
        }
        if (role == UserRole::Operator) != (org_id == OPERATOR_ORG) {
            return Err(ServiceError::Invalid(
                "operator staff belong to the operator's organization, and only they".into(),
            ));
        }
        let email = check_email(email)?;
        let name = check_text("a name", name, 100)?;
        let hash = hash_blocking(password.to_string()).await?;
        let mut tx = self.db.write().await?;
        let id = organizations::insert_user(&mut tx, org_id, &email, &name, role, &hash, self.now()).await?;
        audit(
            &mut tx,
            self.now(),
            actor,
            "user.create",
            &id,
            serde_json::json!({"email": email, "role": role.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Checks an email and password and returns who that is.
    pub async fn login(&self, email: &str, password: &str, source: &str) -> Result<Actor> {
        let email = email.trim().to_lowercase();
        let found = organizations::credentials(&self.db, &email).await?;
        // Verify against a dummy hash when the user does not exist, so timing says nothing.
        let stored = found.as_ref().map(|c| c.password_hash.clone()).unwrap_or_default();
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            let hash = if stored.is_empty() { dummy_hash() } else { stored };
            PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        })
        .await
        .unwrap_or(false);
        match found {
            Some(c) if ok => {
                Ok(Actor { user_id: c.user_id, email, org_id: c.org_id, role: c.role, source: source.into() })
            }
            _ => Err(ServiceError::BadCredentials),
        }
    }

    /// The actor for a user ID (a session's user).
    pub async fn actor(&self, user_id: &str, source: &str) -> Result<Actor> {
        Ok(organizations::actor(&self.db, user_id, source).await?)
    }

    /// Adds a service definition, or a new version of one with the same name.
    pub async fn create_definition(&self, actor: &Actor, spec: &DefinitionSpec) -> Result<(String, i64)> {
        require_operator(actor)?;
        let name = check_text("a definition name", &spec.name, 100)?;
        if spec.kinds.is_empty() || spec.min_bandwidth_mbps == 0 || spec.min_bandwidth_mbps > spec.max_bandwidth_mbps {
            return Err(ServiceError::Invalid(
                "a definition needs at least one kind and a bandwidth range 1 <= min <= max".into(),
            ));
        }
        for d in &spec.drivers {
            if !["linux", "dry-run", "remote"].contains(&d.as_str()) {
                return Err(ServiceError::Invalid(format!("unknown driver `{d}`: expected linux, dry-run or remote")));
            }
        }
        let mut tx = self.db.write().await?;
        let definition = Definition {
            name: name.clone(),
            version: 0,
            kinds: spec.kinds.clone(),
            min_bandwidth_mbps: spec.min_bandwidth_mbps,
            max_bandwidth_mbps: spec.max_bandwidth_mbps,
            classes: spec.classes.clone(),
            drivers: spec.drivers.clone(),
        };
        let relations = serde_json::to_string(&spec.relations).unwrap_or_default();
        let new = catalog::NewDefinition { name: &name, definition: &definition, relations };
        let (id, version) = catalog::insert_definition(&mut tx, &new, self.now()).await?;
        audit(
            &mut tx,
            self.now(),
            actor,
            "definition.create",
            &id,
            serde_json::json!({"name": name, "version": version}),
        )
        .await?;
        tx.commit().await?;
        Ok((id, version))
    }

    /// Adds a usage model to a definition.
    pub async fn create_usage_model(
        &self,
        actor: &Actor,
        definition_id: &str,
        spec: &UsageModelSpec,
    ) -> Result<String> {
        require_operator(actor)?;
        let name = check_text("a usage model name", &spec.name, 100)?;
        if spec.price_cents < 0 {
            return Err(ServiceError::Invalid("a price cannot be negative".into()));
        }
        if spec.window.is_some_and(|(a, b)| a >= 1440 || b >= 1440 || a == b) {
            return Err(ServiceError::Invalid("a time window is two different minutes of the day, 0-1439".into()));
        }
        let mut tx = self.db.write().await?;
        let id = catalog::insert_usage_model(&mut tx, definition_id, &name, spec, self.now()).await?;
        audit(&mut tx, self.now(), actor, "usage_model.create", &id, serde_json::to_value(spec).unwrap_or_default())
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Imports a topology file: switches, links and service interfaces (with the
    /// organizations that own them, created with the default account when new). Importing
    /// the same file again is a no-op; the report lists every difference. Removing an
    /// interface or switch that carries a channel is refused.
    pub async fn import_topology(&self, actor: &Actor, text: &str, file: &str) -> Result<ImportReport> {
        require_operator(actor)?;
        let topo = crate::topology::parse(text).map_err(|diags| {
            let list: Vec<String> = diags.iter().map(|d| format!("{file}:{d}")).collect();
            ServiceError::Invalid(list.join("\n"))
        })?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut report = ImportReport::default();

        // Switches.
        let old: BTreeMap<String, String> = sqlx::query("SELECT name, params FROM switches")
            .fetch_all(&mut tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("params")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let new: BTreeMap<String, (String, String)> = topo
            .switches
            .iter()
            .map(|s| {
                (s.name.clone(), (s.driver.kind().to_string(), serde_json::to_string(&s.driver).unwrap_or_default()))
            })
            .collect();
        for name in old.keys().filter(|n| !new.contains_key(*n)) {
            let busy = sqlx::query("SELECT channel_id FROM vlan_allocations WHERE switch = $1 LIMIT 1")
                .bind(name.as_str())
                .fetch_optional(&mut tx)
                .await?;
            if let Some(r) = busy {
                let ch: String = r.try_get("channel_id")?;
                return Err(ServiceError::Conflict(format!(
                    "switch `{name}` carries channel `{ch}`: terminate it before removing the switch"
                )));
            }
            sqlx::query("DELETE FROM switches WHERE name = $1").bind(name.as_str()).execute(&mut tx).await?;
            sqlx::query("DELETE FROM switch_items WHERE switch = $1").bind(name.as_str()).execute(&mut tx).await?;
            self.dry.forget();
            report.switches_removed.push(name.clone());
        }
        for (name, (driver, params)) in &new {
            match old.get(name) {
                None => {
                    sqlx::query("INSERT INTO switches (name, driver, params) VALUES ($1, $2, $3)")
                        .bind(name.as_str())
                        .bind(driver.as_str())
                        .bind(params.as_str())
                        .execute(&mut tx)
                        .await?;
                    report.switches_added.push(name.clone());
                }
                Some(p) if p != params => {
                    sqlx::query("UPDATE switches SET driver = $2, params = $3 WHERE name = $1")
                        .bind(name.as_str())
                        .bind(driver.as_str())
                        .bind(params.as_str())
                        .execute(&mut tx)
                        .await?;
                    report.switches_changed.push(name.clone());
                }
                Some(_) => {}
            }
        }

        // Links.
        let old_links: BTreeSet<(String, String)> = sqlx::query("SELECT a, b FROM links")
            .fetch_all(&mut tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("a")?, r.try_get("b")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let new_links: BTreeSet<(String, String)> =
            topo.links.iter().map(|l| (l.a.to_string(), l.b.to_string())).collect();
        for (a, b) in old_links.difference(&new_links) {
            sqlx::query("DELETE FROM links WHERE a = $1 AND b = $2")
                .bind(a.as_str())
                .bind(b.as_str())
                .execute(&mut tx)
                .await?;
            report.links_removed.push(format!("{a} -- {b}"));
        }
        for (a, b) in new_links.difference(&old_links) {
            sqlx::query("INSERT INTO links (a, b) VALUES ($1, $2)")
                .bind(a.as_str())
                .bind(b.as_str())
                .execute(&mut tx)
                .await?;
            report.links_added.push(format!("{a} -- {b}"));
        }

        // Organizations named by interfaces.
        let mut orgs = organizations::ids_by_name(&mut tx).await?;
        for iface in &topo.interfaces {
            if !orgs.contains_key(&iface.organization) {
                let account = self.new_org_account(&mut tx).await?;
                let id = organizations::insert(&mut tx, &iface.organization, &account, now).await?;
                report.organizations_created.push(iface.organization.clone());
                orgs.insert(iface.organization.clone(), id);
            }
        }

        // Interfaces.
        let old_ifaces: BTreeMap<String, String> = sqlx::query(
            "SELECT name, COALESCE(org_id, '') || '|' || switch || '|' || port || '|' || macs || '|' || \
             CAST(capacity_mbps AS TEXT) || '|' || mode AS k FROM service_interfaces",
        )
        .fetch_all(&mut tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("k")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        let mut new_ifaces = BTreeSet::new();
        for iface in &topo.interfaces {
            new_ifaces.insert(iface.name.clone());
            let org = orgs.get(&iface.organization).cloned().unwrap_or_default();
            let macs = iface.macs.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            let key =
                format!("{org}|{}|{}|{macs}|{}|{}", iface.switch, iface.port, iface.capacity_mbps, iface.mode.as_str());
            match old_ifaces.get(&iface.name) {
                Some(k) if *k == key => continue,
                Some(_) => report.interfaces_changed.push(iface.name.clone()),
                None => report.interfaces_added.push(iface.name.clone()),
            }
            let q = if old_ifaces.contains_key(&iface.name) {
                "UPDATE service_interfaces SET org_id = $2, switch = $3, port = $4, macs = $5, capacity_mbps = $6, mode = $7 \
                 WHERE name = $1"
            } else {
                "INSERT INTO service_interfaces (name, org_id, switch, port, macs, capacity_mbps, mode) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            };
            sqlx::query(q)
                .bind(iface.name.as_str())
                .bind(org.as_str())
                .bind(iface.switch.as_str())
                .bind(iface.port.as_str())
                .bind(macs.as_str())
                .bind(to_i64(iface.capacity_mbps))
                .bind(iface.mode.as_str())
                .execute(&mut tx)
                .await?;
        }
        for name in old_ifaces.keys().filter(|n| !new_ifaces.contains(*n)) {
            let used = sqlx::query("SELECT channel_id FROM attachments WHERE interface = $1 LIMIT 1")
                .bind(name.as_str())
                .fetch_optional(&mut tx)
                .await?;
            if let Some(r) = used {
                let ch: String = r.try_get("channel_id")?;
                return Err(ServiceError::Conflict(format!(
                    "interface `{name}` is (or was) plugged into channel `{ch}` and cannot be removed; keep it in the file"
                )));
            }
            sqlx::query("DELETE FROM service_interfaces WHERE name = $1").bind(name.as_str()).execute(&mut tx).await?;
            report.interfaces_removed.push(name.clone());
        }

        // The file itself.
        let stored = sqlx::query("SELECT revision, source FROM topology WHERE id = 1").fetch_optional(&mut tx).await?;
        let (revision, same) = match &stored {
            Some(r) => {
                let rev: i64 = r.try_get("revision")?;
                let src: String = r.try_get("source")?;
                (rev, src == text)
            }
            None => (0, false),
        };
        report.changed = !same
            || !(report.switches_added.is_empty()
                && report.switches_removed.is_empty()
                && report.switches_changed.is_empty()
                && report.links_added.is_empty()
                && report.links_removed.is_empty()
                && report.interfaces_added.is_empty()
                && report.interfaces_removed.is_empty()
                && report.interfaces_changed.is_empty()
                && report.organizations_created.is_empty());
        report.revision = if report.changed { revision + 1 } else { revision };
        if report.changed {
            if stored.is_some() {
                sqlx::query(
                    "UPDATE topology SET name = $1, source = $2, file = $3, revision = $4, imported_at = $5 WHERE id = 1",
                )
                .bind(topo.name.as_str())
                .bind(text)
                .bind(file)
                .bind(report.revision)
                .bind(now)
                .execute(&mut tx)
                .await?;
            } else {
                sqlx::query(
                    "INSERT INTO topology (id, name, source, file, revision, imported_at) VALUES (1, $1, $2, $3, $4, $5)",
                )
                .bind(topo.name.as_str())
                .bind(text)
                .bind(file)
                .bind(report.revision)
                .bind(now)
                .execute(&mut tx)
                .await?;
            }
            audit(
                &mut tx,
                now,
                actor,
                "topology.import",
                &topo.name,
                serde_json::to_value(&report).unwrap_or_default(),
            )
            .await?;
        }
        tx.commit().await?;
        self.forget_topology();
        Ok(report)
    }
}

/// A hash that never matches, for timing-safe logins of unknown users.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            Argon2::default()
                .hash_password(b"no such user, no such password")
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

pub(crate) async fn hash_blocking(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ServiceError::Invalid(format!("cannot hash the password: {e}")))?
}
