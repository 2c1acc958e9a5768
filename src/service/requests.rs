//! What callers ask of the flow (SPEC §2) and what it answers: the request and answer
//! values of creating, offering, registering and accepting, as the API documents them.

use serde::{Deserialize, Serialize};

use crate::model::id::{AttachmentId, ChannelId, InvitationToken, OrderId, UsageModelId};
use crate::model::text::{
    ChannelName, ClassName, Description, Email, InterfaceName, InviteeName, InviteeOrgName, OrgName, PersonName,
};
use crate::model::{ChannelKind, Role};
use crate::orchestrator::policy::ChannelState;

/// A channel to create, with the creator's own interface plugged in.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    pub name: ChannelName,
    pub kind: ChannelKind,
    #[schema(minimum = 1)]
    pub bandwidth_mbps: u64,
    pub class: ClassName,
    pub usage_model_id: UsageModelId,
    /// The creator's service interface.
    pub interface: InterfaceName,
    /// The creator's role in a p2mp channel (default root).
    pub role: Option<Role>,
    /// The tag the creator uses on a tagged-mode interface (default: the channel's VLAN).
    #[schema(minimum = 1, maximum = 4094)]
    pub customer_vlan: Option<u16>,
    /// The creator's member's own bandwidth in Mbps (default: the channel's
    /// `bandwidth_mbps`): its ingress policer's rate. Checked like the channel's against the
    /// account, the definition and the usage model; it is what the member takes of its
    /// interface's capacity and what a per-Mbps model charges.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub member_bandwidth_mbps: Option<u64>,
}

/// One party to invite: by email, by organization, or both.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteeSpec {
    pub email: Option<Email>,
    /// An existing organization's name.
    pub organization: Option<OrgName>,
    /// What the creator knows of the person and its organization (pre-fills registration).
    #[serde(default)]
    pub name: InviteeName,
    #[serde(default)]
    pub org_name: InviteeOrgName,
    /// The role the invitee takes in a p2mp channel (default leaf).
    pub role: Option<Role>,
}

/// An offer to make.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    #[serde(default)]
    pub description: Description,
    /// Days until the offer expires (default: the organization's policy, 60).
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
    /// Whether invitees who accept may offer the channel on.
    #[serde(default)]
    pub allow_reoffer: bool,
    /// Whom it invites: 1 to [`MAX_INVITEES`] (each gets an email; a larger circle takes
    /// several offers, so that no account sends mail in bulk at one request).
    #[serde(deserialize_with = "crate::model::strict::objects")]
    #[schema(min_items = 1, max_items = 100)]
    pub invitees: Vec<InviteeSpec>,
}

/// The most invitees one offer names.
pub const MAX_INVITEES: usize = 100;

/// One invitation as sent: the token appears here once and is stored only hashed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub invitee_id: String,
    pub email: Option<String>,
    pub organization: Option<String>,
    pub token: InvitationToken,
    pub url: String,
    /// The role it joins an E-Tree as (absent for the other kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::model::Role>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OfferCreated {
    pub offer_id: String,
    pub expires_at: i64,
    pub invitations: Vec<Invitation>,
    /// Invitations their organizations' policy answered at once (SPEC §7 auto-accept).
    pub auto_accepted: Vec<super::AutoAccepted>,
}

/// A new user registering from an invitation (the form the creator's data pre-fills).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub email: Email,
    pub name: PersonName,
    pub organization: OrgName,
    /// At least 8 characters. Not needed, and not used, when registering claims an
    /// organization the operator imported: its first admin chooses one from the link mailed
    /// to confirm the address.
    #[serde(default)]
    pub password: String,
}

/// What an invitee plugs in when accepting.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    pub interface: InterfaceName,
    /// One of the channel definition's usage models. Default: the channel's when this
    /// organization can use it, else the first of the definition's that it can (what the
    /// invitation proposes in `proposed_usage_model_id`).
    pub usage_model_id: Option<UsageModelId>,
    /// The tag this member uses on a tagged-mode interface (default: the channel's VLAN).
    #[schema(minimum = 1, maximum = 4094)]
    pub customer_vlan: Option<u16>,
    /// This member's own bandwidth in Mbps (default: the channel's): its ingress policer's
    /// rate. It must be within the account's limit per channel, the service definition's
    /// range and the usage model's maximum (else 422 `member_bandwidth`, naming the bound);
    /// it is what the member takes of its interface's capacity and what a per-Mbps model
    /// charges.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub bandwidth_mbps: Option<u64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AcceptOutcome {
    pub attachment_id: AttachmentId,
    pub channel_id: ChannelId,
    pub channel_state: ChannelState,
    /// The order that provisions the channel, when this acceptance made it ready.
    pub order_id: Option<OrderId>,
    /// The usage model the member joined under (the one named, or else the proposed one).
    pub usage_model_id: String,
}

/// What an invitation email needs of its offer, as the request that sends it knows it.
pub(crate) struct MailedOffer {
    pub(crate) channel: crate::store::channels::ChannelRow,
    /// The offer's usage model's price, in words.
    pub(crate) price: String,
    pub(crate) description: String,
    pub(crate) expires_at: i64,
}
