//! Offers and their invitees: who was invited to a channel, by whom, until when, and how
//! far each invitee got (opened, registered, accepted, declined, expired), with the
//! permissions an acceptance grants. Making offers, inviting, each invitee's steps, and
//! reading them as people see them. Invitation tokens are stored only as their hash
//! (`token_hash`): the hashing is done here, on the way in and on the way to a lookup.

use crate::model::Role;

use super::{Db, ReadTx, Row, SqlError, WriteTx, new_id, query, token_hash};

/// An offer as stored.
#[derive(Clone, Debug)]
pub struct Offer {
    pub id: String,
    pub channel_id: String,
    /// The organization that made it.
    pub org_id: String,
    pub description: String,
    pub expires_at: i64,
    /// Whether invitees who accept may offer the channel on.
    pub allow_reoffer: bool,
}

/// An invitee as stored (its token only ever as a hash, not read here).
#[derive(Clone, Debug)]
pub struct Invitee {
    pub id: String,
    pub offer_id: String,
    /// Whom it invites: a person by email, or an organization (or both).
    pub email: Option<String>,
    pub org_id: Option<String>,
    /// What the creator entered: the person's name and its organization's (may be empty).
    pub name: String,
    pub org_name: String,
    /// The role it takes in a p2mp channel, when the creator chose one.
    pub role: Option<Role>,
    pub accessed_at: Option<i64>,
    pub registered_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub declined_at: Option<i64>,
    pub expired_at: Option<i64>,
    /// When the offer's organization withdrew it (its link is refused from then on).
    pub withdrawn_at: Option<i64>,
    /// Why the invitee's auto-accept rule could not accept it, when one tried.
    pub auto_accept_refused: Option<String>,
    /// When the organization that accepted it unplugged its last port from the channel
    /// (read by [`invitees`] only; `None` elsewhere).
    pub unplugged_at: Option<i64>,
}

/// An invitee with the offer it belongs to, as its invitation shows it.
#[derive(Clone, Debug)]
pub struct Invited {
    pub invitee: Invitee,
    pub channel_id: String,
    pub description: String,
    pub expires_at: i64,
    /// The name of the organization that made the offer.
    pub offered_by: String,
}

/// An invitee found by its token, with what its offer says.
#[derive(Clone, Debug)]
pub struct ByToken {
    pub invitee: Invitee,
    pub channel_id: String,
    /// The organization that made the offer.
    pub offer_org: String,
    /// Whether accepting grants the right to offer the channel on.
    pub allow_reoffer: bool,
    pub description: String,
    pub expires_at: i64,
}

/// What adding invitees to an offer needs of it.
#[derive(Clone, Debug)]
pub struct Head {
    pub channel_id: String,
    /// The organization that made it.
    pub org_id: String,
    pub expires_at: i64,
}

/// An offer to make.
#[derive(Clone, Copy, Debug)]
pub struct NewOffer<'a> {
    pub channel_id: &'a str,
    /// The organization that makes it, and its user who does.
    pub org_id: &'a str,
    pub created_by: &'a str,
    pub description: &'a str,
    pub allow_reoffer: bool,
    pub expires_at: i64,
}

/// An invitee to add to an offer.
#[derive(Clone, Copy, Debug)]
pub struct NewInvitee<'a> {
    pub offer_id: &'a str,
    pub email: Option<&'a str>,
    pub org_id: Option<&'a str>,
    pub name: &'a str,
    pub org_name: &'a str,
    pub role: Option<Role>,
    /// The token its link carries (stored as its hash).
    pub token: &'a str,
}

/// What an accepted invitation grants its organization on the channel: to use it and,
/// when the offer allows it, to offer it on.
#[derive(Clone, Copy, Debug)]
pub struct Grant<'a> {
    pub channel_id: &'a str,
    pub grantor_org: &'a str,
    pub grantee_org: &'a str,
    pub can_reoffer: bool,
    pub invitee_id: &'a str,
}

