//! The imported topology as kept: the file itself (one row, whose revision every instance
//! checks before it trusts its parsed copy), the switches with their drivers, the links
//! between them, and the service interfaces organizations plug channels into. An import
//! writes them all in one transaction; what it changes is the service's to work out (the
//! difference report), the statements are here. Not the switches' configuration or VLANs:
//! those belong to the orders that put them there; read here only as the operator's views
//! show them (the dry-run switches' items, the VLAN allocations).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::InterfaceMode;

use super::{Db, Dialect, SqlError, StoreError, WriteTx, placeholders, query, query_scalar, to_i64, to_u64, varying};

/// The stored topology file.
#[derive(Clone, Debug)]
pub struct File {
    /// Counts the imports that changed something: 1 after the first.
    pub revision: i64,
    /// The file's text, as imported.
    pub source: String,
    /// Where it was imported from, for messages.
    pub file: String,
}

/// A topology file to store as revision `revision`.
#[derive(Clone, Copy, Debug)]
pub struct NewFile<'a> {
    /// The topology's own name (`name:` in the file).
    pub name: &'a str,
    pub source: &'a str,
    pub file: &'a str,
    pub revision: i64,
}

/// A service interface as an import stores it.
#[derive(Clone, Copy, Debug)]
pub struct NewInterface<'a> {
    pub name: &'a str,
    /// The organization that owns it.
    pub org_id: &'a str,
    pub switch: &'a str,
    pub port: &'a str,
    /// Its MAC addresses, comma-separated.
    pub macs: &'a str,
    pub capacity_mbps: u64,
    /// `port` or `tagged`.
    pub mode: &'a str,
}

/// A service interface as people see it: where it is, whose, and what is plugged in.
#[derive(Clone, Debug)]
pub struct Interface {
    pub name: String,
    pub switch: String,
    pub port: String,
    /// `port` or `tagged`.
    pub mode: String,
    pub capacity_mbps: u64,
    /// The owning organization's name (empty for the operator's own).
    pub organization: String,
    /// The channels plugged in now, oldest attachment first.
    pub channels: Vec<String>,
}

/// Whose service interfaces to read.
#[derive(Clone, Copy, Debug)]
pub enum Whose<'a> {
    /// Every interface (what the operator's staff see).
    Every,
    /// The interfaces organization `org_id` owns.
    Of(&'a str),
}

/// One VLAN a channel holds on one switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub switch: String,
    pub vlan: u16,
    pub channel_id: String,
}

/// Every switch's driver parameters (JSON), by name.
pub async fn switch_params(tx: &mut WriteTx) -> Result<BTreeMap<String, String>, StoreError> {
    let rows = query("SELECT name, params FROM switches").fetch_all(&mut *tx).await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("params")?))).collect::<Result<_, SqlError>>()?)
}

/// A channel that holds a VLAN on switch `name`, if any: such a switch cannot go.
pub async fn channel_on_switch(tx: &mut WriteTx, name: &str) -> Result<Option<String>, StoreError> {
    let row = query("SELECT channel_id FROM vlan_allocations WHERE switch = $1 LIMIT 1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map(|r| r.try_get("channel_id")).transpose()?)
}

/// Removes switch `name` and what the dry-run driver kept of its configuration.
pub async fn delete_switch(tx: &mut WriteTx, name: &str) -> Result<(), StoreError> {
    query("DELETE FROM switches WHERE name = $1").bind(name).execute(&mut *tx).await?;
    query("DELETE FROM switch_items WHERE switch = $1").bind(name).execute(&mut *tx).await?;
    tx.on_commit(super::cache::Pending::ForgetDry);
    Ok(())
}

/// Adds switch `name`, driven by `driver` with `params` (JSON).
pub async fn insert_switch(tx: &mut WriteTx, name: &str, driver: &str, params: &str) -> Result<(), StoreError> {
    query("INSERT INTO switches (name, driver, params) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(driver)
        .bind(params)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Drives switch `name` with `driver` and `params` (JSON) from now on.
pub async fn update_switch(tx: &mut WriteTx, name: &str, driver: &str, params: &str) -> Result<(), StoreError> {
    query("UPDATE switches SET driver = $2, params = $3 WHERE name = $1")
        .bind(name)
        .bind(driver)
        .bind(params)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Every link, as the pair of its ends (`switch:port` each).
pub async fn links(tx: &mut WriteTx) -> Result<BTreeSet<(String, String)>, StoreError> {
    let rows = query("SELECT a, b FROM links").fetch_all(&mut *tx).await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("a")?, r.try_get("b")?))).collect::<Result<_, SqlError>>()?)
}

