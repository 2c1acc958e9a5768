//! Business rules of the flow, as pure functions: account verification (SPEC §2 step 2),
//! usage-model restrictions and payment (seed 003), channel readiness and the channel state
//! machine. The service layer loads the facts from the database and asks these.

use serde::{Deserialize, Serialize};

use crate::model::{ChannelKind, InterfaceMode, Role};

/// An account's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Suspended,
    Closed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<AccountStatus> {
        match s {
            "active" => Some(AccountStatus::Active),
            "suspended" => Some(AccountStatus::Suspended),
            "closed" => Some(AccountStatus::Closed),
            _ => None,
        }
    }
}

/// An organization's contract with the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub status: AccountStatus,
    /// The channel kinds it may create or join.
    pub kinds: Vec<ChannelKind>,
    /// The most bandwidth of one channel.
    pub max_bandwidth_mbps: u64,
    /// The most channels it may take part in at once.
    pub max_channels: u64,
    /// Classes of service it may use.
    pub classes: Vec<String>,
    /// What it has paid in, less what it was charged (cents).
    pub balance_cents: i64,
    /// How far below zero its balance may go (cents): what is charged in advance must fit
    /// in balance plus credit limit.
    pub credit_limit_cents: i64,
}

/// A versioned catalogue entry, as far as the checks need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub name: String,
    pub version: u32,
    pub kinds: Vec<ChannelKind>,
    pub min_bandwidth_mbps: u64,
    pub max_bandwidth_mbps: u64,
    pub classes: Vec<String>,
    /// Driver kinds that can carry it ("linux", "dry-run", "remote").
    pub drivers: Vec<String>,
}

/// How a usage model charges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceType {
    /// `price_cents` per month, charged in advance.
    FlatMonthly,
    /// `price_cents` per hour; the first hour is charged in advance.
    PerHour,
    /// `price_cents` per GB transferred; nothing in advance.
    PerGb,
    /// `price_cents` per Mbps of bandwidth per month, charged in advance.
    PerMbps,
}

impl PriceType {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceType::FlatMonthly => "flat_monthly",
            PriceType::PerHour => "per_hour",
            PriceType::PerGb => "per_gb",
            PriceType::PerMbps => "per_mbps",
        }
    }

    pub fn parse(s: &str) -> Option<PriceType> {
        match s {
            "flat_monthly" => Some(PriceType::FlatMonthly),
            "per_hour" => Some(PriceType::PerHour),
            "per_gb" => Some(PriceType::PerGb),
            "per_mbps" => Some(PriceType::PerMbps),
            _ => None,
        }
    }
}

/// A usage model: a price and the restrictions on use (seed 003).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageModel {
    pub name: String,
    pub price_type: Option<PriceType>,
    pub price_cents: i64,
    pub max_bandwidth_mbps: Option<u64>,
    pub max_endpoints: Option<u64>,
    /// Allowed time of day, minutes after midnight UTC, `[start, end)`; wraps past midnight
    /// when `start > end`.
    #[schema(value_type = Option<Vec<u32>>)]
    pub window: Option<(u32, u32)>,
    /// Unix ms after which the channel ends.
    pub term_end_ms: Option<i64>,
    /// Traffic a member may carry (in and out of its interface, read from the switch's
    /// counters), in GB (10^9 bytes; down to 0.001 GB); the channel ends when a member has
    /// carried more.
    #[schema(value_type = Option<f64>)]
    pub max_gb: Option<Quota>,
}

/// A data allowance, kept in megabytes (10^6 bytes), written and shown in GB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quota {
    pub megabytes: u64,
}

impl Quota {
    /// Whole gigabytes.
    pub fn gb(gb: u64) -> Quota {
        Quota { megabytes: gb.saturating_mul(1000) }
    }

    pub fn bytes(self) -> u64 {
        self.megabytes.saturating_mul(1_000_000)
    }

