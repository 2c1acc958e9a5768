//! The flow of SPEC §2: create a channel, offer it, open an invitation, register, accept
//! or decline, detach, terminate. Each call is one database transaction with its audit
//! record; a refused call stores nothing.

use crate::model::id::{AttachmentId, ChannelId, InvitationToken, OrderId};
use crate::model::text::Reason;
use crate::model::{ChannelKind, InterfaceMode, Role};
use crate::orchestrator::policy::{self, ChannelState, Definition, InterfaceUse, Request, UsageModel};
pub(crate) use crate::store::channels::{AttachmentRow, ChannelRow};
pub(crate) use crate::store::topology::Pluggable as InterfaceRow;
use crate::store::{self, WriteTx, catalog, channels, new_token, offers, orders, organizations, topology};

use super::requests::MailedOffer;
pub use super::requests::{
    AcceptOutcome, Acceptance, Invitation, InviteeSpec, NewChannel, NewOffer, OfferCreated, Registration,
};
use super::{Actor, Result, Service, ServiceError, UserRole, audit};

/// An offer written by [`Service::offer_written`], for its caller to commit (or not).
struct OfferWritten {
    offer_id: String,
    expires_at: i64,
    invitations: Vec<Invitation>,
    mailed: MailedOffer,
}

impl Service {
    /// Channel `id`, its row locked until `tx` ends when `for_update` (so requests on one
    /// channel take turns).
    pub(crate) async fn channel_row(&self, tx: &mut WriteTx, id: &str, for_update: bool) -> Result<ChannelRow> {
        channels::row(tx, self.db.dialect, id, for_update)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("channel `{id}`")))
    }

    /// The live attachments of channel `channel_id`, oldest first.
    pub(crate) async fn live_attachments(&self, tx: &mut WriteTx, channel_id: &str) -> Result<Vec<AttachmentRow>> {
        Ok(channels::live_attachments(tx, channel_id).await?)
    }

    pub(super) async fn interface_row(&self, db: &crate::store::Db, name: &str) -> Result<InterfaceRow> {
        Ok(topology::pluggable(db, name).await?)
    }

    pub(crate) async fn definition(&self, tx: &mut WriteTx, id: &str) -> Result<Definition> {
        Ok(catalog::definition(tx, id).await?)
    }

    /// A usage model and the definition it belongs to.
    pub(crate) async fn usage_model(&self, tx: &mut WriteTx, id: &str) -> Result<(String, UsageModel)> {
        Ok(catalog::usage_model(tx, id).await?)
    }

    /// Verifies one party (SPEC §2 step 2 and 4): account, definition, usage model,
    /// interface. `channel` is the channel's kind, bandwidth, the party's member's own
    /// bandwidth if it gives one ([`policy::verify`] says how each counts) and class. Locks
    /// the party's account row so concurrent requests count correctly.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn verify_party(
        &self,
        tx: &mut WriteTx,
        org_id: &str,
        channel: (&ChannelKind, u64, Option<u64>, &str),
        definition: &Definition,
        model: &UsageModel,
        iface: &InterfaceRow,
        endpoints_after: u64,
        driver: &str,
    ) -> Result<()> {
        // One statement that locks the account row on PostgreSQL, so concurrent requests of
        // one organization count one after the other (`organizations::account_in_use`).
        let in_use = organizations::account_in_use(tx, self.db.dialect, org_id, &iface.name)
            .await?
            .ok_or_else(|| ServiceError::Forbidden("the organization has no account with the operator".into()))?;
        let req = Request {
            kind: *channel.0,
            bandwidth_mbps: channel.1,
            member_bandwidth_mbps: channel.2,
            class: channel.3,
            channels_held: in_use.channels_held,
            endpoints_after,
            now_ms: self.now(),
            interface: InterfaceUse {
                name: iface.name.clone(),
                mode: iface.mode,
                capacity_mbps: iface.capacity_mbps,
                used_mbps: in_use.interface_mbps,
                channels: in_use.interface_channels,
            },
            driver,
        };
        let refusals = policy::verify(&in_use.account, definition, model, &req);
        if refusals.is_empty() { Ok(()) } else { Err(ServiceError::Refused(refusals)) }
    }

    /// The driver kind of an interface's switch. (Uses one pooled connection at a time:
    /// holding one while asking for another can starve the pool under load.)
    pub(super) async fn driver_of_interface(&self, interface: &str) -> Result<String> {
        let topo = self.topology().await?;
        let iface = topo
            .interface(interface)
            .ok_or_else(|| ServiceError::NotFound(format!("service interface `{interface}`")))?;
        Ok(self.driver_kind(&topo, &iface.switch).to_string())
    }

    /// Step 1-2: creates a channel with one of the creator's interfaces plugged in. The
    /// account is verified at once; a refusal stores nothing.
    pub async fn create_channel(&self, actor: &Actor, new: &NewChannel) -> Result<ChannelId> {
        if actor.role != UserRole::Admin {
            return Err(ServiceError::Forbidden("only an organization's admins can create channels".into()));
        }
        let name = new.name.to_string();
        let role = member_role(new.kind, new.role, Role::Root)?;
        check_customer_vlan(new.customer_vlan)?;
        check_member_bandwidth("member_bandwidth_mbps", new.member_bandwidth_mbps)?;
        let driver = self.driver_of_interface(&new.interface).await?;
        let iface = self.interface_row(&self.db, &new.interface).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        own_interface(&iface, actor)?;
        if new.customer_vlan.is_some() && iface.mode == InterfaceMode::Port {
            return Err(ServiceError::Invalid(format!(
                "interface `{}` is in port mode: a customer VLAN only applies to tagged-mode interfaces",
                iface.name
            )));
        }
        let (definition_id, model) = self.usage_model(&mut tx, &new.usage_model_id).await?;
        let definition = self.definition(&mut tx, &definition_id).await?;
        self.verify_party(
            &mut tx,
            &actor.org_id,
            (&new.kind, new.bandwidth_mbps, new.member_bandwidth_mbps, &new.class),
            &definition,
            &model,
            &iface,
            1,
            &driver,
        )
        .await?;
        self.check_tag_free(&mut tx, &iface.name, new.customer_vlan).await?;
        let channel = channels::NewChannel {
            name: &name,
            org_id: &actor.org_id,
            created_by: &actor.user_id,
            kind: new.kind,
            bandwidth_mbps: new.bandwidth_mbps,
            class: &new.class,
            definition_id: &definition_id,
            usage_model_id: &new.usage_model_id,
        };
        let id = channels::insert(&mut tx, &channel, now).await?;
        let attachment = channels::NewAttachment {
            channel_id: &id,
            interface: &iface.name,
            org_id: &actor.org_id,
            role,
            customer_vlan: new.customer_vlan,
            channel_vlan: None,
            usage_model_id: &new.usage_model_id,
            bandwidth_mbps: new.member_bandwidth_mbps,
        };
        let att = channels::insert_attachment(&mut tx, &attachment, now).await?;
        // The member pays for its own bandwidth (a per-Mbps model), as every later billing
        // run charges it (`store::charges::paying`).
        let member_mbps = new.member_bandwidth_mbps.unwrap_or(new.bandwidth_mbps);
        self.charge_advance(&mut tx, &actor.org_id, &id, &att, &new.usage_model_id, &model, member_mbps, now).await?;
        audit(
            &mut tx,
            now,
            actor,
            "channel.create",
            &id,
            serde_json::json!({"name": name, "kind": new.kind, "bandwidth_mbps": new.bandwidth_mbps,
                "member_bandwidth_mbps": new.member_bandwidth_mbps, "class": new.class, "definition": format!("{} v{}", definition.name, definition.version),
                "usage_model": model.name, "interface": iface.name, "attachment": att}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(channel = %id, org = %actor.org_id, "channel created");
        Ok(ChannelId::stored(id))
    }

    pub(super) async fn check_tag_free(&self, tx: &mut WriteTx, iface: &str, tag: Option<u16>) -> Result<()> {
        let Some(tag) = tag else { return Ok(()) };
        match channels::tag_user(tx, iface, tag).await? {
            Some(channel_id) => Err(ServiceError::Conflict(format!(
                "customer VLAN {tag} is already used on interface `{iface}` by channel `{channel_id}`: pick another"
            ))),
            None => Ok(()),
        }
    }

    /// Whether `actor` may offer `channel`: its organization's admins, or the admins of a
    /// grantee whose permission carries the re-offer right.
    async fn may_offer(&self, tx: &mut WriteTx, actor: &Actor, channel: &ChannelRow) -> Result<()> {
        if actor.role != UserRole::Admin {
            return Err(ServiceError::Forbidden("only an organization's admins can make offers".into()));
        }
        if channel.org_id == actor.org_id {
            return Ok(());
        }
        if offers::may_reoffer(tx, &channel.id, &actor.org_id).await? {
            Ok(())
        } else if self.can_see(&mut *tx, actor, &channel.id, &channel.org_id).await? {
            Err(ServiceError::Forbidden("your permission on this channel does not include offering it on".into()))
        } else {
            Err(ServiceError::NotFound(format!("channel `{}`", channel.id)))
        }
    }

    /// Step 3: offers a channel to invitees. Returns each invitee's token and URL (the
    /// only time the token is seen; it is stored hashed).
    pub async fn offer(&self, actor: &Actor, channel_id: &ChannelId, offer: &NewOffer) -> Result<OfferCreated> {
        let (tx, w) = self.offer_written(actor, channel_id, offer).await?;
        tx.commit().await?;
        let auto_accepted = self.auto_accept(&actor.org_id, channel_id.as_str(), &w.invitations).await;
        self.mail_invitations(actor, w.mailed, &still_open(&w.invitations, &auto_accepted));
        Ok(OfferCreated { offer_id: w.offer_id, expires_at: w.expires_at, invitations: w.invitations, auto_accepted })
    }

    /// Whether [`Service::offer`] would take `offer`: the same checks, nothing kept (the
    /// portal reports a form's bad lines and the service's refusals of its good ones at once).
    pub async fn check_offer(&self, actor: &Actor, channel_id: &ChannelId, offer: &NewOffer) -> Result<()> {
        let (tx, _) = self.offer_written(actor, channel_id, offer).await?;
        drop(tx); // rolled back
        Ok(())
    }

    /// `offer` written in a transaction not yet committed.
    async fn offer_written(
        &self,
        actor: &Actor,
        channel_id: &ChannelId,
        offer: &NewOffer,
    ) -> Result<(WriteTx, OfferWritten)> {
        let description = offer.description.to_string();
        if offer.invitees.is_empty() {
            return Err(ServiceError::Invalid("an offer needs at least one invitee".into()));
        }
        if offer.invitees.len() > super::requests::MAX_INVITEES {
            return Err(ServiceError::Invalid(format!(
                "an offer invites at most {} (this one {}): make several offers",
                super::requests::MAX_INVITEES,
                offer.invitees.len()
            )));
        }
        if offer.expires_in_days.is_some_and(|d| !(1..=3650).contains(&d)) {
            return Err(ServiceError::Invalid("an offer expires in 1-3650 days".into()));
        }
        let days: i64 = match offer.expires_in_days {
            Some(d) => i64::from(d),
            None => store::policy::default_offer_days(&self.db, &actor.org_id).await?,
        };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let channel = self.channel_row(&mut tx, channel_id, true).await?;
        self.may_offer(&mut tx, actor, &channel).await?;
        if matches!(channel.state, ChannelState::Terminating | ChannelState::Terminated) {
            return Err(ServiceError::Conflict(format!("the channel is {}: it cannot be offered", channel.state)));
        }
        if let Some(max) = policy::max_members(channel.kind)
            && self.live_attachments(&mut tx, &channel.id).await?.len() >= max
        {
            return Err(ServiceError::Conflict(format!(
                "a {} channel has {max} members and this one has them all: it cannot be offered to anyone else",
                channel.kind
            )));
        }
        let expires_at = now.saturating_add(days.saturating_mul(86_400_000));
        let new = offers::NewOffer {
            channel_id: &channel.id,
            org_id: &actor.org_id,
            created_by: &actor.user_id,
            description: &description,
            allow_reoffer: offer.allow_reoffer,
            expires_at,
        };
        let offer_id = offers::insert(&mut tx, &new, now).await?;
        let price =
            policy::price_words(&self.usage_model(&mut tx, &channel.usage_model_id).await?.1, &self.config.currency);
        let invitations = self.insert_invitees(&mut tx, actor, &channel, &offer_id, &offer.invitees, now).await?;
        if channel.state == ChannelState::Draft {
            set_state(&mut tx, &channel.id, ChannelState::Draft, ChannelState::Offered, "", now).await?;
        }
        audit(
            &mut tx,
            now,
            actor,
            "offer.create",
            &offer_id,
            serde_json::json!({"channel": channel.id, "expires_at": expires_at,
                "invitees": invitations.iter().map(|i| &i.invitee_id).collect::<Vec<_>>()}),
        )
        .await?;
        let mailed = MailedOffer { channel, price, description, expires_at };
        Ok((tx, OfferWritten { offer_id, expires_at, invitations, mailed }))
    }

    /// Adds invitees to an existing offer (a later round).
    pub async fn add_invitees(
        &self,
        actor: &Actor,
        offer_id: &str,
        invitees: &[InviteeSpec],
    ) -> Result<Vec<Invitation>> {
        if invitees.is_empty() {
            return Err(ServiceError::Invalid("name at least one invitee".into()));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let offer = offers::head(&mut tx, offer_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("offer `{offer_id}`")))?;
        let channel = self.channel_row(&mut tx, &offer.channel_id, true).await?;
        if offer.org_id != actor.org_id {
            return Err(if self.can_see(&mut tx, actor, &channel.id, &channel.org_id).await? {
                ServiceError::Forbidden("only the organization that made the offer can add invitees".into())
            } else {
                ServiceError::NotFound(format!("offer `{offer_id}`"))
            });
        }
        self.may_offer(&mut tx, actor, &channel).await?;
        if now >= offer.expires_at {
            return Err(ServiceError::OfferExpired);
        }
        let out = self.insert_invitees(&mut tx, actor, &channel, offer_id, invitees, now).await?;
        let (description, expires_at) = offers::description_and_expiry(&mut tx, offer_id).await?;
        let price =
            policy::price_words(&self.usage_model(&mut tx, &channel.usage_model_id).await?.1, &self.config.currency);
        audit(
            &mut tx,
            now,
            actor,
            "offer.invite",
            offer_id,
            serde_json::json!({"invitees": out.iter().map(|i| &i.invitee_id).collect::<Vec<_>>()}),
        )
        .await?;
        tx.commit().await?;
        let auto_accepted = self.auto_accept(&actor.org_id, &channel.id, &out).await;
        let mailed = MailedOffer { channel, price, description, expires_at };
        self.mail_invitations(actor, mailed, &still_open(&out, &auto_accepted));
        Ok(out)
    }

    async fn insert_invitees(
        &self,
        tx: &mut WriteTx,
        actor: &Actor,
        channel: &ChannelRow,
        offer_id: &str,
        invitees: &[InviteeSpec],
        now: i64,
    ) -> Result<Vec<Invitation>> {
        // Every invitee is checked before any is written, and every bad one reported at once
        // (a line each: "invitees[N]: why", N counted from 0 as in a JSON body's own errors).
        let mut checked = Vec::with_capacity(invitees.len());
        let mut problems = Vec::new();
        // Someone whose invitation to this channel still waits is not invited twice (a
        // form sent again, a list pasted twice): their link still works, or is sent again.
        let mut waiting = offers::waiting_on(tx, &channel.id, now).await?;
        for (n, inv) in invitees.iter().enumerate() {
            let at = |m: &str| format!("invitees[{n}]: {m}");
            let email = inv.email.as_ref().map(|e| e.to_string());
            let org_id = match inv.organization.as_deref() {
                Some(o) => match organizations::id_by_name(&mut *tx, o).await {
                    Ok(id) => Some(id),
                    Err(store::StoreError::NotFound(_)) => {
                        problems.push(at(&format!("no organization named `{o}`")));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
                None => None,
            };
            if email.is_none() && org_id.is_none() {
                problems.push(at("give an email address or an organization"));
                continue;
            }
            if org_id.as_deref() == Some(actor.org_id.as_str()) {
                problems.push(at("your own organization cannot be invited"));
                continue;
            }
            if org_id.as_deref() == Some(channel.org_id.as_str()) {
                problems.push(at("the channel's own organization cannot be invited to it"));
                continue;
            }
            let lower = email.as_ref().map(|e| e.to_lowercase());
            let user_org = match &lower {
                Some(mine) => organizations::of_user_email(&mut *tx, mine).await?,
                None => None,
            };
            if let (Some(mine), Some(theirs)) = (&lower, &user_org) {
                if *theirs == actor.org_id {
                    problems.push(at(&format!("`{mine}` is a user of your own organization, which cannot be invited")));
                    continue;
                }
                if *theirs == channel.org_id {
                    problems.push(at(&format!(
                        "`{mine}` is a user of the channel's own organization, which cannot be invited to it"
                    )));
                    continue;
                }
            }
            let invited = waiting.iter().any(|(e, o)| match (&lower, &org_id) {
                (Some(mine), _) => e.as_ref() == Some(mine),
                (None, Some(mine)) => e.is_none() && o.as_ref() == Some(mine),
                (None, None) => false,
            });
            if invited {
                problems.push(at("invited to this channel already, and the invitation waits for an answer: \
                     send it again from the channel's page instead"));
                continue;
            }
            waiting.push((lower, org_id.clone()));
            let role = match (channel.kind, inv.role) {
                (ChannelKind::P2mp, r) => Some(r.unwrap_or(Role::Leaf)),
                (_, None) => None,
                (_, Some(_)) => {
                    problems.push(at("a role only applies to p2mp channels"));
                    continue;
                }
            };
            checked.push((inv, email, org_id, role));
        }
        if !problems.is_empty() {
            return Err(ServiceError::Invalid(problems.join("\n")));
        }
        let mut out = Vec::new();
        for (inv, email, org_id, role) in checked {
            let name = inv.name.to_string();
            let org_name = if inv.org_name.is_empty() {
                inv.organization.as_ref().map(|o| o.to_string()).unwrap_or_default()
            } else {
                inv.org_name.to_string()
            };
            let token = new_token();
            let new = offers::NewInvitee {
                offer_id,
                email: email.as_deref(),
                org_id: org_id.as_deref(),
                name: &name,
                org_name: &org_name,
                role,
                token: &token,
            };
            let id = offers::insert_invitee(tx, &new, now).await?;
            let url = format!("{}/invitations/{token}", self.config.base_url.trim_end_matches('/'));
            out.push(Invitation {
                invitee_id: id,
                email,
                organization: inv.organization.as_ref().map(|o| o.to_string()),
                token: InvitationToken::stored(token),
                url,
                role,
            });
        }
        Ok(out)
    }

    /// Step 6: unplugs an interface. The channel is modified when it can still carry
    /// traffic, and taken down (its VLAN freed) when it cannot.
    pub async fn detach(&self, actor: &Actor, attachment_id: &AttachmentId) -> Result<Option<OrderId>> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let attachment = channels::attachment_state(&mut tx, attachment_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("attachment `{attachment_id}`")))?;
        let (org, channel_id, interface) = (attachment.org_id, attachment.channel_id, attachment.interface);
        if !actor.acts_for(org == actor.org_id) {
            return Err(if org == actor.org_id {
                ServiceError::Forbidden("only your organization's admins can unplug its interfaces".into())
            } else {
                ServiceError::NotFound(format!("attachment `{attachment_id}`"))
            });
        }
        if !attachment.attached {
            return Err(ServiceError::Conflict("this interface is already unplugged".into()));
        }
        let channel = self.channel_row(&mut tx, &channel_id, true).await?;
        channels::detach(&mut tx, attachment_id, now).await?;
        audit(&mut tx, now, actor, "attachment.detach", attachment_id, serde_json::json!({"channel": channel_id}))
            .await?;
        let roles: Vec<Role> = self.live_attachments(&mut tx, &channel.id).await?.iter().map(|a| a.role).collect();
        let (to, order) = self.schedule(&mut tx, &channel, &roles, actor, now).await?;
        tx.commit().await?;
        if order.is_some() {
            self.notify.notify_one();
        }
        self.announce_unplugged(&channel_id, &org, &interface, actor, to != ChannelState::Terminating);
        Ok(order.map(OrderId::stored))
    }

    /// Step 6: ends a channel (its creator's admins, or the operator). A channel with
    /// configuration on the switches gets a removal order; others end at once.
    pub async fn terminate(&self, actor: &Actor, channel_id: &ChannelId, reason: &Reason) -> Result<Option<OrderId>> {
        let reason = reason.as_str();
        let now = self.now();
        let mut tx = self.db.write().await?;
        let channel = self.channel_row(&mut tx, channel_id, true).await?;
        if !actor.acts_for(channel.org_id == actor.org_id) {
            return Err(if self.can_see(&mut tx, actor, channel_id, &channel.org_id).await? {
                ServiceError::Forbidden("only the creator's admins or the operator can terminate a channel".into())
            } else {
                ServiceError::NotFound(format!("channel `{channel_id}`"))
            });
        }
        if !channel.state.can_become(ChannelState::Terminating) {
            return Err(ServiceError::Conflict(format!("a channel that is {} cannot be terminated", channel.state)));
        }
        let order = self.take_down(&mut tx, &channel, reason, now).await?;
        audit(&mut tx, now, actor, "channel.terminate", channel_id, serde_json::json!({"reason": reason})).await?;
        tx.commit().await?;
        if order.is_some() {
            self.notify.notify_one();
        }
        Ok(order.map(OrderId::stored))
    }

    /// Moves a channel to `terminating` with a removal order when it may hold switch
    /// configuration, or straight to `terminated` when it cannot.
    pub(crate) async fn take_down(
        &self,
        tx: &mut WriteTx,
        channel: &ChannelRow,
        reason: &str,
        now: i64,
    ) -> Result<Option<String>> {
        let holds = channels::holds_vlans(tx, &channel.id).await?;
        if !holds && matches!(channel.state, ChannelState::Draft | ChannelState::Offered | ChannelState::Failed) {
            set_state(tx, &channel.id, channel.state, ChannelState::Terminating, reason, now).await?;
            set_state(tx, &channel.id, ChannelState::Terminating, ChannelState::Terminated, reason, now).await?;
            release_attachments(tx, &[channel.id.as_str()], now).await?;
            if !orders::ever_live(tx, &channel.id).await? {
                super::account::refund_unused(tx, &channel.id, now).await?;
            }
            return Ok(None);
        }
        set_state(tx, &channel.id, channel.state, ChannelState::Terminating, reason, now).await?;
        insert_order(tx, &channel.id, "deactivate", now).await
    }

    /// After a membership change: opens the order the channel now needs, if any.
    pub(crate) async fn schedule(
        &self,
        tx: &mut WriteTx,
        channel: &ChannelRow,
        roles: &[Role],
        actor: &Actor,
        now: i64,
    ) -> Result<(ChannelState, Option<String>)> {
        let ready = policy::ready(channel.kind, roles);
        use ChannelState::*;
        let (to, action) = match (ready, channel.state) {
            (true, Draft | Offered | Failed) => (Provisioning, "activate"),
            (true, Active) => (Modifying, "modify"),
            (true, Provisioning | Modifying) => (channel.state, "modify"),
            (false, Provisioning | Active | Modifying | Paused) => {
                let order = self.take_down(tx, channel, "too few members left to carry traffic", now).await?;
                audit(tx, now, actor, "channel.take_down", &channel.id, serde_json::json!({"order": order})).await?;
                return Ok((Terminating, order));
            }
            _ => return Ok((channel.state, None)),
        };
        if to != channel.state {
            set_state(tx, &channel.id, channel.state, to, "", now).await?;
        }
        let order = insert_order(tx, &channel.id, action, now).await?;
        if let Some(o) = &order {
            audit(tx, now, actor, "order.create", o, serde_json::json!({"channel": channel.id, "action": action}))
                .await?;
        }
        Ok((to, order))
    }
}

/// The invitations auto-accept did not answer: those still go to people.
fn still_open(invitations: &[Invitation], answered: &[super::AutoAccepted]) -> Vec<Invitation> {
    invitations
        .iter()
        .filter(|i| !answered.iter().any(|a| a.accepted && a.invitee_id == i.invitee_id))
        .cloned()
        .collect()
}

fn member_role(kind: ChannelKind, role: Option<Role>, default: Role) -> Result<Role> {
    match (kind, role) {
        (ChannelKind::P2mp, r) => Ok(r.unwrap_or(default)),
        (_, None) => Ok(Role::Root),
        (_, Some(_)) => Err(ServiceError::Invalid("a role (root or leaf) only applies to p2mp channels".into())),
    }
}

/// A member's own bandwidth, when given, is at least 1 Mbps (`field` names it in the answer);
/// its bounds from the account, definition and usage model are [`policy::verify`]'s.
/// `iface` is one of `actor`'s organization's. Another organization's is answered as one
/// that does not exist: its ports are not for customers to find out (objects of other
/// organizations are 404 everywhere).
pub(super) fn own_interface(iface: &InterfaceRow, actor: &Actor) -> Result<()> {
    if iface.org_id == actor.org_id {
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!("service interface `{}`", iface.name)))
    }
}

