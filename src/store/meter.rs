//! Usage metering as kept (max GB): for each member of an active channel whose usage model
//! has an allowance, the traffic it used so far and the counter reading it was last seen at.

use crate::orchestrator::policy::Quota;

use super::{Db, SqlError, WriteTx, query, to_i64, to_u64};

/// A metered member: an attached member of an active channel under a usage model with an
/// allowance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub attachment: String,
    pub channel: String,
    pub interface: String,
    /// Its customer tag in the channel (a `tagged` interface's sub-interface).
    pub tag: Option<u16>,
    /// The usage model's name.
    pub model: String,
    pub quota: Quota,
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
         WHERE a.state = 'attached' AND c.state = 'active' AND u.max_mb IS NOT NULL ORDER BY a.id",
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
                quota: Quota { megabytes: to_u64(r.try_get("max_mb")?) },
                used: to_u64(r.try_get("bytes_used")?),
                seen: r.try_get::<Option<i64>>("bytes_seen")?.map(to_u64),
            })
        })
        .collect()
}

/// Records that `attachment` has used `used` bytes, its counter read `seen` at `now`.
pub async fn record(tx: &mut WriteTx, attachment: &str, used: u64, seen: u64, now: i64) -> Result<(), SqlError> {
    query("UPDATE attachments SET bytes_used = $2, bytes_seen = $3, metered_at = $4 WHERE id = $1")
        .bind(attachment)
        .bind(to_i64(used))
        .bind(to_i64(seen))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
