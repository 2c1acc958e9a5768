//! An organization's policy as kept: the policy columns of its `organizations` row (default
//! offer expiry, whether members accept, notification preferences), its auto-accept rules
//! (`auto_accept`, one per offering organization), and the addresses its news goes to.

use crate::model::policy::{AutoAccept, Notifications, Policy};
use crate::model::text::Email;

use super::{Db, Row, SqlError, WriteTx, query};

/// An auto-accept rule as stored: offers from `from_org_id` are accepted with `interface`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub from_org_id: String,
    pub interface: String,
}

/// The rule by which an organization accepts an offering organization's offers at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepting {
    /// The accepting organization.
    pub org_id: String,
    /// Its interface the channel plugs into.
    pub interface: String,
}

/// `org_id`'s policy, its rules naming the offering organizations by name (in name order);
/// `None` when there is no such organization.
pub async fn get(db: &Db, org_id: &str) -> Result<Option<Policy>, SqlError> {
    let Some(org) = query(
        "SELECT default_offer_days, members_can_accept, notify_answers, notify_active, notify_down, notify_to \
         FROM organizations WHERE id = $1",
    )
    .bind(org_id)
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let rules = query(
        "SELECT g.name, r.interface FROM auto_accept r JOIN organizations g ON g.id = r.from_org_id \
         WHERE r.org_id = $1 ORDER BY g.name",
    )
    .bind(org_id)
    .fetch_all(db)
    .await?;
    Ok(Some(Policy {
        default_offer_days: u32::try_from(org.try_get::<i64>("default_offer_days")?).unwrap_or(60),
        members_can_accept: org.try_get::<i64>("members_can_accept")? == 1,
        auto_accept: rules
            .iter()
            .map(|r| Ok(AutoAccept { organization: r.try_get("name")?, interface: r.try_get("interface")? }))
            .collect::<Result<_, SqlError>>()?,
        notifications: notifications_of(&org)?,
    }))
}

