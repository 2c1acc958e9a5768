//! What people see: channels, offers and their invitees' status, orders, the audit log,
//! invitations. Every read checks that the organization may see the object: its own, and
//! what it was invited to or takes part in; the operator sees everything.

use std::collections::HashMap;

use serde::Serialize;

use crate::model::id::{ChannelId, OrderId};
use crate::model::{ChannelKind, Role};
use crate::orchestrator::policy::{self, ChannelState, Refused, UsageModel};
use crate::store::channel_list::ChannelFilter;
use crate::store::channels::{self, Among};
use crate::store::topology::{self, Whose};
use crate::store::{Executor, ReadTx, audit, catalog, offers, orders, organizations};

use super::{Actor, Result, Service, ServiceError, UserRole};

pub use crate::model::records::{Attachment as AttachmentView, Metering, Order as OrderView};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub id: ChannelId,
    pub name: String,
    pub organization: String,
    pub kind: ChannelKind,
    pub state: ChannelState,
    /// Why the channel failed or ended.
    pub reason: String,
    pub vlan: Option<u16>,
    pub leaf_vlan: Option<u16>,
    pub bandwidth_mbps: u64,
    pub class: String,
    pub definition: String,
    pub definition_version: i64,
    pub usage_model: String,
    pub path: Vec<String>,
    pub attachments: Vec<AttachmentView>,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InviteeStatus {
    pub id: String,
    pub email: Option<String>,
    pub organization: Option<String>,
    pub name: String,
    pub role: Option<Role>,
    pub accessed_at: Option<i64>,
    pub registered: bool,
    pub registered_at: Option<i64>,
    pub accepted: bool,
    pub accepted_at: Option<i64>,
    pub declined: bool,
    pub declined_at: Option<i64>,
    pub expired: bool,
    /// Whether its creator withdrew it (its link is refused).
    pub withdrawn: bool,
    pub withdrawn_at: Option<i64>,
    /// Whether it can still be answered: not answered, expired or withdrawn, and its
    /// channel can still take a member.
    pub open: bool,
    /// Why the invitee's auto-accept rule could not accept it, when one tried (it then
    /// waits for a person).
    pub auto_accept_refused: Option<String>,
    /// When the organization that accepted it unplugged its last port from the channel,
    /// while the channel went on.
    pub unplugged_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OfferView {
    pub id: String,
    pub channel_id: ChannelId,
    pub description: String,
    pub expires_at: i64,
    pub expired: bool,
    pub allow_reoffer: bool,
    pub invitees: Vec<InviteeStatus>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub organization: Option<String>,
    pub source: String,
    pub action: String,
    pub object: String,
    pub detail: String,
}

/// What the audit page filters by (each empty when not asked): actions starting with
/// `action`, actors containing `actor`, objects or details containing `text`; `page` from 0.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub page: u32,
}

/// How a channel ended: when, by whom and why (its page shows it instead of a VLAN).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Ending {
    /// When the channel was taken down (the request, or the sweep's or meter's decision).
    pub at: i64,
    /// Who took it down, in words: a person's email and organization, or what of
    /// Switchboard's own did.
    pub by: String,
    /// Why, as the channel records it.
    pub reason: String,
}

/// A service interface: a socket a channel plugs into.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InterfaceView {
    pub name: String,
    pub switch: String,
    pub port: String,
    /// `port` (one channel, untagged) or `tagged` (one channel per customer tag).
    pub mode: String,
    pub capacity_mbps: u64,
    pub organization: String,
    /// The channels plugged in now.
    pub channels: Vec<String>,
}

/// A service definition version and the usage models a party may choose.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub kinds: Vec<ChannelKind>,
    pub min_bandwidth_mbps: u64,
    pub max_bandwidth_mbps: u64,
    pub classes: Vec<String>,
    pub drivers: Vec<String>,
    pub usage_models: Vec<Terms>,
}

/// A usage model as terms to read before accepting.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Terms {
    pub usage_model_id: String,
    #[serde(flatten)]
    pub model: UsageModel,
    /// Why the viewing organization cannot use this model for this channel (its own
    /// restrictions, what it charges in advance against the account's balance and credit);
    /// empty when it can, or when nobody is logged in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub refused: Vec<Refused>,
}

