//! The charges ledger: one row per charge, written with the debit of the account's balance
//! in the same transaction, and read back newest first.

use super::{Db, StoreError, WriteTx, new_id, query};

/// A charge to record.
pub struct NewCharge<'a> {
    pub org_id: &'a str,
    pub channel_id: &'a str,
    pub attachment_id: Option<&'a str>,
    pub usage_model_id: &'a str,
    pub amount_cents: i64,
    /// What it is for, in words ("Monthly, charged in advance").
    pub what: &'a str,
}

/// Records `c` at `now` and takes its amount off the organization's balance, inside `tx`.
pub async fn record(tx: &mut WriteTx, c: &NewCharge<'_>, now: i64) -> Result<(), StoreError> {
    query(
        "INSERT INTO charges (id, org_id, channel_id, attachment_id, usage_model_id, amount_cents, what, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id("chg"))
    .bind(c.org_id)
    .bind(c.channel_id)
    .bind(c.attachment_id)
    .bind(c.usage_model_id)
    .bind(c.amount_cents)
    .bind(c.what)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    query("UPDATE accounts SET balance_cents = balance_cents - $1, updated_at = $2 WHERE org_id = $3")
        .bind(c.amount_cents)
        .bind(now)
        .bind(c.org_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// One charge as read back, with its channel's name.
#[derive(Clone, Debug)]
pub struct Charge {
    pub at: i64,
    pub channel_id: String,
    pub channel: String,
    pub amount_cents: i64,
    pub what: String,
}

/// The latest `limit` charges of organization `org_id`, newest first.
pub async fn of_org(db: &Db, org_id: &str, limit: i64) -> Result<Vec<Charge>, StoreError> {
    let rows = query(
        "SELECT g.at, g.channel_id, COALESCE(c.name, '') AS channel, g.amount_cents, g.what FROM charges g \
         LEFT JOIN channels c ON c.id = g.channel_id WHERE g.org_id = $1 ORDER BY g.at DESC, g.id DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(Charge {
            at: r.try_get("at")?,
            channel_id: r.try_get("channel_id")?,
            channel: r.try_get("channel")?,
            amount_cents: r.try_get("amount_cents")?,
            what: r.try_get("what")?,
        });
    }
    Ok(out)
}
