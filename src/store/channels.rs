//! Channels with their attachments: creating a channel, its state changes, plugging
//! interfaces in and unplugging them; the channel rows, each attachment with the names a
//! view shows, who may see a channel, and counts for metrics. Whether a state change is
//! allowed is the caller's rule (`policy::can_become`); this module only makes it, and
//! refuses one that lost a race.

use std::collections::HashMap;

use crate::model::id::{AttachmentId, ChannelId};
use crate::model::records::Metering;
use crate::model::{ChannelKind, Role};
use crate::orchestrator::policy::ChannelState;

use super::{
    Db, Dialect, Executor, MAX_PARAMS, Query, ReadTx, Row, SqlError, StoreError, WriteTx, in_list, is_unique_violation,
    json_param, json_rows, list_param, new_id, placeholders, query, split_list, to_i64, to_u64, varying,
};

/// A channel that could not be read: the database failed, or a row holds a kind this
/// build does not know.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The row's `kind` is none of p2p, p2mp, mp2mp (the message says so).
    #[error("{0}")]
    Kind(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A channel row.
#[derive(Clone, Debug)]
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub kind: ChannelKind,
    pub bandwidth_mbps: u64,
    pub class: String,
    pub definition_id: String,
    pub usage_model_id: String,
    pub state: ChannelState,
    pub vlan: Option<u16>,
    pub leaf_vlan: Option<u16>,
    pub path: Vec<String>,
    pub created_at: i64,
    pub reason: String,
}

/// A channel as a view shows it: its row, the names of its owner, definition and usage
/// model, and every attachment it had, oldest first.
#[derive(Clone, Debug)]
pub struct Named {
    pub channel: ChannelRow,
    pub organization: String,
    pub definition: String,
    pub definition_version: i64,
    pub usage_model: String,
    pub attachments: Vec<Attachment>,
}

pub use crate::model::records::Attachment;

/// A live attachment: what planning a channel needs of a member.
#[derive(Clone, Debug)]
pub struct AttachmentRow {
    pub interface: String,
    pub role: Role,
    pub customer_vlan: Option<u16>,
    /// The member's own bandwidth (Mbps); `None`: the channel's.
    pub bandwidth_mbps: Option<u64>,
    /// The tag the member was given (its customer VLAN, else its channel's VLAN when it
    /// was first planned); `None` until then. On a tagged-mode interface it is the tag the
    /// customer's equipment uses, which later plans keep.
    pub tag: Option<u16>,
}

/// A channel to create, in `draft`.
#[derive(Clone, Copy, Debug)]
pub struct NewChannel<'a> {
    pub name: &'a str,
    pub org_id: &'a str,
    /// The user who creates it.
    pub created_by: &'a str,
    pub kind: ChannelKind,
    pub bandwidth_mbps: u64,
    pub class: &'a str,
    pub definition_id: &'a str,
    pub usage_model_id: &'a str,
}

/// An interface to plug into a channel.
#[derive(Clone, Copy, Debug)]
pub struct NewAttachment<'a> {
    pub channel_id: &'a str,
    pub interface: &'a str,
    pub org_id: &'a str,
    pub role: Role,
    pub customer_vlan: Option<u16>,
    /// The channel's VLAN, when it has one: the tag the attachment's frames carry on its
    /// interface when it has no customer VLAN.
    pub channel_vlan: Option<u16>,
    pub usage_model_id: &'a str,
    /// The member's own bandwidth (Mbps); `None`: the channel's.
    pub bandwidth_mbps: Option<u64>,
}

/// Where an attachment belongs, and whether it is still plugged in.
#[derive(Clone, Debug)]
pub struct AttachmentState {
    pub channel_id: String,
    pub org_id: String,
    /// The port it plugs in.
    pub interface: String,
    /// `state` is `attached` (not `detached`).
    pub attached: bool,
}

/// Which channels to read.
#[derive(Clone, Copy, Debug)]
pub enum Among<'a> {
    /// Every channel (what the operator's staff see).
    Every,
    /// The channels the organization `org_id` may see.
    VisibleTo { org_id: &'a str },
}

/// Where the step counts of a channel's invitees and orders stand (see [`steps`]).
#[derive(Clone, Debug)]
pub struct Steps {
    pub invitees: String,
    pub orders: String,
}

