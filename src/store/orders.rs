//! Orders: the work that brings a channel's configuration onto the switches (or takes it
//! off), one row each with its status and the times of its steps. Opened here when a
//! channel needs one, and read as people see them; and the worker's side: claiming orders
//! under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances never take
//! the same order), renewing the lease, and the status transitions and finish, each written
//! only while this instance still holds the claim (the answer says whether it did: an
//! instance that stalled past its lease must not overwrite the work of the one that took
//! over).

use crate::model::id::{ChannelId, OrderId};

use super::{
    Db, Dialect, ReadTx, Row, SqlError, StoreError, WriteTx, in_list, json_param, json_rows, list_param, new_id,
    placeholders, query, query_scalar, varying,
};

pub use crate::model::records::Order;

/// Opens an order to `action` channel `channel_id` unless one is already waiting for the
/// channel (that one will see the channel as it is when it runs). Returns the waiting
/// order either way. At most one order per channel is pending (a partial unique index), so
/// two requests that both open one, concurrently, make one order.
pub async fn open(tx: &mut WriteTx, channel_id: &str, action: &str, now: i64) -> Result<Option<String>, SqlError> {
    let id = new_id("ord");
    let inserted = query(
        "INSERT INTO orders (id, channel_id, action, status, created_at) VALUES ($1, $2, $3, 'pending', $4) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(id.as_str())
    .bind(channel_id)
    .bind(action)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_some() {
        return Ok(Some(id));
    }
    // One is waiting already: it will do what the channel needs when it runs.
    // (An activation stays one: more members before it ran are part of it.)
    let row = query(
        "UPDATE orders SET action = CASE WHEN action IN ('activate', 'resume') AND $2 = 'modify' THEN action ELSE $2 END \
         WHERE channel_id = $1 AND status = 'pending' RETURNING id",
    )
    .bind(channel_id)
    .bind(action)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| r.try_get("id")).transpose()
}

/// The order `id`, or `None`.
pub async fn get(db: &Db, id: &str) -> Result<Option<Order>, SqlError> {
    let row = query("SELECT * FROM orders WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(order_from_row).transpose()
}

/// The orders of channel `channel_id`, oldest first.
pub async fn of_channel(tx: &mut ReadTx<'_>, channel_id: &str) -> Result<Vec<Order>, SqlError> {
    let rows = query("SELECT * FROM orders WHERE channel_id = $1 ORDER BY created_at, id")
        .bind(channel_id)
        .fetch_all(&mut *tx)
        .await?;
    rows.iter().map(order_from_row).collect()
}

/// The 1,000 newest orders of every channel, newest first.
pub async fn newest(tx: &mut ReadTx<'_>) -> Result<Vec<Order>, SqlError> {
    let rows = query("SELECT * FROM orders ORDER BY created_at DESC, id DESC LIMIT 1000").fetch_all(&mut *tx).await?;
    rows.iter().map(order_from_row).collect()
}

/// How many orders are in each status, by status.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>, SqlError> {
    // An order parked in doubt counts as `in_doubt`, not as `applying`.
    let rows = query(
        "SELECT CASE WHEN status = 'applying' AND in_doubt_since IS NOT NULL THEN 'in_doubt' ELSE status END AS s, \
         COUNT(*) AS n FROM orders GROUP BY s ORDER BY s",
    )
    .fetch_all(db)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("s")?, r.try_get("n")?))).collect()
}

/// An order as a claim returns it.
#[derive(Clone, Debug)]
pub struct Claim {
    pub id: String,
    pub channel_id: String,
    pub action: String,
    /// Counting this claim.
    pub attempts: i64,
    pub created_at: i64,
    /// When its apply was first left in doubt (`park_in_doubt`), if ever.
    pub in_doubt_since: Option<i64>,
}

/// Which orders [`claim_one`] may take.
#[derive(Clone, Copy, Debug)]
pub enum Claimable {
    /// Waiting ones (by the (status, created_at) index).
    Waiting,
    /// Ones whose instance stopped renewing its lease.
    Abandoned,
}

/// Whether any order is waiting: when none is, a claim need not queue for the writer.
pub async fn any_waiting(db: &Db) -> Result<bool, StoreError> {
    let waiting: Option<i64> =
        query_scalar("SELECT 1 FROM orders WHERE status = 'pending' LIMIT 1").fetch_optional(db).await?;
    Ok(waiting.is_some())
}

