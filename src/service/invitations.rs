//! SPEC §2 steps 4-5 behind an invitation's link: open it, register from it (new people),
//! accept by plugging an interface in (verified like creation, with the usage model the
//! organization can use), or decline. Each call is one transaction with its audit record.

use crate::model::id::{AttachmentId, ChannelId, InvitationToken, InviteeId, OrderId};
use crate::model::{ChannelKind, InterfaceMode, Role};
use crate::orchestrator::policy::{self, ChannelState, PriceType};
use crate::store::{self, WriteTx, catalog, channels, offers, organizations};

use super::claims::Registered;
use super::flow::{check_customer_vlan, check_member_bandwidth};
use super::invitees::{Via, record_opened};
use super::requests::{AcceptOutcome, Acceptance, Registration};
use super::setup::hash_blocking;
use super::{Actor, Result, Service, ServiceError, UserRole, audit};

impl Service {
    /// Finds the invitee of a token and checks the offer has not expired; marks it expired
    /// when it has (committing that) and says so. A withdrawn invitation's token is refused
    /// as an unknown one is, so a link's answer says nothing more about it.
    pub(crate) async fn invitee_by_token(&self, token: &str) -> Result<offers::ByToken> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServiceError::AccessDenied);
        }
        let row = offers::by_token(&self.db, token).await?.ok_or(ServiceError::AccessDenied)?;
        self.still_answerable(row).await
    }

    /// Finds invitee `id` for `actor`, who must be the one it invites (else "not found": the
    /// inbox names only its own), and checks its offer as [`Service::invitee_by_token`] does.
    pub(crate) async fn invitee_for(&self, actor: &Actor, id: &InviteeId) -> Result<offers::ByToken> {
        let not_found = || ServiceError::NotFound(format!("invitation `{id}`"));
        let row = offers::by_id(&self.db, id).await?.ok_or_else(not_found)?;
        if row.invitee.withdrawn_at.is_some() || !Self::invited(&row, actor) {
            return Err(not_found());
        }
        self.still_answerable(row).await
    }

    /// The invitee found by `via`: by its link's token, or by its id from the inbox of `actor`.
    pub(crate) async fn invitee_via(&self, via: Via<'_>, actor: Option<&Actor>) -> Result<offers::ByToken> {
        match (via, actor) {
            (Via::Token(t), _) => self.invitee_by_token(t).await,
            (Via::Inbox(id), Some(a)) => self.invitee_for(a, id).await,
            (Via::Inbox(_), None) => Err(ServiceError::AccessDenied),
        }
    }

    async fn still_answerable(&self, row: offers::ByToken) -> Result<offers::ByToken> {
        if row.invitee.withdrawn_at.is_some() {
            return Err(ServiceError::AccessDenied);
        }
        let invitee = &row.invitee;
        let decided = invitee.accepted_at.is_some() || invitee.declined_at.is_some();
        if self.now() >= row.expires_at && !decided {
            if invitee.expired_at.is_none() {
                let mut tx = self.db.write().await?;
                offers::set_expired(&mut tx, &invitee.id, self.now()).await?;
                tx.commit().await?;
            }
            return Err(ServiceError::OfferExpired);
        }
        Ok(row)
    }

    /// Whether the invitation is for `actor` (the email it was sent to, or its organization).
    pub(crate) fn invited(row: &offers::ByToken, actor: &Actor) -> bool {
        match (&row.invitee.email, &row.invitee.org_id) {
            (Some(e), _) => e.eq_ignore_ascii_case(&actor.email),
            (None, Some(o)) => *o == actor.org_id,
            (None, None) => false,
        }
    }

    /// Step 4: opens an invitation. Records nothing: a link fetched by a mail scanner or a
    /// preview is not a person opening it ("opened" is recorded when someone acts on it:
    /// registers, logs in from it, accepts or declines). `viewer` is the logged-in user, if
    /// any: a user the invitation is not for gets "access denied".
    pub async fn open_invitation(
        &self,
        token: &InvitationToken,
        viewer: Option<&Actor>,
        _source: &str,
    ) -> Result<super::views::InvitationView> {
        self.open_invitation_via(Via::Token(token), viewer).await
    }

    /// [`Service::open_invitation`] by its link or from the inbox.
    pub async fn open_invitation_via(
        &self,
        via: Via<'_>,
        viewer: Option<&Actor>,
    ) -> Result<super::views::InvitationView> {
        let row = self.invitee_via(via, viewer).await?;
        if let Some(v) = viewer
            && !Self::invited(&row, v)
        {
            return Err(ServiceError::AccessDenied);
        }
        self.invitation_view(&row.invitee.id, viewer).await
    }

    /// Step 4, new users: registers from an invitation. The email must be the invited one
    /// (when the invitation names one); the organization is created with the default
    /// account, and the user becomes its admin. An organization the operator imported, that
    /// nobody can log in for yet, is claimed instead ([`Service::claim`]): only by one of its
    /// contacts, once they confirm their address.
    pub async fn register(&self, token: &InvitationToken, reg: &Registration, source: &str) -> Result<Registered> {
        let row = self.invitee_by_token(token).await?;
        let invited_email = row.invitee.email.clone();
        let email = super::setup::check_email(&reg.email)?;
        if let Some(e) = &invited_email
            && !e.eq_ignore_ascii_case(&email)
        {
            return Err(ServiceError::Forbidden(
                "email: this invitation was sent to another address; register with the one it was sent to, \
                 or ask whoever sent it to invite this one"
                    .into(),
            ));
        }
        let (name, org_name) = (reg.name.to_string(), reg.organization.to_string());
        if let Some(c) = org_name.chars().find(|c| invisible(*c)) {
            return Err(ServiceError::Invalid(format!(
                "organization: the name holds an invisible character (U+{:04X}), which would make it read as \
                 another organization's: type the name as it is shown",
                u32::from(c)
            )));
        }
        // An organization the operator imported with the topology (it owns service
        // interfaces) that nobody can log in for yet is claimed by a person the creator
        // invited *for it*: the invitation names it, and the registrant confirms it.
        let invited_org = row.invitee.org_name.trim();
        if !invited_org.is_empty()
            && let Some((org_id, contacts)) = organizations::unclaimed(&self.db, invited_org).await?
        {
            if invited_org.to_lowercase() != org_name.trim().to_lowercase() {
                // Another name would make a new organization without the ports the
                // invitation was made for, and leave those waiting.
                return Err(ServiceError::Invalid(format!(
                    "organization: this invitation is for `{invited_org}`, whose ports wait for their first admin: \
                     register under that name, or ask whoever sent it to invite you under your own organization"
                )));
            }
            return self
                .claim_organization(&row, &org_id, &contacts, &email, &name, source)
                .await
                .map(Registered::Confirm);
        }
        if row.invitee.org_id.is_some() && invited_email.is_none() {
            return Err(ServiceError::Conflict(
                "this invitation is for an existing organization: ask its admin for an account and log in".into(),
            ));
        }
        let hash = hash_blocking(reg.password.clone()).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let org_id = match organizations::named_with_users(&mut tx, &org_name).await? {
            Some(_) => {
                return Err(ServiceError::Conflict(format!(
                    "organization `{org_name}` is on Switchboard already: ask its admin to add you, then log in (or \
                     register under your own organization's name)"
                )));
            }
            None => {
                let account = self.new_org_account(&mut tx).await?;
                organizations::insert(&mut tx, &org_name, &account, now).await?
            }
        };
        let user_id = organizations::insert_user(&mut tx, &org_id, &email, &name, UserRole::Admin, Some(&hash), now)
            .await
            .map_err(|e| match e {
                store::StoreError::Conflict(_) => ServiceError::Conflict(format!(
                    "email: {email} is used on Switchboard already: log in with it, or, if it cannot log in (it \
                     waits for a link mailed to it, or was removed), use that link or ask the operator"
                )),
                other => other.into(),
            })?;
        let invitee_id = row.invitee.id.clone();
        offers::set_registered(&mut tx, &invitee_id, &user_id, now).await?;
        let actor = Actor {
            user_id,
            email: email.clone(),
            org_id: org_id.clone(),
            role: UserRole::Admin,
            source: source.into(),
        };
        record_opened(&mut tx, &row.invitee, &actor, now).await?;
        audit(
            &mut tx,
            now,
            &actor,
            "invitation.register",
            &invitee_id,
            serde_json::json!({"email": email, "organization": org_name}),
        )
        .await?;
        tx.commit().await?;
        Ok(Registered::In(actor))
    }

    /// Step 4: accepts an invitation by plugging one of the invitee's interfaces in. The
    /// invitee's account is verified like the creator's; the chosen usage model's
    /// restrictions and payment are checked. Writes the permission and, when the channel
    /// can now carry traffic, opens an order.
    pub async fn accept(&self, actor: &Actor, token: &InvitationToken, acc: &Acceptance) -> Result<AcceptOutcome> {
        self.accept_via(actor, Via::Token(token), acc).await
    }

    /// [`Service::accept`] by its link or from the inbox.
    pub async fn accept_via(&self, actor: &Actor, via: Via<'_>, acc: &Acceptance) -> Result<AcceptOutcome> {
        let row = self.invitee_via(via, Some(actor)).await?;
        if !Self::invited(&row, actor) {
            return Err(ServiceError::AccessDenied);
        }
        check_customer_vlan(acc.customer_vlan)?;
        check_member_bandwidth("bandwidth_mbps", acc.bandwidth_mbps)?;
        let invitee_id = row.invitee.id.clone();
        let channel_id = row.channel_id.clone();
        let driver = self.driver_of_interface(&acc.interface).await?;
        // The interface (owner, mode, capacity) changes only by a topology import.
        let iface = self.interface_row(&self.db, &acc.interface).await?;
        if row.invitee.accepted_at.is_some() {
            return Err(ServiceError::Conflict("this invitation was accepted already".into()));
        }
        if row.invitee.declined_at.is_some() {
            return Err(ServiceError::Conflict("this invitation was declined".into()));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let channel = self.channel_row(&mut tx, &channel_id, true).await?;
        self.may_answer(&mut tx, actor, "accept").await?;
        if actor.org_id == channel.org_id {
            // As an offer to one's own organization is refused: one invited by a colleague's
            // address, or offered back by a grantee, would plug the owner in twice and
            // charge it twice.
            return Err(ServiceError::Forbidden(
                "this is your own organization's channel: it cannot join it through an invitation".into(),
            ));
        }
        if matches!(channel.state, ChannelState::Terminating | ChannelState::Terminated) {
            return Err(ServiceError::Conflict(format!(
                "the channel is {}: it can no longer be joined",
                channel.state
            )));
        }
        super::flow::own_interface(&iface, actor)?;
        if acc.customer_vlan.is_some() && iface.mode == InterfaceMode::Port {
            return Err(ServiceError::Invalid(format!(
                "interface `{}` is in port mode: a customer VLAN only applies to tagged-mode interfaces",
                iface.name
            )));
        }
        let live = self.live_attachments(&mut tx, &channel.id).await?;
        if live.iter().any(|a| a.interface == iface.name) {
            return Err(ServiceError::Conflict(format!(
                "interface `{}` is already plugged into this channel",
                iface.name
            )));
        }
        if let Some(max) = policy::max_members(channel.kind)
            && live.len() >= max
        {
            return Err(ServiceError::Conflict(format!(
                "a {} channel has {max} members and this one is complete",
                channel.kind
            )));
        }
        let mut model_id =
            acc.usage_model_id.as_ref().map_or_else(|| channel.usage_model_id.clone(), ToString::to_string);
        let (model_def, mut model) = self.usage_model(&mut tx, &model_id).await?;
        if model_def != channel.definition_id {
            return Err(ServiceError::Invalid(format!(
                "usage model `{model_id}` is not one of the channel's service definition"
            )));
        }
        let definition = self.definition(&mut tx, &channel.definition_id).await?;
        let endpoints_after = u64::try_from(live.len() + 1).unwrap_or(u64::MAX);
        let party = (&channel.kind, channel.bandwidth_mbps, acc.bandwidth_mbps, channel.class.as_str());
        let member_mbps = acc.bandwidth_mbps.unwrap_or(channel.bandwidth_mbps);
        match self
            .verify_party(&mut tx, &actor.org_id, party, &definition, &model, &iface, endpoints_after, &driver)
            .await
        {
            // A person named no model and the offer's does not suit this party for reasons of
            // the model alone (not the account, the interface, or the hour): the one the
            // invitation page proposes (the first it can use), checked the same way. A
            // standing auto-accept rule takes the offer's terms or nothing.
            Err(ServiceError::Refused(refusals))
                if acc.usage_model_id.is_none()
                    && actor.person().is_some()
                    && refusals.iter().all(policy::Refused::another_model_may_do) =>
            {
                let account = organizations::account_tx(&mut tx, &actor.org_id).await?.ok_or_else(|| {
                    ServiceError::Forbidden("the organization has no account with the operator".into())
                })?;
                let proposed = catalog::models_of_definition(&mut tx, &channel.definition_id).await?.into_iter().find(
                    |(id, m)| {
                        *id != model_id
                            && policy::model_refusals(&account, m, member_mbps, endpoints_after, now).is_empty()
                    },
                );
                let Some((id, m)) = proposed else { return Err(ServiceError::Refused(refusals)) };
                self.verify_party(&mut tx, &actor.org_id, party, &definition, &m, &iface, endpoints_after, &driver)
                    .await?;
                (model_id, model) = (id, m);
            }
            other => other?,
        }
        self.check_tag_free(&mut tx, &iface.name, acc.customer_vlan).await?;
        if actor.person().is_some() {
            record_opened(&mut tx, &row.invitee, actor, now).await?;
        }
        if !offers::set_accepted(&mut tx, &invitee_id, actor.person(), now).await? {
            return Err(ServiceError::Conflict("this invitation was accepted or declined meanwhile".into()));
        }
        let role = match channel.kind {
            ChannelKind::P2mp => row.invitee.role.unwrap_or(Role::Leaf),
            _ => Role::Root,
        };
        let attachment = channels::NewAttachment {
            channel_id: &channel.id,
            interface: &iface.name,
            org_id: &actor.org_id,
            role,
            customer_vlan: acc.customer_vlan,
            channel_vlan: channel.vlan,
            usage_model_id: &model_id,
            bandwidth_mbps: acc.bandwidth_mbps,
        };
        let attachment_id = channels::insert_attachment(&mut tx, &attachment, now).await?;
        self.charge_advance(&mut tx, &actor.org_id, &channel.id, &attachment_id, &model_id, &model, member_mbps, now)
            .await?;
        let grant = offers::Grant {
            channel_id: &channel.id,
            grantor_org: &row.offer_org,
            grantee_org: &actor.org_id,
            can_reoffer: row.allow_reoffer,
            invitee_id: &invitee_id,
        };
        offers::grant(&mut tx, &grant, now).await?;
        audit(
            &mut tx,
            now,
            actor,
            "invitation.accept",
            &invitee_id,
            serde_json::json!({"channel": channel.id, "interface": iface.name, "attachment": attachment_id,
                "usage_model": model.name, "upfront_cents": policy::upfront_cents(&model, member_mbps),
                "bandwidth_mbps": acc.bandwidth_mbps,
                "price_type": model.price_type.map(PriceType::as_str)}),
        )
        .await?;
        let mut roles: Vec<Role> = live.iter().map(|a| a.role).collect();
        roles.push(role);
        let (state, order_id) = self.schedule(&mut tx, &channel, &roles, actor, now).await?;
        tx.commit().await?;
        if order_id.is_some() {
            self.notify.notify_one();
        }
        self.announce_answer(&channel.id, &actor.org_id, Some(&iface.name));
        tracing::info!(channel = %channel.id, invitee = %invitee_id, order = ?order_id, "invitation accepted");
        Ok(AcceptOutcome {
            attachment_id: AttachmentId::stored(attachment_id),
            channel_id: ChannelId::stored(channel.id),
            channel_state: state,
            order_id: order_id.map(OrderId::stored),
            usage_model_id: model_id,
        })
    }

    /// Whether `actor` may answer offers for its organization (`verb`: accept or decline
    /// them): its admins may, its members when its policy lets them, the operator's staff
    /// never. Declining is answering too: a member who may not accept may not turn an
    /// offer down for the organization either.
    async fn may_answer(&self, tx: &mut WriteTx, actor: &Actor, verb: &str) -> Result<()> {
        match actor.role {
            UserRole::Admin => Ok(()),
            UserRole::Operator => Err(ServiceError::Forbidden(format!("the operator's staff cannot {verb} offers"))),
            UserRole::Member => {
                if store::policy::members_can_accept(tx, &actor.org_id).await? {
                    Ok(())
                } else {
                    Err(ServiceError::Forbidden(format!(
                        "your organization lets only its admins {verb} offers: ask one of them"
                    )))
                }
            }
        }
    }

    /// Step 4: declines an invitation.
    pub async fn decline(&self, actor: &Actor, token: &InvitationToken) -> Result<()> {
        self.decline_via(actor, Via::Token(token)).await
    }

    /// [`Service::decline`] by its link or from the inbox.
    pub async fn decline_via(&self, actor: &Actor, via: Via<'_>) -> Result<()> {
        let row = self.invitee_via(via, Some(actor)).await?;
        if !Self::invited(&row, actor) {
            return Err(ServiceError::AccessDenied);
        }
        let invitee_id = &row.invitee.id;
        let now = self.now();
        let mut tx = self.db.write().await?;
        self.may_answer(&mut tx, actor, "decline").await?;
        if !offers::set_declined(&mut tx, invitee_id, now).await? {
            return Err(ServiceError::Conflict("this invitation was already accepted or declined".into()));
        }
        record_opened(&mut tx, &row.invitee, actor, now).await?;
        let detail = serde_json::json!({"channel": row.channel_id});
        audit(&mut tx, now, actor, "invitation.decline", invitee_id, detail).await?;
        tx.commit().await?;
        self.announce_answer(&row.channel_id, &actor.org_id, None);
        Ok(())
    }
}

/// Characters a name could hide or pass off as a space: Unicode's invisible format
/// characters (category Cf: the soft hyphen, zero-width spaces and joiners, direction marks
/// and embeddings, word joiners, the byte-order mark, tag characters...), the combining
/// grapheme joiner, Hangul fillers, variation selectors, and spaces other than the plain one.
fn invisible(c: char) -> bool {
    (c != ' ' && c.is_whitespace())
        || matches!(
            u32::from(c),
            0xAD | 0x34F
                | 0x600..=0x605
                | 0x61C
                | 0x6DD
                | 0x70F
                | 0x115F..=0x1160
                | 0x17B4..=0x17B5
                | 0x180B..=0x180F
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x206F
                | 0x3164
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF9..=0xFFFB
                | 0x110BD
                | 0x110CD
                | 0x13430..=0x1343F
                | 0x1D173..=0x1D17A
                | 0xE0001
                | 0xE0020..=0xE007F
                | 0xE0100..=0xE01EF
        )
}