/// The channel `id` with its names and attachments, or `None`. Two statements: run them
/// in one read transaction.
pub async fn named(tx: &mut ReadTx<'_>, id: &str) -> Result<Option<Named>> {
    let Some(r) = query(format!("{CHANNEL_SELECT} WHERE c.id = $1")).bind(id).fetch_optional(&mut *tx).await? else {
        return Ok(None);
    };
    let atts = query(format!("{ATTACHMENT_SELECT} WHERE a.channel_id = $1 ORDER BY a.attached_at, a.id"))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let attachments = atts.iter().map(named_attachment_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(named_from_row(&r, attachments)?))
}

/// The channels `among` covers, newest first, each with its names and attachments.
pub async fn named_among(tx: &mut ReadTx<'_>, among: Among<'_>) -> Result<Vec<Named>> {
    // Two statements whatever the number of channels: the channels, then all their
    // attachments (a list page must not cost a query per row).
    let visible = match among {
        Among::Every => "SELECT id FROM channels".to_string(),
        Among::VisibleTo { .. } => visible_ids(1),
    };
    let bind = |q: Query<'static>| match among {
        Among::Every => q,
        Among::VisibleTo { org_id } => q.bind(org_id.to_string()),
    };
    let rows = bind(query(format!("{CHANNEL_SELECT} WHERE c.id IN ({visible}) ORDER BY c.created_at DESC, c.id DESC")))
        .fetch_all(&mut *tx)
        .await?;
    let atts =
        bind(query(format!("{ATTACHMENT_SELECT} WHERE a.channel_id IN ({visible}) ORDER BY a.attached_at, a.id")))
            .fetch_all(&mut *tx)
            .await?;
    with_attachments(&rows, &atts)
}

/// Channel rows (`CHANNEL_SELECT`) as named channels, each with its attachments taken from
/// `atts` (`ATTACHMENT_SELECT` rows of any of them, in their order).
pub(super) fn with_attachments(rows: &[Row], atts: &[Row]) -> Result<Vec<Named>> {
    let mut by_channel: HashMap<String, Vec<Attachment>> = HashMap::new();
    for a in atts {
        let a = named_attachment_from_row(a)?;
        by_channel.entry(a.channel_id.to_string()).or_default().push(a);
    }
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            named_from_row(r, by_channel.remove(&id).unwrap_or_default())
        })
        .collect()
}

/// The organization that owns channel `id`, or `None` when there is no such channel.
pub async fn owner(tx: &mut ReadTx<'_>, id: &str) -> Result<Option<String>> {
    let row = query("SELECT org_id FROM channels WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
    Ok(row.map(|r| r.try_get("org_id")).transpose()?)
}

/// Whether the organization `org_id` may see channel `channel_id`
/// (`visible_ids`). The operator's staff see every channel: callers check that first
/// (and that an owner sees its own) without a statement.
pub async fn visible_to<'e>(ex: impl Executor<'e>, channel_id: &str, org_id: &str) -> Result<bool> {
    // Both databases push `v.id = $1` down into each arm of the union, so this looks up
    // one channel's rows, not every channel the organization may see.
    let r = query(format!("SELECT 1 AS x FROM ({}) v WHERE v.id = $1", visible_ids(2)))
        .bind(channel_id)
        .bind(org_id)
        .fetch_optional(ex)
        .await?;
    Ok(r.is_some())
}

/// How many channels the organization `org_id` has live attachments in (what its
/// account's channel count limits).
pub async fn held_by(tx: &mut ReadTx<'_>, org_id: &str) -> Result<i64> {
    let row = query("SELECT COUNT(DISTINCT channel_id) AS n FROM attachments WHERE org_id = $1 AND state = 'attached'")
        .bind(org_id)
        .fetch_one(&mut *tx)
        .await?;
    Ok(row.try_get("n")?)
}