    /// From a number of GB: positive, at most 1,000,000,000, in steps of 0.001.
    pub fn from_gb(gb: f64) -> Result<Quota, String> {
        if !gb.is_finite() || !(0.001..=1e9).contains(&gb) {
            return Err(format!("max_gb {gb} is not a data allowance: use 0.001 to 1000000000 GB"));
        }
        // In range, so the cast is exact enough and cannot wrap.
        Ok(Quota { megabytes: (gb * 1000.0).round() as u64 })
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} GB", gigabytes(self.bytes()))
    }
}

/// `bytes` in GB with up to three decimals, no trailing zeros ("1.5", "0.004", "12").
pub fn gigabytes(bytes: u64) -> String {
    let mb = bytes / 1_000_000;
    let (whole, frac) = (mb / 1000, mb % 1000);
    if frac == 0 { whole.to_string() } else { format!("{whole}.{frac:03}").trim_end_matches('0').to_string() }
}

impl Serialize for Quota {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Megabytes below 2^53 are exact in an f64.
        s.serialize_f64(self.megabytes as f64 / 1000.0)
    }
}

impl<'de> Deserialize<'de> for Quota {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Quota::from_gb(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// How much a member carried since the last reading, from a counter that read `seen`
/// then (`None`: never read; this reading is the baseline) and `now` now. A counter that
/// went back was reset (the port was re-created): it counted `now` since.
pub fn usage_delta(seen: Option<u64>, now: u64) -> u64 {
    match seen {
        None => 0,
        Some(s) if now >= s => now - s,
        Some(_) => now,
    }
}

/// What one party asks for when it creates or joins a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub kind: ChannelKind,
    /// The channel's bandwidth (Mbps).
    pub bandwidth_mbps: u64,
    /// The bandwidth the party gives its own member (Mbps), if it gives one: then that,
    /// not the channel's, is what it asks for ([`Request::member_mbps`]).
    pub member_bandwidth_mbps: Option<u64>,
    pub class: &'a str,
    /// Live channels the organization already takes part in (not counting this one).
    pub channels_held: u64,
    /// Members the channel will have with this party in it.
    pub endpoints_after: u64,
    pub now_ms: i64,
    pub interface: InterfaceUse,
    /// Driver kind of the interface's switch.
    pub driver: &'a str,
}

impl Request<'_> {
    /// The bandwidth of the party's member: its own, or else the channel's. What its
    /// policer lets in, what it takes of its interface, and what a per-Mbps model charges.
    pub fn member_mbps(&self) -> u64 {
        self.member_bandwidth_mbps.unwrap_or(self.bandwidth_mbps)
    }
}

/// The service interface being plugged in, and what already runs on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceUse {
    pub name: String,
    pub mode: InterfaceMode,
    pub capacity_mbps: u64,
    pub used_mbps: u64,
    pub channels: u64,
}

