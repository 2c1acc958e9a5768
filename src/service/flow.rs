//! The flow of SPEC §2: create a channel, offer it, open an invitation, register, accept
//! or decline, detach, terminate. Each call is one database transaction with its audit
//! record; a refused call stores nothing.

use crate::model::{ChannelKind, InterfaceMode, Role};
use crate::orchestrator::policy::{self, ChannelState, Definition, InterfaceUse, PriceType, Request, UsageModel};
pub(crate) use crate::store::channels::{AttachmentRow, ChannelRow};
pub(crate) use crate::store::topology::Pluggable as InterfaceRow;
use crate::store::{self, WriteTx, catalog, channels, new_token, offers, orders, organizations, topology};

pub use super::requests::{
    AcceptOutcome, Acceptance, Invitation, InviteeSpec, NewChannel, NewOffer, OfferCreated, Registration,
};
use super::setup::{check_text, hash_blocking};
use super::{Actor, Result, Service, ServiceError, UserRole, audit};

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

    async fn interface_row(&self, db: &crate::store::Db, name: &str) -> Result<InterfaceRow> {
        Ok(topology::pluggable(db, name).await?)
    }

    pub(crate) async fn definition(&self, tx: &mut WriteTx, id: &str) -> Result<Definition> {
        if let Some(d) = self.catalog.lock().ok().and_then(|c| c.definitions.get(id).cloned()) {
            return Ok(d);
        }
        let d = catalog::definition(tx, id).await?;
        if let Ok(mut c) = self.catalog.lock() {
            c.definitions.insert(id.to_string(), d.clone());
        }
        Ok(d)
    }

    /// A usage model and the definition it belongs to.
    pub(crate) async fn usage_model(&self, tx: &mut WriteTx, id: &str) -> Result<(String, UsageModel)> {
        if let Some(m) = self.catalog.lock().ok().and_then(|c| c.models.get(id).cloned()) {
            return Ok(m);
        }
        let m = catalog::usage_model(tx, id).await?;
        if let Ok(mut c) = self.catalog.lock() {
            c.models.insert(id.to_string(), m.clone());
        }
        Ok(m)
    }

    /// Verifies one party (SPEC §2 step 2 and 4): account, definition, usage model,
    /// interface. Locks the party's account row so concurrent requests count correctly.
    #[allow(clippy::too_many_arguments)]
    async fn verify_party(
        &self,
        tx: &mut WriteTx,
        org_id: &str,
        channel: (&ChannelKind, u64, &str),
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
            class: channel.2,
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
    async fn driver_of_interface(&self, interface: &str) -> Result<String> {
        let topo = self.topology().await?;
        let iface = topo
            .interface(interface)
            .ok_or_else(|| ServiceError::NotFound(format!("service interface `{interface}`")))?;
        Ok(self.driver_kind(&topo, &iface.switch).to_string())
    }

    /// Step 1-2: creates a channel with one of the creator's interfaces plugged in. The
    /// account is verified at once; a refusal stores nothing.
    pub async fn create_channel(&self, actor: &Actor, new: &NewChannel) -> Result<String> {
        if actor.role != UserRole::Admin {
            return Err(ServiceError::Forbidden("only an organization's admins can create channels".into()));
        }
        let name = check_text("a channel name", &new.name, 64)?;
        let role = member_role(new.kind, new.role, Role::Root)?;
        check_customer_vlan(new.customer_vlan)?;
        let driver = self.driver_of_interface(&new.interface).await?;
        let iface = self.interface_row(&self.db, &new.interface).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if iface.org_id != actor.org_id {
            return Err(ServiceError::Forbidden(format!("interface `{}` belongs to another organization", iface.name)));
        }
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
            (&new.kind, new.bandwidth_mbps, &new.class),
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
        };
        let att = channels::insert_attachment(&mut tx, &attachment, now).await?;
        audit(
            &mut tx,
            now,
            actor,
            "channel.create",
            &id,
            serde_json::json!({"name": name, "kind": new.kind, "bandwidth_mbps": new.bandwidth_mbps,
                "class": new.class, "definition": format!("{} v{}", definition.name, definition.version),
                "usage_model": model.name, "interface": iface.name, "attachment": att}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(channel = %id, org = %actor.org_id, "channel created");
        Ok(id)
    }

    async fn check_tag_free(&self, tx: &mut WriteTx, iface: &str, tag: Option<u16>) -> Result<()> {
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
    pub async fn offer(&self, actor: &Actor, channel_id: &str, offer: &NewOffer) -> Result<OfferCreated> {
        let description = if offer.description.trim().is_empty() {
            String::new()
        } else {
            check_text("a description", &offer.description, 2000)?
        };
        if offer.invitees.is_empty() {
            return Err(ServiceError::Invalid("an offer needs at least one invitee".into()));
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
        tx.commit().await?;
        let auto_accepted = self.auto_accept(&actor.org_id, &invitations).await;
        self.mail_invitations(
            actor,
            &channel.name,
            &description,
            expires_at,
            &still_open(&invitations, &auto_accepted),
        );
        Ok(OfferCreated { offer_id, expires_at, invitations, auto_accepted })
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
        let auto_accepted = self.auto_accept(&actor.org_id, &out).await;
        self.mail_invitations(actor, &channel.name, &description, expires_at, &still_open(&out, &auto_accepted));
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
        let mut out = Vec::new();
        for (n, inv) in invitees.iter().enumerate() {
            let at = |m: &str| ServiceError::Invalid(format!("invitee {}: {m}", n + 1));
            let email = match inv.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                Some(e) => Some(super::setup::check_email(e).map_err(|e| at(&e.to_string()))?),
                None => None,
            };
            let org_id = match inv.organization.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
                Some(o) => Some(match organizations::id_by_name(&mut *tx, o).await {
                    Ok(id) => id,
                    Err(store::StoreError::NotFound(_)) => return Err(at(&format!("no organization named `{o}`"))),
                    Err(e) => return Err(e.into()),
                }),
                None => None,
            };
            if email.is_none() && org_id.is_none() {
                return Err(at("give an email address or an organization"));
            }
            if org_id.as_deref() == Some(actor.org_id.as_str()) {
                return Err(at("your own organization cannot be invited"));
            }
            let role = match (channel.kind, inv.role) {
                (ChannelKind::P2mp, r) => Some(r.unwrap_or(Role::Leaf)),
                (_, None) => None,
                (_, Some(_)) => return Err(at("a role only applies to p2mp channels")),
            };
            let name = inv.name.trim().chars().take(100).collect::<String>();
            let org_name = if inv.org_name.trim().is_empty() {
                inv.organization.clone().unwrap_or_default()
            } else {
                inv.org_name.trim().chars().take(100).collect()
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
            out.push(Invitation { invitee_id: id, email, organization: inv.organization.clone(), token, url });
        }
        Ok(out)
    }

    /// Finds the invitee of a token and checks the offer has not expired; marks it expired
    /// when it has (committing that) and says so.
    pub(crate) async fn invitee_by_token(&self, token: &str) -> Result<offers::ByToken> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServiceError::AccessDenied);
        }
        let row = offers::by_token(&self.db, token).await?.ok_or(ServiceError::AccessDenied)?;
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
    fn invited(row: &offers::ByToken, actor: &Actor) -> bool {
        match (&row.invitee.email, &row.invitee.org_id) {
            (Some(e), _) => e.eq_ignore_ascii_case(&actor.email),
            (None, Some(o)) => *o == actor.org_id,
            (None, None) => false,
        }
    }

    /// Step 4: opens an invitation. Records the first access. `viewer` is the logged-in
    /// user, if any: a user the invitation is not for gets "access denied".
    pub async fn open_invitation(
        &self,
        token: &str,
        viewer: Option<&Actor>,
        source: &str,
    ) -> Result<super::views::InvitationView> {
        let row = self.invitee_by_token(token).await?;
        if let Some(v) = viewer
            && !Self::invited(&row, v)
        {
            return Err(ServiceError::AccessDenied);
        }
        let invitee_id = row.invitee.id;
        if row.invitee.accessed_at.is_none() {
            let now = self.now();
            let mut tx = self.db.write().await?;
            if offers::set_accessed(&mut tx, &invitee_id, now).await? {
                let who = match viewer {
                    Some(v) => Actor { source: source.into(), ..v.clone() },
                    None => Actor { user_id: "anonymous".into(), ..Actor::system(source) },
                };
                audit(&mut tx, now, &who, "invitation.open", &invitee_id, serde_json::json!({})).await?;
            }
            tx.commit().await?;
        }
        self.invitation_view(&invitee_id, viewer).await
    }

    /// Step 4, new users: registers from an invitation. The email must be the invited one
    /// (when the invitation names one); the organization is created with the default
    /// account, and the user becomes its admin.
    pub async fn register(&self, token: &str, reg: &Registration, source: &str) -> Result<Actor> {
        let row = self.invitee_by_token(token).await?;
        let invited_email = row.invitee.email.clone();
        let email = super::setup::check_email(&reg.email)?;
        if let Some(e) = &invited_email
            && !e.eq_ignore_ascii_case(&email)
        {
            return Err(ServiceError::AccessDenied);
        }
        if row.invitee.org_id.is_some() && invited_email.is_none() {
            return Err(ServiceError::Conflict(
                "this invitation is for an existing organization: ask its admin for an account and log in".into(),
            ));
        }
        let name = check_text("a name", &reg.name, 100)?;
        let org_name = check_text("an organization name", &reg.organization, 100)?;
        let hash = hash_blocking(reg.password.clone()).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        // An organization the operator imported with the topology (it owns service
        // interfaces) but nobody has registered for yet is claimed by the first person the
        // creator invited *for it*: the invitation names it, and the registrant confirms it.
        let invited_org = &row.invitee.org_name;
        let existing = organizations::named_with_users(&mut tx, &org_name).await?;
        let org_id = match existing {
            Some((id, users)) if users == 0 && invited_org.trim().eq_ignore_ascii_case(&org_name) => id,
            Some(_) => {
                return Err(ServiceError::Conflict(format!(
                    "organization `{org_name}` is registered already: ask its admin to add you, then log in"
                )));
            }
            None => {
                let account = self.new_org_account(&mut tx).await?;
                organizations::insert(&mut tx, &org_name, &account, now).await?
            }
        };
        let user_id = organizations::insert_user(&mut tx, &org_id, &email, &name, UserRole::Admin, &hash, now).await?;
        let invitee_id = row.invitee.id.clone();
        offers::set_registered(&mut tx, &invitee_id, &user_id, now).await?;
        let actor = Actor {
            user_id,
            email: email.clone(),
            org_id: org_id.clone(),
            role: UserRole::Admin,
            source: source.into(),
        };
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
        Ok(actor)
    }

    /// Step 4: accepts an invitation by plugging one of the invitee's interfaces in. The
    /// invitee's account is verified like the creator's; the chosen usage model's
    /// restrictions and payment are checked. Writes the permission and, when the channel
    /// can now carry traffic, opens an order.
    pub async fn accept(&self, actor: &Actor, token: &str, acc: &Acceptance) -> Result<AcceptOutcome> {
        let row = self.invitee_by_token(token).await?;
        if !Self::invited(&row, actor) {
            return Err(ServiceError::AccessDenied);
        }
        check_customer_vlan(acc.customer_vlan)?;
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
        self.may_accept(&mut tx, actor).await?;
        if matches!(channel.state, ChannelState::Terminating | ChannelState::Terminated) {
            return Err(ServiceError::Conflict(format!(
                "the channel is {}: it can no longer be joined",
                channel.state
            )));
        }
        if iface.org_id != actor.org_id {
            return Err(ServiceError::Forbidden(format!("interface `{}` belongs to another organization", iface.name)));
        }
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
        let mut model_id = acc.usage_model_id.clone().unwrap_or_else(|| channel.usage_model_id.clone());
        let (model_def, mut model) = self.usage_model(&mut tx, &model_id).await?;
        if model_def != channel.definition_id {
            return Err(ServiceError::Invalid(format!(
                "usage model `{model_id}` is not one of the channel's service definition"
            )));
        }
        let definition = self.definition(&mut tx, &channel.definition_id).await?;
        let endpoints_after = u64::try_from(live.len() + 1).unwrap_or(u64::MAX);
        let party = (&channel.kind, channel.bandwidth_mbps, channel.class.as_str());
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
                            && policy::model_refusals(&account, m, channel.bandwidth_mbps, endpoints_after, now)
                                .is_empty()
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
        };
        let attachment_id = channels::insert_attachment(&mut tx, &attachment, now).await?;
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
                "usage_model": model.name, "upfront_cents": policy::upfront_cents(&model, channel.bandwidth_mbps),
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
            attachment_id,
            channel_id: channel.id,
            channel_state: state,
            order_id,
            usage_model_id: model_id,
        })
    }

    async fn may_accept(&self, tx: &mut WriteTx, actor: &Actor) -> Result<()> {
        match actor.role {
            UserRole::Admin => Ok(()),
            UserRole::Operator => Err(ServiceError::Forbidden("the operator's staff cannot accept offers".into())),
            UserRole::Member => {
                if store::policy::members_can_accept(tx, &actor.org_id).await? {
                    Ok(())
                } else {
                    Err(ServiceError::Forbidden(
                        "your organization lets only its admins accept offers: ask one of them".into(),
                    ))
                }
            }
        }
    }

    /// Step 4: declines an invitation.
    pub async fn decline(&self, actor: &Actor, token: &str) -> Result<()> {
        let row = self.invitee_by_token(token).await?;
        if !Self::invited(&row, actor) {
            return Err(ServiceError::AccessDenied);
        }
        let invitee_id = &row.invitee.id;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !offers::set_declined(&mut tx, invitee_id, now).await? {
            return Err(ServiceError::Conflict("this invitation was already accepted or declined".into()));
        }
        audit(&mut tx, now, actor, "invitation.decline", invitee_id, serde_json::json!({})).await?;
        tx.commit().await?;
        self.announce_answer(&row.channel_id, &actor.org_id, None);
        Ok(())
    }

    /// Step 6: unplugs an interface. The channel is modified when it can still carry
    /// traffic, and taken down (its VLAN freed) when it cannot.
    pub async fn detach(&self, actor: &Actor, attachment_id: &str) -> Result<Option<String>> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let attachment = channels::attachment_state(&mut tx, attachment_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("attachment `{attachment_id}`")))?;
        let org = attachment.org_id;
        let channel_id = attachment.channel_id;
        if !(actor.is_operator() || (org == actor.org_id && actor.role == UserRole::Admin)) {
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
        let (_, order) = self.schedule(&mut tx, &channel, &roles, actor, now).await?;
        tx.commit().await?;
        if order.is_some() {
            self.notify.notify_one();
        }
        Ok(order)
    }

    /// Step 6: ends a channel (its creator's admins, or the operator). A channel with
    /// configuration on the switches gets a removal order; others end at once.
    pub async fn terminate(&self, actor: &Actor, channel_id: &str, reason: &str) -> Result<Option<String>> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let channel = self.channel_row(&mut tx, channel_id, true).await?;
        if !(actor.is_operator() || (channel.org_id == actor.org_id && actor.role == UserRole::Admin)) {
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
        Ok(order)
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

fn check_customer_vlan(tag: Option<u16>) -> Result<()> {
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