/// How far the invitees and the orders of channel `channel_id` got, each as a string of
/// counts. Every step of an invitee or an order sets a time that was empty, so counting
/// the times that are set changes with every step (live pages compare two readings).
pub async fn steps(db: &Db, channel_id: &str) -> Result<Steps> {
    let row = query(
        "SELECT (SELECT COUNT(*) || '/' || COUNT(i.accessed_at) || '/' || COUNT(i.registered_at) || '/' || \
           COUNT(i.accepted_at) || '/' || COUNT(i.declined_at) || '/' || COUNT(i.expired_at) || '/' || \
           COUNT(i.withdrawn_at) FROM invitees i JOIN offers o ON o.id = i.offer_id WHERE o.channel_id = $1) AS invitees, \
         (SELECT COUNT(*) || '/' || COUNT(planning_at) || '/' || COUNT(applying_at) || '/' || COUNT(finished_at) \
           || '/' || COALESCE(SUM(attempts), 0) FROM orders WHERE channel_id = $1) AS orders",
    )
    .bind(channel_id)
    .fetch_one(db)
    .await?;
    Ok(Steps { invitees: row.try_get("invitees")?, orders: row.try_get("orders")? })
}

/// How many channels are in each state, by state.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>> {
    let rows = query("SELECT state, COUNT(*) AS n FROM channels GROUP BY state ORDER BY state").fetch_all(db).await?;
    rows.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
}

/// Channel `id` as a write transaction reads it, or `None`. With `lock`, its row stays
/// locked until the transaction ends ([`super::lock`]), so requests on one channel take
/// turns.
pub async fn row(tx: &mut WriteTx, dialect: Dialect, id: &str, lock: bool) -> Result<Option<ChannelRow>> {
    let sql = format!("SELECT * FROM channels WHERE id = $1{}", if lock { super::lock(dialect) } else { "" });
    let row = query(sql).bind(id).fetch_optional(&mut *tx).await?;
    row.as_ref().map(channel_from_row).transpose()
}

/// The state of a plugged-in attachment, as a parameter: see [`live_attachments`].
const ATTACHED: &str = "attached";

/// The live attachments of channel `channel_id`, oldest first.
///
/// The state is a parameter, not a constant, in this and in the other lookups run on every
/// acceptance (the account's channel count): PostgreSQL may then not use the partial index
/// of live attachments (`attachments_live`, led by the interface) for a plan it keeps,
/// since it cannot prove the parameter is `'attached'`. Written as a constant, the plan it
/// made while the table was nearly empty and every index cost the same read that index
/// whole, channel column second, and was kept as the table grew (119 buffers a call at
/// 10,000 channels against 3; docs/performance.md, 2026-12-07 session 25).
pub async fn live_attachments(tx: &mut WriteTx, channel_id: &str) -> Result<Vec<AttachmentRow>, SqlError> {
    let rows = query(
        "SELECT interface, role, customer_vlan, bandwidth_mbps, tag FROM attachments \
         WHERE channel_id = $1 AND state = $2 ORDER BY attached_at, id",
    )
    .bind(channel_id)
    .bind(ATTACHED)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter().map(attachment_from_row).collect()
}