/// How many days organization `org_id`'s offers last when an offer does not say (an error
/// when there is no such organization).
pub async fn default_offer_days(db: &Db, org_id: &str) -> Result<i64, SqlError> {
    query("SELECT default_offer_days FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_one(db)
        .await?
        .try_get("default_offer_days")
}

/// Whether organization `org_id` lets its members accept offers, not only its admins, read
/// in `tx` (an error when there is no such organization).
pub async fn members_can_accept(tx: &mut WriteTx, org_id: &str) -> Result<bool, SqlError> {
    let allowed: i64 = query("SELECT members_can_accept FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("members_can_accept")?;
    Ok(allowed == 1)
}

/// Stores `org_id`'s settings: its default offer expiry, whether members accept, and its
/// notification preferences (`notifications.recipients` as given: the caller checks them).
pub async fn set_settings(
    tx: &mut WriteTx,
    org_id: &str,
    default_offer_days: u32,
    members_can_accept: bool,
    notifications: &Notifications,
) -> Result<(), SqlError> {
    query(
        "UPDATE organizations SET default_offer_days = $2, members_can_accept = $3, notify_answers = $4, \
         notify_active = $5, notify_down = $6, notify_to = $7 WHERE id = $1",
    )
    .bind(org_id)
    .bind(i64::from(default_offer_days))
    .bind(i64::from(members_can_accept))
    .bind(i64::from(notifications.offer_answers))
    .bind(i64::from(notifications.channel_active))
    .bind(i64::from(notifications.channel_down))
    .bind(notifications.recipients.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Replaces `org_id`'s auto-accept rules with `rules`, made at `now`.
pub async fn set_rules(tx: &mut WriteTx, org_id: &str, rules: &[Rule], now: i64) -> Result<(), SqlError> {
    query("DELETE FROM auto_accept WHERE org_id = $1").bind(org_id).execute(&mut *tx).await?;
    for rule in rules {
        query("INSERT INTO auto_accept (org_id, from_org_id, interface, created_at) VALUES ($1, $2, $3, $4)")
            .bind(org_id)
            .bind(rule.from_org_id.as_str())
            .bind(rule.interface.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// How the organization named `org_name` accepts offers from `offering_org_id` at once;
/// `None` when it does not.
pub async fn accepting(db: &Db, org_name: &str, offering_org_id: &str) -> Result<Option<Accepting>, SqlError> {
    let row = query(
        "SELECT r.org_id, r.interface FROM auto_accept r JOIN organizations g ON g.id = r.org_id \
         WHERE g.name = $1 AND r.from_org_id = $2",
    )
    .bind(org_name)
    .bind(offering_org_id)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Accepting { org_id: row.try_get("org_id")?, interface: row.try_get("interface")? }))
}

/// `org_id`'s notification preferences; `None` when there is no such organization.
pub async fn notifications(db: &Db, org_id: &str) -> Result<Option<Notifications>, SqlError> {
    let row = query("SELECT notify_answers, notify_active, notify_down, notify_to FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(notifications_of).transpose()
}

/// The email addresses of `org_id`'s admins who can log in, in order: who gets its news when
/// it named nobody (not one still to choose a password, such as someone claiming it).
pub async fn admin_emails(db: &Db, org_id: &str) -> Result<Vec<String>, SqlError> {
    let rows = query(concat!(
        "SELECT email FROM users WHERE org_id = $1 AND role = 'admin' AND ",
        can_log_in!(""),
        " ORDER BY email"
    ))
    .bind(org_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(|r| r.try_get("email")).collect()
}

/// A channel as the news of an answer to its offer names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offered {
    pub name: String,
    /// The organization that made the offer, which hears the answer.
    pub org_id: String,
}

/// A channel as the news of an order's outcome tells of it, read after the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelNews {
    pub name: String,
    /// Where the channel is now (it may have moved on since the order).
    pub state: String,
    pub vlan: Option<u16>,
    /// Why it was paused or ended.
    pub reason: String,
}

/// The channel `channel_id` and who offered it; an error when there is no such channel.
pub async fn offered(db: &Db, channel_id: &str) -> Result<Offered, SqlError> {
    let r = query("SELECT name, org_id FROM channels WHERE id = $1").bind(channel_id).fetch_one(db).await?;
    Ok(Offered { name: r.try_get("name")?, org_id: r.try_get("org_id")? })
}

/// The channel `channel_id` as it is now; an error when there is no such channel.
pub async fn channel_news(db: &Db, channel_id: &str) -> Result<ChannelNews, SqlError> {
    let r =
        query("SELECT name, state, vlan, reason FROM channels WHERE id = $1").bind(channel_id).fetch_one(db).await?;
    Ok(ChannelNews {
        name: r.try_get("name")?,
        state: r.try_get("state")?,
        vlan: r.try_get::<Option<i64>>("vlan")?.and_then(|v| u16::try_from(v).ok()),
        reason: r.try_get("reason")?,
    })
}

/// The organizations that hear of `channel_id`'s news: its members (those detached when
/// the channel ended too, so an ending reaches everyone it ended for) and its owner.
pub async fn members(db: &Db, channel_id: &str) -> Result<Vec<String>, SqlError> {
    let rows = query(
        "SELECT a.org_id FROM attachments a JOIN channels c ON c.id = a.channel_id WHERE a.channel_id = $1 \
         AND (a.state = 'attached' OR (c.state = 'terminated' AND a.detached_at >= c.updated_at)) \
         UNION SELECT org_id FROM channels WHERE id = $1",
    )
    .bind(channel_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(|r| r.try_get("org_id")).collect()
}

/// The notification preferences in an `organizations` row.
fn notifications_of(row: &Row) -> Result<Notifications, SqlError> {
    let to: String = row.try_get("notify_to")?;
    Ok(Notifications {
        offer_answers: row.try_get::<i64>("notify_answers")? == 1,
        channel_active: row.try_get::<i64>("notify_active")? == 1,
        channel_down: row.try_get::<i64>("notify_down")? == 1,
        recipients: to.split(',').filter(|s| !s.is_empty()).map(Email::stored).collect(),
    })
}
