//! The imported topology as kept: the file itself (one row, whose revision every instance
//! checks before it trusts its parsed copy), the switches with their drivers, the links
//! between them, and the service interfaces organizations plug channels into. An import
//! writes them all in one transaction; what it changes is the service's to work out (the
//! difference report), the statements are here. Not the switches' configuration or VLANs:
//! those belong to the orders that put them there.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;

use super::{Db, StoreError, WriteTx, to_i64};

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

/// Every switch's driver parameters (JSON), by name.
pub async fn switch_params(tx: &mut WriteTx) -> Result<BTreeMap<String, String>, StoreError> {
    let rows = sqlx::query("SELECT name, params FROM switches").fetch_all(&mut *tx).await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("params")?))).collect::<Result<_, sqlx::Error>>()?)
}

/// A channel that holds a VLAN on switch `name`, if any: such a switch cannot go.
pub async fn channel_on_switch(tx: &mut WriteTx, name: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT channel_id FROM vlan_allocations WHERE switch = $1 LIMIT 1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map(|r| r.try_get("channel_id")).transpose()?)
}

/// Removes switch `name` and what the dry-run driver kept of its configuration.
pub async fn delete_switch(tx: &mut WriteTx, name: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM switches WHERE name = $1").bind(name).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM switch_items WHERE switch = $1").bind(name).execute(&mut *tx).await?;
    Ok(())
}

/// Adds switch `name`, driven by `driver` with `params` (JSON).
pub async fn insert_switch(tx: &mut WriteTx, name: &str, driver: &str, params: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO switches (name, driver, params) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(driver)
        .bind(params)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Drives switch `name` with `driver` and `params` (JSON) from now on.
pub async fn update_switch(tx: &mut WriteTx, name: &str, driver: &str, params: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE switches SET driver = $2, params = $3 WHERE name = $1")
        .bind(name)
        .bind(driver)
        .bind(params)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Every link, as the pair of its ends (`switch:port` each).
pub async fn links(tx: &mut WriteTx) -> Result<BTreeSet<(String, String)>, StoreError> {
    let rows = sqlx::query("SELECT a, b FROM links").fetch_all(&mut *tx).await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("a")?, r.try_get("b")?))).collect::<Result<_, sqlx::Error>>()?)
}

/// Removes the link between `a` and `b`.
pub async fn delete_link(tx: &mut WriteTx, a: &str, b: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM links WHERE a = $1 AND b = $2").bind(a).bind(b).execute(&mut *tx).await?;
    Ok(())
}

/// Adds a link between `a` and `b`.
pub async fn insert_link(tx: &mut WriteTx, a: &str, b: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO links (a, b) VALUES ($1, $2)").bind(a).bind(b).execute(&mut *tx).await?;
    Ok(())
}

/// Every service interface as the text [`interface_key`] makes of it, by name: two
/// interfaces with the same text are stored the same.
pub async fn interface_keys(tx: &mut WriteTx) -> Result<BTreeMap<String, String>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, COALESCE(org_id, '') || '|' || switch || '|' || port || '|' || macs || '|' || \
         CAST(capacity_mbps AS TEXT) || '|' || mode AS k FROM service_interfaces",
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("k")?))).collect::<Result<_, sqlx::Error>>()?)
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
    let row = sqlx::query("SELECT channel_id FROM attachments WHERE interface = $1 LIMIT 1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map(|r| r.try_get("channel_id")).transpose()?)
}

/// Removes service interface `name`.
pub async fn delete_interface(tx: &mut WriteTx, name: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM service_interfaces WHERE name = $1").bind(name).execute(&mut *tx).await?;
    Ok(())
}

/// The stored file's revision and text, read in the import's transaction; `None` before
/// the first import.
pub async fn stored(tx: &mut WriteTx) -> Result<Option<(i64, String)>, StoreError> {
    let row = sqlx::query("SELECT revision, source FROM topology WHERE id = 1").fetch_optional(&mut *tx).await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((r.try_get("revision")?, r.try_get("source")?)))
}

/// Replaces the stored file with `new`, imported at `now`.
pub async fn update_file(tx: &mut WriteTx, new: &NewFile<'_>, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE topology SET name = $1, source = $2, file = $3, revision = $4, imported_at = $5 WHERE id = 1")
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
    sqlx::query("INSERT INTO topology (id, name, source, file, revision, imported_at) VALUES (1, $1, $2, $3, $4, $5)")
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
    let row = sqlx::query("SELECT revision FROM topology WHERE id = 1").fetch_optional(db).await?;
    Ok(row.map(|r| r.try_get("revision")).transpose()?)
}

/// The stored file; an error when nothing was imported.
pub async fn file(db: &Db) -> Result<File, StoreError> {
    let r = sqlx::query("SELECT revision, source, file FROM topology WHERE id = 1").fetch_one(db).await?;
    Ok(File { revision: r.try_get("revision")?, source: r.try_get("source")?, file: r.try_get("file")? })
}

async fn write_interface(tx: &mut WriteTx, sql: &'static str, iface: &NewInterface<'_>) -> Result<(), StoreError> {
    sqlx::query(sql)
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