/// Creates channel `new` in `draft`; its ID. A name its organization gave another channel
/// already is a conflict.
pub async fn insert(tx: &mut WriteTx, new: &NewChannel<'_>, now: i64) -> Result<String, StoreError> {
    let id = new_id("ch");
    let r = query(
        "INSERT INTO channels (id, name, org_id, created_by, kind, bandwidth_mbps, class, definition_id, usage_model_id, \
         state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $10)",
    )
    .bind(id.as_str())
    .bind(new.name)
    .bind(new.org_id)
    .bind(new.created_by)
    .bind(new.kind.as_str())
    .bind(to_i64(new.bandwidth_mbps))
    .bind(new.class)
    .bind(new.definition_id)
    .bind(new.usage_model_id)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match r {
        Ok(_) => Ok(id),
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::Conflict(format!("your organization already has a channel named `{}`", new.name)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Plugs interface `new.interface` into channel `new.channel_id`; the attachment's ID. An
/// interface plugged into the channel already is a conflict (one live attachment per
/// channel and interface: a partial unique index).
pub async fn insert_attachment(tx: &mut WriteTx, new: &NewAttachment<'_>, now: i64) -> Result<String, StoreError> {
    let id = new_id("att");
    let r = query(
        "INSERT INTO attachments (id, channel_id, interface, org_id, role, customer_vlan, tag, usage_model_id, state, \
         attached_at, bandwidth_mbps) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'attached', $9, $10)",
    )
    .bind(id.as_str())
    .bind(new.channel_id)
    .bind(new.interface)
    .bind(new.org_id)
    .bind(new.role.as_str())
    .bind(new.customer_vlan.map(i64::from))
    .bind(new.customer_vlan.or(new.channel_vlan).map(i64::from))
    .bind(new.usage_model_id)
    .bind(now)
    .bind(new.bandwidth_mbps.map(to_i64))
    .execute(&mut *tx)
    .await;
    match r {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict(format!(
                "interface `{}` is already plugged into this channel",
                new.interface
            )));
        }
        Err(e) => return Err(e.into()),
    }
    // The organization holds one more channel unless another of its interfaces is in it
    // (the state a parameter: see `live_attachments`).
    query(
        "UPDATE accounts SET channels_held = channels_held + 1 WHERE org_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM attachments t WHERE t.org_id = $1 AND t.state = $4 AND t.channel_id = $2 AND t.id <> $3)",
    )
    .bind(new.org_id)
    .bind(new.channel_id)
    .bind(id.as_str())
    .bind(ATTACHED)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// The channel whose live attachment on interface `interface` carries tag `tag`, if one
/// does.
pub async fn tag_user(tx: &mut WriteTx, interface: &str, tag: u16) -> Result<Option<String>, SqlError> {
    let taken =
        query("SELECT channel_id FROM attachments WHERE interface = $1 AND state = 'attached' AND tag = $2 LIMIT 1")
            .bind(interface)
            .bind(i64::from(tag))
            .fetch_optional(&mut *tx)
            .await?;
    taken.map(|r| r.try_get("channel_id")).transpose()
}

/// Where attachment `id` belongs and whether it is plugged in, or `None`.
pub async fn attachment_state(tx: &mut WriteTx, id: &str) -> Result<Option<AttachmentState>, SqlError> {
    let row = query("SELECT channel_id, org_id, interface, state FROM attachments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(AttachmentState {
        channel_id: r.try_get("channel_id")?,
        org_id: r.try_get("org_id")?,
        interface: r.try_get("interface")?,
        attached: r.try_get::<String>("state")? == "attached",
    }))
}