/// What an invitee sees behind its URL.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationView {
    pub invitee: InviteeStatus,
    pub offer_id: String,
    pub description: String,
    pub expires_at: i64,
    pub offered_by: String,
    /// The channel offered. Its `attachments` and `path` are empty unless the viewer is its
    /// owner or the operator's staff: an invitee sees nothing of the members before it accepts.
    pub channel: ChannelView,
    pub terms: Vec<Terms>,
    /// Pre-filled registration: what the creator entered.
    pub prefill_email: Option<String>,
    pub prefill_name: String,
    pub prefill_organization: String,
    /// The invitation names an organization the operator set up whose ports wait for their
    /// first admin: registering claims it, under that name only.
    pub claims_organization: bool,
    /// Whether the invitee has an account (log in) or not (register): the invited email
    /// is a user's, or the invited organization has users.
    pub has_account: bool,
    /// Why it can no longer be accepted although nobody answered it (its channel ended, or
    /// has all its members); absent while it can.
    pub closed: Option<Closed>,
    /// For a logged-in viewer: the usage model to propose (the offer's when the viewer's
    /// organization can use it, else the first it can use; none when it can use none).
    /// Accepting without naming a model takes this one.
    pub proposed_usage_model_id: Option<String>,
    /// For a logged-in viewer: why its account cannot join this channel whatever the model
    /// (status, kinds, bandwidth, channel count, class).
    #[schema(value_type = Vec<Object>)]
    pub account_refused: Vec<Refused>,
}

impl ChannelView {
    /// The attachments plugged in now.
    pub fn live_attachments(&self) -> impl Iterator<Item = &AttachmentView> {
        self.attachments.iter().filter(|a| a.state == "attached")
    }

    /// The channel as the planner takes it, with its VLANs pinned: what planning it again
    /// must give (drift checks, tests).
    pub fn spec(&self) -> crate::orchestrator::ChannelSpec {
        use crate::model::{Pos, VlanId};
        crate::orchestrator::ChannelSpec {
            name: self.id.as_str().into(),
            kind: self.kind,
            vlan: self.vlan.and_then(VlanId::new),
            leaf_vlan: self.leaf_vlan.and_then(VlanId::new),
            bandwidth_mbps: self.bandwidth_mbps,
            class: self.class.as_str().into(),
            members: self
                .live_attachments()
                .map(|a| crate::orchestrator::MemberSpec {
                    interface: a.interface.as_str().into(),
                    role: (self.kind == ChannelKind::P2mp).then_some(a.role),
                    // A tagged member keeps its tag (`orders::target_of`).
                    customer_vlan: a.customer_vlan.or(a.tag).and_then(VlanId::new),
                    // The member's figure, its own or the channel's: planned alike.
                    bandwidth_mbps: Some(a.bandwidth_mbps),
                    pos: Pos::default(),
                })
                .collect(),
            pos: Pos::default(),
        }
    }
}

impl From<channels::Named> for ChannelView {
    fn from(n: channels::Named) -> Self {
        let c = n.channel;
        ChannelView {
            id: ChannelId::stored(c.id),
            name: c.name,
            organization: n.organization,
            kind: c.kind,
            state: c.state,
            reason: c.reason,
            vlan: c.vlan,
            leaf_vlan: c.leaf_vlan,
            bandwidth_mbps: c.bandwidth_mbps,
            class: c.class,
            definition: n.definition,
            definition_version: n.definition_version,
            usage_model: n.usage_model,
            path: c.path,
            attachments: n.attachments,
            created_at: c.created_at,
        }
    }
}

impl From<topology::Interface> for InterfaceView {
    fn from(i: topology::Interface) -> Self {
        InterfaceView {
            name: i.name,
            switch: i.switch,
            port: i.port,
            mode: i.mode,
            capacity_mbps: i.capacity_mbps,
            organization: i.organization,
            channels: i.channels,
        }
    }
}

impl From<audit::Entry> for AuditEntry {
    fn from(e: audit::Entry) -> Self {
        AuditEntry {
            at: e.at,
            actor: e.actor,
            organization: e.org_id,
            source: e.source,
            action: e.action,
            object: e.object,
            detail: e.detail,
        }
    }
}

/// How a channel ended, in words, from its reason and the audit record that took it down
/// (none: a channel ended before this record was kept; its creation time stands in).
fn ending_from(reason: String, created_at: i64, record: Option<audit::Ending>) -> Ending {
    match record {
        Some(r) => Ending { at: r.at, by: ended_by(r), reason },
        None => Ending { at: created_at, by: "unknown".into(), reason },
    }
}

