//! Organizations, their accounts with the operator, and their users (with argon2 password
//! hashes; the hashing itself is the service's).

use std::collections::BTreeMap;

use crate::model::ChannelKind;
use crate::model::actor::{Actor, OPERATOR_ORG, UserRole};
use crate::orchestrator::policy::{Account, AccountStatus};

use super::{
    Db, Dialect, Executor, Row, SqlError, StoreError, WriteTx, is_unique_violation, lock, new_id, query, split_list,
    to_i64, to_u64,
};

/// A user as a login finds it: who, and the stored password hash (none for users that
/// cannot log in).
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user_id: String,
    pub org_id: String,
    pub role: UserRole,
    pub password_hash: String,
}

/// An organization's account with what it and one interface carry already: what a request
/// to plug that interface into a channel is checked against.
#[derive(Clone, Debug)]
pub struct AccountInUse {
    pub account: Account,
    /// The channels the organization has live attachments in.
    pub channels_held: u64,
    /// The interface's live attachments.
    pub interface_channels: u64,
    /// The bandwidth of those attachments (Mb/s): each one's own, or else its channel's.
    pub interface_mbps: u64,
}

/// Creates organization `name` with `account`; its ID. A taken name is a conflict.
pub async fn insert(tx: &mut WriteTx, name: &str, account: &Account, now: i64) -> Result<String, StoreError> {
    let id = new_id("org");
    let r = query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id.as_str())
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await;
    match r {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict(format!("an organization named `{name}` exists already")));
        }
        r => r?,
    };
    let insert = query(
        "INSERT INTO accounts (org_id, status, kinds, max_bandwidth_mbps, max_channels, classes, balance_cents, \
         credit_limit_cents, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    );
    bind_account(insert.bind(id.as_str()), account, now).execute(&mut *tx).await?;
    Ok(id)
}

/// Binds an account's columns as [`insert`] and [`set_account`] both number them: `$2`
/// status to `$8` credit limit, `$9` the time (`$1`, the organization, is bound first).
fn bind_account<'q>(q: super::Query<'q>, account: &Account, now: i64) -> super::Query<'q> {
    q.bind(account.status.as_str().to_string())
        .bind(kinds_text(&account.kinds))
        .bind(to_i64(account.max_bandwidth_mbps))
        .bind(to_i64(account.max_channels))
        .bind(account.classes.join(","))
        .bind(account.balance_cents)
        .bind(account.credit_limit_cents)
        .bind(now)
}

/// Replaces the account of organization `org_id`; not found when there is none.
pub async fn set_account(tx: &mut WriteTx, org_id: &str, account: &Account, now: i64) -> Result<(), StoreError> {
    let update = query(
        "UPDATE accounts SET status = $2, kinds = $3, max_bandwidth_mbps = $4, max_channels = $5, classes = $6, \
         balance_cents = $7, credit_limit_cents = $8, updated_at = $9 WHERE org_id = $1",
    );
    let n = bind_account(update.bind(org_id), account, now).execute(&mut *tx).await?;
    if n == 0 { Err(StoreError::NotFound(format!("organization `{org_id}`"))) } else { Ok(()) }
}

/// The account of organization `org_id`.
pub async fn account(db: &Db, org_id: &str) -> Result<Account, StoreError> {
    let row = query("SELECT * FROM accounts WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account of `{org_id}`")))?;
    Ok(account_from_row(&row)?)
}

/// The account of organization `org_id`, or `None`, read where the caller reads the rest
/// (in a write transaction: the operator may have changed it).
pub async fn account_tx<'e>(ex: impl Executor<'e>, org_id: &str) -> Result<Option<Account>, StoreError> {
    let row = query("SELECT * FROM accounts WHERE org_id = $1").bind(org_id).fetch_optional(ex).await?;
    Ok(row.map(|r| account_from_row(&r)).transpose()?)
}

