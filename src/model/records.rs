//! Records as the store keeps them and people see them, one type for both: an order and a
//! channel's attachment (a member). The API documents them under their view names.

use serde::Serialize;

use super::Role;
use super::id::{AttachmentId, ChannelId, OrderId};

/// An order: what a worker does to the switches for one channel, and how it went.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = OrderView)]
pub struct Order {
    pub id: OrderId,
    pub channel_id: ChannelId,
    /// `activate`, `modify`, `pause`, `resume` or `terminate`.
    pub action: String,
    /// `pending`, `planning`, `applying`, `done` or `failed`.
    pub status: String,
    /// Why it failed.
    pub reason: String,
    /// What it did (JSON: changes, switches, commands).
    pub detail: String,
    pub attempts: i64,
    /// The instance holding it, while one does.
    pub claimed_by: Option<String>,
    pub created_at: i64,
    pub planning_at: Option<i64>,
    pub applying_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// A channel's member: an interface plugged in, with its organization's and usage model's
/// names.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AttachmentView)]
pub struct Attachment {
    pub id: AttachmentId,
    pub channel_id: ChannelId,
    pub interface: String,
    pub organization: String,
    pub role: Role,
    pub customer_vlan: Option<u16>,
    /// On a tagged-mode interface, the tag the member's frames carry there, which its
    /// equipment uses: its customer VLAN, else the channel's VLAN when the member was first
    /// planned. It stays when the channel later moves to another VLAN. `None` on a
    /// port-mode interface, and until the member is planned.
    pub tag: Option<u16>,
    /// The member's bandwidth in Mbps: its own when it gave one, else its channel's. Its
    /// ingress policer's rate.
    pub bandwidth_mbps: u64,
    /// `attached` or `detached`.
    pub state: String,
    pub attached_at: i64,
    pub detached_at: Option<i64>,
    /// Traffic its interface carried in the channel (bytes, in and out), read from the
    /// switch's counters; counted for members whose usage model has an allowance or charges
    /// by the GB.
    pub bytes_used: u64,
    /// Whether and how `bytes_used` is counted.
    pub metering: Metering,
    /// The usage model this member joined under, and its name.
    pub usage_model_id: String,
    pub usage_model: String,
}

/// Whether a member's traffic is counted, and how far the count is to be trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "metering")]
pub enum Metering {
    /// Its usage model neither charges by the GB nor has an allowance: nothing is counted.
    NotMetered,
    /// Its switch runs the dry-run driver, which has no counters: nothing is counted.
    NoCounters,
    /// Counted from its switch's counters, last read at `read_at` (`None`: not read yet).
    Counted { read_at: Option<i64> },
    /// Its counters could not be read since `since` (the first failure of a run); `reason`
    /// is the last failure's. `bytes_used` is what was counted before.
    Unknown { since: i64, reason: String },
}
