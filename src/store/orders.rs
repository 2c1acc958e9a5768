//! Orders: the work that brings a channel's configuration onto the switches (or takes it
//! off), one row each with its status and the times of its steps. Opened here when a
//! channel needs one, and read as people see them; the worker's claims and transitions
//! join as the house issue moves them.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, ReadTx, WriteTx, new_id};

/// An order as stored.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub channel_id: String,
    pub action: String,
    pub status: String,
    /// Why it failed.
    pub reason: String,
    pub detail: String,
    pub attempts: i64,
    /// The instance holding it, while one does.
    pub claimed_by: Option<String>,
    pub created_at: i64,
    pub planning_at: Option<i64>,
    pub applying_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Opens an order to `action` channel `channel_id` unless one is already waiting for the
/// channel (that one will see the channel as it is when it runs). Returns the waiting
/// order either way. At most one order per channel is pending (a partial unique index), so
/// two requests that both open one, concurrently, make one order.
pub async fn open(tx: &mut WriteTx, channel_id: &str, action: &str, now: i64) -> Result<Option<String>, sqlx::Error> {
    let id = new_id("ord");
    let inserted = sqlx::query(
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
    let row = sqlx::query(
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
pub async fn get(db: &Db, id: &str) -> Result<Option<Order>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM orders WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(order_from_row).transpose()
}

/// The orders of channel `channel_id`, oldest first.
pub async fn of_channel(tx: &mut ReadTx<'_>, channel_id: &str) -> Result<Vec<Order>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM orders WHERE channel_id = $1 ORDER BY created_at, id")
        .bind(channel_id)
        .fetch_all(&mut *tx)
        .await?;
    rows.iter().map(order_from_row).collect()
}

/// The 1,000 newest orders of every channel, newest first.
pub async fn newest(tx: &mut ReadTx<'_>) -> Result<Vec<Order>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT * FROM orders ORDER BY created_at DESC, id DESC LIMIT 1000").fetch_all(&mut *tx).await?;
    rows.iter().map(order_from_row).collect()
}

/// How many orders are in each status, by status.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status").fetch_all(db).await?;
    rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("n")?))).collect()
}

fn order_from_row(r: &AnyRow) -> Result<Order, sqlx::Error> {
    Ok(Order {
        id: r.try_get("id")?,
        channel_id: r.try_get("channel_id")?,
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