/// Who took a channel down, in words, from the audit record that did: a person's email and
/// organization, or what of Switchboard's own did.
pub(super) fn ended_by(r: audit::Ending) -> String {
    match (r.email, r.organization, r.action.as_str()) {
        (Some(email), Some(org), _) => format!("{email} ({org})"),
        (Some(email), None, _) => email,
        (None, _, "channel.term_ended") => "Switchboard, at the end of the usage term".into(),
        (None, _, "channel.quota_used") => "Switchboard, at the end of a member's data allowance".into(),
        (None, _, "channel.unpaid") => "Switchboard, when a member's account could not pay".into(),
        (None, Some(org), _) => format!("Switchboard, for {org}"),
        (None, None, _) => "Switchboard".into(),
    }
}

fn invitee_status(i: &offers::Invitee, offer_expired: bool, closed: Option<&Closed>) -> InviteeStatus {
    let channel_closed = closed.is_some();
    let ended = matches!(closed, Some(Closed::ChannelEnded));
    let expired = i.expired_at.is_some() || (offer_expired && i.accepted_at.is_none() && i.declined_at.is_none());
    let answered = i.accepted_at.is_some() || i.declined_at.is_some();
    InviteeStatus {
        id: i.id.clone(),
        email: i.email.clone(),
        organization: Some(i.org_name.clone()).filter(|s| !s.is_empty()),
        name: i.name.clone(),
        role: i.role,
        accessed_at: i.accessed_at,
        registered: i.registered_at.is_some(),
        registered_at: i.registered_at,
        accepted: i.accepted_at.is_some(),
        accepted_at: i.accepted_at,
        declined: i.declined_at.is_some(),
        declined_at: i.declined_at,
        expired,
        withdrawn: i.withdrawn_at.is_some(),
        withdrawn_at: i.withdrawn_at,
        open: !(answered || expired || i.withdrawn_at.is_some() || channel_closed),
        auto_accept_refused: i.auto_accept_refused.clone().filter(|_| !answered),
        unplugged_at: i.unplugged_at.filter(|_| !ended),
    }
}