/// Whether any order is waiting, or running under a lease that ran out before `now`.
pub async fn any_claimable(db: &Db, now: i64) -> Result<bool, StoreError> {
    let any: Option<i64> = query_scalar(
        "SELECT 1 FROM orders WHERE status = 'pending' \
         OR (status IN ('planning', 'applying') AND lease_until < $1) LIMIT 1",
    )
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(any.is_some())
}

/// Claims for `instance` until `lease` up to `limit` waiting orders, none of a channel
/// whose order is running under a live lease; status `planning`. In the order the
/// database returns them.
pub async fn claim_waiting(
    tx: &mut WriteTx,
    dialect: Dialect,
    instance: &str,
    lease: i64,
    now: i64,
    limit: usize,
) -> Result<Vec<Claim>, StoreError> {
    let skip_locked = skip_locked(dialect);
    let sql = format!(
        "UPDATE orders SET status = 'planning', claimed_by = $1, lease_until = $2, attempts = attempts + 1, \
         planning_at = COALESCE(planning_at, $3) \
         WHERE id IN (SELECT o.id FROM orders o WHERE o.status = 'pending' \
           AND NOT EXISTS (SELECT 1 FROM orders r WHERE r.channel_id = o.channel_id AND r.id <> o.id \
               AND r.status IN ('planning', 'applying') AND r.lease_until >= $3) \
           ORDER BY o.created_at, o.id LIMIT {limit}{skip_locked}) \
         AND status = 'pending' \
         RETURNING id, channel_id, action, attempts, created_at"
    );
    let rows = query(sql).bind(instance).bind(lease).bind(now).fetch_all(&mut *tx).await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for r in rows {
        claimed.push(Claim {
            id: r.try_get("id")?,
            channel_id: r.try_get("channel_id")?,
            action: r.try_get("action")?,
            attempts: r.try_get("attempts")?,
            created_at: r.try_get("created_at")?,
            in_doubt_since: None,
        });
    }
    Ok(claimed)
}

/// Claims for `instance` until `lease` the oldest order `which` describes, never one of a
/// channel that has one running under a live lease. A waiting order becomes `planning`;
/// an abandoned one keeps its status. `created_at` is not read (0).
pub async fn claim_one(
    tx: &mut WriteTx,
    dialect: Dialect,
    which: Claimable,
    instance: &str,
    lease: i64,
    now: i64,
) -> Result<Option<Claim>, StoreError> {
    let skip_locked = skip_locked(dialect);
    let which = match which {
        Claimable::Waiting => "o.status = 'pending'",
        Claimable::Abandoned => "o.status IN ('planning', 'applying') AND o.lease_until < $3",
    };
    let sql = format!(
        "UPDATE orders SET status = CASE WHEN status = 'pending' THEN 'planning' ELSE status END, \
         claimed_by = $1, lease_until = $2, attempts = attempts + 1, planning_at = COALESCE(planning_at, $3) \
         WHERE id = (SELECT o.id FROM orders o WHERE {which} \
           AND NOT EXISTS (SELECT 1 FROM orders r WHERE r.channel_id = o.channel_id AND r.id <> o.id \
               AND r.status IN ('planning', 'applying') AND r.lease_until >= $3) \
           ORDER BY o.created_at, o.id LIMIT 1{skip_locked}) \
         AND (status = 'pending' OR (status IN ('planning', 'applying') AND lease_until < $3)) \
         RETURNING id, channel_id, action, attempts, claimed_by, in_doubt_since"
    );
    let row = query(sql).bind(instance).bind(lease).bind(now).fetch_optional(&mut *tx).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Claim {
        id: row.try_get("id")?,
        channel_id: row.try_get("channel_id")?,
        action: row.try_get("action")?,
        attempts: row.try_get("attempts")?,
        created_at: 0,
        in_doubt_since: row.try_get("in_doubt_since")?,
    }))
}

/// Parks the orders `ids` that `instance` holds, whose apply was left in doubt: they stay
/// `applying`, their lease runs out at `retry_at` (any instance then takes them over as it
/// takes over the orders of a stopped one), `in_doubt_since` keeps its first time (else
/// `now`) and `reason` says why. How many it parked.
pub async fn park_in_doubt(
    tx: &mut WriteTx,
    dialect: Dialect,
    ids: &[String],
    instance: &str,
    retry_at: i64,
    now: i64,
    reason: &str,
) -> Result<u64, StoreError> {
    let sql = format!(
        "UPDATE orders SET status = 'applying', applying_at = COALESCE(applying_at, $3), lease_until = $2, \
         in_doubt_since = COALESCE(in_doubt_since, $3), reason = $4 WHERE claimed_by = $1 AND {}",
        in_list(dialect, "id", 5)
    );
    let keys: Vec<&str> = ids.iter().map(String::as_str).collect();
    Ok(query(sql)
        .bind(instance)
        .bind(retry_at)
        .bind(now)
        .bind(reason)
        .bind(list_param(dialect, &keys))
        .execute(&mut *tx)
        .await?)
}