/// Why a party cannot have what it asked for. Each message says what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refused {
    #[error("the account is {status}: ask the operator to reactivate it")]
    AccountInactive { status: String },
    #[error("the account does not support {kind} channels (it supports {supported})")]
    KindNotSupported { kind: ChannelKind, supported: String },
    #[error("{asked} Mbps is over the account's limit of {max} Mbps per channel")]
    OverBandwidth { asked: u64, max: u64 },
    #[error("the account already takes part in {held} channels, its limit is {max}")]
    OverChannelCount { held: u64, max: u64 },
    #[error("class of service `{class}` is not in the account (it has {supported})")]
    ClassNotSupported { class: String, supported: String },
    #[error(
        "the usage model charges {} in advance and the account can pay {} (balance plus credit limit): ask the operator for more credit, or choose a model that charges less in advance",
        money(*need_cents),
        money(*available_cents)
    )]
    OverCredit { need_cents: i64, available_cents: i64 },
    #[error("service definition {definition} does not offer {kind} channels")]
    DefinitionKind { definition: String, kind: ChannelKind },
    #[error("service definition {definition} allows {min}-{max} Mbps, not {asked}")]
    DefinitionBandwidth { definition: String, min: u64, max: u64, asked: u64 },
    #[error("class of service `{class}` is not offered by service definition {definition}")]
    DefinitionClass { definition: String, class: String },
    #[error("service definition {definition} cannot be carried by the `{driver}` switch of interface `{interface}`")]
    DefinitionDriver { definition: String, driver: String, interface: String },
    #[error("usage model `{model}` allows at most {max} Mbps, the channel has {asked}")]
    UsageBandwidth { model: String, max: u64, asked: u64 },
    #[error("usage model `{model}` allows at most {max} endpoints")]
    UsageEndpoints { model: String, max: u64 },
    #[error("usage model `{model}` can only be used between {start} and {end} UTC")]
    OutsideWindow { model: String, start: String, end: String },
    #[error("usage model `{model}` ended its term")]
    TermEnded { model: String },
    #[error("usage model `{model}` allows {allowed} per member and interface `{interface}` carried {used} GB")]
    QuotaUsed { model: String, allowed: Quota, interface: String, used: String },
    #[error("interface `{interface}` would carry {needed} Mbps, over its capacity of {capacity} Mbps")]
    InterfaceCapacity { interface: String, needed: u64, capacity: u64 },
    #[error("interface `{interface}` is in port mode and already carries a channel: use a tagged-mode interface")]
    InterfaceBusy { interface: String },
    #[error(
        "the member's `bandwidth_mbps` of {asked} Mbps is outside {limit}: give a figure within it, or none to take the channel's"
    )]
    MemberBandwidth {
        asked: u64,
        limit: String,
        /// Whether the bound is the usage model's maximum (another model may allow it).
        #[serde(skip)]
        by_model: bool,
    },
}

impl Refused {
    /// Whether another usage model of the same definition might not be refused this way:
    /// the model's own bandwidth, member count or term, or what it charges in advance.
    /// (Not its time window: which model that leaves would depend on the hour.)
    pub fn another_model_may_do(&self) -> bool {
        matches!(
            self,
            Refused::UsageBandwidth { .. }
                | Refused::UsageEndpoints { .. }
                | Refused::TermEnded { .. }
                | Refused::OverCredit { .. }
                | Refused::MemberBandwidth { by_model: true, .. }
        )
    }

    /// The stable code of this refusal (what the API returns).
    pub fn code(&self) -> &'static str {
        match self {
            Refused::AccountInactive { .. } => "account_inactive",
            Refused::KindNotSupported { .. } => "kind_not_supported",
            Refused::OverBandwidth { .. } => "over_bandwidth",
            Refused::OverChannelCount { .. } => "over_channel_count",
            Refused::ClassNotSupported { .. } => "class_not_supported",
            Refused::OverCredit { .. } => "over_credit",
            Refused::DefinitionKind { .. } => "definition_kind",
            Refused::DefinitionBandwidth { .. } => "definition_bandwidth",
            Refused::DefinitionClass { .. } => "definition_class",
            Refused::DefinitionDriver { .. } => "definition_driver",
            Refused::UsageBandwidth { .. } => "usage_bandwidth",
            Refused::UsageEndpoints { .. } => "usage_endpoints",
            Refused::OutsideWindow { .. } => "outside_window",
            Refused::TermEnded { .. } => "term_ended",
            Refused::QuotaUsed { .. } => "quota_used",
            Refused::InterfaceCapacity { .. } => "interface_capacity",
            Refused::InterfaceBusy { .. } => "interface_busy",
            Refused::MemberBandwidth { .. } => "member_bandwidth",
        }
    }
}