pub(super) fn check_member_bandwidth(field: &str, mbps: Option<u64>) -> Result<()> {
    match mbps {
        Some(0) => Err(ServiceError::Invalid(format!(
            "`{field}` must be at least 1 Mbps: give the member's own bandwidth, or leave it out to take the channel's"
        ))),
        _ => Ok(()),
    }
}

pub(super) fn check_customer_vlan(tag: Option<u16>) -> Result<()> {
    match tag {
        Some(t) if !(1..=4094).contains(&t) => {
            Err(ServiceError::Invalid(format!("customer VLAN {t} is out of range: use 1-4094")))
        }
        _ => Ok(()),
    }
}

/// Unplugs every member of those of `channel_ids` that are terminated (in the same
/// transaction that terminated them): a terminated channel holds no interface and counts
/// for no organization's channels.
pub(crate) async fn release_attachments(tx: &mut WriteTx, channel_ids: &[&str], now: i64) -> Result<()> {
    Ok(channels::release_attachments(tx, channel_ids, now).await?)
}

/// Changes a channel's state, refusing illegal transitions and lost races.
pub(crate) async fn set_state(
    tx: &mut WriteTx,
    channel_id: &str,
    from: ChannelState,
    to: ChannelState,
    reason: &str,
    now: i64,
) -> Result<()> {
    if !from.can_become(to) {
        return Err(ServiceError::Conflict(format!("a channel cannot go from {from} to {to}")));
    }
    Ok(channels::set_state(tx, channel_id, from, to, reason, now).await?)
}

/// Opens an order unless one is already waiting for the channel (that one will see the
/// channel as it is when it runs). Returns the waiting order either way.
pub(crate) async fn insert_order(tx: &mut WriteTx, channel_id: &str, action: &str, now: i64) -> Result<Option<String>> {
    Ok(orders::open(tx, channel_id, action, now).await?)
}
