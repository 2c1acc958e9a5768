//! Offers and their invitees: who was invited to a channel, by whom, until when, and how
//! far each invitee got (opened, registered, accepted, declined, expired). Read here as
//! people see them; making offers, the invitees' steps and the permissions an acceptance
//! grants join as the house issue moves them.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::model::Role;

use super::{Db, ReadTx};

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
    pub email: Option<String>,
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

/// The offer `id`, or `None`.
pub async fn get(tx: &mut ReadTx<'_>, id: &str) -> Result<Option<Offer>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM offers WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
    let Some(o) = row else { return Ok(None) };
    Ok(Some(Offer {
        id: o.try_get("id")?,
        channel_id: o.try_get("channel_id")?,
        org_id: o.try_get("org_id")?,
        description: o.try_get("description")?,
        expires_at: o.try_get("expires_at")?,
        allow_reoffer: o.try_get::<i64, _>("allow_reoffer")? == 1,
    }))
}

/// The IDs of the offers made for channel `channel_id`, oldest first: those the
/// organization `made_by` made, or every one when `None`.
pub async fn ids_of_channel(db: &Db, channel_id: &str, made_by: Option<&str>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT id FROM offers WHERE channel_id = $1 AND (org_id = $2 OR $3 = 1) ORDER BY created_at, id")
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
pub async fn invitees(tx: &mut ReadTx<'_>, offer_id: &str) -> Result<Vec<Invitee>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM invitees WHERE offer_id = $1 ORDER BY created_at, id")
        .bind(offer_id)
        .fetch_all(&mut *tx)
        .await?;
    rows.iter().map(invitee_from_row).collect()
}

/// The invitee `invitee_id` with its offer (an error when there is no such invitee).
pub async fn invited(tx: &mut ReadTx<'_>, invitee_id: &str) -> Result<Invited, sqlx::Error> {
    let r = sqlx::query(
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

fn invitee_from_row(r: &AnyRow) -> Result<Invitee, sqlx::Error> {
    let role: Option<String> = r.try_get("role")?;
    Ok(Invitee {
        id: r.try_get("id")?,
        offer_id: r.try_get("offer_id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        org_name: r.try_get("org_name")?,
        role: role.and_then(|r| r.parse().ok()),
        accessed_at: r.try_get("accessed_at")?,
        registered_at: r.try_get("registered_at")?,
        accepted_at: r.try_get("accepted_at")?,
        declined_at: r.try_get("declined_at")?,
        expired_at: r.try_get("expired_at")?,
    })
}