impl Service {
    /// Whether `actor` may see the channel: the operator; the owner; an organization that
    /// is plugged in (or was, when it ended) or holds a permission; not an invitee until it
    /// accepts (the rule's one SQL text is in `store::channels`, which the lists use too).
    pub(crate) async fn can_see<'e>(
        &self,
        ex: impl Executor<'e>,
        actor: &Actor,
        channel_id: &str,
        owner: &str,
    ) -> Result<bool> {
        if actor.is_operator() || actor.org_id == owner {
            return Ok(true);
        }
        Ok(channels::visible_to(ex, channel_id, &actor.org_id).await?)
    }

    pub(super) async fn named_channel(&self, tx: &mut ReadTx<'_>, id: &str) -> Result<channels::Named> {
        channels::named(tx, id).await?.ok_or_else(|| ServiceError::NotFound(format!("channel `{id}`")))
    }

    /// One channel, if `actor` may see it ("not found" otherwise, so IDs reveal nothing).
    pub async fn channel(&self, actor: &Actor, id: &ChannelId) -> Result<ChannelView> {
        let mut tx = self.db.read().await?;
        let owner =
            channels::owner(&mut tx, id).await?.ok_or_else(|| ServiceError::NotFound(format!("channel `{id}`")))?;
        if !self.can_see(&mut tx, actor, id, &owner).await? {
            return Err(ServiceError::NotFound(format!("channel `{id}`")));
        }
        let mut views = [ChannelView::from(self.named_channel(&mut tx, id).await?)];
        self.metering_where_counted(&mut views).await;
        let [view] = views;
        Ok(view)
    }

    /// Marks the metered members whose switch the worker drives dry (no counters: see
    /// `meter.rs`) as [`Metering::NoCounters`], so that what a page shows of their traffic
    /// does not depend on whether a sweep ran. Without a topology nothing is marked.
    async fn metering_where_counted(&self, views: &mut [ChannelView]) {
        let Ok(topo) = self.topology().await else { return };
        for a in views.iter_mut().flat_map(|v| v.attachments.iter_mut()) {
            let Some(iface) = topo.interface(&a.interface) else { continue };
            if a.metering != Metering::NotMetered && self.driver_kind(&topo, &iface.switch) == "dry-run" {
                a.metering = Metering::NoCounters;
            }
        }
    }

    /// How channel `id` ended, if it is terminating or terminated ([`Ending`]); authorized
    /// like [`Service::channel`].
    pub async fn ending(&self, actor: &Actor, id: &ChannelId) -> Result<Option<Ending>> {
        let channel = self.channel(actor, id).await?;
        if !matches!(channel.state, ChannelState::Terminating | ChannelState::Terminated) {
            return Ok(None);
        }
        let record = audit::ending(&self.db, id).await?;
        Ok(Some(ending_from(channel.reason, channel.created_at, record)))
    }

    /// The channels `actor` may see, newest first.
    pub async fn channels(&self, actor: &Actor) -> Result<Vec<ChannelView>> {
        let among = among(actor);
        let mut tx = self.db.read().await?;
        let named = channels::named_among(&mut tx, among).await?;
        tx.commit().await?;
        let mut views: Vec<ChannelView> = named.into_iter().map(ChannelView::from).collect();
        self.metering_where_counted(&mut views).await;
        Ok(views)
    }

    /// One page of the channels `actor` sees that pass `filter`, newest first, and how many
    /// pass in all (the list at an operator's scale: search, filters, pages).
    pub async fn channel_list(&self, actor: &Actor, filter: &ChannelFilter) -> Result<(Vec<ChannelView>, u64)> {
        let among = among(actor);
        let mut tx = self.db.read().await?;
        let (named, total) = crate::store::channel_list::named_page(&mut tx, among, filter).await?;
        tx.commit().await?;
        let mut views: Vec<ChannelView> = named.into_iter().map(ChannelView::from).collect();
        self.metering_where_counted(&mut views).await;
        Ok((views, total))
    }

    /// An offer with the status of each invitee (seed 000's status query). For the
    /// organization that made it, and the operator.
    pub async fn offer_status(&self, actor: &Actor, offer_id: &str) -> Result<OfferView> {
        let mut tx = self.db.read().await?;
        let o = offers::get(&mut tx, offer_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("offer `{offer_id}`")))?;
        if !(actor.is_operator() || o.org_id == actor.org_id) {
            return Err(ServiceError::NotFound(format!("offer `{offer_id}`")));
        }
        let expired = self.now() >= o.expires_at;
        let invitees = offers::invitees(&mut tx, offer_id).await?;
        let channel = ChannelView::from(self.named_channel(&mut tx, &o.channel_id).await?);
        let closed = closed_by_channel(&channel);
        Ok(OfferView {
            id: o.id,
            channel_id: ChannelId::stored(o.channel_id),
            description: o.description,
            expires_at: o.expires_at,
            expired,
            allow_reoffer: o.allow_reoffer,
            invitees: invitees.iter().map(|i| invitee_status(i, expired, closed.as_ref())).collect(),
        })
    }

    /// The offers made for a channel, for the organization that made them (or the operator).
    pub async fn offers(&self, actor: &Actor, channel_id: &ChannelId) -> Result<Vec<OfferView>> {
        let made_by = if actor.is_operator() { None } else { Some(actor.org_id.as_str()) };
        let ids = offers::ids_of_channel(&self.db, channel_id, made_by).await?;
        let mut out = Vec::new();
        for id in ids {
            out.push(self.offer_status(actor, &id).await?);
        }
        Ok(out)
    }

    pub(crate) async fn invitation_view(&self, invitee_id: &str, viewer: Option<&Actor>) -> Result<InvitationView> {
        let mut tx = self.db.read().await?;
        let invited = offers::invited(&mut tx, invitee_id).await?;
        let expires_at = invited.expires_at;
        let channel_id = invited.channel_id.as_str();
        let named = self.named_channel(&mut tx, channel_id).await?;
        let (def, offered_model) = (named.channel.definition_id.clone(), named.channel.usage_model_id.clone());
        // Its owner and the operator's staff see the whole channel here as on its page.
        let sees_members = viewer.is_some_and(|v| v.is_operator() || v.org_id == named.channel.org_id);
        let mut channel = ChannelView::from(named);
        let mut terms: Vec<Terms> = catalog::models_of_definition(&mut tx, &def)
            .await?
            .into_iter()
            .map(|(usage_model_id, model)| Terms { usage_model_id, model, refused: Vec::new() })
            .collect();
        let email = invited.invitee.email.clone();
        let has_account = match (&email, &invited.invitee.org_id, viewer) {
            (_, _, Some(_)) => true,
            (Some(e), _, None) => organizations::can_log_in(&mut tx, e).await?,
            (None, Some(org), None) => self.org_has_users(org).await?,
            (None, None, None) => false,
        };
        let org_name = invited.invitee.org_name.trim();
        let claims_organization =
            !has_account && !org_name.is_empty() && organizations::unclaimed(&mut tx, org_name).await?.is_some();
        // What the viewer's organization can use, told before it chooses (the same rules
        // `accept` applies, but for the interface, which is not chosen yet).
        let (mut proposed, mut account_refused) = (None, Vec::new());
        if let Some(v) = viewer.filter(|v| !v.is_operator()) {
            let account = organizations::account_tx(&mut tx, &v.org_id).await?;
            let held = channels::held_by(&mut tx, &v.org_id).await?;
            if let Some(account) = account {
                let members = channel.attachments.iter().filter(|a| a.state == "attached").count();
                let endpoints_after = u64::try_from(members + 1).unwrap_or(u64::MAX);
                for t in &mut terms {
                    t.refused =
                        policy::model_refusals(&account, &t.model, channel.bandwidth_mbps, endpoints_after, self.now());
                }
                account_refused = policy::account_refusals(
                    &account,
                    channel.kind,
                    channel.bandwidth_mbps,
                    &channel.class,
                    u64::try_from(held).unwrap_or(0),
                );
                let models: Vec<(&str, &[Refused])> =
                    terms.iter().map(|t| (t.usage_model_id.as_str(), t.refused.as_slice())).collect();
                proposed = policy::choose_model(&offered_model, &models).map(str::to_string);
            }
        }
        let closed = closed_by_channel(&channel);
        if !sees_members {
            // An invitation shows the offer, not the channel: until it accepts, an invitee
            // (or whoever holds the link) sees nothing of the members, their ports, usage
            // models and bandwidths, nor the operator's switches on the path (README, "Who
            // sees what"). A member sees its channel on the channel's own page.
            channel.attachments.clear();
            channel.path.clear();
        }
        Ok(InvitationView {
            closed,
            proposed_usage_model_id: proposed,
            account_refused,
            invitee: invitee_status(&invited.invitee, self.now() >= expires_at, closed.as_ref()),
            offer_id: invited.invitee.offer_id,
            description: invited.description,
            expires_at,
            offered_by: invited.offered_by,
            channel,
            terms,
            prefill_email: email,
            prefill_name: invited.invitee.name,
            prefill_organization: invited.invitee.org_name,
            claims_organization,
            has_account,
        })
    }

    /// Orders: all of them for the operator, those of visible channels for others;
    /// optionally of one channel.
    pub async fn orders(&self, actor: &Actor, channel_id: Option<&ChannelId>) -> Result<Vec<OrderView>> {
        let mut tx = self.db.read().await?;
        if let Some(ch) = channel_id {
            let owner =
                channels::owner(&mut tx, ch).await?.ok_or_else(|| ServiceError::NotFound(format!("channel `{ch}`")))?;
            if !self.can_see(&mut tx, actor, ch, &owner).await? {
                return Err(ServiceError::NotFound(format!("channel `{ch}`")));
            }
        } else if !actor.is_operator() {
            return Err(ServiceError::Forbidden(
                "only the operator's staff see every order: ask for a channel's".into(),
            ));
        }
        let orders = match channel_id {
            Some(ch) => orders::of_channel(&mut tx, ch).await?,
            None => orders::newest(&mut tx).await?,
        };
        Ok(orders)
    }

    /// One order, if its channel is visible.
    pub async fn order(&self, actor: &Actor, id: &OrderId) -> Result<OrderView> {
        let o = orders::get(&self.db, id).await?.ok_or_else(|| ServiceError::NotFound(format!("order `{id}`")))?;
        let visible = self.channel(actor, &o.channel_id).await.is_ok();
        if visible { Ok(o) } else { Err(ServiceError::NotFound(format!("order `{id}`"))) }
    }

    /// The audit log, oldest first: everything for the operator, an organization's own
    /// entries for its admins; optionally about one object.
    pub async fn audit_log(&self, actor: &Actor, object: Option<&str>) -> Result<Vec<AuditEntry>> {
        self.audit_log_page(actor, object, None).await
    }

    /// As [`Service::audit_log`], `page` (limit, offset) records of it.
    pub async fn audit_log_page(
        &self,
        actor: &Actor,
        object: Option<&str>,
        page: Option<(i64, i64)>,
    ) -> Result<Vec<AuditEntry>> {
        if !(actor.is_operator() || actor.role == UserRole::Admin) {
            return Err(ServiceError::Forbidden("only admins read the audit log".into()));
        }
        let org_id = if actor.is_operator() { None } else { Some(actor.org_id.as_str()) };
        Ok(audit::list(&self.db, org_id, object, page).await?.into_iter().map(AuditEntry::from).collect())
    }

    /// The names people know the objects `ids` by (channels, organizations, users, usage
    /// models; the operator's staff: any of them), by ID.
    pub async fn object_names(&self, actor: &Actor, ids: &[&str]) -> Result<std::collections::HashMap<String, String>> {
        if !actor.is_operator() {
            return Err(ServiceError::Forbidden("only the operator's staff look objects up by ID".into()));
        }
        Ok(crate::store::channels::names_of(&self.db, ids).await?)
    }

    /// One page (`per_page` records, newest first) of the audit log that `q` filters, and
    /// whether there are more: the operator's staff see every record, an organization's
    /// admins their organization's.
    pub async fn audit_search(&self, actor: &Actor, q: &AuditQuery, per_page: i64) -> Result<(Vec<AuditEntry>, bool)> {
        if !(actor.is_operator() || actor.role == UserRole::Admin) {
            return Err(ServiceError::Forbidden("only admins read the audit log".into()));
        }
        let search = audit::Search {
            org_id: if actor.is_operator() { None } else { Some(actor.org_id.as_str()) },
            action: q.action.trim(),
            actor: q.actor.trim(),
            text: q.text.trim(),
            offset: i64::from(q.page).saturating_mul(per_page),
            limit: per_page + 1,
        };
        let mut rows: Vec<AuditEntry> =
            audit::search(&self.db, &search).await?.into_iter().map(AuditEntry::from).collect();
        let more = rows.len() as i64 > per_page;
        rows.truncate(usize::try_from(per_page).unwrap_or(0));
        Ok((rows, more))
    }

    /// The service interfaces of `actor`'s organization (all of them for the operator), with
    /// the channels plugged into each: the sockets of the portal.
    pub async fn interfaces(&self, actor: &Actor) -> Result<Vec<InterfaceView>> {
        let whose = if actor.is_operator() { Whose::Every } else { Whose::Of(&actor.org_id) };
        Ok(topology::interfaces(&self.db, whose).await?.into_iter().map(InterfaceView::from).collect())
    }

    /// The catalogue: every service definition version with its usage models.
    pub async fn catalog(&self) -> Result<Vec<CatalogEntry>> {
        let definitions = catalog::definitions(&self.db).await?;
        let models = catalog::usage_models(&self.db).await?;
        let mut by_def: HashMap<String, Vec<Terms>> = HashMap::new();
        for m in models {
            by_def.entry(m.definition_id).or_default().push(Terms {
                usage_model_id: m.id,
                model: m.model,
                refused: Vec::new(),
            });
        }
        let entries = definitions.into_iter().map(|(id, d)| CatalogEntry {
            usage_models: by_def.remove(&id).unwrap_or_default(),
            id,
            name: d.name,
            version: i64::from(d.version),
            kinds: d.kinds,
            min_bandwidth_mbps: d.min_bandwidth_mbps,
            max_bandwidth_mbps: d.max_bandwidth_mbps,
            classes: d.classes,
            drivers: d.drivers,
        });
        Ok(entries.collect())
    }

    /// A short summary of everything on a channel's page that can change (state, VLANs,
    /// attachments and their metering, invitees, orders): two calls give the same string until something
    /// changed. Authorized like [`Service::channel`]. Live pages poll it.
    pub async fn channel_fingerprint(&self, actor: &Actor, channel_id: &ChannelId) -> Result<String> {
        let c = self.channel(actor, channel_id).await?;
        let steps = channels::steps(&self.db, channel_id).await?;
        // With what the meter found, so a member's usage (or why it is unknown) shows up live.
        let attachments: Vec<String> =
            c.attachments.iter().map(|a| format!("{}:{}:{}:{:?}", a.id, a.state, a.bytes_used, a.metering)).collect();
        Ok(format!(
            "{}|{:?}|{:?}|{}|{}|{}|{}",
            c.state.as_str(),
            c.vlan,
            c.leaf_vlan,
            c.reason,
            attachments.join(","),
            steps.invitees,
            steps.orders,
        ))
    }

    /// Whether the database answers (the health check).
    pub async fn health(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }

    /// How many orders are in each status (for metrics).
    pub async fn order_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(orders::counts(&self.db).await?)
    }

    /// How many channels are in each state (for metrics).
    pub async fn channel_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(channels::counts(&self.db).await?)
    }

    /// The switches' state as the dry-run driver holds it (items per switch).
    pub async fn switch_items(&self, switch: &str) -> Result<Vec<String>> {
        Ok(topology::switch_items(&self.db, switch).await?)
    }

    /// A switch as the NOC sees it: its place in the tree, its customers' ports and the
    /// VLANs its channels hold there (the operator's staff).
    pub async fn switch_view(&self, actor: &Actor, name: &str) -> Result<SwitchView> {
        if !actor.is_operator() {
            return Err(ServiceError::Forbidden("switch pages are the operator's staff's".into()));
        }
        let topo = self.topology().await?;
        let s = topo.switch_index(name).ok_or_else(|| ServiceError::NotFound(format!("switch `{name}`")))?;
        let name_of = |i: usize| topo.switches.get(i).map(|w| w.name.clone()).unwrap_or_default();
        let parent = topo.parent(s).map(|(p, port)| (name_of(p), port.to_string()));
        let children: Vec<String> =
            (0..topo.switches.len()).filter(|c| topo.parent(*c).is_some_and(|(p, _)| p == s)).map(name_of).collect();
        let ports = topo
            .interfaces_on(name)
            .map(|i| SwitchPort {
                name: i.name.clone(),
                organization: i.organization.clone(),
                port: i.port.clone(),
                mode: i.mode.as_str().into(),
                capacity_mbps: i.capacity_mbps,
            })
            .collect();
        let vlans = topology::allocations_on(&self.db, name)
            .await?
            .into_iter()
            .map(|(vid, channel_id, channel)| SwitchVlan { vid, channel_id, channel })
            .collect();
        Ok(SwitchView { name: name.to_string(), parent, children, ports, vlans })
    }

    /// Every (switch, VLAN, channel) allocation.
    pub async fn allocations(&self) -> Result<Vec<(String, u16, String)>> {
        let allocations = topology::allocations(&self.db).await?;
        Ok(allocations.into_iter().map(|a| (a.switch, a.vlan, a.channel_id)).collect())
    }
}