/// The ID of the organization named `name`.
pub async fn id_by_name<'e>(ex: impl Executor<'e>, name: &str) -> Result<String, StoreError> {
    let row = query("SELECT id FROM organizations WHERE name = $1")
        .bind(name)
        .fetch_optional(ex)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("organization `{name}`")))?;
    Ok(row.try_get("id")?)
}

/// The ID of the organization named `name` in any case, if there is one.
pub async fn id_in_any_case<'e>(ex: impl Executor<'e>, name: &str) -> Result<Option<String>, StoreError> {
    let row = query("SELECT id FROM organizations WHERE LOWER(name) = LOWER($1) ORDER BY id LIMIT 1")
        .bind(name)
        .fetch_optional(ex)
        .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// The name of organization `org_id`.
pub async fn name_of(db: &Db, org_id: &str) -> Result<String, StoreError> {
    let row = query("SELECT name FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("organization `{org_id}`")))?;
    Ok(row.try_get("name")?)
}

/// Every organization's ID by name.
pub async fn ids_by_name(tx: &mut WriteTx) -> Result<BTreeMap<String, String>, StoreError> {
    let rows = query("SELECT id, name FROM organizations").fetch_all(&mut *tx).await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("id")?))).collect::<Result<_, SqlError>>()?)
}

/// Every organization but `except`, as (ID, name), by name.
pub async fn all_but(db: &Db, except: &str) -> Result<Vec<(String, String)>, StoreError> {
    let rows =
        query("SELECT id, name FROM organizations WHERE id <> $1 ORDER BY name").bind(except).fetch_all(db).await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect::<Result<_, SqlError>>()?)
}

/// Adds a user to organization `org_id`; its ID. A taken email is a conflict. A user
/// without a password hash cannot log in until they choose one (`people::use_welcome`).
pub async fn insert_user(
    tx: &mut WriteTx,
    org_id: &str,
    email: &str,
    name: &str,
    role: UserRole,
    password_hash: Option<&str>,
    now: i64,
) -> Result<String, StoreError> {
    let id = new_id("usr");
    let r = query(
        "INSERT INTO users (id, org_id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.as_str())
    .bind(org_id)
    .bind(email)
    .bind(name)
    .bind(role.as_str())
    .bind(password_hash)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match r {
        Ok(_) => Ok(id),
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::Conflict(format!("a user with email `{email}` exists already: log in instead")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The user with `email` (already lower case), for a login.
pub async fn credentials(db: &Db, email: &str) -> Result<Option<Credentials>, StoreError> {
    let row = query(concat!(
        "SELECT id, org_id, role, password_hash FROM users \
         WHERE email = $1 AND ",
        can_log_in!("")
    ))
    .bind(email)
    .fetch_optional(db)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let role: String = r.try_get("role")?;
    Ok(Some(Credentials {
        user_id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        role: UserRole::parse(&role).unwrap_or(UserRole::Member),
        password_hash: r.try_get::<Option<String>>("password_hash")?.unwrap_or_default(),
    }))
}

/// Whether someone can log in with `email`: a user has it, has chosen a password and was
/// not removed.
pub async fn can_log_in<'e>(ex: impl Executor<'e>, email: &str) -> Result<bool, StoreError> {
    let row = query(concat!("SELECT id FROM users WHERE email = $1 AND ", can_log_in!("")))
        .bind(email)
        .fetch_optional(ex)
        .await?;
    Ok(row.is_some())
}

/// The organization of the user with `email` (already lower case), if there is one.
pub async fn of_user_email<'e>(ex: impl Executor<'e>, email: &str) -> Result<Option<String>, StoreError> {
    let row = query("SELECT org_id FROM users WHERE email = $1").bind(email).fetch_optional(ex).await?;
    Ok(row.map(|r| r.try_get("org_id")).transpose()?)
}

/// The actor for user `user_id`, acting from `source`.
pub async fn actor(db: &Db, user_id: &str, source: &str) -> Result<Actor, StoreError> {
    let r = query("SELECT id, email, org_id, role FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user `{user_id}`")))?;
    let role: String = r.try_get("role")?;
    Ok(Actor {
        user_id: r.try_get("id")?,
        email: r.try_get("email")?,
        org_id: r.try_get("org_id")?,
        role: UserRole::parse(&role).unwrap_or(UserRole::Member),
        source: source.into(),
    })
}