/// A usage model's price in words, as pages and emails say it: "free", "12.00 EUR per month".
pub fn price_words(m: &UsageModel, currency: &str) -> String {
    let a = |cents: i64| amount(cents, currency);
    match m.price_type {
        None => "free".into(),
        Some(_) if m.price_cents == 0 => "free".into(),
        Some(PriceType::FlatMonthly) => format!("{} per month", a(m.price_cents)),
        Some(PriceType::PerHour) => format!("{} per hour", a(m.price_cents)),
        Some(PriceType::PerGb) => format!("{} per GB", a(m.price_cents)),
        Some(PriceType::PerMbps) => format!("{} per Mbps per month", a(m.price_cents)),
    }
}

/// An amount in cents of `currency` as people write it: `49.05 EUR`.
pub fn amount(cents: i64, currency: &str) -> String {
    format!("{} {currency}", money(cents))
}

/// An amount in cents as people write it: `49.00`, `-3.50`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

/// What the usage model charges before the channel starts.
pub fn upfront_cents(model: &UsageModel, bandwidth_mbps: u64) -> i64 {
    match model.price_type {
        None | Some(PriceType::PerGb) => 0,
        Some(PriceType::FlatMonthly | PriceType::PerHour) => model.price_cents,
        Some(PriceType::PerMbps) => model.price_cents.saturating_mul(i64::try_from(bandwidth_mbps).unwrap_or(i64::MAX)),
    }
}

const DAY_MS: i64 = 86_400_000;

fn hhmm(min: u32) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

/// Whether `now_ms` lies in the daily window `[start, end)` (minutes after midnight UTC).
pub fn in_window(window: (u32, u32), now_ms: i64) -> bool {
    let minute = u32::try_from(now_ms.rem_euclid(DAY_MS) / 60_000).unwrap_or(0);
    let (start, end) = window;
    if start <= end { (start..end).contains(&minute) } else { minute >= start || minute < end }
}

/// Checks the restrictions of a usage model that hold while a channel runs: time window and
/// term end. (Max GB needs switch counters; the service checks it where it has them.)
pub fn usage_in_force(model: &UsageModel, now_ms: i64) -> Result<(), Refused> {
    if let Some(end) = model.term_end_ms
        && now_ms >= end
    {
        return Err(Refused::TermEnded { model: model.name.clone() });
    }
    if let Some(w) = model.window
        && !in_window(w, now_ms)
    {
        return Err(Refused::OutsideWindow { model: model.name.clone(), start: hhmm(w.0), end: hhmm(w.1) });
    }
    Ok(())
}