/// Unplugs attachment `id` (if it is plugged in).
pub async fn detach(tx: &mut WriteTx, id: &str, now: i64) -> Result<(), SqlError> {
    let n = query("UPDATE attachments SET state = 'detached', detached_at = $2 WHERE id = $1 AND state = 'attached'")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if n == 1 {
        // The organization holds one channel less unless another of its interfaces is in it.
        query(
            "UPDATE accounts SET channels_held = channels_held - 1 \
             WHERE org_id = (SELECT org_id FROM attachments WHERE id = $1) AND NOT EXISTS \
             (SELECT 1 FROM attachments me JOIN attachments t ON t.org_id = me.org_id AND t.channel_id = me.channel_id \
              WHERE me.id = $1 AND t.state = 'attached')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Unplugs every member of those of `channel_ids` that are terminated (in the same
/// transaction that terminated them): a terminated channel holds no interface and counts
/// for no organization's channels.
pub async fn release_attachments(tx: &mut WriteTx, channel_ids: &[&str], now: i64) -> Result<(), SqlError> {
    for chunk in channel_ids.chunks(MAX_PARAMS) {
        let ended = format!(
            "t.state = 'attached' AND t.channel_id IN (SELECT id FROM channels WHERE state = 'terminated' AND id IN ({}))",
            placeholders(1, chunk.len())
        );
        // Each organization holds as many channels less as these are it has members in.
        let sql = format!(
            "UPDATE accounts SET channels_held = channels_held - \
             (SELECT COUNT(DISTINCT t.channel_id) FROM attachments t WHERE t.org_id = accounts.org_id AND {ended}) \
             WHERE org_id IN (SELECT t.org_id FROM attachments t WHERE {ended})"
        );
        let mut q = varying(sql);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *tx).await?;
        let sql = format!(
            "UPDATE attachments SET state = 'detached', detached_at = ${} WHERE id IN (SELECT t.id FROM attachments t WHERE {ended})",
            chunk.len() + 1
        );
        let mut q = varying(sql);
        for id in chunk {
            q = q.bind(*id);
        }
        q.bind(now).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Whether channel `channel_id` holds a VLAN on some switch, and so may have configuration
/// there.
pub async fn holds_vlans(tx: &mut WriteTx, channel_id: &str) -> Result<bool, SqlError> {
    let holds = query("SELECT switch FROM vlan_allocations WHERE channel_id = $1 LIMIT 1")
        .bind(channel_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(holds.is_some())
}

/// Moves channel `channel_id` from state `from` to `to`, for `reason`. A conflict when it
/// is no longer `from` (another request moved it first). Whether `from` may become `to`
/// at all is the caller's rule.
pub async fn set_state(
    tx: &mut WriteTx,
    channel_id: &str,
    from: ChannelState,
    to: ChannelState,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    let n = query("UPDATE channels SET state = $3, reason = $4, updated_at = $5 WHERE id = $1 AND state = $2")
        .bind(channel_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if n == 1 { Ok(()) } else { Err(StoreError::Raced(format!("the channel is no longer {from}"))) }
}

/// Who may see a channel, but for the operator's staff, who see every one: the IDs of the
/// channels the organization bound as `$org` owns, is plugged into, was plugged into when
/// the channel ended, or holds the right to offer on. An invitation shows the
/// offer (its page, the organization's inbox), not the channel: until it accepts, an
/// invitee sees nothing of the channel's other members, their ports and prices (issue 24,
/// privacy); a member that unplugged from a channel that goes on sees it no more. The one
/// text of this rule: the lists and the check of one channel both use it.
pub(super) fn visible_ids(org: usize) -> String {
    format!(
        "SELECT id FROM channels WHERE org_id = ${org} \
         UNION SELECT channel_id FROM attachments WHERE org_id = ${org} AND (state = 'attached' \
           OR channel_id IN (SELECT id FROM channels WHERE state IN ('terminating', 'terminated'))) \
         UNION SELECT channel_id FROM permissions WHERE grantee_org = ${org} AND can_reoffer <> 0"
    )
}

/// A channel from a row of `channels` (`SELECT *`).
pub(crate) fn channel_from_row(r: &Row) -> Result<ChannelRow> {
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    Ok(ChannelRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        org_id: r.try_get("org_id")?,
        kind: kind.parse().map_err(Error::Kind)?,
        bandwidth_mbps: to_u64(r.try_get("bandwidth_mbps")?),
        class: r.try_get("class")?,
        definition_id: r.try_get("definition_id")?,
        usage_model_id: r.try_get("usage_model_id")?,
        state: ChannelState::parse(&state).unwrap_or(ChannelState::Failed),
        vlan: vid(r.try_get("vlan")?),
        leaf_vlan: vid(r.try_get("leaf_vlan")?),
        path: split_list(&r.try_get::<String>("path")?),
        created_at: r.try_get("created_at")?,
        reason: r.try_get("reason")?,
    })
}

/// A channel with the names a view shows (`WHERE ...` is appended).
pub(super) const CHANNEL_SELECT: &str = "SELECT c.*, o.name AS org_name, d.name AS def_name, d.version AS def_version, \
     u.name AS um_name FROM channels c JOIN organizations o ON o.id = c.org_id \
     JOIN service_definitions d ON d.id = c.definition_id JOIN usage_models u ON u.id = c.usage_model_id";

/// An attachment with its organization's name and its bandwidth, its own or else its
/// channel's (`WHERE ...` is appended).
pub(super) const ATTACHMENT_SELECT: &str = "SELECT a.*, o.name AS org_name, u.name AS um_name, u.max_mb AS um_max_mb, \
     u.price_type AS um_price_type, COALESCE(a.bandwidth_mbps, ch.bandwidth_mbps) AS member_mbps, \
     CASE WHEN si.mode = 'tagged' THEN a.tag END AS member_tag FROM attachments a \
     JOIN organizations o ON o.id = a.org_id JOIN usage_models u ON u.id = a.usage_model_id \
     JOIN channels ch ON ch.id = a.channel_id LEFT JOIN service_interfaces si ON si.name = a.interface";

pub(super) fn named_from_row(r: &Row, attachments: Vec<Attachment>) -> Result<Named> {
    Ok(Named {
        channel: channel_from_row(r)?,
        organization: r.try_get("org_name")?,
        definition: r.try_get("def_name")?,
        definition_version: r.try_get("def_version")?,
        usage_model: r.try_get("um_name")?,
        attachments,
    })
}

/// A live attachment from a row with `interface`, `role`, `customer_vlan`, `bandwidth_mbps`
/// and `tag`.
pub(crate) fn attachment_from_row(r: &Row) -> Result<AttachmentRow, SqlError> {
    let role: String = r.try_get("role")?;
    Ok(AttachmentRow {
        interface: r.try_get("interface")?,
        role: role.parse().unwrap_or(Role::Root),
        customer_vlan: vid(r.try_get("customer_vlan")?),
        bandwidth_mbps: r.try_get::<Option<i64>>("bandwidth_mbps")?.map(to_u64),
        tag: vid(r.try_get("tag")?),
    })
}

pub(super) fn named_attachment_from_row(a: &Row) -> Result<Attachment, SqlError> {
    let role: String = a.try_get("role")?;
    Ok(Attachment {
        id: AttachmentId::stored(a.try_get::<String>("id")?),
        channel_id: ChannelId::stored(a.try_get::<String>("channel_id")?),
        interface: a.try_get("interface")?,
        organization: a.try_get("org_name")?,
        role: role.parse().unwrap_or(Role::Root),
        customer_vlan: vid(a.try_get("customer_vlan")?),
        tag: vid(a.try_get("member_tag")?),
        bandwidth_mbps: to_u64(a.try_get("member_mbps")?),
        state: a.try_get("state")?,
        attached_at: a.try_get("attached_at")?,
        detached_at: a.try_get("detached_at")?,
        bytes_used: to_u64(a.try_get("bytes_used")?),
        metering: metering(a)?,
        usage_model_id: a.try_get("usage_model_id")?,
        usage_model: a.try_get("um_name")?,
    })
}

/// How an attachment row's traffic is counted, as the store knows it (whether its switch
/// has counters is the service's to say): a usage model with an allowance or a price per GB
/// is metered ([`super::meter::metered`]).
fn metering(a: &Row) -> Result<Metering, SqlError> {
    let metered = a.try_get::<Option<i64>>("um_max_mb")?.is_some() || a.try_get::<String>("um_price_type")? == "per_gb";
    if !metered {
        return Ok(Metering::NotMetered);
    }
    Ok(match (a.try_get::<Option<i64>>("meter_failed_at")?, a.try_get::<Option<String>>("meter_error")?) {
        (Some(since), reason) => Metering::Unknown { since, reason: reason.unwrap_or_default() },
        (None, _) => Metering::Counted { read_at: a.try_get("metered_at")? },
    })
}

/// A VLAN column (`NULL`, or 1-4094).
fn vid(v: Option<i64>) -> Option<u16> {
    v.and_then(|v| u16::try_from(v).ok())
}

// ---- the order worker's writes ----

/// Several channels planned at once, `plans` as (id, VLAN, leaf VLAN, path), in one
/// statement; then their live members tagged as [`retag`] does, in one more.
pub async fn set_plans(
    tx: &mut WriteTx,
    dialect: Dialect,
    plans: &[(String, u16, Option<u16>, String)],
    now: i64,
) -> Result<(), StoreError> {
    let ids: Vec<&str> = plans.iter().map(|u| u.0.as_str()).collect();
    let rows = json_rows(dialect, 2, &[("id", "TEXT"), ("vlan", "BIGINT"), ("leaf", "BIGINT"), ("path", "TEXT")]);
    let sql = format!(
        "UPDATE channels SET vlan = v.vlan, leaf_vlan = v.leaf, path = v.path, updated_at = $1 \
         FROM ({rows}) AS v WHERE channels.id = v.id AND {}",
        in_list(dialect, "channels.id", 3)
    );
    let keys = list_param(dialect, &ids);
    query(sql).bind(now).bind(json_param(plans)).bind(keys.as_str()).execute(&mut *tx).await?;
    // Members without a tag yet take their channel's VLAN (or their customer VLAN). A tag,
    // once given, stays: on a tagged-mode interface the customer's equipment uses it, and
    // a channel moved to another VLAN keeps its members' tags (the planner is given them as
    // customer VLANs: `orders::target_of`). On PostgreSQL the members are found channel by
    // channel (see `live_of`).
    let members = match dialect {
        Dialect::Postgres => format!("attachments.id IN (SELECT a.id FROM {})", live_of(2, "id")),
        Dialect::Sqlite => in_list(dialect, "attachments.channel_id", 2),
    };
    let sql = format!(
        "UPDATE attachments SET tag = COALESCE(attachments.customer_vlan, v.vlan) \
         FROM ({rows}) AS v WHERE attachments.channel_id = v.id AND {members} AND attachments.state = 'attached' \
         AND attachments.tag IS NULL",
        rows = json_rows(dialect, 1, &[("id", "TEXT"), ("vlan", "BIGINT")]),
    );
    // Planned for its lists each time (`varying`), as `tags_on_except`.
    varying(sql).bind(json_param(plans)).bind(keys.as_str()).execute(&mut *tx).await?;
    Ok(())
}

/// PostgreSQL: `FROM` text that gives, as `a`, columns `columns` of the live attachments of
/// the channels whose ids are the array `$n`, looked up channel by channel through
/// `attachments_channel` (channel, state): a `LATERAL` subquery the planner cannot merge into a join
/// (`OFFSET 0`). Planned as a plain `channel_id = ANY($n)` it scanned the whole partial
/// index of live attachments and filtered it, whenever the table's statistics were older
/// than its growth (docs/performance.md, 2026-12-07 session 25).
fn live_of(n: usize, columns: &str) -> String {
    format!(
        "(SELECT DISTINCT id FROM unnest(CAST(${n} AS TEXT[])) AS u(id)) AS c CROSS JOIN LATERAL \
         (SELECT {columns} FROM attachments WHERE channel_id = c.id AND state = 'attached' OFFSET 0) AS a"
    )
}

/// What each of the channels `ids` holds on the switches, as (id, applied JSON).
pub async fn applied_of(db: &Db, dialect: Dialect, ids: &[&str]) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let sql = format!("SELECT id, applied FROM channels WHERE {}", in_list(dialect, "id", 1));
    let rows = query(sql).bind(list_param(dialect, ids)).fetch_all(db).await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("applied")?))).collect::<Result<_, SqlError>>()?)
}