/// An organization that nobody can log in for yet (one the operator imported with the
/// topology: its ports wait for their first admin), by name in any case: its ID and who may
/// become its first admin (the topology's contacts). `None` when there is no such
/// organization, or someone can log in for it. A person still to confirm their address
/// (no password yet) does not count. The operator's own organization is never one.
pub async fn unclaimed<'e>(ex: impl Executor<'e>, name: &str) -> Result<Option<(String, Vec<String>)>, StoreError> {
    unclaimed_where(ex, "LOWER(g.name) = LOWER($1)", name.trim()).await
}

/// [`unclaimed`] by the organization's ID.
pub async fn unclaimed_id<'e>(
    ex: impl Executor<'e>,
    org_id: &str,
) -> Result<Option<(String, Vec<String>)>, StoreError> {
    unclaimed_where(ex, "g.id = $1", org_id).await
}

async fn unclaimed_where<'e>(
    ex: impl Executor<'e>,
    which: &str,
    value: &str,
) -> Result<Option<(String, Vec<String>)>, StoreError> {
    let sql = format!(
        "SELECT g.id, g.contacts FROM organizations g WHERE {which} AND g.id <> '{OPERATOR_ORG}' AND {}",
        nobody_logs_in_for!("g")
    );
    let Some(row) = query(sql).bind(value).fetch_optional(ex).await? else { return Ok(None) };
    Ok(Some((row.try_get("id")?, contacts_of(&row)?)))
}

/// The contacts column of an organization's row (`[]` for none).
fn contacts_of(row: &Row) -> Result<Vec<String>, SqlError> {
    let contacts: Option<String> = row.try_get("contacts")?;
    Ok(contacts.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default())
}

/// An organization nobody can log in for yet, as the operator's page lists it.
#[derive(Clone, Debug)]
pub struct Waiting {
    pub name: String,
    /// Who may claim it from an invitation (the topology's contacts).
    pub contacts: Vec<String>,
    /// Its service interfaces.
    pub ports: i64,
    /// People who wait to choose a password (claimants, or people the operator added).
    pub pending: i64,
}

/// Every organization but the operator's that nobody can log in for yet, by name.
pub async fn waiting(db: &Db) -> Result<Vec<Waiting>, StoreError> {
    let sql = format!(
        "SELECT g.name, g.contacts, \
         (SELECT COUNT(*) FROM service_interfaces i WHERE i.org_id = g.id) AS ports, \
         (SELECT COUNT(*) FROM users u WHERE u.org_id = g.id AND u.removed_at IS NULL) AS pending \
         FROM organizations g WHERE g.id <> '{OPERATOR_ORG}' AND {} ORDER BY g.name",
        nobody_logs_in_for!("g")
    );
    let rows = query(sql).fetch_all(db).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(Waiting {
            name: r.try_get("name")?,
            contacts: contacts_of(r)?,
            ports: r.try_get("ports")?,
            pending: r.try_get("pending")?,
        });
    }
    Ok(out)
}

/// Locks organization `org_id`'s row until `tx` ends (PostgreSQL; SQLite's writer holds the
/// whole database), so that what is decided about it is decided one at a time.
pub async fn lock_row(tx: &mut WriteTx, dialect: Dialect, org_id: &str) -> Result<(), StoreError> {
    let sql = format!("SELECT id FROM organizations WHERE id = $1{}", lock(dialect));
    query(sql).bind(org_id).fetch_optional(&mut *tx).await?;
    Ok(())
}