/// Removes the link between `a` and `b`.
pub async fn delete_link(tx: &mut WriteTx, a: &str, b: &str) -> Result<(), StoreError> {
    query("DELETE FROM links WHERE a = $1 AND b = $2").bind(a).bind(b).execute(&mut *tx).await?;
    Ok(())
}

/// Adds a link between `a` and `b`.
pub async fn insert_link(tx: &mut WriteTx, a: &str, b: &str) -> Result<(), StoreError> {
    query("INSERT INTO links (a, b) VALUES ($1, $2)").bind(a).bind(b).execute(&mut *tx).await?;
    Ok(())
}

/// Every service interface as the text [`interface_key`] makes of it, by name: two
/// interfaces with the same text are stored the same.
pub async fn interface_keys(tx: &mut WriteTx) -> Result<BTreeMap<String, String>, StoreError> {
    let rows = query(
        "SELECT name, COALESCE(org_id, '') || '|' || switch || '|' || port || '|' || macs || '|' || \
         CAST(capacity_mbps AS TEXT) || '|' || mode AS k FROM service_interfaces",
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("k")?))).collect::<Result<_, SqlError>>()?)
}

/// `iface` as the text [`interface_keys`] reads of a stored interface: the two must agree,
/// so that an interface imported again unchanged is not rewritten.
pub fn interface_key(iface: &NewInterface<'_>) -> String {
    let NewInterface { name: _, org_id, switch, port, macs, capacity_mbps, mode } = iface;
    format!("{org_id}|{switch}|{port}|{macs}|{capacity_mbps}|{mode}")
}

/// Adds service interface `iface`.
pub async fn insert_interface(tx: &mut WriteTx, iface: &NewInterface<'_>) -> Result<(), StoreError> {
    write_interface(
        tx,
        "INSERT INTO service_interfaces (name, org_id, switch, port, macs, capacity_mbps, mode) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        iface,
    )
    .await
}

/// Replaces the stored service interface named `iface.name` with `iface`.
pub async fn update_interface(tx: &mut WriteTx, iface: &NewInterface<'_>) -> Result<(), StoreError> {
    write_interface(
        tx,
        "UPDATE service_interfaces SET org_id = $2, switch = $3, port = $4, macs = $5, capacity_mbps = $6, mode = $7 \
         WHERE name = $1",
        iface,
    )
    .await
}

/// A channel that interface `name` is or was plugged into, if any: such an interface
/// cannot go (the channel's history names it).
pub async fn channel_on_interface(tx: &mut WriteTx, name: &str) -> Result<Option<String>, StoreError> {
    let row = query("SELECT channel_id FROM attachments WHERE interface = $1 LIMIT 1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map(|r| r.try_get("channel_id")).transpose()?)
}

/// Removes service interface `name`.
pub async fn delete_interface(tx: &mut WriteTx, name: &str) -> Result<(), StoreError> {
    query("DELETE FROM service_interfaces WHERE name = $1").bind(name).execute(&mut *tx).await?;
    Ok(())
}

/// The stored file's revision and text, read in the import's transaction; `None` before
/// the first import.
pub async fn stored(tx: &mut WriteTx) -> Result<Option<(i64, String)>, StoreError> {
    let row = query("SELECT revision, source FROM topology WHERE id = 1").fetch_optional(&mut *tx).await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((r.try_get("revision")?, r.try_get("source")?)))
}

