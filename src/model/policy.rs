//! What an organization chose (SPEC §7): its default offer expiry, whether its members may
//! accept offers, whose offers it accepts at once, and which news it gets by email and who
//! gets it. Plain values, shared by the service, which checks and applies them, and the
//! store, which keeps them.

use serde::{Deserialize, Serialize};

use super::text::{Email, InterfaceName, OrgName};

/// An organization's policy, as read and as written (`PUT /api/v1/policy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Days an offer stays open when its creator does not say (1-3650).
    #[schema(minimum = 1, maximum = 3650)]
    pub default_offer_days: u32,
    /// Whether members, not only admins, may accept offers.
    pub members_can_accept: bool,
    /// Offers made to this organization by these organizations are accepted at once.
    #[serde(default, deserialize_with = "super::strict::objects")]
    pub auto_accept: Vec<AutoAccept>,
    /// Which news the organization gets by email (all of it when left out).
    #[serde(default, deserialize_with = "super::strict::object")]
    pub notifications: Notifications,
}

/// What an organization wants to hear about by email, and who hears it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// An invitee of one of our offers accepted or declined.
    pub offer_answers: bool,
    /// A channel we take part in became active (activated, or resumed after a pause).
    pub channel_active: bool,
    /// A channel we take part in failed, was paused or ended.
    pub channel_down: bool,
    /// Who gets the messages (at most 20 addresses); empty: the organization's admins.
    pub recipients: Vec<Email>,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications { offer_answers: true, channel_active: true, channel_down: true, recipients: Vec::new() }
    }
}

/// Accept every offer from `organization` with `interface` (one of ours).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoAccept {
    pub organization: OrgName,
    pub interface: InterfaceName,
}
