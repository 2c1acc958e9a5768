//! Words for people: prices, limits, traffic, times and channel kinds as the portal's pages
//! show them, and the links they write (percent-encoded; after login, local only). Pure
//! functions, tested here.

use crate::model::records::Metering;
use crate::model::utc_minute as when;
use crate::orchestrator::policy::{PriceType, Refused, UsageModel, price_words};
use crate::service::ServiceError;
use crate::topology::Topology;

pub fn when_opt(ms: Option<i64>) -> String {
    ms.map(when).unwrap_or_default()
}

pub use crate::model::people::{for_people, typographic_quotes};
pub use crate::orchestrator::policy::amount;

/// Which field of a channel's create or accept form a refusal concerns, so the page shows it
/// beside that field: "interface", "usage_model", "customer_vlan", "bandwidth", "class",
/// "kind", "name", or "" for the form as a whole (the account's standing, the channel's state).
pub fn field_of(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::Refused(r) => match r.first().map(Refused::code) {
            Some("interface_capacity" | "interface_busy" | "definition_driver") => "interface",
            Some("usage_bandwidth" | "usage_endpoints" | "outside_window" | "term_ended" | "over_credit") => {
                "usage_model"
            }
            Some("over_bandwidth" | "definition_bandwidth") => "bandwidth",
            Some("member_bandwidth") => "member_bandwidth",
            Some("class_not_supported" | "definition_class") => "class",
            Some("kind_not_supported" | "definition_kind") => "kind",
            _ => "",
        },
        ServiceError::Invalid(m) | ServiceError::Conflict(m) | ServiceError::NotFound(m) => {
            if m.starts_with("customer VLAN") || m.contains("a customer VLAN only applies") {
                "customer_vlan"
            } else if m.starts_with("`member_bandwidth_mbps`") || m.starts_with("`bandwidth_mbps`") {
                "member_bandwidth"
            } else if m.starts_with("the bandwidth") {
                "bandwidth"
            } else if m.starts_with("a channel name") || m.starts_with("name:") {
                "name"
            } else if m.starts_with("interface") {
                "interface"
            } else if m.starts_with("usage model") || m.starts_with("usage_model") {
                "usage_model"
            } else {
                ""
            }
        }
        _ => "",
    }
}

/// A usage model's price, in words, in `currency` (as the invitation email says it); with
/// the channel's bandwidth, what a per-Mbps price comes to.
pub fn price(m: &UsageModel, currency: &str, bandwidth_mbps: Option<u64>) -> String {
    match (m.price_type, bandwidth_mbps) {
        (Some(PriceType::PerMbps), Some(b)) if m.price_cents != 0 => format!(
            "{}: {} per month for {b} Mbps",
            price_words(m, currency),
            amount(crate::orchestrator::policy::upfront_cents(m, b), currency)
        ),
        _ => price_words(m, currency),
    }
}

/// What a member's traffic comes to, as its row shows it: counted (or not yet read), not
/// counted and why, or unknown since when and why.
pub fn usage(bytes_used: u64, metering: &Metering) -> String {
    match metering {
        Metering::NotMetered => "not metered: its usage model does not count traffic".into(),
        Metering::NoCounters => "not metered: its switch runs the dry-run driver, which has no counters".into(),
        Metering::Counted { read_at: None } => "not read yet".into(),
        Metering::Counted { read_at: Some(at) } => format!("{} (read {})", traffic_or_none(bytes_used), when(*at)),
        Metering::Unknown { since, reason } => {
            format!("usage unknown since {}: {}", when(*since), typographic_quotes(reason))
        }
    }
}

/// A member as a channel's path shows it: its label and the switch it is plugged into.
pub struct PathMember {
    pub label: String,
    pub switch: usize,
    /// A root of an E-Tree.
    pub root: bool,
}

/// Where a channel runs, in the order frames cross its switches.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PathShown {
    /// Where the branches start ("" for a channel of two members, whose path is one line).
    pub from: String,
    /// One line for two members; one per member otherwise, from `from` to the member.
    pub lines: Vec<String>,
}

