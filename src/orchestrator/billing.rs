//! Charges made after the fact (issue: the portal journey, item 1), as pure functions: what
//! a member owes at a billing run for the time it stayed plugged in and the traffic it
//! carried, beyond what it was charged in advance when it plugged in.
//!
//! - A monthly model (flat, or per Mbps) is paid a month at a time, in advance: the first
//!   month when the member plugs in, each further month when it starts. A month is 30 days
//!   from the plug-in.
//! - A per-hour model is paid an hour at a time the same way: the first hour at plug-in, each
//!   further hour when it starts.
//! - A per-GB model charges nothing in advance; each run charges the traffic read from the
//!   switch's counters since the last run. What is charged over all runs is always the price
//!   of the whole traffic so far, rounded down to the cent once, never once per run.
//!
//! A period that starts while the member's channel carries no traffic (offered and waiting,
//! failed, or being set up or ended) is not charged; nor is an hour that starts while the
//! channel is paused outside its time window (a month is: the window is part of its terms). A member whose account cannot pay a period when it
//! starts ends its channel, as an ended term does (SPEC §2 step 6: "an ... unpaid usage
//! model ends it"); traffic already carried is charged even when it takes the balance past
//! the credit limit, and then ends the channel the same way.

use super::policy::{ChannelState, PriceType, UsageModel, money, upfront_cents};

pub const HOUR_MS: i64 = 3_600_000;
/// A month of a monthly model: 30 days.
pub const MONTH_MS: i64 = 30 * 86_400_000;

/// How long one period of a time-based price lasts; `None` for a price that is not by time.
pub fn period_ms(price: Option<PriceType>) -> Option<i64> {
    match price? {
        PriceType::FlatMonthly | PriceType::PerMbps => Some(MONTH_MS),
        PriceType::PerHour => Some(HOUR_MS),
        PriceType::PerGb => None,
    }
}

/// Until when a member that plugs in at `now` under `model` has paid, with its advance
/// charge; `None` when the model is not paid by time.
pub fn paid_until_at_plug_in(model: &UsageModel, now: i64) -> Option<i64> {
    period_ms(model.price_type).map(|p| now.saturating_add(p))
}

/// The periods that started by `now` for a member paid until `paid_until`: how many, and
/// until when they pay. A period starts at `paid_until`; none has when `paid_until > now`.
pub fn periods_due(period: i64, paid_until: i64, now: i64) -> (i64, i64) {
    if period <= 0 || paid_until > now {
        return (0, paid_until);
    }
    let n = (now - paid_until) / period + 1;
    (n, paid_until.saturating_add(n.saturating_mul(period)))
}

/// The price, rounded down to the cent, of `bytes` at `price_cents` per GB (10^9 bytes).
pub fn per_gb_cents(bytes: u64, price_cents: i64) -> i64 {
    let cents = u128::from(bytes) * u128::from(price_cents.max(0).unsigned_abs()) / 1_000_000_000;
    i64::try_from(cents).unwrap_or(i64::MAX)
}

/// A member as a billing run sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Billable<'a> {
    pub model: &'a UsageModel,
    pub bandwidth_mbps: u64,
    /// Until when its time-based periods are paid (`None`: not yet known; taken as paid
    /// for the first period after `attached_at`, which the plug-in charged).
    pub paid_until: Option<i64>,
    pub attached_at: i64,
    /// Traffic read so far, and how much of it was charged.
    pub bytes_used: u64,
    pub bytes_billed: u64,
    /// Its channel's state.
    pub state: ChannelState,
}

/// What a billing run does for one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bill {
    /// What to charge now (0: nothing), and the ledger's words for it.
    pub cents: i64,
    pub what: String,
    /// The new `paid_until` and `bytes_billed` to keep.
    pub paid_until: Option<i64>,
    pub bytes_billed: u64,
    /// Whether the charge is for time to come: then it is made only if the account can pay
    /// it; traffic already carried is charged whatever the balance.
    pub in_advance: bool,
}

/// What `m` owes at `now`.
pub fn bill(m: &Billable<'_>, now: i64) -> Bill {
    let mut out = Bill {
        cents: 0,
        what: String::new(),
        paid_until: m.paid_until,
        bytes_billed: m.bytes_billed,
        in_advance: false,
    };
    match (m.model.price_type, period_ms(m.model.price_type)) {
        (Some(PriceType::PerGb), _) => {
            let new = m.bytes_used.saturating_sub(m.bytes_billed);
            let cents = per_gb_cents(m.bytes_used, m.model.price_cents)
                - per_gb_cents(m.bytes_billed.min(m.bytes_used), m.model.price_cents);
            out.bytes_billed = m.bytes_used.max(m.bytes_billed);
            if cents > 0 {
                out.cents = cents;
                out.what = format!("{}: {} carried", m.model.name, megabytes_words(new));
            }
        }
        (Some(price), Some(period)) => {
            let paid = m.paid_until.unwrap_or_else(|| m.attached_at.saturating_add(period));
            let (n, until) = periods_due(period, paid, now);
            out.paid_until = Some(until);
            let live = match m.state {
                ChannelState::Active | ChannelState::Modifying => true,
                ChannelState::Paused => price != PriceType::PerHour,
                _ => false,
            };
            if n > 0 && live {
                out.cents = upfront_cents(m.model, m.bandwidth_mbps).saturating_mul(n);
                out.in_advance = true;
                let unit = if price == PriceType::PerHour { "hour" } else { "month" };
                let units = if n == 1 { format!("1 more {unit}") } else { format!("{n} more {unit}s") };
                out.what = format!("{}: {units}, charged in advance", m.model.name);
            }
        }
        _ => {}
    }
    if out.cents <= 0 {
        out.cents = 0;
        out.what.clear();
        out.in_advance = false;
    }
    out
}

