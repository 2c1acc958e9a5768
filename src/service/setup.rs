//! What the operator sets up: organizations and their accounts, users, the topology,
//! service definitions and usage models.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};

use crate::model::ChannelKind;
use crate::model::id::UsageModelId;
use crate::orchestrator::policy::{Account, AccountStatus, Definition, UsageModel};
use crate::store::organizations;
use crate::store::{WriteTx, catalog, settings, topology};

use super::{Actor, OPERATOR_ORG, Result, Service, ServiceError, UserRole, audit};

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
    match email.trim().parse::<crate::model::text::Email>() {
        Ok(e) => Ok(e.to_string()),
        Err(_) => Err(ServiceError::Invalid(format!("`{email}` is not an email address"))),
    }
}

pub(crate) fn check_text(what: &str, s: &str, max: usize) -> Result<String> {
    crate::model::text::required(what, s, max).map_err(|e| ServiceError::Invalid(e.to_string()))
}

/// Refuses `classes` that `topo` (read from `source`) does not name: their orders could not
/// be planned (issue 18 item 4: a class is the PCP of the channel's S-tags on trunks).
fn unknown_classes<'a>(
    topo: &crate::topology::Topology,
    classes: impl Iterator<Item = &'a str>,
    source: &str,
) -> Result<()> {
    let mut unknown: Vec<&str> = classes.filter(|c| topo.classes.pcp(c).is_none()).collect();
    unknown.sort_unstable();
    unknown.dedup();
    if unknown.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = topo.classes.names().collect();
    Err(ServiceError::Invalid(format!(
        "class of service {} not in {source}'s `classes` ({}): add it there with its PCP (0-7), e.g. \
         `classes: {{{}: 3}}`, or use one of those",
        unknown.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
        known.join(", "),
        unknown[0],
    )))
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
        if let Some(a) = &account {
            check_account(a)?;
            self.check_classes_known(a).await?;
        }
        let mut tx = self.db.write().await?;
        if let Some((_, _)) = organizations::named_with_users(&mut tx, &name).await? {
            return Err(ServiceError::Conflict(format!(
                "organization `{name}` exists already (names are told apart in any case)"
            )));
        }
        let account = match account {
            Some(a) => a,
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

    /// The classes of service a new organization starts with: what an invitee that has just
    /// registered can use (anyone may know it; the create form prefers them).
    pub async fn new_organization_classes(&self) -> Result<Vec<String>> {
        let account: Option<Account> = settings::get(&self.db, settings::NEW_ORGANIZATION).await?;
        Ok(account.unwrap_or_else(|| self.config.new_account.clone()).classes)
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
        self.check_classes_known(account).await?;
        if account.status != AccountStatus::Active {
            return Err(ServiceError::Invalid(
                "a new organization starts `active`: suspend or close one organization's account instead".into(),
            ));
        }
        if account.balance_cents < 0 {
            return Err(ServiceError::Invalid(
                "`balance_cents`: a new organization cannot start in debt: give 0 or more (a credit limit lets \
                 it go below zero)"
                    .into(),
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
        self.check_classes_known(account).await?;
        let mut tx = self.db.write().await?;
        organizations::set_account(&mut tx, org_id, account, self.now()).await?;
        audit(&mut tx, self.now(), actor, "account.update", org_id, serde_json::to_value(account).unwrap_or_default())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every class of `account` is one of the topology's (when one is imported): a class
    /// no channel can have is a typing error, which would otherwise only show when the
    /// organization's channels are refused.
    async fn check_classes_known(&self, account: &Account) -> Result<()> {
        let Ok(topo) = self.topology().await else { return Ok(()) };
        unknown_classes(&topo, account.classes.iter().map(String::as_str), "the topology")
    }

    /// Every channel that holds switch configuration (or is about to) still plans on `topo`,
    /// as its next order will plan it (channels keeping their VLANs first, each kept where
    /// it is free; its members' tags kept), and none of its ports changes mode under it: an
    /// import that would leave one unplannable (a tagged port made port-mode, a capacity
    /// cut below what its members take) or change what its customers' equipment must send
    /// is refused, naming each, so that no channel is left that no order can change or
    /// remove. Read inside `tx`, where no acceptance can add a member meanwhile.
    async fn live_channels_fit(&self, tx: &mut WriteTx, topo: &crate::topology::Topology, file: &str) -> Result<()> {
        let live = crate::store::channel_list::live_for_import(tx, self.db.dialect).await?;
        if live.is_empty() {
            return Ok(());
        }
        let now = self.topology().await?;
        let mut views: Vec<super::ChannelView> = live.into_iter().map(super::ChannelView::from).collect();
        views.sort_by_key(|c| c.vlan.is_none());
        let mut planner = crate::orchestrator::Planner::new(topo);
        let mut problems = Vec::new();
        for c in &views {
            let mut why: Vec<String> = c
                .live_attachments()
                .filter_map(|a| {
                    let (was, will) = (now.interface(&a.interface)?.mode, topo.interface(&a.interface)?.mode);
                    (was != will).then(|| {
                        format!(
                            "interface `{}` would change from {} mode to {} mode",
                            a.interface,
                            was.as_str(),
                            will.as_str()
                        )
                    })
                })
                .collect();
            if let Err(errors) = super::orders::plan_keeping_vlan(&mut planner, &c.spec()) {
                why.extend(errors.iter().map(|e| e.refusal.to_string()));
            }
            if !why.is_empty() {
                problems.push(format!("channel `{}` ({}, {}): {}", c.name, c.organization, c.id, why.join("; ")));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(ServiceError::Conflict(format!(
            "{file} would leave {} live channel(s) that no longer fit it: {}. Keep what they use in the file, or \
             terminate them first",
            problems.len(),
            problems.join("; ")
        )))
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
        let id = organizations::insert_user(&mut tx, org_id, &email, &name, role, Some(&hash), self.now()).await?;
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
            // A person without a password (one still to choose it, or removed) never logs
            // in, whatever is typed.
            Some(c) if ok && !c.password_hash.is_empty() => {
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
        // A class the topology does not map to a PCP would fail every order of it later.
        if let Ok(topo) = self.topology().await {
            unknown_classes(&topo, spec.classes.iter().map(String::as_str), "the topology")?;
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
    ) -> Result<UsageModelId> {
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
        Ok(UsageModelId::stored(id))
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
        // Every class a definition offers must stay one the switches can carry.
        let offered = catalog::definitions(&self.db).await?;
        unknown_classes(&topo, offered.iter().flat_map(|(_, d)| d.classes.iter().map(String::as_str)), file)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        self.live_channels_fit(&mut tx, &topo, file).await?;
        let mut report = ImportReport::default();

        // Switches.
        let old = topology::switch_params(&mut tx).await?;
        let new: BTreeMap<String, (String, String)> = topo
            .switches
            .iter()
            .map(|s| {
                (s.name.clone(), (s.driver.kind().to_string(), serde_json::to_string(&s.driver).unwrap_or_default()))
            })
            .collect();
        for name in old.keys().filter(|n| !new.contains_key(*n)) {
            if let Some(ch) = topology::channel_on_switch(&mut tx, name).await? {
                return Err(ServiceError::Conflict(format!(
                    "switch `{name}` carries channel `{ch}`: terminate it before removing the switch"
                )));
            }
            topology::delete_switch(&mut tx, name).await?;
            report.switches_removed.push(name.clone());
        }
        for (name, (driver, params)) in &new {
            match old.get(name) {
                None => {
                    topology::insert_switch(&mut tx, name, driver, params).await?;
                    report.switches_added.push(name.clone());
                }
                Some(p) if p != params => {
                    topology::update_switch(&mut tx, name, driver, params).await?;
                    report.switches_changed.push(name.clone());
                }
                Some(_) => {}
            }
        }

        // Links.
        let old_links = topology::links(&mut tx).await?;
        let new_links: BTreeSet<(String, String)> =
            topo.links.iter().map(|l| (l.a.to_string(), l.b.to_string())).collect();
        for (a, b) in old_links.difference(&new_links) {
            topology::delete_link(&mut tx, a, b).await?;
            report.links_removed.push(format!("{a} -- {b}"));
        }
        for (a, b) in new_links.difference(&old_links) {
            topology::insert_link(&mut tx, a, b).await?;
            report.links_added.push(format!("{a} -- {b}"));
        }

        // Organizations named by interfaces or listed with contacts; each one's contacts as
        // the file gives them (none when it lists none).
        let mut orgs = organizations::ids_by_name(&mut tx).await?;
        let named =
            topo.interfaces.iter().map(|i| i.organization.as_str()).chain(topo.organizations.iter().map(|o| o.0));
        // Names are told apart in any case: another spelling of one here would make a second
        // organization that reads as the first.
        let spelled: HashMap<String, String> = orgs.keys().map(|o| (o.to_lowercase(), o.clone())).collect();
        for org in named {
            if !orgs.contains_key(org) {
                if let Some(here) = spelled.get(&org.to_lowercase()) {
                    return Err(ServiceError::Invalid(format!(
                        "{file}: organization `{org}` is `{here}` here already: spell it `{here}`"
                    )));
                }
                let account = self.new_org_account(&mut tx).await?;
                let id = organizations::insert(&mut tx, org, &account, now).await?;
                report.organizations_created.push(org.to_string());
                orgs.insert(org.to_string(), id);
            }
        }
        for (name, id) in &orgs {
            organizations::set_contacts(&mut tx, id, topo.organizations.contacts(name)).await?;
        }

        // Interfaces.
        let old_ifaces = topology::interface_keys(&mut tx).await?;
        let mut new_ifaces = BTreeSet::new();
        for iface in &topo.interfaces {
            new_ifaces.insert(iface.name.clone());
            let org = orgs.get(&iface.organization).cloned().unwrap_or_default();
            let macs = iface.macs.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            let stored = topology::NewInterface {
                name: &iface.name,
                org_id: &org,
                switch: &iface.switch,
                port: &iface.port,
                macs: &macs,
                capacity_mbps: iface.capacity_mbps,
                mode: iface.mode.as_str(),
            };
            match old_ifaces.get(&iface.name) {
                Some(k) if *k == topology::interface_key(&stored) => continue,
                Some(_) => report.interfaces_changed.push(iface.name.clone()),
                None => report.interfaces_added.push(iface.name.clone()),
            }
            if old_ifaces.contains_key(&iface.name) {
                topology::update_interface(&mut tx, &stored).await?;
            } else {
                topology::insert_interface(&mut tx, &stored).await?;
            }
        }
        for name in old_ifaces.keys().filter(|n| !new_ifaces.contains(*n)) {
            if let Some(ch) = topology::channel_on_interface(&mut tx, name).await? {
                return Err(ServiceError::Conflict(format!(
                    "interface `{name}` is (or was) plugged into channel `{ch}` and cannot be removed; keep it in the file"
                )));
            }
            topology::delete_interface(&mut tx, name).await?;
            report.interfaces_removed.push(name.clone());
        }

        // The file itself.
        let stored = topology::stored(&mut tx).await?;
        let (revision, same) = match &stored {
            Some((rev, src)) => (*rev, src == text),
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
            let new = topology::NewFile { name: &topo.name, source: text, file, revision: report.revision };
            if stored.is_some() {
                topology::update_file(&mut tx, &new, now).await?;
            } else {
                topology::insert_file(&mut tx, &new, now).await?;
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

/// A hash for timing-safe logins of unknown users: of a password nobody knows (random for
/// each process), so that it matches nothing anyone types.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            Argon2::default()
                .hash_password(crate::store::new_token().as_bytes())
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
