//! VLAN allocations: which channel holds which VLAN on which switch, one row each, written
//! by the order worker as it plans a channel (and freed when the channel leaves the
//! switches). The primary key (switch, vlan) makes allocation race-free across instances:
//! a row that exists already means another instance took the VLAN first, answered as
//! [`StoreError::Raced`], and the worker plans again.

use super::cache::Pending;
use super::{
    Dialect, MAX_PARAMS, StoreError, WriteTx, in_list, is_unique_violation, json_param, json_rows, list_param,
    placeholders, query, varying,
};

/// Frees every VLAN channel `channel_id` holds.
pub async fn release(tx: &mut WriteTx, channel_id: &str) -> Result<(), StoreError> {
    query("DELETE FROM vlan_allocations WHERE channel_id = $1").bind(channel_id).execute(&mut *tx).await?;
    tx.on_commit(Pending::Released(vec![channel_id.to_string()]));
    Ok(())
}

/// Frees every VLAN the channels `channel_ids` hold, in one statement.
pub async fn release_many(tx: &mut WriteTx, dialect: Dialect, channel_ids: &[&str]) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM vlan_allocations WHERE {}", in_list(dialect, "channel_id", 1));
    query(sql).bind(list_param(dialect, channel_ids)).execute(&mut *tx).await?;
    tx.on_commit(Pending::Released(channel_ids.iter().map(|c| c.to_string()).collect()));
    Ok(())
}

/// The key of the PostgreSQL advisory lock [`plan_alone`] takes ("SWBDVLAN").
const PLANNING_LOCK: i64 = 0x5357_4244_564c_414e;

/// Makes `tx` the only transaction that plans VLANs (reads what is taken and allocates)
/// until it ends: on PostgreSQL a transaction-level advisory lock, which every instance's
/// planning takes after locking its channels' rows; on SQLite the writer is exclusive
/// already. Without it two workers planning at once (of one instance or two) picked the
/// same lowest free VLANs on the switches near the root, and the one that inserted second
/// was [`StoreError::Raced`]: at 10,000 channels 18% of the orders were planned again one
/// by one (docs/performance.md). The primary key still refuses a VLAN taken twice.
pub async fn plan_alone(tx: &mut WriteTx, dialect: Dialect) -> Result<(), StoreError> {
    if dialect == Dialect::Postgres {
        query("SELECT pg_advisory_xact_lock($1)").bind(PLANNING_LOCK).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Allocates the (switch, VLAN, channel) `rows` of one or more channels, in one statement
/// whatever their number. [`StoreError::Raced`] when another instance holds one of them
/// already (the transaction is then spoilt on PostgreSQL: roll it back).
pub async fn allocate_many(
    tx: &mut WriteTx,
    dialect: Dialect,
    rows: &[(String, u16, String)],
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO vlan_allocations (switch, vlan, channel_id) SELECT v.switch, v.vlan, v.channel_id FROM ({}) AS v",
        json_rows(dialect, 1, &[("switch", "TEXT"), ("vlan", "BIGINT"), ("channel_id", "TEXT")])
    );
    match query(sql).bind(json_param(rows)).execute(&mut *tx).await {
        Ok(_) => {
            tx.on_commit(Pending::Allocated(rows.to_vec()));
            Ok(())
        }
        Err(e) if is_unique_violation(&e) => Err(taken(tx)),
        Err(e) => Err(e.into()),
    }
}

/// The VLANs on each of `switches` held by channels other than `excluded`, by switch:
/// one row per switch with its VLANs as text (on a busy core that is thousands of VLANs,
/// and the driver's cost is per row).
pub async fn by_switch_except(
    tx: &mut WriteTx,
    switches: &[&str],
    excluded: &[&str],
) -> Result<Vec<(String, Vec<u16>)>, StoreError> {
    let mut out = Vec::new();
    for chunk in switches.chunks(MAX_PARAMS / 2) {
        let sql = format!(
            "SELECT switch, string_agg(CAST(vlan AS TEXT), ',') AS vlans FROM vlan_allocations \
             WHERE switch IN ({}){} GROUP BY switch",
            placeholders(1, chunk.len()),
            not_in("channel_id", 1 + chunk.len(), excluded.len())
        );
        let mut q = varying(sql);
        for sw in chunk {
            q = q.bind(*sw);
        }
        for id in excluded {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *tx).await? {
            let sw: String = r.try_get("switch")?;
            let vlans: String = r.try_get("vlans")?;
            out.push((sw, numbers(&vlans).collect()));
        }
    }
    Ok(out)
}

/// Every allocation on `switches`, as (switch, VLAN, channel): one row per switch with
/// `VLAN:channel` pairs as text (the driver's cost is per row).
pub async fn on_switches(tx: &mut WriteTx, switches: &[&str]) -> Result<Vec<(String, u16, String)>, StoreError> {
    let mut rows: Vec<(String, u16, String)> = Vec::new();
    for chunk in switches.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT switch, string_agg(CAST(vlan AS TEXT) || ':' || channel_id, ',') AS held \
             FROM vlan_allocations WHERE switch IN ({}) GROUP BY switch",
            placeholders(1, chunk.len())
        );
        let mut q = varying(sql);
        for sw in chunk {
            q = q.bind(*sw);
        }
        for r in q.fetch_all(&mut *tx).await? {
            let sw: String = r.try_get("switch")?;
            let held: String = r.try_get("held")?;
            for pair in held.split(',') {
                if let Some((v, ch)) = pair.split_once(':')
                    && let Ok(v) = v.trim().parse::<u16>()
                {
                    rows.push((sw.clone(), v, ch.to_string()));
                }
            }
        }
    }
    Ok(rows)
}

