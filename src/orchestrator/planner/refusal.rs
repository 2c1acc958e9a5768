//! Why the planner refuses a channel: each reason says what to change.

use serde::Serialize;

use crate::model::{ChannelKind, Pos};

/// A channel the planner refused, and why. `pos` points into the channels file (or is the
/// default when the spec did not come from a file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanError {
    pub pos: Pos,
    pub channel: String,
    pub refusal: Refusal,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: channel `{}`: {}", self.pos, self.channel, self.refusal)
    }
}

/// Why a channel cannot be planned. Each says what to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    #[error("name is not usable: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")]
    BadName,
    #[error("the name is already used by the channel at {first}")]
    DuplicateName { first: Pos },
    #[error("a {kind} channel needs {needs} members, it has {found}")]
    MemberCount { kind: ChannelKind, needs: &'static str, found: usize },
    #[error("a p2mp channel needs at least one root and one leaf, it has {roots} root(s) and {leaves} leaf/leaves")]
    RootsAndLeaves { roots: usize, leaves: usize },
    #[error("member `{interface}` needs a `role` (root or leaf) in a p2mp channel")]
    RoleMissing { interface: String },
    #[error("member `{interface}` has a `role`, which only applies to p2mp channels")]
    RoleNotAllowed { interface: String },
    #[error("unknown interface `{interface}`{suggestion}")]
    UnknownInterface { interface: String, suggestion: String },
    #[error("interface `{interface}` is a member twice")]
    InterfaceTwice { interface: String },
    #[error("interface `{interface}` is in port mode: `customer_vlan` only applies to tagged-mode interfaces")]
    CustomerVlanOnPortMode { interface: String },
    #[error(
        "interface `{interface}` is in port mode and already carries channel `{channel}`: a port-mode interface carries one channel"
    )]
    PortModeBusy { interface: String, channel: String },
    #[error("interface `{interface}` would carry {needed} Mbps, over its capacity of {capacity} Mbps")]
    OverCapacity { interface: String, needed: u64, capacity: u64 },
    #[error(
        "customer VLAN {vid} is already used on interface `{interface}`{}: pick another `customer_vlan`",
        by(channel)
    )]
    CustomerVlanTaken {
        interface: String,
        vid: u16,
        /// The channel using the tag there, when it is one the planner holds.
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    #[error("unknown class of service `{class}`{suggestion}: the topology's `classes` are {known}")]
    UnknownClass { class: String, suggestion: String, known: String },
    #[error(
        "`{field}` {vid} is not in the topology's VLAN pool, {pool}: pick one there, or leave `{field}` out to have one picked"
    )]
    VlanNotInPool {
        vid: u16,
        /// `vlan` or `leaf_vlan`.
        field: &'static str,
        /// The pool as the topology gives it: "100-199", "2-4094 less the reserved 1000-1099".
        pool: String,
    },
    #[error("VLAN {vid} is already used{} on switch `{switch}`, which is on this channel's path", by(channel))]
    VlanTaken {
        vid: u16,
        switch: String,
        /// The channel using the VLAN there, when it is one the planner holds (not one of
        /// the VLANs a caller reserved).
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    #[error("VLAN {vid} is the customer VLAN of {} on interface `{interface}`", channel.as_ref().map_or_else(|| "another channel".to_string(), |c| format!("channel `{c}`")))]
    VlanIsCustomerTag {
        vid: u16,
        interface: String,
        /// The channel using the tag there, when it is one the planner holds.
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    #[error("`leaf_vlan` only applies to p2mp channels")]
    LeafVlanNotP2mp,
    #[error("`vlan` and `leaf_vlan` must differ")]
    SameRootAndLeafVlan,
    #[error(
        "{} free on all {switches} switches of the path: free a channel there or widen the pool",
        if *vlans > 1 { "an E-Tree needs two VLANs (root and leaf), and fewer are" } else { "no VLAN of the pool is" }
    )]
    PoolExhausted {
        switches: usize,
        /// How many VLANs the channel needed picked: 2 for an E-Tree that pins neither.
        vlans: usize,
    },
}

impl Refusal {
    /// The refusal without the name of the channel holding what it wants: for a refusal
    /// shown to someone that channel may not belong to.
    pub fn without_holder(mut self) -> Refusal {
        if let Refusal::VlanTaken { channel, .. }
        | Refusal::VlanIsCustomerTag { channel, .. }
        | Refusal::CustomerVlanTaken { channel, .. } = &mut self
        {
            *channel = None;
        }
        self
    }
}

/// " by channel `name`" for a refusal that names who holds what it wants, else nothing.
fn by(channel: &Option<String>) -> String {
    channel.as_ref().map_or_else(String::new, |c| format!(" by channel `{c}`"))
}