/// The first of a channel's member windows (usage model name, window) that is closed at
/// `now_ms`: the channel must not carry traffic while one is.
pub fn closed_window<'a>(windows: impl IntoIterator<Item = (&'a str, (u32, u32))>, now_ms: i64) -> Option<Refused> {
    windows.into_iter().find(|(_, w)| !in_window(*w, now_ms)).map(|(model, w)| Refused::OutsideWindow {
        model: model.to_string(),
        start: hhmm(w.0),
        end: hhmm(w.1),
    })
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() { "none".into() } else { items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ") }
}

/// Verifies that an account may have what it asks for under a definition and usage model.
/// Returns every refusal, most fundamental first; empty means yes.
///
/// A party asks for its member's bandwidth ([`Request::member_mbps`]): the account's limit
/// per channel, the usage model's maximum, what the model charges in advance and the
/// interface's capacity all count that figure. The channel's own bandwidth must lie in the
/// definition's range whatever the member gives, and a member's own figure must too. When
/// the member gives its own figure, a bound it breaks is said as
/// [`Refused::MemberBandwidth`], naming the field and the bound.
pub fn verify(account: &Account, definition: &Definition, model: &UsageModel, req: &Request<'_>) -> Vec<Refused> {
    let member = req.member_mbps();
    let mut out = account_refusals(account, req.kind, member, req.class, req.channels_held);
    if out.first().is_some_and(|r| matches!(r, Refused::AccountInactive { .. })) {
        return out;
    }
    let label = format!("{} v{}", definition.name, definition.version);
    if !definition.kinds.contains(&req.kind) {
        out.push(Refused::DefinitionKind { definition: label.clone(), kind: req.kind });
    }
    if !(definition.min_bandwidth_mbps..=definition.max_bandwidth_mbps).contains(&req.bandwidth_mbps) {
        out.push(Refused::DefinitionBandwidth {
            definition: label.clone(),
            min: definition.min_bandwidth_mbps,
            max: definition.max_bandwidth_mbps,
            asked: req.bandwidth_mbps,
        });
    }
    if let Some(own) = req.member_bandwidth_mbps
        && !(definition.min_bandwidth_mbps..=definition.max_bandwidth_mbps).contains(&own)
    {
        out.push(Refused::MemberBandwidth {
            asked: own,
            limit: format!(
                "service definition {label}'s range of {}-{} Mbps",
                definition.min_bandwidth_mbps, definition.max_bandwidth_mbps
            ),
            by_model: false,
        });
    }
    if !definition.classes.iter().any(|c| c == req.class) {
        out.push(Refused::DefinitionClass { definition: label.clone(), class: req.class.into() });
    }
    if !definition.drivers.iter().any(|d| d == req.driver) {
        out.push(Refused::DefinitionDriver {
            definition: label,
            driver: req.driver.into(),
            interface: req.interface.name.clone(),
        });
    }
    out.extend(model_refusals(account, model, member, req.endpoints_after, req.now_ms));
    if let Some(own) = req.member_bandwidth_mbps {
        // The account's and the model's maximums were checked against the member's own
        // figure: say so, with the field that gave it.
        for r in &mut out {
            let (limit, by_model) = match r {
                Refused::OverBandwidth { max, .. } => (format!("the account's limit of {max} Mbps per channel"), false),
                Refused::UsageBandwidth { model, max, .. } => {
                    (format!("usage model `{model}`'s maximum of {max} Mbps"), true)
                }
                _ => continue,
            };
            *r = Refused::MemberBandwidth { asked: own, limit, by_model };
        }
    }
    let iface = &req.interface;
    if iface.mode == InterfaceMode::Port && iface.channels > 0 {
        out.push(Refused::InterfaceBusy { interface: iface.name.clone() });
    }
    let needed = iface.used_mbps.saturating_add(member);
    if needed > iface.capacity_mbps {
        out.push(Refused::InterfaceCapacity { interface: iface.name.clone(), needed, capacity: iface.capacity_mbps });
    }
    out
}

/// The account's own limits for a channel (part of [`verify`]): status, kinds, bandwidth,
/// channel count and class. An inactive account is refused with that alone.
pub fn account_refusals(
    account: &Account,
    kind: ChannelKind,
    bandwidth_mbps: u64,
    class: &str,
    held: u64,
) -> Vec<Refused> {
    let mut out = Vec::new();
    if account.status != AccountStatus::Active {
        out.push(Refused::AccountInactive { status: account.status.as_str().into() });
        return out;
    }
    if !account.kinds.contains(&kind) {
        out.push(Refused::KindNotSupported { kind, supported: list(&account.kinds) });
    }
    if bandwidth_mbps > account.max_bandwidth_mbps {
        out.push(Refused::OverBandwidth { asked: bandwidth_mbps, max: account.max_bandwidth_mbps });
    }
    if held >= account.max_channels {
        out.push(Refused::OverChannelCount { held, max: account.max_channels });
    }
    if !account.classes.iter().any(|c| c == class) {
        out.push(Refused::ClassNotSupported { class: class.into(), supported: list(&account.classes) });
    }
    out
}

/// Whether a party may use `model` for a channel (part of [`verify`]): the model's own
/// restrictions, and whether the account can pay what it charges in advance. What an
/// invitee is told of each model before choosing one.
pub fn model_refusals(
    account: &Account,
    model: &UsageModel,
    bandwidth_mbps: u64,
    endpoints_after: u64,
    now_ms: i64,
) -> Vec<Refused> {
    let mut out = Vec::new();
    if let Some(max) = model.max_bandwidth_mbps
        && bandwidth_mbps > max
    {
        out.push(Refused::UsageBandwidth { model: model.name.clone(), max, asked: bandwidth_mbps });
    }
    if let Some(max) = model.max_endpoints
        && endpoints_after > max
    {
        out.push(Refused::UsageEndpoints { model: model.name.clone(), max });
    }
    if let Err(r) = usage_in_force(model, now_ms) {
        out.push(r);
    }
    let need = upfront_cents(model, bandwidth_mbps);
    let available = account.balance_cents.saturating_add(account.credit_limit_cents);
    if need > available {
        out.push(Refused::OverCredit { need_cents: need, available_cents: available });
    }
    out
}

/// The usage model to propose to a party, given each model's refusals ([`model_refusals`])
/// in catalogue order: `preferred` (the one the offer was made with) when it is usable, else
/// the first usable one; `None` when none is.
pub fn choose_model<'a>(preferred: &str, models: &[(&'a str, &[Refused])]) -> Option<&'a str> {
    let usable = |(_, refused): &&(&'a str, &[Refused])| refused.is_empty();
    models
        .iter()
        .filter(usable)
        .find(|(id, _)| *id == preferred)
        .or_else(|| models.iter().find(usable))
        .map(|(id, _)| *id)
}