/// Where a channel of `members` runs: between two members, the one line from the first
/// (an E-Tree's root) to the other; among more, a tree: from an E-Tree's only root, or
/// else from the branch point where the members' paths meet (the top of the subtree that
/// joins them), each member's switches in order. Routes are the topology's
/// ([`Topology::route`]).
pub fn path_shown(topo: &Topology, members: &[PathMember]) -> PathShown {
    let name = |s: usize| topo.switches.get(s).map_or("?", |sw| sw.name.as_str());
    let line = |route: Vec<usize>, first: Option<&str>, last: &str| {
        let mut names: Vec<String> = route.into_iter().map(|s| name(s).to_string()).collect();
        if let (Some(first), Some(head)) = (first, names.first_mut()) {
            *head = format!("{head} ({first})");
        }
        if let Some(tail) = names.last_mut() {
            *tail = format!("{tail} ({last})");
        }
        names.join(" → ")
    };
    let mut ordered: Vec<&PathMember> = members.iter().collect();
    ordered.sort_by_key(|m| !m.root);
    match ordered.as_slice() {
        [] => PathShown::default(),
        [only] => PathShown { from: String::new(), lines: vec![line(vec![only.switch], None, &only.label)] },
        [a, b] if a.switch == b.switch => PathShown {
            from: String::new(),
            lines: vec![line(vec![a.switch], None, &format!("{}, {}", a.label, b.label))],
        },
        [a, b] => PathShown {
            from: String::new(),
            lines: vec![line(topo.route(a.switch, b.switch), Some(&a.label), &b.label)],
        },
        _ => {
            let roots: Vec<&&PathMember> = ordered.iter().filter(|m| m.root).collect();
            let (hub, from) = match roots.as_slice() {
                [root] => (root.switch, format!("From the root {} on {}", root.label, name(root.switch))),
                _ => {
                    let top = ordered.iter().skip(1).fold(ordered[0].switch, |acc, m| topo.lca(acc, m.switch));
                    (top, format!("From the branch point {}", name(top)))
                }
            };
            PathShown { from, lines: ordered.iter().map(|m| line(topo.route(hub, m.switch), None, &m.label)).collect() }
        }
    }
}

/// A usage model's restrictions, in words.
pub fn limits(m: &UsageModel) -> String {
    let mut out = Vec::new();
    if let Some(b) = m.max_bandwidth_mbps {
        out.push(format!("up to {b} Mbps"));
    }
    if let Some(n) = m.max_endpoints {
        out.push(format!("up to {n} members"));
    }
    if let Some((a, b)) = m.window {
        out.push(format!("{:02}:{:02}-{:02}:{:02} UTC only", a / 60, a % 60, b / 60, b % 60));
    }
    if let Some(t) = m.term_end_ms {
        out.push(format!("ends {}", when(t)));
    }
    if let Some(g) = m.max_gb {
        out.push(format!("up to {g} per member"));
    }
    out.join(", ")
}

/// Bytes as people read them, "none" for none.
fn traffic_or_none(bytes: u64) -> String {
    if bytes == 0 { "none".into() } else { traffic(bytes) }
}

/// Bytes as people read them (decimal units), "—" for none.
pub fn traffic(bytes: u64) -> String {
    match bytes {
        0 => "—".into(),
        b if b < 1_000_000 => format!("{} kB", b.div_ceil(1000)),
        b if b < 1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{:.2} GB", b as f64 / 1e9),
    }
}

/// Percent-encodes a path or query value (RFC 3986's unreserved characters and `/` stay).
pub fn urlencode(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
    utf8_percent_encode(s, KEEP).to_string()
}

/// Where to go after logging in: only paths on this site.
pub fn safe_next(next: &str) -> &str {
    // Browsers drop tabs and newlines from a URL, so `/\t/evil.example` would become
    // `//evil.example`: no control characters or spaces at all.
    let plain = !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if plain && next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next } else { "/" }
}

/// A channel's VLAN as a page shows it (an E-Tree's with its leaf VLAN); an ended channel
/// has none: its VLANs, if it was ever given any, were freed (a draft ended before it was).
pub fn vlan_text(c: &crate::service::ChannelView) -> String {
    use crate::orchestrator::policy::ChannelState;
    match c.state {
        ChannelState::Terminated => return "none: the channel ended".into(),
        ChannelState::Terminating => return "being freed".into(),
        _ => {}
    }
    match (c.vlan, c.leaf_vlan) {
        (Some(v), Some(l)) => format!("{v} (leaves {l})"),
        (Some(v), None) => v.to_string(),
        _ => "—".into(),
    }
}

