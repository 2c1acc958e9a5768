//! The account and usage-model checks' unit tests.

use super::*;

fn account() -> Account {
    Account {
        status: AccountStatus::Active,
        kinds: vec![ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp],
        max_bandwidth_mbps: 1000,
        max_channels: 2,
        classes: vec!["standard".into()],
        balance_cents: 100,
        credit_limit_cents: 0,
    }
}

fn definition() -> Definition {
    Definition {
        name: "Metro E-Line".into(),
        version: 1,
        kinds: vec![ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp],
        min_bandwidth_mbps: 1,
        max_bandwidth_mbps: 10_000,
        classes: vec!["standard".into()],
        drivers: vec!["dry-run".into()],
    }
}

fn request(bw: u64) -> Request<'static> {
    Request {
        kind: ChannelKind::P2p,
        bandwidth_mbps: bw,
        member_bandwidth_mbps: None,
        class: "standard",
        channels_held: 0,
        endpoints_after: 2,
        now_ms: 0,
        interface: InterfaceUse {
            name: "i".into(),
            mode: InterfaceMode::Tagged,
            capacity_mbps: 1000,
            used_mbps: 0,
            channels: 0,
        },
        driver: "dry-run",
    }
}

#[test]
fn a_fitting_request_passes() {
    assert_eq!(verify(&account(), &definition(), &UsageModel::default(), &request(100)), vec![]);
}

#[test]
fn suspended_accounts_are_refused_first_and_alone() {
    let mut a = account();
    a.status = AccountStatus::Suspended;
    let r = verify(&a, &definition(), &UsageModel::default(), &request(5000));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].code(), "account_inactive");
}

#[test]
fn credit_counts_balance_and_limit() {
    let model = UsageModel { price_type: Some(PriceType::PerMbps), price_cents: 2, ..UsageModel::default() };
    let codes = |a: &Account| -> Vec<&str> {
        verify(a, &definition(), &model, &request(100)).iter().map(Refused::code).collect()
    };
    assert_eq!(codes(&account()), vec!["over_credit"]);
    let mut a = account();
    a.credit_limit_cents = 100;
    assert_eq!(codes(&a), Vec::<&str>::new());
}

#[test]
fn quotas_are_written_and_shown_in_gb() {
    let q: Quota = serde_json::from_str("0.004").unwrap();
    assert_eq!((q.megabytes, q.bytes()), (4, 4_000_000));
    assert_eq!(serde_json::to_string(&q).unwrap(), "0.004");
    assert_eq!(serde_json::to_string(&Quota::gb(500)).unwrap(), "500.0");
    assert_eq!(Quota::gb(500).to_string(), "500 GB");
    assert_eq!(Quota { megabytes: 1500 }.to_string(), "1.5 GB");
    for bad in ["0", "-1", "0.0001", "2e9", "\"5\""] {
        assert!(serde_json::from_str::<Quota>(bad).is_err(), "{bad}");
    }
    assert_eq!(gigabytes(0), "0");
    assert_eq!(gigabytes(4_200_000), "0.004");
    assert_eq!(gigabytes(12_000_999_999), "12");
}

#[test]
fn usage_counts_what_the_counter_moved() {
    assert_eq!(usage_delta(None, 5_000), 0, "the first reading is the baseline");
    assert_eq!(usage_delta(Some(5_000), 7_500), 2_500);
    assert_eq!(usage_delta(Some(5_000), 300), 300, "a reset counter counts from zero");
}

proptest::proptest! {
    /// Over readings of a counter that only grows, the usage is exactly how far it
    /// moved after the baseline.
    #[test]
    fn usage_adds_up_to_the_counters_movement(
        start in 0u64..1u64 << 40,
        steps in proptest::collection::vec(0u64..1u64 << 30, 0..20),
    ) {
        let (mut seen, mut used, mut now) = (None, 0u64, start);
        for step in std::iter::once(0).chain(steps.iter().copied()) {
            now += step;
            used += usage_delta(seen, now);
            seen = Some(now);
        }
        proptest::prop_assert_eq!(used, now - start);
    }
}

#[test]
fn windows_wrap_past_midnight() {
    let at = |h: i64| h * 3_600_000;
    assert!(in_window((22 * 60, 6 * 60), at(23)));
    assert!(in_window((22 * 60, 6 * 60), at(2)));
    assert!(!in_window((22 * 60, 6 * 60), at(12)));
    assert!(in_window((8 * 60, 18 * 60), at(12)));
    assert!(!in_window((8 * 60, 18 * 60), at(18)));
}

#[test]
fn terminated_is_final() {
    for to in ChannelState::ALL {
        assert!(!ChannelState::Terminated.can_become(to));
    }
}

#[test]
fn readiness_per_kind() {
    use Role::*;
    assert!(!ready(ChannelKind::P2p, &[Root]));
    assert!(ready(ChannelKind::P2p, &[Root, Root]));
    assert!(!ready(ChannelKind::P2mp, &[Root, Root]));
    assert!(ready(ChannelKind::P2mp, &[Leaf, Root]));
    assert!(ready(ChannelKind::Mp2mp, &[Root, Root]));
}