/// Whether members with these roles let a channel carry traffic (SPEC §2 step 5).
pub fn ready(kind: ChannelKind, roles: &[Role]) -> bool {
    match kind {
        ChannelKind::P2p => roles.len() == 2,
        ChannelKind::P2mp => roles.contains(&Role::Root) && roles.contains(&Role::Leaf),
        ChannelKind::Mp2mp => roles.len() >= 2,
    }
}

/// How many members a channel kind takes at most.
pub fn max_members(kind: ChannelKind) -> Option<usize> {
    match kind {
        ChannelKind::P2p => Some(2),
        ChannelKind::P2mp | ChannelKind::Mp2mp => None,
    }
}

/// A channel's life (SPEC §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelState {
    Draft,
    Offered,
    Provisioning,
    Active,
    Modifying,
    /// Outside a member's usage time window: nothing on the switches, the VLAN kept; the
    /// channel resumes when the window opens.
    Paused,
    Terminating,
    Terminated,
    Failed,
}

impl ChannelState {
    pub const ALL: [ChannelState; 9] = [
        ChannelState::Draft,
        ChannelState::Offered,
        ChannelState::Provisioning,
        ChannelState::Active,
        ChannelState::Modifying,
        ChannelState::Paused,
        ChannelState::Terminating,
        ChannelState::Terminated,
        ChannelState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Draft => "draft",
            ChannelState::Offered => "offered",
            ChannelState::Provisioning => "provisioning",
            ChannelState::Active => "active",
            ChannelState::Modifying => "modifying",
            ChannelState::Paused => "paused",
            ChannelState::Terminating => "terminating",
            ChannelState::Terminated => "terminated",
            ChannelState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelState> {
        ChannelState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The legal transitions. Everything else is refused.
    pub fn can_become(self, to: ChannelState) -> bool {
        use ChannelState::*;
        matches!(
            (self, to),
            (Draft, Offered)
                | (Draft | Offered, Provisioning)
                | (Provisioning, Active)
                | (Active, Modifying)
                | (Modifying, Active)
                | (Active, Paused)
                | (Paused, Provisioning)
                | (Draft | Offered | Provisioning | Active | Modifying | Paused | Failed, Terminating)
                | (Terminating, Terminated)
                | (Provisioning | Modifying | Paused | Terminating, Failed)
                | (Failed, Provisioning)
                | (Offered, Offered)
        )
    }
}

impl std::fmt::Display for ChannelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