/// `m` with its first letter in upper case, as a sentence on a page.
pub fn capitalized(m: &str) -> String {
    let mut chars = m.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrator::policy::PriceType;

    #[test]
    fn prices_and_limits_in_words() {
        let m = UsageModel {
            name: "m".into(),
            price_type: Some(PriceType::FlatMonthly),
            price_cents: 4_905,
            max_bandwidth_mbps: Some(100),
            window: Some((8 * 60, 18 * 60 + 30)),
            max_gb: Some(crate::orchestrator::policy::Quota::gb(5)),
            ..Default::default()
        };
        assert_eq!(price(&m, "EUR", None), "49.05 EUR per month");
        let per_mbps = UsageModel { price_type: Some(PriceType::PerMbps), price_cents: 50, ..Default::default() };
        assert_eq!(price(&per_mbps, "CHF", Some(100)), "0.50 CHF per Mbps per month: 50.00 CHF per month for 100 Mbps");
        assert_eq!(limits(&m), "up to 100 Mbps, 08:00-18:30 UTC only, up to 5 GB per member");
        assert_eq!(
            [0, 450_000, 1_050_000, 12_345_678_901].map(traffic),
            ["—", "450 kB", "1.1 MB", "12.35 GB"].map(String::from)
        );
        assert_eq!(price(&UsageModel::default(), "EUR", Some(10)), "free");
    }

    const TREE: &str = "name: t
switches:
  core1: {driver: dry-run}
  agg1: {driver: dry-run}
  agg2: {driver: dry-run}
  acc1: {driver: dry-run}
  acc2: {driver: dry-run}
  acc4: {driver: dry-run}
links:
  - endpoints: [core1:a1, agg1:up]
  - endpoints: [core1:a2, agg2:up]
  - endpoints: [agg1:d1, acc1:up]
  - endpoints: [agg1:d2, acc2:up]
  - endpoints: [agg2:d1, acc4:up]
interfaces: {}
";

    fn shown(members: &[(&str, &str, bool)]) -> PathShown {
        let topo = crate::topology::parse(TREE).unwrap();
        let members: Vec<PathMember> = members
            .iter()
            .map(|&(label, switch, root)| PathMember {
                label: label.into(),
                switch: topo.switch_index(switch).unwrap(),
                root,
            })
            .collect();
        path_shown(&topo, &members)
    }

    #[test]
    fn a_path_reads_in_the_order_frames_cross_it() {
        // Two members: one line, the E-Tree's root first whatever the order given.
        let line = |s: &str| PathShown { from: String::new(), lines: vec![s.into()] };
        assert_eq!(
            shown(&[("leaf-4a", "acc4", false), ("root-1a", "acc1", true)]),
            line("acc1 (root-1a) → agg1 → core1 → agg2 → acc4 (leaf-4a)")
        );
        assert_eq!(shown(&[("a", "acc1", false), ("b", "acc1", false)]), line("acc1 (a, b)"));
        // An E-Tree with one root and two leaves: from the root to each.
        assert_eq!(
            shown(&[("root-4a", "acc4", true), ("leaf-1a", "acc1", false), ("leaf-2a", "acc2", false)]),
            PathShown {
                from: "From the root root-4a on acc4".into(),
                lines: vec![
                    "acc4 (root-4a)".into(),
                    "acc4 → agg2 → core1 → agg1 → acc1 (leaf-1a)".into(),
                    "acc4 → agg2 → core1 → agg1 → acc2 (leaf-2a)".into(),
                ],
            }
        );
        // An E-LAN: from the branch point where the members' paths meet.
        assert_eq!(
            shown(&[("m1", "acc1", false), ("m2", "acc2", false), ("m4", "acc4", false)]),
            PathShown {
                from: "From the branch point core1".into(),
                lines: vec![
                    "core1 → agg1 → acc1 (m1)".into(),
                    "core1 → agg1 → acc2 (m2)".into(),
                    "core1 → agg2 → acc4 (m4)".into(),
                ],
            }
        );
        assert_eq!(
            shown(&[("m1", "acc1", false), ("m2", "acc2", false), ("m3", "agg1", false)]).from,
            "From the branch point agg1"
        );
        assert_eq!(shown(&[]), PathShown::default());
    }

    #[test]
    fn usage_says_whether_and_how_traffic_is_counted() {
        assert_eq!(usage(0, &Metering::NotMetered), "not metered: its usage model does not count traffic");
        assert_eq!(
            usage(5, &Metering::NoCounters),
            "not metered: its switch runs the dry-run driver, which has no counters"
        );
        assert_eq!(usage(0, &Metering::Counted { read_at: None }), "not read yet");
        assert_eq!(usage(0, &Metering::Counted { read_at: Some(0) }), "none (read 1970-01-01 00:00 UTC)");
        assert_eq!(
            usage(1_050_000, &Metering::Unknown { since: 60_000, reason: "switch `acc1`: down".into() }),
            "usage unknown since 1970-01-01 00:01 UTC: switch “acc1”: down"
        );
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next("/invitations/abc"), "/invitations/abc");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("/\t/evil.example"), "/");
        assert_eq!(safe_next("/\n/evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }

    #[test]
    fn path_values_are_percent_encoded() {
        assert_eq!(urlencode("/channels/ch-1?x=a b&c"), "/channels/ch-1%3Fx%3Da%20b%26c");
        assert_eq!(urlencode("ü~._-"), "%C3%BC~._-");
    }
}