/// Sets who may become organization `org_id`'s first admin (none when empty).
pub async fn set_contacts(tx: &mut WriteTx, org_id: &str, contacts: &[String]) -> Result<(), StoreError> {
    let text = (!contacts.is_empty()).then(|| serde_json::Value::from(contacts.to_vec()).to_string());
    query("UPDATE organizations SET contacts = $1 WHERE id = $2").bind(text).bind(org_id).execute(&mut *tx).await?;
    Ok(())
}

/// The account of organization `org_id` with its live channels and interface `interface`'s
/// use, or `None` when it has no account. One statement, and on PostgreSQL the account row
/// stays locked until `tx` ends, so concurrent requests of one organization count one after
/// the other. The channels it holds are the account row's count, which the writes that plug
/// and unplug interfaces keep (`channels::insert_attachment`, `detach`,
/// `release_attachments`); the interface's use is counted from its live attachments (a
/// terminated channel's are detached with it), each one range of one index.
pub async fn account_in_use(
    tx: &mut WriteTx,
    dialect: Dialect,
    org_id: &str,
    interface: &str,
) -> Result<Option<AccountInUse>, StoreError> {
    let sql = format!(
        "SELECT a.status, a.kinds, a.max_bandwidth_mbps, a.max_channels, a.classes, a.balance_cents, \
         a.credit_limit_cents, \
         a.channels_held AS held, \
         (SELECT COUNT(*) FROM attachments t WHERE t.interface = $2 AND t.state = 'attached') AS n, \
         (SELECT CAST(COALESCE(SUM(COALESCE(t.bandwidth_mbps, c.bandwidth_mbps)), 0) AS BIGINT) FROM attachments t \
           JOIN channels c ON c.id = t.channel_id WHERE t.interface = $2 AND t.state = 'attached') AS bw \
         FROM accounts a WHERE a.org_id = $1{}",
        lock(dialect)
    );
    let row = query(sql).bind(org_id).bind(interface).fetch_optional(&mut *tx).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(AccountInUse {
        account: account_from_row(&row)?,
        channels_held: to_u64(row.try_get("held")?),
        interface_channels: to_u64(row.try_get("n")?),
        interface_mbps: to_u64(row.try_get("bw")?),
    }))
}

/// The ID of the organization named `name` and how many users it has, read in `tx`, or
/// `None` when there is none.
///
/// Names are compared in any case: `GLOBEX` is `globex`, so that a registration cannot
/// make a second organization that reads as another's.
pub async fn named_with_users(tx: &mut WriteTx, name: &str) -> Result<Option<(String, i64)>, StoreError> {
    let row = query(
        "SELECT g.id, (SELECT COUNT(*) FROM users u WHERE u.org_id = g.id) AS users FROM organizations g \
         WHERE LOWER(g.name) = LOWER($1)",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(g) = row else { return Ok(None) };
    Ok(Some((g.try_get("id")?, g.try_get("users")?)))
}

/// Channel kinds as stored: `p2p,p2mp`.
pub fn kinds_text(kinds: &[ChannelKind]) -> String {
    kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")
}

/// Stored channel kinds (unknown ones dropped).
pub fn parse_kinds(s: &str) -> Vec<ChannelKind> {
    split_list(s).iter().filter_map(|k| k.parse().ok()).collect()
}

/// An `accounts` row as the account it holds.
pub fn account_from_row(row: &Row) -> Result<Account, SqlError> {
    let status: String = row.try_get("status")?;
    Ok(Account {
        status: AccountStatus::parse(&status).unwrap_or(AccountStatus::Suspended),
        kinds: parse_kinds(&row.try_get::<String>("kinds")?),
        max_bandwidth_mbps: to_u64(row.try_get("max_bandwidth_mbps")?),
        max_channels: to_u64(row.try_get("max_channels")?),
        classes: split_list(&row.try_get::<String>("classes")?),
        balance_cents: row.try_get("balance_cents")?,
        credit_limit_cents: row.try_get("credit_limit_cents")?,
    })
}