/// Renews until `until` the lease of the orders `ids` that `instance` holds.
pub async fn renew_lease(tx: &mut WriteTx, instance: &str, until: i64, ids: &[String]) -> Result<(), StoreError> {
    let sql =
        format!("UPDATE orders SET lease_until = $2 WHERE claimed_by = $1 AND id IN ({})", placeholders(3, ids.len()));
    let mut q = varying(sql).bind(instance).bind(until);
    for id in ids {
        q = q.bind(id.as_str());
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// Whether `instance` holds order `id` (written as a no-op update, so the row stays
/// locked until the transaction ends).
pub async fn still_held(tx: &mut WriteTx, id: &str, instance: &str) -> Result<bool, StoreError> {
    let n = query("UPDATE orders SET lease_until = lease_until WHERE id = $1 AND claimed_by = $2")
        .bind(id)
        .bind(instance)
        .execute(&mut *tx)
        .await?;
    Ok(n == 1)
}

/// The orders `ids` are `applying` (since `now`, unless they were before), if `instance`
/// holds every one of them. Whether it did.
pub async fn mark_applying_many(
    tx: &mut WriteTx,
    dialect: Dialect,
    ids: &[&str],
    instance: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE orders SET status = 'applying', applying_at = COALESCE(applying_at, $2) WHERE claimed_by = $1 AND {}",
        in_list(dialect, "id", 3)
    );
    let n = query(sql).bind(instance).bind(now).bind(list_param(dialect, ids)).execute(&mut *tx).await?;
    Ok(usize::try_from(n).ok() == Some(ids.len()))
}

/// Closes order `id` with `status` and `reason` at `now` (its lease let go; `detail`
/// replaces the stored one unless empty), if `instance` holds it. Whether it did.
pub async fn close(
    tx: &mut WriteTx,
    id: &str,
    instance: &str,
    status: &str,
    reason: &str,
    detail: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let n = query(
        "UPDATE orders SET status = $2, reason = $3, finished_at = $4, lease_until = NULL, \
         detail = CASE WHEN $6 = '' THEN detail ELSE $6 END WHERE id = $1 AND claimed_by = $5",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(now)
    .bind(instance)
    .bind(detail)
    .execute(&mut *tx)
    .await?;
    Ok(n == 1)
}

/// Closes as `done` at `now` the orders of `details` (id, detail JSON) that `instance`
/// holds, in one statement. How many it closed.
pub async fn done_many(
    tx: &mut WriteTx,
    dialect: Dialect,
    details: &[(String, String)],
    instance: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let sql = format!(
        "UPDATE orders SET status = 'done', reason = '', finished_at = $1, lease_until = NULL, detail = v.detail \
         FROM ({}) AS v WHERE orders.id = v.id AND orders.claimed_by = $2 AND {}",
        json_rows(dialect, 3, &[("id", "TEXT"), ("detail", "TEXT")]),
        in_list(dialect, "orders.id", 4)
    );
    let keys: Vec<&str> = details.iter().map(|d| d.0.as_str()).collect();
    Ok(query(sql)
        .bind(now)
        .bind(instance)
        .bind(json_param(details))
        .bind(list_param(dialect, &keys))
        .execute(&mut *tx)
        .await?)
}

fn skip_locked(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    }
}

fn order_from_row(r: &Row) -> Result<Order, SqlError> {
    Ok(Order {
        id: OrderId::stored(r.try_get::<String>("id")?),
        channel_id: ChannelId::stored(r.try_get::<String>("channel_id")?),
        action: r.try_get("action")?,
        status: r.try_get("status")?,
        reason: r.try_get("reason")?,
        detail: r.try_get("detail")?,
        attempts: r.try_get("attempts")?,
        claimed_by: r.try_get("claimed_by")?,
        created_at: r.try_get("created_at")?,
        planning_at: r.try_get("planning_at")?,
        applying_at: r.try_get("applying_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// Whether channel `channel_id` ever carried traffic: an order that put it on the switches
/// (activate, modify, resume) finished.
pub async fn ever_live(tx: &mut WriteTx, channel_id: &str) -> Result<bool, StoreError> {
    let row = query(
        "SELECT id FROM orders WHERE channel_id = $1 AND status = 'done' \
         AND action IN ('activate', 'modify', 'resume') LIMIT 1",
    )
    .bind(channel_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.is_some())
}