/// Replaces the stored file with `new`, imported at `now`.
pub async fn update_file(tx: &mut WriteTx, new: &NewFile<'_>, now: i64) -> Result<(), StoreError> {
    query("UPDATE topology SET name = $1, source = $2, file = $3, revision = $4, imported_at = $5 WHERE id = 1")
        .bind(new.name)
        .bind(new.source)
        .bind(new.file)
        .bind(new.revision)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Stores the first file, `new`, imported at `now`.
pub async fn insert_file(tx: &mut WriteTx, new: &NewFile<'_>, now: i64) -> Result<(), StoreError> {
    query("INSERT INTO topology (id, name, source, file, revision, imported_at) VALUES (1, $1, $2, $3, $4, $5)")
        .bind(new.name)
        .bind(new.source)
        .bind(new.file)
        .bind(new.revision)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The stored file's revision; `None` before the first import. One small row, so an
/// instance can ask often whether its parsed copy is still the file.
pub async fn revision(db: &Db) -> Result<Option<i64>, StoreError> {
    let row = query("SELECT revision FROM topology WHERE id = 1").fetch_optional(db).await?;
    Ok(row.map(|r| r.try_get("revision")).transpose()?)
}

/// The stored file; an error when nothing was imported.
pub async fn file(db: &Db) -> Result<File, StoreError> {
    let r = query("SELECT revision, source, file FROM topology WHERE id = 1").fetch_one(db).await?;
    Ok(File { revision: r.try_get("revision")?, source: r.try_get("source")?, file: r.try_get("file")? })
}

/// Who owns interface `name`: `None` when there is no such interface, `Some(None)` when
/// it is the operator's (owned by no organization).
pub async fn interface_owner(tx: &mut WriteTx, name: &str) -> Result<Option<Option<String>>, StoreError> {
    Ok(query_scalar("SELECT org_id FROM service_interfaces WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?)
}

/// The service interfaces `whose` covers, by name, each with the channels plugged in now.
/// Two statements whatever the number of interfaces.
pub async fn interfaces(db: &Db, whose: Whose<'_>) -> Result<Vec<Interface>, StoreError> {
    let (org_id, every) = match whose {
        Whose::Every => ("", 1_i64),
        Whose::Of(org_id) => (org_id, 0),
    };
    let rows = query(
        "SELECT i.name, i.switch, i.port, i.mode, i.capacity_mbps, COALESCE(g.name, '') AS organization FROM service_interfaces i \
         LEFT JOIN organizations g ON g.id = i.org_id WHERE i.org_id = $1 OR $2 = 1 ORDER BY i.name",
    )
    .bind(org_id)
    .bind(every)
    .fetch_all(db)
    .await?;
    let plugged = query(
        "SELECT a.interface, a.channel_id FROM attachments a JOIN service_interfaces i ON i.name = a.interface \
         WHERE a.state = 'attached' AND (i.org_id = $1 OR $2 = 1) ORDER BY a.attached_at",
    )
    .bind(org_id)
    .bind(every)
    .fetch_all(db)
    .await?;
    let mut channels: HashMap<String, Vec<String>> = HashMap::new();
    for r in &plugged {
        channels.entry(r.try_get("interface")?).or_default().push(r.try_get("channel_id")?);
    }
    let interfaces = rows
        .iter()
        .map(|r| {
            let name: String = r.try_get("name")?;
            Ok(Interface {
                channels: channels.remove(&name).unwrap_or_default(),
                name,
                switch: r.try_get("switch")?,
                port: r.try_get("port")?,
                mode: r.try_get("mode")?,
                capacity_mbps: to_u64(r.try_get("capacity_mbps")?),
                organization: r.try_get("organization")?,
            })
        })
        .collect::<Result<_, SqlError>>()?;
    Ok(interfaces)
}

/// The items the dry-run driver keeps for `switch`, as stored (JSON), in order.
pub async fn switch_items(db: &Db, switch: &str) -> Result<Vec<String>, StoreError> {
    let rows =
        query("SELECT item FROM switch_items WHERE switch = $1 ORDER BY item").bind(switch).fetch_all(db).await?;
    Ok(rows.iter().map(|r| r.try_get("item")).collect::<Result<_, SqlError>>()?)
}

/// Every VLAN allocation, by switch and VLAN.
pub async fn allocations(db: &Db) -> Result<Vec<Allocation>, StoreError> {
    let rows =
        query("SELECT switch, vlan, channel_id FROM vlan_allocations ORDER BY switch, vlan").fetch_all(db).await?;
    let allocations = rows
        .iter()
        .map(|r| {
            let vlan: Option<i64> = r.try_get("vlan")?;
            Ok(Allocation {
                switch: r.try_get("switch")?,
                vlan: vlan.and_then(|v| u16::try_from(v).ok()).unwrap_or(0),
                channel_id: r.try_get("channel_id")?,
            })
        })
        .collect::<Result<_, SqlError>>()?;
    Ok(allocations)
}

/// Locks the rows of the switches `scope` until the transaction ends, so applies on one
/// switch take turns: row locks on PostgreSQL, taken in name order; on SQLite the write
/// transaction is exclusive already.
pub async fn lock_switches(tx: &mut WriteTx, dialect: Dialect, scope: &[String]) -> Result<(), StoreError> {
    if !scope.is_empty() && dialect == Dialect::Postgres {
        let sql = format!(
            "SELECT name FROM switches WHERE name IN ({}) ORDER BY name FOR UPDATE",
            placeholders(1, scope.len())
        );
        let mut q = varying(sql);
        for s in scope {
            q = q.bind(s.as_str());
        }
        q.fetch_all(&mut *tx).await?;
    }
    Ok(())
}

async fn write_interface(tx: &mut WriteTx, sql: &'static str, iface: &NewInterface<'_>) -> Result<(), StoreError> {
    query(sql)
        .bind(iface.name)
        .bind(iface.org_id)
        .bind(iface.switch)
        .bind(iface.port)
        .bind(iface.macs)
        .bind(to_i64(iface.capacity_mbps))
        .bind(iface.mode)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A service interface as a request to plug it in is checked against.
#[derive(Clone, Debug)]
pub struct Pluggable {
    pub name: String,
    /// The owning organization ("" for the operator's).
    pub org_id: String,
    pub mode: InterfaceMode,
    pub capacity_mbps: u64,
}

/// Service interface `name`.
pub async fn pluggable(db: &Db, name: &str) -> Result<Pluggable, StoreError> {
    let r = query("SELECT name, org_id, mode, capacity_mbps FROM service_interfaces WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("service interface `{name}`")))?;
    let mode: String = r.try_get("mode")?;
    Ok(Pluggable {
        name: r.try_get("name")?,
        org_id: r.try_get::<Option<String>>("org_id")?.unwrap_or_default(),
        mode: mode.parse().unwrap_or(InterfaceMode::Port),
        capacity_mbps: to_u64(r.try_get("capacity_mbps")?),
    })
}

/// The VLANs allocated on switch `switch`, each with its channel's ID and name, by VLAN.
pub async fn allocations_on(db: &Db, switch: &str) -> Result<Vec<(u16, String, String)>, StoreError> {
    let rows = query(
        "SELECT a.vlan, a.channel_id, c.name FROM vlan_allocations a JOIN channels c ON c.id = a.channel_id \
         WHERE a.switch = $1 ORDER BY a.vlan",
    )
    .bind(switch)
    .fetch_all(db)
    .await?;
    let out = rows
        .iter()
        .map(|r| {
            let vlan: Option<i64> = r.try_get("vlan")?;
            Ok((vlan.and_then(|v| u16::try_from(v).ok()).unwrap_or(0), r.try_get("channel_id")?, r.try_get("name")?))
        })
        .collect::<Result<_, SqlError>>()?;
    Ok(out)
}
