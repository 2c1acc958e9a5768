//! An invitation's life after it is sent (issue 24, item 5): it closes by itself when its
//! channel can no longer take it; its creator withdraws it or sends it again with a fresh
//! link; "opened" is recorded when a person acts on it, never for a bare look at the link;
//! and an organization's inbox lists the offers waiting for it, so a lost email loses
//! nothing. Not here: opening, registering, accepting and declining (`invitations.rs`).

use serde::Serialize;

use crate::model::ChannelKind;
use crate::model::id::{InvitationToken, InviteeId};
use crate::orchestrator::policy;
use crate::store::{self, WriteTx, new_token, offers};

use super::requests::MailedOffer;
use super::views::{Closed, closed_by_channel};
use super::{Actor, Invitation, Result, Service, ServiceError, UserRole, audit};

/// How an invitation is found: by the token of its link, or by its id from the inbox of
/// the organization it invites (logged in).
#[derive(Clone, Copy, Debug)]
pub enum Via<'a> {
    Token(&'a InvitationToken),
    Inbox(&'a InviteeId),
}

/// An offer waiting in an organization's inbox.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WaitingOffer {
    pub invitee_id: InviteeId,
    /// Whom it was sent to: an email address of the organization's, or the organization.
    pub addressed_to: String,
    pub offered_by: String,
    pub channel_name: String,
    pub kind: ChannelKind,
    pub bandwidth_mbps: u64,
    pub description: String,
    pub expires_at: i64,
}

/// Records, once, that a person acted on invitee `invitee`'s invitation.
pub(crate) async fn record_opened(tx: &mut WriteTx, invitee: &offers::Invitee, who: &Actor, now: i64) -> Result<()> {
    if invitee.accessed_at.is_none() && offers::set_accessed(tx, &invitee.id, now).await? {
        audit(tx, now, who, "invitation.open", &invitee.id, serde_json::json!({})).await?;
    }
    Ok(())
}

impl Service {
    /// The creator withdraws invitee `id`'s invitation (its offer's organization's admins):
    /// its link is refused from then on, as an unknown one is. Irreversible; an answered
    /// invitation cannot be withdrawn (unplug the member instead).
    pub async fn withdraw_invitation(&self, actor: &Actor, id: &InviteeId) -> Result<()> {
        let row = self.invitee_of_creator(actor, id).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !offers::set_withdrawn(&mut tx, id, now).await? {
            return Err(ServiceError::Conflict(
                "this invitation was answered or withdrawn already: there is nothing to withdraw".into(),
            ));
        }
        audit(&mut tx, now, actor, "invitation.withdraw", id, serde_json::json!({"channel": row.channel_id})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The creator sends invitee `id`'s invitation again, with a fresh link: the old link
    /// is refused from then on (tokens are stored only as hashes, so the old one cannot be
    /// sent again). Only an invitation that can still be accepted.
    pub async fn resend_invitation(&self, actor: &Actor, id: &InviteeId) -> Result<Invitation> {
        let row = self.invitee_of_creator(actor, id).await?;
        let i = &row.invitee;
        if i.accepted_at.is_some() || i.declined_at.is_some() {
            return Err(ServiceError::Conflict("this invitation was answered: there is nothing to send".into()));
        }
        if self.now() >= row.expires_at {
            return Err(ServiceError::OfferExpired);
        }
        let channel = self.channel(actor, &crate::model::id::ChannelId::stored(row.channel_id.clone())).await?;
        if let Some(closed) = closed_by_channel(&channel) {
            return Err(ServiceError::Conflict(match closed {
                Closed::ChannelEnded => format!("the channel is {}: it can no longer be joined", channel.state),
                Closed::ChannelFull => "the channel has all the members it can have".into(),
            }));
        }
        let token = new_token();
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !offers::replace_token(&mut tx, id, &token).await? {
            return Err(ServiceError::Conflict("this invitation was answered or withdrawn meanwhile".into()));
        }
        let channel_row = self.channel_row(&mut tx, &row.channel_id, false).await?;
        let price = policy::price_words(
            &self.usage_model(&mut tx, &channel_row.usage_model_id).await?.1,
            &self.config.currency,
        );
        audit(&mut tx, now, actor, "invitation.resend", id, serde_json::json!({"channel": row.channel_id})).await?;
        tx.commit().await?;
        let invitation = Invitation {
            invitee_id: id.to_string(),
            email: i.email.clone(),
            organization: match &i.org_id {
                Some(org) => Some(self.organization_name(org).await?),
                None => None,
            },
            url: format!("{}/invitations/{token}", self.config.base_url.trim_end_matches('/')),
            token: InvitationToken::stored(token),
            role: i.role,
        };
        let mailed = MailedOffer {
            channel: channel_row,
            price,
            description: row.description.clone(),
            expires_at: row.expires_at,
        };
        self.mail_invitations(actor, mailed, std::slice::from_ref(&invitation));
        Ok(invitation)
    }

    /// The invitee `id` for the admins of the organization that made its offer ("not found"
    /// for anyone else, so ids reveal nothing).
    async fn invitee_of_creator(&self, actor: &Actor, id: &InviteeId) -> Result<offers::ByToken> {
        let row = offers::by_id(&self.db, id)
            .await?
            .filter(|r| r.offer_org == actor.org_id)
            .ok_or_else(|| ServiceError::NotFound(format!("invitation `{id}`")))?;
        if actor.role != UserRole::Admin {
            return Err(ServiceError::Forbidden("only your organization's admins manage its invitations".into()));
        }
        if row.invitee.withdrawn_at.is_some() {
            return Err(ServiceError::Conflict("this invitation was withdrawn".into()));
        }
        Ok(row)
    }

    /// The offers waiting for `actor`'s organization: addressed to it or to one of its
    /// users' emails, neither answered, withdrawn nor expired, whose channel can still take
    /// them. Newest first.
    pub async fn inbox(&self, actor: &Actor) -> Result<Vec<WaitingOffer>> {
        if actor.is_operator() {
            return Ok(Vec::new());
        }
        let mut tx = self.db.read().await?;
        let waiting = offers::waiting_for(&mut tx, &actor.org_id, self.now()).await?;
        let mut out = Vec::new();
        for w in waiting {
            // What the offer says of its channel; the invitee does not see the channel itself
            // until it accepts.
            let channel = super::views::ChannelView::from(self.named_channel(&mut tx, &w.channel_id).await?);
            if closed_by_channel(&channel).is_some() {
                continue;
            }
            out.push(WaitingOffer {
                invitee_id: InviteeId::stored(w.invitee.id),
                addressed_to: w.invitee.email.unwrap_or_else(|| w.invitee.org_name.clone()),
                offered_by: w.offered_by,
                channel_name: channel.name,
                kind: channel.kind,
                bandwidth_mbps: channel.bandwidth_mbps,
                description: w.description,
                expires_at: w.expires_at,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Records that `actor` logged in from the invitation `token` (it acted on the page),
    /// when the invitation is for it. Nothing otherwise: the page will say why.
    pub async fn note_opened(&self, token: &InvitationToken, actor: &Actor) -> Result<()> {
        let row = self.invitee_by_token(token).await?;
        if !Self::invited(&row, actor) || row.invitee.accessed_at.is_some() {
            return Ok(());
        }
        let mut tx = self.db.write().await?;
        record_opened(&mut tx, &row.invitee, actor, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether organization `org_id` has a user yet (an imported one has none until
    /// someone registers for it from an invitation).
    pub(crate) async fn org_has_users(&self, org_id: &str) -> Result<bool> {
        Ok(store::offers::org_has_users(&self.db, org_id).await?)
    }
}
