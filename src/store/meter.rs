//! Usage metering as kept: for each member of an active channel whose usage model has an
//! allowance (max GB) or charges by the GB, the traffic it used so far, the counter reading
//! it was last seen at, and since when and why its counters could not be read.

use crate::orchestrator::policy::Quota;

use super::{Db, SqlError, WriteTx, query, to_i64, to_u64};

/// A metered member: an attached member of an active channel under a usage model with an
/// allowance or a price per GB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub attachment: String,
    pub channel: String,
    pub interface: String,
    /// Its customer tag in the channel (a `tagged` interface's sub-interface).
    pub tag: Option<u16>,
    /// The usage model's name.
    pub model: String,
    /// Its allowance; `None` for a model that charges by the GB without one.
    pub quota: Option<Quota>,
    /// Bytes used so far.
    pub used: u64,
    /// The counter's last reading; `None` before the first (the baseline).
    pub seen: Option<u64>,
}

/// Every metered member, by attachment id.
pub async fn metered(db: &Db) -> Result<Vec<Member>, SqlError> {
    let rows = query(
        "SELECT a.id, a.channel_id, a.interface, a.tag, a.bytes_used, \
         a.bytes_seen, u.name, u.max_mb FROM attachments a JOIN channels c ON c.id = a.channel_id \
         JOIN usage_models u ON u.id = a.usage_model_id \
         WHERE a.state = 'attached' AND c.state = 'active' AND (u.max_mb IS NOT NULL OR u.price_type = 'per_gb') \
         ORDER BY a.id",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Member {
                attachment: r.try_get("id")?,
                channel: r.try_get("channel_id")?,
                interface: r.try_get("interface")?,
                tag: r.try_get::<Option<i64>>("tag")?.and_then(|t| u16::try_from(t).ok()),
                model: r.try_get("name")?,
                quota: r.try_get::<Option<i64>>("max_mb")?.map(|mb| Quota { megabytes: to_u64(mb) }),
                used: to_u64(r.try_get("bytes_used")?),
                seen: r.try_get::<Option<i64>>("bytes_seen")?.map(to_u64),
            })
        })
        .collect()
}

/// Records that `attachment` has used `used` bytes, its counter read `seen` at `now` (which
/// ends a run of failed readings).
pub async fn record(tx: &mut WriteTx, attachment: &str, used: u64, seen: u64, now: i64) -> Result<(), SqlError> {
    query(
        "UPDATE attachments SET bytes_used = $2, bytes_seen = $3, metered_at = $4, meter_failed_at = NULL, \
         meter_error = NULL WHERE id = $1",
    )
    .bind(attachment)
    .bind(to_i64(used))
    .bind(to_i64(seen))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records that `attachment`'s counters could not be read at `now`, for `reason`: a run of
/// failures keeps the time of its first.
pub async fn failed(tx: &mut WriteTx, attachment: &str, reason: &str, now: i64) -> Result<(), SqlError> {
    query("UPDATE attachments SET meter_failed_at = COALESCE(meter_failed_at, $2), meter_error = $3 WHERE id = $1")
        .bind(attachment)
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