/// A switch as the NOC sees it ([`Service::switch_view`]).
#[derive(Clone, Debug)]
pub struct SwitchView {
    pub name: String,
    /// The switch toward the root, and this switch's port toward it.
    pub parent: Option<(String, String)>,
    pub children: Vec<String>,
    pub ports: Vec<SwitchPort>,
    pub vlans: Vec<SwitchVlan>,
}

/// A customer's port on a switch.
#[derive(Clone, Debug)]
pub struct SwitchPort {
    pub name: String,
    pub organization: String,
    pub port: String,
    pub mode: String,
    pub capacity_mbps: u64,
}

/// A VLAN a channel holds on a switch.
#[derive(Clone, Debug)]
pub struct SwitchVlan {
    pub vid: u16,
    pub channel_id: String,
    pub channel: String,
}

/// Why an invitation that is neither answered nor expired can no longer be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Closed {
    /// Its channel is being terminated or has ended.
    ChannelEnded,
    /// Its channel has every member its kind can have (an E-Line's two ends).
    ChannelFull,
}

/// Why a channel in this state, with these members, takes no more invitees.
pub(crate) fn closed_by_channel(channel: &ChannelView) -> Option<Closed> {
    if matches!(channel.state, ChannelState::Terminating | ChannelState::Terminated) {
        return Some(Closed::ChannelEnded);
    }
    match policy::max_members(channel.kind) {
        Some(max) if channel.live_attachments().count() >= max => Some(Closed::ChannelFull),
        _ => None,
    }
}

/// The channels `actor` may see, as the store's lists take it: every one for the operator's
/// staff, else what its organization may see.
fn among(actor: &Actor) -> Among<'_> {
    if actor.is_operator() { Among::Every } else { Among::VisibleTo { org_id: &actor.org_id } }
}