/// Traffic in words for the ledger: "1.234 GB".
fn megabytes_words(bytes: u64) -> String {
    let mb = bytes / 1_000_000;
    format!("{}.{:03} GB", mb / 1000, mb % 1000)
}

/// Why a billing run ends a channel: its member's account cannot pay.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{organization}'s account cannot pay usage model `{model}`: {} was due and it could pay {} (balance plus credit limit)",
    money(*due_cents),
    money(*available_cents)
)]
pub struct Unpaid {
    pub organization: String,
    pub model: String,
    pub due_cents: i64,
    pub available_cents: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(price: PriceType, cents: i64) -> UsageModel {
        UsageModel { name: "m".into(), price_type: Some(price), price_cents: cents, ..UsageModel::default() }
    }

    fn member(m: &UsageModel) -> Billable<'_> {
        Billable {
            model: m,
            bandwidth_mbps: 100,
            paid_until: None,
            attached_at: 0,
            bytes_used: 0,
            bytes_billed: 0,
            state: ChannelState::Active,
        }
    }

    #[test]
    fn a_month_in_charges_the_second_month_once() {
        let m = model(PriceType::FlatMonthly, 4900);
        let b = bill(&member(&m), MONTH_MS - 1);
        assert_eq!(b.cents, 0, "the first month was paid at plug-in");
        let b = bill(&member(&m), MONTH_MS);
        assert_eq!((b.cents, b.paid_until), (4900, Some(2 * MONTH_MS)));
        assert!(b.in_advance);
        let again = Billable { paid_until: b.paid_until, ..member(&m) };
        assert_eq!(bill(&again, MONTH_MS + 5).cents, 0, "a second run in the same month charges nothing");
    }

    #[test]
    fn per_mbps_is_charged_for_the_bandwidth() {
        let m = model(PriceType::PerMbps, 10);
        assert_eq!(bill(&member(&m), MONTH_MS).cents, 1000);
    }

    #[test]
    fn hours_missed_by_a_stopped_server_are_charged_together() {
        let m = model(PriceType::PerHour, 50);
        let b = bill(&member(&m), 3 * HOUR_MS + 1);
        assert_eq!((b.cents, b.paid_until), (150, Some(4 * HOUR_MS)));
        assert_eq!(b.what, "m: 3 more hours, charged in advance");
    }

    #[test]
    fn a_period_starting_while_the_channel_is_down_is_free() {
        let m = model(PriceType::PerHour, 50);
        for state in [ChannelState::Failed, ChannelState::Offered, ChannelState::Paused] {
            let down = Billable { state, ..member(&m) };
            let b = bill(&down, HOUR_MS);
            assert_eq!((b.cents, b.paid_until), (0, Some(2 * HOUR_MS)), "{state:?}");
        }
        let month = model(PriceType::FlatMonthly, 4900);
        let paused = Billable { state: ChannelState::Paused, ..member(&month) };
        assert_eq!(bill(&paused, MONTH_MS).cents, 4900, "a paused month is still a month of the term");
    }

    #[test]
    fn per_gb_charges_traffic_once_and_rounds_the_total_not_each_run() {
        let m = model(PriceType::PerGb, 3);
        let mut b = Billable { bytes_used: 400_000_000, ..member(&m) };
        let first = bill(&b, 0);
        assert_eq!(first.cents, 1, "0.4 GB at 3 cents is 1.2 cents");
        b.bytes_billed = first.bytes_billed;
        b.bytes_used = 800_000_000;
        assert_eq!(bill(&b, 0).cents, 1, "0.8 GB is 2.4 cents in all: 1 more");
        assert!(!bill(&b, 0).in_advance);
        b.bytes_billed = 800_000_000;
        assert_eq!(bill(&b, 0).cents, 0);
    }

    #[test]
    fn free_and_untimed_models_charge_nothing() {
        let free = UsageModel { name: "trial".into(), ..UsageModel::default() };
        assert_eq!(bill(&Billable { bytes_used: 1 << 40, ..member(&free) }, 10 * MONTH_MS).cents, 0);
        let zero = model(PriceType::FlatMonthly, 0);
        assert_eq!(bill(&member(&zero), 10 * MONTH_MS).cents, 0);
    }

    proptest::proptest! {
        /// However a member's time is cut into billing runs, it is charged for each period
        /// that started, once: as much as one run at the end charges.
        #[test]
        fn runs_add_up_to_one_run(steps in proptest::collection::vec(0i64..3 * HOUR_MS, 0..30)) {
            let m = model(PriceType::PerHour, 7);
            let mut paid = None;
            let mut charged = 0;
            let mut now = 0;
            for s in steps {
                now += s;
                let b = bill(&Billable { paid_until: paid, ..member(&m) }, now);
                charged += b.cents;
                paid = b.paid_until;
            }
            let once = bill(&member(&m), now);
            proptest::prop_assert_eq!(charged, once.cents);
            proptest::prop_assert!(paid.unwrap_or(HOUR_MS) > now);
        }

        /// Per GB, what all runs charged is the price of all the traffic, rounded down once.
        #[test]
        fn per_gb_runs_add_up(readings in proptest::collection::vec(0u64..5_000_000_000, 0..30), price in 0i64..10_000) {
            let m = model(PriceType::PerGb, price);
            let (mut used, mut billed, mut charged) = (0u64, 0u64, 0i64);
            for r in readings {
                used += r;
                let b = bill(&Billable { bytes_used: used, bytes_billed: billed, ..member(&m) }, 0);
                charged += b.cents;
                billed = b.bytes_billed;
            }
            proptest::prop_assert_eq!(charged, per_gb_cents(used, price));
        }
    }
}