/// Another instance took a VLAN first: what this process knows of the allocations is
/// stale.
fn taken(tx: &WriteTx) -> StoreError {
    tx.caches.vlans.forget();
    StoreError::Raced("a VLAN was taken by another instance first".into())
}

/// The VLANs on each of `switches` held by channels other than `excluded`, by switch (as
/// [`by_switch_except`]). On SQLite from the process's copy of the allocations, reading
/// the switches it does not hold yet whole: reading them per batch would hold the writer
/// (a core carries thousands).
pub async fn taken_by_switch(
    tx: &mut WriteTx,
    switches: &[&str],
    excluded: &[&str],
) -> Result<Vec<(String, Vec<u16>)>, StoreError> {
    let Some(stamp) = tx.stamp().await? else { return by_switch_except(tx, switches, excluded).await };
    let caches = tx.caches.clone();
    let missing: Vec<&str> = {
        let copy = caches.vlans.under(stamp);
        switches.iter().copied().filter(|sw| !copy.switches.contains_key(*sw)).collect()
    };
    let rows = on_switches(tx, &missing).await?;
    let mut copy = caches.vlans.under(stamp);
    for sw in &missing {
        copy.switches.insert(sw.to_string(), std::collections::HashMap::new());
    }
    for (sw, v, ch) in rows {
        copy.channels.entry(ch.clone()).or_default().push((sw.clone(), v));
        copy.switches.entry(sw).or_default().insert(v, ch);
    }
    let excluded: std::collections::HashSet<&str> = excluded.iter().copied().collect();
    Ok(switches
        .iter()
        .filter_map(|sw| copy.switches.get(*sw).map(|held| (sw, held)))
        .map(|(sw, held)| {
            let vlans = held.iter().filter(|(_, ch)| !excluded.contains(ch.as_str())).map(|(v, _)| *v).collect();
            (sw.to_string(), vlans)
        })
        .collect())
}

/// The numbers of a comma-separated list (`string_agg` of VLANs).
fn numbers(list: &str) -> impl Iterator<Item = u16> + '_ {
    list.split(',').filter_map(|v| v.trim().parse::<u16>().ok())
}

/// ` AND column NOT IN ($first, ...)` for `n` values (nothing for none).
fn not_in(column: &str, first: usize, n: usize) -> String {
    if n == 0 { String::new() } else { format!(" AND {column} NOT IN ({})", placeholders(first, n)) }
}