/// What each channel holds on the switches, as (id, applied JSON; NULL for nothing), its
/// state unchanged: one statement.
pub async fn applied_many(
    tx: &mut WriteTx,
    dialect: Dialect,
    applied: &[(String, Option<String>)],
    now: i64,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE channels SET applied = v.applied, updated_at = $1 FROM ({}) AS v WHERE channels.id = v.id AND {}",
        json_rows(dialect, 2, &[("id", "TEXT"), ("applied", "TEXT")]),
        in_list(dialect, "channels.id", 3)
    );
    let keys: Vec<&str> = applied.iter().map(|p| p.0.as_str()).collect();
    query(sql).bind(now).bind(json_param(applied)).bind(list_param(dialect, &keys)).execute(&mut *tx).await?;
    Ok(())
}

/// The channels `ids` are now `to`, their reason cleared: a success transition the caller
/// checked with `can_become` against the states it read under the rows' locks.
pub async fn move_many(
    tx: &mut WriteTx,
    dialect: Dialect,
    ids: &[&str],
    to: ChannelState,
    now: i64,
) -> Result<(), StoreError> {
    let sql =
        format!("UPDATE channels SET state = $1, reason = '', updated_at = $2 WHERE {}", in_list(dialect, "id", 3));
    query(sql).bind(to.as_str()).bind(now).bind(list_param(dialect, ids)).execute(&mut *tx).await?;
    Ok(())
}

