//! VLAN allocations: which channel holds which VLAN on which switch, one row each, written
//! by the order worker as it plans a channel (and freed when the channel leaves the
//! switches). The primary key (switch, vlan) makes allocation race-free across instances:
//! a row that exists already means another instance took the VLAN first, answered as
//! [`StoreError::Conflict`], and the worker plans again.

use super::{
    Dialect, MAX_PARAMS, StoreError, WriteTx, in_list, is_unique_violation, json_param, json_rows, list_param,
    placeholders, query, varying,
};

/// The VLANs held on any of `switches` by channels other than `channel_id`, each once.
///
/// A channel needs VLANs free on its whole path, so what matters is the union of the
/// path's VLANs, not which switch holds which: one row per VLAN, not one per (switch,
/// VLAN) pair, which on a busy core grows with every channel through it.
pub async fn taken_on(tx: &mut WriteTx, channel_id: &str, switches: &[String]) -> Result<Vec<u16>, StoreError> {
    let sql = format!(
        "SELECT DISTINCT vlan FROM vlan_allocations WHERE channel_id <> $1 AND switch IN ({})",
        placeholders(2, switches.len())
    );
    let mut q = varying(sql).bind(channel_id);
    for sw in switches {
        q = q.bind(sw.as_str());
    }
    let mut out = Vec::new();
    for r in q.fetch_all(&mut *tx).await? {
        let vid: i64 = r.try_get("vlan")?;
        if let Ok(v) = u16::try_from(vid) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Frees every VLAN channel `channel_id` holds.
pub async fn release(tx: &mut WriteTx, channel_id: &str) -> Result<(), StoreError> {
    query("DELETE FROM vlan_allocations WHERE channel_id = $1").bind(channel_id).execute(&mut *tx).await?;
    Ok(())
}

/// Frees every VLAN the channels `channel_ids` hold, in one statement.
pub async fn release_many(tx: &mut WriteTx, dialect: Dialect, channel_ids: &[&str]) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM vlan_allocations WHERE {}", in_list(dialect, "channel_id", 1));
    query(sql).bind(list_param(dialect, channel_ids)).execute(&mut *tx).await?;
    Ok(())
}

/// Allocates to channel `channel_id` the (switch, VLAN) `rows`, in one statement.
/// [`StoreError::Conflict`] when another instance holds one of them already (the
/// transaction is then spoilt on PostgreSQL: roll it back).
pub async fn allocate(tx: &mut WriteTx, channel_id: &str, rows: &[(&String, u16)]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..rows.len()).map(|i| format!("(${}, ${}, $1)", 2 * i + 2, 2 * i + 3)).collect();
    let sql = format!("INSERT INTO vlan_allocations (switch, vlan, channel_id) VALUES {}", values.join(", "));
    let mut q = varying(sql).bind(channel_id);
    for (sw, v) in rows {
        q = q.bind(sw.as_str()).bind(i64::from(*v));
    }
    match q.execute(&mut *tx).await {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(taken()),
        Err(e) => Err(e.into()),
    }
}

/// Allocates the (switch, VLAN, channel) `rows` of several channels, in one statement
/// whatever their number. [`StoreError::Conflict`] as [`allocate`].
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
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(taken()),
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

fn taken() -> StoreError {
    StoreError::Conflict("a VLAN was taken by another instance first".into())
}

/// The numbers of a comma-separated list (`string_agg` of VLANs).
fn numbers(list: &str) -> impl Iterator<Item = u16> + '_ {
    list.split(',').filter_map(|v| v.trim().parse::<u16>().ok())
}

/// ` AND column NOT IN ($first, ...)` for `n` values (nothing for none).
fn not_in(column: &str, first: usize, n: usize) -> String {
    if n == 0 { String::new() } else { format!(" AND {column} NOT IN ({})", placeholders(first, n)) }
}