#[test]
fn the_model_proposed_is_the_offers_when_usable_else_the_first_usable() {
    let trial = UsageModel { name: "trial".into(), max_bandwidth_mbps: Some(10), ..UsageModel::default() };
    let monthly = UsageModel {
        name: "monthly".into(),
        price_type: Some(PriceType::FlatMonthly),
        price_cents: 4900,
        ..UsageModel::default()
    };
    let per_gb = UsageModel {
        name: "per GB".into(),
        price_type: Some(PriceType::PerGb),
        price_cents: 5,
        ..UsageModel::default()
    };
    let mut poor = account();
    poor.balance_cents = 0;
    let refusals = |a: &Account, bw: u64| -> Vec<Vec<Refused>> {
        [&trial, &monthly, &per_gb].iter().map(|m| model_refusals(a, m, bw, 2, 0)).collect()
    };
    let choose = |preferred: &str, r: &[Vec<Refused>]| -> Option<String> {
        let models: Vec<(&str, &[Refused])> =
            ["trial", "monthly", "per-gb"].iter().zip(r).map(|(id, r)| (*id, r.as_slice())).collect();
        choose_model(preferred, &models).map(str::to_string)
    };
    // 100 Mbps: the trial is too narrow and the monthly charge is over the account's
    // credit, so the per-GB model is proposed, whichever the offer named.
    let r = refusals(&poor, 100);
    assert_eq!(r[0].iter().map(Refused::code).collect::<Vec<_>>(), ["usage_bandwidth"]);
    assert_eq!(r[1].iter().map(Refused::code).collect::<Vec<_>>(), ["over_credit"]);
    assert_eq!(choose("monthly", &r).as_deref(), Some("per-gb"));
    // With credit, the offer's own model.
    let mut rich = poor.clone();
    rich.credit_limit_cents = 10_000;
    assert_eq!(choose("monthly", &refusals(&rich, 100)).as_deref(), Some("monthly"));
    // 10 Mbps: the offer's trial fits.
    assert_eq!(choose("trial", &refusals(&poor, 10)).as_deref(), Some("trial"));
    // Where the first listed fits too, the offer's own model still comes first.
    assert_eq!(choose("monthly", &refusals(&rich, 10)).as_deref(), Some("monthly"));
    assert_eq!(choose("per-gb", &refusals(&rich, 10)).as_deref(), Some("per-gb"));
    // Nothing usable: nothing proposed.
    let none: Vec<Vec<Refused>> = vec![vec![Refused::TermEnded { model: "x".into() }]; 3];
    assert_eq!(choose("trial", &none), None);
}

#[test]
fn verify_is_the_account_the_definition_the_model_and_the_interface() {
    let model = UsageModel { max_bandwidth_mbps: Some(10), ..UsageModel::default() };
    let mut a = account();
    a.classes = vec!["gold".into()];
    let all: Vec<&str> = verify(&a, &definition(), &model, &request(100)).iter().map(Refused::code).collect();
    assert_eq!(all, ["class_not_supported", "usage_bandwidth"]);
    let parts: Vec<Refused> = account_refusals(&a, ChannelKind::P2p, 100, "standard", 0)
        .into_iter()
        .chain(model_refusals(&a, &model, 100, 2, 0))
        .collect();
    assert_eq!(parts.iter().map(Refused::code).collect::<Vec<_>>(), all);
}

#[test]
fn a_member_s_own_bandwidth_is_what_the_party_asks_for() {
    let trial = UsageModel {
        name: "trial".into(),
        max_bandwidth_mbps: Some(10),
        price_type: Some(PriceType::PerMbps),
        price_cents: 1,
        ..UsageModel::default()
    };
    let own = |bw: u64, own: u64| Request { member_bandwidth_mbps: Some(own), ..request(bw) };
    let said = |req: &Request<'_>| -> Vec<String> {
        verify(&account(), &definition(), &trial, req).iter().map(ToString::to_string).collect()
    };
    // A 100 Mbps channel is over the trial's 10 Mbps; a member of it at 10 Mbps is not, and
    // pays for its 10 (100 cents of balance).
    assert_eq!(
        verify(&account(), &definition(), &trial, &request(100)).iter().map(Refused::code).collect::<Vec<_>>(),
        ["usage_bandwidth"]
    );
    assert_eq!(said(&own(100, 10)), Vec::<String>::new());
    assert_eq!(
        said(&own(5, 11)),
        [
            "the member's `bandwidth_mbps` of 11 Mbps is outside usage model `trial`'s maximum of 10 Mbps: give a figure within it, or none to take the channel's"
        ]
    );
    let big = UsageModel::default();
    let codes = |req: &Request<'_>| -> Vec<&str> {
        verify(&account(), &definition(), &big, req).iter().map(Refused::code).collect()
    };
    // The account's 1,000 Mbps per channel, the interface's 1,000 of capacity and the
    // definition's 1-10,000 Mbps.
    assert_eq!(codes(&own(10, 2000)), ["member_bandwidth", "interface_capacity"]);
    assert_eq!(codes(&own(10, 20_000)), ["member_bandwidth", "member_bandwidth", "interface_capacity"]);
    assert_eq!(codes(&own(10, 0)), ["member_bandwidth"]);
    assert_eq!(codes(&own(2000, 10)), Vec::<&str>::new(), "the account counts the member's figure");
}