/// The channels `ids`, if `terminating`, are off the switches: `terminated`, without a
/// path or VLANs (freed with them), in one statement.
pub async fn terminated_many(tx: &mut WriteTx, dialect: Dialect, ids: &[&str], now: i64) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE channels SET applied = NULL, path = '', vlan = NULL, leaf_vlan = NULL, state = 'terminated', \
         updated_at = $1 WHERE state = 'terminating' AND {}",
        in_list(dialect, "id", 2)
    );
    query(sql).bind(now).bind(list_param(dialect, ids)).execute(&mut *tx).await?;
    Ok(())
}

/// Channel `id` has no path and no VLANs (they were freed: another channel may hold them
/// now, and its page must not show them as this one's).
pub async fn clear_path(tx: &mut WriteTx, id: &str) -> Result<(), StoreError> {
    query("UPDATE channels SET path = '', vlan = NULL, leaf_vlan = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The names people know the objects `ids` by, for those that exist: channels and usage
/// models by name, organizations by name, users by email (the audit log names them by ID).
pub async fn names_of(db: &Db, ids: &[&str]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for (prefix, table, column) in [
        ("ch-", "channels", "name"),
        ("org-", "organizations", "name"),
        ("usr-", "users", "email"),
        ("um-", "usage_models", "name"),
    ] {
        let some: Vec<&str> = ids.iter().copied().filter(|i| i.starts_with(prefix)).collect();
        if some.is_empty() {
            continue;
        }
        let sql = format!("SELECT id, {column} AS name FROM {table} WHERE {}", in_list(db.dialect, "id", 1));
        for r in query(sql).bind(list_param(db.dialect, &some)).fetch_all(db).await? {
            out.insert(r.try_get("id")?, r.try_get("name")?);
        }
    }
    Ok(out)
}

// ---- the order worker's reads ----

/// The channels `ids` as a write transaction reads them, by ID, each row locked until the
/// transaction ends ([`super::lock`]).
pub async fn rows_of(
    tx: &mut WriteTx,
    dialect: Dialect,
    ids: &[&str],
) -> Result<std::collections::BTreeMap<String, ChannelRow>> {
    let sql = format!("SELECT * FROM channels WHERE {}{}", in_list(dialect, "id", 1), super::lock(dialect));
    let mut out = std::collections::BTreeMap::new();
    for r in query(sql).bind(list_param(dialect, ids)).fetch_all(&mut *tx).await? {
        let c = channel_from_row(&r)?;
        out.insert(c.id.clone(), c);
    }
    Ok(out)
}

/// The live attachments of several channels, by channel, each in attachment order.
pub async fn live_attachments_of(
    tx: &mut WriteTx,
    dialect: Dialect,
    ids: &[&str],
) -> Result<std::collections::BTreeMap<String, Vec<AttachmentRow>>> {
    let columns = "channel_id, interface, role, customer_vlan, bandwidth_mbps, tag, attached_at, id";
    let sql = match dialect {
        Dialect::Postgres => format!("SELECT a.* FROM {} ORDER BY a.attached_at, a.id", live_of(1, columns)),
        Dialect::Sqlite => format!(
            "SELECT {columns} FROM attachments WHERE state = 'attached' AND {} ORDER BY attached_at, id",
            in_list(dialect, "channel_id", 1)
        ),
    };
    let mut out: std::collections::BTreeMap<String, Vec<AttachmentRow>> = std::collections::BTreeMap::new();
    // Planned for its list each time (`varying`), as `tags_on_except`.
    for r in varying(sql).bind(list_param(dialect, ids)).fetch_all(&mut *tx).await? {
        out.entry(r.try_get("channel_id")?).or_default().push(attachment_from_row(&r)?);
    }
    Ok(out)
}

/// The customer tags that live members of channels other than `excluded` use on each of
/// `ifaces`, by interface: one row per interface with its tags as text (a busy tagged interface carries dozens of channels).
pub async fn tags_on_except(
    tx: &mut WriteTx,
    dialect: Dialect,
    ifaces: &[&str],
    excluded: &[&str],
) -> Result<Vec<(String, Vec<u16>)>, StoreError> {
    let sql = format!(
        "SELECT a.interface, string_agg(CAST(a.tag AS TEXT), ',') AS tags FROM attachments a \
         WHERE a.state = 'attached' AND {} AND NOT ({}) AND a.tag IS NOT NULL GROUP BY a.interface",
        in_list(dialect, "a.interface", 1),
        in_list(dialect, "a.channel_id", 2)
    );
    // Planned for its lists each time (`varying`): PostgreSQL's generic plan, kept on the
    // connection after five runs while the table was small, scanned every live attachment
    // and filtered by interface (11-12 ms a call at 3,000 channels, against 0.3 ms).
    let q = varying(sql).bind(list_param(dialect, ifaces)).bind(list_param(dialect, excluded));
    let mut out = Vec::new();
    for r in q.fetch_all(&mut *tx).await? {
        let iface: String = r.try_get("interface")?;
        let tags: String = r.try_get("tags")?;
        out.push((iface, tags.split(',').filter_map(|v| v.trim().parse::<u16>().ok()).collect()));
    }
    Ok(out)
}