/// Makes offer `new`; its ID.
pub async fn insert(tx: &mut WriteTx, new: &NewOffer<'_>, now: i64) -> Result<String, SqlError> {
    let id = new_id("off");
    query(
        "INSERT INTO offers (id, channel_id, org_id, created_by, description, allow_reoffer, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.as_str())
    .bind(new.channel_id)
    .bind(new.org_id)
    .bind(new.created_by)
    .bind(new.description)
    .bind(i64::from(new.allow_reoffer))
    .bind(new.expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// Invites `new` to its offer; the invitee's ID.
pub async fn insert_invitee(tx: &mut WriteTx, new: &NewInvitee<'_>, now: i64) -> Result<String, SqlError> {
    let id = new_id("inv");
    query(
        "INSERT INTO invitees (id, offer_id, email, org_id, name, org_name, role, token_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id.as_str())
    .bind(new.offer_id)
    .bind(new.email)
    .bind(new.org_id)
    .bind(new.name)
    .bind(new.org_name)
    .bind(new.role.map(|r| r.as_str()))
    .bind(token_hash(new.token))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// Offer `id`'s channel, maker and expiry, read in `tx`, or `None`.
pub async fn head(tx: &mut WriteTx, id: &str) -> Result<Option<Head>, SqlError> {
    let row = query("SELECT channel_id, org_id, expires_at FROM offers WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(o) = row else { return Ok(None) };
    Ok(Some(Head {
        channel_id: o.try_get("channel_id")?,
        org_id: o.try_get("org_id")?,
        expires_at: o.try_get("expires_at")?,
    }))
}

/// Offer `id`'s description and expiry, read in `tx` (an error when there is no such offer).
pub async fn description_and_expiry(tx: &mut WriteTx, id: &str) -> Result<(String, i64), SqlError> {
    let r = query("SELECT description, expires_at FROM offers WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
    Ok((r.try_get("description")?, r.try_get("expires_at")?))
}

/// Whether organization `org_id` holds a permission on channel `channel_id` that lets it
/// offer the channel on.
pub async fn may_reoffer(tx: &mut WriteTx, channel_id: &str, org_id: &str) -> Result<bool, SqlError> {
    let granted =
        query("SELECT id FROM permissions WHERE channel_id = $1 AND grantee_org = $2 AND can_reoffer = 1 LIMIT 1")
            .bind(channel_id)
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(granted.is_some())
}

/// The invitee that invitation token `token` was made for, with its offer, or `None`.
pub async fn by_token(db: &Db, token: &str) -> Result<Option<ByToken>, SqlError> {
    by_column(
        db,
        "SELECT i.*, o.expires_at, o.channel_id, o.org_id AS offer_org, o.allow_reoffer, o.description \
         FROM invitees i JOIN offers o ON o.id = i.offer_id WHERE i.token_hash = $1",
        &token_hash(token),
    )
    .await
}

/// The invitee `id` with its offer, as [`by_token`] finds it, or `None`.
pub async fn by_id(db: &Db, id: &str) -> Result<Option<ByToken>, SqlError> {
    by_column(
        db,
        "SELECT i.*, o.expires_at, o.channel_id, o.org_id AS offer_org, o.allow_reoffer, o.description \
         FROM invitees i JOIN offers o ON o.id = i.offer_id WHERE i.id = $1",
        id,
    )
    .await
}

async fn by_column(db: &Db, sql: &'static str, value: &str) -> Result<Option<ByToken>, SqlError> {
    let row = query(sql).bind(value).fetch_optional(db).await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(ByToken {
        invitee: invitee_from_row(&r)?,
        channel_id: r.try_get("channel_id")?,
        offer_org: r.try_get("offer_org")?,
        allow_reoffer: r.try_get::<i64>("allow_reoffer")? == 1,
        description: r.try_get("description")?,
        expires_at: r.try_get("expires_at")?,
    }))
}

/// Records that the offer's organization withdrew invitee `id`: false when it was
/// answered or withdrawn already.
pub async fn set_withdrawn(tx: &mut WriteTx, id: &str, now: i64) -> Result<bool, SqlError> {
    let n = query(
        "UPDATE invitees SET withdrawn_at = $2 \
         WHERE id = $1 AND withdrawn_at IS NULL AND accepted_at IS NULL AND declined_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(n == 1)
}

/// Gives invitee `id` a new link: `token` replaces its old one, which is refused from
/// then on. False when it was answered or withdrawn meanwhile.
pub async fn replace_token(tx: &mut WriteTx, id: &str, token: &str) -> Result<bool, SqlError> {
    let n = query(
        "UPDATE invitees SET token_hash = $2 \
         WHERE id = $1 AND withdrawn_at IS NULL AND accepted_at IS NULL AND declined_at IS NULL",
    )
    .bind(id)
    .bind(token_hash(token))
    .execute(&mut *tx)
    .await?;
    Ok(n == 1)
}

/// The invitees waiting for an answer from organization `org_id`: invited by name, or at
/// the email of one of its users; neither answered, withdrawn nor past their offer's date
/// at `now`. Newest first, with their offer.
pub async fn waiting_for(tx: &mut ReadTx<'_>, org_id: &str, now: i64) -> Result<Vec<Invited>, SqlError> {
    let rows = query(
        "SELECT i.*, o.channel_id, o.description, o.expires_at, g.name AS offered_by FROM invitees i \
         JOIN offers o ON o.id = i.offer_id JOIN organizations g ON g.id = o.org_id \
         WHERE i.accepted_at IS NULL AND i.declined_at IS NULL AND i.withdrawn_at IS NULL \
         AND i.expired_at IS NULL AND o.expires_at > $2 \
         AND (i.org_id = $1 OR LOWER(i.email) IN (SELECT LOWER(email) FROM users WHERE org_id = $1)) \
         ORDER BY i.created_at DESC, i.id",
    )
    .bind(org_id)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Invited {
                invitee: invitee_from_row(r)?,
                channel_id: r.try_get("channel_id")?,
                description: r.try_get("description")?,
                expires_at: r.try_get("expires_at")?,
                offered_by: r.try_get("offered_by")?,
            })
        })
        .collect()
}

/// Whether anyone can log in for organization `org_id` (an imported organization has
/// nobody until its first admin confirms their address).
pub async fn org_has_users(db: &Db, org_id: &str) -> Result<bool, SqlError> {
    let row = query(concat!("SELECT id FROM users WHERE org_id = $1 AND ", can_log_in!(""), " LIMIT 1"))
        .bind(org_id)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// Records that invitee `id`'s offer ran out before it answered (once).
pub async fn set_expired(tx: &mut WriteTx, id: &str, now: i64) -> Result<(), SqlError> {
    query("UPDATE invitees SET expired_at = $2 WHERE id = $1 AND expired_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Records invitee `id`'s first look at its invitation: whether this was it (false when
/// another request recorded one first).
pub async fn set_accessed(tx: &mut WriteTx, id: &str, now: i64) -> Result<bool, SqlError> {
    let n = query("UPDATE invitees SET accessed_at = $2 WHERE id = $1 AND accessed_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(n == 1)
}

/// Records that invitee `id` registered as user `user_id`.
pub async fn set_registered(tx: &mut WriteTx, id: &str, user_id: &str, now: i64) -> Result<(), SqlError> {
    query("UPDATE invitees SET registered_at = $2, user_id = $3 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Records that invitee `id` accepted, by user `user_id` when a person did (a user it
/// registered as stays): false when it was accepted or declined already.
pub async fn set_accepted(tx: &mut WriteTx, id: &str, user_id: Option<&str>, now: i64) -> Result<bool, SqlError> {
    let n = query(
        "UPDATE invitees SET accepted_at = $2, user_id = COALESCE(user_id, $3) \
         WHERE id = $1 AND accepted_at IS NULL AND declined_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    Ok(n == 1)
}

/// Records why the invitee's organization's auto-accept rule could not accept invitee `id`.
pub async fn note_auto_accept_refused(tx: &mut WriteTx, id: &str, reason: &str) -> Result<(), SqlError> {
    query("UPDATE invitees SET auto_accept_refused = $2 WHERE id = $1").bind(id).bind(reason).execute(&mut *tx).await?;
    Ok(())
}

/// Records that invitee `id` declined: false when it was accepted or declined already.
pub async fn set_declined(tx: &mut WriteTx, id: &str, now: i64) -> Result<bool, SqlError> {
    let n = query("UPDATE invitees SET declined_at = $2 WHERE id = $1 AND accepted_at IS NULL AND declined_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(n == 1)
}

/// Grants `grant` (an accepted invitation's permission).
pub async fn grant(tx: &mut WriteTx, grant: &Grant<'_>, now: i64) -> Result<(), SqlError> {
    query(
        "INSERT INTO permissions (id, channel_id, grantor_org, grantee_org, can_use, can_reoffer, invitee_id, created_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $6, $7)",
    )
    .bind(new_id("perm"))
    .bind(grant.channel_id)
    .bind(grant.grantor_org)
    .bind(grant.grantee_org)
    .bind(i64::from(grant.can_reoffer))
    .bind(grant.invitee_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The offer `id`, or `None`.
pub async fn get(tx: &mut ReadTx<'_>, id: &str) -> Result<Option<Offer>, SqlError> {
    let row = query("SELECT * FROM offers WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
    let Some(o) = row else { return Ok(None) };
    Ok(Some(Offer {
        id: o.try_get("id")?,
        channel_id: o.try_get("channel_id")?,
        org_id: o.try_get("org_id")?,
        description: o.try_get("description")?,
        expires_at: o.try_get("expires_at")?,
        allow_reoffer: o.try_get::<i64>("allow_reoffer")? == 1,
    }))
}

/// The IDs of the offers made for channel `channel_id`, oldest first: those the
/// organization `made_by` made, or every one when `None`.
pub async fn ids_of_channel(db: &Db, channel_id: &str, made_by: Option<&str>) -> Result<Vec<String>, SqlError> {
    query("SELECT id FROM offers WHERE channel_id = $1 AND (org_id = $2 OR $3 = 1) ORDER BY created_at, id")
        .bind(channel_id)
        .bind(made_by.unwrap_or(""))
        .bind(i64::from(made_by.is_none()))
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
}

/// The invitees of offer `offer_id`, in the order they were invited.
pub async fn invitees(tx: &mut ReadTx<'_>, offer_id: &str) -> Result<Vec<Invitee>, SqlError> {
    // An accepted invitee whose organization (the accepting user's, or the one invited by
    // name when its auto-accept rule answered) no longer has a port in the channel was
    // unplugged: when its last port left.
    let rows = query(
        "SELECT i.*, (SELECT MAX(t.detached_at) FROM attachments t JOIN offers o ON o.id = i.offer_id \
           WHERE i.accepted_at IS NOT NULL AND t.channel_id = o.channel_id \
           AND t.org_id = COALESCE((SELECT u.org_id FROM users u WHERE u.id = i.user_id), i.org_id) \
           AND NOT EXISTS (SELECT 1 FROM attachments l WHERE l.channel_id = t.channel_id \
             AND l.org_id = t.org_id AND l.state = 'attached')) AS unplugged_at \
         FROM invitees i WHERE i.offer_id = $1 ORDER BY i.created_at, i.id",
    )
    .bind(offer_id)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter().map(invitee_from_row).collect()
}

/// The invitee `invitee_id` with its offer (an error when there is no such invitee).
pub async fn invited(tx: &mut ReadTx<'_>, invitee_id: &str) -> Result<Invited, SqlError> {
    let r = query(
        "SELECT i.*, o.channel_id, o.description, o.expires_at, g.name AS offered_by FROM invitees i \
         JOIN offers o ON o.id = i.offer_id JOIN organizations g ON g.id = o.org_id WHERE i.id = $1",
    )
    .bind(invitee_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Invited {
        invitee: invitee_from_row(&r)?,
        channel_id: r.try_get("channel_id")?,
        description: r.try_get("description")?,
        expires_at: r.try_get("expires_at")?,
        offered_by: r.try_get("offered_by")?,
    })
}

fn invitee_from_row(r: &Row) -> Result<Invitee, SqlError> {
    let role: Option<String> = r.try_get("role")?;
    Ok(Invitee {
        id: r.try_get("id")?,
        offer_id: r.try_get("offer_id")?,
        email: r.try_get("email")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        org_name: r.try_get("org_name")?,
        role: role.and_then(|r| r.parse().ok()),
        accessed_at: r.try_get("accessed_at")?,
        registered_at: r.try_get("registered_at")?,
        accepted_at: r.try_get("accepted_at")?,
        declined_at: r.try_get("declined_at")?,
        expired_at: r.try_get("expired_at")?,
        withdrawn_at: r.try_get("withdrawn_at")?,
        auto_accept_refused: r.try_get("auto_accept_refused")?,
        unplugged_at: r.try_get("unplugged_at").ok().flatten(),
    })
}

/// Expires at `now` every invitee still waiting on an offer whose date has passed; how
/// many.
pub async fn expire_invitees(tx: &mut WriteTx, now: i64) -> Result<u64, SqlError> {
    query(
        "UPDATE invitees SET expired_at = $1 WHERE expired_at IS NULL AND accepted_at IS NULL AND declined_at IS NULL \
         AND offer_id IN (SELECT id FROM offers WHERE expires_at <= $1)",
    )
    .bind(now)
    .execute(&mut *tx)
    .await
}

/// Who channel `channel_id`'s invitations wait on at `now` (not answered, withdrawn or
/// expired): each one's email (lower case) and organization.
pub async fn waiting_on(
    tx: &mut WriteTx,
    channel_id: &str,
    now: i64,
) -> Result<Vec<(Option<String>, Option<String>)>, SqlError> {
    let rows = query(
        "SELECT LOWER(i.email) AS email, i.org_id FROM invitees i JOIN offers o ON o.id = i.offer_id \
         WHERE o.channel_id = $1 AND o.expires_at > $2 AND i.accepted_at IS NULL AND i.declined_at IS NULL \
         AND i.expired_at IS NULL AND i.withdrawn_at IS NULL",
    )
    .bind(channel_id)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("email")?, r.try_get("org_id")?))).collect()
}
