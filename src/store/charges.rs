//! The charges ledger: one row per charge, written with the debit of the account's balance
//! in the same transaction, and read back newest first; and what a billing run needs of
//! each paying member (until when it paid, how much of its traffic was charged).

use crate::orchestrator::policy::{ChannelState, UsageModel};

use super::catalog::usage_model_from_row;
use super::{Db, SqlError, StoreError, WriteTx, new_id, query, to_i64, to_u64};

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

/// What each member of channel `channel_id` paid for it, net of refunds, where that is
/// more than nothing: (organization, attachment, usage model, cents).
pub async fn paid_for(tx: &mut WriteTx, channel_id: &str) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    let rows = query(
        "SELECT org_id, attachment_id, usage_model_id, CAST(SUM(amount_cents) AS BIGINT) AS cents FROM charges \
         WHERE channel_id = $1 AND attachment_id IS NOT NULL GROUP BY org_id, attachment_id, usage_model_id \
         HAVING SUM(amount_cents) > 0 ORDER BY org_id, attachment_id",
    )
    .bind(channel_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push((
            r.try_get("org_id")?,
            r.try_get("attachment_id")?,
            r.try_get("usage_model_id")?,
            r.try_get("cents")?,
        ));
    }
    Ok(out)
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

/// A member a billing run looks at: attached, under a usage model with a price.
#[derive(Clone, Debug)]
pub struct Paying {
    pub attachment: String,
    pub channel_id: String,
    pub channel_state: ChannelState,
    /// The member's bandwidth: its own, or else its channel's (what a per-Mbps model charges).
    pub bandwidth_mbps: u64,
    pub org_id: String,
    pub organization: String,
    pub interface: String,
    pub model_id: String,
    pub model: UsageModel,
    pub attached_at: i64,
    pub paid_until: Option<i64>,
    pub bytes_used: u64,
    pub bytes_billed: u64,
}

/// Every member under a usage model with a price that may owe something: attached to a
/// channel that has not ended, or (per GB) with traffic read and not yet charged, whatever
/// became of it since. By channel, then attachment.
pub async fn paying(tx: &mut WriteTx) -> Result<Vec<Paying>, StoreError> {
    let rows = query(
        "SELECT a.id AS attachment, a.channel_id, c.state AS channel_state, \
         COALESCE(a.bandwidth_mbps, c.bandwidth_mbps) AS bandwidth_mbps, a.org_id, \
         o.name AS organization, a.interface, a.usage_model_id, a.attached_at, a.paid_until, a.bytes_used, \
         a.bytes_billed, u.* FROM attachments a JOIN channels c ON c.id = a.channel_id \
         JOIN organizations o ON o.id = a.org_id JOIN usage_models u ON u.id = a.usage_model_id \
         WHERE u.price_cents > 0 AND ((a.state = 'attached' AND c.state NOT IN ('terminating', 'terminated')) \
         OR (u.price_type = 'per_gb' AND a.bytes_used > a.bytes_billed)) ORDER BY a.channel_id, a.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let state: String = r.try_get("channel_state")?;
        let Some(channel_state) = ChannelState::parse(&state) else { continue };
        out.push(Paying {
            attachment: r.try_get("attachment")?,
            channel_id: r.try_get("channel_id")?,
            channel_state,
            bandwidth_mbps: to_u64(r.try_get("bandwidth_mbps")?),
            org_id: r.try_get("org_id")?,
            organization: r.try_get("organization")?,
            interface: r.try_get("interface")?,
            model_id: r.try_get("usage_model_id")?,
            model: usage_model_from_row(r)?,
            attached_at: r.try_get("attached_at")?,
            paid_until: r.try_get("paid_until")?,
            bytes_used: to_u64(r.try_get("bytes_used")?),
            bytes_billed: to_u64(r.try_get("bytes_billed")?),
        });
    }
    Ok(out)
}

/// Records until when `attachment` has paid and how much of its traffic was charged.
pub async fn billed(
    tx: &mut WriteTx,
    attachment: &str,
    paid_until: Option<i64>,
    bytes_billed: u64,
) -> Result<(), SqlError> {
    query("UPDATE attachments SET paid_until = $2, bytes_billed = $3 WHERE id = $1")
        .bind(attachment)
        .bind(paid_until)
        .bind(to_i64(bytes_billed))
        .execute(&mut *tx)
        .await?;
    Ok(())
}
